//! Completions (Linux `kernel/sched/completion.c`): "wait until this has
//! happened", counted, so a `complete()` before the wait is not lost.

use core::sync::atomic::{AtomicU32, Ordering};

use super::wait::WaitQueue;

/// A counted event.
pub struct Completion {
    done: AtomicU32,
    wait: WaitQueue,
}

impl Completion {
    /// Not yet completed.
    pub const fn new() -> Self {
        Completion { done: AtomicU32::new(0), wait: WaitQueue::new() }
    }

    /// Signal one waiter (or the next one to wait).
    pub fn complete(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
        self.wait.wake_up_one();
    }

    /// Signal every waiter, now and later.
    pub fn complete_all(&self) {
        self.done.store(u32::MAX / 2, Ordering::SeqCst);
        self.wait.wake_up_all();
    }

    /// Sleep until completed, consuming one completion.
    #[track_caller]
    pub fn wait_for_completion(&self) {
        loop {
            self.wait.wait_event(|| self.done.load(Ordering::SeqCst) > 0);
            let d = self.done.load(Ordering::SeqCst);
            if d > 0 && self.done.compare_exchange(d, d - 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                return;
            }
        }
    }

    /// Sleep until completed, consuming one completion, unless the task
    /// is killed first (Linux `wait_for_completion_killable`):
    /// `Err(-ERESTARTSYS)` when SIGKILL is pending (the task dies on its
    /// way back to user mode). Completion wins when both hold.
    ///
    /// Linux sleeps in TASK_KILLABLE, which only a fatal signal wakes.
    /// There is no such state here, so the task sleeps interruptibly and,
    /// woken by a signal that is not SIGKILL, goes back to sleep: the
    /// signal stays pending for later, as in Linux, and the sleep does not
    /// spin (a signal wakes a sleeper once, when it is sent). Linux's
    /// `complete_signal` also turns a signal whose default action kills
    /// (a SIGINT without handler, say) into SIGKILL at once; our
    /// `signal.rs` does not, so such a signal waits here too.
    #[track_caller]
    pub fn wait_for_completion_killable(&self) -> Result<(), i32> {
        let fatal = || {
            crate::sched::current_opt()
                .is_some_and(|t| t.signal.pending() & crate::signal::sigmask(crate::signal::SIGKILL) != 0)
        };
        crate::sched::preempt::might_sleep();
        loop {
            let me = self.wait.prepare_to_wait_interruptible();
            let d = self.done.load(Ordering::SeqCst);
            if d > 0 {
                if self.done.compare_exchange(d, d - 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    self.wait.finish_wait(&me);
                    return Ok(());
                }
                self.wait.finish_wait(&me);
                continue;
            }
            if fatal() {
                self.wait.finish_wait(&me);
                return Err(-crate::errno::ERESTARTSYS);
            }
            crate::sched::schedule();
            self.wait.finish_wait(&me);
        }
    }

    /// Completed and not yet consumed?
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst) > 0
    }
}

impl Default for Completion {
    fn default() -> Self {
        Self::new()
    }
}
