//! The console as a terminal: Linux's line discipline (`drivers/tty/n_tty.c`)
//! honouring `termios`, its output processing, and the part of
//! `tty_io.c`/`tty_jobctrl.c` that says who may read and whom ^C reaches.
//! The `ioctl`s that read and change all this are in `tty_ioctl.rs`;
//! `poll`/`select` ask [`tty_poll`].
//!
//! ```text
//!  COM1 --IRQ 4--> console.rs RX ring ("flip buffer") --> serial_rx()
//!                                                           |
//!        the kernel shell is the foreground: leave the bytes | a program is:
//!        in the ring, its readline edits and echoes them     | cook them now
//!                                                           v
//!   receive_from_ring(): n_tty_receive_char, one byte at a time, per termios
//!     c_iflag  ISTRIP, IGNCR, ICRNL ('\r' -> '\n'), INLCR
//!     c_lflag  ISIG:   VINTR ^C -> SIGINT, VQUIT ^\ -> SIGQUIT,
//!                      VSUSP ^Z -> SIGTSTP, to the foreground process group
//!                      (isig()), input flushed unless NOFLSH, echoed "^C"
//!              ICANON: VERASE DEL, VWERASE ^W, VKILL ^U edit the line;
//!                      '\n', VEOL, VEOL2 end it; VEOF ^D ends it unread
//!                      (at its start: read() returns 0, end of file);
//!                      VLNEXT ^V takes the next byte as it is
//!              else:   every byte is input at once ("raw")
//!              ECHO, ECHOE ("\b \b"), ECHOK/ECHOKE, ECHOCTL (^X), ECHONL
//!     the echo goes out through the output processing:
//!     c_oflag  OPOST: ONLCR ('\n' -> "\r\n"), OCRNL, ONOCR, ONLRET
//!                                                           |
//!   n_tty_read():  ICANON: one line (or part of it)         v
//!                  raw:    VMIN bytes, or what came within VTIME tenths
//! ```
//!
//! When the bytes are cooked. Linux cooks every byte as it arrives (a
//! workqueue, `flush_to_ldisc`, right after the interrupt), so echo and ^C
//! happen when the key is pressed. Here the serial interrupt does the same
//! while a program is the console's foreground (`run PROG` waits for it):
//! a program busy computing is interrupted by ^C at once. While the kernel's
//! own shell is the foreground, its line editor (tools/readline.rs) reads the
//! ring raw, so the interrupt leaves the bytes there; and with no foreground
//! at all (the in-kernel tests, a boot's /init before any shell), the bytes
//! wait in the ring until a reader, `poll` or `FIONREAD` asks, and are cooked
//! then, in order, by whichever of them comes first. Cooking always takes
//! the bytes from the ring under the tty's lock, so the order in which
//! they were typed is the order in which they are cooked, whoever cooks.
//!
//! Job control (Linux `tty_jobctrl.c`): the console belongs to at most one
//! session (`tty->session`, its controlling terminal) and has a foreground
//! process group (`tty->pgrp`). ^C, ^\ and ^Z send SIGINT, SIGQUIT and
//! SIGTSTP to every process of that group (`isig` -> `kill_pgrp`). A
//! process whose controlling terminal it is, outside the foreground group,
//! that reads is sent SIGTTIN (its group stops), or gets `-EIO` if it
//! ignores or blocks SIGTTIN or its group is orphaned; with TOSTOP set,
//! one that writes is sent SIGTTOU the same way (and writes if it ignores
//! or blocks it: Linux `n_tty_write`); a process for which the console is
//! not the controlling terminal reads and writes freely (as Linux's
//! `job_control` lets it). A session leader gets the console as
//! its controlling terminal with `TIOCSCTTY`, or by opening `/dev/ttyS0`
//! without `O_NOCTTY` (`tty_open_proc_set_tty`), never through
//! `/dev/console` or `/dev/tty`, as in Linux.
//!
//! Who is the console's session. The kernel's shell (tools/shell.rs) leads
//! one and the console is its controlling terminal; its `run PROG` starts
//! PROG as a job of that session in a process group of its own, makes that
//! group the foreground (before PROG's first instruction, as a shell's
//! child calls `setpgid` and `tcsetpgrp` before it execs) and takes the
//! console back when PROG ends. The first user program (`init=`,
//! `rdinit=`) is started as Linux's initramfs scripts start their shell
//! with `setsid cttyhack sh`: a session leader whose controlling terminal
//! is the console (init.rs). Linux itself starts `init=/bin/sh` in session
//! 0 with `/dev/console`, which is never a controlling terminal, so its
//! shell says "can't access tty; job control turned off" and ^C reaches no
//! one; we do what busybox's `cttyhack` does instead, so that the shell on
//! the serial line has job control and ^C.
//!
//! Where we differ from Linux: no flow control (IXON's ^S/^Q are ordinary
//! bytes), no VREPRINT, tabs are erased as one column, no PARMRK/IUCLC/
//! OLCUC/delays; output is written to the UART synchronously, so nothing is
//! ever waiting in an output queue (TCSETSW has nothing to drain, TCOFLUSH
//! nothing to drop). A copy to the user that fails keeps the bytes (Linux
//! has already taken them off its buffer): a bad pointer loses nothing. A
//! buffer outside user space is refused before anything is read
//! (`-EFAULT`, Linux's `access_ok` in `vfs_read`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::{EAGAIN, EFAULT, EIO};
use crate::locking::{Mutex, SpinLock};
use crate::sched::wait::WaitQueue;

/// termbits.h (asm-generic, which i386 uses): the control characters'
/// indices in `c_cc`.
pub mod cc {
    pub const VINTR: usize = 0;
    pub const VQUIT: usize = 1;
    pub const VERASE: usize = 2;
    pub const VKILL: usize = 3;
    pub const VEOF: usize = 4;
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
    pub const VSWTC: usize = 7;
    pub const VSTART: usize = 8;
    pub const VSTOP: usize = 9;
    pub const VSUSP: usize = 10;
    pub const VEOL: usize = 11;
    pub const VREPRINT: usize = 12;
    pub const VDISCARD: usize = 13;
    pub const VWERASE: usize = 14;
    pub const VLNEXT: usize = 15;
    pub const VEOL2: usize = 16;
    /// `NCCS`: the size of `c_cc` in `struct termios` (and `termios2`).
    pub const NCCS: usize = 19;
}

