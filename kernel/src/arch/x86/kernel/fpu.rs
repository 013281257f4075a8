//! The x87 FPU, MMX and SSE registers of user programs (Linux
//! `arch/x86/kernel/fpu/{init,core,signal}.c`, `asm/fpu/*`).
//!
//! The kernel itself never touches these registers: it is built
//! soft-float (`i686-kernel.json`: `-mmx,-sse,-sse2,+soft-float`, so LLVM
//! emits no x87, MMX or SSE instruction, not even for 64-bit atomics, which
//! it does with `cmpxchg8b`; `tests/lint.sh` disassembles the kernel to keep
//! it so). Whatever is in them at any moment in the kernel therefore
//! belongs to the user program that last ran on this CPU, and only three
//! places change them: the context switch, exec and fork (and, later,
//! signal delivery and `sigreturn`).
//!
//! ```text
//!  boot, every CPU    fpu__init_cpu: CR0.MP|NE set, EM|TS clear; CR4.OSFXSR|OSXMMEXCPT; fninit
//!  context switch     switch_fpu_prepare(prev): fxsave into prev's area (a user task only)
//!                     switch_fpu_finish(next):  fxrstor from next's area (a user task only)
//!  execve             fpu_flush_thread: the registers and the area = init_fpstate
//!                     (FCW 0x037f, MXCSR 0x1f80, everything else zero)
//!  fork               fpu_clone: the parent's live registers, saved and copied;
//!                     the child loads them before it first enters user mode
//!  #MF / #XM in user  math_error: SIGFPE with Linux's si_code (FPE_FLTDIV, ...)
//!  #NM                never (CR0.TS is always clear): a kernel bug if it happens
//!  signal frame       not yet: the frame's fpstate is 0 (kernel/src/signal.rs);
//!                     ready for it: fpu_sync_fpstate + convert_from_fxsr (the
//!                     i386 frame's legacy header), and for sigreturn
//!                     convert_to_fxsr + fpu_set_user_state
//! ```
//!
//! Eager switching: Linux saved and restored the FPU state lazily until
//! 4.6 (CR0.TS set at every switch, the first FPU instruction trapping with
//! #NM, the state loaded then), and eagerly since ("x86/fpu: Hard-disable
//! lazy FPU mode", 4.14 removed the lazy code): the trap cost more than the
//! copy, and the lazy scheme leaked registers speculatively (LazyFP,
//! CVE-2018-3665). Like Linux 4.6 to 5.1 we restore at the switch itself;
//! Linux 5.2 onwards only marks the task `TIF_NEED_FPU_LOAD` there and
//! restores on the way back to user mode (`switch_fpu_return`), which
//! saves the restore when the task never returns to user mode (a kernel
//! thread that runs briefly in between keeps the registers). We differ in
//! that, not in what a program sees.
//!
//! A kernel thread (no user program) has no FPU state to keep: `Fpu::user`
//! is false for it and the switch skips it, so switching user A -> kernel
//! thread -> user B saves A and loads B, and nothing of A reaches B.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::cpu;

/// The size of the FXSAVE image (Linux `struct fxregs_state`).
pub const FXSAVE_SIZE: usize = 512;
/// The x87 control word after `fninit`: every exception masked, 64-bit
/// precision, round to nearest (Linux `fpstate_init_fxstate`).
pub const X87_FCW_DEFAULT: u16 = 0x037f;
/// MXCSR at reset and at exec: every SIMD exception masked, round to
/// nearest (Linux `MXCSR_DEFAULT`).
pub const MXCSR_DEFAULT: u32 = 0x1f80;
/// The MXCSR bits a CPU that reports a zero MXCSR_MASK supports (Intel
/// SDM 11.6.6; Linux `mxcsr_feature_mask_init`).
const MXCSR_MASK_DEFAULT: u32 = 0x0000_ffbf;

/// CR0 bits (Intel SDM 2.5).
pub mod cr0 {
    /// Monitor coprocessor: `wait`/`fwait` honour TS.
    pub const MP: u32 = 1 << 1;
    /// Emulation: every x87/MMX/SSE instruction raises #NM (or #UD).
    pub const EM: u32 = 1 << 2;
    /// Task switched: the next FPU instruction raises #NM (lazy switching).
    pub const TS: u32 = 1 << 3;
    /// Numeric error: x87 errors as #MF (vector 16), not through the PIC's IRQ 13.
    pub const NE: u32 = 1 << 5;
}

