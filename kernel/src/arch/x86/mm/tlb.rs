//! Whose page directory each CPU has loaded, lazy TLB mode, and the TLB
//! shootdown for user mappings (Linux `arch/x86/mm/tlb.c`:
//! `switch_mm_irqs_off`, `enter_lazy_tlb`, `flush_tlb_mm_range`,
//! `native_flush_tlb_multi`, `flush_tlb_func`).
//!
//! ```text
//!   CPU 0                     CPU 1                      MmCore of process P
//!   running P (user)          running kthread K          pgd ----------> page directory
//!   loaded_mm = P  --------.  loaded_mm = P (lazy) --.   mm_cpumask = {0, 1}
//!   is_lazy = false         `-----------------------+--> tlb_gen = 7
//!                                                    `   mm_count = 3 (P's MmStruct + one per CPU)
//! ```
//!
//! * A switch to a kernel thread keeps whatever page directory is loaded
//!   (the kernel half is the same in all of them): no CR3 write, and the
//!   CPU goes *lazy* on that mm (`enter_lazy_tlb`). When the next user
//!   task is the same process, nothing is reloaded either (counted in
//!   [`TlbStats::cr3_loads_avoided`]).
//! * The CPU holds a reference on the mm it has loaded (Linux `mmgrab`),
//!   so a page directory is never freed under a CPU that still has it in
//!   CR3; the reference is let go (`mmdrop`) in `finish_task_switch`
//!   after the CPU has switched to another mm. Linux keeps that reference
//!   in the kernel thread's `task->active_mm` and hands it from kernel
//!   thread to kernel thread; ours stays with the CPU, which is the same
//!   thing seen from the CPU (on each CPU one task runs): taken when the
//!   CPU loads an mm, dropped when it loads another.
//! * `mm_cpumask(mm)`: the CPUs that have the mm loaded, really or lazily.
//!   A CPU sets its bit before it loads the mm and clears it when it
//!   switches to another. A flush of user mappings interrupts only those.
//! * Lazy CPUs are skipped by ordinary flushes, as in Linux 6.1
//!   (`tlb_is_not_lazy`): a kernel thread does not touch user addresses,
//!   and the CPU catches up when the mm comes back. Each flush bumps the
//!   mm's `tlb_gen`; each CPU remembers the generation its TLB is
//!   current with, and a switch back from lazy mode that finds itself
//!   behind flushes its whole TLB then. A flush that *frees page tables*
//!   (`exit_mmap`) interrupts lazy CPUs too, because a CPU may walk page
//!   tables speculatively and cache what it reads, even if no code uses
//!   the addresses. Linux's lazy CPU answers that by switching to
//!   `init_mm`; ours reloads CR3 in place (the page directory itself is
//!   not freed while the CPU holds its reference, and its user half is
//!   empty by then), so the CPU keeps borrowing the page directory until
//!   it switches to another mm: see `the_last_exit_frees_the_pgd_only_when_the_borrowing_cpu_switches_away`.
//!
//! Everything here about a CPU is touched only by that CPU with interrupts
//! off (the context switch, the flush IPI handler, a local flush), except
//! `is_lazy` and the mask, which flushers on other CPUs read.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering::{Relaxed, SeqCst}};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::layout::{NR_CPUS, PAGE_SIZE};

use crate::arch::cpu::{local_irq_restore, local_irq_save};
use crate::arch::paging::{flush_tlb_one_user, load_cr3};
use crate::arch::percpu::raw_smp_processor_id;
use crate::mm::mm_types::{MmCore, MmStruct};
use crate::smp::TLB_SINGLE_PAGE_FLUSH_CEILING;

