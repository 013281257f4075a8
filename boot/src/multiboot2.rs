//! Multiboot 2: the protocol GRUB's `multiboot2` command speaks.
//!
//! Like multiboot 1 there are two halves: a **header** in the kernel image
//! (the constants below, used by the entry code) and an **information
//! structure** the bootloader leaves in memory, passing its physical address
//! in `ebx` and [`BOOTLOADER_MAGIC`] in `eax`.
//!
//! The information structure is a list of *tags*, each
//! `{ type: u32, size: u32, payload }` padded to 8 bytes, after an 8-byte
//! header `{ total_size: u32, reserved: u32 }` and ending with an end tag
//! (type 0, size 8). Unlike multiboot 1's fixed layout this is extensible, so
//! we let the `multiboot2` crate do the part that is easy to get subtly
//! wrong: checking the header and that the tag chain is well formed
//! (`BootInformation::load`), and walking it.
//!
//! The *payloads* of the few tags we need are then decoded here, from bytes.
//! The crate's typed accessors are not used for them because they are made
//! for trusted input: `MemoryMapTag::memory_areas` and the tag casts
//! `assert!` (panic) on sizes a broken bootloader could produce, and the
//! string accessors reject invalid UTF-8 instead of repairing it. A panic
//! this early would be far less helpful than a [`BootError`] saying which
//! field is wrong.

use ::multiboot2::{BootInformation, BootInformationHeader, LoadError, MemoryAreaType, TagType};

use crate::info::{
    BootError, BootInfo, FixedStr, MemoryKind, Module, PhysReader, Protocol, RawRegion, le_u32,
    le_u64,
};

/// Magic number at the start of the multiboot 2 header in the kernel image.
pub const HEADER_MAGIC: u32 = 0xE852_50D6;
/// Magic number a multiboot 2 bootloader leaves in `eax`.
pub const BOOTLOADER_MAGIC: u32 = ::multiboot2::MAGIC;
/// The header's `architecture` field for 32-bit protected-mode i386.
pub const ARCHITECTURE_I386: u32 = 0;
/// Header tag type that ends the header's tag list (`{ 0u16, 0u16, 8u32 }`).
pub const HEADER_TAG_END: u16 = 0;

/// The header's checksum field: `magic + architecture + header_length +
/// checksum` must be 0 (mod 2^32).
pub const fn header_checksum(architecture: u32, header_length: u32) -> u32 {
    0u32.wrapping_sub(HEADER_MAGIC)
        .wrapping_sub(architecture)
        .wrapping_sub(header_length)
}

/// The fixed part of the information structure plus the mandatory end tag:
/// the smallest valid `total_size`.
const MIN_TOTAL_SIZE: u32 = 16;
/// Every tag, and the structure itself, is 8-byte aligned.
const ALIGN: u32 = 8;
/// `base_addr u64`, `length u64`, `type u32`, `reserved u32`.
const MMAP_ENTRY_MIN_SIZE: usize = 24;

const REASON_MMAP_TAG_SHORT: &str =
    "the memory-map tag is shorter than its 16-byte header (type, size, entry_size, entry_version)";
const REASON_ENTRY_SIZE: &str =
    "entry_size is below 24 bytes (base, length, type and reserved need 24)";
const REASON_PAST_END: &str = "the entry runs past the end of the memory-map tag";

