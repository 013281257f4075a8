//! `fputest`: the x87 and SSE registers as a program sees them, the same
//! under Linux, qemu-i386 and this kernel: a fresh program starts with
//! Linux's `init_fpstate` (FCW 0x037f, MXCSR 0x1f80, XMM0-7 zero); SSE2
//! and x87 arithmetic work; a fork's child starts with a copy of its
//! parent's registers and its changes stay its own; two processes
//! switching back and forth keep their own registers; exec starts from
//! the defaults again.
//!
//! `fputest sigfpe sse` / `fputest sigfpe x87`: divide by zero with the
//! exception unmasked; on Linux (and this kernel) the process dies of
//! SIGFPE (wait status 8). Not part of the default run because
//! qemu-i386 does not raise unmasked floating-point exceptions (its TCG
//! only sets the flags), so the oracles would disagree; tests/fpu.rs runs
//! them under this kernel.
//!
//! The program is built soft-float (the user crate's target is the
//! kernel's), so the compiler never touches these registers: every use is
//! inline assembly through memory, and what a register holds between two
//! `asm!` blocks only the kernel could have changed.
//!
//! `fputest hold SEED N`: load registers from SEED, yield N times,
//! checking them after each; exit 0 if they never changed (the in-kernel
//! test tests/fpu.rs runs two of these on one CPU). `fputest fresh`: exit
//! 0 if the registers are the defaults (what exec must give).
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::arch::asm;

use user::check::Checks;
use user::syscall::{sched_yield, syscall0, syscall3, syscall4};
use user::{Args, entry};

entry!(main);

const FORK: usize = 2;
const EXECVE: usize = 11;
const WAIT4: usize = 114;

/// The registers this program checks: XMM0-7, the x87 control word and
/// MXCSR.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FpRegs {
    xmm: [[u32; 4]; 8],
    fcw: u16,
    mxcsr: u32,
}

const FCW_DEFAULT: u16 = 0x037f;
const MXCSR_DEFAULT: u32 = 0x1f80;

/// Read XMM0-7, FCW and MXCSR.
fn read_regs() -> FpRegs {
    let mut xmm = [[0u32; 4]; 8];
    let mut fcw = 0u16;
    let mut mxcsr = 0u32;
    // SAFETY: stores of the registers into our own 128 + 2 + 4 bytes.
    unsafe {
        asm!(
            "movdqu [{x}], xmm0", "movdqu [{x} + 16], xmm1", "movdqu [{x} + 32], xmm2",
            "movdqu [{x} + 48], xmm3", "movdqu [{x} + 64], xmm4", "movdqu [{x} + 80], xmm5",
            "movdqu [{x} + 96], xmm6", "movdqu [{x} + 112], xmm7",
            "fnstcw [{c}]", "stmxcsr [{m}]",
            x = in(reg) xmm.as_mut_ptr(), c = in(reg) &mut fcw, m = in(reg) &mut mxcsr,
            options(nostack, preserves_flags)
        )
    };
    FpRegs { xmm, fcw, mxcsr }
}

/// Load XMM0-7, FCW and MXCSR.
fn write_regs(r: &FpRegs) {
    // SAFETY: loads from our own memory; the compiler (soft-float) keeps
    // nothing in these registers.
    unsafe {
        asm!(
            "movdqu xmm0, [{x}]", "movdqu xmm1, [{x} + 16]", "movdqu xmm2, [{x} + 32]",
            "movdqu xmm3, [{x} + 48]", "movdqu xmm4, [{x} + 64]", "movdqu xmm5, [{x} + 80]",
            "movdqu xmm6, [{x} + 96]", "movdqu xmm7, [{x} + 112]",
            "fldcw [{c}]", "ldmxcsr [{m}]",
            x = in(reg) r.xmm.as_ptr(), c = in(reg) &r.fcw, m = in(reg) &r.mxcsr,
            options(nostack, preserves_flags)
        )
    };
}

