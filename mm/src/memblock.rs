//! Boot-time memory management (Linux `mm/memblock.c`), plus the
//! classification of RAM into lowmem and highmem that i386 Linux does in
//! `arch/x86/mm/init_32.c` (`find_low_pfn_range()`, `highmem_pfn_init()`).
//!
//! Before the buddy allocator can run it needs memory of its own: `mem_map`
//! (one `Page` per frame, up to 32 MiB), page tables for the direct map,
//! per-CPU areas. Memblock is the allocator for that time. It knows only two
//! sorted lists of physical ranges:
//!
//! * `memory`: what is RAM (the firmware map's "available" entries);
//! * `reserved`: what of that RAM is already taken (the kernel image, the
//!   boot information, modules, the first megabyte, early allocations).
//!
//! Free memory is simply `memory` minus `reserved`. An early allocation
//! finds a gap and appends it to `reserved`. When the buddy allocator is
//! ready, every free range is handed over (`for_each_free_range`, fed to
//! `Node::free_all`, Linux `memblock_free_all()`); what stays reserved is
//! never freed and its pages stay `PG_reserved`. After that hand-over
//! memblock must not allocate again: the buddy owns the free memory.
//!
//! Memblock runs before any heap exists, so both lists are fixed arrays
//! (`INIT_MEMBLOCK_REGIONS` entries each; Linux starts with the same 128
//! and can double them later, which we cannot).
//!
//! Addresses are `u64`: the firmware may report RAM above 4 GiB even to a
//! 32-bit kernel. Such RAM is counted (`classify`) and otherwise ignored,
//! because a non-PAE page table entry cannot point above 4 GiB.

use core::fmt;

use crate::layout::{MAX_NONPAE_PFN, MAXMEM, MAXMEM_PFN, PAGE_SHIFT, PAGE_SIZE};

/// Capacity of each memblock list (Linux `INIT_MEMBLOCK_REGIONS`).
pub const INIT_MEMBLOCK_REGIONS: usize = 128;

/// The least lowmem the kernel will boot with: 16 MiB.
///
/// Lowmem must hold, permanently mapped: the kernel image and its stacks
/// (about 2 MiB), `mem_map` (32 bytes per frame of RAM: 32 MiB for 4 GiB,
/// but only 384 KiB for 64 MiB), the page tables of the direct map and the
/// kernel heap, all allocated before the buddy allocator exists. 16 MiB
/// covers that for any machine small enough to have only that much lowmem,
/// and it is also the size of ZONE_DMA, so a machine below it would not
/// even have a Normal zone.
pub const MIN_LOWMEM_BYTES: u64 = 16 << 20;

/// End of the ISA / BIOS area (Linux `ISA_END_ADDRESS`): the first
/// megabyte, see `Memblock::reserve_low_memory`.
pub const ISA_END_ADDRESS: u64 = 0x10_0000;

/// 4 GiB: the first byte a non-PAE page table cannot map.
const FOUR_GIB: u64 = (MAX_NONPAE_PFN as u64) << PAGE_SHIFT;
/// The page size as a physical-address quantity.
const PAGE: u64 = PAGE_SIZE as u64;

/// Round `addr` up to a page boundary, saturating at the top of the space
/// (Linux `PFN_UP` before the shift).
const fn page_round_up(addr: u64) -> u64 {
    match addr.checked_add(PAGE - 1) {
        Some(a) => a & !(PAGE - 1),
        None => !(PAGE - 1),
    }
}

/// Round `addr` down to a page boundary (Linux `PFN_DOWN` before the shift).
const fn page_round_down(addr: u64) -> u64 {
    addr & !(PAGE - 1)
}

/// What the firmware says a physical range is (the e820 / multiboot types;
/// the boot crate converts its own representation into this).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Usable RAM (e820 type 1). The only kind memblock treats as memory.
    Available,
    /// Firmware or device memory (type 2).
    Reserved,
    /// ACPI tables; RAM once they are parsed, which we never reclaim (type 3).
    AcpiReclaimable,
    /// ACPI non-volatile storage, must be preserved (type 4).
    AcpiNvs,
    /// Defective RAM (type 5).
    Bad,
    /// Any other type number: not RAM.
    Unknown(u32),
}

impl RegionKind {
    /// The name Linux prints in its `BIOS-e820:` lines.
    pub const fn name(self) -> &'static str {
        match self {
            RegionKind::Available => "usable",
            RegionKind::Reserved => "reserved",
            RegionKind::AcpiReclaimable => "ACPI data",
            RegionKind::AcpiNvs => "ACPI NVS",
            RegionKind::Bad => "unusable",
            RegionKind::Unknown(_) => "type ?",
        }
    }
}

