//! Small system calls about the calling process (Linux `kernel/sys.c`).

use crate::arch::entry::PtRegs;

/// `getpid()`: the caller's process id (here, its task id: every process
/// has one thread so far).
pub fn sys_getpid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().id() as i32
}
