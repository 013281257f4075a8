//! Loading a static i386 ELF executable into a fresh address space (Linux
//! `fs/binfmt_elf.c`, `load_elf_binary`), Linux's way: the file is never
//! read whole. Only its first bytes (`bprm->buf`, read by `exec.rs`) and
//! its program headers (`elf_read`: a `kernel_read` through the page
//! cache) are read; each `PT_LOAD` segment becomes a *private file
//! mapping* of the file's page-cache pages (`elf_map` -> `vm_mmap(file,
//! ..., MAP_PRIVATE | MAP_FIXED[_NOREPLACE])`).
//!
//! ```text
//!  file (ramfs: its pages ARE the page cache)      new MmStruct
//!  +--------------+ page 0                         0x08048000 +-----------+ r-x  File(ino), pgoff 0
//!  | ELF header   |  checks: \x7fELF, ELFCLASS32,             |   text    |      demand-paged: filemap_fault
//!  | program hdrs |  LSB, ET_EXEC, EM_386, PT_LOAD            |           |      maps the cache page itself,
//!  | .text ...    |  bounds, p_vaddr = p_offset mod 4K        +-----------+      shared by every process
//!  | .data ...    | ----------------------------------------> | data      | rw-  File(ino), private: the first
//!  +--------------+                                 elf_bss ->|...zeroed..|      write copies (do_cow_fault)
//!                                                             +-----------+      padzero: the tail of the last
//!                                                             | bss       | rw-  file page written to zero now
//!                                                             +-----------+      Anonymous (set_brk)
//!                                               start_brk --> (the heap grows from here)
//! ```
//!
//! Nothing is copied at exec time except the one page `padzero` writes
//! (a copy-on-write of the page the file part of the bss segment ends in,
//! whose tail must read zero). Text pages are the page cache's own
//! pages, mapped read-only on first touch, with one reference each per
//! mapping process; the mapping holds the file (`MmStruct::vm_files`)
//! and is entered in its `i_mmap`, like an `mmap2` of it.
//!
//! The bss, as Linux 6.1 does it (its loop, kept): `elf_bss` and
//! `elf_brk` are the highest ends of the file part and of the memory part
//! over the segments so far, `bss_prot` the protection of the segment
//! that reached `elf_brk`. Before each later segment and once at the end,
//! `set_brk` maps `[PAGE_ALIGN(elf_bss), PAGE_ALIGN(elf_brk))` anonymous
//! (`vm_brk_flags`: read-write, executable only if the segment is) and
//! `padzero` clears `[elf_bss, end of its page)` *through the mapping*,
//! as `clear_user` does: that needs a writable area. In the loop a
//! failure is ignored ("This bss-zeroing can fail if the ELF file
//! specifies odd protections"); at the end it fails the exec with
//! `-EFAULT`, after Linux's point of no return, so the process dies of
//! `SIGSEGV`. That is 6.1's answer for a read-only last segment whose
//! `p_memsz > p_filesz` ends its file part inside a page; Linux 6.7 zeroes
//! only writable segments and lets a read-only one through, its tail
//! showing the file's next bytes (`padzero` errors reported only with
//! `PROT_WRITE`). We do what 6.1 does; here the exec fails before our
//! point of no return, and `sys_execve` kills the caller with `SIGSEGV`,
//! which is what the process sees in 6.1 too.
//!
//! Differences from Linux, for now: no `PT_INTERP` (dynamic executables
//! get `-ENOEXEC`), no `ET_DYN` (static PIE), no address-space
//! randomisation, and a segment whose file part lies past the end of the
//! file is refused (`Truncated`) where Linux maps it and lets a touch of
//! those pages raise `SIGBUS`.

use alloc::sync::Arc;
use alloc::vec::Vec;

