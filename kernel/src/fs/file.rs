//! Open files and the per-process table of file descriptors (Linux
//! `struct file`, `struct files_struct`; `fs/file.c`, `fs/open.c`).
//!
//! ```text
//!  task.files:  fd 0 -> Console   (read: end of file; write: the console)
//!               fd 1 -> Console
//!               fd 2 -> Console
//!               fd 3 -> File { inode (ramfs), pos }   <- open("/data/big.bin")
//! ```

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::InodeRef;
use crate::locking::Mutex;

/// Most descriptors a process may have open (Linux's default `RLIMIT_NOFILE`
/// soft limit is 1024).
pub const NR_OPEN: usize = 1024;

/// An open file (Linux `struct file`): which inode, and where the next
/// read starts (`f_pos`).
pub struct File {
    /// The file.
    pub inode: InodeRef,
    /// The offset of the next read or write.
    pub pos: Mutex<usize>,
    /// The flags `open` was given (Linux `f_flags`): the access mode
    /// ([`O_ACCMODE`]), [`O_APPEND`], [`O_LARGEFILE`].
    pub flags: u32,
}

/// `O_ACCMODE`: the access-mode bits of `f_flags` (`O_RDONLY` 0,
/// `O_WRONLY` 1, `O_RDWR` 2).
pub const O_ACCMODE: u32 = 3;
/// `O_WRONLY`.
pub const O_WRONLY: u32 = 1;
/// `O_RDWR`.
pub const O_RDWR: u32 = 2;
/// `O_APPEND`: every write goes to the end of the file (i386 value).
pub const O_APPEND: u32 = 0o2000;
/// `O_LARGEFILE`: the file may grow past 2 GiB - 1 (i386 value).
pub const O_LARGEFILE: u32 = 0o100000;

impl File {
    /// An open file at position 0.
    pub fn new(inode: InodeRef, flags: u32) -> Self {
        Self { inode, pos: Mutex::new(0), flags }
    }

    /// Opened for reading (Linux `FMODE_READ`)?
    pub fn readable(&self) -> bool {
        self.flags & O_ACCMODE != O_WRONLY
    }

    /// Opened for writing (Linux `FMODE_WRITE`)?
    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR)
    }
}

/// What a descriptor refers to.
#[derive(Clone)]
pub enum Fd {
    /// The serial console (fds 0, 1, 2 of every process so far).
    Console,
    /// An open file of the rootfs.
    File(Arc<File>),
}

/// A process's descriptors (Linux `files_struct`): index = fd. A forked
/// child gets a copy that shares the open files (and their positions).
#[derive(Clone)]
pub struct FdTable {
    fds: Vec<Option<Fd>>,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable { fds: alloc::vec![Some(Fd::Console), Some(Fd::Console), Some(Fd::Console)] }
    }
}

impl FdTable {
    /// What `fd` refers to (`None`: not open, Linux's `-EBADF`).
    pub fn get(&self, fd: i32) -> Option<Fd> {
        usize::try_from(fd).ok().and_then(|i| self.fds.get(i)).and_then(|f| f.clone())
    }

    /// Put `file` in the lowest free slot (Linux `get_unused_fd_flags` +
    /// `fd_install`); `None` when `NR_OPEN` are open (`-EMFILE`).
    pub fn install(&mut self, file: Fd) -> Option<i32> {
        let i = match self.fds.iter().position(|f| f.is_none()) {
            Some(i) => i,
            None if self.fds.len() < NR_OPEN => {
                self.fds.push(None);
                self.fds.len() - 1
            }
            None => return None,
        };
        self.fds[i] = Some(file);
        Some(i as i32)
    }

    /// Close `fd`; false if it was not open.
    pub fn close(&mut self, fd: i32) -> bool {
        match usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) {
            Some(slot @ Some(_)) => {
                *slot = None;
                true
            }
            _ => false,
        }
    }
}
