//! Solutions to the exercises at the end of each chapter of the book in
//! `docs/`. Each test *is* an answer: it computes or provokes what the
//! exercise asks and asserts the number or the behaviour the chapter
//! derives, so a wrong answer (or a kernel that stopped behaving as the book
//! says) fails here. A test's name starts with its chapter: `ch3_...`
//! answers an exercise of `docs/03-kmap.md`.
//!
//! Every test runs in every configuration the runner boots (`-smp 1..8`,
//! `-m 3G`, `-m 1G`, `-m 512M debug_kmap_local_force_map`, `-m 3G
//! debug_kmap_local`, GRUB). Where an answer needs highmem or a second CPU
//! and the machine has none, the test checks what it can and returns early
//! (the fresh-boot test, which has a boot of its own, says `skipped`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::{GFP_DMA, GFP_HIGHUSER, GFP_KERNEL, gfp_zone, zonelist};
use mm::kmap_local::KmapLocalConfig;
use mm::layout::fixed_addresses::{END_OF_FIXED_ADDRESSES, FIX_IO_APIC_BASE_END, FIX_KMAP_BEGIN, FIX_KMAP_END};
use mm::layout::{
    FIXADDR_START, FIXADDR_TOP, FIXMAP_PMD_BASE, KERNEL_PGD_BOUNDARY, KERNEL_PTE_TABLES, LAST_PKMAP, MAX_DMA_PFN, MAX_NONPAE_PFN,
    MAXMEM, MAXMEM_PFN, PAGE_OFFSET, PAGE_SIZE, PGDIR_SHIFT, PKMAP_BASE, VMALLOC_END, fix_to_virt,
    is_pkmap_addr, phys_to_virt, pkmap_addr, pkmap_nr,
};
use mm::page::{Page, mem_map_bytes};
use mm::zone::ZoneType;

use crate::arch::cpu::rdtsc;
use crate::arch::extable::copy_from_kernel_nofault;
use crate::arch::paging::{PteFlags, pte_t};
use mm::pgtable_types::pteval_t;
use crate::arch::percpu::{raw_smp_processor_id, this_cpu_base, this_cpu_read_u32};
use crate::debug::{last_report, report_count};
use crate::tools::ktest::{Test, require_cpus, require_highmem};
use crate::mm::highmem::is_kmap_addr;
use crate::mm::kmap::{kmap, kmap_flush_unused, kunmap, last_pkmap_nr, pkmap_census, pkmap_count, pkmap_stats};
use crate::mm::kmap_atomic::{kmap_atomic, kmap_atomic_pfn, kunmap_atomic};
use crate::mm::kmap_guard::{Kmapped, with_kmap_local};
use crate::mm::kmap_local::{config, kmap_local_page, kmap_local_pfn, kunmap_local, nr_maps, nr_sched_in_slots, nr_sched_out_slots};
use crate::mm::page_alloc::{self, PageHighMem, __free_pages, alloc_pages, page_address, page_to_pfn, pfn_to_page};
use crate::mm::pgtable::{lookup_kernel_pte, virt_to_kpte};
use crate::percpu::{CURRENT_OFFSET, NEED_RESCHED_OFFSET, PREEMPT_COUNT_OFFSET, per_cpu};
use crate::sched::preempt::{
    PREEMPT_MASK, migrate_disable, migrate_enable, pagefault_disabled, preempt_count, preempt_disable, preempt_enable,
};
use crate::sched::{current, spawn_on, yield_now};
use crate::smp::{TLB_FLUSH_IPIS, TLB_FULL_FLUSHES, TLB_SHOOTDOWNS, flush_tlb_kernel_range, num_online_cpus, run_in_irq};
use super::common::*;
use crate::test_case;

pub const TESTS: &[Test] = &[
    // 1. The 32-bit address space
    test_case!(ch1_cpu2_slot_addresses),
    test_case!(ch1_fixmap_pkmap_and_vmalloc_bounds),
    test_case!(ch1_direct_map_address_of_a_physical_address),
    // 2. Physical memory
    test_case!(ch2_zone_boundaries_on_this_machine),
    test_case!(ch2_buddy_blocks_are_naturally_aligned),
    test_case!(ch2_gfp_flags_choose_the_zone),
    test_case!(ch2_mem_map_costs_32_bytes_per_frame),
    // 3. kmap() and the PKMAP pool
    test_case!(ch3_cycling_5000_pages_from_a_fresh_boot_flushes_once_per_wrap, fresh_boot),
    test_case!(ch3_flushes_from_a_known_cursor),
    test_case!(ch3_pkmap_count_states),
    test_case!(ch3_nested_kmap_deadlocks_when_the_pool_is_full),
    // 4. kmap_atomic
    test_case!(ch4_kmap_atomic_of_lowmem_still_disables_preemption_and_faults),
    test_case!(ch4_kmap_atomic_starves_its_cpu_kmap_local_does_not),
    test_case!(ch4_local_atomic_local_share_one_stack),
    test_case!(ch4_kmap_atomic_in_an_interrupt_nests_on_the_task),
    // 5. kmap_local and the context switch
    test_case!(ch5_deepest_nesting_and_the_slot_never_used),
    test_case!(ch5_interrupt_pushes_on_the_interrupted_tasks_stack),
    test_case!(ch5_two_mappings_cost_two_ptes_per_switch),
    test_case!(ch5_guard_slots_and_force_map),
    // 6. SMP, IPIs and TLB shootdown
    test_case!(ch6_percpu_block_through_fs),
    test_case!(ch6_flush_ipis_for_kmap_and_none_for_kmap_local),
    test_case!(ch6_vfree_of_40_pages_is_two_shootdowns),
    test_case!(ch6_kmap_address_on_another_cpu_and_a_kmap_local_one),
    // 7. Choosing an interface
    test_case!(ch7_kmapped_guard_travels_to_another_task),
    test_case!(ch7_with_kmap_local_in_an_interrupt_handler),
    // 8. History
    test_case!(ch8_kmap_caches_the_pte_kmap_local_writes_it_every_time),
    test_case!(ch8_kmap_local_from_atomic_context_kmap_not),
    test_case!(ch8_kunmap_releases_the_address_not_the_page),
    // 9. Differences from Linux
    test_case!(ch9_is_kmap_addr_includes_cpu0_slot0),
    test_case!(ch9_underflow_slot_minus_one),
    test_case!(ch9_every_kernel_page_table_is_preallocated),
    test_case!(ch9_struct_page_is_32_bytes_and_pfn_is_a_shift),
];

// ------------------------------------------------------------ helpers ----

/// A CPU other than `me` (CPU 0 on a one-CPU machine).
fn other_cpu(me: usize) -> usize {
    (me + 1) % num_online_cpus()
}

fn ms_since(start: u64) -> u64 {
    (rdtsc() - start) / crate::arch::tsc::tsc_khz().max(1)
}

// ------------------------------------------- 1. The 32-bit address space ----

