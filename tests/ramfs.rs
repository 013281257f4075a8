//! ramfs and the initramfs: the suite's archive (target/initramfs.cpio,
//! made by `cpio -o -H newc` in tests/runner.sh, which every suite boot
//! passes) unpacked at boot into rootfs, read back byte for byte through
//! kmap_local, its pages in highmem when the machine has any; and archives
//! built here, unpacked into a ramfs of the test's own, for what the boot
//! archive cannot show (corrupt archives change nothing, hard links,
//! entries that are skipped, every page given back).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use boot::initramfs::{ErrorKind, FileType, Header, NewcWriter, S_IFCHR, S_IFREG};
use mm::layout::{PAGE_SIZE, is_kmap_local_addr};

use crate::fs::initramfs::{UnpackLine, UnpackStats, unpack, with_phys_bytes};
use crate::fs::{self, FsError, InodeRef, Ramfs};
use crate::mm::page_alloc::{self, PageHighMem, pfn_to_page};
use crate::test_case;
use crate::tools::ktest::{Test, skip};

use super::common::have_highmem;

pub const TESTS: &[Test] = &[
    test_case!(initramfs_files_round_trip_byte_for_byte),
    test_case!(file_pages_come_from_highmem_first),
    test_case!(reads_across_page_boundaries_and_the_end),
    test_case!(read_pages_maps_one_page_at_a_time_through_kmap_local),
    test_case!(a_short_copy_ends_read_pages),
    test_case!(lookup_of_missing_paths_finds_nothing),
    test_case!(readdir_lists_each_directory_in_name_order),
    test_case!(symlinks_are_followed_and_keep_their_target),
    test_case!(hard_links_from_gnu_cpio_are_one_inode),
    test_case!(a_corrupt_archive_unpacks_nothing),
    test_case!(char_devices_are_made_and_entries_ramfs_cannot_hold_are_skipped_and_named),
    test_case!(a_later_entry_replaces_an_earlier_one_as_in_linux),
    test_case!(symlink_loops_end_in_eloop),
    test_case!(dropping_a_ramfs_gives_back_every_page),
    test_case!(the_unpack_line_says_how_many_pages_are_highmem),
    test_case!(an_archive_above_lowmem_is_read_through_ioremap),
    test_case!(the_initrd_frames_go_back_to_the_allocator_after_unpacking),
];

/// Byte `i` of data/big.bin and data/small.bin (tests/runner.sh,
/// make_test_initramfs, writes the same in Python).
fn pattern(i: usize) -> u8 {
    ((i % 251) ^ (i >> 12)) as u8
}

const BIG_SIZE: usize = 1024 * 1024 + 4099;

/// The inode at `path` in rootfs; skips the test when the boot had no
/// suite initramfs (the runner always passes one: any skip there fails).
fn boot_file(path: &str) -> InodeRef {
    if fs::lookup("/hello.txt").is_none() {
        skip(format_args!(
            "needs the suite's initramfs (target/initramfs.cpio; ./run-qemu.sh test passes it with -initrd)"
        ));
    }
    fs::lookup(path).unwrap_or_else(|| panic!("{path} is not in the unpacked initramfs"))
}

fn read_all(inode: &InodeRef) -> Vec<u8> {
    let mut buf = vec![0u8; inode.size()];
    assert_eq!(inode.read_at(0, &mut buf), Ok(buf.len()));
    buf
}

fn initramfs_files_round_trip_byte_for_byte() {
    let hello = boot_file("/hello.txt");
    assert_eq!(read_all(&hello), b"hello from the initramfs\n");
    let big = boot_file("/data/big.bin");
    assert_eq!(fs::size(&big), BIG_SIZE);
    let data = read_all(&big);
    if let Some(i) = (0..BIG_SIZE).find(|&i| data[i] != pattern(i)) {
        panic!("data/big.bin byte {i} (page {}) is {:#04x}, want {:#04x}", i / PAGE_SIZE, data[i], pattern(i));
    }
    let small = boot_file("/data/small.bin");
    assert_eq!(read_all(&small), (0..100).map(pattern).collect::<Vec<_>>());
    let empty = boot_file("/empty");
    assert_eq!(fs::size(&empty), 0);
    assert_eq!(fs::read_at(&empty, 0, &mut [0u8; 16]), 0);
    assert_eq!(empty.page_counts(), (0, 0));
}

