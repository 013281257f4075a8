//! Fault injection: making allocations fail on purpose (Linux
//! `lib/fault-inject.c`, `mm/fail_page_alloc.c`, `mm/failslab.c`;
//! `Documentation/fault-injection/fault-injection.rst`).
//!
//! Allocation-failure paths are the code nobody runs: memory rarely runs
//! out on a test machine, so the `return -ENOMEM` branch of a system call,
//! the back-out of a half-done `fork`, the kill of a process whose page
//! fault found no page, are exercised only when someone forces them. Linux
//! forces them with a *fault attribute* (`struct fault_attr`): a few knobs
//! that decide, at each call of `should_fail()`, whether this allocation
//! fails. One attribute is consulted by the page allocator
//! (`fail_page_alloc`), one by the slab allocator (`failslab`).
//!
//! The decision, in Linux's order (`should_fail`):
//!
//! ```text
//!  probability == 0          -> succeed (injection off)
//!  times == 0                -> succeed (the failures allowed are used up)
//!  space > size              -> space -= size; succeed (let SPACE bytes through first)
//!  interval > 1: ++count % interval != 0 -> succeed (only every INTERVAL-th call)
//!  probability <= random(100) -> succeed (fail PROBABILITY percent of those)
//!  otherwise                 -> fail; times -= 1 unless times == -1 (unlimited)
//! ```
//!
//! `fail_page_alloc` and `failslab` first exempt some calls by their GFP
//! flags (`__GFP_NOFAIL` always; `__GFP_DIRECT_RECLAIM` and `__GFP_HIGHMEM`
//! unless the `ignore-gfp-*` knobs are turned off; orders below
//! `min-order`). With Linux's defaults (`ignore-gfp-wait` and
//! `ignore-gfp-highmem` on, `min-order` 1) a single user page is never
//! failed: to fail those, turn the three knobs off.
//!
//! This file is the pure logic; the kernel owns the two global attributes,
//! the random numbers, the log line and the command-line options
//! (`kernel/src/mm/fault_inject.rs`). Where we differ from Linux 6.1: no
//! per-task `fail_nth` and no `task-filter` (we have no procfs to set
//! them; our tasks' `make_it_fail` is set by the kernel's tests and is
//! not inherited), no stack-trace filter, no rate limit on the log line, and
//! [`FaultAttr::failed`] (a count of failures forced) is ours, for the
//! console and the tests.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering::Relaxed};

use crate::gfp::{__GFP_DIRECT_RECLAIM, __GFP_HIGHMEM, __GFP_NOFAIL, GfpFlags};

/// One fault attribute (Linux `struct fault_attr`). Atomics, because every
/// CPU consults it on every allocation; like Linux, the fields are read
/// and updated one at a time, so concurrent callers may see a mix (a
/// `times` of 1 can let two failures through), which is harmless for a
/// testing tool.
#[derive(Debug)]
pub struct FaultAttr {
    /// Percent of the eligible calls that fail (0 turns injection off;
    /// 100 or more: every one).
    pub probability: AtomicUsize,
    /// Only every INTERVAL-th eligible call may fail (0 and 1: every call).
    pub interval: AtomicUsize,
    /// How many failures may still be forced; -1 is unlimited.
    pub times: AtomicI32,
    /// Bytes to let through before failing anything.
    pub space: AtomicI32,
    /// 0: silent; 1: the "FAULT_INJECTION: forcing a failure." line;
    /// 2: that line and a stack dump (ours: the call site).
    pub verbose: AtomicUsize,
    /// Eligible calls counted for `interval` (Linux `count`).
    pub count: AtomicUsize,
    /// `task-filter`: fail only tasks that have `make_it_fail` set.
    pub task_filter: AtomicBool,
    /// Failures forced so far (ours, not Linux's).
    pub failed: AtomicUsize,
}

