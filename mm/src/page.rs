//! `struct Page`: one descriptor per physical page frame (Linux `struct page`,
//! `include/linux/mm_types.h`), and `MemMap`, the flat array of them (Linux
//! `mem_map`, the FLATMEM memory model).
//!
//! Every frame of RAM the kernel knows about, lowmem *and* highmem, has a
//! `Page`. That is the whole trick of highmem: a frame above 896 MiB has no
//! permanent kernel virtual address, but it has a descriptor in lowmem, so
//! the allocator can hand it out, count it and free it without ever touching
//! its contents. Only code that wants the bytes must map it (kmap).
//!
//! Because there is one descriptor per frame, its size is multiplied by up to
//! a million (4 GiB / 4 KiB): at 32 bytes on i386 the array for a 4 GiB
//! machine is 32 MiB of precious lowmem. Linux works just as hard to keep
//! `struct page` small; we check ours at compile time.
//!
//! ## Why every field is an atomic
//!
//! The array lives in lowmem for the whole life of the kernel and is shared
//! by every CPU as a `&'static [Page]`. Most fields are only changed while
//! the owning zone's lock is held, but a shared reference to something that
//! is mutated must use interior mutability to be sound in Rust. Atomics are
//! the cheapest honest choice: a `Relaxed` load or store on x86 compiles to
//! the same plain `mov` the C code would use, and the read-modify-write
//! operations (`get_page`, `put_page_testzero`) are the same `lock xadd`
//! Linux uses for `page_ref_inc` / `page_ref_dec_and_test`. No `UnsafeCell`
//! tricks, no `unsafe` to read a field.
//!
//! ## The `flags` word
//!
//! ```text
//!  31 30 29                            3  2  1  0
//! +-----+-------------------- ... ----+--+--+--+--+
//! |zone |          (unused)           |U |L |B |R |   R = PG_reserved
//! +-----+-------------------- ... ----+--+--+--+--+   B = PG_buddy
//!                                                     L = PG_locked, U = PG_uptodate
//!  ZONES_PGSHIFT = 30, ZONES_MASK = 0b11
//! ```
//!
//! Like Linux, we keep the zone number in the top bits of `flags`
//! (`ZONES_PGSHIFT`), so `page_zonenum()` is a shift and a mask: freeing a
//! page finds its zone without searching zone spans.

use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering::{Acquire, Relaxed, Release}};

use bitflags::bitflags;

use crate::layout::PAGE_SIZE;
use crate::zone::{MAX_NR_ZONES, ZoneType};

bitflags! {
    /// Page flag bits (Linux `enum pageflags`, `include/linux/page-flags.h`).
    ///
    /// Only the bits this allocator needs exist; the zone number shares the
    /// same word (see the module documentation) but is not a flag.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PageFlags: u32 {
        /// The frame is not managed by the buddy allocator: firmware
        /// memory, the kernel image, `mem_map` itself, holes, or anything
        /// memblock handed out before the buddy took over. Every `Page`
        /// starts reserved; only `free_boot_range` clears the bit. Freeing a
        /// reserved page is a kernel bug (Linux `PG_reserved`).
        #[allow(non_upper_case_globals)]
        const PG_reserved = 1 << 0;
        /// The page is the first frame of a free block sitting on a buddy
        /// free list, and `private` holds the block's order. Pages inside a
        /// free block (not the head) do not carry it. (Linux keeps this as a
        /// page *type*, tested with `PageBuddy()`; 2.6-era kernels had a
        /// `PG_buddy` flag, which is what we model.)
        #[allow(non_upper_case_globals)]
        const PG_buddy = 1 << 1;
        /// The page is locked (Linux `PG_locked`): a page-cache page being
        /// read in, written between `write_begin` and `write_end`, or
        /// truncated. Taken with [`Page::trylock`] (an atomic
        /// test-and-set with acquire ordering, Linux
        /// `test_and_set_bit_lock`), given back with [`Page::unlock`];
        /// whoever waits sleeps in the kernel's `lock_page`.
        #[allow(non_upper_case_globals)]
        const PG_locked = 1 << 2;
        /// The page's contents are valid (Linux `PG_uptodate`): a
        /// page-cache page that was read in (for ramfs: zero-filled) or
        /// completely written. A reader that finds it clear must wait for
        /// the page lock and look again.
        #[allow(non_upper_case_globals)]
        const PG_uptodate = 1 << 3;
        /// The page is carved into kmalloc objects (Linux `PG_slab`, set
        /// by `allocate_slab` -> `__SetPageSlab`): the kernel heap's, kept
        /// for good. Large kmalloc allocations (a page or more) do not
        /// carry it, as in Linux.
        #[allow(non_upper_case_globals)]
        const PG_slab = 1 << 4;
        /// The free page was filled with `PAGE_POISON` (the kernel's
        /// `page_poison=1`), to be checked when it is allocated again.
        /// (Linux needs no flag: it poisons every free page.)
        #[allow(non_upper_case_globals)]
        const PG_poisoned = 1 << 5;
    }
}

