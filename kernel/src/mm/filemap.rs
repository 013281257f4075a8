//! The page cache (Linux `mm/filemap.c`, `include/linux/pagemap.h`,
//! `lib/iov_iter.c`): a file's pages by index, the page lock, and the two
//! loops that copy between those pages and a user buffer: `filemap_read`
//! and `generic_perform_write`.
//!
//! ```text
//!  struct AddressSpace (one per regular file: Linux inode->i_mapping)
//!     i_pages: index -> &Page   (Linux's xarray; here a BTreeMap: only
//!                                pages that exist, so a hole costs nothing)
//!     nrpages, gfp_mask = GFP_HIGHUSER_MOVABLE (so at -m 3G: highmem)
//!
//!  read(fd, buf, n)                         write(fd, buf, n)
//!   filemap_read                              generic_perform_write, per page:
//!    find_get_page (a reference, no lock)      fault_in_iov_iter_readable  (no page lock)
//!    (a hole: read_folio = zero-fill)          write_begin: find_or_create_page, LOCKED
//!    copy_page_to_iter:                        copy_page_from_iter_atomic:
//!      kmap_local_page                           kmap_local_page + pagefault_disable
//!      copy_to_user  <- may fault, sleep         __copy_from_user_inatomic <- a fault is
//!      kunmap_local                                  a short copy, never a sleep
//!                                              write_end: i_size, unlock
//!                                              copied == 0? prefault again, retry
//! ```
//!
//! Why the two loops differ (the reference's section 2): a read holds only
//! a reference to the page, so its copy may take the fault and sleep in
//! it: under kmap_local the mapping survives the sleep (Linux v6.0, Al
//! Viro's "copy_page_{to,from}_iter(): switch iovec variants to
//! generic"). A write holds the page *lock* across the copy; a fault on
//! the source could need that same lock (the source is an mmap of this
//! very page) or `mmap_lock` in the other order, so the copy runs with
//! page faults disabled and the source is faulted in beforehand, without
//! the lock: Nick Piggin's 2007 "mm: fix pagecache write deadlocks". That
//! stays so in Linux 6.17, where the atomic copy uses kmap_local plus an
//! explicit `pagefault_disable()`, as here.
//!
//! The old mode (`usercopy=atomic`, Linux before v6.0) is the seam
//! [`UsercopyMode`]: its write copy runs under `kmap_atomic`, its read
//! copy prefaults the destination (`fault_in_writeable`), copies under
//! `kmap_atomic` and, when that comes back short, falls back to a
//! sleeping `kmap()` ("Too bad - revert to non-atomic kmap").
//!
//! Every step is counted ([`FilemapStats`]) and traced (`trace on`).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};
use crate::arch::lib::atomic64_cx8_32::{AtomicI64, AtomicU64};

use mm::filemap::{Chunk, MAX_LFS_FILESIZE, read_chunk, truncation, write_chunk};
use mm::gfp::{GFP_HIGHUSER_MOVABLE, GfpFlags};
use mm::layout::{PAGE_SIZE, access_ok};
use mm::page::Page;

use crate::arch::lib::usercopy_32::{__copy_from_user_inatomic, copy_to_user, get_user, put_user};
use crate::errno::{EFAULT, ENOMEM};
use crate::locking::SpinLock;
use crate::mm::highmem::zero_user_segments;
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::{__free_pages, alloc_pages, page_to_pfn};
use crate::sched::preempt::{pagefault_disable, pagefault_enable};
use crate::sched::wait::WaitQueue;

// ---------------------------------------------------------------------------
// The page lock
// ---------------------------------------------------------------------------

/// How many wait queues the page lock hashes into (Linux
/// `PAGE_WAIT_TABLE_BITS` = 8): a wait queue per page would cost every
/// `struct page` a list head, so Linux shares 256 among all pages, and a
/// waker wakes everyone on its bucket; those waiting for another page
/// find it still locked and sleep again.
const PAGE_WAIT_TABLE_SIZE: usize = 256;

static PAGE_WAIT_TABLE: [WaitQueue; PAGE_WAIT_TABLE_SIZE] = [const { WaitQueue::new() }; PAGE_WAIT_TABLE_SIZE];

/// The wait queue `page`'s lock waiters sleep on (Linux
/// `folio_waitqueue`: a hash of the page).
pub fn page_waitqueue(page: &Page) -> &'static WaitQueue {
    let pfn = page_to_pfn(page);
    &PAGE_WAIT_TABLE[(pfn ^ (pfn >> 8)) % PAGE_WAIT_TABLE_SIZE]
}

/// Take the page lock if it is free (Linux `trylock_page`).
pub fn trylock_page(page: &Page) -> bool {
    page.trylock()
}

/// Take the page lock, sleeping until it is free (Linux `lock_page` →
/// `__folio_lock` → `folio_wait_bit_common(folio, PG_locked,
/// TASK_UNINTERRUPTIBLE, EXCLUSIVE)`, in miniature: queue ourselves on the
/// page's hashed wait queue, try the bit, sleep, try again when woken).
/// May sleep, so never under a spinlock or with page faults disabled.
#[track_caller]
pub fn lock_page(page: &Page) {
    if page.trylock() {
        return;
    }
    STATS.page_lock_waits.fetch_add(1, Ordering::Relaxed);
    crate::trace!("lock_page: pfn {:#x} is locked: sleeping", page_to_pfn(page));
    page_waitqueue(page).wait_event(|| page.trylock());
}

