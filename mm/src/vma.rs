//! A process's virtual memory areas: the bookkeeping half of Linux
//! `mm/mmap.c`, `mm/mprotect.c` and `include/linux/mm.h`, with no page
//! tables in it.
//!
//! A user address space is described twice. The page tables say what is
//! mapped *now*; the VMAs say what *may* be mapped: which ranges the
//! process asked for (`mmap`, `brk`, the stack, the ELF segments), with
//! which permissions, and backed by what (anonymous zero-filled memory or a
//! file). The page-fault handler reads the VMAs to decide what a fault
//! means: a page to allocate (demand paging), a page to copy (copy-on-write)
//! or a bad access (SIGSEGV). So a VMA exists long before any of its pages
//! do, and most of a process's VMAs are never fully populated.
//!
//! ```text
//!  0        mmap_min_addr                                         TASK_SIZE
//!  |  never  | text | data+bss | heap -> |      <- mmap area | gap | <- stack |
//!  |  mapped |  ELF segments   |start_brk..brk      mmap_base ^     |GROWSDOWN|
//! ```
//!
//! Each [`VmArea`] (Linux `struct vm_area_struct`) covers the page-aligned
//! range `[vm_start, vm_end)`. An [`MmMap`] is the set of them for one
//! process, plus the layout numbers the operations need (`mmap_base`,
//! `start_brk`, `brk`, ...): it is the part of Linux's `struct mm_struct`
//! that is pure bookkeeping. The kernel wraps it in its own `mm_struct`,
//! next to the page directory, behind the `mmap_lock`; every method here
//! assumes that lock is held (for writing, if it takes `&mut self`).
//!
//! **Why `MmMap`, and why a `BTreeMap`.** Linux 6.1 keeps the VMAs in a
//! maple tree (`mm->mm_mt`), a B-tree keyed by address range; before 6.1 it
//! was a red-black tree plus a sorted linked list (`mm->mmap`, hence the
//! name). We use `alloc::collections::BTreeMap` keyed by `vm_end`, which is
//! the same idea with the standard library's B-tree: the first VMA with
//! `vm_end > addr` is one range query, which is exactly Linux's
//! [`find_vma`](MmMap::find_vma). The areas never overlap, so `vm_end`
//! identifies one. The name `MmMap` says what it is: the *map* of one
//! `mm`.
//!
//! **Operations, by their Linux names:**
//!
//! * [`find_vma`](MmMap::find_vma), [`find_vma_prev`](MmMap::find_vma_prev),
//!   [`find_vma_intersection`](MmMap::find_vma_intersection),
//!   [`vma_lookup`](MmMap::vma_lookup): the lookups.
//! * [`insert_vm_struct`](MmMap::insert_vm_struct): add one area, refusing
//!   overlap (`-ENOMEM`, as Linux).
//! * [`split_vma`](MmMap::split_vma), and merging (Linux `vma_merge`):
//!   adjacent areas with the same flags, the same backing and contiguous
//!   file offsets become one area when a mapping or an `mprotect` makes
//!   them touch, so the set stays as small as the address space allows.
//! * [`do_mmap`](MmMap::do_mmap) / [`mmap_region`](MmMap::mmap_region),
//!   [`do_munmap`](MmMap::do_munmap), [`do_mprotect`](MmMap::do_mprotect)
//!   (Linux `do_mprotect_pkey`) with [`mprotect_fixup`](MmMap::mprotect_fixup):
//!   the three system calls' bookkeeping.
//! * [`get_unmapped_area`](MmMap::get_unmapped_area) and
//!   [`vm_unmapped_area`](MmMap::vm_unmapped_area): where a mapping goes
//!   when the caller does not insist on an address.
//! * [`expand_stack`](MmMap::expand_stack) /
//!   [`expand_downwards`](MmMap::expand_downwards): the stack grows when a
//!   fault lands just below it.
//! * [`brk`](MmMap::brk) and [`do_brk_flags`](MmMap::do_brk_flags): the
//!   heap.
//!
//! Operations that take pages away ([`do_munmap`](MmMap::do_munmap),
//! shrinking [`brk`](MmMap::brk), a `MAP_FIXED` mapping over old ones)
//! return the removed pieces, each a `VmArea` clipped to what was removed,
//! so that the kernel can free their pages and flush the TLBs: this file
//! never sees a page.
//!
//! **Errors** are [`VmaError`]s: each variant names what went wrong (its
//! `Display` is the message) and [`VmaError::errno`] gives the errno Linux
//! returns in that case, so the system-call layer returns `-errno` exactly
//! as Linux does.
//!
//! **Where we differ from Linux**, each with a test:
//!
//! * No `anon_vma`. Linux refuses to merge two anonymous areas that have
//!   both been faulted in separately (each has its own `anon_vma`, the root
//!   of its reverse map); we have no reverse map, so we merge whenever flags,
//!   backing and offsets agree.
//! * No accounting flags (`VM_ACCOUNT`), no `VM_SOFTDIRTY`, no memory
//!   policies, no userfaultfd: nothing that would keep two areas apart.
//! * `mprotect_fixup` checks the `max_map_count` limit for both splits
//!   before making either; Linux may make the first split and then fail the
//!   second, leaving two identical unmerged areas behind.
//! * `PROT_GROWSDOWN`/`PROT_GROWSUP` in `mprotect` are refused with
//!   `-EINVAL` instead of being honoured.
//! * No address-space layout randomisation: `mmap_base` is a fixed
//!   function of the stack limit, as Linux with `norandmaps`.
//! * `brk` extends whichever area ends at the old break when it is alike;
//!   Linux's `do_brk_flags` is handed the heap area only (`brkvma`, looked
//!   up from `start_brk`).
//! * Only the top-down layout (Linux's default on i386 since 2.6.9; the
//!   legacy bottom-up one needs the `ADDR_COMPAT_LAYOUT` personality or
//!   `vm.legacy_va_layout=1`). Bottom-up is still used as Linux's fallback
//!   when the top-down search fails.
//!
//! Note the name clash Linux has too: `vmalloc::VmFlags` are the flags of a
//! kernel `vm_struct` (`VM_ALLOC`, `VM_IOREMAP`); [`VmFlags`] here are a
//! VMA's `vm_flags`. Same prefix, two different sets, as in Linux.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Bound::{Excluded, Unbounded};

use bitflags::bitflags;

use crate::layout::{PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};

/// `PAGE_ALIGN`: round up to a page boundary, or `None` if that overflows.
fn page_align(x: usize) -> Option<usize> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & PAGE_MASK)
}

/// `offset_in_page`: is `x` not on a page boundary?
fn offset_in_page(x: usize) -> bool {
    x & !PAGE_MASK != 0
}

// --- flags ---------------------------------------------------------------

bitflags! {
    /// A VMA's `vm_flags` (Linux `include/linux/mm.h`, same values).
    ///
    /// The low four bits are what the process may do *now* (`mprotect`
    /// changes them); the `VM_MAY*` bits, four places higher, are what it
    /// may ever ask for. `mprotect` refuses to set an access bit whose
    /// `VM_MAY*` bit is clear (`-EACCES`): that is how a read-only file
    /// mapped shared can never be made writable.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct VmFlags: u32 {
        /// Pages may be read.
        const VM_READ      = 0x0000_0001;
        /// Pages may be written.
        const VM_WRITE     = 0x0000_0002;
        /// Pages may be executed.
        const VM_EXEC      = 0x0000_0004;
        /// Writes go to the shared object, not to a private copy.
        const VM_SHARED    = 0x0000_0008;
        /// `mprotect` may add `VM_READ`.
        const VM_MAYREAD   = 0x0000_0010;
        /// `mprotect` may add `VM_WRITE`.
        const VM_MAYWRITE  = 0x0000_0020;
        /// `mprotect` may add `VM_EXEC`.
        const VM_MAYEXEC   = 0x0000_0040;
        /// The mapping was asked for shared (kept even when `VM_SHARED`
        /// is dropped for a read-only file).
        const VM_MAYSHARE  = 0x0000_0080;
        /// A stack: a fault just below it extends it downwards.
        const VM_GROWSDOWN = 0x0000_0100;
    }
}

impl VmFlags {
    /// Linux `VM_ACCESS_FLAGS`: the bits `mprotect` sets.
    pub const VM_ACCESS_FLAGS: VmFlags =
        VmFlags::VM_READ.union(VmFlags::VM_WRITE).union(VmFlags::VM_EXEC);

    /// Linux `VM_DATA_DEFAULT_FLAGS` on i386 without the
    /// `READ_IMPLIES_EXEC` personality: the heap's flags (read, write,
    /// may read/write/exec).
    pub const VM_DATA_DEFAULT_FLAGS: VmFlags = VmFlags::VM_READ
        .union(VmFlags::VM_WRITE)
        .union(VmFlags::VM_MAYREAD)
        .union(VmFlags::VM_MAYWRITE)
        .union(VmFlags::VM_MAYEXEC);

    /// Linux `VM_STACK_FLAGS` (minus `VM_ACCOUNT`, which we do not have):
    /// the flags `execve` gives the initial stack.
    pub const VM_STACK_FLAGS: VmFlags = VmFlags::VM_DATA_DEFAULT_FLAGS.union(VmFlags::VM_GROWSDOWN);

    /// Linux `vma_is_accessible`: may the area be touched at all?
    pub fn is_accessible(self) -> bool {
        self.intersects(Self::VM_ACCESS_FLAGS)
    }
}

bitflags! {
    /// What a PTE should allow, as the abstract bits of Linux's
    /// `pgprot_t`. The values are the x86 PTE bits (`_PAGE_PRESENT`,
    /// `_PAGE_RW`, `_PAGE_USER`) so the kernel's mapping onto its own
    /// `PteFlags` is one line, but this crate does not depend on the
    /// kernel's types.
    ///
    /// The execute bit is `NX`, in the 686-pae flavour only: the 2-level
    /// page tables of i386 cannot forbid execution, so there Linux's
    /// `protection_map` entries with and without `VM_EXEC` are equal
    /// (`_PAGE_NX` is 0). With PAE they differ in `_PAGE_NX` (bit 63),
    /// which `vm_get_page_prot` removes again on a CPU without NX
    /// (`__supported_pte_mask`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PgProt: crate::pgtable_types::pteval_t {
        /// The page is mapped.
        const PRESENT = 0x001;
        /// Writes are allowed (x86 `_PAGE_RW`).
        const RW      = 0x002;
        /// User mode may access it (x86 `_PAGE_USER`).
        const USER    = 0x004;
        /// "Present to the kernel, absent to the CPU" (x86
        /// `_PAGE_PROTNONE`, which is `_PAGE_GLOBAL`'s bit: the CPU looks
        /// at no other bit of an entry whose present bit is clear, and a
        /// user page is never global). See [`pte`].
        const PROTNONE = 0x100;
        /// Instruction fetches fault (x86 `_PAGE_NX`, bit 63; PAE only).
        #[cfg(feature = "pae")]
        const NX = crate::pgtable_types::_PAGE_NX;
    }
}

/// `_PAGE_NX` as a `PgProt`: empty without PAE (see [`PgProt`]).
#[cfg(feature = "pae")]
pub const PGPROT_NX: PgProt = PgProt::NX;
/// See the PAE flavour's.
#[cfg(not(feature = "pae"))]
pub const PGPROT_NX: PgProt = PgProt::empty();

/// Linux `PAGE_NONE`: no access, but the frame stays: a `PROT_NONE`
/// page's PTE keeps its page frame number with `_PAGE_PRESENT` clear and
/// `_PAGE_PROTNONE` set, so that every access faults (and is refused:
/// the area has no access bit) while the kernel still sees a page there,
/// to free at `munmap`, share at `fork` and give back unchanged when
/// `mprotect` makes the area accessible again. (Linux's also has
/// `_PAGE_ACCESSED`; the kernel adds that to every user PTE it makes.)
pub const PAGE_NONE: PgProt = PgProt::PROTNONE;
/// Linux `PAGE_READONLY`: present, user, read-only, no-execute.
pub const PAGE_READONLY: PgProt = PgProt::PRESENT.union(PgProt::USER).union(PGPROT_NX);
/// Linux `PAGE_COPY`: a private writable mapping's pages start read-only,
/// so that the first write faults and copies (copy-on-write). The fault
/// handler makes the PTE writable once the page is the process's own
/// (`maybe_mkwrite`, looking at `VM_WRITE`, not at this).
pub const PAGE_COPY: PgProt = PAGE_READONLY;
/// Linux `PAGE_SHARED`: present, user, writable, no-execute.
pub const PAGE_SHARED: PgProt = PgProt::PRESENT.union(PgProt::USER).union(PgProt::RW).union(PGPROT_NX);
/// Linux `PAGE_READONLY_EXEC`: [`PAGE_READONLY`] that may be executed.
pub const PAGE_READONLY_EXEC: PgProt = PAGE_READONLY.difference(PGPROT_NX);
/// Linux `PAGE_COPY_EXEC`.
pub const PAGE_COPY_EXEC: PgProt = PAGE_COPY.difference(PGPROT_NX);
/// Linux `PAGE_SHARED_EXEC`.
pub const PAGE_SHARED_EXEC: PgProt = PAGE_SHARED.difference(PGPROT_NX);

/// Linux's `protection_map` (`arch/x86/mm/pgprot.c`), indexed by
/// `vm_flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)`. The EXEC rows
/// differ from their non-EXEC rows only in `_PAGE_NX` (and are equal
/// without PAE, where it is 0); x86 cannot express write-only, so "write"
/// implies "read".
pub const PROTECTION_MAP: [PgProt; 16] = [
    PAGE_NONE,          // ---p
    PAGE_READONLY,      // r--p
    PAGE_COPY,          // -w-p: private, so read-only until the COW fault
    PAGE_COPY,          // rw-p
    PAGE_READONLY_EXEC, // --xp
    PAGE_READONLY_EXEC, // r-xp
    PAGE_COPY_EXEC,     // -wxp
    PAGE_COPY_EXEC,     // rwxp
    PAGE_NONE,          // ---s
    PAGE_READONLY,      // r--s
    PAGE_SHARED,        // -w-s: shared, so writes go straight to the page
    PAGE_SHARED,        // rw-s
    PAGE_READONLY_EXEC, // --xs
    PAGE_READONLY_EXEC, // r-xs
    PAGE_SHARED_EXEC,   // -wxs
    PAGE_SHARED_EXEC,   // rwxs
];

/// Linux `vm_get_page_prot` with an explicit `__supported_pte_mask`: the
/// `protection_map` row, and a present protection ANDed with the mask
/// (Linux: `if (val & _PAGE_PRESENT) val &= __supported_pte_mask`).
pub fn vm_get_page_prot_with(flags: VmFlags, supported_pte_mask: crate::pgtable_types::pteval_t) -> PgProt {
    let val = PROTECTION_MAP[(flags.bits() & 0xf) as usize].bits();
    PgProt::from_bits_retain(crate::pgtable_types::massage_pgprot_with(val, supported_pte_mask))
}

/// Linux `vm_get_page_prot`: the PTE protection for pages of an area with
/// these flags.
pub fn vm_get_page_prot(flags: VmFlags) -> PgProt {
    vm_get_page_prot_with(flags, crate::pgtable_types::__supported_pte_mask())
}

/// The PTE half of `mprotect`, as bit arithmetic on an x86 page-table
/// entry value (`pteval_t`: 32 bits, or 64 with PAE; Linux
/// `arch/x86/include/asm/pgtable.h`, `pgtable_types.h`). The kernel's
/// mprotect and fault paths call these, so that the rules are host-tested
/// here. (The picture is the low word; a PAE entry adds the frame's high
/// bits and NX above it, see `crate::pgtable_types`.)
///
/// ```text
///   31                    12 11   9  8   7   6   5   4   3   2   1   0
///  +------------------------+------+---+---+---+---+---+---+---+---+---+
///  |   page frame number    | avail| G |PAT| D | A |PCD|PWT| U |RW | P |
///  +------------------------+------+---+---+---+---+---+---+---+---+---+
///
///  P=1            present: the CPU walks it (G, global, is for kernel
///                 mappings only: never set in a user PTE)
///  P=0, bit 8=1   _PAGE_PROTNONE: a PROT_NONE page. The CPU ignores every
///                 other bit of a not-present entry, so the kernel keeps the
///                 frame number there and reuses G's bit as the mark.
///                 pte_present() is true (the kernel sees a page), the CPU
///                 faults on every access (and the fault is refused: the
///                 area has no access bit).
///  P=0, bit 8=0,
///    rest 0       pte_none: nothing there; a fault allocates (or maps the
///                 zero page)
/// ```
///
/// Why not just clear P and keep the frame? Because then "not present" no
/// longer says "no page": every walker (munmap's zap, exit, fork's copy,
/// the fault path's `pte_none`) would have to tell a `PROT_NONE` page from
/// an empty entry some other way. `_PAGE_PROTNONE` is that way, one bit.
pub mod pte {
    use super::PgProt;
    pub use crate::pgtable_types::{
        _PAGE_ACCESSED, _PAGE_CHG_MASK, _PAGE_DIRTY, _PAGE_GLOBAL, _PAGE_NX, _PAGE_PCD, _PAGE_PRESENT, _PAGE_PROTNONE,
        _PAGE_PWT, _PAGE_RW, _PAGE_USER, PTE_PFN_MASK, pteval_t,
    };
    use crate::pgtable_types::pte_t;

    // PgProt's bits are these bits.
    const _: () = assert!(PgProt::PRESENT.bits() as pteval_t == _PAGE_PRESENT && PgProt::RW.bits() as pteval_t == _PAGE_RW);
    const _: () = assert!(
        PgProt::USER.bits() as pteval_t == _PAGE_USER && PgProt::PROTNONE.bits() as pteval_t == _PAGE_PROTNONE
    );

    /// Linux `pte_none`: nothing at all there.
    pub const fn pte_none(pte: pteval_t) -> bool {
        crate::pgtable_types::pte_none(pte_t(pte))
    }

    /// Linux `pte_present`: a page is there, accessible to the CPU or
    /// `PROT_NONE`.
    pub const fn pte_present(pte: pteval_t) -> bool {
        crate::pgtable_types::pte_present(pte_t(pte))
    }

    /// Linux `pte_protnone`: a page is there but the CPU may not touch it.
    pub const fn pte_protnone(pte: pteval_t) -> bool {
        crate::pgtable_types::pte_protnone(pte_t(pte))
    }

    /// Linux `pte_modify`: the same frame (and caching, accessed, dirty
    /// bits) with protection `newprot`.
    ///
    /// The new protection goes through `massage_pgprot` as in Linux's
    /// (`check_pgprot`): `vm_page_prot` already did, but a caller's own
    /// `PgProt` must not put NX into an entry on a CPU without it either.
    pub fn pte_modify(pte: pteval_t, newprot: PgProt) -> pteval_t {
        (pte & _PAGE_CHG_MASK) | (crate::pgtable_types::massage_pgprot(newprot.bits()) & !_PAGE_CHG_MASK)
    }

