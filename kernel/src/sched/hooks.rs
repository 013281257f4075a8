//! The two hook points of the context switch, and the exit check.
//!
//! `sched_out(prev)` runs on prev's stack just before the stack switch, with
//! interrupts off and the run-queue lock held; `sched_in(next)` runs on
//! next's stack right after it, once the lock is released (Linux calls
//! `kmap_local_sched_out` from `prepare_task_switch` and
//! `kmap_local_sched_in` from `finish_task_switch`, at the same two places).
//! The highmem subsystem plugs its per-task kmap_local slots in here: a task
//! switched out must not leave its mappings in this CPU's fixmap slots, and
//! gets them back when it returns. The FPU state of user programs is saved
//! and restored at the same two points (Linux's `switch_fpu_prepare` and
//! `switch_fpu_finish`, in `__switch_to`; `arch/x86/kernel/fpu.rs`).

use core::sync::atomic::Ordering;

use super::task::Task;

/// Before the switch away from `prev` (current is still `prev`).
pub fn sched_out(prev: &Task) {
    prev.nr_sched_out.fetch_add(1, Ordering::Relaxed);
    crate::mm::kmap_local::sched_out(prev);
    crate::arch::fpu::switch_fpu_prepare(prev);
}

/// After the switch to `next` (current is `next`).
pub fn sched_in(next: &Task) {
    next.nr_sched_in.fetch_add(1, Ordering::Relaxed);
    crate::mm::kmap_local::sched_in(next);
    crate::arch::fpu::switch_fpu_finish(next);
}

/// A task is about to exit: it must not hold kmap_local mappings. If it
/// does, say so, and clear them, or their PTEs would stay in this CPU's
/// slots and the next task to map one would find it taken. (Linux checks
/// only on fork and on return to user space.)
pub fn check_exit(task: &Task) {
    let cfg = crate::mm::kmap_local::config();
    let held = task.kmap_ctrl_snapshot().nr_mapped(cfg);
    if held != 0 {
        crate::debug::report_bug(format_args!(
            "BUG: task {}/{} exiting on CPU {} with {} kmap_local mapping(s) held (cleared)",
            task.name(),
            task.id(),
            task.cpu(),
            held
        ));
        let flags = crate::arch::cpu::local_irq_save();
        crate::mm::kmap_local::sched_out(task);
        task.with_kmap_ctrl(|c| *c = mm::kmap_local::KmapCtrl::new());
        crate::arch::cpu::local_irq_restore(flags);
    }
}
