//! `syscall_abi`: Linux's i386 system-call ABI as a user program sees it,
//! the same checks as the in-kernel test `user::a_program_runs_in_ring_3_
//! and_uses_the_i386_abi` (tests/user.rs), written in Rust:
//!
//! * unknown numbers (past the table, an empty slot, -1) give `-ENOSYS`;
//! * every register but eax comes back unchanged, for a real call and for
//!   an unknown one (checked in inline assembly: Rust cannot name ebp and
//!   esi as operands, so the block saves and restores them itself);
//! * `write` returns the count, `-EFAULT` for an unmapped or kernel
//!   address, `-EBADF` for a descriptor that is not open (7: the runner
//!   closes it; -1 can never be open), and 0 for a zero count;
//! * `sched_yield` returns 0, and `getpid` a positive pid that stays put.
//!
//! Prints `ok NAME` or `FAILED NAME: why` per check; exits 0 only if all
//! passed.

#![no_std]
#![no_main]

use core::arch::asm;

use user::check::Checks;
use user::syscall::errno::{EBADF, EFAULT, EINVAL, ENOSYS};
use user::syscall::{exit, getpid, nr, sched_yield, syscall0, syscall1, syscall2, syscall3, syscall4, write};
use user::{Args, entry};

entry!(main);

/// The values loaded into ebx, ecx, edx, esi, edi, ebp before `int $0x80`.
const PATTERN: [u32; 6] = [0x1111_1111, 0x2222_2222, 0x3333_3333, 0x4444_4444, 0x5555_5555, 0x6666_6666];
const REG_NAMES: [&str; 6] = ["ebx", "ecx", "edx", "esi", "edi", "ebp"];

/// Make system call `number` with PATTERN in ebx..ebp; return eax and
/// what ebx, ecx, edx, esi, edi and ebp held afterwards.
fn regs_across_syscall(number: u32) -> (i32, [u32; 6]) {
    let mut after = [0u32; 6];
    let ret: u32;
    // SAFETY: with ebx = 0x11111111 etc. the only calls made here (getpid,
    // unknown numbers) read no memory. ebp and esi are pushed first and
    // popped last; edi's pointer to `after` is kept on the stack across
    // the call and reloaded into eax to store the registers; every other
    // register the block writes is declared clobbered.
    unsafe {
        asm!(
            "push ebp",
            "push esi",
            "push edi",                 // &after
            "mov ebx, {p0}",
            "mov ecx, {p1}",
            "mov edx, {p2}",
            "mov esi, {p3}",
            "mov edi, {p4}",
            "mov ebp, {p5}",
            "int 0x80",
            "push eax",                 // the result
            "mov eax, [esp + 4]",       // &after
            "mov [eax], ebx",
            "mov [eax + 4], ecx",
            "mov [eax + 8], edx",
            "mov [eax + 12], esi",
            "mov [eax + 16], edi",
            "mov [eax + 20], ebp",
            "pop eax",
            "pop edi",
            "pop esi",
            "pop ebp",
            p0 = const PATTERN[0],
            p1 = const PATTERN[1],
            p2 = const PATTERN[2],
            p3 = const PATTERN[3],
            p4 = const PATTERN[4],
            p5 = const PATTERN[5],
            inlateout("eax") number => ret,
            inlateout("edi") after.as_mut_ptr() => _,
            out("ebx") _,
            out("ecx") _,
            out("edx") _,
        );
    }
    (ret as i32, after)
}

/// Check that every register but eax survived system call `number`, whose
/// result must be `want` (None: anything non-negative).
fn check_regs(t: &mut Checks, name: &str, number: u32, want: Option<i32>) {
    let (ret, after) = regs_across_syscall(number);
    let ret_ok = match want {
        Some(w) => ret == w,
        None => ret >= 0,
    };
    match (0..6).find(|&i| after[i] != PATTERN[i]) {
        Some(i) => t.check(
            name,
            false,
            format_args!("{} was {:#x} before int $0x80, {:#x} after", REG_NAMES[i], PATTERN[i], after[i]),
        ),
        None => t.check(name, ret_ok, format_args!("registers kept, but eax came back {ret} (want {want:?})")),
    }
}

