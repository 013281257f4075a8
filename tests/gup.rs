//! Another process's memory (kernel/src/mm/gup.rs,
//! kernel/src/mm/process_vm_access.rs): `get_user_pages_remote` faults
//! pages in for *that* mm and hands them back referenced; the bytes go
//! through kmap_local; the current mm is never touched (catalogue case
//! U30). Then `access_remote_vm`, COW broken in the target only,
//! `FOLL_FORCE`, what GUP refuses, and `process_vm_readv`/`writev`
//! through the system-call table against a second task, with partial
//! counts and errnos. The `vmtest` user program checks the system calls
//! from user space against Linux.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use mm::layout::{PAGE_SIZE, TASK_SIZE};
use mm::vma::{VmArea, VmFlags, VmaKind};

use crate::arch::entry::syscall_32::nr;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::arch::paging::PteFlags;
use crate::errno::{EFAULT, EINVAL, ESRCH};
use crate::mm::gup::{FOLL_FORCE, FOLL_WRITE, REMOTE_FAULTS, access_remote_vm, get_user_pages_remote, put_page};
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::memory::{self, is_zero_pfn};
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::{PageHighMem, page_to_pfn, pfn_to_page};
use crate::test_case;
use crate::tools::ktest::Test;

use super::common::{have_highmem, kmap_depth, sys};
use super::user::{DATA, DATA_PAGES, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(u30_a_gup_write_into_another_mms_untouched_page_populates_that_mm_only),
    test_case!(a_remote_read_of_an_untouched_page_maps_the_zero_page_in_the_target),
    test_case!(a_remote_write_into_a_page_shared_since_fork_copies_it_for_the_target_only),
    test_case!(a_remote_cow_break_reaches_the_target_running_on_another_cpu),
    test_case!(gup_refuses_holes_and_what_the_area_refuses_and_stops_short_at_a_hole),
    test_case!(foll_force_writes_a_private_copy_into_a_read_only_area),
    test_case!(process_vm_writev_and_readv_reach_another_task_and_count_partial_copies),
    test_case!(process_vm_readv_and_writev_errors_are_linuxs),
];

const P: usize = PAGE_SIZE;

/// Pages mapped in an address space (its RSS, page tables aside).
fn rss_pages(mm: &MmStruct) -> usize {
    let r = mm.rss();
    r.data_low + r.data_high
}

/// A writer address space, made the current task's, and a target one
/// that no task has loaded.
fn writer_and_target() -> (Arc<MmStruct>, Arc<MmStruct>) {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    (me.mm().unwrap(), address_space_with(&[0x90]))
}

/// Read `n` bytes at `addr` as the process owning `mm` would: load it on
/// this task, copy_from_user, and go back to `back`.
fn read_as(mm: &Arc<MmStruct>, back: &Arc<MmStruct>, addr: usize, n: usize) -> Vec<u8> {
    let me = crate::sched::current();
    me.set_mm(mm.clone());
    let mut v = vec![0u8; n];
    let left = copy_from_user(&mut v, addr);
    me.set_mm(back.clone());
    assert_eq!(left, 0, "the process reads its own {addr:#x}");
    v
}

