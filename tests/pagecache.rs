//! The writable page cache (kernel/src/mm/filemap.rs) and ramfs on it
//! (kernel/src/fs/ramfs.rs), through the system-call table with a task's
//! own address space: the page lock, holes, `simple_write_begin`/`_end`,
//! `read` taking a short copy (U18), `write` prefaulting, copying
//! atomically and retrying (U19), `-EFAULT` writes (U21), zero fill (U22),
//! a file larger than lowmem (U23), truncation, `pread64`/`pwrite64`/
//! `O_APPEND`, every bad argument's errno, running out of memory, byte for
//! byte at every page offset in both copy modes, and four CPUs at once.
//! (U20, a write from a shared mapping of the same page, is in
//! tests/filemmap.rs with the file mappings it needs.)

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use mm::layout::PAGE_SIZE;

use crate::arch::entry::syscall_32::nr;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EBADF, EFAULT, EINVAL, EISDIR, ENOENT, ENOMEM, ESPIPE};
use crate::fs::{self, InodeRef};
use crate::mm::filemap::{self, FAIL_PAGECACHE_ALLOC_AFTER, UsercopyMode, filemap_counts, lock_page, page_waitqueue, set_usercopy_mode, trylock_page, unlock_page};
use super::common::{sys, sys3};
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus, require_highmem, skip};

use super::user::{DATA, DATA_PAGES, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(lock_page_sleeps_while_another_task_holds_the_lock),
    test_case!(i_size_is_read_whole_while_a_writer_changes_both_halves),
    test_case!(holes_read_as_zeros_and_cost_no_pages),
    test_case!(a_partial_first_write_zeroes_the_rest_of_the_new_page),
    test_case!(a_read_whose_second_page_has_no_vma_returns_the_first),
    test_case!(a_read_into_untouched_memory_faults_under_kmap_local_or_prefaults_for_kmap_atomic),
    test_case!(a_write_whose_second_source_page_is_untouched_writes_everything),
    test_case!(a_source_page_lost_after_the_prefault_is_a_short_copy_and_a_retry),
    test_case!(an_efault_write_leaves_i_size_and_a_half_bad_one_writes_one_page),
    test_case!(truncate_frees_pages_past_the_end_and_zeroes_the_tail),
    test_case!(o_append_pread64_and_pwrite64_place_the_bytes_as_linux_does),
    test_case!(every_bad_argument_gets_linuxs_errno),
    test_case!(a_read_at_the_largest_file_position_does_not_wrap_it),
    test_case!(running_out_of_memory_mid_write_keeps_the_file_consistent),
    test_case!(reads_and_writes_at_every_page_offset_agree_in_both_modes),
    test_case!(files_of_1_byte_to_several_mib_round_trip_in_both_modes),
    test_case!(a_256_mib_file_round_trips_in_both_modes),
    test_case!(four_tasks_on_four_cpus_write_and_read_one_file_and_lose_nothing),
    test_case!(a_file_larger_than_lowmem_lives_in_highmem_byte_for_byte),
];

crate::early_param!("test_large_files", Flag, "",
    "run the tests that write files larger than lowmem (about 20-30 s each under TCG); the runner gives it to one configuration",
    |_| Ok(()));

const O_RDONLY: usize = 0;
const O_WRONLY: usize = 1;
const O_RDWR: usize = 2;
const O_APPEND: usize = 0o2000;
const O_LARGEFILE: usize = 0o100000;
const MAP_FAILED_LIMIT: usize = 0xffff_f000;


fn pread64(fd: i32, buf: usize, n: usize, pos: u64) -> i32 {
    sys(nr::PREAD64, [fd as usize, buf, n, pos as u32 as usize, (pos >> 32) as usize, 0])
}

fn pwrite64(fd: i32, buf: usize, n: usize, pos: u64) -> i32 {
    sys(nr::PWRITE64, [fd as usize, buf, n, pos as u32 as usize, (pos >> 32) as usize, 0])
}

/// An anonymous private read-write mapping of `len` bytes (untouched).
fn mmap_anon(len: usize) -> usize {
    let a = sys(nr::MMAP2, [0, len, 3, 0x22, usize::MAX, 0]) as u32 as usize;
    assert!(a < MAP_FAILED_LIMIT, "mmap2 of {len} bytes failed: {}", a as i32);
    a
}

/// A fresh address space for this task (path strings go at DATA).
fn new_mm() {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
}

/// A new empty file at `path` in rootfs, opened with `flags`: its inode
/// and descriptor. The path is put at DATA (the first data page).
fn new_file(path: &str, flags: usize) -> (InodeRef, i32) {
    let inode = fs::rootfs().create(path, 0o644).expect("create");
    inode.truncate(0).unwrap();
    (inode, open(path, flags))
}

fn open(path: &str, flags: usize) -> i32 {
    let mut s = Vec::from(path.as_bytes());
    s.push(0);
    assert_eq!(copy_to_user(DATA, &s), 0);
    let fd = sys3(nr::OPEN, DATA, flags, 0);
    assert!(fd >= 0, "open {path}: {fd}");
    fd
}

/// Close `fd` and give the file's pages back.
fn done_with(inode: &InodeRef, fd: i32) {
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    inode.truncate(0).unwrap();
}

fn put(addr: usize, data: &[u8]) {
    assert_eq!(copy_to_user(addr, data), 0, "test buffer at {addr:#x}");
}

fn get(addr: usize, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0);
    v
}

/// Byte `i` of the test pattern with seed `seed`.
fn pat(seed: usize, i: usize) -> u8 {
    ((i.wrapping_mul(31) ^ (i >> 11) ^ seed.wrapping_mul(97)) % 253) as u8 + 1
}

fn pattern(seed: usize, start: usize, n: usize) -> Vec<u8> {
    (start..start + n).map(|i| pat(seed, i)).collect()
}

/// The file's bytes, read in the kernel (`read_at`).
fn file_bytes(inode: &InodeRef, off: usize, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    assert_eq!(inode.read_at(off, &mut v).unwrap(), n);
    v
}

fn nrpages(inode: &InodeRef) -> usize {
    inode.page_counts().0
}

/// Run `f` in each copy mode, the default restored after.
fn in_both_modes(mut f: impl FnMut(UsercopyMode)) {
    let before = filemap::usercopy_mode();
    for mode in [UsercopyMode::Local, UsercopyMode::Atomic] {
        set_usercopy_mode(mode);
        f(mode);
    }
    set_usercopy_mode(before);
}

