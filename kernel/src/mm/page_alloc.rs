//! The page allocator's front door (the entry points of Linux
//! `mm/page_alloc.c`): `alloc_pages`, `__free_pages`, `page_address`.
//!
//! The buddy allocator and zones are the `mm` crate's; this file owns the
//! one global node and `mem_map`, and adds what only the kernel can do:
//! disable interrupts around the zone locks (an interrupt handler may
//! allocate), and turn frames into addresses.

use mm::gfp::{__GFP_HIGHMEM, __GFP_ZERO, GfpFlags};
use mm::layout::{PAGE_SHIFT, phys_to_virt, virt_to_phys};
use mm::memblock::{Memblock, MemoryLayout};
use mm::node::{MemInfo, Node};
use mm::page::{MemMap, Page};
use mm::zone::Zone;
use spin::Once;

use crate::arch::cpu::{local_irq_restore, local_irq_save};

/// All zones of the machine (Linux `contig_page_data`).
static NODE: Node = Node::new();
/// One descriptor per frame in `[0, max_pfn)`.
static MEM_MAP: Once<MemMap<'static>> = Once::new();
/// Where RAM ends, and where lowmem does.
static SPLIT: Once<MemoryLayout> = Once::new();

/// Set up the zones and hand them every free frame (called by `mem_init`).
pub(super) fn init(pages: &'static [Page], split: MemoryLayout, memblock: &Memblock) {
    let map = MEM_MAP.call_once(|| MemMap::new(pages, 0));
    MEM_MAP_BASE.store(pages.as_ptr() as usize, core::sync::atomic::Ordering::Relaxed);
    SPLIT.call_once(|| split);
    NODE.init(map, split.max_low_pfn, split.max_pfn);
    NODE.free_all(map, memblock);
}

/// The global `mem_map`.
pub fn mem_map() -> &'static MemMap<'static> {
    MEM_MAP.get().expect("mem_map used before mem_init")
}

/// The RAM split computed at boot.
pub fn memory_layout() -> &'static MemoryLayout {
    SPLIT.get().expect("memory layout used before mem_init")
}

/// One past the last lowmem frame (Linux `max_low_pfn`).
pub fn max_low_pfn() -> usize {
    memory_layout().max_low_pfn
}

/// The node with every zone.
pub fn node() -> &'static Node {
    &NODE
}

/// DMA, Normal and HighMem, in that order.
pub fn zones() -> impl Iterator<Item = &'static Zone> {
    NODE.zones().iter()
}

/// Address of `mem_map[0]` (cached for the two conversions below, which
/// kmap performs on every call).
static MEM_MAP_BASE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Linux `pfn_to_page`.
#[inline]
pub fn pfn_to_page(pfn: usize) -> &'static Page {
    mem_map().pfn_to_page(pfn)
}

/// Linux `page_to_pfn`: a subtraction and a shift (descriptors are 32
/// bytes). The page must be one of `mem_map`'s, as every `&Page` the kernel
/// hands out is; debug builds check.
#[inline]
pub fn page_to_pfn(page: &Page) -> usize {
    let pfn = (page as *const Page as usize - MEM_MAP_BASE.load(core::sync::atomic::Ordering::Relaxed))
        / core::mem::size_of::<Page>();
    debug_assert_eq!(pfn, mem_map().page_to_pfn(page));
    pfn
}

/// Linux `PageHighMem`: is this frame in ZONE_HIGHMEM?
#[inline]
#[allow(non_snake_case)]
pub fn PageHighMem(page: &Page) -> bool {
    page.page_zonenum().is_highmem()
}

/// Allocate `2^order` contiguous frames from the zones `gfp` allows.
///
/// Fault injection first (Linux `prepare_alloc_pages` ->
/// `should_fail_alloc_page`): a forced failure returns `None` before any
/// zone is looked at, as a real shortage would. `#[track_caller]` so that
/// its log line names the caller, not this function.
#[track_caller]
pub fn alloc_pages(gfp: GfpFlags, order: usize) -> Option<&'static Page> {
    if super::fault_inject::should_fail_alloc_page(gfp, order) {
        return None;
    }
    let pfn = get_page_from_freelist(gfp, order)
        // Linux `__alloc_pages_slowpath`: no reclaim here, so straight to
        // the OOM killer (mm/oom_kill.rs), retrying the free lists.
        .or_else(|| super::oom_kill::__alloc_pages_may_oom(gfp, order, || get_page_from_freelist(gfp, order)));
    let page = pfn_to_page(pfn?);
    if super::page_poison::page_poisoning_enabled() {
        super::page_poison::kernel_unpoison_pages(page, 1 << order);
    }
    if gfp.contains(__GFP_ZERO) {
        // Highmem has no address: each page is mapped briefly to zero it.
        let first = page_to_pfn(page);
        for pfn in first..first + (1 << order) {
            super::highmem::clear_highpage(pfn_to_page(pfn));
        }
    }
    Some(page)
}

