//! The highmem helpers (Linux `include/linux/highmem.h` and the rest of
//! `mm/highmem.c`): memcpy_page and its family, clear/copy_highpage,
//! zero_user_segments, kmap_to_page, is_kmap_addr, the highmem totals,
//! `__GFP_ZERO` on highmem, and the safe Rust face (`with_kmap_local`,
//! `Kmapped`). Conformance catalogue sections A21-22, F56-60, G64
//! (`docs/conformance.md`).
//!
//! Every helper is tried on lowmem and on highmem pages, because the two
//! take different paths (the direct map, or a kmap_local slot), and every
//! call is wrapped in [`helper_call`], which checks catalogue F57: the
//! helper leaves the task's kmap_local stack exactly as it found it, and it
//! mapped exactly the pages Linux maps. Contents are always read back
//! byte for byte, including the bytes around the range that must NOT
//! change.
//!
//! The suite mostly runs with `-m 3G`, where GFP_HIGHUSER returns highmem
//! (checked with `PageHighMem`, not trusted). It also runs with
//! `-m 512M debug_kmap_local_force_map`: no highmem at all, but every
//! lowmem page goes through the kmap_local slots. There the highmem cases
//! are skipped (each says so) and the lowmem ones take the slot path.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mm::gfp::{__GFP_ZERO, GFP_HIGHUSER, GFP_KERNEL, GfpFlags};
use mm::layout::fixed_addresses::{FIX_KMAP_BEGIN, FIX_KMAP_END};
use mm::layout::{LAST_PKMAP, NR_CPUS, PAGE_OFFSET, PAGE_SIZE, PKMAP_BASE, fix_to_virt, pkmap_addr, pkmap_nr};
use mm::page::Page;

use crate::arch::percpu::raw_smp_processor_id;
use crate::tools::ktest::{Test, require_highmem};
use crate::mm::highmem::{
    clear_highpage, copy_highpage, is_kmap_addr, kmap_to_page, memcpy_from_page, memcpy_page, memcpy_to_page,
    memmove_page, memset_page, memzero_page, nr_free_highpages, totalhigh_pages, zero_user_segments,
};
use crate::mm::kmap::{kmap, kunmap, pkmap_count};
use crate::mm::kmap_guard::{Kmapped, with_kmap_local};
use crate::mm::kmap_local::{nr_maps, config, kmap_local_page, kmap_local_pfn, kunmap_local};
use crate::mm::page_alloc::{self, PageHighMem, __free_pages, alloc_pages, page_address, page_to_pfn, pfn_to_page};
use crate::sched::{current, spawn_on};
use crate::smp::{num_online_cpus, run_in_irq};
use super::common::*;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(memcpy_page_copies_exactly_len_bytes),
    test_case!(memcpy_to_page_and_memcpy_from_page_copy_exactly_their_range),
    test_case!(memset_page_and_memzero_page_touch_exactly_their_range),
    test_case!(memmove_page_handles_overlap_within_one_page),
    test_case!(clear_highpage_zeroes_one_whole_page_and_nothing_else),
    test_case!(copy_highpage_copies_all_4096_bytes),
    test_case!(zero_user_segments_zeroes_exactly_two_ranges_of_one_page),
    test_case!(zero_user_segments_maps_only_the_touched_subpages_of_a_block),
    test_case!(helpers_work_in_interrupt_context_on_top_of_the_task_stack),
    test_case!(kmap_to_page_finds_the_page_behind_every_kind_of_address),
    test_case!(is_kmap_addr_covers_both_kmap_windows_and_nothing_else),
    test_case!(highmem_totals_agree_with_the_zones_and_meminfo),
    test_case!(nr_free_highpages_counts_highmem_allocations_only),
    test_case!(gfp_zero_hands_out_zeroed_highmem),
    test_case!(with_kmap_local_nests_three_deep_and_unmaps_lifo),
    test_case!(kmapped_guard_of_lowmem_is_the_direct_map),
    test_case!(kmapped_guard_kunmaps_on_drop_and_is_valid_in_other_tasks),
    test_case!(memcpy_page_past_the_destination_page_ends_the_boot,
        panics = "BUG: memcpy_page (destination): offset 4000 + length 200 runs past the page (4096 bytes)"),
    test_case!(memcpy_page_past_the_source_page_ends_the_boot,
        panics = "BUG: memcpy_page (source): offset 3900 + length 197 runs past the page (4096 bytes)"),
    test_case!(memcpy_to_page_past_the_page_ends_the_boot,
        panics = "BUG: memcpy_to_page: offset 4090 + length 7 runs past the page (4096 bytes)"),
    test_case!(memcpy_from_page_past_the_page_ends_the_boot,
        panics = "BUG: memcpy_from_page: offset 1 + length 4096 runs past the page (4096 bytes)"),
    test_case!(memset_page_with_a_wrapping_length_ends_the_boot,
        panics = "BUG: memset_page: offset 8 + length 4294967292 runs past the page (4096 bytes)"),
    test_case!(zero_user_segments_past_the_block_ends_the_boot,
        panics = "BUG: zero_user_segments: range end 16385 past the 16384-byte block"),
];

