//! kmap_local and kmap_atomic conformance (catalogue sections C, D, E of
//! `docs/conformance.md`), in whichever debug mode the kernel
//! was booted with (normal, `debug_kmap_local`, `debug_kmap_local_force_map`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::{GFP_HIGHUSER, GFP_KERNEL};
use mm::kmap_local::KmapLocalConfig;
use mm::layout::{PAGE_SIZE, is_kmap_local_addr};
use mm::page::Page;

use crate::arch::paging::{PAGE_KERNEL, PAGE_KERNEL_RO, pte_t};
use crate::arch::percpu::raw_smp_processor_id;
use crate::tools::ktest::{Test, require_highmem, require_kernel_option};
use crate::mm::kmap::{kmap, kunmap};
use crate::mm::kmap_atomic::{kmap_atomic, kmap_atomic_pfn, kunmap_atomic};
use crate::mm::kmap_local::{config, kmap_local_page, kmap_local_page_prot, kmap_local_pfn, kunmap_local, nr_sched_in_slots, nr_sched_out_slots};
use crate::mm::page_alloc::{self, PageHighMem, page_address, page_to_pfn};
use crate::mm::pgtable::lookup_kernel_pte;
use crate::sched::preempt::{pagefault_disabled, preempt_count};
use crate::sched::{current, spawn_on, yield_now};
use super::common::*;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(lowmem_takes_the_fast_path),
    test_case!(highmem_map_takes_the_first_slot_and_pins_the_task),
    test_case!(nesting_grows_downwards_and_unmap_accepts_any_offset),
    test_case!(nesting_to_the_limit),
    test_case!(pfn_and_prot_variants),
    test_case!(read_only_mapping_faults_on_write, panics = "#PF: supervisor write access in kernel mode\n#PF: error_code(0x0003) - permissions violation\nkmap_local: "),
    test_case!(missing_sched_out_is_detected, panics = "BUG: kmap_local: slot\nstill maps pfn\n(a missing sched_out or kunmap_local?)"),
    test_case!(interrupt_handler_maps_on_top_of_the_task),
    test_case!(mappings_survive_preemption_by_a_task_using_the_same_slots),
    test_case!(switch_hooks_touch_only_tasks_with_mappings),
    test_case!(no_cross_cpu_shootdown_for_kmap_local),
    test_case!(guard_slots_stay_unmapped),
    test_case!(kmap_atomic_disables_preemption_and_faults),
    test_case!(kmap_atomic_shares_the_stack_with_kmap_local),
    test_case!(nofault_copy_inside_kmap_atomic_fails_cleanly_and_stays_atomic),
    test_case!(fill_every_highmem_page_and_verify_three_ways),
    test_case!(an_interrupt_between_push_and_pte_write_maps_above_the_outer_slot),
];

crate::early_param!("test_fill_highmem", Flag, "",
    "run kmap_local::fill_every_highmem_page_and_verify_three_ways (about 30 s under TCG at -m 3G); the runner gives it to a few configurations",
    |_| Ok(()));

/// A page that goes through the slots in this configuration: highmem, or
/// anything with force-map.
fn slot_page() -> &'static Page {
    require_slot_pages();
    if config().force_map { any_page() } else { highmem_page() }
}

/// Skip unless some page goes through the slots here (highmem, or
/// force-map). Tests whose other tasks call [`slot_page`] call this first:
/// only the test's own thread can skip.
fn require_slot_pages() {
    if !config().force_map {
        require_highmem();
    }
}

fn migrate_count() -> u32 {
    current().migrate_disable.load(Ordering::Relaxed)
}

