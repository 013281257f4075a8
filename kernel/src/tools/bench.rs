//! In-kernel benchmarks, run with the `bench` kernel option
//! (`./run-qemu.sh bench`). Each measurement prints a line of a table as
//! soon as it is measured, and a `bench-json:` line that the runner gathers
//! into `bench/results.json`.
//!
//! The console's `bench` command runs the same measurements and prints the
//! table alone (the JSON lines are for the runner, not for a person), and
//! only in a release build: a debug build's figures measure the debug
//! build, not kmap, and take minutes (see [`run_from_console`]).
//!
//! Every per-pair figure is the median over [`ROUNDS`] rounds of the cost
//! of one map+unmap pair (warm: each round repeats the pair many times),
//! with the spread (min..max of the rounds) beside it. Under QEMU's TCG the
//! cycle counts are TCG's costs, not a real CPU's: the guest TSC follows
//! host time, and `invlpg` alone costs about a microsecond. That is why the
//! *floor* (one PTE write plus one `invlpg`) is measured in the same run and
//! the kmap_local figures are compared with it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::{GFP_HIGHUSER, GFP_KERNEL};
use mm::layout::{LAST_PKMAP, PAGE_SIZE, PKMAP_BASE};
use mm::page::Page;

use crate::arch::cpu::rdtsc;
use crate::arch::paging::{PAGE_KERNEL, flush_tlb_one_kernel, pte_clear, pte_t, set_pte};
use crate::arch::tsc::cycles_to_ns;
use crate::mm::highmem::copy_highpage;
use crate::mm::kmap::{KMAP_LOCK_WAIT_CYCLES, kmap, kunmap, pkmap_stats};
use crate::mm::kmap_atomic::{kmap_atomic, kunmap_atomic};
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::{self, PageHighMem, page_address};
use crate::sched::{spawn_on, yield_now};
use crate::smp::{TLB_FLUSH_IPIS, num_online_cpus, smp_call_function_many};


/// Rounds per measurement; the median is reported.
pub const ROUNDS: usize = 7;
/// Distinct pages for the "cycling" measurements: more than the PKMAP pool
/// holds, so that kmap() wraps it (twice per round in 686, whose
/// `LAST_PKMAP` is 1024; four times in 686-pae, whose one-PMD window holds
/// 512). The same 2048 in both flavours, as in Linux's figures for both.
pub const CYCLE_PAGES: usize = 2048;

/// One measurement: per-operation cost in TSC cycles.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub median: u64,
    pub min: u64,
    pub max: u64,
}

/// Run `round()` ROUNDS times (after one warm-up round); each returns the
/// cycles per operation of that round.
fn rounds(mut round: impl FnMut() -> u64) -> Stat {
    round();
    let mut v: Vec<u64> = (0..ROUNDS).map(|_| round()).collect();
    v.sort_unstable();
    Stat { median: v[ROUNDS / 2], min: v[0], max: v[ROUNDS - 1] }
}

fn per_op(iters: u64, mut f: impl FnMut(u64)) -> u64 {
    let start = rdtsc();
    for i in 0..iters {
        f(i);
    }
    (rdtsc() - start) / iters
}

fn json_str(key: &str, v: &str) -> crate::fmtbuf::FmtBuf<128> {
    fmtbuf!(128, "\"{key}\":\"{v}\"")
}

/// Where the figures go: always the table, and the `bench-json:` lines
/// only when the runner asked for them (the `bench` kernel option).
#[derive(Clone, Copy)]
struct Report {
    json: bool,
}

impl Report {
    /// Print a per-pair row and its JSON twin.
    fn pair(self, name: &str, s: Stat, note: &str) {
        println!(
            "bench: {name:<34} {:>7} ns {:>8} cycles  (spread {}..{} ns){}{}",
            cycles_to_ns(s.median), s.median, cycles_to_ns(s.min), cycles_to_ns(s.max),
            if note.is_empty() { "" } else { "  " }, note
        );
        if !self.json {
            return;
        }
        println!(
            "bench-json: {{{},\"kind\":\"pair\",\"ns\":{},\"cycles\":{},\"min_ns\":{},\"max_ns\":{}}}",
            json_str("name", name).as_str(), cycles_to_ns(s.median), s.median, cycles_to_ns(s.min), cycles_to_ns(s.max)
        );
    }

