//! Open files and the per-process table of file descriptors (Linux
//! `struct file`, `struct files_struct`; `fs/file.c`, `fs/open.c`).
//!
//! ```text
//!  task.files:  fd 0 -> Console   (read: a line, tty.rs; write: the console)
//!               fd 1 -> Console
//!               fd 2 -> Console
//!               fd 3 -> File { inode (ramfs), pos, f_flags }  <- open("/data/big.bin")
//!               fd 4 -> File { pipe inode, O_RDONLY }   \  pipe(): one pipe inode,
//!               fd 5 -> File { pipe inode, O_WRONLY }   /  two struct files
//!               fd 6 -> the same Arc<File> as fd 3         <- dup(3): one position
//!  close_on_exec: a bit per fd (Linux fdt->close_on_exec), read by execve
//! ```
//!
//! A descriptor names a shared [`File`] (an `Arc`): `dup` and `fork` copy
//! the reference, not the file, so every copy shares the position and the
//! status flags (`F_SETFL`), as Linux's `struct file` is shared. The
//! close-on-exec flag belongs to the descriptor, not the file (`F_SETFD`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use super::{InodeKind, InodeRef};
use crate::errno::EMFILE;
use crate::locking::Mutex;

/// Most descriptors a process may have open (Linux's default `RLIMIT_NOFILE`
/// soft limit is 1024; ours is fixed, there is no `setrlimit`): `dup` and
/// `open` give `EMFILE` beyond it, `dup2` to an fd at or past it `EBADF`,
/// `F_DUPFD` from it `EINVAL`.
pub const NR_OPEN: usize = 1024;

// Status flags (`include/uapi/asm-generic/fcntl.h`, i386 values).
/// The access-mode bits.
pub const O_ACCMODE: u32 = 3;
/// Read only.
pub const O_RDONLY: u32 = 0;
/// Write only.
pub const O_WRONLY: u32 = 1;
/// Read and write.
pub const O_RDWR: u32 = 2;
/// Every write goes to the end.
pub const O_APPEND: u32 = 0o2000;
/// Reads and writes that would wait fail with `EAGAIN` instead.
pub const O_NONBLOCK: u32 = 0o4000;
/// The file may grow past 2 GiB - 1 (i386 value; without it `write`
/// stops at `EFBIG`).
pub const O_LARGEFILE: u32 = 0o100000;
/// For a pipe: packet mode (each write one buffer, each read one packet).
pub const O_DIRECT: u32 = 0o40000;
/// Not updating the access time (accepted, meaningless on ramfs).
pub const O_NOATIME: u32 = 0o1000000;
/// Close the descriptor at `execve` (a descriptor flag, not a file flag).
pub const O_CLOEXEC: u32 = 0o2000000;

/// The flags of the console's open file: fds 0-2 of every process are
/// copies of one open file, as in Linux, where init opens `/dev/console`
/// once and every process inherits it, so `F_SETFL` on one is seen through
/// all. (Linux gives a fresh `open("/dev/console")` a struct file of its
/// own; here it is this same one: a difference, see `char_dev.rs`.)
pub static CONSOLE_F_FLAGS: AtomicU32 = AtomicU32::new(O_RDWR);

/// An open file (Linux `struct file`): which inode, where the next read
/// starts (`f_pos`) and how it was opened (`f_flags`).
pub struct File {
    /// The file.
    pub inode: InodeRef,
    /// The offset of the next read or write.
    pub pos: Mutex<usize>,
    /// Linux's `f_flags`: the access mode (`O_RDONLY`, `O_WRONLY`,
    /// `O_RDWR`) and the status flags `O_APPEND`, `O_NONBLOCK`, ...
    /// (`F_GETFL`/`F_SETFL`). Shared by every descriptor of this file.
    /// `O_CREAT`, `O_EXCL`, `O_TRUNC` and `O_NOCTTY` are dropped once
    /// open, as Linux's `do_dentry_open` does.
    pub flags: AtomicU32,
    /// Where `getdents64` stands in a directory (Linux keeps a cursor in
    /// `private_data`): see [`super::libfs::DirCursor`].
    pub dir_cursor: Mutex<super::libfs::DirCursor>,
}

impl File {
    /// A new open file of `inode`, at offset 0 (Linux `alloc_file` +
    /// `do_dentry_open`, which drops the open-time-only flags).
    pub fn new(inode: InodeRef, flags: u32) -> Arc<File> {
        Arc::new(Self::init(inode, flags))
    }

