//! Lazy TLB, `mm_cpumask` and the shootdown of user mappings
//! (`arch/x86/mm/tlb.rs`; Linux `arch/x86/mm/tlb.c`): a kernel thread runs
//! on the page directory its CPU had loaded and the CPU holds a reference
//! on it; a flush of user mappings reaches exactly the CPUs that may hold
//! them; a lazy CPU is skipped and catches up; the page directory of an
//! exited process lives until the last CPU borrowing it switches away.
//!
//! Every test here needs two CPUs: CPU 0 runs the test thread, CPU 1 the
//! tasks whose TLB is looked at.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::{Relaxed, SeqCst}};

use mm::layout::PAGE_SIZE;

use super::user::{DATA, address_space_with, cpus_with_loaded, switch_cpus_to_another_mm};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::arch::tlb::{cpu_tlbstate, is_lazy, loaded_mm};
use crate::mm::memory::{FaultFlags, handle_mm_fault};
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::pfn_to_page;
use crate::sched::completion::Completion;
use crate::sched::{spawn_on, yield_now};
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus};

pub const TESTS: &[Test] = &[
    test_case!(a_kernel_thread_after_a_user_task_runs_on_its_page_directory_and_holds_a_reference),
    test_case!(a_cow_fault_and_munmap_in_an_mm_never_loaded_on_cpu_1_send_it_no_ipi),
    test_case!(a_cpu_running_the_mm_gets_the_shootdown_and_reads_the_new_frame),
    test_case!(a_lazy_cpu_is_skipped_by_the_shootdown_and_catches_up_when_the_mm_comes_back),
    test_case!(the_last_exit_frees_the_pgd_only_when_the_borrowing_cpu_switches_away),
];

fn cr3() -> usize {
    crate::arch::cpu::read_cr3() & !0xfff
}

/// Write `bytes` at the start of the frame `pfn`.
fn write_frame(pfn: usize, bytes: &[u8]) {
    let v = crate::mm::kmap_local::kmap_local_pfn(pfn);
    // SAFETY: v maps the whole page; bytes is shorter.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), v as *mut u8, bytes.len()) };
    crate::mm::kmap_local::kunmap_local(v);
}

/// A write fault at DATA in `mm`, as the fault path takes it (with the
/// mmap lock), from whatever task calls it.
fn write_fault(mm: &MmStruct) {
    let map = mm.mmap_lock();
    let vma = *map.find_vma(DATA).expect("the data area");
    handle_mm_fault(mm, &vma, DATA, FaultFlags { write: true, user: true }).expect("the fault is resolved");
}

/// An address space whose DATA page holds "old!", shared with a forked
/// copy (returned too) and so read-only: the next write fault copies it
/// to a new frame (do_wp_page), changing the PTE's frame.
fn mm_with_shared_old_page() -> (Arc<MmStruct>, MmStruct) {
    let mm = address_space_with(&[0x90]);
    write_fault(&mm);
    write_frame(mm.lookup(DATA).pfn(), b"old!");
    let child = mm.dup_mmap().expect("fork's copy");
    (mm, child)
}

