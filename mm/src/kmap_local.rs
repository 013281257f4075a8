//! The bookkeeping of `kmap_local_page()` (Linux `mm/highmem.c`:
//! `kmap_local_idx_push`, `__kmap_local_pfn_prot`, `kunmap_local_indexed`,
//! `__kmap_local_sched_out/in`).
//!
//! Each CPU owns `KM_MAX_IDX` fixmap pages. A task that maps a page takes
//! the next one *as a stack*: the first mapping uses slot 0, a nested one
//! slot 1, and so on, and they must be unmapped in reverse order. The stack
//! belongs to the **task** (`struct kmap_ctrl`: a depth and the PTE value of
//! each slot), not the CPU, for two reasons:
//!
//! * the task stays preemptible: when it is switched out, the scheduler
//!   clears its slots' PTEs on this CPU (so the next task can use the same
//!   slots) and puts them back when it returns. That is only possible
//!   because the task also cannot migrate (`migrate_disable`), so "its" slots
//!   are always this CPU's;
//! * an interrupt handler mapping a page simply pushes on top of the
//!   interrupted task's stack and pops before returning.
//!
//! ```text
//!  fixmap address  = fix_to_virt(FIX_KMAP_BEGIN + slot + KM_MAX_IDX * cpu)
//!  CPU 0: slot 0 at 0xffffb000 (highest), slot 1 one page lower, ...
//!  CPU 1: starts KM_MAX_IDX pages below CPU 0's slot 0
//! ```
//!
//! With `debug_kmap_local` (Linux `CONFIG_DEBUG_KMAP_LOCAL`) the stack
//! advances by two and only odd slots are used: every mapping has a
//! never-mapped guard page on each side, so running off the end of a mapped
//! page faults instead of reading the next mapping. `KM_MAX_IDX` is then 33.
//!
//! This file is the pure bookkeeping; the kernel writes the PTEs, disables
//! migration and preemption, and reports misuse (`kernel/src/mm/kmap_local.rs`).

use crate::layout::{KM_MAX_IDX, KM_MAX_IDX_DEBUG, PAGE_MASK, fix_to_virt, fixed_addresses::FIX_KMAP_BEGIN, virt_to_fix};
use crate::pgtable_types::{pte_t, pteval_t};

/// A task's kmap_local stack (Linux `struct kmap_ctrl`). `pteval` holds raw
/// PTE values (0: empty); sized for the debug stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmapCtrl {
    /// Slots in use, guard slots included (Linux `idx`).
    pub idx: usize,
    /// The PTE installed in each slot.
    pub pteval: [pteval_t; KM_MAX_IDX_DEBUG],
}

impl Default for KmapCtrl {
    fn default() -> Self {
        Self::new()
    }
}

impl KmapCtrl {
    /// No mappings.
    pub const fn new() -> Self {
        KmapCtrl { idx: 0, pteval: [0; KM_MAX_IDX_DEBUG] }
    }

    /// Number of live mappings (guard slots not counted).
    pub fn nr_mapped(&self, cfg: KmapLocalConfig) -> usize {
        self.idx / cfg.km_incr()
    }
}

/// The boot-time choice of debug modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KmapLocalConfig {
    /// Guard slots between mappings (Linux `CONFIG_DEBUG_KMAP_LOCAL`).
    pub debug: bool,
    /// Map lowmem pages through the slots too (Linux
    /// `CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP`), so a machine without highmem
    /// still exercises the slot path. Implies `debug`, as in Linux.
    pub force_map: bool,
}

impl KmapLocalConfig {
    /// The configuration with `force_map` implying `debug`.
    pub const fn new(debug: bool, force_map: bool) -> Self {
        KmapLocalConfig { debug: debug || force_map, force_map }
    }

    /// Slots per CPU (Linux `KM_MAX_IDX`): 16, or 33 with guard slots.
    pub const fn km_max_idx(self) -> usize {
        if self.debug { KM_MAX_IDX_DEBUG } else { KM_MAX_IDX }
    }

    /// How far a mapping moves the stack (Linux `KM_INCR`): 1, or 2 with
    /// guard slots.
    pub const fn km_incr(self) -> usize {
        if self.debug { 2 } else { 1 }
    }

    /// How many mappings can nest: 15, or 16 with guard slots (the check
    /// runs after the increment, so slot `KM_MAX_IDX - 1` is never used).
    pub const fn max_depth(self) -> usize {
        (self.km_max_idx() - 1) / self.km_incr()
    }

    /// Is stack slot `slot` a guard slot (never mapped)?
    pub const fn is_guard(self, slot: usize) -> bool {
        self.debug && slot & 1 == 0
    }

    /// The index of `cpu`'s stack slot `slot` among all CPUs' kmap slots
    /// (Linux `kmap_local_calc_idx`): what `kmap_pte` takes.
    pub const fn calc_idx(self, cpu: usize, slot: usize) -> usize {
        slot + self.km_max_idx() * cpu
    }

