//! kmap() conformance: the PKMAP pool behaves as Linux's does (catalogue
//! section A of `docs/conformance.md`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use mm::gfp::GFP_KERNEL;
use mm::layout::{LAST_PKMAP, PAGE_SIZE, pkmap_addr, pkmap_nr};

use crate::tools::ktest::{Test, require_cpus, require_highmem};
use crate::mm::kmap::{kmap, kmap_flush_unused, kunmap, last_pkmap_nr, pkmap_census, pkmap_count, pkmap_stats, pkmap_waiters};
use crate::mm::page_alloc::{self, page_address, page_to_pfn};
use crate::mm::pgtable::lookup_kernel_pte;
use crate::sched::task::TASK_UNINTERRUPTIBLE;
use crate::sched::{msleep, spawn, spawn_on};
use crate::smp::num_online_cpus;
use super::common::*;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(lowmem_kmap_is_the_direct_map),
    test_case!(kmap_kmap_atomic_and_kmap_local_reach_a_frame_above_4_gib),
    test_case!(fresh_pool_slot_order_lazy_unmap_and_first_wrap, fresh_boot),
    test_case!(explicit_flush_spares_live_mappings_and_a_second_flush_is_free),
    test_case!(unflushed_slots_are_skipped),
    test_case!(exactly_one_flush_per_wrap),
    test_case!(full_pool_sleeps_until_a_kunmap),
    test_case!(woken_waiters_share_a_page_mapped_meanwhile),
    test_case!(kmap_address_is_shared_by_cpus),
    test_case!(after_a_wrap_no_cpu_reads_a_stale_translation),
    test_case!(kmap_local_is_invisible_to_page_address),
];

/// A1: kmap of a lowmem page is its direct-map address; the pool is not
/// touched.
fn lowmem_kmap_is_the_direct_map() {
    let p = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let (stats, census) = (pkmap_stats(), pkmap_census());
    assert_eq!(kmap(p), page_address(p).unwrap());
    kunmap(p);
    assert_eq!((pkmap_stats(), pkmap_census()), (stats, census));
    page_alloc::__free_pages(p, 0);
}

/// A2-A5, A9, A10 on a pool fresh from boot.
fn fresh_pool_slot_order_lazy_unmap_and_first_wrap() {
    require_highmem();
    assert_eq!(pkmap_census(), (LAST_PKMAP, 0, 0), "nothing kmapped since boot");
    let pages = highmem_pages(LAST_PKMAP + 1);
    let h1 = pages[0];
    // A2: the cursor is pre-incremented, so the first slot is 1, not 0.
    let v = kmap(h1);
    assert_eq!(v, pkmap_addr(1));
    assert_eq!(pkmap_count(1), 2);
    assert_eq!(lookup_kernel_pte(v).pfn(), page_to_pfn(h1));
    assert_eq!(page_address(h1), Some(v));
    // A3: a repeat kmap reuses the mapping; the cursor stays.
    assert_eq!(kmap(h1), v);
    assert_eq!((pkmap_count(1), last_pkmap_nr()), (3, 1));
    // A4: kunmap is lazy: count 1, PTE and page_address stay.
    kunmap(h1);
    kunmap(h1);
    assert_eq!(pkmap_count(1), 1);
    assert!(lookup_kernel_pte(v).present());
    assert_eq!(page_address(h1), Some(v));
    // A5: revival.
    assert_eq!(kmap(h1), v);
    assert_eq!(pkmap_count(1), 2);
    kunmap(h1);
    // A9: new pages take slots 2..1023 without a flush...
    for (i, p) in pages[1..LAST_PKMAP - 1].iter().enumerate() {
        assert_eq!(kmap(p), pkmap_addr(i + 2));
        kunmap(p);
    }
    assert_eq!(pkmap_stats().flushes, 0, "no flush before the wrap");
    assert_eq!(pkmap_census(), (1, LAST_PKMAP - 1, 0));
    // ...and the 1024th new page wraps: one flush, slot 0.
    assert_eq!(kmap(pages[LAST_PKMAP - 1]), pkmap_addr(0));
    let s = pkmap_stats();
    assert_eq!((s.wraps, s.flushes), (1, 1));
    assert_eq!(page_address(h1), None, "the flush forgot h1's address");
    // A10: the cursor continues at slot 1, freed by the flush.
    assert_eq!(kmap(pages[LAST_PKMAP]), pkmap_addr(1));
    kunmap(pages[LAST_PKMAP]);
    kunmap(pages[LAST_PKMAP - 1]);
    free_all(pages);
}