/// CR4 bits (Intel SDM 2.5).
pub mod cr4 {
    /// The OS saves the SSE state with FXSAVE: without it SSE instructions raise #UD.
    pub const OSFXSR: u32 = 1 << 9;
    /// The OS handles #XM: without it unmasked SIMD exceptions raise #UD.
    pub const OSXMMEXCPT: u32 = 1 << 10;
}

/// CPUID.1:EDX bits of the FPU and its extensions.
pub mod feature {
    /// An x87 FPU on the chip.
    pub const FPU: u32 = 0;
    /// MMX.
    pub const MMX: u32 = 23;
    /// FXSAVE/FXRSTOR.
    pub const FXSR: u32 = 24;
    /// SSE.
    pub const SSE: u32 = 25;
    /// SSE2.
    pub const SSE2: u32 = 26;
}

/// The 512-byte FXSAVE image (Linux `struct fxregs_state`), 16-aligned as
/// FXSAVE requires. Offsets (Intel SDM table 10-2): FCW 0, FSW 2, the
/// abridged tag byte 4, FOP 6, FIP 8, FCS 12, FDP 16, FDS 20, MXCSR 24,
/// MXCSR_MASK 28, ST0-7 at 32 + 16 i (10 bytes each), XMM0-7 at 160 + 16 i,
/// reserved from 288; bytes 464-511 are free for software (Linux keeps its
/// `fpx_sw_bytes` there in a signal frame).
#[repr(C, align(16))]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FxregsState(pub [u8; FXSAVE_SIZE]);

impl core::fmt::Debug for FxregsState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FxregsState {{ fcw {:#06x}, fsw {:#06x}, mxcsr {:#x}, xmm0 {:02x?} }}", self.cwd(), self.swd(), self.mxcsr(), self.xmm(0))
    }
}

impl FxregsState {
    /// Linux's `init_fpstate` in FXSAVE format: what a program starts
    /// with after exec. (With FNSAVE, see [`FxregsState::init_fsave`].)
    pub const fn init() -> FxregsState {
        let mut b = [0u8; FXSAVE_SIZE];
        let fcw = X87_FCW_DEFAULT.to_le_bytes();
        b[0] = fcw[0];
        b[1] = fcw[1];
        let mx = MXCSR_DEFAULT.to_le_bytes();
        b[24] = mx[0];
        b[25] = mx[1];
        b[26] = mx[2];
        b[27] = mx[3];
        FxregsState(b)
    }

    /// `init_fpstate` in FNSAVE format (CPUs without FXSR): control word
    /// 0xffff037f, tag word 0xffffffff (every register empty; Linux
    /// `fpstate_init_fstate`).
    const fn init_fsave() -> FxregsState {
        let mut b = [0u8; FXSAVE_SIZE];
        let cwd = 0xffff_0000u32 | X87_FCW_DEFAULT as u32;
        let c = cwd.to_le_bytes();
        b[0] = c[0];
        b[1] = c[1];
        b[2] = c[2];
        b[3] = c[3];
        b[8] = 0xff;
        b[9] = 0xff;
        b[10] = 0xff;
        b[11] = 0xff;
        FxregsState(b)
    }

    /// Is this exactly Linux's `init_fpstate` for this CPU's format?
    pub fn is_init(&self) -> bool {
        *self == init_fpstate()
    }

    fn u16_at(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.0[off], self.0[off + 1]])
    }

    fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes([self.0[off], self.0[off + 1], self.0[off + 2], self.0[off + 3]])
    }

    /// The x87 control word.
    pub fn cwd(&self) -> u16 {
        self.u16_at(0)
    }

    /// The x87 status word.
    pub fn swd(&self) -> u16 {
        self.u16_at(2)
    }

    /// MXCSR, the SSE control and status register.
    pub fn mxcsr(&self) -> u32 {
        self.u32_at(24)
    }

    /// Set MXCSR.
    pub fn set_mxcsr(&mut self, v: u32) {
        self.0[24..28].copy_from_slice(&v.to_le_bytes());
    }

    /// The MXCSR bits this CPU supports, as FXSAVE reports them.
    pub fn mxcsr_mask(&self) -> u32 {
        self.u32_at(28)
    }

    /// XMM register `i` (0-7), 16 bytes.
    pub fn xmm(&self, i: usize) -> [u8; 16] {
        let mut r = [0; 16];
        r.copy_from_slice(&self.0[160 + 16 * i..176 + 16 * i]);
        r
    }

    /// x87 register ST(`i`) (physical order as FXSAVE stores it), 10 bytes.
    pub fn st(&self, i: usize) -> [u8; 10] {
        let mut r = [0; 10];
        r.copy_from_slice(&self.0[32 + 16 * i..42 + 16 * i]);
        r
    }
}

