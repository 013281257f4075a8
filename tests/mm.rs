//! Memory management on the real machine: the layout and page tables that
//! paging_init built, zones and totals against what QEMU was given, the
//! buddy allocator under load, GFP zone choice, page_address, the heap.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use mm::buddy::MAX_ORDER;
use mm::gfp::{GFP_DMA, GFP_HIGHUSER, GFP_KERNEL, GfpFlags};
use mm::layout::*;
use mm::zone::ZoneType;

use crate::arch::paging::pte_t;
use crate::tools::ktest::{Test, require_highmem};
use crate::mm::page_alloc::{self, PageHighMem, page_address, page_to_pfn};
use crate::mm::pgtable::{kmap_pte, lookup_kernel_pte, pkmap_page_table, virt_to_kpte};
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(layout_matches_the_machine),
    test_case!(page_poisoning_fills_a_freed_page_and_reports_a_write_into_it),
    test_case!(direct_map_covers_lowmem_only),
    test_case!(pkmap_and_fixmap_tables_exist_and_are_linear),
    test_case!(boot_stack_guard_page_is_unmapped),
    test_case!(every_cpu_pages_with_the_flavours_geometry),
    test_case!(zones_and_totals_match_the_machine),
    test_case!(buddy_split_and_coalesce_on_real_zones),
    test_case!(no_page_lost_over_100000_random_allocations),
    test_case!(gfp_chooses_zones),
    test_case!(gfp_highuser_falls_back_when_highmem_is_exhausted),
    test_case!(page_address_of_lowmem_and_highmem),
    test_case!(heap_serves_box_vec_and_btreemap),
    test_case!(double_free_is_caught, panics = "double free of pfn"),
];

/// The layout the kernel runs with, against facts written down by hand
/// (Linux 2.6's i386 layout with our 4 KiB-page tables; README "address
/// space") and against what the machine does with it: the page tables,
/// vmalloc's addresses, kmap's addresses. Nothing here recomputes the
/// formulas of `mm/src/layout.rs`.
fn layout_matches_the_machine() {
    let mem = crate::tools::ktest::expected_mem();
    let split = page_alloc::memory_layout();
    let high_memory = PAGE_OFFSET + (page_alloc::max_low_pfn() << PAGE_SHIFT);
    if mem > 896 << 20 {
        // More RAM than the direct map holds: lowmem is exactly 896 MiB.
        assert_eq!(high_memory, 0xf800_0000, "high_memory with {mem:#x} bytes of RAM");
    } else {
        // All RAM is lowmem, less what the firmware keeps at the top.
        let end = 0xc000_0000 + mem as usize;
        assert!(high_memory <= end && high_memory + (1 << 20) >= end, "high_memory {high_memory:#x} for {mem:#x} bytes");
        assert_eq!(split.max_pfn, split.max_low_pfn, "no highmem");
    }
    // The direct map ends at high_memory: its last page is mapped (to the
    // frame below max_low_pfn), the next address is not.
    let last = high_memory - PAGE_SIZE;
    if boot::entry::boot_stack_guard() != last {
        assert_eq!(lookup_kernel_pte(last).pfn(), page_alloc::max_low_pfn() - 1, "the last lowmem page");
    }
    assert!(!lookup_kernel_pte(high_memory).present(), "nothing mapped at high_memory");
    // vmalloc hands out addresses at least 8 MiB above high_memory (the
    // gap that catches overruns of the direct map) and below the PKMAP
    // window (0xff800000; 0xffc00000 with PAE, whose window is one 2 MiB
    // PMD).
    use mm::layout::{FIXADDR_START, FIXADDR_TOP, LAST_PKMAP, PKMAP_BASE};
    let pkmap_base = if mm::pgtable_types::PAE { 0xffc0_0000 } else { 0xff80_0000 };
    assert_eq!(PKMAP_BASE, pkmap_base);
    let v = crate::mm::vmalloc::vmalloc(PAGE_SIZE).expect("vmalloc of one page");
    assert!(v >= high_memory + (8 << 20) && v < PKMAP_BASE, "vmalloc address {v:#x}");
    crate::mm::vmalloc::vfree(v);
    // kmap of highmem lands in the PKMAP window (4 MiB, or 2 MiB with
    // PAE); kmap_local in the fixmap, above it and below the last page
    // (0xfffff000).
    if split.max_pfn > split.max_low_pfn {
        let h = page_alloc::alloc_pages(GFP_HIGHUSER, 0).unwrap();
        let k = crate::mm::kmap::kmap(h);
        assert!((PKMAP_BASE..PKMAP_BASE + LAST_PKMAP * PAGE_SIZE).contains(&k), "kmap address {k:#x}");
        crate::mm::kmap::kunmap(h);
        // kunmap is lazy: flush so the pool is as empty as boot left it.
        crate::mm::kmap::kmap_flush_unused();
        let l = crate::mm::kmap_local::kmap_local_page(h);
        assert!((FIXADDR_START..FIXADDR_TOP).contains(&l) && l >= PKMAP_BASE + LAST_PKMAP * PAGE_SIZE, "kmap_local address {l:#x}");
        crate::mm::kmap_local::kunmap_local(l);
        page_alloc::__free_pages(h, 0);
    }
}

