//! The kernel's virtual address space: every layout constant, in one place.
//!
//! A 32-bit x86 CPU with 2-level (non-PAE) paging can address 4 GiB of
//! virtual memory. Like Linux's default `VMSPLIT_3G`, we give the bottom
//! 3 GiB to user space and keep the top 1 GiB for the kernel. That 1 GiB must
//! hold a permanent mapping of as much RAM as possible (the *direct map*, or
//! lowmem) and still leave room for mappings made on demand. Everything RAM
//! beyond what fits in the direct map is *highmem*: it has `struct page`
//! descriptors but no permanent kernel address, and is reached through kmap.
//!
//! ```text
//!  virtual address                                                  physical
//!  0xFFFF_FFFF +-------------------------------------------+
//!              | FIX_HOLE (one page, never mapped)         |  FIXADDR_TOP = 0xFFFF_F000
//!              | fixmap: APIC, IO-APIC, then the per-CPU   |  indices grow *downwards*:
//!              |   kmap_local / kmap_atomic slots          |  fix_to_virt(i) = TOP - i*4K
//!              |   (KM_MAX_IDX_DEBUG x NR_CPUS pages)      |
//!  FIXADDR_START +-----------------------------------------+
//!              | unused (rest of the fixmap page table)    |
//!  0xFFC0_0000 +-------------------------------------------+  <- fixmap page table (4 MiB)
//!              | PKMAP window: LAST_PKMAP = 1024 pages     |  kmap(): global, shared by
//!              |   exactly one page table                  |  every CPU, lazily unmapped
//!  PKMAP_BASE  +-------------------------------------------+  0xFF80_0000
//!              | 2 guard pages                             |
//!  VMALLOC_END +-------------------------------------------+  0xFF7F_E000
//!              | vmalloc area: kernel stacks with guard    |
//!              |   pages, other virtually-contiguous maps  |
//!  VMALLOC_START +-----------------------------------------+  high_memory + 8 MiB
//!              | 8 MiB hole (VMALLOC_OFFSET): catches      |
//!              |   overruns off the end of the direct map  |
//!  high_memory +-------------------------------------------+  <= 0xF800_0000
//!              | lowmem: the direct map                    |
//!              |   virt = phys + PAGE_OFFSET               |  phys 0 .. min(RAM, 896 MiB)
//!              |   (kernel image at 0xC010_0000)           |  (image loaded at 1 MiB)
//!  PAGE_OFFSET +-------------------------------------------+  0xC000_0000
//!              | user space (3 GiB)                        |
//!  0x0000_0000 +-------------------------------------------+
//! ```
//!
//! Physical memory is split into zones by what the kernel can do with it:
//!
//! ```text
//!  0 ------- 16 MiB ----------------- max_low_pfn (<= 896 MiB) ------- 4 GiB
//!  | ZONE_DMA |        ZONE_NORMAL        |          ZONE_HIGHMEM         |
//!  | ISA DMA  |  directly mapped lowmem   |  struct page only; kmap it    |
//! ```
//!
//! RAM above 4 GiB cannot be addressed by a non-PAE page table at all; it is
//! reported at boot and left unused, as a non-PAE Linux does.
//!
//! The addresses drawn above are the default (2-level) flavour's. With the
//! `pae` feature the same formulas give (geometry in `pgtable_types`):
//!
//! ```text
//!                       2-level (686)            PAE (686-pae)
//!  PMD_SIZE             4 MiB                    2 MiB
//!  fixmap page table    0xFFC0_0000              0xFFE0_0000
//!  PKMAP_BASE           0xFF80_0000              0xFFC0_0000
//!  LAST_PKMAP           1024                     512
//!  VMALLOC_END          0xFF7F_E000              0xFFBF_E000
//!  KERNEL_PGD_BOUNDARY  768 (of 1024 PDEs)       3 (of 4 PDPTEs)
//!  frames               < 2^20 (4 GiB)           < 2^24 (64 GiB)
//!  MAXMEM               896 MiB                  896 MiB
//! ```
//!
//! Why 896 MiB? The kernel's 1 GiB minus `VMALLOC_RESERVE` (128 MiB) for
//! everything that is not the direct map: this is the classic i386 formula
//! `MAXMEM = -PAGE_OFFSET - __VMALLOC_RESERVE` from Linux 2.6, which is where
//! the famous "896 MB" comes from. (Later Linux versions subtract the
//! vmalloc reserve from `VMALLOC_END` instead and end up near 880 MiB.)
//!
//! The compile-time checks at the bottom of this file prove the regions do
//! not overlap, in the spirit of the `BUILD_BUG_ON`s in Linux's `mem_init()`.

