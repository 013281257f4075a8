//! The directory operations of ramfs (Linux `fs/libfs.c`, the `simple_*`
//! helpers ramfs uses, and `fs/ramfs/inode.c`, its `ramfs_mknod`,
//! `ramfs_mkdir`, `ramfs_symlink`).
//!
//! A directory is a sorted map from names to inodes ([`InodeKind::Directory`]);
//! these functions change one or two of them and keep each inode's link
//! count (`nlink`) and each directory's parent as Linux's dcache does:
//!
//! ```text
//!  simple_lookup(dir, "f")        the child, or ENOENT (ENAMETOOLONG > 255)
//!  ramfs_create / ramfs_mkdir     a new inode under a free name (EEXIST)
//!  simple_link                    a second name for a non-directory
//!  simple_unlink                  a name gone; the inode lives while open
//!  simple_rmdir                   an empty directory gone (ENOTEMPTY)
//!  simple_rename                  vfs_rename's checks, then the move
//!  dcache_readdir                 ".", "..", then the entries by name
//! ```
//!
//! Locking, where we are simpler than Linux: every change of any directory
//! takes one mutex, [`NAMESPACE_LOCK`] (Linux takes each parent's
//! `i_rwsem`, the victim's, and for renames across directories the
//! superblock's `s_vfs_rename_mutex`, in a careful order). With one lock,
//! only one task ever holds two directory maps at once, so no order between
//! them is needed; lookups take one directory's map at a time, as Linux's
//! RCU walk needs no lock at all. The cost is that two `mkdir`s in
//! different directories wait for each other; a teaching ramfs can afford
//! it.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use super::ramfs::FilePages;
use super::{FsError, Inode, InodeKind, InodeRef};
use crate::locking::mutex::Mutex;

/// The longest name of one directory entry (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Serialises every change to every directory (see the module header).
pub static NAMESPACE_LOCK: Mutex<()> = Mutex::new(());

static NEXT_INO: AtomicU32 = AtomicU32::new(1);

/// A fresh inode number (Linux `get_next_ino`, which ramfs uses: one
/// counter for every ramfs instance).
pub fn get_next_ino() -> u32 {
    NEXT_INO.fetch_add(1, Ordering::Relaxed)
}

/// A new inode with no name yet: `nlink` 0, or 1 for a directory (its
/// own "."); [`d_add`] counts its names.
pub fn new_inode(mode: u32, kind: InodeKind) -> InodeRef {
    let nlink = u32::from(matches!(kind, InodeKind::Directory(_)));
    Arc::new(Inode {
        ino: get_next_ino(),
        mode: mode & 0o7777,
        kind,
        nlink: AtomicU32::new(nlink),
        parent: crate::locking::SpinLock::new(None),
    })
}

/// The umask applied to the mode of everything created: the calling
/// task's (Linux `current_umask()`, `fs->umask`), 0022 for the first task
/// and inherited at fork; `umask(2)` (sys.rs) changes it.
pub fn current_umask() -> u32 {
    crate::sched::current().umask.load(core::sync::atomic::Ordering::Relaxed)
}

/// The map of directory `dir`, or `ENOTDIR`.
fn dir_map(dir: &Inode) -> Result<&Mutex<BTreeMap<String, InodeRef>>, FsError> {
    match &dir.kind {
        InodeKind::Directory(d) => Ok(d),
        _ => Err(FsError::NotADirectory),
    }
}

/// Whether `dir` is a directory whose last name is gone (Linux
/// `IS_DEADDIR`): nothing may be created in it, and nothing is found.
pub fn is_deaddir(dir: &Inode) -> bool {
    dir.is_dir() && dir.nlink.load(Ordering::Relaxed) == 0
}

/// The entry `name` of directory `dir` (Linux `simple_lookup`, which
/// refuses a name longer than `NAME_MAX` with `ENAMETOOLONG`; a dead
/// directory finds nothing).
pub fn simple_lookup(dir: &Inode, name: &str) -> Result<InodeRef, FsError> {
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    let map = dir_map(dir)?;
    if is_deaddir(dir) {
        return Err(FsError::NotFound);
    }
    map.lock().get(name).cloned().ok_or(FsError::NotFound)
}

