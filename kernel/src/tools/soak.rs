//! The soak (`soak=SECONDS`, `./run-qemu.sh soak`): everything at once on
//! every CPU for SECONDS, then one line of verdict.
//!
//! ```text
//!  soak=SECONDS soak_seed=S
//!    free pages counted (fuzz::FreeCount: the zero page and the vDSO
//!      taken first, every CPU out of lazy TLB mode), kernel reports counted
//!    the stress test's kmap workers, one per CPU, and its PKMAP hog
//!      (tools/stress.rs: kmap, kmap_atomic, kmap_local on checksummed
//!      highmem pages, and from the timer interrupt)
//!    memory made short: all but 32 MiB of highmem and all but 16 MiB of
//!      lowmem above the reserve held (allocations that never call the
//!      OOM killer), so that the OOM hog gets there in a second or so
//!    loops, each restarting its program when it ends (or is killed):
//!      fuzz     /bin/fuzz --seed S+R --seconds 5 --procs 2, round R
//!      pcsum I  /bin/pcsum /tmp --tag I (I = 0, 1): the page cache
//!               checksummed, its counts in a shared page (survive a kill)
//!      oom      /bin/hog 1024: touches memory until the OOM killer kills
//!               it, again and again; by far the biggest process, so the
//!               OOM killer's choice (Linux's: the most resident pages)
//!      [corrupt soak_corrupt only: the self-test below]
//!    stop: the loops end after their program's current run, the kmap
//!      workers stop and every stress page is checked once more, the
//!      memory held goes back, every process must be gone
//!    free pages counted again (the names the fuzzer made outside its
//!      scratch directories removed, every CPU out of lazy TLB mode, dead
//!      tasks' stacks given back: fuzz::FreeCount::leaked)
//!  soak: stress_ops=N fuzz_calls=N pcsum_ops=N ... (the breakdown)
//!  soak: seconds=N corruptions=N kernel_bugs=N leaked_pages=N oom_kills=N ops=N seed=S
//! ```
//!
//! * `corruptions`: stress pages not holding their pattern, plus pcsum's
//!   bytes or sizes not what it wrote (each printed where it is found:
//!   `stress: page ...`, `pcsum: CORRUPTION file F offset O ...`).
//! * `kernel_bugs`: the kernel's own BUG and WARNING reports during the
//!   run ([`crate::debug::report_count`]) plus the fuzzer's wrong answers
//!   (`wrong=`), as `fuzz=` counts them. An oops or panic ends the boot.
//! * `leaked_pages`: [`super::fuzz::FreeCount`]'s count, the same rules.
//! * `oom_kills`: [`crate::mm::oom_kill::OOM_KILLS`] during the run.
//!   The OOM killer may pick a fuzz or pcsum process too (Linux would, if
//!   it were the biggest): its loop starts it again; no corruption. What
//!   a killed pcsum had found is not lost: its counts are in its stat file.
//! * `ops`: kmap worker operations + fuzz calls + pcsum read-backs.
//!
//! QEMU exits with success only if corruptions, kernel bugs and leaked
//! pages are 0 and no process is left.
//!
//! `soak_corrupt` (a self-test: the soak must notice a corruption): every
//! half second a byte of one of pcsum's files is replaced by its
//! complement from the kernel, behind pcsum's back (`write_at` into the
//! page cache, as a stray kernel write would); pcsum must report it and
//! the run must fail.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::GfpFlags;
use mm::page::Page;

use super::fuzz::{FreeCount, field, live_user_processes, remove_tree};
use crate::mm::page_alloc::{__free_pages, PageHighMem, alloc_pages, min_free_lowmem_pages, node, nr_free_lowmem_pages};
use crate::sched::{msleep, spawn};

static SECONDS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(1);
static CORRUPT: AtomicBool = AtomicBool::new(false);

crate::early_param!("soak", Value, "SECONDS", "run the soak (kmap workers, fuzzer, page-cache checksums, OOM hog at once) for SECONDS, print its summary line, and exit", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).filter(|&s| s > 0).ok_or("a number of seconds")?;
    SECONDS.store(s, Ordering::Relaxed);
    Ok(())
});

