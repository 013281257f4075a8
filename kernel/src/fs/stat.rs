//! `stat64`, `lstat64` and `fstat64` (Linux `fs/stat.c`): what a file is,
//! in Linux's i386 `struct stat64`.
//!
//! ```text
//!  stat64(path, buf)   getname -> namei (follow)    -\
//!  lstat64(path, buf)  getname -> namei_nofollow    ---> vfs_getattr -> Kstat
//!  fstat64(fd, buf)    the fd's inode, or the console -/        |
//!                                    cp_new_stat64: the 96 bytes below
//!                                              copy_to_user(buf, ..)
//! ```
//!
//! `struct stat64` (arch/x86/include/uapi/asm/stat.h), as i386 lays it out:
//! `long long` is 4-byte aligned inside a struct there, so `st_size`
//! starts at 44, not 48. The byte offsets are written out below rather
//! than left to a `repr(C)` struct, so that they can be read and checked
//! against the header:
//!
//! | offset | field | here |
//! |---|---|---|
//! | 0  | `unsigned long long st_dev` | ramfs: 0:1; the console: 0:5 (see [`console_getattr`]) |
//! | 8  | `unsigned char __pad0[4]` | 0 |
//! | 12 | `unsigned long __st_ino` | the inode number's low 32 bits |
//! | 16 | `unsigned int st_mode` | `S_IFREG`/`S_IFDIR`/`S_IFLNK`/`S_IFCHR` + the permission bits |
//! | 20 | `unsigned int st_nlink` | [`super::Inode::nlink`] |
//! | 24, 28 | `unsigned long st_uid, st_gid` | 0 (no owners yet) |
//! | 32 | `unsigned long long st_rdev` | 0, or the console's 5:1 |
//! | 40 | `unsigned char __pad3[4]` | 0 |
//! | 44 | `long long st_size` | bytes |
//! | 52 | `unsigned long st_blksize` | 4096 (a page) |
//! | 56 | `unsigned long long st_blocks` | 512-byte units held: pages * 8 |
//! | 64..88 | `st_atime, _nsec, st_mtime, _nsec, st_ctime, _nsec` | 0: no clock yet |
//! | 88 | `unsigned long long st_ino` | the inode number |
//! | 96 | (end) | |
//!
//! Where we differ from Linux, and why: owners and times are 0 (the
//! initramfs's uid, gid and mtime are not kept: there are no users and no
//! wall clock yet; Linux's initramfs `chown`s and `utime`s each entry);
//! `st_blocks` counts the pages a file holds, as tmpfs (Linux's usual
//! rootfs) does, where plain ramfs leaves it 0.

use super::file::Fd;
use super::{Inode, InodeKind};
use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::{EBADF, EFAULT};

/// File type bits of `st_mode` (`include/uapi/linux/stat.h`).
pub const S_IFMT: u32 = 0o170000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;

/// The size of i386's `struct stat64`.
pub const STAT64_SIZE: usize = 96;
/// `st_blksize`: the unit of efficient I/O, a page (Linux: `1 <<
/// i_blkbits`, PAGE_SHIFT for ramfs and tmpfs).
pub const BLKSIZE: u32 = 4096;

/// A device number as `stat64` carries it (Linux `new_encode_dev`, which
/// `huge_encode_dev` is on 32 bits): minor's low 8 bits, major above
/// them, minor's upper bits from bit 20.
pub const fn new_encode_dev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as u64
}

/// The rootfs's device: 0:1, an anonymous device (Linux gives each
/// in-memory filesystem one from `get_anon_bdev`; the rootfs is mounted
/// first).
pub const RAMFS_DEV: u64 = new_encode_dev(0, 1);
/// The console's file: `/dev/console`, character device 5:1
/// (`TTYAUX_MAJOR`, minor 1), on devtmpfs, anonymous device 0:5 on a
/// usual boot, where its inode is ours too: [`CONSOLE_INO`].
pub const CONSOLE_RDEV: u64 = new_encode_dev(5, 1);
pub const CONSOLE_DEV: u64 = new_encode_dev(0, 5);
pub const CONSOLE_INO: u64 = 1;

