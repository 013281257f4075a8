//! Who owns which part of the vmalloc area: the bookkeeping half of Linux
//! `mm/vmalloc.c` (its `vmap_area`s), with no page tables in it.
//!
//! The vmalloc area is the stretch of kernel virtual space between the end
//! of the direct map (plus an 8 MiB hole) and the PKMAP window (see
//! `layout.rs`). Anything that needs kernel addresses but is not in the
//! direct map lives there: memory that is *virtually* contiguous but built
//! from scattered (even highmem) frames (`vmalloc`), kernel stacks with a
//! guard page, and mappings of device registers or firmware tables
//! (`ioremap`). The kernel crate maps and unmaps the pages; this file only
//! decides *where*, and remembers what each range is.
//!
//! ```text
//!  start                                                               end
//!  | area A   |g| area B         |g|   free   | area C |g|     free      |
//!              ^ one unmapped guard page after every area
//! ```
//!
//! **Guard pages.** Every area is followed by one page that is never mapped,
//! as Linux's `__get_vm_area_node` adds `PAGE_SIZE` to every request unless
//! the caller passes `VM_NO_GUARD`. Running off the end of one area then
//! faults at once instead of scribbling over the next one. [`VmapArea::size`]
//! is what the caller asked for (rounded up to pages); the area occupies
//! `size + PAGE_SIZE` of the range, and [`VmapAllocator::find`] tells an
//! address in the area from one in its guard page.
//!
//! **Two sorted lists, as Linux keeps two trees.** Linux keeps busy areas in
//! `vmap_area_root` and free space in `free_vmap_area_root`, both red-black
//! trees sorted by address. We keep the same two things as sorted arrays of
//! fixed capacity, so the allocator needs no heap (the kernel heap must not
//! depend on vmalloc, and vmalloc runs with interrupts off):
//!
//! * `busy`: the live areas, sorted by address; `find` is a binary search.
//! * `free`: maximal free blocks, sorted by address. Allocation is
//!   **first fit** (Linux `find_vmap_lowest_match` finds the lowest block
//!   that fits, which is the same thing), and cuts the area out of its
//!   block the way Linux's `va_clip` does: the block is used whole, or
//!   shortened on the left or right, or split in two. Freeing puts the
//!   range back and **coalesces** it with the free blocks on either side
//!   (Linux `merge_or_add_vmap_area`), so free space never fragments into
//!   adjacent pieces.
//!
//! Because free blocks are maximal, two of them are always separated by at
//! least one busy area, so there are at most `busy + 1` of them: the free
//! list can never overflow if the busy list did not.
//!
//! What Linux does and we do not: lazy freeing. Linux does not flush the TLB
//! for each `vfree`; it queues freed areas and purges them in batches
//! (`vmap_lazy_nr`, `__purge_vmap_area_lazy`), because a flush on every CPU
//! is expensive. This kernel flushes on every unmap and frees the range at
//! once, which is simpler to follow.

use bitflags::bitflags;

use crate::layout::PAGE_SIZE;

/// Most areas that can be live at once. Each one costs 20 bytes of busy list
/// and at most 8 of free list. 1024 is far more than this kernel uses (a
/// kernel stack per task, a few `ioremap`s, some `vmalloc` buffers).
pub const MAX_VMAP_AREAS: usize = 1024;

bitflags! {
    /// What an area is for (Linux `vm_struct.flags`, the `VM_*` values).
    /// The kernel checks them on free, so that `vfree` of an `ioremap`
    /// address, for example, is caught instead of freeing device memory to
    /// the page allocator.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct VmFlags: u32 {
        /// Device or firmware memory mapped by `ioremap` (Linux `VM_IOREMAP`).
        const VM_IOREMAP = 0x1;
        /// Pages allocated by `vmalloc` itself (Linux `VM_ALLOC`): freed with it.
        const VM_ALLOC   = 0x2;
        /// Pages the caller owns, mapped by `vmap` (Linux `VM_MAP`).
        const VM_MAP     = 0x4;
        /// A kernel stack: its lowest page is left unmapped as the guard
        /// below the stack. Ours; Linux finds a task's stack through
        /// `task->stack` instead of a flag.
        const VM_KSTACK  = 0x1000;
    }
}