/// U30: a page the target never touched, taken with
/// `get_user_pages_remote(FOLL_WRITE)` and written through kmap_local by
/// this task, is now the target's: its RSS is one page up, the PTE maps
/// that very page writable, the page is highmem (when there is some),
/// and the target reads the bytes. This task's own mm has nothing at the
/// address and the same RSS as before.
fn u30_a_gup_write_into_another_mms_untouched_page_populates_that_mm_only() {
    let (mine, target) = writer_and_target();
    let addr = DATA + 3 * P + 100;
    let (my_rss, their_rss) = (rss_pages(&mine), rss_pages(&target));
    assert!(target.lookup(addr).is_none() && mine.lookup(addr).is_none(), "untouched on both sides");
    let faults = REMOTE_FAULTS.load(SeqCst);
    let mut pages = Vec::new();
    {
        let mut map = target.mmap_lock();
        assert_eq!(get_user_pages_remote(&target, &mut map, addr, 1, FOLL_WRITE, &mut pages), Ok(1));
    }
    let page = pages[0];
    assert_eq!(REMOTE_FAULTS.load(SeqCst), faults + 1, "one fault, taken for the target");
    assert_eq!(page.page_count(), 2, "the target's PTE and our reference");
    if have_highmem() {
        assert!(PageHighMem(page), "a user page comes from highmem");
    }
    let depth = kmap_depth();
    let v = kmap_local_page(page);
    // A highmem page needs a slot (two places on the stack with the guard
    // slots of debug_kmap_local); a lowmem one (-m 512M) is reached
    // through the direct map, which kmap_local_page returns, unless
    // debug_kmap_local_force_map sends lowmem through the slots too.
    let cfg = crate::mm::kmap_local::config();
    let slotted = PageHighMem(page) || cfg.force_map;
    assert_eq!(kmap_depth(), depth + usize::from(slotted) * cfg.km_incr(), "written through a kmap_local slot");
    // SAFETY: v maps the page; 100 + 15 < PAGE_SIZE.
    unsafe { core::ptr::copy_nonoverlapping(b"written remotely".as_ptr(), (v + 100) as *mut u8, 16) };
    kunmap_local(v);
    put_page(page);
    assert_eq!(page.page_count(), 1, "the target's PTE only");
    let pte = target.lookup(addr);
    assert_eq!(pte.pfn(), page_to_pfn(page), "the target maps that page");
    assert!(pte.flags().contains(PteFlags::RW | PteFlags::DIRTY | PteFlags::USER));
    assert_eq!(rss_pages(&target), their_rss + 1, "the target's RSS is one page up");
    assert_eq!(rss_pages(&mine), my_rss, "ours is as it was");
    assert!(mine.lookup(addr).is_none(), "and we map nothing there");
    assert_eq!(read_as(&target, &mine, addr, 16), b"written remotely");
    assert_eq!(read_as(&target, &mine, addr - 100, 100), vec![0u8; 100], "the rest of the page is zeroed");
}

/// A read of an untouched page maps the shared zero page into the target
/// (read-only), allocates nothing, and reads zeros.
fn a_remote_read_of_an_untouched_page_maps_the_zero_page_in_the_target() {
    let (mine, target) = writer_and_target();
    let (my_rss, their_rss) = (rss_pages(&mine), rss_pages(&target));
    let mut buf = [0xaau8; 300];
    assert_eq!(access_remote_vm(&target, DATA + 5 * P - 100, &mut buf, 0), 300, "across two pages");
    assert_eq!(buf, [0u8; 300]);
    for a in [DATA + 4 * P, DATA + 5 * P] {
        let pte = target.lookup(a);
        assert!(is_zero_pfn(pte.pfn()) && !pte.flags().contains(PteFlags::RW), "the zero page, read-only");
    }
    assert_eq!(rss_pages(&target), their_rss, "nothing allocated");
    assert_eq!(rss_pages(&mine), my_rss);
}

/// After fork both share a page read-only. A remote write into the
/// child (`access_remote_vm` with `FOLL_WRITE`) breaks COW in the child:
/// the child gets a new frame with the old bytes and the new ones; the
/// parent's entry, frame and bytes are untouched.
fn a_remote_write_into_a_page_shared_since_fork_copies_it_for_the_target_only() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let parent = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA, b"written before fork"), 0);
    let child = Arc::new(parent.dup_mmap().unwrap());
    let shared = parent.lookup(DATA);
    assert_eq!(child.lookup(DATA).pfn(), shared.pfn());
    assert_eq!(pfn_to_page(shared.pfn()).page_count(), 2);
    let copies = memory::COW_COPIES.load(SeqCst);
    let mut data = *b"CHILD";
    assert_eq!(access_remote_vm(&child, DATA + 8, &mut data, FOLL_WRITE), 5);
    assert_eq!(memory::COW_COPIES.load(SeqCst), copies + 1, "one COW copy");
    let c = child.lookup(DATA);
    assert_ne!(c.pfn(), shared.pfn(), "the child has its own frame now");
    assert!(c.flags().contains(PteFlags::RW));
    assert_eq!(parent.lookup(DATA), shared, "the parent's entry is untouched");
    assert_eq!(pfn_to_page(shared.pfn()).page_count(), 1, "the parent alone maps the old page");
    assert_eq!(read_as(&child, &parent, DATA, 19), b"written CHILDe fork");
    let mut back = [0u8; 19];
    assert_eq!(copy_from_user(&mut back, DATA), 0);
    assert_eq!(&back, b"written before fork", "the parent's bytes");
}