// ------------------------------------------------------------ helpers ----

/// The kinds of page this machine has: lowmem, and highmem if present.
fn kinds() -> &'static [bool] {
    if have_highmem() { &[false, true] } else { &[false] }
}

fn kind(page: &Page) -> &'static str {
    if PageHighMem(page) { "highmem" } else { "lowmem" }
}

/// Check every byte of `page`: `expect(i)` says what byte `i` must be.
#[track_caller]
fn check_bytes(what: &str, page: &Page, expect: impl Fn(usize) -> u8) {
    let got = contents(page);
    if let Some(i) = (0..PAGE_SIZE).find(|&i| got[i] != expect(i)) {
        panic!("{what} ({} pfn {:#x}): byte {i} is {:#04x}, expected {:#04x}", kind(page), page_to_pfn(page), got[i], expect(i));
    }
}

/// How many pages of `pages` a helper must map through a kmap_local slot:
/// highmem ones, and with debug_kmap_local_force_map every one.
fn slot_maps(pages: &[&Page]) -> u64 {
    pages.iter().filter(|p| PageHighMem(p) || config().force_map).count() as u64
}

/// Run one helper call and check catalogue F57: afterwards the task's
/// kmap_local stack is exactly as before (depth and every slot's PTE value,
/// so also a mapping the caller holds), and the helper made exactly
/// `maps` kmap_local mappings (Linux maps each highmem page it touches
/// once; none for lowmem).
#[track_caller]
fn helper_call(what: &str, maps: u64, f: impl FnOnce()) {
    helper_call_maps(what, maps..=maps, f);
}

/// [`helper_call`] where more than one number of mappings is right.
#[track_caller]
fn helper_call_maps(what: &str, maps: core::ops::RangeInclusive<u64>, f: impl FnOnce()) {
    let before = current().kmap_ctrl_snapshot();
    let nr = nr_maps();
    f();
    let made = nr_maps() - nr;
    let after = current().kmap_ctrl_snapshot();
    assert_eq!(after.idx, before.idx, "{what}: kmap_ctrl.idx {} -> {}", before.idx, after.idx);
    assert_eq!(after.pteval, before.pteval, "{what}: a kmap_local slot of the caller changed");
    assert!(maps.contains(&made), "{what}: {made} kmap_local mappings, expected {maps:?}");
}

/// Run `body` twice: with an empty kmap_local stack, and while the task
/// holds a kmap_local mapping of another page, which must survive every
/// helper call untouched (helpers push above it and pop back).
/// `kmap_local_pfn` maps through a slot even for lowmem, so this works on
/// every machine.
fn bare_and_nested(body: impl Fn()) {
    body();
    let held = any_page();
    fill_pattern(held, 0x5c);
    let v = kmap_local_pfn(page_to_pfn(held));
    body();
    assert!(core::ptr::eq(kmap_to_page(v), held), "the held mapping at {v:#010x} still maps its page");
    // SAFETY: v is still our mapping of held.
    let b = unsafe { ((v + 1234) as *const u8).read_volatile() };
    assert_eq!(b, pattern(0x5c, 1234), "the held mapping's contents");
    kunmap_local(v);
    free_page(held);
}

/// Every (lowmem, highmem) pairing this machine has.
fn page_pairs() -> Vec<(&'static str, bool, bool)> {
    [("lowmem <- lowmem", false, false), ("lowmem <- highmem", false, true),
     ("highmem <- lowmem", true, false), ("highmem <- highmem", true, true)]
        .into_iter()
        .filter(|&(_, d, s)| have_highmem() || !(d || s))
        .collect()
}

fn page_of(high: bool) -> &'static Page {
    if high { highmem_page() } else { lowmem_page() }
}

// ---------------------------------------------------------- the tests ----

/// F56: `memcpy_page(D, 100, S, 200, 300)` copies exactly 300 bytes; D's
/// other bytes and all of S stay as they were. Linux maps D, then S
/// (kmap_local), and unmaps in reverse: two mappings for two highmem pages.
fn memcpy_page_copies_exactly_len_bytes() {
    bare_and_nested(|| {
        for (name, dh, sh) in page_pairs() {
            let (d, s) = (page_of(dh), page_of(sh));
            fill_pattern(d, 1);
            fill_pattern(s, 2);
            helper_call(name, slot_maps(&[d, s]), || memcpy_page(d, 100, s, 200, 300));
            check_bytes("memcpy_page destination", d, |i| if (100..400).contains(&i) { pattern(2, i + 100) } else { pattern(1, i) });
            check_bytes("memcpy_page source", s, |i| pattern(2, i));
            // The edges of the legal range: a whole page, and nothing at
            // offset PAGE_SIZE (length 0 is in bounds there).
            helper_call(name, slot_maps(&[d, s]), || memcpy_page(d, 0, s, 0, PAGE_SIZE));
            check_bytes("memcpy_page of a whole page", d, |i| pattern(2, i));
            fill_pattern(d, 3);
            helper_call(name, slot_maps(&[d, s]), || memcpy_page(d, PAGE_SIZE, s, PAGE_SIZE, 0));
            check_bytes("memcpy_page of 0 bytes", d, |i| pattern(3, i));
            free_page(d);
            free_page(s);
        }
    });
}

