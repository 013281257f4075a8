//! Tasks: kernel threads with a name, a stack with a guard page, and the
//! per-task state the scheduler and highmem need (Linux `struct
//! task_struct`, much reduced).
//!
//! A task is shared through `Arc<Task>`: the run queue, the list of all
//! tasks, join handles and wait queues each hold a reference. Its stack is
//! given back only after the task has switched out for the last time.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::kmap_local::KmapCtrl;
use mm::layout::NR_CPUS;

use crate::fmtbuf::FmtBuf;
use crate::mm::stack::KernelStack;
use crate::locking::{RawSpinLock, SpinLock};
use crate::sched::wait::WaitQueue;

/// Runnable, or running (Linux `TASK_RUNNING`).
pub const TASK_RUNNING: u32 = 0;
/// Asleep until someone wakes it, or a signal arrives (Linux
/// `TASK_INTERRUPTIBLE`: `signal_wake_up` wakes only this kind of sleep;
/// see `kernel/src/signal.rs`).
pub const TASK_INTERRUPTIBLE: u32 = 1;
/// Asleep until someone wakes it (Linux `TASK_UNINTERRUPTIBLE`).
pub const TASK_UNINTERRUPTIBLE: u32 = 2;
/// Stopped by SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU until SIGCONT (Linux
/// `TASK_STOPPED`); only `wake_up_state(.., TASK_STOPPED)` wakes it.
pub const TASK_STOPPED: u32 = 4;
/// The sleeps a plain wake-up ends (Linux `TASK_NORMAL`).
pub const TASK_NORMAL: u32 = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;
/// Finished; waiting to be reaped (Linux `TASK_DEAD`).
pub const TASK_DEAD: u32 = 0x80;

/// Every CPU allowed.
pub const CPU_MASK_ALL: u32 = (1 << NR_CPUS) - 1;

/// Size of a kernel thread's stack.
pub const THREAD_SIZE: usize = 32 * 1024;