/// (a) On CPU 1, a user task then a kernel thread: the kernel thread runs
/// with the user task's page directory still in CR3 (no switch to
/// swapper_pg_dir), the CPU holds a reference on it (mm_count 2: the
/// users' one and the CPU's), and the switch back to the user task writes
/// no CR3 (counted as a CR3 load avoided).
fn a_kernel_thread_after_a_user_task_runs_on_its_page_directory_and_holds_a_reference() {
    require_cpus(2);
    let h = spawn_on(1, "user-a", || {
        let me = crate::sched::current();
        me.set_mm(Arc::new(MmStruct::new().expect("a page directory")));
        let mm = me.mm().unwrap();
        assert_eq!(cr3(), mm.pgd());
        assert_eq!(mm.mm_count(), 2, "the users' reference and CPU 1's");
        let st = cpu_tlbstate(1);
        let (loads, avoided, lazy) = (st.cr3_loads.load(Relaxed), st.cr3_loads_avoided.load(Relaxed), st.lazy_switches.load(Relaxed));
        let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)]);
        let done = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(mm.core());
        let k = {
            let (seen, done) = (seen.clone(), done.clone());
            spawn_on(1, "kthread-a", move || {
                assert!(crate::sched::current().mm().is_none(), "a kernel thread");
                seen[0].store(cr3(), SeqCst);
                seen[1].store(loaded_mm(1) as usize, SeqCst);
                seen[2].store(weak.strong_count(), SeqCst);
                seen[3].store(is_lazy(1) as usize, SeqCst);
                done.store(true, SeqCst);
            })
        };
        while !done.load(SeqCst) {
            yield_now();
        }
        k.join();
        assert_eq!(seen[0].load(SeqCst), mm.pgd(), "the kernel thread ran on the user task's page directory");
        assert_eq!(seen[1].load(SeqCst), Arc::as_ptr(mm.core()) as usize, "CPU 1's loaded mm was the user task's");
        assert_eq!(seen[2].load(SeqCst), 2, "while the kernel thread ran, CPU 1 held a reference on it");
        assert_eq!(seen[3].load(SeqCst), 1, "CPU 1 was in lazy TLB mode");
        assert!(st.lazy_switches.load(Relaxed) > lazy);
        assert_eq!(cr3(), mm.pgd());
        assert!(!is_lazy(1), "back on its own mm, not lazy");
        assert_eq!(st.cr3_loads.load(Relaxed), loads, "no CR3 load on CPU 1 since");
        assert!(st.cr3_loads_avoided.load(Relaxed) > avoided, "the switch back was counted as a CR3 load avoided");
    });
    h.join();
}

/// (b) A process that ran only on CPU 0 (its mm_cpumask is {0}) takes a
/// copy-on-write fault and unmaps a page: both flush this CPU's TLB and
/// interrupt no other: CPU 1, busy meanwhile with another address space
/// (so not lazy: a flush to every CPU would reach it), receives no flush
/// IPI, and none is sent at all.
fn a_cow_fault_and_munmap_in_an_mm_never_loaded_on_cpu_1_send_it_no_ipi() {
    use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
    require_cpus(2);
    crate::sched::core::set_current_affinity(1 << 0);
    let (running, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let busy = {
        let (running, done) = (running.clone(), done.clone());
        spawn_on(1, "other-process", move || {
            crate::sched::current().set_mm(Arc::new(MmStruct::new().expect("a page directory")));
            running.store(true, SeqCst);
            while !done.load(SeqCst) {
                core::hint::spin_loop();
            }
        })
    };
    while !running.load(SeqCst) {
        yield_now();
    }
    assert!(!is_lazy(1), "CPU 1 runs a user address space");
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mm = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA, b"x"), 0);
    let child = mm.dup_mmap().unwrap();
    assert_eq!(mm.mm_cpumask(), 1 << 0, "loaded on CPU 0 only");
    let (local, rx1, ipis) = (
        cpu_tlbstate(0).local_flushes.load(Relaxed),
        cpu_tlbstate(1).flush_ipis_received.load(Relaxed),
        crate::arch::tlb::USER_FLUSH_IPIS.load(Relaxed),
    );
    let cows = crate::mm::memory::COW_COPIES.load(SeqCst);
    assert_eq!(copy_to_user(DATA, b"y"), 0, "a write to the shared page");
    assert_eq!(crate::mm::memory::COW_COPIES.load(SeqCst), cows + 1, "copied on write");
    let mut regs = crate::arch::entry::PtRegs { bx: DATA as u32, cx: PAGE_SIZE as u32, orig_ax: nr::MUNMAP as u32, ..Default::default() };
    assert_eq!(ia32_sys_call_table(nr::MUNMAP).unwrap()(&mut regs), 0, "munmap");
    assert!(mm.lookup(DATA).is_none());
    assert_eq!(cpu_tlbstate(0).local_flushes.load(Relaxed), local + 2, "two local flushes on CPU 0");
    assert_eq!(cpu_tlbstate(1).flush_ipis_received.load(Relaxed), rx1, "CPU 1 was not interrupted");
    assert_eq!(crate::arch::tlb::USER_FLUSH_IPIS.load(Relaxed), ipis, "no flush IPI was sent at all");
    done.store(true, SeqCst);
    busy.join();
    drop(child);
}

