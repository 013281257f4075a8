//! Demand paging (Linux `mm/memory.c`): resolving a fault on a user
//! address through the VMAs, with every page table reached by
//! `pte_offset_map` (HIGHPTE) and every new page cleared through
//! kmap_local.
//!
//! ```text
//!  handle_mm_fault(mm, vma, address, flags)
//!    pte_alloc                  a page table for the 4 MiB, from highmem
//!    pte_offset_map             kmap_local of that table     (depth D+1)
//!    none, file area -> do_fault (do_read_fault / do_cow_fault /
//!                  do_shared_fault: the page-cache page, mapped or copied;
//!                  past i_size: SIGBUS)
//!    none     -> do_anonymous_page
//!                  read:  the shared zero page, read-only (U8)
//!                  write: alloc GFP_HIGHUSER_MOVABLE|__GFP_ZERO (zeroed through
//!                         kmap_local, D+2 inside), PTE writable+dirty (U9)
//!    protnone -> do_protnone_page   (PROT_NONE entry in an area that allows
//!                  access: only if mprotect missed it; give it the area's
//!                  protection, same frame, as Linux's do_numa_page)
//!    present, write, not writable -> do_wp_page
//!                  the zero page: a fresh zeroed page (copy-on-write of zeros)
//!                  a page shared since fork: copy it (copy_user_highpage)
//!                  a page only this process maps: write-enable it in place
//!    pte_unmap                                                (depth D)
//! ```
//!
//! An access to a `PROT_NONE` area never gets here: `access_error` (in
//! the arch fault handler) refuses it first, SIGSEGV with `SEGV_ACCERR`.
//! Its pages, if it had any before `mprotect(PROT_NONE)`, are still in
//! their PTEs, marked `_PAGE_PROTNONE` with the present bit clear (see
//! `mm::vma::pte`): not `pte_none`, so nothing here would allocate over
//! them and lose their data.
//!
//! Differences from Linux, for now: one lock (the mm's `mmap_lock`, held
//! across the fault) stands for both `mmap_lock` and the page-table lock;
//! there is no rmap, LRU or memcg (a file's reverse map is a list of the
//! `mm`s that map it, `FilePages::i_mmap`); a page is shared between a
//! forked parent and child, or is a page-cache page mapped by file areas,
//! and its reference count says by how many (the cache holding one).
//!
//! Fault races (U10, U11). Linux faults under `mmap_lock` held for *read*,
//! so two threads may fault one address at once: each allocates a page
//! (and, for an empty 4 MiB, a page table) without the page-table lock,
//! then takes the lock and rechecks; the loser finds `!pte_none` (or the
//! PMD populated, `pmd_install`) and frees what it allocated. Here the
//! whole fault runs under the one exclusive lock, so the second task waits
//! for it, then finds the entry present (the spurious-fault path) or the
//! page table linked, and allocates nothing: there is never a spare page
//! to free. And the page table stays mapped (kmap_local, D+1) across the
//! allocation, which may sleep; 6.1 maps it with kmap_atomic and unmaps
//! it before allocating (U15).

use mm::gfp::{GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_ZERO};
use mm::layout::PAGE_SIZE;
use mm::vma::{PgProt, VmArea, VmFlags};
use spin::Once;

use crate::arch::paging::{PteFlags, flush_tlb_one_user, pte_clear, pte_t, set_pte};
use crate::arch::tlb::flush_tlb_page;
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::{alloc_pages, page_to_pfn};
use crate::mm::pgtable::{pte_offset_map, pte_unmap};

/// What a fault asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultFlags {
    /// A write (`FAULT_FLAG_WRITE`).
    pub write: bool,
    /// From user mode (`FAULT_FLAG_USER`).
    pub user: bool,
}

/// Why a fault could not be resolved (Linux `VM_FAULT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmFault {
    /// No memory for a page or a page table (`VM_FAULT_OOM`).
    Oom,
    /// A mapping we cannot fill yet (file-backed: `VM_FAULT_SIGBUS`).
    SigBus,
}

/// Faults resolved, by kind (for tests and `ps`).
pub static ANON_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// Read faults answered with the zero page.
pub static ZERO_PAGE_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// Pages copied because a write hit a page shared since fork.
pub static COW_COPIES: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// Write faults on a read-only PTE (`do_wp_page`).
pub static WP_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// Faults on a `PROT_NONE` entry of an area that allows access
/// (`do_protnone_page`): 0 unless `mprotect` left an entry behind.
pub static PROTNONE_FIXUPS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

