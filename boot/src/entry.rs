//! The first instructions the kernel runs, and the headers that get it loaded.
//!
//! Both bootloaders we support load our ELF segments at their *physical*
//! addresses (`AT(...)` in `linker.ld`) and jump to the ELF entry point with
//! paging off, in 32-bit protected mode with flat segments:
//!
//! * QEMU `-kernel` speaks only **multiboot 1**: it looks for the
//!   [`MULTIBOOT1_HEADER`] in the first 8 KiB of the file and passes
//!   `eax = 0x2BADB002`, `ebx = physical address of the info structure`.
//! * GRUB's `multiboot2` command looks for the [`MULTIBOOT2_HEADER`] in the
//!   first 32 KiB and passes `eax = 0x36D76289`, `ebx = info address`.
//!
//! One image carries both headers, so the same ELF boots either way.
//!
//! The kernel proper is *linked* in the higher half (virtual `0xC010_0000`
//! and up) but *runs* first at its load address (1 MiB), where every absolute
//! address in it would be wrong. So `_start` lives in the small `.boot`
//! section, which is linked at its load address. It does only what must
//! happen before Rust can run:
//!
//! 1. turn on paging with the early map: large pages that map physical
//!    `0..896 MiB` both at `PAGE_OFFSET` (the direct map) and, for the
//!    first 8 MiB, at the same address (identity), because the instruction
//!    right after `mov cr0` is still fetched from a low address. Its shape
//!    is the flavour's (Linux's `head_32.S` builds `initial_page_table` or,
//!    with PAE, `initial_pg_pmd`):
//!    * 686: [`EARLY_PGDIR`], one page directory of 4 MiB (PSE) pages,
//!      with CR4.PSE;
//!    * 686-pae: [`EARLY_PDPT`], a 4-entry PDPT whose entries 0 (identity)
//!      and 3 (the kernel's GiB) point at PMD pages of 2 MiB pages
//!      ([`EARLY_PMD_IDENT`], [`EARLY_PMD_KERNEL`]), with CR4.PAE, which
//!      must be set before CR0.PG: with PG on, CR4.PAE cannot change
//!      (Intel SDM 4.1.2), and it decides how CR3 is read;
//! 2. jump to the higher half, switch to the boot stack, and call
//!    `start_kernel(magic, info_phys)` in the kernel crate.
//!
//! The early mapping is thrown away as soon as `paging_init` has built the
//! real page tables (`swapper_pg_dir`, 4 KiB pages, see `kernel::mm::init`).

use core::arch::global_asm;
use mm::layout::{MAXMEM, PAGE_OFFSET, PAGE_SIZE};

use crate::{multiboot1, multiboot2};

/// The multiboot 1 header (Multiboot 0.6.96, section 3.1.1).
#[repr(C, align(4))]
pub struct Multiboot1Header {
    magic: u32,
    flags: u32,
    checksum: u32,
}

const MB1_FLAGS: u32 = multiboot1::PAGE_ALIGN | multiboot1::MEMORY_INFO;

/// Found by QEMU `-kernel`: page-aligned modules, and please give us a
/// memory map. No address fields: QEMU and GRUB read our ELF headers.
#[used]
#[unsafe(link_section = ".multiboot")]
pub static MULTIBOOT1_HEADER: Multiboot1Header = Multiboot1Header {
    magic: multiboot1::HEADER_MAGIC,
    flags: MB1_FLAGS,
    checksum: multiboot1::header_checksum(MB1_FLAGS),
};

/// The multiboot 2 header (Multiboot2 spec, section 3.1): a fixed part and a
/// list of tags; ours has only the end tag, which asks for nothing special.
#[repr(C, align(8))]
pub struct Multiboot2Header {
    magic: u32,
    architecture: u32,
    header_length: u32,
    checksum: u32,
    end_tag_type: u16,
    end_tag_flags: u16,
    end_tag_size: u32,
}

const MB2_LEN: u32 = core::mem::size_of::<Multiboot2Header>() as u32;

/// Found by GRUB's `multiboot2` command.
#[used]
#[unsafe(link_section = ".multiboot2")]
pub static MULTIBOOT2_HEADER: Multiboot2Header = Multiboot2Header {
    magic: multiboot2::HEADER_MAGIC,
    architecture: multiboot2::ARCHITECTURE_I386,
    header_length: MB2_LEN,
    checksum: multiboot2::header_checksum(multiboot2::ARCHITECTURE_I386, MB2_LEN),
    end_tag_type: 0,
    end_tag_flags: 0,
    end_tag_size: 8,
};

/// Large-page entry bits (the same low bits in a 2-level PDE and a PAE
/// PMD entry): present, writable, a large page (PS, bit 7).
const LARGE_PAGE_FLAGS: u32 = (1 << 0) | (1 << 1) | (1 << 7);

