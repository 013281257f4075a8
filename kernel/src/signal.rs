//! POSIX signals for i386 processes (Linux `kernel/signal.c`; the frames a
//! handler runs on are in `arch/x86/kernel/signal.rs`).
//!
//! ```text
//!  sender: kill / tgkill / a fault / a child's exit / ^C on the tty
//!    send_signal_locked   under the target's siglock: dropped if ignored,
//!                         a standard signal already pending is not queued
//!                         twice; the pending bit and its siginfo are set
//!    complete_signal      not blocked?  -> TIF_SIGPENDING (`sigpending`),
//!                         wake an interruptible sleep, kick its CPU
//!  target, on its way back to user mode (system call, interrupt, fault):
//!    do_signal            get_signal: the lowest pending unblocked signal
//!                         (synchronous faults first);
//!                         SIG_IGN / default-ignore -> drop it
//!                         default stop             -> TASK_STOPPED until SIGCONT
//!                         default terminate/core   -> do_exit(wait status sig)
//!                         a handler -> restart or -EINTR for an interrupted
//!                         call, setup_rt_frame / setup_frame on the user
//!                         stack, blocked |= sa_mask (| sig unless SA_NODEFER)
//!    iret into the handler; it returns through pretcode (SA_RESTORER or
//!    the frame's retcode) into rt_sigreturn / sigreturn, which puts back
//!    every register and the old mask
//! ```
//!
//! Every task has its own pending set and blocked mask (Linux
//! `task->pending`, `->blocked`); the handlers (`sighand`) and the process
//! group and session (`signal->pgrp`, `->session`) are per process in
//! Linux: with one thread per process here they live in the task too.
//! Where we differ from Linux 6.1 (each said again where it happens):
//! real-time signals (32..=64) are not queued more than once each (Linux
//! queues every instance); there is no shared (process-wide) pending set,
//! no `sigaltstack` (`SA_ONSTACK` is accepted and ignored: the frame goes on
//! the current stack), no core dumps (a core signal's wait status is the
//! signal number alone, which is what Linux gives when no core is written,
//! e.g. with `ulimit -c 0`), no FPU state in the frame (`fpstate` is 0: a
//! handler that uses the FPU or SSE clobbers the interrupted code's
//! registers), no uids (every sender may signal every process), no
//! re-parenting of orphans, and `SA_NOCLDWAIT` / `SIGCHLD` set to `SIG_IGN`
//! do not reap children automatically.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::arch::entry::PtRegs;
use crate::errno::{EFAULT, EINTR, EINVAL, EPERM, ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ESRCH};
use crate::locking::SpinLock;
use crate::sched::task::Task;

/// Signals numbered 1..=64 (Linux `_NSIG` on i386).
pub const NSIG: usize = 64;

/// Hangup.
pub const SIGHUP: i32 = 1;
/// Interrupt from the keyboard (^C).
pub const SIGINT: i32 = 2;
/// Quit from the keyboard (^\).
pub const SIGQUIT: i32 = 3;
/// Illegal instruction.
pub const SIGILL: i32 = 4;
/// Trace or breakpoint trap.
pub const SIGTRAP: i32 = 5;
/// Abort (`abort()`).
pub const SIGABRT: i32 = 6;
/// Bus error: a mapping that cannot be filled, a misaligned access.
pub const SIGBUS: i32 = 7;
/// Arithmetic exception.
pub const SIGFPE: i32 = 8;
/// Kill: cannot be caught, blocked or ignored.
pub const SIGKILL: i32 = 9;
/// User-defined 1.
pub const SIGUSR1: i32 = 10;
/// Segmentation violation.
pub const SIGSEGV: i32 = 11;
/// User-defined 2.
pub const SIGUSR2: i32 = 12;
/// Write to a pipe with no readers.
pub const SIGPIPE: i32 = 13;
/// Timer (`alarm`).
pub const SIGALRM: i32 = 14;
/// Termination request.
pub const SIGTERM: i32 = 15;
/// A child stopped or ended.
pub const SIGCHLD: i32 = 17;
/// Continue if stopped.
pub const SIGCONT: i32 = 18;
/// Stop: cannot be caught, blocked or ignored.
pub const SIGSTOP: i32 = 19;
/// Stop from the terminal (^Z).
pub const SIGTSTP: i32 = 20;
/// Background read from the terminal.
pub const SIGTTIN: i32 = 21;
/// Background write to the terminal.
pub const SIGTTOU: i32 = 22;
/// Urgent data on a socket.
pub const SIGURG: i32 = 23;
/// CPU time limit.
pub const SIGXCPU: i32 = 24;
/// File size limit.
pub const SIGXFSZ: i32 = 25;
/// Window size change.
pub const SIGWINCH: i32 = 28;
/// Bad system call.
pub const SIGSYS: i32 = 31;

/// `sa_handler` values.
pub const SIG_DFL: u32 = 0;
/// Ignore the signal.
pub const SIG_IGN: u32 = 1;

/// `sa_flags` (arch/x86/include/uapi/asm/signal.h, asm-generic).
pub const SA_NOCLDSTOP: u32 = 0x0000_0001;
/// Do not turn children into zombies (accepted; not acted on here).
pub const SA_NOCLDWAIT: u32 = 0x0000_0002;
/// The handler takes (sig, siginfo *, ucontext *): the rt frame.
pub const SA_SIGINFO: u32 = 0x0000_0004;
/// Never set in the uapi: a program tests for unknown-flag clearing with it.
pub const SA_UNSUPPORTED: u32 = 0x0000_0400;
/// Expose tag bits in si_addr (arm64's; accepted).
pub const SA_EXPOSE_TAGBITS: u32 = 0x0000_0800;
/// `sa_restorer` holds the return trampoline (C libraries always set it).
pub const SA_RESTORER: u32 = 0x0400_0000;
/// Run on the alternate stack (no sigaltstack here: accepted, ignored).
pub const SA_ONSTACK: u32 = 0x0800_0000;
/// Restart a system call the signal interrupted.
pub const SA_RESTART: u32 = 0x1000_0000;
/// Do not block the signal while its handler runs.
pub const SA_NODEFER: u32 = 0x4000_0000;
/// Back to SIG_DFL once delivered.
pub const SA_RESETHAND: u32 = 0x8000_0000;
/// The flags Linux keeps and reports back (`UAPI_SA_FLAGS`, x86): any
/// other bit is cleared, so a program can tell what the kernel knows.
pub const UAPI_SA_FLAGS: u32 = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER
    | SA_RESETHAND | SA_EXPOSE_TAGBITS | SA_RESTORER;

/// `rt_sigprocmask`'s `how`.
pub const SIG_BLOCK: u32 = 0;
/// Unblock the given signals.
pub const SIG_UNBLOCK: u32 = 1;
/// Replace the mask.
pub const SIG_SETMASK: u32 = 2;