/// (c) A task on CPU 1 runs on the mm and has read DATA (its TLB maps the
/// old frame). CPU 0 changes the PTE to a new frame (a COW fault taken
/// from CPU 0) and writes "new!" there. The flush IPI reaches CPU 1, and
/// its next read through DATA sees "new!", not the old frame's "old!"
/// (which a stale TLB entry would give: the old frame still holds it).
fn a_cpu_running_the_mm_gets_the_shootdown_and_reads_the_new_frame() {
    require_cpus(2);
    crate::sched::core::set_current_affinity(1 << 0);
    let (mm, child) = mm_with_shared_old_page();
    let (ready, go) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let reader = {
        let (mm, ready, go, seen) = (mm.clone(), ready.clone(), go.clone(), seen.clone());
        spawn_on(1, "reader", move || {
            crate::sched::current().set_mm(mm);
            let mut b = [0u8; 4];
            assert_eq!(copy_from_user(&mut b, DATA), 0);
            seen[0].store(u32::from_le_bytes(b) as usize, SeqCst);
            ready.store(true, SeqCst);
            // Running on the mm, not lazy: interrupts on, so the IPI is taken.
            while !go.load(SeqCst) {
                core::hint::spin_loop();
            }
            assert_eq!(copy_from_user(&mut b, DATA), 0);
            seen[1].store(u32::from_le_bytes(b) as usize, SeqCst);
        })
    };
    while !ready.load(SeqCst) {
        yield_now();
    }
    assert_eq!(seen[0].load(SeqCst), u32::from_le_bytes(*b"old!") as usize);
    assert_eq!(mm.mm_cpumask(), 1 << 1, "loaded on CPU 1 only");
    assert!(!is_lazy(1));
    let rx1 = cpu_tlbstate(1).flush_ipis_received.load(Relaxed);
    let old = mm.lookup(DATA).pfn();
    write_fault(&mm);
    let new = mm.lookup(DATA).pfn();
    assert_ne!(new, old, "the PTE now maps a new frame");
    write_frame(new, b"new!");
    go.store(true, SeqCst);
    reader.join();
    assert_eq!(seen[1].load(SeqCst), u32::from_le_bytes(*b"new!") as usize, "CPU 1 read the new frame: its stale entry was flushed");
    assert!(cpu_tlbstate(1).flush_ipis_received.load(Relaxed) > rx1, "CPU 1 got the flush IPI");
    drop(child);
}

/// (c, lazily) The same, but the task on CPU 1 sleeps while CPU 0 changes
/// the PTE: CPU 1 runs its idle task lazily on the mm, so the flush skips
/// it (no IPI: Linux 6.1's `tlb_is_not_lazy`). When the task wakes there,
/// the switch back finds CPU 1 behind the mm's flush generation and
/// flushes all its user entries: the task reads "new!".
fn a_lazy_cpu_is_skipped_by_the_shootdown_and_catches_up_when_the_mm_comes_back() {
    require_cpus(2);
    crate::sched::core::set_current_affinity(1 << 0);
    let (mm, child) = mm_with_shared_old_page();
    let ready = Arc::new(AtomicBool::new(false));
    let go = Arc::new(Completion::new());
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let reader = {
        let (mm, ready, go, seen) = (mm.clone(), ready.clone(), go.clone(), seen.clone());
        spawn_on(1, "reader", move || {
            crate::sched::current().set_mm(mm);
            let mut b = [0u8; 4];
            assert_eq!(copy_from_user(&mut b, DATA), 0);
            seen[0].store(u32::from_le_bytes(b) as usize, SeqCst);
            ready.store(true, SeqCst);
            go.wait_for_completion();
            assert_eq!(copy_from_user(&mut b, DATA), 0);
            seen[1].store(u32::from_le_bytes(b) as usize, SeqCst);
        })
    };
    // Wait until the reader sleeps and CPU 1 runs idle, lazily on the mm.
    while !(ready.load(SeqCst) && is_lazy(1) && core::ptr::eq(loaded_mm(1), Arc::as_ptr(mm.core()))) {
        yield_now();
    }
    let st = cpu_tlbstate(1);
    let (rx1, catchups) = (st.flush_ipis_received.load(Relaxed), st.lazy_catchup_flushes.load(Relaxed));
    let skipped = crate::arch::tlb::LAZY_CPUS_SKIPPED.load(Relaxed);
    write_fault(&mm);
    write_frame(mm.lookup(DATA).pfn(), b"new!");
    assert_eq!(st.flush_ipis_received.load(Relaxed), rx1, "the lazy CPU was not interrupted");
    assert!(crate::arch::tlb::LAZY_CPUS_SKIPPED.load(Relaxed) > skipped, "it was skipped as lazy");
    go.complete();
    reader.join();
    assert_eq!(seen[1].load(SeqCst), u32::from_le_bytes(*b"new!") as usize, "back on CPU 1, the task read the new frame");
    assert_eq!(st.lazy_catchup_flushes.load(Relaxed), catchups + 1, "the switch back flushed CPU 1's TLB");
    drop(child);
}

