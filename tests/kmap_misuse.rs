//! Misuse of kmap, kmap_local and kmap_atomic, and what the kernel says
//! about it (the misuse table in README.md; Linux's checks in the debug-check cases
//! of `docs/conformance.md`).
//!
//! Where Linux `BUG()`s, warns once, or says nothing, this kernel names the
//! misuse (the interface, the address or page, the task and the CPU) and,
//! where carrying on is safe, refuses the operation and carries on. Those
//! reports go through `crate::debug::report_bug`, so each test provokes one
//! misuse, checks that exactly one report came out with the right words,
//! and checks that nothing changed (counts, slots, PTEs, contents). Misuse
//! that cannot be survived (nesting past the slot stack, kmap() in an
//! interrupt, touching a mapping that is gone) ends the boot, and those
//! tests check the panic or fault report.
//!
//! Configurations: the tests run as they are with `-smp 1/2/4`,
//! `debug_kmap_local` (guard slots) and `debug_kmap_local_force_map`.
//! Misuse of `kmap()` needs a highmem page (kmap of lowmem is the direct
//! map and cannot be misused that way): without highmem (`-m 512M`) those
//! tests check only the lowmem side, and say so. kmap_local misuse uses
//! `kmap_local_pfn`, which always maps through a slot, so it works on
//! every machine.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use alloc::{format, vec};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mm::layout::{PAGE_OFFSET, PAGE_SIZE, PKMAP_BASE, is_kmap_local_addr, is_pkmap_addr, pkmap_nr};
use mm::page::Page;

use crate::arch::cpu::{local_irq_restore, local_irq_save};
use crate::arch::percpu::raw_smp_processor_id;
use crate::debug::{last_report, report_count};
use crate::tools::ktest::{Test, require_highmem, require_kernel_option, require_no_kernel_option};
use crate::mm::kmap::{kmap, kmap_flush_unused, kunmap, pkmap_census, pkmap_count};
use crate::mm::kmap_atomic::{kmap_atomic, kunmap_atomic};
use crate::mm::kmap_local::{config, kmap_local_page, kmap_local_pfn, kunmap_local, set_config};
use crate::mm::page_alloc::{PageHighMem, page_address, page_to_pfn, pfn_to_page};
use crate::mm::pgtable::lookup_kernel_pte;
use crate::sched::preempt::{
    migrate_disable, migrate_enable, pagefault_disabled, preempt_count, preempt_disable, preempt_enable,
};
use crate::sched::{current, msleep, spawn_on, yield_now};
use crate::smp::{num_online_cpus, run_in_irq};
use super::common::*;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(kunmap_of_lowmem_is_a_silent_no_op),
    test_case!(kunmap_of_a_page_never_kmapped_is_refused),
    test_case!(more_kunmaps_than_kmaps_are_refused),
    test_case!(out_of_order_kunmap_local_is_refused_and_both_stay_mapped),
    test_case!(kunmap_local_of_a_pkmap_address_is_named),
    test_case!(kunmap_local_of_the_direct_map_address_instead_of_the_mapping),
    test_case!(kunmap_local_of_user_and_vmalloc_addresses_is_named),
    test_case!(kunmap_local_with_nothing_mapped_changes_nothing),
    test_case!(kmap_and_kunmap_in_atomic_context_report_might_sleep),
    test_case!(kunmap_from_interrupt_context_is_refused),
    test_case!(sleeping_inside_kmap_atomic_is_caught),
    test_case!(task_exiting_with_kmap_local_held_is_named_and_its_slot_cleared),
    test_case!(kunmap_local_of_lowmem_with_force_map_is_named),
    test_case!(nesting_beyond_15_mappings_ends_the_boot,
        panics = "BUG: kmap_local: nesting beyond KM_MAX_IDX: 15 mappings already held, mapping pfn 0x\n\
                  unmap (kunmap_local) before mapping more"),
    test_case!(nesting_beyond_16_mappings_with_guard_slots_ends_the_boot,
        panics = "BUG: kmap_local: nesting beyond KM_MAX_IDX: 16 mappings already held, mapping pfn 0x\n\
                  unmap (kunmap_local) before mapping more"),
    test_case!(kmap_from_interrupt_context_ends_the_boot,
        panics = "BUG: kmap() of highmem page pfn 0x\nfrom interrupt context (CPU \ninterrupted task ktest/\n\
                  kmap may sleep and kmap_lock is not interrupt-safe; use kmap_local_page()"),
    test_case!(kmap_local_address_used_after_kunmap_local_ends_the_boot,
        panics = "BUG: unable to handle page fault for address: 0x\n#PF: supervisor read access in kernel mode\n\
                  not-present page\nkmap_local: 0x\n of CPU \nlast mapped pfn 0x\nfor task ktest/\n\
                  unmapped by kunmap_local since: a use after unmap"),
    test_case!(kmap_local_address_used_by_another_task_ends_the_boot,
        panics = "BUG: unable to handle page fault for address: 0x\nkmap_local: 0x\nfor task kmap-holder/\n\
                  still mapped, but for that task only: the access came from another task\n\
                  faulting task kmap-intruder/"),
    test_case!(kmap_address_used_after_kunmap_and_flush_ends_the_boot,
        panics = "BUG: unable to handle page fault for address: 0xff\nkmap: 0xff\nis PKMAP slot \n\
                  (pkmap_count 0); its PTE is clear: the slot was reclaimed by a wrap flush"),
];