/// What `should_fail` needs from the kernel, as a trait so that host
/// tests can supply fixed answers.
pub trait FaultEnv {
    /// Linux `fail_task()`: `in_task() && current->make_it_fail`, asked
    /// only when the attribute's `task-filter` is on.
    fn fail_task(&self) -> bool;
    /// Linux `get_random_u32_below(n)`: a number in `[0, n)`, asked only
    /// when the probability decides.
    fn random_below(&mut self, n: u32) -> u32;
    /// Linux `fail_dump()`: a failure is being forced (called before
    /// `times` is decremented); the kernel logs it if `verbose`.
    fn dump(&mut self, attr: &FaultAttr);
}

/// The form `setup_fault_attr` takes, for error messages.
pub const FAULT_ATTR_FORM: &str = "INTERVAL,PROBABILITY,SPACE,TIMES (four integers, e.g. 1,100,0,5)";

impl FaultAttr {
    /// Linux `FAULT_ATTR_INITIALIZER`: interval 1, times 1, verbose 2,
    /// probability 0 (off).
    pub const fn new() -> Self {
        FaultAttr {
            probability: AtomicUsize::new(0),
            interval: AtomicUsize::new(1),
            times: AtomicI32::new(1),
            space: AtomicI32::new(0),
            verbose: AtomicUsize::new(2),
            count: AtomicUsize::new(0),
            task_filter: AtomicBool::new(false),
            failed: AtomicUsize::new(0),
        }
    }

    /// Linux `setup_fault_attr`: `"INTERVAL,PROBABILITY,SPACE,TIMES"`, the
    /// value of `fail_page_alloc=` and `failslab=` (the order of Linux's
    /// `sscanf(str, "%lu,%lu,%d,%d", &interval, &probability, &space,
    /// &times)`). Nothing is changed unless all four parse. Linux's sscanf
    /// ignores anything after the fourth number and takes a sign on an
    /// unsigned one; we refuse both. The error is the expected form.
    pub fn setup(&self, s: &str) -> Result<(), &'static str> {
        let mut it = s.split(',');
        let mut next = || it.next().map(str::trim);
        let interval: usize = next().and_then(|v| v.parse().ok()).ok_or(FAULT_ATTR_FORM)?;
        let probability: usize = next().and_then(|v| v.parse().ok()).ok_or(FAULT_ATTR_FORM)?;
        let space: i32 = next().and_then(|v| v.parse().ok()).ok_or(FAULT_ATTR_FORM)?;
        let times: i32 = next().and_then(|v| v.parse().ok()).ok_or(FAULT_ATTR_FORM)?;
        if next().is_some() {
            return Err(FAULT_ATTR_FORM);
        }
        self.probability.store(probability, Relaxed);
        self.interval.store(interval, Relaxed);
        self.times.store(times, Relaxed);
        self.space.store(space, Relaxed);
        Ok(())
    }

    /// Linux `should_fail(attr, size)`: should this call, for `size` bytes,
    /// fail? `env` answers for the task, the random source and the log.
    pub fn should_fail(&self, size: usize, env: &mut impl FaultEnv) -> bool {
        // No need to check any other properties if the probability is 0.
        let probability = self.probability.load(Relaxed);
        if probability == 0 {
            return false;
        }
        if self.task_filter.load(Relaxed) && !env.fail_task() {
            return false;
        }
        if self.times.load(Relaxed) == 0 {
            return false;
        }
        let size = i32::try_from(size).unwrap_or(i32::MAX);
        if self.space.load(Relaxed) > size {
            self.space.fetch_sub(size, Relaxed);
            return false;
        }
        let interval = self.interval.load(Relaxed);
        if interval > 1 {
            let count = self.count.fetch_add(1, Relaxed).wrapping_add(1);
            if !count.is_multiple_of(interval) {
                return false;
            }
        }
        if probability <= env.random_below(100) as usize {
            return false;
        }
        env.dump(self);
        if self.times.load(Relaxed) != -1 {
            // atomic_dec_not_zero
            let _ = self.times.fetch_update(Relaxed, Relaxed, |t| if t == 0 { None } else { Some(t - 1) });
        }
        self.failed.fetch_add(1, Relaxed);
        true
    }
}

