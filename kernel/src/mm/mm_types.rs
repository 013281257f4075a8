//! A process's address space (Linux `struct mm_struct`,
//! `include/linux/mm_types.h`; `mm_alloc`/`mmput`/`exit_mmap` in
//! `kernel/fork.c` and `mm/mmap.c`).
//!
//! ```text
//!  Arc<MmStruct>          its strong count is Linux's mm_users (mmget/mmput)
//!    core: Arc<MmCore>    its strong count is Linux's mm_count (mmgrab/mmdrop)
//!      pgd                a lowmem page directory: user half ours, kernel half swapper's
//!      mm_cpumask         the CPUs that have it loaded, really or lazily
//!      tlb_gen            bumped by every flush of its user mappings
//!    mmap_lock            the VMAs (mm::vma::MmMap, host-tested), under a sleeping lock
//!                         (Linux's mmap_lock is a read-write semaphore; page faults
//!                         take it too, and may sleep while holding it)
//! ```
//!
//! Two lifetimes, as in Linux: when the last *user* lets go (the process
//! exits, or exec replaces the address space), `exit_mmap` frees every
//! page and page table at once; the page directory lives on in `MmCore`
//! as long as some CPU still has it loaded, lazily, for a kernel thread
//! (`arch/x86/mm/tlb.rs`), and is freed when the last of those CPUs
//! switches to another mm.
//!
//! The pages of the user half are found through the page tables, not kept
//! in a list: whatever a fault or the kernel mapped, `exit_mmap` frees by
//! walking the tables (each highmem page table through `pte_offset_map`).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::{GFP_HIGHUSER, __GFP_ZERO};
use mm::layout::{PAGE_SHIFT, PMD_SHIFT, PTRS_PER_PTE, TASK_SIZE, USER_PMDS};
use mm::pgtable_types::pmd_addr_end;
use mm::page::Page;
use mm::vma::MmMap;

use crate::arch::paging::{PDE_USER_TABLE, PteFlags, pmd_clear, pmd_t, pte_clear, pte_t, set_pmd, set_pte};
use crate::locking::Mutex;
use crate::locking::mutex::MutexGuard;
use crate::mm::page_alloc::{__free_pages, alloc_pages, page_to_pfn, pfn_to_page};
use crate::mm::pgtable::{pgd_alloc, pgd_offset, pmd_offset, pte_offset_map, pte_unmap};

/// `userpte=nohigh`: user page tables from lowmem (Linux's x86-32 boot
/// option, which clears `__GFP_HIGHMEM` from `__userpte_alloc_gfp`), to
/// compare with HIGHPTE: the same programs must give the same results.
static USERPTE_NOHIGH: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

crate::early_param!("userpte", Value, "nohigh",
    "userpte=nohigh: user page tables in lowmem instead of highmem (Linux's option; HIGHPTE is the default)",
    |v| match v {
        Some("nohigh") => {
            USERPTE_NOHIGH.store(true, core::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        _ => Err("nohigh"),
    });

/// Where user page tables come from (Linux `__userpte_alloc_gfp`):
/// highmem first, unless `userpte=nohigh`.
pub fn userpte_gfp() -> mm::gfp::GfpFlags {
    if USERPTE_NOHIGH.load(core::sync::atomic::Ordering::Relaxed) { mm::gfp::GFP_KERNEL } else { GFP_HIGHUSER }
}

/// User page tables allocated by `pte_alloc` (for tests: a race on an
/// empty 4 MiB must allocate one).
pub static PTE_TABLES_ALLOCATED: crate::arch::lib::atomic64_cx8_32::AtomicU64 = crate::arch::lib::atomic64_cx8_32::AtomicU64::new(0);

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

/// Where a process's memory lives, in pages (the page directory, always
/// one lowmem page, not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rss {
    /// Data pages in lowmem.
    pub data_low: usize,
    /// Data pages in highmem.
    pub data_high: usize,
    /// Page tables in lowmem.
    pub tables_low: usize,
    /// Page tables in highmem (HIGHPTE).
    pub tables_high: usize,
}

impl core::fmt::Display for Rss {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "data {} pages ({} highmem), page tables {} ({} highmem)",
            self.data_low + self.data_high, self.data_high, self.tables_low + self.tables_high, self.tables_high)
    }
}

