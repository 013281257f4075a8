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

/// `exit(status)`: end the calling thread (Linux `do_exit`).
pub fn sys_exit(regs: &mut PtRegs) -> i32 {
    crate::sched::exit(exit_status(regs.bx))
}

/// `exit_group(status)`: end every thread of the process; with one thread
/// per process so far, the same as `exit`.
pub fn sys_exit_group(regs: &mut PtRegs) -> i32 {
    crate::sched::exit(exit_status(regs.bx))
}
