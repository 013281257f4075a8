//! The scheduler and its synchronisation, on however many CPUs QEMU has
//! (the runner runs this suite with -smp 1, 2 and 4).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use crate::arch::cpu::{local_irq_restore, local_irq_save, rdtsc};
use crate::arch::percpu::raw_smp_processor_id;
use crate::arch::tsc::tsc_khz;
use crate::tools::ktest::Test;
use crate::sched::core::jiffies;
use crate::sched::preempt::{migrate_disable, migrate_enable, preempt_count, preempt_disable, preempt_enable};
use crate::sched::{self, msleep, spawn, spawn_on, yield_now};
use crate::smp::num_online_cpus;
use crate::locking::Mutex;
use crate::sched::{completion::Completion, wait::WaitQueue};
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(all_cpus_come_up),
    test_case!(spawn_join_and_exit_codes),
    test_case!(tasks_spread_over_cpus),
    test_case!(busy_task_is_preempted),
    test_case!(preempt_disable_prevents_preemption),
    test_case!(migrate_disabled_task_stays_on_its_cpu_while_others_move),
    test_case!(context_switch_hooks_run_for_every_switch),
    test_case!(wait_queue_ping_pong_loses_no_wakeup),
    test_case!(mutex_excludes_and_loses_no_wakeup),
    test_case!(completion_before_and_after_wait),
    test_case!(complete_all_releases_every_waiter_now_and_later),
    test_case!(msleep_sleeps_at_least_that_long),
    test_case!(might_sleep_fires_in_atomic_context),
    test_case!(sleeping_while_atomic_is_caught),
    test_case!(smp_processor_id_in_preemptible_code_is_caught),
];

/// Milliseconds of TSC time since `start`.
fn ms_since(start: u64) -> u64 {
    (rdtsc() - start) / tsc_khz().max(1)
}

fn all_cpus_come_up() {
    let expected = crate::tools::ktest::expected_cpus();
    assert_eq!(num_online_cpus(), expected.min(mm::layout::NR_CPUS));
    for cpu in 0..num_online_cpus() {
        let pc = crate::percpu::per_cpu(cpu);
        assert!(pc.online.load(Ordering::Acquire), "CPU {cpu} online");
        assert!(pc.timer_ticks.load(Ordering::Relaxed) > 0, "CPU {cpu} takes timer interrupts");
    }
}

fn spawn_join_and_exit_codes() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let h = spawn("returns", move || r.store(true, Ordering::SeqCst));
    assert_eq!(h.join(), 0);
    assert!(ran.load(Ordering::SeqCst));
    let h = spawn("exits-7", || sched::exit(7));
    assert_eq!(h.join(), 7);
    // Joining reaps: many short tasks do not exhaust stacks or memory.
    let before = crate::mm::page_alloc::meminfo().mem_free_kb;
    for i in 0..200 {
        assert_eq!(spawn("short", move || sched::exit(i)).join(), i);
    }
    let after = crate::mm::page_alloc::meminfo().mem_free_kb;
    assert!(before.abs_diff(after) < 512, "200 tasks came and went: free {before} kB -> {after} kB");
}

