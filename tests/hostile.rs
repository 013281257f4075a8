//! What a hostile program cannot do (issue 13, "nothing let through"):
//! touch the kernel's highmem windows (a live PKMAP slot, another CPU's
//! live kmap_atomic slot in the fixmap), run a privileged instruction,
//! load a kernel or LDT segment selector, or call through an interrupt
//! gate meant for the kernel. Each attempt ends the program with SIGSEGV
//! and Linux's named line (`NAME[PID]: segfault at ...` from the fault
//! path, `traps: NAME[PID] general protection fault ...` from a #GP), and
//! changes nothing. (The user-address-space side, 0xc0000000 and a hole,
//! is U6 in tests/usercopy.rs; `set_thread_area`'s refusals are checked
//! by the `tls` program, against Linux.)
//!
//! Nor can it take EFLAGS bits hardware keeps from it (IOPL, VM) through
//! QEMU 7.2's `cmpxchg8b` flags bug (`/bin/eflags_bug`): the kernel checks
//! every user frame on entry (`check_user_eflags` in
//! arch/x86/entry/common.rs), clears a forged IOPL and kills a task whose
//! frame says VM.
//!
//! Why a present kernel PTE is safe: every kernel mapping, the PKMAP and
//! fixmap slots included, is a supervisor page (no `_PAGE_USER`), so a
//! ring-3 access faults whatever the entry maps; `sanitize_error_code`
//! then reports `X86_PF_PROT` whether it was present or not, so the
//! program cannot even learn which slots are in use.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use crate::arch::mm::fault::LAST_SEGFAULT;
use crate::arch::traps::{LAST_USER_TRAP, SIGSEGV};
use crate::mm::kmap::{kmap, kunmap};
use crate::mm::kmap_atomic::{kmap_atomic, kunmap_atomic};
use crate::mm::pgtable::lookup_kernel_pte;
use crate::sched::preempt::{migrate_disable, migrate_enable};
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus};
use super::common::*;
use super::user::run_user_in;

pub const TESTS: &[Test] = &[
    test_case!(a_live_pkmap_slot_cannot_be_read_or_written_from_user_mode),
    test_case!(another_cpus_live_kmap_atomic_slot_cannot_be_read_or_written_from_user_mode),
    test_case!(privileged_instructions_are_a_named_general_protection_fault),
    test_case!(kernel_and_ldt_selectors_and_kernel_gates_are_a_named_general_protection_fault),
    test_case!(a_secret_in_lowmem_and_in_a_kmapped_highmem_page_never_reaches_a_program),
    test_case!(init_gets_no_sigkill_sigstop_or_signal_it_has_no_handler_for_but_dies_of_a_fault),
    test_case!(a_program_that_forges_iopl_through_the_cmpxchg8b_flags_bug_cannot_do_port_io),
    test_case!(a_program_that_forges_vm_through_the_cmpxchg8b_flags_bug_is_killed_and_never_enters_vm86_mode),
    test_case!(a_frame_with_vm_set_is_from_user_mode_whatever_its_cs),
];

/// `mov eax, [addr]` then a jump to itself (never reached).
fn reader(addr: usize) -> Vec<u8> {
    let mut code = alloc::vec![0xa1];
    code.extend_from_slice(&(addr as u32).to_le_bytes());
    code.extend_from_slice(&[0xeb, 0xfe]);
    code
}

/// `mov eax, 0x41414141; mov [addr], eax` then a jump to itself.
fn writer(addr: usize) -> Vec<u8> {
    let mut code = alloc::vec![0xb8, 0x41, 0x41, 0x41, 0x41, 0xa3];
    code.extend_from_slice(&(addr as u32).to_le_bytes());
    code.extend_from_slice(&[0xeb, 0xfe]);
    code
}

/// Run `code` (on `cpu` if given) expecting SIGSEGV from the fault path;
/// the segfault line.
fn segfaults(cpu: Option<usize>, name: &str, code: &[u8]) -> String {
    LAST_SEGFAULT.lock().clear();
    let status = run_user_in(cpu, name, code, false);
    assert_eq!(status, SIGSEGV, "{name}: killed by SIGSEGV (status {status:#x})");
    String::from(LAST_SEGFAULT.lock().as_str())
}