/// Give the page lock back and wake whoever waits on its bucket (Linux
/// `unlock_page` → `folio_unlock` → `folio_wake_bit`).
pub fn unlock_page(page: &Page) {
    page.unlock();
    let wq = page_waitqueue(page);
    if wq.has_waiters() {
        wq.wake_up_all();
    }
}

/// Drop a reference; the last one frees the page (Linux `put_page`).
pub fn put_page(page: &Page) {
    __free_pages(page, 0);
}

// ---------------------------------------------------------------------------
// i_size
// ---------------------------------------------------------------------------

/// A file's size (Linux `inode->i_size`, a 64-bit `loff_t`), kept as
/// Linux keeps it on 32-bit SMP: a 64-bit value cannot be stored in one
/// instruction there, so a reader could see the new low half with the old
/// high half. Linux guards it with `i_size_seqcount`: the writer (who
/// holds `i_rwsem`, so there is one) makes the count odd, stores both
/// halves, makes it even; a reader retries while the count is odd or
/// changed under it (`i_size_read` / `i_size_write`, `include/linux/fs.h`).
pub struct ISize {
    seq: AtomicU32,
    lo: AtomicU32,
    hi: AtomicU32,
}

impl Default for ISize {
    fn default() -> Self {
        Self::new()
    }
}

impl ISize {
    /// Size 0.
    pub const fn new() -> Self {
        Self { seq: AtomicU32::new(0), lo: AtomicU32::new(0), hi: AtomicU32::new(0) }
    }

    /// Linux `i_size_read`.
    pub fn read(&self) -> u64 {
        loop {
            let s = self.seq.load(Ordering::SeqCst);
            if s & 1 != 0 {
                core::hint::spin_loop();
                continue;
            }
            let v = ((self.hi.load(Ordering::SeqCst) as u64) << 32) | self.lo.load(Ordering::SeqCst) as u64;
            if self.seq.load(Ordering::SeqCst) == s {
                return v;
            }
        }
    }

    /// Linux `i_size_write`: the caller serialises writers (`i_rwsem`).
    /// Preemption is off in between, as in Linux, so a reader on this CPU
    /// never spins on a writer that was preempted half-way.
    pub fn write(&self, size: u64) {
        crate::sched::preempt::preempt_disable();
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.lo.store(size as u32, Ordering::SeqCst);
        self.hi.store((size >> 32) as u32, Ordering::SeqCst);
        self.seq.fetch_add(1, Ordering::SeqCst);
        crate::sched::preempt::preempt_enable();
    }
}

// ---------------------------------------------------------------------------
// Counters, knobs, the copy mode
// ---------------------------------------------------------------------------

/// The steps of the page-cache copies, counted (shown by `meminfo`).
#[derive(Default)]
pub struct FilemapStats {
    /// `generic_perform_write`: prefaults of the source
    /// (`fault_in_iov_iter_readable`), each done without a page lock.
    pub write_prefaults: AtomicU64,
    /// `copy_page_from_iter_atomic` calls.
    pub write_atomic_copies: AtomicU64,
    /// ... of which came back short (a source page not present: the
    /// fault was refused, not resolved).
    pub write_short_copies: AtomicU64,
    /// `write_end` took nothing (`status == 0`): back to the prefault.
    pub write_retries: AtomicU64,
    /// `copy_page_to_iter` calls (a read's copies, kmap_local mode).
    pub read_copies: AtomicU64,
    /// Old mode, reads: copies under kmap_atomic after `fault_in_writeable`.
    pub read_atomic_copies: AtomicU64,
    /// ... of which came back short.
    pub read_atomic_short: AtomicU64,
    /// ... and then went on under a sleeping `kmap()`.
    pub read_kmap_fallbacks: AtomicU64,
    /// Time-stamp-counter cycles spent in those fallbacks (kmap, the
    /// faulting copy, kunmap): the fallback path's cost.
    pub read_kmap_fallback_cycles: AtomicU64,
    /// Faults resolved while a read's copy held a kmap_local mapping of the
    /// file page (the kmap_local mode's "fault under the map"): the change
    /// of the machine's resolved-fault count across the copy, so on SMP, or
    /// when the copy sleeps in its fault and another task faults meanwhile,
    /// a fault of someone else's can be counted too (a statistic, not a
    /// test's oracle).
    pub read_faults_under_kmap_local: AtomicU64,
    /// Pages created by a read of a hole (`read_folio`: zero-filled).
    pub read_folios: AtomicU64,
    /// Times `lock_page` found the page locked and slept.
    pub page_lock_waits: AtomicU64,
    /// Page-cache pages allocated, and freed (truncate, the file's end).
    pub pages_added: AtomicU64,
    pub pages_removed: AtomicU64,
}

/// The counters (one set for the machine, as Linux's vmstat events).
pub static STATS: FilemapStats = FilemapStats {
    write_prefaults: AtomicU64::new(0),
    write_atomic_copies: AtomicU64::new(0),
    write_short_copies: AtomicU64::new(0),
    write_retries: AtomicU64::new(0),
    read_copies: AtomicU64::new(0),
    read_atomic_copies: AtomicU64::new(0),
    read_atomic_short: AtomicU64::new(0),
    read_kmap_fallbacks: AtomicU64::new(0),
    read_kmap_fallback_cycles: AtomicU64::new(0),
    read_faults_under_kmap_local: AtomicU64::new(0),
    read_folios: AtomicU64::new(0),
    page_lock_waits: AtomicU64::new(0),
    pages_added: AtomicU64::new(0),
    pages_removed: AtomicU64::new(0),
};

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilemapCounts {
    pub write_prefaults: u64,
    pub write_atomic_copies: u64,
    pub write_short_copies: u64,
    pub write_retries: u64,
    pub read_copies: u64,
    pub read_atomic_copies: u64,
    pub read_atomic_short: u64,
    pub read_kmap_fallbacks: u64,
    pub read_kmap_fallback_cycles: u64,
    pub read_faults_under_kmap_local: u64,
    pub read_folios: u64,
    pub page_lock_waits: u64,
    pub pages_added: u64,
    pub pages_removed: u64,
}