/// What `stat` says about a file (Linux `struct kstat`), before it is laid
/// out for user space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kstat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: u32,
    pub blocks: u64,
}

/// The attributes of a rootfs inode (Linux `vfs_getattr` ->
/// `generic_fillattr`).
pub fn vfs_getattr(inode: &Inode) -> Kstat {
    let kind = match inode.kind {
        InodeKind::Regular(_) => S_IFREG,
        InodeKind::Directory(_) => S_IFDIR,
        InodeKind::Symlink(_) => S_IFLNK,
        InodeKind::CharDevice { .. } => S_IFCHR,
        InodeKind::Pipe(_) => S_IFIFO,
    };
    // A device node's number, as Linux's new_encode_dev packs it.
    let rdev = inode.rdev().map_or(0, |(major, minor)| new_encode_dev(major, minor));
    let (pages, _) = inode.page_counts();
    Kstat {
        dev: RAMFS_DEV,
        ino: inode.ino as u64,
        mode: kind | inode.mode,
        nlink: inode.nlink.load(core::sync::atomic::Ordering::Relaxed),
        uid: 0,
        gid: 0,
        rdev,
        size: inode.size() as i64,
        blksize: BLKSIZE,
        blocks: (pages * (mm::layout::PAGE_SIZE / 512)) as u64,
    }
}

/// The attributes of the console, fds 0-2 of every process. Linux's
/// /init gets them from `console_on_rootfs`, which opens `/dev/console`:
/// so `crw-------` root root, device 5:1, as on Linux (and 0 bytes, no
/// blocks). The serial port under it is ttyS0 (4:64), but the file the
/// process holds is the console, and that is what Linux's `fstat` shows.
pub fn console_getattr() -> Kstat {
    Kstat { dev: CONSOLE_DEV, ino: CONSOLE_INO, mode: S_IFCHR | 0o600, nlink: 1, rdev: CONSOLE_RDEV, blksize: BLKSIZE, ..Kstat::default() }
}

/// Lay `st` out as i386's `struct stat64` (Linux `cp_new_stat64`, which
/// zeroes the structure first: the padding is 0).
pub fn cp_new_stat64(st: &Kstat) -> [u8; STAT64_SIZE] {
    let mut b = [0u8; STAT64_SIZE];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &st.dev.to_le_bytes());
    put(12, &(st.ino as u32).to_le_bytes()); // __st_ino
    put(16, &st.mode.to_le_bytes());
    put(20, &st.nlink.to_le_bytes());
    put(24, &st.uid.to_le_bytes());
    put(28, &st.gid.to_le_bytes());
    put(32, &st.rdev.to_le_bytes());
    put(44, &st.size.to_le_bytes());
    put(52, &st.blksize.to_le_bytes());
    put(56, &st.blocks.to_le_bytes());
    // 64..88: the three times and their nanoseconds, 0.
    put(88, &st.ino.to_le_bytes());
    b
}

/// Copy `st` to the user's `struct stat64` at `buf`: 0, or `-EFAULT` if it
/// does not all fit (Linux: `copy_to_user(..) ? -EFAULT : 0`).
fn put_stat64(st: &Kstat, buf: usize) -> i32 {
    if copy_to_user(buf, &cp_new_stat64(st)) != 0 { -EFAULT } else { 0 }
}

/// `stat64(path, buf)` and `lstat64(path, buf)`: look `path` up (a
/// symlink at the end followed or not) and fill `*buf`. Errors as Linux's:
/// `EFAULT` for a bad path or buffer, `ENAMETOOLONG`, `ENOENT` (also for
/// ""), `ENOTDIR`, `ELOOP`.
fn stat_path(regs: &PtRegs, follow: bool) -> i32 {
    let (path, buf) = (regs.bx as usize, regs.cx as usize);
    let path = match super::open::getname(path) {
        Ok(p) => p,
        Err(e) => return -e,
    };
    // From the task's current directory for a relative path (Linux's
    // vfs_fstatat(AT_FDCWD, ..)).
    let flags = if follow { super::namei::LOOKUP_FOLLOW } else { 0 };
    match super::namei::path_lookupat(&super::namei::Base::current(), &path, flags) {
        Ok(inode) => put_stat64(&vfs_getattr(&inode), buf),
        Err(e) => -e.errno(),
    }
}