/// Read and write `addr` from user mode: SIGSEGV each time with Linux's
/// line, error 5 (read) and 7 (write), both `SEGV_MAPERR`.
fn user_cannot_touch(cpu: Option<usize>, addr: usize) {
    let line = segfaults(cpu, "peek", &reader(addr));
    assert!(line.starts_with("peek[") && line.contains(&format!("]: segfault at {addr:x} ")), "{line}");
    assert!(line.ends_with("error 5 (MapErr)"), "a user read of a kernel page: {line}");
    let line = segfaults(cpu, "poke", &writer(addr));
    assert!(line.starts_with("poke[") && line.contains(&format!("]: segfault at {addr:x} ")), "{line}");
    assert!(line.ends_with("error 7 (MapErr)"), "a user write of a kernel page: {line}");
}

/// kmap() a highmem page filled with a known byte: its PKMAP slot is a
/// present kernel PTE on every CPU while the program runs. The program's
/// read and write of that address fault, and the page keeps its bytes.
fn a_live_pkmap_slot_cannot_be_read_or_written_from_user_mode() {
    let page = highmem_page();
    fill_byte(page, 0x5a);
    let v = kmap(page);
    assert!(mm::layout::is_pkmap_addr(v), "a highmem page's kmap is in the PKMAP window");
    assert!(lookup_kernel_pte(v).present(), "the slot is live");
    user_cannot_touch(None, v);
    assert_eq!(read_byte(v), 0x5a, "the write changed nothing");
    kunmap(page);
    crate::mm::page_alloc::__free_pages(page, 0);
}

/// The fixmap's kmap_atomic slots are per CPU, but the kernel's page table
/// is one for all: another CPU's live slot is a present kernel PTE here
/// too. A task on CPU 1 holds a kmap_atomic (preemption off) while a
/// program on CPU 0 reads and writes that address: it faults, and the
/// page keeps its bytes.
fn another_cpus_live_kmap_atomic_slot_cannot_be_read_or_written_from_user_mode() {
    require_cpus(2);
    let page = highmem_page();
    fill_byte(page, 0x6b);
    static SLOT: AtomicUsize = AtomicUsize::new(0);
    static DONE: AtomicBool = AtomicBool::new(false);
    SLOT.store(0, SeqCst);
    DONE.store(false, SeqCst);
    let pfn = crate::mm::page_alloc::page_to_pfn(page);
    // The test's own task stays on its CPU, so that the holder spinning
    // with preemption off never sits on the CPU the test must run on.
    migrate_disable();
    let here = crate::arch::percpu::raw_smp_processor_id();
    let there = (here + 1) % crate::smp::num_online_cpus();
    let holder = crate::sched::spawn_on(there, "holder", move || {
        let v = kmap_atomic(crate::mm::page_alloc::pfn_to_page(pfn));
        SLOT.store(v, SeqCst);
        let start = crate::arch::tsc::uptime_ns();
        // Preemption is off: only the flag (or a 20 s safety limit) ends it.
        while !DONE.load(SeqCst) && crate::arch::tsc::uptime_ns() - start < 20_000_000_000 {
            core::hint::spin_loop();
        }
        kunmap_atomic(v);
    });
    while SLOT.load(SeqCst) == 0 {
        crate::sched::yield_now();
    }
    let v = SLOT.load(SeqCst);
    assert!(mm::layout::is_kmap_local_addr(v), "a fixmap kmap_atomic slot");
    assert!(lookup_kernel_pte(v).present(), "CPU {there}'s slot is live in the kernel's page table");
    user_cannot_touch(Some(here), v);
    assert!(!DONE.load(SeqCst));
    DONE.store(true, SeqCst);
    holder.join();
    migrate_enable();
    let v = crate::mm::kmap_local::kmap_local_page(page);
    let byte = read_byte(v);
    crate::mm::kmap_local::kunmap_local(v);
    assert_eq!(byte, 0x6b, "the write changed nothing");
    crate::mm::page_alloc::__free_pages(page, 0);
}

