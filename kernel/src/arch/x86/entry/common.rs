//! The C-level side of the system-call entry (Linux
//! `arch/x86/entry/common.c`): from the saved registers to the handler in
//! the table and back.
//!
//! ```text
//!  user: eax = nr, ebx ecx edx esi edi ebp = arguments; int $0x80
//!    entry_INT80_32 (entry_32.rs)    saves PtRegs, kernel segments
//!      do_int80_syscall_32            interrupts on, table lookup
//!        ia32_sys_call_table[nr]      (syscall_32.rs)
//!      regs.ax = result or -ENOSYS  (an unknown number: logged once, at debug level)
//!      do_signal                      a pending signal: its handler's frame,
//!                                     or restart / -EINTR (signal.rs)
//!      syscall_exit_to_user_mode      interrupts off; no kmap_local held
//!    iret                             back in ring 3, result in eax
//! ```

use core::sync::atomic::{AtomicU32, Ordering};

use super::entry_32::PtRegs;
use super::syscall_32::{ENOSYS, ia32_sys_call_table};
use super::syscall_names::{NR_SYSCALLS, syscall_name};

/// Handle one `int $0x80` (Linux `do_int80_syscall_32`).
pub extern "C" fn do_int80_syscall_32(regs: &mut PtRegs) {
    // syscall_enter_from_user_mode: the gate turned interrupts off; a
    // system call runs like any task code, preemptible and interruptible.
    crate::arch::cpu::local_irq_enable();
    let nr = regs.orig_ax as i32;
    regs.ax = if !check_user_eflags(&mut regs.flags) {
        // A frame with VM set: the task is sentenced (SIGKILL pending,
        // taken just below); run nothing it asked for.
        (-ENOSYS) as u32
    } else {
        match ia32_sys_call_table(nr) {
            Some(handler) => handler(regs) as u32,
            // Linux leaves -ENOSYS in ax, and nr == -1 alone untouched (a
            // tracer's way to skip a call); we have no tracers.
            None => {
                report_ni_syscall(nr);
                (-ENOSYS) as u32
            }
        }
    };
    // exit_to_user_mode_loop: signals to deliver, or an interrupted call
    // to restart or fail (kernel/src/signal.rs). Interrupts are still on.
    if crate::signal::exit_to_user_mode_work(regs) {
        crate::signal::do_signal(regs);
    }
    syscall_exit_to_user_mode();
}

/// What must be true before a task goes back to user mode (Linux
/// `syscall_exit_to_user_mode`, which includes `kmap_assert_nomap()`): no
/// kmap_local or kmap_atomic mapping is held (user code could not unmap it,
/// and the slot would be someone else's on the next context switch), and
/// interrupts go off for the `iret`.
pub fn syscall_exit_to_user_mode() {
    let me = crate::sched::current();
    if me.kmap_local_idx() != 0 {
        // Mappings, not slot indices: with guard slots each takes two.
        let held = me.kmap_ctrl_snapshot().nr_mapped(crate::mm::kmap_local::config());
        // Linux: DEBUG_LOCKS_WARN_ON(current->kmap_ctrl.idx). Name it and
        // clear the slots, as the exit check does.
        crate::debug::report_bug(format_args!(
            "BUG: returning to user mode with {held} kmap_local slot(s) held: task {}/{}; slots cleared",
            me.name(),
            me.id()
        ));
        let flags = crate::arch::cpu::local_irq_save();
        crate::mm::kmap_local::sched_out(me);
        me.with_kmap_ctrl(|c| *c = mm::kmap_local::KmapCtrl::new());
        // Each mapping had pinned the task to its CPU; nothing does now.
        me.migrate_disable.store(0, core::sync::atomic::Ordering::Relaxed);
        crate::arch::cpu::local_irq_restore(flags);
    }
    // Off for the iret (the restore of segment registers and the stack
    // must not be interrupted half-way); the iret turns them back on.
    let _ = crate::arch::cpu::local_irq_save();
}

/// EFLAGS.IOPL (bits 12-13): the privilege level up to which `in`, `out`,
/// `cli` and `sti` are allowed (Linux `X86_EFLAGS_IOPL`).
pub const X86_EFLAGS_IOPL: u32 = 3 << 12;
/// EFLAGS.VM (bit 17): virtual-8086 mode (Linux `X86_EFLAGS_VM`).
pub const X86_EFLAGS_VM: u32 = 1 << 17;

/// How many user frames came in with IOPL bits set (and had them cleared).
pub static FORGED_IOPL: AtomicU32 = AtomicU32::new(0);
/// How many user frames came in with VM set (and their task killed).
pub static FORGED_VM: AtomicU32 = AtomicU32::new(0);

