//! `execer`: `execve` as a program sees it, the same under Linux and under
//! this kernel. Started plainly, it forks; the child replaces itself with
//! this same program (its own `argv[0]`) and the argument `child`, and
//! exits 42 in that mode; the parent reaps it and checks the status. It
//! also checks that a failed `execve` (no such file, a bad pointer)
//! returns the errno and leaves the caller running.
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
