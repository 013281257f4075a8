//! Page-table entries: their types, their bits and the geometry of the
//! tables, one set of names for both flavours (Linux's
//! `arch/x86/include/asm/pgtable_types.h`, `page_types.h` and
//! `pgtable_32_types.h`).
//!
//! The flavour is chosen at build time, as Linux's `CONFIG_X86_PAE`:
//!
//! ```text
//!                    686 (default)                 686-pae (feature "pae")
//!                    pgtable_2level_types          pgtable_3level_types
//!  split             10 / 10 / 12                  2 / 9 / 9 / 12
//!  levels            PGD -> PTE (PMD folded)       PGD (PDPT) -> PMD -> PTE
//!  pteval_t          u32                           u64
//!  PTRS_PER_PGD      1024                          4
//!  PTRS_PER_PMD      1                             512
//!  PTRS_PER_PTE      1024                          512
//!  PMD_SIZE          4 MiB                         2 MiB
//!  frames            < 2^20 (4 GiB)                < 2^24 (64 GiB)
//!  _PAGE_NX          0 (no such bit)               bit 63
//! ```
//!
//! The low 12 bits mean the same in both (the 2-level picture; the PAE
//! entry has the same low word, frame bits 32..51 and NX in its high word):
//!
//! ```text
//!   63  62 .. 52  51 ........ 32 | 31 .......... 12 11 .. 9  8   7   6   5   4   3   2   1   0
//!  +---+--------+----------------+------------------+-------+---+---+---+---+---+---+---+---+---+
//!  |NX | avail  | frame (high)   |   frame (low)    | avail | G |PSE| D | A |PCD|PWT| U |RW | P |
//!  +---+--------+----------------+------------------+-------+---+---+---+---+---+---+---+---+---+
//!   \___________ PAE only: the high word ___________/\______________ the low word _______________/
//! ```
//!
//! Only [`pgtable_2level_types`](crate::pgtable_2level_types) or
//! [`pgtable_3level_types`](crate::pgtable_3level_types) differs; the
//! code below is written once against `pteval_t` and the `PTRS_PER_*`.
#![allow(non_camel_case_types)]

use core::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(feature = "pae"))]
pub use crate::pgtable_2level_types::*;
#[cfg(feature = "pae")]
pub use crate::pgtable_3level_types::*;

/// log2 of the page size (Linux `page_types.h`).
pub const PAGE_SHIFT: usize = 12;
/// One page: 4 KiB.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// Mask that rounds an address down to its page.
pub const PAGE_MASK: usize = !(PAGE_SIZE - 1);

/// Bytes mapped by one PMD entry, that is by one page table: 4 MiB
/// (2-level, where the PMD is the PGD entry) or 2 MiB (PAE).
pub const PMD_SIZE: usize = 1 << PMD_SHIFT;
/// Rounds an address down to the start of its page table's range.
pub const PMD_MASK: usize = !(PMD_SIZE - 1);
/// Bytes mapped by one PGD entry: 4 MiB or 1 GiB. (On a 32-bit host the
/// 2-level value fits; `1 << 30` too.)
pub const PGDIR_SIZE: usize = 1 << PGDIR_SHIFT;
/// Rounds an address down to the start of its PGD entry's range.
pub const PGDIR_MASK: usize = !(PGDIR_SIZE - 1);

// ---- the bits (Linux `_PAGE_BIT_*`) ----------------------------------------

