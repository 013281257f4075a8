//! Replacing a process's program (Linux `fs/exec.c`: `do_execveat_common`,
//! `begin_new_exec`, `setup_arg_pages`; the stack layout is
//! `create_elf_tables` in `fs/binfmt_elf.c`).
//!
//! ```text
//!  the file's first 256 bytes  <- kernel_read (bprm->buf; never the
//!                                  whole file)
//!  new MmStruct  <- load_elf_binary (program headers read; text and
//!                   data mapped private from the page cache, bss,
//!                   start_brk)
//!  stack area [TASK_SIZE - 128 KiB, TASK_SIZE), VM_GROWSDOWN, demand-paged
//!  the strings, copied into the new stack's pages (copy_strings: each
//!  page faulted in in the new address space, get_arg_page), then the
//!  tables below them (create_elf_tables), exactly as Linux's i386 ABI
//!  lays them out:
//!
//!    TASK_SIZE ->  0 (4 bytes)
//!                  execfn, envp strings, argv strings, "i686"
//!                  16 bytes for AT_RANDOM
//!                  (16-byte alignment)
//!                  auxv: (type, value) pairs ... AT_NULL
//!                  envp[0..n], NULL
//!                  argv[0..n], NULL
//!    esp ------->  argc
//!  the area grown to 128 KiB below esp (setup_arg_pages' stack_expand)
//!  --- point of no return: the task switches to the new address space ---
//! ```
//!
//! The strings' limits are Linux's (`bprm_stack_limits`, `copy_strings`):
//! one string at most [`MAX_ARG_STRLEN`] (32 pages, its NUL included), all
//! of them with their pointers at most a quarter of `RLIMIT_STACK` (2 MiB
//! of the default 8 MiB; never less than [`ARG_MAX`], never more than 3/4
//! of `_STK_LIM`); beyond either, `-E2BIG`. A page of the new stack that
//! cannot be had while the strings are copied is `-E2BIG` too, as in Linux
//! (`get_arg_page` fails, `copy_strings` says E2BIG), and the caller goes
//! on: its address space was never touched.
//!
//! Where we differ from Linux 6.1: it reads the file's header and loads
//! the program after copying the strings, and writes the tables past its
//! point of no return (a failure there is `SIGSEGV`). We load first (the
//! stack's `VM_EXEC` depends on the program's `PT_GNU_STACK`, and we have
//! no `setup_arg_pages` to change it afterwards), so an exec that would
//! fail both ways says `ENOEXEC` where Linux says `E2BIG` or `EFAULT`; and
//! we write the tables before our point of no return, so a page that
//! cannot be had for them is `-ENOMEM` to a caller that goes on.

use alloc::sync::Arc;
use alloc::vec::Vec;

use mm::layout::{PAGE_SIZE, TASK_SIZE};
use mm::vma::{VmArea, VmFlags, VmaKind};

use super::binfmt_elf::{ElfError, ElfInfo, load_elf_binary};
use crate::arch::entry::PtRegs;
use crate::arch::entry::entry_32::start_thread_regs;
use crate::fs::InodeRef;
use crate::mm::mm_types::MmStruct;

/// How much the initial stack area spans, and how much of it the new
/// program gets below its tables (Linux's `stack_expand` in
/// `setup_arg_pages`, 128 KiB); it grows down from there on demand.
pub const INITIAL_STACK: usize = 128 * 1024;
/// Linux `MAX_ARG_STRLEN`: the longest one argument or environment string
/// may be, its NUL included (32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// Linux `ARG_MAX` (32 pages): room for strings every exec has, however
/// small `RLIMIT_STACK` is.
pub const ARG_MAX: usize = 32 * PAGE_SIZE;
/// Linux `_STK_LIM` (8 MiB): 3/4 of it bounds the strings whatever
/// `RLIMIT_STACK` says.
const STK_LIM: usize = 8 << 20;
/// Most pointers in argv or envp (Linux `MAX_ARG_STRINGS`; the total
/// size bounds them long before).
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;

