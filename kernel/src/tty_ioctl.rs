//! The console's `ioctl`s (Linux `drivers/tty/tty_io.c` `tty_ioctl`,
//! `tty_ioctl.c` `tty_mode_ioctl`, `n_tty.c` `n_tty_ioctl`,
//! `tty_jobctrl.c`), with the numbers of `include/uapi/asm-generic/ioctls.h`
//! that i386 uses.
//!
//! | request     | arg                 | what it does                                   |
//! |-------------|---------------------|------------------------------------------------|
//! | TCGETS      | `struct termios *`  | the settings (36 bytes)                        |
//! | TCSETS      | `struct termios *`  | new settings, now                              |
//! | TCSETSW     |                     | after the output drains (it never waits here)  |
//! | TCSETSF     |                     | after the output drains, input thrown away     |
//! | TCGETS2, TCSETS2/W2/F2 | `struct termios2 *` | the same with the speeds (44 bytes) |
//! | TIOCGWINSZ  | `struct winsize *`  | the size (24x80 unless set)                    |
//! | TIOCSWINSZ  | `struct winsize *`  | set it; SIGWINCH to the foreground if changed  |
//! | TIOCGPGRP   | `pid_t *`           | the foreground process group (0: none)         |
//! | TIOCSPGRP   | `pid_t *`           | make another group of the session the foreground |
//! | TIOCSCTTY   | int (1: steal)      | the console becomes the caller's controlling tty |
//! | TIOCNOTTY   |                     | the caller gives its controlling tty up        |
//! | FIONREAD    | `int *`             | bytes a read would return now (TIOCINQ)        |
//! | TCFLSH      | TCIFLUSH 0, TCOFLUSH 1, TCIOFLUSH 2 | throw input (and output) away  |
//!
//! Any other request: `-ENOTTY` (Linux's drivers answer `-ENOIOCTLCMD`,
//! which `tty_ioctl` turns into `-ENOTTY`). A pointer that cannot be read
//! or written: `-EFAULT`, with nothing changed.

use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user, get_user, put_user};
use crate::errno::{EFAULT, EINVAL, EIO, ENOTTY, EPERM, ESRCH};
use crate::tty::{TERMIOS_SIZE, TERMIOS2_SIZE, Winsize};

pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TCFLSH: u32 = 0x540b;
pub const TIOCSCTTY: u32 = 0x540e;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541b;
pub const TIOCNOTTY: u32 = 0x5422;
/// `_IOR('T', 0x2A, struct termios2)`.
pub const TCGETS2: u32 = 0x802c_542a;
/// `_IOW('T', 0x2B, struct termios2)`.
pub const TCSETS2: u32 = 0x402c_542b;
pub const TCSETSW2: u32 = 0x402c_542c;
pub const TCSETSF2: u32 = 0x402c_542d;

/// TCFLSH's argument.
pub const TCIFLUSH: usize = 0;
pub const TCOFLUSH: usize = 1;
pub const TCIOFLUSH: usize = 2;

