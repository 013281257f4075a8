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
        nr::GETPID => crate::sys::sys_getpid,
        nr::NEWUNAME => crate::sys::sys_newuname,
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
        _ => return None,
    })
}
