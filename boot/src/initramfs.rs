//! The initramfs format: a cpio "newc" archive (Linux `init/initramfs.c`,
//! `Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! The bootloader loads the archive next to the kernel as a *module*
//! (QEMU `-initrd FILE`, GRUB `module2 FILE`; [`crate::info::BootInfo::modules`]
//! lists it); the kernel walks it with [`entries`] and builds its in-memory
//! filesystem from the entries (`kernel/src/fs/initramfs.rs`). This file
//! only *reads* the format: no allocation, no filesystem, so every rule
//! below runs as a host unit test and the kernel gets entries that are
//! already checked.
//!
//! ```text
//!  one entry                                             offset (from the entry)
//!  +--------+------+------+-----+-----+-------+---   0
//!  | 070701 | ino  | mode | uid | gid | nlink | ...   6 magic, then 13 fields of
//!  +--------+------+------+-----+-----+-------+---     8 hex digits each:
//!    ino mode uid gid nlink mtime filesize devmajor devminor
//!    rdevmajor rdevminor namesize check              110 = end of the header
//!  | name, NUL-terminated (namesize bytes with the NUL) |
//!  | 0-3 NULs: header + name padded to a multiple of 4  |
//!  | data (filesize bytes)                              |
//!  | 0-3 NULs: data padded to a multiple of 4           |
//!  ... next entry ... the entry named TRAILER!!! ends the archive;
//!  NULs may follow, and then another archive (Linux concatenates them).
//! ```
//!
//! Magic `070702` is the same format with `check` holding the sum of the
//! data bytes of a regular file (`cpio -H crc`); we verify it, as Linux
//! does ("bad data checksum"). With `070701` the field is ignored.
//!
//! Where we are stricter than Linux, each on purpose and each a named
//! [`ErrorKind`] with a test below. Linux skips or truncates silently;
//! a teaching kernel says what is wrong with the archive instead:
//!
//! * Every header field must be 8 hex digits (Linux's `simple_strtoul`
//!   stops at the first bad digit and uses what it read).
//! * A name must end in its NUL, hold no other NUL, and be UTF-8 (Linux
//!   uses any bytes up to the first NUL; the UTF-8 rule is ours, so that
//!   the kernel can print every name).
//! * Paths: a leading `/`, repeated slashes, `.` components and a trailing
//!   `/` are accepted and normalised away (`/bin//./sh/` is `bin/sh`):
//!   archives made with `find . | cpio` and with absolute paths both
//!   unpack under `/`. A `..` component is refused ([`ErrorKind::DotDot`]):
//!   at the root `..` is the root again, so Linux would accept it, but no
//!   archive-making tool writes one and a name that climbs is a sign of a
//!   hostile archive. A name that is only slashes and dots names the root,
//!   which may only appear as a directory.
//! * A directory, device, FIFO or socket with data (Linux skips the entry),
//!   a symlink whose target is empty, longer than `PATH_MAX - 1`, holds a
//!   NUL or is not UTF-8, a mode of no known file type: each refused.
//! * An archive without `TRAILER!!!` at its end is refused
//!   ([`ErrorKind::MissingTrailer`]): it was cut short. An input holding
//!   no archive at all (empty, or only NULs) is refused too
//!   ([`ErrorKind::NoArchive`]); Linux unpacks nothing and says nothing.
//! * Compressed archives (gzip, xz, ...) are named and refused: this kernel
//!   has no decompressors.
//!
//! Hard links are *handled as Linux does*, by the caller: an entry that is
//! not a directory and has `nlink >= 2` is a link to every earlier entry
//! with the same [`Entry::link_key`] (device, inode number, mode); GNU cpio
//! writes the data once, with the last of the names, and the earlier ones
//! with size 0. Device nodes, FIFOs and sockets parse; what to do with them
//! is the filesystem's choice.
//!
//! Every error carries the byte offset where the problem is (the field, the
//! name, the data; the end of the input for a missing trailer), so that
//! `cmp` or `xxd -s` on the host shows it.

use core::fmt;

/// Magic of a newc entry without checksum (`cpio -H newc`).
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of a newc entry whose `check` field sums the data (`cpio -H crc`).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Bytes of a header: the magic and 13 fields of 8 hex digits.
pub const HEADER_LEN: usize = 6 + 13 * 8;
/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// Longest path, with its NUL (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Longest path component (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// File-type bits of a mode (Linux `S_IFMT` and the types, octal as in
/// `<linux/stat.h>`).
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;

/// The names of the 13 header fields, in order.
pub const FIELD_NAMES: [&str; 13] = [
    "ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor", "rdevminor",
    "namesize", "check",
];

/// What kind of file an entry is, from the `S_IFMT` bits of its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileType {
    /// The type of `mode`, or `None` for a value of `S_IFMT` that is none.
    pub const fn from_mode(mode: u32) -> Option<Self> {
        Some(match mode & S_IFMT {
            S_IFREG => Self::Regular,
            S_IFDIR => Self::Directory,
            S_IFLNK => Self::Symlink,
            S_IFCHR => Self::CharDevice,
            S_IFBLK => Self::BlockDevice,
            S_IFIFO => Self::Fifo,
            S_IFSOCK => Self::Socket,
            _ => return None,
        })
    }

    /// The `S_IF*` bits of this type.
    pub const fn mode_bits(self) -> u32 {
        match self {
            Self::Regular => S_IFREG,
            Self::Directory => S_IFDIR,
            Self::Symlink => S_IFLNK,
            Self::CharDevice => S_IFCHR,
            Self::BlockDevice => S_IFBLK,
            Self::Fifo => S_IFIFO,
            Self::Socket => S_IFSOCK,
        }
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Regular => "regular file",
            Self::Directory => "directory",
            Self::Symlink => "symlink",
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Fifo => "FIFO",
            Self::Socket => "socket",
        })
    }
}

/// The 13 numeric fields of a header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub namesize: u32,
    pub check: u32,
}

