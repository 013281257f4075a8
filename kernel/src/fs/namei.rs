//! Path names to inodes, and the system calls that change names (Linux
//! `fs/namei.c`).
//!
//! ```text
//!  "a/b/../c"  from  Base { root: "/" of the process, cwd }
//!      getname            copy from user space: EFAULT, ENAMETOOLONG (no
//!                         NUL within PATH_MAX), ENOENT for ""
//!      link_path_walk     component by component: each must be a
//!                         directory (ENOTDIR), names <= 255 (ENAMETOOLONG),
//!                         ".." via the directory's parent, symlinks
//!                         followed (ELOOP after 40)
//!      path_lookupat      ... and the last component too (LOOKUP_FOLLOW?)
//!      path_parentat      ... all but the last: the directory and the name
//!                         a create/unlink/rename works on
//! ```
//!
//! Where a walk starts ([`Base`]): the process's root for `/...`, else its
//! current directory (Linux `task->fs->pwd`, here [`Task::cwd`]) or, in the
//! `*at` calls, the directory open on `dirfd` (`AT_FDCWD` = the cwd).
//!
//! A directory's parent is a pointer in its inode (ramfs directories have
//! exactly one name, so the inode can stand in for Linux's dentry), so ".."
//! from the cwd works without remembering how we got there, and a renamed
//! directory's ".." follows it.
//!
//! Where we differ from Linux: names are Rust strings, so a path that is
//! not UTF-8 is refused with `ENOENT` (Linux takes any byte but `/` and
//! NUL); there are no mount points, no permissions to check on the way
//! (every process is root, which Linux lets through a directory's search
//! bit anyway), and no RCU walk.
//!
//! [`Task::cwd`]: crate::sched::task::Task::cwd

use alloc::string::String;
use alloc::vec::Vec;

use super::file::Fd;
use super::libfs::{self, RenameSide};
use super::{FsError, InodeKind, InodeRef, MAXSYMLINKS};
use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_to_user, strncpy_from_user};
use crate::errno::{EBADF, EFAULT, EINVAL, ENAMETOOLONG, ENOENT, ENOTDIR};

/// The longest path, with its NUL (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// The `dirfd` that means "the current directory" (Linux `AT_FDCWD`).
pub const AT_FDCWD: i32 = -100;
/// `unlinkat` flag: remove a directory (`rmdir`).
pub const AT_REMOVEDIR: u32 = 0x200;
/// `linkat` flag: follow a symlink as the old name.
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
/// `*at` flag: an empty path means `dirfd` itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// Lookup flag: follow a symlink in the last component too.
pub const LOOKUP_FOLLOW: u32 = 1;
/// Lookup flag: the last component must be a directory.
pub const LOOKUP_DIRECTORY: u32 = 2;

/// Where a walk starts (Linux's `nd->root` and the starting `nd->path`).
#[derive(Clone)]
pub struct Base {
    /// What `/` means (the process's root; every process's is the rootfs
    /// root, there is no `chroot`).
    pub root: InodeRef,
    /// Where a relative path starts.
    pub cwd: InodeRef,
}

impl Base {
    /// The current task's root and current directory (Linux
    /// `get_fs_root` / `get_fs_pwd`); a task that never changed directory
    /// (a kernel thread) is at the root.
    pub fn current() -> Base {
        let root = super::rootfs().root().clone();
        let cwd = crate::sched::current().cwd.lock().clone().unwrap_or_else(|| root.clone());
        Base { root, cwd }
    }

    /// The base for `path` given `dirfd` (Linux `path_init`): an absolute
    /// path ignores `dirfd` altogether; `AT_FDCWD` is the cwd; otherwise
    /// `dirfd` must be open (`EBADF`) on a directory (`ENOTDIR`).
    pub fn at(dirfd: i32, path: &str) -> Result<Base, i32> {
        let mut base = Base::current();
        if path.starts_with('/') || dirfd == AT_FDCWD {
            return Ok(base);
        }
        base.cwd = dir_of(dirfd)?;
        Ok(base)
    }
}

