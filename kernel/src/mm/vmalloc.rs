//! The vmalloc area at work (Linux `mm/vmalloc.c`, and `ioremap` from
//! `arch/x86/mm/ioremap.c`): kernel mappings made on demand, one area at a
//! time, outside the direct map.
//!
//! The direct map gives every lowmem frame a permanent address, but only
//! lowmem, and only at `PAGE_OFFSET + phys`. Three things need kernel
//! addresses that the direct map cannot give:
//!
//! * **vmalloc**: a large buffer that must be *virtually* contiguous but need
//!   not be physically contiguous. [`vmalloc`] takes single pages wherever
//!   the buddy allocator has them, highmem first, and maps them side by side.
//!   Highmem is welcome here: vmalloc maps its pages anyway, so they need no
//!   direct-map address, and the scarce lowmem is spared.
//! * **vmap**: the same for pages the caller already has ([`vmap`]).
//! * **ioremap**: device registers and firmware tables, which may sit
//!   anywhere below 4 GiB; above 896 MiB (the ACPI tables at the top of RAM,
//!   the I/O APIC at `0xfec00000`) the direct map does not reach at all.
//!   [`ioremap`] maps them uncached for devices, [`ioremap_cache`] cached for
//!   firmware tables in RAM.
//!
//! Kernel stacks with a guard page below them are built on the same pieces
//! (see `stack.rs`).
//!
//! **Who decides what.** Which virtual range each area gets is
//! `mm::vmalloc::VmapAllocator`'s job (pure bookkeeping, host tested); this
//! file owns the one global allocator and does the page-table work. Every
//! page table of the vmalloc area was allocated at boot (`paging_init`), so
//! mapping never allocates memory for page tables and never changes a
//! page-directory entry: a mapping made here is seen through every page
//! directory at once.
//!
//! **Locking.** One spin lock guards the bookkeeping, taken with interrupts
//! disabled (an interrupt handler may `ioremap` or `vfree`). It is held only
//! while choosing or releasing a range, never while allocating pages or
//! writing PTEs: once an area is handed out, its PTEs belong to its owner.
//!
//! **Tearing down, and the TLB.** Unmapping is where the care goes. A CPU
//! may keep using a translation from its TLB after the PTE is gone, so the
//! order is: clear the PTEs, flush the TLBs
//! ([`flush_kernel_range_after_unmap`]), and only *then* give the frames back
//! to the page allocator and the range back to the allocator. The other
//! order would let a stale TLB entry write into a frame that already belongs
//! to someone else. Frames are gathered in small batches (Linux's
//! `mmu_gather` idea): clear up to [`UNMAP_BATCH`] PTEs, flush once, free
//! those frames, so no heap is needed to remember them.

use mm::gfp::{GFP_HIGHUSER, GfpFlags};
use mm::layout::{KernelLayout, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, VMALLOC_END};
use mm::page::Page;
use mm::vmalloc::{Place, VmFlags, VmapAllocator, VmapArea, VmapError};
use spin::Mutex;

use super::{page_alloc, pgtable};
use crate::arch::cpu::{local_irq_restore, local_irq_save, rdtsc};
use crate::arch::paging::{PAGE_KERNEL, PAGE_KERNEL_NOCACHE, pte_t, PteFlags};
use crate::arch::tsc;

/// The pages vmalloc and kernel stacks take. Linux's `vmalloc` asks for
/// `GFP_KERNEL | __GFP_HIGHMEM`, which in this kernel is exactly
/// `GFP_HIGHUSER`: highmem first, lowmem when highmem runs out.
pub const GFP_VMALLOC: GfpFlags = GFP_HIGHUSER;

/// How many pages are unmapped before one TLB flush and the freeing of
/// their frames. Linux flushes a range page by page up to
/// `tlb_single_page_flush_ceiling` (33) pages, and the whole TLB beyond;
/// a batch stays within that ceiling.
pub const UNMAP_BATCH: usize = 32;

/// The vmalloc area's bookkeeping. Empty (every request fails) until
/// [`vmalloc_init`].
static VMAP: Mutex<VmapAllocator> = Mutex::new(VmapAllocator::empty());

/// Run `f` on the allocator with its lock held and interrupts off.
fn with_vmap<R>(f: impl FnOnce(&mut VmapAllocator) -> R) -> R {
    let flags = local_irq_save();
    let r = f(&mut VMAP.lock());
    local_irq_restore(flags);
    r
}

