//! Starting the other CPUs (Linux `arch/x86/kernel/smpboot.c` and
//! `realmode/rm/trampoline_32.S`).
//!
//! An application processor (AP) wakes up the way the boot CPU did at
//! power-on: in 16-bit real mode, no paging. The boot CPU sends it an INIT
//! IPI, then a STARTUP IPI whose vector byte names a 4 KiB page below 1 MiB
//! (vector 0x08 -> physical 0x8000) where it starts executing. So:
//!
//! 1. copy the trampoline below to physical `TRAMPOLINE_PHYS`, and fill its
//!    data words: the page directory, the stack, the entry point, the CPU
//!    number;
//! 2. INIT, wait 10 ms, STARTUP, wait 200 us, STARTUP again if needed
//!    (Intel's MP spec recipe);
//! 3. the trampoline loads a tiny GDT, enters protected mode, turns paging
//!    on with a page directory that maps both its own low page (identity; the
//!    next instruction is fetched from there) and the kernel's higher half,
//!    and jumps to `start_secondary` on its new stack;
//! 4. the AP switches to `swapper_pg_dir`, sets up its GDT, per-CPU block,
//!    IDT, FPU, local APIC and timer, says it is online and becomes idle.
//!
//! The boot CPU starts one AP at a time and waits for each, so a single set
//! of trampoline data words suffices.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use mm::gfp::{__GFP_ZERO, GFP_KERNEL};
use mm::layout::{NR_CPUS, PAGE_SHIFT, PAGE_SIZE, PTRS_PER_PGD, phys_to_virt, virt_to_phys};
use x86::controlregs::Cr0;

use super::gdt::{KERNEL_CODE_DESC, KERNEL_CS, KERNEL_DATA_DESC, KERNEL_DS};
use super::{apic, cpu, idt, tsc};
use crate::arch::paging::{self, PteFlags, pgd_t};
use crate::percpu::per_cpu;

/// Where the trampoline runs; the STARTUP vector is this >> PAGE_SHIFT.
pub const TRAMPOLINE_PHYS: usize = 0x8000;
// The STARTUP IPI names the start page in its 8-bit vector field, so the
// trampoline must start on a page boundary below 1 MiB.
const _: () = assert!(TRAMPOLINE_PHYS.is_multiple_of(PAGE_SIZE) && TRAMPOLINE_PHYS >> PAGE_SHIFT <= u8::MAX as usize);

// The trampoline's GDT holds the kernel's code and data segments at the
// indices of the kernel's own GDT (1 and 2), so the selectors are the same.
const _: () = assert!(KERNEL_CS == 1 << 3 && KERNEL_DS == 2 << 3);

/// The MP spec's wait after the INIT IPI (10 ms), before the first STARTUP.
const INIT_WAIT_US: u64 = 10_000;
/// The MP spec's wait after each STARTUP IPI (200 us).
const STARTUP_WAIT_US: u64 = 200;
/// STARTUP IPIs to send at most; the MP spec sends two (the first may be
/// lost on old hardware), we stop early once the AP has run a line of Rust.
const STARTUP_TRIES: usize = 2;
/// How long an AP gets to come online before it is left offline.
const AP_ONLINE_TIMEOUT_MS: u64 = 1000;

global_asm!(
    r#"
    .section .rodata.trampoline, "a"
    .balign 16
    .global trampoline_start
trampoline_start:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (tr_gdtr - trampoline_start)     // ds = cs: relative to the page
    movl %cr0, %eax
    orl ${cr0_pe}, %eax
    movl %eax, %cr0                        // protected mode, still 16-bit code
    ljmpl ${kernel_cs}, $({phys} + tr_pm - trampoline_start)
    .code32
tr_pm:
    movw ${kernel_ds}, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl ${cr4_paging}, %eax                // PSE (686) or PAE (686-pae): TRAMPOLINE_CR4
    movl %eax, %cr4
    movl ({phys} + tr_cr3 - trampoline_start), %eax
    movl %eax, %cr3
    movl ({phys} + tr_nx - trampoline_start), %eax
    testl %eax, %eax                       // NX in use (686-pae on an NX CPU)?
    jz 1f
    movl ${msr_efer}, %ecx                 // then EFER.NXE before paging: the
    rdmsr                                  // kernel's tables have NX entries,
    btsl ${efer_nx}, %eax                  // a reserved bit until NXE is set
    wrmsr                                  // (Linux head_32.S: btsl $_EFER_NX)
1:
    movl %cr0, %eax
    orl ${cr0_pg_wp}, %eax                 // paging on; ring 0 honours read-only pages
    movl %eax, %cr0
    movl ({phys} + tr_stack - trampoline_start), %esp
    movl ({phys} + tr_cpu - trampoline_start), %eax
    pushl %eax                             // start_secondary's argument
    pushl $0                               // its return address: it never returns
    movl ({phys} + tr_entry - trampoline_start), %eax
    jmp *%eax
    .balign 8
tr_gdt:
    .quad 0
    .quad {kernel_code}
    .quad {kernel_data}
tr_gdtr:
    .word tr_gdtr - tr_gdt - 1
    .long {phys} + tr_gdt - trampoline_start
    .balign 4
    .global tr_data
tr_data:
tr_cr3:   .long 0
tr_stack: .long 0
tr_entry: .long 0
tr_cpu:   .long 0
tr_nx:    .long 0
    .global trampoline_end
trampoline_end:
    .text
    "#,
    phys = const TRAMPOLINE_PHYS,
    cr0_pe = const Cr0::CR0_PROTECTED_MODE.bits(),
    cr0_pg_wp = const Cr0::CR0_ENABLE_PAGING.bits() | Cr0::CR0_WRITE_PROTECT.bits(),
    cr4_paging = const TRAMPOLINE_CR4,
    msr_efer = const crate::arch::setup_nx::MSR_EFER,
    efer_nx = const crate::arch::setup_nx::_EFER_NX,
    kernel_cs = const KERNEL_CS,
    kernel_ds = const KERNEL_DS,
    kernel_code = const KERNEL_CODE_DESC,
    kernel_data = const KERNEL_DATA_DESC,
    options(att_syntax)
);

