//! Creating a process (Linux `kernel/fork.c`): `fork`, `vfork`, and
//! `clone` with `SIGCHLD` and the flags C libraries pass for a process
//! (glibc's `fork`: the tid flags; its `posix_spawn`: `CLONE_VM |
//! CLONE_VFORK` with a stack of its own); `set_tid_address`.
//!
//! ```text
//!  parent: fork()
//!    dup_mmap        the child's address space: the same VMAs, its own page
//!                    tables, every page shared and write-protected in both
//!    flush_tlb_mm    the parent's TLB, on each CPU in its mm_cpumask (its
//!                    writable PTEs just went read-only)
//!    a new task      copies the parent's registers (eax = 0 for the child),
//!                    its FPU/SSE registers, its open files, its rlimits,
//!                    and returns to user mode there
//!  parent <- the child's pid        child <- 0
//!  first write on either side -> do_wp_page copies the page (copy-on-write)
//!
//!  parent: vfork()  = clone(CLONE_VM | CLONE_VFORK | SIGCHLD, 0)
//!    no copy         the child gets a reference on the parent's address
//!                    space (Linux `mm_users++`): same pages, same page
//!                    tables, the same user stack (or `newsp`'s)
//!    a new task      as for fork, its vfork_done set to a completion
//!    the parent      sleeps on that completion (killable only)
//!  child: execve -> set_mm (exec_mmap) -> mm_release -> complete
//!     or  _exit  -> exit_mm            -> mm_release -> complete
//!  parent <- the child's pid, the child's writes to memory all visible
//! ```
//!
//! While the parent sleeps, the child runs on the parent's stack, in the
//! parent's memory: the C library makes sure vfork's own return address
//! survives (glibc's i386 `vfork` keeps it in a register across the
//! call); a child that returns from the function that called vfork, or
//! scribbles over the parent's variables, is the program's bug, exactly
//! as on Linux. Signals: a signal sent to the child is the child's (it is
//! a process of its own); one sent to the sleeping parent stays pending
//! until vfork returns, except SIGKILL, which ends the sleep
//! (`Completion::wait_for_completion_killable`).
//!
//! With a shared address space, each task's CPU enters the mm's
//! `mm_cpumask` when it loads the page directory (`switch_mm_irqs_off`),
//! so a TLB flush for it (`flush_tlb_mm_range`) reaches both.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::arch::entry::PtRegs;
use crate::errno::{EINVAL, ENOMEM};
use crate::mm::heap::{try_arc, try_box};

/// `SIGCHLD`: the signal a child's death sends its parent; the only exit
/// signal `clone` accepts here (the low byte of its flags).
const SIGCHLD: u32 = 17;
/// The low byte of clone's flags: the exit signal (Linux `CSIGNAL`).
const CSIGNAL: u32 = 0xff;
/// Write the child's tid at `parent_tid` in the parent's memory.
pub const CLONE_PARENT_SETTID: u32 = 0x0010_0000;
/// Clear (0) the child's tid at `child_tid` when it exits, and wake a
/// futex there (for `pthread_join`).
pub const CLONE_CHILD_CLEARTID: u32 = 0x0020_0000;
/// Write the child's tid at `child_tid` in the child's memory.
pub const CLONE_CHILD_SETTID: u32 = 0x0100_0000;
/// Share the address space (Linux `CLONE_VM`): no copy, one more user.
pub const CLONE_VM: u32 = 0x0000_0100;
/// Share the signal handlers (Linux `CLONE_SIGHAND`): threads. Not here.
pub const CLONE_SIGHAND: u32 = 0x0000_0800;
/// The parent sleeps until the child execs or exits (Linux `CLONE_VFORK`).
pub const CLONE_VFORK: u32 = 0x0000_4000;
/// Same thread group (Linux `CLONE_THREAD`): threads. Not here.
pub const CLONE_THREAD: u32 = 0x0001_0000;
/// The clone flags accepted (beyond the exit signal): those glibc's
/// `fork()` passes (`CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID`),
/// `CLONE_PARENT_SETTID`, and `CLONE_VM` / `CLONE_VFORK` (vfork,
/// posix_spawn; `CLONE_VM` alone is two processes sharing memory, which
/// falls out of the same code: each holds a reference and exits on its
/// own). Everything else (threads: `CLONE_THREAD`, `CLONE_SIGHAND`,
/// `CLONE_SETTLS`, `CLONE_FILES`, ...) is `-EINVAL` until it is built,
/// where Linux would make the thread or share the table.
const CLONE_SUPPORTED: u32 =
    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_VM | CLONE_VFORK;