impl Header {
    fn from_fields(f: [u32; 13]) -> Self {
        let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] = f;
        Self { ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check }
    }

    /// The fields in archive order.
    pub fn fields(&self) -> [u32; 13] {
        [
            self.ino, self.mode, self.uid, self.gid, self.nlink, self.mtime, self.filesize, self.devmajor,
            self.devminor, self.rdevmajor, self.rdevminor, self.namesize, self.check,
        ]
    }
}

/// One checked entry of an archive. Borrowed from the archive: nothing is
/// copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Offset of the entry's header in the input.
    pub offset: usize,
    /// The decoded header.
    pub header: Header,
    /// The name as stored, without its NUL (see [`Entry::components`] for
    /// the normalised path).
    pub name: &'a str,
    /// The file type (from `header.mode`).
    pub file_type: FileType,
    /// The data: a regular file's contents, a symlink's target; empty for
    /// the other types.
    pub data: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.header.mode & 0o7777
    }

    /// The path's components from the root: no empty ones, no `.`, never
    /// `..` (refused while parsing). Empty for the root itself.
    pub fn components(&self) -> impl Iterator<Item = &'a str> + Clone + use<'a> {
        components(self.name)
    }

    /// Whether the entry names the root directory (`.`, `/`, `./`).
    pub fn is_root(&self) -> bool {
        self.components().next().is_none()
    }

    /// A symlink's target (checked to be non-empty UTF-8 without NUL).
    pub fn symlink_target(&self) -> Option<&'a str> {
        match self.file_type {
            // Checked in parse_entry.
            FileType::Symlink => core::str::from_utf8(self.data).ok(),
            _ => None,
        }
    }

    /// Linux's hard-link key (`find_link` in init/initramfs.c): entries
    /// that are not directories, with `nlink >= 2`, and the same device,
    /// inode number and mode are names of one file. `None` for an entry
    /// that cannot be a link.
    pub fn link_key(&self) -> Option<LinkKey> {
        (self.file_type != FileType::Directory && self.header.nlink >= 2).then_some(LinkKey {
            devmajor: self.header.devmajor,
            devminor: self.header.devminor,
            ino: self.header.ino,
            mode: self.header.mode,
        })
    }
}

/// What identifies one file among hard links: [`Entry::link_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkKey {
    pub devmajor: u32,
    pub devminor: u32,
    pub ino: u32,
    pub mode: u32,
}

/// The normalised components of a path: empty components (leading,
/// repeated or trailing `/`) and `.` are dropped. `..` is kept; the parser
/// refuses names containing it, and a caller walking a symlink target
/// handles it itself.
pub fn components(path: &str) -> impl Iterator<Item = &str> + Clone {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Why an archive is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input holds no archive: it is empty or only NUL bytes.
    NoArchive,
    /// Fewer than [`HEADER_LEN`] bytes are left for a header.
    TruncatedHeader { available: usize },
    /// The first six bytes are no cpio magic.
    BadMagic { found: [u8; 6] },
    /// `070707`: the portable ASCII (odc) cpio format, not newc.
    OdcFormat,
    /// The binary cpio format (magic 070707 as a 16-bit word).
    BinaryFormat,
    /// A compressed archive; the kernel has no decompressor.
    Compressed { method: &'static str },
    /// A header field holds a character that is not a hex digit.
    BadHexDigit { field: &'static str, byte: u8 },
    /// `namesize` is 0: every entry has a name, with its NUL.
    NameSizeZero,
    /// `namesize` is beyond [`PATH_MAX`].
    NameTooLong { namesize: u32 },
    /// The name runs past the end of the input.
    TruncatedName { namesize: u32, available: usize },
    /// The last byte of the name is not NUL.
    NameWithoutNul,
    /// A NUL before the end of the name.
    NulInName { at: usize },
    /// The name is not UTF-8.
    NameNotUtf8,
    /// The name is empty (just the NUL).
    EmptyName,
    /// A `..` component.
    DotDot,
    /// A component longer than [`NAME_MAX`].
    ComponentTooLong { len: usize },
    /// The name is the root (`.`, `/`), but the entry is not a directory.
    RootNotDirectory { file_type: FileType },
    /// `S_IFMT` of the mode is no file type.
    UnknownFileType { mode: u32 },
    /// The data runs past the end of the input.
    TruncatedData { filesize: u32, available: usize },
    /// A directory, device, FIFO or socket with data.
    UnexpectedData { file_type: FileType, filesize: u32 },
    /// A symlink target that is empty, too long, holds a NUL or is not UTF-8.
    BadSymlinkTarget { why: &'static str },
    /// `070702`: the sum of the data bytes is not the header's `check`.
    BadChecksum { stored: u32, computed: u32 },
    /// The input ends without a `TRAILER!!!` entry.
    MissingTrailer,
    /// After a trailer and its NUL padding, the next archive does not
    /// start on a multiple of 4 (Linux: "broken padding").
    MisalignedArchive,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoArchive => f.write_str("no cpio archive in it (empty, or only NUL bytes)"),
            Self::TruncatedHeader { available } => {
                write!(f, "truncated header: {available} of {HEADER_LEN} bytes before the end")
            }
            Self::BadMagic { found } => {
                f.write_str("bad magic '")?;
                for b in found {
                    if b.is_ascii_graphic() { write!(f, "{}", b as char)? } else { write!(f, "\\x{b:02x}")? }
                }
                f.write_str("': not a cpio newc archive (want 070701 or 070702: cpio -H newc)")
            }
            Self::OdcFormat => f.write_str("cpio odc format (magic 070707): repack with cpio -H newc"),
            Self::BinaryFormat => f.write_str("binary cpio format: repack with cpio -H newc"),
            Self::Compressed { method } => {
                write!(f, "{method}-compressed: this kernel has no decompressor; pass the uncompressed cpio archive")
            }
            Self::BadHexDigit { field, byte } => {
                write!(f, "header field {field}: byte {byte:#04x} is not a hex digit")
            }
            Self::NameSizeZero => f.write_str("namesize is 0: every entry needs a NUL-terminated name"),
            Self::NameTooLong { namesize } => write!(f, "namesize {namesize} is more than PATH_MAX ({PATH_MAX})"),
            Self::TruncatedName { namesize, available } => {
                write!(f, "truncated name: namesize {namesize}, but {available} bytes before the end")
            }
            Self::NameWithoutNul => f.write_str("name does not end in NUL"),
            Self::NulInName { at } => write!(f, "NUL at byte {at} inside the name"),
            Self::NameNotUtf8 => f.write_str("name is not UTF-8"),
            Self::EmptyName => f.write_str("empty name"),
            Self::DotDot => f.write_str("name has a '..' component"),
            Self::ComponentTooLong { len } => write!(f, "name has a component of {len} bytes (NAME_MAX is {NAME_MAX})"),
            Self::RootNotDirectory { file_type } => {
                write!(f, "name is the root directory, but the entry is a {file_type}")
            }
            Self::UnknownFileType { mode } => write!(f, "mode {mode:#o} has no known file type"),
            Self::TruncatedData { filesize, available } => {
                write!(f, "truncated data: filesize {filesize}, but {available} bytes before the end")
            }
            Self::UnexpectedData { file_type, filesize } => write!(f, "a {file_type} with {filesize} bytes of data"),
            Self::BadSymlinkTarget { why } => write!(f, "symlink target {why}"),
            Self::BadChecksum { stored, computed } => {
                write!(f, "bad data checksum: header says {stored:#010x}, the data sums to {computed:#010x}")
            }
            Self::MissingTrailer => write!(f, "archive ends without the {TRAILER} entry (truncated?)"),
            Self::MisalignedArchive => f.write_str("data after the trailer does not start on a multiple of 4 (broken padding)"),
        }
    }
}

/// A refused archive: what is wrong, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// Byte offset of the problem in the input.
    pub offset: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    /// `corrupt archive at offset X: REASON`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt archive at offset {}: {}", self.offset, self.kind)
    }
}

