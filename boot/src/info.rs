//! One normalised description of how the machine was booted.
//!
//! The kernel can be started by two different protocols: multiboot 1 (what
//! QEMU's `-kernel` option speaks) and multiboot 2 (what GRUB's `multiboot2`
//! command speaks). Each hands over its own binary structure in memory. Both
//! parsers ([`crate::multiboot1`] and [`crate::multiboot2`]) end up filling in
//! the *same* [`BootInfo`], so the rest of the kernel never sees a multiboot
//! structure and never cares which bootloader ran. Linux does the same thing:
//! whatever the boot path, the memory map ends up in `struct e820_table`.
//!
//! Two constraints shape this file:
//!
//! * **No heap.** `BootInfo` is built before the kernel has a page allocator,
//!   let alone a heap, because finding RAM for the allocator is exactly what
//!   the memory map is for. So every list is a fixed-capacity array and every
//!   string is a [`FixedStr`]. The capacities are generous for real machines;
//!   overflowing one is reported as an error rather than silently dropping
//!   data (a dropped memory-map entry or module could get overwritten).
//! * **Every read of bootloader memory is bounds-checked.** The bootloader
//!   hands us *physical* addresses, but by the time Rust code runs, paging is
//!   on and only part of physical memory is mapped. The caller describes what
//!   it can reach with a [`PhysAccess`]; a pointer to somewhere unmapped then
//!   becomes a clear [`BootError::InfoOutOfReach`] instead of a page fault
//!   with no explanation.

use core::fmt;

use crate::{multiboot1, multiboot2};

/// How many memory-map entries [`BootInfo`] can hold. Real firmware reports
/// between a handful and a few dozen; QEMU reports six.
pub const MAX_MEMORY_REGIONS: usize = 64;

/// How many boot modules [`BootInfo`] can hold.
pub const MAX_MODULES: usize = 8;

/// Which boot protocol started the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Multiboot 1 (0.6.96): QEMU `-kernel`, GRUB `multiboot`.
    Multiboot1,
    /// Multiboot 2: GRUB `multiboot2`.
    Multiboot2,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Multiboot1 => "multiboot 1",
            Self::Multiboot2 => "multiboot 2",
        })
    }
}

/// What a range of physical memory is, as the firmware reports it.
///
/// Both multiboot versions pass the BIOS's e820 types through unchanged
/// (1 to 5), so this is the e820 vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Type 1: RAM the kernel may use.
    Available,
    /// Type 2: in use by firmware or devices; never touch.
    Reserved,
    /// Type 3: holds ACPI tables; becomes RAM once they have been read.
    AcpiReclaimable,
    /// Type 4: ACPI non-volatile storage; must be preserved across sleep.
    AcpiNvs,
    /// Type 5: RAM the firmware found to be defective.
    BadMemory,
    /// Any other type number: treat as reserved.
    Unknown(u32),
}

impl MemoryKind {
    /// Translates a raw multiboot (= e820) type number.
    pub const fn from_multiboot_type(raw: u32) -> Self {
        match raw {
            1 => Self::Available,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::BadMemory,
            other => Self::Unknown(other),
        }
    }

    /// Whether the kernel may hand this memory to its page allocator.
    pub const fn is_available(self) -> bool {
        matches!(self, Self::Available)
    }
}

impl fmt::Display for MemoryKind {
    /// The same words Linux prints for e820 types, so a boot log can be
    /// compared line by line with a Linux `dmesg` on the same machine.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Available => f.write_str("usable"),
            Self::Reserved => f.write_str("reserved"),
            Self::AcpiReclaimable => f.write_str("ACPI data"),
            Self::AcpiNvs => f.write_str("ACPI NVS"),
            Self::BadMemory => f.write_str("unusable"),
            Self::Unknown(raw) => write!(f, "type {raw}"),
        }
    }
}

/// One entry of the memory map: `len` bytes of physical memory from `base`.
///
/// Addresses are 64-bit even on this 32-bit kernel: the firmware reports RAM
/// above 4 GiB, which a non-PAE kernel cannot use but should still mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First byte of the region.
    pub base: u64,
    /// Size in bytes; never zero once validated.
    pub len: u64,
    /// What the memory is.
    pub kind: MemoryKind,
}

