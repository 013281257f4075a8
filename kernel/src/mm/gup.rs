//! Getting at *another* process's pages (Linux `mm/gup.c`, and
//! `__access_remote_vm` from `mm/memory.c`): `get_user_pages_remote`
//! walks a foreign `mm`'s VMAs under that `mm`'s `mmap_lock`, faults
//! missing pages in *for that mm*, and hands back the pages with a
//! reference each; the caller reaches their bytes through kmap_local,
//! because a page of a user process is a highmem page and has no kernel
//! address of its own (catalogue case U30).
//!
//! ```text
//!  get_user_pages_remote(mm, map, start, nr, FOLL_WRITE?|FOLL_FORCE?)
//!    per page (Linux __get_user_pages):
//!      find_vma (6.1's find_extend_vma: grows a stack area down)
//!      check_vma_flags          the access the area allows; FOLL_FORCE
//!                               lets a debugger read or COW-write what
//!                               the process itself may not
//!      follow_page_pte          mm.lookup: present, and writable if
//!                               FOLL_WRITE (or an exclusive COW copy
//!                               under FOLL_FORCE: can_follow_write_pte)
//!        no -> faultin_page     handle_mm_fault(mm, ...) with
//!                               FAULT_FLAG_REMOTE: *that* mm gets the
//!                               page, a page table if need be, and a
//!                               write breaks COW in it (do_wp_page)
//!      get_page                 the page cannot go (munmap, exit) until
//!                               the caller's put_page
//!  access_remote_vm(mm, addr, buf, gup_flags)
//!    mmap_lock; per page: get_user_pages_remote(1), kmap_local_page,
//!    memcpy, kunmap_local, put_page
//! ```
//!
//! What the current task's address space sees: nothing. No entry of its
//! page tables is read or written, so its RSS stays as it was, and the
//! remote page is reached only through a kmap_local slot of the calling
//! task (Linux's "the current mm is irrelevant" of GUP_REMOTE).
//!
//! Differences from Linux 6.1: one exclusive `mmap_lock` (Linux takes it
//! for read); the pages are *referenced* (`get_page`), not *pinned*
//! (`pin_user_pages_remote`, `FOLL_PIN`'s bias of 1024 references):
//! nothing here migrates or writes back pages, so a reference keeps the
//! page as well as a pin; and there is no `VM_IO`/`VM_PFNMAP` area
//! (no device mappings yet), so the `vma->vm_ops->access` fallback of
//! `__access_remote_vm` has nothing to do.

use alloc::vec::Vec;

use mm::layout::{PAGE_MASK, PAGE_SIZE, TASK_SIZE};
use mm::page::Page;
use mm::vma::{MmMap, VmArea, VmFlags};

use crate::errno::{EFAULT, ENOMEM};
use crate::mm::memory::{FaultFlags, VmFault, handle_mm_fault, is_zero_pfn};
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::pfn_to_page;

/// The access is a write: the page must be writable in that mm (a COW
/// page is broken first). Linux `FOLL_WRITE`.
pub const FOLL_WRITE: u32 = 0x01;
/// Override the area's protection (ptrace, `/proc/pid/mem`): read an area
/// without `VM_READ`, write a private one without `VM_WRITE` (into a COW
/// copy, never into the file or the shared page). Linux `FOLL_FORCE`.
pub const FOLL_FORCE: u32 = 0x10;
/// The mm is not the current task's (set by `get_user_pages_remote`
/// itself). Linux `FOLL_REMOTE`.
pub const FOLL_REMOTE: u32 = 0x2000;

/// Linux `FAULT_FLAG_REMOTE`: the fault is taken on behalf of another
/// mm. In Linux it keeps the fault out of the *current* task's
/// `min_flt`/`maj_flt` and skips the protection-key check; here it is the
/// reason `faultin_page` passes `user: false` and *that* mm to
/// `handle_mm_fault`, which never looks at the current task's.
pub const FAULT_FLAG_REMOTE: u32 = 0x80;

/// Faults taken by `get_user_pages_remote` for another mm (for tests).
pub static REMOTE_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

/// May `gup_flags` reach pages of `vma`? (Linux `check_vma_flags`.)
fn check_vma_flags(vma: &VmArea, gup_flags: u32) -> Result<(), i32> {
    let f = vma.vm_flags;
    if gup_flags & FOLL_WRITE != 0 {
        if !f.contains(VmFlags::VM_WRITE) {
            if gup_flags & FOLL_FORCE == 0 {
                return Err(EFAULT);
            }
            // A forced write goes into a private copy, so only a COW
            // mapping may take one (Linux `is_cow_mapping`: private and
            // may be written): a shared or a never-writable area may not.
            if !is_cow_mapping(f) {
                return Err(EFAULT);
            }
        }
    } else if !f.contains(VmFlags::VM_READ) && (gup_flags & FOLL_FORCE == 0 || !f.contains(VmFlags::VM_MAYREAD)) {
        // A read of an area without VM_READ: only forced, and only if it
        // could have been made readable (VM_MAYREAD).
        return Err(EFAULT);
    }
    Ok(())
}