/// F57: `memcpy_to_page` / `memcpy_from_page` copy exactly the slice's
/// length at the offset, up to the last byte of the page.
fn memcpy_to_page_and_memcpy_from_page_copy_exactly_their_range() {
    bare_and_nested(|| {
        for &high in kinds() {
            let p = page_of(high);
            fill_pattern(p, 7);
            let src: Vec<u8> = (0..50).map(|i| 0xa0 ^ i as u8).collect();
            helper_call("memcpy_to_page", slot_maps(&[p]), || memcpy_to_page(p, PAGE_SIZE - 50, &src));
            check_bytes("memcpy_to_page", p, |i| if i >= PAGE_SIZE - 50 { src[i - (PAGE_SIZE - 50)] } else { pattern(7, i) });

            let mut buf = [0xeeu8; 66];
            helper_call("memcpy_from_page", slot_maps(&[p]), || memcpy_from_page(&mut buf[1..65], p, 1000));
            assert_eq!(buf[0], 0xee, "memcpy_from_page wrote before its buffer slice");
            assert_eq!(buf[65], 0xee, "memcpy_from_page wrote past its buffer slice");
            for (k, &b) in buf[1..65].iter().enumerate() {
                assert_eq!(b, pattern(7, 1000 + k), "memcpy_from_page ({}) byte {k}", kind(p));
            }
            let mut tail = [0u8; 50];
            helper_call("memcpy_from_page", slot_maps(&[p]), || memcpy_from_page(&mut tail, p, PAGE_SIZE - 50));
            assert_eq!(&tail[..], &src[..], "memcpy_from_page reads back what memcpy_to_page wrote");
            check_bytes("memcpy_from_page leaves the page alone", p,
                |i| if i >= PAGE_SIZE - 50 { src[i - (PAGE_SIZE - 50)] } else { pattern(7, i) });
            free_page(p);
        }
    });
}

/// F57: `memset_page` and `memzero_page` write exactly `[off, off + len)`.
fn memset_page_and_memzero_page_touch_exactly_their_range() {
    bare_and_nested(|| {
        for &high in kinds() {
            let p = page_of(high);
            fill_pattern(p, 9);
            helper_call("memset_page", slot_maps(&[p]), || memset_page(p, 7, 0xee, 1000));
            helper_call("memzero_page", slot_maps(&[p]), || memzero_page(p, 4000, 96));
            helper_call("memzero_page of nothing", slot_maps(&[p]), || memzero_page(p, 2000, 0));
            check_bytes("memset_page + memzero_page", p, |i| match i {
                7..1007 => 0xee,
                4000.. => 0,
                _ => pattern(9, i),
            });
            free_page(p);
        }
    });
}

/// `memmove_page` (Linux had it from about v5.12 until 2022; we keep it)
/// must handle source and destination overlapping inside one page, in both
/// directions, as memmove does. On a highmem page, `dst` and `src` are the
/// same physical page reached through two different slots, so the overlap
/// is invisible to a memmove that compares virtual addresses (Linux's
/// memmove_page mapped the page twice and had exactly that problem).
/// Mapping the page once, or twice, are both fine here.
fn memmove_page_handles_overlap_within_one_page() {
    bare_and_nested(|| {
        for &high in kinds() {
            let p = page_of(high);
            let maps = slot_maps(&[p])..=2 * slot_maps(&[p]);
            // Upwards: [10, 110) <- [0, 100).
            fill_pattern(p, 11);
            helper_call_maps("memmove_page upwards", maps.clone(), || memmove_page(p, 10, p, 0, 100));
            check_bytes("memmove_page upwards (dst 10, src 0, len 100)", p,
                |i| if (10..110).contains(&i) { pattern(11, i - 10) } else { pattern(11, i) });
            // Downwards: [0, 100) <- [10, 110).
            fill_pattern(p, 12);
            helper_call_maps("memmove_page downwards", maps, || memmove_page(p, 0, p, 10, 100));
            check_bytes("memmove_page downwards (dst 0, src 10, len 100)", p,
                |i| if i < 100 { pattern(12, i + 10) } else { pattern(12, i) });
            free_page(p);
        }
    });
}

/// `clear_highpage` zeroes the page: all 4096 bytes, and not a byte of the
/// page next to it (the second page of an order-1 block).
fn clear_highpage_zeroes_one_whole_page_and_nothing_else() {
    bare_and_nested(|| {
        for &high in kinds() {
            let block = if high { highmem_block(1) } else { lowmem_block(1) };
            let (first, second) = (block, pfn_to_page(page_to_pfn(block) + 1));
            fill_pattern(first, 21);
            fill_pattern(second, 22);
            helper_call("clear_highpage", slot_maps(&[first]), || clear_highpage(first));
            check_bytes("clear_highpage", first, |_| 0);
            check_bytes("the page after the cleared one", second, |i| pattern(22, i));
            __free_pages(block, 1);
        }
    });
}