impl MemoryRegion {
    /// One past the last byte. Cannot overflow: parsing rejects regions whose
    /// end does not fit in 64 bits.
    pub const fn end(&self) -> u64 {
        self.base + self.len
    }
}

impl fmt::Display for MemoryRegion {
    /// `[mem 0x0000000000000000-0x000000000009fbff] usable`: Linux's format,
    /// with an *inclusive* end address printed as 16 hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[mem {:#018x}-{:#018x}] {}",
            self.base,
            self.end() - 1,
            self.kind
        )
    }
}

/// A boot module: a file the bootloader loaded into memory next to the
/// kernel (an initrd, for example). The kernel must not allocate over
/// `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    /// Physical address of the first byte.
    pub start: u32,
    /// Physical address one past the last byte.
    pub end: u32,
    /// The module's own command line (usually its path).
    pub cmdline: FixedStr<128>,
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.end > self.start {
            write!(f, "[mem {:#010x}-{:#010x}]", self.start, self.end - 1)?;
        } else {
            write!(f, "[mem {:#010x}, empty]", self.start)?;
        }
        write!(f, " '{}'", self.cmdline)
    }
}

/// A string of at most `N` bytes stored inline, for use before there is a
/// heap.
///
/// Bootloader strings are untrusted bytes, so two things can go wrong and
/// both are handled without failing the boot:
///
/// * the string is longer than `N`: it is cut at a character boundary and
///   [`is_truncated`](Self::is_truncated) says so;
/// * the bytes are not valid UTF-8: each invalid sequence becomes one `'?'`,
///   so [`as_str`](Self::as_str) can always return a `&str`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedStr<const N: usize> {
    /// Always valid UTF-8 in `bytes[..len]`; zero beyond.
    bytes: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> FixedStr<N> {
    /// The empty string.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Copies `s`, truncating at a character boundary if it does not fit.
    pub fn from_str_truncating(s: &str) -> Self {
        let mut out = Self::new();
        out.push_str(s);
        out
    }

    /// Copies `bytes` (the complete string, without its NUL terminator),
    /// replacing every invalid UTF-8 sequence with `'?'` and truncating if
    /// the result does not fit.
    pub fn from_bytes_lossy(bytes: &[u8]) -> Self {
        let mut out = Self::new();
        for chunk in bytes.utf8_chunks() {
            if !out.push_str(chunk.valid()) {
                break;
            }
            if !chunk.invalid().is_empty() && !out.push_str("?") {
                break;
            }
        }
        out
    }

    /// Like [`from_bytes_lossy`](Self::from_bytes_lossy), for bytes that are
    /// only the *beginning* of a longer string: the result is marked
    /// truncated, and a multi-byte character cut in half at the end of
    /// `prefix` is dropped rather than shown as `'?'`.
    pub fn from_prefix_lossy(prefix: &[u8]) -> Self {
        let mut keep = prefix.len();
        if let Some(last) = prefix.utf8_chunks().last() {
            let tail = last.invalid();
            // An invalid tail whose decoding error is "input ended too soon"
            // (no error length) is a character we cut, not garbage.
            if !tail.is_empty()
                && core::str::from_utf8(tail).is_err_and(|e| e.error_len().is_none())
            {
                keep -= tail.len();
            }
        }
        let mut out = Self::from_bytes_lossy(&prefix[..keep]);
        out.truncated = true;
        out
    }

    /// Appends as many whole characters of `s` as fit. Returns `false` (and
    /// records the truncation) if not all of `s` fitted.
    fn push_str(&mut self, s: &str) -> bool {
        let room = N - self.len;
        let take = if s.len() <= room {
            s.len()
        } else {
            // Largest character boundary that fits.
            (0..=room)
                .rev()
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(0)
        };
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            self.truncated = true;
        }
        take == s.len()
    }

    /// The stored string.
    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.bytes[..self.len]) {
            Ok(s) => s,
            // Unreachable: only whole characters of `&str`s are ever copied
            // in. Falling back to the valid prefix keeps this panic-free.
            Err(e) => {
                let valid = &self.bytes[..e.valid_up_to()];
                core::str::from_utf8(valid).unwrap_or_default()
            }
        }
    }

    /// Whether the original string was longer than `N` bytes.
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the string is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The capacity in bytes.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)?;
        if self.truncated {
            f.write_str(" (truncated)")?;
        }
        Ok(())
    }
}