/// Linux `is_cow_mapping`: `VM_MAYWRITE` without `VM_SHARED`.
fn is_cow_mapping(f: VmFlags) -> bool {
    f.contains(VmFlags::VM_MAYWRITE) && !f.contains(VmFlags::VM_SHARED)
}

/// May a `FOLL_WRITE` access use this present entry without a write
/// fault? (Linux 6.1 `can_follow_write_pte`.) If it is writable, yes.
/// Under `FOLL_FORCE` in a private area that may be written but is not
/// writable now, also if the page is the process's own copy already (the
/// fault broke COW): Linux asks `PageAnonExclusive`; we have no anon
/// flag, and a page with one reference that is not the zero page is
/// mapped by this PTE alone (a page-cache page has the cache's too).
fn can_follow_write_pte(flags: crate::arch::paging::PteFlags, pfn: usize, vma: &VmArea, gup_flags: u32) -> bool {
    if flags.contains(crate::arch::paging::PteFlags::RW) {
        return true;
    }
    let f = vma.vm_flags;
    gup_flags & FOLL_FORCE != 0
        && !f.intersects(VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE)
        && f.contains(VmFlags::VM_MAYWRITE)
        && !f.contains(VmFlags::VM_WRITE)
        && !is_zero_pfn(pfn)
        && pfn_to_page(pfn).page_count() == 1
}

/// The page mapped at `addr` in `mm`, with a reference, if the access
/// can use the entry as it is (Linux `follow_page_mask` ->
/// `follow_page_pte`); `None`: fault it in first. The PTE is read through
/// `pte_offset_map` (a kmap_local of the highmem page table: HIGHPTE).
fn follow_page(mm: &MmStruct, vma: &VmArea, addr: usize, gup_flags: u32) -> Option<&'static Page> {
    let pte = mm.lookup(addr);
    // A PROT_NONE entry (not present to the CPU) is followed only when
    // forced, as Linux's `gup_can_follow_protnone` says; otherwise the
    // fault gives it the area's protection (do_protnone_page).
    if !pte.pte_present() || (pte.pte_protnone() && gup_flags & FOLL_FORCE == 0) {
        return None;
    }
    if gup_flags & FOLL_WRITE != 0 && !can_follow_write_pte(pte.flags(), pte.pfn(), vma, gup_flags) {
        return None;
    }
    // The zero page too, for a read (Linux 6.1 takes a reference on it
    // as on any page; it is never freed).
    let page = pfn_to_page(pte.pfn());
    page.get_page();
    Some(page)
}

/// Fault `addr` in for `mm`, not for the current task (Linux
/// `faultin_page` with `FAULT_FLAG_REMOTE`): a read maps the zero page
/// into *that* mm, a write a fresh page, or breaks COW there.
fn faultin_page(mm: &MmStruct, vma: &VmArea, addr: usize, gup_flags: u32) -> Result<(), i32> {
    REMOTE_FAULTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let flags = FaultFlags { write: gup_flags & FOLL_WRITE != 0, user: false };
    handle_mm_fault(mm, vma, addr, flags).map_err(|e| match e {
        VmFault::Oom => ENOMEM,
        VmFault::SigBus => EFAULT,
    })
}

/// The area for `addr`, growing a stack area down to it if that is what
/// lies above (Linux 6.1 `find_extend_vma`; Linux 6.5 stopped GUP from
/// growing stacks, as only the fault path of the process itself should).
fn find_extend_vma(map: &mut MmMap, addr: usize) -> Option<VmArea> {
    let vma = *map.find_vma(addr)?;
    if vma.vm_start <= addr {
        return Some(vma);
    }
    if !vma.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
        return None;
    }
    map.expand_stack(addr).ok()?;
    map.find_vma(addr).copied()
}