/// `si_code`s (include/uapi/asm-generic/siginfo.h).
pub const SI_USER: i32 = 0;
/// Sent by the kernel.
pub const SI_KERNEL: i32 = 0x80;
/// Sent by tkill / tgkill.
pub const SI_TKILL: i32 = -6;
/// SIGSEGV: no mapping at the address.
pub const SEGV_MAPERR: i32 = 1;
/// SIGSEGV: a mapping that forbids the access.
pub const SEGV_ACCERR: i32 = 2;
/// SIGBUS: misaligned address.
pub const BUS_ADRALN: i32 = 1;
/// SIGBUS: nonexistent physical address.
pub const BUS_ADRERR: i32 = 2;
/// SIGILL: illegal operand... and illegal opcode (`ILL_ILLOPN`).
pub const ILL_ILLOPN: i32 = 2;
/// SIGILL: internal stack error (a faulting `iret`).
pub const ILL_BADSTK: i32 = 8;
/// SIGFPE: integer divide by zero.
pub const FPE_INTDIV: i32 = 1;
/// SIGCHLD: exited.
pub const CLD_EXITED: i32 = 1;
/// SIGCHLD: killed by a signal.
pub const CLD_KILLED: i32 = 2;
/// SIGCHLD: killed, with a core dump.
pub const CLD_DUMPED: i32 = 3;
/// SIGCHLD: stopped.
pub const CLD_STOPPED: i32 = 5;
/// SIGCHLD: continued.
pub const CLD_CONTINUED: i32 = 6;

/// The bit of signal `sig` in a `sigset_t` (signal 1 is bit 0).
pub const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// Signals that can be neither caught, blocked nor ignored.
const SIG_KERNEL_ONLY: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);
/// Default action: stop.
const SIG_KERNEL_STOP: u64 = sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU);
/// Default action: ignore.
const SIG_KERNEL_IGNORE: u64 = sigmask(SIGCONT) | sigmask(SIGCHLD) | sigmask(SIGWINCH) | sigmask(SIGURG);
/// Default action: terminate with a core dump (we write no core: see the
/// module comment).
const SIG_KERNEL_COREDUMP: u64 = sigmask(SIGQUIT) | sigmask(SIGILL) | sigmask(SIGTRAP) | sigmask(SIGABRT)
    | sigmask(SIGFPE) | sigmask(SIGSEGV) | sigmask(SIGBUS) | sigmask(SIGSYS) | sigmask(SIGXCPU) | sigmask(SIGXFSZ);
/// The faults a task raises on itself, dequeued before anything else
/// (Linux `SYNCHRONOUS_MASK`): the handler must see the fault that the
/// instruction it returns to will raise again.
const SYNCHRONOUS_MASK: u64 = sigmask(SIGSEGV) | sigmask(SIGBUS) | sigmask(SIGILL) | sigmask(SIGTRAP) | sigmask(SIGFPE) | sigmask(SIGSYS);

/// Is `sig` a signal number (1..=64)?
pub fn valid_signal(sig: i32) -> bool {
    (1..=NSIG as i32).contains(&sig)
}

/// One `sigaction` (Linux `struct k_sigaction`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSigAction {
    /// SIG_DFL, SIG_IGN, or the handler's address.
    pub handler: u32,
    /// SA_* bits (only `UAPI_SA_FLAGS` are kept).
    pub flags: u32,
    /// The return trampoline, with SA_RESTORER.
    pub restorer: u32,
    /// Blocked while the handler runs.
    pub mask: u64,
}

/// What a signal carries (Linux `kernel_siginfo`, the fields used here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSigInfo {
    /// The signal.
    pub signo: i32,
    /// An errno (always 0 here).
    pub errno: i32,
    /// SI_USER, SI_KERNEL, SI_TKILL, or the signal's own code.
    pub code: i32,
    /// The sender (kill) or the child (SIGCHLD).
    pub pid: u32,
    /// The sender's uid (always 0: no uids here).
    pub uid: u32,
    /// SIGCHLD: the exit code or the signal.
    pub status: i32,
    /// Faults: the address.
    pub addr: u32,
}

impl KSigInfo {
    /// Linux's 128-byte `siginfo_t` for i386, laid out as
    /// `siginfo_layout` says for this signal and code.
    pub fn to_user(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        let mut put = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        put(0, self.signo as u32);
        put(4, self.errno as u32);
        put(8, self.code as u32);
        let sig_specific = self.code > SI_USER && self.code < SI_KERNEL;
        match self.signo {
            SIGILL | SIGFPE | SIGSEGV | SIGBUS | SIGTRAP if sig_specific => put(12, self.addr),
            SIGCHLD if sig_specific => {
                put(12, self.pid);
                put(16, self.uid);
                put(20, self.status as u32);
            }
            _ => {
                put(12, self.pid);
                put(16, self.uid);
            }
        }
        b
    }
}

/// What a pending restart block resumes (Linux `struct restart_block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartBlock {
    /// `nanosleep` / `clock_nanosleep(_time64)`: sleep until this jiffy,
    /// writing what is left to `rmtp`, a 64-bit `struct __kernel_timespec`
    /// if `wide` (Linux `TT_NATIVE`) else the 32-bit one (`TT_COMPAT`).
    Nanosleep { deadline: u64, rmtp: u32, wide: bool },
}

/// The part under the siglock.
struct SigInner {
    pending: u64,
    blocked: u64,
    /// The siginfo of each pending signal (one per signal: see the module
    /// comment about real-time signals).
    info: [KSigInfo; NSIG],
    action: [KSigAction; NSIG],
    /// `rt_sigsuspend`'s mask to put back once a handler's frame holds it
    /// (Linux `saved_sigmask` + `TIF_RESTORE_SIGMASK`).
    saved_sigmask: Option<u64>,
    /// A stop signal's default action took effect; SIGCONT or SIGKILL ends it.
    stopped: bool,
    /// The stop signal that `wait4(WUNTRACED)` has still to report, 0 when
    /// there is none (Linux `signal->group_exit_code` while
    /// `SIGNAL_STOP_STOPPED`): set when the task stops, taken by the
    /// report, and dropped by SIGCONT or SIGKILL (a stop already ended is
    /// not reported).
    stop_code: i32,
    /// Continued by SIGCONT, not yet reported to `wait4(WCONTINUED)`
    /// (Linux `SIGNAL_STOP_CONTINUED`): set by the sender, as Linux's
    /// `prepare_signal` does, so a parent's `kill(SIGCONT)` then
    /// `wait4(WCONTINUED | WNOHANG)` finds it; a new stop drops it.
    continued: bool,
    /// The parent is still to be told CLD_CONTINUED (Linux
    /// `SIGNAL_CLD_CONTINUED`): the continued task does it when it runs.
    notify_continued: bool,
    /// What `restart_syscall` resumes.
    restart: Option<RestartBlock>,
    /// The last fault's vector, error code and address, for the sigcontext
    /// (Linux `thread.trap_nr`, `error_code`, `cr2`).
    trap: (u32, u32, u32),
}

/// A task's signal state (Linux: `pending`, `blocked`, `sighand`, and the
/// parts of `signal_struct` used here).
pub struct SigState {
    inner: SpinLock<SigInner>,
    /// Some pending signal is not blocked (Linux `TIF_SIGPENDING`): the
    /// lockless test `signal_pending()` reads.
    sigpending: AtomicBool,
    /// Its process group and session (Linux `task_pgrp`, `task_session`).
    pgid: AtomicU32,
    sid: AtomicU32,
    /// A process (it has or had an address space): kill() reaches it.
    user: AtomicBool,
    /// The console is its controlling terminal (Linux `signal->tty`; there
    /// is one terminal, so a flag says it). Inherited at fork, dropped by
    /// `setsid` and `TIOCNOTTY`; the tty keeps the session it belongs to.
    ctty: AtomicBool,
    /// It called execve since its fork (setpgid by the parent: -EACCES).
    did_exec: AtomicBool,
}

