//! The stress test (`stress=SECONDS` kernel option, `./run-qemu.sh stress`):
//! every flavour of kmap at once, from tasks on every CPU and from the
//! timer interrupt, over highmem pages whose contents are checksummed.
//!
//! ```text
//!  hog task        holds LAST_PKMAP - 4 kmap()s, churning a few: the pool
//!                  stays near exhaustion, so kmap() callers sleep and wake
//!  worker tasks    (2 per CPU, migratable, 1-tick time slice) loop:
//!                    take 1..=6 random free stress pages (exclusively)
//!                    map at most one with kmap() (may sleep), then the rest
//!                      nested with a random mix of kmap_local and kmap_atomic
//!                    verify every word of every page, write a new pattern
//!                    unmap in reverse order, release the pages
//!  timer interrupt every 8th tick on each CPU: take a free stress page,
//!                  kmap_local it, verify it, unmap it
//! ```
//!
//! A page's contents are a function of its seed, so every byte can be
//! checked. At the end it prints one line
//! `stress: ops=N verified_bytes=N corruptions=N leaked_pages=N max_kmap_wait_us=N`
//! and QEMU exits with failure if anything was corrupted or leaked.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::{GFP_HIGHUSER, GFP_KERNEL};
use mm::layout::{LAST_PKMAP, PAGE_SIZE};
use mm::page::Page;
use spin::Once;

use crate::arch::cpu::rdtsc;
use crate::arch::percpu::raw_smp_processor_id;
use crate::arch::tsc::cycles_to_ns;
use crate::mm::kmap::{kmap, kunmap};
use crate::mm::kmap_atomic::{kmap_atomic, kunmap_atomic};
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc;
use crate::sched::{msleep, spawn};

/// Stress pages (besides the hog's).
const NR_PAGES: usize = 2048;
/// Deepest nesting a worker uses (kmap + local/atomic together).
const MAX_DEPTH: usize = 6;
const WORDS: usize = PAGE_SIZE / 4;

struct StressPage {
    page: &'static Page,
    seed: AtomicU32,
    busy: AtomicBool,
}

struct State {
    pages: Vec<StressPage>,
    stop: AtomicBool,
    ops: AtomicU64,
    verified: AtomicU64,
    corruptions: AtomicU64,
    irq_ops: AtomicU64,
    max_kmap_wait: AtomicU64,
}

static STATE: Once<State> = Once::new();
static ACTIVE: AtomicBool = AtomicBool::new(false);

fn word(seed: u32, i: usize) -> u32 {
    seed ^ (i as u32).wrapping_mul(0x9e37_79b9)
}

