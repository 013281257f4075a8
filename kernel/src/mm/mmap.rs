//! The memory-map system calls (Linux `mm/mmap.c`, `mm/mprotect.c`,
//! `mm/msync.c`): `brk`, `mmap2` (anonymous memory and ramfs files),
//! `munmap`, `mprotect`, `msync`. The bookkeeping is `mm::vma`
//! (host-tested); here each removed range's pages are taken out of the
//! page tables and freed, the new areas are left empty (their pages come
//! on first touch), and a range whose protection changed has its PTEs
//! rewritten (`change_protection`).
//!
//! ```text
//!  mprotect(start, len, prot)
//!    MmMap::do_mprotect_pkey        checks, then per area: split, set flags,
//!                                   merge (mprotect_fixup), and for each
//!                                   range whose flags changed:
//!      change_protection(range, vm_page_prot)
//!        per 4 MiB: pte_offset_map (kmap_local of a highmem table: HIGHPTE)
//!          every pte_present entry  -> change_pte: same frame, new bits
//!             PROT_NONE:  P=0, PROTNONE=1   (the CPU faults, the kernel
//!                                            still sees the page)
//!             otherwise:  P=1, U=1, RW=0    (a write faults: do_wp_page
//!                                            decides copy or reuse)
//!          pte_none entries stay empty      (demand paging as before)
//!        pte_unmap
//!      flush_tlb_range                      (this CPU: the process's only one)
//! ```

use mm::layout::PAGE_SIZE;
use mm::pgtable_types::pmd_addr_end;
use mm::vma::{MmMap, PgProt, VmArea};

use crate::arch::entry::PtRegs;
use crate::arch::paging::{pte_t, set_pte_atomic};
use crate::mm::mm_types::MmStruct;
use crate::mm::pgtable::{pte_offset_map, pte_unmap};

/// Free the pages of areas a call removed, and drop the reference on any
/// file no area maps any more. The caller holds the `mmap_lock` (`map`).
fn zap(mm: &MmStruct, map: &MmMap, removed: &[VmArea]) {
    for vma in removed {
        mm.zap_page_range(vma.vm_start, vma.vm_end);
    }
    if removed.iter().any(|v| !v.vma_is_anonymous()) {
        mm.prune_vm_files(map);
    }
}

/// `brk(addr)`: move the end of the heap; returns the new break, or the old
/// one if the move was refused (Linux's `brk` never returns an error).
pub fn sys_brk(regs: &mut PtRegs) -> i32 {
    let Some(mm) = crate::sched::current().mm() else { return 0 };
    let mut map = mm.mmap_lock();
    if let Ok(removed) = map.brk(regs.bx as usize) {
        zap(&mm, &map, &removed);
    }
    map.brk as i32
}

/// Linux `MAP_HUGETLB`: refused (`-EINVAL`) for a file that is not on
/// hugetlbfs, as `ksys_mmap_pgoff` does.
const MAP_HUGETLB: u32 = 0x4_0000;

/// `mmap2(addr, len, prot, flags, fd, pgoff)` (offset in pages; Linux
/// `ksys_mmap_pgoff` -> `do_mmap`). Anonymous memory, or a file: the
/// descriptor must be open (`-EBADF`), `MAP_HUGETLB` is `-EINVAL`, and
/// `MmMap::do_mmap` makes Linux's checks of the open mode (`-EACCES`) and
/// of whether the file can be mapped at all (a pipe, the console, a
/// directory, a device: `-ENODEV`; Linux maps `/dev/zero`, we do not).
/// A file area keeps its inode alive (`MmStruct::vm_files`) and its `mm`
/// is entered in the file's reverse map (`i_mmap`) so that truncate can
/// find its pages. Its pages come on first touch (`do_fault`). Returns
/// the address, or `-errno`.
pub fn sys_mmap2(regs: &mut PtRegs) -> i32 {
    let (addr, len, prot, flags, pgoff) = (regs.bx as usize, regs.cx as usize, regs.dx, regs.si, regs.bp as usize);
    let me = crate::sched::current();
    let Some(mm) = me.mm() else { return -crate::errno::ENOMEM };
    let mut inode = None;
    let file = if flags & mm::vma::MapFlags::MAP_ANONYMOUS.bits() != 0 {
        None
    } else {
        let fd = me.files.lock_irqsave().get(regs.di as i32);
        let (readable, writable, node) = match fd {
            None => return -crate::errno::EBADF,
            Some(crate::fs::file::Fd::Console) => {
                let acc = crate::fs::file::Fd::Console.f_flags() & 3;
                (acc == 0 || acc == 2, acc == 1 || acc == 2, None)
            }
            Some(crate::fs::file::Fd::File(f)) => (f.readable(), f.writable(), Some(f.inode.clone())),
        };
        if flags & MAP_HUGETLB != 0 {
            return -crate::errno::EINVAL;
        }
        // ramfs's file_operations have `mmap` (generic_file_mmap) for a
        // regular file only.
        let node = node.filter(|n| matches!(n.kind, crate::fs::InodeKind::Regular(_)));
        let id = mm::vma::FileId(node.as_ref().map_or(0, |n| n.ino));
        let mmap = node.is_some();
        inode = node;
        Some(mm::vma::MapFile { id, readable, writable, mmap })
    };
    let mut map = mm.mmap_lock();
    match map.do_mmap(addr, len, prot, flags, file, pgoff) {
        Ok((start, replaced)) => {
            if let Some(inode) = &inode {
                mm.add_vm_file(inode);
                if let Ok(f) = inode.file() {
                    f.i_mmap_insert(&mm);
                }
            }
            zap(&mm, &map, &replaced);
            start as i32
        }
        Err(e) => -e.errno(),
    }
}

