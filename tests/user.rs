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
use crate::mm::page_alloc::{PageHighMem, alloc_pages};
use mm::vma::{VmArea, VmFlags, VmaKind};
use crate::test_case;
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(the_system_call_gate_is_dpl3_with_interrupts_off),
    test_case!(a_program_runs_in_ring_3_and_uses_the_i386_abi),
    test_case!(a_faulting_program_is_killed_with_sigsegv_and_frees_its_memory),
    test_case!(a_new_page_directory_shares_the_kernel_half_only),
    test_case!(a_page_directory_and_its_preallocated_pmds_are_freed_with_the_address_space),
    test_case!(a_vmalloc_mapping_made_after_a_process_is_visible_through_its_page_directory),
    test_case!(returning_to_user_mode_with_a_kmap_local_held_is_named_and_cleared),
    test_case!(untouched_memory_is_paged_in_on_demand_and_given_back),
    test_case!(a_write_to_a_read_only_area_is_sigsegv),
    test_case!(a_touch_far_below_the_stack_is_sigsegv),
    test_case!(copy_to_user_faults_pages_in_but_not_inside_kmap_atomic),
    test_case!(a_user_copy_stops_at_an_unmapped_page_in_each_of_its_three_parts),
    test_case!(a_fault_inside_kmap_local_may_sleep_while_another_task_uses_the_slot),
    test_case!(fork_shares_pages_read_only_and_a_write_copies_one),
    test_case!(nanosleep_refuses_bad_timespecs),
];

/// Where the programs' text goes (Linux's traditional i386 ELF base).
pub(super) const TEXT: usize = 0x0804_8000;
/// The top page of the stack, just below the top of user space (Linux
/// `STACK_TOP`). The stack area starts 4 pages long and grows down.
const STACK: usize = TASK_SIZE - PAGE_SIZE;
/// An anonymous read-write area of 16 pages, demand-paged (the programs'
/// "bss").
pub(super) const DATA: usize = 0x0805_0000;
pub(super) const DATA_PAGES: usize = 16;

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

    # Demand paging: the data area and the stack are untouched at start.
    .global user_touch_start, user_touch_end
user_touch_start:
    movl $0x08050000, %esi      # DATA
    movl (%esi), %eax           # first read: the zero page (U8)
    testl %eax, %eax
    movl $20, %ebx
    jne ut_exit
    movl $0x5a5a5a5a, (%esi)    # first write: a fresh page (U9)
    cmpl $0x5a5a5a5a, (%esi)
    movl $21, %ebx
    jne ut_exit
    movl $16, %ecx              # write every page of the area
ut_pages:
    movl %ecx, 4(%esi)
    addl $4096, %esi
    loop ut_pages
    movl %esp, %eax             # 6 pages below the 4-page stack area's
    subl $(6 * 4096), %eax      # top: it grows down to cover it (U31)
    movl $1, (%eax)
    movl $122, %eax             # uname() into untouched stack 10 pages
    movl %esp, %ebx             # down: the kernel's copy_to_user takes
    subl $(10 * 4096), %ebx     # the fault, and grows the stack again
    int $0x80
    testl %eax, %eax
    movl $22, %ebx
    jne ut_exit
    movl %esp, %edx
    subl $(10 * 4096), %edx
    cmpl $0x756e694c, (%edx)    # "Linu"
    movl $23, %ebx
    jne ut_exit
    xorl %ebx, %ebx
ut_exit:
    movl $1, %eax
    int $0x80
user_touch_end:

    .global user_wro_start, user_wro_end
user_wro_start:
    movl $0x08048000, %eax      # TEXT: a read-only area
    movl $1, (%eax)
    movl $1, %eax
    int $0x80
user_wro_end:

    .global user_far_start, user_far_end
user_far_start:
    movl %esp, %eax             # 16 MiB below: past RLIMIT_STACK (8 MiB)
    subl $0x01000000, %eax
    movl $1, (%eax)
    movl $1, %eax
    int $0x80
user_far_end:
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static user_hello_start: u8;
    static user_hello_end: u8;
    static user_segv_start: u8;
    static user_segv_end: u8;
    static user_touch_start: u8;
    static user_touch_end: u8;
    static user_wro_start: u8;
    static user_wro_end: u8;
    static user_far_start: u8;
    static user_far_end: u8;
}