// ------------------------------------------------------------ helpers ----

fn migrate_count() -> u32 {
    current().migrate_disable.load(Ordering::Relaxed)
}

/// How a report names the current task and CPU: "task ktest/3 on CPU 0".
/// Call with migration disabled, or the CPU may change under it.
fn who() -> String {
    let t = current();
    format!("task {}/{} on CPU {}", t.name(), t.id(), raw_smp_processor_id())
}

/// Run `f`, which must make exactly one report; return its text.
#[track_caller]
fn one_report(f: impl FnOnce()) -> String {
    let n = report_count();
    f();
    let got = report_count() - n;
    assert_eq!(got, 1, "expected one report, got {got}; the last: {}", last_report().as_str());
    String::from(last_report().as_str())
}

/// Run `f`, which must report nothing.
#[track_caller]
fn no_report(what: &str, f: impl FnOnce()) {
    let n = report_count();
    f();
    assert_eq!(report_count(), n, "{what} reported: {}", last_report().as_str());
}

#[track_caller]
fn assert_says(report: &str, parts: &[&str]) {
    for part in parts {
        assert!(report.contains(part), "the report should contain\n  {part}\nbut is\n{report}");
    }
}

// ------------------------------------------------- kmap() / kunmap() ----

/// kmap() and kunmap() of a lowmem page are the direct map and nothing
/// else (catalogue A1): a kunmap of a lowmem page never kmapped, or one
/// kunmap too many, is a correct no-op, and nothing is reported.
fn kunmap_of_lowmem_is_a_silent_no_op() {
    let low = lowmem_page();
    no_report("kunmap(lowmem)", || kunmap(low));
    no_report("kmap + two kunmaps of lowmem", || {
        kmap(low);
        kunmap(low);
        kunmap(low);
    });
    free_page(low);
}

/// Linux `kunmap_high`: `BUG_ON(!vaddr)` for a page with no PKMAP slot
/// (catalogue A16). We report it with the page and the task, and refuse.
fn kunmap_of_a_page_never_kmapped_is_refused() {
    require_highmem();
    let h = highmem_page();
    let pfn = page_to_pfn(h);
    kmap_flush_unused(); // forget any stale count-1 slot left by earlier tests
    assert_eq!(page_address(h), None, "a fresh highmem page has no kmap address");
    let census = pkmap_census();
    migrate_disable();
    let r = one_report(|| kunmap(h));
    assert_says(&r, &[&format!("BUG: kunmap() of page pfn {pfn:#x}, which is not kmapped"), &who(), "(refused)"]);
    migrate_enable();
    assert_eq!(pkmap_census(), census, "the pool is unchanged");
    assert_eq!(page_address(h), None);
    free_page(h);
}

