//! The scheduler (Linux `kernel/sched/core.c`, with round robin instead of
//! CFS): per-CPU run queues, time slices, preemption, wake-ups, migration.
//!
//! Each CPU has a run queue of runnable tasks and runs the one at its head
//! for a time slice of [`timeslice`] timer ticks, then puts it at the
//! tail. A CPU with nothing to run runs its idle task, which halts.
//!
//! ```text
//!  schedule() on CPU c                           (interrupts off throughout)
//!    lock prev.pi_lock, lock rq[c]
//!    prev asleep? -> leave it off the queue; else -> back on the tail
//!    next = head of rq[c], or the idle task
//!    sched_out(prev)          hook: kmap_local clears prev's slots here
//!    __switch_to(prev, next)  ---- now running next ----
//!    finish_task_switch():    prev.on_cpu = false, unlock rq[c],
//!    sched_in(next)           hook: kmap_local restores next's slots here
//! ```
//!
//! Wake-ups (`try_to_wake_up`) race with the task going to sleep; the task's
//! `pi_lock` orders them, and `on_cpu` keeps a waker from queueing a task on
//! another CPU while its registers are still live on this one.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::layout::NR_CPUS;

use super::hooks::{sched_in, sched_out};
use super::preempt::{clear_need_resched, preempt_count, preempt_count_set, set_need_resched};
use super::task::{ALL_TASKS, TASK_DEAD, TASK_RUNNING, Task};
use crate::arch::cpu::{local_irq_restore, local_irq_save};
use crate::arch::percpu::raw_smp_processor_id;
use crate::arch::switch::__switch_to;
use crate::percpu::per_cpu;
use crate::locking::RawSpinLock;

/// Timer ticks per second.
pub const HZ: u64 = 1000;
/// A task runs this many ticks before the next one gets the CPU (the
/// default; the stress test shortens it to preempt as often as possible).
pub const TIMESLICE_TICKS: u32 = 4;
static TIMESLICE: AtomicU32 = AtomicU32::new(TIMESLICE_TICKS);

/// The time slice in ticks.
pub fn timeslice() -> u32 {
    TIMESLICE.load(Ordering::Relaxed)
}

/// Change the time slice (at least one tick).
pub fn set_timeslice(ticks: u32) {
    TIMESLICE.store(ticks.max(1), Ordering::Relaxed);
}
/// How often (in ticks) a busy CPU looks for imbalance; an idle one looks
/// every tick.
const BALANCE_TICKS: u64 = 8;

/// Ticks since the timers started (advanced by CPU 0).
pub static JIFFIES: AtomicU64 = AtomicU64::new(0);
static SCHEDULER_RUNNING: AtomicBool = AtomicBool::new(false);

/// Context switches, all CPUs.
pub static NR_SWITCHES: AtomicU64 = AtomicU64::new(0);
/// Tasks moved between CPUs by load balancing or affinity changes.
pub static NR_MIGRATIONS: AtomicU64 = AtomicU64::new(0);

/// The tasks in the run queue, and who runs.
pub struct RqInner {
    queue: VecDeque<Arc<Task>>,
    curr: Option<Arc<Task>>,
    idle: Option<Arc<Task>>,
    /// The task switched away from, until `finish_task_switch` is done with it.
    prev: Option<Arc<Task>>,
    /// `prev` left this CPU because its affinity no longer allows it here;
    /// `finish_task_switch` queues it elsewhere. (Decided under the locks
    /// in `__schedule`: inferring it later from prev's state would race
    /// with a wake-up, and queue the task twice.)
    move_prev: bool,
    /// The CPU's reference on the mm it switched away from, dropped by
    /// `finish_task_switch` (Linux `rq->prev_mm` and its `mmdrop`).
    prev_mm: Option<Arc<crate::mm::mm_types::MmCore>>,
}

/// One CPU's run queue (Linux `struct rq`).
pub struct RunQueue {
    lock: RawSpinLock,
    inner: UnsafeCell<RqInner>,
    /// Runnable tasks here, including the running one but not idle.
    nr_running: AtomicU32,
    /// Context switches on this CPU.
    pub nr_switches: AtomicU64,
}

