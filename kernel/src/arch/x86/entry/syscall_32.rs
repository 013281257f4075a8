//! The i386 system-call table (Linux `arch/x86/entry/syscall_32.c`, built
//! from `arch/x86/entry/syscalls/syscall_32.tbl`): number -> handler. The
//! numbers are Linux's, so the same static ELF runs here and on Linux.
//!
//! Each handler takes the saved registers and returns what goes back in
//! eax: a value, or `-errno` (in -4095..=-1) on failure.

use super::entry_32::PtRegs;

/// A system-call handler: the arguments are in `regs.bx, cx, dx, si, di,
/// bp`, in that order.
pub type SysCall = fn(&mut PtRegs) -> i32;

pub use crate::errno::ENOSYS;

/// Linux's i386 numbers (`syscall_32.tbl`) of the calls we have.
pub mod nr {
    /// `exit(status)`.
    pub const EXIT: i32 = 1;
    /// `fork()`.
    pub const FORK: i32 = 2;
    /// `read(fd, buf, count)`.
    pub const READ: i32 = 3;
    /// `write(fd, buf, count)`.
    pub const WRITE: i32 = 4;
    /// `open(path, flags, mode)`.
    pub const OPEN: i32 = 5;
    /// `close(fd)`.
    pub const CLOSE: i32 = 6;
    /// `lseek(fd, offset, whence)`.
    pub const LSEEK: i32 = 19;
    /// `execve(path, argv, envp)`.
    pub const EXECVE: i32 = 11;
    /// `getppid()`.
    pub const GETPPID: i32 = 64;
    /// `wait4(pid, status, options, rusage)`.
    pub const WAIT4: i32 = 114;
    /// `clone(flags, ...)`.
    pub const CLONE: i32 = 120;
    /// `vfork()`.
    pub const VFORK: i32 = 190;
    /// `brk(addr)`.
    pub const BRK: i32 = 45;
    /// `munmap(addr, len)`.
    pub const MUNMAP: i32 = 91;
    /// `mmap2(addr, len, prot, flags, fd, pgoff)`.
    pub const MMAP2: i32 = 192;
    /// `mprotect(start, len, prot)`.
    pub const MPROTECT: i32 = 125;
    /// `msync(start, len, flags)`.
    pub const MSYNC: i32 = 144;
    /// `stat64(path, buf)`.
    pub const STAT64: i32 = 195;
    /// `lstat64(path, buf)`.
    pub const LSTAT64: i32 = 196;
    /// `fstat64(fd, buf)`.
    pub const FSTAT64: i32 = 197;
    /// `getpid()`.
    pub const GETPID: i32 = 20;
    /// `readv(fd, vec, vlen)`.
    pub const READV: i32 = 145;
    /// `writev(fd, vec, vlen)`.
    pub const WRITEV: i32 = 146;
    /// `uname(buf)` (`newuname`).
    pub const NEWUNAME: i32 = 122;
    /// `nanosleep(req, rem)`.
    pub const NANOSLEEP: i32 = 162;
    /// `sched_yield()`.
    pub const SCHED_YIELD: i32 = 158;
    /// `getuid32()`.
    pub const GETUID32: i32 = 199;
    /// `getgid32()`.
    pub const GETGID32: i32 = 200;
    /// `geteuid32()`.
    pub const GETEUID32: i32 = 201;
    /// `getegid32()`.
    pub const GETEGID32: i32 = 202;
    /// `set_thread_area(u_info)`.
    pub const SET_THREAD_AREA: i32 = 243;
    /// `truncate(path, length)`.
    pub const TRUNCATE: i32 = 92;
    /// `ftruncate(fd, length)`.
    pub const FTRUNCATE: i32 = 93;
    /// `pread64(fd, buf, count, pos_lo, pos_hi)`.
    pub const PREAD64: i32 = 180;
    /// `pwrite64(fd, buf, count, pos_lo, pos_hi)`.
    pub const PWRITE64: i32 = 181;
    /// `ftruncate64(fd, length_lo, length_hi)`.
    pub const FTRUNCATE64: i32 = 194;
    /// `exit_group(status)`.
    pub const EXIT_GROUP: i32 = 252;
    /// `restart_syscall()`: what an interrupted call restarts through.
    pub const RESTART_SYSCALL: i32 = 0;
    /// `kill(pid, sig)`.
    pub const KILL: i32 = 37;
    /// `pause()`.
    pub const PAUSE: i32 = 29;
    /// `setpgid(pid, pgid)`.
    pub const SETPGID: i32 = 57;
    /// `getpgrp()`.
    pub const GETPGRP: i32 = 65;
    /// `setsid()`.
    pub const SETSID: i32 = 66;
    /// `sigaction(sig, act, oact)` (the old struct).
    pub const SIGACTION: i32 = 67;
    /// `sigreturn()` (the old frame).
    pub const SIGRETURN: i32 = 119;
    /// `getpgid(pid)`.
    pub const GETPGID: i32 = 132;
    /// `getsid(pid)`.
    pub const GETSID: i32 = 147;
    /// `rt_sigreturn()`.
    pub const RT_SIGRETURN: i32 = 173;
    /// `rt_sigaction(sig, act, oact, sigsetsize)`.
    pub const RT_SIGACTION: i32 = 174;
    /// `rt_sigprocmask(how, set, oset, sigsetsize)`.
    pub const RT_SIGPROCMASK: i32 = 175;
    /// `rt_sigpending(set, sigsetsize)`.
    pub const RT_SIGPENDING: i32 = 176;
    /// `rt_sigsuspend(mask, sigsetsize)`.
    pub const RT_SIGSUSPEND: i32 = 179;
    /// `tkill(tid, sig)`.
    pub const TKILL: i32 = 238;
    /// `tgkill(tgid, tid, sig)`.
    pub const TGKILL: i32 = 270;
    /// `ugetrlimit(resource, rlim)`.
    pub const UGETRLIMIT: i32 = 191;
    /// `set_tid_address(tidptr)`.
    pub const SET_TID_ADDRESS: i32 = 258;
    /// `prlimit64(pid, resource, new, old)`.
    pub const PRLIMIT64: i32 = 340;
    /// `getrandom(buf, count, flags)`.
    pub const GETRANDOM: i32 = 355;
    /// `ioctl`.
    pub const IOCTL: i32 = 54;
    /// `_newselect`.
    pub const NEWSELECT: i32 = 142;
    /// `poll`.
    pub const POLL: i32 = 168;
    /// `ppoll` (with a 32-bit timespec).
    pub const PPOLL: i32 = 309;
    // The namespace calls (fs/namei.rs, open.rs, readdir.rs, d_path.rs).
    pub const LINK: i32 = 9;
    pub const UNLINK: i32 = 10;
    pub const CREAT: i32 = 8;
    pub const CHDIR: i32 = 12;
    pub const ACCESS: i32 = 33;
    pub const RENAME: i32 = 38;
    pub const MKDIR: i32 = 39;
    pub const RMDIR: i32 = 40;
    pub const SYMLINK: i32 = 83;
    pub const READLINK: i32 = 85;
    pub const FCHDIR: i32 = 133;
    pub const GETCWD: i32 = 183;
    pub const GETDENTS64: i32 = 220;
    pub const OPENAT: i32 = 295;
    pub const MKDIRAT: i32 = 296;
    pub const UNLINKAT: i32 = 301;
    pub const RENAMEAT: i32 = 302;
    pub const LINKAT: i32 = 303;
    pub const SYMLINKAT: i32 = 304;
    pub const READLINKAT: i32 = 305;
    pub const FACCESSAT: i32 = 307;
    pub const RENAMEAT2: i32 = 353;
    pub const STATX: i32 = 383;
    // Pipes and descriptors (pipes branch).
    /// `dup(oldfd)`.
    pub const DUP: i32 = 41;
    /// `pipe(fildes)`.
    pub const PIPE: i32 = 42;
    /// `fcntl(fd, cmd, arg)`.
    pub const FCNTL: i32 = 55;
    /// `dup2(oldfd, newfd)`.
    pub const DUP2: i32 = 63;
    /// `fcntl64(fd, cmd, arg)`.
    pub const FCNTL64: i32 = 221;
    /// `dup3(oldfd, newfd, flags)`.
    pub const DUP3: i32 = 330;
    /// `pipe2(fildes, flags)`.
    pub const PIPE2: i32 = 331;
    // Clocks and small process calls (time.rs, sys.rs, futex.rs).
    pub const UMASK: i32 = 60;
    pub const GETTIMEOFDAY: i32 = 78;
    pub const PRCTL: i32 = 172;
    pub const GETTID: i32 = 224;
    pub const CLOCK_GETTIME: i32 = 265;
    pub const CLOCK_NANOSLEEP: i32 = 267;
    pub const SET_ROBUST_LIST: i32 = 311;
    pub const CLOCK_GETTIME64: i32 = 403;
    pub const CLOCK_NANOSLEEP_TIME64: i32 = 407;
    // Setting the wall clock, and time() (time.rs).
    pub const TIME: i32 = 13;
    pub const SETTIMEOFDAY: i32 = 79;
    pub const CLOCK_SETTIME: i32 = 264;
    pub const CLOCK_SETTIME64: i32 = 404;
    pub const PROCESS_VM_READV: i32 = 347;
    pub const PROCESS_VM_WRITEV: i32 = 348;
}