/// What `clone` asked for beyond a copy of the process (Linux
/// `struct kernel_clone_args`, the part we use).
#[derive(Clone, Copy, Default)]
struct CloneArgs {
    flags: u32,
    /// The child's user stack pointer; 0: the parent's (Linux
    /// `copy_thread`: `if (sp) childregs->sp = sp`).
    stack: u32,
    parent_tid: usize,
    child_tid: usize,
}

/// `fork()`: a copy of the calling process. Returns the child's pid in the
/// parent and 0 in the child.
pub fn sys_fork(regs: &mut PtRegs) -> i32 {
    kernel_clone(regs, CloneArgs::default())
}

/// `vfork()`: a child that runs in the caller's address space, on its
/// stack, while the caller sleeps until the child execs or exits (Linux
/// `sys_vfork`: `kernel_clone` with `CLONE_VFORK | CLONE_VM` and
/// SIGCHLD). Returns the child's pid in the parent and 0 in the child.
pub fn sys_vfork(regs: &mut PtRegs) -> i32 {
    kernel_clone(regs, CloneArgs { flags: CLONE_VFORK | CLONE_VM | SIGCHLD, ..CloneArgs::default() })
}

/// Linux `kernel_clone` for a process: the new process, and the tids
/// written where `args` asks; with `CLONE_VFORK`, the wait until the
/// child lets go of the address space.
fn kernel_clone(regs: &mut PtRegs, args: CloneArgs) -> i32 {
    let me = crate::sched::current();
    let Some(mm) = me.mm() else { return -EINVAL };
    let child_mm = if args.flags & CLONE_VM != 0 {
        // Linux copy_mm with CLONE_VM: `mmget(oldmm)`, the same mm. Its
        // VMAs are already in their files' reverse maps.
        mm
    } else {
        // Linux `dup_mm`: `allocate_mm` (a kmem_cache_alloc), then
        // `dup_mmap`, which copies each VMA (`vm_area_dup`): each may fail,
        // and what was built is freed (the MmStruct's drop).
        let child_mm = match mm.dup_mmap().map(|m| try_arc(m)) {
            Ok(Ok(m)) => m,
            Ok(Err(_)) | Err(_) => return -ENOMEM,
        };
        // The child maps the parent's files too: enter it in their reverse maps.
        crate::mm::mmap::link_file_vmas(&child_mm);
        // dup_mmap flushed the parent's TLB entries wherever it is loaded
        // (its writable PTEs are read-only now).
        child_mm
    };
    let mut child_regs = *regs;
    child_regs.ax = 0;
    if args.stack != 0 {
        child_regs.sp = args.stack;
    }
    // Linux `p->vfork_done = &vfork`: set before the child can run, so
    // even a child that dies at once completes it.
    let vfork = match (args.flags & CLONE_VFORK != 0).then(|| try_arc(crate::sched::completion::Completion::new())) {
        Some(Err(_)) => return -ENOMEM,
        v => v.map(Result::unwrap),
    };
    let vfork_for_child = vfork.clone();
    // Linux `copy_files` -> `dup_fd`: a new table, -ENOMEM if it cannot be
    // had (the parent's files are untouched; the copy's references drop).
    let Ok(files) = me.files.lock().try_clone() else { return -ENOMEM };
    let cwd = me.cwd.lock().clone();
    let tls = me.tls_for_switch();
    let rlim = *me.rlim.lock();
    // Linux copy_fs and dup_task_struct: the umask and comm are inherited;
    // the robust list is not (the child starts with none).
    let umask = me.umask.load(Ordering::Relaxed);
    let comm = *me.comm.lock();
    let parent = me.id();
    // Handlers, mask, process group and session (Linux copy_sighand,
    // copy_signal): given to the child before it can run, so a parent's
    // setpgid(child) cannot be overwritten by the child's own start-up.
    let signals = me.signal.fork_copy();
    // The parent's x87/SSE registers as they are now (Linux `fpu_clone`):
    // the child starts with a copy.
    // (Linux `arch_dup_task_struct` copies it inside the task_struct; here
    // its own allocation, which may fail like the task's.)
    let Ok(fpu) = try_box(crate::arch::fpu::fpu_clone()) else { return -ENOMEM };
    let handle = crate::sched::spawn_prepared(
        me.name(),
        |t| {
            t.signal.fork_apply(&signals);
            // Linux dup_task_struct copies the whole task_struct, so a
            // child inherits `make_it_fail` (fault injection's task filter).
            t.make_it_fail.store(me.make_it_fail.load(Ordering::Relaxed), Ordering::Relaxed);
            // Before it can run: a parent's setpgid(child) or kill checks it.
            t.parent.store(parent, Ordering::Relaxed);
            *t.vfork_done.lock() = vfork_for_child;
        },
        move || {
            let child = crate::sched::current();
            *child.files.lock() = files;
            *child.rlim.lock() = rlim;
            child.umask.store(umask, Ordering::Relaxed);
            *child.comm.lock() = comm;
            *child.cwd.lock() = cwd;
            // The parent's TLS entries too (Linux copies thread.tls_array); we
            // are running, so load them into this CPU's GDT ourselves.
            *child.tls.lock() = tls;
            let flags = crate::arch::cpu::local_irq_save();
            crate::arch::gdt::load_tls(crate::arch::percpu::raw_smp_processor_id(), &tls);
            crate::arch::cpu::local_irq_restore(flags);
            child.set_mm(child_mm);
            crate::arch::fpu::fpu_install(&fpu);
            drop(fpu);
            if args.flags & CLONE_CHILD_CLEARTID != 0 {
                child.clear_child_tid.store(args.child_tid as u32, Ordering::Relaxed);
            }
            if args.flags & CLONE_CHILD_SETTID != 0 {
                // Linux `schedule_tail`: the child writes its own tid into its
                // own memory when it first runs; a bad pointer is ignored.
                let _ = crate::arch::lib::usercopy_32::copy_to_user(args.child_tid, &child.id().to_le_bytes());
            }
            let top = child.stack_top().expect("a task stack");
            // SAFETY: the child runs on its copy of the parent's address space
            // (or on the parent's address space itself, with CLONE_VM), where
            // the parent's user registers are valid (a bad `newsp` only faults
            // in user mode); the top of this new task's kernel stack is unused.
            unsafe { crate::arch::entry::entry_32::start_user_mode(&child_regs, top) }
        },
    );
    // Linux `copy_process` -> `dup_task_struct`: no kernel stack, -ENOMEM.
    // The closure, and the child's address space in it, are dropped.
    let Some(handle) = handle else { return -ENOMEM };
    let pid = handle.task().id() as i32;
    let child = handle.task().clone();
    me.children.lock().push(handle);
    if args.flags & CLONE_PARENT_SETTID != 0 {
        // After the copy: only the parent's memory has it (Linux
        // `kernel_clone`, whose put_user result is ignored too).
        let _ = crate::arch::lib::usercopy_32::copy_to_user(args.parent_tid, &(pid as u32).to_le_bytes());
    }
    if let Some(vfork) = vfork {
        wait_for_vfork_done(&child, &vfork);
    }
    pid
}