// SAFETY: `inner` is accessed only with `lock` held.
unsafe impl Sync for RunQueue {}

impl RunQueue {
    /// An empty run queue.
    pub const fn new() -> RunQueue {
        RunQueue {
            lock: RawSpinLock::new(),
            inner: UnsafeCell::new(RqInner { queue: VecDeque::new(), curr: None, idle: None, prev: None, move_prev: false, prev_mm: None }),
            nr_running: AtomicU32::new(0),
            nr_switches: AtomicU64::new(0),
        }
    }

    /// Lock and get the contents. Interrupts must be off.
    ///
    /// # Safety
    /// Pair with [`RunQueue::unlock`]; do not keep the reference past it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn lock(&self) -> &mut RqInner {
        debug_assert!(crate::arch::cpu::irqs_disabled());
        self.lock.lock();
        // SAFETY: we hold the lock.
        unsafe { &mut *self.inner.get() }
    }

    /// # Safety
    /// The caller holds the lock (possibly taken by the previous task).
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock.
        unsafe { self.lock.unlock() };
    }

    /// Runnable tasks on this CPU, not counting idle.
    pub fn nr_running(&self) -> u32 {
        self.nr_running.load(Ordering::Relaxed)
    }

    /// Call `f` for each task queued here and the running one (console).
    pub fn for_each_task(&self, mut f: impl FnMut(&Task, bool)) {
        let flags = local_irq_save();
        // SAFETY: paired with unlock below.
        let rq = unsafe { self.lock() };
        if let Some(c) = &rq.curr {
            f(c, true);
        }
        for t in &rq.queue {
            f(t, false);
        }
        // SAFETY: we took it above.
        unsafe { self.unlock() };
        local_irq_restore(flags);
    }
}

impl Default for RunQueue {
    fn default() -> Self {
        Self::new()
    }
}

/// Has `sched_init` run?
pub fn scheduler_running() -> bool {
    SCHEDULER_RUNNING.load(Ordering::Acquire)
}

/// Make the code running on `cpu` right now (its boot stack) that CPU's idle
/// task, and its `current`.
pub fn init_idle(cpu: usize) {
    let idle = Task::new_idle(cpu);
    let pc = per_cpu(cpu);
    pc.current.store(Arc::as_ptr(&idle) as *mut Task, Ordering::Release);
    let flags = local_irq_save();
    // SAFETY: paired with unlock.
    let rq = unsafe { pc.rq.lock() };
    rq.curr = Some(idle.clone());
    rq.idle = Some(idle);
    // SAFETY: taken above.
    unsafe { pc.rq.unlock() };
    local_irq_restore(flags);
}

/// Start scheduling on the boot CPU: the boot thread becomes CPU 0's idle
/// task (Linux's `init_task` becomes `swapper/0`).
pub fn sched_init() {
    init_idle(0);
    SCHEDULER_RUNNING.store(true, Ordering::Release);
    log::info!("sched: round robin, HZ={HZ}, time slice {TIMESLICE_TICKS} ticks");
}

/// The running task.
pub fn current() -> &'static Task {
    current_opt().expect("current() before sched_init")
}

/// The running task, if the scheduler has started.
pub fn current_opt() -> Option<&'static Task> {
    let p = crate::arch::percpu::this_cpu_read_u32(crate::percpu::CURRENT_OFFSET) as *const Task;
    // SAFETY: per-CPU `current` is null or points at a task kept alive by
    // its run queue's `curr` while it runs.
    unsafe { p.as_ref() }
}

/// A new reference to the running task.
pub fn current_arc() -> Arc<Task> {
    let flags = local_irq_save();
    let pc = per_cpu(raw_smp_processor_id());
    // SAFETY: paired with unlock.
    let rq = unsafe { pc.rq.lock() };
    let t = rq.curr.clone().expect("a CPU always runs some task");
    // SAFETY: taken above.
    unsafe { pc.rq.unlock() };
    local_irq_restore(flags);
    t
}

/// A handle to a spawned task, to wait for its end.
pub struct JoinHandle {
    task: Arc<Task>,
}

impl JoinHandle {
    /// The task.
    pub fn task(&self) -> &Arc<Task> {
        &self.task
    }