/// Enter `inode` as `name` in `dir`'s map (the caller holds
/// [`NAMESPACE_LOCK`] and has checked the name is free): Linux's
/// `d_instantiate` with the link counts ramfs keeps (`inc_nlink`).
fn d_add(dir: &InodeRef, map: &mut BTreeMap<String, InodeRef>, name: &str, inode: InodeRef) {
    if inode.is_dir() {
        *inode.parent.lock() = Some(Arc::downgrade(dir));
        dir.nlink.fetch_add(1, Ordering::Relaxed); // the new ".."
    }
    inode.nlink.fetch_add(1, Ordering::Relaxed); // its name
    map.insert(name.to_string(), inode);
}

/// Take `name` out of `dir`'s map (the caller holds [`NAMESPACE_LOCK`]):
/// Linux's `simple_unlink` counts (`drop_nlink`); a directory that is
/// not coming back elsewhere (a rename) is then killed with [`d_kill`].
/// The inode itself lives on while anything holds it (an open file, a
/// cwd).
fn d_delete(dir: &Inode, map: &mut BTreeMap<String, InodeRef>, name: &str) -> Option<InodeRef> {
    let old = map.remove(name)?;
    if old.is_dir() {
        dir.nlink.fetch_sub(1, Ordering::Relaxed);
    }
    old.nlink.fetch_sub(1, Ordering::Relaxed);
    Some(old)
}

/// A removed directory is dead (Linux `simple_rmdir`'s second
/// `drop_nlink`, for its "."): `nlink` 0, [`is_deaddir`].
fn d_kill(old: &Inode) {
    if old.is_dir() {
        old.nlink.store(0, Ordering::Relaxed);
    }
}

/// Create the inode `make` gives as the new name `name` in `dir` (Linux
/// `ramfs_mknod` after `lookup_open` found no entry): `EEXIST` if the
/// name is taken, `ENOENT` in a dead directory, `ENAMETOOLONG`.
///
/// Two fallible allocations (mm/heap.rs), in Linux's order, each backed
/// out of with nothing changed: the dentry (Linux `d_alloc` in the
/// lookup: `-ENOMEM`; here the directory's entry, its name and map node),
/// then the inode (`make`; Linux `ramfs_get_inode` returning NULL is
/// `-ENOSPC` from `ramfs_mknod`).
#[track_caller]
fn mknod(dir: &InodeRef, name: &str, make: impl FnOnce() -> Result<InodeRef, FsError>) -> Result<InodeRef, FsError> {
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    let _ns = NAMESPACE_LOCK.lock();
    let mut map = dir_map(dir)?.lock();
    if is_deaddir(dir) {
        return Err(FsError::NotFound);
    }
    if map.contains_key(name) {
        return Err(FsError::Exists);
    }
    crate::mm::heap::slab_pre_alloc_hook(core::mem::size_of::<(String, InodeRef)>() + name.len())
        .map_err(|_| FsError::NoMemory)?;
    let inode = make()?;
    d_add(dir, &mut map, name, inode.clone());
    Ok(inode)
}

/// [`new_inode`] as a fallible allocation: ramfs's `-ENOSPC` (see [`mknod`]).
#[track_caller]
fn try_new_inode(mode: u32, kind: InodeKind) -> Result<InodeRef, FsError> {
    crate::mm::heap::slab_pre_alloc_hook(core::mem::size_of::<Inode>()).map_err(|_| FsError::NoSpace)?;
    Ok(new_inode(mode, kind))
}

/// A new, empty regular file `name` in `dir` with permissions `mode`
/// (Linux `ramfs_create`; the caller applies the umask).
pub fn ramfs_create(dir: &InodeRef, name: &str, mode: u32) -> Result<InodeRef, FsError> {
    mknod(dir, name, || try_new_inode(mode, InodeKind::Regular(FilePages::new())))
}