/// What of an address space outlives its users (the part Linux's
/// `mm_count` keeps): the page directory, which CPUs have it loaded, and
/// the flush generation. A CPU that has the page directory in CR3 holds a
/// reference (`Arc<MmCore>`, Linux `mmgrab`), so it is freed only after
/// the last such CPU has switched away (`mmdrop`).
pub struct MmCore {
    /// Physical address of the page directory (what CR3 holds).
    pgd: usize,
    /// The CPUs that have it loaded or lazily borrowed (Linux
    /// `mm_cpumask`): bit n = CPU n. Each CPU sets and clears its own bit
    /// in `switch_mm_irqs_off`; flushers read it.
    pub(crate) mm_cpumask: AtomicU32,
    /// Bumped by every flush of its user mappings (Linux
    /// `mm->context.tlb_gen`), so that a CPU a flush skipped can tell.
    pub(crate) tlb_gen: AtomicU64,
}

impl MmCore {
    /// Physical address of the page directory.
    pub fn pgd(&self) -> usize {
        self.pgd
    }

    /// `mm_cpumask`, read.
    pub fn mm_cpumask(&self) -> u32 {
        self.mm_cpumask.load(Ordering::SeqCst)
    }

    /// The flush generation.
    pub fn tlb_gen(&self) -> u64 {
        self.tlb_gen.load(Ordering::SeqCst)
    }
}

impl Drop for MmCore {
    /// The last reference: no task uses the address space and no CPU has
    /// the page directory loaded (Linux `__mmdrop` -> `pgd_free`). The
    /// user half is empty already (`exit_mmap`).
    fn drop(&mut self) {
        crate::mm::pgtable::pgd_free(self.pgd);
    }
}

/// One process's address space.
pub struct MmStruct {
    /// The page directory and who has it loaded.
    core: Arc<MmCore>,
    /// Physical address of the page directory (a copy of `core.pgd`).
    pgd: usize,
    /// The VMAs (Linux `mm->mm_mt` under `mm->mmap_lock`).
    mmap_lock: Mutex<MmMap>,
    /// The files its areas map (Linux keeps a `vm_file` reference in each
    /// `vm_area_struct`; `mm::vma` is host-tested and holds only a
    /// [`FileId`](mm::vma::FileId), the inode number, so the references
    /// live here): one inode reference per file some area maps, taken by
    /// `mmap2`, copied at fork, dropped when the last area of the file is
    /// unmapped ([`prune_vm_files`](Self::prune_vm_files)) or the address
    /// space goes. Changed under the `mmap_lock`.
    vm_files: crate::locking::SpinLock<alloc::collections::BTreeMap<u32, crate::fs::InodeRef>>,
    /// The program this address space runs (Linux `mm->exe_file`): set by
    /// exec, copied at fork, dropped with the address space; while it is
    /// held, the file cannot be written (`ETXTBSY`, see `fs/exec.rs`).
    exe_file: crate::locking::SpinLock<Option<crate::fs::exec::ExeFile>>,
    /// Where exec mapped the vDSO page, 0 if nowhere (Linux
    /// `mm->context.vdso`; `arch/x86/entry/vdso.rs`). Copied at fork.
    pub context_vdso: core::sync::atomic::AtomicUsize,
    /// Linux `mm->total_vm`: pages its areas span, refreshed from the VMA
    /// set each time the `mmap_lock` is let go ([`MmapGuard`]), so that
    /// the OOM killer can report it without taking the lock (the victim
    /// may hold it, asleep in the allocator itself).
    total_vm: core::sync::atomic::AtomicUsize,
    /// Linux `MMF_OOM_SKIP`: set when the address space's pages and page
    /// tables have all been freed (the end of `Drop`), shared with the OOM
    /// killer ([`oom_skip_flag`](Self::oom_skip_flag)), which waits for it
    /// before choosing another victim.
    mmf_oom_skip: Arc<core::sync::atomic::AtomicBool>,
}

