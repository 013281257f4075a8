//! `kmap_atomic()`: kmap_local plus "no preemption, no page faults"
//! (Linux `include/linux/highmem-internal.h`).
//!
//! The oldest of the three. It disables preemption and page faults for
//! *every* page, lowmem included, and then maps like kmap_local (same slot
//! stack, shared with kmap_local, strictly LIFO with it). Code inside must
//! not sleep ("BUG: scheduling while atomic"), and a fault inside does not
//! get resolved: it goes straight to the exception-table fixup. New code
//! should use kmap_local_page() and disable preemption or page faults
//! explicitly only where it really depends on that.

use mm::page::Page;

use super::kmap_local::{__kmap_local_pfn_prot, kmap_local_page_prot, kunmap_local};
use crate::arch::paging::{PAGE_KERNEL, PteFlags};
use crate::sched::preempt::{pagefault_disable, pagefault_enable, preempt_disable, preempt_enable};

/// Map `page`; preemption and page faults stay disabled until
/// [`kunmap_atomic`].
#[track_caller]
pub fn kmap_atomic(page: &Page) -> usize {
    kmap_atomic_prot(page, PAGE_KERNEL)
}

/// [`kmap_atomic`] with protections (ignored for lowmem, as in Linux).
#[track_caller]
pub fn kmap_atomic_prot(page: &Page, prot: PteFlags) -> usize {
    preempt_disable();
    pagefault_disable();
    kmap_local_page_prot(page, prot)
}

/// Map frame `pfn` through a slot, lowmem or not.
#[track_caller]
pub fn kmap_atomic_pfn(pfn: usize) -> usize {
    preempt_disable();
    pagefault_disable();
    __kmap_local_pfn_prot(pfn, PAGE_KERNEL)
}

/// Unmap the most recent mapping and re-enable page faults and preemption.
#[track_caller]
pub fn kunmap_atomic(vaddr: usize) {
    kunmap_local(vaddr);
    pagefault_enable();
    preempt_enable();
}
