//! Zones: physical memory split by what the kernel can do with it (Linux
//! `struct zone` and `enum zone_type`, `include/linux/mmzone.h`).
//!
//! ```text
//!  pfn 0 ------ MAX_DMA_PFN ------------ max_low_pfn ----------------- max_pfn
//!  | ZONE_DMA    |      ZONE_NORMAL        |          ZONE_HIGHMEM          |
//!  | ISA DMA can | permanently mapped in   | has struct pages but no        |
//!  | reach these | the direct map (lowmem) | permanent address: kmap it     |
//! ```
//!
//! A zone is a range of page frames with its own buddy allocator and its own
//! lock. Allocations name the zones they can live with through GFP flags
//! (`gfp.rs`); `node.rs` walks the zones in fallback order.
//!
//! Every method takes `&self`: the kernel keeps its zones in a `static`
//! (inside `Node`), so the spans and counters are atomics and the free lists
//! sit behind the zone lock, `area`. The atomics are written only at boot or
//! under the lock; readers such as `nr_free_pages()` just get a snapshot,
//! which is what Linux's lock-free `zone_page_state()` gives too.
//!
//! The zone lock is a plain spin lock: unlike Linux's
//! `spin_lock_irqsave(&zone->lock)` it does not disable interrupts. If an
//! interrupt handler could allocate or free pages, the kernel must disable
//! interrupts around its calls into the allocator, or an interrupt arriving
//! while this CPU holds the lock would spin on it for ever. The zone lock is
//! a leaf: nothing else is locked while it is held.

use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use spin::Mutex;

use crate::buddy::{self, FreeArea, MAX_ORDER};
use crate::layout::MAX_DMA_PFN;
use crate::page::{MemMap, PageFlags};

/// Number of zones (Linux `MAX_NR_ZONES` for a 32-bit highmem kernel
/// without `ZONE_DMA32` or `ZONE_MOVABLE`).
pub const MAX_NR_ZONES: usize = 3;

/// The kinds of zone (Linux `enum zone_type`). The discriminant is the
/// zone's index, stored in each page's flags; a higher index is a "higher"
/// zone that allocations prefer and fall back *down* from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZoneType {
    /// Below 16 MiB, where ISA DMA controllers can reach (`ZONE_DMA`).
    Dma = 0,
    /// The rest of lowmem: always mapped in the direct map (`ZONE_NORMAL`).
    Normal = 1,
    /// RAM above the direct map: reachable only through kmap (`ZONE_HIGHMEM`).
    HighMem = 2,
}

impl ZoneType {
    /// Every zone type in index order.
    pub const ALL: [ZoneType; MAX_NR_ZONES] = [ZoneType::Dma, ZoneType::Normal, ZoneType::HighMem];

    /// The name Linux prints (`zone_names[]`): "DMA", "Normal", "HighMem".
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Normal => "Normal",
            ZoneType::HighMem => "HighMem",
        }
    }

    /// Linux `is_highmem_idx()`.
    pub const fn is_highmem(self) -> bool {
        matches!(self, ZoneType::HighMem)
    }

    /// The zone type with index `idx`. Panics on an index that names no
    /// zone (corrupted page flags, for instance).
    pub fn from_index(idx: usize) -> ZoneType {
        match idx {
            0 => ZoneType::Dma,
            1 => ZoneType::Normal,
            2 => ZoneType::HighMem,
            _ => panic!("ZoneType::from_index: no zone with index {idx}"),
        }
    }

    /// The zone's index (its discriminant).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// How `[0, max_pfn)` splits into zones (what Linux's `zone_sizes_init()`
