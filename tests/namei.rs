//! The namespace system calls, through the system-call table with a
//! task's own address space (as `int $0x80` would call them): `open` /
//! `openat` / `creat` and their flags, `mkdir`, `rmdir`, `unlink(at)`,
//! `rename(at2)`, `link`, `symlink`, `readlink`, `getdents64`, `chdir` /
//! `fchdir` / `getcwd`, `access`; each hostile argument with Linux 6.1's
//! errno (`fs/namei.c`, `fs/open.c`, `fs/readdir.c`, `fs/libfs.c`).
//!
//! Each test works in a directory of its own under the suite's `/tmp`
//! (tests/runner.sh puts one in the initramfs) and `chdir`s there, so
//! relative paths are exercised everywhere.

use alloc::vec::Vec;

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::*;
use crate::fs::file::Fd;
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, DATA_PAGES, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(open_creates_excl_refuses_trunc_empties_and_the_access_mode_is_enforced),
    test_case!(open_of_directories_and_symlinks_follows_linuxs_rules),
    test_case!(path_walk_errors_are_linuxs),
    test_case!(mkdir_rmdir_unlink_and_their_errors),
    test_case!(rename_replaces_and_refuses_as_linux_does),
    test_case!(getdents64_packs_linux_dirent64_and_continues_where_it_stopped),
    test_case!(chdir_fchdir_getcwd_and_relative_paths_everywhere),
    test_case!(access_readlink_symlink_and_link),
    test_case!(an_unlinked_file_stays_readable_until_the_last_close),
    test_case!(statx_fills_linuxs_struct_statx_from_the_cwd_or_a_dirfd),
];

const O_RDONLY: usize = 0;
const O_WRONLY: usize = 1;
const O_RDWR: usize = 2;
const O_CREAT: usize = 0o100;
const O_EXCL: usize = 0o200;
const O_TRUNC: usize = 0o1000;
const O_APPEND: usize = 0o2000;
const O_DIRECTORY: usize = 0o200000;
const O_NOFOLLOW: usize = 0o400000;
const AT_FDCWD: usize = -100i32 as usize;

/// Two path slots and a buffer in the test's user memory.
const P: usize = DATA;
const Q: usize = DATA + 0x1000;
const BUF: usize = DATA + 0x2000;
/// The first byte past the data area: unmapped.
const DATA_END: usize = DATA + DATA_PAGES * 4096;

