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
//! Addresses are `u64` (Linux `phys_addr_t` with PAE): the firmware may
//! report RAM above 4 GiB even to a 32-bit kernel. What happens to it
//! depends on the flavour's `MAX_ARCH_PFN`, the first frame its page-table
//! entries cannot hold:
//!
//! * 686 (2-level, 32-bit entries): `MAX_ARCH_PFN` = 2^20, 4 GiB. RAM above
//!   it is counted (`classify`), reported and ignored.
//! * 686-pae (3-level, 64-bit entries, `pae` feature): `MAX_ARCH_PFN` =
//!   2^24, 64 GiB (36 physical address bits). RAM up to there is kept: all
//!   of it above `MAXMEM` becomes ZONE_HIGHMEM; RAM beyond 64 GiB is
//!   reported and ignored.
//!
//! Frame numbers stay `usize` in both flavours (2^24 fits in 32 bits);
//! byte addresses are `u64` wherever they may lie above 4 GiB.

use core::fmt;

use crate::layout::{MAX_ARCH_PFN, MAX_NONPAE_PFN, MAXMEM, MAXMEM_PFN, PAGE_SHIFT, PAGE_SIZE};
use crate::page::mem_map_bytes;

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
/// The first byte this flavour's page tables cannot map (`MAX_ARCH_PFN`
/// as an address): 4 GiB, or 64 GiB with PAE. RAM from here on is never
/// used (Linux's `e820__end_of_ram_pfn()` clamps `max_pfn` to it).
pub const MAX_ARCH_PHYS: u64 = MAX_ARCH_PFN << PAGE_SHIFT;

/// The least lowmem that must stay free after `mem_map` when RAM is
/// highmem-heavy: 64 MiB. See `mem_map_budget`.
///
/// Every `struct page` lives in lowmem, highmem frames' included, so each
/// GiB of highmem costs 8 MiB of the 896 (`size_of::<Page>()` = 32 bytes
/// per 4 KiB frame). Linux's `Documentation/mm/highmem.rst` (6.1) puts the
/// end of that road at "896M/sizeof(struct page) page-frames at most"
/// (112 GiB with 32-byte pages: `mem_map` would fill all of lowmem) and
/// adds that "the kernel, however, needs to store more than just
/// page-frames in that memory", with the general recommendation "that you
/// don't use more than 8GiB on a 32-bit machine". Linux itself never
/// refuses RAM for this reason; up to 64 GiB it cannot reach the 112 GiB
/// wall, but a firmware map with little RAM below 4 GiB (QEMU's
/// `max-ram-below-4g=`) can: `mem_map` for the highmem would then leave
/// too little lowmem, or not fit at all.
///
/// We therefore drop highmem (never lowmem) until this much lowmem is left
/// after `mem_map`. 64 MiB is Linux's own floor for lowmem on a highmem
/// machine: `lowmem_pfn_init()` ignores a `highmem=` size that would leave
/// less ("highmem size (%luMB) results in <64MB lowmem, ignoring it!").
/// With QEMU's usual split (896 MiB of lowmem) it never binds: 64 GiB costs
/// 512 MiB and leaves about 383 MiB.
pub const MIN_LOWMEM_AFTER_MEM_MAP: u64 = 64 << 20;
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
    /// One past the last frame the kernel uses (Linux `max_pfn`, also
    /// `highend_pfn` when there is highmem): the end of RAM below
    /// `MAX_ARCH_PFN` (`end_of_ram_pfn`), lowered only if `mem_map` would
    /// leave too little lowmem (`mem_map`). `mem_map` covers `[0, max_pfn)`.
    pub max_pfn: usize,
    /// One past the last lowmem frame: `min(max_pfn, MAXMEM_PFN)` (Linux
    /// `max_low_pfn`, also `highstart_pfn`). Frames from here to `max_pfn`
    /// are highmem.
    pub max_low_pfn: usize,
    /// What Linux's `e820__end_of_ram_pfn()` returns: one past the last
    /// frame of RAM below `MAX_ARCH_PFN` (it logs "last_pfn = %#lx
    /// max_arch_pfn = %#lx").
    pub end_of_ram_pfn: usize,
    /// Frames of RAM below 4 GiB (holes not counted).
    pub ram_pages_below_4g: usize,
    /// Bytes of RAM at or above 4 GiB in the firmware map: ignored without
    /// PAE, kept (as highmem) with it.
    pub ram_bytes_above_4g: u64,
    /// Bytes of RAM at or above `MAX_ARCH_PHYS`, which this flavour cannot
    /// address and ignores: everything above 4 GiB without PAE (Linux warns
    /// "only 4GB will be used"), everything above 64 GiB with it.
    pub ram_bytes_above_max_arch: u64,
    /// Frames of RAM below `max_low_pfn` (present lowmem pages).
    pub lowmem_ram_pages: usize,
    /// Frames of RAM in `[max_low_pfn, max_pfn)` (present highmem pages;
    /// the zone spans the holes between them too).
    pub highmem_ram_pages: usize,
    /// What `mem_map` costs in lowmem, and whether highmem was dropped to
    /// pay for it.
    pub mem_map: MemMapBudget,
}