fn file_pages_come_from_highmem_first() {
    let big = boot_file("/data/big.bin");
    let (pages, high) = big.page_counts();
    assert_eq!(pages, BIG_SIZE.div_ceil(PAGE_SIZE));
    let pfns = big.page_pfns();
    assert_eq!(pfns.len(), pages);
    let max_low = page_alloc::max_low_pfn();
    if have_highmem() {
        // GFP_HIGHUSER on a machine with 2 GiB of free highmem: every page.
        assert_eq!(high, pages, "{} of {pages} pages of data/big.bin are lowmem", pages - high);
        assert!(pfns.iter().all(|&p| p >= max_low && PageHighMem(pfn_to_page(p))));
    } else {
        assert_eq!(high, 0);
        assert!(pfns.iter().all(|&p| p < max_low && !PageHighMem(pfn_to_page(p))));
    }
}

fn reads_across_page_boundaries_and_the_end() {
    let big = boot_file("/data/big.bin");
    let expect = |off: usize, n: usize| (off..off + n).map(pattern).collect::<Vec<_>>();
    for (off, len) in [(4090, 20), (4095, 2), (PAGE_SIZE, PAGE_SIZE), (3 * PAGE_SIZE - 1, 2 * PAGE_SIZE + 2), (0, 1), (12345, 70000)] {
        let mut buf = vec![0u8; len];
        assert_eq!(big.read_at(off, &mut buf), Ok(len), "read of {len} at {off}");
        assert_eq!(buf, expect(off, len), "read of {len} at {off}");
    }
    // Short at the end, nothing past it; the buffer beyond is untouched.
    let mut buf = [0xaau8; 10];
    assert_eq!(big.read_at(BIG_SIZE - 3, &mut buf), Ok(3));
    assert_eq!(&buf[..3], &expect(BIG_SIZE - 3, 3)[..]);
    assert_eq!(&buf[3..], &[0xaa; 7]);
    assert_eq!(big.read_at(BIG_SIZE, &mut buf), Ok(0));
    assert_eq!(big.read_at(usize::MAX - 1, &mut buf), Ok(0));
    // Directories and symlinks are not read: EISDIR, EINVAL.
    let data = boot_file("/data");
    assert_eq!(data.read_at(0, &mut buf), Err(FsError::IsADirectory));
    let link = fs::rootfs().namei_nofollow("/link").unwrap();
    assert_eq!(link.read_at(0, &mut buf), Err(FsError::Invalid));
    assert_eq!(FsError::IsADirectory.errno(), 21);
}

fn read_pages_maps_one_page_at_a_time_through_kmap_local() {
    let big = boot_file("/data/big.bin");
    let (off, len) = (PAGE_SIZE - 100, 2 * PAGE_SIZE + 200);
    let depth0 = crate::sched::current().kmap_local_idx();
    let mut chunks = Vec::new();
    let total = big
        .read_pages(off, len, |chunk| {
            let addr = chunk.as_ptr() as usize;
            chunks.push((addr, chunk.len(), crate::sched::current().kmap_local_idx()));
            chunk.len()
        })
        .unwrap();
    assert_eq!(total, len);
    // Four pages touched: 100 bytes, two whole pages, 100 bytes.
    let lens: Vec<usize> = chunks.iter().map(|c| c.1).collect();
    assert_eq!(lens, [100, PAGE_SIZE, PAGE_SIZE, 100]);
    for &(addr, _, depth) in &chunks {
        if have_highmem() {
            // Highmem has no direct-map address: the chunk lies in this
            // CPU's kmap_local slots, one mapping held at a time: the slot
            // stack is as deep for every page (the previous page was
            // unmapped first), and deeper than before the walk. (The index
            // counts slots, which are two per mapping with debug_kmap_local.)
            assert!(is_kmap_local_addr(addr), "chunk at {addr:#010x} is not in a kmap_local slot");
            assert!(depth > depth0 && depth == chunks[0].2, "kmap_local depth {depth} (before the walk {depth0}, first page {})", chunks[0].2);
        }
    }
    // After the walk no mapping is left.
    assert_eq!(crate::sched::current().kmap_local_idx(), depth0);
}