/// A6-A8: kmap_flush_unused clears count-1 slots with one flush, keeps
/// live ones, and does nothing (no flush) when there is nothing to clear.
fn explicit_flush_spares_live_mappings_and_a_second_flush_is_free() {
    require_highmem();
    let pages = highmem_pages(2);
    let (h1, h2) = (pages[0], pages[1]);
    let (v1, v2) = (kmap(h1), kmap(h2));
    kunmap(h1);
    let flushes = pkmap_stats().flushes;
    kmap_flush_unused();
    assert_eq!(pkmap_stats().flushes, flushes + 1);
    assert_eq!(pkmap_count(pkmap_nr(v1)), 0);
    assert!(lookup_kernel_pte(v1).is_none());
    assert_eq!(page_address(h1), None);
    assert_eq!(pkmap_count(pkmap_nr(v2)), 2, "a live mapping survives the flush");
    assert_eq!(page_address(h2), Some(v2));
    kmap_flush_unused();
    assert_eq!(pkmap_stats().flushes, flushes + 1, "nothing to clear: no flush");
    kunmap(h2);
    free_all(pages);
}

/// A11: a slot that is unused but not yet flushed (count 1) is skipped by
/// the cursor, because some TLB may still translate it.
fn unflushed_slots_are_skipped() {
    require_highmem();
    let held = highmem_pages(1)[0];
    let b = pkmap_nr(kmap(held));
    let spare = highmem_pages(LAST_PKMAP + 8);
    // Go round until the cursor is just before slot b again.
    let mut i = 0;
    loop {
        if last_pkmap_nr() == (b + LAST_PKMAP - 1) % LAST_PKMAP && i > 0 {
            break;
        }
        kmap(spare[i]);
        kunmap(spare[i]);
        i += 1;
    }
    kunmap(held); // slot b: count 1, right in front of the cursor
    assert_eq!(pkmap_count(b), 1);
    let v = kmap(spare[i]);
    assert_ne!(pkmap_nr(v), b, "the count-1 slot was skipped");
    assert_eq!(pkmap_count(b), 1);
    kunmap(spare[i]);
    free_all(spare);
    page_alloc::__free_pages(held, 0);
}

/// A9 in steady state: cycling through 2048 distinct pages wraps twice and
/// flushes exactly once per wrap.
fn exactly_one_flush_per_wrap() {
    require_highmem();
    let pages = highmem_pages(2 * LAST_PKMAP);
    let before = pkmap_stats();
    let ipis = crate::smp::TLB_FULL_FLUSHES.load(Ordering::Relaxed);
    for p in &pages {
        kmap(p);
        kunmap(p);
    }
    let after = pkmap_stats();
    let wraps = after.wraps - before.wraps;
    assert!((2..=3).contains(&wraps), "{wraps} wraps for 2048 new mappings");
    assert_eq!(after.flushes - before.flushes, wraps, "one flush per wrap");
    assert_eq!(crate::smp::TLB_FULL_FLUSHES.load(Ordering::Relaxed) - ipis, wraps,
        "each is a full flush on every CPU (1024 pages is above the ceiling)");
    free_all(pages);
}

/// A12: with all 1024 slots in use, the next kmap sleeps until a kunmap
/// frees a slot, then gets it.
fn full_pool_sleeps_until_a_kunmap() {
    require_highmem();
    let pages = highmem_pages(LAST_PKMAP + 1);
    let held: Vec<usize> = pages[..LAST_PKMAP].iter().map(|p| kmap(p)).collect();
    assert_eq!(pkmap_census().2, LAST_PKMAP, "every slot in use");
    let waits = pkmap_stats().waits;
    let got = Arc::new(AtomicUsize::new(0));
    let (g, last) = (got.clone(), pages[LAST_PKMAP]);
    let t = spawn("kmap-waiter", move || {
        let v = kmap(last);
        g.store(v, Ordering::SeqCst);
        kunmap(last);
    });
    let deadline = crate::sched::core::jiffies() + 5000;
    while pkmap_waiters() == 0 && crate::sched::core::jiffies() < deadline {
        msleep(1);
    }
    assert_eq!(pkmap_waiters(), 1, "the 1025th kmap sleeps");
    assert_eq!(t.task().state(), TASK_UNINTERRUPTIBLE);
    assert_eq!(got.load(Ordering::SeqCst), 0);
    assert_eq!(pkmap_stats().waits, waits + 1);
    // Release one: the waiter wakes, wraps, flushes, and takes that slot.
    kunmap(pages[100]);
    t.join();
    assert_eq!(got.load(Ordering::SeqCst), held[100], "it got the slot that was released");
    for p in pages[..LAST_PKMAP].iter().enumerate().filter(|(i, _)| *i != 100).map(|(_, p)| p) {
        kunmap(p);
    }
    free_all(pages);
}