/// Why an exec failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecError {
    /// The file is not a program we can run (`ENOEXEC`).
    NoExec(ElfError),
    /// The arguments and environment do not fit (`E2BIG`).
    TooBig,
    /// No memory for the new address space (`ENOMEM`).
    NoMemory,
    /// `padzero` could not clear the bss's first page (Linux 6.1's
    /// `EFAULT` past its point of no return: the caller dies of SIGSEGV).
    Fault,
    /// A bad argv or envp pointer (`EFAULT`, returned to the caller).
    BadAddress,
    /// The path does not lead to a file (`ENOENT`, `ENOTDIR`, ...).
    Path(super::FsError),
    /// Not a regular file (`EACCES`, as Linux says for a directory).
    NotRegular,
}

impl ExecError {
    /// Linux's errno.
    pub fn errno(self) -> i32 {
        match self {
            Self::NoExec(ElfError::NoMemory) | Self::NoMemory => crate::errno::ENOMEM,
            Self::NoExec(ElfError::Read) => crate::errno::EIO,
            Self::NoExec(_) => crate::errno::ENOEXEC,
            Self::TooBig => crate::errno::E2BIG,
            Self::Fault | Self::BadAddress => crate::errno::EFAULT,
            Self::Path(e) => e.errno(),
            Self::NotRegular => crate::errno::EACCES,
        }
    }
}

// Auxiliary-vector entry types (`include/uapi/linux/auxvec.h`).
const AT_NULL: u32 = 0;
const AT_PHDR: u32 = 3;
const AT_PHENT: u32 = 4;
const AT_PHNUM: u32 = 5;
const AT_PAGESZ: u32 = 6;
const AT_BASE: u32 = 7;
const AT_FLAGS: u32 = 8;
const AT_ENTRY: u32 = 9;
const AT_UID: u32 = 11;
const AT_EUID: u32 = 12;
const AT_GID: u32 = 13;
const AT_EGID: u32 = 14;
const AT_PLATFORM: u32 = 15;
const AT_HWCAP: u32 = 16;
const AT_CLKTCK: u32 = 17;
const AT_SECURE: u32 = 23;
const AT_RANDOM: u32 = 25;
const AT_EXECFN: u32 = 31;

/// Address spaces running each file (Linux's `inode->i_writecount` when
/// negative: `deny_write_access` counts down, `allow_write_access` back
/// up), by inode address: an entry exists only while an [`ExeFile`] holds
/// the inode, so the address cannot be reused meanwhile.
static DENY_WRITE: crate::locking::SpinLock<alloc::collections::BTreeMap<usize, usize>> =
    crate::locking::SpinLock::new(alloc::collections::BTreeMap::new());

/// A running program's file (Linux `mm->exe_file`, with the write access
/// it denies): while one exists for a file, opening it for writing and
/// `truncate` fail with `ETXTBSY` (`fs/open.rs`). Exec makes one for the
/// new address space; fork copies it (Linux `dup_mm_exe_file`), and the
/// address space's end drops it (Linux `set_mm_exe_file(mm, NULL)` in
/// `mmput`). Linux 6.1 ties the denial to `exe_file` like this (since
/// 5.15; before, to `MAP_DENYWRITE` mappings).
///
/// Where we differ: Linux also refuses to *exec* a file open for writing
/// (`i_writecount > 0`: `ETXTBSY` from `do_open_execat`); we do not count
/// writers (a `File` does not take write access on the inode), so that
/// exec goes ahead, and such a writer can change the program's text
/// under it, as the page cache is shared.
pub struct ExeFile {
    inode: InodeRef,
}

impl ExeFile {
    /// Deny writes to `inode` (Linux `deny_write_access`).
    pub fn new(inode: InodeRef) -> Self {
        *DENY_WRITE.lock_irqsave().entry(Arc::as_ptr(&inode) as usize).or_insert(0) += 1;
        Self { inode }
    }

    /// The file.
    pub fn inode(&self) -> &InodeRef {
        &self.inode
    }
}

impl Clone for ExeFile {
    fn clone(&self) -> Self {
        Self::new(self.inode.clone())
    }
}

