//! `kmap()` / `kunmap()`: the global PKMAP pool (Linux `mm/highmem.c`,
//! `kmap_high` and `kunmap_high`, with `include/linux/highmem-internal.h`).
//!
//! The pool's bookkeeping (counts, cursor, lazy unmap, wrap flush) is
//! `mm::pkmap`; this file adds what needs the kernel:
//!
//! * one global lock, `kmap_lock`. As on Linux x86 it is a plain spinlock
//!   that does not disable interrupts, so kmap/kunmap must never run in an
//!   interrupt handler (we check, and say so);
//! * sleeping: when all 1024 slots are in use, the caller sleeps
//!   (uninterruptibly) on `pkmap_map_wait` until a `kunmap()` releases one,
//!   then tries again; it may find that someone else mapped its page
//!   meanwhile, and uses that mapping;
//! * the PTE writes and the flush on wrap, which is `flush_tlb_kernel_range`
//!   over the whole window: an IPI to every CPU, because a kmap() address is
//!   valid on all of them.
//!
//! A kmap() address may be handed to another task or CPU; that is what the
//! global lock and the global flush pay for.

use core::sync::atomic::Ordering;
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::layout::{LAST_PKMAP, PKMAP_BASE, PAGE_SIZE};
use mm::page::Page;
use mm::pkmap::{KmapResult, Pkmap, PkmapEnv, PkmapError, PkmapStats};

use super::page_alloc::{self, PageHighMem, pfn_to_page};
use super::pgtable::pkmap_page_table;
use crate::arch::cpu::rdtsc;
use crate::arch::paging::{PAGE_KERNEL, pte_clear, pte_t, set_pte};
use crate::arch::percpu::raw_smp_processor_id;
use crate::sched::preempt::{in_interrupt, might_sleep};
use crate::locking::SpinLock;
use crate::sched::wait::WaitQueue;

/// The pool, under `kmap_lock`.
static KMAP_LOCK: SpinLock<Pkmap> = SpinLock::new(Pkmap::new());
/// Where callers sleep while every slot is in use.
static PKMAP_MAP_WAIT: WaitQueue = WaitQueue::new();
/// TSC cycles spent spinning for `kmap_lock` (benchmarks).
pub static KMAP_LOCK_WAIT_CYCLES: AtomicU64 = AtomicU64::new(0);

/// The machine as the pool sees it.
struct Machine;

impl PkmapEnv for Machine {
    fn set_pkmap_pte(&mut self, nr: usize, pfn: Option<usize>) {
        let ptep = pkmap_page_table().wrapping_add(nr);
        // SAFETY: nr < LAST_PKMAP, inside the one PKMAP page table. The
        // pool sets only a slot it cleared before (and flushed: the wrap
        // flush), so set_pte's "not present" rule holds.
        unsafe {
            match pfn {
                Some(p) => set_pte(ptep, pte_t::new(p, PAGE_KERNEL)),
                None => pte_clear(ptep),
            }
        }
        if let Some(p) = pfn {
            crate::trace!("kmap: slot {nr} ({:#010x}) <- pfn {p:#x} (no TLB flush: the slot was flushed before)", mm::layout::pkmap_addr(nr));
        }
    }
    fn pkmap_pte(&self, nr: usize) -> Option<usize> {
        // SAFETY: as above.
        let pte = unsafe { pkmap_page_table().add(nr).read_volatile() };
        (!pte.is_none()).then(|| pte.pfn())
    }
    fn flush_tlb_pkmap(&mut self) {
        crate::trace!("kmap: flush_all_zero_pkmaps: unused slots cleared; one TLB flush of the window on every CPU");
        crate::smp::flush_tlb_kernel_range(PKMAP_BASE, PKMAP_BASE + LAST_PKMAP * PAGE_SIZE);
    }
    fn page_virtual(&self, pfn: usize) -> usize {
        pfn_to_page(pfn).page_virtual()
    }
    fn set_page_virtual(&mut self, pfn: usize, vaddr: usize) {
        pfn_to_page(pfn).set_page_virtual(vaddr);
    }
}

