//! Reading the clocks (Linux `kernel/time/posix-timers.c`,
//! `kernel/time/time.c`): `clock_gettime` (i386 265, 32-bit `struct
//! timespec`), `clock_gettime64` (403, `struct __kernel_timespec`),
//! `gettimeofday` (78), `clock_nanosleep` (267) and
//! `clock_nanosleep_time64` (407).
//!
//! Where the time comes from: the fine clocks (`CLOCK_MONOTONIC`,
//! `_RAW`, `CLOCK_BOOTTIME`) from the TSC, counted from its calibration
//! at boot (`arch/x86/kernel/tsc.rs`); the coarse ones (`_COARSE`) from
//! `jiffies`, as Linux's coarse clocks read the time of the last tick.
//! `CLOCK_REALTIME` is the monotonic clock plus an offset (Linux
//! `tk_core.timekeeper.offs_real`): [`timekeeping_init`] sets it at boot
//! from the CMOS RTC (`arch/x86/kernel/rtc.rs`, Linux
//! `read_persistent_clock64`), and `settimeofday`/`clock_settime` move it
//! (Linux `do_settimeofday64`); the monotonic clocks never jump.
//!
//! Where we differ from Linux 6.1:
//! - `CLOCK_BOOTTIME` equals `CLOCK_MONOTONIC` (nothing suspends here), as
//!   on a Linux machine that never slept;
//! - the CPU-time clocks (2, 3, negative ids), the alarm clocks (8, 9) and
//!   `CLOCK_TAI` (11) are `-EINVAL` like any unknown id (Linux has them);
//! - every process may set the time (there are no capabilities: everyone
//!   is root), and the time is not written back to the RTC (Linux does so
//!   every 11 minutes when NTP-synchronised).

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EFAULT, EINVAL};
use core::sync::atomic::Ordering;
use crate::arch::lib::atomic64_cx8_32::AtomicI64;

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
    let real = |mono: u64| mono.saturating_add_signed(OFFS_REAL.load(Ordering::Relaxed));
    match id {
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME => Some(crate::arch::tsc::uptime_ns()),
        CLOCK_REALTIME => Some(real(crate::arch::tsc::uptime_ns())),
        CLOCK_MONOTONIC_COARSE => Some(jiffies() * (NSEC_PER_SEC / HZ)),
        CLOCK_REALTIME_COARSE => Some(real(jiffies() * (NSEC_PER_SEC / HZ))),
        _ => None,
    }
}

/// `CLOCK_REALTIME` minus `CLOCK_MONOTONIC`, in nanoseconds (Linux
/// `offs_real`). 0 until [`timekeeping_init`]: the epoch at boot.
static OFFS_REAL: AtomicI64 = AtomicI64::new(0);

/// Linux `timekeeping_init`'s first step: the wall-clock time at boot from
/// the persistent clock (the CMOS RTC), so that `CLOCK_REALTIME` reads the
/// date. A clock that cannot be read or makes no date is named, and the
/// realtime clock starts at 0 (1 January 1970), as Linux starts it with
/// "Unable to read current time from RTC".
pub fn timekeeping_init() {
    match crate::arch::rtc::mach_get_cmos_time() {
        Ok(secs) => {
            set_realtime_ns(secs.max(0) as u64 * NSEC_PER_SEC);
            log::info!("rtc: CMOS RTC reads {secs} s since 1970 (UTC): CLOCK_REALTIME starts there");
        }
        Err(why) => log::error!("rtc: Unable to read current time from RTC ({why}): CLOCK_REALTIME starts at 0 (1970)"),
    }
}

/// Make `CLOCK_REALTIME` read `ns` now (Linux `do_settimeofday64`,
/// without the NTP and RTC bookkeeping): only the offset moves.
pub fn set_realtime_ns(ns: u64) {
    OFFS_REAL.store(ns as i64 - crate::arch::tsc::uptime_ns() as i64, Ordering::Relaxed);
}

/// Linux `sys_tz`: the `struct timezone` `settimeofday` stores and
/// `gettimeofday` hands back (minutes west of Greenwich, DST type).
/// Nothing in the kernel uses it.
static SYS_TZ: spin::Mutex<[i32; 2]> = spin::Mutex::new([0, 0]);

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
/// microseconds), and `sys_tz` as a `struct timezone` (zeros until
/// `settimeofday` sets one). Either pointer may be NULL; a bad one is
/// `-EFAULT`.
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
    if regs.cx != 0 {
        let [west, dst] = *SYS_TZ.lock();
        let mut tz = [0u8; 8];
        tz[..4].copy_from_slice(&west.to_le_bytes());
        tz[4..].copy_from_slice(&dst.to_le_bytes());
        if copy_to_user(regs.cx as usize, &tz) != 0 {
            return -EFAULT;
        }
    }
    0
}

