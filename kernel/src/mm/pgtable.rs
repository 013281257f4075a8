//! The kernel's page tables: `swapper_pg_dir` and the tables under it.
//!
//! At boot, `paging_init` (in `init.rs`) builds one page directory and a page
//! table for *every* kernel page-directory entry, 768 to 1023: the direct
//! map, the vmalloc area, the PKMAP window and the fixmap. Because no kernel
//! PDE ever changes after that, any future page directory can simply copy
//! the kernel half, and a mapping made in the kernel half is seen through
//! every page directory at once. (Linux i386 gets the same effect by
//! preallocating the PKMAP and fixmap tables and syncing vmalloc PDEs.)
//!
//! Every page table lives in lowmem, so its PTEs can be reached through the
//! direct map: [`virt_to_kpte`] is two array lookups.
//!
//! The walks are written as Linux's, level by level, so that one walk
//! serves both flavours:
//!
//! ```text
//!  pgd_offset(pgd, addr)   PGD entry        2-level: PDE 0..1023     PAE: PDPTE 0..3
//!  pmd_offset(pgdp, addr)  PMD entry        2-level: the PDE itself  PAE: entry of the PMD page
//!  pte_offset_map(pmd, a)  PTE              (kmap_local of the table: HIGHPTE)
//!  pte_offset_kernel(..)   kernel PTE       (the direct map: kernel tables are lowmem)
//! ```
//!
//! The numbers above (768 to 1023) are the 2-level flavour's; with PAE the
//! kernel's page tables are the 512 entries of one PMD page under PDPTE 3
//! (`mm::layout::KERNEL_PTE_TABLES`).

use core::sync::atomic::{AtomicUsize, Ordering};

use mm::layout::{
    KERNEL_PGD_BOUNDARY, LAST_PKMAP, PAGE_SHIFT, PKMAP_BASE, PTRS_PER_PTE, fix_to_virt,
    fixed_addresses::FIX_KMAP_BEGIN, phys_to_virt,
};
use mm::pgtable_types::{pgd_index, pte_index};

use crate::arch::paging::{pgd_t, pmd_t, pte_clear, pte_t, set_pte, set_pte_atomic};

/// Physical address of the kernel page directory (0 until `paging_init`).
static SWAPPER_PG_DIR: AtomicUsize = AtomicUsize::new(0);

/// Record the page directory `paging_init` built.
pub(super) fn set_swapper_pg_dir(phys: usize) {
    SWAPPER_PG_DIR.store(phys, Ordering::Relaxed);
}

/// Physical address of `swapper_pg_dir`.
pub fn swapper_pg_dir() -> usize {
    SWAPPER_PG_DIR.load(Ordering::Relaxed)
}

/// The PGD entry of `vaddr` in the page directory at physical address
/// `pgd` (Linux `pgd_offset(mm, addr)`; ours takes the PGD's address,
/// since every PGD is in lowmem and reached through the direct map).
pub fn pgd_offset(pgd: usize, vaddr: usize) -> *mut pgd_t {
    (phys_to_virt(pgd) as *mut pgd_t).wrapping_add(pgd_index(vaddr))
}

/// Linux `pgd_offset_k`: the entry in `swapper_pg_dir`.
pub fn pgd_offset_k(vaddr: usize) -> *mut pgd_t {
    let pgd = swapper_pg_dir();
    assert!(pgd != 0, "page tables used before paging_init");
    pgd_offset(pgd, vaddr)
}

/// The PMD entry of `vaddr` under PGD entry `pgdp` (Linux `pmd_offset`).
/// Without PAE the PMD is folded (`pgtable-nopmd.h`): it *is* the PGD
/// entry, so this is a cast.
///
/// # Safety
/// `pgdp` is `vaddr`'s entry in a live PGD (from [`pgd_offset`]): the PAE
/// version reads it.
#[cfg(not(feature = "pae"))]
pub unsafe fn pmd_offset(pgdp: *mut pgd_t, _vaddr: usize) -> *mut pmd_t {
    pgdp.cast()
}