/// What a child gets from its parent at fork (Linux `copy_sighand`,
/// `copy_signal`, the blocked mask; nothing pending).
#[derive(Clone, Copy)]
pub struct ForkSignals {
    action: [KSigAction; NSIG],
    blocked: u64,
    pgid: u32,
    sid: u32,
    ctty: bool,
}

impl SigState {
    /// Nothing pending or blocked, every action SIG_DFL, group and session 0
    /// (what Linux's kernel-started processes have until `setsid`).
    pub const fn new() -> SigState {
        SigState {
            inner: SpinLock::new(SigInner {
                pending: 0,
                blocked: 0,
                info: [KSigInfo { signo: 0, errno: 0, code: 0, pid: 0, uid: 0, status: 0, addr: 0 }; NSIG],
                action: [KSigAction { handler: 0, flags: 0, restorer: 0, mask: 0 }; NSIG],
                saved_sigmask: None,
                stopped: false,
                stop_code: 0,
                continued: false,
                notify_continued: false,
                restart: None,
                trap: (0, 0, 0),
            }),
            sigpending: AtomicBool::new(false),
            pgid: AtomicU32::new(0),
            sid: AtomicU32::new(0),
            user: AtomicBool::new(false),
            ctty: AtomicBool::new(false),
            did_exec: AtomicBool::new(false),
        }
    }

    /// Mark the task a process (it got an address space).
    pub fn set_user(&self) {
        self.user.store(true, Ordering::Relaxed);
    }

    /// Is it a process?
    pub fn is_user(&self) -> bool {
        self.user.load(Ordering::Relaxed)
    }

    /// Its process group.
    pub fn pgid(&self) -> u32 {
        self.pgid.load(Ordering::SeqCst)
    }

    /// Its session.
    pub fn sid(&self) -> u32 {
        self.sid.load(Ordering::SeqCst)
    }

    /// Is the console its controlling terminal (Linux `signal->tty`)?
    pub fn has_ctty(&self) -> bool {
        self.ctty.load(Ordering::SeqCst)
    }

    /// Give it the console as controlling terminal, or take it away
    /// (tty.rs: `__proc_set_tty`, `proc_clear_tty`).
    pub fn set_ctty(&self, on: bool) {
        self.ctty.store(on, Ordering::SeqCst);
    }

    /// Make it the leader of a new session and group of its own (what
    /// `setsid()` does, for kernel-started programs: tty.rs's init set-up
    /// and the tests). Returns the session's id.
    pub fn make_session_leader(&self, id: u32) -> u32 {
        self.sid.store(id, Ordering::SeqCst);
        self.pgid.store(id, Ordering::SeqCst);
        self.ctty.store(false, Ordering::SeqCst);
        id
    }

    /// Put it in session `sid` and group `pgid` (tests restoring what they
    /// changed).
    pub fn set_session(&self, sid: u32, pgid: u32, ctty: bool) {
        self.sid.store(sid, Ordering::SeqCst);
        self.pgid.store(pgid, Ordering::SeqCst);
        self.ctty.store(ctty, Ordering::SeqCst);
    }

    /// Throw away every pending signal (Linux `flush_signals`, which kernel
    /// threads call: a kernel task never returns to user mode to take
    /// them, so the tests that make one get signals drop them after).
    pub fn flush_signals(&self) {
        let mut i = self.inner.lock_irqsave();
        i.pending = 0;
        self.recalc(&i);
    }

    /// Is `sig` ignored or blocked (Linux tty_jobctrl.c `is_ignored`)?
    pub fn is_ignored(&self, sig: i32) -> bool {
        let i = self.inner.lock_irqsave();
        i.blocked & sigmask(sig) != 0 || i.action[sig as usize - 1].handler == SIG_IGN
    }

    /// Move it to process group `pgid` (setpgid's last step).
    pub fn set_pgid(&self, pgid: u32) {
        self.pgid.store(pgid, Ordering::SeqCst);
    }

    /// The siginfo kept for pending signal `sig` (for tests).
    pub fn pending_info(&self, sig: i32) -> KSigInfo {
        self.inner.lock_irqsave().info[sig as usize - 1]
    }

    /// Pending signals (for tests and reports).
    pub fn pending(&self) -> u64 {
        self.inner.lock_irqsave().pending
    }

    /// Blocked signals.
    pub fn blocked(&self) -> u64 {
        self.inner.lock_irqsave().blocked
    }

    /// Its action for `sig`.
    pub fn action(&self, sig: i32) -> KSigAction {
        self.inner.lock_irqsave().action[sig as usize - 1]
    }

    /// Is a signal pending that it does not block?
    pub fn has_pending(&self) -> bool {
        self.sigpending.load(Ordering::SeqCst)
    }

    /// What a fork copies.
    pub fn fork_copy(&self) -> ForkSignals {
        let i = self.inner.lock_irqsave();
        ForkSignals { action: i.action, blocked: i.blocked, pgid: self.pgid(), sid: self.sid(), ctty: self.has_ctty() }
    }

    /// Give a new child what `fork_copy` took (before it first runs).
    pub fn fork_apply(&self, f: &ForkSignals) {
        let mut i = self.inner.lock_irqsave();
        i.action = f.action;
        i.blocked = f.blocked;
        self.pgid.store(f.pgid, Ordering::SeqCst);
        self.sid.store(f.sid, Ordering::SeqCst);
        self.ctty.store(f.ctty, Ordering::SeqCst);
        self.user.store(true, Ordering::Relaxed);
    }

    /// Recompute `sigpending` (Linux `recalc_sigpending`), siglock held.
    fn recalc(&self, i: &SigInner) {
        self.sigpending.store(i.pending & !i.blocked != 0, Ordering::SeqCst);
    }

    /// Record the fault that the coming signal reports (for the sigcontext).
    pub fn set_trap(&self, trap_nr: u32, error_code: u32, cr2: u32) {
        self.inner.lock_irqsave().trap = (trap_nr, error_code, cr2);
    }

    /// The last fault's (vector, error code, address).
    pub fn trap(&self) -> (u32, u32, u32) {
        self.inner.lock_irqsave().trap
    }

    /// Replace the blocked mask (never SIGKILL or SIGSTOP: Linux
    /// `set_current_blocked`).
    pub fn set_blocked(&self, mask: u64) {
        let mut i = self.inner.lock_irqsave();
        i.blocked = mask & !SIG_KERNEL_ONLY;
        self.recalc(&i);
    }

    /// Set or clear the restart block.
    pub fn set_restart(&self, r: Option<RestartBlock>) {
        self.inner.lock_irqsave().restart = r;
    }

    /// Take the restart block.
    pub fn take_restart(&self) -> Option<RestartBlock> {
        self.inner.lock_irqsave().restart.take()
    }

