//! `sigtest`: POSIX signals as an i386 program sees them, the same under
//! Linux, qemu-i386 and this kernel: handlers with the right signal
//! number and siginfo, on Linux's frames (`rt_sigframe` with SA_SIGINFO,
//! the old `sigframe` without), returning through `rt_sigreturn` /
//! `sigreturn` with every register and the flags intact; the mask
//! (blocked signals stay pending until unblocked, SIGKILL and SIGSTOP
//! cannot be blocked); default actions (terminate, ignore); SIGCHLD with
//! `CLD_EXITED` when a child ends; job control: a child stopped and
//! continued, as SIGCHLD (`CLD_STOPPED`, `CLD_CONTINUED`) and `wait4`
//! with `WUNTRACED` / `WCONTINUED` report it; a SIGSEGV handler with `si_addr` and
//! `SEGV_MAPERR` / `SEGV_ACCERR`; `nanosleep` and `wait4` interrupted by a
//! signal (`-EINTR`, and `wait4` restarted under SA_RESTART); process
//! groups and sessions; and each call's errnos.
//!
//! The handlers are installed with `SA_RESTORER` and a trampoline of our
//! own, as C libraries do.
//!
//! With the argument `linux-only` it also makes the three checks where
//! qemu-i386 7.2 differs from Linux, so that the two oracles cannot agree
//! (run natively by hand, and under this kernel by tests/signal.rs): the
//! unknown `sa_flags` bits Linux clears on read-back (qemu keeps them), DF
//! clear when the handler starts (qemu leaves it set), and a handler
//! installed without `SA_RESTORER`, which returns through Linux's vDSO or
//! this kernel's `retcode` (qemu-i386's trampoline faults); and a frame
//! whose CS and SS the handler set to kernel selectors (qemu-i386 carries
//! on; Linux and this kernel kill the process).
//!
//! Children that die of a signal close their stderr first: qemu-i386
//! reports a guest's fatal signal there.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};

use user::check::Checks;
use user::syscall::{getpid, syscall0, syscall1, syscall2, syscall3, syscall4, syscall6};
use user::{Args, entry};

entry!(main);

const FORK: usize = 2;
const CLOSE: usize = 6;
const PAUSE: usize = 29;
const PIPE: usize = 42;
const KILL: usize = 37;
const SETPGID: usize = 57;
const GETPPID: usize = 64;
const GETPGRP: usize = 65;
const SETSID: usize = 66;
const WAIT4: usize = 114;
const GETPGID: usize = 132;
const GETSID: usize = 147;
const NANOSLEEP: usize = 162;
const RT_SIGACTION: usize = 174;
const RT_SIGPROCMASK: usize = 175;
const RT_SIGPENDING: usize = 176;
const RT_SIGSUSPEND: usize = 179;
const MMAP2: usize = 192;
const TKILL: usize = 238;
const TGKILL: usize = 270;

const EPERM: isize = 1;
const ESRCH: isize = 3;
const EINTR: isize = 4;
const EFAULT: isize = 14;
const EINVAL: isize = 22;

const SIGKILL: usize = 9;
const SIGUSR1: usize = 10;
const SIGSEGV: usize = 11;
const SIGUSR2: usize = 12;
const SIGTERM: usize = 15;
const SIGCHLD: usize = 17;
const SIGCONT: usize = 18;
const SIGSTOP: usize = 19;
const SIGTSTP: usize = 20;
const SIGWINCH: usize = 28;

const SA_SIGINFO: u32 = 4;
const SA_RESTORER: u32 = 0x0400_0000;
const SA_RESTART: u32 = 0x1000_0000;
const SA_UNSUPPORTED: u32 = 0x400;
const SIG_IGN: usize = 1;
const SIG_BLOCK: usize = 0;
const SIG_UNBLOCK: usize = 1;
const SIG_SETMASK: usize = 2;

const SI_USER: i32 = 0;
const SI_TKILL: i32 = -6;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const CLD_EXITED: i32 = 1;
const CLD_STOPPED: i32 = 5;
const CLD_CONTINUED: i32 = 6;

const WNOHANG: usize = 1;
const WUNTRACED: usize = 2;
const WCONTINUED: usize = 8;

/// An address with nothing mapped (the first page).
const UNMAPPED: usize = 0x10;

// The trampolines a C library puts in `sa_restorer` (musl's __restore_rt
// and __restore): the handler's `ret` lands here.
core::arch::global_asm!(
    ".globl sigtest_restore_rt",
    "sigtest_restore_rt:",
    "mov eax, 173",
    "int 0x80",
    ".globl sigtest_restore",
    "sigtest_restore:",
    "pop eax",
    "mov eax, 119",
    "int 0x80",
);

unsafe extern "C" {
    fn sigtest_restore_rt();
    fn sigtest_restore();
}

/// Linux's `struct sigaction` for `rt_sigaction` on i386 (20 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SigAction {
    handler: usize,
    flags: u32,
    restorer: usize,
    mask: [u32; 2],
}

fn rt_sigaction(sig: usize, act: Option<&SigAction>, oact: Option<&mut SigAction>, size: usize) -> isize {
    let a = act.map_or(0, |a| a as *const SigAction as usize);
    let o = oact.map_or(0, |o| o as *mut SigAction as usize);
    // SAFETY: the pointers are ours, valid for 20 bytes (or 0).
    unsafe { syscall4(RT_SIGACTION, sig, a, o, size) }
}

/// Install `handler` for `sig` with `flags` (SA_RESTORER and the matching
/// trampoline added).
fn install(sig: usize, handler: usize, flags: u32) -> isize {
    let restorer = if flags & SA_SIGINFO != 0 { sigtest_restore_rt as *const () as usize } else { sigtest_restore as *const () as usize };
    let act = SigAction { handler, flags: flags | SA_RESTORER, restorer, mask: [0; 2] };
    rt_sigaction(sig, Some(&act), None, 8)
}

