//! The user-copy helpers and the fault path under them, case by case
//! against Linux 6.1 (docs/conformance.md, "User processes": U2, U3, U7,
//! U10, U11, U15, U32, and the return values of `get_user`, `put_user`,
//! `clear_user` and `strncpy_from_user`).
//!
//! Each test runs in a kernel thread that takes a user address space of
//! its own (`tests/user.rs`' `address_space_with`: text at 0x08048000, 16
//! demand-paged data pages at 0x08050000, nothing above them, a stack at
//! the top of user space) and calls the helpers as a system call would.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use mm::layout::{PAGE_SIZE, TASK_SIZE};
use mm::vma::{VmArea, VmFlags, VmaKind};

use super::user::{DATA, DATA_PAGES, address_space_with};
use crate::arch::lib::usercopy_32::{
    __copy_from_user_inatomic, clear_user, copy_from_user, copy_to_user, get_user, put_user, strncpy_from_user,
};
use crate::errno::EFAULT;
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::{page_to_pfn, pfn_to_page};
use crate::test_case;
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(copy_to_user_into_a_page_with_no_vma_returns_the_bytes_not_copied),
    test_case!(a_short_copy_from_user_zeroes_the_tail),
    test_case!(copy_from_user_inatomic_leaves_the_tail_untouched),
    test_case!(a_kernel_access_to_user_memory_outside_the_exception_table_is_a_kernel_bug,
        panics = "BUG: unable to handle page fault for address: 0x08050000\n\
                  #PF: supervisor write access in kernel mode\n#PF: error_code(0x0002) - not-present page\n\
                  #PF: kernel access to a user address outside the exception table"),
    test_case!(two_tasks_faulting_one_address_install_one_page),
    test_case!(two_tasks_faulting_an_empty_pmd_region_link_one_page_table),
    test_case!(a_fault_maps_its_page_table_on_top_of_the_kmap_local_stack_and_unmaps_it),
    test_case!(page_address_of_a_highmem_page_is_none_unless_kmapped),
    test_case!(the_direct_map_address_of_a_highmem_frame_is_refused,
        panics = "BUG: direct-map address of highmem pfn 0x\nhighmem has no permanent address; kmap it"),
    test_case!(virt_to_page_of_a_kmap_address_is_refused,
        panics = "BUG: virt_to_page(0xf\nnot a direct-map address\na kmap or vmalloc address has no direct-map arithmetic"),
    test_case!(virt_to_page_of_a_vmalloc_address_is_refused,
        panics = "BUG: virt_to_page(0x\nnot a direct-map address\na kmap or vmalloc address has no direct-map arithmetic"),
    test_case!(get_user_and_put_user_return_efault_like_linux),
    test_case!(clear_user_returns_the_bytes_not_cleared),
    test_case!(strncpy_from_user_returns_the_length_the_count_or_efault),
    test_case!(kernel_writes_fault_with_0x2_on_an_absent_page_and_0x3_on_a_cow_page),
    test_case!(a_user_access_to_kernel_memory_is_maperr_with_prot_forced),
];

/// One past the data area: no VMA starts here until the stack.
const DATA_END: usize = DATA + DATA_PAGES * PAGE_SIZE;

/// Give the current (test) task a fresh address space; return it.
fn fresh_mm() -> Arc<MmStruct> {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    me.mm().unwrap()
}

/// Byte `i` of an 8 KiB source: which page it came from shows.
fn byte(i: usize) -> u8 {
    ((i % 251) ^ (i >> 12)) as u8
}

/// U2: `copy_to_user(p, k, 8192)` where p's page is the last of an area
/// and the next page has no VMA. The first page faults in and is written;
/// the copy stops at the second and returns 4096, the bytes not copied
/// (Linux `_copy_to_user` -> `raw_copy_to_user`, `__copy_user`'s fixup).
fn copy_to_user_into_a_page_with_no_vma_returns_the_bytes_not_copied() {
    let mm = fresh_mm();
    let p = DATA_END - PAGE_SIZE;
    let src: Vec<u8> = (0..2 * PAGE_SIZE).map(byte).collect();
    assert_eq!(copy_to_user(p, &src), PAGE_SIZE, "4096 bytes not copied");
    assert!(mm.lookup(p).present(), "the first page was faulted in");
    assert!(mm.lookup(DATA_END).is_none(), "nothing is mapped where no VMA is");
    let mut back = vec![0u8; PAGE_SIZE];
    assert_eq!(copy_from_user(&mut back, p), 0);
    assert!(back == src[..PAGE_SIZE], "the first 4096 bytes arrived");
    // A copy that starts in the hole copies nothing.
    assert_eq!(copy_to_user(DATA_END, &src[..16]), 16);
}

