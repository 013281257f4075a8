//! The kernel image. Everything lives in the `kernel` library; the boot
//! entry (`_start`, in the `boot` crate) calls `kernel::init::start_kernel`.
#![no_std]
#![no_main]

// Linking the library is all this file does: it brings in `start_kernel`,
// the panic handler, the global allocator and the multiboot headers.
use kernel as _;