/// Everything the kernel needs to know from the bootloader, in one
/// protocol-independent structure that owns all its data.
///
/// All strings and tables are *copied* out of bootloader memory, so once
/// [`from_bootloader`] has returned the kernel may reuse that memory. Only
/// the modules' contents stay where the bootloader put them.
#[derive(Clone)]
pub struct BootInfo {
    /// Which protocol started us.
    pub protocol: Protocol,
    memory_map: [MemoryRegion; MAX_MEMORY_REGIONS],
    nr_regions: usize,
    /// Zero-length entries the firmware listed; dropped (harmless, but
    /// worth a line in the boot log).
    pub zero_length_entries: usize,
    /// The raw kernel command line. Under QEMU and GRUB it starts with the
    /// kernel image's path; [`crate::cmdline::parse`] skips that.
    pub cmdline: FixedStr<1024>,
    /// The bootloader's name (`"qemu"`, `"GRUB 2.12"`), empty if not given.
    pub bootloader_name: FixedStr<64>,
    modules: [Module; MAX_MODULES],
    nr_modules: usize,
    /// Physical `[start, end)` of the bootloader's information structure.
    /// See the protocol modules for exactly what it covers.
    pub info_phys: (u32, u32),
}

/// Placeholder for unused slots of the fixed arrays; never visible through
/// the accessors.
const NO_REGION: MemoryRegion = MemoryRegion {
    base: 0,
    len: 0,
    kind: MemoryKind::Reserved,
};
const NO_MODULE: Module = Module {
    start: 0,
    end: 0,
    cmdline: FixedStr::new(),
};

/// A memory-map entry as decoded by a protocol parser, before the checks
/// that are the same for both protocols.
pub(crate) struct RawRegion {
    pub base: u64,
    pub len: u64,
    pub kind: MemoryKind,
}

impl BootInfo {
    /// An empty `BootInfo` for `protocol`, for the parsers to fill in.
    pub(crate) const fn new(protocol: Protocol, info_phys: (u32, u32)) -> Self {
        Self {
            protocol,
            memory_map: [NO_REGION; MAX_MEMORY_REGIONS],
            nr_regions: 0,
            zero_length_entries: 0,
            cmdline: FixedStr::new(),
            bootloader_name: FixedStr::new(),
            modules: [NO_MODULE; MAX_MODULES],
            nr_modules: 0,
            info_phys,
        }
    }

    /// The memory map, in the order the firmware reported it (not sorted,
    /// not merged: overlapping or unsorted maps are the memory manager's
    /// business, as they are for Linux's `e820__memory_setup`).
    pub fn memory_map(&self) -> &[MemoryRegion] {
        &self.memory_map[..self.nr_regions]
    }