    /// Print a free-form value and its JSON twin.
    fn value(self, name: &str, value: u64, unit: &str, note: &str) {
        println!("bench: {name:<34} {value:>7} {unit}  {note}");
        if !self.json {
            return;
        }
        println!("bench-json: {{{},\"kind\":\"value\",\"value\":{value},{}}}", json_str("name", name).as_str(), json_str("unit", unit).as_str());
    }
}

fn lowmem_page() -> &'static Page {
    page_alloc::alloc_pages(GFP_KERNEL, 0).expect("a lowmem page")
}

fn highmem_page() -> Option<&'static Page> {
    let p = page_alloc::alloc_pages(GFP_HIGHUSER, 0)?;
    PageHighMem(p).then_some(p)
}

/// The floor: one PTE write plus one `invlpg` of that address, in one of
/// this CPU's kmap_local slots (the cheapest a kmap_local pair could be).
fn floor() -> Stat {
    let page = lowmem_page();
    let pte_val = pte_t::new(page_alloc::page_to_pfn(page), PAGE_KERNEL);
    crate::sched::preempt::migrate_disable();
    let cpu = crate::arch::percpu::raw_smp_processor_id();
    let cfg = crate::mm::kmap_local::config();
    let slot = cfg.km_max_idx() - 1; // never used by kmap_local (see max_depth)
    let vaddr = cfg.slot_vaddr(cpu, slot);
    let pte = crate::mm::pgtable::kmap_pte(cfg.calc_idx(cpu, slot));
    let s = rounds(|| per_op(20_000, |_| {
        // SAFETY: a slot no mapping uses; the page is ours.
        unsafe { set_pte(pte, pte_val) };
        flush_tlb_one_kernel(vaddr);
    }));
    // SAFETY: as above.
    unsafe { pte_clear(pte) };
    flush_tlb_one_kernel(vaddr);
    crate::sched::preempt::migrate_enable();
    page_alloc::__free_pages(page, 0);
    s
}

/// The floor taken apart, to say what the 686-pae flavour pays where
/// (both flavours run it; compare within one run): the PTE write and
/// clear alone, without the `invlpg` (in 686-pae each is two 32-bit
/// stores with a compiler barrier between, `set_pte` high half first,
/// `pte_clear` low half first); and a read through a freshly mapped slot,
/// whose TLB miss makes QEMU walk the page tables (two levels in 686,
/// three in 686-pae, each entry 8 bytes).
fn floor_parts() -> (Stat, Stat) {
    let page = lowmem_page();
    let pte_val = pte_t::new(page_alloc::page_to_pfn(page), PAGE_KERNEL);
    crate::sched::preempt::migrate_disable();
    let cpu = crate::arch::percpu::raw_smp_processor_id();
    let cfg = crate::mm::kmap_local::config();
    let slot = cfg.km_max_idx() - 1; // never used by kmap_local, as in floor()
    let vaddr = cfg.slot_vaddr(cpu, slot);
    let pte = crate::mm::pgtable::kmap_pte(cfg.calc_idx(cpu, slot));
    // No invlpg between the writes: nothing reads through the slot, so no
    // stale translation can be used (one invlpg after the loop drops any).
    let writes = rounds(|| per_op(20_000, |_| {
        // SAFETY: a slot no mapping uses; the page is ours.
        unsafe {
            set_pte(pte, pte_val);
            pte_clear(pte);
        }
    }));
    flush_tlb_one_kernel(vaddr);
    // SAFETY: as above; the slot stays mapped while the loop reads it.
    unsafe { set_pte(pte, pte_val) };
    let walk = rounds(|| per_op(20_000, |_| {
        flush_tlb_one_kernel(vaddr);
        // SAFETY: the slot maps our page; the read misses the TLB.
        core::hint::black_box(unsafe { (vaddr as *const u32).read_volatile() });
    }));
    // SAFETY: as above.
    unsafe { pte_clear(pte) };
    flush_tlb_one_kernel(vaddr);
    crate::sched::preempt::migrate_enable();
    page_alloc::__free_pages(page, 0);
    (writes, walk)
}