fn sigprocmask(how: usize, set: Option<u64>, old: Option<&mut u64>) -> isize {
    let s = set.unwrap_or(0);
    let sp = if set.is_some() { &s as *const u64 as usize } else { 0 };
    let op = old.map_or(0, |o| o as *mut u64 as usize);
    // SAFETY: the pointers are ours, 8 bytes each (or 0).
    unsafe { syscall4(RT_SIGPROCMASK, how, sp, op, 8) }
}

fn sigpending() -> u64 {
    let mut set = 0u64;
    // SAFETY: set is ours, 8 bytes.
    unsafe { syscall2(RT_SIGPENDING, &mut set as *mut u64 as usize, 8) };
    set
}

fn bit(sig: usize) -> u64 {
    1 << (sig - 1)
}

fn kill(pid: isize, sig: usize) -> isize {
    // SAFETY: kill touches no memory of ours.
    unsafe { syscall2(KILL, pid as usize, sig) }
}

fn fork() -> isize {
    // SAFETY: fork copies the process; both copies return here.
    unsafe { syscall0(FORK) }
}

fn wait4(pid: isize, status: &mut i32) -> isize {
    wait4_options(pid, status, 0)
}

fn wait4_options(pid: isize, status: &mut i32, options: usize) -> isize {
    // SAFETY: status is ours.
    unsafe { syscall4(WAIT4, pid as usize, status as *mut i32 as usize, options, 0) }
}

/// With SIGCHLD blocked and its handler installed: sleep until it comes
/// (rt_sigsuspend with nothing blocked), so a SIGCHLD sent before the call
/// is not missed. The handler's si_code and si_status.
fn next_sigchld() -> (i32, i32) {
    reset();
    let empty = 0u64;
    // SAFETY: the mask is ours, 8 bytes.
    unsafe { syscall2(RT_SIGSUSPEND, &empty as *const u64 as usize, 8) };
    (SI_CODE.load(SeqCst), SI_STATUS.load(SeqCst))
}

/// nanosleep for `ms` milliseconds; the result and what is left (ms).
fn nanosleep_ms(ms: u32) -> (isize, u32) {
    let req = [ms / 1000, (ms % 1000) * 1_000_000];
    let mut rem = [0u32; 2];
    // SAFETY: both timespecs are ours.
    let r = unsafe { syscall2(NANOSLEEP, req.as_ptr() as usize, rem.as_mut_ptr() as usize) };
    (r, rem[0] * 1000 + rem[1] / 1_000_000)
}

fn pause() -> isize {
    // SAFETY: pause touches no memory.
    unsafe { syscall0(PAUSE) }
}

fn getppid() -> isize {
    // SAFETY: no arguments.
    unsafe { syscall0(GETPPID) }
}

fn close_stderr() {
    // SAFETY: closing fd 2 affects only this (child) process.
    unsafe { syscall1(CLOSE, 2) };
}

fn exit(code: i32) -> ! {
    user::syscall::exit(code)
}

// What the handlers saw.
static COUNT: AtomicU32 = AtomicU32::new(0);
static LAST_SIG: AtomicI32 = AtomicI32::new(0);
static SI_SIGNO: AtomicI32 = AtomicI32::new(0);
static SI_CODE: AtomicI32 = AtomicI32::new(0);
static SI_PID: AtomicI32 = AtomicI32::new(0);
static SI_STATUS: AtomicI32 = AtomicI32::new(0);
static SI_ADDR: AtomicU32 = AtomicU32::new(0);
static UC_DX: AtomicU32 = AtomicU32::new(0);
static DF_IN_HANDLER: AtomicU32 = AtomicU32::new(0);
static BLOCKED_IN_HANDLER: AtomicU32 = AtomicU32::new(0);

fn reset() {
    for a in [&LAST_SIG, &SI_SIGNO, &SI_CODE, &SI_PID, &SI_STATUS] {
        a.store(0, SeqCst);
    }
    for a in [&COUNT, &SI_ADDR, &UC_DX, &DF_IN_HANDLER, &BLOCKED_IN_HANDLER] {
        a.store(0, SeqCst);
    }
}

fn eflags() -> u32 {
    let f: u32;
    // SAFETY: pushfd/pop reads the flags only.
    unsafe { core::arch::asm!("pushfd", "pop {0}", out(reg) f) };
    f
}

/// The SA_SIGINFO handler: records the signal, the siginfo, and what the
/// ucontext holds.
extern "C" fn info_handler(sig: i32, info: *const i32, uc: *const u32) {
    DF_IN_HANDLER.store(eflags() & 0x400, SeqCst);
    LAST_SIG.store(sig, SeqCst);
    // SAFETY: the kernel passes a siginfo_t (128 bytes) and a ucontext.
    unsafe {
        SI_SIGNO.store(*info, SeqCst);
        SI_CODE.store(*info.add(2), SeqCst);
        SI_PID.store(*info.add(3), SeqCst);
        SI_STATUS.store(*info.add(5), SeqCst);
        SI_ADDR.store(*info.add(3) as u32, SeqCst);
        // uc_mcontext at 20; dx is its 10th word; uc_sigmask at 108
        UC_DX.store(*uc.add(5 + 9), SeqCst);
    }
    let mut now = 0u64;
    sigprocmask(SIG_BLOCK, None, Some(&mut now));
    BLOCKED_IN_HANDLER.store(now as u32, SeqCst);
    COUNT.fetch_add(1, SeqCst);
}

// The old-style handler (no SA_SIGINFO) is entered on `struct sigframe`:
// [esp] pretcode, [esp + 4] sig, [esp + 8] the sigcontext. This entry
// passes the address of `sig` to the Rust half (a Rust argument's address
// is that of a copy).
core::arch::global_asm!(
    ".globl plain_handler",
    "plain_handler:",
    "lea eax, [esp + 4]",
    "push eax",
    "call {body}",
    "add esp, 4",
    "ret",
    body = sym plain_handler_body,
);

unsafe extern "C" {
    fn plain_handler();
}