/// Hand the vmalloc area, `[vmalloc_start, VMALLOC_END)`, to the allocator.
/// Called at the end of `mem_init`, once `max_low_pfn` (hence
/// `vmalloc_start`) is known and the page tables exist.
pub fn vmalloc_init() {
    let layout = KernelLayout::new(page_alloc::max_low_pfn());
    with_vmap(|v| v.init(layout.vmalloc_start, VMALLOC_END));
    log::info!(
        "vmalloc: {:#010x}-{:#010x} ({} MiB) for vmalloc, vmap, ioremap and kernel stacks; one guard page after each area",
        layout.vmalloc_start,
        VMALLOC_END,
        (VMALLOC_END - layout.vmalloc_start) >> 20
    );
}

/// The vmalloc area's counters, for tests and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmallocInfo {
    /// Live areas.
    pub nr_areas: usize,
    /// Bytes in live areas, guard pages not counted.
    pub used_bytes: usize,
    /// Bytes in no area and no guard page.
    pub free_bytes: usize,
    /// The largest free block.
    pub largest_free: usize,
    /// `[start, end)` of the area.
    pub range: (usize, usize),
}

/// A snapshot of the counters.
pub fn vmalloc_info() -> VmallocInfo {
    with_vmap(|v| VmallocInfo {
        nr_areas: v.nr_areas(),
        used_bytes: v.used_bytes(),
        free_bytes: v.free_bytes(),
        largest_free: v.largest_free(),
        range: v.range(),
    })
}

/// Reserve `size` bytes (whole pages) of the vmalloc area, plus the guard
/// page after them, without mapping anything (Linux `get_vm_area_caller`).
pub(crate) fn get_vm_area(size: usize, flags: VmFlags, caller: &'static str) -> Option<usize> {
    match with_vmap(|v| v.alloc(size, PAGE_SIZE, flags, caller)) {
        Ok(addr) => Some(addr),
        Err(VmapError::BadRequest) => None,
        Err(e) => {
            log::warn!("{caller}: allocation of {size} bytes of vmalloc space failed: {e:?}");
            None
        }
    }
}

/// Which live area holds `addr`, and whether `addr` is in the area or in its
/// trailing guard page (Linux `find_vm_area`).
pub fn find_vm_area(addr: usize) -> Option<(VmapArea, Place)> {
    with_vmap(|v| v.find(addr))
}

/// [`find_vm_area`] for fault handlers, which must never wait for a lock
/// that the faulting code itself may hold (a stack overflow inside
/// `vmalloc`, say, faults with the lock taken). It tries the lock for at
/// most 10 ms: another CPU releases it within microseconds, while the
/// faulting context never will, and then the answer is `None` (the fault
/// report just lacks the owner's name).
pub fn try_find_vm_area(addr: usize) -> Option<(VmapArea, Place)> {
    let flags = local_irq_save();
    let deadline = rdtsc() + tsc::tsc_khz().max(1) * 10;
    let found = loop {
        if let Some(v) = VMAP.try_lock() {
            break v.find(addr);
        }
        if rdtsc() > deadline {
            break None;
        }
        core::hint::spin_loop();
    };
    local_irq_restore(flags);
    found
}

/// Give the area at `addr` a name for reports (a kernel stack now owned by
/// a task, for instance). Returns whether an area starts at `addr`.
pub(crate) fn set_vm_area_caller(addr: usize, caller: &'static str) -> bool {
    with_vmap(|v| v.set_caller(addr, caller))
}

/// Map frame `pfn` at `vaddr`, which must be unmapped: two mappings in one
/// slot would mean two owners of one area.
fn map_page(vaddr: usize, pfn: usize, prot: PteFlags) {
    let old = pgtable::lookup_kernel_pte(vaddr);
    assert!(old.is_none(), "vmalloc: {vaddr:#010x} is already mapped ({old:?})");
    // No TLB flush: the PTE was empty, and x86 does not cache translations
    // of not-present pages.
    pgtable::set_pte_kernel(vaddr, pte_t::new(pfn, prot));
}

/// Allocate a page for every page of `[addr, addr + size)` and map it there
/// (Linux `__vmalloc_area_node`). On failure the pages mapped so far stay
/// mapped; the caller tears the whole area down with [`__vunmap`], which
/// frees them.
pub(crate) fn __vmalloc_area_node(addr: usize, size: usize, gfp: GfpFlags, prot: PteFlags) -> Result<(), ()> {
    for vaddr in (addr..addr + size).step_by(PAGE_SIZE) {
        let page = page_alloc::alloc_pages(gfp, 0).ok_or(())?;
        map_page(vaddr, page_alloc::page_to_pfn(page), prot);
    }
    Ok(())
}

