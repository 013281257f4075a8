//! The OOM killer's choice, as pure logic (Linux 6.1 `mm/oom_kill.c`:
//! `oom_badness`, `oom_evaluate_task`, `select_bad_process`) and the
//! page allocator's question "may this allocation call the OOM killer?"
//! (`__alloc_pages_may_oom`'s early returns). The kernel
//! (`kernel/src/mm/oom_kill.rs`) gathers the facts about each process;
//! the decisions are here, where the host can test them.
//!
//! What we leave out, and why:
//!
//! * `oom_score_adj` (`/proc/PID/oom_score_adj`): we have no `/proc` and
//!   no system call for it, so every process has 0 and the adjustment
//!   (`adj * totalpages / 1000`) is always 0. [`oom_badness`] still takes
//!   it, so that the formula is Linux's whole.
//! * Swap entries (`MM_SWAPENTS`): no swap here, so 0.
//! * cpusets, memory cgroups, sysrq-f, `oom_task_origin` (swapoff and
//!   KSM mark themselves): none exist here.
//! * `MMF_OOM_SKIP`: Linux sets it when the victim's memory has been torn
//!   down (by `exit_mmap` or the oom_reaper) so that a victim that will
//!   free nothing more stops blocking the next choice. Our victims have no
//!   reaper; the kernel forgets a victim when its address space is freed,
//!   which is when Linux's `exit_mmap` would set the bit.

use crate::gfp::GfpFlags;

/// Linux `PAGE_ALLOC_COSTLY_ORDER`: above this order the allocator gives
/// up rather than kill (`__alloc_pages_may_oom`: "The OOM killer will not
/// help higher order allocs").
pub const PAGE_ALLOC_COSTLY_ORDER: usize = 3;

/// Linux `OOM_SCORE_ADJ_MIN`: a process with this adjustment is never
/// chosen.
pub const OOM_SCORE_ADJ_MIN: i32 = -1000;

/// What the OOM killer knows about one task when it weighs it (Linux reads
/// these from `task_struct` and `mm_struct` as it walks the tasks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomCandidate {
    /// Linux `is_global_init`: the first user process. Never chosen.
    pub is_init: bool,
    /// Linux `PF_KTHREAD`: a kernel thread (no address space of its own).
    /// Never chosen.
    pub is_kthread: bool,
    /// Linux `tsk_is_oom_victim`: already chosen and killed, its memory
    /// not yet given back. While one exists, nobody else is killed.
    pub is_oom_victim: bool,
    /// Linux `find_lock_task_mm` found no mm: the task has already let go
    /// of its address space (it is exiting); nothing to gain by killing it.
    pub has_mm: bool,
    /// Linux `in_vfork`: a vfork child borrows its parent's address space;
    /// killing it frees nothing.
    pub in_vfork: bool,
    /// Linux `get_mm_rss`: pages mapped (anonymous, file and shmem).
    pub rss: usize,
    /// Linux `get_mm_counter(mm, MM_SWAPENTS)`: always 0 here.
    pub swapents: usize,
    /// Linux `mm_pgtables_bytes(mm) / PAGE_SIZE`: page-table pages.
    pub pgtables: usize,
    /// Linux `signal->oom_score_adj` (-1000..=1000): always 0 here.
    pub oom_score_adj: i32,
}

/// Linux `oom_unkillable_task`: init and kernel threads.
pub fn oom_unkillable_task(t: &OomCandidate) -> bool {
    t.is_init || t.is_kthread
}

/// Linux `oom_badness(p, totalpages)`: how many pages killing `t` would
/// free, roughly: resident pages + swap entries + page-table pages, plus
/// `oom_score_adj` thousandths of all memory. `None` is Linux's
/// `LONG_MIN`: never choose it.
pub fn oom_badness(t: &OomCandidate, totalpages: usize) -> Option<i64> {
    if oom_unkillable_task(t) || !t.has_mm {
        return None;
    }
    if t.oom_score_adj == OOM_SCORE_ADJ_MIN || t.in_vfork {
        return None;
    }
    let points = (t.rss + t.swapents + t.pgtables) as i64;
    let adj = i64::from(t.oom_score_adj) * (totalpages / 1000) as i64;
    Some(points + adj)
}