/// Run each `(name, code, error code)` as a program: SIGSEGV, with
/// Linux's `traps:` line naming a general protection fault and the error
/// code the CPU pushed.
fn each_is_a_named_gp(cases: &[(&str, &[u8], u32)]) {
    for &(name, code, error) in cases {
        LAST_USER_TRAP.lock().clear();
        let status = run_user_in(None, name, code, false);
        assert_eq!(status, SIGSEGV, "{name}: killed by SIGSEGV (status {status:#x}; 0: it ran on)");
        let line = String::from(LAST_USER_TRAP.lock().as_str());
        assert!(line.starts_with(&format!("traps: {name}[")), "{name}: {line}");
        assert!(line.contains("] general protection fault ip:8048000 "), "{name}: the first instruction faulted: {line}");
        assert!(line.ends_with(&format!(" error:{error:x}")), "{name}: {line}");
    }
}

/// Ring 3 with IOPL 0: each privileged or I/O instruction raises #GP(0)
/// before it does anything (each program's first instruction), so the
/// CPU's state (interrupts, CR3, the GDT, the ports) is untouched.
fn privileged_instructions_are_a_named_general_protection_fault() {
    each_is_a_named_gp(&[
        ("cli", &[0xfa, 0xeb, 0xfe], 0),
        ("sti", &[0xfb, 0xeb, 0xfe], 0),
        ("hlt", &[0xf4, 0xeb, 0xfe], 0),
        ("in-al-dx", &[0xec, 0xeb, 0xfe], 0),
        ("out-dx-al", &[0xee, 0xeb, 0xfe], 0),
        ("mov-eax-cr0", &[0x0f, 0x20, 0xc0, 0xeb, 0xfe], 0),
        ("mov-cr3-eax", &[0x0f, 0x22, 0xd8, 0xeb, 0xfe], 0),
        ("lgdt", &[0x0f, 0x01, 0x10, 0xeb, 0xfe], 0),
        ("lidt", &[0x0f, 0x01, 0x18, 0xeb, 0xfe], 0),
        ("invlpg", &[0x0f, 0x01, 0x38, 0xeb, 0xfe], 0),
        ("rdmsr", &[0x0f, 0x32, 0xeb, 0xfe], 0),
        ("wrmsr", &[0x0f, 0x30, 0xeb, 0xfe], 0),
        ("clts", &[0x0f, 0x06, 0xeb, 0xfe], 0),
        ("wbinvd", &[0x0f, 0x09, 0xeb, 0xfe], 0),
    ]);
    assert!(!crate::arch::cpu::irqs_disabled(), "interrupts still on here");
}

