//! Reaching this CPU's per-CPU block through the `fs` segment.
//!
//! Each CPU's GDT has a data segment whose *base* is that CPU's per-CPU
//! block (`gdt.rs`, selector 0xd8, Linux's `__KERNEL_PERCPU`), and every CPU keeps it loaded in `fs`.
//! So `fs:[8]` means "byte 8 of *my* block" on every CPU, with no need to know
//! which CPU I am. That makes a read-modify-write such as `inc dword ptr
//! fs:[8]` (one instruction) safe against preemption: the task may move to
//! another CPU before or after it, never during it. Linux i386 does the same
//! (`this_cpu_inc`, `raw_cpu_read` are `%fs`-relative instructions).
//!
//! The block itself (its fields and what they mean) is policy and lives in
//! `kernel/src/percpu.rs`; this file only knows offsets.

use core::arch::asm;

/// Read the 32-bit value at `offset` in this CPU's block.
#[inline(always)]
pub fn this_cpu_read_u32(offset: usize) -> u32 {
    let v: u32;
    // SAFETY: fs holds this CPU's per-CPU segment (loaded by gdt::init_cpu
    // before any caller runs); callers pass offsets of u32 fields.
    unsafe { asm!("mov {v}, fs:[{off}]", v = out(reg) v, off = in(reg) offset, options(nostack, readonly, preserves_flags)) };
    v
}

/// Write the 32-bit value at `offset` in this CPU's block.
#[inline(always)]
pub fn this_cpu_write_u32(offset: usize, v: u32) {
    // SAFETY: as in this_cpu_read_u32.
    unsafe { asm!("mov fs:[{off}], {v}", v = in(reg) v, off = in(reg) offset, options(nostack, preserves_flags)) };
}

/// Add `v` to the 32-bit value at `offset` in one instruction.
#[inline(always)]
pub fn this_cpu_add_u32(offset: usize, v: u32) {
    // SAFETY: as in this_cpu_read_u32; `add` to memory is one instruction,
    // so no preemption can split the read from the write.
    unsafe { asm!("add fs:[{off}], {v}", v = in(reg) v, off = in(reg) offset, options(nostack)) };
}

/// Subtract `v` from the 32-bit value at `offset` in one instruction.
#[inline(always)]
pub fn this_cpu_sub_u32(offset: usize, v: u32) {
    // SAFETY: as in this_cpu_add_u32.
    unsafe { asm!("sub fs:[{off}], {v}", v = in(reg) v, off = in(reg) offset, options(nostack)) };
}

/// The address of this CPU's block (its first field points at itself).
#[inline(always)]
pub fn this_cpu_base() -> usize {
    this_cpu_read_u32(0) as usize
}

/// Offset of the CPU number in the block (fixed by `kernel::percpu`).
pub const CPU_NUMBER_OFFSET: usize = 4;

/// This CPU's logical number, without any check (Linux
/// `raw_smp_processor_id`). Fine for logging and statistics; code whose
/// *correctness* depends on the answer staying true must use
/// `kernel::percpu::smp_processor_id`, which checks that the task cannot
/// migrate.
#[inline(always)]
pub fn raw_smp_processor_id() -> usize {
    this_cpu_read_u32(CPU_NUMBER_OFFSET) as usize
}