fn lock_page_sleeps_while_another_task_holds_the_lock() {
    let page = crate::tests::common::any_page();
    let waits = filemap_counts().page_lock_waits;
    lock_page(page);
    assert!(!trylock_page(page), "trylock_page fails while the lock is held");
    let got = alloc::sync::Arc::new(AtomicBool::new(false));
    let other = {
        let got = got.clone();
        crate::sched::spawn("second-locker", move || {
            lock_page(page);
            got.store(true, SeqCst);
            unlock_page(page);
        })
    };
    // The second locker queues itself on the page's wait queue and sleeps.
    let wq = page_waitqueue(page);
    let mut spins = 0;
    while wq.is_empty() {
        crate::sched::yield_now();
        spins += 1;
        assert!(spins < 100_000, "the second locker never waited");
    }
    for _ in 0..50 {
        crate::sched::yield_now();
    }
    assert!(!got.load(SeqCst), "the second locker got a lock that is held");
    assert_eq!(other.task().state.load(SeqCst), crate::sched::task::TASK_UNINTERRUPTIBLE, "it sleeps (uninterruptibly, as lock_page does)");
    assert!(filemap_counts().page_lock_waits > waits);
    unlock_page(page);
    // Bounded, not a bare join: an unlock_page that forgets the wake-up
    // leaves the sleeper asleep for ever, and the test must say so.
    let mut spins = 0;
    while !got.load(SeqCst) {
        crate::sched::yield_now();
        spins += 1;
        assert!(spins < 100_000, "unlock_page did not wake the sleeper: it never took the lock");
    }
    other.join();
    assert!(trylock_page(page), "and gave it back");
    unlock_page(page);
    crate::tests::common::free_page(page);
}

fn i_size_is_read_whole_while_a_writer_changes_both_halves() {
    require_cpus(2);
    static SIZE: filemap::ISize = filemap::ISize::new();
    const A: u64 = 0x0000_0000_ffff_ffff;
    const B: u64 = 0x0000_0001_0000_0000;
    // Reads, and how many of them must overlap the writer's stores: the
    // two vCPUs are host threads that need not run at the same moment
    // (a loaded host), so the reader goes on until the writer has made
    // WRITES stores during its reads, not for a fixed number of reads.
    const READS: usize = 200_000;
    const WRITES: usize = 200_000;
    // A round that saw no change proved nothing (the host ran the two
    // vCPUs one after the other: seen once in CI, 306924 reads while 200000
    // stores went by): up to four rounds until one overlaps.
    let (mut reads, mut changes) = (0, 0);
    for _ in 0..4 {
        (reads, changes) = i_size_round(&SIZE, A, B, READS, WRITES);
        if changes > 0 {
            break;
        }
    }
    assert!(changes > 0, "the reads overlapped the writer's stores ({reads} reads saw no change, four rounds)");
}

/// One round of the i_size race: a writer on CPU 1 storing `b` and `a`
/// in turn, this task on CPU 0 reading until it has made `min_reads`
/// reads and the writer `writes` stores meanwhile; every value read must be one
/// of the two. (reads made, reads that saw a change).
fn i_size_round(size: &'static filemap::ISize, a: u64, b: u64, min_reads: usize, writes: usize) -> (usize, usize) {
    size.write(a);
    let stop = alloc::sync::Arc::new(AtomicBool::new(false));
    let written = alloc::sync::Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        crate::sched::spawn_on(1, "i_size-writer", move || {
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                size.write(if n & 1 == 0 { b } else { a });
                n += 1;
                written.store(n as usize, SeqCst);
            }
        })
    };
    crate::sched::core::set_current_affinity(1 << 0);
    while written.load(SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let w0 = written.load(SeqCst);
    let (mut reads, mut changes, mut last) = (0usize, 0usize, size.read());
    while reads < min_reads || written.load(SeqCst) - w0 < writes {
        let v = size.read();
        assert!(v == a || v == b, "i_size_read saw {v:#x}: half of one value and half of the other");
        changes += (v != last) as usize;
        last = v;
        reads += 1;
    }
    stop.store(true, SeqCst);
    writer.join();
    (reads, changes)
}

fn holes_read_as_zeros_and_cost_no_pages() {
    new_mm();
    let (inode, fd) = new_file("/pagecache-holes", O_RDWR);
    let buf = DATA + PAGE_SIZE;
    put(buf, b"end of a sparse file");
    let at = (1 << 20) + 7;
    assert_eq!(pwrite64(fd, buf, 20, at as u64), 20);
    assert_eq!(inode.size(), at + 20);
    assert_eq!(nrpages(&inode), 1, "only the written page exists: the hole before it has none");
    // A read of the hole gives zeros (simple_read_folio), and, as in
    // Linux's ramfs, the page it read is now in the cache.
    let out = DATA + 2 * PAGE_SIZE;
    assert_eq!(pread64(fd, out, 3 * PAGE_SIZE, 4096 * 10 + 5), (3 * PAGE_SIZE) as i32);
    assert!(get(out, 3 * PAGE_SIZE).iter().all(|&b| b == 0), "the hole reads as zeros");
    assert_eq!(nrpages(&inode), 1 + 4, "reading the hole filled the four pages it touched");
    assert_eq!(file_bytes(&inode, at - 7, 27)[..7], [0u8; 7], "the written page is zero before the write");
    assert_eq!(&file_bytes(&inode, at, 20)[..], b"end of a sparse file");
    done_with(&inode, fd);
    assert_eq!(nrpages(&inode), 0);
}

fn a_partial_first_write_zeroes_the_rest_of_the_new_page() {
    new_mm();
    // Dirty a pool of free pages, so the file's new page comes with
    // garbage in it unless write_begin zeroes it.
    let pool: Vec<_> = (0..64).map(|_| crate::mm::page_alloc::alloc_pages(filemap::AddressSpace::new().gfp_mask(), 0).unwrap()).collect();
    let pfns: Vec<usize> = pool.iter().map(|p| crate::mm::page_alloc::page_to_pfn(p)).collect();
    for p in &pool {
        crate::tests::common::fill_byte(p, 0xaa);
    }
    for p in pool.into_iter().rev() {
        crate::tests::common::free_page(p);
    }
    let (inode, fd) = new_file("/pagecache-zerofill", O_RDWR);
    put(DATA + PAGE_SIZE, &[0x55; 100]);
    assert_eq!(pwrite64(fd, DATA + PAGE_SIZE, 100, 1000), 100);
    let pfn = inode.page_pfns()[0];
    assert!(pfns.contains(&pfn), "the new page came from the dirtied pool (pfn {pfn:#x})");
    let page = file_bytes(&inode, 0, 1100);
    assert!(page[..1000].iter().all(|&b| b == 0), "before the write: zeros, not the page's old bytes");
    assert!(page[1000..].iter().all(|&b| b == 0x55));
    // Past i_size the page is zero too (a later growth shows it).
    assert_eq!(sys(nr::FTRUNCATE, [fd as usize, PAGE_SIZE, 0, 0, 0, 0]), 0);
    assert!(file_bytes(&inode, 1100, PAGE_SIZE - 1100).iter().all(|&b| b == 0), "after the write: zeros");
    done_with(&inode, fd);
}

