//! Reading the clocks (Linux `kernel/time/posix-timers.c`,
//! `kernel/time/time.c`): `clock_gettime` (i386 265, 32-bit `struct
//! timespec`), `clock_gettime64` (403, `struct __kernel_timespec`),
//! `gettimeofday` (78), `clock_nanosleep` (267) and
//! `clock_nanosleep_time64` (407).
//!
//! Where the time comes from: the fine clocks (`CLOCK_MONOTONIC`,
//! `_RAW`, `CLOCK_BOOTTIME`, `CLOCK_REALTIME`) from the TSC, counted from
//! its calibration at boot (`arch/x86/kernel/tsc.rs`); the coarse ones
//! (`_COARSE`) from `jiffies`, as Linux's coarse clocks read the time of
//! the last tick. Where we differ from Linux 6.1:
//! - there is no RTC reading, so `CLOCK_REALTIME` is the monotonic clock:
//!   it starts at 0 (1 January 1970) at boot, and `settimeofday` /
//!   `clock_settime` do not exist to move it;
//! - `CLOCK_BOOTTIME` equals `CLOCK_MONOTONIC` (nothing suspends here), as
//!   on a Linux machine that never slept;
//! - the CPU-time clocks (2, 3, negative ids), the alarm clocks (8, 9) and
//!   `CLOCK_TAI` (11) are `-EINVAL` like any unknown id (Linux has them).

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EFAULT, EINVAL};
use crate::sched::core::{HZ, jiffies};

/// Linux's clock ids (`include/uapi/linux/time.h`).
pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
pub const CLOCK_MONOTONIC_RAW: u32 = 4;
pub const CLOCK_REALTIME_COARSE: u32 = 5;
pub const CLOCK_MONOTONIC_COARSE: u32 = 6;
pub const CLOCK_BOOTTIME: u32 = 7;
/// `clock_nanosleep`'s flag: `req` is an absolute time on the clock.
pub const TIMER_ABSTIME: u32 = 1;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Clock `id` now, in nanoseconds, or `None` for an id we do not have
/// (Linux `clockid_to_kclock` returning NULL: `-EINVAL`).
pub fn clock_ns(id: u32) -> Option<u64> {
    match id {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME => {
            Some(crate::arch::tsc::uptime_ns())
        }
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => Some(jiffies() * (NSEC_PER_SEC / HZ)),
        _ => None,
    }
}

/// The i386 `struct timespec` (two 32-bit longs) or `struct
/// __kernel_timespec` (two 64-bit fields) holding `ns`.
fn timespec_bytes(ns: u64, wide: bool, out: &mut [u8; 16]) -> usize {
    let (sec, nsec) = (ns / NSEC_PER_SEC, ns % NSEC_PER_SEC);
    if wide {
        out[..8].copy_from_slice(&sec.to_le_bytes());
        out[8..].copy_from_slice(&nsec.to_le_bytes());
        16
    } else {
        out[..4].copy_from_slice(&(sec as u32).to_le_bytes());
        out[4..8].copy_from_slice(&(nsec as u32).to_le_bytes());
        8
    }
}

fn clock_gettime_common(regs: &PtRegs, wide: bool) -> i32 {
    let Some(ns) = clock_ns(regs.bx) else { return -EINVAL };
    let mut buf = [0u8; 16];
    let n = timespec_bytes(ns, wide, &mut buf);
    if copy_to_user(regs.cx as usize, &buf[..n]) != 0 {
        return -EFAULT;
    }
    0
}

/// `clock_gettime(which, tp)` (i386 265): a 32-bit `struct timespec`.
/// `-EINVAL` for an unknown clock (checked first, as Linux does), `-EFAULT`
/// for a bad `tp`.
pub fn sys_clock_gettime(regs: &mut PtRegs) -> i32 {
    clock_gettime_common(regs, false)
}

/// `clock_gettime64(which, tp)` (i386 403): the y2038-safe call, a
/// `struct __kernel_timespec` of two 64-bit fields.
pub fn sys_clock_gettime64(regs: &mut PtRegs) -> i32 {
    clock_gettime_common(regs, true)
}