/// Walk the archive(s) in `buf`: each entry, checked, in order; the
/// trailers are not yielded. The first error is the last item.
pub fn entries(buf: &[u8]) -> Entries<'_> {
    Entries { buf, pos: 0, state: State::BetweenArchives { seen_one: false } }
}

/// Check a whole archive without keeping anything: the number of entries,
/// or the first problem.
pub fn validate(buf: &[u8]) -> Result<usize, Error> {
    let mut n = 0;
    for e in entries(buf) {
        e?;
        n += 1;
    }
    Ok(n)
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// At the start, or after a trailer: NULs may come, then an archive.
    BetweenArchives { seen_one: bool },
    /// Inside an archive: the next thing is a header.
    InArchive,
    /// Finished, or an error was returned.
    Done,
}

/// The iterator [`entries`] returns.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    buf: &'a [u8],
    pos: usize,
    state: State,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.state {
                State::Done => return None,
                State::BetweenArchives { seen_one } => {
                    // Linux skips NULs between archives (and before the
                    // first: bootloaders pad).
                    while self.pos < self.buf.len() && self.buf[self.pos] == 0 {
                        self.pos += 1;
                    }
                    if self.pos >= self.buf.len() {
                        self.state = State::Done;
                        return (!seen_one).then_some(Err(Error { offset: 0, kind: ErrorKind::NoArchive }));
                    }
                    if !self.pos.is_multiple_of(4) {
                        return self.fail(self.pos, ErrorKind::MisalignedArchive);
                    }
                    if let Some(kind) = other_format(&self.buf[self.pos..]) {
                        return self.fail(self.pos, kind);
                    }
                    self.state = State::InArchive;
                }
                State::InArchive => {
                    if self.pos >= self.buf.len() {
                        return self.fail(self.buf.len(), ErrorKind::MissingTrailer);
                    }
                    return match parse_entry(self.buf, self.pos) {
                        Err(e) => self.fail(e.offset, e.kind),
                        Ok((entry, next)) => {
                            // Padding may run past the end of the input.
                            self.pos = next.min(self.buf.len());
                            if entry.name == TRAILER {
                                self.state = State::BetweenArchives { seen_one: true };
                                continue;
                            }
                            Some(Ok(entry))
                        }
                    };
                }
            }
        }
    }
}

impl Entries<'_> {
    fn fail<T>(&mut self, offset: usize, kind: ErrorKind) -> Option<Result<T, Error>> {
        self.state = State::Done;
        Some(Err(Error { offset, kind }))
    }
}

/// A known format that is not newc, from its first bytes.
fn other_format(b: &[u8]) -> Option<ErrorKind> {
    let starts = |magic: &[u8]| b.starts_with(magic);
    Some(if starts(b"070707") {
        ErrorKind::OdcFormat
    } else if starts(&[0xc7, 0x71]) || starts(&[0x71, 0xc7]) {
        ErrorKind::BinaryFormat
    } else if starts(&[0x1f, 0x8b]) || starts(&[0x1f, 0x9e]) {
        ErrorKind::Compressed { method: "gzip" }
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        ErrorKind::Compressed { method: "xz" }
    } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        ErrorKind::Compressed { method: "zstd" }
    } else if starts(b"BZh") {
        ErrorKind::Compressed { method: "bzip2" }
    } else if starts(&[0x02, 0x21, 0x4c, 0x18]) || starts(&[0x04, 0x22, 0x4d, 0x18]) {
        ErrorKind::Compressed { method: "lz4" }
    } else if starts(&[0x89, b'L', b'Z', b'O']) {
        ErrorKind::Compressed { method: "lzo" }
    } else if starts(&[0x5d, 0x00, 0x00]) {
        ErrorKind::Compressed { method: "lzma" }
    } else {
        return None;
    })
}

/// `n` rounded up to a multiple of 4, saturating (a saturated value is past
/// any input, so it reads as "beyond the end").
const fn align4(n: usize) -> usize {
    match n.checked_add(3) {
        Some(m) => m & !3,
        None => usize::MAX,
    }
}