/// The entry maps something; the CPU looks at no other bit when clear.
pub const _PAGE_PRESENT: pteval_t = 1 << 0;
/// Writable (ring 0 obeys it too: CR0.WP is set).
pub const _PAGE_RW: pteval_t = 1 << 1;
/// Reachable from ring 3.
pub const _PAGE_USER: pteval_t = 1 << 2;
/// Write-through caching.
pub const _PAGE_PWT: pteval_t = 1 << 3;
/// Caching disabled (device registers).
pub const _PAGE_PCD: pteval_t = 1 << 4;
/// Set by the CPU on any access through the entry.
pub const _PAGE_ACCESSED: pteval_t = 1 << 5;
/// Set by the CPU on a write through the entry.
pub const _PAGE_DIRTY: pteval_t = 1 << 6;
/// In a PMD (PGD without PAE) entry: a large page (4 MiB, or 2 MiB with
/// PAE) instead of a pointer to a page table.
pub const _PAGE_PSE: pteval_t = 1 << 7;
/// Survives CR3 reloads (kernel mappings, with CR4.PGE).
pub const _PAGE_GLOBAL: pteval_t = 1 << 8;
/// `_PAGE_GLOBAL`'s bit in a user entry whose `_PAGE_PRESENT` is clear: a
/// `PROT_NONE` page (see `crate::vma::pte`).
pub const _PAGE_PROTNONE: pteval_t = _PAGE_GLOBAL;
/// No-execute: bit 63, which only a 64-bit (PAE) entry has. Linux defines
/// it as 0 without PAE, so that code can OR it in unconditionally; so do
/// we. (Even with PAE the CPU honours it only once `EFER.NXE` is set, and
/// treats it as a reserved bit, a fault, before: Linux masks it out
/// through `__supported_pte_mask` on CPUs without NX.)
#[cfg(feature = "pae")]
pub const _PAGE_NX: pteval_t = 1 << 63;
/// No-execute: no such bit in a 32-bit entry (Linux: `_PAGE_NX` is 0).
#[cfg(not(feature = "pae"))]
pub const _PAGE_NX: pteval_t = 0;

/// Linux `__PHYSICAL_MASK`: the physical-address bits an entry may hold
/// (32, or 52 with PAE: see `__PHYSICAL_MASK_SHIFT` for why 52).
pub const __PHYSICAL_MASK: u64 = (1u64 << __PHYSICAL_MASK_SHIFT) - 1;
/// Linux `PHYSICAL_PAGE_MASK`: the page-aligned part of that.
pub const PHYSICAL_PAGE_MASK: u64 = !(PAGE_SIZE as u64 - 1) & __PHYSICAL_MASK;
/// Linux `PTE_PFN_MASK`: the frame bits of an entry, `0xffff_f000` or
/// `0x000f_ffff_ffff_f000`. NX (bit 63) and the software bits 52..62 are
/// outside it.
pub const PTE_PFN_MASK: pteval_t = PHYSICAL_PAGE_MASK as pteval_t;
/// Linux `PTE_FLAGS_MASK`: everything that is not the frame.
pub const PTE_FLAGS_MASK: pteval_t = !PTE_PFN_MASK;
/// Linux `_PAGE_CHG_MASK`: what `pte_modify` keeps from the old entry
/// (the frame, the caching bits, accessed and dirty); the rest, NX
/// included, comes from the new protection.
pub const _PAGE_CHG_MASK: pteval_t = PTE_PFN_MASK | _PAGE_PCD | _PAGE_PWT | _PAGE_ACCESSED | _PAGE_DIRTY;

bitflags::bitflags! {
    /// The flag bits of an entry at any level, as a set (Linux builds
    /// `pgprot_t` values from the `_PAGE_*` bits; one type serves here).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PteFlags: pteval_t {
        /// The entry maps something.
        const PRESENT  = _PAGE_PRESENT;
        /// Writable (ring 0 obeys this because CR0.WP is set).
        const RW       = _PAGE_RW;
        /// Reachable from ring 3.
        const USER     = _PAGE_USER;
        /// Write-through.
        const PWT      = _PAGE_PWT;
        /// Cache disabled (device registers).
        const PCD      = _PAGE_PCD;
        /// Set by the CPU on access.
        const ACCESSED = _PAGE_ACCESSED;
        /// Set by the CPU on write.
        const DIRTY    = _PAGE_DIRTY;
        /// In a PMD entry: a large page (only the early boot map uses these).
        const PSE      = _PAGE_PSE;
        /// Survives CR3 reloads (kernel mappings, with CR4.PGE).
        const GLOBAL   = _PAGE_GLOBAL;
        /// The same bit, in a user PTE whose PRESENT bit is clear: a
        /// `PROT_NONE` page (Linux `_PAGE_PROTNONE`). The frame number
        /// stays in the entry; the CPU faults on every access. See
        /// `mm::vma::pte` for the picture and the rules.
        const PROTNONE = _PAGE_PROTNONE;
        /// No-execute (PAE only: a bitflags flag must not be 0, so the
        /// 2-level flavour has no `NX` flag, only `_PAGE_NX` = 0).
        #[cfg(feature = "pae")]
        const NX       = _PAGE_NX;
    }
}

