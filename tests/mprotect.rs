//! `mprotect` (Linux `mm/mprotect.c`): the areas change (host-tested in
//! mm/src/vma.rs) and so do the PTEs of every page already there, each
//! reached through `pte_offset_map` (HIGHPTE), each keeping its frame. A
//! `PROT_NONE` page keeps its frame in a `_PAGE_PROTNONE` entry: not
//! present to the CPU, present to the kernel, so munmap and exit free it,
//! fork shares it, and making it accessible again gives back the same page.
//! The `mprotect` user program (user/src/bin/mprotect.rs) checks the same
//! from user space, against Linux and qemu-i386 too; the cases where
//! qemu-i386 and Linux disagree (`len == 0`, holes) are checked here.

use alloc::sync::Arc;

use mm::layout::PAGE_SIZE;
use mm::vma::VmFlags;

use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::arch::paging::{pte_t, PteFlags};
use crate::errno::{EACCES, EINVAL, ENOMEM};
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::pfn_to_page;
use crate::test_case;
use crate::tests::user::{DATA, TEXT, address_space_with, program, run_user};
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(prot_none_keeps_the_frame_and_read_write_gives_back_the_same_page),
    test_case!(a_write_after_prot_read_is_sigsegv_with_linuxs_line),
    test_case!(a_read_of_a_prot_none_page_is_sigsegv_with_linuxs_line),
    test_case!(a_prot_none_page_is_freed_by_munmap),
    test_case!(a_prot_none_page_is_freed_with_the_address_space),
    test_case!(fork_shares_a_prot_none_page_and_read_write_after_it_stays_copy_on_write),
    test_case!(mprotect_of_the_middle_splits_the_area_and_changes_only_those_ptes),
    test_case!(the_tlb_is_flushed_for_a_few_pages_and_for_many),
    test_case!(mprotect_errors_are_linuxs),
];

const P: usize = PAGE_SIZE;
const PROT_NONE: u32 = 0;
const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_SEM: u32 = 8;

/// `mprotect(start, len, prot)` through the system-call table.
fn mprotect(start: usize, len: usize, prot: u32) -> i32 {
    let mut regs = crate::arch::entry::PtRegs {
        bx: start as u32,
        cx: len as u32,
        dx: prot,
        orig_ax: nr::MPROTECT as u32,
        ..Default::default()
    };
    ia32_sys_call_table(nr::MPROTECT).expect("mprotect is in the table")(&mut regs)
}

/// `munmap(start, len)` through the system-call table.
fn munmap(start: usize, len: usize) -> i32 {
    let mut regs = crate::arch::entry::PtRegs { bx: start as u32, cx: len as u32, ..Default::default() };
    ia32_sys_call_table(nr::MUNMAP).unwrap()(&mut regs)
}

/// This task on a fresh address space (tests/user.rs's: a read-only text
/// page, 16 demand-paged read-write pages at DATA, a stack).
fn on_fresh_mm() -> Arc<MmStruct> {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    me.mm().unwrap()
}

/// Write `n` pages at DATA with pattern `seed` through copy_to_user (which
/// faults them in, writable) and return their frames.
fn populate(mm: &MmStruct, n: usize, seed: u8) -> alloc::vec::Vec<usize> {
    let bytes: alloc::vec::Vec<u8> = (0..n * P).map(|i| crate::tests::common::pattern(seed, i)).collect();
    assert_eq!(copy_to_user(DATA, &bytes), 0);
    (0..n).map(|i| mm.lookup(DATA + i * P).pfn()).collect()
}

/// Do the `n` pages at DATA hold pattern `seed` (read with copy_from_user)?
fn holds(n: usize, seed: u8) -> bool {
    let mut back = alloc::vec![0u8; n * P];
    copy_from_user(&mut back, DATA) == 0 && back.iter().enumerate().all(|(i, &b)| b == crate::tests::common::pattern(seed, i))
}

/// The CPU's view of a PROT_NONE entry: the frame, PROTNONE, not present,
/// not user, not writable.
fn assert_protnone(pte: pte_t, pfn: usize, what: &str) {
    assert!(pte.pte_protnone() && pte.pte_present() && !pte.present(), "{what}: a PROT_NONE entry ({pte:x?})");
    assert_eq!(pte.pfn(), pfn, "{what}: the same frame");
    assert!(!pte.flags().intersects(PteFlags::USER | PteFlags::RW), "{what}: {pte:x?}");
}