/// The `mmap_lock` held (Linux's areas under `mmap_write_lock`): the VMA
/// set, and on release its `total_vm` published for lockless readers, as
/// Linux's `vm_stat_account` keeps `mm->total_vm` up to date as areas
/// change.
pub struct MmapGuard<'a> {
    guard: MutexGuard<'a, MmMap>,
    total_vm: &'a core::sync::atomic::AtomicUsize,
}

impl core::ops::Deref for MmapGuard<'_> {
    type Target = MmMap;
    fn deref(&self) -> &MmMap {
        &self.guard
    }
}

impl core::ops::DerefMut for MmapGuard<'_> {
    fn deref_mut(&mut self) -> &mut MmMap {
        &mut self.guard
    }
}

impl Drop for MmapGuard<'_> {
    fn drop(&mut self) {
        self.total_vm.store(self.guard.total_vm(), Ordering::Relaxed);
    }
}

impl MmStruct {
    /// An empty address space: no VMAs, no user mappings, the kernel's
    /// half shared (Linux `mm_alloc`). `None` without memory.
    pub fn new() -> Option<MmStruct> {
        let pgd = pgd_alloc()?;
        let core = Arc::new(MmCore { pgd, mm_cpumask: AtomicU32::new(0), tlb_gen: AtomicU64::new(0) });
        // New areas and splits are fallible allocations (failslab).
        let mut map = MmMap::new();
        map.vm_area_alloc = crate::mm::mmap::vm_area_alloc;
        Some(MmStruct { core, pgd, mmap_lock: Mutex::new(map), vm_files: crate::locking::SpinLock::new(alloc::collections::BTreeMap::new()), exe_file: crate::locking::SpinLock::new(None), context_vdso: core::sync::atomic::AtomicUsize::new(0), total_vm: core::sync::atomic::AtomicUsize::new(0), mmf_oom_skip: Arc::new(core::sync::atomic::AtomicBool::new(false)) })
    }

    /// Physical address of the page directory.
    pub fn pgd(&self) -> usize {
        self.pgd
    }

    /// The part that outlives its users (what a CPU that loads the page
    /// directory takes a reference on).
    pub fn core(&self) -> &Arc<MmCore> {
        &self.core
    }

    /// Linux `mm_count`: references on the page directory (one for all
    /// the users, one per CPU that has it loaded).
    pub fn mm_count(&self) -> usize {
        Arc::strong_count(&self.core)
    }

    /// `mm_cpumask`.
    pub fn mm_cpumask(&self) -> u32 {
        self.core.mm_cpumask()
    }