/// The directory open on `fd` (a `dirfd`, `fchdir`): `EBADF` if `fd` is
/// not open, `ENOTDIR` if it is open on anything but a directory (the
/// console too, as Linux says for a tty).
pub fn dir_of(fd: i32) -> Result<InodeRef, i32> {
    match crate::sched::current().files.lock().get(fd) {
        None => Err(EBADF),
        Some(Fd::File(f)) if f.inode.is_dir() => Ok(f.inode.clone()),
        Some(_) => Err(ENOTDIR),
    }
}

/// Copy a path from user space (Linux `getname`): `EFAULT` for a bad
/// pointer, `ENAMETOOLONG` if no NUL comes within `PATH_MAX` bytes,
/// `ENOENT` for an empty path, and `ENOENT` for one that is not UTF-8
/// (where we differ: see the module header). The buffer is a fallible
/// allocation (mm/heap.rs; Linux `__getname` from `names_cachep`):
/// `ENOMEM` if it cannot be had.
pub fn getname(ptr: usize) -> Result<String, i32> {
    getname_flags(ptr, false)
}

/// As [`getname`]; with `empty_ok` an empty path is allowed (Linux
/// `LOOKUP_EMPTY`, for `AT_EMPTY_PATH`).
pub fn getname_flags(ptr: usize, empty_ok: bool) -> Result<String, i32> {
    let mut buf = crate::mm::heap::try_vec_with_capacity(PATH_MAX).map_err(|e| e.errno())?;
    buf.resize(PATH_MAX, 0u8);
    let n = strncpy_from_user(&mut buf, ptr)?;
    if n == PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    if n == 0 && !empty_ok {
        return Err(ENOENT);
    }
    buf.truncate(n);
    String::from_utf8(buf).map_err(|_| ENOENT)
}

/// The components of `path`, without empty ones (`a//b/` is `a`, `b`).
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// One step up: the parent of directory `dir`, or `dir` itself at the
/// root (Linux `follow_dotdot`: ".." of the root is the root). A dead
/// directory whose parent is gone has nowhere to go: `ENOENT`.
fn follow_dotdot(base: &Base, dir: &InodeRef) -> Result<InodeRef, FsError> {
    if alloc::sync::Arc::ptr_eq(dir, &base.root) {
        return Ok(dir.clone());
    }
    dir.parent().ok_or(FsError::NotFound)
}

/// Walk `path` from `start` (or the root for an absolute path), every
/// component: each directory is looked up in the one before, symlinks on
/// the way followed (the last one only with `follow_last`), and returns
/// what the last component names (Linux `link_path_walk` + `walk_component`).
fn walk(base: &Base, start: &InodeRef, path: &str, follow_last: bool, links: &mut u32) -> Result<InodeRef, FsError> {
    let mut cur = if path.starts_with('/') { base.root.clone() } else { start.clone() };
    let mut comps = components(path).peekable();
    // A trailing "/" asks for a directory, and makes a last symlink count
    // as followed (Linux sets LOOKUP_FOLLOW | LOOKUP_DIRECTORY).
    let slash = path.ends_with('/');
    while let Some(c) = comps.next() {
        let last = comps.peek().is_none();
        if !cur.is_dir() {
            return Err(FsError::NotADirectory);
        }
        match c {
            "." => continue,
            ".." => {
                cur = follow_dotdot(base, &cur)?;
                continue;
            }
            _ => {}
        }
        let child = libfs::simple_lookup(&cur, c)?;
        if let InodeKind::Symlink(target) = &child.kind
            && (!last || follow_last || slash)
        {
            *links += 1;
            if *links > MAXSYMLINKS {
                return Err(FsError::TooManyLinks);
            }
            if target.is_empty() {
                return Err(FsError::NotFound); // Linux: an empty body is ENOENT
            }
            cur = walk(base, &cur, target, true, links)?;
        } else {
            cur = child;
        }
    }
    // "file/", "file/." and "file/..": a directory is needed.
    let ends_dot = matches!(path.rsplit('/').next(), Some(".") | Some(".."));
    if (slash || ends_dot) && !cur.is_dir() {
        return Err(FsError::NotADirectory);
    }
    Ok(cur)
}