/// F58: `copy_highpage(T, F)` copies all 4096 bytes (Linux maps F, then T,
/// and unmaps in reverse: two mappings when both are highmem).
fn copy_highpage_copies_all_4096_bytes() {
    bare_and_nested(|| {
        for (name, th, fh) in page_pairs() {
            let (to, from) = (page_of(th), page_of(fh));
            fill_pattern(to, 31);
            fill_pattern(from, 32);
            helper_call(name, slot_maps(&[to, from]), || copy_highpage(to, from));
            check_bytes("copy_highpage destination", to, |i| pattern(32, i));
            check_bytes("copy_highpage source", from, |i| pattern(32, i));
            free_page(to);
            free_page(from);
        }
    });
}

/// F59: `zero_user_segments` on one page zeroes exactly `[s1, e1)` and
/// `[s2, e2)` (one mapping for both), and an empty range (`s >= e`) is a
/// no-op that maps nothing.
fn zero_user_segments_zeroes_exactly_two_ranges_of_one_page() {
    bare_and_nested(|| {
        for &high in kinds() {
            let p = page_of(high);
            fill_pattern(p, 41);
            helper_call("zero_user_segments", slot_maps(&[p]), || zero_user_segments(p, 0, 10, 20, 4000, PAGE_SIZE));
            let zeroed = |i: usize| (10..20).contains(&i) || i >= 4000;
            check_bytes("zero_user_segments [10, 20) + [4000, 4096)", p, |i| if zeroed(i) { 0 } else { pattern(41, i) });
            // Empty ranges: start == end, and start > end.
            helper_call("zero_user_segments of nothing", 0, || zero_user_segments(p, 0, 30, 30, 50, 40));
            check_bytes("zero_user_segments with two empty ranges", p, |i| if zeroed(i) { 0 } else { pattern(41, i) });
            // One empty range, one not.
            helper_call("zero_user_segments one empty", slot_maps(&[p]), || zero_user_segments(p, 0, 100, 100, 0, 1));
            check_bytes("zero_user_segments [0, 1)", p, |i| if zeroed(i) || i == 0 { 0 } else { pattern(41, i) });
            free_page(p);
        }
    });
}

/// F60 (the order-2 analogue of Linux's compound page): on a 4-page block,
/// `(0, 10, 3*4096+5, 3*4096+7)` maps and zeroes subpages 0 and 3 only;
/// a range across subpage boundaries maps each subpage it touches once.
/// Every byte of all four subpages is read back.
fn zero_user_segments_maps_only_the_touched_subpages_of_a_block() {
    bare_and_nested(|| {
        for &high in kinds() {
            let block = if high { highmem_block(2) } else { lowmem_block(2) };
            let first = page_to_pfn(block);
            let sub = |k: usize| pfn_to_page(first + k);
            let subs = [sub(0), sub(1), sub(2), sub(3)];
            for (k, p) in subs.iter().enumerate() {
                fill_pattern(p, 50 + k as u8);
            }
            let per_page = slot_maps(&[block]);
            helper_call("zero_user_segments on subpages 0 and 3", 2 * per_page,
                || zero_user_segments(block, 2, 0, 10, 3 * PAGE_SIZE + 5, 3 * PAGE_SIZE + 7));
            check_bytes("subpage 0", subs[0], |i| if i < 10 { 0 } else { pattern(50, i) });
            check_bytes("subpage 1 (not touched)", subs[1], |i| pattern(51, i));
            check_bytes("subpage 2 (not touched)", subs[2], |i| pattern(52, i));
            check_bytes("subpage 3", subs[3], |i| if (5..7).contains(&i) { 0 } else { pattern(53, i) });

            // [4090, 2*4096+3) runs over subpages 0, 1 and 2.
            helper_call("zero_user_segments over three subpages", 3 * per_page,
                || zero_user_segments(block, 2, 4090, 2 * PAGE_SIZE + 3, 0, 0));
            check_bytes("subpage 0", subs[0], |i| if !(10..4090).contains(&i) { 0 } else { pattern(50, i) });
            check_bytes("subpage 1 (all zero now)", subs[1], |_| 0);
            check_bytes("subpage 2", subs[2], |i| if i < 3 { 0 } else { pattern(52, i) });
            check_bytes("subpage 3", subs[3], |i| if (5..7).contains(&i) { 0 } else { pattern(53, i) });
            __free_pages(block, 2);
        }
    });
}

static IRQ_PAGES: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static IRQ_DEPTH: [AtomicUsize; 2] = [const { AtomicUsize::new(usize::MAX) }; 2];
static IRQ_RAN: AtomicBool = AtomicBool::new(false);

/// Runs in the call-function IPI handler: three helpers on highmem pages,
/// noting the (interrupted task's) kmap_local depth before and after.
fn helpers_in_irq(_: usize) {
    let [d, s, z] = [0, 1, 2].map(|k| pfn_to_page(IRQ_PAGES[k].load(Ordering::SeqCst)));
    assert!(crate::sched::preempt::in_hardirq(), "run_in_irq runs its function in an interrupt handler");
    IRQ_DEPTH[0].store(kmap_depth(), Ordering::SeqCst);
    memcpy_page(d, 0, s, 0, PAGE_SIZE);
    copy_highpage(z, s);
    zero_user_segments(z, 0, 0, 16, 0, 0);
    IRQ_DEPTH[1].store(kmap_depth(), Ordering::SeqCst);
    IRQ_RAN.store(true, Ordering::SeqCst);
}