/// Exercise 1.1: the address of CPU 2's stack slot 2 (where its third
/// nested kmap_local mapping lands), in normal mode and with guard slots;
/// and where the third mapping really lands on CPU 2 in this boot.
fn ch1_cpu2_slot_addresses() {
    // FIX_KMAP_BEGIN = FIX_IO_APIC_BASE_0 + MAX_IO_APICS = 2 + 2 = 4.
    assert_eq!(FIX_KMAP_BEGIN, 4);
    // Normal: fixmap index 4 + 2 + 16 * 2 = 38; 0xfffff000 - 38 * 0x1000.
    assert_eq!(KmapLocalConfig::new(false, false).slot_vaddr(2, 2), 0xfffd_9000);
    // Guard slots (33 per CPU): index 4 + 2 + 33 * 2 = 72.
    assert_eq!(KmapLocalConfig::new(true, false).slot_vaddr(2, 2), 0xfffb_7000);
    // With guard slots the third mapping is at stack slot 5: index 75.
    assert_eq!(KmapLocalConfig::new(true, false).slot_vaddr(2, 5), 0xfffb_4000);
    require_cpus(3);
    let cfg = config();
    let third = Arc::new(AtomicUsize::new(0));
    let t = third.clone();
    spawn_on(2, "ex-cpu2", move || {
        let pages = [any_page(), any_page(), any_page()];
        // kmap_local_pfn maps through a slot whatever the page.
        let v: Vec<usize> = pages.iter().map(|p| kmap_local_pfn(page_to_pfn(p))).collect();
        t.store(v[2], Ordering::SeqCst);
        for x in v.into_iter().rev() {
            kunmap_local(x);
        }
        for p in pages {
            free_page(p);
        }
    })
    .join();
    let expected = if cfg.debug { 0xfffb_4000 } else { 0xfffd_9000 };
    assert_eq!(third.load(Ordering::SeqCst), expected, "the third mapping on CPU 2");
}

/// Exercise 1.2: where the fixmap starts and how big it is, where PKMAP
/// and vmalloc end, on every machine.
fn ch1_fixmap_pkmap_and_vmalloc_bounds() {
    // 268 fixmap pages: hole, APIC, 2 I/O APICs, then 33 slots x 8 CPUs.
    assert_eq!(END_OF_FIXED_ADDRESSES, 1 + 1 + 2 + 33 * 8);
    assert_eq!(FIXADDR_START, 0xffef_3000);
    assert_eq!(FIXADDR_TOP - FIXADDR_START, 1072 << 10);
    // The fixmap's page table covers [FIXMAP_PMD_BASE, 4 GiB); PKMAP is
    // the page table below it, exactly one page table of pages: 686, a
    // 4 MiB PMD of 1024 pages from 0xffc00000 down; 686-pae, a 2 MiB PMD
    // of 512 pages (LAST_PKMAP halves because a PAE page table holds 512
    // 8-byte entries) from 0xffe00000 down.
    let (fixmap_pmd, pkmap, last_pkmap) =
        if mm::pgtable_types::PAE { (0xffe0_0000, 0xffc0_0000, 512) } else { (0xffc0_0000, 0xff80_0000, 1024) };
    assert_eq!(FIXMAP_PMD_BASE, fixmap_pmd);
    assert_eq!(PKMAP_BASE, pkmap);
    assert_eq!(LAST_PKMAP, last_pkmap);
    assert_eq!(pkmap_addr(LAST_PKMAP), FIXMAP_PMD_BASE);
    assert_eq!(VMALLOC_END, pkmap - 2 * PAGE_SIZE, "two guard pages below PKMAP");
    // This machine's vmalloc start: high_memory + 8 MiB.
    let layout = mm::layout::KernelLayout::new(page_alloc::max_low_pfn());
    assert_eq!(layout.vmalloc_start, layout.high_memory + (8 << 20));
    if have_highmem() {
        assert_eq!((layout.high_memory, layout.vmalloc_start), (0xf800_0000, 0xf880_0000));
    }
}

/// Exercise 1.3: physical 0x01234000 in the direct map (which PDE, which
/// PTE), and why physical 1 GiB has no direct-map address.
fn ch1_direct_map_address_of_a_physical_address() {
    use mm::pgtable_types::{pgd_index, pmd_index, pte_index};
    let virt = phys_to_virt(0x0123_4000);
    assert_eq!(virt, 0xc123_4000);
    if mm::pgtable_types::PAE {
        // 2 / 9 / 9 / 12: 0xc1234000 = 11 000001001 000110100 000000000000.
        assert_eq!(pgd_index(virt), 3, "PDPTE 3: the kernel's GiB");
        assert_eq!(pmd_index(virt), 9, "PMD entry 9 = 18 MiB / 2 MiB");
        assert_eq!(pte_index(virt), 0x34, "entry 0x34 of that page table");
    } else {
        // 10 / 10 / 12 (the PMD folded into the PGD entry).
        assert_eq!(virt >> PGDIR_SHIFT, 772, "page-directory entry 772 = 768 + 4");
        assert_eq!(pgd_index(virt), 772);
        assert_eq!(pte_index(virt), 0x234, "entry 0x234 of that page table");
    }
    let pte = lookup_kernel_pte(virt);
    assert!(pte.present());
    assert_eq!(pte.pfn(), 0x1234, "the direct map: pfn n at PAGE_OFFSET + n * 4 KiB");
    // A 4 KiB page, not a large one (4 MiB, or 2 MiB with PAE): the PMD
    // entry points at a page table.
    // SAFETY: swapper_pg_dir is a live lowmem PGD; its kernel PMD entry too.
    let pmd = unsafe { crate::mm::pgtable::pmd_offset(crate::mm::pgtable::pgd_offset_k(virt), virt).read_volatile() };
    assert!(pmd.present());
    assert!(!pmd.flags().contains(PteFlags::PSE), "no large page in the direct map");
    // 1 GiB physical would be virtual 0x1_0000_0000: past the 32-bit space.
    assert!(PAGE_OFFSET.checked_add(0x4000_0000).is_none());
    assert_eq!(MAXMEM, 896 << 20);
    const { assert!(0x40000 >= MAXMEM_PFN, "pfn 0x40000 is above the direct map") };
    if page_alloc::memory_layout().max_pfn > 0x40000 {
        assert!(PageHighMem(pfn_to_page(0x40000)), "so its frame is in ZONE_HIGHMEM");
    }
}

// ---------------------------------------------------- 2. Physical memory ----

/// Exercise 2.1: the three zones' spans on this machine, and on -m 3G.
fn ch2_zone_boundaries_on_this_machine() {
    let split = page_alloc::memory_layout();
    let zones: Vec<_> = page_alloc::zones().collect();
    let low = split.max_pfn.min(MAXMEM_PFN);
    assert_eq!(split.max_low_pfn, low);
    assert_eq!((zones[0].zone_start_pfn(), zones[0].zone_end_pfn()), (0, MAX_DMA_PFN.min(low)));
    assert_eq!((zones[1].zone_start_pfn(), zones[1].zone_end_pfn()), (MAX_DMA_PFN.min(low), low));
    assert_eq!((zones[2].zone_start_pfn(), zones[2].zone_end_pfn()), (low, split.max_pfn));
    assert_eq!(MAX_DMA_PFN, 4096, "16 MiB of 4 KiB pages");
    if crate::tools::ktest::params().expect_mem == Some(3 << 30) {
        assert_eq!(zones[0].spanned_pages(), 4096);
        assert_eq!(zones[1].spanned_pages(), 0x38000 - 4096);
        assert_eq!(zones[1].spanned_pages(), 225_280);
        assert_eq!(zones[2].zone_start_pfn(), 229_376);
    }
}

