//! User mode: a task in ring 3 on an address space of its own, Linux's
//! i386 system-call ABI through `int $0x80`, and what happens when a user
//! program faults (cases U12, U13 and U26 in docs/conformance.md; U1,
//! `access_ok`, is a host test in mm/src/layout.rs).
//!
//! The programs here are a few instructions of position-independent
//! assembly, copied into a highmem page mapped at Linux's classic i386 text
//! address; ELF loading comes later. Each program checks what it can see
//! from user mode and reports through its exit status.

use alloc::sync::Arc;

use mm::gfp::{GFP_HIGHUSER, __GFP_ZERO};
use mm::layout::{PAGE_SIZE, TASK_SIZE};

use crate::arch::entry::entry_32::{start_thread_regs, start_user_mode};
use crate::arch::paging::PteFlags;
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::{self, PageHighMem, alloc_pages};
use crate::test_case;
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(the_system_call_gate_is_dpl3_with_interrupts_off),
    test_case!(a_program_runs_in_ring_3_and_uses_the_i386_abi),
    test_case!(a_faulting_program_is_killed_with_sigsegv_and_frees_its_memory),
    test_case!(a_new_page_directory_shares_the_kernel_half_only),
    test_case!(returning_to_user_mode_with_a_kmap_local_held_is_named_and_cleared),
];

/// Where the programs' text goes (Linux's traditional i386 ELF base).
const TEXT: usize = 0x0804_8000;
/// The stack page, just below the top of user space (Linux `STACK_TOP`).
const STACK: usize = TASK_SIZE - PAGE_SIZE;

// The programs, in AT&T syntax so that label differences are constants.
// Each ends with exit(status); a failed check exits with its own number.
core::arch::global_asm!(
    r#"
    .section .rodata.user_programs, "a"

    .global user_hello_start, user_hello_end
user_hello_start:
    movl $20, %eax              # getpid()
    int $0x80
    movl %eax, %ebp
    call uh_pc
uh_pc:
    popl %ecx
    addl $(uh_msg - uh_pc), %ecx
    movl $4, %eax               # write(1, msg, len)
    movl $1, %ebx
    movl $(uh_msg_end - uh_msg), %edx
    int $0x80
    cmpl $(uh_msg_end - uh_msg), %eax
    movl $10, %ebx
    jne uh_exit
    movl $0x7fff, %eax          # no such system call: -ENOSYS, and
    movl $0x11111111, %ebx      # every register but eax preserved
    movl $0x22222222, %ecx
    movl $0x33333333, %edx
    movl $0x44444444, %esi
    movl $0x55555555, %edi
    movl $0x66666666, %ebp
    int $0x80
    cmpl $-38, %eax
    jne uh_bad_enosys
    cmpl $0x11111111, %ebx
    jne uh_bad_regs
    cmpl $0x22222222, %ecx
    jne uh_bad_regs
    cmpl $0x33333333, %edx
    jne uh_bad_regs
    cmpl $0x44444444, %esi
    jne uh_bad_regs
    cmpl $0x55555555, %edi
    jne uh_bad_regs
    cmpl $0x66666666, %ebp
    jne uh_bad_regs
    movl $4, %eax               # write(1, kernel address, 4): -EFAULT
    movl $1, %ebx
    movl $0xc0000000, %ecx
    movl $4, %edx
    int $0x80
    cmpl $-14, %eax
    movl $13, %ebx
    jne uh_exit
    movl $4, %eax               # write(7, ...): -EBADF
    movl $7, %ebx
    int $0x80
    cmpl $-9, %eax
    movl $14, %ebx
    jne uh_exit
    movl $158, %eax             # sched_yield(): 0
    int $0x80
    testl %eax, %eax
    movl $15, %ebx
    jne uh_exit
    movl %cs, %ebx              # exit(CPL), read from our own CS
    andl $3, %ebx
    jmp uh_exit
uh_bad_enosys:
    movl $11, %ebx
    jmp uh_exit
uh_bad_regs:
    movl $12, %ebx
uh_exit:
    movl $1, %eax               # exit(ebx)
    int $0x80
uh_msg:
    .ascii "hello from ring 3\n"
uh_msg_end:
user_hello_end:

    .global user_segv_start, user_segv_end
user_segv_start:
    xorl %eax, %eax
    movl (%eax), %eax           # read address 0: nothing is mapped there
    movl $1, %eax
    int $0x80
user_segv_end:
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static user_hello_start: u8;
    static user_hello_end: u8;
    static user_segv_start: u8;
    static user_segv_end: u8;
}

