//! All zones together: the node (Linux `pg_data_t`; a non-NUMA kernel has
//! exactly one, `contig_page_data`), the page allocator's entry points
//! (`alloc_pages` / `__free_pages`), the memory counters behind
//! `/proc/meminfo`, and `page_address()`.
//!
//! ```text
//!  alloc_pages(gfp, order)
//!     for zone in zonelist(gfp):        HighMem -> Normal -> DMA, from gfp_zone(gfp) down
//!         zone.alloc(order)             zone lock, __rmqueue_smallest
//!  free_pages(pfn, order)
//!     page_zone(pfn)                    zone number from the page's flags
//!     zone.free(pfn, order)             checks, refcount, __free_one_page
//! ```
//!
//! There are no watermarks, no per-CPU page lists and no reclaim: a zone is
//! used until it is empty, then the next one in the list is tried.

use core::fmt;

use crate::gfp::{GfpFlags, zonelist};
use crate::layout::{PAGE_SHIFT, phys_to_virt};
use crate::memblock::Memblock;
use crate::page::{MemMap, Page};
use crate::zone::{MAX_NR_ZONES, Zone, ZoneType, zone_spans};

/// The one memory node (Linux `struct pglist_data`, keeping only
/// `node_zones`). The kernel keeps it in a `static`:
/// `static CONTIG_PAGE_DATA: Node = Node::new();`.
#[derive(Debug)]
pub struct Node {
    node_zones: [Zone; MAX_NR_ZONES],
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}

impl Node {
    /// Three empty zones, DMA, Normal and HighMem, in index order.
    pub const fn new() -> Node {
        Node {
            node_zones: [Zone::new(ZoneType::Dma), Zone::new(ZoneType::Normal), Zone::new(ZoneType::HighMem)],
        }
    }

    /// All zones, indexed by `ZoneType::index()`.
    pub fn zones(&self) -> &[Zone; MAX_NR_ZONES] {
        &self.node_zones
    }

    /// The zone of a given type.
    pub fn zone(&self, zone_type: ZoneType) -> &Zone {
        &self.node_zones[zone_type.index()]
    }

    /// Give the zones their spans from `zone_spans(max_low_pfn, max_pfn)`
    /// and stamp every descriptor with its zone number, all reserved
    /// (Linux `free_area_init()`). `map` must describe every spanned pfn.
    pub fn init(&self, map: &MemMap, max_low_pfn: usize, max_pfn: usize) {
        for (zone_type, start, end) in zone_spans(max_low_pfn, max_pfn) {
            assert!(
                start == end || (start >= map.start_pfn() && end <= map.end_pfn()),
                "Node::init: zone {} [{start:#x}, {end:#x}) is not covered by mem_map [{:#x}, {:#x})",
                zone_type.name(),
                map.start_pfn(),
                map.end_pfn()
            );
            let zone = self.zone(zone_type);
            zone.init_span(start, end);
            zone.memmap_init_zone(map);
        }
    }

    /// Count each zone's present pages: the pfns of its span that
    /// memblock's memory list says are RAM (Linux
    /// `calculate_node_totalpages()`: spanned minus
    /// `zone_absent_pages_in_node()`). `free_all` calls it; the spans must
    /// be set (`init`).
    pub fn calculate_node_totalpages(&self, memblock: &Memblock) {
        for zone in &self.node_zones {
            zone.set_present_pages(memblock.ram_pages_in(zone.zone_start_pfn(), zone.zone_end_pfn()));
        }
    }

    /// Pfns spanned by all zones, holes included (Linux
    /// `node_spanned_pages`).
    pub fn node_spanned_pages(&self) -> usize {
        self.node_zones.iter().map(Zone::spanned_pages).sum()
    }

    /// Pfns of RAM in all zones (Linux `node_present_pages`, what Linux
    /// prints as "On node 0, totalpages: N").
    pub fn node_present_pages(&self) -> usize {
        self.node_zones.iter().map(Zone::present_pages).sum()
    }

    /// Hand every free memblock range to the buddy allocator of the zone it
    /// lies in, splitting ranges that cross a zone boundary (Linux
    /// `memblock_free_all()`). Everything else (reserved memory and holes)
    /// stays `PG_reserved` for ever. Returns the number of pages freed.
    ///
    /// Also counts the zones' present pages first (Linux does that earlier,
    /// in `free_area_init()`; here it is the first time the node sees
    /// memblock, and the memory list no longer changes).
    ///
    /// Call once, after the last memblock allocation.
    pub fn free_all(&self, map: &MemMap, memblock: &Memblock) -> usize {
        self.calculate_node_totalpages(memblock);
        let mut freed = 0;
        memblock.for_each_free_range(|start, end| {
            for zone in &self.node_zones {
                let (s, e) = (start.max(zone.zone_start_pfn()), end.min(zone.zone_end_pfn()));
                if s < e {
                    zone.free_boot_range(map, s, e);
                    freed += e - s;
                }
            }
        });
        freed
    }