/// xorshift32.
fn next(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

impl State {
    fn try_take(&self, i: usize) -> bool {
        self.pages[i].busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    fn release(&self, i: usize) {
        self.pages[i].busy.store(false, Ordering::Release);
    }

    /// Check every word of page `i` mapped at `v`; count what is wrong.
    fn verify(&self, i: usize, v: usize) {
        let seed = self.pages[i].seed.load(Ordering::Relaxed);
        // SAFETY: v maps page i for PAGE_SIZE bytes, and we own the page.
        let words = unsafe { core::slice::from_raw_parts(v as *const u32, WORDS) };
        let bad = words.iter().enumerate().filter(|&(n, &w)| w != word(seed, n)).count();
        if bad > 0 {
            self.corruptions.fetch_add(1, Ordering::Relaxed);
            log::error!("stress: page {i} (pfn {:#x}) has {bad} wrong words", page_alloc::page_to_pfn(self.pages[i].page));
        }
        self.verified.fetch_add(PAGE_SIZE as u64, Ordering::Relaxed);
    }

    fn rewrite(&self, i: usize, v: usize, seed: u32) {
        // SAFETY: as in verify; we own the page, so writing is ours to do.
        let words = unsafe { core::slice::from_raw_parts_mut(v as *mut u32, WORDS) };
        for (n, w) in words.iter_mut().enumerate() {
            *w = word(seed, n);
        }
        self.pages[i].seed.store(seed, Ordering::Relaxed);
    }
}

/// One worker operation: take pages, map them in every flavour, verify,
/// rewrite, unmap in reverse.
fn worker_op(st: &State, rng: &mut u32) {
    let depth = 1 + next(rng) as usize % MAX_DEPTH;
    let mut taken = [usize::MAX; MAX_DEPTH];
    let mut n = 0;
    for _ in 0..depth * 4 {
        let i = next(rng) as usize % NR_PAGES;
        if n < depth && st.try_take(i) {
            taken[n] = i;
            n += 1;
        }
    }
    // kmap() may sleep, so it comes first; then a stack of kmap_local and
    // kmap_atomic (no sleeping inside an atomic one). At most ONE kmap():
    // a task that holds kmaps while it sleeps waiting for another can
    // deadlock with others doing the same once the pool is full, the
    // "prone to deadlocks when used in a nested fashion" of Linux's old
    // highmem documentation. (An earlier version of this test nested up to
    // six and, pool nearly full, deadlocked after five minutes.)
    let nr_kmap = (next(rng) as usize % 2).min(n);
    let mut addrs = [0usize; MAX_DEPTH];
    let mut atomic = [false; MAX_DEPTH];
    for k in 0..n {
        let page = st.pages[taken[k]].page;
        addrs[k] = if k < nr_kmap {
            let start = rdtsc();
            let v = kmap(page);
            st.max_kmap_wait.fetch_max(rdtsc() - start, Ordering::Relaxed);
            v
        } else if next(rng) & 1 == 0 {
            atomic[k] = true;
            kmap_atomic(page)
        } else {
            kmap_local_page(page)
        };
    }
    for k in 0..n {
        st.verify(taken[k], addrs[k]);
        st.rewrite(taken[k], addrs[k], next(rng));
    }
    for k in (0..n).rev() {
        if k < nr_kmap {
            kunmap(st.pages[taken[k]].page);
        } else if atomic[k] {
            kunmap_atomic(addrs[k]);
        } else {
            kunmap_local(addrs[k]);
        }
        st.release(taken[k]);
    }
    st.ops.fetch_add(1, Ordering::Relaxed);
}

/// From the timer interrupt, on every CPU: verify a page through
/// kmap_local on top of whatever the interrupted task has mapped.
pub fn timer_tick(ticks: u64) {
    if !ACTIVE.load(Ordering::Relaxed) || !ticks.is_multiple_of(8) {
        return;
    }
    let Some(st) = STATE.get() else { return };
    let i = (ticks as usize).wrapping_mul(2_654_435_761).wrapping_add(raw_smp_processor_id() * 977) % NR_PAGES;
    if !st.try_take(i) {
        return;
    }
    let v = kmap_local_page(st.pages[i].page);
    st.verify(i, v);
    kunmap_local(v);
    st.release(i);
    st.irq_ops.fetch_add(1, Ordering::Relaxed);
}

fn any_page() -> &'static Page {
    page_alloc::alloc_pages(GFP_HIGHUSER, 0)
        .or_else(|| page_alloc::alloc_pages(GFP_KERNEL, 0))
        .expect("memory for the stress pages")
}

fn free_pages_total() -> usize {
    page_alloc::zones().map(|z| z.nr_free_pages()).sum()
}

/// `stress=SECONDS`: how long the command line asked the stress test to
/// run (0: not asked).
static SECONDS: AtomicU64 = AtomicU64::new(0);

crate::early_param!("stress", Value, "SECONDS", "run the kmap stress test for SECONDS, print its summary line, and exit", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).filter(|&s| s > 0).ok_or("a number of seconds")?;
    SECONDS.store(s, Ordering::Relaxed);
    Ok(())
});

/// Run the stress test if the command line asked for it (never returns
/// then).
pub fn run_if_requested() {
    match SECONDS.load(Ordering::Relaxed) {
        0 => {}
        seconds => run(seconds),
    }
}

/// The kmap workers and the PKMAP hog, running: see [`start`]. The soak
/// (`tools/soak.rs`) runs them beside its user programs.
pub struct Running {
    hog: crate::sched::JoinHandle,
    handles: Vec<crate::sched::JoinHandle>,
    hog_pages: Arc<Vec<&'static Page>>,
}