fn tasks_spread_over_cpus() {
    let n = num_online_cpus();
    let seen = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..2 * n)
        .map(|_| {
            let seen = seen.clone();
            spawn("spreader", move || {
                let start = rdtsc();
                while ms_since(start) < 100 {
                    seen.fetch_or(1 << raw_smp_processor_id(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join();
    }
    let cpus = seen.load(Ordering::Relaxed).count_ones() as usize;
    assert_eq!(cpus, n, "{} busy tasks ran on {cpus} of {n} CPUs (mask {:#x})", 2 * n, seen.load(Ordering::Relaxed));
}

fn busy_task_is_preempted() {
    // A spins without ever yielding; B, on the same CPU, can only make
    // progress if the timer preempts A.
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let (s, p) = (stop.clone(), progress.clone());
    let a = spawn_on(0, "spinner", move || {
        let start = rdtsc();
        while !s.load(Ordering::Relaxed) && ms_since(start) < 10_000 {}
    });
    let b = spawn_on(0, "counter", move || {
        for _ in 0..50 {
            p.fetch_add(1, Ordering::Relaxed);
            yield_now();
        }
    });
    b.join();
    stop.store(true, Ordering::Relaxed);
    let preempted = a.task().nr_preemptions.load(Ordering::Relaxed);
    a.join();
    assert_eq!(progress.load(Ordering::Relaxed), 50);
    assert!(preempted > 0, "the spinner was never preempted");
}

fn preempt_disable_prevents_preemption() {
    let progress = Arc::new(AtomicU64::new(0));
    let during = Arc::new(AtomicU64::new(u64::MAX));
    let (p, d) = (progress.clone(), during.clone());
    let started = Arc::new(AtomicBool::new(false));
    let st = started.clone();
    let counter = spawn_on(0, "counter", move || {
        st.store(true, Ordering::SeqCst);
        let start = rdtsc();
        while ms_since(start) < 300 {
            p.fetch_add(1, Ordering::Relaxed);
        }
    });
    while !started.load(Ordering::SeqCst) {
        yield_now();
    }
    let p2 = progress.clone();
    let holder = spawn_on(0, "no-preempt", move || {
        preempt_disable();
        let before = p2.load(Ordering::Relaxed);
        let start = rdtsc();
        while ms_since(start) < 50 {} // 12 time slices
        d.store(p2.load(Ordering::Relaxed) - before, Ordering::SeqCst);
        preempt_enable();
    });
    holder.join();
    counter.join();
    assert_eq!(during.load(Ordering::SeqCst), 0, "the counter ran while preemption was disabled on its CPU");
    assert!(progress.load(Ordering::Relaxed) > 0);
}

fn migrate_disabled_task_stays_on_its_cpu_while_others_move() {
    let n = num_online_cpus();
    let stop = Arc::new(AtomicBool::new(false));
    // More migratable spinners than CPUs, all starting on CPU 0 (pinned
    // there at spawn, then free to go): the load balancer must spread them
    // (when there is somewhere to spread to).
    let spinners: Vec<_> = (0..2 * n + 1)
        .map(|_| {
            let s = stop.clone();
            spawn_on(0, "mover", move || {
                crate::sched::core::set_current_affinity(crate::sched::task::CPU_MASK_ALL);
                while !s.load(Ordering::Relaxed) {
                    core::hint::spin_loop();
                }
            })
        })
        .collect();
    let wrong = Arc::new(AtomicUsize::new(0));
    let w = wrong.clone();
    let pinned = spawn("pinned", move || {
        migrate_disable();
        let me = sched::current();
        let cpu = raw_smp_processor_id();
        let start = rdtsc();
        while me.nr_preemptions.load(Ordering::Relaxed) < 200 && ms_since(start) < 30_000 {
            if raw_smp_processor_id() != cpu {
                w.fetch_add(1, Ordering::Relaxed);
            }
        }
        migrate_enable();
    });
    let preemptions_before_join = {
        while pinned.task().state() != crate::sched::task::TASK_DEAD {
            msleep(10);
        }
        pinned.task().nr_preemptions.load(Ordering::Relaxed)
    };
    stop.store(true, Ordering::Relaxed);
    let migrations: u64 = spinners.iter().map(|h| h.task().nr_migrations.load(Ordering::Relaxed)).sum();
    let pinned_migrations = pinned.task().nr_migrations.load(Ordering::Relaxed);
    pinned.join();
    for h in spinners {
        h.join();
    }
    assert!(preemptions_before_join >= 200, "pinned task preempted only {preemptions_before_join} times");
    assert_eq!(wrong.load(Ordering::Relaxed), 0, "a migrate-disabled task ran on another CPU");
    assert_eq!(pinned_migrations, 0);
    if n > 1 {
        assert!(migrations > 0, "no migratable task moved on {n} CPUs");
    }
}

fn context_switch_hooks_run_for_every_switch() {
    // Two tasks take turns on CPU 0. Each writes its id into `last` and
    // yields; when it runs again and finds the other's id there, it has
    // seen for itself that it was switched out and back in. That count
    // comes from the tasks, not from the scheduler, and each such return
    // needs one sched_out and one sched_in of this task.
    let go = Arc::new(AtomicU32::new(0));
    let last = Arc::new(AtomicU32::new(0));
    let seen = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let hooks = Arc::new([[AtomicU64::new(0), AtomicU64::new(0)], [AtomicU64::new(0), AtomicU64::new(0)]]);
    let worker = |i: usize| {
        let (go, last, seen, hooks) = (go.clone(), last.clone(), seen.clone(), hooks.clone());
        move || {
            let me = crate::sched::current();
            go.fetch_add(1, Ordering::SeqCst);
            while go.load(Ordering::SeqCst) < 2 {
                yield_now();
            }
            let (out0, in0) = (me.nr_sched_out.load(Ordering::SeqCst), me.nr_sched_in.load(Ordering::SeqCst));
            let mut switched = 0;
            for _ in 0..2000 {
                last.store(me.id(), Ordering::SeqCst);
                yield_now();
                if last.load(Ordering::SeqCst) != me.id() {
                    switched += 1;
                }
            }
            seen[i].store(switched, Ordering::SeqCst);
            hooks[i][0].store(me.nr_sched_out.load(Ordering::SeqCst) - out0, Ordering::SeqCst);
            hooks[i][1].store(me.nr_sched_in.load(Ordering::SeqCst) - in0, Ordering::SeqCst);
        }
    };
    let a = spawn_on(0, "yield-a", worker(0));
    let b = spawn_on(0, "yield-b", worker(1));
    a.join();
    b.join();
    for i in 0..2 {
        let seen = seen[i].load(Ordering::SeqCst);
        let (outs, ins) = (hooks[i][0].load(Ordering::SeqCst), hooks[i][1].load(Ordering::SeqCst));
        assert!(seen >= 1500, "task {i} saw the other run between its yields only {seen} times of 2000");
        assert!(ins >= seen && outs >= seen, "task {i} was switched out and in {seen} times, but sched_out ran {outs} and sched_in {ins} times");
        assert_eq!(outs, ins, "task {i}: every switch out is followed by a switch back in");
    }
}

fn wait_queue_ping_pong_loses_no_wakeup() {
    const ROUNDS: u32 = 5000;
    let pairs = num_online_cpus().max(2);
    let stuck = Arc::new(AtomicU32::new(0));
    let mut handles = Vec::new();
    for _ in 0..pairs {
        // One token passed back and forth; each side sleeps until it is
        // its turn. A lost wake-up leaves both asleep for ever.
        struct Pair { turn: AtomicU32, wq: [WaitQueue; 2], done: AtomicU32 }
        let pair = Arc::new(Pair { turn: AtomicU32::new(0), wq: [WaitQueue::new(), WaitQueue::new()], done: AtomicU32::new(0) });
        for side in 0..2u32 {
            let p = pair.clone();
            handles.push((pair.clone(), spawn("ping-pong", move || {
                for _ in 0..ROUNDS {
                    p.wq[side as usize].wait_event(|| p.turn.load(Ordering::SeqCst) == side);
                    p.turn.store(1 - side, Ordering::SeqCst);
                    p.wq[1 - side as usize].wake_up_one();
                }
                p.done.fetch_add(1, Ordering::SeqCst);
            })));
        }
    }
    // Wait with a deadline, so a lost wake-up fails the test with a
    // message instead of hanging it.
    let deadline = jiffies() + 60 * crate::sched::core::HZ;
    while handles.iter().any(|(p, _)| p.done.load(Ordering::SeqCst) < 2) {
        if jiffies() > deadline {
            stuck.store(1, Ordering::SeqCst);
            break;
        }
        msleep(10);
    }
    assert_eq!(stuck.load(Ordering::SeqCst), 0, "a ping-pong pair is stuck: a wake-up was lost");
    for (_, h) in handles {
        h.join();
    }
}

fn mutex_excludes_and_loses_no_wakeup() {
    const TASKS: usize = 4;
    const ITERS: u64 = 2000;
    let m = Arc::new(Mutex::new(0u64));
    let inside = Arc::new(AtomicU32::new(0));
    let overlaps = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let (m, inside, overlaps) = (m.clone(), inside.clone(), overlaps.clone());
            spawn("mutex", move || {
                for k in 0..ITERS {
                    let mut g = m.lock();
                    if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    *g += 1;
                    if (k + i as u64).is_multiple_of(64) {
                        yield_now(); // hold it across a reschedule now and then
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join();
    }
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "two tasks were inside the mutex at once");
    assert_eq!(*m.lock(), TASKS as u64 * ITERS);
}

fn completion_before_and_after_wait() {
    let c = Arc::new(Completion::new());
    c.complete();
    c.wait_for_completion(); // the earlier complete() is not lost
    assert!(!c.is_done());
    let c2 = c.clone();
    let h = spawn("completer", move || {
        msleep(20);
        c2.complete();
    });
    let start = jiffies();
    c.wait_for_completion();
    assert!(jiffies() - start >= 10, "waited for the completer");
    h.join();
}

/// `complete_all` wakes every task already waiting, and lets later
/// waiters through without sleeping (Linux uses it for "this happened once
/// and for all", e.g. a device that finished probing).
fn complete_all_releases_every_waiter_now_and_later() {
    const WAITERS: usize = 4;
    let c = Arc::new(Completion::new());
    let through = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (c, through) = (c.clone(), through.clone());
            spawn("waiter", move || {
                c.wait_for_completion();
                through.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    msleep(20);
    assert_eq!(through.load(Ordering::SeqCst), 0, "nobody passes before the completion");
    c.complete_all();
    for h in handles {
        h.join();
    }
    assert_eq!(through.load(Ordering::SeqCst), WAITERS as u32, "one complete_all released every waiter");
    c.wait_for_completion(); // and any number of later waits return at once
    c.wait_for_completion();
    assert!(c.is_done());
}

fn msleep_sleeps_at_least_that_long() {
    let start = rdtsc();
    msleep(30);
    assert!(ms_since(start) >= 29, "msleep(30) returned after {} ms", ms_since(start));
}

fn might_sleep_fires_in_atomic_context() {
    let n = crate::debug::report_count();
    preempt_disable();
    crate::sched::preempt::might_sleep();
    preempt_enable();
    assert_eq!(crate::debug::report_count(), n + 1);
    let r = crate::debug::last_report();
    assert!(r.as_str().contains("BUG: sleeping function called from invalid context at "), "{}", r.as_str());
    assert!(r.as_str().contains("tests/sched.rs:"), "the report names the caller: {}", r.as_str());
    assert!(r.as_str().contains("in_atomic(): 1, irqs_disabled(): 0"), "{}", r.as_str());
    assert!(r.as_str().contains("preempt_count: 1, expected: 0"), "{}", r.as_str());

    let flags = local_irq_save();
    crate::sched::preempt::might_sleep();
    local_irq_restore(flags);
    assert!(crate::debug::last_report().as_str().contains("in_atomic(): 0, irqs_disabled(): 1"));

    // And nothing is reported where sleeping is fine.
    let n = crate::debug::report_count();
    crate::sched::preempt::might_sleep();
    assert_eq!(crate::debug::report_count(), n);
}

fn sleeping_while_atomic_is_caught() {
    // msleep reports might_sleep first, then schedule() reports this.
    msleep_in_atomic_context_reports(|| msleep(2));
    // A deadline already past when msleep first reads the clock (what a
    // vCPU that the host stopped for a few milliseconds sees): msleep still
    // sleeps once, as Linux's does, and so is still caught.
    msleep_in_atomic_context_reports(|| crate::sched::timer::msleep_until(0));
}

/// Run `sleep` with preemption off and check both reports came out and the
/// preempt count came back with the task.
fn msleep_in_atomic_context_reports(sleep: impl FnOnce()) {
    let n = crate::debug::report_count();
    preempt_disable();
    sleep();
    assert_eq!(preempt_count(), 1, "the preempt count came back with the task");
    preempt_enable();
    assert!(crate::debug::report_count() >= n + 2, "{} reports, expected 2 at least", crate::debug::report_count() - n);
    let r = crate::debug::last_report();
    assert!(r.as_str().contains("BUG: scheduling while atomic: ktest/"), "{}", r.as_str());
    assert!(r.as_str().contains("/0x00000001"), "{}", r.as_str());
}

fn smp_processor_id_in_preemptible_code_is_caught() {
    let n = crate::debug::report_count();
    let cpu = crate::percpu::smp_processor_id();
    assert!(cpu < num_online_cpus());
    if num_online_cpus() > 1 && cfg!(debug_assertions) {
        assert_eq!(crate::debug::report_count(), n + 1);
        let r = crate::debug::last_report();
        assert!(r.as_str().contains("BUG: using smp_processor_id() in preemptible [00000000] code: ktest/"), "{}", r.as_str());
    } else {
        assert_eq!(crate::debug::report_count(), n, "one CPU: nowhere to migrate to, nothing to report");
    }
    // With migration disabled the answer is stable: no report.
    let n = crate::debug::report_count();
    migrate_disable();
    let _ = crate::percpu::smp_processor_id();
    migrate_enable();
    preempt_disable();
    let _ = crate::percpu::smp_processor_id();
    preempt_enable();
    assert_eq!(crate::debug::report_count(), n);
}
