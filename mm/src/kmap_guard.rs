//! A safe Rust face for kmap_local: mappings whose misuse does not compile.
//!
//! The C interface trusts its callers on three points, and the kernel can
//! only catch violations at run time: unmap every mapping, in reverse order,
//! and never use an address in another task. Here the compiler checks them:
//!
//! * a mapping exists only inside the closure passed to [`with_local`]; it is
//!   unmapped when the closure returns, so it cannot be forgotten;
//! * nested mappings are nested closures, so the inner one always ends
//!   first: out-of-order unmapping cannot be written;
//! * [`LocalMap`] is neither `Send` nor `Sync`, and it cannot escape the
//!   closure, so it cannot reach another task.
//!
//! Correct use compiles (the same scaffolding as the failing examples):
//!
//! ```
//! # use mm::kmap_guard::*;
//! # struct M; unsafe impl LocalMapper for M {
//! #   fn map_local(&self, _: usize) -> usize { 0 } unsafe fn unmap_local(&self, _: usize) {} }
//! let addrs = with_local(&M, 1, |outer| with_local(&M, 2, |inner| (outer.addr(), inner.addr())));
//! fn not_send_but_usable(map: &mut LocalMap<'_>) -> usize { map.addr() }
//! # let _ = (addrs, not_send_but_usable as fn(&mut LocalMap<'_>) -> usize);
//! ```
//!
//! ```compile_fail
//! # use mm::kmap_guard::*;
//! # struct M; unsafe impl LocalMapper for M {
//! #   fn map_local(&self, _: usize) -> usize { 0 } unsafe fn unmap_local(&self, _: usize) {} }
//! // A mapping cannot outlive its closure...
//! let escaped = with_local(&M, 1, |map| map);
//! ```
//!
//! ```compile_fail
//! # use mm::kmap_guard::*;
//! // ...and cannot be handed to another thread or task.
//! fn needs_send<T: Send>(_: T) {}
//! fn try_it(map: &mut LocalMap<'_>) { needs_send(map) }
//! ```
//!
//! The kernel implements [`LocalMapper`] with `kmap_local_pfn` /
//! `kunmap_local` (see `kernel/src/mm/kmap_guard.rs`).

use core::marker::PhantomData;

use crate::layout::PAGE_SIZE;

/// What the guards need from the kernel.
///
/// # Safety
/// `map_local` must return the address of a mapping of frame `pfn` that
/// stays valid, for `PAGE_SIZE` bytes, in the calling task until the
/// matching `unmap_local`, and mappings must nest as a stack.
pub unsafe trait LocalMapper {
    /// Map frame `pfn` for this task; return its address.
    fn map_local(&self, pfn: usize) -> usize;
    /// Unmap the most recent mapping, at `vaddr`.
    ///
    /// # Safety
    /// `vaddr` must be the most recent live mapping of this task.
    unsafe fn unmap_local(&self, vaddr: usize);
}

/// One page mapped for the current task, valid inside a [`with_local`]
/// closure. Not `Send`, not `Sync`.
pub struct LocalMap<'a> {
    vaddr: usize,
    _scope: PhantomData<&'a mut ()>,
    _not_send: PhantomData<*mut ()>,
}

impl LocalMap<'_> {
    /// The page's address (only meaningful inside the closure).
    pub fn addr(&self) -> usize {
        self.vaddr
    }

    /// The page's bytes.
    pub fn as_bytes(&self) -> &[u8; PAGE_SIZE] {
        // SAFETY: LocalMapper guarantees PAGE_SIZE mapped bytes at vaddr for
        // as long as this LocalMap lives; the borrow of self bounds it.
        unsafe { &*(self.vaddr as *const [u8; PAGE_SIZE]) }
    }

    /// The page's bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE] {
        // SAFETY: as above, and &mut self makes this the only reference.
        unsafe { &mut *(self.vaddr as *mut [u8; PAGE_SIZE]) }
    }
}

/// Map frame `pfn`, run `f` with the mapping, unmap it. Nest calls to map
/// several pages; they unmap in reverse order by construction.
pub fn with_local<M: LocalMapper + ?Sized, R>(mapper: &M, pfn: usize, f: impl for<'a> FnOnce(&mut LocalMap<'a>) -> R) -> R {
    /// Unmaps on the way out, also if `f` panics (the kernel does not
    /// unwind, but host tests do).
    struct Unmap<'m, M: LocalMapper + ?Sized>(&'m M, usize);
    impl<M: LocalMapper + ?Sized> Drop for Unmap<'_, M> {
        fn drop(&mut self) {
            // SAFETY: mapped by with_local below; any mapping made inside
            // `f` was made by a nested with_local and is already unmapped.
            unsafe { self.0.unmap_local(self.1) };
        }
    }
    let vaddr = mapper.map_local(pfn);
    let _unmap = Unmap(mapper, vaddr);
    let mut map = LocalMap { vaddr, _scope: PhantomData, _not_send: PhantomData };
    f(&mut map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A model: "frames" are heap pages; the stack of live mappings is
    /// checked for LIFO order.
    struct Model {
        frames: RefCell<Vec<Box<[u8; PAGE_SIZE]>>>,
        stack: RefCell<Vec<usize>>,
    }

    // SAFETY: each "frame" is a boxed page that lives as long as the model
    // and never moves (the Vec holds boxes; it is never resized), so the
    // address map_local returns stays valid for PAGE_SIZE bytes until the
    // matching unmap_local; unmap_local asserts that mappings nest.
    unsafe impl LocalMapper for Model {
        fn map_local(&self, pfn: usize) -> usize {
            let addr = self.frames.borrow_mut()[pfn].as_mut_ptr() as usize;
            self.stack.borrow_mut().push(addr);
            addr
        }
        unsafe fn unmap_local(&self, vaddr: usize) {
            assert_eq!(self.stack.borrow_mut().pop(), Some(vaddr), "unmapped out of order");
        }
    }

    #[test]
    fn nested_mappings_unmap_in_reverse_order() {
        let m = Model { frames: RefCell::new((0..3).map(|_| Box::new([0u8; PAGE_SIZE])).collect()), stack: RefCell::new(Vec::new()) };
        let sum = with_local(&m, 0, |a| {
            a.as_bytes_mut()[0] = 1;
            with_local(&m, 1, |b| {
                b.as_bytes_mut()[0] = 2;
                with_local(&m, 2, |c| {
                    c.as_bytes_mut()[0] = 3;
                    assert_eq!(m.stack.borrow().len(), 3);
                });
                a.as_bytes()[0] + b.as_bytes()[0]
            })
        });
        assert_eq!(sum, 3);
        assert!(m.stack.borrow().is_empty(), "everything unmapped");
        assert_eq!(m.frames.borrow()[2][0], 3);
    }
}
