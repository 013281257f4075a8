//! The way in and out of the kernel (Linux `arch/x86/entry/`): the
//! exception and interrupt stubs, the system-call gate and its table, and
//! the context switch's register swap.
pub mod common;
pub mod entry_32;
pub mod switch;
pub mod syscall_32;
pub mod syscall_names;
pub mod vdso;

pub use entry_32::{PtRegs, TrapFrame};