/// The hello program's bytes (for tests/exec.rs, which wraps it in an ELF).
pub fn hello_program() -> &'static [u8] {
    // SAFETY: the symbols come from the assembly above.
    program(unsafe { &user_hello_start }, unsafe { &user_hello_end })
}

/// The touch program (data and stack pages written one by one, then
/// checked): for tests/fault_inject.rs.
pub(super) fn touch_program() -> &'static [u8] {
    // SAFETY: the symbols come from the assembly above.
    program(unsafe { &user_touch_start }, unsafe { &user_touch_end })
}

/// The bytes of a program between two symbols.
pub(super) fn program(start: &'static u8, end: &'static u8) -> &'static [u8] {
    let (s, e) = (start as *const u8, end as *const u8);
    // SAFETY: both symbols bracket one program in .rodata.
    unsafe { core::slice::from_raw_parts(s, e as usize - s as usize) }
}

/// A fresh address space with `code` at TEXT (read-only, in a highmem page
/// written through kmap_local, as exec will place it), a data area and a
/// stack area, both demand-paged: nothing is mapped there until touched.
pub(super) fn address_space_with(code: &[u8]) -> Arc<MmStruct> {
    assert!(code.len() <= PAGE_SIZE);
    let mm = MmStruct::new().expect("a page directory");
    let text = alloc_pages(GFP_HIGHUSER | __GFP_ZERO, 0).expect("a text page");
    let v = kmap_local_page(text);
    // SAFETY: v maps the whole page; code fits in it.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), v as *mut u8, code.len()) };
    kunmap_local(v);
    mm.map_page(TEXT, text, false).expect("map text");
    {
        let mut map = mm.mmap_lock();
        let text_flags = VmFlags::VM_READ | VmFlags::VM_EXEC | VmFlags::VM_MAYREAD | VmFlags::VM_MAYEXEC;
        map.insert_vm_struct(VmArea::new(TEXT, TEXT + PAGE_SIZE, text_flags, VmaKind::Anonymous, TEXT >> 12).unwrap()).unwrap();
        let data = VmArea::new(DATA, DATA + DATA_PAGES * PAGE_SIZE, VmFlags::VM_DATA_DEFAULT_FLAGS, VmaKind::Anonymous, DATA >> 12);
        map.insert_vm_struct(data.unwrap()).unwrap();
        let stack = VmArea::new(TASK_SIZE - 4 * PAGE_SIZE, TASK_SIZE, VmFlags::VM_STACK_FLAGS, VmaKind::Anonymous, (TASK_SIZE >> 12) - 4);
        map.insert_vm_struct(stack.unwrap()).unwrap();
    }
    Arc::new(mm)
}

/// Make each CPU in `mask` switch to another address space: a task on it
/// loads a fresh empty one and ends. The CPU's reference on the page
/// directory it had loaded (lazily, for the kernel threads that ran there
/// since) is let go of (mmdrop); the fresh one is then borrowed instead.
pub(super) fn switch_cpus_to_another_mm(mask: u32) {
    for cpu in (0..mm::layout::NR_CPUS).filter(|c| mask & (1 << c) != 0) {
        crate::sched::spawn_on(cpu, "other-mm", || {
            crate::sched::current().set_mm(Arc::new(MmStruct::new().expect("a page directory")));
        })
        .join();
    }
}

/// The CPUs whose CR3 holds the page directory of `core` (lazily: a
/// kernel thread runs there on it).
pub(super) fn cpus_with_loaded(core: *const crate::mm::mm_types::MmCore) -> u32 {
    (0..mm::layout::NR_CPUS).filter(|&c| core::ptr::eq(crate::arch::tlb::loaded_mm(c), core)).fold(0, |m, c| m | 1 << c)
}

/// Run `code` as a user program in a task of its own; its wait status.
/// Afterwards, check that the program's address space was let go of and
/// that every page it had (data pages, page tables) went back to the
/// allocator when its last user let go, and the page directory once the
/// CPUs still having it loaded (lazy TLB) switched to another mm: the
/// pages themselves are checked, not a global count that other CPUs
/// change meanwhile.
pub(super) fn run_user(name: &str, code: &[u8]) -> i32 {
    run_user_in(None, name, code, false)
}

