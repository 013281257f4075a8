//! Small assembly helpers (Linux `arch/x86/lib/`): the user copies.
pub mod usercopy_32;