    /// What `wait4` has to report about this child short of its death,
    /// as a wait status, taken (reported once) if `take`: a stop, asked
    /// for with `untraced` (Linux `wait_task_stopped`: `(sig << 8) | 0x7f`,
    /// which WIFSTOPPED and WSTOPSIG read), before a continue, asked for
    /// with `continued` (`wait_task_continued`: 0xffff, WIFCONTINUED).
    /// Only one of them can be there: a stop drops the continue, SIGCONT
    /// drops the stop.
    pub fn wait_report(&self, untraced: bool, continued: bool, take: bool) -> Option<i32> {
        let mut i = self.inner.lock_irqsave();
        if untraced && i.stopped && i.stop_code != 0 {
            let status = (i.stop_code << 8) | 0x7f;
            if take {
                i.stop_code = 0;
            }
            return Some(status);
        }
        if continued && i.continued {
            if take {
                i.continued = false;
            }
            return Some(0xffff);
        }
        None
    }
}

impl Default for SigState {
    fn default() -> Self {
        Self::new()
    }
}

/// Does the current task have a signal to handle (Linux
/// `signal_pending(current)`)? The interruptible sleeps test it after
/// marking themselves TASK_INTERRUPTIBLE and before `schedule()`, and end
/// with `-ERESTARTSYS` (or `-EINTR`) when it is true.
pub fn signal_pending() -> bool {
    crate::sched::current_opt().is_some_and(|t| t.signal.has_pending())
}

/// Would `sig` be dropped at once if sent to a task with these actions
/// and mask (Linux `sig_ignored`)? A blocked signal is kept (the handler
/// may change before it is unblocked); SIGKILL and SIGSTOP never are.
fn sig_ignored(i: &SigInner, sig: i32) -> bool {
    if i.blocked & sigmask(sig) != 0 || SIG_KERNEL_ONLY & sigmask(sig) != 0 {
        return false;
    }
    let h = i.action[sig as usize - 1].handler;
    h == SIG_IGN || (h == SIG_DFL && SIG_KERNEL_IGNORE & sigmask(sig) != 0)
}

/// Is `sig` with `info` one the global init never gets (Linux
/// `sig_task_ignored` for `is_global_init` and `SIGNAL_UNKILLABLE`)?
/// SIGKILL and SIGSTOP may not be sent to it at all; any other signal
/// it has no handler for is dropped (a terminal's SIGINT too), unless it
/// is forced: a fault's signal, which the kernel sends with a positive
/// `si_code` (SEGV_MAPERR, ILL_ILLOPN, SI_KERNEL for a #GP, ...; Linux
/// `force_sig_info_to_task` takes `SIGNAL_UNKILLABLE` away first, and
/// init dies of it). The same signal from a program (`SI_USER`,
/// `SI_TKILL`, `SI_QUEUE`: a `si_code` of 0 or less) is not forced.
fn init_ignores(i: &SigInner, sig: i32, info: &KSigInfo) -> bool {
    if SIG_KERNEL_ONLY & sigmask(sig) != 0 {
        return true;
    }
    i.blocked & sigmask(sig) == 0 && i.action[sig as usize - 1].handler == SIG_DFL && !forced(sig, info)
}

/// A fault's signal, sent by the kernel (see [`init_ignores`]).
fn forced(sig: i32, info: &KSigInfo) -> bool {
    SYNCHRONOUS_MASK & sigmask(sig) != 0 && info.code > 0
}

/// Send `sig` with `info` to `t` (Linux `send_signal_locked` +
/// `complete_signal` + `signal_wake_up`). Safe from any context, interrupt
/// handlers and the context switch included.
pub fn send_signal(sig: i32, info: KSigInfo, t: &alloc::sync::Arc<Task>) {
    let mut wake_stopped = false;
    let wake;
    {
        let mut i = t.signal.inner.lock_irqsave();
        // prepare_signal: a stop signal cancels a pending SIGCONT, SIGCONT
        // cancels pending stops and resumes a stopped task; SIGKILL too.
        if SIG_KERNEL_STOP & sigmask(sig) != 0 {
            i.pending &= !sigmask(SIGCONT);
        } else if sig == SIGCONT || sig == SIGKILL {
            i.pending &= !SIG_KERNEL_STOP;
            if i.stopped {
                i.stopped = false;
                i.stop_code = 0;
                wake_stopped = true;
                if sig == SIGCONT {
                    // Reported to wait4(WCONTINUED) from now; the parent's
                    // SIGCHLD comes from the task itself when it runs
                    // (Linux: SIGNAL_STOP_CONTINUED | SIGNAL_CLD_CONTINUED).
                    // SIGKILL ends the stop too, but the task dies: its
                    // parent hears of the death only.
                    i.continued = true;
                    i.notify_continued = true;
                }
            }
        }
        let init_drops = crate::init::is_global_init(t) && init_ignores(&i, sig, &info);
        if init_drops || sig_ignored(&i, sig) || (sig < 32 && i.pending & sigmask(sig) != 0) {
            // Ignored (by init too), or a standard signal already
            // pending: one is enough.
            t.signal.recalc(&i);
            drop(i);
            if wake_stopped {
                crate::sched::wake_up_state(t, crate::sched::task::TASK_STOPPED);
            }
            return;
        }
        i.pending |= sigmask(sig);
        i.info[sig as usize - 1] = KSigInfo { signo: sig, ..info };
        t.signal.recalc(&i);
        wake = i.blocked & sigmask(sig) == 0;
    }
    if wake_stopped {
        crate::sched::wake_up_state(t, crate::sched::task::TASK_STOPPED);
    }
    if wake {
        signal_wake_up(t);
    }
}

/// Make `t` notice its signal (Linux `signal_wake_up`): wake it if it
/// sleeps interruptibly, else, if it is running on another CPU, interrupt
/// that CPU (`kick_process`) so it passes through the return-to-user check.
fn signal_wake_up(t: &alloc::sync::Arc<Task>) {
    if !crate::sched::wake_up_state(t, crate::sched::task::TASK_INTERRUPTIBLE)
        && t.on_cpu.load(Ordering::Acquire)
        && t.cpu() != crate::arch::percpu::raw_smp_processor_id()
    {
        crate::smp::smp_send_reschedule(t.cpu());
    }
}

/// The caller's pid, or 0 from a context without a process.
fn current_pid() -> u32 {
    crate::sched::current_opt().map_or(0, |t| t.id())
}

/// `send_sig(sig, task)`: a signal from the current task (Linux
/// `send_sig(sig, p, 0)`: `si_code` SI_USER, `si_pid` the sender), as
/// `pipe_write` sends SIGPIPE to itself.
pub fn send_sig(sig: i32, t: &Task) {
    let info = KSigInfo { code: SI_USER, pid: current_pid(), ..Default::default() };
    if let Some(t) = task_arc(t) {
        send_signal(sig, info, &t);
    }
}

/// The shared handle of `t` (the current task's, or from the task list;
/// `None` for a task already gone), which waking it needs.
fn task_arc(t: &Task) -> Option<alloc::sync::Arc<Task>> {
    if crate::sched::current_opt().is_some_and(|c| core::ptr::eq(c, t)) {
        return Some(crate::sched::current_arc());
    }
    crate::sched::task::ALL_TASKS.lock_irqsave().iter().find(|a| core::ptr::eq(&***a, t)).cloned()
}