/// A new, empty directory `name` in `dir` (Linux `ramfs_mkdir`).
pub fn ramfs_mkdir(dir: &InodeRef, name: &str, mode: u32) -> Result<InodeRef, FsError> {
    mknod(dir, name, || try_new_inode(mode, InodeKind::Directory(Mutex::new(BTreeMap::new()))))
}

/// A new symlink `name` in `dir` holding `target` (Linux `ramfs_symlink`;
/// mode 0777 as Linux gives every symlink).
pub fn ramfs_symlink(dir: &InodeRef, name: &str, target: &str) -> Result<InodeRef, FsError> {
    mknod(dir, name, || Ok(new_inode(0o777, InodeKind::Symlink(target.to_string()))))
}

/// A new character device node `name` in `dir`, `major:minor` (Linux
/// `ramfs_mknod` with `S_IFCHR`, as `init_mknod` and devtmpfs make them).
pub fn ramfs_mknod_chr(dir: &InodeRef, name: &str, mode: u32, major: u32, minor: u32) -> Result<InodeRef, FsError> {
    mknod(dir, name, || Ok(new_inode(mode, InodeKind::CharDevice { major, minor })))
}

/// A further name `name` in `dir` for `inode` (Linux `vfs_link` +
/// `simple_link`): `EPERM` for a directory, `ENOENT` if the inode has no
/// name left (Linux refuses to resurrect an unlinked file, `vfs_link`'s
/// `i_nlink == 0` check), `EEXIST` if the name is taken.
pub fn simple_link(inode: &InodeRef, dir: &InodeRef, name: &str) -> Result<(), FsError> {
    if inode.is_dir() {
        return Err(FsError::NotPermitted);
    }
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    let _ns = NAMESPACE_LOCK.lock();
    let mut map = dir_map(dir)?.lock();
    if is_deaddir(dir) {
        return Err(FsError::NotFound);
    }
    if map.contains_key(name) {
        return Err(FsError::Exists);
    }
    if inode.nlink.load(Ordering::Relaxed) == 0 {
        return Err(FsError::NotFound);
    }
    d_add(dir, &mut map, name, inode.clone());
    Ok(())
}

/// Remove the name `name` from `dir` (Linux `vfs_unlink` +
/// `simple_unlink`): `EISDIR` for a directory (`may_delete`), `ENOENT`.
/// Returns the inode, which lives on while it is open.
pub fn simple_unlink(dir: &InodeRef, name: &str) -> Result<InodeRef, FsError> {
    let _ns = NAMESPACE_LOCK.lock();
    let victim = simple_lookup(dir, name)?;
    if victim.is_dir() {
        return Err(FsError::IsADirectory);
    }
    let mut map = dir_map(dir)?.lock();
    Ok(d_delete(dir, &mut map, name).expect("looked up under the namespace lock"))
}

/// Whether directory `dir` has no entries (Linux `simple_empty`).
fn simple_empty(dir: &Inode) -> bool {
    dir_map(dir).is_ok_and(|m| m.lock().is_empty())
}

/// Remove the empty directory `name` from `dir` (Linux `vfs_rmdir` +
/// `simple_rmdir`): `ENOTDIR` for anything else, `ENOTEMPTY`, `ENOENT`.
pub fn simple_rmdir(dir: &InodeRef, name: &str) -> Result<InodeRef, FsError> {
    let _ns = NAMESPACE_LOCK.lock();
    let victim = simple_lookup(dir, name)?;
    if !victim.is_dir() {
        return Err(FsError::NotADirectory);
    }
    if !simple_empty(&victim) {
        return Err(FsError::NotEmpty);
    }
    let mut map = dir_map(dir)?.lock();
    let old = d_delete(dir, &mut map, name).expect("looked up under the namespace lock");
    d_kill(&old);
    Ok(old)
}

/// `renameat2` flags (`include/uapi/linux/fs.h`).
pub const RENAME_NOREPLACE: u32 = 1;
/// Swap the two names (both must exist).
pub const RENAME_EXCHANGE: u32 = 2;
/// Leave a whiteout behind (overlay filesystems only).
pub const RENAME_WHITEOUT: u32 = 4;

