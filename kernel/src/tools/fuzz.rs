//! The system-call fuzzer's run (`fuzz=SECONDS`, `./run-qemu.sh fuzz`):
//! the user program `/bin/fuzz` (user/src/bin/fuzz.rs) from the
//! initramfs, then the kernel's own verdict.
//!
//! ```text
//!  fuzz=SECONDS fuzz_seed=S fuzz_procs=P
//!    free pages counted, BUG/WARNING reports counted
//!    /bin/fuzz --seed S --seconds SECONDS --procs P --result /tmp/fuzz.result
//!    wait for it, then for every process it left (none should outlive it:
//!      it SIGKILLs its workers' process groups and reaps them)
//!    read its counts from /tmp/fuzz.result, remove that file and any
//!      scratch directory /tmp/fuzzI the program did not remove
//!    count free pages again
//!  fuzz: calls=N errors=N kernel_bugs=N leaked_pages=N seed=S
//! ```
//!
//! `calls` and `errors` are the program's (errors: calls that returned a
//! negative errno), passed through a file because the program's stdout
//! is the console, which the kernel does not read back. `kernel_bugs` is
//! what the kernel itself reported during the run through
//! [`crate::debug::report_bug`] (its BUG and WARNING reports), plus the
//! answers the program knew to be wrong (`wrong=`, e.g. a number without
//! a call that did not give `-ENOSYS`). An oops or a panic ends the boot
//! instead (the panic handler leaves QEMU with a failure), which
//! `./run-qemu.sh fuzz` reports with the seed and the log's last lines.
//!
//! When pages leaked, each frame that was free before and is not now is
//! named (count, flags, first bytes; the kernel heap's own new pages show
//! too, as lowmem frames full of kernel pointers): see `name_leaked_frames`.
//!
//! `leaked_pages`: free pages before the program started minus free pages
//! after everything it made is gone, less what may honestly stay:
//!
//! * the kernel heap's small-object pages (`KMALLOC.pages_held()`, a
//!   high-water mark: the heap keeps pages it grew into for task
//!   structures, file tables, dentries, and gives them back to nobody);
//! * nothing for the page cache: every file the program wrote is in its
//!   scratch directory, removed before the count, and files outside it are
//!   only ever opened read-only; ramfs holds an initramfs file's pages from
//!   unpacking on, so reading them adds none;
//! * dead tasks' kernel stacks are freed first (`reap_dead_stacks`) and
//!   unused PKMAP slots flushed, so neither counts;
//! * what the kernel allocates once and keeps: a one-second warm-up run
//!   of the fuzzer (another seed) comes before the first count. It takes
//!   the shared zero page and the vDSO page, and 3-4 pages more that the
//!   first file I/O of a boot costs and that are not identified yet (a
//!   second run in the same boot loses none of them).
//!
//! The heap's live objects are printed but not judged: `bytes in use`
//! grows by about 100 KiB per 5 s of fuzzing (per forked process, it
//! seems) and does not come back: a suspected leak of kmalloc objects,
//! open.
//!
//! Anything else missing is a leak: the run fails.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::mm::page_alloc;

static SECONDS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(1);
static PROCS: AtomicU64 = AtomicU64::new(4);

crate::early_param!("fuzz", Value, "SECONDS", "run /bin/fuzz (the system-call fuzzer) for SECONDS, print its summary line, and exit", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).filter(|&s| s > 0).ok_or("a number of seconds")?;
    SECONDS.store(s, Ordering::Relaxed);
    Ok(())
});

crate::early_param!("fuzz_seed", Value, "N", "the fuzzer's seed (default 1)", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).ok_or("a number")?;
    SEED.store(s, Ordering::Relaxed);
    Ok(())
});

crate::early_param!("fuzz_procs", Value, "N", "how many fuzzer processes (default 4)", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).filter(|&s| (1..=32).contains(&s)).ok_or("a number from 1 to 32")?;
    PROCS.store(s, Ordering::Relaxed);
    Ok(())
});

static REPLAY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