/// `_PAGE_NX` as a flag set: empty in the 2-level flavour, which has no
/// such bit (Linux's `_PAGE_NX` is 0 there, so its `__PAGE_KERNEL` has it
/// "unconditionally" and it vanishes).
#[cfg(feature = "pae")]
pub const PTE_FLAGS_NX: PteFlags = PteFlags::NX;
/// See the PAE flavour's.
#[cfg(not(feature = "pae"))]
pub const PTE_FLAGS_NX: PteFlags = PteFlags::empty();

/// `PAGE_KERNEL`: present, writable, global, kernel only, no-execute, and
/// (as Linux's `__PAGE_KERNEL`) already accessed and dirty, so the MMU
/// never has to write the PTE back on the first touch of a fresh mapping:
/// kmap_local makes fresh mappings all the time. `_PAGE_NX` is in it as in
/// Linux's (`__PAGE_KERNEL = __PP|__RW|0|___A|__NX|___D|0|___G`); on a CPU
/// without NX, [`massage_pgprot`] removes it from every entry built.
pub const PAGE_KERNEL: PteFlags = PteFlags::PRESENT
    .union(PteFlags::RW)
    .union(PteFlags::GLOBAL)
    .union(PteFlags::ACCESSED)
    .union(PteFlags::DIRTY)
    .union(PTE_FLAGS_NX);
/// `PAGE_KERNEL_EXEC`: `PAGE_KERNEL` without NX, for the kernel's text
/// (Linux's `__PAGE_KERNEL_EXEC`).
pub const PAGE_KERNEL_EXEC: PteFlags = PAGE_KERNEL.difference(PTE_FLAGS_NX);
/// `PAGE_KERNEL_RO`: present, read-only, global, accessed, no-execute.
pub const PAGE_KERNEL_RO: PteFlags =
    PteFlags::PRESENT.union(PteFlags::GLOBAL).union(PteFlags::ACCESSED).union(PTE_FLAGS_NX);
/// `PAGE_KERNEL_NOCACHE`: device memory.
pub const PAGE_KERNEL_NOCACHE: PteFlags = PAGE_KERNEL.union(PteFlags::PCD).union(PteFlags::PWT);
/// Flags of a PMD entry that points at a kernel page table. Linux's
/// `_KERNPG_TABLE` also sets accessed and dirty; ours lets the CPU set
/// accessed on first use (dirty means nothing in a non-leaf entry).
pub const PDE_KERNEL_TABLE: PteFlags = PteFlags::PRESENT.union(PteFlags::RW);
/// Flags of a PMD entry for a user page table: user-accessible and
/// writable (the PTEs decide what each page may do), as Linux's
/// `_PAGE_TABLE` (which has dirty too, meaningless here).
pub const PDE_USER_TABLE: PteFlags =
    PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::USER).union(PteFlags::ACCESSED);
/// Flags of a PAE PGD entry (a PDPTE): present and nothing else. In PAE
/// mode the CPU loads the four PDPTEs into registers at every CR3 load
/// and treats RW, USER, ACCESSED, DIRTY, PSE and GLOBAL there as
/// *reserved* (Intel SDM, "PDPTE registers"): setting one makes the CR3
/// load fault with #GP. Linux's `pud_populate` writes `__pa(pmd) |
/// _PAGE_PRESENT` for that reason ("almost everything apart from
/// _PAGE_PRESENT is reserved at the pmd (PDPT) level"), and
/// `PGD_IDENT_ATTR` is 0x001.
pub const PDPTE_FLAGS: PteFlags = PteFlags::PRESENT;

// ---- the entries ------------------------------------------------------------

/// A page-table entry (Linux `pte_t`). With PAE, Linux's is a union of
/// the 64-bit value and its two 32-bit halves `pte_low`/`pte_high`; the
/// halves matter only to the write orders in
/// [`pgtable_3level`](crate::pgtable_3level), which work on memory, not
/// on this value.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct pte_t(pub pteval_t);

/// A PMD entry (Linux `pmd_t`): points at a page table. Without PAE it is
/// the page-directory entry itself (the PMD level is folded).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct pmd_t(pub pmdval_t);