/// Parses the multiboot 2 information structure at physical `info_phys`.
///
/// `BootInfo::info_phys` is `[info_phys, info_phys + total_size)`: the whole
/// structure, tags included. Everything the kernel uses is copied out of it,
/// but it also carries tags we do not decode (framebuffer, ACPI RSDP, ELF
/// sections), so the kernel may want to keep it.
pub(crate) fn parse(info_phys: u32, mem: &PhysReader<'_>) -> Result<BootInfo, BootError> {
    const WHAT: &str = "multiboot 2 information structure";
    // Check what we can ourselves first: the crate reports these as generic
    // memory errors, and we want to name the field.
    if !info_phys.is_multiple_of(ALIGN) {
        return Err(BootError::MalformedInfo(
            "the multiboot 2 information is not 8-byte aligned",
        ));
    }
    let total_size = le_u32(mem.bytes(info_phys, 8, WHAT)?, 0);
    if total_size < MIN_TOTAL_SIZE {
        return Err(BootError::MalformedInfo(
            "total_size is below 16 bytes, too small for the 8-byte header and the end tag",
        ));
    }
    if !total_size.is_multiple_of(ALIGN) {
        return Err(BootError::MalformedInfo(
            "total_size is not a multiple of 8",
        ));
    }
    // Make sure the *whole* structure is readable before the crate reads it.
    let bytes = mem.bytes(info_phys, total_size as usize, WHAT)?;
    if bytes.as_ptr().align_offset(ALIGN as usize) != 0 {
        return Err(BootError::MalformedInfo(
            "the multiboot 2 information is not 8-byte aligned where the kernel maps it",
        ));
    }
    // SAFETY: `bytes` is a readable, unchanging slice of `total_size` bytes,
    // and `total_size` (the header's own field, read above) is exactly how
    // much `load` reads.
    let boot_info =
        unsafe { BootInformation::load(bytes.as_ptr().cast::<BootInformationHeader>()) }
            .map_err(load_error)?;

    // `bytes` checked that the range ends below 4 GiB, so this fits.
    let mut info = BootInfo::new(Protocol::Multiboot2, (info_phys, info_phys + total_size));

    let mmap =
        first_tag(&boot_info, TagType::Mmap).ok_or(BootError::NoMemoryMap(Protocol::Multiboot2))?;
    read_memory_map(&mut info, mmap)?;

    if let Some(payload) = first_tag(&boot_info, TagType::Cmdline) {
        info.cmdline = string_from(payload);
    }
    if let Some(payload) = first_tag(&boot_info, TagType::BootLoaderName) {
        info.bootloader_name = string_from(payload);
    }
    let modules = || {
        boot_info
            .tags()
            .filter(|tag| tag.header().typ == TagType::Module)
            .map(|tag| tag.payload())
    };
    let total = modules().count();
    for payload in modules() {
        // Payload: mod_start u32, mod_end u32, NUL-terminated string.
        if payload.len() < 8 {
            return Err(BootError::MalformedInfo(
                "a module tag (type 3) is shorter than 16 bytes",
            ));
        }
        let module = Module {
            start: le_u32(payload, 0),
            end: le_u32(payload, 4),
            cmdline: string_from(&payload[8..]),
        };
        info.push_module(module, total)?;
    }
    Ok(info)
}

/// Explains a failed `BootInformation::load`. The header checks were done
/// before calling it, so what remains is about the tag chain.
fn load_error(error: LoadError) -> BootError {
    BootError::MalformedInfo(match error {
        LoadError::NoEndTag => "the tag list does not end with an end tag (type 0, size 8)",
        LoadError::Memory(_) => {
            "the tag list is malformed: a tag's size is below 8 bytes, a tag runs past \
             total_size, or the end tag is not the last tag"
        }
    })
}

/// The payload (the bytes after `type` and `size`) of the first tag of type
/// `typ`. Later duplicates are ignored, as the `multiboot2` crate does.
fn first_tag<'a>(boot_info: &'a BootInformation<'_>, typ: TagType) -> Option<&'a [u8]> {
    boot_info
        .tags()
        .find(|tag| tag.header().typ == typ)
        .map(|tag| tag.payload())
}

/// A tag's string: up to the first NUL (or the end of the tag, if a
/// bootloader forgot the terminator), made valid UTF-8.
fn string_from<const N: usize>(payload: &[u8]) -> FixedStr<N> {
    let len = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    FixedStr::from_bytes_lossy(&payload[..len])
}

/// Decodes the memory-map tag: `entry_size u32`, `entry_version u32`, then
/// entries of `entry_size` bytes each. Stepping by `entry_size` rather than
/// by 24 lets a future version append fields, as the specification intends.
fn read_memory_map(info: &mut BootInfo, payload: &[u8]) -> Result<(), BootError> {
    let malformed = |reason| BootError::MalformedMemoryMap {
        reason,
        entry: None,
    };
    if payload.len() < 8 {
        return Err(malformed(REASON_MMAP_TAG_SHORT));
    }
    let entry_size = le_u32(payload, 0) as usize;
    if entry_size < MMAP_ENTRY_MIN_SIZE {
        return Err(malformed(REASON_ENTRY_SIZE));
    }
    info.fill_memory_map(MmapEntries {
        entries: &payload[8..],
        entry_size,
        index: 0,
    })
}