/// A test's hook in `do_anonymous_page`, between finding the entry empty
/// (and allocating the page) and setting it, with the page table still
/// mapped (0: none). It is the window in which Linux's loser of a fault
/// race allocates (tests/usercopy.rs makes a task sleep there while
/// another faults the same address, and reads the kmap_local stack).
static ANON_FAULT_HOOK: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Set (or, with `None`, clear) [`ANON_FAULT_HOOK`]. For tests only.
pub fn set_anon_fault_hook(hook: Option<fn()>) {
    ANON_FAULT_HOOK.store(hook.map_or(0, |f| f as usize), core::sync::atomic::Ordering::SeqCst);
}

/// The shared zero page (Linux `empty_zero_page`): every untouched
/// anonymous page reads from it, read-only, until written.
static ZERO_PFN: Once<usize> = Once::new();

/// Its frame (Linux `my_zero_pfn`); allocated, zeroed, the first time.
pub fn my_zero_pfn() -> usize {
    *ZERO_PFN.call_once(|| {
        // Linux's zero page is a static page (`empty_zero_page`, in
        // .bss): it cannot fail, so ours, made on first use, is asked
        // `__GFP_NOFAIL` (fault injection passes it by; found by
        // tests/fault_inject.rs, whose first user fault hit this line).
        let page = alloc_pages(GFP_KERNEL | __GFP_ZERO | mm::gfp::__GFP_NOFAIL, 0).expect("a page for the zero page");
        page_to_pfn(page)
    })
}

/// Is `pfn` the zero page? (Never freed, never written.)
pub fn is_zero_pfn(pfn: usize) -> bool {
    ZERO_PFN.get() == Some(&pfn)
}

/// The PTE flags for an area's protection (`vm_page_prot`).
fn pte_flags(prot: PgProt) -> PteFlags {
    PteFlags::from_bits_truncate(prot.bits() as mm::pgtable_types::pteval_t) | PteFlags::ACCESSED
}

/// Resolve a fault at `address` in `vma` (Linux `handle_mm_fault`). The
/// caller holds the mm's `mmap_lock` and has checked that the access is
/// allowed (`access_error`).
pub fn handle_mm_fault(mm: &MmStruct, vma: &VmArea, address: usize, flags: FaultFlags) -> Result<(), VmFault> {
    let addr = address & mm::layout::PAGE_MASK;
    let pmd = mm.pte_alloc(addr).map_err(|_| VmFault::Oom)?;
    let ptep = pte_offset_map(pmd, addr);
    // SAFETY: ptep points into the page table mapped just above.
    let orig = unsafe { ptep.read_volatile() };
    let result = if orig.is_none() {
        if let mm::vma::VmaKind::File(id) = vma.kind {
            do_fault(mm, vma, id, addr, flags, ptep)
        } else {
            do_anonymous_page(vma, flags, ptep)
        }
    } else if orig.pte_protnone() {
        do_protnone_page(vma, addr, orig, ptep)
    } else if flags.write && !orig.flags().contains(PteFlags::RW) {
        do_wp_page(mm, vma, addr, orig, ptep)
    } else {
        // Present and allowed: a stale TLB entry on this CPU (Linux
        // flush_tlb_fix_spurious_fault).
        flush_tlb_one_user(addr);
        Ok(())
    };
    pte_unmap(ptep);
    result
}

/// A first touch of an anonymous page (Linux `do_anonymous_page`).
fn do_anonymous_page(vma: &VmArea, flags: FaultFlags, ptep: *mut pte_t) -> Result<(), VmFault> {
    if !vma.vma_is_anonymous() {
        return Err(VmFault::SigBus);
    }
    let prot = pte_flags(vma.vm_page_prot());
    let entry = if !flags.write {
        // U8: reads of untouched memory see the shared zero page.
        ZERO_PAGE_FAULTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        pte_t::new(my_zero_pfn(), prot - PteFlags::RW)
    } else {
        // U9: a fresh page, highmem first, cleared through kmap_local (the
        // allocator's __GFP_ZERO does clear_highpage) while the page table
        // stays mapped below it on this task's slot stack.
        let page = alloc_pages(GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0).ok_or(VmFault::Oom)?;
        ANON_FAULTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        pte_t::new(page_to_pfn(page), maybe_mkwrite(prot, vma) | PteFlags::DIRTY)
    };
    let hook = ANON_FAULT_HOOK.load(core::sync::atomic::Ordering::Relaxed);
    if hook != 0 {
        // SAFETY: only set_anon_fault_hook stores here, from a `fn()`.
        unsafe { core::mem::transmute::<usize, fn()>(hook)() };
    }
    // SAFETY: ptep points into a mapped page table; the entry was empty,
    // so no TLB holds a translation to invalidate.
    unsafe { set_pte(ptep, entry) };
    Ok(())
}

