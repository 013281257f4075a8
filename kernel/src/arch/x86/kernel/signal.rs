//! The i386 signal frames (Linux `arch/x86/kernel/signal.c` and
//! `arch/x86/include/asm/sigframe.h`, the 32-bit `sigframe_ia32` and
//! `rt_sigframe_ia32`): what a handler finds on its stack, and how
//! `rt_sigreturn` / `sigreturn` put the interrupted registers back.
//!
//! ```text
//!  struct rt_sigframe (SA_SIGINFO)        struct sigframe (no SA_SIGINFO)
//!    0   pretcode  -> restorer/retcode      0   pretcode
//!    4   sig                                4   sig
//!    8   pinfo = &info                      8   sc (struct sigcontext, 88)
//!   12   puc   = &uc                       96   fpstate_unused (624)
//!   16   info (siginfo_t, 128)            720   extramask[1] (mask bits 32..63)
//!  144   uc: flags, link, stack (12),     724   retcode: popl %eax;
//!        sigcontext (88), sigmask (8)             movl $119,%eax; int $0x80
//!  260   retcode: movl $173,%eax; int $0x80     (732 bytes)
//!  (268 bytes)
//!
//!  struct sigcontext: gs fs es ds (16-bit each, padded), di si bp sp bx dx
//!  cx ax, trapno err ip cs flags sp_at_signal ss, fpstate oldmask cr2
//! ```
//!
//! The FPU state (Linux `get_sigframe` -> `fpu__alloc_mathframe`,
//! `copy_fpstate_to_sigframe`, and `fpu__restore_sig` on the way back): the
//! interrupted code's x87/SSE registers go on the user stack *above* the
//! frame, in a `struct _fpstate_32` of its own, and `sc.fpstate` points at
//! it (the old frame's `fpstate_unused` stays unused, as in Linux):
//!
//! ```text
//!   interrupted sp
//!     ... (padding: the FXSAVE image is 64-byte aligned)
//!   buf_fx:  the FXSAVE image (512 bytes; sw_reserved 464..512 zero: no XSAVE)
//!   buf:     the legacy FNSAVE header (112: convert_from_fxsr, magic 0x0000)
//!     ... (align_sigframe)
//!   frame:   sigframe / rt_sigframe, sc.fpstate = buf
//! ```
//!
//! Then the handler starts with a fresh FPU state (Linux `handle_signal`:
//! `fpu__clear_user_states`), so whatever it does to xmm0 or MXCSR (glibc's
//! memcpy uses SSE) is undone at sigreturn, which loads the frame's state
//! back: the image, with the header's x87 part folded in
//! (`convert_to_fxsr`), MXCSR's reserved bits cleared. `sc.fpstate == 0`
//! on the way back means "no state": the FPU is reset to the initial state.
//! A header or image that cannot be read is a bad frame (SIGSEGV). Without
//! FXSR (a CPU with FNSAVE only; not what run-qemu.sh emulates) no state
//! is saved and `fpstate` is 0: the one place we differ from Linux here.
//!
//! The frame goes below the interrupted stack pointer, aligned so that the
//! handler starts as if called: `(sp + 4) % 16 == 0` (Linux
//! `align_sigframe`). The handler's `ret` pops `pretcode`: the C library's
//! trampoline when it set `SA_RESTORER` (glibc, musl and busybox all do),
//! else the vDSO's `__kernel_sigreturn` / `__kernel_rt_sigreturn`, as
//! Linux's (`arch/x86/entry/vdso.rs`: with NX the stack is not executable,
//! so the frame's own `retcode` cannot be run there), and only for a task
//! without a vDSO (not made by exec) the frame's `retcode`, which Linux
//! keeps writing for the same purpose.
//!
//! The way back trusts nothing in the frame (the program may have written
//! anything there): CS and SS get RPL 3 whatever the frame says, EFLAGS
//! takes only the bits a program may change (`FIX_EFLAGS`: never IOPL, IF,
//! NT or VM), and a selector the CPU would refuse to load goes to 0 (data
//! segments: Linux's exception-table fixup on `pop %ds` does the same) or
//! turns into SIGILL (CS, SS: Linux's faulting `iret` gives SIGILL,
//! `ILL_BADSTK`), so no frame can make the return to user mode fault in
//! the kernel.