// The page and page-table geometry is defined once, per flavour, in
// `pgtable_types` (2-level or PAE); this file builds the layout on it.
pub use crate::pgtable_types::{
    MAX_ARCH_PFN, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, PGDIR_SHIFT, PMD_MASK, PMD_SHIFT, PMD_SIZE, PTRS_PER_PGD,
    PTRS_PER_PMD, PTRS_PER_PTE, pgd_index,
};

/// Start of the kernel's part of every address space (`VMSPLIT_3G`).
pub const PAGE_OFFSET: usize = 0xC000_0000;
/// User space ends where the kernel begins.
pub const TASK_SIZE: usize = PAGE_OFFSET;

/// May the kernel touch user memory `[addr, addr + size)` at all? (Linux
/// `access_ok`, `asm/uaccess.h`: the range must lie below `TASK_SIZE`,
/// written so that `addr + size` cannot wrap.) A true answer promises
/// nothing about what is mapped: the copy itself may still fault, and its
/// exception-table fixup turns that into a short count.
pub const fn access_ok(addr: usize, size: usize) -> bool {
    size <= TASK_SIZE && addr <= TASK_SIZE - size
}

/// Index of the first PGD entry that belongs to the kernel (Linux
/// `KERNEL_PGD_BOUNDARY` = `pgd_index(PAGE_OFFSET)`): 768 of 1024, or 3
/// of 4 with PAE, where the kernel's whole 1 GiB is the last PDPTE.
pub const KERNEL_PGD_BOUNDARY: usize = pgd_index(PAGE_OFFSET);
/// Page tables (PMD entries) that cover the kernel's 1 GiB: 256 of 4 MiB,
/// or 512 of 2 MiB with PAE (one whole PMD page, under PDPTE 3). The
/// kernel preallocates all of them at boot, so that no kernel PMD entry
/// ever changes and every address space can share them.
pub const KERNEL_PTE_TABLES: usize = (u32::MAX as usize - PAGE_OFFSET + 1) >> PMD_SHIFT;
/// Linux `USER_PTRS_PER_PGD`: the PGD entries of user space.
pub const USER_PTRS_PER_PGD: usize = TASK_SIZE >> PGDIR_SHIFT;
/// PMD entries (page tables) that cover user space: 768 (2-level, where
/// they are the PGD entries) or 1536 (PAE: three PMD pages of 512). A walk
/// of the user page tables visits these.
pub const USER_PMDS: usize = TASK_SIZE >> PMD_SHIFT;
/// PMD pages a PAE `pgd_alloc` preallocates for user space (Linux
/// `PREALLOCATED_PMDS` with a shared kernel PMD: `KERNEL_PGD_BOUNDARY`),
/// so that no PDPTE changes after the address space is created: the CPU
/// caches the four PDPTEs at each CR3 load. 0 without PAE (no PMD pages).
pub const PREALLOCATED_PMDS: usize = if PTRS_PER_PMD > 1 { KERNEL_PGD_BOUNDARY } else { 0 };

/// Where the bootloader places the kernel image in physical memory.
pub const KERNEL_LOAD_PHYS: usize = 0x0010_0000;
/// Where the kernel image is linked: the load address in the direct map.
/// `linker.ld` repeats this number (`kernel/build.rs` only hands that
/// script to the linker; nothing generates it from here), so `mem_init()`
/// in `kernel/src/mm/init.rs` (`kernel::mm::init`) checks at boot that the
/// linked `_text` and `_kernel_phys_start` agree with it and stops with
/// "linker.ld and layout.rs disagree" if not.
pub const KERNEL_VIRT_BASE: usize = PAGE_OFFSET + KERNEL_LOAD_PHYS;