fn hex_field(buf: &[u8], at: usize, field: &'static str) -> Result<u32, Error> {
    let mut v: u32 = 0;
    for (i, &b) in buf[at..at + 8].iter().enumerate() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(Error { offset: at + i, kind: ErrorKind::BadHexDigit { field, byte: b } }),
        };
        v = (v << 4) | d as u32;
    }
    Ok(v)
}

/// Parse and check the entry whose header is at `pos`; returns it and the
/// offset of whatever follows it (its padded end).
fn parse_entry(buf: &[u8], pos: usize) -> Result<(Entry<'_>, usize), Error> {
    let err = |offset, kind| Err(Error { offset, kind });
    let available = buf.len() - pos;
    if available < HEADER_LEN {
        // A short tail may still show it is the wrong format.
        let kind = other_format(&buf[pos..]).unwrap_or(ErrorKind::TruncatedHeader { available });
        return err(pos, kind);
    }
    let magic: [u8; 6] = buf[pos..pos + 6].try_into().expect("6 bytes");
    let crc = match &magic {
        m if m == MAGIC_NEWC => false,
        m if m == MAGIC_CRC => true,
        _ => return err(pos, other_format(&magic).unwrap_or(ErrorKind::BadMagic { found: magic })),
    };
    let mut fields = [0u32; 13];
    for (i, f) in fields.iter_mut().enumerate() {
        *f = hex_field(buf, pos + 6 + 8 * i, FIELD_NAMES[i])?;
    }
    let header = Header::from_fields(fields);

    // The name.
    let name_at = pos + HEADER_LEN;
    let namesize = header.namesize;
    if namesize == 0 {
        return err(pos + 6 + 8 * 11, ErrorKind::NameSizeZero);
    }
    if namesize as usize > PATH_MAX {
        return err(pos + 6 + 8 * 11, ErrorKind::NameTooLong { namesize });
    }
    let name_end = name_at + namesize as usize;
    if name_end > buf.len() {
        return err(name_at, ErrorKind::TruncatedName { namesize, available: buf.len() - name_at });
    }
    let raw = &buf[name_at..name_end];
    if raw[raw.len() - 1] != 0 {
        return err(name_end - 1, ErrorKind::NameWithoutNul);
    }
    let raw = &raw[..raw.len() - 1];
    if let Some(at) = raw.iter().position(|&b| b == 0) {
        return err(name_at + at, ErrorKind::NulInName { at });
    }
    let Ok(name) = core::str::from_utf8(raw) else {
        return err(name_at, ErrorKind::NameNotUtf8);
    };

    // The data.
    let filesize = header.filesize;
    // Without data, the padding after the name may be cut off at the very
    // end (a trailer whose padding the bootloader did not keep).
    let data_at = if filesize == 0 { align4(name_end).min(buf.len()) } else { align4(name_end) };
    let data_end = data_at.checked_add(filesize as usize).filter(|&e| e <= buf.len());
    let Some(data_end) = data_end else {
        return err(data_at.min(buf.len()), ErrorKind::TruncatedData { filesize, available: buf.len().saturating_sub(data_at) });
    };
    let data = &buf[data_at..data_end];
    let next = align4(data_end);

    if name == TRAILER {
        // Linux ignores the trailer's other fields; so do we.
        let entry = Entry { offset: pos, header, name, file_type: FileType::Regular, data };
        return Ok((entry, next));
    }
    if name.is_empty() {
        return err(name_at, ErrorKind::EmptyName);
    }
    let Some(file_type) = FileType::from_mode(header.mode) else {
        return err(pos + 6 + 8, ErrorKind::UnknownFileType { mode: header.mode });
    };
    for c in components(name) {
        if c == ".." {
            return err(name_at, ErrorKind::DotDot);
        }
        if c.len() > NAME_MAX {
            return err(name_at, ErrorKind::ComponentTooLong { len: c.len() });
        }
    }
    if components(name).next().is_none() && file_type != FileType::Directory {
        return err(name_at, ErrorKind::RootNotDirectory { file_type });
    }
    match file_type {
        FileType::Regular => {
            if crc {
                let computed = data.iter().fold(0u32, |s, &b| s.wrapping_add(b as u32));
                if computed != header.check {
                    return err(pos + 6 + 8 * 12, ErrorKind::BadChecksum { stored: header.check, computed });
                }
            }
        }
        FileType::Symlink => {
            let why = if data.is_empty() {
                Some("is empty")
            } else if data.len() >= PATH_MAX {
                Some("is longer than PATH_MAX - 1")
            } else if data.contains(&0) {
                Some("holds a NUL")
            } else if core::str::from_utf8(data).is_err() {
                Some("is not UTF-8")
            } else {
                None
            };
            if let Some(why) = why {
                return err(data_at, ErrorKind::BadSymlinkTarget { why });
            }
        }
        other => {
            if filesize != 0 {
                return err(pos + 6 + 8 * 6, ErrorKind::UnexpectedData { file_type: other, filesize });
            }
        }
    }
    Ok((Entry { offset: pos, header, name, file_type, data }, next))
}

/// Writes newc archives, for tests (host and in-kernel) that need an
/// archive built in memory. `O` is any byte sink (`Vec<u8>`).
///
/// It writes exactly what GNU cpio writes (upper-case hex, the padding
/// rules above), which the host test against the real `cpio -o -H newc`
/// checks byte for byte.
pub struct NewcWriter<'o, O: Extend<u8>> {
    out: &'o mut O,
    len: usize,
    next_ino: u32,
    crc: bool,
}

impl<'o, O: Extend<u8>> NewcWriter<'o, O> {
    /// A writer appending to `out`, which is empty (offsets count from 0).
    pub fn new(out: &'o mut O) -> Self {
        Self { out, len: 0, next_ino: 1, crc: false }
    }