/// Exercise 2.2: an order-k block starts at a multiple of 2^k, so its
/// buddy is `pfn ^ (1 << k)`; get_order rounds up to a power of two.
fn ch2_buddy_blocks_are_naturally_aligned() {
    for order in 0..mm::buddy::MAX_ORDER {
        let p = alloc_pages(GFP_KERNEL, order).expect("a free lowmem block");
        let pfn = page_to_pfn(p);
        assert_eq!(pfn % (1 << order), 0, "order-{order} block at pfn {pfn:#x}");
        let buddy = pfn ^ (1 << order);
        assert_eq!(buddy.abs_diff(pfn), 1 << order, "the buddy is the other half of the order-{} block", order + 1);
        __free_pages(p, order);
    }
    assert_eq!(mm::buddy::get_order(5000), 1);
    assert_eq!(mm::buddy::get_order(3 * PAGE_SIZE), 2);
    assert_eq!(mm::buddy::get_order(4 << 20), 10, "the largest block: 1024 pages");
}

/// Exercise 2.3: which zone each GFP flag set is served from here.
fn ch2_gfp_flags_choose_the_zone() {
    assert_eq!(gfp_zone(GFP_KERNEL), ZoneType::Normal);
    assert_eq!(gfp_zone(GFP_HIGHUSER), ZoneType::HighMem);
    assert_eq!(zonelist(GFP_HIGHUSER).collect::<Vec<_>>(), [ZoneType::HighMem, ZoneType::Normal, ZoneType::Dma]);
    let k = alloc_pages(GFP_KERNEL, 0).unwrap();
    assert!(!PageHighMem(k) && page_address(k).is_some(), "GFP_KERNEL: lowmem, always an address");
    let d = alloc_pages(GFP_DMA, 0).unwrap();
    assert!(page_to_pfn(d) < MAX_DMA_PFN, "GFP_DMA: below 16 MiB");
    let h = alloc_pages(GFP_HIGHUSER, 0).unwrap();
    assert_eq!(PageHighMem(h), have_highmem(), "GFP_HIGHUSER: highmem whenever there is free highmem");
    for p in [k, d, h] {
        free_page(p);
    }
}

/// Exercise 2.4: what mem_map costs this machine, and a 4 GiB one.
fn ch2_mem_map_costs_32_bytes_per_frame() {
    assert_eq!(core::mem::size_of::<Page>(), 32);
    let max_pfn = page_alloc::memory_layout().max_pfn;
    assert_eq!(mem_map_bytes(max_pfn), (max_pfn * 32).div_ceil(PAGE_SIZE) * PAGE_SIZE);
    assert_eq!(mem_map_bytes(MAX_NONPAE_PFN), 32 << 20, "4 GiB of frames: 32 MiB of lowmem");
    if crate::tools::ktest::params().expect_mem == Some(3 << 30) {
        assert_eq!(max_pfn, 786_400, "SeaBIOS keeps the top 128 KiB below 3 GiB");
        assert_eq!(mem_map_bytes(max_pfn), 24_576 << 10);
    }
}

// --------------------------------------------- 3. kmap() and the PKMAP pool ----

/// Exercise 3.1: from a fresh boot, where does the first kmap land, and how
/// many flushes does cycling 5000 distinct highmem pages cause? One per
/// wrap of the PKMAP cursor: 5000 / LAST_PKMAP = 4 (686, 1024 slots) or 9
/// (686-pae, 512 slots).
fn ch3_cycling_5000_pages_from_a_fresh_boot_flushes_once_per_wrap() {
    require_highmem();
    assert_eq!(pkmap_census(), (LAST_PKMAP, 0, 0), "nothing kmapped since boot");
    assert_eq!(last_pkmap_nr(), 0);
    let pages = highmem_pages(5000);
    let (full0, ipis0) = (TLB_FULL_FLUSHES.load(Ordering::SeqCst), TLB_FLUSH_IPIS.load(Ordering::SeqCst));
    let slot1 = if mm::pgtable_types::PAE { 0xffc0_1000 } else { 0xff80_1000 };
    assert_eq!(PKMAP_BASE + PAGE_SIZE, slot1);
    assert_eq!(kmap(pages[0]), slot1, "the first kmap takes slot 1");
    kunmap(pages[0]);
    for p in &pages[1..] {
        kmap(p);
        kunmap(p);
    }
    // Slots visited: 1, 2, ..., 5000 (mod LAST_PKMAP). 686: the cursor
    // wraps at 1024, 2048, 3072 and 4096; 686-pae at every multiple of
    // 512 up to 4608; each wrap finds count-1 slots.
    let wraps: u64 = if mm::pgtable_types::PAE { 9 } else { 4 };
    assert_eq!(wraps, (5000 / LAST_PKMAP) as u64);
    let s = pkmap_stats();
    assert_eq!((s.maps, s.wraps, s.flushes, s.waits), (5000, wraps, wraps, 0));
    assert_eq!(last_pkmap_nr(), 5000 % LAST_PKMAP, "= 904 (686) or 392 (686-pae)");
    assert_eq!(TLB_FULL_FLUSHES.load(Ordering::SeqCst) - full0, wraps, "each a full flush (LAST_PKMAP pages > 33)");
    assert_eq!(TLB_FLUSH_IPIS.load(Ordering::SeqCst) - ipis0, wraps * (num_online_cpus() as u64 - 1));
    free_all(pages);
}

/// Exercise 3.2: after `kmap_flush_unused()`, with the cursor at c, N new
/// pages cause floor((c + N) / 1024) wraps, each with a flush, except a
/// wrap that comes before any slot was used (c = 1023).
fn ch3_flushes_from_a_known_cursor() {
    require_highmem();
    const N: usize = 3000;
    let pages = highmem_pages(N);
    kmap_flush_unused();
    assert_eq!(pkmap_census(), (LAST_PKMAP, 0, 0), "the known state: every slot free");
    let c = last_pkmap_nr();
    let before = pkmap_stats();
    for p in &pages {
        kmap(p);
        kunmap(p);
    }
    let after = pkmap_stats();
    let wraps = (c + N) / LAST_PKMAP;
    let flushes = wraps - (c == LAST_PKMAP - 1) as usize;
    assert_eq!((after.wraps - before.wraps) as usize, wraps, "cursor {c}");
    assert_eq!((after.flushes - before.flushes) as usize, flushes, "cursor {c}");
    assert_eq!(last_pkmap_nr(), (c + N) % LAST_PKMAP);
    free_all(pages);
}

/// Exercise 3.3: pkmap_count through kmap, kmap, kunmap, kunmap, flush.
fn ch3_pkmap_count_states() {
    require_highmem();
    let h = highmem_page();
    kmap_flush_unused(); // forget any lazy mapping an earlier user left
    assert_eq!(page_address(h), None);
    let v = kmap(h);
    let nr = pkmap_nr(v);
    assert_eq!(pkmap_count(nr), 2, "mapped, one user");
    assert_eq!(kmap(h), v);
    assert_eq!(pkmap_count(nr), 3, "two users");
    kunmap(h);
    assert_eq!(pkmap_count(nr), 2);
    kunmap(h);
    assert_eq!(pkmap_count(nr), 1, "no users, not yet flushed");
    assert_eq!(lookup_kernel_pte(v).pfn(), page_to_pfn(h), "the PTE stays (lazy unmap)");
    assert_eq!(page_address(h), Some(v), "and page_address still finds it");
    kmap_flush_unused();
    assert_eq!(pkmap_count(nr), 0, "free");
    assert!(lookup_kernel_pte(v).is_none());
    assert_eq!(page_address(h), None);
    free_page(h);
}