use mm::layout::{PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
use mm::vma::{FileId, VmFlags, VmaKind};

use crate::fs::InodeRef;
use crate::mm::gup::{FOLL_WRITE, access_remote_vm};
use crate::mm::mm_types::MmStruct;

/// `PT_LOAD`: a segment to map.
const PT_LOAD: u32 = 1;
/// `PT_INTERP`: the program wants a dynamic loader.
const PT_INTERP: u32 = 3;
/// `PT_GNU_STACK`: its `p_flags` say whether the stack must be executable.
const PT_GNU_STACK: u32 = 0x6474_e551;
/// What the executable says about its stack (Linux `EXSTACK_*`, from
/// `PT_GNU_STACK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExStack {
    /// No `PT_GNU_STACK` (Linux `EXSTACK_DEFAULT`).
    Default,
    /// `PT_GNU_STACK` with `PF_X` (`EXSTACK_ENABLE_X`).
    EnableX,
    /// `PT_GNU_STACK` without `PF_X` (`EXSTACK_DISABLE_X`): what every
    /// toolchain writes today, our user programs and busybox included.
    DisableX,
}

impl ExStack {
    /// Does the initial stack get `VM_EXEC`? Linux 6.1 on i386
    /// (`elf_read_implies_exec`, `arch/x86/include/asm/elf.h`): a 32-bit
    /// executable *without* `PT_GNU_STACK` gets the `READ_IMPLIES_EXEC`
    /// personality ("exec-all": every readable mapping executable, the
    /// stack too), one with `PF_X` an executable stack ("exec-stack"),
    /// one without `PF_X` nothing executable but `PROT_EXEC` mappings
    /// ("exec-none"). We follow it for the stack; `READ_IMPLIES_EXEC`'s
    /// other effects (`PROT_READ` mmaps and the heap executable) are not
    /// implemented: such an executable runs here with only its stack and
    /// its `PF_X` segments executable.
    pub fn stack_is_executable(self) -> bool {
        self != ExStack::DisableX
    }
}
/// `ET_EXEC`: a fixed-address executable.
const ET_EXEC: u16 = 2;
/// `EM_386` and `EM_486` (Linux's `elf_check_arch` accepts both).
const EM_386: u16 = 3;
const EM_486: u16 = 6;
/// Segment permission bits (`PF_X`, `PF_W`, `PF_R`).
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
/// Size of an ELF32 header and of one program header.
const EHDR_SIZE: usize = 52;
const PHDR_SIZE: usize = 32;
/// Linux refuses more program headers than fit in 64 KiB.
const MAX_PHNUM: usize = 65536 / PHDR_SIZE;
/// Nothing is mapped below this (Linux's default `vm.mmap_min_addr`).
const MMAP_MIN_ADDR: usize = 0x10000;

/// Why an executable was refused: each is `-ENOEXEC` to the caller (Linux
/// returns that for every malformed or foreign binary), but the kernel
/// says which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than what its headers describe.
    Truncated,
    /// Not `\x7fELF`.
    BadMagic,
    /// Not a 32-bit little-endian ELF of version 1.
    WrongClass,
    /// Not `ET_EXEC` (a shared object, a core file, a static PIE).
    NotExecutable(u16),
    /// Not for i386.
    WrongMachine(u16),
    /// The program-header table is malformed.
    BadProgramHeaders,
    /// Wants a dynamic loader (`PT_INTERP`).
    Dynamic,
    /// A `PT_LOAD` segment is malformed or outside user space.
    BadSegment(usize),
    /// No `PT_LOAD` segment at all.
    NothingToLoad,
    /// No memory to load it.
    NoMemory,
    /// Reading the headers failed (Linux's `elf_read` gives the read's
    /// error).
    Read,
    /// `padzero` could not clear the tail of the last file page: its area
    /// is not writable (Linux 6.1's `-EFAULT`, after the point of no
    /// return: the process gets `SIGSEGV`).
    Fault,
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Truncated => f.write_str("the file is shorter than its headers say"),
            Self::BadMagic => f.write_str("not an ELF file (no \\x7fELF)"),
            Self::WrongClass => f.write_str("not a 32-bit little-endian ELF"),
            Self::NotExecutable(t) => write!(f, "ELF type {t} is not ET_EXEC (2)"),
            Self::WrongMachine(m) => write!(f, "ELF machine {m} is not i386 (3)"),
            Self::BadProgramHeaders => f.write_str("malformed program-header table"),
            Self::Dynamic => f.write_str("a dynamic executable (PT_INTERP): only static ones run here"),
            Self::BadSegment(i) => write!(f, "PT_LOAD segment {i} is malformed or outside user space"),
            Self::NothingToLoad => f.write_str("no PT_LOAD segment"),
            Self::NoMemory => f.write_str("out of memory"),
            Self::Read => f.write_str("the headers could not be read"),
            Self::Fault => f.write_str("the bss could not be zeroed (a read-only segment's tail)"),
        }
    }
}

