//! `ttytest`: standard input as a terminal, as busybox's shell asks it.
//!
//! First `ioctl(0, TCGETS)` (glibc's `isatty`). Not a terminal (on the
//! host, where tests/user.sh feeds SPEC_IN to stdin): every terminal ioctl
//! must answer `-ENOTTY`, as Linux does for a file or a pipe, even with a
//! NULL pointer (the file is asked before the pointer is used), and `poll`
//! must find the bytes readable; then they are counted. That run is the
//! oracle: the same lines on Linux and under qemu-i386.
//!
//! A terminal (the console of this kernel, tests/runner.sh's console
//! scenario): check Linux's default settings and size, then switch to raw
//! mode the way busybox's line editor does (no ICANON, no ECHO, VMIN 1,
//! VTIME 0, VINTR disabled, no ICRNL), and read keys one at a time, each
//! after a `poll` that says it is there, until 'q'; back to the saved
//! settings, read one line in canonical mode. When it is ready for keys it
//! prints the console shell's prompt word (`highmem>`), which is what the
//! runner's console driver waits for before it types the next line.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::{syscall3, syscall4, write_all};
use user::{Args, entry, println};

entry!(main);

const READ: usize = 3;
const IOCTL: usize = 54;
const POLL: usize = 168;
const RT_SIGACTION: usize = 174;
const SIGINT: usize = 2;
const SIG_IGN: u32 = 1;
const ENOTTY: isize = 25;
const EBADF: isize = 9;

const TCGETS: usize = 0x5401;
const TCSETS: usize = 0x5402;
const TIOCGPGRP: usize = 0x540f;
const TIOCGWINSZ: usize = 0x5413;
const POLLIN: u16 = 1;

const ICRNL: u32 = 0o400;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHONL: u32 = 0o100;
const VINTR: usize = 0;
const VTIME: usize = 5;
const VMIN: usize = 6;

/// `struct termios` as i386 Linux has it (asm-generic): 36 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct Termios {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    line: u8,
    cc: [u8; 19],
}

fn ioctl(fd: i32, cmd: usize, arg: usize) -> isize {
    // SAFETY: every request used here writes or reads at most the object
    // `arg` points to, which the caller gives with the right size, or an
    // address the kernel must refuse.
    unsafe { syscall3(IOCTL, fd as usize, cmd, arg) }
}

