//! Finding the ACPI tables in physical memory and reading the MADT: the
//! CPUs, the local APIC address, the I/O APICs and the ISA interrupt
//! overrides (Linux `acpi_boot_table_init` and `acpi_parse_madt` in
//! `arch/x86/kernel/acpi/boot.c`).
//!
//! The walk, and where each piece lives:
//!
//! 1. **The RSDP**, found the BIOS way (ACPI 6.5, 5.2.5.1): in the first
//!    KiB of the Extended BIOS Data Area, whose segment the BIOS leaves at
//!    physical `0x40E`, then in the BIOS area `0xE0000-0xFFFFF`, on 16-byte
//!    boundaries. Both are in the first MiB, so in the direct map. (SeaBIOS
//!    and qboot, QEMU's two BIOSes, both put it there; qboot builds no MP
//!    table, so ACPI is the only way to find the CPUs.)
//! 2. **The RSDT or XSDT**, and the tables it lists. The firmware puts them
//!    at the top of RAM below 4 GiB: with `-m 3G`, around `0xBFFE0000`,
//!    far above the 896 MiB the direct map covers. So every table is read
//!    through [`ioremap_cache`] (write-back, as the RAM it is), and unmapped
//!    as soon as it has been read.
//! 3. **The MADT** ("APIC"), decoded by the pure parser in the `boot` crate
//!    (`boot::acpi`, host tested; its doc comment says why it is not the
//!    `acpi` crate).
//!
//! Every table's checksum is verified before anything in it is believed.
//! Nothing is cached: the SMP bring-up calls [`parse_madt`] once, and tests
//! call it again to look at the same tables.

use alloc::vec::Vec;

pub use boot::acpi::{AcpiError, CpuEntry, IoApicEntry, IrqOverride, MadtInfo, Rsdp, SdtHeader};
use boot::acpi::{SDT_HEADER_LEN, parse_sdt_header, root_table_entries, scan_for_rsdp, validate_table};
use mm::layout::phys_to_virt;

use super::{cpu, tsc};
use crate::mm::vmalloc::{ioremap_cache, iounmap};

/// Where the BIOS Data Area keeps the EBDA's segment (a 16-bit word).
const EBDA_SEGMENT_PTR: usize = 0x40E;
/// How much of the EBDA to search.
const EBDA_WINDOW: usize = 1024;
/// Where an EBDA can plausibly start: above the BDA, below the VGA hole.
const EBDA_RANGE: core::ops::Range<usize> = 0x400..0xA_0000;
/// The BIOS read-only area that holds the RSDP when the EBDA does not.
const BIOS_AREA: core::ops::Range<usize> = 0xE_0000..0x10_0000;
/// Largest table we agree to map (QEMU's biggest, the DSDT, is about 8 KiB).
const MAX_TABLE_LEN: usize = 1 << 20;

/// A physical range of firmware memory mapped with [`ioremap_cache`];
/// unmapped when dropped.
struct Mapping {
    virt: usize,
    len: usize,
}

