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

use user::check::Checks;
use user::syscall::errno::{EACCES, EBADF, EINVAL, ENODEV, ENOMEM};
use user::syscall::fcntl::{O_CREAT, O_RDONLY, O_RDWR, O_WRONLY};
use user::syscall::mman::{MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MS_ASYNC, MS_SYNC, PROT_READ, PROT_WRITE};
use user::syscall::nr::{EXIT, PWRITE64};
use user::syscall::{
    chdir, close, fork, ftruncate, mkdir, mmap2, msync, open, pipe2, pread64, pwrite64, rmdir, syscall1, syscall5,
    unlink, wait4,
};
use user::{Args, entry};

entry!(main);

const SIGBUS: i32 = 7;
const SIGSEGV: i32 = 11;

const P: usize = 4096;

/// A new mapping where the kernel picks (`mmap(NULL, ...)`).
fn mmap(len: usize, prot: usize, flags: usize, fd: i32, pgoff: usize) -> isize {
    // SAFETY: without MAP_FIXED the kernel picks a free range: nothing of
    // ours is replaced.
    unsafe { mmap2(0, len, prot, flags, fd, pgoff) }
}
fn ok_map(r: isize) -> bool {
    !(-4095..0).contains(&r)
}
/// Unmap one of this program's mappings.
fn munmap(a: usize, len: usize) -> isize {
    // SAFETY: only mappings this program made, reached through `at` and no
    // longer used.
    unsafe { user::syscall::munmap(a, len) }
}
/// Change the protection of one of this program's mappings.
fn mprotect(a: usize, len: usize, prot: usize) -> isize {
    // SAFETY: the program touches the range against `prot` only in a
    // child meant to die of it (`in_child`).
    unsafe { user::syscall::mprotect(a, len, prot) }
}
/// `pwrite64` whose source is `n` bytes of one of our mappings at `buf`
/// (which may be untouched: U20).
fn pwrite_raw(fd: i32, buf: usize, n: usize, pos: usize) -> isize {
    // SAFETY: the kernel only reads [buf, buf + n), which the caller maps.
    unsafe { syscall5(PWRITE64, fd as usize, buf, n, pos, 0) }
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
    let pid = fork();
    if pid == 0 {
        close(2);
        let st = f();
        // SAFETY: exit does not return.
        unsafe { syscall1(EXIT, st as usize) };
    }
    let mut status = 0i32;
    wait4(pid as i32, Some(&mut status), 0);
    status
}

