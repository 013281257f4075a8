//! The FPU and SSE for user programs (`arch/x86/kernel/fpu.rs`): the
//! control registers on every CPU, the registers of two programs on one
//! CPU kept apart across many switches, exec's fresh state, fork's copy,
//! SIGFPE for an unmasked SSE or x87 exception, Linux's si_code; and the
//! resource limits' defaults and errors (`resource.rs`), and where
//! `CLONE_PARENT_SETTID` writes (`fork.rs`).
//!
//! The programs are `/bin/fputest` (user/src/bin/fputest.rs), which also
//! runs natively on Linux and under qemu-i386 (tests/user.sh).

use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::arch::fpu::{self, FxregsState, cr0, cr4, fpe};
use crate::resource::{RLIM_INFINITY, Rlimit, do_prlimit, rlimit};
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus};

pub const TESTS: &[Test] = &[
    test_case!(the_boot_cpu_enables_the_fpu_and_sse_for_user_space),
    test_case!(every_application_processor_enables_the_fpu_and_sse),
    test_case!(init_fpstate_is_linuxs),
    test_case!(a_kernel_thread_has_no_user_fpu_state),
    test_case!(two_programs_on_one_cpu_keep_their_own_registers_across_many_switches),
    test_case!(a_program_after_another_on_the_same_cpu_starts_from_the_defaults),
    test_case!(fork_copies_the_registers_and_exec_resets_them),
    test_case!(an_unmasked_sse_divide_by_zero_is_sigfpe),
    test_case!(an_unmasked_x87_divide_by_zero_is_sigfpe),
    test_case!(the_sigfpe_code_is_linuxs_and_a_spurious_trap_has_none),
    test_case!(the_kernel_leaves_user_registers_alone_across_a_system_call_path),
    test_case!(the_signal_frames_legacy_header_is_linuxs_and_folds_back),
    test_case!(clone_parent_settid_writes_the_parents_memory_only),
    test_case!(resource_limits_start_with_linuxs_defaults),
    test_case!(prlimit_refuses_what_linux_refuses),
];

/// CR0 and CR4 of the CPU this runs on, with interrupts off (one CPU's).
fn control_registers() -> (u32, u32) {
    let flags = crate::arch::cpu::local_irq_save();
    let r = (crate::arch::cpu::read_cr0(), crate::arch::cpu::read_cr4());
    crate::arch::cpu::local_irq_restore(flags);
    r
}

/// What fpu__init_cpu must have left: MP and NE set, EM and TS clear,
/// OSFXSR and OSXMMEXCPT set (the suite's CPU, qemu32, has FXSR and SSE).
fn check_control_registers(cpu: usize, (c0, c4): (u32, u32)) {
    assert!(crate::arch::cpu::has_feature_edx(fpu::feature::FXSR) && crate::arch::cpu::has_feature_edx(fpu::feature::SSE2),
        "the suite's CPU model has FXSR and SSE2 (QEMU's qemu32)");
    assert_eq!(c0 & (cr0::MP | cr0::NE), cr0::MP | cr0::NE, "CPU {cpu}: CR0 {c0:#x} has MP and NE");
    assert_eq!(c0 & (cr0::EM | cr0::TS), 0, "CPU {cpu}: CR0 {c0:#x} has neither EM nor TS (eager switching)");
    assert_eq!(c4 & (cr4::OSFXSR | cr4::OSXMMEXCPT), cr4::OSFXSR | cr4::OSXMMEXCPT, "CPU {cpu}: CR4 {c4:#x} has OSFXSR and OSXMMEXCPT");
}

fn the_boot_cpu_enables_the_fpu_and_sse_for_user_space() {
    let h = crate::sched::spawn_on(0, "cr-check", || {
        check_control_registers(0, control_registers());
    });
    assert_eq!(h.join(), 0, "the check on CPU 0 passed");
    assert!(fpu::use_fxsr(), "FXSAVE chosen");
    assert!(fpu::sse_enabled());
}