    /// The fixmap index of `cpu`'s stack slot `slot` (Linux
    /// `FIX_KMAP_BEGIN + kmap_local_calc_idx`).
    pub const fn fixmap_idx(self, cpu: usize, slot: usize) -> usize {
        FIX_KMAP_BEGIN + self.calc_idx(cpu, slot)
    }

    /// The virtual address of `cpu`'s stack slot `slot`.
    pub const fn slot_vaddr(self, cpu: usize, slot: usize) -> usize {
        fix_to_virt(self.fixmap_idx(cpu, slot))
    }

    /// Which CPU and slot a kmap_local address belongs to (for fault
    /// reports). `None` outside this configuration's slots.
    pub fn decode(self, vaddr: usize, nr_cpus: usize) -> Option<(usize, usize)> {
        let fix = virt_to_fix(vaddr & PAGE_MASK);
        let off = fix.checked_sub(FIX_KMAP_BEGIN)?;
        let (cpu, slot) = (off / self.km_max_idx(), off % self.km_max_idx());
        (cpu < nr_cpus).then_some((cpu, slot))
    }
}

/// What went wrong with a push or pop. The kernel names the task, the CPU
/// and the addresses in its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmapLocalError {
    /// One mapping too many (Linux `BUG_ON(idx >= KM_MAX_IDX)`).
    TooDeep { max_depth: usize },
    /// Unmap with nothing mapped (Linux `BUG_ON(idx < 0)`, after it has
    /// already cleared a stray PTE; we check first).
    Underflow,
    /// Unmap of an address that is not the most recent mapping: unmapping
    /// must be strictly LIFO (Linux `WARN_ON_ONCE(addr != ...)`, after which
    /// it clears the *top* slot anyway; we refuse and leave both mapped).
    OutOfOrder { expected: usize },
}

/// Take the next slot (Linux `kmap_local_idx_push`). Returns the slot.
pub fn push(ctrl: &mut KmapCtrl, cfg: KmapLocalConfig) -> Result<usize, KmapLocalError> {
    let idx = ctrl.idx + cfg.km_incr();
    if idx >= cfg.km_max_idx() {
        return Err(KmapLocalError::TooDeep { max_depth: cfg.max_depth() });
    }
    ctrl.idx = idx;
    Ok(idx - 1)
}

/// Check that `vaddr` (any address inside the page) is the most recent
/// mapping of this stack on `cpu`; return its slot.
pub fn check_unmap(ctrl: &KmapCtrl, cfg: KmapLocalConfig, cpu: usize, vaddr: usize) -> Result<usize, KmapLocalError> {
    if ctrl.idx == 0 {
        return Err(KmapLocalError::Underflow);
    }
    let slot = ctrl.idx - 1;
    let expected = cfg.slot_vaddr(cpu, slot);
    if vaddr & PAGE_MASK != expected {
        return Err(KmapLocalError::OutOfOrder { expected });
    }
    Ok(slot)
}

/// Release the top slot (Linux `kmap_local_idx_pop`, plus clearing
/// `pteval`).
pub fn pop(ctrl: &mut KmapCtrl, cfg: KmapLocalConfig) {
    debug_assert!(ctrl.idx >= cfg.km_incr());
    ctrl.pteval[ctrl.idx - 1] = 0;
    ctrl.idx -= cfg.km_incr();
}

/// What a context switch finds in one slot of the outgoing or incoming
/// task's stack (Linux's checks in `__kmap_local_sched_out/in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// A mapping: save or restore this PTE value.
    Mapped { slot: usize, pteval: pteval_t },
    /// A guard slot, correctly empty.
    Guard,
    /// A guard slot with a PTE (Linux `WARN_ON_ONCE(pte_val(pteval) != 0)`).
    GuardInUse { slot: usize },
    /// A non-guard slot below the top with no PTE: a hole (Linux
    /// `WARN_ON_ONCE(pte_none(pteval))`).
    Hole { slot: usize },
}

/// The slots a context switch must clear or restore, in order.
pub fn slots(ctrl: &KmapCtrl, cfg: KmapLocalConfig) -> impl Iterator<Item = SlotState> + '_ {
    (0..ctrl.idx).map(move |slot| {
        let pteval = ctrl.pteval[slot];
        if cfg.is_guard(slot) {
            if pteval != 0 { SlotState::GuardInUse { slot } } else { SlotState::Guard }
        } else if pteval == 0 {
            SlotState::Hole { slot }
        } else {
            SlotState::Mapped { slot, pteval }
        }
    })
}

