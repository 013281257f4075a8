//! `kmap_local_page()` and friends on the per-CPU fixmap slots (Linux
//! `mm/highmem.c`, the `kmap_local` half, and `include/linux/highmem-internal.h`).
//!
//! ```text
//!  kmap_local_page(page)
//!    lowmem (and not force-map) -> page_address(page); nothing else happens
//!    highmem -> migrate_disable()           the task may be preempted, but
//!                                           it resumes on this CPU
//!               slot = push on current->kmap_ctrl
//!               PTE of (this CPU, slot) = page     no TLB flush: the slot was
//!               kmap_ctrl.pteval[slot] = PTE       flushed at its last unmap
//!  kunmap_local(addr)
//!    must be the most recent mapping (LIFO)
//!    clear the PTE, invlpg on THIS CPU only, pop, migrate_enable()
//!  context switch (sched/hooks.rs)
//!    sched_out(prev): clear prev's slot PTEs here, invlpg each
//!    sched_in(next):  reinstall next's from kmap_ctrl.pteval (no flush)
//! ```
//!
//! Compared with `kmap()`: no global lock, no shared pool to exhaust, no
//! cross-CPU flush, but the address is good only in this task, on this CPU,
//! and nesting is limited to 15. "A potential preemption will be more
//! expensive, but that's not really the case we want to optimize for"
//! (Thomas Gleixner, in the thread that introduced it).
//!
//! Where we differ from Linux, we report instead of ignoring or
//! corrupting (each case is tested): an out-of-order or unbalanced
//! `kunmap_local` is refused and named; `kunmap_local` of a PKMAP address
//! (Linux ignores it silently on x86) is named; nesting too deep and a slot
//! that still holds a PTE are named before the kernel stops.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use mm::kmap_local::{self as bk, KmapLocalConfig, KmapLocalError, SlotState};
use mm::layout::{NR_CPUS, PAGE_MASK, PAGE_OFFSET, PAGE_SHIFT, is_kmap_local_addr, is_pkmap_addr};
use mm::page::Page;

use super::page_alloc::{self, PageHighMem};
use super::pgtable::kmap_pte;
use crate::arch::cpu::irqs_disabled;
use crate::arch::paging::{PAGE_KERNEL, PteFlags, flush_tlb_one_kernel, pte_clear, pte_t, set_pte};
use crate::arch::percpu::{raw_smp_processor_id, this_cpu_add_u32};
use crate::percpu::{KMAP_LOCAL_MAPS_OFFSET, KMAP_SCHED_IN_OFFSET, KMAP_SCHED_OUT_OFFSET};
use crate::sched::preempt::{in_hardirq, migrate_disable, migrate_enable, preempt_disable, preempt_enable};
use crate::sched::task::Task;

static DEBUG: AtomicBool = AtomicBool::new(false);
static FORCE_MAP: AtomicBool = AtomicBool::new(false);

fn sum(f: impl Fn(&crate::percpu::PerCpu) -> u32) -> u64 {
    (0..NR_CPUS).map(|c| f(crate::percpu::per_cpu(c)) as u64).sum()
}

/// Mappings made through the slots, all CPUs (32-bit per-CPU counters:
/// compare deltas with `wrapping_sub` in very long runs).
pub fn nr_maps() -> u64 {
    sum(|c| c.kmap_local_maps.load(Ordering::Relaxed))
}

/// Slots cleared by `sched_out`, all CPUs.
pub fn nr_sched_out_slots() -> u64 {
    sum(|c| c.kmap_sched_out_slots.load(Ordering::Relaxed))
}

/// Slots restored by `sched_in`, all CPUs.
pub fn nr_sched_in_slots() -> u64 {
    sum(|c| c.kmap_sched_in_slots.load(Ordering::Relaxed))
}

crate::early_param!(
    "debug_kmap_local",
    Flag,
    "",
    "kmap_local guard slots: every other slot stays unmapped (Linux CONFIG_DEBUG_KMAP_LOCAL)",
    |_| {
        DEBUG.store(true, Ordering::Relaxed);
        Ok(())
    }
);

crate::early_param!(
    "debug_kmap_local_force_map",
    Flag,
    "",
    "map lowmem pages through the kmap_local slots too; implies debug_kmap_local (Linux CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP)",
    |_| {
        FORCE_MAP.store(true, Ordering::Relaxed);
        DEBUG.store(true, Ordering::Relaxed);
        Ok(())
    }
);