/// One entry of the firmware memory map, as the boot crate delivers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    /// First byte.
    pub base: u64,
    /// Length in bytes (may be 0; such entries are ignored).
    pub len: u64,
    /// What the range is.
    pub kind: RegionKind,
}

/// One range of a memblock list (Linux `struct memblock_region`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemblockRegion {
    /// First byte.
    pub base: u64,
    /// Length in bytes, never 0 in a list.
    pub size: u64,
}

impl MemblockRegion {
    const EMPTY: MemblockRegion = MemblockRegion { base: 0, size: 0 };

    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A sorted list of disjoint, non-adjacent ranges (Linux `struct
/// memblock_type`). Adding a range that overlaps or touches others merges
/// them, so the list is always the smallest description of the union.
#[derive(Clone, Debug)]
pub struct MemblockType {
    cnt: usize,
    regions: [MemblockRegion; INIT_MEMBLOCK_REGIONS],
    name: &'static str,
}

impl MemblockType {
    const fn new(name: &'static str) -> Self {
        MemblockType { cnt: 0, regions: [MemblockRegion::EMPTY; INIT_MEMBLOCK_REGIONS], name }
    }

    /// The ranges, sorted by address.
    pub fn regions(&self) -> &[MemblockRegion] {
        &self.regions[..self.cnt]
    }

    /// "memory" or "reserved".
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Sum of the sizes (Linux `memblock_type.total_size`).
    pub fn total_size(&self) -> u64 {
        self.regions().iter().map(|r| r.size).sum()
    }

    fn too_many(&self) -> MemblockError {
        MemblockError::TooManyRegions { list: self.name }
    }

    fn insert_at(&mut self, idx: usize, region: MemblockRegion) -> Result<(), MemblockError> {
        if self.cnt == INIT_MEMBLOCK_REGIONS {
            return Err(self.too_many());
        }
        self.regions.copy_within(idx..self.cnt, idx + 1);
        self.regions[idx] = region;
        self.cnt += 1;
        Ok(())
    }

    fn remove_at(&mut self, idx: usize) {
        self.regions.copy_within(idx + 1..self.cnt, idx);
        self.cnt -= 1;
    }

    /// Add `[base, base + size)`, merging with every range it overlaps or
    /// touches (Linux `memblock_add_range()`).
    fn add_range(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        if size == 0 {
            return Ok(());
        }
        let end = base.saturating_add(size);
        // Ranges before `first` end strictly before `base`: untouched.
        let first = self.regions().iter().position(|r| r.end() >= base).unwrap_or(self.cnt);
        // Ranges first..last overlap or touch the new one (the list is
        // sorted and disjoint, so they are consecutive).
        let (mut new_base, mut new_end, mut last) = (base, end, first);
        while last < self.cnt && self.regions[last].base <= end {
            new_base = new_base.min(self.regions[last].base);
            new_end = new_end.max(self.regions[last].end());
            last += 1;
        }
        let merged = MemblockRegion { base: new_base, size: new_end - new_base };
        if last == first {
            return self.insert_at(first, merged);
        }
        self.regions[first] = merged;
        for _ in first + 1..last {
            self.remove_at(first + 1);
        }
        Ok(())
    }

    /// Remove `[base, base + size)` from the list, trimming or splitting
    /// the ranges it overlaps (Linux `memblock_remove_range()`).
    fn remove_range(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let end = base.saturating_add(size);
        let mut i = 0;
        while i < self.cnt {
            let r = self.regions[i];
            if r.end() <= base || r.base >= end {
                i += 1;
                continue;
            }
            let keeps_left = r.base < base;
            let keeps_right = r.end() > end;
            match (keeps_left, keeps_right) {
                (true, true) => {
                    // Insert the right piece first: if the list is full,
                    // nothing has changed yet.
                    self.insert_at(i + 1, MemblockRegion { base: end, size: r.end() - end })?;
                    self.regions[i].size = base - r.base;
                    i += 2;
                }
                (true, false) => {
                    self.regions[i].size = base - r.base;
                    i += 1;
                }
                (false, true) => {
                    self.regions[i] = MemblockRegion { base: end, size: r.end() - end };
                    i += 1;
                }
                (false, false) => self.remove_at(i),
            }
        }
        Ok(())
    }
}

/// What went wrong while building the boot memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemblockError {
    /// The firmware map lists no usable RAM at all.
    NoRam,
    /// A list ran out of its `INIT_MEMBLOCK_REGIONS` entries.
    TooManyRegions {
        /// "memory" or "reserved".
        list: &'static str,
    },
    /// Less lowmem than the kernel needs to boot.
    TooLittleRam {
        /// RAM found below the end of the direct map.
        lowmem_bytes: u64,
        /// `MIN_LOWMEM_BYTES`.
        needed: u64,
    },
}

