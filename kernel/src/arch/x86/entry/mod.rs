//! The way in and out of the kernel (Linux `arch/x86/entry/`): the
//! exception and interrupt stubs, and the context switch's register swap.
pub mod entry_32;
pub mod switch;

pub use entry_32::TrapFrame;
