//! Leaving QEMU with a status: the `isa-debug-exit` device.
//!
//! `run-qemu.sh` starts QEMU with `-device isa-debug-exit,iobase=0xf4,iosize=4`.
//! Writing a value `v` to port 0xf4 makes QEMU exit at once with status
//! `(v << 1) | 1`, so a kernel can tell the test runner how it ended.

/// The I/O port of QEMU's debug-exit device.
pub const QEMU_EXIT_PORT: u16 = 0xf4;

/// How the kernel ended. The numbers become QEMU exit status 33 and 35.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum QemuExitCode {
    /// Boot or test run finished as it should (QEMU status 33).
    Success = 0x10,
    /// A panic, a failed test or a fatal boot error (QEMU status 35).
    Failed = 0x11,
}

/// Leave QEMU with `code`. On real hardware nothing listens on the port, so
/// we then halt.
pub fn exit_qemu(code: QemuExitCode) -> ! {
    // SAFETY: port 0xf4 is QEMU's debug-exit device; on other machines the
    // write goes nowhere.
    unsafe { x86::io::outl(QEMU_EXIT_PORT, code as u32) };
    super::cpu::halt_forever()
}
