//! Locks (Linux `kernel/locking/`): spinlocks that disable preemption (and,
//! in their `_irqsave` forms, interrupts), and a sleeping mutex. Wait queues
//! and completions, which are the scheduler's, live in `sched/`.
pub mod mutex;
pub mod spinlock;

pub use mutex::Mutex;
pub use spinlock::{RawSpinLock, SpinLock, SpinLockGuard};