/// The counters now.
pub fn filemap_counts() -> FilemapCounts {
    let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let s = &STATS;
    FilemapCounts {
        write_prefaults: l(&s.write_prefaults),
        write_atomic_copies: l(&s.write_atomic_copies),
        write_short_copies: l(&s.write_short_copies),
        write_retries: l(&s.write_retries),
        read_copies: l(&s.read_copies),
        read_atomic_copies: l(&s.read_atomic_copies),
        read_atomic_short: l(&s.read_atomic_short),
        read_kmap_fallbacks: l(&s.read_kmap_fallbacks),
        read_kmap_fallback_cycles: l(&s.read_kmap_fallback_cycles),
        read_faults_under_kmap_local: l(&s.read_faults_under_kmap_local),
        read_folios: l(&s.read_folios),
        page_lock_waits: l(&s.page_lock_waits),
        pages_added: l(&s.pages_added),
        pages_removed: l(&s.pages_removed),
    }
}

impl core::fmt::Display for FilemapCounts {
    /// The `meminfo` lines.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "PageCache: {} pages added, {} removed; lock_page slept {} times", self.pages_added, self.pages_removed, self.page_lock_waits)?;
        writeln!(f, "  write: {} prefaults, {} atomic copies ({} short), {} retries", self.write_prefaults, self.write_atomic_copies, self.write_short_copies, self.write_retries)?;
        writeln!(f, "  read:  {} copies under kmap_local ({} faults taken under it), {} holes zero-filled", self.read_copies, self.read_faults_under_kmap_local, self.read_folios)?;
        writeln!(f, "  read, old mode: {} kmap_atomic copies ({} short), {} kmap() fallbacks ({} cycles)", self.read_atomic_copies, self.read_atomic_short, self.read_kmap_fallbacks, self.read_kmap_fallback_cycles)
    }
}

impl FilemapCounts {
    /// The counters that changed from `before` to `self`.
    pub fn since(&self, before: &FilemapCounts) -> FilemapCounts {
        let d = |a: u64, b: u64| a.wrapping_sub(b);
        FilemapCounts {
            write_prefaults: d(self.write_prefaults, before.write_prefaults),
            write_atomic_copies: d(self.write_atomic_copies, before.write_atomic_copies),
            write_short_copies: d(self.write_short_copies, before.write_short_copies),
            write_retries: d(self.write_retries, before.write_retries),
            read_copies: d(self.read_copies, before.read_copies),
            read_atomic_copies: d(self.read_atomic_copies, before.read_atomic_copies),
            read_atomic_short: d(self.read_atomic_short, before.read_atomic_short),
            read_kmap_fallbacks: d(self.read_kmap_fallbacks, before.read_kmap_fallbacks),
            read_kmap_fallback_cycles: d(self.read_kmap_fallback_cycles, before.read_kmap_fallback_cycles),
            read_faults_under_kmap_local: d(self.read_faults_under_kmap_local, before.read_faults_under_kmap_local),
            read_folios: d(self.read_folios, before.read_folios),
            page_lock_waits: d(self.page_lock_waits, before.page_lock_waits),
            pages_added: d(self.pages_added, before.pages_added),
            pages_removed: d(self.pages_removed, before.pages_removed),
        }
    }
}

/// Log the copy counters in one line (the end of `/init` does, so that a
/// benchmark boot leaves them in its log: `./run-qemu.sh bench-user`
/// reads the fallback path's count and cycles from it).
pub fn log_copy_counts() {
    let c = filemap_counts();
    log::info!(
        "filemap: mode={} read_copies={} faults_under_kmap_local={} read_atomic_copies={} read_atomic_short={} kmap_fallbacks={} kmap_fallback_cycles={} write_atomic_copies={} write_short_copies={} write_retries={}",
        match usercopy_mode() {
            UsercopyMode::Local => "local",
            UsercopyMode::Atomic => "atomic",
        },
        c.read_copies, c.read_faults_under_kmap_local, c.read_atomic_copies, c.read_atomic_short, c.read_kmap_fallbacks, c.read_kmap_fallback_cycles, c.write_atomic_copies, c.write_short_copies, c.write_retries
    );
}

/// Old mode, reads: skip the `fault_in_writeable` prefault, so a copy into
/// a page not yet mapped comes back short from `kmap_atomic` and goes on
/// under `kmap()`: what happens in Linux when the prefaulted page is taken
/// away again before the copy (reclaim, another thread's `munmap`), forced
/// so that the fallback path can be shown (`demo copy-patterns`) and timed
/// (`usercopy_skip_prefault` on the command line, `./run-qemu.sh
/// bench-user`). Not a Linux knob.
pub static SKIP_READ_PREFAULT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

crate::early_param!("usercopy_skip_prefault", Flag, "",
    "usercopy=atomic reads skip fault_in_writeable, so each copy into an unmapped page takes the kmap() fallback (to time it)",
    |_| {
        SKIP_READ_PREFAULT.store(true, Ordering::Relaxed);
        Ok(())
    });

