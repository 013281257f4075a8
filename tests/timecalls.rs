//! The clock calls and the small process calls Debian's busybox makes
//! (docs/busybox-census.md, section 4), through the system-call table with
//! a task's own address space, as `int $0x80` would call them:
//! `clock_gettime` (32-bit timespec), `clock_gettime64` (64-bit),
//! `gettimeofday`, `clock_nanosleep`, `gettid`, `set_robust_list`,
//! `umask` (per task, applied by `mkdir`/`open`), `prctl(PR_SET_NAME /
//! PR_GET_NAME)`; the wall clock from the CMOS RTC and the calls that set
//! it (`settimeofday`, `clock_settime(64)`, `time`); each hostile
//! argument with Linux 6.1's errno.

use alloc::vec::Vec;

use crate::arch::entry::syscall_32::nr;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::*;
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, DATA_PAGES, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(clock_gettime_fills_a_32_bit_timespec_that_advances_with_sleep),
    test_case!(the_time_left_of_a_huge_interrupted_sleep_converts_without_overflow),
    test_case!(clock_gettime64_fills_a_64_bit_timespec_agreeing_with_the_32_bit_one),
    test_case!(clock_gettime_refuses_unknown_clocks_and_bad_pointers),
    test_case!(gettimeofday_fills_timeval_and_a_zero_timezone_either_may_be_null),
    test_case!(clock_nanosleep_sleeps_relative_and_absolute_and_refuses_as_linux),
    test_case!(clock_nanosleep_time64_reads_a_64_bit_timespec),
    test_case!(gettid_is_the_pid_and_set_robust_list_wants_the_i386_head_size),
    test_case!(umask_returns_the_old_mask_and_mkdir_and_open_apply_the_new_one),
    test_case!(prctl_sets_and_gets_a_15_byte_name_and_refuses_other_options),
    test_case!(clock_realtime_starts_at_the_rtc_date_and_runs_with_the_monotonic_clock),
    test_case!(settimeofday_clock_settime_and_time_move_and_read_only_the_realtime_clock),
    test_case!(settimeofday_and_clock_settime_refuse_as_linux_and_change_nothing),
];

/// Where the tests put their structures and strings (the data pages).
const BUF: usize = DATA;
const BUF2: usize = DATA + 256;
const PATH: usize = DATA + 512;
/// Where `gettime32`/`gettime64` read the clocks into.
const TSBUF: usize = DATA + 1024;
/// An address a user copy must refuse: the kernel's.
const KERNEL_ADDR: usize = 0xc000_0000;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// A system call with up to six arguments (tests/common.rs's `sys`).
fn sc(n: i32, a: &[usize]) -> i32 {
    let mut x = [0usize; 6];
    x[..a.len()].copy_from_slice(a);
    super::common::sys(n, x)
}

fn user_bytes(addr: usize, n: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0);
    v
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

fn new_mm() {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
}

/// Clock `id` through `clock_gettime` (265), in nanoseconds, checking
/// the 32-bit `struct timespec` is well formed.
fn gettime32(id: usize) -> u64 {
    assert_eq!(copy_to_user(TSBUF, &[0xffu8; 16]), 0);
    assert_eq!(sc(nr::CLOCK_GETTIME, &[id, TSBUF]), 0, "clock_gettime({id})");
    let b = user_bytes(TSBUF, 16);
    let (sec, nsec) = (u32_at(&b, 0) as u64, u32_at(&b, 4) as u64);
    assert!(nsec < NSEC_PER_SEC, "clock {id}: tv_nsec {nsec}");
    assert_eq!(&b[8..], &[0xff; 8], "clock_gettime wrote past its 8-byte timespec");
    sec * NSEC_PER_SEC + nsec
}