/// Linux `kunmap_high`: `case 0: BUG()` when a count would drop from 1 to
/// 0 without a TLB flush (catalogue A17). We report it with the page and
/// its address, and the count stays at 1 (unused, PTE kept, lazily).
fn more_kunmaps_than_kmaps_are_refused() {
    require_highmem();
    let h = highmem_page();
    let pfn = page_to_pfn(h);
    fill_byte(h, 0x3c);
    let v = kmap(h);
    let nr = pkmap_nr(v);
    assert_eq!(pkmap_count(nr), 2);
    kunmap(h);
    assert_eq!(pkmap_count(nr), 1, "one kmap, one kunmap: unused");
    migrate_disable();
    let r = one_report(|| kunmap(h));
    assert_says(&r, &[
        &format!("BUG: kunmap() of page pfn {pfn:#x} at {v:#010x}: more kunmaps than kmaps"),
        "(the count would reach 0 without a TLB flush)",
        &who(),
        "(refused)",
    ]);
    migrate_enable();
    assert_eq!(pkmap_count(nr), 1, "the count stays at 1");
    assert_eq!(page_address(h), Some(v), "the page keeps its (lazy) kmap address");
    assert_eq!(lookup_kernel_pte(v).pfn(), pfn, "and its PTE");
    // The slot is still usable the normal way: kmap revives it.
    assert_eq!(kmap(h), v);
    assert_eq!(pkmap_count(nr), 2);
    assert_eq!(read_byte(v + 77), 0x3c);
    kunmap(h);
    assert_eq!(pkmap_count(nr), 1);
    free_page(h);
}

/// Catalogue A18: `kmap` and `kunmap` call `might_sleep()` on every call,
/// lowmem included, so from atomic context (preemption or interrupts off)
/// Linux's "sleeping function called from invalid context" comes out,
/// naming the caller's line; the call still does its job.
fn kmap_and_kunmap_in_atomic_context_report_might_sleep() {
    let low = lowmem_page();
    preempt_disable();
    let r = one_report(|| assert_eq!(kmap(low), page_address(low).unwrap(), "kmap(lowmem) is still the direct map"));
    assert_says(&r, &["BUG: sleeping function called from invalid context at ", "tests/kmap_misuse.rs:",
        "in_atomic(): 1, irqs_disabled(): 0", "preempt_count: 1, expected: 0"]);
    let r = one_report(|| kunmap(low));
    assert_says(&r, &["BUG: sleeping function called from invalid context at ", "tests/kmap_misuse.rs:"]);
    preempt_enable();

    let flags = local_irq_save();
    let r = one_report(|| {
        kmap(low);
    });
    local_irq_restore(flags);
    assert_says(&r, &["BUG: sleeping function called from invalid context", "in_atomic(): 0, irqs_disabled(): 1"]);
    no_report("kunmap(lowmem) where sleeping is fine", || kunmap(low));
    free_page(low);

    if have_highmem() {
        // Highmem: the report, then the mapping (the pool is not full, so
        // nothing actually sleeps), then the same on kunmap.
        let h = highmem_page();
        preempt_disable();
        let mut v = 0;
        let r = one_report(|| v = kmap(h));
        preempt_enable();
        assert_says(&r, &["BUG: sleeping function called from invalid context", "tests/kmap_misuse.rs:"]);
        assert!(is_pkmap_addr(v));
        let nr = pkmap_nr(v);
        assert_eq!(pkmap_count(nr), 2);
        preempt_disable();
        let r = one_report(|| kunmap(h));
        preempt_enable();
        assert_says(&r, &["BUG: sleeping function called from invalid context"]);
        assert_eq!(pkmap_count(nr), 1, "the kunmap itself went through");
        free_page(h);
    }
}

static IRQ_ADDR: AtomicUsize = AtomicUsize::new(0);

fn kmap_in_irq(pfn: usize) {
    IRQ_ADDR.store(kmap(pfn_to_page(pfn)), Ordering::SeqCst);
}

fn kunmap_in_irq(pfn: usize) {
    kunmap(pfn_to_page(pfn));
}