/// The outcome of [`select_bad_process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomChoice {
    /// Kill the candidate at this index (it scored these points).
    Chosen(usize, i64),
    /// A victim chosen earlier has not given its memory back yet: wait for
    /// it rather than kill another (Linux `oc->chosen = (void *)-1UL`).
    Abort,
    /// Nothing may be killed (Linux: "Out of memory and no killable
    /// processes...", then a panic; see the kernel's `out_of_memory`).
    Nothing,
}

/// Linux `select_bad_process` over `tasks` in list order, each weighed by
/// `oom_evaluate_task`: unkillable tasks are passed over; an earlier
/// victim still alive aborts the whole choice; otherwise the highest
/// badness wins, and a later task wins a tie (Linux keeps the new one
/// unless `points < chosen_points`).
pub fn select_bad_process(tasks: &[OomCandidate], totalpages: usize) -> OomChoice {
    let mut chosen: Option<(usize, i64)> = None;
    for (i, t) in tasks.iter().enumerate() {
        if oom_unkillable_task(t) {
            continue;
        }
        if t.is_oom_victim {
            return OomChoice::Abort;
        }
        let Some(points) = oom_badness(t, totalpages) else { continue };
        if chosen.is_some_and(|(_, best)| points < best) {
            continue;
        }
        chosen = Some((i, points));
    }
    match chosen {
        Some((i, points)) => OomChoice::Chosen(i, points),
        None => OomChoice::Nothing,
    }
}

/// May an allocation with `gfp` of `2^order` pages that found no free
/// memory call the OOM killer (Linux `__alloc_pages_slowpath` reaching
/// `__alloc_pages_may_oom`)? Not if it may not sleep (no
/// `__GFP_DIRECT_RECLAIM`: Linux goes to `nopage` before reclaim), nor
/// above `PAGE_ALLOC_COSTLY_ORDER`. `__GFP_NOFAIL` does not change the
/// answer (Linux calls the OOM killer for it too, and then keeps looping).
/// Whether the *context* may sleep is the kernel's to check.
pub fn gfp_may_oom(gfp: GfpFlags, order: usize) -> bool {
    gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM) && order <= PAGE_ALLOC_COSTLY_ORDER
}

/// Linux `calculate_min_free_kbytes` (mm/page_alloc.c): the reserve the
/// allocator keeps from ordinary allocations, `sqrt(lowmem_kbytes * 16)`
/// kB, between 128 kB and 256 MiB (the comment there: 16 MiB of lowmem
/// keeps 512 kB, 1 GiB keeps 4 MiB).
pub fn min_free_kbytes(lowmem_kbytes: usize) -> usize {
    let x = lowmem_kbytes as u64 * 16;
    // Integer square root (Linux int_sqrt), by Newton's method.
    let mut r = x;
    if r > 1 {
        let mut y = (r + x / r) / 2;
        while y < r {
            r = y;
            y = (r + x / r) / 2;
        }
    }
    (r as usize).clamp(128, 262_144)
}

/// May an allocation with `gfp` take lowmem pages below the `min`
/// watermark? Linux lets only allocations that cannot sleep
/// (`ALLOC_HARDER`/`ALLOC_HIGH`), `__GFP_NOFAIL` ones as a last resort,
/// and an OOM victim on its way out (`ALLOC_OOM`) dip into that reserve:
/// an ordinary allocation that may sleep stops at the watermark and goes
/// to the slow path (here: the OOM killer), so that the kernel's own
/// allocations (our heap refills under a lock, never failing) find the
/// pages they need.
pub fn may_use_reserve(gfp: GfpFlags, is_oom_victim: bool) -> bool {
    !gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM) || gfp.contains(GfpFlags::__GFP_NOFAIL) || is_oom_victim
}

