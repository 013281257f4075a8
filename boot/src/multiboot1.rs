//! Multiboot 1: the protocol QEMU's `-kernel` option speaks.
//!
//! The [Multiboot 0.6.96] specification defines two things, both here:
//!
//! * the **header** in the kernel image, which tells the bootloader "this is
//!   a multiboot kernel" (the constants below, used by the entry code);
//! * the **information structure** the bootloader leaves in memory, whose
//!   physical address it passes in `ebx` (with [`BOOTLOADER_MAGIC`] in
//!   `eax`). `parse` (reached through
//!   [`crate::info::from_bootloader`]) turns it into a [`BootInfo`].
//!
//! We parse it ourselves instead of using a crate: it is a flat structure of
//! a dozen little-endian fields, and reading it by hand shows exactly what a
//! bootloader gives a kernel. Every field is only valid if its bit in `flags`
//! is set, so each is read under its flag.
//!
//! ```text
//! offset  field                 flag bit
//!      0  flags                 -
//!      4  mem_lower, mem_upper  0   (KiB below 1 MiB / above 1 MiB)
//!     16  cmdline               2   physical address of a NUL-terminated string
//!     20  mods_count, mods_addr 3   array of 16-byte module entries
//!     44  mmap_length, mmap_addr 6  the BIOS e820 memory map
//!     64  boot_loader_name      9   physical address of a NUL-terminated string
//!     88  framebuffer_*         12  (up to offset 116)
//! ```
//!
//! [Multiboot 0.6.96]: https://www.gnu.org/software/grub/manual/multiboot/multiboot.html

use crate::info::{
    BootError, BootInfo, FixedStr, MemoryKind, Module, PhysReader, Protocol, RawRegion, le_u32,
    le_u64,
};

/// Magic number at the start of the multiboot 1 header in the kernel image.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// Magic number a multiboot 1 bootloader leaves in `eax`.
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;

/// Header flag: load boot modules page-aligned.
pub const PAGE_ALIGN: u32 = 1 << 0;
/// Header flag: provide `mem_lower`/`mem_upper` and, if the bootloader can,
/// the memory map. Without it, a bootloader need not pass a memory map.
pub const MEMORY_INFO: u32 = 1 << 1;

/// The header's checksum field: `magic + flags + checksum` must be 0
/// (mod 2^32), so the bootloader can tell a real header from random bytes.
pub const fn header_checksum(flags: u32) -> u32 {
    0u32.wrapping_sub(HEADER_MAGIC).wrapping_sub(flags)
}

/// Information flag: `mem_lower` and `mem_upper` are valid.
pub const INFO_MEMORY: u32 = 1 << 0;
/// Information flag: `cmdline` is valid.
pub const INFO_CMDLINE: u32 = 1 << 2;
/// Information flag: `mods_count` and `mods_addr` are valid.
pub const INFO_MODS: u32 = 1 << 3;
/// Information flag: `mmap_length` and `mmap_addr` are valid.
pub const INFO_MMAP: u32 = 1 << 6;
/// Information flag: `boot_loader_name` is valid.
pub const INFO_BOOT_LOADER_NAME: u32 = 1 << 9;
/// Information flag: the framebuffer fields (offsets 88..116) are valid.
pub const INFO_FRAMEBUFFER: u32 = 1 << 12;

/// Size of the information structure up to and including the VBE fields.
pub const INFO_SIZE: usize = 88;
/// Size of the information structure including the framebuffer fields.
pub const INFO_SIZE_WITH_FRAMEBUFFER: usize = 116;

// Field offsets in the information structure.
const OFF_FLAGS: usize = 0;
const OFF_CMDLINE: usize = 16;
const OFF_MODS_COUNT: usize = 20;
const OFF_MODS_ADDR: usize = 24;
const OFF_MMAP_LENGTH: usize = 44;
const OFF_MMAP_ADDR: usize = 48;
const OFF_BOOT_LOADER_NAME: usize = 64;

/// Bytes of a memory-map entry after its `size` field that we read:
/// `base_addr u64`, `length u64`, `type u32`.
const MMAP_ENTRY_MIN_SIZE: usize = 20;
/// Size of one module entry: `mod_start`, `mod_end`, `string`, reserved.
const MODULE_ENTRY_SIZE: usize = 16;

const REASON_ENTRY_TOO_SMALL: &str =
    "the entry's size field is below 20 bytes (base, length and type need 20)";
