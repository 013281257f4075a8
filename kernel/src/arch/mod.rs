//! Architecture-specific code. Only 32-bit x86 exists; the rest of the kernel
//! calls the small functions re-exported here and never issues a privileged
//! instruction itself.
pub mod x86;
pub use x86::*;
