//! `stattest`: `stat64`, `lstat64` and `fstat64` as a program sees them,
//! the same under Linux, qemu-i386 and this kernel. i386's `struct stat64`
//! (arch/x86/include/uapi/asm/stat.h) is read at its byte offsets, so a
//! field in the wrong place fails here first on the host's Linux:
//!
//! * the program's own file (argv[0]): a regular file with execute bits,
//!   its size, its blocks (512-byte units) covering the size, `__st_ino`
//!   the low half of `st_ino`, exactly 96 bytes written;
//!   `lstat64` of it and `fstat64` of it opened say the same;
//! * `/` is a directory; fd 0 is a character device (the console here,
//!   /dev/null when tests/user.sh runs it on the host);
//! * bad arguments: a NULL or kernel-address path or buffer `EFAULT`, ""
//!   and a missing name `ENOENT`, a file used as a directory `ENOTDIR`, a
//!   descriptor not open (7: the runner closes it; -1) `EBADF`.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::{EBADF, EFAULT};
use user::syscall::{syscall1, syscall2, syscall3};
use user::{Args, entry};

entry!(main);

const OPEN: usize = 5;
const CLOSE: usize = 6;
const STAT64: usize = 195;
const LSTAT64: usize = 196;
const FSTAT64: usize = 197;
const ENOENT: isize = 2;
const ENOTDIR: isize = 20;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;

/// The 96 bytes of `struct stat64` and 4 more, to see that nothing is
/// written past the end.
struct Stat64([u8; 100]);

impl Stat64 {
    fn new() -> Self {
        Stat64([0xaa; 100])
    }
    fn u32(&self, off: usize) -> u32 {
        u32::from_le_bytes([self.0[off], self.0[off + 1], self.0[off + 2], self.0[off + 3]])
    }
    fn u64(&self, off: usize) -> u64 {
        self.u32(off) as u64 | (self.u32(off + 4) as u64) << 32
    }
    fn mode(&self) -> u32 { self.u32(16) }
    fn size(&self) -> u64 { self.u64(44) }
    fn blksize(&self) -> u32 { self.u32(52) }
    fn blocks(&self) -> u64 { self.u64(56) }
    fn ino(&self) -> u64 { self.u64(88) }
    fn addr(&mut self) -> usize {
        self.0.as_mut_ptr() as usize
    }
}

fn stat_call(nr: usize, path: &[u8], st: &mut Stat64) -> isize {
    // SAFETY: path is NUL-terminated; st has room for the 96 bytes.
    unsafe { syscall2(nr, path.as_ptr() as usize, st.addr()) }
}

fn fstat(fd: usize, st: &mut Stat64) -> isize {
    // SAFETY: st has room for the 96 bytes.
    unsafe { syscall2(FSTAT64, fd, st.addr()) }
}