/// `c_iflag` bits.
pub mod iflag {
    pub const IGNBRK: u32 = 0o1;
    pub const ISTRIP: u32 = 0o40;
    pub const INLCR: u32 = 0o100;
    pub const IGNCR: u32 = 0o200;
    pub const ICRNL: u32 = 0o400;
    pub const IXON: u32 = 0o2000;
}

/// `c_oflag` bits.
pub mod oflag {
    pub const OPOST: u32 = 0o1;
    pub const ONLCR: u32 = 0o4;
    pub const OCRNL: u32 = 0o10;
    pub const ONOCR: u32 = 0o20;
    pub const ONLRET: u32 = 0o40;
}

/// `c_cflag` bits.
pub mod cflag {
    pub const B38400: u32 = 0o17;
    pub const CS8: u32 = 0o60;
    pub const CREAD: u32 = 0o200;
    pub const HUPCL: u32 = 0o2000;
}

/// `c_lflag` bits.
pub mod lflag {
    pub const ISIG: u32 = 0o1;
    pub const ICANON: u32 = 0o2;
    pub const ECHO: u32 = 0o10;
    pub const ECHOE: u32 = 0o20;
    pub const ECHOK: u32 = 0o40;
    pub const ECHONL: u32 = 0o100;
    pub const NOFLSH: u32 = 0o200;
    pub const TOSTOP: u32 = 0o400;
    pub const ECHOCTL: u32 = 0o1000;
    pub const ECHOKE: u32 = 0o4000;
    pub const IEXTEN: u32 = 0o100000;
}

/// Signals the keyboard sends (Linux's numbers on i386).
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGTSTP: i32 = 20;
pub const SIGWINCH: i32 = 28;

/// A terminal's settings (Linux `struct ktermios`; user space sees the
/// first 36 bytes as `struct termios`, all 44 as `struct termios2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; cc::NCCS],
    pub ispeed: u32,
    pub ospeed: u32,
}

/// `sizeof(struct termios)` on i386: four flags, `c_line`, 19 `c_cc`.
pub const TERMIOS_SIZE: usize = 36;
/// `sizeof(struct termios2)`: and the two speeds.
pub const TERMIOS2_SIZE: usize = 44;

impl Termios {
    /// Linux's `tty_std_termios` (drivers/tty/tty_io.c), the settings of
    /// every terminal when it is first opened: cooked input with echo and
    /// the keyboard's signals, "\n" written as "\r\n", 38400 baud 8 bits.
    /// The control characters are `INIT_C_CC` (include/linux/tty.h).
    pub const STD: Termios = Termios {
        iflag: iflag::ICRNL | iflag::IXON,
        oflag: oflag::OPOST | oflag::ONLCR,
        cflag: cflag::B38400 | cflag::CS8 | cflag::CREAD | cflag::HUPCL,
        lflag: lflag::ISIG
            | lflag::ICANON
            | lflag::ECHO
            | lflag::ECHOE
            | lflag::ECHOK
            | lflag::ECHOCTL
            | lflag::ECHOKE
            | lflag::IEXTEN,
        line: 0,
        // INTR ^C, QUIT ^\, ERASE DEL, KILL ^U, EOF ^D, TIME 0, MIN 1,
        // SWTC 0, START ^Q, STOP ^S, SUSP ^Z, EOL 0, REPRINT ^R,
        // DISCARD ^O, WERASE ^W, LNEXT ^V, EOL2 0.
        cc: [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0],
        ispeed: 38400,
        ospeed: 38400,
    };

    /// The bytes of `struct termios2` (the first [`TERMIOS_SIZE`] are
    /// `struct termios`).
    pub fn to_bytes(&self) -> [u8; TERMIOS2_SIZE] {
        let mut b = [0u8; TERMIOS2_SIZE];
        b[0..4].copy_from_slice(&self.iflag.to_le_bytes());
        b[4..8].copy_from_slice(&self.oflag.to_le_bytes());
        b[8..12].copy_from_slice(&self.cflag.to_le_bytes());
        b[12..16].copy_from_slice(&self.lflag.to_le_bytes());
        b[16] = self.line;
        b[17..36].copy_from_slice(&self.cc);
        b[36..40].copy_from_slice(&self.ispeed.to_le_bytes());
        b[40..44].copy_from_slice(&self.ospeed.to_le_bytes());
        b
    }

    /// From `struct termios` (36 bytes: the speeds are kept from `self`,
    /// as Linux's `user_termios_to_kernel_termios` leaves them) or
    /// `struct termios2` (44).
    pub fn with_bytes(&self, b: &[u8]) -> Termios {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut t = *self;
        t.iflag = word(0);
        t.oflag = word(4);
        t.cflag = word(8);
        t.lflag = word(12);
        t.line = b[16];
        t.cc.copy_from_slice(&b[17..36]);
        if b.len() >= TERMIOS2_SIZE {
            t.ispeed = word(36);
            t.ospeed = word(40);
        }
        t
    }

    fn l(&self, bit: u32) -> bool {
        self.lflag & bit != 0
    }

    fn i(&self, bit: u32) -> bool {
        self.iflag & bit != 0
    }

    /// Is `c` the control character at `index`? A `c_cc` entry of 0 is
    /// `_POSIX_VDISABLE` here as in Linux (`__DISABLED_CHAR`): it matches
    /// nothing.
    fn is(&self, c: u8, index: usize) -> bool {
        c != 0 && self.cc[index] == c
    }
}

/// `struct winsize`: rows, columns, and two pixel sizes nobody uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Winsize {
    pub row: u16,
    pub col: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