/// Switch the debug modes. Only safe where no CPU holds a kmap_local
/// mapping: the test of the nesting limits uses it, in a boot of its own,
/// to check both layouts whatever the command line chose.
pub fn set_config(debug: bool, force_map: bool) {
    let cfg = KmapLocalConfig::new(debug, force_map);
    DEBUG.store(cfg.debug, Ordering::Relaxed);
    FORCE_MAP.store(cfg.force_map, Ordering::Relaxed);
}

/// Say which debug modes the command line chose (mem_init calls this
/// before the first mapping).
pub fn report_config() {
    let cfg = config();
    if cfg.debug {
        log::info!("kmap_local: guard slots between mappings (debug_kmap_local): {} slots per CPU, {} can nest{}",
            cfg.km_max_idx(), cfg.max_depth(), if cfg.force_map { ", lowmem pages forced through the slots" } else { "" });
    }
}

/// The configuration in force.
pub fn config() -> KmapLocalConfig {
    KmapLocalConfig::new(DEBUG.load(Ordering::Relaxed), FORCE_MAP.load(Ordering::Relaxed))
}

/// Who last used each slot, for the page-fault handler to say whose
/// mapping a faulting address was: the task id, and `pfn << 1 | mapped`.
/// Two 32-bit stores, not one 64-bit one: on i686 a 64-bit atomic store is a
/// `lock cmpxchg8b` loop, too dear for every map. A fault report racing a
/// map may read a mixed pair; it is a diagnostic, never used for decisions.
static SLOT_TASK: [[AtomicU32; mm::layout::KM_MAX_IDX_DEBUG]; NR_CPUS] =
    [const { [const { AtomicU32::new(0) }; mm::layout::KM_MAX_IDX_DEBUG] }; NR_CPUS];
static SLOT_PFN: [[AtomicU32; mm::layout::KM_MAX_IDX_DEBUG]; NR_CPUS] =
    [const { [const { AtomicU32::new(0) }; mm::layout::KM_MAX_IDX_DEBUG] }; NR_CPUS];

#[inline]
fn record_owner(cpu: usize, slot: usize, task: &Task, pfn: usize, mapped: bool) {
    SLOT_TASK[cpu][slot].store(task.id(), Ordering::Relaxed);
    SLOT_PFN[cpu][slot].store((pfn as u32) << 1 | mapped as u32, Ordering::Relaxed);
}

/// Report a misuse with the task and CPU (the kernel carries on).
fn misuse(args: core::fmt::Arguments) {
    let (name, pid) = crate::sched::current_name_pid();
    crate::debug::report_bug(format_args!("{args}\n  task {}/{} on CPU {}", name.as_str(), pid, raw_smp_processor_id()));
}

/// A test's hook between the push and the PTE write of a mapping (0: none).
/// `tests/kmap_local.rs` sets it to run an interrupt that maps and unmaps
/// right there, the moment Linux's comments worry about: the interrupt
/// must find the outer slot already taken and its own one above it.
static AFTER_PUSH_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Set (or, with `None`, clear) the hook run between the push and the PTE
/// write of every kmap_local mapping. For tests only.
pub fn set_after_push_hook(hook: Option<fn()>) {
    AFTER_PUSH_HOOK.store(hook.map_or(0, |f| f as usize), Ordering::SeqCst);
}

/// Map `page` for the current task (Linux `kmap_local_page`). The lowmem
/// case is inlined into the caller: it is a test and an addition.
#[inline]
#[track_caller]
pub fn kmap_local_page(page: &Page) -> usize {
    kmap_local_page_prot(page, kmap_prot)
}

/// Linux `kmap_prot` (x86 `highmem.h`: `PAGE_KERNEL`): what a plain kmap
/// maps with. With PAE and NX it has `_PAGE_NX`: nobody executes a kmapped
/// page.
#[allow(non_upper_case_globals)]
pub const kmap_prot: PteFlags = PAGE_KERNEL;

/// Map `page` with protections `prot` (ignored for lowmem, as in Linux).
/// The slot's PTE has exactly `prot` (through `pfn_pte`, so `_PAGE_NX`
/// survives when the CPU has NX and is dropped when it has not), e.g.
/// `PAGE_KERNEL_RO` for a read-only view.
#[inline]
#[track_caller]
pub fn kmap_local_page_prot(page: &Page, prot: PteFlags) -> usize {
    if !FORCE_MAP.load(Ordering::Relaxed) && !PageHighMem(page) {
        return page_alloc::lowmem_page_address(page_alloc::page_to_pfn(page));
    }
    __kmap_local_pfn_prot(page_alloc::page_to_pfn(page), prot)
}