/// What the workers did, from [`Running::stop`].
pub struct Counts {
    /// Worker operations plus interrupt-handler checks.
    pub ops: u64,
    /// Of those, from the timer interrupt.
    pub irq_ops: u64,
    /// Bytes checked against their pattern.
    pub verified: u64,
    /// Pages found not holding their pattern.
    pub corruptions: u64,
    /// The longest a kmap() waited for a slot, in ns.
    pub max_kmap_wait_ns: u64,
    /// PKMAP slots still in use after everything was unmapped (a leak).
    pub pkmap_in_use: usize,
    /// PKMAP slots unmapped but not yet flushed at the end.
    pub pkmap_unflushed: usize,
}

/// Operations and corruptions so far (0, 0 before [`start`]).
pub fn progress() -> (u64, u64) {
    STATE.get().map_or((0, 0), |st| (st.ops.load(Ordering::Relaxed), st.corruptions.load(Ordering::Relaxed)))
}

/// Pages the kernel heap holds for good once [`start`] has run: the
/// state's page table (`Vec<StressPage>`, in a `Once`, read by the timer
/// interrupt lock-free, so never freed), a large kmalloc allocation of
/// whole pages (mm::kmalloc: over 2 KiB). A leak count that spans a
/// `start` (the soak's) gives these to the stress test.
pub fn state_pages_kept() -> usize {
    STATE.get().map_or(0, |st| {
        let bytes = st.pages.capacity() * core::mem::size_of::<StressPage>();
        if bytes > mm::kmalloc::KMALLOC_MAX_CACHE_SIZE { 1 << mm::buddy::get_order(bytes) } else { 0 }
    })
}

/// Fill [`NR_PAGES`] checksummed pages (highmem first), start the PKMAP
/// hog and `workers` worker tasks, and turn on the timer-interrupt checks.
/// Once per boot (the state is set once).
pub fn start(workers: usize) -> Running {
    let pages: Vec<StressPage> = (0..NR_PAGES)
        .map(|i| {
            let page = any_page();
            let sp = StressPage { page, seed: AtomicU32::new(0), busy: AtomicBool::new(false) };
            let v = kmap(page);
            let seed = (i as u32).wrapping_mul(0x0101_0101) | 1;
            // SAFETY: kmapped page, ours.
            let words = unsafe { core::slice::from_raw_parts_mut(v as *mut u32, WORDS) };
            for (n, w) in words.iter_mut().enumerate() {
                *w = word(seed, n);
            }
            sp.seed.store(seed, Ordering::Relaxed);
            kunmap(page);
            sp
        })
        .collect();
    STATE.call_once(|| State {
        pages,
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        verified: AtomicU64::new(0),
        corruptions: AtomicU64::new(0),
        irq_ops: AtomicU64::new(0),
        max_kmap_wait: AtomicU64::new(0),
    });

    // The hog: keeps all but 4 PKMAP slots in use, churning a few, so that
    // workers' kmap() calls regularly find the pool full and sleep.
    const HELD: usize = LAST_PKMAP - 4;
    let hog_pages: Arc<Vec<&'static Page>> = Arc::new((0..HELD + 64).map(|_| any_page()).collect());
    let hp = hog_pages.clone();
    let hog = spawn("stress-hog", move || {
        let st = STATE.get().unwrap();
        let held = HELD;
        for p in hp.iter().take(held) {
            kmap(p);
        }
        let mut rng = 0x1234_5678u32;
        let mut k = 0;
        while !st.stop.load(Ordering::Relaxed) {
            // Swap one held page for a spare, so slots keep being released
            // (waking sleepers) and taken.
            let out = next(&mut rng) as usize % held;
            kunmap(hp[out]);
            kmap(hp[held + k % 64]);
            kunmap(hp[held + k % 64]);
            kmap(hp[out]);
            k += 1;
            msleep(1);
        }
        for p in hp.iter().take(held) {
            kunmap(p);
        }
    });

    let handles: Vec<_> = (0..workers)
        .map(|w| {
            spawn("stress-worker", move || {
                let st = STATE.get().unwrap();
                let mut rng = 0x9e37_79b9u32.wrapping_mul(w as u32 + 1) | 1;
                while !st.stop.load(Ordering::Relaxed) {
                    worker_op(st, &mut rng);
                }
            })
        })
        .collect();
    ACTIVE.store(true, Ordering::SeqCst);
    Running { hog, handles, hog_pages }
}