/// `gettimeofday(tv, tz)` (i386 78, Linux `kernel/time/time.c`):
/// `CLOCK_REALTIME` as a `struct timeval` (32-bit seconds and
/// microseconds), and a `struct timezone` of zeros (`sys_tz`, never set
/// here). Either pointer may be NULL; a bad one is `-EFAULT`.
pub fn sys_gettimeofday(regs: &mut PtRegs) -> i32 {
    if regs.bx != 0 {
        let ns = clock_ns(CLOCK_REALTIME).unwrap_or(0);
        let mut tv = [0u8; 8];
        tv[..4].copy_from_slice(&((ns / NSEC_PER_SEC) as u32).to_le_bytes());
        tv[4..].copy_from_slice(&((ns % NSEC_PER_SEC / 1000) as u32).to_le_bytes());
        if copy_to_user(regs.bx as usize, &tv) != 0 {
            return -EFAULT;
        }
    }
    if regs.cx != 0 && copy_to_user(regs.cx as usize, &[0u8; 8]) != 0 {
        return -EFAULT;
    }
    0
}

/// `clock_nanosleep(which, flags, req, rem)` (i386 267, Linux
/// `common_nsleep`): sleep on `CLOCK_REALTIME`, `CLOCK_MONOTONIC` or
/// `CLOCK_BOOTTIME` for the 32-bit `struct timespec` at `req`, or until
/// that time when `flags` has `TIMER_ABSTIME` (a time already past returns
/// 0 at once). The coarse and raw clocks cannot sleep: `-EOPNOTSUPP`
/// (Linux: their `k_clock` has no `nsleep`); unknown ids `-EINVAL`, a bad
/// `req` `-EFAULT`, nanoseconds outside 0..1e9 or negative seconds
/// `-EINVAL`. It returns once the clock has reached the time asked for.
/// A signal ends it like `nanosleep` (the time left in `rem` for a
/// relative sleep only, as Linux). Where we differ: an interrupted
/// absolute sleep restarts through the restart block with the same
/// deadline (Linux returns `-ERESTARTNOHAND` and the restart re-reads
/// `req`; the caller sees the same).
pub fn sys_clock_nanosleep(regs: &mut PtRegs) -> i32 {
    clock_nanosleep_common(regs, false)
}

/// `clock_nanosleep_time64(which, flags, req, rem)` (i386 407): the same
/// with 64-bit `struct __kernel_timespec`s for `req` and `rem`.
pub fn sys_clock_nanosleep_time64(regs: &mut PtRegs) -> i32 {
    clock_nanosleep_common(regs, true)
}

fn clock_nanosleep_common(regs: &mut PtRegs, wide: bool) -> i32 {
    let which = regs.bx;
    match which {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
        CLOCK_MONOTONIC_RAW | CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => {
            return -crate::errno::EOPNOTSUPP;
        }
        _ => return -EINVAL,
    }
    let mut ts = [0u8; 16];
    let n = if wide { 16 } else { 8 };
    if copy_from_user(&mut ts[..n], regs.dx as usize) != 0 {
        return -EFAULT;
    }
    let (sec, nsec) = if wide {
        // Linux `get_timespec64`: tv_nsec lands in a `long`, 32 bits on
        // i386, so only its lower half counts; then both are checked.
        (i64::from_le_bytes(ts[..8].try_into().unwrap()), i32::from_le_bytes(ts[8..12].try_into().unwrap()) as i64)
    } else {
        (i32::from_le_bytes(ts[..4].try_into().unwrap()) as i64, i32::from_le_bytes(ts[4..8].try_into().unwrap()) as i64)
    };
    if sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&nsec) {
        return -EINVAL;
    }
    // Seconds past what u64 nanoseconds hold sleep "forever" (Linux
    // clamps to KTIME_MAX).
    let req = (sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(nsec as u64);
    let now = clock_ns(which).unwrap_or(0);
    let (target, rmtp) = if regs.cx & TIMER_ABSTIME != 0 { (req, 0) } else { (now.saturating_add(req), regs.si) };
    // Sleep in ticks, then look at the clock itself: under QEMU the timer
    // interrupts can come in bursts that catch up with host time, so N
    // ticks may pass in a little less than N ms of the TSC. Linux's
    // hrtimer sleeps until the clock reads `target`; so do we, going back
    // to sleep for what is left.
    loop {
        let now = clock_ns(which).unwrap_or(0);
        if now >= target {
            return 0;
        }
        let ms = (target - now).div_ceil(1_000_000);
        // As nanosleep: whole ticks, plus one for the tick in progress.
        let deadline = jiffies().saturating_add(ms.saturating_mul(HZ).div_ceil(1000)).saturating_add(1);
        let ret = crate::sched::timer::nanosleep_until(deadline, rmtp, wide, regs);
        if ret != 0 {
            return ret;
        }
    }
}