/// The bytes of a program between two symbols.
fn program(start: &'static u8, end: &'static u8) -> &'static [u8] {
    let (s, e) = (start as *const u8, end as *const u8);
    // SAFETY: both symbols bracket one program in .rodata.
    unsafe { core::slice::from_raw_parts(s, e as usize - s as usize) }
}

/// A fresh address space with `code` at TEXT (read-only) and a stack page,
/// both in highmem pages written through kmap_local.
fn address_space_with(code: &[u8]) -> Arc<MmStruct> {
    assert!(code.len() <= PAGE_SIZE);
    let mm = MmStruct::new().expect("a page directory");
    let text = alloc_pages(GFP_HIGHUSER | __GFP_ZERO, 0).expect("a text page");
    let v = kmap_local_page(text);
    // SAFETY: v maps the whole page; code fits in it.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), v as *mut u8, code.len()) };
    kunmap_local(v);
    mm.map_page(TEXT, text, false).expect("map text");
    let stack = alloc_pages(GFP_HIGHUSER | __GFP_ZERO, 0).expect("a stack page");
    mm.map_page(STACK, stack, true).expect("map stack");
    Arc::new(mm)
}

/// Run `code` as a user program in a task of its own; its wait status.
fn run_user(name: &str, code: &'static [u8]) -> i32 {
    let mm = address_space_with(code);
    crate::sched::spawn(name, move || {
        let me = crate::sched::current();
        me.set_mm(mm);
        let regs = start_thread_regs(TEXT, TASK_SIZE);
        // SAFETY: the task's address space maps TEXT and the stack page
        // for user mode; the top of this task's stack is unused (we run
        // far below it) and the task never comes back here.
        unsafe { start_user_mode(&regs, me.stack_top().expect("a task stack")) }
    })
    .join()
}

/// Catalogue U26: the gate of vector 0x80 is an interrupt gate (so IF is
/// 0 on entry) of DPL 3 (so user code may use it), into the kernel's code.
fn the_system_call_gate_is_dpl3_with_interrupts_off() {
    let gate = crate::arch::idt::gate_bits(crate::arch::idt::IA32_SYSCALL_VECTOR);
    let access = (gate >> 40) as u8;
    assert_eq!(access & 0x80, 0x80, "present");
    assert_eq!((access >> 5) & 3, 3, "DPL 3: int $0x80 allowed from ring 3");
    assert_eq!(access & 0xf, 0xe, "a 32-bit interrupt gate: interrupts off on entry");
    assert_eq!((gate >> 16) as u16, crate::arch::gdt::KERNEL_CS);
    // Every other software-interrupt vector stays closed to user mode.
    assert_eq!((crate::arch::idt::gate_bits(0x81) >> 47) & 1, 0, "vector 0x81 is not present");
}

/// The program calls getpid, writes a line, makes an unknown call (which
/// must give -ENOSYS and preserve every register but eax), passes a kernel
/// address (-EFAULT) and a bad descriptor (-EBADF), yields, and exits with
/// the privilege level of its own CS. Each check is the program's own; the
/// exit status says which failed (10..15) or that all held (3 = ring 3).
fn a_program_runs_in_ring_3_and_uses_the_i386_abi() {
    let before = crate::console::bytes_written();
    // SAFETY: the symbols come from the assembly above.
    let status = run_user("hello", program(unsafe { &user_hello_start }, unsafe { &user_hello_end }));
    let code = status >> 8;
    assert_eq!(status & 0x7f, 0, "ended by exit, not by a signal (status {status:#x})");
    let what = match code {
        10 => "write(1, msg, len) did not return len",
        11 => "an unknown system call did not return -ENOSYS",
        12 => "a system call changed a register other than eax",
        13 => "write() of a kernel address did not return -EFAULT",
        14 => "write() to fd 7 did not return -EBADF",
        15 => "sched_yield() did not return 0",
        _ => "",
    };
    assert_eq!(code, 3, "the program exited with {code}: {what}");
    assert!(crate::console::bytes_written() - before >= "hello from ring 3\n".len(), "the line reached the console");
}