    /// [`File::new`] as a fallible allocation (mm/heap.rs: Linux
    /// `alloc_empty_file`'s kmem_cache_zalloc), for the system calls that
    /// open files: the caller returns `-ENOMEM`.
    #[track_caller]
    pub fn try_new(inode: InodeRef, flags: u32) -> Result<Arc<File>, crate::mm::heap::AllocError> {
        crate::mm::heap::try_arc(Self::init(inode, flags))
    }

    fn init(inode: InodeRef, flags: u32) -> File {
        const OPEN_ONLY: u32 = 0o100 | 0o200 | 0o400 | 0o1000 | O_CLOEXEC; // O_CREAT O_EXCL O_NOCTTY O_TRUNC
        File {
            inode,
            pos: Mutex::new(0),
            flags: AtomicU32::new(flags & !OPEN_ONLY),
            dir_cursor: Mutex::new(Default::default()),
        }
    }

    /// `f_flags`.
    pub fn f_flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Opened for reading (Linux `FMODE_READ`): `O_RDONLY` or `O_RDWR`.
    /// Access mode 3 is neither, as Linux's `OPEN_FMODE` makes it: `read`
    /// and `write` on it are both `EBADF`.
    pub fn readable(&self) -> bool {
        matches!(self.f_flags() & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    /// Opened for writing (Linux `FMODE_WRITE`): `O_WRONLY` or `O_RDWR`.
    pub fn writable(&self) -> bool {
        matches!(self.f_flags() & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    /// `O_NONBLOCK` set?
    pub fn nonblock(&self) -> bool {
        self.f_flags() & O_NONBLOCK != 0
    }
}

impl Drop for File {
    /// The last descriptor of this open file is gone (Linux `__fput` ->
    /// `f_op->release`): a pipe end counts one reader or writer less and
    /// wakes whoever waits for that (`pipe_release`). This may run with
    /// the descriptor table's spinlock held, so nothing here sleeps.
    fn drop(&mut self) {
        if let InodeKind::Pipe(pipe) = &self.inode.kind {
            pipe.release(self.readable(), self.writable());
        }
    }
}

/// What a descriptor refers to.
#[derive(Clone)]
pub enum Fd {
    /// The serial console (fds 0, 1, 2 of every process, and
    /// `/dev/console`, `/dev/tty`).
    Console,
    /// An open file: of the rootfs, a pipe end, or a device such as
    /// `/dev/null`.
    File(Arc<File>),
}

impl Fd {
    /// `f_flags` (`F_GETFL`).
    pub fn f_flags(&self) -> u32 {
        match self {
            Fd::Console => CONSOLE_F_FLAGS.load(Ordering::Relaxed),
            Fd::File(f) => f.f_flags(),
        }
    }

    /// Replace the status flags in `mask` with those of `flags` (`F_SETFL`).
    pub fn set_status_flags(&self, mask: u32, flags: u32) {
        let cell = match self {
            Fd::Console => &CONSOLE_F_FLAGS,
            Fd::File(f) => &f.flags,
        };
        // fetch_update: a concurrent F_SETFL on a dup of this file loses
        // nothing (Linux takes f_lock).
        let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| Some((flags & mask) | (old & !mask)));
    }
}

/// Open `inode` with open(2)'s `flags` (Linux `do_dentry_open`, with
/// `chrdev_open` for device nodes): the descriptor's target, or `-errno`.
pub fn do_dentry_open(inode: InodeRef, flags: u32) -> Result<Fd, i32> {
    if let InodeKind::CharDevice { major, minor } = inode.kind {
        return super::char_dev::chrdev_open(inode, major, minor, flags);
    }
    // Linux `alloc_empty_file`: a failed kmem_cache_zalloc is -ENOMEM.
    File::try_new(inode, flags).map(Fd::File).map_err(|e| -e.errno())
}

/// A process's descriptors (Linux `files_struct`): index = fd. A forked
/// child gets a copy that shares the open files (and their positions).
#[derive(Clone)]
pub struct FdTable {
    fds: Vec<Option<Fd>>,
    /// Close-on-exec, one flag per descriptor (Linux `fdt->close_on_exec`).
    close_on_exec: Vec<bool>,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable { fds: alloc::vec![Some(Fd::Console), Some(Fd::Console), Some(Fd::Console)], close_on_exec: alloc::vec![false; 3] }
    }
}

impl FdTable {
    /// A table with no descriptor at all (what a process leaves behind).
    pub const fn empty() -> Self {
        FdTable { fds: Vec::new(), close_on_exec: Vec::new() }
    }

    /// What `fd` refers to (`None`: not open, Linux's `-EBADF`).
    pub fn get(&self, fd: i32) -> Option<Fd> {
        usize::try_from(fd).ok().and_then(|i| self.fds.get(i)).and_then(|f| f.clone())
    }

    /// A copy for a forked child (Linux `dup_fd`), sharing the open
    /// files; `AllocError` (fork's `-ENOMEM`) if the new table cannot be
    /// had: a fallible allocation (mm/heap.rs), the references taken so
    /// far dropped with the half-made copy.
    pub fn try_clone(&self) -> Result<FdTable, crate::mm::heap::AllocError> {
        use crate::mm::heap::try_to_vec;
        Ok(FdTable { fds: try_to_vec(&self.fds)?, close_on_exec: try_to_vec(&self.close_on_exec)? })
    }

    /// Grow the table to hold descriptor `fd` (Linux `expand_files` ->
    /// `expand_fdtable`): a fallible allocation, `-ENOMEM` if it cannot be
    /// had, and then the table is as it was.
    ///
    /// As Linux's `alloc_fdtable`, both arrays are made anew (sized to a
    /// power of two) before either replaces the old: a failure of the
    /// second frees the first, and the table keeps its old size.
    #[track_caller]
    fn expand_files(&mut self, fd: usize) -> Result<(), i32> {
        use crate::mm::heap::try_vec_with_capacity;
        if fd < self.fds.len() {
            return Ok(());
        }
        if fd >= self.fds.capacity() || fd >= self.close_on_exec.capacity() {
            let nr = (fd + 1).next_power_of_two();
            let mut fds = try_vec_with_capacity(nr).map_err(|e| -e.errno())?;
            let mut close_on_exec = try_vec_with_capacity(nr).map_err(|e| -e.errno())?;
            // Linux `copy_fdtable`: the entries move over.
            fds.append(&mut self.fds);
            close_on_exec.append(&mut self.close_on_exec);
            self.fds = fds;
            self.close_on_exec = close_on_exec;
        }
        self.fds.resize(fd + 1, None);
        self.close_on_exec.resize(fd + 1, false);
        Ok(())
    }

    /// Put `file` in the lowest free slot (Linux `get_unused_fd_flags` +
    /// `fd_install`); `Err(-EMFILE)` when `NR_OPEN` are open, `Err(-ENOMEM)`
    /// when the table cannot grow.
    pub fn install(&mut self, file: Fd) -> Result<i32, i32> {
        self.alloc_fd(0, file, false)
    }

    /// Put `file` in the lowest free slot at or above `start`, with its
    /// close-on-exec flag (Linux `alloc_fd`); `Err(-EMFILE)` if there is
    /// none below `NR_OPEN`, `Err(-ENOMEM)` if the table must grow and
    /// cannot (`expand_files`). On an error `file` is dropped.
    pub fn alloc_fd(&mut self, start: usize, file: Fd, cloexec: bool) -> Result<i32, i32> {
        let i = (start..NR_OPEN).find(|&i| self.fds.get(i).is_none_or(|f| f.is_none())).ok_or(-EMFILE)?;
        self.expand_files(i)?;
        self.fds[i] = Some(file);
        self.close_on_exec[i] = cloexec;
        Ok(i as i32)
    }

    /// Put `file` at descriptor `fd` (< `NR_OPEN`), whatever was there
    /// (Linux `do_dup2`); returns what was there, for the caller to drop
    /// once the table's lock is released; `Err(-ENOMEM)` if the table must
    /// grow and cannot (Linux `ksys_dup3` -> `expand_files`), nothing changed.
    pub fn replace(&mut self, fd: usize, file: Fd, cloexec: bool) -> Result<Option<Fd>, i32> {
        assert!(fd < NR_OPEN, "fd {fd} past NR_OPEN");
        self.expand_files(fd)?;
        self.close_on_exec[fd] = cloexec;
        Ok(self.fds[fd].replace(file))
    }

    /// Close `fd`; false if it was not open.
    pub fn close(&mut self, fd: i32) -> bool {
        self.take(fd).is_some()
    }

    /// Close `fd` and hand back what it referred to (Linux
    /// `pick_file`), so the caller can drop it outside the lock.
    pub fn take(&mut self, fd: i32) -> Option<Fd> {
        let i = usize::try_from(fd).ok()?;
        let f = self.fds.get_mut(i)?.take()?;
        self.close_on_exec[i] = false;
        Some(f)
    }

    /// The close-on-exec flag of `fd` (`F_GETFD`); `None` if not open.
    pub fn get_cloexec(&self, fd: i32) -> Option<bool> {
        self.get(fd)?;
        Some(self.close_on_exec[fd as usize])
    }

    /// Set or clear the close-on-exec flag of `fd` (`F_SETFD`); false if
    /// it is not open.
    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> bool {
        if self.get(fd).is_none() {
            return false;
        }
        self.close_on_exec[fd as usize] = on;
        true
    }

    /// Close every descriptor marked close-on-exec (Linux
    /// `do_close_on_exec`); their files, for the caller to drop.
    pub fn take_close_on_exec(&mut self) -> Vec<Fd> {
        let marked: Vec<i32> = (0..self.fds.len()).filter(|&i| self.close_on_exec[i]).map(|i| i as i32).collect();
        marked.into_iter().filter_map(|fd| self.take(fd)).collect()
    }
}

/// At the point of no return of `execve`: close the current process's
/// close-on-exec descriptors (Linux `begin_new_exec` -> `do_close_on_exec`).
pub fn do_close_on_exec() {
    let closed = crate::sched::current().files.lock().take_close_on_exec();
    drop(closed); // outside the table's lock
}

/// A process is ending (Linux `do_exit` -> `exit_files`): every descriptor
/// goes, so a pipe's reader sees end of file as soon as its last writer
/// has exited, not when the writer is reaped.
pub fn exit_files() {
    let table = core::mem::replace(&mut *crate::sched::current().files.lock(), FdTable::empty());
    drop(table);
}

// ---------------------------------------------------------------------
// The file_operations dispatch for pipes and device nodes (added with
// pipes and /dev). `read_write.rs` asks these first; `None` means "an
// ordinary file or the console: carry on as before".
// ---------------------------------------------------------------------

/// Linux `access_ok`: does `[buf, buf + count)` lie below `TASK_SIZE`?
/// `vfs_read`/`vfs_write` check it before anything else can wait.
fn access_ok(buf: usize, count: usize) -> bool {
    buf.checked_add(count).is_some_and(|end| end <= mm::layout::TASK_SIZE)
}

/// `read()` of `file` if it is a pipe or a device (Linux `vfs_read` ->
/// `f_op->read`): `Some(result)`. Also the check every open file gets:
/// `EBADF` if it was not opened for reading.
pub fn dispatch_read(file: &Fd, buf: usize, count: usize) -> Option<i32> {
    let Fd::File(f) = file else { return None };
    if !f.readable() {
        return Some(-crate::errno::EBADF);
    }
    let special = matches!(f.inode.kind, InodeKind::Pipe(_) | InodeKind::CharDevice { .. });
    if special && !access_ok(buf, count) {
        return Some(-crate::errno::EFAULT);
    }
    match &f.inode.kind {
        InodeKind::Pipe(pipe) => Some(pipe.read(f, buf, count)),
        InodeKind::CharDevice { major, minor } => Some(super::char_dev::chrdev_read(*major, *minor, buf, count)),
        _ => None,
    }
}

/// `write()` of `file` if it is a pipe or a device: `Some(result)`; and
/// `EBADF` for any file not opened for writing.
pub fn dispatch_write(file: &Fd, buf: usize, count: usize) -> Option<i32> {
    let Fd::File(f) = file else { return None };
    if !f.writable() {
        return Some(-crate::errno::EBADF);
    }
    let special = matches!(f.inode.kind, InodeKind::Pipe(_) | InodeKind::CharDevice { .. });
    if special && !access_ok(buf, count) {
        return Some(-crate::errno::EFAULT);
    }
    match &f.inode.kind {
        InodeKind::Pipe(pipe) => Some(pipe.write(f, buf, count)),
        // Past access_ok, write_null does not look at the buffer: a NULL
        // one "writes" too, as on Linux.
        InodeKind::CharDevice { major, minor } => Some(super::char_dev::chrdev_write(*major, *minor, buf, count)),
        _ => None,
    }
}

/// `lseek()` of a pipe (`ESPIPE`, Linux `no_llseek`) or a memory device
/// (the position stays 0: Linux `null_lseek`): `Some(result)`.
pub fn dispatch_lseek(file: &Fd) -> Option<i32> {
    let Fd::File(f) = file else { return None };
    match &f.inode.kind {
        InodeKind::Pipe(_) => Some(-crate::errno::ESPIPE),
        InodeKind::CharDevice { .. } => {
            *f.pos.lock() = 0;
            Some(0)
        }
        _ => None,
    }
}