/// Bits of `flags` that hold the zone number (Linux `ZONES_WIDTH`).
pub const ZONES_SHIFT: u32 = 2;
/// Where the zone number starts: the top of the word (Linux `ZONES_PGSHIFT`).
pub const ZONES_PGSHIFT: u32 = u32::BITS - ZONES_SHIFT;
/// Mask of the zone number after shifting it down (Linux `ZONES_MASK`).
pub const ZONES_MASK: u32 = (1 << ZONES_SHIFT) - 1;

/// "No page" in the intrusive free-list links, which hold pfns.
/// (A pfn is at most `MAX_NONPAE_PFN` = 2^20, so `u32::MAX` is never a pfn.)
pub const NO_PFN: u32 = u32::MAX;

/// The descriptor of one physical page frame (Linux `struct page`).
///
/// What the fields mean depends on the page's state, as in Linux:
///
/// | state               | `PG_buddy` | `_refcount` | `private`      | `lru_*`          |
/// |---------------------|-----------|-------------|----------------|------------------|
/// | reserved            | no        | 0           | unused         | unused           |
/// | head of free block  | yes       | 0           | block order    | free-list links  |
/// | inside a free block | no        | 0           | unused         | unused           |
/// | head of allocation  | no        | >= 1        | allocation order (debug check on free) | unused |
/// | inside allocation   | no        | 0           | unused         | unused           |
#[derive(Debug)]
#[repr(C, align(32))]
pub struct Page {
    /// `PageFlags` bits plus the zone number in the top `ZONES_SHIFT` bits.
    flags: AtomicU32,
    /// References to the page (Linux `_refcount`; the underscore is Linux's
    /// hint to use the accessors). 1 when freshly allocated, 0 when free.
    _refcount: AtomicI32,
    /// For a free block's head: its order (Linux stores the buddy order in
    /// `page->private` too). For an allocated head: the order it was
    /// allocated at, so that freeing at the wrong order is caught.
    private: AtomicU32,
    /// Next page (pfn) on the same free list, or `NO_PFN`.
    /// Together with `lru_prev` this is Linux's `struct list_head lru`,
    /// stored as pfns instead of pointers: half the size on 64-bit hosts and
    /// independent of where `mem_map` sits in memory.
    lru_next: AtomicU32,
    /// Previous page (pfn) on the same free list, or `NO_PFN`.
    lru_prev: AtomicU32,
    /// Where a highmem page is currently mapped (its PKMAP address while
    /// kmapped), 0 otherwise. Linux's `page->virtual` (`WANT_PAGE_VIRTUAL`).
    /// This crate only stores it; the kmap code maintains it.
    virtual_: AtomicUsize,
}

/// A `Page` must stay small: it is multiplied by every frame of RAM. It is
/// padded to exactly 32 bytes (as Linux's i386 `struct page` is), so that
/// turning a descriptor's address into a pfn is a shift, not a division:
/// kmap does that on every call.
const _: () = assert!(size_of::<Page>() == 32);
/// Every zone number fits in the zone bits.
const _: () = assert!(MAX_NR_ZONES <= 1 << ZONES_SHIFT);
/// The flag bits and the zone bits do not overlap.
const _: () = assert!(PageFlags::all().bits() & (ZONES_MASK << ZONES_PGSHIFT) == 0);

