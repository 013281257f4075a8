//! `trace on`: print every kmap event as it happens (the console's window
//! into the mechanisms).
//!
//! ```text
//! trace: cpu 0 kinit/1: kmap: slot 5 (0xff805000) <- pfn 0x40123
//! trace: cpu 0 kinit/1: kmap: wrap: flush_all_zero_pkmaps cleared 1019 slots, one TLB flush on every CPU
//! trace: cpu 1 worker/9: kmap_local: map slot 0 (0xfffeb000) <- pfn 0x41000
//! trace: cpu 1 worker/9: sched_out: cleared slot 0 (0xfffeb000), invlpg
//! ```
//!
//! When off, each trace point costs one relaxed load of a flag.

use core::sync::atomic::{AtomicBool, Ordering};

static TRACE: AtomicBool = AtomicBool::new(false);

/// Is tracing on?
#[inline(always)]
pub fn enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Turn tracing on or off.
pub fn set(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

/// Print one trace line, prefixed with the CPU and the current task.
pub fn emit(args: core::fmt::Arguments) {
    let (name, pid) = crate::sched::current_name_pid();
    crate::println!("trace: cpu {} {}/{}: {}", crate::arch::percpu::raw_smp_processor_id(), name.as_str(), pid, args);
}

/// `trace!(...)`: emit a line if tracing is on.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::tools::trace::enabled() {
            $crate::tools::trace::emit(format_args!($($arg)*));
        }
    };
}
