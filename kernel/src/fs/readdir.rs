//! `getdents64` (Linux `fs/readdir.c`): a directory's entries, packed
//! into the caller's buffer as Linux's `struct linux_dirent64`:
//!
//! ```text
//!  offset 0   u64  d_ino      inode number
//!         8   s64  d_off      the position after this entry (lseek to it
//!                             to continue behind it)
//!        16   u16  d_reclen   this record's length: 19 + name + NUL,
//!                             rounded up to 8 (Linux's ALIGN(.., u64))
//!        18   u8   d_type     DT_DIR 4, DT_REG 8, DT_LNK 10
//!        19   ...  d_name     the name and its NUL, then padding
//! ```
//!
//! The position lives in the open file (`f_pos`, and the cursor beside
//! it), so repeated calls continue where the last one stopped and return
//! 0 at the end. "." and ".." come first, as Linux's `dcache_readdir`
//! gives them.

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::{EFAULT, EINVAL, ENOENT, ENOTDIR};
use crate::fs::file::Fd;

/// Where `d_name` starts in a `linux_dirent64` (`offsetof`).
pub const DIRENT64_NAME_OFFSET: usize = 19;

/// The record length of an entry named `name` (Linux `filldir64`).
pub fn dirent64_reclen(name: &str) -> usize {
    (DIRENT64_NAME_OFFSET + name.len() + 1).next_multiple_of(8)
}

/// `getdents64(fd, dirp, count)` (i386 220): the bytes written, 0 at the
/// end of the directory; `EBADF`, `ENOTDIR` (not a directory), `ENOENT`
/// (a directory that has been removed, Linux's `IS_DEADDIR` check in
/// `iterate_dir`), `EINVAL` if not even the next entry fits in `count`,
/// `EFAULT` if the first record cannot be stored (after that, what was
/// stored is returned, as Linux's `filldir64` does).
pub fn sys_getdents64(regs: &mut PtRegs) -> i32 {
    let (fd, dirp, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -crate::errno::EBADF };
    let Fd::File(f) = file else { return -ENOTDIR };
    if !f.inode.is_dir() {
        return -ENOTDIR;
    }
    if super::libfs::is_deaddir(&f.inode) {
        return -ENOENT;
    }
    // Linux's fdget_pos: one reader of the position at a time.
    let mut pos = f.pos.lock();
    let mut cursor = f.dir_cursor.lock();
    if cursor.pos != *pos {
        // Moved by lseek (or never read): start at the pos-th entry.
        *cursor = super::libfs::DirCursor { pos: *pos, after: None };
    }
    let start = cursor.pos;
    let (mut used, mut emitted, mut error) = (0usize, 0usize, 0);
    let mut record = alloc::vec::Vec::new();
    let r = super::libfs::dcache_readdir(&f.inode, &mut cursor, |e| {
        let reclen = dirent64_reclen(e.name);
        if reclen > count - used {
            error = EINVAL;
            return false;
        }
        // The entry after this one starts at the cursor's position + 1.
        let next = (start + emitted + 1) as i64;
        record.clear();
        record.extend_from_slice(&u64::from(e.ino).to_le_bytes());
        record.extend_from_slice(&next.to_le_bytes());
        record.extend_from_slice(&(reclen as u16).to_le_bytes());
        record.push(e.d_type);
        record.extend_from_slice(e.name.as_bytes());
        record.resize(reclen, 0); // the NUL and the padding
        if copy_to_user(dirp.wrapping_add(used), &record) != 0 {
            error = EFAULT;
            return false;
        }
        used += reclen;
        emitted += 1;
        true
    });
    if let Err(e) = r {
        return -e.errno();
    }
    *pos = cursor.pos;
    if used == 0 && error != 0 { -error } else { used as i32 }
}