/// One side of a rename: the directory, the last component's name, and
/// whether the path ended with a `/` (which asks for a directory).
pub struct RenameSide<'a> {
    pub dir: InodeRef,
    pub name: &'a str,
    pub slash: bool,
}

/// Is `anc` a strict ancestor of directory `d`? Returns the child of
/// `anc` on the way down to `d` (Linux `d_ancestor`), which `lock_rename`
/// hands back as the "trap".
fn d_ancestor(anc: &InodeRef, d: &InodeRef) -> Option<InodeRef> {
    let mut cur = d.clone();
    while let Some(p) = cur.parent() {
        if Arc::ptr_eq(&p, anc) {
            return Some(cur);
        }
        cur = p;
    }
    None
}

/// Rename `old` to `new` (Linux `do_renameat2`'s checks after its
/// lookups, `vfs_rename`, then `simple_rename`/`simple_rename_exchange`),
/// with Linux's answers in Linux's order:
///
/// * `ENOENT`: no source (or, with `RENAME_EXCHANGE`, no target);
/// * `EEXIST`: `RENAME_NOREPLACE` and the target exists;
/// * `ENOTDIR`: a trailing `/` on a non-directory;
/// * `EINVAL`: the source is an ancestor of the target's directory (a
///   directory into its own subtree);
/// * `ENOTEMPTY`: the target is an ancestor of the source (or a non-empty
///   directory being replaced);
/// * the same inode under both names (a rename to itself, or between two
///   hard links): 0 and nothing changes;
/// * `ENOTDIR` for a directory over a non-directory, `EISDIR` for a
///   non-directory over a directory (`may_delete`).
///
/// An existing target is replaced atomically: there is no moment when
/// neither name exists (all under [`NAMESPACE_LOCK`]).
pub fn simple_rename(old: &RenameSide, new: &RenameSide, flags: u32) -> Result<(), FsError> {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0)
    {
        return Err(FsError::Invalid); // do_renameat2's flag checks
    }
    if old.name.len() > NAME_MAX || new.name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    let _ns = NAMESPACE_LOCK.lock();
    // lock_rename(new_dir, old_dir): the trap, if one directory is above
    // the other.
    let trap = if Arc::ptr_eq(&old.dir, &new.dir) {
        None
    } else {
        d_ancestor(&old.dir, &new.dir).or_else(|| d_ancestor(&new.dir, &old.dir))
    };
    let source = simple_lookup(&old.dir, old.name)?;
    let target = match simple_lookup(&new.dir, new.name) {
        Ok(t) => Some(t),
        Err(FsError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let exchange = flags & RENAME_EXCHANGE != 0;
    if flags & RENAME_NOREPLACE != 0 && target.is_some() {
        return Err(FsError::Exists);
    }
    if exchange {
        let Some(t) = &target else { return Err(FsError::NotFound) };
        if !t.is_dir() && new.slash {
            return Err(FsError::NotADirectory);
        }
    }
    if !source.is_dir() && (old.slash || (!exchange && new.slash)) {
        return Err(FsError::NotADirectory);
    }
    if trap.as_ref().is_some_and(|t| Arc::ptr_eq(t, &source)) {
        return Err(FsError::Invalid); // the source is above the target
    }
    if let (Some(trap), Some(t)) = (&trap, &target)
        && Arc::ptr_eq(trap, t)
    {
        return Err(if exchange { FsError::Invalid } else { FsError::NotEmpty });
    }
    // vfs_rename.
    if let Some(t) = &target {
        if Arc::ptr_eq(t, &source) {
            return Ok(());
        }
        // may_delete(new_dir, target, is_dir of the source; of the target
        // itself for an exchange).
        let want_dir = if exchange { t.is_dir() } else { source.is_dir() };
        match (want_dir, t.is_dir()) {
            (true, false) => return Err(FsError::NotADirectory),
            (false, true) => return Err(FsError::IsADirectory),
            _ => {}
        }
        if !exchange && t.is_dir() && !simple_empty(t) {
            return Err(FsError::NotEmpty);
        }
    }
    // simple_rename: out of the old directory, over whatever held the new
    // name. Two maps at once: safe under NAMESPACE_LOCK (module header).
    let same_dir = Arc::ptr_eq(&old.dir, &new.dir);
    let mut old_map = dir_map(&old.dir)?.lock();
    let mut other = if same_dir { None } else { Some(dir_map(&new.dir)?.lock()) };
    let src = d_delete(&old.dir, &mut old_map, old.name).expect("looked up under the namespace lock");
    let new_map = other.as_deref_mut().unwrap_or(&mut old_map);
    let displaced = d_delete(&new.dir, new_map, new.name);
    d_add(&new.dir, new_map, new.name, src);
    match displaced {
        // Exchanged: the target takes the source's old name.
        Some(t) if exchange => d_add(&old.dir, &mut old_map, old.name, t),
        // Replaced: gone (alive only while open), an empty directory dead.
        Some(t) => d_kill(&t),
        None => {}
    }
    Ok(())
}

/// One entry for [`dcache_readdir`]'s caller: its name, inode number and
/// `d_type` (Linux's `DT_DIR` 4, `DT_REG` 8, `DT_LNK` 10).
pub struct Dirent<'a> {
    pub name: &'a str,
    pub ino: u32,
    pub d_type: u8,
}

