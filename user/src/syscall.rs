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

/// Linux's i386 system-call numbers (arch/x86/entry/syscalls/syscall_32.tbl).
pub mod nr {
    /// `exit(status)`: this thread.
    pub const EXIT: usize = 1;
    /// `write(fd, buf, count)`.
    pub const WRITE: usize = 4;
    /// `break`: an empty slot in the table (`sys_ni_syscall`).
    pub const BREAK: usize = 17;
    /// `getpid()`.
    pub const GETPID: usize = 20;
    /// `munmap(addr, len)`.
    pub const MUNMAP: usize = 91;
    /// `sched_yield()`.
    pub const SCHED_YIELD: usize = 158;
    /// `mmap2(addr, len, prot, flags, fd, pgoff)`.
    pub const MMAP2: usize = 192;
    /// `exit_group(status)`: every thread of the process.
    pub const EXIT_GROUP: usize = 252;
}

/// Linux's error numbers (include/uapi/asm-generic/errno-base.h, errno.h).
pub mod errno {
    /// Bad file descriptor.
    pub const EBADF: isize = 9;
    /// Bad address.
    pub const EFAULT: isize = 14;
    /// Invalid argument.
    pub const EINVAL: isize = 22;
    /// No such system call.
    pub const ENOSYS: isize = 38;
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