    /// Give the whole pages of the reserved byte range `[start, end)` to the
    /// buddy allocator (Linux `free_reserved_area()`, which
    /// `free_initrd_mem()` calls once the initramfs is unpacked). The range
    /// is rounded *inward* to page boundaries: a page the range only partly
    /// covers may hold something else that is still reserved (the boot
    /// information, the next module), so it stays reserved. Pages outside
    /// every zone (a hole, or RAM past `max_pfn`) are left alone. Every page
    /// freed must be `PG_reserved` (`Zone::free_boot_range` checks: freeing
    /// memory twice is a bug it names). Returns the number of pages freed.
    ///
    /// ```text
    ///   start                                        end
    ///     |  partial |  whole  |  whole  |  whole  | partial |
    ///     '-- kept --'--------- freed ------------''-- kept --'
    /// ```
    pub fn free_reserved_area(&self, map: &MemMap, start: u64, end: u64) -> usize {
        let page = crate::layout::PAGE_SIZE as u64;
        let first = start.div_ceil(page);
        let last = end / page;
        if first >= last {
            return 0;
        }
        let (first, last) = (first as usize, last as usize);
        let mut freed = 0;
        for zone in &self.node_zones {
            let (s, e) = (first.max(zone.zone_start_pfn()), last.min(zone.zone_end_pfn()));
            if s < e {
                zone.free_boot_range(map, s, e);
                freed += e - s;
            }
        }
        freed
    }

    /// Allocate `2^order` contiguous pages (Linux `alloc_pages()`): try each
    /// zone `gfp` allows, highest first. Returns the first pfn, the head
    /// page having refcount 1, or `None` when every allowed zone is out of
    /// blocks that large. `__GFP_ZERO` is the caller's job (it has to map
    /// the page to write to it).
    pub fn alloc_pages(&self, map: &MemMap, gfp: GfpFlags, order: usize) -> Option<usize> {
        zonelist(gfp).find_map(|zone_type| self.zone(zone_type).alloc(map, order))
    }

    /// Drop a reference to the block of `2^order` pages at `pfn`, freeing it
    /// when it was the last (Linux `__free_pages()`). The zone comes from the
    /// page's zone bits. Panics on misuse; see `buddy::free_pages_check_entry`.
    pub fn free_pages(&self, map: &MemMap, pfn: usize, order: usize) {
        self.page_zone(map, pfn).free(map, pfn, order);
    }

    /// The zone frame `pfn` belongs to (Linux `page_zone()`).
    pub fn page_zone(&self, map: &MemMap, pfn: usize) -> &Zone {
        self.zone(map.pfn_to_page(pfn).page_zonenum())
    }

    /// Pages managed by the buddy allocator (Linux `totalram_pages()`).
    pub fn totalram_pages(&self) -> usize {
        self.node_zones.iter().map(Zone::managed_pages).sum()
    }

    /// Pages currently free (Linux `global_zone_page_state(NR_FREE_PAGES)`).
    pub fn nr_free_pages(&self) -> usize {
        self.node_zones.iter().map(Zone::nr_free_pages).sum()
    }

    /// Managed pages in highmem zones (Linux `totalhigh_pages()`).
    pub fn totalhigh_pages(&self) -> usize {
        self.node_zones.iter().filter(|z| z.zone_type().is_highmem()).map(Zone::managed_pages).sum()
    }

    /// Free pages in highmem zones (Linux `nr_free_highpages()`).
    pub fn nr_free_highpages(&self) -> usize {
        self.node_zones.iter().filter(|z| z.zone_type().is_highmem()).map(Zone::nr_free_pages).sum()
    }

    /// The memory counters, in kB (Linux `si_meminfo()` + `meminfo_proc_show()`).
    pub fn meminfo(&self) -> MemInfo {
        let kb = |pages: usize| pages << (PAGE_SHIFT - 10);
        let (total, free) = (self.totalram_pages(), self.nr_free_pages());
        let (high_total, high_free) = (self.totalhigh_pages(), self.nr_free_highpages());
        MemInfo {
            mem_total_kb: kb(total),
            mem_free_kb: kb(free),
            high_total_kb: kb(high_total),
            high_free_kb: kb(high_free),
            low_total_kb: kb(total - high_total),
            low_free_kb: kb(free - high_free),
        }
    }
}

/// A snapshot of the memory counters, in kB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemInfo {
    /// All RAM the allocator manages.
    pub mem_total_kb: usize,
    /// Of which free now.
    pub mem_free_kb: usize,
    /// Managed highmem.
    pub high_total_kb: usize,
    /// Free highmem.
    pub high_free_kb: usize,
    /// Managed lowmem (DMA + Normal).
    pub low_total_kb: usize,
    /// Free lowmem.
    pub low_free_kb: usize,
}

