//! Tests of the test harness: a test that is expected to panic passes only
//! if it panics with the expected message.

use crate::tools::ktest::Test;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(a_returning_test_passes),
    test_case!(an_expected_panic_passes, panics = "expected panic 42"),
    test_case!(all_expected_lines_must_appear, panics = "first line\nsecond line"),
    test_case!(a_kernel_panic_prints_message_and_location, kernel_panic = "deliberate kernel panic 7"),
];

fn a_returning_test_passes() {
    assert_eq!(core::hint::black_box(2) + 2, 4);
}

fn an_expected_panic_passes() {
    panic!("expected panic {}", core::hint::black_box(42));
}

fn all_expected_lines_must_appear() {
    panic!("first line of a report\nand the second line too");
}

/// Runs outside the harness's panic hook: the plain panic handler speaks.
fn a_kernel_panic_prints_message_and_location() {
    panic!("deliberate kernel panic {}", core::hint::black_box(7));
}