/// PROT_NONE then PROT_READ|PROT_WRITE: the PTEs keep their frames (the
/// page frame numbers are checked), the kernel's own user copies are
/// refused meanwhile (the fault is an access error, and nothing is
/// allocated in place of the page), and afterwards the bytes are there,
/// read-only until the write fault, which reuses the page in place (it is
/// the process's own: no copy).
fn prot_none_keeps_the_frame_and_read_write_gives_back_the_same_page() {
    use core::sync::atomic::Ordering::SeqCst;
    let mm = on_fresh_mm();
    let pfns = populate(&mm, 3, 5);
    let fixups = crate::mm::memory::PROTNONE_FIXUPS.load(SeqCst);
    assert_eq!(mprotect(DATA, 3 * P, PROT_NONE), 0);
    for (i, &pfn) in pfns.iter().enumerate() {
        assert_protnone(mm.lookup(DATA + i * P), pfn, "after PROT_NONE");
        assert_eq!(pfn_to_page(pfn).page_count(), 1, "still the process's page");
    }
    let mut b = [0u8; 4];
    assert_eq!(copy_from_user(&mut b, DATA + P), 4, "a PROT_NONE page cannot be read, even by the kernel's copy");
    assert_eq!(copy_to_user(DATA + P, &[1]), 1, "nor written");
    assert_protnone(mm.lookup(DATA + P), pfns[1], "after the refused copies");
    assert_eq!(mprotect(DATA, 3 * P, PROT_READ | PROT_WRITE), 0);
    for (i, &pfn) in pfns.iter().enumerate() {
        let pte = mm.lookup(DATA + i * P);
        assert!(pte.present() && pte.flags().contains(PteFlags::USER), "present again: {pte:x?}");
        assert_eq!(pte.pfn(), pfn, "page {i}: the same frame");
        assert!(!pte.flags().contains(PteFlags::RW), "read-only until the write fault decides");
    }
    assert!(holds(3, 5), "the same bytes");
    assert_eq!(crate::mm::memory::PROTNONE_FIXUPS.load(SeqCst), fixups, "mprotect rewrote every entry itself");
    let copies = crate::mm::memory::COW_COPIES.load(SeqCst);
    assert_eq!(copy_to_user(DATA + P, b"new"), 0);
    let pte = mm.lookup(DATA + P);
    assert!(pte.flags().contains(PteFlags::RW) && pte.pfn() == pfns[1], "written in place: {pte:x?}");
    assert_eq!(crate::mm::memory::COW_COPIES.load(SeqCst), copies, "no copy of a page nobody shares");
}

// Two programs: write a page, mprotect it, touch it in a way it no longer
// allows. Each ends with exit(status) if the touch did not kill it.
core::arch::global_asm!(
    r#"
    .section .rodata.user_programs, "a"

    .global user_mprot_ro_start, user_mprot_ro_end
user_mprot_ro_start:
    movl $0x08050000, %esi      # DATA
    movl $1, (%esi)             # first write: a fresh writable page
    movl $125, %eax             # mprotect(DATA, 4096, PROT_READ)
    movl %esi, %ebx
    movl $4096, %ecx
    movl $1, %edx
    int $0x80
    movl $30, %ebx
    testl %eax, %eax
    jne mro_exit
    movl (%esi), %eax           # a read: fine
    movl $31, %ebx
    cmpl $1, %eax
    jne mro_exit
    movl $2, 4(%esi)            # a write: SIGSEGV, error 7 (present, write, user)
    xorl %ebx, %ebx
mro_exit:
    movl $1, %eax
    int $0x80
user_mprot_ro_end:

    .global user_mprot_none_start, user_mprot_none_end
user_mprot_none_start:
    movl $0x08051000, %esi      # DATA + one page
    movl $1, (%esi)
    movl $125, %eax             # mprotect(DATA + 4096, 4096, PROT_NONE)
    movl %esi, %ebx
    movl $4096, %ecx
    xorl %edx, %edx
    int $0x80
    movl $30, %ebx
    testl %eax, %eax
    jne mno_exit
    movl 8(%esi), %eax          # a read: SIGSEGV, error 4 (not present, read, user)
    xorl %ebx, %ebx
mno_exit:
    movl $1, %eax
    int $0x80
user_mprot_none_end:
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static user_mprot_ro_start: u8;
    static user_mprot_ro_end: u8;
    static user_mprot_none_start: u8;
    static user_mprot_none_end: u8;
}

