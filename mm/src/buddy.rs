//! The binary buddy allocator (Linux `mm/page_alloc.c`).
//!
//! ## The idea
//!
//! Free memory is kept as blocks of `2^order` pages, for orders
//! `0..MAX_ORDER`. A block of order `k` always starts at a pfn that is a
//! multiple of `2^k` ("naturally aligned"). Each such block has exactly one
//! *buddy*: the other half of the order `k+1` block that contains it. The two
//! halves differ only in bit `k` of their pfn, so
//!
//! ```text
//!     buddy_pfn = pfn ^ (1 << order)          (find_buddy_pfn)
//!
//!     order 2:  [ 8  9 10 11][12 13 14 15]    8 ^ 4 = 12, 12 ^ 4 = 8
//!     order 3:  [ 8  9 10 11 12 13 14 15]    their parent starts at 8 & 12
//! ```
//!
//! * **Allocating** order `n`: take a block from the smallest non-empty list
//!   of order `k >= n` (`__rmqueue_smallest`). If `k > n`, split it: keep the
//!   lower half and put the upper half on list `k-1`, again and again until
//!   the kept part has order `n` (`expand`).
//! * **Freeing** order `n`: look at the buddy. If it is free *and* a whole
//!   block of the same order, take it off its list and merge the two into
//!   one block of order `n+1`; repeat with the bigger block
//!   (`__free_one_page`). Freeing therefore undoes splitting, and a fully
//!   free zone always returns to the same few large blocks.
//!
//! Both are `O(MAX_ORDER)` list operations; no searching and no per-page
//! bitmap, because the free-block state lives in the page descriptors
//! (`PG_buddy` and the order in `private` on the block's first page).
//!
//! ## Where the lists live
//!
//! `FreeArea` is the zone's array of lists (Linux `zone->free_area[]`); one
//! `FreeList` is one order's list and count (Linux `struct free_area`,
//! without migrate types). Lists are intrusive and doubly linked through
//! `Page::lru_next/lru_prev`, which hold pfns, so a free block costs no
//! memory beyond its own descriptors, and a block can be unlinked from the
//! middle of its list in `O(1)` when its buddy is freed.
//!
//! All functions here expect the zone lock to be held (they take the
//! `&mut FreeArea` that the lock guard hands out).

use crate::layout::PAGE_SHIFT;
use crate::page::{MemMap, NO_PFN, PageFlags};
use crate::zone::Zone;

/// Number of block orders: orders are `0..MAX_ORDER`, so the largest block
/// has order `MAX_ORDER - 1` = 10, that is 1024 pages = 4 MiB. This is
/// Linux's classic `MAX_ORDER` (exclusive). Recent kernels changed the
/// spelling: the largest order is `MAX_PAGE_ORDER` = 10 and the number of
/// orders `NR_PAGE_ORDERS` = 11; the allocator is the same.
pub const MAX_ORDER: usize = 11;

/// Smallest order whose block holds `size` bytes (Linux `get_order()`).
/// `get_order(0)` is 0, like Linux's (which calls it undefined).
pub const fn get_order(size: usize) -> usize {
    let pages = size.div_ceil(1 << PAGE_SHIFT);
    if pages <= 1 { 0 } else { (usize::BITS - (pages - 1).leading_zeros()) as usize }
}

/// The free blocks of one order (Linux `struct free_area`): the head of an
/// intrusive list of block heads, by pfn, and how many blocks are on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeList {
    /// Pfn of the first block, or `NO_PFN` when the list is empty.
    pub head: u32,
    /// Blocks on the list (Linux `free_area.nr_free`, which counts blocks,
    /// not pages).
    pub nr_free: usize,
}

impl FreeList {
    /// An empty list.
    pub const fn new() -> FreeList {
        FreeList { head: NO_PFN, nr_free: 0 }
    }

    /// Is the list empty?
    pub fn is_empty(&self) -> bool {
        self.head == NO_PFN
    }

