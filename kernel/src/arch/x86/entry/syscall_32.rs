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
    /// `brk(addr)`.
    pub const BRK: i32 = 45;
    /// `munmap(addr, len)`.
    pub const MUNMAP: i32 = 91;
    /// `mmap2(addr, len, prot, flags, fd, pgoff)`.
    pub const MMAP2: i32 = 192;
    /// `mprotect(start, len, prot)`.
    pub const MPROTECT: i32 = 125;
    /// `stat64(path, buf)`.
    pub const STAT64: i32 = 195;
    /// `lstat64(path, buf)`.
    pub const LSTAT64: i32 = 196;
    /// `fstat64(fd, buf)`.
    pub const FSTAT64: i32 = 197;
    /// `getpid()`.
    pub const GETPID: i32 = 20;
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
    /// `exit_group(status)`.
    pub const EXIT_GROUP: i32 = 252;
    /// `ioctl`.
    pub const IOCTL: i32 = 54;
    /// `_newselect`.
    pub const NEWSELECT: i32 = 142;
    /// `poll`.
    pub const POLL: i32 = 168;
    /// `ppoll` (with a 32-bit timespec).
    pub const PPOLL: i32 = 309;
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
        nr::READ => crate::fs::read_write::sys_read,
        nr::WRITE => crate::fs::read_write::sys_write,
        nr::OPEN => crate::fs::open::sys_open,
        nr::CLOSE => crate::fs::open::sys_close,
        nr::LSEEK => crate::fs::read_write::sys_lseek,
        nr::BRK => crate::mm::mmap::sys_brk,
        nr::MUNMAP => crate::mm::mmap::sys_munmap,
        nr::MMAP2 => crate::mm::mmap::sys_mmap2,
        nr::MPROTECT => crate::mm::mmap::sys_mprotect,
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
        nr::IOCTL => crate::fs::ioctl::sys_ioctl,
        nr::NEWSELECT => crate::fs::select::sys_select,
        nr::POLL => crate::fs::select::sys_poll,
        nr::PPOLL => crate::fs::select::sys_ppoll,
        _ => return None,
    })
}
