//! Fault injection in the kernel: the two global attributes Linux has,
//! `fail_page_alloc` (consulted by [`alloc_pages`](super::page_alloc::alloc_pages))
//! and `failslab` (consulted by the kernel heap, our kmalloc), their
//! command-line options and knobs, and the console's `fault` command. The
//! decision itself is the `mm` crate's (`mm/src/fault_inject.rs`).
//!
//! | Linux                                         | here                                   |
//! |-----------------------------------------------|----------------------------------------|
//! | `fail_page_alloc=I,P,S,T` (boot)              | the same                               |
//! | `failslab=I,P,S,T` (boot)                     | the same                               |
//! | `/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem` | `fail_page_alloc.ignore-gfp-highmem=0\|1` (boot), `fault fail_page_alloc ignore-gfp-highmem 0` (console) |
//! | `.../fail_page_alloc/ignore-gfp-wait`, `min-order` | likewise                          |
//! | `/sys/kernel/debug/failslab/ignore-gfp-wait`  | `failslab.ignore-gfp-wait=0\|1`, `fault failslab ignore-gfp-wait 0` |
//! | `probability`, `interval`, `times`, `space`, `verbose`, `task-filter` | `fault NAME KNOB VALUE` (console) |
//! | `/proc/PID/make-it-fail`                       | `Task::make_it_fail` (tests only)      |
//!
//! With Linux's defaults a single user page never fails (`min-order` 1,
//! `ignore-gfp-highmem` and `ignore-gfp-wait` on): `fault fail_page_alloc
//! min-order 0` and the two `ignore-gfp-*` set to 0 open everything.
//!
//! The heap (mm/heap.rs) has two kinds of allocation. Rust's infallible
//! `Box`/`Vec`/`Arc` reach `GlobalAlloc`, which asks with `GFP_KERNEL |
//! __GFP_NOFAIL`: `failslab` never fails them (Linux's `should_failslab`
//! returns false for `__GFP_NOFAIL`), since their failure would stop the
//! kernel in `handle_alloc_error`. The fallible API (`heap::try_box`,
//! `try_arc`, `try_reserve`, ..., `slab_pre_alloc_hook`), used where a
//! system call can back out with `-ENOMEM`, asks with `GFP_KERNEL`: with
//! `ignore-gfp-wait` at its default (1) it is spared too; at 0 `failslab`
//! may fail it.

use core::panic::Location;
use core::sync::atomic::Ordering::Relaxed;

use mm::fault_inject::{FailPageAlloc, Failslab, FaultAttr, FaultEnv, parse_bool};
use mm::gfp::GfpFlags;

use crate::fmtbuf::FmtBuf;

/// The page allocator's attribute (Linux `fail_page_alloc`).
pub static FAIL_PAGE_ALLOC: FailPageAlloc = FailPageAlloc::new();
/// The heap's attribute (Linux `failslab`).
pub static FAILSLAB: Failslab = Failslab::new();

/// The last failure forced: which attribute, and the call site (for the
/// tests and the console: there is no log buffer to search).
pub static LAST_FORCED: spin::Mutex<FmtBuf<160>> = spin::Mutex::new(FmtBuf::new());

/// The kernel's answers to `should_fail`.
struct KernelEnv {
    name: &'static str,
    site: &'static Location<'static>,
}

impl FaultEnv for KernelEnv {
    /// Linux `fail_task`: `in_task() && current->make_it_fail`.
    fn fail_task(&self) -> bool {
        !crate::sched::preempt::in_interrupt()
            && crate::sched::current_opt().is_some_and(|t| t.make_it_fail.load(Relaxed))
    }

    fn random_below(&mut self, n: u32) -> u32 {
        (crate::random::get_random_u64() % u64::from(n)) as u32
    }

    /// Linux `fail_dump`: its two lines at `verbose` 1; at 2, where Linux
    /// dumps the stack, the call site (`#[track_caller]` through the
    /// allocator's entry points).
    fn dump(&mut self, attr: &FaultAttr) {
        if let Some(mut last) = LAST_FORCED.try_lock() {
            *last = crate::fmtbuf!(160, "{} at {}", self.name, self.site);
        }
        let verbose = attr.verbose.load(Relaxed);
        if verbose > 0 {
            log::warn!("FAULT_INJECTION: forcing a failure.\nname {}, interval {}, probability {}, space {}, times {}",
                self.name, attr.interval.load(Relaxed), attr.probability.load(Relaxed),
                attr.space.load(Relaxed), attr.times.load(Relaxed));
            if verbose > 1 {
                log::warn!("  call site: {}", self.site);
            }
        }
    }
}

