//! Creating a process (Linux `kernel/fork.c`): `fork`, and `clone` with
//! `SIGCHLD` and the tid flags glibc's fork passes, which is how C
//! libraries call it; `set_tid_address`.
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
//! ```

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::arch::entry::PtRegs;
use crate::errno::{EINVAL, ENOMEM};

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
/// The clone flags accepted (beyond the exit signal): those glibc's
/// `fork()` passes (`CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID`) and
/// `CLONE_PARENT_SETTID`. Everything else (threads: `CLONE_VM`,
/// `CLONE_THREAD`, `CLONE_SETTLS`, ...) is `-EINVAL` until it is built.
const CLONE_SUPPORTED: u32 = CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID;

/// What `clone` asked for beyond a copy of the process (Linux
/// `struct kernel_clone_args`, the part we use).
#[derive(Clone, Copy, Default)]
struct CloneArgs {
    flags: u32,
    parent_tid: usize,
    child_tid: usize,
}

/// `fork()`: a copy of the calling process. Returns the child's pid in the
/// parent and 0 in the child.
pub fn sys_fork(regs: &mut PtRegs) -> i32 {
    kernel_clone(regs, CloneArgs::default())
}

/// Linux `kernel_clone` for a fork: the new process, and the tids written
/// where `args` asks.
fn kernel_clone(regs: &mut PtRegs, args: CloneArgs) -> i32 {
    let me = crate::sched::current();
    let Some(mm) = me.mm() else { return -EINVAL };
    let child_mm = match mm.dup_mmap() {
        Ok(m) => Arc::new(m),
        Err(_) => return -ENOMEM,
    };
    // The child maps the parent's files too: enter it in their reverse maps.
    crate::mm::mmap::link_file_vmas(&child_mm);
    // dup_mmap flushed the parent's TLB entries wherever it is loaded (its
    // writable PTEs are read-only now).
    let mut child_regs = *regs;
    child_regs.ax = 0;
    let files = me.files.lock().clone();
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
    let fpu = alloc::boxed::Box::new(crate::arch::fpu::fpu_clone());
    let handle = crate::sched::spawn_prepared(
        me.name(),
        |t| {
            t.signal.fork_apply(&signals);
            // Before it can run: a parent's setpgid(child) or kill checks it.
            t.parent.store(parent, Ordering::Relaxed);
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
            // SAFETY: the child runs on its copy of the parent's address space,
            // where the parent's user registers are valid; the top of this new
            // task's kernel stack is unused.
            unsafe { crate::arch::entry::entry_32::start_user_mode(&child_regs, top) }
        },
    );
    let pid = handle.task().id() as i32;
    me.children.lock().push(handle);
    if args.flags & CLONE_PARENT_SETTID != 0 {
        // After the copy: only the parent's memory has it (Linux
        // `kernel_clone`, whose put_user result is ignored too).
        let _ = crate::arch::lib::usercopy_32::copy_to_user(args.parent_tid, &(pid as u32).to_le_bytes());
    }
    pid
}

/// `clone(flags, newsp, parent_tid, tls, child_tid)`, in i386's argument
/// order (Linux `CONFIG_CLONE_BACKWARDS`: tls before child_tid, so ebx,
/// ecx, edx, esi, edi). Processes only: the exit signal must be SIGCHLD,
/// `newsp` 0 (the child uses the parent's stack, copied), and the flags
/// among [`CLONE_SUPPORTED`]; anything else is `-EINVAL` (threads need
/// shared address spaces, which are not here yet).
///
/// glibc's `fork()` is `clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID |
/// SIGCHLD, 0, NULL, NULL, &THREAD_SELF->tid)`: the child's tid lands in
/// its own thread descriptor.
pub fn sys_clone(regs: &mut PtRegs) -> i32 {
    let (flags, newsp, parent_tid, child_tid) = (regs.bx, regs.cx, regs.dx as usize, regs.di as usize);
    if flags & CSIGNAL != SIGCHLD || flags & !CSIGNAL & !CLONE_SUPPORTED != 0 || newsp != 0 {
        return -EINVAL;
    }
    kernel_clone(regs, CloneArgs { flags, parent_tid, child_tid })
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
/// `mm_release`): if it has a `clear_child_tid` and the address space is
/// still used by someone else (Linux: `mm_users > 1`, i.e. threads), write
/// 0 there and wake a futex waiter on it (`pthread_join`). Without threads
/// (no `CLONE_VM`) nobody else can see that memory, so, like Linux for a
/// single-threaded process, nothing is written. There is no futex yet
/// either: the wake would be a no-op. The pointer is forgotten either way.
pub fn mm_release(task: &crate::sched::task::Task, mm: &Arc<crate::mm::mm_types::MmStruct>) {
    let tid = task.clear_child_tid.swap(0, Ordering::Relaxed) as usize;
    // Called by the task itself, its page directory still loaded. (The
    // count includes short-lived references, e.g. a report's: then the 0
    // lands in memory nobody reads any more, which is harmless.)
    if tid != 0 && Arc::strong_count(mm) > 1 {
        let _ = crate::arch::lib::usercopy_32::copy_to_user(tid, &0u32.to_le_bytes());
        // futex_wake(tid, 1) goes here once futexes exist.
    }
}

/// `getppid()`: the parent's pid (0 for a process the kernel started).
pub fn sys_getppid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().parent.load(Ordering::Relaxed) as i32
}