/// Registers derived from `seed`: every XMM word different, an x87
/// control word with another precision and rounding, an MXCSR with
/// flush-to-zero and round-down (every exception still masked).
fn pattern(seed: u32) -> FpRegs {
    let mut xmm = [[0u32; 4]; 8];
    for (i, r) in xmm.iter_mut().enumerate() {
        for (j, w) in r.iter_mut().enumerate() {
            *w = seed.wrapping_mul(0x9e37_79b9) ^ ((i * 4 + j) as u32).wrapping_mul(0x0101_0101);
        }
    }
    let fcw = [0x027f, 0x067f, 0x0a7f, 0x0e7f][seed as usize % 4];
    let mxcsr = MXCSR_DEFAULT | 0x8000 | [0x2000, 0x4000, 0x6000, 0][seed as usize % 4];
    FpRegs { xmm, fcw, mxcsr }
}

fn defaults() -> FpRegs {
    FpRegs { xmm: [[0; 4]; 8], fcw: FCW_DEFAULT, mxcsr: MXCSR_DEFAULT }
}

/// a + b for two pairs of doubles with SSE2's addpd, as bit patterns.
fn addpd(a: [f64; 2], b: [f64; 2]) -> [u64; 2] {
    let mut out = [0u64; 2];
    // SAFETY: loads and stores of our own 16-byte arrays; xmm0/xmm1 are
    // not used by the (soft-float) compiler.
    unsafe {
        asm!("movupd xmm0, [{a}]", "movupd xmm1, [{b}]", "addpd xmm0, xmm1", "movupd [{o}], xmm0",
            a = in(reg) a.as_ptr(), b = in(reg) b.as_ptr(), o = in(reg) out.as_mut_ptr(),
            options(nostack, preserves_flags))
    };
    out
}

/// sqrt(x) with the x87's fsqrt, as a bit pattern.
fn x87_sqrt(x: f64) -> u64 {
    let mut out = 0u64;
    // SAFETY: fld/fstp through our own 8-byte values; the x87 stack is
    // left as it was.
    unsafe { asm!("fld qword ptr [{x}]", "fsqrt", "fstp qword ptr [{o}]", x = in(reg) &x, o = in(reg) &mut out, options(nostack)) };
    out
}

fn fork() -> isize {
    // SAFETY: fork copies the process; both copies return here.
    unsafe { syscall0(FORK) }
}

fn wait(pid: isize) -> i32 {
    let mut status = -1i32;
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    status
}

/// Load `pattern(seed)`, then yield `n` times checking it each time: 0
/// if it held, 1 if not.
fn hold(seed: u32, n: u32) -> i32 {
    let want = pattern(seed);
    write_regs(&want);
    for _ in 0..n {
        sched_yield();
        if read_regs() != want {
            return 1;
        }
    }
    0
}

/// An SSE divide by zero with the exception unmasked in MXCSR: #XM, which
/// Linux turns into SIGFPE (FPE_FLTDIV).
fn sse_divide_by_zero_unmasked() {
    let mxcsr = MXCSR_DEFAULT & !0x200; // ZM clear
    let (one, zero) = (1.0f64, 0.0f64);
    // SAFETY: loads from our own values; the divide traps.
    unsafe {
        asm!("ldmxcsr [{m}]", "movsd xmm0, [{a}]", "movsd xmm1, [{b}]", "divsd xmm0, xmm1",
            m = in(reg) &mxcsr, a = in(reg) &one, b = in(reg) &zero, options(nostack))
    };
}

/// The same on the x87, with the exception unmasked in the control word:
/// the divide only flags it, the next waiting x87 instruction raises #MF.
fn x87_divide_by_zero_unmasked() {
    let cw: u16 = FCW_DEFAULT & !0x4; // ZM clear
    let (zero, mut out) = (0f64, 0f64);
    // SAFETY: x87 arithmetic on our own values; the fwait traps.
    unsafe {
        asm!("fldcw [{c}]", "fld1", "fdiv qword ptr [{z}]", "fwait", "fstp qword ptr [{o}]",
            c = in(reg) &cw, z = in(reg) &zero, o = in(reg) &mut out, options(nostack))
    };
}