/// Linux x86's `kmap_lock` does not disable interrupts (catalogue §9 Q8),
/// so kunmap in an interrupt handler can deadlock against a kmap on the
/// same CPU. We refuse it, naming the page, the CPU and the interrupted
/// task; the mapping stays. kmap of a *lowmem* page in an interrupt is
/// harmless (no lock): only might_sleep speaks, as in Linux.
fn kunmap_from_interrupt_context_is_refused() {
    let low = lowmem_page();
    IRQ_ADDR.store(0, Ordering::SeqCst);
    let r = one_report(|| run_in_irq(kmap_in_irq, page_to_pfn(low)));
    assert_eq!(Some(IRQ_ADDR.load(Ordering::SeqCst)), page_address(low), "kmap(lowmem) in an interrupt: the direct map");
    assert_says(&r, &["BUG: sleeping function called from invalid context", "irqs_disabled(): 1"]);
    free_page(low);
    require_highmem();

    let h = highmem_page();
    let pfn = page_to_pfn(h);
    fill_byte(h, 0x5a);
    let v = kmap(h);
    let nr = pkmap_nr(v);
    migrate_disable(); // run_in_irq interrupts this CPU
    let t = current();
    let n = report_count();
    run_in_irq(kunmap_in_irq, pfn);
    assert_eq!(report_count(), n + 2, "might_sleep's report, then kunmap's: {}", last_report().as_str());
    assert_says(last_report().as_str(), &[&format!(
        "BUG: kunmap() of highmem page pfn {pfn:#x} from interrupt context (CPU {}, interrupted task {}/{}): \
         kmap_lock is not interrupt-safe; refused (the mapping stays)",
        raw_smp_processor_id(), t.name(), t.id())]);
    migrate_enable();
    assert_eq!(pkmap_count(nr), 2, "refused: still mapped once");
    assert_eq!(read_byte(v + 4000), 0x5a);
    no_report("kunmap in task context", || kunmap(h));
    assert_eq!(pkmap_count(nr), 1);
    free_page(h);
}

// ----------------------------------------------------- kunmap_local() ----

/// Catalogue C33: Linux warns once (`WARN_ON_ONCE(addr != ...)`) and then
/// clears the *top* slot anyway, unmapping the wrong page. We refuse,
/// naming both addresses: both stay mapped and readable, and unmapping in
/// the right order afterwards works and empties the stack.
fn out_of_order_kunmap_local_is_refused_and_both_stay_mapped() {
    let (pa, pb) = (any_page(), any_page());
    fill_byte(pa, 0xaa);
    fill_byte(pb, 0xbb);
    let (depth, migrate) = (kmap_depth(), migrate_count());
    let a = kmap_local_pfn(page_to_pfn(pa));
    let b = kmap_local_pfn(page_to_pfn(pb));
    let held = kmap_depth();
    let r = one_report(|| kunmap_local(a + 100));
    assert_says(&r, &[
        &format!("BUG: kunmap_local({:#010x}) out of order: the most recent kmap_local mapping is {b:#010x}", a + 100),
        "unmap strictly in reverse order (refused: both stay mapped)",
        &who(), // migration is disabled while we hold a mapping
    ]);
    assert_eq!(kmap_depth(), held, "refused: nothing popped");
    assert_eq!((lookup_kernel_pte(a).pfn(), lookup_kernel_pte(b).pfn()), (page_to_pfn(pa), page_to_pfn(pb)), "both PTEs stay");
    assert_eq!((read_byte(a + 1), read_byte(b + 2)), (0xaa, 0xbb), "both still readable");
    no_report("unmapping in the right order", || {
        kunmap_local(b);
        kunmap_local(a);
    });
    assert_eq!((kmap_depth(), migrate_count()), (depth, migrate), "the stack is empty and migration enabled again");
    assert!(lookup_kernel_pte(a).is_none() && lookup_kernel_pte(b).is_none());
    free_page(pa);
    free_page(pb);
}