/// Every online CPU runs with the flavour's paging mode: CR4.PAE set in
/// 686-pae (set by `_start` on the boot CPU and by the trampoline on the
/// others, before CR0.PG), clear in 686. With PAE, swapper's PDPTE 3 (the
/// kernel's shared PMD) carries only P, else loading CR3 would #GP.
fn every_cpu_pages_with_the_flavours_geometry() {
    use crate::arch::paging::CR4_PAE;
    use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
    static SEEN: AtomicU32 = AtomicU32::new(0);
    let want = mm::pgtable_types::PAE;
    for cpu in 0..crate::smp::num_online_cpus() {
        SEEN.store(u32::MAX, SeqCst);
        crate::sched::core::spawn_on(cpu, "cr4-check", || SEEN.store(crate::arch::cpu::read_cr4(), SeqCst)).join();
        let cr4 = SEEN.load(SeqCst);
        assert_ne!(cr4, u32::MAX, "CPU {cpu} ran the check");
        assert_eq!(cr4 & CR4_PAE != 0, want, "CPU {cpu}: CR4 {cr4:#x}, PAE wanted: {want}");
    }
    if want {
        let swapper = crate::mm::pgtable::swapper_pg_dir();
        assert!(swapper.is_multiple_of(32) && (swapper as u64) < 1 << 32, "swapper's PDPT: 32-byte aligned, below 4 GiB");
        // SAFETY: swapper_pg_dir is a live lowmem PGD.
        let k = unsafe { crate::mm::pgtable::pgd_offset_k(PAGE_OFFSET).read_volatile() };
        assert!(k.present());
        // What the kernel wrote is P alone; the walker of QEMU 7.2's TCG
        // sets bit 5 (Accessed) in a PDPTE it has used, although Intel's
        // PAE PDPTE has bit 5 reserved (SDM table 4-8): measured here on
        // a live PDPTE (0x21), so A is left out of the comparison.
        let written = k.0 & mm::pgtable_types::PTE_FLAGS_MASK & !mm::pgtable_types::_PAGE_ACCESSED;
        assert_eq!(written, mm::pgtable_types::PDPTE_FLAGS.bits(), "PDPTE 3 carries only P");
    }
}

fn direct_map_covers_lowmem_only() {
    let max_low = page_alloc::max_low_pfn();
    for pfn in [0, 1, 0x100, 0x1234, max_low / 2, max_low - 1] {
        let pte = lookup_kernel_pte(PAGE_OFFSET + (pfn << PAGE_SHIFT));
        if boot::entry::boot_stack_guard() == PAGE_OFFSET + (pfn << PAGE_SHIFT) {
            continue;
        }
        assert!(pte.present(), "pfn {pfn:#x} not in the direct map");
        assert_eq!(pte.pfn(), pfn);
    }
    let past = PAGE_OFFSET + (max_low << PAGE_SHIFT);
    if past < VMALLOC_END {
        assert_eq!(lookup_kernel_pte(past), pte_t::NONE, "the direct map stops at high_memory");
    }
    assert!(virt_to_kpte(0x1000).is_none(), "no kernel PTE for a user address");
    // And the memory really is there: write and read back through it.
    let page = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let addr = page_address(page).unwrap() as *mut u32;
    // SAFETY: the page is ours and mapped in the direct map.
    unsafe {
        addr.write_volatile(0x1234_5678);
        assert_eq!(addr.read_volatile(), 0x1234_5678);
    }
    page_alloc::__free_pages(page, 0);
}