/// U3: the same with `copy_from_user`: it returns 4096 and the last 4096
/// bytes of the kernel buffer are zero, not what they held (Linux
/// `_copy_from_user`: "memset(to + (n - res), 0, res)"), so no stale kernel
/// data survives a short copy.
fn a_short_copy_from_user_zeroes_the_tail() {
    fresh_mm();
    let p = DATA_END - PAGE_SIZE;
    let src: Vec<u8> = (0..PAGE_SIZE).map(byte).collect();
    assert_eq!(copy_to_user(p, &src), 0);
    let mut k = vec![0xaau8; 2 * PAGE_SIZE];
    assert_eq!(copy_from_user(&mut k, p), PAGE_SIZE, "4096 bytes not copied");
    assert!(k[..PAGE_SIZE] == src[..], "the first 4096 bytes arrived");
    assert!(k[PAGE_SIZE..].iter().all(|&b| b == 0), "k[4096..8192) is zero");
    // Not a user range at all: nothing is read, and all of it is zeroed.
    let mut k = vec![0xaau8; 64];
    assert_eq!(copy_from_user(&mut k, TASK_SIZE - 32), 64);
    assert!(k.iter().all(|&b| b == 0));
}

/// U3, second half: `__copy_from_user_inatomic` returns the same 4096 but
/// leaves `k[4096..8192)` as it was ("only copy_from_user() zero-pads the
/// destination in case of short copy"). With page faults disabled (its
/// real callers' context) a valid but untouched page is not faulted in:
/// all bytes come back uncopied, the buffer untouched.
fn copy_from_user_inatomic_leaves_the_tail_untouched() {
    let mm = fresh_mm();
    let p = DATA_END - PAGE_SIZE;
    let src: Vec<u8> = (0..PAGE_SIZE).map(byte).collect();
    assert_eq!(copy_to_user(p, &src), 0);
    let mut k = vec![0xaau8; 2 * PAGE_SIZE];
    // SAFETY: [p, p + 8192) is below TASK_SIZE (access_ok holds).
    assert_eq!(unsafe { __copy_from_user_inatomic(&mut k, p) }, PAGE_SIZE);
    assert!(k[..PAGE_SIZE] == src[..], "the first 4096 bytes arrived");
    assert!(k[PAGE_SIZE..].iter().all(|&b| b == 0xaa), "k[4096..8192) untouched");
    let untouched = DATA + PAGE_SIZE;
    assert!(mm.lookup(untouched).is_none());
    let mut k = vec![0xaau8; 32];
    crate::sched::preempt::pagefault_disable();
    // SAFETY: as above.
    let left = unsafe { __copy_from_user_inatomic(&mut k, untouched) };
    crate::sched::preempt::pagefault_enable();
    assert_eq!(left, 32, "faults disabled: the untouched page is not faulted in");
    assert!(k.iter().all(|&b| b == 0xaa), "and the buffer is as it was");
    assert!(mm.lookup(untouched).is_none(), "nothing was mapped");
}

/// U7: the kernel writes a user address with a plain store, at an
/// instruction the exception table does not list. The address is in a
/// writable VMA and could be faulted in (Linux without SMAP would do so
/// silently); ours refuses, names the bug and ends the boot, as Linux
/// with SMAP does. (The no-SMAP choice is explained in
/// arch/x86/mm/fault.rs, `do_user_addr_fault`.)
fn a_kernel_access_to_user_memory_outside_the_exception_table_is_a_kernel_bug() {
    fresh_mm();
    let p = core::hint::black_box(DATA) as *mut u32;
    // SAFETY: it is not: this is the kernel bug under test. The boot ends
    // in the page-fault handler; the store never completes.
    unsafe { p.write_volatile(0x1234_5678) };
    panic!("a kernel store to user address {DATA:#x} outside the exception table was resolved");
}

// ---------------------------------------------------------------- races --

/// What the race hook saw. Reset by [`race`].
static HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);
static FIRST_IN_WINDOW: AtomicBool = AtomicBool::new(false);
static B_STARTED: AtomicBool = AtomicBool::new(false);
static B_DONE: AtomicBool = AtomicBool::new(false);
static B_STARTED_IN_WINDOW: AtomicBool = AtomicBool::new(false);
static B_DONE_IN_WINDOW: AtomicBool = AtomicBool::new(false);