/// Catalogue C36 / §9 Q4: `kunmap_local(kmap(page))` is silently ignored by
/// Linux on x86, leaving the kmap reference held for ever. We name it; the
/// PKMAP count is untouched, and a kunmap(page) afterwards releases it.
fn kunmap_local_of_a_pkmap_address_is_named() {
    let census = pkmap_census();
    let (addr, page) = if have_highmem() {
        let h = highmem_page();
        (kmap(h) + 12, Some(h))
    } else {
        // No highmem, so no kmap() address: an address in the PKMAP window
        // is all we can pass, and the report must be the same.
        (PKMAP_BASE + 5 * PAGE_SIZE + 12, None)
    };
    let count = pkmap_count(pkmap_nr(addr));
    let depth = kmap_depth();
    migrate_disable();
    let r = one_report(|| kunmap_local(addr));
    assert_says(&r, &[
        &format!("BUG: kunmap_local({addr:#010x}) of a PKMAP address from kmap(): Linux ignores this silently"),
        "release it with kunmap(page) (ignored)",
        &who(),
    ]);
    migrate_enable();
    assert_eq!(pkmap_count(pkmap_nr(addr)), count, "the kmap count is unchanged");
    assert_eq!(kmap_depth(), depth, "and the kmap_local stack");
    if let Some(h) = page {
        assert_eq!(page_address(h), Some(addr - 12));
        no_report("kunmap", || kunmap(h));
        assert_eq!(pkmap_count(pkmap_nr(addr)), count - 1);
        free_page(h);
    } else {
        assert_eq!(pkmap_census(), census);
    }
}

/// Catalogue C27 and §9 Q4: kunmap_local of a lowmem address is a silent
/// no-op in Linux, and correct for `kunmap_local(kmap_local_page(lowmem))`
/// (the mapping *is* the direct map). It is a mistake when the page is
/// mapped through a slot (`kmap_local_pfn` always does that) and the
/// caller passes `page_address(page)` instead of the mapping: the slot
/// would leak. We name that case, with both addresses.
fn kunmap_local_of_the_direct_map_address_instead_of_the_mapping() {
    let (low, other) = (lowmem_page(), lowmem_page());
    let pfn = page_to_pfn(low);
    let direct = page_address(low).unwrap();
    let depth = kmap_depth();
    no_report("kunmap_local(kmap_local_page(lowmem))", || {
        let v = kmap_local_page(low);
        kunmap_local(v);
    });
    assert_eq!(kmap_depth(), depth);
    // With force-map every kmap_local mapping is a slot and any lowmem
    // address is wrong: kunmap_local_of_lowmem_with_force_map_is_named.
    require_no_kernel_option("debug_kmap_local_force_map");
    let v = kmap_local_pfn(pfn);
    assert!(is_kmap_local_addr(v), "kmap_local_pfn maps lowmem through a slot");
    let r = one_report(|| kunmap_local(direct + 8));
    assert_says(&r, &[
        &format!("BUG: kunmap_local({:#010x}) of the lowmem address of pfn {pfn:#x}, which is mapped at {v:#010x} by kmap_local",
            direct + 8),
        "pass the address kmap_local returned (ignored)",
        &who(),
    ]);
    assert_eq!(kmap_depth(), depth + config().km_incr(), "ignored: the slot is still held");
    // The direct-map address of a page that is not the top slot's is
    // Linux's silent no-op.
    no_report("kunmap_local of another lowmem address", || kunmap_local(page_address(other).unwrap()));
    assert_eq!(kmap_depth(), depth + config().km_incr());
    no_report("the right kunmap_local", || kunmap_local(v));
    assert_eq!(kmap_depth(), depth);
    free_page(low);
    free_page(other);
}

/// Catalogue C35: Linux `WARN_ON_ONCE(addr < PAGE_OFFSET)` for a user
/// address, and no state change. A kernel address outside every kmap area
/// (vmalloc here) is named too.
fn kunmap_local_of_user_and_vmalloc_addresses_is_named() {
    let depth = kmap_depth();
    migrate_disable();
    for user in [0x1000, 0, PAGE_OFFSET - 1] {
        let r = one_report(|| kunmap_local(user));
        assert_says(&r, &[&format!("WARNING: kunmap_local({user:#010x}) of a user address; ignored"), &who()]);
    }
    let vm = crate::mm::vmalloc::vmalloc(PAGE_SIZE).expect("vmalloc space");
    let r = one_report(|| kunmap_local(vm));
    assert_says(&r, &[&format!("BUG: kunmap_local({vm:#010x}) of an address that kmap_local never returns; ignored"), &who()]);
    migrate_enable();
    crate::mm::vmalloc::vfree(vm);
    assert_eq!(kmap_depth(), depth);
}