fn parse(s: &[u8]) -> u32 {
    s.iter().fold(0u32, |v, &d| v.wrapping_mul(10).wrapping_add((d - b'0') as u32))
}

fn main(args: Args) -> i32 {
    // First, before anything else could touch them: what exec gave us.
    let at_start = read_regs();
    let mut argv = args.argv().skip(1).map(|a| a.to_bytes());
    match argv.next() {
        Some(b"fresh") => return if at_start == defaults() { 0 } else { 1 },
        Some(b"sigfpe") => {
            match argv.next() {
                Some(b"sse") => sse_divide_by_zero_unmasked(),
                Some(b"x87") => x87_divide_by_zero_unmasked(),
                _ => return 2,
            }
            return 0; // only if the divide did not trap
        }
        Some(b"hold") => {
            let seed = argv.next().map_or(1, parse);
            let n = argv.next().map_or(100, parse);
            return hold(seed, n);
        }
        _ => {}
    }
    let mut t = Checks::new("fputest");
    t.check("exec_gives_fcw_0x037f", at_start.fcw == FCW_DEFAULT, format_args!("fcw {:#06x}", at_start.fcw));
    t.check("exec_gives_mxcsr_0x1f80", at_start.mxcsr == MXCSR_DEFAULT, format_args!("mxcsr {:#x}", at_start.mxcsr));
    t.check("exec_gives_zero_xmm_registers", at_start.xmm == [[0; 4]; 8], format_args!("{:x?}", at_start.xmm));

    let sum = addpd([1.5, -2.25], [0.25, 1e300]);
    t.check("sse2_addpd", sum == [1.75f64.to_bits(), 1e300f64.to_bits()], format_args!("{sum:x?}"));
    let r = x87_sqrt(2.0);
    t.check("x87_fsqrt", r == 0x3ff6_a09e_667f_3bcd, format_args!("{r:#x}"));

    // fork: the child starts with a copy, and changes only its own.
    let mine = pattern(7);
    write_regs(&mine);
    let pid = fork();
    if pid == 0 {
        let ok = read_regs() == mine;
        write_regs(&pattern(8));
        sched_yield();
        user::syscall::exit(if ok { 0 } else { 1 });
    }
    let st = wait(pid);
    t.check("fork_child_starts_with_a_copy", st == 0, format_args!("child status {st:#x} (1 << 8: its registers differed)"));
    t.check("fork_child_changes_stay_its_own", read_regs() == mine, format_args!("the parent's registers changed"));

    // Two processes switching back and forth, each holding its own.
    let a = fork();
    if a == 0 {
        user::syscall::exit(hold(21, 200));
    }
    let b = fork();
    if b == 0 {
        user::syscall::exit(hold(22, 200));
    }
    let (sa, sb) = (wait(a), wait(b));
    t.check("two_processes_keep_their_own_registers", sa == 0 && sb == 0, format_args!("statuses {sa:#x} {sb:#x}"));

    // exec: the defaults, whatever the old program had.
    let me = args.argv().next().expect("argv[0]").to_bytes();
    let mut path = [0u8; 256];
    path[..me.len()].copy_from_slice(me);
    let argv = [path.as_ptr(), c"fresh".as_ptr().cast::<u8>(), core::ptr::null()];
    let envp = [core::ptr::null::<u8>()];
    let pid = fork();
    if pid == 0 {
        write_regs(&pattern(9));
        // SAFETY: on success the program is replaced; on failure execve
        // only read our valid pointers.
        let r = unsafe { syscall3(EXECVE, path.as_ptr() as usize, argv.as_ptr() as usize, envp.as_ptr() as usize) };
        user::syscall::exit(100 + (-r) as i32);
    }
    let st = wait(pid);
    t.check("exec_resets_the_registers", st == 0, format_args!("status {st:#x} (1 << 8: not the defaults)"));

    t.finish()
}