impl Page {
    /// A page as it starts life: reserved (not the buddy's), refcount 0, not
    /// on any list, not mapped, zone 0 until `memmap_init_zone` sets it.
    pub const fn new() -> Page {
        Page {
            flags: AtomicU32::new(PageFlags::PG_reserved.bits()),
            _refcount: AtomicI32::new(0),
            private: AtomicU32::new(0),
            lru_next: AtomicU32::new(NO_PFN),
            lru_prev: AtomicU32::new(NO_PFN),
            virtual_: AtomicUsize::new(0),
        }
    }

    /// The flag bits, without the zone number.
    pub fn flags(&self) -> PageFlags {
        PageFlags::from_bits_truncate(self.flags.load(Relaxed))
    }

    /// Set `flag` (an atomic OR, so the zone bits are untouched).
    pub fn set_flag(&self, flag: PageFlags) {
        self.flags.fetch_or(flag.bits(), Relaxed);
    }

    /// Clear `flag` (an atomic AND, so the zone bits are untouched).
    pub fn clear_flag(&self, flag: PageFlags) {
        self.flags.fetch_and(!flag.bits(), Relaxed);
    }

    /// Set `PG_locked` if it was clear (Linux `trylock_page`, whose
    /// `test_and_set_bit_lock` has acquire ordering: what the previous
    /// holder wrote before [`Page::unlock`] is visible to the new one).
    /// True if this call took the lock.
    pub fn trylock(&self) -> bool {
        self.flags.fetch_or(PageFlags::PG_locked.bits(), Acquire) & PageFlags::PG_locked.bits() == 0
    }

    /// Clear `PG_locked` with release ordering (Linux
    /// `clear_bit_unlock`); waking the waiters is the caller's business.
    /// Panics if the page was not locked: unlocking a page twice is a bug
    /// (Linux's `VM_BUG_ON_FOLIO(!folio_test_locked(folio))`).
    pub fn unlock(&self) {
        let old = self.flags.fetch_and(!PageFlags::PG_locked.bits(), Release);
        assert!(old & PageFlags::PG_locked.bits() != 0, "BUG: unlock_page() of a page that is not locked");
    }

    /// Linux `PageLocked()`.
    pub fn page_locked(&self) -> bool {
        self.flags.load(Acquire) & PageFlags::PG_locked.bits() != 0
    }

    /// Linux `PageUptodate()` (acquire: the contents written before
    /// [`Page::set_uptodate`] are visible).
    pub fn page_uptodate(&self) -> bool {
        self.flags.load(Acquire) & PageFlags::PG_uptodate.bits() != 0
    }

    /// Linux `SetPageUptodate()`: release ordering, so whoever sees the
    /// bit sees the contents (Linux puts an `smp_wmb()` before it).
    pub fn set_uptodate(&self) {
        self.flags.fetch_or(PageFlags::PG_uptodate.bits(), Release);
    }

    /// Are all bits of `flag` set?
    pub fn test_flag(&self, flag: PageFlags) -> bool {
        self.flags().contains(flag)
    }

    /// Linux `PageReserved()`.
    pub fn page_reserved(&self) -> bool {
        self.test_flag(PageFlags::PG_reserved)
    }

    /// Linux `PageBuddy()`: is this the head of a free buddy block?
    pub fn page_buddy(&self) -> bool {
        self.test_flag(PageFlags::PG_buddy)
    }

    /// Which zone the frame belongs to (Linux `page_zonenum()`): read from
    /// the top bits of `flags`, no lookup.
    pub fn page_zonenum(&self) -> ZoneType {
        let raw = (self.flags.load(Relaxed) >> ZONES_PGSHIFT) & ZONES_MASK;
        ZoneType::from_index(raw as usize)
    }