/// Catalogue C34 / §9 Q5: with nothing mapped, Linux clears the PTE of
/// "slot -1" (the fixmap entry above this CPU's slots: an I/O APIC entry
/// for CPU 0, the previous CPU's last slot otherwise) before its
/// `BUG_ON(idx < 0)`. We check first: a report, and nothing changes, not
/// that PTE, not the stack, not the migration count.
fn kunmap_local_with_nothing_mapped_changes_nothing() {
    assert_eq!(kmap_depth(), 0, "this test starts with nothing mapped");
    let cfg = config();
    migrate_disable();
    let cpu = raw_smp_processor_id();
    let first = cfg.slot_vaddr(cpu, cfg.km_incr() - 1); // where a first mapping would go
    let above = cfg.slot_vaddr(cpu, 0) + PAGE_SIZE; // Linux's "slot -1"
    let (pte_first, pte_above, migrate) = (lookup_kernel_pte(first), lookup_kernel_pte(above), migrate_count());
    let r = one_report(|| kunmap_local(first));
    assert_says(&r, &[
        &format!("BUG: kunmap_local({first:#010x}): no kmap_local mapping is held (more kunmap_local than kmap_local); ignored"),
        &who(),
    ]);
    assert_eq!((lookup_kernel_pte(first), lookup_kernel_pte(above)), (pte_first, pte_above), "no PTE touched");
    assert_eq!((kmap_depth(), migrate_count()), (0, migrate), "no pop, no migrate_enable");
    migrate_enable();
}

/// Catalogue C37: with `CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP`, kmap_local of
/// lowmem returns a slot, so `kunmap_local(page_address(lowmem))` is always
/// wrong (Linux `WARN_ON_ONCE(1)`, no pop). We name it; the slot stays.
fn kunmap_local_of_lowmem_with_force_map_is_named() {
    // Otherwise lowmem mappings are the direct map and this is
    // kunmap_local_of_the_direct_map_address_instead_of_the_mapping.
    require_kernel_option("debug_kmap_local_force_map");
    let low = lowmem_page();
    fill_byte(low, 0x6e);
    let depth = kmap_depth();
    let v = kmap_local_page(low);
    assert!(is_kmap_local_addr(v), "force-map: lowmem goes through a slot");
    let direct = page_address(low).unwrap();
    let r = one_report(|| kunmap_local(direct));
    assert_says(&r, &[
        &format!("WARNING: kunmap_local({direct:#010x}) of a lowmem address with debug_kmap_local_force_map"),
        "every kmap_local mapping is a fixmap slot, so this is not one (ignored)",
        &who(),
    ]);
    assert_eq!(kmap_depth(), depth + config().km_incr(), "not popped");
    assert_eq!(read_byte(v + 9), 0x6e, "the slot still maps the page");
    no_report("the right kunmap_local", || kunmap_local(v));
    assert_eq!(kmap_depth(), depth);
    free_page(low);
}

// ------------------------------------------------------ kmap_atomic() ----

/// Catalogue E53: kmap_atomic disables preemption (and page faults), so
/// sleeping inside is "BUG: scheduling while atomic" (after might_sleep's
/// report). The kernel schedules anyway; the task comes back with its
/// preempt count (1) and page faults still disabled, and the mapping was
/// saved and restored across the switch, so the page still reads right.
/// kunmap_atomic then restores both.
fn sleeping_inside_kmap_atomic_is_caught() {
    let mut pages = vec![lowmem_page()];
    if have_highmem() {
        pages.push(highmem_page());
    }
    for p in pages {
        fill_byte(p, 0x71);
        assert_eq!((preempt_count(), pagefault_disabled()), (0, false));
        let v = kmap_atomic(p);
        let (t, cpu) = (current(), raw_smp_processor_id());
        let n = report_count();
        msleep(1);
        assert!(report_count() >= n + 2, "might_sleep and schedule both report");
        assert_says(last_report().as_str(), &[&format!("BUG: scheduling while atomic: {}/{}/0x00000001", t.name(), t.id()),
            "tests/kmap_misuse.rs:"]);
        assert_eq!(raw_smp_processor_id(), cpu, "preemption off: back on the same CPU");
        assert_eq!((preempt_count(), pagefault_disabled()), (1, true), "the task came back atomic");
        assert_eq!(read_byte(v + 3000), 0x71, "the mapping survived the sleep ({})", if PageHighMem(p) { "highmem" } else { "lowmem" });
        kunmap_atomic(v);
        assert_eq!((preempt_count(), pagefault_disabled()), (0, false), "kunmap_atomic restores both");
        free_page(p);
    }
}

