//! `wait4` (kernel/exit.rs, Linux `kernel/exit.c`): `wait4(-1)` reaps
//! whichever child has already ended, and otherwise sleeps until *any*
//! child ends, not the oldest in particular; and every hostile argument
//! gets Linux's errno.
//!
//! The children here are kernel threads put on the test task's own list
//! of children, as `fork` puts a process's: `wait4` sees only that list
//! and each child's end, so it cannot tell them from forked processes,
//! and a test can decide exactly when each one ends. The same order of
//! ends is checked from user space by `forktest`
//! (`wait4_minus_1_reaps_the_child_that_ended_first`), on Linux too.

use core::sync::atomic::{AtomicBool, Ordering::SeqCst};

use alloc::sync::Arc;

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::copy_from_user;
use crate::errno::{ECHILD, EFAULT, EINVAL, ESRCH};
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(wait4_minus_1_sleeps_until_any_child_ends_not_the_oldest),
    test_case!(wait4_minus_1_reaps_the_zombie_first_even_with_wnohang),
    test_case!(wait4_bad_arguments_get_linuxs_errno),
    test_case!(wait4_fills_the_childs_rusage),
];

/// `wait4(pid, status, options, rusage)` through the system-call table.
fn wait4(pid: i32, status: usize, options: u32, rusage: usize) -> i32 {
    let mut regs = PtRegs {
        bx: pid as u32,
        cx: status as u32,
        dx: options,
        si: rusage as u32,
        orig_ax: nr::WAIT4 as u32,
        ..PtRegs::default()
    };
    ia32_sys_call_table(nr::WAIT4).expect("wait4 is in the table")(&mut regs)
}

/// Give the test task an address space (for the status word at DATA) and
/// no children left over from anything else.
fn setup() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    assert!(me.children.lock().is_empty(), "the test task starts with no children");
}

/// A child of the current task that ends with wait status `status` once
/// `go` is set (and `delay_ms` more have passed); its pid.
fn child(status: i32, go: &Arc<AtomicBool>, delay_ms: u64) -> i32 {
    let go = go.clone();
    let h = crate::sched::spawn("wait-child", move || {
        while !go.load(SeqCst) {
            crate::sched::msleep(1);
        }
        crate::sched::msleep(delay_ms);
        crate::sched::exit(status)
    });
    let pid = h.task().id() as i32;
    crate::sched::current().children.lock().push(h);
    pid
}

fn status_word() -> i32 {
    let mut b = [0u8; 4];
    assert_eq!(copy_from_user(&mut b, DATA), 0);
    i32::from_le_bytes(b)
}

/// Both children start together; the older ends after 1 s, the younger
/// after 20 ms. `wait4(-1)` must sleep (no zombie yet) and come back with
/// the younger one, while the older still lives: waiting on the oldest
/// child (the old behaviour) would return the older one, a second later.
fn wait4_minus_1_sleeps_until_any_child_ends_not_the_oldest() {
    setup();
    let go = Arc::new(AtomicBool::new(false));
    let older = child(1 << 8, &go, 1000);
    let younger = child(2 << 8, &go, 20);
    let t0 = crate::sched::core::jiffies();
    go.store(true, SeqCst);
    assert_eq!(wait4(-1, DATA, 0, 0), younger, "the child that ended, not the oldest (pid {older})");
    assert_eq!(status_word(), 2 << 8, "its status");
    let slept = crate::sched::core::jiffies() - t0;
    assert!((10..900).contains(&slept), "wait4 slept until the younger child ended (about 20 ms), not {slept} ms");
    assert_eq!(wait4(-1, DATA, 1, 0), 0, "WNOHANG: the older child is alive");
    assert_eq!(wait4(-1, DATA, 0, 0), older, "then the older one");
    assert_eq!(status_word(), 1 << 8);
    assert_eq!(wait4(-1, DATA, 0, 0), -ECHILD, "no children left");
}

/// Both children released; the younger ends at once and is a zombie
/// before wait4 is called, the older sleeps 500 ms first. `wait4(-1,
/// WNOHANG)` reaps the zombie (it used to look at the oldest child only
/// and say 0).
fn wait4_minus_1_reaps_the_zombie_first_even_with_wnohang() {
    setup();
    let go = Arc::new(AtomicBool::new(true));
    let older = child(3 << 8, &go, 500);
    let younger = child(4 << 8, &go, 0);
    let me = crate::sched::current();
    let deadline = crate::sched::core::jiffies() + 400;
    while !me.children.lock().iter().any(|h| h.task().id() as i32 == younger && h.task().state() == crate::sched::task::TASK_DEAD) {
        assert!(crate::sched::core::jiffies() < deadline, "the younger child never ended");
        crate::sched::msleep(1);
    }
    crate::sched::msleep(5); // off its CPU too
    assert_eq!(wait4(-1, DATA, 1, 0), younger, "the zombie, with WNOHANG");
    assert_eq!(status_word(), 4 << 8);
    assert_eq!(wait4(0, DATA, 0, 0), older, "pid 0 (our process group: every child) sleeps for the other");
    assert_eq!(status_word(), 3 << 8);
}