/// computes from `max_zone_pfns[]` on i386):
///
/// * DMA    = `[0, min(MAX_DMA_PFN, max_low_pfn))`
/// * Normal = `[end of DMA, max_low_pfn)`
/// * HighMem = `[max_low_pfn, max_pfn)`
///
/// Ranges may be empty: a 64 MiB machine has no highmem, and a (too small
/// to boot) 8 MiB one would have no Normal zone.
pub fn zone_spans(max_low_pfn: usize, max_pfn: usize) -> [(ZoneType, usize, usize); MAX_NR_ZONES] {
    assert!(
        max_low_pfn <= max_pfn,
        "zone_spans: max_low_pfn {max_low_pfn:#x} is above max_pfn {max_pfn:#x}"
    );
    let dma_end = MAX_DMA_PFN.min(max_low_pfn);
    [
        (ZoneType::Dma, 0, dma_end),
        (ZoneType::Normal, dma_end, max_low_pfn),
        (ZoneType::HighMem, max_low_pfn, max_pfn),
    ]
}

/// One zone (Linux `struct zone`, keeping only what a single-node,
/// reclaim-free allocator needs).
#[derive(Debug)]
pub struct Zone {
    /// Which zone this is.
    zone_type: ZoneType,
    /// First pfn of the span (Linux `zone_start_pfn`).
    zone_start_pfn: AtomicUsize,
    /// Pfns the zone spans, holes included (Linux `spanned_pages`).
    spanned_pages: AtomicUsize,
    /// Pfns of the span that are RAM: the span minus the firmware's holes
    /// (Linux `present_pages`, what `/proc/zoneinfo` calls "present").
    present_pages: AtomicUsize,
    /// Pages handed to the buddy allocator: the span minus holes and
    /// everything reserved at boot (Linux `managed_pages`).
    managed_pages: AtomicUsize,
    /// The buddy free lists, behind the zone lock (Linux `zone->free_area`
    /// guarded by `zone->lock`).
    area: Mutex<FreeArea>,
    /// Free pages in this zone (Linux `NR_FREE_PAGES`), kept outside the
    /// lock so that statistics never contend with allocation.
    nr_free: AtomicUsize,
}

impl Zone {
    /// An empty zone of type `zone_type`; `init_span` gives it its range.
    pub const fn new(zone_type: ZoneType) -> Zone {
        Zone {
            zone_type,
            zone_start_pfn: AtomicUsize::new(0),
            spanned_pages: AtomicUsize::new(0),
            present_pages: AtomicUsize::new(0),
            managed_pages: AtomicUsize::new(0),
            area: Mutex::new(FreeArea::new()),
            nr_free: AtomicUsize::new(0),
        }
    }

    /// Which zone this is.
    pub fn zone_type(&self) -> ZoneType {
        self.zone_type
    }

