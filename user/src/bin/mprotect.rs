//! `mprotect`: changing the protection of anonymous memory, as a program
//! sees it, the same under Linux and under this kernel: a write to a page
//! made read-only, and any touch of a `PROT_NONE` page, kill the process
//! with SIGSEGV; a page made `PROT_NONE` and then readable and writable
//! again still holds its bytes; `mprotect` of the middle of a mapping
//! changes only that part; a fork child's `mprotect(PROT_READ|PROT_WRITE)`
//! of a page still shared with its parent does not let its writes reach
//! the parent; and bad arguments get Linux's errnos.
//!
//! Each access that must fault is made by a fork child, which the parent
//! reaps: killed by signal 11 (SIGSEGV) is the pass; a child that
//! survives the access exits with 99.
//!
//! Each such child first closes its stderr: qemu-i386 reports a guest's
//! fatal signal there ("qemu: uncaught target signal 11"), Linux and this
//! kernel say nothing to the process.
//!
//! (Cases where qemu-i386 7.2 differs from Linux, so that the two oracles
//! cannot agree, are checked in the kernel's own tests, tests/mprotect.rs:
//! `len == 0`, which Linux accepts whatever `prot` is and qemu-i386
//! refuses with `-ENOMEM`; and a range with a hole or nothing mapped,
//! `-ENOMEM` on Linux, which qemu-i386 accepts.)
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::EINVAL;
use user::syscall::{nr, syscall0, syscall1, syscall2, syscall3, syscall4, syscall6};
use user::{Args, entry};

entry!(main);

const PAGE: usize = 4096;
const PROT_NONE: usize = 0;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const PROT_GROWSDOWN: usize = 0x0100_0000;
const PROT_GROWSUP: usize = 0x0200_0000;
const MAP_PRIVATE: usize = 0x02;
const MAP_FIXED: usize = 0x10;
const MAP_ANONYMOUS: usize = 0x20;
const FORK: usize = 2;
const CLOSE: usize = 6;
const WAIT4: usize = 114;
const MPROTECT: usize = 125;
/// A free address in the middle of user space (the `memory` program's).
const HOLE: usize = 0x4000_0000;
/// What a child exits with when the access it was to die of succeeded.
const SURVIVED: i32 = 99;

fn mmap_fixed(addr: usize, pages: usize) -> isize {
    // SAFETY: MAP_FIXED at HOLE..: a range nothing of ours uses.
    unsafe { syscall6(nr::MMAP2, addr, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, usize::MAX, 0) }
}

fn munmap(addr: usize, len: usize) -> isize {
    // SAFETY: the callers unmap only ranges they mapped and no longer use.
    unsafe { syscall2(nr::MUNMAP, addr, len) }
}

fn mprotect(addr: usize, len: usize, prot: usize) -> isize {
    // SAFETY: the callers change only ranges they mapped, and touch them
    // afterwards only as the new protection allows (or in a child that is
    // meant to die of it).
    unsafe { syscall3(MPROTECT, addr, len, prot) }
}

fn fork() -> isize {
    // SAFETY: fork copies the process; both copies return here.
    unsafe { syscall0(FORK) }
}

fn wait_for(pid: isize) -> i32 {
    let mut status = -1i32;
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    let r = unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    if r == pid { status } else { -1 }
}

/// Run `f` in a fork child; its wait status (`f`'s return value is the
/// exit code).
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    let pid = fork();
    if pid == 0 {
        user::syscall::exit(f());
    }
    if pid < 0 { -1 } else { wait_for(pid) }
}

/// Run `f`, which must die of SIGSEGV, in a fork child with its stderr
/// closed; its wait status.
fn dies(f: impl FnOnce()) -> i32 {
    in_child(|| {
        // SAFETY: close(2) in the child: nothing of ours writes to stderr.
        unsafe { syscall1(CLOSE, 2) };
        f();
        SURVIVED
    })
}

/// The child was killed by SIGSEGV (WTERMSIG; the core-dump bit, 0x80,
/// is the host's business).
fn killed_by_sigsegv(status: i32) -> bool {
    status != -1 && status & 0x7f == 11
}

fn write(addr: usize, v: u32) {
    // SAFETY: addr is in a mapping of ours; if its protection forbids the
    // write, the process dies of SIGSEGV, which is what the caller tests.
    unsafe { (addr as *mut u32).write_volatile(v) }
}

fn read(addr: usize) -> u32 {
    // SAFETY: as for write.
    unsafe { (addr as *const u32).read_volatile() }
}

/// The word fill pattern `seed` puts at `addr`: different for every
/// address and every seed.
fn pattern(seed: u32, addr: usize) -> u32 {
    (addr as u32).wrapping_mul(0x9e37_79b9) ^ seed
}

/// Write pattern `seed` over `pages` pages at `addr`.
fn fill(addr: usize, pages: usize, seed: u32) {
    for w in (addr..addr + pages * PAGE).step_by(4) {
        write(w, pattern(seed, w));
    }
}