/// What the loader leaves for `create_elf_tables` and `start_thread`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_entry`.
    pub entry: usize,
    /// Where the program headers are in the new address space (`AT_PHDR`),
    /// 0 if no segment covers them.
    pub phdr: usize,
    /// `e_phnum` (`AT_PHNUM`).
    pub phnum: usize,
    /// The first byte after the highest segment, page-aligned: the heap
    /// starts here (`mm->start_brk`).
    pub start_brk: usize,
    /// `PT_GNU_STACK`'s word on the stack.
    pub executable_stack: ExStack,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// One program header, the fields we use.
#[derive(Clone, Copy, Debug)]
struct Phdr {
    p_type: u32,
    p_offset: usize,
    p_vaddr: usize,
    p_filesz: usize,
    p_memsz: usize,
    p_flags: u32,
}

/// Check the header in `buf` (the file's first bytes, `bprm->buf`) and
/// read the program headers from `file` (Linux `load_elf_phdrs` ->
/// `elf_read`: a `kernel_read` of exactly the table, through the page
/// cache; no memory of the new address space is touched).
fn parse(buf: &[u8], file: &InodeRef) -> Result<(usize, usize, usize, Vec<Phdr>), ElfError> {
    if buf.len() < EHDR_SIZE {
        return Err(if buf.starts_with(b"\x7fELF") || buf.len() < 4 { ElfError::Truncated } else { ElfError::BadMagic });
    }
    if &buf[..4] != b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if buf[4] != 1 || buf[5] != 1 || buf[6] != 1 {
        return Err(ElfError::WrongClass);
    }
    let (e_type, e_machine) = (u16_at(buf, 16), u16_at(buf, 18));
    if e_type != ET_EXEC {
        return Err(ElfError::NotExecutable(e_type));
    }
    if e_machine != EM_386 && e_machine != EM_486 {
        return Err(ElfError::WrongMachine(e_machine));
    }
    let entry = u32_at(buf, 24) as usize;
    let phoff = u32_at(buf, 28) as usize;
    let (phentsize, phnum) = (u16_at(buf, 42) as usize, u16_at(buf, 44) as usize);
    if phentsize != PHDR_SIZE || phnum == 0 || phnum > MAX_PHNUM {
        return Err(ElfError::BadProgramHeaders);
    }
    let size = phnum * PHDR_SIZE;
    phoff.checked_add(size).ok_or(ElfError::BadProgramHeaders)?;
    let mut table = alloc::vec![0u8; size];
    // elf_read: a short read is an error (Linux -EIO; the table is
    // beyond the end of the file: `Truncated`, as before).
    match file.read_at(phoff, &mut table) {
        Ok(n) if n == size => {}
        Ok(_) => return Err(ElfError::Truncated),
        Err(_) => return Err(ElfError::Read),
    }
    let phdrs = table
        .chunks_exact(PHDR_SIZE)
        .map(|b| Phdr {
            p_type: u32_at(b, 0),
            p_offset: u32_at(b, 4) as usize,
            p_vaddr: u32_at(b, 8) as usize,
            p_filesz: u32_at(b, 16) as usize,
            p_memsz: u32_at(b, 20) as usize,
            p_flags: u32_at(b, 24),
        })
        .collect();
    Ok((entry, phoff, phnum, phdrs))
}

/// Check a `PT_LOAD` segment against the file and user space. Its
/// address and offset must agree modulo the page size: the file page at
/// `p_offset & PAGE_MASK` is what gets mapped at `p_vaddr & PAGE_MASK`
/// (Linux's `vm_mmap` refuses the offset `elf_map` computes otherwise,
/// `-EINVAL`).
fn check_segment(i: usize, ph: &Phdr, file_len: usize) -> Result<(), ElfError> {
    let bad = ElfError::BadSegment(i);
    let file_end = ph.p_offset.checked_add(ph.p_filesz).ok_or(bad)?;
    let mem_end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or(bad)?;
    if file_end > file_len {
        return Err(ElfError::Truncated);
    }
    if ph.p_filesz > ph.p_memsz
        || mem_end > TASK_SIZE
        || ph.p_vaddr < MMAP_MIN_ADDR
        || ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE
    {
        return Err(bad);
    }
    Ok(())
}