crate::early_param!("soak_seed", Value, "N", "the soak's seed (default 1): the fuzzer's and pcsum's", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).ok_or("a number")?;
    SEED.store(s, Ordering::Relaxed);
    Ok(())
});

/// `soak_fault=PCT`: fault injection for the fuzz and pcsum processes.
static FAULT_PERCENT: AtomicU64 = AtomicU64::new(0);

crate::early_param!("soak_fault", Value, "PERCENT", "fault injection for the soak's fuzz and pcsum processes: fail_page_alloc and failslab fail PERCENT of their allocations (0-100; 0: off)", |v| {
    FAULT_PERCENT.store(super::fuzz::parse_percent(v)?, Ordering::Relaxed);
    Ok(())
});

/// Start `path`, marked for fault injection (`make_it_fail`, inherited
/// by its children) once its exec has succeeded when `soak_fault` is on,
/// as the fuzz tool does.
fn spawn_marked(path: &str, args: Vec<Vec<u8>>) -> crate::sched::JoinHandle {
    let on = FAULT_PERCENT.load(Ordering::Relaxed) > 0;
    crate::fs::exec::spawn_user_started(path, args, Vec::new(), move || {
        if on {
            super::fuzz::mark_for_fault_injection();
        }
    })
}

crate::early_param!("soak_corrupt", Flag, "", "the soak's self-test: flip bytes of pcsum's files behind its back (the run must fail)", |_| {
    CORRUPT.store(true, Ordering::Relaxed);
    Ok(())
});

/// Highmem left free while the soak runs (pages): 32 MiB.
const HIGH_KEEP: usize = 32 << 8;
/// Lowmem left free above the reserve (pages): 16 MiB.
const LOW_KEEP: usize = 16 << 8;
/// pcsum processes.
const PCSUM: usize = 2;
/// Fuzz processes per /bin/fuzz run, and one run's length.
const FUZZ_PROCS: usize = 2;
const FUZZ_ROUND_S: u64 = 5;
/// What the OOM hog asks for, MiB: far more than is left.
const HOG_MIB: usize = 1024;