use crate::arch::entry::{PtRegs, TrapFrame};
use crate::arch::gdt::{GDT_ENTRY_TLS_ENTRIES, GDT_ENTRY_TLS_MIN, USER_CS, USER_DS};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::signal::{KSignal, SA_RESTORER, SA_SIGINFO};

/// Size of `struct sigcontext` (i386).
pub const SIGCONTEXT_SIZE: usize = 88;
/// Size of `struct rt_sigframe`.
pub const RT_SIGFRAME_SIZE: usize = 268;
/// Size of `struct sigframe` (with the 624-byte `_fpstate_32` it keeps
/// unused so that `extramask` stays where old programs look for it).
pub const SIGFRAME_SIZE: usize = 732;
/// Offsets in `struct rt_sigframe`.
const RT_INFO: usize = 16;
const RT_UC: usize = 144;
const RT_UC_MCONTEXT: usize = RT_UC + 20;
const RT_UC_SIGMASK: usize = RT_UC_MCONTEXT + SIGCONTEXT_SIZE;
const RT_RETCODE: usize = 260;
/// Offsets in `struct sigframe`.
const SF_SC: usize = 8;
const SF_EXTRAMASK: usize = 720;
const SF_RETCODE: usize = 724;

/// `sc.fpstate`'s offset in `struct sigcontext`.
const SC_FPSTATE: usize = 76;

/// `ss_flags` of `uc_stack` when there is no alternate stack.
const SS_DISABLE: u32 = 2;

/// The EFLAGS bits a program may set through a frame (Linux `FIX_EFLAGS`):
/// AC OF DF TF SF ZF AF PF CF RF. Not IF, IOPL, NT, VM, VIF, VIP, ID.
pub const FIX_EFLAGS: u32 = (1 << 18) | (1 << 11) | (1 << 10) | (1 << 8) | (1 << 7) | (1 << 6) | (1 << 4) | (1 << 2) | 1 | (1 << 16);
/// DF, RF and TF: cleared for the handler (Linux `handle_signal`).
const HANDLER_CLEARS: u32 = (1 << 10) | (1 << 16) | (1 << 8);

/// The i386 numbers of the two return calls (the retcodes hold them).
const NR_SIGRETURN: u32 = 119;
const NR_RT_SIGRETURN: u32 = 173;

/// Little-endian writer into a frame image.
fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Fill a `struct sigcontext` from `regs` (Linux `setup_sigcontext`).
fn setup_sigcontext(sc: &mut [u8], regs: &PtRegs, mask: u64, trap: (u32, u32, u32), fpstate: u32) {
    let vals = [
        regs.gs & 0xffff, regs.fs & 0xffff, regs.es & 0xffff, regs.ds & 0xffff,
        regs.di, regs.si, regs.bp, regs.sp, regs.bx, regs.dx, regs.cx, regs.ax,
        trap.0, trap.1, regs.ip, regs.cs & 0xffff, regs.flags, regs.sp, regs.ss & 0xffff,
        fpstate,
        mask as u32, trap.2,
    ];
    for (k, v) in vals.iter().enumerate() {
        put(sc, 4 * k, *v);
    }
}

/// The FXSAVE image's size, and the legacy header's before it.
const FXSAVE_BYTES: usize = 512;
const FSAVE_HEADER: usize = crate::arch::fpu::FSAVE_HEADER_SIZE;
/// FXSAVE's bytes for software (`sw_reserved`): zero without XSAVE.
const SW_RESERVED: core::ops::Range<usize> = 464..512;

