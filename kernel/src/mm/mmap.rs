//! The memory-map system calls (Linux `mm/mmap.c`): `brk`, `mmap2`,
//! `munmap`. The bookkeeping is `mm::vma` (host-tested); here each
//! removed range's pages are taken out of the page tables and freed, and
//! the new areas are left empty: their pages come on first touch.

use mm::vma::VmArea;

use crate::arch::entry::PtRegs;
use crate::mm::mm_types::MmStruct;

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
