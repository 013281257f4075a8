//! Page faults on user addresses (Linux `arch/x86/mm/fault.c`,
//! `do_user_addr_fault`): from user mode, and from kernel code copying to
//! or from user memory.
//!
//! ```text
//!  #PF, CR2 = address
//!    address >= TASK_SIZE, or faults disabled (pagefault_disable,
//!    kmap_atomic, preemption off), or no mm   -> bad_area_nosemaphore
//!    mmap_lock; find_vma; below a VM_GROWSDOWN area -> expand_stack
//!    no area, or the access not allowed      -> bad_area
//!    handle_mm_fault (kernel/src/mm/memory.rs) -> resolved: retry the instruction
//!  bad area: from user mode   -> force_sig_fault(SIGSEGV, SEGV_MAPERR or
//!                                SEGV_ACCERR, address), see signal.rs; with
//!                                no handler "NAME[PID]: segfault at ..."
//!            from kernel mode -> the exception-table fixup (a short copy)
//!  from kernel mode at an instruction the exception table does not list
//!    (not a user copy)                       -> a named kernel bug, at once (U7)
//! ```
//!
//! Interrupts come back on while the fault is handled if the faulting code
//! had them on: resolving it may sleep (the mmap lock, the allocator), and
//! it is ordinary task context, not an interrupt. The same is true inside
//! a kmap_local mapping, which is the point of kmap_local: a user copy from
//! a mapped highmem page may fault, sleep, and come back to the same slot.

use mm::layout::TASK_SIZE;
use mm::vma::VmFlags;

use crate::arch::entry::TrapFrame;
use crate::arch::traps::pf;
use crate::mm::memory::{FaultFlags, handle_mm_fault};

/// Why a fault on a user address was not resolved (Linux's `si_code`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadArea {
    /// No area there (`SEGV_MAPERR`).
    MapErr,
    /// An area that does not allow this access (`SEGV_ACCERR`).
    AccErr,
    /// Faults are disabled, or there is no address space: do not even look
    /// (`bad_area_nosemaphore`).
    NoContext,
    /// Out of memory while resolving it.
    Oom,
    /// A mapping that cannot be filled (`SIGBUS`).
    SigBus,
}

/// The last segfault line printed (for the tests: the console has no
/// log buffer to search).
pub static LAST_SEGFAULT: spin::Mutex<crate::fmtbuf::FmtBuf<160>> = spin::Mutex::new(crate::fmtbuf::FmtBuf::new());

/// Page faults on user addresses resolved, and not.
pub static USER_FAULTS_RESOLVED: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

/// Linux `faulthandler_disabled()`: `pagefault_disable()` (kmap_atomic
/// does it) or atomic context. Then a fault must not sleep, so it is not
/// resolved at all: it goes straight to the fixup.
fn faulthandler_disabled() -> bool {
    crate::sched::preempt::pagefault_disabled() || crate::sched::preempt::in_atomic()
}

/// May this access happen in this area? (Linux `access_error`.)
///
/// A read or instruction fetch that hit a *present* page (`X86_PF_PROT`)
/// is refused whatever the area says, as in Linux: the only way a user
/// read of a present user page faults is NX, an instruction fetch from a
/// page of an area without `VM_EXEC` (error code 0x15: PROT | USER |
/// INSTR). A fetch from a not-present page of such an area is resolved
/// like a read (the page is mapped, with NX), and faults again as 0x15.
fn access_error(error_code: u32, flags: VmFlags) -> bool {
    if error_code & pf::WRITE != 0 {
        !flags.contains(VmFlags::VM_WRITE)
    } else if error_code & pf::PROT != 0 {
        true
    } else {
        !flags.intersects(VmFlags::VM_READ | VmFlags::VM_EXEC | VmFlags::VM_WRITE)
    }
}

/// A test's knob: sleep this many milliseconds at the start of every
/// resolvable fault (0: never). It lets a test show that a fault taken
/// inside a kmap_local mapping may sleep while another task uses the same
/// slot (tests/user.rs).
pub static FORCE_SLEEP_MS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Try to resolve a fault at `address` with the CPU's `error_code` (the
/// `pf` bits); `Ok` means retry the instruction.
pub fn resolve_user_fault(address: usize, error_code: u32, user: bool) -> Result<(), BadArea> {
    let write = error_code & pf::WRITE != 0;
    if address >= TASK_SIZE || faulthandler_disabled() {
        return Err(if address >= TASK_SIZE { BadArea::MapErr } else { BadArea::NoContext });
    }
    match FORCE_SLEEP_MS.load(core::sync::atomic::Ordering::Relaxed) {
        0 => {}
        ms => crate::sched::msleep(ms as u64),
    }
    let Some(mm) = crate::sched::current().mm() else { return Err(BadArea::NoContext) };
    let mut map = mm.mmap_lock();
    let mut vma = *map.find_vma(address).ok_or(BadArea::MapErr)?;
    if vma.vm_start > address {
        if !vma.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
            return Err(BadArea::MapErr);
        }
        // U31: just below the stack, it grows; too far below, or into the
        // guard gap above another area, it does not.
        map.expand_stack(address).map_err(|_| BadArea::MapErr)?;
        vma = *map.find_vma(address).ok_or(BadArea::MapErr)?;
    }
    if access_error(error_code, vma.vm_flags) {
        return Err(BadArea::AccErr);
    }
    handle_mm_fault(&mm, &vma, address, FaultFlags { write, user }).map_err(|e| match e {
        crate::mm::memory::VmFault::Oom => BadArea::Oom,
        crate::mm::memory::VmFault::SigBus => BadArea::SigBus,
    })?;
    USER_FAULTS_RESOLVED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The error code of the last fault this handler saw, after