impl Drop for ExeFile {
    /// Linux `allow_write_access`.
    fn drop(&mut self) {
        let key = Arc::as_ptr(&self.inode) as usize;
        let mut map = DENY_WRITE.lock_irqsave();
        if let Some(n) = map.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&key);
            }
        }
    }
}

/// Is some address space running `inode`? (Linux: `i_writecount < 0`,
/// which makes `get_write_access` fail with `ETXTBSY`.)
pub fn deny_write(inode: &InodeRef) -> bool {
    DENY_WRITE.lock_irqsave().contains_key(&(Arc::as_ptr(inode) as usize))
}

/// Linux `BINPRM_BUF_SIZE`: how much of the file exec reads before it
/// knows what the file is (the ELF header is 52 bytes).
pub const BINPRM_BUF_SIZE: usize = 256;

/// The program being started (Linux `struct linux_binprm`, the parts we
/// use): the file, and its first bytes.
pub struct LinuxBinprm {
    /// The executable (Linux `bprm->file`).
    pub file: InodeRef,
    buf: [u8; BINPRM_BUF_SIZE],
    len: usize,
}

impl LinuxBinprm {
    /// Read the first [`BINPRM_BUF_SIZE`] bytes of `file` (Linux
    /// `prepare_binprm`: one `kernel_read` through the page cache; a
    /// shorter file gives fewer).
    pub fn new(file: InodeRef) -> Result<Self, ExecError> {
        let mut buf = [0u8; BINPRM_BUF_SIZE];
        let len = file.read_at(0, &mut buf).map_err(ExecError::Path)?;
        Ok(Self { file, buf, len })
    }

    /// The bytes read (Linux `bprm->buf`).
    pub fn buf(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A new address space with the program loaded and an empty stack area;
/// the caller's own address space is untouched (so a failure here is an
/// ordinary error return, before the point of no return).
pub fn prepare_binprm(bprm: &LinuxBinprm) -> Result<(Arc<MmStruct>, ElfInfo), ExecError> {
    let mm = Arc::new(MmStruct::new().ok_or(ExecError::NoMemory)?);
    let info = load_elf_binary(&bprm.file, bprm.buf(), &mm).map_err(|e| match e {
        // Linux fails here past its point of no return: SIGSEGV.
        ElfError::Fault => ExecError::Fault,
        e => ExecError::NoExec(e),
    })?;
    // Not executable (NX, with PAE) unless the executable asks for it or
    // says nothing (see ExStack: Linux's i386 rule).
    let exec = if info.executable_stack.stack_is_executable() { VmFlags::VM_EXEC } else { VmFlags::empty() };
    let stack = VmArea::new(TASK_SIZE - INITIAL_STACK, TASK_SIZE, VmFlags::VM_STACK_FLAGS | exec, VmaKind::Anonymous,
        (TASK_SIZE - INITIAL_STACK) >> mm::layout::PAGE_SHIFT).map_err(|_| ExecError::NoMemory)?;
    mm.mmap_lock().insert_vm_struct(stack).map_err(|_| ExecError::NoMemory)?;
    // The vDSO: the signal return trampolines, executable (the stack,
    // where the frame's retcode lies, is not, with NX).
    if !crate::arch::entry::vdso::arch_setup_additional_pages(&mm) {
        return Err(ExecError::NoMemory);
    }
    // Linux `begin_new_exec` -> `set_mm_exe_file`: from here on the file
    // cannot be written while this address space (or a fork of it) lives.
    mm.set_exe_file(ExeFile::new(bprm.file.clone()));
    Ok((mm, info))
}

/// Where argv or envp comes from: a kernel slice (`kernel_execve`,
/// Linux's `copy_string_kernel`) or a user array of string pointers ended
/// by NULL (`execve`: the address, 0 for a NULL array, which Linux takes
/// as no strings).
#[derive(Clone, Copy)]
pub enum ArgSource<'a> {
    /// The kernel's own strings.
    Kernel(&'a [&'a [u8]]),
    /// A user `char *const []`.
    User(usize),
}

