//! Linux's i386 system-call ABI: `int $0x80` with the number in eax and
//! up to six arguments in ebx, ecx, edx, esi, edi and ebp; the result
//! comes back in eax, a value or `-errno` (-4095..=-1). Every other
//! register is preserved (the kernel saves them all in `pt_regs` and
//! restores them on the way out).
//!
//! Two of those registers cannot be named in Rust's inline assembly on
//! i386: ebp is the frame pointer and esi is LLVM's base pointer. The
//! wrappers with four or more arguments therefore save them, load them by
//! hand around the `int $0x80`, and restore them.

use core::arch::asm;
use core::ffi::CStr;

/// Linux's i386 system-call numbers (arch/x86/entry/syscalls/syscall_32.tbl),
/// with the table's names.
pub mod nr {
    /// `restart_syscall()`: resumes an interrupted sleep.
    pub const RESTART_SYSCALL: usize = 0;
    /// `exit(status)`: this thread.
    pub const EXIT: usize = 1;
    /// `fork()`.
    pub const FORK: usize = 2;
    /// `read(fd, buf, count)`.
    pub const READ: usize = 3;
    /// `write(fd, buf, count)`.
    pub const WRITE: usize = 4;
    /// `open(path, flags, mode)`.
    pub const OPEN: usize = 5;
    /// `close(fd)`.
    pub const CLOSE: usize = 6;
    /// `creat(path, mode)`.
    pub const CREAT: usize = 8;
    /// `link(old, new)`.
    pub const LINK: usize = 9;
    /// `unlink(path)`.
    pub const UNLINK: usize = 10;
    /// `execve(path, argv, envp)`.
    pub const EXECVE: usize = 11;
    /// `chdir(path)`.
    pub const CHDIR: usize = 12;
    /// `time(tloc)`.
    pub const TIME: usize = 13;
    /// `break`: an empty slot in the table (`sys_ni_syscall`).
    pub const BREAK: usize = 17;
    /// `lseek(fd, offset, whence)`.
    pub const LSEEK: usize = 19;
    /// `getpid()`.
    pub const GETPID: usize = 20;
    /// `pause()`.
    pub const PAUSE: usize = 29;
    /// `access(path, mode)`.
    pub const ACCESS: usize = 33;
    /// `kill(pid, sig)`.
    pub const KILL: usize = 37;
    /// `rename(old, new)`.
    pub const RENAME: usize = 38;
    /// `mkdir(path, mode)`.
    pub const MKDIR: usize = 39;
    /// `rmdir(path)`.
    pub const RMDIR: usize = 40;
    /// `dup(fd)`.
    pub const DUP: usize = 41;
    /// `pipe(fds)`.
    pub const PIPE: usize = 42;
    /// `brk(addr)`.
    pub const BRK: usize = 45;
    /// `ioctl(fd, cmd, arg)`.
    pub const IOCTL: usize = 54;
    /// `fcntl(fd, cmd, arg)`.
    pub const FCNTL: usize = 55;
    /// `setpgid(pid, pgid)`.
    pub const SETPGID: usize = 57;
    /// `umask(mask)`.
    pub const UMASK: usize = 60;
    /// `dup2(old, new)`.
    pub const DUP2: usize = 63;
    /// `getppid()`.
    pub const GETPPID: usize = 64;
    /// `getpgrp()`.
    pub const GETPGRP: usize = 65;
    /// `setsid()`.
    pub const SETSID: usize = 66;
    /// `sigaction(sig, act, oact)`: the old, non-rt one.
    pub const SIGACTION: usize = 67;
    /// `gettimeofday(tv, tz)`.
    pub const GETTIMEOFDAY: usize = 78;
    /// `settimeofday(tv, tz)`.
    pub const SETTIMEOFDAY: usize = 79;
    /// `symlink(target, path)`.
    pub const SYMLINK: usize = 83;
    /// `readlink(path, buf, size)`.
    pub const READLINK: usize = 85;
    /// `munmap(addr, len)`.
    pub const MUNMAP: usize = 91;
    /// `truncate(path, length)`.
    pub const TRUNCATE: usize = 92;
    /// `ftruncate(fd, length)`.
    pub const FTRUNCATE: usize = 93;
    /// `wait4(pid, status, options, rusage)`.
    pub const WAIT4: usize = 114;
    /// `sigreturn()`: the old, non-rt one.
    pub const SIGRETURN: usize = 119;
    /// `clone(flags, stack, parent_tid, tls, child_tid)` (i386 order).
    pub const CLONE: usize = 120;
    /// `uname(buf)`.
    pub const UNAME: usize = 122;
    /// `mprotect(addr, len, prot)`.
    pub const MPROTECT: usize = 125;
    /// `getpgid(pid)`.
    pub const GETPGID: usize = 132;
    /// `fchdir(fd)`.
    pub const FCHDIR: usize = 133;
    /// `_newselect(n, readfds, writefds, exceptfds, timeout)`: select.
    pub const NEWSELECT: usize = 142;
    /// `msync(addr, len, flags)`.
    pub const MSYNC: usize = 144;
    /// `readv(fd, iov, iovcnt)`.
    pub const READV: usize = 145;
    /// `writev(fd, iov, iovcnt)`.
    pub const WRITEV: usize = 146;
    /// `getsid(pid)`.
    pub const GETSID: usize = 147;
    /// `sched_yield()`.
    pub const SCHED_YIELD: usize = 158;
    /// `nanosleep(req, rem)`.
    pub const NANOSLEEP: usize = 162;
    /// `poll(fds, nfds, timeout)`.
    pub const POLL: usize = 168;
    /// `prctl(option, arg2, arg3, arg4, arg5)`.
    pub const PRCTL: usize = 172;
    /// `rt_sigreturn()`.
    pub const RT_SIGRETURN: usize = 173;
    /// `rt_sigaction(sig, act, oact, sigsetsize)`.
    pub const RT_SIGACTION: usize = 174;
    /// `rt_sigprocmask(how, set, oset, sigsetsize)`.
    pub const RT_SIGPROCMASK: usize = 175;
    /// `rt_sigpending(set, sigsetsize)`.
    pub const RT_SIGPENDING: usize = 176;
    /// `rt_sigsuspend(set, sigsetsize)`.
    pub const RT_SIGSUSPEND: usize = 179;
    /// `pread64(fd, buf, count, pos_lo, pos_hi)`.
    pub const PREAD64: usize = 180;
    /// `pwrite64(fd, buf, count, pos_lo, pos_hi)`.
    pub const PWRITE64: usize = 181;
    /// `getcwd(buf, size)`.
    pub const GETCWD: usize = 183;
    /// `vfork()`.
    pub const VFORK: usize = 190;
    /// `ugetrlimit(resource, rlim)`: getrlimit.
    pub const UGETRLIMIT: usize = 191;
    /// `mmap2(addr, len, prot, flags, fd, pgoff)`.
    pub const MMAP2: usize = 192;
    /// `ftruncate64(fd, length_lo, length_hi)`.
    pub const FTRUNCATE64: usize = 194;
    /// `stat64(path, buf)`.
    pub const STAT64: usize = 195;
    /// `lstat64(path, buf)`.
    pub const LSTAT64: usize = 196;
    /// `fstat64(fd, buf)`.
    pub const FSTAT64: usize = 197;
    /// `getuid32()`.
    pub const GETUID32: usize = 199;
    /// `getgid32()`.
    pub const GETGID32: usize = 200;
    /// `geteuid32()`.
    pub const GETEUID32: usize = 201;
    /// `getegid32()`.
    pub const GETEGID32: usize = 202;
    /// `getdents64(fd, dirent, count)`.
    pub const GETDENTS64: usize = 220;
    /// `fcntl64(fd, cmd, arg)`.
    pub const FCNTL64: usize = 221;
    /// `gettid()`.
    pub const GETTID: usize = 224;
    /// `tkill(tid, sig)`.
    pub const TKILL: usize = 238;
    /// `set_thread_area(u_info)`.
    pub const SET_THREAD_AREA: usize = 243;
    /// `exit_group(status)`: every thread of the process.
    pub const EXIT_GROUP: usize = 252;
    /// `set_tid_address(tidptr)`.
    pub const SET_TID_ADDRESS: usize = 258;
    /// `clock_settime(clock, tp)`.
    pub const CLOCK_SETTIME: usize = 264;
    /// `clock_gettime(clock, tp)`.
    pub const CLOCK_GETTIME: usize = 265;
    /// `clock_nanosleep(clock, flags, req, rem)`.
    pub const CLOCK_NANOSLEEP: usize = 267;
    /// `tgkill(tgid, tid, sig)`.
    pub const TGKILL: usize = 270;
    /// `openat(dirfd, path, flags, mode)`.
    pub const OPENAT: usize = 295;
    /// `mkdirat(dirfd, path, mode)`.
    pub const MKDIRAT: usize = 296;
    /// `unlinkat(dirfd, path, flags)`.
    pub const UNLINKAT: usize = 301;
    /// `renameat(olddirfd, old, newdirfd, new)`.
    pub const RENAMEAT: usize = 302;
    /// `linkat(olddirfd, old, newdirfd, new, flags)`.
    pub const LINKAT: usize = 303;
    /// `symlinkat(target, dirfd, path)`.
    pub const SYMLINKAT: usize = 304;
    /// `readlinkat(dirfd, path, buf, size)`.
    pub const READLINKAT: usize = 305;
    /// `faccessat(dirfd, path, mode)`.
    pub const FACCESSAT: usize = 307;
    /// `ppoll(fds, nfds, tsp, sigmask, sigsetsize)`.
    pub const PPOLL: usize = 309;
    /// `set_robust_list(head, len)`.
    pub const SET_ROBUST_LIST: usize = 311;
    /// `dup3(old, new, flags)`.
    pub const DUP3: usize = 330;
    /// `pipe2(fds, flags)`.
    pub const PIPE2: usize = 331;
    /// `prlimit64(pid, resource, new, old)`.
    pub const PRLIMIT64: usize = 340;
    /// `process_vm_readv(pid, local, liovcnt, remote, riovcnt, flags)`.
    pub const PROCESS_VM_READV: usize = 347;
    /// `process_vm_writev(pid, local, liovcnt, remote, riovcnt, flags)`.
    pub const PROCESS_VM_WRITEV: usize = 348;
    /// `renameat2(olddirfd, old, newdirfd, new, flags)`.
    pub const RENAMEAT2: usize = 353;
    /// `getrandom(buf, count, flags)`.
    pub const GETRANDOM: usize = 355;
    /// `statx(dirfd, path, flags, mask, buf)`.
    pub const STATX: usize = 383;
    /// `clock_gettime64(clock, tp)`: 64-bit time.
    pub const CLOCK_GETTIME64: usize = 403;
    /// `clock_settime64(clock, tp)`: 64-bit time.
    pub const CLOCK_SETTIME64: usize = 404;
    /// `clock_nanosleep_time64(clock, flags, req, rem)`: 64-bit time.
    pub const CLOCK_NANOSLEEP_TIME64: usize = 407;
}

