//! `ubench`: the user-level figures of `./run-qemu.sh bench`, measured the
//! same way on this kernel and on Linux (the static binary runs on both):
//! time-stamp-counter cycles per operation, and each as a ratio to a 4 KiB
//! memory copy measured in the same run, because TCG's speed differs from
//! machine to machine and only ratios compare (reference/linux-figures.md
//! gives Linux 6.1's figures with its own page-copy time).
//!
//! Every figure is the *median* of several rounds, as Linux's figures are
//! medians: the guest's time-stamp counter follows host time, so a round in
//! which the host ran something else comes out long, and a mean would
//! carry it; the median does not.
//!
//! ```text
//! ubench: page_copy            N cycles
//! ubench: anon_fault_per_page  N cycles  R x page_copy
//! ...
//! ```
//!
//! With a file argument (or `/data/bench64M` when it exists) it also reads
//! the file with 64 KiB requests, into memory already touched and into
//! untouched memory (each copy then faults inside the kernel's kmap_local
//! of the file page).

#![no_std]
#![no_main]

use core::arch::x86::_rdtsc;

use user::syscall::{exit, syscall0, syscall1, syscall2, syscall3, syscall4, syscall6};
use user::{Args, entry, println};

entry!(main);

const PAGE: usize = 4096;
const FORK: usize = 2;
const READ: usize = 3;
const OPEN: usize = 5;
const CLOSE: usize = 6;
const EXECVE: usize = 11;
const LSEEK: usize = 19;
const MUNMAP: usize = 91;
const WAIT4: usize = 114;
const MMAP2: usize = 192;

fn cycles() -> u64 {
    // SAFETY: rdtsc has no side effects (CR4.TSD is clear on both kernels).
    unsafe { _rdtsc() }
}

fn mmap(len: usize) -> usize {
    // SAFETY: an anonymous private read-write mapping of fresh memory.
    unsafe { syscall6(MMAP2, 0, len, 3, 0x22, usize::MAX, 0) as usize }
}

fn munmap(addr: usize, len: usize) {
    // SAFETY: callers unmap only what they mapped and no longer use.
    unsafe { syscall2(MUNMAP, addr, len) };
}

fn wait(pid: isize) {
    let mut status = 0i32;
    // SAFETY: status is a valid i32 of ours.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
}

/// The median of `rounds` (sorted in place).
fn median(rounds: &mut [u64]) -> u64 {
    rounds.sort_unstable();
    rounds[rounds.len() / 2]
}

/// The median over `R` rounds of `f`'s cycles divided by `per`.
fn rounds<const R: usize>(per: u64, mut f: impl FnMut()) -> u64 {
    let mut r = [0u64; R];
    for x in r.iter_mut() {
        let t = cycles();
        f();
        *x = (cycles() - t) / per;
    }
    median(&mut r)
}

fn report(name: &str, per_op: u64, reference: u64) {
    println!("ubench: {name:<34} {per_op:>10} cycles {:>8}.{:02} x page_copy", per_op / reference, per_op * 100 / reference % 100);
}