/// Memory taken away for the run (and by tests/oom.rs, to make memory
/// run out on purpose): blocks taken without `__GFP_DIRECT_RECLAIM`, so
/// neither waiting nor calling the OOM killer; given back on drop.
pub(crate) struct Held(Vec<(&'static Page, usize)>);

impl Held {
    /// Take every free highmem page but `high_keep`, then every free
    /// lowmem page but the reserve (`min_free_lowmem_pages`) and
    /// `low_keep`, largest blocks first.
    pub(crate) fn all_but(high_keep: usize, low_keep: usize) -> Held {
        let mut held = Vec::with_capacity(4096);
        for order in (0..=10).rev() {
            while node().nr_free_highpages() >= high_keep + (1 << order) {
                match alloc_pages(GfpFlags::__GFP_HIGHMEM, order) {
                    Some(p) if PageHighMem(p) => held.push((p, order)),
                    Some(p) => {
                        __free_pages(p, order);
                        break;
                    }
                    None => break,
                }
            }
        }
        let keep = min_free_lowmem_pages() + low_keep;
        for order in (0..=10).rev() {
            while nr_free_lowmem_pages() >= keep + (1 << order) {
                match alloc_pages(mm::gfp::GFP_ATOMIC, order) {
                    Some(p) if !PageHighMem(p) => held.push((p, order)),
                    Some(p) => {
                        __free_pages(p, order);
                        break;
                    }
                    None => break,
                }
            }
        }
        Held(held)
    }

    fn pages(&self) -> usize {
        self.0.iter().map(|&(_, o)| 1 << o).sum()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        for &(p, order) in &self.0 {
            __free_pages(p, order);
        }
    }
}

/// What the loops counted.
#[derive(Default)]
struct Counts {
    fuzz_calls: AtomicU64,
    fuzz_wrong: AtomicU64,
    fuzz_runs: AtomicU64,
    /// fuzz runs that ended other than with status 0 and their counts
    /// (killed: the OOM killer's choice, or a panic in the program).
    fuzz_lost: AtomicU64,
    pcsum_ops: AtomicU64,
    pcsum_corruptions: AtomicU64,
    pcsum_errors: AtomicU64,
    pcsum_runs: AtomicU64,
    pcsum_killed: AtomicU64,
    hog_runs: AtomicU64,
    hog_killed: AtomicU64,
    injected: AtomicU64,
}

static COUNTS: spin::Once<Counts> = spin::Once::new();
static STOP: AtomicBool = AtomicBool::new(false);

fn argv(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// SIGKILL every user process called `name` (a killed /bin/fuzz's
/// workers live on in their own process groups).
fn kill_all_named(name: &str) {
    let tasks: Vec<_> = crate::sched::task::ALL_TASKS
        .lock_irqsave()
        .iter()
        .filter(|t| t.signal.is_user() && t.state() != crate::sched::task::TASK_DEAD && t.name() == name)
        .cloned()
        .collect();
    for t in &tasks {
        crate::signal::send_signal(crate::signal::SIGKILL, crate::signal::KSigInfo::default(), t);
    }
}

fn fuzz_loop(seed: u64) {
    let c = COUNTS.get().unwrap();
    let mut round = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        let result = "/tmp/soak.fuzz.result";
        let args = argv(&[
            "/bin/fuzz", "--seed", &alloc::format!("{}", seed.wrapping_add(round)), "--seconds", &alloc::format!("{FUZZ_ROUND_S}"),
            "--procs", &alloc::format!("{FUZZ_PROCS}"), "--result", result,
        ]);
        let status = spawn_marked("/bin/fuzz", args).join();
        c.fuzz_runs.fetch_add(1, Ordering::Relaxed);
        let text = super::fuzz::read_file(result).map(|b| String::from_utf8_lossy(&b).into_owned());
        let _ = crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), result);
        match text.as_deref().and_then(|t| Some((field(t, "calls")?, field(t, "wrong")?))) {
            Some((calls, wrong)) if status & 0x7f == 0 => {
                c.fuzz_calls.fetch_add(calls, Ordering::Relaxed);
                c.fuzz_wrong.fetch_add(wrong, Ordering::Relaxed);
            }
            _ => {
                println!("soak: fuzz run {round} ended with status {status:#x} and no counts: started again");
                c.fuzz_lost.fetch_add(1, Ordering::Relaxed);
                kill_all_named("fuzz");
                msleep(100);
                remove_tree("/tmp/fuzz.shm");
                for i in 0..FUZZ_PROCS {
                    remove_tree(&alloc::format!("/tmp/fuzz{i}"));
                }
            }
        }
        round += 1;
    }
}

/// pcsum's counts in its stat file: magic, ops, corruptions, errors.
fn pcsum_stat(path: &str) -> Option<(u64, u64, u64)> {
    let b = super::fuzz::read_file(path)?;
    let w = |i: usize| b.get(4 * i..4 * i + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap()) as u64);
    (w(0)? == 0x7063_7375).then(|| Some((w(1)?, w(2)?, w(3)?)))?
}

fn pcsum_loop(tag: usize, seed: u64) {
    let c = COUNTS.get().unwrap();
    let stat = alloc::format!("/tmp/soak.pcsum{tag}.stat");
    let mut round = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        let args = argv(&[
            "/bin/pcsum", "/tmp", "--seconds", "5", "--seed", &alloc::format!("{}", seed.wrapping_mul(1000).wrapping_add(round * 10 + tag as u64)),
            "--tag", &alloc::format!("{tag}"), "--stat", &stat,
        ]);
        let status = spawn_marked("/bin/pcsum", args).join();
        c.pcsum_runs.fetch_add(1, Ordering::Relaxed);
        if status & 0x7f == crate::signal::SIGKILL {
            c.pcsum_killed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((ops, corruptions, errors)) = pcsum_stat(&stat) {
            c.pcsum_ops.fetch_add(ops, Ordering::Relaxed);
            c.pcsum_corruptions.fetch_add(corruptions, Ordering::Relaxed);
            c.pcsum_errors.fetch_add(errors, Ordering::Relaxed);
        }
        let _ = crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), &stat);
        remove_tree(&alloc::format!("/tmp/pcsum.{tag}.d"));
        round += 1;
    }
}