/// How much the identity mapping covers: enough for `.boot`, which sits at
/// 1 MiB. It is only used for the few instructions before the far jump.
const IDENTITY_BYTES: usize = 8 << 20;

#[cfg(not(feature = "pae"))]
mod early {
    //! The 686 early map: one page directory of 4 MiB pages. The geometry
    //! is named from `pgtable_2level_types` (this module exists only in
    //! that flavour).
    use super::{IDENTITY_BYTES, LARGE_PAGE_FLAGS, MAXMEM, PAGE_OFFSET};
    use mm::pgtable_2level_types::{PGDIR_SHIFT, PMD_SHIFT, PTRS_PER_PGD};

    /// 4 MiB: one 2-level PDE's page with PSE.
    const PMD_SIZE: usize = 1 << PMD_SHIFT;

    /// A page directory: 1024 entries, page aligned (CR3 needs that).
    #[repr(C, align(4096))]
    pub struct EarlyPageDir([u32; PTRS_PER_PGD]);

    const fn early_pgdir() -> EarlyPageDir {
        let mut pgd = [0u32; PTRS_PER_PGD];
        let mut i = 0;
        while i < MAXMEM / PMD_SIZE {
            let phys = (i * PMD_SIZE) as u32;
            pgd[(PAGE_OFFSET >> PGDIR_SHIFT) + i] = phys | LARGE_PAGE_FLAGS;
            if i * PMD_SIZE < IDENTITY_BYTES {
                pgd[i] = phys | LARGE_PAGE_FLAGS;
            }
            i += 1;
        }
        EarlyPageDir(pgd)
    }

    /// The boot-time page directory, computed at compile time. It lives in
    /// the low-linked `.boot.data` section so `_start` can load its
    /// physical address into CR3 before paging is on.
    #[used]
    #[unsafe(no_mangle)]
    #[unsafe(link_section = ".boot.data")]
    pub static EARLY_PGDIR: EarlyPageDir = early_pgdir();

    // Paging on, 686: CR4.PSE for the 4 MiB pages, CR3 = the directory.
    core::arch::global_asm!(
        r#"
        .section .boot.text, "ax"
        .code32
        .global early_paging_on
    early_paging_on:
        mov eax, cr4
        or eax, {cr4_pse}
        mov cr4, eax
        mov eax, offset {pgdir}         // .boot.data is linked low: a physical address
        mov cr3, eax
        jmp early_paging_cr3_loaded
        "#,
        cr4_pse = const 1u32 << 4,
        pgdir = sym EARLY_PGDIR,
    );
}

#[cfg(feature = "pae")]
mod early {
    //! The 686-pae early map: a PDPT and two PMD pages of 2 MiB pages.
    //! The geometry is named from `pgtable_3level_types`.
    use super::{IDENTITY_BYTES, LARGE_PAGE_FLAGS, MAXMEM, PAGE_OFFSET};
    use mm::pgtable_3level_types::{PGDIR_SHIFT, PMD_SHIFT, PTRS_PER_PGD, PTRS_PER_PMD};

    /// 2 MiB: one PAE PMD entry's page with PS.
    const PMD_SIZE: usize = 1 << PMD_SHIFT;

    /// A PMD page: 512 64-bit entries, page aligned.
    #[repr(C, align(4096))]
    pub struct EarlyPmd([u64; PTRS_PER_PMD]);

    /// The PDPT: 4 entries, 32-byte aligned (CR3 bits 31..5 hold its
    /// address under PAE), below 4 GiB (CR3 is 32 bits): both hold for
    /// anything in the image.
    #[repr(C, align(32))]
    pub struct EarlyPdpt([u64; PTRS_PER_PGD]);

    /// `count` 2 MiB pages from physical 0.
    const fn early_pmd(count: usize) -> EarlyPmd {
        let mut pmd = [0u64; PTRS_PER_PMD];
        let mut i = 0;
        while i < count {
            pmd[i] = (i * PMD_SIZE) as u64 | LARGE_PAGE_FLAGS as u64;
            i += 1;
        }
        EarlyPmd(pmd)
    }

    // The kernel's 896 MiB of direct map fit in its one PMD page (the
    // kernel's GiB is one PDPTE).
    const _: () = assert!(MAXMEM / PMD_SIZE <= PTRS_PER_PMD && PAGE_OFFSET >> PGDIR_SHIFT == 3);

    /// PDPTE 0's PMD page: the first 8 MiB, identity.
    #[used]
    #[unsafe(no_mangle)]
    #[unsafe(link_section = ".boot.data")]
    pub static EARLY_PMD_IDENT: EarlyPmd = early_pmd(IDENTITY_BYTES / PMD_SIZE);

    /// PDPTE 3's PMD page: physical `0..MAXMEM` at `PAGE_OFFSET`.
    #[used]
    #[unsafe(no_mangle)]
    #[unsafe(link_section = ".boot.data")]
    pub static EARLY_PMD_KERNEL: EarlyPmd = early_pmd(MAXMEM / PMD_SIZE);

