//! Sleeping for a while: a list of (deadline, task) checked on every tick
//! of CPU 0 (a much simplified Linux timer wheel).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::core::{HZ, current_arc, jiffies, schedule, try_to_wake_up};
use super::task::{TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_UNINTERRUPTIBLE, Task};
use crate::locking::SpinLock;

static TIMERS: SpinLock<Vec<(u64, Arc<Task>)>> = SpinLock::new(Vec::new());

/// Wake every task whose deadline has passed (from the timer interrupt).
pub(crate) fn run_timers() {
    let now = jiffies();
    let mut guard = TIMERS.lock_irqsave();
    let mut i = 0;
    while i < guard.len() {
        if guard[i].0 <= now {
            let (_, t) = guard.swap_remove(i);
            try_to_wake_up(&t);
        } else {
            i += 1;
        }
    }
}

/// Sleep for at least `ticks` timer ticks (Linux `schedule_timeout`).
#[track_caller]
pub fn schedule_timeout(ticks: u64) {
    super::preempt::might_sleep();
    let me = current_arc();
    let deadline = jiffies() + ticks.max(1);
    me.state.store(TASK_UNINTERRUPTIBLE, Ordering::SeqCst);
    TIMERS.lock_irqsave().push((deadline, me));
    schedule();
}

/// Sleep until `deadline` (in jiffies) or until a signal is pending,
/// whichever comes first (Linux `schedule_timeout_interruptible`, with an
/// absolute deadline). Returns the ticks left: 0 when the time is up, more
/// when a signal ended the sleep early. The timer is taken off the list
/// either way (Linux `del_timer_sync`), so it cannot wake a later sleep.
#[track_caller]
pub fn sleep_until_interruptible(deadline: u64) -> u64 {
    super::preempt::might_sleep();
    let me = current_arc();
    loop {
        let now = jiffies();
        if now >= deadline {
            return 0;
        }
        // The order of wait_event: asleep first, then the check, so a
        // signal_wake_up between the check and schedule() is not lost.
        me.state.store(TASK_INTERRUPTIBLE, Ordering::SeqCst);
        TIMERS.lock_irqsave().push((deadline, me.clone()));
        if crate::signal::signal_pending() {
            me.state.store(TASK_RUNNING, Ordering::SeqCst);
        } else {
            schedule();
        }
        TIMERS.lock_irqsave().retain(|(_, t)| !Arc::ptr_eq(t, &me));
        if crate::signal::signal_pending() {
            return deadline.saturating_sub(jiffies());
        }
    }
}

/// Sleep until `deadline` (jiffies) or an earlier wake-up, the caller having
/// already marked itself asleep and queued itself on its wait queues
/// (`WaitQueue::prepare_to_wait`, then the check of its condition): Linux's
/// `schedule_timeout` after `prepare_to_wait`, as `poll` and a terminal's
/// VTIME sleep. The timer is taken off the list afterwards, whoever woke
/// us, so it cannot wake a later sleep.
pub fn schedule_timeout_prepared(deadline: u64) {
    let me = current_arc();
    TIMERS.lock_irqsave().push((deadline, me.clone()));
    schedule();
    TIMERS.lock_irqsave().retain(|(_, t)| !Arc::ptr_eq(t, &me));
}

/// Sleep for at least `ms` milliseconds (Linux `kernel/time/timer.c`).
///
/// Like Linux's, it always sleeps at least once: Linux's `msleep` is
/// `while (timeout) timeout = schedule_timeout_uninterruptible(timeout)`
/// with `timeout` one jiffy more than the milliseconds asked, so the loop
/// body runs before any test. That matters more than it looks: the host
/// can stop a vCPU for a few milliseconds between reading `jiffies` and
/// the first check (seen on a loaded 2-core host running 4 vCPUs), and a
/// loop that tested first would return without sleeping, without
/// `might_sleep` and so without the "scheduling while atomic" report a
/// caller in atomic context must get.
#[track_caller]
pub fn msleep(ms: u64) {
    // +1: the tick now in progress may end at once, so count from the next
    // one (Linux's msleep adds one jiffy for the same reason).
    msleep_until(jiffies() + (ms * HZ).div_ceil(1000) + 1);
}