/// Every process, for kill's searches (a copy of the list: sending may
/// wake tasks, which must not happen under the list's lock).
fn processes() -> alloc::vec::Vec<alloc::sync::Arc<Task>> {
    crate::sched::task::ALL_TASKS
        .lock_irqsave()
        .iter()
        .filter(|t| t.signal.is_user() && t.state() != crate::sched::task::TASK_DEAD)
        .cloned()
        .collect()
}

/// The process with pid `pid`.
pub fn find_task(pid: u32) -> Option<alloc::sync::Arc<Task>> {
    crate::sched::task::ALL_TASKS
        .lock_irqsave()
        .iter()
        .find(|t| t.id() == pid && t.signal.is_user() && t.state() != crate::sched::task::TASK_DEAD)
        .cloned()
}

/// Send `sig` to every process in group `pgrp` with `info` (Linux
/// `__kill_pgrp_info`); `-ESRCH` if there is none, else 0.
fn kill_pgrp_info(sig: i32, info: KSigInfo, pgrp: u32) -> i32 {
    let mut found = false;
    for t in processes().iter().filter(|t| t.signal.pgid() == pgrp) {
        found = true;
        if sig != 0 {
            send_signal(sig, info, t);
        }
    }
    if found { 0 } else { -ESRCH }
}

/// Is process group `pgrp` orphaned (Linux `will_become_orphaned_pgrp(pgrp,
/// NULL)`): no member has a parent in another group of the same session,
/// so no shell is left to continue it if it stops? An empty group counts as
/// orphaned, as in Linux.
pub fn is_orphaned_pgrp(pgrp: u32) -> bool {
    let all = processes();
    !all.iter().filter(|p| p.signal.pgid() == pgrp).any(|p| {
        let parent = p.parent.load(Ordering::Relaxed);
        all.iter().any(|q| q.id() == parent && q.signal.pgid() != pgrp && q.signal.sid() == p.signal.sid())
    })
}

/// Does some process belong to group `pgrp` (Linux: `find_vpid` then
/// `session_of_pgrp`)? Its session, if so. A zombie not yet reaped still
/// holds its group, as in Linux (its `struct pid` lives until
/// `release_task`): a shell's pipeline whose first command has already
/// ended still makes that group the foreground for the others.
pub fn session_of_pgrp(pgrp: u32) -> Option<u32> {
    group_holders().iter().find(|t| t.signal.pgid() == pgrp).map(|t| t.signal.sid())
}

/// Every process alive, and every zombie not yet reaped (a dead task
/// leaves ALL_TASKS when it dies, but stays in its parent's `children`
/// until `wait4`): what keeps a process group in existence.
fn group_holders() -> alloc::vec::Vec<alloc::sync::Arc<Task>> {
    let all = processes();
    let mut v = all.clone();
    for p in &all {
        for h in p.children.lock().iter() {
            if h.task().signal.is_user() && !v.iter().any(|t| alloc::sync::Arc::ptr_eq(t, h.task())) {
                v.push(h.task().clone());
            }
        }
    }
    v
}

/// Every process of session `sid` loses its controlling terminal (Linux
/// `session_clear_tty`).
pub fn session_clear_tty(sid: u32) {
    for t in crate::sched::task::ALL_TASKS.lock_irqsave().iter().filter(|t| t.signal.sid() == sid) {
        t.signal.set_ctty(false);
    }
}

/// `kill_pgrp(pgrp, sig)`: a signal from the kernel to a whole process
/// group (Linux `kill_pgrp(pgrp, sig, 1)`: `si_code` SI_KERNEL), as the
/// tty sends SIGINT on ^C to its foreground group. 0, or `-ESRCH` if the
/// group is empty.
pub fn kill_pgrp(pgrp: u32, sig: i32) -> i32 {
    kill_pgrp_info(sig, KSigInfo { code: SI_KERNEL, ..Default::default() }, pgrp)
}

/// A fault the current task raised on itself (Linux `force_sig_fault`):
/// delivered even if blocked or ignored, which resets it to SIG_DFL and
/// unblocks it (a blocked fault would loop on the same instruction).
pub fn force_sig_fault(sig: i32, code: i32, addr: u32) {
    force_sig_info(sig, KSigInfo { code, addr, ..Default::default() });
}

/// `force_sig_info_to_task` for the current task.
fn force_sig_info(sig: i32, info: KSigInfo) {
    let me = crate::sched::current_arc();
    {
        let mut i = me.signal.inner.lock_irqsave();
        let ignored = i.action[sig as usize - 1].handler == SIG_IGN;
        let blocked = i.blocked & sigmask(sig) != 0;
        if ignored || blocked {
            // Linux: with the signal blocked or ignored its handler is
            // reset too, so the fault kills rather than loops.
            i.action[sig as usize - 1].handler = SIG_DFL;
            i.blocked &= !sigmask(sig);
        }
    }
    send_signal(sig, info, &me);
}

/// Would `sig` kill the current task right now, with no handler to run
/// (Linux `unhandled_signal`)? The fault paths print Linux's `segfault at`
/// line only then.
pub fn unhandled_signal(sig: i32) -> bool {
    let h = crate::sched::current().signal.action(sig).handler;
    h == SIG_DFL || h == SIG_IGN
}

/// A signal to handle, and how (Linux `struct ksignal`).
#[derive(Clone, Copy, Debug)]
pub struct KSignal {
    /// The signal.
    pub sig: i32,
    /// Its siginfo.
    pub info: KSigInfo,
    /// The action as it was when dequeued.
    pub ka: KSigAction,
}

/// Take the next signal to deliver, doing the default actions on the way
/// (Linux `get_signal`): ignore, stop until SIGCONT, or end the process.
/// `None` when nothing is left with a handler to run.
pub fn get_signal() -> Option<KSignal> {
    let me = crate::sched::current_arc();
    loop {
        let mut i = me.signal.inner.lock_irqsave();
        let deliverable = i.pending & !i.blocked;
        if deliverable == 0 {
            me.signal.recalc(&i);
            return None;
        }
        let set = if deliverable & SYNCHRONOUS_MASK != 0 { deliverable & SYNCHRONOUS_MASK } else { deliverable };
        let sig = set.trailing_zeros() as i32 + 1;
        i.pending &= !sigmask(sig);
        let info = i.info[sig as usize - 1];
        me.signal.recalc(&i);
        let ka = i.action[sig as usize - 1];
        if ka.handler == SIG_IGN {
            continue;
        }
        if ka.handler != SIG_DFL {
            if ka.flags & SA_RESETHAND != 0 {
                i.action[sig as usize - 1] = KSigAction::default();
            }
            return Some(KSignal { sig, info, ka });
        }
        if SIG_KERNEL_IGNORE & sigmask(sig) != 0 {
            continue;
        }
        // Linux: "Global init gets no signals it doesn't want": one it
        // had blocked when it came, default action, not forced.
        if crate::init::is_global_init(&me) && SIG_KERNEL_ONLY & sigmask(sig) == 0 && !forced(sig, &info) {
            continue;
        }
        if SIG_KERNEL_STOP & sigmask(sig) != 0 {
            // do_signal_stop: stopped, under the lock, so a SIGCONT after
            // this finds `stopped` and the state to wake.
            // The stop is reported to wait4(WUNTRACED) once (stop_code);
            // a continue not yet reported is forgotten.
            i.stopped = true;
            i.stop_code = sig;
            i.continued = false;
            i.notify_continued = false;
            me.state.store(crate::sched::task::TASK_STOPPED, Ordering::SeqCst);
            drop(i);
            notify_parent_cldstop(&me, CLD_STOPPED, sig);
            let continued = loop {
                crate::sched::schedule();
                let mut i = me.signal.inner.lock_irqsave();
                if !i.stopped {
                    break core::mem::take(&mut i.notify_continued);
                }
                me.state.store(crate::sched::task::TASK_STOPPED, Ordering::SeqCst);
            };
            if continued {
                notify_parent_cldstop(&me, CLD_CONTINUED, SIGCONT);
            }
            continue;
        }
        drop(i);
        // Terminate; a core signal's status would carry 0x80 if a core were
        // written, and none is (Linux with no core dumped gives the same).
        let core = if SIG_KERNEL_COREDUMP & sigmask(sig) != 0 { " (core not dumped)" } else { "" };
        log::debug!("{}[{}]: killed by signal {sig}{core}", me.name(), me.id());
        // do_exit never returns, so nothing on this stack is ever dropped:
        // a reference to our own Task held here would keep it (its task
        // structure, kernel stack and page tables: 10 pages and 8 KiB of
        // heap) alive for ever. Found by the fuzzer (every SIGKILLed
        // worker leaked); tests/signal.rs checks the count.
        drop(me);
        crate::exit::do_exit(sig);
    }
}