/// The most CPUs this kernel will bring up (Linux i386's default `NR_CPUS`).
pub const NR_CPUS: usize = 8;

/// kmap_local / kmap_atomic slots per CPU (Linux `KM_MAX_IDX`). The check in
/// `kmap_local_idx_push` runs after the increment, so 15 can nest.
pub const KM_MAX_IDX: usize = 16;
/// Slots per CPU when `debug_kmap_local` puts a never-mapped guard page
/// between mappings (Linux `CONFIG_DEBUG_KMAP_LOCAL`: `KM_MAX_IDX` = 33).
/// The fixmap is sized for this so that the option can be chosen at boot.
pub const KM_MAX_IDX_DEBUG: usize = 33;

/// Number of I/O APICs we reserve fixmap pages for.
pub const MAX_IO_APICS: usize = 2;

/// Top of the fixmap: the last page (`FIX_HOLE`) is never mapped.
pub const FIXADDR_TOP: usize = 0xFFFF_F000;

/// Fixmap indices (Linux `enum fixed_addresses`). Each index names one page
/// whose virtual address is a compile-time constant; index 0 is the top.
pub mod fixed_addresses {
    use super::{KM_MAX_IDX_DEBUG, MAX_IO_APICS, NR_CPUS};
    /// Never mapped: catches accesses just below 4 GiB.
    pub const FIX_HOLE: usize = 0;
    /// The local APIC's registers.
    pub const FIX_APIC_BASE: usize = 1;
    /// The first I/O APIC's registers.
    pub const FIX_IO_APIC_BASE_0: usize = 2;
    /// The last I/O APIC's registers.
    pub const FIX_IO_APIC_BASE_END: usize = FIX_IO_APIC_BASE_0 + MAX_IO_APICS - 1;
    /// First per-CPU kmap slot (CPU 0, slot 0): the highest kmap address.
    pub const FIX_KMAP_BEGIN: usize = FIX_IO_APIC_BASE_END + 1;
    /// Last per-CPU kmap slot, sized for the debug (guard-slot) stride.
    pub const FIX_KMAP_END: usize = FIX_KMAP_BEGIN + KM_MAX_IDX_DEBUG * NR_CPUS - 1;
    /// One past the last index (Linux `__end_of_fixed_addresses`).
    pub const END_OF_FIXED_ADDRESSES: usize = FIX_KMAP_END + 1;
}
use fixed_addresses::*;

/// Virtual address of fixmap index `idx` (Linux `__fix_to_virt`).
pub const fn fix_to_virt(idx: usize) -> usize {
    FIXADDR_TOP - (idx << PAGE_SHIFT)
}

/// Fixmap index of a fixmap virtual address (Linux `__virt_to_fix`).
pub const fn virt_to_fix(vaddr: usize) -> usize {
    (FIXADDR_TOP - (vaddr & PAGE_MASK)) >> PAGE_SHIFT
}

/// Bytes of virtual space the fixmap occupies.
pub const FIXADDR_SIZE: usize = END_OF_FIXED_ADDRESSES << PAGE_SHIFT;
/// Lowest fixmap address.
pub const FIXADDR_START: usize = FIXADDR_TOP - FIXADDR_SIZE;
/// Base of the one page table that holds every fixmap PTE (the fixmap,
/// 268 pages for 8 CPUs, fits in a 2 MiB PMD as well as in a 4 MiB one).
pub const FIXMAP_PMD_BASE: usize = FIXADDR_START & PMD_MASK;

/// Number of PKMAP slots: exactly one page table's worth (Linux
/// `pgtable_32_areas.h`: 1024 without PAE, 512 with it). The PKMAP code
/// keeps one pointer to that table (`pkmap_page_table`) and indexes it by
/// slot; a page table holds 4 KiB of entries, so 8-byte PAE entries halve
/// the pool, and the window shrinks from 4 MiB to 2 MiB: one PMD either way.
pub const LAST_PKMAP: usize = PTRS_PER_PTE;
/// `LAST_PKMAP - 1`: wraps the rotating slot cursor.
pub const LAST_PKMAP_MASK: usize = LAST_PKMAP - 1;
/// Start of the PKMAP window: the PMD (4 MiB, or 2 MiB with PAE) just
/// below the fixmap's page table.
pub const PKMAP_BASE: usize = FIXMAP_PMD_BASE - PMD_SIZE;