/// One CPU's TLB state (Linux `cpu_tlbstate` and `cpu_tlbstate_shared`).
pub struct TlbState {
    /// The mm whose page directory is in CR3, with the CPU's reference on
    /// it (`Arc::into_raw`); null: `swapper_pg_dir` (Linux `init_mm`).
    loaded_mm: AtomicPtr<MmCore>,
    /// The `tlb_gen` of `loaded_mm` this CPU's TLB is current with.
    loaded_mm_tlb_gen: AtomicU64,
    /// A kernel thread runs here on `loaded_mm` (lazy TLB mode).
    is_lazy: AtomicBool,
    /// CR3 loads by the context switch and `set_mm`.
    pub cr3_loads: AtomicU64,
    /// Switches to a user task whose mm was already loaded (back from a
    /// kernel thread that borrowed it): no CR3 write.
    pub cr3_loads_avoided: AtomicU64,
    /// Of those switches back, how many found the TLB behind the mm's
    /// generation (a flush skipped this lazy CPU) and flushed it all.
    pub lazy_catchup_flushes: AtomicU64,
    /// Switches to a kernel thread with a user mm loaded (`enter_lazy_tlb`).
    pub lazy_switches: AtomicU64,
    /// User-mapping flushes done here by the CPU that changed the PTEs.
    pub local_flushes: AtomicU64,
    /// User-mapping flush IPIs this CPU was sent.
    pub flush_ipis_received: AtomicU64,
    /// Of those, how many found it lazy and reloaded CR3 in place.
    pub lazy_flushes: AtomicU64,
}

impl TlbState {
    const fn new() -> TlbState {
        TlbState {
            loaded_mm: AtomicPtr::new(core::ptr::null_mut()),
            loaded_mm_tlb_gen: AtomicU64::new(0),
            is_lazy: AtomicBool::new(false),
            cr3_loads: AtomicU64::new(0),
            cr3_loads_avoided: AtomicU64::new(0),
            lazy_catchup_flushes: AtomicU64::new(0),
            lazy_switches: AtomicU64::new(0),
            local_flushes: AtomicU64::new(0),
            flush_ipis_received: AtomicU64::new(0),
            lazy_flushes: AtomicU64::new(0),
        }
    }
}

static CPU_TLBSTATE: [TlbState; NR_CPUS] = [const { TlbState::new() }; NR_CPUS];

/// CPU `cpu`'s TLB state (its counters; the rest is private).
pub fn cpu_tlbstate(cpu: usize) -> &'static TlbState {
    &CPU_TLBSTATE[cpu]
}

/// Flushes of user mappings that interrupted at least one other CPU.
pub static USER_SHOOTDOWNS: AtomicU64 = AtomicU64::new(0);
/// IPIs those sent (one per CPU targeted).
pub static USER_FLUSH_IPIS: AtomicU64 = AtomicU64::new(0);
/// CPUs in an mm's mask left out of a flush because they were lazy.
pub static LAZY_CPUS_SKIPPED: AtomicU64 = AtomicU64::new(0);

/// The counters, summed over the CPUs (for the console and the bench).
#[derive(Clone, Copy, Debug, Default)]
pub struct TlbStats {
    /// CR3 loads for a switch to another mm.
    pub cr3_loads: u64,
    /// Switches back to the mm a kernel thread had borrowed: no CR3 load.
    pub cr3_loads_avoided: u64,
    /// Switches to a kernel thread with a user mm loaded.
    pub lazy_switches: u64,
    /// Switches back from lazy mode that found the TLB behind.
    pub lazy_catchup_flushes: u64,
    /// User flushes done by the CPU that changed the PTEs.
    pub local_flushes: u64,
    /// [`USER_SHOOTDOWNS`].
    pub shootdowns: u64,
    /// [`USER_FLUSH_IPIS`].
    pub ipis: u64,
    /// [`LAZY_CPUS_SKIPPED`].
    pub lazy_skipped: u64,
    /// Flush IPIs that found their CPU lazy (page tables freed).
    pub lazy_flushes: u64,
}