    /// The boot modules. The kernel must reserve each `[start, end)`.
    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.nr_modules]
    }

    /// Something that prints the memory map the way Linux does at boot:
    ///
    /// ```text
    /// BIOS-provided physical RAM map:
    /// BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
    /// ```
    ///
    /// Lines are separated by `'\n'`, with no newline after the last one.
    /// To log each line separately instead, iterate [`Self::memory_map`]:
    /// [`MemoryRegion`]'s `Display` is the part from `[mem` on.
    pub fn memory_map_display(&self) -> MemoryMapDisplay<'_> {
        MemoryMapDisplay(self.memory_map())
    }

    /// Validates and stores a protocol's memory-map entries. The checks are
    /// the same for both protocols, so they live here, once:
    /// zero-length entries are dropped and counted (Linux's
    /// `sanitize_e820` drops them too; qboot lists one), no entries whose end
    /// overflows 64 bits, at
    /// least one entry, no more than [`MAX_MEMORY_REGIONS`], and at least
    /// one usable region (a kernel with no RAM cannot do anything useful,
    /// and saying so now beats a confusing allocator failure later).
    ///
    /// `entries` yields the parser's own layout errors; the first error
    /// ends the walk.
    pub(crate) fn fill_memory_map(
        &mut self,
        entries: impl Iterator<Item = Result<RawRegion, BootError>>,
    ) -> Result<(), BootError> {
        let mut count = 0;
        for (index, entry) in entries.enumerate() {
            let raw = entry?;
            if raw.len == 0 {
                self.zero_length_entries += 1;
                continue;
            }
            if raw.base.checked_add(raw.len).is_none() {
                return Err(BootError::MalformedMemoryMap {
                    reason: REASON_OVERFLOW,
                    entry: Some(index),
                });
            }
            // Keep walking past the capacity so the error can say how many
            // entries there really are, and so later malformed entries are
            // still reported as such.
            if self.nr_regions < MAX_MEMORY_REGIONS {
                self.memory_map[self.nr_regions] = MemoryRegion {
                    base: raw.base,
                    len: raw.len,
                    kind: raw.kind,
                };
                self.nr_regions += 1;
            }
            count += 1;
        }
        if count == 0 {
            return Err(BootError::MalformedMemoryMap {
                reason: REASON_EMPTY,
                entry: None,
            });
        }
        if count > MAX_MEMORY_REGIONS {
            return Err(BootError::TooManyMemoryRegions { count });
        }
        if !self.memory_map().iter().any(|r| r.kind.is_available()) {
            return Err(BootError::MalformedMemoryMap {
                reason: REASON_NO_AVAILABLE,
                entry: None,
            });
        }
        Ok(())
    }

    /// Stores one module; `total` is how many the bootloader reported, for
    /// the error message.
    pub(crate) fn push_module(&mut self, module: Module, total: usize) -> Result<(), BootError> {
        if self.nr_modules == MAX_MODULES {
            return Err(BootError::TooManyModules { count: total });
        }
        if module.end < module.start {
            return Err(BootError::MalformedInfo(
                "a module's end address is below its start address",
            ));
        }
        self.modules[self.nr_modules] = module;
        self.nr_modules += 1;
        Ok(())
    }
}

impl fmt::Debug for BootInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootInfo")
            .field("protocol", &self.protocol)
            .field("memory_map", &self.memory_map())
            .field("cmdline", &self.cmdline)
            .field("bootloader_name", &self.bootloader_name)
            .field("modules", &self.modules())
            .field("info_phys", &self.info_phys)
            .finish()
    }
}

impl fmt::Display for BootInfo {
    /// A multi-line summary for the boot log: protocol, bootloader, command
    /// line, memory map and modules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "booted via {}", self.protocol)?;
        if !self.bootloader_name.is_empty() {
            write!(f, " by '{}'", self.bootloader_name)?;
        }
        write!(f, "\ncommand line: '{}'", self.cmdline)?;
        if self.cmdline.is_truncated() {
            write!(f, " (truncated to {} bytes)", self.cmdline.capacity())?;
        }
        write!(f, "\n{}", self.memory_map_display())?;
        for (i, module) in self.modules().iter().enumerate() {
            write!(f, "\nmodule {i}: {module}")?;
        }
        Ok(())
    }
}

/// Prints a memory map like Linux's `e820__print_table`; see
/// [`BootInfo::memory_map_display`].
pub struct MemoryMapDisplay<'a>(&'a [MemoryRegion]);

impl fmt::Display for MemoryMapDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BIOS-provided physical RAM map:")?;
        for region in self.0 {
            write!(f, "\nBIOS-e820: {region}")?;
        }
        Ok(())
    }
}

// The reasons for `BootError::MalformedMemoryMap` that both protocols share.
pub(crate) const REASON_EMPTY: &str = "the map is empty (no entries)";
pub(crate) const REASON_OVERFLOW: &str = "base + length overflows 64 bits";
pub(crate) const REASON_NO_AVAILABLE: &str =
    "no available RAM: no region has type 1 (usable), so there is no memory to run in";

