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