/// The helpers are built on kmap_local, so they work "from any context,
/// including interrupts" (Linux kdoc). An interrupt handler's mappings go
/// on top of the interrupted task's stack and are gone when it returns
/// (catalogue C40): the task's own mapping is untouched, and nothing is
/// reported (the handler runs with interrupts off, so Linux's
/// `in_hardirq() && !irqs_disabled()` WARN stays quiet).
fn helpers_work_in_interrupt_context_on_top_of_the_task_stack() {
    let [d, s, z] = [any_page(), any_page(), any_page()];
    fill_pattern(d, 61);
    fill_pattern(s, 62);
    fill_pattern(z, 63);
    for (k, p) in [d, s, z].iter().enumerate() {
        IRQ_PAGES[k].store(page_to_pfn(p), Ordering::SeqCst);
    }
    let held = any_page();
    fill_pattern(held, 64);
    let reports = crate::debug::report_count();
    let v = kmap_local_pfn(page_to_pfn(held)); // a slot, even for lowmem
    let before = current().kmap_ctrl_snapshot();
    IRQ_RAN.store(false, Ordering::SeqCst);
    run_in_irq(helpers_in_irq, 0);
    assert!(IRQ_RAN.load(Ordering::SeqCst), "the handler ran");
    assert_eq!(IRQ_DEPTH[0].load(Ordering::SeqCst), before.idx, "the handler sees the task's depth");
    assert_eq!(IRQ_DEPTH[1].load(Ordering::SeqCst), before.idx, "the handler's helpers popped everything they pushed");
    assert_eq!(current().kmap_ctrl_snapshot(), before, "the task's kmap_local stack is unchanged");
    // SAFETY: v is still our mapping of held.
    let b = unsafe { ((v + 4095) as *const u8).read_volatile() };
    assert_eq!(b, pattern(64, 4095), "the task's mapping still shows its page");
    kunmap_local(v);
    assert_eq!(crate::debug::report_count(), reports, "nothing reported: {}", crate::debug::last_report().as_str());
    check_bytes("memcpy_page in an interrupt", d, |i| pattern(62, i));
    check_bytes("copy_highpage + zero_user_segments in an interrupt", z, |i| if i < 16 { 0 } else { pattern(62, i) });
    for p in [d, s, z, held] {
        free_page(p);
    }
}

/// A21: `kmap_to_page` on a PKMAP address returns the page in that slot; on
/// one of this task's kmap_local addresses the page in that slot; on a
/// lowmem address `virt_to_page`. Any address inside the page will do.
fn kmap_to_page_finds_the_page_behind_every_kind_of_address() {
    let (h1, h2, low) = (any_page(), any_page(), lowmem_page());

    if have_highmem() {
        // (Without highmem, kmap() returns the direct map: no PKMAP address.)
        let k = kmap(h1);
        assert!(mm::layout::is_pkmap_addr(k));
        assert!(core::ptr::eq(kmap_to_page(k), h1), "kmap_to_page(kmap address {k:#010x})");
        assert!(core::ptr::eq(kmap_to_page(k + PAGE_SIZE - 1), h1), "kmap_to_page(last byte of the kmap page)");
        kunmap(h1);
    }

    // kmap_local_pfn: a slot whatever the page.
    let a = kmap_local_pfn(page_to_pfn(h1));
    let b = kmap_local_pfn(page_to_pfn(h2));
    assert!(core::ptr::eq(kmap_to_page(a + 17), h1), "kmap_to_page(first kmap_local mapping {a:#010x})");
    assert!(core::ptr::eq(kmap_to_page(b), h2), "kmap_to_page(second kmap_local mapping {b:#010x})");
    kunmap_local(b);
    kunmap_local(a);

    let l = page_address(low).expect("lowmem has an address");
    assert!(core::ptr::eq(kmap_to_page(l), low), "kmap_to_page(direct-map address {l:#010x})");
    assert!(core::ptr::eq(kmap_to_page(l + 4000), low));
    let text = kmap_to_page_finds_the_page_behind_every_kind_of_address as fn() as usize;
    assert!(core::ptr::eq(kmap_to_page(text), page_alloc::virt_to_page(text)), "kernel text is lowmem too");
    for p in [h1, h2, low] {
        free_page(p);
    }
}

