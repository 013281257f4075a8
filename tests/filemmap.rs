//! File mappings of ramfs (kernel/src/mm/mmap.rs `sys_mmap2`,
//! kernel/src/mm/memory.rs `do_fault`, kernel/src/fs/ramfs.rs `i_mmap` and
//! `unmap_mapping_range`): `mmap2` of a regular file, shared and private,
//! faulted in from the page cache (`filemap_fault`); private writes copied
//! through `copy_user_highpage` (two kmap_local mappings on top of the
//! page table's); shared writes seen by `read()` and `write()` seen
//! through the mapping; SIGBUS past the end; truncate unmapping what is
//! past the new end in every process; partial munmap; mprotect; fork;
//! `msync`; every errno; U20 (a `write()` from a shared mapping of the
//! same page) and U23's read back through a mapping. The `mmaptest` user
//! program (user/src/bin/mmaptest.rs) checks the same from user space
//! against Linux.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use mm::layout::PAGE_SIZE;

use crate::arch::entry::syscall_32::nr;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::arch::paging::PteFlags;
use crate::errno::{EACCES, EBADF, EINVAL, ENODEV, ENOMEM};
use mm::vma::errno::EOVERFLOW;
use crate::fs::{self, InodeRef};
use crate::mm::filemap::{UsercopyMode, set_usercopy_mode};
use crate::mm::memory;
use crate::mm::mm_types::MmStruct;
use crate::mm::page_alloc::{PageHighMem, page_to_pfn, pfn_to_page};
use super::common::{sys, sys3};
use crate::test_case;
use crate::tools::ktest::{Test, require_highmem};

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(a_shared_mapping_maps_the_cache_page_and_writes_meet_read_and_write),
    test_case!(a_private_mapping_copies_on_write_and_leaves_the_file_and_other_mappings_alone),
    test_case!(fork_shares_a_shared_mapping_and_each_side_sees_the_others_writes),
    test_case!(a_fault_past_the_end_of_the_file_is_sigbus),
    test_case!(truncate_unmaps_the_pages_past_the_new_end_in_every_process),
    test_case!(munmap_of_part_of_a_file_mapping_splits_it_and_drops_those_references),
    test_case!(mprotect_of_a_shared_file_mapping_write_protects_then_writes_in_place),
    test_case!(file_pages_are_highmem_and_the_private_copy_goes_through_kmap_local),
    test_case!(u20_a_write_from_a_shared_mapping_of_the_same_file_completes),
    test_case!(u23_a_multi_mib_file_reads_back_through_a_mapping_byte_for_byte),
    test_case!(mmap2_and_msync_errors_are_linuxs),
];

const P: usize = PAGE_SIZE;
const O_RDONLY: usize = 0;
const O_WRONLY: usize = 1;
const O_RDWR: usize = 2;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const MAP_SHARED: usize = 1;
const MAP_PRIVATE: usize = 2;
const MAP_FAILED_LIMIT: usize = 0xffff_f000;


/// `mmap2(0, len, prot, flags, fd, pgoff)`: the address or `-errno`.
fn mmap2(len: usize, prot: usize, flags: usize, fd: i32, pgoff: usize) -> i32 {
    sys(nr::MMAP2, [0, len, prot, flags, fd as usize, pgoff])
}

/// The same, which must succeed.
fn map(len: usize, prot: usize, flags: usize, fd: i32, pgoff: usize) -> usize {
    let a = mmap2(len, prot, flags, fd, pgoff) as u32 as usize;
    assert!(a < MAP_FAILED_LIMIT, "mmap2 failed: {}", a as i32);
    a
}

fn pwrite(fd: i32, buf: usize, n: usize, pos: usize) -> i32 {
    sys(nr::PWRITE64, [fd as usize, buf, n, pos, 0, 0])
}

fn pread(fd: i32, buf: usize, n: usize, pos: usize) -> i32 {
    sys(nr::PREAD64, [fd as usize, buf, n, pos, 0, 0])
}

fn new_mm() -> Arc<MmStruct> {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    me.mm().unwrap()
}

fn open(path: &str, flags: usize) -> i32 {
    let mut s = Vec::from(path.as_bytes());
    s.push(0);
    assert_eq!(copy_to_user(DATA, &s), 0);
    let fd = sys3(nr::OPEN, DATA, flags, 0);
    assert!(fd >= 0, "open {path}: {fd}");
    fd
}