/// C27: lowmem returns the direct map and changes nothing (unless
/// force-map, where it goes through a slot like highmem).
fn lowmem_takes_the_fast_path() {
    let p = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let (i, m) = (kmap_depth(), migrate_count());
    let v = kmap_local_page(p);
    if config().force_map {
        assert!(is_kmap_local_addr(v), "force-map puts lowmem through a slot");
        assert_eq!(kmap_depth(), i + config().km_incr());
    } else {
        assert_eq!(v, page_address(p).unwrap());
        assert_eq!((kmap_depth(), migrate_count()), (i, m), "no push, no migrate_disable");
    }
    kunmap_local(v);
    assert_eq!((kmap_depth(), migrate_count()), (i, m));
    page_alloc::__free_pages(p, 0);
}

/// C28: the first mapping takes this CPU's first slot, records its PTE in
/// kmap_ctrl, installs it, pins the task, and leaves preemption and page
/// faults alone.
fn highmem_map_takes_the_first_slot_and_pins_the_task() {
    let h = slot_page();
    let cfg = config();
    assert_eq!(kmap_depth(), 0);
    let (pc, m) = (preempt_count(), migrate_count());
    let v = kmap_local_page(h);
    let cpu = raw_smp_processor_id(); // stable now: migration is disabled
    let slot = cfg.km_incr() - 1; // slot 0, or 1 with guard slots
    assert_eq!(v, cfg.slot_vaddr(cpu, slot));
    assert_eq!(kmap_depth(), cfg.km_incr());
    let pte = pte_t::new(page_to_pfn(h), PAGE_KERNEL);
    assert_eq!(current().kmap_ctrl_snapshot().pteval[slot], pte.0);
    assert_eq!(lookup_kernel_pte(v), pte);
    assert_eq!(migrate_count(), m + 1, "migration disabled");
    assert_eq!(preempt_count(), pc, "preemption still enabled");
    assert!(!pagefault_disabled());
    kunmap_local(v);
    assert!(lookup_kernel_pte(v).is_none(), "unmap clears the PTE");
    assert_eq!((kmap_depth(), migrate_count()), (0, m));
    page_alloc::__free_pages(h, 0);
}

/// C29, C30.
fn nesting_grows_downwards_and_unmap_accepts_any_offset() {
    let (a, b) = (slot_page(), slot_page());
    let cfg = config();
    let va = kmap_local_page(a);
    let vb = kmap_local_page(b);
    assert_eq!(vb, va - cfg.km_incr() * PAGE_SIZE, "each nested mapping lands lower");
    assert_eq!(kmap_depth(), 2 * cfg.km_incr());
    kunmap_local(vb + 123);
    kunmap_local(va + PAGE_SIZE - 1);
    assert_eq!(kmap_depth(), 0);
    page_alloc::__free_pages(a, 0);
    page_alloc::__free_pages(b, 0);
}

/// C32: 15 nested mappings (16 with guard slots); the next one is the BUG
/// that ends the boot (in tests/kmap_misuse.rs).
fn nesting_to_the_limit() {
    let cfg = config();
    let pages: Vec<_> = (0..cfg.max_depth()).map(|_| slot_page()).collect();
    let mut addrs = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let v = kmap_local_page(p);
        // SAFETY: v maps p until its kunmap_local below.
        unsafe { (v as *mut u32).write_volatile(i as u32) };
        addrs.push(v);
    }
    assert_eq!(kmap_depth(), cfg.max_depth() * cfg.km_incr());
    assert_eq!(cfg.max_depth(), if cfg.debug { 16 } else { 15 });
    for (i, v) in addrs.iter().enumerate() {
        // SAFETY: still mapped.
        assert_eq!(unsafe { (*v as *const u32).read_volatile() }, i as u32, "every level maps its own page");
    }
    for v in addrs.into_iter().rev() {
        kunmap_local(v);
    }
    assert_eq!(kmap_depth(), 0);
    for p in pages {
        page_alloc::__free_pages(p, 0);
    }
}

