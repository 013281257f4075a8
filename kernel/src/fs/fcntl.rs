//! `dup`, `dup2`, `dup3` (Linux `fs/file.c`) and `fcntl`/`fcntl64` (Linux
//! `fs/fcntl.c`): more descriptors for one open file, and the two kinds
//! of flag:
//!
//! ```text
//!  fd 3 ----\
//!            >-- File { pos, f_flags: O_RDONLY|O_NONBLOCK }   F_GETFL / F_SETFL
//!  fd 7 ----/        (one struct file: dup shares position and flags)
//!  close_on_exec[3] = 1, close_on_exec[7] = 0                  F_GETFD / F_SETFD
//! ```
//!
//! The limit is [`NR_OPEN`] (1024, Linux's default `RLIMIT_NOFILE`).
//! Errors are Linux's, in Linux's order: a bad old descriptor `EBADF`; a
//! new descriptor at or past the limit `EBADF` (`dup2`, `dup3`) or
//! `EINVAL` (`F_DUPFD`); no free descriptor `EMFILE`; `dup3` with equal
//! descriptors or flags other than `O_CLOEXEC` `EINVAL`; a `cmd` we do not
//! know `EINVAL`.
//!
//! Differences from Linux 6.1: the record locks (`F_GETLK`, `F_SETLK`,
//! `F_SETLKW`, `F_OFD_*`), owners and signals (`F_SETOWN`, `F_GETOWN`,
//! `F_SETSIG`, ...), leases, notifications, seals and pipe sizes
//! (`F_GETPIPE_SZ`, `F_SETPIPE_SZ`) are not implemented and get `EINVAL`,
//! which Linux gives only to commands it does not know.

use super::file::{Fd, NR_OPEN, O_APPEND, O_CLOEXEC, O_DIRECT, O_NOATIME, O_NONBLOCK};
use super::InodeKind;
use crate::arch::entry::PtRegs;
use crate::errno::{EBADF, EINVAL};

/// Duplicate into the lowest free descriptor at or above `arg`.
pub const F_DUPFD: u32 = 0;
/// The close-on-exec flag.
pub const F_GETFD: u32 = 1;
/// Set the close-on-exec flag.
pub const F_SETFD: u32 = 2;
/// The file status flags.
pub const F_GETFL: u32 = 3;
/// Set `O_APPEND`, `O_NONBLOCK`, `O_DIRECT`, `O_NOATIME`.
pub const F_SETFL: u32 = 4;
/// `F_DUPFD` with close-on-exec set on the new descriptor.
pub const F_DUPFD_CLOEXEC: u32 = 1030;
/// The close-on-exec bit of `F_GETFD`/`F_SETFD`.
pub const FD_CLOEXEC: u32 = 1;

/// The flags `F_SETFL` may change (Linux `SETFL_MASK`; `O_NDELAY` is
/// `O_NONBLOCK` on x86).
const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

/// `dup(oldfd)` (i386 41): the lowest free descriptor, naming the same
/// open file.
pub fn sys_dup(regs: &mut PtRegs) -> i32 {
    let mut files = crate::sched::current().files.lock();
    let Some(file) = files.get(regs.bx as i32) else { return -EBADF };
    files.alloc_fd(0, file, false).unwrap_or_else(|e| e)
}

/// `dup2(oldfd, newfd)` (i386 63): `newfd` names `oldfd`'s file, closing
/// what it named before. Equal descriptors: `newfd` if it is open, else
/// `EBADF`.
pub fn sys_dup2(regs: &mut PtRegs) -> i32 {
    let (oldfd, newfd) = (regs.bx, regs.cx);
    if oldfd == newfd {
        return if crate::sched::current().files.lock().get(oldfd as i32).is_some() { newfd as i32 } else { -EBADF };
    }
    ksys_dup3(oldfd, newfd, 0)
}

/// `dup3(oldfd, newfd, flags)` (i386 330): `dup2` with `O_CLOEXEC` as the
/// only flag, and `EINVAL` for equal descriptors.
pub fn sys_dup3(regs: &mut PtRegs) -> i32 {
    ksys_dup3(regs.bx, regs.cx, regs.dx)
}

/// Linux `ksys_dup3`; the descriptors are unsigned, as in Linux, so a
/// negative one is a huge one (`EBADF`).
fn ksys_dup3(oldfd: u32, newfd: u32, flags: u32) -> i32 {
    if flags & !O_CLOEXEC != 0 {
        return -EINVAL;
    }
    if oldfd == newfd {
        return -EINVAL;
    }
    if newfd as usize >= NR_OPEN {
        return -EBADF;
    }
    let mut files = crate::sched::current().files.lock();
    let Some(file) = files.get(oldfd as i32) else { return -EBADF };
    let old = match files.replace(newfd as usize, file, flags & O_CLOEXEC != 0) {
        Ok(old) => old,
        Err(e) => return e, // -ENOMEM: the table could not grow to newfd
    };
    drop(files);
    drop(old); // what newfd named closes outside the lock (Linux filp_close)
    newfd as i32
}

/// `fcntl(fd, cmd, arg)` (i386 55).
pub fn sys_fcntl(regs: &mut PtRegs) -> i32 {
    do_fcntl(regs.bx as i32, regs.cx, regs.dx)
}

/// `fcntl64(fd, cmd, arg)` (i386 221): the same as `fcntl` for every
/// command here (they differ only in the `*LK64` locking commands).
pub fn sys_fcntl64(regs: &mut PtRegs) -> i32 {
    do_fcntl(regs.bx as i32, regs.cx, regs.dx)
}

/// Linux `do_fcntl`, after `fdget_raw` (so `EBADF` comes first).
fn do_fcntl(fd: i32, cmd: u32, arg: u32) -> i32 {
    let mut files = crate::sched::current().files.lock();
    let Some(file) = files.get(fd) else { return -EBADF };
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            // Linux f_dupfd: a start at or past the limit is EINVAL.
            if arg as usize >= NR_OPEN {
                return -EINVAL;
            }
            files.alloc_fd(arg as usize, file, cmd == F_DUPFD_CLOEXEC).unwrap_or_else(|e| e)
        }
        F_GETFD => i32::from(files.get_cloexec(fd) == Some(true)),
        F_SETFD => {
            files.set_cloexec(fd, arg & FD_CLOEXEC != 0);
            0
        }
        F_GETFL => file.f_flags() as i32,
        F_SETFL => {
            drop(files);
            setfl(&file, arg)
        }
        _ => -EINVAL,
    }
}

/// Linux `setfl`: only the `SETFL_MASK` flags change; `O_DIRECT` is
/// refused (`EINVAL`) except on a pipe (its packet mode), since neither
/// ramfs nor the console does direct I/O.
fn setfl(file: &Fd, arg: u32) -> i32 {
    let is_fifo = matches!(file, Fd::File(f) if matches!(f.inode.kind, InodeKind::Pipe(_)));
    if arg & O_DIRECT != 0 && !is_fifo {
        return -EINVAL;
    }
    file.set_status_flags(SETFL_MASK, arg);
    0
}
