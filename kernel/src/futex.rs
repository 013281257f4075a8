//! Robust futexes, the part busybox needs (Linux `kernel/futex/syscalls.c`).
//!
//! glibc's start-up registers each thread's robust-mutex list with
//! `set_robust_list` so that, when a thread dies holding such a mutex,
//! the kernel can mark it `FUTEX_OWNER_DIED`. This kernel has no futexes
//! yet, so it only records the head (Linux `current->robust_list`); the
//! list is not walked at exit (Linux `exit_robust_list`), which differs
//! from Linux 6.1 only for a program that dies holding a robust mutex.

use core::sync::atomic::Ordering;

use crate::arch::entry::PtRegs;
use crate::errno::EINVAL;

/// `sizeof(struct robust_list_head)` on i386: three 32-bit words (`list`,
/// `futex_offset`, `list_op_pending`).
pub const ROBUST_LIST_HEAD_SIZE: u32 = 12;

/// `set_robust_list(head, len)` (i386 311): `-EINVAL` unless `len` is the
/// size of the i386 `struct robust_list_head`; otherwise record `head`
/// (never dereferenced here, as in Linux) and return 0.
pub fn sys_set_robust_list(regs: &mut PtRegs) -> i32 {
    if regs.cx != ROBUST_LIST_HEAD_SIZE {
        return -EINVAL;
    }
    crate::sched::current().robust_list.store(regs.bx, Ordering::Relaxed);
    0
}
