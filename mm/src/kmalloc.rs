//! The kernel heap's logic: kmalloc size classes on top of the page
//! allocator (Linux `mm/slab_common.c`, with a deliberately simple slab).
//!
//! The buddy allocator deals in whole pages; most kernel objects are tens
//! of bytes. kmalloc bridges the gap the way Linux does:
//!
//! * **Small requests** (up to `KMALLOC_MAX_CACHE_SIZE` = 2048 bytes) are
//!   rounded up to a power-of-two *size class*: 8, 16, 32, ..., 2048 (Linux's
//!   `kmalloc-8` ... `kmalloc-2k` caches). Each class is a cache (`KmemCache`)
//!   with a free list of equal objects. When the list is empty the cache
//!   takes one page from the page allocator and cuts it into `PAGE_SIZE /
//!   size` objects. Because a page is naturally aligned and the size is a
//!   power of two, every object is aligned to its size; so an alignment
//!   request is met by choosing the class `max(size, align)`.
//! * **Large requests** (more than 2048 bytes, or alignment above a page)
//!   go straight to the page allocator with `order = get_order(size)`, the
//!   smallest power-of-two number of pages that fits (Linux
//!   `kmalloc_large()`). Buddy blocks are aligned to their own size, which
//!   covers any alignment up to the block size.
//!
//! The free list is threaded through the free objects themselves: the first
//! word of a free object holds the address of the next one (SLUB's
//! "freepointer" at offset 0). A free object therefore costs no memory; the
//! price is that a use-after-free write can corrupt the list.
//!
//! **Pages are never given back** from a cache to the page allocator.
//! Returning a slab page requires knowing when *all* its objects are free,
//! i.e. a per-page count of objects in use and a way from an object's
//! address to its page's descriptor (Linux keeps both in `struct slab`,
//! overlaid on `struct page`, found with `virt_to_page()`). The
//! `PageSource` abstraction deliberately hides the descriptors, and a
//! teaching kernel's heap is small, so we accept that the heap keeps its
//! high-water mark of small-object pages (reported in `pages_held()`).
//! Large allocations are returned to the page allocator immediately.
//!
//! Locking: each cache has its own spin lock around its free list, and no
//! lock is held while calling the `PageSource`, so the page source may take
//! the zone lock (or anything else) without a lock-order problem. As with
//! the zone lock, the cache locks do not disable interrupts: kmalloc from an
//! interrupt handler needs interrupts disabled around every heap call.
//! `GlobalAlloc` is implemented in the kernel crate on top of this.

use core::alloc::Layout;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use spin::Mutex;

use crate::buddy::get_order;
use crate::layout::PAGE_SIZE;

/// Where kmalloc gets its pages from: in the kernel, the buddy allocator
/// with `GFP_KERNEL` (lowmem, so the pages have direct-map addresses).
pub trait PageSource {
    /// `2^order` contiguous, writable pages, by virtual address, aligned to
    /// `PAGE_SIZE << order` (never 0); `None` when out of memory.
    fn alloc_pages(&self, order: usize) -> Option<usize>;
    /// Give back a block obtained from `alloc_pages` with the same order.
    fn free_pages(&self, addr: usize, order: usize);
    /// The page at `addr` (from `alloc_pages(0)`) is now a slab page, cut
    /// into objects (Linux `__SetPageSlab`): the kernel marks its
    /// descriptor, so that whoever looks at the frame knows whose it is.
    fn mark_slab(&self, addr: usize) {
        let _ = addr;
    }
}

