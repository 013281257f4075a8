//! `eflags_bug`: a hostile program that uses an emulator bug to put EFLAGS
//! bits it may not own into the frame the kernel will `iret` to.
//!
//! QEMU 7.2's TCG (Debian 7.2.22: our `qemu-system-i386` and `qemu-i386`)
//! mistranslates `cmpxchg8b`: it leaves the lazily computed flags in a
//! state where "the flags" are the previous flag-setting instruction's
//! `CC_SRC` (for `add %src, %dst`: the source operand) with ZF deposited.
//! Whatever asks for EFLAGS next (`pushf`, or the CPU building an
//! interrupt frame) gets that value. So `add BITS, %reg; cmpxchg8b m` puts
//! any bits the program likes (IOPL, NT, VM, TF, AC, DF, ...) into the
//! EFLAGS image that a timer interrupt or an `int $0x80` pushes on the
//! kernel stack, and a kernel that `iret`s that image unchanged gives the
//! program those bits for real. On hardware (and natively under Linux)
//! nothing of the kind happens: `cmpxchg8b` sets ZF and nothing else.
//!
//! Usage: `eflags_bug BITS [irq|syscall]`, BITS one of `iopl` (IOPL 3,
//! bits 12-13), `nt` (14), `vm` (17), `ac` (18), `tf` (8), `df` (10),
//! `rf` (16), `id` (21), `vif` (19 and VIP 20), or a hex number. `irq`
//! (the default) spins a loop `add; cmpxchg8b; 64 movs; jmp` for about
//! 300 ms so that timer interrupts land right after the `cmpxchg8b` (TCG
//! takes interrupts between translation blocks; the loop's body is one).
//! `syscall` makes a `getpid` right after the `cmpxchg8b`, so the
//! system call's own frame carries the bits (no timing involved).
//!
//! Prints `after cmpxchg8b: pushf=X` (what `pushf` read right after it:
//! the bug shows here, 0 natively), `stuck: X` (the chosen bits that
//! `pushf` still sees after a normal `add` reset the lazy flags: bits the
//! kernel gave the program), then for `iopl` tries `in`, `out` (port
//! 0x80, the POST port; harmless) and `cli; sti`, printing `NAME: ran` for
//! each that did not fault. Without IOPL 3 the first of them is #GP:
//! SIGSEGV, as under Linux. With a third argument `poweroff` (and IOPL 3
//! stuck) it writes to QEMU's isa-debug-exit port 0xf4, which ends the
//! machine. Exits 0 if none of the chosen bits stuck, 1 if some did.
//!
//! Natively under Linux: `pushf=00000246`, nothing stuck, and `iopl` dies
//! of SIGSEGV at its `in`. Under `qemu-i386` the `pushf` shows the forged
//! bits, none stick in `irq` mode, and `syscall` mode aborts qemu-i386
//! itself (`assertion failed: (IOPL(dc) == iopl)` in its translator): so
//! the program is not in tests/user.sh; tests/hostile.rs runs it.

#![no_std]
#![no_main]

use core::arch::asm;

use user::syscall::{clock_gettime, nr};
use user::{Args, entry, println};

entry!(main);

/// `cmpxchg8b`'s operand and the loop's bookkeeping, read and written by
/// the assembly through one pointer (esi and ebp cannot be named).
#[repr(C, align(8))]
struct State {
    /// The quadword `cmpxchg8b` works on.
    q: u64,
    /// The bits forged: the `add`'s source operand.
    bits: u32,
    /// `pushf` right after the last `cmpxchg8b`.
    after: u32,
    /// OR of `pushf` after a normal `add` at the top of each round.
    stuck: u32,
    /// Rounds left.
    count: u32,
}

/// The named bit sets.
fn parse_bits(name: &[u8]) -> Option<u32> {
    Some(match name {
        b"iopl" => 3 << 12,
        b"nt" => 1 << 14,
        b"vm" => 1 << 17,
        b"ac" => 1 << 18,
        b"tf" => 1 << 8,
        b"df" => 1 << 10,
        b"rf" => 1 << 16,
        b"id" => 1 << 21,
        b"vif" => 3 << 19,
        hex => {
            let s = core::str::from_utf8(hex).ok()?;
            u32::from_str_radix(s.trim_start_matches("0x"), 16).ok()?
        }
    })
}