    /// Sleep until the task has exited; return its exit code.
    pub fn join(self) -> i32 {
        let t = &self.task;
        t.exit_wait.wait_event(|| t.state() == TASK_DEAD && !t.on_cpu.load(Ordering::Acquire));
        super::task::reap_dead_stacks();
        t.exit_code()
    }
}

/// Start a kernel thread that may run on any CPU, or `Err(ENOMEM)` if its
/// kernel stack cannot be had (Linux `kthread_run`: `kthread_create`
/// returns `ERR_PTR(-ENOMEM)` when `copy_process` fails). `f` is dropped
/// then, with whatever it owns.
pub fn try_spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle, i32> {
    try_spawn_affine(name, super::task::CPU_MASK_ALL, f)
}

/// [`try_spawn`] on the CPUs in `mask` only.
pub fn try_spawn_affine(name: &str, mask: u32, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle, i32> {
    let task = Task::try_new_thread(name, mask, super::task::TaskEntry::new(f)).ok_or(crate::errno::ENOMEM)?;
    ALL_TASKS.lock_irqsave().push(task.clone());
    wake_up_new_task(task.clone());
    Ok(JoinHandle { task })
}

/// Start a kernel thread that may run on any CPU, for a caller with no
/// way to report failure: [`try_spawn`], panicking if the kernel stack
/// cannot be had. The kernel's own threads at boot use it (Linux does not
/// check `kernel_init`'s or `kthreadd`'s creation in `rest_init` either:
/// the boot cannot go on without them), and the tests, whose harness
/// reports a panic as the test's failure; code that can fail an operation
/// instead uses `try_spawn`.
pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle {
    spawn_affine(name, super::task::CPU_MASK_ALL, f)
}

/// Start a kernel thread that runs only on `cpu` (panics as [`spawn`]).
pub fn spawn_on(cpu: usize, name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle {
    assert!(cpu < NR_CPUS && per_cpu(cpu).online.load(Ordering::Acquire), "spawn_on: CPU {cpu} is not online");
    spawn_affine(name, 1 << cpu, f)
}

/// Start a kernel thread as [`spawn`] does, after `prepare` has set up the
/// new task (Linux `copy_process` fills in the child before
/// `wake_up_new_task`): fork gives the child its signal state this way.
///
/// `None` if the new task or its kernel stack cannot be had (fork's
/// `-ENOMEM`); `prepare` has not run then and `f` is dropped.
pub fn spawn_prepared(name: &str, prepare: impl FnOnce(&Task), f: impl FnOnce() + Send + 'static) -> Option<JoinHandle> {
    // Linux `dup_task_struct`: `alloc_task_struct_node`, a fallible
    // kmem_cache_alloc (mm/heap.rs: the Task's allocation below is then made).
    crate::mm::heap::slab_pre_alloc_hook(core::mem::size_of::<Task>()).ok()?;
    let task = Task::try_new_thread(name, super::task::CPU_MASK_ALL, super::task::TaskEntry::new(f))?;
    prepare(&task);
    ALL_TASKS.lock_irqsave().push(task.clone());
    wake_up_new_task(task.clone());
    Some(JoinHandle { task })
}

/// Start a kernel thread allowed on the CPUs in `mask` (panics as
/// [`spawn`]).
pub fn spawn_affine(name: &str, mask: u32, f: impl FnOnce() + Send + 'static) -> JoinHandle {
    try_spawn_affine(name, mask, f)
        .unwrap_or_else(|_| panic!("spawn({name}): no memory for a {}-byte kernel stack", super::task::THREAD_SIZE))
}

/// The least loaded online CPU in `mask`, preferring `prefer` on a tie.
fn pick_cpu(mask: u32, prefer: usize) -> usize {
    let mut best = None::<(u32, usize)>;
    for cpu in 0..NR_CPUS {
        let pc = per_cpu(cpu);
        if mask & (1 << cpu) == 0 || !pc.online.load(Ordering::Acquire) {
            continue;
        }
        let load = pc.rq.nr_running() * 2 + (cpu != prefer) as u32;
        if best.is_none_or(|(l, _)| load < l) {
            best = Some((load, cpu));
        }
    }
    best.map(|(_, c)| c).unwrap_or_else(|| panic!("no online CPU in affinity mask {mask:#x}"))
}

/// Put `task` on `cpu`'s queue and make that CPU notice if it is idle.
fn enqueue(task: Arc<Task>, cpu: usize) {
    let pc = per_cpu(cpu);
    let flags = local_irq_save();
    // SAFETY: paired with unlock.
    let rq = unsafe { pc.rq.lock() };
    let old = task.cpu.swap(cpu as u32, Ordering::Relaxed);
    if old as usize != cpu && task.nr_switches.load(Ordering::Relaxed) > 0 {
        task.nr_migrations.fetch_add(1, Ordering::Relaxed);
        NR_MIGRATIONS.fetch_add(1, Ordering::Relaxed);
    }
    task.on_rq.store(true, Ordering::Release);
    rq.queue.push_back(task);
    pc.rq.nr_running.fetch_add(1, Ordering::Relaxed);
    let idle = rq.curr.as_ref().is_none_or(|c| c.is_idle);
    // SAFETY: taken above.
    unsafe { pc.rq.unlock() };
    if idle {
        resched_cpu(cpu);
    }
    local_irq_restore(flags);
}

/// Ask `cpu` to reschedule at its next preemption point.
pub fn resched_cpu(cpu: usize) {
    if cpu == raw_smp_processor_id() {
        set_need_resched();
    } else {
        per_cpu(cpu).need_resched.store(1, Ordering::Release);
        crate::smp::smp_send_reschedule(cpu);
    }
}

fn wake_up_new_task(task: Arc<Task>) {
    let cpu = pick_cpu(task.affinity(), raw_smp_processor_id());
    enqueue(task, cpu);
}

/// Wake a sleeping task (Linux `try_to_wake_up`). Returns whether it was
/// asleep. Safe from any context, interrupts included.
pub fn try_to_wake_up(p: &Arc<Task>) -> bool {
    wake_up_state(p, super::task::TASK_NORMAL)
}

/// Wake `p` only if its state is one of `state` (a mask: Linux
/// `wake_up_state`). `signal_wake_up` wakes an interruptible sleep alone,
/// SIGCONT a stopped task alone.
pub fn wake_up_state(p: &Arc<Task>, state: u32) -> bool {
    let flags = local_irq_save();
    p.pi_lock.lock();
    if p.state.load(Ordering::SeqCst) & state == 0 {
        // SAFETY: taken above.
        unsafe { p.pi_lock.unlock() };
        local_irq_restore(flags);
        return false;
    }
    p.state.store(TASK_RUNNING, Ordering::SeqCst);
    if p.on_rq.load(Ordering::Acquire) {
        // It has not got as far as leaving its run queue: schedule() will
        // see TASK_RUNNING and keep it there.
        // SAFETY: taken above.
        unsafe { p.pi_lock.unlock() };
        local_irq_restore(flags);
        return true;
    }
    // It left its queue; wait until its CPU has finished switching away
    // from it, so that no two CPUs ever run on its stack.
    while p.on_cpu.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let last = p.cpu();
    // Pinned by migrate_disable, it must resume where its per-CPU state is;
    // otherwise it stays where it last ran if its affinity allows.
    let cpu = if p.migrate_disable.load(Ordering::Relaxed) > 0 || p.affinity() & (1 << last) != 0 {
        last
    } else {
        pick_cpu(p.affinity(), last)
    };
    enqueue(p.clone(), cpu);
    // SAFETY: taken above.
    unsafe { p.pi_lock.unlock() };
    local_irq_restore(flags);
    true
}

/// Give up the CPU voluntarily (the current task stays runnable).
pub fn yield_now() {
    __schedule(true);
}

/// Sleep until woken. The caller has set its state to
/// TASK_UNINTERRUPTIBLE (and usually queued itself somewhere a waker will
/// find it). Called in atomic context, this reports Linux's
/// "BUG: scheduling while atomic" and schedules anyway.
#[track_caller]
pub fn schedule() {
    let count = preempt_count();
    if count != 0 {
        let (name, pid) = super::current_name_pid();
        crate::debug::report_bug(format_args!(
            "BUG: scheduling while atomic: {}/{}/{:#010x}\n  at {}",
            name.as_str(),
            pid,
            count,
            core::panic::Location::caller()
        ));
    }
    __schedule(false);
}

/// Reschedule because `preempt_enable` found a pending request.
pub(crate) fn preempt_schedule() {
    __schedule(true);
}

/// Reschedule on the way out of an interrupt (Linux
/// `preempt_schedule_irq`). Interrupts are off and stay off.
pub fn preempt_schedule_irq() {
    while super::preempt::need_resched() {
        __schedule(true);
    }
}

/// The context switch proper. `preempt`: the task did not choose to sleep,
/// so it stays runnable whatever its state says.
fn __schedule(preempt: bool) {
    let flags = local_irq_save();
    let cpu = raw_smp_processor_id();
    let pc = per_cpu(cpu);
    let prev_ptr = pc.current_ptr();
    // SAFETY: the running task is kept alive by rq.curr.
    let prev = unsafe { &*prev_ptr };
    prev.pi_lock.lock();
    // SAFETY: paired with the unlock in finish_task_switch (or below).
    let rq = unsafe { pc.rq.lock() };
    clear_need_resched();

    let prev_arc = rq.curr.take().expect("a CPU always runs some task");
    let sleeping = !preempt && prev.state.load(Ordering::SeqCst) != TASK_RUNNING;
    let mut move_prev = false;
    if sleeping {
        assert!(!prev.is_idle, "the idle task must never sleep");
        prev.on_rq.store(false, Ordering::Release);
        pc.rq.nr_running.fetch_sub(1, Ordering::Relaxed);
    } else if !prev.is_idle {
        if prev.affinity() & (1 << cpu) == 0 {
            // Its affinity changed: move it now that it is stopping here.
            prev.on_rq.store(false, Ordering::Release);
            pc.rq.nr_running.fetch_sub(1, Ordering::Relaxed);
            move_prev = true;
        } else {
            rq.queue.push_back(prev_arc.clone());
        }
    }
    // SAFETY: taken above.
    unsafe { prev.pi_lock.unlock() };

    let next_arc = rq.queue.pop_front().unwrap_or_else(|| rq.idle.clone().expect("idle task"));
    if Arc::ptr_eq(&next_arc, &prev_arc) {
        rq.curr = Some(prev_arc);
        // SAFETY: taken above.
        unsafe { pc.rq.unlock() };
        local_irq_restore(flags);
        return;
    }
    if preempt && !prev.is_idle && prev.state.load(Ordering::Relaxed) == TASK_RUNNING {
        prev.nr_preemptions.fetch_add(1, Ordering::Relaxed);
    }
    let next: &Task = &next_arc;
    next.on_cpu.store(true, Ordering::Release);
    next.cpu.store(cpu as u32, Ordering::Relaxed);
    next.nr_switches.fetch_add(1, Ordering::Relaxed);
    next.slice_left.store(timeslice(), Ordering::Relaxed);
    prev.saved_preempt_count.store(preempt_count(), Ordering::Relaxed);
    pc.rq.nr_switches.fetch_add(1, Ordering::Relaxed);
    NR_SWITCHES.fetch_add(1, Ordering::Relaxed);

    sched_out(prev);

    // The address space (Linux context_switch's mm half): a user task's
    // page directory is loaded unless it already is (it is after a kernel
    // thread that borrowed it); a kernel thread keeps whatever is loaded
    // (lazy TLB). Then the kernel stack for user-mode entries (sp0).
    rq.prev_mm = next.with_mm(|mm| match mm {
        Some(mm) => crate::arch::tlb::switch_mm_irqs_off(mm.core()),
        None => {
            crate::arch::tlb::enter_lazy_tlb();
            None
        }
    });
    if let Some(top) = next.stack_top() {
        crate::arch::gdt::set_tss_esp0(cpu, top);
    }
    crate::arch::gdt::load_tls(cpu, &next.tls_for_switch());
    let next_esp = next.esp.get();
    rq.curr = Some(next_arc.clone());
    rq.prev = Some(prev_arc);
    rq.move_prev = move_prev;
    pc.current.store(Arc::as_ptr(&next_arc) as *mut Task, Ordering::Release);
    drop(next_arc);
    // SAFETY: prev's esp slot is written only here, by its own CPU, with the
    // rq lock held; next's saved esp was written when it switched out (or by
    // init_task_stack) and it is not running anywhere (on_cpu was false).
    unsafe { __switch_to(prev.esp.get(), *next_esp) };

    // Running as `prev` again, maybe on another CPU, after someone switched
    // back to us.
    finish_task_switch();
    local_irq_restore(flags);
}

/// The second half of a context switch, run by the task switched *to*
/// (Linux `finish_task_switch`): release the previous task and the run-queue
/// lock, then put back our own per-task state.
fn finish_task_switch() {
    let pc = per_cpu(raw_smp_processor_id());
    // SAFETY: the lock was taken by the task that switched to us; we own
    // it now and release it below.
    let rq = unsafe { &mut *pc.rq.inner.get() };
    let prev = rq.prev.take().expect("finish_task_switch without a previous task");
    let me = rq.curr.as_ref().expect("current").clone();
    preempt_count_set(me.saved_preempt_count.load(Ordering::Relaxed));
    let prev_dead = prev.state.load(Ordering::SeqCst) == TASK_DEAD;
    let prev_moves = core::mem::take(&mut rq.move_prev);
    let prev_mm = rq.prev_mm.take();
    prev.on_cpu.store(false, Ordering::Release);
    // SAFETY: see above.
    unsafe { pc.rq.unlock() };
    // mmdrop: this CPU no longer has that page directory loaded; if no
    // other CPU and no task holds it, it is freed here.
    drop(prev_mm);
    sched_in(&me);
    if prev_moves {
        // Taken off this CPU because its affinity no longer allows it.
        let cpu = pick_cpu(prev.affinity(), prev.cpu());
        enqueue(prev, cpu);
    } else if prev_dead {
        // Reapable from now on: tell the parent (Linux `do_notify_parent`:
        // SIGCHLD, then the wake-up of its wait4).
        crate::exit::exit_notify(&prev);
        prev.exit_wait.wake_up_all();
        ALL_TASKS.lock_irqsave().retain(|t| !Arc::ptr_eq(t, &prev));
    }
}

/// Where a new task starts (from `ret_from_fork`): finish the switch that
/// brought us here, enable interrupts, run the task's function, exit.
pub extern "C" fn task_entry() -> ! {
    finish_task_switch();
    crate::arch::cpu::local_irq_enable();
    let f = current().take_entry().expect("a new task has an entry function");
    f.run();
    exit(0)
}

/// End the current task with `code`.
pub fn exit(code: i32) -> ! {
    let me = current();
    assert!(!me.is_idle, "the idle task cannot exit");
    super::hooks::check_exit(me);
    me.exit_mm();
    // Its open files go now (Linux exit_files), not when it is reaped: a
    // pipe's reader must see end of file when the last writer has exited.
    crate::fs::file::exit_files();
    me.exit_code.store(code, Ordering::SeqCst);
    let flags = local_irq_save();
    me.state.store(TASK_DEAD, Ordering::SeqCst);
    __schedule(false);
    local_irq_restore(flags);
    unreachable!("a dead task was scheduled again");
}

/// `sched_yield()`: give the CPU to the next runnable task (Linux
/// `kernel/sched/core.c`). Always succeeds.
pub fn sys_sched_yield(_regs: &mut crate::arch::entry::PtRegs) -> i32 {
    yield_now();
    0
}

/// Restrict the current task to the CPUs in `mask`; moves it at once if it
/// is on a CPU outside the mask.
pub fn set_current_affinity(mask: u32) {
    assert!(mask & super::task::CPU_MASK_ALL != 0, "empty affinity mask");
    let me = current();
    assert!(me.migrate_disable.load(Ordering::Relaxed) == 0 || mask & (1 << me.cpu()) != 0,
        "changing the affinity of a migrate-disabled task away from its CPU");
    me.affinity.store(mask, Ordering::SeqCst);
    if mask & (1 << raw_smp_processor_id()) == 0 {
        yield_now();
    }
}

/// Called from the local timer interrupt on every CPU.
pub fn scheduler_tick() {
    let cpu = raw_smp_processor_id();
    let pc = per_cpu(cpu);
    let ticks = pc.timer_ticks.fetch_add(1, Ordering::Relaxed) + 1;
    if cpu == 0 {
        JIFFIES.fetch_add(1, Ordering::Relaxed);
        super::timer::run_timers();
    }
    crate::tools::stress::timer_tick(ticks);
    // SAFETY: the current task is kept alive by rq.curr while it runs.
    let curr = unsafe { &*pc.current_ptr() };
    if curr.is_idle {
        if pc.rq.nr_running() > 0 {
            set_need_resched();
        } else {
            load_balance(cpu);
        }
        return;
    }
    let left = curr.slice_left.load(Ordering::Relaxed);
    if left <= 1 {
        curr.slice_left.store(timeslice(), Ordering::Relaxed);
        if pc.rq.nr_running() > 1 {
            set_need_resched();
        }
    } else {
        curr.slice_left.store(left - 1, Ordering::Relaxed);
    }
    if ticks.is_multiple_of(BALANCE_TICKS) {
        load_balance(cpu);
    }
}

/// Pull one task from the busiest CPU if it has at least two more runnable
/// tasks than this one (Linux `load_balance`, much simplified). Tasks that
/// are migrate-disabled, still switching out, or not allowed here stay put.
fn load_balance(this: usize) {
    let mine = per_cpu(this).rq.nr_running();
    let mut busiest = None::<(u32, usize)>;
    for cpu in 0..NR_CPUS {
        let pc = per_cpu(cpu);
        if cpu == this || !pc.online.load(Ordering::Acquire) {
            continue;
        }
        let load = pc.rq.nr_running();
        if load >= mine + 2 && busiest.is_none_or(|(l, _)| load > l) {
            busiest = Some((load, cpu));
        }
    }
    let Some((_, from)) = busiest else { return };
    let flags = local_irq_save();
    let (a, b) = (this.min(from), this.max(from));
    // SAFETY: two run queues, locked in CPU order so that two CPUs balancing
    // towards each other cannot deadlock; unlocked below.
    let (first, second) = unsafe { (per_cpu(a).rq.lock(), per_cpu(b).rq.lock()) };
    let (src, dst) = if from == a { (first, second) } else { (second, first) };
    let movable = src.queue.iter().rposition(|t| {
        !t.on_cpu.load(Ordering::Acquire)
            && t.migrate_disable.load(Ordering::Relaxed) == 0
            && t.affinity() & (1 << this) != 0
    });
    let mut moved = false;
    if let Some(i) = movable {
        let t = src.queue.remove(i).expect("index from rposition");
        per_cpu(from).rq.nr_running.fetch_sub(1, Ordering::Relaxed);
        t.cpu.store(this as u32, Ordering::Relaxed);
        t.nr_migrations.fetch_add(1, Ordering::Relaxed);
        NR_MIGRATIONS.fetch_add(1, Ordering::Relaxed);
        dst.queue.push_back(t);
        per_cpu(this).rq.nr_running.fetch_add(1, Ordering::Relaxed);
        moved = true;
    }
    // SAFETY: both taken above.
    unsafe {
        per_cpu(b).rq.unlock();
        per_cpu(a).rq.unlock();
    }
    if moved {
        set_need_resched();
    }
    local_irq_restore(flags);
}

/// The idle loop: run whatever becomes runnable, otherwise halt until the
/// next interrupt. Every CPU ends up here.
pub fn cpu_idle() -> ! {
    loop {
        let flags = local_irq_save();
        if super::preempt::need_resched() || per_cpu(raw_smp_processor_id()).rq.nr_running() > 0 {
            local_irq_restore(flags);
            __schedule(true);
        } else {
            // `sti; hlt` is atomic: an interrupt between them still ends the hlt.
            // SAFETY: enabling interrupts and halting in the idle task.
            unsafe { core::arch::asm!("sti", "hlt", options(nomem, nostack)) };
        }
    }
}

/// Tick count since boot, for timeouts.
pub fn jiffies() -> u64 {
    JIFFIES.load(Ordering::Relaxed)
}

