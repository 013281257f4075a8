//! The scheduler: tasks, run queues, preemption, and the context-switch
//! hooks where highmem's kmap_local plugs in.
//!
//! | file       | Linux counterpart              | what it owns                     |
//! |------------|--------------------------------|----------------------------------|
//! | `task`     | `struct task_struct`, `fork.c` | tasks, their stacks, `kmap_ctrl` |
//! | `core`     | `kernel/sched/core.c`          | run queues, schedule, wake-ups, ticks, balancing, idle |
//! | `preempt`  | `preempt.h`, `uaccess.h`       | preempt count, migrate/pagefault disable, might_sleep |
//! | `hooks`    | `prepare/finish_task_switch`   | sched_out / sched_in             |
//! | `timer`    | `kernel/time/timer.c`          | sleeping for a number of ticks   |
//! | `wait`     | `kernel/sched/wait.c`          | wait queues: sleep until a condition holds |
//! | `completion` | `kernel/sched/completion.c`  | wait for one event to happen     |
pub mod completion;
pub mod core;
pub mod hooks;
pub mod preempt;
pub mod task;
pub mod timer;
pub mod wait;

pub use self::core::{
    JoinHandle, current, current_arc, current_opt, exit, schedule, scheduler_running, spawn, spawn_affine, spawn_on,
    spawn_prepared, try_spawn, try_spawn_affine, try_to_wake_up, wake_up_state, yield_now,
};
pub use self::timer::msleep;

use crate::fmtbuf::FmtBuf;

/// The current task's name and id for reports (`<boot>`/0 before the
/// scheduler starts).
pub fn current_name_pid() -> (FmtBuf<24>, u32) {
    match current_opt() {
        Some(t) => (fmtbuf!(24, "{}", t.name()), t.id()),
        None => (fmtbuf!(24, "<boot>"), 0),
    }
}
