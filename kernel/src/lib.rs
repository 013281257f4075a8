//! A 32-bit x86 teaching kernel whose centrepiece is a Linux-style highmem
//! subsystem. This library holds everything; `main.rs` only links it.
//!
//! Where to find things (each folder is where Linux keeps the same thing):
//!
//! | module        | Linux counterpart   | what it owns                                  |
//! |---------------|---------------------|-----------------------------------------------|
//! | `init`        | `init/main.c`       | `start_kernel`: the boot sequence, step by step |
//! | `arch::x86`   | `arch/x86/`         | `entry/` (trap stubs, `int $0x80`, the system-call table, context switch), `kernel/` (GDT/TSS, IDT, traps, IRQs, APICs, ACPI, AP start-up, TSC, user FPU/SSE state, signal frames, TLS), `mm/` (page-table entries, page faults, TLB and lazy TLB, exception table), `lib/` (user copies) |
//! | `mm`          | `mm/`               | the kernel side of memory management: boot-time set-up, page tables, the page allocator's front door, the heap, stacks, vmalloc, highmem (kmap, kmap_atomic, kmap_local), user address spaces (faults, mmap, mprotect), the page cache (`filemap`) |
//! | `sched`       | `kernel/sched/`     | tasks, run queues, preemption, wait queues, completions, the context-switch hooks |
//! | `locking`     | `kernel/locking/`   | spinlocks, the mutex                          |
//! | `fs`          | `fs/`, `fs/ramfs/`, `init/initramfs.c` | a tiny VFS (inodes, the path walk, the calls that change names, descriptors, `dup`/`fcntl`, stat64/statx, `ioctl`, poll/select), ramfs on the page cache with its pages in highmem, pipes, `/dev`'s character devices, unpacking the initramfs; ELF loading and exec |
//! | `smp`         | `kernel/smp.c`      | IPIs, cross-CPU function calls, TLB shootdown |
//! | `percpu`      | `include/linux/percpu-defs.h` | each CPU's private block, reached through `fs` |
//! | `console`     | `drivers/tty/serial/` | the serial console and `print!`             |
//! | `fmtbuf`      | (none)              | text formatted into a fixed buffer without the heap (`fmtbuf!`), for fault reports and panics |
//! | `tty`         | `drivers/tty/n_tty.c`, `tty_io.c`, `tty_jobctrl.c` | the console as a terminal: the line discipline honouring termios (canonical and raw, echo, the keyboard's signals), output processing, the foreground process |
//! | `tty_ioctl`   | `drivers/tty/tty_ioctl.c` | the terminal `ioctl`s: TCGETS/TCSETS*, window size, foreground group, FIONREAD, TCFLSH |
//! | `signal`      | `kernel/signal.c`   | POSIX signals: pending/blocked, sigaction, kill, process groups and sessions, default actions, restarts (the frames are `arch::x86::kernel::signal`) |
//! | `drivers`     | `drivers/char/mem.c` | `/dev/null` and `/dev/zero` (the node dispatch is `fs::char_dev`) |
//! | `logger`      | `kernel/printk/`    | the `log` backend                             |
//! | `params`      | `kernel/params.c`, `early_param()` | command-line options, declared by each subsystem |
//! | `panic`, `debug` | `kernel/panic.c`, `lib/bug.c` | the panic handler; BUG reports that do not stop the machine |
//! | `exit`, `fork`, `sys`, `errno` | `kernel/exit.c`, `kernel/fork.c`, `kernel/sys.c`, `errno-base.h` | ending a process, its wait status and wait4; fork and clone with copy-on-write; getpid & co; Linux's error numbers |
//! | `resource`    | `kernel/sys.c`      | resource limits: `ugetrlimit`, `prlimit64`  |
//! | `random`      | `drivers/char/random.c` | `getrandom` (not cryptographic)         |
//! | `tools`       | (none)              | the instruments: test harness, benchmarks, stress test, console shell, demos, trace |
//!
//! Pure policy that needs no hardware (layout constants, zones, the buddy
//! allocator, memblock, the PKMAP and kmap_local bookkeeping, boot-info
//! parsing) lives in the `mm` and `boot` crates, so it also runs as host
//! unit tests.
#![no_std]

extern crate alloc;

#[macro_use]
pub mod fmtbuf;
#[macro_use]
pub mod console;
#[macro_use]
pub mod tools;
pub mod arch;
pub mod debug;
pub mod drivers;
pub mod errno;
pub mod exit;
pub mod fork;
pub mod fs;
pub mod init;
pub mod locking;
pub mod logger;
pub mod mm;
pub mod panic;
pub mod params;
pub mod percpu;
pub mod random;
pub mod resource;
pub mod sched;
pub mod signal;
pub mod smp;
pub mod sys;
pub mod time;
pub mod futex;
pub mod tty;
pub mod tty_ioctl;

/// The in-kernel tests. Their source lives in the top-level `tests/`
/// directory, next to the host-side runner, so that all tests are in one
/// place; they are compiled into the kernel because they call its internals.
#[path = "../../tests/mod.rs"]
pub mod tests;