/// The same through `clock_gettime64` (403) and its 16-byte timespec.
fn gettime64(id: usize) -> u64 {
    assert_eq!(copy_to_user(TSBUF, &[0xffu8; 16]), 0);
    assert_eq!(sc(nr::CLOCK_GETTIME64, &[id, TSBUF]), 0, "clock_gettime64({id})");
    let b = user_bytes(TSBUF, 16);
    let (sec, nsec) = (u64_at(&b, 0), u64_at(&b, 8));
    assert!(nsec < NSEC_PER_SEC, "clock {id}: tv_nsec {nsec:#x}");
    sec * NSEC_PER_SEC + nsec
}

const CLOCKS: [usize; 6] = [0, 1, 4, 5, 6, 7];

fn clock_gettime_fills_a_32_bit_timespec_that_advances_with_sleep() {
    new_mm();
    for id in CLOCKS {
        let a = gettime32(id);
        crate::sched::timer::msleep(30);
        let b = gettime32(id);
        // 30 ms asleep: every clock moved at least 29 ms (the coarse
        // ones by whole ticks), and not by minutes.
        assert!(b >= a + 29_000_000, "clock {id}: {a} -> {b} across a 30 ms sleep");
        assert!(b - a < 60 * NSEC_PER_SEC, "clock {id}: {a} -> {b}");
    }
    // The fine clocks never go backwards between two reads.
    for id in [0, 1, 4, 7] {
        let mut last = gettime32(id);
        for _ in 0..50 {
            let t = gettime32(id);
            assert!(t >= last, "clock {id} went back: {last} -> {t}");
            last = t;
        }
    }
}

fn clock_gettime64_fills_a_64_bit_timespec_agreeing_with_the_32_bit_one() {
    new_mm();
    for id in CLOCKS {
        let a = gettime32(id);
        let b = gettime64(id);
        let c = gettime32(id);
        assert!(a <= b && b <= c, "clock {id}: 32-bit {a}, 64-bit {b}, 32-bit {c}");
    }
}

fn clock_gettime_refuses_unknown_clocks_and_bad_pointers() {
    new_mm();
    for call in [nr::CLOCK_GETTIME, nr::CLOCK_GETTIME64] {
        // CPU-time, alarm, TAI clocks are not here (Linux has them; see
        // time.rs), and 12.., negative ids are not clocks at all.
        for id in [2usize, 3, 8, 9, 10, 11, 12, 16, usize::MAX] {
            assert_eq!(sc(call, &[id, BUF]), -EINVAL, "call {call} clock {id}");
        }
        // The clock id is checked before the pointer.
        assert_eq!(sc(call, &[99, 0]), -EINVAL);
        for id in CLOCKS {
            assert_eq!(sc(call, &[id, 0]), -EFAULT, "call {call} clock {id} NULL tp");
            assert_eq!(sc(call, &[id, KERNEL_ADDR]), -EFAULT, "call {call} clock {id} kernel tp");
        }
    }
}

fn gettimeofday_fills_timeval_and_a_zero_timezone_either_may_be_null() {
    new_mm();
    assert_eq!(copy_to_user(BUF, &[0xffu8; 8]), 0);
    assert_eq!(copy_to_user(BUF2, &[0xffu8; 8]), 0);
    let before = gettime32(0) / 1000;
    assert_eq!(sc(nr::GETTIMEOFDAY, &[BUF, BUF2]), 0);
    let after = gettime32(0) / 1000;
    let tv = user_bytes(BUF, 8);
    let usec = u32_at(&tv, 4) as u64;
    assert!(usec < 1_000_000, "tv_usec {usec}");
    let t = u32_at(&tv, 0) as u64 * 1_000_000 + usec;
    assert!(before <= t && t <= after, "gettimeofday {t} us not between CLOCK_REALTIME reads {before} and {after}");
    assert_eq!(user_bytes(BUF2, 8), [0u8; 8], "struct timezone: minuteswest and dsttime 0");
    assert_eq!(sc(nr::GETTIMEOFDAY, &[0, 0]), 0);
    assert_eq!(sc(nr::GETTIMEOFDAY, &[BUF, 0]), 0);
    assert_eq!(sc(nr::GETTIMEOFDAY, &[0, BUF2]), 0);
    assert_eq!(sc(nr::GETTIMEOFDAY, &[KERNEL_ADDR, 0]), -EFAULT);
    assert_eq!(sc(nr::GETTIMEOFDAY, &[BUF, KERNEL_ADDR]), -EFAULT);
}

