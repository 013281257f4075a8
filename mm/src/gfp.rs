//! GFP ("get free pages") flags: what an allocation may use (Linux
//! `include/linux/gfp.h`).
//!
//! Every page allocation carries flags that say *which memory is
//! acceptable*, and the allocator turns them into a list of zones to try.
//! The zone modifiers decide the highest zone allowed:
//!
//! | flags           | may use                 | because                                   |
//! |-----------------|-------------------------|-------------------------------------------|
//! | `GFP_KERNEL`    | Normal, then DMA        | the kernel will touch it through the direct map, so it must be lowmem |
//! | `GFP_DMA`       | DMA only                | an ISA device will read it: below 16 MiB  |
//! | `GFP_HIGHUSER`  | HighMem, Normal, DMA    | user pages and page cache: whoever touches them maps them (kmap) |
//!
//! Falling back *down* is always safe (lower memory can do everything
//! higher memory can), while falling *up* never is. Preferring the highest
//! allowed zone keeps the scarce low zones for the callers that have no
//! choice. `GFP_KERNEL` must never return highmem: the caller would
//! dereference `page_address()` of a page that has no address.
//!
//! Linux spells the modifiers with two leading underscores; Rust allows
//! that, so we keep them: `GfpFlags::__GFP_HIGHMEM`, also re-exported here
//! as `gfp::__GFP_HIGHMEM`.

use bitflags::bitflags;

use crate::zone::ZoneType;

bitflags! {
    /// Allocation flags (Linux `gfp_t`). The bit values are those of
    /// 2.6-era Linux: `___GFP_DMA` = 0x01, `___GFP_HIGHMEM` = 0x02,
    /// `___GFP_ZERO` = 0x8000 (Linux 6.x renumbered the latter).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct GfpFlags: u32 {
        /// Only ZONE_DMA will do.
        const __GFP_DMA = 0x01;
        /// ZONE_HIGHMEM is acceptable (and preferred).
        const __GFP_HIGHMEM = 0x02;
        /// The caller may sleep to reclaim memory (Linux 6.1
        /// `__GFP_DIRECT_RECLAIM`; the bit of the 2.6-era `__GFP_WAIT` it
        /// replaced). We have no reclaim, so the allocator ignores it; the
        /// fault-injection knob `ignore-gfp-wait` reads it: by default only
        /// allocations that may *not* sleep are made to fail (they are the
        /// ones whose callers must cope anyway).
        const __GFP_DIRECT_RECLAIM = 0x10;
        /// The caller cannot handle failure (Linux `__GFP_NOFAIL`, the
        /// 2.6-era bit). Fault injection never fails such an allocation.
        const __GFP_NOFAIL = 0x800;
        /// The caller wants the memory zeroed. The allocator here only
        /// carries the bit: zeroing means writing to the page, which for
        /// highmem needs a kmap, so the kernel caller does it.
        const __GFP_ZERO = 0x8000;
    }
}

/// See [`GfpFlags::__GFP_DMA`].
pub const __GFP_DMA: GfpFlags = GfpFlags::__GFP_DMA;
/// See [`GfpFlags::__GFP_HIGHMEM`].
pub const __GFP_HIGHMEM: GfpFlags = GfpFlags::__GFP_HIGHMEM;
/// See [`GfpFlags::__GFP_ZERO`].
pub const __GFP_ZERO: GfpFlags = GfpFlags::__GFP_ZERO;
/// See [`GfpFlags::__GFP_DIRECT_RECLAIM`].
pub const __GFP_DIRECT_RECLAIM: GfpFlags = GfpFlags::__GFP_DIRECT_RECLAIM;
/// See [`GfpFlags::__GFP_NOFAIL`].
pub const __GFP_NOFAIL: GfpFlags = GfpFlags::__GFP_NOFAIL;

/// Ordinary kernel allocations: ZONE_NORMAL, falling back to ZONE_DMA,
/// never highmem. In Linux it is `__GFP_RECLAIM | __GFP_IO | __GFP_FS`:
/// "may sleep, may start I/O to free memory". We have no reclaim, so those
/// bits would mean nothing to the allocator; what remains is "no zone
/// modifier", plus `__GFP_DIRECT_RECLAIM`, which fault injection reads
/// (`ignore-gfp-wait`).
pub const GFP_KERNEL: GfpFlags = GfpFlags::__GFP_DIRECT_RECLAIM;
/// Allocations from interrupt context or under a spinlock. In Linux it
/// forbids sleeping for reclaim and may dip into reserves; with no reclaim
/// and no watermarks here, it uses the same zones as `GFP_KERNEL`, and
/// differs only in lacking `__GFP_DIRECT_RECLAIM` (so fault injection's
/// default `ignore-gfp-wait` lets it fail).
pub const GFP_ATOMIC: GfpFlags = GfpFlags::empty();
/// Memory for user space that the kernel also accesses directly (Linux adds
/// `__GFP_HARDWALL`, a cpuset notion we lack): the same zones as
/// `GFP_KERNEL`.
pub const GFP_USER: GfpFlags = GFP_KERNEL;
/// User pages the kernel reaches only through kmap: prefers ZONE_HIGHMEM,
/// then Normal, then DMA.
pub const GFP_HIGHUSER: GfpFlags = GFP_USER.union(GfpFlags::__GFP_HIGHMEM);
/// Anonymous user memory and page-cache pages (Linux
/// `GFP_HIGHUSER_MOVABLE` = `GFP_HIGHUSER | __GFP_MOVABLE`): highmem first.
/// We have no ZONE_MOVABLE and no migration, so `__GFP_MOVABLE` would mean
/// nothing: the same zones as `GFP_HIGHUSER`.
pub const GFP_HIGHUSER_MOVABLE: GfpFlags = GFP_HIGHUSER;
/// ISA DMA buffers: ZONE_DMA only (Linux `GFP_DMA` is just `__GFP_DMA`).
pub const GFP_DMA: GfpFlags = GfpFlags::__GFP_DMA;