/// Loading a selector of the kernel's (DPL 0) into a data segment
/// register, or an LDT selector when the process has no LDT, is #GP with
/// the selector as the error code (RPL bits cleared); `int $n` through a
/// gate of DPL 0 (every vector but 3, 4 and 0x80) is #GP with the gate's
/// IDT index (`n * 8 + 2`).
fn kernel_and_ldt_selectors_and_kernel_gates_are_a_named_general_protection_fault() {
    let kcs = crate::arch::gdt::KERNEL_CS as u8;
    let kds = crate::arch::gdt::KERNEL_DS as u8;
    // mov ax, SEL; mov ds, ax (66 b8 SEL 00; 8e d8)
    let kernel_ds = [0x66, 0xb8, kds, 0x00, 0x8e, 0xd8, 0xeb, 0xfe];
    let kernel_cs_as_data = [0x66, 0xb8, kcs, 0x00, 0x8e, 0xd8, 0xeb, 0xfe];
    // mov ax, SEL; mov es, ax with the RPL set to 3: still DPL 0.
    let kernel_ds_rpl3 = [0x66, 0xb8, kds | 3, 0x00, 0x8e, 0xc0, 0xeb, 0xfe];
    // mov ax, 0x0f (LDT entry 1, RPL 3); mov fs, ax
    let ldt = [0x66, 0xb8, 0x0f, 0x00, 0x8e, 0xe0, 0xeb, 0xfe];
    // The first instruction of each is the mov to ax, which cannot fault:
    // the #GP is at 8048004, so these are checked apart from the others.
    // The LDT selector on every CPU: each loads its own LDTR (a CPU left
    // with the reset value would read the "LDT" from user memory at 0).
    let cpus = crate::smp::num_online_cpus();
    let cases = [
        (None, "mov-ds-kernel-ds", &kernel_ds[..], kds as u32),
        (None, "mov-ds-kernel-cs", &kernel_cs_as_data[..], kcs as u32),
        (None, "mov-es-kernel-ds-rpl3", &kernel_ds_rpl3[..], kds as u32),
    ]
    .into_iter()
    .chain((0..cpus).map(|cpu| (Some(cpu), "mov-fs-ldt-selector", &ldt[..], 0x0c)));
    for (cpu, name, code, error) in cases {
        LAST_USER_TRAP.lock().clear();
        let status = run_user_in(cpu, name, code, false);
        assert_eq!(status, SIGSEGV, "{name}: killed by SIGSEGV (status {status:#x}; 0: it ran on)");
        let line = String::from(LAST_USER_TRAP.lock().as_str());
        assert!(line.starts_with(&format!("traps: {name}[")), "{name}: {line}");
        assert!(line.contains("] general protection fault ip:8048004 "), "{name}: the segment load faulted: {line}");
        assert!(line.ends_with(&format!(" error:{error:x}")), "{name}: {line}");
    }
    each_is_a_named_gp(&[
        ("int-0x20", &[0xcd, 0x20, 0xeb, 0xfe], 0x20 * 8 + 2),
        ("int-0x0e", &[0xcd, 0x0e, 0xeb, 0xfe], 0x0e * 8 + 2),
        ("int-0x81", &[0xcd, 0x81, 0xeb, 0xfe], 0x81 * 8 + 2),
    ]);
}

/// The secret: a pattern no program writes by chance.
const SECRET: &[u8; 16] = b"S3CRET-0f-kernel";

/// Fill `v`'s page with the secret; is it all still there?
fn stamp(v: usize) {
    for off in (0..mm::layout::PAGE_SIZE).step_by(SECRET.len()) {
        // SAFETY: v maps a whole page of ours.
        unsafe { core::ptr::copy_nonoverlapping(SECRET.as_ptr(), (v + off) as *mut u8, SECRET.len()) };
    }
}

fn intact(v: usize) -> bool {
    (0..mm::layout::PAGE_SIZE).step_by(SECRET.len()).all(|off| {
        // SAFETY: as in stamp.
        let got = unsafe { core::slice::from_raw_parts((v + off) as *const u8, SECRET.len()) };
        got == SECRET
    })
}

/// Issue 13's secret: written into a lowmem page (its direct-map address)
/// and into a highmem page kmapped at a PKMAP slot that stays live while
/// the program runs. `/bin/leaktest` hands both addresses, and a user
/// address with nothing mapped, to every buffer-taking call it makes
/// (write, writev, read, getcwd, uname, clock_gettime, gettimeofday,
/// fstat64, pipe, rt_sigaction, open): each must be -EFAULT with no byte
/// moved (the program checks its pipes stay empty and its data stays
/// put), and afterwards the secret is still whole (no call wrote there).
fn a_secret_in_lowmem_and_in_a_kmapped_highmem_page_never_reaches_a_program() {
    use crate::mm::page_alloc::{__free_pages, alloc_pages, page_address};
    let low = alloc_pages(mm::gfp::GFP_KERNEL, 0).expect("a lowmem page");
    let low_v = page_address(low).expect("lowmem is mapped");
    stamp(low_v);
    let high = highmem_page();
    let high_v = kmap(high);
    assert!(mm::layout::is_pkmap_addr(high_v));
    stamp(high_v);
    let hex = |v: usize| format!("{v:#x}").into_bytes();
    let argv = alloc::vec![b"/bin/leaktest".to_vec(), hex(low_v + 32), hex(high_v + 32), hex(0x4000_0000)];
    let status = crate::fs::exec::spawn_user("/bin/leaktest", argv, Vec::new()).join();
    assert_eq!(status, 0, "leaktest's checks all passed (its FAILED lines above say which did not)");
    assert!(intact(low_v), "the lowmem secret was not written");
    assert!(intact(high_v), "the highmem secret was not written");
    kunmap(high);
    __free_pages(high, 0);
    __free_pages(low, 0);
}