/// Put a 32-bit `struct timespec` at BUF.
fn put_ts(sec: i32, nsec: i32) -> usize {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&sec.to_le_bytes());
    b[4..].copy_from_slice(&nsec.to_le_bytes());
    assert_eq!(copy_to_user(BUF, &b), 0);
    BUF
}

fn clock_nanosleep_sleeps_relative_and_absolute_and_refuses_as_linux() {
    new_mm();
    const TIMER_ABSTIME: usize = 1;
    for id in [0usize, 1, 7] {
        // Relative: 20 ms.
        let a = gettime32(1);
        assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[id, 0, put_ts(0, 20_000_000), BUF2]), 0);
        let b = gettime32(1);
        assert!(b - a >= 20_000_000, "clock {id}: slept {} ns of 20 ms", b - a);
        // Absolute: until the clock reads now + 25 ms.
        let target = gettime32(id) + 25_000_000;
        let ts = put_ts((target / NSEC_PER_SEC) as i32, (target % NSEC_PER_SEC) as i32);
        assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[id, TIMER_ABSTIME, ts, 0]), 0);
        let now = gettime32(id);
        assert!(now >= target, "clock {id}: woke at {now}, before {target}");
        // Absolute and already past: returns at once.
        let a = gettime32(1);
        assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[id, TIMER_ABSTIME, put_ts(0, 0), 0]), 0);
        assert!(gettime32(1) - a < 5_000_000, "a past deadline slept");
    }
    // Clocks that cannot sleep; ids that are no clocks.
    for id in [4usize, 5, 6] {
        assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[id, 0, put_ts(0, 1), 0]), -EOPNOTSUPP, "clock {id}");
    }
    for id in [2usize, 12, usize::MAX] {
        assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[id, 0, put_ts(0, 1), 0]), -EINVAL, "clock {id}");
    }
    assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[1, 0, put_ts(0, 1_000_000_000), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[1, 0, put_ts(0, -1), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[1, 0, put_ts(-1, 0), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[1, 0, 0, 0]), -EFAULT);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[1, 0, KERNEL_ADDR, 0]), -EFAULT);
}

/// Put a 64-bit `struct __kernel_timespec` at BUF.
fn put_ts64(sec: i64, nsec: u64) -> usize {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&sec.to_le_bytes());
    b[8..].copy_from_slice(&nsec.to_le_bytes());
    assert_eq!(copy_to_user(BUF, &b), 0);
    BUF
}

fn clock_nanosleep_time64_reads_a_64_bit_timespec() {
    new_mm();
    const TIMER_ABSTIME: usize = 1;
    let a = gettime32(1);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, put_ts64(0, 20_000_000), BUF2]), 0);
    let b = gettime32(1);
    assert!(b - a >= 20_000_000, "slept {} ns of 20 ms", b - a);
    // tv_nsec is a 32-bit long on i386: its upper half is not looked at.
    let a = gettime32(1);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, put_ts64(0, 0xffff_ffff_0000_0000 | 20_000_000), 0]), 0);
    let b = gettime32(1);
    assert!(b - a >= 20_000_000, "slept {} ns of 20 ms", b - a);
    // Absolute, 25 ms ahead, read as 64-bit seconds.
    let target = gettime64(1) + 25_000_000;
    let ts = put_ts64((target / NSEC_PER_SEC) as i64, target % NSEC_PER_SEC);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, TIMER_ABSTIME, ts, 0]), 0);
    assert!(gettime64(1) >= target);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, put_ts64(0, 1_000_000_000), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, put_ts64(-1, 0), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, put_ts64(i64::MIN, 0), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[5, 0, put_ts64(0, 1), 0]), -EOPNOTSUPP);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[3, 0, put_ts64(0, 1), 0]), -EINVAL);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, KERNEL_ADDR, 0]), -EFAULT);
    // The whole 16 bytes are read: a timespec whose second half is on an
    // unmapped page faults (the 32-bit call would read only 8 there).
    let last8 = DATA + DATA_PAGES * 4096 - 8;
    assert_eq!(copy_to_user(last8, &[0, 0, 0, 0, 1, 0, 0, 0]), 0);
    assert_eq!(sc(nr::CLOCK_NANOSLEEP, &[1, 0, last8, 0]), 0, "the 32-bit call reads 8 bytes");
    assert_eq!(sc(nr::CLOCK_NANOSLEEP_TIME64, &[1, 0, last8, 0]), -EFAULT, "the 64-bit call reads 16");
}