fn a_short_copy_ends_read_pages() {
    let big = boot_file("/data/big.bin");
    let mut calls = 0;
    // The second page's copy "faults" after 10 bytes: the walk stops there.
    let n = big
        .read_pages(0, 5 * PAGE_SIZE, |chunk| {
            calls += 1;
            if calls == 2 { 10 } else { chunk.len() }
        })
        .unwrap();
    assert_eq!((n, calls), (PAGE_SIZE + 10, 2));
}

fn lookup_of_missing_paths_finds_nothing() {
    let _ = boot_file("/hello.txt");
    let rootfs = fs::rootfs();
    for p in ["/nope", "/data/nope", "/data/sub/nope", "nope/hello.txt", ""] {
        assert!(fs::lookup(p).is_none(), "{p}");
        assert_eq!(rootfs.namei(p).err(), Some(FsError::NotFound), "{p}");
    }
    // A file used as a directory: ENOTDIR, as Linux.
    for p in ["/hello.txt/x", "/hello.txt/", "/link/x"] {
        assert!(fs::lookup(p).is_none(), "{p}");
        assert_eq!(rootfs.namei(p).err(), Some(FsError::NotADirectory), "{p}");
    }
    // The same file under every spelling of its path.
    let f = boot_file("/data/small.bin");
    for p in ["data/small.bin", "//data/./small.bin", "/data/sub/../small.bin", "/../data/small.bin"] {
        assert!(InodeRef::ptr_eq(&fs::lookup(p).unwrap(), &f), "{p}");
    }
    assert!(InodeRef::ptr_eq(&fs::lookup("/").unwrap(), rootfs.root()));
}

fn readdir_lists_each_directory_in_name_order() {
    let root = boot_file("/");
    let names = |i: &InodeRef| fs::readdir(i).into_iter().map(|e| (e.name, e.file_type)).collect::<Vec<_>>();
    let s = |n: &str| String::from(n);
    assert_eq!(
        names(&root),
        [
            (s("bin"), FileType::Directory),
            (s("data"), FileType::Directory),
            (s("dev"), FileType::Directory), // made at boot (devtmpfs_init), not by the archive
            (s("empty"), FileType::Regular),
            (s("etc"), FileType::Directory),
            (s("hello.txt"), FileType::Regular),
            (s("link"), FileType::Symlink),
            (s("tmp"), FileType::Directory)
        ]
    );
    assert_eq!(
        names(&boot_file("/data")),
        [
            (s("big.bin"), FileType::Regular),
            (s("small-link.bin"), FileType::Regular),
            (s("small.bin"), FileType::Regular),
            (s("sub"), FileType::Directory)
        ]
    );
    assert!(names(&boot_file("/data/sub")).is_empty());
    // Entries carry their inode numbers; a file is not a directory.
    let d = fs::readdir(&root);
    assert_eq!(d[5].ino, boot_file("/hello.txt").ino);
    assert_eq!(boot_file("/hello.txt").readdir(), Err(FsError::NotADirectory));
}

fn symlinks_are_followed_and_keep_their_target() {
    let big = boot_file("/data/big.bin");
    let via_link = boot_file("/link");
    assert!(InodeRef::ptr_eq(&big, &via_link));
    let link = fs::rootfs().namei_nofollow("/link").unwrap();
    assert_eq!(link.file_type(), FileType::Symlink);
    assert_eq!(link.symlink_target(), Some("data/big.bin"));
    assert_eq!(link.size(), "data/big.bin".len());
}