impl fmt::Display for MemblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MemblockError::NoRam => write!(f, "memblock: the firmware memory map lists no usable RAM"),
            MemblockError::TooManyRegions { list } => write!(
                f,
                "memblock: more than {INIT_MEMBLOCK_REGIONS} {list} regions; the firmware memory \
                 map is too fragmented"
            ),
            MemblockError::TooLittleRam { lowmem_bytes, needed } => write!(
                f,
                "too little RAM: {} KiB below {} MiB, the kernel needs at least {} KiB \
                 (kernel image, mem_map, page tables and heap)",
                lowmem_bytes >> 10,
                MAXMEM >> 20,
                needed >> 10
            ),
        }
    }
}

/// Where RAM is, in the terms the rest of the kernel sizes itself by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLayout {
    /// One past the last frame of RAM below 4 GiB (Linux `max_pfn` after
    /// the non-PAE clamp): `mem_map` covers `[0, max_pfn)`.
    pub max_pfn: usize,
    /// One past the last lowmem frame: `min(max_pfn, MAXMEM_PFN)` (Linux
    /// `max_low_pfn`). Frames from here to `max_pfn` are highmem.
    pub max_low_pfn: usize,
    /// Frames of RAM below 4 GiB (holes not counted).
    pub ram_pages_below_4g: usize,
    /// Bytes of RAM at or above 4 GiB, which a non-PAE kernel cannot use
    /// (Linux warns "only 4GB will be used").
    pub ram_bytes_above_4g: u64,
    /// Frames of RAM below `max_low_pfn`.
    pub lowmem_ram_pages: usize,
    /// Frames of RAM in `[max_low_pfn, max_pfn)`.
    pub highmem_ram_pages: usize,
}

/// The boot-time allocator's state (Linux `struct memblock`). 4 KiB; the
/// kernel keeps it in a `static`.
#[derive(Clone, Debug)]
pub struct Memblock {
    memory: MemblockType,
    reserved: MemblockType,
}

impl Default for Memblock {
    fn default() -> Self {
        Memblock::new()
    }
}

impl Memblock {
    /// Both lists empty.
    pub const fn new() -> Memblock {
        Memblock { memory: MemblockType::new("memory"), reserved: MemblockType::new("reserved") }
    }

    /// The RAM list.
    pub fn memory(&self) -> &MemblockType {
        &self.memory
    }

    /// The reserved list.
    pub fn reserved(&self) -> &MemblockType {
        &self.reserved
    }

    /// Take in the firmware memory map (Linux `e820__memblock_setup()`).
    ///
    /// * Only `Available` entries are RAM. Each is clipped *inward* to whole
    ///   pages (start rounded up, end rounded down): a partial page cannot
    ///   be handed out as a page.
    /// * Every other entry is then removed from RAM, rounded *outward*: if
    ///   the firmware claims a byte, its whole page is off limits. So when
    ///   entries overlap, "reserved" beats "available", as Linux's
    ///   `e820__update_table()` resolves it (RAM has the lowest priority).
    /// * Zero-length entries are ignored; overlapping, adjacent and unsorted
    ///   entries are merged and sorted; entries above 4 GiB are kept (and
    ///   counted by `classify`).
    pub fn add_memory(&mut self, regions: &[MemRegion]) -> Result<(), MemblockError> {
        for r in regions.iter().filter(|r| r.kind == RegionKind::Available) {
            let start = page_round_up(r.base);
            let end = page_round_down(r.base.saturating_add(r.len));
            if start < end {
                self.memory.add_range(start, end - start)?;
            }
        }
        for r in regions.iter().filter(|r| r.kind != RegionKind::Available && r.len > 0) {
            let start = page_round_down(r.base);
            let end = page_round_up(r.base.saturating_add(r.len));
            self.memory.remove_range(start, end - start)?;
        }
        Ok(())
    }

    /// Add `[base, base + size)` as RAM, exactly as given (Linux
    /// `memblock_add()`).
    pub fn add(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.memory.add_range(base, size)
    }

    /// Forget that `[base, base + size)` is RAM (Linux `memblock_remove()`).
    pub fn remove(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.memory.remove_range(base, size)
    }

    /// Mark `[base, base + size)` as taken (Linux `memblock_reserve()`):
    /// the kernel image, the boot information, modules. Need not be
    /// page-aligned; a partly reserved page is never given to the buddy
    /// allocator. Reserving memory that is not RAM is harmless.
    pub fn reserve(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.reserved.add_range(base, size)
    }

