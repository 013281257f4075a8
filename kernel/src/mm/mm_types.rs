//! A process's address space (Linux `struct mm_struct`,
//! `include/linux/mm_types.h`; `mm_alloc`/`mmput` in `kernel/fork.c`).
//!
//! So far: the page directory, and the pages the kernel mapped into it for
//! the process (which the address space owns and frees with itself). The
//! VMAs, demand paging and copy-on-write come on top of this.

use alloc::vec::Vec;

use mm::gfp::{GFP_HIGHUSER, __GFP_ZERO};
use mm::layout::{PAGE_SHIFT, TASK_SIZE};
use mm::page::Page;

use crate::arch::paging::{Pte, PteFlags};
use crate::locking::SpinLock;
use crate::mm::page_alloc::{__free_pages, alloc_pages, page_to_pfn, pfn_to_page};
use crate::mm::pgtable::{PDE_USER_TABLE, pgd_alloc, pgd_offset, pte_offset_map, pte_unmap};

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// Not a user address, or not page aligned.
    BadAddress(usize),
    /// Something is mapped there already.
    Exists(usize),
    /// No memory for a page table.
    NoMemory,
}

/// One process's address space.
pub struct MmStruct {
    /// Physical address of the page directory (what CR3 holds).
    pgd: usize,
    /// Pages mapped into the user half that this address space owns.
    owned: SpinLock<Vec<&'static Page>>,
    /// The user page tables, to free with the address space.
    tables: SpinLock<Vec<&'static Page>>,
}

impl MmStruct {
    /// An empty address space: no user mappings, the kernel's half shared
    /// (Linux `mm_alloc`). `None` without memory.
    pub fn new() -> Option<MmStruct> {
        Some(MmStruct { pgd: pgd_alloc()?, owned: SpinLock::new(Vec::new()), tables: SpinLock::new(Vec::new()) })
    }

    /// Physical address of the page directory.
    pub fn pgd(&self) -> usize {
        self.pgd
    }

    /// Map `page` at user address `vaddr`, user-accessible, writable or
    /// not; the address space owns the page from now on and frees it with
    /// itself. A missing page table is allocated from highmem (HIGHPTE) and
    /// zeroed; the PTE is written through `pte_offset_map`.
    pub fn map_page(&self, vaddr: usize, page: &'static Page, writable: bool) -> Result<(), MapError> {
        if vaddr >= TASK_SIZE || !vaddr.is_multiple_of(mm::layout::PAGE_SIZE) {
            return Err(MapError::BadAddress(vaddr));
        }
        let pdep = pgd_offset(self.pgd, vaddr);
        // SAFETY: pdep points into our page directory, a lowmem page.
        let mut pde = unsafe { pdep.read_volatile() };
        if !pde.present() {
            let table = alloc_pages(GFP_HIGHUSER | __GFP_ZERO, 0).ok_or(MapError::NoMemory)?;
            self.tables.lock().push(table);
            pde = Pte::new(page_to_pfn(table), PDE_USER_TABLE);
            // SAFETY: as above; the table is zeroed, so it maps nothing yet.
            unsafe { pdep.write_volatile(pde) };
        }
        let ptep = pte_offset_map(pde, vaddr);
        // SAFETY: ptep points into the page table mapped just above.
        let old = unsafe { ptep.read_volatile() };
        let result = if old.is_none() {
            let mut flags = PteFlags::PRESENT | PteFlags::USER | PteFlags::ACCESSED;
            if writable {
                flags |= PteFlags::RW | PteFlags::DIRTY;
            }
            // SAFETY: as above; the entry was empty, so no TLB holds it.
            unsafe { ptep.write_volatile(Pte::new(page_to_pfn(page), flags)) };
            self.owned.lock().push(page);
            Ok(())
        } else {
            Err(MapError::Exists(vaddr))
        };
        pte_unmap(ptep);
        result
    }

    /// The PTE that maps user address `vaddr` (`Pte::NONE` if none), read
    /// through `pte_offset_map` as the fault path does.
    pub fn lookup(&self, vaddr: usize) -> Pte {
        // SAFETY: pgd_offset points into our page directory.
        let pde = unsafe { pgd_offset(self.pgd, vaddr).read_volatile() };
        if !pde.present() {
            return Pte::NONE;
        }
        let ptep = pte_offset_map(pde, vaddr);
        // SAFETY: ptep points into the mapped page table.
        let pte = unsafe { ptep.read_volatile() };
        pte_unmap(ptep);
        pte
    }

    /// The user page tables (for tests and `ps`: where they live).
    pub fn page_tables(&self) -> Vec<&'static Page> {
        self.tables.lock().clone()
    }
}

impl Drop for MmStruct {
    /// Free every page, every page table and the page directory (Linux
    /// `exit_mmap` + `pgd_free`). Nobody runs on this address space any
    /// more: a task's mm is dropped after it has switched out for good.
    fn drop(&mut self) {
        for page in self.owned.lock().drain(..) {
            __free_pages(page, 0);
        }
        for table in self.tables.lock().drain(..) {
            __free_pages(table, 0);
        }
        __free_pages(pfn_to_page(self.pgd >> PAGE_SHIFT), 0);
    }
}
