//! The local APIC: each CPU's interrupt controller, timer and IPI sender.
//!
//! Our own small xAPIC driver (the `x86` crate's hard-codes the spurious
//! vector to 15, an exception vector, and has no timer). The registers are
//! memory-mapped at physical 0xFEE00000 on every CPU (each CPU sees its own
//! APIC there); we map that page once at the fixmap's `FIX_APIC_BASE`,
//! uncached.
//!
//! ```text
//!  vector  use (Linux's numbers where Linux has one)
//!  0x20-2f legacy ISA interrupts through the I/O APIC (IRQ n -> 0x20 + n)
//!  0xec    LOCAL_TIMER_VECTOR      the scheduler tick
//!  0xfb    CALL_FUNCTION_VECTOR    run a function on another CPU
//!  0xfd    RESCHEDULE_VECTOR       "look at your run queue"
//!  0xfe    ERROR_APIC_VECTOR
//!  0xff    SPURIOUS_APIC_VECTOR    (no EOI for this one)
//! ```

use core::sync::atomic::{AtomicU32, Ordering};

use mm::layout::{fix_to_virt, fixed_addresses::FIX_APIC_BASE};

use crate::arch::paging::{PAGE_KERNEL_NOCACHE, pte_t};

/// Vector of the first legacy IRQ.
pub const IRQ0_VECTOR: u8 = 0x20;
/// The local timer.
pub const LOCAL_TIMER_VECTOR: u8 = 0xec;
/// Run a function on another CPU.
pub const CALL_FUNCTION_VECTOR: u8 = 0xfb;
/// Reschedule.
pub const RESCHEDULE_VECTOR: u8 = 0xfd;
/// APIC internal error.
pub const ERROR_APIC_VECTOR: u8 = 0xfe;
/// Spurious interrupt.
pub const SPURIOUS_APIC_VECTOR: u8 = 0xff;

const APIC_ID: usize = 0x20;
const APIC_VERSION: usize = 0x30;
const APIC_TPR: usize = 0x80;
const APIC_EOI: usize = 0xb0;
const APIC_SVR: usize = 0xf0;
const APIC_ESR: usize = 0x280;
const APIC_ICR_LOW: usize = 0x300;
const APIC_ICR_HIGH: usize = 0x310;
const APIC_LVT_TIMER: usize = 0x320;
const APIC_LVT_LINT0: usize = 0x350;
const APIC_LVT_LINT1: usize = 0x360;
const APIC_LVT_ERROR: usize = 0x370;
const APIC_TIMER_INIT: usize = 0x380;
const APIC_TIMER_CURRENT: usize = 0x390;
const APIC_TIMER_DIVIDE: usize = 0x3e0;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const TIMER_PERIODIC: u32 = 1 << 17;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;
/// Timer divide configuration: divide by 16.
const DIVIDE_BY_16: u32 = 0b0011;

/// LAPIC timer ticks per scheduler tick (measured once by the boot CPU;
/// all CPUs' timers run from the same bus clock).
static TICKS_PER_JIFFY: AtomicU32 = AtomicU32::new(0);

fn base() -> usize {
    fix_to_virt(FIX_APIC_BASE)
}

fn read(reg: usize) -> u32 {
    // SAFETY: the APIC page is mapped uncached at FIX_APIC_BASE by
    // map_apic(); registers are 32-bit and aligned.
    unsafe { ((base() + reg) as *const u32).read_volatile() }
}

fn write(reg: usize, v: u32) {
    // SAFETY: as in read().
    unsafe { ((base() + reg) as *mut u32).write_volatile(v) };
}

/// Map the local APIC's registers (once, on the boot CPU; the fixmap page
/// table is shared, so every CPU then sees the mapping).
pub fn map_apic(phys: u32) {
    crate::mm::pgtable::set_pte_kernel(base(), pte_t::new(phys as usize >> 12, PAGE_KERNEL_NOCACHE));
    crate::arch::paging::flush_tlb_one_kernel(base());
}