/// Linux's `d_type` of an inode (`fs_umode_to_dtype`).
pub fn dt_type(inode: &Inode) -> u8 {
    match inode.kind {
        InodeKind::Regular(_) => 8,
        InodeKind::Directory(_) => 4,
        InodeKind::Symlink(_) => 10,
        InodeKind::CharDevice { .. } => 2,
        InodeKind::Pipe(_) => 1,
    }
}

/// Where a directory read stands (Linux keeps a cursor dentry in the
/// directory's list, `file->private_data`, so that entries removed or
/// added meanwhile do not shift it): `pos` is `f_pos` (0 before ".", 1
/// before "..", 2 + n before the n-th entry), and `after` the name of
/// the last entry given out, which the next call continues behind even
/// if the entries before it changed.
#[derive(Default, Clone)]
pub struct DirCursor {
    pub pos: usize,
    pub after: Option<String>,
}

/// Hand out the entries of directory `dir` from `cursor` on: "." and ".."
/// first (Linux `dir_emit_dots`), then the entries in name order, each to
/// `emit`, which returns false when it has no room (the entry is then not
/// consumed). Advances the cursor past every entry taken (Linux
/// `dcache_readdir`). `ENOTDIR` for anything else; a dead directory lists
/// only "." and ".." as Linux's does.
pub fn dcache_readdir(dir: &InodeRef, cursor: &mut DirCursor, mut emit: impl FnMut(&Dirent) -> bool) -> Result<(), FsError> {
    let map = dir_map(dir)?;
    if cursor.pos == 0 {
        if !emit(&Dirent { name: ".", ino: dir.ino, d_type: 4 }) {
            return Ok(());
        }
        cursor.pos = 1;
    }
    if cursor.pos == 1 {
        let up = dir.parent().map_or(dir.ino, |p| p.ino);
        if !emit(&Dirent { name: "..", ino: up, d_type: 4 }) {
            return Ok(());
        }
        cursor.pos = 2;
    }
    let map = map.lock();
    // Where to go on: behind the last name given out, or (after an lseek
    // that left no name) the (pos - 2)-th entry, as dcache_dir_lseek
    // moves the cursor.
    let mut entries: alloc::boxed::Box<dyn Iterator<Item = (&String, &InodeRef)>> = match &cursor.after {
        Some(after) => {
            use core::ops::Bound::{Excluded, Unbounded};
            alloc::boxed::Box::new(map.range::<str, _>((Excluded(after.as_str()), Unbounded)))
        }
        None => alloc::boxed::Box::new(map.iter().skip(cursor.pos - 2)),
    };
    for (name, inode) in &mut entries {
        if !emit(&Dirent { name, ino: inode.ino, d_type: dt_type(inode) }) {
            break;
        }
        cursor.pos += 1;
        cursor.after = Some(name.clone());
    }
    Ok(())
}
