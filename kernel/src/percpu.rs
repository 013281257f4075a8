//! The per-CPU block: what each CPU keeps for itself (Linux `DEFINE_PER_CPU`
//! variables, gathered in one struct here).
//!
//! ```text
//!  fs:[0]   self pointer       (so the block's address is one load away)
//!  fs:[4]   CPU number         (smp_processor_id)
//!  fs:[8]   preempt count      (preemption depth + hardirq nesting)
//!  fs:[12]  current task
//!  fs:[16]  need_resched
//!  ...      run queue, IPI call queue, idle task, statistics
//! ```
//!
//! The first five fields are read and written with single `fs`-relative
//! instructions (`arch/x86/kernel/percpu.rs`), so they are safe to use even where
//! the task might migrate. Anything reached through [`this_cpu`] is a plain
//! reference to *some* CPU's block: it stays correct only while the task
//! cannot move, which [`smp_processor_id`] checks in debug builds.

use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::layout::NR_CPUS;

use crate::arch::percpu::{CPU_NUMBER_OFFSET, raw_smp_processor_id, this_cpu_base, this_cpu_read_u32};
use crate::sched::task::Task;

/// One CPU's private state.
#[repr(C, align(64))]
pub struct PerCpu {
    this: AtomicUsize,
    cpu: AtomicU32,
    pub(crate) preempt_count: AtomicU32,
    pub(crate) current: AtomicPtr<Task>,
    pub(crate) need_resched: AtomicU32,
    /// The local APIC ID of this CPU (from the ACPI MADT).
    pub apic_id: AtomicU32,
    /// Brought up and taking interrupts (IPIs may be sent to it).
    pub online: AtomicBool,
    /// The scheduler's run queue.
    pub rq: crate::sched::core::RunQueue,
    /// Requests for `smp_call_function` (the call-function IPI).
    pub call_queue: crate::smp::CallQueue,
    /// Local timer interrupts taken.
    pub timer_ticks: AtomicU64,
    /// kmap_local mappings made through this CPU's slots.
    pub kmap_local_maps: AtomicU32,
    /// kmap_local slots cleared by `sched_out` on this CPU.
    pub kmap_sched_out_slots: AtomicU32,
    /// kmap_local slots restored by `sched_in` on this CPU.
    pub kmap_sched_in_slots: AtomicU32,
    /// IPIs received, by kind.
    pub ipis_received: AtomicU64,
}

/// Fixed offsets the `fs`-relative accessors rely on.
pub const PREEMPT_COUNT_OFFSET: usize = offset_of!(PerCpu, preempt_count);
/// Offset of `current`.
pub const CURRENT_OFFSET: usize = offset_of!(PerCpu, current);
/// Offset of `need_resched`.
pub const NEED_RESCHED_OFFSET: usize = offset_of!(PerCpu, need_resched);
/// Offsets of the kmap_local counters, bumped with one unlocked `fs`-relative
/// `add` (Linux `this_cpu_inc`): no other CPU writes them, and a single
/// instruction cannot be split by an interrupt.
pub const KMAP_LOCAL_MAPS_OFFSET: usize = offset_of!(PerCpu, kmap_local_maps);
/// See [`KMAP_LOCAL_MAPS_OFFSET`].
pub const KMAP_SCHED_OUT_OFFSET: usize = offset_of!(PerCpu, kmap_sched_out_slots);
/// See [`KMAP_LOCAL_MAPS_OFFSET`].
pub const KMAP_SCHED_IN_OFFSET: usize = offset_of!(PerCpu, kmap_sched_in_slots);
const _: () = assert!(offset_of!(PerCpu, this) == 0);
const _: () = assert!(offset_of!(PerCpu, cpu) == CPU_NUMBER_OFFSET);

impl PerCpu {
    const fn new() -> PerCpu {
        PerCpu {
            this: AtomicUsize::new(0),
            cpu: AtomicU32::new(0),
            preempt_count: AtomicU32::new(0),
            current: AtomicPtr::new(core::ptr::null_mut()),
            need_resched: AtomicU32::new(0),
            apic_id: AtomicU32::new(0),
            online: AtomicBool::new(false),
            rq: crate::sched::core::RunQueue::new(),
            call_queue: crate::smp::CallQueue::new(),
            timer_ticks: AtomicU64::new(0),
            kmap_local_maps: AtomicU32::new(0),
            kmap_sched_out_slots: AtomicU32::new(0),
            kmap_sched_in_slots: AtomicU32::new(0),
            ipis_received: AtomicU64::new(0),
        }
    }

    /// This block's CPU number.
    pub fn cpu(&self) -> usize {
        self.cpu.load(Ordering::Relaxed) as usize
    }

    /// The task running on this CPU (null before the scheduler starts).
    pub fn current_ptr(&self) -> *const Task {
        self.current.load(Ordering::Acquire)
    }

    /// This CPU's preempt count, read from another CPU (reports only).
    pub fn preempt_count_snapshot(&self) -> u32 {
        self.preempt_count.load(Ordering::Relaxed)
    }
}

static PERCPU: [PerCpu; NR_CPUS] = [const { PerCpu::new() }; NR_CPUS];

/// CPU `cpu`'s block (any CPU may look at any block through atomics).
pub fn per_cpu(cpu: usize) -> &'static PerCpu {
    &PERCPU[cpu]
}

/// Make `fs` point at CPU `cpu`'s block: builds and loads that CPU's GDT.
/// Each CPU calls this for itself, first thing.
pub fn setup_cpu(cpu: usize) {
    let block = &PERCPU[cpu] as *const PerCpu as usize;
    PERCPU[cpu].this.store(block, Ordering::Relaxed);
    PERCPU[cpu].cpu.store(cpu as u32, Ordering::Relaxed);
    crate::arch::gdt::init_cpu(cpu, block, core::mem::size_of::<PerCpu>());
}

/// This CPU's block, without checks (Linux `raw_cpu_ptr`).
pub fn raw_this_cpu() -> &'static PerCpu {
    // SAFETY: fs:[0] holds the address of one of the PERCPU statics.
    unsafe { &*(this_cpu_base() as *const PerCpu) }
}

/// Debug check of Linux's `debug_smp_processor_id()`: the answer is only
/// stable if the caller cannot migrate.
#[track_caller]
fn check_preemption_disabled(what: &str) {
    if cfg!(debug_assertions)
        && crate::smp::num_online_cpus() > 1
        && this_cpu_read_u32(PREEMPT_COUNT_OFFSET) == 0
        && !crate::arch::cpu::irqs_disabled()
        && !crate::sched::preempt::migration_disabled()
    {
        let t = crate::sched::current_name_pid();
        crate::debug::report_bug(format_args!(
            "BUG: using {what} in preemptible [00000000] code: {}/{}\n  caller: {}",
            t.0.as_str(),
            t.1,
            core::panic::Location::caller()
        ));
    }
}

/// This CPU's number, checked: in a debug build, calling it where the task
/// could migrate (preemption and interrupts on, migration allowed) reports
/// a BUG, since the answer could be stale before the caller uses it.
#[track_caller]
pub fn smp_processor_id() -> usize {
    check_preemption_disabled("smp_processor_id()");
    raw_smp_processor_id()
}

/// This CPU's block, checked like [`smp_processor_id`].
#[track_caller]
pub fn this_cpu() -> &'static PerCpu {
    check_preemption_disabled("this_cpu()");
    raw_this_cpu()
}
