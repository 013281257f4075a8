//! Unpacking the initramfs into rootfs (Linux `init/initramfs.c`:
//! `populate_rootfs`, `unpack_to_rootfs`, `do_name`, `maybe_link`).
//!
//! Linux keeps this in `init/`; here it sits with the filesystem it
//! fills, because it is only a user of [`Ramfs`]'s create operations.
//!
//! ```text
//!  bootloader: the archive as a boot module (QEMU -initrd, GRUB module2);
//!              memblock keeps its frames reserved
//!  populate_rootfs (kernel_init, before anything looks for files)
//!    for each module: reach its bytes (direct map, or ioremap_cache
//!                     when it lies above lowmem)
//!      1. boot::initramfs::validate   the whole archive, no changes yet
//!         bad: "initramfs: corrupt archive at offset X: REASON;
//!               continuing without it"       and nothing is unpacked
//!      2. unpack: each entry -> mkdir / create + write / symlink / link
//!         "initramfs: unpacked N files, M bytes into ramfs (P pages, ...)"
//!    free_initrd_mem: the module's frames go back to the allocator
//!         "Freeing initrd memory: NK"   (its files now live in ramfs pages)
//! ```
//!
//! Checking first and unpacking second is where we differ from Linux,
//! which unpacks as it parses and leaves whatever came before the damage.
//! Parsing is cheap, and "continuing without it" is then true: a corrupt
//! archive leaves no half of itself behind.
//!
//! Character device nodes are made, as Linux's `init_mknod` makes them
//! (their numbers reach the drivers of `char_dev.rs`). What the archive may
//! hold that ramfs cannot (a block device, a FIFO, a socket), or that does
//! not fit the tree (a name whose directory is missing or is a file), is
//! skipped with a warning naming the entry; the rest is unpacked. Linux
//! makes those nodes too and silently skips the rest.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use boot::initramfs::{self, Entry, FileType, LinkKey};
use mm::layout::{PAGE_SHIFT, phys_to_virt};

use super::{FsError, InodeRef, Ramfs};

/// What one archive put into the filesystem.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UnpackStats {
    /// Regular files created (a hard link's further names not counted).
    pub files: usize,
    /// Bytes of regular-file data written.
    pub bytes: usize,
    /// Directories made.
    pub dirs: usize,
    /// Symlinks made.
    pub symlinks: usize,
    /// Further names of files (hard links).
    pub links: usize,
    /// Character device nodes made.
    pub devices: usize,
    /// Entries skipped, each with a warning.
    pub skipped: usize,
    /// Pages the files hold, and how many of them are highmem.
    pub pages: usize,
    pub highmem_pages: usize,
}

/// Unpack `archive` into `fs`: check all of it first (a corrupt archive
/// changes nothing and comes back as the error), then create each entry.
/// `warn` hears about every entry skipped, one line each, e.g.
/// `skipping 'dev/initctl': a FIFO (0:0): ramfs here holds no block devices, FIFOs or sockets`.
pub fn unpack(fs: &Ramfs, archive: &[u8], warn: &mut dyn FnMut(fmt::Arguments)) -> Result<UnpackStats, initramfs::Error> {
    initramfs::validate(archive)?;
    let mut stats = UnpackStats::default();
    // Linux's link hash: the first name of each multiply-linked file.
    let mut links: BTreeMap<LinkKey, InodeRef> = BTreeMap::new();
    let mut files: Vec<InodeRef> = Vec::new();
    for entry in initramfs::entries(archive) {
        let entry = entry.expect("validated above");
        if let Err(why) = unpack_entry(fs, &entry, &mut links, &mut files, &mut stats) {
            stats.skipped += 1;
            warn(format_args!("skipping '{}': {why}", entry.name));
        }
    }
    for f in &files {
        let (p, h) = f.page_counts();
        stats.pages += p;
        stats.highmem_pages += h;
    }
    Ok(stats)
}

/// Why one entry was skipped.
enum Skip {
    Fs(FsError),
    NoDevices(FileType, u32, u32),
}

impl From<FsError> for Skip {
    fn from(e: FsError) -> Self {
        Skip::Fs(e)
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Fs(e) => write!(f, "{e}"),
            Skip::NoDevices(t, major, minor) => {
                write!(f, "a {t} ({major}:{minor}): ramfs here holds no block devices, FIFOs or sockets")
            }
        }
    }
}