/// `stat64(path, buf)` (i386 195).
pub fn sys_stat64(regs: &mut PtRegs) -> i32 {
    stat_path(regs, true)
}

/// `lstat64(path, buf)` (i386 196): a symlink itself, not its target.
pub fn sys_lstat64(regs: &mut PtRegs) -> i32 {
    stat_path(regs, false)
}

/// `fstat64(fd, buf)` (i386 197): `-EBADF` for a descriptor not open,
/// `-EFAULT` for a bad buffer.
pub fn sys_fstat64(regs: &mut PtRegs) -> i32 {
    let (fd, buf) = (regs.bx as i32, regs.cx as usize);
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -EBADF };
    let st = match &file {
        Fd::Console => console_getattr(),
        Fd::File(f) => vfs_getattr(&f.inode),
    };
    put_stat64(&st, buf)
}

/// `statx` mask bits (`include/uapi/linux/stat.h`): what a `struct statx`
/// holds. `STATX_BASIC_STATS` is everything `stat` gives.
pub const STATX_BASIC_STATS: u32 = 0x7ff;
/// `stx_mnt_id` is filled (Linux 6.1 always fills it).
pub const STATX_MNT_ID: u32 = 0x1000;
/// A bit no caller may ask for (`STATX__RESERVED`).
pub const STATX_RESERVED: u32 = 0x8000_0000;
/// `stx_attributes` bits Linux 6.1's VFS always knows about
/// (`attributes_mask`): automount, the root of a mount, DAX.
pub const STATX_ATTR_AUTOMOUNT: u64 = 0x1000;
pub const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
pub const STATX_ATTR_DAX: u64 = 0x20_0000;
/// The size of `struct statx`.
pub const STATX_SIZE: usize = 256;
/// `statx` flags: do not follow a last symlink; the path may be empty
/// (then `dirfd` itself); no automount; the sync type (two bits, 3 is
/// invalid).
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;
/// The mount id `statx` reports for the rootfs (Linux numbers mounts from
/// 1 as they are made; the rootfs is the first).
pub const ROOTFS_MNT_ID: u64 = 1;

/// Lay `st` out as Linux's `struct statx` (`cp_statx`, which zeroes it
/// first). The layout is the same on every architecture:
///
/// | offset | field |
/// |---|---|
/// | 0 | `u32 stx_mask` (what is filled: [`STATX_BASIC_STATS`] and [`STATX_MNT_ID`]) |
/// | 4 | `u32 stx_blksize` |
/// | 8 | `u64 stx_attributes` |
/// | 16, 20, 24 | `u32 stx_nlink, stx_uid, stx_gid` |
/// | 28 | `u16 stx_mode` |
/// | 32, 40, 48 | `u64 stx_ino, stx_size, stx_blocks` |
/// | 56 | `u64 stx_attributes_mask` |
/// | 64..128 | four `statx_timestamp`s (atime, btime, ctime, mtime): 0, no clock yet |
/// | 128, 132 | `u32 stx_rdev_major, stx_rdev_minor` |
/// | 136, 140 | `u32 stx_dev_major, stx_dev_minor` |
/// | 144 | `u64 stx_mnt_id` |
/// | 152..256 | DIO alignment (0: no direct I/O) and spare, 0 |
pub fn cp_statx(st: &Kstat, mount_root: bool, mnt_id: u64) -> [u8; STATX_SIZE] {
    let mut b = [0u8; STATX_SIZE];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &(STATX_BASIC_STATS | STATX_MNT_ID).to_le_bytes());
    put(4, &st.blksize.to_le_bytes());
    put(8, &(if mount_root { STATX_ATTR_MOUNT_ROOT } else { 0 }).to_le_bytes());
    put(16, &st.nlink.to_le_bytes());
    put(20, &st.uid.to_le_bytes());
    put(24, &st.gid.to_le_bytes());
    put(28, &(st.mode as u16).to_le_bytes());
    put(32, &st.ino.to_le_bytes());
    put(40, &(st.size as u64).to_le_bytes());
    put(48, &st.blocks.to_le_bytes());
    put(56, &(STATX_ATTR_AUTOMOUNT | STATX_ATTR_MOUNT_ROOT | STATX_ATTR_DAX).to_le_bytes());
    put(128, &new_decode_major(st.rdev).to_le_bytes());
    put(132, &new_decode_minor(st.rdev).to_le_bytes());
    put(136, &new_decode_major(st.dev).to_le_bytes());
    put(140, &new_decode_minor(st.dev).to_le_bytes());
    put(144, &mnt_id.to_le_bytes());
    b
}

