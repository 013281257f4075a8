//! Small CPU primitives: which CPU am I, interrupts on/off, halt, control
//! registers. Each wraps one or two instructions so that callers elsewhere
//! need no `unsafe` and no inline assembly.

use core::arch::asm;

/// EFLAGS.IF: maskable interrupts enabled.
pub const EFLAGS_IF: u32 = 1 << 9;

/// Read EFLAGS.
pub fn read_eflags() -> u32 {
    let flags: u32;
    // SAFETY: pushfd/pop only reads the flags register into a GPR.
    unsafe { asm!("pushfd", "pop {}", out(reg) flags, options(preserves_flags)) };
    flags
}

/// Are maskable interrupts disabled on this CPU?
pub fn irqs_disabled() -> bool {
    read_eflags() & EFLAGS_IF == 0
}

/// Disable interrupts and return the previous EFLAGS (Linux `local_irq_save`).
pub fn local_irq_save() -> u32 {
    let flags = read_eflags();
    // SAFETY: cli only masks interrupts; we run at CPL 0.
    unsafe { asm!("cli", options(nomem, nostack)) };
    flags
}

/// Restore the interrupt state saved by [`local_irq_save`].
pub fn local_irq_restore(flags: u32) {
    if flags & EFLAGS_IF != 0 {
        // SAFETY: sti re-enables interrupts that were enabled before the save.
        unsafe { asm!("sti", options(nomem, nostack)) };
    }
}

/// Enable interrupts.
pub fn local_irq_enable() {
    // SAFETY: sti at CPL 0; the IDT is loaded before anyone calls this.
    unsafe { asm!("sti", options(nomem, nostack)) };
}

/// Wait for the next interrupt.
pub fn halt() {
    // SAFETY: hlt only stops the CPU until an interrupt arrives.
    unsafe { asm!("hlt", options(nomem, nostack)) };
}

/// Stop this CPU for good: interrupts off, halt forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt parks the CPU; nothing else runs on it.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Control registers, for reports and for paging setup.
pub fn read_cr0() -> u32 {
    // SAFETY: reading CR0 at CPL 0 has no side effect.
    unsafe { x86::controlregs::cr0().bits() as u32 }
}

/// The address that caused the last page fault.
pub fn read_cr2() -> usize {
    // SAFETY: reading CR2 at CPL 0 has no side effect.
    unsafe { x86::controlregs::cr2() }
}

/// Physical address of the current page directory.
pub fn read_cr3() -> usize {
    // SAFETY: reading CR3 at CPL 0 has no side effect.
    unsafe { x86::controlregs::cr3() as usize }
}

/// CR4 feature bits.
pub fn read_cr4() -> u32 {
    // SAFETY: reading CR4 at CPL 0 has no side effect.
    unsafe { x86::controlregs::cr4().bits() as u32 }
}

/// Read the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc is unprivileged unless CR4.TSD is set; we never set it.
    unsafe { x86::time::rdtsc() }
}

/// Does this CPU support `feature` (a CPUID leaf 1 EDX bit)?
pub fn has_feature_edx(bit: u32) -> bool {
    let r = core::arch::x86::__cpuid(1);
    r.edx & (1 << bit) != 0
}

/// CPUID.1:EDX bits we care about.
pub mod feature {
    /// Page Size Extension: 4 MiB pages (used only by the early boot map).
    pub const PSE: u32 = 3;
    /// Time-stamp counter.
    pub const TSC: u32 = 4;
    /// Global pages: kernel mappings survive CR3 reloads.
    pub const PGE: u32 = 13;
}

/// Copy one 4 KiB page with `rep movsd` (Linux i386 `copy_page`; the
/// generic memcpy copies bytes and costs far more under TCG).
///
/// # Safety
/// `dst` and `src` must each be 4096 mapped, non-overlapping bytes.
pub unsafe fn copy_page(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both pages; esi is saved around the
    // copy because LLVM reserves it.
    unsafe {
        asm!(
            "push esi",
            "mov esi, {src}",
            "rep movsd",
            "pop esi",
            src = in(reg) src,
            inout("ecx") 1024usize => _,
            inout("edi") dst => _,
            options(preserves_flags)
        )
    };
}

/// Zero one 4 KiB page with `rep stosd` (Linux i386 `clear_page`).
///
/// # Safety
/// `dst` must be 4096 mapped bytes.
pub unsafe fn clear_page(dst: *mut u8) {
    // SAFETY: the caller guarantees the page.
    unsafe {
        asm!(
            "rep stosd",
            inout("ecx") 1024usize => _,
            inout("edi") dst => _,
            in("eax") 0u32,
            options(nostack, preserves_flags)
        )
    };
}