    /// Reserve the first megabyte, `[0, ISA_END_ADDRESS)`.
    ///
    /// Our choice, as Linux's since 5.13 ("x86/setup: always reserve the
    /// first 1M of RAM"): the real-mode IVT and BIOS data area at 0, the
    /// EBDA below 640 KiB, and firmware that scribbles on low memory during
    /// SMM or resume make it unsafe to hand out. It is under 0.2% of a small
    /// machine's RAM. Anything the kernel itself needs down there (the SMP
    /// real-mode trampoline) must be allocated with `alloc(..,
    /// ISA_END_ADDRESS >> PAGE_SHIFT)` *before* calling this, or placed at a
    /// fixed address in it, as Linux's `reserve_real_mode()` does.
    pub fn reserve_low_memory(&mut self) -> Result<(), MemblockError> {
        self.reserve(0, ISA_END_ADDRESS)
    }

    /// Call `f(start, end)` for every byte range that is RAM and not
    /// reserved, in ascending order (Linux `for_each_free_mem_range()`).
    pub fn for_each_free_mem_range(&self, mut f: impl FnMut(u64, u64)) {
        for m in self.memory.regions() {
            let mut cur = m.base;
            for r in self.reserved.regions() {
                if r.end() <= cur || r.base >= m.end() {
                    continue;
                }
                if r.base > cur {
                    f(cur, r.base);
                }
                cur = cur.max(r.end());
            }
            if cur < m.end() {
                f(cur, m.end());
            }
        }
    }

    /// Call `f(start_pfn, end_pfn)` for every run of whole free pages below
    /// 4 GiB, in ascending order: partly reserved pages are left out (start
    /// rounded up, end rounded down, as Linux's `__free_memory_core()`
    /// does). This is what `Node::free_all` hands to the buddy allocator.
    pub fn for_each_free_range(&self, mut f: impl FnMut(usize, usize)) {
        self.for_each_free_mem_range(|start, end| {
            let start = page_round_up(start).min(FOUR_GIB);
            let end = page_round_down(end).min(FOUR_GIB);
            if start < end {
                f((start >> PAGE_SHIFT) as usize, (end >> PAGE_SHIFT) as usize);
            }
        });
    }

    /// Allocate `size` bytes aligned to `align` below frame `limit_pfn` (and
    /// below 4 GiB) during boot, and reserve them (Linux
    /// `memblock_phys_alloc_range()`). `None` if no free RAM range can hold
    /// it, if `size` is 0, or if the reserved list is full.
    ///
    /// Allocation is **top-down**, like Linux's default: the highest fitting
    /// address below the limit wins. With `limit_pfn = max_low_pfn` (the
    /// usual: early allocations must be in the direct map) this takes the
    /// top of lowmem and leaves ZONE_DMA, which only the lowest 16 MiB can
    /// serve, to the buddy allocator and the ISA devices that need it.
    ///
    /// `align` must be a power of two (a kernel bug otherwise: panics).
    pub fn alloc(&mut self, size: u64, align: u64, limit_pfn: usize) -> Option<u64> {
        assert!(align.is_power_of_two(), "memblock_alloc: alignment {align:#x} is not a power of two");
        if size == 0 {
            return None;
        }
        let limit = ((limit_pfn as u64) << PAGE_SHIFT).min(FOUR_GIB);
        let mut best = None;
        self.for_each_free_mem_range(|start, end| {
            let end = end.min(limit);
            if end < size {
                return;
            }
            let candidate = (end - size) & !(align - 1);
            if candidate >= start {
                // Ranges come in ascending order: a later fit is higher.
                best = Some(candidate);
            }
        });
        let base = best?;
        self.reserve(base, size).ok()?;
        Some(base)
    }