/// Do the `pages` pages at `addr` hold pattern `seed`?
fn holds(addr: usize, pages: usize, seed: u32) -> bool {
    (addr..addr + pages * PAGE).step_by(4).all(|w| read(w) == pattern(seed, w))
}

fn main(_args: Args) -> i32 {
    let mut t = Checks::new("mprotect");
    let a = HOLE;
    t.check_eq("mmap_five_pages", mmap_fixed(a, 5), a as isize);
    fill(a, 5, 1);

    // Read-only: reads still work, a write is SIGSEGV.
    t.check_eq("prot_read_returns_0", mprotect(a, PAGE, PROT_READ), 0);
    t.check("read_only_page_still_reads", holds(a, 1, 1), format_args!("the bytes changed"));
    let s = dies(|| write(a + 8, 0xdead));
    t.check("write_to_read_only_is_sigsegv", killed_by_sigsegv(s), format_args!("child status {s:#x}"));

    // PROT_NONE: a read is SIGSEGV too; back to read-write: the same bytes.
    t.check_eq("prot_none_returns_0", mprotect(a, 3 * PAGE, PROT_NONE), 0);
    let s = dies(|| {
        read(a + PAGE);
    });
    t.check("read_of_prot_none_is_sigsegv", killed_by_sigsegv(s), format_args!("child status {s:#x}"));
    t.check_eq("prot_read_write_again_returns_0", mprotect(a, 3 * PAGE, PROT_READ | PROT_WRITE), 0);
    t.check("prot_none_then_read_write_gives_back_the_bytes", holds(a, 5, 1), format_args!("the data changed"));
    fill(a, 3, 2);
    t.check("and_it_is_writable_again", holds(a, 3, 2) && holds(a + 3 * PAGE, 2, 1), format_args!("the new data"));

    // The middle page of five, read-only: its neighbours stay writable.
    t.check_eq("mprotect_of_the_middle_page", mprotect(a + 2 * PAGE, PAGE, PROT_READ), 0);
    let s = in_child(|| {
        write(a + PAGE, 7);
        write(a + 3 * PAGE, 7);
        0
    });
    t.check_eq("its_neighbours_stay_writable", s, 0);
    let s = dies(|| write(a + 2 * PAGE + 4, 7));
    t.check("the_middle_page_is_read_only", killed_by_sigsegv(s), format_args!("child status {s:#x}"));
    t.check_eq("middle_back_to_read_write", mprotect(a + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE), 0);
    t.check("the_five_pages_hold_their_data", holds(a, 3, 2) && holds(a + 3 * PAGE, 2, 1), format_args!("data"));

    // fork after mprotect: the child inherits the protection and the page.
    t.check_eq("prot_none_before_fork", mprotect(a, PAGE, PROT_NONE), 0);
    let s = in_child(|| {
        if mprotect(a, PAGE, PROT_READ | PROT_WRITE) != 0 || !holds(a, 1, 2) {
            return 10;
        }
        fill(a, 1, 3); // its own copy from here on
        if holds(a, 1, 3) { 7 } else { 11 }
    });
    t.check_eq("fork_child_sees_the_prot_none_page_after_mprotect", s, 7 << 8);
    let s = dies(|| {
        read(a);
    });
    t.check("fork_child_inherits_prot_none", killed_by_sigsegv(s), format_args!("child status {s:#x}"));
    t.check_eq("parent_read_write_again", mprotect(a, PAGE, PROT_READ | PROT_WRITE), 0);
    t.check("parent_keeps_its_bytes", holds(a, 1, 2), format_args!("the child's writes reached the parent"));

    // A page shared since fork, made read-only and read-write again in the
    // child: the child's write must still copy it (copy-on-write), not go
    // to the page the parent sees.
    let s = in_child(|| {
        if mprotect(a + PAGE, PAGE, PROT_READ) != 0 || mprotect(a + PAGE, PAGE, PROT_READ | PROT_WRITE) != 0 {
            return 10;
        }
        fill(a + PAGE, 1, 4);
        0
    });
    t.check_eq("child_mprotect_read_write_of_a_shared_page", s, 0);
    t.check("its_write_stays_copy_on_write", holds(a + PAGE, 1, 2), format_args!("the child's write reached the parent's page"));

    // Errors.
    t.check_eq("unaligned_start_einval", mprotect(a + 1, PAGE, PROT_READ), -EINVAL);
    t.check_eq("unknown_prot_bit_einval", mprotect(a, PAGE, 0x10), -EINVAL);
    t.check_eq("growsdown_and_growsup_einval", mprotect(a, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP), -EINVAL);
    t.check_eq("growsdown_on_a_non_stack_einval", mprotect(a, PAGE, PROT_READ | PROT_GROWSDOWN), -EINVAL);
    t.check_eq("length_rounded_up", mprotect(a + 4 * PAGE, 1, PROT_READ), 0);
    let s = dies(|| write(a + 4 * PAGE + PAGE - 4, 1));
    t.check("the_whole_last_page_is_read_only", killed_by_sigsegv(s), format_args!("child status {s:#x}"));
    t.check_eq("munmap_all", munmap(a, 5 * PAGE), 0);
    t.finish()
}