fn hard_links_from_gnu_cpio_are_one_inode() {
    // GNU cpio wrote small.bin's data with the last of its two names, and
    // size 0 with the first (maybe_link in Linux joins them).
    let a = boot_file("/data/small.bin");
    let b = boot_file("/data/small-link.bin");
    assert!(InodeRef::ptr_eq(&a, &b));
    assert_eq!(read_all(&a), (0..100).map(pattern).collect::<Vec<_>>());
    // The same, from an archive built here with data on the first name.
    let mut ar = Vec::new();
    let mut w = NewcWriter::new(&mut ar);
    let h = Header { ino: 42, mode: S_IFREG | 0o644, nlink: 2, ..Header::default() };
    w.raw_entry(h, "one", b"shared");
    w.raw_entry(h, "two", b"");
    w.trailer();
    let fs = Ramfs::new();
    let stats = unpack(&fs, &ar, &mut |w| panic!("unexpected warning: {w}")).unwrap();
    assert_eq!((stats.files, stats.links, stats.bytes), (1, 1, 6));
    let one = fs.namei("one").unwrap();
    assert!(InodeRef::ptr_eq(&one, &fs.namei("two").unwrap()));
    let mut buf = [0u8; 6];
    assert_eq!(one.read_at(0, &mut buf), Ok(6));
    assert_eq!(&buf, b"shared");
}

fn sample_archive() -> Vec<u8> {
    let mut ar = Vec::new();
    let mut w = NewcWriter::new(&mut ar);
    w.dir("d");
    w.file("d/f", &vec![7u8; 3 * PAGE_SIZE + 1]);
    w.symlink("l", "d/f");
    w.trailer();
    ar
}

fn free_pages() -> usize {
    page_alloc::zones().map(|z| z.nr_free_pages()).sum()
}

/// Unpack the sample archive once and drop it, so that the heap has grown
/// to what an unpack needs before a test counts free pages: the heap never
/// gives its small-object pages back (mm/src/kmalloc.rs), and a page it
/// took in the middle would look like a leak.
fn warm_up_the_heap() {
    let fs = Ramfs::new();
    unpack(&fs, &sample_archive(), &mut |_| {}).unwrap();
    let _ = unpack(&fs, &sample_archive()[..100], &mut |_| {});
}

fn a_corrupt_archive_unpacks_nothing() {
    let good = sample_archive();
    warm_up_the_heap();
    let before = free_pages();
    // Cut inside d/f's data, and the same with its trailer gone.
    for (ar, kind) in [
        // d/f's data starts at 228: entry "d" is 112 bytes, then 116 of header and name.
        (&good[..good.len() - 500], ErrorKind::TruncatedData { filesize: 3 * PAGE_SIZE as u32 + 1, available: good.len() - 500 - 228 }),
        (&good[..good.len() - 124], ErrorKind::MissingTrailer),
    ] {
        let fs = Ramfs::new();
        let e = unpack(&fs, ar, &mut |w| panic!("unexpected warning: {w}")).unwrap_err();
        assert_eq!(e.kind, kind);
        assert!(fs::readdir(fs.root()).is_empty(), "a corrupt archive left {:?}", fs::readdir(fs.root()));
    }
    assert_eq!(free_pages(), before, "a corrupt archive kept pages");
    // The message the boot log gives.
    let mut garbage = b"garbage".to_vec();
    garbage.extend([b'.'; 200]);
    let e = unpack(&Ramfs::new(), &garbage, &mut |_| {}).unwrap_err();
    assert_eq!(
        alloc::format!("{e}"),
        "corrupt archive at offset 0: bad magic 'garbag': not a cpio newc archive (want 070701 or 070702: cpio -H newc)"
    );
}

fn char_devices_are_made_and_entries_ramfs_cannot_hold_are_skipped_and_named() {
    let mut ar = Vec::new();
    let mut w = NewcWriter::new(&mut ar);
    w.dir("dev");
    w.raw_entry(Header { mode: S_IFCHR | 0o600, nlink: 1, rdevmajor: 5, rdevminor: 1, ..Header::default() }, "dev/console", b"");
    w.raw_entry(Header { mode: 0o010000 | 0o644, nlink: 1, ..Header::default() }, "dev/fifo", b""); // S_IFIFO
    w.file("missing/f", b"x");
    w.file("plain", b"y");
    w.file("plain/under", b"z");
    w.file("kept", b"ok");
    w.trailer();
    let fs = Ramfs::new();
    let mut warnings = Vec::new();
    let stats = unpack(&fs, &ar, &mut |w| warnings.push(alloc::format!("{w}"))).unwrap();
    assert_eq!(
        warnings,
        [
            "skipping 'dev/fifo': a FIFO (0:0): ramfs here holds no block devices, FIFOs or sockets",
            "skipping 'missing/f': no such file or directory (ENOENT)",
            "skipping 'plain/under': not a directory (ENOTDIR)",
        ]
    );
    assert_eq!((stats.files, stats.dirs, stats.devices, stats.skipped), (2, 1, 1, 3));
    assert!(fs.namei("kept").is_ok() && fs.namei("dev").is_ok() && fs.namei("dev/fifo").is_err());
    // A character device node is made, as Linux's init_mknod makes it.
    let console = fs.namei("dev/console").expect("the archive's character device node is made");
    assert_eq!((console.file_type(), console.rdev(), console.mode), (FileType::CharDevice, Some((5, 1)), 0o600));
}