/// A kernel address: not the process's on i386 Linux (TASK_SIZE is
/// 0xc0000000) nor ours, and not mapped for a 32-bit process on a 64-bit
/// kernel either.
const KERNEL_ADDRESS: usize = 0xc000_0000;
/// A descriptor that is not open (the runner closes it before exec).
const CLOSED_FD: usize = 7;

fn main(_args: Args) -> i32 {
    let mut t = Checks::new("syscall_abi");

    // SAFETY: numbers that are no system call do nothing.
    let r = unsafe { syscall0(0x7fff) };
    t.check_eq("enosys_past_the_table", r, -ENOSYS);
    // SAFETY: as above (17 is `break`, sys_ni_syscall on Linux).
    let r = unsafe { syscall0(nr::BREAK) };
    t.check_eq("enosys_empty_slot", r, -ENOSYS);
    // SAFETY: as above; -1 is the number ptrace and seccomp use for "skip".
    let r = unsafe { syscall0(usize::MAX) };
    t.check_eq("enosys_minus_one", r, -ENOSYS);

    check_regs(&mut t, "registers_kept_across_getpid", nr::GETPID as u32, None);
    check_regs(&mut t, "registers_kept_across_enosys", 0x7fff, Some(-ENOSYS as i32));

    let msg = b"syscall_abi: this whole line is one write(1, buf, len)\n";
    let r = write(1, msg);
    t.check_eq("write_returns_count", r, msg.len() as isize);
    let r = write(1, &msg[..0]);
    t.check_eq("write_zero_bytes_returns_0", r, 0);
    // SAFETY: write only reads from the buffer; the kernel must refuse it.
    let r = unsafe { syscall3(nr::WRITE, 1, KERNEL_ADDRESS, 4) };
    t.check_eq("write_kernel_address_efault", r, -EFAULT);
    // SAFETY: as above; nothing is mapped at address 0.
    let r = unsafe { syscall3(nr::WRITE, 1, 0, 4) };
    t.check_eq("write_null_efault", r, -EFAULT);
    // SAFETY: a bad descriptor: the buffer is never read.
    let r = unsafe { syscall3(nr::WRITE, CLOSED_FD, msg.as_ptr() as usize, 4) };
    t.check_eq("write_closed_fd_ebadf", r, -EBADF);
    // SAFETY: as above.
    let r = unsafe { syscall3(nr::WRITE, usize::MAX, msg.as_ptr() as usize, 4) };
    t.check_eq("write_fd_minus_one_ebadf", r, -EBADF);

    t.check_eq("sched_yield_returns_0", sched_yield(), 0);
    let (a, b) = (getpid(), getpid());
    t.check("getpid_positive_and_stable", a > 0 && a == b, format_args!("getpid gave {a}, then {b}"));
    time_and_process_calls(&mut t);
    t.finish()
}

/// Linux i386 numbers of the clock and small process calls busybox makes.
const NR_FORK: usize = 2;
const NR_WAIT4: usize = 114;
const NR_UMASK: usize = 60;
const NR_GETTIMEOFDAY: usize = 78;
const NR_PRCTL: usize = 172;
const NR_GETTID: usize = 224;
const NR_CLOCK_GETTIME: usize = 265;
const NR_CLOCK_GETTIME64: usize = 403;
const CLOCK_MONOTONIC: usize = 1;
const PR_SET_NAME: usize = 15;
const PR_GET_NAME: usize = 16;