/// The counters, summed.
pub fn tlb_stats() -> TlbStats {
    let mut s = TlbStats {
        shootdowns: USER_SHOOTDOWNS.load(Relaxed),
        ipis: USER_FLUSH_IPIS.load(Relaxed),
        lazy_skipped: LAZY_CPUS_SKIPPED.load(Relaxed),
        ..TlbStats::default()
    };
    for st in &CPU_TLBSTATE {
        s.cr3_loads += st.cr3_loads.load(Relaxed);
        s.cr3_loads_avoided += st.cr3_loads_avoided.load(Relaxed);
        s.lazy_switches += st.lazy_switches.load(Relaxed);
        s.lazy_catchup_flushes += st.lazy_catchup_flushes.load(Relaxed);
        s.local_flushes += st.local_flushes.load(Relaxed);
        s.lazy_flushes += st.lazy_flushes.load(Relaxed);
    }
    s
}

/// The mm this CPU has loaded (null: swapper_pg_dir), for comparisons
/// and tests; the pointer is only good while the caller holds a
/// reference of its own.
pub fn loaded_mm(cpu: usize) -> *const MmCore {
    CPU_TLBSTATE[cpu].loaded_mm.load(SeqCst)
}

/// Is `cpu` in lazy TLB mode (a kernel thread on a borrowed mm)?
pub fn is_lazy(cpu: usize) -> bool {
    CPU_TLBSTATE[cpu].is_lazy.load(SeqCst)
}

fn reload_cr3(mm: &MmCore) {
    // SAFETY: reloading the page directory already loaded drops every
    // non-global TLB entry and nothing else.
    unsafe { load_cr3(mm.pgd()) };
}

/// Load `next`'s page directory on this CPU, for a switch to a user task
/// or `set_mm` (Linux `switch_mm_irqs_off`). Interrupts must be off.
///
/// Returns the reference on the mm the CPU had loaded before, if it
/// switched away from one: the caller drops it once it is safe to free a
/// page (Linux's `mmdrop` in `finish_task_switch`).
pub fn switch_mm_irqs_off(next: &Arc<MmCore>) -> Option<Arc<MmCore>> {
    debug_assert!(crate::arch::cpu::irqs_disabled());
    let cpu = raw_smp_processor_id();
    let st = &CPU_TLBSTATE[cpu];
    let prev = st.loaded_mm.load(Relaxed);
    if core::ptr::eq(prev, Arc::as_ptr(next)) {
        // Back from lazy mode on the same mm: leave lazy mode, *then* read
        // the generation (a flusher bumps the generation, then reads
        // is_lazy: one of us sees the other), and flush only if a flush
        // skipped us meanwhile.
        st.is_lazy.store(false, SeqCst);
        let mm_gen = next.tlb_gen.load(SeqCst);
        if st.loaded_mm_tlb_gen.load(Relaxed) < mm_gen {
            reload_cr3(next);
            st.loaded_mm_tlb_gen.store(mm_gen, Relaxed);
            st.lazy_catchup_flushes.fetch_add(1, Relaxed);
        } else {
            st.cr3_loads_avoided.fetch_add(1, Relaxed);
        }
        return None;
    }
    if !prev.is_null() {
        // Stop remote flushes for the previous mm: our CR3 load below
        // drops all its entries, and with interrupts off we touch none of
        // its user addresses before it.
        // SAFETY: the CPU's reference keeps `prev` alive until we return it.
        unsafe { (*prev).mm_cpumask.fetch_and(!(1 << cpu), SeqCst) };
    }
    // Start remote flushes, then read the generation, then load CR3: a
    // flusher that missed our bit changed its PTEs before our load.
    next.mm_cpumask.fetch_or(1 << cpu, SeqCst);
    st.loaded_mm_tlb_gen.store(next.tlb_gen.load(SeqCst), Relaxed);
    // SAFETY: every page directory shares swapper_pg_dir's kernel half
    // (pgd_alloc), so the kernel stays mapped across the switch.
    unsafe { load_cr3(next.pgd()) };
    st.cr3_loads.fetch_add(1, Relaxed);
    st.loaded_mm.store(Arc::into_raw(next.clone()) as *mut MmCore, SeqCst); // mmgrab
    st.is_lazy.store(false, SeqCst);
    // SAFETY: `prev` came from Arc::into_raw when it was loaded; its
    // reference passes to the caller.
    (!prev.is_null()).then(|| unsafe { Arc::from_raw(prev) })
}