/// Why the boot information could not be turned into a [`BootInfo`]. These
/// errors end the boot, so each message says exactly what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootError {
    /// `eax` held neither multiboot magic: not started by a multiboot
    /// bootloader, or the entry code clobbered `eax`.
    UnknownMagic(u32),
    /// The bootloader passed no memory map.
    NoMemoryMap(Protocol),
    /// The memory map is present but unusable. `entry` is the 0-based index
    /// of the offending entry, if one entry is to blame.
    MalformedMemoryMap {
        /// What is wrong, e.g. "the entry is a zero-length region".
        reason: &'static str,
        /// Which entry, counting from 0.
        entry: Option<usize>,
    },
    /// The memory map is valid but has more than [`MAX_MEMORY_REGIONS`]
    /// entries; `count` is how many it has.
    TooManyMemoryRegions {
        /// Number of entries in the map.
        count: usize,
    },
    /// More than [`MAX_MODULES`] boot modules; `count` is how many.
    TooManyModules {
        /// Number of modules the bootloader reported.
        count: usize,
    },
    /// The structure itself is broken (multiboot 2 sizes and alignment,
    /// tags, module addresses).
    MalformedInfo(&'static str),
    /// Bootloader data lies where [`PhysAccess`] cannot read it.
    InfoOutOfReach {
        /// The physical address that could not be read.
        phys: u32,
        /// What was being read there, e.g. "kernel command line".
        what: &'static str,
    },
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownMagic(magic) => write!(
                f,
                "boot: unknown bootloader magic {magic:#010x}; expected {:#010x} \
                 (multiboot 1) or {:#010x} (multiboot 2)",
                multiboot1::BOOTLOADER_MAGIC,
                multiboot2::BOOTLOADER_MAGIC
            ),
            Self::NoMemoryMap(protocol) => {
                let missing = match protocol {
                    Protocol::Multiboot1 => "flags bit 6 (mmap) clear",
                    Protocol::Multiboot2 => "no memory-map tag (type 6)",
                };
                write!(
                    f,
                    "boot: the {protocol} information has no memory map ({missing}); \
                     the kernel cannot find RAM without one"
                )
            }
            Self::MalformedMemoryMap { reason, entry } => {
                f.write_str("boot: malformed memory map")?;
                if let Some(index) = entry {
                    write!(f, " at entry {index}")?;
                }
                write!(f, ": {reason}")
            }
            Self::TooManyMemoryRegions { count } => write!(
                f,
                "boot: the memory map has {count} entries, more than MAX_MEMORY_REGIONS \
                 ({MAX_MEMORY_REGIONS}); raise it in boot/src/info.rs"
            ),
            Self::TooManyModules { count } => write!(
                f,
                "boot: the bootloader loaded {count} modules, more than MAX_MODULES \
                 ({MAX_MODULES}); raise it in boot/src/info.rs"
            ),
            Self::MalformedInfo(reason) => {
                write!(f, "boot: malformed boot information: {reason}")
            }
            Self::InfoOutOfReach { phys, what } => write!(
                f,
                "boot: cannot read the {what} at physical address {phys:#010x}: \
                 it is outside the memory the kernel can reach this early"
            ),
        }
    }
}

/// How the parsers reach physical memory.
///
/// The bootloader speaks in physical addresses. Which of them the kernel can
/// read depends on its page tables at the time, which this crate knows
/// nothing about, so the caller decides. The kernel's early page tables map
/// physical `0..896 MiB` at `PAGE_OFFSET`, so its implementation is
/// "`phys + 0xC000_0000` if `phys + len <= 896 MiB`"; host tests implement it
/// over a byte buffer pretending to live at some physical address.
pub trait PhysAccess {
    /// A pointer through which the `len` bytes of physical memory starting
    /// at `phys` can be read, or `None` if (any of) that range is out of
    /// reach. Must return `None` rather than wrap around if `phys + len`
    /// exceeds 4 GiB.
    fn ptr(&self, phys: u32, len: usize) -> Option<*const u8>;
}

/// Parses whatever boot information the bootloader passed, dispatching on
/// the magic number it left in `eax`.
///
/// `magic` and `info_phys` are `eax` and `ebx` as the bootloader left them
/// (the entry code must save both before touching them).
///
/// # Safety
///
/// Every pointer `access` returns must be valid for reads of the requested
/// length, and that memory must not change while this function runs. (The
/// function itself never reads outside what `access` hands out.)
pub unsafe fn from_bootloader(
    magic: u32,
    info_phys: u32,
    access: &dyn PhysAccess,
) -> Result<BootInfo, BootError> {
    // SAFETY: our caller gives exactly the guarantee `PhysReader::new` needs.
    let mem = unsafe { PhysReader::new(access) };
    match magic {
        multiboot1::BOOTLOADER_MAGIC => multiboot1::parse(info_phys, &mem),
        multiboot2::BOOTLOADER_MAGIC => multiboot2::parse(info_phys, &mem),
        other => Err(BootError::UnknownMagic(other)),
    }
}