/// SIGCHLD to the parent of `t` when it stops or continues (Linux
/// `do_notify_parent_cldstop`), unless the parent asked for none with
/// SA_NOCLDSTOP; and, SIGCHLD or not, the parent's `wait4` wakes up to
/// report it (Linux `__wake_up_parent`; a parent's wait4 sleeps on each of
/// its children's `exit_wait`, see exit.rs).
fn notify_parent_cldstop(t: &Task, why: i32, sig: i32) {
    if let Some(parent) = find_task(t.parent.load(Ordering::Relaxed))
        && parent.signal.action(SIGCHLD).flags & SA_NOCLDSTOP == 0
    {
        send_signal(SIGCHLD, KSigInfo { code: why, pid: t.id(), status: sig, ..Default::default() }, &parent);
    }
    t.exit_wait.wake_up_all();
}

/// SIGCHLD to the parent of `child`, which has just become reapable with
/// wait status `status` (Linux `do_notify_parent`). Called from the
/// context switch that took the dead child off its CPU for the last time,
/// so a handler's `wait4(WNOHANG)` finds it a zombie.
pub fn notify_parent_exit(child: &Task, status: i32) {
    let Some(parent) = find_task(child.parent.load(Ordering::Relaxed)) else { return };
    let (code, st) = match status & 0x7f {
        0 => (CLD_EXITED, (status >> 8) & 0xff),
        s if status & 0x80 != 0 => (CLD_DUMPED, s),
        s => (CLD_KILLED, s),
    };
    send_signal(SIGCHLD, KSigInfo { code, pid: child.id(), status: st, ..Default::default() }, &parent);
}

/// The mask a handler's frame saves (Linux `sigmask_to_save`): the one
/// `rt_sigsuspend` replaced, if it did, else the current one.
fn sigmask_to_save(me: &Task) -> u64 {
    let i = me.signal.inner.lock_irqsave();
    i.saved_sigmask.unwrap_or(i.blocked)
}

/// The handler's frame is in place: block `sa_mask`, and the signal itself
/// unless SA_NODEFER (Linux `signal_delivered`); the frame holds the old
/// mask, so rt_sigsuspend's is not put back here.
fn signal_delivered(me: &Task, ksig: &KSignal) {
    let mut i = me.signal.inner.lock_irqsave();
    let mut add = ksig.ka.mask;
    if ksig.ka.flags & SA_NODEFER == 0 {
        add |= sigmask(ksig.sig);
    }
    i.blocked = (i.blocked | add) & !SIG_KERNEL_ONLY;
    i.saved_sigmask = None;
    me.signal.recalc(&i);
}

/// Is `ax` a system call's request to restart?
fn is_restart(ax: u32) -> bool {
    matches!(-(ax as i32), ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND | ERESTART_RESTARTBLOCK)
}

/// The signal work on the way back to user mode (Linux
/// `exit_to_user_mode_loop` + `arch_do_signal_or_restart`): deliver what
/// is pending, one handler frame per signal, and restart or fail an
/// interrupted system call. Runs with interrupts on; `regs` are the user
/// registers (`orig_ax` >= 0 only on the return from a system call).
pub fn do_signal(regs: &mut PtRegs) {
    let mut delivered = false;
    // No reference to the current task is held across get_signal(): a
    // fatal signal ends the task inside it, and this frame never returns
    // to drop one (see get_signal).
    while let Some(ksig) = get_signal() {
        handle_signal(&crate::sched::current_arc(), &ksig, regs);
        delivered = true;
    }
    let me = crate::sched::current_arc();
    if !delivered && (regs.orig_ax as i32) >= 0 {
        // Came from a system call, and no handler ran: restart it.
        match -(regs.ax as i32) {
            ERESTARTNOHAND | ERESTARTSYS | ERESTARTNOINTR => {
                regs.ax = regs.orig_ax;
                regs.ip = regs.ip.wrapping_sub(2);
            }
            ERESTART_RESTARTBLOCK => {
                regs.ax = crate::arch::entry::syscall_32::nr::RESTART_SYSCALL as u32;
                regs.ip = regs.ip.wrapping_sub(2);
            }
            _ => {}
        }
    }
    if !delivered {
        // restore_saved_sigmask: rt_sigsuspend's mask goes back.
        let mut i = me.signal.inner.lock_irqsave();
        if let Some(m) = i.saved_sigmask.take() {
            i.blocked = m;
            me.signal.recalc(&i);
        }
    }
}

/// Is there signal work for the way back to user mode?
pub fn exit_to_user_mode_work(regs: &PtRegs) -> bool {
    signal_pending() || ((regs.orig_ax as i32) >= 0 && is_restart(regs.ax))
}

/// Run one handler (Linux `handle_signal`).
fn handle_signal(me: &Task, ksig: &KSignal, regs: &mut PtRegs) {
    if (regs.orig_ax as i32) >= 0 {
        match -(regs.ax as i32) {
            ERESTART_RESTARTBLOCK | ERESTARTNOHAND => regs.ax = (-EINTR) as u32,
            ERESTARTSYS if ksig.ka.flags & SA_RESTART == 0 => regs.ax = (-EINTR) as u32,
            ERESTARTSYS | ERESTARTNOINTR => {
                regs.ax = regs.orig_ax;
                regs.ip = regs.ip.wrapping_sub(2);
            }
            _ => {}
        }
    }
    let oldset = sigmask_to_save(me);
    let trap = me.signal.trap();
    if crate::arch::signal::setup_rt_frame(ksig, oldset, trap, regs).is_err() {
        // The frame could not be written (a bad stack): Linux
        // `force_sigsegv`, with SIGSEGV's own handler reset if that was it.
        log::warn!("{}[{}]: bad signal frame for signal {} at sp {:#x}", me.name(), me.id(), ksig.sig, regs.sp);
        if ksig.sig == SIGSEGV {
            me.signal.inner.lock_irqsave().action[SIGSEGV as usize - 1].handler = SIG_DFL;
        }
        force_sig_info(SIGSEGV, KSigInfo { code: SI_KERNEL, ..Default::default() });
        return;
    }
    signal_delivered(me, ksig);
}

