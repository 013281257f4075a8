//! Reading the firmware's ACPI tables: the RSDP, the root table (RSDT or
//! XSDT) and the MADT, which says how many CPUs the machine has, where the
//! local APIC and the I/O APICs are, and how ISA interrupts are wired
//! (ACPI 6.5, sections 5.2.5 to 5.2.12; Linux `drivers/acpi/tables.c` and
//! `arch/x86/kernel/acpi/boot.c`).
//!
//! This file is the pure half: every function takes the bytes of a table
//! and returns what they say, so all of it runs as host unit tests. Finding
//! the tables in physical memory and mapping them is the kernel's half
//! (`kernel/src/arch/x86/kernel/acpi.rs`).
//!
//! ```text
//!  RSDP ("RSD PTR ", found by scanning BIOS memory)
//!   |  rsdt_address (32-bit) / xsdt_address (64-bit, ACPI 2.0+)
//!   v
//!  RSDT / XSDT: header + array of table addresses
//!   |        |        |
//!   v        v        v
//!  FACP     APIC     HPET ...    every table: a 36-byte header, then its body
//!           (the MADT)
//! ```
//!
//! Every table carries a checksum: all of its bytes, summed modulo 256, are
//! zero. A table that fails it is corrupt and is refused
//! ([`AcpiError::BadChecksum`]); Linux only warns, because some firmware gets
//! checksums wrong, but a teaching kernel on QEMU can afford to be strict.
//!
//! **Why not the `acpi` crate.** The rust-osdev `acpi` crate was the first
//! choice and was tried. Its current stable release (6.1) asks the kernel
//! for a `Handler` with 23 required methods (port and PCI configuration I/O,
//! timers, sleep) even with the AML interpreter turned off, all of which
//! this kernel would have to stub; its map callback cannot fail, so an
//! `ioremap_cache` failure would have to panic inside it; and it does not
//! verify the checksums of the tables it hands out. Release 5.2 has the
//! small handler but is a superseded line (7.0 is in pre-release), so
//! pinning it would pin an API upstream has left behind. What we need is
//! the RSDP, one root table and the MADT: about 300 lines that fit on a
//! screen next to the specification, and can be tested on the host.

use core::fmt;

/// The RSDP's signature, on a 16-byte boundary in BIOS memory.
pub const RSDP_SIGNATURE: &[u8; 8] = b"RSD PTR ";
/// Bytes covered by the ACPI 1.0 RSDP checksum.
pub const RSDP_V1_LEN: usize = 20;
/// Size of the ACPI 2.0+ RSDP.
pub const RSDP_V2_LEN: usize = 36;
/// Size of the header every system description table starts with.
pub const SDT_HEADER_LEN: usize = 36;
/// Where the MADT's interrupt controller structures begin.
const MADT_ENTRIES_OFFSET: usize = 44;

/// CPUs [`MadtInfo`] can hold (twice `NR_CPUS`; the rest are counted).
pub const MAX_MADT_CPUS: usize = 16;
/// I/O APICs [`MadtInfo`] can hold.
pub const MAX_MADT_IOAPICS: usize = 4;
/// Interrupt source overrides [`MadtInfo`] can hold (ISA has 16 IRQs).
pub const MAX_MADT_OVERRIDES: usize = 16;

/// MADT structure types (ACPI table 5.21) that we read.
mod madt_type {
    pub const LOCAL_APIC: u8 = 0;
    pub const IO_APIC: u8 = 1;
    pub const INTERRUPT_OVERRIDE: u8 = 2;
    pub const LOCAL_APIC_ADDRESS_OVERRIDE: u8 = 5;
}

/// Why the ACPI tables could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// No valid "RSD PTR " in the EBDA or the BIOS area (not a BIOS
    /// machine, or no ACPI).
    NoRsdp,
    /// A table's bytes do not sum to zero. `table` is its signature
    /// (`RSDP` for the root pointer).
    BadChecksum { table: [u8; 4] },
    /// The root table lists no MADT ("APIC").
    NoMadt,
    /// The root table lists no table with this signature.
    NoTable { table: [u8; 4] },
    /// A table is not what the pointer to it promised.
    WrongSignature { expected: [u8; 4], found: [u8; 4] },
    /// A table (or what we could map of it) is shorter than its header or
    /// its length field says.
    Truncated { table: [u8; 4], len: usize, need: usize },
    /// A table's length field is beyond anything plausible (a corrupt
    /// header; mapping it would waste the vmalloc area).
    TooLarge { table: [u8; 4], len: usize },
    /// A MADT entry whose length field is impossible or runs past the table.
    BadMadtEntry { offset: usize, entry_type: u8, len: u8 },
    /// A table lies above 4 GiB, which a non-PAE kernel cannot map.
    AboveFourGiB { phys: u64 },
    /// `ioremap_cache` could not map a table (vmalloc space exhausted).
    MapFailed { phys: u64, len: usize },
}