/// A PGD entry (Linux `pgd_t`): a page-directory entry (2-level, where it
/// is also the PMD) or a PDPTE (PAE).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct pgd_t(pub pgdval_t);

/// Linux `__pte`.
pub const fn __pte(val: pteval_t) -> pte_t {
    pte_t(val)
}
/// Linux `pte_val`.
pub const fn pte_val(pte: pte_t) -> pteval_t {
    pte.0
}
/// Linux `__pmd`.
pub const fn __pmd(val: pmdval_t) -> pmd_t {
    pmd_t(val)
}
/// Linux `pmd_val`.
pub const fn pmd_val(pmd: pmd_t) -> pmdval_t {
    pmd.0
}
/// Linux `__pgd`.
pub const fn __pgd(val: pgdval_t) -> pgd_t {
    pgd_t(val)
}
/// Linux `pgd_val`.
pub const fn pgd_val(pgd: pgd_t) -> pgdval_t {
    pgd.0
}

// ---- __supported_pte_mask ---------------------------------------------------

/// Does this CPU honour `_PAGE_NX` (CPUID 0x80000001 EDX bit 20, and
/// `EFER.NXE` set on every CPU)? Set once at boot by the kernel's
/// `x86_configure_nx`, before any entry with NX exists; false until then
/// (and for ever in the 686 flavour, where `_PAGE_NX` is 0 anyway). The
/// host tests model a CPU with NX: that is what Linux's tables describe;
/// the tests of the other CPU pass the mask explicitly
/// ([`massage_pgprot_with`], `vm_get_page_prot_with`).
static NX_SUPPORTED: AtomicBool = AtomicBool::new(cfg!(test));

/// Linux `__supported_pte_mask`: the entry bits this CPU supports, ANDed
/// into every present entry the kernel builds ([`massage_pgprot`], as
/// Linux's `pfn_pte`/`pfn_pmd`/`pte_modify` do through `check_pgprot`, and
/// `vm_get_page_prot`). Only `_PAGE_NX` ever leaves it here: on a CPU
/// without NX, bit 63 of a PAE entry is a *reserved* bit, and a present
/// entry with it set makes every access through it fault (error code
/// `X86_PF_RSVD`). Linux's also drops `_PAGE_GLOBAL` without CR4.PGE; ours
/// keeps it (the CPU ignores G without PGE, so nothing faults).
///
/// Linux's is a variable; ours is a function over one boolean, so that the
/// flavour without NX needs no 64-bit atomics.
#[allow(non_snake_case)]
pub fn __supported_pte_mask() -> pteval_t {
    if NX_SUPPORTED.load(Ordering::Relaxed) { !0 } else { !_PAGE_NX }
}

/// Is `_PAGE_NX` in [`__supported_pte_mask`]? (NX in use: a PAE kernel
/// on a CPU with NX, EFER.NXE set.)
pub fn supports_nx() -> bool {
    NX_SUPPORTED.load(Ordering::Relaxed)
}

/// Linux `pte_exec`, on an entry value: no `_PAGE_NX`. Always true
/// without PAE, where `_PAGE_NX` is 0: the mask is zero on purpose in that
/// flavour, hence the allowed lint.
#[allow(clippy::bad_bit_mask)]
pub const fn pteval_exec(val: pteval_t) -> bool {
    val & _PAGE_NX == 0
}

/// The kernel's `x86_configure_nx` stores its answer here: `_PAGE_NX` is in
/// [`__supported_pte_mask`] from now on iff `nx` (always false without PAE).
pub fn set_supported_nx(nx: bool) {
    NX_SUPPORTED.store(nx && _PAGE_NX != 0, Ordering::Relaxed);
}

/// Linux `massage_pgprot`: a present entry's flags ANDed with `mask`
/// (`__supported_pte_mask`); a not-present one (`PROT_NONE`, empty) is left
/// alone, as Linux's.
pub const fn massage_pgprot_with(val: pteval_t, mask: pteval_t) -> pteval_t {
    if val & _PAGE_PRESENT != 0 { val & mask } else { val }
}

/// Linux `massage_pgprot` with this CPU's [`__supported_pte_mask`].
pub fn massage_pgprot(val: pteval_t) -> pteval_t {
    massage_pgprot_with(val, __supported_pte_mask())
}