/// RAM the firmware reported that this flavour cannot address, as the boot
/// log states it (`MemoryLayout::ignored_ram`). One line per line of text.
///
/// Without PAE (RAM above 4 GiB) the first line is Linux's
/// `MSG_HIGHMEM_TRIMMED` (`arch/x86/mm/init_32.c`, `highmem_pfn_init()`),
/// word for word: "Warning: only 4GB will be used. Use a HIGHMEM64G enabled
/// kernel!". Where we differ: a 686 Linux 6.1 never prints it, because its
/// `e820__end_of_ram_pfn()` has already clamped `max_pfn` to `MAX_ARCH_PFN`
/// = 4 GiB (at `-m 4G` it logs only "last_pfn = 0xbffe0 max_arch_pfn =
/// 0x100000"); the message fires only where `MAX_ARCH_PFN` is above 4 GiB
/// without HIGHMEM64G, which is every PAE kernel from 6.15 on, reworded
/// "Support for for CONFIG_HIGHMEM64G was removed!". We print it anyway,
/// followed by our own line with the amount, because silently losing a
/// GiB teaches nothing.
///
/// With PAE (RAM above 64 GiB) Linux says nothing beyond the "last_pfn =
/// ... max_arch_pfn = 0x1000000" line; our one line says how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IgnoredRam {
    /// Bytes of RAM at or above `MAX_ARCH_PHYS`.
    pub bytes: u64,
}

impl fmt::Display for IgnoredRam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = self.bytes >> 20;
        if cfg!(feature = "pae") {
            write!(f, "{mb}MB of RAM above 64GB are not addressable even with PAE (36 physical address bits): ignored")
        } else {
            writeln!(f, "Warning: only 4GB will be used. Use a HIGHMEM64G enabled kernel!")?;
            write!(f, "{mb}MB of RAM above 4GB are not addressable without PAE (this kernel is non-PAE): ignored")
        }
    }
}

impl MemoryLayout {
    /// RAM this flavour had to ignore, if any.
    pub const fn ignored_ram(&self) -> Option<IgnoredRam> {
        if self.ram_bytes_above_max_arch == 0 { None } else { Some(IgnoredRam { bytes: self.ram_bytes_above_max_arch }) }
    }

    /// Linux `highstart_pfn`: the first highmem frame (`max_low_pfn`; equal
    /// to `highend_pfn` when there is no highmem).
    pub const fn highstart_pfn(&self) -> usize {
        self.max_low_pfn
    }

    /// Linux `highend_pfn`: one past the last highmem frame (`max_pfn`).
    pub const fn highend_pfn(&self) -> usize {
        self.max_pfn
    }
}

/// Linux's split of `[0, max_pfn)` into lowmem and highmem
/// (`find_low_pfn_range()` and the clamp in `highmem_pfn_init()`), without
/// the `highmem=` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowPfnRange {
    /// One past the last lowmem frame.
    pub max_low_pfn: usize,
    /// `max_pfn`, clamped to 4 GiB when the kernel cannot use highmem
    /// above it (`trimmed`).
    pub max_pfn: usize,
    /// RAM above 4 GiB was dropped: Linux prints `MSG_HIGHMEM_TRIMMED`,
    /// "Warning: only 4GB will be used. Use a HIGHMEM64G enabled kernel!".
    pub trimmed: bool,
}

/// Linux `find_low_pfn_range()`: if all of RAM fits in the direct map
/// (`max_pfn <= MAXMEM_PFN`), it is all lowmem (`lowmem_pfn_init()`);
/// otherwise `highmem_pfn_init()` sets `max_low_pfn = MAXMEM_PFN` and the
/// rest is highmem.
///
/// `highmem64g` says whether highmem may reach above 4 GiB (Linux
/// `CONFIG_HIGHMEM64G`; this kernel's `pae` feature). Without it, a
/// `max_pfn` above 4 GiB is trimmed to `MAX_NONPAE_PFN`. In Linux 6.1 that
/// branch is reachable only in theory for a 686 kernel, whose
/// `e820__end_of_ram_pfn()` has already clamped `max_pfn` to
/// `MAX_ARCH_PFN` = 4 GiB; from 6.15 on (HIGHMEM64G removed) every PAE
/// kernel takes it, with the text "Warning: only 4GB will be used. Support
/// for for CONFIG_HIGHMEM64G was removed!".
pub const fn find_low_pfn_range(max_pfn: usize, highmem64g: bool) -> LowPfnRange {
    if max_pfn <= MAXMEM_PFN {
        return LowPfnRange { max_low_pfn: max_pfn, max_pfn, trimmed: false };
    }
    // highmem_pfn_init()
    if !highmem64g && max_pfn > MAX_NONPAE_PFN {
        return LowPfnRange { max_low_pfn: MAXMEM_PFN, max_pfn: MAX_NONPAE_PFN, trimmed: true };
    }
    LowPfnRange { max_low_pfn: MAXMEM_PFN, max_pfn, trimmed: false }
}