/// The highest zone an allocation with `gfp` may use (Linux `gfp_zone()`).
///
/// `__GFP_DMA | __GFP_HIGHMEM` asks for "below 16 MiB" and "highmem is fine"
/// at once; Linux's `gfp_zone()` catches it through its `GFP_ZONE_BAD` table
/// (a `VM_BUG_ON`). We always panic, naming the flags.
pub fn gfp_zone(gfp: GfpFlags) -> ZoneType {
    let dma = gfp.contains(GfpFlags::__GFP_DMA);
    let highmem = gfp.contains(GfpFlags::__GFP_HIGHMEM);
    match (dma, highmem) {
        (true, true) => panic!(
            "BUG: gfp_zone: contradictory GFP flags __GFP_DMA | __GFP_HIGHMEM (gfp {:#x})",
            gfp.bits()
        ),
        (true, false) => ZoneType::Dma,
        (false, true) => ZoneType::HighMem,
        (false, false) => ZoneType::Normal,
    }
}

/// The zones an allocation with `gfp` tries, in order: the highest allowed
/// first, then each lower one down to DMA (Linux's zonelist, walked by
/// `for_each_zone_zonelist()` starting at `gfp_zone()`). Checks the flags
/// immediately, not when the iterator is first advanced.
pub fn zonelist(gfp: GfpFlags) -> impl Iterator<Item = ZoneType> {
    let highest = gfp_zone(gfp).index();
    (0..=highest).rev().map(ZoneType::from_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(gfp: GfpFlags) -> Vec<ZoneType> {
        zonelist(gfp).collect()
    }

    #[test]
    fn gfp_kernel_stays_in_lowmem() {
        assert_eq!(gfp_zone(GFP_KERNEL), ZoneType::Normal);
        assert_eq!(list(GFP_KERNEL), [ZoneType::Normal, ZoneType::Dma]);
        assert_eq!(list(GFP_ATOMIC), list(GFP_KERNEL));
        // As Linux: GFP_KERNEL may sleep for reclaim, GFP_ATOMIC may not,
        // and user pages are GFP_KERNEL's kind (fault injection reads it).
        assert!(GFP_KERNEL.contains(__GFP_DIRECT_RECLAIM) && GFP_HIGHUSER_MOVABLE.contains(__GFP_DIRECT_RECLAIM));
        assert!(!GFP_ATOMIC.contains(__GFP_DIRECT_RECLAIM));
        assert!(!list(GFP_KERNEL | __GFP_ZERO).contains(&ZoneType::HighMem));
    }

    #[test]
    fn gfp_highuser_prefers_highmem_and_falls_back_down() {
        assert_eq!(gfp_zone(GFP_HIGHUSER), ZoneType::HighMem);
        assert_eq!(list(GFP_HIGHUSER), [ZoneType::HighMem, ZoneType::Normal, ZoneType::Dma]);
    }

    #[test]
    fn gfp_dma_is_dma_only() {
        assert_eq!(gfp_zone(GFP_DMA), ZoneType::Dma);
        assert_eq!(list(GFP_DMA | __GFP_ZERO), [ZoneType::Dma]);
    }

    #[test]
    fn zero_flag_does_not_change_zones() {
        for gfp in [GFP_KERNEL, GFP_DMA, GFP_HIGHUSER] {
            assert_eq!(list(gfp | __GFP_ZERO), list(gfp));
            assert!((gfp | __GFP_ZERO).contains(__GFP_ZERO));
        }
    }

    #[test]
    #[should_panic(expected = "contradictory GFP flags __GFP_DMA | __GFP_HIGHMEM (gfp 0x3)")]
    fn dma_and_highmem_together_panics() {
        gfp_zone(__GFP_DMA | __GFP_HIGHMEM);
    }

    #[test]
    #[should_panic(expected = "contradictory GFP flags")]
    fn zonelist_checks_eagerly() {
        let _ = zonelist(GFP_DMA | GFP_HIGHUSER);
    }
}