/// The vfork parent's sleep (Linux `wait_for_vfork_done`): until the
/// child execs or exits (`mm_release` completes `vfork`), or until the
/// parent is killed. Linux 6.1 sleeps in `TASK_KILLABLE | TASK_FREEZABLE`
/// (no freezer here). Killed, the parent forgets the completion in the
/// child (Linux sets `child->vfork_done = NULL`) and returns: vfork still
/// returns the pid, and the pending SIGKILL ends the parent on its way to
/// user mode while the child runs on in the address space (it holds its
/// own reference on it).
fn wait_for_vfork_done(child: &Arc<crate::sched::task::Task>, vfork: &crate::sched::completion::Completion) {
    if vfork.wait_for_completion_killable().is_err() {
        *child.vfork_done.lock() = None;
    }
}

/// `clone(flags, newsp, parent_tid, tls, child_tid)`, in i386's argument
/// order (Linux `CONFIG_CLONE_BACKWARDS`: tls before child_tid, so ebx,
/// ecx, edx, esi, edi). Processes only.
///
/// glibc's `fork()` is `clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID |
/// SIGCHLD, 0, NULL, NULL, &THREAD_SELF->tid)`: the child's tid lands in
/// its own thread descriptor. Its `posix_spawn` is `clone(CLONE_VM |
/// CLONE_VFORK | SIGCHLD, stack)` (after clone3, which is `-ENOSYS`
/// here): the child runs on a stack the parent allocated, in the parent's
/// memory, and the parent sleeps until it execs or exits.
///
/// `newsp`, if not 0, is the child's stack pointer, with or without
/// CLONE_VM (Linux `copy_thread`).
///
/// Checked in Linux's order (`copy_process`), all `-EINVAL`:
/// `CLONE_THREAD` without `CLONE_SIGHAND`, `CLONE_SIGHAND` without
/// `CLONE_VM`. Then ours, where Linux would go on: an exit signal other
/// than SIGCHLD (Linux accepts any, 0 included, for children waited with
/// `__WCLONE`), and any flag outside [`CLONE_SUPPORTED`] (Linux makes the
/// thread, shares the file table, ...).
pub fn sys_clone(regs: &mut PtRegs) -> i32 {
    let (flags, newsp, parent_tid, child_tid) = (regs.bx, regs.cx, regs.dx as usize, regs.di as usize);
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return -EINVAL;
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return -EINVAL;
    }
    if flags & CSIGNAL != SIGCHLD || flags & !CSIGNAL & !CLONE_SUPPORTED != 0 {
        return -EINVAL;
    }
    kernel_clone(regs, CloneArgs { flags, stack: newsp, parent_tid, child_tid })
}