impl ArgSource<'_> {
    /// How many strings (Linux `count`): reading a user array faults
    /// `EFAULT`; more than [`MAX_ARG_STRINGS`] is `E2BIG`.
    fn count(&self) -> Result<usize, ExecError> {
        match *self {
            ArgSource::Kernel(v) => Ok(v.len()),
            ArgSource::User(0) => Ok(0),
            ArgSource::User(ptr) => {
                for i in 0..MAX_ARG_STRINGS {
                    if user_ptr(ptr, i)? == 0 {
                        return Ok(i);
                    }
                }
                Err(ExecError::TooBig)
            }
        }
    }
}

/// The `i`th pointer of the user array at `ptr` (Linux `get_user_arg_ptr`).
fn user_ptr(ptr: usize, i: usize) -> Result<usize, ExecError> {
    use crate::arch::lib::usercopy_32::get_user;
    let at = i.checked_mul(4).and_then(|o| ptr.checked_add(o)).ok_or(ExecError::BadAddress)?;
    get_user::<u32>(at).map(|p| p as usize).map_err(|_| ExecError::BadAddress)
}

/// Linux `strnlen_user(addr, max)`: the length of the user string at
/// `addr` with its NUL; `EFAULT` if a byte cannot be read, `E2BIG` if no
/// NUL comes within `max` bytes (Linux returns more than `max`, and
/// `valid_arg_len` refuses it). Read in pieces that never cross a page: a
/// string may end just before an unmapped page.
fn strnlen_user(addr: usize, max: usize) -> Result<usize, ExecError> {
    use crate::arch::lib::usercopy_32::copy_from_user;
    let mut buf = [0u8; 256];
    let mut n = 0;
    while n < max {
        let at = addr.wrapping_add(n);
        let chunk = (PAGE_SIZE - (at & (PAGE_SIZE - 1))).min(buf.len()).min(max - n);
        if copy_from_user(&mut buf[..chunk], at) != 0 {
            return Err(ExecError::BadAddress);
        }
        if let Some(i) = buf[..chunk].iter().position(|&b| b == 0) {
            return Ok(n + i + 1);
        }
        n += chunk;
    }
    Err(ExecError::TooBig)
}

/// The new stack while the strings go in (Linux's `bprm->p`, `argmin`
/// and `bprm->mm`): `p` is the lowest byte written, moving down from
/// `TASK_SIZE - 4`; no string may go below `argmin`.
struct ArgStack<'a> {
    mm: &'a MmStruct,
    p: usize,
    argmin: usize,
}

impl<'a> ArgStack<'a> {
    /// Linux `bprm_stack_limits`: the strings may take a quarter of
    /// `RLIMIT_STACK`, at most 3/4 of `_STK_LIM`, at least [`ARG_MAX`],
    /// less the pointers to them (`(max(argc, 1) + envc) * 4`: those go on
    /// the stack too, later, when failing would be too late); `E2BIG` if
    /// the pointers alone take it all.
    fn new(mm: &'a MmStruct, argc: usize, envc: usize) -> Result<Self, ExecError> {
        let rlim = crate::sched::current().rlim.lock()[crate::resource::rlimit::STACK].cur;
        let rlim = if rlim == crate::resource::RLIM_INFINITY { usize::MAX } else { rlim as usize };
        let limit = (STK_LIM / 4 * 3).min(rlim / 4).max(ARG_MAX);
        let ptr_size = argc.max(1).saturating_add(envc).saturating_mul(4);
        if limit <= ptr_size {
            return Err(ExecError::TooBig);
        }
        let p = TASK_SIZE - 4;
        Ok(Self { mm, p, argmin: p - (limit - ptr_size) })
    }

    /// Room for a string of `len` bytes (its NUL included) below the ones
    /// copied so far: where it goes. `E2BIG` for a string longer than
    /// [`MAX_ARG_STRLEN`] (Linux `valid_arg_len`) or one that would pass
    /// `argmin`.
    fn reserve(&mut self, len: usize) -> Result<usize, ExecError> {
        if len > MAX_ARG_STRLEN {
            return Err(ExecError::TooBig);
        }
        let at = self.p.checked_sub(len).filter(|&at| at >= self.argmin).ok_or(ExecError::TooBig)?;
        self.p = at;
        Ok(at)
    }