    /// The entry `change_pte_range` (mprotect) writes for a present
    /// entry (`pte_present`): [`pte_modify`] to the area's new
    /// protection, but never writable.
    ///
    /// Ours, simpler than Linux 6.1: a PTE becomes writable only through a
    /// write fault (`do_wp_page`), which alone decides whether the page may
    /// be written in place or must be copied first (a page still shared
    /// since fork, the zero page). Linux 6.1 sets the write bit here for
    /// a private page it knows is exclusive (`PageAnonExclusive`, through
    /// `can_change_pte_writable`), and for shared mappings from
    /// `vm_page_prot`; we pay one fault per page written after
    /// `mprotect(PROT_WRITE)` instead.
    pub fn change_pte(pte: pteval_t, newprot: PgProt) -> pteval_t {
        pte_modify(pte, newprot) & !_PAGE_RW
    }
}

/// `mmap`/`mprotect` protection bits (`PROT_*`, `asm-generic/mman-common.h`).
pub mod prot {
    /// Pages may be read.
    pub const PROT_READ: u32 = 0x1;
    /// Pages may be written.
    pub const PROT_WRITE: u32 = 0x2;
    /// Pages may be executed.
    pub const PROT_EXEC: u32 = 0x4;
    /// Accepted and ignored (Linux: atomic ops allowed; a no-op on x86).
    pub const PROT_SEM: u32 = 0x8;
    /// No access.
    pub const PROT_NONE: u32 = 0x0;
    /// `mprotect`: extend the change down to the start of a growsdown area.
    pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
    /// `mprotect`: extend the change up to the end of a growsup area.
    pub const PROT_GROWSUP: u32 = 0x0200_0000;
}
use prot::*;

bitflags! {
    /// `mmap` flags (`MAP_*`, Linux's values for i386).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MapFlags: u32 {
        /// Share changes with every other mapping of the object.
        const MAP_SHARED          = 0x01;
        /// Changes are private (copy-on-write).
        const MAP_PRIVATE         = 0x02;
        /// Exactly at `addr`, replacing whatever is there.
        const MAP_FIXED           = 0x10;
        /// Not backed by a file: zero-filled.
        const MAP_ANONYMOUS       = 0x20;
        /// A stack: the area gets `VM_GROWSDOWN`.
        const MAP_GROWSDOWN       = 0x0100;
        /// Ignored (historic).
        const MAP_DENYWRITE       = 0x0800;
        /// Ignored (historic).
        const MAP_EXECUTABLE      = 0x1000;
        /// Do not reserve swap: nothing to do without accounting.
        const MAP_NORESERVE       = 0x4000;
        /// Prefault the pages: the kernel's job after `do_mmap` returns.
        const MAP_POPULATE        = 0x8000;
        /// A hint that this is a thread stack; no effect on x86.
        const MAP_STACK           = 0x20000;
        /// Exactly at `addr`, but fail with `-EEXIST` if anything is there.
        const MAP_FIXED_NOREPLACE = 0x100000;
    }
}

impl MapFlags {
    /// Linux `MAP_TYPE`: the bits that say shared or private.
    pub const MAP_TYPE: u32 = 0x0f;
}

/// Linux `calc_vm_prot_bits`: `PROT_*` to `VM_*` (the same low bits).
pub fn calc_vm_prot_bits(prot: u32) -> VmFlags {
    VmFlags::from_bits_truncate(prot) & VmFlags::VM_ACCESS_FLAGS
}

/// Linux `calc_vm_flag_bits`: the `MAP_*` flags that become `VM_*` flags.
pub fn calc_vm_flag_bits(flags: MapFlags) -> VmFlags {
    if flags.contains(MapFlags::MAP_GROWSDOWN) {
        VmFlags::VM_GROWSDOWN
    } else {
        VmFlags::empty()
    }
}

// --- layout constants ------------------------------------------------------

/// Linux `stack_guard_gap`: 256 pages (1 MiB) kept free below a
/// `VM_GROWSDOWN` area, so that a stack cannot grow into the mapping below
/// it and a large stack frame cannot jump over the gap (the 2017 "Stack
/// Clash" fix). `mmap` does not place mappings in it either.
pub const STACK_GUARD_GAP: usize = 256 << PAGE_SHIFT;

/// Linux `CONFIG_DEFAULT_MMAP_MIN_ADDR` as distributions set it (Debian:
/// 65536): nothing is mapped below this, so that a kernel NULL-pointer
/// dereference cannot be turned into an exploit by mapping page 0.
pub const DEFAULT_MMAP_MIN_ADDR: usize = 0x10000;

/// Linux `_STK_LIM`: the default `RLIMIT_STACK`, 8 MiB.
pub const DEFAULT_STACK_RLIMIT: usize = 8 << 20;

/// Linux `DEFAULT_MAX_MAP_COUNT` (`vm.max_map_count`): most VMAs per
/// process. Each costs the kernel heap memory, so a hostile program
/// splitting its mappings page by page runs out of VMAs (`-ENOMEM`), not
/// the kernel out of heap.
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

/// Linux `STACK_TOP` on i386 without randomisation: the stack starts at
/// the top of user space.
pub const STACK_TOP: usize = TASK_SIZE;

/// Linux `TASK_UNMAPPED_BASE` on i386 (`PAGE_ALIGN(TASK_SIZE / 3)`,
/// 1 GiB): where the bottom-up search starts.
pub const fn task_unmapped_base(task_size: usize) -> usize {
    (task_size / 3 + PAGE_SIZE - 1) & PAGE_MASK
}

/// Linux `mmap_base` (`arch/x86/mm/mmap.c`) without randomisation: the top
/// of the top-down mmap area. It leaves room below the stack for the
/// stack's limit plus the guard gap, but never less than 128 MiB and never
/// more than 5/6 of the address space. With the default 8 MiB limit on
/// i386 this is `0xB800_0000`.
pub fn mmap_base(task_size: usize, stack_rlimit: usize) -> usize {
    const SIZE_128M: usize = 128 << 20;
    let mut gap = stack_rlimit;
    let pad = STACK_GUARD_GAP; // + stack_maxrandom_size(), 0 without randomisation
    // "Values close to RLIM_INFINITY can overflow."
    if let Some(g) = gap.checked_add(pad) {
        gap = g;
    }
    let gap_max = (task_size / 6) * 5;
    let gap = gap.clamp(SIZE_128M, gap_max);
    page_align(task_size - gap).unwrap_or(task_size)
}

// --- errors --------------------------------------------------------------

/// Linux errno numbers the VMA operations return.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// Out of memory (and "no such mapping" for `mprotect`).
    pub const ENOMEM: i32 = 12;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// Exists.
    pub const EEXIST: i32 = 17;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Value too large for defined data type.
    pub const EOVERFLOW: i32 = 75;
    /// No such device (a file whose `f_op` has no `mmap`).
    pub const ENODEV: i32 = 19;
}

/// Why a VMA operation failed. The variant says what happened;
/// [`errno`](Self::errno) gives the number Linux returns for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaError {
    /// An address that must be page-aligned is not (`EINVAL`).
    Unaligned {
        /// The offending address.
        addr: usize,
    },
    /// A length of zero where Linux refuses one (`munmap`, `mmap`: `EINVAL`).
    ZeroLength,
    /// `munmap` of a range that is not inside user space (`EINVAL`).
    OutsideUserSpace {
        /// Start of the range.
        start: usize,
        /// Its length.
        len: usize,
    },
    /// The length, rounded up to pages, wraps around the address space
    /// (`ENOMEM`).
    LengthOverflow {
        /// Start of the range.
        start: usize,
        /// Its length.
        len: usize,
    },
    /// A VMA would be empty, reversed, unaligned or beyond `TASK_SIZE`
    /// (`EINVAL`).
    BadRange {
        /// Proposed `vm_start`.
        start: usize,
        /// Proposed `vm_end`.
        end: usize,
    },
    /// `insert_vm_struct` of a range that overlaps an existing area
    /// (`ENOMEM`, as Linux).
    Overlap {
        /// Start of the new area.
        start: usize,
        /// End of the new area.
        end: usize,
    },
    /// `split_vma` at an address that is not strictly inside an area
    /// (`EINVAL`).
    NotInsideVma {
        /// The split address.
        addr: usize,
    },
    /// `mprotect` found a page with no VMA in its range (`ENOMEM`).
    Unmapped {
        /// The first unmapped address.
        addr: usize,
    },
    /// `mprotect` asked for an access the area may never have: its
    /// `VM_MAY*` bit is clear (`EACCES`).
    AccessDenied {
        /// Start of the area that refused.
        vm_start: usize,
        /// The access bits asked for.
        requested: VmFlags,
    },
    /// Unknown bits in `prot` (`EINVAL`).
    BadProt {
        /// The `prot` argument.
        prot: u32,
    },
    /// `MAP_SHARED`/`MAP_PRIVATE` missing or invalid, or an invalid
    /// combination of flags (`EINVAL`).
    BadMapFlags {
        /// The `flags` argument.
        flags: u32,
    },
    /// A file mapping the open file's mode does not allow (`EACCES`):
    /// not open for reading, or `PROT_WRITE` with `MAP_SHARED` and not
    /// open for writing.
    FileAccess {
        /// The `prot` asked for.
        prot: u32,
    },
    /// A file that cannot be mapped (a pipe, a terminal: no `f_op->mmap`;
    /// `ENODEV`).
    NoMmap,
    /// The file offset plus the length overflows (`EOVERFLOW`).
    PgoffOverflow {
        /// The page offset.
        pgoff: usize,
    },
    /// No free range of this length (`ENOMEM`).
    NoUnmappedArea {
        /// The length asked for.
        len: usize,
    },
    /// `MAP_FIXED_NOREPLACE` over an existing mapping (`EEXIST`).
    Exists {
        /// Start of the requested range.
        start: usize,
        /// End of the requested range.
        end: usize,
    },
    /// A fixed mapping, or a stack, below `mmap_min_addr` (`EPERM`, as
    /// Linux for a process without `CAP_SYS_RAWIO`).
    BelowMmapMinAddr {
        /// The offending address.
        addr: usize,
    },
    /// The process has `max_map_count` areas already (`ENOMEM`).
    TooManyMappings {
        /// The limit.
        max: usize,
    },
    /// No memory for a new area (Linux `vm_area_alloc` / `vm_area_dup`
    /// returning NULL: `ENOMEM`); see [`MmMap::vm_area_alloc`].
    NoMemory,
    /// `expand_stack` at an address with no `VM_GROWSDOWN` area above it
    /// (`EFAULT`: the access is simply bad).
    NotAStack {
        /// The faulting address.
        addr: usize,
    },
    /// Growing the stack to `addr` would come within `stack_guard_gap` of
    /// the area below (`ENOMEM`).
    StackGuardGap {
        /// The page the stack would grow to.
        addr: usize,
        /// End of the area below.
        prev_end: usize,
    },
    /// Growing the stack would exceed `RLIMIT_STACK` (`ENOMEM`).
    StackLimit {
        /// The stack's size after growing.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Growing a stack would move its `vm_pgoff` below 0 (`ENOMEM`).
    StackPgoff {
        /// The area's page offset.
        pgoff: usize,
        /// Pages it would grow by.
        grow: usize,
    },
    /// `brk` below `start_brk` (`ENOMEM`; the system call returns the old
    /// break instead of an error).
    BrkBelowStart {
        /// The break asked for.
        brk: usize,
        /// The heap's start.
        start_brk: usize,
    },
    /// `brk` would grow into (or within a page of, or into the guard gap
    /// of) another mapping (`ENOMEM`).
    BrkCollision {
        /// The break asked for.
        brk: usize,
        /// Start of the area in the way.
        next_start: usize,
    },
    /// Shrinking `brk` over a range with no heap mapping in it (the heap
    /// was unmapped by hand; Linux refuses too, `ENOMEM`).
    BrkNotMapped {
        /// The break asked for.
        brk: usize,
    },
}

impl VmaError {
    /// The errno Linux returns for this failure (positive; the system-call
    /// layer returns `-errno`).
    pub fn errno(self) -> i32 {
        use VmaError::*;
        use errno::*;
        match self {
            Unaligned { .. } | ZeroLength | OutsideUserSpace { .. } | BadRange { .. } => EINVAL,
            NotInsideVma { .. } | BadProt { .. } | BadMapFlags { .. } => EINVAL,
            LengthOverflow { .. } | Overlap { .. } | Unmapped { .. } | NoUnmappedArea { .. } => ENOMEM,
            TooManyMappings { .. } | NoMemory | StackGuardGap { .. } | StackLimit { .. } | StackPgoff { .. } => ENOMEM,
            BrkBelowStart { .. } | BrkCollision { .. } | BrkNotMapped { .. } => ENOMEM,
            AccessDenied { .. } | FileAccess { .. } => EACCES,
            NoMmap => ENODEV,
            PgoffOverflow { .. } => EOVERFLOW,
            Exists { .. } => EEXIST,
            BelowMmapMinAddr { .. } => EPERM,
            NotAStack { .. } => EFAULT,
        }
    }
}

impl fmt::Display for VmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use VmaError::*;
        match *self {
            Unaligned { addr } => write!(f, "address {addr:#x} is not page-aligned"),
            ZeroLength => write!(f, "length is zero"),
            OutsideUserSpace { start, len } => {
                write!(f, "range {start:#x}+{len:#x} is not inside user space")
            }
            LengthOverflow { start, len } => {
                write!(f, "range {start:#x}+{len:#x} wraps around the address space")
            }
            BadRange { start, end } => write!(
                f,
                "bad VMA range {start:#x}..{end:#x}: must be page-aligned, non-empty and below TASK_SIZE"
            ),
            Overlap { start, end } => write!(f, "range {start:#x}..{end:#x} overlaps an existing VMA"),
            NotInsideVma { addr } => write!(f, "no VMA strictly contains {addr:#x} to split at"),
            Unmapped { addr } => write!(f, "no VMA maps {addr:#x}"),
            AccessDenied { vm_start, requested } => write!(
                f,
                "VMA at {vm_start:#x} may never have {requested:?} (its VM_MAY* bits are clear)"
            ),
            BadProt { prot } => write!(f, "unknown protection bits in {prot:#x}"),
            BadMapFlags { flags } => write!(f, "invalid mmap flags {flags:#x}"),
            PgoffOverflow { pgoff } => write!(f, "file page offset {pgoff:#x} plus length overflows"),
            NoUnmappedArea { len } => write!(f, "no free range of {len:#x} bytes"),
            Exists { start, end } => write!(f, "MAP_FIXED_NOREPLACE range {start:#x}..{end:#x} is already mapped"),
            BelowMmapMinAddr { addr } => write!(f, "address {addr:#x} is below mmap_min_addr"),
            TooManyMappings { max } => write!(f, "the process already has max_map_count ({max}) VMAs"),
            NoMemory => write!(f, "no memory for a new VMA"),
            NotAStack { addr } => write!(f, "no stack (VM_GROWSDOWN) VMA above {addr:#x}"),
            StackGuardGap { addr, prev_end } => write!(
                f,
                "stack growth to {addr:#x} would come within stack_guard_gap of the mapping ending at {prev_end:#x}"
            ),
            StackLimit { size, limit } => {
                write!(f, "stack of {size:#x} bytes would exceed RLIMIT_STACK ({limit:#x})")
            }
            StackPgoff { pgoff, grow } => {
                write!(f, "stack growth by {grow} pages would take vm_pgoff {pgoff:#x} below 0")
            }
            BrkBelowStart { brk, start_brk } => write!(f, "brk {brk:#x} is below start_brk {start_brk:#x}"),
            BrkCollision { brk, next_start } => {
                write!(f, "brk {brk:#x} would run into the mapping at {next_start:#x}")
            }
            BrkNotMapped { brk } => write!(f, "brk {brk:#x}: the heap above it is not mapped"),
            FileAccess { prot } => write!(f, "prot {prot:#x}: the file is not open for that"),
            NoMmap => write!(f, "the file cannot be mapped"),
        }
    }
}

// --- the VMA -------------------------------------------------------------

/// An opaque handle of the file a mapping reads from (Linux's `vm_file`).
/// This crate only compares handles (two areas of different files never
/// merge); what the number means belongs to the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A file to map, as `do_mmap` sees the open file (Linux's `struct
/// file`: `f_mode` and whether `f_op->mmap` exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFile {
    /// The file.
    pub id: FileId,
    /// Open for reading (`FMODE_READ`).
    pub readable: bool,
    /// Open for writing (`FMODE_WRITE`).
    pub writable: bool,
    /// Its file operations have `mmap` (a regular file does; a pipe or a
    /// terminal does not).
    pub mmap: bool,
}

impl MapFile {
    /// A mappable file open for reading and writing.
    pub fn rdwr(id: FileId) -> Self {
        Self { id, readable: true, writable: true, mmap: true }
    }
}

/// What backs an area's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmaKind {
    /// Zero-filled memory with no file behind it (Linux
    /// `vma_is_anonymous`: no `vm_ops`). Its `vm_pgoff` is its start
    /// page number, so that two adjacent anonymous areas have contiguous
    /// offsets and can merge.
    Anonymous,
    /// A file mapping: page `vm_pgoff` of the file is at `vm_start`.
    File(FileId),
}

/// One virtual memory area (Linux `struct vm_area_struct`): the
/// page-aligned range `[vm_start, vm_end)`, with `vm_start < vm_end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmArea {
    /// First address of the area.
    pub vm_start: usize,
    /// First address after the area.
    pub vm_end: usize,
    /// Permissions and properties.
    pub vm_flags: VmFlags,
    /// Offset of `vm_start` in the backing object, in pages.
    pub vm_pgoff: usize,
    /// Anonymous or file-backed.
    pub kind: VmaKind,
}

impl VmArea {
    /// An area, checked: page-aligned, non-empty, inside user space.
    pub fn new(
        vm_start: usize,
        vm_end: usize,
        vm_flags: VmFlags,
        kind: VmaKind,
        vm_pgoff: usize,
    ) -> Result<Self, VmaError> {
        let vma = VmArea { vm_start, vm_end, vm_flags, vm_pgoff, kind };
        vma.check(TASK_SIZE)?;
        Ok(vma)
    }

    fn check(&self, task_size: usize) -> Result<(), VmaError> {
        let (start, end) = (self.vm_start, self.vm_end);
        if offset_in_page(start) || offset_in_page(end) || start >= end || end > task_size {
            return Err(VmaError::BadRange { start, end });
        }
        Ok(())
    }

    /// Linux `vma_is_anonymous`.
    pub fn vma_is_anonymous(&self) -> bool {
        self.kind == VmaKind::Anonymous
    }

    /// Linux `vma_pages`: the area's length in pages.
    pub fn vma_pages(&self) -> usize {
        (self.vm_end - self.vm_start) >> PAGE_SHIFT
    }

