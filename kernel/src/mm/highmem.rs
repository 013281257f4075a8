//! Helpers built on kmap_local, and the highmem totals (Linux
//! `include/linux/highmem.h` and the rest of `mm/highmem.c`).
//!
//! Each helper maps what it needs for the duration of one operation, so it
//! works the same on lowmem and highmem pages and from any context. Bounds
//! are checked always (Linux checks them only with `CONFIG_DEBUG_VM`): an
//! out-of-bounds copy would corrupt the next page, so it stops the kernel
//! with a message naming the helper and the numbers.

use mm::layout::{PAGE_MASK, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE, is_kmap_local_addr, is_pkmap_addr};
use mm::page::Page;

use super::kmap_local::{config, kmap_local_page, kunmap_local};
use super::page_alloc::{self, node, pfn_to_page};

fn check(what: &str, off: usize, len: usize) {
    assert!(off <= PAGE_SIZE && len <= PAGE_SIZE - off,
        "BUG: {what}: offset {off} + length {len} runs past the page ({PAGE_SIZE} bytes)");
}

/// Copy `len` bytes from `src`+`src_off` to `dst`+`dst_off`. Maps `dst`
/// first, then `src`, and unmaps in reverse (Linux order). For overlapping
/// ranges within one page use [`memmove_page`]: here the page would be
/// mapped twice, at two addresses, and the copy's direction could not see
/// the overlap.
pub fn memcpy_page(dst: &Page, dst_off: usize, src: &Page, src_off: usize, len: usize) {
    check("memcpy_page (destination)", dst_off, len);
    check("memcpy_page (source)", src_off, len);
    let d = kmap_local_page(dst);
    let s = kmap_local_page(src);
    // SAFETY: both pages are mapped for PAGE_SIZE bytes and the ranges are
    // in bounds; distinct mappings, so copy_nonoverlapping holds unless
    // dst == src, which the caller must use memmove_page for.
    unsafe { core::ptr::copy((s + src_off) as *const u8, (d + dst_off) as *mut u8, len) };
    kunmap_local(s);
    kunmap_local(d);
}

/// Like [`memcpy_page`] but the ranges may overlap, also within one page:
/// then the page is mapped once, so `copy` sees the overlap and picks the
/// safe direction. Linux removed `memmove_page` in 2022 for lack of users;
/// we keep it.
pub fn memmove_page(dst: &Page, dst_off: usize, src: &Page, src_off: usize, len: usize) {
    if !core::ptr::eq(dst, src) {
        return memcpy_page(dst, dst_off, src, src_off, len);
    }
    check("memmove_page (destination)", dst_off, len);
    check("memmove_page (source)", src_off, len);
    let v = kmap_local_page(dst);
    // SAFETY: one mapping of the page; both ranges in bounds.
    unsafe { core::ptr::copy((v + src_off) as *const u8, (v + dst_off) as *mut u8, len) };
    kunmap_local(v);
}

/// Copy `from` into `page` at `off`.
pub fn memcpy_to_page(page: &Page, off: usize, from: &[u8]) {
    check("memcpy_to_page", off, from.len());
    let v = kmap_local_page(page);
    // SAFETY: mapped page, range checked above.
    unsafe { core::ptr::copy_nonoverlapping(from.as_ptr(), (v + off) as *mut u8, from.len()) };
    kunmap_local(v);
}

/// Copy from `page` at `off` into `to`.
pub fn memcpy_from_page(to: &mut [u8], page: &Page, off: usize) {
    check("memcpy_from_page", off, to.len());
    let v = kmap_local_page(page);
    // SAFETY: mapped page, range checked above.
    unsafe { core::ptr::copy_nonoverlapping((v + off) as *const u8, to.as_mut_ptr(), to.len()) };
    kunmap_local(v);
}

/// Fill `len` bytes of `page` at `off` with `val`.
pub fn memset_page(page: &Page, off: usize, val: u8, len: usize) {
    check("memset_page", off, len);
    let v = kmap_local_page(page);
    // SAFETY: mapped page, range checked above.
    unsafe { core::ptr::write_bytes((v + off) as *mut u8, val, len) };
    kunmap_local(v);
}

/// Zero `len` bytes of `page` at `off`.
pub fn memzero_page(page: &Page, off: usize, len: usize) {
    memset_page(page, off, 0, len);
}