fn every_application_processor_enables_the_fpu_and_sse() {
    require_cpus(2);
    for cpu in 1..mm::layout::NR_CPUS {
        if !crate::percpu::per_cpu(cpu).online.load(Ordering::Acquire) {
            continue;
        }
        let regs = crate::sched::spawn_on(cpu, "cr-read", move || {
            let (c0, c4) = control_registers();
            // Passed back through the exit code: CR0's FPU bits and CR4's
            // SSE bits fit in 16 bits each.
            crate::sched::exit(((c0 & 0x3f) | ((c4 >> 8) & 0x7) << 8) as i32)
        })
        .join() as u32;
        check_control_registers(cpu, (regs & 0x3f, ((regs >> 8) & 0x7) << 8));
    }
}

/// Linux's `init_fpstate` (FXSAVE format): FCW 0x037f, MXCSR 0x1f80,
/// every other byte zero (empty tags, XMM0-7 zero).
fn init_fpstate_is_linuxs() {
    let s = FxregsState::init();
    assert_eq!(s.cwd(), 0x037f);
    assert_eq!(s.mxcsr(), 0x1f80);
    assert!(s.0.iter().enumerate().all(|(i, &b)| matches!(i, 0 | 1 | 24 | 25) || b == 0), "nothing else set");
    assert_eq!(fpu::init_fpstate(), s, "the FXSAVE format on this CPU");
    assert_eq!(core::mem::align_of::<FxregsState>(), 16, "FXSAVE needs 16-byte alignment");
}

/// A kernel thread (this test) has no user FPU state: the switch skips it.
fn a_kernel_thread_has_no_user_fpu_state() {
    assert!(!crate::sched::current().fpu().is_user());
}

fn args(a: &[&str]) -> Vec<Vec<u8>> {
    core::iter::once("/bin/fputest").chain(a.iter().copied()).map(|s| s.as_bytes().to_vec()).collect()
}

/// `/bin/fputest ARGS...` on the CPUs in `mask`.
fn fputest(mask: u32, a: &[&str]) -> crate::sched::JoinHandle {
    crate::fs::exec::spawn_user_affine("/bin/fputest", args(a), Vec::new(), mask)
}

/// Two programs on CPU 0, each loading its own XMM0-7, FCW and MXCSR and
/// checking them after each of 2000 sched_yield calls: while both run,
/// each yield switches to the other (so the CPU's registers hold the
/// other's values in between), and neither ever sees the other's.
fn two_programs_on_one_cpu_keep_their_own_registers_across_many_switches() {
    // The second may still be starting (exec) while the first runs its
    // yields with nobody to switch to, the more so on a loaded host: each
    // yields 2000 times, so that at least 300 of them switch to the
    // other; if not, the run proves nothing about switching and is tried
    // again (the registers must hold every time).
    for attempt in 1..=5 {
        let a = fputest(1, &["hold", "31", "2000"]);
        let b = fputest(1, &["hold", "32", "2000"]);
        let (ta, tb) = (a.task().clone(), b.task().clone());
        let (sa, sb) = (a.join(), b.join());
        assert_eq!((sa, sb), (0, 0), "both kept their registers (1 << 8: a program saw other values)");
        let (na, nb) = (ta.nr_switches.load(Ordering::Relaxed), tb.nr_switches.load(Ordering::Relaxed));
        if na >= 300 && nb >= 300 {
            return;
        }
        log::info!("attempt {attempt}: the two did not overlap ({na} and {nb} switches); again");
    }
    panic!("in 5 attempts the two programs never switched back and forth 300 times each");
}

/// A program leaves its registers loaded on CPU 0 when it exits (exit
/// saves and clears nothing); the next program there must still start
/// from init_fpstate: exec loads it (process A's state never reaches B).
fn a_program_after_another_on_the_same_cpu_starts_from_the_defaults() {
    for seed in ["41", "42", "43"] {
        assert_eq!(fputest(1, &["hold", seed, "1"]).join(), 0);
        assert_eq!(fputest(1, &["fresh"]).join(), 0, "a program after `hold {seed}` starts with the defaults (1 << 8: it did not)");
    }
}