/// Linux's error numbers (include/uapi/asm-generic/errno-base.h, errno.h).
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: isize = 1;
    /// No such file or directory.
    pub const ENOENT: isize = 2;
    /// Bad file descriptor.
    pub const EBADF: isize = 9;
    /// No child processes.
    pub const ECHILD: isize = 10;
    /// Try again (would block).
    pub const EAGAIN: isize = 11;
    /// Out of memory (or no mapping there).
    pub const ENOMEM: isize = 12;
    /// Permission denied.
    pub const EACCES: isize = 13;
    /// Bad address.
    pub const EFAULT: isize = 14;
    /// File exists.
    pub const EEXIST: isize = 17;
    /// No such device.
    pub const ENODEV: isize = 19;
    /// Not a directory.
    pub const ENOTDIR: isize = 20;
    /// Is a directory.
    pub const EISDIR: isize = 21;
    /// Invalid argument.
    pub const EINVAL: isize = 22;
    /// No space left on device (ramfs: no inode could be had).
    pub const ENOSPC: isize = 28;
    /// Broken pipe.
    pub const EPIPE: isize = 32;
    /// Result out of range.
    pub const ERANGE: isize = 34;
    /// File name too long.
    pub const ENAMETOOLONG: isize = 36;
    /// No such system call.
    pub const ENOSYS: isize = 38;
    /// Directory not empty.
    pub const ENOTEMPTY: isize = 39;
    /// Too many symbolic links.
    pub const ELOOP: isize = 40;
}

