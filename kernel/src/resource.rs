//! Resource limits (Linux `kernel/sys.c`: `getrlimit`, `prlimit64`,
//! `do_prlimit`; the defaults are `include/asm-generic/resource.h`'s
//! `INIT_RLIMITS` as `fork_init` completes them).
//!
//! Every process has the sixteen limits, inherited at fork and kept
//! across exec. Nothing here enforces them yet (no accounting of CPU time,
//! file sizes or open files against them): they are what a C library
//! reads to size things (glibc asks `RLIMIT_STACK` at start-up) and what
//! `ulimit` shows and sets.

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EFAULT, EINVAL, EPERM, ESRCH};

/// How many limits there are (Linux `RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;
/// "No limit" in i386's `struct rlimit` (`unsigned long`: `~0UL`).
pub const RLIM_INFINITY: u32 = !0;
/// "No limit" in `struct rlimit64`.
pub const RLIM64_INFINITY: u64 = !0;

/// Linux's resource numbers.
pub mod rlimit {
    /// CPU time, seconds.
    pub const CPU: usize = 0;
    /// Largest file, bytes.
    pub const FSIZE: usize = 1;
    /// Data segment (brk and private mappings), bytes.
    pub const DATA: usize = 2;
    /// Main thread's stack, bytes.
    pub const STACK: usize = 3;
    /// Core file, bytes.
    pub const CORE: usize = 4;
    /// Resident set (not enforced by Linux either).
    pub const RSS: usize = 5;
    /// Processes of the user.
    pub const NPROC: usize = 6;
    /// Open files: one more than the largest fd.
    pub const NOFILE: usize = 7;
    /// Locked memory, bytes.
    pub const MEMLOCK: usize = 8;
    /// Address space, bytes.
    pub const AS: usize = 9;
    /// File locks.
    pub const LOCKS: usize = 10;
    /// Queued signals.
    pub const SIGPENDING: usize = 11;
    /// POSIX message queues, bytes.
    pub const MSGQUEUE: usize = 12;
    /// Nice ceiling.
    pub const NICE: usize = 13;
    /// Real-time priority ceiling.
    pub const RTPRIO: usize = 14;
    /// Real-time CPU time, microseconds.
    pub const RTTIME: usize = 15;
}

/// One limit (Linux `struct rlimit` on i386: two `unsigned long`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// The soft limit, what is enforced.
    pub cur: u32,
    /// The hard limit, the ceiling for `cur`.
    pub max: u32,
}

const INF: Rlimit = Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY };
/// `_STK_LIM`: 8 MiB of stack.
const STK_LIM: u32 = 8 << 20;
/// `INR_OPEN_CUR` and `INR_OPEN_MAX`.
const INR_OPEN_CUR: u32 = 1024;
const INR_OPEN_MAX: u32 = 4096;
/// `MLOCK_LIMIT`: 8 MiB since Linux 5.16.
const MLOCK_LIMIT: u32 = 8 << 20;
/// `MQ_BYTES_MAX`.
const MQ_BYTES_MAX: u32 = 819_200;
/// `sysctl_nr_open`: the most a hard `RLIMIT_NOFILE` may be (`-EPERM`
/// beyond).
const NR_OPEN: u32 = 1024 * 1024;

/// The limits of the first process (Linux `INIT_RLIMITS`), with
/// `RLIMIT_NPROC` and `RLIMIT_SIGPENDING` set as `fork_init` sets them:
/// half of `max_threads`, which is the number of kernel stacks that would
/// fill an eighth of RAM (Linux `set_max_threads`, with this kernel's
/// THREAD_SIZE), at least 20.
pub fn init_rlimits() -> [Rlimit; RLIM_NLIMITS] {
    let totalram = crate::mm::page_alloc::memory_layout().max_pfn as u64;
    let stack_pages = (crate::sched::task::THREAD_SIZE / mm::layout::PAGE_SIZE) as u64;
    let max_threads = (totalram / (8 * stack_pages)).clamp(20, 0x3fff_ffff) as u32;
    let threads = Rlimit { cur: max_threads / 2, max: max_threads / 2 };
    let mut r = [INF; RLIM_NLIMITS];
    r[rlimit::STACK] = Rlimit { cur: STK_LIM, max: RLIM_INFINITY };
    r[rlimit::CORE] = Rlimit { cur: 0, max: RLIM_INFINITY };
    r[rlimit::NPROC] = threads;
    r[rlimit::NOFILE] = Rlimit { cur: INR_OPEN_CUR, max: INR_OPEN_MAX };
    r[rlimit::MEMLOCK] = Rlimit { cur: MLOCK_LIMIT, max: MLOCK_LIMIT };
    r[rlimit::SIGPENDING] = threads;
    r[rlimit::MSGQUEUE] = Rlimit { cur: MQ_BYTES_MAX, max: MQ_BYTES_MAX };
    r[rlimit::NICE] = Rlimit { cur: 0, max: 0 };
    r[rlimit::RTPRIO] = Rlimit { cur: 0, max: 0 };
    r
}