impl fmt::Display for MemInfo {
    /// The `/proc/meminfo` lines Linux prints for these counters, in its
    /// order, each ending in a newline. Linux's `show_val_kb()` writes the
    /// key padded with spaces to 16 characters, the value right-aligned in
    /// 8, then " kB": `"{:<16}{:>8} kB"`, so
    /// `MemTotal:        3145148 kB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, kb) in [
            ("MemTotal:", self.mem_total_kb),
            ("MemFree:", self.mem_free_kb),
            ("HighTotal:", self.high_total_kb),
            ("HighFree:", self.high_free_kb),
            ("LowTotal:", self.low_total_kb),
            ("LowFree:", self.low_free_kb),
        ] {
            writeln!(f, "{key:<16}{kb:>8} kB")?;
        }
        Ok(())
    }
}

/// Is the page in a highmem zone? (Linux `PageHighMem()`), from the zone
/// bits in its flags.
pub fn page_high_mem(page: &Page) -> bool {
    page.page_zonenum().is_highmem()
}

/// The direct-map address of lowmem frame `pfn` (Linux
/// `lowmem_page_address()`: `__va(PFN_PHYS(page_to_pfn(page)))`).
/// Only meaningful below `max_low_pfn`.
pub const fn lowmem_page_address(pfn: usize) -> usize {
    phys_to_virt(pfn << PAGE_SHIFT)
}