/// The same COW break while the target runs on another CPU, reading the
/// page in a loop (so that CPU's TLB holds the translation to the shared
/// frame): the remote write's `do_wp_page` must shoot that entry down
/// (`flush_tlb_page` on the *target's* `mm_cpumask`), or the target
/// would go on reading the old frame.
fn a_remote_cow_break_reaches_the_target_running_on_another_cpu() {
    crate::tools::ktest::require_cpus(2);
    static STATE: AtomicU32 = AtomicU32::new(0);
    STATE.store(0, SeqCst);
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let parent = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA, b"written before fork"), 0);
    let child = Arc::new(parent.dup_mmap().unwrap());
    // Stay on this CPU, so that the reader's CPU switches to nothing else
    // (a switch would reload CR3 and flush its TLB for us).
    crate::sched::preempt::migrate_disable();
    let other = if crate::percpu::smp_processor_id() == 1 { 0 } else { 1 };
    let c = child.clone();
    let t = crate::sched::spawn_on(other, "cow-reader", move || {
        crate::sched::current().set_mm(c);
        let deadline = crate::sched::core::jiffies() + 3000;
        let mut seen = [0u8; 5];
        loop {
            assert_eq!(copy_from_user(&mut seen, DATA + 8), 0);
            if STATE.load(SeqCst) == 0 {
                STATE.store(1, SeqCst); // read at least once: the TLB has it
            }
            if &seen == b"CHILD" {
                STATE.store(3, SeqCst);
                return;
            }
            if crate::sched::core::jiffies() > deadline {
                STATE.store(4, SeqCst);
                return;
            }
            core::hint::spin_loop();
        }
    });
    while STATE.load(SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let mut data = *b"CHILD";
    assert_eq!(access_remote_vm(&child, DATA + 8, &mut data, FOLL_WRITE), 5);
    t.join();
    crate::sched::preempt::migrate_enable();
    assert_eq!(STATE.load(SeqCst), 3, "the target on the other CPU saw the write (its stale TLB entry was flushed)");
    let mut back = [0u8; 19];
    assert_eq!(copy_from_user(&mut back, DATA), 0);
    assert_eq!(&back, b"written before fork", "the parent's bytes");
}

/// GUP says EFAULT for a hole, an address past user space, a write into
/// a read-only area and a read of a PROT_NONE one (no FOLL_FORCE); a
/// range that runs into a hole gives the pages before it.
fn gup_refuses_holes_and_what_the_area_refuses_and_stops_short_at_a_hole() {
    let (_mine, target) = writer_and_target();
    let none_at = DATA + DATA_PAGES * P + 16 * P;
    {
        let mut map = target.mmap_lock();
        map.insert_vm_struct(VmArea::new(none_at, none_at + P, VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE, VmaKind::Anonymous, none_at >> 12).unwrap()).unwrap();
    }
    let mut map = target.mmap_lock();
    let mut pages = Vec::new();
    let hole = DATA + DATA_PAGES * P;
    assert_eq!(get_user_pages_remote(&target, &mut map, hole, 1, 0, &mut pages), Err(EFAULT), "a hole");
    assert_eq!(get_user_pages_remote(&target, &mut map, TASK_SIZE, 1, 0, &mut pages), Err(EFAULT), "kernel space");
    assert_eq!(get_user_pages_remote(&target, &mut map, super::user::TEXT, 1, FOLL_WRITE, &mut pages), Err(EFAULT), "read-only text");
    assert_eq!(get_user_pages_remote(&target, &mut map, super::user::TEXT, 1, FOLL_WRITE | FOLL_FORCE, &mut pages), Err(EFAULT),
        "text that may never be written, not even forced");
    assert_eq!(get_user_pages_remote(&target, &mut map, none_at, 1, 0, &mut pages), Err(EFAULT), "PROT_NONE");
    assert!(pages.is_empty());
    assert_eq!(get_user_pages_remote(&target, &mut map, hole - 2 * P, 3, FOLL_WRITE, &mut pages), Ok(2), "two, then the hole");
    assert_eq!(pages.len(), 2);
    assert_eq!(page_to_pfn(pages[1]), target.lookup(hole - P).pfn());
    for p in pages {
        put_page(p);
    }
    let mut read = Vec::new();
    assert_eq!(get_user_pages_remote(&target, &mut map, super::user::TEXT, 1, 0, &mut read), Ok(1), "text can be read");
    assert_eq!(read[0].page_count(), 2);
    put_page(read[0]);
}

