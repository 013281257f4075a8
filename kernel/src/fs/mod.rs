//! Files: a tiny VFS core and the one filesystem behind it, ramfs (Linux
//! `fs/`).
//!
//! ```text
//!  boot module (cpio newc)        initramfs.rs: populate_rootfs()
//!        | boot::initramfs::entries (checked, no allocation)
//!        v
//!  rootfs(): a Ramfs            this file: inodes, directories, path lookup
//!    /            Directory     (namei: lookup, lookup_nofollow)
//!    /data        Directory
//!    /data/big    Regular  -->  ramfs.rs: FilePages, the page cache
//!    /link        Symlink         (mm/filemap.rs): GFP_HIGHUSER_MOVABLE
//!                                 pages by index, holes read as zeros,
//!                                 copied only through temporary maps
//! ```
//!
//! Linux splits this into the dentry cache, inodes and a filesystem's
//! operations; with one in-memory filesystem, an inode here holds its
//! contents directly and a directory is a sorted map from names to inodes.
//! Inodes are reference-counted ([`InodeRef`] is an `Arc`): a hard link is
//! a second name for the same `Arc`, and a file's pages are freed when its
//! last name and last user are gone.
//!
//! Beside the filesystem: `read_write.rs` (the `write` system call; fds
//! 0-2 are the console), `binfmt_elf.rs` (loading a static ELF) and
//! `exec.rs` (the new address space and Linux's initial stack); `pipe.rs`
//! (pipes whose buffers are highmem pages), `fcntl.rs` (`dup*`, `fcntl`)
//! and `char_dev.rs` (`/dev`: null, zero, tty, console).
//!
//! What a later issue builds on: [`Inode::read_pages`] hands out the file
//! one kmap_local-mapped page at a time, so `read()` copies straight from
//! the mapped page into the user's buffer; errors are Linux errno values
//! ([`FsError::errno`]).

pub mod binfmt_elf;
pub mod char_dev;
pub mod exec;
pub mod fcntl;
pub mod file;
pub mod d_path;
pub mod initramfs;
pub mod ioctl;
pub mod libfs;
pub mod namei;
pub mod open;
pub mod pipe;
pub mod ramfs;
pub mod read_write;
pub mod select;
pub mod readdir;
pub mod stat;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use spin::Once;

use crate::locking::mutex::Mutex;
use ramfs::FilePages;

/// A reference to an inode: shared, counted; the inode lives while any
/// directory entry or user holds one.
pub type InodeRef = Arc<Inode>;

/// Why a file operation failed, with Linux's errno for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsError {
    /// `ENOENT`: no such file or directory.
    NotFound,
    /// `ENOTDIR`: a path component is not a directory.
    NotADirectory,
    /// `EISDIR`: a directory where a file is needed.
    IsADirectory,
    /// `EINVAL`: the operation does not apply (reading a symlink's data).
    Invalid,
    /// `ELOOP`: more than [`MAXSYMLINKS`] symlinks on the way.
    TooManyLinks,
    /// `EEXIST`: the name is taken.
    Exists,
    /// `ENOTEMPTY`: a directory that still holds entries.
    NotEmpty,
    /// `ENOMEM`: no page for the data.
    NoMemory,
    /// `EFBIG`: the offset and length do not fit.
    FileTooBig,
    /// `ENAMETOOLONG`: a component longer than [`libfs::NAME_MAX`].
    NameTooLong,
    /// `EBUSY`: the root cannot be removed or renamed.
    Busy,
    /// `EPERM`: a hard link to a directory.
    NotPermitted,
    /// `EACCES`: the mode bits do not allow it (`access(X_OK)`).
    Access,
    /// `ETXTBSY`: writing a file a process is running (`exec.rs`,
    /// Linux's `deny_write_access`).
    TextBusy,
    /// `ENOSPC`: ramfs could not have a new inode (Linux `ramfs_mknod`:
    /// `error = -ENOSPC` when `ramfs_get_inode` returns NULL).
    NoSpace,
}