/// In `do_anonymous_page`, after the entry was found empty and before it
/// is set: the first caller sleeps 30 ms there, long enough for the other
/// task to start its own fault, and notes whether that fault had started
/// (the race is real) and whether it had finished (it must not: it waits).
fn race_hook() {
    if HOOK_CALLS.fetch_add(1, SeqCst) == 0 {
        FIRST_IN_WINDOW.store(true, SeqCst);
        crate::sched::msleep(30);
        B_STARTED_IN_WINDOW.store(B_STARTED.load(SeqCst), SeqCst);
        B_DONE_IN_WINDOW.store(B_DONE.load(SeqCst), SeqCst);
    }
}

/// Two tasks on one CPU sharing `mm`: A writes a byte at `a` (faulting,
/// and sleeping in the window), B writes one at `b` as soon as A is in the
/// window. One CPU is enough: the sleep is what makes them overlap.
fn race(mm: &Arc<MmStruct>, a: usize, b: usize) {
    use crate::sched::{current, spawn_on, yield_now};
    HOOK_CALLS.store(0, SeqCst);
    for flag in [&FIRST_IN_WINDOW, &B_STARTED, &B_DONE, &B_STARTED_IN_WINDOW, &B_DONE_IN_WINDOW] {
        flag.store(false, SeqCst);
    }
    let cpu = crate::arch::percpu::raw_smp_processor_id();
    crate::mm::memory::set_anon_fault_hook(Some(race_hook));
    let ta = {
        let mm = mm.clone();
        spawn_on(cpu, "fault-a", move || {
            current().set_mm(mm);
            assert_eq!(copy_to_user(a, b"A"), 0, "task A's copy");
        })
    };
    let tb = {
        let mm = mm.clone();
        spawn_on(cpu, "fault-b", move || {
            current().set_mm(mm);
            // Wait for A to be in the window (at most 2 s: if A never gets
            // there, the test's checks say so instead of hanging).
            let deadline = crate::sched::core::jiffies() + 2 * crate::sched::core::HZ;
            while !FIRST_IN_WINDOW.load(SeqCst) && crate::sched::core::jiffies() < deadline {
                yield_now();
            }
            B_STARTED.store(true, SeqCst);
            assert_eq!(copy_to_user(b, b"B"), 0, "task B's copy");
            B_DONE.store(true, SeqCst);
        })
    };
    ta.join();
    tb.join();
    crate::mm::memory::set_anon_fault_hook(None);
}

/// U10: two tasks fault the same address of one mm at once. Exactly one
/// page is installed, holding both tasks' bytes. Linux's loser allocates a
/// page too, finds `!pte_none` under the page-table lock and frees it;
/// ours never allocates one: the fault holds the mm's one exclusive lock,
/// so B's fault (in flight while A sleeps between "entry empty" and "entry
/// set") waits, then finds the entry present (mm/memory.rs). Counted: one
/// page allocated, one trip through `do_anonymous_page`, two faults
/// resolved; and the page goes back with the address space.
fn two_tasks_faulting_one_address_install_one_page() {
    use crate::arch::mm::fault::USER_FAULTS_RESOLVED;
    use crate::mm::memory::ANON_FAULTS;
    let mm = address_space_with(&[0x90]);
    let addr = DATA + 3 * PAGE_SIZE;
    assert!(mm.lookup(addr).is_none(), "untouched");
    let (anon, resolved) = (ANON_FAULTS.load(SeqCst), USER_FAULTS_RESOLVED.load(SeqCst));
    let pages_before = mm.resident().0.len();
    race(&mm, addr, addr + 8);
    assert!(B_STARTED_IN_WINDOW.load(SeqCst), "B's copy started while A was between finding the entry empty and setting it");
    assert_eq!(HOOK_CALLS.load(SeqCst), 1, "only one task installed an entry (the other found it present)");
    assert_eq!(ANON_FAULTS.load(SeqCst) - anon, 1, "one page allocated, no spare");
    assert_eq!(USER_FAULTS_RESOLVED.load(SeqCst) - resolved, 2, "both tasks faulted, both faults resolved");
    assert!(!B_DONE_IN_WINDOW.load(SeqCst), "B's fault waited for A's (the mm's lock)");
    let pte = mm.lookup(addr);
    assert!(pte.present());
    assert_eq!(mm.resident().0.len(), pages_before + 1, "one page more in the address space");
    crate::sched::current().set_mm(mm.clone());
    let mut back = [0u8; 9];
    assert_eq!(copy_from_user(&mut back, addr), 0);
    assert_eq!((back[0], back[8]), (b'A', b'B'), "both tasks' bytes are in the one page");
    let page = pfn_to_page(pte.pfn());
    assert_eq!(page.page_count(), 1, "mapped once");
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    assert_eq!(Arc::strong_count(&mm), 1);
    drop(mm);
    assert_eq!(page.page_count(), 0, "freed with the address space");
}