/// The entry value that maps frame `pfn` with `flags` (the body of
/// Linux's `pfn_pte`, `pfn_pmd`). The shift is done in `pteval_t`, so a
/// frame above 4 GiB keeps its high bits even where `usize` is 32 bits.
/// The flags go through [`massage_pgprot`]: without NX, no entry built
/// here has bit 63 (catalogue case P13).
pub fn pfn_val(pfn: usize, flags: PteFlags) -> pteval_t {
    (((pfn as pteval_t) << PAGE_SHIFT) & PTE_PFN_MASK) | massage_pgprot(flags.bits())
}
/// Linux `pfn_pte`.
pub fn pfn_pte(pfn: usize, flags: PteFlags) -> pte_t {
    pte_t(pfn_val(pfn, flags))
}
/// Linux `pte_pfn`.
pub const fn pte_pfn(pte: pte_t) -> usize {
    ((pte.0 & PTE_PFN_MASK) >> PAGE_SHIFT) as usize
}
/// Linux `pte_flags`.
pub const fn pte_flags(pte: pte_t) -> PteFlags {
    PteFlags::from_bits_truncate(pte.0 & PTE_FLAGS_MASK)
}
/// Linux `pte_none`: nothing at all there.
pub const fn pte_none(pte: pte_t) -> bool {
    pte.0 == 0
}
/// Linux `pte_present`: a page is mapped here, accessible to the CPU or
/// `PROT_NONE` (`_PAGE_PROTNONE`). What every walker of user page tables
/// asks: zap, exit, fork's copy, the fault path.
///
/// ```text
///  P=1                  present          pte_present
///  P=0 PROTNONE=1 pfn   PROT_NONE page   pte_present, pte_protnone
///  0                    nothing          pte_none
/// ```
pub const fn pte_present(pte: pte_t) -> bool {
    pte.0 & (_PAGE_PRESENT | _PAGE_PROTNONE) != 0
}
/// Linux `pte_protnone`: a page is there but the CPU may not touch it.
pub const fn pte_protnone(pte: pte_t) -> bool {
    pte.0 & (_PAGE_PRESENT | _PAGE_PROTNONE) == _PAGE_PROTNONE
}

/// Linux `pfn_pmd`.
pub fn pfn_pmd(pfn: usize, flags: PteFlags) -> pmd_t {
    pmd_t(pfn_val(pfn, flags) as pmdval_t)
}
/// Linux `pmd_pfn`: the frame of the page table (or large page).
pub const fn pmd_pfn(pmd: pmd_t) -> usize {
    ((pmd.0 as pteval_t & PTE_PFN_MASK) >> PAGE_SHIFT) as usize
}
/// Linux `pmd_flags`.
pub const fn pmd_flags(pmd: pmd_t) -> PteFlags {
    PteFlags::from_bits_truncate(pmd.0 as pteval_t & PTE_FLAGS_MASK)
}
/// Linux `pmd_none`.
pub const fn pmd_none(pmd: pmd_t) -> bool {
    pmd.0 == 0
}
/// Linux `pmd_present`: is there a page table (or a large page)? (Linux
/// also counts `_PAGE_PROTNONE` and `_PAGE_PSE` for huge pages; we have
/// none in user space.)
pub const fn pmd_present(pmd: pmd_t) -> bool {
    pmd.0 as pteval_t & _PAGE_PRESENT != 0
}
/// Linux `pgd_none`. Without PAE, Linux's `pgtable-nopmd.h` makes the
/// PGD level always "present" and asks the PMD (the same entry); with PAE
/// it is the PDPTE's own bit.
pub const fn pgd_none(pgd: pgd_t) -> bool {
    pgd.0 == 0
}
/// Linux `pgd_present` (for the PAE PDPTE; see [`pgd_none`]).
pub const fn pgd_present(pgd: pgd_t) -> bool {
    pgd.0 as pteval_t & _PAGE_PRESENT != 0
}
/// The frame of the PMD page a PDPTE points at (Linux `pud_pgtable`'s
/// arithmetic; PAE only has a meaning for it).
pub const fn pgd_pfn(pgd: pgd_t) -> usize {
    ((pgd.0 as pteval_t & PTE_PFN_MASK) >> PAGE_SHIFT) as usize
}

