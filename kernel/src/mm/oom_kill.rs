//! The OOM killer (Linux 6.1 `mm/oom_kill.c`): when the page allocator
//! finds no memory for an allocation that may sleep, it kills the process
//! whose death frees the most, and tries again.
//!
//! How Linux 6.1 gets here, and what we have of it:
//!
//! 1. `__alloc_pages` -> `get_page_from_freelist` fails ->
//!    `__alloc_pages_slowpath`: wake kswapd, direct compaction, direct
//!    reclaim (page cache and anonymous pages to swap), retried while
//!    `should_reclaim_retry` sees progress. **We have no reclaim** (no
//!    swap, and the page cache is ramfs's, which cannot be dropped), so
//!    the slow path goes straight to step 2
//!    ([`__alloc_pages_may_oom`], called by `page_alloc::alloc_pages`).
//! 2. `__alloc_pages_may_oom`: only for an allocation that may sleep
//!    (`__GFP_DIRECT_RECLAIM`) up to `PAGE_ALLOC_COSTLY_ORDER`
//!    (`mm::oom::gfp_may_oom`); one OOM killer at a time (`oom_lock`,
//!    tried, else sleep a tick: someone else is killing); one more try of
//!    the free lists under the lock (a kill in parallel may have freed
//!    memory); then [`out_of_memory`].
//! 3. `out_of_memory`: if the allocating task is itself dying, it becomes
//!    the victim and nothing else is killed (`task_will_free_mem`);
//!    otherwise `select_bad_process` weighs every process
//!    (`mm::oom::select_bad_process`: `oom_badness` = resident pages +
//!    page-table pages; init and kernel threads never), waits instead if a
//!    victim from before has not yet given its memory back, else kills
//!    the choice (`oom_kill_process`: `dump_header`'s first line, SIGKILL,
//!    `mark_oom_victim`, the "Out of memory: Killed process" line, and
//!    SIGKILL to every process sharing its address space).
//! 4. The slow path retries; the victim frees its memory when it exits
//!    (`exit_mm`), and the allocation then succeeds. A task that is itself
//!    the victim (or has SIGKILL pending) fails its allocation and dies on
//!    its way back to user mode.
//!
//! Where we differ from Linux 6.1:
//!
//! * No reclaim (above) and no `oom_reaper`: Linux's reaper unmaps a
//!   victim's anonymous memory at once, so a victim stuck in the kernel
//!   (say, on a lock the allocating task holds) cannot hold memory for
//!   ever. Ours frees only by exiting, so the waiting is bounded
//!   ([`OOM_WAIT_TICKS`]); past it the allocation fails (the fault path
//!   then retries the fault, a system call returns `-ENOMEM`).
//! * Linux loops in the slow path for ever for order 0-3 ("too small to
//!   fail"); we stop at that bound, or when nothing is killable, where
//!   Linux panics ("Out of memory and no killable processes...", "System
//!   is deadlocked on memory"): the kernel here goes on, the allocation
//!   fails.
//! * No `oom_score_adj` (always 0), no swap, no cgroups or cpusets, no
//!   `vm.oom_kill_allocating_task`, `vm.panic_on_oom` or
//!   `oom_dump_tasks` knobs (the task dump is always printed).
//! * Linux counts `rss` and page-table bytes in the mm as they change; we
//!   count by walking the page tables (`MmStruct::rss_counts`), and do not
//!   tell anonymous pages from file pages (`file-rss` and `shmem-rss` 0).
//! * An allocation made where sleeping is not allowed (a spinlock held,
//!   interrupts off: the kernel heap refilling under its lock) never calls
//!   the OOM killer (Linux: no `__GFP_DIRECT_RECLAIM`, same answer).
//! * Fault injection fails an allocation before the free lists are looked
//!   at (Linux `prepare_alloc_pages` -> `should_fail_alloc_page`), so a
//!   forced failure never reaches the OOM killer, as in Linux.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::GfpFlags;
use mm::oom::{GfpNames, OomCandidate, OomChoice, gfp_may_oom, select_bad_process};

use crate::fmtbuf::FmtBuf;
use crate::mm::mm_types::MmStruct;
use crate::sched::task::Task;