/// The frame a raw PTE value maps (Linux `pte_pfn`).
pub const fn pte_pfn(pteval: pteval_t) -> usize {
    crate::pgtable_types::pte_pfn(pte_t(pteval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::PAGE_SIZE;

    const NORMAL: KmapLocalConfig = KmapLocalConfig::new(false, false);
    const DEBUG: KmapLocalConfig = KmapLocalConfig::new(true, false);

    #[test]
    fn addresses_grow_downwards_per_slot_and_per_cpu() {
        assert_eq!(NORMAL.slot_vaddr(0, 1), NORMAL.slot_vaddr(0, 0) - PAGE_SIZE);
        assert_eq!(NORMAL.slot_vaddr(1, 0), NORMAL.slot_vaddr(0, 0) - KM_MAX_IDX * PAGE_SIZE);
        assert_eq!(DEBUG.slot_vaddr(1, 0), DEBUG.slot_vaddr(0, 0) - KM_MAX_IDX_DEBUG * PAGE_SIZE);
        for cfg in [NORMAL, DEBUG] {
            for cpu in 0..8 {
                for slot in 0..cfg.km_max_idx() {
                    let v = cfg.slot_vaddr(cpu, slot) + 123;
                    assert_eq!(cfg.decode(v, 8), Some((cpu, slot)));
                    assert!(crate::layout::is_kmap_local_addr(v));
                }
            }
        }
    }

    #[test]
    fn nesting_limit_is_15_or_16_with_guards() {
        for (cfg, depth) in [(NORMAL, 15), (DEBUG, 16)] {
            let mut c = KmapCtrl::new();
            for i in 0..depth {
                let slot = push(&mut c, cfg).unwrap();
                assert_eq!(slot, if cfg.debug { 2 * i + 1 } else { i });
            }
            assert_eq!(push(&mut c, cfg), Err(KmapLocalError::TooDeep { max_depth: depth }));
            assert_eq!(c.nr_mapped(cfg), depth, "a refused push leaves the stack as it was");
        }
    }

    #[test]
    fn unmap_must_be_lifo() {
        let mut c = KmapCtrl::new();
        let a = push(&mut c, NORMAL).unwrap();
        let b = push(&mut c, NORMAL).unwrap();
        let (va, vb) = (NORMAL.slot_vaddr(2, a), NORMAL.slot_vaddr(2, b));
        assert_eq!(check_unmap(&c, NORMAL, 2, va + 5), Err(KmapLocalError::OutOfOrder { expected: vb }));
        assert_eq!(check_unmap(&c, NORMAL, 2, vb + 4095), Ok(b));
        pop(&mut c, NORMAL);
        assert_eq!(check_unmap(&c, NORMAL, 2, va), Ok(a));
        pop(&mut c, NORMAL);
        assert_eq!(check_unmap(&c, NORMAL, 2, va), Err(KmapLocalError::Underflow));
    }

    #[test]
    fn decode_refuses_slots_of_cpus_that_do_not_exist() {
        for cfg in [NORMAL, DEBUG] {
            let last = cfg.slot_vaddr(1, cfg.km_max_idx() - 1);
            assert_eq!(cfg.decode(last, 2), Some((1, cfg.km_max_idx() - 1)));
            // CPU 2's slot 0 is the next page down: with 2 CPUs, not a slot.
            assert_eq!(cfg.decode(cfg.slot_vaddr(2, 0), 2), None);
            assert_eq!(cfg.decode(last - PAGE_SIZE, 2), None);
        }
    }

    #[test]
    fn pop_clears_the_top_slot_only() {
        for cfg in [NORMAL, DEBUG] {
            let mut c = KmapCtrl::new();
            let a = push(&mut c, cfg).unwrap();
            c.pteval[a] = 0x1000_0003;
            let b = push(&mut c, cfg).unwrap();
            c.pteval[b] = 0x2000_0003;
            pop(&mut c, cfg);
            assert_eq!((c.pteval[a], c.pteval[b]), (0x1000_0003, 0), "the top mapping's PTE value is forgotten");
            assert_eq!(c.nr_mapped(cfg), 1);
            pop(&mut c, cfg);
            assert_eq!(c, KmapCtrl::new());
        }
    }

    #[test]
    fn context_switch_sees_mappings_guards_and_holes() {
        let mut c = KmapCtrl::new();
        let s1 = push(&mut c, DEBUG).unwrap();
        c.pteval[s1] = 0x1234_5003;
        let s3 = push(&mut c, DEBUG).unwrap();
        c.pteval[s3] = 0x2222_2003;
        let seen: Vec<_> = slots(&c, DEBUG).collect();
        assert_eq!(seen, vec![
            SlotState::Guard,
            SlotState::Mapped { slot: 1, pteval: 0x1234_5003 },
            SlotState::Guard,
            SlotState::Mapped { slot: 3, pteval: 0x2222_2003 },
        ]);
        c.pteval[1] = 0;
        c.pteval[0] = 7;
        let seen: Vec<_> = slots(&c, DEBUG).take(2).collect();
        assert_eq!(seen, vec![SlotState::GuardInUse { slot: 0 }, SlotState::Hole { slot: 1 }]);
        assert_eq!(pte_pfn(0x1234_5003), 0x12345);
    }
}