    /// "DMA", "Normal" or "HighMem".
    pub fn name(&self) -> &'static str {
        self.zone_type.name()
    }

    /// Set the pfn range `[start_pfn, end_pfn)` the zone covers (once, at
    /// boot, before any page is freed into it). An empty range is allowed.
    pub fn init_span(&self, start_pfn: usize, end_pfn: usize) {
        assert!(
            start_pfn <= end_pfn,
            "zone {}: span start {start_pfn:#x} is after its end {end_pfn:#x}",
            self.name()
        );
        assert!(
            self.managed_pages() == 0,
            "zone {}: init_span after pages were given to the buddy allocator",
            self.name()
        );
        self.zone_start_pfn.store(start_pfn, Relaxed);
        self.spanned_pages.store(end_pfn - start_pfn, Relaxed);
    }

    /// Give every descriptor the zone spans (and `map` holds) its zone
    /// number and the reserved bit (Linux `memmap_init_zone()` /
    /// `__init_single_page()` + `__SetPageReserved()`): afterwards
    /// `page_zonenum()` works, and nothing is free until `free_boot_range`.
    pub fn memmap_init_zone(&self, map: &MemMap) {
        let start = self.zone_start_pfn().max(map.start_pfn());
        let end = self.zone_end_pfn().min(map.end_pfn());
        for pfn in start..end {
            let page = map.pfn_to_page(pfn);
            page.set_page_zone(self.zone_type);
            page.set_flag(PageFlags::PG_reserved);
        }
    }

    /// First pfn of the zone.
    pub fn zone_start_pfn(&self) -> usize {
        self.zone_start_pfn.load(Relaxed)
    }

    /// Pfns spanned, holes included.
    pub fn spanned_pages(&self) -> usize {
        self.spanned_pages.load(Relaxed)
    }

    /// Pfns of the span that are RAM (Linux `present_pages`): at most
    /// `spanned_pages`, less where the span crosses a hole. With PAE at
    /// `-m 8G`, HighMem spans 896 MiB to 9 GiB, across QEMU's PCI hole from
    /// 3 GiB to 4 GiB, which is spanned but not present.
    pub fn present_pages(&self) -> usize {
        self.present_pages.load(Relaxed)
    }

    /// Record how many pfns of the span are RAM (Linux
    /// `calculate_node_totalpages()`, from memblock's memory list; see
    /// `Node::calculate_node_totalpages`).
    pub fn set_present_pages(&self, present: usize) {
        assert!(
            present <= self.spanned_pages(),
            "zone {}: {present} present pages in a span of {}",
            self.name(),
            self.spanned_pages()
        );
        self.present_pages.store(present, Relaxed);
    }

    /// One past the last pfn (Linux `zone_end_pfn()`).
    pub fn zone_end_pfn(&self) -> usize {
        self.zone_start_pfn() + self.spanned_pages()
    }

    /// Does the zone span no pfns at all? (Linux `zone_is_empty()`.)
    pub fn is_empty(&self) -> bool {
        self.spanned_pages() == 0
    }

    /// Is `pfn` inside the zone's span? (Linux `zone_spans_pfn()`.)
    pub fn contains_pfn(&self, pfn: usize) -> bool {
        pfn >= self.zone_start_pfn() && pfn < self.zone_end_pfn()
    }

    /// Pages the buddy allocator manages in this zone.
    pub fn managed_pages(&self) -> usize {
        self.managed_pages.load(Relaxed)
    }

    /// Pages currently free in this zone.
    pub fn nr_free_pages(&self) -> usize {
        self.nr_free.load(Relaxed)
    }

    /// Free blocks on each order's list (what Linux prints in
    /// `/proc/buddyinfo`).
    pub fn free_list_counts(&self) -> [usize; MAX_ORDER] {
        let area = self.area.lock();
        core::array::from_fn(|order| area.lists[order].nr_free)
    }

    /// Call `f(pfn, order)` for every free block, order by order, each list
    /// from its head. Holds the zone lock throughout, so `f` must not
    /// allocate from or free to this zone.
    pub fn for_each_free_block(&self, map: &MemMap, mut f: impl FnMut(usize, usize)) {
        let area = self.area.lock();
        for order in 0..MAX_ORDER {
            area.lists[order].for_each(map, |pfn| f(pfn, order));
        }
    }

    /// Allocate a block of `2^order` pages from this zone; returns its
    /// first pfn, or `None` if no free block is large enough (or `order` is
    /// not below `MAX_ORDER`, for which Linux also just fails).
    ///
    /// The head page comes back with refcount 1 (Linux `prep_new_page()` →
    /// `set_page_refcounted()`).
    pub fn alloc(&self, map: &MemMap, order: usize) -> Option<usize> {
        if order >= MAX_ORDER {
            return None;
        }
        let pfn = {
            let mut area = self.area.lock();
            let pfn = buddy::__rmqueue_smallest(&mut area, map, order)?;
            self.nr_free.fetch_sub(1 << order, Relaxed);
            pfn
        };
        let page = map.pfn_to_page(pfn);
        page.set_page_order(order);
        page.set_page_count(1);
        Some(pfn)
    }

    /// Drop the caller's reference to the block at `pfn`, and give it back
    /// to the buddy allocator if that was the last one (Linux
    /// `__free_pages()`: `put_page_testzero()` then `free_one_page()`).
    ///
    /// Misuse is a kernel bug and panics, naming the pfn: see
    /// `buddy::free_pages_check_entry` and `buddy::free_pages_prepare` for
    /// the checks.
    pub fn free(&self, map: &MemMap, pfn: usize, order: usize) {
        buddy::free_pages_check_entry(map, self, pfn, order);
        if !map.pfn_to_page(pfn).put_page_testzero() {
            return; // someone else still holds a reference (get_page)
        }
        buddy::free_pages_prepare(map, pfn, order);
        let mut area = self.area.lock();
        buddy::__free_one_page(&mut area, map, pfn, order, self);
        self.nr_free.fetch_add(1 << order, Relaxed);
    }

    /// Hand the free RAM `[start_pfn, end_pfn)` to the buddy allocator, once,
    /// at boot (Linux `memblock_free_all()` → `__free_pages_memory()` →
    /// `__free_pages_core()`).
    ///
    /// The range is cut into the largest naturally aligned blocks that fit:
    /// at each step the order is limited by the alignment of the current
    /// pfn (its lowest set bit) and by what is left of the range. Each block
    /// has `PG_reserved` cleared on all its pages, is counted in
    /// `managed_pages`, and goes through `__free_one_page`, so blocks from
    /// adjacent ranges still coalesce.
    pub fn free_boot_range(&self, map: &MemMap, start_pfn: usize, end_pfn: usize) {
        assert!(
            start_pfn <= end_pfn && start_pfn >= self.zone_start_pfn() && end_pfn <= self.zone_end_pfn(),
            "free_boot_range: [{start_pfn:#x}, {end_pfn:#x}) is not inside zone {} [{:#x}, {:#x})",
            self.name(),
            self.zone_start_pfn(),
            self.zone_end_pfn()
        );
        let mut area = self.area.lock();
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            // Largest order the alignment of `pfn` allows (pfn 0 is aligned
            // to everything) ...
            let mut order = (pfn.trailing_zeros() as usize).min(MAX_ORDER - 1);
            // ... shrunk until the block fits in what is left.
            while pfn + (1 << order) > end_pfn {
                order -= 1;
            }
            for p in pfn..pfn + (1 << order) {
                let page = map.pfn_to_page(p);
                assert!(
                    page.page_reserved(),
                    "free_boot_range: pfn {p:#x} is not PG_reserved: it was already given to the \
                     buddy allocator (range freed twice at boot?)"
                );
                page.clear_flag(PageFlags::PG_reserved);
                page.set_page_count(0);
            }
            self.managed_pages.fetch_add(1 << order, Relaxed);
            buddy::__free_one_page(&mut area, map, pfn, order, self);
            self.nr_free.fetch_add(1 << order, Relaxed);
            pfn += 1 << order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::MAXMEM_PFN;
    use crate::page::test_support::new_pages;

    #[test]
    fn zone_names_and_indices() {
        let names: Vec<_> = ZoneType::ALL.iter().map(|z| z.name()).collect();
        assert_eq!(names, ["DMA", "Normal", "HighMem"]);
        for (i, z) in ZoneType::ALL.iter().enumerate() {
            assert_eq!(z.index(), i);
            assert_eq!(ZoneType::from_index(i), *z);
        }
        assert!(ZoneType::HighMem.is_highmem() && !ZoneType::Normal.is_highmem());
    }

    #[test]
    fn spans_for_small_medium_and_large_machines() {
        // 64 MiB: no highmem.
        let p64 = (64 << 20) >> 12;
        assert_eq!(
            zone_spans(p64, p64),
            [(ZoneType::Dma, 0, MAX_DMA_PFN), (ZoneType::Normal, MAX_DMA_PFN, p64), (ZoneType::HighMem, p64, p64)]
        );
        // 8 MiB: everything is DMA.
        let p8 = (8 << 20) >> 12;
        assert_eq!(zone_spans(p8, p8)[0], (ZoneType::Dma, 0, p8));
        assert_eq!(zone_spans(p8, p8)[1], (ZoneType::Normal, p8, p8));
        // 2 GiB: lowmem stops at the direct map's end.
        let p2g = (2usize << 30) >> 12;
        let s = zone_spans(MAXMEM_PFN, p2g);
        assert_eq!(s[1], (ZoneType::Normal, MAX_DMA_PFN, MAXMEM_PFN));
        assert_eq!(s[2], (ZoneType::HighMem, MAXMEM_PFN, p2g));
    }

    #[test]
    fn span_accessors() {
        let z = Zone::new(ZoneType::Normal);
        assert!(z.is_empty());
        z.init_span(0x1000, 0x3000);
        assert!(!z.is_empty());
        assert_eq!(z.zone_start_pfn(), 0x1000);
        assert_eq!(z.spanned_pages(), 0x2000);
        assert_eq!(z.zone_end_pfn(), 0x3000);
        assert!(z.contains_pfn(0x1000) && z.contains_pfn(0x2fff));
        assert!(!z.contains_pfn(0xfff) && !z.contains_pfn(0x3000));
    }

    #[test]
    fn free_boot_range_uses_largest_aligned_blocks() {
        let pages = new_pages(4096);
        let map = MemMap::new(&pages, 0);
        let z = Zone::new(ZoneType::Normal);
        z.init_span(0, 4096);
        z.memmap_init_zone(&map);
        // [3, 2051): 3 (order 0), 4..8 (2), 8..16 (3), ... 1024..2048 (10),
        // then 2048..2050 (1), 2050 (0).
        z.free_boot_range(&map, 3, 2051);
        assert_eq!(z.managed_pages(), 2048);
        assert_eq!(z.nr_free_pages(), 2048);
        let mut blocks = Vec::new();
        z.for_each_free_block(&map, |pfn, order| blocks.push((pfn, order)));
        blocks.sort();
        let mut expect = vec![(3, 0)];
        for order in 2..MAX_ORDER {
            expect.push((1 << order, order));
        }
        expect.extend([(2048, 1), (2050, 0)]);
        expect.sort();
        assert_eq!(blocks, expect);
        // The pages outside the range stay reserved; those inside do not.
        assert!(map.pfn_to_page(2).page_reserved() && map.pfn_to_page(2051).page_reserved());
        assert!((3..2051).all(|p| !map.pfn_to_page(p).page_reserved()));
    }

    #[test]
    fn adjacent_boot_ranges_coalesce() {
        let pages = new_pages(2048);
        let map = MemMap::new(&pages, 0);
        let z = Zone::new(ZoneType::Dma);
        z.init_span(0, 2048);
        z.memmap_init_zone(&map);
        z.free_boot_range(&map, 0, 700);
        z.free_boot_range(&map, 700, 2048);
        let counts = z.free_list_counts();
        assert_eq!(counts[MAX_ORDER - 1], 2);
        assert_eq!(counts.iter().sum::<usize>(), 2);
    }

    #[test]
    #[should_panic(expected = "range freed twice at boot")]
    fn boot_range_freed_twice_panics() {
        let pages = new_pages(64);
        let map = MemMap::new(&pages, 0);
        let z = Zone::new(ZoneType::Dma);
        z.init_span(0, 64);
        z.memmap_init_zone(&map);
        z.free_boot_range(&map, 0, 64);
        z.free_boot_range(&map, 8, 16);
    }

    #[test]
    #[should_panic(expected = "free_boot_range: [0x30, 0x50) is not inside zone DMA [0x0, 0x40)")]
    fn boot_range_outside_zone_panics() {
        let pages = new_pages(128);
        let map = MemMap::new(&pages, 0);
        let z = Zone::new(ZoneType::Dma);
        z.init_span(0, 64);
        z.free_boot_range(&map, 0x30, 0x50);
    }

    #[test]
    fn memmap_init_zone_sets_zone_bits() {
        let pages = new_pages(32);
        let map = MemMap::new(&pages, 0);
        let z = Zone::new(ZoneType::HighMem);
        z.init_span(16, 32);
        z.memmap_init_zone(&map);
        assert!((16..32).all(|p| map.pfn_to_page(p).page_zonenum() == ZoneType::HighMem));
        assert!((0..16).all(|p| map.pfn_to_page(p).page_zonenum() == ZoneType::Dma));
    }

    #[test]
    fn alloc_too_large_order_fails() {
        let pages = new_pages(16);
        let map = MemMap::new(&pages, 0);
        let z = Zone::new(ZoneType::Dma);
        z.init_span(0, 16);
        assert_eq!(z.alloc(&map, MAX_ORDER), None);
        assert_eq!(z.alloc(&map, 0), None, "nothing was freed into the zone");
    }
}