/// U11: two tasks fault two pages of a PMD_SIZE region (4 MiB, or 2 MiB
/// with PAE) with no page table
/// yet. Linux's `__pte_alloc` allocates a table in each task and
/// `pmd_install` links one under the lock and frees the spare; ours
/// allocates the table under the mm's exclusive lock (MmStruct::pte_alloc),
/// so no spare ever exists. Checked: exactly one table allocated and
/// linked, both pages in it, and that one table's reference: one while
/// linked, none once the address space is gone.
fn two_tasks_faulting_an_empty_pmd_region_link_one_page_table() {
    use crate::mm::mm_types::PTE_TABLES_ALLOCATED;
    const REGION: usize = 0x1000_0000;
    let mm = address_space_with(&[0x90]);
    {
        let area = VmArea::new(REGION, REGION + 2 * PAGE_SIZE, VmFlags::VM_DATA_DEFAULT_FLAGS, VmaKind::Anonymous, REGION >> 12);
        mm.mmap_lock().insert_vm_struct(area.unwrap()).unwrap();
    }
    // SAFETY: REGION's PMD entry in a live page directory (or PMD page), lowmem.
    let pde = || unsafe { mm.pmd_offset(REGION).read_volatile() };
    assert!(!pde().present(), "no page table for the region yet");
    let tables_before = mm.resident().1.len();
    let allocated = PTE_TABLES_ALLOCATED.load(SeqCst);
    race(&mm, REGION, REGION + PAGE_SIZE);
    assert!(B_STARTED_IN_WINDOW.load(SeqCst), "B's copy started while A, its table allocated, was in the window");
    assert_eq!(HOOK_CALLS.load(SeqCst), 2, "each task installed its own page");
    assert_eq!(PTE_TABLES_ALLOCATED.load(SeqCst) - allocated, 1, "one page table allocated: no spare");
    assert!(!B_DONE_IN_WINDOW.load(SeqCst), "B's fault waited for A's (the mm's lock)");
    assert!(pde().present(), "linked");
    assert_eq!(mm.resident().1.len(), tables_before + 1, "one page table more");
    let (a, b) = (mm.lookup(REGION), mm.lookup(REGION + PAGE_SIZE));
    assert!(a.present() && b.present() && a.pfn() != b.pfn(), "both pages, in that one table");
    let table = pfn_to_page(pde().pfn());
    assert_eq!(table.page_count(), 1, "the table has one reference: its PDE");
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    assert_eq!(Arc::strong_count(&mm), 1);
    drop(mm);
    assert_eq!(table.page_count(), 0, "the one table was freed with the address space");
}

// ------------------------------------------------------- map discipline --

/// The kmap_local stack the hook saw: the live mappings' frames, bottom
/// first (guard slots left out), and preempt_count / pagefault_disabled.
static SEEN_STACK: [AtomicUsize; 4] = [const { AtomicUsize::new(usize::MAX) }; 4];
static SEEN_DEPTH: AtomicUsize = AtomicUsize::new(0);
static SEEN_PREEMPT: AtomicUsize = AtomicUsize::new(usize::MAX);
static SEEN_PF_DISABLED: AtomicBool = AtomicBool::new(true);

/// The current task's live kmap_local mappings, bottom first.
fn live_maps() -> Vec<usize> {
    let c = crate::sched::current().kmap_ctrl_snapshot();
    c.pteval[..c.idx].iter().filter(|&&v| v != 0).map(|&v| mm::kmap_local::pte_pfn(v)).collect()
}