/// [`run_user`], the program pinned to CPU `cpu` if given, and its task
/// marked `make_it_fail` (fault injection's task filter) from its first
/// user instruction when `make_it_fail`.
pub(super) fn run_user_in(cpu: Option<usize>, name: &str, code: &[u8], make_it_fail: bool) -> i32 {
    let mm = address_space_with(code);
    let ours = mm.clone();
    let body = move || {
        let me = crate::sched::current();
        me.set_mm(mm);
        me.make_it_fail.store(make_it_fail, core::sync::atomic::Ordering::SeqCst);
        let regs = start_thread_regs(TEXT, TASK_SIZE);
        // SAFETY: the task's address space maps TEXT for user mode and has
        // a stack area; the top of this task's stack is unused (we run far
        // below it) and the task never comes back here.
        unsafe { start_user_mode(&regs, me.stack_top().expect("a task stack")) }
    };
    let status = match cpu {
        Some(cpu) => crate::sched::spawn_on(cpu, name, body),
        None => crate::sched::spawn(name, body),
    }
    .join();
    assert_eq!(Arc::strong_count(&ours), 1, "the task let go of its address space when it ended (exit_mm)");
    let (pages, tables) = ours.resident();
    let pgd = crate::mm::page_alloc::pfn_to_page(ours.pgd() >> 12);
    let core = Arc::as_ptr(ours.core());
    drop(ours);
    for page in pages.iter().chain(&tables) {
        assert_eq!(page.page_count(), 0, "pfn {:#x} was freed with the address space", crate::mm::page_alloc::page_to_pfn(page));
    }
    let count = pgd.page_count();
    let borrowers = cpus_with_loaded(core);
    assert!(count == 0 || borrowers != 0, "the page directory lives on only while some CPU has it loaded (count {count})");
    switch_cpus_to_another_mm(borrowers);
    assert_eq!(pgd.page_count(), 0, "the page directory was freed once no CPU had it loaded");
    status
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
    let killed = crate::arch::traps::USER_SIGNALS.load(core::sync::atomic::Ordering::SeqCst);
    // SAFETY: the symbols come from the assembly above.
    let status = run_user("segv", program(unsafe { &user_segv_start }, unsafe { &user_segv_end }));
    assert_eq!(status, 11, "killed by SIGSEGV");
    assert_eq!(crate::arch::traps::USER_SIGNALS.load(core::sync::atomic::Ordering::SeqCst), killed + 1);
    // run_user checked that every page of its address space was freed.
}