/// A kernel thread.
pub struct Task {
    id: u32,
    name: FmtBuf<24>,
    /// TASK_RUNNING, TASK_UNINTERRUPTIBLE or TASK_DEAD.
    pub(crate) state: AtomicU32,
    /// Queued on a run queue, or running.
    pub(crate) on_rq: AtomicBool,
    /// Its registers are live on some CPU (it has not finished switching out).
    pub(crate) on_cpu: AtomicBool,
    /// The CPU it runs on, or last ran on.
    pub(crate) cpu: AtomicU32,
    /// CPUs it may run on (bit n = CPU n).
    pub(crate) affinity: AtomicU32,
    /// Serialises wake-ups against the task going to sleep (Linux `pi_lock`).
    pub(crate) pi_lock: RawSpinLock,
    /// Saved stack pointer while switched out (only the switching CPU
    /// touches it, under its run-queue lock).
    pub(crate) esp: UnsafeCell<usize>,
    stack: Option<KernelStack>,
    /// The address space it runs in when in user mode (Linux `mm`); `None`
    /// for a kernel thread, which runs on whatever page directory its CPU
    /// has loaded (lazy TLB: see `arch/x86/mm/tlb.rs`).
    mm: crate::locking::SpinLock<Option<Arc<crate::mm::mm_types::MmStruct>>>,
    /// Its three TLS descriptors (`set_thread_area`), loaded into the
    /// CPU's GDT when it is switched in.
    pub tls: crate::locking::SpinLock<[u64; crate::arch::gdt::GDT_ENTRY_TLS_ENTRIES]>,
    /// Its parent's pid, for `getppid` (0: started by the kernel).
    pub parent: AtomicU32,
    /// Its children not yet waited for (`wait4` joins them).
    pub children: crate::locking::SpinLock<Vec<super::core::JoinHandle>>,
    /// Its signals: pending and blocked sets, handlers, process group and
    /// session (Linux `task->pending`, `->blocked`, `->sighand`,
    /// `->signal`; see `kernel/src/signal.rs`).
    pub signal: crate::signal::SigState,
    /// Its open files (Linux `task->files`): fds 0-2 are the console.
    pub files: crate::locking::SpinLock<crate::fs::file::FdTable>,
    /// Its current directory (Linux `task->fs->pwd`), inherited at fork
    /// and kept across exec; `None` is the root (a task that never ran
    /// `chdir`). Relative paths start here (`fs/namei.rs`, `Base`).
    pub cwd: crate::locking::SpinLock<Option<crate::fs::InodeRef>>,
    /// Where its address space's memory was when it let go of it (for the
    /// console's `run`, which reports it after the program ended).
    rss_at_exit: crate::locking::SpinLock<Option<crate::mm::mm_types::Rss>>,
    /// Its preempt count while switched out.
    pub(crate) saved_preempt_count: AtomicU32,
    /// migrate_disable() nesting: while > 0 the task stays on its CPU.
    pub migrate_disable: AtomicU32,
    /// pagefault_disable() nesting.
    pub pagefault_disabled: AtomicU32,
    /// kmap_local slots this task holds.
    pub kmap_ctrl: UnsafeCell<KmapCtrl>,
    entry: UnsafeCell<Option<TaskEntry>>,
    pub(crate) exit_code: AtomicI32,
    /// Joiners wait here for TASK_DEAD.
    pub(crate) exit_wait: WaitQueue,
    /// Ticks left in its time slice.
    pub(crate) slice_left: AtomicU32,
    /// Is this a CPU's idle task?
    pub(crate) is_idle: bool,
    /// Times switched in.
    pub nr_switches: AtomicU64,
    /// Fault injection's per-task switch (Linux `make_it_fail`, set
    /// through `/proc/PID/make-it-fail`; here by the kernel's tests):
    /// with an attribute's `task-filter` on, only such tasks are failed.
    pub make_it_fail: AtomicBool,
    /// Times preempted (switched out while still runnable).
    pub nr_preemptions: AtomicU64,
    /// Times moved to another CPU.
    pub nr_migrations: AtomicU64,
    /// How many times the context-switch hooks ran for it: `sched_out`
    /// when it left a CPU, `sched_in` when it came onto one (see
    /// `sched/hooks.rs`).
    pub nr_sched_out: AtomicU64,
    /// See `nr_sched_out`.
    pub nr_sched_in: AtomicU64,
    /// Its user program's x87/MMX/SSE registers while it is switched out
    /// (Linux `thread.fpu`; see `arch/x86/kernel/fpu.rs`).
    fpu: crate::arch::fpu::Fpu,
    /// Where the kernel writes 0 when it exits, if its address space is
    /// shared (Linux `clear_child_tid`: `set_tid_address`,
    /// `CLONE_CHILD_CLEARTID`; see `fork.rs`).
    pub clear_child_tid: AtomicU32,
    /// Its resource limits (Linux `signal->rlim`; `resource.rs`).
    pub rlim: crate::locking::SpinLock<[crate::resource::Rlimit; crate::resource::RLIM_NLIMITS]>,
    /// Its file-mode creation mask (Linux `fs->umask`; `umask` in sys.rs,
    /// applied by `open`/`mkdir`). 0022 as Linux's init task; inherited at fork.
    pub umask: AtomicU32,
    /// The head of its robust-futex list, recorded by `set_robust_list`
    /// (Linux `robust_list`; see futex.rs). Not walked at exit: this kernel
    /// has no futexes yet.
    pub robust_list: AtomicU32,
    /// Its 16-byte command name (Linux `comm`, `TASK_COMM_LEN`), NUL
    /// terminated: what `prctl(PR_SET_NAME / PR_GET_NAME)` sets and reads.
    pub comm: crate::locking::SpinLock<[u8; 16]>,
    /// Set in a child of `vfork` (`clone(CLONE_VFORK)`): the completion its
    /// parent sleeps on until the child lets go of the address space they
    /// share, by exec or exit (Linux `vfork_done`; `fork.rs`
    /// `mm_release` completes it). `None` otherwise, and once completed.
    pub vfork_done: crate::locking::SpinLock<Option<Arc<super::completion::Completion>>>,
}