/// Linux `should_fail_alloc_page(gfp_mask, order)`: should this page
/// allocation fail? Called by `alloc_pages` before it takes a zone lock.
#[track_caller]
pub fn should_fail_alloc_page(gfp: GfpFlags, order: usize) -> bool {
    // Cheap test first: injection off is the common case.
    if FAIL_PAGE_ALLOC.attr.probability.load(Relaxed) == 0 {
        return false;
    }
    FAIL_PAGE_ALLOC.should_fail_alloc_page(gfp, order, &mut KernelEnv { name: "fail_page_alloc", site: Location::caller() })
}

/// Linux `should_failslab(s, gfpflags)` for a `size`-byte object.
#[track_caller]
pub fn should_failslab(gfp: GfpFlags, size: usize) -> bool {
    if FAILSLAB.attr.probability.load(Relaxed) == 0 {
        return false;
    }
    FAILSLAB.should_failslab(gfp, size, &mut KernelEnv { name: "failslab", site: Location::caller() })
}

/// The attribute named `name` (`fail_page_alloc` or `failslab`).
fn attr_of(name: &str) -> Option<&'static FaultAttr> {
    match name {
        "fail_page_alloc" => Some(&FAIL_PAGE_ALLOC.attr),
        "failslab" => Some(&FAILSLAB.attr),
        _ => None,
    }
}

/// Set one knob of one attribute, by Linux's debugfs file name:
/// `probability`, `interval`, `times`, `space`, `verbose`, `task-filter`,
/// `ignore-gfp-wait`; for `fail_page_alloc` also `ignore-gfp-highmem` and
/// `min-order`. The error says what was expected.
pub fn set_knob(name: &str, knob: &str, value: &str) -> Result<(), &'static str> {
    let attr = attr_of(name).ok_or("fail_page_alloc or failslab")?;
    let int = |v: &str| v.trim().parse::<i64>().map_err(|_| "an integer");
    let uint = |v: &str| v.trim().parse::<usize>().map_err(|_| "a non-negative integer");
    match (name, knob) {
        (_, "probability") => attr.probability.store(uint(value)?, Relaxed),
        (_, "interval") => attr.interval.store(uint(value)?, Relaxed),
        (_, "verbose") => attr.verbose.store(uint(value)?, Relaxed),
        (_, "times") => attr.times.store(i32::try_from(int(value)?).map_err(|_| "an integer")?, Relaxed),
        (_, "space") => attr.space.store(i32::try_from(int(value)?).map_err(|_| "an integer")?, Relaxed),
        (_, "task-filter") => attr.task_filter.store(parse_bool(value)?, Relaxed),
        ("fail_page_alloc", "ignore-gfp-wait") => FAIL_PAGE_ALLOC.ignore_gfp_reclaim.store(parse_bool(value)?, Relaxed),
        ("fail_page_alloc", "ignore-gfp-highmem") => FAIL_PAGE_ALLOC.ignore_gfp_highmem.store(parse_bool(value)?, Relaxed),
        ("fail_page_alloc", "min-order") => {
            FAIL_PAGE_ALLOC.min_order.store(u32::try_from(uint(value)?).map_err(|_| "a non-negative integer")?, Relaxed);
        }
        ("failslab", "ignore-gfp-wait") => FAILSLAB.ignore_gfp_reclaim.store(parse_bool(value)?, Relaxed),
        _ => return Err("a knob: probability interval times space verbose task-filter ignore-gfp-wait (fail_page_alloc also: ignore-gfp-highmem min-order)"),
    }
    Ok(())
}

/// `fail_page_alloc=...` or `failslab=...`: Linux `setup_fault_attr`.
pub fn setup(name: &str, value: &str) -> Result<(), &'static str> {
    attr_of(name).ok_or("fail_page_alloc or failslab")?.setup(value)
}

/// Both attributes and their knobs, one line each (the console's
/// `fault show`).
pub fn show(out: &mut impl core::fmt::Write) -> core::fmt::Result {
    let p = &FAIL_PAGE_ALLOC;
    writeln!(out, "fail_page_alloc: {} ignore-gfp-highmem={} ignore-gfp-wait={} min-order={}", p.attr,
        u8::from(p.ignore_gfp_highmem.load(Relaxed)), u8::from(p.ignore_gfp_reclaim.load(Relaxed)), p.min_order.load(Relaxed))?;
    writeln!(out, "failslab: {} ignore-gfp-wait={}", FAILSLAB.attr, u8::from(FAILSLAB.ignore_gfp_reclaim.load(Relaxed)))?;
    let last = LAST_FORCED.lock();
    if !last.as_str().is_empty() {
        writeln!(out, "last forced: {}", last.as_str())?;
    }
    Ok(())
}