/// [`sanitize_error_code`] (for the tests of catalogue case U6).
pub static LAST_ERROR_CODE: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Linux `sanitize_error_code`: a user-mode fault on a kernel address
/// reports `X86_PF_PROT` whether or not the page was present, so that a
/// program cannot probe which kernel addresses are mapped from its
/// segfault messages or `si_code` (the hardware says "not present" for a
/// hole and "protection" for a mapped supervisor page).
pub fn sanitize_error_code(error_code: u32, address: usize) -> u32 {
    if address >= TASK_SIZE { error_code | pf::PROT } else { error_code }
}

/// The page-fault handler's user-address half (Linux
/// `do_user_addr_fault`). Returns `true` if the fault was dealt with
/// (resolved, fixed up, or the process ended); `false` for a kernel-mode
/// fault with no fixup, which the caller reports as a kernel bug.
pub fn do_user_addr_fault(frame: &mut TrapFrame, address: usize) -> bool {
    let user = frame.from_user();
    if user {
        frame.error_code = sanitize_error_code(frame.error_code, address);
    }
    LAST_ERROR_CODE.store(frame.error_code, core::sync::atomic::Ordering::Relaxed);
    // U7: the kernel touches user memory only at the instructions the
    // exception table lists (the user copies). A kernel-mode fault on a
    // user address anywhere else is a kernel bug, and is not resolved even
    // when the address is in a VMA and could be: the caller reports it and
    // the kernel panics. This is our choice for CPUs without SMAP (QEMU's
    // qemu32 has none). Linux with SMAP refuses such a fault the same way
    // (neither X86_PF_USER nor EFLAGS.AC: `page_fault_oops` at once; its
    // user copies run between stac and clac, where our exception-table
    // listing stands for AC); Linux without SMAP resolves it silently,
    // looking at the exception table only when it cannot take mmap_lock.
    // Neither catches a kernel read of a user page that is already
    // present: that needs SMAP hardware.
    if !user && crate::arch::extable::search_exception_tables(frame.eip as usize).is_none() {
        return false;
    }
    let irqs_were_on = frame.eflags & crate::arch::cpu::EFLAGS_IF != 0;
    if irqs_were_on {
        crate::arch::cpu::local_irq_enable();
    }
    // A kernel fault on a user address is a user copy's read or write, never
    // a fetch, and its PROT bit (a present page) matters only for writes.
    let code = if user { frame.error_code } else { frame.error_code & pf::WRITE };
    let result = resolve_user_fault(address, code, user);
    if user && result == Err(BadArea::Oom) {
        // Linux 6.1 `do_user_addr_fault` -> `pagefault_out_of_memory`: the
        // page allocator has already run the OOM killer (mm/oom_kill.rs);
        // if it chose us, SIGKILL is pending and ends us on the way out;
        // if not (a forced failure, or the OOM killer found nothing), the
        // fault is retried: returning to the instruction faults again.
        crate::mm::oom_kill::pagefault_out_of_memory();
    }
    let _ = crate::arch::cpu::local_irq_save();
    match result {
        Ok(()) => true,
        Err(BadArea::Oom) if user => true,
        Err(why) if user => {
            use crate::signal::{BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGSEGV};
            let me = crate::sched::current();
            // Linux: bad_area -> SIGSEGV with SEGV_MAPERR or SEGV_ACCERR,
            // do_sigbus -> SIGBUS/BUS_ADRERR (an OOM was dealt with above).
            let (sig, code) = match why {
                BadArea::MapErr | BadArea::NoContext => (SIGSEGV, SEGV_MAPERR),
                BadArea::AccErr => (SIGSEGV, SEGV_ACCERR),
                BadArea::SigBus => (SIGBUS, BUS_ADRERR),
                BadArea::Oom => unreachable!("a user fault's OOM is retried (the arm above)"),
            };
            let unhandled = crate::signal::unhandled_signal(sig);
            if sig == SIGSEGV && unhandled {
                // Linux show_signal_msg(): the line every dmesg reader
                // knows, printed only when no handler will run.
                let mut line = crate::fmtbuf::FmtBuf::<160>::new();
                let _ = core::fmt::Write::write_fmt(&mut line, format_args!(
                    "{}[{}]: segfault at {:x} ip {:08x} sp {:08x} error {:x} ({:?})",
                    me.name(), me.id(), address, frame.eip, frame.user_sp().unwrap_or(0), frame.error_code, why));
                log::warn!("{}", line.as_str());
                *LAST_SEGFAULT.lock() = line;
            }
            if unhandled {
                crate::arch::traps::USER_SIGNALS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            me.signal.set_trap(14, frame.error_code, address as u32);
            // Delivered by the trap exit (trap_dispatch): the handler runs
            // with si_addr = the address, or the process ends as before.
            crate::signal::force_sig_fault(sig, code, address as u32);
            true
        }
        // A user copy's fault: resume at its fixup, the copy comes back short.
        Err(_) => crate::arch::extable::fixup_exception(&mut frame.eip),
    }
}