/// C38: kmap_local_pfn always uses a slot; prot is ignored for lowmem pages
/// (without force-map) and honoured for highmem.
fn pfn_and_prot_variants() {
    let low = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let v = kmap_local_pfn(page_to_pfn(low));
    assert!(is_kmap_local_addr(v), "kmap_local_pfn maps even a lowmem pfn through a slot");
    kunmap_local(v);
    if !config().force_map {
        let v = kmap_local_page_prot(low, PAGE_KERNEL_RO);
        assert_eq!(v, page_address(low).unwrap(), "lowmem ignores prot");
        // SAFETY: the direct map is writable whatever prot said.
        unsafe { (v as *mut u32).write_volatile(7) };
        kunmap_local(v);
    }
    page_alloc::__free_pages(low, 0);
    // The highmem half of the claim (skips here without highmem).
    let h = highmem_page();
    let v = kmap_local_page_prot(h, PAGE_KERNEL_RO);
    assert!(!lookup_kernel_pte(v).flags().contains(crate::arch::paging::PteFlags::RW), "read-only slot");
    // SAFETY: mapped read-only; reading is fine.
    let _ = unsafe { (v as *const u32).read_volatile() };
    kunmap_local(v);
    page_alloc::__free_pages(h, 0);
}

/// C38 continued: writing through a read-only kmap_local mapping faults,
/// and the report says whose slot it was.
fn read_only_mapping_faults_on_write() {
    let h = slot_page();
    let v = kmap_local_page_prot(h, PAGE_KERNEL_RO);
    // SAFETY: deliberately writes through a read-only mapping.
    unsafe { (v as *mut u32).write_volatile(1) };
}

/// D46: a slot that still holds a PTE when a task maps into it (what a
/// missing sched_out would leave behind) is caught, not silently reused.
fn missing_sched_out_is_detected() {
    let h = slot_page();
    let cfg = config();
    crate::sched::preempt::migrate_disable();
    let cpu = raw_smp_processor_id();
    // Leave a stray PTE in the slot the next mapping will take.
    let slot = cfg.km_incr() - 1;
    let pte = crate::mm::pgtable::kmap_pte(cfg.fixmap_idx(cpu, slot) - mm::layout::fixed_addresses::FIX_KMAP_BEGIN);
    // SAFETY: this CPU's empty first slot; the test wants it dirty.
    unsafe { pte.write_volatile(pte_t::new(page_to_pfn(h), PAGE_KERNEL)) };
    kmap_local_page(h);
}

/// C40: an interrupt handler maps on top of the interrupted task's stack,
/// and leaves the task's slots as they were.
fn interrupt_handler_maps_on_top_of_the_task() {
    let cfg = config();
    let (a, b, c) = (slot_page(), slot_page(), slot_page());
    crate::mm::highmem::memset_page(a, 0, 0xaa, PAGE_SIZE);
    crate::mm::highmem::memset_page(b, 0, 0xbb, PAGE_SIZE);
    crate::mm::highmem::memset_page(c, 0, 0xcc, PAGE_SIZE);
    let va = kmap_local_page(a);
    let vb = kmap_local_page(b);
    let before = current().kmap_ctrl_snapshot();
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static SEEN: AtomicU32 = AtomicU32::new(0);
    fn handler(pfn: usize) {
        let v = kmap_local_pfn(pfn);
        INSIDE.store(current().kmap_ctrl_snapshot().idx, Ordering::SeqCst);
        // SAFETY: mapped just above.
        SEEN.store(unsafe { (v as *const u8).read_volatile() } as u32, Ordering::SeqCst);
        kunmap_local(v);
    }
    crate::smp::run_in_irq(handler, page_to_pfn(c));
    assert_eq!(INSIDE.load(Ordering::SeqCst), 3 * cfg.km_incr(), "the handler used the slot above the task's two");
    assert_eq!(SEEN.load(Ordering::SeqCst), 0xcc);
    assert_eq!(current().kmap_ctrl_snapshot(), before, "the task's stack is as it was");
    // SAFETY: still mapped by this task.
    unsafe {
        assert_eq!((va as *const u8).read_volatile(), 0xaa);
        assert_eq!((vb as *const u8).read_volatile(), 0xbb);
    }
    kunmap_local(vb);
    kunmap_local(va);
    for p in [a, b, c] {
        page_alloc::__free_pages(p, 0);
    }
}