/// The inode `path` names, from `base` (Linux `path_lookupat`):
/// `LOOKUP_FOLLOW` follows a symlink as the last component,
/// `LOOKUP_DIRECTORY` asks for a directory (`ENOTDIR`). `ENOENT` for an
/// empty path.
pub fn path_lookupat(base: &Base, path: &str, flags: u32) -> Result<InodeRef, FsError> {
    if path.is_empty() {
        return Err(FsError::NotFound);
    }
    let mut links = 0;
    let inode = walk(base, &base.cwd, path, flags & LOOKUP_FOLLOW != 0, &mut links)?;
    if flags & LOOKUP_DIRECTORY != 0 && !inode.is_dir() {
        return Err(FsError::NotADirectory);
    }
    Ok(inode)
}

/// [`path_lookupat`] for a system call: the path copied from user space,
/// from `dirfd` (Linux `user_path_at` → `filename_lookup`). Errors as
/// `-errno`-ready positive numbers.
pub fn filename_lookup(dirfd: i32, uptr: usize, flags: u32) -> Result<InodeRef, i32> {
    let path = getname(uptr)?;
    let base = Base::at(dirfd, &path)?;
    path_lookupat(&base, &path, flags).map_err(FsError::errno)
}

/// What the last component of a path is (Linux `LAST_NORM`, `LAST_ROOT`,
/// `LAST_DOT`, `LAST_DOTDOT`): the create/remove/rename calls act only on
/// a normal name, and each says something else for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastType {
    Norm,
    Root,
    Dot,
    DotDot,
}

/// The result of [`path_parentat`]: the directory, the last component
/// and its kind, and whether a `/` followed it.
pub struct Parent<'p> {
    pub dir: InodeRef,
    pub name: &'p str,
    pub kind: LastType,
    pub slash: bool,
}

/// Walk all of `path` but its last component (Linux `path_parentat`):
/// the directory that holds (or would hold) it. `ENOENT` for an empty
/// path or a missing directory on the way, `ENOTDIR` if one is a file.
pub fn path_parentat<'p>(base: &Base, path: &'p str) -> Result<Parent<'p>, FsError> {
    if path.is_empty() {
        return Err(FsError::NotFound);
    }
    let trimmed = path.trim_end_matches('/');
    let slash = trimmed.len() != path.len();
    let (dir_part, name) = match trimmed.rfind('/') {
        Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let mut links = 0;
    let dir = if trimmed.is_empty() {
        base.root.clone() // only slashes: the root itself
    } else if dir_part.is_empty() {
        base.cwd.clone()
    } else {
        walk(base, &base.cwd, dir_part, true, &mut links)?
    };
    if !dir.is_dir() {
        return Err(FsError::NotADirectory);
    }
    let kind = match name {
        "" => LastType::Root, // "/" (only slashes)
        "." => LastType::Dot,
        ".." => LastType::DotDot,
        _ => LastType::Norm,
    };
    Ok(Parent { dir, name, kind, slash })
}

/// Turn a result into a system call's return value.
fn ret(r: Result<(), FsError>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => -e.errno(),
    }
}

/// `mkdir` at `path` from `base` (Linux `do_mkdirat`: `filename_create`
/// then `vfs_mkdir`): `EEXIST` for an existing name (also a dangling
/// symlink, which is not followed) and for "/", "." and "..".
pub fn do_mkdirat(base: &Base, path: &str, mode: u32) -> Result<InodeRef, FsError> {
    let p = path_parentat(base, path)?;
    if p.kind != LastType::Norm {
        return Err(FsError::Exists);
    }
    libfs::ramfs_mkdir(&p.dir, p.name, mode & 0o7777 & !libfs::current_umask())
}

/// `rmdir` of `path` from `base` (Linux `do_rmdir`): "." is `EINVAL`,
/// ".." `ENOTEMPTY`, "/" `EBUSY`; then `simple_rmdir`'s `ENOTDIR`,
/// `ENOTEMPTY`, `ENOENT`.
pub fn do_rmdir(base: &Base, path: &str) -> Result<(), FsError> {
    let p = path_parentat(base, path)?;
    match p.kind {
        LastType::Dot => return Err(FsError::Invalid),
        LastType::DotDot => return Err(FsError::NotEmpty),
        LastType::Root => return Err(FsError::Busy),
        LastType::Norm => {}
    }
    libfs::simple_rmdir(&p.dir, p.name).map(|_| ())
}