fn a_read_whose_second_page_has_no_vma_returns_the_first() {
    new_mm();
    let fd = open("/data/big.bin", O_RDONLY);
    let last = DATA + (DATA_PAGES - 1) * PAGE_SIZE; // the next page has no VMA
    in_both_modes(|mode| {
        assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 0), 0);
        assert_eq!(sys3(nr::READ, fd as usize, last, 2 * PAGE_SIZE), PAGE_SIZE as i32, "{mode:?}: the first page only");
        assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 1), PAGE_SIZE as i32, "{mode:?}: the position advanced by what was read");
        let got = get(last, PAGE_SIZE);
        assert!((0..PAGE_SIZE).all(|i| got[i] == (((i % 251) ^ (i >> 12)) & 0xff) as u8), "{mode:?}: the file's bytes");
        assert_eq!(sys3(nr::READ, fd as usize, last + PAGE_SIZE, 10), -EFAULT, "{mode:?}: nothing readable: EFAULT");
        assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 1), PAGE_SIZE as i32, "{mode:?}: and the position stays");
    });
    let c = filemap_counts();
    assert!(c.read_atomic_short > 0 || c.read_atomic_copies > 0, "the old mode ran its kmap_atomic copy");
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
}

/// The two read patterns of chapter 11, counted: v6.x copies under
/// kmap_local and takes each fault there; the pre-v6.0 pattern prefaults
/// (`fault_in_writeable`) so that its kmap_atomic copies come back whole
/// and never need `kmap()`; and when the prefaulted page is gone again by
/// the copy (forced: `SKIP_READ_PREFAULT`), each atomic copy is short at
/// its first byte and "Too bad - revert to non-atomic kmap" finishes it
/// under `kmap()`, the bytes intact.
fn a_read_into_untouched_memory_faults_under_kmap_local_or_prefaults_for_kmap_atomic() {
    const N: usize = 4;
    new_mm();
    let (inode, fd) = new_file("/pagecache-patterns", O_RDWR);
    put(DATA + PAGE_SIZE, &pattern(3, 0, N * PAGE_SIZE));
    assert_eq!(sys3(nr::WRITE, fd as usize, DATA + PAGE_SIZE, N * PAGE_SIZE), (N * PAGE_SIZE) as i32);
    let before_mode = filemap::usercopy_mode();
    let read_fresh = |mode: UsercopyMode, skip: bool| {
        set_usercopy_mode(mode);
        filemap::SKIP_READ_PREFAULT.store(skip, SeqCst);
        let buf = mmap_anon(N * PAGE_SIZE); // untouched
        assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 0), 0);
        let c0 = filemap_counts();
        let n = sys3(nr::READ, fd as usize, buf, N * PAGE_SIZE);
        let d = filemap_counts().since(&c0);
        filemap::SKIP_READ_PREFAULT.store(false, SeqCst);
        assert_eq!(n, (N * PAGE_SIZE) as i32, "{mode:?} (skip prefault {skip}): the whole read");
        assert_eq!(get(buf, N * PAGE_SIZE), pattern(3, 0, N * PAGE_SIZE), "{mode:?} (skip prefault {skip}): the file's bytes");
        d
    };
    let local = read_fresh(UsercopyMode::Local, false);
    assert_eq!(local.read_copies, N as u64, "v6.x: one copy per page, under kmap_local");
    assert!(local.read_faults_under_kmap_local >= N as u64, "each copy took its page's fault under the mapping: {}", local.read_faults_under_kmap_local);
    assert_eq!((local.read_atomic_copies, local.read_kmap_fallbacks), (0, 0), "v6.x: no kmap_atomic, no kmap()");
    let old = read_fresh(UsercopyMode::Atomic, false);
    assert_eq!((old.read_copies, old.read_atomic_copies), (0, N as u64), "pre-v6.0: kmap_atomic copies");
    assert_eq!((old.read_faults_under_kmap_local, old.read_atomic_short, old.read_kmap_fallbacks), (0, 0, 0), "prefaulted: none short, no fallback");
    let lost = read_fresh(UsercopyMode::Atomic, true);
    assert_eq!((lost.read_atomic_copies, lost.read_atomic_short), (N as u64, N as u64), "without the prefault every atomic copy is short");
    assert_eq!(lost.read_kmap_fallbacks, N as u64, "and each goes on under kmap()");
    assert!(lost.read_kmap_fallback_cycles > 0, "the fallbacks' time is counted");
    set_usercopy_mode(before_mode);
    done_with(&inode, fd);
}

fn a_write_whose_second_source_page_is_untouched_writes_everything() {
    in_both_modes(|mode| {
        new_mm();
        let (inode, fd) = new_file("/pagecache-u19", O_RDWR);
        let src = DATA + 4 * PAGE_SIZE;
        put(src, &pattern(1, 0, PAGE_SIZE)); // the second page stays untouched
        let c0 = filemap_counts();
        assert_eq!(sys3(nr::WRITE, fd as usize, src, 2 * PAGE_SIZE), (2 * PAGE_SIZE) as i32, "{mode:?}: the whole write, the untouched second page faulted in by the prefault");
        let c1 = filemap_counts();
        assert_eq!(inode.size(), 2 * PAGE_SIZE);
        assert_eq!(file_bytes(&inode, 0, PAGE_SIZE), pattern(1, 0, PAGE_SIZE));
        assert!(file_bytes(&inode, PAGE_SIZE, PAGE_SIZE).iter().all(|&b| b == 0), "the untouched page read as zeros");
        assert!(c1.write_prefaults >= c0.write_prefaults + 2, "each page's source was prefaulted");
        assert!(c1.write_atomic_copies >= c0.write_atomic_copies + 2);
        done_with(&inode, fd);
    });
}

