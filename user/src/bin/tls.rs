//! `tls`: `set_thread_area` as a static C library uses it at start-up:
//! ask for a free TLS entry (entry_number -1), point it at a block of ours,
//! load `gs` with it and read the block through `gs`, also after a context
//! switch; bad requests get Linux's errnos, and the descriptors Linux's
//! `tls_desc_okay` refuses are refused (16-bit, code, not present); one
//! based at a kernel address is accepted but reads through it fault. The entry number itself is not
//! checked: i386 Linux gives 6, a 64-bit Linux running i386 programs 12.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use user::check::Checks;
use user::syscall::errno::{EFAULT, EINVAL};
use user::syscall::{sched_yield, syscall0, syscall1, syscall4};
use user::{Args, entry};

entry!(main);

const SET_THREAD_AREA: usize = 243;

/// The TLS block `gs` will point at.
static BLOCK: [AtomicU32; 4] = [const { AtomicU32::new(0x7e57_0000) }; 4];

/// Linux's `struct user_desc`.
#[repr(C)]
struct UserDesc {
    entry_number: u32,
    base_addr: u32,
    limit: u32,
    flags: u32,
}

/// seg_32bit | limit_in_pages | useable, contents 0 (data), writable.
const FLAGS: u32 = 1 | 1 << 4 | 1 << 6;

fn set_thread_area(d: &mut UserDesc) -> isize {
    // SAFETY: the kernel reads and may write back *d, a valid struct of ours.
    unsafe { syscall1(SET_THREAD_AREA, d as *mut UserDesc as usize) }
}

/// The word at `gs:[offset]`.
fn gs_read(offset: u32) -> u32 {
    let v: u32;
    // SAFETY: gs was loaded with our TLS selector, whose segment covers
    // BLOCK; offset is inside it.
    unsafe { asm!("mov {v}, gs:[{o}]", v = out(reg) v, o = in(reg) offset, options(nostack, readonly)) };
    v
}

fn main(_args: Args) -> i32 {
    let mut t = Checks::new("tls");
    BLOCK[1].store(0x1234_5678, SeqCst);
    let mut d = UserDesc { entry_number: u32::MAX, base_addr: BLOCK.as_ptr() as u32, limit: 0xfffff, flags: FLAGS };
    t.check_eq("set_thread_area_free_entry", set_thread_area(&mut d), 0);
    t.check("an_entry_number_came_back", d.entry_number != u32::MAX && d.entry_number < 32,
        format_args!("entry_number {}", d.entry_number as i32));
    let selector = d.entry_number * 8 + 3;
    // SAFETY: loading gs with the selector of the entry just set for us.
    unsafe { asm!("mov gs, {s:x}", s = in(reg) selector, options(nostack)) };
    t.check_eq("gs_reads_the_block", gs_read(4), 0x1234_5678);
    sched_yield();
    t.check_eq("after_a_context_switch", gs_read(4), 0x1234_5678);
    BLOCK[2].store(0xcafe_f00d, SeqCst);
    t.check_eq("gs_sees_our_writes", gs_read(8), 0xcafe_f00d);
    let mut bad = UserDesc { entry_number: 3, base_addr: 0, limit: 0, flags: FLAGS };
    t.check_eq("entry_3_einval", set_thread_area(&mut bad), -EINVAL);
    // SAFETY: a kernel address: the kernel must refuse to read it.
    let r = unsafe { syscall1(SET_THREAD_AREA, 0xc000_0000) };
    t.check_eq("bad_pointer_efault", r, -EFAULT);

    // What Linux's tls_desc_okay refuses, whatever the entry: a 16-bit
    // segment, a code segment (contents 2), contents 3, a not-present one.
    let entry = d.entry_number;
    let base = BLOCK.as_ptr() as u32;
    for (name, flags) in [
        ("a_16_bit_segment_einval", FLAGS & !1),
        ("a_code_segment_einval", FLAGS | 2 << 1),
        ("contents_3_einval", FLAGS | 3 << 1),
        ("a_not_present_segment_einval", FLAGS | 1 << 5),
    ] {
        let mut r = UserDesc { entry_number: entry, base_addr: base, limit: 0xfffff, flags };
        t.check_eq(name, set_thread_area(&mut r), -EINVAL);
    }
    t.check_eq("a_refused_request_left_the_entry_alone", gs_read(4), 0x1234_5678);

    // A data segment over the kernel's addresses is accepted (it is DPL 3
    // whatever its base) but gives no way in: a read through it is a user
    // read of 0xc0000000, which faults (SIGSEGV, SEGV_MAPERR).
    let mut over = UserDesc { entry_number: entry, base_addr: 0xc000_0000, limit: 0xfffff, flags: FLAGS };
    t.check_eq("a_segment_based_at_0xc0000000_is_accepted", set_thread_area(&mut over), 0);
    let status = in_child(|| {
        // SAFETY: reloading gs with our entry, now based at 0xc0000000.
        unsafe { asm!("mov gs, {s:x}", s = in(reg) selector, options(nostack)) };
        gs_read(0);
        0
    });
    t.check("a_read_through_it_is_sigsegv", status & 0x7f == SIGSEGV, format_args!("wait status {status:#x} (0: the read went through)"));

    // An all-zero request clears the entry (Linux LDT_zero): loading gs
    // with its selector then faults.
    let mut zero = UserDesc { entry_number: entry, base_addr: 0, limit: 0, flags: 0 };
    t.check_eq("an_all_zero_request_clears_the_entry", set_thread_area(&mut zero), 0);
    // gs still named the entry: the kernel loads the null selector
    // instead (Linux reloads gs in set_thread_area, its fixup giving 0;
    // this kernel's exit path does the same), and the program goes on.
    let gs: u32;
    // SAFETY: reading a segment register.
    unsafe { asm!("mov {g:e}, gs", g = out(reg) gs, options(nostack, nomem)) };
    t.check_eq("gs_holds_the_null_selector_afterwards", gs & 0xffff, 0);
    let status = in_child(|| {
        // SAFETY: loading gs with a selector whose descriptor is now empty:
        // it faults, which is the check.
        unsafe { asm!("mov gs, {s:x}", s = in(reg) selector, options(nostack)) };
        0
    });
    t.check("loading_the_cleared_entry_is_sigsegv", status & 0x7f == SIGSEGV, format_args!("wait status {status:#x}"));
    t.finish()
}

const SIGSEGV: i32 = 11;

/// Run `f` in a fork child with stderr closed (qemu-i386 reports a guest's
/// fatal signal there); its wait status.
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: fork copies the process; both copies return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        // SAFETY: closing fd 2 affects only this child.
        unsafe { syscall1(CLOSE, 2) };
        user::syscall::exit(f());
    }
    let mut status = -1i32;
    // SAFETY: status is ours for the kernel to write.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    status
}

const FORK: usize = 2;
const CLOSE: usize = 6;
const WAIT4: usize = 114;