/// Walks the entries of a memory-map tag.
struct MmapEntries<'a> {
    /// The bytes after `entry_size` and `entry_version`.
    entries: &'a [u8],
    /// At least [`MMAP_ENTRY_MIN_SIZE`].
    entry_size: usize,
    index: usize,
}

impl Iterator for MmapEntries<'_> {
    type Item = Result<RawRegion, BootError>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.index.checked_mul(self.entry_size)?;
        let rest = self.entries.get(offset..).filter(|rest| !rest.is_empty())?;
        if rest.len() < self.entry_size {
            // Report once, then stop.
            self.entries = &[];
            return Some(Err(BootError::MalformedMemoryMap {
                reason: REASON_PAST_END,
                entry: Some(self.index),
            }));
        }
        self.index += 1;
        Some(Ok(RawRegion {
            base: le_u64(rest, 0),
            len: le_u64(rest, 8),
            kind: kind_of(MemoryAreaType::from(le_u32(rest, 16))),
        }))
    }
}

/// The crate's names for the e820 types, in ours.
fn kind_of(typ: MemoryAreaType) -> MemoryKind {
    match typ {
        MemoryAreaType::Available => MemoryKind::Available,
        MemoryAreaType::Reserved => MemoryKind::Reserved,
        MemoryAreaType::AcpiAvailable => MemoryKind::AcpiReclaimable,
        MemoryAreaType::ReservedHibernate => MemoryKind::AcpiNvs,
        MemoryAreaType::Defective => MemoryKind::BadMemory,
        MemoryAreaType::Custom(raw) => MemoryKind::Unknown(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::fake_phys::FakePhys;
    use crate::info::{MAX_MEMORY_REGIONS, MemoryRegion, from_bootloader};
    use ::multiboot2::{
        BootLoaderNameTag, Builder, CommandLineTag, MemoryArea, MemoryMapTag, ModuleTag,
    };

    /// Where the fake information structure lives (8-byte aligned, as GRUB
    /// guarantees).
    const BASE: u32 = 0x1_0000;
    const FAKE_SIZE: usize = 0x4000;

    const QEMU_MAP: [(u64, u64, u32); 6] = [
        (0x0, 0x9fc00, 1),
        (0x9fc00, 0x400, 2),
        (0xf0000, 0x10000, 2),
        (0x100000, 0xbffe0000 - 0x100000, 1),
        (0xbffe0000, 0x20000, 2),
        (0xfffc0000, 0x40000, 2),
    ];

    fn regions(map: &[(u64, u64, u32)]) -> Vec<MemoryRegion> {
        map.iter()
            .map(|&(base, len, typ)| MemoryRegion {
                base,
                len,
                kind: MemoryKind::from_multiboot_type(typ),
            })
            .collect()
    }

    /// Puts `mbi` at `BASE` and parses it.
    fn parse_bytes(mbi: &[u8]) -> Result<BootInfo, BootError> {
        let mut mem = FakePhys::new(BASE, FAKE_SIZE);
        mem.write(BASE, mbi);
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        unsafe { from_bootloader(BOOTLOADER_MAGIC, BASE, &mem) }
    }

    fn error_of(mbi: &[u8]) -> (BootError, String) {
        let err = parse_bytes(mbi).unwrap_err();
        (err, err.to_string())
    }

    // A hand-made encoder, to produce the malformed structures the crate's
    // builder refuses to.

    fn tag(typ: u32, payload: &[u8]) -> Vec<u8> {
        let mut t = typ.to_le_bytes().to_vec();
        t.extend_from_slice(&(8 + payload.len() as u32).to_le_bytes());
        t.extend_from_slice(payload);
        t.resize(t.len().next_multiple_of(8), 0);
        t
    }

    fn mmap_tag(entry_size: u32, entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut payload = entry_size.to_le_bytes().to_vec();
        payload.extend_from_slice(&0u32.to_le_bytes()); // entry_version
        for &(base, len, typ) in entries {
            let mut e = base.to_le_bytes().to_vec();
            e.extend_from_slice(&len.to_le_bytes());
            e.extend_from_slice(&typ.to_le_bytes());
            e.resize(entry_size.max(20) as usize, 0);
            payload.extend_from_slice(&e);
        }
        tag(6, &payload)
    }

    /// Header, the given tags, then the end tag.
    fn mbi(tags: &[Vec<u8>]) -> Vec<u8> {
        let mut body: Vec<u8> = tags.concat();
        body.extend_from_slice(&tag(0, &[]));
        let mut out = (8 + body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&body);
        out
    }

    fn qemu_mbi_with(extra: &[Vec<u8>]) -> Vec<u8> {
        let mut tags = vec![mmap_tag(24, &QEMU_MAP)];
        tags.extend_from_slice(extra);
        mbi(&tags)
    }

    #[test]
    fn header_checksum_makes_the_sum_zero() {
        let len = 16;
        let sum = HEADER_MAGIC
            .wrapping_add(ARCHITECTURE_I386)
            .wrapping_add(len)
            .wrapping_add(header_checksum(ARCHITECTURE_I386, len));
        assert_eq!(sum, 0);
        assert_eq!(header_checksum(ARCHITECTURE_I386, 24), 0x17ADAF12);
    }

    #[test]
    fn parses_what_the_crate_builder_builds() {
        let areas: Vec<MemoryArea> = QEMU_MAP
            .iter()
            .map(|&(base, len, typ)| MemoryArea::new(base, len, MemoryAreaType::from(typ)))
            .collect();
        let built = Builder::new()
            .cmdline(CommandLineTag::new("/boot/kernel loglevel=info test"))
            .bootloader(BootLoaderNameTag::new("GRUB 2.12"))
            .add_module(ModuleTag::new(0x20_0000, 0x21_0000, "/boot/initrd"))
            .add_module(ModuleTag::new(0x21_0000, 0x21_0800, "/boot/extra opt=1"))
            .mmap(MemoryMapTag::new(&areas))
            .build();
        let total = built.header().total_size();
        let mut bytes = total.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(built.payload());

        let info = parse_bytes(&bytes).unwrap();
        assert_eq!(info.protocol, Protocol::Multiboot2);
        assert_eq!(info.memory_map(), regions(&QEMU_MAP).as_slice());
        assert_eq!(info.cmdline.as_str(), "/boot/kernel loglevel=info test");
        assert_eq!(info.bootloader_name.as_str(), "GRUB 2.12");
        assert_eq!(info.info_phys, (BASE, BASE + total));
        let modules = info.modules();
        assert_eq!(modules.len(), 2);
        assert_eq!((modules[0].start, modules[0].end), (0x20_0000, 0x21_0000));
        assert_eq!(modules[0].cmdline.as_str(), "/boot/initrd");
        assert_eq!(modules[1].cmdline.as_str(), "/boot/extra opt=1");
    }

    #[test]
    fn optional_tags_may_be_missing() {
        let info = parse_bytes(&qemu_mbi_with(&[])).unwrap();
        assert!(info.cmdline.is_empty());
        assert!(info.bootloader_name.is_empty());
        assert!(info.modules().is_empty());
    }

    #[test]
    fn keeps_ram_above_4gib_and_unknown_types() {
        let mut map = QEMU_MAP.to_vec();
        map.push((0x1_0000_0000, 0x4000_0000, 1));
        map.push((0x2_0000_0000, 0x1000, 7));
        let info = parse_bytes(&mbi(&[mmap_tag(24, &map)])).unwrap();
        assert_eq!(info.memory_map(), regions(&map).as_slice());
        assert_eq!(info.memory_map()[7].kind, MemoryKind::Unknown(7));
    }

    #[test]
    fn steps_by_a_larger_entry_size() {
        let info = parse_bytes(&mbi(&[mmap_tag(32, &QEMU_MAP)])).unwrap();
        assert_eq!(info.memory_map(), regions(&QEMU_MAP).as_slice());
    }

    #[test]
    fn strings_are_repaired_and_bounded() {
        let long = vec![b'y'; 100];
        let mbi = qemu_mbi_with(&[
            tag(1, b"kernel a=\xff b\0"),
            tag(2, &[long.as_slice(), b"\0"].concat()),
        ]);
        let info = parse_bytes(&mbi).unwrap();
        assert_eq!(info.cmdline.as_str(), "kernel a=? b");
        assert_eq!(info.bootloader_name.len(), 64);
        assert!(info.bootloader_name.is_truncated());
    }

    #[test]
    fn missing_memory_map_tag() {
        let (err, msg) = error_of(&mbi(&[tag(1, b"kernel\0")]));
        assert_eq!(err, BootError::NoMemoryMap(Protocol::Multiboot2));
        assert!(msg.contains("no memory-map tag (type 6)"), "{msg}");
    }

    #[test]
    fn empty_memory_map() {
        let (_, msg) = error_of(&mbi(&[mmap_tag(24, &[])]));
        assert_eq!(
            msg,
            "boot: malformed memory map: the map is empty (no entries)"
        );
    }

    #[test]
    fn memory_map_tag_too_short() {
        let (_, msg) = error_of(&mbi(&[tag(6, &24u32.to_le_bytes())]));
        assert!(msg.contains("shorter than its 16-byte header"), "{msg}");
    }

    #[test]
    fn entry_size_too_small() {
        let (err, msg) = error_of(&mbi(&[mmap_tag(20, &QEMU_MAP)]));
        assert!(matches!(
            err,
            BootError::MalformedMemoryMap { entry: None, .. }
        ));
        assert!(msg.contains("entry_size is below 24 bytes"), "{msg}");
    }

    #[test]
    fn entry_running_past_the_tag() {
        let mut mmap = mmap_tag(24, &QEMU_MAP);
        // Append half an entry and fix up the tag's size to include it.
        let size = le_u32(&mmap, 4) + 12;
        mmap.truncate(le_u32(&mmap, 4) as usize);
        mmap.extend_from_slice(&[0xaa; 12]);
        mmap[4..8].copy_from_slice(&size.to_le_bytes());
        mmap.resize(mmap.len().next_multiple_of(8), 0);
        let (err, msg) = error_of(&mbi(&[mmap]));
        assert!(matches!(
            err,
            BootError::MalformedMemoryMap { entry: Some(6), .. }
        ));
        assert!(
            msg.contains("at entry 6: the entry runs past the end of the memory-map tag"),
            "{msg}"
        );
    }

    #[test]
    fn zero_length_entry_is_dropped_and_counted() {
        let info = parse_bytes(&mbi(&[mmap_tag(24, &[(0, 0x9fc00, 1), (0x9fc00, 0, 2)])])).unwrap();
        assert_eq!(info.memory_map().len(), 1);
        assert_eq!(info.zero_length_entries, 1);
    }

    #[test]
    fn region_overflowing_64_bits() {
        let map = [(0, 0x9fc00, 1), (u64::MAX - 0xfff, 0x2000, 2)];
        let (_, msg) = error_of(&mbi(&[mmap_tag(24, &map)]));
        assert!(
            msg.contains("at entry 1: base + length overflows 64 bits"),
            "{msg}"
        );
    }

    #[test]
    fn too_many_entries() {
        let map: Vec<_> = (0..MAX_MEMORY_REGIONS as u64 + 1)
            .map(|i| (i * 0x1000, 0x1000, 1))
            .collect();
        let (err, msg) = error_of(&mbi(&[mmap_tag(24, &map)]));
        assert_eq!(err, BootError::TooManyMemoryRegions { count: 65 });
        assert!(
            msg.contains("has 65 entries, more than MAX_MEMORY_REGIONS (64)"),
            "{msg}"
        );
    }

    #[test]
    fn no_available_region() {
        let (_, msg) = error_of(&mbi(&[mmap_tag(
            24,
            &[(0, 0x9fc00, 2), (0x100000, 0x1000, 5)],
        )]));
        assert!(
            msg.contains("no available RAM: no region has type 1 (usable)"),
            "{msg}"
        );
    }

    #[test]
    fn module_tags() {
        let module = |start: u32, end: u32, name: &str| {
            let mut payload = start.to_le_bytes().to_vec();
            payload.extend_from_slice(&end.to_le_bytes());
            payload.extend_from_slice(name.as_bytes());
            payload.push(0);
            tag(3, &payload)
        };
        let info = parse_bytes(&qemu_mbi_with(&[module(0x30_0000, 0x30_1000, "initrd")])).unwrap();
        assert_eq!(info.modules()[0].cmdline.as_str(), "initrd");

        let (_, msg) = error_of(&qemu_mbi_with(&[tag(3, &[0; 4])]));
        assert!(
            msg.contains("a module tag (type 3) is shorter than 16 bytes"),
            "{msg}"
        );

        let (_, msg) = error_of(&qemu_mbi_with(&[module(0x30_1000, 0x30_0000, "backwards")]));
        assert!(msg.contains("end address is below its start"), "{msg}");

        let many: Vec<_> = (0..10)
            .map(|i| module(i * 0x1000, i * 0x1000 + 0x800, "m"))
            .collect();
        let (err, msg) = error_of(&qemu_mbi_with(&many));
        assert_eq!(err, BootError::TooManyModules { count: 10 });
        assert!(
            msg.contains("loaded 10 modules, more than MAX_MODULES (8)"),
            "{msg}"
        );
    }

    #[test]
    fn bad_headers() {
        let good = qemu_mbi_with(&[]);

        let mut small = good.clone();
        small[0..4].copy_from_slice(&8u32.to_le_bytes());
        let (err, msg) = error_of(&small);
        assert!(matches!(err, BootError::MalformedInfo(_)));
        assert!(msg.contains("total_size is below 16 bytes"), "{msg}");

        let mut odd = good.clone();
        odd[0..4].copy_from_slice(&(good.len() as u32 - 4).to_le_bytes());
        let (_, msg) = error_of(&odd);
        assert!(msg.contains("total_size is not a multiple of 8"), "{msg}");

        let mut mem = FakePhys::new(BASE, FAKE_SIZE);
        mem.write(BASE + 4, &good);
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let err = unsafe { from_bootloader(BOOTLOADER_MAGIC, BASE + 4, &mem) }.unwrap_err();
        assert!(err.to_string().contains("not 8-byte aligned"), "{err}");
    }

    #[test]
    fn bad_tag_lists() {
        // total_size stops before the end tag.
        let mut no_end = qemu_mbi_with(&[]);
        let without_end = no_end.len() as u32 - 8;
        no_end[0..4].copy_from_slice(&without_end.to_le_bytes());
        let (_, msg) = error_of(&no_end);
        assert!(
            msg.contains("does not end with an end tag (type 0, size 8)"),
            "{msg}"
        );

        // A tag claims to be larger than what is left.
        let mut overrun = qemu_mbi_with(&[tag(1, b"kernel\0")]);
        let cmdline_at = 8 + mmap_tag(24, &QEMU_MAP).len();
        overrun[cmdline_at + 4..cmdline_at + 8].copy_from_slice(&0x1000u32.to_le_bytes());
        let (_, msg) = error_of(&overrun);
        assert!(msg.contains("the tag list is malformed"), "{msg}");

        // A tag smaller than its own header.
        let mut tiny = qemu_mbi_with(&[tag(1, b"kernel\0")]);
        tiny[cmdline_at + 4..cmdline_at + 8].copy_from_slice(&4u32.to_le_bytes());
        let (_, msg) = error_of(&tiny);
        assert!(msg.contains("a tag's size is below 8 bytes"), "{msg}");
    }

    #[test]
    fn out_of_reach() {
        let mem = FakePhys::new(BASE, FAKE_SIZE);
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let err = unsafe { from_bootloader(BOOTLOADER_MAGIC, 0x3800_0000, &mem) }.unwrap_err();
        assert_eq!(
            err,
            BootError::InfoOutOfReach {
                phys: 0x3800_0000,
                what: "multiboot 2 information structure"
            }
        );

        // The header is readable but total_size claims more than is.
        let mut huge = qemu_mbi_with(&[]);
        huge[0..4].copy_from_slice(&0x10_0000u32.to_le_bytes());
        let (err, msg) = error_of(&huge);
        assert!(matches!(err, BootError::InfoOutOfReach { phys: BASE, .. }));
        assert!(
            msg.contains(
                "cannot read the multiboot 2 information structure at physical address 0x00010000"
            ),
            "{msg}"
        );
    }
}