/// A signature as text, for messages.
struct Sig<'a>(&'a [u8]);

impl fmt::Display for Sig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoRsdp => f.write_str(
                "ACPI: no RSDP found in the EBDA or at 0xe0000-0xfffff (no ACPI, or not booted by a BIOS)",
            ),
            Self::BadChecksum { table } => {
                write!(f, "ACPI: the {} table has a bad checksum: it is corrupt, refusing to use it", Sig(&table))
            }
            Self::NoMadt => f.write_str("ACPI: the root table lists no MADT (APIC): cannot find the CPUs and I/O APICs"),
            Self::NoTable { table } => write!(f, "ACPI: the root table lists no {} table", Sig(&table)),
            Self::TooLarge { table, len } => {
                write!(f, "ACPI: the {} table claims to be {len} bytes long: its header is corrupt", Sig(&table))
            }
            Self::WrongSignature { expected, found } => {
                write!(f, "ACPI: expected a {} table, found '{}'", Sig(&expected), Sig(&found))
            }
            Self::Truncated { table, len, need } => {
                write!(f, "ACPI: the {} table is truncated: {len} bytes where {need} are needed", Sig(&table))
            }
            Self::BadMadtEntry { offset, entry_type, len } => write!(
                f,
                "ACPI: MADT entry of type {entry_type} at offset {offset} has length {len}, which does not fit the table"
            ),
            Self::AboveFourGiB { phys } => {
                write!(f, "ACPI: table at {phys:#x} is above 4 GiB, out of reach of a non-PAE kernel")
            }
            Self::MapFailed { phys, len } => write!(f, "ACPI: could not map {len} bytes at {phys:#x} (ioremap_cache failed)"),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
}

/// Do `bytes` sum to zero modulo 256, as every ACPI checksum demands?
pub fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) == 0
}

/// What the RSDP (Root System Description Pointer) says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rsdp {
    /// Who made the tables (QEMU's SeaBIOS: "BOCHS ").
    pub oem_id: [u8; 6],
    /// 0 for ACPI 1.0, 2 for ACPI 2.0 and later.
    pub revision: u8,
    /// Physical address of the RSDT (32-bit entries).
    pub rsdt_address: u32,
    /// Physical address of the XSDT (64-bit entries), ACPI 2.0+ only; when
    /// present it is the one to use.
    pub xsdt_address: Option<u64>,
    /// Bytes the RSDP occupies: 20 for ACPI 1.0, its length field after.
    pub length: usize,
}

/// Check and decode an RSDP at the start of `bytes`: the signature, the
/// checksum over the first 20 bytes, and for revision 2 and later the
/// extended checksum over the whole structure.
pub fn parse_rsdp(bytes: &[u8]) -> Result<Rsdp, AcpiError> {
    const TABLE: [u8; 4] = *b"RSDP";
    if bytes.len() < RSDP_V1_LEN {
        return Err(AcpiError::Truncated { table: TABLE, len: bytes.len(), need: RSDP_V1_LEN });
    }
    if &bytes[..8] != RSDP_SIGNATURE {
        let mut found = [0; 4];
        found.copy_from_slice(&bytes[..4]);
        return Err(AcpiError::WrongSignature { expected: TABLE, found });
    }
    if !checksum_ok(&bytes[..RSDP_V1_LEN]) {
        return Err(AcpiError::BadChecksum { table: TABLE });
    }
    let mut oem_id = [0; 6];
    oem_id.copy_from_slice(&bytes[9..15]);
    let revision = bytes[15];
    let rsdt_address = u32_at(bytes, 16);
    if revision < 2 {
        return Ok(Rsdp { oem_id, revision, rsdt_address, xsdt_address: None, length: RSDP_V1_LEN });
    }
    if bytes.len() < RSDP_V2_LEN {
        return Err(AcpiError::Truncated { table: TABLE, len: bytes.len(), need: RSDP_V2_LEN });
    }
    let length = u32_at(bytes, 20) as usize;
    if length < RSDP_V2_LEN || length > bytes.len() {
        return Err(AcpiError::Truncated { table: TABLE, len: bytes.len().min(length), need: length.max(RSDP_V2_LEN) });
    }
    if !checksum_ok(&bytes[..length]) {
        return Err(AcpiError::BadChecksum { table: TABLE });
    }
    let xsdt = u64_at(bytes, 24);
    Ok(Rsdp { oem_id, revision, rsdt_address, xsdt_address: (xsdt != 0).then_some(xsdt), length })
}

