//! Talking to other CPUs: IPIs, running a function on other CPUs, and the
//! TLB shootdown that kmap's pool wrap needs (Linux `kernel/smp.c` and
//! `arch/x86/mm/tlb.c`).
//!
//! A TLB caches translations per CPU. Changing a kernel PTE and running
//! `invlpg` fixes only *this* CPU's TLB; another CPU may keep using the old
//! translation for as long as it likes. So whoever removes or changes a
//! kernel mapping that other CPUs may have used must interrupt them (an
//! IPI) and have each flush its own TLB, and wait until all have: that is
//! [`flush_tlb_kernel_range`].

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::layout::{NR_CPUS, PAGE_SIZE};

use crate::arch::apic::{self, CALL_FUNCTION_VECTOR, RESCHEDULE_VECTOR};
use crate::arch::paging::{flush_tlb_all_local, flush_tlb_one_kernel};
use crate::arch::percpu::raw_smp_processor_id;
use crate::percpu::per_cpu;
use crate::locking::SpinLock;

/// Above this many pages, a range flush flushes everything (Linux
/// `tlb_single_page_flush_ceiling`, 33 on x86).
pub const TLB_SINGLE_PAGE_FLUSH_CEILING: usize = 33;

/// Set once the boot CPU takes interrupts and can answer IPIs; no CPU
/// sends one before.
static IPI_READY: AtomicBool = AtomicBool::new(false);
static NR_ONLINE: AtomicUsize = AtomicUsize::new(1);

/// Counters for reports and benchmarks.
pub static RESCHEDULE_IPIS_SENT: AtomicU64 = AtomicU64::new(0);
/// See [`RESCHEDULE_IPIS_SENT`].
pub static CALL_FUNCTION_IPIS_SENT: AtomicU64 = AtomicU64::new(0);
/// Calls to [`flush_tlb_kernel_range`].
pub static TLB_SHOOTDOWNS: AtomicU64 = AtomicU64::new(0);
/// Of those, how many flushed everything (range above the ceiling).
pub static TLB_FULL_FLUSHES: AtomicU64 = AtomicU64::new(0);
/// TLB-flush IPIs sent (one per remote CPU per shootdown).
pub static TLB_FLUSH_IPIS: AtomicU64 = AtomicU64::new(0);

/// Number of CPUs online.
pub fn num_online_cpus() -> usize {
    NR_ONLINE.load(Ordering::Acquire)
}

/// Mark `cpu` online (it takes interrupts and may be sent IPIs).
pub fn set_cpu_online(cpu: usize) {
    if !per_cpu(cpu).online.swap(true, Ordering::AcqRel) && cpu != 0 {
        NR_ONLINE.fetch_add(1, Ordering::AcqRel);
    }
}

/// The boot CPU can answer IPIs from now on.
pub fn set_ipi_ready() {
    IPI_READY.store(true, Ordering::Release);
}

/// Bit mask of online CPUs.
pub fn cpu_online_mask() -> u32 {
    (0..NR_CPUS).filter(|&c| per_cpu(c).online.load(Ordering::Acquire)).fold(0, |m, c| m | 1 << c)
}

fn send(cpu: usize, vector: u8) {
    assert!(IPI_READY.load(Ordering::Acquire), "IPI to CPU {cpu} before the boot CPU can answer IPIs");
    let pc = per_cpu(cpu);
    assert!(pc.online.load(Ordering::Acquire), "IPI to offline CPU {cpu}");
    apic::send_ipi(pc.apic_id.load(Ordering::Relaxed), vector);
}

/// Make `cpu` look at its run queue (Linux `smp_send_reschedule`).
pub fn smp_send_reschedule(cpu: usize) {
    if !per_cpu(cpu).online.load(Ordering::Acquire) || !IPI_READY.load(Ordering::Acquire) {
        return; // it will find its queue when it comes up
    }
    RESCHEDULE_IPIS_SENT.fetch_add(1, Ordering::Relaxed);
    send(cpu, RESCHEDULE_VECTOR);
}

/// The reschedule IPI handler: nothing to do but note it; the return from
/// the interrupt checks need_resched, which the sender set.
pub fn reschedule_interrupt() {
    per_cpu(raw_smp_processor_id()).ipis_received.fetch_add(1, Ordering::Relaxed);
    crate::sched::preempt::set_need_resched();
}

/// One request to run `func(arg)` on a CPU; `pending` counts the CPUs that
/// still have to run it.
#[derive(Clone, Copy)]
struct CallRequest {
    func: fn(usize),
    arg: usize,
    pending: *const AtomicU32,
}

// SAFETY: `pending` points at a counter the sender keeps alive until every
// target has decremented it (the sender waits for zero).
unsafe impl Send for CallRequest {}

const CALL_QUEUE_LEN: usize = 8;

/// A CPU's queue of function-call requests.
pub struct CallQueue {
    q: SpinLock<([Option<CallRequest>; CALL_QUEUE_LEN], usize)>,
}

impl CallQueue {
    /// Empty.
    pub const fn new() -> Self {
        CallQueue { q: SpinLock::new(([None; CALL_QUEUE_LEN], 0)) }
    }

    fn push(&self, r: CallRequest) -> bool {
        let mut g = self.q.lock_irqsave();
        let (slots, n) = &mut *g;
        if *n == CALL_QUEUE_LEN {
            return false;
        }
        slots[*n] = Some(r);
        *n += 1;
        true
    }

