//! `vfork` and `clone(CLONE_VM | CLONE_VFORK)` (kernel/src/fork.rs, Linux
//! `kernel/fork.c`): the child shares the parent's address space, and the
//! parent sleeps until the child lets go of it (`mm_release`, at exec or
//! exit), killable only.
//!
//! The pieces are checked here from inside: exec's switch (`set_mm`) and
//! exit (`exit_mm`) complete the parent's wait, and the child's exit
//! drops only its reference on the shared address space; the parent's
//! sleep ignores every signal but SIGKILL; both tasks' CPUs enter the
//! shared mm's `mm_cpumask`; the flags we refuse. What a program sees
//! (ordering, shared memory, stacks, statuses, errnos) is `vforktest`,
//! run natively on Linux by tests/user.sh and here by
//! `vforktest_passes_here`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};

use super::user::address_space_with;
use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::errno::{EINVAL, ERESTARTSYS};
use crate::sched::completion::Completion;
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus};

pub const TESTS: &[Test] = &[
    test_case!(exec_replacing_the_mm_wakes_the_vfork_parent),
    test_case!(a_vfork_childs_exit_wakes_the_parent_and_drops_only_its_reference),
    test_case!(a_vfork_parents_sleep_ends_for_sigkill_not_for_other_signals),
    test_case!(a_shared_mm_is_in_the_cpumask_of_both_tasks_cpus),
    test_case!(clone_flags_we_refuse_are_einval),
    test_case!(vforktest_passes_here),
];

/// exec switches to a new address space with `set_mm` (Linux
/// `exec_mmap` -> `exec_mm_release`): a task with a `vfork_done`
/// completes it there, once, and forgets it.
fn exec_replacing_the_mm_wakes_the_vfork_parent() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let vfork = Arc::new(Completion::new());
    *me.vfork_done.lock() = Some(vfork.clone());
    assert!(!vfork.is_done());
    me.set_mm(address_space_with(&[0x90]));
    assert!(vfork.is_done(), "the switch to the new address space completed the vfork");
    assert!(me.vfork_done.lock().is_none(), "and forgot it");
    vfork.wait_for_completion();
    me.set_mm(address_space_with(&[0x90]));
    assert!(!vfork.is_done(), "completed once only");
}

/// A vfork child (here a task given the parent's address space, as
/// `kernel_clone` gives it with CLONE_VM) exits: `exit_mm` completes the
/// parent's wait, and the address space lives on, the child's reference
/// gone (Linux `mmput`, not `exit_mmap`).
fn a_vfork_childs_exit_wakes_the_parent_and_drops_only_its_reference() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mm = me.mm().expect("an address space");
    let users = Arc::strong_count(&mm);
    let vfork = Arc::new(Completion::new());
    let (child_mm, child_vfork) = (mm.clone(), vfork.clone());
    let h = crate::sched::spawn_prepared(
        "vfork-child",
        |t| *t.vfork_done.lock() = Some(child_vfork),
        move || {
            crate::sched::current().set_mm(child_mm);
            crate::sched::msleep(20);
        },
    ).expect("a kernel stack");
    assert_eq!(vfork.wait_for_completion_killable(), Ok(()));
    assert!(h.task().vfork_done.lock().is_none());
    h.join();
    assert_eq!(Arc::strong_count(&mm), users, "the child's reference is gone, the parent's are left");
    // Its pages are still there: the parent reads its code page.
    let mut b = [0u8; 1];
    assert_eq!(crate::arch::lib::usercopy_32::copy_from_user(&mut b, super::user::TEXT), 0, "the shared address space is intact");
    assert_eq!(b[0], 0x90);
}

/// The parent sleeps TASK_KILLABLE in Linux: a SIGUSR1 (pending, kept
/// for later) does not end the sleep; SIGKILL does, with -ERESTARTSYS.
fn a_vfork_parents_sleep_ends_for_sigkill_not_for_other_signals() {
    let vfork = Arc::new(Completion::new());
    let (result, ready) = (Arc::new(AtomicI32::new(1)), Arc::new(AtomicBool::new(false)));
    let h = {
        let (vfork, result, ready) = (vfork.clone(), result.clone(), ready.clone());
        crate::sched::spawn("vfork-parent", move || {
            // A process (signals reach it) with the test task's kind of memory.
            crate::sched::current().set_mm(address_space_with(&[0x90]));
            ready.store(true, SeqCst);
            let r = vfork.wait_for_completion_killable();
            result.store(r.err().unwrap_or(0), SeqCst);
        })
    };
    while !ready.load(SeqCst) {
        crate::sched::msleep(1);
    }
    crate::sched::msleep(20);
    crate::signal::send_sig(crate::signal::SIGUSR1, h.task());
    crate::sched::msleep(50);
    assert_eq!(result.load(SeqCst), 1, "SIGUSR1 did not end the sleep");
    assert!(h.task().signal.pending() & crate::signal::sigmask(crate::signal::SIGUSR1) != 0, "SIGUSR1 stays pending");
    crate::signal::send_sig(crate::signal::SIGKILL, h.task());
    h.join();
    assert_eq!(result.load(SeqCst), -ERESTARTSYS, "SIGKILL ended it");
    assert!(!vfork.is_done());
}