/// Remove `[start, end)` from every CPU's TLB after its PTEs were cleared.
///
/// Any CPU may still hold a translation for these pages, and a local flush
/// would leave theirs behind: a stale entry on another CPU lets it write to
/// a frame that was already given back (and, since vmalloc reuses virtual
/// ranges, through an address that now belongs to someone else's stack).
/// So this is the full shootdown, `smp::flush_tlb_kernel_range`: flush
/// here, IPI every other online CPU to flush too, and wait for all of them.
/// That needs interrupts on, which is why `vfree`, `vunmap`, `iounmap` and
/// `free_kernel_stack` must not be called with interrupts off (as in Linux).
pub fn flush_kernel_range_after_unmap(start: usize, end: usize) {
    crate::smp::flush_tlb_kernel_range(start, end);
}

/// What kind of area `flags` describe, in the words of the function that
/// makes it.
fn kind_name(flags: VmFlags) -> &'static str {
    if flags.contains(VmFlags::VM_KSTACK) {
        "kernel stack"
    } else if flags.contains(VmFlags::VM_IOREMAP) {
        "ioremap"
    } else if flags.contains(VmFlags::VM_ALLOC) {
        "vmalloc"
    } else if flags.contains(VmFlags::VM_MAP) {
        "vmap"
    } else {
        "unknown"
    }
}

/// Tear down the area that starts at `addr` (Linux's old `__vunmap(addr,
/// deallocate_pages)`): check that it is a `kind` area (`what` names the
/// caller in the panic if not), clear its PTEs, flush, free the frames if
/// `deallocate_pages`, and release the range with its guard page.
///
/// A bad address is a kernel bug and panics with Linux's words (Linux warns
/// and carries on; this kernel stops at the first bug, as it does for a
/// double free of a page).
pub(crate) fn __vunmap(addr: usize, kind: VmFlags, what: &str, deallocate_pages: bool) -> VmapArea {
    let area = match find_vm_area(addr) {
        Some((area, Place::Inside)) if area.addr == addr => area,
        _ => panic!("Trying to {what}() nonexistent vm area ({addr:#010x})"),
    };
    assert!(
        area.flags.contains(kind),
        "{what}({addr:#010x}): wrong kind of area: {} (made by {}), expected {}",
        kind_name(area.flags),
        area.caller,
        kind_name(kind)
    );
    let mut batch = [0usize; UNMAP_BATCH];
    let mut start = area.addr;
    while start < area.end() {
        let end = (start + UNMAP_BATCH * PAGE_SIZE).min(area.end());
        let mut n = 0;
        for vaddr in (start..end).step_by(PAGE_SIZE) {
            let pte = pgtable::lookup_kernel_pte(vaddr);
            if pte.present() {
                pgtable::set_pte_kernel(vaddr, pte_t::NONE);
                batch[n] = pte.pfn();
                n += 1;
            }
        }
        flush_kernel_range_after_unmap(start, end);
        if deallocate_pages {
            for &pfn in &batch[..n] {
                page_alloc::__free_pages(page_alloc::pfn_to_page(pfn), 0);
            }
        }
        start = end;
    }
    let freed = with_vmap(|v| v.free(addr));
    assert_eq!(freed, Some(area), "{what}({addr:#010x}): the area changed while it was torn down");
    area
}

/// Allocate `size` bytes (rounded up to pages) of virtually contiguous
/// kernel memory (Linux `vmalloc`). The pages come one at a time from
/// anywhere, highmem first ([`GFP_VMALLOC`]); they are not zeroed. Returns
/// the address, or `None` if there is not enough memory or vmalloc space.
pub fn vmalloc(size: usize) -> Option<usize> {
    let addr = get_vm_area(size, VmFlags::VM_ALLOC, "vmalloc")?;
    let size = size.next_multiple_of(PAGE_SIZE);
    if __vmalloc_area_node(addr, size, GFP_VMALLOC, PAGE_KERNEL).is_err() {
        log::warn!("vmalloc: out of memory after mapping part of {size} bytes");
        __vunmap(addr, VmFlags::VM_ALLOC, "vfree", true);
        return None;
    }
    Some(addr)
}

