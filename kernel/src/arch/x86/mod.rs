//! 32-bit x86, arranged as Linux arranges `arch/x86/`:
//!
//! | folder    | Linux counterpart        | what it holds                                  |
//! |-----------|--------------------------|------------------------------------------------|
//! | `entry/`  | `arch/x86/entry/`        | the assembly every trap and context switch passes through |
//! | `kernel/` | `arch/x86/kernel/`       | descriptor tables, traps, IRQs, APICs, ACPI, AP start-up, TSC, per-CPU segment, QEMU exit |
//! | `lib/`    | `arch/x86/lib/`          | the user copies (`copy_from_user`, `copy_to_user`) |
//! | `mm/`     | `arch/x86/mm/`, `asm/pgtable*.h` | the page-table entry format, TLB instructions, the exception table |
//!
//! Policy (allocators, highmem, scheduling) lives outside `arch/` and uses
//! these as building blocks. The modules are re-exported flat
//! (`crate::arch::apic`, `crate::arch::paging`, ...) so callers need not know
//! which folder an instruction lives in.
pub mod entry;
pub mod kernel;
pub mod lib;
pub mod mm;

pub use entry::switch;
pub use kernel::{acpi, apic, cpu, fpu, gdt, idt, ioapic, irq, percpu, qemu, rtc, signal, smpboot, tls, traps, tsc};
pub use mm::{extable, paging, setup_nx, tlb};
