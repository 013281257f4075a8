//! Kernel stacks and the guard pages below them.
//!
//! A stack grows down; a guard page is an unmapped page just below its
//! lowest usable byte. Overflowing into it faults at once, so the overflow
//! is caught where it happens instead of silently corrupting a neighbour.
//! The fault handlers ask [`guard_page_owner`] whose guard a faulting
//! address hit, to say "kernel stack overflow" instead of a bare page fault.
//!
//! Two kinds of stack exist:
//!
//! * the **boot stack**, in the kernel image, whose guard page `paging_init`
//!   unmaps from the direct map;
//! * **kernel stacks** for tasks, from [`alloc_kernel_stack`], built in the
//!   vmalloc area the way Linux's `CONFIG_VMAP_STACK` builds them
//!   (`alloc_thread_stack_node` in `kernel/fork.c` calls
//!   `__vmalloc_node_range`). A stack in the direct map could not have a
//!   guard page without splitting the direct map; in the vmalloc area a
//!   guard page costs only virtual space.
//!
//! ```text
//!   higher addresses
//!   +--------------------+  <- the vmalloc allocator's guard page after the area
//!   |                    |  <- top (initial ESP)
//!   |   the stack        |     `size` bytes, mapped
//!   |                    |  <- bottom
//!   +--------------------+
//!   | guard page         |     first page of the area, never mapped
//!   +--------------------+  <- start of the area
//! ```
//!
//! The stack's frames are taken with [`GFP_VMALLOC`]: highmem when there is
//! some. A stack only needs a kernel address, which the vmalloc mapping
//! gives it, so it need not spend lowmem; code must therefore never pass a
//! stack address to `virt_to_phys` (there is no direct-map address), which
//! Linux with `CONFIG_VMAP_STACK` forbids for the same reason.

use core::fmt;

use mm::layout::PAGE_SIZE;
use mm::vmalloc::{Place, VmFlags};

use super::vmalloc::{self, GFP_VMALLOC};
use crate::arch::paging::PAGE_KERNEL;

/// A stack whose guard page was hit.
#[derive(Clone, Copy, Debug)]
pub struct GuardHit {
    /// Which kind of stack: "boot stack" or "kernel stack".
    pub name: &'static str,
    /// Who owns it, if someone said (see [`set_stack_owner_name`]).
    pub owner: Option<&'static str>,
    /// `[bottom, top)` of its usable part.
    pub bottom: usize,
    pub top: usize,
}

impl fmt::Display for GuardHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(owner) = self.owner {
            write!(f, " of {owner}")?;
        }
        write!(f, " [{:#010x}-{:#010x})", self.bottom, self.top)
    }
}

/// The name a kernel stack's vmalloc area carries until
/// [`set_stack_owner_name`] gives it another.
const KSTACK_CALLER: &str = "alloc_kernel_stack";

/// A kernel stack in the vmalloc area, with an unmapped guard page below
/// `bottom`. It owns its pages until [`free_kernel_stack`]; it is not
/// `Clone`, so there is one owner, and nothing frees it implicitly (a task
/// must not lose its stack while something still runs on it).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a kernel stack is freed only by free_kernel_stack"]
pub struct KernelStack {
    bottom: usize,
    top: usize,
}

impl KernelStack {
    /// Lowest usable address; the page below it is the guard.
    pub fn bottom(&self) -> usize {
        self.bottom
    }

    /// One past the highest usable address: the initial stack pointer
    /// (page aligned, so 16-byte aligned too).
    pub fn top(&self) -> usize {
        self.top
    }

    /// Usable bytes.
    pub fn size(&self) -> usize {
        self.top - self.bottom
    }

    /// Keep this stack for the life of the kernel (a CPU's idle and IRQ
    /// stacks): consumes the one owner, so nothing can ever pass it to
    /// [`free_kernel_stack`]. `KernelStack` has no `Drop`, so this frees and
    /// forgets nothing; it says in the code that the pages are never freed
    /// (where `mem::forget` would be a no-op that clippy rightly flags).
    pub fn keep_forever(self) {}
}

/// Allocate a kernel stack of `size` bytes (rounded up to whole pages) in
/// the vmalloc area, with an unmapped guard page below it. `None` if memory
/// or vmalloc space ran out, or `size` is 0.
///
/// The area is one page larger than the stack and its lowest page is never
/// mapped; the vmalloc allocator's own guard page follows the area, so the
/// stack has an unmapped page on both sides.
pub fn alloc_kernel_stack(size: usize) -> Option<KernelStack> {
    let size = size.checked_next_multiple_of(PAGE_SIZE)?;
    let start = vmalloc::get_vm_area(size.checked_add(PAGE_SIZE)?, VmFlags::VM_KSTACK, KSTACK_CALLER)?;
    let bottom = start + PAGE_SIZE;
    if vmalloc::__vmalloc_area_node(bottom, size, GFP_VMALLOC, PAGE_KERNEL).is_err() {
        vmalloc::__vunmap(start, VmFlags::VM_KSTACK, "free_kernel_stack", true);
        return None;
    }
    Some(KernelStack { bottom, top: bottom + size })
}

/// Unmap a kernel stack and free its pages and its virtual range. Nothing
/// may be running on it.
pub fn free_kernel_stack(stack: KernelStack) {
    vmalloc::__vunmap(stack.bottom - PAGE_SIZE, VmFlags::VM_KSTACK, "free_kernel_stack", true);
}

/// Name the owner of `stack` (a task, say) so that an overflow report says
/// whose stack it was: "guard page of the kernel stack of NAME [...)".
pub fn set_stack_owner_name(stack: &KernelStack, name: &'static str) {
    let named = vmalloc::set_vm_area_caller(stack.bottom - PAGE_SIZE, name);
    assert!(named, "set_stack_owner_name: {:#010x} is not a live kernel stack", stack.bottom);
}

/// If `addr` lies in the guard page of a known kernel stack, which one?
///
/// Called from the page-fault and double-fault handlers, so it takes no lock
/// the faulting code might hold: the boot stack is a constant, and kernel
/// stacks are looked up with [`vmalloc::try_find_vm_area`], which gives up
/// rather than wait for a lock that is never released.
pub fn guard_page_owner(addr: usize) -> Option<GuardHit> {
    let (bottom, top) = boot::entry::boot_stack_range();
    if addr < bottom && addr >= bottom - PAGE_SIZE {
        return Some(GuardHit { name: "boot stack", owner: None, bottom, top });
    }
    match vmalloc::try_find_vm_area(addr)? {
        (area, Place::Inside) if area.flags.contains(VmFlags::VM_KSTACK) && addr < area.addr + PAGE_SIZE => {
            Some(GuardHit {
                name: "kernel stack",
                owner: (area.caller != KSTACK_CALLER).then_some(area.caller),
                bottom: area.addr + PAGE_SIZE,
                top: area.end(),
            })
        }
        _ => None,
    }
}
