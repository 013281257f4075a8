//! The kernel's 64-bit atomics (arch/x86/lib/atomic64_cx8_32.rs): every
//! one a `lock cmpxchg8b`, with `clc` before it so that QEMU
//! 7.2's mistranslation of the flags after `cmpxchg8b` leaves nothing
//! harmful behind (the double fault in the soak: VM set at CPL 0).

use core::sync::atomic::Ordering::SeqCst;

use crate::arch::lib::atomic64_cx8_32::{AtomicI64, AtomicU64, cmpxchg64};
use crate::test_case;
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(cmpxchg8b_sequence_leaves_only_arithmetic_flags_after_an_add_of_any_bits),
    test_case!(cmpxchg64_swaps_only_on_a_match_and_returns_what_was_there),
    test_case!(fetch_ops_carry_into_the_high_half_and_signed_values_wrap),
];

/// EFLAGS bits an `add` and a `cmpxchg8b` may leave (CF PF AF ZF SF OF),
/// with IF and the always-one bit 1: nothing else may be set afterwards.
const ARITH_AND_IF: u32 = 0x0001 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0800 | 0x0200 | 0x0002;

/// Leave QEMU 7.2's flag bookkeeping in the state the soak's double fault
/// had, then run `seq` (a `cmpxchg8b` on a private u64 that succeeds) and
/// `pushfd`: the EFLAGS right after the `cmpxchg8b`. The state: `popfd`
/// ends a translation block with "flags already computed" recorded in the
/// CPU state (a previous `cmpxchg8b` does the same: the retry of a
/// `cmpxchg8b` loop is where this happens in real code); then
/// `add r, r` (source operand `bits`) and a load, which makes QEMU write
/// its lazy operand to the CPU state too.
macro_rules! flags_after {
    ($bits:expr, $($seq:tt)*) => {{
        let mut v: u64 = 0;
        let flags: u32;
        // SAFETY: the asm reads and writes only `v` (a local, 8-byte
        // aligned) and the registers named; pushfd/pop leave the stack as
        // they found it.
        unsafe {
            core::arch::asm!(
                "pushfd",
                "popfd",
                "add {bits}, {bits}",
                "mov eax, dword ptr [{ptr}]",
                $($seq)*,
                "pushfd",
                "pop {flags}",
                bits = inout(reg) $bits => _,
                flags = lateout(reg) flags,
                ptr = in(reg) &raw mut v,
                inout("eax") 0u32 => _,
                inout("edx") 0u32 => _,
                in("ebx") 1u32,
                in("ecx") 0u32,
            );
        }
        assert_eq!(v, 1, "the cmpxchg8b stored its new value");
        flags
    }};
}

/// The reason this module exists. On QEMU 7.2 a bare `cmpxchg8b` after
/// `add r, 0x9e3779b9`, in that state, leaves EFLAGS 0x9e377bfb (VM, RF, AC, NT, IOPL...:
/// the add's operand); the kernel's sequence (`cmpxchg8b_asm!`, the one
/// `cmpxchg64` runs) must leave only arithmetic flags and IF, whatever the
/// previous instruction's operand was. Seen failing with the `clc`
/// removed from the sequence, and with `test eax, eax` in its place.
fn cmpxchg8b_sequence_leaves_only_arithmetic_flags_after_an_add_of_any_bits() {
    let bad: u32 = 0x9e37_79b9;
    let bare = flags_after!(bad, "lock cmpxchg8b qword ptr [{ptr}]");

    // What this CPU does with a bare one, for the reader of the log: on
    // hardware and a fixed QEMU only arithmetic bits; on QEMU 7.2 the
    // add's operand. Not asserted: it is the machine's, not ours.
    log::info!(
        "atomic64: a bare cmpxchg8b after `add r, {bad:#x}` leaves EFLAGS {bare:#010x} on this CPU ({})",
        if bare & !ARITH_AND_IF != 0 { "QEMU 7.2's flags bug" } else { "correct" }
    );
    for bits in [bad, 0xffff_ffff, 0x0002_0000, 0x0000_3000, 0x0000_4000, 0x0000_0100, 0x0000_0400] {
        let flags = flags_after!(bits, crate::cmpxchg8b_asm!());
        assert_eq!(
            flags & !ARITH_AND_IF,
            0,
            "after `add r, {bits:#x}` the kernel's cmpxchg8b sequence left EFLAGS {flags:#010x}"
        );
        assert_ne!(flags & 0x40, 0, "ZF: the cmpxchg8b succeeded");
    }
}