/// Parent on CPU 0 and child on CPU 1 in one address space: both CPUs
/// are in its `mm_cpumask`, so a TLB flush of it (`flush_tlb_mm_range`,
/// which interrupts the CPUs in the mask) reaches both.
fn a_shared_mm_is_in_the_cpumask_of_both_tasks_cpus() {
    require_cpus(2);
    crate::sched::core::set_current_affinity(1 << 0);
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mm = me.mm().expect("an address space");
    let (seen, done) = (Arc::new(AtomicI32::new(0)), Arc::new(AtomicBool::new(false)));
    let h = {
        let (mm, seen, done) = (mm.clone(), seen.clone(), done.clone());
        crate::sched::spawn_on(1, "vfork-child", move || {
            crate::sched::current().set_mm(mm.clone());
            seen.store(mm.core().mm_cpumask.load(SeqCst) as i32, SeqCst);
            while !done.load(SeqCst) {
                core::hint::spin_loop();
            }
        })
    };
    while seen.load(SeqCst) == 0 {
        crate::sched::yield_now();
    }
    assert_eq!(seen.load(SeqCst) & 0b11, 0b11, "CPU 0 (the parent's) and CPU 1 (the child's)");
    done.store(true, SeqCst);
    h.join();
    crate::sched::core::set_current_affinity(crate::sched::task::CPU_MASK_ALL);
}

/// `clone(flags, newsp, ...)` through the system-call table.
fn clone(flags: u32, newsp: u32) -> i32 {
    let mut regs = PtRegs { bx: flags, cx: newsp, orig_ax: nr::CLONE as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr::CLONE).expect("clone is in the table")(&mut regs)
}

/// Linux's own refusals (`copy_process`), and ours where Linux would go
/// on (say so: each is a difference from Linux 6.1 until threads exist).
fn clone_flags_we_refuse_are_einval() {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    const SIGCHLD: u32 = 17;
    use crate::fork::{CLONE_SIGHAND, CLONE_THREAD, CLONE_VFORK, CLONE_VM};
    // Linux too.
    assert_eq!(clone(CLONE_SIGHAND | SIGCHLD, 0), -EINVAL, "CLONE_SIGHAND without CLONE_VM");
    assert_eq!(clone(CLONE_THREAD | CLONE_VM | SIGCHLD, 0x0805_8000), -EINVAL, "CLONE_THREAD without CLONE_SIGHAND");
    // Ours: glibc's pthread_create (CLONE_VM | CLONE_FS | CLONE_FILES |
    // CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
    // CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID): Linux makes a thread
    // and returns its tid.
    assert_eq!(clone(0x003d_0f00, 0x0805_8000), -EINVAL, "a thread");
    assert_eq!(clone(0x003d_0f00 | SIGCHLD, 0x0805_8000), -EINVAL, "a thread, with SIGCHLD");
    // Ours: CLONE_FILES (0x400), a shared descriptor table.
    assert_eq!(clone(0x0400 | SIGCHLD, 0), -EINVAL, "CLONE_FILES");
    // Ours: an exit signal other than SIGCHLD (Linux accepts any, 0 too).
    assert_eq!(clone(CLONE_VM | CLONE_VFORK, 0x0805_8000), -EINVAL, "exit signal 0");
    assert!(crate::sched::current().children.lock().is_empty(), "no child was made");
}

/// The user-space checks, in this kernel (their output is compared with
/// Linux's by `./run-qemu.sh user-test`).
fn vforktest_passes_here() {
    let argv: Vec<Vec<u8>> = alloc::vec![b"/bin/vforktest".to_vec()];
    assert_eq!(crate::fs::exec::spawn_user("/bin/vforktest", argv, Vec::new()).join(), 0);
}
