//! The console as a terminal for `read(0, ..)`: Linux's line discipline
//! (`drivers/tty/n_tty.c`) in miniature, canonical mode only, and the
//! piece of `tty_io.c`/`tty_jobctrl.c` that says who may read.
//!
//! ```text
//!  COM1 --IRQ 4--> console.rs RX ring --+--> shell (raw: readline.rs edits, echoes)
//!                                        |      while it sits at its prompt
//!                                        +--> n_tty_read (this file)
//!                                               while a program reads fd 0
//!  n_tty_read(buf, count):
//!    a line ready?  no -> take the next byte from the ring (sleeping on the
//!                         ring's wait queue until one comes), cook it:
//!                           '\r' -> '\n' (ICRNL)     echo it (ECHO)
//!                           DEL, ^H  erase one        "\b \b"
//!                           ^U       erase the line   "\b \b" per byte
//!                           ^D       end the line here; at its start: EOF
//!                           '\n'     the line is ready
//!                   yes -> copy at most `count` bytes of it (one line at
//!                          most, '\n' included) with copy_to_user; what is
//!                          not copied stays for the next read
//! ```
//!
//! Only as much input is cooked as one line needs: bytes typed ahead stay
//! in the console's ring, so that whoever reads next (the shell, when the
//! program is gone) gets them. That is how `run echoline` followed at once
//! by the program's input works, as it does on Linux, where the shell and
//! the program share the terminal's one input queue.
//!
//! Who may read (Linux's `__tty_check_change(tty, SIGTTIN)`): the console
//! shell, when it starts, takes the console as its controlling terminal
//! and is its foreground (`tcsetpgrp`); `run PROG` makes PROG the
//! foreground while it waits for it, and takes it back after. A process
//! that is not the foreground one nor descended from it (`run PROG &`)
//! gets `-EIO`: Linux stops such a reader with SIGTTIN, and answers -EIO
//! where it cannot stop it (SIGTTIN ignored, an orphaned process group);
//! with no job-control signals here, -EIO is the answer that exists. No
//! foreground at all (before the shell starts: the boot's /init, the
//! in-kernel tests) means no job control: the reader simply waits for a
//! line from the serial console, as Linux's /init does on `/dev/console`,
//! which is never a controlling terminal. /init that reads fd 0 with no one
//! at the console therefore sleeps, as it would on Linux.
//!
//! Where we differ from Linux: the bytes are cooked by the reader, not by
//! a workqueue at interrupt time, so echo appears when a program reads,
//! not when the key is pressed (the shell echoes its own input, like bash's
//! readline in raw mode); ^C, ^Z and ^\ are ordinary bytes (echoed `^C`),
//! since there are no signals to send; both DEL and ^H erase. A copy that
//! fails keeps the line (Linux has already taken it off its buffer): a
//! bad pointer loses nothing here. A buffer outside user space is refused
//! before anything is read (`-EFAULT`, Linux's `access_ok` in `vfs_read`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::{EFAULT, EIO};
use crate::locking::Mutex;

/// The longest line (Linux `N_TTY_BUF_SIZE`, less the '\n'): bytes past
/// it are dropped until the line ends, as n_tty does.
pub const MAX_CANON: usize = 4095;

const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const DEL: u8 = 0x7f;

/// The line discipline's state (Linux `struct n_tty_data`, canonical part).
pub struct NTty {
    /// The line being typed: echoed, not readable yet.
    line: Vec<u8>,
    /// Finished lines, oldest first, each ending in '\n' (or cut by ^D
    /// without one); an empty one is an end of file (^D at a line's
    /// start). A line partly read keeps its rest here.
    ready: VecDeque<Vec<u8>>,
}

/// What cooking one byte did.
#[derive(Debug, PartialEq, Eq)]
pub enum Cooked {
    /// The line goes on.
    Pending,
    /// A line (or an end of file) is ready.
    LineReady,
}

impl NTty {
    pub const fn new() -> Self {
        NTty { line: Vec::new(), ready: VecDeque::new() }
    }

    /// Cook one input byte (Linux `n_tty_receive_char` and its special
    /// cases), echoing through `echo`.
    pub fn receive_byte(&mut self, b: u8, echo: &mut dyn FnMut(&[u8])) -> Cooked {
        match b {
            b'\r' | b'\n' => {
                // ICRNL: a terminal's Enter is '\r'.
                echo(b"\n");
                let mut line = core::mem::take(&mut self.line);
                line.push(b'\n');
                self.ready.push_back(line);
                Cooked::LineReady
            }
            CTRL_D => {
                // VEOF: the line so far, without a newline; at the start of
                // a line, nothing, which read() returns as end of file.
                self.ready.push_back(core::mem::take(&mut self.line));
                Cooked::LineReady
            }
            DEL | BACKSPACE => {
                if let Some(c) = self.line.pop() {
                    // ECHOE: erase the character on the screen too; a
                    // control character was echoed as two.
                    echo(if c < 0x20 { b"\x08\x08  \x08\x08" } else { b"\x08 \x08" });
                }
                Cooked::Pending
            }
            CTRL_U => {
                // VKILL with ECHOK/ECHOKE: erase the whole line.
                for c in core::mem::take(&mut self.line) {
                    echo(if c < 0x20 { b"\x08\x08  \x08\x08" } else { b"\x08 \x08" });
                }
                Cooked::Pending
            }
            _ if self.line.len() >= MAX_CANON => Cooked::Pending,
            c if c < 0x20 => {
                // ECHOCTL: a control character shows as ^X.
                echo(&[b'^', c + 0x40]);
                self.line.push(c);
                Cooked::Pending
            }
            c => {
                echo(&[c]);
                self.line.push(c);
                Cooked::Pending
            }
        }
    }

