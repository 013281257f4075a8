//! `vmtest`: `process_vm_readv` and `process_vm_writev` (i386 347, 348)
//! as a program sees them, the same under Linux and under this kernel
//! (catalogue case U30 from user space). The parent forks a child that
//! holds four pages: one it wrote after the fork (its own copy), one
//! nobody ever touched, one shared copy-on-write since the fork; and the
//! same hole (a page unmapped before the fork). While the child waits on
//! a pipe, the parent reads and writes the child's memory: the child's
//! own copy is read, not the parent's; an untouched page reads as zeros
//! and then takes a write; a write into the copy-on-write page reaches
//! the child only; scattered iovecs on both sides; a range running into
//! the hole gives a short count, one starting there EFAULT; read-only
//! text cannot be written. Then the child checks, in its own memory, that
//! it sees every write (reported through its exit status). Last, every
//! hostile argument's errno, in Linux's order of checking.
//!
//! Linux lets a parent read its child under Yama's ptrace_scope 1 (a
//! descendant) and always lets root (CAP_SYS_PTRACE); on a host whose
//! policy refused, the calls would return EPERM and the run fails,
//! naming that.
//!
//! Where the calls are not there at all (qemu-i386 answers -ENOSYS) it
//! prints one line saying so and exits 1.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::{EFAULT, EINVAL};
use user::syscall::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall6};
use user::{Args, entry};

entry!(main);

const READ: usize = 3;
const FORK: usize = 2;
const CLOSE: usize = 6;
const PIPE: usize = 42;
const MUNMAP: usize = 91;
const WAIT4: usize = 114;
const MMAP2: usize = 192;
const PROCESS_VM_READV: usize = 347;
const PROCESS_VM_WRITEV: usize = 348;
const ESRCH: isize = 3;
const ENOSYS: isize = 38;
const EPERM: isize = 1;

const P: usize = 4096;
/// A kernel address under a 32-bit kernel (and nothing mapped there in a
/// 32-bit process on a 64-bit one).
const KERNEL: usize = 0xc000_0000;

/// The pages: 0 the child writes after fork, 1 nobody touches, 2 written
/// before fork (shared copy-on-write after), 3 the parent's buffers.
#[repr(C, align(4096))]
struct Area([u8; 4 * P]);
static mut AREA: Area = Area([0; 4 * P]);

fn area() -> usize {
    (&raw mut AREA) as usize
}

fn put(addr: usize, bytes: &[u8]) {
    // SAFETY: addr..addr+len lies in AREA (callers' offsets); one thread.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
}

fn get(addr: usize, n: usize) -> &'static [u8] {
    // SAFETY: as in put; the slice is only read before the next write.
    unsafe { core::slice::from_raw_parts(addr as *const u8, n) }
}

/// An i386 `struct iovec`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Iovec {
    base: usize,
    len: usize,
}

fn iov(base: usize, len: usize) -> Iovec {
    Iovec { base, len }
}

/// `process_vm_readv` (`write` false) or `process_vm_writev`.
fn pvm(write: bool, pid: isize, local: &[Iovec], remote: &[Iovec]) -> isize {
    pvm_raw(write, pid, local.as_ptr() as usize, local.len(), remote.as_ptr() as usize, remote.len(), 0)
}

fn pvm_raw(write: bool, pid: isize, l: usize, ln: usize, r: usize, rn: usize, flags: usize) -> isize {
    let nr = if write { PROCESS_VM_WRITEV } else { PROCESS_VM_READV };
    // SAFETY: the kernel reads the iovec arrays and copies only within
    // the ranges they name: ours in AREA (or addresses it must refuse).
    unsafe { syscall6(nr, pid as usize, l, ln, r, rn, flags) }
}

fn read_byte(fd: usize) -> isize {
    let mut b = [0u8; 1];
    // SAFETY: b is ours for the kernel to write.
    unsafe { syscall3(READ, fd, b.as_mut_ptr() as usize, 1) }
}

fn write_byte(fd: usize) -> isize {
    user::syscall::write(fd as i32, b"x")
}

fn pipe() -> (usize, usize) {
    let mut fds = [0i32; 2];
    // SAFETY: fds is ours for the kernel to write.
    let r = unsafe { syscall1(PIPE, fds.as_mut_ptr() as usize) };
    assert!(r == 0, "pipe");
    (fds[0] as usize, fds[1] as usize)
}

/// The child: wait for the parent, then check what it wrote, in our own
/// memory. The exit status has a bit per check that failed.
fn child(ready_w: usize, go_r: usize) -> i32 {
    let a = area();
    put(a + 16, b"the child's page");
    write_byte(ready_w);
    if read_byte(go_r) != 1 {
        return 64;
    }
    let mut status = 0;
    if get(a + P + 100, 16) != b"from the parent!" || get(a + P, 100).iter().any(|&b| b != 0) {
        status |= 1;
    }
    if get(a + 2 * P, 22) != b"shared CHILD fork page" {
        status |= 2;
    }
    if get(a + P + 200, 4) != b"abcd" || get(a + P + 300, 4) != b"efgh" {
        status |= 4;
    }
    status
}

