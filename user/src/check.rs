//! The output of a test program: one line per check, `ok NAME` or
//! `FAILED NAME: why`, then a summary line; the program's exit status is
//! 0 only if every check passed. tests/user.sh reads these lines.

use core::fmt;

/// A running count of a test program's checks.
pub struct Checks {
    program: &'static str,
    passed: u32,
    failed: u32,
}

impl Checks {
    /// No checks yet, for the program called `program`.
    pub const fn new(program: &'static str) -> Self {
        Checks { program, passed: 0, failed: 0 }
    }

    /// Record check `name`: passed if `ok`, else failed because of `why`.
    pub fn check(&mut self, name: &str, ok: bool, why: fmt::Arguments) {
        if ok {
            self.passed += 1;
            crate::println!("ok {name}");
        } else {
            self.failed += 1;
            crate::println!("FAILED {name}: {why}");
        }
    }

    /// Record check `name`: passed if `got == want`.
    pub fn check_eq<T: PartialEq + fmt::Display>(&mut self, name: &str, got: T, want: T) {
        let ok = got == want;
        self.check(name, ok, format_args!("got {got}, want {want}"));
    }

    /// Print the summary line; the exit status: 0 if all passed, else 1.
    pub fn finish(self) -> i32 {
        crate::println!("{}: {} passed, {} failed", self.program, self.passed, self.failed);
        if self.failed == 0 && self.passed > 0 { 0 } else { 1 }
    }
}