/// Run `/bin/sleeper 9` (900 ms asleep in nanosleep, then its checks) as
/// the global init, send it `signals` (number, `si_code`) from the kernel
/// while it sleeps, and give its wait status. Init is put back after.
fn sleeper_as_init_sent(signals: &[(i32, i32)]) -> i32 {
    use crate::signal::{KSigInfo, send_signal};
    let saved = crate::init::GLOBAL_INIT_PID.load(SeqCst);
    let h = crate::fs::exec::spawn_user_started("/bin/sleeper", alloc::vec![b"sleeper".to_vec(), b"9".to_vec()], Vec::new(), || {
        crate::init::GLOBAL_INIT_PID.store(crate::sched::current().id(), SeqCst);
    });
    crate::sched::msleep(200);
    for &(sig, code) in signals {
        send_signal(sig, KSigInfo { code, pid: 1, ..Default::default() }, h.task());
        crate::sched::msleep(20);
    }
    let status = h.join();
    crate::init::GLOBAL_INIT_PID.store(saved, SeqCst);
    status
}

/// Issue 13's "signals to init", as Linux's `sig_task_ignored` answers
/// them: SIGKILL and SIGSTOP are never sent to the global init, and a
/// signal it has no handler for is dropped (SIGTERM, SIGINT, SIGHUP, and
/// a SIGSEGV that a program sent, `SI_USER`), so `/bin/sleeper` as init
/// sleeps through all of them and passes its checks. A fault's SIGSEGV
/// (`SEGV_MAPERR`, forced: Linux's `force_sig_info_to_task` takes
/// `SIGNAL_UNKILLABLE` away) does kill it. The control: the same program,
/// not init, dies of the SIGTERM.
fn init_gets_no_sigkill_sigstop_or_signal_it_has_no_handler_for_but_dies_of_a_fault() {
    use crate::signal::{SEGV_MAPERR, SI_TKILL, SI_USER, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM};
    let status = sleeper_as_init_sent(&[(SIGKILL, SI_USER), (SIGSTOP, SI_USER), (SIGTERM, SI_USER), (SIGINT, SI_TKILL), (SIGHUP, SI_USER), (SIGSEGV, SI_USER)]);
    assert_eq!(status, 0, "init slept through SIGKILL, SIGSTOP, SIGTERM, SIGINT, SIGHUP and a sent SIGSEGV (wait status {status:#x})");
    let status = sleeper_as_init_sent(&[(SIGSEGV, SEGV_MAPERR)]);
    assert_eq!(status & 0x7f, SIGSEGV, "a fault's SIGSEGV kills even init (wait status {status:#x})");
    let h = crate::fs::exec::spawn_user("/bin/sleeper", alloc::vec![b"sleeper".to_vec(), b"9".to_vec()], Vec::new());
    crate::sched::msleep(200);
    crate::signal::send_signal(SIGTERM, crate::signal::KSigInfo { code: SI_USER, pid: 1, ..Default::default() }, h.task());
    assert_eq!(h.join() & 0x7f, SIGTERM, "not init: SIGTERM kills it");
}


/// Run `/bin/eflags_bug BITS MODE` (user/src/bin/eflags_bug.rs): forge
/// `BITS` into its EFLAGS through QEMU 7.2's `cmpxchg8b` flags bug, at a
/// timer interrupt (`irq`) or at an `int $0x80` (`syscall`) right after
/// the `cmpxchg8b`. Its wait status, and how many frames the kernel found
/// forged (`counter` before and after).
fn eflags_bug(bits: &str, mode: &str, counter: &core::sync::atomic::AtomicU32) -> (i32, u32) {
    let before = counter.load(SeqCst);
    let argv = alloc::vec![b"/bin/eflags_bug".to_vec(), bits.as_bytes().to_vec(), mode.as_bytes().to_vec()];
    let status = crate::fs::exec::spawn_user("/bin/eflags_bug", argv, Vec::new()).join();
    (status, counter.load(SeqCst) - before)
}