    /// Record the frame's zone (Linux `set_page_zone()`), done once per page
    /// by `memmap_init_zone` at boot.
    pub fn set_page_zone(&self, zone: ZoneType) {
        let zone_bits = (zone as u32) << ZONES_PGSHIFT;
        // A compare-exchange loop, so that flag bits set concurrently (there
        // are none at boot, but the operation should not depend on that)
        // survive.
        let _ = self.flags.fetch_update(Relaxed, Relaxed, |f| {
            Some((f & !(ZONES_MASK << ZONES_PGSHIFT)) | zone_bits)
        });
    }

    /// Current reference count (Linux `page_count()`).
    pub fn page_count(&self) -> i32 {
        self._refcount.load(Relaxed)
    }

    /// Overwrite the reference count (Linux `set_page_count()`); only the
    /// allocator does this, on pages nobody else can see.
    pub fn set_page_count(&self, count: i32) {
        self._refcount.store(count, Relaxed);
    }

    /// Take an extra reference to an allocated page (Linux `get_page()`).
    ///
    /// Panics if the page is free: taking a reference to a page nobody owns
    /// means someone is using memory they already gave back.
    pub fn get_page(&self) {
        let old = self._refcount.fetch_add(1, Relaxed);
        assert!(old > 0, "BUG: get_page() on a page with refcount {old} (a free page)");
    }

    /// Drop a reference; `true` if it was the last one and the page must now
    /// be freed (Linux `put_page_testzero()`).
    ///
    /// Panics on underflow: dropping a reference that was never taken.
    pub fn put_page_testzero(&self) -> bool {
        let old = self._refcount.fetch_sub(1, Relaxed);
        assert!(old > 0, "BUG: put_page_testzero(): refcount underflow (was {old})");
        old == 1
    }

    /// Order of the free block this page heads (Linux `buddy_order()`;
    /// older kernels called it `page_order()`). Meaningful only while
    /// `page_buddy()` is true, or on an allocated head (its allocation order).
    pub fn page_order(&self) -> usize {
        self.private.load(Relaxed) as usize
    }

    /// Store an order in `private` (Linux `set_page_private()` as used by
    /// `set_buddy_order()`).
    pub fn set_page_order(&self, order: usize) {
        self.private.store(order as u32, Relaxed);
    }

    /// The kernel virtual address this (highmem) page is mapped at, 0 if
    /// none. Lowmem pages never set it: their address is computed.
    pub fn page_virtual(&self) -> usize {
        self.virtual_.load(Relaxed)
    }

    /// Record (or with 0, forget) where a highmem page is mapped (Linux
    /// `set_page_address()`).
    pub fn set_page_virtual(&self, vaddr: usize) {
        self.virtual_.store(vaddr, Relaxed);
    }

    /// Next pfn on the free list, or `NO_PFN`.
    pub(crate) fn lru_next(&self) -> u32 {
        self.lru_next.load(Relaxed)
    }

    /// Previous pfn on the free list, or `NO_PFN`.
    pub(crate) fn lru_prev(&self) -> u32 {
        self.lru_prev.load(Relaxed)
    }

    /// Set the free-list links (the zone lock is held).
    pub(crate) fn set_lru(&self, prev: u32, next: u32) {
        self.lru_prev.store(prev, Relaxed);
        self.lru_next.store(next, Relaxed);
    }

    /// Set only the forward link.
    pub(crate) fn set_lru_next(&self, next: u32) {
        self.lru_next.store(next, Relaxed);
    }

    /// Set only the backward link.
    pub(crate) fn set_lru_prev(&self, prev: u32) {
        self.lru_prev.store(prev, Relaxed);
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new()
    }
}

