//! Exceptions: each one raised on purpose, and its report checked.
//!
//! Every test but the int3 one ends the boot (a kernel-mode fault is fatal),
//! so the runner gives each its own boot with `test_one=`. The expected text
//! is checked line by line against the report the fault handler printed.

use core::arch::asm;
use core::hint::black_box;
use core::sync::atomic::Ordering;

use mm::layout::{PAGE_SIZE, VMALLOC_END};

use crate::arch::paging::PAGE_KERNEL_RO;
use crate::arch::traps::INT3_COUNT;
use crate::tools::ktest::Test;
use crate::mm::page_alloc;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(int3_is_a_trap_and_execution_continues),
    test_case!(divide_error_is_reported, panics = "Oops: divide error (#DE): 0000\nEIP: 0008:"),
    test_case!(overflow_is_reported, panics = "Oops: overflow (#OF)"),
    test_case!(bounds_is_reported, panics = "Oops: bounds (#BR)"),
    test_case!(invalid_opcode_is_reported, panics = "Oops: invalid opcode (#UD)\nEAX: "),
    test_case!(cr0_ts_set_by_mistake_is_warned_about_cleared_and_the_instruction_retried),
    test_case!(device_not_available_is_reported, panics = "unexpected #NM exception\nOops: device not available (#NM)"),
    test_case!(
        general_protection_decodes_the_selector,
        panics = "Oops: general protection fault (#GP): 0040\nselector index 8 in the GDT"
    ),
    test_case!(
        missing_idt_gate_is_reported,
        panics = "Oops: general protection fault (#GP): 020a\nselector index 65 in the IDT"
    ),
    test_case!(
        null_pointer_read_is_reported,
        panics = "BUG: kernel NULL pointer dereference, address: 0x00000000\n#PF: supervisor read access in kernel mode\n#PF: error_code(0x0000) - not-present page\nOops: page fault (#PF)"
    ),
    test_case!(
        page_fault_in_the_vmalloc_hole_is_reported,
        // The second guard page below PKMAP: 0xff7ff000 (686), 0xffbff000
        // (686-pae, whose PKMAP window is one 2 MiB PMD below 0xffe00000).
        panics = if mm::pgtable_types::PAE {
            "BUG: unable to handle page fault for address: 0xffbff120\n#PF: supervisor write access in kernel mode\n#PF: error_code(0x0002) - not-present page\nCR2: ffbff120"
        } else {
            "BUG: unable to handle page fault for address: 0xff7ff120\n#PF: supervisor write access in kernel mode\n#PF: error_code(0x0002) - not-present page\nCR2: ff7ff120"
        }
    ),
    test_case!(
        write_to_read_only_page_is_reported,
        panics = "#PF: supervisor write access in kernel mode\n#PF: error_code(0x0003) - permissions violation"
    ),
    test_case!(
        stack_overflow_hits_the_guard_page,
        panics = "Oops: double fault (#DF)\nkernel stack overflow: ESP 0x\nran into the guard page of the kernel stack"
    ),
];

fn int3_is_a_trap_and_execution_continues() {
    let before = INT3_COUNT.load(Ordering::Relaxed);
    // SAFETY: int3 traps to our handler, which logs and returns to the next
    // instruction; no register or memory is changed.
    unsafe { asm!("int3") };
    let x = black_box(41) + 1;
    assert_eq!(INT3_COUNT.load(Ordering::Relaxed), before + 1);
    assert_eq!(x, 42, "execution continued after the trap");
}

fn divide_error_is_reported() {
    // SAFETY: deliberately divides by zero; the #DE handler never returns.
    unsafe { asm!("xor edx, edx", "mov eax, 1", "xor ecx, ecx", "div ecx", out("eax") _, out("ecx") _, out("edx") _) };
}

fn overflow_is_reported() {
    // SAFETY: 0x7f + 1 overflows a signed byte, so `into` raises #OF.
    unsafe { asm!("mov al, 0x7f", "add al, 1", "into", out("eax") _) };
}

fn bounds_is_reported() {
    let bounds: [i32; 2] = [0, 10];
    // SAFETY: 20 lies outside [0, 10], so `bound` raises #BR.
    unsafe { asm!("mov eax, 20", "bound eax, [{0}]", in(reg) bounds.as_ptr(), out("eax") _) };
}