unsafe extern "C" {
    static trampoline_start: u8;
    static trampoline_end: u8;
    static tr_data: u8;
}

/// The data words at the end of the trampoline, in order.
#[repr(C)]
struct TrampolineData {
    cr3: u32,
    stack: u32,
    entry: u32,
    cpu: u32,
    /// Non-zero: set EFER.NXE before paging (see `setup_nx`).
    nx: u32,
}

static AP_STARTED: AtomicBool = AtomicBool::new(false);

/// The CR4 bit the trampoline sets before paging: CR4.PSE for the 686
/// flavour's 4 MiB identity page; CR4.PAE for 686-pae, whose CR3 is a
/// PDPT (and must be read as one from the first `mov cr3` on: PAE is
/// set before PG, as in `_start`). A 2 MiB PAE page needs no PSE.
#[cfg(not(feature = "pae"))]
const TRAMPOLINE_CR4: u32 = paging::CR4_PSE;
/// See the 686 flavour's.
#[cfg(feature = "pae")]
const TRAMPOLINE_CR4: u32 = paging::CR4_PAE;

/// The trampoline's page directory: the kernel's entries of
/// `swapper_pg_dir` plus an identity mapping of the trampoline's page
/// (the instruction after `mov cr0` is fetched from there). Linux's
/// `trampoline_pgd` plays this part (`setup_real_mode`).
///
/// 686: a page directory whose entry 0 is one 4 MiB page at frame 0.
#[cfg(not(feature = "pae"))]
fn trampoline_pgd() -> usize {
    let pgd = crate::mm::page_alloc::__get_free_pages(GFP_KERNEL | __GFP_ZERO, 0).expect("a page for the trampoline page directory");
    let swapper = phys_to_virt(crate::mm::pgtable::swapper_pg_dir());
    // SAFETY: both are whole page directories in lowmem; the new one is
    // not loaded anywhere.
    unsafe {
        core::ptr::copy_nonoverlapping(swapper as *const pgd_t, pgd as *mut pgd_t, PTRS_PER_PGD);
        (pgd as *mut pgd_t).write(pgd_t(mm::pgtable_types::pfn_val(0, PteFlags::PRESENT | PteFlags::RW | PteFlags::PSE)));
    }
    virt_to_phys(pgd)
}

/// The trampoline's page directory, 686-pae: a PDPT (a lowmem page: 32-byte
/// aligned, below 4 GiB) whose entry 3 is swapper's (the shared kernel
/// PMD) and whose entry 0 points at a PMD page holding one 2 MiB page at
/// frame 0. PDPTE 0 carries only P, as every PDPTE.
#[cfg(feature = "pae")]
fn trampoline_pgd() -> usize {
    let get = || crate::mm::page_alloc::__get_free_pages(GFP_KERNEL | __GFP_ZERO, 0).expect("a page for the trampoline page tables");
    let (pgd, pmd) = (get(), get());
    let swapper = phys_to_virt(crate::mm::pgtable::swapper_pg_dir());
    // SAFETY: lowmem pages just allocated, not loaded anywhere; swapper's
    // PDPT has PTRS_PER_PGD entries.
    unsafe {
        core::ptr::copy_nonoverlapping(swapper as *const pgd_t, pgd as *mut pgd_t, PTRS_PER_PGD);
        (pmd as *mut mm::pgtable_types::pmd_t).write(mm::pgtable_types::pmd_t::new(0, PteFlags::PRESENT | PteFlags::RW | PteFlags::PSE));
        (pgd as *mut pgd_t).write(pgd_t(mm::pgtable_types::pfn_val(virt_to_phys(pmd) >> PAGE_SHIFT, mm::pgtable_types::PDPTE_FLAGS)));
    }
    virt_to_phys(pgd)
}

