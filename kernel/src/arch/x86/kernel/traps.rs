//! What happens when the CPU raises an exception (Linux
//! `arch/x86/kernel/traps.c` and `arch/x86/mm/fault.c`).
//!
//! A kernel-mode exception is a kernel bug unless someone expected it, so
//! the default is to print a report in the style of a Linux oops (the
//! exception's name, its error code decoded, the registers) and panic. Two
//! exceptions are not bugs:
//!
//! * `int3` (#BP) is a *trap*: the CPU reports it after the instruction, so
//!   we can log it and simply return; debuggers live on this.
//! * A page fault is sometimes expected: an instruction listed in the
//!   exception table (`extable.rs`, used by `copy_from_kernel_nofault`)
//!   resumes at its fixup instead.
//!
//! The double fault runs as its own hardware task (see `gdt.rs`) and reads
//! the faulting context from the TSS the CPU saved it into.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::cpu::{read_cr0, read_cr2, read_cr3, read_cr4};
use super::percpu::raw_smp_processor_id as smp_processor_id;
use super::gdt;
use crate::arch::entry::TrapFrame;
use crate::fmtbuf::FmtBuf;

/// Linux's name and Intel's mnemonic for each exception vector.
pub const EXCEPTION_NAMES: [(&str, &str); 32] = [
    ("divide error", "#DE"),
    ("debug", "#DB"),
    ("non-maskable interrupt", "NMI"),
    ("int3", "#BP"),
    ("overflow", "#OF"),
    ("bounds", "#BR"),
    ("invalid opcode", "#UD"),
    ("device not available", "#NM"),
    ("double fault", "#DF"),
    ("coprocessor segment overrun", "#CSO"),
    ("invalid TSS", "#TS"),
    ("segment not present", "#NP"),
    ("stack segment", "#SS"),
    ("general protection fault", "#GP"),
    ("page fault", "#PF"),
    ("spurious interrupt bug", "#SPURIOUS"),
    ("coprocessor error", "#MF"),
    ("alignment check", "#AC"),
    ("machine check", "#MC"),
    ("SIMD coprocessor error", "#XM"),
    ("virtualization exception", "#VE"),
    ("control protection", "#CP"),
    ("reserved", "#22"), ("reserved", "#23"), ("reserved", "#24"), ("reserved", "#25"),
    ("reserved", "#26"), ("reserved", "#27"),
    ("hypervisor injection", "#HV"),
    ("VMM communication", "#VC"),
    ("security exception", "#SX"),
    ("reserved", "#31"),
];

/// Vectors whose error code is a segment selector (decoded in reports).
const SELECTOR_ERROR_VECTORS: [u32; 4] = [10, 11, 12, 13];

/// How many int3 traps have been handled (tests check it moves).
pub static INT3_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Page-fault error code bits (Intel SDM vol. 3, figure 4-12).
pub mod pf {
    /// 0: the page was not present; 1: a protection violation.
    pub const PROT: u32 = 1 << 0;
    /// The access was a write.
    pub const WRITE: u32 = 1 << 1;
    /// The access came from user mode.
    pub const USER: u32 = 1 << 2;
    /// A reserved bit was set in a paging structure.
    pub const RSVD: u32 = 1 << 3;
    /// The access was an instruction fetch.
    pub const INSTR: u32 = 1 << 4;
}

/// Called by `isr_common` for every exception.
pub extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let user = frame.from_user();
    // Forged IOPL / VM bits (an emulator bug): cleaned before anything
    // reads the frame; with VM the task dies on the way out (SIGKILL is
    // pending), the interrupt itself is still handled.
    if user {
        crate::arch::entry::common::check_user_eflags(&mut frame.eflags);
    }
    if frame.vector == 7 {
        do_device_not_available(frame);
    } else if (frame.vector == 16 || frame.vector == 19) && user {
        do_math_error(frame);
    } else if frame.vector < 32 && frame.vector != 14 && user {
        do_user_trap(frame);
    } else {
        match frame.vector {
            3 => do_int3(frame),
            14 => do_page_fault(frame),
            v if v >= 32 => super::irq::do_irq(frame),
            // A segment fault in kernel mode at an instruction the
            // exception table lists (the exit path loading a user's
            // selector that no longer loads): resume at its fixup, as
            // Linux's do_trap does for any trap with one.
            10..=13 if crate::arch::extable::fixup_exception(&mut frame.eip) => {}
            _ => die(frame, None),
        }
    }
    // Back to user mode: deliver what is pending first (a fault's own
    // signal, or one another CPU sent while this program ran).
    if user {
        super::signal::exit_to_user_mode_trap(frame);
    }
}

