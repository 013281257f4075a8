//! Page poisoning (Linux `mm/page_poison.c`, the boot option
//! `page_poison=1`): a debugging aid that catches a write into a page
//! after it was freed.
//!
//! ```text
//!  __free_pages(page)    every page of the block filled with PAGE_POISON
//!                        (0xaa) and marked PG_poisoned
//!  ... the page sits on a free list: nobody may write to it ...
//!  alloc_pages() -> page every marked page checked: a byte that is not
//!                        0xaa is "pagealloc: memory corruption", reported
//!                        as a kernel bug (debug::report_bug) with where
//!                        and what; the mark is cleared
//! ```
//!
//! Who writes into a free page? Whoever kept a way to it: a pointer or a
//! mapping used after the free (a user PTE left behind by an error path,
//! a stale TLB entry, a kernel stack freed under its task), or a page
//! freed twice and handed to two owners. The write itself goes unnoticed;
//! the next allocation of that page notices. The fuzz and soak tools count
//! the report as a kernel bug, so a soak with `page_poison=1` turns such a
//! write into a failed run naming the page, instead of a crash elsewhere
//! later.
//!
//! Linux poisons every freed page, boot memory included; pages freed at
//! boot here go to the buddy allocator without passing `__free_pages`, so
//! PG_poisoned marks the pages that were poisoned and only those are
//! checked. The cost is a fill and a check of every page freed and
//! allocated (each highmem page through a kmap_local slot): off by
//! default, as in Linux.

use core::sync::atomic::{AtomicBool, Ordering};

use mm::layout::PAGE_SIZE;
use mm::page::{Page, PageFlags};

use super::page_alloc::{page_to_pfn, pfn_to_page};

/// Linux `PAGE_POISON` (include/linux/poison.h).
pub const PAGE_POISON: u8 = 0xaa;

/// The boot option.
static WANTED: AtomicBool = AtomicBool::new(false);
/// On once memory is set up (kmap_local works): [`init`].
static ACTIVE: AtomicBool = AtomicBool::new(false);

crate::early_param!("page_poison", Value, "0|1",
    "1: fill freed pages with 0xaa and check them when allocated (Linux page_poison; a debugging aid, slow)",
    |v| {
        WANTED.store(mm::fault_inject::parse_bool(v.unwrap_or(""))?, Ordering::Relaxed);
        Ok(())
    });

/// Turn poisoning on if the command line asked (`mem_init`, once the
/// kmap_local slots work).
pub fn init() {
    if WANTED.load(Ordering::Relaxed) {
        ACTIVE.store(true, Ordering::Relaxed);
        log::info!("page_poison: freed pages filled with {PAGE_POISON:#04x} and checked when allocated");
    }
}

/// Linux `page_poisoning_enabled`.
pub fn page_poisoning_enabled() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Linux `kernel_poison_pages`: fill the `n` pages from `page` with the
/// poison and mark them.
pub fn kernel_poison_pages(page: &Page, n: usize) {
    let first = page_to_pfn(page);
    for pfn in first..first + n {
        let p = pfn_to_page(pfn);
        let v = super::kmap_local::kmap_local_page(p);
        // SAFETY: v maps the whole page, which is being freed: ours.
        unsafe { core::ptr::write_bytes(v as *mut u8, PAGE_POISON, PAGE_SIZE) };
        super::kmap_local::kunmap_local(v);
        p.set_flag(PageFlags::PG_poisoned);
    }
}

/// Linux `kernel_unpoison_pages` -> `check_poison_mem`: each marked page
/// of the `n` from `page` must still hold nothing but the poison; a page
/// that does not is reported (its pfn, the first changed byte's offset,
/// how many changed, the bytes there). The marks are cleared.
pub fn kernel_unpoison_pages(page: &Page, n: usize) {
    let first = page_to_pfn(page);
    for pfn in first..first + n {
        let p = pfn_to_page(pfn);
        if !p.flags().contains(PageFlags::PG_poisoned) {
            continue;
        }
        p.clear_flag(PageFlags::PG_poisoned);
        let v = super::kmap_local::kmap_local_page(p);
        // SAFETY: v maps the whole page for the read.
        let bytes = unsafe { core::slice::from_raw_parts(v as *const u8, PAGE_SIZE) };
        if let Some(at) = bytes.iter().position(|&b| b != PAGE_POISON) {
            let changed = bytes.iter().filter(|&&b| b != PAGE_POISON).count();
            let from = at.min(PAGE_SIZE - 16);
            let mut head = [0u8; 16];
            head.copy_from_slice(&bytes[from..from + 16]);
            crate::debug::report_bug(format_args!(
                "pagealloc: memory corruption: pfn {pfn:#x} was written while free: {changed} byte(s) changed, the first at offset {at:#x}: {head:02x?}"
            ));
        }
        super::kmap_local::kunmap_local(v);
    }
}