/// Flags of `open` and `fcntl` (include/uapi/asm-generic/fcntl.h, the
/// values i386 uses), and `AT_FDCWD` (include/uapi/linux/fcntl.h).
pub mod fcntl {
    /// Open for reading only.
    pub const O_RDONLY: usize = 0;
    /// Open for writing only.
    pub const O_WRONLY: usize = 1;
    /// Open for reading and writing.
    pub const O_RDWR: usize = 2;
    /// Create the file if it does not exist.
    pub const O_CREAT: usize = 0o100;
    /// With `O_CREAT`: fail with `EEXIST` if it exists.
    pub const O_EXCL: usize = 0o200;
    /// Truncate a regular file to length 0.
    pub const O_TRUNC: usize = 0o1000;
    /// Every write goes to the end.
    pub const O_APPEND: usize = 0o2000;
    /// Calls that would block fail with `EAGAIN`.
    pub const O_NONBLOCK: usize = 0o4000;
    /// Fail with `ENOTDIR` unless the path is a directory.
    pub const O_DIRECTORY: usize = 0o200000;
    /// Fail with `ELOOP` if the last component is a symbolic link.
    pub const O_NOFOLLOW: usize = 0o400000;
    /// Close the descriptor at `execve` (`FD_CLOEXEC`).
    pub const O_CLOEXEC: usize = 0o2000000;
    /// A descriptor that only names the file.
    pub const O_PATH: usize = 0o10000000;
    /// `fcntl`: duplicate onto the lowest free descriptor >= arg.
    pub const F_DUPFD: usize = 0;
    /// `fcntl`: the descriptor flags (`FD_CLOEXEC`).
    pub const F_GETFD: usize = 1;
    /// `fcntl`: set the descriptor flags.
    pub const F_SETFD: usize = 2;
    /// `fcntl`: the file status flags (`O_*`).
    pub const F_GETFL: usize = 3;
    /// The `*at` calls' "relative to the working directory" (-100).
    pub const AT_FDCWD: usize = -100isize as usize;
}

