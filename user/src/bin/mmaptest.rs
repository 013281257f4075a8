//! `mmaptest DIR`: file mappings as a program sees them, the same under
//! Linux (the oracle: tests/user.sh gives it a fresh temporary directory),
//! qemu-i386 and this kernel (where it gets `/tmp`): `mmap2` of a file,
//! `MAP_SHARED` and `MAP_PRIVATE`; what a shared mapping writes `read()`
//! sees and what `write()` writes the mapping sees; a private write
//! leaves the file alone; a forked child's writes through a shared
//! mapping reach the parent; a touch past the end of the file is SIGBUS
//! (also after `ftruncate`); `munmap` of part of a mapping; `mprotect`;
//! `msync`; a `write()` whose source is an untouched shared mapping of the
//! same file (U20); a multi-MiB file compared through a mapping (U23);
//! each error with Linux's errno.
//!
//! It works in DIR/mmaptest.d and removes it at the end. Prints `ok NAME`
//! or `FAILED NAME: why` per check; exits 0 only if all passed.

#![no_std]
#![no_main]

use core::ffi::CStr;

use user::check::Checks;
use user::syscall::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};
use user::{Args, entry};

entry!(main);

const EXIT: usize = 1;
const FORK: usize = 2;
const OPEN: usize = 5;
const CLOSE: usize = 6;
const UNLINK: usize = 10;
const CHDIR: usize = 12;
const MKDIR: usize = 39;
const RMDIR: usize = 40;
const MUNMAP: usize = 91;
const FTRUNCATE: usize = 93;
const WAIT4: usize = 114;
const MPROTECT: usize = 125;
const MSYNC: usize = 144;
const PREAD64: usize = 180;
const PWRITE64: usize = 181;
const MMAP2: usize = 192;
const PIPE2: usize = 331;

const EBADF: isize = 9;
const ENOMEM: isize = 12;
const EACCES: isize = 13;
const ENODEV: isize = 19;
const EINVAL: isize = 22;

const O_RDONLY: usize = 0;
const O_WRONLY: usize = 1;
const O_RDWR: usize = 2;
const O_CREAT: usize = 0o100;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const MAP_SHARED: usize = 1;
const MAP_PRIVATE: usize = 2;
const MAP_ANONYMOUS: usize = 0x20;
const MS_ASYNC: usize = 1;
const MS_SYNC: usize = 4;
const SIGBUS: i32 = 7;
const SIGSEGV: i32 = 11;

const P: usize = 4096;

fn open(p: &CStr, flags: usize) -> isize {
    // SAFETY: open reads the NUL-terminated path only.
    unsafe { syscall3(OPEN, p.as_ptr() as usize, flags, 0o600) }
}
fn close(fd: isize) -> isize {
    // SAFETY: no memory of ours is touched.
    unsafe { syscall1(CLOSE, fd as usize) }
}
fn mmap(len: usize, prot: usize, flags: usize, fd: isize, pgoff: usize) -> isize {
    // SAFETY: a new mapping changes no memory we use.
    unsafe { syscall6(MMAP2, 0, len, prot, flags, fd as usize, pgoff) }
}
fn ok_map(r: isize) -> bool {
    !(-4095..0).contains(&r)
}
fn munmap(a: usize, len: usize) -> isize {
    // SAFETY: only mappings this program made and no longer uses.
    unsafe { syscall2(MUNMAP, a, len) }
}
fn pread(fd: isize, buf: &mut [u8], pos: usize) -> isize {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { syscall5(PREAD64, fd as usize, buf.as_mut_ptr() as usize, buf.len(), pos, 0) }
}
fn pwrite_raw(fd: isize, buf: usize, n: usize, pos: usize) -> isize {
    // SAFETY: the kernel only reads [buf, buf + n), which the caller maps.
    unsafe { syscall5(PWRITE64, fd as usize, buf, n, pos, 0) }
}
fn pwrite(fd: isize, buf: &[u8], pos: usize) -> isize {
    pwrite_raw(fd, buf.as_ptr() as usize, buf.len(), pos)
}
fn sys3(nr: usize, a: usize, b: usize, c: usize) -> isize {
    // SAFETY: mprotect, msync, ftruncate on this program's own mappings and files.
    unsafe { syscall3(nr, a, b, c) }
}

