//! `hog`: a program that takes memory, for the OOM killer's tests. The
//! same under Linux and under this kernel.
//!
//! * `hog MIB`: map MIB MiB of anonymous memory, write every page, check
//!   it reads back, print `ok hog_touched`, exit 0.
//! * `hog MIB hold`: the same, then sleep until killed (`pause`): a
//!   process of a known size for the OOM killer to weigh.
//! * `hog fork N`: touch 2 MiB (so that every child starts as big, by
//!   Linux's count, which includes the pages it shares with its parent,
//!   as a 2 MiB process), then fork N children that each take 64 KiB
//!   more, again and again, without bound, until they are killed (a failed `mmap` makes a
//!   child sleep until killed); the parent reaps them all and prints
//!   `hog: children=N killed=K` (K: those ended by SIGKILL), exit 0.
//!   **Never run this mode on a machine you care about without a memory
//!   limit** (on Linux: inside a cgroup with `memory.max`): it is the
//!   unbounded forking allocator the OOM killer must contain. The host-side
//!   user tests run only the first form.

#![no_std]
#![no_main]

use user::syscall::{syscall0, syscall4, syscall6};
use user::{Args, entry, println};

entry!(main);

const PAGE: usize = 4096;
const FORK: usize = 2;
const PAUSE: usize = 29;
const WAIT4: usize = 114;
const MMAP2: usize = 192;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
const SIGKILL: i32 = 9;
/// What a forked child takes at a time.
const STEP: usize = 64 * 1024;

/// Anonymous read-write memory, or None.
fn mmap(len: usize) -> Option<*mut u8> {
    // SAFETY: an anonymous mapping reads no memory of ours.
    let r = unsafe { syscall6(MMAP2, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, usize::MAX, 0) };
    (!(-4095..0).contains(&r)).then_some(r as *mut u8)
}

/// Write a word into every page of [p, p + len) and check it reads back.
fn touch(p: *mut u8, len: usize) -> bool {
    for off in (0..len).step_by(PAGE) {
        // SAFETY: [p, p + len) is ours, mapped read-write by mmap.
        unsafe { p.add(off).cast::<usize>().write_volatile(off ^ 0x6f67) };
    }
    // SAFETY: as above.
    (0..len).step_by(PAGE).all(|off| unsafe { p.add(off).cast::<usize>().read_volatile() } == off ^ 0x6f67)
}

fn pause_forever() -> ! {
    loop {
        // SAFETY: pause takes no arguments.
        unsafe { syscall0(PAUSE) };
    }
}

fn main(args: Args) -> i32 {
    let mut argv = args.argv().skip(1).map(|a| core::str::from_utf8(a.to_bytes()).unwrap_or(""));
    match (argv.next(), argv.next()) {
        (Some("fork"), Some(n)) => fork_hogs(n.parse().unwrap_or(0)),
        (Some(mib), mode) => {
            let Ok(mib) = mib.parse::<usize>() else { return usage() };
            let len = mib * 1024 * 1024;
            let Some(p) = mmap(len) else {
                println!("FAILED hog_touched: mmap of {mib} MiB");
                return 1;
            };
            if !touch(p, len) {
                println!("FAILED hog_touched: a page did not read back");
                return 1;
            }
            println!("ok hog_touched");
            if mode == Some("hold") {
                pause_forever();
            }
            0
        }
        _ => usage(),
    }
}

fn usage() -> i32 {
    println!("usage: hog MIB [hold] | hog fork N");
    2
}

/// `hog fork N`: see the top of the file.
fn fork_hogs(n: usize) -> i32 {
    let Some(p) = mmap(2 << 20) else {
        println!("hog: mmap of 2 MiB failed");
        return 1;
    };
    touch(p, 2 << 20);
    for _ in 0..n {
        // SAFETY: fork copies the process; both copies return here.
        let pid = unsafe { syscall0(FORK) };
        if pid == 0 {
            loop {
                match mmap(STEP) {
                    Some(p) => {
                        touch(p, STEP);
                    }
                    None => pause_forever(),
                }
            }
        }
        if pid < 0 {
            println!("hog: fork failed ({pid})");
            break;
        }
    }
    let (mut children, mut killed) = (0, 0);
    loop {
        let mut status = 0i32;
        // SAFETY: status is ours for the kernel to write.
        let r = unsafe { syscall4(WAIT4, usize::MAX, &raw mut status as usize, 0, 0) };
        if r <= 0 {
            break;
        }
        children += 1;
        if status & 0x7f == SIGKILL {
            killed += 1;
        }
    }
    println!("hog: children={children} killed={killed}");
    0
}