/// `settimeofday(tv, tz)` (i386 79, Linux `kernel/time/time.c`,
/// `do_sys_settimeofday64`): both structures are read first (`-EFAULT`),
/// then checked: `tv_usec` outside 0..1000000 or a negative `tv_sec`,
/// and a `tz_minuteswest` beyond 15 hours either way, are `-EINVAL`
/// before anything changes. Then `sys_tz`, then the time. Both NULL: 0.
pub fn sys_settimeofday(regs: &mut PtRegs) -> i32 {
    let (mut tv, mut tz) = ([0u8; 8], [0u8; 8]);
    if regs.bx != 0 && copy_from_user(&mut tv, regs.bx as usize) != 0 {
        return -EFAULT;
    }
    if regs.cx != 0 && copy_from_user(&mut tz, regs.cx as usize) != 0 {
        return -EFAULT;
    }
    let word = |b: &[u8; 8], i: usize| i32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
    let (sec, usec) = (word(&tv, 0), word(&tv, 1));
    if regs.bx != 0 && (sec < 0 || !(0..1_000_000).contains(&usec)) {
        return -EINVAL;
    }
    if regs.cx != 0 {
        let west = word(&tz, 0);
        if !(-15 * 60..=15 * 60).contains(&west) {
            return -EINVAL;
        }
        *SYS_TZ.lock() = [west, word(&tz, 1)];
    }
    if regs.bx != 0 {
        set_realtime_ns(sec as u64 * NSEC_PER_SEC + usec as u64 * 1000);
    }
    0
}

/// `time(tloc)` (i386 13, Linux `sys_time32`): `CLOCK_REALTIME`'s
/// seconds as the return value, and also into `*tloc` if it is not NULL
/// (`-EFAULT` if it cannot be written).
pub fn sys_time(regs: &mut PtRegs) -> i32 {
    let secs = (clock_ns(CLOCK_REALTIME).unwrap_or(0) / NSEC_PER_SEC) as i32;
    if regs.bx != 0 && copy_to_user(regs.bx as usize, &secs.to_le_bytes()) != 0 {
        return -EFAULT;
    }
    secs
}

/// `clock_settime(which, tp)` (i386 264, 32-bit `struct timespec`) and
/// `clock_settime64` (404, 64-bit): only `CLOCK_REALTIME` can be set
/// (Linux: the other clocks have no `clock_set`, `-EINVAL`; an unknown id
/// is `-EINVAL` too); `-EFAULT` for a bad pointer; `-EINVAL` for a
/// negative second or `tv_nsec` outside 0..10^9.
pub fn sys_clock_settime(regs: &mut PtRegs) -> i32 {
    clock_settime_common(regs, false)
}

pub fn sys_clock_settime64(regs: &mut PtRegs) -> i32 {
    clock_settime_common(regs, true)
}

/// Read a user `struct timespec` (i386: two 32-bit longs) or `struct
/// __kernel_timespec` (`wide`: 64-bit seconds and nanoseconds) as
/// (seconds, nanoseconds), or `None` if it cannot be read (`-EFAULT`).
/// Linux `get_timespec64` / `get_old_timespec32`: in the wide form
/// tv_nsec lands in a `long`, 32 bits on i386, so only its lower half
/// counts. The callers check the values.
fn get_timespec(ptr: usize, wide: bool) -> Option<(i64, i64)> {
    let mut ts = [0u8; 16];
    let n = if wide { 16 } else { 8 };
    if copy_from_user(&mut ts[..n], ptr) != 0 {
        return None;
    }
    let word = |i: usize| i32::from_le_bytes(ts[4 * i..4 * i + 4].try_into().unwrap()) as i64;
    Some(if wide { (i64::from_le_bytes(ts[..8].try_into().unwrap()), word(2)) } else { (word(0), word(1)) })
}

fn clock_settime_common(regs: &PtRegs, wide: bool) -> i32 {
    if regs.bx != CLOCK_REALTIME {
        return -EINVAL;
    }
    let Some((sec, nsec)) = get_timespec(regs.cx as usize, wide) else { return -EFAULT };
    // Linux `timespec64_valid_settod`: also no later than 30 years before
    // the year 2262, where i64 nanoseconds end (TIME_SETTOD_SEC_MAX).
    if sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&nsec) || sec > (i64::MAX as u64 / NSEC_PER_SEC) as i64 - 30 * 365 * 86400 {
        return -EINVAL;
    }
    set_realtime_ns(sec as u64 * NSEC_PER_SEC + nsec as u64);
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
    let Some((sec, nsec)) = get_timespec(regs.dx as usize, wide) else { return -EFAULT };
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