/// The last kill line, "Out of memory: Killed process ..." (for the
/// tests: the console has no log buffer).
pub static LAST_OOM_KILL: spin::Mutex<FmtBuf<200>> = spin::Mutex::new(FmtBuf::new());
/// The last `dump_header` first line, "NAME invoked oom-killer: ...".
pub static LAST_OOM_HEADER: spin::Mutex<FmtBuf<160>> = spin::Mutex::new(FmtBuf::new());
/// Processes the OOM killer chose and killed (Linux `oom_kill` in
/// `/proc/vmstat`).
pub static OOM_KILLS: AtomicU64 = AtomicU64::new(0);
/// Page faults that found no memory and were retried
/// (`pagefault_out_of_memory` without a pending SIGKILL).
pub static PAGEFAULT_OOM_RETRIES: AtomicU64 = AtomicU64::new(0);
/// Allocations that gave up after the OOM killer could not help (nothing
/// killable, or the victim did not exit within [`OOM_WAIT_TICKS`]).
pub static OOM_GAVE_UP: AtomicU64 = AtomicU64::new(0);

/// How long an allocation waits, in ticks, for victims to give their
/// memory back before failing (Linux waits for ever, its oom_reaper
/// guaranteeing progress; we have no reaper). 5 s.
pub const OOM_WAIT_TICKS: u64 = 5 * crate::sched::core::HZ;

/// Linux `oom_lock`: one OOM killer at a time (taken with a try: the
/// others sleep a tick and retry their allocation).
static OOM_LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// The victims whose memory has not come back yet (Linux marks
/// `signal->oom_mm` and counts `oom_victims`): each pid with its address
/// space's `MMF_OOM_SKIP`, set once `MmStruct`'s drop has freed every
/// page (not merely when its last reference went: the freeing takes a
/// while, TLB shootdown included, and an allocation retried in between
/// would find nothing and kill again).
static VICTIMS: crate::locking::SpinLock<Vec<(u32, Arc<AtomicBool>)>> = crate::locking::SpinLock::new(Vec::new());

/// Linux `struct oom_control`: what was being allocated.
#[derive(Clone, Copy, Debug)]
pub struct OomControl {
    /// The allocation's flags.
    pub gfp_mask: GfpFlags,
    /// Its order.
    pub order: usize,
}

/// Linux `fatal_signal_pending(current)`, for any task: SIGKILL pending.
fn fatal_signal_pending(t: &Task) -> bool {
    t.signal.pending() & crate::signal::sigmask(crate::signal::SIGKILL) != 0
}

/// Linux `tsk_is_oom_victim` (and not yet `MMF_OOM_SKIP`): `t` was chosen
/// and its address space is still there.
pub fn tsk_is_oom_victim(t: &Task) -> bool {
    let mut v = VICTIMS.lock_irqsave();
    v.retain(|(_, skip)| !skip.load(Acquire));
    v.iter().any(|(pid, _)| *pid == t.id())
}

/// Victims whose memory has not come back yet (Linux `oom_victims`).
pub fn oom_victims() -> usize {
    let mut v = VICTIMS.lock_irqsave();
    v.retain(|(_, skip)| !skip.load(Acquire));
    v.len()
}

/// Linux `mark_oom_victim`: remember `t` (with its address space) until
/// that address space is freed.
fn mark_oom_victim(t: &Task, mm: &Arc<MmStruct>) {
    let mut v = VICTIMS.lock_irqsave();
    if !v.iter().any(|(pid, _)| *pid == t.id()) {
        v.push((t.id(), mm.oom_skip_flag()));
    }
}

/// Linux `task_will_free_mem`: `t` is on its way out (SIGKILL pending, or
/// already exiting), so its memory comes back without another kill.
fn task_will_free_mem(t: &Task) -> bool {
    fatal_signal_pending(t) || t.state() == crate::sched::task::TASK_DEAD
}

/// Can the current context sleep (and so wait for a victim)?
fn can_sleep() -> bool {
    crate::sched::scheduler_running()
        && !crate::sched::preempt::in_atomic()
        && !crate::arch::cpu::irqs_disabled()
        && crate::sched::current_opt().is_some_and(|t| !t.is_idle())
}

/// The page allocator's slow path after (our absent) reclaim: Linux
/// `__alloc_pages_slowpath` from its `__alloc_pages_may_oom` on, with
/// `retry` the free-list attempt (`get_page_from_freelist`). Returns the
/// frame number, or `None` when the allocation fails.
pub fn __alloc_pages_may_oom(gfp: GfpFlags, order: usize, mut retry: impl FnMut() -> Option<usize>) -> Option<usize> {
    if !gfp_may_oom(gfp, order) || !can_sleep() {
        return None;
    }
    let me = crate::sched::current();
    let oc = OomControl { gfp_mask: gfp, order };
    let deadline = crate::sched::core::jiffies() + OOM_WAIT_TICKS;
    loop {
        // Linux: a victim (or a task with SIGKILL pending) gets one try
        // at the reserves and then `nopage`; it dies on its way out.
        if fatal_signal_pending(me) || tsk_is_oom_victim(me) {
            return None;
        }
        match OOM_LOCK.try_lock() {
            // Someone else is killing: give it time (Linux
            // `schedule_timeout_uninterruptible(1)`, "progress").
            None => crate::sched::timer::schedule_timeout(1),
            Some(lock) => {
                // Linux: one more try with a high watermark, to catch a
                // parallel kill's freed memory.
                if let Some(pfn) = retry() {
                    return Some(pfn);
                }
                let progress = out_of_memory(&oc);
                drop(lock);
                if !progress {
                    OOM_GAVE_UP.fetch_add(1, Relaxed);
                    warn_alloc(&oc, "no killable process");
                    return None;
                }
            }
        }
        if let Some(pfn) = retry() {
            return Some(pfn);
        }
        if crate::sched::core::jiffies() >= deadline {
            OOM_GAVE_UP.fetch_add(1, Relaxed);
            warn_alloc(&oc, "the OOM victims did not exit in time");
            return None;
        }
        // Let the victim run to its exit.
        crate::sched::timer::schedule_timeout(1);
    }
}