/// Linux's `%pGg`: GFP flags by name, the composite names first (as
/// `__def_gfpflag_names` lists them), then any single bits left over, `|`
/// between: `GFP_HIGHUSER_MOVABLE|__GFP_ZERO`. Our `GFP_HIGHUSER` and
/// `GFP_HIGHUSER_MOVABLE` are the same bits (no `__GFP_MOVABLE`), so the
/// latter's name, the one user pages ask for, is printed.
pub struct GfpNames(pub GfpFlags);

impl core::fmt::Display for GfpNames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::gfp::{GFP_DMA, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
        let mut left = self.0;
        let mut sep = "";
        let composite = [("GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE), ("GFP_KERNEL", GFP_KERNEL), ("GFP_DMA", GFP_DMA)];
        for (name, bits) in composite {
            if !bits.is_empty() && left.contains(bits) {
                write!(f, "{sep}{name}")?;
                sep = "|";
                left.remove(bits);
            }
        }
        let single = [
            ("__GFP_DMA", GfpFlags::__GFP_DMA),
            ("__GFP_HIGHMEM", GfpFlags::__GFP_HIGHMEM),
            ("__GFP_DIRECT_RECLAIM", GfpFlags::__GFP_DIRECT_RECLAIM),
            ("__GFP_NOFAIL", GfpFlags::__GFP_NOFAIL),
            ("__GFP_ZERO", GfpFlags::__GFP_ZERO),
        ];
        for (name, bit) in single {
            if left.contains(bit) {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        if self.0.is_empty() {
            // GFP_ATOMIC here has no bit at all (Linux prints "GFP_NOWAIT"
            // for its lone __GFP_KSWAPD_RECLAIM); say so rather than nothing.
            write!(f, "0")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gfp::{GFP_ATOMIC, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};

    fn proc(rss: usize, pgtables: usize) -> OomCandidate {
        OomCandidate { has_mm: true, rss, pgtables, ..Default::default() }
    }

    #[test]
    fn badness_is_rss_plus_swap_plus_page_tables() {
        let t = OomCandidate { swapents: 5, ..proc(100, 3) };
        assert_eq!(oom_badness(&t, 1 << 20), Some(108));
    }

    #[test]
    fn oom_score_adj_adds_thousandths_of_memory() {
        let t = OomCandidate { oom_score_adj: 500, ..proc(10, 1) };
        assert_eq!(oom_badness(&t, 100_000), Some(11 + 500 * 100));
        let t = OomCandidate { oom_score_adj: -10, ..proc(10, 1) };
        assert_eq!(oom_badness(&t, 100_000), Some(11 - 10 * 100));
        let t = OomCandidate { oom_score_adj: OOM_SCORE_ADJ_MIN, ..proc(10_000, 1) };
        assert_eq!(oom_badness(&t, 100_000), None, "OOM_SCORE_ADJ_MIN: never");
    }

    #[test]
    fn init_kernel_threads_mmless_and_vfork_children_score_nothing() {
        for t in [
            OomCandidate { is_init: true, ..proc(1000, 1) },
            OomCandidate { is_kthread: true, ..proc(1000, 1) },
            OomCandidate { has_mm: false, ..proc(1000, 1) },
            OomCandidate { in_vfork: true, ..proc(1000, 1) },
        ] {
            assert_eq!(oom_badness(&t, 1 << 20), None, "{t:?}");
        }
    }

    #[test]
    fn the_biggest_is_chosen() {
        let tasks = [proc(10, 1), proc(300, 2), proc(299, 4), proc(5, 1)];
        assert_eq!(select_bad_process(&tasks, 1 << 20), OomChoice::Chosen(2, 303));
        let tasks = [proc(10, 1), proc(300, 2), proc(299, 2)];
        assert_eq!(select_bad_process(&tasks, 1 << 20), OomChoice::Chosen(1, 302));
    }

    #[test]
    fn a_tie_goes_to_the_later_task() {
        let tasks = [proc(50, 1), proc(50, 1)];
        assert_eq!(select_bad_process(&tasks, 1 << 20), OomChoice::Chosen(1, 51));
    }

    #[test]
    fn init_is_never_chosen_even_when_biggest() {
        let tasks = [OomCandidate { is_init: true, ..proc(10_000, 10) }, proc(3, 1)];
        assert_eq!(select_bad_process(&tasks, 1 << 20), OomChoice::Chosen(1, 4));
        let tasks = [OomCandidate { is_init: true, ..proc(10_000, 10) }];
        assert_eq!(select_bad_process(&tasks, 1 << 20), OomChoice::Nothing);
        assert_eq!(select_bad_process(&[], 1 << 20), OomChoice::Nothing);
    }

    #[test]
    fn a_victim_still_alive_aborts_the_choice_wherever_it_is() {
        let victim = OomCandidate { is_oom_victim: true, ..proc(1, 1) };
        assert_eq!(select_bad_process(&[proc(500, 1), victim], 1 << 20), OomChoice::Abort);
        assert_eq!(select_bad_process(&[victim, proc(500, 1)], 1 << 20), OomChoice::Abort);
        // An init marked a victim is passed over first (unkillable).
        let init_victim = OomCandidate { is_init: true, ..victim };
        assert_eq!(select_bad_process(&[init_victim, proc(5, 1)], 1 << 20), OomChoice::Chosen(1, 6));
    }

    #[test]
    fn gfp_names_as_linux_prints_them() {
        use crate::gfp::{__GFP_NOFAIL, __GFP_ZERO, GFP_ATOMIC};
        use alloc::format;
        assert_eq!(format!("{}", GfpNames(GFP_HIGHUSER_MOVABLE | __GFP_ZERO)), "GFP_HIGHUSER_MOVABLE|__GFP_ZERO");
        assert_eq!(format!("{}", GfpNames(GFP_KERNEL | __GFP_NOFAIL)), "GFP_KERNEL|__GFP_NOFAIL");
        assert_eq!(format!("{}", GfpNames(GFP_ATOMIC)), "0");
        assert_eq!(format!("{}", GfpNames(GfpFlags::__GFP_HIGHMEM)), "__GFP_HIGHMEM");
    }

    #[test]
    fn min_free_kbytes_is_linuxs_table() {
        // The examples in Linux's comment over calculate_min_free_kbytes.
        assert_eq!(min_free_kbytes(16 * 1024), 512);
        assert_eq!(min_free_kbytes(1024 * 1024), 4096);
        assert_eq!(min_free_kbytes(896 * 1024), 3831);
        assert_eq!(min_free_kbytes(1), 128, "at least 128 kB");
        assert_eq!(min_free_kbytes(usize::MAX / 32), 262_144, "at most 256 MiB");
    }

    #[test]
    fn only_atomic_nofail_and_victims_dip_into_the_reserve() {
        use crate::gfp::__GFP_NOFAIL;
        assert!(!may_use_reserve(GFP_HIGHUSER_MOVABLE, false));
        assert!(!may_use_reserve(GFP_KERNEL, false));
        assert!(may_use_reserve(GFP_KERNEL, true));
        assert!(may_use_reserve(GFP_KERNEL | __GFP_NOFAIL, false));
        assert!(may_use_reserve(GFP_ATOMIC, false));
    }

    #[test]
    fn only_sleeping_allocations_up_to_the_costly_order_may_oom() {
        assert!(gfp_may_oom(GFP_HIGHUSER_MOVABLE, 0));
        assert!(gfp_may_oom(GFP_KERNEL, PAGE_ALLOC_COSTLY_ORDER));
        assert!(!gfp_may_oom(GFP_KERNEL, PAGE_ALLOC_COSTLY_ORDER + 1));
        assert!(!gfp_may_oom(GFP_ATOMIC, 0));
    }
}