/// Virtual address of PKMAP slot `nr`.
pub const fn pkmap_addr(nr: usize) -> usize {
    PKMAP_BASE + (nr << PAGE_SHIFT)
}

/// PKMAP slot number of a PKMAP virtual address.
pub const fn pkmap_nr(vaddr: usize) -> usize {
    (vaddr - PKMAP_BASE) >> PAGE_SHIFT
}

/// The unmapped gap between the end of the direct map and vmalloc.
pub const VMALLOC_OFFSET: usize = 8 << 20;
/// End of the vmalloc area: two guard pages below PKMAP.
pub const VMALLOC_END: usize = PKMAP_BASE - 2 * PAGE_SIZE;
/// Virtual space kept back from the direct map for everything else
/// (Linux `__VMALLOC_RESERVE`).
pub const VMALLOC_RESERVE: usize = 128 << 20;

/// Largest amount of RAM the direct map may cover: 896 MiB.
pub const MAXMEM: usize = (u32::MAX as usize - PAGE_OFFSET + 1) - VMALLOC_RESERVE;
/// Page frame number one past the last frame the direct map may cover.
pub const MAXMEM_PFN: usize = MAXMEM >> PAGE_SHIFT;
/// Frames addressable without PAE: everything below 4 GiB (Linux
/// `MAX_NONPAE_PFN`). The flavour's own limit is `MAX_ARCH_PFN` (this, or
/// 2^24 with PAE).
pub const MAX_NONPAE_PFN: usize = 1 << 20;
/// Frames below 16 MiB form ZONE_DMA (ISA DMA can reach only these).
pub const MAX_DMA_PFN: usize = (16 << 20) >> PAGE_SHIFT;

/// The highest possible `high_memory` (end of the direct map).
pub const HIGH_MEMORY_MAX: usize = PAGE_OFFSET + MAXMEM;

/// Direct-map virtual address of a lowmem physical address (Linux `__va`).
pub const fn phys_to_virt(phys: usize) -> usize {
    phys + PAGE_OFFSET
}

/// Physical address of a direct-map virtual address (Linux `__pa`).
pub const fn virt_to_phys(virt: usize) -> usize {
    virt - PAGE_OFFSET
}

/// Is `vaddr` in the PKMAP window?
pub const fn is_pkmap_addr(vaddr: usize) -> bool {
    vaddr >= PKMAP_BASE && vaddr < pkmap_addr(LAST_PKMAP)
}

/// Is `vaddr` one of the per-CPU kmap_local / kmap_atomic slots?
/// Inclusive of CPU 0's slot 0 (Linux's `is_kmap_addr` excludes that page;
/// the reference calls this quirk Q3 and we do not copy it).
pub const fn is_kmap_local_addr(vaddr: usize) -> bool {
    let page = vaddr & PAGE_MASK;
    page >= fix_to_virt(FIX_KMAP_END) && page <= fix_to_virt(FIX_KMAP_BEGIN)
}

/// The part of the layout that depends on how much RAM the machine has.
/// Computed once at boot from `max_low_pfn`; printed in Linux's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    /// End of the direct map (Linux `high_memory`).
    pub high_memory: usize,
    /// Start of the vmalloc area: `high_memory` plus the 8 MiB hole.
    pub vmalloc_start: usize,
}

impl KernelLayout {
    /// The layout for a machine whose lowmem ends at page frame `max_low_pfn`.
    pub const fn new(max_low_pfn: usize) -> Self {
        assert!(max_low_pfn <= MAXMEM_PFN, "lowmem larger than the direct map");
        let high_memory = PAGE_OFFSET + (max_low_pfn << PAGE_SHIFT);
        KernelLayout { high_memory, vmalloc_start: high_memory + VMALLOC_OFFSET }
    }