/// System call `nr` with up to five arguments.
fn sc(nr: i32, args: &[usize]) -> i32 {
    let a = |i: usize| args.get(i).copied().unwrap_or(0) as u32;
    let mut regs = PtRegs { bx: a(0), cx: a(1), dx: a(2), si: a(3), di: a(4), orig_ax: nr as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

/// Put `s` and a NUL at user address `at`.
fn put(at: usize, s: &str) -> usize {
    let mut v = Vec::from(s.as_bytes());
    v.push(0);
    assert_eq!(copy_to_user(at, &v), 0);
    at
}

/// The path `s` in slot P.
fn p(s: &str) -> usize {
    put(P, s)
}

/// The path `s` in slot Q.
fn q(s: &str) -> usize {
    put(Q, s)
}

fn user_bytes(addr: usize, n: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0);
    v
}

/// An address space for this test's thread, and a fresh directory
/// `/tmp/NAME` to work in, made the current directory.
fn scratch(name: &str) {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    let dir = alloc::format!("/tmp/{name}");
    assert_eq!(sc(nr::MKDIR, &[p(&dir), 0o755]), 0, "mkdir {dir}");
    assert_eq!(sc(nr::CHDIR, &[p(&dir)]), 0, "chdir {dir}");
}

/// Write `data` through `fd`.
fn write(fd: i32, data: &[u8]) -> i32 {
    assert_eq!(copy_to_user(BUF, data), 0);
    sc(nr::WRITE, &[fd as usize, BUF, data.len()])
}

/// Read up to `n` bytes from `fd`: the bytes, or the `-errno`.
fn read(fd: i32, n: usize) -> Result<Vec<u8>, i32> {
    let r = sc(nr::READ, &[fd as usize, BUF, n]);
    if r < 0 { Err(r) } else { Ok(user_bytes(BUF, r as usize)) }
}

fn open(path: &str, flags: usize, mode: usize) -> i32 {
    sc(nr::OPEN, &[p(path), flags, mode])
}

fn close(fd: i32) {
    assert_eq!(sc(nr::CLOSE, &[fd as usize]), 0);
}

/// The inode at `path` from the current directory (not following a
/// last symlink), or the errno.
fn lookup(path: &str) -> Result<crate::fs::InodeRef, i32> {
    crate::fs::namei::path_lookupat(&crate::fs::namei::Base::current(), path, 0).map_err(|e| e.errno())
}

fn nlink(path: &str) -> u32 {
    lookup(path).expect("exists").nlink.load(core::sync::atomic::Ordering::Relaxed)
}

/// The open file behind `fd`.
fn file(fd: i32) -> alloc::sync::Arc<crate::fs::file::File> {
    match crate::sched::current().files.lock().get(fd) {
        Some(Fd::File(f)) => f,
        _ => panic!("fd {fd} is not an open file"),
    }
}

fn open_creates_excl_refuses_trunc_empties_and_the_access_mode_is_enforced() {
    scratch("open");
    let fd = open("f", O_CREAT | O_RDWR, 0o666);
    assert!(fd >= 3, "O_CREAT made it: {fd}");
    assert_eq!(lookup("f").unwrap().mode, 0o644, "mode 0666 less the umask 022");
    assert_eq!(nlink("f"), 1);
    assert_eq!(write(fd, b"hello"), 5);
    close(fd);
    assert_eq!(open("f", O_CREAT | O_EXCL | O_RDWR, 0o666), -EEXIST, "O_EXCL on an existing file");
    // O_CREAT without O_EXCL opens the existing file, contents kept.
    let fd = open("f", O_CREAT | O_RDONLY, 0o600);
    assert_eq!(read(fd, 100), Ok(b"hello".to_vec()));
    assert_eq!(lookup("f").unwrap().mode, 0o644, "an existing file keeps its mode");
    assert_eq!(write(fd, b"x"), -EBADF, "write on an O_RDONLY file");
    close(fd);
    let fd = open("f", O_WRONLY, 0);
    assert_eq!(read(fd, 10), Err(-EBADF), "read on an O_WRONLY file");
    assert_eq!(write(fd, b"J"), 1);
    close(fd);
    let fd = open("f", 3, 0);
    assert!(fd >= 0, "access mode 3 opens (Linux: ioctl-only)");
    assert_eq!(read(fd, 10), Err(-EBADF), "and allows no read");
    assert_eq!(write(fd, b"x"), -EBADF, "nor write");
    close(fd);
    let fd = open("f", O_RDWR, 0);
    assert_eq!(read(fd, 100), Ok(b"Jello".to_vec()), "O_RDWR reads, and the write landed");
    close(fd);
    // O_TRUNC empties, even opened read-only (Linux's do_open).
    let fd = open("f", O_RDONLY | O_TRUNC, 0);
    assert_eq!(read(fd, 100), Ok(Vec::new()));
    assert_eq!(lookup("f").unwrap().size(), 0);
    close(fd);
    // O_APPEND is kept on the open file (write honours it), the creation
    // flags are not (Linux's f_flags).
    let fd = open("f", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0);
    assert_eq!(file(fd).f_flags(), (O_WRONLY | O_APPEND) as u32);
    close(fd);
    // creat is open(O_CREAT | O_WRONLY | O_TRUNC).
    let fd = sc(nr::CREAT, &[p("c"), 0o640]);
    assert!(fd >= 0);
    assert_eq!(file(fd).f_flags(), O_WRONLY as u32);
    assert_eq!(lookup("c").unwrap().mode, 0o640);
    assert_eq!(write(fd, b"abc"), 3);
    close(fd);
    let fd = sc(nr::CREAT, &[p("c"), 0o600]);
    assert_eq!(lookup("c").unwrap().size(), 0, "creat truncates an existing file");
    close(fd);
    // openat from a directory fd, and from AT_FDCWD.
    let dfd = open(".", O_RDONLY | O_DIRECTORY, 0);
    assert!(dfd >= 0);
    let fd = sc(nr::OPENAT, &[dfd as usize, p("g"), O_CREAT | O_WRONLY, 0o644]);
    assert!(fd >= 0 && lookup("g").is_ok(), "openat(dirfd) created g in it");
    close(fd);
    let fd = sc(nr::OPENAT, &[AT_FDCWD, p("g"), O_RDONLY, 0]);
    assert!(fd >= 0);
    assert_eq!(sc(nr::OPENAT, &[fd as usize, p("x"), O_RDONLY, 0]), -ENOTDIR, "a dirfd that is a file");
    close(fd);
    assert_eq!(sc(nr::OPENAT, &[99, p("g"), O_RDONLY, 0]), -EBADF, "a dirfd not open");
    let fd = sc(nr::OPENAT, &[99, p("/tmp/open/g"), O_RDONLY, 0]);
    assert!(fd >= 0, "an absolute path ignores dirfd: {fd}");
    close(fd);
    assert_eq!(sc(nr::OPENAT, &[1, p("g"), O_RDONLY, 0]), -ENOTDIR, "the console as dirfd");
    close(dfd);
    assert_eq!(open("missing/f", O_CREAT | O_RDWR, 0o644), -ENOENT, "O_CREAT in a directory that is not there");
    assert_eq!(open("f/g", O_CREAT | O_RDWR, 0o644), -ENOTDIR, "O_CREAT under a file");
    assert_eq!(open(&"n".repeat(256), O_CREAT | O_RDWR, 0o644), -ENAMETOOLONG, "a 256-byte name");
    let fd = open(&"n".repeat(255), O_CREAT | O_RDWR, 0o644);
    assert!(fd >= 0, "a 255-byte name is fine");
    close(fd);
    assert_eq!(open("f", O_CREAT | O_DIRECTORY | O_RDWR, 0o644), -EINVAL, "O_CREAT | O_DIRECTORY (Linux >= 6.4, the oracle)");
    assert_eq!(open("h", O_CREAT | O_RDWR | 0o20000000, 0o644), -EOPNOTSUPP, "O_TMPFILE (where we differ)");
}

fn open_of_directories_and_symlinks_follows_linuxs_rules() {
    scratch("opendir");
    assert_eq!(sc(nr::MKDIR, &[p("d"), 0o755]), 0);
    let fd = open("f", O_CREAT | O_WRONLY, 0o644);
    close(fd);
    let fd = open("d", O_RDONLY, 0);
    assert!(fd >= 0, "a directory opens read-only");
    assert_eq!(read(fd, 10), Err(-EISDIR), "and read() says EISDIR");
    close(fd);
    assert_eq!(open("d", O_WRONLY, 0), -EISDIR, "a directory for writing");
    assert_eq!(open("d", O_RDWR, 0), -EISDIR);
    assert_eq!(open("d", O_RDONLY | O_TRUNC, 0), -EISDIR, "O_TRUNC on a directory");
    assert_eq!(open("d", O_CREAT | O_RDONLY, 0o644), -EISDIR, "O_CREAT on an existing directory");
    assert_eq!(open("new/", O_CREAT | O_RDWR, 0o644), -EISDIR, "O_CREAT with a trailing slash");
    assert_eq!(open("f", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR, "O_DIRECTORY on a file");
    assert_eq!(open("f/", O_RDONLY, 0), -ENOTDIR, "a file with a trailing slash");
    assert_eq!(open("f/.", O_RDONLY, 0), -ENOTDIR);
    assert!(open("d/", O_RDONLY | O_DIRECTORY, 0) >= 0);
    // Symlinks.
    assert_eq!(sc(nr::SYMLINK, &[q("f"), p("lf")]), 0);
    assert_eq!(sc(nr::SYMLINK, &[q("d"), p("ld")]), 0);
    assert_eq!(sc(nr::SYMLINK, &[q("target"), p("dangling")]), 0);
    assert_eq!(open("lf", O_RDONLY | O_NOFOLLOW, 0), -ELOOP, "O_NOFOLLOW on a symlink");
    assert!(open("ld/", O_RDONLY | O_NOFOLLOW, 0) >= 0, "a trailing slash follows even with O_NOFOLLOW");
    let fd = open("lf", O_RDONLY, 0);
    assert!(alloc::sync::Arc::ptr_eq(&file(fd).inode, &lookup("f").unwrap()), "a symlink is followed");
    assert_eq!(open("dangling", O_RDONLY, 0), -ENOENT);
    assert_eq!(open("dangling", O_CREAT | O_EXCL | O_RDWR, 0o644), -EEXIST, "O_EXCL does not follow a symlink");
    assert_eq!(open("dangling", O_CREAT | O_NOFOLLOW | O_RDWR, 0o644), -ELOOP);
    let fd = open("dangling", O_CREAT | O_RDWR, 0o644);
    assert!(fd >= 0, "O_CREAT through a dangling symlink creates its target");
    assert_eq!(lookup("target").map(|i| i.file_type()), Ok(boot::initramfs::FileType::Regular));
    // A symlink in a subdirectory resolves from there.
    assert_eq!(sc(nr::SYMLINK, &[q("../f"), p("d/up")]), 0);
    let fd = open("d/up", O_RDONLY, 0);
    assert!(alloc::sync::Arc::ptr_eq(&file(fd).inode, &lookup("f").unwrap()), "d/up -> ../f is f");
}

fn path_walk_errors_are_linuxs() {
    scratch("walk");
    let fd = open("f", O_CREAT | O_WRONLY, 0o644);
    close(fd);
    assert_eq!(sc(nr::MKDIR, &[p("d"), 0o755]), 0);
    assert_eq!(open("nothing", O_RDONLY, 0), -ENOENT);
    assert_eq!(open("", O_RDONLY, 0), -ENOENT, "an empty path");
    assert_eq!(open("f/x", O_RDONLY, 0), -ENOTDIR, "a file as a directory on the way");
    assert_eq!(open("f/..", O_RDONLY, 0), -ENOTDIR, "a file then ..");
    assert_eq!(open(&alloc::format!("{}/x", "n".repeat(256)), O_RDONLY, 0), -ENAMETOOLONG, "a 256-byte component on the way");
    // PATH_MAX: 4095 bytes and the NUL are allowed; 4096 without one not.
    let long = alloc::format!("{}f", "./".repeat(2047));
    assert_eq!(long.len(), 4095);
    assert!(open(&long, O_RDONLY, 0) >= 0, "a path of 4095 bytes + NUL");
    assert_eq!(copy_to_user(BUF, &[b'/'; 4096]), 0);
    assert_eq!(sc(nr::OPEN, &[BUF, O_RDONLY]), -ENAMETOOLONG, "no NUL within PATH_MAX");
    assert_eq!(sc(nr::MKDIR, &[BUF, 0o755]), -ENAMETOOLONG);
    assert_eq!(sc(nr::UNLINK, &[BUF]), -ENAMETOOLONG);
    // Bad pointers: NULL, the kernel's, unmapped, and a string that runs
    // into an unmapped page before its NUL.
    for (ptr, what) in [(0, "NULL"), (0xc000_0000, "a kernel address"), (0x7000_0000, "unmapped"), (0xffff_fff0, "the top")] {
        for (n, call) in [(nr::OPEN, "open"), (nr::MKDIR, "mkdir"), (nr::RMDIR, "rmdir"), (nr::UNLINK, "unlink"), (nr::CHDIR, "chdir"), (nr::ACCESS, "access"), (nr::CREAT, "creat")] {
            assert_eq!(sc(n, &[ptr, 0, 0]), -EFAULT, "{call} of {what}");
        }
        assert_eq!(sc(nr::RENAME, &[ptr, q("f")]), -EFAULT, "rename from {what}");
        assert_eq!(sc(nr::RENAME, &[q("f"), ptr]), -EFAULT, "rename to {what}");
        assert_eq!(sc(nr::LINK, &[q("f"), ptr]), -EFAULT, "link to {what}");
        assert_eq!(sc(nr::SYMLINK, &[ptr, q("s")]), -EFAULT, "symlink to {what}");
        assert_eq!(sc(nr::READLINK, &[ptr, BUF, 10]), -EFAULT, "readlink of {what}");
        assert_eq!(sc(nr::OPENAT, &[AT_FDCWD, ptr, 0]), -EFAULT, "openat of {what}");
    }
    assert_eq!(copy_to_user(DATA_END - 3, b"abc"), 0);
    assert_eq!(open_at(DATA_END - 3), -EFAULT, "no NUL before an unmapped page");
    // Symlink loops: 40 links are followed, the 41st is ELOOP.
    for i in 0..41 {
        assert_eq!(sc(nr::SYMLINK, &[q(&alloc::format!("l{}", i + 1)), p(&alloc::format!("l{i}"))]), 0);
    }
    assert_eq!(sc(nr::SYMLINK, &[q("f"), p("l41")]), 0);
    assert!(open("l2", O_RDONLY, 0) >= 0, "40 symlinks: l2 .. l41 -> f");
    assert_eq!(open("l1", O_RDONLY, 0), -ELOOP, "41 symlinks");
    assert_eq!(sc(nr::SYMLINK, &[q("self"), p("self")]), 0);
    assert_eq!(open("self", O_RDONLY, 0), -ELOOP, "a link to itself");
    assert_eq!(sc(nr::CHDIR, &[p("self")]), -ELOOP);
    // ".." at the root is the root; "." and ".." on the way.
    let root = crate::fs::rootfs().root().clone();
    assert!(alloc::sync::Arc::ptr_eq(&lookup("/../../..").unwrap(), &root));
    assert!(alloc::sync::Arc::ptr_eq(&lookup("d/../d/./..").unwrap(), &lookup("/tmp/walk").unwrap()));
}

fn open_at(ptr: usize) -> i32 {
    sc(nr::OPEN, &[ptr, O_RDONLY])
}

fn mkdir_rmdir_unlink_and_their_errors() {
    scratch("dirs");
    assert_eq!(nlink("."), 2, "a new directory: its name and its .");
    assert_eq!(sc(nr::MKDIR, &[p("d"), 0o777]), 0);
    assert_eq!(lookup("d").unwrap().mode, 0o755, "0777 less the umask");
    assert_eq!(nlink("."), 3, "d's .. counts in its parent");
    assert_eq!(sc(nr::MKDIR, &[p("d"), 0o755]), -EEXIST);
    assert_eq!(sc(nr::MKDIR, &[p("d/"), 0o755]), -EEXIST);
    assert_eq!(sc(nr::MKDIR, &[p("e/"), 0o755]), 0, "a trailing slash is fine for mkdir");
    assert_eq!(sc(nr::MKDIR, &[p("x/y"), 0o755]), -ENOENT, "no parent");
    for s in [".", "..", "/", "d/."] {
        assert_eq!(sc(nr::MKDIR, &[p(s), 0o755]), -EEXIST, "mkdir {s}");
    }
    assert_eq!(sc(nr::SYMLINK, &[q("nowhere"), p("dl")]), 0);
    assert_eq!(sc(nr::MKDIR, &[p("dl"), 0o755]), -EEXIST, "a dangling symlink is not followed by mkdir");
    let fd = open("d/f", O_CREAT | O_WRONLY, 0o644);
    close(fd);
    assert_eq!(sc(nr::RMDIR, &[p("d")]), -ENOTEMPTY);
    assert_eq!(sc(nr::RMDIR, &[p("d/f")]), -ENOTDIR);
    assert_eq!(sc(nr::RMDIR, &[p("dl")]), -ENOTDIR, "rmdir of a symlink");
    assert_eq!(sc(nr::RMDIR, &[p("d/.")]), -EINVAL);
    assert_eq!(sc(nr::RMDIR, &[p("d/..")]), -ENOTEMPTY);
    assert_eq!(sc(nr::RMDIR, &[p("/")]), -EBUSY);
    assert_eq!(sc(nr::RMDIR, &[p("nothing")]), -ENOENT);
    assert_eq!(sc(nr::UNLINK, &[p("d")]), -EISDIR, "unlink of a directory");
    assert_eq!(sc(nr::UNLINK, &[p(".")]), -EISDIR);
    assert_eq!(sc(nr::UNLINK, &[p("d/f/")]), -ENOTDIR, "unlink of a file with a trailing slash");
    assert_eq!(sc(nr::UNLINK, &[p("d/g")]), -ENOENT);
    assert_eq!(sc(nr::UNLINKAT, &[AT_FDCWD, p("d/f"), 0x100]), -EINVAL, "an unknown unlinkat flag");
    assert_eq!(sc(nr::UNLINKAT, &[AT_FDCWD, p("d/f"), 0x200]), -ENOTDIR, "AT_REMOVEDIR on a file");
    assert_eq!(sc(nr::UNLINK, &[p("d/f")]), 0);
    assert_eq!(lookup("d/f").err(), Some(ENOENT));
    assert_eq!(sc(nr::UNLINK, &[p("dl")]), 0, "unlink removes the symlink, not its target");
    let dfd = open("d", O_RDONLY | O_DIRECTORY, 0);
    assert_eq!(sc(nr::MKDIRAT, &[dfd as usize, p("sub"), 0o755]), 0);
    assert!(lookup("d/sub").is_ok(), "mkdirat made it in the directory of dfd");
    assert_eq!(sc(nr::MKDIRAT, &[55, p("sub"), 0o755]), -EBADF);
    assert_eq!(sc(nr::UNLINKAT, &[dfd as usize, p("sub"), 0]), -EISDIR);
    assert_eq!(sc(nr::UNLINKAT, &[dfd as usize, p("sub"), 0x200]), 0, "unlinkat(AT_REMOVEDIR)");
    assert_eq!(sc(nr::RMDIR, &[p("d")]), 0, "empty now");
    assert_eq!(nlink("."), 3, "d's .. is gone from the count, e's is still there");
    // The open directory is dead: nothing can be made or found in it.
    assert_eq!(sc(nr::MKDIRAT, &[dfd as usize, p("again"), 0o755]), -ENOENT, "mkdir in a removed directory");
    assert_eq!(sc(nr::OPENAT, &[dfd as usize, p("n"), O_CREAT | O_RDWR, 0o644]), -ENOENT, "create in a removed directory");
    assert_eq!(sc(nr::GETDENTS64, &[dfd as usize, BUF, 4096]), -ENOENT, "getdents64 of a removed directory");
    close(dfd);
    assert_eq!(sc(nr::RMDIR, &[p("e")]), 0);
    assert_eq!(nlink("."), 2);
}

fn rename_replaces_and_refuses_as_linux_does() {
    scratch("ren");
    let mk = |name: &str, body: &[u8]| {
        let fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0o644);
        assert!(fd >= 0, "create {name}");
        assert_eq!(write(fd, body), body.len() as i32);
        close(fd);
    };
    let ren = |a: &str, b: &str| sc(nr::RENAME, &[p(a), q(b)]);
    mk("a", b"A");
    mk("b", b"B");
    let a = lookup("a").unwrap();
    assert_eq!(ren("a", "b"), 0, "over an existing file");
    assert_eq!(lookup("a").err(), Some(ENOENT));
    assert!(alloc::sync::Arc::ptr_eq(&lookup("b").unwrap(), &a), "b is a's inode now");
    assert_eq!(ren("b", "b"), 0, "to itself");
    assert!(lookup("b").is_ok());
    assert_eq!(sc(nr::LINK, &[p("b"), q("b2")]), 0);
    assert_eq!(ren("b", "b2"), 0, "between two links of one inode: nothing happens");
    assert!(lookup("b").is_ok() && lookup("b2").is_ok(), "both names stay (Linux's vfs_rename)");
    assert_eq!(ren("nothing", "x"), -ENOENT);
    for d in ["d", "d/e", "d/e/f", "empty", "full", "full/x"] {
        assert_eq!(sc(nr::MKDIR, &[p(d), 0o755]), 0);
    }
    assert_eq!(ren("d", "d/e/g"), -EINVAL, "a directory into its own subtree");
    assert_eq!(ren("d", "d/g"), -EINVAL);
    assert_eq!(ren("d/e", "d/e/f/g"), -EINVAL);
    assert_eq!(ren("d/e/f", "d"), -ENOTEMPTY, "over its own ancestor");
    assert_eq!(ren("d", "b"), -ENOTDIR, "a directory over a file");
    assert_eq!(ren("b", "empty"), -EISDIR, "a file over a directory");
    assert_eq!(ren("d", "full"), -ENOTEMPTY, "over a directory with entries");
    assert_eq!(ren("b/", "c"), -ENOTDIR, "a file with a trailing slash");
    assert_eq!(ren("b", "c/"), -ENOTDIR, "a file to a name with a trailing slash");
    assert_eq!(ren(".", "x"), -EBUSY);
    assert_eq!(ren("b", "."), -EBUSY);
    assert_eq!(ren("/", "x"), -EBUSY);
    assert_eq!(ren("b", "nodir/x"), -ENOENT);
    assert_eq!(ren("b", "b2/x"), -ENOTDIR);
    assert_eq!(ren("b", &"n".repeat(256)), -ENAMETOOLONG);
    let before = nlink(".");
    let empty = lookup("empty").unwrap();
    assert_eq!(ren("d", "empty"), 0, "over an empty directory");
    assert_eq!(empty.nlink.load(core::sync::atomic::Ordering::Relaxed), 0, "which is dead now");
    assert_eq!(nlink("."), before - 1, "one .. fewer here");
    assert_eq!(lookup("empty/e/f").map(|i| i.is_dir()), Ok(true), "the tree moved with it");
    // The moved directory's ".." follows it (the parent pointer).
    assert_eq!(ren("empty/e", "full/x/e"), 0);
    assert!(alloc::sync::Arc::ptr_eq(&lookup("full/x/e/..").unwrap(), &lookup("full/x").unwrap()));
    assert_eq!(nlink("full/x"), 3);
    // renameat2: RENAME_NOREPLACE, RENAME_EXCHANGE, bad flags; renameat
    // from directory fds.
    mk("p", b"P");
    mk("r", b"R");
    let r2 = |a: &str, b: &str, flags: usize| sc(nr::RENAMEAT2, &[AT_FDCWD, p(a), AT_FDCWD, q(b), flags]);
    assert_eq!(r2("p", "r", 1), -EEXIST, "RENAME_NOREPLACE over an existing name");
    assert_eq!(r2("p", "s", 1), 0, "RENAME_NOREPLACE to a free name");
    assert_eq!(r2("s", ".", 1), -EEXIST, "RENAME_NOREPLACE to .");
    assert_eq!(r2("s", "r", 8), -EINVAL, "an unknown flag");
    assert_eq!(r2("s", "r", 3), -EINVAL, "NOREPLACE with EXCHANGE");
    let (s, r) = (lookup("s").unwrap(), lookup("r").unwrap());
    assert_eq!(r2("s", "r", 2), 0, "RENAME_EXCHANGE");
    assert!(alloc::sync::Arc::ptr_eq(&lookup("s").unwrap(), &r) && alloc::sync::Arc::ptr_eq(&lookup("r").unwrap(), &s));
    assert_eq!(r2("s", "zz", 2), -ENOENT, "RENAME_EXCHANGE needs both");
    let dfd = open("full", O_RDONLY | O_DIRECTORY, 0);
    assert_eq!(sc(nr::RENAMEAT, &[AT_FDCWD, p("s"), dfd as usize, q("s")]), 0);
    assert!(lookup("full/s").is_ok(), "renameat into the directory of newdfd");
    assert_eq!(sc(nr::RENAMEAT, &[dfd as usize, p("s"), 77, q("s")]), -EBADF);
    close(dfd);
}

/// One `linux_dirent64` record: (d_ino, d_off, d_reclen, d_type, d_name).
type Dirent64 = (u64, i64, usize, u8, alloc::string::String);

/// The `linux_dirent64` records in `buf`.
fn dirents(buf: &[u8]) -> Vec<Dirent64> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let r = &buf[at..];
        let reclen = u16::from_le_bytes([r[16], r[17]]) as usize;
        let name_end = r[19..reclen].iter().position(|&b| b == 0).expect("a NUL inside the record") + 19;
        v.push((
            u64::from_le_bytes(r[0..8].try_into().unwrap()),
            i64::from_le_bytes(r[8..16].try_into().unwrap()),
            reclen,
            r[18],
            alloc::string::String::from_utf8(r[19..name_end].to_vec()).unwrap(),
        ));
        at += reclen;
    }
    v
}