    /// Take the VMA lock (Linux `mmap_read_lock`/`mmap_write_lock`: one
    /// exclusive lock here; our processes have one thread).
    pub fn mmap_lock(&self) -> MmapGuard<'_> {
        MmapGuard { guard: self.mmap_lock.lock(), total_vm: &self.total_vm }
    }

    /// Its `MMF_OOM_SKIP` bit, to be read after it is gone.
    pub fn oom_skip_flag(&self) -> Arc<core::sync::atomic::AtomicBool> {
        self.mmf_oom_skip.clone()
    }

    /// Linux `mm->total_vm` as of the last release of the `mmap_lock`,
    /// read without it (the OOM killer's report).
    pub fn total_vm(&self) -> usize {
        self.total_vm.load(Ordering::Relaxed)
    }

    /// Pages mapped and page-table pages, counted without reading the
    /// pages themselves (Linux `get_mm_rss` and `mm_pgtables_bytes /
    /// PAGE_SIZE`, which Linux keeps as counters and we count by walking).
    /// Safe on another task's address space while it runs: page tables
    /// go only with the address space itself (held by the caller's
    /// reference), and an entry changing under the walk is counted as it
    /// was or as it is.
    pub fn rss_counts(&self) -> (usize, usize) {
        let (mut pages, mut tables) = (0, 0);
        self.walk(|_| pages += 1, |_| tables += 1);
        (pages, tables)
    }

    /// The inode an area of this address space maps as `id` (its
    /// `vm_file`), with a reference.
    pub fn vm_file(&self, id: mm::vma::FileId) -> Option<crate::fs::InodeRef> {
        self.vm_files.lock_irqsave().get(&id.0).cloned()
    }

    /// Record that an area maps `inode` (as `FileId(inode.ino)`).
    pub fn add_vm_file(&self, inode: &crate::fs::InodeRef) {
        self.vm_files.lock_irqsave().entry(inode.ino).or_insert_with(|| inode.clone());
    }

    /// Make `exe` the program this address space runs (Linux
    /// `set_mm_exe_file`, from exec).
    pub fn set_exe_file(&self, exe: crate::fs::exec::ExeFile) {
        let old = self.exe_file.lock_irqsave().replace(exe);
        drop(old);
    }

    /// The files some area maps.
    pub fn vm_files(&self) -> alloc::vec::Vec<crate::fs::InodeRef> {
        self.vm_files.lock_irqsave().values().cloned().collect()
    }

    /// Drop the reference on every file no area of `map` (this address
    /// space's VMAs, under the caller's `mmap_lock`) maps any more (Linux
    /// `remove_vma` -> `fput(vma->vm_file)` for the last area). The
    /// references are dropped after the spinlock: the last one may free
    /// an unlinked file's pages, which sleeps for page locks.
    pub fn prune_vm_files(&self, map: &MmMap) {
        let gone: alloc::vec::Vec<crate::fs::InodeRef> = {
            let mut files = self.vm_files.lock_irqsave();
            let dead: alloc::vec::Vec<u32> = files
                .keys()
                .copied()
                .filter(|&ino| !map.iter().any(|v| v.kind == mm::vma::VmaKind::File(mm::vma::FileId(ino))))
                .collect();
            dead.iter().filter_map(|ino| files.remove(ino)).collect()
        };
        drop(gone);
    }

    /// The PMD entry for `vaddr` (Linux `pmd_offset(pgd_offset(mm, addr))`).
    pub fn pmd_offset(&self, vaddr: usize) -> *mut pmd_t {
        // SAFETY: pgd_offset is vaddr's entry in our PGD, live while we are.
        unsafe { pmd_offset(pgd_offset(self.pgd, vaddr), vaddr) }
    }

    /// The PMD entry for `vaddr`, with a page table allocated (from
    /// highmem, zeroed: HIGHPTE) if there was none (Linux `__pte_alloc` +
    /// `pmd_install`).
    pub fn pte_alloc(&self, vaddr: usize) -> Result<pmd_t, MapError> {
        let pmdp = self.pmd_offset(vaddr);
        // SAFETY: pmdp points into our page directory (or PMD page), lowmem.
        let pmd = unsafe { pmdp.read_volatile() };
        if pmd.present() {
            return Ok(pmd);
        }
        // Allocated under the caller's mmap_lock (faults hold it), so no
        // other task can link a table here meanwhile: no spare (U11).
        let table = alloc_pages(userpte_gfp() | __GFP_ZERO, 0).ok_or(MapError::NoMemory)?;
        PTE_TABLES_ALLOCATED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let pmd = pmd_t::new(page_to_pfn(table), PDE_USER_TABLE);
        // SAFETY: as above; the table is zeroed, so it maps nothing yet
        // (Linux `pmd_populate`).
        unsafe { set_pmd(pmdp, pmd) };
        Ok(pmd)
    }

    /// Map `page` at user address `vaddr`, user-accessible, writable or
    /// not (Linux `vm_insert_page`, used by exec to place what it read).
    /// The address space owns the page from now on.
    pub fn map_page(&self, vaddr: usize, page: &'static Page, writable: bool) -> Result<(), MapError> {
        if vaddr >= TASK_SIZE || !vaddr.is_multiple_of(mm::layout::PAGE_SIZE) {
            return Err(MapError::BadAddress(vaddr));
        }
        let pmd = self.pte_alloc(vaddr)?;
        let ptep = pte_offset_map(pmd, vaddr);
        // SAFETY: ptep points into the page table mapped just above.
        let old = unsafe { ptep.read_volatile() };
        let result = if old.is_none() {
            let mut flags = PteFlags::PRESENT | PteFlags::USER | PteFlags::ACCESSED;
            if writable {
                flags |= PteFlags::RW | PteFlags::DIRTY;
            }
            // SAFETY: as above; the entry was empty, so no TLB holds it.
            unsafe { set_pte(ptep, pte_t::new(page_to_pfn(page), flags)) };
            Ok(())
        } else {
            Err(MapError::Exists(vaddr))
        };
        pte_unmap(ptep);
        result
    }

    /// The PTE that maps user address `vaddr` (`pte_t::NONE` if none), read
    /// through `pte_offset_map` as the fault path does.
    pub fn lookup(&self, vaddr: usize) -> pte_t {
        // SAFETY: pmd_offset points into our page directory (or PMD page).
        let pmd = unsafe { self.pmd_offset(vaddr).read_volatile() };
        if !pmd.present() {
            return pte_t::NONE;
        }
        let ptep = pte_offset_map(pmd, vaddr);
        // SAFETY: ptep points into the mapped page table.
        let pte = unsafe { ptep.read_volatile() };
        pte_unmap(ptep);
        pte
    }

    /// The user page tables and the data pages mapped through them
    /// (pages, page tables), for `ps` and the tests: where they live.
    pub fn resident(&self) -> (alloc::vec::Vec<&'static Page>, alloc::vec::Vec<&'static Page>) {
        let (mut pages, mut tables) = (alloc::vec::Vec::new(), alloc::vec::Vec::new());
        self.walk(|page| pages.push(page), |table| tables.push(table));
        (pages, tables)
    }

    /// Take the pages of `[start, end)` out of the page tables and free
    /// them (Linux `zap_page_range`), for munmap, brk and a mapping
    /// replaced by `MAP_FIXED`. The page tables stay (Linux frees empty
    /// ones in `free_pgtables`; ours go with the address space). As
    /// Linux's `tlb_gather_mmu`/`tlb_finish_mmu`: the entries are cleared
    /// first, then one `flush_tlb_mm_range` reaches every CPU that may
    /// hold them (`mm_cpumask`), and only then are the pages freed: a CPU
    /// with a stale entry could otherwise write into a page already
    /// reused.
    pub fn zap_page_range(&self, start: usize, end: usize) {
        let mut freed = alloc::vec::Vec::new();
        let mut cleared = false;
        let mut addr = start & mm::layout::PAGE_MASK;
        let first = addr;
        while addr < end {
            // SAFETY: pmd_offset points into our page directory (or PMD page).
            let pmd = unsafe { self.pmd_offset(addr).read_volatile() };
            let stop = pmd_addr_end(addr, end);
            if !pmd.present() {
                addr = stop;
                continue;
            }
            let ptep = pte_offset_map(pmd, addr);
            let mut p = ptep;
            while addr < stop {
                // SAFETY: p walks entries of the page table mapped at ptep,
                // within its PMD_SIZE (addr < stop <= pmd_addr_end).
                let pte = unsafe { p.read_volatile() };
                // pte_present, not the CPU's bit: a PROT_NONE page
                // (_PAGE_PROTNONE) holds a frame to free too.
                if pte.pte_present() {
                    // SAFETY: as above.
                    unsafe { pte_clear(p) };
                    cleared = true;
                    if !crate::mm::memory::is_zero_pfn(pte.pfn()) {
                        freed.push(pfn_to_page(pte.pfn()));
                    }
                }
                p = p.wrapping_add(1);
                addr += mm::layout::PAGE_SIZE;
            }
            pte_unmap(ptep);
        }
        if cleared {
            crate::arch::tlb::flush_tlb_mm_range(self, first, end.next_multiple_of(mm::layout::PAGE_SIZE), false);
        }
        for page in freed {
            __free_pages(page, 0);
        }
    }

    /// The child's copy of this address space at fork (Linux `dup_mmap` +
    /// `copy_page_range`): the same VMAs; a page table of its own for every
    /// 4 MiB the parent has one for; every present page shared, with a
    /// reference taken, and every writable PTE made read-only in *both*
    /// (Linux's `copy_present_pte`): the first write on either side then
    /// faults and gets its own copy (`do_wp_page`). Each pair of tables is
    /// mapped destination first, then source, and unmapped in reverse
    /// (catalogue U25). Then the parent's TLB entries for what just went
    /// read-only are flushed wherever it is loaded (Linux `dup_mmap` ends
    /// with `flush_tlb_mm(oldmm)`).
    pub fn dup_mmap(&self) -> Result<MmStruct, MapError> {
        let child = self.copy_page_range();
        crate::arch::tlb::flush_tlb_mm(self);
        child
    }

    fn copy_page_range(&self) -> Result<MmStruct, MapError> {
        let child = MmStruct::new().ok_or(MapError::NoMemory)?;
        let map = self.mmap_lock().clone();
        // Linux `dup_mmap`: `vm_area_dup` per area, a fallible allocation
        // (mm/heap.rs; here the map's clone above holds them): -ENOMEM,
        // and the half-made child is dropped, its page tables with it.
        for vma in map.iter() {
            crate::mm::heap::slab_pre_alloc_hook(core::mem::size_of_val(vma)).map_err(|_| MapError::NoMemory)?;
        }
        *child.mmap_lock() = map.clone();
        // The child's areas map the same files (Linux `dup_mmap`:
        // `get_file(file)` per area).
        *child.vm_files.lock_irqsave() = self.vm_files.lock_irqsave().clone();
        // And runs the same program (Linux `dup_mm_exe_file`).
        *child.exe_file.lock_irqsave() = self.exe_file.lock_irqsave().clone();
        // And has the vDSO at the same place (its page is shared below).
        child.context_vdso.store(self.context_vdso.load(core::sync::atomic::Ordering::Relaxed), core::sync::atomic::Ordering::Relaxed);
        for i in 0..USER_PMDS {
            let addr = i << PMD_SHIFT;
            // SAFETY: the PMD entry of addr in our page directory.
            let pmd = unsafe { self.pmd_offset(addr).read_volatile() };
            if !pmd.present() {
                continue;
            }
            let child_pmd = child.pte_alloc(addr)?;
            let dst = pte_offset_map(child_pmd, addr);
            let src = pte_offset_map(pmd, addr);
            for j in 0..PTRS_PER_PTE {
                // SAFETY: entry j of the two page tables mapped above.
                let (s, d) = unsafe { (src.add(j), dst.add(j)) };
                // SAFETY: as above.
                let mut pte = unsafe { s.read_volatile() };
                // A PROT_NONE page is shared too (its entry copied as it
                // is: not writable, not present to the CPU).
                if !pte.pte_present() {
                    continue;
                }
                if !crate::mm::memory::is_zero_pfn(pte.pfn()) {
                    pfn_to_page(pte.pfn()).get_page();
                }
                // A shared area's pages stay writable in both: they are
                // the same pages on purpose (Linux write-protects only
                // `is_cow_mapping` areas).
                let shared = || {
                    map.find_vma(addr | (j << PAGE_SHIFT))
                        .is_some_and(|v| v.vm_flags.contains(mm::vma::VmFlags::VM_SHARED))
                };
                if pte.flags().contains(PteFlags::RW) && !shared() {
                    pte = pte_t::new(pte.pfn(), pte.flags() - PteFlags::RW);
                    // SAFETY: as above: write-protect the parent's entry.
                    // The same frame, only RW cleared: a plain set_pte,
                    // as Linux's ptep_set_wrprotect changes the low word
                    // only.
                    unsafe { set_pte(s, pte) };
                }
                // SAFETY: as above; the child's entry is empty.
                unsafe { set_pte(d, pte) };
            }
            pte_unmap(src);
            pte_unmap(dst);
        }
        Ok(child)
    }

    /// Where its memory lives: data pages and page tables, each split
    /// into lowmem and highmem (what the console's `ps` shows).
    pub fn rss(&self) -> Rss {
        let mut r = Rss::default();
        self.walk(
            |p| if crate::mm::page_alloc::PageHighMem(p) { r.data_high += 1 } else { r.data_low += 1 },
            |t| if crate::mm::page_alloc::PageHighMem(t) { r.tables_high += 1 } else { r.tables_low += 1 },
        );
        r
    }

    /// Visit every data page (not the shared zero page), `PROT_NONE` ones
    /// included (`pte_present`), and every page table of the user half.
    fn walk(&self, mut page: impl FnMut(&'static Page), mut table: impl FnMut(&'static Page)) {
        for i in 0..USER_PMDS {
            // SAFETY: the PMD entry of page table i of user space.
            let pmd = unsafe { self.pmd_offset(i << PMD_SHIFT).read_volatile() };
            if !pmd.present() {
                continue;
            }
            let first = pte_offset_map(pmd, i << PMD_SHIFT);
            for j in 0..PTRS_PER_PTE {
                // SAFETY: entry j of the page table mapped at `first`.
                let pte = unsafe { first.add(j).read_volatile() };
                if pte.pte_present() && !crate::mm::memory::is_zero_pfn(pte.pfn()) {
                    page(pfn_to_page(pte.pfn()));
                }
            }
            pte_unmap(first);
            table(pfn_to_page(pmd.pfn()));
        }
    }
}

