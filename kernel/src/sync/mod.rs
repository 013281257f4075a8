//! Synchronisation: spinlocks, wait queues, a sleeping mutex, completions
//! (Linux `kernel/locking/` and `kernel/sched/wait.c`, `completion.c`).
pub mod completion;
pub mod mutex;
pub mod spinlock;
pub mod wait;

pub use completion::Completion;
pub use mutex::Mutex;
pub use spinlock::{RawSpinLock, SpinLock, SpinLockGuard};
pub use wait::WaitQueue;