fn gettid_is_the_pid_and_set_robust_list_wants_the_i386_head_size() {
    new_mm();
    let me = crate::sched::current();
    assert_eq!(sc(nr::GETTID, &[]), sc(nr::GETPID, &[]));
    assert_eq!(sc(nr::GETTID, &[]), me.id() as i32);
    let old = me.robust_list.load(core::sync::atomic::Ordering::Relaxed);
    for len in [0usize, 11, 13, 24, usize::MAX] {
        assert_eq!(sc(nr::SET_ROBUST_LIST, &[BUF, len]), -EINVAL, "len {len}");
    }
    assert_eq!(me.robust_list.load(core::sync::atomic::Ordering::Relaxed), old, "a refused call recorded its head");
    assert_eq!(sc(nr::SET_ROBUST_LIST, &[BUF2, 12]), 0);
    assert_eq!(me.robust_list.load(core::sync::atomic::Ordering::Relaxed), BUF2 as u32);
    // The head is not read by the call: any address is recorded (Linux).
    assert_eq!(sc(nr::SET_ROBUST_LIST, &[KERNEL_ADDR, 12]), 0);
    me.robust_list.store(old, core::sync::atomic::Ordering::Relaxed);
}

/// `st_mode` of `path` through `stat64` (offset 16 of the i386 `struct stat64`).
fn mode_of(path: &str) -> u32 {
    put(PATH, path);
    assert_eq!(sc(nr::STAT64, &[PATH, BUF]), 0, "stat64 {path}");
    u32_at(&user_bytes(BUF, 20), 16) & 0o7777
}

fn put(at: usize, s: &str) -> usize {
    let mut v = Vec::from(s.as_bytes());
    v.push(0);
    assert_eq!(copy_to_user(at, &v), 0);
    at
}

fn umask_returns_the_old_mask_and_mkdir_and_open_apply_the_new_one() {
    new_mm();
    let saved = sc(nr::UMASK, &[0o022]);
    assert_eq!(sc(nr::UMASK, &[0o027]), 0o022);
    assert_eq!(sc(nr::UMASK, &[0o027]), 0o027);
    let dir = "/tmp/timecalls-umask";
    assert_eq!(sc(nr::MKDIR, &[put(PATH, dir), 0o777]), 0);
    assert_eq!(mode_of(dir), 0o750, "mkdir 0777 under umask 027");
    let file = "/tmp/timecalls-umask/f";
    let fd = sc(nr::OPEN, &[put(PATH, file), 0o101, 0o666]);
    assert!(fd >= 0, "open O_CREAT: {fd}");
    assert_eq!(sc(nr::CLOSE, &[fd as usize]), 0);
    assert_eq!(mode_of(file), 0o640, "open 0666 under umask 027");
    // Only the permission bits are kept (Linux: mask & S_IRWXUGO).
    assert_eq!(sc(nr::UMASK, &[0o7777]), 0o027);
    assert_eq!(sc(nr::UMASK, &[0xffff_f000 | 0o022]), 0o777);
    assert_eq!(sc(nr::UMASK, &[saved as usize]), 0o022);
}