/// Catalogue U12/U13: a new page directory has an empty user half and the
/// kernel half of swapper_pg_dir; its user page tables are highmem
/// (HIGHPTE) when the machine has highmem; user PTEs carry the U/S bit.
/// Written against the geometry, for both flavours: 686, PGD entries 0..767
/// empty but for the text's and the stack's, 768..1023 swapper's; 686-pae,
/// PDPTEs 0..2 point at the address space's own preallocated PMD pages
/// (lowmem, only `_PAGE_PRESENT` set, as Linux's `pgd_prepopulate_pmd`),
/// PDPTE 3 is swapper's shared kernel PMD, and of the user PMD entries
/// only the text's and the stack's are present.
fn a_new_page_directory_shares_the_kernel_half_only() {
    use mm::layout::{KERNEL_PGD_BOUNDARY, PGDIR_SHIFT, PMD_SHIFT, PREALLOCATED_PMDS, PTRS_PER_PGD, USER_PMDS};
    let mm = address_space_with(&[0x90]);
    let pgd = mm.pgd();
    assert!(pgd.is_multiple_of(32) && (pgd as u64) < 1 << 32, "CR3's PGD: 32-byte aligned, below 4 GiB");
    let mut own_pmds = alloc::vec::Vec::new();
    for i in 0..PTRS_PER_PGD {
        let ours = crate::mm::pgtable::pgd_offset(pgd, i << PGDIR_SHIFT);
        let swapper = crate::mm::pgtable::pgd_offset(crate::mm::pgtable::swapper_pg_dir(), i << PGDIR_SHIFT);
        // SAFETY: both point into lowmem page directories.
        let (a, b) = unsafe { (ours.read_volatile(), swapper.read_volatile()) };
        if i >= KERNEL_PGD_BOUNDARY {
            assert_eq!(a, b, "kernel entry {i} is swapper's");
        } else if mm::pgtable_types::PAE {
            assert!(a.present(), "PDPTE {i}: a preallocated PMD page");
            assert_eq!(a.0 & mm::pgtable_types::PTE_FLAGS_MASK, mm::pgtable_types::PDPTE_FLAGS.bits(), "PDPTE {i} carries only P");
            assert!(!PageHighMem(crate::mm::page_alloc::pfn_to_page(a.pfn())), "PDPTE {i}: its PMD page is lowmem");
            assert!(b.is_none(), "swapper has no user PMD {i}");
            own_pmds.push(a.pfn());
        }
    }
    own_pmds.sort_unstable();
    own_pmds.dedup();
    assert_eq!(own_pmds.len(), PREALLOCATED_PMDS, "one PMD page of its own per user PGD entry");
    for i in 0..USER_PMDS {
        if i == TEXT >> PMD_SHIFT || i == STACK >> PMD_SHIFT {
            continue;
        }
        // SAFETY: the PMD entry of user address i << PMD_SHIFT, lowmem.
        let pmd = unsafe { mm.pmd_offset(i << PMD_SHIFT).read_volatile() };
        assert!(pmd.is_none(), "user PMD entry {i} is empty");
    }
    let text = mm.lookup(TEXT);
    assert!(text.present() && text.flags().contains(PteFlags::USER), "user PTE with U/S");
    assert!(!text.flags().contains(PteFlags::RW), "text read-only");
    assert!(mm.lookup(STACK).is_none() && mm.lookup(DATA).is_none(), "stack and data wait for their first touch");
    assert!(mm.lookup(TEXT + PAGE_SIZE).is_none());
    let tables = mm.resident().1;
    assert!(!tables.is_empty());
    if crate::mm::mm_types::userpte_gfp() == mm::gfp::GFP_KERNEL {
        assert!(tables.iter().all(|t| !PageHighMem(t)), "userpte=nohigh: user page tables in lowmem");
    } else if crate::tests::common::have_highmem() {
        assert!(tables.iter().all(|t| PageHighMem(t)), "HIGHPTE: user page tables in highmem");
    }
}

/// `pgd_free` gives back everything `pgd_alloc` took (Linux's `pgd_free`
/// -> `pgd_mop_up_pmds`): the page directory and, with PAE, the
/// `PREALLOCATED_PMDS` user PMD pages its PDPTEs 0..2 point at, but not
/// the shared kernel PMD under PDPTE 3, which is swapper's. 686: the
/// directory only (PREALLOCATED_PMDS is 0).
fn a_page_directory_and_its_preallocated_pmds_are_freed_with_the_address_space() {
    use mm::layout::{KERNEL_PGD_BOUNDARY, PGDIR_SHIFT, PREALLOCATED_PMDS};
    use crate::mm::page_alloc::pfn_to_page;
    assert_eq!(PREALLOCATED_PMDS, if mm::pgtable_types::PAE { 3 } else { 0 }, "Linux: KERNEL_PGD_BOUNDARY with PAE");
    let mm = MmStruct::new().expect("a page directory");
    let pgd = mm.pgd();
    let entry = |i: usize| {
        // SAFETY: entry i of a live lowmem PGD.
        unsafe { crate::mm::pgtable::pgd_offset(pgd, i << PGDIR_SHIFT).read_volatile() }
    };
    let pmds: alloc::vec::Vec<_> = (0..PREALLOCATED_PMDS).map(|i| pfn_to_page(entry(i).pfn())).collect();
    let kernel: alloc::vec::Vec<_> = (KERNEL_PGD_BOUNDARY..mm::layout::PTRS_PER_PGD).map(entry).collect();
    let dir = pfn_to_page(pgd >> 12);
    assert_eq!(dir.page_count(), 1, "the directory is allocated");
    for p in &pmds {
        assert_eq!(p.page_count(), 1, "each preallocated PMD page is allocated");
        assert!(!PageHighMem(p), "and lowmem");
    }
    assert!(mm.core().mm_cpumask() == 0, "never loaded: dropping the last reference frees it");
    drop(mm);
    assert_eq!(dir.page_count(), 0, "the directory was freed");
    for (i, p) in pmds.iter().enumerate() {
        assert_eq!(p.page_count(), 0, "PMD page {i} was freed with it");
    }
    // The kernel's entries of a new directory are still swapper's, so
    // the shared kernel PMD was left alone.
    let again = MmStruct::new().expect("a page directory");
    for (k, i) in (KERNEL_PGD_BOUNDARY..mm::layout::PTRS_PER_PGD).enumerate() {
        // SAFETY: entry i of a live lowmem PGD.
        let now = unsafe { crate::mm::pgtable::pgd_offset(again.pgd(), i << PGDIR_SHIFT).read_volatile() };
        assert_eq!(now, kernel[k], "kernel entry {i} unchanged");
        assert!(now.present());
    }
}