/// Free what [`vmalloc`] returned: unmap it, then give back its pages and
/// its range (Linux `vfree`).
pub fn vfree(addr: usize) {
    __vunmap(addr, VmFlags::VM_ALLOC, "vfree", true);
}

/// The frame mapped at vmalloc-area address `addr`, if any (Linux
/// `vmalloc_to_pfn`; it reads the PTE, as Linux's does).
pub fn vmalloc_to_pfn(addr: usize) -> Option<usize> {
    let pte = pgtable::lookup_kernel_pte(addr);
    pte.present().then(|| pte.pfn())
}

/// The page descriptor behind vmalloc-area address `addr` (Linux
/// `vmalloc_to_page`).
pub fn vmalloc_to_page(addr: usize) -> Option<&'static Page> {
    vmalloc_to_pfn(addr).map(page_alloc::pfn_to_page)
}

/// Map the caller's `pages`, in order, at consecutive addresses with
/// protection `prot` (Linux `vmap`). The pages stay the caller's: [`vunmap`]
/// removes the mapping and leaves them allocated.
pub fn vmap(pages: &[&Page], prot: PteFlags) -> Option<usize> {
    let addr = get_vm_area(pages.len() * PAGE_SIZE, VmFlags::VM_MAP, "vmap")?;
    for (i, page) in pages.iter().enumerate() {
        map_page(addr + i * PAGE_SIZE, page_alloc::page_to_pfn(page), prot);
    }
    Some(addr)
}

/// Remove a mapping made by [`vmap`] (Linux `vunmap`).
pub fn vunmap(addr: usize) {
    __vunmap(addr, VmFlags::VM_MAP, "vunmap", false);
}

/// Map `size` bytes of physical address space starting at `phys` with
/// `prot` (Linux `__ioremap_caller`). `phys` need not be page aligned: the
/// whole pages around it are mapped and the address of `phys` itself is
/// returned. Everything must lie below 4 GiB: a non-PAE PTE holds a 20-bit
/// frame number.
fn __ioremap_caller(phys: u64, size: usize, prot: PteFlags, caller: &'static str) -> Option<usize> {
    if size == 0 {
        return None;
    }
    let last = phys.checked_add(size as u64 - 1)?;
    if last >> 32 != 0 {
        log::warn!("{caller}: {phys:#x}+{size:#x} reaches above 4 GiB, which a non-PAE page table cannot map");
        return None;
    }
    let phys = phys as usize;
    let offset = phys & !PAGE_MASK;
    let len = offset.checked_add(size)?.checked_next_multiple_of(PAGE_SIZE)?;
    let addr = get_vm_area(len, VmFlags::VM_IOREMAP, caller)?;
    let first_pfn = phys >> PAGE_SHIFT;
    for i in 0..len / PAGE_SIZE {
        map_page(addr + i * PAGE_SIZE, first_pfn + i, prot);
    }
    Some(addr + offset)
}

/// Map device memory (registers) uncached: `PAGE_KERNEL_NOCACHE` (PCD and
/// PWT), so every read and write reaches the device, in order (Linux
/// `ioremap`). Works for any physical address below 4 GiB, inside lowmem or
/// not.
///
/// Do not use it on RAM the direct map (or another cached mapping) also
/// covers: two mappings of one frame with different cache types is what
/// the Intel SDM calls memory-type aliasing, with undefined results. Linux
/// refuses `ioremap` of RAM for that reason; use [`ioremap_cache`] for
/// firmware tables in RAM.
pub fn ioremap(phys: u64, size: usize) -> Option<usize> {
    __ioremap_caller(phys, size, PAGE_KERNEL_NOCACHE, "ioremap")
}

/// Map memory that is cacheable, like ACPI tables in firmware-reserved RAM,
/// with `PAGE_KERNEL` (write-back, as the direct map) (Linux
/// `ioremap_cache`).
pub fn ioremap_cache(phys: u64, size: usize) -> Option<usize> {
    __ioremap_caller(phys, size, PAGE_KERNEL, "ioremap_cache")
}

/// Remove a mapping made by [`ioremap`] or [`ioremap_cache`]; `addr` is what
/// they returned (it may be inside the first page) (Linux `iounmap`).
pub fn iounmap(addr: usize) {
    __vunmap(addr & PAGE_MASK, VmFlags::VM_IOREMAP, "iounmap", false);
}
