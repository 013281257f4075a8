//! The vmalloc area on the real machine: vmalloc and vfree, vmap, ioremap
//! of lowmem, highmem and unaligned addresses, and kernel stacks with guard
//! pages, including what happens when one overflows.

use alloc::format;
use alloc::vec::Vec;
use core::arch::asm;
use core::hint::black_box;

use mm::buddy::MAX_ORDER;
use mm::gfp::{GFP_HIGHUSER, GFP_KERNEL};
use mm::layout::{KernelLayout, PAGE_SHIFT, PAGE_SIZE, VMALLOC_END, phys_to_virt};
use mm::vmalloc::{Place, VmFlags};

use crate::arch::paging::{PAGE_KERNEL, PAGE_KERNEL_NOCACHE, PteFlags};
use crate::tools::ktest::{Test, require_highmem};
use crate::mm::page_alloc::{self, PageHighMem, page_to_pfn};
use crate::mm::pgtable::lookup_kernel_pte;
use crate::mm::stack::{alloc_kernel_stack, free_kernel_stack, guard_page_owner, set_stack_owner_name};
use crate::mm::vmalloc::{
    find_vm_area, ioremap, ioremap_cache, iounmap, vfree, vmalloc, vmalloc_info, vmalloc_to_page, vmalloc_to_pfn,
    vmap, vunmap,
};
use super::common::*;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(vmalloc_area_is_where_the_layout_says),
    test_case!(vmalloc_maps_distinct_frames_and_data_reads_back),
    test_case!(vmalloc_prefers_highmem_frames),
    test_case!(vfree_returns_every_page_and_the_range),
    test_case!(vmalloc_larger_than_the_area_fails_cleanly),
    test_case!(vmap_maps_the_given_pages_in_order),
    test_case!(ioremap_of_lowmem_shows_the_direct_map_bytes),
    test_case!(ioremap_of_highmem_twice_shows_the_same_frame),
    test_case!(ioremap_of_an_unaligned_address_returns_the_offset),
    test_case!(ioremap_uses_uncached_ptes_and_refuses_above_4g),
    test_case!(kernel_stack_has_an_unmapped_guard_page_below),
    test_case!(kernel_stack_guard_page_is_named_after_its_owner),
    test_case!(
        guard_page_after_a_vmalloc_area_faults,
        panics = "#PF: supervisor write access in kernel mode\n#PF: error_code(0x0002) - not-present page\nOops: page fault (#PF)"
    ),
    test_case!(
        touching_a_kernel_stack_guard_page_is_reported,
        panics = "#PF: supervisor write access in kernel mode\nkernel stack overflow: 0x\nis in the guard page of the kernel stack [0x"
    ),
    test_case!(
        overflowing_a_kernel_stack_is_reported,
        panics = "Oops: double fault (#DF)\nkernel stack overflow: ESP 0x\nran into the guard page of the kernel stack of overflow-test [0x"
    ),
    test_case!(vfree_of_a_bad_address_is_caught, panics = "Trying to vfree() nonexistent vm area (0x"),
    test_case!(vfree_of_an_ioremap_is_caught, panics = "vfree(0x\n: wrong kind of area: ioremap (made by ioremap), expected vmalloc"),
];

/// Free pages of each zone, and each order's free-list length.
fn free_counts() -> Vec<(usize, [usize; MAX_ORDER])> {
    page_alloc::zones().map(|z| (z.nr_free_pages(), z.free_list_counts())).collect()
}

fn pte_flags(vaddr: usize) -> PteFlags {
    lookup_kernel_pte(vaddr).flags()
}

/// A value that depends on the page and the word, so misplaced pages show.
fn pattern(page: usize, word: usize) -> u32 {
    (page as u32).wrapping_mul(0x9e37_79b9) ^ (word as u32).wrapping_mul(0x85eb_ca6b) ^ 0x5a5a_0000
}