/// `clock_gettime(64)`, `gettimeofday`, `gettid`, `umask`, `prctl` names:
/// only what is the same on every run and every kernel is printed (the
/// times themselves are not).
fn time_and_process_calls(t: &mut Checks) {
    // SAFETY: no arguments.
    let tid = unsafe { syscall0(NR_GETTID) };
    t.check_eq("gettid_is_getpid", tid, getpid());

    let mut ts = [u32::MAX; 4];
    // SAFETY: ts is 16 writable bytes, more than a 32-bit timespec.
    let r = unsafe { syscall2(NR_CLOCK_GETTIME, CLOCK_MONOTONIC, ts.as_mut_ptr() as usize) };
    t.check("clock_gettime_32_bit_timespec", r == 0 && ts[1] < 1_000_000_000 && ts[2] == u32::MAX,
        format_args!("returned {r}, tv_nsec {}, byte 8 on {:#x}", ts[1], ts[2]));
    let mut ts64 = [u64::MAX; 2];
    // SAFETY: ts64 is a writable struct __kernel_timespec.
    let r = unsafe { syscall2(NR_CLOCK_GETTIME64, CLOCK_MONOTONIC, ts64.as_mut_ptr() as usize) };
    t.check("clock_gettime64_64_bit_timespec", r == 0 && ts64[1] < 1_000_000_000 && ts64[0] < 1 << 40,
        format_args!("returned {r}, {:#x} s {:#x} ns", ts64[0], ts64[1]));
    // SAFETY: the clock id is refused before the pointer is used.
    let r = unsafe { syscall2(NR_CLOCK_GETTIME, 99, ts.as_mut_ptr() as usize) };
    t.check_eq("clock_gettime_bad_clock_einval", r, -EINVAL);
    // SAFETY: the kernel must refuse the address.
    let r = unsafe { syscall2(NR_CLOCK_GETTIME, CLOCK_MONOTONIC, KERNEL_ADDRESS) };
    t.check_eq("clock_gettime_kernel_address_efault", r, -EFAULT);
    let mut tv = [u32::MAX; 2];
    // SAFETY: tv is a writable struct timeval; tz NULL.
    let r = unsafe { syscall2(NR_GETTIMEOFDAY, tv.as_mut_ptr() as usize, 0) };
    t.check("gettimeofday_timeval", r == 0 && tv[1] < 1_000_000, format_args!("returned {r}, tv_usec {}", tv[1]));
    // SAFETY: as above.
    let r = unsafe { syscall2(NR_GETTIMEOFDAY, KERNEL_ADDRESS, 0) };
    t.check_eq("gettimeofday_kernel_address_efault", r, -EFAULT);

    // SAFETY: umask cannot fail; the old mask is put back.
    let old = unsafe { syscall1(NR_UMASK, 0o027) };
    // SAFETY: as above.
    let back = unsafe { syscall1(NR_UMASK, old as usize) };
    t.check("umask_returns_the_old_mask", (0..=0o777).contains(&old) && back == 0o027,
        format_args!("umask gave {old:#o}, then {back:#o}"));
    // A child inherits the mask (Linux copy_fs): it reports its own as its
    // exit status.
    // SAFETY: umask cannot fail.
    unsafe { syscall1(NR_UMASK, 0o037) };
    // SAFETY: fork has no arguments; the child only calls umask and exits.
    let pid = unsafe { syscall0(NR_FORK) };
    if pid == 0 {
        // SAFETY: as above.
        let m = unsafe { syscall1(NR_UMASK, 0) };
        exit(m as i32);
    }
    let mut status = 0i32;
    // SAFETY: status is a writable int; no rusage.
    let w = unsafe { syscall4(NR_WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    // SAFETY: umask cannot fail.
    unsafe { syscall1(NR_UMASK, old as usize) };
    t.check("umask_inherited_at_fork", w == pid && status == 0o037 << 8,
        format_args!("fork {pid}, wait4 {w}, status {status:#x}"));

    let mut name = *b"abi-name\0\0\0\0\0\0\0\0";
    // SAFETY: name is a NUL-terminated string.
    let r = unsafe { syscall2(NR_PRCTL, PR_SET_NAME, name.as_ptr() as usize) };
    t.check_eq("prctl_set_name", r, 0);
    name = [0xff; 16];
    // SAFETY: name is 16 writable bytes (TASK_COMM_LEN).
    let r = unsafe { syscall2(NR_PRCTL, PR_GET_NAME, name.as_mut_ptr() as usize) };
    t.check("prctl_get_name", r == 0 && &name == b"abi-name\0\0\0\0\0\0\0\0", format_args!("returned {r}, {name:?}"));
    // SAFETY: the kernel must refuse the address.
    let r = unsafe { syscall2(NR_PRCTL, PR_GET_NAME, KERNEL_ADDRESS) };
    t.check_eq("prctl_get_name_kernel_address_efault", r, -EFAULT);
}
