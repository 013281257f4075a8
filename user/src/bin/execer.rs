//! `execer`: `execve` as a program sees it, the same under Linux and under
//! this kernel. Started plainly, it forks; the child replaces itself with
//! this same program (its own `argv[0]`) and the argument `child`, and
//! exits 42 in that mode; the parent reaps it and checks the status. It
//! also checks that a failed `execve` (no such file, a bad pointer)
//! returns the errno and leaves the caller running: also an argument
//! list over a quarter of an 8 MiB `RLIMIT_STACK` and one string over
//! `MAX_ARG_STRLEN` (32 pages), both `E2BIG` (Linux `bprm_stack_limits`,
//! `copy_strings`).
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use user::check::Checks;
use user::syscall::errno::EFAULT;
use user::syscall::{syscall0, syscall3, syscall4};
use user::{Args, entry};

entry!(main);

const FORK: usize = 2;
const EXECVE: usize = 11;
const WAIT4: usize = 114;
const ENOENT: isize = 2;
const E2BIG: isize = 7;
const PRLIMIT64: usize = 340;
const RLIMIT_STACK: usize = 3;
/// Linux `MAX_ARG_STRLEN`: 32 pages, a string's NUL included.
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// A string of up to `MAX_ARG_STRLEN` bytes and its NUL, for the limits'
/// checks (in the bss: 128 KiB is no stack variable).
static mut LONG: [u8; MAX_ARG_STRLEN + 1] = [0; MAX_ARG_STRLEN + 1];

/// `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Rlimit64 {
    cur: u64,
    max: u64,
}

fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> isize {
    // SAFETY: on success the program is replaced; on failure execve only
    // read the (valid or deliberately bad) pointers we pass.
    unsafe { syscall3(EXECVE, path as usize, argv as usize, envp as usize) }
}

fn main(args: Args) -> i32 {
    if args.argv().nth(1).is_some_and(|a| a.to_bytes() == b"child") {
        return 42;
    }
    let mut t = Checks::new("execer");
    let r = execve(c"/no/such/program".as_ptr().cast(), core::ptr::null(), core::ptr::null());
    t.check_eq("execve_missing_file_enoent", r, -ENOENT);
    let r = execve(0xc000_0000 as *const u8, core::ptr::null(), core::ptr::null());
    t.check_eq("execve_kernel_pointer_efault", r, -EFAULT);
    argument_limits(&mut t, args.argv().next().expect("argv[0]").to_bytes());

    let me = args.argv().next().expect("argv[0]").to_bytes();
    let mut path = [0u8; 256];
    path[..me.len()].copy_from_slice(me);
    let child_arg = c"child";
    let argv = [path.as_ptr(), child_arg.as_ptr().cast::<u8>(), core::ptr::null()];
    let envp = [c"FROM=execer".as_ptr().cast::<u8>(), core::ptr::null()];
    // SAFETY: fork copies the process; both copies return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        let r = execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        user::syscall::exit(100 + (-r) as i32); // only if execve failed
    }
    let mut status = -1i32;
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    let r = unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    t.check_eq("wait4_returns_the_child", r, pid);
    t.check("the_execd_child_exited_42", status == 42 << 8,
        format_args!("status {status:#x} (100 + errno if its execve failed)"));
    t.finish()
}

/// The argument-size limits, with `RLIMIT_STACK` set to Linux's default
/// 8 MiB (a quarter of it, 2 MiB, for the strings and their pointers):
/// 17 copies of a 128 KiB string are over, and so is one string of 32
/// pages and a byte; either way execve returns `E2BIG` and this program
/// goes on. The path is this program's own, so an exec that wrongly
/// succeeded would show as a second run's lines.
fn argument_limits(t: &mut Checks, me: &[u8]) {
    let mut path = [0u8; 256];
    path[..me.len()].copy_from_slice(me);
    let mut old = Rlimit64::default();
    // SAFETY: prlimit64 reads `new` and writes `old`, both ours.
    let r = unsafe { syscall4(PRLIMIT64, 0, RLIMIT_STACK, 0, &mut old as *mut Rlimit64 as usize) };
    let new = Rlimit64 { cur: 8 << 20, max: old.max };
    // SAFETY: as above.
    let set = unsafe { syscall4(PRLIMIT64, 0, RLIMIT_STACK, &new as *const Rlimit64 as usize, 0) };
    t.check("prlimit64_stack_8_mib", r == 0 && set == 0, format_args!("get {r}, set {set}"));
    // SAFETY: this single-threaded program's only access to LONG.
    let long = unsafe { &mut *core::ptr::addr_of_mut!(LONG) };
    long[..MAX_ARG_STRLEN - 1].fill(b'x');
    long[MAX_ARG_STRLEN - 1] = 0; // 32 pages with its NUL: the longest allowed
    let mut argv = [core::ptr::null(); 18];
    for a in argv.iter_mut().take(17) {
        *a = long.as_ptr();
    }
    let r = execve(path.as_ptr(), argv.as_ptr(), core::ptr::null());
    t.check_eq("execve_2_mib_and_more_of_arguments_e2big", r, -E2BIG);
    long[MAX_ARG_STRLEN - 1] = b'x'; // one byte more: the NUL at 32 pages + 1
    long[MAX_ARG_STRLEN] = 0;
    let argv = [path.as_ptr(), long.as_ptr(), core::ptr::null()];
    let r = execve(path.as_ptr(), argv.as_ptr(), core::ptr::null());
    t.check_eq("execve_string_over_max_arg_strlen_e2big", r, -E2BIG);
    // SAFETY: as above, putting back the limit this program started with.
    unsafe { syscall4(PRLIMIT64, 0, RLIMIT_STACK, &old as *const Rlimit64 as usize, 0) };
}