/// Bytes of `mem_map` needed for `nr_pages` frames, rounded up to whole
/// pages: what the kernel asks memblock for (`nr_pages` = `max_pfn`, since
/// the map starts at pfn 0 and covers holes too; that is FLATMEM's price).
pub const fn mem_map_bytes(nr_pages: usize) -> usize {
    (nr_pages * size_of::<Page>()).div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// Fill raw memory with `nr_pages` fresh descriptors and return it as the
/// shared `mem_map` slice. This is the kernel's one step from "bytes memblock
/// gave us" to `&[Page]` (Linux does it in `memmap_init` / `__init_single_page`).
///
/// # Safety
///
/// `base` must be aligned for `Page` and point to `nr_pages *
/// size_of::<Page>()` writable bytes that nothing else reads or writes for
/// the lifetime `'a` (in the kernel: memblock-reserved lowmem, mapped in the
/// direct map, kept for ever).
pub unsafe fn init_mem_map<'a>(base: *mut Page, nr_pages: usize) -> &'a [Page] {
    for i in 0..nr_pages {
        // SAFETY: i < nr_pages, so the slot is inside the caller's region,
        // which is aligned for Page and exclusively ours; `write` does not
        // read (or drop) the uninitialised old contents.
        unsafe { base.add(i).write(Page::new()) };
    }
    // SAFETY: all nr_pages slots were initialised just above; the caller
    // guarantees the memory stays valid and unaliased by writers for 'a
    // (every later change goes through the atomics).
    unsafe { core::slice::from_raw_parts(base, nr_pages) }
}

/// The array of page descriptors and the pfn of its first entry (Linux
/// FLATMEM `mem_map` plus `ARCH_PFN_OFFSET`).
///
/// In the kernel `start_pfn` is 0 and the slice covers `0..max_pfn`; host
/// tests build small maps in a `Vec`. Conversions are checked: a pfn outside
/// the map is always a kernel bug and panics with the numbers involved.
#[derive(Clone, Copy, Debug)]
pub struct MemMap<'a> {
    pages: &'a [Page],
    start_pfn: usize,
}

impl<'a> MemMap<'a> {
    /// The map whose first descriptor, `pages[0]`, describes `start_pfn`.
    pub const fn new(pages: &'a [Page], start_pfn: usize) -> Self {
        MemMap { pages, start_pfn }
    }

    /// The descriptor slice itself.
    pub fn pages(&self) -> &'a [Page] {
        self.pages
    }

    /// First pfn described.
    pub fn start_pfn(&self) -> usize {
        self.start_pfn
    }

    /// One past the last pfn described.
    pub fn end_pfn(&self) -> usize {
        self.start_pfn + self.pages.len()
    }

    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// No descriptors at all?
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Does the map describe `pfn`? (Linux `pfn_valid()` for FLATMEM.)
    pub fn contains(&self, pfn: usize) -> bool {
        pfn >= self.start_pfn && pfn < self.end_pfn()
    }

    /// The descriptor of frame `pfn` (Linux `pfn_to_page()`).
    pub fn pfn_to_page(&self, pfn: usize) -> &'a Page {
        assert!(
            self.contains(pfn),
            "pfn_to_page: pfn {pfn:#x} outside mem_map [{:#x}, {:#x})",
            self.start_pfn,
            self.end_pfn()
        );
        &self.pages[pfn - self.start_pfn]
    }

    /// The frame a descriptor describes (Linux `page_to_pfn()`): its index
    /// in the array, by pointer arithmetic. Panics if `page` is not an
    /// element of this map.
    pub fn page_to_pfn(&self, page: &Page) -> usize {
        let base = self.pages.as_ptr() as usize;
        let addr = page as *const Page as usize;
        let offset = addr.wrapping_sub(base);
        assert!(
            addr >= base
                && offset < size_of_val(self.pages)
                && offset.is_multiple_of(size_of::<Page>()),
            "page_to_pfn: struct page at {addr:#x} is not an element of mem_map at {base:#x} \
             ({} entries)",
            self.pages.len()
        );
        self.start_pfn + offset / size_of::<Page>()
    }
}