/// What `mem_map` costs in lowmem (reference case P19), as computed by
/// `mem_map_budget`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemMapBudget {
    /// The `max_pfn` asked for (after the `MAX_ARCH_PFN` clamp).
    pub wanted_max_pfn: usize,
    /// The `max_pfn` granted: `wanted_max_pfn`, or less if `mem_map` for
    /// all of it would leave less than the floor of lowmem free.
    pub max_pfn: usize,
    /// Bytes of `mem_map` for `max_pfn` frames (`size_of::<Page>()` each,
    /// rounded up to whole pages), all of it in lowmem.
    pub bytes: u64,
    /// Free lowmem before `mem_map` is allocated.
    pub lowmem_free_bytes: u64,
    /// Free lowmem left after `mem_map` (0 if it does not fit at all).
    pub lowmem_left_bytes: u64,
    /// The floor `lowmem_left_bytes` was held to.
    pub floor_bytes: u64,
}

impl MemMapBudget {
    /// Was highmem dropped to keep the floor?
    pub const fn clamped(&self) -> bool {
        self.max_pfn < self.wanted_max_pfn
    }
}

impl fmt::Display for MemMapBudget {
    /// The boot log's line: what `mem_map` costs and what lowmem is left;
    /// when highmem had to go, how much and why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |pfns: usize| ((pfns as u64) << PAGE_SHIFT) >> 20;
        if self.clamped() {
            write!(
                f,
                "mem_map: {} MiB of struct page for all {} MiB of RAM would leave {} MiB of lowmem \
                 free, less than the {} MiB floor: using only {} MiB (max_pfn {:#x} instead of {:#x}); \
                 mem_map {} KiB, {} MiB of lowmem left",
                (mem_map_bytes(self.wanted_max_pfn) as u64) >> 20,
                mib(self.wanted_max_pfn),
                self.lowmem_free_bytes.saturating_sub(mem_map_bytes(self.wanted_max_pfn) as u64) >> 20,
                self.floor_bytes >> 20,
                mib(self.max_pfn),
                self.max_pfn,
                self.wanted_max_pfn,
                self.bytes >> 10,
                self.lowmem_left_bytes >> 20
            )
        } else {
            write!(
                f,
                "mem_map: {} KiB of struct page for {} frames (pfn 0 to max_pfn, {} MiB, holes included), {} MiB of lowmem left",
                self.bytes >> 10,
                self.max_pfn,
                mib(self.max_pfn),
                self.lowmem_left_bytes >> 20
            )
        }
    }
}

