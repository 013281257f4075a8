//! `open` and `close` (Linux `fs/open.c`).

use alloc::sync::Arc;

use super::file::{Fd, File};
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
    let file = Fd::File(Arc::new(File::new(inode, flags)));
    match crate::sched::current().files.lock().install(file) {
        Some(fd) => fd,
        None => -EMFILE,
    }
}

/// `close(fd)`.
pub fn sys_close(regs: &mut PtRegs) -> i32 {
    if crate::sched::current().files.lock().close(regs.bx as i32) { 0 } else { -EBADF }
}

/// Linux `do_truncate` on `inode` (the caller checked the rest): the
/// file's new size, or `-errno` (`EFBIG` past ramfs's largest file).
fn do_truncate(inode: &super::Inode, length: u64) -> i32 {
    match inode.truncate(length) {
        Ok(()) => 0,
        Err(e) => -e.errno(),
    }
}

/// `truncate(path, length)` (i386 92, `length` a `long`): set the size of
/// the regular file at `path` (symlinks followed). Errors as Linux's
/// `do_sys_truncate` / `vfs_truncate`: `EINVAL` for a negative length
/// (before the path is looked at), `EFAULT`/`ENAMETOOLONG`/`ENOENT`/
/// `ENOTDIR`/`ELOOP` from the path, `EISDIR` for a directory, `EINVAL` for
/// anything else that is not a regular file, `EFBIG` past the largest size.
pub fn sys_truncate(regs: &mut PtRegs) -> i32 {
    let (ptr, length) = (regs.bx as usize, regs.cx as i32);
    if length < 0 {
        return -EINVAL;
    }
    let mut path = alloc::vec![0u8; PATH_MAX];
    let len = match strncpy_from_user(&mut path, ptr) {
        Ok(n) if n == PATH_MAX => return -ENAMETOOLONG,
        Ok(n) => n,
        Err(e) => return -e,
    };
    let Ok(path) = core::str::from_utf8(&path[..len]) else { return -EFAULT };
    let inode = match super::rootfs().namei(path) {
        Ok(i) => i,
        Err(e) => return -e.errno(),
    };
    do_truncate(&inode, length as u64)
}

/// Linux `do_sys_ftruncate(fd, length, small)`: `EINVAL` for a negative
/// length, `EBADF` for a descriptor that is not open, `EINVAL` for one
/// that is not a regular file opened for writing, and (`small`: the
/// 32-bit call on a file without `O_LARGEFILE`) `EINVAL` past 2 GiB - 1.
fn do_sys_ftruncate(fd: i32, length: i64, small: bool) -> i32 {
    if length < 0 {
        return -EINVAL;
    }
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -EBADF };
    let Fd::File(f) = file else { return -EINVAL };
    let small = small && f.flags & super::file::O_LARGEFILE == 0;
    if f.inode.file().is_err() || !f.writable() {
        return -EINVAL;
    }
    if small && length as u64 > mm::filemap::MAX_NON_LFS {
        return -EINVAL;
    }
    do_truncate(&f.inode, length as u64)
}

/// `ftruncate(fd, length)` (i386 93, `length` a `long`).
pub fn sys_ftruncate(regs: &mut PtRegs) -> i32 {
    do_sys_ftruncate(regs.bx as i32, regs.cx as i32 as i64, true)
}

/// `ftruncate64(fd, length_lo, length_hi)` (i386 194, Linux
/// `sys_ia32_ftruncate64`: the 64-bit length in ecx and edx, low word
/// first).
pub fn sys_ftruncate64(regs: &mut PtRegs) -> i32 {
    do_sys_ftruncate(regs.bx as i32, mm::filemap::loff_from_halves(regs.cx, regs.dx), false)
}