/// A user program that reads address 0 is ended with SIGSEGV (wait status
/// 11) and Linux's line, the kernel carries on, and every page of its
/// address space comes back.
fn a_faulting_program_is_killed_with_sigsegv_and_frees_its_memory() {
    let free = || page_alloc::zones().map(|z| z.nr_free_pages()).sum::<usize>();
    let (before, killed) = (free(), crate::arch::traps::USER_SIGNALS.load(core::sync::atomic::Ordering::SeqCst));
    // SAFETY: the symbols come from the assembly above.
    let status = run_user("segv", program(unsafe { &user_segv_start }, unsafe { &user_segv_end }));
    assert_eq!(status, 11, "killed by SIGSEGV");
    assert_eq!(crate::arch::traps::USER_SIGNALS.load(core::sync::atomic::Ordering::SeqCst), killed + 1);
    crate::sched::task::reap_dead_stacks();
    assert_eq!(free(), before, "the page directory, page table, text and stack pages were all freed");
}

/// Catalogue U12/U13: a new page directory has an empty user half and the
/// kernel half of swapper_pg_dir; its user page tables are highmem
/// (HIGHPTE) when the machine has highmem; user PTEs carry the U/S bit.
fn a_new_page_directory_shares_the_kernel_half_only() {
    let mm = address_space_with(&[0x90]);
    let pgd = mm.pgd();
    for i in 0..1024 {
        let ours = crate::mm::pgtable::pgd_offset(pgd, i << 22);
        let swapper = crate::mm::pgtable::pgd_offset(crate::mm::pgtable::swapper_pg_dir(), i << 22);
        // SAFETY: both point into lowmem page directories.
        let (a, b) = unsafe { (ours.read_volatile(), swapper.read_volatile()) };
        if i >= 768 {
            assert_eq!(a, b, "kernel entry {i} is swapper's");
        } else if i != TEXT >> 22 && i != STACK >> 22 {
            assert!(a.is_none(), "user entry {i} is empty");
        }
    }
    let text = mm.lookup(TEXT);
    assert!(text.present() && text.flags().contains(PteFlags::USER), "user PTE with U/S");
    assert!(!text.flags().contains(PteFlags::RW), "text read-only");
    assert!(mm.lookup(STACK).flags().contains(PteFlags::RW | PteFlags::USER));
    assert!(mm.lookup(TEXT + PAGE_SIZE).is_none());
    if crate::tests::common::have_highmem() {
        assert!(mm.page_tables().iter().all(|t| PageHighMem(t)), "HIGHPTE: user page tables in highmem");
    }
}

/// Catalogue U27 (Linux `kmap_assert_nomap()` in
/// `syscall_exit_to_user_mode`): a task may not go back to user mode
/// holding a kmap_local mapping. Our exit path names the task and the
/// number of slots, clears them, and unpins the task. (Called here from a
/// kernel thread standing in for a system call that forgot its kunmap.)
fn returning_to_user_mode_with_a_kmap_local_held_is_named_and_cleared() {
    let page = crate::tests::common::any_page();
    let reports = crate::debug::report_count();
    let h = crate::sched::spawn("leaky-syscall", move || {
        let v = crate::mm::kmap_local::kmap_local_pfn(crate::mm::page_alloc::page_to_pfn(page));
        assert!(mm::layout::is_kmap_local_addr(v));
        let flags = crate::arch::cpu::local_irq_save();
        crate::arch::entry::common::syscall_exit_to_user_mode();
        crate::arch::cpu::local_irq_restore(flags);
        let me = crate::sched::current();
        assert_eq!(me.kmap_local_idx(), 0, "the slots were cleared");
        assert_eq!(me.migrate_disable.load(core::sync::atomic::Ordering::Relaxed), 0, "no longer pinned");
        assert!(!crate::mm::pgtable::lookup_kernel_pte(v).present(), "the slot's PTE is gone");
    });
    h.join();
    assert_eq!(crate::debug::report_count(), reports + 1, "one report");
    let r = crate::debug::last_report();
    assert!(r.as_str().contains("BUG: returning to user mode with 1 kmap_local slot(s) held: task leaky-syscall/"), "{}", r.as_str());
    crate::tests::common::free_page(page);
}