impl Winsize {
    /// What we report until someone sets it: 24 rows of 80 columns, the
    /// size of the VT100 a serial console stands for. Linux reports 0x0 on
    /// a serial line (its driver cannot know the size of the terminal at
    /// the far end), which makes programs fall back to 80x24 themselves;
    /// answering 80x24 directly gives them the same screen.
    pub const DEFAULT: Winsize = Winsize { row: 24, col: 80, xpixel: 0, ypixel: 0 };

    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        for (i, v) in [self.row, self.col, self.xpixel, self.ypixel].into_iter().enumerate() {
            b[i * 2..i * 2 + 2].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    pub fn from_bytes(b: &[u8; 8]) -> Winsize {
        let h = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Winsize { row: h(0), col: h(2), xpixel: h(4), ypixel: h(6) }
    }
}

/// The longest line (Linux `N_TTY_BUF_SIZE`, less the '\n'): bytes past
/// it are dropped until the line ends, as n_tty does.
pub const MAX_CANON: usize = 4095;
/// The most raw input kept unread (`N_TTY_BUF_SIZE`); more is dropped.
pub const N_TTY_BUF_SIZE: usize = 4096;

/// What cooking one byte did.
#[derive(Debug, PartialEq, Eq)]
pub enum Cooked {
    /// Nothing readable yet (the line goes on, or the byte was an edit).
    Pending,
    /// Input became readable: a line (or an end of file) in canonical
    /// mode, a byte in raw mode.
    Ready,
    /// A keyboard signal (ISIG): send it to the foreground group.
    Signal(i32),
}

/// The line discipline's state (Linux `struct n_tty_data`).
pub struct NTty {
    /// Canonical mode: the line being typed, echoed, not readable yet.
    line: Vec<u8>,
    /// Canonical mode: finished lines, oldest first, each ending in '\n'
    /// (or VEOL/VEOL2, or cut by VEOF without one); an empty one is an end
    /// of file (VEOF at a line's start). A line partly read keeps its rest
    /// here.
    ready: VecDeque<Vec<u8>>,
    /// Raw mode: every byte received and not yet read.
    raw: VecDeque<u8>,
    /// VLNEXT was typed: the next byte is taken literally.
    lnext: bool,
}

impl NTty {
    pub const fn new() -> Self {
        NTty { line: Vec::new(), ready: VecDeque::new(), raw: VecDeque::new(), lnext: false }
    }