#[derive(Clone, Copy)]
enum Flavour {
    Kmap,
    Atomic,
    Local,
}

fn pair(flavour: Flavour, page: &Page) {
    match flavour {
        Flavour::Kmap => {
            kmap(page);
            kunmap(page);
        }
        Flavour::Atomic => kunmap_atomic(kmap_atomic(page)),
        Flavour::Local => kunmap_local(kmap_local_page(page)),
    }
}

/// The twelve per-pair rows: three flavours x lowmem/highmem x one page /
/// cycling through 2048 pages; `report` gets each as soon as it is
/// measured, so the table grows while the benchmark runs.
fn pairs(high_pages: &[&'static Page], low_pages: &[&'static Page], mut report: impl FnMut(Flavour, bool, bool, Stat)) {
    for flavour in [Flavour::Kmap, Flavour::Atomic, Flavour::Local] {
        for high in [false, true] {
            let pages = if high { high_pages } else { low_pages };
            for cycling in [false, true] {
                let s = if cycling {
                    rounds(|| per_op(2 * CYCLE_PAGES as u64, |i| pair(flavour, pages[i as usize % CYCLE_PAGES])))
                } else {
                    rounds(|| per_op(20_000, |_| pair(flavour, pages[0])))
                };
                report(flavour, high, cycling, s);
            }
        }
    }
}

/// MB/s of copying a page `times` times with `copy`.
fn copy_rate(mut copy: impl FnMut()) -> u64 {
    let s = rounds(|| per_op(4000, |_| copy()));
    // bytes per cycle * cycles per second
    (PAGE_SIZE as u64 * crate::arch::tsc::tsc_khz() * 1000 / s.median.max(1)) >> 20
}

