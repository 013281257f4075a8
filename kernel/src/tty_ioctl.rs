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
//! | TIOCSPGRP   | `pid_t *`           | make another group the foreground              |
//! | FIONREAD    | `int *`             | bytes a read would return now (TIOCINQ)        |
//! | TCFLSH      | TCIFLUSH 0, TCOFLUSH 1, TCIOFLUSH 2 | throw input (and output) away  |
//!
//! Any other request: `-ENOTTY` (Linux's drivers answer `-ENOIOCTLCMD`,
//! which `tty_ioctl` turns into `-ENOTTY`). A pointer that cannot be read
//! or written: `-EFAULT`, with nothing changed.

use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user, get_user, put_user};
use crate::errno::{EFAULT, EINVAL, ENOTTY, ESRCH};
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
            // tiocgpgrp: the foreground group's id, 0 when there is none.
            let fg = crate::tty::foreground().unwrap_or(0) as i32;
            if put_user(fg, arg).is_err() { -EFAULT } else { 0 }
        }
        TIOCSPGRP => {
            // tiocspgrp: the group must exist (-ESRCH); a negative id is
            // -EINVAL.
            let pgrp = match get_user::<i32>(arg) {
                Ok(p) => p,
                Err(_) => return -EFAULT,
            };
            if pgrp < 0 {
                return -EINVAL;
            }
            if !process_exists(pgrp as u32) {
                return -ESRCH;
            }
            crate::tty::set_foreground(Some(pgrp as u32));
            0
        }
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

/// Is there a live process with id `pid` (Linux: `find_vpid(pgrp)`)?
fn process_exists(pid: u32) -> bool {
    pid != 0
        && crate::sched::task::ALL_TASKS
            .lock_irqsave()
            .iter()
            .any(|t| t.id() == pid && t.state() != crate::sched::task::TASK_DEAD)
}