/// Fault injection for the page cache's allocations (Linux has
/// `fail_page_alloc` in its fault-injection framework; this is one knob
/// for one caller): -1, the default, is off; N >= 0 lets the next N
/// page-cache allocations succeed and fails every one after, until set
/// back to -1. Tests use it to run out of memory in the middle of a write.
pub static FAIL_PAGECACHE_ALLOC_AFTER: AtomicI64 = AtomicI64::new(-1);

/// A test hook called by `generic_perform_write` right after each
/// prefault of the source, before the page lock is taken: where reclaim or
/// another thread's `munmap` could take the source page away again (what
/// Linus describes: "it could get unmapped again before the actual copy
/// happens with the lock held"). The argument is the file position of the
/// step. `None` (the default) does nothing.
pub static AFTER_PREFAULT_HOOK: spin::Mutex<Option<fn(u64)>> = spin::Mutex::new(None);

/// How a page-cache copy maps the page (`usercopy=` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsercopyMode {
    /// Linux v6.x: reads copy under `kmap_local_page` and take the fault;
    /// the write's atomic copy is kmap_local + `pagefault_disable` (6.17).
    Local = 0,
    /// Linux before v6.0: `kmap_atomic` for both, reads prefault with
    /// `fault_in_writeable` and fall back to `kmap()`.
    Atomic = 1,
}

static USERCOPY_MODE: AtomicU8 = AtomicU8::new(UsercopyMode::Local as u8);

crate::early_param!("usercopy", Value, "local|atomic",
    "usercopy=local|atomic: page-cache copies as Linux v6.x (kmap_local, the read takes the fault; the default) or as before v6.0 (kmap_atomic, prefault, short copy, kmap() fallback)",
    |v| match v {
        Some("local") => {
            set_usercopy_mode(UsercopyMode::Local);
            Ok(())
        }
        Some("atomic") => {
            set_usercopy_mode(UsercopyMode::Atomic);
            Ok(())
        }
        _ => Err("local or atomic"),
    });

/// The copy mode in force.
pub fn usercopy_mode() -> UsercopyMode {
    if USERCOPY_MODE.load(Ordering::Relaxed) == UsercopyMode::Atomic as u8 { UsercopyMode::Atomic } else { UsercopyMode::Local }
}