/// One live area (Linux `vmap_area` plus the `vm_struct` it points to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmapArea {
    /// First address of the area (page aligned).
    pub addr: usize,
    /// Bytes the caller asked for, rounded up to pages; the guard page that
    /// follows is *not* included.
    pub size: usize,
    /// What the area is for.
    pub flags: VmFlags,
    /// Who made it. Linux records the caller's return address and prints
    /// it in `/proc/vmallocinfo`; a name reads better in a fault report.
    pub caller: &'static str,
}

impl VmapArea {
    const EMPTY: VmapArea = VmapArea { addr: 0, size: 0, flags: VmFlags::empty(), caller: "" };

    /// One past the last byte of the area (the start of its guard page).
    pub const fn end(&self) -> usize {
        self.addr + self.size
    }

    /// One past the guard page: where the next area may begin.
    const fn end_with_guard(&self) -> usize {
        self.end() + PAGE_SIZE
    }
}

/// Where in an area [`VmapAllocator::find`] found an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In `[addr, addr + size)`: the part the owner may map.
    Inside,
    /// In the unmapped guard page right after the area.
    GuardPage,
}

/// A maximal run of free virtual space, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FreeBlock {
    start: usize,
    end: usize,
}

impl FreeBlock {
    const EMPTY: FreeBlock = FreeBlock { start: 0, end: 0 };
}

/// Why [`VmapAllocator::alloc`] said no.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmapError {
    /// Zero bytes, or an alignment that is not a power of two.
    BadRequest,
    /// No free block is large enough (with the guard page and alignment).
    NoSpace,
    /// `MAX_VMAP_AREAS` areas are live already.
    TooManyAreas,
}

/// The vmalloc area's bookkeeping: which ranges are in use, and by whom.
pub struct VmapAllocator {
    start: usize,
    end: usize,
    busy: [VmapArea; MAX_VMAP_AREAS],
    nr_busy: usize,
    free: [FreeBlock; MAX_VMAP_AREAS + 1],
    nr_free: usize,
    /// Sum of `size` over live areas (guard pages not counted).
    used_bytes: usize,
}