// ------------------------------------------------- a task's lifetime ----

/// Linux checks for held kmap_local mappings only on fork and on return to
/// user space (catalogue D47, D48). A kernel thread that exits holding one
/// would leave its PTE in this CPU's slot, and the next task to map there
/// would hit "still maps" and stop the kernel. We name the task at exit and
/// clear its slots; a task mapping on the same CPU afterwards gets the very
/// same slot, and it works.
fn task_exiting_with_kmap_local_held_is_named_and_its_slot_cleared() {
    let cpu = num_online_cpus() - 1;
    let (leaked, fresh) = (any_page(), any_page());
    fill_byte(leaked, 0x11);
    fill_byte(fresh, 0x22);
    let (leaked_pfn, fresh_pfn) = (page_to_pfn(leaked), page_to_pfn(fresh));
    let addr = Arc::new(AtomicUsize::new(0));
    let a = addr.clone();
    let n = report_count();
    let leaker = spawn_on(cpu, "kmap-leaker", move || {
        let v = kmap_local_pfn(leaked_pfn);
        a.store(v, Ordering::SeqCst);
        // returns (and exits) with the mapping held
    });
    let id = leaker.task().id();
    assert_eq!(leaker.join(), 0);
    assert_eq!(report_count(), n + 1, "one report: {}", last_report().as_str());
    assert_says(last_report().as_str(), &[&format!(
        "BUG: task kmap-leaker/{id} exiting on CPU {cpu} with 1 kmap_local mapping(s) held (cleared)")]);
    let v = addr.load(Ordering::SeqCst);
    assert!(lookup_kernel_pte(v).is_none(), "the leaked slot's PTE was cleared");

    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let next = spawn_on(cpu, "kmap-after-leak", move || {
        let w = kmap_local_pfn(fresh_pfn);
        g.store(w | read_byte(w + 5) as usize, Ordering::SeqCst);
        kunmap_local(w);
    });
    assert_eq!(next.join(), 0);
    assert_eq!(report_count(), n + 1, "the next task maps without a report: {}", last_report().as_str());
    let w = got.load(Ordering::SeqCst);
    assert_eq!(w & !0xff, v, "the next mapping on CPU {cpu} takes the same slot");
    assert_eq!(w & 0xff, 0x22, "and reads its own page through it");
    free_page(leaked);
    free_page(fresh);
}

// ------------------------------------------- misuse that ends the boot ----

/// Map `cfg.max_depth()` pages, check they are all there, then one more.
fn nest_past_the_limit(debug: bool) {
    assert_eq!(kmap_depth(), 0, "this test starts with nothing mapped");
    let booted = config();
    if booted.debug != debug {
        // This boot runs only this test, and nothing is mapped on any CPU
        // (idle tasks never map), so switching the slot layout here is
        // safe: it lets both limits be checked exactly in every
        // configuration the runner boots.
        set_config(debug, debug && booted.force_map);
    }
    let cfg = config();
    let depth = cfg.max_depth();
    // Linux kmap_local_idx_push: BUG_ON(idx >= KM_MAX_IDX) after the
    // increment, so one slot is never used (§9 Q2): 16 - 1, or 33 / 2.
    assert_eq!(depth, if debug { 16 } else { 15 });
    let pages: Vec<&Page> = (0..=depth).map(|_| any_page()).collect();
    for (k, p) in pages.iter().enumerate() {
        fill_byte(p, k as u8);
    }
    let addrs: Vec<usize> = pages[..depth].iter().map(|p| kmap_local_pfn(page_to_pfn(p))).collect();
    assert_eq!(kmap_depth(), depth * cfg.km_incr());
    for (k, &v) in addrs.iter().enumerate() {
        assert_eq!(read_byte(v + k), k as u8, "mapping {k} of {depth} maps its page");
    }
    kmap_local_pfn(page_to_pfn(pages[depth])); // one too many: the boot ends here
}