/// The PMD entry of `vaddr` under PGD entry `pgdp` (Linux `pmd_offset`):
/// the PDPTE points at a PMD page, always present and in lowmem (the
/// PMDs are preallocated with the PGD, as Linux's `pgd_prepopulate_pmd`,
/// so that no PDPTE changes while the PGD is loaded).
///
/// # Safety
/// `pgdp` is `vaddr`'s entry in a live PGD (from [`pgd_offset`]).
#[cfg(feature = "pae")]
pub unsafe fn pmd_offset(pgdp: *mut pgd_t, vaddr: usize) -> *mut pmd_t {
    // SAFETY: pgdp points into a live PGD (the caller's promise).
    let pgd = unsafe { pgdp.read_volatile() };
    assert!(pgd.present(), "PAE PMDs are preallocated: PDPTE for {vaddr:#x} missing");
    (phys_to_virt(pgd.pfn() << PAGE_SHIFT) as *mut pmd_t).wrapping_add(mm::pgtable_types::pmd_index(vaddr))
}

/// The PTE of `vaddr` in the page table a kernel PMD entry points at
/// (Linux `pte_offset_kernel`): kernel page tables are lowmem, so this is
/// the direct map, no mapping needed.
pub fn pte_offset_kernel(pmd: pmd_t, vaddr: usize) -> *mut pte_t {
    (phys_to_virt(pmd.pfn() << PAGE_SHIFT) as *mut pte_t).wrapping_add(pte_index(vaddr))
}

/// Pointer to the PTE that maps kernel address `vaddr` (Linux
/// `virt_to_kpte`). Every kernel address has one: the tables are
/// preallocated. Returns `None` for user addresses.
pub fn virt_to_kpte(vaddr: usize) -> Option<*mut pte_t> {
    if pgd_index(vaddr) < KERNEL_PGD_BOUNDARY {
        return None;
    }
    // SAFETY: pgd_offset_k is vaddr's entry in swapper_pg_dir, and the
    // PMD entry under it is in that page (or in the kernel PMD page), live
    // lowmem.
    let pmd = unsafe { pmd_offset(pgd_offset_k(vaddr), vaddr).read_volatile() };
    if !pmd.present() {
        return None;
    }
    Some(pte_offset_kernel(pmd, vaddr))
}

/// Read the PTE for a kernel address (`pte_t::NONE` if there is none).
pub fn lookup_kernel_pte(vaddr: usize) -> pte_t {
    match virt_to_kpte(vaddr) {
        // SAFETY: virt_to_kpte returns a pointer into a live page table.
        Some(p) => unsafe { p.read_volatile() },
        None => pte_t::NONE,
    }
}

/// Install `pte` for kernel address `vaddr` (`pte_t::NONE` clears it).
/// No TLB flush: the caller decides what to invalidate and where (that
/// decision is the whole story of kmap). A present entry replaced by
/// another present one is written in one piece (`set_pte_atomic`, which
/// matters with PAE's two-halves entries); a fresh one with `set_pte`.
pub fn set_pte_kernel(vaddr: usize, pte: pte_t) {
    let p = virt_to_kpte(vaddr).unwrap_or_else(|| panic!("set_pte_kernel: no page table for {vaddr:#x}"));
    // SAFETY: p points into a preallocated kernel page table, aligned.
    unsafe {
        if pte.is_none() {
            pte_clear(p);
        } else if p.read_volatile().present() {
            set_pte_atomic(p, pte);
        } else {
            set_pte(p, pte);
        }
    }
}

/// Where the PKMAP page table and the first kmap slot's PTE are: looked up
/// once (`cache_kmap_ptes`, at the end of paging_init) because kmap and
/// kmap_local need them on every call. Linux caches the same two pointers
/// (`pkmap_page_table`, `__kmap_pte`).
static PKMAP_PAGE_TABLE: AtomicUsize = AtomicUsize::new(0);
static KMAP_PTE_BASE: AtomicUsize = AtomicUsize::new(0);

/// Look up and remember the PKMAP and kmap PTE arrays.
pub(super) fn cache_kmap_ptes() {
    let pkmap = virt_to_kpte(PKMAP_BASE).expect("pkmap page table exists after paging_init");
    let kmap = virt_to_kpte(fix_to_virt(FIX_KMAP_BEGIN)).expect("fixmap page table exists");
    PKMAP_PAGE_TABLE.store(pkmap as usize, Ordering::Relaxed);
    KMAP_PTE_BASE.store(kmap as usize, Ordering::Relaxed);
}

/// The PKMAP window's page table, as an array of `LAST_PKMAP` PTEs (Linux
/// `pkmap_page_table`).
#[inline]
pub fn pkmap_page_table() -> *mut pte_t {
    PKMAP_PAGE_TABLE.load(Ordering::Relaxed) as *mut pte_t
}