impl Drop for MmStruct {
    /// The last user let go (Linux `mmput` -> `exit_mmap` +
    /// `free_pgtables`): free every page and every page table. CPUs may
    /// still have the page directory loaded, lazily (a kernel thread runs
    /// there, or the exiting task itself on its way out), and a CPU may
    /// walk page tables speculatively. So: empty the user half of the page
    /// directory, flush every CPU in `mm_cpumask` *including lazy ones*
    /// (Linux 6.1 does the same for a flush that frees page tables), and
    /// only then free. The page directory itself goes with the last
    /// reference on `core` (`MmCore::drop`).
    fn drop(&mut self) {
        let mut tables = alloc::vec::Vec::new();
        for i in 0..USER_PMDS {
            let pmdp = self.pmd_offset(i << PMD_SHIFT);
            // SAFETY: the PMD entry of page table i, in a lowmem page.
            let pmd = unsafe { pmdp.read_volatile() };
            if pmd.present() {
                // SAFETY: as above.
                unsafe { pmd_clear(pmdp) };
                tables.push((i, pmd));
            }
        }
        if !tables.is_empty() {
            crate::arch::tlb::flush_tlb_mm_range(self, 0, TASK_SIZE, true);
        }
        for (i, pmd) in tables {
            let first = pte_offset_map(pmd, i << PMD_SHIFT);
            for j in 0..PTRS_PER_PTE {
                // SAFETY: entry j of the page table mapped at `first`.
                let pte = unsafe { first.add(j).read_volatile() };
                // pte_present: a PROT_NONE entry holds a page too.
                if pte.pte_present() && !crate::mm::memory::is_zero_pfn(pte.pfn()) {
                    __free_pages(pfn_to_page(pte.pfn()), 0);
                }
            }
            pte_unmap(first);
            __free_pages(pfn_to_page(pmd.pfn()), 0);
        }
        // Linux `exit_mmap` ends with `set_bit(MMF_OOM_SKIP)`: the memory
        // is back, an OOM victim with this mm no longer holds anyone up.
        self.mmf_oom_skip.store(true, Ordering::Release);
    }
}