/// A file at `path` holding `data`, and a descriptor with `flags`.
fn file_with(path: &str, data: &[u8], flags: usize) -> (InodeRef, i32) {
    let inode = fs::rootfs().create(path, 0o644).expect("create");
    inode.truncate(0).unwrap();
    inode.file().unwrap().write_at(0, data).unwrap();
    (inode, open(path, flags))
}

fn done_with(inode: &InodeRef, fd: i32) {
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    inode.truncate(0).unwrap();
}

fn put(addr: usize, data: &[u8]) {
    assert_eq!(copy_to_user(addr, data), 0, "user write at {addr:#x}");
}

fn get(addr: usize, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0, "user read at {addr:#x}");
    v
}

fn pat(seed: usize, i: usize) -> u8 {
    ((i.wrapping_mul(31) ^ (i >> 11) ^ seed.wrapping_mul(97)) % 253) as u8 + 1
}

fn pattern(seed: usize, n: usize) -> Vec<u8> {
    (0..n).map(|i| pat(seed, i)).collect()
}

fn file_bytes(inode: &InodeRef, off: usize, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    assert_eq!(inode.read_at(off, &mut v).unwrap(), n);
    v
}

/// The cache's page `index` of `inode`, and its pfn.
fn cache_pfn(inode: &InodeRef, index: usize) -> usize {
    let page = inode.file().unwrap().i_mapping.find_get_page(index).expect("a cached page");
    let pfn = page_to_pfn(page);
    crate::mm::filemap::put_page(page);
    pfn
}