/// Linux `warn_alloc`: "page allocation failure" (its first line).
fn warn_alloc(oc: &OomControl, why: &str) {
    let me = crate::sched::current();
    log::warn!("{}: page allocation failure: order:{}, mode:{:#x}({}) ({why})",
        me.name(), oc.order, oc.gfp_mask.bits(), GfpNames(oc.gfp_mask));
}

/// One process as the OOM killer sees it.
struct Proc {
    task: Arc<Task>,
    mm: Option<Arc<MmStruct>>,
    facts: OomCandidate,
}

/// Every task, weighed (Linux walks `for_each_process` under RCU; we copy
/// the list under its lock, then look at each task outside it).
fn processes() -> Vec<Proc> {
    let tasks: Vec<Arc<Task>> = crate::sched::task::ALL_TASKS.lock_irqsave().iter().cloned().collect();
    tasks
        .into_iter()
        .map(|task| {
            let mm = task.mm();
            let (rss, pgtables) = mm.as_ref().map_or((0, 0), |mm| mm.rss_counts());
            let facts = OomCandidate {
                is_init: crate::init::is_global_init(&task),
                // No process ever had an address space: a kernel thread.
                is_kthread: !task.signal.is_user() || task.is_idle(),
                // Linux: `signal->oom_mm` until MMF_OOM_SKIP, whether or
                // not the task still has its mm (a zombie victim whose
                // address space someone still holds still blocks).
                is_oom_victim: tsk_is_oom_victim(&task),
                has_mm: mm.is_some(),
                in_vfork: task.vfork_done.lock().is_some(),
                rss,
                swapents: 0,
                pgtables,
                oom_score_adj: 0,
            };
            Proc { task, mm, facts }
        })
        .collect()
}

/// Linux `out_of_memory`: kill something so that the allocation can
/// succeed. `true` if there is reason to retry (a victim was killed, or
/// one killed before is still exiting); `false` if nothing was killable.
pub fn out_of_memory(oc: &OomControl) -> bool {
    let me = crate::sched::current();
    // "If current has a pending SIGKILL or is exiting, then automatically
    // select it. The goal is to allow it to allocate so that it may
    // quickly exit and free its memory."
    if task_will_free_mem(me)
        && let Some(mm) = me.mm()
    {
        mark_oom_victim(me, &mm);
        return true;
    }
    // A victim whose memory has not come back yet: wait for it (Linux's
    // `oom_evaluate_task` abort, below, for a victim still in the task
    // list). Our dead tasks leave the task list when they die, not when
    // they are reaped, so a victim that has died but whose address space
    // someone still holds would be missed there: we ask the victims list
    // itself. Linux's oom_reaper frees such memory; ours waits, bounded.
    if oom_victims() > 0 {
        return true;
    }
    let procs = processes();
    let facts: Vec<OomCandidate> = procs.iter().map(|p| p.facts).collect();
    let totalpages = crate::mm::page_alloc::meminfo().mem_total_kb / (mm::layout::PAGE_SIZE / 1024);
    match select_bad_process(&facts, totalpages) {
        OomChoice::Abort => true,
        OomChoice::Nothing => {
            dump_header(oc, None, &procs);
            // Linux then panics ("System is deadlocked on memory"); we let
            // the allocation fail.
            log::error!("Out of memory and no killable processes...");
            false
        }
        OomChoice::Chosen(i, _) => {
            oom_kill_process(oc, &procs, i, "Out of memory");
            true
        }
    }
}

