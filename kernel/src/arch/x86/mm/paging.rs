//! 2-level (non-PAE) x86 paging: the entry format and the TLB instructions.
//!
//! ```text
//!  virtual address:  | 31 .. 22 | 21 .. 12 | 11 .. 0 |
//!                    | PGD index| PTE index|  offset |
//!  CR3 -> page directory (1024 PDEs) -> page table (1024 PTEs) -> 4 KiB page
//! ```
//!
//! Each entry is 32 bits: a 4 KiB-aligned physical address plus flag bits.
//! Which tables exist and what they map is policy (`kernel::mm::pgtable`);
//! this file only knows the format and the instructions.
//!
//! ```text
//!   31                    12 11  9  8   7   6   5   4   3   2   1   0
//!  +------------------------+-----+---+---+---+---+---+---+---+---+---+
//!  |   page frame number    |avail| G |PSE| D | A |PCD|PWT| U |RW | P |
//!  +------------------------+-----+---+---+---+---+---+---+---+---+---+
//!
//!  P=1                 the CPU uses the entry (G: kernel mappings only)
//!  P=0, bit 8 set      a user PROT_NONE page (_PAGE_PROTNONE, G's bit):
//!                      the frame stays, the CPU faults; Pte::pte_present()
//!                      is true, Pte::present() (the CPU's bit) is false
//!  all 0               pte_none: nothing mapped
//! ```
//!
//! (The rules on these bits that `mprotect` needs, `pte_modify` and
//! friends, are in the host-tested `mm::vma::pte`.)

use core::arch::asm;

bitflags::bitflags! {
    /// Flag bits of a PDE or PTE (Linux `_PAGE_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PteFlags: u32 {
        /// The entry maps something.
        const PRESENT  = 1 << 0;
        /// Writable (ring 0 obeys this because CR0.WP is set).
        const RW       = 1 << 1;
        /// Reachable from ring 3.
        const USER     = 1 << 2;
        const PWT      = 1 << 3;
        /// Cache disabled (device registers).
        const PCD      = 1 << 4;
        const ACCESSED = 1 << 5;
        const DIRTY    = 1 << 6;
        /// In a PDE: a 4 MiB page (only the early boot map uses these).
        const PSE      = 1 << 7;
        /// Survives CR3 reloads (kernel mappings, with CR4.PGE).
        const GLOBAL   = 1 << 8;
        /// The same bit, in a user PTE whose PRESENT bit is clear: a
        /// `PROT_NONE` page (Linux `_PAGE_PROTNONE`). The frame number
        /// stays in the entry; the CPU faults on every access. See
        /// `mm::vma::pte` for the picture and the rules.
        const PROTNONE = 1 << 8;
    }
}

/// `PAGE_KERNEL`: present, writable, global, kernel only, and (as Linux's
/// `__PAGE_KERNEL`) already accessed and dirty, so the MMU never has to
/// write the PTE back on the first touch of a fresh mapping: kmap_local
/// makes fresh mappings all the time.
pub const PAGE_KERNEL: PteFlags =
    PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::GLOBAL).union(PteFlags::ACCESSED).union(PteFlags::DIRTY);
/// `PAGE_KERNEL_RO`: present, read-only, global, accessed.
pub const PAGE_KERNEL_RO: PteFlags = PteFlags::PRESENT.union(PteFlags::GLOBAL).union(PteFlags::ACCESSED);
/// `PAGE_KERNEL_NOCACHE`: device memory.
pub const PAGE_KERNEL_NOCACHE: PteFlags = PAGE_KERNEL.union(PteFlags::PCD).union(PteFlags::PWT);
/// Flags of a page-directory entry that points at a kernel page table.
pub const PDE_KERNEL_TABLE: PteFlags = PteFlags::PRESENT.union(PteFlags::RW);

/// A page-table or page-directory entry (Linux `pte_t`, `pgd_t`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pte(pub u32);

impl Pte {
    /// The empty entry (Linux `__pte(0)`).
    pub const NONE: Pte = Pte(0);