static LOST_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
static LOST_ADDR: AtomicUsize = AtomicUsize::new(0);
static LOCKED_AT_PREFAULT: AtomicUsize = AtomicUsize::new(0);
static HOOK_INODE: spin::Mutex<Option<InodeRef>> = spin::Mutex::new(None);

/// After the prefault of the step at `pos`: note whether the destination
/// page is locked (it must not be), and once, at LOST_AT, take the
/// source page away again (munmap + a fresh anonymous mapping: valid but
/// not present), as reclaim or another thread could.
fn lose_the_source_after_prefault(pos: u64) {
    if let Some(inode) = HOOK_INODE.lock().clone()
        && let Some(page) = inode.file().unwrap().i_mapping.find_get_page((pos / PAGE_SIZE as u64) as usize)
    {
        if page.page_locked() {
            LOCKED_AT_PREFAULT.fetch_add(1, SeqCst);
        }
        filemap::put_page(page);
    }
    if pos as usize == LOST_AT.load(SeqCst) {
        LOST_AT.store(usize::MAX, SeqCst);
        let a = LOST_ADDR.load(SeqCst);
        assert_eq!(sys3(nr::MUNMAP, a, PAGE_SIZE, 0), 0);
        assert_eq!(sys(nr::MMAP2, [a, PAGE_SIZE, 3, 0x32, usize::MAX, 0]) as usize, a, "MAP_FIXED back at the same place");
    }
}

fn a_source_page_lost_after_the_prefault_is_a_short_copy_and_a_retry() {
    in_both_modes(|mode| {
        new_mm();
        let (inode, fd) = new_file("/pagecache-retry", O_RDWR);
        // A file page already there and up to date, so the short copy
        // keeps its old bytes where nothing arrived.
        put(DATA + PAGE_SIZE, &[7u8; 3 * PAGE_SIZE]);
        assert_eq!(sys3(nr::WRITE, fd as usize, DATA + PAGE_SIZE, 3 * PAGE_SIZE), (3 * PAGE_SIZE) as i32);
        let src = mmap_anon(2 * PAGE_SIZE);
        put(src, &pattern(2, 0, 2 * PAGE_SIZE)); // both pages present
        *HOOK_INODE.lock() = Some(inode.clone());
        LOCKED_AT_PREFAULT.store(0, SeqCst);
        LOST_ADDR.store(src + PAGE_SIZE, SeqCst);
        LOST_AT.store(PAGE_SIZE, SeqCst); // the second page's step
        *filemap::AFTER_PREFAULT_HOOK.lock() = Some(lose_the_source_after_prefault);
        let c0 = filemap_counts();
        let n = pwrite64(fd, src, 2 * PAGE_SIZE, 0);
        let c1 = filemap_counts();
        *filemap::AFTER_PREFAULT_HOOK.lock() = None;
        *HOOK_INODE.lock() = None;
        assert_eq!(n, (2 * PAGE_SIZE) as i32, "{mode:?}: everything written after the retry");
        assert_eq!(LOST_AT.load(SeqCst), usize::MAX, "the source page was taken away");
        assert_eq!(c1.write_short_copies - c0.write_short_copies, 1, "{mode:?}: one short atomic copy");
        assert_eq!(c1.write_retries - c0.write_retries, 1, "{mode:?}: write_end took nothing: one retry");
        assert_eq!(c1.write_prefaults - c0.write_prefaults, 3, "{mode:?}: two pages and the retry's prefault");
        assert_eq!(c1.write_atomic_copies - c0.write_atomic_copies, 3);
        assert_eq!(LOCKED_AT_PREFAULT.load(SeqCst), 0, "{mode:?}: no prefault ran with the destination page locked");
        assert_eq!(file_bytes(&inode, 0, PAGE_SIZE), pattern(2, 0, PAGE_SIZE));
        assert!(file_bytes(&inode, PAGE_SIZE, PAGE_SIZE).iter().all(|&b| b == 0), "the re-made source page (zeros) arrived");
        assert!(file_bytes(&inode, 2 * PAGE_SIZE, PAGE_SIZE).iter().all(|&b| b == 7));
        assert_eq!(inode.size(), 3 * PAGE_SIZE);
        done_with(&inode, fd);
    });
}

fn an_efault_write_leaves_i_size_and_a_half_bad_one_writes_one_page() {
    in_both_modes(|mode| {
        new_mm();
        let (inode, fd) = new_file("/pagecache-u21", O_RDWR);
        put(DATA + PAGE_SIZE, b"0123456789");
        assert_eq!(sys3(nr::WRITE, fd as usize, DATA + PAGE_SIZE, 10), 10);
        let nowhere = DATA + DATA_PAGES * PAGE_SIZE; // no VMA
        assert_eq!(sys3(nr::WRITE, fd as usize, nowhere, 100), -EFAULT, "{mode:?}");
        assert_eq!((inode.size(), nrpages(&inode)), (10, 1), "{mode:?}: i_size and the cache unchanged");
        assert_eq!(pwrite64(fd, nowhere, 100, 5 * PAGE_SIZE as u64), -EFAULT, "{mode:?}: nor a page created past the end");
        assert_eq!((inode.size(), nrpages(&inode)), (10, 1));
        let last = DATA + (DATA_PAGES - 1) * PAGE_SIZE;
        put(last, &pattern(3, 0, PAGE_SIZE));
        assert_eq!(sys3(nr::WRITE, fd as usize, last, 2 * PAGE_SIZE), PAGE_SIZE as i32, "{mode:?}: the good page");
        assert_eq!(inode.size(), 10 + PAGE_SIZE, "{mode:?}: i_size grew by 4096");
        assert_eq!(file_bytes(&inode, 10, PAGE_SIZE), pattern(3, 0, PAGE_SIZE));
        assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 1), (10 + PAGE_SIZE) as i32, "the position moved by the bytes written");
        done_with(&inode, fd);
    });
}