fn getdents(fd: i32, count: usize) -> Result<Vec<Dirent64>, i32> {
    let n = sc(nr::GETDENTS64, &[fd as usize, BUF, count]);
    if n < 0 { Err(n) } else { Ok(dirents(&user_bytes(BUF, n as usize))) }
}

fn getdents64_packs_linux_dirent64_and_continues_where_it_stopped() {
    scratch("dents");
    assert_eq!(sc(nr::MKDIR, &[p("sub"), 0o755]), 0);
    let fd = open("file", O_CREAT | O_WRONLY, 0o644);
    close(fd);
    assert_eq!(sc(nr::SYMLINK, &[q("file"), p("link")]), 0);
    let long = "L".repeat(255);
    let fd = open(&long, O_CREAT | O_WRONLY, 0o644);
    close(fd);
    let me = lookup(".").unwrap();
    let up = lookup("..").unwrap();
    let dfd = open(".", O_RDONLY | O_DIRECTORY, 0);
    let all = getdents(dfd, 4096).unwrap();
    let names: Vec<&str> = all.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(names, [".", "..", long.as_str(), "file", "link", "sub"], "dots first, then by name");
    assert_eq!((all[0].0, all[0].3), (me.ino as u64, 4), ". is this directory, DT_DIR");
    assert_eq!((all[1].0, all[1].3), (up.ino as u64, 4), ".. is its parent");
    assert_eq!(all[3].0, lookup("file").unwrap().ino as u64);
    assert_eq!([all[2].3, all[3].3, all[4].3, all[5].3], [8, 8, 10, 4], "DT_REG, DT_LNK, DT_DIR");
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.2, (19 + e.4.len() + 1).next_multiple_of(8), "d_reclen of {}", e.4);
        assert_eq!(e.1, i as i64 + 1, "d_off: the position after the entry");
    }
    assert_eq!(all[0].2, 24, "\".\": 19 + 2 bytes, rounded up to 24");
    assert_eq!(all[2].2, 280, "a 255-byte name: 19 + 256 = 275, rounded up to 280");
    assert_eq!(getdents(dfd, 4096), Ok(Vec::new()), "0 at the end");
    // From the start again, a record at a time; a buffer too small for
    // the next record is EINVAL.
    assert_eq!(sc(nr::LSEEK, &[dfd as usize, 0, 0]), 0);
    assert_eq!(getdents(dfd, 23), Err(-EINVAL), "23 bytes cannot hold \".\" (24)");
    let first = getdents(dfd, 24).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].4, ".");
    assert_eq!(getdents(dfd, 24 + 24).unwrap().iter().map(|e| e.4.clone()).collect::<Vec<_>>(), [".."], "the long name does not fit: only ..");
    assert_eq!(getdents(dfd, 279), Err(-EINVAL), "the 280-byte record needs 280");
    // Entries removed before the position do not shift it (the cursor).
    assert_eq!(getdents(dfd, 280).unwrap()[0].4, long);
    assert_eq!(sc(nr::UNLINK, &[p(&long)]), 0);
    let rest: Vec<_> = getdents(dfd, 4096).unwrap().into_iter().map(|e| e.4).collect();
    assert_eq!(rest, ["file", "link", "sub"], "nothing skipped after an unlink behind the cursor");
    // lseek to a d_off continues behind that entry.
    assert_eq!(sc(nr::LSEEK, &[dfd as usize, 3, 0]), 3);
    assert_eq!(getdents(dfd, 4096).unwrap().iter().map(|e| e.4.clone()).collect::<Vec<_>>(), ["link", "sub"]);
    // Hostile arguments.
    assert_eq!(sc(nr::LSEEK, &[dfd as usize, 0, 0]), 0);
    assert_eq!(sc(nr::GETDENTS64, &[dfd as usize, 0xc000_0000, 4096]), -EFAULT, "a kernel buffer");
    assert_eq!(sc(nr::GETDENTS64, &[dfd as usize, 0, 4096]), -EFAULT, "a NULL buffer");
    assert_eq!(sc(nr::GETDENTS64, &[dfd as usize, DATA_END - 24, 4096]), 24, "the buffer ends at an unmapped page: what fit");
    assert_eq!(getdents(dfd, 4096).unwrap()[0].4, "..", "and the position is behind what was stored");
    assert_eq!(sc(nr::GETDENTS64, &[dfd as usize, BUF, 0]), 0, "count 0 at the end: nothing to say");
    assert_eq!(sc(nr::LSEEK, &[dfd as usize, 0, 0]), 0);
    assert_eq!(sc(nr::GETDENTS64, &[dfd as usize, BUF, 0]), -EINVAL, "count 0 before an entry");
    let f = open("file", O_RDONLY, 0);
    assert_eq!(sc(nr::GETDENTS64, &[f as usize, BUF, 4096]), -ENOTDIR, "a file");
    assert_eq!(sc(nr::GETDENTS64, &[1, BUF, 4096]), -ENOTDIR, "the console");
    assert_eq!(sc(nr::GETDENTS64, &[99, BUF, 4096]), -EBADF);
    close(f);
    close(dfd);
}

