//! `tls`: `set_thread_area` as a static C library uses it at start-up:
//! ask for a free TLS entry (entry_number -1), point it at a block of ours,
//! load `gs` with it and read the block through `gs`, also after a context
//! switch; bad requests get Linux's errnos. The entry number itself is not
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
use user::syscall::{sched_yield, syscall1};
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
    t.finish()
}
