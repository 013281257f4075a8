//! `clonetest`: what glibc asks of the kernel at start-up and fork, the
//! same under Linux and this kernel: `set_tid_address` returns the tid;
//! `clone` in i386's argument order (flags, newsp, parent_tid, tls,
//! child_tid) with `CLONE_PARENT_SETTID` (the tid in the parent's memory
//! only), `CLONE_CHILD_SETTID` (in the child's only) and glibc's fork flags;
//! (Where `CLONE_PARENT_SETTID` writes is not checked here: Linux writes
//! the parent's memory after the copy, qemu-i386 the child's; `clonetest parent-settid`
//! checks Linux's way, run by tests/fpu.rs under this kernel.) `ugetrlimit` and `prlimit64` (read, set, Linux's errnos); `getrandom`
//! (bytes, flags, errnos).
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use user::check::Checks;
use user::syscall::errno::{EFAULT, EINVAL};
use user::syscall::{getpid, syscall1, syscall3, syscall4, syscall5};
use user::{Args, entry};

entry!(main);

const WAIT4: usize = 114;
const CLONE: usize = 120;
const UGETRLIMIT: usize = 191;
const SET_TID_ADDRESS: usize = 258;
const PRLIMIT64: usize = 340;
const GETRANDOM: usize = 355;
const ESRCH: isize = 3;
const SIGCHLD: usize = 17;
const CLONE_PARENT_SETTID: usize = 0x0010_0000;
const CLONE_CHILD_CLEARTID: usize = 0x0020_0000;
const CLONE_CHILD_SETTID: usize = 0x0100_0000;
const RLIMIT_STACK: usize = 3;
const RLIMIT_NOFILE: usize = 7;

static CTID: AtomicU32 = AtomicU32::new(0);
static PTID: AtomicU32 = AtomicU32::new(0);

/// `clonetest parent-settid`: Linux's `CLONE_PARENT_SETTID` writes the
/// child's tid into the parent's memory after the copy, so the parent sees
/// it and the child does not; exit 0 if so (1: the parent did not see it,
/// 2: the child did).
fn parent_settid() -> i32 {
    let pid = clone(CLONE_PARENT_SETTID | SIGCHLD, PTID.as_ptr() as usize, 0);
    if pid == 0 {
        user::syscall::exit(if PTID.load(SeqCst) == 0 { 0 } else { 2 });
    }
    let seen = PTID.load(SeqCst) as isize == pid;
    let st = wait(pid);
    if !seen { 1 } else { st >> 8 }
}

fn clone(flags: usize, parent_tid: usize, child_tid: usize) -> isize {
    // SAFETY: a fork-like clone (newsp 0: the child runs on its copy of our
    // stack); the tid pointers are ours or deliberately bad.
    unsafe { syscall5(CLONE, flags, 0, parent_tid, 0, child_tid) }
}

fn wait(pid: isize) -> i32 {
    let mut status = -1i32;
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    status
}

fn getrlimit(resource: usize, buf: &mut [u32; 2]) -> isize {
    // SAFETY: buf is 8 bytes of ours.
    unsafe { syscall3(UGETRLIMIT, resource, buf.as_mut_ptr() as usize, 0) }
}

fn prlimit(pid: usize, resource: usize, new: Option<&[u64; 2]>, old: Option<&mut [u64; 2]>) -> isize {
    let n = new.map_or(0, |n| n.as_ptr() as usize);
    let o = old.map_or(0, |o| o.as_mut_ptr() as usize);
    // SAFETY: new and old are 16 bytes of ours, or NULL.
    unsafe { syscall4(PRLIMIT64, pid, resource, n, o) }
}

fn getrandom(buf: usize, len: usize, flags: usize) -> isize {
    // SAFETY: callers pass their own buffers or deliberately bad pointers.
    unsafe { syscall3(GETRANDOM, buf, len, flags) }
}