/// fputest's own run: its fork child sees a copy and its changes stay its
/// own; a child's exec starts from the defaults; two processes keep their
/// registers (the same program and checks as on Linux, tests/user.sh).
fn fork_copies_the_registers_and_exec_resets_them() {
    assert_eq!(fputest(crate::sched::task::CPU_MASK_ALL, &[]).join(), 0, "fputest's checks held (its FAILED lines say which did not)");
}

/// An #XM from user mode with an unmasked divide-by-zero flagged in
/// MXCSR ends the process with SIGFPE (wait status 8).
///
/// QEMU's TCG (7.2, what the suite runs on) never raises #XM: its SSE
/// helpers set MXCSR's flags but ignore the masks (so `fputest sigfpe sse`,
/// which dies of SIGFPE on Linux on real hardware, runs on under QEMU, and
/// under qemu-i386 too). So the trap is delivered by hand: the frame the
/// CPU would have pushed for vector 19 from ring 3, handed to the same
/// `trap_dispatch` the IDT stub calls, by a task whose user FPU state is
/// what the divide would have left (ZE set, ZM clear). Everything after
/// the hardware's part runs as for a real #XM.
fn an_unmasked_sse_divide_by_zero_is_sigfpe() {
    use crate::arch::entry::TrapFrame;
    /// The frame plus the user esp/ss the CPU pushes from ring 3.
    #[repr(C)]
    struct UserTrap {
        frame: TrapFrame,
        esp: u32,
        ss: u32,
    }
    let before = crate::arch::traps::USER_SIGNALS.load(Ordering::Relaxed);
    let h = crate::sched::spawn("xm-user", || {
        let mut after_divide = FxregsState::init();
        after_divide.set_mxcsr((0x1f80 & !0x200) | 0x04); // ZM clear, ZE set
        fpu::fpu_set_user_state(&after_divide);
        let user_cs = crate::arch::gdt::USER_CS as u32;
        let user_ds = crate::arch::gdt::USER_DS as u32;
        let mut t = UserTrap {
            frame: TrapFrame {
                gs: 0, fs: 0, es: user_ds, ds: user_ds, edi: 0, esi: 0, ebp: 0, esp_pushad: 0,
                ebx: 0, edx: 0, ecx: 0, eax: 0, vector: 19, error_code: 0,
                eip: 0x0804_8000, cs: user_cs, eflags: 0x202,
            },
            esp: 0xbfff_f000,
            ss: user_ds,
        };
        crate::arch::traps::trap_dispatch(&mut t.frame);
        panic!("an unmasked #XM from user mode returned");
    });
    assert_eq!(h.join(), 8, "SIGFPE");
    assert!(crate::arch::traps::USER_SIGNALS.load(Ordering::Relaxed) > before);
}

/// The x87 one, raised for real: QEMU does deliver #MF (CR0.NE set).
fn an_unmasked_x87_divide_by_zero_is_sigfpe() {
    let before = crate::arch::traps::USER_SIGNALS.load(Ordering::Relaxed);
    assert_eq!(fputest(1, &["sigfpe", "x87"]).join(), 8, "killed by SIGFPE (#MF)");
    assert!(crate::arch::traps::USER_SIGNALS.load(Ordering::Relaxed) > before);
}