/// IOPL 3 forged into the frame of a system call and of a timer
/// interrupt: the kernel clears it on entry (`check_user_eflags`), so the
/// program's `in` at ring 3 is still #GP and it dies of SIGSEGV with the
/// `traps:` line, as on hardware and Linux. Without the check the `iret`
/// gave it IOPL 3 and `in`, `out` and `cli` ran (exit status 1): it could
/// have written QEMU's isa-debug-exit port and ended the machine. The
/// counter shows the emulator did forge the bits (on a CPU without the
/// bug there is nothing to defend, and this test would say so).
fn a_program_that_forges_iopl_through_the_cmpxchg8b_flags_bug_cannot_do_port_io() {
    use crate::arch::entry::common::FORGED_IOPL;
    for mode in ["syscall", "irq"] {
        LAST_USER_TRAP.lock().clear();
        let (status, forged) = eflags_bug("iopl", mode, &FORGED_IOPL);
        assert!(forged > 0, "{mode}: a frame came in with IOPL forged (none: this QEMU has no cmpxchg8b flags bug?)");
        assert_eq!(status, SIGSEGV, "{mode}: ring-3 `in` was #GP, SIGSEGV (status {status:#x}; 0x100: IOPL 3 stuck, in/out/cli ran)");
        let line = String::from(LAST_USER_TRAP.lock().as_str());
        assert!(line.starts_with("traps: eflags_bug[") && line.contains("] general protection fault "), "{mode}: {line}");
    }
}

/// VM forged into the frame of a system call and of a timer interrupt:
/// the kernel never `iret`s to virtual-8086 mode (which pops four more
/// words from above the frame: past the top of the kernel stack, an Oops
/// on the guard page, seen with the check off for the system call; the
/// timer's case went to vm86 mode and died of a SIGSEGV at a real-mode
/// address). The task is killed with SIGKILL and a line naming VM, and
/// the kernel (this test) goes on.
fn a_program_that_forges_vm_through_the_cmpxchg8b_flags_bug_is_killed_and_never_enters_vm86_mode() {
    use crate::arch::entry::common::FORGED_VM;
    use crate::signal::SIGKILL;
    for mode in ["syscall", "irq"] {
        let (status, forged) = eflags_bug("vm", mode, &FORGED_VM);
        assert!(forged > 0, "{mode}: a frame came in with VM forged (none: this QEMU has no cmpxchg8b flags bug?)");
        assert_eq!(status, SIGKILL, "{mode}: killed by SIGKILL (wait status {status:#x})");
    }
}

/// A frame pushed in virtual-8086 mode holds a real-mode CS, any value
/// (a far jump there loads 0 as easily as 0x73): it is a user frame all
/// the same (Linux `user_mode()`: CPL 3 or VM), so an exception taken
/// there is the program's (a signal, and the VM check of
/// `check_user_eflags`), never `die()` for a kernel fault. Before the
/// check existed, the forged-VM program of the test above did reach
/// vm86 mode through a timer interrupt's `iret` and faulted there
/// (`segfault at 9087 ip 00008957`), with CS still 0x73; with CS 0 the
/// kernel would have taken that for its own fault.
fn a_frame_with_vm_set_is_from_user_mode_whatever_its_cs() {
    use crate::arch::entry::TrapFrame;
    use crate::arch::entry::common::X86_EFLAGS_VM;
    let frame = |cs: u32, eflags: u32| TrapFrame {
        gs: 0, fs: 0, es: 0, ds: 0, edi: 0, esi: 0, ebp: 0, esp_pushad: 0, ebx: 0, edx: 0, ecx: 0, eax: 0,
        vector: 14, error_code: 4, eip: 0x8957, cs, eflags,
    };
    for cs in [0, crate::arch::gdt::KERNEL_CS as u32, 0x1234] {
        assert!(frame(cs, X86_EFLAGS_VM | 0x202).from_user(), "vm86 frame with cs {cs:#x}: from user mode");
    }
    assert!(!frame(crate::arch::gdt::KERNEL_CS as u32, 0x202).from_user(), "the kernel's own frame");
    assert!(frame(crate::arch::gdt::USER_CS as u32, 0x202).from_user(), "a ring-3 frame");
}