/// The handler for system call `nr`, if there is one (Linux indexes
/// `ia32_sys_call_table`; unknown numbers get `-ENOSYS`).
pub fn ia32_sys_call_table(nr: i32) -> Option<SysCall> {
    Some(match nr {
        nr::EXIT => crate::exit::sys_exit,
        nr::FORK => crate::fork::sys_fork,
        nr::GETPPID => crate::fork::sys_getppid,
        nr::EXECVE => crate::fs::exec::sys_execve,
        nr::WAIT4 => crate::exit::sys_wait4,
        nr::CLONE => crate::fork::sys_clone,
        nr::VFORK => crate::fork::sys_vfork,
        nr::READ => crate::fs::read_write::sys_read,
        nr::WRITE => crate::fs::read_write::sys_write,
        nr::READV => crate::fs::read_write::sys_readv,
        nr::WRITEV => crate::fs::read_write::sys_writev,
        nr::OPEN => crate::fs::open::sys_open,
        nr::CLOSE => crate::fs::open::sys_close,
        nr::LSEEK => crate::fs::read_write::sys_lseek,
        nr::PREAD64 => crate::fs::read_write::sys_pread64,
        nr::PWRITE64 => crate::fs::read_write::sys_pwrite64,
        nr::TRUNCATE => crate::fs::open::sys_truncate,
        nr::FTRUNCATE => crate::fs::open::sys_ftruncate,
        nr::FTRUNCATE64 => crate::fs::open::sys_ftruncate64,
        nr::BRK => crate::mm::mmap::sys_brk,
        nr::MUNMAP => crate::mm::mmap::sys_munmap,
        nr::MMAP2 => crate::mm::mmap::sys_mmap2,
        nr::MPROTECT => crate::mm::mmap::sys_mprotect,
        nr::MSYNC => crate::mm::mmap::sys_msync,
        nr::STAT64 => crate::fs::stat::sys_stat64,
        nr::LSTAT64 => crate::fs::stat::sys_lstat64,
        nr::FSTAT64 => crate::fs::stat::sys_fstat64,
        nr::GETPID => crate::sys::sys_getpid,
        nr::NEWUNAME => crate::sys::sys_newuname,
        nr::GETUID32 => crate::sys::sys_getuid32,
        nr::GETGID32 => crate::sys::sys_getgid32,
        nr::GETEUID32 => crate::sys::sys_geteuid32,
        nr::GETEGID32 => crate::sys::sys_getegid32,
        nr::SCHED_YIELD => crate::sched::core::sys_sched_yield,
        nr::NANOSLEEP => crate::sched::timer::sys_nanosleep,
        nr::EXIT_GROUP => crate::exit::sys_exit_group,
        nr::SET_THREAD_AREA => crate::arch::tls::sys_set_thread_area,
        nr::RESTART_SYSCALL => crate::signal::sys_restart_syscall,
        nr::KILL => crate::signal::sys_kill,
        nr::PAUSE => crate::signal::sys_pause,
        nr::SETPGID => crate::signal::sys_setpgid,
        nr::GETPGRP => crate::signal::sys_getpgrp,
        nr::SETSID => crate::signal::sys_setsid,
        nr::SIGACTION => crate::signal::sys_sigaction,
        nr::SIGRETURN => crate::arch::signal::sys_sigreturn,
        nr::GETPGID => crate::signal::sys_getpgid,
        nr::GETSID => crate::signal::sys_getsid,
        nr::RT_SIGRETURN => crate::arch::signal::sys_rt_sigreturn,
        nr::RT_SIGACTION => crate::signal::sys_rt_sigaction,
        nr::RT_SIGPROCMASK => crate::signal::sys_rt_sigprocmask,
        nr::RT_SIGPENDING => crate::signal::sys_rt_sigpending,
        nr::RT_SIGSUSPEND => crate::signal::sys_rt_sigsuspend,
        nr::TKILL => crate::signal::sys_tkill,
        nr::TGKILL => crate::signal::sys_tgkill,
        nr::UGETRLIMIT => crate::resource::sys_ugetrlimit,
        nr::SET_TID_ADDRESS => crate::fork::sys_set_tid_address,
        nr::PRLIMIT64 => crate::resource::sys_prlimit64,
        nr::GETRANDOM => crate::random::sys_getrandom,
        nr::IOCTL => crate::fs::ioctl::sys_ioctl,
        nr::NEWSELECT => crate::fs::select::sys_select,
        nr::POLL => crate::fs::select::sys_poll,
        nr::PPOLL => crate::fs::select::sys_ppoll,
        nr::LINK => crate::fs::namei::sys_link,
        nr::UNLINK => crate::fs::namei::sys_unlink,
        nr::CREAT => crate::fs::open::sys_creat,
        nr::CHDIR => crate::fs::open::sys_chdir,
        nr::ACCESS => crate::fs::open::sys_access,
        nr::RENAME => crate::fs::namei::sys_rename,
        nr::MKDIR => crate::fs::namei::sys_mkdir,
        nr::RMDIR => crate::fs::namei::sys_rmdir,
        nr::SYMLINK => crate::fs::namei::sys_symlink,
        nr::READLINK => crate::fs::namei::sys_readlink,
        nr::FCHDIR => crate::fs::open::sys_fchdir,
        nr::GETCWD => crate::fs::d_path::sys_getcwd,
        nr::GETDENTS64 => crate::fs::readdir::sys_getdents64,
        nr::OPENAT => crate::fs::open::sys_openat,
        nr::MKDIRAT => crate::fs::namei::sys_mkdirat,
        nr::UNLINKAT => crate::fs::namei::sys_unlinkat,
        nr::RENAMEAT => crate::fs::namei::sys_renameat,
        nr::LINKAT => crate::fs::namei::sys_linkat,
        nr::SYMLINKAT => crate::fs::namei::sys_symlinkat,
        nr::READLINKAT => crate::fs::namei::sys_readlinkat,
        nr::FACCESSAT => crate::fs::open::sys_faccessat,
        nr::RENAMEAT2 => crate::fs::namei::sys_renameat2,
        nr::STATX => crate::fs::stat::sys_statx,
        nr::DUP => crate::fs::fcntl::sys_dup,
        nr::PIPE => crate::fs::pipe::sys_pipe,
        nr::FCNTL => crate::fs::fcntl::sys_fcntl,
        nr::DUP2 => crate::fs::fcntl::sys_dup2,
        nr::FCNTL64 => crate::fs::fcntl::sys_fcntl64,
        nr::DUP3 => crate::fs::fcntl::sys_dup3,
        nr::PIPE2 => crate::fs::pipe::sys_pipe2,
        nr::UMASK => crate::sys::sys_umask,
        nr::GETTIMEOFDAY => crate::time::sys_gettimeofday,
        nr::PRCTL => crate::sys::sys_prctl,
        nr::GETTID => crate::sys::sys_gettid,
        nr::CLOCK_GETTIME => crate::time::sys_clock_gettime,
        nr::CLOCK_NANOSLEEP => crate::time::sys_clock_nanosleep,
        nr::SET_ROBUST_LIST => crate::futex::sys_set_robust_list,
        nr::CLOCK_GETTIME64 => crate::time::sys_clock_gettime64,
        nr::CLOCK_NANOSLEEP_TIME64 => crate::time::sys_clock_nanosleep_time64,
        nr::TIME => crate::time::sys_time,
        nr::SETTIMEOFDAY => crate::time::sys_settimeofday,
        nr::CLOCK_SETTIME => crate::time::sys_clock_settime,
        nr::CLOCK_SETTIME64 => crate::time::sys_clock_settime64,
        nr::PROCESS_VM_READV => crate::mm::process_vm_access::sys_process_vm_readv,
        nr::PROCESS_VM_WRITEV => crate::mm::process_vm_access::sys_process_vm_writev,
        _ => return None,
    })
}