fn record_hook() {
    let maps = live_maps();
    SEEN_DEPTH.store(maps.len(), SeqCst);
    for (slot, seen) in SEEN_STACK.iter().enumerate() {
        seen.store(maps.get(slot).copied().unwrap_or(usize::MAX), SeqCst);
    }
    SEEN_PREEMPT.store(crate::sched::preempt::preempt_count() as usize, SeqCst);
    SEEN_PF_DISABLED.store(crate::sched::preempt::pagefault_disabled(), SeqCst);
}

/// U15: a fault taken inside a kmap_local mapping maps its page table
/// (`pte_offset_map`) on top of the caller's mapping, and the new page's
/// clearing (`__GFP_ZERO`: one more mapping) has come and gone above it
/// by the time the entry is set: the stack is exactly [ours, the page
/// table] there. After the fault, read or write, the depth D is what it
/// was, our mapping is still on top and still maps our page.
///
/// Where we differ from 6.1: its `pte_offset_map` is `kmap_atomic`, so
/// `preempt_count` and `pagefault_disabled` are raised between it and
/// `pte_unmap`, and `do_anonymous_page` unmaps before allocating. Ours is
/// kmap_local (as in Linux 6.5+, which adds only an RCU read lock):
/// neither is raised (checked), and the table stays mapped while the
/// allocation may sleep.
fn a_fault_maps_its_page_table_on_top_of_the_kmap_local_stack_and_unmaps_it() {
    use crate::mm::kmap_local::{kmap_local_pfn, kunmap_local};
    use crate::tests::common::{any_page, fill_pattern, free_page, pattern, read_byte};
    let mm = fresh_mm();
    let ours = any_page();
    fill_pattern(ours, 5);
    let v = kmap_local_pfn(page_to_pfn(ours)); // always a slot, lowmem or not
    let before = live_maps();
    let d = before.len();
    assert_eq!(before.last(), Some(&page_to_pfn(ours)));
    let idx = crate::sched::current().kmap_local_idx();
    let preempt = crate::sched::preempt::preempt_count() as usize;
    // SAFETY: DATA's PMD entry in our page directory (or PMD page), lowmem.
    let table = unsafe { mm.pmd_offset(DATA).read_volatile() }.pfn();
    crate::mm::memory::set_anon_fault_hook(Some(record_hook));
    // A write fault (a fresh page), a read fault (the zero page), then a
    // write to that page (do_wp_page): D unchanged after each.
    let write = copy_to_user(DATA, &[1u8; 8]);
    let after_write = (live_maps(), crate::sched::current().kmap_local_idx());
    let seen_write = (SEEN_DEPTH.load(SeqCst), SEEN_STACK.each_ref().map(|s| s.load(SeqCst)));
    let (preempt_in, pf_disabled_in) = (SEEN_PREEMPT.load(SeqCst), SEEN_PF_DISABLED.load(SeqCst));
    SEEN_DEPTH.store(0, SeqCst);
    let mut buf = [0xffu8; 8];
    let read = copy_from_user(&mut buf, DATA + PAGE_SIZE);
    let after_read = (live_maps(), crate::sched::current().kmap_local_idx());
    let seen_read = SEEN_DEPTH.load(SeqCst);
    let wp = copy_to_user(DATA + PAGE_SIZE, &[2u8; 8]);
    let after_wp = (live_maps(), crate::sched::current().kmap_local_idx());
    crate::mm::memory::set_anon_fault_hook(None);
    let still = read_byte(v + 9);
    kunmap_local(v);
    free_page(ours);
    assert_eq!((write, read, wp), (0, 0, 0), "the three copies completed");
    assert_eq!(buf, [0u8; 8], "the read fault saw zeros");
    assert_eq!(seen_write.0, d + 1, "between pte_offset_map and the entry: D + 1 (the page table; the clearing's map already gone)");
    assert_eq!(seen_write.1[d - 1], page_to_pfn(ours), "our mapping below");
    assert_eq!(seen_write.1[d], table, "the page table on top (LIFO)");
    assert_eq!(seen_read, d + 1, "the read fault: D + 1 too");
    assert_eq!(preempt_in, preempt, "preempt_count not raised by pte_offset_map (6.1's kmap_atomic would raise it)");
    assert!(!pf_disabled_in, "page faults not disabled by pte_offset_map (6.1's kmap_atomic would disable them)");
    for (what, (maps, i)) in [("write", after_write), ("read", after_read), ("write-protect", after_wp)] {
        assert_eq!(maps, before, "after the {what} fault, the same mappings");
        assert_eq!(i, idx, "after the {what} fault, the same kmap_local index");
    }
    assert_eq!(still, pattern(5, 9), "our mapping still maps our page");
}