fn pkmap_and_fixmap_tables_exist_and_are_linear() {
    // PKMAP: one page table, 1024 entries, all empty after boot.
    let table = pkmap_page_table();
    for nr in 0..LAST_PKMAP {
        assert_eq!(virt_to_kpte(pkmap_addr(nr)), Some(table.wrapping_add(nr)));
        // SAFETY: entry nr of the PKMAP page table.
        assert!(unsafe { table.add(nr).read() }.is_none());
    }
    // Fixmap kmap slots: PTEs form one array indexed downwards (what Linux
    // checks in page_table_kmap_check), for every CPU and debug slot.
    use fixed_addresses::{FIX_KMAP_BEGIN, FIX_KMAP_END};
    for idx in 0..=(FIX_KMAP_END - FIX_KMAP_BEGIN) {
        assert_eq!(Some(kmap_pte(idx)), virt_to_kpte(fix_to_virt(FIX_KMAP_BEGIN + idx)));
    }
}

fn boot_stack_guard_page_is_unmapped() {
    let guard = boot::entry::boot_stack_guard();
    assert!(!lookup_kernel_pte(guard).present());
    assert!(lookup_kernel_pte(guard + PAGE_SIZE).present());
    // Tests run in a task, on a vmalloc'd stack with its own guard page.
    let (bottom, top) = crate::sched::current().stack_range().expect("a task stack");
    let here = &bottom as *const usize as usize;
    assert!(here >= bottom && here < top, "tests run on their task's stack");
    assert!(!lookup_kernel_pte(bottom - PAGE_SIZE).present(), "the task stack's guard page is unmapped");
    assert_eq!(crate::mm::stack::guard_page_owner(bottom - 1).map(|g| g.bottom), Some(bottom));
}

/// What QEMU's `pc` machine does with `-m SIZE`: below 3.5 GiB all RAM sits
/// below 4 GiB; from 3.5 GiB, only 3 GiB does and the rest moves above 4 GiB.
fn qemu_ram_split(mem: u64) -> (u64, u64) {
    if mem >= 0xE000_0000 { (3 << 30, mem - (3 << 30)) } else { (mem, 0) }
}

fn zones_and_totals_match_the_machine() {
    let mem = crate::tools::ktest::expected_mem();
    let (below, above) = qemu_ram_split(mem);
    let split = page_alloc::memory_layout();
    let end = (split.max_pfn as u64) << PAGE_SHIFT;
    // RAM above 4 GiB: the 686 flavour reports and ignores it; the
    // 686-pae flavour keeps it as highmem (up to 64 GiB, which no -m here
    // reaches), so max_pfn is its end.
    let used_above = if cfg!(feature = "pae") { above } else { 0 };
    if used_above > 0 {
        assert_eq!(end, (1u64 << 32) + above, "max_pfn {end:#x}: the end of the RAM above 4 GiB");
    } else {
        // The firmware keeps a little at the top of low RAM (SeaBIOS: 128 KiB).
        assert!(end <= below && end >= below - (1 << 20), "max_pfn {end:#x} vs {below:#x} of RAM below 4 GiB");
    }
    assert_eq!(split.ram_bytes_above_4g, above, "RAM above 4 GiB");
    assert_eq!(split.max_low_pfn, split.max_pfn.min(MAXMEM_PFN));

    let zones: Vec<_> = page_alloc::zones().collect();
    assert_eq!(zones[0].zone_type(), ZoneType::Dma);
    assert_eq!(zones[0].zone_start_pfn(), 0);
    assert_eq!(zones[0].zone_end_pfn(), MAX_DMA_PFN.min(split.max_low_pfn));
    assert_eq!(zones[1].zone_start_pfn(), zones[0].zone_end_pfn());
    assert_eq!(zones[1].zone_end_pfn(), split.max_low_pfn);
    assert_eq!(zones[2].zone_start_pfn(), split.max_low_pfn);
    assert_eq!(zones[2].zone_end_pfn(), split.max_pfn);

    let info = page_alloc::meminfo();
    let high_expected_kb = ((below.saturating_sub(MAXMEM as u64) + used_above) >> 10) as usize;
    if below > MAXMEM as u64 {
        // All of highmem is free RAM, less the firmware's top 1 MiB at most.
        assert!(info.high_total_kb <= high_expected_kb && info.high_total_kb + 1024 >= high_expected_kb,
            "HighTotal {} kB, expected about {} kB", info.high_total_kb, high_expected_kb);
        assert_eq!(page_alloc::node().totalhigh_pages() * 4, info.high_total_kb);
    } else {
        assert_eq!(info.high_total_kb, 0, "no highmem below 896 MiB of RAM");
    }
    // MemTotal: all RAM the flavour uses less what the kernel itself took
    // at boot (the first MiB, the image, page tables: at most 32 MiB; and
    // mem_map, 32 bytes per frame up to max_pfn).
    let total_kb = info.mem_total_kb;
    let ram_kb = ((below + used_above) >> 10) as usize;
    let taken_kb = (32 << 10) + (split.mem_map.bytes >> 10) as usize;
    assert!(total_kb <= ram_kb && total_kb + taken_kb >= ram_kb, "MemTotal {total_kb} kB of {ram_kb} kB of RAM");
    assert_eq!(info.mem_total_kb, info.high_total_kb + info.low_total_kb);
    assert!(info.mem_free_kb <= info.mem_total_kb && info.high_free_kb <= info.high_total_kb);
    let managed: usize = page_alloc::zones().map(|z| z.managed_pages()).sum();
    assert_eq!(managed * 4, info.mem_total_kb);
}

