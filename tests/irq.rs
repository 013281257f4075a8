//! Interrupt delivery: the local APIC timer on every CPU, device interrupts
//! through the I/O APIC, and the reschedule IPI.

use core::sync::atomic::Ordering;

use crate::arch::apic::{IRQ0_VECTOR, RESCHEDULE_VECTOR};
use crate::arch::irq::IRQ_COUNTS;
use crate::console::{RX_INTERRUPTS, loopback_inject, try_read_byte};
use crate::tools::ktest::{Test, require_cpus};
use crate::percpu::per_cpu;
use crate::sched::{msleep, spawn_on};
use crate::smp::num_online_cpus;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(every_cpu_ticks_at_hz),
    test_case!(serial_input_arrives_through_the_ioapic),
    test_case!(waking_a_task_on_an_idle_cpu_sends_a_reschedule_ipi),
];

fn every_cpu_ticks_at_hz() {
    let before: alloc::vec::Vec<u64> = (0..num_online_cpus()).map(|c| per_cpu(c).timer_ticks.load(Ordering::Relaxed)).collect();
    let start = crate::arch::cpu::rdtsc();
    msleep(200);
    let ms = (crate::arch::cpu::rdtsc() - start) / crate::arch::tsc::tsc_khz();
    for (cpu, b) in before.iter().enumerate() {
        let ticks = per_cpu(cpu).timer_ticks.load(Ordering::Relaxed) - b;
        // HZ = 1000: about one tick per millisecond. TCG may delay or
        // merge ticks when host cores are shared, so allow a wide margin.
        assert!(ticks >= ms / 4 && ticks <= ms * 2, "CPU {cpu}: {ticks} ticks in {ms} ms");
    }
}

fn serial_input_arrives_through_the_ioapic() {
    let madt = crate::init::madt();
    let (gsi, _, _) = crate::init::isa_irq_to_gsi(madt, 4);
    let entry = crate::arch::ioapic::redirection(gsi);
    assert_eq!(entry & 0xff, (IRQ0_VECTOR + 4) as u32, "COM1's IRQ 4 is routed to vector 0x24");
    assert_eq!(entry & (1 << 16), 0, "and unmasked");
    while try_read_byte().is_some() {}
    let irqs = RX_INTERRUPTS.load(Ordering::Relaxed);
    let vector_count = IRQ_COUNTS[(IRQ0_VECTOR + 4) as usize].load(Ordering::Relaxed);
    loopback_inject(b"hi!");
    let mut got = [0u8; 3];
    let mut n = 0;
    let deadline = crate::sched::core::jiffies() + 1000;
    while n < 3 && crate::sched::core::jiffies() < deadline {
        match try_read_byte() {
            Some(b) => {
                got[n] = b;
                n += 1;
            }
            None => msleep(1),
        }
    }
    assert_eq!(&got[..n], b"hi!", "bytes received through the interrupt handler");
    assert!(RX_INTERRUPTS.load(Ordering::Relaxed) > irqs, "the serial interrupt handler ran");
    assert!(IRQ_COUNTS[(IRQ0_VECTOR + 4) as usize].load(Ordering::Relaxed) > vector_count);
}

fn waking_a_task_on_an_idle_cpu_sends_a_reschedule_ipi() {
    require_cpus(2);
    // A CPU other than ours (a wake-up on our own CPU needs no IPI).
    crate::sched::preempt::migrate_disable();
    let target = (crate::arch::percpu::raw_smp_processor_id() + 1) % num_online_cpus();
    msleep(20); // let the target CPU go idle
    let before = IRQ_COUNTS[RESCHEDULE_VECTOR as usize].load(Ordering::Relaxed);
    let ipis_before = per_cpu(target).ipis_received.load(Ordering::Relaxed);
    let ran_on = spawn_on(target, "woken", || crate::sched::exit(crate::arch::percpu::raw_smp_processor_id() as i32)).join();
    assert_eq!(ran_on, target as i32);
    assert!(IRQ_COUNTS[RESCHEDULE_VECTOR as usize].load(Ordering::Relaxed) > before, "a reschedule IPI was taken");
    assert!(per_cpu(target).ipis_received.load(Ordering::Relaxed) > ipis_before, "by the target CPU");
    crate::sched::preempt::migrate_enable();
}