/// The major number of a device number as [`new_encode_dev`] makes it.
pub const fn new_decode_major(dev: u64) -> u32 {
    ((dev & 0xfff00) >> 8) as u32
}

/// The minor number of a device number as [`new_encode_dev`] makes it.
pub const fn new_decode_minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32
}

/// `statx(dirfd, path, flags, mask, buf)` (i386 383; Linux `do_statx`):
/// `EINVAL` for an unknown flag, sync type 3 or the reserved mask bit
/// (before anything else); the path from `dirfd` (`AT_FDCWD`: the cwd),
/// a last symlink followed unless `AT_SYMLINK_NOFOLLOW`; with
/// `AT_EMPTY_PATH` an empty path is `dirfd` itself (any open file, the
/// console too). The mask asks; Linux fills what it has anyway and says
/// so in `stx_mask`, and so do we.
pub fn sys_statx(regs: &mut PtRegs) -> i32 {
    let (dirfd, pathp, flags, mask, buf) = (regs.bx as i32, regs.cx as usize, regs.dx, regs.si, regs.di as usize);
    use super::namei::{AT_EMPTY_PATH, Base, LOOKUP_FOLLOW};
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return -crate::errno::EINVAL;
    }
    let path = match super::namei::getname_flags(pathp, flags & AT_EMPTY_PATH != 0) {
        Ok(p) => p,
        Err(e) => return -e,
    };
    let root = super::rootfs().root().clone();
    let (st, inode) = if path.is_empty() {
        // AT_EMPTY_PATH: the file open on dirfd, or the cwd.
        if dirfd == super::namei::AT_FDCWD {
            let cwd = Base::current().cwd;
            (vfs_getattr(&cwd), Some(cwd))
        } else {
            match crate::sched::current().files.lock().get(dirfd) {
                None => return -EBADF,
                Some(Fd::File(f)) => (vfs_getattr(&f.inode), Some(f.inode.clone())),
                Some(_) => (console_getattr(), None),
            }
        }
    } else {
        let base = match Base::at(dirfd, &path) {
            Ok(b) => b,
            Err(e) => return -e,
        };
        let follow = if flags & AT_SYMLINK_NOFOLLOW == 0 { LOOKUP_FOLLOW } else { 0 };
        match super::namei::path_lookupat(&base, &path, follow) {
            Ok(i) => (vfs_getattr(&i), Some(i)),
            Err(e) => return -e.errno(),
        }
    };
    let mount_root = inode.as_ref().is_some_and(|i| alloc::sync::Arc::ptr_eq(i, &root));
    // The console lives on devtmpfs, another mount (Linux: its own id).
    let mnt_id = if inode.is_some() { ROOTFS_MNT_ID } else { ROOTFS_MNT_ID + 1 };
    if copy_to_user(buf, &cp_statx(&st, mount_root, mnt_id)) != 0 { -EFAULT } else { 0 }
}