/// Take references on `nr_pages` pages of `mm` from `start` (page
/// aligned down), faulting in for *that* mm whatever is missing (Linux
/// `get_user_pages_remote`, whose caller holds `mmap_read_lock(mm)`: here
/// `map` is the guard of `mm.mmap_lock()`). The pages are pushed onto
/// `pages`; each must be given back with [`put_page`]. Returns how many
/// were taken, which is fewer than asked if a page past the first cannot
/// be had (a hole, an area that refuses the access); if the very first
/// one cannot, the error: `EFAULT`, or `ENOMEM` when a fault found no
/// memory.
pub fn get_user_pages_remote(mm: &MmStruct, map: &mut MmMap, start: usize, nr_pages: usize, gup_flags: u32, pages: &mut Vec<&'static Page>) -> Result<usize, i32> {
    let gup_flags = gup_flags | FOLL_REMOTE;
    let start = start & PAGE_MASK;
    for i in 0..nr_pages {
        let addr = start.wrapping_add(i * PAGE_SIZE);
        match get_one_page(mm, map, addr, gup_flags) {
            Ok(page) => pages.push(page),
            Err(e) if i == 0 => return Err(e),
            Err(_) => return Ok(i),
        }
    }
    Ok(nr_pages)
}

/// One page of `__get_user_pages`' loop.
fn get_one_page(mm: &MmStruct, map: &mut MmMap, addr: usize, gup_flags: u32) -> Result<&'static Page, i32> {
    if addr >= TASK_SIZE {
        return Err(EFAULT);
    }
    let vma = find_extend_vma(map, addr).ok_or(EFAULT)?;
    check_vma_flags(&vma, gup_flags)?;
    // Linux loops "retry: follow, else fault" until the follow succeeds.
    // A successful fault always leaves an entry the follow accepts (a
    // write fault makes it writable, or the process's own copy under
    // FOLL_FORCE), so the second look finds it; the third is a guard: an
    // entry a fault cannot make usable (a forced write to a PROT_NONE
    // page keeps getting PROT_NONE back) is refused, not looped on.
    for _ in 0..3 {
        if let Some(page) = follow_page(mm, &vma, addr, gup_flags) {
            return Ok(page);
        }
        faultin_page(mm, &vma, addr, gup_flags)?;
    }
    Err(EFAULT)
}

/// Drop a reference `get_user_pages_remote` took (Linux `put_page`; for
/// pinned pages `unpin_user_page`).
pub fn put_page(page: &Page) {
    crate::mm::filemap::put_page(page);
}

/// Copy between `buf` and `mm`'s memory at `addr`, as far as it goes
/// (Linux `access_remote_vm` -> `__access_remote_vm`): with `FOLL_WRITE`
/// `buf` is written into that mm, else that mm's bytes are read into
/// `buf`. Returns the bytes copied: all of them, or as many as came
/// before the first page that could not be had. `mm`'s `mmap_lock` is
/// held throughout (so do not call this on the current mm while holding
/// its lock). Each page is reached through kmap_local: a user page is
/// highmem; Linux 6.1 used `kmap` here (a PKMAP entry, global and
/// sleeping), later kernels switched to `kmap_local_page`, which is what
/// we do: the mapping is used only by this task between map and unmap.
pub fn access_remote_vm(mm: &MmStruct, addr: usize, buf: &mut [u8], gup_flags: u32) -> usize {
    let write = gup_flags & FOLL_WRITE != 0;
    let mut map = mm.mmap_lock();
    let mut done = 0;
    while done < buf.len() {
        let at = addr.wrapping_add(done);
        let mut page = Vec::with_capacity(1);
        if get_user_pages_remote(mm, &mut map, at, 1, gup_flags, &mut page).is_err() {
            break;
        }
        let offset = at & !PAGE_MASK;
        let bytes = (buf.len() - done).min(PAGE_SIZE - offset);
        let chunk = &mut buf[done..done + bytes];
        if write {
            crate::mm::highmem::memcpy_to_page(page[0], offset, chunk);
            // Linux now calls set_page_dirty_lock(page) so that writeback
            // (a file page) or swap (an anonymous one) knows. Here nothing
            // is ever written back: ramfs keeps its pages and there is no
            // swap, so there is no dirty flag to set.
        } else {
            crate::mm::highmem::memcpy_from_page(chunk, page[0], offset);
        }
        put_page(page[0]);
        done += bytes;
    }
    done
}

/// `access_remote_vm` on a task's address space (Linux
/// `access_process_vm`, what ptrace's PEEK/POKE use with `FOLL_FORCE`):
/// 0 if the task has no mm (a kernel thread, or a process on its way out).
pub fn access_process_vm(tsk: &crate::sched::task::Task, addr: usize, buf: &mut [u8], gup_flags: u32) -> usize {
    match tsk.mm() {
        Some(mm) => access_remote_vm(&mm, addr, buf, gup_flags),
        None => 0,
    }
}