/// Round `x` up to a multiple of `align` (a power of two), or `None` on
/// overflow.
const fn align_up(x: usize, align: usize) -> Option<usize> {
    match x.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

impl VmapAllocator {
    /// An allocator that owns nothing yet; [`init`](Self::init) gives it
    /// its range. (Separate from `init` so that a `static` can hold it
    /// without building this 28 KiB structure on the stack.)
    pub const fn empty() -> Self {
        VmapAllocator {
            start: 0,
            end: 0,
            busy: [VmapArea::EMPTY; MAX_VMAP_AREAS],
            nr_busy: 0,
            free: [FreeBlock::EMPTY; MAX_VMAP_AREAS + 1],
            nr_free: 0,
            used_bytes: 0,
        }
    }

    /// Hand the allocator the virtual range `[start, end)`, all free.
    /// Both ends must be page aligned, and nothing may be allocated yet.
    pub fn init(&mut self, start: usize, end: usize) {
        assert!(start.is_multiple_of(PAGE_SIZE) && end.is_multiple_of(PAGE_SIZE), "vmap range {start:#x}-{end:#x} not page aligned");
        assert!(start < end, "empty vmap range {start:#x}-{end:#x}");
        assert!(self.nr_busy == 0, "vmap allocator re-initialised with {} live areas", self.nr_busy);
        self.start = start;
        self.end = end;
        self.free[0] = FreeBlock { start, end };
        self.nr_free = 1;
        self.used_bytes = 0;
    }

    /// The range this allocator manages, `(start, end)`.
    pub fn range(&self) -> (usize, usize) {
        (self.start, self.end)
    }

    /// Reserve `size` bytes (rounded up to whole pages) at an address
    /// aligned to `align` (a power of two; anything below a page means a
    /// page), followed by one guard page. First fit: the lowest address
    /// that works. Returns the area's address.
    pub fn alloc(&mut self, size: usize, align: usize, flags: VmFlags, caller: &'static str) -> Result<usize, VmapError> {
        if size == 0 || !align.is_power_of_two() {
            return Err(VmapError::BadRequest);
        }
        let size = align_up(size, PAGE_SIZE).ok_or(VmapError::NoSpace)?;
        let align = align.max(PAGE_SIZE);
        let needed = size.checked_add(PAGE_SIZE).ok_or(VmapError::NoSpace)?;
        if self.nr_busy == MAX_VMAP_AREAS {
            return Err(VmapError::TooManyAreas);
        }
        let (i, addr) = self.free[..self.nr_free]
            .iter()
            .enumerate()
            .find_map(|(i, b)| {
                let addr = align_up(b.start, align)?;
                (addr.checked_add(needed)? <= b.end).then_some((i, addr))
            })
            .ok_or(VmapError::NoSpace)?;
        self.clip(i, addr, addr + needed);
        let area = VmapArea { addr, size, flags, caller };
        let at = self.busy[..self.nr_busy].partition_point(|a| a.addr < addr);
        self.busy.copy_within(at..self.nr_busy, at + 1);
        self.busy[at] = area;
        self.nr_busy += 1;
        self.used_bytes += size;
        Ok(addr)
    }

    /// Cut `[start, end)` out of free block `i` (Linux `va_clip`).
    fn clip(&mut self, i: usize, start: usize, end: usize) {
        let b = self.free[i];
        debug_assert!(b.start <= start && end <= b.end);
        match (b.start == start, b.end == end) {
            // FL_FIT_TYPE: the whole block.
            (true, true) => {
                self.free.copy_within(i + 1..self.nr_free, i);
                self.nr_free -= 1;
            }
            // LE_FIT_TYPE: the block's left end.
            (true, false) => self.free[i].start = end,
            // RE_FIT_TYPE: the block's right end (alignment padding stays free).
            (false, true) => self.free[i].end = start,
            // NE_FIT_TYPE: the middle; the block becomes two. There is room:
            // free blocks <= live areas + 1, and we checked there is room for
            // one more live area.
            (false, false) => {
                self.free.copy_within(i + 1..self.nr_free, i + 2);
                self.free[i].end = start;
                self.free[i + 1] = FreeBlock { start: end, end: b.end };
                self.nr_free += 1;
            }
        }
    }

    /// Release the area that starts at `addr`, with its guard page, and
    /// merge the space with its free neighbours. Returns what the area was,
    /// or `None` if no area starts there (a bad `vfree`, which the caller
    /// reports).
    pub fn free(&mut self, addr: usize) -> Option<VmapArea> {
        let at = self.busy[..self.nr_busy].binary_search_by_key(&addr, |a| a.addr).ok()?;
        let area = self.busy[at];
        self.busy.copy_within(at + 1..self.nr_busy, at);
        self.nr_busy -= 1;
        self.used_bytes -= area.size;

        let (start, end) = (area.addr, area.end_with_guard());
        // Free blocks before index j start below `start`.
        let j = self.free[..self.nr_free].partition_point(|b| b.start < start);
        let merge_prev = j > 0 && self.free[j - 1].end == start;
        let merge_next = j < self.nr_free && self.free[j].start == end;
        match (merge_prev, merge_next) {
            (true, true) => {
                self.free[j - 1].end = self.free[j].end;
                self.free.copy_within(j + 1..self.nr_free, j);
                self.nr_free -= 1;
            }
            (true, false) => self.free[j - 1].end = end,
            (false, true) => self.free[j].start = start,
            (false, false) => {
                self.free.copy_within(j..self.nr_free, j + 1);
                self.free[j] = FreeBlock { start, end };
                self.nr_free += 1;
            }
        }
        Some(area)
    }

    /// Which live area contains `addr`, counting its guard page, and
    /// whether `addr` is in the area proper or in the guard (Linux
    /// `find_vmap_area`, which looks up the area only).
    pub fn find(&self, addr: usize) -> Option<(VmapArea, Place)> {
        let after = self.busy[..self.nr_busy].partition_point(|a| a.addr <= addr);
        let area = *self.busy[..after].last()?;
        if addr < area.end() {
            Some((area, Place::Inside))
        } else if addr < area.end_with_guard() {
            Some((area, Place::GuardPage))
        } else {
            None
        }
    }

    /// Rename the area that starts at `addr` (e.g. a kernel stack that now
    /// belongs to a named task). Returns whether there was such an area.
    pub fn set_caller(&mut self, addr: usize, caller: &'static str) -> bool {
        match self.busy[..self.nr_busy].binary_search_by_key(&addr, |a| a.addr) {
            Ok(i) => {
                self.busy[i].caller = caller;
                true
            }
            Err(_) => false,
        }
    }

    /// The live areas, lowest address first (what `/proc/vmallocinfo`
    /// lists).
    pub fn areas(&self) -> impl Iterator<Item = &VmapArea> {
        self.busy[..self.nr_busy].iter()
    }

    /// Number of live areas.
    pub fn nr_areas(&self) -> usize {
        self.nr_busy
    }

    /// Bytes in live areas, guard pages not counted (Linux `VmallocUsed`
    /// counts only vmalloc'd pages; this counts every area).
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }

    /// Bytes not in any area or guard page.
    pub fn free_bytes(&self) -> usize {
        self.free[..self.nr_free].iter().map(|b| b.end - b.start).sum()
    }

    /// The largest free block (Linux `VmallocChunk`, long since removed
    /// from `/proc/meminfo`): the biggest request that could still succeed
    /// is this less a guard page.
    pub fn largest_free(&self) -> usize {
        self.free[..self.nr_free].iter().map(|b| b.end - b.start).max().unwrap_or(0)
    }

    /// Number of separate free blocks (1 when nothing is allocated: freed
    /// space always coalesces).
    pub fn nr_free_blocks(&self) -> usize {
        self.nr_free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::test_support::XorShift;

    const START: usize = 0xF880_0000;
    const END: usize = 0xFF7F_E000;
    const P: usize = PAGE_SIZE;

    fn allocator(start: usize, end: usize) -> Box<VmapAllocator> {
        let mut a = Box::new(VmapAllocator::empty());
        a.init(start, end);
        a
    }

    /// Every structural promise the allocator makes, checked from outside
    /// and inside: busy areas sorted and apart by at least their guard
    /// page, free blocks sorted, maximal and disjoint from every area, and
    /// busy + guards + free adding up to the whole range.
    fn check(a: &VmapAllocator) {
        let busy = &a.busy[..a.nr_busy];
        let free = &a.free[..a.nr_free];
        for w in busy.windows(2) {
            assert!(w[0].end_with_guard() <= w[1].addr, "areas overlap: {:x?} {:x?}", w[0], w[1]);
        }
        for w in free.windows(2) {
            assert!(w[0].end < w[1].start, "free blocks not coalesced: {:x?} {:x?}", w[0], w[1]);
        }
        for b in free {
            assert!(b.start < b.end && b.start >= a.start && b.end <= a.end);
            for area in busy {
                assert!(b.end <= area.addr || b.start >= area.end_with_guard(), "free {b:x?} overlaps {area:x?}");
            }
        }
        let covered: usize = busy.iter().map(|x| x.size + P).sum::<usize>() + a.free_bytes();
        assert_eq!(covered, a.end - a.start, "every byte is in an area, a guard page or a free block");
        assert_eq!(a.used_bytes(), busy.iter().map(|x| x.size).sum::<usize>());
        assert!(a.nr_free <= a.nr_busy + 1);
    }

    #[test]
    fn alloc_free_and_coalesce() {
        let mut a = allocator(START, END);
        let x = a.alloc(P, 1, VmFlags::VM_ALLOC, "x").unwrap();
        let y = a.alloc(3 * P, 1, VmFlags::VM_ALLOC, "y").unwrap();
        let z = a.alloc(P, 1, VmFlags::VM_ALLOC, "z").unwrap();
        assert_eq!((x, y, z), (START, START + 2 * P, START + 6 * P), "first fit, one guard page after each");
        assert_eq!(a.used_bytes(), 5 * P);
        assert_eq!(a.nr_free_blocks(), 1);
        check(&a);

        // Freeing the middle leaves a hole; freeing x merges it with the hole.
        assert_eq!(a.free(y).map(|v| v.size), Some(3 * P));
        assert_eq!(a.nr_free_blocks(), 2);
        check(&a);
        assert_eq!(a.free(x).map(|v| (v.addr, v.caller)), Some((x, "x")));
        assert_eq!(a.nr_free_blocks(), 2, "x's range merged with y's hole");
        assert_eq!(a.largest_free(), END - (z + 2 * P));
        check(&a);
        // The hole in front of z is reused first.
        let w = a.alloc(5 * P, 1, VmFlags::VM_MAP, "w").unwrap();
        assert_eq!(w, START, "exactly fills the hole: 5 pages + guard = 6");
        assert_eq!(a.nr_free_blocks(), 1);
        check(&a);
        a.free(z).unwrap();
        a.free(w).unwrap();
        assert_eq!(a.nr_free_blocks(), 1, "everything coalesced back into one block");
        assert_eq!(a.free_bytes(), END - START);
        assert_eq!((a.nr_areas(), a.used_bytes()), (0, 0));
        check(&a);
    }

    #[test]
    fn unknown_or_repeated_free_is_refused() {
        let mut a = allocator(START, END);
        let x = a.alloc(2 * P, 1, VmFlags::VM_ALLOC, "x").unwrap();
        assert_eq!(a.free(x + P), None, "not the start of an area");
        assert_eq!(a.free(END), None);
        assert!(a.free(x).is_some());
        assert_eq!(a.free(x), None, "a double free is noticed");
        check(&a);
    }

    #[test]
    fn sizes_round_up_to_pages_and_bad_requests_fail() {
        let mut a = allocator(START, END);
        let x = a.alloc(1, 1, VmFlags::VM_ALLOC, "x").unwrap();
        assert_eq!(a.find(x).unwrap().0.size, P);
        let y = a.alloc(P + 1, 1, VmFlags::VM_ALLOC, "y").unwrap();
        assert_eq!(a.find(y).unwrap().0.size, 2 * P);
        assert_eq!(a.alloc(0, 1, VmFlags::VM_ALLOC, "z"), Err(VmapError::BadRequest));
        assert_eq!(a.alloc(P, 3 * P, VmFlags::VM_ALLOC, "z"), Err(VmapError::BadRequest));
        assert_eq!(a.alloc(usize::MAX, 1, VmFlags::VM_ALLOC, "z"), Err(VmapError::NoSpace));
        check(&a);
    }

    #[test]
    fn alignment_is_honoured_and_padding_stays_free() {
        let mut a = allocator(START, END);
        let x = a.alloc(P, 1, VmFlags::VM_ALLOC, "x").unwrap();
        let big = 64 * P;
        let y = a.alloc(P, big, VmFlags::VM_IOREMAP, "y").unwrap();
        assert_eq!(y % big, 0);
        assert!(y > x);
        // The padding between x's guard and y is still free: a small
        // request lands there (first fit).
        let z = a.alloc(P, 1, VmFlags::VM_ALLOC, "z").unwrap();
        assert_eq!(z, x + 2 * P);
        assert!(z < y);
        check(&a);
        for addr in [x, y, z] {
            a.free(addr).unwrap();
        }
        assert_eq!(a.nr_free_blocks(), 1);
        check(&a);
    }

    #[test]
    fn guard_page_separates_neighbours_and_find_reports_it() {
        let mut a = allocator(START, END);
        let x = a.alloc(2 * P, 1, VmFlags::VM_KSTACK, "stack").unwrap();
        let y = a.alloc(P, 1, VmFlags::VM_ALLOC, "buf").unwrap();
        assert_eq!(y, x + 3 * P, "one unmapped page between x's end and y");
        let (area, place) = a.find(x).unwrap();
        assert_eq!((area.addr, area.size, area.flags, place), (x, 2 * P, VmFlags::VM_KSTACK, Place::Inside));
        assert_eq!(a.find(x + 2 * P - 1).unwrap().1, Place::Inside);
        assert_eq!(a.find(x + 2 * P).map(|(v, p)| (v.addr, p)), Some((x, Place::GuardPage)));
        assert_eq!(a.find(x + 3 * P - 1).map(|(v, p)| (v.addr, p)), Some((x, Place::GuardPage)));
        assert_eq!(a.find(y).map(|(v, p)| (v.caller, p)), Some(("buf", Place::Inside)));
        assert_eq!(a.find(y + P).map(|(v, p)| (v.caller, p)), Some(("buf", Place::GuardPage)));
        assert_eq!(a.find(y + 2 * P), None, "free space belongs to nobody");
        assert_eq!(a.find(START - 1), None);
        assert!(a.set_caller(x, "task 7"));
        assert_eq!(a.find(x + 5).unwrap().0.caller, "task 7");
        assert!(!a.set_caller(x + P, "nobody"));
    }

    #[test]
    fn exhaustion_and_recovery() {
        // Room for exactly 4 one-page areas with their guards.
        let mut a = allocator(START, START + 8 * P);
        let got: Vec<usize> = (0..4).map(|_| a.alloc(P, 1, VmFlags::VM_ALLOC, "x").unwrap()).collect();
        assert_eq!(a.alloc(P, 1, VmFlags::VM_ALLOC, "x"), Err(VmapError::NoSpace));
        assert_eq!(a.free_bytes(), 0);
        assert_eq!(a.nr_free_blocks(), 0);
        check(&a);
        // Two adjacent holes merge and can hold a three-page area.
        a.free(got[1]).unwrap();
        a.free(got[2]).unwrap();
        assert_eq!(a.nr_free_blocks(), 1);
        assert_eq!(a.alloc(4 * P, 1, VmFlags::VM_ALLOC, "x"), Err(VmapError::NoSpace), "4 pages + guard > 4 pages");
        assert_eq!(a.alloc(3 * P, 1, VmFlags::VM_ALLOC, "x"), Ok(got[1]));
        check(&a);
    }

    #[test]
    fn too_many_areas() {
        let mut a = allocator(START, END);
        for _ in 0..MAX_VMAP_AREAS {
            a.alloc(P, 1, VmFlags::VM_ALLOC, "x").unwrap();
        }
        assert_eq!(a.alloc(P, 1, VmFlags::VM_ALLOC, "x"), Err(VmapError::TooManyAreas));
        check(&a);
    }

    #[test]
    fn random_alloc_free_never_overlaps() {
        let mut a = allocator(START, START + 2048 * P);
        let mut rng = XorShift::new(0x5eed_1234);
        let mut live: Vec<(usize, usize)> = Vec::new();
        let (mut allocs, mut refusals) = (0, 0);
        for op in 0..50_000 {
            if !live.is_empty() && (live.len() >= 300 || rng.below(3) == 0) {
                let (addr, size) = live.swap_remove(rng.below(live.len()));
                let area = a.free(addr).expect("a live area frees");
                assert_eq!(area.size, size);
            } else {
                let size = (1 + rng.below(16)) * P - rng.below(P);
                let align = P << rng.below(4);
                match a.alloc(size, align, VmFlags::VM_ALLOC, "r") {
                    Ok(addr) => {
                        allocs += 1;
                        assert_eq!(addr % align, 0);
                        let size = align_up(size, P).unwrap();
                        // Disjoint from every live area, guard pages included.
                        for &(b, bs) in &live {
                            assert!(addr + size + P <= b || b + bs + P <= addr, "{addr:#x} overlaps {b:#x}");
                        }
                        live.push((addr, size));
                    }
                    Err(e) => {
                        assert_eq!(e, VmapError::NoSpace);
                        refusals += 1;
                    }
                }
            }
            if op % 97 == 0 {
                check(&a);
                for &(addr, size) in &live {
                    assert_eq!(a.find(addr + size - 1).map(|(v, p)| (v.addr, p)), Some((addr, Place::Inside)));
                    assert_eq!(a.find(addr + size).map(|(v, p)| (v.addr, p)), Some((addr, Place::GuardPage)));
                }
            }
        }
        assert!(allocs > 10_000 && refusals > 0, "exercise both success and exhaustion: {allocs} allocations, {refusals} refusals");
        for (addr, _) in live {
            a.free(addr).unwrap();
        }
        check(&a);
        assert_eq!((a.nr_free_blocks(), a.free_bytes(), a.used_bytes()), (1, 2048 * P, 0));
    }
}