    /// The boot-time PDPT. Its entries hold the PMD pages' physical
    /// addresses, which a constant cannot name (a `static`'s address is
    /// not a compile-time integer), so `_start` fills them, with paging
    /// still off. Only `_start` touches it.
    #[used]
    #[unsafe(no_mangle)]
    #[unsafe(link_section = ".boot.data")]
    pub static mut EARLY_PDPT: EarlyPdpt = EarlyPdpt([0; PTRS_PER_PGD]);

    // Paging on, 686-pae. A PDPTE holds only P (Linux's `PGD_IDENT_ATTR`
    // is 0x001): RW, US and PS are reserved there, and a set reserved bit
    // makes the `mov cr3` itself fault (#GP), because the CPU loads all
    // four PDPTEs at that moment. The 2 MiB pages need no CR4.PSE: PS is
    // always honoured in a PAE PMD entry.
    core::arch::global_asm!(
        r#"
        .section .boot.text, "ax"
        .code32
        .global early_paging_on
    early_paging_on:
        mov dword ptr [{pdpt}], offset {pmd_ident} + 1
        mov dword ptr [{pdpt} + 4], 0
        mov dword ptr [{pdpt} + 24], offset {pmd_kernel} + 1
        mov dword ptr [{pdpt} + 28], 0
        mov eax, cr4
        or eax, {cr4_pae}
        mov cr4, eax
        mov eax, offset {pdpt}          // .boot.data is linked low: a physical address
        mov cr3, eax
        jmp early_paging_cr3_loaded
        "#,
        cr4_pae = const 1u32 << 5,
        pdpt = sym EARLY_PDPT,
        pmd_ident = sym EARLY_PMD_IDENT,
        pmd_kernel = sym EARLY_PMD_KERNEL,
    );
}

#[cfg(not(feature = "pae"))]
pub use early::EARLY_PGDIR;
#[cfg(feature = "pae")]
pub use early::{EARLY_PDPT, EARLY_PMD_IDENT, EARLY_PMD_KERNEL};

/// Size of the boot CPU's first stack: the one `start_kernel`, and the test
/// suite of the foundation issue, run on.
pub const BOOT_STACK_SIZE: usize = 32 * 1024;

/// The boot stack with a guard page below it. `paging_init` unmaps the guard
/// page, so running off the bottom of the stack faults instead of silently
/// corrupting whatever lies below; the fault then becomes a double fault,
/// which runs on its own stack and reports the overflow.
#[repr(C, align(4096))]
pub struct BootStack {
    /// Never mapped once paging_init has run.
    pub guard: [u8; PAGE_SIZE],
    /// The stack proper; it grows down from its end.
    pub stack: [u8; BOOT_STACK_SIZE],
}

/// The boot stack (in `.bss`). Only `_start` writes its address anywhere;
/// Rust code reads just its address, through [`boot_stack_guard`].
#[unsafe(no_mangle)]
pub static mut BOOT_STACK: BootStack =
    BootStack { guard: [0; PAGE_SIZE], stack: [0; BOOT_STACK_SIZE] };

/// Virtual address of the boot stack's guard page.
pub fn boot_stack_guard() -> usize {
    core::ptr::addr_of!(BOOT_STACK) as usize
}

/// Virtual `[bottom, top)` of the usable boot stack.
pub fn boot_stack_range() -> (usize, usize) {
    let bottom = boot_stack_guard() + PAGE_SIZE;
    (bottom, bottom + BOOT_STACK_SIZE)
}

unsafe extern "C" {
    /// The kernel's C-ABI entry point, defined in the kernel crate.
    fn start_kernel(magic: u32, info_phys: u32) -> !;
}

global_asm!(
    r#"
    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    mov esi, eax                    // bootloader magic
    mov edi, ebx                    // physical address of its info structure

    jmp early_paging_on             // the flavour's tables, CR4 and CR3 (module `early`)
    .global early_paging_cr3_loaded
early_paging_cr3_loaded:
    mov eax, cr0
    or eax, {cr0_pg_wp}             // paging on; ring 0 honours read-only pages
    mov cr0, eax

    mov eax, offset boot_higher_half // an absolute, higher-half address
    jmp eax

    .section .text.boot_high, "ax"
boot_higher_half:
    mov esp, offset {stack} + {stack_bytes}
    xor ebp, ebp                    // end of the frame-pointer chain for backtraces
    push edi
    push esi
    call {start_kernel}
3:  hlt
    jmp 3b
    "#,
    cr0_pg_wp = const (1u32 << 31) | (1u32 << 16),
    stack = sym BOOT_STACK,
    stack_bytes = const core::mem::size_of::<BootStack>(),
    start_kernel = sym start_kernel,
);
