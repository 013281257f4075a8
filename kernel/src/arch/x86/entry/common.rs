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
    regs.ax = match ia32_sys_call_table(nr) {
        Some(handler) => handler(regs) as u32,
        // Linux leaves -ENOSYS in ax, and nr == -1 alone untouched (a
        // tracer's way to skip a call); we have no tracers.
        None => {
            report_ni_syscall(nr);
            (-ENOSYS) as u32
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