    /// Cook one input byte with settings `t` (Linux `n_tty_receive_char`
    /// and `n_tty_receive_char_special`), echoing through `echo` (the raw
    /// echo bytes: the caller sends them through the output processing).
    pub fn receive_byte(&mut self, mut c: u8, t: &Termios, echo: &mut dyn FnMut(&[u8])) -> Cooked {
        let canon = t.l(lflag::ICANON);
        if t.i(iflag::ISTRIP) {
            c &= 0x7f;
        }
        if self.lnext {
            // The byte after ^V: no special meaning, echoed as itself.
            self.lnext = false;
            if t.l(lflag::ECHO) {
                echo(b"\x08");
                echo_char(c, t, echo);
            }
            return self.put(c, canon);
        }
        if t.l(lflag::ISIG) {
            let sig = if t.is(c, cc::VINTR) {
                Some(SIGINT)
            } else if t.is(c, cc::VQUIT) {
                Some(SIGQUIT)
            } else if t.is(c, cc::VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                // n_tty_receive_signal_char: flush (isig), then echo.
                if !t.l(lflag::NOFLSH) {
                    self.flush();
                }
                if t.l(lflag::ECHO) {
                    echo_char(c, t, echo);
                }
                return Cooked::Signal(sig);
            }
        }
        if c == b'\r' {
            if t.i(iflag::IGNCR) {
                return Cooked::Pending;
            }
            if t.i(iflag::ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.i(iflag::INLCR) {
            c = b'\r';
        }
        if canon {
            let iexten = t.l(lflag::IEXTEN);
            if t.is(c, cc::VERASE) || t.is(c, cc::VKILL) || (iexten && t.is(c, cc::VWERASE)) {
                self.eraser(c, t, echo);
                return Cooked::Pending;
            }
            if iexten && t.is(c, cc::VLNEXT) {
                self.lnext = true;
                if t.l(lflag::ECHO) && t.l(lflag::ECHOCTL) {
                    echo(b"^\x08");
                }
                return Cooked::Pending;
            }
            if c == b'\n' {
                if t.l(lflag::ECHO) || t.l(lflag::ECHONL) {
                    echo(b"\n");
                }
                return self.end_line(Some(c));
            }
            if t.is(c, cc::VEOF) {
                // Not echoed, not part of the line.
                return self.end_line(None);
            }
            if t.is(c, cc::VEOL) || (iexten && t.is(c, cc::VEOL2)) {
                if t.l(lflag::ECHO) {
                    echo_char(c, t, echo);
                }
                return self.end_line(Some(c));
            }
        }
        if t.l(lflag::ECHO) {
            if c == b'\n' {
                echo(b"\n");
            } else if canon && self.line.len() >= MAX_CANON {
                // Dropped below: not echoed either.
            } else {
                echo_char(c, t, echo);
            }
        }
        self.put(c, canon)
    }

    /// An ordinary byte: onto the line, or readable at once in raw mode.
    fn put(&mut self, c: u8, canon: bool) -> Cooked {
        if canon {
            if self.line.len() < MAX_CANON {
                self.line.push(c);
            }
            Cooked::Pending
        } else {
            if self.raw.len() < N_TTY_BUF_SIZE {
                self.raw.push_back(c);
            }
            Cooked::Ready
        }
    }

    /// The line is finished, with `end` as its last byte (none for VEOF).
    fn end_line(&mut self, end: Option<u8>) -> Cooked {
        let mut line = core::mem::take(&mut self.line);
        line.extend(end);
        self.ready.push_back(line);
        Cooked::Ready
    }

    /// VERASE, VWERASE, VKILL (Linux `eraser`): take bytes off the line
    /// being typed, and off the screen with ECHOE ("\b \b", twice for a
    /// control character shown as ^X); without ECHOE the erase character
    /// itself is echoed, and VKILL without ECHOKE echoes itself and, with
    /// ECHOK, a newline.
    fn eraser(&mut self, c: u8, t: &Termios, echo: &mut dyn FnMut(&[u8])) {
        if self.line.is_empty() {
            return;
        }
        let kill = t.is(c, cc::VKILL);
        let werase = !kill && !t.is(c, cc::VERASE);
        if !t.l(lflag::ECHO) {
            let n = self.erase_count(kill, werase);
            self.line.truncate(self.line.len() - n);
            return;
        }
        if kill && !(t.l(lflag::ECHOK) && t.l(lflag::ECHOKE) && t.l(lflag::ECHOE)) {
            self.line.clear();
            echo_char(c, t, echo);
            if t.l(lflag::ECHOK) {
                echo(b"\n");
            }
            return;
        }
        let n = self.erase_count(kill, werase);
        let gone: Vec<u8> = self.line.drain(self.line.len() - n..).collect();
        for &g in gone.iter().rev() {
            if t.l(lflag::ECHOE) {
                let ctl = t.l(lflag::ECHOCTL) && is_cntrl(g) && g != b'\t';
                echo(if ctl { b"\x08 \x08\x08 \x08" } else { b"\x08 \x08" });
            } else {
                echo_char(t.cc[cc::VERASE], t, echo);
            }
        }
    }

    /// How many bytes at the end of the line one erase removes: one, the
    /// whole line (VKILL), or a word (VWERASE: Linux's "alnums and '_',
    /// after the non-alnums in front of them").
    fn erase_count(&self, kill: bool, werase: bool) -> usize {
        if kill {
            self.line.len()
        } else if werase {
            let mut seen_alnum = false;
            let mut n = 0;
            for &b in self.line.iter().rev() {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    seen_alnum = true;
                } else if seen_alnum {
                    break;
                }
                n += 1;
            }
            n
        } else {
            1
        }
    }

    /// Is input readable (Linux `input_available_p`)? In canonical mode a
    /// finished line (or an end of file); raw, at least `amt` bytes.
    pub fn input_available(&self, canon: bool, amt: usize) -> bool {
        if canon { !self.ready.is_empty() } else { self.raw.len() >= amt.max(1) }
    }

    /// Bytes a read could return now (`FIONREAD`, Linux's `TIOCINQ`): the
    /// finished lines' bytes in canonical mode, every byte raw.
    pub fn inq(&self, canon: bool) -> usize {
        if canon { self.ready.iter().map(Vec::len).sum() } else { self.raw.len() }
    }

    /// Canonical read: take at most `max` bytes of the first finished
    /// line: `None` if no line is ready, else the bytes and whether they
    /// finished the line (an end of file is an empty, finished line).
    pub fn take_line(&mut self, max: usize) -> Option<(Vec<u8>, bool)> {
        let line = self.ready.front_mut()?;
        let n = line.len().min(max);
        let taken: Vec<u8> = line.drain(..n).collect();
        let finished = line.is_empty();
        if finished {
            self.ready.pop_front();
        }
        Some((taken, finished))
    }

    /// Put back bytes a canonical read took but could not copy: in front
    /// of the rest of their line, or as the line they finished.
    pub fn unread_line(&mut self, rest: &[u8], finished: bool) {
        match self.ready.front_mut() {
            Some(front) if !finished => {
                let mut joined = rest.to_vec();
                joined.extend_from_slice(front);
                *front = joined;
            }
            _ => self.ready.push_front(rest.to_vec()),
        }
    }

    /// Raw read: take at most `max` bytes.
    pub fn take_raw(&mut self, max: usize) -> Vec<u8> {
        let n = self.raw.len().min(max);
        self.raw.drain(..n).collect()
    }

    /// Put back bytes a raw read could not copy, in front.
    pub fn unread_raw(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().rev() {
            self.raw.push_front(b);
        }
    }

    /// ICANON switched (Linux `n_tty_set_termios`): to raw, everything
    /// cooked and the line being typed become readable bytes; to
    /// canonical, pending raw bytes become one finished line (Linux marks
    /// them pushed), so they are not lost into a line being edited.
    pub fn switch_mode(&mut self, canon: bool) {
        if canon {
            if !self.raw.is_empty() {
                let bytes: Vec<u8> = self.raw.drain(..).collect();
                self.ready.push_back(bytes);
            }
        } else {
            let mut all: Vec<u8> = self.ready.drain(..).flatten().collect();
            all.append(&mut self.line);
            self.raw.extend(all);
        }
        self.lnext = false;
    }

    /// Drop all input (Linux `reset_buffer_flags`: ISIG's flush, TCIFLUSH).
    pub fn flush(&mut self) {
        self.line.clear();
        self.ready.clear();
        self.raw.clear();
        self.lnext = false;
    }

    /// Take every byte cooked but not read (the lines ready, then the line
    /// being typed, then raw bytes), for the shell when it gets the
    /// console back.
    pub fn take_unread(&mut self) -> Vec<u8> {
        let mut all: Vec<u8> = self.ready.drain(..).flatten().collect();
        all.append(&mut self.line);
        all.extend(self.raw.drain(..));
        all
    }
}

impl Default for NTty {
    fn default() -> Self {
        Self::new()
    }
}

/// C's `iscntrl`: below space, and DEL.
fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// Echo one byte (Linux `echo_char`): with ECHOCTL a control character
/// other than tab shows as '^' and the character 0x40 away (^C, ^?).
fn echo_char(c: u8, t: &Termios, echo: &mut dyn FnMut(&[u8])) {
    if t.l(lflag::ECHOCTL) && is_cntrl(c) && c != b'\t' {
        echo(&[b'^', c ^ 0x40]);
    } else {
        echo(&[c]);
    }
}

/// Output processing (Linux `do_output_char` / `process_output_block`):
/// with OPOST, ONLCR writes '\n' as "\r\n", OCRNL '\r' as '\n', ONOCR drops
/// a '\r' at column 0, ONLRET makes '\n' return the carriage. `column` is
/// the tty's idea of the cursor's column (Linux `ldata->column`).
pub fn opost(t: &Termios, column: &mut usize, bytes: &[u8], out: &mut Vec<u8>) {
    if t.oflag & oflag::OPOST == 0 {
        out.extend_from_slice(bytes);
        return;
    }
    for &c in bytes {
        match c {
            b'\n' => {
                if t.oflag & oflag::ONLCR != 0 {
                    out.extend_from_slice(b"\r\n");
                    *column = 0;
                    continue;
                }
                if t.oflag & oflag::ONLRET != 0 {
                    *column = 0;
                }
                out.push(b'\n');
            }
            b'\r' => {
                if t.oflag & oflag::ONOCR != 0 && *column == 0 {
                    continue;
                }
                if t.oflag & oflag::OCRNL != 0 {
                    if t.oflag & oflag::ONLRET != 0 {
                        *column = 0;
                    }
                    out.push(b'\n');
                    continue;
                }
                *column = 0;
                out.push(b'\r');
            }
            b'\x08' => {
                *column = column.saturating_sub(1);
                out.push(c);
            }
            b'\t' => {
                *column = (*column | 7) + 1;
                out.push(c);
            }
            c => {
                if !is_cntrl(c) {
                    *column += 1;
                }
                out.push(c);
            }
        }
    }
}

/// The console's terminal (Linux `struct tty_struct` for the one tty).
pub struct Tty {
    pub ldisc: NTty,
    pub termios: Termios,
    pub winsize: Winsize,
    /// The cursor's column, for ONOCR and erasing (Linux `ldata->column`).
    column: usize,
}

impl Tty {
    const fn new() -> Self {
        Tty { ldisc: NTty::new(), termios: Termios::STD, winsize: Winsize::DEFAULT, column: 0 }
    }