const REASON_PAST_END: &str = "the entry runs past the end of the map (mmap_length)";

/// Parses the multiboot 1 information structure at physical `info_phys`.
///
/// `BootInfo::info_phys` covers the structure itself: 88 bytes, or 116 if
/// the framebuffer fields are valid. The memory map, strings and module list
/// live elsewhere (wherever the bootloader put them) but are all *copied*
/// into the `BootInfo`, so they need no protection afterwards; only the
/// modules' contents must be reserved, see [`BootInfo::modules`].
pub(crate) fn parse(info_phys: u32, mem: &PhysReader<'_>) -> Result<BootInfo, BootError> {
    const WHAT: &str = "multiboot 1 information structure";
    let flags = le_u32(mem.bytes(info_phys, 4, WHAT)?, OFF_FLAGS);
    let size = if flags & INFO_FRAMEBUFFER != 0 {
        INFO_SIZE_WITH_FRAMEBUFFER
    } else {
        INFO_SIZE
    };
    let raw = mem.bytes(info_phys, size, WHAT)?;
    // `bytes` checked that the range does not pass 4 GiB, so this fits.
    let end = info_phys + size as u32;
    let mut info = BootInfo::new(Protocol::Multiboot1, (info_phys, end));

    if flags & INFO_MMAP == 0 {
        return Err(BootError::NoMemoryMap(Protocol::Multiboot1));
    }
    let mmap_length = le_u32(raw, OFF_MMAP_LENGTH) as usize;
    let mmap_addr = le_u32(raw, OFF_MMAP_ADDR);
    let mmap = mem.bytes(mmap_addr, mmap_length, "multiboot 1 memory map")?;
    info.fill_memory_map(MmapEntries {
        mmap,
        offset: 0,
        index: 0,
    })?;

    if flags & INFO_CMDLINE != 0 {
        info.cmdline = mem.c_string(le_u32(raw, OFF_CMDLINE), "kernel command line")?;
    }
    if flags & INFO_BOOT_LOADER_NAME != 0 {
        info.bootloader_name =
            mem.c_string(le_u32(raw, OFF_BOOT_LOADER_NAME), "bootloader name")?;
    }
    if flags & INFO_MODS != 0 {
        read_modules(&mut info, raw, mem)?;
    }
    Ok(info)
}

/// Copies the module list (`mods_count` entries of 16 bytes at `mods_addr`).
fn read_modules(info: &mut BootInfo, raw: &[u8], mem: &PhysReader<'_>) -> Result<(), BootError> {
    let count = le_u32(raw, OFF_MODS_COUNT) as usize;
    let addr = le_u32(raw, OFF_MODS_ADDR);
    let len = count
        .checked_mul(MODULE_ENTRY_SIZE)
        .ok_or(BootError::InfoOutOfReach {
            phys: addr,
            what: "multiboot 1 module list",
        })?;
    let list = mem.bytes(addr, len, "multiboot 1 module list")?;
    for entry in list.chunks_exact(MODULE_ENTRY_SIZE) {
        let string = le_u32(entry, 8);
        // A null string pointer means "no command line"; physical 0 is the
        // real-mode interrupt table, never a string.
        let cmdline = if string == 0 {
            FixedStr::new()
        } else {
            mem.c_string(string, "module command line")?
        };
        let module = Module {
            start: le_u32(entry, 0),
            end: le_u32(entry, 4),
            cmdline,
        };
        info.push_module(module, count)?;
    }
    Ok(())
}

/// Walks the memory map. Entries are variable-sized: each starts with a
/// `size` field giving the size of the *rest* of the entry, so the next one
/// is at `entry + 4 + size`. (That lets a future bootloader append fields;
/// we read the first 20 bytes and skip the rest.)
struct MmapEntries<'a> {
    mmap: &'a [u8],
    /// Where the next entry's `size` field is.
    offset: usize,
    /// How many entries have been returned, for error messages.
    index: usize,
}

impl MmapEntries<'_> {
    /// Reports entry `self.index` as malformed and ends the walk: after a bad
    /// size field, where the next entry starts is anyone's guess.
    fn fail(&mut self, reason: &'static str) -> Option<Result<RawRegion, BootError>> {
        self.offset = self.mmap.len();
        Some(Err(BootError::MalformedMemoryMap {
            reason,
            entry: Some(self.index),
        }))
    }
}

