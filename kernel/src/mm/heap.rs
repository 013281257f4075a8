//! The kernel heap: what `Box`, `Vec` and friends allocate from.
//!
//! `mm::kmalloc` carves small objects out of whole pages; the pages come
//! from the buddy allocator with GFP_KERNEL, so the heap is always lowmem
//! and every object has a permanent address. Interrupts are disabled while
//! the heap's locks are held, so an interrupt handler may allocate too.

use core::alloc::{GlobalAlloc, Layout};

use mm::gfp::{__GFP_NOFAIL, GFP_KERNEL};
use mm::kmalloc::{Kmalloc, PageSource};

use super::page_alloc;
use crate::arch::cpu::{local_irq_restore, local_irq_save};

/// Pages for the heap: lowmem, from the buddy allocator.
///
/// Asked with `__GFP_NOFAIL`, which only fault injection reads: the heap
/// serves Rust's infallible `Box`/`Vec`, whose failure stops the kernel
/// (`handle_alloc_error`), so `fail_page_alloc` must not pick these pages
/// (it would find that one place again and again instead of the sites that
/// can fail). `failslab` is the attribute that fails heap allocations.
pub struct KernelPages;

impl PageSource for KernelPages {
    fn alloc_pages(&self, order: usize) -> Option<usize> {
        page_alloc::__get_free_pages(GFP_KERNEL | __GFP_NOFAIL, order)
    }
    fn free_pages(&self, addr: usize, order: usize) {
        page_alloc::free_pages(addr, order);
    }
    fn mark_slab(&self, addr: usize) {
        page_alloc::virt_to_page(addr).set_flag(mm::page::PageFlags::PG_slab);
    }
}

/// The heap's state.
pub static KMALLOC: Kmalloc<KernelPages> = Kmalloc::new(KernelPages);

struct KernelHeap;

// SAFETY: Kmalloc returns blocks of at least `layout.size()` bytes aligned
// to `layout.align()`, never hands out one block twice, and takes back only
// what it gave.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Linux `slab_pre_alloc_hook` -> `should_failslab`. Every heap
        // allocation is taken as GFP_KERNEL (GlobalAlloc has no flags).
        if super::fault_inject::should_failslab(GFP_KERNEL, layout.size()) {
            return core::ptr::null_mut();
        }
        let flags = local_irq_save();
        let p = KMALLOC.alloc(layout);
        local_irq_restore(flags);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let flags = local_irq_save();
        // SAFETY: the caller passes a pointer from `alloc` with its layout.
        unsafe { KMALLOC.dealloc(ptr, layout) };
        local_irq_restore(flags);
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap;