/// Every setting of one attribute, to put back later.
#[derive(Clone, Copy)]
struct AttrSettings {
    probability: usize,
    interval: usize,
    times: i32,
    space: i32,
    verbose: usize,
    task_filter: bool,
}

impl AttrSettings {
    fn of(a: &FaultAttr) -> Self {
        AttrSettings {
            probability: a.probability.load(Relaxed),
            interval: a.interval.load(Relaxed),
            times: a.times.load(Relaxed),
            space: a.space.load(Relaxed),
            verbose: a.verbose.load(Relaxed),
            task_filter: a.task_filter.load(Relaxed),
        }
    }

    fn restore(&self, a: &FaultAttr) {
        // Probability last off, first on: no half-restored attribute fails
        // anything meanwhile.
        a.probability.store(0, Relaxed);
        a.interval.store(self.interval, Relaxed);
        a.times.store(self.times, Relaxed);
        a.space.store(self.space, Relaxed);
        a.verbose.store(self.verbose, Relaxed);
        a.task_filter.store(self.task_filter, Relaxed);
        a.probability.store(self.probability, Relaxed);
    }
}

/// All fault-injection settings, put back when dropped (for tests that
/// change them at run time).
pub struct SavedSettings {
    page: AttrSettings,
    ignore_highmem: bool,
    ignore_wait: bool,
    min_order: u32,
    slab: AttrSettings,
    slab_ignore_wait: bool,
}

/// Remember every setting; they come back when the result is dropped.
pub fn save() -> SavedSettings {
    SavedSettings {
        page: AttrSettings::of(&FAIL_PAGE_ALLOC.attr),
        ignore_highmem: FAIL_PAGE_ALLOC.ignore_gfp_highmem.load(Relaxed),
        ignore_wait: FAIL_PAGE_ALLOC.ignore_gfp_reclaim.load(Relaxed),
        min_order: FAIL_PAGE_ALLOC.min_order.load(Relaxed),
        slab: AttrSettings::of(&FAILSLAB.attr),
        slab_ignore_wait: FAILSLAB.ignore_gfp_reclaim.load(Relaxed),
    }
}

impl Drop for SavedSettings {
    fn drop(&mut self) {
        FAIL_PAGE_ALLOC.attr.probability.store(0, Relaxed);
        FAILSLAB.attr.probability.store(0, Relaxed);
        FAIL_PAGE_ALLOC.ignore_gfp_highmem.store(self.ignore_highmem, Relaxed);
        FAIL_PAGE_ALLOC.ignore_gfp_reclaim.store(self.ignore_wait, Relaxed);
        FAIL_PAGE_ALLOC.min_order.store(self.min_order, Relaxed);
        FAILSLAB.ignore_gfp_reclaim.store(self.slab_ignore_wait, Relaxed);
        self.page.restore(&FAIL_PAGE_ALLOC.attr);
        self.slab.restore(&FAILSLAB.attr);
    }
}

crate::early_param!("fail_page_alloc", Value, "INTERVAL,PROBABILITY,SPACE,TIMES",
    "fail page allocations on purpose (Linux's fault injection; see also the fail_page_alloc.* knobs and the console's 'fault')",
    |v| setup("fail_page_alloc", v.unwrap_or("")));
crate::early_param!("failslab", Value, "INTERVAL,PROBABILITY,SPACE,TIMES",
    "fail kernel-heap (kmalloc) allocations on purpose (Linux's fault injection)",
    |v| setup("failslab", v.unwrap_or("")));
crate::early_param!("fail_page_alloc.ignore-gfp-highmem", Value, "0|1",
    "1 (default): fail_page_alloc spares __GFP_HIGHMEM allocations (user pages, page cache, HIGHPTE tables)",
    |v| set_knob("fail_page_alloc", "ignore-gfp-highmem", v.unwrap_or("")));
crate::early_param!("fail_page_alloc.ignore-gfp-wait", Value, "0|1",
    "1 (default): fail_page_alloc spares allocations that may sleep (__GFP_DIRECT_RECLAIM: GFP_KERNEL, GFP_HIGHUSER)",
    |v| set_knob("fail_page_alloc", "ignore-gfp-wait", v.unwrap_or("")));
crate::early_param!("fail_page_alloc.min-order", Value, "ORDER",
    "fail_page_alloc spares allocations below this order (default 1: single pages never fail)",
    |v| set_knob("fail_page_alloc", "min-order", v.unwrap_or("")));
crate::early_param!("failslab.ignore-gfp-wait", Value, "0|1",
    "1 (default): failslab spares allocations that may sleep (the fallible kernel-heap allocations are GFP_KERNEL)",
    |v| set_knob("failslab", "ignore-gfp-wait", v.unwrap_or("")));