// SAFETY: the UnsafeCell fields have owners: `esp` is touched only by the
// CPU switching the task, with its run-queue lock held; `kmap_ctrl` only by
// the task itself and by interrupts and context switches on its CPU while it
// cannot migrate; `entry` only once, by the task when it first runs.
unsafe impl Sync for Task {}
// SAFETY: as above; nothing in a Task is tied to one CPU.
unsafe impl Send for Task {}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A new task's function (`spawn`'s closure), boxed so that it can wait in
/// the task until the task first runs, but run in a way that frees the box
/// *before* the function starts. `Box<dyn FnOnce()>` cannot do that: its
/// `call_once` frees the box when the call returns, and a task's function
/// may never return: one that enters user mode leaves the kernel for good,
/// one that calls `exit` is switched away from for ever. Each such task
/// leaked its closure's box (64 bytes for a program started from the
/// initramfs), which the system-call fuzzer's heap count showed. So the
/// box holds the concrete closure type, and `run` moves the closure out
/// onto the stack (freeing the box) and then calls it; whatever the
/// closure owns is the closure's own to drop.
pub(crate) struct TaskEntry {
    data: *mut (),
    run: unsafe fn(*mut ()),
    drop: unsafe fn(*mut ()),
}

// SAFETY: built only from `F: Send` (TaskEntry::new); the pointer is the
// box's, owned by this value alone.
unsafe impl Send for TaskEntry {}

impl TaskEntry {
    /// Box `f` for a task that has not run yet.
    pub(crate) fn new<F: FnOnce() + Send + 'static>(f: F) -> Self {
        /// Move the closure out of its box, free the box, call it.
        ///
        /// # Safety
        /// `p` is `Box::into_raw` of a `Box<F>`, used once.
        unsafe fn run<F: FnOnce()>(p: *mut ()) {
            // SAFETY: the caller's promise; the box is freed at the end of
            // this statement, before `f` runs.
            let f = unsafe { *Box::from_raw(p.cast::<F>()) };
            f()
        }
        /// Free an entry that never ran (its task was never started).
        ///
        /// # Safety
        /// As `run`.
        unsafe fn drop_it<F>(p: *mut ()) {
            // SAFETY: the caller's promise.
            drop(unsafe { Box::from_raw(p.cast::<F>()) });
        }
        TaskEntry { data: Box::into_raw(Box::new(f)).cast(), run: run::<F>, drop: drop_it::<F> }
    }

    /// Run the function; its box is already free when it starts.
    pub(crate) fn run(self) {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: `data` came from TaskEntry::new with this `run`, and
        // ManuallyDrop keeps Drop from freeing it a second time.
        unsafe { (me.run)(me.data) }
    }
}

impl Drop for TaskEntry {
    fn drop(&mut self) {
        // SAFETY: `data` came from TaskEntry::new with this `drop`, and a
        // value that was run is never dropped (ManuallyDrop in `run`).
        unsafe { (self.drop)(self.data) }
    }
}

/// Every task that has not been reaped, for reports and the console.
pub(crate) static ALL_TASKS: SpinLock<Vec<Arc<Task>>> = SpinLock::new(Vec::new());

/// Stacks of tasks that are gone, given back later from process context
/// (unmapping a stack may need a TLB shootdown, which needs interrupts on).
static DEAD_STACKS: SpinLock<Vec<KernelStack>> = SpinLock::new(Vec::new());

/// `name` cut to `TASK_COMM_LEN - 1` bytes and NUL-terminated (Linux
/// `__set_task_comm` truncates the same way).
pub fn comm_of(name: &str) -> [u8; 16] {
    let mut c = [0u8; 16];
    let n = name.len().min(15);
    c[..n].copy_from_slice(&name.as_bytes()[..n]);
    c
}

