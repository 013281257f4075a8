//! `open`, `openat`, `creat`, `close`, `chdir`, `fchdir`, `access`,
//! `faccessat` (Linux `fs/open.c`; the opening itself, `path_openat` /
//! `open_last_lookups` / `do_open`, is in `fs/namei.c` there).
//!
//! ```text
//!  openat(dirfd, path, flags, mode)
//!    no O_CREAT:  path_lookupat (following the last symlink unless
//!                 O_NOFOLLOW: then a symlink is ELOOP)
//!    O_CREAT:     path_parentat; a trailing "/" is EISDIR; the name
//!                 exists: O_EXCL is EEXIST, a symlink is followed (from
//!                 its directory, O_NOFOLLOW: ELOOP); else ramfs_create
//!    do_open:     O_DIRECTORY on a non-directory ENOTDIR; a directory
//!                 for writing (or O_TRUNC, or O_CREAT) EISDIR; a running
//!                 program's file for writing or O_TRUNC: ETXTBSY; O_TRUNC
//!                 empties a regular file (even opened read-only, as Linux)
//!    fd_install:  the lowest free descriptor, a File with the flags
//! ```


use super::file::{Fd, O_ACCMODE, O_RDWR, O_WRONLY};
use super::libfs;
use super::namei::{self, AT_FDCWD, Base, LastType};
use super::{FsError, InodeKind, InodeRef, MAXSYMLINKS};
use crate::arch::entry::PtRegs;
use crate::errno::{EBADF, EINVAL, EOPNOTSUPP};

pub use super::namei::{PATH_MAX, getname};

/// The `open` flags (i386 values, `include/uapi/asm-generic/fcntl.h`).
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;
/// `O_TMPFILE` without its `O_DIRECTORY` bit.
pub const __O_TMPFILE: u32 = 0o20000000;
/// Every flag `open` knows on i386 (Linux `VALID_OPEN_FLAGS`, from
/// include/linux/fcntl.h): the access mode, O_CREAT, O_EXCL, O_NOCTTY,
/// O_TRUNC, O_APPEND, O_NONBLOCK, O_DSYNC, FASYNC, O_DIRECT, O_LARGEFILE,
/// O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, __O_SYNC, O_PATH and
/// __O_TMPFILE. open() and openat() drop the others silently (Linux
/// `build_open_flags`: "flags &= VALID_OPEN_FLAGS"; only openat2 refuses
/// them).
pub const VALID_OPEN_FLAGS: u32 = 0o3 | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | 0o2000 | 0o4000 | 0o10000
    | 0o20000 | 0o40000 | 0o100000 | O_DIRECTORY | O_NOFOLLOW | 0o1000000 | O_CLOEXEC | 0o4000000
    | 0o10000000 | __O_TMPFILE;

/// Open `path` from `base` (Linux `do_filp_open` → `path_openat`):
/// the inode, created if `O_CREAT` asks and it is missing (with `mode`
/// less the umask). See the module header for the checks.
pub fn do_filp_open(base: &Base, path: &str, flags: u32, mode: u32) -> Result<InodeRef, FsError> {
    if flags & O_CREAT != 0 && flags & O_DIRECTORY != 0 {
        // Linux 6.4 on (and the host's oracle) says EINVAL; 6.1 created a
        // regular file and then failed with ENOTDIR, a bug fixed since.
        return Err(FsError::Invalid);
    }
    let mut links = 0;
    let inode = open_last_lookups(base, &base.cwd, path, flags, mode, &mut links)?;
    do_open(&inode, flags)?;
    Ok(inode)
}