fn truncate_frees_pages_past_the_end_and_zeroes_the_tail() {
    new_mm();
    let (inode, fd) = new_file("/pagecache-trunc", O_RDWR);
    let src = mmap_anon(3 * PAGE_SIZE);
    put(src, &pattern(4, 0, 3 * PAGE_SIZE));
    assert_eq!(sys3(nr::WRITE, fd as usize, src, 3 * PAGE_SIZE), (3 * PAGE_SIZE) as i32);
    let third = crate::mm::page_alloc::pfn_to_page(inode.page_pfns()[2]);
    assert_eq!(third.page_count(), 1, "the cache's reference");
    let removed0 = filemap_counts().pages_removed;
    assert_eq!(sys3(nr::FTRUNCATE, fd as usize, PAGE_SIZE + 100, 0), 0);
    assert_eq!((inode.size(), nrpages(&inode)), (PAGE_SIZE + 100, 2), "the third page left the cache");
    assert_eq!(filemap_counts().pages_removed - removed0, 1);
    assert_eq!(third.page_count(), 0, "and went back to the allocator");
    // Grow again: a hole, and the cut page's tail reads zero, not the old bytes.
    assert_eq!(sys(nr::FTRUNCATE64, [fd as usize, 3 * PAGE_SIZE, 0, 0, 0, 0]), 0);
    assert_eq!((inode.size(), nrpages(&inode)), (3 * PAGE_SIZE, 2), "growing allocates nothing");
    assert_eq!(file_bytes(&inode, 0, PAGE_SIZE + 100), pattern(4, 0, PAGE_SIZE + 100));
    assert!(file_bytes(&inode, PAGE_SIZE + 100, 2 * PAGE_SIZE - 100).iter().all(|&b| b == 0), "zeros from the old cut on");
    // truncate(path) too, and to 0: every page goes.
    put(DATA, b"/pagecache-trunc\0");
    assert_eq!(sys3(nr::TRUNCATE, DATA, 10, 0), 0);
    assert_eq!((inode.size(), nrpages(&inode)), (10, 1));
    assert_eq!(file_bytes(&inode, 0, 10), pattern(4, 0, 10));
    assert_eq!(sys3(nr::TRUNCATE, DATA, 0, 0), 0);
    assert_eq!((inode.size(), nrpages(&inode)), (0, 0));
    done_with(&inode, fd);
}

fn o_append_pread64_and_pwrite64_place_the_bytes_as_linux_does() {
    new_mm();
    let (inode, fd) = new_file("/pagecache-append", O_RDWR);
    let b = DATA + PAGE_SIZE;
    put(b, b"abcdefghij");
    assert_eq!(sys3(nr::WRITE, fd as usize, b, 10), 10);
    assert_eq!(pwrite64(fd, b, 3, 2), 3, "pwrite64 inside the file");
    assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 1), 10, "pwrite64 leaves the position");
    assert_eq!(&file_bytes(&inode, 0, 10)[..], b"ababcfghij");
    let out = DATA + 2 * PAGE_SIZE;
    assert_eq!(pread64(fd, out, 4, 6), 4);
    assert_eq!(&get(out, 4)[..], b"ghij");
    assert_eq!(pread64(fd, out, 4, 10), 0, "at the end");
    assert_eq!(pread64(fd, out, 4, 1 << 40), 0, "far past the end");
    assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 1), 10, "pread64 leaves the position");
    // O_APPEND: write() and even pwrite64() go to the end (Linux; pwrite(2), BUGS).
    let afd = open("/pagecache-append", O_WRONLY | O_APPEND);
    assert_eq!(sys3(nr::LSEEK, afd as usize, 0, 0), 0);
    assert_eq!(sys3(nr::WRITE, afd as usize, b, 2), 2);
    assert_eq!(sys3(nr::LSEEK, afd as usize, 0, 1), 12, "the position is after the appended bytes");
    assert_eq!(pwrite64(afd, b + 5, 2, 0), 2);
    assert_eq!(&file_bytes(&inode, 0, 14)[..], b"ababcfghijabfg");
    // O_LARGEFILE: past 2 GiB - 1 only with it; a sparse 5 GiB file costs one page.
    assert_eq!(pwrite64(fd, b, 1, (1 << 31) - 1), -27, "EFBIG without O_LARGEFILE");
    assert_eq!(pwrite64(fd, b, 10, (1 << 31) - 4), 3, "cut at 2 GiB - 1");
    let lfd = open("/pagecache-append", O_RDWR | O_LARGEFILE);
    assert_eq!(pwrite64(lfd, b, 10, 5 << 30), 10);
    assert_eq!(inode.file().unwrap().i_size(), (5u64 << 30) + 10);
    assert_eq!(nrpages(&inode), 3, "the first page, the one at 2 GiB and the one at 5 GiB");
    assert_eq!(pread64(lfd, out, 100, 5 << 30), 10);
    assert_eq!(&get(out, 10)[..], b"abcdefghij");
    for f in [afd, lfd] {
        assert_eq!(sys3(nr::CLOSE, f as usize, 0, 0), 0);
    }
    done_with(&inode, fd);
}