/// Byte `i` of pattern `seed`.
fn pat(seed: usize, i: usize) -> u8 {
    ((i.wrapping_mul(31) ^ (i >> 11) ^ seed.wrapping_mul(97)) % 253) as u8 + 1
}

/// The `len` bytes at `a` as a slice.
fn at(a: usize, len: usize) -> &'static mut [u8] {
    // SAFETY: callers pass a mapping of at least len bytes that they own
    // and that stays mapped while the slice is used.
    unsafe { core::slice::from_raw_parts_mut(a as *mut u8, len) }
}

/// Run `f` in a forked child; its wait status. The child closes its
/// stderr first: a child killed by a signal makes qemu-i386 print
/// "qemu: uncaught target signal ..." on the process's stderr, which is
/// not the program's output (Linux and this kernel print nothing there).
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: fork copies this process; the child runs f and exits.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        close(2);
        let st = f();
        // SAFETY: exit does not return.
        unsafe { syscall1(EXIT, st as usize) };
    }
    let mut status = 0i32;
    // SAFETY: wait4 writes the status into our variable.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    status
}

/// Write `n` bytes of pattern `seed` (from offset 0) to `fd`, a page at a time.
fn fill(fd: isize, seed: usize, n: usize) -> bool {
    let mut buf = [0u8; P];
    let mut off = 0;
    while off < n {
        let len = P.min(n - off);
        for (i, b) in buf[..len].iter_mut().enumerate() {
            *b = pat(seed, off + i);
        }
        if pwrite(fd, &buf[..len], off) != len as isize {
            return false;
        }
        off += len;
    }
    true
}

fn is_pattern(bytes: &[u8], seed: usize, from: usize) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| b == pat(seed, from + i))
}