/// Map frame `pfn`, always through a slot, lowmem or not (Linux
/// `kmap_local_pfn`).
#[track_caller]
pub fn kmap_local_pfn(pfn: usize) -> usize {
    __kmap_local_pfn_prot(pfn, PAGE_KERNEL)
}

/// The core (Linux `__kmap_local_pfn_prot`): leaves migration disabled.
#[inline(never)]
#[track_caller]
pub fn __kmap_local_pfn_prot(pfn: usize, prot: PteFlags) -> usize {
    let task = crate::sched::current();
    migrate_disable();
    preempt_disable();
    if in_hardirq() && !irqs_disabled() {
        misuse(format_args!("WARNING: kmap_local in hard interrupt context with interrupts enabled (pfn {pfn:#x})"));
    }
    let cfg = config();
    let cpu = raw_smp_processor_id();
    // Every access to the slot stack goes through the task, as Linux's
    // `current->kmap_ctrl` does: between the push and the write of pteval
    // an interrupt may map and unmap on top of us (see with_kmap_ctrl).
    let slot = match task.with_kmap_ctrl(|ctrl| bk::push(ctrl, cfg)) {
        Ok(s) => s,
        Err(KmapLocalError::TooDeep { max_depth }) => panic!(
            "BUG: kmap_local: nesting beyond KM_MAX_IDX: {max_depth} mappings already held, mapping pfn {pfn:#x}\n  task {}/{} on CPU {cpu}; unmap (kunmap_local) before mapping more",
            task.name(), task.id()
        ),
        Err(e) => unreachable!("push cannot fail with {e:?}"),
    };
    let hook = AFTER_PUSH_HOOK.load(Ordering::Relaxed);
    if hook != 0 {
        // SAFETY: only set_after_push_hook stores here, from a `fn()`.
        unsafe { core::mem::transmute::<usize, fn()>(hook)() };
    }
    let vaddr = cfg.slot_vaddr(cpu, slot);
    let pte = kmap_pte(cfg.calc_idx(cpu, slot));
    // SAFETY: kmap_pte points into the preallocated fixmap page table.
    let old = unsafe { pte.read_volatile() };
    if !old.is_none() {
        panic!(
            "BUG: kmap_local: slot {slot} of CPU {cpu} at {vaddr:#010x} still maps pfn {:#x} (a missing sched_out or kunmap_local?)\n  task {}/{} mapping pfn {pfn:#x}",
            old.pfn(), task.name(), task.id()
        );
    }
    let pteval = pte_t::new(pfn, prot);
    // SAFETY: as above; the slot is empty and ours.
    unsafe { set_pte(pte, pteval) };
    task.with_kmap_ctrl(|ctrl| ctrl.pteval[slot] = pteval.0);
    record_owner(cpu, slot, task, pfn, true);
    this_cpu_add_u32(KMAP_LOCAL_MAPS_OFFSET, 1);
    crate::trace!("kmap_local: map slot {slot} ({vaddr:#010x}) <- pfn {pfn:#x}, depth {}, no TLB flush", task.kmap_local_idx());
    preempt_enable();
    vaddr
}

/// End of lowmem (Linux `high_memory`), for kunmap_local's fast test.
static HIGH_MEMORY: AtomicUsize = AtomicUsize::new(0);

/// Remember where lowmem ends (mem_init calls this).
pub fn set_high_memory(high_memory: usize) {
    HIGH_MEMORY.store(high_memory, Ordering::Relaxed);
}

/// Unmap the most recent kmap_local mapping; `vaddr` may be any address
/// inside its page (Linux `kunmap_local`). The common lowmem case (a
/// direct-map address, no slots held, no force-map) is inlined: it does
/// nothing.
#[inline]
#[track_caller]
pub fn kunmap_local(vaddr: usize) {
    if vaddr >= PAGE_OFFSET
        && vaddr < HIGH_MEMORY.load(Ordering::Relaxed)
        && !FORCE_MAP.load(Ordering::Relaxed)
        && crate::sched::current_opt().is_some_and(|t| t.kmap_local_idx() == 0)
    {
        return;
    }
    kunmap_local_indexed(vaddr);
}

