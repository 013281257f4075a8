//! What many test files need: pages of each kind, fills and reads that do
//! not go through the helpers under test, and the question "does this
//! machine have highmem?".
//!
//! A test that needs highmem asks for a [`highmem_page`]: on a machine
//! without any (`-m 512M`) that call *skips* the test with the reason, so
//! no test can pass by checking a lowmem page in place of the highmem page
//! its name promises. Call it before taking other resources: a skip ends
//! the test's thread at once.

use alloc::vec::Vec;

use mm::gfp::{GFP_HIGHUSER, GFP_KERNEL};
use mm::layout::PAGE_SIZE;
use mm::page::Page;

use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::{self, PageHighMem, alloc_pages, page_to_pfn};
use crate::sched::current;
use crate::tools::ktest::require_highmem;

/// Does this machine have RAM above lowmem (a HighMem zone)?
pub fn have_highmem() -> bool {
    let l = page_alloc::memory_layout();
    l.max_pfn > l.max_low_pfn
}

/// A fresh block of `2^order` highmem pages. Skips the test on a machine
/// without highmem.
pub fn highmem_block(order: usize) -> &'static Page {
    require_highmem();
    let page = alloc_pages(GFP_HIGHUSER, order).expect("free highmem");
    assert!(PageHighMem(page), "GFP_HIGHUSER gave lowmem pfn {:#x} on a machine with highmem", page_to_pfn(page));
    page
}

/// A fresh highmem page (skips the test without highmem).
pub fn highmem_page() -> &'static Page {
    highmem_block(0)
}

/// `n` distinct highmem pages (skips the test without highmem).
pub fn highmem_pages(n: usize) -> Vec<&'static Page> {
    require_highmem();
    (0..n).map(|_| highmem_page()).collect()
}

/// A fresh block of `2^order` lowmem pages.
pub fn lowmem_block(order: usize) -> &'static Page {
    let page = alloc_pages(GFP_KERNEL, order).expect("free lowmem");
    assert!(!PageHighMem(page), "GFP_KERNEL gave highmem pfn {:#x}", page_to_pfn(page));
    page
}

/// A fresh lowmem page.
pub fn lowmem_page() -> &'static Page {
    lowmem_block(0)
}

/// A highmem page if the machine has any, else a lowmem one: for tests of
/// behaviour that holds for both kinds.
pub fn any_page() -> &'static Page {
    if have_highmem() { highmem_page() } else { lowmem_page() }
}

/// Free a single page.
pub fn free_page(page: &Page) {
    page_alloc::__free_pages(page, 0);
}

/// Free single pages.
pub fn free_all(pages: Vec<&'static Page>) {
    for p in pages {
        free_page(p);
    }
}

/// Byte `i` of the fill pattern `seed`. Different seeds differ in every
/// byte, so a byte copied from the wrong page or offset shows.
pub fn pattern(seed: u8, i: usize) -> u8 {
    ((i as u8).wrapping_mul(31) ^ (i >> 8) as u8).wrapping_add(seed)
}

/// Write pattern `seed` over the whole page, through a kmap_local mapping
/// of our own (not through a helper under test).
pub fn fill_pattern(page: &Page, seed: u8) {
    let v = kmap_local_page(page);
    for i in 0..PAGE_SIZE {
        // SAFETY: v maps PAGE_SIZE bytes of our page until kunmap_local.
        unsafe { ((v + i) as *mut u8).write_volatile(pattern(seed, i)) };
    }
    kunmap_local(v);
}

/// Set every byte of the page to `val`, through a kmap_local mapping of our
/// own.
pub fn fill_byte(page: &Page, val: u8) {
    let v = kmap_local_page(page);
    // SAFETY: v maps PAGE_SIZE bytes of our page until kunmap_local.
    unsafe { core::ptr::write_bytes(v as *mut u8, val, PAGE_SIZE) };
    kunmap_local(v);
}

/// The page's 4096 bytes, read through a kmap_local mapping of our own.
pub fn contents(page: &Page) -> Vec<u8> {
    let v = kmap_local_page(page);
    // SAFETY: v maps PAGE_SIZE bytes of our page until kunmap_local.
    let bytes = unsafe { core::slice::from_raw_parts(v as *const u8, PAGE_SIZE) }.to_vec();
    kunmap_local(v);
    bytes
}

/// One byte at a mapped address.
pub fn read_byte(addr: usize) -> u8 {
    // SAFETY: callers pass addresses they have mapped (or, in the tests
    // that end the boot, addresses that must fault).
    unsafe { (addr as *const u8).read_volatile() }
}

/// How many kmap_local mappings the current task holds.
pub fn kmap_depth() -> usize {
    current().kmap_ctrl_snapshot().idx
}

/// Call system call `nr` with up to six arguments, as `int $0x80` would:
/// the registers Linux's i386 ABI puts them in, through the system-call
/// table. Returns what would come back in eax (a value or `-errno`).
pub fn sys(nr: i32, a: [usize; 6]) -> i32 {
    let mut regs = crate::arch::entry::PtRegs {
        bx: a[0] as u32,
        cx: a[1] as u32,
        dx: a[2] as u32,
        si: a[3] as u32,
        di: a[4] as u32,
        bp: a[5] as u32,
        orig_ax: nr as u32,
        ..Default::default()
    };
    crate::arch::entry::syscall_32::ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

/// [`sys`] with three arguments.
pub fn sys3(nr: i32, a: usize, b: usize, c: usize) -> i32 {
    sys(nr, [a, b, c, 0, 0, 0])
}
