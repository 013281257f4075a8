//! `nxtest`: no-execute (NX) as a program sees it, the same under Linux
//! and under this kernel's 686-pae flavour on a CPU with NX: jumping into
//! a page of memory mapped without `PROT_EXEC` (the stack, the data
//! segment, the heap, an anonymous mmap, touched or not) kills the process
//! with SIGSEGV, `si_code` `SEGV_ACCERR` and `si_addr` the address jumped
//! to; code copied into a `PROT_EXEC` mapping runs; `mprotect(PROT_EXEC)`
//! makes a page runnable and `mprotect` without it takes that back.
//!
//! Our executables carry `PT_GNU_STACK` without `PF_X`, so Linux gives
//! them a non-executable stack and no `READ_IMPLIES_EXEC`.
//!
//! Each jump that must fault is made by a fork child with a SIGSEGV
//! handler (`SA_SIGINFO`) that exits with `100 + si_code` if `si_addr` is
//! the address it jumped to (90 if not), without returning, so no
//! `sa_restorer` is needed. A child whose jump returned exits with 99.
//!
//! This needs NX: a 686 kernel, or a PAE kernel on a CPU without NX, runs
//! every page's code, so it is run by the kernel's `nx::` tests only where
//! NX is on (and natively under Linux, and under qemu-i386, by
//! `./run-qemu.sh user-test`).
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicUsize, Ordering};

use user::check::Checks;
use user::syscall::{nr, syscall0, syscall1, syscall3, syscall4, syscall6};
use user::{Args, entry};

entry!(main);

const PAGE: usize = 4096;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const PROT_EXEC: usize = 4;
const MAP_PRIVATE: usize = 0x02;
const MAP_ANONYMOUS: usize = 0x20;
const FORK: usize = 2;
const CLOSE: usize = 6;
const WAIT4: usize = 114;
const BRK: usize = 45;
const MPROTECT: usize = 125;
const RT_SIGACTION: usize = 174;
const SIGSEGV: usize = 11;
const SA_SIGINFO: usize = 4;
/// `SEGV_ACCERR`: the page is there, the access is not allowed.
const SEGV_ACCERR: i32 = 2;
/// What a child exits with when the code it jumped to ran.
const SURVIVED: i32 = 99;
/// What the handler exits with when `si_addr` is not the jump target.
const WRONG_ADDR: i32 = 90;

/// `mov eax, 42; ret`: a function returning 42.
const CODE: [u8; 6] = [0xb8, 42, 0, 0, 0, 0xc3];

/// In the data segment (PT_LOAD RW: not executable).
static mut DATA_CODE: [u8; 16] = [0xb8, 42, 0, 0, 0, 0xc3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// Where the child jumps: what its handler compares `si_addr` with.
static TARGET: AtomicUsize = AtomicUsize::new(0);

/// The SIGSEGV handler of a child: exit with `100 + si_code` if `si_addr`
/// (i386 `siginfo_t`: signo, errno, code, addr) is the jump target.
extern "C" fn on_sigsegv(_sig: i32, info: *const u32, _ctx: *mut u8) {
    // SAFETY: the kernel passes a valid siginfo_t (SA_SIGINFO).
    let (code, addr) = unsafe { (info.add(2).read() as i32, info.add(3).read() as usize) };
    let status = if addr == TARGET.load(Ordering::Relaxed) { 100 + code } else { WRONG_ADDR };
    user::syscall::exit(status);
}

/// Install [`on_sigsegv`] (the kernel's `struct sigaction` for
/// `rt_sigaction`: handler, flags, restorer, mask).
fn catch_sigsegv() -> isize {
    let act: [usize; 5] = [on_sigsegv as *const () as usize, SA_SIGINFO, 0, 0, 0];
    // SAFETY: act is a valid sigaction of ours; no old action asked.
    unsafe { syscall4(RT_SIGACTION, SIGSEGV, act.as_ptr() as usize, 0, 8) }
}

/// Call the code at `addr` (`CODE` or a copy): 42 if it ran.
fn call(addr: usize) -> u32 {
    TARGET.store(addr, Ordering::Relaxed);
    // SAFETY: addr holds CODE, a complete function with the C ABI; if its
    // page may not be executed, the fetch faults, which is what we test.
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute(core::hint::black_box(addr)) };
    f()
}