/// Copy the trampoline to low memory and give it its page directory.
fn setup_trampoline() -> *mut TrampolineData {
    let start = core::ptr::addr_of!(trampoline_start) as usize;
    let end = core::ptr::addr_of!(trampoline_end) as usize;
    let data_off = core::ptr::addr_of!(tr_data) as usize - start;
    assert!(end - start <= PAGE_SIZE, "the trampoline must fit in its page");
    let dst = phys_to_virt(TRAMPOLINE_PHYS);
    // SAFETY: the first MiB is reserved by memblock and never given to the
    // page allocator; the page at TRAMPOLINE_PHYS is ours.
    unsafe { core::ptr::copy_nonoverlapping(start as *const u8, dst as *mut u8, end - start) };
    let cr3 = trampoline_pgd();
    let data = (dst + data_off) as *mut TrampolineData;
    // SAFETY: the data words are inside the copied trampoline.
    unsafe {
        (*data).cr3 = cr3 as u32;
        (*data).nx = crate::arch::setup_nx::nx_in_use() as u32;
    }
    data
}

/// Start every enabled CPU the MADT lists, up to NR_CPUS. Returns how many
/// CPUs are online afterwards.
pub fn smp_boot_cpus(apic_ids: &[u32]) -> usize {
    let my_apic = apic::apic_id();
    let data = setup_trampoline();
    let mut next_cpu = 1;
    let mut parked = 0;
    for &id in apic_ids.iter().filter(|&&id| id != my_apic) {
        if next_cpu >= NR_CPUS {
            parked += 1;
            continue;
        }
        let cpu = next_cpu;
        next_cpu += 1;
        match boot_one(cpu, id, data) {
            Some(true) => log::info!("smpboot: CPU {cpu} (APIC ID {id}) is up"),
            Some(false) => {
                log::error!("smpboot: CPU {cpu} (APIC ID {id}) did not start within {AP_ONLINE_TIMEOUT_MS} ms; left offline");
            }
            // Linux `idle_init`: "SMP: fork_idle() failed for CPU %u", and
            // that CPU's bring-up fails; the boot goes on with the others.
            None => log::error!("smpboot: no memory for CPU {cpu}'s idle or IRQ stack (APIC ID {id}); left offline"),
        }
    }
    if parked > 0 {
        log::warn!("smp: {parked} CPU(s) beyond NR_CPUS={NR_CPUS} left parked");
    }
    let online = crate::smp::num_online_cpus();
    log::info!("smp: Brought up {online} CPU{}", if online == 1 { "" } else { "s" });
    online
}

/// Start one AP: whether it came online in time, or `None` (before
/// anything is sent to it) if its two stacks cannot be had.
fn boot_one(cpu: usize, apic_id: u32, data: *mut TrampolineData) -> Option<bool> {
    use crate::mm::stack::{alloc_kernel_stack, free_kernel_stack};
    let stack = alloc_kernel_stack(crate::sched::task::THREAD_SIZE)?;
    let Some(irq_stack) = alloc_kernel_stack(crate::sched::task::THREAD_SIZE) else {
        free_kernel_stack(stack);
        return None;
    };
    super::irq::set_irq_stack(cpu, irq_stack.top());
    per_cpu(cpu).apic_id.store(apic_id, Ordering::Relaxed);
    AP_STARTED.store(false, Ordering::SeqCst);
    // SAFETY: the trampoline page is ours and no AP is running it now.
    unsafe {
        (*data).stack = stack.top() as u32;
        (*data).entry = start_secondary as *const () as u32;
        (*data).cpu = cpu as u32;
    }
    stack.keep_forever(); // the AP's idle and IRQ stacks are never freed
    irq_stack.keep_forever();
    apic::send_init(apic_id);
    tsc::udelay(INIT_WAIT_US);
    for _ in 0..STARTUP_TRIES {
        apic::send_startup(apic_id, (TRAMPOLINE_PHYS >> PAGE_SHIFT) as u8);
        tsc::udelay(STARTUP_WAIT_US);
        if AP_STARTED.load(Ordering::SeqCst) {
            break;
        }
    }
    let deadline = cpu::rdtsc() + tsc::tsc_khz() * AP_ONLINE_TIMEOUT_MS;
    while !per_cpu(cpu).online.load(Ordering::Acquire) {
        if cpu::rdtsc() > deadline {
            return Some(false);
        }
        core::hint::spin_loop();
    }
    Some(true)
}

/// Where an AP arrives from the trampoline, on its own idle stack.
extern "C" fn start_secondary(cpu: u32) -> ! {
    AP_STARTED.store(true, Ordering::SeqCst);
    let cpu = cpu as usize;
    // SAFETY: swapper_pg_dir maps everything the trampoline's directory
    // mapped in the kernel half, which is all we use from here on.
    unsafe { paging::load_cr3(crate::mm::pgtable::swapper_pg_dir()) };
    if cpu::has_feature_edx(cpu::feature::PGE) {
        paging::enable_global_pages();
    }
    paging::flush_tlb_all_local();
    crate::percpu::setup_cpu(cpu);
    idt::load();
    super::fpu::fpu__init_cpu();
    apic::setup_local_apic();
    crate::sched::core::init_idle(cpu);
    apic::start_timer();
    crate::smp::set_cpu_online(cpu);
    cpu::local_irq_enable();
    crate::sched::core::cpu_idle()
}