crate::early_param!("fuzz_replay", Flag, "", "the fuzzer prints every call it makes (fuzz --replay)", |_| {
    REPLAY.store(true, Ordering::Relaxed);
    Ok(())
});

/// `fuzz_kinds=LO-HI`: only those kinds of call (the program's `--kinds`,
/// to narrow down which kind a failure needs).
/// (Kept as LO << 8 | HI + 1, 0 for all: options are parsed before the
/// heap exists.)
static KINDS: AtomicU64 = AtomicU64::new(0);

crate::early_param!("fuzz_kinds", Value, "LO-HI", "the fuzzer draws only the kinds of call LO to HI (of 0-99; fuzz --kinds)", |v| {
    let (lo, hi) = v
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .filter(|&(lo, hi)| lo <= hi && hi <= 99)
        .ok_or("LO-HI of 0-99, e.g. 41-44")?;
    KINDS.store(lo << 8 | (hi + 1), Ordering::Relaxed);
    Ok(())
});

/// Where the program leaves its counts.
const RESULT: &str = "/tmp/fuzz.result";

pub fn free_pages_total() -> usize {
    page_alloc::zones().map(|z| z.nr_free_pages()).sum()
}

/// Which frames are free now: one bit a pfn, set for every page of every
/// free buddy block (a block's head has `PG_buddy` and its order). Read
/// without the zone locks: a debugging snapshot, exact only while nothing
/// else allocates (true here: every fuzz process is gone).
fn free_frames(bits: &mut [u64]) {
    bits.fill(0);
    for zone in page_alloc::zones() {
        let mut pfn = zone.zone_start_pfn();
        while pfn < zone.zone_end_pfn() {
            let page = page_alloc::pfn_to_page(pfn);
            if page.page_buddy() {
                let n = 1usize << page.page_order();
                for f in pfn..(pfn + n).min(zone.zone_end_pfn()) {
                    if let Some(w) = bits.get_mut(f / 64) {
                        *w |= 1 << (f % 64);
                    }
                }
                pfn += n;
            } else {
                pfn += 1;
            }
        }
    }
}

/// Name the frames that were free before the run and are not now: what a
/// leaked page is (its count, flags, zone, order or private word, kernel
/// address if kmapped, and its first bytes), so that a leak can be traced
/// to its owner. At most `max` of them.
fn name_leaked_frames(before: &[u64], now: &[u64], max: usize) {
    let mut shown = 0;
    for (i, (&b, &n)) in before.iter().zip(now).enumerate() {
        let mut gone = b & !n;
        while gone != 0 && shown < max {
            let pfn = i * 64 + gone.trailing_zeros() as usize;
            gone &= gone - 1;
            let page = page_alloc::pfn_to_page(pfn);
            let v = crate::mm::kmap_local::kmap_local_page(page);
            let mut head = [0u8; 16];
            // SAFETY: v maps the whole page for the copy.
            unsafe { core::ptr::copy_nonoverlapping(v as *const u8, head.as_mut_ptr(), head.len()) };
            crate::mm::kmap_local::kunmap_local(v);
            println!(
                "fuzz: frame pfn {pfn:#x} no longer free: count {}, flags {:?}, private {}, virtual {:#x}, first bytes {head:02x?}",
                page.page_count(), page.flags(), page.page_order(), page.page_virtual()
            );
            shown += 1;
        }
    }
}

/// User processes that have not ended yet (zombies included: a zombie
/// still holds its task structure until it is reaped).
pub fn live_user_processes() -> usize {
    crate::sched::task::ALL_TASKS
        .lock_irqsave()
        .iter()
        .filter(|t| t.signal.is_user() && t.state() != crate::sched::task::TASK_DEAD)
        .count()
}