/// Switch the copy mode (the command line does; so may a test or a demo
/// that wants both in one boot: copies already running finish in the
/// mode they started a page in).
pub fn set_usercopy_mode(mode: UsercopyMode) {
    USERCOPY_MODE.store(mode as u8, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// struct address_space
// ---------------------------------------------------------------------------

/// Flags of [`AddressSpace::pagecache_get_page`] (Linux `FGP_*`).
pub mod fgp {
    /// Return the page locked.
    pub const FGP_LOCK: u32 = 1 << 0;
    /// Create the page if it is not there.
    pub const FGP_CREAT: u32 = 1 << 2;
}

/// Why a page could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMemory;

/// The pages of one file (Linux `struct address_space`).
pub struct AddressSpace {
    /// Index -> page (Linux `i_pages`, an xarray). The map holds one
    /// reference to each page.
    i_pages: SpinLock<BTreeMap<usize, &'static Page>>,
    /// How many pages are in the map (Linux `nrpages`).
    nrpages: AtomicUsize,
    /// Where new pages come from (Linux `mapping_gfp_mask`, set by
    /// `inode_init_always` to `GFP_HIGHUSER_MOVABLE`).
    gfp_mask: GfpFlags,
}

impl Default for AddressSpace {
    fn default() -> Self {
        Self::new()
    }
}

impl AddressSpace {
    /// An empty mapping whose pages come from `GFP_HIGHUSER_MOVABLE`.
    pub const fn new() -> Self {
        Self { i_pages: SpinLock::new(BTreeMap::new()), nrpages: AtomicUsize::new(0), gfp_mask: GFP_HIGHUSER_MOVABLE }
    }

    /// Linux `mapping_gfp_mask`.
    pub fn gfp_mask(&self) -> GfpFlags {
        self.gfp_mask
    }

    /// Pages in the cache (Linux `mapping->nrpages`).
    pub fn nrpages(&self) -> usize {
        self.nrpages.load(Ordering::Relaxed)
    }

    /// The page at `index` with a reference taken, or `None` (Linux
    /// `find_get_page`). No lock: the caller may find it locked or not up
    /// to date, and must `put_page` it.
    pub fn find_get_page(&self, index: usize) -> Option<&'static Page> {
        let map = self.i_pages.lock_irqsave();
        let page = *map.get(&index)?;
        page.get_page();
        Some(page)
    }

    /// Is `page` still this mapping's page at `index` (Linux's
    /// `folio->mapping == mapping` check after sleeping for the lock:
    /// truncate may have removed it meanwhile)?
    fn still_has(&self, index: usize, page: &Page) -> bool {
        self.i_pages.lock_irqsave().get(&index).is_some_and(|p| core::ptr::eq(*p, page))
    }

    /// Linux `pagecache_get_page(mapping, index, fgp_flags, gfp)`: find
    /// the page (a reference taken); with `FGP_LOCK` locked (sleeping for
    /// it, and looking again if it was truncated meanwhile); with
    /// `FGP_CREAT` a new page (from `gfp`) is allocated and added if there
    /// is none: it comes back locked (unlocked without `FGP_LOCK`), *not*
    /// up to date: the caller fills it. `Ok(None)`: not there and not to
    /// be created. `Err`: no memory.
    pub fn pagecache_get_page(&self, index: usize, fgp_flags: u32, gfp: GfpFlags) -> Result<Option<&'static Page>, NoMemory> {
        loop {
            if let Some(page) = self.find_get_page(index) {
                if fgp_flags & fgp::FGP_LOCK != 0 {
                    lock_page(page);
                    if !self.still_has(index, page) {
                        unlock_page(page);
                        put_page(page);
                        continue; // truncated while we slept: look again
                    }
                }
                return Ok(Some(page));
            }
            if fgp_flags & fgp::FGP_CREAT == 0 {
                return Ok(None);
            }
            let page = page_cache_alloc(gfp).ok_or(NoMemory)?;
            // A new page is locked before anyone can see it (Linux
            // `__folio_set_locked`), so a reader that finds it waits for
            // its contents.
            assert!(page.trylock());
            {
                let mut map = self.i_pages.lock_irqsave();
                if map.contains_key(&index) {
                    // Someone else added one meanwhile: use theirs.
                    drop(map);
                    page.unlock();
                    put_page(page);
                    continue;
                }
                page.get_page(); // the cache's reference; ours is the allocation's
                map.insert(index, page);
                self.nrpages.fetch_add(1, Ordering::Relaxed);
            }
            STATS.pages_added.fetch_add(1, Ordering::Relaxed);
            if fgp_flags & fgp::FGP_LOCK == 0 {
                unlock_page(page);
            }
            return Ok(Some(page));
        }
    }

    /// Linux `find_or_create_page`: the page at `index`, locked, created
    /// if needed from the mapping's gfp mask.
    pub fn find_or_create_page(&self, index: usize) -> Result<&'static Page, NoMemory> {
        self.pagecache_get_page(index, fgp::FGP_LOCK | fgp::FGP_CREAT, self.gfp_mask)
            .map(|p| p.expect("FGP_CREAT returns a page"))
    }

    /// Cut the cache to a file of `newsize` bytes (Linux
    /// `truncate_inode_pages(mapping, newsize)`): every page wholly past
    /// it is locked (waiting for a writer or reader that holds it),
    /// removed and its reference dropped; the page the new end falls in
    /// is zeroed from there on (`truncate_inode_partial_folio`). A page
    /// someone still holds a reference to (a read in progress) is freed
    /// when they put it.
    pub fn truncate_inode_pages(&self, newsize: u64) {
        let t = truncation(newsize);
        let doomed: Vec<(usize, &'static Page)> = {
            let map = self.i_pages.lock_irqsave();
            map.range(t.first_gone..).map(|(&i, &p)| (i, p)).collect()
        };
        for (index, page) in doomed {
            page.get_page();
            lock_page(page);
            let removed = {
                let mut map = self.i_pages.lock_irqsave();
                if map.get(&index).is_some_and(|p| core::ptr::eq(*p, page)) {
                    map.remove(&index);
                    self.nrpages.fetch_sub(1, Ordering::Relaxed);
                    true
                } else {
                    false
                }
            };
            unlock_page(page);
            put_page(page); // ours
            if removed {
                STATS.pages_removed.fetch_add(1, Ordering::Relaxed);
                put_page(page); // the cache's
            }
        }
        if let Some((index, from)) = t.partial
            && let Some(page) = self.find_get_page(index)
        {
            lock_page(page);
            zero_user_segments(page, 0, from, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE);
            unlock_page(page);
            put_page(page);
        }
    }

    /// The cached pages in index order (a snapshot, for tests and the
    /// console; the pages may leave the cache right after).
    pub fn pages(&self) -> Vec<(usize, &'static Page)> {
        self.i_pages.lock_irqsave().iter().map(|(&i, &p)| (i, p)).collect()
    }
}

impl Drop for AddressSpace {
    /// The file is gone: its pages go back (Linux `truncate_inode_pages_final`).
    fn drop(&mut self) {
        self.truncate_inode_pages(0);
    }
}

/// Allocate a page-cache page (Linux `filemap_alloc_folio`), unless the
/// fault-injection knob says no.
fn page_cache_alloc(gfp: GfpFlags) -> Option<&'static Page> {
    let left = FAIL_PAGECACHE_ALLOC_AFTER.load(Ordering::Relaxed);
    if left >= 0 && (left == 0 || FAIL_PAGECACHE_ALLOC_AFTER.compare_exchange(left, left - 1, Ordering::Relaxed, Ordering::Relaxed).is_err()) {
        crate::trace!("page cache: allocation failed by FAIL_PAGECACHE_ALLOC_AFTER");
        return None;
    }
    alloc_pages(gfp, 0)
}

// ---------------------------------------------------------------------------
// The address-space operations and the iterator
// ---------------------------------------------------------------------------