/// `ioctl(fd, cmd, arg)` on the console.
pub fn tty_ioctl(cmd: u32, arg: usize) -> i32 {
    match cmd {
        TCGETS | TCGETS2 => {
            let size = if cmd == TCGETS { TERMIOS_SIZE } else { TERMIOS2_SIZE };
            let bytes = crate::tty::termios().to_bytes();
            if copy_to_user(arg, &bytes[..size]) != 0 { -EFAULT } else { 0 }
        }
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
            let size = if matches!(cmd, TCSETS | TCSETSW | TCSETSF) { TERMIOS_SIZE } else { TERMIOS2_SIZE };
            let mut bytes = [0u8; TERMIOS2_SIZE];
            if copy_from_user(&mut bytes[..size], arg) != 0 {
                return -EFAULT;
            }
            // TCSETSW/TCSETSF wait for the output to drain first
            // (tty_wait_until_sent): ours is written synchronously, so
            // there is never anything left to wait for.
            if matches!(cmd, TCSETSF | TCSETSF2) {
                crate::tty::flush_input();
            }
            let new = crate::tty::termios().with_bytes(&bytes[..size]);
            crate::tty::set_termios(new);
            0
        }
        TIOCGWINSZ => {
            let ws = crate::tty::TTY.lock_irqsave().winsize;
            if copy_to_user(arg, &ws.to_bytes()) != 0 { -EFAULT } else { 0 }
        }
        TIOCSWINSZ => {
            let mut b = [0u8; 8];
            if copy_from_user(&mut b, arg) != 0 {
                return -EFAULT;
            }
            // tty_do_resize: a change is told to the foreground group.
            let new = Winsize::from_bytes(&b);
            let changed = {
                let mut tty = crate::tty::TTY.lock_irqsave();
                let changed = tty.winsize != new;
                tty.winsize = new;
                changed
            };
            if changed {
                crate::tty::isig(crate::tty::SIGWINCH);
            }
            0
        }
        TIOCGPGRP => {
            // tiocgpgrp: only of one's own controlling terminal (-ENOTTY);
            // the foreground group's id, 0 when there is none.
            if !crate::tty::is_ctty(crate::sched::current()) {
                return -ENOTTY;
            }
            let fg = crate::tty::foreground().unwrap_or(0) as i32;
            if put_user(fg, arg).is_err() { -EFAULT } else { 0 }
        }
        TIOCSPGRP => tiocspgrp(arg),
        TIOCSCTTY => tiocsctty(arg),
        TIOCNOTTY => tiocnotty(),
        FIONREAD => {
            // n_tty_ioctl TIOCINQ: in canonical mode the finished lines,
            // raw every byte (what waits in the serial ring is cooked first).
            crate::tty::input_available(false);
            let n = {
                let tty = crate::tty::TTY.lock_irqsave();
                tty.ldisc.inq(tty.termios.lflag & crate::tty::lflag::ICANON != 0)
            };
            if put_user(n as i32, arg).is_err() { -EFAULT } else { 0 }
        }
        TCFLSH => match arg {
            // Output is never queued: TCOFLUSH has nothing to drop.
            TCIFLUSH | TCIOFLUSH => {
                crate::tty::flush_input();
                0
            }
            TCOFLUSH => 0,
            _ => -EINVAL,
        },
        _ => -ENOTTY,
    }
}

/// `TIOCSPGRP` (Linux `tiocspgrp`), in Linux's order: a caller outside the
/// foreground is stopped by SIGTTOU unless it ignores or blocks it (an
/// orphaned one gets `-ENOTTY`, Linux turning `-EIO` into it); `-ENOTTY`
/// unless the console is the caller's controlling terminal; `-EFAULT`;
/// `-EINVAL` for a negative id; `-ESRCH` for a group with no process;
/// `-EPERM` for a group of another session.
fn tiocspgrp(arg: usize) -> i32 {
    match crate::tty::tty_check_change(crate::signal::SIGTTOU) {
        Err(e) if e == -EIO => return -ENOTTY,
        Err(e) => return e,
        Ok(()) => {}
    }
    let me = crate::sched::current();
    if !crate::tty::is_ctty(me) {
        return -ENOTTY;
    }
    let pgrp = match get_user::<i32>(arg) {
        Ok(p) => p,
        Err(_) => return -EFAULT,
    };
    if pgrp < 0 {
        return -EINVAL;
    }
    match crate::signal::session_of_pgrp(pgrp as u32) {
        None => -ESRCH,
        Some(sid) if sid != me.signal.sid() => -EPERM,
        Some(_) => {
            crate::tty::set_foreground(Some(pgrp as u32));
            0
        }
    }
}

/// `TIOCSCTTY` (Linux `tiocsctty`): 0 if the caller leads the session the
/// console already belongs to; `-EPERM` if it leads no session or has a
/// controlling terminal already, or if the console belongs to another
/// session and `arg` is not 1 (with 1, root - every process here - steals
/// it: that session loses it). Then the console is its controlling
/// terminal and its group the foreground.
fn tiocsctty(arg: usize) -> i32 {
    let me = crate::sched::current();
    let leader = me.signal.sid() == me.id();
    if leader && crate::tty::session() == Some(me.signal.sid()) {
        return 0;
    }
    if !leader || me.signal.has_ctty() {
        return -EPERM;
    }
    if let Some(other) = crate::tty::session() {
        if arg != 1 {
            return -EPERM;
        }
        crate::signal::session_clear_tty(other);
    }
    crate::tty::proc_set_tty(me);
    0
}

/// `TIOCNOTTY` (Linux `tiocnotty`): `-ENOTTY` unless the console is the
/// caller's controlling terminal; a session leader gives it up for the
/// whole session (SIGHUP and SIGCONT to the foreground group), another
/// process only for itself.
fn tiocnotty() -> i32 {
    let me = crate::sched::current();
    if !crate::tty::is_ctty(me) {
        return -ENOTTY;
    }
    if me.signal.sid() == me.id() {
        crate::tty::disassociate_ctty(me.signal.sid());
    } else {
        me.signal.set_ctty(false);
    }
    0
}