/// Remove `path` and everything under it (the scratch directories, if the
/// program did not get to it); how many names were removed.
pub fn remove_tree(path: &str) -> usize {
    let base = crate::fs::rootfs().base();
    if crate::fs::namei::do_unlinkat(&base, path).is_ok() {
        return 1;
    }
    let Some(dir) = crate::fs::lookup(path) else { return 0 };
    let mut n = 0;
    if dir.is_dir() {
        for e in crate::fs::readdir(&dir) {
            if e.name != "." && e.name != ".." {
                n += remove_tree(&alloc::format!("{path}/{}", e.name));
            }
        }
        if crate::fs::namei::do_rmdir(&base, path).is_ok() {
            n += 1;
        }
    }
    n
}

/// `key=N` in `text`.
pub fn field(text: &str, key: &str) -> Option<u64> {
    text.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Run the fuzzer if the command line asked for it (never returns then).
pub fn run_if_requested() {
    match SECONDS.load(Ordering::Relaxed) {
        0 => {}
        seconds => run(seconds, SEED.load(Ordering::Relaxed), PROCS.load(Ordering::Relaxed) as usize),
    }
}

/// Run `/bin/fuzz`, print the summary line, leave QEMU (success only with
/// no kernel bug, no leak and the program's counts read).
pub fn run(seconds: u64, seed: u64, procs: usize) -> ! {
    println!("fuzz: /bin/fuzz for {seconds} s, seed {seed}, {procs} processes, on {} CPU(s)", crate::smp::num_online_cpus());
    warm_up(seed);
    run_counted(seconds, seed, procs)
}

/// What the kernel allocates once and keeps, taken before a run's free
/// pages are counted (the soak, tools/soak.rs, does the same).
pub fn warm_up(seed: u64) {
    // A warm-up: the fuzzer itself for a second (another seed, two
    // processes), so that what the kernel allocates once and keeps for
    // good is not counted as the run's leak: the shared zero page and the
    // vDSO page (the first user process ever), and 3-4 pages more that
    // the first file reads and writes of a boot cost (kinds 70-99 and
    // 21-30; a second run in the same boot loses none). Those 3-4 are not
    // identified yet (see the fuzz branch's report): a leak that happens
    // once per boot would hide among them.
    let warm_argv: Vec<Vec<u8>> = ["/bin/fuzz", "--seed", &alloc::format!("{}", seed ^ 0x5a5a), "--seconds", "1", "--procs", "2"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let warm = crate::fs::exec::spawn_user("/bin/fuzz", warm_argv, Vec::new()).join();
    if warm != 0 {
        println!("fuzz: the warm-up run ended with status {warm:#x}");
    }
    // Its kernel stack is freed once the task is off its CPU for good: let
    // it get there, or the count below misses those pages and they come
    // back later, hiding as many leaked ones.
    crate::sched::msleep(50);
    crate::sched::task::reap_dead_stacks();
    crate::mm::kmap::kmap_flush_unused();
}

/// The free pages counted before a run, to find what it leaked: see the
/// top of the file for what may honestly stay.
pub struct FreeCount {
    free_before: Vec<u64>,
    free_after: Vec<u64>,
    before: usize,
    heap_before: usize,
}

impl FreeCount {
    /// Count now. The free frames now and after, to name a leaked one,
    /// are allocated before the count, so that they do not count.
    pub fn now() -> FreeCount {
        let max_pfn = page_alloc::zones().map(|z| z.zone_end_pfn()).max().unwrap_or(0);
        let (mut free_before, free_after) = (alloc::vec![0u64; max_pfn.div_ceil(64)], alloc::vec![0u64; max_pfn.div_ceil(64)]);
        free_frames(&mut free_before);
        FreeCount { free_before, free_after, before: free_pages_total(), heap_before: crate::mm::heap::KMALLOC.pages_held() }
    }

    /// Once everything the run made is gone: dead tasks' stacks freed,
    /// PKMAP flushed, the pages missing since [`FreeCount::now`] less what
    /// the heap grew into (returned too), each leaked frame named.
    pub fn leaked(&mut self) -> (usize, usize) {
        crate::sched::msleep(50);
        crate::sched::task::reap_dead_stacks();
        crate::mm::kmap::kmap_flush_unused();
        let after = free_pages_total();
        let heap_grew = crate::mm::heap::KMALLOC.pages_held().saturating_sub(self.heap_before);
        let leaked = self.before.saturating_sub(after).saturating_sub(heap_grew);
        if leaked > 0 {
            free_frames(&mut self.free_after);
            // The heap's new pages are among them: past those, 16 more.
            name_leaked_frames(&self.free_before, &self.free_after, 16 + heap_grew);
        }
        (leaked, heap_grew)
    }
}

fn run_counted(seconds: u64, seed: u64, procs: usize) -> ! {
    use crate::arch::qemu::{QemuExitCode, exit_qemu};
    let mut count = FreeCount::now();
    let heap_bytes_before = crate::mm::heap::KMALLOC.bytes_in_use();
    let vmalloc_before = crate::mm::vmalloc::vmalloc_info();
    let bugs_before = crate::debug::report_count();

    let mut argv: Vec<Vec<u8>> = [
        "/bin/fuzz", "--seed", &alloc::format!("{seed}"), "--seconds", &alloc::format!("{seconds}"),
        "--procs", &alloc::format!("{procs}"), "--result", RESULT,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    if REPLAY.load(Ordering::Relaxed) {
        argv.push(b"--replay".to_vec());
    }
    let kinds = KINDS.load(Ordering::Relaxed);
    if kinds != 0 {
        argv.push(b"--kinds".to_vec());
        argv.push(alloc::format!("{}-{}", kinds >> 8, (kinds & 0xff) - 1).into_bytes());
    }
    let status = crate::fs::exec::spawn_user("/bin/fuzz", argv, Vec::new()).join();

    // Every process it made must be gone; allow the last SIGKILLed ones a
    // moment to finish dying.
    let mut left = live_user_processes();
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        crate::sched::msleep(100);
        left = live_user_processes();
    }

    let result = crate::fs::lookup(RESULT).map(|inode| {
        let mut bytes = alloc::vec![0u8; crate::fs::size(&inode).min(4096)];
        let n = crate::fs::read_at(&inode, 0, &mut bytes);
        bytes.truncate(n);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let _ = crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), RESULT);
    let mut leftovers = remove_tree("/tmp/fuzz.shm");
    for i in 0..procs {
        leftovers += remove_tree(&alloc::format!("/tmp/fuzz{i}"));
    }

    let (leaked, heap_grew) = count.leaked();
    let reported = crate::debug::report_count() - bugs_before;
    let vmalloc_after = crate::mm::vmalloc::vmalloc_info();

    let text = result.as_deref().unwrap_or("");
    let (calls, errors, wrong) = (field(text, "calls"), field(text, "errors"), field(text, "wrong"));
    let kernel_bugs = reported as u64 + wrong.unwrap_or(0);
    println!(
        "fuzz: program exit status {status:#x}, {left} process(es) left, {leftovers} scratch name(s) the program left, \
         {reported} kernel report(s), {} wrong answer(s), heap grew {heap_grew} page(s) (bytes in use {heap_bytes_before} -> {}), vmalloc areas {} -> {} ({} -> {} bytes), stuck workers {}",
        wrong.map_or(String::from("?"), |w| alloc::format!("{w}")),
        crate::mm::heap::KMALLOC.bytes_in_use(),
        vmalloc_before.nr_areas, vmalloc_after.nr_areas, vmalloc_before.used_bytes, vmalloc_after.used_bytes,
        field(text, "stuck").map_or(String::from("?"), |w| alloc::format!("{w}")),
    );
    println!(
        "fuzz: calls={} errors={} kernel_bugs={kernel_bugs} leaked_pages={leaked} seed={seed}",
        calls.map_or(String::from("?"), |c| alloc::format!("{c}")),
        errors.map_or(String::from("?"), |c| alloc::format!("{c}")),
    );
    let ok = calls.is_some() && kernel_bugs == 0 && leaked == 0 && left == 0 && status == 0;
    exit_qemu(if ok { QemuExitCode::Success } else { QemuExitCode::Failed })
}