fn hog_loop() {
    let c = COUNTS.get().unwrap();
    while !STOP.load(Ordering::Relaxed) {
        let status = crate::fs::exec::spawn_user("/bin/hog", argv(&["hog", &alloc::format!("{HOG_MIB}")]), Vec::new()).join();
        c.hog_runs.fetch_add(1, Ordering::Relaxed);
        if status & 0x7f == crate::signal::SIGKILL {
            c.hog_killed.fetch_add(1, Ordering::Relaxed);
        }
        // The others get memory between two hogs.
        msleep(300);
    }
}

/// `soak_corrupt`: complement one byte of one of pcsum 0's files, through
/// the page cache, every half second.
fn corrupt_loop() {
    let c = COUNTS.get().unwrap();
    let mut k = 0usize;
    while !STOP.load(Ordering::Relaxed) {
        msleep(500);
        k += 1;
        let Some(inode) = crate::fs::lookup(&alloc::format!("/tmp/pcsum.0.d/f{}", k % 3)) else { continue };
        let size = crate::fs::size(&inode);
        if size == 0 {
            continue;
        }
        let off = (k * 7919) % size;
        let mut b = [0u8; 1];
        if crate::fs::read_at(&inode, off, &mut b) == 1 && inode.write_at(off, &[!b[0]]).is_ok() {
            c.injected.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Wait up to 10 s for every user process to be gone (the last SIGKILLed
/// ones a moment to die); how many are left.
fn wait_for_no_processes() -> usize {
    let mut left = live_user_processes();
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        msleep(100);
        left = live_user_processes();
    }
    left
}

/// Run the soak if the command line asked for it (never returns then).
pub fn run_if_requested() {
    match SECONDS.load(Ordering::Relaxed) {
        0 => {}
        seconds => run(seconds, SEED.load(Ordering::Relaxed)),
    }
}

/// Run for `seconds`, print the closing line, leave QEMU.
pub fn run(seconds: u64, seed: u64) -> ! {
    use crate::arch::qemu::{QemuExitCode, exit_qemu};
    let cpus = crate::smp::num_online_cpus();
    println!(
        "soak: {seconds} s on {cpus} CPU(s), seed {seed}: {cpus} kmap workers + PKMAP hog, /bin/fuzz ({FUZZ_PROCS} processes), {PCSUM} pcsum, OOM hog{}",
        if CORRUPT.load(Ordering::Relaxed) { ", soak_corrupt (the self-test: this run must fail)" } else { "" }
    );
    let mut count = FreeCount::now();
    let percent = FAULT_PERCENT.load(Ordering::Relaxed);
    let forced_before = super::fuzz::fault_injection_forced();
    if percent > 0 {
        match super::fuzz::set_fault_injection(percent) {
            Ok(()) => println!("soak: fault injection on for the fuzz and pcsum processes: fail_page_alloc and failslab at {percent}%"),
            Err(e) => println!("soak: fault injection could not be set: {e}"),
        }
    }
    let bugs_before = crate::debug::report_count();
    let vmalloc_before = crate::mm::vmalloc::vmalloc_info();
    let oom_before = crate::mm::oom_kill::OOM_KILLS.load(Ordering::SeqCst);
    let c = COUNTS.call_once(Counts::default);

    let stress = super::stress::start(cpus);
    let held = Held::all_but(HIGH_KEEP, LOW_KEEP);
    println!("soak: {} MiB held for the run; free: {} MiB highmem, {} MiB lowmem (reserve {} MiB)",
        held.pages() >> 8, node().nr_free_highpages() >> 8, nr_free_lowmem_pages() >> 8, min_free_lowmem_pages() >> 8);

    let mut loops = Vec::new();
    loops.push(spawn("soak-fuzz", move || fuzz_loop(seed)));
    for tag in 0..PCSUM {
        loops.push(spawn("soak-pcsum", move || pcsum_loop(tag, seed)));
    }
    loops.push(spawn("soak-oom", hog_loop));
    if CORRUPT.load(Ordering::Relaxed) {
        loops.push(spawn("soak-corrupt", corrupt_loop));
    }

    // Timed by the TSC, as the log's timestamps and the programs' clocks
    // are: under TCG on a loaded host, timer ticks come late and jiffies
    // fall behind.
    let start = crate::arch::cpu::rdtsc();
    let elapsed_s = || crate::arch::tsc::cycles_to_ns(crate::arch::cpu::rdtsc() - start) / 1_000_000_000;
    let mut last = 0;
    while elapsed_s() < seconds {
        msleep(100);
        let elapsed = elapsed_s();
        if elapsed >= last + 10 {
            last = elapsed;
            let (kmap_ops, kmap_bad) = super::stress::progress();
            println!(
                "soak: {elapsed} s: kmap_ops={kmap_ops} fuzz_calls={} pcsum_ops={} corruptions={} oom_kills={}",
                c.fuzz_calls.load(Ordering::Relaxed), c.pcsum_ops.load(Ordering::Relaxed),
                kmap_bad + c.pcsum_corruptions.load(Ordering::Relaxed),
                crate::mm::oom_kill::OOM_KILLS.load(Ordering::SeqCst) - oom_before
            );
        }
    }
    STOP.store(true, Ordering::SeqCst);
    for l in loops {
        l.join();
    }
    let kmap = stress.stop();
    drop(held);

    let left = wait_for_no_processes();
    if percent > 0 {
        let _ = super::fuzz::set_fault_injection(0);
        let now = super::fuzz::fault_injection_forced();
        println!("soak: fault injection forced {} page allocation failure(s) and {} heap allocation failure(s)", now.0 - forced_before.0, now.1 - forced_before.1);
    }
    // The stress test's page table stays allocated for the boot: its own.
    let leak = count.leaked(super::stress::state_pages_kept());
    let (leaked, heap_grew) = (leak.pages, leak.heap_grew);
    let leaked = leaked + kmap.pkmap_in_use;
    let reported = (crate::debug::report_count() - bugs_before) as u64;
    let vmalloc_after = crate::mm::vmalloc::vmalloc_info();
    let oom_kills = crate::mm::oom_kill::OOM_KILLS.load(Ordering::SeqCst) - oom_before;

    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let corruptions = kmap.corruptions + ld(&c.pcsum_corruptions);
    let kernel_bugs = reported + ld(&c.fuzz_wrong);
    let ops = kmap.ops + ld(&c.fuzz_calls) + ld(&c.pcsum_ops);
    println!(
        "soak: kmap_ops={} (irq {}, verified_bytes {}, kmap_corruptions {}, max_kmap_wait_us {}) fuzz_calls={} (runs {}, lost {}, wrong {}) \
         pcsum_ops={} (runs {}, killed {}, corruptions {}, errors {}) hog_runs={} (killed {}) kernel_reports={reported} \
         processes_left={left} heap_grew={heap_grew} vmalloc_areas={}->{} ({}->{} bytes) injected={}",
        kmap.ops, kmap.irq_ops, kmap.verified, kmap.corruptions, kmap.max_kmap_wait_ns / 1000,
        ld(&c.fuzz_calls), ld(&c.fuzz_runs), ld(&c.fuzz_lost), ld(&c.fuzz_wrong),
        ld(&c.pcsum_ops), ld(&c.pcsum_runs), ld(&c.pcsum_killed), ld(&c.pcsum_corruptions), ld(&c.pcsum_errors),
        ld(&c.hog_runs), ld(&c.hog_killed),
        vmalloc_before.nr_areas, vmalloc_after.nr_areas, vmalloc_before.used_bytes, vmalloc_after.used_bytes, ld(&c.injected),
    );
    println!("soak: seconds={seconds} corruptions={corruptions} kernel_bugs={kernel_bugs} leaked_pages={leaked} oom_kills={oom_kills} ops={ops} seed={seed}");
    let ok = corruptions == 0 && kernel_bugs == 0 && leaked == 0 && left == 0;
    exit_qemu(if ok { QemuExitCode::Success } else { QemuExitCode::Failed })
}
