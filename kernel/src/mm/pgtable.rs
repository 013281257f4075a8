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
