//! `ioctl` (Linux `fs/ioctl.c`): the generic requests, then the file's own
//! (`vfs_ioctl` -> `f_op->unlocked_ioctl`).
//!
//! | file                  | requests                                           |
//! |-----------------------|----------------------------------------------------|
//! | the console           | the terminal's (`tty_ioctl.rs`)                    |
//! | a regular file        | FIONREAD: bytes from the offset to the end        |
//! | a pipe                | FIONREAD: bytes waiting in it (`pipe_ioctl`)       |
//! | anything else         | none: `-ENOTTY` ("inappropriate ioctl for device") |
//!
//! `-ENOTTY` for a request a file does not know is what `ls` and `isatty`
//! rely on: `TCGETS` on a pipe or a file says "not a terminal".

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::put_user;
use crate::errno::{EBADF, EFAULT, ENOTTY};
use crate::fs::InodeKind;
use crate::fs::file::Fd;

/// `ioctl(fd, cmd, arg)` (i386 54): `-EBADF` for a descriptor that is not
/// open, then the file's answer.
pub fn sys_ioctl(regs: &mut PtRegs) -> i32 {
    let (fd, cmd, arg) = (regs.bx as i32, regs.cx, regs.dx as usize);
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -EBADF };
    match &file {
        Fd::Console => crate::tty_ioctl::tty_ioctl(cmd, arg),
        Fd::File(f) => {
            // do_vfs_ioctl's FIONREAD: on a regular file, i_size - f_pos.
            if cmd == crate::tty_ioctl::FIONREAD && matches!(f.inode.kind, InodeKind::Regular(_)) {
                let left = f.inode.size() as i64 - *f.pos.lock() as i64;
                return if put_user(left as i32, arg).is_err() { -EFAULT } else { 0 };
            }
            if cmd == crate::tty_ioctl::FIONREAD
                && let InodeKind::Pipe(p) = &f.inode.kind
            {
                return if put_user(p.bytes_queued() as i32, arg).is_err() { -EFAULT } else { 0 };
            }
            -ENOTTY
        }
    }
}
