//! ACPI on the real machine: QEMU's firmware tables found where a BIOS puts
//! them, read through `ioremap_cache`, checked, and decoded into what the
//! SMP bring-up needs. The byte-level parser has its own host tests in
//! `boot/src/acpi.rs`.

use alloc::format;
use alloc::vec::Vec;

use mm::layout::PAGE_SHIFT;

use crate::arch::acpi::{self, AcpiError};
use crate::arch::cpu;
use crate::tools::ktest::Test;
use crate::mm::page_alloc;
use crate::mm::vmalloc::{ioremap, iounmap, vmalloc_info};
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(rsdp_is_where_the_bios_puts_it),
    test_case!(tables_above_the_direct_map_are_read_through_ioremap_cache),
    test_case!(madt_lists_the_cpus_qemu_was_given),
    test_case!(this_cpus_local_apic_is_in_the_madt),
    test_case!(lapic_address_is_0xfee00000),
    test_case!(one_ioapic_at_0xfec00000_with_gsi_base_0),
    test_case!(isa_irq0_is_routed_to_gsi2),
    test_case!(madt_reads_like_linux),
    test_case!(a_corrupted_copy_of_the_madt_is_rejected),
    test_case!(parsing_leaves_no_mapping_behind),
];

fn madt() -> acpi::MadtInfo {
    acpi::parse_madt().unwrap_or_else(|e| panic!("{e}"))
}

fn rsdp_is_where_the_bios_puts_it() {
    let (phys, rsdp) = acpi::find_rsdp().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(phys % 16, 0, "on a 16-byte boundary");
    let in_bios_area = (0xe_0000..0x10_0000).contains(&phys);
    let in_ebda = (0x8_0000..0xa_0000).contains(&phys);
    assert!(in_bios_area || in_ebda, "RSDP at {phys:#x}");
    assert!(rsdp.rsdt_address != 0 || rsdp.xsdt_address.is_some());
}

fn tables_above_the_direct_map_are_read_through_ioremap_cache() {
    let headers = acpi::table_headers().unwrap_or_else(|e| panic!("{e}"));
    let sigs: Vec<[u8; 4]> = headers.iter().map(|(_, h)| h.signature).collect();
    assert!(sigs[0] == *b"RSDT" || sigs[0] == *b"XSDT");
    assert!(sigs.contains(b"APIC") && sigs.contains(b"FACP"), "QEMU provides a MADT and a FADT");
    // The firmware keeps its tables at the top of RAM below 4 GiB: beyond
    // the direct map whenever the machine has highmem.
    let split = page_alloc::memory_layout();
    let madt = acpi::find_table(b"APIC").unwrap_or_else(|e| panic!("{e}"));
    if split.max_pfn > split.max_low_pfn {
        assert!(madt.phys() >= (split.max_low_pfn << PAGE_SHIFT) as u64, "MADT at {:#x}", madt.phys());
    }
    let (start, end) = vmalloc_info().range;
    let virt = madt.bytes().as_ptr() as usize;
    assert!(virt >= start && virt < end, "mapped in the vmalloc area, at {virt:#x}");
    assert_eq!(madt.bytes().len(), madt.header().length as usize);
}

fn madt_lists_the_cpus_qemu_was_given() {
    let info = madt();
    let enabled = info.enabled_cpus().count();
    assert_eq!(enabled, crate::tools::ktest::expected_cpus(), "one enabled LAPIC entry per -smp CPU");
    let mut ids: Vec<u8> = info.enabled_cpus().map(|c| c.apic_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), enabled, "APIC IDs are distinct");
    assert_eq!(info.nr_dropped, 0);
}

fn this_cpus_local_apic_is_in_the_madt() {
    const APIC: u32 = 9; // CPUID.1:EDX.APIC
    // This kernel's tick is the local APIC timer: no CPU it runs on lacks one.
    assert!(cpu::has_feature_edx(APIC), "CPUID reports a local APIC");
    let info = madt();
    // Device registers: the uncached ioremap. ID at 0x20, version at 0x30.
    let regs = ioremap(u64::from(info.lapic_phys), 0x40).unwrap();
    // SAFETY: both registers are readable, 32-bit aligned, and reading them
    // has no side effect.
    let (id, version) = unsafe { (((regs + 0x20) as *const u32).read_volatile(), ((regs + 0x30) as *const u32).read_volatile()) };
    iounmap(regs);
    let apic_id = (id >> 24) as u8;
    assert!(
        info.enabled_cpus().any(|c| c.apic_id == apic_id),
        "the CPU running this test (APIC ID {apic_id}) is an enabled MADT entry"
    );
    assert!((0x10..=0x15).contains(&(version & 0xff)), "an integrated local APIC (version {version:#x})");
}

fn lapic_address_is_0xfee00000() {
    assert_eq!(madt().lapic_phys, 0xfee0_0000);
}

fn one_ioapic_at_0xfec00000_with_gsi_base_0() {
    let info = madt();
    assert_eq!(info.nr_ioapics, 1);
    let ioapic = info.ioapics().next().unwrap();
    assert_eq!((ioapic.phys, ioapic.gsi_base), (0xfec0_0000, 0));
}

fn isa_irq0_is_routed_to_gsi2() {
    let info = madt();
    let irq0 = info.overrides().find(|o| o.isa_irq == 0).expect("QEMU overrides IRQ 0");
    assert_eq!((irq0.bus, irq0.gsi, irq0.active_low, irq0.level_triggered), (0, 2, false, false));
    assert_eq!(info.isa_irq_to_gsi(0), 2);
    assert_eq!(info.isa_irq_to_gsi(1), 1, "the keyboard is not overridden");
    assert!(info.pcat_compat, "QEMU's pc machine has the two 8259 PICs");
}

fn madt_reads_like_linux() {
    let info = madt();
    acpi::print_madt(&info);
    let first = info.cpus().next().unwrap();
    assert_eq!(
        format!("{first}"),
        format!("LAPIC (acpi_id[0x{:02x}] lapic_id[0x{:02x}] enabled)", first.acpi_id, first.apic_id)
    );
    let ioapic = info.ioapics().next().unwrap();
    assert_eq!(format!("{ioapic}"), format!("IOAPIC (id[0x{:02x}] address[0xfec00000] gsi_base[0])", ioapic.id));
    assert_eq!(format!("{}", info.overrides().next().unwrap()), "INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)");
}

fn a_corrupted_copy_of_the_madt_is_rejected() {
    let table = acpi::find_table(b"APIC").unwrap_or_else(|e| panic!("{e}"));
    let mut copy = table.bytes().to_vec();
    assert_eq!(boot::acpi::parse_madt(&copy), Ok(madt()), "an intact copy parses like the original");
    let last = copy.len() - 1;
    copy[last] ^= 0x01;
    assert_eq!(boot::acpi::parse_madt(&copy), Err(AcpiError::BadChecksum { table: *b"APIC" }));
    copy[last] ^= 0x01;
    copy[9] = copy[9].wrapping_add(1); // the checksum byte itself
    assert_eq!(boot::acpi::parse_madt(&copy), Err(AcpiError::BadChecksum { table: *b"APIC" }));
}

fn parsing_leaves_no_mapping_behind() {
    let before = vmalloc_info();
    let a = madt();
    let headers = acpi::table_headers().unwrap();
    assert!(headers.len() >= 3);
    let b = madt();
    assert_eq!(a, b, "the same tables, the same answer");
    assert_eq!(vmalloc_info(), before, "every ioremap_cache was undone");
}