/// Exercise 3.4: two tasks each kmap 512 distinct pages from a flushed
/// pool and hold them, then each asks for one more. Filling the pool wraps
/// the cursor once and flushes nothing (every slot it passes is in use);
/// then both requests sleep, each waiting for a slot only the other could
/// free: the deadlock of nested kmap() that Linux's old documentation
/// warns about. A third task's kunmap() (legal: kmap addresses are
/// global) breaks it.
fn ch3_nested_kmap_deadlocks_when_the_pool_is_full() {
    require_highmem();
    const HALF: usize = LAST_PKMAP / 2;
    let pages = Arc::new(highmem_pages(2 * (HALF + 1)));
    kmap_flush_unused();
    assert_eq!(pkmap_census(), (LAST_PKMAP, 0, 0), "a flushed pool, nothing held");
    let before = pkmap_stats();
    let holding = Arc::new(AtomicU32::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let got_extra = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let (pages, holding, go, got) = (pages.clone(), holding.clone(), go.clone(), got_extra.clone());
            crate::sched::spawn("ex-nested-kmap", move || {
                let mine = &pages[t * (HALF + 1)..(t + 1) * (HALF + 1)];
                for p in &mine[..HALF] {
                    kmap(p);
                }
                holding.fetch_add(1, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    crate::sched::msleep(1);
                }
                kmap(mine[HALF]); // the nested one: sleeps until someone kunmaps
                got.fetch_add(1, Ordering::SeqCst);
                kunmap(mine[HALF]);
                for p in &mine[1..HALF] {
                    kunmap(p); // mine[0] was released by the rescuer
                }
            })
        })
        .collect();
    while holding.load(Ordering::SeqCst) < 2 {
        crate::sched::msleep(1);
    }
    let filled = pkmap_stats();
    assert_eq!(pkmap_census(), (0, 0, LAST_PKMAP), "1024 slots in use");
    assert_eq!((filled.wraps - before.wraps, filled.flushes - before.flushes, filled.waits - before.waits), (1, 0, 0),
        "filling the pool: one wrap, no flush, nobody waited");
    go.store(true, Ordering::SeqCst);
    let deadline = crate::sched::core::jiffies() + 5000;
    while crate::mm::kmap::pkmap_waiters() < 2 && crate::sched::core::jiffies() < deadline {
        crate::sched::msleep(1);
    }
    crate::sched::msleep(50);
    assert_eq!(crate::mm::kmap::pkmap_waiters(), 2, "both nested kmaps sleep");
    assert_eq!(got_extra.load(Ordering::SeqCst), 0, "and neither can ever get a slot by itself");
    // The rescue: release one page of each task (kmap is global, so any
    // task may kunmap it). Each kunmap frees one slot and wakes the sleepers.
    kunmap(pages[0]);
    kunmap(pages[HALF + 1]);
    for h in handles {
        h.join();
    }
    assert_eq!(got_extra.load(Ordering::SeqCst), 2, "both got their page once slots were freed");
    assert_eq!(pkmap_census().2, 0, "everything released");
    for p in pages.iter() {
        free_page(p);
    }
}

// ------------------------------------------------------- 4. kmap_atomic ----

/// Exercise 4.1: kmap_atomic of a lowmem page maps nothing, yet preemption
/// and page faults are off until kunmap_atomic.
fn ch4_kmap_atomic_of_lowmem_still_disables_preemption_and_faults() {
    let low = lowmem_page();
    let pc = preempt_count();
    let v = kmap_atomic(low);
    assert_eq!(preempt_count(), pc + 1);
    assert!(pagefault_disabled());
    if !config().force_map {
        assert_eq!(Some(v), page_address(low), "the direct map");
        assert_eq!(kmap_depth(), 0, "no slot taken");
    }
    // A fault in here is not resolved: it goes to the exception fixup.
    let mut buf = [0u8; 4];
    assert_eq!(copy_from_kernel_nofault(&mut buf, VMALLOC_END), Err(4));
    kunmap_atomic(v);
    assert_eq!((preempt_count(), pagefault_disabled()), (pc, false));
    free_page(low);
}

/// Exercise 4.2: a task holds a mapping for 30 ms while another task on
/// the same CPU counts. Under kmap_atomic the counter does not move; under
/// kmap_local it does (the holder is preempted, its slot saved).
fn ch4_kmap_atomic_starves_its_cpu_kmap_local_does_not() {
    let cpu = num_online_cpus() - 1;
    for atomic in [true, false] {
        let progress = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (progress.clone(), stop.clone());
        let counter = spawn_on(cpu, "ex-counter", move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_add(1, Ordering::Relaxed);
            }
        });
        while progress.load(Ordering::Relaxed) == 0 {
            yield_now();
        }
        let during = Arc::new(AtomicU64::new(u64::MAX));
        let (p, d) = (progress.clone(), during.clone());
        spawn_on(cpu, "ex-holder", move || {
            let page = any_page();
            let v = if atomic { kmap_atomic(page) } else { kmap_local_page(page) };
            let before = p.load(Ordering::Relaxed);
            let start = rdtsc();
            if atomic {
                while ms_since(start) < 30 {}
            } else {
                // Preemptible: the counter gets the CPU at the next tick
                // that ends our slice (wait up to 2 s of host time).
                while p.load(Ordering::Relaxed) == before && ms_since(start) < 2000 {}
            }
            d.store(p.load(Ordering::Relaxed) - before, Ordering::SeqCst);
            if atomic { kunmap_atomic(v) } else { kunmap_local(v) }
            free_page(page);
        })
        .join();
        stop.store(true, Ordering::Relaxed);
        counter.join();
        let during = during.load(Ordering::SeqCst);
        if atomic {
            assert_eq!(during, 0, "the counter ran on CPU {cpu} inside kmap_atomic");
        } else {
            assert!(during > 0, "the counter never ran on CPU {cpu} while kmap_local was held");
        }
    }
}

/// Exercise 4.3: kmap_local, kmap_atomic, kmap_local nest on one stack:
/// each lands KM_INCR pages lower, and only the atomic one raises the
/// preempt count.
fn ch4_local_atomic_local_share_one_stack() {
    let cfg = config();
    let pages = [any_page(), any_page(), any_page()];
    let pc = preempt_count();
    let v1 = kmap_local_pfn(page_to_pfn(pages[0]));
    assert_eq!(preempt_count(), pc);
    let v2 = kmap_atomic_pfn(page_to_pfn(pages[1]));
    assert_eq!(preempt_count(), pc + 1);
    let v3 = kmap_local_pfn(page_to_pfn(pages[2]));
    assert_eq!(preempt_count(), pc + 1);
    let step = cfg.km_incr() * PAGE_SIZE;
    assert_eq!((v2, v3), (v1 - step, v1 - 2 * step));
    assert_eq!(kmap_depth(), 3 * cfg.km_incr());
    kunmap_local(v3);
    kunmap_atomic(v2);
    assert_eq!(preempt_count(), pc);
    kunmap_local(v1);
    assert_eq!(kmap_depth(), 0);
    for p in pages {
        free_page(p);
    }
}