    /// Regions from the top down, as Linux's old `mem_init()` printed them:
    /// `(name, start, end)`.
    pub const fn regions(&self) -> [(&'static str, usize, usize); 4] {
        [
            ("fixmap", FIXADDR_START, FIXADDR_TOP),
            ("pkmap", PKMAP_BASE, pkmap_addr(LAST_PKMAP)),
            ("vmalloc", self.vmalloc_start, VMALLOC_END),
            ("lowmem", PAGE_OFFSET, self.high_memory),
        ]
    }
}

// ---- Compile-time proof that the regions fit and do not overlap ----------
// (Linux checks the same things with BUILD_BUG_ON in arch/x86/mm/init_32.c.)

/// PKMAP fills exactly one page table, so one `pkmap_page_table` covers it.
const _: () = assert!(PKMAP_BASE.is_multiple_of(PMD_SIZE) && LAST_PKMAP == PTRS_PER_PTE);
/// ... and that is exactly one PMD: 1024 x 4 KiB = 4 MiB, or 512 x 4 KiB = 2 MiB.
const _: () = assert!(pkmap_addr(LAST_PKMAP) - PKMAP_BASE == PMD_SIZE);
/// The kernel's part of the address space starts on a PGD boundary, so
/// user and kernel never share a PGD entry (with PAE: PDPTE 3 is all
/// kernel, and can point at one PMD page shared by every address space).
const _: () = assert!(PAGE_OFFSET.is_multiple_of(PGDIR_SIZE_CHECK) && KERNEL_PGD_BOUNDARY < PTRS_PER_PGD);
const PGDIR_SIZE_CHECK: usize = crate::pgtable_types::PGDIR_SIZE;
/// The fixmap's kmap slots are sized for `NR_CPUS` = 8 with the debug
/// stride, and still fit in one page table in both flavours (P1: "the
/// kmap fixmap PTEs are linear").
const _: () = assert!(END_OF_FIXED_ADDRESSES <= PTRS_PER_PTE && NR_CPUS == 8);
/// Every frame the direct map covers is a frame the flavour can map.
const _: () = assert!((MAXMEM_PFN as u64) <= MAX_ARCH_PFN);
/// PKMAP ends before the fixmap begins.
const _: () = assert!(pkmap_addr(LAST_PKMAP) <= FIXADDR_START);
/// The whole fixmap lives in one page table, so its PTEs form one linear
/// array (what Linux's `page_table_kmap_check()` arranges at boot).
const _: () = assert!(FIXMAP_PMD_BASE == FIXADDR_TOP & PMD_MASK);
/// vmalloc ends below PKMAP.
const _: () = assert!(VMALLOC_END <= PKMAP_BASE);
/// Even with a full 896 MiB direct map, vmalloc has room.
const _: () = assert!(HIGH_MEMORY_MAX + VMALLOC_OFFSET < VMALLOC_END);
/// The direct map is 896 MiB, the number the issue and Linux 2.6 promise.
const _: () = assert!(MAXMEM == 896 << 20);
/// The kernel image is linked inside the direct map.
const _: () = assert!(KERNEL_VIRT_BASE > PAGE_OFFSET && KERNEL_VIRT_BASE < HIGH_MEMORY_MAX);
/// ZONE_DMA fits inside the direct map.
const _: () = assert!(MAX_DMA_PFN < MAXMEM_PFN);

#[cfg(test)]
mod tests {

    /// Catalogue U1: Linux's access_ok edges under VMSPLIT_3G.
    #[test]
    fn access_ok_edges() {
        assert!(access_ok(0xBFFF_FFFF, 1));
        assert!(!access_ok(0xBFFF_FFFF, 2));
        assert!(access_ok(0xC000_0000, 0));
        assert!(!access_ok(0, 0xC000_0001));
        assert!(!access_ok(0xFFFF_F000, 0x2000), "no wrap past the top");
        assert!(access_ok(0, 0xC000_0000));
        assert!(!access_ok(usize::MAX, 1));
    }

    use super::*;