/// Free pages and free-list lengths of every zone. A fixed array, not a
/// `Vec`: a heap allocation here can take a fresh slab page from
/// ZONE_NORMAL (or not, depending on how full the kmalloc cache happens to
/// be after boot), and that page would show up as a difference between
/// two snapshots.
fn free_counts() -> [(usize, [usize; MAX_ORDER]); mm::zone::MAX_NR_ZONES] {
    let mut counts = [(0, [0; MAX_ORDER]); mm::zone::MAX_NR_ZONES];
    for (c, z) in counts.iter_mut().zip(page_alloc::zones()) {
        *c = (z.nr_free_pages(), z.free_list_counts());
    }
    counts
}

fn buddy_split_and_coalesce_on_real_zones() {
    let before = free_counts();
    let page = page_alloc::alloc_pages(GFP_KERNEL, 3).unwrap();
    let pfn = page_to_pfn(page);
    assert_eq!(pfn % 8, 0, "an order-3 block is naturally aligned");
    let zone = page_alloc::zones().find(|z| z.contains_pfn(pfn)).unwrap();
    assert_eq!(zone.zone_type(), ZoneType::Normal);
    let i = zone.zone_type() as usize;
    assert_eq!(free_counts()[i].0, before[i].0 - 8);
    page_alloc::__free_pages(page, 3);
    assert_eq!(free_counts(), before, "freeing coalesced back to the same free lists");
}

/// xorshift32: a tiny deterministic PRNG for the random tests.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

fn no_page_lost_over_100000_random_allocations() {
    const OPS: usize = 100_000;
    const MAX_LIVE: usize = 4096;
    let max_pfn = page_alloc::memory_layout().max_pfn;
    // Everything this test needs from the heap is allocated before the
    // snapshot, so the heap cannot take pages from the buddy meanwhile.
    let mut live: Vec<(usize, usize)> = Vec::with_capacity(MAX_LIVE);
    let mut owned = alloc::vec![0u64; max_pfn.div_ceil(64)];
    let before = free_counts();
    let mut rng = Rng(0x2545_f491);
    let gfps: [GfpFlags; 3] = [GFP_KERNEL, GFP_HIGHUSER, GFP_DMA];
    for _ in 0..OPS {
        let free_one = live.len() == MAX_LIVE || (!live.is_empty() && rng.next().is_multiple_of(2));
        if free_one {
            let i = rng.next() as usize % live.len();
            let (pfn, order) = live.swap_remove(i);
            for p in pfn..pfn + (1 << order) {
                assert!(owned[p / 64] & (1 << (p % 64)) != 0);
                owned[p / 64] &= !(1 << (p % 64));
            }
            page_alloc::__free_pages(page_alloc::pfn_to_page(pfn), order);
        } else {
            let order = rng.next() as usize % 6;
            let gfp = gfps[rng.next() as usize % 3];
            let Some(page) = page_alloc::alloc_pages(gfp, order) else { continue };
            let pfn = page_to_pfn(page);
            assert_eq!(pfn % (1 << order), 0, "block aligned to its order");
            for p in pfn..pfn + (1 << order) {
                assert!(owned[p / 64] & (1 << (p % 64)) == 0, "pfn {p:#x} handed out twice");
                owned[p / 64] |= 1 << (p % 64);
            }
            live.push((pfn, order));
        }
    }
    for (pfn, order) in live.drain(..) {
        page_alloc::__free_pages(page_alloc::pfn_to_page(pfn), order);
    }
    assert_eq!(free_counts(), before, "every page came back and coalesced");
}