fn main(args: Args) -> i32 {
    let mut t = Checks::new("stattest");
    let argv0 = args.argv().next().expect("argv[0]").to_bytes_with_nul();
    let mut path = [0u8; 512];
    path[..argv0.len()].copy_from_slice(argv0);

    let mut st = Stat64::new();
    let r = stat_call(STAT64, &path, &mut st);
    t.check_eq("stat64_of_the_program_returns_0", r, 0);
    t.check("it_is_a_regular_file_with_exec_bits", st.mode() & S_IFMT == S_IFREG && st.mode() & 0o111 != 0,
        format_args!("st_mode {:#o}", st.mode()));
    t.check("st_size_at_44_is_its_size", st.size() > 1000 && st.size() < 16 << 20, format_args!("st_size {}", st.size()));
    t.check("st_blocks_at_56_cover_it", st.blocks() * 512 >= st.size() && st.blocks() < st.size() / 512 + 1024,
        format_args!("st_blocks {} for {} bytes", st.blocks(), st.size()));
    t.check("st_blksize_at_52", st.blksize() >= 512 && st.blksize().is_power_of_two(), format_args!("st_blksize {}", st.blksize()));
    t.check("__st_ino_at_12_is_st_ino_at_88", st.u32(12) == st.ino() as u32 && st.ino() != 0,
        format_args!("__st_ino {:#x}, st_ino {:#x}", st.u32(12), st.ino()));
    // The padding (__pad0 at 8, __pad3 at 40) is not checked: a native
    // i386 Linux zeroes it (cp_new_stat64's memset), but the x86-64 host's
    // IA32 emulation (cp_stat64 in arch/x86/kernel/sys_ia32.c) stores the
    // fields one by one and leaves it as it was. This kernel zeroes it, as
    // i386 Linux does (tests/stat.rs).
    t.check_eq("exactly_96_bytes_written", st.u32(96), 0xaaaa_aaaa);

    let mut l = Stat64::new();
    let r = stat_call(LSTAT64, &path, &mut l);
    t.check("lstat64_of_a_file_is_its_stat64", r == 0 && l.0[..96] == st.0[..96], format_args!("lstat64 gave {r}"));

    // SAFETY: path is NUL-terminated; flags 0 is O_RDONLY.
    let fd = unsafe { syscall3(OPEN, path.as_ptr() as usize, 0, 0) };
    let mut f = Stat64::new();
    let r = fstat(fd as usize, &mut f);
    t.check("fstat64_of_it_opened_says_the_same", fd >= 0 && r == 0 && f.ino() == st.ino() && f.size() == st.size() && f.mode() == st.mode(),
        format_args!("open {fd}, fstat64 {r}, ino {} size {} mode {:#o}", f.ino(), f.size(), f.mode()));
    // SAFETY: closing our own descriptor.
    unsafe { syscall1(CLOSE, fd as usize) };

    let mut d = Stat64::new();
    let r = stat_call(STAT64, b"/\0", &mut d);
    t.check("root_is_a_directory", r == 0 && d.mode() & S_IFMT == S_IFDIR, format_args!("stat64(/) {r}, mode {:#o}", d.mode()));
    let mut c = Stat64::new();
    let r = fstat(0, &mut c);
    t.check("fd_0_is_a_character_device", r == 0 && c.mode() & S_IFMT == S_IFCHR, format_args!("fstat64(0) {r}, mode {:#o}", c.mode()));

    // Hostile arguments.
    let mut e = Stat64::new();
    // SAFETY: the kernel cannot read a NULL path; it writes nothing.
    t.check_eq("stat64_null_path_efault", unsafe { syscall2(STAT64, 0, e.addr()) }, -EFAULT);
    // SAFETY: the kernel refuses the buffer; nothing of ours is written.
    t.check_eq("stat64_kernel_buffer_efault", unsafe { syscall2(STAT64, path.as_ptr() as usize, 0xc000_0000) }, -EFAULT);
    // SAFETY: as above.
    t.check_eq("fstat64_null_buffer_efault", unsafe { syscall2(FSTAT64, 1, 0) }, -EFAULT);
    t.check_eq("stat64_empty_path_enoent", stat_call(STAT64, b"\0", &mut e), -ENOENT);
    t.check_eq("stat64_missing_enoent", stat_call(STAT64, b"/no-such-file-stattest\0", &mut e), -ENOENT);
    let n = argv0.len() - 1;
    path[n..n + 3].copy_from_slice(b"/x\0");
    t.check_eq("stat64_file_as_directory_enotdir", stat_call(STAT64, &path, &mut e), -ENOTDIR);
    t.check_eq("lstat64_file_as_directory_enotdir", stat_call(LSTAT64, &path, &mut e), -ENOTDIR);
    t.check_eq("fstat64_closed_fd_ebadf", fstat(7, &mut e), -EBADF);
    t.check_eq("fstat64_fd_minus_one_ebadf", fstat(usize::MAX, &mut e), -EBADF);
    t.check_eq("failed_calls_write_nothing", e.u32(16), 0xaaaa_aaaa);
    t.finish()
}