/// A kernel thread is about to run on this CPU: keep the loaded page
/// directory and go lazy on it (Linux `enter_lazy_tlb`); also what an
/// exiting task does once it has let go of its mm (`exit_mm`).
/// Interrupts must be off.
pub fn enter_lazy_tlb() {
    let st = &CPU_TLBSTATE[raw_smp_processor_id()];
    if !st.loaded_mm.load(Relaxed).is_null() && !st.is_lazy.swap(true, SeqCst) {
        st.lazy_switches.fetch_add(1, Relaxed);
    }
}

/// Leave lazy TLB mode for `swapper_pg_dir` (Linux `leave_mm`, which
/// switches to `init_mm`): a CPU running a kernel thread on a borrowed
/// page directory loads the kernel's own and gives the borrowed mm back;
/// the caller drops the returned reference once interrupts are on again
/// (it may be the last one, and free the page directory). Nothing changes
/// on a CPU that runs on its mm for real, or has none loaded. The kernel's
/// leak counts (the fuzz and soak tools) run it on every CPU before they
/// count: otherwise each idle CPU keeps the page directory of the last
/// process it ran, which a count takes for a leaked page.
pub fn leave_mm() -> Option<Arc<MmCore>> {
    debug_assert!(crate::arch::cpu::irqs_disabled());
    let cpu = raw_smp_processor_id();
    let st = &CPU_TLBSTATE[cpu];
    let prev = st.loaded_mm.load(Relaxed);
    if prev.is_null() || !st.is_lazy.load(SeqCst) {
        return None;
    }
    // As in switch_mm_irqs_off: out of the mask first (our CR3 load drops
    // every entry of the mm), then the load.
    // SAFETY: the CPU's reference keeps `prev` alive until we return it.
    unsafe { (*prev).mm_cpumask.fetch_and(!(1 << cpu), SeqCst) };
    // SAFETY: swapper_pg_dir maps the kernel as every page directory does.
    unsafe { load_cr3(crate::mm::pgtable::swapper_pg_dir()) };
    st.cr3_loads.fetch_add(1, Relaxed);
    st.loaded_mm.store(core::ptr::null_mut(), SeqCst);
    st.is_lazy.store(false, SeqCst);
    // SAFETY: `prev` came from Arc::into_raw when it was loaded; its
    // reference passes to the caller.
    Some(unsafe { Arc::from_raw(prev) })
}

/// What one flush asks of each CPU (Linux `struct flush_tlb_info`).
struct FlushTlbInfo {
    mm: *const MmCore,
    start: usize,
    end: usize,
    /// The mm's generation after this flush's PTE changes.
    new_tlb_gen: u64,
    freed_tables: bool,
}