/// Catalogue C32, normal mode: 15 nested mappings work, the 16th is
/// Linux's `BUG_ON(idx >= KM_MAX_IDX)`.
fn nesting_beyond_15_mappings_ends_the_boot() {
    nest_past_the_limit(false);
}

/// Catalogue C32 with `CONFIG_DEBUG_KMAP_LOCAL`: guard slots between the
/// mappings, 33 slots, 16 mappings, the 17th stops.
fn nesting_beyond_16_mappings_with_guard_slots_ends_the_boot() {
    nest_past_the_limit(true);
}

/// kmap() in an interrupt: Linux's might_sleep warns and then the handler
/// may spin for ever on kmap_lock (held by the task it interrupted) or
/// sleep in interrupt context. There is no safe way on, so the kernel
/// stops, saying why. `run_in_irq` sends this CPU an IPI, so this works on
/// one CPU as well. Needs highmem (kmap of lowmem takes no lock).
fn kmap_from_interrupt_context_ends_the_boot() {
    require_highmem();
    let h = highmem_page();
    run_in_irq(kmap_in_irq, page_to_pfn(h));
}

/// A kmap_local address after its kunmap_local: the PTE is clear and this
/// CPU's TLB entry flushed, so the access faults, and the fault report
/// says whose slot it was and that it was unmapped (a use after unmap).
fn kmap_local_address_used_after_kunmap_local_ends_the_boot() {
    let p = any_page();
    fill_byte(p, 0x42);
    migrate_disable();
    let v = kmap_local_pfn(page_to_pfn(p));
    assert_eq!(read_byte(v), 0x42);
    kunmap_local(v);
    read_byte(v + 64); // the boot ends here
}

/// A kmap_local address is valid only in the task that mapped it (the
/// kdoc: "Pointers must not be handed to another thread"). Task A holds a
/// mapping and sleeps; task B on the same CPU reads A's address: A's slot
/// PTE was cleared when A was switched out, so B faults, and the report
/// says the slot is still A's.
fn kmap_local_address_used_by_another_task_ends_the_boot() {
    let cpu = num_online_cpus() - 1;
    let p = any_page();
    fill_byte(p, 0x24);
    let pfn = page_to_pfn(p);
    let addr = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (a, s) = (addr.clone(), stop.clone());
    let holder = spawn_on(cpu, "kmap-holder", move || {
        let v = kmap_local_pfn(pfn);
        a.store(v, Ordering::SeqCst);
        let deadline = crate::sched::core::jiffies() + 10 * crate::sched::core::HZ;
        while !s.load(Ordering::SeqCst) && crate::sched::core::jiffies() < deadline {
            msleep(5); // switched out holding the mapping
        }
        kunmap_local(v);
    });
    let (a, seen) = (addr.clone(), Arc::new(AtomicUsize::new(usize::MAX)));
    let sn = seen.clone();
    let intruder = spawn_on(cpu, "kmap-intruder", move || {
        while a.load(Ordering::SeqCst) == 0 {
            yield_now();
        }
        sn.store(read_byte(a.load(Ordering::SeqCst)) as usize, Ordering::SeqCst); // the boot ends here
    });
    intruder.join();
    stop.store(true, Ordering::SeqCst);
    holder.join();
    panic!("kmap-intruder read {:#x} through kmap-holder's kmap_local address without a fault", seen.load(Ordering::SeqCst));
}

/// A kmap() address after kunmap: the PTE stays (lazy) until the next
/// flush; `kmap_flush_unused()` clears it and flushes every CPU's TLB, so
/// the old address faults, and the report says it is a PKMAP slot whose
/// PTE is clear. Needs highmem (kmap of lowmem is the direct map).
fn kmap_address_used_after_kunmap_and_flush_ends_the_boot() {
    require_highmem();
    let h = highmem_page();
    fill_byte(h, 0x17);
    let v = kmap(h);
    assert_eq!(read_byte(v), 0x17);
    kunmap(h);
    assert_eq!(read_byte(v + 1), 0x17, "lazy: still mapped until the flush");
    kmap_flush_unused();
    assert_eq!(page_address(h), None, "the flush forgot the page's address");
    read_byte(v + 2); // the boot ends here
}
