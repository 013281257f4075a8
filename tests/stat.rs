//! `stat64`, `lstat64`, `fstat64` (kernel/src/fs/stat.rs, Linux
//! `fs/stat.c`) through the system-call table on the suite's initramfs
//! (tests/runner.sh packs it: data/small.bin 100 bytes mode 0640 with a
//! hard link, data/sub mode 0750, data/big.bin 1 MiB + 4099 bytes, link ->
//! data/big.bin): the bytes of i386's `struct stat64` at Linux's offsets,
//! and Linux's errno for each bad argument.

use alloc::vec::Vec;

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EBADF, EFAULT, ENAMETOOLONG, ENOENT, ENOTDIR};
use crate::fs::stat::{S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG};
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(stat64_of_ramfs_files_fills_linuxs_i386_layout),
    test_case!(lstat64_sees_the_symlink_and_stat64_its_target),
    test_case!(fstat64_of_an_open_file_and_of_the_console),
    test_case!(stat_bad_arguments_get_linuxs_errno),
];

fn syscall(nr: i32, a: usize, b: usize) -> i32 {
    let mut regs = PtRegs { bx: a as u32, cx: b as u32, orig_ax: nr as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

/// Where the path goes, and where `struct stat64` goes (a page further,
/// untouched until the call: the copy faults it in).
const PATH: usize = DATA;
const BUF: usize = DATA + 0x1000;

fn setup() {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
}

fn put_path(p: &str) -> usize {
    let mut s = Vec::from(p.as_bytes());
    s.push(0);
    assert_eq!(copy_to_user(PATH, &s), 0);
    PATH
}

/// The user's `struct stat64`, read back field by field at i386's offsets
/// (arch/x86/include/uapi/asm/stat.h), plus the 4 bytes after it.
struct Stat64 {
    raw: [u8; 100],
}

impl Stat64 {
    fn read() -> Self {
        let mut raw = [0u8; 100];
        assert_eq!(copy_from_user(&mut raw, BUF), 0);
        Stat64 { raw }
    }
    fn u32(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.raw[off..off + 4].try_into().unwrap())
    }
    fn u64(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.raw[off..off + 8].try_into().unwrap())
    }
    fn dev(&self) -> u64 { self.u64(0) }
    fn pad0(&self) -> u32 { self.u32(8) }
    fn st_ino32(&self) -> u32 { self.u32(12) }
    fn mode(&self) -> u32 { self.u32(16) }
    fn nlink(&self) -> u32 { self.u32(20) }
    fn rdev(&self) -> u64 { self.u64(32) }
    fn pad3(&self) -> u32 { self.u32(40) }
    fn size(&self) -> u64 { self.u64(44) }
    fn blksize(&self) -> u32 { self.u32(52) }
    fn blocks(&self) -> u64 { self.u64(56) }
    fn ino(&self) -> u64 { self.u64(88) }
    fn after(&self) -> u32 { self.u32(96) }
}

/// Fill the buffer (and 4 bytes past its 96) with 0xaa first, so a field
/// left unwritten, or a write past the end, shows.
fn poison() {
    assert_eq!(copy_to_user(BUF, &[0xaa; 100]), 0);
}

fn stat(path: &str) -> Stat64 {
    poison();
    assert_eq!(syscall(nr::STAT64, put_path(path), BUF), 0, "stat64({path})");
    Stat64::read()
}

fn stat64_of_ramfs_files_fills_linuxs_i386_layout() {
    setup();
    let small = crate::fs::lookup("/data/small.bin").expect("in the suite's initramfs");
    let s = stat("/data/small.bin");
    assert_eq!(s.mode(), S_IFREG | 0o640, "a regular file with the archive's mode 0640: {:#o}", s.mode());
    assert_eq!(s.size(), 100);
    assert_eq!(s.blocks(), 8, "one page held: 8 blocks of 512 bytes");
    assert_eq!(s.blksize(), 4096);
    assert_eq!(s.nlink(), 2, "two names: small.bin and small-link.bin");
    assert_eq!(s.ino(), small.ino as u64, "st_ino at offset 88 is the inode number");
    assert_eq!(s.st_ino32(), small.ino, "and __st_ino at 12 its low 32 bits");
    assert_eq!((s.pad0(), s.pad3()), (0, 0), "the padding is zeroed, as cp_new_stat64 does");
    assert_eq!(s.dev(), crate::fs::stat::RAMFS_DEV);
    assert_eq!(s.rdev(), 0);
    assert!(s.raw[24..32].iter().all(|&b| b == 0), "uid and gid 0");
    assert!(s.raw[64..88].iter().all(|&b| b == 0), "the times: 0 (no clock yet)");
    assert_eq!(s.after(), 0xaaaa_aaaa, "nothing written past the 96 bytes");
    let link = stat("/data/small-link.bin");
    assert_eq!(link.ino(), s.ino(), "a hard link is the same inode");
    let big = stat("/data/big.bin");
    assert_eq!(big.size(), 1024 * 1024 + 4099);
    assert_eq!(big.blocks(), 258 * 8, "258 pages");
    assert_eq!(big.mode() & S_IFREG, S_IFREG);
    let sub = stat("/data/sub");
    assert_eq!(sub.mode(), S_IFDIR | 0o750, "a directory with the archive's mode 0750: {:#o}", sub.mode());
    assert_eq!(sub.nlink(), 2, "an empty directory: . and its name");
    let data = stat("/data/");
    assert_eq!(data.mode() & 0o170000, S_IFDIR);
    assert_eq!(data.nlink(), 3, "2 + one subdirectory's ..");
    assert_eq!(stat("/").ino(), 1, "the root is inode 1");
    assert_eq!(stat("/data/sub/..").ino(), data.ino(), ".. is the parent");
}