/// Catalogue U14 (kernel PDE propagation): a vmalloc mapping made after a
/// process's page directory was copied is visible through that page
/// directory. Linux either syncs new kernel PDEs into every pgd on
/// `pgd_list` or fixes them up in `vmalloc_fault`; ours needs neither,
/// because every kernel page table exists from boot (`paging_init`
/// preallocates them) and `pgd_alloc` copies their PDEs: the PDE that
/// covers the new mapping is in the process's directory already, unchanged
/// by the vmalloc, and the mapping reads through it when it is loaded.
fn a_vmalloc_mapping_made_after_a_process_is_visible_through_its_page_directory() {
    let mm = address_space_with(&[0x90]);
    // The kernel's PMD entries (686: PGD entries 768..1023; 686-pae: the
    // 512 entries of the shared kernel PMD page under PDPTE 3).
    let kernel_pmds = || -> alloc::vec::Vec<_> {
        (0..mm::layout::KERNEL_PTE_TABLES)
            // SAFETY: entries of a lowmem page directory or PMD page.
            .map(|i| unsafe { mm.pmd_offset(mm::layout::PAGE_OFFSET + (i << mm::layout::PMD_SHIFT)).read_volatile() })
            .collect()
    };
    let pdes_before = kernel_pmds();
    let v = crate::mm::vmalloc::vmalloc(3 * PAGE_SIZE).expect("vmalloc");
    for i in 0..3 {
        // SAFETY: v maps three writable pages.
        unsafe { ((v + i * PAGE_SIZE) as *mut u32).write_volatile(0x1400_0000 + i as u32) };
    }
    for (k, now) in kernel_pmds().into_iter().enumerate() {
        assert_eq!(now, pdes_before[k], "kernel PMD entry {k} unchanged by the vmalloc: no sync was needed");
    }
    for i in 0..3 {
        let a = v + i * PAGE_SIZE;
        // SAFETY: the process's PDE for a, a kernel page table (lowmem).
        let pde = unsafe { mm.pmd_offset(a).read_volatile() };
        assert!(pde.present(), "the process's page directory covers vmalloc address {a:#x}");
        let ptep = crate::mm::pgtable::pte_offset_map(pde, a);
        // SAFETY: ptep points into the mapped page table.
        let pte = unsafe { ptep.read_volatile() };
        crate::mm::pgtable::pte_unmap(ptep);
        assert_eq!(Some(pte.pfn()), crate::mm::vmalloc::vmalloc_to_pfn(a), "and maps the vmalloc'ed page");
    }
    // Loaded for real: the kernel reads the mapping through it.
    let me = crate::sched::current();
    me.set_mm(mm.clone());
    assert_eq!(crate::arch::cpu::read_cr3() & !0xfff, mm.pgd());
    for i in 0..3 {
        // SAFETY: v maps three pages.
        assert_eq!(unsafe { ((v + i * PAGE_SIZE) as *const u32).read_volatile() }, 0x1400_0000 + i as u32);
    }
    crate::mm::vmalloc::vfree(v);
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

/// U8, U9, U31 from user mode: the first read of untouched data sees zeros
/// (the shared zero page), the first write gets a fresh page, 16 pages
/// written one by one each fault in, the stack grows down on a touch below
/// its area, and `uname` into untouched stack faults in kernel mode inside
/// `copy_to_user`. Every page comes back when the program exits.
fn untouched_memory_is_paged_in_on_demand_and_given_back() {
    use crate::mm::memory::{ANON_FAULTS, ZERO_PAGE_FAULTS};
    use core::sync::atomic::Ordering::SeqCst;
    let (zero, anon) = (ZERO_PAGE_FAULTS.load(SeqCst), ANON_FAULTS.load(SeqCst));
    let wp = crate::mm::memory::WP_FAULTS.load(SeqCst);
    // SAFETY: the symbols come from the assembly above.
    let status = run_user("touch", program(unsafe { &user_touch_start }, unsafe { &user_touch_end }));
    assert_eq!(status, 0, "the program's own checks (20: zero page, 21: write, 22: uname, 23: its bytes): status {status:#x}");
    assert!(ZERO_PAGE_FAULTS.load(SeqCst) > zero, "a read fault was answered with the zero page");
    // The first data page went zero page -> write (do_wp_page); the other
    // 15 data pages and the 2 stack pages were first touched by a write.
    assert!(ANON_FAULTS.load(SeqCst) - anon >= 17, "{} anonymous faults", ANON_FAULTS.load(SeqCst) - anon);
    assert!(crate::mm::memory::WP_FAULTS.load(SeqCst) > wp, "the write after the read replaced the zero page");
    // run_user checked that every page, page table and the page directory
    // came back (the zero page is shared and never freed).
}

/// A write to an area without VM_WRITE ends the program with SIGSEGV
/// (Linux SEGV_ACCERR), whatever the page table says.
fn a_write_to_a_read_only_area_is_sigsegv() {
    // SAFETY: the symbols come from the assembly above.
    let status = run_user("wro", program(unsafe { &user_wro_start }, unsafe { &user_wro_end }));
    assert_eq!(status, 11);
}

/// U31: a touch far below the stack, past its size limit, does not grow
/// it: SIGSEGV.
fn a_touch_far_below_the_stack_is_sigsegv() {
    // SAFETY: the symbols come from the assembly above.
    let status = run_user("far", program(unsafe { &user_far_start }, unsafe { &user_far_end }));
    assert_eq!(status, 11);
}

/// U4 and U5, and the fault half of E53: with page faults allowed, a
/// `copy_to_user` into an untouched page of a writable area faults, the
/// fault allocates one zeroed highmem page, and the copy completes; inside
/// kmap_atomic (faults disabled) the same copy is not resolved: it comes
/// back short through the fixup, and nothing is allocated.
fn copy_to_user_faults_pages_in_but_not_inside_kmap_atomic() {
    use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mm = me.mm().unwrap();
    let page = crate::tests::common::any_page();
    let v = crate::mm::kmap_atomic::kmap_atomic(page);
    assert_eq!(copy_to_user(DATA, &[7u8; 64]), 64, "inside kmap_atomic nothing is copied");
    crate::mm::kmap_atomic::kunmap_atomic(v);
    assert!(mm.lookup(DATA).is_none(), "and nothing was faulted in");
    assert_eq!(copy_to_user(DATA, &[7u8; 64]), 0, "with faults allowed the copy completes");
    let pte = mm.lookup(DATA);
    assert!(pte.present() && pte.flags().contains(PteFlags::RW | PteFlags::USER));
    if crate::tests::common::have_highmem() {
        assert!(PageHighMem(crate::mm::page_alloc::pfn_to_page(pte.pfn())), "a highmem page");
    }
    let mut back = [0u8; 80];
    assert_eq!(copy_from_user(&mut back, DATA), 0);
    assert!(back[..64].iter().all(|&b| b == 7) && back[64..].iter().all(|&b| b == 0), "the bytes, then zeros");
    crate::tests::common::free_page(page);
}

/// The user copy is Linux's `__copy_user`: head bytes up to an aligned
/// destination, dwords, tail bytes, each with its own fixup
/// (`extable::copy_with_fixup`). Copy up to the end of the data area (the
/// page after it has no VMA) from every destination alignment and with the
/// fault landing in the head, in the dwords and in the tail: `copy_to_user`
/// returns exactly the bytes past the end and every byte before it
/// arrived. `copy_from_user` from there returns at most three bytes more
/// than exact (a dword straddling the end, as in Linux), the bytes it
/// counts as copied are right, and the rest of the buffer is zero.
fn a_user_copy_stops_at_an_unmapped_page_in_each_of_its_three_parts() {
    use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let end = DATA + DATA_PAGES * PAGE_SIZE;
    let src: [u8; 64] = core::array::from_fn(|i| i as u8 + 1);
    for len in [3usize, 7, 8, 9, 13, 20, 37, 64] {
        for past in 1..=len {
            let dst = end - (len - past);
            let inside = len - past;
            // Clear what we will look at, then copy across the end.
            assert_eq!(copy_to_user(end - 64, &[0u8; 64]), 0);
            assert_eq!(copy_to_user(dst, &src[..len]), past, "copy_to_user of {len} at {dst:#x}: exactly the {past} bytes past the end are left");
            let mut back = [0u8; 64];
            assert_eq!(copy_from_user(&mut back[..inside], dst), 0);
            assert_eq!(&back[..inside], &src[..inside], "the bytes before the end arrived ({len} at {dst:#x})");
            let mut got = [0xAAu8; 64];
            let left = copy_from_user(&mut got[..len], dst);
            assert!(left >= past && left <= past + 3, "copy_from_user of {len} at {dst:#x} left {left}, {past} expected (+3 at most)");
            assert_eq!(&got[..len - left], &src[..len - left], "what copy_from_user counts as copied is right");
            assert!(got[len - left..len].iter().all(|&b| b == 0), "the uncopied tail is zeroed");
        }
    }
}

/// The seed threads' claim about kmap_local, for real: "It's valid to take
/// pagefaults in a kmap_local region". Map a highmem page with kmap_local,
/// copy it to an untouched user page; the copy faults, the fault sleeps
/// (forced, 20 ms), and meanwhile another task on the same CPU maps a
/// different page at the same slot address. When we run again our slot is
/// restored, the copy completes, and the user page holds our data.
fn a_fault_inside_kmap_local_may_sleep_while_another_task_uses_the_slot() {
    use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
    use crate::tests::common::{fill_pattern, highmem_page, pattern};
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    let (ours, theirs) = (highmem_page(), highmem_page());
    fill_pattern(ours, 7);
    fill_pattern(theirs, 99);
    let me = crate::sched::current();
    let cpu = crate::arch::percpu::raw_smp_processor_id();
    crate::sched::core::set_current_affinity(1 << cpu);
    me.set_mm(address_space_with(&[0x90]));
    let go = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let other = {
        let (go, seen) = (go.clone(), seen.clone());
        crate::sched::spawn_on(cpu, "slot-sharer", move || {
            while !go.load(SeqCst) {
                crate::sched::yield_now();
            }
            let v = kmap_local_page(theirs);
            seen[0].store(v, SeqCst);
            seen[1].store(crate::tests::common::read_byte(v + 5) as usize, SeqCst);
            kunmap_local(v);
        })
    };
    let v = kmap_local_page(ours);
    crate::arch::mm::fault::FORCE_SLEEP_MS.store(20, SeqCst);
    go.store(true, SeqCst);
    // SAFETY: v maps PAGE_SIZE bytes of `ours` until kunmap_local.
    let left = copy_to_user(DATA, unsafe { core::slice::from_raw_parts(v as *const u8, PAGE_SIZE) });
    crate::arch::mm::fault::FORCE_SLEEP_MS.store(0, SeqCst);
    kunmap_local(v);
    other.join();
    assert_eq!(left, 0, "the copy completed after the fault");
    assert_eq!(seen[0].load(SeqCst), v, "the other task used the same slot address while we slept");
    assert_eq!(seen[1].load(SeqCst), pattern(99, 5) as usize, "and saw its own page there");
    let mut back = alloc::vec![0u8; PAGE_SIZE];
    assert_eq!(copy_from_user(&mut back, DATA), 0);
    assert!((0..PAGE_SIZE).all(|i| back[i] == pattern(7, i)), "the user page holds our page's bytes");
    crate::tests::common::free_page(ours);
    crate::tests::common::free_page(theirs);
}

/// U24/U25: after `dup_mmap` (fork's copy of the address space) a page
/// written before is mapped read-only in both, with two references; a
/// write fault in the child gives the child a new frame (highmem when
/// there is some) with the same bytes, and leaves the parent's page and
/// entry as they were.
fn fork_shares_pages_read_only_and_a_write_copies_one() {
    use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
    use core::sync::atomic::Ordering::SeqCst;
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let parent = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA, b"before fork"), 0);
    let before = parent.lookup(DATA);
    assert!(before.flags().contains(PteFlags::RW));
    let child = parent.dup_mmap().unwrap(); // and flushes the parent's TLB
    let (p, c) = (parent.lookup(DATA), child.lookup(DATA));
    assert_eq!(p.pfn(), c.pfn(), "one page, shared");
    assert!(!p.flags().contains(PteFlags::RW) && !c.flags().contains(PteFlags::RW), "read-only in both");
    let page = crate::mm::page_alloc::pfn_to_page(p.pfn());
    assert_eq!(page.page_count(), 2, "a reference each");
    let copies = crate::mm::memory::COW_COPIES.load(SeqCst);
    let vma = *child.mmap_lock().find_vma(DATA).unwrap();
    crate::mm::memory::handle_mm_fault(&child, &vma, DATA, crate::mm::memory::FaultFlags { write: true, user: true }).unwrap();
    let c2 = child.lookup(DATA);
    assert!(c2.flags().contains(PteFlags::RW) && c2.pfn() != p.pfn(), "the child's own writable frame");
    assert_eq!(crate::mm::memory::COW_COPIES.load(SeqCst), copies + 1);
    if crate::tests::common::have_highmem() {
        assert!(PageHighMem(crate::mm::page_alloc::pfn_to_page(c2.pfn())), "from highmem");
    }
    assert_eq!(page.page_count(), 1, "the parent's page has one user again");
    assert_eq!(parent.lookup(DATA), p, "the parent's entry is untouched (its next write reuses the page)");
    let mut back = [0u8; 11];
    assert_eq!(copy_from_user(&mut back, DATA), 0);
    assert_eq!(&back, b"before fork");
    // The copy holds the same bytes.
    let v = crate::mm::kmap_local::kmap_local_pfn(c2.pfn());
    // SAFETY: v maps the child's page.
    assert_eq!(unsafe { core::slice::from_raw_parts(v as *const u8, 11) }, b"before fork");
    crate::mm::kmap_local::kunmap_local(v);
    drop(child);
}