/// Room for the FPU state below `sp` (Linux `fpu__alloc_mathframe` for an
/// ia32 frame with FXSR): the image 64-byte aligned, the header right
/// before it. Returns (the header's address = `sc.fpstate`, the new sp).
fn alloc_mathframe(sp: u32) -> (u32, u32) {
    let buf_fx = sp.wrapping_sub(FXSAVE_BYTES as u32) & !63;
    let buf = buf_fx.wrapping_sub(FSAVE_HEADER as u32);
    (buf, buf)
}

/// Where the frame goes: below the stack pointer and the FPU state, so
/// that the handler starts with `(esp + 4) % 16 == 0` (Linux `get_sigframe`
/// + `align_sigframe` for i386). Returns (frame, fpstate or 0).
fn get_sigframe(regs: &PtRegs, size: usize) -> (u32, u32) {
    let (fpstate, sp) = if crate::arch::fpu::use_fxsr() { alloc_mathframe(regs.sp) } else { (0, regs.sp) };
    let sp = sp.wrapping_sub(size as u32);
    ((sp.wrapping_add(4) & !15).wrapping_sub(4), fpstate)
}

/// Write the current FPU state to the user's `_fpstate_32` at `buf` (Linux
/// `copy_fpstate_to_sigframe`): the live registers saved first, then the
/// legacy header and the FXSAVE image. `Err(-EFAULT)` if the stack cannot
/// take it.
fn copy_fpstate_to_sigframe(buf: u32) -> Result<(), i32> {
    let mut s = crate::arch::fpu::fpu_sync_fpstate();
    let header = crate::arch::fpu::convert_from_fxsr(&s);
    s.0[SW_RESERVED].fill(0);
    if copy_to_user(buf as usize, &header) != 0 || copy_to_user(buf as usize + FSAVE_HEADER, &s.0) != 0 {
        return Err(-crate::errno::EFAULT);
    }
    Ok(())
}

/// Load the FPU state a sigreturn finds at `buf` (Linux `fpu__restore_sig`
/// -> `__fpu_restore_sig` for an ia32 frame): 0 resets the FPU to the
/// initial state; else the image with the header's x87 part folded in,
/// MXCSR sanitized by `fpu_set_user_state`. A fault: the state is reset
/// and the frame is bad.
fn fpu_restore_sig(buf: u32) -> Result<(), RestoreError> {
    if buf == 0 || !crate::arch::fpu::use_fxsr() {
        crate::arch::fpu::fpu_flush_thread();
        return Ok(());
    }
    let mut header = [0u8; FSAVE_HEADER];
    let mut s = crate::arch::fpu::FxregsState([0; FXSAVE_BYTES]);
    if copy_from_user(&mut header, buf as usize) != 0 || copy_from_user(&mut s.0, buf as usize + FSAVE_HEADER) != 0 {
        crate::arch::fpu::fpu_flush_thread();
        return Err(RestoreError::Fault);
    }
    crate::arch::fpu::convert_to_fxsr(&mut s, &header);
    crate::arch::fpu::fpu_set_user_state(&s);
    Ok(())
}