fn prctl_sets_and_gets_a_15_byte_name_and_refuses_other_options() {
    new_mm();
    const PR_SET_NAME: usize = 15;
    const PR_GET_NAME: usize = 16;
    let me = crate::sched::current();
    let saved = *me.comm.lock();
    put(BUF2, "sh");
    assert_eq!(sc(nr::PRCTL, &[PR_SET_NAME, BUF2]), 0);
    assert_eq!(copy_to_user(BUF, &[0xffu8; 20]), 0);
    assert_eq!(sc(nr::PRCTL, &[PR_GET_NAME, BUF]), 0);
    let got = user_bytes(BUF, 20);
    assert_eq!(&got[..16], b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0", "the whole 16-byte comm is copied");
    assert_eq!(&got[16..], &[0xff; 4], "no more than TASK_COMM_LEN bytes");
    // A longer name is cut to 15 bytes and a NUL.
    put(BUF2, "abcdefghijklmnopqrstuvwxyz");
    assert_eq!(sc(nr::PRCTL, &[PR_SET_NAME, BUF2]), 0);
    assert_eq!(sc(nr::PRCTL, &[PR_GET_NAME, BUF]), 0);
    assert_eq!(&user_bytes(BUF, 16)[..], b"abcdefghijklmno\0");
    assert_eq!(sc(nr::PRCTL, &[PR_SET_NAME, KERNEL_ADDR]), -EFAULT);
    assert_eq!(sc(nr::PRCTL, &[PR_GET_NAME, KERNEL_ADDR]), -EFAULT);
    assert_eq!(sc(nr::PRCTL, &[PR_GET_NAME, 0]), -EFAULT);
    for opt in [0usize, 1, 14, 17, 9999, usize::MAX] {
        assert_eq!(sc(nr::PRCTL, &[opt, BUF]), -EINVAL, "option {opt}");
    }
    *me.comm.lock() = saved;
}

/// 2024-01-01 00:00:00 UTC: QEMU's RTC keeps the host's UTC time, and
/// no host running this suite is older.
const JAN_2024: u64 = 1_704_067_200;

fn clock_realtime_starts_at_the_rtc_date_and_runs_with_the_monotonic_clock() {
    new_mm();
    let rtc = crate::arch::rtc::mach_get_cmos_time().expect("QEMU's CMOS RTC reads") as u64;
    let real = gettime64(0) / NSEC_PER_SEC;
    assert!(rtc >= JAN_2024, "the RTC reads {rtc} s: before 2024");
    // The RTC ticks whole seconds; the clock was set from it at boot and
    // has run on the TSC since, whose rate was measured against the PIT
    // in a few milliseconds at boot: under TCG on a loaded host that
    // measure can be some per cent off, and nothing (no NTP) corrects the
    // drift. So they agree within two seconds plus a tenth of the uptime.
    let uptime = gettime64(1) / NSEC_PER_SEC;
    assert!(real.abs_diff(rtc) <= 2 + uptime / 10, "CLOCK_REALTIME {real} s, the RTC {rtc} s, {uptime} s after boot");
    // Realtime is monotonic plus a fixed offset: across a sleep both move
    // by the same amount.
    let (r0, m0) = (gettime64(0), gettime64(1));
    crate::sched::timer::msleep(20);
    let (m1, r1) = (gettime64(1), gettime64(0));
    let before = r0 as i128 - m0 as i128;
    let after = r1 as i128 - m1 as i128;
    assert!((after - before).abs() < 2_000_000, "realtime - monotonic moved from {before} to {after} ns");
    // The coarse realtime clock has the same offset, to a tick or two.
    let coarse = gettime64(5) as i128 - gettime64(6) as i128;
    assert!((coarse - after).abs() < 3 * (NSEC_PER_SEC / crate::sched::core::HZ) as i128, "coarse offset {coarse}, fine {after}");
}

/// A 32-bit `struct timeval` (or `struct timezone`) at `addr`.
fn put_pair(addr: usize, a: i32, b: i32) -> usize {
    let mut v = [0u8; 8];
    v[..4].copy_from_slice(&a.to_le_bytes());
    v[4..].copy_from_slice(&b.to_le_bytes());
    assert_eq!(copy_to_user(addr, &v), 0);
    addr
}

/// Put CLOCK_REALTIME back where it would be had no test moved it.
fn restore_realtime(offset: i128) {
    let now = gettime64(1) as i128 + offset;
    crate::time::set_realtime_ns(now as u64);
    assert_eq!(sc(nr::SETTIMEOFDAY, &[0, put_pair(BUF2, 0, 0)]), 0);
}

fn settimeofday_clock_settime_and_time_move_and_read_only_the_realtime_clock() {
    new_mm();
    let offset = gettime64(0) as i128 - gettime64(1) as i128;
    // settimeofday: 2001-09-09 01:46:40 UTC and half a second.
    let mono = gettime64(1);
    assert_eq!(sc(nr::SETTIMEOFDAY, &[put_pair(BUF, 1_000_000_000, 500_000), put_pair(BUF2, -60, 1)]), 0);
    let real = gettime64(0);
    assert!((1_000_000_000 * NSEC_PER_SEC + 500_000_000..1_000_000_002 * NSEC_PER_SEC).contains(&real), "after settimeofday: {real} ns");
    assert!(gettime64(1) >= mono, "the monotonic clock did not jump back");
    assert!(gettime64(1) - mono < NSEC_PER_SEC, "nor forward");
    // gettimeofday hands back the time and the timezone just set.
    assert_eq!(sc(nr::GETTIMEOFDAY, &[BUF, BUF2]), 0);
    let (tv, tz) = (user_bytes(BUF, 8), user_bytes(BUF2, 8));
    assert!((1_000_000_000..1_000_000_002).contains(&u32_at(&tv, 0)), "gettimeofday: {} s", u32_at(&tv, 0));
    assert_eq!((u32_at(&tz, 0) as i32, u32_at(&tz, 4)), (-60, 1), "sys_tz as set");
    // time(): the seconds, returned and stored.
    assert_eq!(copy_to_user(BUF, &[0xffu8; 8]), 0);
    let t = sc(nr::TIME, &[BUF]);
    assert!((1_000_000_000..1_000_000_002).contains(&t), "time() {t}");
    assert_eq!(u32_at(&user_bytes(BUF, 8), 0) as i32, t, "time() stores what it returns");
    assert_eq!(u32_at(&user_bytes(BUF, 8), 4), 0xffff_ffff, "and only 4 bytes");
    assert!(sc(nr::TIME, &[0]) >= t, "time(NULL)");
    // clock_settime64 past 2038 (where the 32-bit calls cannot go).
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&(1u64 << 32).to_le_bytes());
    ts[8..12].copy_from_slice(&7i32.to_le_bytes());
    assert_eq!(copy_to_user(BUF, &ts), 0);
    assert_eq!(sc(nr::CLOCK_SETTIME64, &[0, BUF]), 0);
    let real = gettime64(0);
    assert!(((1u64 << 32) * NSEC_PER_SEC..((1u64 << 32) + 2) * NSEC_PER_SEC).contains(&real), "after clock_settime64: {real}");
    // clock_settime, 32-bit: 1234567890 s.
    assert_eq!(sc(nr::CLOCK_SETTIME, &[0, put_pair(BUF, 1_234_567_890, 0)]), 0);
    let real = gettime32(0) / NSEC_PER_SEC;
    assert!((1_234_567_890..1_234_567_892).contains(&real), "after clock_settime: {real}");
    restore_realtime(offset);
    assert!(gettime64(0) / NSEC_PER_SEC >= JAN_2024, "the date is back");
}