    /// Map the page frame `pfn` with `flags` (Linux `pfn_pte`).
    pub const fn new(pfn: usize, flags: PteFlags) -> Pte {
        Pte(((pfn as u32) << 12) | flags.bits())
    }
    /// Linux `pte_none`.
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
    /// Is the present bit set? (The CPU's view: for a user PTE, which may
    /// be `PROT_NONE`, the kernel asks [`pte_present`](Self::pte_present).)
    pub const fn present(self) -> bool {
        self.0 & PteFlags::PRESENT.bits() != 0
    }
    /// Linux `pte_present`: a page is mapped here, accessible to the CPU
    /// or `PROT_NONE` (`_PAGE_PROTNONE`). What every walker of user page
    /// tables asks: zap, exit, fork's copy, the fault path.
    ///
    /// ```text
    ///  P=1                  present          pte_present
    ///  P=0 PROTNONE=1 pfn   PROT_NONE page   pte_present, pte_protnone
    ///  0                    nothing          pte_none
    /// ```
    pub const fn pte_present(self) -> bool {
        mm::vma::pte::pte_present(self.0)
    }
    /// Linux `pte_protnone`: a `PROT_NONE` page (not present to the CPU,
    /// frame kept).
    pub const fn pte_protnone(self) -> bool {
        mm::vma::pte::pte_protnone(self.0)
    }
    /// Linux `pte_pfn`.
    pub const fn pfn(self) -> usize {
        (self.0 >> 12) as usize
    }
    /// The flag bits.
    pub const fn flags(self) -> PteFlags {
        PteFlags::from_bits_truncate(self.0 & 0xfff)
    }
}

/// Invalidate this CPU's TLB entry for one kernel address (`invlpg`). Linux
/// `flush_tlb_one_kernel`: local only, no other CPU hears of it.
pub fn flush_tlb_one_kernel(addr: usize) {
    // SAFETY: invlpg only drops a cached translation.
    unsafe { x86::tlb::flush(addr) };
}

/// Invalidate this CPU's TLB entry for one user address of the loaded
/// page directory (`invlpg`; Linux `flush_tlb_one_user`, local only).
/// Other CPUs may have the same page directory loaded, really or lazily:
/// a changed user PTE is flushed with `tlb::flush_tlb_page`, which calls
/// this on each CPU that needs it.
pub fn flush_tlb_one_user(addr: usize) {
    // SAFETY: invlpg only drops a cached translation.
    unsafe { x86::tlb::flush(addr) };
}

/// Flush this CPU's whole TLB *including global entries* (Linux
/// `__flush_tlb_all`). Reloading CR3 keeps global entries, so toggle CR4.PGE.
pub fn flush_tlb_all_local() {
    // SAFETY: toggling PGE flushes every TLB entry; the page tables are
    // unchanged, so execution continues with the same mappings.
    unsafe {
        let cr4: u32;
        asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack, preserves_flags));
        if cr4 & CR4_PGE != 0 {
            asm!("mov cr4, {}", in(reg) cr4 & !CR4_PGE, options(nostack, preserves_flags));
            asm!("mov cr4, {}", in(reg) cr4, options(nostack, preserves_flags));
        } else {
            x86::tlb::flush_all();
        }
    }
}

/// CR4.PSE: 4 MiB pages allowed.
pub const CR4_PSE: u32 = 1 << 4;
/// CR4.PGE: global pages enabled.
pub const CR4_PGE: u32 = 1 << 7;

/// Switch this CPU to the page directory at physical address `pgd_phys`.
///
/// # Safety
/// The new directory must map the running code, its stack and everything
/// the caller touches next at the same addresses as before.
pub unsafe fn load_cr3(pgd_phys: usize) {
    // SAFETY: the caller guarantees the new tables keep the kernel mapped.
    unsafe { asm!("mov cr3, {}", in(reg) pgd_phys, options(nostack, preserves_flags)) };
}

/// Turn on global pages (once the kernel's own tables are loaded).
pub fn enable_global_pages() {
    // SAFETY: setting CR4.PGE only changes how long kernel TLB entries live.
    unsafe {
        let cr4: u32;
        asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack, preserves_flags));
        asm!("mov cr4, {}", in(reg) cr4 | CR4_PGE, options(nostack, preserves_flags));
    }
}