/// Check the EFLAGS image of a frame that came from user mode, first thing
/// on every entry (system call, exception, interrupt), before anything in
/// the kernel reads or copies it (fork's copy of the registers, a signal
/// frame's `sigcontext`, the final `iret`). Returns `false` if the task
/// must die.
///
/// On hardware a program cannot put two bits of EFLAGS there: IOPL
/// (`popf` at CPL 3 leaves it alone) and VM (only a task switch or an
/// `iret` at CPL 0 sets it). So Linux trusts the image, and `iret` at CPL
/// 0 loads whatever it holds. But QEMU 7.2's TCG mistranslates
/// `cmpxchg8b`: right after it the "flags" are the previous `add`'s
/// source operand, and an interrupt or an `int $0x80` taken there pushes
/// those bits as the program's EFLAGS. A kernel that `iret`s the image
/// unchanged gives the program IOPL 3 (ring-3 `in`/`out`/`cli`: it could
/// write QEMU's isa-debug-exit port and end the machine) or VM (the
/// `iret` returns to virtual-8086 mode and pops ES, DS, FS and GS from the
/// 16 bytes above the frame, which at the top of the kernel stack is the
/// unmapped guard page: a kernel Oops). `/bin/eflags_bug` does both; the
/// tests in tests/hostile.rs run it.
///
/// * IOPL is cleared. Linux 6.1 never runs user code with IOPL > 0
///   either: its `iopl()` is emulated with the TSS I/O bitmap
///   (`CONFIG_X86_IOPL_IOPERM`), and we have no `iopl()` at all; the same
///   bits are what `FIX_EFLAGS` keeps out of a sigreturn frame.
/// * VM means the frame cannot be trusted at all: Linux would take it for
///   a vm86 task's (`user_mode()` tests VM), whose frame is 16 bytes
///   longer (the CPU pushed the data segments too), and we have no
///   `vm86()`. The bit is cleared (so nothing ever `iret`s to vm86 mode),
///   the task gets SIGKILL, and the line says why. (Not Linux: on
///   hardware this cannot happen.)
///
/// The other bits the bug can forge need nothing: NT, AC, ID, DF, TF and
/// the arithmetic flags are a program's own (`popf` sets them at CPL 3,
/// with the effects hardware gives: TF is a SIGTRAP), and RF, VIF and VIP
/// do not reach ring 3 (the `iret` drops them). Both lines are
/// rate-limited: logged at the 1st, 2nd, 4th, 8th... occurrence.
pub fn check_user_eflags(flags: &mut u32) -> bool {
    // Every system call and every interrupt from user mode passes here:
    // the common case is one test.
    if *flags & (X86_EFLAGS_VM | X86_EFLAGS_IOPL) == 0 {
        return true;
    }
    let me = crate::sched::current();
    if *flags & X86_EFLAGS_VM != 0 {
        let n = FORGED_VM.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            log::warn!(
                "{}[{}]: EFLAGS {:08x} from user mode has VM set (a CPU or emulator bug let the program set it; no vm86 here): killed ({n} so far)",
                me.name(), me.id(), *flags
            );
        }
        *flags &= !(X86_EFLAGS_VM | X86_EFLAGS_IOPL);
        crate::signal::force_sig_fault(crate::signal::SIGKILL, crate::signal::SI_KERNEL, 0);
        return false;
    }
    // Only IOPL is left.
    let n = FORGED_IOPL.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        log::warn!(
            "{}[{}]: EFLAGS {:08x} from user mode has IOPL {} (a CPU or emulator bug let the program set it): cleared ({n} so far)",
            me.name(), me.id(), *flags, (*flags & X86_EFLAGS_IOPL) >> 12
        );
    }
    *flags &= !X86_EFLAGS_IOPL;
    true
}

/// Which numbers have been reported as not implemented: one bit per
/// number of Linux's table, and a last bit shared by every number outside
/// it. A program that asks for a missing call in a loop (a shell polling
/// for a job, say) would otherwise flood the console.
pub struct OncePerNumber([AtomicU32; NR_SYSCALLS / 32 + 1]);

impl OncePerNumber {
    /// No number reported yet.
    pub const fn new() -> Self {
        Self([const { AtomicU32::new(0) }; NR_SYSCALLS / 32 + 1])
    }

    /// Is this the first time `nr` (or, for a number outside Linux's
    /// table, any such number) is seen? True exactly once per number, also
    /// when two CPUs race on it (`fetch_or` decides).
    pub fn first(&self, nr: i32) -> bool {
        let bit = usize::try_from(nr).ok().filter(|&n| n < NR_SYSCALLS).unwrap_or(NR_SYSCALLS);
        let mask = 1 << (bit % 32);
        self.0[bit / 32].fetch_or(mask, Ordering::Relaxed) & mask == 0
    }
}

impl Default for OncePerNumber {
    fn default() -> Self {
        Self::new()
    }
}

static NI_REPORTED: OncePerNumber = OncePerNumber::new();

/// Say, once per number and at debug level, that a program asked for a
/// system call this kernel does not have (Linux's `sys_ni_syscall` says
/// nothing; a teaching kernel that runs unmodified binaries wants to know
/// what they miss: `./run-qemu.sh --append loglevel=debug`). Returns
/// whether it logged.
pub fn report_ni_syscall(nr: i32) -> bool {
    if !NI_REPORTED.first(nr) {
        return false;
    }
    let me = crate::sched::current();
    match syscall_name(nr) {
        Some(name) => log::debug!("syscall {nr} ({name}) not implemented: -ENOSYS, task {}[{}]", me.name(), me.id()),
        None => log::debug!(
            "syscall {nr} (not in Linux 6.1's i386 table) not implemented: -ENOSYS, task {}[{}]{}",
            me.name(),
            me.id(),
            if usize::try_from(nr).is_ok_and(|n| n < NR_SYSCALLS) { "" } else { " (later numbers out of the table: not logged)" }
        ),
    }
    true
}