/// `msleep`'s loop, from a deadline in jiffies: sleep once at least, then
/// until the deadline. Split out so a test can hand it a deadline already
/// past, which is what a stalled vCPU does to `msleep`.
#[track_caller]
pub(crate) fn msleep_until(deadline: u64) {
    let mut now = jiffies();
    loop {
        // schedule_timeout sleeps one tick at least, so a deadline already
        // passed still sleeps (and checks might_sleep) once. Read jiffies
        // once per round: a tick between a test and a second read would
        // make `deadline - jiffies()` underflow.
        schedule_timeout(deadline.saturating_sub(now));
        now = jiffies();
        if now >= deadline {
            break;
        }
    }
}

/// `nanosleep(req, rem)` (Linux `kernel/time/hrtimer.c`): sleep for the
/// `struct timespec` at `req` (seconds, nanoseconds), rounded up to whole
/// ticks. `-EINVAL` for nanoseconds outside 0..1e9 or negative seconds,
/// `-EFAULT` for a bad pointer. The sleep is interruptible: a signal ends
/// it early, `rem` (if not NULL) gets the time left, and the call returns
/// `-ERESTART_RESTARTBLOCK`, which becomes `-EINTR` when a handler runs
/// (whatever its SA_RESTART) and otherwise (a stop and continue) resumes
/// through `restart_syscall` with the same deadline (Linux's
/// `hrtimer_nanosleep_restart`).
pub fn sys_nanosleep(regs: &mut crate::arch::entry::PtRegs) -> i32 {
    let mut ts = [0u8; 8];
    if crate::arch::lib::usercopy_32::copy_from_user(&mut ts, regs.bx as usize) != 0 {
        return -crate::errno::EFAULT;
    }
    let sec = i32::from_le_bytes([ts[0], ts[1], ts[2], ts[3]]);
    let nsec = i32::from_le_bytes([ts[4], ts[5], ts[6], ts[7]]);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return -crate::errno::EINVAL;
    }
    let ms = sec as u64 * 1000 + (nsec as u64).div_ceil(1_000_000);
    if ms == 0 {
        return 0;
    }
    // As msleep: whole ticks, plus one for the tick in progress.
    let deadline = jiffies() + (ms * HZ).div_ceil(1000) + 1;
    nanosleep_until(deadline, regs.cx, false, regs)
}

/// `jiffies` as seconds and nanoseconds (Linux `jiffies_to_timespec64`),
/// for any count: a sleep of 2^31 seconds interrupted early has about
/// 2 * 10^12 jiffies left, and `left * 10^9` would overflow u64 (the
/// system-call fuzzer found that: an overflow panic in the debug kernel,
/// a wrong remaining time in the release one).
pub fn jiffies_to_timespec64(jiffies: u64) -> (u64, u64) {
    (jiffies / HZ, (jiffies % HZ) * (1_000_000_000 / HZ))
}

/// The sleep of `nanosleep` (and `clock_nanosleep`) and of its restart:
/// until `deadline`, or a signal (then the time left goes to `rmtp`, a
/// 64-bit `struct __kernel_timespec` if `wide`, else the i386 32-bit one,
/// and the call asks to be restarted through its restart block).
pub fn nanosleep_until(deadline: u64, rmtp: u32, wide: bool, _regs: &mut crate::arch::entry::PtRegs) -> i32 {
    let left = sleep_until_interruptible(deadline);
    if left == 0 {
        return 0;
    }
    if rmtp != 0 {
        let (sec, nsec) = jiffies_to_timespec64(left);
        let mut ts = [0u8; 16];
        let n = if wide {
            ts[..8].copy_from_slice(&sec.to_le_bytes());
            ts[8..].copy_from_slice(&nsec.to_le_bytes());
            16
        } else {
            ts[..4].copy_from_slice(&(sec as u32).to_le_bytes());
            ts[4..8].copy_from_slice(&(nsec as u32).to_le_bytes());
            8
        };
        if crate::arch::lib::usercopy_32::copy_to_user(rmtp as usize, &ts[..n]) != 0 {
            return -crate::errno::EFAULT;
        }
    }
    crate::sched::current().signal.set_restart(Some(crate::signal::RestartBlock::Nanosleep { deadline, rmtp, wide }));
    -crate::errno::ERESTART_RESTARTBLOCK
}