    /// Push the block at `pfn` on the front (Linux `list_add`).
    fn push(&mut self, map: &MemMap, pfn: usize) {
        let page = map.pfn_to_page(pfn);
        page.set_lru(NO_PFN, self.head);
        if self.head != NO_PFN {
            map.pfn_to_page(self.head as usize).set_lru_prev(pfn as u32);
        }
        self.head = pfn as u32;
        self.nr_free += 1;
    }

    /// Unlink the block at `pfn`, wherever it is on the list (Linux
    /// `list_del`). The caller knows it is on this list.
    fn remove(&mut self, map: &MemMap, pfn: usize) {
        let page = map.pfn_to_page(pfn);
        let (prev, next) = (page.lru_prev(), page.lru_next());
        if prev == NO_PFN {
            debug_assert_eq!(self.head, pfn as u32, "free list corrupted at pfn {pfn:#x}");
            self.head = next;
        } else {
            map.pfn_to_page(prev as usize).set_lru_next(next);
        }
        if next != NO_PFN {
            map.pfn_to_page(next as usize).set_lru_prev(prev);
        }
        page.set_lru(NO_PFN, NO_PFN);
        self.nr_free -= 1;
    }

    /// Call `f(pfn)` for every block on the list, from the head.
    pub fn for_each(&self, map: &MemMap, mut f: impl FnMut(usize)) {
        let mut pfn = self.head;
        while pfn != NO_PFN {
            f(pfn as usize);
            pfn = map.pfn_to_page(pfn as usize).lru_next();
        }
    }
}

impl Default for FreeList {
    fn default() -> Self {
        FreeList::new()
    }
}

/// A zone's free lists, one per order (Linux `zone->free_area[MAX_ORDER]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeArea {
    /// `lists[k]` holds the free blocks of `2^k` pages.
    pub lists: [FreeList; MAX_ORDER],
}

impl FreeArea {
    /// All lists empty.
    pub const fn new() -> FreeArea {
        FreeArea { lists: [FreeList::new(); MAX_ORDER] }
    }
}

impl Default for FreeArea {
    fn default() -> Self {
        FreeArea::new()
    }
}

/// Pfn of the buddy of the order-`order` block at `pfn` (Linux
/// `__find_buddy_pfn()`): flip bit `order`.
///
/// If `pfn` is the lower half of its parent block, bit `order` is 0 and the
/// buddy is the upper half, `pfn + 2^order`; if it is the upper half, the
/// buddy is `pfn - 2^order`. The parent block starts at `pfn & buddy_pfn`.
pub const fn find_buddy_pfn(pfn: usize, order: usize) -> usize {
    pfn ^ (1 << order)
}

/// Can the block at `buddy_pfn` be merged with its order-`order` buddy
/// that is being freed? (Linux `page_is_buddy()`.) Only if
///
/// * it is inside this zone's span: blocks never merge across zones, whose
///   boundaries need not be aligned to a large order (Linux compares
///   `page_zone_id()`), and inside `mem_map` (Linux `pfn_valid()`);
/// * it is the head of a free block (`PG_buddy`): a reserved page, an
///   allocated page or a page in the middle of a free block is not;
/// * that free block has exactly the same order: a smaller free block there
///   means part of the buddy is still allocated.
pub fn page_is_buddy(map: &MemMap, buddy_pfn: usize, order: usize, zone: &Zone) -> bool {
    if !zone.contains_pfn(buddy_pfn) || !map.contains(buddy_pfn) {
        return false;
    }
    let buddy = map.pfn_to_page(buddy_pfn);
    buddy.page_buddy() && buddy.page_order() == order
}

/// Mark the block at `pfn` free with `order` and put it on its list (Linux
/// `set_buddy_order()` + `add_to_free_list()`).
fn add_to_free_list(area: &mut FreeArea, map: &MemMap, pfn: usize, order: usize) {
    let page = map.pfn_to_page(pfn);
    page.set_page_order(order);
    page.set_flag(PageFlags::PG_buddy);
    area.lists[order].push(map, pfn);
}