fn chdir_fchdir_getcwd_and_relative_paths_everywhere() {
    scratch("cwd");
    let getcwd = |size: usize| {
        let n = sc(nr::GETCWD, &[BUF, size]);
        if n < 0 { Err(n) } else { Ok(alloc::string::String::from_utf8(user_bytes(BUF, n as usize)).unwrap()) }
    };
    assert_eq!(getcwd(4096), Ok("/tmp/cwd\0".into()), "the length with its NUL");
    assert_eq!(getcwd(9), Ok("/tmp/cwd\0".into()), "exactly enough");
    assert_eq!(getcwd(8), Err(-ERANGE), "one byte short");
    assert_eq!(getcwd(0), Err(-ERANGE));
    assert_eq!(sc(nr::GETCWD, &[0xc000_0000, 4096]), -EFAULT);
    assert_eq!(sc(nr::MKDIR, &[p("a"), 0o755]), 0);
    assert_eq!(sc(nr::MKDIR, &[p("a/b"), 0o755]), 0);
    assert_eq!(sc(nr::CHDIR, &[p("a/b")]), 0);
    assert_eq!(getcwd(4096), Ok("/tmp/cwd/a/b\0".into()));
    // Relative paths start here: open, mkdir, rename, unlink, stat-like lookups.
    let fd = open("f", O_CREAT | O_WRONLY, 0o644);
    close(fd);
    assert!(crate::fs::lookup("/tmp/cwd/a/b/f").is_some(), "open(O_CREAT) made it in the cwd");
    assert_eq!(sc(nr::RENAME, &[p("f"), q("../g")]), 0);
    assert!(crate::fs::lookup("/tmp/cwd/a/g").is_some());
    assert_eq!(sc(nr::ACCESS, &[p("../g"), 0]), 0);
    assert_eq!(sc(nr::CHDIR, &[p("..")]), 0);
    assert_eq!(getcwd(4096), Ok("/tmp/cwd/a\0".into()));
    assert_eq!(sc(nr::CHDIR, &[p("g")]), -ENOTDIR, "chdir to a file");
    assert_eq!(sc(nr::CHDIR, &[p("nothing")]), -ENOENT);
    // exec looks a relative path up from the cwd too: small.bin is found
    // (and is not a program) only from /data.
    assert_eq!(sc(nr::CHDIR, &[p("/data")]), 0);
    let e = crate::fs::exec::kernel_execve("small.bin", &[], &[]).err().map(|e| e.errno());
    assert_eq!(e, Some(ENOEXEC), "execve(\"small.bin\") from /data found the file");
    assert_eq!(sc(nr::CHDIR, &[p("/")]), 0);
    assert_eq!(getcwd(4096), Ok("/\0".into()));
    let e = crate::fs::exec::kernel_execve("small.bin", &[], &[]).err().map(|e| e.errno());
    assert_eq!(e, Some(ENOENT), "and not from /");
    // fchdir.
    let dfd = open("/tmp/cwd/a/b", O_RDONLY | O_DIRECTORY, 0);
    assert_eq!(sc(nr::FCHDIR, &[dfd as usize]), 0);
    assert_eq!(getcwd(4096), Ok("/tmp/cwd/a/b\0".into()));
    let f = open("/tmp/cwd/a/g", O_RDONLY, 0);
    assert_eq!(sc(nr::FCHDIR, &[f as usize]), -ENOTDIR);
    assert_eq!(sc(nr::FCHDIR, &[99]), -EBADF);
    assert_eq!(sc(nr::FCHDIR, &[1]), -ENOTDIR, "the console");
    close(f);
    // A directory renamed under us: getcwd follows it.
    assert_eq!(sc(nr::RENAME, &[p("/tmp/cwd/a"), q("/tmp/cwd/z")]), 0);
    assert_eq!(getcwd(4096), Ok("/tmp/cwd/z/b\0".into()));
    // The cwd removed: getcwd is ENOENT, relative lookups find nothing,
    // ".." still leads out.
    assert_eq!(sc(nr::RMDIR, &[p("/tmp/cwd/z/b")]), 0);
    assert_eq!(getcwd(4096), Err(-ENOENT));
    assert_eq!(open("x", O_CREAT | O_RDWR, 0o644), -ENOENT);
    assert_eq!(sc(nr::CHDIR, &[p("..")]), 0);
    assert_eq!(getcwd(4096), Ok("/tmp/cwd/z\0".into()));
    close(dfd);
}

