//! The memory-map system calls (Linux `mm/mmap.c`, `mm/mprotect.c`):
//! `brk`, `mmap2`, `munmap`, `mprotect`. The bookkeeping is `mm::vma`
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

use mm::layout::{PAGE_SIZE, PGDIR_SHIFT};
use mm::vma::{PgProt, VmArea};

use crate::arch::entry::PtRegs;
use crate::arch::paging::Pte;
use crate::mm::mm_types::MmStruct;
use crate::mm::pgtable::{pgd_offset, pte_offset_map, pte_unmap};

/// Free the pages of areas a call removed.
fn zap(mm: &MmStruct, removed: &[VmArea]) {
    for vma in removed {
        mm.zap_page_range(vma.vm_start, vma.vm_end);
    }
}

/// `brk(addr)`: move the end of the heap; returns the new break, or the old
/// one if the move was refused (Linux's `brk` never returns an error).
pub fn sys_brk(regs: &mut PtRegs) -> i32 {
    let Some(mm) = crate::sched::current().mm() else { return 0 };
    let mut map = mm.mmap_lock();
    if let Ok(removed) = map.brk(regs.bx as usize) {
        zap(&mm, &removed);
    }
    map.brk as i32
}

/// `mmap2(addr, len, prot, flags, fd, pgoff)` (offset in pages): anonymous
/// mappings only for now; a file mapping gets `-ENODEV` until the page
/// cache can back it. Returns the address, or `-errno`.
pub fn sys_mmap2(regs: &mut PtRegs) -> i32 {
    let (addr, len, prot, flags, pgoff) = (regs.bx as usize, regs.cx as usize, regs.dx, regs.si, regs.bp as usize);
    let Some(mm) = crate::sched::current().mm() else { return -crate::errno::ENOMEM };
    if flags & mm::vma::MapFlags::MAP_ANONYMOUS.bits() == 0 {
        return -crate::errno::ENODEV;
    }
    let mut map = mm.mmap_lock();
    match map.do_mmap(addr, len, prot, flags, None, pgoff) {
        Ok((start, replaced)) => {
            zap(&mm, &replaced);
            start as i32
        }
        Err(e) => -e.errno(),
    }
}

/// `munmap(addr, len)`.
pub fn sys_munmap(regs: &mut PtRegs) -> i32 {
    let Some(mm) = crate::sched::current().mm() else { return -crate::errno::EINVAL };
    let mut map = mm.mmap_lock();
    match map.do_munmap(regs.bx as usize, regs.cx as usize) {
        Ok(removed) => {
            zap(&mm, &removed);
            0
        }
        Err(e) => -e.errno(),
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
pub static PTES_CHANGED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

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
        // SAFETY: pgd_offset points into this mm's page directory.
        let pde = unsafe { pgd_offset(mm.pgd(), addr).read_volatile() };
        let table_end = ((addr >> PGDIR_SHIFT) + 1) << PGDIR_SHIFT;
        let stop = end.min(table_end);
        if !pde.present() {
            addr = stop;
            continue;
        }
        let first = pte_offset_map(pde, addr);
        let mut p = first;
        while addr < stop {
            // SAFETY: p walks entries of the page table mapped at `first`,
            // within this 4 MiB (addr < table_end); the mmap_lock keeps
            // the fault path off them.
            let old = unsafe { p.read_volatile() };
            if old.pte_present() {
                let new = Pte(mm::vma::pte::change_pte(old.0, newprot));
                if new != old {
                    // SAFETY: as above. One aligned 32-bit store: the MMU
                    // sees the old entry or the new one.
                    unsafe { p.write_volatile(new) };
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