fn vmalloc_area_is_where_the_layout_says() {
    let layout = KernelLayout::new(page_alloc::max_low_pfn());
    let info = vmalloc_info();
    assert_eq!(info.range, (layout.vmalloc_start, VMALLOC_END));
    let addr = vmalloc(PAGE_SIZE).unwrap();
    assert!(addr >= layout.vmalloc_start && addr + PAGE_SIZE <= VMALLOC_END);
    assert_eq!(addr % PAGE_SIZE, 0);
    let (area, place) = find_vm_area(addr + 100).unwrap();
    assert_eq!((area.addr, area.size, area.flags, area.caller, place), (addr, PAGE_SIZE, VmFlags::VM_ALLOC, "vmalloc", Place::Inside));
    assert_eq!(find_vm_area(addr + PAGE_SIZE).map(|(a, p)| (a.addr, p)), Some((addr, Place::GuardPage)));
    vfree(addr);
    assert_eq!(vmalloc_info(), info);
}

fn vmalloc_maps_distinct_frames_and_data_reads_back() {
    const PAGES: usize = 16;
    let addr = vmalloc(PAGES * PAGE_SIZE).unwrap();
    let mut pfns: Vec<usize> = (0..PAGES).map(|i| vmalloc_to_pfn(addr + i * PAGE_SIZE).expect("every page mapped")).collect();
    for i in 0..PAGES {
        assert_eq!(pte_flags(addr + i * PAGE_SIZE), PAGE_KERNEL, "vmalloc maps with PAGE_KERNEL");
    }
    assert!(vmalloc_to_pfn(addr + PAGES * PAGE_SIZE).is_none(), "the guard page after the area is unmapped");
    // Write every word through the vmalloc mapping, then read it all back.
    let words = PAGE_SIZE / 4;
    let p = addr as *mut u32;
    for i in 0..PAGES * words {
        // SAFETY: [addr, addr + PAGES pages) is ours and mapped.
        unsafe { p.add(i).write_volatile(pattern(i / words, i % words)) };
    }
    for i in 0..PAGES * words {
        // SAFETY: as above.
        assert_eq!(unsafe { p.add(i).read_volatile() }, pattern(i / words, i % words));
    }
    // The bytes really are in those frames: check lowmem ones through the
    // direct map, which is a second, independent mapping.
    for (i, &pfn) in pfns.iter().enumerate() {
        if pfn < page_alloc::max_low_pfn() {
            let direct = phys_to_virt(pfn << PAGE_SHIFT) as *const u32;
            // SAFETY: a lowmem frame vmalloc owns, read through the direct map.
            assert_eq!(unsafe { direct.add(7).read_volatile() }, pattern(i, 7));
        }
    }
    pfns.sort_unstable();
    pfns.dedup();
    assert_eq!(pfns.len(), PAGES, "sixteen pages, sixteen different frames");
    vfree(addr);
}

fn vmalloc_prefers_highmem_frames() {
    let addr = vmalloc(8 * PAGE_SIZE).unwrap();
    for i in 0..8 {
        let page = vmalloc_to_page(addr + i * PAGE_SIZE).unwrap();
        assert_eq!(PageHighMem(page), have_highmem(), "vmalloc takes highmem when the machine has any");
    }
    vfree(addr);
}

fn vfree_returns_every_page_and_the_range() {
    let _ = free_counts(); // let the heap take any page it needs for the Vec first
    let before = free_counts();
    let info = vmalloc_info();
    let a = vmalloc(37 * PAGE_SIZE).unwrap();
    let b = vmalloc(3 * PAGE_SIZE + 1).unwrap();
    // Where b lands depends on holes earlier tests left (first fit is
    // checked by the host tests); it must not touch a or a's guard page.
    assert!(b >= a + 38 * PAGE_SIZE || b + 5 * PAGE_SIZE <= a, "b {b:#x} overlaps a {a:#x} or its guard page");
    let used: usize = free_counts().iter().map(|z| z.0).sum();
    let had: usize = before.iter().map(|z| z.0).sum();
    assert_eq!(had - used, 37 + 4, "one frame per page, nothing else");
    assert_eq!(vmalloc_info().nr_areas, info.nr_areas + 2);
    vfree(a);
    vfree(b);
    assert_eq!(free_counts(), before, "every frame came back and coalesced");
    assert_eq!(vmalloc_info(), info, "the range came back and coalesced");
    for i in 0..37 {
        assert!(lookup_kernel_pte(a + i * PAGE_SIZE).is_none(), "no PTE left behind");
    }
    for i in 0..4 {
        assert!(lookup_kernel_pte(b + i * PAGE_SIZE).is_none(), "no PTE left behind");
    }
}