static IRQ_ADDR: [AtomicUsize; 2] = [const { AtomicUsize::new(0) }; 2];
static IRQ_STATE: [AtomicU32; 3] = [const { AtomicU32::new(0) }; 3];

fn atomic_in_irq(pfn: usize) {
    let pc = preempt_count();
    let v = kmap_atomic_pfn(pfn);
    IRQ_ADDR[0].store(v, Ordering::SeqCst);
    IRQ_STATE[0].store((preempt_count() & PREEMPT_MASK) - (pc & PREEMPT_MASK), Ordering::SeqCst);
    IRQ_STATE[1].store(read_byte(v + 100) as u32, Ordering::SeqCst);
    kunmap_atomic(v);
    IRQ_STATE[2].store((preempt_count() == pc) as u32, Ordering::SeqCst);
}

/// Exercise 4.4: kmap_atomic in an interrupt handler while the task holds
/// one kmap_local mapping: the handler gets the slot above the task's.
fn ch4_kmap_atomic_in_an_interrupt_nests_on_the_task() {
    let cfg = config();
    let (a, b) = (any_page(), any_page());
    fill_byte(b, 0x4b);
    let va = kmap_local_pfn(page_to_pfn(a)); // migration is off from here
    let cpu = raw_smp_processor_id();
    let before = current().kmap_ctrl_snapshot();
    let n = report_count();
    run_in_irq(atomic_in_irq, page_to_pfn(b));
    assert_eq!(IRQ_ADDR[0].load(Ordering::SeqCst), cfg.slot_vaddr(cpu, 2 * cfg.km_incr() - 1));
    assert_eq!(IRQ_ADDR[0].load(Ordering::SeqCst), va - cfg.km_incr() * PAGE_SIZE);
    assert_eq!(IRQ_STATE[0].load(Ordering::SeqCst), 1, "preemption depth +1 inside the handler");
    assert_eq!(IRQ_STATE[1].load(Ordering::SeqCst), 0x4b, "the handler read its page");
    assert_eq!(IRQ_STATE[2].load(Ordering::SeqCst), 1, "kunmap_atomic restored the count");
    assert_eq!(current().kmap_ctrl_snapshot(), before, "the task's stack is as it was");
    assert_eq!(report_count(), n, "nothing reported: {}", last_report().as_str());
    kunmap_local(va);
    free_page(a);
    free_page(b);
}

// ------------------------------------- 5. kmap_local and the context switch ----

/// Exercise 5.1: the deepest nesting, the last slot used, and the slot that
/// is never used, in the mode this kernel was booted in.
fn ch5_deepest_nesting_and_the_slot_never_used() {
    let cfg = config();
    let max = cfg.max_depth();
    assert_eq!(max, if cfg.debug { 16 } else { 15 });
    let pages: Vec<_> = (0..max).map(|_| any_page()).collect();
    let addrs: Vec<usize> = pages.iter().map(|p| kmap_local_pfn(page_to_pfn(p))).collect();
    let cpu = raw_smp_processor_id();
    assert_eq!(kmap_depth(), max * cfg.km_incr(), "15, or 32 with guard slots");
    let last_slot = max * cfg.km_incr() - 1; // 14, or 31
    assert_eq!(*addrs.last().unwrap(), cfg.slot_vaddr(cpu, last_slot));
    let never = cfg.km_max_idx() - 1; // 15, or 32
    assert_eq!(never, if cfg.debug { 32 } else { 15 });
    assert!(lookup_kernel_pte(cfg.slot_vaddr(cpu, never)).is_none(), "slot {never} is never mapped");
    for v in addrs.into_iter().rev() {
        kunmap_local(v);
    }
    free_all(pages);
}

static IRQ_NESTED: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

fn two_maps_in_irq(pfn: usize) {
    let a = kmap_local_pfn(pfn);
    let b = kmap_local_pfn(pfn);
    IRQ_NESTED[0].store(a, Ordering::SeqCst);
    IRQ_NESTED[1].store(b, Ordering::SeqCst);
    IRQ_NESTED[2].store(kmap_depth(), Ordering::SeqCst);
    kunmap_local(b);
    kunmap_local(a);
}

/// Exercise 5.2: the task holds four mappings; an interrupt handler maps
/// two: which slots, and what depth inside the handler?
fn ch5_interrupt_pushes_on_the_interrupted_tasks_stack() {
    let cfg = config();
    let incr = cfg.km_incr();
    let pages: Vec<_> = (0..5).map(|_| any_page()).collect();
    let held: Vec<usize> = pages[..4].iter().map(|p| kmap_local_pfn(page_to_pfn(p))).collect();
    let cpu = raw_smp_processor_id();
    let before = current().kmap_ctrl_snapshot();
    run_in_irq(two_maps_in_irq, page_to_pfn(pages[4]));
    assert_eq!(IRQ_NESTED[0].load(Ordering::SeqCst), cfg.slot_vaddr(cpu, 5 * incr - 1), "slot 4 (9 with guards)");
    assert_eq!(IRQ_NESTED[1].load(Ordering::SeqCst), cfg.slot_vaddr(cpu, 6 * incr - 1), "slot 5 (11 with guards)");
    assert_eq!(IRQ_NESTED[2].load(Ordering::SeqCst), 6 * incr, "depth 6 (12) inside the handler");
    assert_eq!(current().kmap_ctrl_snapshot(), before, "popped back to the task's four");
    for v in held.into_iter().rev() {
        kunmap_local(v);
    }
    free_all(pages);
}

/// Exercise 5.3: a task holding two mappings and switched out n times
/// costs 2n PTE clears (each with an invlpg) and 2n PTE restores.
fn ch5_two_mappings_cost_two_ptes_per_switch() {
    let cpu = num_online_cpus() - 1;
    let (out0, in0) = (nr_sched_out_slots(), nr_sched_in_slots());
    let switches = Arc::new(AtomicU64::new(0));
    // Both tasks wait until both exist, so that they really alternate; the
    // yielder keeps yielding until the holder is done.
    let started = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (s, st, dn) = (switches.clone(), started.clone(), done.clone());
    let holder = spawn_on(cpu, "ex-two-maps", move || {
        st.fetch_add(1, Ordering::SeqCst);
        while st.load(Ordering::SeqCst) < 2 {
            yield_now();
        }
        let pages = [any_page(), any_page()];
        // Count exactly the switches made while both mappings are held:
        // no preemption between mapping and reading the counter.
        preempt_disable();
        let v: Vec<usize> = pages.iter().map(|p| kmap_local_pfn(page_to_pfn(p))).collect();
        let before = current().nr_switches.load(Ordering::Relaxed);
        preempt_enable();
        for _ in 0..200 {
            yield_now();
        }
        preempt_disable();
        s.store(current().nr_switches.load(Ordering::Relaxed) - before, Ordering::SeqCst);
        for x in v.into_iter().rev() {
            kunmap_local(x);
        }
        preempt_enable();
        dn.store(true, Ordering::SeqCst);
        for p in pages {
            free_page(p);
        }
    });
    let (st, dn) = (started.clone(), done.clone());
    let other = spawn_on(cpu, "ex-yielder", move || {
        st.fetch_add(1, Ordering::SeqCst);
        while !dn.load(Ordering::SeqCst) {
            yield_now();
        }
    });
    holder.join();
    other.join();
    let n = switches.load(Ordering::SeqCst);
    assert!(n >= 100, "the holder was switched out only {n} times in 200 yields");
    assert_eq!(nr_sched_out_slots() - out0, 2 * n, "two slots cleared per switch out");
    assert_eq!(nr_sched_in_slots() - in0, 2 * n, "two slots restored per switch in");
}

