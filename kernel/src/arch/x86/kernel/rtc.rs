//! Reading the CMOS real-time clock (Linux `arch/x86/kernel/rtc.c`,
//! `mach_get_cmos_time`, and `drivers/rtc/rtc-mc146818-lib.c`,
//! `mc146818_get_time`): the port reads. What the bytes mean, and the
//! conversion to seconds since 1970, is `boot::rtc` (host-tested).
//!
//! The chip is reached through two ports: write a register's index to
//! 0x70, read its value from 0x71 (Linux `CMOS_READ`). It updates its
//! time registers once a second, and while it does (register A's UIP bit)
//! they may be half-changed: like `mc146818_avoid_UIP`, read only when UIP
//! is clear, and read again if the seconds moved or UIP came on while we
//! read.

use boot::rtc::{CmosRegs, RTC_UIP};

use crate::locking::spinlock::SpinLock;

const RTC_PORT_INDEX: u16 = 0x70;
const RTC_PORT_DATA: u16 = 0x71;
const RTC_SECONDS: u8 = 0x00;
const RTC_MINUTES: u8 = 0x02;
const RTC_HOURS: u8 = 0x04;
const RTC_DAY_OF_MONTH: u8 = 0x07;
const RTC_MONTH: u8 = 0x08;
const RTC_YEAR: u8 = 0x09;
const RTC_REG_A: u8 = 0x0a;
const RTC_REG_B: u8 = 0x0b;
/// The century byte's index: the ACPI FADT's `century` field names it,
/// and QEMU's FADT says 0x32. (We do not parse the FADT; a PC whose FADT
/// names none would take Linux's rule instead, two-digit years below 70
/// being 20xx: `boot::rtc::decode` with a century of 0.)
const RTC_CENTURY: u8 = 0x32;

/// Linux `rtc_lock`: index-then-data is two port accesses, and another
/// CPU's index write between them would make us read the wrong register.
static RTC_LOCK: SpinLock<()> = SpinLock::new(());

/// Linux `CMOS_READ`. The caller holds `RTC_LOCK`.
fn cmos_read(index: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 are the CMOS index and data registers; only
    // this file touches them, under RTC_LOCK. Bit 7 of the index (NMI
    // mask) stays 0, as Linux leaves it.
    unsafe {
        x86::io::outb(RTC_PORT_INDEX, index);
        x86::io::inb(RTC_PORT_DATA)
    }
}

/// The time registers, read consistently (`mc146818_avoid_UIP` +
/// `mc146818_get_time`), or `None` if the chip never let us (UIP stuck
/// on, or a second boundary in every one of 10 tries: a broken or absent
/// chip, which floats at 0xff).
pub fn read_cmos_regs() -> Option<CmosRegs> {
    let _guard = RTC_LOCK.lock_irqsave();
    for _ in 0..10 {
        // An update takes under 2 ms; wait for it to end.
        let mut spins = 0;
        while cmos_read(RTC_REG_A) & RTC_UIP != 0 {
            spins += 1;
            if spins > 1_000 {
                break;
            }
            crate::arch::tsc::udelay(10);
        }
        let sec = cmos_read(RTC_SECONDS);
        let r = CmosRegs {
            sec,
            min: cmos_read(RTC_MINUTES),
            hour: cmos_read(RTC_HOURS),
            mday: cmos_read(RTC_DAY_OF_MONTH),
            mon: cmos_read(RTC_MONTH),
            year: cmos_read(RTC_YEAR),
            century: cmos_read(RTC_CENTURY),
            reg_b: cmos_read(RTC_REG_B),
        };
        if cmos_read(RTC_REG_A) & RTC_UIP == 0 && cmos_read(RTC_SECONDS) == sec {
            return Some(r);
        }
    }
    None
}

/// Linux `mach_get_cmos_time`: the RTC's time in seconds since 1970, or
/// why there is none (the chip would not hold still, or its registers
/// make no date: `boot::rtc::decode` names the field). Linux then starts
/// the clock at 0 with "Unable to read current time from RTC"; so does
/// [`crate::time::timekeeping_init`].
pub fn mach_get_cmos_time() -> Result<i64, alloc::string::String> {
    let regs = read_cmos_regs().ok_or_else(|| alloc::string::String::from("the update-in-progress bit never cleared"))?;
    match boot::rtc::decode(regs) {
        Ok(t) => Ok(boot::rtc::rtc_tm_to_time64(&t)),
        Err(field) => Err(alloc::format!("impossible {field} in the registers {regs:x?}")),
    }
}
