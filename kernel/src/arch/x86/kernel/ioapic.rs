//! The I/O APIC, which routes device interrupts to CPUs, and the legacy
//! 8259 PIC, which we silence.
//!
//! The PIC is what a PC boots with; the BIOS programs it to deliver on
//! vectors 8-15, which in protected mode are exceptions. So we first move
//! it to vectors 0x20-0x2f (so a stray interrupt is recognisable), then mask
//! every line. The I/O APIC takes over: each legacy IRQ becomes a global
//! system interrupt (GSI), usually the same number, except where the ACPI
//! MADT says otherwise (on QEMU, the timer's IRQ 0 is GSI 2).
//!
//! The I/O APIC has two registers: write a register number to IOREGSEL
//! (offset 0), then read or write IOWIN (offset 0x10). Redirection entry n
//! is the 64-bit register pair 0x10 + 2n.

use mm::layout::{fix_to_virt, fixed_addresses::FIX_IO_APIC_BASE_0};

use super::apic::IRQ0_VECTOR;
use crate::arch::paging::{PAGE_KERNEL_NOCACHE, pte_t};
use crate::locking::SpinLock;

const IOREGSEL: usize = 0x00;
const IOWIN: usize = 0x10;
const IOAPICVER: u32 = 0x01;
const REDTBL_MASKED: u32 = 1 << 16;
const REDTBL_LEVEL: u32 = 1 << 15;
const REDTBL_ACTIVE_LOW: u32 = 1 << 13;

/// Where the I/O APIC is and which GSIs it serves.
struct IoApic {
    gsi_base: u32,
    nr_entries: u32,
}

static IOAPIC: SpinLock<Option<IoApic>> = SpinLock::new(None);

fn base() -> usize {
    fix_to_virt(FIX_IO_APIC_BASE_0)
}

fn read(reg: u32) -> u32 {
    // SAFETY: the I/O APIC page is mapped uncached at FIX_IO_APIC_BASE_0;
    // callers hold IOAPIC's lock, so the select/window pair is not split.
    unsafe {
        ((base() + IOREGSEL) as *mut u32).write_volatile(reg);
        ((base() + IOWIN) as *const u32).read_volatile()
    }
}

fn write(reg: u32, v: u32) {
    // SAFETY: as in read().
    unsafe {
        ((base() + IOREGSEL) as *mut u32).write_volatile(reg);
        ((base() + IOWIN) as *mut u32).write_volatile(v);
    }
}

/// Remap the 8259 PICs to vectors 0x20-0x2f and mask all their lines.
pub fn disable_8259() {
    // SAFETY: ports 0x20/0x21 and 0xa0/0xa1 are the two PICs; the ICW
    // sequence below is the standard initialisation.
    unsafe {
        use x86::io::outb;
        outb(0x20, 0x11); // ICW1: init, expect ICW4
        outb(0xa0, 0x11);
        outb(0x21, IRQ0_VECTOR); // ICW2: vector base
        outb(0xa1, IRQ0_VECTOR + 8);
        outb(0x21, 4); // ICW3: slave on IRQ2
        outb(0xa1, 2);
        outb(0x21, 1); // ICW4: 8086 mode
        outb(0xa1, 1);
        outb(0x21, 0xff); // mask everything
        outb(0xa1, 0xff);
    }
}

/// Map the I/O APIC at `phys` serving GSIs from `gsi_base`, and mask every
/// redirection entry.
pub fn init(phys: u32, gsi_base: u32) {
    crate::mm::pgtable::set_pte_kernel(base(), pte_t::new(phys as usize >> 12, PAGE_KERNEL_NOCACHE));
    crate::arch::paging::flush_tlb_one_kernel(base());
    let mut g = IOAPIC.lock_irqsave();
    let nr_entries = ((read(IOAPICVER) >> 16) & 0xff) + 1;
    for n in 0..nr_entries {
        write(0x10 + 2 * n, REDTBL_MASKED);
        write(0x11 + 2 * n, 0);
    }
    *g = Some(IoApic { gsi_base, nr_entries });
    log::info!("IOAPIC[0]: apic_id 0, version {:#x}, address {phys:#x}, GSI {gsi_base}-{}",
        read(IOAPICVER) & 0xff, gsi_base + nr_entries - 1);
}

/// Deliver `gsi` as `vector` to the CPU with APIC ID `dest`.
pub fn route(gsi: u32, vector: u8, dest: u32, active_low: bool, level: bool) {
    let g = IOAPIC.lock_irqsave();
    let io = g.as_ref().expect("I/O APIC not initialised");
    assert!(gsi >= io.gsi_base && gsi < io.gsi_base + io.nr_entries, "GSI {gsi} is not on this I/O APIC");
    let n = gsi - io.gsi_base;
    let mut low = vector as u32;
    if active_low {
        low |= REDTBL_ACTIVE_LOW;
    }
    if level {
        low |= REDTBL_LEVEL;
    }
    write(0x11 + 2 * n, dest << 24);
    write(0x10 + 2 * n, low);
}

/// Read back the low word of `gsi`'s redirection entry (for tests).
pub fn redirection(gsi: u32) -> u32 {
    let g = IOAPIC.lock_irqsave();
    let io = g.as_ref().expect("I/O APIC not initialised");
    read(0x10 + 2 * (gsi - io.gsi_base))
}
