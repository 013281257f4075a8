//! Open files and the per-process table of file descriptors (Linux
//! `struct file`, `struct files_struct`; `fs/file.c`, `fs/open.c`).
//!
//! ```text
//!  task.files:  fd 0 -> Console   (read: a line, tty.rs; write: the console)
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
    /// The `open` flags kept with the file (Linux `f_flags`): the access
    /// mode (`O_ACCMODE`), `O_APPEND`, `O_NONBLOCK`, ...; `O_CREAT`,
    /// `O_EXCL`, `O_TRUNC` and `O_NOCTTY` are dropped once open, as
    /// Linux's `do_dentry_open` does.
    pub flags: u32,
    /// Where `getdents64` stands in a directory (Linux keeps a cursor in
    /// `private_data`): see [`super::libfs::DirCursor`].
    pub dir_cursor: Mutex<super::libfs::DirCursor>,
}

/// The access modes and the flags kept after open (i386 values,
/// `include/uapi/asm-generic/fcntl.h`).
pub const O_ACCMODE: u32 = 3;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_APPEND: u32 = 0o2000;

impl File {
    /// A file open on `inode` with `flags`, at offset 0.
    pub fn new(inode: InodeRef, flags: u32) -> File {
        File { inode, pos: Mutex::new(0), flags, dir_cursor: Mutex::new(Default::default()) }
    }

    /// Opened for reading (Linux `FMODE_READ`): `O_RDONLY` or `O_RDWR`.
    /// `read` on a file without it is `EBADF`.
    pub fn can_read(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    /// Opened for writing (Linux `FMODE_WRITE`): `O_WRONLY` or `O_RDWR`.
    /// `write` on a file without it is `EBADF`.
    pub fn can_write(&self) -> bool {
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