/// Take the free block at `pfn` off its list and clear its free-block mark
/// (Linux `del_page_from_free_list()`).
fn del_page_from_free_list(area: &mut FreeArea, map: &MemMap, pfn: usize, order: usize) {
    area.lists[order].remove(map, pfn);
    let page = map.pfn_to_page(pfn);
    page.clear_flag(PageFlags::PG_buddy);
    page.set_page_order(0);
}

/// Free the block of `2^order` pages at `pfn` into `area`, merging it with
/// its buddies for as long as they are free (Linux `__free_one_page()`).
///
/// ```text
///  free pfn 12, order 0, with 13 free (order 0) and 8..12 free (order 2):
///    buddy of 12/0 is 13: free, order 0   -> merge, block 12/1
///    buddy of 12/1 is 14: not a free head -> stop, insert 12/1
///  later free 14, order 1:
///    buddy of 14/1 is 12: free, order 1   -> merge, block 12/2
///    buddy of 12/2 is  8: free, order 2   -> merge, block 8/3 ...
/// ```
///
/// The caller holds the zone lock, has checked the block (see
/// `free_pages_prepare`) and updates the zone's free-page counter.
pub fn __free_one_page(area: &mut FreeArea, map: &MemMap, pfn: usize, order: usize, zone: &Zone) {
    let mut pfn = pfn;
    let mut order = order;
    while order < MAX_ORDER - 1 {
        let buddy_pfn = find_buddy_pfn(pfn, order);
        if !page_is_buddy(map, buddy_pfn, order, zone) {
            break;
        }
        // The buddy is a whole free block of our order: absorb it.
        del_page_from_free_list(area, map, buddy_pfn, order);
        // The merged block starts at the lower of the two pfns, which is
        // the one with bit `order` clear.
        pfn &= buddy_pfn;
        order += 1;
    }
    add_to_free_list(area, map, pfn, order);
}

/// Split the free block of order `high` at `pfn` down to order `low`,
/// keeping the lowest `2^low` pages for the caller (Linux `expand()`).
///
/// Each round halves the block and puts the *upper* half on the free list
/// one order down:
///
/// ```text
///  pfn 0, high 3, low 0:   [0 .. 8)
///    -> free [4, 8) on list 2, keep [0, 4)
///    -> free [2, 4) on list 1, keep [0, 2)
///    -> free [1, 2) on list 0, keep [0, 1)
/// ```
pub fn expand(area: &mut FreeArea, map: &MemMap, pfn: usize, low: usize, high: usize) {
    let mut high = high;
    let mut size = 1usize << high;
    while high > low {
        high -= 1;
        size >>= 1;
        add_to_free_list(area, map, pfn + size, high);
    }
}

/// Take a block of order `order` from the smallest list that can supply it
/// (Linux `__rmqueue_smallest()`), splitting a larger one if needed.
/// Returns the block's first pfn, or `None` if every list of order
/// `>= order` is empty.
///
/// Choosing the *smallest* sufficient block keeps large blocks whole for
/// the requests that need them.
pub fn __rmqueue_smallest(area: &mut FreeArea, map: &MemMap, order: usize) -> Option<usize> {
    for current_order in order..MAX_ORDER {
        let head = area.lists[current_order].head;
        if head == NO_PFN {
            continue;
        }
        let pfn = head as usize;
        del_page_from_free_list(area, map, pfn, current_order);
        expand(area, map, pfn, order, current_order);
        return Some(pfn);
    }
    None
}