impl Default for FaultAttr {
    fn default() -> Self {
        Self::new()
    }
}

/// `probability=P interval=I times=T space=S verbose=V task-filter=B count=C failed=F`,
/// the debugfs files of one attribute on one line.
impl fmt::Display for FaultAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probability={} interval={} times={} space={} verbose={} task-filter={} count={} failed={}",
            self.probability.load(Relaxed), self.interval.load(Relaxed), self.times.load(Relaxed),
            self.space.load(Relaxed), self.verbose.load(Relaxed), u8::from(self.task_filter.load(Relaxed)),
            self.count.load(Relaxed), self.failed.load(Relaxed))
    }
}

/// Parse a knob's value: `0`/`1` (debugfs booleans also take `N`/`Y`).
pub fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v.trim() {
        "0" | "n" | "N" => Ok(false),
        "1" | "y" | "Y" => Ok(true),
        _ => Err("0 or 1"),
    }
}

/// The page allocator's attribute and knobs (Linux `fail_page_alloc`).
#[derive(Debug)]
pub struct FailPageAlloc {
    /// The attribute (`fail_page_alloc=`).
    pub attr: FaultAttr,
    /// `ignore-gfp-highmem`: never fail `__GFP_HIGHMEM` allocations.
    pub ignore_gfp_highmem: AtomicBool,
    /// `ignore-gfp-wait`: never fail allocations that may sleep
    /// (`__GFP_DIRECT_RECLAIM`; Linux's field is `ignore_gfp_reclaim`).
    pub ignore_gfp_reclaim: AtomicBool,
    /// `min-order`: never fail allocations of a smaller order.
    pub min_order: AtomicU32,
}

impl FailPageAlloc {
    /// Linux's defaults: both `ignore-gfp-*` on, `min-order` 1.
    pub const fn new() -> Self {
        FailPageAlloc {
            attr: FaultAttr::new(),
            ignore_gfp_highmem: AtomicBool::new(true),
            ignore_gfp_reclaim: AtomicBool::new(true),
            min_order: AtomicU32::new(1),
        }
    }

    /// Linux `__should_fail_alloc_page(gfp_mask, order)`: the exemptions,
    /// then [`FaultAttr::should_fail`] for `1 << order` (Linux counts
    /// pages here, not bytes: `space` is in pages for this attribute).
    pub fn should_fail_alloc_page(&self, gfp: GfpFlags, order: usize, env: &mut impl FaultEnv) -> bool {
        if order < self.min_order.load(Relaxed) as usize {
            return false;
        }
        if gfp.contains(__GFP_NOFAIL) {
            return false;
        }
        if self.ignore_gfp_highmem.load(Relaxed) && gfp.contains(__GFP_HIGHMEM) {
            return false;
        }
        if self.ignore_gfp_reclaim.load(Relaxed) && gfp.contains(__GFP_DIRECT_RECLAIM) {
            return false;
        }
        self.attr.should_fail(1 << order, env)
    }
}

impl Default for FailPageAlloc {
    fn default() -> Self {
        Self::new()
    }
}

/// The slab allocator's attribute and knob (Linux `failslab`).
#[derive(Debug)]
pub struct Failslab {
    /// The attribute (`failslab=`).
    pub attr: FaultAttr,
    /// `ignore-gfp-wait`: never fail allocations that may sleep.
    pub ignore_gfp_reclaim: AtomicBool,
}

impl Failslab {
    /// Linux's default: `ignore-gfp-wait` on.
    pub const fn new() -> Self {
        Failslab { attr: FaultAttr::new(), ignore_gfp_reclaim: AtomicBool::new(true) }
    }