impl FsError {
    /// Linux's errno value (positive; system calls return `-errno`).
    pub const fn errno(self) -> i32 {
        match self {
            Self::NotFound => 2,
            Self::NoMemory => 12,
            Self::Exists => 17,
            Self::NotADirectory => 20,
            Self::IsADirectory => 21,
            Self::Invalid => 22,
            Self::FileTooBig => 27,
            Self::NotEmpty => 39,
            Self::TooManyLinks => 40,
            Self::NameTooLong => 36,
            Self::Busy => 16,
            Self::NotPermitted => 1,
            Self::Access => 13,
            Self::TextBusy => 26,
            Self::NoSpace => 28,
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "no such file or directory (ENOENT)",
            Self::NotADirectory => "not a directory (ENOTDIR)",
            Self::IsADirectory => "is a directory (EISDIR)",
            Self::Invalid => "invalid argument (EINVAL)",
            Self::TooManyLinks => "too many levels of symbolic links (ELOOP)",
            Self::Exists => "file exists (EEXIST)",
            Self::NotEmpty => "directory not empty (ENOTEMPTY)",
            Self::NoMemory => "out of memory (ENOMEM)",
            Self::FileTooBig => "file too large (EFBIG)",
            Self::NameTooLong => "file name too long (ENAMETOOLONG)",
            Self::Busy => "device or resource busy (EBUSY)",
            Self::NotPermitted => "operation not permitted (EPERM)",
            Self::TextBusy => "text file busy (ETXTBSY)",
            Self::Access => "permission denied (EACCES)",
            Self::NoSpace => "no space left on device (ENOSPC)",
        })
    }
}

/// How many symlinks one lookup may follow (Linux `MAXSYMLINKS`).
pub const MAXSYMLINKS: u32 = 40;

/// What an inode is and holds.
pub enum InodeKind {
    /// A regular file: its page cache, size and `i_rwsem` (locked inside).
    Regular(FilePages),
    /// A directory: names to inodes, sorted (so `readdir` is ordered).
    Directory(Mutex<BTreeMap<String, InodeRef>>),
    /// A symlink: its target, as stored.
    Symlink(String),
    /// A character device node (`S_IFCHR`), with Linux's device number:
    /// opening it reaches the driver (`char_dev.rs`), not these bytes.
    CharDevice { major: u32, minor: u32 },
    /// A pipe (Linux's pipefs inode with its `i_pipe`): in no directory,
    /// made by `pipe2`, read and written through its two open files.
    Pipe(Arc<pipe::PipeInodeInfo>),
}

/// One file (Linux `struct inode`, with ramfs's contents inside).
pub struct Inode {
    /// Inode number, unique in its filesystem.
    pub ino: u32,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// The contents.
    pub kind: InodeKind,
    /// How many names it has (Linux `i_nlink`, which `stat` reports): a
    /// file's links; a directory's 2 (its name and its `.`) plus one per
    /// subdirectory (their `..`), as Linux's ramfs keeps it. 0 once the last name is gone: the inode lives on while it is
    /// open (an `Arc` in a `File`), and a directory at 0 is dead (Linux
    /// `IS_DEADDIR`: nothing can be created or found in it).
    pub nlink: AtomicU32,
    /// A directory's parent (Linux's `d_parent`; a directory has exactly
    /// one name, so its inode can stand in for its dentry). Weak, or a
    /// directory and its parent would keep each other alive. `None` for the
    /// root and for other kinds.
    pub(crate) parent: crate::locking::SpinLock<Option<Weak<Inode>>>,
}

/// One entry of [`Inode::readdir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub ino: u32,
    pub file_type: boot::initramfs::FileType,
}

impl Inode {
    /// Regular file, directory or symlink.
    pub fn file_type(&self) -> boot::initramfs::FileType {
        use boot::initramfs::FileType;
        match self.kind {
            InodeKind::Regular(_) => FileType::Regular,
            InodeKind::Directory(_) => FileType::Directory,
            InodeKind::Symlink(_) => FileType::Symlink,
            InodeKind::CharDevice { .. } => FileType::CharDevice,
            InodeKind::Pipe(_) => FileType::Fifo,
        }
    }