fn main(args: Args) -> i32 {
    let mut c = Checks::new("mmaptest");
    let Some(dir) = args.argv().nth(1) else {
        user::eprintln!("usage: mmaptest DIR");
        return 2;
    };
    // SAFETY: chdir/mkdir read the paths only.
    c.check_eq("chdir_to_the_given_directory", unsafe { syscall1(CHDIR, dir.as_ptr() as usize) }, 0);
    // SAFETY: as above.
    c.check_eq("mkdir_the_work_directory", unsafe { syscall2(MKDIR, c"mmaptest.d".as_ptr() as usize, 0o755) }, 0);
    // SAFETY: as above.
    c.check_eq("chdir_into_it", unsafe { syscall1(CHDIR, c"mmaptest.d".as_ptr() as usize) }, 0);

    let fd = open(c"f", O_CREAT | O_RDWR);
    c.check("a_three_page_file_is_written", fd >= 0 && fill(fd, 1, 3 * P), format_args!("open gave {fd}"));

    // Shared: reads are the file, writes reach read(), write() reaches it.
    let sh = mmap(3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    c.check("mmap_shared_of_the_file", ok_map(sh), format_args!("mmap gave {sh}"));
    let sh = sh as usize;
    c.check("the_shared_mapping_reads_the_file", is_pattern(at(sh, 3 * P), 1, 0), format_args!("different bytes"));
    at(sh + P + 5, 6).copy_from_slice(b"shared");
    let mut buf = [0u8; 6];
    let n = pread(fd, &mut buf, P + 5);
    c.check("read_sees_a_shared_mapping_s_write", n == 6 && &buf == b"shared", format_args!("pread gave {n}"));
    let n = pwrite(fd, b"pwrite", 2 * P + 9);
    c.check("the_shared_mapping_sees_write", n == 6 && at(sh + 2 * P + 9, 6) == b"pwrite", format_args!("pwrite gave {n}"));
    c.check_eq("msync_ms_sync_returns_0", sys3(MSYNC, sh, 3 * P, MS_SYNC), 0);

    // Private: copy on write; the file and the shared mapping keep theirs.
    let pv = mmap(3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    c.check("mmap_private_of_the_file", ok_map(pv), format_args!("mmap gave {pv}"));
    let pv = pv as usize;
    let before = at(pv, 1)[0];
    at(pv, 7).copy_from_slice(b"private");
    let n = pread(fd, &mut buf, 0);
    c.check("a_private_write_leaves_the_file_alone", n == 6 && buf[0] == before && buf[0] != b'p', format_args!("pread gave {n}, {:?}", buf));
    c.check("and_the_shared_mapping_alone", at(sh, 1)[0] == before, format_args!("shared mapping has {}", at(sh, 1)[0]));
    c.check("the_private_mapping_keeps_its_copy", at(pv, 7) == b"private", format_args!("lost"));

    // fork: the child's shared writes reach the parent; its private ones do not.
    let st = in_child(|| {
        at(sh + 100, 5).copy_from_slice(b"child");
        at(pv + 100, 5).copy_from_slice(b"CHILD");
        0
    });
    c.check("a_forked_child_s_shared_write_reaches_the_parent", st == 0 && at(sh + 100, 5) == b"child", format_args!("status {st:#x}"));
    c.check("but_not_its_private_write", at(pv + 100, 5) != b"CHILD", format_args!("it did"));

    // U20: write() from an untouched shared mapping of the same file.
    let u20 = mmap(2 * P, PROT_READ, MAP_SHARED, fd, 1) as usize;
    let n = pwrite_raw(fd, u20, P, P);
    c.check_eq("u20_write_from_a_shared_mapping_of_the_same_page", n, P as isize);
    let n2 = pwrite_raw(fd, u20 + P, 10, 3);
    let mut head = [0u8; 10];
    pread(fd, &mut head, 3);
    c.check("u20_write_from_a_shared_mapping_of_another_page", n2 == 10 && head == at(sh + 2 * P, 10), format_args!("pwrite gave {n2}"));
    munmap(u20, 2 * P);

    // munmap of the middle page: the others stay.
    c.check_eq("munmap_of_the_middle_page", munmap(sh + P, P), 0);
    c.check("the_pages_around_it_stay", at(sh + 2 * P + 9, 6) == b"pwrite" && at(sh + 100, 5) == b"child", format_args!("lost"));
    let st = in_child(|| {
        at(sh + P, 1)[0] = 1;
        0
    });
    c.check_eq("the_unmapped_page_is_sigsegv", st & 0x7f, SIGSEGV);

    // mprotect: read-only, then a write is SIGSEGV.
    c.check_eq("mprotect_prot_read_of_the_file_mapping", sys3(MPROTECT, sh, P, PROT_READ), 0);
    let st = in_child(|| {
        at(sh, 1)[0] = 1;
        0
    });
    c.check_eq("a_write_after_mprotect_read_is_sigsegv", st & 0x7f, SIGSEGV);
    c.check_eq("mprotect_read_write_again", sys3(MPROTECT, sh, P, PROT_READ | PROT_WRITE), 0);
    at(sh, 2).copy_from_slice(b"mp");
    let n = pread(fd, &mut buf[..2], 0);
    c.check("and_the_write_reaches_the_file", n == 2 && &buf[..2] == b"mp", format_args!("pread gave {n}"));

    // Past the end of the file: SIGBUS.
    c.check_eq("ftruncate_to_a_page_and_a_half", sys3(FTRUNCATE, fd as usize, P + P / 2, 0), 0);
    let big = mmap(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    c.check("mmap_past_the_end_of_the_file_succeeds", ok_map(big), format_args!("mmap gave {big}"));
    let big = big as usize;
    c.check("the_last_page_reads_zeros_past_the_end", at(big + P + P / 2, P / 2).iter().all(|&b| b == 0), format_args!("not zeros"));
    let st = in_child(|| at(big + 2 * P, 1)[0] as i32);
    c.check_eq("a_read_past_the_end_is_sigbus", st & 0x7f, SIGBUS);
    let st = in_child(|| {
        at(pv + 2 * P, 1)[0] = 1;
        0
    });
    c.check_eq("a_private_write_past_the_end_is_sigbus", st & 0x7f, SIGBUS);
    c.check_eq("ftruncate_to_zero", sys3(FTRUNCATE, fd as usize, 0, 0), 0);
    let st = in_child(|| at(sh, 1)[0] as i32);
    c.check_eq("after_truncate_a_mapped_page_is_sigbus", st & 0x7f, SIGBUS);
    munmap(big, 4 * P);
    munmap(sh, 3 * P);
    munmap(pv, 3 * P);

    // Errors.
    let ro = open(c"f", O_RDONLY);
    let wo = open(c"f", O_WRONLY);
    c.check_eq("mmap_of_a_closed_fd_ebadf", mmap(P, PROT_READ, MAP_SHARED, 99, 0), -EBADF);
    c.check_eq("mmap_shared_writable_of_a_read_only_fd_eacces", mmap(P, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), -EACCES);
    c.check_eq("mmap_of_a_write_only_fd_eacces", mmap(P, PROT_READ, MAP_PRIVATE, wo, 0), -EACCES);
    c.check_eq("mmap_without_a_map_type_einval", mmap(P, PROT_READ, 0, ro, 0), -EINVAL);
    c.check_eq("mmap_shared_read_only_is_fine_but_mprotect_write_eacces", {
        let m = mmap(P, PROT_READ, MAP_SHARED, ro, 0);
        let e = sys3(MPROTECT, m as usize, P, PROT_READ | PROT_WRITE);
        munmap(m as usize, P);
        e
    }, -EACCES);
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two ints into fds.
    unsafe { syscall2(PIPE2, fds.as_mut_ptr() as usize, 0) };
    c.check_eq("mmap_of_a_pipe_enodev", mmap(P, PROT_READ, MAP_PRIVATE, fds[0] as isize, 0), -ENODEV);
    close(fds[0] as isize);
    close(fds[1] as isize);
    close(ro);
    close(wo);
    let a = mmap(P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as usize;
    c.check_eq("msync_unaligned_einval", sys3(MSYNC, a + 1, P, MS_SYNC), -EINVAL);
    c.check_eq("msync_async_and_sync_einval", sys3(MSYNC, a, P, MS_SYNC | MS_ASYNC), -EINVAL);
    munmap(a, P);
    c.check_eq("msync_of_an_unmapped_range_enomem", sys3(MSYNC, a, P, MS_ASYNC), -ENOMEM);

    // U23's mmap part: 4 MiB written, compared through a mapping.
    const BIG: usize = 4 << 20;
    let ok = fill(fd, 9, BIG);
    let m = mmap(BIG, PROT_READ, MAP_SHARED, fd, 0);
    c.check("a_4_mib_file_reads_back_through_a_mapping", ok && ok_map(m) && is_pattern(at(m as usize, BIG), 9, 0),
        format_args!("write {ok}, mmap {m}"));
    munmap(m as usize, BIG);
    close(fd);

    // SAFETY: unlink/chdir/rmdir read the paths only.
    let clean = unsafe {
        syscall1(UNLINK, c"f".as_ptr() as usize) == 0
            && syscall1(CHDIR, c"..".as_ptr() as usize) == 0
            && syscall1(RMDIR, c"mmaptest.d".as_ptr() as usize) == 0
    };
    c.check("the_work_directory_is_removed", clean, format_args!("cleanup failed"));
    c.finish()
}
