//! `open` and `close` (Linux `fs/open.c`).

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::strncpy_from_user;
use crate::errno::{EBADF, EFAULT, EINVAL, EMFILE, ENAMETOOLONG};

/// The longest path, with its NUL (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// `O_ACCMODE`: the access-mode bits of the flags.
const O_ACCMODE: u32 = 3;
/// `O_CREAT`, `O_TRUNC`, `O_APPEND`: not supported yet (files come from
/// the initramfs).
const O_CREAT: u32 = 0o100;

/// `open(path, flags, mode)`: look `path` up in the rootfs and give it the
/// lowest free descriptor. Errors as Linux's: `EFAULT` for a bad pointer,
/// `ENAMETOOLONG`, `ENOENT`/`ENOTDIR`/`ELOOP` from the lookup, `EINVAL`
/// for an access mode of 3, `EMFILE` when the table is full.
pub fn sys_open(regs: &mut PtRegs) -> i32 {
    let (ptr, flags) = (regs.bx as usize, regs.cx);
    let mut path = alloc::vec![0u8; PATH_MAX];
    let len = match strncpy_from_user(&mut path, ptr) {
        Ok(n) if n == PATH_MAX => return -ENAMETOOLONG,
        Ok(n) => n,
        Err(e) => return -e,
    };
    if flags & O_ACCMODE == O_ACCMODE {
        return -EINVAL;
    }
    if flags & O_CREAT != 0 {
        // Creating files is for the page-cache issue; say so plainly.
        return -crate::errno::EROFS;
    }
    let Ok(path) = core::str::from_utf8(&path[..len]) else { return -EFAULT };
    let inode = match super::rootfs().namei(path) {
        Ok(i) => i,
        Err(e) => return -e.errno(),
    };
    // A device node reaches its driver (chrdev_open); O_CLOEXEC marks the
    // descriptor (pipes branch).
    let file = match super::file::do_dentry_open(inode, flags) {
        Ok(f) => f,
        Err(e) => return e,
    };
    match crate::sched::current().files.lock().alloc_fd(0, file, flags & super::file::O_CLOEXEC != 0) {
        Some(fd) => fd,
        None => -EMFILE,
    }
}

/// `close(fd)`.
pub fn sys_close(regs: &mut PtRegs) -> i32 {
    if crate::sched::current().files.lock().close(regs.bx as i32) { 0 } else { -EBADF }
}