extern "C" fn plain_handler_body(frame: *const u32) {
    DF_IN_HANDLER.store(eflags() & 0x400, SeqCst);
    // SAFETY: frame points at sig in the kernel's struct sigframe; the
    // sigcontext follows it, dx its 10th word.
    unsafe {
        LAST_SIG.store(frame.read_volatile() as i32, SeqCst);
        UC_DX.store(frame.add(1 + 9).read_volatile(), SeqCst);
    }
    COUNT.fetch_add(1, SeqCst);
}

/// SIGSEGV handler: records si_addr and si_code, then steps over the
/// two-byte faulting instruction (`mov eax, [ecx]` / `mov [ecx], eax`).
extern "C" fn segv_handler(sig: i32, info: *const i32, uc: *mut u32) {
    LAST_SIG.store(sig, SeqCst);
    // SAFETY: as in info_handler; ip is word 14 of the mcontext.
    unsafe {
        SI_CODE.store(*info.add(2), SeqCst);
        SI_ADDR.store(*info.add(3) as u32, SeqCst);
        *uc.add(5 + 14) += 2;
    }
    COUNT.fetch_add(1, SeqCst);
}

/// What `hostile_handler` writes into its frame: 1 kernel CS and SS, 2
/// IOPL 3 and NT set, IF clear.
/// What the interrupted code keeps in xmm0 and MXCSR (round down), and
/// what the handler puts there (round toward zero).
const SSE_MINE: [u32; 4] = [0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444];
const MXCSR_MINE: u32 = 0x3f80;
const SSE_HANDLER: [u32; 4] = [0xdead_beef; 4];
const MXCSR_HANDLER: u32 = 0x7f80;
static FPU_HANDLER_RAN: AtomicU32 = AtomicU32::new(0);
static FPU_HANDLER_MXCSR: AtomicU32 = AtomicU32::new(0);

/// Overwrites xmm0 and MXCSR (and records the MXCSR it started with).
extern "C" fn fpu_handler(_sig: i32) {
    let mut start = 0u32;
    // SAFETY: SSE registers only; the pointers are ours.
    unsafe {
        core::arch::asm!("stmxcsr [{s}]", "movdqu xmm0, [{x}]", "ldmxcsr [{m}]",
            s = in(reg) &mut start, x = in(reg) SSE_HANDLER.as_ptr(), m = in(reg) &MXCSR_HANDLER, out("xmm0") _);
    }
    FPU_HANDLER_MXCSR.store(start, SeqCst);
    FPU_HANDLER_RAN.fetch_add(1, SeqCst);
}

/// Load xmm0 and MXCSR, kill(pid, sig) (the handler runs on the way back
/// from it), read them back and put MXCSR back to the default; one asm
/// block, so no code of the compiler's runs in between.
fn sse_around_kill(pid: isize, sig: usize) -> ([u32; 4], u32) {
    // in: xmm0 [0..4], MXCSR [4]; out: xmm0 [8..12], MXCSR [12]; default [13].
    let mut b = [0u32; 14];
    b[..4].copy_from_slice(&SSE_MINE);
    b[4] = MXCSR_MINE;
    b[13] = 0x1f80;
    // SAFETY: kill touches no memory of ours; b is ours, 56 bytes.
    unsafe {
        core::arch::asm!(
            "movdqu xmm0, [{b}]", "ldmxcsr [{b} + 16]",
            "push ebx", "mov ebx, edx", "int 0x80", "pop ebx",
            "movdqu [{b} + 32], xmm0", "stmxcsr [{b} + 48]", "ldmxcsr [{b} + 52]",
            b = in(reg) b.as_mut_ptr(),
            inout("eax") KILL => _, in("ecx") sig, in("edx") pid, out("xmm0") _,
        );
    }
    ([b[8], b[9], b[10], b[11]], b[12])
}

static HOSTILE_MODE: AtomicU32 = AtomicU32::new(0);

/// A handler that edits its own frame the way an attacker would, then
/// returns through rt_sigreturn.
extern "C" fn hostile_handler(_sig: i32, _info: *const i32, uc: *mut u32) {
    // SAFETY: uc is the kernel's ucontext; mcontext words: cs 15, flags 16, ss 18.
    unsafe {
        let mc = uc.add(5);
        match HOSTILE_MODE.load(SeqCst) {
            1 => {
                *mc.add(15) = 0x08; // a kernel code selector, RPL 0
                *mc.add(18) = 0x10; // a kernel data selector
            }
            _ => *mc.add(16) = (*mc.add(16) | 0x3000 | 0x4000) & !0x200,
        }
    }
}

/// kill(pid, sig) with every register and DF set to known values around
/// the `int $0x80`; what they hold afterwards: esi ebp edx ebx ecx eax
/// eflags.
fn kill_keeping_registers(pid: isize, sig: usize) -> [u32; 7] {
    let mut out = [0u32; 7];
    // SAFETY: kill touches no memory; esi and ebp are saved and restored
    // by hand (LLVM reserves them), DF is cleared again before the end.
    unsafe {
        core::arch::asm!(
            "push ebp", "push esi",
            "mov esi, 0x51515151", "mov ebp, 0xb0b0b0b0",
            "std",
            "int 0x80",
            "pushfd", "pop dword ptr [edi + 24]",
            "cld",
            "mov [edi], esi", "mov [edi + 4], ebp", "mov [edi + 8], edx",
            "mov [edi + 12], ebx", "mov [edi + 16], ecx", "mov [edi + 20], eax",
            "pop esi", "pop ebp",
            inout("eax") KILL => _, inout("ebx") pid => _, inout("ecx") sig => _,
            inout("edx") 0xd0d0_d0d0u32 => _, in("edi") out.as_mut_ptr(),
        )
    };
    out
}

/// Check a `kill_keeping_registers` result.
fn registers_intact(r: &[u32; 7], pid: isize, sig: usize) -> bool {
    r[0] == 0x5151_5151 && r[1] == 0xb0b0_b0b0 && r[2] == 0xd0d0_d0d0 && r[3] == pid as u32 && r[4] == sig as u32
        && r[5] == 0 && r[6] & 0x400 != 0
}

