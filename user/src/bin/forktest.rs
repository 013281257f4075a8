//! `forktest`: `fork`, copy-on-write, `wait4` and `getppid`, as a program
//! sees them, the same under Linux and under this kernel: the child sees
//! its parent's memory, writes to it, and the parent's copy does not
//! change; the parent reaps the child and reads its exit status. Then
//! two children where the younger ends first: `wait4(-1)` reaps the one
//! that ended, not the oldest, and sleeps for whichever ends next; and
//! hostile `wait4` arguments get Linux's errno (an option bit wait4 does
//! not know, pid INT_MIN, a status pointer into the kernel: the child is
//! reaped all the same).
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check (the child's checks
//! through its exit status); exits 0 only if all passed.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use user::check::Checks;
use user::syscall::{getpid, syscall0, syscall4};
use user::{Args, entry};

entry!(main);

const FORK: usize = 2;
const GETPPID: usize = 64;
const WAIT4: usize = 114;
const NANOSLEEP: usize = 162;
const ESRCH: isize = 3;
const ECHILD: isize = 10;
const EFAULT: isize = 14;
const EINVAL: isize = 22;

/// In .data: both processes start with this value; only the child changes
/// its copy.
static SHARED: AtomicU32 = AtomicU32::new(0x1111_1111);
/// 64 KiB in .bss: the child writes every page (16 copy-on-write faults).
static BIG: [AtomicU32; 16384] = [const { AtomicU32::new(0) }; 16384];

fn fork() -> isize {
    // SAFETY: fork copies the process; both copies return here.
    unsafe { syscall0(FORK) }
}

fn wait4(pid: isize, status: &mut i32) -> isize {
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    unsafe { syscall4(WAIT4, pid as usize, status as *mut i32 as usize, 0, 0) }
}

/// Sleep `ms` milliseconds.
fn sleep_ms(ms: i32) {
    let ts = [ms / 1000, (ms % 1000) * 1_000_000];
    // SAFETY: ts is a valid timespec; rem (NULL) is not written.
    unsafe { syscall4(NANOSLEEP, ts.as_ptr() as usize, 0, 0, 0) };
}

/// Fork a child that sleeps `ms` and exits with `code`; its pid.
fn child_exiting_after(ms: i32, code: i32) -> isize {
    let pid = fork();
    if pid == 0 {
        sleep_ms(ms);
        user::syscall::exit(code);
    }
    pid
}

/// The child: its own checks, reported as the exit status (0 = all held).
fn child(parent: isize) -> i32 {
    // SAFETY: getppid takes no arguments and touches no memory.
    if unsafe { syscall0(GETPPID) } != parent {
        return 10;
    }
    if SHARED.load(SeqCst) != 0x1111_1111 {
        return 11; // the parent's memory, as it was at fork
    }
    SHARED.store(0x2222_2222, SeqCst);
    for (i, w) in BIG.iter().enumerate().step_by(1024) {
        w.store(i as u32 + 1, SeqCst);
    }
    if SHARED.load(SeqCst) != 0x2222_2222 || BIG[1024].load(SeqCst) != 1025 {
        return 12;
    }
    7
}

fn main(_args: Args) -> i32 {
    let mut t = Checks::new("forktest");
    let me = getpid();
    BIG[0].store(0xabcd, SeqCst);
    let pid = fork();
    if pid == 0 {
        user::syscall::exit(child(me));
    }
    t.check("fork_returns_the_childs_pid", pid > 0 && pid != me, format_args!("fork gave {pid}"));
    let mut status = -1i32;
    let r = wait4(pid, &mut status);
    t.check_eq("wait4_returns_the_child", r, pid);
    t.check("child_exit_status_7", status == 7 << 8,
        format_args!("status {status:#x} (exit code {}: 10 getppid, 11 memory at fork, 12 its writes)", (status >> 8) & 0xff));
    t.check_eq("parents_copy_unchanged", SHARED.load(SeqCst), 0x1111_1111);
    t.check_eq("parents_bss_unchanged", BIG[1024].load(SeqCst), 0);
    t.check_eq("parents_own_write_kept", BIG[0].load(SeqCst), 0xabcd);
    t.check_eq("no_more_children_echild", wait4(-1, &mut status), -ECHILD);

    // The older child ends after 300 ms, the younger after 20 ms: wait4(-1)
    // sleeps and returns the younger, then the older.
    let older = child_exiting_after(300, 21);
    let younger = child_exiting_after(20, 22);
    let first = wait4(-1, &mut status);
    t.check("wait4_minus_1_reaps_the_child_that_ended_first", first == younger && status == 22 << 8,
        format_args!("got pid {first} status {status:#x}; the younger is {younger} (exit 22), the older {older} (exit 21)"));
    let second = wait4(-1, &mut status);
    t.check("then_the_other_one", second == older && status == 21 << 8,
        format_args!("got pid {second} status {status:#x}, want {older} with exit 21"));

    // Hostile arguments (Linux kernel_wait4).
    let c = child_exiting_after(0, 23);
    // SAFETY: the kernel refuses these before touching memory.
    let r = unsafe { syscall4(WAIT4, usize::MAX, &mut status as *mut i32 as usize, 4, 0) };
    t.check_eq("wait4_wexited_option_einval", r, -EINVAL);
    // SAFETY: as above.
    let r = unsafe { syscall4(WAIT4, i32::MIN as usize, &mut status as *mut i32 as usize, 0, 0) };
    t.check_eq("wait4_int_min_esrch", r, -ESRCH);
    // SAFETY: the kernel writes nothing through an address it cannot use.
    let r = unsafe { syscall4(WAIT4, c as usize, 0xc000_0000, 0, 0) };
    t.check_eq("wait4_kernel_status_pointer_efault", r, -EFAULT);
    t.check_eq("the_child_was_reaped_all_the_same", wait4(c, &mut status), -ECHILD);
    t.finish()
}