fn vmalloc_larger_than_the_area_fails_cleanly() {
    let before = free_counts();
    let info = vmalloc_info();
    assert_eq!(vmalloc(0), None);
    assert_eq!(vmalloc(info.largest_free), None, "the largest free block less its guard page is the limit");
    assert_eq!(vmalloc(VMALLOC_END), None);
    assert_eq!(free_counts(), before);
    assert_eq!(vmalloc_info(), info);
}

fn vmap_maps_the_given_pages_in_order() {
    let pages = [
        page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap(),
        page_alloc::alloc_pages(GFP_HIGHUSER, 0).unwrap(),
        page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap(),
    ];
    let addr = vmap(&pages, PAGE_KERNEL).unwrap();
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(vmalloc_to_pfn(addr + i * PAGE_SIZE), Some(page_to_pfn(page)));
    }
    // Write through the vmap, read the lowmem pages through the direct map.
    for i in 0..3 {
        // SAFETY: page i of the vmap area is mapped and the page is ours.
        unsafe { ((addr + i * PAGE_SIZE + 64) as *mut u32).write_volatile(pattern(i, 16)) };
    }
    for i in [0, 2] {
        let direct = page_alloc::page_address(pages[i]).unwrap() as *const u32;
        // SAFETY: a lowmem page we own, through the direct map.
        assert_eq!(unsafe { direct.add(16).read_volatile() }, pattern(i, 16));
    }
    vunmap(addr);
    for i in 0..3 {
        assert!(lookup_kernel_pte(addr + i * PAGE_SIZE).is_none());
    }
    // vunmap left the pages to us: they are still allocated, and the data
    // is still in them.
    let direct = page_alloc::page_address(pages[2]).unwrap() as *const u32;
    // SAFETY: as above.
    assert_eq!(unsafe { direct.add(16).read_volatile() }, pattern(2, 16));
    for page in pages {
        page_alloc::__free_pages(page, 0);
    }
}

fn ioremap_of_lowmem_shows_the_direct_map_bytes() {
    let page = page_alloc::alloc_pages(GFP_KERNEL, 0).unwrap();
    let phys = (page_to_pfn(page) << PAGE_SHIFT) as u64;
    let direct = page_alloc::page_address(page).unwrap() as *mut u32;
    // The direct map is write-back, so the second mapping must be too
    // (ioremap_cache): mixing cache types on one frame is undefined.
    let io = ioremap_cache(phys, PAGE_SIZE).unwrap() as *mut u32;
    assert_ne!(io, direct);
    for i in 0..PAGE_SIZE / 4 {
        // SAFETY: both pointers map the page we own.
        unsafe { direct.add(i).write_volatile(pattern(1, i)) };
    }
    for i in 0..PAGE_SIZE / 4 {
        // SAFETY: as above.
        assert_eq!(unsafe { io.add(i).read_volatile() }, pattern(1, i));
    }
    // SAFETY: as above.
    unsafe { io.add(5).write_volatile(0xfeed_f00d) };
    // SAFETY: as above.
    assert_eq!(unsafe { direct.add(5).read_volatile() }, 0xfeed_f00d, "and the other way round");
    iounmap(io as usize);
    page_alloc::__free_pages(page, 0);
}

fn ioremap_of_highmem_twice_shows_the_same_frame() {
    require_highmem();
    let page = page_alloc::alloc_pages(GFP_HIGHUSER, 0).unwrap();
    assert!(PageHighMem(page));
    let phys = (page_to_pfn(page) << PAGE_SHIFT) as u64;
    assert!(phys >= 896 << 20, "above the direct map");
    // A highmem frame has no other mapping, so two uncached ones agree on
    // the cache type.
    let a = ioremap(phys, PAGE_SIZE).unwrap() as *mut u32;
    let b = ioremap(phys, PAGE_SIZE).unwrap() as *mut u32;
    assert_ne!(a, b, "two mappings, two addresses");
    for i in 0..PAGE_SIZE / 4 {
        // SAFETY: a maps the page we own.
        unsafe { a.add(i).write_volatile(pattern(2, i)) };
    }
    for i in 0..PAGE_SIZE / 4 {
        // SAFETY: b maps the same page.
        assert_eq!(unsafe { b.add(i).read_volatile() }, pattern(2, i));
    }
    iounmap(a as usize);
    iounmap(b as usize);
    page_alloc::__free_pages(page, 0);
}