/// A13: two tasks wait for the same page; one wake-up wakes both; one maps
/// it, the other finds it mapped and takes a reference too.
fn woken_waiters_share_a_page_mapped_meanwhile() {
    require_highmem();
    let pages = highmem_pages(LAST_PKMAP + 1);
    for p in &pages[..LAST_PKMAP] {
        kmap(p);
    }
    let target = pages[LAST_PKMAP];
    let addrs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let release = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (a, r) = (addrs.clone(), release.clone());
            spawn("same-page", move || {
                a[i].store(kmap(target), Ordering::SeqCst);
                while !r.load(Ordering::SeqCst) {
                    msleep(1);
                }
                kunmap(target);
            })
        })
        .collect();
    let deadline = crate::sched::core::jiffies() + 5000;
    while pkmap_waiters() < 2 && crate::sched::core::jiffies() < deadline {
        msleep(1);
    }
    assert_eq!(pkmap_waiters(), 2);
    kunmap(pages[7]);
    while addrs.iter().any(|a| a.load(Ordering::SeqCst) == 0) {
        msleep(1);
    }
    let (a0, a1) = (addrs[0].load(Ordering::SeqCst), addrs[1].load(Ordering::SeqCst));
    assert_eq!(a0, a1, "both use the one mapping of the page");
    assert_eq!(pkmap_count(pkmap_nr(a0)), 3, "two users: count 1 + 2");
    release.store(true, Ordering::SeqCst);
    for h in handles {
        h.join();
    }
    for (i, p) in pages[..LAST_PKMAP].iter().enumerate() {
        if i != 7 {
            kunmap(p);
        }
    }
    free_all(pages);
}

