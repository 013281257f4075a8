//! `vforktest`: `vfork` and `clone(CLONE_VM | CLONE_VFORK | SIGCHLD,
//! stack)` (glibc's `posix_spawn`) as a program sees them, the same under
//! Linux and under this kernel:
//!
//! * the parent does not run again until the child exits or execs: the
//!   child sleeps, then writes `c` to a pipe; the parent writes `p` once
//!   vfork returns; the pipe must read `cp` (a parent that ran on at once
//!   would write first);
//! * the child runs in the parent's memory: what it stores, the parent
//!   reads; it runs on the parent's stack (vfork) or on the new stack
//!   (clone, its stack pointer exactly `newsp`);
//! * the exit status comes through `wait4`; vfork + execve wakes the
//!   parent at the exec, not at the exit of the program exec'd (which
//!   sleeps, then writes `x`: `cpx`, the child sleeping before its `c`
//!   too);
//! * `CLONE_VM` alone is two processes sharing memory, the parent not
//!   waiting; `CLONE_VFORK` alone, a copy the parent waits for;
//! * a vfork parent killed by SIGKILL while it sleeps dies at once, the
//!   child running on;
//! * Linux's errnos for flag combinations it refuses.
//!
//! Between vfork and exit/exec the child must touch nothing of the
//! parent's stack frame (it is the parent's), so its whole life is one
//! `asm!` block that follows a [`Plan`] through registers and memory: no
//! Rust code runs in the child.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed. `vforktest late FD`: sleep 100 ms, write `x` to FD, exit 42
//! (the program the vfork child execs).

#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use user::check::Checks;
use user::syscall::errno::EINVAL;
use user::syscall::{syscall1, syscall2, syscall3, syscall4};
use user::{Args, entry};

entry!(main);

// The child's code in `spawn` uses getppid (64), kill (37), nanosleep
// (162), write (4), execve (11) and exit (1) by number.
const FORK: usize = 2;
const READ: usize = 3;
const WRITE: usize = 4;
const CLOSE: usize = 6;
const PIPE: usize = 42;
const WAIT4: usize = 114;
const CLONE: usize = 120;
const NANOSLEEP: usize = 162;
const VFORK: usize = 190;

const SIGKILL: usize = 9;
const SIGCHLD: usize = 17;
const CLONE_VM: usize = 0x0000_0100;
const CLONE_SIGHAND: usize = 0x0000_0800;
const CLONE_VFORK: usize = 0x0000_4000;
const CLONE_THREAD: usize = 0x0001_0000;

/// What the child does, in this order: `kill`, `nanosleep`, store,
/// `write`, `execve`, then `exit(exit_code)`. Each optional step is
/// skipped when its first field is 0. (The numbers are the byte offsets
/// the child's code reads them at.)
#[repr(C)]
struct Plan {
    /// [0] Its stack pointer on entry is written here (always).
    esp_out: AtomicU32,
    /// [4] `nanosleep(sleep, NULL)`.
    sleep: usize,
    /// [8] `kill(getppid(), kill_parent)`, first.
    kill_parent: usize,
    /// [12] `*store_addr = store_val`.
    store_addr: usize,
    /// [16]
    store_val: usize,
    /// [20] `write(write_fd, write_byte, 1)`.
    write_byte: usize,
    /// [24]
    write_fd: usize,
    /// [28] `execve(exec_path, exec_argv, NULL)`.
    exec_path: usize,
    /// [32]
    exec_argv: usize,
    /// [36] then `exit(exit_code)`.
    exit_code: usize,
}

impl Plan {
    const fn new(exit_code: usize) -> Self {
        Plan {
            esp_out: AtomicU32::new(0),
            sleep: 0,
            kill_parent: 0,
            store_addr: 0,
            store_val: 0,
            write_byte: 0,
            write_fd: 0,
            exec_path: 0,
            exec_argv: 0,
            exit_code,
        }
    }
}