/// FOLL_FORCE (what ptrace's POKEDATA uses) writes into a private area
/// the process may not write (PROT_READ, but VM_MAYWRITE): the target
/// gets its own page, still read-only to it, holding the bytes.
fn foll_force_writes_a_private_copy_into_a_read_only_area() {
    let (mine, target) = writer_and_target();
    let ro = DATA + DATA_PAGES * P + 32 * P;
    {
        let flags = VmFlags::VM_READ | VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE | VmFlags::VM_MAYEXEC;
        target.mmap_lock().insert_vm_struct(VmArea::new(ro, ro + 2 * P, flags, VmaKind::Anonymous, ro >> 12).unwrap()).unwrap();
    }
    let mut poke = *b"breakpoint";
    assert_eq!(access_remote_vm(&target, ro + 40, &mut poke, FOLL_WRITE), 0, "not without FOLL_FORCE");
    assert!(target.lookup(ro).is_none());
    assert_eq!(access_remote_vm(&target, ro + 40, &mut poke, FOLL_WRITE | FOLL_FORCE), 10);
    let pte = target.lookup(ro);
    assert!(pte.pte_present() && !is_zero_pfn(pte.pfn()), "a page of its own");
    assert!(!pte.flags().contains(PteFlags::RW), "still read-only to the process");
    assert_eq!(read_as(&target, &mine, ro + 40, 10), b"breakpoint");
}

/// A task that takes `mm` as its address space, sets `go` to 1 and waits
/// until `go` is 2; it then reads `addr` in its own memory and sets `go`
/// to 3 if it found `want` there, 4 if not.
fn target_task(mm: Arc<MmStruct>, go: &'static AtomicU32, addr: usize, want: &'static [u8]) -> crate::sched::JoinHandle {
    crate::sched::spawn("pvm-target", move || {
        crate::sched::current().set_mm(mm);
        go.store(1, SeqCst);
        while go.load(SeqCst) != 2 {
            crate::sched::msleep(1);
        }
        let mut v = vec![0u8; want.len()];
        let ok = copy_from_user(&mut v, addr) == 0 && v == want;
        go.store(if ok { 3 } else { 4 }, SeqCst);
    })
}

fn iov(base: usize, len: usize) -> [u8; 8] {
    let mut v = [0u8; 8];
    v[..4].copy_from_slice(&(base as u32).to_le_bytes());
    v[4..].copy_from_slice(&(len as u32).to_le_bytes());
    v
}

/// Put iovecs into our memory at `at`; returns `at`.
fn put_iovs(at: usize, iovs: &[(usize, usize)]) -> usize {
    let bytes: Vec<u8> = iovs.iter().flat_map(|&(b, l)| iov(b, l)).collect();
    assert_eq!(copy_to_user(at, &bytes), 0);
    at
}

const READV: i32 = nr::PROCESS_VM_READV;
const WRITEV: i32 = nr::PROCESS_VM_WRITEV;

/// process_vm_writev from this task into another task's untouched pages
/// (two local iovecs into one remote one spanning two pages): the other
/// task reads the bytes in its own memory, its RSS is two pages up and
/// ours unchanged; process_vm_readv reads them back into two remote
/// iovecs; a remote range running into a hole gives the bytes before it.
fn process_vm_writev_and_readv_reach_another_task_and_count_partial_copies() {
    static GO: AtomicU32 = AtomicU32::new(0);
    GO.store(0, SeqCst);
    let (mine, target) = writer_and_target();
    let remote = DATA + 6 * P - 5; // 5 bytes in one page, 15 in the next
    let t = target_task(target.clone(), &GO, remote, b"hello, other task!!!");
    while GO.load(SeqCst) != 1 {
        crate::sched::msleep(1);
    }
    let pid = t.task().id() as usize;
    assert_eq!(copy_to_user(DATA, b"hello, other task!!!"), 0);
    let lvec = put_iovs(DATA + P, &[(DATA, 7), (DATA + 7, 13)]);
    let rvec = put_iovs(DATA + P + 64, &[(remote, 20)]);
    let (my_rss, their_rss) = (rss_pages(&mine), rss_pages(&target));
    assert_eq!(sys(WRITEV, [pid, lvec, 2, rvec, 1, 0]), 20);
    assert_eq!(rss_pages(&target), their_rss + 2, "two pages faulted in for the target");
    assert_eq!(rss_pages(&mine), my_rss, "ours unchanged");
    // Read back into two local buffers from two remote iovecs.
    let lvec = put_iovs(DATA + P + 128, &[(DATA + 2 * P, 3), (DATA + 2 * P + 100, 17)]);
    let rvec = put_iovs(DATA + P + 192, &[(remote, 10), (remote + 10, 10)]);
    assert_eq!(sys(READV, [pid, lvec, 2, rvec, 2, 0]), 20);
    let mut got = [0u8; 20];
    assert_eq!(copy_from_user(&mut got[..3], DATA + 2 * P), 0);
    assert_eq!(copy_from_user(&mut got[3..], DATA + 2 * P + 100), 0);
    assert_eq!(&got, b"hello, other task!!!");
    // The last 4 bytes of the data area, then the hole above it: 4.
    let end = DATA + DATA_PAGES * P;
    let lvec = put_iovs(DATA + P + 256, &[(DATA, 20)]);
    let rvec = put_iovs(DATA + P + 320, &[(end - 4, 16)]);
    assert_eq!(sys(WRITEV, [pid, lvec, 1, rvec, 1, 0]), 4, "a short count up to the hole");
    // The local side faulting part way: a local buffer whose second half
    // is the hole: the bytes before it.
    let lvec = put_iovs(DATA + P + 384, &[(end - 6, 12)]);
    let rvec = put_iovs(DATA + P + 448, &[(DATA, 12)]);
    assert_eq!(sys(READV, [pid, lvec, 1, rvec, 1, 0]), 6, "a short count up to our own hole");
    GO.store(2, SeqCst);
    t.join();
    assert_eq!(GO.load(SeqCst), 3, "the target task read the bytes in its own memory");
}