// ------------------------------------------------------ no P2V of highmem --

/// U32, first half: a highmem page has no address of its own
/// (`page_address` is `None`) until it is kmapped; kmap_local does not
/// give it one either (that mapping is the task's, not the page's), and
/// after kunmap it has none again. A lowmem page always has its direct-map
/// address.
fn page_address_of_a_highmem_page_is_none_unless_kmapped() {
    use crate::mm::kmap::{kmap, kunmap};
    use crate::mm::page_alloc::page_address;
    let hp = crate::tests::common::highmem_page();
    // A page freed by an earlier kmap() user may come back still holding
    // its PKMAP slot (kunmap leaves the entry until the next flush, in
    // Linux too: page_address_htable is cleared by flush_all_zero_pkmaps):
    // flush first, so the page starts with no mapping at all.
    crate::mm::kmap::kmap_flush_unused();
    assert_eq!(page_address(hp), None, "not kmapped: no address");
    let v = crate::mm::kmap_local::kmap_local_page(hp);
    assert_eq!(page_address(hp), None, "a kmap_local mapping is not the page's address");
    crate::mm::kmap_local::kunmap_local(v);
    let k = kmap(hp);
    assert_eq!(page_address(hp), Some(k), "kmapped: the PKMAP address");
    kunmap(hp);
    crate::mm::kmap::kmap_flush_unused();
    assert_eq!(page_address(hp), None, "unmapped and flushed: none again");
    let low = crate::tests::common::lowmem_page();
    assert_eq!(page_address(low), Some(mm::layout::phys_to_virt(page_to_pfn(low) << 12)));
    crate::tests::common::free_page(low);
    crate::tests::common::free_page(hp);
}

/// U32, second half: computing the direct-map address of a highmem frame
/// (`lowmem_page_address`, Linux's `__va(PFN_PHYS(pfn))`) is refused by a
/// debug assertion naming the frame. (The suite runs debug builds.)
fn the_direct_map_address_of_a_highmem_frame_is_refused() {
    let hp = crate::tests::common::highmem_page();
    let bogus = crate::mm::page_alloc::lowmem_page_address(core::hint::black_box(page_to_pfn(hp)));
    panic!("lowmem_page_address gave {bogus:#x} for highmem pfn {:#x}", page_to_pfn(hp));
}

/// U32, the other direction: `virt_to_page` of a kmap address (here a
/// PKMAP one) would subtract PAGE_OFFSET and name an unrelated frame; a
/// debug assertion refuses (Linux: `CONFIG_DEBUG_VIRTUAL`).
fn virt_to_page_of_a_kmap_address_is_refused() {
    let hp = crate::tests::common::highmem_page();
    let k = crate::mm::kmap::kmap(hp);
    let bogus = crate::mm::page_alloc::virt_to_page(core::hint::black_box(k));
    panic!("virt_to_page({k:#x}) gave pfn {:#x}", page_to_pfn(bogus));
}

/// The same for a vmalloc address (no highmem needed: vmalloc space lies
/// above the direct map on every machine). Linux's `virt_to_page` of a
/// vmalloc address is the classic bug `vmalloc_to_page` exists for.
fn virt_to_page_of_a_vmalloc_address_is_refused() {
    let v = crate::mm::vmalloc::vmalloc(PAGE_SIZE).expect("a vmalloc page");
    let bogus = crate::mm::page_alloc::virt_to_page(core::hint::black_box(v));
    panic!("virt_to_page({v:#x}) gave pfn {:#x}", page_to_pfn(bogus));
}

// ----------------------------------------------- the smaller helpers --