    /// Split RAM into lowmem and highmem and check there is enough lowmem
    /// (Linux `find_low_pfn_range()` and the "only 4GB will be used"
    /// clamp of `highmem_pfn_init()` for non-PAE kernels).
    ///
    /// Ranges straddling 4 GiB are split: the part below counts, the part
    /// above is only reported in `ram_bytes_above_4g`.
    pub fn classify(&self) -> Result<MemoryLayout, MemblockError> {
        if self.memory.cnt == 0 {
            return Err(MemblockError::NoRam);
        }
        let mut ram_bytes_above_4g = 0;
        let mut max_pfn = 0;
        for r in self.memory.regions() {
            // Pfns of the whole pages of this range below 4 GiB.
            let start_pfn = (page_round_up(r.base).min(FOUR_GIB) >> PAGE_SHIFT) as usize;
            let end_pfn = (page_round_down(r.end()).min(FOUR_GIB) >> PAGE_SHIFT) as usize;
            if start_pfn < end_pfn {
                max_pfn = max_pfn.max(end_pfn);
            }
            ram_bytes_above_4g += r.end().saturating_sub(r.base.max(FOUR_GIB));
        }
        let max_low_pfn = max_pfn.min(MAXMEM_PFN);
        let (mut lowmem_ram_pages, mut highmem_ram_pages) = (0, 0);
        for r in self.memory.regions() {
            let start_pfn = (page_round_up(r.base).min(FOUR_GIB) >> PAGE_SHIFT) as usize;
            let end_pfn = (page_round_down(r.end()).min(FOUR_GIB) >> PAGE_SHIFT) as usize;
            let low_end = end_pfn.min(max_low_pfn);
            lowmem_ram_pages += low_end.saturating_sub(start_pfn);
            let high_start = start_pfn.max(max_low_pfn);
            highmem_ram_pages += end_pfn.saturating_sub(high_start);
        }
        let lowmem_bytes = (lowmem_ram_pages as u64) << PAGE_SHIFT;
        if lowmem_bytes < MIN_LOWMEM_BYTES {
            return Err(MemblockError::TooLittleRam { lowmem_bytes, needed: MIN_LOWMEM_BYTES });
        }
        Ok(MemoryLayout {
            max_pfn,
            max_low_pfn,
            ram_pages_below_4g: lowmem_ram_pages + highmem_ram_pages,
            ram_bytes_above_4g,
            lowmem_ram_pages,
            highmem_ram_pages,
        })
    }
}

/// Firmware maps shaped like QEMU's `pc` machine with SeaBIOS, shared with
/// the node tests.
#[cfg(test)]
pub(crate) mod qemu {
    use super::{MemRegion, RegionKind};

    /// Reserved tail SeaBIOS keeps at the top of low RAM.
    pub const SEABIOS_TAIL: u64 = 0x2_0000;
    /// QEMU puts at most 3 GiB below the PCI hole once RAM reaches 3.5 GiB
    /// (with gigabyte alignment); smaller sizes fit entirely below it here.
    pub const LOW_RAM_MAX: u64 = 3 << 30;

    fn region(base: u64, end: u64, kind: RegionKind) -> MemRegion {
        MemRegion { base, len: end - base, kind }
    }