fn a_later_entry_replaces_an_earlier_one_as_in_linux() {
    let mut ar = Vec::new();
    let mut w = NewcWriter::new(&mut ar);
    w.file("f", &[1u8; 5000]);
    w.file("f", b"short"); // O_TRUNC: the old pages go
    w.dir("d");
    w.dir("d"); // EEXIST, ignored
    w.file("d/x", b"1");
    w.symlink("d", "f"); // a directory with entries is not replaced
    w.symlink("s", "f");
    w.file("s", b"file now"); // a symlink is replaced by the file
    w.trailer();
    let fs = Ramfs::new();
    let mut warnings = Vec::new();
    unpack(&fs, &ar, &mut |w| warnings.push(alloc::format!("{w}"))).unwrap();
    assert_eq!(warnings, ["skipping 'd': directory not empty (ENOTEMPTY)"]);
    let f = fs.namei("f").unwrap();
    assert_eq!((f.size(), f.page_counts().0), (5, 1));
    assert_eq!(fs.namei("d").unwrap().file_type(), FileType::Directory);
    let s = fs.namei_nofollow("s").unwrap();
    assert_eq!((s.file_type(), s.size()), (FileType::Regular, 8));
}

fn symlink_loops_end_in_eloop() {
    let mut ar = Vec::new();
    let mut w = NewcWriter::new(&mut ar);
    w.symlink("a", "b");
    w.symlink("b", "a");
    w.symlink("self", "./self");
    w.dir("d");
    w.symlink("d/up", "../d/up2");
    w.symlink("d/up2", "/d");
    w.trailer();
    let fs = Ramfs::new();
    unpack(&fs, &ar, &mut |w| panic!("unexpected warning: {w}")).unwrap();
    for p in ["a", "b", "self", "a/x"] {
        assert_eq!(fs.namei(p).err(), Some(FsError::TooManyLinks), "{p}");
    }
    assert_eq!(fs.namei_nofollow("a").unwrap().symlink_target(), Some("b"));
    // A chain that ends somewhere is followed, relative and absolute.
    assert!(InodeRef::ptr_eq(&fs.namei("d/up").unwrap(), &fs.namei("d").unwrap()));
    assert_eq!(FsError::TooManyLinks.errno(), 40);
}

fn dropping_a_ramfs_gives_back_every_page() {
    warm_up_the_heap();
    let before = free_pages();
    {
        let fs = Ramfs::new();
        let stats = unpack(&fs, &sample_archive(), &mut |w| panic!("unexpected warning: {w}")).unwrap();
        assert_eq!(stats.pages, 4);
        assert_eq!(free_pages(), before - 4);
        // A reference kept past the filesystem keeps the file.
        let f = fs.namei("d/f").unwrap();
        drop(fs);
        assert_eq!(free_pages(), before - 4);
        assert_eq!(f.size(), 3 * PAGE_SIZE + 1);
    }
    assert_eq!(free_pages(), before, "pages of a dropped ramfs were not freed");
}