/// Linux `pgd_index`: which PGD entry maps `addr` (0..1023, or 0..3).
pub const fn pgd_index(addr: usize) -> usize {
    (addr >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1)
}
/// Linux `pmd_index`: which entry of its PMD page maps `addr` (always 0
/// without PAE: the folded PMD has one entry).
pub const fn pmd_index(addr: usize) -> usize {
    (addr >> PMD_SHIFT) & (PTRS_PER_PMD - 1)
}
/// Linux `pte_index`: which entry of its page table maps `addr`.
pub const fn pte_index(addr: usize) -> usize {
    (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)
}
/// Linux `pmd_addr_end`: the end of `addr`'s PMD range, or `end` if that
/// comes first (for walks that go one page table at a time).
pub const fn pmd_addr_end(addr: usize, end: usize) -> usize {
    let boundary = (addr & PMD_MASK).wrapping_add(PMD_SIZE);
    if boundary.wrapping_sub(1) < end.wrapping_sub(1) { boundary } else { end }
}

impl pte_t {
    /// The empty entry (Linux `__pte(0)`).
    pub const NONE: pte_t = pte_t(0);
    /// Map the page frame `pfn` with `flags` (Linux `pfn_pte`).
    pub fn new(pfn: usize, flags: PteFlags) -> pte_t {
        pfn_pte(pfn, flags)
    }
    /// Linux `pte_none`.
    pub const fn is_none(self) -> bool {
        pte_none(self)
    }
    /// Is the present bit set? (The CPU's view: for a user PTE, which may
    /// be `PROT_NONE`, the kernel asks [`pte_present`](Self::pte_present).)
    pub const fn present(self) -> bool {
        self.0 & _PAGE_PRESENT != 0
    }
    /// Linux [`pte_present`](fn@pte_present).
    pub const fn pte_present(self) -> bool {
        pte_present(self)
    }
    /// Linux [`pte_protnone`](fn@pte_protnone).
    pub const fn pte_protnone(self) -> bool {
        pte_protnone(self)
    }
    /// Linux `pte_pfn`.
    pub const fn pfn(self) -> usize {
        pte_pfn(self)
    }
    /// Linux `pte_flags`.
    pub const fn flags(self) -> PteFlags {
        pte_flags(self)
    }
}

impl pmd_t {
    /// The empty entry (Linux `__pmd(0)`).
    pub const NONE: pmd_t = pmd_t(0);
    /// An entry for the page table (or large page) at frame `pfn`.
    pub fn new(pfn: usize, flags: PteFlags) -> pmd_t {
        pfn_pmd(pfn, flags)
    }
    /// Linux `pmd_none`.
    pub const fn is_none(self) -> bool {
        pmd_none(self)
    }
    /// Linux `pmd_present`.
    pub const fn present(self) -> bool {
        pmd_present(self)
    }
    /// Linux `pmd_pfn`.
    pub const fn pfn(self) -> usize {
        pmd_pfn(self)
    }
    /// Linux `pmd_flags`.
    pub const fn flags(self) -> PteFlags {
        pmd_flags(self)
    }
}

impl pgd_t {
    /// The empty entry.
    pub const NONE: pgd_t = pgd_t(0);
    /// Linux `pgd_none`.
    pub const fn is_none(self) -> bool {
        pgd_none(self)
    }
    /// Linux `pgd_present`.
    pub const fn present(self) -> bool {
        pgd_present(self)
    }
    /// The frame the entry points at.
    pub const fn pfn(self) -> usize {
        pgd_pfn(self)
    }
}

// ---- compile-time proofs ------------------------------------------------------