/// Exercise 5.4: with guard slots the first three mappings use slots 1, 3
/// and 5 and the slots between stay empty; with force-map a lowmem page
/// goes through a slot too.
fn ch5_guard_slots_and_force_map() {
    let dbg = KmapLocalConfig::new(true, false);
    assert_eq!(fix_to_virt(FIX_KMAP_BEGIN), 0xffff_b000, "CPU 0 slot 0");
    assert_eq!([1, 3, 5].map(|s| dbg.slot_vaddr(0, s)), [0xffff_a000, 0xffff_8000, 0xffff_6000]);
    let cfg = config();
    let pages = [any_page(), any_page(), any_page()];
    let v: Vec<usize> = pages.iter().map(|p| kmap_local_pfn(page_to_pfn(p))).collect();
    let cpu = raw_smp_processor_id();
    for (k, &addr) in v.iter().enumerate() {
        assert_eq!(addr, cfg.slot_vaddr(cpu, (k + 1) * cfg.km_incr() - 1));
        if cfg.debug {
            assert!(lookup_kernel_pte(addr + PAGE_SIZE).is_none(), "a guard above mapping {k}");
        }
    }
    for x in v.into_iter().rev() {
        kunmap_local(x);
    }
    let low = lowmem_page();
    let lv = kmap_local_page(low);
    assert_eq!(lv == page_address(low).unwrap(), !cfg.force_map, "lowmem is a slot only with force-map");
    kunmap_local(lv);
    free_page(low);
    for p in pages {
        free_page(p);
    }
}

// --------------------------------------------- 6. SMP, IPIs and shootdown ----

/// Exercise 6.1: what `fs` points at on each CPU, and the fixed offsets of
/// the fields read through it.
fn ch6_percpu_block_through_fs() {
    assert_eq!((crate::arch::percpu::CPU_NUMBER_OFFSET, PREEMPT_COUNT_OFFSET, CURRENT_OFFSET, NEED_RESCHED_OFFSET), (4, 8, 12, 16));
    let bad = Arc::new(AtomicU32::new(0));
    for cpu in 0..num_online_cpus() {
        let b = bad.clone();
        spawn_on(cpu, "ex-percpu", move || {
            let ok = this_cpu_base() == per_cpu(cpu) as *const _ as usize
                && this_cpu_read_u32(4) as usize == cpu
                && this_cpu_read_u32(CURRENT_OFFSET) as usize == current() as *const _ as usize
                && this_cpu_read_u32(PREEMPT_COUNT_OFFSET) == preempt_count();
            if !ok {
                b.fetch_or(1 << cpu, Ordering::SeqCst);
            }
        })
        .join();
    }
    assert_eq!(bad.load(Ordering::SeqCst), 0, "CPUs whose fs block did not match (bit mask)");
}

/// Exercise 6.2: one kmap flush is one shootdown, a full flush, and one
/// IPI per other online CPU; a thousand kmap_local pairs send none.
fn ch6_flush_ipis_for_kmap_and_none_for_kmap_local() {
    let counters = || {
        (TLB_SHOOTDOWNS.load(Ordering::SeqCst), TLB_FULL_FLUSHES.load(Ordering::SeqCst), TLB_FLUSH_IPIS.load(Ordering::SeqCst))
    };
    let p = any_page();
    let c0 = counters();
    for _ in 0..1000 {
        kunmap_local(kmap_local_pfn(page_to_pfn(p)));
    }
    assert_eq!(counters(), c0, "kmap_local: invlpg on this CPU only");
    if have_highmem() {
        kmap(p);
        kunmap(p); // count 1: a flush has something to do
        let c1 = counters();
        kmap_flush_unused();
        let c2 = counters();
        let others = num_online_cpus() as u64 - 1;
        assert_eq!((c2.0 - c1.0, c2.1 - c1.1, c2.2 - c1.2), (1, 1, others));
    }
    free_page(p);
}

/// Exercise 6.3: vfree of a 40-page vmalloc area: how many shootdowns, and
/// are they full flushes? (UNMAP_BATCH is 32, the ceiling 33.)
fn ch6_vfree_of_40_pages_is_two_shootdowns() {
    assert_eq!((crate::mm::vmalloc::UNMAP_BATCH, crate::smp::TLB_SINGLE_PAGE_FLUSH_CEILING), (32, 33));
    let a = crate::mm::vmalloc::vmalloc(40 * PAGE_SIZE).expect("vmalloc space");
    let (s0, f0, i0) = (TLB_SHOOTDOWNS.load(Ordering::SeqCst), TLB_FULL_FLUSHES.load(Ordering::SeqCst), TLB_FLUSH_IPIS.load(Ordering::SeqCst));
    crate::mm::vmalloc::vfree(a);
    let (s1, f1, i1) = (TLB_SHOOTDOWNS.load(Ordering::SeqCst), TLB_FULL_FLUSHES.load(Ordering::SeqCst), TLB_FLUSH_IPIS.load(Ordering::SeqCst));
    assert_eq!(s1 - s0, 2, "32 pages, then 8");
    assert_eq!(f1 - f0, 0, "both under the 33-page ceiling: page by page");
    assert_eq!(i1 - i0, 2 * (num_online_cpus() as u64 - 1), "every other CPU, twice");
    // One page over the ceiling is a full flush (a PKMAP wrap is 1024 pages).
    flush_tlb_kernel_range(PKMAP_BASE, PKMAP_BASE + 33 * PAGE_SIZE);
    assert_eq!(TLB_FULL_FLUSHES.load(Ordering::SeqCst), f1);
    flush_tlb_kernel_range(PKMAP_BASE, PKMAP_BASE + 34 * PAGE_SIZE);
    assert_eq!(TLB_FULL_FLUSHES.load(Ordering::SeqCst), f1 + 1);
}