/// 100 ms: long enough that a parent which did not wait would have
/// written first.
static SLEEP_100MS: [u32; 2] = [0, 100_000_000];
/// Stores of the child into "our" memory.
static SHARED: AtomicU32 = AtomicU32::new(0);
/// The child's stack for the posix_spawn-style clone.
static mut STACK: [u32; 1024] = [0; 1024];
static BYTE_C: u8 = b'c';

/// System call `nr` (vfork or clone) with `flags` and `newsp`; the child
/// follows `plan` inside this block and never comes out of it. Returns
/// the parent's result.
fn spawn(nr: usize, flags: usize, newsp: usize, plan: &Plan) -> isize {
    let ret: usize;
    // SAFETY: in the parent this is one system call (eax the result, ebx,
    // ecx and edx clobbered below by the child's code path only, but
    // declared). The child, sharing our memory and perhaps our stack,
    // runs only the instructions here: it reads `plan`, makes its system
    // calls and exits, pushing nothing (`nostack`: it never touches our
    // stack frame) and never returning into Rust code. edi (the plan)
    // survives every system call; with no CLONE_CHILD_* flag clone does
    // not read it as child_tid.
    unsafe {
        asm!(
            "int 0x80",
            "test eax, eax",
            "jnz 2f",
            // The child.
            "mov [edi], esp",
            "mov eax, [edi + 8]",
            "test eax, eax",
            "jz 3f",
            "mov eax, 64",
            "int 0x80",
            "mov ebx, eax",
            "mov ecx, [edi + 8]",
            "mov eax, 37",
            "int 0x80",
            "3:",
            "mov ebx, [edi + 4]",
            "test ebx, ebx",
            "jz 4f",
            "xor ecx, ecx",
            "mov eax, 162",
            "int 0x80",
            "4:",
            "mov ebx, [edi + 12]",
            "test ebx, ebx",
            "jz 5f",
            "mov eax, [edi + 16]",
            "mov [ebx], eax",
            "5:",
            "mov ecx, [edi + 20]",
            "test ecx, ecx",
            "jz 6f",
            "mov ebx, [edi + 24]",
            "mov edx, 1",
            "mov eax, 4",
            "int 0x80",
            "6:",
            "mov ebx, [edi + 28]",
            "test ebx, ebx",
            "jz 7f",
            "mov ecx, [edi + 32]",
            "xor edx, edx",
            "mov eax, 11",
            "int 0x80",
            "7:",
            "mov ebx, [edi + 36]",
            "mov eax, 1",
            "int 0x80",
            "ud2",
            "2:",
            inlateout("eax") nr => ret,
            inout("ebx") flags => _,
            inout("ecx") newsp => _,
            inout("edx") 0usize => _,
            in("edi") plan as *const Plan,
            options(nostack)
        )
    };
    ret as isize
}

fn wait(pid: isize) -> i32 {
    let mut status = -1i32;
    // SAFETY: status is a valid i32 of ours for the kernel to write.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    status
}

fn pipe() -> (usize, usize) {
    let mut fds = [0u32; 2];
    // SAFETY: fds is 8 bytes of ours.
    let r = unsafe { syscall1(PIPE, fds.as_mut_ptr() as usize) };
    assert_eq!(r, 0, "pipe");
    (fds[0] as usize, fds[1] as usize)
}

fn write_byte(fd: usize, b: u8) {
    // SAFETY: one byte of ours.
    unsafe { syscall3(WRITE, fd, &b as *const u8 as usize, 1) };
}

/// Close the write end, then read the pipe to its end (at most 8 bytes).
fn drain(r: usize, w: usize) -> ([u8; 8], usize) {
    // SAFETY: closing our own descriptor.
    unsafe { syscall1(CLOSE, w) };
    let mut buf = [0u8; 8];
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: the rest of buf is ours.
        let got = unsafe { syscall3(READ, r, buf[n..].as_mut_ptr() as usize, buf.len() - n) };
        if got <= 0 {
            break;
        }
        n += got as usize;
    }
    // SAFETY: as above.
    unsafe { syscall1(CLOSE, r) };
    (buf, n)
}

fn show(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("?")
}