/// A read through a shared mapping gets the page-cache page itself
/// (its pfn in the PTE, one more reference: the cache's and the PTE's),
/// writable at once (ramfs has no dirty accounting); a write through the
/// mapping is seen by pread at once, and a pwrite is seen through the
/// mapping.
fn a_shared_mapping_maps_the_cache_page_and_writes_meet_read_and_write() {
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-shared", &pattern(1, 3 * P), O_RDWR);
    let a = map(3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert!(mm.lookup(a).is_none(), "nothing until the first touch");
    let reads = memory::FILE_READ_FAULTS.load(SeqCst);
    assert_eq!(get(a, 3 * P), pattern(1, 3 * P));
    assert_eq!(memory::FILE_READ_FAULTS.load(SeqCst), reads + 3, "each first touch is a read fault that maps the cache's page (no copy)");
    for i in 0..3 {
        let pte = mm.lookup(a + i * P);
        assert_eq!(pte.pfn(), cache_pfn(&inode, i), "page {i}: the cache's page is mapped");
        assert!(pte.flags().contains(PteFlags::RW), "shared and writable: no write fault needed");
        assert_eq!(pfn_to_page(pte.pfn()).page_count(), 2, "the cache's reference and the PTE's");
    }
    put(a + P + 100, b"through the map");
    let mut back = file_bytes(&inode, P + 100, 15);
    assert_eq!(&back, b"through the map", "read() sees a shared mapping's write");
    assert_eq!(pread(fd, DATA, 15, P + 100), 15);
    assert_eq!(get(DATA, 15), b"through the map");
    put(DATA, b"by pwrite");
    assert_eq!(pwrite(fd, DATA, 9, 2 * P + 7), 9);
    assert_eq!(get(a + 2 * P + 7, 9), b"by pwrite", "the mapping sees write()");
    back = file_bytes(&inode, 0, 3 * P);
    assert_eq!(get(a, 3 * P), back);
    // munmap drops the PTEs' references; the pages stay in the cache.
    assert_eq!(sys3(nr::MUNMAP, a, 3 * P, 0), 0);
    assert_eq!(pfn_to_page(cache_pfn(&inode, 1)).page_count(), 1);
    assert_eq!(inode.page_counts().0, 3);
    assert!(mm.vm_file(mm::vma::FileId(inode.ino)).is_none(), "the last area of the file gone: its reference too");
    done_with(&inode, fd);
}

/// A private mapping: a read maps the cache page read-only; the first
/// write (after a read: do_wp_page; before any: do_cow_fault) gets a copy,
/// so the file, a shared mapping of it and another private one keep the
/// old bytes; a page never written still follows the file.
fn a_private_mapping_copies_on_write_and_leaves_the_file_and_other_mappings_alone() {
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-private", &pattern(2, 3 * P), O_RDONLY);
    let pv = map(3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    let other = map(3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    let sh = map(3 * P, PROT_READ, MAP_SHARED, fd, 0);
    assert_eq!(get(pv, 8), pattern(2, 8));
    let pte = mm.lookup(pv);
    assert_eq!(pte.pfn(), cache_pfn(&inode, 0));
    assert!(!pte.flags().contains(PteFlags::RW), "a private mapping's cache page is read-only");
    let (copies, cows) = (memory::COW_COPIES.load(SeqCst), memory::FILE_COW_FAULTS.load(SeqCst));
    put(pv + 10, b"mine");              // page 0: read first, so do_wp_page copies
    put(pv + 2 * P + 10, b"also mine"); // page 2: never read, so do_cow_fault copies
    assert_eq!(memory::COW_COPIES.load(SeqCst), copies + 1, "wp_page_copy of the read page");
    assert_eq!(memory::FILE_COW_FAULTS.load(SeqCst), cows + 1, "do_cow_fault of the untouched page");
    for i in [0, 2] {
        let pte = mm.lookup(pv + i * P);
        assert_ne!(pte.pfn(), cache_pfn(&inode, i), "page {i}: a copy");
        assert!(pte.flags().contains(PteFlags::RW | PteFlags::DIRTY));
        assert_eq!(pfn_to_page(pte.pfn()).page_count(), 1, "the process's own page");
    }
    assert_eq!(get(pv + 10, 4), b"mine");
    assert_eq!(get(pv + 2 * P + 10, 9), b"also mine");
    assert_eq!(file_bytes(&inode, 0, 3 * P), pattern(2, 3 * P), "the file is untouched");
    assert_eq!(get(sh, 3 * P), pattern(2, 3 * P), "so is a shared mapping");
    assert_eq!(get(other, 3 * P), pattern(2, 3 * P), "and another private one");
    assert_eq!(pfn_to_page(cache_pfn(&inode, 0)).page_count(), 3, "cache + shared + other private; the copy dropped its");
    // The file changes under page 1 (never written privately): seen.
    inode.file().unwrap().write_at(P, b"new file bytes").unwrap();
    assert_eq!(get(pv + P, 14), b"new file bytes", "an unwritten private page still shows the file");
    assert_eq!(get(pv + 10, 4), b"mine", "a copied one does not");
    done_with(&inode, fd);
}

/// fork: the child gets the same file areas; the shared pages are the
/// same frames and stay writable in both (not write-protected as private
/// ones are); what one side writes the other reads.
fn fork_shares_a_shared_mapping_and_each_side_sees_the_others_writes() {
    let me = crate::sched::current();
    let parent = new_mm();
    let (inode, fd) = file_with("/fmm-fork", &pattern(3, 2 * P), O_RDWR);
    let a = map(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    let b = map(P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    put(a, b"parent");
    put(b, b"private");
    let child = Arc::new(parent.dup_mmap().expect("fork"));
    crate::mm::mmap::link_file_vmas(&child);
    assert_eq!(child.lookup(a).pfn(), parent.lookup(a).pfn(), "the same page");
    assert!(parent.lookup(a).flags().contains(PteFlags::RW) && child.lookup(a).flags().contains(PteFlags::RW),
        "a shared area stays writable on both sides");
    assert!(!parent.lookup(b).flags().contains(PteFlags::RW), "a private one is write-protected (COW)");
    me.set_mm(child.clone());
    assert_eq!(get(a, 6), b"parent");
    put(a + P + 1, b"child");
    put(b, b"childs!");
    me.set_mm(parent.clone());
    assert_eq!(get(a + P + 1, 5), b"child", "the parent sees the child's write");
    assert_eq!(get(b, 7), b"private", "but not into a private mapping");
    assert_eq!(file_bytes(&inode, P + 1, 5), b"child");
    // The child is in the file's reverse map: truncate reaches it too.
    inode.truncate(P as u64).unwrap();
    assert!(child.lookup(a + P).is_none() && parent.lookup(a + P).is_none(), "page 1 unmapped in both");
    drop(child);
    done_with(&inode, fd);
}

/// A touch past the end of the file, rounded up to a page, is SIGBUS
/// (`VM_FAULT_SIGBUS`: the kernel's copy fails, a user access is killed
/// with BUS_ADRERR: mmaptest checks that); inside the last page the bytes
/// past the end read as zeros.
fn a_fault_past_the_end_of_the_file_is_sigbus() {
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-eof", &pattern(4, P + 100), O_RDWR);
    let a = map(3 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    let mut tail = pattern(4, P + 100)[P..].to_vec();
    tail.resize(P, 0);
    assert_eq!(get(a + P, P), tail, "the last page: the file, then zeros");
    let sigbus = memory::FILE_SIGBUS.load(SeqCst);
    let mut b = [0u8; 4];
    assert_eq!(copy_from_user(&mut b, a + 2 * P), 4, "page 2 is past the end");
    assert_eq!(copy_to_user(a + 2 * P, &[1]), 1);
    assert!(memory::FILE_SIGBUS.load(SeqCst) >= sigbus + 2, "each was VM_FAULT_SIGBUS");
    let vma = *mm.mmap_lock().find_vma(a).unwrap();
    let _lock = mm.mmap_lock();
    let r = memory::handle_mm_fault(&mm, &vma, a + 2 * P, memory::FaultFlags { write: false, user: true });
    assert_eq!(r, Err(memory::VmFault::SigBus));
    drop(_lock);
    // A private mapping too.
    let pv = map(3 * P, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_eq!(copy_from_user(&mut b, pv + 2 * P), 4);
    // Grow the file: the page becomes reachable.
    inode.truncate(3 * P as u64).unwrap();
    assert_eq!(get(a + 2 * P, 4), vec![0; 4]);
    done_with(&inode, fd);
}

/// ftruncate of a mapped file: the pages past the new end leave every
/// mapping (shared pages and private copies alike: Linux's even_cows), so
/// the next touch is SIGBUS; the page the end falls in stays mapped with
/// its tail zeroed; the cache pages go back (refcount 0).
fn truncate_unmaps_the_pages_past_the_new_end_in_every_process() {
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-trunc", &pattern(5, 4 * P), O_RDWR);
    let a = map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    let pv = map(4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    assert_eq!(get(a, 4 * P), pattern(5, 4 * P));
    put(pv + 3 * P, b"cow");
    let cow_pfn = mm.lookup(pv + 3 * P).pfn();
    let gone = [cache_pfn(&inode, 2), cache_pfn(&inode, 3), cow_pfn];
    assert_eq!(sys3(nr::FTRUNCATE, fd as usize, P + P / 2, 0), 0);
    for pfn in gone {
        assert_eq!(pfn_to_page(pfn).page_count(), 0, "{pfn:#x}: freed (its mappings' and the cache's references dropped)");
    }
    for addr in [a + 2 * P, a + 3 * P, pv + 3 * P] {
        assert!(mm.lookup(addr).is_none(), "{addr:#x} past the new end: unmapped");
    }
    assert!(!mm.lookup(a + P).is_none(), "the page the end falls in stays");
    let mut want = pattern(5, 2 * P);
    want[P + P / 2..].fill(0);
    assert_eq!(get(a, 2 * P), want, "its tail zeroed in place");
    let mut b = [0u8; 1];
    assert_eq!(copy_from_user(&mut b, a + 2 * P), 1, "SIGBUS now");
    assert_eq!(copy_from_user(&mut b, pv + 3 * P), 1, "the private copy went too");
    assert_eq!(inode.page_counts().0, 2);
    done_with(&inode, fd);
}

/// munmap of the middle of a file mapping: two areas, the upper one's
/// offset moved on; the middle pages' references are dropped, the others
/// keep theirs and their bytes; the file reference goes with the last area.
fn munmap_of_part_of_a_file_mapping_splits_it_and_drops_those_references() {
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-munmap", &pattern(6, 6 * P), O_RDWR);
    let a = map(5 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 1);
    assert_eq!(get(a, 5 * P), pattern(6, 6 * P)[P..].to_vec(), "pgoff 1: file page 1 at the start");
    assert_eq!(sys3(nr::MUNMAP, a + P, 2 * P, 0), 0);
    {
        let map = mm.mmap_lock();
        let lo = *map.find_vma(a).unwrap();
        let hi = *map.find_vma(a + 3 * P).unwrap();
        assert_eq!((lo.vm_start, lo.vm_end, lo.vm_pgoff), (a, a + P, 1), "the lower piece: file page 1 at the start");
        assert_eq!((hi.vm_start, hi.vm_end, hi.vm_pgoff), (a + 3 * P, a + 5 * P, 4), "the upper piece: vm_pgoff follows its new start (file page 4)");
    }
    for (i, count) in [(1, 2), (2, 1), (3, 1), (4, 2), (5, 2)] {
        assert_eq!(pfn_to_page(cache_pfn(&inode, i)).page_count(), count, "file page {i}");
    }
    assert_eq!(get(a + 3 * P, 2 * P), pattern(6, 6 * P)[4 * P..].to_vec());
    let mut b = [0u8; 1];
    assert_eq!(copy_from_user(&mut b, a + P), 1, "the hole is unmapped");
    assert!(mm.vm_file(mm::vma::FileId(inode.ino)).is_some());
    assert_eq!(sys3(nr::MUNMAP, a, 5 * P, 0), 0);
    assert!(mm.vm_file(mm::vma::FileId(inode.ino)).is_none());
    assert_eq!(inode.page_counts().0, 6, "the pages stay in the cache");
    done_with(&inode, fd);
}

/// mprotect(PROT_READ) of a shared writable file mapping write-protects
/// its PTEs (a write is refused); PROT_READ|PROT_WRITE again and a write
/// makes the same page writable in place (wp_page_shared: no copy, the
/// file sees it). A shared mapping of a file open read-only can never
/// become writable (EACCES).
fn mprotect_of_a_shared_file_mapping_write_protects_then_writes_in_place() {
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-mprotect", &pattern(7, 2 * P), O_RDWR);
    let a = map(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    put(a, b"w");
    let pfn = mm.lookup(a).pfn();
    assert_eq!(sys3(nr::MPROTECT, a, 2 * P, PROT_READ), 0);
    assert!(!mm.lookup(a).flags().contains(PteFlags::RW));
    assert_eq!(copy_to_user(a, b"x"), 1, "read-only now");
    assert_eq!(sys3(nr::MPROTECT, a, 2 * P, PROT_READ | PROT_WRITE), 0);
    let (shared, copies) = (memory::WP_SHARED.load(SeqCst), memory::COW_COPIES.load(SeqCst));
    put(a, b"y");
    assert_eq!(memory::WP_SHARED.load(SeqCst), shared + 1, "the write fault on the write-protected shared page took wp_page_shared");
    assert_eq!(memory::COW_COPIES.load(SeqCst), copies, "no copy");
    assert_eq!(mm.lookup(a).pfn(), pfn, "the same page, writable in place");
    assert_eq!(file_bytes(&inode, 0, 1), b"y");
    let ro = open("/fmm-mprotect", O_RDONLY);
    let r = map(P, PROT_READ, MAP_SHARED, ro, 0);
    assert_eq!(sys3(nr::MPROTECT, r, P, PROT_READ | PROT_WRITE), -EACCES);
    assert_eq!(sys3(nr::CLOSE, ro as usize, 0, 0), 0);
    done_with(&inode, fd);
}

static MAX_DEPTH: AtomicUsize = AtomicUsize::new(0);

fn record_depth() {
    MAX_DEPTH.fetch_max(crate::tests::common::kmap_depth(), SeqCst);
}

/// At -m 3G the file's pages come from highmem (GFP_HIGHUSER_MOVABLE)
/// and a private write copies one through kmap_local: the page table's
/// mapping, then the cache page's, then the copy's (depth D+3 at the
/// copy), all gone after.
fn file_pages_are_highmem_and_the_private_copy_goes_through_kmap_local() {
    require_highmem();
    let mm = new_mm();
    let (inode, fd) = file_with("/fmm-highmem", &pattern(8, 4 * P), O_RDONLY);
    let (pages, high) = inode.page_counts();
    assert_eq!(high, pages, "the page cache is highmem");
    let pv = map(4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    let base = crate::tests::common::kmap_depth();
    let maps = crate::mm::kmap_local::nr_maps();
    MAX_DEPTH.store(0, SeqCst);
    crate::mm::kmap_local::set_after_push_hook(Some(record_depth));
    put(pv + 3 * P, b"copied");
    crate::mm::kmap_local::set_after_push_hook(None);
    assert!(crate::mm::kmap_local::nr_maps() >= maps + 2, "the copy mapped both pages");
    assert!(MAX_DEPTH.load(SeqCst) > base + 2, "source and destination mapped on top of the page table (max {}, base {base})", MAX_DEPTH.load(SeqCst));
    assert_eq!(crate::tests::common::kmap_depth(), base, "all unmapped");
    assert!(PageHighMem(pfn_to_page(mm.lookup(pv + 3 * P).pfn())), "the copy is highmem too");
    assert_eq!(get(pv + 3 * P, 6), b"copied");
    done_with(&inode, fd);
}

/// U20: write() whose source is a MAP_SHARED mapping of the same file,
/// untouched, to the same offset and to another one, in both copy modes:
/// it completes (generic_perform_write faults the source in *before*
/// taking the destination's page lock; the fault takes that lock too).
fn u20_a_write_from_a_shared_mapping_of_the_same_file_completes() {
    let before = crate::mm::filemap::usercopy_mode();
    for mode in [UsercopyMode::Local, UsercopyMode::Atomic] {
        set_usercopy_mode(mode);
        let mm = new_mm();
        let (inode, fd) = file_with("/fmm-u20", &pattern(9, 2 * P), O_RDWR);
        let a = map(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert!(mm.lookup(a).is_none(), "untouched");
        // Same offset: page 0 onto itself.
        assert_eq!(pwrite(fd, a, P, 0), P as i32, "{mode:?}: same page");
        assert_eq!(file_bytes(&inode, 0, 2 * P), pattern(9, 2 * P));
        // Another offset: page 0 of the mapping onto page 1 of the file
        // (page 1's lock held while page 0 is the source), and back the
        // other way from untouched page 1, unaligned.
        assert!(mm.lookup(a + P).is_none());
        assert_eq!(pwrite(fd, a + P + 10, 100, 50), 100, "{mode:?}: page 1 into page 0");
        assert_eq!(pwrite(fd, a, P, P), P as i32, "{mode:?}: page 0 into page 1");
        let mut want = pattern(9, 2 * P);
        let src: Vec<u8> = want[P + 10..P + 110].to_vec();
        want[50..150].copy_from_slice(&src);
        let p0: Vec<u8> = want[..P].to_vec();
        want[P..].copy_from_slice(&p0);
        assert_eq!(file_bytes(&inode, 0, 2 * P), want, "{mode:?}");
        assert_eq!(get(a, 2 * P), want);
        done_with(&inode, fd);
    }
    set_usercopy_mode(before);
}

/// U23, the mmap part: a multi-MiB file written with write(), mapped
/// shared read-only, compared byte for byte through the mapping; its
/// pages highmem at -m 3G.
fn u23_a_multi_mib_file_reads_back_through_a_mapping_byte_for_byte() {
    const SIZE: usize = 8 << 20;
    let _mm = new_mm();
    let (inode, fd) = file_with("/fmm-u23", &[], O_RDWR);
    let src = map(1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | 0x20, -1, 0);
    for c in 0..SIZE >> 20 {
        put(src, &pattern(c, 1 << 20));
        assert_eq!(sys3(nr::WRITE, fd as usize, src, 1 << 20), 1 << 20);
    }
    let (pages, high) = inode.page_counts();
    assert_eq!(pages, SIZE / P);
    if crate::tests::common::have_highmem() {
        assert_eq!(high, pages, "every page highmem");
    }
    let a = map(SIZE, PROT_READ, MAP_SHARED, fd, 0);
    for c in 0..SIZE >> 20 {
        assert!(get(a + (c << 20), 1 << 20) == pattern(c, 1 << 20), "MiB {c} differs through the mapping");
    }
    // And read() agrees with what the mapping showed.
    let mut back = vec![0u8; 1 << 20];
    assert_eq!(inode.read_at(5 << 20, &mut back).unwrap(), 1 << 20);
    assert!(back == pattern(5, 1 << 20));
    assert_eq!(sys3(nr::MUNMAP, a, SIZE, 0), 0);
    done_with(&inode, fd);
}

/// mmap2's errnos for files, as Linux's ksys_mmap_pgoff/do_mmap give them,
/// and msync's (a no-op on ramfs).
fn mmap2_and_msync_errors_are_linuxs() {
    let _mm = new_mm();
    let (inode, rw) = file_with("/fmm-errno", &pattern(10, P), O_RDWR);
    let ro = open("/fmm-errno", O_RDONLY);
    let wo = open("/fmm-errno", O_WRONLY);
    assert_eq!(mmap2(P, PROT_READ, MAP_SHARED, 99, 0), -EBADF);
    assert_eq!(mmap2(P, PROT_READ, MAP_SHARED, -1, 0), -EBADF, "fd -1 without MAP_ANONYMOUS");
    assert_eq!(mmap2(P, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), -EACCES);
    assert_eq!(mmap2(P, PROT_READ, MAP_PRIVATE, wo, 0), -EACCES, "not open for reading");
    assert_eq!(mmap2(P, PROT_READ, MAP_SHARED | 0x4_0000, rw, 0), -EINVAL, "MAP_HUGETLB on ramfs");
    assert_eq!(mmap2(P, PROT_READ, 0, rw, 0), -EINVAL, "no map type");
    assert_eq!(mmap2(0, PROT_READ, MAP_SHARED, rw, 0), -EINVAL, "length 0");
    assert_eq!(mmap2(2 * P, PROT_READ, MAP_SHARED, rw, usize::MAX), -EOVERFLOW, "pgoff + pages wraps");
    assert!((mmap2(P, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0) as u32 as usize) < MAP_FAILED_LIMIT, "a private writable map of a read-only file is fine");
    assert!((mmap2(P, PROT_READ, MAP_SHARED, ro, 5) as u32 as usize) < MAP_FAILED_LIMIT, "an offset past the end maps (the touch is SIGBUS)");
    // No f_op->mmap: a pipe's read end, a directory.
    assert_eq!(sys3(nr::PIPE2, DATA + 64, 0, 0), 0);
    let fds = get(DATA + 64, 8);
    let (pr, pw) = (i32::from_le_bytes(fds[..4].try_into().unwrap()), i32::from_le_bytes(fds[4..].try_into().unwrap()));
    assert_eq!(mmap2(P, PROT_READ, MAP_PRIVATE, pr, 0), -ENODEV);
    assert_eq!(mmap2(P, PROT_READ, MAP_PRIVATE, pw, 0), -EACCES, "the write end is not readable: EACCES comes first");
    let dir = open("/", O_RDONLY);
    assert_eq!(mmap2(P, PROT_READ, MAP_PRIVATE, dir, 0), -ENODEV);
    // msync: no-op, Linux's checks.
    let a = map(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
    const MS_ASYNC: usize = 1;
    const MS_INVALIDATE: usize = 2;
    const MS_SYNC: usize = 4;
    assert_eq!(sys3(nr::MSYNC, a, 2 * P, MS_SYNC), 0);
    assert_eq!(sys3(nr::MSYNC, a, 1, MS_ASYNC | MS_INVALIDATE), 0);
    assert_eq!(sys3(nr::MSYNC, a + 1, P, MS_SYNC), -EINVAL, "unaligned");
    assert_eq!(sys3(nr::MSYNC, a, P, 8), -EINVAL, "unknown flag");
    assert_eq!(sys3(nr::MSYNC, a, P, MS_ASYNC | MS_SYNC), -EINVAL);
    assert_eq!(sys3(nr::MSYNC, a, 0, MS_SYNC), 0, "empty");
    assert_eq!(sys3(nr::MSYNC, P * 16, P, MS_ASYNC), -ENOMEM, "nothing mapped there");
    assert_eq!(sys3(nr::MSYNC, a - P, 2 * P, MS_ASYNC), -ENOMEM, "MS_ASYNC stops at the hole");
    assert_eq!(sys3(nr::MSYNC, a - P, 2 * P, MS_SYNC), -ENOMEM, "MS_SYNC walks on, then reports it");
    assert_eq!(sys3(nr::MSYNC, a, usize::MAX - a + 1, MS_SYNC), -ENOMEM, "past the end of the address space");
    for fd in [ro, wo, pr, pw, dir] {
        assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    }
    done_with(&inode, rw);
}