/// The kernel virtual address of frame `pfn`, if it has one (Linux
/// `page_address()`): lowmem always has one, in the direct map; a highmem
/// page only while it is kmapped, as recorded in its `virtual_` field.
/// `None` means "map it first".
pub fn page_address(map: &MemMap, pfn: usize, max_low_pfn: usize) -> Option<usize> {
    if pfn < max_low_pfn {
        return Some(lowmem_page_address(pfn));
    }
    match map.pfn_to_page(pfn).page_virtual() {
        0 => None,
        vaddr => Some(vaddr),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::buddy::MAX_ORDER;
    use crate::gfp::{GFP_DMA, GFP_HIGHUSER, GFP_KERNEL};
    use crate::layout::{MAX_DMA_PFN, MAXMEM_PFN, PAGE_OFFSET, PAGE_SIZE, pkmap_addr};
    use crate::memblock::qemu::{SEABIOS_TAIL, e820};
    use crate::memblock::{MemRegion, MemoryLayout, RegionKind};
    use crate::page::mem_map_bytes;
    use crate::page::test_support::{XorShift, new_pages};

    const MIB: u64 = 1 << 20;
    /// A pretend kernel image at its load address, [1 MiB, 3 MiB).
    const KERNEL_END: u64 = 3 * MIB;

    /// Boot the way the kernel will: e820 -> memblock (first MiB and kernel
    /// reserved, mem_map allocated) -> classify -> zones -> free_all.
    /// Returns the layout and the pages memblock allocated for mem_map.
    fn boot_qemu(ram: u64) -> (MemoryLayout, usize, Vec<Page>, Node) {
        let mut mb = Memblock::new();
        mb.add_memory(&e820(ram)).unwrap();
        mb.reserve_low_memory().unwrap();
        mb.reserve(MIB, KERNEL_END - MIB).unwrap();
        let layout = mb.classify().unwrap();
        let map_bytes = mem_map_bytes(layout.max_pfn);
        let at = mb.alloc(map_bytes as u64, PAGE_SIZE as u64, layout.max_low_pfn).unwrap();
        assert!(at + map_bytes as u64 <= (layout.max_low_pfn as u64) << PAGE_SHIFT);
        let pages = new_pages(layout.max_pfn);
        let node = Node::new();
        let map = MemMap::new(&pages, 0);
        node.init(&map, layout.max_low_pfn, layout.max_pfn);
        let freed = node.free_all(&map, &mb);
        assert_eq!(freed, node.totalram_pages());
        (layout, map_bytes / PAGE_SIZE, pages, node)
    }

    #[test]
    fn qemu_64m_has_no_highmem() {
        let (layout, map_pages, pages, node) = boot_qemu(64 * MIB);
        let map = MemMap::new(&pages, 0);
        let top = ((64 * MIB - SEABIOS_TAIL) >> PAGE_SHIFT) as usize;
        let kernel_end_pfn = (KERNEL_END >> PAGE_SHIFT) as usize;
        let dma = node.zone(ZoneType::Dma);
        let normal = node.zone(ZoneType::Normal);
        let high = node.zone(ZoneType::HighMem);
        assert_eq!((dma.zone_start_pfn(), dma.zone_end_pfn()), (0, MAX_DMA_PFN));
        assert_eq!((normal.zone_start_pfn(), normal.zone_end_pfn()), (MAX_DMA_PFN, top));
        assert!(high.is_empty());
        // Below 16 MiB: everything above the kernel image.
        assert_eq!(dma.managed_pages(), MAX_DMA_PFN - kernel_end_pfn);
        // mem_map was taken from the top of lowmem, in Normal.
        assert_eq!(normal.managed_pages(), top - MAX_DMA_PFN - map_pages);
        assert_eq!(high.managed_pages(), 0);
        assert_eq!(node.totalhigh_pages(), 0);
        assert_eq!(node.nr_free_pages(), node.totalram_pages());
        let info = node.meminfo();
        let total_kb = (top - kernel_end_pfn - map_pages) * 4;
        assert_eq!(
            info,
            MemInfo {
                mem_total_kb: total_kb,
                mem_free_kb: total_kb,
                high_total_kb: 0,
                high_free_kb: 0,
                low_total_kb: total_kb,
                low_free_kb: total_kb,
            }
        );
        // Reserved memory stays reserved; the firmware hole too.
        assert!(map.pfn_to_page(0).page_reserved());
        assert!(map.pfn_to_page(0x9F).page_reserved());
        assert!(map.pfn_to_page(kernel_end_pfn - 1).page_reserved());
        assert!(!map.pfn_to_page(kernel_end_pfn).page_reserved());
        assert!(map.pfn_to_page(layout.max_pfn - 1).page_reserved(), "mem_map itself");
        // GFP_HIGHUSER works without highmem: it falls back to Normal.
        let pfn = node.alloc_pages(&map, GFP_HIGHUSER, 0).unwrap();
        assert_eq!(node.page_zone(&map, pfn).zone_type(), ZoneType::Normal);
        assert_eq!(node.meminfo().mem_free_kb, total_kb - 4);
        node.free_pages(&map, pfn, 0);
        assert_eq!(node.meminfo().mem_free_kb, total_kb);
    }

    /// The initrd's pages go back after unpacking: only whole pages, in
    /// whichever zone they lie (here one range across the lowmem/highmem
    /// boundary), each counted in managed_pages and usable again; partial
    /// pages at either end stay reserved.
    #[test]
    fn free_reserved_area_frees_whole_pages_in_each_zone() {
        let mut mb = Memblock::new();
        mb.add_memory(&e820(3 << 30)).unwrap();
        mb.reserve_low_memory().unwrap();
        mb.reserve(MIB, KERNEL_END - MIB).unwrap();
        // An "initrd" from 16 pages below the lowmem boundary to 16 above,
        // starting and ending in the middle of a page.
        let boundary = (MAXMEM_PFN as u64) << PAGE_SHIFT;
        let (start, end) = (boundary - 16 * PAGE_SIZE as u64 - 100, boundary + 16 * PAGE_SIZE as u64 + 100);
        mb.reserve(start, end - start).unwrap();
        let layout = mb.classify().unwrap();
        let pages = new_pages(layout.max_pfn);
        let node = Node::new();
        let map = MemMap::new(&pages, 0);
        node.init(&map, layout.max_low_pfn, layout.max_pfn);
        node.free_all(&map, &mb);
        let (total, high) = (node.totalram_pages(), node.totalhigh_pages());
        let first_whole = (start >> PAGE_SHIFT) as usize + 1;
        let last_whole = (end >> PAGE_SHIFT) as usize; // exclusive
        assert!(map.pfn_to_page(first_whole).page_reserved());
        assert_eq!(node.free_reserved_area(&map, start, end), last_whole - first_whole);
        assert_eq!(last_whole - first_whole, 32, "16 whole pages each side; the partial ones at the ends are not counted");
        assert_eq!(node.totalram_pages(), total + 32);
        assert_eq!(node.totalhigh_pages(), high + 16, "the whole pages above the boundary are highmem");
        assert_eq!(node.nr_free_pages(), node.totalram_pages());
        for pfn in first_whole..last_whole {
            assert!(!map.pfn_to_page(pfn).page_reserved(), "pfn {pfn:#x} freed");
        }
        assert!(map.pfn_to_page(first_whole - 1).page_reserved(), "the partial first page stays");
        assert!(map.pfn_to_page(last_whole).page_reserved(), "the partial last page stays");
        // An empty or sub-page range frees nothing.
        assert_eq!(node.free_reserved_area(&map, start, start + 100), 0);
        assert_eq!(node.free_reserved_area(&map, end, end), 0);
    }

    #[test]
    #[should_panic(expected = "is not PG_reserved")]
    fn free_reserved_area_twice_is_named() {
        let (_, _, pages, node) = boot_qemu(64 * MIB);
        let map = MemMap::new(&pages, 0);
        // The kernel image's pages are reserved: the first free is fine,
        // the second is the bug.
        node.free_reserved_area(&map, 2 * MIB, KERNEL_END);
        node.free_reserved_area(&map, 2 * MIB, KERNEL_END);
    }

    #[test]
    fn qemu_3g_splits_low_and_high() {
        let (layout, map_pages, pages, node) = boot_qemu(3 << 30);
        let map = MemMap::new(&pages, 0);
        assert_eq!(layout.max_low_pfn, MAXMEM_PFN);
        let high_pages = layout.max_pfn - MAXMEM_PFN;
        assert_eq!(high_pages, layout.highmem_ram_pages);
        assert_eq!(node.totalhigh_pages(), high_pages);
        assert_eq!(node.zone(ZoneType::HighMem).managed_pages(), high_pages);
        let kernel_end_pfn = (KERNEL_END >> PAGE_SHIFT) as usize;
        let low_pages = MAXMEM_PFN - kernel_end_pfn - map_pages;
        assert_eq!(node.totalram_pages(), low_pages + high_pages);
        let info = node.meminfo();
        assert_eq!(info.high_total_kb, high_pages * 4);
        assert_eq!(info.low_total_kb, low_pages * 4);
        assert_eq!(info.mem_total_kb, info.low_total_kb + info.high_total_kb);
        assert_eq!(info.mem_free_kb, info.mem_total_kb);
        // Highmem is ~2176 MiB: 3 GiB minus the 896 MiB direct map.
        assert_eq!(info.high_total_kb as u64, (2176 * MIB - SEABIOS_TAIL) >> 10);

        // One 4 MiB block of user memory comes from highmem.
        let pfn = node.alloc_pages(&map, GFP_HIGHUSER, MAX_ORDER - 1).unwrap();
        assert!(pfn >= MAXMEM_PFN && page_high_mem(map.pfn_to_page(pfn)));
        let info2 = node.meminfo();
        assert_eq!(info2.high_free_kb, info.high_free_kb - 4096);
        assert_eq!(info2.low_free_kb, info.low_free_kb);
        // And kernel memory from lowmem.
        let k = node.alloc_pages(&map, GFP_KERNEL, 0).unwrap();
        assert!(k < MAXMEM_PFN && !page_high_mem(map.pfn_to_page(k)));
        node.free_pages(&map, pfn, MAX_ORDER - 1);
        node.free_pages(&map, k, 0);
        assert_eq!(node.meminfo(), info);
    }

    /// Zones and node totals at `-m 8G` and `-m 16G` against QEMU's e820
    /// map (reference case P2). With PAE, HighMem runs from 896 MiB to the
    /// end of RAM above 4 GiB and spans QEMU's PCI hole (3 GiB to 4 GiB, less
    /// SeaBIOS's 128 KiB below it): spanned counts the hole, present and
    /// managed do not. Without PAE the same machines end at 3 GiB.
    #[test]
    fn qemu_8g_and_16g_zones_spanned_present_managed() {
        const GIB: u64 = 1 << 30;
        let low_end = (((3 * GIB) - SEABIOS_TAIL) >> PAGE_SHIFT) as usize; // 0xbffe0
        for ram in [8 * GIB, 16 * GIB] {
            let (layout, map_pages, pages, node) = boot_qemu(ram);
            let map = MemMap::new(&pages, 0);
            let above_pages = ((ram - 3 * GIB) >> PAGE_SHIFT) as usize;
            let max_pfn = if cfg!(feature = "pae") { (1 << 20) + above_pages } else { low_end };
            assert_eq!(layout.max_pfn, max_pfn, "-m {}G", ram >> 30);
            let (dma, normal, high) =
                (node.zone(ZoneType::Dma), node.zone(ZoneType::Normal), node.zone(ZoneType::HighMem));
            // DMA: RAM is [0, 0x9f) and [0x100, 0x1000); the first MiB and
            // the kernel image (to 3 MiB) are reserved.
            assert_eq!((dma.spanned_pages(), dma.present_pages()), (MAX_DMA_PFN, MAX_DMA_PFN - 0x100 + 0x9f));
            assert_eq!(dma.managed_pages(), MAX_DMA_PFN - (KERNEL_END >> PAGE_SHIFT) as usize);
            // Normal: no hole; mem_map came from its top.
            assert_eq!(normal.spanned_pages(), MAXMEM_PFN - MAX_DMA_PFN);
            assert_eq!(normal.present_pages(), normal.spanned_pages());
            assert_eq!(normal.managed_pages(), normal.present_pages() - map_pages);
            // HighMem.
            assert_eq!((high.zone_start_pfn(), high.zone_end_pfn()), (MAXMEM_PFN, max_pfn));
            let hole = if cfg!(feature = "pae") { (1 << 20) - low_end } else { 0 };
            assert_eq!(high.spanned_pages(), max_pfn - MAXMEM_PFN);
            assert_eq!(high.present_pages(), high.spanned_pages() - hole);
            assert_eq!(high.present_pages(), layout.highmem_ram_pages);
            assert_eq!(high.managed_pages(), high.present_pages(), "nothing in highmem is reserved");
            // The hole's frames have descriptors (mem_map covers it) but stay
            // reserved for ever; the frames around it are free.
            if cfg!(feature = "pae") {
                assert!(map.pfn_to_page(low_end).page_reserved() && map.pfn_to_page((1 << 20) - 1).page_reserved());
                assert!(!map.pfn_to_page(1 << 20).page_reserved() && !map.pfn_to_page(low_end - 1).page_reserved());
                assert_eq!(page_address(&map, 1 << 20, layout.max_low_pfn), None, "above 4 GiB: kmap it");
            }
            // Node totals.
            assert_eq!(node.node_spanned_pages(), max_pfn);
            assert_eq!(node.node_present_pages(), layout.lowmem_ram_pages + layout.highmem_ram_pages);
            assert_eq!(node.totalhigh_pages(), high.managed_pages());
            let info = node.meminfo();
            assert_eq!(info.high_total_kb, high.present_pages() * 4);
            assert_eq!(info.low_total_kb, (dma.managed_pages() + normal.managed_pages()) * 4);
            // About 7 GiB (15 GiB) of highmem with PAE, as the issue's -m 8G
            // boot should show; 2176 MiB without.
            let high_mib = info.high_total_kb >> 10;
            if cfg!(feature = "pae") {
                assert_eq!(high_mib as u64, (ram - 3 * GIB + 2176 * MIB - SEABIOS_TAIL) >> 20);
            } else {
                assert_eq!(high_mib, 2175);
            }
            // A 4 MiB block of user memory from the top of highmem.
            let pfn = node.alloc_pages(&map, GFP_HIGHUSER, MAX_ORDER - 1).unwrap();
            assert!(pfn >= MAXMEM_PFN && pfn < max_pfn && page_high_mem(map.pfn_to_page(pfn)));
            node.free_pages(&map, pfn, MAX_ORDER - 1);
            assert_eq!(node.meminfo(), info);
        }
    }

    #[test]
    fn meminfo_prints_like_proc_meminfo() {
        let info = MemInfo {
            mem_total_kb: 3145148,
            mem_free_kb: 3012345,
            high_total_kb: 2228096,
            high_free_kb: 2228000,
            low_total_kb: 917052,
            low_free_kb: 784345,
        };
        assert_eq!(
            info.to_string(),
            "MemTotal:        3145148 kB\n\
             MemFree:         3012345 kB\n\
             HighTotal:       2228096 kB\n\
             HighFree:        2228000 kB\n\
             LowTotal:         917052 kB\n\
             LowFree:          784345 kB\n"
        );
    }

    #[test]
    fn page_address_lowmem_and_highmem() {
        let pages = new_pages(64);
        let map = MemMap::new(&pages, 0);
        let node = Node::new();
        node.init(&map, 48, 64);
        assert_eq!(page_address(&map, 0, 48), Some(PAGE_OFFSET));
        assert_eq!(page_address(&map, 47, 48), Some(PAGE_OFFSET + 47 * PAGE_SIZE));
        assert_eq!(lowmem_page_address(5), PAGE_OFFSET + 0x5000);
        assert!(!page_high_mem(map.pfn_to_page(47)));
        assert!(page_high_mem(map.pfn_to_page(48)));
        assert_eq!(page_address(&map, 48, 48), None, "not kmapped yet");
        map.pfn_to_page(48).set_page_virtual(pkmap_addr(3));
        assert_eq!(page_address(&map, 48, 48), Some(pkmap_addr(3)));
        map.pfn_to_page(48).set_page_virtual(0);
        assert_eq!(page_address(&map, 48, 48), None);
    }

    // ---- A small three-zone machine for the allocator tests -------------

    /// 8192 pages: DMA [0, 4096), Normal [4096, 6144), HighMem [6144, 8192),
    /// with a few odd reserved holes so the initial blocks are not trivial.
    const SMALL_MAX_LOW: usize = MAX_DMA_PFN + 2048;
    const SMALL_MAX_PFN: usize = SMALL_MAX_LOW + 2048;

    fn small_memblock() -> Memblock {
        let p = PAGE_SIZE as u64;
        let mut mb = Memblock::new();
        mb.add_memory(&[MemRegion { base: 0, len: SMALL_MAX_PFN as u64 * p, kind: RegionKind::Available }])
            .unwrap();
        mb.reserve(0, p).unwrap();
        mb.reserve(100 * p, 37 * p).unwrap();
        mb.reserve(5000 * p + 7, 3 * p).unwrap();
        mb.reserve(7000 * p, p).unwrap();
        mb
    }

    fn small_node(pages: &[Page]) -> Node {
        let map = MemMap::new(pages, 0);
        let node = Node::new();
        node.init(&map, SMALL_MAX_LOW, SMALL_MAX_PFN);
        node.free_all(&map, &small_memblock());
        node
    }

    fn free_blocks(node: &Node, map: &MemMap) -> Vec<Vec<(usize, usize)>> {
        node.zones()
            .iter()
            .map(|z| {
                let mut v = Vec::new();
                z.for_each_free_block(map, |pfn, order| v.push((pfn, order)));
                v.sort();
                v
            })
            .collect()
    }

    /// Can `zone` satisfy an order-`order` request right now?
    fn has_block(zone: &Zone, order: usize) -> bool {
        zone.free_list_counts()[order..].iter().any(|&n| n > 0)
    }

    #[test]
    fn small_machine_boot_state() {
        let pages = new_pages(SMALL_MAX_PFN);
        let node = small_node(&pages);
        assert_eq!(node.zone(ZoneType::Dma).managed_pages(), MAX_DMA_PFN - 1 - 37);
        assert_eq!(node.zone(ZoneType::Normal).managed_pages(), 2048 - 4);
        assert_eq!(node.zone(ZoneType::HighMem).managed_pages(), 2048 - 1);
        for z in node.zones() {
            assert_eq!(z.nr_free_pages(), z.managed_pages());
            let counted: usize = z.free_list_counts().iter().enumerate().map(|(o, n)| n << o).sum();
            assert_eq!(counted, z.nr_free_pages());
        }
    }

    #[test]
    fn gfp_fallback_order_when_zones_run_dry() {
        let pages = new_pages(SMALL_MAX_PFN);
        let map = MemMap::new(&pages, 0);
        let node = small_node(&pages);
        let high = node.zone(ZoneType::HighMem).managed_pages();
        let normal = node.zone(ZoneType::Normal).managed_pages();
        let dma = node.zone(ZoneType::Dma).managed_pages();

        // GFP_HIGHUSER takes every highmem page before touching Normal.
        let mut user = Vec::new();
        for _ in 0..high {
            let pfn = node.alloc_pages(&map, GFP_HIGHUSER, 0).unwrap();
            assert_eq!(node.page_zone(&map, pfn).zone_type(), ZoneType::HighMem);
            user.push(pfn);
        }
        assert_eq!(node.nr_free_highpages(), 0);
        let pfn = node.alloc_pages(&map, GFP_HIGHUSER, 0).unwrap();
        assert_eq!(node.page_zone(&map, pfn).zone_type(), ZoneType::Normal);
        user.push(pfn);
        for pfn in user.drain(..) {
            node.free_pages(&map, pfn, 0);
        }

        // GFP_KERNEL: Normal, then DMA, then nothing, although highmem is free.
        let mut kernel = Vec::new();
        for i in 0..normal + dma {
            let pfn = node.alloc_pages(&map, GFP_KERNEL, 0).unwrap();
            let want = if i < normal { ZoneType::Normal } else { ZoneType::Dma };
            assert_eq!(node.page_zone(&map, pfn).zone_type(), want, "allocation {i}");
            kernel.push(pfn);
        }
        assert_eq!(node.alloc_pages(&map, GFP_KERNEL, 0), None);
        assert_eq!(node.nr_free_highpages(), high, "GFP_KERNEL never takes highmem");
        assert_eq!(node.alloc_pages(&map, GFP_DMA, 0), None);
        for pfn in kernel.drain(..).rev() {
            node.free_pages(&map, pfn, 0);
        }
        assert_eq!(node.nr_free_pages(), node.totalram_pages());
    }

    /// The big one: 100 000 random allocations and frees of orders 0..=5
    /// with random GFP flags across all three zones. Checks as it goes that
    /// live blocks never overlap, land in a zone their flags allow, and that
    /// a lower zone is used only when the preferred ones could not serve the
    /// request; and at the end that every page came back and the free lists
    /// coalesced to exactly the blocks they started with.
    #[test]
    fn no_page_lost_over_100000_random_operations() {
        let pages = new_pages(SMALL_MAX_PFN);
        let map = MemMap::new(&pages, 0);
        let node = small_node(&pages);
        let initial = free_blocks(&node, &map);
        let mut rng = XorShift::new(0xC0FF_EE00_1234_5678);
        // start pfn -> (end pfn, order, zone)
        let mut live: BTreeMap<usize, (usize, usize, ZoneType)> = BTreeMap::new();
        let mut live_pages = [0usize; MAX_NR_ZONES];
        let (mut fallbacks, mut failures) = (0, 0);

        for op in 0..100_000 {
            // Alternate phases that fill memory up and drain it again, so
            // zones really run dry and the fallbacks get exercised.
            let alloc_percent = if (op / 5000) % 2 == 0 { 70 } else { 35 };
            if live.is_empty() || rng.below(100) < alloc_percent {
                let order = rng.below(6);
                let (gfp, allowed): (GfpFlags, &[ZoneType]) = match rng.below(3) {
                    0 => (GFP_KERNEL, &[ZoneType::Normal, ZoneType::Dma]),
                    1 => (GFP_HIGHUSER, &[ZoneType::HighMem, ZoneType::Normal, ZoneType::Dma]),
                    _ => (GFP_DMA, &[ZoneType::Dma]),
                };
                let could: Vec<bool> = allowed.iter().map(|&z| has_block(node.zone(z), order)).collect();
                let Some(pfn) = node.alloc_pages(&map, gfp, order) else {
                    assert!(could.iter().all(|c| !c), "op {op}: {gfp:?} order {order} failed with room left");
                    failures += 1;
                    continue;
                };
                let zone = node.page_zone(&map, pfn);
                let zt = zone.zone_type();
                let pos = allowed.iter().position(|&z| z == zt);
                let pos = pos.unwrap_or_else(|| panic!("op {op}: {gfp:?} got pfn {pfn:#x} in {zt:?}"));
                assert!(could[..pos].iter().all(|c| !c), "op {op}: {gfp:?} skipped a preferred zone");
                assert!(could[pos]);
                fallbacks += usize::from(pos > 0);
                if gfp == GFP_KERNEL {
                    assert!(pfn < SMALL_MAX_LOW, "GFP_KERNEL returned highmem pfn {pfn:#x}");
                }
                let end = pfn + (1 << order);
                assert_eq!(pfn % (1 << order), 0, "block not naturally aligned");
                assert!(zone.contains_pfn(pfn) && zone.contains_pfn(end - 1));
                if let Some((&s, &(e, _, _))) = live.range(..end).next_back() {
                    assert!(e <= pfn, "op {op}: [{pfn:#x}, {end:#x}) overlaps live [{s:#x}, {e:#x})");
                }
                for p in pfn..end {
                    let page = map.pfn_to_page(p);
                    assert!(!page.page_reserved() && !page.page_buddy());
                }
                assert_eq!(map.pfn_to_page(pfn).page_count(), 1);
                live.insert(pfn, (end, order, zt));
                live_pages[zt.index()] += 1 << order;
            } else {
                let idx = rng.below(live.len());
                let (&pfn, &(_, order, zt)) = live.iter().nth(idx).unwrap();
                live.remove(&pfn);
                node.free_pages(&map, pfn, order);
                live_pages[zt.index()] -= 1 << order;
            }
            if op % 997 == 0 {
                for z in node.zones() {
                    assert_eq!(z.nr_free_pages() + live_pages[z.zone_type().index()], z.managed_pages());
                    let counted: usize = z.free_list_counts().iter().enumerate().map(|(o, n)| n << o).sum();
                    assert_eq!(counted, z.nr_free_pages(), "list counts disagree with nr_free");
                }
            }
        }
        assert!(fallbacks > 100 && failures > 100, "phases too gentle: {fallbacks} fallbacks, {failures} failures");

        for (pfn, (_, order, _)) in std::mem::take(&mut live) {
            node.free_pages(&map, pfn, order);
        }
        for z in node.zones() {
            assert_eq!(z.nr_free_pages(), z.managed_pages(), "zone {} lost pages", z.name());
        }
        assert_eq!(free_blocks(&node, &map), initial, "free lists did not coalesce back");
        let heads = pages.iter().filter(|p| p.page_buddy()).count();
        assert_eq!(heads, initial.iter().map(Vec::len).sum::<usize>());
        assert!(pages.iter().all(|p| p.page_count() == 0));
    }

    #[test]
    fn concurrent_alloc_and_free_lose_nothing() {
        let pages = new_pages(SMALL_MAX_PFN);
        let map = MemMap::new(&pages, 0);
        let node = small_node(&pages);
        let initial = free_blocks(&node, &map);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (node, map) = (&node, &map);
                s.spawn(move || {
                    let mut rng = XorShift::new(t + 1);
                    let mut mine = Vec::new();
                    for _ in 0..5000 {
                        if mine.is_empty() || rng.below(2) == 0 {
                            let order = rng.below(4);
                            let gfp = [GFP_KERNEL, GFP_HIGHUSER, GFP_DMA][rng.below(3)];
                            if let Some(pfn) = node.alloc_pages(map, gfp, order) {
                                mine.push((pfn, order));
                            }
                        } else {
                            let (pfn, order) = mine.swap_remove(rng.below(mine.len()));
                            node.free_pages(map, pfn, order);
                        }
                    }
                    for (pfn, order) in mine {
                        node.free_pages(map, pfn, order);
                    }
                });
            }
        });
        assert_eq!(free_blocks(&node, &map), initial);
        assert_eq!(node.nr_free_pages(), node.totalram_pages());
    }

    #[test]
    #[should_panic(expected = "BUG: Bad page state: double free of pfn")]
    fn node_double_free_panics() {
        let pages = new_pages(SMALL_MAX_PFN);
        let map = MemMap::new(&pages, 0);
        let node = small_node(&pages);
        let pfn = node.alloc_pages(&map, GFP_HIGHUSER, 3).unwrap();
        node.free_pages(&map, pfn, 3);
        node.free_pages(&map, pfn, 3);
    }

    #[test]
    #[should_panic(expected = "BUG: Bad page state: freeing reserved pfn 0x1b58 (order 0)")]
    fn node_free_of_reserved_page_panics() {
        let pages = new_pages(SMALL_MAX_PFN);
        let map = MemMap::new(&pages, 0);
        let node = small_node(&pages);
        node.free_pages(&map, 7000, 0);
    }
}