/// `struct rlimit64` -> `struct rlimit` (Linux `rlim64_to_rlim`): what does
/// not fit is infinity.
fn rlim64_to_rlim(v: u64) -> u32 {
    if v >= RLIM_INFINITY as u64 { RLIM_INFINITY } else { v as u32 }
}

/// `struct rlimit` -> `struct rlimit64` (Linux `rlim_to_rlim64`).
fn rlim_to_rlim64(v: u32) -> u64 {
    if v == RLIM_INFINITY { RLIM64_INFINITY } else { v as u64 }
}

/// Read and maybe change one limit of `task` (Linux `do_prlimit`): the old
/// value, or `-errno`. A soft limit above the hard one is `-EINVAL`, a
/// hard `RLIMIT_NOFILE` above `nr_open` `-EPERM`. (Raising a hard limit
/// needs CAP_SYS_RESOURCE, which every process here has: they all run as
/// root.)
pub fn do_prlimit(task: &crate::sched::task::Task, resource: usize, new: Option<Rlimit>) -> Result<Rlimit, i32> {
    if resource >= RLIM_NLIMITS {
        return Err(EINVAL);
    }
    if let Some(n) = new {
        if n.cur > n.max {
            return Err(EINVAL);
        }
        if resource == rlimit::NOFILE && n.max > NR_OPEN {
            return Err(EPERM);
        }
    }
    let mut lim = task.rlim.lock();
    let old = lim[resource];
    if let Some(n) = new {
        lim[resource] = n;
    }
    Ok(old)
}

/// `ugetrlimit(resource, rlim)` (i386 191; Linux `sys_getrlimit`): the
/// limit as two `unsigned long`s, infinity as `~0UL`.
pub fn sys_ugetrlimit(regs: &mut PtRegs) -> i32 {
    let old = match do_prlimit(crate::sched::current(), regs.bx as usize, None) {
        Ok(o) => o,
        Err(e) => return -e,
    };
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&old.cur.to_le_bytes());
    buf[4..].copy_from_slice(&old.max.to_le_bytes());
    if copy_to_user(regs.cx as usize, &buf) != 0 {
        return -EFAULT;
    }
    0
}

/// `prlimit64(pid, resource, new_rlim, old_rlim)` (i386 340): read and/or
/// set a limit of process `pid` (0: the caller), as two `u64`s each, in
/// Linux's order of checks: the new value is read first (`-EFAULT`), then
/// the process found (`-ESRCH`), then `do_prlimit` (`-EINVAL`, `-EPERM`),
/// then the old value written (`-EFAULT`, after the change was made).
pub fn sys_prlimit64(regs: &mut PtRegs) -> i32 {
    let (pid, resource, new_ptr, old_ptr) = (regs.bx as i32, regs.cx as usize, regs.dx as usize, regs.si as usize);
    let new = if new_ptr != 0 {
        let mut buf = [0u8; 16];
        if copy_from_user(&mut buf, new_ptr) != 0 {
            return -EFAULT;
        }
        let cur = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        let max = u64::from_le_bytes(buf[8..].try_into().expect("8 bytes"));
        Some(Rlimit { cur: rlim64_to_rlim(cur), max: rlim64_to_rlim(max) })
    } else {
        None
    };
    let me = crate::sched::current();
    let result = if pid == 0 || pid == me.id() as i32 {
        do_prlimit(me, resource, new)
    } else {
        let task = if pid > 0 {
            crate::sched::task::ALL_TASKS.lock_irqsave().iter().find(|t| t.id() == pid as u32).cloned()
        } else {
            None
        };
        let Some(task) = task else { return -ESRCH };
        do_prlimit(&task, resource, new)
    };
    let old = match result {
        Ok(o) => o,
        Err(e) => return -e,
    };
    if old_ptr != 0 {
        let mut buf = [0u8; 16];
        buf[..8].copy_from_slice(&rlim_to_rlim64(old.cur).to_le_bytes());
        buf[8..].copy_from_slice(&rlim_to_rlim64(old.max).to_le_bytes());
        if copy_to_user(old_ptr, &buf) != 0 {
            return -EFAULT;
        }
    }
    0
}
