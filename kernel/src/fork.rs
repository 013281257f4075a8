//! Creating a process (Linux `kernel/fork.c`): `fork`, and `clone` with
//! only `SIGCHLD`, which is how C libraries call it.
//!
//! ```text
//!  parent: fork()
//!    dup_mmap        the child's address space: the same VMAs, its own page
//!                    tables, every page shared and write-protected in both
//!    flush_tlb_mm    the parent's TLB, on each CPU in its mm_cpumask (its
//!                    writable PTEs just went read-only)
//!    a new task      copies the parent's registers (eax = 0 for the child),
//!                    its open files, and returns to user mode there
//!  parent <- the child's pid        child <- 0
//!  first write on either side -> do_wp_page copies the page (copy-on-write)
//! ```

use alloc::sync::Arc;

use crate::arch::entry::PtRegs;
use crate::errno::{EINVAL, ENOMEM};

/// `SIGCHLD`: the signal a child's death sends its parent; the only
/// `clone` flags we accept are this alone (a plain fork).
const SIGCHLD: u32 = 17;

/// `fork()`: a copy of the calling process. Returns the child's pid in the
/// parent and 0 in the child.
pub fn sys_fork(regs: &mut PtRegs) -> i32 {
    let me = crate::sched::current();
    let Some(mm) = me.mm() else { return -EINVAL };
    let child_mm = match mm.dup_mmap() {
        Ok(m) => Arc::new(m),
        Err(_) => return -ENOMEM,
    };
    // dup_mmap flushed the parent's TLB entries wherever it is loaded (its
    // writable PTEs are read-only now).
    let mut child_regs = *regs;
    child_regs.ax = 0;
    let files = me.files.lock().clone();
    let cwd = me.cwd.lock().clone();
    let tls = me.tls_for_switch();
    let parent = me.id();
    let handle = crate::sched::spawn(me.name(), move || {
        let child = crate::sched::current();
        child.parent.store(parent, core::sync::atomic::Ordering::Relaxed);
        *child.files.lock() = files;
        *child.cwd.lock() = cwd;
        // The parent's TLS entries too (Linux copies thread.tls_array); we
        // are running, so load them into this CPU's GDT ourselves.
        *child.tls.lock() = tls;
        let flags = crate::arch::cpu::local_irq_save();
        crate::arch::gdt::load_tls(crate::arch::percpu::raw_smp_processor_id(), &tls);
        crate::arch::cpu::local_irq_restore(flags);
        child.set_mm(child_mm);
        let top = child.stack_top().expect("a task stack");
        // SAFETY: the child runs on its copy of the parent's address space,
        // where the parent's user registers are valid; the top of this new
        // task's kernel stack is unused.
        unsafe { crate::arch::entry::entry_32::start_user_mode(&child_regs, top) }
    });
    let pid = handle.task().id() as i32;
    me.children.lock().push(handle);
    pid
}

/// `clone(flags, ...)`: only `clone(SIGCHLD, 0, ...)`, i.e. `fork()`
/// (threads need shared address spaces and TLS, which are not here yet).
pub fn sys_clone(regs: &mut PtRegs) -> i32 {
    if regs.bx != SIGCHLD || regs.cx != 0 {
        return -EINVAL;
    }
    sys_fork(regs)
}

/// `getppid()`: the parent's pid (0 for a process the kernel started).
pub fn sys_getppid(_regs: &mut PtRegs) -> i32 {
    crate::sched::current().parent.load(core::sync::atomic::Ordering::Relaxed) as i32
}