/// At exec: caught signals go back to SIG_DFL, ignored ones stay ignored
/// (Linux `flush_signal_handlers(current, 0)`); the mask and the pending
/// set survive, as in Linux.
pub fn flush_signal_handlers() {
    let me = crate::sched::current();
    let mut i = me.signal.inner.lock_irqsave();
    for a in i.action.iter_mut() {
        if a.handler != SIG_IGN {
            a.handler = SIG_DFL;
        }
        a.flags = 0;
        a.restorer = 0;
        a.mask = 0;
    }
    me.signal.did_exec.store(true, Ordering::Relaxed);
}

// ---------------------------------------------------------------------
// System calls.

use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};

/// Read a `sigset_t` (8 bytes) from user memory.
fn get_sigset(ptr: usize) -> Result<u64, i32> {
    let mut b = [0u8; 8];
    if copy_from_user(&mut b, ptr) != 0 {
        return Err(-EFAULT);
    }
    Ok(u64::from_le_bytes(b))
}

/// Change the action for `sig` (Linux `do_sigaction`): returns the old
/// one. Setting SIG_IGN (or SIG_DFL for a default-ignore signal) discards
/// a pending instance, blocked or not (POSIX 3.3.1.3).
pub fn do_sigaction(sig: i32, act: Option<KSigAction>) -> Result<KSigAction, i32> {
    if !valid_signal(sig) || (act.is_some() && SIG_KERNEL_ONLY & sigmask(sig) != 0) {
        return Err(-EINVAL);
    }
    let me = crate::sched::current();
    let mut i = me.signal.inner.lock_irqsave();
    let mut old = i.action[sig as usize - 1];
    old.flags &= UAPI_SA_FLAGS;
    if let Some(mut new) = act {
        new.flags &= UAPI_SA_FLAGS;
        new.mask &= !SIG_KERNEL_ONLY;
        i.action[sig as usize - 1] = new;
        let blocked = i.blocked;
        i.blocked = 0; // sig_ignored without the blocked exemption
        let now_ignored = sig_ignored(&i, sig);
        i.blocked = blocked;
        if now_ignored {
            i.pending &= !sigmask(sig);
        }
        me.signal.recalc(&i);
    }
    Ok(old)
}

