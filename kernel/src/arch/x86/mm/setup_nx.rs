//! NX, the no-execute bit (Linux `head_32.S`'s `btsl $_EFER_NX`,
//! `x86_configure_nx` and `x86_report_nx`).
//!
//! ```text
//!  CPUID 0x80000001 EDX bit 20   the CPU has NX ("Execute Disable")
//!  EFER (MSR 0xc0000080) bit 11  NXE: the CPU honours bit 63 of a PAE entry;
//!                                before it is set, bit 63 is a *reserved*
//!                                bit and any access through such an entry
//!                                faults with X86_PF_RSVD
//!  __supported_pte_mask          has _PAGE_NX iff both hold: every entry
//!                                the kernel builds is masked with it
//! ```
//!
//! Only a PAE entry has bit 63: the 686 flavour's 32-bit entries have no
//! room for it, so there NX is never used (Linux: "NX (Execute Disable)
//! protection cannot be enabled: non-PAE kernel!").
//!
//! Every CPU sets `EFER.NXE` for itself (it is per CPU) before it walks an
//! entry with NX: the boot CPU here, in [`x86_configure_nx`], before
//! `paging_init` builds the first one (the early boot map has none, so
//! this is as early as Linux's `head_32.S` in effect); the other CPUs in
//! the AP trampoline (`smpboot.rs`), before their `mov cr0` turns paging on
//! with the kernel's tables, which do have NX entries.

use core::arch::asm;

/// Linux `MSR_EFER`.
pub const MSR_EFER: u32 = 0xc000_0080;
/// Linux `_EFER_NX`: the bit number of EFER.NXE.
pub const _EFER_NX: u32 = 11;
/// Linux `X86_FEATURE_NX`'s bit in CPUID 0x80000001 EDX.
pub const CPUID_80000001_EDX_NX: u32 = 1 << 20;

/// Does this CPU have NX (CPUID 0x80000001 EDX bit 20)? Asks the extended
/// leaf count first, as Linux's `head_32.S` does (`cpuid 0x80000000`).
pub fn cpu_has_nx() -> bool {
    let max = core::arch::x86::__cpuid(0x8000_0000).eax;
    max >= 0x8000_0001 && core::arch::x86::__cpuid(0x8000_0001).edx & CPUID_80000001_EDX_NX != 0
}

/// Read this CPU's EFER. Only on a CPU that has it: one with NX (or long
/// mode, or SYSCALL) in CPUID 0x80000001; the callers ask [`cpu_has_nx`].
pub fn read_efer() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdmsr of EFER at CPL 0 on a CPU that has it (see above);
    // reading has no side effect.
    unsafe { asm!("rdmsr", in("ecx") MSR_EFER, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (hi as u64) << 32 | lo as u64
}

/// Is EFER.NXE set on this CPU? False without NX (no EFER to read).
pub fn nxe_enabled() -> bool {
    cpu_has_nx() && read_efer() & (1 << _EFER_NX) != 0
}

/// Set EFER.NXE on this CPU (Linux `btsl $_EFER_NX`).
fn enable_nxe() {
    let efer = read_efer() | (1 << _EFER_NX);
    // SAFETY: the CPU has NX (the caller asked cpu_has_nx), so NXE is a
    // writable EFER bit; setting it only makes bit 63 of PAE entries mean
    // "no execute" instead of "reserved", and no entry has it yet.
    unsafe {
        asm!("wrmsr", in("ecx") MSR_EFER, in("eax") efer as u32, in("edx") (efer >> 32) as u32, options(nomem, nostack, preserves_flags))
    };
}

/// Should the APs set EFER.NXE in the trampoline? (What the boot CPU
/// decided: a PAE kernel on a CPU with NX.)
pub fn nx_in_use() -> bool {
    mm::pgtable_types::supports_nx()
}

/// Linux `x86_configure_nx` plus `x86_report_nx`, on the boot CPU, before
/// `paging_init`: detect NX, set EFER.NXE, put `_PAGE_NX` into
/// `__supported_pte_mask` (or keep it out), and say so in Linux's words.
pub fn x86_configure_nx() {
    let has_nx = cpu_has_nx();
    let use_nx = has_nx && cfg!(feature = "pae");
    if use_nx {
        enable_nxe();
    }
    mm::pgtable_types::set_supported_nx(use_nx);
    if !has_nx {
        log::info!("Notice: NX (Execute Disable) protection missing in CPU!");
    } else if use_nx {
        log::info!("NX (Execute Disable) protection: active");
    } else {
        log::info!("Notice: NX (Execute Disable) protection cannot be enabled: non-PAE kernel!");
    }
    if !cfg!(feature = "pae") {
        // Ours, not Linux's: say why whatever the CPU has.
        log::info!("NX: not active in the 686 flavour: a 32-bit page-table entry has no NX bit (boot the 686-pae flavour)");
    }
}