impl Mapping {
    fn new(phys: u64, len: usize) -> Result<Mapping, AcpiError> {
        if phys.checked_add(len as u64).is_none_or(|end| end > 1 << 32) {
            return Err(AcpiError::AboveFourGiB { phys });
        }
        let virt = ioremap_cache(phys, len).ok_or(AcpiError::MapFailed { phys, len })?;
        Ok(Mapping { virt, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: ioremap_cache mapped `len` bytes at `virt` for as long as
        // `self` lives; they are firmware tables that nothing writes.
        unsafe { core::slice::from_raw_parts(self.virt as *const u8, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        iounmap(self.virt);
    }
}

/// One ACPI table, mapped and checksummed.
pub struct AcpiTable {
    phys: u64,
    mapping: Mapping,
}

impl AcpiTable {
    /// Map the table at `phys`: its header first, to learn its length, then
    /// all of it, and check it. `signature` is what the pointer to it
    /// promised.
    fn map(phys: u64, signature: &[u8; 4]) -> Result<AcpiTable, AcpiError> {
        let header = parse_sdt_header(Mapping::new(phys, SDT_HEADER_LEN)?.bytes())?;
        if header.signature != *signature {
            return Err(AcpiError::WrongSignature { expected: *signature, found: header.signature });
        }
        let len = header.length as usize;
        if len > MAX_TABLE_LEN {
            return Err(AcpiError::TooLarge { table: *signature, len });
        }
        let mapping = Mapping::new(phys, len.max(SDT_HEADER_LEN))?;
        validate_table(mapping.bytes(), signature)?;
        log::debug!("ACPI: {header} at {phys:#010x}");
        Ok(AcpiTable { phys, mapping })
    }

    /// Physical address of the table.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// The whole table, header included.
    pub fn bytes(&self) -> &[u8] {
        self.mapping.bytes()
    }

    /// Its header.
    pub fn header(&self) -> SdtHeader {
        parse_sdt_header(self.bytes()).expect("validated when mapped")
    }
}

/// The first `len` bytes of physical memory at `phys`, which must lie in
/// the first MiB (always in the direct map).
fn low_memory(phys: usize, len: usize) -> &'static [u8] {
    assert!(phys + len <= BIOS_AREA.end, "low_memory({phys:#x}, {len}) is not below 1 MiB");
    // SAFETY: paging_init maps every frame below max_low_pfn (at least the
    // first MiB) at PAGE_OFFSET, including BIOS areas that are not RAM; the
    // firmware does not change them while the kernel runs.
    unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len) }
}

/// Find the RSDP (Linux `acpi_find_root_pointer`): returns its physical
/// address and contents.
pub fn find_rsdp() -> Result<(u64, Rsdp), AcpiError> {
    let word = low_memory(EBDA_SEGMENT_PTR, 2);
    let ebda = usize::from(u16::from_le_bytes([word[0], word[1]])) << 4;
    let mut error = AcpiError::NoRsdp;
    if EBDA_RANGE.contains(&ebda) {
        let len = EBDA_WINDOW.min(EBDA_RANGE.end - ebda);
        match scan_for_rsdp(low_memory(ebda, len)) {
            Ok((offset, rsdp)) => return Ok(((ebda + offset) as u64, rsdp)),
            Err(e) => error = e,
        }
    }
    // The area ends at 1 MiB exactly. No RSDP can sit in its last bytes:
    // 0xFFFF0 is the CPU's reset vector.
    match scan_for_rsdp(low_memory(BIOS_AREA.start, BIOS_AREA.len())) {
        Ok((offset, rsdp)) => Ok(((BIOS_AREA.start + offset) as u64, rsdp)),
        Err(AcpiError::NoRsdp) => Err(error),
        Err(e) => Err(e),
    }
}

/// The root table the RSDP points to: the XSDT if there is one (ACPI 2.0+),
/// else the RSDT, mapped and checked.
fn root_table() -> Result<AcpiTable, AcpiError> {
    let (rsdp_phys, rsdp) = find_rsdp()?;
    let (root_phys, root_sig) = match rsdp.xsdt_address {
        Some(xsdt) => (xsdt, b"XSDT"),
        None => (u64::from(rsdp.rsdt_address), b"RSDT"),
    };
    log::debug!(
        "ACPI: RSDP at {rsdp_phys:#010x} (v{:02} {}) points to the {} at {root_phys:#010x}",
        rsdp.revision,
        core::str::from_utf8(&rsdp.oem_id).unwrap_or("?"),
        core::str::from_utf8(root_sig).unwrap_or("?")
    );
    AcpiTable::map(root_phys, root_sig)
}

/// Find the table with `signature` through the RSDT or XSDT, map it and
/// check it. Tables the root lists above 4 GiB are skipped; a corrupt root
/// table or a corrupt match is an error.
pub fn find_table(signature: &[u8; 4]) -> Result<AcpiTable, AcpiError> {
    let root = root_table()?;
    for phys in root_table_entries(root.bytes()) {
        if phys >= 1 << 32 {
            log::warn!("ACPI: a table at {phys:#x} is above 4 GiB: skipped");
            continue;
        }
        if Mapping::new(phys, SDT_HEADER_LEN)?.bytes().starts_with(signature) {
            return AcpiTable::map(phys, signature);
        }
    }
    Err(if signature == b"APIC" { AcpiError::NoMadt } else { AcpiError::NoTable { table: *signature } })
}

/// Find and decode the MADT: the CPUs, the local APIC address, the I/O
/// APICs and the interrupt source overrides. What the SMP bring-up and the
/// I/O APIC set-up start from.
pub fn parse_madt() -> Result<MadtInfo, AcpiError> {
    let start = cpu::rdtsc();
    let table = find_table(b"APIC")?;
    let info = boot::acpi::parse_madt(table.bytes())?;
    log::debug!(
        "ACPI: MADT at {:#010x} read in {} us",
        table.phys(),
        tsc::cycles_to_ns(cpu::rdtsc() - start) / 1000
    );
    if info.nr_dropped > 0 {
        log::warn!("ACPI: {} MADT entries beyond this kernel's limits were ignored", info.nr_dropped);
    }
    Ok(info)
}

/// Log what the MADT says, one line per entry, in Linux's words:
///
/// ```text
/// ACPI: Local APIC address 0xfee00000
/// ACPI: LAPIC (acpi_id[0x00] lapic_id[0x00] enabled)
/// ACPI: IOAPIC (id[0x00] address[0xfec00000] gsi_base[0])
/// ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)
/// ```
pub fn print_madt(info: &MadtInfo) {
    log::info!("ACPI: Local APIC address {:#010x}", info.lapic_phys);
    for cpu in info.cpus() {
        log::info!("ACPI: {cpu}");
    }
    for ioapic in info.ioapics() {
        log::info!("ACPI: {ioapic}");
    }
    for o in info.overrides() {
        log::info!("ACPI: {o}");
    }
    let enabled = info.enabled_cpus().count();
    log::info!(
        "ACPI: {enabled} CPU{} enabled, {} hot-pluggable, {} not present{}",
        if enabled == 1 { "" } else { "s" },
        info.nr_cpus - enabled,
        info.nr_absent_cpus,
        if info.pcat_compat { "; legacy 8259 PICs present (PCAT_COMPAT)" } else { "" }
    );
}

/// Every table the root table lists, as `(physical address, header)`, for
/// reports and tests (Linux prints these lines at boot).
pub fn table_headers() -> Result<Vec<(u64, SdtHeader)>, AcpiError> {
    let root = root_table()?;
    let mut headers = Vec::new();
    headers.push((root.phys(), root.header()));
    for phys in root_table_entries(root.bytes()).filter(|&p| p < 1 << 32) {
        headers.push((phys, parse_sdt_header(Mapping::new(phys, SDT_HEADER_LEN)?.bytes())?));
    }
    Ok(headers)
}