/// The PTE of fixmap kmap slot `idx` (Linux `kmap_get_pte`: the kmap PTEs
/// form one array that grows *downwards* with the index, because fixmap
/// addresses do).
#[inline]
pub fn kmap_pte(idx: usize) -> *mut pte_t {
    (KMAP_PTE_BASE.load(Ordering::Relaxed) as *mut pte_t).wrapping_sub(idx)
}

const _: () = assert!(LAST_PKMAP == PTRS_PER_PTE);

// ------------------------------------------------ user page tables ----
//
// A process's page directory is a lowmem page (the CPU loads its physical
// address into CR3, and the kernel reads it through the direct map); its
// kernel half is a copy of swapper_pg_dir's, which never changes (see
// above). The page tables of the user half come from highmem (Linux
// CONFIG_HIGHPTE): the kernel reaches one only through `pte_offset_map`,
// a kmap_local mapping, and lets go with `pte_unmap`.
//
//   pgd (lowmem)          PTE page (highmem)          data page (highmem)
//   [0..768)  user   -->  [0..1024) via kmap_local --> 4 KiB
//   [768..1024) = swapper_pg_dir's entries
//
// (That is the 2-level picture, where the PMD entries are the PGD entries.
// With PAE the PGD has 4 entries, each pointing at a PMD page of 512; the
// walk below goes pgd_offset -> pmd_offset -> pte_offset_map either way.)

/// A new page directory (Linux `pgd_alloc`, `arch/x86/mm/pgtable.c`):
/// user half empty, kernel half swapper_pg_dir's. Returns its physical
/// address (what CR3 will hold).
///
/// The PGD is one lowmem page in both flavours: the CPU reads it through
/// CR3 (a 32-bit physical address, so below 4 GiB) and the kernel through
/// the direct map. With PAE only its first 32 bytes are used, the PDPT;
/// Linux 6.1 takes those 32 bytes from a slab (`pgd_cache`, `PGD_ALIGN`
/// 32) when the kernel PMD is shared. We take a page, which is 32-byte
/// aligned and below 4 GiB all the same (a difference in memory only:
/// 4 KiB instead of 32 bytes per process).
///
/// With PAE, as Linux's `preallocate_pmds` + `pgd_prepopulate_pmd`:
///
/// ```text
///   PDPT (32 bytes)      PMD pages (lowmem)                 PTE pages (HIGHPTE)
///   [0] P -> pmd 0       user 0 GiB..1 GiB, 512 entries  -> pte_alloc, later
///   [1] P -> pmd 1       user 1..2 GiB
///   [2] P -> pmd 2       user 2..3 GiB
///   [3] = swapper's [3]  the kernel's PMD page, shared by every address space
/// ```
///
/// The `PREALLOCATED_PMDS` (= `KERNEL_PGD_BOUNDARY` = 3) user PMD pages
/// are allocated here, all or none, from lowmem (`GFP_PGTABLE_USER`
/// without `__GFP_HIGHMEM`: the kernel reaches a PMD page through the
/// direct map, and `pmd_offset` does not kmap). They are never replaced
/// while the PGD lives: a PAE CPU caches the four PDPTEs when CR3 is
/// loaded (Intel application note 317080), so a PDPTE changed under a
/// loaded CR3 would be ignored until the next reload. Populating them all
/// before the PGD is ever loaded means no PDPTE of a live PGD changes, and
/// no reload is needed; the kernel's PMD is shared, so a new kernel
/// mapping never needs a PDPTE either (Linux: `SHARED_KERNEL_PMD`,
/// `ARCH_PAGE_TABLE_SYNC_MASK` 0). A PDPTE holds only `_PAGE_PRESENT`
/// (`PDPTE_FLAGS`): RW, US and the rest are reserved at that level.
///
/// Without PAE the PMD is folded: `PREALLOCATED_PMDS` is 0 and this is a
/// page with the kernel's PDEs copied.
pub fn pgd_alloc() -> Option<usize> {
    use crate::mm::page_alloc::{__free_pages, alloc_pages, page_to_pfn, pfn_to_page};
    use mm::gfp::{__GFP_ZERO, GFP_KERNEL};
    use mm::layout::{PREALLOCATED_PMDS, PTRS_PER_PGD};

    let page = alloc_pages(GFP_KERNEL | __GFP_ZERO, 0)?;
    let pgd = page_to_pfn(page) << PAGE_SHIFT;
    // preallocate_pmds: all of them, or give back what we got.
    let mut pmds = [0usize; PREALLOCATED_PMDS];
    for i in 0..pmds.len() {
        match alloc_pages(GFP_PGTABLE_USER_LOWMEM, 0) {
            Some(p) => pmds[i] = page_to_pfn(p),
            None => {
                for &pfn in &pmds[..i] {
                    __free_pages(pfn_to_page(pfn), 0);
                }
                __free_pages(page, 0);
                return None;
            }
        }
    }
    let (src, dst) = (phys_to_virt(swapper_pg_dir()) as *const pgd_t, phys_to_virt(pgd) as *mut pgd_t);
    // pgd_ctor: the kernel's entries (2-level: PDEs 768..1023; PAE:
    // PDPTE 3, the shared kernel PMD page).
    for i in KERNEL_PGD_BOUNDARY..PTRS_PER_PGD {
        // SAFETY: both are page directories in lowmem, reached through the
        // direct map; i < PTRS_PER_PGD. The new one is not loaded anywhere.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
    }
    // pgd_prepopulate_pmd (PAE only; the loop is empty otherwise).
    for (i, &pfn) in pmds.iter().enumerate() {
        let entry = pgd_t(mm::pgtable_types::pfn_val(pfn, mm::pgtable_types::PDPTE_FLAGS));
        // SAFETY: entry i < KERNEL_PGD_BOUNDARY of the new PGD, which no
        // CPU has loaded yet: a plain store is enough (Linux's
        // `pud_populate` goes through `set_pud`, cmpxchg8b, and then
        // flushes, because it may run on a live PGD; ours never does).
        unsafe { dst.add(i).write(entry) };
    }
    Some(pgd)
}