/// Linux `get_page_from_freelist`: the zones `gfp` allows, in order,
/// with the `min` watermark's check for lowmem (Linux
/// `zone_watermark_ok`): an allocation that may sleep and fail does not
/// take lowmem below [`min_free_lowmem_pages`] (see
/// `mm::oom::may_use_reserve`). Where we differ: Linux checks each zone,
/// before taking, and keeps a small reserve in ZONE_HIGHMEM too; we check
/// lowmem as a whole, after taking (and give the block back), and keep
/// none in highmem (no kernel allocation needs it).
fn get_page_from_freelist(gfp: GfpFlags, order: usize) -> Option<usize> {
    let flags = local_irq_save();
    let pfn = NODE.alloc_pages(mem_map(), gfp, order);
    local_irq_restore(flags);
    let pfn = pfn?;
    if !PageHighMem(pfn_to_page(pfn))
        && nr_free_lowmem_pages() < min_free_lowmem_pages()
        // (An allocation that may not sleep is answered without looking
        // at the task: it may come from an interrupt handler.)
        && !mm::oom::may_use_reserve(gfp, false)
        && !crate::sched::current_opt().is_some_and(super::oom_kill::tsk_is_oom_victim)
    {
        __free_pages(pfn_to_page(pfn), order);
        return None;
    }
    Some(pfn)
}

/// Free pages in the lowmem zones (DMA and Normal).
pub fn nr_free_lowmem_pages() -> usize {
    NODE.nr_free_pages() - NODE.nr_free_highpages()
}

/// The lowmem reserve (Linux's `min` watermarks of ZONE_DMA and
/// ZONE_NORMAL together): `min_free_kbytes` from the lowmem size, in
/// pages. Computed once.
pub fn min_free_lowmem_pages() -> usize {
    static MIN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    let mut min = MIN.load(core::sync::atomic::Ordering::Relaxed);
    if min == 0 {
        let info = meminfo();
        min = mm::oom::min_free_kbytes(info.low_total_kb) / (mm::layout::PAGE_SIZE / 1024);
        MIN.store(min, core::sync::atomic::Ordering::Relaxed);
    }
    min
}

/// Give the whole pages of the reserved physical range `[start, end)` to
/// the allocator (Linux `free_reserved_area`); see
/// `mm::node::Node::free_reserved_area`. Returns the pages freed.
pub fn free_reserved_area(start: u64, end: u64) -> usize {
    let flags = local_irq_save();
    let n = NODE.free_reserved_area(mem_map(), start, end);
    local_irq_restore(flags);
    n
}

/// Free a block from [`alloc_pages`] (Linux `__free_pages`).
pub fn __free_pages(page: &Page, order: usize) {
    // Poisoned only when this is the last reference (the block really goes
    // back: free_pages below drops one reference and frees at zero); a
    // shared page (page cache, COW) stays as it is.
    if super::page_poison::page_poisoning_enabled() && page.page_count() == 1 {
        super::page_poison::kernel_poison_pages(page, 1 << order);
    }
    let pfn = page_to_pfn(page);
    let flags = local_irq_save();
    NODE.free_pages(mem_map(), pfn, order);
    local_irq_restore(flags);
}

/// Allocate lowmem and return its direct-map address (Linux
/// `__get_free_pages`). Highmem has no permanent address, so asking for it
/// here is a bug.
#[track_caller]
pub fn __get_free_pages(gfp: GfpFlags, order: usize) -> Option<usize> {
    assert!(!gfp.contains(__GFP_HIGHMEM), "__get_free_pages: {gfp:?} may return highmem, which has no address");
    alloc_pages(gfp, order).map(|p| page_address(p).expect("lowmem pages have an address"))
}

/// Free what [`__get_free_pages`] returned (Linux `free_pages`).
pub fn free_pages(addr: usize, order: usize) {
    __free_pages(virt_to_page(addr), order);
}

/// The page of a direct-map address (Linux `virt_to_page`). Any other
/// kernel address (a kmap slot, vmalloc, the fixmap) minus `PAGE_OFFSET`
/// names some unrelated frame, often a highmem one: debug builds refuse,
/// as Linux's `CONFIG_DEBUG_VIRTUAL` does in `__phys_addr` (U32).
#[track_caller]
pub fn virt_to_page(addr: usize) -> &'static Page {
    debug_assert!(addr >= mm::layout::PAGE_OFFSET && virt_to_phys(addr) >> PAGE_SHIFT < max_low_pfn(),
        "BUG: virt_to_page({addr:#010x}): not a direct-map address (lowmem ends at {:#010x}); a kmap or vmalloc address has no direct-map arithmetic",
        phys_to_virt(max_low_pfn() << PAGE_SHIFT));
    pfn_to_page(virt_to_phys(addr) >> PAGE_SHIFT)
}

/// The kernel address of a page (Linux `page_address`): the direct map for
/// lowmem; for highmem, its kmap address if it has one, else `None`.
pub fn page_address(page: &Page) -> Option<usize> {
    mm::node::page_address(mem_map(), page_to_pfn(page), max_low_pfn())
}

/// Direct-map address of a lowmem frame (Linux `lowmem_page_address`).
/// A highmem frame has no direct-map address: `PAGE_OFFSET + phys` for it
/// lands in vmalloc space or the fixmap, or wraps, so debug builds refuse
/// to compute it (U32; Linux has no such check here, only
/// `CONFIG_DEBUG_VIRTUAL`'s on `__pa`). Use `page_address` or kmap.
#[inline]
#[track_caller]
pub fn lowmem_page_address(pfn: usize) -> usize {
    debug_assert!(pfn < max_low_pfn(),
        "BUG: direct-map address of highmem pfn {pfn:#x} (max_low_pfn {:#x}): highmem has no permanent address; kmap it",
        max_low_pfn());
    phys_to_virt(pfn << PAGE_SHIFT)
}

/// The meminfo block.
pub fn meminfo() -> MemInfo {
    NODE.meminfo()
}