    #[test]
    #[cfg(not(feature = "pae"))]
    fn classic_i386_addresses() {
        assert_eq!(PKMAP_BASE, 0xFF80_0000);
        assert_eq!(pkmap_addr(LAST_PKMAP), 0xFFC0_0000);
        assert_eq!(VMALLOC_END, 0xFF7F_E000);
        assert_eq!(HIGH_MEMORY_MAX, 0xF800_0000);
        assert_eq!(MAXMEM_PFN, 0x38000);
        assert_eq!((LAST_PKMAP, KERNEL_PGD_BOUNDARY, USER_PMDS, PREALLOCATED_PMDS), (1024, 768, 768, 0));
        assert_eq!(KERNEL_PTE_TABLES, 256);
    }

    /// P1: the PAE layout. PKMAP is one 2 MiB PMD just below the fixmap's
    /// PMD; vmalloc gains the 2 MiB PKMAP gave up. The direct map stays
    /// 896 MiB (this kernel's 2.6-style `MAXMEM`, see the module docs).
    #[test]
    #[cfg(feature = "pae")]
    fn pae_addresses() {
        assert_eq!(FIXMAP_PMD_BASE, 0xFFE0_0000);
        assert_eq!(PKMAP_BASE, 0xFFC0_0000);
        assert_eq!(pkmap_addr(LAST_PKMAP), 0xFFE0_0000);
        assert_eq!(VMALLOC_END, 0xFFBF_E000);
        assert_eq!(HIGH_MEMORY_MAX, 0xF800_0000);
        assert_eq!((LAST_PKMAP, KERNEL_PGD_BOUNDARY, USER_PMDS, PREALLOCATED_PMDS), (512, 3, 1536, 3));
        assert_eq!(KERNEL_PTE_TABLES, PTRS_PER_PMD, "the kernel's GiB is one whole PMD page");
    }

    /// The fixmap's kmap slots for 8 CPUs sit in one page table in either
    /// flavour, so `kmap_pte(idx)` is one array.
    #[test]
    fn fixmap_is_one_page_table() {
        assert_eq!(FIXADDR_START & PMD_MASK, FIXADDR_TOP & PMD_MASK);
        assert_eq!(fix_to_virt(FIX_KMAP_END) & PMD_MASK, FIXMAP_PMD_BASE);
        assert_eq!(END_OF_FIXED_ADDRESSES, 4 + 33 * 8);
    }

    #[test]
    fn kmap_slots_grow_downwards_from_fix_kmap_begin() {
        let cpu0_slot0 = fix_to_virt(FIX_KMAP_BEGIN);
        let cpu0_slot1 = fix_to_virt(FIX_KMAP_BEGIN + 1);
        assert_eq!(cpu0_slot1, cpu0_slot0 - PAGE_SIZE);
        assert_eq!(virt_to_fix(cpu0_slot1 + 123), FIX_KMAP_BEGIN + 1);
        assert!(is_kmap_local_addr(cpu0_slot0));
        assert!(is_kmap_local_addr(fix_to_virt(FIX_KMAP_END)));
        assert!(!is_kmap_local_addr(fix_to_virt(FIX_KMAP_END) - PAGE_SIZE));
        assert!(!is_kmap_local_addr(fix_to_virt(FIX_KMAP_BEGIN - 1)));
    }

    #[test]
    fn layout_for_full_and_small_lowmem() {
        let full = KernelLayout::new(MAXMEM_PFN);
        assert_eq!(full.high_memory, 0xF800_0000);
        assert_eq!(full.vmalloc_start, 0xF880_0000);
        let small = KernelLayout::new((64 << 20) >> PAGE_SHIFT);
        assert_eq!(small.high_memory, 0xC400_0000);
        let r = full.regions();
        for w in r.windows(2) {
            assert!(w[1].2 <= w[0].1, "{} overlaps {}", w[1].0, w[0].0);
        }
    }

    #[test]
    fn pkmap_nr_round_trips() {
        for nr in [0, 1, 511, LAST_PKMAP - 1] {
            assert_eq!(pkmap_nr(pkmap_addr(nr)), nr);
            assert!(is_pkmap_addr(pkmap_addr(nr)));
        }
        assert!(!is_pkmap_addr(pkmap_addr(LAST_PKMAP)));
        assert!(!is_pkmap_addr(PKMAP_BASE - 1));
    }
}