/// The lowmem cost of `mem_map` for `[0, max_pfn)`, and the `max_pfn` the
/// kernel can afford (reference case P19; pure, host-tested).
///
/// `lowmem_free_bytes` is the free RAM below `max_low_pfn` before `mem_map`
/// is allocated. If `mem_map` for all of `max_pfn` would leave less than
/// `floor_bytes` of it, `max_pfn` is lowered to the largest value that
/// keeps the floor, but never below `max_low_pfn`: only highmem is given
/// up (lowmem's own descriptors are the price of having lowmem at all, and
/// a machine with too little lowmem is refused by `classify` instead). The
/// kernel passes `MIN_LOWMEM_AFTER_MEM_MAP`; see there for the number.
pub fn mem_map_budget(max_pfn: usize, max_low_pfn: usize, lowmem_free_bytes: u64, floor_bytes: u64) -> MemMapBudget {
    let cost = |pfns: usize| mem_map_bytes(pfns) as u64;
    let mut granted = max_pfn;
    if max_pfn > max_low_pfn && lowmem_free_bytes.saturating_sub(cost(max_pfn)) < floor_bytes {
        // The most frames whose descriptors, in whole pages, fit in what
        // may be spent.
        let spend = page_round_down(lowmem_free_bytes.saturating_sub(floor_bytes));
        let fit = usize::try_from(spend / size_of::<crate::page::Page>() as u64).unwrap_or(usize::MAX);
        granted = fit.clamp(max_low_pfn, max_pfn);
    }
    let bytes = cost(granted);
    MemMapBudget {
        wanted_max_pfn: max_pfn,
        max_pfn: granted,
        bytes,
        lowmem_free_bytes,
        lowmem_left_bytes: lowmem_free_bytes.saturating_sub(bytes),
        floor_bytes,
    }
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
    /// `MAX_ARCH_PHYS` (4 GiB, or 64 GiB with PAE), in ascending order:
    /// partly reserved pages are left out (start rounded up, end rounded
    /// down, as Linux's `__free_memory_core()` does). This is what
    /// `Node::free_all` hands to the buddy allocator (which also stops at
    /// `max_pfn`). The clamp also keeps every pfn within `usize`.
    pub fn for_each_free_range(&self, mut f: impl FnMut(usize, usize)) {
        self.for_each_free_mem_range(|start, end| {
            let start = page_round_up(start).min(MAX_ARCH_PHYS);
            let end = page_round_down(end).min(MAX_ARCH_PHYS);
            if start < end {
                f((start >> PAGE_SHIFT) as usize, (end >> PAGE_SHIFT) as usize);
            }
        });
    }

    /// Allocate `size` bytes aligned to `align` below frame `limit_pfn` (and
    /// below `MAX_ARCH_PHYS`) during boot, and reserve them (Linux
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
        let limit = ((limit_pfn as u64) << PAGE_SHIFT).min(MAX_ARCH_PHYS);
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

    /// One past the last frame of RAM below `MAX_ARCH_PFN` (Linux
    /// `e820__end_of_ram_pfn()`: RAM entries starting at or above the limit
    /// are skipped, one crossing it is cut there), and the bytes of RAM at
    /// or above it. 0 if there is no RAM below the limit.
    pub fn end_of_ram_pfn(&self) -> (usize, u64) {
        let (mut last_pfn, mut above) = (0, 0);
        for r in self.memory.regions() {
            let start_pfn = (page_round_up(r.base).min(MAX_ARCH_PHYS) >> PAGE_SHIFT) as usize;
            let end_pfn = (page_round_down(r.end()).min(MAX_ARCH_PHYS) >> PAGE_SHIFT) as usize;
            if start_pfn < end_pfn {
                last_pfn = last_pfn.max(end_pfn);
            }
            above += r.end().saturating_sub(r.base.max(MAX_ARCH_PHYS));
        }
        (last_pfn, above)
    }

    /// Frames of RAM in `[start_pfn, end_pfn)`, holes not counted (Linux
    /// `absent_pages_in_range()`'s complement: the `present_pages` of a
    /// span).
    pub fn ram_pages_in(&self, start_pfn: usize, end_pfn: usize) -> usize {
        self.memory
            .regions()
            .iter()
            .map(|r| {
                let s = ((page_round_up(r.base).min(MAX_ARCH_PHYS) >> PAGE_SHIFT) as usize).max(start_pfn);
                let e = ((page_round_down(r.end()).min(MAX_ARCH_PHYS) >> PAGE_SHIFT) as usize).min(end_pfn);
                e.saturating_sub(s)
            })
            .sum()
    }

    /// Bytes of RAM that are free (not reserved) below frame `end_pfn`.
    pub fn free_bytes_below(&self, end_pfn: usize) -> u64 {
        let mut bytes = 0;
        self.for_each_free_range(|s, e| bytes += (e.min(end_pfn).saturating_sub(s) as u64) << PAGE_SHIFT);
        bytes
    }

    /// Split RAM into lowmem and highmem, check there is enough lowmem, and
    /// size `mem_map` (Linux `e820__end_of_ram_pfn()`,
    /// `find_low_pfn_range()`, `highmem_pfn_init()`; then our `mem_map`
    /// floor). Call after everything already in use is reserved, before
    /// `mem_map` is allocated:
    ///
    /// 1. `max_pfn` = the end of RAM below `MAX_ARCH_PFN`: 4 GiB without
    ///    PAE, 64 GiB with it. RAM above is counted in
    ///    `ram_bytes_above_max_arch` and ignored.
    /// 2. `max_low_pfn` = `min(max_pfn, MAXMEM_PFN)`; the rest up to
    ///    `max_pfn` is highmem (with PAE, including all RAM above 4 GiB).
    /// 3. `mem_map_budget` with `MIN_LOWMEM_AFTER_MEM_MAP`: highmem is given
    ///    up only if its descriptors would leave less lowmem than that.
    pub fn classify(&self) -> Result<MemoryLayout, MemblockError> {
        if self.memory.cnt == 0 {
            return Err(MemblockError::NoRam);
        }
        let (end_of_ram_pfn, ram_bytes_above_max_arch) = self.end_of_ram_pfn();
        let range = find_low_pfn_range(end_of_ram_pfn, cfg!(feature = "pae"));
        let max_low_pfn = range.max_low_pfn;
        let lowmem_ram_pages = self.ram_pages_in(0, max_low_pfn);
        let lowmem_bytes = (lowmem_ram_pages as u64) << PAGE_SHIFT;
        if lowmem_bytes < MIN_LOWMEM_BYTES {
            return Err(MemblockError::TooLittleRam { lowmem_bytes, needed: MIN_LOWMEM_BYTES });
        }
        let mem_map =
            mem_map_budget(range.max_pfn, max_low_pfn, self.free_bytes_below(max_low_pfn), MIN_LOWMEM_AFTER_MEM_MAP);
        let max_pfn = mem_map.max_pfn;
        let ram_bytes_above_4g =
            self.memory.regions().iter().map(|r| r.end().saturating_sub(r.base.max(FOUR_GIB))).sum();
        Ok(MemoryLayout {
            max_pfn,
            max_low_pfn,
            end_of_ram_pfn,
            ram_pages_below_4g: self.ram_pages_in(0, MAX_NONPAE_PFN),
            ram_bytes_above_4g,
            ram_bytes_above_max_arch,
            lowmem_ram_pages,
            highmem_ram_pages: self.ram_pages_in(max_low_pfn, max_pfn),
            mem_map,
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

    /// The e820 map QEMU + SeaBIOS report for `-m ram`: at `-m 8G`,
    ///
    /// ```text
    /// 0x000000000-0x00009fbff usable      0x00009fc00-0x00009ffff reserved
    /// 0x0000f0000-0x0000fffff reserved    0x000100000-0x0bffdffff usable
    /// 0x0bffe0000-0x0bfffffff reserved    0x0fffc0000-0x0ffffffff reserved
    /// 0x100000000-0x23fffffff usable
    /// ```
    pub fn e820(ram: u64) -> Vec<MemRegion> {
        e820_below_4g(ram, LOW_RAM_MAX)
    }

    /// The same with `-M pc,max-ram-below-4g=low_max`: at most `low_max`
    /// of RAM below the PCI hole, the rest from 4 GiB on.
    pub fn e820_below_4g(ram: u64, low_max: u64) -> Vec<MemRegion> {
        let low = ram.min(low_max);
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
    #[cfg(feature = "pae")]
    use super::qemu::e820_below_4g;
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
        // Without PAE nothing is usable; with it, [5 GiB, 6 GiB) is (the
        // range near 2^64 is beyond 64 GiB either way).
        #[cfg(not(feature = "pae"))]
        assert!(free_pfn_ranges(&mb).is_empty(), "nothing below 4 GiB");
        #[cfg(feature = "pae")]
        assert_eq!(free_pfn_ranges(&mb), [(5 << 18, 6 << 18)], "only [5 GiB, 6 GiB) is below 64 GiB");
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
        // About 2176 MiB of highmem for all three without PAE: RAM beyond
        // 3 GiB moves above 4 GiB, where it cannot be used. With PAE it is
        // highmem too.
        assert_eq!(high_3g, ((2176 * MIB - SEABIOS_TAIL) >> PAGE_SHIFT) as usize);
        for (ram, above) in [(3u64 << 30, 0), (3584 * MIB, 512 * MIB), (4u64 << 30, 1 << 30)] {
            let l = classify(ram);
            let (end, high, ignored) = if cfg!(feature = "pae") && above > 0 {
                (MAX_NONPAE_PFN + (above >> PAGE_SHIFT) as usize, high_3g + (above >> PAGE_SHIFT) as usize, 0)
            } else {
                ((((3u64 << 30) - SEABIOS_TAIL) >> PAGE_SHIFT) as usize, high_3g, above)
            };
            assert_eq!(l.max_pfn, end, "ram {ram:#x}");
            assert_eq!(l.end_of_ram_pfn, end, "ram {ram:#x}");
            assert_eq!(l.ram_bytes_above_max_arch, ignored, "ram {ram:#x}");
            assert_eq!(l.max_low_pfn, MAXMEM_PFN);
            assert_eq!(l.highmem_ram_pages, high, "ram {ram:#x}");
            assert_eq!(l.lowmem_ram_pages, MAXMEM_PFN - 0x100 + 0x9F);
            assert_eq!(l.ram_pages_below_4g, qemu_low_pages(3 << 30));
            assert_eq!(l.ram_bytes_above_4g, above, "ram {ram:#x}");
        }
    }

    /// Without PAE a RAM range across 4 GiB is cut there (the part above
    /// reported); with PAE it is kept whole.
    #[test]
    fn region_straddling_4g_is_split() {
        let mut mb = Memblock::new();
        mb.add_memory(&[avail(0, 512 * MIB), avail((4u64 << 30) - 8 * MIB, 24 * MIB)]).unwrap();
        let l = mb.classify().unwrap();
        assert_eq!(l.ram_bytes_above_4g, 16 * MIB);
        assert!(!l.mem_map.clamped());
        #[cfg(not(feature = "pae"))]
        {
            assert_eq!(l.max_pfn, MAX_NONPAE_PFN);
            assert_eq!(l.ram_bytes_above_max_arch, 16 * MIB);
            assert_eq!(l.highmem_ram_pages, ((8 * MIB) >> PAGE_SHIFT) as usize);
            assert_eq!(free_pfn_ranges(&mb).last(), Some(&(MAX_NONPAE_PFN - 2048, MAX_NONPAE_PFN)));
        }
        #[cfg(feature = "pae")]
        {
            assert_eq!(l.max_pfn, MAX_NONPAE_PFN + 4096);
            assert_eq!(l.ram_bytes_above_max_arch, 0);
            assert_eq!(l.highmem_ram_pages, ((24 * MIB) >> PAGE_SHIFT) as usize);
            assert_eq!(free_pfn_ranges(&mb).last(), Some(&(MAX_NONPAE_PFN - 2048, MAX_NONPAE_PFN + 4096)));
        }
        assert_eq!(l.ram_pages_below_4g, ((512 * MIB + 8 * MIB) >> PAGE_SHIFT) as usize);
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

    const GIB: u64 = 1 << 30;
    /// Pfn of a byte address (test shorthand).
    const fn pfn(addr: u64) -> usize {
        (addr >> PAGE_SHIFT) as usize
    }
    /// QEMU's end of RAM below the PCI hole at `-m 3G` and up: 0xbffe0.
    const LOW_END_PFN: usize = pfn((3 << 30) - SEABIOS_TAIL);

    /// Boot the way `mem_init` does up to the split: e820, the first MiB
    /// and a 2 MiB kernel image at 1 MiB reserved, then `classify`.
    fn classify_booted(map: &[MemRegion]) -> MemoryLayout {
        let mut mb = Memblock::new();
        mb.add_memory(map).unwrap();
        mb.reserve_low_memory().unwrap();
        mb.reserve(MIB, 2 * MIB).unwrap();
        mb.classify().unwrap()
    }

    /// Linux `e820__end_of_ram_pfn()` (reference cases P2, P3): the end of
    /// RAM below `MAX_ARCH_PFN`, whose value is the flavour's.
    #[test]
    fn end_of_ram_pfn_stops_at_max_arch_pfn() {
        assert_eq!(MAX_ARCH_PHYS, if cfg!(feature = "pae") { 64 * GIB } else { 4 * GIB });
        for (ram, pae_end, ignored_with_pae) in [
            (3 * GIB, LOW_END_PFN, 0),
            (8 * GIB, 0x24_0000, 0),     // P2: e820 RAM 0x100000000-0x23fffffff
            (16 * GIB, 0x44_0000, 0),    // 0x100000000-0x43fffffff
            (64 * GIB, 1 << 24, GIB),    // RAM to 65 GiB: the last GiB is beyond 64
            (70 * GIB, 1 << 24, 7 * GIB), // P3: clamped to max_pfn == 1 << 24
        ] {
            let mut mb = Memblock::new();
            mb.add_memory(&e820(ram)).unwrap();
            let above_4g = ram.saturating_sub(3 * GIB);
            let (end, ignored) = mb.end_of_ram_pfn();
            if cfg!(feature = "pae") {
                assert_eq!((end, ignored), (pae_end, ignored_with_pae), "-m {}G", ram >> 30);
            } else {
                // A non-PAE kernel on the same VM: max_pfn <= 0x100000.
                assert_eq!((end, ignored), (LOW_END_PFN, above_4g), "-m {}G", ram >> 30);
            }
        }
    }

    /// What the boot log says about RAM the flavour cannot use: nothing
    /// up to its limit; the amount beyond it, in the flavour's words.
    #[test]
    fn ignored_ram_is_reported_per_flavour() {
        assert_eq!(classify_booted(&e820(3 * GIB)).ignored_ram(), None);
        let at_4g = classify_booted(&e820(4 * GIB)).ignored_ram();
        let at_70g = classify_booted(&e820(70 * GIB)).ignored_ram().unwrap();
        if cfg!(feature = "pae") {
            assert_eq!(at_4g, None, "with PAE the GiB above 4 GiB is highmem");
            assert_eq!(
                at_70g.to_string(),
                "7168MB of RAM above 64GB are not addressable even with PAE (36 physical address bits): ignored"
            );
        } else {
            // The line tests/runner.sh's -m 4G boot scenario looks for.
            assert_eq!(
                at_4g.unwrap().to_string(),
                "Warning: only 4GB will be used. Use a HIGHMEM64G enabled kernel!\n\
                 1024MB of RAM above 4GB are not addressable without PAE (this kernel is non-PAE): ignored"
            );
            assert!(at_70g.to_string().ends_with("\n68608MB of RAM above 4GB are not addressable without PAE (this kernel is non-PAE): ignored"));
        }
    }

    /// Linux `find_low_pfn_range()` / `highmem_pfn_init()`, both branches,
    /// and the trim without HIGHMEM64G (P3's "6.15 mode").
    #[test]
    fn find_low_pfn_range_lowmem_highmem_and_trim() {
        for highmem64g in [false, true] {
            assert_eq!(
                find_low_pfn_range(0x4000, highmem64g),
                LowPfnRange { max_low_pfn: 0x4000, max_pfn: 0x4000, trimmed: false }
            );
            assert_eq!(find_low_pfn_range(MAXMEM_PFN, highmem64g).max_low_pfn, MAXMEM_PFN);
            assert_eq!(
                find_low_pfn_range(MAXMEM_PFN + 1, highmem64g),
                LowPfnRange { max_low_pfn: MAXMEM_PFN, max_pfn: MAXMEM_PFN + 1, trimmed: false }
            );
            assert_eq!(
                find_low_pfn_range(MAX_NONPAE_PFN, highmem64g),
                LowPfnRange { max_low_pfn: MAXMEM_PFN, max_pfn: MAX_NONPAE_PFN, trimmed: false }
            );
        }
        // -m 8G: HIGHMEM64G keeps max_pfn 0x240000, without it only 4GB.
        assert_eq!(
            find_low_pfn_range(0x24_0000, true),
            LowPfnRange { max_low_pfn: MAXMEM_PFN, max_pfn: 0x24_0000, trimmed: false }
        );
        assert_eq!(
            find_low_pfn_range(0x24_0000, false),
            LowPfnRange { max_low_pfn: MAXMEM_PFN, max_pfn: MAX_NONPAE_PFN, trimmed: true }
        );
    }

    /// The split at -m 8G and -m 16G (P2): with PAE all RAM above 4 GiB is
    /// highmem; without, it is counted and ignored.
    #[test]
    fn classify_qemu_8g_and_16g() {
        for ram in [8 * GIB, 16 * GIB] {
            let l = classify_booted(&e820(ram));
            let above = ram - 3 * GIB;
            assert_eq!(l.max_low_pfn, MAXMEM_PFN, "max_low_pfn == MAXMEM_PFN");
            assert_eq!(l.highstart_pfn(), MAXMEM_PFN);
            assert_eq!(l.ram_bytes_above_4g, above);
            assert_eq!(l.ram_pages_below_4g, qemu_low_pages(3 * GIB));
            assert_eq!(l.lowmem_ram_pages, MAXMEM_PFN - 0x100 + 0x9F);
            assert!(!l.mem_map.clamped());
            let below_hole = LOW_END_PFN - MAXMEM_PFN;
            if cfg!(feature = "pae") {
                assert_eq!(l.max_pfn, MAX_NONPAE_PFN + pfn(above));
                assert_eq!(l.highend_pfn(), l.max_pfn);
                assert_eq!(l.ram_bytes_above_max_arch, 0);
                // Present highmem: 896 MiB..3 GiB and 4 GiB..; the zone
                // spans the PCI hole between them as well.
                assert_eq!(l.highmem_ram_pages, below_hole + pfn(above));
                assert_eq!(l.max_pfn - l.max_low_pfn - l.highmem_ram_pages, MAX_NONPAE_PFN - LOW_END_PFN);
            } else {
                assert_eq!(l.max_pfn, LOW_END_PFN);
                assert_eq!(l.ram_bytes_above_max_arch, above);
                assert_eq!(l.highmem_ram_pages, below_hole);
            }
        }
    }

    /// The lowmem cost of mem_map (P19) at 8, 16, 32 and 64 GiB with QEMU's
    /// usual split: 32 bytes per frame of `[0, max_pfn)`, holes included,
    /// all from the 893 MiB of lowmem left free after the first MiB and the
    /// kernel image. None of them reaches the floor.
    #[test]
    fn mem_map_cost_at_8_16_32_64_gib() {
        assert_eq!(size_of::<crate::page::Page>(), 32);
        let free = MAXMEM as u64 - 3 * MIB;
        for (ram, pae_map_mib) in [(8 * GIB, 72), (16 * GIB, 136), (32 * GIB, 264), (64 * GIB, 512)] {
            let l = classify_booted(&e820(ram));
            let b = l.mem_map;
            let map_mib = if cfg!(feature = "pae") { pae_map_mib } else { 24 };
            assert_eq!(b.lowmem_free_bytes, free, "-m {}G", ram >> 30);
            assert_eq!(b.bytes, map_mib * MIB, "-m {}G", ram >> 30);
            assert_eq!(b.bytes, mem_map_bytes(l.max_pfn) as u64);
            assert_eq!(b.lowmem_left_bytes, free - map_mib * MIB);
            assert_eq!((b.max_pfn, b.wanted_max_pfn), (l.max_pfn, l.max_pfn));
            assert!(!b.clamped() && b.lowmem_left_bytes >= MIN_LOWMEM_AFTER_MEM_MAP);
            assert_eq!(
                b.to_string(),
                format!(
                    "mem_map: {} KiB of struct page for {} frames (pfn 0 to max_pfn, {} MiB, holes included), {} MiB of lowmem left",
                    map_mib << 10,
                    l.max_pfn,
                    ((l.max_pfn as u64) << PAGE_SHIFT) >> 20,
                    (free >> 20) - map_mib
                )
            );
        }
        // 64 GiB with PAE: 512 MiB of the 896 go to mem_map, 381 are left.
        #[cfg(feature = "pae")]
        assert_eq!(classify_booted(&e820(64 * GIB)).mem_map.lowmem_left_bytes >> 20, 381);
    }

    /// Little RAM below the PCI hole and much above it (QEMU's
    /// `-M pc,max-ram-below-4g=512M -m 64G`): mem_map for 64 GiB (512 MiB)
    /// would not even fit in the 508 MiB of free lowmem. Highmem is cut
    /// until the floor of 64 MiB stays free, and the boot goes on with
    /// about 55 GiB.
    #[cfg(feature = "pae")]
    #[test]
    fn mem_map_that_would_eat_lowmem_is_refused_pae_64g() {
        let l = classify_booted(&e820_below_4g(64 * GIB, 512 * MIB));
        let b = l.mem_map;
        let free = 512 * MIB - SEABIOS_TAIL - 3 * MIB;
        assert_eq!(b.lowmem_free_bytes, free);
        assert_eq!(b.wanted_max_pfn, 1 << 24);
        assert!(b.clamped());
        let granted = ((free - MIN_LOWMEM_AFTER_MEM_MAP) / 32) as usize;
        assert_eq!(b.max_pfn, granted);
        assert_eq!(l.max_pfn, granted);
        assert_eq!(b.lowmem_left_bytes, MIN_LOWMEM_AFTER_MEM_MAP, "exactly the floor is left");
        assert_eq!(l.highmem_ram_pages, granted - MAX_NONPAE_PFN, "lowmem ends at 512 MiB, highmem is above 4 GiB");
        assert_eq!(l.max_low_pfn, MAXMEM_PFN);
        assert_eq!(
            b.to_string(),
            format!(
                "mem_map: 512 MiB of struct page for all 65536 MiB of RAM would leave 0 MiB of lowmem free, \
                 less than the 64 MiB floor: using only {} MiB (max_pfn {granted:#x} instead of 0x1000000); \
                 mem_map {} KiB, 64 MiB of lowmem left",
                granted >> 8,
                granted / 32
            )
        );
        assert_eq!(granted >> 18, 55, "about 55 GiB");
    }

    /// The same refusal in either flavour: 64 MiB of RAM at the bottom and
    /// some just below 4 GiB. mem_map up to 4 GiB (32 MiB) would leave
    /// 32 MiB: all highmem is dropped, lowmem's own descriptors stay.
    #[test]
    fn mem_map_that_would_eat_lowmem_drops_highmem_only() {
        let mut mb = Memblock::new();
        mb.add_memory(&[avail(0, 64 * MIB), avail(4 * GIB - 8 * MIB, 8 * MIB)]).unwrap();
        let l = mb.classify().unwrap();
        assert_eq!(l.end_of_ram_pfn, MAX_NONPAE_PFN);
        assert!(l.mem_map.clamped());
        assert_eq!((l.max_low_pfn, l.max_pfn), (MAXMEM_PFN, MAXMEM_PFN), "no highmem left");
        assert_eq!(l.highmem_ram_pages, 0);
        assert_eq!(l.mem_map.bytes, mem_map_bytes(MAXMEM_PFN) as u64);
        assert_eq!(l.mem_map.lowmem_left_bytes, 64 * MIB - 7 * MIB);
    }

    /// `mem_map_budget` against its definition, for random inputs: the
    /// grant lies in `[max_low_pfn, max_pfn]`; it is all of `max_pfn` when
    /// that keeps the floor; otherwise it keeps the floor (unless nothing
    /// but lowmem is left) and one page more of mem_map would break it.
    #[test]
    fn mem_map_budget_is_the_largest_grant_that_keeps_the_floor() {
        let mut rng = XorShift::new(0xfee1);
        for _ in 0..20000 {
            let low = rng.below(MAXMEM_PFN + 1);
            let max = low + rng.below((1 << 24) - low + 1);
            let free = rng.below(MAXMEM + 1) as u64;
            let floor = [0, MIN_LOWMEM_AFTER_MEM_MAP, rng.below(1 << 28) as u64][rng.below(3)];
            let b = mem_map_budget(max, low, free, floor);
            let left = |pfns: usize| free.saturating_sub(mem_map_bytes(pfns) as u64);
            assert!(low <= b.max_pfn && b.max_pfn <= max, "{b:?}");
            assert_eq!(b.bytes, mem_map_bytes(b.max_pfn) as u64);
            assert_eq!(b.lowmem_left_bytes, left(b.max_pfn));
            if max == low || (left(max) >= floor && mem_map_bytes(max) as u64 <= free) {
                assert!(!b.clamped(), "{b:?}");
            } else if b.max_pfn > low {
                assert!(b.lowmem_left_bytes >= floor, "{b:?}");
                let more = b.max_pfn + PAGE_SIZE / 32;
                assert!(more > max || left(more) < floor || mem_map_bytes(more) as u64 > free, "{b:?} not the largest");
            }
        }
    }
}