fn gfp_chooses_zones() {
    let split = page_alloc::memory_layout();
    let has_highmem = split.max_pfn > split.max_low_pfn;
    let mut held = Vec::with_capacity(300);
    for _ in 0..100 {
        let p = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
        assert!(!PageHighMem(p), "GFP_KERNEL never returns highmem");
        assert!(page_to_pfn(p) >= MAX_DMA_PFN, "GFP_KERNEL prefers ZONE_NORMAL");
        held.push(p);
        let p = page_alloc::alloc_pages(GFP_DMA, 0).unwrap();
        assert!(page_to_pfn(p) < MAX_DMA_PFN, "GFP_DMA stays below 16 MiB");
        held.push(p);
        let p = page_alloc::alloc_pages(GFP_HIGHUSER, 0).unwrap();
        assert_eq!(PageHighMem(p), has_highmem, "GFP_HIGHUSER prefers highmem when there is any");
        held.push(p);
    }
    for p in held {
        page_alloc::__free_pages(p, 0);
    }
}

fn gfp_highuser_falls_back_when_highmem_is_exhausted() {
    require_highmem();
    let high = page_alloc::zones().nth(2).unwrap();
    let before = free_counts();
    {
        let mut held: Vec<(usize, usize)> = Vec::with_capacity(high.nr_free_pages() / 512 + 64);
        // Take all of highmem, largest blocks first.
        for order in (0..MAX_ORDER).rev() {
            while high.free_list_counts()[order] > 0 {
                let p = page_alloc::alloc_pages(GFP_HIGHUSER, order).unwrap();
                assert!(PageHighMem(p));
                held.push((page_to_pfn(p), order));
            }
        }
        assert_eq!(high.nr_free_pages(), 0);
        let p = page_alloc::alloc_pages(GFP_HIGHUSER, 0).expect("falls back to lowmem");
        assert!(!PageHighMem(p), "with highmem exhausted GFP_HIGHUSER falls back to Normal");
        page_alloc::__free_pages(p, 0);
        for &(pfn, order) in &held {
            page_alloc::__free_pages(page_alloc::pfn_to_page(pfn), order);
        }
    } // `held` (a page-sized heap block) goes back to the buddy here
    assert_eq!(free_counts(), before);
}

fn page_address_of_lowmem_and_highmem() {
    let low = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let pfn = page_to_pfn(low);
    assert_eq!(page_address(low), Some(PAGE_OFFSET + (pfn << PAGE_SHIFT)));
    assert_eq!(page_alloc::virt_to_page(page_address(low).unwrap() + 123) as *const _, low as *const _);
    page_alloc::__free_pages(low, 0);
    let split = page_alloc::memory_layout();
    if split.max_pfn > split.max_low_pfn {
        let high = page_alloc::alloc_pages(GFP_HIGHUSER, 0).unwrap();
        assert!(PageHighMem(high));
        assert_eq!(page_address(high), None, "a highmem page has no address until kmapped");
        page_alloc::__free_pages(high, 0);
    }
}