/// A22 and §9 Q3: `is_kmap_addr` is true for the whole PKMAP window (both
/// ends) and for every kmap_local slot of every CPU, including CPU 0's
/// slot 0 (`fix_to_virt(FIX_KMAP_BEGIN)`), which Linux's bound
/// (`addr < __fix_to_virt(FIX_KMAP_BEGIN)`) leaves out: we include it on
/// purpose, so that `kunmap_local` and `is_kmap_addr` agree. False for
/// lowmem, vmalloc, user addresses, and the fixmap entries next to the
/// slots.
fn is_kmap_addr_covers_both_kmap_windows_and_nothing_else() {
    // The PKMAP window, both ends, and just outside it.
    assert!(is_kmap_addr(PKMAP_BASE), "first PKMAP byte");
    assert!(is_kmap_addr(pkmap_addr(LAST_PKMAP) - 1), "last PKMAP byte");
    assert!(!is_kmap_addr(PKMAP_BASE - 1), "the guard page below PKMAP");
    assert!(!is_kmap_addr(pkmap_addr(LAST_PKMAP)), "the first byte after PKMAP");

    // The kmap_local slots: the whole range reserved for NR_CPUS CPUs at
    // the debug stride, and just outside it.
    let slot0 = fix_to_virt(FIX_KMAP_BEGIN);
    assert!(is_kmap_addr(slot0), "CPU 0 slot 0 (Linux says false; we say true, see §9 Q3)");
    assert!(is_kmap_addr(slot0 + PAGE_SIZE - 1), "last byte of CPU 0 slot 0");
    assert!(!is_kmap_addr(slot0 + PAGE_SIZE), "the fixmap entry above the slots (I/O APIC)");
    assert!(is_kmap_addr(fix_to_virt(FIX_KMAP_END)), "the last slot");
    assert!(!is_kmap_addr(fix_to_virt(FIX_KMAP_END) - 1), "below the last slot");
    let cfg = config();
    for cpu in 0..NR_CPUS {
        for slot in [0, cfg.km_max_idx() - 1] {
            assert!(is_kmap_addr(cfg.slot_vaddr(cpu, slot) + 5), "CPU {cpu} slot {slot}");
        }
    }

    // Real mappings.
    let (h, low) = (any_page(), lowmem_page());
    if have_highmem() {
        let k = kmap(h);
        assert!(is_kmap_addr(k), "a kmap() address");
        kunmap(h);
    }
    let v = kmap_local_pfn(page_to_pfn(h));
    assert!(is_kmap_addr(v + 100), "a kmap_local_pfn() address");
    kunmap_local(v);
    let l = page_address(low).expect("lowmem has an address");
    assert!(!is_kmap_addr(l), "a direct-map address");
    let lv = kmap_local_page(low);
    assert_eq!(is_kmap_addr(lv), config().force_map, "kmap_local of lowmem is a slot only with force-map");
    kunmap_local(lv);

    // Lowmem, vmalloc, user.
    assert!(!is_kmap_addr(PAGE_OFFSET));
    assert!(!is_kmap_addr(PAGE_OFFSET + (page_alloc::max_low_pfn() << 12) - 1), "the last lowmem byte");
    let vm = crate::mm::vmalloc::vmalloc(PAGE_SIZE).expect("vmalloc space");
    assert!(!is_kmap_addr(vm), "a vmalloc address");
    crate::mm::vmalloc::vfree(vm);
    for user in [0, 0x1000, 0x0804_8000, PAGE_OFFSET - 1] {
        assert!(!is_kmap_addr(user), "user address {user:#010x}");
    }
    free_page(h);
    free_page(low);
}

/// G64: `totalhigh_pages()` is the managed pages of the highmem zone and
/// `nr_free_highpages()` its free pages; meminfo's HighTotal / HighFree say
/// the same in kB.
fn highmem_totals_agree_with_the_zones_and_meminfo() {
    let high_zones = || page_alloc::zones().filter(|z| z.zone_type().is_highmem());
    let managed: usize = high_zones().map(|z| z.managed_pages()).sum();
    let spanned: usize = high_zones().map(|z| z.spanned_pages()).sum();
    let free: usize = high_zones().map(|z| z.nr_free_pages()).sum();
    let info = page_alloc::meminfo();
    let (total, nr_free) = (totalhigh_pages(), nr_free_highpages());
    assert_eq!(total > 0, have_highmem(), "highmem pages exactly when RAM goes past lowmem");
    assert_eq!(total, managed, "totalhigh_pages() == managed pages of ZONE_HIGHMEM");
    assert!(total <= spanned, "managed {total} <= spanned {spanned}");
    assert_eq!(nr_free, free, "nr_free_highpages() == free pages of ZONE_HIGHMEM");
    assert!(nr_free <= total);
    assert_eq!(info.high_total_kb, total * 4, "HighTotal");
    assert_eq!(info.high_free_kb, nr_free * 4, "HighFree");
    assert_eq!(info.low_total_kb + info.high_total_kb, info.mem_total_kb);
    // Every highmem pfn is above lowmem.
    for z in high_zones() {
        assert!(z.zone_start_pfn() >= page_alloc::max_low_pfn(), "ZONE_HIGHMEM starts at max_low_pfn or above");
    }
}

/// `nr_free_highpages()` drops by the size of each highmem allocation,
/// not for lowmem ones, and comes back on free.
fn nr_free_highpages_counts_highmem_allocations_only() {
    require_highmem();
    let before = nr_free_highpages();
    let h = highmem_page();
    assert_eq!(nr_free_highpages(), before - 1, "one highmem page allocated");
    let low = lowmem_page();
    assert_eq!(nr_free_highpages(), before - 1, "a lowmem allocation leaves the highmem count alone");
    let block = highmem_block(2);
    assert_eq!(nr_free_highpages(), before - 5, "plus an order-2 highmem block");
    free_page(h);
    assert_eq!(nr_free_highpages(), before - 4);
    __free_pages(block, 2);
    free_page(low);
    assert_eq!(nr_free_highpages(), before, "all given back");
}

