//! The instruments, kept apart from the kernel they measure: nothing under
//! `tools/` is needed to boot, and the core calls into it only through the
//! `trace!` hook and the stress test's timer hook.
//!
//! | file     | what it is                                                     |
//! |----------|----------------------------------------------------------------|
//! | `ktest`  | the in-kernel test harness (the tests are in the top-level `tests/`) |
//! | `bench`  | in-kernel benchmarks (`bench` kernel option, `./run-qemu.sh bench`) |
//! | `stress` | every kmap flavour on every CPU at once (`stress=SECONDS`)     |
//! | `fuzz`   | runs the system-call fuzzer /bin/fuzz and judges the kernel (`fuzz=SECONDS`) |
//! | `soak`   | kmap workers, fuzzer, page-cache checksums and an OOM hog at once (`soak=SECONDS`) |
//! | `shell`  | the serial console's commands                                  |
//! | `readline` | the console's line editor: cursor keys, history, Ctrl-C          |
//! | `demo`   | narrated demos for the console (`demo wrap`, ...)              |
//! | `trace`  | `trace on`: every kmap event printed as it happens             |
#[macro_use]
pub mod trace;
pub mod bench;
pub mod demo;
pub mod fuzz;
pub mod ktest;
pub mod readline;
pub mod shell;
pub mod soak;
pub mod stress;