/// Take `kmap_lock`, counting the time spent waiting for it when it was
/// not free (reading the TSC is not free under TCG, so only then).
#[inline]
fn lock_kmap() -> crate::locking::SpinLockGuard<'static, Pkmap> {
    if let Some(g) = KMAP_LOCK.try_lock() {
        return g;
    }
    let start = rdtsc();
    let g = KMAP_LOCK.lock();
    KMAP_LOCK_WAIT_CYCLES.fetch_add(rdtsc() - start, Ordering::Relaxed);
    g
}

fn corrupt(e: PkmapError) -> ! {
    let (name, pid) = crate::sched::current_name_pid();
    panic!("BUG: PKMAP pool corrupt: {e:?}\n  task {}/{pid} on CPU {}", name.as_str(), raw_smp_processor_id());
}

/// Map `page` where every CPU and task can use it, until `kunmap(page)`.
/// May sleep (when the pool is full), so not in atomic or interrupt
/// context. Lowmem pages return their direct-map address and take no lock.
#[track_caller]
pub fn kmap(page: &Page) -> usize {
    might_sleep();
    if !PageHighMem(page) {
        return page_alloc::page_address(page).expect("lowmem pages have an address");
    }
    let pfn = page_alloc::page_to_pfn(page);
    if in_interrupt() {
        // Linux only warns (might_sleep) and may then deadlock on kmap_lock
        // or sleep in an interrupt. There is no safe way on.
        let (name, pid) = crate::sched::current_name_pid();
        panic!(
            "BUG: kmap() of highmem page pfn {pfn:#x} from interrupt context (CPU {}, interrupted task {}/{pid}): \
             kmap may sleep and kmap_lock is not interrupt-safe; use kmap_local_page()",
            raw_smp_processor_id(), name.as_str()
        );
    }
    kmap_high(pfn)
}

/// Linux `kmap_high`: the sleeping loop around the pool.
fn kmap_high(pfn: usize) -> usize {
    loop {
        let mut pool = lock_kmap();
        match pool.kmap_high(&mut Machine, pfn) {
            Ok(KmapResult::Mapped(vaddr)) => return vaddr,
            Ok(KmapResult::MustWait) => {
                pool.note_wait();
                crate::trace!("kmap: all {LAST_PKMAP} slots in use: pfn {pfn:#x} sleeps on pkmap_map_wait");
                // Queue ourselves while still holding kmap_lock: kunmap
                // checks for waiters under the same lock, so the wake-up
                // cannot be missed (Linux's comment: "waitqueue_active() is
                // race-free because it's called under the lock").
                let me = PKMAP_MAP_WAIT.prepare_to_wait();
                drop(pool);
                crate::sched::schedule();
                PKMAP_MAP_WAIT.finish_wait(&me);
                // Someone may have mapped our page meanwhile: the next
                // round finds it through page_address first.
            }
            Err(e) => corrupt(e),
        }
    }
}

