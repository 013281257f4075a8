//! x86 paging: how entries are written, and the TLB instructions.
//!
//! The entry format, the geometry and the helpers (`pte_t`, `pmd_t`,
//! `pgd_t`, `PteFlags`, `PAGE_KERNEL`, `pte_pfn`, `PTRS_PER_*`, ...) are
//! pure and live in the host-tested `mm::pgtable_types`, once for both
//! flavours; they are re-exported here. What is left is what only the
//! kernel can do: store an entry into a live page table, and flush TLBs.
//!
//! ```text
//!  686 (default):  | 31 .. 22 | 21 .. 12 | 11 .. 0 |      CR3 -> PGD (1024) -> PTE (1024)
//!                  |   PGD    |   PTE    | offset  |      32-bit entries: one store each
//!  686-pae:        |31 30| 29 .. 21 | 20 .. 12 | 11 .. 0 | CR3 -> PDPT (4) -> PMD (512) -> PTE (512)
//!                  | PGD |   PMD    |   PTE    | offset  | 64-bit entries: two stores, in order
//! ```
//!
//! Which tables exist and what they map is policy (`kernel::mm::pgtable`);
//! the bits that `mprotect` needs, `pte_modify` and friends, are in
//! `mm::vma::pte`.
//!
//! # Writing an entry: one name, two implementations
//!
//! [`set_pte`], [`pte_clear`], [`set_pte_atomic`], [`ptep_get_and_clear`],
//! [`set_pmd`] and [`pmd_clear`] are Linux's names, as in
//! `pgtable-2level.h` and `pgtable-3level.h`:
//!
//! * 2-level: an entry is 32 bits and an aligned 32-bit store is atomic,
//!   so each is one store (`ptep_get_and_clear` one `xchg`, as Linux's
//!   SMP version).
//! * PAE: an entry is 64 bits, written as two 32-bit halves in the order
//!   `mm::pgtable_3level` explains and model-checks (set: high, barrier,
//!   low; clear: low, barrier, high; replace, PMD writes and
//!   get-and-clear: `lock cmpxchg8b`). The kernel runs that very code on
//!   a real entry through [`Entry64`].

use core::arch::asm;

pub use mm::pgtable_types::{
    PAGE_KERNEL, PAGE_KERNEL_EXEC, PAGE_KERNEL_NOCACHE, PAGE_KERNEL_RO, PDE_KERNEL_TABLE, PDE_USER_TABLE, PteFlags, pgd_t, pmd_t, pte_t,
};

#[cfg(not(feature = "pae"))]
mod native {
    //! `pgtable-2level.h`: 32-bit entries, one store each.
    use core::sync::atomic::{AtomicU32, Ordering};

    use super::{pmd_t, pte_t};

    /// Linux `native_set_pte`: one aligned 32-bit store, atomic for the
    /// MMU of every CPU.
    ///
    /// # Safety
    /// `ptep` points at an entry of a live page table, reachable by the
    /// kernel.
    pub unsafe fn set_pte(ptep: *mut pte_t, pte: pte_t) {
        // SAFETY: the caller's promise; entries are 4-byte aligned.
        unsafe { ptep.write_volatile(pte) };
    }

    /// Linux `native_pte_clear`.
    ///
    /// # Safety
    /// As [`set_pte`].
    pub unsafe fn pte_clear(ptep: *mut pte_t) {
        // SAFETY: as set_pte.
        unsafe { set_pte(ptep, pte_t::NONE) };
    }

    /// Linux `set_pte_atomic`: the same single store.
    ///
    /// # Safety
    /// As [`set_pte`].
    pub unsafe fn set_pte_atomic(ptep: *mut pte_t, pte: pte_t) {
        // SAFETY: as set_pte.
        unsafe { set_pte(ptep, pte) };
    }

    /// Linux `native_ptep_get_and_clear` (SMP): one `xchg`, so a Dirty
    /// bit another CPU's MMU sets meanwhile is returned, not lost.
    ///
    /// # Safety
    /// As [`set_pte`].
    pub unsafe fn ptep_get_and_clear(ptep: *mut pte_t) -> pte_t {
        // SAFETY: the caller's promise; pte_t is a u32, 4-byte aligned
        // like AtomicU32, and the MMU's updates are atomic too.
        pte_t(unsafe { AtomicU32::from_ptr(ptep.cast::<u32>()) }.swap(0, Ordering::SeqCst))
    }

    /// Linux `ptep_get_lockless`: read an entry others may be writing,
    /// without their lock. One aligned 32-bit load sees it whole.
    ///
    /// # Safety
    /// `ptep` points at a readable entry, 4-byte aligned.
    pub unsafe fn ptep_get_lockless(ptep: *const pte_t) -> pte_t {
        // SAFETY: the caller's promise.
        unsafe { ptep.read_volatile() }
    }

    /// Linux `native_set_pmd`: the PMD is the PGD entry, one store.
    ///
    /// # Safety
    /// `pmdp` points at an entry of a live page directory.
    pub unsafe fn set_pmd(pmdp: *mut pmd_t, pmd: pmd_t) {
        // SAFETY: the caller's promise.
        unsafe { pmdp.write_volatile(pmd) };
    }

    /// Linux `native_pmd_clear`.
    ///
    /// # Safety
    /// As [`set_pmd`].
    pub unsafe fn pmd_clear(pmdp: *mut pmd_t) {
        // SAFETY: as set_pmd.
        unsafe { set_pmd(pmdp, pmd_t::NONE) };
    }
}