/// The checks made when a caller drops its reference to a block, before the
/// reference count is touched (the argument checks of Linux
/// `__free_pages()` and the page-state checks of `free_page_is_bad()`).
/// Each failure is a kernel bug and panics with the pfn:
///
/// * `order` is not below `MAX_ORDER`;
/// * the block is not inside the zone;
/// * `pfn` is not aligned to `order` (it cannot be a block of that order);
/// * the page is `PG_reserved` (never the buddy's to take back);
/// * the page is already free: a free block head, or refcount 0
///   ("double free");
/// * the block was allocated with a different order (we keep the
///   allocation order in `private`; Linux catches the same mistake only for
///   compound pages).
pub fn free_pages_check_entry(map: &MemMap, zone: &Zone, pfn: usize, order: usize) {
    assert!(order < MAX_ORDER, "BUG: freeing pfn {pfn:#x} at order {order}: orders stop at {}", MAX_ORDER - 1);
    let end = pfn + (1 << order);
    assert!(
        pfn >= zone.zone_start_pfn() && end <= zone.zone_end_pfn(),
        "BUG: freeing pfn range [{pfn:#x}, {end:#x}) outside zone {} [{:#x}, {:#x})",
        zone.name(),
        zone.zone_start_pfn(),
        zone.zone_end_pfn()
    );
    assert!(
        pfn & ((1 << order) - 1) == 0,
        "BUG: freeing pfn {pfn:#x} at order {order}: not aligned to its order (pfn must be a \
         multiple of {:#x})",
        1usize << order
    );
    let page = map.pfn_to_page(pfn);
    assert!(!page.page_reserved(), "BUG: Bad page state: freeing reserved pfn {pfn:#x} (order {order})");
    assert!(
        !page.page_buddy() && page.page_count() > 0,
        "BUG: Bad page state: double free of pfn {pfn:#x} (order {order})"
    );
    assert!(
        page.page_order() == order,
        "BUG: freeing pfn {pfn:#x} at order {order}, but it was allocated at order {}",
        page.page_order()
    );
}