/// The out-of-line part of [`kunmap_local`] (Linux `kunmap_local_indexed`).
#[inline(never)]
#[track_caller]
pub fn kunmap_local_indexed(vaddr: usize) {
    let addr = vaddr & PAGE_MASK;
    let cfg = config();
    if !is_kmap_local_addr(addr) {
        // Mostly a lowmem page's direct-map address: a correct no-op.
        kunmap_local_foreign(vaddr, cfg);
        return;
    }
    let task = crate::sched::current();
    preempt_disable();
    let cpu = raw_smp_processor_id();
    match task.with_kmap_ctrl(|ctrl| bk::check_unmap(ctrl, cfg, cpu, addr)) {
        Ok(slot) => {
            let pte = kmap_pte(cfg.calc_idx(cpu, slot));
            // SAFETY: the fixmap PTE of our own top slot.
            unsafe { pte_clear(pte) };
            flush_tlb_one_kernel(addr);
            let pfn = task.with_kmap_ctrl(|ctrl| {
                let pfn = bk::pte_pfn(ctrl.pteval[slot]);
                bk::pop(ctrl, cfg);
                pfn
            });
            record_owner(cpu, slot, task, pfn, false);
            crate::trace!("kmap_local: unmap slot {slot} ({addr:#010x}), invlpg on this CPU only");
            preempt_enable();
            migrate_enable();
        }
        Err(KmapLocalError::Underflow) => {
            preempt_enable();
            misuse(format_args!(
                "BUG: kunmap_local({vaddr:#010x}): no kmap_local mapping is held (more kunmap_local than kmap_local); ignored"
            ));
        }
        Err(KmapLocalError::OutOfOrder { expected }) => {
            preempt_enable();
            misuse(format_args!(
                "BUG: kunmap_local({vaddr:#010x}) out of order: the most recent kmap_local mapping is {expected:#010x}; \
                 unmap strictly in reverse order (refused: both stay mapped)"
            ));
        }
        Err(e) => unreachable!("check_unmap cannot fail with {e:?}"),
    }
}

/// `kunmap_local` of an address outside the slots.
fn kunmap_local_foreign(vaddr: usize, cfg: KmapLocalConfig) {
    let addr = vaddr & PAGE_MASK;
    if addr < PAGE_OFFSET {
        misuse(format_args!("WARNING: kunmap_local({vaddr:#010x}) of a user address; ignored"));
    } else if is_pkmap_addr(addr) {
        // Linux (x86) ignores this silently, leaving the kmap() reference
        // held for ever. We say so.
        misuse(format_args!(
            "BUG: kunmap_local({vaddr:#010x}) of a PKMAP address from kmap(): Linux ignores this silently; \
             release it with kunmap(page) (ignored)"
        ));
    } else if addr < PAGE_OFFSET + (page_alloc::max_low_pfn() << PAGE_SHIFT) {
        // Lowmem: kmap_local_page() of a lowmem page returns its direct-map
        // address and kunmap_local() of it is a correct no-op. It is a
        // mistake only with force-map (every mapping is then a slot), or
        // when the address is the page of the current top slot (the caller
        // passed page_address(page) instead of the mapping). The second test
        // is a heuristic: code that maps the same lowmem page both through a
        // slot (kmap_local_pfn) and directly (kmap_local_page) and then
        // unmaps the direct one is correct but reported; we found no user
        // that does this and keep the report for the common mistake.
        let pfn = (addr - PAGE_OFFSET) >> PAGE_SHIFT;
        if cfg.force_map {
            misuse(format_args!(
                "WARNING: kunmap_local({vaddr:#010x}) of a lowmem address with debug_kmap_local_force_map: \
                 every kmap_local mapping is a fixmap slot, so this is not one (ignored)"
            ));
        } else if let Some(task) = crate::sched::current_opt() {
            // The common case, a correct unmap of a lowmem mapping, costs
            // one read of idx: only a task holding slots can be confused.
            let top = task.with_kmap_ctrl(|c| c.idx.checked_sub(1).filter(|&t| bk::pte_pfn(c.pteval[t]) == pfn));
            if let Some(top) = top {
                misuse(format_args!(
                    "BUG: kunmap_local({vaddr:#010x}) of the lowmem address of pfn {pfn:#x}, which is mapped at \
                     {:#010x} by kmap_local: pass the address kmap_local returned (ignored)",
                    cfg.slot_vaddr(raw_smp_processor_id(), top)
                ));
            }
        }
    } else {
        misuse(format_args!("BUG: kunmap_local({vaddr:#010x}) of an address that kmap_local never returns; ignored"));
    }
}