/// log2 of the smallest size class (Linux `KMALLOC_SHIFT_LOW`).
pub const KMALLOC_SHIFT_LOW: usize = 3;
/// log2 of the largest size class (Linux `KMALLOC_SHIFT_HIGH`; Linux's SLUB
/// goes up to two pages, we stop at half a page so that every slab page
/// holds at least two objects).
pub const KMALLOC_SHIFT_HIGH: usize = 11;
/// Smallest object: 8 bytes, enough for the free-list link on 32 and 64 bit.
pub const KMALLOC_MIN_SIZE: usize = 1 << KMALLOC_SHIFT_LOW;
/// Largest object served by a cache (Linux `KMALLOC_MAX_CACHE_SIZE`).
pub const KMALLOC_MAX_CACHE_SIZE: usize = 1 << KMALLOC_SHIFT_HIGH;
/// Number of size classes: 8, 16, ..., 2048.
pub const NR_KMALLOC_CACHES: usize = KMALLOC_SHIFT_HIGH - KMALLOC_SHIFT_LOW + 1;

/// A free object must be able to hold the link to the next one, aligned.
const _: () = assert!(KMALLOC_MIN_SIZE >= size_of::<usize>() && KMALLOC_MIN_SIZE >= align_of::<usize>());
/// A slab page holds at least two objects.
const _: () = assert!(KMALLOC_MAX_CACHE_SIZE * 2 <= PAGE_SIZE);

/// The size class for a `size`-byte request (`1 ..= KMALLOC_MAX_CACHE_SIZE`),
/// as its log2 (Linux `kmalloc_index()`): 1..=8 bytes give 3 (8 bytes),
/// 9..=16 give 4, ..., 1025..=2048 give 11.
pub const fn kmalloc_index(size: usize) -> usize {
    assert!(size <= KMALLOC_MAX_CACHE_SIZE, "kmalloc_index: size above the largest cache");
    if size <= KMALLOC_MIN_SIZE {
        KMALLOC_SHIFT_LOW
    } else {
        (usize::BITS - (size - 1).leading_zeros()) as usize
    }
}

/// Read the free-list link stored in the first word of the free object at
/// `obj`.
///
/// # Safety
///
/// `obj` must be a free object of a cache (on its list or being linked by
/// its owner), so at least `KMALLOC_MIN_SIZE` bytes owned by the cache and
/// aligned to `usize`.
unsafe fn get_freepointer(obj: usize) -> usize {
    // SAFETY: per the contract, `obj` is a live, aligned, cache-owned
    // object whose first word we wrote with `set_freepointer`.
    unsafe { ptr::with_exposed_provenance::<usize>(obj).read() }
}

/// Store the free-list link `next` in the first word of the free object
/// at `obj` (SLUB's `set_freepointer()`).
///
/// # Safety
///
/// `obj` must be memory the cache owns and nobody else uses: a free object
/// (just returned by the caller, or carved from a fresh page), at least
/// `KMALLOC_MIN_SIZE` bytes, aligned to `usize`.
unsafe fn set_freepointer(obj: usize, next: usize) {
    // SAFETY: per the contract, the cache owns the object exclusively, and
    // it is large and aligned enough for one usize.
    unsafe { ptr::with_exposed_provenance_mut::<usize>(obj).write(next) }
}

/// One size class (Linux `struct kmem_cache`, for a kmalloc cache).
#[derive(Debug)]
pub struct KmemCache {
    /// "kmalloc-8" ... "kmalloc-2048", as `/proc/slabinfo` would say.
    name: &'static str,
    /// Object size, a power of two; also the objects' alignment.
    size: usize,
    /// Address of the first free object, 0 when empty (a `PageSource`
    /// never hands out address 0).
    freelist: Mutex<usize>,
    /// Objects handed out and not yet freed (slabinfo `active_objs`).
    active_objs: AtomicUsize,
    /// Objects carved so far, free or not (slabinfo `num_objs`).
    num_objs: AtomicUsize,
}