fn every_bad_argument_gets_linuxs_errno() {
    new_mm();
    let (inode, fd) = new_file("/pagecache-errno", O_RDWR);
    let fdu = fd as usize;
    let b = DATA + PAGE_SIZE;
    let neg = usize::MAX; // -1 as the high word: a negative loff_t
    assert_eq!(sys(nr::PREAD64, [fdu, b, 10, 0, neg, 0]), -EINVAL, "pread64 at a negative offset");
    assert_eq!(sys(nr::PREAD64, [99, b, 10, 0, neg, 0]), -EINVAL, "checked before the descriptor");
    assert_eq!(sys(nr::PWRITE64, [fdu, b, 10, 0, 0x8000_0000, 0]), -EINVAL, "pwrite64 at a negative offset");
    assert_eq!(pread64(99, b, 10, 0), -EBADF);
    assert_eq!(pwrite64(1, b, 10, 0), -ESPIPE, "the console has no pread/pwrite");
    assert_eq!(pread64(0, b, 10, 0), -ESPIPE);
    assert_eq!(pwrite64(fd, 0xc000_0000, 10, 0), -EFAULT, "a kernel buffer");
    assert_eq!(pread64(fd, 0xbfff_fff0, 0x20, 0), -EFAULT, "a buffer that crosses into the kernel");
    assert_eq!(pwrite64(fd, b, usize::MAX, 0), -EINVAL, "a count beyond ssize_t");
    assert_eq!(sys(nr::PWRITE64, [fdu, b, 10, 0xffff_fffe, 0x7fff_ffff, 0]), -EINVAL, "pos + count overflows loff_t");
    let ro = open("/pagecache-errno", O_RDONLY);
    let wo = open("/pagecache-errno", O_WRONLY);
    assert_eq!(sys3(nr::WRITE, ro as usize, b, 1), -EBADF, "write to a file opened O_RDONLY");
    assert_eq!(pwrite64(ro, b, 1, 0), -EBADF);
    assert_eq!(sys3(nr::READ, wo as usize, b, 1), -EBADF, "read from a file opened O_WRONLY");
    assert_eq!(pread64(wo, b, 1, 0), -EBADF);
    assert_eq!(sys3(nr::WRITE, fdu, b, 0), 0, "a write of nothing");
    assert_eq!(inode.size(), 0);
    // ftruncate / ftruncate64 / truncate
    assert_eq!(sys3(nr::FTRUNCATE, fdu, (-1i32) as usize, 0), -EINVAL, "a negative length");
    assert_eq!(sys3(nr::FTRUNCATE, 99, 0, 0), -EBADF);
    assert_eq!(sys3(nr::FTRUNCATE, 1, 0, 0), -EINVAL, "the console is not a regular file");
    assert_eq!(sys3(nr::FTRUNCATE, ro as usize, 0, 0), -EINVAL, "not opened for writing");
    assert_eq!(sys3(nr::FTRUNCATE64, fdu, 5, 1), 0, "ftruncate64 needs no O_LARGEFILE (Linux passes small = 0)");
    assert_eq!(sys3(nr::FTRUNCATE, fdu, 0, 0), 0);
    assert_eq!(sys3(nr::FTRUNCATE64, fdu, 0, 0x8000_0000), -EINVAL, "a negative 64-bit length");
    let lfd = open("/pagecache-errno", O_RDWR | O_LARGEFILE);
    assert_eq!(sys3(nr::FTRUNCATE64, lfd as usize, 0, 0x1000), -27, "EFBIG past MAX_LFS_FILESIZE");
    assert_eq!(sys3(nr::FTRUNCATE64, lfd as usize, 0, 1), 0, "4 GiB with O_LARGEFILE: a hole");
    assert_eq!((inode.file().unwrap().i_size(), nrpages(&inode)), (1 << 32, 0));
    put(DATA, b"/data\0");
    assert_eq!(sys3(nr::TRUNCATE, DATA, 0, 0), -EISDIR);
    put(DATA, b"/no/such/file\0");
    assert_eq!(sys3(nr::TRUNCATE, DATA, 0, 0), -ENOENT);
    assert_eq!(sys3(nr::TRUNCATE, DATA, (-5i32) as usize, 0), -EINVAL, "a negative length, before the path");
    assert_eq!(sys3(nr::TRUNCATE, 0xc000_0000, 0, 0), -EFAULT);
    put(DATA, b"/data\0");
    let dir = open("/data", O_RDONLY);
    assert_eq!(pread64(dir, b, 1, 0), -EISDIR);
    assert_eq!(sys3(nr::FTRUNCATE, dir as usize, 0, 0), -EINVAL);
    for f in [ro, wo, lfd, dir] {
        assert_eq!(sys3(nr::CLOSE, f as usize, 0, 0), 0);
    }
    done_with(&inode, fd);
}

fn running_out_of_memory_mid_write_keeps_the_file_consistent() {
    new_mm();
    let (inode, fd) = new_file("/pagecache-oom", O_RDWR);
    let src = mmap_anon(5 * PAGE_SIZE);
    put(src, &pattern(5, 0, 5 * PAGE_SIZE));
    FAIL_PAGECACHE_ALLOC_AFTER.store(2, SeqCst);
    // From the file's start: pages 0 and 1 can be had, page 2 cannot.
    let n = sys3(nr::WRITE, fd as usize, src + 100, 5 * PAGE_SIZE - 100);
    let m = sys3(nr::WRITE, fd as usize, src, 10);
    FAIL_PAGECACHE_ALLOC_AFTER.store(-1, SeqCst);
    assert_eq!(n, (2 * PAGE_SIZE) as i32, "the two pages that could be had");
    assert_eq!(m, -ENOMEM, "then nothing: ENOMEM");
    assert_eq!((inode.size(), nrpages(&inode)), (2 * PAGE_SIZE, 2), "i_size covers exactly the bytes written");
    assert_eq!(file_bytes(&inode, 0, 2 * PAGE_SIZE), pattern(5, 100, 2 * PAGE_SIZE));
    assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 1), (2 * PAGE_SIZE) as i32);
    // And with memory back, the write goes on where it stopped.
    let rest = 3 * PAGE_SIZE - 100;
    assert_eq!(sys3(nr::WRITE, fd as usize, src + 100 + 2 * PAGE_SIZE, rest), rest as i32);
    assert_eq!(file_bytes(&inode, 0, 5 * PAGE_SIZE - 100), pattern(5, 100, 5 * PAGE_SIZE - 100));
    done_with(&inode, fd);
}

/// FNV-1a: a checksum of bytes.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn reads_and_writes_at_every_page_offset_agree_in_both_modes() {
    in_both_modes(|mode| {
        new_mm();
        let (inode, fd) = new_file("/pagecache-offsets", O_RDWR);
        let (src, dst) = (mmap_anon(3 * PAGE_SIZE), mmap_anon(3 * PAGE_SIZE));
        put(src, &pattern(6, 0, 3 * PAGE_SIZE));
        for off in 0..PAGE_SIZE {
            // A length that always crosses the page boundary, by 1 .. 2 pages.
            let len = PAGE_SIZE - off + 1 + (off * 7) % PAGE_SIZE;
            let s = src + (off * 13) % PAGE_SIZE;
            assert_eq!(pwrite64(fd, s, len, off as u64), len as i32, "{mode:?} write at {off}");
            assert_eq!(pread64(fd, dst, len, off as u64), len as i32, "{mode:?} read at {off}");
            let (want, got) = (get(s, len), get(dst, len));
            assert_eq!(fnv(&got), fnv(&want), "{mode:?}: offset {off}, {len} bytes differ");
        }
        done_with(&inode, fd);
    });
}

fn files_of_1_byte_to_several_mib_round_trip_in_both_modes() {
    round_trip_in_both_modes("/pagecache-sizes", &[1, 100, 4095, 4096, 4097, 8191, 3 * PAGE_SIZE + 5, (1 << 20) + 7, 5 * 1024 * 1024 + 123]);
}