    /// Is a line (or an end of file) ready to be read?
    pub fn line_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Give at most `max` bytes of the first ready line to `copy`, which
    /// returns how many it really took; those leave the line (all of it,
    /// and the line with them, when it is used up). `Some(n)` with the
    /// bytes taken (0: end of file, which is used up too); `None` if no
    /// line is ready.
    pub fn read_line(&mut self, max: usize, copy: impl FnOnce(&[u8]) -> usize) -> Option<usize> {
        let line = self.ready.front_mut()?;
        if line.is_empty() {
            self.ready.pop_front();
            return Some(0);
        }
        let n = line.len().min(max);
        let took = copy(&line[..n]).min(n);
        line.drain(..took);
        if line.is_empty() {
            self.ready.pop_front();
        }
        Some(took)
    }

    /// Take every byte cooked but not read (the lines ready, then the line
    /// being typed), for the shell when it gets the console back.
    pub fn take_unread(&mut self) -> Vec<u8> {
        let mut all: Vec<u8> = self.ready.drain(..).flatten().collect();
        all.append(&mut self.line);
        all
    }
}

impl Default for NTty {
    fn default() -> Self {
        Self::new()
    }
}

/// The console's line discipline. A sleeping mutex: the reader holds it
/// while it waits for input (Linux's `atomic_read_lock`), so a second
/// reader waits its turn and each gets whole lines.
static CONSOLE_TTY: Mutex<NTty> = Mutex::new(NTty::new());

/// No foreground process: no job control.
const NO_FOREGROUND: u32 = u32::MAX;
/// The pid of the console's foreground process (Linux `tty->pgrp`, with
/// a process's descendants standing for its process group).
static FOREGROUND: AtomicU32 = AtomicU32::new(NO_FOREGROUND);

/// Make task `pid` the console's foreground (Linux `tcsetpgrp`); `None`:
/// no job control. Returns the one before.
pub fn set_foreground(pid: Option<u32>) -> Option<u32> {
    let old = FOREGROUND.swap(pid.unwrap_or(NO_FOREGROUND), Ordering::SeqCst);
    (old != NO_FOREGROUND).then_some(old)
}

/// Is the current task allowed to read the console: no job control, or it
/// is the foreground process or descends from it?
fn in_foreground() -> bool {
    let fg = FOREGROUND.load(Ordering::SeqCst);
    if fg == NO_FOREGROUND {
        return true;
    }
    let mut id = crate::sched::current().id();
    let all = crate::sched::task::ALL_TASKS.lock_irqsave().clone();
    for _ in 0..all.len() + 1 {
        if id == fg {
            return true;
        }
        match all.iter().find(|t| t.id() == id).map(|t| t.parent.load(Ordering::Relaxed)) {
            Some(p) if p != 0 && p != id => id = p,
            _ => return false,
        }
    }
    false
}

/// `read(0, buf, count)` on the console (Linux `tty_read` -> `n_tty_read`
/// in canonical mode): sleep until a line is typed, copy at most `count`
/// bytes of it, '\n' included. 0 for ^D at a line's start (end of file);
/// `-EFAULT` for a buffer that is not user memory (checked first: nothing
/// is read) or that faults (the line stays for the next read); `-EIO` for
/// a process that is not in the foreground (see above).
pub fn n_tty_read(buf: usize, count: usize) -> i32 {
    if !mm::layout::access_ok(buf, count) {
        return -EFAULT;
    }
    if !in_foreground() {
        return -EIO;
    }
    if count == 0 {
        return 0;
    }
    let mut tty = CONSOLE_TTY.lock();
    loop {
        // A copy that stores nothing is a fault; one that stores part is
        // a short read (Linux's `iterate_tty_read` returns what it copied).
        let mut fault = false;
        let got = tty.read_line(count, |bytes| {
            let left = copy_to_user(buf, bytes);
            fault = left == bytes.len();
            bytes.len() - left
        });
        if let Some(n) = got {
            return if fault { -EFAULT } else { n as i32 };
        }
        // Nothing ready: cook the next byte, sleeping until one comes.
        let Some(b) = crate::console::read_byte_blocking() else { continue };
        tty.receive_byte(b, &mut |e| crate::console::write_bytes(e));
    }
}

/// The next input byte for the console shell: first whatever a program
/// left cooked but unread (Linux's shell would find it in the terminal's
/// buffer), then the serial line's, sleeping until one comes.
pub fn shell_read_byte() -> Option<u8> {
    {
        let mut tty = CONSOLE_TTY.lock();
        let mut left = tty.take_unread();
        if !left.is_empty() {
            let b = left.remove(0);
            // Put the rest back as one ready line, read a byte at a time.
            if !left.is_empty() {
                tty.ready.push_back(left);
            }
            return Some(b);
        }
    }
    crate::console::read_byte_blocking()
}

/// Throw away all input not yet read: the cooked lines and the serial
/// ring's bytes (Linux `tcflush(fd, TCIFLUSH)`). For tests that type into
/// the console and must not see what came before.
pub fn flush_input() {
    let _ = CONSOLE_TTY.lock().take_unread();
    while crate::console::try_read_byte().is_some() {}
}