/// Linux's `kernel_wait4` and `do_wait` errnos: unknown option bits
/// (WEXITED = 4 is waitid's, not wait4's) EINVAL; pid INT_MIN ESRCH; a
/// pid that is not a child, a process group with no child of ours,
/// `__WCLONE` (only fork children here) ECHILD; a bad status pointer
/// EFAULT with the child reaped all the same, and so for a bad rusage
/// pointer (after the status was written).
fn wait4_bad_arguments_get_linuxs_errno() {
    setup();
    let go = Arc::new(AtomicBool::new(true));
    let a = child(5 << 8, &go, 0);
    assert_eq!(wait4(-1, DATA, 4, 0), -EINVAL, "WEXITED is not a wait4 option");
    assert_eq!(wait4(-1, DATA, 0x10, 0), -EINVAL, "an unknown bit");
    assert_eq!(wait4(i32::MIN, DATA, 0, 0), -ESRCH, "INT_MIN has no negation");
    assert_eq!(wait4(a + 1000, DATA, 0, 0), -ECHILD, "not our child");
    assert_eq!(wait4(-(a + 1000), DATA, 0, 0), -ECHILD, "a process group with none of ours");
    assert_eq!(wait4(-1, DATA, 0x8000_0000, 0), -ECHILD, "__WCLONE: no clone children here");
    assert_eq!(wait4(a, DATA, 0x2 | 0x8 | 0x2000_0000 | 0x4000_0000, 0), a, "WUNTRACED, WCONTINUED, __WNOTHREAD, __WALL are accepted");
    assert_eq!(status_word(), 5 << 8);
    let b = child(6 << 8, &go, 0);
    assert_eq!(wait4(-1, 0xc000_0000, 0, 0), -EFAULT, "a kernel address for the status");
    assert_eq!(wait4(b, DATA, 0, 0), -ECHILD, "but the child was reaped all the same");
    let d = child(8 << 8, &go, 0);
    assert_eq!(wait4(-1, DATA, 0, 0xc000_0000), -EFAULT, "a kernel address for the rusage");
    assert_eq!(status_word(), 8 << 8, "the status was written first");
    assert_eq!(wait4(d, DATA, 0, 0), -ECHILD, "and the child reaped all the same");
    let c = child(7 << 8, &go, 0);
    assert_eq!(wait4(-1, 0, 0, 0), c, "a NULL status is allowed");
    assert_eq!(wait4(-1, DATA, 1, 0), -ECHILD, "WNOHANG with no children at all is ECHILD, not 0");
}

/// A rusage pointer gets the child's `struct rusage` (72 bytes; busybox's
/// `time` asks for it): its context switches, voluntary (`ru_nvcsw`, at
/// 64: at least the sleep and its death) and preempted (`ru_nivcsw`, at
/// 68); no CPU times (no accounting yet: a difference from Linux, see
/// `exit.rs`); nothing past the 72 bytes.
fn wait4_fills_the_childs_rusage() {
    setup();
    let go = Arc::new(AtomicBool::new(true));
    let ru = DATA + 64;
    assert_eq!(crate::arch::lib::usercopy_32::copy_to_user(ru, &[0xa5u8; 80]), 0);
    let a = child(9 << 8, &go, 5);
    let task = crate::sched::current().children.lock().iter().find(|h| h.task().id() as i32 == a).expect("the child").task().clone();
    assert_eq!(wait4(a, DATA, 0, ru), a);
    assert_eq!(status_word(), 9 << 8);
    let mut b = [0u8; 80];
    assert_eq!(copy_from_user(&mut b, ru), 0);
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!(&b[..16], &[0u8; 16], "ru_utime, ru_stime: not accounted here");
    let (out, preempted) = (task.nr_sched_out.load(SeqCst) as u32, task.nr_preemptions.load(SeqCst) as u32);
    assert!(word(64) >= 2, "ru_nvcsw {}: its msleep and its death", word(64));
    assert_eq!((word(64), word(68)), (out - preempted, preempted), "ru_nvcsw, ru_nivcsw: its switches off a CPU, voluntary and preempted");
    assert_eq!(&b[72..], &[0xa5u8; 8], "72 bytes written, no more");
}
