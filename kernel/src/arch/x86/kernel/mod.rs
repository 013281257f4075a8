//! The CPU's own machinery (Linux `arch/x86/kernel/`).
//!
//! | file      | Linux counterpart                 |
//! |-----------|-----------------------------------|
//! | `acpi`    | `kernel/acpi/boot.c`              |
//! | `apic`    | `kernel/apic/apic.c`, `ipi.c`     |
//! | `ioapic`  | `kernel/apic/io_apic.c`, `i8259.c`|
//! | `cpu`     | `asm/irqflags.h`, `asm/special_insns.h` |
//! | `fpu`     | `kernel/fpu/{init,core,signal}.c`, `asm/fpu/*` |
//! | `gdt`     | `kernel/cpu/common.c`, `asm/desc.h` |
//! | `idt`     | `kernel/idt.c`                    |
//! | `irq`     | `kernel/irq.c`                    |
//! | `percpu`  | `kernel/setup_percpu.c`           |
//! | `qemu`    | (none: QEMU's isa-debug-exit)     |
//! | `rtc`     | `kernel/rtc.c`, `drivers/rtc/rtc-mc146818-lib.c` |
//! | `smpboot` | `kernel/smpboot.c`, `realmode/rm/trampoline_32.S` |
//! | `tls`     | `kernel/tls.c`                    |
//! | `traps`   | `kernel/traps.c`, `mm/fault.c`    |
//! | `tsc`     | `kernel/tsc.c`                    |
pub mod acpi;
pub mod apic;
pub mod cpu;
pub mod fpu;
pub mod gdt;
pub mod idt;
pub mod ioapic;
pub mod irq;
pub mod percpu;
pub mod qemu;
pub mod rtc;
pub mod signal;
pub mod smpboot;
pub mod tls;
pub mod traps;
pub mod tsc;