/// Look for the RSDP in a BIOS memory area (the first KiB of the EBDA, or
/// 0xE0000-0xFFFFF): the signature on a 16-byte boundary, then
/// [`parse_rsdp`]. A candidate with a bad checksum is skipped, as Linux's
/// `acpi_tb_scan_memory_for_rsdp` skips it (the signature can occur by
/// chance); if that was the only one, the answer is its error. Returns the
/// offset in `area` and the RSDP.
pub fn scan_for_rsdp(area: &[u8]) -> Result<(usize, Rsdp), AcpiError> {
    let mut first_error = None;
    for offset in (0..area.len().saturating_sub(RSDP_V1_LEN - 1)).step_by(16) {
        if &area[offset..offset + 8] != RSDP_SIGNATURE {
            continue;
        }
        match parse_rsdp(&area[offset..]) {
            Ok(rsdp) => return Ok((offset, rsdp)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(AcpiError::NoRsdp))
}

/// The header every ACPI table starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdtHeader {
    /// "RSDT", "XSDT", "APIC" (the MADT), "FACP" (the FADT), ...
    pub signature: [u8; 4],
    /// Bytes in the whole table, header included.
    pub length: u32,
    pub revision: u8,
    pub oem_id: [u8; 6],
    pub oem_table_id: [u8; 8],
    pub oem_revision: u32,
    pub creator_id: [u8; 4],
    pub creator_revision: u32,
}

impl fmt::Display for SdtHeader {
    /// As Linux's `acpi_tb_print_table_header`, without the address:
    /// `APIC 000078 (v01 BOCHS  BXPC     00000001 BXPC 00000001)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:06X} (v{:02} {:<6} {:<8} {:08X} {:<4} {:08X})",
            Sig(&self.signature),
            self.length,
            self.revision,
            Sig(&self.oem_id),
            Sig(&self.oem_table_id),
            self.oem_revision,
            Sig(&self.creator_id),
            self.creator_revision
        )
    }
}

/// Decode the 36-byte header at the start of `bytes` (no checks beyond its
/// own length; [`validate_table`] checks the table).
pub fn parse_sdt_header(bytes: &[u8]) -> Result<SdtHeader, AcpiError> {
    if bytes.len() < SDT_HEADER_LEN {
        let mut table = [b'?'; 4];
        let n = bytes.len().min(4);
        table[..n].copy_from_slice(&bytes[..n]);
        return Err(AcpiError::Truncated { table, len: bytes.len(), need: SDT_HEADER_LEN });
    }
    let arr = |at: usize| -> [u8; 4] { [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]] };
    let mut oem_id = [0; 6];
    oem_id.copy_from_slice(&bytes[10..16]);
    let mut oem_table_id = [0; 8];
    oem_table_id.copy_from_slice(&bytes[16..24]);
    Ok(SdtHeader {
        signature: arr(0),
        length: u32_at(bytes, 4),
        revision: bytes[8],
        oem_id,
        oem_table_id,
        oem_revision: u32_at(bytes, 24),
        creator_id: arr(28),
        creator_revision: u32_at(bytes, 32),
    })
}

/// Check that `bytes` start with a whole, intact `signature` table: the
/// signature, a length that fits in `bytes`, and the checksum over that
/// length. Returns exactly the table's bytes.
pub fn validate_table<'a>(bytes: &'a [u8], signature: &[u8; 4]) -> Result<&'a [u8], AcpiError> {
    let header = parse_sdt_header(bytes)?;
    if &header.signature != signature {
        return Err(AcpiError::WrongSignature { expected: *signature, found: header.signature });
    }
    let len = header.length as usize;
    if len < SDT_HEADER_LEN || len > bytes.len() {
        return Err(AcpiError::Truncated { table: *signature, len: bytes.len().min(len), need: len.max(SDT_HEADER_LEN) });
    }
    let table = &bytes[..len];
    if !checksum_ok(table) {
        return Err(AcpiError::BadChecksum { table: *signature });
    }
    Ok(table)
}

/// The physical addresses a validated RSDT (4 bytes each) or XSDT (8
/// bytes each) lists, in order.
pub fn root_table_entries(table: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let size = if table.starts_with(b"XSDT") { 8 } else { 4 };
    table.get(SDT_HEADER_LEN..).unwrap_or(&[]).chunks_exact(size).map(move |e| {
        if size == 8 { u64_at(e, 0) } else { u64::from(u32_at(e, 0)) }
    })
}

/// A processor the MADT lists (a "Processor Local APIC" structure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuEntry {
    /// The processor's ACPI UID (what the DSDT's `Processor` objects use).
    pub acpi_id: u8,
    /// Its local APIC ID: what INIT/SIPI IPIs are addressed to.
    pub apic_id: u8,
    /// Usable now: the CPUs to bring up.
    pub enabled: bool,
    /// Not enabled, but the platform may hot-add it later (ACPI 6.3+).
    pub online_capable: bool,
}

