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

use core::sync::atomic::{AtomicUsize, Ordering};

use mm::layout::{
    KERNEL_PGD_BOUNDARY, LAST_PKMAP, PAGE_SHIFT, PGDIR_SHIFT, PKMAP_BASE, PTRS_PER_PTE,
    fix_to_virt, fixed_addresses::FIX_KMAP_BEGIN, phys_to_virt,
};

use crate::arch::paging::Pte;

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

fn pgd_entry(vaddr: usize) -> *mut Pte {
    let pgd = swapper_pg_dir();
    assert!(pgd != 0, "page tables used before paging_init");
    (phys_to_virt(pgd) as *mut Pte).wrapping_add(vaddr >> PGDIR_SHIFT)
}

/// Pointer to the PTE that maps kernel address `vaddr` (Linux
/// `virt_to_kpte`). Every kernel address has one: the tables are
/// preallocated. Returns `None` for user addresses.
pub fn virt_to_kpte(vaddr: usize) -> Option<*mut Pte> {
    if vaddr >> PGDIR_SHIFT < KERNEL_PGD_BOUNDARY {
        return None;
    }
    // SAFETY: pgd_entry points into swapper_pg_dir, a live lowmem page.
    let pde = unsafe { pgd_entry(vaddr).read_volatile() };
    if !pde.present() {
        return None;
    }
    let table = phys_to_virt(pde.pfn() << PAGE_SHIFT) as *mut Pte;
    Some(table.wrapping_add((vaddr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)))
}

/// Read the PTE for a kernel address (`Pte::NONE` if there is none).
pub fn lookup_kernel_pte(vaddr: usize) -> Pte {
    match virt_to_kpte(vaddr) {
        // SAFETY: virt_to_kpte returns a pointer into a live page table.
        Some(p) => unsafe { p.read_volatile() },
        None => Pte::NONE,
    }
}

/// Install `pte` for kernel address `vaddr`. No TLB flush: the caller
/// decides what to invalidate and where (that decision is the whole story
/// of kmap).
pub fn set_pte_kernel(vaddr: usize, pte: Pte) {
    let p = virt_to_kpte(vaddr).unwrap_or_else(|| panic!("set_pte_kernel: no page table for {vaddr:#x}"));
    // SAFETY: p points into a preallocated kernel page table; an aligned
    // 32-bit store is atomic with respect to the MMU's page walk.
    unsafe { p.write_volatile(pte) };
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
pub fn pkmap_page_table() -> *mut Pte {
    PKMAP_PAGE_TABLE.load(Ordering::Relaxed) as *mut Pte
}

/// The PTE of fixmap kmap slot `idx` (Linux `kmap_get_pte`: the kmap PTEs
/// form one array that grows *downwards* with the index, because fixmap
/// addresses do).
#[inline]
pub fn kmap_pte(idx: usize) -> *mut Pte {
    (KMAP_PTE_BASE.load(Ordering::Relaxed) as *mut Pte).wrapping_sub(idx)
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

/// Flags of a page-directory entry for a user page table: user-accessible
/// and writable (the PTEs decide what each page may do), as Linux's
/// `_PAGE_TABLE`.
pub const PDE_USER_TABLE: crate::arch::paging::PteFlags = crate::arch::paging::PteFlags::PRESENT
    .union(crate::arch::paging::PteFlags::RW)
    .union(crate::arch::paging::PteFlags::USER)
    .union(crate::arch::paging::PteFlags::ACCESSED);

/// A new page directory (Linux `pgd_alloc`): user half empty, kernel half
/// swapper_pg_dir's. Returns its physical address.
pub fn pgd_alloc() -> Option<usize> {
    let page = crate::mm::page_alloc::alloc_pages(mm::gfp::GFP_KERNEL | mm::gfp::__GFP_ZERO, 0)?;
    let pgd = crate::mm::page_alloc::page_to_pfn(page) << PAGE_SHIFT;
    let (src, dst) = (phys_to_virt(swapper_pg_dir()) as *const Pte, phys_to_virt(pgd) as *mut Pte);
    for i in KERNEL_PGD_BOUNDARY..mm::layout::PTRS_PER_PGD {
        // SAFETY: both are page directories in lowmem, reached through the
        // direct map; i < 1024.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
    }
    Some(pgd)
}

/// The page-directory entry of `vaddr` in the page directory at `pgd`
/// (Linux `pgd_offset`; without PAE the PMD is this same entry).
pub fn pgd_offset(pgd: usize, vaddr: usize) -> *mut Pte {
    (phys_to_virt(pgd) as *mut Pte).wrapping_add(vaddr >> PGDIR_SHIFT)
}

/// Map the page table a page-directory entry points at, and return a
/// pointer to `vaddr`'s PTE in it (Linux `pte_offset_map`). With HIGHPTE
/// the table may be in highmem, so it is mapped with kmap_local (always
/// through a slot, as Linux's `kmap_local_page` of a highmem PTE page):
/// the caller unmaps it with [`pte_unmap`], in LIFO order with its other
/// kmap_local mappings.
pub fn pte_offset_map(pde: Pte, vaddr: usize) -> *mut Pte {
    let table = crate::mm::kmap_local::kmap_local_pfn(pde.pfn()) as *mut Pte;
    table.wrapping_add((vaddr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1))
}

/// Let go of the page table mapped by [`pte_offset_map`] (Linux `pte_unmap`).
pub fn pte_unmap(pte: *mut Pte) {
    crate::mm::kmap_local::kunmap_local(pte as usize);
}