/// What a filesystem provides to the page cache (Linux `struct
/// address_space_operations`; ramfs's are in `fs/ramfs.rs`).
pub trait AddressSpaceOperations: Sync {
    /// Fill the locked, not-up-to-date `page` at `index`, mark it up to
    /// date and unlock it (Linux `read_folio`).
    fn read_folio(&self, page: &'static Page);
    /// Get the page `[pos, pos + len)` falls in, locked, ready to be
    /// copied into (Linux `write_begin`); `Err(errno)` (positive) if not.
    fn write_begin(&self, mapping: &AddressSpace, pos: u64, len: usize) -> Result<&'static Page, i32>;
    /// `copied` of the `len` bytes at `pos` arrived in `page`: update the
    /// size, unlock and put the page; return what the write keeps (Linux
    /// `write_end`).
    fn write_end(&self, i_size: &ISize, pos: u64, len: usize, copied: usize, page: &'static Page) -> usize;
}

/// What a copy reads from or writes to (Linux `struct iov_iter`, with
/// only the kinds we need): a user buffer (`ITER_UBUF`, what `read` and
/// `write` build) or a kernel one (`ITER_KVEC`: the initramfs, tests).
pub struct IovIter<'a> {
    kind: IterKind<'a>,
    /// Bytes consumed so far.
    done: usize,
    /// Bytes in all.
    len: usize,
}

enum IterKind<'a> {
    Ubuf(usize),
    Source(&'a [u8]),
    Dest(&'a mut [u8]),
}

impl<'a> IovIter<'a> {
    /// `count` bytes at user address `addr` (Linux `iov_iter_ubuf`).
    pub fn ubuf(addr: usize, count: usize) -> Self {
        Self { kind: IterKind::Ubuf(addr), done: 0, len: count }
    }

    /// A kernel buffer to copy from (`ITER_KVEC`, `ITER_SOURCE`).
    pub fn kvec(src: &'a [u8]) -> Self {
        Self { len: src.len(), kind: IterKind::Source(src), done: 0 }
    }

    /// A kernel buffer to copy into (`ITER_KVEC`, `ITER_DEST`).
    pub fn kvec_dest(dst: &'a mut [u8]) -> Self {
        Self { len: dst.len(), kind: IterKind::Dest(dst), done: 0 }
    }

    /// Bytes left (Linux `iov_iter_count`).
    pub fn count(&self) -> usize {
        self.len - self.done
    }

    /// Give back `n` consumed bytes (Linux `iov_iter_revert`).
    pub fn revert(&mut self, n: usize) {
        self.done -= n;
    }

    /// Prefault the next `bytes` of a user source (Linux
    /// `fault_in_iov_iter_readable`): the bytes *not* faulted in; 0 for a
    /// kernel buffer.
    pub fn fault_in_readable(&self, bytes: usize) -> usize {
        match self.kind {
            IterKind::Ubuf(a) => fault_in_readable(a + self.done, bytes),
            _ => 0,
        }
    }
}

/// Touch one byte in each page of the user range `[uaddr, uaddr + size)`
/// so that it is mapped (Linux `fault_in_readable`, `mm/gup.c`): the
/// faults are taken here, where they may sleep. Returns the number of
/// bytes *not* faulted in (0: all of them), counting from the first page
/// that could not be.
pub fn fault_in_readable(uaddr: usize, size: usize) -> usize {
    fault_in(uaddr, size, |a| get_user::<u8>(a).is_ok())
}

/// The same for a destination (Linux `fault_in_writeable`), which stores
/// a 0 in each page's byte (as Linux's `unsafe_put_user(0, ...)`: the
/// buffer is about to be overwritten anyway).
pub fn fault_in_writeable(uaddr: usize, size: usize) -> usize {
    fault_in(uaddr, size, |a| put_user::<u8>(0, a).is_ok())
}

fn fault_in(uaddr: usize, size: usize, touch: impl Fn(usize) -> bool) -> usize {
    if size == 0 {
        return 0;
    }
    if !access_ok(uaddr, size) {
        return size;
    }
    let end = uaddr + size;
    let mut a = uaddr;
    while a < end {
        if !touch(a) {
            return end - a;
        }
        a = (a & !(PAGE_SIZE - 1)) + PAGE_SIZE;
    }
    0
}

/// Map `page` for a copy the way the mode says, run `f` on the mapped
/// address, unmap. `atomic`: page faults must not be resolved inside (the
/// write's copy): kmap_local + `pagefault_disable` in the new mode,
/// `kmap_atomic` in the old.
fn with_page_mapped<R>(page: &Page, atomic: bool, f: impl FnOnce(usize) -> R) -> R {
    match (usercopy_mode(), atomic) {
        (UsercopyMode::Atomic, true) => {
            let v = crate::mm::kmap_atomic::kmap_atomic(page);
            let r = f(v);
            crate::mm::kmap_atomic::kunmap_atomic(v);
            r
        }
        (_, true) => {
            let v = kmap_local_page(page);
            pagefault_disable();
            let r = f(v);
            pagefault_enable();
            kunmap_local(v);
            r
        }
        (_, false) => {
            let v = kmap_local_page(page);
            let r = f(v);
            kunmap_local(v);
            r
        }
    }
}

/// Copy up to `bytes` from the iterator into `page` at `offset` with page
/// faults disabled, and advance the iterator by what was copied (Linux
/// `copy_page_from_iter_atomic`; 6.17's `copy_folio_from_iter_atomic`
/// maps with `kmap_local_folio` + `pagefault_disable`, 6.1's with
/// `kmap_atomic`). A source page that is not present makes the copy
/// short: the fault goes to the exception-table fixup, never to
/// `handle_mm_fault`. Returns the bytes copied.
pub fn copy_page_from_iter_atomic(page: &Page, offset: usize, bytes: usize, i: &mut IovIter) -> usize {
    debug_assert!(offset + bytes <= PAGE_SIZE && bytes <= i.count());
    let done = i.done;
    let copied = match &i.kind {
        IterKind::Ubuf(a) => {
            let src = a + done;
            if !access_ok(src, bytes) {
                0
            } else {
                with_page_mapped(page, true, |v| {
                    // SAFETY: the page is mapped at v until the unmap after
                    // this closure; offset + bytes <= PAGE_SIZE.
                    let dst = unsafe { core::slice::from_raw_parts_mut((v + offset) as *mut u8, bytes) };
                    // SAFETY: access_ok(src, bytes) was checked above.
                    let mut got = bytes - unsafe { __copy_from_user_inatomic(&mut dst[..], src) };
                    // The i386 copy reports a fault a word at a time: a
                    // word that straddles the last readable byte counts as
                    // not copied. Go on a byte at a time up to the fault
                    // (Linux x86's `copy_user_handle_tail`), so the copy
                    // makes progress whenever the next byte is readable;
                    // else a source whose prefault got part of the step
                    // would copy 0 bytes on every retry, for ever.
                    while got < bytes {
                        // SAFETY: one byte of a range access_ok accepted.
                        if unsafe { __copy_from_user_inatomic(&mut dst[got..got + 1], src + got) } != 0 {
                            break;
                        }
                        got += 1;
                    }
                    got
                })
            }
        }
        IterKind::Source(s) => {
            let s = &s[done..done + bytes];
            with_page_mapped(page, true, |v| {
                // SAFETY: the page is mapped at v; offset + bytes <= PAGE_SIZE.
                unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), (v + offset) as *mut u8, bytes) };
                bytes
            })
        }
        IterKind::Dest(_) => panic!("copy_page_from_iter_atomic: a destination iterator"),
    };
    i.done += copied;
    copied
}