fn ioremap_of_an_unaligned_address_returns_the_offset() {
    // Two pages, so that a small range can straddle the boundary.
    let block = page_alloc::alloc_pages(GFP_KERNEL, 1).unwrap();
    let phys = page_to_pfn(block) << PAGE_SHIFT;
    let direct = page_alloc::page_address(block).unwrap() as *mut u8;
    for i in 0..2 * PAGE_SIZE {
        // SAFETY: the two pages are ours.
        unsafe { direct.add(i).write_volatile(i as u8 ^ (i >> 8) as u8) };
    }
    let info = vmalloc_info();
    for (offset, len) in [(0x123, 16), (PAGE_SIZE - 8, 16), (1, 2 * PAGE_SIZE - 1)] {
        let io = ioremap_cache((phys + offset) as u64, len).unwrap();
        assert_eq!(io % PAGE_SIZE, offset % PAGE_SIZE, "same offset in the page");
        let pages = (offset % PAGE_SIZE + len).div_ceil(PAGE_SIZE);
        assert_eq!(vmalloc_info().used_bytes, info.used_bytes + pages * PAGE_SIZE, "whole pages around the range");
        for i in 0..len {
            let j = offset + i;
            // SAFETY: ioremap_cache mapped [io, io + len).
            assert_eq!(unsafe { ((io + i) as *const u8).read_volatile() }, j as u8 ^ (j >> 8) as u8);
        }
        iounmap(io);
    }
    assert_eq!(vmalloc_info(), info);
    page_alloc::__free_pages(block, 1);
}

fn ioremap_uses_uncached_ptes_and_refuses_above_4g() {
    // The I/O APIC's page: device registers, never RAM.
    let io = ioremap(0xfec0_0000, 0x20).unwrap();
    assert_eq!(pte_flags(io), PAGE_KERNEL_NOCACHE, "PCD and PWT set");
    assert_eq!(lookup_kernel_pte(io).pfn(), 0xfec00);
    iounmap(io);
    let io = ioremap_cache(0xfec0_0000, 0x20).unwrap();
    assert_eq!(pte_flags(io), PAGE_KERNEL);
    iounmap(io);
    let info = vmalloc_info();
    assert_eq!(ioremap(1 << 32, PAGE_SIZE), None, "above 4 GiB");
    assert_eq!(ioremap(0xffff_f000, 2 * PAGE_SIZE), None, "reaches past 4 GiB");
    assert_eq!(ioremap(0x1000, 0), None);
    assert_eq!(vmalloc_info(), info);
    let last = ioremap(0xffff_f000, PAGE_SIZE).expect("the last page below 4 GiB");
    assert_eq!(lookup_kernel_pte(last).pfn(), 0xfffff);
    iounmap(last);
}

fn kernel_stack_has_an_unmapped_guard_page_below() {
    let before = free_counts();
    let info = vmalloc_info();
    let stack = alloc_kernel_stack(3 * PAGE_SIZE - 100).unwrap();
    assert_eq!(stack.size(), 3 * PAGE_SIZE, "whole pages");
    assert_eq!((stack.bottom() % PAGE_SIZE, stack.top() - stack.bottom()), (0, 3 * PAGE_SIZE));
    for addr in (stack.bottom()..stack.top()).step_by(PAGE_SIZE) {
        assert!(lookup_kernel_pte(addr).present());
    }
    assert!(!lookup_kernel_pte(stack.bottom() - PAGE_SIZE).present(), "guard page below");
    assert!(!lookup_kernel_pte(stack.top()).present(), "the allocator's guard page above");
    let (area, place) = find_vm_area(stack.bottom() - 1).unwrap();
    assert_eq!((area.addr, area.flags, place), (stack.bottom() - PAGE_SIZE, VmFlags::VM_KSTACK, Place::Inside));
    // The whole stack is usable.
    for addr in (stack.bottom()..stack.top()).step_by(4) {
        // SAFETY: the stack is ours and mapped; nothing runs on it.
        unsafe { (addr as *mut u32).write_volatile(addr as u32) };
    }
    for addr in (stack.bottom()..stack.top()).step_by(4) {
        // SAFETY: as above.
        assert_eq!(unsafe { (addr as *const u32).read_volatile() }, addr as u32);
    }
    // guard_page_owner knows the guard page, and only it.
    let hit = guard_page_owner(stack.bottom() - 1).expect("the guard page is recognised");
    assert_eq!((hit.name, hit.owner, hit.bottom, hit.top), ("kernel stack", None, stack.bottom(), stack.top()));
    assert!(guard_page_owner(stack.bottom() - PAGE_SIZE).is_some());
    assert!(guard_page_owner(stack.bottom() - PAGE_SIZE - 1).is_none());
    assert!(guard_page_owner(stack.bottom()).is_none(), "the stack itself is not a guard");
    assert!(guard_page_owner(stack.top()).is_none(), "the page above is not the stack's guard");
    // The boot stack's guard is still known.
    assert_eq!(guard_page_owner(boot::entry::boot_stack_guard()).map(|h| h.name), Some("boot stack"));
    let bottom = stack.bottom();
    free_kernel_stack(stack);
    assert!(guard_page_owner(bottom - 1).is_none(), "a freed stack has no guard page");
    assert!(!lookup_kernel_pte(bottom).present());
    assert_eq!(free_counts(), before, "every page of the stack came back");
    assert_eq!(vmalloc_info(), info);
}

