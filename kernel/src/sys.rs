//! Small system calls about the calling process (Linux `kernel/sys.c`).

use crate::arch::entry::PtRegs;

/// `getpid()`: the caller's process id (here, its task id: every process
/// has one thread so far).
pub fn sys_getpid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().id() as i32
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