/// `set_tid_address(tidptr)`: where to clear the caller's tid at exit
/// (Linux `clear_child_tid`); returns the caller's tid (= pid here). The
/// pointer is not checked: a bad one only makes the exit's write fail.
pub fn sys_set_tid_address(regs: &mut PtRegs) -> i32 {
    let me = crate::sched::current();
    me.clear_child_tid.store(regs.bx, Ordering::Relaxed);
    me.id() as i32
}

/// A task lets go of its address space, at exit or exec (Linux
/// `mm_release`, from `exit_mm_release` and `exec_mm_release`):
///
/// * if it has a `clear_child_tid` and the address space is still used by
///   someone else (Linux: `mm_users > 1`: threads, or a `CLONE_VM`
///   process), write 0 there and wake a futex waiter on it
///   (`pthread_join`). Alone in its address space, like Linux for a
///   single-threaded process, nothing is written (nobody could see it).
///   There is no futex yet either: the wake would be a no-op. The pointer
///   is forgotten either way.
/// * if it is a vfork child, its parent wakes (Linux
///   `complete_vfork_done`): the child is off their shared address space.
pub fn mm_release(task: &crate::sched::task::Task, mm: &Arc<crate::mm::mm_types::MmStruct>) {
    let tid = task.clear_child_tid.swap(0, Ordering::Relaxed) as usize;
    // Called by the task itself, its page directory still loaded. (The
    // count includes short-lived references, e.g. a report's: then the 0
    // lands in memory nobody reads any more, which is harmless.)
    if tid != 0 && Arc::strong_count(mm) > 1 {
        let _ = crate::arch::lib::usercopy_32::copy_to_user(tid, &0u32.to_le_bytes());
        // futex_wake(tid, 1) goes here once futexes exist.
    }
    if let Some(vfork) = task.vfork_done.lock().take() {
        vfork.complete();
    }
}

/// `getppid()`: the parent's pid (0 for a process the kernel started).
pub fn sys_getppid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().parent.load(Ordering::Relaxed) as i32
}