fn kernel_stack_guard_page_is_named_after_its_owner() {
    let a = alloc_kernel_stack(2 * PAGE_SIZE).unwrap();
    let b = alloc_kernel_stack(2 * PAGE_SIZE).unwrap();
    assert!(b.bottom() >= a.top() + 2 * PAGE_SIZE, "the allocator's guard and b's own guard between them");
    set_stack_owner_name(&b, "idle/1");
    assert_eq!(guard_page_owner(a.bottom() - 8).and_then(|h| h.owner), None);
    let hit = guard_page_owner(b.bottom() - 8).unwrap();
    assert_eq!((hit.owner, hit.bottom), (Some("idle/1"), b.bottom()));
    assert_eq!(format!("{hit}"), format!("kernel stack of idle/1 [{:#010x}-{:#010x})", b.bottom(), b.top()));
    free_kernel_stack(a);
    free_kernel_stack(b);
}

fn guard_page_after_a_vmalloc_area_faults() {
    let addr = vmalloc(2 * PAGE_SIZE).unwrap();
    // SAFETY: the last word of the area is mapped.
    unsafe { ((addr + 2 * PAGE_SIZE - 4) as *mut u32).write_volatile(1) };
    let p = black_box((addr + 2 * PAGE_SIZE) as *mut u32);
    // SAFETY: deliberately writes one word past the end, into the guard page.
    unsafe { p.write_volatile(1) };
}

fn touching_a_kernel_stack_guard_page_is_reported() {
    let stack = alloc_kernel_stack(2 * PAGE_SIZE).unwrap();
    let p = black_box((stack.bottom() - 4) as *mut u32);
    // SAFETY: deliberately writes just below the stack, into its guard page.
    unsafe { p.write_volatile(1) };
}

#[inline(never)]
fn recurse(depth: usize) -> usize {
    let frame = black_box([depth; 64]);
    if black_box(true) { recurse(depth + 1) + frame[depth % 64] } else { 0 }
}

extern "C" fn run_off_the_stack() -> ! {
    black_box(recurse(0));
    unreachable!("recursion without end returned");
}

fn overflowing_a_kernel_stack_is_reported() {
    let stack = alloc_kernel_stack(2 * PAGE_SIZE).unwrap();
    set_stack_owner_name(&stack, "overflow-test");
    // SAFETY: switches to a fresh, mapped stack and calls a function that
    // never returns (it recurses until the guard page stops it, and the
    // double-fault handler ends the boot), so nothing ever needs the old ESP.
    unsafe { asm!("mov esp, {top}", "call {f}", top = in(reg) stack.top(), f = sym run_off_the_stack, options(noreturn)) };
}

fn vfree_of_a_bad_address_is_caught() {
    let addr = vmalloc(PAGE_SIZE).unwrap();
    vfree(addr + 16);
}

fn vfree_of_an_ioremap_is_caught() {
    let io = ioremap(0xfec0_0000, 0x20).unwrap();
    vfree(io & !(PAGE_SIZE - 1));
}
