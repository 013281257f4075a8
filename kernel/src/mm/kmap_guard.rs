//! The safe Rust face of kmap, for new code: the kernel's side of
//! `mm::kmap_guard` (where the compile-time guarantees are explained and
//! tested), plus a guard for `kmap()`.
//!
//! ```ignore
//! let sum = with_kmap_local(page_a, |a| with_kmap_local(page_b, |b| {
//!     a.as_bytes()[0] as u32 + b.as_bytes()[0] as u32  // both mapped here
//! }));                                                 // unmapped, b first
//! ```

use mm::kmap_guard::{LocalMap, LocalMapper, with_local};
use mm::page::Page;

use super::kmap::{kmap, kunmap};
use super::kmap_local::{kmap_local_page, kunmap_local};
use super::page_alloc::{page_to_pfn, pfn_to_page};

/// kmap_local through the guard interface.
struct KernelMapper;

// SAFETY: kmap_local_page returns a mapping valid in this task until the
// matching kunmap_local, and with_local nests them as a stack.
unsafe impl LocalMapper for KernelMapper {
    fn map_local(&self, pfn: usize) -> usize {
        kmap_local_page(pfn_to_page(pfn))
    }
    unsafe fn unmap_local(&self, vaddr: usize) {
        kunmap_local(vaddr);
    }
}

/// Map `page` for the duration of `f` (kmap_local underneath).
pub fn with_kmap_local<R>(page: &Page, f: impl for<'a> FnOnce(&mut LocalMap<'a>) -> R) -> R {
    with_local(&KernelMapper, page_to_pfn(page), f)
}

/// A `kmap()` mapping that is `kunmap()`ed when dropped. Unlike a
/// kmap_local mapping it may be sent to another task: that is what kmap()
/// is for.
pub struct Kmapped<'p> {
    page: &'p Page,
    vaddr: usize,
}

impl<'p> Kmapped<'p> {
    /// `kmap(page)`; may sleep.
    #[track_caller]
    pub fn new(page: &'p Page) -> Self {
        Kmapped { page, vaddr: kmap(page) }
    }

    /// The address.
    pub fn addr(&self) -> usize {
        self.vaddr
    }

    /// The page's bytes.
    pub fn as_bytes(&self) -> &[u8; mm::layout::PAGE_SIZE] {
        // SAFETY: kmap keeps the page mapped, on every CPU, until drop.
        unsafe { &*(self.vaddr as *const [u8; mm::layout::PAGE_SIZE]) }
    }

    /// The page's bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8; mm::layout::PAGE_SIZE] {
        // SAFETY: as above; &mut self is the only access through this guard.
        unsafe { &mut *(self.vaddr as *mut [u8; mm::layout::PAGE_SIZE]) }
    }
}

impl Drop for Kmapped<'_> {
    fn drop(&mut self) {
        kunmap(self.page);
    }
}
