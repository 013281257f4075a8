//! The OOM killer (kernel/src/mm/oom_kill.rs; the choice is
//! mm/src/oom.rs, host-tested). Each test runs real user programs
//! (`/bin/hog`: N MiB touched, then held until killed), then makes memory
//! run out by taking every free page but the lowmem reserve into a held
//! [`Reserve`] (the soak's `Held`: allocations that may not sleep, so they neither wait nor
//! call the OOM killer), and allocates one user page (`GFP_HIGHUSER_MOVABLE`)
//! from a kernel thread: the allocation that invokes the OOM killer. The
//! reserve goes back at the end, and the free-page count (plus what the
//! heap holds) is checked against the start: nothing leaked.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::SeqCst;

use mm::gfp::{GFP_HIGHUSER_MOVABLE};
use mm::page::Page;

use crate::mm::oom_kill::{LAST_OOM_HEADER, LAST_OOM_KILL, OOM_GAVE_UP, OOM_KILLS};
use crate::mm::page_alloc::{__free_pages, alloc_pages, min_free_lowmem_pages, node};
use crate::sched::JoinHandle;
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus};
use crate::tools::soak::Held as Reserve;

use super::user::switch_cpus_to_another_mm;

pub const TESTS: &[Test] = &[
    test_case!(the_biggest_process_is_killed_with_linuxs_lines_and_its_memory_returns),
    test_case!(while_a_victim_has_not_given_its_memory_back_nobody_else_is_killed),
    test_case!(init_is_never_chosen_even_when_biggest_and_alone_nothing_is_killed),
    test_case!(a_forking_hog_on_four_cpus_is_contained_and_a_bystander_completes),
];