/// Allocate order-1 blocks with `gfp` until the one at `pfn` comes back
/// (the buddy allocator's free lists are LIFO, so it is normally the first
/// one); the others are freed again.
fn alloc_until(gfp: GfpFlags, pfn: usize) -> &'static Page {
    let mut others = Vec::new();
    let mut found = None;
    for _ in 0..64 {
        let b = alloc_pages(gfp, 1).expect("free memory");
        if page_to_pfn(b) == pfn {
            found = Some(b);
            break;
        }
        others.push(b);
    }
    for b in others {
        __free_pages(b, 1);
    }
    found.unwrap_or_else(|| panic!("the allocator did not hand back the order-1 block at pfn {pfn:#x} within 64 tries"))
}

/// `alloc_pages(GFP_HIGHUSER | __GFP_ZERO, 1)` returns both pages zeroed.
/// Highmem has no address, so the allocator must map each page to clear
/// it. A page nobody has written is zero anyway (QEMU's RAM starts zeroed),
/// so the test first makes a block dirty, frees it, and shows that a plain
/// allocation hands it back still dirty: only then does a zero result
/// after __GFP_ZERO mean something. Lowmem the same way.
fn gfp_zero_hands_out_zeroed_highmem() {
    for base in [GFP_HIGHUSER, GFP_KERNEL] {
        if base == GFP_HIGHUSER && !have_highmem() {
            continue; // no highmem on this machine: the lowmem round only
        }
        let block = if base == GFP_HIGHUSER { highmem_block(1) } else { lowmem_block(1) };
        let pfn = page_to_pfn(block);
        let subs = [pfn_to_page(pfn), pfn_to_page(pfn + 1)];
        for p in subs {
            fill_byte(p, 0xa5);
        }
        __free_pages(block, 1);

        let again = alloc_until(base, pfn);
        for p in subs {
            check_bytes("a reused block without __GFP_ZERO keeps its old bytes", p, |_| 0xa5);
        }
        __free_pages(again, 1);

        let zeroed = alloc_until(base | __GFP_ZERO, pfn);
        assert_eq!(PageHighMem(zeroed), base == GFP_HIGHUSER);
        for p in subs {
            check_bytes("__GFP_ZERO", p, |_| 0);
        }
        __free_pages(zeroed, 1);
    }
}

/// The safe face: `with_kmap_local` nested three deep maps three highmem
/// pages at once (three slots), the data written through each is in the
/// page afterwards (read back through kmap, another path), and each level
/// pops its own slot on the way out, so the stack depth returns step by
/// step to where it was.
fn with_kmap_local_nests_three_deep_and_unmaps_lifo() {
    if !config().force_map {
        require_highmem(); // else nothing goes through a slot on this machine
    }
    let pages = [any_page(), any_page(), any_page()];
    let incr = config().km_incr();
    let base = kmap_depth();
    let sum = with_kmap_local(pages[0], |a| {
        a.as_bytes_mut().fill(0x11);
        assert_eq!(kmap_depth(), base + incr);
        let inner = with_kmap_local(pages[1], |b| {
            b.as_bytes_mut().fill(0x22);
            with_kmap_local(pages[2], |c| {
                c.as_bytes_mut().fill(0x33);
                assert_eq!(kmap_depth(), base + 3 * incr, "three mappings held");
                let addrs = [a.addr(), b.addr(), c.addr()];
                assert!(addrs.iter().all(|&v| is_kmap_addr(v)), "three kmap_local slots: {addrs:x?}");
                assert!(addrs[0] != addrs[1] && addrs[1] != addrs[2] && addrs[0] != addrs[2], "{addrs:x?}");
                // The outer mappings still work inside the inner ones.
                a.as_bytes()[4095] as u32 + b.as_bytes()[0] as u32 + c.as_bytes()[2048] as u32
            })
        });
        assert_eq!(kmap_depth(), base + incr, "the two inner mappings are gone");
        inner
    });
    assert_eq!(sum, 0x11 + 0x22 + 0x33);
    assert_eq!(kmap_depth(), base, "all three unmapped");
    for (p, val) in pages.iter().zip([0x11u8, 0x22, 0x33]) {
        let g = Kmapped::new(p);
        assert!(g.as_bytes().iter().all(|&b| b == val), "page written through with_kmap_local holds {val:#x}");
        drop(g);
        free_page(p);
    }
    // Lowmem through the same interface (normal mode: the direct map, no slot).
    let low = lowmem_page();
    with_kmap_local(low, |m| {
        if !config().force_map {
            assert_eq!(Some(m.addr()), page_address(low), "lowmem: the direct-map address");
        }
        m.as_bytes_mut()[0] = 0x44;
    });
    assert_eq!(kmap_depth(), base);
    free_page(low);
}

