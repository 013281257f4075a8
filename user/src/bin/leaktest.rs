//! `leaktest ADDR...`: each system call that takes a buffer, handed an
//! address the program does not own (a kernel address, or a user address
//! with nothing mapped), must refuse with `-EFAULT` and move no byte:
//! nothing from that address reaches a pipe the program can read, nothing
//! is written there, and data the call would have consumed stays where it
//! was (issue 13, "nothing let through"). The kernel's own test
//! (tests/hostile.rs) runs it with the addresses of a secret it wrote into
//! lowmem and into a kmapped highmem page; `tests/user.sh` runs it with a
//! kernel address and an unmapped user address, under Linux too.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::{EAGAIN, EFAULT};
use user::syscall::fcntl::O_NONBLOCK;
use user::syscall::nr::{CLOCK_GETTIME, FSTAT64, GETCWD, GETTIMEOFDAY, OPEN, PIPE, READ, RT_SIGACTION, UNAME, WRITE, WRITEV};
use user::syscall::{close, pipe2, read, syscall3, syscall4};
use user::{Args, entry};

entry!(main);

/// An address in hexadecimal (`0x` optional); `None` if it is not one.
fn parse_hex(s: &[u8]) -> Option<usize> {
    let s = s.strip_prefix(b"0x").unwrap_or(s);
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.iter().try_fold(0usize, |v, &c| Some(v << 4 | (c as char).to_digit(16)? as usize))
}

/// A check's name, formatted on the stack (no allocator here).
struct Name {
    buf: [u8; 96],
    len: usize,
}

impl Name {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl core::fmt::Write for Name {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// System call `nr` with `args`, one of which is an address this program
/// does not own: the kernel must refuse it (the calls chosen write or read
/// nothing else of ours that matters).
fn bad_pointer_call(nr: usize, args: [usize; 4]) -> isize {
    // SAFETY: the only memory the call may touch is at the address we do
    // not own, which the kernel must refuse, and (for rt_sigaction's other
    // pointer) nothing: the other pointer arguments are 0.
    unsafe { syscall4(nr, args[0], args[1], args[2], args[3]) }
}

fn main(args: Args) -> i32 {
    let mut t = Checks::new("leaktest");
    let mut buf = [0u8; 64];
    for (i, arg) in args.argv().skip(1).enumerate() {
        let Some(addr) = parse_hex(arg.to_bytes()) else {
            t.check("an_address_in_hex", false, format_args!("argument {} is not one", i + 1));
            continue;
        };
        let n = i + 1;
        let name = |what: &str| {
            let mut s = Name { buf: [0; 96], len: 0 };
            let _ = core::fmt::Write::write_fmt(&mut s, format_args!("{what}_address_{n}"));
            s
        };

        // From the address into a pipe: -EFAULT, and the pipe stays empty
        // (a read of the non-blocking pipe gives -EAGAIN).
        let Ok((r, w)) = pipe2(O_NONBLOCK) else { panic!("pipe2") };
        // SAFETY: the kernel must refuse to read addr.
        let got = unsafe { syscall3(WRITE, w as usize, addr, 16) };
        t.check_eq(name("write_from").as_str(), got, -EFAULT);
        t.check_eq(name("nothing_reached_the_pipe_from").as_str(), read(r, &mut buf), -EAGAIN);
        let iov = [addr as u32, 16u32];
        // SAFETY: iov is ours; the kernel must refuse to read addr.
        let got = unsafe { syscall3(WRITEV, w as usize, iov.as_ptr() as usize, 1) };
        t.check_eq(name("writev_from").as_str(), got, -EFAULT);
        t.check_eq(name("nothing_reached_the_pipe_by_writev_from").as_str(), read(r, &mut buf), -EAGAIN);

        // From a pipe into the address: -EFAULT, and the bytes stay in the
        // pipe for a read into a buffer of ours.
        user::syscall::write(w, b"hello");
        // SAFETY: the kernel must refuse to write addr.
        let got = unsafe { syscall3(READ, r as usize, addr, 5) };
        t.check_eq(name("read_into").as_str(), got, -EFAULT);
        let back = read(r, &mut buf);
        t.check(name("the_bytes_stay_in_the_pipe_after_read_into").as_str(), back == 5 && &buf[..5] == b"hello",
            format_args!("read {back}"));
        close(r);
        close(w);

        // Calls that write a result there, then calls that read a path or
        // a structure from there.
        for (what, got) in [
            ("getcwd_into", bad_pointer_call(GETCWD, [addr, 64, 0, 0])),
            ("uname_into", bad_pointer_call(UNAME, [addr, 0, 0, 0])),
            ("clock_gettime_into", bad_pointer_call(CLOCK_GETTIME, [1, addr, 0, 0])),
            ("gettimeofday_into", bad_pointer_call(GETTIMEOFDAY, [addr, 0, 0, 0])),
            ("fstat64_into", bad_pointer_call(FSTAT64, [1, addr, 0, 0])),
            ("pipe_into", bad_pointer_call(PIPE, [addr, 0, 0, 0])),
            ("rt_sigaction_old_into", bad_pointer_call(RT_SIGACTION, [10, 0, addr, 8])),
            ("open_path_at", bad_pointer_call(OPEN, [addr, 0, 0, 0])),
            ("rt_sigaction_new_from", bad_pointer_call(RT_SIGACTION, [10, addr, 0, 8])),
        ] {
            t.check_eq(name(what).as_str(), got, -EFAULT);
        }
    }
    t.finish()
}