/// Free pages plus the pages the heap holds, with dead tasks' stacks
/// reaped and every CPU's lazily loaded page directory swapped for a
/// fresh one (as many before as after): what a leak would lower.
fn settled_free() -> usize {
    switch_cpus_to_another_mm((1u32 << crate::smp::num_online_cpus()) - 1);
    // A joined task's last reference can still be on its CPU's way out of
    // the context switch for a moment (its stack freed just after): read
    // until two reads a few ticks apart agree.
    let read = || {
        crate::sched::task::reap_dead_stacks();
        node().nr_free_pages() + crate::mm::heap::KMALLOC.pages_held()
    };
    let mut last = read();
    for _ in 0..100 {
        crate::sched::msleep(3);
        let now = read();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// The free count to come back to, after one run of `hog 1` (a first
/// exec fills caches that stay: the heap's, the page tables of the
/// vmalloc area where kernel stacks go).
fn warm_start() -> usize {
    assert_eq!(hog(&["1"]).join(), 0);
    let free = settled_free();
    log::info!("oom: start: {} free, {} in the heap, vmalloc {:?}", node().nr_free_pages(), crate::mm::heap::KMALLOC.pages_held(), crate::mm::vmalloc::vmalloc_info());
    free
}

/// Every page back since [`warm_start`] (and if not, what is there).
fn assert_no_leak(start: usize) {
    let end = settled_free();
    log::info!("oom: end: {} free, {} in the heap", node().nr_free_pages(), crate::mm::heap::KMALLOC.pages_held());
    if end != start {
        log::info!("oom: vmalloc {:?}", crate::mm::vmalloc::vmalloc_info());
        for t in crate::sched::task::ALL_TASKS.lock_irqsave().iter() {
            log::info!("oom: task {} ({}) state {:#x} refs {} mm {}", t.id(), t.name(), t.state(), Arc::strong_count(t), t.mm().is_some());
        }
    }
    assert_eq!(end, start, "every page back");
}

/// Start `/bin/hog ARGS`.
fn hog(args: &[&str]) -> JoinHandle {
    let mut argv = alloc::vec![b"hog".to_vec()];
    argv.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    crate::fs::exec::spawn_user("/bin/hog", argv, Vec::new())
}

/// What the OOM killer will see of a held hog.
struct Held {
    h: JoinHandle,
    total_vm: usize,
    rss: usize,
    pgtables: usize,
}

/// Start `hog MIB hold` and wait until it has touched its memory and
/// sleeps in `pause` (its page counts no longer change).
fn held_hog(mib: usize) -> Held {
    let h = hog(&[&alloc::format!("{mib}"), "hold"]);
    for _ in 0..20_000 {
        if let Some(mm) = h.task().mm() {
            let (rss, pgtables) = mm.rss_counts();
            if rss >= mib * 256 && h.task().state() == crate::sched::task::TASK_INTERRUPTIBLE {
                // Once more after a pause: still the same?
                crate::sched::msleep(5);
                if mm.rss_counts() == (rss, pgtables) && h.task().state() == crate::sched::task::TASK_INTERRUPTIBLE {
                    let total_vm = mm.total_vm();
                    // No reference kept: it would keep the memory from
                    // coming back when the process dies.
                    drop(mm);
                    return Held { h, total_vm, rss, pgtables };
                }
            }
        }
        crate::sched::msleep(1);
    }
    panic!("hog {mib} hold did not settle");
}

impl Held {
    fn pid(&self) -> u32 {
        self.h.task().id()
    }

    /// Linux's kill line for this process, as it should read.
    fn expected_line(&self) -> alloc::string::String {
        alloc::format!(
            "Out of memory: Killed process {} (hog) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:{}kB oom_score_adj:0",
            self.pid(), self.total_vm * 4, self.rss * 4, self.pgtables * 4)
    }

    fn alive(&self) -> bool {
        self.h.task().state() != crate::sched::task::TASK_DEAD
            && self.h.task().signal.pending() & crate::signal::sigmask(crate::signal::SIGKILL) == 0
    }

    /// SIGKILL it (the test's cleanup) and reap it: status 9.
    fn kill_and_join(self) -> i32 {
        crate::signal::send_signal(crate::signal::SIGKILL, crate::signal::KSigInfo::default(), self.h.task());
        self.h.join()
    }
}

/// A kernel thread (named `oom-trigger`; a kernel thread is never
/// chosen) that, once `go` is called, allocates `n` user pages, stopping
/// at the first failure: the allocations that find memory gone. Started
/// before memory is taken away (a new thread needs a kernel stack).
struct Trigger {
    h: JoinHandle,
    go: Arc<core::sync::atomic::AtomicBool>,
    done: Arc<core::sync::atomic::AtomicBool>,
    pages: Arc<spin::Mutex<Vec<&'static Page>>>,
}

impl Trigger {
    fn new(n: usize) -> Trigger {
        let go = Arc::new(core::sync::atomic::AtomicBool::new(false));
        let done = Arc::new(core::sync::atomic::AtomicBool::new(false));
        let pages = Arc::new(spin::Mutex::new(Vec::with_capacity(n)));
        let (start, end, got) = (go.clone(), done.clone(), pages.clone());
        let h = crate::sched::spawn("oom-trigger", move || {
            while !start.load(SeqCst) {
                crate::sched::msleep(1);
            }
            for _ in 0..n {
                let Some(p) = alloc_pages(GFP_HIGHUSER_MOVABLE, 0) else { break };
                got.lock().push(p);
            }
            end.store(true, SeqCst);
        });
        Trigger { h, go, done, pages }
    }

    fn go(&self) {
        self.go.store(true, SeqCst);
    }

    /// The header line Linux prints for this task's allocation.
    fn expected_header(&self) -> alloc::string::String {
        alloc::format!("{} invoked oom-killer: gfp_mask=0x12(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0", self.h.task().name())
    }

    /// Wait for its end: the pages it got (the caller frees them).
    fn join(self) -> Vec<&'static Page> {
        self.h.join();
        core::mem::take(&mut *self.pages.lock())
    }
}

fn free_all(pages: Vec<&'static Page>) {
    for p in pages {
        __free_pages(p, 0);
    }
}

/// (a) Three processes of 1, 3 and 6 MiB; memory runs out: the 6 MiB one
/// is killed with Linux's two lines (the header naming the allocating
/// task, its GFP flags and order; the kill line with the victim's
/// total-vm, anon-rss and pgtables as its address space has them), the
/// allocation then succeeds from its freed memory, the other two live on,
/// and nothing leaks.
fn the_biggest_process_is_killed_with_linuxs_lines_and_its_memory_returns() {
    let start = warm_start();
    let (small, mid, big) = (held_hog(1), held_hog(3), held_hog(6));
    let expected = big.expected_line();
    let (big_rss, big_pid) = (big.rss, big.pid());
    let big_h = big.h;
    let kills = OOM_KILLS.load(SeqCst);
    let keep = min_free_lowmem_pages();
    let t = Trigger::new(1);
    let header = t.expected_header();
    let reserve = Reserve::all_but(0, 0);
    t.go();
    let got = t.join();
    assert_eq!(got.len(), 1, "the allocation succeeded once the victim's memory came back");
    assert_eq!(big_h.join(), 9, "the biggest was killed by SIGKILL");
    assert_eq!(OOM_KILLS.load(SeqCst), kills + 1, "one process killed");
    assert_eq!(LAST_OOM_KILL.lock().as_str(), expected.as_str());
    assert_eq!(LAST_OOM_HEADER.lock().as_str(), header.as_str());
    // Its pages are free again (less the one the trigger took).
    assert!(node().nr_free_pages() + 1 >= keep + big_rss, "free {} keep {keep} victim's rss {big_rss} (pid {big_pid})", node().nr_free_pages());
    assert!(small.alive() && mid.alive(), "the others live on");
    free_all(got);
    drop(reserve);
    assert_eq!(small.kill_and_join(), 9);
    assert_eq!(mid.kill_and_join(), 9);
    assert_no_leak(start);
}

/// Linux's `oom_evaluate_task` abort: a victim whose memory has not come
/// back (here its address space held by the test after the victim died,
/// as a stuck exit would) makes the OOM killer wait, not kill the next
/// biggest: the allocation sleeps and retries, one kill in all. When the
/// memory comes back, the allocation succeeds.
fn while_a_victim_has_not_given_its_memory_back_nobody_else_is_killed() {
    let start = warm_start();
    let (small, big) = (held_hog(2), held_hog(5));
    let kills = OOM_KILLS.load(SeqCst);
    let pinned = big.h.task().mm().expect("its address space");
    let big_h = big.h;
    // 512 pages (2 MiB): more than stray frees elsewhere could give, less
    // than the victim has.
    let t = Trigger::new(512);
    let reserve = Reserve::all_but(0, 0);
    t.go();
    // The victim dies and stays a zombie (not reaped: still in the task
    // list, as in Linux until its parent waits), its address space held.
    while big_h.task().state() != crate::sched::task::TASK_DEAD {
        crate::sched::msleep(1);
    }
    // 300 ms of retries, and still one kill.
    crate::sched::msleep(300);
    assert_eq!(OOM_KILLS.load(SeqCst), kills + 1, "nobody else killed while the victim's memory is held");
    assert!(!t.done.load(SeqCst), "the allocations are still waiting ({} pages so far)", t.pages.lock().len());
    assert!(small.alive(), "the smaller process lives");
    drop(pinned);
    let got = t.join();
    assert_eq!(got.len(), 512, "with the victim's memory back, the allocations succeed");
    assert_eq!(big_h.join(), 9, "the biggest was killed");
    assert_eq!(OOM_KILLS.load(SeqCst), kills + 1);
    free_all(got);
    drop(reserve);
    assert_eq!(small.kill_and_join(), 9);
    assert_no_leak(start);
}

/// Linux `is_global_init`: the biggest process, marked init, is passed
/// over for a smaller one; with init the only process left, nothing is
/// killable: the allocation fails (Linux would panic here: "System is
/// deadlocked on memory") and init lives.
fn init_is_never_chosen_even_when_biggest_and_alone_nothing_is_killed() {
    let start = warm_start();
    let (small, big) = (held_hog(1), held_hog(6));
    let saved_init = crate::init::GLOBAL_INIT_PID.swap(big.pid(), SeqCst);
    let expected = small.expected_line();
    let kills = OOM_KILLS.load(SeqCst);
    let gave_up = OOM_GAVE_UP.load(SeqCst);
    let (t, t2) = (Trigger::new(1), Trigger::new(1));
    let reserve = Reserve::all_but(0, 0);
    t.go();
    let first = t.join();
    assert!(big.alive(), "init lives");
    assert_eq!(small.h.join(), 9, "the smaller process was killed");
    assert_eq!(first.len(), 1);
    assert_eq!(LAST_OOM_KILL.lock().as_str(), expected.as_str());
    assert!(big.alive(), "init lives");
    // Now init alone: take what the victim freed, and ask again.
    let more = Reserve::all_but(0, 0);
    t2.go();
    let second = t2.join();
    crate::init::GLOBAL_INIT_PID.store(saved_init, SeqCst);
    assert!(second.is_empty(), "nothing killable: the allocation fails");
    assert_eq!(OOM_GAVE_UP.load(SeqCst), gave_up + 1);
    assert_eq!(OOM_KILLS.load(SeqCst), kills + 1, "init was not killed");
    assert!(big.alive(), "init lives");
    free_all(first);
    drop(more);
    drop(reserve);
    assert_eq!(big.kill_and_join(), 9);
    assert_no_leak(start);
}

/// Issue 13's case: a program that forks 8 children which each allocate
/// without bound (each starting from its parent's 2 MiB, so always
/// bigger than the bystander below), on 4 CPUs, with 32 MiB left above
/// the reserve. The OOM
/// killer kills children (their allocations invoke it, on every CPU)
/// until none is left: the parent, which ends only when it has reaped
/// all 8 and none ends but by a signal, exits 0. Meanwhile an unrelated
/// program (`hog 1`, touching 1 MiB) is run again and again and
/// completes every time; the kernel goes on; afterwards every page is
/// back.
fn a_forking_hog_on_four_cpus_is_contained_and_a_bystander_completes() {
    require_cpus(4);
    let start = warm_start();
    let kills = OOM_KILLS.load(SeqCst);
    let reserve = Reserve::all_but(0, 8192);
    let parent = hog(&["fork", "8"]);
    let mut bystanders = 0;
    while parent.task().state() != crate::sched::task::TASK_DEAD {
        assert_eq!(hog(&["1"]).join(), 0, "the bystander completed its work (run {bystanders})");
        bystanders += 1;
    }
    assert_eq!(parent.join(), 0, "the parent reaped all its children, each ended by a signal");
    let killed = OOM_KILLS.load(SeqCst) - kills;
    log::info!("oom: forking hog contained: {killed} OOM kills, {bystanders} bystander runs");
    assert!((1..=8).contains(&killed), "{killed} kills");
    drop(reserve);
    assert_no_leak(start);
}