    /// A device node's number `(major, minor)` (Linux `i_rdev`); `None`
    /// for anything else.
    pub fn rdev(&self) -> Option<(u32, u32)> {
        match self.kind {
            InodeKind::CharDevice { major, minor } => Some((major, minor)),
            _ => None,
        }
    }

    /// An inode that lives in no directory of the rootfs (a pipe's): its
    /// own inode number space, as Linux's pipefs has.
    pub fn new_anon(mode: u32, kind: InodeKind) -> InodeRef {
        Arc::new(Self::anon(mode, kind))
    }

    /// [`Inode::new_anon`] as a fallible allocation (mm/heap.rs; Linux
    /// `new_inode_pseudo`, which may return NULL).
    #[track_caller]
    pub fn try_new_anon(mode: u32, kind: InodeKind) -> Result<InodeRef, crate::mm::heap::AllocError> {
        crate::mm::heap::try_arc(Self::anon(mode, kind))
    }

    fn anon(mode: u32, kind: InodeKind) -> Inode {
        static NEXT_ANON_INO: AtomicU32 = AtomicU32::new(1);
        Inode {
            ino: NEXT_ANON_INO.fetch_add(1, Ordering::Relaxed),
            mode: mode & 0o7777,
            kind,
            nlink: AtomicU32::new(1),
            parent: crate::locking::SpinLock::new(None),
        }
    }

    /// Size in bytes: a file's length, a symlink's target length, and for
    /// a directory 0 (ramfs, like Linux's, has no directory size).
    pub fn size(&self) -> usize {
        match &self.kind {
            InodeKind::Regular(f) => f.size(),
            InodeKind::Directory(_) | InodeKind::CharDevice { .. } | InodeKind::Pipe(_) => 0,
            InodeKind::Symlink(t) => t.len(),
        }
    }

    /// The regular file's contents, or what is wrong: `EISDIR` for a
    /// directory, `EINVAL` for a symlink (as `read()`/`truncate()` give).
    pub fn file(&self) -> Result<&FilePages, FsError> {
        match &self.kind {
            InodeKind::Regular(f) => Ok(f),
            InodeKind::Directory(_) => Err(FsError::IsADirectory),
            InodeKind::Symlink(_) | InodeKind::CharDevice { .. } | InodeKind::Pipe(_) => Err(FsError::Invalid),
        }
    }

    /// Walk `[offset, offset + len)` of a regular file a page at a time;
    /// see [`FilePages::read_pages`]. `f` runs with a reference to the
    /// page (no lock) and the page mapped by kmap_local; it may sleep.
    pub fn read_pages(&self, offset: usize, len: usize, f: impl FnMut(&[u8]) -> usize) -> Result<usize, FsError> {
        self.file()?.read_pages(offset, len, f)
    }