    /// Write `bytes` at `at` in the new stack (Linux `get_arg_page`: each
    /// page faulted in in the new address space, growing its stack area
    /// down if need be). False if a page could not be had.
    fn put(&self, at: usize, bytes: &mut [u8]) -> bool {
        crate::mm::gup::access_remote_vm(self.mm, at, bytes, crate::mm::gup::FOLL_WRITE) == bytes.len()
    }

    /// Linux `copy_string_kernel`: one kernel string and its NUL. A page
    /// that cannot be had is `E2BIG`, as in Linux.
    fn copy_string_kernel(&mut self, s: &[u8]) -> Result<(), ExecError> {
        let at = self.reserve(s.len() + 1)?;
        let mut buf = alloc::vec![0u8; (s.len() + 1).min(PAGE_SIZE)];
        let mut done = 0;
        while done <= s.len() {
            let n = (s.len() + 1 - done).min(PAGE_SIZE);
            let from = &s[done..(done + n).min(s.len())];
            buf[..from.len()].copy_from_slice(from);
            buf[from.len()..n].fill(0); // the NUL, in the last piece
            if !self.put(at + done, &mut buf[..n]) {
                return Err(ExecError::TooBig);
            }
            done += n;
        }
        Ok(())
    }

    /// Linux `copy_strings`: the `count` strings of `src`, the last first
    /// (each goes below the one before, so the first ends up lowest). A
    /// user string is measured (`strnlen_user`), checked against the
    /// limits, then copied a page at a time from the caller's memory into
    /// the new stack. `EFAULT` for a bad pointer, `E2BIG` for a string or
    /// a total too long, or a page of the new stack that cannot be had.
    fn copy_strings(&mut self, src: ArgSource<'_>, count: usize) -> Result<(), ExecError> {
        use crate::arch::lib::usercopy_32::copy_from_user;
        let ptr = match src {
            ArgSource::Kernel(v) => return v.iter().rev().try_for_each(|s| self.copy_string_kernel(s)),
            ArgSource::User(ptr) => ptr,
        };
        let mut buf = alloc::vec![0u8; PAGE_SIZE];
        for i in (0..count).rev() {
            let str = user_ptr(ptr, i)?;
            let len = strnlen_user(str, MAX_ARG_STRLEN)?;
            let at = self.reserve(len)?;
            let mut done = 0;
            while done < len {
                let n = (len - done).min(PAGE_SIZE);
                if copy_from_user(&mut buf[..n], str + done) != 0 {
                    return Err(ExecError::BadAddress);
                }
                if !self.put(at + done, &mut buf[..n]) {
                    return Err(ExecError::TooBig);
                }
                done += n;
            }
        }
        Ok(())
    }
}

/// The strings of the new stack read back in order, from the lowest up
/// (Linux's `create_elf_tables` walks them with `strnlen_user` on the new
/// stack, after its point of no return; here before ours).
struct StringWalk<'a> {
    mm: &'a MmStruct,
    at: usize,
    buf: Vec<u8>,
    pos: usize,
}

impl StringWalk<'_> {
    /// The address of the next string; the walk moves past its NUL.
    fn next(&mut self) -> Result<usize, ExecError> {
        let start = self.at + self.pos;
        loop {
            if self.pos == self.buf.len() {
                self.at += self.buf.len();
                let n = (TASK_SIZE - self.at).min(PAGE_SIZE);
                self.buf.resize(n, 0);
                if n == 0 || crate::mm::gup::access_remote_vm(self.mm, self.at, &mut self.buf, 0) != n {
                    return Err(ExecError::NoMemory);
                }
                self.pos = 0;
            }
            let b = self.buf[self.pos];
            self.pos += 1;
            if b == 0 {
                return Ok(start);
            }
        }
    }
}

/// Words written upward into the new stack a page at a time.
struct WordWriter<'a> {
    mm: &'a MmStruct,
    at: usize,
    buf: Vec<u8>,
}