/// Bounds-checked reads of bootloader memory, shared by both parsers.
///
/// Reads hand out byte slices, and the parsers decode integers from them
/// with `from_le_bytes`. Bootloader structures are often not aligned for
/// their fields (a multiboot 1 mmap entry's `u64` base sits at offset 4), and
/// decoding from bytes sidesteps alignment entirely, with the same effect as
/// `read_unaligned` but without any further `unsafe`.
pub(crate) struct PhysReader<'a> {
    access: &'a dyn PhysAccess,
}

impl<'a> PhysReader<'a> {
    /// # Safety
    ///
    /// Every pointer `access` returns must be valid for reads of the
    /// requested length for `'a`, and that memory must not be written
    /// during `'a`.
    pub(crate) unsafe fn new(access: &'a dyn PhysAccess) -> Self {
        Self { access }
    }

    /// The `len` bytes at physical `phys`; `what` names them for the error.
    pub(crate) fn bytes(
        &self,
        phys: u32,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], BootError> {
        if len == 0 {
            return Ok(&[]);
        }
        let out_of_reach = BootError::InfoOutOfReach { phys, what };
        // A range past 4 GiB cannot exist in a 32-bit physical address
        // space. Refusing one that ends exactly at 4 GiB too keeps every
        // exclusive end address representable as a `u32` (see
        // `BootInfo::info_phys`); nothing readable lives up there anyway.
        // And a slice may not exceed isize::MAX bytes.
        let end = u64::from(phys).checked_add(len as u64);
        if end.is_none_or(|end| end >= 1 << 32) || len > isize::MAX as usize {
            return Err(out_of_reach);
        }
        let ptr = self.access.ptr(phys, len).ok_or(out_of_reach)?;
        if ptr.is_null() {
            return Err(out_of_reach);
        }
        // SAFETY: `new`'s contract: a pointer from `access` is valid for
        // reads of `len` bytes and unchanging for 'a. `u8` has no alignment
        // requirement and every bit pattern is a valid `u8`.
        Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
    }

    /// The NUL-terminated string at physical `phys`, at most `N` bytes of
    /// it. Reads one byte at a time up to the terminator (or `N + 1` bytes),
    /// so a string ending right at the edge of reachable memory is fine.
    pub(crate) fn c_string<const N: usize>(
        &self,
        phys: u32,
        what: &'static str,
    ) -> Result<FixedStr<N>, BootError> {
        for i in 0..=N {
            let at = u32::try_from(i)
                .ok()
                .and_then(|i| phys.checked_add(i))
                .ok_or(BootError::InfoOutOfReach { phys, what })?;
            if self.bytes(at, 1, what)?[0] == 0 {
                return Ok(FixedStr::from_bytes_lossy(self.bytes(phys, i, what)?));
            }
        }
        // No NUL within N + 1 bytes: longer than we can hold.
        Ok(FixedStr::from_prefix_lossy(self.bytes(phys, N, what)?))
    }
}

/// Little-endian `u32` at `offset` of `bytes`. Callers check the length
/// first; slicing panics otherwise, which would be a parser bug.
pub(crate) fn le_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut raw = [0; 4];
    raw.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(raw)
}

/// Little-endian `u64` at `offset` of `bytes`; see [`le_u32`].
pub(crate) fn le_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut raw = [0; 8];
    raw.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(raw)
}

/// A fake physical memory for host tests: a byte buffer pretending to sit at
/// physical address `base`.
#[cfg(test)]
pub(crate) mod fake_phys {
    use super::PhysAccess;

    pub(crate) struct FakePhys {
        base: u32,
        size: usize,
        /// `size + 8` bytes, so that an 8-byte aligned window exists: the
        /// multiboot 2 parser checks alignment, and physical and virtual
        /// alignment must agree as they do in the kernel's direct map.
        buf: Vec<u8>,
        start: usize,
    }

    impl FakePhys {
        pub(crate) fn new(base: u32, size: usize) -> Self {
            let buf = vec![0; size + 8];
            let start = buf.as_ptr().align_offset(8);
            Self {
                base,
                size,
                buf,
                start,
            }
        }