/// Bring this CPU's TLB up to date with `f.mm` (Linux `flush_tlb_func`).
/// Interrupts are off.
fn flush_tlb_func(f: &FlushTlbInfo) {
    let st = &CPU_TLBSTATE[raw_smp_processor_id()];
    let loaded = st.loaded_mm.load(Relaxed);
    if !core::ptr::eq(loaded, f.mm) {
        // Switched to another mm since the sender read the mask: that CR3
        // load dropped every entry of this one.
        return;
    }
    // SAFETY: the sender holds a reference on f.mm until every CPU is done.
    let mm = unsafe { &*f.mm };
    let mm_gen = mm.tlb_gen.load(SeqCst);
    if st.is_lazy.load(SeqCst) {
        // Lazy: only a flush that frees page tables sends us this (or we
        // went lazy after the sender looked). Reload CR3 in place: every
        // user entry and every cached page-table walk goes.
        reload_cr3(mm);
        st.loaded_mm_tlb_gen.store(mm_gen, Relaxed);
        st.lazy_flushes.fetch_add(1, Relaxed);
        return;
    }
    let local_gen = st.loaded_mm_tlb_gen.load(Relaxed);
    if local_gen >= mm_gen {
        return; // a later flush already did ours
    }
    let pages = (f.end - f.start) / PAGE_SIZE;
    if f.new_tlb_gen == local_gen + 1 && f.new_tlb_gen == mm_gen && !f.freed_tables && pages <= TLB_SINGLE_PAGE_FLUSH_CEILING {
        // Only this flush is missing: just its pages.
        let mut a = f.start;
        while a < f.end {
            flush_tlb_one_user(a);
            a += PAGE_SIZE;
        }
    } else {
        reload_cr3(mm);
    }
    st.loaded_mm_tlb_gen.store(mm_gen, Relaxed);
}

fn flush_tlb_func_remote(arg: usize) {
    CPU_TLBSTATE[raw_smp_processor_id()].flush_ipis_received.fetch_add(1, Relaxed);
    // SAFETY: `arg` points at the sender's FlushTlbInfo, alive until every
    // target has run this (smp_call_function_many waits).
    flush_tlb_func(unsafe { &*(arg as *const FlushTlbInfo) });
}

/// The PTEs of `[start, end)` in `mm` changed: make every CPU that may
/// cache them forget them, and wait (Linux `flush_tlb_mm_range`). This
/// CPU flushes its own TLB if it has the mm loaded; the other CPUs in
/// `mm_cpumask` get an IPI, except lazy ones unless `freed_tables` (see
/// the module comment). Call it after the PTE writes, with interrupts on
/// (the IPIs are waited for).
pub fn flush_tlb_mm_range(mm: &MmStruct, start: usize, end: usize, freed_tables: bool) {
    let core = mm.core();
    crate::sched::preempt::preempt_disable();
    let cpu = raw_smp_processor_id();
    // inc_mm_tlb_gen: after the PTE writes, before looking at the mask.
    let new_tlb_gen = core.tlb_gen.fetch_add(1, SeqCst) + 1;
    let info = FlushTlbInfo { mm: Arc::as_ptr(core), start, end, new_tlb_gen, freed_tables };
    let others = core.mm_cpumask.load(SeqCst) & !(1 << cpu);
    let lazy = (0..NR_CPUS).filter(|&c| others & (1 << c) != 0 && is_lazy(c)).fold(0u32, |m, c| m | 1 << c);
    let targets = if freed_tables { others } else { others & !lazy };
    LAZY_CPUS_SKIPPED.fetch_add((others & !targets).count_ones() as u64, Relaxed);
    if targets != 0 {
        USER_SHOOTDOWNS.fetch_add(1, Relaxed);
        USER_FLUSH_IPIS.fetch_add(targets.count_ones() as u64, Relaxed);
        crate::smp::smp_call_function_many(targets, flush_tlb_func_remote, &info as *const FlushTlbInfo as usize);
    }
    if core::ptr::eq(loaded_mm(cpu), Arc::as_ptr(core)) {
        let flags = local_irq_save();
        CPU_TLBSTATE[cpu].local_flushes.fetch_add(1, Relaxed);
        flush_tlb_func(&info);
        local_irq_restore(flags);
    }
    crate::sched::preempt::preempt_enable();
}

/// One page (Linux `flush_tlb_page`).
pub fn flush_tlb_page(mm: &MmStruct, addr: usize) {
    let a = addr & mm::layout::PAGE_MASK;
    flush_tlb_mm_range(mm, a, a + PAGE_SIZE, false);
}

/// The whole user half (Linux `flush_tlb_mm`).
pub fn flush_tlb_mm(mm: &MmStruct) {
    flush_tlb_mm_range(mm, 0, mm::layout::TASK_SIZE, false);
}
