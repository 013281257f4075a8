//! 32-bit x86: descriptor tables, traps, paging primitives, timers, and the
//! QEMU exit device. Policy (allocators, highmem, scheduling) lives outside
//! `arch/` and uses these as building blocks.
pub mod acpi;
pub mod apic;
pub mod cpu;
pub mod extable;
pub mod gdt;
pub mod idt;
pub mod ioapic;
pub mod irq;
pub mod paging;
pub mod percpu;
pub mod qemu;
pub mod smpboot;
pub mod switch;
pub mod traps;
pub mod tsc;