/// The top of the range: a file of 256 MiB (and a few bytes, so
/// the last page is partial), in each copy mode, written and read in
/// pieces that do not line up with pages. At -m 3G its pages are highmem.
fn a_256_mib_file_round_trips_in_both_modes() {
    // 2 x 256 MiB through write() and read() in each mode: several
    // seconds under TCG, so check runs it in the large-files configuration.
    crate::tools::ktest::require_kernel_option("test_large_files");
    round_trip_in_both_modes("/pagecache-256m", &[(256 << 20) + 4097]);
}

/// For each size: truncate the file, write `size` bytes of a pattern with
/// write() in pieces of lengths that do not line up with pages, check
/// i_size, read it back with read() in pieces of other lengths, check the
/// end of file, and compare every byte; in each copy mode.
fn round_trip_in_both_modes(path: &str, sizes: &[usize]) {
    let max = *sizes.iter().max().unwrap();
    in_both_modes(|mode| {
        new_mm();
        let (inode, fd) = new_file(path, O_RDWR);
        let (src, dst) = (mmap_anon(max), mmap_anon(max));
        for off in (0..max).step_by(1 << 16) {
            put(src + off, &pattern(7, off, (1usize << 16).min(max - off)));
        }
        for (k, &size) in sizes.iter().enumerate() {
            assert_eq!(sys3(nr::FTRUNCATE, fd as usize, 0, 0), 0);
            assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 0), 0);
            // Written in pieces whose lengths do not line up with pages...
            let (mut done, mut i) = (0, k);
            while done < size {
                let n = [1, 4095, 4097, 3000, 8195, 65536 + 11, 1 << 20][i % 7].min(size - done);
                assert_eq!(sys3(nr::WRITE, fd as usize, src + done, n), n as i32, "{mode:?} size {size}: a write takes all its bytes");
                done += n;
                i += 1;
            }
            assert_eq!(inode.size(), size);
            // ... and read back in others.
            assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 0), 0);
            let (mut done, mut i) = (0, k + 3);
            while done < size {
                let n = [4096, 1, 12289, 777, 1 << 20, 5000, 2][i % 7];
                let r = sys3(nr::READ, fd as usize, dst + done, n);
                assert_eq!(r, n.min(size - done) as i32, "{mode:?} size {size}: a read at {done} returns what is left before i_size, no more");
                done += r as usize;
                i += 1;
            }
            assert_eq!(sys3(nr::READ, fd as usize, dst, 10), 0, "then the end");
            for off in (0..size).step_by(1 << 16) {
                let n = (1usize << 16).min(size - off);
                assert!(same_words(&get(dst + off, n), &get(src + off, n)), "{mode:?}: a file of {size} bytes came back different at {off}");
            }
        }
        done_with(&inode, fd);
        assert_eq!(sys3(nr::MUNMAP, src, max, 0), 0);
        assert_eq!(sys3(nr::MUNMAP, dst, max, 0), 0);
    });
}

fn four_tasks_on_four_cpus_write_and_read_one_file_and_lose_nothing() {
    require_cpus(4);
    const RECORD: usize = 3000; // records straddle page boundaries
    const ROUNDS: usize = 64;
    let inode = fs::rootfs().create("/pagecache-smp", 0o644).unwrap();
    inode.truncate(0).unwrap();
    let append = fs::rootfs().create("/pagecache-smp-append", 0o644).unwrap();
    append.truncate(0).unwrap();
    let mut tasks = Vec::new();
    for t in 0..4usize {
        tasks.push(crate::sched::spawn_on(t, "pagecache-smp", move || {
            new_mm();
            let fd = open("/pagecache-smp", O_RDWR);
            let afd = open("/pagecache-smp-append", O_WRONLY | O_APPEND);
            let (src, dst) = (mmap_anon(2 * PAGE_SIZE), mmap_anon(2 * PAGE_SIZE));
            for r in 0..ROUNDS {
                let slot = r * 4 + t;
                let rec = pattern(slot, 0, RECORD);
                put(src, &rec);
                assert_eq!(pwrite64(fd, src, RECORD, (slot * RECORD) as u64), RECORD as i32);
                assert_eq!(pread64(fd, dst, RECORD, (slot * RECORD) as u64), RECORD as i32);
                assert_eq!(get(dst, RECORD), rec, "task {t} read back its record {slot}");
                // An appended record: its slot number in the first byte, then its pattern.
                let mut a = pattern(slot, 0, RECORD);
                a[0] = slot as u8;
                put(src, &a);
                assert_eq!(sys3(nr::WRITE, afd as usize, src, RECORD), RECORD as i32);
            }
            for f in [fd, afd] {
                assert_eq!(sys3(nr::CLOSE, f as usize, 0, 0), 0);
            }
        }));
    }
    for t in tasks {
        assert_eq!(t.join(), 0);
    }
    assert_eq!(inode.size(), 4 * ROUNDS * RECORD);
    for slot in 0..4 * ROUNDS {
        assert_eq!(file_bytes(&inode, slot * RECORD, RECORD), pattern(slot, 0, RECORD), "record {slot}");
    }
    assert_eq!(append.size(), 4 * ROUNDS * RECORD, "every append arrived");
    let mut seen = vec![false; 4 * ROUNDS];
    for k in 0..4 * ROUNDS {
        let rec = file_bytes(&append, k * RECORD, RECORD);
        let slot = rec[0] as usize;
        assert!(!seen[slot], "record {slot} appended twice");
        seen[slot] = true;
        assert_eq!(rec[1..], pattern(slot, 0, RECORD)[1..], "appended record {slot} is whole (i_rwsem kept the appends apart)");
    }
    inode.truncate(0).unwrap();
    append.truncate(0).unwrap();
}

/// `a == b`, compared a u32 at a time (byte-wise memcmp is slow under TCG).
fn same_words(a: &[u8], b: &[u8]) -> bool {
    let word = |w: &[u8]| u32::from_ne_bytes(w.try_into().unwrap());
    a.len() == b.len()
        && a.chunks_exact(4).zip(b.chunks_exact(4)).all(|(x, y)| word(x) == word(y))
        && a[a.len() / 4 * 4..] == b[b.len() / 4 * 4..]
}