impl Running {
    /// Stop the workers and the hog, check every page one last time, and
    /// free them all.
    pub fn stop(self) -> Counts {
        let st = STATE.get().unwrap();
        ACTIVE.store(false, Ordering::SeqCst);
        st.stop.store(true, Ordering::SeqCst);
        for h in self.handles {
            h.join();
        }
        self.hog.join();

        // Every stress page must come back intact; then everything is
        // freed (the caller counts the free pages).
        for i in 0..NR_PAGES {
            let v = kmap(st.pages[i].page);
            st.verify(i, v);
            kunmap(st.pages[i].page);
        }
        let (_, unflushed, in_use) = crate::mm::kmap::pkmap_census();
        crate::mm::kmap::kmap_flush_unused();
        for sp in &st.pages {
            page_alloc::__free_pages(sp.page, 0);
        }
        for p in self.hog_pages.iter() {
            page_alloc::__free_pages(p, 0);
        }
        Counts {
            ops: st.ops.load(Ordering::Relaxed) + st.irq_ops.load(Ordering::Relaxed),
            irq_ops: st.irq_ops.load(Ordering::Relaxed),
            verified: st.verified.load(Ordering::Relaxed),
            corruptions: st.corruptions.load(Ordering::Relaxed),
            max_kmap_wait_ns: cycles_to_ns(st.max_kmap_wait.load(Ordering::Relaxed)),
            pkmap_in_use: in_use,
            pkmap_unflushed: unflushed,
        }
    }
}

/// Run for `seconds`, print the summary line, leave QEMU.
pub fn run(seconds: u64) -> ! {
    use crate::arch::qemu::{QemuExitCode, exit_qemu};
    let cpus = crate::smp::num_online_cpus();
    let workers = 2 * cpus;
    crate::sched::core::set_timeslice(1);
    println!("stress: {seconds} s on {cpus} CPU(s), {workers} workers, {NR_PAGES} checksummed pages, kmap pool near exhaustion, 1-tick slices");

    let before = free_pages_total();
    let heap_before = crate::mm::heap::KMALLOC.slab_pages();
    let running = start(workers);
    let start = rdtsc();
    let mut last_report = 0;
    while crate::sched::core::jiffies() < seconds * crate::sched::core::HZ + 2 * crate::sched::core::HZ || cycles_to_ns(rdtsc() - start) < seconds * 1_000_000_000 {
        msleep(100);
        let elapsed = cycles_to_ns(rdtsc() - start) / 1_000_000_000;
        if elapsed >= seconds {
            break;
        }
        if elapsed >= last_report + 30 {
            last_report = elapsed;
            let (ops, corruptions) = progress();
            println!("stress: {elapsed} s: ops={ops} corruptions={corruptions}");
        }
    }
    let c = running.stop();
    crate::sched::task::reap_dead_stacks();
    let after = free_pages_total();
    // The heap keeps the slab pages it grew into meanwhile (see
    // mm::kmalloc: task structures, wait-queue entries), and the state's
    // page table stays: neither is a leak.
    let heap_grew = crate::mm::heap::KMALLOC.slab_pages().saturating_sub(heap_before);
    let leaked = before.saturating_sub(after).saturating_sub(heap_grew).saturating_sub(state_pages_kept());
    println!(
        "stress: ops={} verified_bytes={} corruptions={} leaked_pages={} max_kmap_wait_us={}",
        c.ops,
        c.verified,
        c.corruptions,
        leaked + c.pkmap_in_use,
        c.max_kmap_wait_ns / 1000
    );
    println!("stress: {} from interrupt handlers; {} kmap callers slept for a slot; PKMAP at the end: {} in use, {} unflushed",
        c.irq_ops, crate::mm::kmap::pkmap_stats().waits, c.pkmap_in_use, c.pkmap_unflushed);
    let ok = c.corruptions == 0 && leaked == 0 && c.pkmap_in_use == 0;
    exit_qemu(if ok { QemuExitCode::Success } else { QemuExitCode::Failed })
}