/// Build the handler's frame on the user stack and point the registers at
/// the handler (Linux `setup_rt_frame`, which on i386 picks the rt frame
/// for SA_SIGINFO and the old one otherwise). `Err(-EFAULT)` if the
/// stack cannot take it.
pub fn setup_rt_frame(ksig: &KSignal, oldset: u64, trap: (u32, u32, u32), regs: &mut PtRegs) -> Result<(), i32> {
    let rt = ksig.ka.flags & SA_SIGINFO != 0;
    let size = if rt { RT_SIGFRAME_SIZE } else { SIGFRAME_SIZE };
    let (frame, fpstate) = get_sigframe(regs, size);
    if fpstate != 0 {
        copy_fpstate_to_sigframe(fpstate)?;
    }
    let mut b = [0u8; SIGFRAME_SIZE];
    let (retcode_off, retcode): (usize, [u8; 8]) = if rt {
        // movl $173, %eax; int $0x80; pad
        (RT_RETCODE, [0xb8, NR_RT_SIGRETURN as u8, 0, 0, 0, 0xcd, 0x80, 0])
    } else {
        // popl %eax; movl $119, %eax; int $0x80
        (SF_RETCODE, [0x58, 0xb8, NR_SIGRETURN as u8, 0, 0, 0, 0xcd, 0x80])
    };
    // The C library's trampoline, else the vDSO's (Linux: `restorer =
    // current->mm->context.vdso + vdso_image_32.sym___kernel_sigreturn`),
    // else the frame's retcode (no vDSO: a task made without exec).
    let vdso = crate::sched::current().mm().map_or(0, |mm| mm.context_vdso.load(core::sync::atomic::Ordering::Relaxed));
    let pretcode = if ksig.ka.flags & SA_RESTORER != 0 {
        ksig.ka.restorer
    } else if vdso != 0 {
        let off = if rt { crate::arch::entry::vdso::VDSO_RT_SIGRETURN } else { crate::arch::entry::vdso::VDSO_SIGRETURN };
        (vdso + off) as u32
    } else {
        frame + retcode_off as u32
    };
    put(&mut b, 0, pretcode);
    put(&mut b, 4, ksig.sig as u32);
    b[retcode_off..retcode_off + 8].copy_from_slice(&retcode);
    if rt {
        put(&mut b, 8, frame + RT_INFO as u32);
        put(&mut b, 12, frame + RT_UC as u32);
        b[RT_INFO..RT_INFO + 128].copy_from_slice(&ksig.info.to_user());
        // uc_flags 0 (no xsave state), uc_link 0, uc_stack {0, SS_DISABLE, 0}
        put(&mut b, RT_UC + 12, SS_DISABLE);
        setup_sigcontext(&mut b[RT_UC_MCONTEXT..RT_UC_MCONTEXT + SIGCONTEXT_SIZE], regs, oldset, trap, fpstate);
        b[RT_UC_SIGMASK..RT_UC_SIGMASK + 8].copy_from_slice(&oldset.to_le_bytes());
    } else {
        setup_sigcontext(&mut b[SF_SC..SF_SC + SIGCONTEXT_SIZE], regs, oldset, trap, fpstate);
        put(&mut b, SF_EXTRAMASK, (oldset >> 32) as u32);
    }
    if copy_to_user(frame as usize, &b[..size]) != 0 {
        return Err(-crate::errno::EFAULT);
    }
    regs.sp = frame;
    regs.ip = ksig.ka.handler;
    regs.ax = ksig.sig as u32;
    if rt {
        regs.dx = frame + RT_INFO as u32;
        regs.cx = frame + RT_UC as u32;
    } else {
        regs.dx = 0;
        regs.cx = 0;
    }
    regs.ds = USER_DS as u32;
    regs.es = USER_DS as u32;
    regs.ss = USER_DS as u32;
    regs.cs = USER_CS as u32;
    regs.flags &= !HANDLER_CLEARS;
    // The handler starts with a fresh FPU state (Linux handle_signal:
    // fpu__clear_user_states); the interrupted one is in the frame.
    if fpstate != 0 {
        crate::arch::fpu::fpu_flush_thread();
    }
    Ok(())
}

/// Can user mode load data selector `sel` (DS, ES, FS, GS)? The null
/// selectors, the flat user segments, and a TLS entry the task has filled
/// with a present descriptor of DPL 3. Anything else (a kernel segment, the
/// TSS, the LDT, an empty TLS entry, past the GDT) would fault.
fn user_data_selector_ok(sel: u32, tls: &[u64; GDT_ENTRY_TLS_ENTRIES]) -> bool {
    let index = (sel >> 3) as usize;
    if sel & 4 != 0 {
        return false; // the LDT: there is none
    }
    if index == 0 {
        return true; // a null selector loads (and faults only when used)
    }
    if index == (USER_DS >> 3) as usize || index == (USER_CS >> 3) as usize {
        return true;
    }
    match index.checked_sub(GDT_ENTRY_TLS_MIN) {
        Some(i) if i < GDT_ENTRY_TLS_ENTRIES => {
            let d = tls[i];
            let present = d & (1 << 47) != 0;
            let dpl3 = (d >> 45) & 3 == 3;
            let system = d & (1 << 44) == 0;
            present && dpl3 && !system
        }
        _ => false,
    }
}