/// A task's FPU state (Linux `struct fpu`, in `thread_struct`).
///
/// Who touches `state`: the CPU switching the task out (save) or in
/// (restore), with interrupts off; the task itself, with interrupts off
/// (exec, fork, signal frames). A task is never switched while it does
/// that, so the two never overlap.
pub struct Fpu {
    state: UnsafeCell<FxregsState>,
    /// Does the task have user FPU state (it has exec'd a program or is a
    /// fork's child)? A kernel thread does not (Linux tests `PF_KTHREAD`).
    user: AtomicBool,
}

// SAFETY: see the ownership rules above; `state` is only reached with
// interrupts off by the task itself or by the CPU switching it.
unsafe impl Sync for Fpu {}

impl Fpu {
    /// A kernel thread's: no user state (the area holds `init_fpstate` so
    /// that a report never shows garbage).
    pub fn new() -> Fpu {
        Fpu { state: UnsafeCell::new(init_fpstate()), user: AtomicBool::new(false) }
    }

    /// Does the task have user FPU state?
    pub fn is_user(&self) -> bool {
        self.user.load(Ordering::Relaxed)
    }
}

impl Default for Fpu {
    fn default() -> Self {
        Fpu::new()
    }
}

/// Does this kernel use FXSAVE/FXRSTOR (the CPU has FXSR), or the older
/// FNSAVE/FRSTOR (x87 state only)? Decided on the boot CPU.
static USE_FXSR: AtomicBool = AtomicBool::new(false);
/// Does CR4.OSXMMEXCPT get set (the CPU has SSE)?
static HAVE_SSE: AtomicBool = AtomicBool::new(false);
/// The MXCSR bits the CPU supports (Linux `mxcsr_feature_mask`): a state
/// from user space (sigreturn) is masked with it, or FXRSTOR would #GP.
static MXCSR_FEATURE_MASK: AtomicU32 = AtomicU32::new(MXCSR_MASK_DEFAULT);

/// Does the kernel save the FPU state with FXSAVE?
pub fn use_fxsr() -> bool {
    USE_FXSR.load(Ordering::Relaxed)
}

/// The MXCSR bits a restored state may have set.
pub fn mxcsr_feature_mask() -> u32 {
    MXCSR_FEATURE_MASK.load(Ordering::Relaxed)
}

/// The state a program starts with (Linux `init_fpstate`) in the format
/// this CPU saves.
pub fn init_fpstate() -> FxregsState {
    if use_fxsr() { FxregsState::init() } else { FxregsState::init_fsave() }
}

fn write_cr0(v: u32) {
    // SAFETY: only the FPU bits (MP, EM, TS, NE) differ from the value
    // read; they change how FPU instructions trap, nothing the kernel uses.
    unsafe { asm!("mov cr0, {}", in(reg) v, options(nostack, preserves_flags)) };
}

