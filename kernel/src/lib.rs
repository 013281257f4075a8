//! A 32-bit x86 teaching kernel whose centrepiece is a Linux-style highmem
//! subsystem. This library holds everything; `main.rs` only links it.
//!
//! Where to find things:
//!
//! | module        | what it owns                                             |
//! |---------------|----------------------------------------------------------|
//! | `init`        | `start_kernel`: the boot sequence, step by step          |
//! | `arch::x86`   | GDT/TSS, IDT, traps, IRQs, APICs, AP start-up, context switch, paging instructions, TSC, QEMU exit |
//! | `mm`          | the kernel side of memory management: boot-time set-up, page tables, the page allocator's front door, the heap, stacks |
//! | `console`     | the serial console and `print!`                          |
//! | `logger`      | the `log` backend                                        |
//! | `percpu`      | each CPU's private block, reached through `fs`           |
//! | `sched`       | tasks, run queues, preemption, the context-switch hooks  |
//! | `sync`        | spinlocks, wait queues, mutex, completion                |
//! | `smp`         | IPIs, cross-CPU function calls, TLB shootdown            |
//! | `debug`       | BUG reports that do not stop the machine                 |
//! | `bench`       | in-kernel benchmarks (`bench` kernel option)             |
//! | `stress`      | the cross-CPU kmap stress test (`stress=SECONDS`)        |
//! | `shell`       | the serial console: commands and narrated demos          |
//! | `demo`        | narrated demos: a pool wrap, kmap_local across a preemption, ... |
//! | `trace`       | `trace on`: every kmap event printed as it happens       |
//! | `ktest`       | the in-kernel test harness (tests are in `../tests/`)    |
//!
//! Pure policy that needs no hardware (layout constants, zones, the buddy
//! allocator, memblock, boot-info parsing) lives in the `mm` and `boot`
//! crates, so it also runs as host unit tests.
#![no_std]

extern crate alloc;

#[macro_use]
pub mod fmtbuf;
#[macro_use]
pub mod console;
#[macro_use]
pub mod trace;
pub mod arch;
pub mod bench;
pub mod debug;
pub mod demo;
pub mod init;
pub mod ktest;
pub mod logger;
pub mod mm;
pub mod panic;
pub mod percpu;
pub mod sched;
pub mod smp;
pub mod shell;
pub mod stress;
pub mod sync;

/// The in-kernel tests. Their source lives in the top-level `tests/`
/// directory, next to the host-side runner, so that all tests are in one
/// place; they are compiled into the kernel because they call its internals.
#[path = "../../tests/mod.rs"]
pub mod tests;
