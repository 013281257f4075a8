//! The time-stamp counter as our clock, calibrated against the PIT.
//!
//! The TSC counts CPU cycles (under QEMU's TCG it advances with host time),
//! but nothing tells us its frequency. The 8254 PIT does run at a known
//! 1.193182 MHz, so, as Linux's `pit_calibrate_tsc()` does, we let PIT channel
//! 2 count down (with the speaker output disconnected) and see how far the
//! TSC moves while the PIT counts 10 ms.

use core::sync::atomic::Ordering;
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use super::cpu::rdtsc;

/// The PIT's input clock.
pub const PIT_TICK_RATE: u64 = 1_193_182;
/// How long the calibration waits.
const CALIBRATE_MS: u64 = 10;

static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);

/// How many times the calibration measures; the median wins.
const CALIBRATE_TRIES: usize = 3;

/// How many bracketed reads of the PIT one sample takes (the narrowest
/// bracket wins).
const SAMPLE_READS: usize = 5;

/// Read PIT channel 2's count between two TSC reads: (TSC in the middle of
/// the bracket, the count, the bracket's width in TSC cycles). The count
/// is latched by a command (`0x80`: channel 2, latch), so the two byte
/// reads see one value.
fn pit_read_bracketed() -> (u64, u16, u64) {
    let t1 = rdtsc();
    // SAFETY: ports 0x43 (PIT mode) and 0x42 (channel 2 data) belong to
    // the PIT, which nothing else in the kernel uses.
    let count = unsafe {
        use x86::io::{inb, outb};
        outb(0x43, 0x80);
        let lo = inb(0x42) as u16;
        lo | (inb(0x42) as u16) << 8
    };
    let t2 = rdtsc();
    (t1 + (t2 - t1) / 2, count, t2 - t1)
}

/// The narrowest of [`SAMPLE_READS`] bracketed reads: (TSC, count).
fn pit_sample() -> (u64, u16) {
    let mut best = pit_read_bracketed();
    for _ in 1..SAMPLE_READS {
        let r = pit_read_bracketed();
        if r.2 < best.2 {
            best = r;
        }
    }
    (best.0, best.1)
}

/// Has channel 2 reached its terminal count (OUT2, bit 5 of port 0x61)?
fn pit_out2() -> bool {
    // SAFETY: reading system control port B, as calibrate does.
    unsafe { x86::io::inb(0x61) & 0x20 != 0 }
}

/// Measure the TSC frequency. Call once, early, with interrupts off.
///
/// PIT channel 2 counts down from 0xffff (55 ms) while we take two
/// samples of (TSC, count) at least 10 ms of PIT ticks apart; the
/// frequency is TSC cycles over PIT ticks. Under TCG the host may
/// deschedule the virtual CPU at any moment; the PIT and the TSC both
/// follow host time, so a gap *between* the samples costs nothing (both
/// advance), and a gap *inside* one shows as a wide bracket around the
/// PIT read: each sample keeps the narrowest of five reads, whose TSC
/// midpoint is then right to within its width. (Linux's
/// `quick_pit_calibrate` brackets its PIT reads with TSC reads for the
/// same reason, SMIs on real hardware.) The first version waited for the
/// end of a 10 ms countdown: a vCPU descheduled as it ended noticed late,
/// and on a host loaded four times over its cores every try came out
/// about 30% long, so CLOCK_REALTIME, which runs on the TSC from the
/// RTC's time at boot, fell 9 s behind in 30 s. A try whose count ran out
/// (a gap of 45 ms or more) is dropped; of the others the median wins.
pub fn calibrate() {
    BOOT_TSC.store(rdtsc(), Ordering::Relaxed);
    let window = (PIT_TICK_RATE * CALIBRATE_MS / 1000) as u16;
    let mut khz = [0u64; CALIBRATE_TRIES];
    let mut n = 0;
    for _ in 0..CALIBRATE_TRIES * 3 {
        if n == CALIBRATE_TRIES {
            break;
        }
        // SAFETY: ports 0x61 (system control B), 0x43 (PIT mode) and 0x42
        // (PIT channel 2 data) belong to the PIT; nothing else in the
        // kernel uses them.
        unsafe {
            use x86::io::{inb, outb};
            // Gate channel 2 on, speaker off.
            outb(0x61, (inb(0x61) & !0x02) | 0x01);
            // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary.
            outb(0x43, 0b1011_0000);
            outb(0x42, 0xff);
            // The count starts with its high byte.
            outb(0x42, 0xff);
        }
        let (t0, c0) = pit_sample();
        while c0.wrapping_sub(pit_read_bracketed().1) < window && !pit_out2() {}
        let (t1, c1) = pit_sample();
        if pit_out2() || c1 >= c0 {
            continue; // the count ran out between the samples
        }
        let ticks = u64::from(c0 - c1);
        khz[n] = (t1 - t0) * PIT_TICK_RATE / ticks / 1000;
        n += 1;
    }
    let tried = &mut khz[..n.max(1)];
    tried.sort_unstable();
    TSC_KHZ.store(tried[tried.len() / 2].max(1), Ordering::Relaxed);
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
