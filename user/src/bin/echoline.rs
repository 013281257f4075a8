//! `echoline`: a `cat` of standard input, a few bytes at a time. Reads fd
//! 0 with a 16-byte buffer until end of file and writes what it got to
//! fd 1; then says how many bytes came. On a terminal each read returns
//! at most one line (the console's line discipline, kernel/src/tty.rs),
//! and a line longer than 16 bytes comes in pieces; from a pipe (how
//! tests/user.sh drives it on the host) the bytes come as they were
//! written. Either way the output is the input.
//!
//! First, a read into a kernel address: it must fail with `-EFAULT` and
//! take nothing (the bytes are all still there for the reads after).
//! A read that fails otherwise (`-EIO` for a program the console shell
//! started in the background) is reported on stderr, exit status 1.

#![no_std]
#![no_main]

use user::syscall::errno::EFAULT;
use user::syscall::{syscall3, write_all};
use user::{Args, entry, eprintln, println};

entry!(main);

const READ: usize = 3;

fn read(fd: i32, buf: usize, count: usize) -> isize {
    // SAFETY: the kernel writes at most `count` bytes at `buf`, which is
    // either our buffer of that size or an address it must refuse.
    unsafe { syscall3(READ, fd as usize, buf, count) }
}

fn main(_args: Args) -> i32 {
    let r = read(0, 0xc000_0000, 16);
    if r != -EFAULT {
        eprintln!("echoline: read(0) into a kernel address gave {r}, want {}", -EFAULT);
        return 1;
    }
    let mut buf = [0u8; 16];
    let mut total = 0;
    loop {
        let n = read(0, buf.as_mut_ptr() as usize, buf.len());
        if n == 0 {
            break;
        }
        if n < 0 {
            eprintln!("echoline: read: error {}", -n);
            return 1;
        }
        if write_all(1, &buf[..n as usize]).is_err() {
            return 1;
        }
        total += n;
    }
    println!("echoline: end of file after {total} bytes");
    0
}