/// A kmap address written on one CPU is read on another (the point of
/// kmap over kmap_local).
fn kmap_address_is_shared_by_cpus() {
    require_highmem();
    let page = highmem_pages(1)[0];
    let v = kmap(page);
    // SAFETY: v maps the page on every CPU until kunmap.
    unsafe { (v as *mut u32).write_volatile(0x5eed_0001) };
    let other = num_online_cpus() - 1;
    let seen = Arc::new(AtomicU32::new(0));
    let s = seen.clone();
    spawn_on(other, "kmap-reader", move || {
        // SAFETY: as above.
        s.store(unsafe { (v as *const u32).read_volatile() }, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { (v as *mut u32).write_volatile(0x5eed_0002) };
    })
    .join();
    assert_eq!(seen.load(Ordering::SeqCst), 0x5eed_0001);
    // SAFETY: as above.
    assert_eq!(unsafe { (v as *const u32).read_volatile() }, 0x5eed_0002);
    kunmap(page);
    page_alloc::__free_pages(page, 0);
}

/// A20: CPU B reads a PKMAP slot while page X is mapped there; X is
/// kunmapped; CPU A wraps the pool so that page Y lands in the same slot;
/// B must read Y, never X (the wrap's flush reached B's TLB).
fn after_a_wrap_no_cpu_reads_a_stale_translation() {
    require_highmem();
    require_cpus(2);
    let pages = highmem_pages(2);
    let (x, y) = (pages[0], pages[1]);
    crate::mm::highmem::memset_page(x, 0, 0x11, PAGE_SIZE);
    crate::mm::highmem::memset_page(y, 0, 0x22, PAGE_SIZE);
    let vx = kmap(x);
    let slot = pkmap_nr(vx);
    let step = Arc::new(AtomicU32::new(0)); // 1: read, 2: stop
    let seen = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let (st, se) = (step.clone(), seen.clone());
    let reader = spawn_on(1, "pkmap-reader", move || {
        // SAFETY: the slot maps x now (kmap held by the test).
        se[0].store(unsafe { (vx as *const u8).read_volatile() } as u32, Ordering::SeqCst);
        st.store(1, Ordering::SeqCst);
        while st.load(Ordering::SeqCst) != 2 {
            core::hint::spin_loop(); // keep the CPU, so nothing else flushes its TLB
        }
        // SAFETY: the slot maps y now.
        se[1].store(unsafe { (vx as *const u8).read_volatile() } as u32, Ordering::SeqCst);
    });
    while step.load(Ordering::SeqCst) != 1 {
        msleep(1);
    }
    kunmap(x);
    // Map fresh pages until the cursor has wrapped (flushing x's slot) and
    // come round to just before the slot again, then put y there.
    let spare = highmem_pages(2 * LAST_PKMAP);
    let wraps = pkmap_stats().wraps;
    let mut i = 0;
    while pkmap_stats().wraps == wraps || last_pkmap_nr() != (slot + LAST_PKMAP - 1) % LAST_PKMAP {
        kmap(spare[i]);
        kunmap(spare[i]);
        i += 1;
    }
    assert_eq!(kmap(y), vx, "y landed in x's old slot, after a wrap flush");
    step.store(2, Ordering::SeqCst);
    reader.join();
    kunmap(y);
    assert_eq!(seen[0].load(Ordering::SeqCst), 0x11);
    assert_eq!(seen[1].load(Ordering::SeqCst), 0x22, "CPU 1 read through a stale translation");
    free_all(spare);
    free_all(pages);
}

/// B26: kmap_local leaves page_address alone; kmap sets it.
fn kmap_local_is_invisible_to_page_address() {
    require_highmem();
    let h = highmem_pages(1)[0];
    // A page kmapped by an earlier user may still sit, lazily, in a count-1
    // slot (page_address then still finds it, as in Linux): flush those.
    kmap_flush_unused();
    assert_eq!(page_address(h), None);
    let v = crate::mm::kmap_local::kmap_local_page(h);
    assert_eq!(page_address(h), None);
    let k = kmap(h);
    assert_eq!(page_address(h), Some(k));
    assert_ne!(k, v);
    kunmap(h);
    crate::mm::kmap_local::kunmap_local(v);
    page_alloc::__free_pages(h, 0);
}

/// P11/P12 (issue 12): with the 686-pae flavour on a machine with RAM above
/// 4 GiB, a highmem frame there (pfn 0x100000 and up: bits 32-35 of its
/// physical address in the PTE's high word) is reached by all three
/// interfaces: data written through kmap() reads back through
/// kmap_atomic() and kmap_local_page(), each mapping's PTE holds the whole
/// frame number, and the frame's bytes agree wherever they are read from.
/// The 686 flavour cannot use that RAM, and a smaller machine has none.
fn kmap_kmap_atomic_and_kmap_local_reach_a_frame_above_4_gib() {
    use crate::mm::kmap_atomic::{kmap_atomic, kunmap_atomic};
    use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
    const FOUR_GIB_PFN: usize = 1 << 20;
    let layout = page_alloc::memory_layout();
    if layout.max_pfn <= FOUR_GIB_PFN {
        crate::tools::ktest::skip(format_args!(
            "needs RAM above 4 GiB: max_pfn {:#x} ({}; boot --pae with --mem 8G)",
            layout.max_pfn,
            if cfg!(feature = "pae") { "this machine has none" } else { "the 686 flavour cannot address it" }
        ));
    }
    // Take 4 MiB blocks of highmem until one lies above 4 GiB (the buddy
    // allocator hands out the lower ones first), then give the rest back.
    let mut held = Vec::new();
    let mut above = None;
    while let Some(block) = page_alloc::alloc_pages(mm::gfp::GFP_HIGHUSER, 10) {
        if page_to_pfn(block) >= FOUR_GIB_PFN {
            above = Some(block);
            break;
        }
        held.push(block);
    }
    for b in held {
        page_alloc::__free_pages(b, 10);
    }
    let block = above.expect("a highmem block above 4 GiB (max_pfn says there is RAM there)");
    let pfn = page_to_pfn(block) + 7;
    let page = crate::mm::page_alloc::pfn_to_page(pfn);
    let frame_of = |vaddr: usize| lookup_kernel_pte(vaddr).pfn();
    let pattern = |i: usize| (i as u32).wrapping_mul(0x9e37_79b9) ^ pfn as u32;

    let v = kmap(page);
    assert_eq!(frame_of(v), pfn, "kmap's PKMAP PTE holds the frame above 4 GiB ({pfn:#x})");
    for i in 0..PAGE_SIZE / 4 {
        // SAFETY: v maps the whole page.
        unsafe { (v as *mut u32).add(i).write_volatile(pattern(i)) };
    }
    kunmap(page);

    let a = kmap_atomic(page);
    assert_eq!(frame_of(a), pfn, "kmap_atomic's fixmap PTE holds it");
    // SAFETY: a maps the page.
    let ok = (0..PAGE_SIZE / 4).all(|i| unsafe { (a as *const u32).add(i).read_volatile() } == pattern(i));
    assert!(ok, "kmap_atomic reads what kmap wrote");
    // SAFETY: as above; the first word, flipped.
    unsafe { (a as *mut u32).write_volatile(!pattern(0)) };
    kunmap_atomic(a);

    let l = kmap_local_page(page);
    assert_eq!(frame_of(l), pfn, "kmap_local's fixmap PTE holds it");
    // SAFETY: l maps the page.
    let first = unsafe { (l as *const u32).read_volatile() };
    // SAFETY: as above.
    let ok = (1..PAGE_SIZE / 4).all(|i| unsafe { (l as *const u32).add(i).read_volatile() } == pattern(i));
    kunmap_local(l);
    assert_eq!(first, !pattern(0), "kmap_local reads kmap_atomic's write");
    assert!(ok, "and the rest of kmap's");
    page_alloc::__free_pages(block, 10);
}