// An entry is exactly its value: tables are arrays of these.
const _: () = assert!(core::mem::size_of::<pte_t>() == core::mem::size_of::<pteval_t>());
const _: () = assert!(core::mem::size_of::<pmd_t>() == core::mem::size_of::<pmdval_t>());
const _: () = assert!(core::mem::size_of::<pgd_t>() == core::mem::size_of::<pgdval_t>());
// Every frame the architecture allows fits in PTE_PFN_MASK, and a page
// table maps exactly one PMD.
const _: () = assert!((((MAX_ARCH_PFN - 1) << PAGE_SHIFT) as pteval_t) & !PTE_PFN_MASK == 0);
const _: () = assert!(PTRS_PER_PTE << PAGE_SHIFT == PMD_SIZE);
// PMD entries and PGD entries are the same width as PTEs, in both flavours
// (so `set_pmd` and `set_pte` write the same kind of 64-bit or 32-bit word).
const _: () = assert!(core::mem::size_of::<pmdval_t>() == core::mem::size_of::<pteval_t>());
// The flag bits and the frame bits do not overlap, and NX is not a frame bit.
const _: () = assert!(PteFlags::all().bits() & PTE_PFN_MASK == 0);
const _: () = assert!(_PAGE_NX & PTE_PFN_MASK == 0);
// The 4 GiB / 64 GiB ends of the two flavours.
#[cfg(not(feature = "pae"))]
const _: () = assert!(MAX_ARCH_PFN == 1 << 20 && PTE_PFN_MASK == 0xffff_f000 && PMD_SIZE == 4 << 20);
#[cfg(feature = "pae")]
const _: () = assert!(MAX_ARCH_PFN == 1 << 24 && PTE_PFN_MASK == 0x000f_ffff_ffff_f000 && PMD_SIZE == 2 << 20);

#[cfg(test)]
mod tests {
    use super::*;

    /// P1: the geometry of the flavour this test binary was built for.
    #[test]
    fn geometry_matches_linux() {
        if PAE {
            assert_eq!((PTRS_PER_PGD, PTRS_PER_PMD, PTRS_PER_PTE), (4, 512, 512));
            assert_eq!((PGDIR_SHIFT, PMD_SHIFT, PMD_SIZE), (30, 21, 2 << 20));
            assert_eq!(core::mem::size_of::<pte_t>(), 8);
        } else {
            assert_eq!((PTRS_PER_PGD, PTRS_PER_PMD, PTRS_PER_PTE), (1024, 1, 1024));
            assert_eq!((PGDIR_SHIFT, PMD_SHIFT, PMD_SIZE), (22, 22, 4 << 20));
            assert_eq!(core::mem::size_of::<pte_t>(), 4);
        }
    }

    /// The indices of the classic addresses in each flavour.
    #[test]
    fn address_splits() {
        let addr = 0xC040_3123usize;
        if PAE {
            // 11 | 000000010 | 000000011 | 0x123
            assert_eq!((pgd_index(addr), pmd_index(addr), pte_index(addr)), (3, 2, 3));
        } else {
            // 1100000001 | 0000000011 | 0x123
            assert_eq!((pgd_index(addr), pmd_index(addr), pte_index(addr)), (769, 0, 3));
        }
        assert_eq!(pgd_index(0xFFFF_FFFF), PTRS_PER_PGD - 1);
        assert_eq!(pte_index(0xFFFF_FFFF), PTRS_PER_PTE - 1);
        assert_eq!(pmd_index(0xFFFF_FFFF), PTRS_PER_PMD - 1);
        // Recombining the fields gives the address back.
        let page = (pgd_index(addr) << PGDIR_SHIFT) | (pmd_index(addr) << PMD_SHIFT) | (pte_index(addr) << PAGE_SHIFT);
        assert_eq!(page, addr & PAGE_MASK);
    }

    #[test]
    fn pmd_addr_end_stops_at_the_table_or_the_end() {
        assert_eq!(pmd_addr_end(0x1000, 0x10_0000), 0x10_0000);
        assert_eq!(pmd_addr_end(0x1000, 0xC000_0000), PMD_SIZE);
        assert_eq!(pmd_addr_end(PMD_SIZE, 0xC000_0000), 2 * PMD_SIZE);
        // The last user table ends at TASK_SIZE either way.
        assert_eq!(pmd_addr_end(0xBFFF_F000, 0xC000_0000), 0xC000_0000);
    }

    #[test]
    fn pfn_round_trips_and_keeps_flags_apart() {
        let top = (MAX_ARCH_PFN - 1) as usize;
        for pfn in [0usize, 1, 0xFFFFF, top] {
            let pte = pfn_pte(pfn, PAGE_KERNEL);
            assert_eq!(pte_pfn(pte), pfn);
            assert_eq!(pte_flags(pte), PAGE_KERNEL);
            assert!(pte.present() && pte_present(pte) && !pte_none(pte) && !pte_protnone(pte));
            assert_eq!(pmd_pfn(pfn_pmd(pfn, PDE_USER_TABLE)), pfn);
        }
        assert!(pte_none(pte_t::NONE) && !pte_present(pte_t::NONE));
    }

