//! The in-kernel test harness.
//!
//! Tests are plain functions compiled into the kernel image (they live in
//! the top-level `tests/` directory, see `tests/mod.rs`) and chosen on the
//! kernel command line:
//!
//! * `test` / `test=FILTER` runs every test (whose name contains FILTER)
//!   that is expected to return, in this one boot;
//! * `test_one=NAME` runs exactly one test, of any kind: this is how the
//!   runner runs a test that is *expected* to end the boot with a panic or a
//!   fault (a kernel cannot unwind, so such a test gets a boot of its own);
//! * `test_list[=FILTER]` prints the names and exits.
//!
//! Output, read by `run-qemu.sh`:
//!
//! ```text
//! ktest: running 12 tests
//! test mm::buddy_split_and_coalesce ... ok
//! test traps::page_fault_report ... FAILED
//!   panicked at tests/traps.rs:40:5: ...
//! 11 passed, 1 failed
//! ```
//!
//! and QEMU's exit status says the same (33 = all passed, 35 = not). A test
//! fails by panicking (`assert!` and friends). Because the boot ends there,
//! the runner starts a new boot with `test_after=NAME` to run the rest.
//!
//! Each test runs in a kernel thread of its own, named `ktest`, as Linux's
//! KUnit runs each case in a kthread (`kunit_try_catch`). That is what lets
//! a test *stop* early without unwinding: [`skip`] records why and ends the
//! thread, and the harness, waiting in `join`, prints
//!
//! ```text
//! test kmap::kmap_address_is_shared_by_cpus ... skipped (needs highmem: ...)
//! ```
//!
//! A skip always says what the configuration lacks (`needs highmem`, `needs
//! N CPUs`, `needs the kernel option OPT`): the runner fails `check` when a
//! configuration that has it skips anyway. A selection that matches no test
//! is an error, never an empty green run.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::arch::qemu::{QemuExitCode, exit_qemu};
use crate::fmtbuf::FmtBuf;

/// What a test is expected to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Return normally.
    Pass,
    /// End the boot with a panic (or fatal fault) whose message contains
    /// this text; with several lines, each line must appear somewhere.
    Panic(&'static str),
    /// Leave the harness and panic like any kernel code would: the plain
    /// panic handler must print `Kernel panic - not syncing: MESSAGE` and
    /// its location, and QEMU must exit with failure. Only the runner can
    /// judge that, from outside.
    KernelPanic(&'static str),
    /// Return normally, but in a boot of its own: the test needs state no
    /// other test has touched (say, a PKMAP pool fresh from boot).
    FreshBoot,
}

/// One in-kernel test.
pub struct Test {
    /// `module::function`, from `test_case!`.
    pub name: &'static str,
    /// The test body.
    pub func: fn(),
    /// How it should end.
    pub expect: Expect,
}

impl Test {
    /// The name without the `kernel::tests::` prefix every test shares.
    pub fn short_name(&self) -> &'static str {
        self.name.strip_prefix("kernel::tests::").unwrap_or(self.name)
    }

    /// Does this test end the boot (so it needs `test_one=`)?
    pub fn ends_boot(&self) -> bool {
        !matches!(self.expect, Expect::Pass)
    }

    /// Whether `filter` (comma-separated substrings) selects this test:
    /// the host-tested [`boot::cmdline::filter_matches`], so `test=kmap,`
    /// means kmap and not everything.
    fn matches(&self, filter: &str) -> bool {
        boot::cmdline::filter_matches(filter, self.short_name())
    }
}

/// Declare a test: `test_case!(my_test)` or
/// `test_case!(my_test, panics = "expected message")`.
#[macro_export]
macro_rules! test_case {
    ($f:ident) => {
        $crate::tools::ktest::Test {
            name: concat!(module_path!(), "::", stringify!($f)),
            func: $f,
            expect: $crate::tools::ktest::Expect::Pass,
        }
    };
    ($f:ident, fresh_boot) => {
        $crate::tools::ktest::Test {
            name: concat!(module_path!(), "::", stringify!($f)),
            func: $f,
            expect: $crate::tools::ktest::Expect::FreshBoot,
        }
    };
    ($f:ident, kernel_panic = $msg:expr) => {
        $crate::tools::ktest::Test {
            name: concat!(module_path!(), "::", stringify!($f)),
            func: $f,
            expect: $crate::tools::ktest::Expect::KernelPanic($msg),
        }
    };
    ($f:ident, panics = $msg:expr) => {
        $crate::tools::ktest::Test {
            name: concat!(module_path!(), "::", stringify!($f)),
            func: $f,
            expect: $crate::tools::ktest::Expect::Panic($msg),
        }
    };
}