/// The VMA flags for a segment's `p_flags` (Linux `make_prot` +
/// `calc_vm_prot_bits`; a private mapping may later be made writable).
fn segment_flags(p_flags: u32) -> VmFlags {
    let mut f = VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE | VmFlags::VM_MAYEXEC;
    if p_flags & PF_R != 0 {
        f |= VmFlags::VM_READ;
    }
    if p_flags & PF_W != 0 {
        f |= VmFlags::VM_WRITE;
    }
    if p_flags & PF_X != 0 {
        f |= VmFlags::VM_EXEC;
    }
    f
}

/// Pages `padzero` made private (a copy of the file page, its tail
/// zeroed), for the tests and the benchmark's accounting.
pub static PADZERO_PAGES: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

/// Load the executable `file`, whose first bytes are `buf`, into `mm`
/// (which must be fresh): check every header, then map each `PT_LOAD`
/// segment from the file and give the bss its zeros (see the module
/// comment). Nothing is changed in `mm` if a check fails.
pub fn load_elf_binary(file: &InodeRef, buf: &[u8], mm: &Arc<MmStruct>) -> Result<ElfInfo, ElfError> {
    let (entry, phoff, phnum, phdrs) = parse(buf, file)?;
    let file_len = file.size();
    let mut loads = 0;
    let mut executable_stack = ExStack::Default;
    for (i, ph) in phdrs.iter().enumerate() {
        match ph.p_type {
            PT_INTERP => return Err(ElfError::Dynamic),
            PT_GNU_STACK => {
                executable_stack = if ph.p_flags & PF_X != 0 { ExStack::EnableX } else { ExStack::DisableX };
            }
            PT_LOAD => {
                check_segment(i, ph, file_len)?;
                loads += 1;
            }
            _ => {}
        }
    }
    if loads == 0 {
        return Err(ElfError::NothingToLoad);
    }
    let pages = file.file().map_err(|_| ElfError::Read)?;
    let id = FileId(file.ino);
    // The mapping's reference on the file and its place in the file's
    // reverse map, as `mmap2` takes them (Linux: `get_file` in `vm_mmap`,
    // `vma_link` -> `__vma_link_file`).
    mm.add_vm_file(file);
    pages.i_mmap_insert(mm);
    let (mut elf_bss, mut elf_brk, mut bss_flags) = (0usize, 0usize, VmFlags::empty());
    let (mut phdr, mut first) = (0, true);
    for ph in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        if elf_brk > elf_bss {
            // A segment before this one has p_memsz > p_filesz: its bss
            // now, zeroing failures ignored (Linux 6.1's loop).
            set_brk(mm, elf_bss, elf_brk, bss_flags)?;
            let nbyte = elf_bss & !PAGE_MASK;
            if nbyte != 0 {
                let nbyte = (PAGE_SIZE - nbyte).min(elf_brk - elf_bss);
                let _ = clear_user(mm, elf_bss, nbyte);
            }
        }
        elf_map(mm, id, ph, first)?;
        first = false;
        if ph.p_offset <= phoff && phoff + phnum * PHDR_SIZE <= ph.p_offset + ph.p_filesz {
            phdr = ph.p_vaddr + (phoff - ph.p_offset);
        }
        elf_bss = elf_bss.max(ph.p_vaddr + ph.p_filesz);
        let k = ph.p_vaddr + ph.p_memsz;
        if k > elf_brk {
            bss_flags = segment_flags(ph.p_flags);
            elf_brk = k;
        }
    }
    let start_brk = set_brk(mm, elf_bss, elf_brk, bss_flags)?;
    if elf_bss != elf_brk && !padzero(mm, elf_bss) {
        // A writable area whose page could not be had is out of memory:
        // our exec is still before its point of no return, so the caller
        // gets -ENOMEM and goes on (Linux 6.1, past its point, kills it
        // with SIGSEGV for either reason).
        let writable = mm.mmap_lock().find_vma(elf_bss)
            .is_some_and(|v| v.vm_start <= elf_bss && v.vm_flags.contains(VmFlags::VM_WRITE));
        return Err(if writable { ElfError::NoMemory } else { ElfError::Fault });
    }
    Ok(ElfInfo { entry, phdr, phnum, start_brk, executable_stack })
}