/// U23: a file larger than all of lowmem (896 MiB at -m 3G) can only
/// live in highmem and survives write, read, mmap and read again byte for
/// byte: written through write() in 1 MiB pieces (each stamped with its
/// number), every page is highmem; read() (usercopy=local) gives back
/// every piece; a shared mapping of the whole file shows every piece and
/// takes a second stamp in each through stores (filemap_fault, then the
/// write faults of a shared mapping); after munmap, read() again, now in
/// the old copy mode (usercopy=atomic), gives back both stamps and the
/// rest of every piece.
fn a_file_larger_than_lowmem_lives_in_highmem_byte_for_byte() {
    const CHUNK: usize = 1 << 20;
    // Nearly a gigabyte through write(), read(), a mapping and read()
    // again takes 30-40 s under TCG: check runs it in one configuration.
    crate::tools::ktest::require_kernel_option("test_large_files");
    require_highmem();
    let lowmem = crate::mm::page_alloc::max_low_pfn() * PAGE_SIZE;
    let size = (lowmem + 16 * CHUNK) / CHUNK * CHUNK;
    let free_high = crate::mm::page_alloc::meminfo().high_free_kb * 1024;
    if free_high < size + 64 * CHUNK {
        skip(format_args!("needs highmem for a file larger than lowmem: {} MiB, {} MiB of highmem free (boot with -m 3G)", size >> 20, free_high >> 20));
    }
    let mode_before = filemap::usercopy_mode();
    new_mm();
    let (inode, fd) = new_file("/pagecache-u23", O_WRONLY);
    let (src, dst) = (mmap_anon(CHUNK), mmap_anon(CHUNK));
    put(src, &pattern(8, 0, CHUNK));
    let t0 = crate::arch::cpu::rdtsc();
    for c in 0..size / CHUNK {
        put(src, &(c as u32).to_le_bytes());
        assert_eq!(sys3(nr::WRITE, fd as usize, src, CHUNK), CHUNK as i32, "piece {c} of a file larger than lowmem: every byte written (its pages must come from highmem)");
    }
    let t1 = crate::arch::cpu::rdtsc();
    let (pages, high) = inode.page_counts();
    assert_eq!(pages, size / PAGE_SIZE);
    assert_eq!(high, pages, "every page of a file larger than lowmem is highmem");
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    let fd = open("/pagecache-u23", O_RDWR);
    set_usercopy_mode(UsercopyMode::Local);
    let mut want = pattern(8, 0, CHUNK);
    for c in 0..size / CHUNK {
        assert_eq!(sys3(nr::READ, fd as usize, dst, CHUNK), CHUNK as i32, "piece {c}");
        want[..4].copy_from_slice(&(c as u32).to_le_bytes());
        assert!(same_words(&get(dst, CHUNK), &want), "piece {c} of the file came back different from read()");
    }
    let t2 = crate::arch::cpu::rdtsc();
    assert_eq!(sys3(nr::READ, fd as usize, dst, CHUNK), 0);
    // The whole file in one shared mapping: each piece read through it,
    // then a second stamp stored into it.
    let map = sys(nr::MMAP2, [0, size, 3, 1, fd as usize, 0]) as u32 as usize;
    assert!(map < MAP_FAILED_LIMIT, "mmap2 of the whole {} MiB file: {}", size >> 20, map as i32);
    for c in 0..size / CHUNK {
        want[..4].copy_from_slice(&(c as u32).to_le_bytes());
        assert!(same_words(&get(map + c * CHUNK, CHUNK), &want), "piece {c} of the file came back different through the mapping");
        put(map + c * CHUNK + 4, &(!(c as u32)).to_le_bytes());
    }
    assert_eq!(sys3(nr::MUNMAP, map, size, 0), 0);
    let t3 = crate::arch::cpu::rdtsc();
    set_usercopy_mode(UsercopyMode::Atomic);
    assert_eq!(sys3(nr::LSEEK, fd as usize, 0, 0), 0);
    for c in 0..size / CHUNK {
        assert_eq!(sys3(nr::READ, fd as usize, dst, CHUNK), CHUNK as i32, "piece {c}");
        want[..4].copy_from_slice(&(c as u32).to_le_bytes());
        want[4..8].copy_from_slice(&(!(c as u32)).to_le_bytes());
        assert!(same_words(&get(dst, CHUNK), &want), "piece {c} came back different from read() after the stores through the mapping");
    }
    let t4 = crate::arch::cpu::rdtsc();
    set_usercopy_mode(mode_before);
    assert_eq!(inode.page_counts(), (pages, pages), "still every page in the page cache, in highmem");
    log::info!("pagecache: U23 file of {} MiB (lowmem {} MiB): write {} Mcycles, read {} Mcycles, mapping {} Mcycles, read again {} Mcycles",
        size >> 20, lowmem >> 20, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000, (t4 - t3) / 1_000_000);
    done_with(&inode, fd);
}

/// The fuzzer's fourth find (`./run-qemu.sh fuzz --seed 2`): an O_APPEND
/// write to a file longer than 4 GiB leaves the 32-bit file position at
/// its largest value (sys_write saturates it), and a read there added the
/// bytes read to it: "attempt to add with overflow" in the debug kernel
/// (fs/read_write.rs), a position back near 0 in the release one. The
/// read must give the bytes and leave the position at the top. (Linux's
/// loff_t is 64 bits: its position would be past 5 GiB and the read
/// would give 0, the end of the file; ours cannot hold that.)
fn a_read_at_the_largest_file_position_does_not_wrap_it() {
    new_mm();
    let (inode, fd) = new_file("/pagecache-top", O_RDWR | O_LARGEFILE);
    assert_eq!(sys3(nr::FTRUNCATE64, fd as usize, 0, 1), 0, "4 GiB, a hole");
    let afd = open("/pagecache-top", O_RDWR | O_APPEND | O_LARGEFILE);
    let b = DATA + PAGE_SIZE;
    put(b, b"x");
    assert_eq!(sys3(nr::WRITE, afd as usize, b, 1), 1, "appended at 4 GiB");
    assert_eq!(sys3(nr::FTRUNCATE64, fd as usize, 0, 2), 0, "8 GiB: more file after the position");
    assert_eq!(sys3(nr::READ, afd as usize, b, 10), 10, "the read at 4 GiB - 1 gives bytes");
    assert_eq!(&get(b, 2)[..], b"\0x", "the hole's last byte, then the appended one");
    put(b, b"yy");
    assert_eq!(sys3(nr::READ, afd as usize, b, 10), 10, "and again");
    assert_eq!(&get(b, 2)[..], b"\0x", "from the same place: the position stayed at the top, it did not wrap to 9");
    assert_eq!(sys3(nr::CLOSE, afd as usize, 0, 0), 0);
    done_with(&inode, fd);
}