/// `lseek`'s `whence` (include/uapi/linux/fs.h).
pub mod seek {
    /// The offset is from the start of the file.
    pub const SEEK_SET: usize = 0;
    /// The offset is from the end of the file.
    pub const SEEK_END: usize = 2;
}

/// Clock ids of `clock_gettime` (include/uapi/linux/time.h).
pub mod time {
    /// Time since some point (boot) that never jumps: for measuring intervals.
    pub const CLOCK_MONOTONIC: usize = 1;
}

/// Flags of `mmap`, `mprotect` and `msync` (include/uapi/asm-generic/mman-common.h).
pub mod mman {
    /// Pages may be read.
    pub const PROT_READ: usize = 1;
    /// Pages may be written.
    pub const PROT_WRITE: usize = 2;
    /// Writes reach the file and every other mapping of it.
    pub const MAP_SHARED: usize = 1;
    /// Copy on write: writes stay in this mapping.
    pub const MAP_PRIVATE: usize = 2;
    /// Exactly at addr, replacing what was mapped there.
    pub const MAP_FIXED: usize = 0x10;
    /// No file: zero-filled memory.
    pub const MAP_ANONYMOUS: usize = 0x20;
    /// `msync`: schedule the write-back, do not wait.
    pub const MS_ASYNC: usize = 1;
    /// `msync`: write back and wait.
    pub const MS_SYNC: usize = 4;
}

/// System call `nr` with no arguments.
///
/// # Safety
///
/// A system call can do anything to the process (unmap memory, write
/// through pointers): the caller must make sure `nr` with these arguments
/// leaves Rust's guarantees intact. The same holds for every `syscallN`.
#[inline(always)]
pub unsafe fn syscall0(nr: usize) -> isize {
    let ret: usize;
    // SAFETY: int $0x80 changes only eax (the ABI); the caller vouches for
    // what the call does.
    unsafe { asm!("int 0x80", inlateout("eax") nr => ret, options(nostack)) };
    ret as isize
}

