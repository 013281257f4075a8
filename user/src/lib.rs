//! The runtime of our user programs: what a C library's start-up files and
//! system-call stubs do, and no more.
//!
//! A program here is a static i386 ELF executable that talks to the kernel
//! through Linux's i386 system-call ABI only (`int $0x80`, number in eax,
//! arguments in ebx, ecx, edx, esi, edi, ebp, `-errno` back in eax). So
//! the same file runs on our kernel, on Linux (a 64-bit Linux runs it
//! through its IA32 emulation) and under `qemu-i386`; the last two are the
//! oracles `./run-qemu.sh user-test` checks the programs against.
//!
//! * [`start`]: `_start`, which reads argc, argv, envp and the auxiliary
//!   vector from the initial stack the way Linux's `create_elf_tables`
//!   lays it out, calls the program's `main` and exits with its status;
//! * [`syscall`]: `syscall0` .. `syscall6`, Linux's numbers and error
//!   codes, and safe wrappers (`write`, `exit`, `getpid`, ...);
//! * [`io`]: `print!` / `println!` (fd 1), `eprint!` / `eprintln!` (fd 2);
//! * [`check`]: the `ok NAME` / `FAILED NAME: why` lines of test programs;
//! * the panic handler: prints where and why to fd 2 and exits with status
//!   101, as a Rust program on Linux does.
//!
//! A program is a `#![no_std] #![no_main]` binary in `src/bin/` that names
//! its main function with [`entry!`].

#![no_std]

pub mod check;
pub mod io;
pub mod start;
pub mod syscall;

pub use start::Args;

/// The exit status of a program that panicked (Rust's std uses 101 too).
pub const PANIC_EXIT_STATUS: i32 = 101;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // The same shape as std's message, less the thread name.
    match info.location() {
        Some(loc) => eprintln!("panicked at {}:{}:{}:", loc.file(), loc.line(), loc.column()),
        None => eprintln!("panicked:"),
    }
    eprintln!("{}", info.message());
    syscall::exit(PANIC_EXIT_STATUS)
}