/// (d) A process runs on CPU 1, then moves to CPU 0 and exits there,
/// while CPU 1 (running idle) still has its page directory loaded. The
/// exit frees its pages and page tables at once (the flush reaches lazy
/// CPU 1 too, since tables are freed), but the page directory stays
/// allocated while CPU 1 (and CPU 0, where the exit left it loaded) have
/// it in CR3, and is freed when the last of them switches to another mm.
fn the_last_exit_frees_the_pgd_only_when_the_borrowing_cpu_switches_away() {
    require_cpus(2);
    crate::sched::core::set_current_affinity(1 << 0);
    let mm = address_space_with(&[0x90]);
    let pgd = pfn_to_page(mm.pgd() >> 12);
    let core = Arc::as_ptr(mm.core());
    let lazy_flushes = cpu_tlbstate(1).lazy_flushes.load(Relaxed);
    let held = Arc::new(crate::locking::SpinLock::new(Vec::new()));
    let h = {
        let held = held.clone();
        spawn_on(1, "exiter", move || {
            let me = crate::sched::current();
            me.set_mm(mm); // the only user from now on
            assert_eq!(copy_to_user(DATA, b"data"), 0);
            let (pages, tables) = me.mm().unwrap().resident();
            held.lock().extend(pages.iter().chain(&tables).map(|p| crate::mm::page_alloc::page_to_pfn(p)));
            crate::sched::core::set_current_affinity(1 << 0); // moves to CPU 0
            assert_eq!(crate::arch::percpu::raw_smp_processor_id(), 0);
            // exits on CPU 0: exit_mm drops the last user
        })
    };
    h.join();
    let held = held.lock().clone();
    assert!(held.len() >= 2, "a data page and a page table");
    for &pfn in &held {
        assert_eq!(pfn_to_page(pfn).page_count(), 0, "pfn {pfn:#x} was freed at the exit");
    }
    assert!(cpu_tlbstate(1).lazy_flushes.load(Relaxed) > lazy_flushes, "freeing the page tables flushed lazy CPU 1");
    assert_eq!(cpus_with_loaded(core) & (1 << 1), 1 << 1, "CPU 1 still has the page directory loaded");
    assert_eq!(pgd.page_count(), 1, "so the page directory is not freed");
    switch_cpus_to_another_mm(cpus_with_loaded(core) & !(1 << 1));
    assert_eq!(cpus_with_loaded(core), 1 << 1, "only CPU 1 borrows it now");
    assert_eq!(pgd.page_count(), 1, "still not freed");
    switch_cpus_to_another_mm(1 << 1);
    assert_eq!(cpus_with_loaded(core), 0);
    assert_eq!(pgd.page_count(), 0, "freed when CPU 1 switched to another mm");
}