/// `unlink` of `path` from `base` (Linux `do_unlinkat`): a directory is
/// `EISDIR` (also "/", "." and ".."); a trailing slash on a non-directory
/// `ENOTDIR`. The inode lives on while it is open.
pub fn do_unlinkat(base: &Base, path: &str) -> Result<(), FsError> {
    let p = path_parentat(base, path)?;
    if p.kind != LastType::Norm {
        return Err(FsError::IsADirectory);
    }
    if p.slash {
        // Linux: "if (last.name[last.len]) goto slashes": ENOENT if the
        // name is missing, EISDIR for a directory, else ENOTDIR.
        let victim = libfs::simple_lookup(&p.dir, p.name)?;
        return Err(if victim.is_dir() { FsError::IsADirectory } else { FsError::NotADirectory });
    }
    libfs::simple_unlink(&p.dir, p.name).map(|_| ())
}

/// `symlink(target, path)` from `base` (Linux `do_symlinkat`): `ENOENT`
/// for an empty target, `EEXIST` for a taken name, "." or "..".
pub fn do_symlinkat(base: &Base, target: &str, path: &str) -> Result<InodeRef, FsError> {
    if target.is_empty() {
        return Err(FsError::NotFound);
    }
    let p = path_parentat(base, path)?;
    if p.kind != LastType::Norm {
        return Err(FsError::Exists);
    }
    if p.slash {
        // filename_create: a trailing slash on a name that is not a
        // directory asks for something that cannot be made.
        return Err(if libfs::simple_lookup(&p.dir, p.name).is_ok() { FsError::Exists } else { FsError::NotFound });
    }
    libfs::ramfs_symlink(&p.dir, p.name, target)
}

/// `link(old, new)` (Linux `do_linkat`): the old name is not followed if
/// it is a symlink (unless `follow`), a directory is `EPERM`, an existing
/// new name `EEXIST`.
pub fn do_linkat(old_base: &Base, old: &str, new_base: &Base, new: &str, follow: bool) -> Result<(), FsError> {
    let inode = path_lookupat(old_base, old, if follow { LOOKUP_FOLLOW } else { 0 })?;
    let p = path_parentat(new_base, new)?;
    if p.kind != LastType::Norm {
        return Err(FsError::Exists);
    }
    if inode.is_dir() {
        return Err(FsError::NotPermitted);
    }
    if p.slash {
        return Err(if libfs::simple_lookup(&p.dir, p.name).is_ok() { FsError::Exists } else { FsError::NotFound });
    }
    libfs::simple_link(&inode, &p.dir, p.name)
}

/// `renameat2(old, new, flags)` (Linux `do_renameat2`): "/", "." or ".."
/// on either side is `EBUSY` (`EEXIST` for a new side with
/// `RENAME_NOREPLACE`); the rest is [`libfs::simple_rename`].
pub fn do_renameat2(old_base: &Base, old: &str, new_base: &Base, new: &str, flags: u32) -> Result<(), FsError> {
    if flags & !(libfs::RENAME_NOREPLACE | libfs::RENAME_EXCHANGE | libfs::RENAME_WHITEOUT) != 0
        || (flags & libfs::RENAME_EXCHANGE != 0
            && flags & (libfs::RENAME_NOREPLACE | libfs::RENAME_WHITEOUT) != 0)
    {
        return Err(FsError::Invalid);
    }
    let o = path_parentat(old_base, old)?;
    let n = path_parentat(new_base, new)?;
    if o.kind != LastType::Norm {
        return Err(FsError::Busy);
    }
    if n.kind != LastType::Norm {
        return Err(if flags & libfs::RENAME_NOREPLACE != 0 { FsError::Exists } else { FsError::Busy });
    }
    libfs::simple_rename(
        &RenameSide { dir: o.dir, name: o.name, slash: o.slash },
        &RenameSide { dir: n.dir, name: n.name, slash: n.slash },
        flags,
    )
}