#[cfg(feature = "pae")]
mod native {
    //! `pgtable-3level.h`: 64-bit entries, through `mm::pgtable_3level`.
    use core::sync::atomic::{Ordering, compiler_fence};

    use mm::pgtable_3level::{self as p3, SplitEntry};

    use super::{pmd_t, pte_t};

    /// A live 64-bit entry, reached as a 32-bit CPU reaches it.
    pub struct Entry64(pub *mut u64);

    impl SplitEntry for Entry64 {
        fn read_low(&self) -> u32 {
            // SAFETY: Entry64 is only made from a live, 8-byte aligned entry.
            unsafe { self.0.cast::<u32>().read_volatile() }
        }
        fn read_high(&self) -> u32 {
            // SAFETY: as above; the high half is the second u32.
            unsafe { self.0.cast::<u32>().add(1).read_volatile() }
        }
        fn write_low(&self, val: u32) {
            // SAFETY: as above.
            unsafe { self.0.cast::<u32>().write_volatile(val) }
        }
        fn write_high(&self, val: u32) {
            // SAFETY: as above.
            unsafe { self.0.cast::<u32>().add(1).write_volatile(val) }
        }
        /// x86 keeps stores in order (TSO): Linux's `smp_wmb` is
        /// `barrier()`, a compiler barrier, and so is this.
        fn smp_wmb(&self) {
            compiler_fence(Ordering::SeqCst);
        }
        /// Loads are not reordered with loads on x86 either.
        fn smp_rmb(&self) {
            compiler_fence(Ordering::SeqCst);
        }
        fn cmpxchg64(&self, old: u64, new: u64) -> u64 {
            // SAFETY: a live entry, 8-byte aligned (tables are pages);
            // Linux's `__cmpxchg64`, one `lock cmpxchg8b`.
            unsafe { crate::arch::lib::atomic64_cx8_32::cmpxchg64(self.0, old, new) }
        }
    }

    /// Linux `native_set_pte`: high, `smp_wmb`, low.
    ///
    /// # Safety
    /// `ptep` points at a live, not-present entry (or one the hardware
    /// will not update), 8-byte aligned.
    pub unsafe fn set_pte(ptep: *mut pte_t, pte: pte_t) {
        p3::native_set_pte(&Entry64(ptep.cast()), pte.0);
    }

    /// Linux `native_pte_clear`: low, `smp_wmb`, high.
    ///
    /// # Safety
    /// `ptep` points at a live entry, 8-byte aligned.
    pub unsafe fn pte_clear(ptep: *mut pte_t) {
        p3::native_pte_clear(&Entry64(ptep.cast()));
    }

    /// Linux `native_set_pte_atomic`: one `cmpxchg8b`.
    ///
    /// # Safety
    /// As [`pte_clear`].
    pub unsafe fn set_pte_atomic(ptep: *mut pte_t, pte: pte_t) {
        p3::native_set_pte_atomic(&Entry64(ptep.cast()), pte.0);
    }

    /// Linux `native_ptep_get_and_clear`: an atomic 64-bit exchange.
    ///
    /// # Safety
    /// As [`pte_clear`].
    pub unsafe fn ptep_get_and_clear(ptep: *mut pte_t) -> pte_t {
        pte_t(p3::native_ptep_get_and_clear(&Entry64(ptep.cast())))
    }

    /// Linux `ptep_get_lockless` (`CONFIG_GUP_GET_PXX_LOW_HIGH`): low,
    /// high, low again until the low word holds still, so that a present
    /// low word comes with the high word written with it (see
    /// `mm::pgtable_3level::ptep_get_lockless`). Used on PMD entries too
    /// (Linux `pmdp_get_lockless`), through a cast.
    ///
    /// # Safety
    /// `ptep` points at a readable entry, 8-byte aligned.
    pub unsafe fn ptep_get_lockless(ptep: *const pte_t) -> pte_t {
        pte_t(p3::ptep_get_lockless(&Entry64(ptep.cast_mut().cast())))
    }

    /// Linux `native_set_pmd`: one `cmpxchg8b` (the table under it is live).
    ///
    /// # Safety
    /// `pmdp` points at a live PMD entry, 8-byte aligned.
    pub unsafe fn set_pmd(pmdp: *mut pmd_t, pmd: pmd_t) {
        p3::native_set_pmd(&Entry64(pmdp.cast()), pmd.0);
    }

    /// Linux `native_pmd_clear`: low, `smp_wmb`, high.
    ///
    /// # Safety
    /// As [`set_pmd`].
    pub unsafe fn pmd_clear(pmdp: *mut pmd_t) {
        p3::native_pmd_clear(&Entry64(pmdp.cast()));
    }
}

pub use native::{pmd_clear, ptep_get_and_clear, ptep_get_lockless, pte_clear, set_pmd, set_pte, set_pte_atomic};
/// The 686-pae flavour's entry as two 32-bit halves: for tests that must
/// write one the wrong way on purpose (`tests/pgtable.rs`).
#[cfg(feature = "pae")]
pub use native::Entry64;

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
/// CR4.PAE: 3-level paging with 64-bit entries; CR3 points at a PDPT.
pub const CR4_PAE: u32 = 1 << 5;
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