    /// Does the area contain `addr`?
    pub fn contains(&self, addr: usize) -> bool {
        self.vm_start <= addr && addr < self.vm_end
    }

    /// Linux `linear_page_index`: the page offset in the backing object of
    /// the page at `addr` (which must be in the area).
    pub fn linear_page_index(&self, addr: usize) -> usize {
        debug_assert!(self.contains(addr));
        ((addr - self.vm_start) >> PAGE_SHIFT) + self.vm_pgoff
    }

    /// Linux `vma->vm_page_prot`, i.e. `vm_get_page_prot(vm_flags)`.
    /// Computed, not stored: it can never disagree with the flags.
    pub fn vm_page_prot(&self) -> PgProt {
        vm_get_page_prot(self.vm_flags)
    }

    /// Linux `vm_start_gap`: the lowest address another mapping may end
    /// at, i.e. `vm_start` less the guard gap for a stack.
    pub fn vm_start_gap(&self, stack_guard_gap: usize) -> usize {
        if self.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
            self.vm_start.saturating_sub(stack_guard_gap)
        } else {
            self.vm_start
        }
    }

    /// Linux `vm_end_gap`: `vm_end`, plus the gap for an upward-growing
    /// stack (none on x86).
    pub fn vm_end_gap(&self) -> usize {
        self.vm_end
    }

    /// This area, clipped to `[start, end)` (which must intersect it),
    /// with `vm_pgoff` following the new start.
    fn clipped(&self, start: usize, end: usize) -> VmArea {
        let s = start.max(self.vm_start);
        let e = end.min(self.vm_end);
        VmArea { vm_start: s, vm_end: e, vm_pgoff: self.linear_page_index(s), ..*self }
    }

    /// Linux `can_vma_merge_after(self)` + `can_vma_merge_before(next)`:
    /// may `self` and `next`, which must touch, be one area? Same flags,
    /// same backing, and `next`'s file offset continues `self`'s.
    pub fn can_merge_with(&self, next: &VmArea) -> bool {
        self.vm_end == next.vm_start
            && self.vm_flags == next.vm_flags
            && self.kind == next.kind
            && self.vm_pgoff.checked_add(self.vma_pages()) == Some(next.vm_pgoff)
    }
}

/// Linux `struct vm_unmapped_area_info`: what [`MmMap::vm_unmapped_area`]
/// searches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmUnmappedAreaInfo {
    /// Search from the top (`VM_UNMAPPED_AREA_TOPDOWN`) or the bottom.
    pub topdown: bool,
    /// Bytes needed (page-aligned).
    pub length: usize,
    /// The range must start at or above this.
    pub low_limit: usize,
    /// The range must end at or below this.
    pub high_limit: usize,
    /// The result satisfies `(addr - align_offset) & align_mask == 0`:
    /// 0 for page alignment, `0xf000` for 64 KiB. As in Linux, a gap must
    /// hold `length + align_mask` bytes to be considered, so that any
    /// alignment fits in it.
    pub align_mask: usize,
    /// See `align_mask`.
    pub align_offset: usize,
}

// --- the per-mm map ------------------------------------------------------

/// One process's VMAs and the layout numbers that go with them: the
/// bookkeeping half of Linux's `struct mm_struct`. `Clone` is the VMA
/// half of `dup_mmap` (fork).
#[derive(Clone, Debug)]
pub struct MmMap {
    /// The areas, keyed by `vm_end` (Linux `mm->mm_mt`).
    mm_mt: BTreeMap<usize, VmArea>,
    /// End of user space (Linux `mm->task_size`).
    pub task_size: usize,
    /// Top of the top-down mmap area (Linux `mm->mmap_base`).
    pub mmap_base: usize,
    /// Where the bottom-up fallback search starts (`TASK_UNMAPPED_BASE`).
    pub mmap_legacy_base: usize,
    /// Nothing is mapped below this (`vm.mmap_min_addr`).
    pub mmap_min_addr: usize,
    /// Free space kept below a stack (`stack_guard_gap`).
    pub stack_guard_gap: usize,
    /// `RLIMIT_STACK`: the largest a growsdown area may grow to.
    pub stack_rlimit: usize,
    /// Most areas this process may have (`vm.max_map_count`).
    pub max_map_count: usize,
    /// Start of the heap (Linux `mm->start_brk`), set by `execve`.
    pub start_brk: usize,
    /// Current break (Linux `mm->brk`); need not be page-aligned.
    pub brk: usize,
    /// May `n` new areas be had (Linux `vm_area_alloc` for a new area,
    /// `vm_area_dup` for each split: kmem_cache allocations that may
    /// fail)? Asked after the other checks and before anything changes,
    /// so a `false` is `ENOMEM` with the map as it was. The kernel's
    /// consults failslab (kernel/src/mm/mmap.rs); the default says yes.
    pub vm_area_alloc: fn(usize) -> bool,
}

impl Default for MmMap {
    fn default() -> Self {
        Self::new()
    }
}

impl MmMap {
    /// An empty address space with Linux's i386 defaults: 3 GiB of user
    /// space, `mmap_base` 128 MiB below the top, `mmap_min_addr` 64 KiB.
    /// `start_brk` and `brk` are 0 until `execve` sets them.
    pub fn new() -> Self {
        Self::with_layout(TASK_SIZE, mmap_base(TASK_SIZE, DEFAULT_STACK_RLIMIT))
    }

    /// An empty address space of `task_size` bytes with the top-down area
    /// below `mmap_base` (tests use small ones).
    pub fn with_layout(task_size: usize, mmap_base: usize) -> Self {
        MmMap {
            mm_mt: BTreeMap::new(),
            task_size,
            mmap_base,
            mmap_legacy_base: task_unmapped_base(task_size),
            mmap_min_addr: DEFAULT_MMAP_MIN_ADDR,
            stack_guard_gap: STACK_GUARD_GAP,
            stack_rlimit: DEFAULT_STACK_RLIMIT,
            max_map_count: DEFAULT_MAX_MAP_COUNT,
            start_brk: 0,
            brk: 0,
            vm_area_alloc: |_| true,
        }
    }

    /// Ask [`vm_area_alloc`](Self::vm_area_alloc) for `n` new areas.
    fn alloc_vmas(&self, n: usize) -> Result<(), VmaError> {
        if n > 0 && !(self.vm_area_alloc)(n) {
            return Err(VmaError::NoMemory);
        }
        Ok(())
    }

    /// Linux `mm->map_count`: how many areas there are.
    pub fn map_count(&self) -> usize {
        self.mm_mt.len()
    }