/// Linux `vm_area_alloc` / `vm_area_dup`: may `n` new VMAs be had? Each
/// is a fallible allocation (mm/heap.rs: failslab may fail it), asked by
/// `MmMap` before a split or a new area changes anything, so `mmap`,
/// `munmap`, `mprotect` and `brk` return `-ENOMEM` with the map as it
/// was. (The areas themselves then go into the map's `BTreeMap` as
/// usual.)
pub fn vm_area_alloc(n: usize) -> bool {
    (0..n).all(|_| crate::mm::heap::slab_pre_alloc_hook(core::mem::size_of::<mm::vma::VmArea>()).is_ok())
}

/// Enter a new address space (a forked child's) in the reverse map
/// (`i_mmap`) of every file its areas map (Linux `dup_mmap`:
/// `vma_interval_tree_insert_after` per file area).
pub fn link_file_vmas(mm: &alloc::sync::Arc<MmStruct>) {
    for inode in mm.vm_files() {
        if let Ok(f) = inode.file() {
            f.i_mmap_insert(mm);
        }
    }
}

/// `munmap(addr, len)`.
pub fn sys_munmap(regs: &mut PtRegs) -> i32 {
    let Some(mm) = crate::sched::current().mm() else { return -crate::errno::EINVAL };
    let mut map = mm.mmap_lock();
    match map.do_munmap(regs.bx as usize, regs.cx as usize) {
        Ok(removed) => {
            zap(&mm, &map, &removed);
            0
        }
        Err(e) => -e.errno(),
    }
}

/// `msync` flags (Linux `asm-generic/mman-common.h`).
const MS_ASYNC: u32 = 1;
const MS_INVALIDATE: u32 = 2;
const MS_SYNC: u32 = 4;

/// `msync(start, len, flags)` (Linux `mm/msync.c`), with Linux's checks:
/// unknown flags, an unaligned `start`, or `MS_ASYNC` with `MS_SYNC`:
/// `-EINVAL`; a range that wraps: `-ENOMEM`; an empty one: 0; a range with
/// a hole: `-ENOMEM` (for plain `MS_ASYNC` at the first hole; otherwise
/// after the whole range was walked). There is nothing to write: ramfs's
/// pages *are* the file (its `fsync` is `noop_fsync`) and a shared
/// mapping writes into them directly, so a `read()` sees the bytes
/// before any msync. (`MS_INVALIDATE` of a locked area is `-EBUSY` in
/// Linux; we have no `mlock`.)
pub fn sys_msync(regs: &mut PtRegs) -> i32 {
    let (start, len, flags) = (regs.bx as usize, regs.cx as usize, regs.dx);
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || start % PAGE_SIZE != 0
        || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
    {
        return -crate::errno::EINVAL;
    }
    // Linux's arithmetic, wrap included: a length within a page of 4 GiB
    // rounds to 0.
    let len = len.wrapping_add(PAGE_SIZE - 1) & mm::layout::PAGE_MASK;
    let end = start.wrapping_add(len);
    if end < start {
        return -crate::errno::ENOMEM;
    }
    if end == start {
        return 0;
    }
    let Some(mm) = crate::sched::current().mm() else { return -crate::errno::ENOMEM };
    let map = mm.mmap_lock();
    // Linux's loop, its two error variables included: `error` starts as
    // -ENOMEM (what a missing area returns) and becomes 0 once an
    // `MS_SYNC` of a shared file area has "synced" (so a hole *after*
    // such an area then ends the walk with `unmapped_error` only; a
    // quirk of Linux's, kept).
    let mut start = start;
    let mut error = -crate::errno::ENOMEM;
    let mut unmapped_error = 0;
    let result = |error: i32, unmapped: i32| if error != 0 { error } else { unmapped };
    loop {
        let Some(vma) = map.find_vma(start) else { return result(error, unmapped_error) };
        if start < vma.vm_start {
            if flags == MS_ASYNC {
                return result(error, unmapped_error);
            }
            start = vma.vm_start;
            if start >= end {
                return result(error, unmapped_error);
            }
            unmapped_error = -crate::errno::ENOMEM;
        }
        start = vma.vm_end;
        if flags & MS_SYNC != 0 && !vma.vma_is_anonymous() && vma.vm_flags.contains(mm::vma::VmFlags::VM_SHARED) {
            // vfs_fsync_range: ramfs's noop_fsync, 0.
            error = 0;
            if start >= end {
                return result(error, unmapped_error);
            }
        } else if start >= end {
            return result(0, unmapped_error);
        }
    }
}