/// Linux's errnos: flags EINVAL; more than IOV_MAX (1024) iovecs on
/// either side EINVAL; a negative length EINVAL; an unreadable iovec
/// array EFAULT; a local range in kernel space EFAULT; no such pid
/// ESRCH (pid 0, negative, unused); a remote hole EFAULT when nothing was
/// copied; nothing to copy is 0, before the pid is even looked at.
fn process_vm_readv_and_writev_errors_are_linuxs() {
    let (_mine, _target) = writer_and_target();
    let me = crate::sched::current().id() as usize;
    let buf = DATA + 2 * P;
    let one = put_iovs(DATA, &[(buf, 8)]);
    let rem = put_iovs(DATA + 8, &[(buf + 64, 8)]);
    for call in [READV, WRITEV] {
        assert_eq!(sys(call, [me, one, 1, rem, 1, 0]), 8, "ourselves, as Linux allows");
        assert_eq!(sys(call, [me, one, 1, rem, 1, 1]), -EINVAL, "flags");
        assert_eq!(sys(call, [me, one, 1025, rem, 1, 0]), -EINVAL, "liovcnt > IOV_MAX");
        assert_eq!(sys(call, [me, one, 1, rem, 1025, 0]), -EINVAL, "riovcnt > IOV_MAX");
        assert_eq!(sys(call, [me, 0, 1, rem, 1, 0]), -EFAULT, "NULL lvec");
        assert_eq!(sys(call, [me, one, 1, TASK_SIZE, 1, 0]), -EFAULT, "rvec in kernel space");
        let neg = put_iovs(DATA + 16, &[(buf, 0x8000_0000)]);
        assert_eq!(sys(call, [me, neg, 1, rem, 1, 0]), -EINVAL, "a negative local length");
        assert_eq!(sys(call, [me, one, 1, neg, 1, 0]), -EINVAL, "a negative remote length");
        let kern = put_iovs(DATA + 24, &[(TASK_SIZE, 8)]);
        assert_eq!(sys(call, [me, kern, 1, rem, 1, 0]), -EFAULT, "a local range in kernel space");
        assert_eq!(sys(call, [0, one, 1, rem, 1, 0]), -ESRCH, "pid 0");
        assert_eq!(sys(call, [(-5i32) as usize, one, 1, rem, 1, 0]), -ESRCH, "a negative pid");
        assert_eq!(sys(call, [999_999, one, 1, rem, 1, 0]), -ESRCH, "no such pid");
        let hole = put_iovs(DATA + 32, &[(DATA + DATA_PAGES * P, 8)]);
        assert_eq!(sys(call, [me, one, 1, hole, 1, 0]), -EFAULT, "a remote hole, nothing copied");
        let wraps = put_iovs(DATA + 56, &[(0xffff_f000, 0x2000)]);
        assert_eq!(sys(call, [me, one, 1, wraps, 1, 0]), -EFAULT, "a remote range wrapping past 4 GiB");
        assert_eq!(sys(call, [999_999, one, 0, rem, 1, 0]), 0, "no local bytes: 0, pid unchecked");
        let empty = put_iovs(DATA + 40, &[(buf, 0)]);
        assert_eq!(sys(call, [999_999, one, 1, empty, 1, 0]), 0, "no remote bytes: 0, pid unchecked");
        assert_eq!(sys(call, [999_999, one, 1, rem, 0, 0]), 0, "no remote iovecs: 0");
    }
    let ro = put_iovs(DATA + 48, &[(super::user::TEXT, 8)]);
    assert_eq!(sys(WRITEV, [me, one, 1, ro, 1, 0]), -EFAULT, "writev into read-only text: no FOLL_FORCE");
    assert_eq!(sys(READV, [me, one, 1, ro, 1, 0]), 8, "readv of it is fine");
}