/// Run one of the programs above; its wait status and the segfault line.
fn run_expecting_sigsegv(name: &str, code: &'static [u8]) -> (i32, alloc::string::String) {
    crate::arch::mm::fault::LAST_SEGFAULT.lock().clear();
    // run_user also checks that every page of its address space was freed.
    let status = run_user(name, code);
    (status, alloc::string::String::from(crate::arch::mm::fault::LAST_SEGFAULT.lock().as_str()))
}

/// A program writes a page, makes it PROT_READ, reads it, writes it: the
/// write kills it with SIGSEGV (wait status 11) and Linux's line, error 7
/// (a protection fault on a present page, a write, from user mode), an
/// access error (`SEGV_ACCERR`).
fn a_write_after_prot_read_is_sigsegv_with_linuxs_line() {
    // SAFETY: the symbols come from the assembly above.
    let code = program(unsafe { &user_mprot_ro_start }, unsafe { &user_mprot_ro_end });
    let (status, line) = run_expecting_sigsegv("mprot-ro", code);
    assert_eq!(status, 11, "killed by SIGSEGV (30: mprotect failed, 31: the read saw other data, 0: the write went through)");
    assert!(line.starts_with("mprot-ro[") && line.contains("]: segfault at 8050004 ip "), "the line: {line}");
    assert!(line.contains(" error 7 (AccErr)"), "present+write+user, an access error: {line}");
}

/// A program writes a page, makes it PROT_NONE, reads it: SIGSEGV with
/// error 4 (not present to the CPU, a read, from user mode), an access
/// error, not a missing page.
fn a_read_of_a_prot_none_page_is_sigsegv_with_linuxs_line() {
    // SAFETY: the symbols come from the assembly above.
    let code = program(unsafe { &user_mprot_none_start }, unsafe { &user_mprot_none_end });
    let (status, line) = run_expecting_sigsegv("mprot-none", code);
    assert_eq!(status, 11, "killed by SIGSEGV (30: mprotect failed, 0: the read went through)");
    assert!(line.starts_with("mprot-none[") && line.contains("]: segfault at 8051008 ip "), "the line: {line}");
    assert!(line.contains(" error 4 (AccErr)"), "not-present+read+user, an access error: {line}");
}

/// munmap of a PROT_NONE page frees its frame: a reference of the test's
/// own keeps the frame from being reused, and the count of that frame
/// drops from 2 to 1 (the process's reference went).
fn a_prot_none_page_is_freed_by_munmap() {
    let mm = on_fresh_mm();
    let pfn = populate(&mm, 1, 9)[0];
    let page = pfn_to_page(pfn);
    page.get_page();
    assert_eq!(mprotect(DATA, P, PROT_NONE), 0);
    assert_eq!(page.page_count(), 2);
    assert_eq!(munmap(DATA, P), 0);
    assert!(mm.lookup(DATA).is_none(), "the entry is gone");
    assert_eq!(page.page_count(), 1, "the process's reference to the PROT_NONE page was dropped");
    crate::mm::page_alloc::__free_pages(page, 0);
}

/// The same at exit: the last reference to the address space goes, and
/// with it the PROT_NONE page's reference (exit_mmap walks with
/// pte_present).
fn a_prot_none_page_is_freed_with_the_address_space() {
    let mm = on_fresh_mm();
    let pfn = populate(&mm, 1, 9)[0];
    let page = pfn_to_page(pfn);
    page.get_page();
    assert_eq!(mprotect(DATA, P, PROT_NONE), 0);
    let resident = mm.resident().0.iter().any(|p| crate::mm::page_alloc::page_to_pfn(p) == pfn);
    assert!(resident, "still counted as resident, as Linux counts it");
    drop(mm);
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    assert_eq!(page.page_count(), 1, "the old address space's reference was dropped with it");
    crate::mm::page_alloc::__free_pages(page, 0);
}