fn write_cr4(v: u32) {
    // SAFETY: only OSFXSR and OSXMMEXCPT are added to the value read; they
    // enable SSE for user programs and change nothing the kernel does.
    unsafe { asm!("mov cr4, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Set up this CPU's FPU (Linux `fpu__init_cpu` + `fpu__init_cpu_generic`),
/// on every CPU at boot: CR0.MP (wait honours TS), CR0.NE (x87 errors as
/// #MF, "native" mode, not the PC's IRQ 13), CR0.EM and CR0.TS clear (the
/// FPU is there and always usable: eager switching); CR4.OSFXSR and
/// CR4.OSXMMEXCPT when the CPU has FXSR and SSE (without OSFXSR every SSE
/// instruction raises #UD: the SIGILL Debian's busybox died of); then
/// `fninit` for a clean x87 state.
#[allow(non_snake_case)] // Linux's name, `fpu__` marking the FPU core's API
pub fn fpu__init_cpu() {
    assert!(
        cpu::has_feature_edx(feature::FPU),
        "x86/fpu: this CPU has no x87 FPU, and this kernel has no math emulation"
    );
    let c0 = (cpu::read_cr0() | cr0::MP | cr0::NE) & !(cr0::EM | cr0::TS);
    write_cr0(c0);
    let mut c4 = cpu::read_cr4();
    if cpu::has_feature_edx(feature::FXSR) {
        c4 |= cr4::OSFXSR;
    }
    if cpu::has_feature_edx(feature::SSE) {
        c4 |= cr4::OSXMMEXCPT;
    }
    write_cr4(c4);
    // SAFETY: fninit resets the x87 state, which nothing in the kernel uses.
    unsafe { asm!("fninit", options(nomem, nostack, preserves_flags)) };
}

/// Once, on the boot CPU, before any other CPU starts (Linux
/// `fpu__init_system`): choose FXSAVE or FNSAVE, read the MXCSR mask, set
/// this CPU up and say what the FPU has, in Linux's words where Linux has
/// them (`x86/fpu: x87 FPU will use FXSAVE`).
#[allow(non_snake_case)] // Linux's name, `fpu__` marking the FPU core's API
pub fn fpu__init_system() {
    let fxsr = cpu::has_feature_edx(feature::FXSR);
    USE_FXSR.store(fxsr, Ordering::Relaxed);
    HAVE_SSE.store(cpu::has_feature_edx(feature::SSE), Ordering::Relaxed);
    fpu__init_cpu();
    if fxsr {
        // Linux mxcsr_feature_mask_init: FXSAVE into a zeroed area writes
        // MXCSR_MASK, 0 meaning the default mask.
        let mut s = FxregsState([0; FXSAVE_SIZE]);
        // SAFETY: s is a 16-aligned 512-byte area of ours.
        unsafe { asm!("fxsave [{}]", in(reg) &mut s as *mut FxregsState, options(nostack, preserves_flags)) };
        let mask = match s.mxcsr_mask() {
            0 => MXCSR_MASK_DEFAULT,
            m => m,
        };
        MXCSR_FEATURE_MASK.store(mask, Ordering::Relaxed);
    }
    let has = |bit, name| if cpu::has_feature_edx(bit) { name } else { "" };
    let mut list = crate::fmtbuf::FmtBuf::<64>::new();
    for name in [has(feature::FPU, "x87"), has(feature::MMX, "MMX"), has(feature::FXSR, "FXSR"),
        has(feature::SSE, "SSE"), has(feature::SSE2, "SSE2")] {
        if !name.is_empty() {
            let sep = if list.as_str().is_empty() { "" } else { " " };
            let _ = core::fmt::Write::write_fmt(&mut list, format_args!("{sep}{name}"));
        }
    }
    log::info!("x86/fpu: CPU has {}; CR0 {:#x} CR4 {:#x}; eager switching", list.as_str(), cpu::read_cr0(), cpu::read_cr4());
    if fxsr {
        log::info!("x86/fpu: x87 FPU will use FXSAVE");
        log::info!("x86/fpu: MXCSR feature mask {:#06x}", mxcsr_feature_mask());
    } else {
        log::info!("x86/fpu: x87 FPU will use FNSAVE");
    }
}

/// Save this CPU's FPU registers into `s` (Linux `save_fpregs_to_fpstate`).
/// FNSAVE also reinitialises the FPU, so with it the state is loaded back
/// when `keep` says the registers must stay live (fork).
fn save_fpregs(s: &mut FxregsState, keep: bool) {
    let p = s as *mut FxregsState;
    if use_fxsr() {
        // SAFETY: p is a 16-aligned 512-byte area; FXSAVE only writes it.
        unsafe { asm!("fxsave [{}]", in(reg) p, options(nostack, preserves_flags)) };
    } else {
        // SAFETY: p has room for FNSAVE's 108 bytes.
        unsafe { asm!("fnsave [{}]", in(reg) p, options(nostack, preserves_flags)) };
        if keep {
            restore_fpregs(s);
        }
    }
}

/// Load this CPU's FPU registers from `s` (Linux `restore_fpregs_from_fpstate`).
fn restore_fpregs(s: &FxregsState) {
    let p = s as *const FxregsState;
    if use_fxsr() {
        // SAFETY: p is a 16-aligned 512-byte image whose MXCSR has no
        // reserved bit set (every image here came from FXSAVE, from
        // init_fpstate, or was masked by fpu_set_user_state).
        unsafe { asm!("fxrstor [{}]", in(reg) p, options(nostack, preserves_flags)) };
    } else {
        // SAFETY: p holds an FNSAVE image (108 bytes).
        unsafe { asm!("frstor [{}]", in(reg) p, options(nostack, preserves_flags)) };
    }
}

/// The context switch's first half (Linux `switch_fpu_prepare`): keep the
/// outgoing task's registers in its area. Interrupts are off.
pub fn switch_fpu_prepare(prev: &crate::sched::task::Task) {
    let fpu = prev.fpu();
    if fpu.is_user() {
        // SAFETY: the CPU switching `prev` out is the only one touching
        // its area (interrupts off, prev not yet off this CPU).
        save_fpregs(unsafe { &mut *fpu.state.get() }, false);
    }
}

/// The context switch's second half (Linux `switch_fpu_finish`, which
/// since 5.2 defers this to the return to user mode): load the incoming
/// task's registers. Interrupts are off.
pub fn switch_fpu_finish(next: &crate::sched::task::Task) {
    let fpu = next.fpu();
    if fpu.is_user() {
        // SAFETY: next is switching in on this CPU with interrupts off: no
        // one else touches its area.
        restore_fpregs(unsafe { &*fpu.state.get() });
    }
}

/// Run `f` on the current task's area with interrupts off (so no switch
/// saves into it meanwhile).
fn with_current_state<R>(f: impl FnOnce(&Fpu, &mut FxregsState) -> R) -> R {
    let flags = cpu::local_irq_save();
    let me = crate::sched::current();
    let fpu = me.fpu();
    // SAFETY: the task's own area, interrupts off: no switch of this task
    // (the only other user) can happen until f returns.
    let r = f(fpu, unsafe { &mut *fpu.state.get() });
    cpu::local_irq_restore(flags);
    r
}

/// At exec (Linux `fpu_flush_thread` -> `fpu__clear_user_states`): the
/// new program starts with `init_fpstate` in its registers and its area,
/// nothing of the old program's (nor of whichever program last used this
/// CPU, for a task that was a kernel thread until now).
pub fn fpu_flush_thread() {
    with_current_state(|fpu, s| {
        *s = init_fpstate();
        restore_fpregs(s);
        fpu.user.store(true, Ordering::Relaxed);
    });
}

/// At fork, in the parent (Linux `fpu_clone`): its live registers, which
/// the child starts with. (A kernel thread forking has none: the child
/// gets `init_fpstate`.)
pub fn fpu_clone() -> FxregsState {
    with_current_state(|fpu, s| {
        if fpu.is_user() {
            save_fpregs(s, true);
            *s
        } else {
            init_fpstate()
        }
    })
}

/// In a new child, before it first enters user mode: take `state` (from
/// [`fpu_clone`]) as its own and load it.
pub fn fpu_install(state: &FxregsState) {
    with_current_state(|fpu, s| {
        *s = *state;
        restore_fpregs(s);
        fpu.user.store(true, Ordering::Relaxed);
    });
}

/// The current task's user FPU state, up to date (Linux
/// `fpu_sync_fpstate`: the live registers saved into its area first).
/// What a signal frame's `_fpstate_32` is built from.
pub fn fpu_sync_fpstate() -> FxregsState {
    with_current_state(|fpu, s| {
        if fpu.is_user() {
            save_fpregs(s, true);
        }
        *s
    })
}

/// Make `state` the current task's user FPU state, in its area and its
/// registers (Linux `fpu__restore_sig`'s end: `fpu_reset_from_exception_fixup`
/// aside, the MXCSR reserved bits are cleared first, as
/// `sanitize_restored_user_xstate` does, because FXRSTOR of a reserved bit
/// raises #GP in the kernel). For sigreturn, with state read from the user's
/// signal frame.
pub fn fpu_set_user_state(state: &FxregsState) {
    let mut clean = *state;
    if use_fxsr() {
        clean.set_mxcsr(clean.mxcsr() & mxcsr_feature_mask());
    }
    with_current_state(|fpu, s| {
        *s = clean;
        restore_fpregs(s);
        fpu.user.store(true, Ordering::Relaxed);
    });
}

/// A task's saved FPU state: for a task that is not running (a test's
/// child asleep, a report), a copy of its area. (For the current task use
/// [`fpu_sync_fpstate`], which saves the live registers first.)
pub fn fpu_state(task: &crate::sched::task::Task) -> FxregsState {
    let flags = cpu::local_irq_save();
    // SAFETY: a racy copy of plain bytes; callers ask about tasks that are
    // not switching (asleep or dead), whose area nobody writes.
    let s = unsafe { core::ptr::read_volatile(task.fpu().state.get()) };
    cpu::local_irq_restore(flags);
    s
}

/// Forget the task's user FPU state as it exits (Linux `fpu__drop`): the
/// switch away from it saves nothing.
#[allow(non_snake_case)] // Linux's name, `fpu__` marking the FPU core's API
pub fn fpu__drop(task: &crate::sched::task::Task) {
    task.fpu().user.store(false, Ordering::Relaxed);
}

/// The size of the legacy FNSAVE-format header an i386 signal frame puts
/// before the FXSAVE image (`struct _fpstate_32` up to `_fxsr_env`: the
/// 108-byte `user_i387_ia32_struct`, then `status` and `magic`).
pub const FSAVE_HEADER_SIZE: usize = 112;
/// `magic` in that header when an FXSAVE image follows (Linux `X86_FXSR_MAGIC`).
pub const X86_FXSR_MAGIC: u16 = 0x0000;

/// The x87 tag word in FNSAVE's full form from FXSAVE's abridged one
/// (Linux `twd_fxsr_to_i387`): per physical register, 3 empty, else
/// classified from its contents: 1 zero, 2 special (NaN, infinity,
/// denormal, unnormal), 0 valid.
fn twd_fxsr_to_i387(s: &FxregsState) -> u32 {
    let tos = (s.swd() as u32 >> 11) & 7;
    let abridged = s.0[4] as u32;
    let mut ret = 0xffff_0000u32;
    for i in 0..8u32 {
        let tag = if abridged & (1 << i) != 0 {
            // Physical register i is ST((i - TOP) mod 8), FXSAVE's order.
            let st = s.st((i.wrapping_sub(tos) & 7) as usize);
            let exponent = u16::from_le_bytes([st[8], st[9]]) & 0x7fff;
            let significand_zero = st[..8].iter().all(|&b| b == 0);
            match exponent {
                0x7fff => 2,
                0 if significand_zero => 1,
                0 => 2,
                _ if st[7] & 0x80 != 0 => 0,
                _ => 2,
            }
        } else {
            3
        };
        ret |= tag << (2 * i);
    }
    ret
}

/// FXSAVE's abridged tag byte from FNSAVE's tag word (Linux
/// `twd_i387_to_fxsr`): a register is valid unless its tag is 3.
fn twd_i387_to_fxsr(twd: u16) -> u8 {
    let mut tmp = !(twd as u32);
    tmp = (tmp | (tmp >> 1)) & 0x5555;
    tmp = (tmp | (tmp >> 1)) & 0x3333;
    tmp = (tmp | (tmp >> 2)) & 0x0f0f;
    tmp = (tmp | (tmp >> 4)) & 0x00ff;
    tmp as u8
}

/// The legacy header of an i386 signal frame's `struct _fpstate_32`, made
/// from an FXSAVE image (Linux `convert_from_fxsr` + `save_fsave_header`):
/// cwd, swd, twd, fip, fcs (with fop in the high half), foo, fos, the
/// eight 10-byte registers, then `status` (the status word) and `magic`
/// (`X86_FXSR_MAGIC`: the FXSAVE image follows).
pub fn convert_from_fxsr(s: &FxregsState) -> [u8; FSAVE_HEADER_SIZE] {
    let mut h = [0u8; FSAVE_HEADER_SIZE];
    let words = [
        s.cwd() as u32 | 0xffff_0000,
        s.swd() as u32 | 0xffff_0000,
        twd_fxsr_to_i387(s),
        s.u32_at(8),                                            // fip
        (s.u32_at(12) & 0xffff) | ((s.u16_at(6) as u32) << 16), // fcs | fop << 16
        s.u32_at(16),                                           // foo
        s.u32_at(20) | 0xffff_0000,                             // fos
    ];
    for (i, w) in words.iter().enumerate() {
        h[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    for i in 0..8 {
        h[28 + 10 * i..38 + 10 * i].copy_from_slice(&s.st(i));
    }
    h[108..110].copy_from_slice(&s.swd().to_le_bytes());
    h[110..112].copy_from_slice(&X86_FXSR_MAGIC.to_le_bytes());
    h
}

/// Fold a signal frame's legacy header back into the FXSAVE image that
/// follows it (Linux `convert_to_fxsr`, which `__fpu_restore_sig` applies
/// for an ia32 frame: the header's x87 state wins over the image's, so a
/// handler that edits either the old or the new format is obeyed for the
/// x87 part). MXCSR and the XMM registers come from the image.
pub fn convert_to_fxsr(s: &mut FxregsState, header: &[u8; FSAVE_HEADER_SIZE]) {
    let w = |i: usize| u32::from_le_bytes([header[4 * i], header[4 * i + 1], header[4 * i + 2], header[4 * i + 3]]);
    s.0[0..2].copy_from_slice(&(w(0) as u16).to_le_bytes());
    s.0[2..4].copy_from_slice(&(w(1) as u16).to_le_bytes());
    s.0[4] = twd_i387_to_fxsr(w(2) as u16);
    s.0[6..8].copy_from_slice(&((w(4) >> 16) as u16).to_le_bytes()); // fop
    s.0[8..12].copy_from_slice(&w(3).to_le_bytes()); // fip
    s.0[12..16].copy_from_slice(&(w(4) & 0xffff).to_le_bytes()); // fcs
    s.0[16..20].copy_from_slice(&w(5).to_le_bytes()); // foo
    s.0[20..24].copy_from_slice(&(w(6) & 0xffff).to_le_bytes()); // fos
    for i in 0..8 {
        s.0[32 + 16 * i..42 + 16 * i].copy_from_slice(&header[28 + 10 * i..38 + 10 * i]);
    }
}

/// `si_code` of a SIGFPE (Linux `asm-generic/siginfo.h`).
pub mod fpe {
    /// Floating-point divide by zero.
    pub const FLTDIV: i32 = 3;
    /// Floating-point overflow.
    pub const FLTOVF: i32 = 4;
    /// Floating-point underflow.
    pub const FLTUND: i32 = 5;
    /// Floating-point inexact result.
    pub const FLTRES: i32 = 6;
    /// Floating-point invalid operation.
    pub const FLTINV: i32 = 7;
}

/// Why an #MF (vector 16) or #XM (vector 19) was raised, as a SIGFPE
/// `si_code` (Linux `fpu__exception_code`): the exceptions flagged and not
/// masked, in Linux's order of precedence; 0 for a spurious trap (nothing
/// unmasked is pending: Linux returns to retry the instruction).
#[allow(non_snake_case)] // Linux's name, `fpu__` marking the FPU core's API
pub fn fpu__exception_code(s: &FxregsState, vector: u32) -> i32 {
    let err = if vector == 16 {
        // x87: status bits 0-5 and the stack fault (bit 6), masks in the
        // control word's bits 0-5.
        let (cwd, swd) = (s.cwd() as u32, s.swd() as u32);
        swd & !cwd
    } else {
        // SIMD: flags in MXCSR bits 0-5, masks in bits 7-12.
        let mxcsr = s.mxcsr();
        !(mxcsr >> 7) & mxcsr
    };
    if err & 0x001 != 0 {
        fpe::FLTINV
    } else if err & 0x004 != 0 {
        fpe::FLTDIV
    } else if err & 0x008 != 0 {
        fpe::FLTOVF
    } else if err & 0x012 != 0 {
        fpe::FLTUND
    } else if err & 0x020 != 0 {
        fpe::FLTRES
    } else {
        0
    }
}

/// The name of a SIGFPE `si_code`, for the log.
pub fn fpe_name(code: i32) -> &'static str {
    match code {
        fpe::FLTDIV => "FPE_FLTDIV",
        fpe::FLTOVF => "FPE_FLTOVF",
        fpe::FLTUND => "FPE_FLTUND",
        fpe::FLTRES => "FPE_FLTRES",
        fpe::FLTINV => "FPE_FLTINV",
        _ => "spurious",
    }
}

/// An #MF or #XM from user mode (Linux `math_error`): the registers saved
/// into the task's area, the cause read from them; a spurious trap (no
/// unmasked exception pending) returns to retry; otherwise the si_code for
/// the SIGFPE.
pub fn math_error(vector: u32) -> Option<i32> {
    let s = fpu_sync_fpstate();
    match fpu__exception_code(&s, vector) {
        0 => None,
        code => Some(code),
    }
}

/// Is SSE enabled for user programs on this CPU (CR4.OSFXSR)?
pub fn sse_enabled() -> bool {
    HAVE_SSE.load(Ordering::Relaxed) && cpu::read_cr4() & cr4::OSFXSR != 0
}
