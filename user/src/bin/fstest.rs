//! `fstest DIR`: the namespace system calls as a program sees them, the
//! same under Linux (the oracle: tests/user.sh gives it a fresh temporary
//! directory), qemu-i386 and this kernel (where it gets `/tmp`, made in the
//! suite's initramfs): `open`/`openat`/`creat` and their flags and access
//! modes, `mkdir`, `rmdir`, `unlink`, `rename`/`renameat2`, `getdents64`,
//! `chdir`/`fchdir`/`getcwd` (and the cwd across `fork`), `access`,
//! `readlink`, `symlink`, `link`, `statx`, an unlinked file read through
//! its open descriptor; each error with Linux's errno.
//!
//! It works in DIR/fstest.d and removes it at the end. Nothing printed
//! depends on DIR or on the filesystem under it: directory entries are
//! compared as sets (ext4 lists them in hash order, ramfs by name), never
//! by `d_off`.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::ffi::CStr;

use user::check::Checks;
use user::syscall::errno::{
    EACCES, EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, ERANGE,
};
use user::syscall::fcntl::{AT_FDCWD, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use user::syscall::nr::{CREAT, EXIT, FCHDIR, GETDENTS64, OPEN, READLINK, RENAMEAT2, STATX};
use user::syscall::{
    access, chdir, close, fork, getcwd, getdents64, link, lseek, mkdir, open, read, rename, rmdir, symlink, syscall1,
    syscall2, syscall3, syscall5, unlink, wait4, write,
};
use user::{Args, entry};

entry!(main);

/// The address of a C string, for the raw calls.
fn a(s: &CStr) -> usize {
    s.as_ptr() as usize
}

/// A small set of names (no allocator): up to 16 names of up to 32 bytes.
#[derive(PartialEq)]
struct Names {
    n: usize,
    names: [[u8; 32]; 16],
    bad_reclen: usize,
    types: [u8; 16],
}

impl Names {
    fn new() -> Self {
        Names { n: 0, names: [[0; 32]; 16], bad_reclen: 0, types: [0; 16] }
    }
    /// Add the records of `buf` (`linux_dirent64`s); count records whose
    /// `d_reclen` is not Linux's (19 + name + NUL, rounded up to 8).
    fn add(&mut self, buf: &[u8]) {
        let mut at = 0;
        while at + 19 < buf.len() && self.n < 16 {
            let r = &buf[at..];
            let reclen = u16::from_le_bytes([r[16], r[17]]) as usize;
            let len = r[19..].iter().position(|&b| b == 0).unwrap_or(0);
            if reclen != (19 + len + 1).next_multiple_of(8) || reclen == 0 {
                self.bad_reclen += 1;
                return;
            }
            self.names[self.n][..len.min(32)].copy_from_slice(&r[19..19 + len.min(32)]);
            self.types[self.n] = r[18];
            self.n += 1;
            at += reclen;
        }
    }
    /// The `d_type` of `name`, if listed once (0 if missing or repeated).
    fn type_of(&self, name: &[u8]) -> u8 {
        let hits: usize = (0..self.n).filter(|&i| &self.names[i][..name.len()] == name && self.names[i][name.len()..].iter().all(|&b| b == 0)).count();
        if hits != 1 {
            return 0;
        }
        (0..self.n).find(|&i| &self.names[i][..name.len()] == name && self.names[i][name.len()..].iter().all(|&b| b == 0)).map_or(0, |i| self.types[i])
    }
}

fn main(args: Args) -> i32 {
    let mut c = Checks::new("fstest");
    let Some(dir) = args.argv().nth(1) else {
        user::eprintln!("usage: fstest DIR");
        return 2;
    };
    c.check_eq("chdir_to_the_given_directory", chdir(dir), 0);
    c.check_eq("mkdir_the_work_directory", mkdir(c"fstest.d", 0o755), 0);
    c.check_eq("chdir_into_it", chdir(c"fstest.d"), 0);

    // open and its flags.
    let fd = open(c"f", O_CREAT | O_EXCL | O_RDWR, 0o600) as i32;
    c.check("open_creat_excl_makes_a_file", fd >= 0, format_args!("open gave {fd}"));
    c.check_eq("write_returns_the_count", write(fd, b"hello"), 5);
    c.check_eq("close", close(fd), 0);
    c.check_eq("o_excl_on_an_existing_file_eexist", open(c"f", O_CREAT | O_EXCL | O_RDWR, 0o600), -EEXIST);
    let fd = open(c"f", O_WRONLY, 0) as i32;
    let mut buf = [0u8; 512];
    c.check_eq("read_on_o_wronly_ebadf", read(fd, &mut buf), -EBADF);
    close(fd);
    let fd = open(c"f", O_RDONLY, 0) as i32;
    c.check_eq("write_on_o_rdonly_ebadf", write(fd, b"x"), -EBADF);
    let n = read(fd, &mut buf);
    c.check("read_back_what_was_written", n == 5 && &buf[..5] == b"hello", format_args!("read gave {n}"));
    close(fd);
    let fd = open(c"f", 3, 0) as i32;
    let (r, w) = (read(fd, &mut buf), write(fd, b"x"));
    c.check("access_mode_3_opens_for_neither_read_nor_write", fd >= 0 && r == -EBADF && w == -EBADF,
        format_args!("open {fd}, read {r}, write {w}"));
    close(fd);
    let fd = open(c"f", O_RDONLY | O_TRUNC, 0) as i32;
    c.check_eq("o_trunc_empties_even_read_only", read(fd, &mut buf), 0);
    close(fd);
    c.check_eq("o_directory_on_a_file_enotdir", open(c"f", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR);
    c.check_eq("a_file_with_a_trailing_slash_enotdir", open(c"f/", O_RDONLY, 0), -ENOTDIR);
    c.check_eq("o_creat_with_a_trailing_slash_eisdir", open(c"new/", O_CREAT | O_RDWR, 0o600), -EISDIR);
    c.check_eq("symlink_returns_0", symlink(c"f", c"s"), 0);
    c.check_eq("o_nofollow_on_a_symlink_eloop", open(c"s", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
    c.check_eq("symlink_over_an_existing_name_eexist", symlink(c"x", c"s"), -EEXIST);
    symlink(c"target", c"dangling");
    let fd = open(c"dangling", O_CREAT | O_RDWR, 0o600) as i32;
    c.check("o_creat_through_a_dangling_symlink_makes_its_target", fd >= 0 && access(c"target", 0) == 0,
        format_args!("open {fd}"));
    close(fd);
    c.check_eq("o_creat_o_excl_does_not_follow_eexist", open(c"dangling", O_CREAT | O_EXCL | O_RDWR, 0o600), -EEXIST);
    // SAFETY: creat reads the path only.
    let fd = unsafe { syscall2(CREAT, a(c"c"), 0o600) } as i32;
    c.check("creat_makes_a_file_for_writing", fd >= 0 && write(fd, b"abc") == 3 && read(fd, &mut buf) == -EBADF,
        format_args!("creat {fd}"));
    close(fd);
    let long = [b'n'; 257];
    let mut long_name = [0u8; 257];
    long_name[..256].copy_from_slice(&long[..256]);
    let long_name = CStr::from_bytes_with_nul(&long_name).unwrap();
    c.check_eq("a_256_byte_name_enametoolong", open(long_name, O_CREAT | O_RDWR, 0o600), -ENAMETOOLONG);
    // SAFETY: a kernel address as the path: the kernel must refuse it.
    c.check_eq("a_kernel_address_as_path_efault", unsafe { syscall3(OPEN, 0xc000_0000, 0, 0) }, -EFAULT);
    c.check_eq("an_empty_path_enoent", open(c"", O_RDONLY, 0), -ENOENT);
    c.check_eq("a_file_as_a_directory_enotdir", open(c"f/x", O_RDONLY, 0), -ENOTDIR);

    // mkdir, rmdir, unlink.
    c.check_eq("mkdir_returns_0", mkdir(c"d", 0o755), 0);
    c.check_eq("mkdir_of_an_existing_name_eexist", mkdir(c"d", 0o755), -EEXIST);
    c.check_eq("mkdir_without_a_parent_enoent", mkdir(c"x/y", 0o755), -ENOENT);
    let fd = open(c"d/inner", O_CREAT | O_WRONLY, 0o600) as i32;
    close(fd);
    c.check_eq("rmdir_of_a_non_empty_directory_enotempty", rmdir(c"d"), -ENOTEMPTY);
    c.check_eq("rmdir_of_a_file_enotdir", rmdir(c"f"), -ENOTDIR);
    c.check_eq("rmdir_of_dot_einval", rmdir(c"d/."), -EINVAL);
    c.check_eq("unlink_of_a_directory_eisdir", unlink(c"d"), -EISDIR);
    c.check_eq("unlink_of_a_missing_name_enoent", unlink(c"nothing"), -ENOENT);

    // rename.
    let fd = open(c"r1", O_CREAT | O_WRONLY, 0o600) as i32;
    write(fd, b"one");
    close(fd);
    let r = rename(c"r1", c"c");
    let fd = open(c"c", O_RDONLY, 0) as i32;
    let n = read(fd, &mut buf);
    close(fd);
    c.check("rename_over_a_file_replaces_it", r == 0 && n == 3 && &buf[..3] == b"one" && access(c"r1", 0) == -ENOENT,
        format_args!("rename {r}, read {n}"));
    mkdir(c"d/sub", 0o755);
    c.check_eq("rename_into_its_own_subtree_einval", rename(c"d", c"d/sub/x"), -EINVAL);
    c.check_eq("rename_over_its_own_ancestor_enotempty", rename(c"d/sub", c"d"), -ENOTEMPTY);
    c.check_eq("rename_of_a_directory_over_a_file_enotdir", rename(c"d", c"c"), -ENOTDIR);
    c.check_eq("rename_of_a_file_over_a_directory_eisdir", rename(c"c", c"d"), -EISDIR);
    c.check_eq("rename_to_itself_returns_0", rename(c"c", c"c"), 0);
    // SAFETY: renameat2 reads the two paths only.
    let r = unsafe { syscall5(RENAMEAT2, AT_FDCWD, a(c"c"), AT_FDCWD, a(c"f"), 1) };
    c.check_eq("renameat2_noreplace_over_a_file_eexist", r, -EEXIST);

    // getdents64: d holds inner (a file) and sub (a directory).
    symlink(c"inner", c"d/ln");
    let fd = open(c"d", O_RDONLY | O_DIRECTORY, 0) as i32;
    let mut all = Names::new();
    let n = getdents64(fd, &mut buf);
    if n > 0 {
        all.add(&buf[..n as usize]);
    }
    c.check("getdents64_lists_dot_dotdot_and_each_entry_once",
        all.n == 5 && all.type_of(b".") == 4 && all.type_of(b"..") == 4 && all.type_of(b"inner") == 8
            && all.type_of(b"sub") == 4 && all.type_of(b"ln") == 10,
        format_args!("{} entries", all.n));
    c.check_eq("getdents64_records_are_8_byte_aligned", all.bad_reclen, 0);
    c.check_eq("getdents64_at_the_end_returns_0", getdents64(fd, &mut buf), 0);
    lseek(fd, 0, 0);
    c.check_eq("getdents64_with_no_room_for_an_entry_einval", getdents64(fd, &mut buf[..23]), -EINVAL);
    // Again, a record at a time (32 bytes hold one short name).
    let mut one = Names::new();
    let mut calls = 0;
    loop {
        let n = getdents64(fd, &mut buf[..32]);
        if n <= 0 || calls > 10 {
            break;
        }
        calls += 1;
        one.add(&buf[..n as usize]);
    }
    c.check("getdents64_continues_where_it_stopped", calls == 5 && one.n == 5 && one.type_of(b"ln") == 10,
        format_args!("{calls} calls, {} entries", one.n));
    lseek(fd, 0, 0);
    // SAFETY: getdents64 into a kernel address: the kernel must refuse it.
    c.check_eq("getdents64_into_a_kernel_address_efault", unsafe { syscall3(GETDENTS64, fd as usize, 0xc000_0000, 4096) }, -EFAULT);
    let f = open(c"f", O_RDONLY, 0) as i32;
    c.check_eq("getdents64_of_a_file_enotdir", getdents64(f, &mut buf), -ENOTDIR);
    close(f);

    // chdir, getcwd, fchdir, fork.
    c.check_eq("chdir_into_a_subdirectory", chdir(c"d/sub"), 0);
    let n = getcwd(&mut buf);
    c.check("getcwd_ends_with_the_path_and_counts_its_nul",
        n > 0 && buf[..n as usize].ends_with(b"/fstest.d/d/sub\0"), format_args!("getcwd gave {n}"));
    c.check_eq("getcwd_into_a_buffer_too_small_erange", getcwd(&mut buf[..(n as usize).saturating_sub(1)]), -ERANGE);
    c.check_eq("a_relative_path_starts_at_the_cwd", access(c"../inner", 0), 0);
    c.check_eq("chdir_to_a_file_enotdir", chdir(c"../inner"), -ENOTDIR);
    // SAFETY: fchdir touches no memory of ours.
    c.check_eq("fchdir_to_an_open_directory", unsafe { syscall1(FCHDIR, fd as usize) }, 0);
    let n = getcwd(&mut buf);
    c.check("getcwd_after_fchdir", n > 0 && buf[..n as usize].ends_with(b"/fstest.d/d\0"), format_args!("getcwd gave {n}"));
    close(fd);
    let pid = fork();
    if pid == 0 {
        let st = if access(c"inner", 0) == 0 { 7 } else { 8 };
        // SAFETY: exit does not return.
        unsafe { syscall1(EXIT, st) };
    }
    let mut status = 0i32;
    wait4(pid as i32, Some(&mut status), 0);
    c.check_eq("a_forked_child_inherits_the_cwd", (status >> 8) & 0xff, 7);
    chdir(c"..");

    // access, readlink, link.
    c.check_eq("access_f_ok", access(c"f", 0), 0);
    c.check_eq("access_r_ok_and_w_ok_as_root", access(c"f", 6), 0);
    c.check_eq("access_x_ok_on_a_0600_file_eacces", access(c"f", 1), -EACCES);
    c.check_eq("access_x_ok_on_a_directory", access(c"d", 1), 0);
    c.check_eq("access_with_a_bad_mode_einval", access(c"f", 8), -EINVAL);
    // SAFETY: readlink writes at most 3 bytes into buf.
    let n = unsafe { syscall3(READLINK, a(c"dangling"), buf.as_mut_ptr() as usize, 3) };
    c.check("readlink_truncates_without_a_nul", n == 3 && &buf[..3] == b"tar", format_args!("readlink gave {n}"));
    // SAFETY: as above.
    c.check_eq("readlink_of_a_file_einval", unsafe { syscall3(READLINK, a(c"f"), buf.as_mut_ptr() as usize, 100) }, -EINVAL);
    c.check_eq("link_returns_0", link(c"f", c"f2"), 0);
    c.check_eq("link_over_an_existing_name_eexist", link(c"f", c"c"), -EEXIST);
    c.check_eq("link_of_a_directory_eperm", link(c"d", c"d2"), -EPERM);
    // statx: f has two names now.
    let mut stx = [0u8; 256];
    // SAFETY: statx writes 256 bytes into stx.
    let r = unsafe { syscall5(STATX, AT_FDCWD, a(c"f2"), 0, 0x7ff, stx.as_mut_ptr() as usize) };
    let nlink = u32::from_le_bytes(stx[16..20].try_into().unwrap());
    let mode = u16::from_le_bytes([stx[28], stx[29]]);
    let size = u64::from_le_bytes(stx[40..48].try_into().unwrap());
    c.check("statx_gives_mode_nlink_and_size", r == 0 && nlink == 2 && mode == 0o100600 && size == 0,
        format_args!("statx {r}: nlink {nlink} mode {mode:o} size {size}"));
    // SAFETY: statx of a kernel-address path: the kernel must refuse it.
    c.check_eq("statx_with_a_bad_flag_einval", unsafe { syscall5(STATX, AT_FDCWD, a(c"f"), 1, 0x7ff, stx.as_mut_ptr() as usize) }, -EINVAL);

    // An unlinked file stays readable through its descriptor.
    let fd = open(c"f", O_RDWR, 0) as i32;
    write(fd, b"still here");
    unlink(c"f");
    unlink(c"f2");
    lseek(fd, 0, 0);
    let n = read(fd, &mut buf);
    c.check("an_unlinked_file_is_read_through_its_descriptor", n == 10 && &buf[..10] == b"still here" && access(c"f", 0) == -ENOENT,
        format_args!("read gave {n}"));
    close(fd);

    // Clean up: everything goes, and the work directory with it.
    for p in [c"d/inner", c"d/ln", c"c", c"s", c"dangling", c"target"] {
        unlink(p);
    }
    rmdir(c"d/sub");
    rmdir(c"d");
    chdir(c"..");
    c.check_eq("the_emptied_work_directory_is_removed", rmdir(c"fstest.d"), 0);
    c.finish()
}
