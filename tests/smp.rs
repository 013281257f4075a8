//! Cross-CPU machinery: function-call IPIs, the TLB shootdown, and the
//! nofault copy with its exception-table fixup.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use mm::gfp::GFP_KERNEL;
use mm::layout::{PAGE_SIZE, VMALLOC_END};

use crate::arch::extable::{FIXUPS, copy_from_kernel_nofault};
use crate::arch::paging::{PAGE_KERNEL, pte_t};
use crate::arch::percpu::raw_smp_processor_id;
use crate::tools::ktest::{Test, require_cpus};
use crate::mm::vmalloc::{vmap, vunmap};
use crate::mm::{page_alloc, pgtable};
use crate::sched::{spawn_on, yield_now};
use crate::smp::{cpu_online_mask, flush_tlb_kernel_range, flush_tlb_kernel_range_local, on_each_cpu};
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(on_each_cpu_runs_everywhere_and_waits),
    test_case!(tlb_shootdown_reaches_other_cpus),
    test_case!(nofault_copy_returns_an_error_instead_of_oopsing),
];

static RAN_ON: AtomicU32 = AtomicU32::new(0);

fn note_cpu(_: usize) {
    RAN_ON.fetch_or(1 << raw_smp_processor_id(), Ordering::SeqCst);
}

fn on_each_cpu_runs_everywhere_and_waits() {
    for _ in 0..100 {
        RAN_ON.store(0, Ordering::SeqCst);
        on_each_cpu(note_cpu, 0);
        // on_each_cpu waits, so every CPU has run it by now.
        assert_eq!(RAN_ON.load(Ordering::SeqCst), cpu_online_mask());
    }
}

fn tlb_shootdown_reaches_other_cpus() {
    require_cpus(2);
    let old = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let new = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    // SAFETY: both pages are ours and in the direct map.
    unsafe {
        (page_alloc::page_address(old).unwrap() as *mut u32).write_volatile(0x01d0_01d0);
        (page_alloc::page_address(new).unwrap() as *mut u32).write_volatile(0x0e30_0e30);
    }
    // probe: a vmalloc address of our own, mapped to `old` for now.
    let probe = vmap(&[old], PAGE_KERNEL).expect("vmalloc space");

    // CPU 1 reads probe over and over, so its TLB holds the translation,
    // and reports what it sees when asked.
    let ask = Arc::new(AtomicU32::new(0)); // 0: keep reading; 1, 2: report; 3: stop
    let seen = Arc::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]);
    let warmed = Arc::new(AtomicBool::new(false));
    let (a, s, w) = (ask.clone(), seen.clone(), warmed.clone());
    let reader = spawn_on(1, "tlb-reader", move || loop {
        // SAFETY: probe is mapped (to one page or the other) throughout.
        let v = unsafe { (probe as *const u32).read_volatile() };
        w.store(true, Ordering::SeqCst);
        match a.load(Ordering::SeqCst) {
            3 => break,
            q @ (1 | 2) if s[q as usize].load(Ordering::SeqCst) == 0 => s[q as usize].store(v, Ordering::SeqCst),
            _ => {}
        }
    });
    while !warmed.load(Ordering::SeqCst) {
        yield_now();
    }
    // Remap probe to the new page, flushing only our own TLB: CPU 1 keeps
    // the old translation and still reads the old page.
    pgtable::set_pte_kernel(probe, pte_t::new(page_alloc::page_to_pfn(new), PAGE_KERNEL));
    flush_tlb_kernel_range_local(probe, probe + PAGE_SIZE);
    // SAFETY: probe is mapped.
    assert_eq!(unsafe { (probe as *const u32).read_volatile() }, 0x0e30_0e30, "this CPU sees the new page");
    ask.store(1, Ordering::SeqCst);
    while seen[1].load(Ordering::SeqCst) == 0 {
        yield_now();
    }
    // Now the real shootdown: every CPU flushes, and we wait for them.
    flush_tlb_kernel_range(probe, probe + PAGE_SIZE);
    ask.store(2, Ordering::SeqCst);
    while seen[2].load(Ordering::SeqCst) == 0 {
        yield_now();
    }
    ask.store(3, Ordering::SeqCst);
    reader.join();
    vunmap(probe);
    page_alloc::__free_pages(old, 0);
    page_alloc::__free_pages(new, 0);
    assert_eq!(seen[1].load(Ordering::SeqCst), 0x01d0_01d0,
        "without the IPI, CPU 1 should still read the old page through its stale TLB entry");
    assert_eq!(seen[2].load(Ordering::SeqCst), 0x0e30_0e30, "after flush_tlb_kernel_range CPU 1 reads the new page");
}

fn nofault_copy_returns_an_error_instead_of_oopsing() {
    let fixups = FIXUPS.load(Ordering::Relaxed);
    let mut buf = [0u8; 64];
    // A mapped lowmem source copies fine.
    let page = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let addr = page_alloc::page_address(page).unwrap();
    // SAFETY: our page, in the direct map.
    unsafe { core::ptr::write_bytes(addr as *mut u8, 0x5a, PAGE_SIZE) };
    assert_eq!(copy_from_kernel_nofault(&mut buf, addr), Ok(()));
    assert!(buf.iter().all(|&b| b == 0x5a));
    // An unmapped source: an error, not an oops.
    let hole = VMALLOC_END + PAGE_SIZE; // the guard pages below PKMAP
    assert_eq!(copy_from_kernel_nofault(&mut buf, hole), Err(64));
    // A source that runs off the end of a mapping into the vmalloc guard
    // page after it: the first part is copied.
    let probe = vmap(&[page], PAGE_KERNEL).expect("vmalloc space");
    buf.fill(0);
    assert_eq!(copy_from_kernel_nofault(&mut buf, probe + PAGE_SIZE - 16), Err(48));
    assert!(buf[..16].iter().all(|&b| b == 0x5a) && buf[16..].iter().all(|&b| b == 0));
    vunmap(probe);
    page_alloc::__free_pages(page, 0);
    assert_eq!(FIXUPS.load(Ordering::Relaxed), fixups + 2);
    assert!(!crate::sched::preempt::pagefault_disabled(), "pagefault_enable() ran");
}