    /// Every area, lowest first (Linux `for_each_vma`).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &VmArea> + '_ {
        self.mm_mt.values()
    }

    /// Linux `mm->total_vm`: mapped pages, all areas together.
    pub fn total_vm(&self) -> usize {
        self.iter().map(VmArea::vma_pages).sum()
    }

    /// Take every area out (the VMA half of Linux `exit_mmap`): the kernel
    /// frees their pages and page tables.
    pub fn exit_mmap(&mut self) -> Vec<VmArea> {
        core::mem::take(&mut self.mm_mt).into_values().collect()
    }

    // --- lookups ---

    /// Linux `find_vma`: the first area with `vm_end > addr`. It may start
    /// above `addr` (then `addr` is in the hole below it): callers check
    /// `vm_start`, as in Linux, because "the area just above" is what the
    /// fault path needs to grow a stack.
    pub fn find_vma(&self, addr: usize) -> Option<&VmArea> {
        self.mm_mt.range((Excluded(addr), Unbounded)).next().map(|(_, v)| v)
    }

    /// Linux `find_vma_prev`: `find_vma(addr)` and the area just below
    /// it (the last one with `vm_end <= addr`; the last area of all if
    /// `find_vma` found none).
    pub fn find_vma_prev(&self, addr: usize) -> (Option<&VmArea>, Option<&VmArea>) {
        let prev = self.mm_mt.range(..=addr).next_back().map(|(_, v)| v);
        (self.find_vma(addr), prev)
    }

    /// Linux `vma_lookup`: the area containing `addr`, if any.
    pub fn vma_lookup(&self, addr: usize) -> Option<&VmArea> {
        self.find_vma(addr).filter(|v| v.vm_start <= addr)
    }

    /// Linux `find_vma_intersection`: the first area that intersects
    /// `[start, end)`.
    pub fn find_vma_intersection(&self, start: usize, end: usize) -> Option<&VmArea> {
        self.find_vma(start).filter(|v| v.vm_start < end)
    }

    // --- internal edits (no checks beyond debug assertions) ---

    fn put(&mut self, vma: VmArea) {
        debug_assert!(vma.check(self.task_size).is_ok(), "bad VMA {vma:x?}");
        debug_assert!(self.find_vma_intersection(vma.vm_start, vma.vm_end).is_none(), "overlap {vma:x?}");
        self.mm_mt.insert(vma.vm_end, vma);
    }

    fn take(&mut self, vm_end: usize) -> VmArea {
        self.mm_mt.remove(&vm_end).expect("VMA vanished")
    }

    /// Split the area strictly containing `addr` (if any) at `addr`.
    fn split_at(&mut self, addr: usize) {
        if let Some(&vma) = self.find_vma(addr)
            && vma.vm_start < addr
        {
            self.take(vma.vm_end);
            self.put(vma.clipped(vma.vm_start, addr));
            self.put(vma.clipped(addr, vma.vm_end));
        }
    }

    /// Merge the area ending at `addr` with the one starting there, if
    /// they may be one (the core of Linux `vma_merge`).
    fn merge_at(&mut self, addr: usize) -> bool {
        let Some(&lower) = self.mm_mt.get(&addr) else { return false };
        let Some(&upper) = self.find_vma(addr) else { return false };
        if !lower.can_merge_with(&upper) {
            return false;
        }
        self.take(lower.vm_end);
        self.take(upper.vm_end);
        self.put(VmArea { vm_end: upper.vm_end, ..lower });
        true
    }

    /// Remove every area (or part of one) in `[start, end)`, after
    /// splitting at the edges; returns the removed pieces, lowest first.
    fn remove_range(&mut self, start: usize, end: usize) -> Vec<VmArea> {
        self.split_at(start);
        self.split_at(end);
        let ends: Vec<usize> = self
            .mm_mt
            .range((Excluded(start), Unbounded))
            .take_while(|(_, v)| v.vm_start < end)
            .map(|(&e, _)| e)
            .collect();
        ends.into_iter().map(|e| self.take(e)).collect()
    }

    // --- insert, split ---

    /// Linux `insert_vm_struct`: add `vma` as it is (no merging: Linux uses
    /// this for areas set up by the kernel, such as the initial stack).
    /// An anonymous area gets `vm_pgoff = vm_start >> PAGE_SHIFT`, as in
    /// Linux. Refuses an area that is malformed (`EINVAL`) or overlaps
    /// another (`ENOMEM`).
    pub fn insert_vm_struct(&mut self, mut vma: VmArea) -> Result<(), VmaError> {
        vma.check(self.task_size)?;
        if self.find_vma_intersection(vma.vm_start, vma.vm_end).is_some() {
            return Err(VmaError::Overlap { start: vma.vm_start, end: vma.vm_end });
        }
        if vma.vma_is_anonymous() {
            vma.vm_pgoff = vma.vm_start >> PAGE_SHIFT;
        }
        self.put(vma);
        Ok(())
    }

    /// Linux `split_vma`: cut the area containing `addr` into
    /// `[vm_start, addr)` and `[addr, vm_end)`; the upper part's `vm_pgoff`
    /// moves on by the lower part's length. `addr` must be page-aligned and
    /// strictly inside an area; refused with `ENOMEM` when the process is
    /// at `max_map_count`.
    pub fn split_vma(&mut self, addr: usize) -> Result<(), VmaError> {
        if offset_in_page(addr) {
            return Err(VmaError::Unaligned { addr });
        }
        match self.find_vma(addr) {
            Some(v) if v.vm_start < addr => {}
            _ => return Err(VmaError::NotInsideVma { addr }),
        }
        if self.map_count() >= self.max_map_count {
            return Err(VmaError::TooManyMappings { max: self.max_map_count });
        }
        self.alloc_vmas(1)?;
        self.split_at(addr);
        Ok(())
    }

    // --- munmap ---

    /// Linux `do_munmap`: unmap `[start, start + PAGE_ALIGN(len))`, which
    /// may cover parts of several areas and holes (holes are fine: unmapping
    /// nothing succeeds). Areas cut by the edges are split. Returns the
    /// removed pieces, lowest first: the kernel frees their pages and
    /// flushes the TLB for each.
    ///
    /// Errors, as Linux: `start` not page-aligned or the range not inside
    /// user space or `len == 0`: `EINVAL`; a split in the middle of an area
    /// when the process is at `max_map_count`: `ENOMEM`.
    pub fn do_munmap(&mut self, start: usize, len: usize) -> Result<Vec<VmArea>, VmaError> {
        if offset_in_page(start) {
            return Err(VmaError::Unaligned { addr: start });
        }
        if start > self.task_size || len > self.task_size - start {
            return Err(VmaError::OutsideUserSpace { start, len });
        }
        let len = page_align(len).ok_or(VmaError::OutsideUserSpace { start, len })?;
        if len == 0 {
            return Err(VmaError::ZeroLength);
        }
        let end = start + len;
        let Some(&first) = self.find_vma_intersection(start, end) else { return Ok(Vec::new()) };
        // Unmapping the middle of one area makes two of it.
        if first.vm_start < start && end < first.vm_end && self.map_count() >= self.max_map_count {
            return Err(VmaError::TooManyMappings { max: self.max_map_count });
        }
        // An area cut by either edge is split (Linux `__split_vma` ->
        // `vm_area_dup` each).
        let cut_at_end = self.find_vma(end - 1).is_some_and(|v| v.vm_start < end && end < v.vm_end);
        self.alloc_vmas(usize::from(first.vm_start < start) + usize::from(cut_at_end))?;
        Ok(self.remove_range(start, end))
    }

    // --- mmap ---

    /// Linux `mmap_region`: map `[addr, addr + len)` (page-aligned) with
    /// these flags and backing, replacing whatever was there (returned, as
    /// by [`do_munmap`](Self::do_munmap)). The new area merges with its
    /// neighbours when it may.
    pub fn mmap_region(
        &mut self,
        addr: usize,
        len: usize,
        vm_flags: VmFlags,
        kind: VmaKind,
        pgoff: usize,
    ) -> Result<Vec<VmArea>, VmaError> {
        let vma = VmArea { vm_start: addr, vm_end: addr.wrapping_add(len), vm_flags, vm_pgoff: pgoff, kind };
        vma.check(self.task_size)?;
        // The new area (Linux `vm_area_alloc`; asked first, and even when
        // it will merge: Linux asks only when `vma_merge` fails, after the
        // old range is unmapped). The range is valid (checked above), so
        // the only failures left are ENOMEM: max_map_count, or no memory
        // for the new area or a split.
        self.alloc_vmas(1)?;
        let removed = self.do_munmap(addr, len)?;
        self.put(vma);
        self.merge_at(vma.vm_end);
        self.merge_at(vma.vm_start);
        Ok(removed)
    }

    /// Linux `do_mmap` for the bookkeeping: check the arguments, turn `prot`
    /// and `flags` into `vm_flags`, choose the address
    /// ([`get_unmapped_area`](Self::get_unmapped_area)) and map it
    /// ([`mmap_region`](Self::mmap_region)). `file` is `None` for
    /// `MAP_ANONYMOUS` (the caller has looked up the descriptor otherwise,
    /// and checked the file's open mode: `-EACCES` for a write-shared
    /// mapping of a file not open for writing is the VFS's business).
    ///
    /// Returns the address and the areas the mapping replaced.
    ///
    /// As in Linux, unknown `prot` bits are ignored (only `mprotect`
    /// checks them), and unknown `flags` bits too. `MAP_SHARED_VALIDATE`
    /// is taken as `MAP_SHARED` for a file (Linux also refuses unknown
    /// flags with it, `-EOPNOTSUPP`) and refused for anonymous memory.
    ///
    /// A shared anonymous mapping gets `VM_SHARED | VM_MAYSHARE` and
    /// `pgoff` 0 as in Linux; Linux then backs it with a shmem file
    /// (`shmem_zero_setup`), and the kernel must do the same before its
    /// pages are shared across `fork`.
    pub fn do_mmap(
        &mut self,
        addr: usize,
        len: usize,
        prot: u32,
        flags: u32,
        file: Option<MapFile>,
        pgoff: usize,
    ) -> Result<(usize, Vec<VmArea>), VmaError> {
        let mut mflags = MapFlags::from_bits_truncate(flags);
        let map_type = flags & MapFlags::MAP_TYPE;
        if len == 0 {
            return Err(VmaError::ZeroLength);
        }
        if mflags.contains(MapFlags::MAP_FIXED_NOREPLACE) {
            mflags |= MapFlags::MAP_FIXED;
        }
        let mut addr = addr;
        if !mflags.contains(MapFlags::MAP_FIXED) {
            addr = self.round_hint_to_min(addr);
        }
        let len = match page_align(len) {
            Some(l) if l != 0 => l,
            _ => return Err(VmaError::LengthOverflow { start: addr, len }),
        };
        if pgoff.checked_add(len >> PAGE_SHIFT).is_none() {
            return Err(VmaError::PgoffOverflow { pgoff });
        }
        if self.map_count() > self.max_map_count {
            return Err(VmaError::TooManyMappings { max: self.max_map_count });
        }
        let mut vm_flags = calc_vm_prot_bits(prot)
            | calc_vm_flag_bits(mflags)
            | VmFlags::VM_MAYREAD
            | VmFlags::VM_MAYWRITE
            | VmFlags::VM_MAYEXEC;
        let shared = match (map_type, file) {
            (0x01, _) | (0x03, Some(_)) => true,
            (0x02, _) => false,
            _ => return Err(VmaError::BadMapFlags { flags }),
        };
        if shared && file.is_none() {
            if vm_flags.contains(VmFlags::VM_GROWSDOWN) {
                return Err(VmaError::BadMapFlags { flags });
            }
            vm_flags |= VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
        }
        let addr = self.get_unmapped_area(addr, len, mflags)?;
        if mflags.contains(MapFlags::MAP_FIXED_NOREPLACE) && self.find_vma_intersection(addr, addr + len).is_some() {
            return Err(VmaError::Exists { start: addr, end: addr + len });
        }
        if let Some(f) = file {
            // Linux's `do_mmap` file switch, after the address is chosen
            // and in its order: a shared mapping asking to write needs
            // FMODE_WRITE; one of a file not open for writing may never
            // become writable (VM_MAYWRITE and VM_SHARED cleared, so it
            // behaves as a read-only private one and `mprotect(PROT_WRITE)`
            // is `EACCES`); every file mapping needs FMODE_READ, then
            // `f_op->mmap`; and a file area never grows.
            if shared {
                if prot & PROT_WRITE != 0 && !f.writable {
                    return Err(VmaError::FileAccess { prot });
                }
                vm_flags |= VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
                if !f.writable {
                    vm_flags.remove(VmFlags::VM_MAYWRITE | VmFlags::VM_SHARED);
                }
            }
            if !f.readable {
                return Err(VmaError::FileAccess { prot });
            }
            if !f.mmap {
                return Err(VmaError::NoMmap);
            }
            if vm_flags.contains(VmFlags::VM_GROWSDOWN) {
                return Err(VmaError::BadMapFlags { flags });
            }
        }
        let (kind, pgoff) = match file {
            Some(f) => (VmaKind::File(f.id), pgoff),
            // Linux's choice: a shared anonymous object starts at offset 0,
            // a private one "at" its address, so neighbours stay mergeable.
            None if shared => (VmaKind::Anonymous, 0),
            None => (VmaKind::Anonymous, addr >> PAGE_SHIFT),
        };
        let removed = self.mmap_region(addr, len, vm_flags, kind, pgoff)?;
        Ok((addr, removed))
    }

    /// Linux `round_hint_to_min`: a non-zero hint below `mmap_min_addr` is
    /// moved up to it.
    fn round_hint_to_min(&self, hint: usize) -> usize {
        let hint = hint & PAGE_MASK;
        if hint != 0 && hint < self.mmap_min_addr {
            return page_align(self.mmap_min_addr).unwrap_or(self.mmap_min_addr);
        }
        hint
    }

    // --- get_unmapped_area ---

    /// Linux `get_unmapped_area` for anonymous and file mappings: where a
    /// mapping of `len` bytes goes.
    ///
    /// * `MAP_FIXED`: at `addr` exactly (it must be page-aligned and the
    ///   range inside user space; below `mmap_min_addr` is `EPERM`).
    /// * Otherwise a non-zero `addr` is a hint, taken if the whole range
    ///   is free there (clear of stack guard gaps too) and above
    ///   `mmap_min_addr`.
    /// * Otherwise Linux's i386 default, the top-down search
    ///   (`arch_get_unmapped_area_topdown`): the highest free range below
    ///   `mmap_base`, so mappings grow down towards the heap and the space
    ///   between stays one big hole. If that fails, bottom-up from
    ///   `TASK_UNMAPPED_BASE` to the top.
    pub fn get_unmapped_area(&self, addr: usize, len: usize, flags: MapFlags) -> Result<usize, VmaError> {
        if len > self.task_size {
            return Err(VmaError::NoUnmappedArea { len });
        }
        let addr = self.arch_get_unmapped_area_topdown(addr, len, flags)?;
        if addr > self.task_size - len {
            return Err(VmaError::NoUnmappedArea { len });
        }
        if offset_in_page(addr) {
            return Err(VmaError::Unaligned { addr });
        }
        // security_mmap_addr / cap_mmap_addr, for a process without
        // CAP_SYS_RAWIO.
        if addr < self.mmap_min_addr {
            return Err(VmaError::BelowMmapMinAddr { addr });
        }
        Ok(addr)
    }

    /// Linux `generic_get_unmapped_area_topdown` (`mm/mmap.c`), which i386
    /// uses (x86's own version is 64-bit only).
    fn arch_get_unmapped_area_topdown(&self, addr: usize, len: usize, flags: MapFlags) -> Result<usize, VmaError> {
        let mmap_end = self.task_size;
        if len > mmap_end - self.mmap_min_addr.min(mmap_end) {
            return Err(VmaError::NoUnmappedArea { len });
        }
        if flags.contains(MapFlags::MAP_FIXED) {
            return Ok(addr);
        }
        if addr != 0
            && let Some(addr) = page_align(addr)
        {
            let (vma, prev) = self.find_vma_prev(addr);
            if mmap_end - len >= addr
                && addr >= self.mmap_min_addr
                && vma.is_none_or(|v| addr + len <= v.vm_start_gap(self.stack_guard_gap))
                && prev.is_none_or(|p| addr >= p.vm_end_gap())
            {
                return Ok(addr);
            }
        }
        let mut info = VmUnmappedAreaInfo {
            topdown: true,
            length: len,
            low_limit: PAGE_SIZE.max(self.mmap_min_addr),
            high_limit: self.mmap_base,
            align_mask: 0,
            align_offset: 0,
        };
        self.vm_unmapped_area(&info).or_else(|_| {
            // "A failed mmap() very likely causes application failure, so
            // fall back to the bottom-up function here."
            info.topdown = false;
            info.low_limit = self.mmap_legacy_base;
            info.high_limit = mmap_end;
            self.vm_unmapped_area(&info)
        })
    }

    /// Linux `vm_unmapped_area`: the highest (top-down) or lowest free
    /// range of `info.length` bytes inside `[low_limit, high_limit)` that is
    /// aligned as asked and keeps clear of the guard gap below every stack.
    ///
    /// Linux finds it in O(log n) with gap sizes cached in the tree; this
    /// walks the areas in order, which is O(n) and as clear as it gets.
    pub fn vm_unmapped_area(&self, info: &VmUnmappedAreaInfo) -> Result<usize, VmaError> {
        let length = info.length;
        let fail = Err(VmaError::NoUnmappedArea { len: length });
        // Linux: search for length + align_mask, so the aligned range fits.
        let Some(need) = length.checked_add(info.align_mask) else { return fail };
        // The free gaps, as [start, end): between consecutive areas, with
        // the stack guard gap counted as used.
        let gap = |prev: Option<&VmArea>, next: Option<&VmArea>| {
            let lo = prev.map_or(0, VmArea::vm_end_gap);
            let hi = next.map_or(usize::MAX, |v| v.vm_start_gap(self.stack_guard_gap));
            (lo.max(info.low_limit), hi.min(info.high_limit))
        };
        let areas: Vec<&VmArea> = self.iter().collect();
        let gaps = (0..=areas.len()).map(|i| {
            gap(if i == 0 { None } else { Some(areas[i - 1]) }, areas.get(i).copied())
        });
        let fits = |(lo, hi): (usize, usize)| hi > lo && hi - lo >= need;
        // The subtraction only once the gap is known to hold the length: a
        // gap that ends below `length` (an mmap of 3 GiB, say) would wrap.
        // (Found by the system-call fuzzer, seed 1, kinds 41-44: an overflow
        // panic in the debug kernel.)
        let fits_topdown = |g: (usize, usize)| {
            fits(g).then(|| {
                let a = g.1 - length;
                a - (a.wrapping_sub(info.align_offset) & info.align_mask)
            })
        };
        let fits_bottomup = |g: (usize, usize)| {
            fits(g).then(|| g.0 + (info.align_offset.wrapping_sub(g.0) & info.align_mask))
        };
        let found = if info.topdown {
            gaps.rev().find_map(fits_topdown)
        } else {
            gaps.into_iter().find_map(fits_bottomup)
        };
        match found {
            Some(a) => Ok(a),
            None => fail,
        }
    }

    // --- mprotect ---

    /// Linux `do_mprotect_pkey` (the `mprotect` system call): set the
    /// access bits of every page in `[start, start + PAGE_ALIGN(len))` to
    /// `prot`, keeping each area's other flags. Areas are split at the
    /// edges and merged with neighbours that end up alike.
    ///
    /// As Linux: `start` must be page-aligned and `prot` known (`EINVAL`),
    /// `len == 0` succeeds, a range that wraps is `ENOMEM`; every page must
    /// be mapped (`ENOMEM` at the first hole) and each area must allow the
    /// access by its `VM_MAY*` bits (`EACCES`). Like Linux, the areas before
    /// a hole or a refusing area **have already been changed** when the
    /// error comes back: `mprotect` is not atomic.
    pub fn do_mprotect(&mut self, start: usize, len: usize, prot: u32) -> Result<(), VmaError> {
        self.do_mprotect_pkey(start, len, prot, |_, _, _| {})
    }

    /// [`do_mprotect`](Self::do_mprotect), calling `change_protection(start,
    /// end, newprot)` for each range whose flags it changed, right after
    /// changing them (Linux's `mprotect_fixup` calls `change_protection`
    /// there): the kernel rewrites those pages' PTEs. A range whose flags
    /// were already `prot`'s is not passed (Linux returns early from
    /// `mprotect_fixup`), so its PTEs, writable ones included, stay.
    ///
    /// The checks come in Linux's order: both `PROT_GROWSDOWN` and
    /// `PROT_GROWSUP` (`EINVAL`), an unaligned start (`EINVAL`), `len == 0`
    /// (success, whatever `prot` is), a wrapping range (`ENOMEM`), unknown
    /// `prot` bits (`EINVAL`), no area at the start (`ENOMEM`), then
    /// `PROT_GROWSDOWN`/`PROT_GROWSUP` on an area that does not grow that
    /// way (`EINVAL`).
    pub fn do_mprotect_pkey(
        &mut self,
        start: usize,
        len: usize,
        prot: u32,
        mut change_protection: impl FnMut(usize, usize, PgProt),
    ) -> Result<(), VmaError> {
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        if grows == PROT_GROWSDOWN | PROT_GROWSUP {
            return Err(VmaError::BadProt { prot });
        }
        if offset_in_page(start) {
            return Err(VmaError::Unaligned { addr: start });
        }
        if len == 0 {
            return Ok(());
        }
        let end = page_align(len)
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e > start)
            .ok_or(VmaError::LengthOverflow { start, len })?;
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | grows) != 0 {
            return Err(VmaError::BadProt { prot });
        }
        match self.find_vma(start) {
            Some(v) if v.vm_start <= start || (grows == PROT_GROWSDOWN && v.vm_start < end) => {}
            _ => return Err(VmaError::Unmapped { addr: start }),
        }
        if grows != 0 {
            // Linux: EINVAL unless the area grows that way (no area grows up
            // on x86). Ours: EINVAL for a stack too, where Linux extends
            // the change down to the stack area's start.
            return Err(VmaError::BadProt { prot });
        }
        let requested = calc_vm_prot_bits(prot);
        let mut nstart = start;
        loop {
            let vma = match self.find_vma(nstart) {
                Some(v) if v.vm_start <= nstart => *v,
                _ => return Err(VmaError::Unmapped { addr: nstart }),
            };
            let newflags = requested | (vma.vm_flags - VmFlags::VM_ACCESS_FLAGS);
            // Each access bit needs its VM_MAY* bit, four places higher.
            let may = VmFlags::from_bits_truncate(newflags.bits() >> 4);
            if !(newflags & (VmFlags::VM_ACCESS_FLAGS - may)).is_empty() {
                return Err(VmaError::AccessDenied { vm_start: vma.vm_start, requested });
            }
            let tmp = vma.vm_end.min(end);
            self.mprotect_fixup(nstart, tmp, newflags)?;
            if newflags != vma.vm_flags {
                change_protection(nstart, tmp, vm_get_page_prot(newflags));
            }
            nstart = tmp;
            if nstart >= end {
                return Ok(());
            }
        }
    }

    /// Linux `mprotect_fixup`: give `[start, end)`, which must lie inside
    /// one area, the flags `newflags`, splitting the area at the edges and
    /// merging the result with its neighbours when they are alike. Fails
    /// (changing nothing) with `ENOMEM` if a split would exceed
    /// `max_map_count`; a split avoided by a merge is not counted, as in
    /// Linux.
    pub fn mprotect_fixup(&mut self, start: usize, end: usize, newflags: VmFlags) -> Result<(), VmaError> {
        if offset_in_page(start) || offset_in_page(end) {
            return Err(VmaError::Unaligned { addr: if offset_in_page(start) { start } else { end } });
        }
        let vma = match self.find_vma(start) {
            Some(v) if v.vm_start <= start && end <= v.vm_end && start < end => *v,
            _ => return Err(VmaError::BadRange { start, end }),
        };
        if vma.vm_flags == newflags {
            return Ok(());
        }
        let piece = VmArea { vm_flags: newflags, ..vma.clipped(start, end) };
        let merges_prev = start == vma.vm_start && self.mm_mt.get(&start).is_some_and(|p| p.can_merge_with(&piece));
        let merges_next = end == vma.vm_end && self.find_vma(end).is_some_and(|n| piece.can_merge_with(n));
        let splits = usize::from(start > vma.vm_start && !merges_next) + usize::from(end < vma.vm_end && !merges_prev);
        if self.map_count() + splits > self.max_map_count {
            return Err(VmaError::TooManyMappings { max: self.max_map_count });
        }
        self.alloc_vmas(splits)?;
        self.split_at(start);
        self.split_at(end);
        self.take(end);
        self.put(piece);
        self.merge_at(end);
        self.merge_at(start);
        Ok(())
    }

    // --- the stack ---

    /// Grow the stack down to cover `addr`, for a fault at `addr` (the
    /// fault path's `expand_stack(vma, addr)`: Linux's caller has already
    /// done the `find_vma`, this one does it itself). `addr` inside an area
    /// is nothing to do; below an area without `VM_GROWSDOWN` (or with no
    /// area above) it is a bad access (`EFAULT`); otherwise see
    /// [`expand_downwards`](Self::expand_downwards).
    pub fn expand_stack(&mut self, addr: usize) -> Result<(), VmaError> {
        match self.find_vma(addr) {
            Some(v) if v.vm_start <= addr => Ok(()),
            Some(v) if v.vm_flags.contains(VmFlags::VM_GROWSDOWN) => {
                let end = v.vm_end;
                self.expand_downwards(end, addr)
            }
            _ => Err(VmaError::NotAStack { addr }),
        }
    }

    /// Linux `expand_downwards`: extend the growsdown area ending at
    /// `vm_end` down to the page of `addr`. Refused below `mmap_min_addr`
    /// (`EPERM`), within `stack_guard_gap` of an accessible non-stack area
    /// below (`ENOMEM`: the stack-clash protection), or beyond
    /// `RLIMIT_STACK` (`ENOMEM`). Like Linux it does not merge the grown
    /// stack with a stack area it comes to touch.
    pub fn expand_downwards(&mut self, vm_end: usize, addr: usize) -> Result<(), VmaError> {
        let vma = *self.mm_mt.get(&vm_end).ok_or(VmaError::NotAStack { addr })?;
        if !vma.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
            return Err(VmaError::NotAStack { addr });
        }
        let address = addr & PAGE_MASK;
        if address < self.mmap_min_addr {
            return Err(VmaError::BelowMmapMinAddr { addr: address });
        }
        if address >= vma.vm_start {
            return Ok(());
        }
        let (_, prev) = self.find_vma_prev(vma.vm_start);
        if let Some(prev) = prev {
            // prev->vm_end <= address: find_vma(addr) found this area.
            if address < prev.vm_end {
                return Err(VmaError::StackGuardGap { addr: address, prev_end: prev.vm_end });
            }
            if !prev.vm_flags.contains(VmFlags::VM_GROWSDOWN)
                && prev.vm_flags.is_accessible()
                && address - prev.vm_end < self.stack_guard_gap
            {
                return Err(VmaError::StackGuardGap { addr: address, prev_end: prev.vm_end });
            }
        }
        // acct_stack_growth
        let size = vma.vm_end - address;
        if size > self.stack_rlimit {
            return Err(VmaError::StackLimit { size, limit: self.stack_rlimit });
        }
        let grow = (vma.vm_start - address) >> PAGE_SHIFT;
        // The offset of the new start must not go below 0 (Linux: "if
        // (grow <= vma->vm_pgoff)"); only a file-backed stack can hit this.
        let pgoff = vma.vm_pgoff.checked_sub(grow).ok_or(VmaError::StackPgoff { pgoff: vma.vm_pgoff, grow })?;
        let area = self.mm_mt.get_mut(&vm_end).expect("VMA vanished");
        area.vm_start = address;
        area.vm_pgoff = pgoff;
        Ok(())
    }

    // --- brk ---

    /// Linux `do_brk_flags`: map `[addr, addr + len)` (page-aligned)
    /// anonymous with the heap's flags plus `flags`, extending the area
    /// that ends at `addr` when it may. The ELF loader uses it for the bss
    /// (`vm_brk_flags`); [`brk`](Self::brk) for the heap.
    pub fn do_brk_flags(&mut self, addr: usize, len: usize, flags: VmFlags) -> Result<(), VmaError> {
        if len == 0 {
            return Ok(());
        }
        let flags = flags | VmFlags::VM_DATA_DEFAULT_FLAGS;
        // Linux check_brk_limits: get_unmapped_area(NULL, addr, len, 0,
        // MAP_FIXED) refuses a range outside user space or below
        // mmap_min_addr.
        self.get_unmapped_area(addr, len, MapFlags::MAP_FIXED)?;
        let end = addr + len;
        let vma = VmArea { vm_start: addr, vm_end: end, vm_flags: flags, vm_pgoff: addr >> PAGE_SHIFT, kind: VmaKind::Anonymous };
        vma.check(self.task_size)?;
        if let Some(v) = self.find_vma_intersection(addr, end) {
            return Err(VmaError::Overlap { start: v.vm_start, end: v.vm_end });
        }
        let merges = self.mm_mt.get(&addr).is_some_and(|p| p.can_merge_with(&vma));
        if !merges && self.map_count() >= self.max_map_count {
            return Err(VmaError::TooManyMappings { max: self.max_map_count });
        }
        self.alloc_vmas(usize::from(!merges))?;
        self.put(vma);
        self.merge_at(addr);
        Ok(())
    }

    /// The body of Linux's `brk` system call: move the break to `brk`.
    /// Growing maps the new pages (heap flags, anonymous) and refuses to
    /// come within a page of the next mapping, or into a stack's guard
    /// gap; shrinking unmaps them and returns the removed pieces. On error
    /// `self.brk` is unchanged. The system call returns `self.brk` either
    /// way (Linux's `brk` reports failure by not moving the break).
    pub fn brk(&mut self, brk: usize) -> Result<Vec<VmArea>, VmaError> {
        if brk < self.start_brk {
            return Err(VmaError::BrkBelowStart { brk, start_brk: self.start_brk });
        }
        let newbrk = page_align(brk).ok_or(VmaError::LengthOverflow { start: self.brk, len: brk })?;
        let oldbrk = page_align(self.brk).unwrap_or(self.brk & PAGE_MASK);
        if newbrk == oldbrk {
            self.brk = brk;
            return Ok(Vec::new());
        }
        if brk <= self.brk {
            // Shrink: only the heap itself may be in [newbrk, oldbrk).
            match self.find_vma(newbrk) {
                Some(v) if v.vm_start < oldbrk => {}
                _ => return Err(VmaError::BrkNotMapped { brk }),
            }
            let removed = self.do_munmap(newbrk, oldbrk - newbrk)?;
            self.brk = brk;
            return Ok(removed);
        }
        // Grow: keep a page free above the heap, and the guard gap below a stack.
        if let Some(next) = self.find_vma(oldbrk)
            && newbrk.saturating_add(PAGE_SIZE) > next.vm_start_gap(self.stack_guard_gap)
        {
            return Err(VmaError::BrkCollision { brk, next_start: next.vm_start });
        }
        self.do_brk_flags(oldbrk, newbrk - oldbrk, VmFlags::empty())?;
        self.brk = brk;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::test_support::XorShift;
        use errno::*;

    const P: usize = PAGE_SIZE;
    const RW: VmFlags = VmFlags::VM_DATA_DEFAULT_FLAGS;
    const RO: VmFlags = RW.difference(VmFlags::VM_WRITE);

    /// Every structural promise: sorted, non-overlapping, page-aligned,
    /// non-empty, keyed by `vm_end`, inside user space, and no two touching
    /// areas that could be one (except two stacks, which Linux leaves apart
    /// after one grows into the other).
    fn check(mm: &MmMap) {
        for (&key, v) in &mm.mm_mt {
            assert_eq!(key, v.vm_end, "key is not vm_end: {v:x?}");
            assert!(v.check(mm.task_size).is_ok(), "malformed {v:x?}");
        }
        let v: Vec<&VmArea> = mm.iter().collect();
        for w in v.windows(2) {
            assert!(w[0].vm_end <= w[1].vm_start, "overlap or unsorted: {:x?} {:x?}", w[0], w[1]);
            let both_stacks = w[0].vm_flags.contains(VmFlags::VM_GROWSDOWN) && w[1].vm_flags.contains(VmFlags::VM_GROWSDOWN);
            assert!(!w[0].can_merge_with(w[1]) || both_stacks, "left unmerged: {:x?} {:x?}", w[0], w[1]);
        }
    }

    fn spans(mm: &MmMap) -> Vec<(usize, usize)> {
        mm.iter().map(|v| (v.vm_start, v.vm_end)).collect()
    }

    /// A private anonymous mapping at a fixed place, through the mmap path.
    fn map(mm: &mut MmMap, start: usize, end: usize, flags: VmFlags) {
        mm.mmap_region(start, end - start, flags, VmaKind::Anonymous, start >> PAGE_SHIFT).unwrap();
        check(mm);
    }

    fn err<T: fmt::Debug>(r: Result<T, VmaError>) -> i32 {
        r.unwrap_err().errno()
    }

    // --- flags and protection ---

    #[test]
    fn vm_flags_have_linux_values() {
        use VmFlags as F;
        let expect = [
            (F::VM_READ, 1), (F::VM_WRITE, 2), (F::VM_EXEC, 4), (F::VM_SHARED, 8),
            (F::VM_MAYREAD, 0x10), (F::VM_MAYWRITE, 0x20), (F::VM_MAYEXEC, 0x40),
            (F::VM_MAYSHARE, 0x80), (F::VM_GROWSDOWN, 0x100),
        ];
        for (f, v) in expect {
            assert_eq!(f.bits(), v, "{f:?}");
        }
        assert_eq!(calc_vm_prot_bits(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM), F::VM_ACCESS_FLAGS);
    }

    #[test]
    fn private_writable_maps_read_only_for_cow_and_shared_writable_maps_writable() {
        use VmFlags as F;
        assert_eq!(vm_get_page_prot(F::VM_READ | F::VM_WRITE), PAGE_COPY);
        assert!(!PAGE_COPY.contains(PgProt::RW), "a private writable page must fault on its first write");
        assert_eq!(vm_get_page_prot(F::VM_READ | F::VM_WRITE | F::VM_SHARED), PAGE_SHARED);
        assert!(PAGE_SHARED.contains(PgProt::RW | PgProt::USER | PgProt::PRESENT));
        assert_eq!(vm_get_page_prot(F::empty()), PAGE_NONE);
        // The whole table: present iff any access, writable iff shared and
        // writable, always user; the MAY bits and GROWSDOWN change nothing.
        for i in 0..16u32 {
            let f = F::from_bits_truncate(i);
            let p = vm_get_page_prot(f | F::VM_MAYWRITE | F::VM_GROWSDOWN);
            assert_eq!(p.contains(PgProt::PRESENT), f.is_accessible(), "{f:?}");
            assert_eq!(p.contains(PgProt::USER), f.is_accessible(), "{f:?}");
            assert_eq!(p.contains(PgProt::RW), f.contains(F::VM_SHARED | F::VM_WRITE), "{f:?}");
        }
    }

    #[test]
    fn vm_exec_decides_nx_and_the_supported_mask_removes_it() {
        use crate::pgtable_types::_PAGE_NX;
        use VmFlags as F;
        for i in 0..16u32 {
            let f = F::from_bits_truncate(i);
            let with_nx = vm_get_page_prot_with(f, !0);
            let without = vm_get_page_prot_with(f, !_PAGE_NX);
            // Linux 6.1 protection_map: NX iff accessible and not VM_EXEC
            // (PAGE_NONE has no NX: it is not present).
            let want_nx = _PAGE_NX != 0 && f.is_accessible() && !f.contains(F::VM_EXEC);
            assert_eq!(!crate::pgtable_types::pteval_exec(with_nx.bits()), want_nx, "{f:?}");
            // A CPU without NX: no protection has bit 63 (P13).
            assert_eq!(without.bits() & _PAGE_NX, 0, "{f:?}");
            // Nothing else changes.
            assert_eq!(with_nx.bits() & !_PAGE_NX, without.bits(), "{f:?}");
        }
        // massage_pgprot leaves a not-present (PROT_NONE) value alone.
        assert_eq!(crate::pgtable_types::massage_pgprot_with(PAGE_NONE.bits(), 0), PAGE_NONE.bits());
    }

    #[test]
    fn mmap_base_is_128m_below_the_top_and_clamped() {
        assert_eq!(mmap_base(TASK_SIZE, DEFAULT_STACK_RLIMIT), 0xB800_0000);
        assert_eq!(MmMap::new().mmap_base, 0xB800_0000);
        // A 1 GiB stack limit leaves 1 GiB + the guard gap.
        assert_eq!(mmap_base(TASK_SIZE, 1 << 30), TASK_SIZE - (1 << 30) - STACK_GUARD_GAP);
        // RLIM_INFINITY: at most 5/6 of the space goes to the stack.
        assert_eq!(mmap_base(TASK_SIZE, usize::MAX), TASK_SIZE - (TASK_SIZE / 6) * 5);
        assert_eq!(task_unmapped_base(TASK_SIZE), 0x4000_0000);
    }

    // --- lookups ---

    #[test]
    fn find_vma_at_end_minus_one_at_end_and_in_a_hole() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RW);
        map(&mut mm, 0x20_0000, 0x20_2000, RO);
        let a = *mm.find_vma(0x10_3fff).unwrap();
        assert_eq!((a.vm_start, a.vm_end), (0x10_0000, 0x10_4000));
        // At vm_end the area is over: the next one is found, above the address.
        let b = *mm.find_vma(0x10_4000).unwrap();
        assert_eq!(b.vm_start, 0x20_0000);
        assert!(mm.vma_lookup(0x10_4000).is_none());
        // In a hole: the area above, which the caller sees starts higher.
        assert_eq!(mm.find_vma(0x15_0000).unwrap().vm_start, 0x20_0000);
        assert_eq!(mm.find_vma(0).unwrap().vm_start, 0x10_0000);
        assert!(mm.find_vma(0x20_2000).is_none());
        assert_eq!(mm.vma_lookup(0x20_1fff).unwrap().vm_start, 0x20_0000);
        // find_vma_prev
        let (v, p) = mm.find_vma_prev(0x20_1000);
        assert_eq!((v.unwrap().vm_start, p.unwrap().vm_start), (0x20_0000, 0x10_0000));
        let (v, p) = mm.find_vma_prev(0x30_0000);
        assert_eq!((v.is_none(), p.unwrap().vm_start), (true, 0x20_0000));
        let (v, p) = mm.find_vma_prev(0x10_0000);
        assert_eq!((v.unwrap().vm_start, p.is_none()), (0x10_0000, true));
        // find_vma_intersection: half-open ranges.
        assert!(mm.find_vma_intersection(0x10_4000, 0x20_0000).is_none());
        assert_eq!(mm.find_vma_intersection(0x10_4000, 0x20_0001).unwrap().vm_start, 0x20_0000);
        assert_eq!(mm.find_vma_intersection(0x10_3000, 0x10_3001).unwrap().vm_start, 0x10_0000);
    }

    // --- insert and split ---

    #[test]
    fn insert_vm_struct_refuses_overlap_and_malformed_areas_and_does_not_merge() {
        let mut mm = MmMap::new();
        let a = VmArea::new(0x10_0000, 0x10_4000, RW, VmaKind::Anonymous, 7).unwrap();
        mm.insert_vm_struct(a).unwrap();
        assert_eq!(mm.find_vma(0x10_0000).unwrap().vm_pgoff, 0x100, "anonymous pgoff is the start page");
        for (s, e) in [(0x10_3000, 0x10_5000), (0xF_F000, 0x10_1000), (0x10_1000, 0x10_2000), (0xF_0000, 0x11_0000)] {
            let v = VmArea { vm_start: s, vm_end: e, ..a };
            assert_eq!(mm.insert_vm_struct(v), Err(VmaError::Overlap { start: s, end: e }));
        }
        mm.insert_vm_struct(VmArea { vm_start: 0x10_4000, vm_end: 0x10_5000, ..a }).unwrap();
        // Touching and alike, but insert_vm_struct does not merge (Linux).
        assert_eq!(mm.map_count(), 2);
        for (s, e) in [(0x30_0000, 0x30_0000), (0x30_0001, 0x30_1000), (0x30_1000, 0x30_0000), (TASK_SIZE - P, TASK_SIZE + P)] {
            let v = VmArea { vm_start: s, vm_end: e, ..a };
            assert_eq!(mm.insert_vm_struct(v), Err(VmaError::BadRange { start: s, end: e }));
            assert_eq!(VmArea::new(s, e, RW, VmaKind::Anonymous, 0), Err(VmaError::BadRange { start: s, end: e }));
        }
        assert_eq!(mm.map_count(), 2);
    }

    #[test]
    fn split_vma_cuts_one_area_in_two_and_moves_the_upper_pgoff() {
        let mut mm = MmMap::new();
        mm.mmap_region(0x10_0000, 0x4000, RO, VmaKind::File(FileId(3)), 10).unwrap();
        mm.split_vma(0x10_1000).unwrap();
        let v: Vec<VmArea> = mm.iter().copied().collect();
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_1000), (0x10_1000, 0x10_4000)]);
        assert_eq!((v[0].vm_pgoff, v[1].vm_pgoff), (10, 11));
        assert_eq!(v[1].linear_page_index(0x10_3000), 13);
        assert_eq!(mm.split_vma(0x10_1000), Err(VmaError::NotInsideVma { addr: 0x10_1000 }));
        assert_eq!(mm.split_vma(0x20_0000), Err(VmaError::NotInsideVma { addr: 0x20_0000 }));
        assert_eq!(mm.split_vma(0x10_2001), Err(VmaError::Unaligned { addr: 0x10_2001 }));
        mm.max_map_count = 2;
        assert_eq!(mm.split_vma(0x10_2000), Err(VmaError::TooManyMappings { max: 2 }));
        assert_eq!(mm.map_count(), 2);
    }

    // --- munmap ---

    #[test]
    fn munmap_in_the_middle_splits_one_area_into_two() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_8000, RW);
        let removed = mm.do_munmap(0x10_2000, 0x3000).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_2000), (0x10_5000, 0x10_8000)]);
        assert_eq!(mm.find_vma(0x10_5000).unwrap().vm_pgoff, 0x105);
        assert_eq!(removed.len(), 1);
        assert_eq!((removed[0].vm_start, removed[0].vm_end, removed[0].vm_pgoff), (0x10_2000, 0x10_5000, 0x102));
    }

    #[test]
    fn munmap_covering_three_areas_partially_returns_three_clipped_pieces() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RW);
        map(&mut mm, 0x10_4000, 0x10_8000, RO);
        map(&mut mm, 0x10_9000, 0x10_c000, RW);
        assert_eq!(mm.map_count(), 3);
        // Unaligned length is rounded up to the page.
        let removed = mm.do_munmap(0x10_3000, 0x10_a000 - 0x10_3000 - 5).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_3000), (0x10_a000, 0x10_c000)]);
        let r: Vec<(usize, usize, usize)> = removed.iter().map(|v| (v.vm_start, v.vm_end, v.vm_pgoff)).collect();
        assert_eq!(r, [(0x10_3000, 0x10_4000, 0x103), (0x10_4000, 0x10_8000, 0x104), (0x10_9000, 0x10_a000, 0x109)]);
        assert_eq!(removed[1].vm_flags, RO);
        assert_eq!(mm.find_vma(0x10_a000).unwrap().vm_pgoff, 0x10a);
    }

    /// With no memory for a VMA (`vm_area_alloc` says no), every
    /// operation that needs one is `ENOMEM` and changes nothing; asked for
    /// as many as Linux allocates: two splits for a hole in the middle of
    /// an area, one at an edge, none for a whole area.
    #[test]
    fn no_memory_for_a_vma_is_enomem_and_changes_nothing() {
        use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        static ASKED: AtomicUsize = AtomicUsize::new(0);
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RW);
        map(&mut mm, 0x10_4000, 0x10_8000, RO);
        mm.vm_area_alloc = |n| {
            ASKED.store(n, Relaxed);
            false
        };
        let before = spans(&mm);
        assert_eq!(mm.do_munmap(0x10_1000, P), Err(VmaError::NoMemory));
        assert_eq!(ASKED.load(Relaxed), 2, "a hole in the middle: two splits");
        assert_eq!(mm.do_munmap(0x10_0000, P), Err(VmaError::NoMemory));
        assert_eq!(ASKED.load(Relaxed), 1, "at an edge: one");
        assert_eq!(err(mm.split_vma(0x10_1000)), ENOMEM);
        assert_eq!(mm.mprotect_fixup(0x10_1000, 0x10_2000, RO), Err(VmaError::NoMemory));
        assert_eq!(ASKED.load(Relaxed), 2);
        assert_eq!(spans(&mm), before);
        assert_eq!(mm.find_vma(0x10_1000).unwrap().vm_flags, RW);
        mm.vm_area_alloc = |n| {
            ASKED.store(n, Relaxed);
            true
        };
        ASKED.store(99, Relaxed);
        assert_eq!(mm.do_munmap(0x10_4000, 0x4000).unwrap().len(), 1);
        assert_eq!(ASKED.load(Relaxed), 99, "a whole area: nothing asked");
    }

    #[test]
    fn munmap_of_a_hole_succeeds_and_bad_ranges_are_refused() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RW);
        assert_eq!(mm.do_munmap(0x20_0000, 0x1000).unwrap(), []);
        assert_eq!(mm.do_munmap(0x10_0001, 0x1000), Err(VmaError::Unaligned { addr: 0x10_0001 }));
        assert_eq!(mm.do_munmap(0x10_0000, 0), Err(VmaError::ZeroLength));
        assert_eq!(mm.do_munmap(TASK_SIZE - P, 2 * P), Err(VmaError::OutsideUserSpace { start: TASK_SIZE - P, len: 2 * P }));
        assert_eq!(err(mm.do_munmap(TASK_SIZE + P, P)), EINVAL);
        assert_eq!(mm.do_munmap(TASK_SIZE, 0), Err(VmaError::ZeroLength));
        mm.max_map_count = 1;
        assert_eq!(mm.do_munmap(0x10_1000, P), Err(VmaError::TooManyMappings { max: 1 }));
        // Cutting an end off needs no new area, so the limit does not apply.
        assert_eq!(mm.do_munmap(0x10_3000, P).unwrap().len(), 1);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_3000)]);
    }

    // --- mprotect ---

    #[test]
    fn mprotect_of_the_middle_gives_three_areas_and_back_merges_to_one() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_8000, RW);
        mm.do_mprotect(0x10_2000, 0x2000, PROT_READ).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_2000), (0x10_2000, 0x10_4000), (0x10_4000, 0x10_8000)]);
        let mid = *mm.find_vma(0x10_2000).unwrap();
        assert_eq!((mid.vm_flags, mid.vm_pgoff), (RO, 0x102));
        assert_eq!(mid.vm_page_prot(), PAGE_READONLY);
        mm.do_mprotect(0x10_2000, 0x2000, PROT_READ | PROT_WRITE).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_8000)]);
        assert_eq!(mm.find_vma(0x10_0000).unwrap().vm_pgoff, 0x100);
    }

    #[test]
    fn mprotect_at_an_edge_merges_with_the_alike_neighbour() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RO);
        map(&mut mm, 0x10_4000, 0x10_8000, RW);
        // The first page of the upper area joins the lower one.
        mm.do_mprotect(0x10_4000, P, PROT_READ).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_5000), (0x10_5000, 0x10_8000)]);
        // The last page of the lower area joins the upper one.
        mm.do_mprotect(0x10_4000, P, PROT_READ | PROT_WRITE).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_4000), (0x10_4000, 0x10_8000)]);
        // Across both areas at once: one area.
        mm.do_mprotect(0x10_0000, 0x8000, PROT_READ | PROT_WRITE).unwrap();
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_8000)]);
        // Different files never merge, nor file with anonymous.
        mm.mmap_region(0x10_8000, P, RW, VmaKind::File(FileId(1)), 0x108).unwrap();
        mm.mmap_region(0x10_9000, P, RW, VmaKind::File(FileId(2)), 0x109).unwrap();
        check(&mm);
        assert_eq!(mm.map_count(), 3);
    }

    #[test]
    fn mprotect_of_a_range_with_a_hole_gives_enomem_after_changing_what_precedes_it() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RW);
        map(&mut mm, 0x10_5000, 0x10_8000, RW);
        assert_eq!(mm.do_mprotect(0x10_2000, 0x4000, PROT_READ), Err(VmaError::Unmapped { addr: 0x10_4000 }));
        check(&mm);
        // Linux is not atomic: the pages before the hole have changed.
        assert_eq!(mm.find_vma(0x10_2000).unwrap().vm_flags, RO);
        assert_eq!(mm.find_vma(0x10_5000).unwrap().vm_flags, RW);
        // A range starting in a hole changes nothing.
        assert_eq!(mm.do_mprotect(0x10_4000, 0x2000, PROT_READ), Err(VmaError::Unmapped { addr: 0x10_4000 }));
        assert_eq!(mm.find_vma(0x10_5000).unwrap().vm_flags, RW);
        assert_eq!(err(mm.do_mprotect(0x20_0000, P, PROT_READ)), ENOMEM);
    }

    #[test]
    fn mprotect_beyond_the_may_bits_is_eacces() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_2000, RW);
        let ro_forever = RO - VmFlags::VM_MAYWRITE;
        map(&mut mm, 0x10_2000, 0x10_4000, ro_forever);
        let e = mm.do_mprotect(0x10_0000, 0x4000, PROT_READ | PROT_WRITE | PROT_EXEC);
        assert_eq!(e, Err(VmaError::AccessDenied { vm_start: 0x10_2000, requested: VmFlags::VM_ACCESS_FLAGS }));
        assert_eq!(e.unwrap_err().errno(), EACCES);
        // The first area was changed before the refusal, as in Linux.
        assert!(mm.find_vma(0x10_0000).unwrap().vm_flags.contains(VmFlags::VM_EXEC));
        assert_eq!(mm.find_vma(0x10_2000).unwrap().vm_flags, ro_forever);
        // Dropping access is always allowed.
        mm.do_mprotect(0x10_2000, 0x2000, PROT_NONE).unwrap();
        assert_eq!(mm.find_vma(0x10_2000).unwrap().vm_page_prot(), PAGE_NONE);
    }

    #[test]
    fn mprotect_refuses_bad_arguments_as_linux() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_2000, RW);
        assert_eq!(mm.do_mprotect(0x10_0800, P, PROT_READ), Err(VmaError::Unaligned { addr: 0x10_0800 }));
        assert_eq!(mm.do_mprotect(0x10_0000, P, 0x10), Err(VmaError::BadProt { prot: 0x10 }));
        // Ours: PROT_GROWSDOWN is refused (Linux extends the change to the
        // start of the stack area).
        assert_eq!(err(mm.do_mprotect(0x10_0000, P, PROT_READ | PROT_GROWSDOWN)), EINVAL);
        assert_eq!(mm.do_mprotect(0x10_0000, 0, PROT_READ), Ok(()));
        assert_eq!(mm.do_mprotect(0x10_0000, usize::MAX, PROT_READ), Err(VmaError::LengthOverflow { start: 0x10_0000, len: usize::MAX }));
        assert_eq!(mm.do_mprotect(0x10_0000, P, PROT_READ | PROT_WRITE | PROT_SEM), Ok(()), "PROT_SEM is accepted");
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_2000)]);
    }

    #[test]
    fn mprotect_checks_its_arguments_in_linuxs_order() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_2000, RW);
        // len 0 succeeds before prot is looked at; an unaligned start does not.
        assert_eq!(mm.do_mprotect(0x10_0000, 0, 0x10), Ok(()));
        assert_eq!(err(mm.do_mprotect(0x10_0800, 0, PROT_READ)), EINVAL);
        // Both grow directions: EINVAL before anything else.
        assert_eq!(err(mm.do_mprotect(0x10_0800, P, PROT_GROWSDOWN | PROT_GROWSUP)), EINVAL);
        // A wrapping range is ENOMEM even with bad prot bits.
        assert_eq!(err(mm.do_mprotect(0x10_0000, usize::MAX - 10, 0x10)), ENOMEM);
        // Unknown bits, with or without an area there: EINVAL.
        assert_eq!(err(mm.do_mprotect(0x20_0000, P, 0x10)), EINVAL);
        // PROT_GROWSDOWN where there is no area: ENOMEM; on an area that is
        // not a stack (or, ours, on a stack): EINVAL.
        assert_eq!(err(mm.do_mprotect(0x20_0000, P, PROT_READ | PROT_GROWSDOWN)), ENOMEM);
        assert_eq!(err(mm.do_mprotect(0x0f_f000, 2 * P, PROT_READ | PROT_GROWSDOWN)), EINVAL);
        assert_eq!(err(mm.do_mprotect(0x10_0000, P, PROT_READ | PROT_GROWSUP)), EINVAL);
        assert_eq!(err(mm.do_mprotect(0x0f_f000, 2 * P, PROT_READ | PROT_GROWSUP)), ENOMEM);
        assert_eq!(mm.find_vma(0x10_0000).unwrap().vm_flags, RW, "nothing changed");
    }

    #[test]
    fn mprotect_reports_each_changed_range_with_its_new_page_prot() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RW);
        map(&mut mm, 0x10_4000, 0x10_8000, RO);
        let mut seen = Vec::new();
        // Over both areas: only the RW one changes (the RO one is already
        // read-only, so its PTEs are left alone, as in Linux).
        mm.do_mprotect_pkey(0x10_2000, 0x4000, PROT_READ, |s, e, p| seen.push((s, e, p))).unwrap();
        assert_eq!(seen, [(0x10_2000, 0x10_4000, PAGE_READONLY)]);
        seen.clear();
        mm.do_mprotect_pkey(0x10_1000, 0x6000, PROT_NONE, |s, e, p| seen.push((s, e, p))).unwrap();
        assert_eq!(seen, [(0x10_1000, 0x10_2000, PAGE_NONE), (0x10_2000, 0x10_7000, PAGE_NONE)]);
        seen.clear();
        // A hole after the first area: the first is changed and reported,
        // then ENOMEM.
        mm.do_munmap(0x10_8000, P).unwrap();
        map(&mut mm, 0x10_9000, 0x10_a000, RW);
        let e = mm.do_mprotect_pkey(0x10_7000, 0x3000, PROT_READ | PROT_WRITE, |s, e, p| seen.push((s, e, p)));
        assert_eq!(e, Err(VmaError::Unmapped { addr: 0x10_8000 }));
        assert_eq!(seen, [(0x10_7000, 0x10_8000, PAGE_COPY)]);
        check(&mm);
    }

    #[test]
    fn a_prot_none_pte_keeps_its_frame_and_is_present_to_the_kernel_only() {
        use pte::*;
        let frame = 0x1234_5000;
        let rw = frame | _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
        let none = change_pte(rw, PAGE_NONE);
        assert_eq!(none, frame | _PAGE_PROTNONE | _PAGE_ACCESSED | _PAGE_DIRTY);
        assert_eq!(none & _PAGE_PRESENT, 0, "the CPU must fault on it");
        assert!(pte_present(none) && pte_protnone(none) && !pte_none(none), "the kernel sees a page");
        assert_eq!(none & PTE_PFN_MASK, frame, "same frame");
        // Back to read-write: the same frame, present, user, not writable
        // (the write fault decides), dirty kept; not executable (NX, PAE).
        let back = change_pte(none, PAGE_COPY);
        assert_eq!(back, frame | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_NX);
        assert_eq!(change_pte(back, PAGE_COPY_EXEC), back & !_PAGE_NX, "mprotect(PROT_EXEC) clears NX");
        assert!(pte_present(back) && !pte_protnone(back));
        // Even to a shared writable protection: the write fault sets RW.
        assert_eq!(change_pte(none, PAGE_SHARED) & _PAGE_RW, 0);
        assert_eq!(pte_modify(none, PAGE_SHARED) & _PAGE_RW, _PAGE_RW, "pte_modify itself is Linux's");
        // Read-only: RW goes, the rest stays.
        assert_eq!(change_pte(rw, PAGE_READONLY), (rw & !_PAGE_RW) | _PAGE_NX);
        // The cache bits are kept; a stale PROTNONE mark is not.
        let pcd = frame | _PAGE_PRESENT | _PAGE_PCD | _PAGE_PWT;
        assert_eq!(change_pte(pcd, PAGE_NONE), frame | _PAGE_PCD | _PAGE_PWT | _PAGE_PROTNONE);
        // Kernel-style entries: present and global is present, not protnone.
        assert!(pte_present(frame | _PAGE_PRESENT | _PAGE_GLOBAL) && !pte_protnone(frame | _PAGE_PRESENT | _PAGE_GLOBAL));
        assert!(pte_none(0) && !pte_present(0) && !pte_protnone(0));
        assert!(!pte_present(frame), "a frame number alone is not a page");
        // Every row of the table: PROT_NONE rows map to a PROTNONE entry,
        // all others to a present one.
        for i in 0..16u32 {
            let p = vm_get_page_prot(VmFlags::from_bits_truncate(i));
            let e = change_pte(rw, p);
            assert_eq!(pte_protnone(e), !VmFlags::from_bits_truncate(i).is_accessible(), "{p:?}");
            assert!(pte_present(e) && e & PTE_PFN_MASK == frame);
        }
    }

    #[test]
    fn mprotect_fixup_counts_only_the_splits_it_makes_and_fails_whole() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_4000, RO);
        map(&mut mm, 0x10_4000, 0x10_8000, RW);
        mm.max_map_count = 2;
        // Needs one split, none allowed.
        assert_eq!(mm.do_mprotect(0x10_5000, P, PROT_READ), Err(VmaError::TooManyMappings { max: 2 }));
        // The split is avoided by merging with the lower neighbour: allowed.
        mm.do_mprotect(0x10_4000, P, PROT_READ).unwrap();
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_5000), (0x10_5000, 0x10_8000)]);
        // Middle of an area: two splits; with room for one only, nothing changes.
        mm.max_map_count = 3;
        assert_eq!(mm.do_mprotect(0x10_6000, P, PROT_READ), Err(VmaError::TooManyMappings { max: 3 }));
        check(&mm);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_5000), (0x10_5000, 0x10_8000)]);
        mm.max_map_count = 4;
        mm.do_mprotect(0x10_6000, P, PROT_READ).unwrap();
        assert_eq!(mm.map_count(), 4);
        // mprotect_fixup itself wants a range inside one area.
        assert_eq!(mm.mprotect_fixup(0x10_4000, 0x10_6000, RW), Err(VmaError::BadRange { start: 0x10_4000, end: 0x10_6000 }));
        assert_eq!(mm.mprotect_fixup(0x10_5800, 0x10_6000, RW), Err(VmaError::Unaligned { addr: 0x10_5800 }));
    }

    // --- mmap ---

    #[test]
    fn mmap_region_merges_with_both_neighbours_and_returns_what_it_replaced() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_2000, RW);
        map(&mut mm, 0x10_3000, 0x10_5000, RW);
        map(&mut mm, 0x10_2000, 0x10_3000, RW);
        assert_eq!(spans(&mm), [(0x10_0000, 0x10_5000)]);
        // MAP_FIXED over the middle: the old piece comes back.
        let removed = mm.mmap_region(0x10_1000, 0x2000, RO, VmaKind::Anonymous, 0x101).unwrap();
        check(&mm);
        assert_eq!(removed.iter().map(|v| (v.vm_start, v.vm_end, v.vm_flags)).collect::<Vec<_>>(), [(0x10_1000, 0x10_3000, RW)]);
        assert_eq!(mm.map_count(), 3);
        // File offsets must continue for a merge.
        mm.mmap_region(0x20_0000, P, RO, VmaKind::File(FileId(9)), 4).unwrap();
        mm.mmap_region(0x20_1000, P, RO, VmaKind::File(FileId(9)), 6).unwrap();
        assert_eq!(mm.map_count(), 5);
        mm.mmap_region(0x20_2000, P, RO, VmaKind::File(FileId(9)), 7).unwrap();
        check(&mm);
        assert_eq!(mm.map_count(), 5);
        assert_eq!(mm.find_vma(0x20_1000).unwrap().vm_end, 0x20_3000);
        assert_eq!(mm.total_vm(), 5 + 3);
    }

    #[test]
    fn do_mmap_of_a_file_checks_the_open_mode_as_linux() {
        let mut mm = MmMap::new();
        let f = FileId(7);
        let ro = MapFile { id: f, readable: true, writable: false, mmap: true };
        let wo = MapFile { id: f, readable: false, writable: true, mmap: true };
        let pipe = MapFile { id: f, readable: true, writable: false, mmap: false };
        let shared = MapFlags::MAP_SHARED.bits();
        let private = MapFlags::MAP_PRIVATE.bits();
        let rw = PROT_READ | PROT_WRITE;
        // Shared + PROT_WRITE needs FMODE_WRITE; any mapping needs FMODE_READ.
        assert_eq!(mm.do_mmap(0, P, rw, shared, Some(ro), 0).map(|r| r.0).unwrap_err().errno(), errno::EACCES);
        assert_eq!(mm.do_mmap(0, P, PROT_READ, private, Some(wo), 0).map(|r| r.0).unwrap_err().errno(), errno::EACCES);
        assert_eq!(mm.do_mmap(0, P, rw, shared, Some(wo), 0).map(|r| r.0).unwrap_err().errno(), errno::EACCES);
        // No f_op->mmap: ENODEV, but only after the mode checks (Linux's order).
        assert_eq!(mm.do_mmap(0, P, PROT_READ, private, Some(pipe), 0).map(|r| r.0), Err(VmaError::NoMmap));
        assert_eq!(VmaError::NoMmap.errno(), errno::ENODEV);
        assert_eq!(mm.do_mmap(0, P, PROT_READ, MapFlags::MAP_PRIVATE.bits() | MapFlags::MAP_GROWSDOWN.bits(), Some(ro), 0).map(|r| r.0).unwrap_err().errno(), errno::EINVAL);
        assert_eq!(mm.map_count(), 0, "nothing mapped by a refused call");
        // A private writable mapping of a read-only file is fine (the
        // writes go to private copies).
        let (a, _) = mm.do_mmap(0, P, rw, private, Some(ro), 3).unwrap();
        assert!(mm.find_vma(a).unwrap().vm_flags.contains(VmFlags::VM_MAYWRITE));
        // A read-only shared mapping of a read-only file: VM_MAYSHARE but
        // neither VM_SHARED nor VM_MAYWRITE, so it can never be made writable.
        let (b, _) = mm.do_mmap(0, P, PROT_READ, shared, Some(ro), 0).unwrap();
        let v = *mm.find_vma(b).unwrap();
        assert!(v.vm_flags.contains(VmFlags::VM_MAYSHARE));
        assert!(!v.vm_flags.intersects(VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE));
        assert_eq!(mm.do_mprotect(b, P, rw).unwrap_err().errno(), errno::EACCES);
        // Open for writing: VM_SHARED.
        let (c, _) = mm.do_mmap(0, P, rw, shared, Some(MapFile::rdwr(f)), 0).unwrap();
        assert!(mm.find_vma(c).unwrap().vm_flags.contains(VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE));
        check(&mm);
    }

    #[test]
    fn do_mmap_places_top_down_and_refuses_bad_requests() {
        let mut mm = MmMap::new();
        let anon = MapFlags::MAP_PRIVATE.bits() | MapFlags::MAP_ANONYMOUS.bits();
        let rw = PROT_READ | PROT_WRITE;
        let (a, _) = mm.do_mmap(0, 3 * P - 100, rw, anon, None, 0).unwrap();
        assert_eq!(a, 0xB800_0000 - 3 * P, "top-down, just below mmap_base");
        let v = *mm.find_vma(a).unwrap();
        assert_eq!((v.vm_end, v.vm_pgoff, v.vm_flags), (0xB800_0000, a >> PAGE_SHIFT, RW));
        let (b, _) = mm.do_mmap(0, P, rw, anon, None, 0).unwrap();
        assert_eq!(b, a - P);
        assert_eq!(mm.map_count(), 1, "adjacent anonymous mappings merge");
        // A shared anonymous mapping: VM_SHARED, pgoff 0, writable PTEs.
        let shared = MapFlags::MAP_SHARED.bits() | MapFlags::MAP_ANONYMOUS.bits();
        let (c, _) = mm.do_mmap(0, P, rw, shared, None, 0).unwrap();
        let v = *mm.find_vma(c).unwrap();
        assert_eq!((v.vm_pgoff, v.vm_page_prot()), (0, PAGE_SHARED));
        assert!(v.vm_flags.contains(VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE));
        // A file mapping keeps its offset.
        let (d, _) = mm.do_mmap(0, P, PROT_READ, MapFlags::MAP_PRIVATE.bits(), Some(MapFile::rdwr(FileId(5))), 42).unwrap();
        assert_eq!(mm.find_vma(d).unwrap().kind, VmaKind::File(FileId(5)));
        assert_eq!(mm.find_vma(d).unwrap().vm_pgoff, 42);
        // MAP_GROWSDOWN
        let (e, _) = mm.do_mmap(0, P, rw, anon | MapFlags::MAP_GROWSDOWN.bits(), None, 0).unwrap();
        assert!(mm.find_vma(e).unwrap().vm_flags.contains(VmFlags::VM_GROWSDOWN));
        check(&mm);

        let fixed = anon | MapFlags::MAP_FIXED.bits();
        let noreplace = anon | MapFlags::MAP_FIXED_NOREPLACE.bits();
        assert_eq!(mm.do_mmap(a, P, rw, noreplace, None, 0).map(|r| r.0), Err(VmaError::Exists { start: a, end: a + P }));
        assert_eq!(err(mm.do_mmap(0x10_0800, P, rw, fixed, None, 0)), EINVAL);
        assert_eq!(mm.do_mmap(0x1000, P, rw, fixed, None, 0).map(|r| r.0), Err(VmaError::BelowMmapMinAddr { addr: 0x1000 }));
        assert_eq!(mm.do_mmap(0, 0, rw, anon, None, 0).map(|r| r.0), Err(VmaError::ZeroLength));
        assert_eq!(err(mm.do_mmap(0, usize::MAX, rw, anon, None, 0)), ENOMEM);
        assert_eq!(err(mm.do_mmap(0, TASK_SIZE, rw, anon, None, 0)), ENOMEM);
        assert_eq!(err(mm.do_mmap(TASK_SIZE - P, 2 * P, rw, fixed, None, 0)), ENOMEM);
        assert_eq!(mm.do_mmap(0, P, rw, MapFlags::MAP_ANONYMOUS.bits(), None, 0).map(|r| r.0), Err(VmaError::BadMapFlags { flags: 0x20 }));
        assert_eq!(err(mm.do_mmap(0, P, rw, 0x23, None, 0)), EINVAL, "MAP_SHARED_VALIDATE anonymous");
        assert_eq!(err(mm.do_mmap(0, P, rw, shared | MapFlags::MAP_GROWSDOWN.bits(), None, 0)), EINVAL);
        assert_eq!(
            mm.do_mmap(0, P, PROT_READ, 2, Some(MapFile::rdwr(FileId(1))), usize::MAX).map(|r| r.0),
            Err(VmaError::PgoffOverflow { pgoff: usize::MAX })
        );
        assert_eq!(EOVERFLOW, VmaError::PgoffOverflow { pgoff: 0 }.errno());
        // A hint below mmap_min_addr is moved up to it; a free hint is taken.
        let (h, _) = mm.do_mmap(0x1000, P, rw, anon, None, 0).unwrap();
        assert_eq!(h, DEFAULT_MMAP_MIN_ADDR);
        let (h, _) = mm.do_mmap(0x5000_0123, P, rw, anon, None, 0).unwrap();
        assert_eq!(h, 0x5000_0000, "do_mmap rounds a hint down (round_hint_to_min)");
        // MAP_FIXED replaces and hands back the old pages.
        let (f, removed) = mm.do_mmap(a, P, PROT_READ, fixed, None, 0).unwrap();
        assert_eq!((f, removed.len(), removed[0].vm_start), (a, 1, a));
        check(&mm);
    }

    // --- get_unmapped_area ---

    #[test]
    fn get_unmapped_area_takes_a_free_hint_and_refuses_a_busy_one() {
        let mut mm = MmMap::new();
        map(&mut mm, 0x1000_0000, 0x1000_4000, RW);
        let none = MapFlags::empty();
        assert_eq!(mm.get_unmapped_area(0x2000_0000, 0x4000, none), Ok(0x2000_0000));
        assert_eq!(mm.get_unmapped_area(0x2000_0001, 0x4000, none), Ok(0x2000_1000), "rounded up to a page");
        // A hint below mmap_min_addr is not taken.
        assert_eq!(mm.get_unmapped_area(0x1000, 0x4000, none), Ok(0xB800_0000 - 0x4000));
        // Ends exactly at an area: fine. Overlaps it by a page: top-down instead.
        assert_eq!(mm.get_unmapped_area(0x0FFF_C000, 0x4000, none), Ok(0x0FFF_C000));
        assert_eq!(mm.get_unmapped_area(0x0FFF_D000, 0x4000, none), Ok(0xB800_0000 - 0x4000));
        assert_eq!(mm.get_unmapped_area(0x1000_2000, 0x1000, none), Ok(0xB800_0000 - 0x1000));
        // Just above mmap_base is fine as a hint (the search ignores it).
        assert_eq!(mm.get_unmapped_area(0xB900_0000, P, none), Ok(0xB900_0000));
        // A hint beyond user space is ignored.
        assert_eq!(mm.get_unmapped_area(TASK_SIZE - P, 2 * P, none), Ok(0xB800_0000 - 2 * P));
        // Within the guard gap below a stack: refused as a hint.
        map(&mut mm, 0x3000_0000, 0x3001_0000, RW | VmFlags::VM_GROWSDOWN);
        let in_gap = 0x3000_0000 - STACK_GUARD_GAP;
        assert_eq!(mm.get_unmapped_area(in_gap - P, P, none), Ok(in_gap - P));
        assert_eq!(mm.get_unmapped_area(in_gap, P, none), Ok(0xB800_0000 - P));
        // MAP_FIXED: the address as it is, even over a mapping.
        assert_eq!(mm.get_unmapped_area(0x1000_0000, P, MapFlags::MAP_FIXED), Ok(0x1000_0000));
        assert_eq!(mm.get_unmapped_area(0x1000_0100, P, MapFlags::MAP_FIXED), Err(VmaError::Unaligned { addr: 0x1000_0100 }));
        assert_eq!(mm.get_unmapped_area(0, P, MapFlags::MAP_FIXED), Err(VmaError::BelowMmapMinAddr { addr: 0 }));
        assert_eq!(mm.get_unmapped_area(0, TASK_SIZE + P, none), Err(VmaError::NoUnmappedArea { len: TASK_SIZE + P }));
    }

    #[test]
    fn get_unmapped_area_picks_the_highest_gap_that_fits_then_falls_back_bottom_up() {
        // A small space: 16 MiB, mmap_base at 12 MiB.
        let mut mm = MmMap::with_layout(16 << 20, 12 << 20);
        mm.stack_guard_gap = 4 * P;
        let none = MapFlags::empty();
        map(&mut mm, 0xB0_0000, 0xC0_0000, RW); // up to mmap_base
        map(&mut mm, 0xA0_0000, 0xAF_E000, RW); // leaves a 2-page gap
        assert_eq!(mm.get_unmapped_area(0, 2 * P, none), Ok(0xAF_E000));
        assert_eq!(mm.get_unmapped_area(0, 3 * P, none), Ok(0xA0_0000 - 3 * P), "the small gap is skipped");
        // A stack's guard gap is not free.
        map(&mut mm, 0x90_0000, 0xA0_0000, RW | VmFlags::VM_GROWSDOWN);
        assert_eq!(mm.get_unmapped_area(0, 3 * P, none), Ok(0x90_0000 - 4 * P - 3 * P));
        // Fill everything from mmap_min_addr to the stack's gap: top-down
        // fails, the bottom-up fallback searches from TASK_UNMAPPED_BASE up.
        map(&mut mm, DEFAULT_MMAP_MIN_ADDR, 0x90_0000 - 4 * P, RO);
        assert_eq!(mm.get_unmapped_area(0, P, none), Ok(0xAF_F000), "the top of the last gap below mmap_base");
        map(&mut mm, 0xAF_E000, 0xB0_0000, RO);
        assert_eq!(mm.get_unmapped_area(0, P, none), Ok(0xC0_0000), "bottom-up, above mmap_base");
        map(&mut mm, 0xC0_0000, 16 << 20, RO);
        assert_eq!(mm.get_unmapped_area(0, P, none), Err(VmaError::NoUnmappedArea { len: P }), "exhausted");
        mm.do_munmap(0xAF_E000, 2 * P).unwrap();
        assert_eq!(mm.get_unmapped_area(0, 2 * P, none), Ok(0xAF_E000));
        assert_eq!(mm.get_unmapped_area(0, 3 * P, none), Err(VmaError::NoUnmappedArea { len: 3 * P }));
        check(&mm);
    }

    #[test]
    fn vm_unmapped_area_aligns_and_needs_room_for_the_alignment() {
        let mut mm = MmMap::with_layout(16 << 20, 12 << 20);
        map(&mut mm, 0xBF_0000, 0xC0_0000, RW);
        let info = VmUnmappedAreaInfo {
            topdown: true,
            length: 0x2000,
            low_limit: P,
            high_limit: 0xBF_3000 - 0xF_0000, // 0xB0_3000
            align_mask: 0xF000,
            align_offset: 0,
        };
        // Highest 64 KiB-aligned address whose 2 pages fit below 0xB0_3000.
        assert_eq!(mm.vm_unmapped_area(&info), Ok(0xB0_0000));
        assert_eq!(mm.vm_unmapped_area(&VmUnmappedAreaInfo { align_offset: 0x3000, ..info }), Ok(0xAF_3000));
        let up = VmUnmappedAreaInfo { topdown: false, low_limit: 0x10_1000, high_limit: 0xC0_0000, ..info };
        assert_eq!(mm.vm_unmapped_area(&up), Ok(0x11_0000));
        // Linux's rule: a gap must hold length + align_mask, even when an
        // aligned range would fit in less.
        let tight = VmUnmappedAreaInfo { topdown: false, low_limit: 0x10_0000, high_limit: 0x10_2000, ..info };
        assert_eq!(mm.vm_unmapped_area(&tight), Err(VmaError::NoUnmappedArea { len: 0x2000 }));
        let room = VmUnmappedAreaInfo { high_limit: 0x11_1000, ..tight };
        assert_eq!(mm.vm_unmapped_area(&room), Ok(0x10_0000));
    }

    /// The fuzzer's first find (seed 1): a non-fixed mmap longer than the
    /// top gap's end address (len 0xb800_0000 under a mmap_base near
    /// 0xb7f0_0000) computed `gap_end - length` before checking that the
    /// gap holds the length, and the debug kernel panicked with "attempt to
    /// subtract with overflow". It must fail with ENOMEM's error instead,
    /// top-down and bottom-up alike.
    #[test]
    fn vm_unmapped_area_longer_than_a_gaps_end_fails_without_overflow() {
        let mut mm = MmMap::with_layout(16 << 20, 12 << 20);
        map(&mut mm, 0x10_0000, 0x10_2000, RW);
        map(&mut mm, 0xBF_0000, 0xC0_0000, RW);
        let len = 0xB0_0000; // longer than the end of the gap below 0x10_0000
        let info = VmUnmappedAreaInfo { topdown: true, length: len, low_limit: P, high_limit: 0xB0_3000, align_mask: 0, align_offset: 0 };
        assert_eq!(mm.vm_unmapped_area(&info), Err(VmaError::NoUnmappedArea { len }));
        let up = VmUnmappedAreaInfo { topdown: false, ..info };
        assert_eq!(mm.vm_unmapped_area(&up), Err(VmaError::NoUnmappedArea { len }));
        assert_eq!(mm.get_unmapped_area(0, len, MapFlags::empty()), Err(VmaError::NoUnmappedArea { len }));
    }

    // --- the stack ---

    fn with_stack() -> MmMap {
        let mut mm = MmMap::new();
        let stack = VmArea::new(STACK_TOP - 0x2_0000, STACK_TOP, VmFlags::VM_STACK_FLAGS, VmaKind::Anonymous, 0).unwrap();
        mm.insert_vm_struct(stack).unwrap();
        mm
    }

    #[test]
    fn a_fault_just_below_the_stack_grows_it_by_one_page() {
        let mut mm = with_stack();
        let bottom = STACK_TOP - 0x2_0000;
        mm.expand_stack(bottom - 4).unwrap();
        let v = *mm.find_vma(bottom - 4).unwrap();
        assert_eq!((v.vm_start, v.vm_end), (bottom - P, STACK_TOP));
        assert_eq!(v.vm_pgoff, (bottom - P) >> PAGE_SHIFT);
        // Inside the stack: nothing to do.
        mm.expand_stack(bottom).unwrap();
        assert_eq!(mm.find_vma(bottom).unwrap().vm_start, bottom - P);
        check(&mm);
    }

    #[test]
    fn the_stack_may_not_grow_within_the_guard_gap_of_the_mapping_below() {
        let mut mm = with_stack();
        let bottom = STACK_TOP - 0x2_0000;
        let below_end = bottom - STACK_GUARD_GAP - 4 * P;
        map(&mut mm, below_end - 0x1_0000, below_end, RW);
        // Exactly the guard gap left: allowed.
        mm.expand_stack(below_end + STACK_GUARD_GAP).unwrap();
        // One page closer: refused.
        let e = mm.expand_stack(below_end + STACK_GUARD_GAP - 1);
        assert_eq!(e, Err(VmaError::StackGuardGap { addr: below_end + STACK_GUARD_GAP - P, prev_end: below_end }));
        assert_eq!(e.unwrap_err().errno(), ENOMEM);
        assert_eq!(mm.find_vma(bottom).unwrap().vm_start, below_end + STACK_GUARD_GAP);
        // A PROT_NONE mapping below is not protected by the gap (Linux:
        // vma_is_accessible), so the stack may grow right up to it.
        mm.do_mprotect(below_end - 0x1_0000, 0x1_0000, PROT_NONE).unwrap();
        mm.expand_stack(below_end).unwrap();
        assert_eq!(mm.find_vma(below_end).unwrap().vm_start, below_end);
        check(&mm);
    }

    #[test]
    fn stack_growth_is_refused_past_the_rlimit_below_mmap_min_addr_and_without_a_stack() {
        let mut mm = with_stack();
        let bottom = STACK_TOP - 0x2_0000;
        mm.stack_rlimit = 0x2_1000;
        mm.expand_stack(bottom - P).unwrap();
        assert_eq!(mm.expand_stack(bottom - 2 * P), Err(VmaError::StackLimit { size: 0x2_2000, limit: 0x2_1000 }));
        // Far below, with no rlimit: allowed up to mmap_min_addr.
        mm.stack_rlimit = usize::MAX;
        assert_eq!(mm.expand_stack(0x8000), Err(VmaError::BelowMmapMinAddr { addr: 0x8000 }));
        mm.expand_stack(DEFAULT_MMAP_MIN_ADDR).unwrap();
        // Below a non-stack area, or above everything: a bad access.
        let mut mm = MmMap::new();
        map(&mut mm, 0x10_0000, 0x10_1000, RW);
        assert_eq!(mm.expand_stack(0xF_F000), Err(VmaError::NotAStack { addr: 0xF_F000 }));
        assert_eq!(mm.expand_stack(0x20_0000).unwrap_err().errno(), EFAULT);
        assert_eq!(mm.expand_downwards(0x10_1000, 0xF_F000), Err(VmaError::NotAStack { addr: 0xF_F000 }));
        // A file-backed stack may not grow below file offset 0.
        let mut mm = MmMap::new();
        mm.mmap_region(0x10_0000, P, RW | VmFlags::VM_GROWSDOWN, VmaKind::File(FileId(1)), 1).unwrap();
        mm.expand_stack(0xFF_000).unwrap();
        assert_eq!(mm.expand_stack(0xFE_000), Err(VmaError::StackPgoff { pgoff: 0, grow: 1 }));
    }

    #[test]
    fn a_stack_growing_into_another_stack_is_not_merged_with_it() {
        let mut mm = with_stack();
        let bottom = STACK_TOP - 0x2_0000;
        map(&mut mm, bottom - 4 * P, bottom - 2 * P, VmFlags::VM_STACK_FLAGS);
        // The lower area is a stack too: no guard gap between stacks.
        mm.expand_stack(bottom - 2 * P).unwrap();
        check(&mm);
        assert_eq!(spans(&mm), [(bottom - 4 * P, bottom - 2 * P), (bottom - 2 * P, STACK_TOP)], "Linux leaves two");
    }

    // --- brk ---

    fn with_heap() -> MmMap {
        let mut mm = MmMap::new();
        map(&mut mm, 0x0804_8000, 0x0805_0000, RO | VmFlags::VM_EXEC); // text
        mm.start_brk = 0x0805_2000;
        mm.brk = mm.start_brk;
        mm
    }

    #[test]
    fn brk_grows_and_shrinks_the_heap_area() {
        let mut mm = with_heap();
        assert_eq!(mm.brk(0x0805_2010), Ok(vec![]));
        assert_eq!(mm.brk, 0x0805_2010);
        assert_eq!(spans(&mm)[1], (0x0805_2000, 0x0805_3000));
        mm.brk(0x0805_5000).unwrap();
        assert_eq!(mm.map_count(), 2, "the heap grows in place");
        let heap = *mm.find_vma(0x0805_2000).unwrap();
        assert_eq!((heap.vm_end, heap.vm_flags, heap.vm_pgoff), (0x0805_5000, RW, 0x8052));
        // Within the same page: only the number moves.
        mm.brk(0x0805_4001).unwrap();
        assert_eq!(mm.find_vma(0x0805_2000).unwrap().vm_end, 0x0805_5000);
        let removed = mm.brk(0x0805_3000).unwrap();
        assert_eq!(removed.iter().map(|v| (v.vm_start, v.vm_end)).collect::<Vec<_>>(), [(0x0805_3000, 0x0805_5000)]);
        let removed = mm.brk(mm.start_brk).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(mm.map_count(), 1);
        assert_eq!(mm.brk, mm.start_brk);
        check(&mm);
    }

    #[test]
    fn brk_refuses_to_collide_and_leaves_the_break_alone() {
        let mut mm = with_heap();
        map(&mut mm, 0x0806_0000, 0x0806_1000, RW);
        assert_eq!(mm.brk(0x0804_0000), Err(VmaError::BrkBelowStart { brk: 0x0804_0000, start_brk: 0x0805_2000 }));
        // Up to a page below the next mapping: fine. Touching it: refused.
        mm.brk(0x0805_f000).unwrap();
        assert_eq!(mm.brk(0x0805_f001), Err(VmaError::BrkCollision { brk: 0x0805_f001, next_start: 0x0806_0000 }));
        assert_eq!(mm.brk, 0x0805_f000);
        assert_eq!(err(mm.brk(0x0900_0000)), ENOMEM);
        // A stack's guard gap counts as taken.
        let mut mm = with_heap();
        map(&mut mm, 0x0820_0000, 0x0821_0000, VmFlags::VM_STACK_FLAGS);
        let e = mm.brk(0x0820_0000 - STACK_GUARD_GAP - P + 1);
        assert_eq!(e, Err(VmaError::BrkCollision { brk: 0x0820_0000 - STACK_GUARD_GAP - P + 1, next_start: 0x0820_0000 }));
        mm.brk(0x0820_0000 - STACK_GUARD_GAP - P).unwrap();
        // The heap unmapped by hand: shrinking finds nothing to shrink.
        mm.do_munmap(mm.start_brk, 0x1000_0000).unwrap();
        assert_eq!(mm.brk(mm.start_brk), Err(VmaError::BrkNotMapped { brk: mm.start_brk }));
        check(&mm);
    }

    #[test]
    fn do_brk_flags_maps_bss_and_refuses_overlap() {
        let mut mm = with_heap();
        mm.do_brk_flags(0x0805_0000, 0x2000, VmFlags::empty()).unwrap();
        assert_eq!(mm.do_brk_flags(0x0804_f000, 0x2000, VmFlags::empty()), Err(VmaError::Overlap { start: 0x0804_8000, end: 0x0805_0000 }));
        assert_eq!(mm.do_brk_flags(0x0805_2000, 0, VmFlags::empty()), Ok(()));
        assert_eq!(err(mm.do_brk_flags(0x100, P, VmFlags::empty())), EINVAL);
        assert_eq!(err(mm.do_brk_flags(0x1000, P, VmFlags::empty())), EPERM);
        assert_eq!(err(mm.do_brk_flags(usize::MAX & PAGE_MASK, 2 * P, VmFlags::empty())), ENOMEM);
        mm.max_map_count = 2;
        assert_eq!(mm.do_brk_flags(0x0806_0000, P, VmFlags::empty()), Err(VmaError::TooManyMappings { max: 2 }));
        mm.do_brk_flags(0x0805_2000, P, VmFlags::empty()).unwrap(); // merges: no new area
        assert_eq!(mm.map_count(), 2);
        check(&mm);
    }

    // --- whole-mm operations and errors ---

    #[test]
    fn clone_is_independent_and_exit_mmap_empties() {
        let mut mm = with_stack();
        map(&mut mm, 0x10_0000, 0x10_2000, RW);
        let child = mm.clone();
        mm.do_munmap(0x10_0000, P).unwrap();
        assert_eq!(child.map_count(), 2);
        assert_eq!(child.find_vma(0x10_0000).unwrap().vm_start, 0x10_0000);
        let all = mm.exit_mmap();
        assert_eq!(all.len(), 2);
        assert_eq!(mm.map_count(), 0);
        assert!(mm.find_vma(0).is_none());
    }

    #[test]
    fn every_error_has_its_linux_errno_and_a_message_naming_the_problem() {
        use VmaError::*;
        let cases: [(VmaError, i32, &str); 26] = [
            (Unaligned { addr: 0x1234 }, EINVAL, "address 0x1234 is not page-aligned"),
            (ZeroLength, EINVAL, "length is zero"),
            (OutsideUserSpace { start: 0xbffff000, len: 0x2000 }, EINVAL, "range 0xbffff000+0x2000 is not inside user space"),
            (LengthOverflow { start: 0x1000, len: 0xffff }, ENOMEM, "range 0x1000+0xffff wraps around"),
            (BadRange { start: 0x2000, end: 0x1000 }, EINVAL, "bad VMA range 0x2000..0x1000"),
            (Overlap { start: 0x1000, end: 0x3000 }, ENOMEM, "range 0x1000..0x3000 overlaps an existing VMA"),
            (NotInsideVma { addr: 0x5000 }, EINVAL, "no VMA strictly contains 0x5000"),
            (Unmapped { addr: 0x6000 }, ENOMEM, "no VMA maps 0x6000"),
            (AccessDenied { vm_start: 0x7000, requested: VmFlags::VM_WRITE }, EACCES, "VMA at 0x7000 may never have"),
            (BadProt { prot: 0x10 }, EINVAL, "unknown protection bits in 0x10"),
            (BadMapFlags { flags: 0x20 }, EINVAL, "invalid mmap flags 0x20"),
            (PgoffOverflow { pgoff: 0x99 }, EOVERFLOW, "file page offset 0x99"),
            (FileAccess { prot: 3 }, EACCES, "prot 0x3"),
            (NoMmap, ENODEV, "cannot be mapped"),
            (NoUnmappedArea { len: 0x4000 }, ENOMEM, "no free range of 0x4000 bytes"),
            (Exists { start: 0x1000, end: 0x2000 }, EEXIST, "MAP_FIXED_NOREPLACE range 0x1000..0x2000 is already mapped"),
            (BelowMmapMinAddr { addr: 0x0 }, EPERM, "address 0x0 is below mmap_min_addr"),
            (TooManyMappings { max: 7 }, ENOMEM, "max_map_count (7)"),
            (NoMemory, ENOMEM, "no memory for a new VMA"),
            (NotAStack { addr: 0x8000 }, EFAULT, "no stack (VM_GROWSDOWN) VMA above 0x8000"),
            (StackGuardGap { addr: 0x9000, prev_end: 0x8000 }, ENOMEM, "stack growth to 0x9000 would come within stack_guard_gap of the mapping ending at 0x8000"),
            (StackLimit { size: 0x900000, limit: 0x800000 }, ENOMEM, "stack of 0x900000 bytes would exceed RLIMIT_STACK (0x800000)"),
            (StackPgoff { pgoff: 0, grow: 1 }, ENOMEM, "would take vm_pgoff 0x0 below 0"),
            (BrkBelowStart { brk: 0x1000, start_brk: 0x2000 }, ENOMEM, "brk 0x1000 is below start_brk 0x2000"),
            (BrkCollision { brk: 0x3000, next_start: 0x3000 }, ENOMEM, "brk 0x3000 would run into the mapping at 0x3000"),
            (BrkNotMapped { brk: 0x4000 }, ENOMEM, "brk 0x4000: the heap above it is not mapped"),
        ];
        for (e, no, msg) in cases {
            assert_eq!(e.errno(), no, "{e:?}");
            let text = alloc::format!("{e}");
            assert!(text.contains(msg), "{e:?} says {text:?}, expected {msg:?}");
        }
    }

    // --- randomized, against a page-granular model ---

    /// What the model knows of one page: the flags, backing and file offset
    /// of the area that maps it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Pg {
        flags: VmFlags,
        kind: VmaKind,
        pgoff: usize,
    }

    /// The address space as an array of pages, each mapped or not, with
    /// Linux's rules written page by page. It knows nothing of areas,
    /// splits or merges: if `MmMap` gets those wrong, some page disagrees.
    struct Model {
        pages: Vec<Option<Pg>>,
        mm: MmMap, // only the layout numbers are read
    }

    impl Model {
        fn pg(&self, i: usize) -> Option<Pg> {
            self.pages.get(i).copied().flatten()
        }
        fn first_mapped_from(&self, i: usize) -> Option<usize> {
            (i..self.pages.len()).find(|&j| self.pages[j].is_some())
        }
        /// Lowest address a mapping below the area starting at page `q`
        /// may end at (Linux `vm_start_gap`).
        fn start_gap(&self, q: usize) -> usize {
            if self.pages[q].unwrap().flags.contains(VmFlags::VM_GROWSDOWN) {
                (q * P).saturating_sub(self.mm.stack_guard_gap)
            } else {
                q * P
            }
        }
        /// May `[a, a + len)` be mapped without MAP_FIXED? Free pages, and
        /// clear of the guard gap of a stack above.
        fn fits(&self, a: usize, len: usize) -> bool {
            let (first, n) = (a / P, len / P);
            if (first..first + n).any(|i| self.pg(i).is_some()) {
                return false;
            }
            self.first_mapped_from(first + n).is_none_or(|q| a + len <= self.start_gap(q))
        }
        /// The free runs `[lo, hi)`, `hi` less any stack guard gap above.
        fn runs(&self) -> Vec<(usize, usize)> {
            let mut runs = Vec::new();
            let mut i = 0;
            while i < self.pages.len() {
                if self.pages[i].is_some() {
                    i += 1;
                    continue;
                }
                let lo = i * P;
                while i < self.pages.len() && self.pages[i].is_none() {
                    i += 1;
                }
                let hi = if i < self.pages.len() { self.start_gap(i) } else { usize::MAX };
                runs.push((lo, hi));
            }
            runs
        }
        fn get_unmapped_area(&self, hint: usize, len: usize, fixed: bool) -> Result<usize, i32> {
            let m = &self.mm;
            if len > m.task_size || len > m.task_size - m.mmap_min_addr {
                return Err(ENOMEM);
            }
            let a = if fixed {
                hint
            } else {
                let h = (hint + P - 1) & PAGE_MASK;
                if hint != 0 && h >= m.mmap_min_addr && h + len <= m.task_size && self.fits(h, len) {
                    h
                } else {
                    let clip = |(lo, hi): (usize, usize), l: usize, h: usize| (lo.max(l), hi.min(h));
                    let runs = self.runs();
                    let low = P.max(m.mmap_min_addr);
                    let top = runs.iter().rev().map(|&r| clip(r, low, m.mmap_base)).find(|&(lo, hi)| hi > lo && hi - lo >= len);
                    let bottom = || {
                        runs.iter().map(|&r| clip(r, m.mmap_legacy_base, m.task_size)).find(|&(lo, hi)| hi > lo && hi - lo >= len)
                    };
                    match top {
                        Some((_, hi)) => hi - len,
                        None => bottom().ok_or(ENOMEM)?.0,
                    }
                }
            };
            if a > m.task_size - len {
                return Err(ENOMEM);
            }
            if a % P != 0 {
                return Err(EINVAL);
            }
            if a < m.mmap_min_addr {
                return Err(EPERM);
            }
            Ok(a)
        }
        /// Clear `[start, end)`; returns what was there.
        fn clear(&mut self, start: usize, end: usize) -> Vec<(usize, Pg)> {
            let mut old = Vec::new();
            for i in start / P..(end / P).min(self.pages.len()) {
                if let Some(p) = self.pages[i].take() {
                    old.push((i, p));
                }
            }
            old
        }
        fn set(&mut self, start: usize, end: usize, flags: VmFlags, kind: VmaKind, pgoff: usize) {
            for (k, i) in (start / P..end / P).enumerate() {
                self.pages[i] = Some(Pg { flags, kind, pgoff: pgoff + k });
            }
        }
    }

    /// The pages of removed pieces, as the model lists them.
    fn pages_of(removed: &[VmArea]) -> Vec<(usize, Pg)> {
        let mut out = Vec::new();
        for v in removed {
            for i in 0..v.vma_pages() {
                out.push((v.vm_start / P + i, Pg { flags: v.vm_flags, kind: v.kind, pgoff: v.vm_pgoff + i }));
            }
        }
        out
    }

    fn compare(mm: &MmMap, model: &Model, what: &str) {
        check(mm);
        let mut seen = 0;
        for v in mm.iter() {
            for i in 0..v.vma_pages() {
                let want = Pg { flags: v.vm_flags, kind: v.kind, pgoff: v.vm_pgoff + i };
                assert_eq!(model.pg(v.vm_start / P + i), Some(want), "after {what}: page {:#x} of {v:x?}", v.vm_start + i * P);
                seen += 1;
            }
        }
        assert_eq!(seen, model.pages.iter().flatten().count(), "after {what}: the model maps more pages");
    }

    #[test]
    fn ten_thousand_random_operations_agree_with_a_page_model() {
        const TASK: usize = 16 << 20; // 4096 pages
        let mut mm = MmMap::with_layout(TASK, 12 << 20);
        mm.stack_guard_gap = 8 * P;
        mm.stack_rlimit = usize::MAX;
        mm.start_brk = 2 << 20;
        mm.brk = mm.start_brk;
        let stack = VmArea::new(TASK - 16 * P, TASK, VmFlags::VM_STACK_FLAGS, VmaKind::Anonymous, 0).unwrap();
        mm.insert_vm_struct(stack).unwrap();
        let mut model = Model { pages: vec![None; TASK / P], mm: mm.clone() };
        model.set(TASK - 16 * P, TASK, VmFlags::VM_STACK_FLAGS, VmaKind::Anonymous, (TASK - 16 * P) >> PAGE_SHIFT);
        let mut rng = XorShift::new(0x5eed_f7ea);
        let mut counts = [0usize; 12]; // [op * 2 + ok]
        let mut most_areas = 0;
        for step in 0..10_000 {
            let page = |rng: &mut XorShift| rng.below(TASK / P + 8) * P;
            let bytes = |rng: &mut XorShift, max_pages: usize| rng.below(max_pages * P) + 1;
            let op = rng.below(6);
            let ok;
            let what;
            match op {
                0 => {
                    // mmap: anonymous or file, private or shared, fixed or not.
                    let fixed = rng.below(3) == 0;
                    let noreplace = fixed && rng.below(3) == 0;
                    let hint = match rng.below(3) { 0 => 0, 1 => page(&mut rng), _ => page(&mut rng) + rng.below(P) };
                    let len = bytes(&mut rng, 48);
                    let prot = rng.below(8) as u32;
                    let shared = rng.below(4) == 0;
                    let file = (rng.below(4) == 0).then(|| FileId(rng.below(2) as u32));
                    // (MAP_GROWSDOWN of a file is EINVAL: the file test covers it.)
                    let growsdown = !shared && file.is_none() && rng.below(8) == 0;
                    let fpgoff = if rng.below(2) == 0 { hint >> PAGE_SHIFT } else { rng.below(64) };
                    let mut flags = if shared { MapFlags::MAP_SHARED } else { MapFlags::MAP_PRIVATE };
                    if file.is_none() {
                        flags |= MapFlags::MAP_ANONYMOUS;
                    }
                    if growsdown {
                        flags |= MapFlags::MAP_GROWSDOWN;
                    }
                    if noreplace {
                        flags |= MapFlags::MAP_FIXED_NOREPLACE;
                    } else if fixed {
                        flags |= MapFlags::MAP_FIXED;
                    }
                    what = alloc::format!("mmap({hint:#x}, {len:#x}, {prot}, {flags:?}, {file:?}, {fpgoff})");
                    let got = mm.do_mmap(hint, len, prot, flags.bits(), file.map(MapFile::rdwr), fpgoff);
                    let plen = (len + P - 1) & PAGE_MASK;
                    let h = if fixed { hint } else if hint != 0 && hint & PAGE_MASK < DEFAULT_MMAP_MIN_ADDR { DEFAULT_MMAP_MIN_ADDR } else { hint & PAGE_MASK };
                    let want = model.get_unmapped_area(h, plen, fixed).and_then(|a| {
                        if noreplace && (a / P..(a + plen) / P).any(|i| model.pg(i).is_some()) { Err(EEXIST) } else { Ok(a) }
                    });
                    match (got, want) {
                        (Ok((a, removed)), Ok(w)) => {
                            assert_eq!(a, w, "{what}");
                            let mut vmf = calc_vm_prot_bits(prot) | VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE | VmFlags::VM_MAYEXEC;
                            if growsdown {
                                vmf |= VmFlags::VM_GROWSDOWN;
                            }
                            if shared {
                                vmf |= VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
                            }
                            let (kind, pgoff) = match file {
                                Some(f) => (VmaKind::File(f), fpgoff),
                                None if shared => (VmaKind::Anonymous, 0),
                                None => (VmaKind::Anonymous, a >> PAGE_SHIFT),
                            };
                            assert_eq!(pages_of(&removed), model.clear(a, a + plen), "{what}: replaced pages");
                            model.set(a, a + plen, vmf, kind, pgoff);
                            ok = true;
                        }
                        (Err(e), Err(w)) => {
                            assert_eq!(e.errno(), w, "{what}: {e}");
                            ok = false;
                        }
                        (g, w) => panic!("step {step}: {what}: got {g:x?}, model says {w:x?}"),
                    }
                }
                1 => {
                    let start = if rng.below(20) == 0 { page(&mut rng) + 1 } else { page(&mut rng) };
                    let len = if rng.below(50) == 0 { 0 } else { bytes(&mut rng, 128) };
                    what = alloc::format!("munmap({start:#x}, {len:#x})");
                    let got = mm.do_munmap(start, len);
                    // Unaligned, outside user space, or empty: EINVAL.
                    let want = if start % P != 0 || start > TASK || len > TASK - start || len == 0 {
                        Err(EINVAL)
                    } else {
                        Ok(model.clear(start, start + ((len + P - 1) & PAGE_MASK)))
                    };
                    ok = got.is_ok();
                    match (got, want) {
                        (Ok(removed), Ok(w)) => assert_eq!(pages_of(&removed), w, "{what}: removed pages"),
                        (Err(e), Err(w)) => assert_eq!(e.errno(), w, "{what}: {e}"),
                        (g, w) => panic!("step {step}: {what}: got {g:x?}, model says {w:x?}"),
                    }
                }
                2 => {
                    let start = if rng.below(20) == 0 { page(&mut rng) + 8 } else { page(&mut rng) };
                    let len = bytes(&mut rng, 64);
                    let prot = rng.below(8) as u32;
                    what = alloc::format!("mprotect({start:#x}, {len:#x}, {prot})");
                    let got = mm.do_mprotect(start, len, prot).map_err(VmaError::errno);
                    let want = (|| {
                        if start % P != 0 {
                            return Err(EINVAL);
                        }
                        let req = calc_vm_prot_bits(prot);
                        for i in start / P..(start + len).div_ceil(P) {
                            let p = model.pg(i).ok_or(ENOMEM)?;
                            let newflags = req | (p.flags - VmFlags::VM_ACCESS_FLAGS);
                            let may = VmFlags::from_bits_truncate(newflags.bits() >> 4);
                            if !(newflags & (VmFlags::VM_ACCESS_FLAGS - may)).is_empty() {
                                return Err(EACCES);
                            }
                            model.pages[i] = Some(Pg { flags: newflags, ..p });
                        }
                        Ok(())
                    })();
                    assert_eq!(got, want, "step {step}: {what}");
                    ok = got.is_ok();
                }
                3 => {
                    // A shared mapping of a read-only file: no VM_MAYWRITE,
                    // so mprotect(PROT_WRITE) on it must be refused.
                    let start = (rng.below(TASK / P - 64) + 16) * P;
                    let len = (rng.below(16) + 1) * P;
                    let flags = VmFlags::VM_READ | VmFlags::VM_MAYREAD | VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
                    let pgoff = rng.below(32);
                    what = alloc::format!("mmap_region({start:#x}, {len:#x}, read-only shared file, {pgoff})");
                    let removed = mm.mmap_region(start, len, flags, VmaKind::File(FileId(7)), pgoff).unwrap();
                    assert_eq!(pages_of(&removed), model.clear(start, start + len), "{what}: replaced pages");
                    model.set(start, start + len, flags, VmaKind::File(FileId(7)), pgoff);
                    ok = true;
                }
                4 => {
                    // A fault below a stack (or anywhere, sometimes).
                    let stacks: Vec<usize> = mm.iter().filter(|v| v.vm_flags.contains(VmFlags::VM_GROWSDOWN)).map(|v| v.vm_start).collect();
                    let addr = if stacks.is_empty() || rng.below(5) == 0 {
                        page(&mut rng).min(TASK - 1)
                    } else {
                        let s = stacks[rng.below(stacks.len())];
                        s.saturating_sub(rng.below(24) * P + rng.below(P) + 1)
                    };
                    what = alloc::format!("expand_stack({addr:#x})");
                    let got = mm.expand_stack(addr).map_err(VmaError::errno);
                    let want = (|| {
                        let a = addr & PAGE_MASK;
                        let q = model.first_mapped_from(a / P).ok_or(EFAULT)?;
                        if q == a / P {
                            return Ok(());
                        }
                        let top = model.pages[q].unwrap();
                        if !top.flags.contains(VmFlags::VM_GROWSDOWN) {
                            return Err(EFAULT);
                        }
                        if a < model.mm.mmap_min_addr {
                            return Err(EPERM);
                        }
                        if let Some(p) = (0..a / P).rev().find(|&i| model.pages[i].is_some()) {
                            let f = model.pages[p].unwrap().flags;
                            if !f.contains(VmFlags::VM_GROWSDOWN) && f.is_accessible() && a - (p + 1) * P < model.mm.stack_guard_gap {
                                return Err(ENOMEM);
                            }
                        }
                        let grow = q - a / P;
                        let pgoff = top.pgoff.checked_sub(grow).ok_or(ENOMEM)?;
                        model.set(a, q * P, top.flags, top.kind, pgoff);
                        Ok(())
                    })();
                    assert_eq!(got, want, "step {step}: {what}");
                    ok = got.is_ok();
                }
                _ => {
                    let new = if rng.below(10) == 0 {
                        mm.start_brk - rng.below(4) * P - 1
                    } else {
                        mm.start_brk + rng.below(256) * P + if rng.below(2) == 0 { 0 } else { rng.below(P) }
                    };
                    what = alloc::format!("brk({new:#x}) from {:#x}", mm.brk);
                    let old = mm.brk;
                    let got = mm.brk(new);
                    let (newbrk, oldbrk) = ((new + P - 1) & PAGE_MASK, (old + P - 1) & PAGE_MASK);
                    let want: Result<Vec<(usize, Pg)>, ()> = if new < mm.start_brk {
                        Err(())
                    } else if newbrk == oldbrk {
                        Ok(Vec::new())
                    } else if new <= old {
                        if (newbrk / P..oldbrk / P).any(|i| model.pg(i).is_some()) { Ok(model.clear(newbrk, oldbrk)) } else { Err(()) }
                    } else {
                        let collides = model.first_mapped_from(oldbrk / P).is_some_and(|q| newbrk + P > model.start_gap(q));
                        if collides || newbrk > TASK {
                            Err(())
                        } else {
                            model.set(oldbrk, newbrk, VmFlags::VM_DATA_DEFAULT_FLAGS, VmaKind::Anonymous, oldbrk >> PAGE_SHIFT);
                            Ok(Vec::new())
                        }
                    };
                    match (got, want) {
                        (Ok(removed), Ok(w)) => {
                            assert_eq!(pages_of(&removed), w, "step {step}: {what}: removed pages");
                            assert_eq!(mm.brk, new, "{what}");
                            ok = true;
                        }
                        (Err(_), Err(())) => {
                            assert_eq!(mm.brk, old, "{what}: a failed brk moved the break");
                            ok = false;
                        }
                        (g, w) => panic!("step {step}: {what}: got {g:x?}, model says {w:x?}"),
                    }
                }
            }
            compare(&mm, &model, &what);
            counts[op * 2 + usize::from(ok)] += 1;
            most_areas = most_areas.max(mm.map_count());
        }
        // The run must have exercised both outcomes of every operation,
        // and built up a real number of areas.
        for (i, c) in counts.iter().enumerate() {
            if i != 6 {
                assert!(*c > 20, "operation {} outcome {} happened only {c} times: {counts:?}", i / 2, i % 2);
            }
        }
        assert!(most_areas > 30, "at most {most_areas} areas at once");
    }
}