    /// Linux `__should_failslab(s, gfpflags)` for an object of `size`
    /// bytes (Linux passes the cache's `object_size`). Linux also exempts
    /// its bootstrap cache and honours `cache-filter`; we have neither.
    pub fn should_failslab(&self, gfp: GfpFlags, size: usize, env: &mut impl FaultEnv) -> bool {
        if gfp.contains(__GFP_NOFAIL) {
            return false;
        }
        if self.ignore_gfp_reclaim.load(Relaxed) && gfp.contains(__GFP_DIRECT_RECLAIM) {
            return false;
        }
        self.attr.should_fail(size, env)
    }
}

impl Default for Failslab {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gfp::{GFP_ATOMIC, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
    use std::string::ToString;
    use std::vec::Vec;

    /// Fixed answers: the random number (`None`: asking is a bug), the
    /// task's `make_it_fail`, and what the dump saw of `times`.
    struct Env {
        random: Option<u32>,
        task: bool,
        dumped: Option<i32>,
    }

    impl FaultEnv for Env {
        fn fail_task(&self) -> bool {
            self.task
        }
        fn random_below(&mut self, n: u32) -> u32 {
            assert_eq!(n, 100);
            self.random.expect("the random source was asked")
        }
        fn dump(&mut self, attr: &FaultAttr) {
            self.dumped = Some(attr.times.load(Relaxed));
        }
    }

    fn env(random: u32) -> Env {
        Env { random: Some(random), task: false, dumped: None }
    }

    fn never() -> Env {
        Env { random: None, task: false, dumped: None }
    }

    /// `should_fail` with a fixed random number; whether it was dumped.
    fn call(a: &FaultAttr, size: usize, random: u32) -> (bool, bool) {
        let mut e = env(random);
        let r = a.should_fail(size, &mut e);
        (r, e.dumped.is_some())
    }

    fn attr(s: &str) -> FaultAttr {
        let a = FaultAttr::new();
        a.setup(s).unwrap();
        a
    }

    #[test]
    fn linux_defaults() {
        let a = FaultAttr::new();
        assert_eq!(a.to_string(), "probability=0 interval=1 times=1 space=0 verbose=2 task-filter=0 count=0 failed=0");
        let p = FailPageAlloc::new();
        assert!(p.ignore_gfp_highmem.load(Relaxed) && p.ignore_gfp_reclaim.load(Relaxed));
        assert_eq!(p.min_order.load(Relaxed), 1);
        assert!(Failslab::new().ignore_gfp_reclaim.load(Relaxed));
    }

    #[test]
    fn setup_takes_interval_probability_space_times_in_that_order() {
        let a = attr("3,50,4096,-1");
        assert_eq!(a.interval.load(Relaxed), 3);
        assert_eq!(a.probability.load(Relaxed), 50);
        assert_eq!(a.space.load(Relaxed), 4096);
        assert_eq!(a.times.load(Relaxed), -1);
    }

    #[test]
    fn setup_refuses_bad_strings_and_changes_nothing() {
        let a = attr("1,100,0,5");
        for bad in ["", "1,100,0", "1,100,0,5,6", "x,100,0,5", "1,-5,0,5", "-1,100,0,5", "1,100,0,5x", "1;100;0;5", "1,100,,5"] {
            assert_eq!(a.setup(bad), Err(FAULT_ATTR_FORM), "{bad:?}");
        }
        assert_eq!(a.to_string(), "probability=100 interval=1 times=5 space=0 verbose=2 task-filter=0 count=0 failed=0");
    }

    #[test]
    fn probability_zero_is_off_and_asks_no_random_number() {
        let a = attr("1,0,0,-1");
        for _ in 0..10 {
            assert!(!a.should_fail(1, &mut never()));
        }
        assert_eq!(a.count.load(Relaxed), 0);
    }