    /// Copy up to `buf.len()` bytes from `offset` into `buf` (Linux
    /// `kernel_read`): the number copied, 0 at or past the end.
    /// `EISDIR` for a directory, `EINVAL` for a symlink, as `read()` gives.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<usize, FsError> {
        let mut done = 0;
        self.read_pages(offset, buf.len(), |chunk| {
            buf[done..done + chunk.len()].copy_from_slice(chunk);
            done += chunk.len();
            chunk.len()
        })
    }

    /// Write `data` at `offset` of a regular file.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), FsError> {
        self.file()?.write_at(offset, data)
    }

    /// Set a regular file's size (Linux `do_truncate`: `truncate`,
    /// `ftruncate`, `O_TRUNC`): shrinking frees the pages past the end and
    /// zeroes the tail of the last one, growing makes a hole. `EISDIR`,
    /// `EINVAL` for other kinds, `EFBIG` past ramfs's largest size.
    pub fn truncate(&self, size: u64) -> Result<(), FsError> {
        self.file()?.truncate(size)
    }

    /// A file's pages: how many, and how many of them are highmem.
    pub fn page_counts(&self) -> (usize, usize) {
        match &self.kind {
            InodeKind::Regular(f) => (f.i_mapping.nrpages(), f.nr_highmem_pages()),
            _ => (0, 0),
        }
    }

    /// The page frame numbers of a file's pages, in order (for tests and
    /// the console; empty for other kinds).
    pub fn page_pfns(&self) -> Vec<usize> {
        match &self.kind {
            InodeKind::Regular(f) => f.pages().iter().map(|p| crate::mm::page_alloc::page_to_pfn(p)).collect(),
            _ => Vec::new(),
        }
    }

    /// A symlink's target.
    pub fn symlink_target(&self) -> Option<&str> {
        match &self.kind {
            InodeKind::Symlink(t) => Some(t),
            _ => None,
        }
    }

    /// A directory's entries in name order, without `.` and `..` (the
    /// `getdents` layer adds those, as Linux's `dir_emit_dots` does).
    /// `ENOTDIR` for anything else.
    pub fn readdir(&self) -> Result<Vec<DirEntry>, FsError> {
        let InodeKind::Directory(d) = &self.kind else { return Err(FsError::NotADirectory) };
        Ok(d.lock()
            .iter()
            .map(|(name, i)| DirEntry { name: name.clone(), ino: i.ino, file_type: i.file_type() })
            .collect())
    }

    /// The child called `name` of this directory.
    pub fn child(&self, name: &str) -> Result<InodeRef, FsError> {
        let InodeKind::Directory(d) = &self.kind else { return Err(FsError::NotADirectory) };
        d.lock().get(name).cloned().ok_or(FsError::NotFound)
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Directory(_))
    }

    /// A directory's parent (the root's is `None`; so is a dead
    /// directory's once its old parent is gone too).
    pub fn parent(&self) -> Option<InodeRef> {
        self.parent.lock().as_ref().and_then(Weak::upgrade)
    }

    /// Cut a regular file to nothing (`O_TRUNC`); nothing for other kinds.
    pub fn truncate_to_zero(&self) {
        if let InodeKind::Regular(f) = &self.kind {
            let _ = f.truncate(0);
        }
    }
}

/// One ramfs instance (Linux's superblock): a root directory. The
/// kernel's is [`rootfs`]; tests make their own and drop them, which frees
/// every page. Inode numbers come from one counter for all of them
/// ([`libfs::get_next_ino`], as Linux's ramfs uses `get_next_ino()`).
pub struct Ramfs {
    root: InodeRef,
}

impl Default for Ramfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Ramfs {
    /// An empty filesystem: a root directory, mode 0755 (its parent is
    /// itself, as Linux's root dentry is its own `d_parent`).
    pub fn new() -> Self {
        let root = libfs::new_inode(0o755, InodeKind::Directory(Mutex::new(BTreeMap::new())));
        root.nlink.store(2, Ordering::Relaxed);
        Self { root }
    }

    /// The root directory.
    pub fn root(&self) -> &InodeRef {
        &self.root
    }

    /// Where a walk in this filesystem starts: its root, both as `/` and as
    /// the current directory (kernel callers have no other).
    pub fn base(&self) -> namei::Base {
        namei::Base { root: self.root.clone(), cwd: self.root.clone() }
    }

    /// Resolve `path` from the root, following every symlink (Linux
    /// `kern_path(path, LOOKUP_FOLLOW)`). Relative paths start at the root
    /// too (a process's own lookups start at its cwd: [`namei::Base`]).
    pub fn namei(&self, path: &str) -> Result<InodeRef, FsError> {
        namei::path_lookupat(&self.base(), path, namei::LOOKUP_FOLLOW)
    }

    /// As [`Self::namei`], but a symlink as the last component is
    /// returned itself (`lstat`, `O_NOFOLLOW`).
    pub fn namei_nofollow(&self, path: &str) -> Result<InodeRef, FsError> {
        namei::path_lookupat(&self.base(), path, 0)
    }