/// `rt_sigaction(sig, act, oact, sigsetsize)` (i386 174): `struct
/// sigaction` is `{handler, flags, restorer, mask[2]}`, 20 bytes.
/// `-EINVAL` for a `sigsetsize` other than 8, a signal outside 1..=64, or
/// an action for SIGKILL/SIGSTOP; `-EFAULT` for a bad pointer, in Linux's
/// order (sigsetsize, then reading `act`, then the signal, then `oact`).
pub fn sys_rt_sigaction(regs: &mut PtRegs) -> i32 {
    let (sig, act, oact, size) = (regs.bx as i32, regs.cx as usize, regs.dx as usize, regs.si);
    if size != 8 {
        return -EINVAL;
    }
    let new = if act != 0 {
        let mut b = [0u8; 20];
        if copy_from_user(&mut b, act) != 0 {
            return -EFAULT;
        }
        let w = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        Some(KSigAction { handler: w(0), flags: w(4), restorer: w(8), mask: w(12) as u64 | (w(16) as u64) << 32 })
    } else {
        None
    };
    let old = match do_sigaction(sig, new) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if oact != 0 {
        let mut b = [0u8; 20];
        for (k, v) in [old.handler, old.flags, old.restorer, old.mask as u32, (old.mask >> 32) as u32].iter().enumerate() {
            b[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
        if copy_to_user(oact, &b) != 0 {
            return -EFAULT;
        }
    }
    0
}

/// `sigaction(sig, act, oact)` (i386 67): the old `struct old_sigaction`,
/// `{handler, mask (32 bits), flags, restorer}`; signals above 32 keep
/// their mask bits.
pub fn sys_sigaction(regs: &mut PtRegs) -> i32 {
    let (sig, act, oact) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let new = if act != 0 {
        let mut b = [0u8; 16];
        if copy_from_user(&mut b, act) != 0 {
            return -EFAULT;
        }
        let w = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        Some(KSigAction { handler: w(0), mask: w(4) as u64, flags: w(8), restorer: w(12) })
    } else {
        None
    };
    let old = match do_sigaction(sig, new) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if oact != 0 {
        let mut b = [0u8; 16];
        for (k, v) in [old.handler, old.mask as u32, old.flags, old.restorer].iter().enumerate() {
            b[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
        if copy_to_user(oact, &b) != 0 {
            return -EFAULT;
        }
    }
    0
}

/// `rt_sigprocmask(how, set, oset, sigsetsize)` (i386 175): block,
/// unblock or replace; SIGKILL and SIGSTOP are silently never blocked.
/// `-EINVAL` for a `sigsetsize` other than 8 or an unknown `how` (only
/// looked at when `set` is given), `-EFAULT` for a bad pointer.
pub fn sys_rt_sigprocmask(regs: &mut PtRegs) -> i32 {
    let (how, set, oset, size) = (regs.bx, regs.cx as usize, regs.dx as usize, regs.si);
    if size != 8 {
        return -EINVAL;
    }
    let me = crate::sched::current();
    let old = me.signal.blocked();
    if set != 0 {
        let new = match get_sigset(set) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mask = match how {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return -EINVAL,
        };
        me.signal.set_blocked(mask);
    }
    if oset != 0 && copy_to_user(oset, &old.to_le_bytes()) != 0 {
        return -EFAULT;
    }
    0
}

/// `rt_sigpending(set, sigsetsize)` (i386 176): the pending signals that
/// are blocked (the others are being delivered). Linux accepts any size up
/// to 8 and copies that many bytes; more is `-EINVAL`.
pub fn sys_rt_sigpending(regs: &mut PtRegs) -> i32 {
    let (set, size) = (regs.bx as usize, regs.cx as usize);
    if size > 8 {
        return -EINVAL;
    }
    let me = crate::sched::current();
    let pending = {
        let i = me.signal.inner.lock_irqsave();
        i.pending & i.blocked
    };
    if copy_to_user(set, &pending.to_le_bytes()[..size]) != 0 {
        return -EFAULT;
    }
    0
}

/// `kill(pid, sig)` (i386 37, Linux `kill_something_info`): `pid` > 0 that
/// process; 0 the caller's process group; -1 every process but init (pid 1)
/// and the caller; < -1 the group `-pid`. `sig` 0 only checks that the
/// target exists. `-EINVAL` for a bad signal, `-ESRCH` when no process
/// matches (and for `INT_MIN`, whose negation does not exist).
pub fn sys_kill(regs: &mut PtRegs) -> i32 {
    let (pid, sig) = (regs.bx as i32, regs.cx as i32);
    if sig != 0 && !valid_signal(sig) {
        return -EINVAL;
    }
    let me = crate::sched::current();
    let info = KSigInfo { code: SI_USER, pid: me.id(), ..Default::default() };
    match pid {
        i32::MIN => -ESRCH,
        p if p > 0 => match find_task(p as u32) {
            Some(t) => {
                if sig != 0 {
                    send_signal(sig, info, &t);
                }
                0
            }
            None => -ESRCH,
        },
        0 => kill_pgrp_info(sig, info, me.signal.pgid()),
        -1 => {
            let mut count = 0;
            for t in processes().iter().filter(|t| t.id() > 1 && t.id() != me.id()) {
                count += 1;
                if sig != 0 {
                    send_signal(sig, info, t);
                }
            }
            if count > 0 { 0 } else { -ESRCH }
        }
        p => kill_pgrp_info(sig, info, (-p) as u32),
    }
}

/// Send to one thread (`tkill`, `tgkill`): `si_code` SI_TKILL.
fn do_tkill(tgid: Option<i32>, pid: i32, sig: i32) -> i32 {
    if pid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return -EINVAL;
    }
    if sig != 0 && !valid_signal(sig) {
        return -EINVAL;
    }
    // One thread per process: the thread group id is the pid.
    match find_task(pid as u32).filter(|t| tgid.is_none_or(|g| g as u32 == t.id())) {
        Some(t) => {
            if sig != 0 {
                send_signal(sig, KSigInfo { code: SI_TKILL, pid: current_pid(), ..Default::default() }, &t);
            }
            0
        }
        None => -ESRCH,
    }
}

/// `tkill(tid, sig)` (i386 238).
pub fn sys_tkill(regs: &mut PtRegs) -> i32 {
    do_tkill(None, regs.bx as i32, regs.cx as i32)
}

/// `tgkill(tgid, tid, sig)` (i386 270): `-EINVAL` for a tgid or tid <= 0
/// or a bad signal, `-ESRCH` when tid is not a thread of tgid.
pub fn sys_tgkill(regs: &mut PtRegs) -> i32 {
    do_tkill(Some(regs.bx as i32), regs.cx as i32, regs.dx as i32)
}

/// Sleep until a signal is pending (the common part of `pause` and
/// `rt_sigsuspend`): nobody else wakes this sleep.
fn sleep_until_signal() {
    let me = crate::sched::current_arc();
    loop {
        me.state.store(crate::sched::task::TASK_INTERRUPTIBLE, Ordering::SeqCst);
        if signal_pending() {
            me.state.store(crate::sched::task::TASK_RUNNING, Ordering::SeqCst);
            return;
        }
        crate::sched::schedule();
    }
}

/// `pause()` (i386 29): sleep until a signal is delivered; returns
/// `-EINTR` once a handler has run (`-ERESTARTNOHAND`: a signal with no
/// handler that does not kill restarts it).
pub fn sys_pause(_regs: &mut PtRegs) -> i32 {
    sleep_until_signal();
    -ERESTARTNOHAND
}

/// `rt_sigsuspend(mask, sigsetsize)` (i386 179): replace the mask and
/// sleep until a signal is delivered; the handler's frame saves the old
/// mask, so it comes back when the handler returns. `-EINVAL` for a
/// `sigsetsize` other than 8, `-EFAULT` for a bad pointer.
pub fn sys_rt_sigsuspend(regs: &mut PtRegs) -> i32 {
    if regs.cx != 8 {
        return -EINVAL;
    }
    let new = match get_sigset(regs.bx as usize) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let me = crate::sched::current();
    {
        let mut i = me.signal.inner.lock_irqsave();
        i.saved_sigmask = Some(i.blocked);
        i.blocked = new & !SIG_KERNEL_ONLY;
        me.signal.recalc(&i);
    }
    sleep_until_signal();
    -ERESTARTNOHAND
}

/// `restart_syscall()` (i386 0): resume the call a signal interrupted and
/// left a restart block for; `-EINTR` without one (Linux
/// `do_no_restart_syscall`).
pub fn sys_restart_syscall(regs: &mut PtRegs) -> i32 {
    match crate::sched::current().signal.take_restart() {
        Some(RestartBlock::Nanosleep { deadline, rmtp, wide }) => crate::sched::timer::nanosleep_until(deadline, rmtp, wide, regs),
        None => -EINTR,
    }
}

// Process groups and sessions (Linux kernel/sys.c).

/// `setpgid(pid, pgid)` (i386 57): put process `pid` (0: the caller), the
/// caller or one of its children, into group `pgid` (0: its own pid).
/// Linux's checks: `-EINVAL` for `pgid` < 0; `-ESRCH` if `pid` is neither
/// the caller nor its child; `-EACCES` for a child that has exec'd;
/// `-EPERM` for a child in another session, a session leader, or a group
/// that does not exist in the caller's session.
pub fn sys_setpgid(regs: &mut PtRegs) -> i32 {
    let (pid, pgid) = (regs.bx as i32, regs.cx as i32);
    if pgid < 0 {
        return -EINVAL;
    }
    let me = crate::sched::current();
    let pid = if pid == 0 { me.id() } else { pid as u32 };
    let pgid = if pgid == 0 { pid } else { pgid as u32 };
    let Some(p) = find_task(pid) else { return -ESRCH };
    if p.id() != me.id() {
        if p.parent.load(Ordering::Relaxed) != me.id() {
            return -ESRCH;
        }
        if p.signal.sid() != me.signal.sid() {
            return -EPERM;
        }
        if p.signal.did_exec.load(Ordering::Relaxed) {
            return -crate::errno::EACCES;
        }
    }
    if p.signal.sid() == p.id() {
        return -EPERM; // a session leader stays in its group
    }
    // The group may be held by a zombie only (a pipeline's first command
    // that has ended): it still exists (Linux `find_vpid`).
    if pgid != pid && !group_holders().iter().any(|t| t.signal.pgid() == pgid && t.signal.sid() == me.signal.sid()) {
        return -EPERM;
    }
    p.signal.set_pgid(pgid);
    0
}

/// `getpgid(pid)` (i386 132): the group of `pid` (0: the caller), `-ESRCH`
/// if there is no such process.
pub fn sys_getpgid(regs: &mut PtRegs) -> i32 {
    let pid = regs.bx as i32;
    if pid == 0 {
        return crate::sched::current().signal.pgid() as i32;
    }
    if pid < 0 {
        return -ESRCH;
    }
    find_task(pid as u32).map_or(-ESRCH, |t| t.signal.pgid() as i32)
}

/// `getpgrp()` (i386 65): the caller's group.
pub fn sys_getpgrp(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().signal.pgid() as i32
}

/// `setsid()` (i386 66): a new session and group, both the caller's pid;
/// `-EPERM` if a group with that id exists already (the caller leads one).
pub fn sys_setsid(_regs: &mut PtRegs) -> i32 {
    let me = crate::sched::current();
    if processes().iter().any(|t| t.signal.pgid() == me.id()) {
        return -EPERM;
    }
    // A new session has no controlling terminal (Linux `proc_clear_tty`).
    me.signal.make_session_leader(me.id()) as i32
}

/// `getsid(pid)` (i386 147): the session of `pid` (0: the caller).
pub fn sys_getsid(regs: &mut PtRegs) -> i32 {
    let pid = regs.bx as i32;
    if pid == 0 {
        return crate::sched::current().signal.sid() as i32;
    }
    if pid < 0 {
        return -ESRCH;
    }
    find_task(pid as u32).map_or(-ESRCH, |t| t.signal.sid() as i32)
}
