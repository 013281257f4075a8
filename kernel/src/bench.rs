//! In-kernel benchmarks, run with the `bench` kernel option
//! (`./run-qemu.sh bench`). Each prints one line of a table:
//!
//! ```text
//! bench: context_switch        1234 cycles     456 ns  (2 tasks yielding on CPU 0, 20000 switches)
//! bench: ipi_round_trip        ...
//! ```
//!
//! Under QEMU's TCG the cycle counts are TCG's costs, not a real CPU's: the
//! guest TSC follows host time. Compare figures from the same run.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::cpu::rdtsc;
use crate::arch::tsc::cycles_to_ns;
use crate::sched::{spawn_on, yield_now};
use crate::smp::{num_online_cpus, smp_call_function_many};

fn report(name: &str, cycles: u64, what: core::fmt::Arguments) {
    println!("bench: {name:<20} {cycles:>8} cycles {:>8} ns  ({what})", cycles_to_ns(cycles));
}

/// Two tasks on one CPU handing the CPU to each other.
pub fn context_switch() -> u64 {
    const ROUNDS: u64 = 10_000;
    let total = Arc::new(AtomicU64::new(0));
    let start = rdtsc();
    let a = spawn_on(0, "bench-a", || (0..ROUNDS).for_each(|_| yield_now()));
    let b = spawn_on(0, "bench-b", || (0..ROUNDS).for_each(|_| yield_now()));
    a.join();
    b.join();
    total.store(rdtsc() - start, Ordering::Relaxed);
    let per = total.load(Ordering::Relaxed) / (2 * ROUNDS);
    report("context_switch", per, format_args!("2 tasks yielding on CPU 0, {} switches", 2 * ROUNDS));
    per
}

fn nothing(_: usize) {}

/// Run an empty function on CPU 1 and wait for it.
pub fn ipi_round_trip() -> Option<u64> {
    const ROUNDS: u64 = 5_000;
    if num_online_cpus() < 2 {
        println!("bench: ipi_round_trip       n/a  (needs 2 CPUs; try --smp 2)");
        return None;
    }
    let out = Arc::new(AtomicU64::new(0));
    let o = out.clone();
    spawn_on(0, "bench-ipi", move || {
        let start = rdtsc();
        for _ in 0..ROUNDS {
            smp_call_function_many(1 << 1, nothing, 0);
        }
        o.store((rdtsc() - start) / ROUNDS, Ordering::Relaxed);
    })
    .join();
    let per = out.load(Ordering::Relaxed);
    report("ipi_round_trip", per, format_args!("CPU 0 -> CPU 1 call-function IPI and wait, {ROUNDS} rounds"));
    Some(per)
}

/// Everything, in order.
pub fn run_all() {
    println!("bench: {} CPU(s), TSC {} MHz (TCG: cycles follow host time)", num_online_cpus(), crate::arch::tsc::tsc_khz() / 1000);
    context_switch();
    ipi_round_trip();
}