    #[test]
    fn times_counts_down_and_stops_failing_at_zero() {
        let a = attr("1,100,0,2");
        assert_eq!(call(&a, 1, 0), (true, true));
        assert_eq!(a.times.load(Relaxed), 1);
        assert_eq!(call(&a, 1, 0), (true, true));
        assert_eq!(a.times.load(Relaxed), 0);
        assert!(!a.should_fail(1, &mut never()));
        assert_eq!(a.failed.load(Relaxed), 2);
    }

    #[test]
    fn times_minus_one_is_unlimited() {
        let a = attr("1,100,0,-1");
        for _ in 0..1000 {
            assert!(call(&a, 1, 99).0);
        }
        assert_eq!(a.times.load(Relaxed), -1);
    }

    #[test]
    fn dump_sees_times_before_the_decrement() {
        let a = attr("1,100,0,3");
        let mut e = env(0);
        assert!(a.should_fail(1, &mut e));
        assert_eq!(e.dumped, Some(3));
    }

    #[test]
    fn space_lets_that_many_bytes_through_first() {
        let a = attr("1,100,10,-1");
        // 10 > 4: through, 6 left; 6 > 4: through, 2 left; 2 > 4 is false: fail.
        assert!(!a.should_fail(4, &mut never()));
        assert_eq!(a.space.load(Relaxed), 6);
        assert!(!a.should_fail(4, &mut never()));
        assert_eq!(a.space.load(Relaxed), 2);
        assert!(call(&a, 4, 0).0);
        assert_eq!(a.space.load(Relaxed), 2, "a failed call takes no space");
        // Exactly `space` bytes left and a call for as many: it fails
        // (Linux tests `space > size`).
        let a = attr("1,100,4,-1");
        assert!(call(&a, 4, 0).0);
    }

    #[test]
    fn interval_fails_only_every_nth_eligible_call() {
        let a = attr("3,100,0,-1");
        let got: Vec<bool> = (0..9).map(|_| call(&a, 1, 0).0).collect();
        assert_eq!(got, [false, false, true, false, false, true, false, false, true]);
        assert_eq!(a.count.load(Relaxed), 9);
        // Interval 0 and 1 count nothing: every call is eligible.
        for s in ["0,100,0,-1", "1,100,0,-1"] {
            let a = attr(s);
            assert!(call(&a, 1, 0).0);
            assert_eq!(a.count.load(Relaxed), 0);
        }
    }

    #[test]
    fn probability_is_percent_against_the_random_number() {
        let a = attr("1,30,0,-1");
        // Linux: fails when random(100) < probability.
        assert!(call(&a, 1, 0).0);
        assert!(call(&a, 1, 29).0);
        assert!(!call(&a, 1, 30).0);
        assert!(!call(&a, 1, 99).0);
        assert_eq!(a.failed.load(Relaxed), 2);
        // A deterministic source over 0..100: exactly 30 of 100 fail.
        let a = attr("1,30,0,-1");
        let fails = (0..100).filter(|&r| call(&a, 1, r).0).count();
        assert_eq!(fails, 30);
    }

    #[test]
    fn times_zero_refuses_before_space_and_interval_change() {
        let a = attr("2,100,5,0");
        assert!(!a.should_fail(1, &mut never()));
        assert_eq!((a.space.load(Relaxed), a.count.load(Relaxed)), (5, 0));
    }

    fn page(p: &FailPageAlloc, gfp: GfpFlags, order: usize) -> bool {
        p.should_fail_alloc_page(gfp, order, &mut env(0))
    }

    #[test]
    fn fail_page_alloc_defaults_spare_order_zero_highmem_and_sleeping_calls() {
        let p = FailPageAlloc::new();
        p.attr.setup("1,100,0,-1").unwrap();
        assert!(!page(&p, GFP_ATOMIC, 0), "min-order 1");
        assert!(!page(&p, GFP_ATOMIC | __GFP_HIGHMEM, 1), "ignore-gfp-highmem");
        assert!(!page(&p, GFP_KERNEL, 1), "ignore-gfp-wait");
        assert!(page(&p, GFP_ATOMIC, 1));
        assert_eq!(p.attr.failed.load(Relaxed), 1);
    }