impl WordWriter<'_> {
    fn push(&mut self, w: usize) -> Result<(), ExecError> {
        self.buf.extend_from_slice(&(w as u32).to_le_bytes());
        if self.buf.len() >= PAGE_SIZE { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), ExecError> {
        let n = self.buf.len();
        if crate::mm::gup::access_remote_vm(self.mm, self.at, &mut self.buf, crate::mm::gup::FOLL_WRITE) != n {
            return Err(ExecError::NoMemory);
        }
        self.at += n;
        self.buf.clear();
        Ok(())
    }
}

/// Fill the new address space's stack (Linux `do_execveat_common`'s
/// `bprm_stack_limits` and `copy_strings`, then `create_elf_tables` and
/// `setup_arg_pages`): `execfn`, `envp` and `argv` strings, an empty
/// `argv[0]` if `argv` is empty (Linux 5.18 on: a program that starts at
/// `argv[1]` must not walk into envp), then the platform string, the
/// random bytes, argc, the pointer arrays and the auxiliary vector. `mm`
/// is not the running address space: every page is reached through
/// `access_remote_vm`, and a failure leaves the caller as it was. Returns
/// the new program's `esp`.
pub fn setup_new_stack(mm: &MmStruct, info: &ElfInfo, execfn: &[u8], argv: ArgSource<'_>, envp: ArgSource<'_>) -> Result<usize, ExecError> {
    let mut argc = argv.count()?;
    let envc = envp.count()?;
    let mut stack = ArgStack::new(mm, argc, envc)?;
    stack.copy_string_kernel(execfn)?;
    let execfn_at = stack.p;
    stack.copy_strings(envp, envc)?;
    stack.copy_strings(argv, argc)?;
    if argc == 0 {
        stack.copy_string_kernel(b"")?;
        argc = 1;
    }
    let strings_at = stack.p;
    // create_elf_tables: below the strings, past the limit's reach (Linux
    // writes these after its point of no return; a page that cannot be
    // had for them is -ENOMEM here).
    let mut top = strings_at - 5;
    let platform_at = top;
    if !stack.put(platform_at, &mut b"i686\0".clone()) {
        return Err(ExecError::NoMemory);
    }
    top -= 16;
    let random_at = top;
    if !stack.put(random_at, &mut random_bytes()) {
        return Err(ExecError::NoMemory);
    }
    let hwcap = core::arch::x86::__cpuid(1).edx as usize;
    let auxv: [(u32, usize); 18] = [
        (AT_HWCAP, hwcap),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, 100),
        (AT_PHDR, info.phdr),
        (AT_PHENT, 32),
        (AT_PHNUM, info.phnum),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, info.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random_at),
        (AT_EXECFN, execfn_at),
        (AT_PLATFORM, platform_at),
        (AT_NULL, 0),
    ];
    let words = 1 + argc + 1 + envc + 1 + 2 * auxv.len();
    let sp = (top - words * 4) & !15;
    let mut out = WordWriter { mm, at: sp, buf: Vec::with_capacity(PAGE_SIZE) };
    let mut walk = StringWalk { mm, at: strings_at, buf: Vec::new(), pos: 0 };
    out.push(argc)?;
    for _ in 0..argc {
        out.push(walk.next()?)?;
    }
    out.push(0)?;
    for _ in 0..envc {
        out.push(walk.next()?)?;
    }
    out.push(0)?;
    for (t, v) in auxv {
        out.push(t as usize)?;
        out.push(v)?;
    }
    out.flush()?;
    // setup_arg_pages: 128 KiB of stack below esp from the start (Linux's
    // stack_expand), within RLIMIT_STACK.
    let mut map = mm.mmap_lock();
    let floor = TASK_SIZE.saturating_sub(map.stack_rlimit);
    let base = (sp & mm::layout::PAGE_MASK).saturating_sub(INITIAL_STACK).max(floor);
    map.expand_stack(base).map_err(|_| ExecError::NoMemory)?;
    Ok(sp)
}