fn settimeofday_and_clock_settime_refuse_as_linux_and_change_nothing() {
    new_mm();
    let offset = gettime64(0) as i128 - gettime64(1) as i128;
    let unchanged = || {
        let now = gettime64(0) as i128 - gettime64(1) as i128;
        assert!((now - offset).abs() < 5_000_000, "CLOCK_REALTIME moved: offset {offset} -> {now}");
    };
    // settimeofday: tv_usec out of range, a negative second, a timezone
    // beyond 15 hours (with a good tv: nothing is set), bad pointers.
    for (sec, usec) in [(5, 1_000_000), (5, -1), (-1, 0)] {
        assert_eq!(sc(nr::SETTIMEOFDAY, &[put_pair(BUF, sec, usec), 0]), -EINVAL, "tv {sec} s {usec} us");
    }
    for west in [15 * 60 + 1, -15 * 60 - 1] {
        assert_eq!(sc(nr::SETTIMEOFDAY, &[put_pair(BUF, 5, 0), put_pair(BUF2, west, 0)]), -EINVAL, "tz_minuteswest {west}");
    }
    assert_eq!(sc(nr::SETTIMEOFDAY, &[KERNEL_ADDR, 0]), -EFAULT);
    assert_eq!(sc(nr::SETTIMEOFDAY, &[put_pair(BUF, 5, 0), KERNEL_ADDR]), -EFAULT);
    assert_eq!(sc(nr::SETTIMEOFDAY, &[0, 0]), 0, "nothing to set");
    unchanged();
    // clock_settime: only CLOCK_REALTIME (the id is checked before the
    // pointer), a good timespec, a readable pointer.
    for call in [nr::CLOCK_SETTIME, nr::CLOCK_SETTIME64] {
        for id in [1usize, 4, 5, 6, 7, 2, 11, 99, usize::MAX] {
            assert_eq!(sc(call, &[id, KERNEL_ADDR]), -EINVAL, "call {call}: clock {id} cannot be set");
        }
        assert_eq!(sc(call, &[0, KERNEL_ADDR]), -EFAULT, "call {call}");
        assert_eq!(sc(call, &[0, 0]), -EFAULT, "call {call}: NULL");
    }
    for (sec, nsec) in [(5, 1_000_000_000), (5, -1), (-1, 0)] {
        assert_eq!(sc(nr::CLOCK_SETTIME, &[0, put_pair(BUF, sec, nsec)]), -EINVAL, "timespec {sec} s {nsec} ns");
    }
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&(-1i64).to_le_bytes());
    assert_eq!(copy_to_user(BUF, &ts), 0);
    assert_eq!(sc(nr::CLOCK_SETTIME64, &[0, BUF]), -EINVAL, "a negative 64-bit second");
    ts[..8].copy_from_slice(&(1i64 << 40).to_le_bytes());
    assert_eq!(copy_to_user(BUF, &ts), 0);
    assert_eq!(sc(nr::CLOCK_SETTIME64, &[0, BUF]), -EINVAL, "past 2262, where nanoseconds in 64 bits end");
    // time() with a pointer it cannot write.
    assert_eq!(sc(nr::TIME, &[KERNEL_ADDR]), -EFAULT);
    unchanged();
    restore_realtime(offset);
}