/// Linux `dump_header`: who asked, for what; the tasks; the summary.
fn dump_header(oc: &OomControl, victim: Option<&Proc>, procs: &[Proc]) {
    let me = crate::sched::current();
    let header = crate::fmtbuf!(160, "{} invoked oom-killer: gfp_mask={:#x}({}), order={}, oom_score_adj=0",
        me.name(), oc.gfp_mask.bits(), GfpNames(oc.gfp_mask), oc.order);
    log::warn!("{}", header.as_str());
    *LAST_OOM_HEADER.lock() = header;
    let info = crate::mm::page_alloc::meminfo();
    log::warn!("Mem-Info: MemTotal:{}kB MemFree:{}kB HighTotal:{}kB HighFree:{}kB LowFree:{}kB",
        info.mem_total_kb, info.mem_free_kb, info.high_total_kb, info.high_free_kb, info.low_free_kb);
    dump_tasks(procs);
    if let Some(v) = victim {
        log::warn!("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task={},pid={},uid=0",
            v.task.name(), v.task.id());
    }
}

/// Linux `dump_tasks`: one line per process that has memory.
fn dump_tasks(procs: &[Proc]) {
    log::info!("Tasks state (memory values in pages):");
    log::info!("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name");
    for p in procs.iter().filter(|p| !p.facts.is_kthread) {
        let Some(mm) = &p.mm else { continue };
        log::info!("[{:>7}] {:>5} {:>5} {:>8} {:>8} {:>14} {:>8} {:>13} {}",
            p.task.id(), 0, p.task.id(), mm.total_vm(), p.facts.rss,
            p.facts.pgtables * mm::layout::PAGE_SIZE, 0, 0, p.task.name());
    }
}

/// Linux `oom_kill_process` + `__oom_kill_process`: kill `procs[i]` and
/// every process sharing its address space.
fn oom_kill_process(oc: &OomControl, procs: &[Proc], i: usize, message: &str) {
    let victim = &procs[i];
    let Some(mm) = &victim.mm else { return };
    // "If the task is already exiting, don't alarm the sysadmin or kill
    // its children or threads, just give it access to memory reserves."
    if task_will_free_mem(&victim.task) {
        mark_oom_victim(&victim.task, mm);
        return;
    }
    dump_header(oc, Some(victim), procs);
    // Linux: SIGKILL first, then mark, so that the victim can use the
    // reserves on its way out.
    crate::signal::send_signal(crate::signal::SIGKILL, crate::signal::KSigInfo::default(), &victim.task);
    mark_oom_victim(&victim.task, mm);
    let k = |pages: usize| pages * (mm::layout::PAGE_SIZE / 1024);
    let line = crate::fmtbuf!(200,
        "{}: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:{}kB oom_score_adj:0",
        message, victim.task.id(), victim.task.name(), k(mm.total_vm()), k(victim.facts.rss), k(victim.facts.pgtables));
    log::error!("{}", line.as_str());
    *LAST_OOM_KILL.lock() = line;
    OOM_KILLS.fetch_add(1, Relaxed);
    // "Kill all user processes sharing victim->mm in other thread groups":
    // here, a vfork child or parent on the same address space.
    for p in procs.iter().filter(|p| !Arc::ptr_eq(&p.task, &victim.task)) {
        if !p.mm.as_ref().is_some_and(|m| Arc::ptr_eq(m, mm)) || p.facts.is_kthread {
            continue;
        }
        if p.facts.is_init {
            log::info!("oom killer {} ({}) has mm pinned by {} ({})", victim.task.id(), victim.task.name(), p.task.id(), p.task.name());
            continue;
        }
        log::error!("Killed process {} ({}) sharing same memory", p.task.id(), p.task.name());
        crate::signal::send_signal(crate::signal::SIGKILL, crate::signal::KSigInfo::default(), &p.task);
    }
}

/// Linux 6.1 `pagefault_out_of_memory`: a page fault got `VM_FAULT_OOM`.
/// The allocator has already run the OOM killer; if it chose us, SIGKILL
/// is pending and we are done. Otherwise (a forced failure, or an
/// allocation that gave up) the fault is retried, with Linux's warning,
/// rate-limited as `DEFAULT_RATELIMIT_INTERVAL`/`BURST` (10 per 5 s).
pub fn pagefault_out_of_memory() {
    let me = crate::sched::current();
    if fatal_signal_pending(me) {
        return;
    }
    PAGEFAULT_OOM_RETRIES.fetch_add(1, Relaxed);
    static WINDOW: spin::Mutex<(u64, u32)> = spin::Mutex::new((0, 0));
    let now = crate::sched::core::jiffies();
    let mut w = WINDOW.lock();
    if now >= w.0 + 5 * crate::sched::core::HZ || w.0 == 0 {
        *w = (now.max(1), 0);
    }
    if w.1 < 10 {
        w.1 += 1;
        drop(w);
        log::warn!("Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF");
    }
}