fn cmpxchg64_swaps_only_on_a_match_and_returns_what_was_there() {
    let mut v: u64 = 0x1234_5678_9abc_def0;
    // SAFETY: a local u64, aligned, ours alone.
    let seen = unsafe { cmpxchg64(&raw mut v, 0x1234_5678_0000_0000, 7) };
    assert_eq!((seen, v), (0x1234_5678_9abc_def0, 0x1234_5678_9abc_def0), "a mismatch in the low half changes nothing");
    // SAFETY: as above.
    let seen = unsafe { cmpxchg64(&raw mut v, 0x0000_0000_9abc_def0, 7) };
    assert_eq!((seen, v), (0x1234_5678_9abc_def0, 0x1234_5678_9abc_def0), "nor one in the high half");
    // SAFETY: as above.
    let seen = unsafe { cmpxchg64(&raw mut v, 0x1234_5678_9abc_def0, 0xfedc_ba98_7654_3210) };
    assert_eq!((seen, v), (0x1234_5678_9abc_def0, 0xfedc_ba98_7654_3210), "a match stores all 64 bits");

    let a = AtomicU64::new(5);
    assert_eq!(a.compare_exchange(4, 9, SeqCst, SeqCst), Err(5));
    assert_eq!(a.compare_exchange(5, 9, SeqCst, SeqCst), Ok(5));
    assert_eq!(a.swap(u64::MAX, SeqCst), 9);
    assert_eq!(a.load(SeqCst), u64::MAX);
    a.store(1 << 40, SeqCst);
    assert_eq!(a.load(SeqCst), 1 << 40);
    assert_eq!(a.fetch_update(SeqCst, SeqCst, |x| (x < 1 << 41).then_some(x * 2)), Ok(1 << 40));
    assert_eq!(a.fetch_update(SeqCst, SeqCst, |x| (x < 1 << 41).then_some(x * 2)), Err(1 << 41));
    assert_eq!(a.load(SeqCst), 1 << 41);
}

fn fetch_ops_carry_into_the_high_half_and_signed_values_wrap() {
    let a = AtomicU64::new(0xffff_ffff);
    assert_eq!(a.fetch_add(1, SeqCst), 0xffff_ffff);
    assert_eq!(a.load(SeqCst), 0x1_0000_0000, "the carry reached the high half");
    assert_eq!(a.fetch_sub(1, SeqCst), 0x1_0000_0000);
    assert_eq!(a.load(SeqCst), 0xffff_ffff, "and the borrow came back from it");
    assert_eq!(a.fetch_add(u64::MAX - 0xffff_fffe, SeqCst), 0xffff_ffff);
    assert_eq!(a.load(SeqCst), 0, "wrapping, as core's");
    assert_eq!(a.fetch_or(0xf0_0000_000f, SeqCst), 0);
    assert_eq!(a.fetch_and(0xff_0000_0003, SeqCst), 0xf0_0000_000f);
    assert_eq!(a.load(SeqCst), 0xf0_0000_0003);
    assert_eq!(a.fetch_max(0x1_0000_0000, SeqCst), 0xf0_0000_0003);
    assert_eq!(a.load(SeqCst), 0xf0_0000_0003, "max keeps the larger");
    assert_eq!(a.fetch_min(0x1_0000_0000, SeqCst), 0xf0_0000_0003);
    assert_eq!(a.load(SeqCst), 0x1_0000_0000);

    let s = AtomicI64::new(-1);
    assert_eq!(s.fetch_add(1, SeqCst), -1);
    assert_eq!(s.load(SeqCst), 0);
    assert_eq!(s.fetch_sub(i64::MIN, SeqCst), 0);
    assert_eq!(s.load(SeqCst), i64::MIN, "0 - MIN wraps to MIN");
    assert_eq!(s.compare_exchange(i64::MIN, -42, SeqCst, SeqCst), Ok(i64::MIN));
    assert_eq!(s.swap(7, SeqCst), -42);
}