    /// Write `070702` entries with their data checksum (`cpio -H crc`).
    pub fn with_crc(mut self) -> Self {
        self.crc = true;
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn put(&mut self, bytes: &[u8]) {
        self.out.extend(bytes.iter().copied());
        self.len += bytes.len();
    }

    fn pad(&mut self) {
        while !self.len.is_multiple_of(4) {
            self.put(&[0]);
        }
    }

    /// Any entry: `header.namesize`, `filesize` and (with crc, for a
    /// regular file) `check` are filled in from `name` and `data`; everything else is written as
    /// given.
    pub fn raw_entry(&mut self, mut header: Header, name: &str, data: &[u8]) {
        header.namesize = name.len() as u32 + 1;
        header.filesize = data.len() as u32;
        // GNU cpio sums regular files only (a symlink's check is 0), as
        // Linux checks only those.
        if self.crc && header.mode & S_IFMT == S_IFREG {
            header.check = data.iter().fold(0u32, |s, &b| s.wrapping_add(b as u32));
        }
        self.put(if self.crc { MAGIC_CRC } else { MAGIC_NEWC });
        for v in header.fields() {
            let mut hex = [0u8; 8];
            for (i, h) in hex.iter_mut().enumerate() {
                *h = b"0123456789ABCDEF"[((v >> (28 - 4 * i)) & 0xf) as usize];
            }
            self.put(&hex);
        }
        self.put(name.as_bytes());
        self.put(&[0]);
        self.pad();
        self.put(data);
        self.pad();
    }

    fn entry(&mut self, mode: u32, name: &str, data: &[u8]) {
        let ino = self.next_ino;
        self.next_ino += 1;
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        self.raw_entry(Header { ino, mode, nlink, ..Header::default() }, name, data);
    }

    /// A regular file, mode 0644.
    pub fn file(&mut self, name: &str, data: &[u8]) {
        self.entry(S_IFREG | 0o644, name, data);
    }

    /// A directory, mode 0755.
    pub fn dir(&mut self, name: &str) {
        self.entry(S_IFDIR | 0o755, name, &[]);
    }

    /// A symlink to `target`.
    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(S_IFLNK | 0o777, name, target.as_bytes());
    }