impl fmt::Display for CpuEntry {
    /// Linux's line, after "ACPI: ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LAPIC (acpi_id[0x{:02x}] lapic_id[0x{:02x}] {})",
            self.acpi_id,
            self.apic_id,
            if self.enabled { "enabled" } else { "disabled" }
        )
    }
}

/// An I/O APIC: where it is and which global system interrupts it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicEntry {
    /// Its I/O APIC ID.
    pub id: u8,
    /// Physical address of its two registers (IOREGSEL, IOWIN).
    pub phys: u32,
    /// The first GSI its pins deliver; pin n is GSI `gsi_base + n`.
    pub gsi_base: u32,
}

impl fmt::Display for IoApicEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IOAPIC (id[0x{:02x}] address[0x{:08x}] gsi_base[{}])", self.id, self.phys, self.gsi_base)
    }
}

/// An ISA IRQ that is not wired to the I/O APIC pin of the same number, or
/// not with ISA's default polarity and trigger ("Interrupt Source
/// Override"). QEMU's: the PIT's IRQ 0 arrives on GSI 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqOverride {
    /// The bus (0: ISA, the only one defined).
    pub bus: u8,
    /// The ISA IRQ.
    pub isa_irq: u8,
    /// The global system interrupt it arrives on.
    pub gsi: u32,
    /// Polarity, with "conforms to the bus" resolved (ISA: active high).
    pub active_low: bool,
    /// Trigger mode, with "conforms to the bus" resolved (ISA: edge).
    pub level_triggered: bool,
    /// The raw MPS INTI flags: bits 0-1 polarity, bits 2-3 trigger (0 means
    /// "conforms to the bus"; Linux prints it as "dfl").
    pub mps_flags: u16,
}

impl fmt::Display for IrqOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const POLARITY: [&str; 4] = ["dfl", "high", "res", "low"];
        const TRIGGER: [&str; 4] = ["dfl", "edge", "res", "level"];
        write!(
            f,
            "INT_SRC_OVR (bus {} bus_irq {} global_irq {} {} {})",
            self.bus,
            self.isa_irq,
            self.gsi,
            POLARITY[usize::from(self.mps_flags & 3)],
            TRIGGER[usize::from((self.mps_flags >> 2) & 3)]
        )
    }
}

/// Everything the MADT (Multiple APIC Description Table) says that an SMP
/// kernel with APICs needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MadtInfo {
    /// Physical address of every CPU's local APIC (0xFEE00000 on PCs),
    /// after any 64-bit address override below 4 GiB.
    pub lapic_phys: u32,
    /// The machine also has the two legacy 8259 PICs (MADT flag
    /// `PCAT_COMPAT`): they must be masked before using the I/O APIC.
    pub pcat_compat: bool,
    /// Processors that are enabled or may be hot-added, in MADT order (the
    /// firmware lists the boot CPU first). Bring up only those with
    /// `enabled` set; see [`enabled_cpus`](Self::enabled_cpus).
    pub cpus: [Option<CpuEntry>; MAX_MADT_CPUS],
    pub nr_cpus: usize,
    /// I/O APICs, in MADT order.
    pub ioapics: [Option<IoApicEntry>; MAX_MADT_IOAPICS],
    pub nr_ioapics: usize,
    /// Interrupt source overrides, in MADT order.
    pub overrides: [Option<IrqOverride>; MAX_MADT_OVERRIDES],
    pub nr_overrides: usize,
    /// Processors listed as neither enabled nor online capable: not present.
    pub nr_absent_cpus: usize,
    /// Entries that did not fit in the arrays above (logged by the kernel;
    /// like Linux's "NR_CPUS limit reached, processor ignored").
    pub nr_dropped: usize,
}

impl MadtInfo {
    const fn empty(lapic_phys: u32, pcat_compat: bool) -> Self {
        MadtInfo {
            lapic_phys,
            pcat_compat,
            cpus: [None; MAX_MADT_CPUS],
            nr_cpus: 0,
            ioapics: [None; MAX_MADT_IOAPICS],
            nr_ioapics: 0,
            overrides: [None; MAX_MADT_OVERRIDES],
            nr_overrides: 0,
            nr_absent_cpus: 0,
            nr_dropped: 0,
        }
    }

    /// Every listed processor, in MADT order.
    pub fn cpus(&self) -> impl Iterator<Item = &CpuEntry> {
        self.cpus[..self.nr_cpus].iter().flatten()
    }

    /// The processors to bring up: enabled ones, in MADT order.
    pub fn enabled_cpus(&self) -> impl Iterator<Item = &CpuEntry> {
        self.cpus().filter(|c| c.enabled)
    }

    /// The I/O APICs.
    pub fn ioapics(&self) -> impl Iterator<Item = &IoApicEntry> {
        self.ioapics[..self.nr_ioapics].iter().flatten()
    }