/// D42, D45: two tasks on one CPU map different pages at the *same* slot
/// address and are preempted hundreds of times; each always reads its own
/// page, and neither ever leaves the CPU.
fn mappings_survive_preemption_by_a_task_using_the_same_slots() {
    require_slot_pages();
    let cpu = crate::smp::num_online_cpus() - 1;
    let addrs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let bad = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..2u32)
        .map(|me| {
            let (addrs, bad) = (addrs.clone(), bad.clone());
            spawn_on(cpu, "kmap-local-preempt", move || {
                let page = slot_page();
                let pattern = 0x1111_1111 * (me + 1);
                let v = kmap_local_page(page);
                addrs[me as usize].store(v, Ordering::SeqCst);
                let t = current();
                let words = PAGE_SIZE / 4;
                // SAFETY: v maps our page for this task until kunmap_local.
                let slice = unsafe { core::slice::from_raw_parts_mut(v as *mut u32, words) };
                slice.fill(pattern);
                while t.nr_preemptions.load(Ordering::Relaxed) < 200 {
                    for w in slice.iter() {
                        if *w != pattern {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if raw_smp_processor_id() != cpu {
                        bad.fetch_add(1_000_000, Ordering::Relaxed);
                    }
                }
                kunmap_local(v);
                page_alloc::__free_pages(page, 0);
            })
        })
        .collect();
    for h in handles {
        h.join();
    }
    assert_eq!(addrs[0].load(Ordering::SeqCst), addrs[1].load(Ordering::SeqCst), "both used the same slot address");
    assert_eq!(bad.load(Ordering::Relaxed), 0, "a task read the other's page, or ran on another CPU");
}

/// D43: tasks without mappings cost the hooks nothing; a task holding N
/// mappings has N slots cleared at each switch out and restored at each
/// switch in.
fn switch_hooks_touch_only_tasks_with_mappings() {
    require_slot_pages();
    let cpu = crate::smp::num_online_cpus() - 1;
    let out0 = nr_sched_out_slots();
    let a = spawn_on(cpu, "no-maps-a", || (0..500).for_each(|_| yield_now()));
    let b = spawn_on(cpu, "no-maps-b", || (0..500).for_each(|_| yield_now()));
    a.join();
    b.join();
    assert_eq!(nr_sched_out_slots(), out0, "no slot work for tasks without mappings");
    // The holder counts, while it holds three mappings, its own switches
    // and the slot work they caused (nobody else on its CPU holds slots).
    let result = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let started = Arc::new(AtomicU32::new(0));
    let (r, st) = (result.clone(), started.clone());
    let holder = spawn_on(cpu, "three-maps", move || {
        let pages = [slot_page(), slot_page(), slot_page()];
        let v: Vec<usize> = pages.iter().map(|p| kmap_local_page(p)).collect();
        st.fetch_add(1, Ordering::SeqCst);
        while st.load(Ordering::SeqCst) < 2 {
            yield_now(); // wait for the yielder, so each yield really switches
        }
        let (sw, o, i) = (current().nr_switches.load(Ordering::Relaxed), nr_sched_out_slots(), nr_sched_in_slots());
        for _ in 0..300 {
            yield_now();
        }
        r[0].store(current().nr_switches.load(Ordering::Relaxed) - sw, Ordering::SeqCst);
        r[1].store(nr_sched_out_slots() - o, Ordering::SeqCst);
        r[2].store(nr_sched_in_slots() - i, Ordering::SeqCst);
        for x in v.into_iter().rev() {
            kunmap_local(x);
        }
        for p in pages {
            page_alloc::__free_pages(p, 0);
        }
    });
    let st = started.clone();
    let other = spawn_on(cpu, "yielder", move || {
        st.fetch_add(1, Ordering::SeqCst);
        (0..400).for_each(|_| yield_now())
    });
    holder.join();
    other.join();
    let n = result[0].load(Ordering::SeqCst);
    assert!(n > 0, "the holder was switched out at least once");
    assert_eq!(result[1].load(Ordering::SeqCst), 3 * n, "3 slots cleared per switch out");
    assert_eq!(result[2].load(Ordering::SeqCst), 3 * n, "3 slots restored per switch in");
}

/// D51: kmap_local never sends a TLB shootdown: its unmap flushes this
/// CPU's TLB only.
fn no_cross_cpu_shootdown_for_kmap_local() {
    let p = slot_page();
    let (shootdowns, ipis) = (crate::smp::TLB_SHOOTDOWNS.load(Ordering::SeqCst), crate::smp::TLB_FLUSH_IPIS.load(Ordering::SeqCst));
    for _ in 0..1000 {
        let v = kmap_local_page(p);
        kunmap_local(v);
    }
    assert_eq!(crate::smp::TLB_SHOOTDOWNS.load(Ordering::SeqCst), shootdowns);
    assert_eq!(crate::smp::TLB_FLUSH_IPIS.load(Ordering::SeqCst), ipis);
    page_alloc::__free_pages(p, 0);
}

/// D49: with debug_kmap_local, mappings use odd slots and the even ones
/// around them are never mapped; the fault report names a guard slot.
fn guard_slots_stay_unmapped() {
    if !config().debug {
        require_kernel_option("debug_kmap_local");
    }
    let cfg = config();
    let p = slot_page();
    let v = kmap_local_page(p);
    let cpu = raw_smp_processor_id();
    assert_eq!(v, KmapLocalConfig::new(true, cfg.force_map).slot_vaddr(cpu, 1), "the first mapping uses slot 1");
    assert_eq!(kmap_depth(), 2);
    assert!(lookup_kernel_pte(v + PAGE_SIZE).is_none(), "slot 0 is a guard");
    assert!(lookup_kernel_pte(v - PAGE_SIZE).is_none(), "slot 2 is a guard");
    let mut text = crate::fmtbuf::FmtBuf::<512>::new();
    crate::mm::kmap_local::describe_fault(&mut text, v + PAGE_SIZE + 8);
    assert!(text.as_str().contains("is guard slot 0 of CPU"), "{}", text.as_str());
    kunmap_local(v);
    page_alloc::__free_pages(p, 0);
}

/// E52, E53: kmap_atomic disables preemption and page faults for every
/// page, lowmem included, and kunmap_atomic restores both.
fn kmap_atomic_disables_preemption_and_faults() {
    let low = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let pc = preempt_count();
    let v = kmap_atomic(low);
    assert_eq!(preempt_count(), pc + 1);
    assert!(pagefault_disabled());
    if !config().force_map {
        assert_eq!(v, page_address(low).unwrap());
    }
    kunmap_atomic(v);
    assert_eq!(preempt_count(), pc);
    assert!(!pagefault_disabled());
    let p = slot_page();
    let v = kmap_atomic(p);
    assert!(is_kmap_local_addr(v));
    assert_eq!((preempt_count(), pagefault_disabled()), (pc + 1, true));
    kunmap_atomic(v);
    assert_eq!((preempt_count(), pagefault_disabled(), kmap_depth()), (pc, false, 0));
    // E55: kmap_atomic_pfn maps through a slot even for lowmem.
    let v = kmap_atomic_pfn(page_to_pfn(low));
    assert!(is_kmap_local_addr(v));
    kunmap_atomic(v);
    page_alloc::__free_pages(low, 0);
    page_alloc::__free_pages(p, 0);
}

/// E54: kmap_local and kmap_atomic share one stack, LIFO across both.
fn kmap_atomic_shares_the_stack_with_kmap_local() {
    let cfg = config();
    let (h1, h2) = (slot_page(), slot_page());
    let v1 = kmap_local_page(h1);
    let v2 = kmap_atomic(h2);
    assert_eq!(v2, v1 - cfg.km_incr() * PAGE_SIZE);
    kunmap_atomic(v2);
    kunmap_local(v1);
    assert_eq!(kmap_depth(), 0);
    page_alloc::__free_pages(h1, 0);
    page_alloc::__free_pages(h2, 0);
}

/// A nofault copy that faults inside kmap_atomic fails with the count of
/// bytes not copied, and leaves the task as atomic as it was: preemption
/// and page faults still disabled, the mapping still in place. (The copy
/// takes its fixup in any context; that a fault *inside kmap_atomic* is not
/// resolved, Linux's E53, can only be shown once there are user pages to
/// fault in: see docs/conformance.md.)
fn nofault_copy_inside_kmap_atomic_fails_cleanly_and_stays_atomic() {
    let p = slot_page();
    fill_byte(p, 0x3d);
    let v = kmap_atomic(p);
    let (count, depth) = (preempt_count(), kmap_depth());
    let mut buf = [0u8; 16];
    let hole = mm::layout::VMALLOC_END + PAGE_SIZE; // never mapped
    assert_eq!(crate::arch::extable::copy_from_kernel_nofault(&mut buf, hole), Err(16));
    assert!(pagefault_disabled(), "still inside kmap_atomic");
    assert_eq!((preempt_count(), kmap_depth()), (count, depth), "preemption still off, the slot still held");
    assert_eq!(read_byte(v + 5), 0x3d, "the mapping still maps the page");
    kunmap_atomic(v);
    page_alloc::__free_pages(p, 0);
}

/// The whole of highmem, three ways: write a per-page pattern into every
/// highmem page through kmap_local, then read it back through kmap and
/// through kmap_atomic.
///
/// About 30 s under TCG at -m 3G (and 70 s at -m 8G) of one boot's 60, so
/// only the configurations that give the kernel option `test_fill_highmem`
/// run it (check: -m 3G and -m 1G on the 686 flavour, -m 8G on 686-pae);
/// the others skip it, saying so.
fn fill_every_highmem_page_and_verify_three_ways() {
    require_kernel_option("test_fill_highmem");
    require_highmem();
    let high = page_alloc::zones().nth(2).unwrap();
    // Take every free highmem page, in the largest blocks available.
    let mut blocks: Vec<(usize, usize)> = Vec::with_capacity(high.nr_free_pages() / 512 + 64);
    for order in (0..mm::buddy::MAX_ORDER).rev() {
        while high.free_list_counts()[order] > 0 {
            let p = page_alloc::alloc_pages(GFP_HIGHUSER, order).unwrap();
            assert!(PageHighMem(p));
            blocks.push((page_to_pfn(p), order));
        }
    }
    let pfns = || blocks.iter().flat_map(|&(pfn, order)| pfn..pfn + (1 << order));
    let total = pfns().count();
    assert_eq!(high.nr_free_pages(), 0, "every free highmem page is ours");
    let pattern = |pfn: usize, word: usize| (pfn as u32).wrapping_mul(0x9e37_79b9) ^ word as u32;
    for pfn in pfns() {
        let v = kmap_local_page(page_alloc::pfn_to_page(pfn));
        // SAFETY: a mapped page of 1024 words.
        let words = unsafe { core::slice::from_raw_parts_mut(v as *mut u32, PAGE_SIZE / 4) };
        for (i, w) in words.iter_mut().enumerate() {
            *w = pattern(pfn, i);
        }
        kunmap_local(v);
    }
    let check = |v: usize, pfn: usize| {
        // SAFETY: a mapped page of 1024 words.
        let words = unsafe { core::slice::from_raw_parts(v as *const u32, PAGE_SIZE / 4) };
        words.iter().enumerate().all(|(i, &w)| w == pattern(pfn, i))
    };
    let mut bad_kmap = 0;
    let mut bad_atomic = 0;
    for pfn in pfns() {
        let page = page_alloc::pfn_to_page(pfn);
        let v = kmap(page);
        bad_kmap += !check(v, pfn) as usize;
        kunmap(page);
        let v = kmap_atomic(page);
        bad_atomic += !check(v, pfn) as usize;
        kunmap_atomic(v);
    }
    log::info!("verified {total} highmem pages ({} MiB) through kmap_local, kmap and kmap_atomic", total >> 8);
    for (pfn, order) in blocks {
        page_alloc::__free_pages(page_alloc::pfn_to_page(pfn), order);
    }
    assert_eq!((bad_kmap, bad_atomic), (0, 0), "pages whose pattern did not read back");
}

/// Where the interrupt of the next test mapped, and what it read there.
static IRQ_VADDR: AtomicUsize = AtomicUsize::new(0);
static IRQ_BYTE: AtomicU32 = AtomicU32::new(0);

/// In interrupt context: map `pfn` through kmap_local, read it, unmap.
fn map_read_unmap_in_irq(pfn: usize) {
    let v = kmap_local_pfn(pfn);
    IRQ_VADDR.store(v, Ordering::SeqCst);
    IRQ_BYTE.store(read_byte(v + 100) as u32, Ordering::SeqCst);
    kunmap_local(v);
}

/// The page the interrupt maps (set by the test before it arms the hook).
static IRQ_PFN: AtomicUsize = AtomicUsize::new(0);

/// The hook kmap_local runs between its push and its PTE write: disarm
/// (the interrupt's own kmap_local must not run it again), then take an
/// interrupt on this CPU right there.
fn interrupt_after_push() {
    crate::mm::kmap_local::set_after_push_hook(None);
    crate::smp::run_in_irq(map_read_unmap_in_irq, IRQ_PFN.load(Ordering::SeqCst));
}

/// Linux reaches `current->kmap_ctrl` through the task for every access,
/// because an interrupt may map and unmap on the same slot stack between
/// any two of them. The worst moment is just after the push and before the
/// PTE write: the interrupt must see the outer slot as taken (its own
/// mapping lands one slot above), find its slot empty, and leave the stack
/// as it found it; the outer mapping then works, and survives a context
/// switch, which reinstalls it from the `pteval` written after the
/// interrupt.
fn an_interrupt_between_push_and_pte_write_maps_above_the_outer_slot() {
    let (outer, inner) = (slot_page(), slot_page());
    fill_byte(outer, 0x5a);
    fill_byte(inner, 0xa5);
    IRQ_PFN.store(page_to_pfn(inner), Ordering::SeqCst);
    IRQ_VADDR.store(0, Ordering::SeqCst);
    let depth = kmap_depth();
    crate::mm::kmap_local::set_after_push_hook(Some(interrupt_after_push));
    let v = kmap_local_page(outer);
    crate::mm::kmap_local::set_after_push_hook(None);
    let irq_vaddr = IRQ_VADDR.load(Ordering::SeqCst);
    assert_ne!(irq_vaddr, 0, "the interrupt ran inside kmap_local");
    // Fixmap indices grow downwards in memory: the next slot up the stack
    // is km_incr pages below.
    assert_eq!(irq_vaddr, v - config().km_incr() * PAGE_SIZE, "the interrupt's mapping is one slot above the outer one");
    assert_eq!(IRQ_BYTE.load(Ordering::SeqCst), 0xa5, "the interrupt read its own page");
    assert_eq!(kmap_depth(), depth + config().km_incr(), "the interrupt popped what it pushed");
    assert_eq!(read_byte(v + 7), 0x5a, "the outer mapping maps the outer page");
    crate::sched::msleep(2); // switched out and back in: restored from pteval
    assert_eq!(read_byte(v + 7), 0x5a, "after a context switch too");
    kunmap_local(v);
    assert_eq!(kmap_depth(), depth);
    free_page(outer);
    free_page(inner);
}
