//! Wait queues (Linux `kernel/sched/wait.c`): sleep until a condition holds.
//!
//! The classic lost wake-up: a task checks its condition (false), and before
//! it sleeps, another CPU makes the condition true and wakes... nobody,
//! because the task was not asleep yet. It then sleeps for ever. The cure is
//! the order of [`WaitQueue::wait_event`]:
//!
//! 1. put yourself on the queue and mark yourself TASK_UNINTERRUPTIBLE,
//! 2. *then* check the condition,
//! 3. only then `schedule()`.
//!
//! A waker first makes the condition true, then wakes the queue. If it comes
//! between 2 and 3, it finds us on the queue and sets us back to
//! TASK_RUNNING, and `schedule()` keeps us on the CPU instead of sleeping.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::locking::SpinLock;
use crate::sched::task::{TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_UNINTERRUPTIBLE, Task};
use crate::sched::{current_arc, schedule, try_to_wake_up};

/// A queue of sleeping tasks.
pub struct WaitQueue {
    waiters: SpinLock<VecDeque<Arc<Task>>>,
    /// How many are queued, readable without the lock (for
    /// [`WaitQueue::has_waiters`]).
    nr: core::sync::atomic::AtomicUsize,
}

impl WaitQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        WaitQueue { waiters: SpinLock::new(VecDeque::new()), nr: core::sync::atomic::AtomicUsize::new(0) }
    }

    /// Sleep until `condition()` is true. `condition` is evaluated with the
    /// task already on the queue, so a wake-up cannot be lost.
    #[track_caller]
    pub fn wait_event(&self, mut condition: impl FnMut() -> bool) {
        if condition() {
            return;
        }
        crate::sched::preempt::might_sleep();
        let me = current_arc();
        loop {
            self.enqueue_current(&me);
            if condition() {
                break;
            }
            schedule();
            if condition() {
                break;
            }
        }
        self.finish_wait(&me);
    }

    /// Sleep until `condition()` is true or a signal is pending (Linux
    /// `wait_event_interruptible`): `Err(-ERESTARTSYS)` in the second case,
    /// which a system call returns as it is (the signal code turns it into
    /// `-EINTR` or a restart, see `kernel/src/signal.rs`). The condition
    /// wins when both hold, as in Linux.
    #[track_caller]
    pub fn wait_event_interruptible(&self, mut condition: impl FnMut() -> bool) -> Result<(), i32> {
        if condition() {
            return Ok(());
        }
        crate::sched::preempt::might_sleep();
        let me = current_arc();
        let result = loop {
            self.enqueue(&me, TASK_INTERRUPTIBLE);
            if condition() {
                break Ok(());
            }
            if crate::signal::signal_pending() {
                break Err(-crate::errno::ERESTARTSYS);
            }
            schedule();
        };
        self.finish_wait(&me);
        result
    }

    /// [`WaitQueue::prepare_to_wait`] for an interruptible sleep (Linux
    /// `prepare_to_wait(.., TASK_INTERRUPTIBLE)`): the caller checks
    /// `signal_pending()` after this and before `schedule()`.
    pub fn prepare_to_wait_interruptible(&self) -> Arc<Task> {
        let me = current_arc();
        self.enqueue(&me, TASK_INTERRUPTIBLE);
        me
    }

    /// Step 1 of the recipe, for callers that check their condition under
    /// a lock of their own (as kmap does with `kmap_lock`): queue the
    /// current task and mark it asleep; then drop the lock, `schedule()`,
    /// and call [`WaitQueue::finish_wait`] (Linux `prepare_to_wait`).
    pub fn prepare_to_wait(&self) -> Arc<Task> {
        let me = current_arc();
        self.enqueue_current(&me);
        me
    }

    fn enqueue_current(&self, me: &Arc<Task>) {
        self.enqueue(me, TASK_UNINTERRUPTIBLE);
    }

    fn enqueue(&self, me: &Arc<Task>, state: u32) {
        let mut q = self.waiters.lock_irqsave();
        if !q.iter().any(|t| Arc::ptr_eq(t, me)) {
            q.push_back(me.clone());
        }
        self.nr.store(q.len(), Ordering::SeqCst);
        me.state.store(state, Ordering::SeqCst);
    }

    /// Back to running, off the queue (Linux `finish_wait`).
    pub fn finish_wait(&self, me: &Arc<Task>) {
        me.state.store(TASK_RUNNING, Ordering::SeqCst);
        let mut q = self.waiters.lock_irqsave();
        q.retain(|t| !Arc::ptr_eq(t, me));
        self.nr.store(q.len(), Ordering::SeqCst);
    }

    /// Wake the first waiter that is really asleep (Linux `wake_up` with
    /// exclusive waiters). Returns whether someone was woken.
    pub fn wake_up_one(&self) -> bool {
        loop {
            let t = {
                let mut q = self.waiters.lock_irqsave();
                let t = q.pop_front();
                self.nr.store(q.len(), Ordering::SeqCst);
                t
            };
            let Some(t) = t else { return false };
            if try_to_wake_up(&t) {
                return true;
            }
            // It was already running (woken by someone else, or on its way
            // out): pass the wake-up on to the next waiter.
        }
    }

    /// Wake every waiter (Linux `wake_up_all`).
    pub fn wake_up_all(&self) {
        let all = {
            let mut q = self.waiters.lock_irqsave();
            self.nr.store(0, Ordering::SeqCst);
            core::mem::take(&mut *q)
        };
        for t in &all {
            try_to_wake_up(t);
        }
    }

    /// Is anyone waiting? (Linux `waitqueue_active`.) Lockless: the answer
    /// is exact only if waiters are added under a lock the caller holds,
    /// as kmap's are under `kmap_lock`; otherwise it is a hint.
    pub fn has_waiters(&self) -> bool {
        self.nr.load(Ordering::SeqCst) != 0
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.waiters.lock_irqsave().len()
    }

    /// Is the queue empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}