impl Task {
    fn new_common(name: &str, stack: Option<KernelStack>, cpu: usize, is_idle: bool) -> Task {
        Task {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: fmtbuf!(24, "{name}"),
            state: AtomicU32::new(TASK_RUNNING),
            on_rq: AtomicBool::new(false),
            on_cpu: AtomicBool::new(false),
            cpu: AtomicU32::new(cpu as u32),
            affinity: AtomicU32::new(CPU_MASK_ALL),
            pi_lock: RawSpinLock::new(),
            esp: UnsafeCell::new(0),
            stack,
            mm: crate::locking::SpinLock::new(None),
            rss_at_exit: crate::locking::SpinLock::new(None),
            files: crate::locking::SpinLock::new(crate::fs::file::FdTable::default()),
            signal: crate::signal::SigState::new(),
            cwd: crate::locking::SpinLock::new(None),
            parent: AtomicU32::new(0),
            tls: crate::locking::SpinLock::new([0; crate::arch::gdt::GDT_ENTRY_TLS_ENTRIES]),
            children: crate::locking::SpinLock::new(Vec::new()),
            saved_preempt_count: AtomicU32::new(0),
            migrate_disable: AtomicU32::new(0),
            pagefault_disabled: AtomicU32::new(0),
            kmap_ctrl: UnsafeCell::new(KmapCtrl::new()),
            entry: UnsafeCell::new(None),
            exit_code: AtomicI32::new(0),
            exit_wait: WaitQueue::new(),
            slice_left: AtomicU32::new(0),
            is_idle,
            nr_switches: AtomicU64::new(0),
            make_it_fail: AtomicBool::new(false),
            nr_preemptions: AtomicU64::new(0),
            nr_migrations: AtomicU64::new(0),
            nr_sched_out: AtomicU64::new(0),
            nr_sched_in: AtomicU64::new(0),
            fpu: crate::arch::fpu::Fpu::new(),
            clear_child_tid: AtomicU32::new(0),
            rlim: crate::locking::SpinLock::new(crate::resource::init_rlimits()),
            umask: AtomicU32::new(0o022),
            robust_list: AtomicU32::new(0),
            comm: crate::locking::SpinLock::new(comm_of(name)),
            vfork_done: crate::locking::SpinLock::new(None),
        }
    }

    /// The task that is already running on `cpu`'s boot or trampoline
    /// stack, which becomes that CPU's idle task.
    pub(crate) fn new_idle(cpu: usize) -> Arc<Task> {
        let t = Task::new_common(fmtbuf!(24, "swapper/{cpu}").as_str(), None, cpu, true);
        t.on_cpu.store(true, Ordering::Relaxed);
        t.affinity.store(1 << cpu, Ordering::Relaxed);
        Arc::new(t)
    }

    /// A new kernel thread that will run `f`, on a fresh guarded stack,
    /// or `None` if its kernel stack cannot be had
    /// (Linux `dup_task_struct` -> `alloc_thread_stack_node` failing:
    /// fork's `-ENOMEM`). `f` is dropped then, and whatever it owns with it.
    pub(crate) fn try_new_thread(name: &str, affinity: u32, f: TaskEntry) -> Option<Arc<Task>> {
        reap_dead_stacks();
        let stack = crate::mm::stack::alloc_kernel_stack(THREAD_SIZE)?;
        let top = stack.top();
        let t = Task::new_common(name, Some(stack), 0, false);
        t.affinity.store(affinity, Ordering::Relaxed);
        // SAFETY: nobody else can see the new task yet.
        unsafe {
            *t.entry.get() = Some(f);
            *t.esp.get() = crate::arch::switch::init_task_stack(top);
        }
        Some(Arc::new(t))
    }

