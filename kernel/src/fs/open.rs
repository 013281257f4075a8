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
    let path = match getname(ptr) {
        Ok(p) => p,
        Err(e) => return -e,
    };
    if flags & O_ACCMODE == O_ACCMODE {
        return -EINVAL;
    }
    if flags & O_CREAT != 0 {
        // Creating files is for the page-cache issue; say so plainly.
        return -crate::errno::EROFS;
    }
    let path = path.as_str();
    let inode = match super::rootfs().namei(path) {
        Ok(i) => i,
        Err(e) => return -e.errno(),
    };
    let file = Fd::File(Arc::new(File { inode, pos: crate::locking::Mutex::new(0) }));
    match crate::sched::current().files.lock().install(file) {
        Some(fd) => fd,
        None => -EMFILE,
    }
}

/// Copy a path from user space (Linux `getname`, `fs/namei.c`): `EFAULT`
/// for a pointer that cannot be read (or bytes that are not UTF-8, which
/// our names are), `ENAMETOOLONG` if no NUL comes within `PATH_MAX`.
pub fn getname(ptr: usize) -> Result<alloc::string::String, i32> {
    let mut path = alloc::vec![0u8; PATH_MAX];
    let len = match strncpy_from_user(&mut path, ptr) {
        Ok(n) if n == PATH_MAX => return Err(ENAMETOOLONG),
        Ok(n) => n,
        Err(e) => return Err(e),
    };
    path.truncate(len);
    alloc::string::String::from_utf8(path).map_err(|_| EFAULT)
}

/// `close(fd)`.
pub fn sys_close(regs: &mut PtRegs) -> i32 {
    if crate::sched::current().files.lock().close(regs.bx as i32) { 0 } else { -EBADF }
}
