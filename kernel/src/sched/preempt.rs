//! Preemption, interrupt context, migration and page-fault disabling
//! (Linux `include/linux/preempt.h`, `uaccess.h`, `kernel/sched/core.c`).
//!
//! The **preempt count** lives in the per-CPU block and is changed with
//! single `fs`-relative instructions. As in Linux, it packs two counters:
//!
//! ```text
//!  bits  0..7   preemption depth: preempt_disable() nesting, spinlocks held
//!  bits 16..19  hardirq depth:    interrupt handlers running on this CPU
//! ```
//!
//! The task may be preempted only when the whole count is 0. A context
//! switch saves the outgoing task's count and loads the incoming one's, so
//! the depth belongs to the task, not the CPU.
//!
//! **migrate_disable** is weaker than preempt_disable: the task can still
//! be preempted, but it resumes on the same CPU. That is all kmap_local
//! needs, since its mappings are per-CPU. **pagefault_disable** says "a
//! fault here must not be resolved (it could sleep)": kmap_atomic sets it.
//! This kernel never resolves kernel page faults anyway (no demand paging
//! of kernel memory), so its page-fault handler behaves the same either
//! way: an exception-table fixup if the instruction has one, else an oops.
//! The count is kept, and tested, for Linux's semantics.

use core::sync::atomic::{Ordering, compiler_fence};

use crate::arch::cpu::irqs_disabled;
use crate::arch::percpu::{this_cpu_add_u32, this_cpu_read_u32, this_cpu_sub_u32, this_cpu_write_u32};
use crate::percpu::{NEED_RESCHED_OFFSET, PREEMPT_COUNT_OFFSET};

/// One level of preempt_disable.
pub const PREEMPT_OFFSET: u32 = 1;
/// Bits counting preempt_disable nesting.
pub const PREEMPT_MASK: u32 = 0xff;
/// One level of hardirq nesting.
pub const HARDIRQ_OFFSET: u32 = 1 << 16;
/// Bits counting hardirq nesting.
pub const HARDIRQ_MASK: u32 = 0xf << 16;

/// This CPU's preempt count.
#[inline(always)]
pub fn preempt_count() -> u32 {
    this_cpu_read_u32(PREEMPT_COUNT_OFFSET)
}

/// Set this CPU's preempt count (context switch only).
#[inline(always)]
pub(crate) fn preempt_count_set(v: u32) {
    this_cpu_write_u32(PREEMPT_COUNT_OFFSET, v)
}

/// Disable preemption (nests).
#[inline(always)]
pub fn preempt_disable() {
    this_cpu_add_u32(PREEMPT_COUNT_OFFSET, PREEMPT_OFFSET);
    compiler_fence(Ordering::SeqCst);
}

/// Re-enable preemption without checking whether a reschedule is due.
#[inline(always)]
pub fn preempt_enable_no_resched() {
    compiler_fence(Ordering::SeqCst);
    this_cpu_sub_u32(PREEMPT_COUNT_OFFSET, PREEMPT_OFFSET);
}

/// Re-enable preemption; at the outermost level, reschedule if the timer
/// or a wake-up asked for it meanwhile.
#[inline(always)]
pub fn preempt_enable() {
    preempt_enable_no_resched();
    preempt_check_resched();
}

/// Reschedule now if that is allowed and due.
#[inline(always)]
pub fn preempt_check_resched() {
    if preempt_count() == 0 && need_resched() && !irqs_disabled() {
        crate::sched::core::preempt_schedule();
    }
}

/// Has a reschedule been requested on this CPU?
#[inline(always)]
pub fn need_resched() -> bool {
    this_cpu_read_u32(NEED_RESCHED_OFFSET) != 0
}

/// Request a reschedule on this CPU (at the next preemption point).
#[inline(always)]
pub fn set_need_resched() {
    this_cpu_write_u32(NEED_RESCHED_OFFSET, 1);
}

/// Clear the request (schedule() does this).
#[inline(always)]
pub(crate) fn clear_need_resched() {
    this_cpu_write_u32(NEED_RESCHED_OFFSET, 0);
}

/// Are we in an interrupt handler?
#[inline(always)]
pub fn in_interrupt() -> bool {
    preempt_count() & HARDIRQ_MASK != 0
}