    /// Take the entry function (the task does this once, when it first runs).
    pub(crate) fn take_entry(&self) -> Option<TaskEntry> {
        // SAFETY: only the task itself calls this, once, at its start.
        unsafe { (*self.entry.get()).take() }
    }

    /// Its id (Linux pid).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The CPU it runs on or last ran on.
    pub fn cpu(&self) -> usize {
        self.cpu.load(Ordering::Relaxed) as usize
    }

    /// TASK_RUNNING, TASK_UNINTERRUPTIBLE or TASK_DEAD.
    pub fn state(&self) -> u32 {
        self.state.load(Ordering::SeqCst)
    }

    /// Is this a CPU's idle task?
    pub fn is_idle(&self) -> bool {
        self.is_idle
    }

    /// The CPUs it may run on.
    pub fn affinity(&self) -> u32 {
        self.affinity.load(Ordering::Relaxed)
    }

    /// Its exit code once it is dead.
    pub fn exit_code(&self) -> i32 {
        self.exit_code.load(Ordering::SeqCst)
    }

    /// `[bottom, top)` of its stack (None for a boot stack).
    pub fn stack_range(&self) -> Option<(usize, usize)> {
        self.stack.as_ref().map(|s| (s.bottom(), s.top()))
    }

    /// Work on its kmap_local slot stack: `f` gets the one `&mut` to it
    /// that exists, with interrupts off on this CPU.
    ///
    /// Who touches a task's `kmap_ctrl`: the task itself, interrupt
    /// handlers that run on its CPU while it is interrupted (they push and
    /// pop their own mappings on the same stack, as Linux's do), and the
    /// context switch that takes it off or puts it on a CPU. Linux reaches
    /// `current->kmap_ctrl` through the task pointer for every access and
    /// never holds on to it; an interrupt may come between any two of them.
    /// Rust forbids two live `&mut` to the same data, so the reference lives
    /// only inside `f`, and interrupts are off while it does: no handler can
    /// make a second one meanwhile, and a context switch of this task cannot
    /// happen either. Between two calls, anything may run.
    ///
    /// The caller must be the task itself (or, for the context-switch hooks,
    /// the CPU switching it, which already has interrupts off).
    pub fn with_kmap_ctrl<R>(&self, f: impl FnOnce(&mut KmapCtrl) -> R) -> R {
        let flags = crate::arch::cpu::local_irq_save();
        // SAFETY: by the rules above the only code that can reach this
        // task's kmap_ctrl now is this CPU's, and with interrupts off
        // nothing else runs on it until `f` returns and the reference dies.
        let r = f(unsafe { &mut *self.kmap_ctrl.get() });
        crate::arch::cpu::local_irq_restore(flags);
        r
    }

    /// How many kmap_local slots it holds (`kmap_ctrl.idx`), read through
    /// the pointer without making a reference: the task's own fast path
    /// (kunmap_local of a lowmem address) may ask between interrupts.
    pub fn kmap_local_idx(&self) -> usize {
        // SAFETY: a plain read of an aligned usize inside the cell; any
        // writer is an interrupt or switch on this CPU that finished before
        // we run again (or, for another task, the value is only a hint).
        unsafe { core::ptr::addr_of!((*self.kmap_ctrl.get()).idx).read_volatile() }
    }

    /// Give the current task an address space and switch to it now (Linux
    /// `exec_mmap` + `switch_mm`). Only the task itself calls this. The
    /// old address space, if any, is let go of after the switch (its last
    /// user frees its pages: `exit_mmap`), and so is the CPU's reference
    /// on the page directory it had loaded before.
    ///
    /// Replacing an address space is exec's job, so this is also where
    /// exec releases the old one, as Linux's `exec_mmap` does before its
    /// switch (`exec_mm_release` -> `mm_release`): its `clear_child_tid`
    /// written while the old page directory is still loaded, and a
    /// `vfork` parent sleeping until its child is off their shared
    /// address space woken.
    pub fn set_mm(&self, mm: Arc<crate::mm::mm_types::MmStruct>) {
        let prev = self.mm.lock().clone();
        if let Some(prev) = prev {
            crate::fork::mm_release(self, &prev);
        }
        let flags = crate::arch::cpu::local_irq_save();
        let old_active = crate::arch::tlb::switch_mm_irqs_off(mm.core());
        let old = self.mm.lock().replace(mm);
        // A task with an address space is a process: signals reach it.
        self.signal.set_user();
        crate::arch::cpu::local_irq_restore(flags);
        drop(old_active);
        drop(old);
    }

