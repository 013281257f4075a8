//! Hardware interrupts and IPIs: from the vector to the handler, and the
//! preemption check on the way out (Linux `arch/x86/kernel/irq.c`,
//! `entry_32.S`'s `resume_kernel`).
//!
//! ```text
//!  isr_common -> trap_dispatch -> do_irq(frame)
//!     irq_enter()                 hardirq count +1: in_interrupt() is true
//!     on this CPU's IRQ stack:    the handler (timer tick, IPI, device)
//!     eoi()                       before any switch, or the APIC blocks
//!     irq_exit()
//!     preempt_count == 0, need_resched, and the interrupted code had
//!     interrupts on?  -> preempt_schedule_irq(): switch tasks right here,
//!                        on the interrupted task's stack
//! ```

use core::arch::global_asm;
use core::sync::atomic::{AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::layout::NR_CPUS;

use super::apic::{self, CALL_FUNCTION_VECTOR, ERROR_APIC_VECTOR, IRQ0_VECTOR, LOCAL_TIMER_VECTOR, RESCHEDULE_VECTOR, SPURIOUS_APIC_VECTOR};
use super::cpu::EFLAGS_IF;
use crate::arch::entry::TrapFrame;
use super::percpu::raw_smp_processor_id;
use crate::sched::preempt::{irq_enter, irq_exit, need_resched, preempt_count};

/// Interrupts taken per vector, all CPUs (for reports).
pub static IRQ_COUNTS: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];

/// A device interrupt handler, registered per legacy IRQ line.
pub type IrqHandler = fn();
static IRQ_HANDLERS: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];

/// Top of each CPU's interrupt stack (0: none yet, run on the task's stack).
static IRQ_STACK_TOP: [AtomicUsize; NR_CPUS] = [const { AtomicUsize::new(0) }; NR_CPUS];

/// Give `cpu` its own interrupt stack.
pub fn set_irq_stack(cpu: usize, top: usize) {
    IRQ_STACK_TOP[cpu].store(top, Ordering::Release);
}

/// Run `handler` when legacy IRQ `irq` fires (after the I/O APIC routes it).
pub fn request_irq(irq: u8, handler: IrqHandler) {
    IRQ_HANDLERS[irq as usize].store(handler as usize, Ordering::Release);
}

unsafe extern "C" {
    /// Call `f(arg)` with the stack pointer at `stack_top`; back on the old
    /// stack afterwards.
    fn call_on_stack(f: extern "C" fn(u32), arg: u32, stack_top: usize);
}

global_asm!(
    r#"
    .section .text
    .global call_on_stack
call_on_stack:
    push ebp
    mov ebp, esp
    mov eax, [ebp + 8]      // f
    mov ecx, [ebp + 12]     // arg
    mov esp, [ebp + 16]     // the new stack
    push ecx
    call eax
    mov esp, ebp
    pop ebp
    ret
    "#
);

extern "C" fn handle_vector(vector: u32) {
    let vector = vector as u8;
    match vector {
        LOCAL_TIMER_VECTOR => {
            apic::eoi();
            crate::sched::core::scheduler_tick();
        }
        RESCHEDULE_VECTOR => {
            apic::eoi();
            crate::smp::reschedule_interrupt();
        }
        CALL_FUNCTION_VECTOR => {
            apic::eoi();
            crate::smp::call_function_interrupt();
        }
        ERROR_APIC_VECTOR => {
            apic::eoi();
            log::warn!("APIC error interrupt on CPU {}", raw_smp_processor_id());
        }
        v if (IRQ0_VECTOR..IRQ0_VECTOR + 16).contains(&v) => {
            let irq = (v - IRQ0_VECTOR) as usize;
            let h = IRQ_HANDLERS[irq].load(Ordering::Acquire);
            if h != 0 {
                // SAFETY: only request_irq stores here, always an IrqHandler.
                let f: IrqHandler = unsafe { core::mem::transmute::<usize, IrqHandler>(h) };
                f();
            } else {
                log::warn!("IRQ {irq} (vector {v:#x}) with no handler on CPU {}", raw_smp_processor_id());
            }
            apic::eoi();
        }
        v => {
            apic::eoi();
            log::warn!("unexpected interrupt on vector {v:#x}, CPU {}", raw_smp_processor_id());
        }
    }
}

/// Entry from `trap_dispatch` for every vector from 32 up.
pub fn do_irq(frame: &mut TrapFrame) {
    let vector = frame.vector as u8;
    IRQ_COUNTS[vector as usize].fetch_add(1, Ordering::Relaxed);
    if vector == SPURIOUS_APIC_VECTOR {
        return; // no EOI for a spurious interrupt
    }
    let nested = preempt_count() & crate::sched::preempt::HARDIRQ_MASK != 0;
    irq_enter();
    let top = IRQ_STACK_TOP[raw_smp_processor_id()].load(Ordering::Acquire);
    if nested || top == 0 {
        handle_vector(vector as u32);
    } else {
        // SAFETY: the IRQ stack is this CPU's, unused (we are not nested),
        // mapped, and handle_vector returns normally.
        unsafe { call_on_stack(handle_vector, vector as u32, top) };
    }
    irq_exit();
    if preempt_count() == 0 && need_resched() && frame.eflags & EFLAGS_IF != 0 {
        crate::sched::core::preempt_schedule_irq();
    }
}