/// Context-switch hook: clear `prev`'s slots on this CPU (Linux
/// `__kmap_local_sched_out`). Interrupts are off.
pub fn sched_out(prev: &Task) {
    let cfg = config();
    if prev.kmap_local_idx() == 0 {
        return;
    }
    let cpu = raw_smp_processor_id();
    prev.with_kmap_ctrl(|c| {
        for state in bk::slots(c, cfg) {
            match state {
                SlotState::Mapped { slot, .. } => {
                    let pte = kmap_pte(cfg.calc_idx(cpu, slot));
                    // SAFETY: this CPU's fixmap slot, owned by prev.
                    unsafe { pte_clear(pte) };
                    flush_tlb_one_kernel(cfg.slot_vaddr(cpu, slot));
                    this_cpu_add_u32(KMAP_SCHED_OUT_OFFSET, 1);
                    crate::trace!("sched_out {}/{}: cleared slot {slot} ({:#010x}), invlpg", prev.name(), prev.id(), cfg.slot_vaddr(cpu, slot));
                }
                SlotState::Guard => {}
                SlotState::GuardInUse { slot } => slot_warning(prev, "guard slot in use", slot),
                SlotState::Hole { slot } => slot_warning(prev, "hole (empty slot below the top)", slot),
            }
        }
    });
}

/// Context-switch hook: reinstall `next`'s slots (Linux
/// `__kmap_local_sched_in`). No flush: sched_out flushed them.
pub fn sched_in(next: &Task) {
    let cfg = config();
    if next.kmap_local_idx() == 0 {
        return;
    }
    let cpu = raw_smp_processor_id();
    next.with_kmap_ctrl(|c| {
        for state in bk::slots(c, cfg) {
            match state {
                SlotState::Mapped { slot, pteval } => {
                    let pte = kmap_pte(cfg.calc_idx(cpu, slot));
                    // SAFETY: this CPU's fixmap slot, owned by next again.
                    unsafe { set_pte(pte, pte_t(pteval)) };
                    this_cpu_add_u32(KMAP_SCHED_IN_OFFSET, 1);
                    crate::trace!("sched_in {}/{}: restored slot {slot} ({:#010x}) <- pfn {:#x}", next.name(), next.id(), cfg.slot_vaddr(cpu, slot), bk::pte_pfn(pteval));
                }
                SlotState::Guard => {}
                SlotState::GuardInUse { slot } => slot_warning(next, "guard slot in use", slot),
                SlotState::Hole { slot } => slot_warning(next, "hole (empty slot below the top)", slot),
            }
        }
    });
}

fn slot_warning(task: &Task, what: &str, slot: usize) {
    crate::debug::report_bug(format_args!(
        "WARNING: kmap_local context switch: task {}/{} has a {what} at slot {slot}", task.name(), task.id()
    ));
}

/// For the page-fault handler: what do we know about kmap_local address
/// `addr`? Writes lines like "kmap_local slot 0 of CPU 1: last mapped pfn
/// 0x41234 by task worker/7, unmapped since" into `out`.
pub fn describe_fault(out: &mut impl core::fmt::Write, addr: usize) {
    let cfg = config();
    let Some((cpu, slot)) = cfg.decode(addr, NR_CPUS) else {
        let _ = writeln!(out, "kmap_local: {addr:#010x} is in the fixmap kmap area but past this configuration's slots");
        return;
    };
    if cfg.is_guard(slot) {
        let _ = writeln!(out, "kmap_local: {addr:#010x} is guard slot {slot} of CPU {cpu} (debug_kmap_local): never mapped; an access ran off a mapped page");
        return;
    }
    let (id, v) = (SLOT_TASK[cpu][slot].load(Ordering::Relaxed), SLOT_PFN[cpu][slot].load(Ordering::Relaxed));
    if v == 0 {
        let _ = writeln!(out, "kmap_local: {addr:#010x} is slot {slot} of CPU {cpu}, never used");
        return;
    }
    let (pfn, mapped) = ((v >> 1) as usize, v & 1 != 0);
    let name = crate::sched::task::task_name_by_id(id);
    let me = crate::sched::current_opt();
    let state = if !mapped {
        "unmapped by kunmap_local since: a use after unmap"
    } else if me.is_none_or(|t| t.id() != id) {
        "still mapped, but for that task only: the access came from another task"
    } else {
        "still mapped by this task"
    };
    let _ = writeln!(out, "kmap_local: {addr:#010x} is slot {slot} of CPU {cpu}, last mapped pfn {pfn:#x} for task {}/{id}; {state}",
        name.as_str());
    let _ = writeln!(out, "kmap_local: faulting task {} on CPU {}",
        me.map_or(fmtbuf!(32, "<none>"), |t| fmtbuf!(32, "{}/{}", t.name(), t.id())).as_str(), raw_smp_processor_id());
}