/// Which tests the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// `test`: all of them.
    All,
    /// `test=FILTER`: those whose names contain one of the comma-separated
    /// substrings of FILTER.
    Filter(&'static str),
    /// `test_one=NAME`: exactly the one named NAME, of any kind.
    One(&'static str),
}

/// The harness's kernel options.
#[derive(Clone, Copy, Debug, Default)]
pub struct KtestParams {
    /// `test`, `test=FILTER` or `test_one=NAME` (the last one given wins).
    pub test: Option<Selection>,
    /// `test_after=NAME`: with `test`, start after the test named NAME.
    pub test_after: Option<&'static str>,
    /// `test_list` (`Some(None)`) or `test_list=FILTER`.
    pub test_list: Option<Option<&'static str>>,
    /// `test_expect_mem=SIZE`, in bytes: the RAM the runner gave QEMU.
    pub expect_mem: Option<u64>,
    /// `test_expect_cpus=N`: the CPUs the runner gave QEMU.
    pub expect_cpus: Option<u32>,
}

static PARAMS: spin::Mutex<KtestParams> = spin::Mutex::new(KtestParams {
    test: None,
    test_after: None,
    test_list: None,
    expect_mem: None,
    expect_cpus: None,
});

/// The harness's options as the command line set them.
pub fn params() -> KtestParams {
    *PARAMS.lock()
}

crate::early_param!("test", FlagOrValue, "FILTER",
    "run the in-kernel tests (only those whose names contain one of the comma-separated FILTER substrings)",
    |v| {
        PARAMS.lock().test = Some(v.map_or(Selection::All, Selection::Filter));
        Ok(())
    });
crate::early_param!("test_one", Value, "NAME",
    "run exactly the test NAME (for tests that end the boot with a panic or fault)",
    |v| {
        PARAMS.lock().test = Some(Selection::One(v.ok_or("a test name")?));
        Ok(())
    });
crate::early_param!("test_after", Value, "NAME",
    "with test: skip the tests up to and including NAME (the runner resumes after a test that ended the boot)",
    |v| {
        PARAMS.lock().test_after = Some(v.ok_or("a test name")?);
        Ok(())
    });
crate::early_param!("test_list", FlagOrValue, "FILTER", "print the names of the tests (matching FILTER) and exit", |v| {
    PARAMS.lock().test_list = Some(v);
    Ok(())
});
crate::early_param!("test_expect_mem", Value, "SIZE",
    "the RAM size the runner gave QEMU (-m), e.g. 3G, 3584M, 64M, so tests can check totals",
    |v| {
        PARAMS.lock().expect_mem = Some(v.and_then(boot::cmdline::parse_size).ok_or(boot::cmdline::SIZE_EXPECTED)?);
        Ok(())
    });
crate::early_param!("test_expect_cpus", Value, "N",
    "the number of CPUs the runner gave QEMU (-smp), so tests can check that all came up",
    |v| {
        let n = v.and_then(|v| v.parse::<u32>().ok()).filter(|n| (1..=255).contains(n)).ok_or("a number of CPUs from 1 to 255")?;
        PARAMS.lock().expect_cpus = Some(n);
        Ok(())
    });

/// What `kernel_init` calls: run what the command line asked of the
/// harness (`test_list`, `test`, `test=FILTER`, `test_one=NAME`); each
/// leaves QEMU when done. Without any, returns.
pub fn run_if_requested() {
    let p = params();
    if let Some(filter) = p.test_list {
        list(filter);
    }
    match p.test {
        Some(Selection::One(name)) => run_one(name),
        Some(Selection::All) => run_suite(None, p.test_after),
        Some(Selection::Filter(f)) => run_suite(Some(f), p.test_after),
        None => {}
    }
}

static CURRENT: AtomicPtr<Test> = AtomicPtr::new(core::ptr::null_mut());
static SKIPPED: AtomicUsize = AtomicUsize::new(0);
/// Why the test that just ended skipped (written by [`skip`] in the test's
/// thread, read by the harness after `join`).
static SKIP_REASON: spin::Mutex<FmtBuf<240>> = spin::Mutex::new(FmtBuf::new());
/// The id of the running test's thread (0: none), for [`skip`].
static TEST_THREAD: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
/// The exit code of a test thread that called [`skip`].
const EXIT_SKIPPED: i32 = 77;
static PASSED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);