    /// The trailer (inode 0, nlink 1, as GNU cpio writes it).
    pub fn trailer(&mut self) {
        self.raw_entry(Header { nlink: 1, ..Header::default() }, TRAILER, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut NewcWriter<'_, Vec<u8>>)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = NewcWriter::new(&mut out);
        build(&mut w);
        w.trailer();
        out
    }

    fn all(buf: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
        entries(buf).collect()
    }

    fn error(buf: &[u8]) -> Error {
        match all(buf) {
            Ok(v) => panic!("archive accepted with {} entries", v.len()),
            Err(e) => e,
        }
    }

    /// Set header field `i` (0 = ino) of the entry at `at` to `text`.
    fn set_field(buf: &mut [u8], at: usize, i: usize, text: &[u8; 8]) {
        buf[at + 6 + 8 * i..at + 14 + 8 * i].copy_from_slice(text);
    }

    fn sample() -> Vec<u8> {
        archive(|w| {
            w.dir(".");
            w.dir("bin");
            w.file("bin/hello", b"hello, world\n");
            w.file("empty", b"");
            w.symlink("sh", "bin/hello");
        })
    }

    #[test]
    fn reads_files_directories_and_symlinks_in_order() {
        let buf = sample();
        let e = all(&buf).unwrap();
        let names: Vec<_> = e.iter().map(|e| (e.name, e.file_type)).collect();
        assert_eq!(
            names,
            [
                (".", FileType::Directory),
                ("bin", FileType::Directory),
                ("bin/hello", FileType::Regular),
                ("empty", FileType::Regular),
                ("sh", FileType::Symlink)
            ]
        );
        assert_eq!(e[2].data, b"hello, world\n");
        assert_eq!(e[2].permissions(), 0o644);
        assert_eq!(e[3].data, b"");
        assert_eq!(e[4].symlink_target(), Some("bin/hello"));
        assert_eq!(e[2].symlink_target(), None);
        assert!(e[0].is_root() && !e[1].is_root());
        assert_eq!(validate(&buf), Ok(5));
    }

    #[test]
    fn offsets_are_4_aligned_and_padding_follows_the_rules() {
        // Header 110 + name "a\0" = 112, a multiple of 4: no name padding;
        // "ab\0" = 113 -> 3 NULs. Data of 5 bytes -> 3 NULs.
        let buf = archive(|w| {
            w.file("a", b"12345");
            w.file("ab", b"x");
        });
        let e = all(&buf).unwrap();
        assert_eq!(e[0].offset, 0);
        assert_eq!(e[1].offset, 112 + 8);
        assert_eq!(&buf[112..120], b"12345\0\0\0");
        assert_eq!(&buf[120 + 110..120 + 116], b"ab\0\0\0\0");
        for x in &e {
            assert_eq!(x.offset % 4, 0);
        }
    }

    #[test]
    fn lower_and_upper_case_hex_are_both_read() {
        let mut buf = archive(|w| w.file("f", b"abc"));
        set_field(&mut buf, 0, 0, b"0000abCD");
        assert_eq!(all(&buf).unwrap()[0].header.ino, 0xabcd);
    }

    #[test]
    fn paths_are_normalised_and_dotdot_refused() {
        fn comps(n: &str) -> Vec<&str> {
            components(n).collect()
        }
        assert_eq!(comps("/bin//./sh/"), ["bin", "sh"]);
        assert_eq!(comps("./init"), ["init"]);
        assert!(comps(".").is_empty() && comps("/").is_empty() && comps("./").is_empty());
        for name in ["..", "a/../b", "/../etc/passwd", "a/.."] {
            let buf = archive(|w| w.file(name, b"x"));
            assert_eq!(error(&buf), Error { offset: HEADER_LEN, kind: ErrorKind::DotDot }, "{name}");
        }
        // "..." and "a..b" are ordinary names.
        let buf = archive(|w| {
            w.file("...", b"x");
            w.file("a..b", b"y");
        });
        assert_eq!(validate(&buf), Ok(2));
    }

    #[test]
    fn the_root_may_only_be_a_directory() {
        let buf = archive(|w| w.file("/", b"x"));
        let e = error(&buf);
        assert_eq!(e.kind, ErrorKind::RootNotDirectory { file_type: FileType::Regular });
        assert_eq!(e.to_string(), "corrupt archive at offset 110: name is the root directory, but the entry is a regular file");
        let buf = archive(|w| w.dir("/"));
        assert!(all(&buf).unwrap()[0].is_root());
    }

    #[test]
    fn long_components_and_names_are_refused() {
        let long = "x".repeat(NAME_MAX + 1);
        let buf = archive(|w| w.file(&long, b""));
        assert_eq!(error(&buf).kind, ErrorKind::ComponentTooLong { len: 256 });
        let ok = "x".repeat(NAME_MAX);
        assert_eq!(validate(&archive(|w| w.file(&ok, b""))), Ok(1));
        let mut buf = archive(|w| w.file("f", b""));
        set_field(&mut buf, 0, 11, b"00001001");
        let e = error(&buf);
        assert_eq!((e.offset, e.kind), (6 + 8 * 11, ErrorKind::NameTooLong { namesize: 4097 }));
        assert_eq!(e.kind.to_string(), "namesize 4097 is more than PATH_MAX (4096)");
    }

    #[test]
    fn hard_links_share_a_key_and_directories_never_do() {
        let mut out = Vec::new();
        let mut w = NewcWriter::new(&mut out);
        let h = Header { ino: 7, mode: S_IFREG | 0o644, nlink: 2, ..Header::default() };
        w.raw_entry(h, "a", b"");
        w.raw_entry(h, "b", b"data");
        w.raw_entry(Header { ino: 8, mode: S_IFDIR | 0o755, nlink: 3, ..Header::default() }, "d", b"");
        w.file("c", b"z");
        w.trailer();
        let e = all(&out).unwrap();
        assert!(e[0].link_key().is_some());
        assert_eq!(e[0].link_key(), e[1].link_key());
        assert_eq!(e[2].link_key(), None);
        assert_eq!(e[3].link_key(), None);
    }

    #[test]
    fn crc_archives_are_checked() {
        let mut out = Vec::new();
        let mut w = NewcWriter::new(&mut out).with_crc();
        w.file("f", &[0xff, 0xff, 1]);
        w.symlink("l", "f");
        w.trailer();
        let e = all(&out).unwrap();
        assert_eq!(e[0].header.check, 0x1ff);
        // One bit of the data flipped: named, at the check field.
        let mut bad = out.clone();
        bad[112] ^= 0x10;
        let err = error(&bad);
        assert_eq!(err.offset, 6 + 8 * 12);
        assert_eq!(err.kind, ErrorKind::BadChecksum { stored: 0x1ff, computed: 0x1ef });
        assert_eq!(
            err.kind.to_string(),
            "bad data checksum: header says 0x000001ff, the data sums to 0x000001ef"
        );
        // Without the checksum magic, the check field is ignored.
        bad[5] = b'1';
        assert!(all(&bad).is_ok());
    }

    #[test]
    fn concatenated_archives_and_nul_padding_are_read() {
        let mut buf = vec![0u8; 8];
        buf.extend(archive(|w| w.file("a", b"1")));
        buf.extend([0u8; 512]);
        buf.extend(archive(|w| w.file("b", b"2")));
        buf.extend([0u8; 3]);
        let names: Vec<_> = all(&buf).unwrap().iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b"]);
        // Junk after a trailer is another archive's bad magic.
        let mut junk = archive(|w| w.file("a", b"1"));
        let end = junk.len();
        junk.extend(b"garbage!");
        junk.extend([b'x'; 200]);
        let err = error(&junk);
        assert_eq!((err.offset, err.kind), (end, ErrorKind::BadMagic { found: *b"garbag" }));
        // Data after the trailer's padding, off the 4-byte grid.
        let mut mis = archive(|w| w.file("a", b"1"));
        mis.extend([0, b'0', b'7']);
        assert_eq!(error(&mis).kind, ErrorKind::MisalignedArchive);
    }

    #[test]
    fn an_empty_or_all_nul_input_holds_no_archive() {
        for buf in [&[][..], &[0u8; 64][..]] {
            let e = error(buf);
            assert_eq!((e.offset, e.kind), (0, ErrorKind::NoArchive));
        }
        assert_eq!(ErrorKind::NoArchive.to_string(), "no cpio archive in it (empty, or only NUL bytes)");
        // An archive of only the trailer is fine: nothing in it.
        assert_eq!(validate(&archive(|_| {})), Ok(0));
    }

    #[test]
    fn a_missing_trailer_is_named_at_the_end() {
        let mut out = Vec::new();
        let mut w = NewcWriter::new(&mut out);
        w.file("a", b"1234");
        let len = out.len();
        let mut it = entries(&out);
        assert_eq!(it.next().unwrap().unwrap().name, "a");
        let e = it.next().unwrap().unwrap_err();
        assert_eq!((e.offset, e.kind), (len, ErrorKind::MissingTrailer));
        assert_eq!(e.to_string(), format!("corrupt archive at offset {len}: archive ends without the TRAILER!!! entry (truncated?)"));
        assert!(it.next().is_none(), "the iterator stops after an error");
    }

    /// Every prefix of a good archive is refused with an error (never a
    /// panic, never accepted), and the error is the one the cut explains.
    #[test]
    fn every_truncation_is_named() {
        let buf = sample();
        let trailer_at = buf.len() - 124; // 110 + "TRAILER!!!\0" padded = 124
        for cut in 0..trailer_at + HEADER_LEN + TRAILER.len() + 1 {
            let e = error(&buf[..cut]);
            assert!(e.offset <= cut, "cut {cut}: offset {} beyond the input", e.offset);
            let want_truncation = matches!(
                e.kind,
                ErrorKind::NoArchive
                    | ErrorKind::TruncatedHeader { .. }
                    | ErrorKind::TruncatedName { .. }
                    | ErrorKind::TruncatedData { .. }
                    | ErrorKind::MissingTrailer
            );
            assert!(want_truncation, "cut {cut}: {e}");
            if cut > trailer_at && cut < trailer_at + HEADER_LEN {
                assert_eq!(e.kind, ErrorKind::TruncatedHeader { available: cut - trailer_at });
            }
        }
        // The trailer's own padding may be cut: GNU cpio pads to 512 bytes
        // anyway, and Linux stops reading at the trailer.
        for cut in trailer_at + HEADER_LEN + TRAILER.len() + 1..buf.len() {
            assert_eq!(validate(&buf[..cut]), Ok(5), "cut {cut}");
        }
    }

    #[test]
    fn truncation_messages_say_what_is_missing() {
        let buf = archive(|w| w.file("file", &[7u8; 100]));
        let e = error(&buf[..50]);
        assert_eq!(e.to_string(), "corrupt archive at offset 0: truncated header: 50 of 110 bytes before the end");
        let e = error(&buf[..112]);
        assert_eq!(e.to_string(), "corrupt archive at offset 110: truncated name: namesize 5, but 2 bytes before the end");
        let e = error(&buf[..150]);
        assert_eq!(e.to_string(), "corrupt archive at offset 116: truncated data: filesize 100, but 34 bytes before the end");
    }

    #[test]
    fn sizes_beyond_the_end_never_overflow() {
        let mut buf = archive(|w| w.file("f", b"x"));
        set_field(&mut buf, 0, 6, b"FFFFFFFF");
        let e = error(&buf);
        assert_eq!(e.kind, ErrorKind::TruncatedData { filesize: u32::MAX, available: buf.len() - 112 });
    }

    #[test]
    fn bad_magic_and_other_formats_are_named() {
        let mut buf = archive(|w| w.file("f", b"x"));
        buf[..6].copy_from_slice(b"HELLO!");
        let e = error(&buf);
        assert_eq!(
            e.to_string(),
            "corrupt archive at offset 0: bad magic 'HELLO!': not a cpio newc archive (want 070701 or 070702: cpio -H newc)"
        );
        buf[..6].copy_from_slice(b"070707");
        assert_eq!(error(&buf).kind, ErrorKind::OdcFormat);
        buf[..2].copy_from_slice(&[0xc7, 0x71]);
        assert_eq!(error(&buf).kind, ErrorKind::BinaryFormat);
        for (magic, method) in [
            (&[0x1f, 0x8b, 8][..], "gzip"),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], "xz"),
            (&[0x28, 0xb5, 0x2f, 0xfd][..], "zstd"),
            (&b"BZh9"[..], "bzip2"),
        ] {
            let mut c = magic.to_vec();
            c.extend([0x55u8; 200]);
            assert_eq!(error(&c).kind, ErrorKind::Compressed { method }, "{method}");
        }
        assert_eq!(
            ErrorKind::Compressed { method: "gzip" }.to_string(),
            "gzip-compressed: this kernel has no decompressor; pass the uncompressed cpio archive"
        );
        // Non-printing bytes of a bad magic are escaped.
        let garbage = [0x01u8, 0x02, b'x', 0xff, 0x10, 0x7f];
        let mut g = garbage.to_vec();
        g.extend([0u8; 200]);
        assert_eq!(
            error(&g).kind.to_string(),
            "bad magic '\\x01\\x02x\\xff\\x10\\x7f': not a cpio newc archive (want 070701 or 070702: cpio -H newc)"
        );
    }

    #[test]
    fn non_hex_digits_are_named_with_their_field() {
        let mut buf = archive(|w| w.file("f", b"x"));
        set_field(&mut buf, 0, 6, b"0000001G");
        let e = error(&buf);
        assert_eq!((e.offset, e.kind), (6 + 8 * 6 + 7, ErrorKind::BadHexDigit { field: "filesize", byte: b'G' }));
        assert_eq!(e.kind.to_string(), "header field filesize: byte 0x47 is not a hex digit");
        // A space (what a sloppy writer pads with) and a sign are refused too.
        set_field(&mut buf, 0, 6, b"       1");
        assert_eq!(error(&buf).kind, ErrorKind::BadHexDigit { field: "filesize", byte: b' ' });
        set_field(&mut buf, 0, 6, b"00000001");
        set_field(&mut buf, 0, 1, b"-0081A4\0");
        assert_eq!(error(&buf).kind, ErrorKind::BadHexDigit { field: "mode", byte: b'-' });
    }

    #[test]
    fn names_need_their_nul_and_nothing_else_odd() {
        // namesize 0.
        let mut buf = archive(|w| w.file("f", b"x"));
        set_field(&mut buf, 0, 11, b"00000000");
        assert_eq!(error(&buf).kind, ErrorKind::NameSizeZero);
        // namesize one short: the NUL is not part of the name.
        let mut buf = archive(|w| w.file("abc", b"x"));
        set_field(&mut buf, 0, 11, b"00000003");
        let e = error(&buf);
        assert_eq!((e.offset, e.kind), (HEADER_LEN + 2, ErrorKind::NameWithoutNul));
        assert_eq!(e.kind.to_string(), "name does not end in NUL");
        // A NUL inside.
        let mut buf = archive(|w| w.file("abc", b"x"));
        buf[HEADER_LEN + 1] = 0;
        assert_eq!(error(&buf).kind, ErrorKind::NulInName { at: 1 });
        // Not UTF-8.
        let mut buf = archive(|w| w.file("abc", b"x"));
        buf[HEADER_LEN + 1] = 0xff;
        assert_eq!(error(&buf).kind, ErrorKind::NameNotUtf8);
        // Empty (just the NUL).
        let buf = archive(|w| w.file("", b"x"));
        assert_eq!(error(&buf).kind, ErrorKind::EmptyName);
    }

    #[test]
    fn modes_and_data_must_agree() {
        let mut out = Vec::new();
        let mut w = NewcWriter::new(&mut out);
        w.raw_entry(Header { mode: 0o070644, ..Header::default() }, "x", b"");
        w.trailer();
        assert_eq!(error(&out).kind, ErrorKind::UnknownFileType { mode: 0o070644 });
        assert_eq!(ErrorKind::UnknownFileType { mode: 0o070644 }.to_string(), "mode 0o70644 has no known file type");
        for (ty, mode) in [(FileType::Directory, S_IFDIR), (FileType::CharDevice, S_IFCHR), (FileType::Fifo, S_IFIFO)] {
            let mut out = Vec::new();
            let mut w = NewcWriter::new(&mut out);
            w.raw_entry(Header { mode: mode | 0o755, nlink: 1, ..Header::default() }, "x", b"data");
            w.trailer();
            let e = error(&out);
            assert_eq!(e.kind, ErrorKind::UnexpectedData { file_type: ty, filesize: 4 });
        }
        // A device without data parses, with its rdev.
        let mut out = Vec::new();
        let mut w = NewcWriter::new(&mut out);
        w.raw_entry(Header { mode: S_IFCHR | 0o600, rdevmajor: 5, rdevminor: 1, nlink: 1, ..Header::default() }, "dev/console", b"");
        w.trailer();
        let e = all(&out).unwrap();
        assert_eq!((e[0].file_type, e[0].header.rdevmajor, e[0].header.rdevminor), (FileType::CharDevice, 5, 1));
    }

    #[test]
    fn bad_symlink_targets_are_named() {
        let long = "t".repeat(PATH_MAX);
        for (target, why) in [
            ("", "is empty"),
            ("a\0b", "holds a NUL"),
            (long.as_str(), "is longer than PATH_MAX - 1"),
        ] {
            let buf = archive(|w| w.symlink("l", target));
            let e = error(&buf);
            assert_eq!((e.offset, e.kind), (HEADER_LEN + 2, ErrorKind::BadSymlinkTarget { why }), "{why}");
        }
        let mut buf = archive(|w| w.symlink("l", "ab"));
        buf[HEADER_LEN + 2] = 0xc3; // a lone UTF-8 lead byte
        assert_eq!(error(&buf).kind, ErrorKind::BadSymlinkTarget { why: "is not UTF-8" });
        assert_eq!(ErrorKind::BadSymlinkTarget { why: "is empty" }.to_string(), "symlink target is empty");
    }

    /// Hostile input never panics: every single-byte change of a good
    /// archive, and pseudo-random garbage, gives entries or a named error
    /// whose offset is inside the input.
    #[test]
    fn mutated_and_random_input_never_panics() {
        let good = sample();
        let mut seed = 0x1234_5678u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for i in 0..good.len() {
            for v in [0u8, b'0', b'F', b'/', b'.', 0xff, rnd() as u8] {
                let mut b = good.clone();
                b[i] = v;
                for e in entries(&b) {
                    if let Err(e) = e {
                        assert!(e.offset <= b.len());
                    }
                }
            }
        }
        for len in [0usize, 1, 109, 110, 111, 4096] {
            let b: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            let _ = validate(&b);
            let mut h = b"070701".to_vec();
            h.extend((0..len).map(|_| b"0123456789ABCDEF"[(rnd() & 15) as usize]));
            for e in entries(&h).flatten() {
                assert!(e.data.len() <= h.len());
            }
        }
    }

    /// The real tool: `cpio -o -H newc` (Debian's `cpio`, which
    /// `./run-qemu.sh setup` installs) on a tree of files, read back; and
    /// NewcWriter writes the same bytes. Skipped, saying so, without the
    /// tool.
    #[test]
    fn reads_what_gnu_cpio_writes() {
        use std::process::Command;
        if Command::new("cpio").arg("--version").output().is_err() {
            eprintln!("reads_what_gnu_cpio_writes: no cpio on PATH (./run-qemu.sh setup installs it): not run");
            return;
        }
        let dir = std::env::temp_dir().join(format!("initramfs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let big: Vec<u8> = (0..70_001u32).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(dir.join("bin/big"), &big).unwrap();
        std::fs::write(dir.join("empty"), b"").unwrap();
        std::fs::write(dir.join("odd"), b"abc").unwrap();
        std::os::unix::fs::symlink("bin/big", dir.join("link")).unwrap();
        std::fs::hard_link(dir.join("odd"), dir.join("bin/odd2")).unwrap();
        let list = ".\nbin\nbin/big\nbin/odd2\nempty\nlink\nodd\n";
        for format in ["newc", "crc"] {
            let mut child = Command::new("cpio")
                .args(["-o", "--quiet", "-H", format])
                .current_dir(&dir)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(list.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            let e = all(&out.stdout).unwrap_or_else(|e| panic!("-H {format}: {e}"));
            let by = |n: &str| *e.iter().find(|x| x.name == n).unwrap_or_else(|| panic!("no {n}"));
            assert_eq!(by(".").file_type, FileType::Directory);
            assert_eq!(by("bin/big").data, &big[..]);
            assert_eq!(by("empty").data, b"");
            assert_eq!(by("link").symlink_target(), Some("bin/big"));
            // Hard links: one key; GNU cpio puts the data with the last name.
            let (a, b) = (by("bin/odd2"), by("odd"));
            assert_eq!(a.link_key(), b.link_key());
            assert!(a.link_key().is_some());
            assert_eq!((a.data, b.data), (&b""[..], &b"abc"[..]));
            // Our writer gives the same bytes for the same headers.
            let mut mine = Vec::new();
            let mut w = NewcWriter::new(&mut mine);
            if format == "crc" {
                w = w.with_crc();
            }
            for x in &e {
                w.raw_entry(x.header, x.name, x.data);
            }
            w.trailer();
            let theirs = &out.stdout[..mine.len().min(out.stdout.len())];
            let first_difference = mine.iter().zip(theirs).position(|(a, b)| a != b);
            assert!(
                first_difference.is_none() && mine.len() == theirs.len(),
                "-H {format}: NewcWriter differs from GNU cpio at byte {first_difference:?} (lengths {} and {})",
                mine.len(),
                out.stdout.len()
            );
            assert!(out.stdout[mine.len()..].iter().all(|&b| b == 0), "GNU cpio pads with NULs");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