/// `mprotect(start, len, prot)` (Linux `do_mprotect_pkey`): change the
/// areas (`MmMap::do_mprotect_pkey`: Linux's checks and errnos), and the
/// PTEs of every range whose flags changed, as each is changed: like
/// Linux, an error part-way (a hole: `-ENOMEM`; an area that may never
/// have the access: `-EACCES`) leaves the ranges before it changed, PTEs
/// included.
pub fn sys_mprotect(regs: &mut PtRegs) -> i32 {
    let (start, len, prot) = (regs.bx as usize, regs.cx as usize, regs.dx);
    let Some(mm) = crate::sched::current().mm() else { return -crate::errno::ENOMEM };
    let mut map = mm.mmap_lock();
    match map.do_mprotect_pkey(start, len, prot, |s, e, newprot| {
        change_protection(&mm, s, e, newprot);
    }) {
        Ok(()) => 0,
        Err(e) => -e.errno(),
    }
}

/// Entries rewritten by `change_protection` (for the tests).
pub static PTES_CHANGED: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

/// Linux `tlb_single_page_flush_ceiling`: above this many pages, one
/// full flush is cheaper than an `invlpg` each.
const TLB_SINGLE_PAGE_FLUSH_CEILING: usize = 33;

/// Give every page mapped in `[start, end)` the protection `newprot`
/// (Linux `change_protection` -> `change_pte_range`), keeping its frame:
/// each page table is reached through `pte_offset_map` (a kmap_local
/// mapping of a highmem table) and each `pte_present` entry, accessible
/// or `PROT_NONE`, is rewritten by `mm::vma::pte::change_pte` (never
/// writable: see there). Empty entries stay empty. The caller holds the
/// `mmap_lock` and runs on this address space. Returns how many entries
/// changed.
pub fn change_protection(mm: &MmStruct, start: usize, end: usize, newprot: PgProt) -> usize {
    let mut changed = 0;
    let mut addr = start;
    while addr < end {
        // SAFETY: pmd_offset points into this mm's page directory.
        let pmd = unsafe { mm.pmd_offset(addr).read_volatile() };
        let stop = pmd_addr_end(addr, end);
        if !pmd.present() {
            addr = stop;
            continue;
        }
        let first = pte_offset_map(pmd, addr);
        let mut p = first;
        while addr < stop {
            // SAFETY: p walks entries of the page table mapped at `first`,
            // within its PMD_SIZE (addr < stop); the mmap_lock keeps
            // the fault path off them.
            let old = unsafe { p.read_volatile() };
            if old.pte_present() {
                let new = pte_t(mm::vma::pte::change_pte(old.0, newprot));
                if new != old {
                    // SAFETY: as above. One store of the whole entry
                    // (set_pte_atomic: 32 bits, or cmpxchg8b with PAE):
                    // the MMU sees the old entry or the new one.
                    unsafe { set_pte_atomic(p, new) };
                    changed += 1;
                }
            }
            p = p.wrapping_add(1);
            addr += PAGE_SIZE;
        }
        pte_unmap(first);
    }
    if changed > 0 {
        flush_tlb_range(start, end);
    }
    PTES_CHANGED.fetch_add(changed as u64, core::sync::atomic::Ordering::Relaxed);
    changed
}

/// Drop this CPU's translations of `[start, end)` in the loaded address
/// space (Linux `flush_tlb_range`, here local only: a process has one
/// thread, and the only CPU that can hold its user translations is the
/// one running it; a CPU switching to another page directory drops them).
fn flush_tlb_range(start: usize, end: usize) {
    if (end - start) / PAGE_SIZE > TLB_SINGLE_PAGE_FLUSH_CEILING {
        let cr3 = crate::arch::cpu::read_cr3();
        // SAFETY: reloading the page directory that is loaded keeps every
        // mapping; it drops the non-global TLB entries (all user ones).
        unsafe { crate::arch::paging::load_cr3(cr3) };
    } else {
        for addr in (start..end).step_by(PAGE_SIZE) {
            crate::arch::paging::flush_tlb_one_user(addr);
        }
    }
}
