//! The PC's battery-backed clock, the Motorola MC146818 "CMOS RTC", as its
//! registers read (Linux `drivers/rtc/rtc-mc146818-lib.c`,
//! `mc146818_get_time`, and `kernel/time/time.c`, `mktime64`): the
//! arithmetic that turns the bytes into seconds since 1970, with no port
//! I/O in it, so that it runs as host tests. The kernel reads the ports
//! once at boot (`kernel/src/arch/x86/kernel/rtc.rs`) to start
//! `CLOCK_REALTIME`, as Linux's `read_persistent_clock64` does.
//!
//! ```text
//!  CMOS index  0x00 sec   0x02 min   0x04 hour   0x07 day of month
//!              0x08 month 0x09 year (two digits)  0x32 century (ACPI FADT's
//!              "century" field names it; QEMU's is 0x32)
//!              0x0a register A: bit 7 UIP, an update in progress
//!              0x0b register B: bit 2 DM (1 = binary, 0 = BCD),
//!                               bit 1 24/12 (1 = 24-hour)
//! ```
//! In 12-hour mode bit 7 of the hour byte is PM, and 12 AM is midnight.
//! QEMU's RTC keeps UTC (its `-rtc base=utc` default), as Linux expects
//! of a PC unless told otherwise.

/// Register B's bits (Linux `include/linux/mc146818rtc.h`).
pub const RTC_DM_BINARY: u8 = 0x04;
pub const RTC_24H: u8 = 0x02;
/// Register A: an update cycle is in progress; the time registers may be
/// half-changed.
pub const RTC_UIP: u8 = 0x80;

/// The time registers as read from the chip, before decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmosRegs {
    pub sec: u8,
    pub min: u8,
    pub hour: u8,
    pub mday: u8,
    pub mon: u8,
    pub year: u8,
    /// 0 when the machine names no century register.
    pub century: u8,
    pub reg_b: u8,
}

/// A calendar time in UTC, with the month from 1 and the full year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcTime {
    pub year: u32,
    pub mon: u32,
    pub mday: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
}

/// Linux `bcd2bin`: two decimal digits in one byte.
pub const fn bcd2bin(v: u8) -> u8 {
    (v & 0x0f) + (v >> 4) * 10
}