fn unpack_entry(
    fs: &Ramfs,
    e: &Entry<'_>,
    links: &mut BTreeMap<LinkKey, InodeRef>,
    files: &mut Vec<InodeRef>,
    stats: &mut UnpackStats,
) -> Result<(), Skip> {
    match e.file_type {
        FileType::Directory => {
            if !e.is_root() {
                match fs.mkdir(e.name, e.permissions()) {
                    Ok(_) => stats.dirs += 1,
                    Err(FsError::Exists) => {} // Linux ignores EEXIST too
                    Err(err) => return Err(err.into()),
                }
            }
        }
        FileType::Regular => {
            // maybe_link(): a later name of a file seen before is a link to
            // it, and its data (GNU cpio puts it with the last name) goes
            // into that file, not truncating it.
            let key = e.link_key();
            if let Some(first) = key.and_then(|k| links.get(&k)) {
                let inode = first.clone();
                fs.link(&inode, e.name)?;
                inode.write_at(0, e.data)?;
                stats.links += 1;
                stats.bytes += e.data.len();
                return Ok(());
            }
            let inode = fs.create(e.name, e.permissions())?;
            inode.write_at(0, e.data)?;
            if let Some(k) = key {
                links.insert(k, inode.clone());
            }
            stats.files += 1;
            stats.bytes += e.data.len();
            files.push(inode);
        }
        FileType::Symlink => {
            fs.symlink(e.name, e.symlink_target().expect("checked by the parser"))?;
            stats.symlinks += 1;
        }
        FileType::CharDevice => {
            // Linux's init_mknod: the node is made; opening it reaches the
            // driver for its number (fs/char_dev.rs), or ENXIO.
            fs.mknod_chr(e.name, e.permissions(), e.header.rdevmajor, e.header.rdevminor)?;
            stats.devices += 1;
        }
        t => return Err(Skip::NoDevices(t, e.header.rdevmajor, e.header.rdevminor)),
    }
    Ok(())
}

/// The log line for an unpacked archive.
pub struct UnpackLine(pub UnpackStats);

impl fmt::Display for UnpackLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        write!(f, "unpacked {} files, {} bytes into ramfs ({} pages, ", s.files, s.bytes, s.pages)?;
        if s.pages > 0 && s.highmem_pages == s.pages {
            f.write_str("all highmem)")
        } else {
            write!(f, "{} highmem)", s.highmem_pages)
        }
    }
}

/// Run `f` on the bytes of physical memory `[phys, phys + len)`, which
/// must be RAM nobody else writes (a boot module, reserved in memblock).
/// Below the end of lowmem they are read through the direct map; above it
/// they have no kernel address, so they are mapped with `ioremap_cache`
/// for the call only (the bootloader chooses where a module goes: GRUB may
/// put it high). `None` if that mapping cannot be made.
pub fn with_phys_bytes<R>(phys: u32, len: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let low_end = crate::mm::page_alloc::max_low_pfn() << PAGE_SHIFT;
    let end = (phys as usize).checked_add(len)?;
    if end <= low_end {
        // SAFETY: [phys, end) is below max_low_pfn, so the direct map
        // covers it; the caller guarantees nobody writes it meanwhile.
        let bytes = unsafe { core::slice::from_raw_parts(phys_to_virt(phys as usize) as *const u8, len) };
        return Some(f(bytes));
    }
    let addr = crate::mm::vmalloc::ioremap_cache(phys as u64, len.max(1))?;
    // SAFETY: ioremap_cache mapped [phys, phys + len) at addr until the
    // iounmap below; the slice does not outlive f.
    let r = f(unsafe { core::slice::from_raw_parts(addr as *const u8, len) });
    crate::mm::vmalloc::iounmap(addr);
    Some(r)
}

/// Unpack every boot module into [`super::rootfs`] (Linux
/// `populate_rootfs`, a `rootfs_initcall`). Each module is one archive
/// (or several concatenated); each gets its line in the log. A bad one
/// is named and left out; the boot goes on.
pub fn populate_rootfs() {
    let info = crate::init::boot_info();
    for m in info.modules() {
        let len = (m.end - m.start) as usize;
        log::info!("initramfs: unpacking {m}, {len} bytes");
        // The module's frames are reserved (mem_init) until
        // free_initrd_mem below, so nothing else writes them meanwhile.
        let result = with_phys_bytes(m.start, len, |bytes| {
            unpack(super::rootfs(), bytes, &mut |w| log::warn!("initramfs: {w}"))
        });
        match result {
            Some(Ok(stats)) => log::info!("initramfs: {}", UnpackLine(stats)),
            Some(Err(e)) => log::warn!("initramfs: {e}; continuing without it"),
            None => log::warn!("initramfs: module {m} lies above lowmem and could not be mapped; continuing without it"),
        }
        free_initrd_mem(m.start as u64, m.end as u64);
    }
    if info.modules().is_empty() {
        log::info!("initramfs: none (no boot module); rootfs is an empty ramfs");
    }
}

/// Pages given back by [`free_initrd_mem`] since boot.
pub static INITRD_PAGES_FREED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// The archive has been copied into ramfs (or refused): its frames are
/// nobody's now, so they go back to the allocator (Linux `free_initrd_mem`,
/// called by `do_populate_rootfs`, with its log line). Only whole pages:
/// the partial pages at either end may share a frame with something still
/// reserved, and stay so (`free_reserved_area`). A corrupt archive is freed
/// too: it was refused as a whole and nothing refers to it, as in Linux.
/// Nothing reads a module after this; `boot_info().modules()` still lists
/// where it was, for the log.
pub fn free_initrd_mem(start: u64, end: u64) {
    let pages = crate::mm::page_alloc::free_reserved_area(start, end);
    INITRD_PAGES_FREED.fetch_add(pages, core::sync::atomic::Ordering::Relaxed);
    log::info!("Freeing initrd memory: {}K", pages * 4);
}