fn main(_args: Args) -> i32 {
    let a = area();
    // qemu-i386 (Debian's 7.2) does not emulate these calls: -ENOSYS for
    // every argument. Say so once instead of failing every check.
    let probe = pvm(false, user::syscall::getpid(), &[iov(a + 3 * P, 1)], &[iov(a, 1)]);
    if probe == -ENOSYS {
        user::println!("vmtest: process_vm_readv: ENOSYS, nothing to check");
        return 1;
    }
    let mut t = Checks::new("vmtest");
    let text = main as fn(Args) -> i32 as *const () as usize;
    let buf = a + 3 * P;
    put(a + 16, b"the parent's pg!");
    put(a + 2 * P, b"shared since fork page");
    // Two pages mapped, the second unmapped again: a hole the child has too.
    // SAFETY: an anonymous private mapping and a munmap of part of it.
    let map = unsafe { syscall6(MMAP2, 0, 2 * P, 3, 0x22, usize::MAX, 0) } as usize;
    // SAFETY: as above.
    unsafe { syscall2(MUNMAP, map + P, P) };
    let hole = map + P;
    put_map(map);

    let (ready_r, ready_w) = pipe();
    let (go_r, go_w) = pipe();
    // SAFETY: fork copies the process; both copies return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        user::syscall::exit(child(ready_w, go_r));
    }
    t.check("fork", pid > 0, format_args!("fork gave {pid}"));
    read_byte(ready_r);

    // The child's own copy of page 0, not ours.
    let r = pvm(false, pid, &[iov(buf, 16)], &[iov(a + 16, 16)]);
    if r == -EPERM {
        user::println!("process_vm_readv of our child: EPERM (the host's ptrace policy refuses: see the doc comment)");
    }
    t.check("readv_reads_the_childs_copy", r == 16 && get(buf, 16) == b"the child's page",
        format_args!("returned {r}, read {:?}", core::str::from_utf8(get(buf, 16))));
    t.check("our_page_is_untouched", get(a + 16, 16) == b"the parent's pg!", format_args!("ours changed"));

    // The untouched page: zeros, then a write.
    put(buf, &[0xff; 16]);
    let r = pvm(false, pid, &[iov(buf, 16)], &[iov(a + P + 100, 16)]);
    t.check("readv_of_an_untouched_page_reads_zeros", r == 16 && get(buf, 16) == [0; 16], format_args!("returned {r}"));
    put(buf, b"from the parent!");
    t.check_eq("writev_into_an_untouched_page", pvm(true, pid, &[iov(buf, 16)], &[iov(a + P + 100, 16)]), 16);
    put(buf, &[0; 16]);
    let r = pvm(false, pid, &[iov(buf + 32, 16)], &[iov(a + P + 100, 16)]);
    t.check("readv_reads_it_back", r == 16 && get(buf + 32, 16) == b"from the parent!", format_args!("returned {r}"));
    t.check("our_untouched_page_still_reads_zeros", get(a + P + 100, 16) == [0; 16], format_args!("ours changed"));

    // The page shared since fork: the write goes to the child's copy.
    put(buf, b"CHILD");
    t.check_eq("writev_into_a_cow_page", pvm(true, pid, &[iov(buf, 5)], &[iov(a + 2 * P + 7, 5)]), 5);
    t.check("our_cow_page_is_unchanged", get(a + 2 * P, 22) == b"shared since fork page", format_args!("ours changed"));

    // Scatter and gather: 3 + 5 local bytes into 4 + 4 remote ones.
    put(buf, b"abc");
    put(buf + 100, b"defgh");
    let r = pvm(true, pid, &[iov(buf, 3), iov(buf + 50, 0), iov(buf + 100, 5)], &[iov(a + P + 200, 4), iov(a + P + 300, 4)]);
    t.check_eq("writev_scatters_across_iovecs", r, 8);
    let r = pvm(false, pid, &[iov(buf + 200, 6), iov(buf + 300, 2)], &[iov(a + P + 200, 4), iov(a + P + 300, 4)]);
    t.check("readv_gathers_them", r == 8 && get(buf + 200, 6) == b"abcdef" && get(buf + 300, 2) == b"gh",
        format_args!("returned {r}"));

    // The hole.
    t.check_eq("writev_up_to_a_hole_short_count", pvm(true, pid, &[iov(buf, 16)], &[iov(hole - 4, 16)]), 4);
    let r = pvm(false, pid, &[iov(buf + 400, 16)], &[iov(hole - 4, 16)]);
    t.check("readv_up_to_a_hole_short_count", r == 4 && get(buf + 400, 4) == get(buf, 4), format_args!("returned {r}"));
    t.check_eq("readv_of_a_hole_efault", pvm(false, pid, &[iov(buf, 8)], &[iov(hole, 8)]), -EFAULT);
    t.check_eq("a_second_remote_iovec_in_the_hole_short_count",
        pvm(false, pid, &[iov(buf, 16)], &[iov(a + P + 100, 8), iov(hole, 8)]), 8);
    t.check_eq("our_own_buffer_running_into_a_hole_short_count",
        pvm(false, pid, &[iov(hole - 6, 12)], &[iov(a + P + 100, 12)]), 6);
    t.check_eq("remote_range_wrapping_past_4g_efault", pvm(false, pid, &[iov(buf, 16)], &[iov(0xffff_f000, 0x2000)]), -EFAULT);
    t.check_eq("writev_into_read_only_text_efault", pvm(true, pid, &[iov(buf, 4)], &[iov(text, 4)]), -EFAULT);
    t.check_eq("readv_of_text", pvm(false, pid, &[iov(buf, 4)], &[iov(text, 4)]), 4);

    // Hostile arguments, in the order Linux checks them.
    let l = [iov(buf, 8)];
    let rv = [iov(a + P + 100, 8)];
    let (lp, rp) = (l.as_ptr() as usize, rv.as_ptr() as usize);
    t.check_eq("flags_1_einval", pvm_raw(false, pid, lp, 1, rp, 1, 1), -EINVAL);
    t.check_eq("liovcnt_1025_einval", pvm_raw(false, pid, lp, 1025, rp, 1, 0), -EINVAL);
    t.check_eq("riovcnt_1025_einval", pvm_raw(false, pid, lp, 1, rp, 1025, 0), -EINVAL);
    t.check_eq("null_local_iovec_array_efault", pvm_raw(false, pid, 0, 1, rp, 1, 0), -EFAULT);
    t.check_eq("kernel_remote_iovec_array_efault", pvm_raw(true, pid, lp, 1, KERNEL, 1, 0), -EFAULT);
    t.check_eq("negative_local_length_einval", pvm(false, pid, &[iov(buf, 0x8000_0000)], &rv), -EINVAL);
    t.check_eq("negative_remote_length_einval", pvm(false, pid, &l, &[iov(a, 0x8000_0000)]), -EINVAL);
    t.check_eq("kernel_local_buffer_efault", pvm(false, pid, &[iov(KERNEL, 8)], &rv), -EFAULT);
    t.check_eq("pid_0_esrch", pvm(false, 0, &l, &rv), -ESRCH);
    t.check_eq("negative_pid_esrch", pvm(false, -2, &l, &rv), -ESRCH);
    t.check_eq("pid_int_max_esrch", pvm(true, i32::MAX as isize, &l, &rv), -ESRCH);
    t.check_eq("no_local_bytes_0_before_the_pid", pvm(false, i32::MAX as isize, &[iov(buf, 0)], &rv), 0);
    t.check_eq("no_remote_bytes_0_before_the_pid", pvm(true, i32::MAX as isize, &l, &[iov(a, 0)]), 0);
    t.check_eq("no_local_iovecs_0_even_with_a_bad_remote_array", pvm_raw(false, pid, lp, 0, KERNEL, 1, 0), 0);
    t.check_eq("readv_of_ourselves", pvm(false, user::syscall::getpid(), &[iov(buf + 500, 16)], &[iov(a + 16, 16)]), 16);

    // Let the child look.
    write_byte(go_w);
    let mut status = -1i32;
    // SAFETY: status is ours for the kernel to write.
    let r = unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    t.check_eq("wait4_returns_the_child", r, pid);
    let code = (status >> 8) & 0xff;
    t.check("child_reads_the_write_in_its_untouched_page", code & 65 == 0, format_args!("child status {status:#x}"));
    t.check("child_reads_the_write_in_its_cow_copy", code & 66 == 0, format_args!("child status {status:#x}"));
    t.check("child_reads_the_scattered_bytes", code & 68 == 0, format_args!("child status {status:#x}"));
    for fd in [ready_r, ready_w, go_r, go_w] {
        // SAFETY: our own descriptors.
        unsafe { syscall1(CLOSE, fd) };
    }
    t.finish()
}

/// Write the first page of the mapping so that it is really there in both
/// processes (the hole above it is what the checks are about).
fn put_map(map: usize) {
    // SAFETY: map..map+P is our mapping.
    unsafe { core::ptr::write_bytes((map + P - 16) as *mut u8, 0x5a, 16) };
}
