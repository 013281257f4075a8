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
//!    /data/big    Regular  -->  ramfs.rs: FilePages, a list of
//!    /link        Symlink         GFP_HIGHUSER pages, read and written
//!                                 only through kmap_local_page
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
//! `exec.rs` (the new address space and Linux's initial stack).
//!
//! What a later issue builds on: [`Inode::read_pages`] hands out the file
//! one kmap_local-mapped page at a time, so `read()` copies straight from
//! the mapped page into the user's buffer; errors are Linux errno values
//! ([`FsError::errno`]).

pub mod binfmt_elf;
pub mod exec;
pub mod file;
pub mod initramfs;
pub mod ioctl;
pub mod open;
pub mod ramfs;
pub mod read_write;
pub mod select;
pub mod stat;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
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
        })
    }
}

/// How many symlinks one lookup may follow (Linux `MAXSYMLINKS`).
pub const MAXSYMLINKS: u32 = 40;

/// What an inode is and holds.
pub enum InodeKind {
    /// A regular file: its pages.
    Regular(Mutex<FilePages>),
    /// A directory: names to inodes, sorted (so `readdir` is ordered).
    Directory(Mutex<BTreeMap<String, InodeRef>>),
    /// A symlink: its target, as stored.
    Symlink(String),
}

/// One file (Linux `struct inode`, with ramfs's contents inside).
pub struct Inode {
    /// Inode number, unique in its filesystem.
    pub ino: u32,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// How many directory entries name it (Linux `i_nlink`): a file's
    /// names (hard links count); a directory's `.`, its entry in its
    /// parent, and each subdirectory's `..` (2 + subdirectories), kept as
    /// Linux's ramfs keeps it (`inc_nlink` in `ramfs_mkdir`). `stat`
    /// reports it.
    pub nlink: AtomicU32,
    /// The contents.
    pub kind: InodeKind,
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
        }
    }

    /// Size in bytes: a file's length, a symlink's target length, and for
    /// a directory 0 (ramfs, like Linux's, has no directory size).
    pub fn size(&self) -> usize {
        match &self.kind {
            InodeKind::Regular(f) => f.lock().size(),
            InodeKind::Directory(_) => 0,
            InodeKind::Symlink(t) => t.len(),
        }
    }

    /// The regular file's contents, or what is wrong.
    fn file(&self) -> Result<&Mutex<FilePages>, FsError> {
        match &self.kind {
            InodeKind::Regular(f) => Ok(f),
            InodeKind::Directory(_) => Err(FsError::IsADirectory),
            InodeKind::Symlink(_) => Err(FsError::Invalid),
        }
    }

    /// Walk `[offset, offset + len)` of a regular file a page at a time;
    /// see [`FilePages::read_pages`]. `f` runs with the file's lock held
    /// and the page mapped by kmap_local; both may sleep.
    pub fn read_pages(&self, offset: usize, len: usize, f: impl FnMut(&[u8]) -> usize) -> Result<usize, FsError> {
        Ok(self.file()?.lock().read_pages(offset, len, f))
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
        self.file()?.lock().write_at(offset, data)
    }

    /// A file's pages: how many, and how many of them are highmem.
    pub fn page_counts(&self) -> (usize, usize) {
        match &self.kind {
            InodeKind::Regular(f) => {
                let f = f.lock();
                (f.pages().len(), f.nr_highmem_pages())
            }
            _ => (0, 0),
        }
    }

    /// The page frame numbers of a file's pages, in order (for tests and
    /// the console; empty for other kinds).
    pub fn page_pfns(&self) -> Vec<usize> {
        match &self.kind {
            InodeKind::Regular(f) => f.lock().pages().iter().map(|p| crate::mm::page_alloc::page_to_pfn(p)).collect(),
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

    /// Whether this is a directory with no entries.
    fn is_empty_dir(&self) -> bool {
        matches!(&self.kind, InodeKind::Directory(d) if d.lock().is_empty())
    }
}

/// One ramfs instance (Linux's superblock): a root directory and the
/// inode-number counter. The kernel's is [`rootfs`]; tests make their own
/// and drop them, which frees every page.
pub struct Ramfs {
    root: InodeRef,
    next_ino: AtomicU32,
}

impl Default for Ramfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Ramfs {
    /// An empty filesystem: a root directory, mode 0755, inode 1.
    pub fn new() -> Self {
        let root = Arc::new(Inode {
            ino: 1,
            mode: 0o755,
            nlink: AtomicU32::new(2), // "." and its own ".." (the root is its own parent)
            kind: InodeKind::Directory(Mutex::new(BTreeMap::new())),
        });
        Self { root, next_ino: AtomicU32::new(2) }
    }

    /// The root directory.
    pub fn root(&self) -> &InodeRef {
        &self.root
    }

    fn new_inode(&self, mode: u32, kind: InodeKind) -> InodeRef {
        // No names yet: `insert` counts each (and a directory's own ".").
        let nlink = AtomicU32::new(matches!(kind, InodeKind::Directory(_)) as u32);
        Arc::new(Inode { ino: self.next_ino.fetch_add(1, Ordering::Relaxed), mode: mode & 0o7777, nlink, kind })
    }

    /// Resolve `path` from the root, following every symlink (Linux
    /// `kern_path(path, LOOKUP_FOLLOW)`). Relative paths start at the root
    /// too: there is no current directory yet.
    pub fn namei(&self, path: &str) -> Result<InodeRef, FsError> {
        self.walk(path, true)
    }

    /// As [`Self::namei`], but a symlink as the last component is
    /// returned itself (`lstat`, `O_NOFOLLOW`).
    pub fn namei_nofollow(&self, path: &str) -> Result<InodeRef, FsError> {
        self.walk(path, false)
    }

    fn walk(&self, path: &str, follow_last: bool) -> Result<InodeRef, FsError> {
        if path.is_empty() {
            return Err(FsError::NotFound); // Linux: ENOENT for ""
        }
        let mut stack = alloc::vec![self.root.clone()];
        let mut links = 0;
        walk_from(&mut stack, path, follow_last, &mut links)?;
        Ok(stack.pop().expect("the walk keeps the root"))
    }

    /// The directory that would hold `path`, and the last component's name.
    /// `None` as the name for the root itself.
    fn parent_of<'p>(&self, path: &'p str) -> Result<(InodeRef, Option<&'p str>), FsError> {
        let comps: Vec<&str> = boot::initramfs::components(path).collect();
        let Some((last, dirs)) = comps.split_last() else { return Ok((self.root.clone(), None)) };
        let mut stack = alloc::vec![self.root.clone()];
        let mut links = 0;
        for d in dirs {
            walk_from(&mut stack, d, true, &mut links)?;
        }
        let dir = stack.pop().expect("the walk keeps the root");
        match dir.kind {
            InodeKind::Directory(_) => Ok((dir, Some(last))),
            _ => Err(FsError::NotADirectory),
        }
    }

    /// Put `inode` into the directory `dir` as `name`. An existing entry
    /// is replaced if `replace` allows it (an empty directory or a
    /// non-directory), as Linux's initramfs `clean_path` does before it
    /// creates a name.
    fn insert(dir: &Inode, name: &str, inode: InodeRef, replace: bool) -> Result<(), FsError> {
        let InodeKind::Directory(d) = &dir.kind else { return Err(FsError::NotADirectory) };
        let mut d = d.lock();
        if let Some(old) = d.get(name) {
            if !replace {
                return Err(FsError::Exists);
            }
            if matches!(old.kind, InodeKind::Directory(_)) && !old.is_empty_dir() {
                return Err(FsError::NotEmpty);
            }
        }
        // The link counts (Linux `inc_nlink`/`drop_nlink`): the new entry
        // names `inode` once more; a subdirectory's ".." names `dir`.
        inode.nlink.fetch_add(1, Ordering::Relaxed);
        if matches!(inode.kind, InodeKind::Directory(_)) {
            dir.nlink.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(old) = d.insert(name.to_string(), inode) {
            old.nlink.fetch_sub(1, Ordering::Relaxed);
            if matches!(old.kind, InodeKind::Directory(_)) {
                dir.nlink.fetch_sub(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Make directory `path` (Linux `init_mkdir`). An existing directory
    /// is kept as it is (`EEXIST`, which initramfs ignores).
    pub fn mkdir(&self, path: &str, mode: u32) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        if let Ok(old) = dir.child(name)
            && matches!(old.kind, InodeKind::Directory(_))
        {
            return Err(FsError::Exists);
        }
        let inode = self.new_inode(mode, InodeKind::Directory(Mutex::new(BTreeMap::new())));
        Self::insert(&dir, name, inode.clone(), true)?;
        Ok(inode)
    }

    /// Create (or truncate, `O_CREAT | O_TRUNC`) the regular file `path`.
    /// Anything else of that name is replaced (unless it is a directory
    /// with entries: `ENOTEMPTY`).
    pub fn create(&self, path: &str, mode: u32) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::IsADirectory) };
        if let Ok(old) = dir.child(name)
            && let InodeKind::Regular(f) = &old.kind
        {
            f.lock().truncate();
            return Ok(old);
        }
        let inode = self.new_inode(mode, InodeKind::Regular(Mutex::new(FilePages::new())));
        Self::insert(&dir, name, inode.clone(), true)?;
        Ok(inode)
    }

    /// Make `path` a symlink to `target` (Linux `init_symlink`, after
    /// `clean_path`).
    pub fn symlink(&self, path: &str, target: &str) -> Result<InodeRef, FsError> {
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        let inode = self.new_inode(0o777, InodeKind::Symlink(target.to_string()));
        Self::insert(&dir, name, inode.clone(), true)?;
        Ok(inode)
    }

    /// Give `inode` a further name `path` (Linux `init_link`: a hard link).
    pub fn link(&self, inode: &InodeRef, path: &str) -> Result<(), FsError> {
        if matches!(inode.kind, InodeKind::Directory(_)) {
            return Err(FsError::IsADirectory); // Linux: EPERM for directories
        }
        let (dir, name) = self.parent_of(path)?;
        let Some(name) = name else { return Err(FsError::Exists) };
        Self::insert(&dir, name, inode.clone(), true)
    }
}

/// Walk `path` from the directory on top of `stack` (the root if `path`
/// starts with `/`), pushing each inode reached; `..` pops (never past the
/// root). A symlink is followed, from the directory that holds it, unless
/// it is the last component and `follow_last` is false.
fn walk_from(stack: &mut Vec<InodeRef>, path: &str, follow_last: bool, links: &mut u32) -> Result<(), FsError> {
    if path.starts_with('/') {
        stack.truncate(1);
    }
    let mut comps = boot::initramfs::components(path).peekable();
    while let Some(c) = comps.next() {
        let last = comps.peek().is_none();
        if c == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let child = stack.last().expect("the walk keeps the root").child(c)?;
        if let InodeKind::Symlink(target) = &child.kind
            && (!last || follow_last)
        {
            *links += 1;
            if *links > MAXSYMLINKS {
                return Err(FsError::TooManyLinks);
            }
            walk_from(stack, target, true, links)?;
        } else {
            stack.push(child);
        }
    }
    // "dir/" and "dir/." need a directory, as in Linux.
    if (path.ends_with('/') || path.ends_with("/.")) && !matches!(stack.last().map(|i| &i.kind), Some(InodeKind::Directory(_))) {
        return Err(FsError::NotADirectory);
    }
    Ok(())
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