/// fork (`dup_mmap`) after mprotect(PROT_NONE): the child's entry is the
/// same PROT_NONE entry, the frame has two references. Then the parent
/// makes it PROT_READ|PROT_WRITE: its entry comes back present but *not
/// writable* (the page is still shared), so its write copies the page and
/// the child's stays as it was.
fn fork_shares_a_prot_none_page_and_read_write_after_it_stays_copy_on_write() {
    let parent = on_fresh_mm();
    let pfn = populate(&parent, 1, 3)[0];
    assert_eq!(mprotect(DATA, P, PROT_NONE), 0);
    let child = parent.dup_mmap().unwrap();
    // SAFETY: reloading the page directory this task runs on (fork does it).
    unsafe { crate::arch::paging::load_cr3(parent.pgd()) };
    assert_protnone(child.lookup(DATA), pfn, "the child's entry");
    assert_protnone(parent.lookup(DATA), pfn, "the parent's entry");
    let page = pfn_to_page(pfn);
    assert_eq!(page.page_count(), 2, "shared: a reference each");
    assert_eq!(mprotect(DATA, P, PROT_READ | PROT_WRITE), 0);
    let p = parent.lookup(DATA);
    assert!(p.present() && p.pfn() == pfn && !p.flags().contains(PteFlags::RW), "shared, so not writable: {p:x?}");
    assert_eq!(copy_to_user(DATA, b"parent's"), 0);
    let p2 = parent.lookup(DATA);
    assert!(p2.pfn() != pfn && p2.flags().contains(PteFlags::RW), "the write copied the page: {p2:x?}");
    assert_eq!(page.page_count(), 1, "the child's alone now");
    assert_protnone(child.lookup(DATA), pfn, "the child's entry, untouched");
    let v = crate::mm::kmap_local::kmap_local_pfn(pfn);
    let first = crate::tests::common::read_byte(v);
    crate::mm::kmap_local::kunmap_local(v);
    assert_eq!(first, crate::tests::common::pattern(3, 0), "the child's page holds the old bytes");
    page.get_page();
    drop(child);
    assert_eq!(page.page_count(), 1, "the child's reference went with its address space");
    crate::mm::page_alloc::__free_pages(page, 0);
}

/// mprotect(PROT_READ) of two pages in the middle of the 16-page data area:
/// three areas, the two pages' entries read-only and the others as they
/// were (still writable: their area's flags did not change, so Linux does
/// not touch them); back to PROT_READ|PROT_WRITE: one area again.
fn mprotect_of_the_middle_splits_the_area_and_changes_only_those_ptes() {
    let mm = on_fresh_mm();
    let pfns = populate(&mm, 16, 4);
    assert_eq!(mprotect(DATA + 4 * P, 2 * P, PROT_READ), 0);
    {
        let map = mm.mmap_lock();
        let spans: alloc::vec::Vec<_> = map.iter().filter(|v| v.vm_start >= DATA && v.vm_end <= DATA + 16 * P)
            .map(|v| (v.vm_start - DATA, v.vm_end - DATA, v.vm_flags.contains(VmFlags::VM_WRITE))).collect();
        assert_eq!(spans, [(0, 4 * P, true), (4 * P, 6 * P, false), (6 * P, 16 * P, true)]);
    }
    for (i, &pfn) in pfns.iter().enumerate() {
        let pte = mm.lookup(DATA + i * P);
        assert_eq!(pte.pfn(), pfn, "page {i}: same frame");
        assert_eq!(pte.flags().contains(PteFlags::RW), !(4..6).contains(&i), "page {i}: {pte:x?}");
    }
    assert_eq!(copy_to_user(DATA + 4 * P, &[0]), 1, "the read-only pages refuse a write");
    assert_eq!(copy_to_user(DATA + 3 * P, &[0]), 0, "the page below takes one");
    assert_eq!(mprotect(DATA + 4 * P, 2 * P, PROT_READ | PROT_WRITE), 0);
    let map = mm.mmap_lock();
    let v = map.find_vma(DATA).unwrap();
    assert_eq!((v.vm_start, v.vm_end), (DATA, DATA + 16 * P), "merged back into one area");
}