/// Copy the two user paths of a two-path call and resolve their bases.
fn two_paths(olddfd: i32, oldp: usize, newdfd: i32, newp: usize) -> Result<(Base, String, Base, String), i32> {
    let old = getname(oldp)?;
    let new = getname(newp)?;
    let ob = Base::at(olddfd, &old)?;
    let nb = Base::at(newdfd, &new)?;
    Ok((ob, old, nb, new))
}

/// A path argument and its base, or the `-errno` to return.
fn one_path(dirfd: i32, uptr: usize) -> Result<(Base, String), i32> {
    let path = getname(uptr)?;
    let base = Base::at(dirfd, &path)?;
    Ok((base, path))
}

/// `mkdirat(dirfd, path, mode)` (i386 296).
pub fn sys_mkdirat(regs: &mut PtRegs) -> i32 {
    match one_path(regs.bx as i32, regs.cx as usize) {
        Ok((b, p)) => ret(do_mkdirat(&b, &p, regs.dx).map(|_| ())),
        Err(e) => -e,
    }
}

/// `mkdir(path, mode)` (i386 39): `mkdirat(AT_FDCWD, ...)`.
pub fn sys_mkdir(regs: &mut PtRegs) -> i32 {
    match one_path(AT_FDCWD, regs.bx as usize) {
        Ok((b, p)) => ret(do_mkdirat(&b, &p, regs.cx).map(|_| ())),
        Err(e) => -e,
    }
}

/// `rmdir(path)` (i386 40).
pub fn sys_rmdir(regs: &mut PtRegs) -> i32 {
    match one_path(AT_FDCWD, regs.bx as usize) {
        Ok((b, p)) => ret(do_rmdir(&b, &p)),
        Err(e) => -e,
    }
}

/// `unlink(path)` (i386 10).
pub fn sys_unlink(regs: &mut PtRegs) -> i32 {
    match one_path(AT_FDCWD, regs.bx as usize) {
        Ok((b, p)) => ret(do_unlinkat(&b, &p)),
        Err(e) => -e,
    }
}

/// `unlinkat(dirfd, path, flags)` (i386 301): `AT_REMOVEDIR` makes it
/// `rmdir`; any other flag is `EINVAL`.
pub fn sys_unlinkat(regs: &mut PtRegs) -> i32 {
    let flags = regs.dx;
    if flags & !AT_REMOVEDIR != 0 {
        return -EINVAL;
    }
    match one_path(regs.bx as i32, regs.cx as usize) {
        Ok((b, p)) if flags & AT_REMOVEDIR != 0 => ret(do_rmdir(&b, &p)),
        Ok((b, p)) => ret(do_unlinkat(&b, &p)),
        Err(e) => -e,
    }
}

/// `rename(old, new)` (i386 38).
pub fn sys_rename(regs: &mut PtRegs) -> i32 {
    rename_common(AT_FDCWD, regs.bx as usize, AT_FDCWD, regs.cx as usize, 0)
}

/// `renameat(olddfd, old, newdfd, new)` (i386 302).
pub fn sys_renameat(regs: &mut PtRegs) -> i32 {
    rename_common(regs.bx as i32, regs.cx as usize, regs.dx as i32, regs.si as usize, 0)
}

/// `renameat2(olddfd, old, newdfd, new, flags)` (i386 353).
pub fn sys_renameat2(regs: &mut PtRegs) -> i32 {
    rename_common(regs.bx as i32, regs.cx as usize, regs.dx as i32, regs.si as usize, regs.di)
}

fn rename_common(olddfd: i32, oldp: usize, newdfd: i32, newp: usize, flags: u32) -> i32 {
    match two_paths(olddfd, oldp, newdfd, newp) {
        Ok((ob, o, nb, n)) => ret(do_renameat2(&ob, &o, &nb, &n, flags)),
        Err(e) => -e,
    }
}

/// `symlink(target, path)` (i386 83).
pub fn sys_symlink(regs: &mut PtRegs) -> i32 {
    symlink_common(regs.bx as usize, AT_FDCWD, regs.cx as usize)
}

/// `symlinkat(target, newdfd, path)` (i386 304).
pub fn sys_symlinkat(regs: &mut PtRegs) -> i32 {
    symlink_common(regs.bx as usize, regs.cx as i32, regs.dx as usize)
}

