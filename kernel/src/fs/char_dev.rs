//! Character devices (Linux `fs/char_dev.c`) and the `/dev` that boot
//! makes (what Linux's devtmpfs does).
//!
//! A device node is an inode of kind [`InodeKind::CharDevice`] with Linux's
//! device number; opening one asks the driver for that number, as Linux's
//! `chrdev_open` looks the number up and installs the driver's
//! `file_operations` in the new file. The drivers and their numbers:
//!
//! | node           | major:minor | driver                            | open gives       |
//! |----------------|-------------|-----------------------------------|------------------|
//! | `/dev/null`    | 1:3         | `drivers::mem` (`read_null`)      | a `File`         |
//! | `/dev/zero`    | 1:5         | `drivers::mem` (`read_zero`)      | a `File`         |
//! | `/dev/tty`     | 5:0         | the caller's controlling terminal | `Fd::Console`    |
//! | `/dev/console` | 5:1         | the serial console                | `Fd::Console`    |
//! | `/dev/ttyS0`   | 4:64        | the serial console, as its tty    | `Fd::Console`    |
//!
//! Opening 5:0 or 5:1 gives the very kind of descriptor fds 0-2 are, so a
//! program that opens `/dev/console` reads and writes the console exactly
//! as through its standard descriptors. `/dev/tty` is the caller's
//! controlling terminal (Linux `tty_open_current_tty`): the console if it
//! is that (kernel/src/tty.rs, `is_ctty`), `ENXIO` for a process without
//! one, as Linux answers. Difference from Linux: every open of them shares
//! fds 0-2's status flags (see [`super::file::CONSOLE_F_FLAGS`]). Any other number: `ENXIO`, Linux's
//! answer for a number with no driver. `/dev/ttyS0` is the same terminal
//! under the 8250 driver's own number: opened without `O_NOCTTY` by a
//! session leader that has no controlling terminal, it becomes that
//! session's (Linux `tty_open_proc_set_tty`), which 5:0 and 5:1 never do.
//!
//! The `read`/`write`/`lseek` of a device file come here from
//! `read_write.rs` through [`super::file`]'s dispatch; that is the small
//! `file_operations` this kernel has.

use super::file::{Fd, File};
use super::{InodeKind, InodeRef, Ramfs};
use crate::drivers::mem::{self, MEM_MAJOR, NULL_MINOR, ZERO_MINOR};
use crate::errno::ENXIO;

/// Major number of `/dev/tty` and `/dev/console` (Linux `TTYAUX_MAJOR`).
pub const TTYAUX_MAJOR: u32 = 5;
/// `/dev/tty`'s minor.
pub const TTY_MINOR: u32 = 0;
/// `/dev/console`'s minor.
pub const CONSOLE_MINOR: u32 = 1;

/// The serial driver's major (Linux `TTY_MAJOR`) and `ttyS0`'s minor.
pub const TTY_MAJOR: u32 = 4;
pub const TTYS0_MINOR: u32 = 64;

/// Open the device node `inode`, number `major:minor` (Linux
/// `chrdev_open`): the descriptor's target, or `-ENXIO`.
pub fn chrdev_open(inode: InodeRef, major: u32, minor: u32, flags: u32) -> Result<Fd, i32> {
    match (major, minor) {
        (MEM_MAJOR, NULL_MINOR | ZERO_MINOR) => Ok(Fd::File(File::new(inode, flags))),
        (TTYAUX_MAJOR, TTY_MINOR) if !crate::tty::is_ctty(crate::sched::current()) => Err(-ENXIO),
        (TTYAUX_MAJOR, TTY_MINOR | CONSOLE_MINOR) => Ok(Fd::Console),
        (TTY_MAJOR, TTYS0_MINOR) => {
            crate::tty::tty_open_proc_set_tty(flags & super::open::O_NOCTTY != 0);
            Ok(Fd::Console)
        }
        _ => Err(-ENXIO),
    }
}

/// `read` of an open device file (the driver's `read`).
pub fn chrdev_read(major: u32, minor: u32, buf: usize, count: usize) -> i32 {
    match (major, minor) {
        (MEM_MAJOR, NULL_MINOR) => mem::read_null(buf, count),
        (MEM_MAJOR, ZERO_MINOR) => mem::read_zero(buf, count),
        _ => -ENXIO, // chrdev_open let no other number through
    }
}

/// `write` of an open device file.
pub fn chrdev_write(major: u32, minor: u32, buf: usize, count: usize) -> i32 {
    match (major, minor) {
        (MEM_MAJOR, NULL_MINOR | ZERO_MINOR) => mem::write_null(buf, count),
        _ => -ENXIO,
    }
}

/// The nodes boot puts in `/dev`: name, mode, major, minor (Linux's
/// devtmpfs creates them as the drivers register: `mem` gives null 0666
/// and zero 0666, the tty layer tty 0666 and console 0600).
pub const DEV_NODES: &[(&str, u32, u32, u32)] = &[
    ("null", 0o666, MEM_MAJOR, NULL_MINOR),
    ("zero", 0o666, MEM_MAJOR, ZERO_MINOR),
    ("tty", 0o666, TTYAUX_MAJOR, TTY_MINOR),
    ("console", 0o600, TTYAUX_MAJOR, CONSOLE_MINOR),
    ("ttyS0", 0o660, TTY_MAJOR, TTYS0_MINOR),
];

/// Make `/dev` and its nodes in `fs` (what devtmpfs gives Linux): after
/// the initramfs is unpacked, so a `/dev` the archive brought is kept and
/// completed, and a node it brought under one of these names is replaced
/// by the kernel's (devtmpfs, mounted on `/dev`, would hide it). Returns
/// how many nodes were made.
pub fn devtmpfs_init(fs: &Ramfs) -> usize {
    match fs.mkdir("/dev", 0o755) {
        Ok(_) | Err(super::FsError::Exists) => {}
        Err(e) => {
            log::warn!("devtmpfs: cannot make /dev: {e}");
            return 0;
        }
    }
    let mut made = 0;
    for &(name, mode, major, minor) in DEV_NODES {
        let path = alloc::format!("/dev/{name}");
        match fs.mknod_chr(&path, mode, major, minor) {
            Ok(_) => made += 1,
            Err(e) => log::warn!("devtmpfs: cannot make {path}: {e}"),
        }
    }
    made
}

/// The device number of an open file's inode, if it is a device node.
pub fn file_rdev(f: &File) -> Option<(u32, u32)> {
    match f.inode.kind {
        InodeKind::CharDevice { major, minor } => Some((major, minor)),
        _ => None,
    }
}