    /// P13: without NX (the mask without `_PAGE_NX`), a present entry
    /// loses bit 63 and keeps every other bit; with it, `PAGE_KERNEL` has
    /// NX (PAE) and `PAGE_KERNEL_EXEC` has not.
    #[test]
    fn the_supported_mask_takes_nx_out_of_present_entries_only() {
        let v = pfn_val(0x12345, PAGE_KERNEL);
        assert_eq!(!pteval_exec(v), cfg!(feature = "pae"));
        assert_eq!(pfn_val(0x12345, PAGE_KERNEL_EXEC) & _PAGE_NX, 0);
        assert_eq!(massage_pgprot_with(v, !_PAGE_NX), v & !_PAGE_NX);
        assert_eq!(massage_pgprot_with(v, !_PAGE_NX) & !_PAGE_NX, v & !_PAGE_NX);
        let not_present = v & !_PAGE_PRESENT;
        assert_eq!(massage_pgprot_with(not_present, !_PAGE_NX), not_present);
    }

    /// A frame above 4 GiB survives only in the PAE entry; the 2-level
    /// entry has no bits for it (and `MAX_ARCH_PFN` keeps such frames out).
    #[test]
    fn frames_above_4g_need_pae() {
        let pfn_9g = (9usize << 30) >> PAGE_SHIFT;
        #[cfg(feature = "pae")]
        {
            assert_eq!(pte_pfn(pfn_pte(pfn_9g, PAGE_KERNEL)), pfn_9g);
            assert_eq!((pfn_pte(pfn_9g, PAGE_KERNEL).0 >> 32) & 0xf, 2, "frame bits 32..35 in the high word");
            assert!((pfn_9g as u64) < MAX_ARCH_PFN);
        }
        #[cfg(not(feature = "pae"))]
        assert!((pfn_9g as u64) >= MAX_ARCH_PFN);
    }

    /// Why 52 bits: an entry with every bit of the frame set (Linux's
    /// inverted `PROT_NONE`) keeps them all under PAE's mask; a 36-bit
    /// mask would have dropped bits 36..51. NX stays out of the frame.
    #[test]
    fn physical_mask_is_52_bits_under_pae() {
        #[cfg(feature = "pae")]
        {
            assert_eq!(__PHYSICAL_MASK, (1 << 52) - 1);
            let inverted = PTE_PFN_MASK | _PAGE_PROTNONE;
            assert_eq!(inverted & PTE_PFN_MASK, PTE_PFN_MASK);
            assert_eq!(pte_pfn(pte_t(inverted)), ((1u64 << 40) - 1) as usize, "40 frame bits");
            assert_eq!(_PAGE_NX, 1 << 63);
            assert_eq!(pte_flags(pte_t(_PAGE_NX | _PAGE_PRESENT)), PteFlags::NX | PteFlags::PRESENT);
            assert_eq!(pte_pfn(pte_t(_PAGE_NX | 0x5000)), 5, "NX is not a frame bit");
        }
        #[cfg(not(feature = "pae"))]
        {
            assert_eq!(__PHYSICAL_MASK, 0xffff_ffff);
            assert_eq!(_PAGE_NX, 0);
        }
    }

    /// The other flavour's constants, checked from this one (both
    /// geometry modules are always compiled).
    #[test]
    fn both_geometries_as_linux_defines_them() {
        use crate::{pgtable_2level_types as two, pgtable_3level_types as three};
        assert_eq!((two::PGDIR_SHIFT, two::PTRS_PER_PGD, two::PTRS_PER_PTE, two::PTRS_PER_PMD), (22, 1024, 1024, 1));
        assert_eq!((three::PGDIR_SHIFT, three::PTRS_PER_PGD, three::PTRS_PER_PTE, three::PTRS_PER_PMD), (30, 4, 512, 512));
        assert_eq!((two::MAX_ARCH_PFN, three::MAX_ARCH_PFN), (1 << 20, 1 << 24));
        assert_eq!(three::MAX_ARCH_PFN << PAGE_SHIFT, 64 << 30, "64 GiB");
    }
}