/// Zero a whole page.
pub fn clear_highpage(page: &Page) {
    let v = kmap_local_page(page);
    // SAFETY: a mapped page.
    unsafe { crate::arch::cpu::clear_page(v as *mut u8) };
    kunmap_local(v);
}

/// Copy a whole page. Maps `from` first, then `to` (Linux order).
pub fn copy_highpage(to: &Page, from: &Page) {
    let s = kmap_local_page(from);
    let d = kmap_local_page(to);
    // SAFETY: two mapped pages of PAGE_SIZE bytes; distinct slots.
    unsafe { crate::arch::cpu::copy_page(d as *mut u8, s as *const u8) };
    kunmap_local(d);
    kunmap_local(s);
}

/// Zero `[start1, end1)` and `[start2, end2)` of the block that starts at
/// `page` (a compound block of `2^order` pages, as allocated), mapping only
/// the subpages the ranges touch, one at a time (Linux
/// `zero_user_segments`). An empty range (`start >= end`) is ignored.
pub fn zero_user_segments(page: &Page, order: usize, start1: usize, end1: usize, start2: usize, end2: usize) {
    let size = PAGE_SIZE << order;
    assert!(end1 <= size && end2 <= size,
        "BUG: zero_user_segments: range end {} past the {size}-byte block", end1.max(end2));
    let first = page_alloc::page_to_pfn(page);
    let ranges = [(start1, end1), (start2, end2)];
    for sub in 0..1usize << order {
        let (lo, hi) = (sub * PAGE_SIZE, (sub + 1) * PAGE_SIZE);
        let touched: [Option<(usize, usize)>; 2] = ranges.map(|(s, e)| {
            let (s, e) = (s.max(lo), e.min(hi));
            (s < e).then(|| (s - lo, e - lo))
        });
        if touched.iter().all(Option::is_none) {
            continue;
        }
        let v = kmap_local_page(pfn_to_page(first + sub));
        for (s, e) in touched.into_iter().flatten() {
            // SAFETY: a mapped page; s < e <= PAGE_SIZE.
            unsafe { core::ptr::write_bytes((v + s) as *mut u8, 0, e - s) };
        }
        kunmap_local(v);
    }
}

/// Is `addr` a kmap address: the PKMAP window or a kmap_local slot (Linux
/// `is_kmap_addr`; we include CPU 0's slot 0, which Linux's bound excludes).
pub fn is_kmap_addr(addr: usize) -> bool {
    is_pkmap_addr(addr) || is_kmap_local_addr(addr)
}

/// The page behind a kernel address: a PKMAP slot, one of the current
/// task's kmap_local slots, or the direct map (Linux `kmap_to_page`, which
/// warns once that using it on kmap addresses is deprecated; so do we).
pub fn kmap_to_page(addr: usize) -> &'static Page {
    static WARNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    let warn = || {
        if !WARNED.swap(true, core::sync::atomic::Ordering::Relaxed) {
            log::warn!("kmap_to_page({addr:#010x}) on a kmap address is deprecated (as in Linux)");
        }
    };
    if is_pkmap_addr(addr) {
        warn();
        let pfn = super::kmap::pkmap_page_at(addr).unwrap_or_else(|| panic!("kmap_to_page({addr:#010x}): PKMAP slot not mapped"));
        return pfn_to_page(pfn);
    }
    if is_kmap_local_addr(addr) {
        warn();
        let cfg = config();
        let c = crate::sched::current().kmap_ctrl_snapshot();
        let cpu = crate::arch::percpu::raw_smp_processor_id();
        let slot = (0..c.idx)
            .find(|&s| cfg.slot_vaddr(cpu, s) == addr & PAGE_MASK && c.pteval[s] != 0)
            .unwrap_or_else(|| panic!("kmap_to_page({addr:#010x}): not one of this task's kmap_local mappings"));
        return pfn_to_page(mm::kmap_local::pte_pfn(c.pteval[slot]));
    }
    assert!(addr >= PAGE_OFFSET, "kmap_to_page({addr:#010x}): a user address");
    page_alloc::virt_to_page(addr)
}

/// Free pages in ZONE_HIGHMEM.
pub fn nr_free_highpages() -> usize {
    node().nr_free_highpages()
}

/// Pages ZONE_HIGHMEM manages.
pub fn totalhigh_pages() -> usize {
    node().totalhigh_pages()
}

const _: () = assert!(PAGE_SHIFT == 12);
