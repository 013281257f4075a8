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

    fn matches(&self, filter: &str) -> bool {
        filter.split(',').any(|f| self.short_name().contains(f))
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

static CURRENT: AtomicPtr<Test> = AtomicPtr::new(core::ptr::null_mut());
static SKIPPED: AtomicUsize = AtomicUsize::new(0);
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
    println!("ktest: running {n} tests ({deferred} that end the boot run one per boot via test_one=)");
    for t in selected[..n].iter().flatten() {
        run_test(t);
    }
    finish()
}

/// `test [NAME]` at the console: run the matching tests that return, and
/// come back to the prompt. (Tests that end the boot cannot run here; the
/// shell names them.)
pub fn run_in_shell(filter: Option<&str>) {
    let (p0, f0) = (PASSED.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed));
    let mut ending = 0;
    for t in all_tests().filter(|t| filter.is_none_or(|f| t.matches(f))) {
        if t.ends_boot() {
            ending += 1;
        } else {
            run_test(t);
        }
    }
    let (p, f) = (PASSED.load(Ordering::Relaxed) - p0, FAILED.load(Ordering::Relaxed) - f0);
    println!("{p} passed, {f} failed");
    if ending > 0 {
        println!("({ending} matching tests end the boot; run them with ./run-qemu.sh test NAME)");
    }
}

fn run_test(test: &'static Test) {
    print!("test {} ... ", test.short_name());
    let mark = crate::console::bytes_written();
    if !matches!(test.expect, Expect::KernelPanic(_)) {
        CURRENT.store(test as *const Test as *mut Test, Ordering::Relaxed);
    }
    (test.func)();
    CURRENT.store(core::ptr::null_mut(), Ordering::Relaxed);
    let interleaved = crate::console::bytes_written() != mark;
    if interleaved {
        print!("\ntest {} ... ", test.short_name());
    }
    match test.expect {
        Expect::Pass | Expect::FreshBoot => {
            PASSED.fetch_add(1, Ordering::Relaxed);
            println!("ok");
        }
        Expect::Panic(msg) | Expect::KernelPanic(msg) => {
            FAILED.fetch_add(1, Ordering::Relaxed);
            println!("FAILED");
            println!("  expected a panic containing '{msg}', but the test returned");
        }
    }
}

/// A test that runs in a boot of its own (it ends the boot, or needs a
/// fresh kernel) and cannot mean anything on this machine (say, it needs
/// highmem on `-m 512M`): say so, count it as skipped, end the boot. Tests
/// in the shared boot skip by returning early instead, with a comment.
pub fn skip(reason: &str) -> ! {
    let test = current().expect("ktest::skip outside a test");
    assert!(test.ends_boot(), "ktest::skip is for tests that run in a boot of their own");
    CURRENT.store(core::ptr::null_mut(), Ordering::Relaxed);
    println!("\ntest {} ... skipped: {reason}", test.short_name());
    SKIPPED.fetch_add(1, Ordering::Relaxed);
    finish()
}

fn finish() -> ! {
    let (p, f, s) = (PASSED.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed), SKIPPED.load(Ordering::Relaxed));
    if s > 0 {
        println!("{p} passed, {f} failed, {s} skipped");
    } else {
        println!("{p} passed, {f} failed");
    }
    exit_qemu(if f == 0 { QemuExitCode::Success } else { QemuExitCode::Failed })
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