fn lstat64_sees_the_symlink_and_stat64_its_target() {
    setup();
    poison();
    assert_eq!(syscall(nr::LSTAT64, put_path("/link"), BUF), 0);
    let l = Stat64::read();
    assert_eq!(l.mode(), S_IFLNK | 0o777, "lstat: the symlink itself");
    assert_eq!(l.size(), "data/big.bin".len() as u64, "its size is its target's length");
    let t = stat("/link");
    assert_eq!(t.mode() & 0o170000, S_IFREG, "stat: followed to the file");
    assert_eq!(t.size(), 1024 * 1024 + 4099);
    assert_ne!(t.ino(), l.ino());
    poison();
    assert_eq!(syscall(nr::LSTAT64, put_path("/data/small.bin"), BUF), 0);
    assert_eq!(Stat64::read().mode(), S_IFREG | 0o640, "lstat of a plain file is stat");
}

fn fstat64_of_an_open_file_and_of_the_console() {
    setup();
    let fd = syscall(nr::OPEN, put_path("/data/small.bin"), 0);
    assert!(fd >= 3);
    poison();
    assert_eq!(syscall(nr::FSTAT64, fd as usize, BUF), 0);
    let f = Stat64::read();
    let s = stat("/data/small.bin");
    assert_eq!(f.raw[..96], s.raw[..96], "fstat of the open file says what stat of its path does");
    for fd in 0..3 {
        poison();
        assert_eq!(syscall(nr::FSTAT64, fd, BUF), 0);
        let c = Stat64::read();
        assert_eq!(c.mode(), S_IFCHR | 0o600, "fd {fd}: the console, a character device");
        assert_eq!(c.rdev(), (5 << 8) | 1, "fd {fd}: /dev/console, 5:1");
        assert_eq!(c.size(), 0);
        assert_eq!(c.blocks(), 0);
        assert_eq!(c.after(), 0xaaaa_aaaa);
    }
    assert_eq!(syscall(nr::CLOSE, fd as usize, 0), 0);
}

fn stat_bad_arguments_get_linuxs_errno() {
    setup();
    let fd = syscall(nr::OPEN, put_path("/data/small.bin"), 0) as usize;
    assert_eq!(syscall(nr::FSTAT64, 99, BUF), -EBADF, "a descriptor not open");
    assert_eq!(syscall(nr::FSTAT64, (-1i32) as usize, BUF), -EBADF);
    assert_eq!(syscall(nr::FSTAT64, fd, 0xc000_0000), -EFAULT, "a kernel address as the buffer");
    assert_eq!(syscall(nr::FSTAT64, fd, 0), -EFAULT, "a NULL buffer");
    assert_eq!(syscall(nr::FSTAT64, fd, 0xbfff_ffc0), -EFAULT, "a buffer that runs into the kernel");
    assert_eq!(syscall(nr::FSTAT64, 0, 0xc000_0000), -EFAULT, "the console's too");
    assert_eq!(syscall(nr::STAT64, put_path("/data/small.bin"), 0xc000_0000), -EFAULT);
    assert_eq!(syscall(nr::LSTAT64, put_path("/link"), 0xc000_0000), -EFAULT);
    assert_eq!(syscall(nr::STAT64, 0, BUF), -EFAULT, "a NULL path");
    assert_eq!(syscall(nr::STAT64, 0xc000_0000, BUF), -EFAULT, "a kernel address as the path");
    assert_eq!(syscall(nr::LSTAT64, 0xc000_0000, BUF), -EFAULT);
    assert_eq!(syscall(nr::STAT64, put_path("/no/such"), BUF), -ENOENT);
    assert_eq!(syscall(nr::LSTAT64, put_path("/data/nothing"), BUF), -ENOENT);
    assert_eq!(syscall(nr::STAT64, put_path(""), BUF), -ENOENT, "an empty path");
    assert_eq!(syscall(nr::STAT64, put_path("/hello.txt/x"), BUF), -ENOTDIR, "a file as a directory");
    assert_eq!(syscall(nr::STAT64, put_path("/hello.txt/"), BUF), -ENOTDIR, "a file with a trailing slash");
    assert_eq!(syscall(nr::LSTAT64, put_path("/data/small.bin/"), BUF), -ENOTDIR);
    assert_eq!(copy_to_user(DATA + 0x2000, &[b'a'; 4096]), 0);
    assert_eq!(syscall(nr::STAT64, DATA + 0x2000, BUF), -ENAMETOOLONG, "no NUL within PATH_MAX");
    // Nothing was written by the failed calls.
    poison();
    assert_eq!(syscall(nr::STAT64, put_path("/no/such"), BUF), -ENOENT);
    assert_eq!(Stat64::read().mode(), 0xaaaa_aaaa, "a failed stat writes nothing");
    assert_eq!(syscall(nr::CLOSE, fd, 0), 0);
}