impl KmemCache {
    const fn new(name: &'static str, size: usize) -> KmemCache {
        KmemCache {
            name,
            size,
            freelist: Mutex::new(0),
            active_objs: AtomicUsize::new(0),
            num_objs: AtomicUsize::new(0),
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Object size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Objects in use.
    pub fn active_objs(&self) -> usize {
        self.active_objs.load(Relaxed)
    }

    /// Objects carved from pages so far.
    pub fn num_objs(&self) -> usize {
        self.num_objs.load(Relaxed)
    }

    /// Pop a free object, if any.
    fn pop(&self) -> Option<usize> {
        let mut head = self.freelist.lock();
        if *head == 0 {
            return None;
        }
        let obj = *head;
        // SAFETY: `obj` is on our free list, so it is a free object we own,
        // and its first word holds the next link.
        *head = unsafe { get_freepointer(obj) };
        Some(obj)
    }

    /// Take an object: from the free list, or by cutting a new page into
    /// objects (Linux `___slab_alloc()` → `new_slab()`). `None` if the page
    /// source is out of memory.
    fn alloc(&self, source: &impl PageSource) -> Option<(usize, bool)> {
        if let Some(obj) = self.pop() {
            self.active_objs.fetch_add(1, Relaxed);
            return Some((obj, false));
        }
        // Not holding the lock here: the page source may take its own.
        let page = source.alloc_pages(0)?;
        assert!(
            page != 0 && page.is_multiple_of(PAGE_SIZE),
            "kmalloc: PageSource returned {page:#x}, not a page-aligned, non-null address"
        );
        source.mark_slab(page);
        let n = PAGE_SIZE / self.size;
        // Object 0 goes to the caller; objects 1..n are chained in address
        // order, and the chain is then put in front of the free list.
        let (first, last) = (page + self.size, page + (n - 1) * self.size);
        for i in 1..n - 1 {
            let obj = page + i * self.size;
            // SAFETY: `obj` lies in the page we just got, which nobody
            // else knows about; it is size-aligned (>= usize alignment).
            unsafe { set_freepointer(obj, obj + self.size) };
        }
        {
            let mut head = self.freelist.lock();
            // SAFETY: `last` is in our new page, as above.
            unsafe { set_freepointer(last, *head) };
            *head = first;
        }
        self.num_objs.fetch_add(n, Relaxed);
        self.active_objs.fetch_add(1, Relaxed);
        Some((page, true))
    }

    /// Put an object back on the free list (Linux `kmem_cache_free()`).
    ///
    /// # Safety
    ///
    /// `obj` must have come from this cache's `alloc` and not be in use.
    unsafe fn free(&self, obj: usize) {
        assert!(
            obj != 0 && obj.is_multiple_of(self.size),
            "kfree: {obj:#x} is not the start of a {} object",
            self.name
        );
        let mut head = self.freelist.lock();
        // SAFETY: the caller returns an object of this cache that it no
        // longer uses, so we own its memory again; it is size-aligned.
        unsafe { set_freepointer(obj, *head) };
        *head = obj;
        self.active_objs.fetch_sub(1, Relaxed);
    }
}

/// The kernel heap: one cache per size class plus the large-allocation path.
pub struct Kmalloc<P: PageSource> {
    source: P,
    /// `caches[i]` serves objects of `1 << (i + KMALLOC_SHIFT_LOW)` bytes
    /// (Linux `kmalloc_caches[]`).
    caches: [KmemCache; NR_KMALLOC_CACHES],
    /// Bytes handed out and not yet freed, counted at their rounded size
    /// (object size, or whole pages for large allocations): what the
    /// callers really occupy, internal fragmentation included.
    bytes_in_use: AtomicUsize,
    /// Pages currently obtained from the page source: every slab page ever
    /// carved (they are kept) plus the pages of live large allocations.
    pages_held: AtomicUsize,
    /// Of those, the slab pages: carved into objects, kept for good.
    slab_pages: AtomicUsize,
}

impl<P: PageSource> Kmalloc<P> {
    /// An empty heap drawing pages from `source`. `const`, so the kernel
    /// can keep it in a `static`.
    pub const fn new(source: P) -> Self {
        Kmalloc {
            source,
            caches: [
                KmemCache::new("kmalloc-8", 8),
                KmemCache::new("kmalloc-16", 16),
                KmemCache::new("kmalloc-32", 32),
                KmemCache::new("kmalloc-64", 64),
                KmemCache::new("kmalloc-128", 128),
                KmemCache::new("kmalloc-256", 256),
                KmemCache::new("kmalloc-512", 512),
                KmemCache::new("kmalloc-1024", 1024),
                KmemCache::new("kmalloc-2048", 2048),
            ],
            bytes_in_use: AtomicUsize::new(0),
            pages_held: AtomicUsize::new(0),
            slab_pages: AtomicUsize::new(0),
        }
    }

    /// The page source.
    pub fn source(&self) -> &P {
        &self.source
    }

    /// The size-class caches, smallest first (for a slabinfo command).
    pub fn caches(&self) -> &[KmemCache; NR_KMALLOC_CACHES] {
        &self.caches
    }

    /// Bytes allocated and not freed, at their rounded sizes.
    pub fn bytes_in_use(&self) -> usize {
        self.bytes_in_use.load(Relaxed)
    }

    /// Pages the heap holds from the page source.
    pub fn pages_held(&self) -> usize {
        self.pages_held.load(Relaxed)
    }

    /// Pages carved into size-class slabs: a high-water mark, never given
    /// back. What a leak count may excuse as the heap's own growth; the
    /// rest of [`pages_held`](Self::pages_held), live large allocations,
    /// is memory somebody holds.
    pub fn slab_pages(&self) -> usize {
        self.slab_pages.load(Relaxed)
    }

    /// Which path serves `layout`: `Ok(cache)` for a size class, `Err(order)`
    /// for whole pages.
    fn route(&self, layout: Layout) -> Result<&KmemCache, usize> {
        let want = layout.size().max(layout.align()).max(1);
        if want <= KMALLOC_MAX_CACHE_SIZE {
            Ok(&self.caches[kmalloc_index(want) - KMALLOC_SHIFT_LOW])
        } else {
            Err(get_order(want))
        }
    }

    /// Allocate memory for `layout` (Linux `kmalloc()`); null when out of
    /// memory. The memory is not zeroed.
    pub fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.route(layout) {
            Ok(cache) => {
                let Some((obj, new_page)) = cache.alloc(&self.source) else {
                    return ptr::null_mut();
                };
                if new_page {
                    self.pages_held.fetch_add(1, Relaxed);
                    self.slab_pages.fetch_add(1, Relaxed);
                }
                self.bytes_in_use.fetch_add(cache.size, Relaxed);
                ptr::with_exposed_provenance_mut(obj)
            }
            Err(order) => {
                let Some(addr) = self.source.alloc_pages(order) else {
                    return ptr::null_mut();
                };
                let bytes = PAGE_SIZE << order;
                assert!(
                    addr != 0 && addr.is_multiple_of(bytes),
                    "kmalloc: PageSource returned {addr:#x} for order {order}, not aligned to {bytes:#x}"
                );
                self.pages_held.fetch_add(1 << order, Relaxed);
                self.bytes_in_use.fetch_add(bytes, Relaxed);
                ptr::with_exposed_provenance_mut(addr)
            }
        }
    }

    /// Free memory from `alloc` (Linux `kfree()`); a null `ptr` is ignored,
    /// as `kfree(NULL)` is.
    ///
    /// # Safety
    ///
    /// `ptr` must be null or have been returned by `self.alloc(layout)` with
    /// this same `layout`, and must not be used after this call.
    pub unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr.is_null() {
            return;
        }
        let addr = ptr.expose_provenance();
        match self.route(layout) {
            Ok(cache) => {
                // SAFETY: the caller gives back an object that `alloc` took
                // from this cache (same layout, same route) and stops using it.
                unsafe { cache.free(addr) };
                self.bytes_in_use.fetch_sub(cache.size, Relaxed);
            }
            Err(order) => {
                self.source.free_pages(addr, order);
                self.pages_held.fetch_sub(1 << order, Relaxed);
                self.bytes_in_use.fetch_sub(PAGE_SIZE << order, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Mutex as StdMutex;

    use super::*;
    use crate::page::test_support::XorShift;

    /// Pages from the host allocator, aligned to their size like buddy
    /// blocks, with a budget to simulate running out.
    struct HostPages {
        live: StdMutex<HashMap<usize, usize>>,
        budget_pages: AtomicUsize,
    }

    impl HostPages {
        fn new(budget_pages: usize) -> Self {
            HostPages { live: StdMutex::new(HashMap::new()), budget_pages: AtomicUsize::new(budget_pages) }
        }
        fn live_pages(&self) -> usize {
            self.live.lock().unwrap().values().map(|&o| 1 << o).sum()
        }
        fn layout(order: usize) -> Layout {
            Layout::from_size_align(PAGE_SIZE << order, PAGE_SIZE << order).unwrap()
        }
    }

    impl PageSource for HostPages {
        fn alloc_pages(&self, order: usize) -> Option<usize> {
            let n = 1 << order;
            self.budget_pages.fetch_update(Relaxed, Relaxed, |b| b.checked_sub(n)).ok()?;
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc(Self::layout(order)) };
            assert!(!p.is_null());
            let addr = p.expose_provenance();
            self.live.lock().unwrap().insert(addr, order);
            Some(addr)
        }
        fn free_pages(&self, addr: usize, order: usize) {
            let recorded = self.live.lock().unwrap().remove(&addr);
            assert_eq!(recorded, Some(order), "free_pages({addr:#x}, {order}) of a block not handed out");
            // SAFETY: `addr` came from `std::alloc::alloc` with this layout.
            unsafe { std::alloc::dealloc(ptr::with_exposed_provenance_mut(addr), Self::layout(order)) };
            self.budget_pages.fetch_add(1 << order, Relaxed);
        }
    }

    impl Drop for HostPages {
        fn drop(&mut self) {
            for (addr, order) in self.live.get_mut().unwrap().drain() {
                // SAFETY: as in free_pages; the heap is gone, so nobody uses it.
                unsafe { std::alloc::dealloc(ptr::with_exposed_provenance_mut(addr), Self::layout(order)) };
            }
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn size_classes() {
        assert_eq!(kmalloc_index(1), 3);
        assert_eq!(kmalloc_index(8), 3);
        assert_eq!(kmalloc_index(9), 4);
        assert_eq!(kmalloc_index(16), 4);
        assert_eq!(kmalloc_index(1025), 11);
        assert_eq!(kmalloc_index(2048), 11);
        let heap = Kmalloc::new(HostPages::new(usize::MAX));
        for (i, c) in heap.caches().iter().enumerate() {
            assert_eq!(c.size(), 1 << (i + KMALLOC_SHIFT_LOW));
            assert_eq!(c.name(), format!("kmalloc-{}", c.size()));
        }
    }

    #[test]
    fn freed_object_is_reused() {
        let heap = Kmalloc::new(HostPages::new(usize::MAX));
        let a = heap.alloc(layout(64, 8));
        let b = heap.alloc(layout(64, 8));
        assert_eq!(b as usize - a as usize, 64, "consecutive objects of one page");
        assert_eq!(heap.pages_held(), 1);
        assert_eq!(heap.bytes_in_use(), 128);
        // SAFETY: `a` came from this heap with this layout.
        unsafe { heap.dealloc(a, layout(64, 8)) };
        // A 40-byte request rounds to the same class and gets `a` back.
        let c = heap.alloc(layout(40, 1));
        assert_eq!(c, a);
        assert_eq!(heap.caches()[3].active_objs(), 2);
        assert_eq!(heap.caches()[3].num_objs(), PAGE_SIZE / 64);
        // Alignment picks the class: 8 bytes aligned to 256 is a 256 object.
        let d = heap.alloc(layout(8, 256));
        assert_eq!(d as usize % 256, 0);
        assert_eq!(heap.caches()[5].active_objs(), 1);
        assert_eq!(heap.pages_held(), 2);
        // SAFETY: each pointer came from this heap with these layouts.
        unsafe {
            heap.dealloc(b, layout(64, 8));
            heap.dealloc(c, layout(40, 1));
            heap.dealloc(d, layout(8, 256));
            heap.dealloc(ptr::null_mut(), layout(8, 8));
        }
        assert_eq!(heap.bytes_in_use(), 0);
        assert_eq!(heap.pages_held(), 2, "slab pages are kept");
        assert_eq!(heap.slab_pages(), 2);
    }

    #[test]
    fn large_and_over_aligned_requests_use_pages() {
        let heap = Kmalloc::new(HostPages::new(usize::MAX));
        let big = heap.alloc(layout(3 * PAGE_SIZE, 8)); // order 2
        assert_eq!(big as usize % (4 * PAGE_SIZE), 0);
        assert_eq!(heap.pages_held(), 4);
        let aligned = heap.alloc(layout(16, 4 * PAGE_SIZE)); // order 2 for alignment
        assert_eq!(aligned as usize % (4 * PAGE_SIZE), 0);
        let just_over = heap.alloc(layout(2049, 1)); // order 0
        assert_eq!(heap.pages_held(), 9);
        assert_eq!(heap.slab_pages(), 0, "large allocations are no slab pages");
        assert_eq!(heap.bytes_in_use(), 9 * PAGE_SIZE);
        // SAFETY: each pointer came from this heap with these layouts.
        unsafe {
            heap.dealloc(big, layout(3 * PAGE_SIZE, 8));
            heap.dealloc(aligned, layout(16, 4 * PAGE_SIZE));
            heap.dealloc(just_over, layout(2049, 1));
        }
        assert_eq!(heap.pages_held(), 0, "large allocations go straight back");
        assert_eq!(heap.source().live_pages(), 0);
    }

    #[test]
    fn out_of_pages_returns_null() {
        let heap = Kmalloc::new(HostPages::new(1));
        assert!(heap.alloc(layout(2 * PAGE_SIZE, 8)).is_null(), "order 1 needs 2 pages");
        let objs: Vec<_> = (0..PAGE_SIZE / 2048).map(|_| heap.alloc(layout(2048, 8))).collect();
        assert!(objs.iter().all(|p| !p.is_null()));
        assert!(heap.alloc(layout(2048, 8)).is_null(), "the one page is used up");
        assert!(heap.alloc(layout(8, 8)).is_null(), "no page for a new cache either");
        assert_eq!(heap.bytes_in_use(), PAGE_SIZE);
    }

    #[test]
    #[should_panic(expected = "is not the start of a kmalloc-64 object")]
    fn freeing_a_misaligned_pointer_panics() {
        let heap = Kmalloc::new(HostPages::new(usize::MAX));
        let p = heap.alloc(layout(64, 8));
        // SAFETY: deliberately wrong; the check fires before any write.
        unsafe { heap.dealloc(p.wrapping_add(8), layout(64, 8)) };
    }

    /// Fill `[p, p + len)` with a pattern derived from `tag`.
    fn fill(p: *mut u8, len: usize, tag: u8) {
        // SAFETY: the callers pass a live allocation of at least `len` bytes.
        unsafe { ptr::write_bytes(p, tag, len) };
    }

    /// Check the pattern written by `fill`.
    fn check(p: *mut u8, len: usize, tag: u8) {
        // SAFETY: as in `fill`: a live allocation of `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p, len) };
        assert!(bytes.iter().all(|&b| b == tag), "contents of {p:p} changed");
    }

    #[test]
    fn random_mixed_allocations_are_aligned_disjoint_and_preserved() {
        let heap = Kmalloc::new(HostPages::new(usize::MAX));
        let mut rng = XorShift::new(42);
        // start -> (end, layout, tag)
        let mut live: BTreeMap<usize, (usize, Layout, u8)> = BTreeMap::new();
        let mut reused = 0;
        let mut freed_recently: Vec<usize> = Vec::new();
        for op in 0..50_000 {
            if live.is_empty() || rng.below(100) < 55 {
                let size = match rng.below(10) {
                    0 => rng.below(5 * PAGE_SIZE) + 1,
                    1 => 0,
                    _ => rng.below(KMALLOC_MAX_CACHE_SIZE) + 1,
                };
                let align = 1 << if rng.below(50) == 0 { rng.below(15) } else { rng.below(5) };
                let l = layout(size, align);
                let p = heap.alloc(l);
                assert!(!p.is_null());
                let start = p as usize;
                assert_eq!(start % align, 0, "op {op}: {l:?} misaligned at {start:#x}");
                let end = start + size.max(1);
                if let Some((&s, &(e, _, _))) = live.range(..end).next_back() {
                    assert!(e <= start, "op {op}: [{start:#x}, {end:#x}) overlaps [{s:#x}, {e:#x})");
                }
                if freed_recently.contains(&start) {
                    reused += 1;
                }
                let tag = rng.next() as u8;
                fill(p, size, tag);
                live.insert(start, (end, l, tag));
            } else {
                let key = *live.keys().nth(rng.below(live.len())).unwrap();
                let (_, l, tag) = live.remove(&key).unwrap();
                let p = ptr::with_exposed_provenance_mut::<u8>(key);
                check(p, l.size(), tag);
                // SAFETY: `p` came from this heap with layout `l` and is
                // no longer in `live`.
                unsafe { heap.dealloc(p, l) };
                freed_recently.push(key);
                if freed_recently.len() > 64 {
                    freed_recently.remove(0);
                }
            }
        }
        assert!(reused > 1000, "freed objects are not being reused ({reused})");
        for (start, (_, l, tag)) in std::mem::take(&mut live) {
            let p = ptr::with_exposed_provenance_mut::<u8>(start);
            check(p, l.size(), tag);
            // SAFETY: as above.
            unsafe { heap.dealloc(p, l) };
        }
        assert_eq!(heap.bytes_in_use(), 0);
        assert!(heap.caches().iter().all(|c| c.active_objs() == 0));
        // What remains held is exactly the slab pages, and the page source
        // agrees.
        let slab_pages: usize = heap.caches().iter().map(|c| c.num_objs() * c.size() / PAGE_SIZE).sum();
        assert_eq!(heap.pages_held(), slab_pages);
        assert_eq!(heap.source().live_pages(), slab_pages);
    }

    #[test]
    fn concurrent_use_keeps_objects_private() {
        let heap = Kmalloc::new(HostPages::new(usize::MAX));
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let heap = &heap;
                s.spawn(move || {
                    let mut rng = XorShift::new(t + 7);
                    let mut mine: Vec<(usize, Layout, u8)> = Vec::new();
                    for _ in 0..10_000 {
                        if mine.is_empty() || rng.below(2) == 0 {
                            let l = layout(rng.below(3000) + 1, 8);
                            let p = heap.alloc(l);
                            let tag = rng.next() as u8;
                            fill(p, l.size(), tag);
                            mine.push((p as usize, l, tag));
                        } else {
                            let (a, l, tag) = mine.swap_remove(rng.below(mine.len()));
                            let p = ptr::with_exposed_provenance_mut::<u8>(a);
                            check(p, l.size(), tag);
                            // SAFETY: `p` came from this heap with layout `l`.
                            unsafe { heap.dealloc(p, l) };
                        }
                    }
                    for (a, l, tag) in mine {
                        let p = ptr::with_exposed_provenance_mut::<u8>(a);
                        check(p, l.size(), tag);
                        // SAFETY: as above.
                        unsafe { heap.dealloc(p, l) };
                    }
                });
            }
        });
        assert_eq!(heap.bytes_in_use(), 0);
    }
}