/// A `PROT_NONE` entry in an area the caller found accessible. Linux
/// meets these only through NUMA balancing (`do_numa_page`, which marks
/// pages protnone on purpose to see who touches them) and gives the entry
/// back the area's protection, keeping the frame; we do the same, and
/// count it, because here it means an `mprotect` that did not rewrite an
/// entry. Never writable: a write faults again, into `do_wp_page`.
fn do_protnone_page(vma: &VmArea, addr: usize, orig: pte_t, ptep: *mut pte_t) -> Result<(), VmFault> {
    PROTNONE_FIXUPS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let entry = pte_t(mm::vma::pte::change_pte(orig.0, vma.vm_page_prot()) | PteFlags::ACCESSED.bits());
    // SAFETY: ptep points into a mapped page table of this mm, whose lock
    // the caller holds; the old entry was not present to the CPU, so no
    // TLB holds it (the flush is for the fault's retry, as Linux's).
    unsafe { set_pte(ptep, entry) };
    flush_tlb_one_user(addr);
    Ok(())
}

/// File-backed faults resolved, by kind (for tests): read faults that
/// mapped the page-cache page (`do_read_fault`), private write faults
/// that copied it (`do_cow_fault`), shared write faults that mapped it
/// writable (`do_shared_fault`), and faults past the end (SIGBUS).
pub static FILE_READ_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// See [`FILE_READ_FAULTS`].
pub static FILE_COW_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// See [`FILE_READ_FAULTS`].
pub static FILE_SHARED_FAULTS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// See [`FILE_READ_FAULTS`].
pub static FILE_SIGBUS: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);
/// Write faults on a present page of a shared mapping, made writable in
/// place (`wp_page_shared`).
pub static WP_SHARED: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

/// A first touch of a file page (Linux `do_fault`, which branches to
/// `do_read_fault`, `do_cow_fault` or `do_shared_fault`; each calls
/// `__do_fault` -> `filemap_fault` for the page and `finish_fault` to
/// set the PTE).
///
/// ```text
///  filemap_fault        the page at vma.vm_pgoff + (addr - vm_start)/PAGE_SIZE,
///                       from the cache or created (ramfs's read_folio: a
///                       hole is a zeroed page), a reference taken, locked;
///                       past i_size (rounded up to a page): VM_FAULT_SIGBUS
///  read                 the page itself, as vm_page_prot says: read-only
///                       for a private area (a later write goes to
///                       do_wp_page, which copies), writable for a shared
///                       writable one (ramfs has no dirty accounting, so
///                       Linux does not write-protect it either)
///  private write        do_cow_fault: a new GFP_HIGHUSER_MOVABLE page,
///                       copy_user_highpage (kmap_local of the cache page,
///                       then of the copy, on top of the page table's
///                       mapping: depth D+3 at the copy), the cache page's
///                       reference dropped: the file never sees the write
///  shared write         do_shared_fault: the page itself, writable and
///                       dirty: read() sees the bytes at once (ramfs has
///                       nothing to write back)
/// ```
///
/// The PTE holds a reference on the page (Linux's mapcount and refcount
/// in miniature): the cache holds one, each mapping one more; munmap, exit
/// and truncate's `unmap_mapping_range` drop them, and the page stays in
/// the cache. Linux looks the page up without the page lock first and
/// locks it only to recheck; here the lock is taken to recheck too: the
/// page is still the cache's and still inside `i_size` (a truncate may
/// have run while we slept), as `filemap_fault` does.
fn do_fault(mm: &MmStruct, vma: &VmArea, id: mm::vma::FileId, addr: usize, flags: FaultFlags, ptep: *mut pte_t) -> Result<(), VmFault> {
    use core::sync::atomic::Ordering::Relaxed;
    let Some(inode) = mm.vm_file(id) else { return Err(VmFault::SigBus) };
    let Ok(file) = inode.file() else { return Err(VmFault::SigBus) };
    let index = vma.linear_page_index(addr);
    let page = loop {
        if index as u64 >= file.i_size().div_ceil(PAGE_SIZE as u64) {
            FILE_SIGBUS.fetch_add(1, Relaxed);
            return Err(VmFault::SigBus);
        }
        let page = crate::mm::filemap::filemap_get_page(&crate::fs::ramfs::RAM_AOPS, &file.i_mapping, index)
            .map_err(|_| VmFault::Oom)?;
        crate::mm::filemap::lock_page(page);
        let still = file.i_mapping.find_get_page(index);
        let same = still.is_some_and(|p| core::ptr::eq(p, page));
        if let Some(p) = still {
            crate::mm::filemap::put_page(p);
        }
        if same && (index as u64) < file.i_size().div_ceil(PAGE_SIZE as u64) {
            break page;
        }
        // Truncated while we slept: look again (Linux `filemap_fault`'s
        // "did it get truncated?" check, then the i_size one).
        crate::mm::filemap::unlock_page(page);
        crate::mm::filemap::put_page(page);
    };
    let prot = pte_flags(vma.vm_page_prot());
    let shared = vma.vm_flags.contains(VmFlags::VM_SHARED);
    let entry = if flags.write && !shared {
        // do_cow_fault: the file's page is only read.
        let Some(cow) = alloc_pages(GFP_HIGHUSER_MOVABLE, 0) else {
            crate::mm::filemap::unlock_page(page);
            crate::mm::filemap::put_page(page);
            return Err(VmFault::Oom);
        };
        crate::mm::highmem::copy_highpage(cow, page);
        crate::mm::filemap::unlock_page(page);
        crate::mm::filemap::put_page(page);
        FILE_COW_FAULTS.fetch_add(1, Relaxed);
        pte_t::new(page_to_pfn(cow), maybe_mkwrite(prot, vma) | PteFlags::DIRTY)
    } else {
        crate::mm::filemap::unlock_page(page);
        if flags.write {
            FILE_SHARED_FAULTS.fetch_add(1, Relaxed);
            pte_t::new(page_to_pfn(page), maybe_mkwrite(prot, vma) | PteFlags::DIRTY)
        } else {
            FILE_READ_FAULTS.fetch_add(1, Relaxed);
            // Our reference becomes the PTE's.
            pte_t::new(page_to_pfn(page), prot)
        }
    };
    // SAFETY: ptep points into a mapped page table of this mm, whose
    // mmap_lock the caller holds; the entry was empty, so no TLB holds it.
    unsafe { set_pte(ptep, entry) };
    Ok(())
}

