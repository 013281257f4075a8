//! Small system calls about the calling process (Linux `kernel/sys.c`).

use crate::arch::entry::PtRegs;

/// `getpid()`: the caller's process id (here, its task id: every process
/// has one thread so far).
pub fn sys_getpid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().id() as i32
}

/// The credentials of every process: root's. This kernel has no users,
/// and every program runs as Linux runs init and its children before any
/// `setuid`: real, effective and saved uid and gid 0 (Linux `INIT_CRED`).
/// So the four identity calls answer 0, as Linux's do for root; the calls
/// that would change an identity (`setuid32`, `setgid32`, ...) are not
/// here and give `-ENOSYS`.
///
/// Why these four exist before credentials do: Debian's busybox calls
/// `getuid32` first thing in `main` (its `check_suid`). With `-ENOSYS`
/// (-38) it takes itself for a non-root user, stats `/etc/busybox.conf`
/// and calls `setgid32(getgid32())` and `setuid32(-38)` to drop
/// privileges it never had; on root's 0 it goes straight to the applet
/// (docs/busybox-census.md).
const ROOT_ID: i32 = 0;

/// `getuid32()` (i386 199): the real user id, root's.
pub fn sys_getuid32(_regs: &mut PtRegs) -> i32 {
    ROOT_ID
}

/// `getgid32()` (i386 200): the real group id, root's.
pub fn sys_getgid32(_regs: &mut PtRegs) -> i32 {
    ROOT_ID
}

/// `geteuid32()` (i386 201): the effective user id, root's.
pub fn sys_geteuid32(_regs: &mut PtRegs) -> i32 {
    ROOT_ID
}

/// `getegid32()` (i386 202): the effective group id, root's.
pub fn sys_getegid32(_regs: &mut PtRegs) -> i32 {
    ROOT_ID
}

/// Linux `struct new_utsname`: six fields of 65 bytes (`__NEW_UTS_LEN` + 1).
const UTS_FIELD: usize = 65;

/// `uname(buf)` (Linux `newuname`, i386 number 122): fill a `struct
/// new_utsname` in user memory. The copy goes through `copy_to_user`, so
/// an untouched buffer is faulted in on the way (from kernel mode).
pub fn sys_newuname(regs: &mut PtRegs) -> i32 {
    let mut uts = [0u8; 6 * UTS_FIELD];
    let fields: [&[u8]; 6] = [
        b"Linux",                            // sysname: the ABI we speak
        b"highmem",                          // nodename
        b"6.1.0-highmem-teaching",           // release (Linux's ABI level)
        env!("CARGO_PKG_VERSION").as_bytes(),// version: this kernel's
        b"i686",                             // machine
        b"(none)",                           // domainname
    ];
    for (i, f) in fields.iter().enumerate() {
        uts[i * UTS_FIELD..i * UTS_FIELD + f.len()].copy_from_slice(f);
    }
    if crate::arch::lib::usercopy_32::copy_to_user(regs.bx as usize, &uts) != 0 {
        return -crate::errno::EFAULT;
    }
    0
}

/// `gettid()` (i386 224): the caller's thread id. Every process has one
/// thread here, so it equals `getpid()`, as for a Linux thread-group leader.
pub fn sys_gettid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().id() as i32
}

/// `umask(mask)` (i386 60, Linux `kernel/sys.c`): set the caller's
/// file-mode creation mask to `mask & 0777` and return the old one. It
/// cannot fail. `open`, `creat` and `mkdir` apply it (`libfs::current_umask`);
/// a child inherits it at fork.
pub fn sys_umask(regs: &mut PtRegs) -> i32 {
    let me = crate::sched::current();
    me.umask.swap(regs.bx & 0o777, core::sync::atomic::Ordering::Relaxed) as i32
}

/// `prctl` options we have (`include/uapi/linux/prctl.h`).
pub const PR_SET_NAME: u32 = 15;
pub const PR_GET_NAME: u32 = 16;

/// `prctl(option, arg2, ...)` (i386 172): only `PR_SET_NAME` (copy up to
/// 15 bytes of the string at `arg2` into the caller's `comm`, NUL ended;
/// Linux `strncpy_from_user` of `TASK_COMM_LEN - 1` bytes) and
/// `PR_GET_NAME` (copy the 16-byte `comm` to `arg2`). A bad pointer is
/// `-EFAULT`; every other option `-EINVAL` (Linux has dozens more).
pub fn sys_prctl(regs: &mut PtRegs) -> i32 {
    use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
    let me = crate::sched::current();
    match regs.bx {
        PR_SET_NAME => {
            // Byte by byte up to the NUL, so a name ending just before an
            // unmapped page is not a fault (strncpy_from_user).
            let mut comm = [0u8; 16];
            for (i, c) in comm.iter_mut().take(15).enumerate() {
                let mut b = [0u8; 1];
                if copy_from_user(&mut b, regs.cx as usize + i) != 0 {
                    return -crate::errno::EFAULT;
                }
                if b[0] == 0 {
                    break;
                }
                *c = b[0];
            }
            *me.comm.lock() = comm;
            0
        }
        PR_GET_NAME => {
            let comm = *me.comm.lock();
            if copy_to_user(regs.cx as usize, &comm) != 0 {
                return -crate::errno::EFAULT;
            }
            0
        }
        _ => -crate::errno::EINVAL,
    }
}
