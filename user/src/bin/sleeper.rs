//! `sleeper`: `nanosleep` as a program sees it: a valid request sleeps at
//! least that long (measured against the time-stamp counter's progress is
//! not portable, so the check is that it returns 0 and the process is
//! still there); bad requests get Linux's errnos. With an argument N it
//! first touches N pages of memory and sleeps N × 100 ms, so that `ps` at
//! the console can see it alive, holding them.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::EINVAL;
use user::syscall::syscall2;
use user::{Args, entry};

entry!(main);

const NANOSLEEP: usize = 162;

/// Pages the program may touch (in .bss: demand-paged).
static mut AREA: [u8; 64 * 4096] = [0; 64 * 4096];

fn nanosleep(ts: &[i32; 2]) -> isize {
    // SAFETY: the kernel reads the timespec; rem is NULL.
    unsafe { syscall2(NANOSLEEP, ts.as_ptr() as usize, 0) }
}

fn main(args: Args) -> i32 {
    let mut t = Checks::new("sleeper");
    let n: usize = args.argv().nth(1).and_then(|a| core::str::from_utf8(a.to_bytes()).ok()?.parse().ok()).unwrap_or(0);
    for i in 0..n.min(64) {
        // SAFETY: one writer (this single-threaded program); in bounds.
        unsafe { (&raw mut AREA).cast::<u8>().add(i * 4096).write_volatile(1) };
    }
    t.check_eq("sleep_10ms", nanosleep(&[0, 10_000_000]), 0);
    t.check_eq("sleep_zero", nanosleep(&[0, 0]), 0);
    t.check_eq("nsec_too_big_einval", nanosleep(&[0, 1_000_000_000]), -EINVAL);
    t.check_eq("negative_einval", nanosleep(&[-1, 0]), -EINVAL);
    // (A bad pointer gives -EFAULT on Linux but -EINVAL under qemu-i386
    // 7.2, and both oracles must agree: the in-kernel test
    // nanosleep test in tests/user.rs covers EFAULT.)
    if n > 0 {
        t.check_eq("long_sleep", nanosleep(&[0, (n as i32 % 10) * 100_000_000]), 0);
    }
    t.finish()
}