/// What restoring a sigcontext found wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The frame could not be read: SIGSEGV (Linux `signal_fault`).
    Fault,
    /// CS or SS would make the `iret` fault: SIGILL, `ILL_BADSTK`, as
    /// Linux's `iret` exception gives.
    BadSegment,
}

/// Put the registers back from a `struct sigcontext` image (Linux
/// `restore_sigcontext`): every general register, the segments with the
/// checks in the module comment, the user-changeable EFLAGS bits only, and
/// `orig_ax = -1` so that nothing restarts the `sigreturn` itself.
pub fn restore_sigcontext(regs: &mut PtRegs, sc: &[u8], tls: &[u64; GDT_ENTRY_TLS_ENTRIES]) -> Result<(), RestoreError> {
    let w = |k: usize| get(sc, 4 * k);
    let data = |v: u32| {
        let sel = v & 0xffff;
        if user_data_selector_ok(sel, tls) { sel } else { 0 }
    };
    regs.gs = data(w(0));
    regs.fs = data(w(1));
    regs.es = data(w(2));
    regs.ds = data(w(3));
    regs.di = w(4);
    regs.si = w(5);
    regs.bp = w(6);
    regs.sp = w(7);
    regs.bx = w(8);
    regs.dx = w(9);
    regs.cx = w(10);
    regs.ax = w(11);
    regs.ip = w(14);
    // Get CS/SS and force CPL 3 (Linux's words).
    let cs = (w(15) & 0xffff) | 3;
    let ss = (w(18) & 0xffff) | 3;
    regs.flags = (regs.flags & !FIX_EFLAGS) | (w(16) & FIX_EFLAGS);
    regs.orig_ax = u32::MAX;
    // Linux would iret with these and take the fault; we check first. Only
    // the flat user segments are code and stack segments a program has.
    if cs != USER_CS as u32 || ss != USER_DS as u32 {
        regs.cs = USER_CS as u32;
        regs.ss = USER_DS as u32;
        return Err(RestoreError::BadSegment);
    }
    regs.cs = cs;
    regs.ss = ss;
    Ok(())
}

/// After a failed restore: SIGSEGV for an unreadable frame (Linux
/// `signal_fault`), SIGILL for segments `iret` would refuse.
fn bad_frame(e: RestoreError, what: &str, regs: &PtRegs) -> i32 {
    let me = crate::sched::current();
    log::warn!("{}[{}] bad frame in {what} sp:{:x} ip:{:x}", me.name(), me.id(), regs.sp, regs.ip);
    match e {
        RestoreError::Fault => crate::signal::force_sig_fault(crate::signal::SIGSEGV, crate::signal::SI_KERNEL, 0),
        RestoreError::BadSegment => crate::signal::force_sig_fault(crate::signal::SIGILL, crate::signal::ILL_BADSTK, 0),
    }
    regs.ax as i32
}

/// `rt_sigreturn()` (i386 173): the handler returned through pretcode,
/// which popped nothing: the frame starts 4 bytes below the stack pointer
/// (the handler's `ret` took `pretcode`). Puts the mask and the registers
/// back; returns the restored eax so the system-call exit leaves it alone.
pub fn sys_rt_sigreturn(regs: &mut PtRegs) -> i32 {
    let frame = regs.sp.wrapping_sub(4) as usize;
    let mut b = [0u8; RT_SIGFRAME_SIZE];
    if copy_from_user(&mut b, frame) != 0 {
        return bad_frame(RestoreError::Fault, "rt_sigreturn", regs);
    }
    let me = crate::sched::current();
    me.signal.set_restart(None); // a restart pending across the handler fails with -EINTR
    let mask = u64::from_le_bytes(b[RT_UC_SIGMASK..RT_UC_SIGMASK + 8].try_into().expect("8 bytes"));
    me.signal.set_blocked(mask);
    let tls = me.tls_for_switch();
    if let Err(e) = restore_sigcontext(regs, &b[RT_UC_MCONTEXT..RT_UC_MCONTEXT + SIGCONTEXT_SIZE], &tls) {
        return bad_frame(e, "rt_sigreturn", regs);
    }
    if let Err(e) = fpu_restore_sig(get(&b, RT_UC_MCONTEXT + SC_FPSTATE)) {
        return bad_frame(e, "rt_sigreturn", regs);
    }
    regs.ax as i32
}