fn main(args: Args) -> i32 {
    let mut argv = args.argv();
    let me = argv.next().map(|a| a.to_bytes()).unwrap_or(b"/bin/ubench");
    if argv.next().is_some_and(|a| a.to_bytes() == b"--exit") {
        return 0; // the exec'd child of fork_exec_wait
    }
    // The reference: copy a touched page to another (15 rounds of 200).
    let buf = mmap(2 * PAGE);
    let (src, dst) = (buf as *mut u8, (buf + PAGE) as *mut u8);
    // SAFETY: both pages are ours, mapped read-write.
    unsafe { core::ptr::write_bytes(src, 1, 2 * PAGE) };
    let copy = rounds::<15>(200, || {
        for _ in 0..200 {
            // SAFETY: as above; the pages do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(src, dst, PAGE) };
        }
    })
    .max(1);
    println!("ubench: {:<34} {copy:>10} cycles", "page_copy");

    // Anonymous first-write faults: 8 rounds of 128 fresh pages.
    const N: usize = 1024;
    const ROUND: usize = 128;
    let area = mmap(N * PAGE);
    let mut next = 0;
    let anon = rounds::<8>(ROUND as u64, || {
        for i in next..next + ROUND {
            // SAFETY: inside the fresh mapping.
            unsafe { ((area + i * PAGE) as *mut u8).write_volatile(1) };
        }
        next += ROUND;
    });
    report("anon_fault_per_page", anon, copy);

    // Copy-on-write faults: the child writes every page the parent wrote.
    // SAFETY: fork copies the process; both return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        let mut next = 0;
        let cow = rounds::<8>(ROUND as u64, || {
            for i in next..next + ROUND {
                // SAFETY: inside the mapping, shared copy-on-write with the parent.
                unsafe { ((area + i * PAGE) as *mut u8).write_volatile(2) };
            }
            next += ROUND;
        });
        report("cow_fault_per_page", cow, copy);
        exit(0);
    }
    wait(pid);
    munmap(area, N * PAGE);

    // fork + _exit + wait.
    let fork_exit = rounds::<21>(1, || {
        // SAFETY: as above.
        let pid = unsafe { syscall0(FORK) };
        if pid == 0 {
            exit(0);
        }
        wait(pid);
    });
    report("fork_exit_wait", fork_exit, copy);

    // fork + execve (this program, which exits at once) + wait.
    let mut path = [0u8; 256];
    path[..me.len()].copy_from_slice(me);
    let flag = c"--exit";
    let argv = [path.as_ptr(), flag.as_ptr().cast::<u8>(), core::ptr::null()];
    let fork_exec = rounds::<11>(1, || {
        // SAFETY: as above.
        let pid = unsafe { syscall0(FORK) };
        if pid == 0 {
            // SAFETY: path and argv are valid NUL-terminated strings/arrays.
            unsafe { syscall3(EXECVE, path.as_ptr() as usize, argv.as_ptr() as usize, 0) };
            exit(127);
        }
        wait(pid);
    });
    report("fork_execve_wait", fork_exec, copy);

    // read() of a big file with 64 KiB requests.
    let file = args.argv().nth(1).map(|a| a.to_bytes()).unwrap_or(b"/data/bench64M");
    let mut fpath = [0u8; 256];
    fpath[..file.len()].copy_from_slice(file);
    // SAFETY: a NUL-terminated path of ours; O_RDONLY.
    let fd = unsafe { syscall3(OPEN, fpath.as_ptr() as usize, 0, 0) };
    if fd < 0 {
        println!("ubench: no file to read ({}): read figures skipped", core::str::from_utf8(file).unwrap_or("?"));
        return 0;
    }
    const CHUNK: usize = 64 * 1024;
    for (name, fresh) in [("read_64k_into_touched_per_page", false), ("read_64k_into_untouched_per_page", true)] {
        // SAFETY: lseek of our own descriptor.
        unsafe { syscall3(LSEEK, fd as usize, 0, 0) };
        let mut dst = mmap(CHUNK);
        // SAFETY: inside the mapping.
        unsafe { core::ptr::write_bytes(dst as *mut u8, 0, CHUNK) };
        // One figure per 64 KiB read (the remapping of a fresh buffer is
        // timed with it, as a program that reads into new memory pays it);
        // the median of the 1024 reads of the 64 MiB file.
        let mut per_read: [u64; 1024] = [0; 1024];
        let mut reads = 0;
        loop {
            let t = cycles();
            if fresh {
                munmap(dst, CHUNK);
                dst = mmap(CHUNK);
            }
            // SAFETY: dst is a 64 KiB mapping of ours.
            let n = unsafe { syscall3(READ, fd as usize, dst, CHUNK) };
            if n <= 0 || reads == per_read.len() {
                break;
            }
            per_read[reads] = (cycles() - t) / (n as u64).div_ceil(PAGE as u64);
            reads += 1;
        }
        if reads == 0 {
            println!("ubench: {name}: the file is empty");
        } else {
            report(name, median(&mut per_read[..reads]), copy);
        }
        munmap(dst, CHUNK);
    }
    // SAFETY: our descriptor.
    unsafe { syscall1(CLOSE, fd as usize) };
    0
}