/// Linux's `fpu__exception_code`: unmasked flags only, invalid before
/// divide before overflow before underflow/denormal before precision.
fn the_sigfpe_code_is_linuxs_and_a_spurious_trap_has_none() {
    let sse = |mxcsr: u32| {
        let mut s = FxregsState::init();
        s.set_mxcsr(mxcsr);
        fpu::fpu__exception_code(&s, 19)
    };
    assert_eq!(sse(0x1f80 | 0x04), 0, "ZE flagged but masked: spurious");
    assert_eq!(sse((0x1f80 & !0x200) | 0x04), fpe::FLTDIV);
    assert_eq!(sse(0x3f), fpe::FLTINV, "all unmasked and flagged: invalid wins");
    assert_eq!(sse((0x1f80 & !0x400) | 0x08), fpe::FLTOVF);
    assert_eq!(sse((0x1f80 & !0x800) | 0x10), fpe::FLTUND);
    assert_eq!(sse((0x1f80 & !0x1000) | 0x20), fpe::FLTRES);
    let x87 = |cwd: u16, swd: u16| {
        let mut s = FxregsState::init();
        s.0[0..2].copy_from_slice(&cwd.to_le_bytes());
        s.0[2..4].copy_from_slice(&swd.to_le_bytes());
        fpu::fpu__exception_code(&s, 16)
    };
    assert_eq!(x87(0x037f, 0x0004), 0, "masked");
    assert_eq!(x87(0x037b, 0x0004), fpe::FLTDIV);
    assert_eq!(x87(0x037e, 0x0041), fpe::FLTINV, "a stack fault is an invalid operation");
}

/// The kernel is soft-float: it runs a system call and a context switch to
/// a kernel thread without touching the FPU registers. Loaded here by
/// hand, through the same calls exec uses, they survive a sleep.
fn the_kernel_leaves_user_registers_alone_across_a_system_call_path() {
    let h = crate::sched::spawn_on(0, "fpu-owner", || {
        let mut mine = FxregsState::init();
        mine.set_mxcsr(0x1f80 | 0x8000 | 0x6000); // FZ, round toward zero
        mine.0[160..176].copy_from_slice(&[0xa5; 16]); // XMM0
        fpu::fpu_set_user_state(&mine); // now a "user" task
        for _ in 0..20 {
            crate::sched::msleep(1); // other tasks (kernel and user) run meanwhile
        }
        let now = fpu::fpu_sync_fpstate();
        fpu::fpu__drop(crate::sched::current());
        assert_eq!(now.mxcsr(), mine.mxcsr(), "MXCSR kept");
        assert_eq!(now.xmm(0), [0xa5; 16], "XMM0 kept");
    });
    // Meanwhile another program on the same CPU uses its own registers.
    assert_eq!(fputest(1, &["hold", "51", "50"]).join(), 0);
    assert_eq!(h.join(), 0);
}

/// `CLONE_PARENT_SETTID`: the tid lands in the parent's memory after the
/// copy (Linux `kernel_clone`), not in the child's (`clonetest
/// parent-settid` exits 1 if the parent did not see it, 2 if the child
/// did; 0 natively on Linux; qemu-i386 differs, see clonetest.rs).
fn clone_parent_settid_writes_the_parents_memory_only() {
    let argv = alloc::vec![b"/bin/clonetest".to_vec(), b"parent-settid".to_vec()];
    assert_eq!(crate::fs::exec::spawn_user("/bin/clonetest", argv, Vec::new()).join(), 0);
}