/// Exercise 6.4: another CPU reads a kmap address: always the page. It
/// reads this CPU's kmap_local address: it works while the mapping lasts,
/// because the fixmap page table is shared, but after kunmap_local and a
/// new mapping in the same slot it may see either page, since no IPI told
/// it the translation changed.
fn ch6_kmap_address_on_another_cpu_and_a_kmap_local_one() {
    require_cpus(2);
    let (a, b) = (any_page(), any_page());
    fill_byte(a, 0xa1);
    fill_byte(b, 0xb2);

    // kmap: global.
    let k = kmap(a);
    let seen = Arc::new(AtomicU32::new(0));
    let s = seen.clone();
    let me = raw_smp_processor_id();
    spawn_on(other_cpu(me), "ex-kmap-reader", move || {
        let mut buf = [0u8; 1];
        s.store(match copy_from_kernel_nofault(&mut buf, k + 9) { Ok(()) => buf[0] as u32, Err(_) => 0x100 }, Ordering::SeqCst);
    })
    .join();
    assert_eq!(seen.load(Ordering::SeqCst), 0xa1, "the kmap address reads page a on the other CPU");
    kunmap(a);

    // kmap_local: this CPU's slot. Keep the CPU (no sleeping, no
    // preemption) so that sched_out does not clear our slot meanwhile.
    let v = kmap_local_pfn(page_to_pfn(a));
    let me = raw_smp_processor_id();
    let step = Arc::new(AtomicU32::new(0)); // 1: read; 2: read done; 3: read again; 4: done
    let got = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let (st, g) = (step.clone(), got.clone());
    let reader = spawn_on(other_cpu(me), "ex-local-reader", move || {
        for (round, (go, done)) in [(1, 2), (3, 4)].into_iter().enumerate() {
            while st.load(Ordering::SeqCst) != go {
                core::hint::spin_loop();
            }
            let mut buf = [0u8; 1];
            let r = match copy_from_kernel_nofault(&mut buf, v + 9) { Ok(()) => buf[0] as u32, Err(_) => 0x100 };
            g[round].store(r, Ordering::SeqCst);
            st.store(done, Ordering::SeqCst);
        }
    });
    preempt_disable();
    step.store(1, Ordering::SeqCst);
    while step.load(Ordering::SeqCst) != 2 {
        core::hint::spin_loop();
    }
    let ipis = TLB_FLUSH_IPIS.load(Ordering::SeqCst);
    kunmap_local(v);
    let w = kmap_local_pfn(page_to_pfn(b));
    assert_eq!(w, v, "b lands in the slot a just left");
    assert_eq!(TLB_FLUSH_IPIS.load(Ordering::SeqCst), ipis, "kunmap_local told no other CPU");
    step.store(3, Ordering::SeqCst);
    while step.load(Ordering::SeqCst) != 4 {
        core::hint::spin_loop();
    }
    kunmap_local(w);
    preempt_enable();
    reader.join();
    // Drop whatever translation of our slot the other CPU kept.
    flush_tlb_kernel_range(v & !(PAGE_SIZE - 1), (v & !(PAGE_SIZE - 1)) + PAGE_SIZE);
    assert_eq!(got[0].load(Ordering::SeqCst), 0xa1, "while mapped, the shared page table gave the other CPU page a");
    let second = got[1].load(Ordering::SeqCst);
    assert!(second == 0xa1 || second == 0xb2, "the other CPU saw {second:#x}");
    log::info!("ch6: after kunmap_local + remap, CPU {} read {}", other_cpu(me),
        if second == 0xa1 { "the OLD page a (stale TLB entry)" } else { "the new page b (its TLB had dropped the entry)" });
    free_page(a);
    free_page(b);
}

// -------------------------------------------------- 7. Choosing an interface ----

/// Exercise 7.1: a `Kmapped` guard created here, moved into a task on
/// another CPU, read and dropped there: the kunmap happens in that task.
fn ch7_kmapped_guard_travels_to_another_task() {
    let p = any_page();
    fill_byte(p, 0x7a);
    let g = Kmapped::new(p);
    let addr = g.addr();
    if have_highmem() {
        assert!(is_pkmap_addr(addr));
        assert_eq!(pkmap_count(pkmap_nr(addr)), 2);
    }
    let seen = Arc::new(AtomicU32::new(0));
    let s = seen.clone();
    spawn_on(other_cpu(raw_smp_processor_id()), "ex-kmapped", move || {
        s.store(g.as_bytes()[10] as u32, Ordering::SeqCst);
        drop(g); // kunmap, in this task, maybe on another CPU
    })
    .join();
    assert_eq!(seen.load(Ordering::SeqCst), 0x7a);
    if have_highmem() {
        assert_eq!(pkmap_count(pkmap_nr(addr)), 1, "released by the other task (lazily)");
        assert_eq!(page_address(p), Some(addr));
    }
    free_page(p);
}

static IRQ_GUARD: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

fn guard_in_irq(pfn: usize) {
    let before = kmap_depth();
    let sum = with_kmap_local(pfn_to_page(pfn), |m| {
        IRQ_GUARD[1].store(kmap_depth() - before, Ordering::SeqCst);
        m.as_bytes().iter().map(|&b| b as usize).sum::<usize>()
    });
    IRQ_GUARD[0].store(sum, Ordering::SeqCst);
    IRQ_GUARD[2].store(kmap_depth() - before, Ordering::SeqCst);
}

/// Exercise 7.2: the safe face in an interrupt handler: with_kmap_local
/// maps, the closure reads, the mapping is gone when it returns.
fn ch7_with_kmap_local_in_an_interrupt_handler() {
    let p = any_page();
    fill_byte(p, 1);
    let n = report_count();
    run_in_irq(guard_in_irq, page_to_pfn(p));
    let slot = PageHighMem(p) || config().force_map;
    assert_eq!(IRQ_GUARD[0].load(Ordering::SeqCst), PAGE_SIZE, "4096 bytes of 1");
    assert_eq!(IRQ_GUARD[1].load(Ordering::SeqCst), if slot { config().km_incr() } else { 0 }, "one slot inside the closure");
    assert_eq!(IRQ_GUARD[2].load(Ordering::SeqCst), 0, "unmapped on the way out");
    assert_eq!(report_count(), n, "nothing reported: {}", last_report().as_str());
    free_page(p);
}

// ------------------------------------------------------------ 8. History ----

/// Exercise 8.1: "the old global one caches the page table mapping"
/// (Linus): 1000 kmap/kunmap pairs of one highmem page write its PTE once;
/// 1000 kmap_local pairs write it 1000 times (and invlpg 1000 times).
fn ch8_kmap_caches_the_pte_kmap_local_writes_it_every_time() {
    let p = any_page();
    if have_highmem() {
        kmap_flush_unused(); // so that p has no lazy mapping left over
        let s0 = pkmap_stats();
        for _ in 0..1000 {
            kmap(p);
            kunmap(p);
        }
        let s1 = pkmap_stats();
        assert_eq!((s1.maps - s0.maps, s1.reuses - s0.reuses), (1, 999), "one PTE write, 999 hits");
    }
    let m0 = nr_maps();
    for _ in 0..1000 {
        kunmap_local(kmap_local_pfn(page_to_pfn(p)));
    }
    assert_eq!(nr_maps() - m0, 1000, "kmap_local: a PTE write per mapping");
    free_page(p);
}

/// Exercise 8.2: "kmap_local() still can be invoked from atomic context"
/// (Thomas); kmap() is "only callable from preemptible thread context".
fn ch8_kmap_local_from_atomic_context_kmap_not() {
    let p = any_page();
    fill_byte(p, 0x8e);
    let low = lowmem_page();
    preempt_disable();
    let n = report_count();
    let v = kmap_local_pfn(page_to_pfn(p));
    assert_eq!(read_byte(v + 1), 0x8e);
    kunmap_local(v);
    assert_eq!(report_count(), n, "kmap_local in atomic context: fine");
    kmap(low);
    assert_eq!(report_count(), n + 1, "kmap in atomic context: might_sleep's report");
    assert!(last_report().as_str().contains("BUG: sleeping function called from invalid context"));
    kunmap(low);
    preempt_enable();
    free_page(p);
    free_page(low);
}