impl Iterator for MmapEntries<'_> {
    type Item = Result<RawRegion, BootError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mmap = self.mmap;
        let rest = &mmap[self.offset..];
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 4 {
            return self.fail(REASON_PAST_END);
        }
        let size = le_u32(rest, 0) as usize;
        if size < MMAP_ENTRY_MIN_SIZE {
            return self.fail(REASON_ENTRY_TOO_SMALL);
        }
        if size > rest.len() - 4 {
            return self.fail(REASON_PAST_END);
        }
        self.offset += 4 + size;
        self.index += 1;
        Some(Ok(RawRegion {
            base: le_u64(rest, 4),
            len: le_u64(rest, 12),
            kind: MemoryKind::from_multiboot_type(le_u32(rest, 20)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::fake_phys::FakePhys;
    use crate::info::{BootError, MAX_MEMORY_REGIONS, MemoryRegion, from_bootloader};

    /// Where the fake information structure lives, as under QEMU (which puts
    /// it at 0x9500) or GRUB: somewhere in low memory.
    const BASE: u32 = 0x9000;
    const FAKE_SIZE: usize = 0x4000;

    /// One memory-map entry in the standard 24-byte layout.
    fn entry(base: u64, len: u64, typ: u32) -> Vec<u8> {
        entry_sized(20, base, len, typ)
    }

    /// A memory-map entry whose `size` field says `size`: at least 20 bytes
    /// of payload are written (zero-padded up to `size`), so that a too-small
    /// size field is the only thing wrong with it.
    fn entry_sized(size: u32, base: u64, len: u64, typ: u32) -> Vec<u8> {
        let mut e = size.to_le_bytes().to_vec();
        e.extend_from_slice(&base.to_le_bytes());
        e.extend_from_slice(&len.to_le_bytes());
        e.extend_from_slice(&typ.to_le_bytes());
        e.resize(e.len().max(4 + size as usize), 0);
        e
    }

    /// The map QEMU's SeaBIOS reports for `-m 3G`: low RAM, the EBDA, the
    /// BIOS ROM, RAM up to the PCI hole, and the flash at the top of 4 GiB.
    fn qemu_map() -> Vec<MemoryRegion> {
        use MemoryKind::*;
        [
            (0x0, 0x9fc00, Available),
            (0x9fc00, 0x400, Reserved),
            (0xf0000, 0x10000, Reserved),
            (0x100000, 0xbffe0000 - 0x100000, Available),
            (0xbffe0000, 0x20000, Reserved),
            (0xfffc0000, 0x40000, Reserved),
        ]
        .into_iter()
        .map(|(base, len, kind)| MemoryRegion { base, len, kind })
        .collect()
    }

    fn entries_of(map: &[MemoryRegion]) -> Vec<u8> {
        map.iter()
            .flat_map(|r| {
                let typ = match r.kind {
                    MemoryKind::Available => 1,
                    MemoryKind::Reserved => 2,
                    MemoryKind::AcpiReclaimable => 3,
                    MemoryKind::AcpiNvs => 4,
                    MemoryKind::BadMemory => 5,
                    MemoryKind::Unknown(t) => t,
                };
                entry(r.base, r.len, typ)
            })
            .collect()
    }

    /// Lays out an information structure at [`BASE`] plus everything it
    /// points to, the way a bootloader would.
    struct Mb1 {
        flags: u32,
        mmap: Vec<u8>,
        /// Overrides `mmap_length` (default: the length of `mmap`).
        mmap_length: Option<u32>,
        /// Overrides `mmap_addr` (default: where `mmap` was placed).
        mmap_addr: Option<u32>,
        cmdline: Option<&'static [u8]>,
        cmdline_addr: Option<u32>,
        name: Option<&'static [u8]>,
        modules: Vec<(u32, u32, &'static str)>,
    }

    impl Mb1 {
        /// QEMU's information for `-kernel ... -append "loglevel=debug"`.
        fn qemu() -> Self {
            Self {
                flags: INFO_MEMORY | INFO_MMAP,
                mmap: entries_of(&qemu_map()),
                mmap_length: None,
                mmap_addr: None,
                cmdline: Some(b"/work/main/target/i686-kernel/debug/kernel loglevel=debug"),
                cmdline_addr: None,
                name: Some(b"qemu"),
                modules: Vec::new(),
            }
        }

        fn with_mmap(mut self, mmap: Vec<u8>) -> Self {
            self.mmap = mmap;
            self
        }

        fn build(&self) -> FakePhys {
            let mut mem = FakePhys::new(BASE, FAKE_SIZE);
            let mut next = BASE + 0x100; // after the 116-byte structure
            let mut place = |mem: &mut FakePhys, bytes: &[u8]| {
                let at = next;
                mem.write(at, bytes);
                next += (bytes.len() as u32 + 7) & !7;
                at
            };
            let mut flags = self.flags;

            let mmap_at = place(&mut mem, &self.mmap);
            let mmap_length = self.mmap_length.unwrap_or(self.mmap.len() as u32);
            mem.write_u32(BASE + 44, mmap_length);
            mem.write_u32(BASE + 48, self.mmap_addr.unwrap_or(mmap_at));

            if let Some(cmdline) = self.cmdline {
                let at = place(&mut mem, &[cmdline, b"\0"].concat());
                mem.write_u32(BASE + 16, self.cmdline_addr.unwrap_or(at));
                flags |= INFO_CMDLINE;
            }
            if let Some(name) = self.name {
                let at = place(&mut mem, &[name, b"\0"].concat());
                mem.write_u32(BASE + 64, at);
                flags |= INFO_BOOT_LOADER_NAME;
            }
            if !self.modules.is_empty() {
                let mut list = Vec::new();
                for &(start, end, name) in &self.modules {
                    let string = place(&mut mem, &[name.as_bytes(), b"\0"].concat());
                    for field in [start, end, string, 0] {
                        list.extend_from_slice(&field.to_le_bytes());
                    }
                }
                let at = place(&mut mem, &list);
                mem.write_u32(BASE + 20, self.modules.len() as u32);
                mem.write_u32(BASE + 24, at);
                flags |= INFO_MODS;
            }
            mem.write_u32(BASE, flags);
            mem
        }

        fn parse(&self) -> Result<BootInfo, BootError> {
            let mem = self.build();
            // SAFETY: FakePhys hands out pointers into its own live buffer.
            unsafe { from_bootloader(BOOTLOADER_MAGIC, BASE, &mem) }
        }

        fn error(&self) -> (BootError, String) {
            let err = self.parse().unwrap_err();
            (err, err.to_string())
        }
    }

    #[test]
    fn header_checksum_makes_the_sum_zero() {
        let flags = PAGE_ALIGN | MEMORY_INFO;
        let sum = HEADER_MAGIC
            .wrapping_add(flags)
            .wrapping_add(header_checksum(flags));
        assert_eq!(sum, 0);
        assert_eq!(header_checksum(flags), 0xE4524FFB);
    }

    #[test]
    fn parses_a_qemu_like_structure() {
        let info = Mb1::qemu().parse().unwrap();
        assert_eq!(info.protocol, Protocol::Multiboot1);
        assert_eq!(info.memory_map(), qemu_map().as_slice());
        assert_eq!(
            info.cmdline.as_str(),
            "/work/main/target/i686-kernel/debug/kernel loglevel=debug"
        );
        assert_eq!(info.bootloader_name.as_str(), "qemu");
        assert!(info.modules().is_empty());
        assert_eq!(info.info_phys, (BASE, BASE + 88));
        let printed = info.memory_map_display().to_string();
        assert!(printed.contains("BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable"));
        assert!(
            printed.contains("BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved")
        );
    }

    #[test]
    fn keeps_ram_above_4gib() {
        let mut map = qemu_map();
        map.push(MemoryRegion {
            base: 0x1_0000_0000,
            len: 0x4000_0000,
            kind: MemoryKind::Available,
        });
        let info = Mb1::qemu().with_mmap(entries_of(&map)).parse().unwrap();
        assert_eq!(info.memory_map(), map.as_slice());
        assert_eq!(info.memory_map()[6].end(), 0x1_4000_0000);
    }

    #[test]
    fn skips_larger_entries_by_their_size_field() {
        let mut mmap = entry_sized(28, 0, 0x9fc00, 1);
        mmap.extend(entry(0x100000, 0x100000, 1));
        let info = Mb1::qemu().with_mmap(mmap).parse().unwrap();
        assert_eq!(info.memory_map().len(), 2);
        assert_eq!(info.memory_map()[1].base, 0x100000);
    }

    #[test]
    fn optional_fields_are_read_only_under_their_flags() {
        let mut mb = Mb1::qemu();
        mb.cmdline = None;
        mb.name = None;
        let info = mb.parse().unwrap();
        assert!(info.cmdline.is_empty());
        assert!(info.bootloader_name.is_empty());
    }

    #[test]
    fn framebuffer_flag_extends_the_structure() {
        let mut mb = Mb1::qemu();
        mb.flags |= INFO_FRAMEBUFFER;
        assert_eq!(mb.parse().unwrap().info_phys, (BASE, BASE + 116));
    }

    #[test]
    fn invalid_utf8_in_the_command_line_is_replaced() {
        let mut mb = Mb1::qemu();
        mb.cmdline = Some(b"kernel a=\xff\xfe b");
        assert_eq!(mb.parse().unwrap().cmdline.as_str(), "kernel a=?? b");
    }

    #[test]
    fn an_overlong_command_line_is_truncated() {
        let mut mb = Mb1::qemu();
        mb.cmdline = Some(&[b'x'; 1500]);
        let info = mb.parse().unwrap();
        assert_eq!(info.cmdline.len(), 1024);
        assert!(info.cmdline.is_truncated());
    }

    #[test]
    fn copies_modules() {
        let mut mb = Mb1::qemu();
        mb.modules = vec![
            (0x200000, 0x210000, "/boot/initrd"),
            (0x210000, 0x211000, "extra arg=1"),
        ];
        let info = mb.parse().unwrap();
        let modules = info.modules();
        assert_eq!(modules.len(), 2);
        assert_eq!((modules[0].start, modules[0].end), (0x200000, 0x210000));
        assert_eq!(modules[0].cmdline.as_str(), "/boot/initrd");
        assert_eq!(modules[1].cmdline.as_str(), "extra arg=1");
    }

    #[test]
    fn too_many_modules() {
        let mut mb = Mb1::qemu();
        mb.modules = (0..9)
            .map(|i| (0x200000 + i * 0x1000, 0x201000 + i * 0x1000, "m"))
            .collect();
        let (err, msg) = mb.error();
        assert_eq!(err, BootError::TooManyModules { count: 9 });
        assert!(
            msg.contains("loaded 9 modules, more than MAX_MODULES (8)"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_magic_is_rejected() {
        let mem = Mb1::qemu().build();
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let err = unsafe { from_bootloader(HEADER_MAGIC, BASE, &mem) }.unwrap_err();
        assert_eq!(err, BootError::UnknownMagic(HEADER_MAGIC));
        assert!(
            err.to_string()
                .contains("unknown bootloader magic 0x1badb002")
        );
    }

    #[test]
    fn missing_memory_map() {
        let mut mb = Mb1::qemu();
        mb.flags &= !INFO_MMAP;
        let (err, msg) = mb.error();
        assert_eq!(err, BootError::NoMemoryMap(Protocol::Multiboot1));
        assert!(msg.contains("flags bit 6 (mmap) clear"), "{msg}");
    }

    #[test]
    fn empty_memory_map() {
        let (err, msg) = Mb1::qemu().with_mmap(Vec::new()).error();
        assert_eq!(
            err,
            BootError::MalformedMemoryMap {
                reason: crate::info::REASON_EMPTY,
                entry: None
            }
        );
        assert_eq!(
            msg,
            "boot: malformed memory map: the map is empty (no entries)"
        );
    }

    #[test]
    fn entry_size_too_small() {
        let mut mmap = entry(0, 0x9fc00, 1);
        mmap.extend(entry_sized(16, 0x100000, 0x100000, 1));
        let (err, msg) = Mb1::qemu().with_mmap(mmap).error();
        assert!(matches!(
            err,
            BootError::MalformedMemoryMap { entry: Some(1), .. }
        ));
        assert!(
            msg.contains("at entry 1: the entry's size field is below 20 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn entry_running_past_mmap_length() {
        let mut mb = Mb1::qemu();
        // Cut the last entry short by 4 bytes.
        mb.mmap_length = Some(mb.mmap.len() as u32 - 4);
        let (err, msg) = mb.error();
        assert!(matches!(
            err,
            BootError::MalformedMemoryMap { entry: Some(5), .. }
        ));
        assert!(
            msg.contains("at entry 5: the entry runs past the end of the map"),
            "{msg}"
        );

        // Leftover bytes too few to hold even a size field.
        let mut mb = Mb1::qemu();
        mb.mmap.extend([0, 0]);
        let (_, msg) = mb.error();
        assert!(
            msg.contains("at entry 6: the entry runs past the end"),
            "{msg}"
        );
    }

    #[test]
    fn zero_length_entry_is_dropped_and_counted() {
        let mut mmap = entry(0, 0x9fc00, 1);
        mmap.extend(entry(0x9fc00, 0, 2));
        mmap.extend(entry(0x100000, 0x100000, 1));
        let info = Mb1::qemu().with_mmap(mmap).parse().unwrap();
        assert_eq!(info.memory_map().len(), 2);
        assert_eq!(info.zero_length_entries, 1);
    }

    #[test]
    fn region_overflowing_64_bits() {
        let mut mmap = entry(0, 0x9fc00, 1);
        mmap.extend(entry(0xffff_ffff_ffff_f000, 0x2000, 2));
        let (_, msg) = Mb1::qemu().with_mmap(mmap).error();
        assert!(
            msg.contains("at entry 1: base + length overflows 64 bits"),
            "{msg}"
        );
        // Ending just below 2^64 is fine (`MemoryRegion::end` must fit).
        let mut mmap = entry(0, 0x9fc00, 1);
        mmap.extend(entry(0xffff_ffff_ffff_e000, 0x1000, 2));
        assert!(Mb1::qemu().with_mmap(mmap).parse().is_ok());
    }

    #[test]
    fn too_many_entries() {
        let count = MAX_MEMORY_REGIONS + 6;
        let mmap = (0..count as u64)
            .flat_map(|i| entry(i * 0x1000, 0x1000, 1))
            .collect();
        let (err, msg) = Mb1::qemu().with_mmap(mmap).error();
        assert_eq!(err, BootError::TooManyMemoryRegions { count });
        assert!(
            msg.contains("has 70 entries, more than MAX_MEMORY_REGIONS (64)"),
            "{msg}"
        );

        // Exactly the capacity is fine.
        let mmap = (0..MAX_MEMORY_REGIONS as u64)
            .flat_map(|i| entry(i * 0x1000, 0x1000, 1))
            .collect();
        let info = Mb1::qemu().with_mmap(mmap).parse().unwrap();
        assert_eq!(info.memory_map().len(), MAX_MEMORY_REGIONS);
    }

    #[test]
    fn no_available_region() {
        let mmap = [entry(0, 0x9fc00, 2), entry(0xf0000, 0x10000, 3)].concat();
        let (_, msg) = Mb1::qemu().with_mmap(mmap).error();
        assert!(
            msg.contains("no available RAM: no region has type 1 (usable)"),
            "{msg}"
        );
    }

    #[test]
    fn info_structure_out_of_reach() {
        let mem = Mb1::qemu().build();
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let err = unsafe { from_bootloader(BOOTLOADER_MAGIC, 0x10_0000, &mem) }.unwrap_err();
        assert_eq!(
            err,
            BootError::InfoOutOfReach {
                phys: 0x10_0000,
                what: "multiboot 1 information structure"
            }
        );
        assert_eq!(
            err.to_string(),
            "boot: cannot read the multiboot 1 information structure at physical address \
             0x00100000: it is outside the memory the kernel can reach this early"
        );
        // Starting inside reach but ending outside is just as bad.
        let last = BASE + FAKE_SIZE as u32 - 40;
        // SAFETY: as above.
        let err = unsafe { from_bootloader(BOOTLOADER_MAGIC, last, &mem) }.unwrap_err();
        assert!(matches!(err, BootError::InfoOutOfReach { phys, .. } if phys == last));
    }

    #[test]
    fn memory_map_out_of_reach() {
        let mut mb = Mb1::qemu();
        mb.mmap_addr = Some(0x3800_0000);
        let (_, msg) = mb.error();
        assert!(
            msg.contains("cannot read the multiboot 1 memory map at physical address 0x38000000")
        );
    }

    #[test]
    fn command_line_out_of_reach() {
        let mut mb = Mb1::qemu();
        mb.cmdline_addr = Some(0xc000_0000);
        let (_, msg) = mb.error();
        assert!(msg.contains("cannot read the kernel command line at physical address 0xc0000000"));
    }
}