/// A `Kmapped` guard of a lowmem page is the direct map, as kmap() of
/// lowmem is (catalogue A1): no PKMAP slot is taken or counted.
fn kmapped_guard_of_lowmem_is_the_direct_map() {
    let low = lowmem_page();
    let census = crate::mm::kmap::pkmap_census();
    let g = Kmapped::new(low);
    assert_eq!(Some(g.addr()), page_address(low));
    assert_eq!(crate::mm::kmap::pkmap_census(), census, "no slot taken");
    drop(g);
    assert_eq!(crate::mm::kmap::pkmap_census(), census);
    free_page(low);
}

/// The `Kmapped` guard is kmap()/kunmap(): while it lives, its PKMAP slot
/// has count 2 (one user; see the pkmap_count states in mm/src/pkmap.rs),
/// a second guard of the same page shares the slot (count 3), and the
/// address works in another task on another CPU, because a kmap() address
/// is global. Dropping the guards kunmaps: back to 2, then 1 (lazy: the PTE
/// stays until the next wrap flush).
fn kmapped_guard_kunmaps_on_drop_and_is_valid_in_other_tasks() {
    require_highmem();
    let h = highmem_page();
    fill_pattern(h, 71);
    let mut g = Kmapped::new(h);
    let addr = g.addr();
    assert!(mm::layout::is_pkmap_addr(addr), "a PKMAP address: {addr:#010x}");
    let nr = pkmap_nr(addr);
    assert_eq!(pkmap_count(nr), 2, "one kmap() user of slot {nr}");
    assert_eq!(page_address(h), Some(addr), "page_address finds the kmap address");
    assert_eq!(g.as_bytes()[300], pattern(71, 300));
    g.as_bytes_mut()[0] = 0x99;

    let g2 = Kmapped::new(h);
    assert_eq!(g2.addr(), addr, "a second kmap() of the page shares its slot");
    assert_eq!(pkmap_count(nr), 3);

    // Another task, on another CPU when there is one.
    let cpu = if num_online_cpus() > 1 { (raw_smp_processor_id() + 1) % num_online_cpus() } else { 0 };
    let ok = alloc::sync::Arc::new(AtomicUsize::new(0));
    let o = ok.clone();
    let reader = spawn_on(cpu, "kmap-reader", move || {
        // SAFETY: the guards in the spawning task keep addr mapped until
        // after join; a kmap() address is valid in every task and on every CPU.
        let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, PAGE_SIZE) };
        let good = bytes[0] == 0x99 && (1..PAGE_SIZE).all(|i| bytes[i] == pattern(71, i));
        // SAFETY: as above; the spawner does not touch byte 8 until join.
        unsafe { ((addr + 8) as *mut u8).write_volatile(0x77) };
        o.store(if good { 1 } else { 2 } | (raw_smp_processor_id() << 8), Ordering::SeqCst);
    });
    reader.join();
    let r = ok.load(Ordering::SeqCst);
    assert_eq!(r & 0xff, 1, "the other task read the page through the kmap address");
    assert_eq!(r >> 8, cpu, "the reader ran on CPU {cpu}");
    assert_eq!(g.as_bytes()[8], 0x77, "and its write is visible here");

    drop(g2);
    assert_eq!(pkmap_count(nr), 2, "one guard dropped");
    drop(g);
    assert_eq!(pkmap_count(nr), 1, "both dropped: unused, not yet flushed (lazy kunmap)");
    assert_eq!(page_address(h), Some(addr), "the PTE stays until the next flush, and page_address with it");
    free_page(h);
}

// ------------------------------------------- out of bounds: the boot ends ----

/// Linux checks helper bounds only with CONFIG_DEBUG_VM (`VM_BUG_ON`); we
/// always do, because the copy would run into the next page.
fn memcpy_page_past_the_destination_page_ends_the_boot() {
    let (d, s) = (any_page(), any_page());
    memcpy_page(d, 4000, s, 0, 200);
}

fn memcpy_page_past_the_source_page_ends_the_boot() {
    let (d, s) = (any_page(), any_page());
    memcpy_page(d, 0, s, 3900, 197);
}

fn memcpy_to_page_past_the_page_ends_the_boot() {
    memcpy_to_page(any_page(), 4090, &[1, 2, 3, 4, 5, 6, 7]);
}

fn memcpy_from_page_past_the_page_ends_the_boot() {
    let mut buf = alloc::vec![0u8; PAGE_SIZE];
    memcpy_from_page(&mut buf, any_page(), 1);
}

/// `off + len` wraps to 4 in 32 bits; a check written as
/// `off + len > PAGE_SIZE` would let this through and write 4 GiB.
fn memset_page_with_a_wrapping_length_ends_the_boot() {
    memset_page(any_page(), 8, 0, usize::MAX - 3);
}

/// F59's `BUG_ON(end1 > page_size(page) || end2 > page_size(page))`, for a
/// 4-page block.
fn zero_user_segments_past_the_block_ends_the_boot() {
    let block = if have_highmem() { highmem_block(2) } else { lowmem_block(2) };
    zero_user_segments(block, 2, 0, 1, 4 * PAGE_SIZE - 1, 4 * PAGE_SIZE + 1);
}