/// The fuzzer's third find (`./run-qemu.sh fuzz --seed 1 --seconds 20`): a
/// nanosleep of 0x61616161 seconds (a timespec read from a page of 'a's)
/// interrupted by a signal computed its time left as `left * 10^9 / HZ`
/// in u64, which overflows from about 1.8 * 10^10 jiffies on: the debug
/// kernel panicked ("attempt to multiply with overflow", sched/timer.rs).
/// `jiffies_to_timespec64` must give the exact seconds and nanoseconds
/// for any count.
fn the_time_left_of_a_huge_interrupted_sleep_converts_without_overflow() {
    use crate::sched::core::HZ;
    use crate::sched::timer::jiffies_to_timespec64;
    let max_sleep = i32::MAX as u64 * HZ; // tv_sec = 2^31 - 1
    assert_eq!(jiffies_to_timespec64(max_sleep + 5), (i32::MAX as u64, 5 * (1_000_000_000 / HZ)));
    assert_eq!(jiffies_to_timespec64(0x6161_6161 * HZ + 1), (0x6161_6161, 1_000_000_000 / HZ));
    assert_eq!(jiffies_to_timespec64(u64::MAX), (u64::MAX / HZ, (u64::MAX % HZ) * (1_000_000_000 / HZ)));
    assert_eq!(jiffies_to_timespec64(1), (0, 1_000_000_000 / HZ));
}
