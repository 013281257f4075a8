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
//!  --- point of no return: the task switches to the new address space ---
//!  the initial stack, built here and copied with copy_to_user (which
//!  faults the stack pages in), exactly as Linux's i386 ABI lays it out:
//!
//!    TASK_SIZE ->  0 (4 bytes)
//!                  execfn, envp strings, argv strings, "i686"
//!                  16 bytes for AT_RANDOM
//!                  (16-byte alignment)
//!                  auxv: (type, value) pairs ... AT_NULL
//!                  envp[0..n], NULL
//!                  argv[0..n], NULL
//!    esp ------->  argc
//! ```

use alloc::sync::Arc;
use alloc::vec::Vec;

use mm::layout::{PAGE_SIZE, TASK_SIZE};
use mm::vma::{VmArea, VmFlags, VmaKind};

use super::binfmt_elf::{ElfError, ElfInfo, load_elf_binary};
use crate::arch::entry::PtRegs;
use crate::arch::entry::entry_32::start_thread_regs;
use crate::arch::lib::usercopy_32::copy_to_user;
use crate::fs::InodeRef;
use crate::mm::mm_types::MmStruct;

/// How much the initial stack area spans (Linux's `stack_expand`, 128
/// KiB); it grows down from there on demand.
pub const INITIAL_STACK: usize = 128 * 1024;
/// Most bytes of argument and environment strings (Linux allows a quarter
/// of the stack limit; ours must fit the initial area with the tables).
pub const MAX_ARG_STRLEN_TOTAL: usize = INITIAL_STACK - 16 * 1024;

/// Why an exec failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecError {
    /// The file is not a program we can run (`ENOEXEC`).
    NoExec(ElfError),
    /// The arguments and environment do not fit (`E2BIG`).
    TooBig,
    /// No memory for the new address space (`ENOMEM`).
    NoMemory,
    /// Copying the initial stack out failed (`EFAULT`; cannot happen on a
    /// fresh stack area unless memory ran out).
    Fault,
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
            Self::Fault => crate::errno::EFAULT,
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