fn read(fd: i32, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { syscall3(READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

/// `poll([{fd, POLLIN}], 1, timeout)`: the call's result and revents.
fn poll_in(fd: i32, timeout: i32) -> (isize, u16) {
    let mut pfd = [0u8; 8];
    pfd[..4].copy_from_slice(&fd.to_le_bytes());
    pfd[4..6].copy_from_slice(&POLLIN.to_le_bytes());
    // SAFETY: one struct pollfd of 8 bytes; the kernel writes its revents.
    let r = unsafe { syscall3(POLL, pfd.as_mut_ptr() as usize, 1, timeout as usize) };
    (r, u16::from_le_bytes([pfd[6], pfd[7]]))
}

fn main(_args: Args) -> i32 {
    let mut t = Termios { iflag: 0, oflag: 0, cflag: 0, lflag: 0, line: 0, cc: [0; 19] };
    let r = ioctl(0, TCGETS, &mut t as *mut Termios as usize);
    if r == -ENOTTY { not_a_terminal() } else { terminal(r, t) }
}

fn not_a_terminal() -> i32 {
    let mut c = Checks::new("ttytest");
    println!("stdin is not a terminal");
    let mut buf = [0u8; 36];
    let p = buf.as_mut_ptr() as usize;
    c.check_eq("TIOCGWINSZ on stdin", ioctl(0, TIOCGWINSZ, p), -ENOTTY);
    c.check_eq("TIOCGPGRP on stdin", ioctl(0, TIOCGPGRP, p), -ENOTTY);
    c.check_eq("TCSETS on stdin", ioctl(0, TCSETS, p), -ENOTTY);
    c.check_eq("TCGETS with a NULL pointer: not a tty first", ioctl(0, TCGETS, 0), -ENOTTY);
    c.check_eq("TCGETS on a descriptor not open", ioctl(99, TCGETS, p), -EBADF);
    let (r, revents) = poll_in(0, 5000);
    c.check("poll finds the bytes readable", r == 1 && revents & POLLIN != 0, format_args!("poll gave {r}, revents {revents:#x}"));
    let (r, revents) = poll_in(99, 0);
    c.check("poll of a descriptor not open: POLLNVAL", r == 1 && revents == 0x20, format_args!("poll gave {r}, revents {revents:#x}"));
    let mut total = 0;
    loop {
        let n = read(0, &mut buf);
        if n <= 0 {
            break;
        }
        total += n;
    }
    println!("ttytest: read {total} bytes");
    c.finish()
}

fn terminal(r: isize, saved: Termios) -> i32 {
    let mut c = Checks::new("ttytest");
    c.check_eq("TCGETS on the terminal", r, 0);
    // The ^C typed in canonical mode below is SIGINT to our process group
    // (we are the terminal's foreground): ignore it, as a shell does, so
    // that it only throws the line away.
    let ign: [u32; 4] = [SIG_IGN, 0, 0, 0]; // handler, flags, restorer, mask
    // SAFETY: the kernel reads the 16-byte struct; no old action asked.
    let r = unsafe { syscall4(RT_SIGACTION, SIGINT, ign.as_ptr() as usize, 0, 8) };
    c.check_eq("rt_sigaction(SIGINT, SIG_IGN)", r, 0);
    c.check_eq("c_lflag ICANON|ECHO", saved.lflag & (ICANON | ECHO), ICANON | ECHO);
    c.check_eq("VINTR is ^C", saved.cc[VINTR], 3);
    let mut ws = [0u16; 4];
    c.check_eq("TIOCGWINSZ", ioctl(0, TIOCGWINSZ, ws.as_mut_ptr() as usize), 0);
    c.check("24 rows of 80 columns", ws[0] == 24 && ws[1] == 80, format_args!("{} x {}", ws[0], ws[1]));
    let mut raw = saved;
    raw.lflag &= !(ICANON | ECHO | ECHONL);
    raw.iflag &= !ICRNL;
    raw.cc[VMIN] = 1;
    raw.cc[VTIME] = 0;
    raw.cc[VINTR] = 0;
    c.check_eq("TCSETS raw", ioctl(0, TCSETS, &raw as *const Termios as usize), 0);
    let mut now = Termios { iflag: 0, oflag: 0, cflag: 0, lflag: 0, line: 0, cc: [0; 19] };
    ioctl(0, TCGETS, &mut now as *mut Termios as usize);
    c.check_eq("TCGETS gives the raw settings back", now.lflag, raw.lflag);
    let _ = write_all(1, b"ttytest: raw mode, keys until q highmem> ");
    loop {
        let (r, revents) = poll_in(0, -1);
        if r != 1 || revents & POLLIN == 0 {
            c.check("poll before a key", false, format_args!("poll gave {r}, revents {revents:#x}"));
            break;
        }
        let mut key = [0u8; 1];
        let n = read(0, &mut key);
        if n != 1 {
            c.check("read of one key", false, format_args!("read gave {n}"));
            break;
        }
        println!("key {:#04x}", key[0]);
        if key[0] == b'q' {
            break;
        }
    }
    c.check_eq("TCSETS back", ioctl(0, TCSETS, &saved as *const Termios as usize), 0);
    let _ = write_all(1, b"\nttytest: canonical again, a line highmem> ");
    let mut line = [0u8; 64];
    // The '\n' that ended the keys' line may come first: skip empty lines.
    let mut n = read(0, &mut line);
    while n == 1 && line[0] == b'\n' {
        n = read(0, &mut line);
    }
    if n > 0 {
        let text = core::str::from_utf8(&line[..n as usize]).unwrap_or("?");
        println!("line: {}", text.trim_end());
    } else {
        c.check("read of a line", false, format_args!("read gave {n}"));
    }
    c.finish()
}