fn main(args: Args) -> i32 {
    if args.argv().nth(1).is_some_and(|a| a.to_bytes() == b"parent-settid") {
        return parent_settid();
    }
    let mut t = Checks::new("clonetest");
    let mut tid = 0u32;
    // SAFETY: the pointer is only remembered (and our tid's word is ours).
    let r = unsafe { syscall1(SET_TID_ADDRESS, &mut tid as *mut u32 as usize) };
    t.check_eq("set_tid_address_returns_the_tid", r, getpid());

    let me = getpid();
    let pid = clone(CLONE_CHILD_SETTID | SIGCHLD, 0, CTID.as_ptr() as usize);
    if pid == 0 {
        // In the child: its own tid in its own memory.
        let ok = CTID.load(SeqCst) == getpid() as u32 && getpid() != me;
        user::syscall::exit(if ok { 0 } else { 1 });
    }
    t.check("clone_returns_the_childs_pid", pid > 0, format_args!("{pid}"));
    t.check_eq("child_settid_not_in_the_parents_memory", CTID.load(SeqCst), 0);
    let st = wait(pid);
    t.check("child_settid_in_the_childs_memory_only", st == 0, format_args!("child status {st:#x}"));

    // glibc's fork.
    let pid = clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0, CTID.as_ptr() as usize);
    if pid == 0 {
        user::syscall::exit(if CTID.load(SeqCst) == getpid() as u32 { 3 } else { 4 });
    }
    t.check_eq("glibc_fork_flags_child_exits_3", wait(pid), 3 << 8);
    let pid = clone(CLONE_PARENT_SETTID | SIGCHLD, 0xc000_0000, 0);
    if pid == 0 {
        user::syscall::exit(0);
    }
    t.check("parent_settid_bad_pointer_still_forks", pid > 0 && wait(pid) == 0, format_args!("{pid}"));

    let mut lim = [0u32; 2];
    t.check_eq("ugetrlimit_stack_returns_0", getrlimit(RLIMIT_STACK, &mut lim), 0);
    t.check("stack_soft_limit_within_hard", lim[0] > 0 && lim[0] <= lim[1], format_args!("{lim:?}"));
    t.check_eq("ugetrlimit_resource_16_einval", getrlimit(16, &mut lim), -EINVAL);
    // SAFETY: a kernel address: the kernel must refuse to write there.
    t.check_eq("ugetrlimit_kernel_pointer_efault", unsafe { syscall3(UGETRLIMIT, RLIMIT_STACK, 0xc000_0000, 0) }, -EFAULT);
    let mut old = [0u64; 2];
    t.check_eq("prlimit64_get_returns_0", prlimit(0, RLIMIT_NOFILE, None, Some(&mut old)), 0);
    getrlimit(RLIMIT_NOFILE, &mut lim);
    t.check("prlimit64_agrees_with_ugetrlimit", old == [lim[0] as u64, lim[1] as u64], format_args!("{old:?} vs {lim:?}"));
    let new = [100u64, old[1]];
    t.check_eq("prlimit64_set_returns_0", prlimit(0, RLIMIT_NOFILE, Some(&new), None), 0);
    getrlimit(RLIMIT_NOFILE, &mut lim);
    t.check_eq("the_new_soft_limit_holds", lim[0], 100);
    t.check_eq("soft_above_hard_einval", prlimit(0, RLIMIT_NOFILE, Some(&[old[1] + 1, old[1]]), None), -EINVAL);
    t.check_eq("prlimit64_resource_16_einval", prlimit(0, 16, None, Some(&mut old)), -EINVAL);
    t.check_eq("prlimit64_no_such_pid_esrch", prlimit(0x3fff_fff0, RLIMIT_NOFILE, None, Some(&mut old)), -ESRCH);

    let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
    t.check_eq("getrandom_returns_the_count", getrandom(a.as_mut_ptr() as usize, 64, 0), 64);
    getrandom(b.as_mut_ptr() as usize, 64, 1);
    t.check("getrandom_bytes_differ_between_calls", a != b && a != [0; 64], format_args!("same bytes"));
    t.check_eq("getrandom_zero_bytes", getrandom(a.as_mut_ptr() as usize, 0, 0), 0);
    t.check_eq("getrandom_unknown_flag_einval", getrandom(a.as_mut_ptr() as usize, 8, 0x8), -EINVAL);
    t.check_eq("getrandom_random_and_insecure_einval", getrandom(a.as_mut_ptr() as usize, 8, 6), -EINVAL);
    t.check_eq("getrandom_kernel_pointer_efault", getrandom(0xc000_0000, 8, 0), -EFAULT);
    t.finish()
}
