//! Kernel BUG and WARNING reports that do not stop the machine.
//!
//! Linux prints many misuse reports ("BUG: sleeping function called from
//! invalid context", "BUG: scheduling while atomic") and carries on, because
//! stopping would lose more than the misuse did. We do the same, and also
//! keep the last report and a count, so a test can provoke a misuse and then
//! check that the right words came out.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::fmtbuf::FmtBuf;
use crate::locking::RawSpinLock;

static REPORTS: AtomicUsize = AtomicUsize::new(0);
static LAST_LOCK: RawSpinLock = RawSpinLock::new();
static mut LAST: FmtBuf<1024> = FmtBuf::new();

/// Print a BUG/WARNING report (with the CPU), count it, remember it.
pub fn report_bug(args: fmt::Arguments) {
    let mut text = FmtBuf::<1024>::new();
    let _ = text.write_fmt(args);
    crate::println!("{}", text.as_str());
    crate::println!("  (cpu {})", crate::arch::percpu::raw_smp_processor_id());
    let flags = crate::arch::cpu::local_irq_save();
    LAST_LOCK.lock();
    // SAFETY: LAST is only touched with LAST_LOCK held and interrupts off.
    unsafe {
        let last = &mut *core::ptr::addr_of_mut!(LAST);
        last.clear();
        let _ = last.write_str(text.as_str());
        LAST_LOCK.unlock();
    }
    crate::arch::cpu::local_irq_restore(flags);
    REPORTS.fetch_add(1, Ordering::SeqCst);
}

/// How many reports have been made since boot.
pub fn report_count() -> usize {
    REPORTS.load(Ordering::SeqCst)
}

/// A copy of the most recent report.
pub fn last_report() -> FmtBuf<1024> {
    let flags = crate::arch::cpu::local_irq_save();
    LAST_LOCK.lock();
    let mut copy = FmtBuf::<1024>::new();
    // SAFETY: as in report_bug.
    unsafe {
        let _ = copy.write_str((*core::ptr::addr_of!(LAST)).as_str());
        LAST_LOCK.unlock();
    }
    crate::arch::cpu::local_irq_restore(flags);
    copy
}