    /// The directory that would hold `path`, and the last component's name
    /// (`None` for the root itself, `.` or `..`).
    fn parent_of<'p>(&self, path: &'p str) -> Result<(InodeRef, Option<&'p str>), FsError> {
        let p = namei::path_parentat(&self.base(), path)?;
        Ok((p.dir, (p.kind == namei::LastType::Norm).then_some(p.name)))
    }

    /// Make room for `name` in `dir` as Linux's initramfs `clean_path`
    /// does before it creates a name: an existing entry of another kind
    /// goes (an empty directory or a non-directory); a directory with
    /// entries stays, and the creation then fails (`ENOTEMPTY`).
    fn clean_path(dir: &InodeRef, name: &str, keep: impl Fn(&Inode) -> bool) -> Result<Option<InodeRef>, FsError> {
        match libfs::simple_lookup(dir, name) {
            Ok(old) if keep(&old) => Ok(Some(old)),
            Ok(old) if old.is_dir() => libfs::simple_rmdir(dir, name).map(|_| None),
            Ok(_) => libfs::simple_unlink(dir, name).map(|_| None),
            Err(FsError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Make directory `path` (Linux `init_mkdir`). An existing directory
    /// is kept as it is (`EEXIST`, which initramfs ignores).
    pub fn mkdir(&self, path: &str, mode: u32) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        if Self::clean_path(&dir, name, Inode::is_dir)?.is_some() {
            return Err(FsError::Exists);
        }
        libfs::ramfs_mkdir(&dir, name, mode)
    }

    /// Create (or truncate, `O_CREAT | O_TRUNC`) the regular file `path`.
    /// Anything else of that name is replaced (unless it is a directory
    /// with entries: `ENOTEMPTY`).
    pub fn create(&self, path: &str, mode: u32) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::IsADirectory) };
        if let Some(old) = Self::clean_path(&dir, name, |i| matches!(i.kind, InodeKind::Regular(_)))? {
            old.truncate(0)?;
            return Ok(old);
        }
        libfs::ramfs_create(&dir, name, mode)
    }

    /// Make `path` a symlink to `target` (Linux `init_symlink`, after
    /// `clean_path`).
    pub fn symlink(&self, path: &str, target: &str) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        Self::clean_path(&dir, name, |_| false)?;
        libfs::ramfs_symlink(&dir, name, target)
    }

    /// Make `path` a character device node `major:minor` (Linux
    /// `init_mknod` / `vfs_mknod` with `S_IFCHR`); an existing entry that
    /// is not a directory with entries is replaced, as for the other kinds.
    pub fn mknod_chr(&self, path: &str, mode: u32, major: u32, minor: u32) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        Self::clean_path(&dir, name, |_| false)?;
        libfs::ramfs_mknod_chr(&dir, name, mode, major, minor)
    }

    /// Give `inode` a further name `path` (Linux `init_link`: a hard link).
    pub fn link(&self, inode: &InodeRef, path: &str) -> Result<(), FsError> {
        if inode.is_dir() {
            return Err(FsError::IsADirectory); // Linux: EPERM for directories
        }
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        Self::clean_path(&dir, name, |_| false)?;
        libfs::simple_link(inode, &dir, name)
    }
}

static ROOTFS: Once<Ramfs> = Once::new();

/// The kernel's root filesystem (Linux's rootfs, a ramfs that the
/// initramfs is unpacked into).
pub fn rootfs() -> &'static Ramfs {
    ROOTFS.call_once(Ramfs::new)
}

/// The inode at `path` in [`rootfs`], following symlinks; `None` if there
/// is none (use [`Ramfs::namei`] for the reason).
pub fn lookup(path: &str) -> Option<InodeRef> {
    rootfs().namei(path).ok()
}

/// Read from `inode` at `offset` into `buf`: the bytes copied (0 at the
/// end, or for something that is not a regular file: see
/// [`Inode::read_at`] for the error).
pub fn read_at(inode: &Inode, offset: usize, buf: &mut [u8]) -> usize {
    inode.read_at(offset, buf).unwrap_or(0)
}

/// The size of `inode` in bytes.
pub fn size(inode: &Inode) -> usize {
    inode.size()
}

/// The entries of directory `inode` (empty for anything else: see
/// [`Inode::readdir`] for the error).
pub fn readdir(inode: &Inode) -> Vec<DirEntry> {
    inode.readdir().unwrap_or_default()
}