/// Fork a child running `f`; its pid.
fn spawn(f: impl FnOnce() -> i32) -> isize {
    let pid = fork();
    if pid == 0 {
        exit(f());
    }
    pid
}

fn main(args: Args) -> i32 {
    let linux_only = args.argv().nth(1).is_some_and(|a| a.to_bytes() == b"linux-only");
    let mut t = Checks::new("sigtest");
    let me = getpid();

    // --- rt_sigaction's errnos and flags
    let act = SigAction { handler: info_handler as *const () as usize, flags: SA_SIGINFO | SA_RESTORER, restorer: sigtest_restore_rt as *const () as usize, mask: [0; 2] };
    t.check_eq("rt_sigaction_sigsetsize_4_einval", rt_sigaction(SIGUSR1, Some(&act), None, 4), -EINVAL);
    t.check_eq("rt_sigaction_sigkill_einval", rt_sigaction(SIGKILL, Some(&act), None, 8), -EINVAL);
    t.check_eq("rt_sigaction_sigstop_einval", rt_sigaction(SIGSTOP, Some(&act), None, 8), -EINVAL);
    t.check_eq("rt_sigaction_signal_0_einval", rt_sigaction(0, Some(&act), None, 8), -EINVAL);
    t.check_eq("rt_sigaction_signal_65_einval", rt_sigaction(65, Some(&act), None, 8), -EINVAL);
    let mut old = SigAction::default();
    t.check_eq("rt_sigaction_query_sigkill_ok", rt_sigaction(SIGKILL, None, Some(&mut old), 8), 0);
    // SAFETY: UNMAPPED is not mapped: the kernel's read of it fails.
    let r = unsafe { syscall4(RT_SIGACTION, SIGUSR1, UNMAPPED, 0, 8) };
    t.check_eq("rt_sigaction_unmapped_act_efault", r, -EFAULT);
    // SAFETY: as above, for the kernel's write.
    let r = unsafe { syscall4(RT_SIGACTION, SIGUSR1, 0, UNMAPPED, 8) };
    t.check_eq("rt_sigaction_unmapped_oact_efault", r, -EFAULT);
    t.check_eq("rt_sigaction_installs", install(SIGUSR1, info_handler as *const () as usize, SA_SIGINFO), 0);
    t.check_eq("rt_sigaction_reads_back", rt_sigaction(SIGUSR1, None, Some(&mut old), 8), 0);
    t.check("rt_sigaction_old_action_is_ours", old.handler == info_handler as *const () as usize && old.flags == SA_SIGINFO | SA_RESTORER
        && old.restorer == sigtest_restore_rt as *const () as usize, format_args!("handler {:#x} flags {:#x}", old.handler, old.flags));
    if linux_only {
        let with_unknown = SigAction { flags: act.flags | SA_UNSUPPORTED, ..act };
        rt_sigaction(SIGUSR2, Some(&with_unknown), None, 8);
        rt_sigaction(SIGUSR2, None, Some(&mut old), 8);
        t.check("rt_sigaction_unknown_flag_bits_cleared", old.flags & SA_UNSUPPORTED == 0, format_args!("flags {:#x}", old.flags));
    }

    // --- a handler runs with the right signo and siginfo, registers intact
    reset();
    let r = kill_keeping_registers(me, SIGUSR1);
    t.check_eq("kill_self_runs_the_handler_once", COUNT.load(SeqCst), 1);
    t.check_eq("handler_gets_the_signal_number", LAST_SIG.load(SeqCst), SIGUSR1 as i32);
    t.check_eq("siginfo_si_signo", SI_SIGNO.load(SeqCst), SIGUSR1 as i32);
    t.check_eq("siginfo_si_code_si_user", SI_CODE.load(SeqCst), SI_USER);
    t.check_eq("siginfo_si_pid_is_the_sender", SI_PID.load(SeqCst) as isize, me);
    t.check_eq("ucontext_holds_the_interrupted_edx", UC_DX.load(SeqCst), 0xd0d0_d0d0);
    if linux_only {
        t.check_eq("handler_runs_with_df_clear", DF_IN_HANDLER.load(SeqCst), 0);
    }
    t.check("handler_runs_with_its_signal_blocked", BLOCKED_IN_HANDLER.load(SeqCst) & bit(SIGUSR1) as u32 != 0,
        format_args!("mask in the handler {:#x}", BLOCKED_IN_HANDLER.load(SeqCst)));
    t.check("rt_sigreturn_restores_every_register_and_df", registers_intact(&r, me, SIGUSR1),
        format_args!("esi {:#x} ebp {:#x} edx {:#x} ebx {:#x} ecx {:#x} eax {:#x} eflags {:#x}", r[0], r[1], r[2], r[3], r[4], r[5], r[6]));
    let mut now = 0u64;
    sigprocmask(SIG_BLOCK, None, Some(&mut now));
    t.check_eq("the_mask_is_back_after_the_handler", now, 0);

    // the old frame (no SA_SIGINFO) and sigreturn (119)
    reset();
    install(SIGUSR2, plain_handler as *const () as usize, 0);
    let r = kill_keeping_registers(me, SIGUSR2);
    t.check_eq("old_style_handler_runs", LAST_SIG.load(SeqCst), SIGUSR2 as i32);
    t.check_eq("old_style_sigcontext_holds_edx", UC_DX.load(SeqCst), 0xd0d0_d0d0);
    t.check("sigreturn_restores_every_register_and_df", registers_intact(&r, me, SIGUSR2),
        format_args!("esi {:#x} ebp {:#x} edx {:#x} ebx {:#x} ecx {:#x} eax {:#x} eflags {:#x}", r[0], r[1], r[2], r[3], r[4], r[5], r[6]));

    // without SA_RESTORER: the kernel's own way back
    if linux_only {
        reset();
        let act = SigAction { handler: info_handler as *const () as usize, flags: SA_SIGINFO, restorer: 0, mask: [0; 2] };
        rt_sigaction(SIGUSR1, Some(&act), None, 8);
        let r = kill_keeping_registers(me, SIGUSR1);
        t.check("without_sa_restorer_the_handler_returns_intact", COUNT.load(SeqCst) == 1 && registers_intact(&r, me, SIGUSR1),
            format_args!("count {} eax {:#x}", COUNT.load(SeqCst), r[5]));
        install(SIGUSR1, info_handler as *const () as usize, SA_SIGINFO);
    }

    // tkill: si_code SI_TKILL
    reset();
    // SAFETY: no memory involved.
    let r = unsafe { syscall2(TKILL, me as usize, SIGUSR1) };
    t.check("tkill_self_si_tkill", r == 0 && SI_CODE.load(SeqCst) == SI_TKILL, format_args!("r {r} code {}", SI_CODE.load(SeqCst)));
    reset();
    // SAFETY: as above.
    let r = unsafe { syscall3(TGKILL, me as usize, me as usize, SIGUSR1) };
    t.check("tgkill_self_runs_the_handler", r == 0 && COUNT.load(SeqCst) == 1, format_args!("r {r}"));

    // --- blocked signals stay pending until unblocked
    reset();
    let mut before = 0u64;
    t.check_eq("sig_block_returns_0", sigprocmask(SIG_BLOCK, Some(bit(SIGUSR1)), Some(&mut before)), 0);
    t.check_eq("oldset_was_empty", before, 0);
    kill(me, SIGUSR1);
    t.check_eq("blocked_signal_not_delivered", COUNT.load(SeqCst), 0);
    t.check_eq("blocked_signal_is_pending", sigpending(), bit(SIGUSR1));
    kill(me, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, Some(bit(SIGUSR1)), None);
    t.check_eq("unblocking_delivers_it_once", COUNT.load(SeqCst), 1);
    t.check_eq("nothing_pending_after", sigpending(), 0);
    sigprocmask(SIG_SETMASK, Some(!0), None);
    sigprocmask(SIG_BLOCK, None, Some(&mut now));
    // (Only the standard signals are looked at: qemu-i386 keeps 63 and 64
    // for itself and never blocks them.)
    t.check("sigkill_and_sigstop_cannot_be_blocked", now & 0x7fff_ffff == 0x7fff_ffff & !(bit(SIGKILL) | bit(SIGSTOP)),
        format_args!("mask {now:#x}"));
    sigprocmask(SIG_SETMASK, Some(0), None);
    t.check_eq("sigprocmask_bad_how_einval", sigprocmask(7, Some(0), None), -EINVAL);
    t.check_eq("sigprocmask_bad_how_without_set_is_ok", sigprocmask(7, None, Some(&mut now)), 0);
    // SAFETY: no memory of ours is touched (the set pointer is unmapped).
    let r = unsafe { syscall4(RT_SIGPROCMASK, SIG_BLOCK, 0, 0, 4) };
    t.check_eq("sigprocmask_sigsetsize_4_einval", r, -EINVAL);
    // SAFETY: as above.
    let r = unsafe { syscall4(RT_SIGPROCMASK, SIG_BLOCK, UNMAPPED, 0, 8) };
    t.check_eq("sigprocmask_unmapped_set_efault", r, -EFAULT);
    // SAFETY: as above.
    let r = unsafe { syscall2(RT_SIGPENDING, &mut now as *mut u64 as usize, 9) };
    t.check_eq("sigpending_sigsetsize_9_einval", r, -EINVAL);
    // SAFETY: as above.
    let r = unsafe { syscall2(RT_SIGSUSPEND, 0, 4) };
    t.check_eq("sigsuspend_sigsetsize_4_einval", r, -EINVAL);

    // an ignored signal that is blocked stays pending; SIG_IGN discards it
    sigprocmask(SIG_BLOCK, Some(bit(SIGUSR2)), None);
    let ign = SigAction { handler: SIG_IGN, ..SigAction::default() };
    rt_sigaction(SIGUSR2, Some(&ign), None, 8);
    kill(me, SIGUSR2);
    t.check_eq("blocked_ignored_signal_is_pending", sigpending(), bit(SIGUSR2));
    rt_sigaction(SIGUSR2, Some(&ign), None, 8);
    t.check_eq("setting_sig_ign_discards_it", sigpending(), 0);
    rt_sigaction(SIGUSR2, Some(&SigAction::default()), None, 8);
    sigprocmask(SIG_SETMASK, Some(0), None);
    // default-ignore signals do nothing
    t.check("sigchld_and_sigwinch_ignored_by_default", kill(me, SIGCHLD) == 0 && kill(me, SIGWINCH) == 0 && sigpending() == 0,
        format_args!("pending {:#x}", sigpending()));

    // --- rt_sigsuspend: waits with a mask, the old one comes back
    reset();
    sigprocmask(SIG_BLOCK, Some(bit(SIGUSR1)), None);
    kill(me, SIGUSR1);
    let empty = 0u64;
    // SAFETY: empty is ours, 8 bytes.
    let r = unsafe { syscall2(RT_SIGSUSPEND, &empty as *const u64 as usize, 8) };
    sigprocmask(SIG_BLOCK, None, Some(&mut now));
    t.check("sigsuspend_eintr_after_the_handler", r == -EINTR && COUNT.load(SeqCst) == 1, format_args!("r {r} count {}", COUNT.load(SeqCst)));
    t.check_eq("sigsuspend_puts_the_mask_back", now, bit(SIGUSR1));
    sigprocmask(SIG_SETMASK, Some(0), None);

    // --- kill's errnos
    t.check_eq("kill_signal_65_einval", kill(me, 65), -EINVAL);
    t.check_eq("kill_signal_minus_1_einval", kill(me, usize::MAX), -EINVAL);
    t.check_eq("kill_signal_0_checks_existence", kill(me, 0), 0);
    t.check_eq("kill_no_such_pid_esrch", kill(0x3fff_fff0, 0), -ESRCH);
    t.check_eq("kill_int_min_esrch", kill(i32::MIN as isize, 0), -ESRCH);
    t.check_eq("kill_no_such_group_esrch", kill(-0x3fff_fff0, 0), -ESRCH);
    // SAFETY: no memory involved.
    unsafe {
        t.check_eq("tkill_tid_0_einval", syscall2(TKILL, 0, 0), -EINVAL);
        t.check_eq("tgkill_tgid_0_einval", syscall3(TGKILL, 0, me as usize, 0), -EINVAL);
        t.check_eq("tgkill_bad_signal_einval", syscall3(TGKILL, me as usize, me as usize, 65), -EINVAL);
        t.check_eq("tgkill_wrong_group_esrch", syscall3(TGKILL, 0x3fff_fff0, me as usize, 0), -ESRCH);
    }

    // --- a child killed by a signal, and its wait status
    let child = spawn(|| {
        close_stderr();
        loop {
            pause();
        }
    });
    let mut status = 0;
    t.check_eq("kill_child_returns_0", kill(child, SIGTERM), 0);
    t.check_eq("wait4_reaps_the_killed_child", wait4(child, &mut status), child);
    t.check("wifsignaled_wtermsig_sigterm", status & 0x7f == SIGTERM as i32 && status & 0xff00 == 0,
        format_args!("status {status:#x}"));

    // a signal with a terminate default and no handler kills (SIGUSR2)
    let child = spawn(|| {
        close_stderr();
        let dfl = SigAction::default();
        rt_sigaction(SIGUSR2, Some(&dfl), None, 8);
        kill(getpid(), SIGUSR2);
        99
    });
    wait4(child, &mut status);
    t.check("default_action_terminates", status & 0x7f == SIGUSR2 as i32, format_args!("status {status:#x}"));

    // a write to a pipe nobody reads: SIGPIPE, whose default kills
    let child = spawn(|| {
        close_stderr();
        let mut fds = [0i32; 2];
        // SAFETY: fds is ours, two ints; the calls touch nothing else.
        unsafe {
            if syscall1(PIPE, fds.as_mut_ptr() as usize) != 0 { return 1; }
            syscall1(CLOSE, fds[0] as usize);
        }
        user::syscall::write(fds[1], b"x");
        99
    });
    wait4(child, &mut status);
    t.check("write_to_a_pipe_without_readers_is_sigpipe", status & 0x7f == 13, format_args!("status {status:#x}"));

    // --- SIGCHLD when a child exits
    reset();
    install(SIGCHLD, info_handler as *const () as usize, SA_SIGINFO | SA_RESTART);
    let child = spawn(|| 3);
    let r = wait4(child, &mut status);
    t.check("wait4_with_a_sigchld_handler", r == child && status == 3 << 8, format_args!("r {r} status {status:#x}"));
    t.check_eq("sigchld_delivered", LAST_SIG.load(SeqCst), SIGCHLD as i32);
    t.check_eq("sigchld_si_code_cld_exited", SI_CODE.load(SeqCst), CLD_EXITED);
    t.check_eq("sigchld_si_pid_is_the_child", SI_PID.load(SeqCst) as isize, child);
    t.check_eq("sigchld_si_status_is_the_exit_code", SI_STATUS.load(SeqCst), 3);
    rt_sigaction(SIGCHLD, Some(&SigAction::default()), None, 8);

    // --- job control: a stop and a continue, as the parent sees them
    // (Linux do_notify_parent_cldstop, wait_task_stopped,
    // wait_task_continued): SIGCHLD with CLD_STOPPED / CLD_CONTINUED, and
    // wait4 reports the stop with WUNTRACED as (sig << 8) | 0x7f and the
    // continue with WCONTINUED as 0xffff, each once; without the option it
    // reports neither. SIGCHLD stays blocked but for next_sigchld's
    // sigsuspend, so none is missed.
    install(SIGCHLD, info_handler as *const () as usize, SA_SIGINFO | SA_RESTART);
    sigprocmask(SIG_BLOCK, Some(bit(SIGCHLD)), None);
    let child = spawn(|| {
        close_stderr();
        loop {
            pause();
        }
    });
    // The child in a process group of its own, whose parent (we) is in
    // another group of the same session: not orphaned, so SIGTSTP stops
    // it. In an orphaned group (ours may be one: a test run from a
    // non-interactive shell, as CI's), Linux discards SIGTSTP, SIGTTIN and
    // SIGTTOU (do_signal_stop's is_current_pgrp_orphaned).
    // SAFETY: setpgid of our own child; no memory is passed.
    t.check_eq("the_stopped_child_gets_a_group_of_its_own", unsafe { syscall2(SETPGID, child as usize, child as usize) }, 0);
    kill(child, SIGSTOP);
    let (code, st) = next_sigchld();
    t.check("sigchld_cld_stopped_with_the_stop_signal", code == CLD_STOPPED && st == SIGSTOP as i32
        && SI_PID.load(SeqCst) as isize == child, format_args!("si_code {code} si_status {st}"));
    t.check_eq("wait4_without_wuntraced_does_not_report_a_stop", wait4_options(child, &mut status, WNOHANG), 0);
    status = 0;
    let r = wait4_options(child, &mut status, WUNTRACED | WNOHANG);
    t.check("wait4_wuntraced_reports_the_stop_as_0x137f", r == child && status == 0x137f, format_args!("r {r} status {status:#x}"));
    t.check_eq("a_stop_is_reported_once", wait4_options(child, &mut status, WUNTRACED | WNOHANG), 0);
    kill(child, SIGCONT);
    t.check_eq("wait4_without_wcontinued_does_not_report_a_continue", wait4_options(child, &mut status, WUNTRACED | WNOHANG), 0);
    status = 0;
    // (Linux marks the child continued in kill() itself: no waiting.)
    let r = wait4_options(child, &mut status, WCONTINUED | WNOHANG);
    t.check("wait4_wcontinued_reports_the_continue_as_0xffff", r == child && status == 0xffff, format_args!("r {r} status {status:#x}"));
    t.check_eq("a_continue_is_reported_once", wait4_options(child, &mut status, WCONTINUED | WNOHANG), 0);
    let (code, st) = next_sigchld();
    t.check("sigchld_cld_continued_with_sigcont", code == CLD_CONTINUED && st == SIGCONT as i32, format_args!("si_code {code} si_status {st}"));
    // A stop that SIGCONT ended before anyone asked is not reported: the
    // continue is.
    kill(child, SIGTSTP);
    let (code, st) = next_sigchld();
    t.check("sigtstp_stops_it_too", code == CLD_STOPPED && st == SIGTSTP as i32, format_args!("si_code {code} si_status {st}"));
    kill(child, SIGCONT);
    status = 0;
    let r = wait4_options(child, &mut status, WUNTRACED | WCONTINUED | WNOHANG);
    t.check("sigcont_drops_an_unreported_stop", r == child && status == 0xffff, format_args!("r {r} status {status:#x}"));
    next_sigchld();
    // SIGKILL ends a stop too, but the child dies: neither the stop nor a
    // continue is reported, only the death.
    kill(child, SIGSTOP);
    next_sigchld();
    kill(child, SIGKILL);
    status = 0;
    let r = wait4_options(child, &mut status, WUNTRACED | WCONTINUED);
    t.check("sigkill_of_a_stopped_child_reports_only_its_death", r == child && status == SIGKILL as i32, format_args!("r {r} status {status:#x}"));
    // A blocking wait4(WUNTRACED) wakes when its child stops itself;
    // continued, the child ends, and a plain wait4 reaps it.
    let child = spawn(|| {
        nanosleep_ms(100);
        kill(getpid(), SIGSTOP);
        5
    });
    status = 0;
    let r = wait4_options(child, &mut status, WUNTRACED);
    t.check("blocking_wait4_wuntraced_wakes_at_the_stop", r == child && status == 0x137f, format_args!("r {r} status {status:#x}"));
    kill(child, SIGCONT);
    let r = wait4(child, &mut status);
    t.check("continued_it_runs_to_its_exit", r == child && status == 5 << 8, format_args!("r {r} status {status:#x}"));
    sigprocmask(SIG_UNBLOCK, Some(bit(SIGCHLD)), None);
    rt_sigaction(SIGCHLD, Some(&SigAction::default()), None, 8);

    // --- SIGSEGV handler: si_addr and si_code
    reset();
    install(SIGSEGV, segv_handler as *const () as usize, SA_SIGINFO);
    // SAFETY: the load faults; the handler steps over it (2 bytes).
    unsafe { core::arch::asm!(".byte 0x8b, 0x01", in("ecx") UNMAPPED, out("eax") _) };
    t.check_eq("sigsegv_handler_runs", LAST_SIG.load(SeqCst), SIGSEGV as i32);
    t.check_eq("sigsegv_si_addr_is_the_address", SI_ADDR.load(SeqCst), UNMAPPED as u32);
    t.check_eq("sigsegv_si_code_segv_maperr", SI_CODE.load(SeqCst), SEGV_MAPERR);
    reset();
    // SAFETY: a fresh read-only anonymous page of our own.
    let page = unsafe { syscall6(MMAP2, 0, 4096, 1, 0x22, usize::MAX, 0) } as usize;
    // SAFETY: the store faults (read-only page); the handler steps over it.
    unsafe { core::arch::asm!(".byte 0x89, 0x01", in("ecx") page + 8, in("eax") 1) };
    t.check_eq("sigsegv_on_a_read_only_page_segv_accerr", SI_CODE.load(SeqCst), SEGV_ACCERR);
    t.check_eq("sigsegv_accerr_si_addr", SI_ADDR.load(SeqCst), page as u32 + 8);
    rt_sigaction(SIGSEGV, Some(&SigAction::default()), None, 8);

    // --- nanosleep interrupted by a signal: -EINTR and the time left,
    // with or without SA_RESTART (Linux never restarts it after a handler)
    for (name, flags) in [("nanosleep_interrupted_eintr_with_time_left", SA_SIGINFO),
                          ("nanosleep_eintr_even_with_sa_restart", SA_SIGINFO | SA_RESTART)] {
        let child = spawn(move || {
            reset();
            install(SIGUSR1, info_handler as *const () as usize, flags);
            let (r, left) = nanosleep_ms(10_000);
            if r != -EINTR { return 1; }
            if !(1..10_000).contains(&left) { return 2; }
            if COUNT.load(SeqCst) != 1 { return 3; }
            0
        });
        nanosleep_ms(300);
        kill(child, SIGUSR1);
        wait4(child, &mut status);
        t.check(name, status == 0, format_args!("child status {status:#x} (1: not -EINTR, 2: time left wrong, 3: no handler)"));
    }

    // --- wait4 interrupted: -EINTR without SA_RESTART, restarted with it
    for (name, flags) in [("wait4_interrupted_eintr", SA_SIGINFO), ("wait4_restarted_with_sa_restart", SA_SIGINFO | SA_RESTART)] {
        reset();
        install(SIGUSR1, info_handler as *const () as usize, flags);
        let sleeper = spawn(|| {
            close_stderr();
            loop {
                pause();
            }
        });
        let kicker = spawn(move || {
            nanosleep_ms(300);
            kill(getppid(), SIGUSR1);
            nanosleep_ms(300);
            kill(sleeper, SIGTERM);
            0
        });
        let r = wait4(sleeper, &mut status);
        if flags & SA_RESTART == 0 {
            t.check(name, r == -EINTR && COUNT.load(SeqCst) == 1, format_args!("r {r} count {}", COUNT.load(SeqCst)));
            wait4(sleeper, &mut status);
        } else {
            t.check(name, r == sleeper && status & 0x7f == SIGTERM as i32 && COUNT.load(SeqCst) == 1,
                format_args!("r {r} status {status:#x} count {}", COUNT.load(SeqCst)));
        }
        wait4(kicker, &mut status);
    }

    // --- a frame edited by the program cannot raise its privilege: kernel
    // segments in it never run (the process dies: Linux's faulting iret
    // gives SIGILL on i386, SIGSEGV on x86-64 Linux's IA32 emulation; this
    // kernel SIGILL), and IOPL, NT and IF are not taken from it.
    // (qemu-i386 lets the kernel selectors through and the program goes on
    // in its own way: a linux-only check.)
    if linux_only {
        let child = spawn(|| {
            close_stderr();
            HOSTILE_MODE.store(1, SeqCst);
            install(SIGUSR1, hostile_handler as *const () as usize, SA_SIGINFO);
            kill(getpid(), SIGUSR1);
            99
        });
        wait4(child, &mut status);
        t.check("frame_with_kernel_cs_ss_kills_not_ring_0", status & 0x7f == 4 || status & 0x7f == SIGSEGV as i32,
            format_args!("status {status:#x} (99 << 8: it ran on)"));
    }
    let child = spawn(|| {
        HOSTILE_MODE.store(2, SeqCst);
        install(SIGUSR1, hostile_handler as *const () as usize, SA_SIGINFO);
        kill(getpid(), SIGUSR1);
        let f = eflags();
        if f & 0x3000 != 0 { return 1; }
        if f & 0x4000 != 0 { return 2; }
        if f & 0x200 == 0 { return 3; }
        0
    });
    wait4(child, &mut status);
    t.check("frame_cannot_set_iopl_nt_or_clear_if", status == 0,
        format_args!("child exit {} (1 IOPL set, 2 NT set, 3 IF clear)", status >> 8));

    // --- the FPU state in the frame (Linux copy_fpstate_to_sigframe /
    // fpu__restore_sig): a handler that changes xmm0 and MXCSR, as glibc's
    // SSE memcpy in a handler would, leaves the interrupted code's values
    // intact after sigreturn; both frame kinds.
    for (name, flags) in [("rt_sigreturn_restores_xmm0_and_mxcsr", SA_SIGINFO), ("sigreturn_restores_xmm0_and_mxcsr", 0)] {
        install(SIGUSR2, fpu_handler as *const () as usize, flags);
        let (xmm0, mxcsr) = sse_around_kill(me, SIGUSR2);
        t.check(name, xmm0 == SSE_MINE && mxcsr == MXCSR_MINE && FPU_HANDLER_RAN.load(SeqCst) != 0,
            format_args!("xmm0 {xmm0:x?} mxcsr {mxcsr:#x}, handler ran {}", FPU_HANDLER_RAN.load(SeqCst)));
        FPU_HANDLER_RAN.store(0, SeqCst);
    }
    // SIGUSR2 back to its default (the group check below kills with it).
    rt_sigaction(SIGUSR2, Some(&SigAction::default()), None, 8);
    if linux_only {
        // (qemu-i386 hands the handler the interrupted code's registers.)
        t.check("handler_starts_with_a_fresh_mxcsr", FPU_HANDLER_MXCSR.load(SeqCst) == 0x1f80,
            format_args!("mxcsr in the handler {:#x}", FPU_HANDLER_MXCSR.load(SeqCst)));
    }

    // --- process groups and sessions
    // SAFETY: these calls touch no memory.
    unsafe {
        let pgrp = syscall0(GETPGRP);
        t.check_eq("getpgid_0_is_getpgrp", syscall1(GETPGID, 0), pgrp);
        t.check_eq("getsid_0_is_getsid_self", syscall1(GETSID, 0), syscall1(GETSID, me as usize));
        t.check_eq("getpgid_no_such_pid_esrch", syscall1(GETPGID, 0x3fff_fff0), -ESRCH);
        t.check_eq("getsid_no_such_pid_esrch", syscall1(GETSID, 0x3fff_fff0), -ESRCH);
        t.check_eq("setpgid_negative_pgid_einval", syscall2(SETPGID, 0, usize::MAX), -EINVAL);
        t.check_eq("setpgid_no_such_pid_esrch", syscall2(SETPGID, 0x3fff_fff0, 0), -ESRCH);
        let child = spawn(|| {
            close_stderr();
            loop {
                pause();
            }
        });
        t.check_eq("child_inherits_the_group", syscall1(GETPGID, child as usize), pgrp);
        t.check_eq("setpgid_child_own_group", syscall2(SETPGID, child as usize, 0), 0);
        t.check_eq("getpgid_child_is_its_pid", syscall1(GETPGID, child as usize), child);
        t.check_eq("kill_minus_pgid_reaches_the_group", kill(-child, SIGUSR2), 0);
        wait4(child, &mut status);
        t.check("the_group_member_died_of_it", status & 0x7f == SIGUSR2 as i32, format_args!("status {status:#x}"));
        // A group whose only member has ended but is not reaped yet (a
        // zombie) still exists: another child may join it (a shell's
        // pipeline whose first command is done), as Linux's find_vpid says.
        let first = spawn(|| if syscall2(SETPGID, 0, 0) == 0 { 0 } else { 1 });
        nanosleep_ms(100);
        let second = spawn(|| {
            close_stderr();
            loop {
                pause();
            }
        });
        t.check_eq("setpgid_into_a_group_held_by_a_zombie", syscall2(SETPGID, second as usize, first as usize), 0);
        kill(second, SIGKILL);
        wait4(second, &mut status);
        wait4(first, &mut status);
        t.check_eq("the_zombie_had_made_its_group", status, 0);
        // setsid in a child: a new session and group, and then EPERM
        let child = spawn(|| {
            let me = getpid();
            if syscall0(SETSID) != me { return 1; }
            if syscall1(GETSID, 0) != me || syscall0(GETPGRP) != me { return 2; }
            if syscall0(SETSID) != -EPERM { return 3; }
            if syscall2(SETPGID, 0, 0) != -EPERM { return 4; }
            0
        });
        wait4(child, &mut status);
        t.check("setsid_new_session_then_eperm", status == 0, format_args!("child exit {} (1 setsid, 2 getsid/getpgrp, 3 second setsid, 4 setpgid of a leader)", status >> 8));
    }

    t.finish()
}