/// Build the initial stack (argc, argv, envp, auxv and the strings) as it
/// will sit just below `TASK_SIZE`; returns the bytes and the user `esp`.
pub fn create_elf_tables(info: &ElfInfo, execfn: &[u8], argv: &[&[u8]], envp: &[&[u8]]) -> Result<(Vec<u8>, usize), ExecError> {
    let strings: usize = [execfn].iter().chain(argv).chain(envp).map(|s| s.len() + 1).sum();
    if strings > MAX_ARG_STRLEN_TOTAL {
        return Err(ExecError::TooBig);
    }
    // Strings from the top down: a 4-byte zero, execfn, envp, argv, platform.
    let mut top = TASK_SIZE - 4;
    let mut strs: Vec<(usize, &[u8])> = Vec::new();
    let push = |s: &[u8], top: &mut usize| {
        *top -= s.len() + 1;
        *top
    };
    let execfn_at = push(execfn, &mut top);
    strs.push((execfn_at, execfn));
    let mut envp_at = Vec::with_capacity(envp.len());
    for e in envp.iter().rev() {
        let at = push(e, &mut top);
        strs.push((at, e));
        envp_at.push(at);
    }
    envp_at.reverse();
    let mut argv_at = Vec::with_capacity(argv.len());
    for a in argv.iter().rev() {
        let at = push(a, &mut top);
        strs.push((at, a));
        argv_at.push(at);
    }
    argv_at.reverse();
    let platform_at = push(b"i686", &mut top);
    strs.push((platform_at, b"i686"));
    top -= 16;
    let random_at = top;
    let random = random_bytes();
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
    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * auxv.len();
    let sp = (top - words * 4) & !15;
    let mut block = alloc::vec![0u8; TASK_SIZE - sp];
    let put = |block: &mut Vec<u8>, addr: usize, bytes: &[u8]| {
        block[addr - sp..addr - sp + bytes.len()].copy_from_slice(bytes);
    };
    let mut words: Vec<usize> = Vec::with_capacity(words);
    words.push(argv.len());
    words.extend(&argv_at);
    words.push(0);
    words.extend(&envp_at);
    words.push(0);
    for (t, v) in auxv {
        words.extend([t as usize, v]);
    }
    for (i, w) in words.iter().enumerate() {
        put(&mut block, sp + 4 * i, &(*w as u32).to_le_bytes());
    }
    put(&mut block, random_at, &random);
    for (at, s) in strs {
        put(&mut block, at, s); // the NUL after each is already zero
    }
    Ok((block, sp))
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
/// switch to it (the point of no return), write the initial stack, and
/// return the registers the program starts with. The caller enters user
/// mode with them (`start_user_mode`), or, from `execve`, returns through
/// the system-call exit path with them.
pub fn exec_binprm(bprm: &LinuxBinprm, execfn: &[u8], argv: &[&[u8]], envp: &[&[u8]]) -> Result<PtRegs, ExecError> {
    let (mm, info) = prepare_binprm(bprm)?;
    let (block, sp) = create_elf_tables(&info, execfn, argv, envp)?;
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
    if copy_to_user(sp, &block) != 0 {
        return Err(ExecError::Fault);
    }
    Ok(start_thread_regs(info.entry, sp))
}

/// Run the program at `path` in the rootfs in the current task (Linux
/// `kernel_execve`, which the kernel uses for `/init` and user-mode
/// helpers): find the file, read its first bytes, then [`exec_binprm`].
pub fn kernel_execve(path: &str, argv: &[&[u8]], envp: &[&[u8]]) -> Result<PtRegs, ExecError> {
    // From the task's current directory for a relative path (Linux's
    // do_open_execat with AT_FDCWD).
    let inode = super::namei::path_lookupat(&super::namei::Base::current(), path, super::namei::LOOKUP_FOLLOW)
        .map_err(ExecError::Path)?;
    if inode.file_type() != boot::initramfs::FileType::Regular {
        return Err(ExecError::NotRegular);
    }
    let bprm = LinuxBinprm::new(inode)?;
    exec_binprm(&bprm, path.as_bytes(), argv, envp)
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

/// Most pointers in argv or envp (Linux bounds them by the total size; so
/// do we, with this as a cheap first check).
const MAX_ARG_STRINGS: usize = 0x7fff;

/// Copy a NULL-terminated array of user string pointers (argv or envp)
/// into the kernel (Linux `copy_strings` reads them page by page into the
/// new stack; we gather them first, then lay the stack out in one go).
/// The copies are fallible allocations (mm/heap.rs): `-ENOMEM` if one
/// cannot be had, everything copied so far freed (Linux's copies live in
/// the new stack's pages, whose failure is `get_arg_page`'s `-E2BIG`).
fn copy_user_strings(ptr: usize, total: &mut usize) -> Result<Vec<Vec<u8>>, i32> {
    use crate::arch::lib::usercopy_32::copy_from_user;
    use crate::mm::heap::try_push;
    let mut out = Vec::new();
    if ptr == 0 {
        return Ok(out); // Linux allows a NULL argv or envp: no strings
    }
    for i in 0..MAX_ARG_STRINGS {
        let mut p = [0u8; 4];
        if copy_from_user(&mut p, ptr.wrapping_add(4 * i)) != 0 {
            return Err(crate::errno::EFAULT);
        }
        let s = u32::from_le_bytes(p) as usize;
        if s == 0 {
            return Ok(out);
        }
        let mut buf = Vec::new();
        loop {
            let mut b = [0u8];
            if copy_from_user(&mut b, s.wrapping_add(buf.len())) != 0 {
                return Err(crate::errno::EFAULT);
            }
            if b[0] == 0 {
                break;
            }
            if *total + buf.len() + 1 > MAX_ARG_STRLEN_TOTAL {
                return Err(crate::errno::E2BIG);
            }
            try_push(&mut buf, b[0]).map_err(|e| e.errno())?;
        }
        *total += buf.len() + 1;
        try_push(&mut out, buf).map_err(|e| e.errno())?;
    }
    Err(crate::errno::E2BIG)
}

/// `execve(path, argv, envp)`: replace the calling program (Linux
/// `fs/exec.c`). Everything is read from the old address space first; a
/// failure up to the point of no return returns `-errno` to the old
/// program, unharmed. After it, the registers are the new program's, and
/// the system call's return path enters it.
pub fn sys_execve(regs: &mut PtRegs) -> i32 {
    use crate::arch::lib::usercopy_32::strncpy_from_user;
    // Linux `getname`: a names_cache object, -ENOMEM if it cannot be had.
    let Ok(mut path) = crate::mm::heap::try_vec_with_capacity(super::open::PATH_MAX) else { return -crate::errno::ENOMEM };
    path.resize(super::open::PATH_MAX, 0u8);
    let n = match strncpy_from_user(&mut path, regs.bx as usize) {
        Ok(n) if n == super::open::PATH_MAX => return -crate::errno::ENAMETOOLONG,
        Ok(n) => n,
        Err(e) => return -e,
    };
    let Ok(path) = core::str::from_utf8(&path[..n]) else { return -crate::errno::ENOENT };
    let mut total = 0;
    let argv = match copy_user_strings(regs.cx as usize, &mut total) {
        Ok(v) => v,
        Err(e) => return -e,
    };
    let envp = match copy_user_strings(regs.dx as usize, &mut total) {
        Ok(v) => v,
        Err(e) => return -e,
    };
    let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp: Vec<&[u8]> = envp.iter().map(|e| e.as_slice()).collect();
    match kernel_execve(path, &argv, &envp) {
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