fn put_code(addr: usize) {
    for (i, b) in CODE.iter().enumerate() {
        // SAFETY: the callers give a writable mapping of at least CODE's size.
        unsafe { ((addr + i) as *mut u8).write_volatile(*b) };
    }
}

fn mmap(pages: usize, prot: usize) -> usize {
    // SAFETY: a fresh anonymous private mapping wherever the kernel likes.
    unsafe { syscall6(nr::MMAP2, 0, pages * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS, usize::MAX, 0) as usize }
}

fn mprotect(addr: usize, len: usize, prot: usize) -> isize {
    // SAFETY: the callers change only ranges they mapped.
    unsafe { syscall3(MPROTECT, addr, len, prot) }
}

fn wait_for(pid: isize) -> i32 {
    let mut status = -1i32;
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    let r = unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    if r == pid { status } else { -1 }
}

/// Run `f` (which jumps somewhere) in a fork child with the SIGSEGV
/// handler and stderr closed; the child's exit code, or -1.
fn jump_in_child(f: impl FnOnce() -> u32) -> i32 {
    // SAFETY: fork copies the process; both copies return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        // SAFETY: close(2) in the child: nothing of ours writes to stderr.
        unsafe { syscall1(CLOSE, 2) };
        if catch_sigsegv() != 0 {
            user::syscall::exit(1);
        }
        let r = f();
        user::syscall::exit(if r == 42 { SURVIVED } else { 2 });
    }
    let s = if pid < 0 { -1 } else { wait_for(pid) };
    if s != -1 && s & 0x7f == 0 { (s >> 8) & 0xff } else { -1 }
}

/// The check that a jump made by `f` is refused: SIGSEGV, SEGV_ACCERR at
/// the target.
fn refused(t: &mut Checks, name: &str, f: impl FnOnce() -> u32) {
    let code = jump_in_child(f);
    t.check(name, code == 100 + SEGV_ACCERR, format_args!(
        "child exit {code} (want {}: SIGSEGV with SEGV_ACCERR at the target; {SURVIVED}: the code ran; {WRONG_ADDR}: another si_addr)",
        100 + SEGV_ACCERR));
}

fn main(_args: Args) -> i32 {
    let mut t = Checks::new("nxtest");

    refused(&mut t, "a_jump_into_the_stack_is_sigsegv_accerr", || {
        let mut buf = [0u8; 16];
        let addr = core::hint::black_box(buf.as_mut_ptr()) as usize;
        put_code(addr);
        let r = call(addr);
        core::hint::black_box(&buf);
        r
    });
    refused(&mut t, "a_jump_into_the_data_segment_is_sigsegv_accerr", || call(core::ptr::addr_of!(DATA_CODE) as usize));
    refused(&mut t, "a_jump_into_the_heap_is_sigsegv_accerr", || {
        // SAFETY: brk(0) asks for the break; brk(end) grows the heap by a
        // page of ours.
        let start = unsafe { syscall1(BRK, 0) } as usize;
        // SAFETY: as above.
        let end = unsafe { syscall1(BRK, start + PAGE) } as usize;
        if end < start + PAGE {
            return 3;
        }
        put_code(start);
        call(start)
    });

    let rw = mmap(1, PROT_READ | PROT_WRITE);
    t.check("mmap_read_write", rw.is_multiple_of(PAGE) && !(-4095..0).contains(&(rw as isize)), format_args!("mmap gave {rw:#x}"));
    put_code(rw);
    refused(&mut t, "a_jump_into_mmap_without_prot_exec_is_sigsegv_accerr", || call(rw));
    let untouched = mmap(1, PROT_READ | PROT_WRITE);
    refused(&mut t, "a_jump_into_an_untouched_mmap_without_prot_exec_is_sigsegv_accerr", || call(untouched));

    let rwx = mmap(1, PROT_READ | PROT_WRITE | PROT_EXEC);
    put_code(rwx);
    t.check_eq("code_in_a_prot_exec_mapping_runs", call(rwx), 42);

    t.check_eq("mprotect_prot_exec_returns_0", mprotect(rw, PAGE, PROT_READ | PROT_EXEC), 0);
    t.check_eq("after_mprotect_prot_exec_the_code_runs", call(rw), 42);
    t.check_eq("mprotect_without_prot_exec_returns_0", mprotect(rw, PAGE, PROT_READ), 0);
    refused(&mut t, "after_mprotect_without_prot_exec_a_jump_is_sigsegv_accerr", || call(rw));
    t.finish()
}
