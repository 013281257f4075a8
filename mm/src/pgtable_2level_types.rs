//! The 2-level (non-PAE, `686`) geometry: Linux's
//! `arch/x86/include/asm/pgtable-2level_types.h` and the folded PMD of
//! `include/asm-generic/pgtable-nopmd.h`.
//!
//! ```text
//!  virtual address   | 31 ...... 22 | 21 ...... 12 | 11 ..... 0 |
//!                    |  PGD index   |  PTE index   |   offset   |
//!                    |   10 bits    |   10 bits    |  12 bits   |
//!  CR3 -> page directory (1024 x 4 bytes) -> page table (1024 x 4 bytes) -> page
//! ```
//!
//! Linux describes every machine as five levels (pgd, p4d, pud, pmd, pte)
//! and *folds* the ones the hardware lacks: here the PUD and the PMD are
//! the page-directory entry itself (`PMD_SHIFT == PGDIR_SHIFT`,
//! `PTRS_PER_PMD == 1`), so generic code written for a PMD works unchanged,
//! and the "PMD" it sees covers 4 MiB. Each entry is 32 bits: 20 bits of
//! frame number reach 4 GiB of physical memory and no more.
//!
//! This module is always compiled (it is only constants), so host tests
//! and the boot crate's early page directory can name the 2-level geometry
//! explicitly; [`crate::pgtable_types`] re-exports it as *the* geometry
//! unless the `pae` feature is on.
#![allow(non_camel_case_types)]

/// The value of a page-table entry (Linux `pteval_t`: `unsigned long`).
pub type pteval_t = u32;
/// The value of a PMD entry: the PGD entry, folded.
pub type pmdval_t = u32;
/// The value of a page-directory entry.
pub type pgdval_t = u32;
/// A physical address (Linux `phys_addr_t`: 32 bits without
/// `CONFIG_PHYS_ADDR_T_64BIT`).
pub type phys_addr_t = u32;

/// Bits of a virtual address below the page-directory index.
pub const PGDIR_SHIFT: usize = 22;
/// Entries in the page directory.
pub const PTRS_PER_PGD: usize = 1024;
/// The PMD is folded into the PGD (`pgtable-nopmd.h`): same shift.
pub const PMD_SHIFT: usize = PGDIR_SHIFT;
/// One "PMD" entry per PGD entry: the PGD entry itself.
pub const PTRS_PER_PMD: usize = 1;
/// Entries in a page table: 4 KiB / 4 bytes.
pub const PTRS_PER_PTE: usize = 1024;
/// Physical address bits an entry can hold (Linux
/// `__PHYSICAL_MASK_SHIFT`, 32 for 2-level).
pub const __PHYSICAL_MASK_SHIFT: usize = 32;
/// One past the highest frame the hardware can map (Linux
/// `MAX_ARCH_PFN` = `MAX_NONPAE_PFN`): 4 GiB.
pub const MAX_ARCH_PFN: u64 = 1 << 20;
/// Is this the PAE geometry?
pub const PAE: bool = false;

// A page table is one page, and a page directory too.
const _: () = assert!(PTRS_PER_PTE * core::mem::size_of::<pteval_t>() == 4096);
const _: () = assert!(PTRS_PER_PGD * core::mem::size_of::<pgdval_t>() == 4096);
// 10 + 10 + 12 = 32: the three fields cover the whole address.
const _: () = assert!(PTRS_PER_PGD.trailing_zeros() as usize + PTRS_PER_PTE.trailing_zeros() as usize + 12 == 32);