        pub(crate) fn write(&mut self, phys: u32, bytes: &[u8]) {
            let offset = self.start + (phys - self.base) as usize;
            self.buf[offset..offset + bytes.len()].copy_from_slice(bytes);
        }

        pub(crate) fn write_u32(&mut self, phys: u32, value: u32) {
            self.write(phys, &value.to_le_bytes());
        }
    }

    impl PhysAccess for FakePhys {
        fn ptr(&self, phys: u32, len: usize) -> Option<*const u8> {
            let offset = phys.checked_sub(self.base)? as usize;
            if offset.checked_add(len)? > self.size {
                return None;
            }
            Some(self.buf[self.start + offset..].as_ptr())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake_phys::FakePhys;
    use super::*;

    #[test]
    fn fixed_str_keeps_short_strings() {
        let s = FixedStr::<16>::from_bytes_lossy(b"console=ttyS0");
        assert_eq!(s.as_str(), "console=ttyS0");
        assert!(!s.is_truncated());
        assert_eq!(s.len(), 13);
    }

    #[test]
    fn fixed_str_truncates_and_records_it() {
        let s = FixedStr::<4>::from_bytes_lossy(b"abcdef");
        assert_eq!(s.as_str(), "abcd");
        assert!(s.is_truncated());
        let exact = FixedStr::<6>::from_bytes_lossy(b"abcdef");
        assert_eq!(exact.as_str(), "abcdef");
        assert!(!exact.is_truncated());
    }

    #[test]
    fn fixed_str_never_splits_a_character() {
        // "é" is two bytes; only one byte of room is left after "ab".
        let s = FixedStr::<3>::from_str_truncating("abé");
        assert_eq!(s.as_str(), "ab");
        assert!(s.is_truncated());
    }

    #[test]
    fn fixed_str_replaces_invalid_utf8() {
        let s = FixedStr::<32>::from_bytes_lossy(b"a\xffb\xc3(c\xe2\x82");
        assert_eq!(s.as_str(), "a?b?(c?");
        assert!(!s.is_truncated());
        let s = FixedStr::<32>::from_bytes_lossy("grüß".as_bytes());
        assert_eq!(s.as_str(), "grüß");
    }

    #[test]
    fn fixed_str_prefix_drops_a_cut_character() {
        // The prefix ends in the first byte of "é": that is a cut, not
        // garbage, so it disappears instead of becoming '?'.
        let s = FixedStr::<8>::from_prefix_lossy(b"ab\xc3");
        assert_eq!(s.as_str(), "ab");
        assert!(s.is_truncated());
        let s = FixedStr::<8>::from_prefix_lossy(b"ab\xff");
        assert_eq!(s.as_str(), "ab?");
    }

    #[test]
    fn c_string_reads_until_nul_and_truncates() {
        let mut mem = FakePhys::new(0x1000, 64);
        mem.write(0x1000, b"hello\0");
        mem.write(0x1010, b"0123456789\0");
        mem.write(0x103d, b"end"); // runs into the end of reachable memory
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let reader = unsafe { PhysReader::new(&mem) };
        let s: FixedStr<8> = reader.c_string(0x1000, "test string").unwrap();
        assert_eq!(s.as_str(), "hello");
        let s: FixedStr<8> = reader.c_string(0x1010, "test string").unwrap();
        assert_eq!(s.as_str(), "01234567");
        assert!(s.is_truncated());
        let s: FixedStr<10> = reader.c_string(0x1011, "test string").unwrap();
        assert_eq!(s.as_str(), "123456789");
        assert!(!s.is_truncated());
        let err = reader.c_string::<64>(0x103d, "test string").unwrap_err();
        assert_eq!(
            err,
            BootError::InfoOutOfReach {
                phys: 0x1040,
                what: "test string"
            }
        );
    }

    #[test]
    fn reader_refuses_ranges_beyond_4gib() {
        let mem = FakePhys::new(0xffff_f000, 0x1000);
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let reader = unsafe { PhysReader::new(&mem) };
        assert!(reader.bytes(0xffff_fff0, 15, "x").is_ok());
        assert!(reader.bytes(0xffff_fff0, 16, "x").is_err());
        assert!(reader.bytes(0xffff_fff0, usize::MAX, "x").is_err());
    }

    fn region(base: u64, len: u64, kind: MemoryKind) -> Result<RawRegion, BootError> {
        Ok(RawRegion { base, len, kind })
    }

    #[test]
    fn memory_map_prints_like_linux() {
        let mut info = BootInfo::new(Protocol::Multiboot1, (0x9000, 0x9058));
        info.fill_memory_map(
            [
                region(0, 0x9fc00, MemoryKind::Available),
                region(0x9fc00, 0x400, MemoryKind::Reserved),
                region(0x100000, 0x7ee0000, MemoryKind::Available),
                region(0x7fe0000, 0x20000, MemoryKind::AcpiReclaimable),
                region(0x8000000, 0x1000, MemoryKind::AcpiNvs),
                region(0x8001000, 0x1000, MemoryKind::BadMemory),
                region(0xfffc0000, 0x40000, MemoryKind::Unknown(12)),
            ]
            .into_iter(),
        )
        .unwrap();
        let text = info.memory_map_display().to_string();
        let expected = "\
BIOS-provided physical RAM map:
BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved
BIOS-e820: [mem 0x0000000000100000-0x0000000007fdffff] usable
BIOS-e820: [mem 0x0000000007fe0000-0x0000000007ffffff] ACPI data
BIOS-e820: [mem 0x0000000008000000-0x0000000008000fff] ACPI NVS
BIOS-e820: [mem 0x0000000008001000-0x0000000008001fff] unusable
BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] type 12";
        assert_eq!(text, expected);
    }