fn heap_serves_box_vec_and_btreemap() {
    let in_use = crate::mm::heap::KMALLOC.bytes_in_use();
    {
        let b = Box::new([7u8; 100]);
        assert!(b.iter().all(|&x| x == 7));
        let mut v: Vec<u32> = (0..100_000).collect();
        v.retain(|x| x % 3 == 0);
        assert_eq!(v.len(), 33_334);
        assert_eq!(v[1000], 3000);
        let big = alloc::vec![0xa5u8; 1 << 20];
        assert!(big.iter().all(|&x| x == 0xa5));
        let addr = big.as_ptr() as usize;
        assert!((PAGE_OFFSET..PAGE_OFFSET + MAXMEM).contains(&addr), "the heap is lowmem");
        #[repr(align(4096))]
        struct Aligned([u8; 64]);
        let a = Box::new(Aligned([1; 64]));
        assert_eq!(&*a as *const Aligned as usize % 4096, 0);
        assert_eq!(a.0[63], 1);
        let mut m = BTreeMap::new();
        for i in 0..2000u32 {
            m.insert(i.wrapping_mul(2_654_435_761), i);
        }
        assert_eq!(m.len(), 2000);
        assert_eq!(m.values().map(|&v| v as u64).sum::<u64>(), 1999 * 2000 / 2);
    }
    assert_eq!(crate::mm::heap::KMALLOC.bytes_in_use(), in_use, "everything dropped was returned");
}

fn double_free_is_caught() {
    let p = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    page_alloc::__free_pages(p, 0);
    page_alloc::__free_pages(p, 0);
}

/// `page_poison=1` (mm/page_poison.rs, Linux's `page_poison`): a freed
/// page is filled with 0xaa and marked; checked when allocated, a page
/// nobody touched passes silently, and one written while free is reported
/// as a kernel bug naming the pfn and the offset of the first changed
/// byte. The page stays allocated to the test throughout (the poisoning
/// and the check are called as `__free_pages` and `alloc_pages` call
/// them), so that no other CPU can take it from the free list meanwhile;
/// a last round goes through the real free and allocation.
fn page_poisoning_fills_a_freed_page_and_reports_a_write_into_it() {
    use crate::mm::page_poison::{PAGE_POISON, kernel_poison_pages, kernel_unpoison_pages, page_poisoning_enabled};
    use mm::page::PageFlags;
    if !page_poisoning_enabled() {
        crate::tools::ktest::skip(format_args!("needs the kernel option page_poison=1 (./run-qemu.sh test --append page_poison=1)"));
    }
    let page = page_alloc::alloc_pages(GFP_HIGHUSER, 0).expect("a page");
    let pfn = page_to_pfn(page);
    let reports = crate::debug::report_count();
    // Freed: poisoned and marked; allocated untouched: nothing to say.
    kernel_poison_pages(page, 1);
    assert!(page.flags().contains(PageFlags::PG_poisoned));
    let v = crate::mm::kmap_local::kmap_local_page(page);
    // SAFETY: the slot maps the whole page.
    let all_poison = unsafe { core::slice::from_raw_parts(v as *const u8, PAGE_SIZE) }.iter().all(|&b| b == PAGE_POISON);
    crate::mm::kmap_local::kunmap_local(v);
    assert!(all_poison, "every byte is the poison");
    kernel_unpoison_pages(page, 1);
    assert!(!page.flags().contains(PageFlags::PG_poisoned), "the mark goes at allocation");
    assert_eq!(crate::debug::report_count(), reports, "an untouched page is no report");
    // Freed, then written through a mapping somebody kept: reported.
    kernel_poison_pages(page, 1);
    let v = crate::mm::kmap_local::kmap_local_page(page);
    // SAFETY: as above; the write a use-after-free would make.
    unsafe { ((v + 0x64) as *mut u8).write_volatile(0x5a) };
    crate::mm::kmap_local::kunmap_local(v);
    kernel_unpoison_pages(page, 1);
    assert_eq!(crate::debug::report_count(), reports + 1, "the write is reported");
    let report = crate::debug::last_report();
    let want = alloc::format!("pagealloc: memory corruption: pfn {pfn:#x} was written while free: 1 byte(s) changed, the first at offset 0x64");
    assert!(report.as_str().starts_with(&want), "{}", report.as_str());
    // The real thing: __free_pages poisons and marks.
    page_alloc::__free_pages(page, 0);
    let again = page_alloc::alloc_pages(GFP_HIGHUSER, 0).expect("a page");
    assert!(!again.flags().contains(PageFlags::PG_poisoned), "alloc_pages checked and unmarked it");
    page_alloc::__free_pages(again, 0);
    assert_eq!(crate::debug::report_count(), reports + 1, "no other report");
}
