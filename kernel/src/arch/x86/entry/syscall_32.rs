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
    /// `getpid()`.
    pub const GETPID: i32 = 20;
    /// `uname(buf)` (`newuname`).
    pub const NEWUNAME: i32 = 122;
    /// `nanosleep(req, rem)`.
    pub const NANOSLEEP: i32 = 162;
    /// `sched_yield()`.
    pub const SCHED_YIELD: i32 = 158;
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
        nr::PREAD64 => crate::fs::read_write::sys_pread64,
        nr::PWRITE64 => crate::fs::read_write::sys_pwrite64,
        nr::TRUNCATE => crate::fs::open::sys_truncate,
        nr::FTRUNCATE => crate::fs::open::sys_ftruncate,
        nr::FTRUNCATE64 => crate::fs::open::sys_ftruncate64,
        nr::BRK => crate::mm::mmap::sys_brk,
        nr::MUNMAP => crate::mm::mmap::sys_munmap,
        nr::MMAP2 => crate::mm::mmap::sys_mmap2,
        nr::MPROTECT => crate::mm::mmap::sys_mprotect,
        nr::GETPID => crate::sys::sys_getpid,
        nr::NEWUNAME => crate::sys::sys_newuname,
        nr::SCHED_YIELD => crate::sched::core::sys_sched_yield,
        nr::NANOSLEEP => crate::sched::timer::sys_nanosleep,
        nr::EXIT_GROUP => crate::exit::sys_exit_group,
        nr::SET_THREAD_AREA => crate::arch::tls::sys_set_thread_area,
        _ => return None,
    })
}