    /// Is input readable for `read` (or `poll`: Linux's `input_available_p
    /// (tty, 1)`, which in raw mode with VMIN > 0 and VTIME = 0 asks for
    /// VMIN bytes)?
    pub fn input_available(&self, for_poll: bool) -> bool {
        let t = &self.termios;
        let canon = t.l(lflag::ICANON);
        let amt = if for_poll && t.cc[cc::VTIME] == 0 && t.cc[cc::VMIN] != 0 { t.cc[cc::VMIN] as usize } else { 1 };
        self.ldisc.input_available(canon, amt)
    }

    /// Write `bytes` to the serial line through the output processing.
    fn output(&mut self, bytes: &[u8]) {
        let mut out = Vec::with_capacity(bytes.len() + 8);
        opost(&self.termios, &mut self.column, bytes, &mut out);
        if let Some(tap) = OUTPUT_TAP.lock_irqsave().as_mut() {
            tap.extend_from_slice(&out);
        }
        crate::console::write_raw(&out);
    }

    /// Change the settings (Linux `tty_set_termios` + `n_tty_set_termios`).
    pub fn set_termios(&mut self, new: Termios) {
        let was_canon = self.termios.l(lflag::ICANON);
        self.termios = new;
        let canon = new.l(lflag::ICANON);
        if was_canon != canon {
            self.ldisc.switch_mode(canon);
        }
    }
}

/// A copy of every byte the terminal sends to the serial line (program
/// output after OPOST, and echo) while it is `Some`: what a test sees of
/// the line's far end.
pub static OUTPUT_TAP: SpinLock<Option<Vec<u8>>> = SpinLock::new(None);

/// The console's tty. A spinlock taken with interrupts off: the serial
/// interrupt cooks into it. Nothing that sleeps runs under it (the copies
/// to user space happen after it is dropped).
pub static TTY: SpinLock<Tty> = SpinLock::new(Tty::new());

/// Readers take this for the whole of a read, sleeps included (Linux's
/// `atomic_read_lock`): a second reader waits its turn, so each gets whole
/// lines, and the bytes of one read are consecutive.
static READ_LOCK: Mutex<()> = Mutex::new(());

/// Readers and pollers sleep here until input may have come (Linux
/// `tty->read_wait`): woken by the serial interrupt, by new settings and
/// by a flush.
pub static READ_WAIT: WaitQueue = WaitQueue::new();

/// No foreground process group: no job control.
const NO_FOREGROUND: u32 = u32::MAX;
/// The console's foreground process group (Linux `tty->pgrp`): ^C, ^\
/// and ^Z signal every process in it, and a process of the terminal's
/// session outside it that reads is stopped by SIGTTIN.
static FOREGROUND: AtomicU32 = AtomicU32::new(NO_FOREGROUND);
/// The session whose controlling terminal the console is (Linux
/// `tty->session`); 0: none.
static SESSION: AtomicU32 = AtomicU32::new(0);
/// The kernel's console shell (tools/shell.rs), which reads the ring raw
/// when it is the foreground.
static CONSOLE_SHELL: AtomicU32 = AtomicU32::new(NO_FOREGROUND);

/// Make process group `pgrp` the console's foreground (Linux `tcsetpgrp`'s
/// last step, `put_pid(tty->pgrp); tty->pgrp = get_pid(pgrp)`); `None`: no
/// foreground, no job control. Returns the one before. A group made the
/// foreground gets what was typed ahead for it cooked at once.
pub fn set_foreground(pgrp: Option<u32>) -> Option<u32> {
    let old = FOREGROUND.swap(pgrp.unwrap_or(NO_FOREGROUND), Ordering::SeqCst);
    if cooks_at_interrupt() {
        receive_from_ring();
    }
    READ_WAIT.wake_up_all();
    (old != NO_FOREGROUND).then_some(old)
}

/// The console's foreground group, if any (Linux `tty_get_pgrp`).
pub fn foreground() -> Option<u32> {
    let fg = FOREGROUND.load(Ordering::SeqCst);
    (fg != NO_FOREGROUND).then_some(fg)
}

/// The session the console is the controlling terminal of, if any.
pub fn session() -> Option<u32> {
    let s = SESSION.load(Ordering::SeqCst);
    (s != 0).then_some(s)
}

/// Set the console's session and foreground directly (the tests, which
/// put back what they found).
pub fn set_session(sid: Option<u32>) -> Option<u32> {
    let old = SESSION.swap(sid.unwrap_or(0), Ordering::SeqCst);
    (old != 0).then_some(old)
}

/// Is the console `t`'s controlling terminal (Linux `current->signal->tty
/// == tty`, with the session check `tty->session == task_session(t)`)?
pub fn is_ctty(t: &crate::sched::task::Task) -> bool {
    t.signal.has_ctty() && t.signal.sid() != 0 && SESSION.load(Ordering::SeqCst) == t.signal.sid()
}

/// The console becomes `t`'s controlling terminal, `t`'s group its
/// foreground (Linux `__proc_set_tty`).
pub fn proc_set_tty(t: &crate::sched::task::Task) {
    SESSION.store(t.signal.sid(), Ordering::SeqCst);
    t.signal.set_ctty(true);
    set_foreground(Some(t.signal.pgid()));
}

/// An `open` of the console's tty device (Linux `tty_open_proc_set_tty`): a
/// session leader without a controlling terminal, opening without
/// `O_NOCTTY` a terminal that belongs to no session, acquires it. Only the
/// `/dev/ttyS0` node (4:64) calls this: Linux's `/dev/console` and
/// `/dev/tty` never make a controlling terminal (they are opened noctty).
pub fn tty_open_proc_set_tty(noctty: bool) {
    let me = crate::sched::current();
    if !noctty && me.signal.sid() == me.id() && !me.signal.has_ctty() && session().is_none() {
        proc_set_tty(me);
    }
}

/// The session leader gives up the console (Linux `disassociate_ctty`, on
/// `TIOCNOTTY` by the leader or its exit): SIGHUP and SIGCONT to the
/// foreground group, then no session, no foreground, and no process of the
/// session has it as controlling terminal any more.
pub fn disassociate_ctty(sid: u32) {
    if sid == 0 || SESSION.load(Ordering::SeqCst) != sid {
        return;
    }
    if let Some(fg) = foreground() {
        crate::signal::kill_pgrp(fg, crate::signal::SIGHUP);
        crate::signal::kill_pgrp(fg, crate::signal::SIGCONT);
    }
    SESSION.store(0, Ordering::SeqCst);
    set_foreground(None);
    crate::signal::session_clear_tty(sid);
}

/// May the current process act on its controlling terminal as a
/// foreground process would (Linux `__tty_check_change(tty, sig)`, `sig`
/// SIGTTIN for reads, SIGTTOU for `tcsetpgrp` and friends)? Yes if the
/// console is not its controlling terminal, if there is no foreground, or
/// if it is in the foreground group. Otherwise: `sig` ignored or blocked ->
/// 0 for SIGTTOU, `-EIO` for SIGTTIN; its group orphaned -> `-EIO`; else
/// `sig` to its whole group and `-ERESTARTSYS` (it stops; when continued,
/// the call is made again).
pub fn tty_check_change(sig: i32) -> Result<(), i32> {
    let me = crate::sched::current();
    if !is_ctty(me) {
        return Ok(());
    }
    let pgrp = me.signal.pgid();
    let Some(fg) = foreground() else { return Ok(()) };
    if pgrp == fg {
        return Ok(());
    }
    if me.signal.is_ignored(sig) {
        return if sig == crate::signal::SIGTTIN { Err(-EIO) } else { Ok(()) };
    }
    if crate::signal::is_orphaned_pgrp(pgrp) {
        return Err(-EIO);
    }
    crate::signal::kill_pgrp(pgrp, sig);
    Err(-crate::errno::ERESTARTSYS)
}

/// The kernel's shell takes the console (at its start): it leads a session
/// of its own whose controlling terminal the console is, its group is the
/// foreground, and it reads the serial ring raw while it is.
pub fn shell_takes_console(pid: u32) {
    CONSOLE_SHELL.store(pid, Ordering::SeqCst);
    let me = crate::sched::current();
    me.signal.make_session_leader(pid);
    proc_set_tty(me);
}

/// The console shell's session, for the programs its `run` starts (they
/// are jobs of that session, each in a group of its own).
pub fn console_shell() -> Option<u32> {
    let s = CONSOLE_SHELL.load(Ordering::SeqCst);
    (s != NO_FOREGROUND).then_some(s)
}

/// Is the serial interrupt to cook input as it comes (a program is the
/// foreground), rather than leave it in the ring?
fn cooks_at_interrupt() -> bool {
    let fg = FOREGROUND.load(Ordering::SeqCst);
    fg != NO_FOREGROUND && fg != CONSOLE_SHELL.load(Ordering::SeqCst)
}

/// May input be taken from the ring into the line discipline now? Not
/// while the kernel shell is the foreground: those bytes are its own.
fn may_cook() -> bool {
    let fg = FOREGROUND.load(Ordering::SeqCst);
    fg == NO_FOREGROUND || fg != CONSOLE_SHELL.load(Ordering::SeqCst)
}

/// The serial interrupt brought bytes into the ring (console.rs calls
/// this after it dropped its locks): cook them now if a program is the
/// foreground, and wake readers and pollers in any case.
pub fn serial_rx() {
    if cooks_at_interrupt() {
        receive_from_ring();
    }
    READ_WAIT.wake_up_all();
}

/// Cook every byte waiting in the serial ring (Linux `flush_to_ldisc` ->
/// `n_tty_receive_buf`), echoing under the tty's lock so that echoes come
/// out in input order; then send the keyboard's signals, outside it.
/// Returns whether input became readable.
pub fn receive_from_ring() -> bool {
    let mut signals: Vec<i32> = Vec::new();
    let mut ready = false;
    {
        let mut tty = TTY.lock_irqsave();
        while let Some(b) = crate::console::try_read_byte() {
            let t = tty.termios;
            let mut echo: Vec<u8> = Vec::new();
            let r = tty.ldisc.receive_byte(b, &t, &mut |e| echo.extend_from_slice(e));
            if !echo.is_empty() {
                tty.output(&echo);
            }
            match r {
                Cooked::Pending => {}
                Cooked::Ready => ready = true,
                Cooked::Signal(sig) => signals.push(sig),
            }
        }
    }
    for sig in signals {
        isig(sig);
    }
    ready
}

/// Signals sent by [`isig`], newest last, for the tests and `dmesg`
/// readers: (signal, foreground group it went to, or `u32::MAX` for none).
pub static ISIG_LOG: SpinLock<Vec<(i32, u32)>> = SpinLock::new(Vec::new());

/// A keyboard signal (Linux `__isig`): `sig` to the console's foreground
/// process group. The one place where the tty signals the foreground
/// (the input was flushed by the line discipline, as Linux's `isig` does
/// unless NOFLSH). With no foreground there is no one to signal, as on
/// Linux (`tty_get_pgrp` is NULL). The signal is also recorded in
/// [`ISIG_LOG`] for the tests.
pub fn isig(sig: i32) {
    let fg = FOREGROUND.load(Ordering::SeqCst);
    log::info!("tty: keyboard signal {sig} to the foreground group ({})", if fg == NO_FOREGROUND { -1 } else { fg as i64 });
    {
        let mut l = ISIG_LOG.lock_irqsave();
        if l.len() >= 64 {
            l.remove(0);
        }
        l.push((sig, fg));
    }
    if fg != NO_FOREGROUND {
        crate::signal::kill_pgrp(fg, sig);
    }
}

/// Cook what waits in the ring, if we may, and say whether `read` (or
/// `poll`) would find input.
pub fn input_available(for_poll: bool) -> bool {
    if may_cook() && crate::console::rx_pending() {
        receive_from_ring();
    }
    TTY.lock_irqsave().input_available(for_poll)
}

/// `read(0, buf, count)` on the console (Linux `tty_read` -> `n_tty_read`).
/// Canonical: sleep until a line is typed, copy at most `count` bytes of it,
/// '\n' included; 0 for VEOF at a line's start (end of file). Raw: with
/// VMIN = m and VTIME = t (tenths of a second), as POSIX and Linux say:
///
/// | m  | t  | returns                                                    |
/// |----|----|------------------------------------------------------------|
/// | >0 | 0  | when min(m, count) bytes have come (sleeping until then)   |
/// | 0  | 0  | at once, with what is there (maybe 0)                      |
/// | 0  | >0 | as soon as a byte comes, or 0 after t tenths               |
/// | >0 | >0 | m bytes, or fewer when t tenths pass after the last byte   |
///
/// `-EFAULT` for a buffer that is not user memory (checked first: nothing
/// is read) or that faults before anything was copied (the input stays
/// for the next read); a process of the console's session outside its
/// foreground group is stopped by SIGTTIN (`-ERESTARTSYS`: it reads again
/// when continued), or gets `-EIO` if it ignores or blocks SIGTTIN or its
/// group is orphaned (n_tty's `job_control`); `-EAGAIN` instead of waiting
/// when the console is `O_NONBLOCK` (what was read by then, if anything,
/// in raw mode); a signal while waiting ends the read with what it has,
/// or `-ERESTARTSYS` if nothing yet.
pub fn n_tty_read(buf: usize, count: usize) -> i32 {
    if !mm::layout::access_ok(buf, count) {
        return -EFAULT;
    }
    if let Err(e) = tty_check_change(crate::signal::SIGTTIN) {
        return e;
    }
    if count == 0 {
        return 0;
    }
    let _reader = READ_LOCK.lock();
    let t = TTY.lock_irqsave().termios;
    if t.l(lflag::ICANON) {
        canon_read(buf, count)
    } else {
        raw_read(buf, count, t.cc[cc::VMIN] as usize, t.cc[cc::VTIME] as u64)
    }
}

/// Is the console's open file `O_NONBLOCK` (`F_SETFL`)?
fn nonblock() -> bool {
    use crate::fs::file::{CONSOLE_F_FLAGS, O_NONBLOCK};
    CONSOLE_F_FLAGS.load(Ordering::Relaxed) & O_NONBLOCK != 0
}

/// Sleep on [`READ_WAIT`] until input is readable or `deadline` (jiffies)
/// passes: `Ok(true)` if input is readable; `Err(-ERESTARTSYS)` when a
/// signal comes first (Linux n_tty_read's `wait_woken` in
/// TASK_INTERRUPTIBLE).
fn wait_for_input(deadline: Option<u64>) -> Result<bool, i32> {
    crate::fs::select::wait_until_interruptible(&[&READ_WAIT], deadline, || input_available(false))
}

fn canon_read(buf: usize, count: usize) -> i32 {
    loop {
        if may_cook() && crate::console::rx_pending() {
            receive_from_ring();
        }
        {
            let mut tty = TTY.lock_irqsave();
            if !tty.termios.l(lflag::ICANON) {
                // Switched to raw while we slept: read as raw now.
                let t = tty.termios;
                drop(tty);
                return raw_read(buf, count, t.cc[cc::VMIN] as usize, t.cc[cc::VTIME] as u64);
            }
            // Take the bytes out under the lock, copy them without it (a
            // copy may fault and sleep); put back what did not go.
            if let Some((taken, finished)) = tty.ldisc.take_line(count) {
                drop(tty);
                if taken.is_empty() {
                    return 0; // VEOF at the start of a line
                }
                let left = copy_to_user(buf, &taken);
                if left != 0 {
                    TTY.lock_irqsave().ldisc.unread_line(&taken[taken.len() - left..], finished);
                }
                let copied = taken.len() - left;
                // A copy that stores nothing is a fault; one that stores part
                // is a short read (Linux's `iterate_tty_read`).
                return if copied == 0 { -EFAULT } else { copied as i32 };
            }
        }
        if nonblock() {
            return -EAGAIN;
        }
        if let Err(e) = wait_for_input(None) {
            return e;
        }
    }
}

fn raw_read(buf: usize, count: usize, vmin: usize, vtime: u64) -> i32 {
    // Linux n_tty_read: with VMIN = 0, VTIME is an overall timeout and one
    // byte is enough; with VMIN > 0, VTIME is the gap allowed between bytes
    // once the first has come.
    let tenth = crate::sched::core::HZ / 10;
    let (minimum, mut timeout, gap) = if vmin > 0 { (vmin, None, vtime * tenth) } else { (1, Some(vtime * tenth), 0) };
    let mut done = 0;
    loop {
        let taken = {
            if may_cook() && crate::console::rx_pending() {
                receive_from_ring();
            }
            TTY.lock_irqsave().ldisc.take_raw(count - done)
        };
        if !taken.is_empty() {
            let left = copy_to_user(buf + done, &taken);
            if left != 0 {
                TTY.lock_irqsave().ldisc.unread_raw(&taken[taken.len() - left..]);
                done += taken.len() - left;
                return if done == 0 { -EFAULT } else { done as i32 };
            }
            done += taken.len();
            if gap != 0 {
                timeout = Some(gap);
            }
        }
        if done >= minimum.min(count) || done == count || timeout == Some(0) {
            return done as i32;
        }
        if nonblock() {
            return if done == 0 { -EAGAIN } else { done as i32 };
        }
        let deadline = timeout.map(|t| crate::sched::core::jiffies() + t);
        match wait_for_input(deadline) {
            Err(e) => return if done == 0 { e } else { done as i32 },
            Ok(false) if timeout.is_some() => return done as i32,
            Ok(_) => {}
        }
    }
}

/// The job-control check at the start of a process's `write` to the
/// console (Linux `n_tty_write`: "must be done at start", POSIX.1
/// 7.1.1.4): with TOSTOP, a process of the terminal's session outside its
/// foreground group gets what [`tty_check_change`] says for SIGTTOU: its
/// group is sent SIGTTOU and the write is restarted when it is continued
/// (`-ERESTARTSYS`), or `-EIO` if the group is orphaned; it writes if it
/// ignores or blocks SIGTTOU. Without TOSTOP anyone writes.
pub fn n_tty_write_check() -> Result<(), i32> {
    if !TTY.lock_irqsave().termios.l(lflag::TOSTOP) {
        return Ok(());
    }
    tty_check_change(crate::signal::SIGTTOU)
}

/// `write(1, ..)` on the console (Linux `tty_write` -> `n_tty_write`):
/// the bytes through the output processing (OPOST, ONLCR) to the UART.
/// A process's write has passed [`n_tty_write_check`] first.
pub fn tty_write(bytes: &[u8]) {
    TTY.lock_irqsave().output(bytes);
}

/// Poll bits (include/uapi/asm-generic/poll.h).
pub mod pollbits {
    pub const POLLIN: u16 = 0x001;
    pub const POLLPRI: u16 = 0x002;
    pub const POLLOUT: u16 = 0x004;
    pub const POLLERR: u16 = 0x008;
    pub const POLLHUP: u16 = 0x010;
    pub const POLLNVAL: u16 = 0x020;
    pub const POLLRDNORM: u16 = 0x040;
    pub const POLLRDBAND: u16 = 0x080;
    pub const POLLWRNORM: u16 = 0x100;
    pub const POLLWRBAND: u16 = 0x200;
}

/// The console's readiness (Linux `n_tty_poll`): readable when a read
/// would not wait (a line in canonical mode; VMIN bytes, or one, raw);
/// always writable (output is never queued).
pub fn tty_poll() -> u16 {
    use pollbits::*;
    let mut mask = POLLOUT | POLLWRNORM;
    if input_available(true) {
        mask |= POLLIN | POLLRDNORM;
    }
    mask
}

/// The next input byte for the console shell: first whatever a program
/// left cooked but unread (Linux's shell would find it in the terminal's
/// buffer), then the serial line's, sleeping until one comes.
pub fn shell_read_byte() -> Option<u8> {
    {
        let mut tty = TTY.lock_irqsave();
        let mut left = tty.ldisc.take_unread();
        if !left.is_empty() {
            let b = left.remove(0);
            // Put the rest back as raw bytes, read one at a time.
            tty.ldisc.raw.extend(left);
            return Some(b);
        }
    }
    crate::console::read_byte_blocking()
}

/// Throw away all input not yet read: the cooked lines and the serial
/// ring's bytes (Linux `tcflush(fd, TCIFLUSH)`: the line discipline's
/// buffer and the driver's flip buffers).
pub fn flush_input() {
    TTY.lock_irqsave().ldisc.flush();
    while crate::console::try_read_byte().is_some() {}
    READ_WAIT.wake_up_all();
}

/// Back to the settings and size a terminal starts with (tests).
pub fn reset() {
    let mut tty = TTY.lock_irqsave();
    tty.set_termios(Termios::STD);
    tty.winsize = Winsize::DEFAULT;
}

/// The settings now.
pub fn termios() -> Termios {
    TTY.lock_irqsave().termios
}

/// Change the settings; readers and pollers look again (a new VMIN or
/// ICANON may make input readable). Bytes typed before the change and
/// still in the ring are cooked first, under the old settings, as Linux
/// had cooked them when they came.
pub fn set_termios(t: Termios) {
    if may_cook() && crate::console::rx_pending() {
        receive_from_ring();
    }
    TTY.lock_irqsave().set_termios(t);
    READ_WAIT.wake_up_all();
}