/// Aggregate operations per second with `cpus` CPUs all mapping at once.
fn throughput(cpus: usize, op: fn(usize, &[&'static Page]), pages: &Arc<Vec<&'static Page>>) -> u64 {
    const MS: u64 = 300;
    let go = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..cpus)
        .map(|cpu| {
            let (go, total, pages) = (go.clone(), total.clone(), pages.clone());
            spawn_on(cpu, "bench-tput", move || {
                let mine: Vec<&'static Page> = pages.iter().skip(cpu).step_by(cpus).copied().collect();
                while !go.load(Ordering::SeqCst) {
                    yield_now();
                }
                let end = rdtsc() + crate::arch::tsc::tsc_khz() * MS;
                let mut ops = 0u64;
                while rdtsc() < end {
                    for i in 0..64 {
                        op(i, &mine);
                    }
                    ops += 64;
                }
                total.fetch_add(ops, Ordering::SeqCst);
            })
        })
        .collect();
    go.store(true, Ordering::SeqCst);
    for h in handles {
        h.join();
    }
    total.load(Ordering::SeqCst) * 1000 / MS
}

/// The same loop with no kmap at all: how well two vCPUs scale on this
/// host in the first place (the baseline for the throughput rows).
fn op_compute(i: usize, pages: &[&'static Page]) {
    let mut x = i as u32 ^ pages.len() as u32;
    for _ in 0..40 {
        x = core::hint::black_box(x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223));
    }
    core::hint::black_box(x);
}

fn op_local(_: usize, pages: &[&'static Page]) {
    kunmap_local(kmap_local_page(pages[0]));
}

fn op_kmap_private(_: usize, pages: &[&'static Page]) {
    kmap(pages[0]);
    kunmap(pages[0]);
}

/// Each CPU walks its own share of the pages in turn (2048 pages over the
/// CPUs), so that together they map more pages than the pool holds and it
/// wraps. The next page is the CPU's counter alone: adding the loop index
/// `i` to it (as this once did) stepped by 2 and reached only the even
/// pages, 1024 of them, which fit in 686's 1024-slot pool: that "with
/// pool wraps" row never wrapped in 686 (it did in 686-pae, 512 slots).
fn op_kmap_cycling(_: usize, pages: &[&'static Page]) {
    static NEXT: [AtomicU64; mm::layout::NR_CPUS] = [const { AtomicU64::new(0) }; mm::layout::NR_CPUS];
    let cpu = crate::arch::percpu::raw_smp_processor_id();
    let n = NEXT[cpu].fetch_add(1, Ordering::Relaxed) as usize;
    let p = pages[n % pages.len()];
    kmap(p);
    kunmap(p);
}

/// Context-switch cost when the switching tasks each hold `slots`
/// kmap_local mappings.
fn switch_with_slots(slots: usize, pages: &Arc<Vec<&'static Page>>) -> u64 {
    const ROUNDS_SW: u64 = 4000;
    let out = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (pages, out) = (pages.clone(), out.clone());
            spawn_on(0, "bench-switch", move || {
                let v: Vec<usize> = pages[..slots].iter().map(|p| kmap_local_page(p)).collect();
                let start = rdtsc();
                for _ in 0..ROUNDS_SW {
                    yield_now();
                }
                // Each yield here is two switches: to the other task and back.
                out.fetch_max((rdtsc() - start) / (2 * ROUNDS_SW), Ordering::SeqCst);
                for x in v.into_iter().rev() {
                    kunmap_local(x);
                }
            })
        })
        .collect();
    for h in handles {
        h.join();
    }
    out.load(Ordering::SeqCst)
}

fn nothing(_: usize) {}

/// `bench`: run the benchmarks at boot and leave.
static REQUESTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

crate::early_param!("bench", Flag, "", "run the in-kernel benchmarks, print their table, and exit", |_| {
    REQUESTED.store(true, core::sync::atomic::Ordering::Relaxed);
    Ok(())
});

/// Run the benchmarks and leave QEMU, if the command line asked for them.
pub fn run_if_requested() {
    if REQUESTED.load(core::sync::atomic::Ordering::Relaxed) {
        run_all();
        crate::arch::qemu::exit_qemu(crate::arch::qemu::QemuExitCode::Success);
    }
}

/// Everything, in order, for the runner (the `bench` kernel option): the
/// table and the `bench-json:` lines.
pub fn run_all() {
    run(Report { json: true });
}

/// The console's `bench`: the table alone, in a release build only.
///
/// A debug build (`cfg!(debug_assertions)`, what `./run-qemu.sh` boots by
/// default) takes over eight minutes for what a release build measures in
/// a few seconds, and its figures are the cost of unoptimised code, not of
/// kmap: they are not the benchmark, so it is refused with the command
/// that does run it.
pub fn run_from_console() {
    if cfg!(debug_assertions) {
        println!("bench: this is a debug build: its figures would measure unoptimised code, and take over eight minutes");
        println!("bench: run the benchmark in a release build: ./run-qemu.sh bench (or boot ./run-qemu.sh --release and type bench)");
        return;
    }
    run(Report { json: false });
}

fn run(out: Report) {
    let cpus = num_online_cpus();
    println!("bench: {cpus} CPU(s), TSC {} MHz; figures are TCG costs (the guest TSC follows host time)", crate::arch::tsc::tsc_khz() / 1000);
    println!("bench: flavour {} ({}-byte PTEs, LAST_PKMAP {LAST_PKMAP})", crate::init::KERNEL_FLAVOUR, core::mem::size_of::<pte_t>());
    let Some(first) = highmem_page() else {
        println!("bench: no highmem on this machine (boot with -m 3G)");
        return;
    };
    let mut high = alloc::vec![first];
    high.extend((1..CYCLE_PAGES).map(|_| highmem_page().expect("2048 highmem pages")));
    let low: Vec<&'static Page> = (0..CYCLE_PAGES).map(|_| lowmem_page()).collect();

    crate::mm::kmap::kmap_flush_unused();
    let fl = floor();
    out.pair("floor: PTE write + invlpg", fl, "");
    let (writes, walk) = floor_parts();
    out.pair("floor part: set_pte + pte_clear", writes, "");
    out.pair("floor part: invlpg + read (TLB walk)", walk, "");
    pairs(&high, &low, |flavour, is_high, cycling, s| {
        let name = fmtbuf!(48, "{} {} {}",
            match flavour { Flavour::Kmap => "kmap", Flavour::Atomic => "kmap_atomic", Flavour::Local => "kmap_local" },
            if is_high { "highmem" } else { "lowmem" },
            if cycling { "2048 pages" } else { "one page" });
        let note = if is_high && !matches!(flavour, Flavour::Kmap) {
            fmtbuf!(48, "{}.{:02}x the floor", s.median / fl.median.max(1), s.median * 100 / fl.median.max(1) % 100)
        } else {
            fmtbuf!(48, "")
        };
        out.pair(name.as_str(), s, note.as_str());
    });

    // Steady-state flushes per million kmaps (cycling through 2048 pages).
    let before = pkmap_stats();
    for i in 0..8 * CYCLE_PAGES {
        kmap(high[i % CYCLE_PAGES]);
        kunmap(high[i % CYCLE_PAGES]);
    }
    let after = pkmap_stats();
    let kmaps = (8 * CYCLE_PAGES) as u64;
    out.value("kmap flushes per million kmaps", (after.flushes - before.flushes) * 1_000_000 / kmaps, "",
        fmtbuf!(64, "(cycling 2048 pages; one flush per {LAST_PKMAP} new mappings)").as_str());
    // What one of those flushes costs by itself: the window's TLB flush on
    // every CPU (a whole-TLB flush: the window is more pages than
    // TLB_SINGLE_PAGE_FLUSH_CEILING; with 2 CPUs, an IPI too). Cycling
    // pays it once per LAST_PKMAP new mappings, so 686-pae's 512-slot
    // window pays twice 686's share of it per pair.
    let wrap = rounds(|| per_op(200, |_| {
        crate::smp::flush_tlb_kernel_range(PKMAP_BASE, PKMAP_BASE + LAST_PKMAP * PAGE_SIZE);
    }));
    out.pair("kmap wrap's TLB flush (one)", wrap,
        fmtbuf!(64, "{} ns per kmap when cycling", cycles_to_ns(wrap.median) / LAST_PKMAP as u64).as_str());

    let (h0, h1, l0, l1) = (high[0], high[1], low[0], low[1]);
    let hc = copy_rate(|| copy_highpage(h1, h0));
    let (la, lb) = (page_address(l0).unwrap(), page_address(l1).unwrap());
    // SAFETY: two distinct lowmem pages, ours, in the direct map.
    let lc = copy_rate(|| unsafe { crate::arch::cpu::copy_page(lb as *mut u8, la as *const u8) });
    out.value("copy_highpage highmem->highmem", hc, "MB/s", "");
    out.value("memcpy lowmem->lowmem", lc, "MB/s", "");

    let pages = Arc::new(high.clone());
    for (name, op) in [("compute only (TCG baseline)", op_compute as fn(usize, &[&'static Page])),
                       ("kmap_local private page", op_local),
                       ("kmap private page", op_kmap_private),
                       ("kmap with pool wraps", op_kmap_cycling)] {
        for n in 1..=cpus.min(2) {
            let (wait0, ipis0) = (KMAP_LOCK_WAIT_CYCLES.load(Ordering::Relaxed), TLB_FLUSH_IPIS.load(Ordering::Relaxed));
            let ops = throughput(n, op, &pages);
            let wait_us = cycles_to_ns(KMAP_LOCK_WAIT_CYCLES.load(Ordering::Relaxed) - wait0) / 1000;
            let ipis = TLB_FLUSH_IPIS.load(Ordering::Relaxed) - ipis0;
            let row = fmtbuf!(48, "throughput {name}, {n} CPU");
            out.value(row.as_str(), ops / 1000, "kops/s", fmtbuf!(64, "kmap_lock wait {wait_us} us, {ipis} flush IPIs").as_str());
        }
    }

    for slots in [0, 4, 15] {
        let c = switch_with_slots(slots, &pages);
        out.value(fmtbuf!(48, "context switch, {slots} kmap_local held").as_str(), cycles_to_ns(c), "ns", fmtbuf!(32, "{c} cycles").as_str());
    }

    if cpus >= 2 {
        let s = rounds(|| per_op(2000, |_| smp_call_function_many(1 << 1, nothing, 0)));
        out.pair("IPI round trip (call function)", s, "");
    }
    for p in high.into_iter().chain(low) {
        page_alloc::__free_pages(p, 0);
    }

}