/// Map a segment's file part (Linux `elf_map`): `[p_vaddr & PAGE_MASK,
/// PAGE_ALIGN(p_vaddr + p_filesz))` from file page `p_offset >>
/// PAGE_SHIFT` on, private, with the segment's protection. The whole of
/// the last file page is mapped, bytes past `p_filesz` included (what
/// `padzero` then clears). A segment with no file part maps nothing
/// here. The first segment is `MAP_FIXED_NOREPLACE` (nothing is there in
/// a fresh address space), later ones `MAP_FIXED`: they replace whatever
/// an earlier segment or its bss put in a page they share, as Linux's do
/// (so the pages of what was replaced are freed).
fn elf_map(mm: &MmStruct, id: FileId, ph: &Phdr, first: bool) -> Result<(), ElfError> {
    let start = ph.p_vaddr & PAGE_MASK;
    let end = (ph.p_vaddr + ph.p_filesz).next_multiple_of(PAGE_SIZE);
    if end == start {
        return Ok(());
    }
    let pgoff = (ph.p_offset & PAGE_MASK) >> PAGE_SHIFT;
    let mut map = mm.mmap_lock();
    if first && map.find_vma_intersection(start, end).is_some() {
        return Err(ElfError::NoMemory); // MAP_FIXED_NOREPLACE's -EEXIST
    }
    let removed = map.mmap_region(start, end - start, segment_flags(ph.p_flags), VmaKind::File(id), pgoff)
        .map_err(|_| ElfError::NoMemory)?;
    for v in &removed {
        mm.zap_page_range(v.vm_start, v.vm_end);
    }
    Ok(())
}

/// Map the bss past the last file page anonymous and set the break
/// (Linux `set_brk`: `vm_brk_flags`, which unmaps what was in the range
/// first; read-write, executable if the segment is). Returns the new
/// `start_brk`.
fn set_brk(mm: &MmStruct, start: usize, end: usize, flags: VmFlags) -> Result<usize, ElfError> {
    let start = start.next_multiple_of(PAGE_SIZE);
    let end = end.next_multiple_of(PAGE_SIZE);
    let mut map = mm.mmap_lock();
    if end > start {
        let removed = map.do_munmap(start, end - start).map_err(|_| ElfError::NoMemory)?;
        for v in &removed {
            mm.zap_page_range(v.vm_start, v.vm_end);
        }
        let exec = if flags.contains(VmFlags::VM_EXEC) { VmFlags::VM_EXEC } else { VmFlags::empty() };
        map.do_brk_flags(start, end - start, exec).map_err(|_| ElfError::NoMemory)?;
    }
    map.start_brk = end;
    map.brk = end;
    Ok(end)
}

/// Linux `padzero`: clear from `elf_bss` to the end of its page, if it
/// is inside one. False if that could not be done.
fn padzero(mm: &MmStruct, elf_bss: usize) -> bool {
    let nbyte = elf_bss & !PAGE_MASK;
    nbyte == 0 || clear_user(mm, elf_bss, PAGE_SIZE - nbyte)
}

/// `clear_user` on the new address space, which is not loaded yet: the
/// access `clear_user` would make, through the page tables of `mm`
/// (`access_remote_vm` with `FOLL_WRITE` and no `FOLL_FORCE`: an area
/// without `VM_WRITE` refuses, as the fault of a user write would; a
/// private file page is copied first, `do_cow_fault`, so the file never
/// sees the zeros). True if every byte was cleared.
fn clear_user(mm: &MmStruct, addr: usize, n: usize) -> bool {
    let mut zeros = alloc::vec![0u8; n];
    let done = access_remote_vm(mm, addr, &mut zeros, FOLL_WRITE);
    if done > 0 {
        PADZERO_PAGES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    done == n
}