/// `sigreturn()` (i386 119): the old frame's trampoline popped `sig` too,
/// so the frame starts 8 bytes below the stack pointer. The mask is
/// `sc.oldmask` (signals 1-32) and `extramask` (33-64).
pub fn sys_sigreturn(regs: &mut PtRegs) -> i32 {
    let frame = regs.sp.wrapping_sub(8) as usize;
    let mut b = [0u8; SIGFRAME_SIZE];
    if copy_from_user(&mut b, frame) != 0 {
        return bad_frame(RestoreError::Fault, "sigreturn", regs);
    }
    let me = crate::sched::current();
    me.signal.set_restart(None);
    let mask = get(&b, SF_SC + 80) as u64 | (get(&b, SF_EXTRAMASK) as u64) << 32;
    me.signal.set_blocked(mask);
    let tls = me.tls_for_switch();
    if let Err(e) = restore_sigcontext(regs, &b[SF_SC..SF_SC + SIGCONTEXT_SIZE], &tls) {
        return bad_frame(e, "sigreturn", regs);
    }
    if let Err(e) = fpu_restore_sig(get(&b, SF_SC + SC_FPSTATE)) {
        return bad_frame(e, "sigreturn", regs);
    }
    regs.ax as i32
}

/// The signal check on the way back to user mode from an interrupt or an
/// exception (Linux `irqentry_exit_to_user_mode`): the frame there is a
/// [`TrapFrame`], so the registers go through a [`PtRegs`] (with `orig_ax`
/// -1: no system call to restart) and back. Interrupts are on while
/// signals are handled (writing the frame may fault and sleep).
pub fn exit_to_user_mode_trap(frame: &mut TrapFrame) {
    if !crate::signal::signal_pending() {
        return;
    }
    // SAFETY: from ring 3 the CPU pushed the user's esp and ss right after
    // eflags, i.e. just past the TrapFrame, on this task's kernel stack.
    let user = unsafe { (frame as *mut TrapFrame).add(1).cast::<u32>() };
    // SAFETY: as above, two words.
    let (sp, ss) = unsafe { (user.read(), user.add(1).read()) };
    let mut regs = PtRegs {
        bx: frame.ebx, cx: frame.ecx, dx: frame.edx, si: frame.esi, di: frame.edi, bp: frame.ebp,
        ax: frame.eax, ds: frame.ds, es: frame.es, fs: frame.fs, gs: frame.gs, orig_ax: u32::MAX,
        ip: frame.eip, cs: frame.cs, flags: frame.eflags, sp, ss,
    };
    crate::arch::cpu::local_irq_enable();
    crate::signal::do_signal(&mut regs);
    let _ = crate::arch::cpu::local_irq_save();
    frame.ebx = regs.bx;
    frame.ecx = regs.cx;
    frame.edx = regs.dx;
    frame.esi = regs.si;
    frame.edi = regs.di;
    frame.ebp = regs.bp;
    frame.eax = regs.ax;
    frame.ds = regs.ds;
    frame.es = regs.es;
    frame.fs = regs.fs;
    frame.gs = regs.gs;
    frame.eip = regs.ip;
    frame.cs = regs.cs;
    frame.eflags = regs.flags;
    // SAFETY: the same two words as above.
    unsafe {
        user.write(regs.sp);
        user.add(1).write(regs.ss);
    }
}
