//! Loading a static i386 ELF executable into a fresh address space (Linux
//! `fs/binfmt_elf.c`, `load_elf_binary`).
//!
//! ```text
//!  file bytes                              new MmStruct
//!  +--------------+                        0x08048000 +-----------+ r-x  PT_LOAD text
//!  | ELF header   |  checks: \x7fELF,                 |           |
//!  | program hdrs |  ELFCLASS32, LSB, ET_EXEC,        +-----------+
//!  | .text ...    |  EM_386, PT_LOAD bounds           | data      | rw-  PT_LOAD data: file bytes,
//!  | .data ...    |  ---------------------------->    | bss       |      then zeros (padzero)
//!  +--------------+                                   +-----------+
//!                                       start_brk --> (the heap grows from here)
//! ```
//!
//! Every page is a fresh highmem page (`GFP_HIGHUSER_MOVABLE`) filled
//! through kmap_local. The differences from Linux, for now: the pages are
//! copied in at exec time (Linux maps the page-cache pages and faults text
//! in on first use: that needs file mappings of the page cache, not here yet); no `PT_INTERP`
//! (dynamic executables get `-ENOEXEC`), no `ET_DYN` (static PIE), no
//! address-space randomisation.

use mm::gfp::{GFP_HIGHUSER_MOVABLE, __GFP_ZERO};
use mm::layout::{PAGE_MASK, PAGE_SIZE, TASK_SIZE};
use mm::vma::{VmFlags, VmaKind};

use crate::mm::kmap_local::{kmap_local_pfn, kunmap_local};
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::{alloc_pages, page_to_pfn};

/// `PT_LOAD`: a segment to map.
const PT_LOAD: u32 = 1;
/// `PT_INTERP`: the program wants a dynamic loader.
const PT_INTERP: u32 = 3;
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

/// Check the header and read the program headers (no memory touched).
fn parse(file: &[u8]) -> Result<(usize, usize, usize, alloc::vec::Vec<Phdr>), ElfError> {
    if file.len() < EHDR_SIZE {
        return Err(if file.starts_with(b"\x7fELF") || file.len() < 4 { ElfError::Truncated } else { ElfError::BadMagic });
    }
    if &file[..4] != b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if file[4] != 1 || file[5] != 1 || file[6] != 1 {
        return Err(ElfError::WrongClass);
    }
    let (e_type, e_machine) = (u16_at(file, 16), u16_at(file, 18));
    if e_type != ET_EXEC {
        return Err(ElfError::NotExecutable(e_type));
    }
    if e_machine != EM_386 && e_machine != EM_486 {
        return Err(ElfError::WrongMachine(e_machine));
    }
    let entry = u32_at(file, 24) as usize;
    let phoff = u32_at(file, 28) as usize;
    let (phentsize, phnum) = (u16_at(file, 42) as usize, u16_at(file, 44) as usize);
    if phentsize != PHDR_SIZE || phnum == 0 || phnum > MAX_PHNUM {
        return Err(ElfError::BadProgramHeaders);
    }
    let end = phoff.checked_add(phnum * PHDR_SIZE).ok_or(ElfError::BadProgramHeaders)?;
    if end > file.len() {
        return Err(ElfError::Truncated);
    }
    let phdrs = (0..phnum)
        .map(|i| {
            let b = &file[phoff + i * PHDR_SIZE..];
            Phdr {
                p_type: u32_at(b, 0),
                p_offset: u32_at(b, 4) as usize,
                p_vaddr: u32_at(b, 8) as usize,
                p_filesz: u32_at(b, 16) as usize,
                p_memsz: u32_at(b, 20) as usize,
                p_flags: u32_at(b, 24),
            }
        })
        .collect();
    Ok((entry, phoff, phnum, phdrs))
}

/// Check a `PT_LOAD` segment against the file and user space.
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

/// Load `file` into `mm` (which must be fresh): check every header, then
/// create one area per `PT_LOAD` segment and fill its file-backed pages
/// with the file's bytes (the rest of the last file page and the bss stay
/// zero, Linux's `padzero` and `set_brk`). Nothing is changed in `mm` if a
/// check fails.
pub fn load_elf_binary(file: &[u8], mm: &MmStruct) -> Result<ElfInfo, ElfError> {
    let (entry, phoff, phnum, phdrs) = parse(file)?;
    let mut loads = 0;
    for (i, ph) in phdrs.iter().enumerate() {
        match ph.p_type {
            PT_INTERP => return Err(ElfError::Dynamic),
            PT_LOAD => {
                check_segment(i, ph, file.len())?;
                loads += 1;
            }
            _ => {}
        }
    }
    if loads == 0 {
        return Err(ElfError::NothingToLoad);
    }
    let (mut start_brk, mut phdr) = (0, 0);
    for ph in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        let start = ph.p_vaddr & PAGE_MASK;
        let end = (ph.p_vaddr + ph.p_memsz + PAGE_SIZE - 1) & PAGE_MASK;
        if end > start {
            let pgoff = start >> mm::layout::PAGE_SHIFT;
            mm.mmap_lock().mmap_region(start, end - start, segment_flags(ph.p_flags), VmaKind::Anonymous, pgoff)
                .map_err(|_| ElfError::NoMemory)?;
        }
        copy_segment(file, ph, mm)?;
        start_brk = start_brk.max(end);
        if ph.p_offset <= phoff && phoff + phnum * PHDR_SIZE <= ph.p_offset + ph.p_filesz {
            phdr = ph.p_vaddr + (phoff - ph.p_offset);
        }
    }
    {
        let mut map = mm.mmap_lock();
        map.start_brk = start_brk;
        map.brk = start_brk;
    }
    Ok(ElfInfo { entry, phdr, phnum, start_brk })
}

/// Put the segment's file bytes into its pages: a fresh zeroed highmem page
/// for each page the file part touches (or the page already there, when
/// two segments share one), written through kmap_local.
fn copy_segment(file: &[u8], ph: &Phdr, mm: &MmStruct) -> Result<(), ElfError> {
    let (mut va, end) = (ph.p_vaddr, ph.p_vaddr + ph.p_filesz);
    while va < end {
        let page_va = va & PAGE_MASK;
        let chunk = (page_va + PAGE_SIZE).min(end) - va;
        let pte = mm.lookup(page_va);
        let pfn = if pte.present() {
            pte.pfn()
        } else {
            let page = alloc_pages(GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0).ok_or(ElfError::NoMemory)?;
            let writable = ph.p_flags & PF_W != 0;
            mm.map_page(page_va, page, writable).map_err(|_| ElfError::NoMemory)?;
            page_to_pfn(page)
        };
        let src = &file[ph.p_offset + (va - ph.p_vaddr)..][..chunk];
        let v = kmap_local_pfn(pfn);
        // SAFETY: v maps the whole page; [va - page_va, + chunk) is inside it.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), (v + (va - page_va)) as *mut u8, chunk) };
        kunmap_local(v);
        va += chunk;
    }
    Ok(())
}