/// `get_user`/`put_user` (Linux `getuser.S`/`putuser.S`): 0 and the value,
/// or -EFAULT when any byte is outside user space (`0xbffffffd` for 4
/// bytes; `0xc0000000`), has no VMA (address 0, past the data area, a
/// value crossing into it), or may not be written (the read-only text).
/// Untouched memory reads as zero and is faulted in.
fn get_user_and_put_user_return_efault_like_linux() {
    let mm = fresh_mm();
    assert_eq!(get_user::<u32>(DATA), Ok(0), "untouched: the zero page");
    assert_eq!(put_user(0x1234_5678u32, DATA), Ok(()));
    assert_eq!(get_user::<u32>(DATA), Ok(0x1234_5678));
    assert_eq!(get_user::<u16>(DATA), Ok(0x5678));
    assert_eq!(get_user::<u8>(DATA + 3), Ok(0x12));
    assert_eq!(put_user(-2i64, DATA + 8), Ok(()));
    assert_eq!(get_user::<u64>(DATA + 8), Ok(u64::MAX - 1));
    assert_eq!(get_user::<u32>(TASK_SIZE - 4), Ok(0), "the last user word (the stack)");
    assert_eq!(get_user::<u32>(TASK_SIZE - 3), Err(EFAULT), "crosses TASK_SIZE");
    assert_eq!(get_user::<u8>(TASK_SIZE), Err(EFAULT));
    assert_eq!(get_user::<u8>(usize::MAX), Err(EFAULT));
    assert_eq!(get_user::<u32>(0), Err(EFAULT), "no VMA");
    assert_eq!(get_user::<u32>(DATA_END), Err(EFAULT), "no VMA");
    assert_eq!(get_user::<u32>(DATA_END - 2), Err(EFAULT), "half in the area, half not");
    assert_eq!(put_user(1u32, DATA_END - 2), Err(EFAULT));
    assert_eq!(put_user(1u32, TASK_SIZE - 2), Err(EFAULT));
    assert_eq!(put_user(1u8, 0x0804_8000), Err(EFAULT), "the text is read-only");
    assert_eq!(get_user::<u8>(0x0804_8000), Ok(0x90), "but readable");
    assert!(mm.lookup(DATA_END).is_none());
}

/// `clear_user` (Linux `arch/x86/lib/usercopy_32.c`): returns the bytes
/// *not* cleared: 0; the part past the last good page; `n` for a range
/// that is not a user range or has no writable VMA (nothing touched).
/// Linux's `rep stosl` may count up to 3 bytes more when the start is
/// unaligned; our byte-exact copy never does.
fn clear_user_returns_the_bytes_not_cleared() {
    fresh_mm();
    let ff = vec![0xffu8; 3 * PAGE_SIZE];
    assert_eq!(copy_to_user(DATA_END - 3 * PAGE_SIZE, &ff), 0);
    assert_eq!(clear_user(DATA_END - 3 * PAGE_SIZE + 100, 5000), 0);
    let mut back = vec![0u8; 3 * PAGE_SIZE];
    assert_eq!(copy_from_user(&mut back, DATA_END - 3 * PAGE_SIZE), 0);
    assert!(back[..100].iter().all(|&b| b == 0xff), "before the range: untouched");
    assert!(back[100..5100].iter().all(|&b| b == 0), "the range: zero");
    assert!(back[5100..].iter().all(|&b| b == 0xff), "after it: untouched");
    assert_eq!(clear_user(DATA_END - 100, 300), 200, "100 cleared up to the hole, 200 not");
    assert_eq!(copy_from_user(&mut back[..100], DATA_END - 100), 0);
    assert!(back[..100].iter().all(|&b| b == 0));
    assert_eq!(clear_user(DATA_END - 3 * PAGE_SIZE, 0), 0);
    assert_eq!(clear_user(TASK_SIZE - 10, 20), 20, "not a user range");
    assert_eq!(clear_user(0x0804_8000, 10), 10, "read-only text");
    assert_eq!(get_user::<u8>(0x0804_8000), Ok(0x90), "untouched");
}

/// `strncpy_from_user` (Linux `lib/strncpy_from_user.c`): the length
/// without the NUL; `count` when no NUL comes within `count` bytes; 0 for
/// `count` 0; -EFAULT when a byte before the NUL cannot be read: the
/// string runs into a page with no VMA, or past TASK_SIZE (Linux caps the
/// read at TASK_SIZE and then returns -EFAULT, not `count`).
fn strncpy_from_user_returns_the_length_the_count_or_efault() {
    fresh_mm();
    assert_eq!(copy_to_user(DATA, b"hello\0"), 0);
    let mut buf = [0xaau8; 16];
    assert_eq!(strncpy_from_user(&mut buf, DATA), Ok(5));
    assert_eq!(&buf[..6], b"hello\0");
    assert_eq!(strncpy_from_user(&mut buf[..5], DATA), Ok(5), "no NUL within count: count");
    assert_eq!(strncpy_from_user(&mut buf[..0], DATA), Ok(0));
    // Ending right at a hole: the NUL is the area's last byte.
    assert_eq!(copy_to_user(DATA_END - 3, b"ab\0"), 0);
    assert_eq!(strncpy_from_user(&mut buf, DATA_END - 3), Ok(2));
    assert_eq!(copy_to_user(DATA_END - 3, b"abc"), 0);
    assert_eq!(strncpy_from_user(&mut buf, DATA_END - 3), Err(EFAULT), "runs into the hole");
    assert_eq!(strncpy_from_user(&mut buf[..3], DATA_END - 3), Ok(3), "but count stops first");
    assert_eq!(copy_to_user(TASK_SIZE - 3, b"xyz"), 0);
    assert_eq!(strncpy_from_user(&mut buf, TASK_SIZE - 3), Err(EFAULT), "runs into TASK_SIZE");
    assert_eq!(strncpy_from_user(&mut buf, TASK_SIZE), Err(EFAULT));
    assert_eq!(strncpy_from_user(&mut buf, 0), Err(EFAULT));
}