/// This CPU's APIC ID.
pub fn apic_id() -> u32 {
    read(APIC_ID) >> 24
}

/// Turn on this CPU's local APIC: accept interrupts of every priority,
/// route spurious interrupts to their vector, mask the legacy LINT pins
/// (the I/O APIC delivers legacy interrupts instead).
pub fn setup_local_apic() {
    write(APIC_TPR, 0);
    write(APIC_LVT_LINT0, LVT_MASKED);
    write(APIC_LVT_LINT1, LVT_MASKED);
    write(APIC_LVT_ERROR, ERROR_APIC_VECTOR as u32);
    write(APIC_ESR, 0);
    write(APIC_ESR, 0);
    write(APIC_SVR, SVR_ENABLE | SPURIOUS_APIC_VECTOR as u32);
    eoi();
}

/// The APIC version register (for the boot log).
pub fn version() -> u32 {
    read(APIC_VERSION) & 0xff
}

/// Signal end of interrupt. Must come before a handler switches away, or
/// this CPU would take no interrupt of equal or lower priority meanwhile.
pub fn eoi() {
    write(APIC_EOI, 0);
}

/// Measure the APIC timer against the (already calibrated) TSC: how many
/// timer ticks make one scheduler tick at `hz`.
pub fn calibrate_timer(hz: u64) {
    write(APIC_TIMER_DIVIDE, DIVIDE_BY_16);
    write(APIC_LVT_TIMER, LVT_MASKED);
    write(APIC_TIMER_INIT, u32::MAX);
    let khz = super::tsc::tsc_khz();
    let start = super::cpu::rdtsc();
    // 10 ms of TSC time.
    while super::cpu::rdtsc() - start < khz * 10 {}
    let elapsed = u32::MAX - read(APIC_TIMER_CURRENT);
    write(APIC_TIMER_INIT, 0);
    let per_tick = (elapsed as u64 * 100 / hz).max(1) as u32;
    TICKS_PER_JIFFY.store(per_tick, Ordering::Relaxed);
    log::info!("APIC timer: {} kHz bus clock / 16, {} counts per {} Hz tick",
        elapsed as u64 * 100 * 16 / 1000, per_tick, hz);
}

/// Start this CPU's periodic scheduler tick. Writing the initial count is
/// what (re)starts the timer; the mode bits alone do not.
pub fn start_timer() {
    write(APIC_TIMER_DIVIDE, DIVIDE_BY_16);
    write(APIC_LVT_TIMER, TIMER_PERIODIC | LOCAL_TIMER_VECTOR as u32);
    write(APIC_TIMER_INIT, TICKS_PER_JIFFY.load(Ordering::Relaxed));
}

fn wait_icr_idle() {
    while read(APIC_ICR_LOW) & ICR_DELIVERY_PENDING != 0 {
        core::hint::spin_loop();
    }
}

/// Send a fixed-vector IPI to the CPU with APIC ID `dest`.
pub fn send_ipi(dest: u32, vector: u8) {
    let flags = super::cpu::local_irq_save();
    wait_icr_idle();
    write(APIC_ICR_HIGH, dest << 24);
    write(APIC_ICR_LOW, vector as u32);
    wait_icr_idle();
    super::cpu::local_irq_restore(flags);
}

/// INIT: reset the target CPU into its wait-for-SIPI state.
pub fn send_init(dest: u32) {
    wait_icr_idle();
    write(APIC_ICR_HIGH, dest << 24);
    write(APIC_ICR_LOW, ICR_INIT | ICR_LEVEL_ASSERT);
    wait_icr_idle();
}

/// STARTUP: the target starts in real mode at physical `page << 12`.
pub fn send_startup(dest: u32, page: u8) {
    wait_icr_idle();
    write(APIC_ICR_HIGH, dest << 24);
    write(APIC_ICR_LOW, ICR_STARTUP | page as u32);
    wait_icr_idle();
}