    #[test]
    fn fail_page_alloc_knobs_each_open_their_class() {
        let p = FailPageAlloc::new();
        p.attr.setup("1,100,0,-1").unwrap();
        p.min_order.store(0, Relaxed);
        assert!(page(&p, GFP_ATOMIC, 0));
        assert!(!page(&p, GFP_HIGHUSER_MOVABLE, 0));
        p.ignore_gfp_highmem.store(false, Relaxed);
        assert!(!page(&p, GFP_HIGHUSER_MOVABLE, 0), "still may sleep");
        assert!(page(&p, GFP_ATOMIC | __GFP_HIGHMEM, 0));
        p.ignore_gfp_reclaim.store(false, Relaxed);
        assert!(page(&p, GFP_HIGHUSER_MOVABLE, 0));
        assert!(page(&p, GFP_KERNEL, 0));
        p.min_order.store(2, Relaxed);
        assert!(!page(&p, GFP_KERNEL, 1));
        assert!(page(&p, GFP_KERNEL, 2));
    }

    #[test]
    fn nofail_never_fails() {
        let p = FailPageAlloc::new();
        p.attr.setup("1,100,0,-1").unwrap();
        p.min_order.store(0, Relaxed);
        p.ignore_gfp_highmem.store(false, Relaxed);
        p.ignore_gfp_reclaim.store(false, Relaxed);
        assert!(!page(&p, GFP_ATOMIC | __GFP_NOFAIL, 3));
        assert!(!page(&p, GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL, 0));
        let s = Failslab::new();
        s.attr.setup("1,100,0,-1").unwrap();
        s.ignore_gfp_reclaim.store(false, Relaxed);
        assert!(!s.should_failslab(GFP_KERNEL | __GFP_NOFAIL, 8, &mut never()));
        assert_eq!((p.attr.failed.load(Relaxed), s.attr.failed.load(Relaxed)), (0, 0));
    }

    #[test]
    fn fail_page_alloc_counts_space_in_pages() {
        let p = FailPageAlloc::new();
        p.attr.setup("1,100,5,-1").unwrap();
        assert!(!page(&p, GFP_ATOMIC, 2));
        assert_eq!(p.attr.space.load(Relaxed), 1, "an order-2 call is 4 pages");
    }

    #[test]
    fn failslab_ignores_sleeping_calls_unless_told() {
        let s = Failslab::new();
        s.attr.setup("1,100,0,-1").unwrap();
        assert!(!s.should_failslab(GFP_KERNEL, 64, &mut never()));
        assert!(s.should_failslab(GFP_ATOMIC, 64, &mut env(0)));
        s.ignore_gfp_reclaim.store(false, Relaxed);
        assert!(s.should_failslab(GFP_KERNEL, 64, &mut env(0)));
        // Space in bytes: 100 bytes let through before a 64-byte object fails.
        s.attr.setup("1,100,100,-1").unwrap();
        assert!(!s.should_failslab(GFP_KERNEL, 64, &mut never()));
        assert_eq!(s.attr.space.load(Relaxed), 36);
    }

    #[test]
    fn task_filter_fails_only_tasks_marked_make_it_fail() {
        let a = attr("1,100,0,-1");
        a.task_filter.store(true, Relaxed);
        assert!(!a.should_fail(1, &mut never()));
        let mut marked = Env { random: Some(0), task: true, dumped: None };
        assert!(a.should_fail(1, &mut marked));
        a.task_filter.store(false, Relaxed);
        assert!(call(&a, 1, 0).0, "without the filter, any task");
    }

    #[test]
    fn knob_values_are_booleans() {
        assert_eq!(parse_bool("0"), Ok(false));
        assert_eq!(parse_bool("Y"), Ok(true));
        assert_eq!(parse_bool("2"), Err("0 or 1"));
    }
}