/// System call `nr` with one argument (ebx).
///
/// # Safety
///
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall1(nr: usize, a1: usize) -> isize {
    let ret: usize;
    // SAFETY: as in syscall0.
    unsafe { asm!("int 0x80", inlateout("eax") nr => ret, in("ebx") a1, options(nostack)) };
    ret as isize
}

/// System call `nr` with two arguments (ebx, ecx).
///
/// # Safety
///
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall2(nr: usize, a1: usize, a2: usize) -> isize {
    let ret: usize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("int 0x80", inlateout("eax") nr => ret, in("ebx") a1, in("ecx") a2, options(nostack))
    };
    ret as isize
}

/// System call `nr` with three arguments (ebx, ecx, edx).
///
/// # Safety
///
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall3(nr: usize, a1: usize, a2: usize, a3: usize) -> isize {
    let ret: usize;
    // SAFETY: as in syscall0.
    unsafe {
        asm!("int 0x80", inlateout("eax") nr => ret, in("ebx") a1, in("ecx") a2, in("edx") a3,
             options(nostack))
    };
    ret as isize
}

/// System call `nr` with four arguments (ebx, ecx, edx, esi).
///
/// # Safety
///
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall4(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize {
    let ret: usize;
    // SAFETY: as in syscall0; esi is saved on the stack and restored, so
    // the compiler's value in it survives.
    unsafe {
        asm!("push esi", "mov esi, {a4}", "int 0x80", "pop esi",
             a4 = in(reg) a4,
             inlateout("eax") nr => ret, in("ebx") a1, in("ecx") a2, in("edx") a3)
    };
    ret as isize
}

/// System call `nr` with five arguments (ebx, ecx, edx, esi, edi).
///
/// # Safety
///
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall5(nr: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
    let ret: usize;
    // SAFETY: as in syscall4.
    unsafe {
        asm!("push esi", "mov esi, {a4}", "int 0x80", "pop esi",
             a4 = in(reg) a4,
             inlateout("eax") nr => ret, in("ebx") a1, in("ecx") a2, in("edx") a3, in("edi") a5)
    };
    ret as isize
}

/// System call `nr` with six arguments (ebx, ecx, edx, esi, edi, ebp).
///
/// # Safety
///
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall6(
    nr: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let ret: usize;
    // Only edi is free to carry them in: it points at a4, a5, a6 and is
    // loaded with a5 last.
    let rest = [a4, a5, a6];
    // SAFETY: as in syscall0; ebp and esi are saved on the stack and
    // restored, and `rest` is live across the asm (read before the int).
    unsafe {
        asm!("push ebp", "push esi",
             "mov esi, [edi]", "mov ebp, [edi + 8]", "mov edi, [edi + 4]",
             "int 0x80",
             "pop esi", "pop ebp",
             inlateout("eax") nr => ret, in("ebx") a1, in("ecx") a2, in("edx") a3,
             inlateout("edi") rest.as_ptr() => _)
    };
    ret as isize
}

/// `write(fd, buf, count)`: the bytes written, or `-errno`.
pub fn write(fd: i32, buf: &[u8]) -> isize {
    // SAFETY: the kernel only reads buf, which is valid for its length.
    unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) }
}