/// Helpers shared by the host tests of several files.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Page;

    /// A tiny xorshift64 generator: deterministic, good enough to shuffle
    /// allocator operations, no dependency.
    pub struct XorShift(u64);

    impl XorShift {
        pub fn new(seed: u64) -> Self {
            XorShift(seed.max(1))
        }
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        /// Uniform-ish in `0..n` (n > 0).
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// `n` fresh descriptors for a host-side `MemMap`.
    pub fn new_pages(n: usize) -> Vec<Page> {
        (0..n).map(|_| Page::new()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::new_pages;
    use super::*;
    use core::mem::MaybeUninit;

    #[test]
    fn page_fits_in_32_bytes() {
        assert!(size_of::<Page>() <= 32, "struct Page is {} bytes", size_of::<Page>());
    }

    #[test]
    fn new_page_is_reserved_and_unreferenced() {
        let p = Page::new();
        assert!(p.page_reserved());
        assert!(!p.page_buddy());
        assert_eq!(p.page_count(), 0);
        assert_eq!(p.page_virtual(), 0);
        assert_eq!(p.lru_next(), NO_PFN);
        assert_eq!(p.lru_prev(), NO_PFN);
    }

    #[test]
    fn zone_bits_round_trip_and_leave_flags_alone() {
        let p = Page::new();
        p.set_flag(PageFlags::PG_buddy);
        for zone in ZoneType::ALL {
            p.set_page_zone(zone);
            assert_eq!(p.page_zonenum(), zone);
            assert!(p.page_reserved() && p.page_buddy(), "zone bits clobbered the flags");
        }
        p.clear_flag(PageFlags::PG_reserved | PageFlags::PG_buddy);
        assert_eq!(p.flags(), PageFlags::empty());
        assert_eq!(p.page_zonenum(), ZoneType::HighMem, "clearing flags clobbered the zone");
        p.set_page_zone(ZoneType::Dma);
        assert_eq!(p.page_zonenum(), ZoneType::Dma);
    }

    #[test]
    fn refcount_get_and_put() {
        let p = Page::new();
        p.set_page_count(1);
        p.get_page();
        assert_eq!(p.page_count(), 2);
        assert!(!p.put_page_testzero());
        assert!(p.put_page_testzero());
        assert_eq!(p.page_count(), 0);
    }

    #[test]
    #[should_panic(expected = "refcount underflow")]
    fn put_on_free_page_panics() {
        Page::new().put_page_testzero();
    }

    #[test]
    #[should_panic(expected = "get_page() on a page with refcount 0")]
    fn get_on_free_page_panics() {
        Page::new().get_page();
    }

    #[test]
    fn order_and_virtual_accessors() {
        let p = Page::new();
        p.set_page_order(7);
        assert_eq!(p.page_order(), 7);
        p.set_page_virtual(0xFF80_3000);
        assert_eq!(p.page_virtual(), 0xFF80_3000);
    }

    #[test]
    fn pfn_page_round_trip_with_offset_map() {
        let pages = new_pages(64);
        let map = MemMap::new(&pages, 0x100);
        assert_eq!(map.len(), 64);
        assert_eq!(map.end_pfn(), 0x140);
        for pfn in map.start_pfn()..map.end_pfn() {
            assert_eq!(map.page_to_pfn(map.pfn_to_page(pfn)), pfn);
        }
        assert!(map.contains(0x100) && map.contains(0x13f));
        assert!(!map.contains(0xff) && !map.contains(0x140));
    }

    #[test]
    #[should_panic(expected = "pfn_to_page: pfn 0x140 outside mem_map [0x100, 0x140)")]
    fn pfn_outside_map_panics() {
        let pages = new_pages(64);
        MemMap::new(&pages, 0x100).pfn_to_page(0x140);
    }

    #[test]
    #[should_panic(expected = "is not an element of mem_map")]
    fn foreign_page_panics() {
        let pages = new_pages(4);
        let stranger = Page::new();
        MemMap::new(&pages, 0).page_to_pfn(&stranger);
    }

    #[test]
    fn init_mem_map_fills_raw_memory() {
        let mut raw: Vec<MaybeUninit<Page>> = Vec::with_capacity(10);
        // SAFETY: the Vec's buffer holds 10 aligned, unaliased Page slots
        // and outlives `pages`.
        let pages = unsafe { init_mem_map(raw.as_mut_ptr().cast::<Page>(), 10) };
        assert_eq!(pages.len(), 10);
        assert!(pages.iter().all(|p| p.page_reserved() && p.page_count() == 0));
        assert_eq!(mem_map_bytes(10) % PAGE_SIZE, 0);
        assert!(mem_map_bytes(10) >= 10 * size_of::<Page>());
        assert_eq!(mem_map_bytes(0), 0);
    }
}
