//! `memory`: the memory-map system calls as a program sees them, the same
//! under Linux and under this kernel: `brk` grows and shrinks the heap,
//! `mmap2` gives zeroed anonymous memory (demand-paged: the pages come on
//! first touch), `munmap` gives it back, and the bad arguments get
//! Linux's errnos.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::EINVAL;
use user::syscall::{nr, syscall1, syscall2, syscall6};
use user::{Args, entry};

entry!(main);

const PAGE: usize = 4096;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const MAP_PRIVATE: usize = 0x02;
const MAP_FIXED: usize = 0x10;
const MAP_ANONYMOUS: usize = 0x20;
const BRK: usize = 45;
/// An address in the middle of user space, free in a static program.
const HOLE: usize = 0x4000_0000;

fn brk(addr: usize) -> usize {
    // SAFETY: brk only moves the heap's end; it reads no memory of ours.
    unsafe { syscall1(BRK, addr) as usize }
}

fn mmap(addr: usize, len: usize, flags: usize) -> isize {
    // SAFETY: an anonymous mapping reads no memory of ours; where it may
    // replace something (MAP_FIXED), the callers pass a range they own.
    unsafe { syscall6(nr::MMAP2, addr, len, PROT_READ | PROT_WRITE, flags, usize::MAX, 0) }
}

fn munmap(addr: usize, len: usize) -> isize {
    // SAFETY: the callers unmap only ranges they mapped and no longer use.
    unsafe { syscall2(nr::MUNMAP, addr, len) }
}

/// Fill `pages` pages at `addr` with a pattern and check it reads back.
fn fill_and_check(addr: usize, pages: usize) -> bool {
    let p = addr as *mut u32;
    for i in 0..pages * PAGE / 4 {
        // SAFETY: [addr, addr + pages * PAGE) is mapped read-write for us.
        unsafe { p.add(i).write_volatile(i as u32 ^ 0x5a5a_5a5a) };
    }
    // SAFETY: as above.
    (0..pages * PAGE / 4).all(|i| unsafe { p.add(i).read_volatile() } == i as u32 ^ 0x5a5a_5a5a)
}

/// Every byte of `pages` pages at `addr` is zero.
fn all_zero(addr: usize, pages: usize) -> bool {
    // SAFETY: [addr, addr + pages * PAGE) is mapped readable for us.
    (0..pages * PAGE).all(|i| unsafe { (addr as *const u8).add(i).read_volatile() } == 0)
}

fn main(_args: Args) -> i32 {
    let mut t = Checks::new("memory");

    let b0 = brk(0);
    t.check("brk_0_is_the_current_break", b0 > 0 && b0 < 0xc000_0000, format_args!("brk(0) = {b0:#x}"));
    let b1 = brk(b0 + 3 * PAGE);
    t.check_eq("brk_grows", b1, b0 + 3 * PAGE);
    let start = (b0 + PAGE - 1) & !(PAGE - 1);
    t.check("brk_memory_zero_then_writable", all_zero(start, 2) && fill_and_check(start, 2), format_args!("the heap's pages"));
    t.check_eq("brk_shrinks", brk(b0), b0);
    // Below the heap's start: refused, and brk returns the break unchanged.
    t.check_eq("brk_below_the_start_is_refused", brk(1), b0);

    let a = mmap(0, 5 * PAGE, MAP_PRIVATE | MAP_ANONYMOUS);
    // Errors are -4095..=-1; an address above 2 GiB looks negative as an
    // isize, and on a 64-bit Linux a 32-bit program's memory reaches 4 GiB.
    let ok = (a as usize) < usize::MAX - 4095 && (a as usize).is_multiple_of(PAGE);
    t.check("mmap_anonymous", ok, format_args!("mmap2 gave {a:#x}"));
    if ok {
        let a = a as usize;
        t.check("mmap_reads_zero", all_zero(a, 5), format_args!("fresh memory is not zero"));
        t.check("mmap_writable", fill_and_check(a, 5), format_args!("the pattern did not read back"));
        t.check_eq("munmap_middle_page", munmap(a + PAGE, PAGE), 0);
        t.check("the_rest_stays", fill_and_check(a, 1) && fill_and_check(a + 2 * PAGE, 3), format_args!("pages around the hole"));
        t.check_eq("munmap_all", munmap(a, 5 * PAGE), 0);
    }
    let f = mmap(HOLE, 2 * PAGE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    t.check_eq("mmap_fixed_where_asked", f, HOLE as isize);
    // (MAP_FIXED_NOREPLACE over it would give -EEXIST on Linux, but
    // qemu-i386 7.2 ignores the flag, and both oracles must agree: that
    // case is checked in the host tests of mm/src/vma.rs instead.)
    t.check_eq("munmap_fixed", munmap(HOLE, 2 * PAGE), 0);

    t.check_eq("mmap_zero_length_einval", mmap(0, 0, MAP_PRIVATE | MAP_ANONYMOUS), -EINVAL);
    t.check_eq("mmap_neither_shared_nor_private_einval", mmap(0, PAGE, MAP_ANONYMOUS), -EINVAL);
    t.check_eq("munmap_misaligned_einval", munmap(HOLE + 1, PAGE), -EINVAL);
    t.check_eq("munmap_zero_length_einval", munmap(HOLE, 0), -EINVAL);
    t.finish()
}