/// After mprotect(PROT_READ) of pages just written (so this CPU's TLB
/// holds writable translations of them), a write through those same
/// addresses faults and is refused: the old translations were flushed.
/// Both ways of flushing: one `invlpg` per page up to Linux's ceiling (33
/// pages), a full flush above it. (QEMU's TLB may drop some entries by
/// itself meanwhile; with 32 and 64 pages some always survive to be
/// caught: without the flush, this test fails on both paths.)
fn the_tlb_is_flushed_for_a_few_pages_and_for_many() {
    let mm = on_fresh_mm();
    let mut regs = crate::arch::entry::PtRegs {
        bx: 0x4000_0000,
        cx: (96 * P) as u32,
        dx: PROT_READ | PROT_WRITE,
        si: 0x32, // MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
        di: u32::MAX,
        ..Default::default()
    };
    assert_eq!(ia32_sys_call_table(nr::MMAP2).unwrap()(&mut regs), 0x4000_0000);
    for (start, pages) in [(0x4000_0000, 32), (0x4000_0000 + 32 * P, 64)] {
        for i in 0..pages {
            assert_eq!(copy_to_user(start + i * P, &[7]), 0);
            assert_eq!(copy_to_user(start + i * P, &[8]), 0, "again: writable and in the TLB");
        }
        assert_eq!(mprotect(start, pages * P, PROT_READ), 0);
        for i in 0..pages {
            assert_eq!(copy_to_user(start + i * P, &[1]), 1, "{pages} pages: page {i} took a write after PROT_READ");
        }
        assert!(!mm.lookup(start).flags().contains(PteFlags::RW));
    }
}

/// Linux's errnos, and its order of checks: `-EINVAL` for an unaligned
/// start or unknown prot bits; `len == 0` is 0 (even with unknown bits:
/// Linux checks the length first); `len` rounds up to a page; `-ENOMEM`
/// for a range with a hole (after changing what precedes it) or nothing
/// mapped, or one that wraps; `-EACCES` for an access the area may never
/// have (the text area has no VM_MAYWRITE); PROT_SEM is accepted.
fn mprotect_errors_are_linuxs() {
    let mm = on_fresh_mm();
    populate(&mm, 2, 1);
    assert_eq!(mprotect(DATA + 1, P, PROT_READ), -EINVAL);
    assert_eq!(mprotect(DATA, P, 0x10), -EINVAL);
    assert_eq!(mprotect(DATA, 0, PROT_READ), 0);
    assert_eq!(mprotect(DATA, 0, 0x10), 0, "len 0 is checked before prot, as in Linux");
    assert_eq!(mprotect(DATA + 1, 0, PROT_READ), -EINVAL, "but the start first of all");
    assert_eq!(mprotect(DATA, usize::MAX - P, PROT_READ), -ENOMEM, "a range that wraps");
    assert_eq!(mprotect(0x4000_0000, P, PROT_READ), -ENOMEM, "nothing mapped");
    assert_eq!(mprotect(TEXT, P, PROT_READ | PROT_WRITE), -EACCES, "the text area may never be written");
    assert_eq!(mprotect(DATA, P, PROT_READ | PROT_WRITE | PROT_SEM), 0, "PROT_SEM is accepted");
    // Rounded up: one byte protects the whole page, and only that page.
    assert_eq!(mprotect(DATA, 1, PROT_READ), 0);
    assert!(!mm.lookup(DATA).flags().contains(PteFlags::RW));
    assert!(mm.lookup(DATA + P).flags().contains(PteFlags::RW));
    // A hole: the data area ends at DATA + 16 pages; the area before the
    // hole is changed, PTEs included, then -ENOMEM.
    assert_eq!(mprotect(DATA + P, 16 * P, PROT_NONE), -ENOMEM);
    assert!(mm.lookup(DATA + P).pte_protnone(), "the part before the hole was changed");
    assert_eq!(mm.mmap_lock().find_vma(DATA + P).unwrap().vm_flags & VmFlags::VM_ACCESS_FLAGS, VmFlags::empty());
}