/// Every test in the image, in suite order.
pub fn all_tests() -> impl Iterator<Item = &'static Test> {
    crate::tests::SUITES.iter().flat_map(|suite| suite.iter())
}

/// The test that is running now, if any.
pub fn current() -> Option<&'static Test> {
    let p = CURRENT.load(Ordering::Relaxed);
    // SAFETY: CURRENT only ever holds null or a pointer to a `static` Test.
    unsafe { p.as_ref() }
}

/// `test_list[=FILTER]`: print the tests and leave QEMU.
pub fn list(filter: Option<&str>) -> ! {
    let selected = || all_tests().filter(|t| filter.is_none_or(|f| t.matches(f)));
    if selected().count() == 0 {
        no_match(filter.unwrap_or(""));
    }
    println!("ktest: {} tests", selected().count());
    for t in selected() {
        match t.expect {
            Expect::Pass => println!("test {}", t.short_name()),
            Expect::Panic(msg) => {
                print!("test {} [ends boot: panics with '", t.short_name());
                for (i, line) in msg.split('\n').enumerate() {
                    print!("{}{line}", if i > 0 { "' and '" } else { "" });
                }
                println!("']");
            }
            Expect::KernelPanic(msg) => {
                println!("test {} [ends boot: kernel panic with '{}']", t.short_name(), msg)
            }
            Expect::FreshBoot => println!("test {} [own boot: needs a fresh kernel]", t.short_name()),
        }
    }
    exit_qemu(QemuExitCode::Success)
}

/// Run one named test (any kind) and leave QEMU with its result.
pub fn run_one(name: &str) -> ! {
    let Some(test) = all_tests().find(|t| t.short_name() == name) else {
        println!("ktest: no test named '{name}' (use test_list to see them)");
        println!("0 passed, 1 failed");
        exit_qemu(QemuExitCode::Failed)
    };
    println!("ktest: running 1 test");
    run_test(test);
    finish()
}

/// Run the tests that return normally, optionally only those matching
/// `filter`, starting after the test named `after`.
pub fn run_suite(filter: Option<&str>, after: Option<&str>) -> ! {
    let mut started = after.is_none();
    let mut selected = [None::<&'static Test>; 1024];
    let mut n = 0;
    for t in all_tests() {
        if !started {
            started = Some(t.short_name()) == after;
            continue;
        }
        if t.ends_boot() || filter.is_some_and(|f| !t.matches(f)) {
            continue;
        }
        assert!(n < selected.len(), "ktest: more than {} tests", selected.len());
        selected[n] = Some(t);
        n += 1;
    }
    let deferred = all_tests().filter(|t| t.ends_boot() && filter.is_none_or(|f| t.matches(f))).count();
    if n == 0 && deferred == 0 {
        no_match(filter.unwrap_or(""));
    }
    println!("ktest: running {n} tests ({deferred} that end the boot run one per boot via test_one=)");
    for t in selected[..n].iter().flatten() {
        run_test(t);
    }
    finish()
}

/// An empty selection is an error: say which filter matched nothing and
/// leave QEMU with the failure status.
fn no_match(filter: &str) -> ! {
    println!("ktest: no test matches '{filter}' (test_list prints every name)");
    exit_qemu(QemuExitCode::Failed)
}

/// `test [NAME]` at the console: run the matching tests that can run here
/// and come back to the prompt, with this command's own totals. Tests that
/// end the boot cannot run here: they are named, with the command that runs
/// them. Tests that need what only the runner passes (the expected RAM size,
/// say) skip, saying so.
pub fn run_in_shell(filter: Option<&str>) {
    let selected = || all_tests().filter(|t| filter.is_none_or(|f| t.matches(f)));
    if selected().count() == 0 {
        println!("no test matches '{}' (try 'test' alone for all of them)", filter.unwrap_or(""));
        return;
    }
    let mut totals = Totals::default();
    for t in selected().filter(|t| !t.ends_boot()) {
        totals.add(run_test(t));
    }
    println!("{}", totals);
    let left_out = selected().filter(|t| t.ends_boot()).count();
    if left_out > 0 {
        println!("left out {left_out} test(s) that end the boot (a panic, a fault, or a fresh kernel); run them with ./run-qemu.sh test NAME:");
        for t in selected().filter(|t| t.ends_boot()) {
            println!("  {}", t.short_name());
        }
    }
}

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did what it should.
    Passed,
    /// It returned but should have panicked.
    Failed,
    /// It called [`skip`].
    Skipped,
}

