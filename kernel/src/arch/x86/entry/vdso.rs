//! A one-page vDSO holding the signal return trampolines (Linux
//! `arch/x86/entry/vdso/vdso32/sigreturn.S`, mapped by `map_vdso` from
//! `arch_setup_additional_pages` at exec).
//!
//! Why it exists here: a signal handler installed without `SA_RESTORER`
//! returns through `pretcode`, which Linux points at the vDSO's
//! `__kernel_sigreturn` / `__kernel_rt_sigreturn`. Without a vDSO, Linux
//! (and we, before NX) points it at the frame's own `retcode`, on the
//! stack: with NX the stack is not executable, so that return would fault
//! (error code 0x15). The trampolines have to live in an executable user
//! page, and this is it.
//!
//! ```text
//!  vdso + 0   __kernel_sigreturn:    popl %eax; movl $119, %eax; int $0x80
//!  vdso + 32  __kernel_rt_sigreturn: movl $173, %eax; int $0x80
//! ```
//!
//! Differences from Linux 6.1: one page (no vvar page, no
//! `__kernel_vsyscall`, no time functions, no ELF image, no `AT_SYSINFO`
//! / `AT_SYSINFO_EHDR` in the auxiliary vector: a C library cannot find it,
//! only the kernel's `pretcode` uses it); it is mapped at `mmap_base`, the
//! first address above the top-down mmap area, so that every other
//! mapping lands where it did before (Linux takes the first top-down slot,
//! randomized); its area is an anonymous one without `VM_MAYWRITE` (Linux's
//! special mapping may be made writable, copy-on-write, for debuggers).

use core::sync::atomic::Ordering;

use mm::gfp::{__GFP_ZERO, GFP_KERNEL};
use mm::layout::PAGE_SIZE;
use mm::page::Page;
use mm::vma::{VmArea, VmFlags, VmaKind};

use crate::mm::mm_types::MmStruct;

/// Offset of `__kernel_sigreturn` in the page.
pub const VDSO_SIGRETURN: usize = 0;
/// Offset of `__kernel_rt_sigreturn` in the page.
pub const VDSO_RT_SIGRETURN: usize = 32;

/// The page, made the first time a program is exec'd; never freed (it
/// holds a reference of its own, every mapping one more).
static VDSO_PAGE: spin::Once<&'static Page> = spin::Once::new();

fn vdso_page() -> Option<&'static Page> {
    if let Some(p) = VDSO_PAGE.get() {
        return Some(p);
    }
    let page = crate::mm::page_alloc::alloc_pages(GFP_KERNEL | __GFP_ZERO, 0)?;
    let v = crate::mm::page_alloc::page_address(page).expect("GFP_KERNEL is lowmem") as *mut u8;
    let sigreturn = [0x58, 0xb8, 119, 0, 0, 0, 0xcd, 0x80];
    let rt_sigreturn = [0xb8, 173, 0, 0, 0, 0xcd, 0x80];
    // SAFETY: a fresh lowmem page of ours, mapped at v; both runs fit.
    unsafe {
        core::ptr::copy_nonoverlapping(sigreturn.as_ptr(), v.add(VDSO_SIGRETURN), sigreturn.len());
        core::ptr::copy_nonoverlapping(rt_sigreturn.as_ptr(), v.add(VDSO_RT_SIGRETURN), rt_sigreturn.len());
    }
    let mut lost = None;
    let p = VDSO_PAGE.call_once(|| page);
    if !core::ptr::eq(*p, page) {
        lost = Some(page); // another CPU's exec made it first
    }
    if let Some(page) = lost {
        crate::mm::page_alloc::__free_pages(page, 0);
    }
    Some(p)
}

/// Linux `arch_setup_additional_pages`: map the vDSO into a fresh address
/// space at its `mmap_base`, read and execute only, and remember where
/// (`mm->context.vdso`). `false` without memory.
pub fn arch_setup_additional_pages(mm: &MmStruct) -> bool {
    let Some(page) = vdso_page() else { return false };
    let addr = {
        let mut map = mm.mmap_lock();
        let addr = map.mmap_base;
        let flags = VmFlags::VM_READ | VmFlags::VM_EXEC | VmFlags::VM_MAYREAD | VmFlags::VM_MAYEXEC;
        let Ok(vma) = VmArea::new(addr, addr + PAGE_SIZE, flags, VmaKind::Anonymous, addr >> mm::layout::PAGE_SHIFT) else {
            return false;
        };
        if map.insert_vm_struct(vma).is_err() {
            return false;
        }
        addr
    };
    page.get_page(); // the mapping's reference, dropped by munmap or exit
    if mm.map_page(addr, page, false).is_err() {
        crate::mm::page_alloc::__free_pages(page, 0);
        return false;
    }
    mm.context_vdso.store(addr, Ordering::Relaxed);
    true
}