/// The loop both modes run, `$tail` (templates, then any operands they
/// name) placed right after the forging `cmpxchg8b` and its `pushf`: each
/// round records the flags after a normal `add` (OR-ed into `stuck`),
/// then `add bits; lock cmpxchg8b; pushf` (into `after`), then the tail,
/// until `count` runs out. Reads and writes only the `State` at `edi`.
macro_rules! forge_loop {
    ($p:expr, $($tail:tt)*) => {
        asm!(
            "2:",
            "xor eax, eax",
            "add eax, 0",
            "pushfd",
            "pop eax",
            "or [edi + 16], eax",
            "dec dword ptr [edi + 20]",
            "jz 3f",
            "mov eax, [edi]",
            "mov edx, [edi + 4]",
            "mov ecx, [edi + 8]",
            "xor ebx, ebx",
            "add ebx, ecx",
            "lock cmpxchg8b [edi]",
            "pushfd",
            "pop eax",
            "mov [edi + 12], eax",
            $($tail)*
            in("edi") $p,
            out("eax") _, out("ebx") _, out("ecx") _, out("edx") _,
        )
    };
}

/// `rounds` rounds of [`forge_loop!`] with 64 `mov`s that touch no flags
/// after the `cmpxchg8b`, before the jump back, where the translation
/// block ends and TCG takes a pending interrupt with the forged flags
/// still the "current" ones.
fn spin_irq(st: &mut State, rounds: u32) {
    st.count = rounds;
    let p: *mut State = st;
    // SAFETY: the assembly reads and writes only *p (a State of ours,
    // 8-aligned for cmpxchg8b) and the registers it names as clobbered;
    // it does not touch the stack beyond its own balanced pushf/pop.
    unsafe {
        forge_loop!(p, ".rept 64", "mov eax, edx", ".endr", "jmp 2b", "3:",);
    }
}

/// `rounds` rounds of [`forge_loop!`] with a `getpid` whose `int $0x80`
/// comes right after the `cmpxchg8b`: the system-call frame's EFLAGS is
/// the forged value, no timer needed. (One round alone does not show the
/// bug: TCG's stale flags state must be the one the loop leaves.)
fn via_syscall(st: &mut State, rounds: u32) {
    st.count = rounds;
    let p: *mut State = st;
    // SAFETY: as in spin_irq; getpid changes only eax.
    unsafe {
        forge_loop!(p, "mov eax, {getpid}", "int 0x80", "jmp 2b", "3:", getpid = const nr::GETPID,);
    }
}

fn now_ms() -> u64 {
    let mut tp = [0u32; 2];
    clock_gettime(1, &mut tp);
    tp[0] as u64 * 1000 + tp[1] as u64 / 1_000_000
}

fn main(args: Args) -> i32 {
    let argv: [&[u8]; 3] = {
        let mut a = args.argv().skip(1).map(|s| s.to_bytes());
        [a.next().unwrap_or(b""), a.next().unwrap_or(b"irq"), a.next().unwrap_or(b"")]
    };
    let Some(bits) = parse_bits(argv[0]) else {
        println!("usage: eflags_bug iopl|nt|vm|ac|tf|df|rf|id|vif|HEX [irq|syscall] [poweroff]");
        return 2;
    };
    let mut st = State { q: 0, bits, after: 0, stuck: 0, count: 0 };
    match argv[1] {
        b"syscall" => via_syscall(&mut st, 1000),
        _ => {
            let start = now_ms();
            // Chunks of 20000 rounds (a few ms under TCG) until 300 ms
            // have passed or a bit stuck.
            while now_ms() - start < 300 && st.stuck & bits == 0 {
                spin_irq(&mut st, 20000);
            }
        }
    }
    println!("after cmpxchg8b: pushf={:08x}", st.after);
    println!("stuck: {:08x}", st.stuck & bits);
    if bits & (3 << 12) != 0 {
        port_io(argv[2] == b"poweroff");
    }
    i32::from(st.stuck & bits != 0)
}

/// What IOPL 3 would allow at ring 3. Each one is #GP (SIGSEGV) without it.
fn port_io(poweroff: bool) {
    let v: u8;
    // SAFETY: reading the POST port has no effect on anything.
    unsafe { asm!("in al, 0x80", out("al") v, options(nomem, nostack, preserves_flags)) };
    println!("in: ran ({v:02x})");
    // SAFETY: writing the POST port only shows a code on a POST card.
    unsafe { asm!("out 0x80, al", in("al") 0u8, options(nomem, nostack, preserves_flags)) };
    println!("out: ran");
    // SAFETY: interrupts off for one instruction.
    unsafe { asm!("cli", "sti", options(nomem, nostack)) };
    println!("cli: ran");
    if poweroff {
        println!("poweroff: writing isa-debug-exit");
        // SAFETY: ends the (virtual) machine; that is the point.
        unsafe { asm!("out dx, al", in("dx") 0xf4u16, in("al") 0x31u8, options(nomem, nostack, preserves_flags)) };
    }
}