fn sleep_then(write_fd: usize, store: u32, code: usize) -> Plan {
    let mut p = Plan::new(code);
    p.sleep = SLEEP_100MS.as_ptr() as usize;
    p.write_byte = &BYTE_C as *const u8 as usize;
    p.write_fd = write_fd;
    p.store_addr = SHARED.as_ptr() as usize;
    p.store_val = store as usize;
    p
}

fn late(fd: &[u8]) -> i32 {
    let fd = fd.iter().fold(0usize, |n, d| n * 10 + (d - b'0') as usize);
    // SAFETY: a valid timespec; no remainder asked for.
    unsafe { syscall2(NANOSLEEP, SLEEP_100MS.as_ptr() as usize, 0) };
    write_byte(fd, b'x');
    42
}

fn main(args: Args) -> i32 {
    let mut argv = args.argv();
    let me = argv.next().expect("argv[0]").to_bytes();
    if argv.next().is_some_and(|a| a.to_bytes() == b"late") {
        return late(argv.next().expect("an fd").to_bytes());
    }
    let mut t = Checks::new("vforktest");

    // vfork: the child sleeps, stores, writes `c`, exits 7.
    let (r, w) = pipe();
    SHARED.store(0, SeqCst);
    let plan = sleep_then(w, 0x7f0c_0001, 7);
    let marker = 0u32;
    let pid = spawn(VFORK, 0, 0, &plan);
    write_byte(w, b'p');
    t.check("vfork_returns_the_childs_pid", pid > 0, format_args!("{pid}"));
    let (buf, n) = drain(r, w);
    t.check("the_vfork_parent_sleeps_until_the_child_exits", &buf[..n] == b"cp", format_args!("pipe read {:?}", show(&buf[..n])));
    t.check("the_vfork_childs_store_is_in_the_parents_memory", SHARED.load(SeqCst) == 0x7f0c_0001,
        format_args!("{:#x}", SHARED.load(SeqCst)));
    let esp = plan.esp_out.load(SeqCst) as usize;
    let here = &marker as *const u32 as usize;
    t.check("the_vfork_child_ran_on_the_parents_stack", esp != 0 && esp <= here && here - esp < 4096,
        format_args!("child esp {esp:#x}, a local of the parent at {here:#x}"));
    t.check_eq("wait4_gives_the_vfork_childs_status_7", wait(pid), 7 << 8);

    // vfork + execve: the parent wakes at the exec; the program exec'd
    // sleeps 100 ms, writes `x`, exits 42.
    let (r, w) = pipe();
    let mut path = [0u8; 256];
    path[..me.len()].copy_from_slice(me);
    // The write end's number as the program's argument ("N" or "NN").
    let fd_z = if w < 10 { [b'0' + w as u8, 0, 0] } else { [b'0' + (w / 10) as u8, b'0' + (w % 10) as u8, 0] };
    let exec_argv = [path.as_ptr(), c"late".as_ptr().cast::<u8>(), fd_z.as_ptr(), core::ptr::null()];
    let mut plan = Plan::new(100);
    plan.sleep = SLEEP_100MS.as_ptr() as usize;
    plan.write_byte = &BYTE_C as *const u8 as usize;
    plan.write_fd = w;
    plan.exec_path = path.as_ptr() as usize;
    plan.exec_argv = exec_argv.as_ptr() as usize;
    let pid = spawn(VFORK, 0, 0, &plan);
    write_byte(w, b'p');
    let (buf, n) = drain(r, w);
    t.check("vfork_execve_the_parent_resumes_at_the_exec", &buf[..n] == b"cpx", format_args!("pipe read {:?}", show(&buf[..n])));
    t.check_eq("the_execd_vfork_child_exits_42", wait(pid), 42 << 8);

    // posix_spawn's clone: the child on a stack of its own, in our memory.
    let (r, w) = pipe();
    SHARED.store(0, SeqCst);
    let plan = sleep_then(w, 0x7f0c_0002, 9);
    // Only the address of the array: its top is the new stack.
    let top = core::ptr::addr_of_mut!(STACK) as usize + 4096;
    let pid = spawn(CLONE, CLONE_VM | CLONE_VFORK | SIGCHLD, top, &plan);
    write_byte(w, b'p');
    t.check("clone_vm_vfork_returns_the_childs_pid", pid > 0, format_args!("{pid}"));
    let (buf, n) = drain(r, w);
    t.check("clone_vm_vfork_parent_sleeps_until_the_child_exits", &buf[..n] == b"cp", format_args!("pipe read {:?}", show(&buf[..n])));
    t.check("clone_vm_vfork_childs_store_is_in_the_parents_memory", SHARED.load(SeqCst) == 0x7f0c_0002,
        format_args!("{:#x}", SHARED.load(SeqCst)));
    t.check("clone_vm_vfork_child_ran_on_newsp", plan.esp_out.load(SeqCst) as usize == top,
        format_args!("child esp {:#x}, newsp {top:#x}", plan.esp_out.load(SeqCst)));
    t.check_eq("wait4_gives_the_clone_childs_status_9", wait(pid), 9 << 8);

    // CLONE_VM alone: two processes in one memory; the parent runs on.
    let (r, w) = pipe();
    SHARED.store(0, SeqCst);
    let plan = sleep_then(w, 0x7f0c_0003, 5);
    let pid = spawn(CLONE, CLONE_VM | SIGCHLD, top, &plan);
    write_byte(w, b'p');
    let st = wait(pid);
    let (buf, n) = drain(r, w);
    t.check("clone_vm_alone_the_parent_does_not_wait", &buf[..n] == b"pc", format_args!("pipe read {:?}", show(&buf[..n])));
    t.check("clone_vm_alone_the_childs_store_is_shared", SHARED.load(SeqCst) == 0x7f0c_0003,
        format_args!("{:#x}", SHARED.load(SeqCst)));
    t.check_eq("clone_vm_alone_child_status_5", st, 5 << 8);

    // CLONE_VFORK alone: a copy of our memory, and we wait for it.
    let (r, w) = pipe();
    SHARED.store(0, SeqCst);
    let plan = sleep_then(w, 0x7f0c_0004, 6);
    let pid = spawn(CLONE, CLONE_VFORK | SIGCHLD, 0, &plan);
    write_byte(w, b'p');
    let (buf, n) = drain(r, w);
    t.check("clone_vfork_alone_the_parent_waits", &buf[..n] == b"cp", format_args!("pipe read {:?}", show(&buf[..n])));
    t.check_eq("clone_vfork_alone_the_childs_store_is_its_own", SHARED.load(SeqCst), 0);
    t.check_eq("clone_vfork_alone_child_status_6", wait(pid), 6 << 8);

    // SIGKILL ends a vfork parent's sleep: a middle process vforks a
    // child that kills it, sleeps, writes `c`, exits. We see the middle
    // one dead of SIGKILL before the child's `c`.
    let (r, w) = pipe();
    // SAFETY: fork copies the process; both copies return here.
    let middle = unsafe { user::syscall::syscall0(FORK) };
    if middle == 0 {
        let mut plan = sleep_then(w, 0x7f0c_0005, 0);
        plan.kill_parent = SIGKILL;
        spawn(VFORK, 0, 0, &plan);
        user::syscall::exit(3); // not reached: SIGKILL came first
    }
    let st = wait(middle);
    write_byte(w, b'p');
    t.check_eq("sigkill_ends_the_vfork_parents_sleep", st, SIGKILL as i32);
    let (buf, n) = drain(r, w);
    t.check("the_vfork_child_runs_on_after_its_parent_died", &buf[..n] == b"pc", format_args!("pipe read {:?}", show(&buf[..n])));

    // Flag combinations Linux refuses (copy_process).
    let plan = Plan::new(0);
    t.check_eq("clone_sighand_without_vm_einval", spawn(CLONE, CLONE_SIGHAND | SIGCHLD, 0, &plan), -EINVAL);
    t.check_eq("clone_thread_without_sighand_einval", spawn(CLONE, CLONE_THREAD | CLONE_VM | SIGCHLD, top, &plan), -EINVAL);
    t.finish()
}