/// Copy `bytes` from `page` at `offset` to the iterator and advance it
/// by what was copied (Linux `copy_page_to_iter`). In the kmap_local mode
/// (v6.x) the copy to a user buffer may fault, and sleep in the fault,
/// with the page mapped: the mapping is the task's and survives. In the
/// old mode (before v6.0, `copy_page_to_iter_iovec`): prefault the buffer
/// (`fault_in_writeable`), copy under `kmap_atomic`, and if that came back
/// short, "Too bad - revert to non-atomic kmap": the rest under `kmap()`,
/// faults allowed. Returns the bytes copied (short: the buffer has a hole).
pub fn copy_page_to_iter(page: &Page, offset: usize, bytes: usize, i: &mut IovIter) -> usize {
    debug_assert!(offset + bytes <= PAGE_SIZE && bytes <= i.count());
    let done = i.done;
    let copied = match &mut i.kind {
        IterKind::Ubuf(a) => {
            let dst = *a + done;
            match usercopy_mode() {
                UsercopyMode::Local => {
                    STATS.read_copies.fetch_add(1, Ordering::Relaxed);
                    let faults = crate::arch::mm::fault::USER_FAULTS_RESOLVED.load(Ordering::Relaxed);
                    let n = with_page_mapped(page, false, |v| {
                        // SAFETY: the page is mapped at v; offset + bytes <= PAGE_SIZE.
                        let src = unsafe { core::slice::from_raw_parts((v + offset) as *const u8, bytes) };
                        bytes - copy_to_user(dst, src)
                    });
                    let taken = crate::arch::mm::fault::USER_FAULTS_RESOLVED.load(Ordering::Relaxed).wrapping_sub(faults);
                    if taken != 0 {
                        STATS.read_faults_under_kmap_local.fetch_add(taken, Ordering::Relaxed);
                    }
                    n
                }
                UsercopyMode::Atomic => copy_page_to_iter_old(page, offset, bytes, dst),
            }
        }
        IterKind::Dest(d) => {
            let d = &mut d[done..done + bytes];
            with_page_mapped(page, false, |v| {
                // SAFETY: the page is mapped at v; offset + bytes <= PAGE_SIZE.
                unsafe { core::ptr::copy_nonoverlapping((v + offset) as *const u8, d.as_mut_ptr(), bytes) };
                bytes
            })
        }
        IterKind::Source(_) => panic!("copy_page_to_iter: a source iterator"),
    };
    i.done += copied;
    copied
}

/// The pre-v6.0 read copy (Linux 5.x `copy_page_to_iter_iovec`, one
/// segment): see [`copy_page_to_iter`].
fn copy_page_to_iter_old(page: &Page, offset: usize, bytes: usize, dst: usize) -> usize {
    let mut copied = 0;
    let prefaulted = SKIP_READ_PREFAULT.load(Ordering::Relaxed) || fault_in_writeable(dst, bytes) == 0;
    if prefaulted {
        STATS.read_atomic_copies.fetch_add(1, Ordering::Relaxed);
        copied = with_page_mapped(page, true, |v| {
            // SAFETY: the page is mapped at v; offset + bytes <= PAGE_SIZE.
            let src = unsafe { core::slice::from_raw_parts((v + offset) as *const u8, bytes) };
            bytes - copy_to_user(dst, src) // faults disabled: a short copy, not a sleep
        });
        if copied == bytes {
            return bytes;
        }
        STATS.read_atomic_short.fetch_add(1, Ordering::Relaxed);
        crate::trace!("copy_page_to_iter: kmap_atomic copy short at {copied} of {bytes}: revert to kmap()");
    }
    // "Too bad - revert to non-atomic kmap"
    STATS.read_kmap_fallbacks.fetch_add(1, Ordering::Relaxed);
    let t = crate::arch::kernel::cpu::rdtsc();
    let v = crate::mm::kmap::kmap(page);
    // SAFETY: kmap mapped the page at v until kunmap; offset + bytes <= PAGE_SIZE.
    let src = unsafe { core::slice::from_raw_parts((v + offset + copied) as *const u8, bytes - copied) };
    let left = copy_to_user(dst + copied, src);
    crate::mm::kmap::kunmap(page);
    STATS.read_kmap_fallback_cycles.fetch_add(crate::arch::kernel::cpu::rdtsc().wrapping_sub(t), Ordering::Relaxed);
    bytes - left
}

