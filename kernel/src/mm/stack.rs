//! Kernel stacks and the guard pages below them.
//!
//! A stack grows down; a guard page is an unmapped page just below its
//! lowest usable byte. Overflowing into it faults at once, so the overflow
//! is caught where it happens instead of silently corrupting a neighbour.
//! The fault handlers ask [`guard_page_owner`] whose guard a faulting
//! address hit, to say "kernel stack overflow" instead of a bare page fault.

use core::fmt;

use mm::layout::PAGE_SIZE;

/// A stack whose guard page was hit.
#[derive(Clone, Copy, Debug)]
pub struct GuardHit {
    /// Which stack.
    pub name: &'static str,
    /// `[bottom, top)` of its usable part.
    pub bottom: usize,
    pub top: usize,
}

impl fmt::Display for GuardHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{:#010x}-{:#010x})", self.name, self.bottom, self.top)
    }
}

/// The stacks this kernel knows: the boot CPU's boot stack.
fn known_stacks() -> [(&'static str, usize, usize); 1] {
    let (bottom, top) = boot::entry::boot_stack_range();
    [("boot stack", bottom, top)]
}

/// If `addr` lies in the guard page of a known kernel stack, which one?
pub fn guard_page_owner(addr: usize) -> Option<GuardHit> {
    known_stacks().into_iter().find_map(|(name, bottom, top)| {
        (addr < bottom && addr >= bottom - PAGE_SIZE).then_some(GuardHit { name, bottom, top })
    })
}
