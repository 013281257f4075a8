//! The Interrupt Descriptor Table (Linux `arch/x86/kernel/idt.c`): which
//! entry stub each vector runs. The stubs themselves, and the [`TrapFrame`](crate::arch::entry::TrapFrame)
//! they build, are in `arch/x86/entry/entry_32.rs`.
//!
//! Vector 8 (double fault) is special: it is a *task gate*, see `gdt.rs`.

use core::ptr::addr_of;

use super::gdt::{DF_TSS_SEL, KERNEL_CS};

/// Number of exception vectors reserved by Intel.
pub const NR_EXCEPTIONS: usize = 32;

/// An IDT gate descriptor (Intel SDM vol. 3, figure 6-2).
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate(u64);

/// Present, ring 0, 32-bit interrupt gate (clears IF on entry).
const INTERRUPT_GATE: u8 = 0x8e;
/// Present, DPL 3, 32-bit interrupt gate: user code may `int` to it, and
/// interrupts are off on entry (Linux's `SYSG` for the system-call vector).
const SYSTEM_INTERRUPT_GATE: u8 = 0xee;
/// The i386 system-call vector (Linux `IA32_SYSCALL_VECTOR`).
pub const IA32_SYSCALL_VECTOR: usize = 0x80;
/// Present, ring 0, task gate.
const TASK_GATE: u8 = 0x85;

impl Gate {
    const fn missing() -> Gate {
        Gate(0)
    }
    const fn new(handler: u32, selector: u16, kind: u8) -> Gate {
        Gate((handler as u64 & 0xffff)
            | ((selector as u64) << 16)
            | ((kind as u64) << 40)
            | (((handler as u64) >> 16) << 48))
    }
}

static mut IDT: [Gate; 256] = [Gate::missing(); 256];

/// Vectors used for interrupts (see `apic.rs`): the 16 legacy IRQs, the
/// local timer, and the IPIs. All other vectors stay empty, so a stray
/// `int n` or a misrouted interrupt raises #GP naming its IDT entry.
pub const INTERRUPT_VECTORS: [u8; 21] = [
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0xec, 0xfb, 0xfd, 0xfe, 0xff,
];

unsafe extern "C" {
    /// Addresses of the 32 exception stubs, emitted by the assembly below.
    static isr_stub_table: [u32; NR_EXCEPTIONS];
    /// Addresses of the interrupt stubs, in INTERRUPT_VECTORS order.
    static irq_stub_table: [u32; 21];
}

/// Build the IDT and load it on this CPU.
pub fn init() {
    // SAFETY: runs on the boot CPU before interrupts are enabled; the stubs
    // exist for every vector we fill in.
    unsafe {
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        let stubs = &*addr_of!(isr_stub_table);
        for (vector, &stub) in stubs.iter().enumerate() {
            idt[vector] = Gate::new(stub, KERNEL_CS, INTERRUPT_GATE);
        }
        idt[8] = Gate::new(0, DF_TSS_SEL, TASK_GATE);
        let irq_stubs = &*addr_of!(irq_stub_table);
        for (&vector, &stub) in INTERRUPT_VECTORS.iter().zip(irq_stubs) {
            idt[vector as usize] = Gate::new(stub, KERNEL_CS, INTERRUPT_GATE);
        }
        let syscall = crate::arch::entry::entry_32::entry_INT80_32 as *const () as u32;
        idt[IA32_SYSCALL_VECTOR] = Gate::new(syscall, KERNEL_CS, SYSTEM_INTERRUPT_GATE);
        load();
    }
}

/// The raw descriptor of IDT entry `vector`, for tests that check a gate's
/// type and privilege level.
pub fn gate_bits(vector: usize) -> u64 {
    // SAFETY: a read of a static that only init() writes, before SMP.
    unsafe { (*addr_of!(IDT))[vector].0 }
}

/// Load the IDT register (each CPU does this once).
pub fn load() {
    // SAFETY: IDT is a static that lives forever.
    unsafe {
        let ptr = x86::dtables::DescriptorTablePointer::new(&*addr_of!(IDT));
        x86::dtables::lidt(&ptr);
    }
}
