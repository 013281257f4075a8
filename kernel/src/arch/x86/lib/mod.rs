//! Small assembly helpers (Linux `arch/x86/lib/`): the user copies and the
//! 64-bit atomics.
pub mod atomic64_cx8_32;
pub mod usercopy_32;
