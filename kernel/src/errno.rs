//! Error numbers, as Linux numbers them (`include/uapi/asm-generic/errno-base.h`
//! and `errno.h`): a system call fails by returning `-errno`, and user
//! programs compare with these very values.

/// Operation not permitted.
pub const EPERM: i32 = 1;
/// No such file or directory.
pub const ENOENT: i32 = 2;
/// No such process (set_thread_area: no free TLS entry).
pub const ESRCH: i32 = 3;
/// Interrupted system call: a signal's handler ran while the call slept.
pub const EINTR: i32 = 4;
/// I/O error (a read of the console by a process not in its foreground).
pub const EIO: i32 = 5;
/// Argument list too long.
pub const E2BIG: i32 = 7;
/// Exec format error: not a program this kernel can run.
pub const ENOEXEC: i32 = 8;
/// No child processes.
pub const ECHILD: i32 = 10;
/// Not a typewriter: an ioctl the file does not know (Linux's drivers say
/// `-ENOIOCTLCMD`, which the VFS turns into this).
pub const ENOTTY: i32 = 25;
/// No such device or address (a device node with no driver).
pub const ENXIO: i32 = 6;
/// Bad file number.
pub const EBADF: i32 = 9;
/// Try again: a non-blocking read or write that would wait.
pub const EAGAIN: i32 = 11;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Permission denied (exec of something that is not a regular file).
pub const EACCES: i32 = 13;
/// Bad address: a user pointer the kernel could not use.
pub const EFAULT: i32 = 14;
/// Not a directory (a path component that is a file).
pub const ENOTDIR: i32 = 20;
/// Is a directory.
pub const EISDIR: i32 = 21;
/// No such device: a file that cannot be mapped (yet).
pub const ENODEV: i32 = 19;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// No space left on device: ramfs could not have a new inode
/// (`ramfs_mknod`).
pub const ENOSPC: i32 = 28;
/// File table overflow: Linux's answer when a pipe's inode or
/// `pipe_inode_info` cannot be had (`create_pipe_files`).
pub const ENFILE: i32 = 23;
/// Too many open files.
pub const EMFILE: i32 = 24;
/// Illegal seek (on the console).
pub const ESPIPE: i32 = 29;
/// Read-only file system (creating files is not there yet).
pub const EROFS: i32 = 30;
/// Broken pipe: a write with no reader left.
pub const EPIPE: i32 = 32;
/// File name too long.
pub const ENAMETOOLONG: i32 = 36;
/// Function not implemented: no system call has that number.
pub const ENOSYS: i32 = 38;
/// Device or resource busy (removing or renaming "/").
pub const EBUSY: i32 = 16;
/// File exists.
pub const EEXIST: i32 = 17;
/// Result too large (getcwd into a buffer too small).
pub const ERANGE: i32 = 34;
/// Directory not empty.
pub const ENOTEMPTY: i32 = 39;
/// Too many levels of symbolic links.
pub const ELOOP: i32 = 40;
/// Operation not supported (O_TMPFILE).
pub const EOPNOTSUPP: i32 = 95;
/// Package not installed (Linux's answer to `O_NOTIFICATION_PIPE` without
/// `CONFIG_WATCH_QUEUE`).
pub const ENOPKG: i32 = 65;

/// Kernel-internal (never seen by a program; Linux `include/linux/errno.h`):
/// a sleep interrupted by a signal. On the way back to user mode the
/// signal code turns it into `-EINTR` when a handler runs without
/// `SA_RESTART`, and otherwise restarts the call (`kernel/src/signal.rs`).
pub const ERESTARTSYS: i32 = 512;
/// Kernel-internal: restart the call whatever the handler's flags.
pub const ERESTARTNOINTR: i32 = 513;
/// Kernel-internal: restart only if no handler ran (`pause`,
/// `rt_sigsuspend`): with a handler, `-EINTR`.
pub const ERESTARTNOHAND: i32 = 514;
/// Kernel-internal: restart through `restart_syscall` (0) and the task's
/// restart block (`nanosleep` sleeps out the time that was left).
pub const ERESTART_RESTARTBLOCK: i32 = 516;