/// The lookups of an open from `start` (Linux `open_last_lookups`, with
/// a symlink as the last component restarting the walk from its
/// directory, as Linux's `step_into` does).
fn open_last_lookups(base: &Base, start: &InodeRef, path: &str, flags: u32, mode: u32, links: &mut u32) -> Result<InodeRef, FsError> {
    if path.is_empty() {
        return Err(FsError::NotFound);
    }
    let sub = Base { root: base.root.clone(), cwd: start.clone() };
    if flags & O_CREAT == 0 {
        let follow = if flags & O_NOFOLLOW == 0 { namei::LOOKUP_FOLLOW } else { 0 };
        let inode = namei::path_lookupat(&sub, path, follow)?;
        if matches!(inode.kind, InodeKind::Symlink(_)) {
            return Err(FsError::TooManyLinks); // O_NOFOLLOW on a symlink: ELOOP
        }
        return Ok(inode);
    }
    let p = namei::path_parentat(&sub, path)?;
    if p.kind != LastType::Norm || p.slash {
        return Err(FsError::IsADirectory);
    }
    loop {
        match libfs::simple_lookup(&p.dir, p.name) {
            Ok(_) if flags & O_EXCL != 0 => return Err(FsError::Exists),
            Ok(inode) => {
                let InodeKind::Symlink(target) = &inode.kind else { return Ok(inode) };
                if flags & O_NOFOLLOW != 0 {
                    return Err(FsError::TooManyLinks);
                }
                *links += 1;
                if *links > MAXSYMLINKS {
                    return Err(FsError::TooManyLinks);
                }
                if target.is_empty() {
                    return Err(FsError::NotFound);
                }
                // The symlink's target, opened from the symlink's directory
                // with the same flags: a dangling link creates its target.
                return open_last_lookups(base, &p.dir, target, flags, mode, links);
            }
            Err(FsError::NotFound) => match libfs::ramfs_create(&p.dir, p.name, mode & 0o7777 & !libfs::current_umask()) {
                // Someone made the name between the lookup and the create:
                // look again (Linux holds the directory's lock across both).
                Err(FsError::Exists) => continue,
                r => return r,
            },
            Err(e) => return Err(e),
        }
    }
}

/// The checks on what was found (Linux `do_open` + `may_open`), and
/// `O_TRUNC`.
fn do_open(inode: &InodeRef, flags: u32) -> Result<(), FsError> {
    if flags & O_DIRECTORY != 0 && !inode.is_dir() {
        return Err(FsError::NotADirectory);
    }
    if inode.is_dir() && (flags & O_ACCMODE != 0 || flags & (O_TRUNC | O_CREAT) != 0) {
        // Writing a directory (access mode 1, 2, or 3 which asks for both)
        // or truncating or creating one.
        return Err(FsError::IsADirectory);
    }
    // Linux `do_dentry_open` -> `get_write_access` for a file opened for
    // writing, and `handle_truncate` for O_TRUNC: a running program's
    // file is ETXTBSY (exec.rs, `ExeFile`). Access mode 3 is neither
    // FMODE_READ nor FMODE_WRITE in Linux (`OPEN_FMODE`), so it passes.
    let acc = flags & O_ACCMODE;
    if inode.file().is_ok() && (acc == O_WRONLY || acc == O_RDWR || flags & O_TRUNC != 0) && super::exec::deny_write(inode) {
        return Err(FsError::TextBusy);
    }
    if flags & O_TRUNC != 0 {
        inode.truncate_to_zero();
    }
    Ok(())
}

/// Open `path` from `dirfd` for the current task and install the file
/// (Linux `do_sys_openat2`): the descriptor, or `-errno`.
pub fn do_sys_open(dirfd: i32, pathp: usize, flags: u32, mode: u32) -> i32 {
    // Unknown bits went into f_flags and came back from F_GETFL: with bit
    // 31 set, a "negative" F_GETFL that looks like no errno (found by the
    // fuzzer, seed 4, kinds 0-40).
    let flags = flags & VALID_OPEN_FLAGS;
    if flags & __O_TMPFILE != 0 {
        // Where we differ: Linux's ramfs makes an unnamed file here.
        return -EOPNOTSUPP;
    }
    let path = match namei::getname(pathp) {
        Ok(p) => p,
        Err(e) => return -e,
    };
    let base = match Base::at(dirfd, &path) {
        Ok(b) => b,
        Err(e) => return -e,
    };
    let inode = match do_filp_open(&base, &path, flags, mode) {
        Ok(i) => i,
        Err(e) => return -e.errno(),
    };
    // A device node reaches its driver (chrdev_open); File::new drops the
    // creation flags from f_flags, as Linux's do_dentry_open; O_CLOEXEC
    // marks the descriptor.
    let file = match super::file::do_dentry_open(inode, flags) {
        Ok(f) => f,
        Err(e) => return e,
    };
    // Linux `get_unused_fd_flags`: -EMFILE, or -ENOMEM if the table
    // cannot grow (the file is closed again, nothing else changed).
    let fd = crate::sched::current().files.lock().alloc_fd(0, file, flags & O_CLOEXEC != 0);
    fd.unwrap_or_else(|e| e)
}

/// `open(path, flags, mode)` (i386 5): `openat(AT_FDCWD, ...)`. Errors as
/// Linux's: `EFAULT` for a bad pointer, `ENAMETOOLONG`, `ENOENT` /
/// `ENOTDIR` / `ELOOP` from the lookup, `EEXIST`, `EISDIR`, `EMFILE`.
/// Access mode 3 is accepted, as Linux accepts it (a file open for
/// neither reading nor writing: both are `EBADF`).
pub fn sys_open(regs: &mut PtRegs) -> i32 {
    do_sys_open(AT_FDCWD, regs.bx as usize, regs.cx, regs.dx)
}

