//! What a page fault does when it finds no memory (Linux
//! `mm/oom_kill.c`, `pagefault_out_of_memory`), until the OOM killer
//! (issue 13, item 4) exists.
//!
//! Linux 6.1: a fault that returns `VM_FAULT_OOM` calls
//! `pagefault_out_of_memory()`, which since 5.16 does not kill anyone: it
//! prints "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF"
//! and lets the fault be retried, because the page allocator's slow path
//! has already run the OOM killer (which freed memory, or killed this very
//! task). We have no OOM killer, so a retry could loop for ever. We kill
//! the faulting task instead, as Linux's OOM killer does with
//! `vm.oom_kill_allocating_task = 1`, and print its line,
//! `Out of memory (oom_kill_allocating_task): Killed process ...`.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::fmtbuf::FmtBuf;
use crate::sched::task::Task;

/// The last OOM kill line (for the tests: the console has no log buffer).
pub static LAST_OOM_KILL: spin::Mutex<FmtBuf<200>> = spin::Mutex::new(FmtBuf::new());
/// Tasks killed because a page fault found no memory.
pub static OOM_KILLS: AtomicU64 = AtomicU64::new(0);

/// Report the kill of `task`, whose page fault got `VM_FAULT_OOM` (the
/// caller sends the SIGKILL). Linux's fields, from the task's address
/// space as it is now: `total-vm` (its areas), `anon-rss` (every data page
/// mapped: we do not count file pages apart, so `file-rss` and
/// `shmem-rss` are 0), `pgtables`; `UID` 0 and `oom_score_adj` 0 (we have
/// neither).
pub fn pagefault_out_of_memory(task: &Task) {
    let (total_vm, rss) = match task.mm() {
        Some(mm) => (mm.mmap_lock().total_vm(), mm.rss()),
        None => (0, Default::default()),
    };
    let k = |pages: usize| pages * (mm::layout::PAGE_SIZE / 1024);
    let line = crate::fmtbuf!(200,
        "Out of memory (oom_kill_allocating_task): Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:{}kB oom_score_adj:0",
        task.id(), task.name(), k(total_vm), k(rss.data_low + rss.data_high), k(rss.tables_low + rss.tables_high));
    log::error!("{}", line.as_str());
    *LAST_OOM_KILL.lock() = line;
    OOM_KILLS.fetch_add(1, Relaxed);
}