/// 16 bytes for `AT_RANDOM` (C libraries seed their stack protector from
/// them). Linux takes them from its random pool; we have none, so mix the
/// time-stamp counter: unpredictable enough for a teaching kernel, not for
/// security.
fn random_bytes() -> [u8; 16] {
    let mut x = crate::arch::cpu::rdtsc() ^ 0x9e37_79b9_7f4a_7c15;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// Run `bprm`'s file in the current task (Linux `do_execve` from the
/// kernel, or `kernel_execve` for init): load it into a new address space,
/// fill its stack ([`setup_new_stack`]), then switch to it (the point of
/// no return) and return the registers the program starts with. The
/// caller enters user mode with them (`start_user_mode`), or, from
/// `execve`, returns through the system-call exit path with them.
pub fn exec_binprm(bprm: &LinuxBinprm, execfn: &[u8], argv: &[&[u8]], envp: &[&[u8]]) -> Result<PtRegs, ExecError> {
    exec_binprm_from(bprm, execfn, ArgSource::Kernel(argv), ArgSource::Kernel(envp))
}

/// [`exec_binprm`] with argv and envp from the kernel or from the caller.
fn exec_binprm_from(bprm: &LinuxBinprm, execfn: &[u8], argv: ArgSource<'_>, envp: ArgSource<'_>) -> Result<PtRegs, ExecError> {
    let (mm, info) = prepare_binprm(bprm)?;
    let sp = setup_new_stack(&mm, &info, execfn, argv, envp)?;
    let me = crate::sched::current();
    me.set_mm(mm);
    // Past the point of no return: FD_CLOEXEC descriptors close (Linux
    // begin_new_exec -> do_close_on_exec).
    super::file::do_close_on_exec();
    // The new program's x87/SSE registers: Linux's init_fpstate, nothing of
    // the old program's (Linux `flush_thread` -> `fpu_flush_thread`); and
    // no tid to clear at exit (`mm_release` forgets `clear_child_tid`).
    crate::arch::fpu::fpu_flush_thread();
    me.clear_child_tid.store(0, core::sync::atomic::Ordering::Relaxed);
    Ok(start_thread_regs(info.entry, sp))
}

/// Run the program at `path` in the rootfs in the current task (Linux
/// `kernel_execve`, which the kernel uses for `/init` and user-mode
/// helpers): find the file, read its first bytes, then [`exec_binprm`].
pub fn kernel_execve(path: &str, argv: &[&[u8]], envp: &[&[u8]]) -> Result<PtRegs, ExecError> {
    do_execve(path, ArgSource::Kernel(argv), ArgSource::Kernel(envp))
}

/// Linux `do_execveat_common` with `AT_FDCWD`: the file first (`ENOENT`,
/// `EACCES`...), then its header, the load and the strings.
fn do_execve(path: &str, argv: ArgSource<'_>, envp: ArgSource<'_>) -> Result<PtRegs, ExecError> {
    // From the task's current directory for a relative path (Linux's
    // do_open_execat with AT_FDCWD).
    let inode = super::namei::path_lookupat(&super::namei::Base::current(), path, super::namei::LOOKUP_FOLLOW)
        .map_err(ExecError::Path)?;
    if inode.file_type() != boot::initramfs::FileType::Regular {
        return Err(ExecError::NotRegular);
    }
    let bprm = LinuxBinprm::new(inode)?;
    exec_binprm_from(&bprm, path.as_bytes(), argv, envp)
}

/// Start the program at `path` in a new task (Linux
/// `call_usermodehelper`: a kernel thread that execs): the task's name is
/// the file's last component, and joining it gives the program's wait
/// status. A program that cannot be started ends its task with status
/// `-errno`, after naming the reason.
pub fn spawn_user(path: &str, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> crate::sched::JoinHandle {
    spawn_user_affine(path, argv, envp, crate::sched::task::CPU_MASK_ALL)
}

/// [`spawn_user`] on the CPUs in `mask` only (tests that need two programs
/// to share one CPU).
pub fn spawn_user_affine(path: &str, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>, mask: u32) -> crate::sched::JoinHandle {
    spawn_user_with(path, argv, envp, mask, || {})
}

/// [`spawn_user_affine`], running `setup` in the new task before the exec
/// (what a shell's child does between fork and exec: `setsid`, `setpgid`,
/// `tcsetpgrp`; see tty.rs for who does which).
pub fn spawn_user_with(
    path: &str,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    mask: u32,
    setup: impl FnOnce() + Send + 'static,
) -> crate::sched::JoinHandle {
    spawn_user_hooks(path, argv, envp, mask, setup, || {})
}

/// [`spawn_user`], running `started` in the new task once its exec has
/// succeeded and before the program's first instruction: what a tool
/// that writes `/proc/PID/make-it-fail` just after starting a program
/// means, without its race (the fuzz tool's fault injection: the exec
/// itself is not failed, everything the program and its children do may
/// be).
pub fn spawn_user_started(
    path: &str,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    started: impl FnOnce() + Send + 'static,
) -> crate::sched::JoinHandle {
    spawn_user_hooks(path, argv, envp, crate::sched::task::CPU_MASK_ALL, || {}, started)
}

fn spawn_user_hooks(
    path: &str,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    mask: u32,
    setup: impl FnOnce() + Send + 'static,
    started: impl FnOnce() + Send + 'static,
) -> crate::sched::JoinHandle {
    let name = path.rsplit('/').next().unwrap_or(path);
    let path = alloc::string::String::from(path);
    crate::sched::core::spawn_affine(name, mask, move || {
        setup();
        // Everything owned is dropped inside this block: the task never
        // returns from user mode, so nothing left alive here would ever be
        // freed.
        let result = {
            let (path, argv, envp) = (path, argv, envp);
            let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
            let envp: Vec<&[u8]> = envp.iter().map(|e| e.as_slice()).collect();
            kernel_execve(&path, &argv, &envp).inspect_err(|e| {
                log::warn!("exec {path}: {e:?} (errno {})", e.errno());
            })
        };
        match result {
            Ok(regs) => {
                started();
                let top = crate::sched::current().stack_top().expect("a task stack");
                // SAFETY: kernel_execve switched this task to the program's
                // address space and regs point at its entry and stack; the
                // top of this task's kernel stack is unused.
                unsafe { crate::arch::entry::entry_32::start_user_mode(&regs, top) }
            }
            Err(e) => crate::sched::exit(-e.errno()),
        }
    })
}

/// `execve(path, argv, envp)`: replace the calling program (Linux
/// `fs/exec.c`). Everything is read from the old address space first; a
/// failure up to the point of no return returns `-errno` to the old
/// program, unharmed. After it, the registers are the new program's, and
/// the system call's return path enters it.
pub fn sys_execve(regs: &mut PtRegs) -> i32 {
    // The path's buffer (a page: PATH_MAX) must be freed before the
    // task can die below: `exit` never returns, and what it leaves on
    // this stack frame would never be dropped (the fuzzer found each
    // such death keeping a page that read "/bin/hello").
    let result = {
        // Linux `getname`: a names_cache object, -ENOMEM if it cannot be had.
        let Ok(mut path) = crate::mm::heap::try_vec_with_capacity(super::open::PATH_MAX) else { return -crate::errno::ENOMEM };
        path.resize(super::open::PATH_MAX, 0u8);
        let n = match crate::arch::lib::usercopy_32::strncpy_from_user(&mut path, regs.bx as usize) {
            Ok(n) if n == super::open::PATH_MAX => return -crate::errno::ENAMETOOLONG,
            Ok(n) => n,
            Err(e) => return -e,
        };
        let Ok(path) = core::str::from_utf8(&path[..n]) else { return -crate::errno::ENOENT };
        do_execve(path, ArgSource::User(regs.cx as usize), ArgSource::User(regs.dx as usize))
    };
    match result {
        Ok(new) => {
            *regs = new;
            // Caught signals back to SIG_DFL (their handlers were in the
            // old program), ignored ones stay ignored (Linux
            // flush_signal_handlers in begin_new_exec).
            crate::signal::flush_signal_handlers();
            0
        }
        // Past the point of no return the old program is gone: Linux kills
        // the task with SIGSEGV.
        Err(ExecError::Fault) => crate::sched::exit(crate::arch::traps::SIGSEGV),
        Err(e) => -e.errno(),
    }
}