/// `openat(dirfd, path, flags, mode)` (i386 295).
pub fn sys_openat(regs: &mut PtRegs) -> i32 {
    do_sys_open(regs.bx as i32, regs.cx as usize, regs.dx, regs.si)
}

/// `creat(path, mode)` (i386 8): `open(path, O_CREAT | O_WRONLY | O_TRUNC,
/// mode)`.
pub fn sys_creat(regs: &mut PtRegs) -> i32 {
    do_sys_open(AT_FDCWD, regs.bx as usize, O_CREAT | O_WRONLY | O_TRUNC, regs.cx)
}

/// `close(fd)`.
pub fn sys_close(regs: &mut PtRegs) -> i32 {
    if crate::sched::current().files.lock().close(regs.bx as i32) { 0 } else { -EBADF }
}

/// Make `dir` the current task's current directory (Linux `set_fs_pwd`).
pub fn set_fs_pwd(dir: InodeRef) {
    *crate::sched::current().cwd.lock() = Some(dir);
}

/// `chdir(path)` (i386 12): `ENOTDIR` for anything but a directory.
pub fn sys_chdir(regs: &mut PtRegs) -> i32 {
    match namei::filename_lookup(AT_FDCWD, regs.bx as usize, namei::LOOKUP_FOLLOW | namei::LOOKUP_DIRECTORY) {
        Ok(dir) => {
            set_fs_pwd(dir);
            0
        }
        Err(e) => -e,
    }
}

/// `fchdir(fd)` (i386 133): `EBADF`, `ENOTDIR`.
pub fn sys_fchdir(regs: &mut PtRegs) -> i32 {
    match namei::dir_of(regs.bx as i32) {
        Ok(dir) => {
            set_fs_pwd(dir);
            0
        }
        Err(e) => -e,
    }
}

/// `access` modes.
pub const F_OK: u32 = 0;
pub const X_OK: u32 = 1;
pub const W_OK: u32 = 2;
pub const R_OK: u32 = 4;

/// Whether the current task may access `inode` as `mode` asks (Linux
/// `generic_permission` for root, the only user there is: reading and
/// writing are always allowed; executing needs an x bit somewhere, except
/// for a directory, which root may always search).
pub fn may_access(inode: &InodeRef, mode: u32) -> Result<(), FsError> {
    if mode & X_OK != 0 && !inode.is_dir() && inode.mode & 0o111 == 0 {
        return Err(FsError::Access);
    }
    Ok(())
}

/// `faccessat(dirfd, path, mode)` (i386 307): `EINVAL` for a mode beyond
/// `R_OK | W_OK | X_OK`, then the lookup (following symlinks), then
/// [`may_access`].
pub fn sys_faccessat(regs: &mut PtRegs) -> i32 {
    do_faccessat(regs.bx as i32, regs.cx as usize, regs.dx)
}

/// `access(path, mode)` (i386 33).
pub fn sys_access(regs: &mut PtRegs) -> i32 {
    do_faccessat(AT_FDCWD, regs.bx as usize, regs.cx)
}

fn do_faccessat(dirfd: i32, pathp: usize, mode: u32) -> i32 {
    if mode & !(R_OK | W_OK | X_OK) != 0 {
        return -EINVAL;
    }
    match namei::filename_lookup(dirfd, pathp, namei::LOOKUP_FOLLOW) {
        Ok(inode) => match may_access(&inode, mode) {
            Ok(()) => 0,
            Err(e) => -e.errno(),
        },
        Err(e) => -e,
    }
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
/// anything else that is not a regular file, `ETXTBSY` for a running
/// program's file, `EFBIG` past the largest size.
pub fn sys_truncate(regs: &mut PtRegs) -> i32 {
    let (ptr, length) = (regs.bx as usize, regs.cx as i32);
    if length < 0 {
        return -EINVAL;
    }
    // From the current directory, following symlinks (user_path_at).
    let inode = match namei::filename_lookup(AT_FDCWD, ptr, namei::LOOKUP_FOLLOW) {
        Ok(i) => i,
        Err(e) => return -e,
    };
    // Linux `vfs_truncate`: EISDIR and EINVAL for what is not a regular
    // file first (do_truncate says those), then `get_write_access`:
    // ETXTBSY for a running program's file.
    if inode.file().is_ok() && super::exec::deny_write(&inode) {
        return -FsError::TextBusy.errno();
    }
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
    let small = small && f.f_flags() & super::file::O_LARGEFILE == 0;
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
