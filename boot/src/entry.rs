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
//! 1. turn on paging with [`EARLY_PGDIR`]: 4 MiB (PSE) pages that map
//!    physical `0..896 MiB` both at `PAGE_OFFSET` (the direct map) and, for the
//!    first 8 MiB, at the same address (identity), because the instruction
//!    right after `mov cr0` is still fetched from a low address;
//! 2. jump to the higher half, switch to the boot stack, and call
//!    `start_kernel(magic, info_phys)` in the kernel crate.
//!
//! The early mapping is thrown away as soon as `paging_init` has built the
//! real page tables (`swapper_pg_dir`, 4 KiB pages, see `kernel::mm::init`).

use core::arch::global_asm;
use mm::layout::{MAXMEM, PAGE_OFFSET, PAGE_SIZE};
// The early map is 2-level in both flavours, so it names that geometry
// explicitly (not `mm::pgtable_types`, which is the flavour's). For the
// PAE flavour this is what must change first: `_start` must build a PDPT
// and a PMD page of 2 MiB pages and set CR4.PAE before CR0.PG, because
// `paging_init`'s PAE tables cannot be loaded into a non-PAE CR3.
use mm::pgtable_2level_types::{PGDIR_SHIFT, PMD_SHIFT, PTRS_PER_PGD};

/// 4 MiB: one 2-level PDE's page with PSE.
const PMD_SIZE: usize = 1 << PMD_SHIFT;

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

/// A page directory: 1024 entries, page aligned (CR3 needs that).
#[repr(C, align(4096))]
pub struct EarlyPageDir([u32; PTRS_PER_PGD]);

/// PDE bits for a present, writable, 4 MiB (PSE) kernel page.
const PDE_PRESENT: u32 = 1 << 0;
const PDE_WRITE: u32 = 1 << 1;
const PDE_PSE: u32 = 1 << 7;

/// How much the identity mapping covers: enough for `.boot`, which sits at
/// 1 MiB. It is only used for the few instructions before the far jump.
const IDENTITY_BYTES: usize = 8 << 20;

const fn early_pgdir() -> EarlyPageDir {
    let mut pgd = [0u32; PTRS_PER_PGD];
    let flags = PDE_PRESENT | PDE_WRITE | PDE_PSE;
    let mut i = 0;
    while i < MAXMEM / PMD_SIZE {
        let phys = (i * PMD_SIZE) as u32;
        pgd[(PAGE_OFFSET >> PGDIR_SHIFT) + i] = phys | flags;
        if i * PMD_SIZE < IDENTITY_BYTES {
            pgd[i] = phys | flags;
        }
        i += 1;
    }
    EarlyPageDir(pgd)
}

/// The boot-time page directory, computed at compile time. It lives in the
/// low-linked `.boot.data` section so `_start` can load its physical address
/// into CR3 before paging is on.
#[used]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".boot.data")]
pub static EARLY_PGDIR: EarlyPageDir = early_pgdir();

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

    mov eax, cr4
    or eax, {cr4_pse}               // allow 4 MiB pages in the early map
    mov cr4, eax
    mov eax, offset {pgdir}         // .boot.data is linked low: a physical address
    mov cr3, eax
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
    cr4_pse = const 1u32 << 4,
    cr0_pg_wp = const (1u32 << 31) | (1u32 << 16),
    pgdir = sym EARLY_PGDIR,
    stack = sym BOOT_STACK,
    stack_bytes = const core::mem::size_of::<BootStack>(),
    start_kernel = sym start_kernel,
);