fn invalid_opcode_is_reported() {
    // SAFETY: ud2 is the architecturally undefined instruction: #UD.
    unsafe { asm!("ud2") };
}

/// Eager FPU switching never sets CR0.TS, so an #NM means a bug; with TS
/// set, Linux warns, clears it and retries the instruction
/// (`exc_device_not_available`), and so do we.
fn cr0_ts_set_by_mistake_is_warned_about_cleared_and_the_instruction_retried() {
    use crate::arch::fpu::cr0::TS;
    let (nm, reports) = (crate::arch::traps::NM_COUNT.load(Ordering::SeqCst), crate::debug::report_count());
    let flags = crate::arch::cpu::local_irq_save(); // no switch in between: stay on this CPU's CR0
    // SAFETY: with CR0.TS set, fninit raises #NM; the handler clears TS and
    // fninit runs again. The kernel is soft-float: nothing else uses the FPU.
    unsafe { asm!("mov eax, cr0", "or eax, 8", "mov cr0, eax", "fninit", out("eax") _) };
    let cr0 = crate::arch::cpu::read_cr0();
    crate::arch::cpu::local_irq_restore(flags);
    assert_eq!(crate::arch::traps::NM_COUNT.load(Ordering::SeqCst), nm + 1, "one #NM");
    assert_eq!(crate::debug::report_count(), reports + 1, "one warning");
    assert!(crate::debug::last_report().as_str().contains("CR0.TS was set"), "the warning: {}", crate::debug::last_report().as_str());
    assert_eq!(cr0 & TS, 0, "CR0.TS is clear again");
}

fn device_not_available_is_reported() {
    // SAFETY: with CR0.EM set (and TS clear), an x87 instruction raises
    // #NM, which no fix-up can cure: the oops. The kernel is built
    // soft-float, so nothing else uses the FPU.
    unsafe { asm!("mov eax, cr0", "or eax, 4", "mov cr0, eax", "fninit", out("eax") _) };
}

fn general_protection_decodes_the_selector() {
    // SAFETY: selector 0x40 (index 8) is past the end of our 8-entry GDT, so
    // loading it into a data segment register raises #GP(0x40). (gs, not
    // fs: fs holds the per-CPU segment, and the fault report still needs it.)
    unsafe { asm!("mov ax, 0x40", "mov gs, ax", out("eax") _) };
}

fn missing_idt_gate_is_reported() {
    // SAFETY: vector 65's IDT entry is empty (not a valid gate type), so
    // `int 65` raises #GP(65 * 8 + 2): the error code names the IDT entry.
    unsafe { asm!("int 65") };
}

fn null_pointer_read_is_reported() {
    let p = black_box(core::ptr::null::<u32>());
    // SAFETY: deliberately reads address 0, which nothing maps.
    let v = unsafe { p.read_volatile() };
    black_box(v);
}

fn page_fault_in_the_vmalloc_hole_is_reported() {
    // The two guard pages between vmalloc and PKMAP are never mapped.
    let p = black_box((VMALLOC_END + PAGE_SIZE + 0x120) as *mut u32);
    // SAFETY: deliberately writes to an unmapped kernel address.
    unsafe { p.write_volatile(1) };
}

fn write_to_read_only_page_is_reported() {
    // Map a fresh page read-only in the vmalloc area, then write to it.
    let page = page_alloc::alloc_pages(mm::gfp::GFP_KERNEL, 0).expect("a free page");
    let vaddr = crate::mm::vmalloc::vmap(&[page], PAGE_KERNEL_RO).expect("vmalloc space");
    // SAFETY: the page is mapped (read-only); reading it is fine.
    let v = unsafe { (vaddr as *const u32).read_volatile() };
    black_box(v);
    // SAFETY: deliberately writes through a read-only mapping.
    unsafe { (vaddr as *mut u32).write_volatile(1) };
}

#[inline(never)]
fn recurse(depth: usize) -> usize {
    let frame = black_box([depth; 64]);
    if black_box(true) { recurse(depth + 1) + frame[depth % 64] } else { 0 }
}

fn stack_overflow_hits_the_guard_page() {
    black_box(recurse(0));
}