/// Linux `in_hardirq`.
#[inline(always)]
pub fn in_hardirq() -> bool {
    in_interrupt()
}

/// Is sleeping forbidden (preemption off or in an interrupt)?
#[inline(always)]
pub fn in_atomic() -> bool {
    preempt_count() != 0
}

/// Entering an interrupt handler.
#[inline(always)]
pub fn irq_enter() {
    this_cpu_add_u32(PREEMPT_COUNT_OFFSET, HARDIRQ_OFFSET);
    compiler_fence(Ordering::SeqCst);
}

/// Leaving an interrupt handler.
#[inline(always)]
pub fn irq_exit() {
    compiler_fence(Ordering::SeqCst);
    this_cpu_sub_u32(PREEMPT_COUNT_OFFSET, HARDIRQ_OFFSET);
}

/// Pin the current task to this CPU: it may be preempted, but it always
/// resumes here. Nests. (The scheduler checks the count before moving a
/// task: load balancing skips it, wake-ups keep it on its CPU.)
///
/// Only the task itself changes its count (or an interrupt on its CPU,
/// which puts it back before returning), so a plain load and store do; no
/// locked instruction is needed on this hot path of kmap_local.
#[inline]
pub fn migrate_disable() {
    if let Some(t) = crate::sched::current_opt() {
        let n = t.migrate_disable.load(Ordering::Relaxed);
        t.migrate_disable.store(n + 1, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
    }
}

/// Undo one [`migrate_disable`].
#[track_caller]
#[inline]
pub fn migrate_enable() {
    if let Some(t) = crate::sched::current_opt() {
        compiler_fence(Ordering::SeqCst);
        let before = t.migrate_disable.load(Ordering::Relaxed);
        assert!(before > 0, "migrate_enable() without migrate_disable() in task {}", t.name());
        t.migrate_disable.store(before - 1, Ordering::Relaxed);
    }
}

/// Is the current task pinned to its CPU?
pub fn migration_disabled() -> bool {
    crate::sched::current_opt().is_none_or(|t| t.migrate_disable.load(Ordering::Relaxed) > 0)
}

/// Make page faults in this task go straight to the exception-table fixup
/// (Linux `pagefault_disable`). Nests.
pub fn pagefault_disable() {
    if let Some(t) = crate::sched::current_opt() {
        let n = t.pagefault_disabled.load(Ordering::Relaxed);
        t.pagefault_disabled.store(n + 1, Ordering::Relaxed);
    }
    compiler_fence(Ordering::SeqCst);
}

/// Undo one [`pagefault_disable`].
pub fn pagefault_enable() {
    compiler_fence(Ordering::SeqCst);
    if let Some(t) = crate::sched::current_opt() {
        let before = t.pagefault_disabled.load(Ordering::Relaxed);
        assert!(before > 0, "pagefault_enable() without pagefault_disable() in task {}", t.name());
        t.pagefault_disabled.store(before - 1, Ordering::Relaxed);
    }
}

/// Are page faults disabled for the current task?
pub fn pagefault_disabled() -> bool {
    crate::sched::current_opt().is_some_and(|t| t.pagefault_disabled.load(Ordering::Relaxed) > 0)
}

/// Annotate a function that may sleep. Called where sleeping is forbidden
/// (preemption off, in an interrupt, interrupts off), it reports Linux's
///
/// ```text
/// BUG: sleeping function called from invalid context at FILE:LINE
/// in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 7, name: worker
/// preempt_count: 1, expected: 0
/// ```
///
/// and carries on, as Linux does.
#[track_caller]
pub fn might_sleep() {
    let count = preempt_count();
    let irqs_off = irqs_disabled();
    if (count == 0 && !irqs_off) || !crate::sched::scheduler_running() {
        return;
    }
    let (name, pid) = crate::sched::current_name_pid();
    crate::debug::report_bug(format_args!(
        "BUG: sleeping function called from invalid context at {}\n\
         in_atomic(): {}, irqs_disabled(): {}, non_block: 0, pid: {}, name: {}\n\
         preempt_count: {:x}, expected: 0",
        core::panic::Location::caller(),
        (count != 0) as u8,
        irqs_off as u8,
        pid,
        name.as_str(),
        count
    ));
}