fn the_unpack_line_says_how_many_pages_are_highmem() {
    let all = UnpackStats { files: 3, bytes: 9000, pages: 4, highmem_pages: 4, ..Default::default() };
    assert_eq!(alloc::format!("{}", UnpackLine(all)), "unpacked 3 files, 9000 bytes into ramfs (4 pages, all highmem)");
    let some = UnpackStats { highmem_pages: 1, ..all };
    assert_eq!(alloc::format!("{}", UnpackLine(some)), "unpacked 3 files, 9000 bytes into ramfs (4 pages, 1 highmem)");
    let none = UnpackStats::default();
    assert_eq!(alloc::format!("{}", UnpackLine(none)), "unpacked 0 files, 0 bytes into ramfs (0 pages, 0 highmem)");
    // And the stats of a real unpack agree with the pages the files hold.
    let fs = Ramfs::new();
    let stats = unpack(&fs, &sample_archive(), &mut |_| {}).unwrap();
    let f = fs.namei("d/f").unwrap();
    assert_eq!((stats.pages, stats.highmem_pages), f.page_counts());
    assert_eq!(stats.highmem_pages, if have_highmem() { 4 } else { 0 });
}

/// A boot module the bootloader put above lowmem has no direct-map
/// address: populate_rootfs reads it through ioremap_cache. Here the
/// "module" is a block of highmem pages holding an archive.
fn an_archive_above_lowmem_is_read_through_ioremap() {
    let block = super::common::highmem_block(2); // skips without highmem
    let ar = sample_archive();
    assert!(ar.len() <= 4 * PAGE_SIZE);
    for (i, chunk) in ar.chunks(PAGE_SIZE).enumerate() {
        crate::mm::highmem::memcpy_to_page(pfn_to_page(page_alloc::page_to_pfn(block) + i), 0, chunk);
    }
    let phys = (page_alloc::page_to_pfn(block) << mm::layout::PAGE_SHIFT) as u32;
    let fs = Ramfs::new();
    let (addr, stats) = with_phys_bytes(phys, ar.len(), |bytes| {
        (bytes.as_ptr() as usize, unpack(&fs, bytes, &mut |w| panic!("unexpected warning: {w}")))
    })
    .expect("ioremap_cache of a few pages");
    assert!(crate::mm::vmalloc::find_vm_area(addr).is_none(), "the mapping at {addr:#010x} was not undone");
    let layout = mm::layout::KernelLayout::new(page_alloc::max_low_pfn());
    assert!(addr >= layout.vmalloc_start && addr < mm::layout::VMALLOC_END, "read at {addr:#010x}, not through the vmalloc area");
    assert_eq!(stats.unwrap().files, 1);
    let mut buf = [0u8; 4];
    assert_eq!(fs.namei("l").unwrap().read_at(3 * PAGE_SIZE - 2, &mut buf), Ok(3));
    assert_eq!(buf, [7, 7, 7, 0]);
    drop(fs);
    page_alloc::__free_pages(block, 2);
}

/// Linux `free_initrd_mem`: once the boot module is unpacked, its whole
/// pages are given back (no longer `PG_reserved`, counted by the allocator
/// and handed out again); a page it only partly covers stays reserved.
fn the_initrd_frames_go_back_to_the_allocator_after_unpacking() {
    let info = crate::init::boot_info();
    let m = info.modules().first().expect("the suite always boots with its initramfs");
    let (start, end) = (m.start as usize, m.end as usize);
    let (first, last) = (start.div_ceil(PAGE_SIZE), end / PAGE_SIZE);
    assert!(last - first >= 16, "the suite's archive spans many pages ({start:#x}-{end:#x})");
    let freed = crate::fs::initramfs::INITRD_PAGES_FREED.load(core::sync::atomic::Ordering::Relaxed);
    let whole: usize = info.modules().iter().map(|m| (m.end as usize / PAGE_SIZE).saturating_sub((m.start as usize).div_ceil(PAGE_SIZE))).sum();
    assert_eq!(freed, whole, "every whole page of every module");
    for pfn in first..last {
        assert!(!pfn_to_page(pfn).page_reserved(), "pfn {pfn:#x} of the initrd is still reserved");
    }
    if start % PAGE_SIZE != 0 {
        assert!(pfn_to_page(start / PAGE_SIZE).page_reserved(), "the partial first page stays reserved");
    }
    if end % PAGE_SIZE != 0 {
        assert!(pfn_to_page(end / PAGE_SIZE).page_reserved(), "the partial last page stays reserved");
    }
}