    /// The interrupt source overrides.
    pub fn overrides(&self) -> impl Iterator<Item = &IrqOverride> {
        self.overrides[..self.nr_overrides].iter().flatten()
    }

    /// The GSI that ISA IRQ `irq` arrives on: its override, or the same
    /// number (Linux `mp_irqs` lookup, simplified to ISA).
    pub fn isa_irq_to_gsi(&self, irq: u8) -> u32 {
        self.overrides().find(|o| o.bus == 0 && o.isa_irq == irq).map_or(u32::from(irq), |o| o.gsi)
    }
}

/// Append to a fixed array, or count the entry as dropped.
fn push<T: Copy>(array: &mut [Option<T>], len: &mut usize, dropped: &mut usize, value: T) {
    if *len < array.len() {
        array[*len] = Some(value);
        *len += 1;
    } else {
        *dropped += 1;
    }
}

/// Validate a MADT ([`validate_table`] with signature "APIC") and walk its
/// interrupt controller structures. Types we do not use (NMI sources, local
/// APIC NMIs, x2APIC entries, GIC and other non-x86 ones) are skipped by
/// their length, as the specification intends.
pub fn parse_madt(bytes: &[u8]) -> Result<MadtInfo, AcpiError> {
    let table = validate_table(bytes, b"APIC")?;
    if table.len() < MADT_ENTRIES_OFFSET {
        return Err(AcpiError::Truncated { table: *b"APIC", len: table.len(), need: MADT_ENTRIES_OFFSET });
    }
    let mut info = MadtInfo::empty(u32_at(table, 36), u32_at(table, 40) & 1 != 0);
    let mut offset = MADT_ENTRIES_OFFSET;
    while offset < table.len() {
        let entry_type = table[offset];
        let len = table.get(offset + 1).copied().unwrap_or(0);
        let min_len = match entry_type {
            madt_type::LOCAL_APIC => 8,
            madt_type::IO_APIC | madt_type::LOCAL_APIC_ADDRESS_OVERRIDE => 12,
            madt_type::INTERRUPT_OVERRIDE => 10,
            _ => 2,
        };
        if usize::from(len) < min_len || offset + usize::from(len) > table.len() {
            return Err(AcpiError::BadMadtEntry { offset, entry_type, len });
        }
        let e = &table[offset..offset + usize::from(len)];
        match entry_type {
            madt_type::LOCAL_APIC => {
                let flags = u32_at(e, 4);
                let cpu = CpuEntry { acpi_id: e[2], apic_id: e[3], enabled: flags & 1 != 0, online_capable: flags & 2 != 0 };
                if cpu.enabled || cpu.online_capable {
                    push(&mut info.cpus, &mut info.nr_cpus, &mut info.nr_dropped, cpu);
                } else {
                    info.nr_absent_cpus += 1;
                }
            }
            madt_type::IO_APIC => {
                let ioapic = IoApicEntry { id: e[2], phys: u32_at(e, 4), gsi_base: u32_at(e, 8) };
                push(&mut info.ioapics, &mut info.nr_ioapics, &mut info.nr_dropped, ioapic);
            }
            madt_type::INTERRUPT_OVERRIDE => {
                let flags = u16_at(e, 8);
                let o = IrqOverride {
                    bus: e[2],
                    isa_irq: e[3],
                    gsi: u32_at(e, 4),
                    active_low: flags & 3 == 3,
                    level_triggered: (flags >> 2) & 3 == 3,
                    mps_flags: flags,
                };
                push(&mut info.overrides, &mut info.nr_overrides, &mut info.nr_dropped, o);
            }
            madt_type::LOCAL_APIC_ADDRESS_OVERRIDE => {
                // Only meaningful to us below 4 GiB; above, keep the 32-bit one.
                if let Ok(addr) = u32::try_from(u64_at(e, 4)) {
                    info.lapic_phys = addr;
                }
            }
            _ => {}
        }
        offset += usize::from(len);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Make `bytes` sum to zero by adjusting the byte at `at`.
    fn fix_checksum(bytes: &mut [u8], at: usize) {
        bytes[at] = 0;
        let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        bytes[at] = sum.wrapping_neg();
    }

    fn rsdp_v0(rsdt: u32) -> Vec<u8> {
        let mut b = Vec::from(&RSDP_SIGNATURE[..]);
        b.push(0); // checksum
        b.extend_from_slice(b"BOCHS ");
        b.push(0); // revision 0: ACPI 1.0
        b.extend_from_slice(&rsdt.to_le_bytes());
        fix_checksum(&mut b, 8);
        b
    }

    fn rsdp_v2(rsdt: u32, xsdt: u64) -> Vec<u8> {
        let mut b = Vec::from(&RSDP_SIGNATURE[..]);
        b.push(0);
        b.extend_from_slice(b"QBOOT ");
        b.push(2);
        b.extend_from_slice(&rsdt.to_le_bytes());
        b.extend_from_slice(&36u32.to_le_bytes());
        b.extend_from_slice(&xsdt.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]); // extended checksum, reserved
        fix_checksum(&mut b[..20], 8);
        fix_checksum(&mut b, 32);
        b
    }

    /// A table with a proper header (OEM "BOCHS ", "BXPC") and checksum.
    fn table(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = Vec::from(&signature[..]);
        b.extend_from_slice(&((SDT_HEADER_LEN + body.len()) as u32).to_le_bytes());
        b.push(1); // revision
        b.push(0); // checksum
        b.extend_from_slice(b"BOCHS ");
        b.extend_from_slice(b"BXPC    ");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(b"BXPC");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(body);
        fix_checksum(&mut b, 9);
        b
    }

    fn lapic(acpi_id: u8, apic_id: u8, flags: u32) -> Vec<u8> {
        let mut e = vec![0, 8, acpi_id, apic_id];
        e.extend_from_slice(&flags.to_le_bytes());
        e
    }

    fn ioapic(id: u8, addr: u32, gsi_base: u32) -> Vec<u8> {
        let mut e = vec![1, 12, id, 0];
        e.extend_from_slice(&addr.to_le_bytes());
        e.extend_from_slice(&gsi_base.to_le_bytes());
        e
    }

    fn iso(irq: u8, gsi: u32, flags: u16) -> Vec<u8> {
        let mut e = vec![2, 10, 0, irq];
        e.extend_from_slice(&gsi.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        e
    }

    /// The MADT QEMU's SeaBIOS builds for `-smp n` (hw/i386/acpi-common.c):
    /// one LAPIC per CPU, the I/O APIC, IRQ0 -> GSI 2 and the PCI IRQs 5, 9,
    /// 10, 11 level/active-high, then a local APIC NMI on LINT1.
    fn qemu_madt(cpus: u8) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes()); // PCAT_COMPAT
        for i in 0..cpus {
            body.extend(lapic(i, i, 1));
        }
        body.extend(ioapic(0, 0xfec0_0000, 0));
        body.extend(iso(0, 2, 0));
        for irq in [5, 9, 10, 11] {
            body.extend(iso(irq, u32::from(irq), 0xd));
        }
        body.extend_from_slice(&[4, 6, 0xff, 0, 0, 1]); // LAPIC NMI, skipped
        table(b"APIC", &body)
    }

    #[test]
    fn checksums() {
        assert!(checksum_ok(&[]));
        assert!(checksum_ok(&[0x80, 0x80]));
        assert!(!checksum_ok(&[1]));
        let mut t = qemu_madt(2);
        assert!(checksum_ok(&t));
        t[50] ^= 0x10;
        assert!(!checksum_ok(&t));
    }

    #[test]
    fn rsdp_revision_0_and_2() {
        let r = parse_rsdp(&rsdp_v0(0xbffe_1c56)).unwrap();
        assert_eq!((r.revision, r.rsdt_address, r.xsdt_address, r.length), (0, 0xbffe_1c56, None, 20));
        assert_eq!(&r.oem_id, b"BOCHS ");
        let r = parse_rsdp(&rsdp_v2(0x7fe_0000, 0x7fe_1000)).unwrap();
        assert_eq!((r.revision, r.rsdt_address, r.xsdt_address, r.length), (2, 0x7fe_0000, Some(0x7fe_1000), 36));
    }

    #[test]
    fn rsdp_checksums_are_both_checked() {
        let mut v0 = rsdp_v0(0x1000);
        v0[16] ^= 1;
        assert_eq!(parse_rsdp(&v0), Err(AcpiError::BadChecksum { table: *b"RSDP" }));
        // Revision 2: break only the extended part (the first 20 bytes still
        // sum to zero), then only the first 20.
        let mut v2 = rsdp_v2(0x1000, 0x2000);
        v2[24] ^= 1;
        assert!(checksum_ok(&v2[..20]));
        assert_eq!(parse_rsdp(&v2), Err(AcpiError::BadChecksum { table: *b"RSDP" }));
        // Move one unit from byte 24 to byte 16: the whole structure still
        // sums to zero, the first 20 bytes no longer do.
        let mut v2 = rsdp_v2(0x1000, 0x2000);
        v2[16] = v2[16].wrapping_add(1);
        v2[24] = v2[24].wrapping_sub(1);
        assert!(checksum_ok(&v2) && !checksum_ok(&v2[..20]));
        assert_eq!(parse_rsdp(&v2), Err(AcpiError::BadChecksum { table: *b"RSDP" }));
        assert_eq!(
            parse_rsdp(&rsdp_v2(1, 2)[..30]),
            Err(AcpiError::Truncated { table: *b"RSDP", len: 30, need: 36 })
        );
        assert!(matches!(parse_rsdp(b"RSD PTX 0123456789abcdef"), Err(AcpiError::WrongSignature { .. })));
    }

    #[test]
    fn scan_finds_the_rsdp_on_a_16_byte_boundary_and_skips_bad_ones() {
        let mut area = vec![0u8; 1024];
        // Not on a 16-byte boundary: ignored.
        area[40..60].copy_from_slice(&rsdp_v0(0xdead)[..]);
        // On a boundary but corrupt: skipped.
        let mut bad = rsdp_v0(0xbad);
        bad[12] ^= 1;
        area[128..148].copy_from_slice(&bad);
        assert_eq!(scan_for_rsdp(&area), Err(AcpiError::BadChecksum { table: *b"RSDP" }));
        // A good one further on is found.
        area[512..532].copy_from_slice(&rsdp_v0(0xbffe_1c56));
        let (offset, rsdp) = scan_for_rsdp(&area).unwrap();
        assert_eq!((offset, rsdp.rsdt_address), (512, 0xbffe_1c56));
        assert_eq!(scan_for_rsdp(&[0u8; 1024]), Err(AcpiError::NoRsdp));
        assert_eq!(scan_for_rsdp(&[]), Err(AcpiError::NoRsdp));
        // At the very end of an area, a v2 RSDP cut short is an error, not a panic.
        let mut tail = vec![0u8; 64];
        tail[48..64].copy_from_slice(&rsdp_v2(1, 2)[..16]);
        assert_eq!(scan_for_rsdp(&tail), Err(AcpiError::NoRsdp), "shorter than 20 bytes is not even a candidate");
    }

    #[test]
    fn tables_are_validated() {
        let t = table(b"FACP", &[1, 2, 3, 4]);
        assert_eq!(validate_table(&t, b"FACP").unwrap().len(), 40);
        // Trailing bytes beyond the length field are not part of the table.
        let mut longer = t.clone();
        longer.extend_from_slice(&[9; 100]);
        assert_eq!(validate_table(&longer, b"FACP").unwrap(), &t[..]);
        assert_eq!(
            validate_table(&t, b"APIC"),
            Err(AcpiError::WrongSignature { expected: *b"APIC", found: *b"FACP" })
        );
        assert_eq!(validate_table(&t[..39], b"FACP"), Err(AcpiError::Truncated { table: *b"FACP", len: 39, need: 40 }));
        assert!(matches!(validate_table(&t[..10], b"FACP"), Err(AcpiError::Truncated { need: 36, .. })));
        let mut bad = t.clone();
        bad[38] ^= 0x40;
        assert_eq!(validate_table(&bad, b"FACP"), Err(AcpiError::BadChecksum { table: *b"FACP" }));
        let h = parse_sdt_header(&t).unwrap();
        assert_eq!(h.to_string(), "FACP 000028 (v01 BOCHS  BXPC     00000001 BXPC 00000001)");
    }

    #[test]
    fn rsdt_and_xsdt_entries() {
        let mut body = Vec::new();
        for a in [0xbffe_1000u32, 0xbffe_2000, 0xbffe_3000] {
            body.extend_from_slice(&a.to_le_bytes());
        }
        let rsdt = table(b"RSDT", &body);
        assert_eq!(root_table_entries(&rsdt).collect::<Vec<_>>(), [0xbffe_1000, 0xbffe_2000, 0xbffe_3000]);
        let mut body = Vec::new();
        for a in [0x7fe_1000u64, 0x1_2345_6000] {
            body.extend_from_slice(&a.to_le_bytes());
        }
        let xsdt = table(b"XSDT", &body);
        assert_eq!(root_table_entries(&xsdt).collect::<Vec<_>>(), [0x7fe_1000, 0x1_2345_6000]);
        assert_eq!(root_table_entries(&table(b"RSDT", &[])).count(), 0);
    }

    #[test]
    fn qemu_madt_is_understood() {
        let info = parse_madt(&qemu_madt(4)).unwrap();
        assert_eq!(info.lapic_phys, 0xfee0_0000);
        assert!(info.pcat_compat);
        assert_eq!(info.nr_cpus, 4);
        let ids: Vec<u8> = info.enabled_cpus().map(|c| c.apic_id).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        assert_eq!(info.ioapics().collect::<Vec<_>>(), [&IoApicEntry { id: 0, phys: 0xfec0_0000, gsi_base: 0 }]);
        assert_eq!(info.nr_overrides, 5);
        let irq0 = info.overrides().next().unwrap();
        assert_eq!((irq0.isa_irq, irq0.gsi, irq0.active_low, irq0.level_triggered), (0, 2, false, false));
        let irq9 = info.overrides().find(|o| o.isa_irq == 9).unwrap();
        assert_eq!((irq9.gsi, irq9.active_low, irq9.level_triggered), (9, false, true));
        assert_eq!(info.isa_irq_to_gsi(0), 2);
        assert_eq!(info.isa_irq_to_gsi(4), 4);
        assert_eq!((info.nr_absent_cpus, info.nr_dropped), (0, 0));
    }

    #[test]
    fn madt_lines_read_like_linux() {
        let info = parse_madt(&qemu_madt(2)).unwrap();
        let lines: Vec<String> = info
            .cpus()
            .map(|c| c.to_string())
            .chain(info.ioapics().map(|i| i.to_string()))
            .chain(info.overrides().map(|o| o.to_string()))
            .collect();
        assert_eq!(
            lines,
            [
                "LAPIC (acpi_id[0x00] lapic_id[0x00] enabled)",
                "LAPIC (acpi_id[0x01] lapic_id[0x01] enabled)",
                "IOAPIC (id[0x00] address[0xfec00000] gsi_base[0])",
                "INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)",
                "INT_SRC_OVR (bus 0 bus_irq 5 global_irq 5 high level)",
                "INT_SRC_OVR (bus 0 bus_irq 9 global_irq 9 high level)",
                "INT_SRC_OVR (bus 0 bus_irq 10 global_irq 10 high level)",
                "INT_SRC_OVR (bus 0 bus_irq 11 global_irq 11 high level)",
            ]
        );
    }

    #[test]
    fn disabled_hotplug_and_too_many_cpus() {
        let mut body = Vec::new();
        body.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend(lapic(0, 0, 1));
        body.extend(lapic(1, 1, 0)); // not present
        body.extend(lapic(2, 2, 2)); // online capable: may be hot-added
        for i in 3..=(MAX_MADT_CPUS as u8 + 2) {
            body.extend(lapic(i, i, 1));
        }
        let info = parse_madt(&table(b"APIC", &body)).unwrap();
        assert!(!info.pcat_compat);
        assert_eq!(info.nr_absent_cpus, 1);
        assert_eq!(info.nr_cpus, MAX_MADT_CPUS);
        assert_eq!(info.nr_dropped, 2, "two processors beyond the capacity");
        let hot = info.cpus().find(|c| c.apic_id == 2).unwrap();
        assert!(!hot.enabled && hot.online_capable);
        assert_eq!(hot.to_string(), "LAPIC (acpi_id[0x02] lapic_id[0x02] disabled)");
        assert_eq!(info.enabled_cpus().count(), MAX_MADT_CPUS - 1);
    }

    #[test]
    fn lapic_address_override_below_4g_wins() {
        let mut body = Vec::new();
        body.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        let mut ovr = vec![5, 12, 0, 0];
        ovr.extend_from_slice(&0xfed0_0000u64.to_le_bytes());
        body.extend(ovr);
        assert_eq!(parse_madt(&table(b"APIC", &body)).unwrap().lapic_phys, 0xfed0_0000);
    }

    #[test]
    fn corrupted_madt_is_rejected() {
        let good = qemu_madt(2);
        // A copy with one flipped bit: the checksum catches it.
        let mut copy = good.clone();
        copy[60] ^= 0x04;
        assert_eq!(parse_madt(&copy), Err(AcpiError::BadChecksum { table: *b"APIC" }));
        assert_eq!(
            AcpiError::BadChecksum { table: *b"APIC" }.to_string(),
            "ACPI: the APIC table has a bad checksum: it is corrupt, refusing to use it"
        );
        // An entry whose length runs past the end (checksum made valid, so
        // the walk itself must notice).
        let mut body = good[SDT_HEADER_LEN..].to_vec();
        body.extend_from_slice(&[1, 12, 0, 0]);
        let t = table(b"APIC", &body);
        let offset = t.len() - 4;
        assert_eq!(parse_madt(&t), Err(AcpiError::BadMadtEntry { offset, entry_type: 1, len: 12 }));
        // A zero length would loop for ever if it were not refused.
        let mut body = good[SDT_HEADER_LEN..].to_vec();
        body.extend_from_slice(&[7, 0]);
        assert!(matches!(parse_madt(&table(b"APIC", &body)), Err(AcpiError::BadMadtEntry { len: 0, .. })));
        // A LAPIC entry that claims to be shorter than a LAPIC entry.
        let mut body = good[SDT_HEADER_LEN..SDT_HEADER_LEN + 8].to_vec();
        body.extend_from_slice(&[0, 4, 0, 0]);
        assert!(matches!(parse_madt(&table(b"APIC", &body)), Err(AcpiError::BadMadtEntry { entry_type: 0, len: 4, .. })));
        assert!(matches!(parse_madt(&table(b"APIC", &[0; 4])), Err(AcpiError::Truncated { need: 44, .. })));
    }
}