    /// The e820 map QEMU + SeaBIOS report for `-m ram`.
    pub fn e820(ram: u64) -> Vec<MemRegion> {
        let low = ram.min(LOW_RAM_MAX);
        let mut map = vec![
            region(0, 0x9_FC00, RegionKind::Available),
            region(0x9_FC00, 0xA_0000, RegionKind::Reserved),
            region(0xF_0000, 0x10_0000, RegionKind::Reserved),
            region(0x10_0000, low - SEABIOS_TAIL, RegionKind::Available),
            region(low - SEABIOS_TAIL, low, RegionKind::Reserved),
            region(0xFFFC_0000, 1 << 32, RegionKind::Reserved),
        ];
        if ram > low {
            map.push(region(1 << 32, (1 << 32) + ram - low, RegionKind::Available));
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::qemu::{SEABIOS_TAIL, e820};
    use super::*;
    use crate::page::test_support::XorShift;

    const MIB: u64 = 1 << 20;

    fn avail(base: u64, len: u64) -> MemRegion {
        MemRegion { base, len, kind: RegionKind::Available }
    }

    fn regions(mb: &Memblock) -> Vec<(u64, u64)> {
        mb.memory().regions().iter().map(|r| (r.base, r.end())).collect()
    }

    fn free_pfn_ranges(mb: &Memblock) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        mb.for_each_free_range(|s, e| v.push((s, e)));
        v
    }

    #[test]
    fn partial_pages_are_clipped_inward() {
        let mut mb = Memblock::new();
        mb.add_memory(&[avail(0x1234, 0x5678 - 0x1234), avail(0x9100, 0x800)]).unwrap();
        // 0x9100..0x9900 contains no whole page and disappears.
        assert_eq!(regions(&mb), [(0x2000, 0x5000)]);
    }

    #[test]
    fn overlapping_adjacent_and_unsorted_regions_merge() {
        let mut mb = Memblock::new();
        mb.add_memory(&[
            avail(0x10_0000, 0x10_0000),
            avail(0x5000, 0x1000),
            avail(0x0, 0x3000),
            avail(0x3000, 0x1000), // touches [0, 0x3000)
            avail(0x18_0000, 0x10_0000), // overlaps the first
            avail(0x7000, 0),      // zero length
        ])
        .unwrap();
        assert_eq!(regions(&mb), [(0, 0x4000), (0x5000, 0x6000), (0x10_0000, 0x28_0000)]);
        // One region that bridges everything collapses the list.
        mb.add_memory(&[avail(0x2000, 0x20_0000)]).unwrap();
        assert_eq!(regions(&mb), [(0, 0x28_0000)]);
    }

    #[test]
    fn reserved_firmware_entries_win_over_available() {
        let mut mb = Memblock::new();
        mb.add_memory(&[
            MemRegion { base: 0x8800, len: 0x10, kind: RegionKind::AcpiNvs },
            avail(0, 0x10_0000),
            MemRegion { base: 0x2_0000, len: 0x1_0000, kind: RegionKind::Bad },
        ])
        .unwrap();
        // The 16-byte NVS entry poisons its whole page.
        assert_eq!(regions(&mb), [(0, 0x8000), (0x9000, 0x2_0000), (0x3_0000, 0x10_0000)]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let mut mb = Memblock::new();
        mb.add_memory(&[
            avail(u64::MAX - 10, 100),        // wraps: saturates, no whole page
            avail(u64::MAX - 0x3000, 0x2000), // far above 4 GiB
            avail(0x10, 0x10),
            avail(5 << 30, 1 << 30), // above 4 GiB only
            MemRegion { base: u64::MAX - 5, len: 100, kind: RegionKind::Unknown(99) },
            MemRegion { base: 0, len: 0, kind: RegionKind::Reserved },
        ])
        .unwrap();
        assert_eq!(mb.memory().regions().len(), 2);
        assert!(free_pfn_ranges(&mb).is_empty(), "nothing below 4 GiB");
        assert_eq!(
            mb.classify(),
            Err(MemblockError::TooLittleRam { lowmem_bytes: 0, needed: MIN_LOWMEM_BYTES })
        );
        assert_eq!(mb.alloc(PAGE, PAGE, MAX_NONPAE_PFN), None, "RAM above 4 GiB is never handed out");
    }

    #[test]
    fn no_ram_at_all() {
        let mut mb = Memblock::new();
        mb.add_memory(&[MemRegion { base: 0, len: 1 << 30, kind: RegionKind::Reserved }]).unwrap();
        assert_eq!(mb.classify(), Err(MemblockError::NoRam));
        assert_eq!(
            MemblockError::NoRam.to_string(),
            "memblock: the firmware memory map lists no usable RAM"
        );
    }

    #[test]
    fn too_many_regions_is_an_error() {
        let mut mb = Memblock::new();
        let many: Vec<_> = (0..INIT_MEMBLOCK_REGIONS as u64 + 1).map(|i| avail(i * 2 * PAGE, PAGE)).collect();
        let err = mb.add_memory(&many).unwrap_err();
        assert_eq!(err, MemblockError::TooManyRegions { list: "memory" });
        assert_eq!(
            err.to_string(),
            "memblock: more than 128 memory regions; the firmware memory map is too fragmented"
        );
        // Splitting a full list fails cleanly too.
        let mut mb = Memblock::new();
        mb.add_memory(&many[..INIT_MEMBLOCK_REGIONS - 1]).unwrap();
        mb.add(1 << 30, 4 * PAGE).unwrap();
        assert_eq!(mb.remove((1 << 30) + PAGE, PAGE), Err(MemblockError::TooManyRegions { list: "memory" }));
        assert_eq!(mb.memory().regions().last(), Some(&MemblockRegion { base: 1 << 30, size: 4 * PAGE }));
    }

    #[test]
    fn free_ranges_skip_partly_reserved_pages() {
        let mut mb = Memblock::new();
        mb.add_memory(&[avail(0, 64 * PAGE)]).unwrap();
        mb.reserve(0, 1).unwrap(); // one byte: page 0 is gone
        mb.reserve(10 * PAGE + 100, 2 * PAGE).unwrap(); // touches pages 10, 11, 12
        mb.reserve(40 * PAGE, 8 * PAGE).unwrap();
        mb.reserve(44 * PAGE, 8 * PAGE).unwrap(); // overlaps: merges into [40, 52)
        assert_eq!(mb.reserved().regions().len(), 3);
        assert_eq!(free_pfn_ranges(&mb), [(1, 10), (13, 40), (52, 64)]);
        let mut bytes = Vec::new();
        mb.for_each_free_mem_range(|s, e| bytes.push((s, e)));
        assert_eq!(bytes[0], (1, 10 * PAGE + 100));
    }

    #[test]
    fn alloc_is_top_down_below_the_limit() {
        let mut mb = Memblock::new();
        mb.add_memory(&e820(64 * MIB)).unwrap();
        mb.reserve_low_memory().unwrap();
        let top = 64 * MIB - SEABIOS_TAIL;
        let a = mb.alloc(3 * PAGE, PAGE, MAX_NONPAE_PFN).unwrap();
        assert_eq!(a, top - 3 * PAGE);
        let b = mb.alloc(100, 4, MAX_NONPAE_PFN).unwrap();
        assert_eq!(b, a - 100);
        // Below 16 MiB: the top of the DMA zone.
        let c = mb.alloc(PAGE, 1 << 20, ((16 * MIB) >> PAGE_SHIFT) as usize).unwrap();
        assert_eq!(c, 15 * MIB);
        // The first megabyte is reserved, so a limit there finds nothing.
        assert_eq!(mb.alloc(PAGE, PAGE, (ISA_END_ADDRESS >> PAGE_SHIFT) as usize), None);
        assert_eq!(mb.alloc(0, PAGE, MAX_NONPAE_PFN), None);
        assert_eq!(mb.alloc(128 * MIB, PAGE, MAX_NONPAE_PFN), None);
        // The allocations merged with each other in the reserved list.
        assert!(mb.reserved().regions().iter().any(|r| r.base == b && r.end() == top));
    }

    /// Merge intervals the slow, obvious way (to check memblock against).
    fn union(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
        v.retain(|r| r.0 < r.1);
        v.sort();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (s, e) in v {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        out
    }

    #[test]
    fn random_maps_reserve_and_alloc_never_hand_out_bad_memory() {
        let mut rng = XorShift::new(0x5eed_1234);
        for _round in 0..200 {
            let mut input = Vec::new();
            for _ in 0..rng.below(12) + 1 {
                let base = rng.below(1 << 20) as u64 * 0x111; // arbitrary, unaligned
                let len = rng.below(1 << 18) as u64 * 0x77;
                let kind = match rng.below(4) {
                    0 => RegionKind::Reserved,
                    1 => RegionKind::AcpiNvs,
                    _ => RegionKind::Available,
                };
                input.push(MemRegion { base, len, kind });
            }
            let mut mb = Memblock::new();
            mb.add_memory(&input).unwrap();
            // What is RAM, computed independently of memblock.
            let ram = union(
                input
                    .iter()
                    .filter(|r| r.kind == RegionKind::Available)
                    .map(|r| (page_round_up(r.base), page_round_down(r.base + r.len)))
                    .collect(),
            );
            let not_ram: Vec<_> = input
                .iter()
                .filter(|r| r.kind != RegionKind::Available)
                .map(|r| (page_round_down(r.base), page_round_up(r.base + r.len)))
                .collect();
            let mut taken: Vec<(u64, u64)> = Vec::new();
            for _ in 0..rng.below(4) {
                let (b, s) = (rng.below(1 << 28) as u64, rng.below(1 << 20) as u64);
                mb.reserve(b, s).unwrap();
                taken.push((b, b + s));
            }
            for _ in 0..20 {
                let size = rng.below(1 << 16) as u64 + 1;
                let align = 1u64 << rng.below(16);
                let limit_pfn = rng.below(1 << 16) + 1;
                let Some(a) = mb.alloc(size, align, limit_pfn) else { continue };
                let end = a + size;
                assert_eq!(a % align, 0);
                assert!(end <= (limit_pfn as u64) << PAGE_SHIFT, "above the limit");
                assert!(ram.iter().any(|&(s, e)| s <= a && end <= e), "[{a:#x}, {end:#x}) is not RAM");
                for &(s, e) in not_ram.iter().chain(&taken) {
                    assert!(end <= s || a >= e, "[{a:#x}, {end:#x}) overlaps [{s:#x}, {e:#x})");
                }
                taken.push((a, end));
            }
            // The free page ranges are RAM and avoid everything taken.
            mb.for_each_free_range(|s, e| {
                let (s, e) = ((s as u64) << PAGE_SHIFT, (e as u64) << PAGE_SHIFT);
                assert!(ram.iter().any(|&(rs, re)| rs <= s && e <= re));
                for &(ts, te) in not_ram.iter().chain(&taken) {
                    assert!(e <= ts || s >= te);
                }
            });
            // The memory list is sorted, disjoint and non-adjacent.
            for w in mb.memory().regions().windows(2) {
                assert!(w[0].end() < w[1].base);
            }
        }
    }

    /// Pages of RAM in the QEMU shape below `end` (exclusive), by hand.
    fn qemu_low_pages(low_ram: u64) -> usize {
        // [0, 0x9FC00) gives 0x9F whole pages; [1 MiB, low - tail) the rest.
        0x9F + ((low_ram - SEABIOS_TAIL - ISA_END_ADDRESS) >> PAGE_SHIFT) as usize
    }

    fn classify(ram: u64) -> MemoryLayout {
        let mut mb = Memblock::new();
        mb.add_memory(&e820(ram)).unwrap();
        mb.classify().unwrap()
    }

    #[test]
    fn classify_qemu_64m() {
        let l = classify(64 * MIB);
        let end_pfn = ((64 * MIB - SEABIOS_TAIL) >> PAGE_SHIFT) as usize;
        assert_eq!(l.max_pfn, end_pfn);
        assert_eq!(l.max_low_pfn, end_pfn);
        assert_eq!(l.highmem_ram_pages, 0);
        assert_eq!(l.lowmem_ram_pages, qemu_low_pages(64 * MIB));
        assert_eq!(l.ram_pages_below_4g, l.lowmem_ram_pages);
        assert_eq!(l.ram_bytes_above_4g, 0);
    }

    #[test]
    fn classify_qemu_1g() {
        let l = classify(1 << 30);
        assert_eq!(l.max_pfn, (((1 << 30) - SEABIOS_TAIL) >> PAGE_SHIFT) as usize);
        assert_eq!(l.max_low_pfn, MAXMEM_PFN);
        // Highmem: from 896 MiB to the top of RAM (minus the SeaBIOS tail).
        assert_eq!(l.highmem_ram_pages, l.max_pfn - MAXMEM_PFN);
        assert_eq!(l.highmem_ram_pages, ((128 * MIB - SEABIOS_TAIL) >> PAGE_SHIFT) as usize);
        assert_eq!(l.lowmem_ram_pages, MAXMEM_PFN - 0x100 + 0x9F);
    }

    #[test]
    fn classify_qemu_3g_3584m_4g() {
        let high_3g = (((3u64 << 30) - SEABIOS_TAIL - MAXMEM as u64) >> PAGE_SHIFT) as usize;
        // About 2176 MiB of highmem for all three: RAM beyond 3 GiB moves
        // above 4 GiB, where it cannot be used.
        assert_eq!(high_3g, ((2176 * MIB - SEABIOS_TAIL) >> PAGE_SHIFT) as usize);
        for (ram, above) in [(3u64 << 30, 0), (3584 * MIB, 512 * MIB), (4u64 << 30, 1 << 30)] {
            let l = classify(ram);
            assert_eq!(l.max_pfn, (((3u64 << 30) - SEABIOS_TAIL) >> PAGE_SHIFT) as usize, "ram {ram:#x}");
            assert_eq!(l.max_low_pfn, MAXMEM_PFN);
            assert_eq!(l.highmem_ram_pages, high_3g, "ram {ram:#x}");
            assert_eq!(l.lowmem_ram_pages, MAXMEM_PFN - 0x100 + 0x9F);
            assert_eq!(l.ram_pages_below_4g, qemu_low_pages(3 << 30));
            assert_eq!(l.ram_bytes_above_4g, above, "ram {ram:#x}");
        }
    }

    #[test]
    fn region_straddling_4g_is_split() {
        let mut mb = Memblock::new();
        mb.add_memory(&[avail(0, 64 * MIB), avail((4u64 << 30) - 8 * MIB, 24 * MIB)]).unwrap();
        let l = mb.classify().unwrap();
        assert_eq!(l.max_pfn, MAX_NONPAE_PFN);
        assert_eq!(l.ram_bytes_above_4g, 16 * MIB);
        assert_eq!(l.highmem_ram_pages, ((8 * MIB) >> PAGE_SHIFT) as usize);
        assert_eq!(free_pfn_ranges(&mb).last(), Some(&(MAX_NONPAE_PFN - 2048, MAX_NONPAE_PFN)));
    }

    #[test]
    fn eight_mib_is_too_little() {
        let mut mb = Memblock::new();
        mb.add_memory(&e820(8 * MIB)).unwrap();
        let err = mb.classify().unwrap_err();
        let lowmem_bytes = (qemu_low_pages(8 * MIB) as u64) << PAGE_SHIFT;
        assert_eq!(err, MemblockError::TooLittleRam { lowmem_bytes, needed: MIN_LOWMEM_BYTES });
        assert_eq!(
            err.to_string(),
            format!(
                "too little RAM: {} KiB below 896 MiB, the kernel needs at least 16384 KiB \
                 (kernel image, mem_map, page tables and heap)",
                lowmem_bytes / 1024
            )
        );
        assert_eq!(lowmem_bytes / 1024, 636 + 8 * 1024 - 128 - 1024);
    }
}
