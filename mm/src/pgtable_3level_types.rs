//! The 3-level (PAE, `686-pae`, `CONFIG_HIGHMEM64G`) geometry: Linux's
//! `arch/x86/include/asm/pgtable-3level_types.h`.
//!
//! ```text
//!  virtual address   | 31 30 | 29 ...... 21 | 20 ...... 12 | 11 ..... 0 |
//!                    |  PGD  |  PMD index   |  PTE index   |   offset   |
//!                    | 2 bits|    9 bits    |    9 bits    |  12 bits   |
//!  CR3 -> PDPT (4 x 8 bytes) -> page directory (512 x 8) -> page table (512 x 8) -> page
//! ```
//!
//! Entries grow from 32 to 64 bits so that they can hold frame numbers
//! above 4 GiB (the CPU implements 36 physical address bits on the
//! machines this flavour was for: 64 GiB) and, in bit 63, NX. A table is
//! still one 4 KiB page, so it holds half as many entries: 512, 9 bits of
//! index per level instead of 10. Two levels of 9 plus the 12-bit offset
//! leave 2 bits, so the top level (Linux's PGD, Intel's *page-directory-
//! pointer table*) has 4 entries, one per GiB. The kernel's 1 GiB
//! (`VMSPLIT_3G`) is PGD entry 3; every address space shares its PMD page.
//!
//! A PMD entry now covers 2 MiB (`PMD_SIZE`), not 4: that is why the PKMAP
//! window, one page table's worth, halves to `LAST_PKMAP` = 512 pages.
//!
//! This module is always compiled (it is only constants), so the host
//! tests of the default flavour can check the PAE geometry too;
//! [`crate::pgtable_types`] re-exports it as *the* geometry under the
//! `pae` feature.
#![allow(non_camel_case_types)]

/// The value of a page-table entry (Linux `pteval_t`: `u64`).
pub type pteval_t = u64;
/// The value of a PMD entry.
pub type pmdval_t = u64;
/// The value of a PGD entry (a PDPTE).
pub type pgdval_t = u64;
/// A physical address (Linux `phys_addr_t`: `X86_PAE` selects
/// `PHYS_ADDR_T_64BIT`).
pub type phys_addr_t = u64;

/// Bits of a virtual address below the PGD (PDPT) index.
pub const PGDIR_SHIFT: usize = 30;
/// Entries in the PGD: the four PDPTEs.
pub const PTRS_PER_PGD: usize = 4;
/// Bits of a virtual address below the PMD index: a PMD entry maps 2 MiB.
pub const PMD_SHIFT: usize = 21;
/// Entries in a PMD page: 4 KiB / 8 bytes.
pub const PTRS_PER_PMD: usize = 512;
/// Entries in a page table: 4 KiB / 8 bytes.
pub const PTRS_PER_PTE: usize = 512;
/// Physical address bits an entry may hold, as far as the kernel's masks
/// are concerned (Linux `__PHYSICAL_MASK_SHIFT`, `page_32_types.h`): 52,
/// the architectural maximum, although a 32-bit `unsigned long` pfn
/// limits real frames to 44 bits and the CPUs to 36. Linux's comment:
/// "we need the full mask to make sure inverted PROT_NONE entries have
/// all the host bits set in a guest" (the L1TF mitigation stores a
/// `PROT_NONE` entry's frame inverted, so it points beyond any RAM; a
/// 36-bit mask would drop the inverted high bits and point it back at
/// real memory). We do not invert, but keep Linux's mask so that the bits
/// above 36 survive `pte_modify` as Linux's do.
pub const __PHYSICAL_MASK_SHIFT: usize = 52;
/// One past the highest frame (Linux `MAX_ARCH_PFN` =
/// `1ULL << (36 - PAGE_SHIFT)`, `e820.c`): 36 physical address bits,
/// 64 GiB, 2^24 frames.
pub const MAX_ARCH_PFN: u64 = 1 << (36 - 12);
/// Is this the PAE geometry?
pub const PAE: bool = true;

// A page table, a PMD page: one page each. The PGD is 32 bytes (Linux
// `PGD_ALIGN`); CR3 needs it 32-byte aligned and below 4 GiB.
const _: () = assert!(PTRS_PER_PTE * core::mem::size_of::<pteval_t>() == 4096);
const _: () = assert!(PTRS_PER_PMD * core::mem::size_of::<pmdval_t>() == 4096);
const _: () = assert!(PTRS_PER_PGD * core::mem::size_of::<pgdval_t>() == 32);
// 2 + 9 + 9 + 12 = 32.
const _: () = assert!(
    PTRS_PER_PGD.trailing_zeros() as usize
        + PTRS_PER_PMD.trailing_zeros() as usize
        + PTRS_PER_PTE.trailing_zeros() as usize
        + 12
        == 32
);
const _: () = assert!(PMD_SHIFT + PTRS_PER_PMD.trailing_zeros() as usize == PGDIR_SHIFT);
