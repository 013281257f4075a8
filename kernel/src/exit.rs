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

/// `WNOHANG`: `wait4` returns 0 at once if the child has not ended.
const WNOHANG: u32 = 1;

/// Is `task` a zombie, ready to be reaped: dead *and* off its CPU for the
/// last time (what `JoinHandle::join` waits for, so the join after this
/// returns at once)?
fn is_zombie(task: &crate::sched::task::Task) -> bool {
    task.state() == crate::sched::task::TASK_DEAD && !task.on_cpu.load(core::sync::atomic::Ordering::Acquire)
}

/// `wait4(pid, status, options, rusage)`: wait for a child to end and
/// reap it (Linux `kernel/exit.c`). `pid` > 0 waits for that child; -1 for
/// the oldest one not yet reaped (Linux takes whichever ends first: a
/// difference, fine for one child at a time). The wait status goes to
/// `*status` if it is not NULL; `rusage` must be NULL. `-ECHILD` when
/// there is no such child, `-EFAULT` for a bad `status` pointer (the child
/// is reaped all the same, as on Linux).
pub fn sys_wait4(regs: &mut PtRegs) -> i32 {
    let (pid, status_ptr, options, rusage) = (regs.bx as i32, regs.cx as usize, regs.dx, regs.si);
    if options & !WNOHANG != 0 || rusage != 0 {
        return -crate::errno::EINVAL;
    }
    let me = crate::sched::current();
    let handle = loop {
        let child = {
            let mut children = me.children.lock();
            let Some(i) = children.iter().position(|h| pid == -1 || h.task().id() as i32 == pid) else {
                return -crate::errno::ECHILD;
            };
            if is_zombie(children[i].task()) {
                break children.remove(i);
            }
            if options & WNOHANG != 0 {
                return 0;
            }
            children[i].task().clone()
        };
        // TASK_INTERRUPTIBLE, as Linux's do_wait: a signal ends the wait
        // with -ERESTARTSYS (-EINTR after a handler without SA_RESTART, a
        // restart otherwise); a child that is already a zombie wins.
        if let Err(e) = child.exit_wait.wait_event_interruptible(|| is_zombie(&child)) {
            return e;
        }
    };
    let child = handle.task().id() as i32;
    let status = handle.join();
    if status_ptr != 0 && crate::arch::lib::usercopy_32::copy_to_user(status_ptr, &status.to_le_bytes()) != 0 {
        return -crate::errno::EFAULT;
    }
    child
}