/// Counts of outcomes, printed as the closing line the runner reads.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Totals {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }
}

impl core::fmt::Display for Totals {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// Run one test in a thread of its own and report how it ended. A test
/// that panics does not come back here: the panic handler reports it (see
/// [`on_panic`]) and the boot ends.
fn run_test(test: &'static Test) -> Outcome {
    print!("test {} ... ", test.short_name());
    let mark = crate::console::bytes_written();
    if !matches!(test.expect, Expect::KernelPanic(_)) {
        CURRENT.store(test as *const Test as *mut Test, Ordering::Relaxed);
    }
    let func = test.func;
    let code = crate::sched::spawn("ktest", move || {
        // Start once the harness sleeps in join: its wait-queue entry is
        // then allocated, so a test that measures the heap (or anything
        // else global) sees no work of the harness's in the middle.
        let me = crate::sched::current();
        TEST_THREAD.store(me.id(), Ordering::Relaxed);
        while !me.exit_wait.has_waiters() {
            crate::sched::yield_now();
        }
        func()
    })
    .join();
    CURRENT.store(core::ptr::null_mut(), Ordering::Relaxed);
    TEST_THREAD.store(0, Ordering::Relaxed);
    let interleaved = crate::console::bytes_written() != mark;
    if interleaved {
        print!("\ntest {} ... ", test.short_name());
    }
    let outcome = match (code, test.expect) {
        (EXIT_SKIPPED, _) => {
            println!("skipped ({})", SKIP_REASON.lock().as_str());
            Outcome::Skipped
        }
        (_, Expect::Pass | Expect::FreshBoot) => {
            println!("ok");
            Outcome::Passed
        }
        (_, Expect::Panic(msg) | Expect::KernelPanic(msg)) => {
            println!("FAILED");
            println!("  expected a panic containing '{msg}', but the test returned");
            Outcome::Failed
        }
    };
    match outcome {
        Outcome::Passed => PASSED.fetch_add(1, Ordering::Relaxed),
        Outcome::Failed => FAILED.fetch_add(1, Ordering::Relaxed),
        Outcome::Skipped => SKIPPED.fetch_add(1, Ordering::Relaxed),
    };
    outcome
}

/// Stop the running test and count it as skipped: this machine cannot
/// show what the test's name says (no highmem, one CPU, ...). `reason`
/// says what is missing, starting with `needs `, so that the runner can
/// tell an expected skip (`-m 512M` has no highmem) from a wrong one. The
/// test's thread ends here (KUnit's `kunit_skip` ends the case the same
/// way); nothing after the call runs.
pub fn skip(reason: core::fmt::Arguments) -> ! {
    let me = crate::sched::current().id();
    assert!(me == TEST_THREAD.load(Ordering::Relaxed), "ktest::skip called outside a test's own thread (a task the test started cannot skip it)");
    {
        let mut r = SKIP_REASON.lock();
        *r = FmtBuf::new();
        let _ = r.write_fmt(reason);
    }
    crate::sched::exit(EXIT_SKIPPED)
}

/// Skip unless the machine has highmem (a HighMem zone with pages in it).
pub fn require_highmem() {
    let l = crate::mm::page_alloc::memory_layout();
    if l.max_pfn <= l.max_low_pfn {
        skip(format_args!("needs highmem: all {} MiB of RAM is lowmem (boot with -m 1G or more)",
            l.max_pfn >> (20 - mm::layout::PAGE_SHIFT)));
    }
}

/// Is `name` (alone or as `name=...`) on the kernel command line?
fn has_kernel_option(name: &str) -> bool {
    crate::init::boot_info().cmdline.as_str().split_ascii_whitespace()
        .any(|t| t == name || t.split_once('=').is_some_and(|(k, _)| k == name))
}

/// Skip unless the kernel was booted with option `name` (a debug mode the
/// runner has a configuration for, say).
pub fn require_kernel_option(name: &str) {
    if !has_kernel_option(name) {
        skip(format_args!("needs the kernel option {name} (./run-qemu.sh test --append {name})"));
    }
}

/// Skip if the kernel was booted with option `name`: the test's subject
/// does not exist in that mode.
pub fn require_no_kernel_option(name: &str) {
    if has_kernel_option(name) {
        skip(format_args!("needs the kernel option {name} off"));
    }
}

/// The RAM size the runner gave QEMU (`test_expect_mem=`, from `-m`), so a
/// test can check the totals against it; skips the test when the kernel
/// was booted without it (at the console, say).
pub fn expected_mem() -> u64 {
    params().expect_mem.unwrap_or_else(|| {
        skip(format_args!("needs the kernel option test_expect_mem (the runner passes QEMU's -m as test_expect_mem=SIZE)"))
    })
}

/// The CPU count the runner gave QEMU (`test_expect_cpus=`, from `-smp`);
/// skips the test when the kernel was booted without it.
pub fn expected_cpus() -> usize {
    params().expect_cpus.map_or_else(
        || skip(format_args!("needs the kernel option test_expect_cpus (the runner passes QEMU's -smp as test_expect_cpus=N)")),
        |n| n as usize,
    )
}

/// Skip unless at least `n` CPUs are online.
pub fn require_cpus(n: usize) {
    let online = crate::smp::num_online_cpus();
    if online < n {
        skip(format_args!("needs {n} CPUs: {online} online (boot with --smp {n})"));
    }
}

fn finish() -> ! {
    let totals = Totals {
        passed: PASSED.load(Ordering::Relaxed),
        failed: FAILED.load(Ordering::Relaxed),
        skipped: SKIPPED.load(Ordering::Relaxed),
    };
    println!("{totals}");
    exit_qemu(if totals.failed == 0 { QemuExitCode::Success } else { QemuExitCode::Failed })
}

/// Called first by the panic handler. If a test is running, the panic is
/// its result: expected (ok) or not (FAILED). Returns only when no test runs.
pub fn on_panic(info: &PanicInfo) {
    let Some(test) = current() else { return };
    CURRENT.store(core::ptr::null_mut(), Ordering::Relaxed);
    let mut msg = FmtBuf::<4096>::new();
    let _ = write!(msg, "{}", info.message());
    let location = fmtbuf!(256, "{}", info.location().map_or(
        fmtbuf!(200, "<unknown>"),
        |l| fmtbuf!(200, "{}:{}:{}", l.file(), l.line(), l.column())
    ).as_str());
    match test.expect {
        Expect::Panic(expected) if expected.split('\n').all(|part| msg.as_str().contains(part)) => {
            println!();
            println!("{}", msg.as_str());
            println!("test {} ... ok (panicked as expected)", test.short_name());
            PASSED.fetch_add(1, Ordering::Relaxed);
        }
        Expect::Panic(expected) => {
            println!("\ntest {} ... FAILED", test.short_name());
            println!("  expected a panic containing '{expected}', got one at {}:", location.as_str());
            println!("{}", msg.as_str());
            FAILED.fetch_add(1, Ordering::Relaxed);
        }
        Expect::Pass | Expect::FreshBoot | Expect::KernelPanic(_) => {
            println!("\ntest {} ... FAILED", test.short_name());
            println!("  panicked at {}:", location.as_str());
            println!("{}", msg.as_str());
            FAILED.fetch_add(1, Ordering::Relaxed);
        }
    }
    finish()
}