/// `nanosleep` reads its timespec through `copy_from_user`: NULL and a
/// kernel address give `-EFAULT`; nanoseconds out of range `-EINVAL`; a
/// good one sleeps at least that long and returns 0. (The `sleeper` user
/// program checks the rest under Linux and qemu-i386 too; qemu-i386
/// answers EINVAL for a bad pointer, so that case is checked here.)
fn nanosleep_refuses_bad_timespecs() {
    use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
    let call = |ptr: usize| {
        let mut regs = crate::arch::entry::PtRegs { bx: ptr as u32, orig_ax: nr::NANOSLEEP as u32, ..Default::default() };
        ia32_sys_call_table(nr::NANOSLEEP).unwrap()(&mut regs)
    };
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    assert_eq!(call(0), -crate::errno::EFAULT);
    assert_eq!(call(0xc000_0000), -crate::errno::EFAULT);
    let put = |sec: i32, nsec: i32| {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&sec.to_le_bytes());
        b[4..].copy_from_slice(&nsec.to_le_bytes());
        assert_eq!(crate::arch::lib::usercopy_32::copy_to_user(DATA, &b), 0);
    };
    put(0, 1_000_000_000);
    assert_eq!(call(DATA), -crate::errno::EINVAL);
    put(-1, 0);
    assert_eq!(call(DATA), -crate::errno::EINVAL);
    put(0, 20_000_000);
    let start = crate::sched::core::jiffies();
    assert_eq!(call(DATA), 0);
    assert!(crate::sched::core::jiffies() - start >= 19, "slept at least 20 ms");
}