/// Write all of `buf` to `fd`, going on after short writes; `-errno` from
/// the first failing write.
pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), isize> {
    while !buf.is_empty() {
        let n = write(fd, buf);
        if n <= 0 {
            return Err(n);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// `getpid()`.
pub fn getpid() -> isize {
    // SAFETY: getpid has no arguments and no effect.
    unsafe { syscall0(nr::GETPID) }
}

/// `sched_yield()`: 0.
pub fn sched_yield() -> isize {
    // SAFETY: sched_yield has no arguments and no effect on memory.
    unsafe { syscall0(nr::SCHED_YIELD) }
}

/// `read(fd, buf, count)`: the bytes read into `buf`, or `-errno`.
pub fn read(fd: i32, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes, into buf.
    unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

/// `open(path, flags, mode)`: the new descriptor, or `-errno`.
pub fn open(path: &CStr, flags: usize, mode: usize) -> isize {
    // SAFETY: open only reads the NUL-terminated path.
    unsafe { syscall3(nr::OPEN, path.as_ptr() as usize, flags, mode) }
}

/// `close(fd)`: 0 or `-errno`.
pub fn close(fd: i32) -> isize {
    // SAFETY: closing a descriptor touches no memory of ours.
    unsafe { syscall1(nr::CLOSE, fd as usize) }
}

/// `lseek(fd, offset, whence)`: the new position, or `-errno`.
pub fn lseek(fd: i32, offset: usize, whence: usize) -> isize {
    // SAFETY: lseek touches no memory of ours.
    unsafe { syscall3(nr::LSEEK, fd as usize, offset, whence) }
}

/// `pread64(fd, buf, count, pos)`: read at `pos` (below 4 GiB: the high
/// word is 0) without moving the file position.
pub fn pread64(fd: i32, buf: &mut [u8], pos: usize) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes, into buf.
    unsafe { syscall5(nr::PREAD64, fd as usize, buf.as_mut_ptr() as usize, buf.len(), pos, 0) }
}

/// `pwrite64(fd, buf, count, pos)`: write at `pos` (below 4 GiB) without
/// moving the file position.
pub fn pwrite64(fd: i32, buf: &[u8], pos: usize) -> isize {
    // SAFETY: the kernel only reads buf.
    unsafe { syscall5(nr::PWRITE64, fd as usize, buf.as_ptr() as usize, buf.len(), pos, 0) }
}

/// `ftruncate(fd, length)`: 0 or `-errno`.
pub fn ftruncate(fd: i32, length: usize) -> isize {
    // SAFETY: ftruncate changes the file, no memory of ours (a mapping of
    // the part cut off then raises SIGBUS, which is no memory unsafety).
    unsafe { syscall2(nr::FTRUNCATE, fd as usize, length) }
}

/// `getdents64(fd, dirent, count)`: the bytes of `struct linux_dirent64`
/// records written into `buf`, 0 at the end, or `-errno`.
pub fn getdents64(fd: i32, buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes, into buf.
    unsafe { syscall3(nr::GETDENTS64, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

/// `dup(fd)`: the lowest free descriptor, now the same open file.
pub fn dup(fd: i32) -> isize {
    // SAFETY: dup touches no memory of ours.
    unsafe { syscall1(nr::DUP, fd as usize) }
}

/// `dup2(old, new)`: `new`, now the same open file as `old`.
pub fn dup2(old: i32, new: i32) -> isize {
    // SAFETY: dup2 touches no memory of ours.
    unsafe { syscall2(nr::DUP2, old as usize, new as usize) }
}

/// `dup3(old, new, flags)`: dup2 with `O_CLOEXEC` allowed in flags.
pub fn dup3(old: i32, new: i32, flags: usize) -> isize {
    // SAFETY: dup3 touches no memory of ours.
    unsafe { syscall3(nr::DUP3, old as usize, new as usize, flags) }
}

/// `fcntl(fd, cmd, arg)` for the commands whose arg is a number
/// (`F_DUPFD`, `F_GETFD`, `F_SETFD`, `F_GETFL`, ...).
pub fn fcntl(fd: i32, cmd: usize, arg: usize) -> isize {
    // SAFETY: with a numeric arg fcntl touches no memory of ours.
    unsafe { syscall3(nr::FCNTL, fd as usize, cmd, arg) }
}

/// `fcntl64(fd, cmd, arg)`: as [`fcntl`], the number i386's C library uses.
pub fn fcntl64(fd: i32, cmd: usize, arg: usize) -> isize {
    // SAFETY: as in fcntl.
    unsafe { syscall3(nr::FCNTL64, fd as usize, cmd, arg) }
}

/// `pipe2(fds, flags)`: (read end, write end), or `-errno`.
pub fn pipe2(flags: usize) -> Result<(i32, i32), isize> {
    let mut fds = [0i32; 2];
    // SAFETY: the kernel writes two ints into fds.
    match unsafe { syscall2(nr::PIPE2, fds.as_mut_ptr() as usize, flags) } {
        0 => Ok((fds[0], fds[1])),
        e => Err(e),
    }
}

/// `mkdir(path, mode)`: 0 or `-errno`.
pub fn mkdir(path: &CStr, mode: usize) -> isize {
    // SAFETY: mkdir only reads the path.
    unsafe { syscall2(nr::MKDIR, path.as_ptr() as usize, mode) }
}

/// `rmdir(path)`: 0 or `-errno`.
pub fn rmdir(path: &CStr) -> isize {
    // SAFETY: rmdir only reads the path.
    unsafe { syscall1(nr::RMDIR, path.as_ptr() as usize) }
}

/// `unlink(path)`: 0 or `-errno`.
pub fn unlink(path: &CStr) -> isize {
    // SAFETY: unlink only reads the path.
    unsafe { syscall1(nr::UNLINK, path.as_ptr() as usize) }
}

/// `chdir(path)`: 0 or `-errno`.
pub fn chdir(path: &CStr) -> isize {
    // SAFETY: chdir only reads the path.
    unsafe { syscall1(nr::CHDIR, path.as_ptr() as usize) }
}

/// `access(path, mode)`: 0 if the access `mode` (`R_OK` 4 | `W_OK` 2 |
/// `X_OK` 1, or `F_OK` 0) would be granted, else `-errno`.
pub fn access(path: &CStr, mode: usize) -> isize {
    // SAFETY: access only reads the path.
    unsafe { syscall2(nr::ACCESS, path.as_ptr() as usize, mode) }
}

/// `rename(old, new)`: 0 or `-errno`.
pub fn rename(old: &CStr, new: &CStr) -> isize {
    // SAFETY: rename only reads the two paths.
    unsafe { syscall2(nr::RENAME, old.as_ptr() as usize, new.as_ptr() as usize) }
}

/// `link(old, new)`: a hard link `new` to `old`; 0 or `-errno`.
pub fn link(old: &CStr, new: &CStr) -> isize {
    // SAFETY: link only reads the two paths.
    unsafe { syscall2(nr::LINK, old.as_ptr() as usize, new.as_ptr() as usize) }
}

/// `symlink(target, path)`: a symbolic link `path` holding `target`.
pub fn symlink(target: &CStr, path: &CStr) -> isize {
    // SAFETY: symlink only reads the two strings.
    unsafe { syscall2(nr::SYMLINK, target.as_ptr() as usize, path.as_ptr() as usize) }
}

/// `getcwd(buf, size)`: the length written (with its NUL), or `-errno`.
pub fn getcwd(buf: &mut [u8]) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes, into buf.
    unsafe { syscall2(nr::GETCWD, buf.as_mut_ptr() as usize, buf.len()) }
}

/// `umask(mask)`: the old mask.
pub fn umask(mask: usize) -> isize {
    // SAFETY: umask touches no memory of ours.
    unsafe { syscall1(nr::UMASK, mask) }
}

/// `mmap2(addr, len, prot, flags, fd, pgoff)`: the address of the new
/// mapping (which may look negative: compare with -4095..0), or `-errno`.
///
/// # Safety
///
/// With `MAP_FIXED` the new mapping replaces whatever was at `addr`: the
/// caller must hold no reference into that range.
pub unsafe fn mmap2(addr: usize, len: usize, prot: usize, flags: usize, fd: i32, pgoff: usize) -> isize {
    // SAFETY: the caller vouches for the range a MAP_FIXED replaces;
    // without it the kernel picks a free range.
    unsafe { syscall6(nr::MMAP2, addr, len, prot, flags, fd as usize, pgoff) }
}

/// `munmap(addr, len)`: 0 or `-errno`.
///
/// # Safety
///
/// The caller must hold no reference into `[addr, addr + len)` and not
/// use that memory again (it may be unmapped or become someone else's).
pub unsafe fn munmap(addr: usize, len: usize) -> isize {
    // SAFETY: the caller vouches that nothing uses the range any more.
    unsafe { syscall2(nr::MUNMAP, addr, len) }
}

/// `mprotect(addr, len, prot)`: 0 or `-errno`.
///
/// # Safety
///
/// Access the new `prot` forbids raises SIGSEGV: the caller must not
/// touch the range that way (or must mean to die of it, in a child).
pub unsafe fn mprotect(addr: usize, len: usize, prot: usize) -> isize {
    // SAFETY: the caller vouches for how the range is used afterwards.
    unsafe { syscall3(nr::MPROTECT, addr, len, prot) }
}

/// `msync(addr, len, flags)`: write a shared file mapping back; 0 or `-errno`.
pub fn msync(addr: usize, len: usize, flags: usize) -> isize {
    // SAFETY: msync writes the mapping to its file and changes no memory.
    unsafe { syscall3(nr::MSYNC, addr, len, flags) }
}

/// `fork()`: the child's pid in the parent, 0 in the child, or `-errno`.
pub fn fork() -> isize {
    // SAFETY: fork copies the (single-threaded) process; both copies
    // return here with their own memory.
    unsafe { syscall0(nr::FORK) }
}

/// `wait4(pid, status, options, NULL)`: the pid of the child reaped (0
/// with `WNOHANG` if none is ready), or `-errno`. All four arguments are
/// passed: leaving the rusage pointer to whatever esi held would let the
/// kernel write a `struct rusage` anywhere (the fuzzer once zeroed its own
/// stack that way).
pub fn wait4(pid: i32, status: Option<&mut i32>, options: usize) -> isize {
    let status = status.map_or(0, |s| s as *mut i32 as usize);
    // SAFETY: the kernel writes only the status, into our i32 (or nowhere
    // for NULL); the rusage pointer is NULL.
    unsafe { syscall4(nr::WAIT4, pid as usize, status, options, 0) }
}

/// `execve(path, argv, envp)`: `-errno`, or no return at all (the process
/// runs the new program). `argv` and `envp` must end with a null pointer
/// and point at NUL-terminated strings; the kernel only reads them (a
/// missing terminator makes it read further, or fail with `EFAULT`).
pub fn execve(path: &CStr, argv: &[*const u8], envp: &[*const u8]) -> isize {
    // SAFETY: execve only reads path, argv and envp; on success this
    // program's memory is gone and nothing of it runs again.
    unsafe { syscall3(nr::EXECVE, path.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize) }
}

/// `kill(pid, sig)`: 0 or `-errno` (pid < 0: the process group -pid).
pub fn kill(pid: i32, sig: usize) -> isize {
    // SAFETY: kill touches no memory of ours (a signal to ourselves runs
    // its default action or a handler the program installed).
    unsafe { syscall2(nr::KILL, pid as usize, sig) }
}

/// `setpgid(pid, pgid)`: 0 or `-errno` (0 for either: the caller's).
pub fn setpgid(pid: i32, pgid: i32) -> isize {
    // SAFETY: setpgid touches no memory of ours.
    unsafe { syscall2(nr::SETPGID, pid as usize, pgid as usize) }
}

/// `clock_gettime(clock, tp)`: the time in `tp` (32-bit seconds and
/// nanoseconds); 0 or `-errno`.
pub fn clock_gettime(clock: usize, tp: &mut [u32; 2]) -> isize {
    // SAFETY: the kernel writes a struct timespec (two 32-bit words) into tp.
    unsafe { syscall2(nr::CLOCK_GETTIME, clock, tp.as_mut_ptr() as usize) }
}

/// `nanosleep(req, NULL)`: sleep `req` (seconds, nanoseconds); 0 or `-errno`.
pub fn nanosleep(req: &[usize; 2]) -> isize {
    // SAFETY: the kernel only reads req; the remainder pointer is NULL.
    unsafe { syscall2(nr::NANOSLEEP, req.as_ptr() as usize, 0) }
}

/// End the process with `status` (`exit_group`, as C's `_exit` does: the
/// whole thread group, not just this thread).
pub fn exit(status: i32) -> ! {
    // SAFETY: exit_group does not return, so nothing here runs after it.
    unsafe { syscall1(nr::EXIT_GROUP, status as usize) };
    // Only a broken kernel returns from exit_group; plain exit next, and
    // if even that returns, a fault ends the program.
    // SAFETY: as above.
    unsafe { syscall1(nr::EXIT, status as usize) };
    // SAFETY: ud2 raises #UD; nothing after it runs.
    unsafe { asm!("ud2", options(nomem, nostack, noreturn)) }
}

/// The privilege level this code runs at: the low two bits of CS (the
/// RPL of the selector, which for CS is the CPL). 3 in user mode.
pub fn current_ring() -> u32 {
    let cs: u32;
    // SAFETY: reading CS has no effect.
    unsafe { asm!("mov {0:e}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    cs & 3
}