/// Segmentation violation: a bad memory access (also the page-fault
/// path's, `arch/x86/mm/fault.rs`).
pub const SIGSEGV: i32 = crate::signal::SIGSEGV;

/// The last `traps:` line printed for a user-mode exception (the tests
/// read it, as they read the page-fault path's `LAST_SEGFAULT`).
pub static LAST_USER_TRAP: spin::Mutex<FmtBuf<160>> = spin::Mutex::new(FmtBuf::new());

/// An exception in user mode is the program's fault, never the kernel's:
/// it gets the signal Linux sends for it (`do_trap`, `do_error_trap`,
/// `exc_general_protection`, `exc_invalid_op`...) through
/// `force_sig_fault`, delivered on the way back to user mode (the trap
/// exit in `trap_dispatch`): its handler runs, or, with none, the process
/// ends with the signal as its wait status. Linux's `traps:` line is
/// printed only when no handler will run (`show_signal`). (Page faults go
/// to `do_page_fault`, which may resolve them.)
fn do_user_trap(frame: &mut TrapFrame) {
    use crate::signal::{BUS_ADRALN, FPE_INTDIV, ILL_ILLOPN, SI_KERNEL, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    let me = crate::sched::current();
    let (ip, sp) = (frame.eip, frame.user_sp().unwrap_or(0));
    let v = frame.vector;
    // (signal, si_code, si_addr) as Linux 6.1's handlers give them; an
    // FPU error's code would come from the FPU status word (Linux
    // `fpu__exception_code`), which we do not read: SI_KERNEL instead.
    let (sig, code, addr) = match v {
        0 => (SIGFPE, FPE_INTDIV, ip),
        9 | 16 | 19 => (SIGFPE, SI_KERNEL, 0),
        1 | 3 => (SIGTRAP, SI_KERNEL, 0),
        6 => (SIGILL, ILL_ILLOPN, ip),
        11 | 12 => (SIGBUS, SI_KERNEL, 0),
        17 => (SIGBUS, BUS_ADRALN, 0),
        _ => (SIGSEGV, SI_KERNEL, 0),
    };
    if crate::signal::unhandled_signal(sig) {
        // arch/x86/kernel/traps.c show_signal()
        let (name, _) = EXCEPTION_NAMES[v as usize];
        let mut line = FmtBuf::<160>::new();
        let _ = write!(line, "traps: {}[{}] {} ip:{:x} sp:{:x} error:{:x}", me.name(), me.id(), name, ip, sp, frame.error_code);
        log::warn!("{}", line.as_str());
        *LAST_USER_TRAP.lock() = line;
        USER_SIGNALS.fetch_add(1, Ordering::Relaxed);
    }
    me.signal.set_trap(v, frame.error_code, 0);
    crate::signal::force_sig_fault(sig, code, addr);
}

/// #MF (x87 error, vector 16) or #XM (SIMD error, vector 19) from user
/// mode (Linux `math_error`): the program computed something whose
/// exception it had unmasked. The cause comes from its saved FPU state
/// (`fpu__exception_code`); a spurious trap with nothing unmasked pending
/// just retries the instruction, as on Linux; otherwise SIGFPE with that
/// `si_code` and the faulting ip (`force_sig_fault`): a handler gets it,
/// and without one the process ends with wait status 8. Linux prints
/// nothing for these; with no handler we print the line `do_trap` prints
/// for the other traps, with the `si_code` a handler would have seen.
fn do_math_error(frame: &mut TrapFrame) {
    let Some(code) = super::fpu::math_error(frame.vector) else { return };
    let me = crate::sched::current();
    if crate::signal::unhandled_signal(crate::signal::SIGFPE) {
        let (name, _) = EXCEPTION_NAMES[frame.vector as usize];
        log::warn!(
            "traps: {}[{}] {} ip:{:x} sp:{:x} error:{:x} ({})",
            me.name(),
            me.id(),
            name,
            frame.eip,
            frame.user_sp().unwrap_or(0),
            frame.error_code,
            super::fpu::fpe_name(code)
        );
        USER_SIGNALS.fetch_add(1, Ordering::Relaxed);
    }
    me.signal.set_trap(frame.vector, frame.error_code, 0);
    crate::signal::force_sig_fault(crate::signal::SIGFPE, code, frame.eip);
}

/// How many #NM exceptions came (each a kernel bug: see below).
pub static NM_COUNT: AtomicUsize = AtomicUsize::new(0);

/// #NM, "device not available" (Linux `exc_device_not_available`). It is
/// raised when CR0.TS or CR0.EM is set; with eager FPU switching neither
/// ever is (`fpu.rs`), so it should not happen. If CR0.TS was set (by
/// mistake, or by a test), say so, clear it and retry, as Linux does
/// (`WARN(cr0 & X86_CR0_TS, "CR0.TS was set")`); otherwise the FPU is
/// unusable for a reason we cannot repair: Linux's `die("unexpected #NM
/// exception")`, which here is the kernel oops.
fn do_device_not_available(frame: &mut TrapFrame) {
    NM_COUNT.fetch_add(1, Ordering::Relaxed);
    let cr0 = read_cr0();
    if cr0 & super::fpu::cr0::TS != 0 {
        crate::debug::report_bug(format_args!(
            "WARNING: CR0.TS was set: #NM in {} mode at ip {:#x} (eager FPU switching never sets it); cleared",
            if frame.from_user() { "user" } else { "kernel" },
            frame.eip
        ));
        // SAFETY: clearing TS only makes FPU instructions usable again.
        unsafe { core::arch::asm!("clts", options(nomem, nostack, preserves_flags)) };
        return;
    }
    die(frame, Some("unexpected #NM exception\n"));
}

/// User exceptions that found no handler (the processes they end).
pub static USER_SIGNALS: AtomicUsize = AtomicUsize::new(0);

fn do_int3(frame: &TrapFrame) {
    INT3_COUNT.fetch_add(1, Ordering::Relaxed);
    log::info!("int3 at EIP {:#010x}: trap handled, continuing", frame.eip);
}

/// The page-fault handler. A kernel page fault that nobody expected is
/// reported the way Linux reports it, then the kernel panics.
pub fn do_page_fault(frame: &mut TrapFrame) {
    let address = read_cr2();
    // A user address, or any fault from user mode: demand paging
    // (arch/x86/mm/fault.rs). A kernel-mode fault there that nothing can
    // resolve or fix up is a kernel bug, reported below.
    if (address < mm::layout::TASK_SIZE || frame.from_user())
        && crate::arch::mm::fault::do_user_addr_fault(frame, address)
    {
        return;
    }
    // The kernel never resolves its own page faults (no demand paging of
    // kernel memory), so the only way out is an exception-table fixup.
    if frame.error_code & pf::USER == 0 && crate::arch::extable::fixup_exception(&mut frame.eip) {
        return;
    }
    let mut head = FmtBuf::<512>::new();
    describe_page_fault(&mut head, address, frame.error_code);
    die(frame, Some(head.as_str()));
}

/// Linux's three lines about a page fault, e.g.
/// `BUG: unable to handle page fault for address: 0xdead0000`,
/// `#PF: supervisor write access in kernel mode`,
/// `#PF: error_code(0x0002) - not-present page`.
pub fn describe_page_fault(out: &mut impl Write, address: usize, error_code: u32) {
    // Linux show_fault_oops: a kernel instruction fetch from a present
    // page without execute permission (only PAE with NX can say so: the
    // CPU sets X86_PF_INSTR only with EFER.NXE) gets this line first. No
    // uids here: every task is uid 0.
    if error_code & (pf::INSTR | pf::USER) == pf::INSTR {
        let pte = crate::mm::pgtable::lookup_kernel_pte(address);
        if pte.present() && !mm::pgtable_types::pteval_exec(pte.0) {
            let _ = writeln!(out, "kernel tried to execute NX-protected page - exploit attempt? (uid: 0)");
        }
    }
    if address < mm::layout::PAGE_SIZE {
        let _ = writeln!(out, "BUG: kernel NULL pointer dereference, address: {address:#010x}");
    } else {
        let _ = writeln!(out, "BUG: unable to handle page fault for address: {address:#010x}");
    }
    let who = if error_code & pf::USER != 0 { "user" } else { "supervisor" };
    let what = if error_code & pf::INSTR != 0 {
        "instruction fetch"
    } else if error_code & pf::WRITE != 0 {
        "write access"
    } else {
        "read access"
    };
    let mode = if error_code & pf::USER != 0 { "user" } else { "kernel" };
    let _ = writeln!(out, "#PF: {who} {what} in {mode} mode");
    let why = if error_code & pf::RSVD != 0 {
        "reserved bit violation"
    } else if error_code & pf::PROT != 0 {
        "permissions violation"
    } else {
        "not-present page"
    };
    let _ = writeln!(out, "#PF: error_code({error_code:#06x}) - {why}");
    if error_code & pf::USER == 0 && address < mm::layout::TASK_SIZE {
        // Only an instruction outside the exception table gets here with a
        // user address (arch/x86/mm/fault.rs, U7): the user copies are
        // fixed up instead.
        let _ = writeln!(out, "#PF: kernel access to a user address outside the exception table: user memory is reached only through copy_from_user & co");
    }
    if mm::layout::is_kmap_local_addr(address) {
        crate::mm::kmap_local::describe_fault(out, address);
    } else if mm::layout::is_pkmap_addr(address) {
        crate::mm::kmap::describe_fault(out, address);
    }
    if let Some(stack) = crate::mm::stack::guard_page_owner(address) {
        let _ = writeln!(out, "kernel stack overflow: {address:#010x} is in the guard page of the {stack}");
    }
}

/// Describe a selector error code (#TS, #NP, #SS, #GP).
fn describe_selector_error(out: &mut impl Write, code: u32) {
    if code == 0 {
        return;
    }
    let table = if code & 2 != 0 { "IDT" } else if code & 4 != 0 { "LDT" } else { "GDT" };
    let ext = if code & 1 != 0 { ", external event" } else { "" };
    let _ = writeln!(out, "error code {code:#06x}: selector index {} in the {table}{ext}", code >> 3);
}

/// The general registers of an interrupted context, wherever they were saved.
struct Regs {
    cs: u32, eip: u32, eflags: u32,
    eax: u32, ebx: u32, ecx: u32, edx: u32,
    esi: u32, edi: u32, ebp: u32, esp: u32,
}

impl Regs {
    fn from_frame(f: &TrapFrame) -> Regs {
        Regs {
            cs: f.cs, eip: f.eip, eflags: f.eflags, eax: f.eax, ebx: f.ebx, ecx: f.ecx, edx: f.edx,
            esi: f.esi, edi: f.edi, ebp: f.ebp, esp: f.kernel_esp() as u32,
        }
    }

    fn from_tss(t: &gdt::Tss) -> Regs {
        Regs {
            cs: t.cs, eip: t.eip, eflags: t.eflags, eax: t.eax, ebx: t.ebx, ecx: t.ecx, edx: t.edx,
            esi: t.esi, edi: t.edi, ebp: t.ebp, esp: t.esp,
        }
    }
}

/// The three register lines of an oops (Linux `__show_regs`).
fn write_regs(out: &mut impl Write, r: &Regs) {
    let _ = writeln!(out, "EIP: {:04x}:{:08x} EFLAGS: {:08x}", r.cs, r.eip, r.eflags);
    let _ = writeln!(out, "EAX: {:08x} EBX: {:08x} ECX: {:08x} EDX: {:08x}", r.eax, r.ebx, r.ecx, r.edx);
    let _ = write!(out, "ESI: {:08x} EDI: {:08x} EBP: {:08x} ESP: {:08x}", r.esi, r.edi, r.ebp, r.esp);
}

/// Report a fatal exception and panic. The whole report is the panic
/// message, so a test that expects a fault can check any line of it.
fn die(frame: &TrapFrame, head: Option<&str>) -> ! {
    let vector = frame.vector as usize;
    let (name, mnemonic) = EXCEPTION_NAMES.get(vector).copied().unwrap_or(("unknown", "#??"));
    let mut r = FmtBuf::<2048>::new();
    if let Some(head) = head {
        let _ = r.write_str(head);
    }
    let _ = writeln!(
        r,
        "Oops: {name} ({mnemonic}): {:04x} [#1] CPU: {}",
        frame.error_code,
        smp_processor_id()
    );
    if SELECTOR_ERROR_VECTORS.contains(&frame.vector) {
        describe_selector_error(&mut r, frame.error_code);
    }
    write_regs(&mut r, &Regs::from_frame(frame));
    let _ = writeln!(r);
    let _ = writeln!(
        r,
        "DS: {:04x} ES: {:04x} FS: {:04x} GS: {:04x}",
        frame.ds, frame.es, frame.fs, frame.gs
    );
    let _ = write!(
        r,
        "CR0: {:08x} CR2: {:08x} CR3: {:08x} CR4: {:08x}",
        read_cr0(),
        read_cr2(),
        read_cr3(),
        read_cr4()
    );
    panic!("fatal exception in kernel mode\n{}", r.as_str());
}

/// Runs as the double-fault *task*, on its own stack, with the faulting
/// context saved in the CPU's normal TSS.
#[unsafe(no_mangle)]
extern "C" fn double_fault_handler() -> ! {
    let ctx = gdt::faulting_context(smp_processor_id());
    let cr2 = read_cr2();
    let mut r = FmtBuf::<2048>::new();
    let _ = writeln!(r, "Oops: double fault (#DF): 0000 [#1] CPU: {}", smp_processor_id());
    let overflow = crate::mm::stack::guard_page_owner(ctx.esp as usize)
        .or_else(|| crate::mm::stack::guard_page_owner(cr2));
    if let Some(stack) = overflow {
        let _ = writeln!(
            r,
            "kernel stack overflow: ESP {:#010x} ran into the guard page of the {stack} (last fault address {cr2:#010x})",
            ctx.esp
        );
    } else {
        let _ = writeln!(r, "a fault happened while delivering another fault (CR2 {cr2:#010x})");
    }
    write_regs(&mut r, &Regs::from_tss(&ctx));
    // What a double fault's cause often hides in: the segments (a user
    // selector in SS, DS or FS at CPL 0) and the stack the CPU would go
    // to from user mode (esp0: a freed kernel stack?). Not CR3: a task
    // switch saves no CR3 into the old TSS.
    let _ = write!(
        r,
        "\nDS: {:04x} ES: {:04x} FS: {:04x} GS: {:04x} SS: {:04x} esp0: {:08x}",
        ctx.ds, ctx.es, ctx.fs, ctx.gs, ctx.ss, ctx.esp0
    );
    panic!("fatal exception in kernel mode\n{}", r.as_str());
}

core::arch::global_asm!(
    r#"
    .section .text
    .global double_fault_task_entry
double_fault_task_entry:
    // The CPU pushed an error code (always 0) on our fresh stack; leave it.
    cld
    call {handler}
1:  hlt
    jmp 1b
    "#,
    handler = sym double_fault_handler,
);
