//! Ending a process (Linux `kernel/exit.c`).
//!
//! The status a parent sees is Linux's wait status: `exit(n)` gives
//! `(n & 0xff) << 8`, a death by signal `s` gives `s` (see
//! `arch/x86/kernel/traps.rs` for SIGSEGV). The task's exit code holds it,
//! so `JoinHandle::join` returns what `wait4` will.

use crate::arch::entry::PtRegs;

/// The wait status of a task that called `exit(code)` (Linux `(code &
/// 0xff) << 8`, which WEXITSTATUS reads back).
pub const fn exit_status(code: u32) -> i32 {
    ((code & 0xff) << 8) as i32
}

/// End the current process with wait status `status` (Linux `do_exit`).
/// Its parent hears of it (SIGCHLD, the wake-up of its `wait4`) once the
/// task has left its CPU for the last time and can be reaped: see
/// [`exit_notify`].
pub fn do_exit(status: i32) -> ! {
    crate::sched::exit(status)
}

/// A dead task has switched out for the last time (the context switch
/// calls this, Linux `exit_notify` -> `do_notify_parent`): a process's
/// parent gets SIGCHLD with `CLD_EXITED` / `CLD_KILLED` and the status.
pub fn exit_notify(task: &crate::sched::task::Task) {
    if task.signal.is_user() {
        crate::signal::notify_parent_exit(task, task.exit_code());
    }
}

/// `exit(status)`: end the calling thread (Linux `do_exit`).
pub fn sys_exit(regs: &mut PtRegs) -> i32 {
    do_exit(exit_status(regs.bx))
}

/// `exit_group(status)`: end every thread of the process; with one thread
/// per process so far, the same as `exit`.
pub fn sys_exit_group(regs: &mut PtRegs) -> i32 {
    do_exit(exit_status(regs.bx))
}

/// `WNOHANG`: `wait4` returns 0 at once if no child it may reap has ended.
const WNOHANG: u32 = 1;
/// `WUNTRACED`: also report a child that a stop signal stopped (Linux
/// `wait_task_stopped`), once per stop, as `(sig << 8) | 0x7f`.
const WUNTRACED: u32 = 2;
/// `WCONTINUED`: also report a stopped child that SIGCONT continued
/// (Linux `wait_task_continued`), once, as 0xffff.
const WCONTINUED: u32 = 8;
/// The other options Linux's `kernel_wait4` accepts: `__WNOTHREAD` and
/// `__WALL` are about threads, and every process has one, so they change
/// nothing, but they are not errors either. `__WCLONE` (0x8000_0000) asks
/// for children whose exit signal is not SIGCHLD: every child here is a
/// fork (`clone(SIGCHLD)`), so with it there is no child to wait for.
const __WNOTHREAD: u32 = 0x2000_0000;
const __WALL: u32 = 0x4000_0000;
const __WCLONE: u32 = 0x8000_0000;

/// Is `task` a zombie, ready to be reaped: dead *and* off its CPU for the
/// last time (what `JoinHandle::join` waits for, so the join after this
/// returns at once)?
fn is_zombie(task: &crate::sched::task::Task) -> bool {
    task.state() == crate::sched::task::TASK_DEAD && !task.on_cpu.load(core::sync::atomic::Ordering::Acquire)
}