/// Write `n` bytes of pattern `seed` (from offset 0) to `fd`, a page at a time.
fn fill(fd: i32, seed: usize, n: usize) -> bool {
    let mut buf = [0u8; P];
    let mut off = 0;
    while off < n {
        let len = P.min(n - off);
        for (i, b) in buf[..len].iter_mut().enumerate() {
            *b = pat(seed, off + i);
        }
        if pwrite64(fd, &buf[..len], off) != len as isize {
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
    c.check_eq("chdir_to_the_given_directory", chdir(dir), 0);
    c.check_eq("mkdir_the_work_directory", mkdir(c"mmaptest.d", 0o755), 0);
    c.check_eq("chdir_into_it", chdir(c"mmaptest.d"), 0);

    let fd = open(c"f", O_CREAT | O_RDWR, 0o600) as i32;
    c.check("a_three_page_file_is_written", fd >= 0 && fill(fd, 1, 3 * P), format_args!("open gave {fd}"));

    // Shared: reads are the file, writes reach read(), write() reaches it.
    let sh = mmap(3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    c.check("mmap_shared_of_the_file", ok_map(sh), format_args!("mmap gave {sh}"));
    let sh = sh as usize;
    c.check("the_shared_mapping_reads_the_file", is_pattern(at(sh, 3 * P), 1, 0), format_args!("different bytes"));
    at(sh + P + 5, 6).copy_from_slice(b"shared");
    let mut buf = [0u8; 6];
    let n = pread64(fd, &mut buf, P + 5);
    c.check("read_sees_a_shared_mapping_s_write", n == 6 && &buf == b"shared", format_args!("pread gave {n}"));
    let n = pwrite64(fd, b"pwrite", 2 * P + 9);
    c.check("the_shared_mapping_sees_write", n == 6 && at(sh + 2 * P + 9, 6) == b"pwrite", format_args!("pwrite gave {n}"));
    c.check_eq("msync_ms_sync_returns_0", msync(sh, 3 * P, MS_SYNC), 0);

    // Private: copy on write; the file and the shared mapping keep theirs.
    let pv = mmap(3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    c.check("mmap_private_of_the_file", ok_map(pv), format_args!("mmap gave {pv}"));
    let pv = pv as usize;
    let before = at(pv, 1)[0];
    at(pv, 7).copy_from_slice(b"private");
    let n = pread64(fd, &mut buf, 0);
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
    pread64(fd, &mut head, 3);
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
    c.check_eq("mprotect_prot_read_of_the_file_mapping", mprotect(sh, P, PROT_READ), 0);
    let st = in_child(|| {
        at(sh, 1)[0] = 1;
        0
    });
    c.check_eq("a_write_after_mprotect_read_is_sigsegv", st & 0x7f, SIGSEGV);
    c.check_eq("mprotect_read_write_again", mprotect(sh, P, PROT_READ | PROT_WRITE), 0);
    at(sh, 2).copy_from_slice(b"mp");
    let n = pread64(fd, &mut buf[..2], 0);
    c.check("and_the_write_reaches_the_file", n == 2 && &buf[..2] == b"mp", format_args!("pread gave {n}"));

    // Past the end of the file: SIGBUS.
    c.check_eq("ftruncate_to_a_page_and_a_half", ftruncate(fd, P + P / 2), 0);
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
    c.check_eq("ftruncate_to_zero", ftruncate(fd, 0), 0);
    let st = in_child(|| at(sh, 1)[0] as i32);
    c.check_eq("after_truncate_a_mapped_page_is_sigbus", st & 0x7f, SIGBUS);
    munmap(big, 4 * P);
    munmap(sh, 3 * P);
    munmap(pv, 3 * P);

    // Errors.
    let ro = open(c"f", O_RDONLY, 0o600) as i32;
    let wo = open(c"f", O_WRONLY, 0o600) as i32;
    c.check_eq("mmap_of_a_closed_fd_ebadf", mmap(P, PROT_READ, MAP_SHARED, 99, 0), -EBADF);
    c.check_eq("mmap_shared_writable_of_a_read_only_fd_eacces", mmap(P, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), -EACCES);
    c.check_eq("mmap_of_a_write_only_fd_eacces", mmap(P, PROT_READ, MAP_PRIVATE, wo, 0), -EACCES);
    c.check_eq("mmap_without_a_map_type_einval", mmap(P, PROT_READ, 0, ro, 0), -EINVAL);
    c.check_eq("mmap_shared_read_only_is_fine_but_mprotect_write_eacces", {
        let m = mmap(P, PROT_READ, MAP_SHARED, ro, 0);
        let e = mprotect(m as usize, P, PROT_READ | PROT_WRITE);
        munmap(m as usize, P);
        e
    }, -EACCES);
    let (r, w) = pipe2(0).unwrap_or((0, 0));
    c.check_eq("mmap_of_a_pipe_enodev", mmap(P, PROT_READ, MAP_PRIVATE, r, 0), -ENODEV);
    close(r);
    close(w);
    close(ro);
    close(wo);
    let a = mmap(P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as usize;
    c.check_eq("msync_unaligned_einval", msync(a + 1, P, MS_SYNC), -EINVAL);
    c.check_eq("msync_async_and_sync_einval", msync(a, P, MS_SYNC | MS_ASYNC), -EINVAL);
    munmap(a, P);
    c.check_eq("msync_of_an_unmapped_range_enomem", msync(a, P, MS_ASYNC), -ENOMEM);

    // U23's mmap part: 4 MiB written, compared through a mapping.
    const BIG: usize = 4 << 20;
    let ok = fill(fd, 9, BIG);
    let m = mmap(BIG, PROT_READ, MAP_SHARED, fd, 0);
    c.check("a_4_mib_file_reads_back_through_a_mapping", ok && ok_map(m) && is_pattern(at(m as usize, BIG), 9, 0),
        format_args!("write {ok}, mmap {m}"));
    munmap(m as usize, BIG);
    close(fd);

    let clean = unlink(c"f") == 0 && chdir(c"..") == 0 && rmdir(c"mmaptest.d") == 0;
    c.check("the_work_directory_is_removed", clean, format_args!("cleanup failed"));
    c.finish()
}