fn symlink_common(targetp: usize, dirfd: i32, pathp: usize) -> i32 {
    // The target is only stored, never walked here: Linux copies it with
    // getname too (so EFAULT, ENAMETOOLONG, and ENOENT when empty).
    let target = match getname(targetp) {
        Ok(t) => t,
        Err(e) => return -e,
    };
    match one_path(dirfd, pathp) {
        Ok((b, p)) => ret(do_symlinkat(&b, &target, &p).map(|_| ())),
        Err(e) => -e,
    }
}

/// `link(old, new)` (i386 9).
pub fn sys_link(regs: &mut PtRegs) -> i32 {
    link_common(AT_FDCWD, regs.bx as usize, AT_FDCWD, regs.cx as usize, 0)
}

/// `linkat(olddfd, old, newdfd, new, flags)` (i386 303):
/// `AT_SYMLINK_FOLLOW` follows a symlink as the old name; `AT_EMPTY_PATH`
/// is not supported here (`EINVAL` from the flag check: where we differ,
/// Linux links the file open on `olddfd`).
pub fn sys_linkat(regs: &mut PtRegs) -> i32 {
    link_common(regs.bx as i32, regs.cx as usize, regs.dx as i32, regs.si as usize, regs.di)
}

fn link_common(olddfd: i32, oldp: usize, newdfd: i32, newp: usize, flags: u32) -> i32 {
    if flags & !AT_SYMLINK_FOLLOW != 0 {
        return -EINVAL;
    }
    match two_paths(olddfd, oldp, newdfd, newp) {
        Ok((ob, o, nb, n)) => ret(do_linkat(&ob, &o, &nb, &n, flags & AT_SYMLINK_FOLLOW != 0)),
        Err(e) => -e,
    }
}

/// `readlink(path, buf, bufsiz)` (i386 85; Linux keeps it in `fs/stat.c`,
/// whose counterpart here is the stat helpers' file).
pub fn sys_readlink(regs: &mut PtRegs) -> i32 {
    readlink_common(AT_FDCWD, regs.bx as usize, regs.cx as usize, regs.dx as i32)
}

/// `readlinkat(dirfd, path, buf, bufsiz)` (i386 305).
pub fn sys_readlinkat(regs: &mut PtRegs) -> i32 {
    readlink_common(regs.bx as i32, regs.cx as usize, regs.dx as usize, regs.si as i32)
}

/// Linux `do_readlinkat`: `EINVAL` for `bufsiz <= 0` (checked first) and
/// for something that is not a symlink; copies at most `bufsiz` bytes of
/// the target, without a NUL, and returns how many; `EFAULT` if the
/// buffer cannot take them.
fn readlink_common(dirfd: i32, pathp: usize, buf: usize, bufsiz: i32) -> i32 {
    if bufsiz <= 0 {
        return -EINVAL;
    }
    let inode = match one_path(dirfd, pathp) {
        Ok((b, p)) => match path_lookupat(&b, &p, 0) {
            Ok(i) => i,
            Err(e) => return -e.errno(),
        },
        Err(e) => return -e,
    };
    let Some(target) = inode.symlink_target() else { return -EINVAL };
    let n = target.len().min(bufsiz as usize);
    if copy_to_user(buf, &target.as_bytes()[..n]) != 0 {
        return -EFAULT;
    }
    n as i32
}

/// The names on the way from `root` down to `dir`, for `getcwd` (see
/// `d_path.rs`): `None` if `dir` is dead or cut off from the root.
pub fn path_names(root: &InodeRef, dir: &InodeRef) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut cur = dir.clone();
    while !alloc::sync::Arc::ptr_eq(&cur, root) {
        if libfs::is_deaddir(&cur) {
            return None;
        }
        let parent = cur.parent()?;
        let InodeKind::Directory(map) = &parent.kind else { return None };
        let name = map.lock().iter().find(|(_, i)| alloc::sync::Arc::ptr_eq(i, &cur)).map(|(n, _)| n.clone())?;
        names.push(name);
        cur = parent;
    }
    names.reverse();
    Some(names)
}