// ---------------------------------------------------------------------------
// The two loops
// ---------------------------------------------------------------------------

/// Linux `generic_perform_write` (v6.1, `mm/filemap.c`; the caller holds
/// the inode's `i_rwsem`): copy the iterator into the file at `pos`, page
/// by page, the page locked during its copy; see the module documentation
/// for why the copy is atomic and the source prefaulted. Returns the bytes
/// written, or the error if none were: `EFAULT` when the source's first
/// page cannot be faulted in, `ENOMEM` when no page could be had.
pub fn generic_perform_write(aops: &dyn AddressSpaceOperations, mapping: &AddressSpace, i_size: &ISize, i: &mut IovIter, mut pos: u64) -> Result<usize, i32> {
    let mut written = 0usize;
    let mut status = 0i32;
    'pages: while i.count() > 0 {
        let Chunk { offset, mut bytes, .. } = write_chunk(pos, i.count());
        loop {
            // again: prefault the source, no page lock held (step 2).
            STATS.write_prefaults.fetch_add(1, Ordering::Relaxed);
            if i.fault_in_readable(bytes) == bytes {
                status = EFAULT;
                break 'pages;
            }
            let hook = *AFTER_PREFAULT_HOOK.lock();
            if let Some(hook) = hook {
                hook(pos);
            }
            let page = match aops.write_begin(mapping, pos, bytes) {
                Ok(p) => p,
                Err(e) => {
                    status = e;
                    break 'pages;
                }
            };
            STATS.write_atomic_copies.fetch_add(1, Ordering::Relaxed);
            let copied = copy_page_from_iter_atomic(page, offset, bytes, i);
            // flush_dcache_page(page): nothing on x86.
            if copied < bytes {
                STATS.write_short_copies.fetch_add(1, Ordering::Relaxed);
                crate::trace!("generic_perform_write: atomic copy short at pos {pos}: {copied} of {bytes}");
            }
            let kept = aops.write_end(i_size, pos, bytes, copied, page);
            if kept != copied {
                i.revert(copied - kept);
            }
            if kept == 0 {
                // Nothing went in: prefault again, without the lock, and
                // retry; a partial copy retries only what arrived before.
                STATS.write_retries.fetch_add(1, Ordering::Relaxed);
                crate::trace!("generic_perform_write: write_end took nothing at pos {pos}: prefault and retry");
                if copied != 0 {
                    bytes = copied;
                }
                continue;
            }
            pos += kept as u64;
            written += kept;
            break;
        }
    }
    if written > 0 { Ok(written) } else if status != 0 { Err(status) } else { Ok(0) }
}

/// The page at `index` up to date, a reference held (Linux
/// `filemap_get_pages` for one page): from the cache, or a new page
/// filled by `read_folio` (for ramfs a hole: zeros). A page found locked
/// and not up to date is being filled: wait for its lock and look again.
pub fn filemap_get_page(aops: &dyn AddressSpaceOperations, mapping: &AddressSpace, index: usize) -> Result<&'static Page, i32> {
    loop {
        if let Some(page) = mapping.find_get_page(index) {
            if page.page_uptodate() {
                return Ok(page);
            }
            lock_page(page);
            if !mapping.still_has(index, page) {
                unlock_page(page);
                put_page(page);
                continue;
            }
            if page.page_uptodate() {
                unlock_page(page);
            } else {
                aops.read_folio(page); // unlocks
            }
            return Ok(page);
        }
        // filemap_create_folio: a new page, locked, into the cache, filled.
        match mapping.pagecache_get_page(index, fgp::FGP_LOCK | fgp::FGP_CREAT, mapping.gfp_mask()) {
            Err(NoMemory) => return Err(ENOMEM),
            Ok(Some(page)) => {
                if page.page_uptodate() {
                    unlock_page(page);
                } else {
                    STATS.read_folios.fetch_add(1, Ordering::Relaxed);
                    aops.read_folio(page);
                }
                return Ok(page);
            }
            Ok(None) => unreachable!("FGP_CREAT returns a page"),
        }
    }
}

/// Linux `filemap_read` (v6.1): copy `[pos, pos + count)` of the file, cut
/// at its size, page by page with `copy` (the caller's
/// `copy_page_to_iter`: given the page, in-page offset and length, it
/// returns the bytes it copied). No page lock is held during a copy, only
/// a reference, so the copy may sleep. The size is read again after each
/// page is found (a truncate may have run). A short copy ends the read:
/// the bytes read so far, or `EFAULT` if there are none.
pub fn filemap_read(aops: &dyn AddressSpaceOperations, mapping: &AddressSpace, i_size: &ISize, mut pos: u64, count: usize, mut copy: impl FnMut(&'static Page, usize, usize) -> usize) -> Result<usize, i32> {
    let mut already = 0usize;
    if pos >= MAX_LFS_FILESIZE {
        return Ok(0);
    }
    while let Some(c) = read_chunk(pos, count - already, i_size.read()) {
        let page = match filemap_get_page(aops, mapping, c.index) {
            Ok(p) => p,
            Err(e) => return if already > 0 { Ok(already) } else { Err(e) },
        };
        let Some(c) = read_chunk(pos, count - already, i_size.read()) else {
            put_page(page);
            break;
        };
        let copied = copy(page, c.offset, c.bytes);
        put_page(page);
        already += copied;
        pos += copied as u64;
        if copied < c.bytes {
            return if already > 0 { Ok(already) } else { Err(EFAULT) };
        }
    }
    Ok(already)
}