/// The i386 signal frame's `_fpstate_32` starts with the FNSAVE-format
/// header Linux's `convert_from_fxsr` makes; `convert_to_fxsr` folds it
/// back. A state with 1.0 and 0.0 pushed (TOP 6: physical registers 6 and
/// 7 in use) tags them valid and zero and the other six empty.
fn the_signal_frames_legacy_header_is_linuxs_and_folds_back() {
    let h = fpu::convert_from_fxsr(&FxregsState::init());
    let w = |i: usize| u32::from_le_bytes(h[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!((w(0), w(1), w(2)), (0xffff_037f, 0xffff_0000, 0xffff_ffff), "init: cwd, swd, every tag empty");
    assert_eq!(&h[110..112], &[0, 0], "magic X86_FXSR_MAGIC");
    let mut s = FxregsState::init();
    s.0[2..4].copy_from_slice(&(6u16 << 11).to_le_bytes()); // TOP = 6
    s.0[4] = 0b1100_0000; // physical registers 6 and 7 in use
    // ST(0) = physical 6 = 0.0 (zero); ST(1) = physical 7 = 1.0: exponent
    // 0x3fff, explicit integer bit.
    s.0[32 + 16 + 7] = 0x80;
    s.0[32 + 16 + 8..32 + 16 + 10].copy_from_slice(&0x3fffu16.to_le_bytes());
    s.0[6..8].copy_from_slice(&0x05f1u16.to_le_bytes()); // fop
    s.0[8..12].copy_from_slice(&0x0804_8123u32.to_le_bytes()); // fip
    s.0[12..14].copy_from_slice(&0x0073u16.to_le_bytes()); // fcs
    let h = fpu::convert_from_fxsr(&s);
    let w = |i: usize| u32::from_le_bytes(h[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(w(2), 0xffff_0000 | 0x0fff | (1 << 12), "tags: 0-5 empty (3), 6 zero (1), 7 valid (0)");
    assert_eq!(w(3), 0x0804_8123, "fip");
    assert_eq!(w(4), 0x05f1_0073, "fcs with fop above");
    assert_eq!(&h[28 + 10..28 + 20], &s.st(1), "the registers, 10 bytes each");
    assert_eq!(u16::from_le_bytes([h[108], h[109]]), 6 << 11, "status");
    let mut back = FxregsState::init();
    back.set_mxcsr(0x1f80 | 0x8000);
    fpu::convert_to_fxsr(&mut back, &h);
    let mut want = s;
    want.set_mxcsr(0x1f80 | 0x8000);
    assert_eq!(back, want, "the header folds back into the image (MXCSR from the image)");
}

fn resource_limits_start_with_linuxs_defaults() {
    let me = crate::sched::current();
    let get = |r| do_prlimit(me, r, None).expect("a valid resource");
    assert_eq!(get(rlimit::STACK), Rlimit { cur: 8 << 20, max: RLIM_INFINITY }, "_STK_LIM");
    assert_eq!(get(rlimit::NOFILE), Rlimit { cur: 1024, max: 4096 }, "INR_OPEN_CUR, INR_OPEN_MAX");
    assert_eq!(get(rlimit::CORE), Rlimit { cur: 0, max: RLIM_INFINITY });
    assert_eq!(get(rlimit::MEMLOCK), Rlimit { cur: 8 << 20, max: 8 << 20 });
    assert_eq!(get(rlimit::MSGQUEUE), Rlimit { cur: 819_200, max: 819_200 });
    assert_eq!(get(rlimit::NICE), Rlimit { cur: 0, max: 0 });
    for r in [rlimit::CPU, rlimit::FSIZE, rlimit::DATA, rlimit::RSS, rlimit::AS, rlimit::LOCKS, rlimit::RTTIME] {
        assert_eq!(get(r), Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY }, "resource {r} unlimited");
    }
    let nproc = get(rlimit::NPROC);
    assert!(nproc.cur >= 10 && nproc.cur == nproc.max && get(rlimit::SIGPENDING) == nproc, "max_threads / 2: {nproc:?}");
}

fn prlimit_refuses_what_linux_refuses() {
    use crate::errno::{EINVAL, EPERM};
    let h = crate::sched::spawn("rlim", || {
        let me = crate::sched::current();
        assert_eq!(do_prlimit(me, 16, None), Err(EINVAL), "no resource 16");
        assert_eq!(do_prlimit(me, rlimit::STACK, Some(Rlimit { cur: 2, max: 1 })), Err(EINVAL), "soft above hard");
        assert_eq!(do_prlimit(me, rlimit::NOFILE, Some(Rlimit { cur: 1, max: (1 << 20) + 1 })), Err(EPERM), "above nr_open");
        let old = do_prlimit(me, rlimit::NOFILE, Some(Rlimit { cur: 64, max: 1 << 20 })).unwrap();
        assert_eq!(old, Rlimit { cur: 1024, max: 4096 });
        assert_eq!(do_prlimit(me, rlimit::NOFILE, None), Ok(Rlimit { cur: 64, max: 1 << 20 }), "set");
    });
    assert_eq!(h.join(), 0);
}
