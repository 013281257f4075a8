//! The panic handler: the kernel's last words.
//!
//! A kernel cannot unwind, so a panic ends the machine: print the message
//! and where it came from, then leave QEMU with a failure status. If a test
//! is running, the test harness decides first whether this panic was the
//! test's expected outcome.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::cpu::local_irq_save;
use crate::arch::qemu::{QemuExitCode, exit_qemu};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    local_irq_save();
    crate::console::force_unlock();
    if PANICKING.swap(true, Ordering::Relaxed) {
        println!("\nKernel panic while panicking: {}", info.message());
        exit_qemu(QemuExitCode::Failed);
    }
    crate::tools::ktest::on_panic(info);
    println!();
    println!("Kernel panic - not syncing: {}", info.message());
    if let Some(loc) = info.location() {
        println!("  at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    exit_qemu(QemuExitCode::Failed)
}