    /// Let go of its address space on exit (Linux `exit_mm`): the task
    /// becomes a kernel thread on its way out, lazily on the page
    /// directory still loaded (the CPU keeps its reference on it), and
    /// the last user's reference frees the pages and page tables
    /// (`exit_mmap`); the page directory goes when the CPUs still having
    /// it loaded have switched to another mm.
    pub(crate) fn exit_mm(&self) {
        crate::arch::fpu::fpu__drop(self);
        let Some(mm) = self.mm.lock().take() else { return };
        crate::fork::mm_release(self, &mm);
        *self.rss_at_exit.lock() = Some(mm.rss());
        let flags = crate::arch::cpu::local_irq_save();
        crate::arch::tlb::enter_lazy_tlb();
        crate::arch::cpu::local_irq_restore(flags);
        drop(mm);
    }

    /// Where its memory was when it exited (None if it had no address
    /// space, or has not exited).
    pub fn rss_at_exit(&self) -> Option<crate::mm::mm_types::Rss> {
        *self.rss_at_exit.lock()
    }

    /// Its FPU state (see `arch/x86/kernel/fpu.rs`).
    pub fn fpu(&self) -> &crate::arch::fpu::Fpu {
        &self.fpu
    }

    /// Its TLS descriptors, for the context switch (interrupts are off
    /// there; the lock is only ever taken by the task itself otherwise).
    pub fn tls_for_switch(&self) -> [u64; crate::arch::gdt::GDT_ENTRY_TLS_ENTRIES] {
        *self.tls.lock()
    }

    /// Its address space, if it has one.
    pub fn mm(&self) -> Option<Arc<crate::mm::mm_types::MmStruct>> {
        self.mm.lock().clone()
    }

    /// Run `f` on its address space without taking a reference (the
    /// context switch, with interrupts off).
    pub(crate) fn with_mm<R>(&self, f: impl FnOnce(Option<&Arc<crate::mm::mm_types::MmStruct>>) -> R) -> R {
        f(self.mm.lock().as_ref())
    }

    /// The top of its kernel stack (where the CPU puts the frame of an
    /// interrupt from user mode), if it has its own stack.
    pub fn stack_top(&self) -> Option<usize> {
        self.stack.as_ref().map(|s| s.top())
    }

    /// A copy of its kmap_local slot stack (for reports).
    pub fn kmap_ctrl_snapshot(&self) -> KmapCtrl {
        // SAFETY: a racy copy of plain data, for display only.
        unsafe { core::ptr::read_volatile(self.kmap_ctrl.get()) }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            DEAD_STACKS.lock_irqsave().push(stack);
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name(), self.id)
    }
}

/// Give back the stacks of tasks that are gone.
pub fn reap_dead_stacks() {
    loop {
        let Some(stack) = DEAD_STACKS.lock_irqsave().pop() else { break };
        crate::mm::stack::free_kernel_stack(stack);
    }
}


/// A task's name by id, for fault reports: does not wait for the task
/// list's lock (the faulting code may hold it).
pub fn task_name_by_id(id: u32) -> FmtBuf<24> {
    match ALL_TASKS.try_lock_irqsave() {
        Some(all) => all.iter().find(|t| t.id() == id).map_or(fmtbuf!(24, "<exited>"), |t| fmtbuf!(24, "{}", t.name())),
        None => fmtbuf!(24, "<busy>"),
    }
}