fn access_readlink_symlink_and_link() {
    scratch("links");
    let fd = open("f", O_CREAT | O_WRONLY, 0o644);
    assert_eq!(write(fd, b"data"), 4);
    close(fd);
    assert_eq!(sc(nr::MKDIR, &[p("d"), 0o700]), 0);
    for m in [0, 2, 4, 6] {
        assert_eq!(sc(nr::ACCESS, &[p("f"), m]), 0, "access(f, {m}) as root");
    }
    assert_eq!(sc(nr::ACCESS, &[p("f"), 1]), -EACCES, "X_OK on a 0644 file: root too needs an x bit");
    assert_eq!(sc(nr::ACCESS, &[p("d"), 1]), 0, "X_OK on a directory: root may search it");
    assert_eq!(sc(nr::ACCESS, &[p("f"), 8]), -EINVAL, "a mode beyond rwx");
    assert_eq!(sc(nr::ACCESS, &[p("nothing"), 0]), -ENOENT);
    assert_eq!(sc(nr::FACCESSAT, &[AT_FDCWD, p("f"), 4]), 0);
    assert_eq!(sc(nr::FACCESSAT, &[42, p("f"), 4]), -EBADF);
    // symlink and readlink.
    assert_eq!(sc(nr::SYMLINK, &[q("f"), p("s")]), 0);
    assert_eq!(sc(nr::SYMLINK, &[q("x"), p("s")]), -EEXIST);
    assert_eq!(sc(nr::SYMLINK, &[q(""), p("e")]), -ENOENT, "an empty target");
    assert_eq!(sc(nr::SYMLINK, &[q("f"), p("d/")]), -EEXIST);
    assert_eq!(sc(nr::SYMLINK, &[q("f"), p("new/")]), -ENOENT, "a trailing slash on a new name");
    assert_eq!(lookup("s").unwrap().mode, 0o777);
    assert_eq!(sc(nr::ACCESS, &[p("s"), 1]), -EACCES, "access follows the symlink");
    assert_eq!(sc(nr::READLINK, &[p("s"), BUF, 100]), 1);
    assert_eq!(user_bytes(BUF, 1), b"f");
    assert_eq!(sc(nr::SYMLINK, &[q("a/long/target"), p("t")]), 0);
    assert_eq!(sc(nr::READLINK, &[p("t"), BUF, 4]), 4, "truncated to bufsiz, no NUL");
    assert_eq!(user_bytes(BUF, 4), b"a/lo");
    assert_eq!(sc(nr::READLINK, &[p("t"), BUF, 0]), -EINVAL, "bufsiz 0");
    assert_eq!(sc(nr::READLINK, &[p("t"), BUF, usize::MAX]), -EINVAL, "a negative bufsiz");
    assert_eq!(sc(nr::READLINK, &[p("f"), BUF, 100]), -EINVAL, "not a symlink");
    assert_eq!(sc(nr::READLINK, &[p("t"), 0xc000_0000, 100]), -EFAULT);
    assert_eq!(sc(nr::READLINKAT, &[AT_FDCWD, p("s"), BUF, 100]), 1);
    // link.
    assert_eq!(sc(nr::LINK, &[p("f"), q("h")]), 0);
    assert_eq!(nlink("f"), 2);
    assert!(alloc::sync::Arc::ptr_eq(&lookup("f").unwrap(), &lookup("h").unwrap()));
    assert_eq!(sc(nr::LINK, &[p("f"), q("h")]), -EEXIST);
    assert_eq!(sc(nr::LINK, &[p("d"), q("d2")]), -EPERM, "a hard link to a directory");
    assert_eq!(sc(nr::LINK, &[p("nothing"), q("n")]), -ENOENT);
    assert_eq!(sc(nr::LINK, &[p("s"), q("s2")]), 0, "link does not follow the old name");
    assert_eq!(lookup("s2").unwrap().file_type(), boot::initramfs::FileType::Symlink);
    assert_eq!(sc(nr::LINKAT, &[AT_FDCWD, p("s"), AT_FDCWD, q("s3"), 0x400]), 0, "AT_SYMLINK_FOLLOW");
    assert!(alloc::sync::Arc::ptr_eq(&lookup("s3").unwrap(), &lookup("f").unwrap()));
    assert_eq!(nlink("f"), 3);
    assert_eq!(sc(nr::LINKAT, &[AT_FDCWD, p("f"), AT_FDCWD, q("s4"), 1]), -EINVAL, "a bad flag");
    assert_eq!(sc(nr::UNLINK, &[p("f")]), 0);
    assert_eq!(nlink("h"), 2);
    let fd = open("h", O_RDONLY, 0);
    assert_eq!(read(fd, 10), Ok(b"data".to_vec()), "the other name still has the data");
    close(fd);
}