    fn pop(&self) -> Option<CallRequest> {
        let mut g = self.q.lock_irqsave();
        let (slots, n) = &mut *g;
        if *n == 0 {
            return None;
        }
        let r = slots[0].take();
        slots.copy_within(1..*n, 0);
        *n -= 1;
        slots[*n] = None;
        r
    }
}

impl Default for CallQueue {
    fn default() -> Self {
        Self::new()
    }
}

/// The call-function IPI handler: run every queued request.
pub fn call_function_interrupt() {
    let pc = per_cpu(raw_smp_processor_id());
    pc.ipis_received.fetch_add(1, Ordering::Relaxed);
    while let Some(r) = pc.call_queue.pop() {
        (r.func)(r.arg);
        // SAFETY: the sender keeps the counter alive until it reads zero.
        unsafe { (*r.pending).fetch_sub(1, Ordering::AcqRel) };
    }
}

/// Run `func(arg)` on every online CPU in `mask` other than this one and
/// wait until all have finished (Linux `smp_call_function_many` with
/// `wait`). Must be called with interrupts enabled: two CPUs waiting for
/// each other with interrupts off would never answer.
#[track_caller]
pub fn smp_call_function_many(mask: u32, func: fn(usize), arg: usize) {
    crate::sched::preempt::preempt_disable();
    let me = raw_smp_processor_id();
    let targets = mask & cpu_online_mask() & !(1 << me);
    if targets == 0 {
        crate::sched::preempt::preempt_enable();
        return;
    }
    assert!(!crate::arch::cpu::irqs_disabled(), "smp_call_function_many with interrupts off would deadlock");
    let pending = AtomicU32::new(targets.count_ones());
    for cpu in (0..NR_CPUS).filter(|c| targets & (1 << c) != 0) {
        let req = CallRequest { func, arg, pending: &pending };
        while !per_cpu(cpu).call_queue.push(req) {
            // Its queue is full: let it drain while we run our own requests.
            call_function_interrupt();
            core::hint::spin_loop();
        }
        CALL_FUNCTION_IPIS_SENT.fetch_add(1, Ordering::Relaxed);
        send(cpu, CALL_FUNCTION_VECTOR);
    }
    while pending.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
    crate::sched::preempt::preempt_enable();
}

/// Run `func(arg)` in interrupt context on *this* CPU: queue it and send a
/// call-function IPI to ourselves, then wait until the handler has run it.
/// Tests use it to exercise code paths that must work (or must refuse to
/// work) inside an interrupt handler, on any number of CPUs. Interrupts
/// must be on.
#[track_caller]
pub fn run_in_irq(func: fn(usize), arg: usize) {
    assert!(!crate::arch::cpu::irqs_disabled(), "run_in_irq with interrupts off would wait for ever");
    crate::sched::preempt::migrate_disable();
    let me = raw_smp_processor_id();
    let pending = AtomicU32::new(1);
    assert!(per_cpu(me).call_queue.push(CallRequest { func, arg, pending: &pending }), "call queue full");
    CALL_FUNCTION_IPIS_SENT.fetch_add(1, Ordering::Relaxed);
    send(me, CALL_FUNCTION_VECTOR);
    while pending.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
    crate::sched::preempt::migrate_enable();
}

/// Run `func(arg)` on every online CPU, this one included (Linux
/// `on_each_cpu`).
pub fn on_each_cpu(func: fn(usize), arg: usize) {
    crate::sched::preempt::preempt_disable();
    smp_call_function_many(u32::MAX, func, arg);
    let flags = crate::arch::cpu::local_irq_save();
    func(arg);
    crate::arch::cpu::local_irq_restore(flags);
    crate::sched::preempt::preempt_enable();
}

fn do_flush_tlb_all(_: usize) {
    flush_tlb_all_local();
}

fn do_kernel_range_flush(packed: usize) {
    // `packed` points at (start, end) on the sender's stack, alive until
    // every CPU has finished.
    // SAFETY: see above.
    let (start, end) = unsafe { *(packed as *const (usize, usize)) };
    let mut a = start;
    while a < end {
        flush_tlb_one_kernel(a);
        a += PAGE_SIZE;
    }
}

/// Flush the kernel range `[start, end)` from every CPU's TLB and wait for
/// all of them (Linux `flush_tlb_kernel_range`). Over the ceiling, each CPU
/// flushes its whole TLB instead, as Linux does: a PKMAP wrap (1024 pages)
/// always takes that path.
pub fn flush_tlb_kernel_range(start: usize, end: usize) {
    TLB_SHOOTDOWNS.fetch_add(1, Ordering::Relaxed);
    let remote = (cpu_online_mask() & !(1 << raw_smp_processor_id())).count_ones() as u64;
    TLB_FLUSH_IPIS.fetch_add(remote, Ordering::Relaxed);
    if (end - start) / PAGE_SIZE > TLB_SINGLE_PAGE_FLUSH_CEILING {
        TLB_FULL_FLUSHES.fetch_add(1, Ordering::Relaxed);
        on_each_cpu(do_flush_tlb_all, 0);
    } else {
        let range = (start, end);
        on_each_cpu(do_kernel_range_flush, &range as *const (usize, usize) as usize);
    }
}

/// The same range flush on this CPU only: what [`flush_tlb_kernel_range`]
/// would be without its IPIs. Tests use it to show the stale translation
/// another CPU keeps.
pub fn flush_tlb_kernel_range_local(start: usize, end: usize) {
    let mut a = start;
    while a < end {
        flush_tlb_one_kernel(a);
        a += PAGE_SIZE;
    }
}
