//! The time-stamp counter as our clock, calibrated against the PIT.
//!
//! The TSC counts CPU cycles (under QEMU's TCG it advances with host time),
//! but nothing tells us its frequency. The 8254 PIT does run at a known
//! 1.193182 MHz, so, as Linux's `pit_calibrate_tsc()` does, we let PIT channel
//! 2 count down 10 ms (with the speaker output disconnected) and see how far
//! the TSC moved meanwhile.

use core::sync::atomic::{AtomicU64, Ordering};

use super::cpu::rdtsc;

/// The PIT's input clock.
pub const PIT_TICK_RATE: u64 = 1_193_182;
/// How long the calibration waits.
const CALIBRATE_MS: u64 = 10;

static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);

/// How many times the calibration counts down; the shortest wins.
const CALIBRATE_TRIES: u64 = 3;

/// Measure the TSC frequency. Call once, early, with interrupts off.
///
/// Under TCG the host may deschedule the virtual CPU in the middle of the
/// measurement; the PIT and the TSC both follow host time, so such a gap
/// can only make the count look longer (the loop notices the expiry late).
/// So the TSC is read just *before* the write that starts the count (a
/// gap there lengthens it too, never shortens it), the countdown runs
/// `CALIBRATE_TRIES` times, and the fewest cycles win, as Linux's
/// `pit_calibrate_tsc` keeps the minimum of its tries. (One 10 ms try on
/// a loaded host once came out 20% long: CLOCK_REALTIME, which runs on
/// the TSC from the RTC's time at boot, fell 9 s behind in 40 s.)
pub fn calibrate() {
    BOOT_TSC.store(rdtsc(), Ordering::Relaxed);
    let latch = (PIT_TICK_RATE * CALIBRATE_MS / 1000) as u16;
    let mut best = u64::MAX;
    for _ in 0..CALIBRATE_TRIES {
        // SAFETY: ports 0x61 (system control B), 0x43 (PIT mode) and 0x42
        // (PIT channel 2 data) belong to the PIT; nothing else in the
        // kernel uses them.
        let cycles = unsafe {
            use x86::io::{inb, outb};
            // Gate channel 2 on, speaker off.
            outb(0x61, (inb(0x61) & !0x02) | 0x01);
            // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary.
            outb(0x43, 0b1011_0000);
            outb(0x42, latch as u8);
            let t1 = rdtsc();
            // The count starts with its high byte.
            outb(0x42, (latch >> 8) as u8);
            // OUT2 (bit 5 of port 0x61) goes high when the count reaches zero.
            while inb(0x61) & 0x20 == 0 {}
            rdtsc() - t1
        };
        best = best.min(cycles);
    }
    TSC_KHZ.store((best / CALIBRATE_MS).max(1), Ordering::Relaxed);
}

/// TSC cycles per millisecond; 0 before [`calibrate`].
pub fn tsc_khz() -> u64 {
    TSC_KHZ.load(Ordering::Relaxed)
}

/// Convert a number of TSC cycles to nanoseconds.
pub fn cycles_to_ns(cycles: u64) -> u64 {
    let khz = tsc_khz();
    if khz == 0 {
        return 0;
    }
    (cycles / khz) * 1_000_000 + (cycles % khz) * 1_000_000 / khz
}

/// Nanoseconds since [`calibrate`] ran (0 before).
pub fn uptime_ns() -> u64 {
    cycles_to_ns(rdtsc().saturating_sub(BOOT_TSC.load(Ordering::Relaxed)))
}

/// Busy-wait at least `us` microseconds.
pub fn udelay(us: u64) {
    let start = rdtsc();
    let cycles = tsc_khz() * us / 1000;
    while rdtsc() - start < cycles {
        core::hint::spin_loop();
    }
}
