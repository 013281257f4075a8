//! The kernel heap: what `Box`, `Vec` and friends allocate from.
//!
//! `mm::kmalloc` carves small objects out of whole pages; the pages come
//! from the buddy allocator with GFP_KERNEL, so the heap is always lowmem
//! and every object has a permanent address. Interrupts are disabled while
//! the heap's locks are held, so an interrupt handler may allocate too.
//!
//! ## Two kinds of allocation: infallible and fallible
//!
//! Rust's ordinary allocations (`Box::new`, `Vec::push`, `Arc::new`,
//! `format!`) cannot report a failure: a null from the allocator stops
//! the kernel (`handle_alloc_error`). They are this kernel's
//! `__GFP_NOFAIL` allocations (Linux `kmalloc(size, GFP_KERNEL |
//! __GFP_NOFAIL)`), and Linux's `should_failslab` never fails those
//! (6.1 `mm/failslab.c`: `if (gfpflags & __GFP_NOFAIL) return false;`).
//! So the `GlobalAlloc` below asks `should_failslab` with `__GFP_NOFAIL`:
//! `failslab` never picks them, whatever its knobs.
//!
//! A site that can back out (a system call that can return `-ENOMEM`)
//! allocates through the fallible functions here instead: [`try_box`],
//! [`try_arc`], [`try_vec_with_capacity`], [`try_reserve`],
//! [`try_push`], [`try_to_vec`], or [`slab_pre_alloc_hook`] before an
//! allocation it cannot make fallible itself (a `BTreeMap` insert). They
//! are Linux's plain `kmalloc(size, GFP_KERNEL)`, whose caller checks for
//! NULL: each first asks `should_failslab(GFP_KERNEL, size)` (Linux
//! `slab_pre_alloc_hook`), and a forced failure is an [`AllocError`],
//! which the caller turns into `-ENOMEM`. Each is `#[track_caller]`, so
//! a forced failure names the site (`fault show`, verbose 2).
//!
//! A real shortage: the heap's pages are `__GFP_NOFAIL` (the allocator
//! reclaims and OOM-kills rather than fail them), which is Linux's
//! behaviour for small `GFP_KERNEL` requests too ("too small to fail":
//! `__alloc_pages_slowpath` loops for orders up to
//! `PAGE_ALLOC_COSTLY_ORDER`). So, as in Linux, the fallible sites fail
//! in practice only under fault injection, which is why `failslab`
//! exists: to walk those error paths on purpose.
//!
//! ```text
//!  Box::new(x)          -> GlobalAlloc: should_failslab(GFP_KERNEL | __GFP_NOFAIL) = never
//!  heap::try_box(x)?    -> should_failslab(GFP_KERNEL, size)  -> Err(AllocError) -> -ENOMEM
//!                          else the same GlobalAlloc (a null there is Err too)
//! ```

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
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
/// can fail). `failslab` is the attribute that fails (fallible) heap
/// allocations.
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
        // Linux `slab_pre_alloc_hook` -> `should_failslab`. What comes
        // here directly is Rust's infallible `Box`/`Vec`/`Arc`: Linux's
        // `__GFP_NOFAIL`, never failed (the module's doc). The fallible
        // functions below asked `should_failslab(GFP_KERNEL)` already.
        if super::fault_inject::should_failslab(GFP_KERNEL | __GFP_NOFAIL, layout.size()) {
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

/// A fallible allocation failed (Linux: `kmalloc` returned NULL). The
/// caller backs out and returns `-ENOMEM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

impl AllocError {
    /// Linux's answer to a NULL from `kmalloc`: `-ENOMEM`'s number.
    pub const fn errno(self) -> i32 {
        crate::errno::ENOMEM
    }
}

/// Linux `slab_pre_alloc_hook` -> `should_failslab(s, GFP_KERNEL)` for a
/// `size`-byte object: the point where a fallible allocation may be
/// failed on purpose. Every fallible function here starts with it; a site
/// whose allocation happens inside a collection with no fallible API
/// (a `BTreeMap` insert, a clone) calls it first, once per object Linux
/// would `kmalloc`, and then allocates as usual.
#[track_caller]
pub fn slab_pre_alloc_hook(size: usize) -> Result<(), AllocError> {
    if super::fault_inject::should_failslab(GFP_KERNEL, size) {
        return Err(AllocError);
    }
    Ok(())
}

/// `Box::new(x)` that may fail (Linux `kmalloc(sizeof(*p), GFP_KERNEL)`).
#[track_caller]
pub fn try_box<T>(x: T) -> Result<Box<T>, AllocError> {
    let layout = Layout::new::<T>();
    slab_pre_alloc_hook(layout.size())?;
    if layout.size() == 0 {
        return Ok(Box::new(x));
    }
    // SAFETY: a layout of non-zero size.
    let p = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if p.is_null() {
        return Err(AllocError);
    }
    // SAFETY: `p` is a fresh allocation with `T`'s layout, from the global
    // allocator, as `Box::from_raw` needs; it is written before use.
    unsafe {
        p.write(x);
        Ok(Box::from_raw(p))
    }
}

/// `Arc::new(x)` that may fail. (`Arc::try_new` needs the unstable
/// `allocator_api`; the injected failure is the one this can report, and
/// a real shortage does not fail `GFP_KERNEL` objects: the module's doc.)
#[track_caller]
pub fn try_arc<T>(x: T) -> Result<Arc<T>, AllocError> {
    // The object and Arc's two counts.
    slab_pre_alloc_hook(core::mem::size_of::<T>() + 2 * core::mem::size_of::<usize>())?;
    Ok(Arc::new(x))
}

/// Room for `additional` more elements in `v` (`Vec::try_reserve`, after
/// the hook if it must allocate at all: an allocation that does not
/// happen cannot fail).
#[track_caller]
pub fn try_reserve<T>(v: &mut Vec<T>, additional: usize) -> Result<(), AllocError> {
    if v.capacity() - v.len() >= additional {
        return Ok(());
    }
    let bytes = (v.len() + additional).saturating_mul(core::mem::size_of::<T>());
    slab_pre_alloc_hook(bytes)?;
    v.try_reserve(additional).map_err(|_| AllocError)
}

/// `Vec::with_capacity(n)` that may fail.
#[track_caller]
pub fn try_vec_with_capacity<T>(n: usize) -> Result<Vec<T>, AllocError> {
    let mut v = Vec::new();
    try_reserve(&mut v, n)?;
    Ok(v)
}

/// `v.push(x)` that may fail (when `v` must grow).
#[track_caller]
pub fn try_push<T>(v: &mut Vec<T>, x: T) -> Result<(), AllocError> {
    try_reserve(v, 1)?;
    v.push(x);
    Ok(())
}

/// `s.to_vec()` that may fail (Linux `kmemdup`).
#[track_caller]
pub fn try_to_vec<T: Clone>(s: &[T]) -> Result<Vec<T>, AllocError> {
    let mut v = try_vec_with_capacity(s.len())?;
    v.extend_from_slice(s);
    Ok(v)
}