/// U6, the kernel's half: a `copy_to_user` into an absent page faults with
/// error code 0x2 (a write, kernel mode, not present), and into a page
/// shared copy-on-write since fork with 0x3 (a write, kernel mode, a
/// protection fault on a present page). The second needs CR0.WP: without
/// it the CPU lets ring 0 write through a read-only PTE and the kernel
/// would scribble on the page the parent still shares (Linux refuses such
/// CPUs: "Linux doesn't support CPUs with broken WP").
fn kernel_writes_fault_with_0x2_on_an_absent_page_and_0x3_on_a_cow_page() {
    use crate::arch::mm::fault::LAST_ERROR_CODE;
    const CR0_WP: u32 = 1 << 16;
    assert!(crate::arch::cpu::read_cr0() & CR0_WP != 0, "CR0.WP is set: ring 0 honours read-only PTEs");
    let mm = fresh_mm();
    LAST_ERROR_CODE.store(0, SeqCst);
    assert_eq!(copy_to_user(DATA, b"first"), 0);
    assert_eq!(LAST_ERROR_CODE.load(SeqCst), 0x2, "kernel write, page not present");
    let child = mm.dup_mmap().expect("fork's copy");
    let shared = mm.lookup(DATA).pfn();
    LAST_ERROR_CODE.store(0, SeqCst);
    assert_eq!(copy_to_user(DATA, b"again"), 0);
    assert_eq!(LAST_ERROR_CODE.load(SeqCst), 0x3, "kernel write, present read-only (copy-on-write)");
    assert_ne!(mm.lookup(DATA).pfn(), shared, "the write got its own copy");
    let theirs = crate::tests::common::contents(pfn_to_page(child.lookup(DATA).pfn()));
    assert_eq!(&theirs[..5], b"first", "the child's page was not written through the shared frame");
    drop(child);
}

/// U6, the user's half: a user-mode read of a kernel address is SIGSEGV
/// with `SEGV_MAPERR`, and the error code in Linux's line always has
/// `X86_PF_PROT`, whether the address is mapped (0xC0000000, the direct
/// map: the CPU says "protection", 5) or a hole (0xFFFFF000, past the
/// fixmap: the CPU says "not present", 4, and `sanitize_error_code` makes
/// it 5), so a program cannot map the kernel from its segfaults.
fn a_user_access_to_kernel_memory_is_maperr_with_prot_forced() {
    use crate::arch::mm::fault::LAST_SEGFAULT;
    // mov eax, [addr]; then a jump to itself, never reached.
    static MAPPED: [u8; 7] = [0xa1, 0x00, 0x00, 0x00, 0xc0, 0xeb, 0xfe];
    static HOLE: [u8; 7] = [0xa1, 0x00, 0xf0, 0xff, 0xff, 0xeb, 0xfe];
    assert!(!crate::mm::pgtable::lookup_kernel_pte(0xffff_f000).present(), "0xfffff000 is a hole");
    for (name, code, addr) in [("kmapped", &MAPPED, "c0000000"), ("khole", &HOLE, "fffff000")] {
        LAST_SEGFAULT.lock().clear();
        let status = super::user::run_user(name, code);
        assert_eq!(status, crate::arch::traps::SIGSEGV, "{name}: killed by SIGSEGV");
        let line = alloc::string::String::from(LAST_SEGFAULT.lock().as_str());
        assert!(line.contains(&alloc::format!("segfault at {addr} ")), "{line}");
        assert!(line.ends_with("error 5 (MapErr)"), "{name}: PROT forced, MAPERR: {line}");
    }
}