fn an_unlinked_file_stays_readable_until_the_last_close() {
    scratch("unlinked");
    let fd = open("f", O_CREAT | O_RDWR, 0o644);
    let body: Vec<u8> = (0..10000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(write(fd, &body), body.len() as i32);
    let inode = alloc::sync::Arc::downgrade(&lookup("f").unwrap());
    let fd2 = open("f", O_RDONLY, 0);
    assert_eq!(sc(nr::UNLINK, &[p("f")]), 0);
    assert_eq!(open("f", O_RDONLY, 0), -ENOENT, "the name is gone");
    let i = inode.upgrade().expect("the inode lives while open");
    assert_eq!(i.nlink.load(core::sync::atomic::Ordering::Relaxed), 0, "with no name");
    drop(i);
    assert_eq!(sc(nr::LSEEK, &[fd as usize, 0, 0]), 0);
    assert_eq!(read(fd, 10000), Ok(body.clone()), "still readable through the first fd");
    assert_eq!(write(fd, b"more"), 4, "and writable");
    close(fd);
    assert!(inode.upgrade().is_some(), "the second fd keeps it");
    assert_eq!(read(fd2, 10004).map(|v| v.len()), Ok(10004));
    close(fd2);
    assert!(inode.upgrade().is_none(), "the last close freed the inode (and its pages)");
}

/// Little-endian fields of a `struct statx` at `off`.
fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn le64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

fn statx_fills_linuxs_struct_statx_from_the_cwd_or_a_dirfd() {
    scratch("statx");
    let fd = open("f", O_CREAT | O_RDWR, 0o640);
    assert_eq!(write(fd, &[7u8; 5000]), 5000);
    assert_eq!(sc(nr::LINK, &[p("f"), q("f2")]), 0);
    assert_eq!(sc(nr::SYMLINK, &[q("f"), p("s")]), 0);
    let statx = |dirfd: usize, path: &str, flags: usize| {
        assert_eq!(copy_to_user(BUF, &[0xaa; 256]), 0);
        let r = sc(nr::STATX, &[dirfd, p(path), flags, 0x7ff, BUF]);
        if r < 0 { Err(r) } else { Ok(user_bytes(BUF, 256)) }
    };
    let b = statx(AT_FDCWD, "f", 0).unwrap();
    let ino = lookup("f").unwrap().ino as u64;
    assert_eq!(le32(&b, 0), 0x17ff, "stx_mask: the basic stats and the mount id, as Linux 6.1");
    assert_eq!(le32(&b, 4), 4096, "stx_blksize");
    assert_eq!(le32(&b, 16), 2, "stx_nlink: f and f2");
    assert_eq!(u16::from_le_bytes([b[28], b[29]]), 0o100640, "stx_mode: S_IFREG | 0640");
    assert_eq!(le64(&b, 32), ino, "stx_ino");
    assert_eq!(le64(&b, 40), 5000, "stx_size");
    assert_eq!(le64(&b, 48), 16, "stx_blocks: two pages in 512-byte units");
    assert_eq!(le64(&b, 8), 0, "stx_attributes");
    assert_eq!(le64(&b, 56), 0x20_3000, "stx_attributes_mask: automount, mount root, DAX");
    assert_eq!((le32(&b, 136), le32(&b, 140)), (0, 1), "stx_dev 0:1, the rootfs");
    assert!(b[152..].iter().all(|&x| x == 0) && b[64..128].iter().all(|&x| x == 0), "the rest is zeroed");
    assert_eq!(le64(&statx(AT_FDCWD, "s", 0).unwrap(), 32), ino, "a symlink is followed");
    let l = statx(AT_FDCWD, "s", 0x100).unwrap();
    assert_eq!((u16::from_le_bytes([l[28], l[29]]), le64(&l, 40)), (0o120777, 1), "AT_SYMLINK_NOFOLLOW: the link, 1 byte");
    assert_eq!(le64(&statx(fd as usize, "", 0x1000).unwrap(), 32), ino, "AT_EMPTY_PATH: the fd itself");
    let c = statx(1, "", 0x1000).unwrap();
    assert_eq!((u16::from_le_bytes([c[28], c[29]]), le32(&c, 128), le32(&c, 132)), (0o020600, 5, 1), "the console: 5:1");
    let r = statx(AT_FDCWD, "/", 0).unwrap();
    assert_eq!(le64(&r, 8), 0x2000, "/ is a mount root");
    let dfd = open(".", O_RDONLY | O_DIRECTORY, 0);
    assert_eq!(le64(&statx(dfd as usize, "f2", 0).unwrap(), 32), ino, "from a dirfd");
    assert_eq!(statx(fd as usize, "f2", 0), Err(-ENOTDIR), "a dirfd that is a file");
    assert_eq!(statx(99, "f2", 0), Err(-EBADF));
    assert_eq!(statx(AT_FDCWD, "", 0), Err(-ENOENT), "an empty path without AT_EMPTY_PATH");
    assert_eq!(statx(99, "", 0x1000), Err(-EBADF));
    assert_eq!(statx(AT_FDCWD, "nothing", 0), Err(-ENOENT));
    assert_eq!(statx(AT_FDCWD, "f", 0x1), Err(-EINVAL), "an unknown flag");
    assert_eq!(statx(AT_FDCWD, "f", 0x6000), Err(-EINVAL), "sync type 3");
    assert_eq!(sc(nr::STATX, &[AT_FDCWD, p("f"), 0, 0x8000_0000, BUF]), -EINVAL, "STATX__RESERVED");
    assert_eq!(sc(nr::STATX, &[AT_FDCWD, p("f"), 0, 0x7ff, 0xc000_0000]), -EFAULT, "a kernel buffer");
    assert_eq!(sc(nr::STATX, &[AT_FDCWD, p("f"), 0, 0x7ff, DATA_END - 100]), -EFAULT, "a buffer running off the mapping");
    assert_eq!(sc(nr::STATX, &[AT_FDCWD, 0, 0, 0x7ff, BUF]), -EFAULT, "a NULL path");
    close(dfd);
    close(fd);
}