    #[test]
    fn boot_info_summary_lists_everything() {
        let mut info = BootInfo::new(Protocol::Multiboot2, (0x10000, 0x10100));
        info.bootloader_name = FixedStr::from_str_truncating("GRUB 2.12");
        info.cmdline = FixedStr::from_str_truncating("/boot/kernel loglevel=debug");
        info.fill_memory_map([region(0, 0x9fc00, MemoryKind::Available)].into_iter())
            .unwrap();
        let module = Module {
            start: 0x200000,
            end: 0x201000,
            cmdline: FixedStr::from_str_truncating("/boot/initrd"),
        };
        info.push_module(module, 1).unwrap();
        let text = info.to_string();
        assert_eq!(
            text,
            "booted via multiboot 2 by 'GRUB 2.12'\n\
             command line: '/boot/kernel loglevel=debug'\n\
             BIOS-provided physical RAM map:\n\
             BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n\
             module 0: [mem 0x00200000-0x00200fff] '/boot/initrd'"
        );
    }

    #[test]
    fn memory_kinds_match_multiboot_type_numbers() {
        let kinds: Vec<MemoryKind> = (1..=6).map(MemoryKind::from_multiboot_type).collect();
        assert_eq!(
            kinds,
            [
                MemoryKind::Available,
                MemoryKind::Reserved,
                MemoryKind::AcpiReclaimable,
                MemoryKind::AcpiNvs,
                MemoryKind::BadMemory,
                MemoryKind::Unknown(6),
            ]
        );
        assert_eq!(Protocol::Multiboot1.to_string(), "multiboot 1");
        assert_eq!(Protocol::Multiboot2.to_string(), "multiboot 2");
    }

    #[test]
    fn module_end_below_start_is_rejected() {
        let mut info = BootInfo::new(Protocol::Multiboot1, (0, 0));
        let module = Module {
            start: 0x2000,
            end: 0x1000,
            cmdline: FixedStr::new(),
        };
        let err = info.push_module(module, 1).unwrap_err();
        assert!(err.to_string().contains("end address is below its start"));
    }

    #[test]
    fn unknown_magic_names_both_protocols() {
        let mem = FakePhys::new(0x9000, 0x100);
        // SAFETY: FakePhys hands out pointers into its own live buffer.
        let err = unsafe { from_bootloader(0xdead_beef, 0x9000, &mem) }.unwrap_err();
        assert_eq!(err, BootError::UnknownMagic(0xdead_beef));
        assert_eq!(
            err.to_string(),
            "boot: unknown bootloader magic 0xdeadbeef; expected 0x2badb002 \
             (multiboot 1) or 0x36d76289 (multiboot 2)"
        );
    }
}