/// Writable if the area is (Linux `maybe_mkwrite`): private writable
/// areas' `vm_page_prot` is read-only so that the first write faults.
fn maybe_mkwrite(prot: PteFlags, vma: &VmArea) -> PteFlags {
    if vma.vm_flags.contains(VmFlags::VM_WRITE) { prot | PteFlags::RW } else { prot }
}

/// A write to a present, read-only page of a writable area (Linux
/// `do_wp_page`). The zero page is replaced by a fresh zeroed page
/// (`wp_page_copy`); a page nobody else maps is made writable in place
/// (`wp_page_reuse`). Break before make: the old entry is cleared and its
/// TLB entry flushed, on every CPU that may hold it (`flush_tlb_page`:
/// this one if the mm is loaded here, an IPI to the others in
/// `mm_cpumask`), before the new one is set.
fn do_wp_page(mm: &MmStruct, vma: &VmArea, addr: usize, orig: pte_t, ptep: *mut pte_t) -> Result<(), VmFault> {
    WP_FAULTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let prot = maybe_mkwrite(pte_flags(vma.vm_page_prot()), vma) | PteFlags::DIRTY;
    let old = crate::mm::page_alloc::pfn_to_page(orig.pfn());
    let entry = if vma.vm_flags.contains(VmFlags::VM_SHARED) && !is_zero_pfn(orig.pfn()) {
        // A shared mapping (Linux `wp_page_shared` -> `wp_page_reuse`):
        // everybody writes the one page, the page cache's; a write after
        // mprotect or a read fault just makes the entry writable, same
        // frame, whatever the reference count says.
        WP_SHARED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        pte_t::new(orig.pfn(), prot)
    } else if is_zero_pfn(orig.pfn()) {
        let page = alloc_pages(GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0).ok_or(VmFault::Oom)?;
        pte_t::new(page_to_pfn(page), prot)
    } else if old.page_count() > 1 {
        // Shared since fork (U24), or a page-cache page mapped read-only
        // by a private file mapping (the cache holds a reference too:
        // Linux's `wp_page_copy` for a non-anonymous page): this process gets its own copy, made
        // with two more kmap_local mappings on top of the page table's
        // (copy_user_highpage: source, then destination).
        let page = alloc_pages(GFP_HIGHUSER_MOVABLE, 0).ok_or(VmFault::Oom)?;
        crate::mm::highmem::copy_highpage(page, old);
        COW_COPIES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        crate::mm::page_alloc::__free_pages(old, 0); // our reference to the shared one
        pte_t::new(page_to_pfn(page), prot)
    } else {
        // Nobody else maps it any more: write-enable it in place.
        pte_t::new(orig.pfn(), prot)
    };
    // SAFETY: ptep points into a mapped page table of this mm, whose lock
    // the caller holds.
    unsafe { pte_clear(ptep) };
    flush_tlb_page(mm, addr);
    // SAFETY: as above.
    unsafe { set_pte(ptep, entry) };
    Ok(())
}