/// Where the preallocated user PMD pages come from: Linux's
/// `GFP_PGTABLE_USER` (`GFP_KERNEL | __GFP_ZERO`, plus accounting) without
/// `__GFP_HIGHMEM`, so lowmem, zeroed.
const GFP_PGTABLE_USER_LOWMEM: mm::gfp::GfpFlags = mm::gfp::GFP_KERNEL.union(mm::gfp::__GFP_ZERO);

/// Free a page directory from [`pgd_alloc`] (Linux `pgd_free`:
/// `pgd_mop_up_pmds` then the PGD itself): with PAE the preallocated
/// user PMD pages go too (their entries are already empty: `exit_mmap`
/// freed the page tables under them), never PDPTE 3's, which is
/// swapper's. No CPU may have the PGD loaded, really or lazily (the
/// caller, `MmCore::drop`, is the last reference).
pub fn pgd_free(pgd: usize) {
    use crate::mm::page_alloc::{__free_pages, pfn_to_page};
    use mm::layout::PREALLOCATED_PMDS;
    let dir = phys_to_virt(pgd) as *mut pgd_t;
    // (0 of them without PAE: the PGD has no user PMD pages of its own.)
    for i in (0..KERNEL_PGD_BOUNDARY).take(PREALLOCATED_PMDS) {
        // SAFETY: entry i of a lowmem PGD nobody has loaded.
        let entry = unsafe { dir.add(i).read_volatile() };
        if entry.present() {
            // SAFETY: as above; cleared before the page is freed.
            unsafe { dir.add(i).write(pgd_t(0)) };
            __free_pages(pfn_to_page(entry.pfn()), 0);
        }
    }
    __free_pages(pfn_to_page(pgd >> PAGE_SHIFT), 0);
}

/// Map the page table a PMD entry points at, and return a pointer to
/// `vaddr`'s PTE in it (Linux `pte_offset_map`). With HIGHPTE the table
/// may be in highmem, so it is mapped with kmap_local (always through a
/// slot, as Linux's `kmap_local_page` of a highmem PTE page): the caller
/// unmaps it with [`pte_unmap`], in LIFO order with its other kmap_local
/// mappings.
pub fn pte_offset_map(pmd: pmd_t, vaddr: usize) -> *mut pte_t {
    let table = crate::mm::kmap_local::kmap_local_pfn(pmd.pfn()) as *mut pte_t;
    table.wrapping_add(pte_index(vaddr))
}

/// Let go of the page table mapped by [`pte_offset_map`] (Linux `pte_unmap`).
pub fn pte_unmap(pte: *mut pte_t) {
    crate::mm::kmap_local::kunmap_local(pte as usize);
}