/// Release a `kmap()` mapping of `page` (lazily: the slot is reused only
/// after the next wrap flush). Lowmem pages: nothing to do.
#[track_caller]
pub fn kunmap(page: &Page) {
    might_sleep();
    if !PageHighMem(page) {
        return;
    }
    let pfn = page_alloc::page_to_pfn(page);
    let cpu = raw_smp_processor_id();
    if in_interrupt() {
        let (name, pid) = crate::sched::current_name_pid();
        crate::debug::report_bug(format_args!(
            "BUG: kunmap() of highmem page pfn {pfn:#x} from interrupt context (CPU {cpu}, interrupted task {}/{pid}): \
             kmap_lock is not interrupt-safe; refused (the mapping stays)", name.as_str()
        ));
        return;
    }
    let need_wakeup = {
        let mut pool = lock_kmap();
        match pool.kunmap_high(&Machine, pfn) {
            Ok(freed) => {
                crate::trace!("kunmap: pfn {pfn:#x}{}", if freed { ": slot unused (count 1), its PTE stays until the next wrap" } else { "" });
                freed && PKMAP_MAP_WAIT.has_waiters()
            }
            Err(PkmapError::NotMapped { .. }) => {
                drop(pool);
                let (name, pid) = crate::sched::current_name_pid();
                crate::debug::report_bug(format_args!(
                    "BUG: kunmap() of page pfn {pfn:#x}, which is not kmapped\n  task {}/{pid} on CPU {cpu} (refused)", name.as_str()
                ));
                return;
            }
            Err(PkmapError::Unbalanced { vaddr, .. }) => {
                drop(pool);
                let (name, pid) = crate::sched::current_name_pid();
                crate::debug::report_bug(format_args!(
                    "BUG: kunmap() of page pfn {pfn:#x} at {vaddr:#010x}: more kunmaps than kmaps (the count would reach 0 \
                     without a TLB flush)\n  task {}/{pid} on CPU {cpu} (refused)", name.as_str()
                ));
                return;
            }
            Err(e) => corrupt(e),
        }
    };
    // Wake outside the lock, so a woken waiter can take it at once.
    if need_wakeup {
        crate::trace!("kunmap: waking the tasks waiting for a slot");
        PKMAP_MAP_WAIT.wake_up_all();
    }
}

/// Drop every unused PKMAP mapping now, with one flush if there were any
/// (Linux `kmap_flush_unused`).
pub fn kmap_flush_unused() {
    let mut pool = lock_kmap();
    if let Err(e) = pool.flush_all_zero_pkmaps(&mut Machine) {
        corrupt(e);
    }
}

/// The pool's counters.
pub fn pkmap_stats() -> PkmapStats {
    KMAP_LOCK.lock().stats()
}

/// `pkmap_count[nr]` and the cursor (for tests and the console).
pub fn pkmap_count(nr: usize) -> u32 {
    KMAP_LOCK.lock().count(nr)
}

/// The cursor `last_pkmap_nr`.
pub fn last_pkmap_nr() -> usize {
    KMAP_LOCK.lock().last_pkmap_nr()
}

/// Slots by state: (free, unused but not yet flushed, in use).
pub fn pkmap_census() -> (usize, usize, usize) {
    KMAP_LOCK.lock().census()
}

/// How many tasks sleep waiting for a slot.
pub fn pkmap_waiters() -> usize {
    PKMAP_MAP_WAIT.len()
}

/// The page mapped at PKMAP address `vaddr` (from its PTE).
pub fn pkmap_page_at(vaddr: usize) -> Option<usize> {
    KMAP_LOCK.lock().pfn_at(&Machine, vaddr)
}

/// For the page-fault handler: describe a faulting PKMAP address without
/// taking kmap_lock (the faulting code may hold it).
pub fn describe_fault(out: &mut impl core::fmt::Write, addr: usize) {
    let nr = mm::layout::pkmap_nr(addr);
    let count = KMAP_LOCK.try_lock_irqsave().map(|p| p.count(nr));
    let _ = writeln!(out, "kmap: {addr:#010x} is PKMAP slot {nr} (pkmap_count {}); its PTE is clear: the slot was \
        reclaimed by a wrap flush, so the kmap() that returned this address was already kunmap()ed",
        count.map_or(fmtbuf!(12, "busy"), |c| fmtbuf!(12, "{c}")).as_str());
}


/// A picture of the pool for the console: each slot's count (0, 1, n),
/// the cursor, and the counters.
pub fn pkmap_snapshot() -> ([u16; LAST_PKMAP], usize, PkmapStats) {
    let pool = KMAP_LOCK.lock();
    let mut counts = [0u16; LAST_PKMAP];
    for (nr, c) in counts.iter_mut().enumerate() {
        *c = pool.count(nr).min(u16::MAX as u32) as u16;
    }
    (counts, pool.last_pkmap_nr(), pool.stats())
}