/// Decode the registers as `mc146818_get_time` does: BCD unless register
/// B says binary; 12-hour mode folded to 24; the century register if the
/// machine has one, else Linux's rule that a two-digit year below 70 is
/// 20xx. Then Linux's `rtc_valid_tm` check: a field out of range is the
/// error, naming the field and the raw value, and no time is made of it.
pub fn decode(r: CmosRegs) -> Result<RtcTime, &'static str> {
    let bin = |v: u8| if r.reg_b & RTC_DM_BINARY != 0 { v } else { bcd2bin(v) };
    let pm = r.reg_b & RTC_24H == 0 && r.hour & 0x80 != 0;
    let mut hour = bin(r.hour & 0x7f) as u32;
    if r.reg_b & RTC_24H == 0 {
        if !(1..=12).contains(&hour) {
            return Err("hour (12-hour mode)");
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let yy = bin(r.year) as u32;
    let year = match bin(r.century) as u32 {
        0 => 1900 + yy + if yy < 70 { 100 } else { 0 },
        c => c * 100 + yy,
    };
    let t = RtcTime { year, mon: bin(r.mon) as u32, mday: bin(r.mday) as u32, hour, min: bin(r.min) as u32, sec: bin(r.sec) as u32 };
    if yy > 99 {
        return Err("year");
    }
    if !(1..=12).contains(&t.mon) {
        return Err("month");
    }
    if t.mday < 1 || t.mday > days_in_month(t.year, t.mon) {
        return Err("day of month");
    }
    if t.hour > 23 {
        return Err("hour");
    }
    if t.min > 59 {
        return Err("minute");
    }
    if t.sec > 59 {
        return Err("second");
    }
    Ok(t)
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Linux `rtc_month_days`, with the month from 1.
pub fn days_in_month(year: u32, mon: u32) -> u32 {
    match mon {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Linux `mktime64` (Gauss's algorithm, as kernel/time/time.c has it):
/// seconds since 1970-01-01 00:00:00 UTC for a Gregorian date, months
/// from 1. March is made the first month, so that the leap day falls at
/// the end of the year and the days before a month are a line's worth
/// (367 * mon / 12).
pub fn mktime64(year: u32, mon: u32, day: u32, hour: u32, min: u32, sec: u32) -> i64 {
    let (mut year, mut mon) = (year as i64, mon as i64 - 2);
    if mon <= 0 {
        mon += 12; // puts Feb last since it has the leap day
        year -= 1;
    }
    let days = year / 4 - year / 100 + year / 400 + 367 * mon / 12 + day as i64 + year * 365 - 719_499;
    ((days * 24 + hour as i64) * 60 + min as i64) * 60 + sec as i64
}

/// Seconds since 1970 for a decoded time (Linux `rtc_tm_to_time64`).
pub fn rtc_tm_to_time64(t: &RtcTime) -> i64 {
    mktime64(t.year, t.mon, t.mday, t.hour, t.min, t.sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mktime64_agrees_with_known_instants() {
        assert_eq!(mktime64(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(mktime64(1970, 1, 2, 0, 0, 1), 86_401);
        // `date -u -d 2000-02-29T12:00:00 +%s`, and the day after.
        assert_eq!(mktime64(2000, 2, 29, 12, 0, 0), 951_825_600);
        assert_eq!(mktime64(2000, 3, 1, 0, 0, 0), 951_868_800);
        // i386's 32-bit time_t runs out here.
        assert_eq!(mktime64(2038, 1, 19, 3, 14, 7), 2_147_483_647);
        assert_eq!(mktime64(2026, 11, 30, 4, 23, 20), 1_796_012_600);
        assert_eq!(mktime64(2100, 3, 1, 0, 0, 0), 4_107_542_400);
    }

    #[test]
    fn every_day_from_1970_to_2200_is_86400_seconds_after_the_one_before() {
        let mut prev = mktime64(1970, 1, 1, 0, 0, 0);
        let mut n = 0;
        for year in 1970..2200 {
            for mon in 1..=12 {
                for day in 1..=days_in_month(year, mon) {
                    let t = mktime64(year, mon, day, 0, 0, 0);
                    if n > 0 {
                        assert_eq!(t - prev, 86_400, "{year}-{mon}-{day}");
                    }
                    prev = t;
                    n += 1;
                }
            }
        }
        assert_eq!(n, 84_006, "days in 1970..2200");
    }

    /// The registers in CMOS order: sec, min, hour, day, month, year,
    /// century; then register B.
    fn regs(r: [u8; 7], reg_b: u8) -> CmosRegs {
        let [sec, min, hour, mday, mon, year, century] = r;
        CmosRegs { sec, min, hour, mday, mon, year, century, reg_b }
    }

    #[test]
    fn bcd_and_binary_registers_decode_to_the_same_time() {
        let want = RtcTime { year: 2026, mon: 11, mday: 30, hour: 4, min: 23, sec: 59 };
        // QEMU's default: BCD, 24-hour, century register 0x20.
        assert_eq!(decode(regs([0x59, 0x23, 0x04, 0x30, 0x11, 0x26, 0x20], RTC_24H)), Ok(want));
        assert_eq!(decode(regs([59, 23, 4, 30, 11, 26, 20], RTC_24H | RTC_DM_BINARY)), Ok(want));
        assert_eq!(bcd2bin(0x99), 99);
        assert_eq!(bcd2bin(0x00), 0);
    }

    #[test]
    fn without_a_century_register_years_below_70_are_20xx() {
        let t = |yy| decode(regs([0, 0, 0, 1, 1, yy, 0], RTC_24H)).unwrap().year;
        assert_eq!(t(0x26), 2026);
        assert_eq!(t(0x69), 2069);
        assert_eq!(t(0x70), 1970);
        assert_eq!(t(0x99), 1999);
    }

    #[test]
    fn twelve_hour_mode_folds_am_and_pm_into_24_hours() {
        let h = |hour| decode(regs([0, 0, hour, 1, 1, 0x26, 0x20], 0)).map(|t| t.hour);
        assert_eq!(h(0x12), Ok(0), "12 AM is midnight");
        assert_eq!(h(0x01), Ok(1));
        assert_eq!(h(0x11), Ok(11));
        assert_eq!(h(0x80 | 0x12), Ok(12), "12 PM is noon");
        assert_eq!(h(0x80 | 0x01), Ok(13));
        assert_eq!(h(0x80 | 0x11), Ok(23));
        assert_eq!(h(0x00), Err("hour (12-hour mode)"));
        assert_eq!(h(0x13), Err("hour (12-hour mode)"));
    }

    #[test]
    fn an_impossible_time_is_refused_naming_the_field() {
        let b = RTC_24H;
        assert_eq!(decode(regs([0, 0, 0, 1, 0x13, 0x26, 0x20], b)), Err("month"));
        assert_eq!(decode(regs([0, 0, 0, 1, 0x00, 0x26, 0x20], b)), Err("month"));
        assert_eq!(decode(regs([0, 0, 0, 0x29, 0x02, 0x26, 0x20], b)), Err("day of month"), "2026 is not a leap year");
        assert_eq!(decode(regs([0, 0, 0, 0x29, 0x02, 0x28, 0x20], b)).map(|t| t.mday), Ok(29), "2028 is");
        assert_eq!(decode(regs([0, 0, 0, 0x31, 0x04, 0x26, 0x20], b)), Err("day of month"));
        assert_eq!(decode(regs([0, 0, 0, 0x00, 0x04, 0x26, 0x20], b)), Err("day of month"));
        assert_eq!(decode(regs([0, 0, 0x24, 1, 1, 0x26, 0x20], b)), Err("hour"));
        assert_eq!(decode(regs([0, 0x60, 0, 1, 1, 0x26, 0x20], b)), Err("minute"));
        assert_eq!(decode(regs([0x60, 0, 0, 1, 1, 0x26, 0x20], b)), Err("second"));
        // A chip that floats reads all ones: 0xff is no BCD at all.
        assert!(decode(regs([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0xff)).is_err());
    }
}