/// `wait4(pid, status, options, rusage)`: wait for a child to end and
/// reap it, or, with `WUNTRACED` / `WCONTINUED`, for one to stop or to be
/// continued (Linux `kernel/exit.c`, `kernel_wait4` and `do_wait`).
///
/// Which children it may reap: `pid` > 0 that one; -1 any; 0 any child in
/// the caller's process group; `pid` < -1 any child in process group
/// `-pid` (groups: kernel/src/signal.rs, `setpgid`); `-ECHILD` when none
/// matches, as Linux says for a group with none of ours in it.
///
/// Among those, the first that has something to report, in the order the
/// children were forked (Linux walks `->children` the same way, and asks
/// each, in `wait_consider_task`: a zombie? stopped and not yet reported
/// (`WUNTRACED`)? continued and not yet reported (`WCONTINUED`)?). A
/// zombie is reaped and its pid returned; a stop or a continue is
/// reported once (the next `wait4` does not see it again) and the child
/// stays. If none has anything, it sleeps until *any* of them exits,
/// stops or continues (signal.rs wakes the same queue then), not the
/// oldest in particular:
/// the waiter is on every candidate's exit wait queue at once (Linux has
/// one queue per parent, `signal->wait_chldexit`, that each child's
/// `do_notify_parent` wakes; a queue per child, the one `join` already
/// uses, needs no change to the scheduler and wakes the same task). With
/// `WNOHANG` it returns 0 instead of sleeping.
///
/// The wait status goes to `*status` if it is not NULL, then the child's
/// `struct rusage` to `*rusage` if that is not NULL ([`put_rusage`]:
/// busybox's `time` asks for it). Errors as Linux's: `-EINVAL` for an
/// unknown option bit, `-ESRCH` for `pid` == `INT_MIN` (its negation does
/// not exist), `-ECHILD` when no child matches, `-EFAULT` for a bad
/// `status` or `rusage` pointer (the child is reaped all the same, as on
/// Linux).
pub fn sys_wait4(regs: &mut PtRegs) -> i32 {
    let (pid, status_ptr, options, rusage) = (regs.bx as i32, regs.cx as usize, regs.dx, regs.si);
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE) != 0 {
        return -crate::errno::EINVAL;
    }
    if pid == i32::MIN {
        return -crate::errno::ESRCH;
    }
    let me = crate::sched::current();
    // Which children may be reaped. (The list changes only by this task's
    // own fork and wait4, so it stays put while we sleep.)
    let my_pgid = me.signal.pgid();
    let wanted = |t: &crate::sched::task::Task| options & __WCLONE == 0 && match pid {
        -1 => true,
        0 => t.signal.pgid() == my_pgid,
        p if p > 0 => t.id() as i32 == p,
        p => t.signal.pgid() == p.unsigned_abs(),
    };
    let (untraced, continued) = (options & WUNTRACED != 0, options & WCONTINUED != 0);
    let reportable = |t: &crate::sched::task::Task| is_zombie(t) || t.signal.wait_report(untraced, continued, false).is_some();
    let handle = loop {
        let candidates: alloc::vec::Vec<_> = {
            let mut children = me.children.lock();
            let mut found = None;
            for (i, h) in children.iter().enumerate().filter(|(_, h)| wanted(h.task())) {
                if is_zombie(h.task()) {
                    found = Some(Ok(i));
                    break;
                }
                if let Some(status) = h.task().signal.wait_report(untraced, continued, true) {
                    found = Some(Err((h.task().id() as i32, status)));
                    break;
                }
            }
            match found {
                Some(Ok(i)) => break children.remove(i),
                Some(Err((child, status))) => {
                    let ru = rusage_of(children.iter().find(|h| h.task().id() as i32 == child).expect("found above").task());
                    drop(children);
                    return put_status(child, status_ptr, status, rusage as usize, &ru);
                }
                None => {}
            }
            children.iter().filter(|h| wanted(h.task())).map(|h| h.task().clone()).collect()
        };
        if candidates.is_empty() {
            return -crate::errno::ECHILD;
        }
        if options & WNOHANG != 0 {
            return 0;
        }
        // Sleep on every candidate's exit queue (Linux `add_wait_queue` on
        // wait_chldexit, then `schedule`): queued and asleep first, then
        // the check, so an exit between the check above and the sleep
        // wakes us (see sched/wait.rs). TASK_INTERRUPTIBLE, as Linux's
        // do_wait: a signal ends the wait with -ERESTARTSYS (-EINTR after
        // a handler without SA_RESTART, a restart otherwise); a child that
        // is already a zombie wins (the loop looks again first).
        crate::sched::preempt::might_sleep();
        let mut waiter = None;
        for c in &candidates {
            waiter = Some(c.exit_wait.prepare_to_wait_interruptible());
        }
        if !candidates.iter().any(|c| reportable(c)) && !crate::signal::signal_pending() {
            crate::sched::schedule();
        }
        let waiter = waiter.expect("at least one candidate");
        for c in &candidates {
            c.exit_wait.finish_wait(&waiter);
        }
        if !candidates.iter().any(|c| reportable(c)) && crate::signal::signal_pending() {
            return -crate::errno::ERESTARTSYS;
        }
    };
    let child = handle.task().id() as i32;
    let ru = rusage_of(handle.task());
    let status = handle.join();
    put_status(child, status_ptr, status, rusage as usize, &ru)
}

/// Linux's i386 `struct rusage`: two `struct timeval` (user and system
/// CPU time) and fourteen longs, 72 bytes.
const RUSAGE_SIZE: usize = 72;

/// A child's `struct rusage`, as wait4 reports it (Linux `getrusage(p,
/// RUSAGE_BOTH)`), with what this kernel counts: `ru_nvcsw` (offset 64),
/// the times it left a CPU other than by preemption, and `ru_nivcsw`
/// (68), the times it was preempted (`Task::nr_sched_out`,
/// `nr_preemptions`). Where we differ from Linux 6.1: there is no CPU-time
/// accounting yet (no per-tick charge to user or system time), so
/// `ru_utime` and `ru_stime` read 0, and so do `ru_maxrss`, the fault
/// and block counts; and the counts are the child's own, without those of
/// its own reaped children (Linux's `signal->c*`). The rest is 0 on Linux
/// too.
fn rusage_of(t: &crate::sched::task::Task) -> [u8; RUSAGE_SIZE] {
    use core::sync::atomic::Ordering::Relaxed;
    let out = t.nr_sched_out.load(Relaxed);
    let preempted = t.nr_preemptions.load(Relaxed);
    let mut ru = [0u8; RUSAGE_SIZE];
    ru[64..68].copy_from_slice(&(out.saturating_sub(preempted) as u32).to_le_bytes());
    ru[68..72].copy_from_slice(&(preempted as u32).to_le_bytes());
    ru
}

/// wait4's last step: the wait status to `*status_ptr` (if not NULL),
/// then the rusage to `*rusage_ptr` (if not NULL), and the child's pid
/// returned, or `-EFAULT` for a bad pointer (what was reported stays
/// reported, as on Linux, whose `wait4` copies the rusage after
/// `kernel_wait4` stored the status).
fn put_status(child: i32, status_ptr: usize, status: i32, rusage_ptr: usize, ru: &[u8; RUSAGE_SIZE]) -> i32 {
    if status_ptr != 0 && crate::arch::lib::usercopy_32::copy_to_user(status_ptr, &status.to_le_bytes()) != 0 {
        return -crate::errno::EFAULT;
    }
    if rusage_ptr != 0 && crate::arch::lib::usercopy_32::copy_to_user(rusage_ptr, ru) != 0 {
        return -crate::errno::EFAULT;
    }
    child
}