/// Exercise 8.3: "kunmap() doesn't release the page, it releases the
/// address" (Willy): after kunmap the page is still allocated and intact;
/// its address is given up (at the next flush).
fn ch8_kunmap_releases_the_address_not_the_page() {
    let p = any_page();
    fill_byte(p, 0x5d);
    let v = kmap(p);
    kunmap(p);
    assert_eq!(p.page_count(), 1, "still allocated to us");
    let w = kmap_local_pfn(page_to_pfn(p));
    assert_eq!(read_byte(w + 4095), 0x5d, "contents intact");
    kunmap_local(w);
    if have_highmem() {
        kmap_flush_unused();
        assert_eq!(page_address(p), None, "the address is gone");
        assert!(lookup_kernel_pte(v).is_none());
    }
    free_page(p);
}

// ----------------------------------------- 9. Differences from Linux ----

/// Exercise 9.1: CPU 0's slot 0 is a kmap address here; Linux's
/// `is_kmap_addr()` bound says it is not.
fn ch9_is_kmap_addr_includes_cpu0_slot0() {
    let slot0 = fix_to_virt(FIX_KMAP_BEGIN);
    assert_eq!(slot0, 0xffff_b000);
    let linux = |a: usize| a >= fix_to_virt(FIX_KMAP_END) && a < fix_to_virt(FIX_KMAP_BEGIN);
    assert!(!linux(slot0), "Linux: addr < __fix_to_virt(FIX_KMAP_BEGIN) leaves it out");
    assert!(is_kmap_addr(slot0) && is_kmap_addr(slot0 + PAGE_SIZE - 1), "ours includes it");
    assert!(!is_kmap_addr(slot0 + PAGE_SIZE), "the I/O APIC entry above is not");
    assert!(linux(slot0 - PAGE_SIZE) && is_kmap_addr(slot0 - PAGE_SIZE), "both agree below it");
}

/// Exercise 9.2: which PTE Linux's underflowing kunmap_local clears (slot
/// -1), on CPU 0 and on CPU 1; here: nothing is touched.
fn ch9_underflow_slot_minus_one() {
    let normal = KmapLocalConfig::new(false, false);
    // CPU 0: the fixmap entry just above FIX_KMAP_BEGIN: the second I/O APIC.
    assert_eq!(FIX_KMAP_BEGIN - 1, FIX_IO_APIC_BASE_END);
    assert_eq!(fix_to_virt(FIX_KMAP_BEGIN - 1), 0xffff_c000);
    // CPU 1: CPU 0's slot 15.
    assert_eq!(normal.slot_vaddr(1, 0) + PAGE_SIZE, normal.slot_vaddr(0, 15));
    assert_eq!(normal.slot_vaddr(0, 15), 0xfffe_c000);
    assert_eq!(kmap_depth(), 0);
    migrate_disable();
    let cfg = config();
    let cpu = raw_smp_processor_id();
    let minus_one = cfg.slot_vaddr(cpu, 0) + PAGE_SIZE;
    let before = lookup_kernel_pte(minus_one);
    let n = report_count();
    kunmap_local(cfg.slot_vaddr(cpu, cfg.km_incr() - 1));
    assert_eq!(report_count(), n + 1, "one report");
    assert!(last_report().as_str().contains("no kmap_local mapping is held"));
    assert_eq!(lookup_kernel_pte(minus_one), before, "slot -1's PTE untouched");
    assert_eq!(kmap_depth(), 0);
    migrate_enable();
}

/// The kernel's PMD entries in swapper_pg_dir: 686, PGD entries
/// 768..1023 (the PMD is folded); 686-pae, the 512 entries of the kernel
/// PMD page under PDPTE 3.
fn kernel_pdes() -> [pteval_t; KERNEL_PTE_TABLES] {
    let first = PAGE_OFFSET;
    // SAFETY: swapper_pg_dir is live lowmem, and so is the kernel's PMD
    // page; the KERNEL_PTE_TABLES entries from PAGE_OFFSET's are in it.
    let pmd = unsafe { crate::mm::pgtable::pmd_offset(crate::mm::pgtable::pgd_offset_k(first), first) };
    // SAFETY: as above.
    core::array::from_fn(|i| unsafe { pmd.add(i).read_volatile().0 })
}

/// Exercise 9.3: how many kernel page tables exist, where, and does a
/// vmalloc change any page-directory entry? 686: 256 (PDEs 768..1023,
/// 4 MiB each, a 1 MiB block of tables); 686-pae: 512 (2 MiB each, a
/// 2 MiB block), one whole PMD page.
fn ch9_every_kernel_page_table_is_preallocated() {
    let pdes = kernel_pdes();
    assert_eq!(pdes.len(), if mm::pgtable_types::PAE { 512 } else { 256 }, "1 GiB / PMD_SIZE");
    assert_eq!(pdes.len() * mm::layout::PMD_SIZE, 1 << 30);
    if !mm::pgtable_types::PAE {
        assert_eq!(KERNEL_PGD_BOUNDARY, 768, "PDEs 768..1023");
    }
    let first = pdes[0] & mm::pgtable_types::PTE_PFN_MASK;
    for (i, &pde) in pdes.iter().enumerate() {
        assert!(pte_t(pde).present(), "kernel PMD entry {i} present");
        assert_eq!(pde & PteFlags::PSE.bits(), 0, "kernel PMD entry {i}: a page table, not a large page");
        assert_eq!(pde & mm::pgtable_types::PTE_PFN_MASK, first + (i * PAGE_SIZE) as pteval_t, "one consecutive block of tables");
    }
    // Every kernel address has a PTE slot, even where nothing is mapped.
    assert!(virt_to_kpte(VMALLOC_END + PAGE_SIZE).is_some());
    let a = crate::mm::vmalloc::vmalloc(64 * PAGE_SIZE).expect("vmalloc space");
    assert_eq!(kernel_pdes(), pdes, "vmalloc changed no PDE");
    crate::mm::vmalloc::vfree(a);
    assert_eq!(kernel_pdes(), pdes, "nor did vfree");
}

/// Exercise 9.4: a `Page` is 32 bytes, so pfn = (descriptor address -
/// mem_map) >> 5.
fn ch9_struct_page_is_32_bytes_and_pfn_is_a_shift() {
    assert_eq!(core::mem::size_of::<Page>(), 1 << 5);
    let base = page_alloc::mem_map().pages().as_ptr() as usize;
    let max_pfn = page_alloc::memory_layout().max_pfn;
    for pfn in [0, 1, 0x1234, max_pfn / 2, max_pfn - 1] {
        let addr = pfn_to_page(pfn) as *const Page as usize;
        assert_eq!((addr - base) >> 5, pfn);
        assert_eq!(page_to_pfn(pfn_to_page(pfn)), pfn);
    }
    assert_eq!(base & (PAGE_SIZE - 1), 0, "mem_map starts on a page");
}