/// Check the rest of a block whose last reference is gone, before it goes
/// back on the free lists (Linux `free_pages_prepare()`, which checks every
/// page of the block the same way). The pages after the head must be plain
/// tail pages: not reserved, not a free block's head, not referenced. A
/// failure means the block overlaps memory that is reserved, free or owned
/// by someone else.
pub fn free_pages_prepare(map: &MemMap, pfn: usize, order: usize) {
    for tail in pfn + 1..pfn + (1 << order) {
        let page = map.pfn_to_page(tail);
        assert!(
            !page.page_reserved() && !page.page_buddy() && page.page_count() == 0,
            "BUG: Bad page state: pfn {tail:#x} inside the order-{order} block at pfn {pfn:#x} \
             being freed is {} (flags {:?}, refcount {})",
            if page.page_reserved() {
                "reserved"
            } else if page.page_buddy() {
                "already free"
            } else {
                "in use"
            },
            page.flags(),
            page.page_count()
        );
    }
    let head = map.pfn_to_page(pfn);
    // Linux's PAGE_FLAGS_CHECK_AT_FREE: a page freed while locked means
    // someone will unlock (and wake waiters on) a page that is no longer
    // theirs. PG_uptodate is state of the page's last owner: cleared, as
    // Linux clears PAGE_FLAGS_CHECK_AT_PREP, so the next owner's page
    // cache does not take stale contents for valid ones.
    assert!(!head.page_locked(), "BUG: Bad page state: pfn {pfn:#x} freed while PG_locked");
    head.clear_flag(crate::page::PageFlags::PG_uptodate);
    head.set_page_order(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::test_support::new_pages;
    use crate::page::Page;
    use crate::zone::ZoneType;

    /// A zone spanning `[start, end)` of a map of `pages`, with
    /// `[start, end)` handed to the buddy allocator.
    fn zone_with(pages: &[Page], start: usize, end: usize) -> (MemMap<'_>, Zone) {
        let map = MemMap::new(pages, 0);
        let zone = Zone::new(ZoneType::Normal);
        zone.init_span(start, end);
        zone.memmap_init_zone(&map);
        zone.free_boot_range(&map, start, end);
        (map, zone)
    }

    fn free_blocks(zone: &Zone, map: &MemMap) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        zone.for_each_free_block(map, |pfn, order| v.push((pfn, order)));
        v.sort();
        v
    }

    #[test]
    fn buddy_pfn_arithmetic() {
        assert_eq!(find_buddy_pfn(8, 2), 12);
        assert_eq!(find_buddy_pfn(12, 2), 8);
        assert_eq!(find_buddy_pfn(0, 10), 1024);
        assert_eq!(find_buddy_pfn(1025, 0), 1024);
        for pfn in (0..4096).step_by(16) {
            for order in 0..4 {
                let b = find_buddy_pfn(pfn, order);
                assert_eq!(find_buddy_pfn(b, order), pfn, "buddy of buddy is self");
                assert_eq!(pfn & b, pfn.min(b), "parent starts at the lower one");
                assert_eq!(pfn.abs_diff(b), 1 << order);
            }
        }
    }

    #[test]
    fn get_order_rounds_up_to_power_of_two_pages() {
        assert_eq!(get_order(1), 0);
        assert_eq!(get_order(4096), 0);
        assert_eq!(get_order(4097), 1);
        assert_eq!(get_order(8192), 1);
        assert_eq!(get_order(3 * 4096), 2);
        assert_eq!(get_order(4 << 20), 10);
    }

    #[test]
    fn splitting_leaves_one_block_per_lower_order() {
        let pages = new_pages(1024);
        let (map, zone) = zone_with(&pages, 0, 1024);
        let mut counts = [0; MAX_ORDER];
        counts[MAX_ORDER - 1] = 1;
        assert_eq!(zone.free_list_counts(), counts, "a fresh 4 MiB zone is one order-10 block");

        let pfn = zone.alloc(&map, 0).unwrap();
        assert_eq!(pfn, 0, "the lower half is kept at every split");
        assert_eq!(zone.free_list_counts(), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
        // The halves given back are exactly [1,2), [2,4), [4,8), ..., [512,1024).
        let expect: Vec<_> = (0..MAX_ORDER - 1).map(|o| (1 << o, o)).collect();
        assert_eq!(free_blocks(&zone, &map), expect);
        assert_eq!(zone.nr_free_pages(), 1023);
        let page = map.pfn_to_page(pfn);
        assert_eq!(page.page_count(), 1);
        assert!(!page.page_buddy());
    }

    #[test]
    fn freeing_coalesces_back_to_one_block() {
        let pages = new_pages(1024);
        let (map, zone) = zone_with(&pages, 0, 1024);
        let all: Vec<_> = (0..1024).map(|_| zone.alloc(&map, 0).unwrap()).collect();
        assert_eq!(zone.nr_free_pages(), 0);
        assert_eq!(zone.alloc(&map, 0), None);
        // Free in an order that forces merges at every level.
        for &pfn in all.iter().rev().step_by(2).chain(all.iter().step_by(2)) {
            zone.free(&map, pfn, 0);
        }
        assert_eq!(free_blocks(&zone, &map), vec![(0, MAX_ORDER - 1)]);
        assert_eq!(zone.nr_free_pages(), 1024);
        assert!(pages.iter().skip(1).all(|p| !p.page_buddy() && p.page_count() == 0));
    }

    #[test]
    fn a_freed_page_loses_pg_uptodate_and_the_page_lock_is_exclusive() {
        let pages = new_pages(16);
        let (map, zone) = zone_with(&pages, 0, 16);
        let pfn = zone.alloc(&map, 0).unwrap();
        let page = map.pfn_to_page(pfn);
        assert!(page.trylock(), "a fresh page is unlocked");
        assert!(!page.trylock(), "a second trylock fails while it is held");
        assert!(page.page_locked());
        page.unlock();
        assert!(!page.page_locked() && page.trylock(), "unlocked, it can be taken again");
        page.unlock();
        page.set_uptodate();
        zone.free(&map, pfn, 0);
        let again = zone.alloc(&map, 0).unwrap();
        assert_eq!(again, pfn, "the same frame comes back");
        assert!(!map.pfn_to_page(again).page_uptodate(), "without its old owner's PG_uptodate");
    }

    #[test]
    #[should_panic(expected = "freed while PG_locked")]
    fn freeing_a_locked_page_is_a_bad_page_state() {
        let pages = new_pages(16);
        let (map, zone) = zone_with(&pages, 0, 16);
        let pfn = zone.alloc(&map, 0).unwrap();
        assert!(map.pfn_to_page(pfn).trylock());
        zone.free(&map, pfn, 0);
    }

    #[test]
    #[should_panic(expected = "not locked")]
    fn unlocking_an_unlocked_page_is_a_bug() {
        Page::new().unlock();
    }

    #[test]
    fn mixed_orders_split_and_merge() {
        let pages = new_pages(1024);
        let (map, zone) = zone_with(&pages, 0, 1024);
        let a = zone.alloc(&map, 3).unwrap();
        let b = zone.alloc(&map, 0).unwrap();
        let c = zone.alloc(&map, 5).unwrap();
        assert_eq!((a, b, c), (0, 8, 32));
        assert_eq!(zone.nr_free_pages(), 1024 - 8 - 1 - 32);
        zone.free(&map, a, 3);
        zone.free(&map, c, 5);
        // b alone still splits the space: [8] is allocated.
        assert_eq!(zone.free_list_counts().iter().sum::<usize>(), 10);
        zone.free(&map, b, 0);
        assert_eq!(free_blocks(&zone, &map), vec![(0, MAX_ORDER - 1)]);
    }

    #[test]
    fn blocks_do_not_merge_across_zone_boundary() {
        // Zone [8, 24): the buddies of [8,16) and [16,24) at order 3 are each
        // other's, but [0, 8) is outside: no order-4 block can form.
        let pages = new_pages(32);
        let (map, zone) = zone_with(&pages, 8, 24);
        assert_eq!(free_blocks(&zone, &map), vec![(8, 3), (16, 3)]);
    }

    #[test]
    fn blocks_do_not_merge_with_a_free_buddy_in_the_next_zone() {
        // DMA [0, 8) and Normal [8, 16) share one mem_map. Both are wholly
        // free, so 0/3 and 8/3 are free order-3 blocks and each other's
        // buddy: only the zone check keeps Normal's block from swallowing
        // DMA's.
        let pages = new_pages(16);
        let map = MemMap::new(&pages, 0);
        let dma = Zone::new(ZoneType::Dma);
        dma.init_span(0, 8);
        dma.memmap_init_zone(&map);
        dma.free_boot_range(&map, 0, 8);
        let normal = Zone::new(ZoneType::Normal);
        normal.init_span(8, 16);
        normal.memmap_init_zone(&map);
        normal.free_boot_range(&map, 8, 16);
        assert_eq!(free_blocks(&dma, &map), vec![(0, 3)]);
        assert_eq!(free_blocks(&normal, &map), vec![(8, 3)]);
    }

    #[test]
    fn free_list_links_push_front_and_unlink_anywhere() {
        let pages = new_pages(16);
        let map = MemMap::new(&pages, 0);
        let mut list = FreeList::new();
        assert!(list.is_empty());
        for pfn in [2, 5, 9] {
            list.push(&map, pfn);
        }
        assert!(!list.is_empty());
        let on_list = |list: &FreeList| {
            let mut v = Vec::new();
            list.for_each(&map, |pfn| v.push(pfn));
            v
        };
        assert_eq!((on_list(&list), list.nr_free), (vec![9, 5, 2], 3), "push adds at the head");
        list.remove(&map, 5); // middle
        assert_eq!(on_list(&list), vec![9, 2]);
        list.remove(&map, 9); // head
        assert_eq!(on_list(&list), vec![2]);
        list.remove(&map, 2); // last
        assert_eq!((list.head, list.nr_free), (NO_PFN, 0));
        assert!(list.is_empty());
        assert!(pages.iter().all(|p| p.lru_next() == NO_PFN && p.lru_prev() == NO_PFN), "unlinked pages keep no links");
    }

    #[test]
    fn reserved_page_blocks_merging() {
        let pages = new_pages(16);
        let map = MemMap::new(&pages, 0);
        let zone = Zone::new(ZoneType::Dma);
        zone.init_span(0, 16);
        zone.memmap_init_zone(&map);
        zone.free_boot_range(&map, 0, 5); // pfn 5 stays reserved
        zone.free_boot_range(&map, 6, 16);
        assert_eq!(free_blocks(&zone, &map), vec![(0, 2), (4, 0), (6, 1), (8, 3)]);
    }

    #[test]
    fn shared_page_is_freed_by_the_last_reference() {
        let pages = new_pages(4);
        let (map, zone) = zone_with(&pages, 0, 4);
        let pfn = zone.alloc(&map, 0).unwrap();
        map.pfn_to_page(pfn).get_page();
        zone.free(&map, pfn, 0);
        assert_eq!(zone.nr_free_pages(), 3, "still referenced once");
        zone.free(&map, pfn, 0);
        assert_eq!(zone.nr_free_pages(), 4);
    }

    #[test]
    #[should_panic(expected = "BUG: Bad page state: double free of pfn 0x2 (order 0)")]
    fn double_free_panics() {
        let pages = new_pages(4);
        let (map, zone) = zone_with(&pages, 0, 4);
        let pfns: Vec<_> = (0..3).map(|_| zone.alloc(&map, 0).unwrap()).collect();
        assert_eq!(pfns[2], 2);
        zone.free(&map, 2, 0);
        zone.free(&map, 2, 0);
    }

    #[test]
    #[should_panic(expected = "double free of pfn 0x1 (order 0)")]
    fn freeing_page_inside_free_block_panics() {
        let pages = new_pages(4);
        let (map, zone) = zone_with(&pages, 0, 4);
        zone.free(&map, 1, 0);
    }

    #[test]
    #[should_panic(expected = "BUG: Bad page state: freeing reserved pfn 0x5 (order 0)")]
    fn freeing_reserved_page_panics() {
        let pages = new_pages(16);
        let map = MemMap::new(&pages, 0);
        let zone = Zone::new(ZoneType::Dma);
        zone.init_span(0, 16);
        zone.memmap_init_zone(&map);
        zone.free_boot_range(&map, 0, 5);
        zone.free(&map, 5, 0);
    }

    #[test]
    #[should_panic(expected = "BUG: freeing pfn 0x2 at order 2: not aligned to its order")]
    fn misaligned_free_panics() {
        let pages = new_pages(16);
        let (map, zone) = zone_with(&pages, 0, 16);
        zone.free(&map, 2, 2);
    }

    #[test]
    #[should_panic(expected = "BUG: freeing pfn range [0x10, 0x11) outside zone Normal [0x8, 0x10)")]
    fn free_outside_zone_panics() {
        let pages = new_pages(32);
        let (map, zone) = zone_with(&pages, 8, 16);
        zone.free(&map, 16, 0);
    }

    #[test]
    #[should_panic(expected = "BUG: freeing pfn range [0x8, 0xc) outside zone Normal [0x0, 0xa)")]
    fn free_of_block_running_past_the_zone_end_panics() {
        // pfn 8 is inside the zone and aligned to order 2, but the block
        // [8, 12) runs past the zone's end at 10.
        let pages = new_pages(16);
        let (map, zone) = zone_with(&pages, 0, 10);
        zone.free(&map, 8, 2);
    }

    #[test]
    #[should_panic(expected = "BUG: freeing pfn 0x0 at order 0, but it was allocated at order 2")]
    fn free_with_wrong_order_panics() {
        let pages = new_pages(16);
        let (map, zone) = zone_with(&pages, 0, 16);
        let pfn = zone.alloc(&map, 2).unwrap();
        zone.free(&map, pfn, 0);
    }

    #[test]
    #[should_panic(expected = "inside the order-2 block at pfn 0x0 being freed is in use")]
    fn freeing_over_another_allocation_panics() {
        let pages = new_pages(16);
        let (map, zone) = zone_with(&pages, 0, 16);
        let a = zone.alloc(&map, 0).unwrap();
        let b = zone.alloc(&map, 0).unwrap();
        assert_eq!((a, b), (0, 1));
        // Pretend `a` was an order-2 allocation: it would swallow `b`.
        map.pfn_to_page(a).set_page_order(2);
        zone.free(&map, a, 2);
    }
}
