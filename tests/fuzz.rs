//! The fuzzer's leak count (kernel/src/tools/fuzz.rs): what it takes for
//! a leak must be one. Two owners of pages that the count used to miss,
//! each found as a "leak" of the fuzzer:
//!
//! * a file a worker made outside its scratch directories through a
//!   relative path (random bytes of its memory taken as a path, looked up
//!   from its working directory `/`): seed 5's `leaked_pages=1` was the
//!   page of `/aaaaaaafuzz scratch file\n...`, a live file. The tool now
//!   removes every name the run made and counts the pages that files
//!   existing before it gained;
//! * the page directory of an exited process, which the CPU it last ran
//!   on keeps until it loads another address space (lazy TLB; Linux's
//!   `active_mm` reference): the "3-4 pages the first file I/O of a boot
//!   costs" that a warm-up run used to hide were these, one per CPU. The
//!   tool now has every CPU leave lazy mode before it counts
//!   (`drop_lazy_mms`, Linux's `leave_mm`).

use alloc::vec;
use alloc::vec::Vec;

use crate::test_case;
use crate::tools::fuzz::{Snapshot, remove_new_names, settle, take_boot_once_pages, tree};
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(names_made_outside_the_scratch_directories_are_removed_and_their_pages_freed),
    test_case!(a_program_that_leaks_nothing_counts_no_leak_once_its_cpu_leaves_its_page_directory),
];

/// A file at `/` with a page, a directory with another, as a worker's
/// relative `open(O_CREAT)`, `mkdir` and `write` leave them: the sweep
/// removes exactly those names (and nothing that was there before), the
/// inodes lose their last name, and their pages go back to the cache's
/// counters once the last reference is dropped.
fn names_made_outside_the_scratch_directories_are_removed_and_their_pages_freed() {
    let fs = crate::fs::rootfs();
    let before = tree(None);
    assert!(before.names.contains_key("/bin"), "the tree walk found /bin: {} names", before.names.len());
    let file = fs.create("/aaaaaaafuzz scratch file\n", 0o644).expect("a file in /");
    file.file().unwrap().write_at(0, &[0x5a; 76]).expect("76 bytes");
    let dir = fs.mkdir("/aaaa", 0o755).expect("a directory in /");
    let inner = fs.create("/aaaa/f0", 0o644).expect("a file in it");
    inner.file().unwrap().write_at(4096, &[1; 8]).expect("a second page");
    assert_eq!(file.file().unwrap().i_mapping.nrpages() + inner.file().unwrap().i_mapping.nrpages(), 2);
    let removed_before = crate::mm::filemap::filemap_counts().pages_removed;

    let n = remove_new_names(&before);

    assert_eq!(n, 3, "the file, the directory and the file in it");
    for p in ["/aaaaaaafuzz scratch file\n", "/aaaa", "/aaaa/f0"] {
        assert!(crate::fs::lookup(p).is_none(), "{p:?} is still there");
    }
    let after = tree(None);
    assert_eq!(after.names, before.names, "every name from before is there, no other");
    for i in [&file, &inner] {
        assert_eq!(i.nlink.load(core::sync::atomic::Ordering::Relaxed), 0, "ino {} has no name left", i.ino);
    }
    assert_eq!(after.cache_pages, before.cache_pages, "the tree's files hold the pages they held");
    drop((file, inner, dir));
    let freed = crate::mm::filemap::filemap_counts().pages_removed - removed_before;
    assert!(freed >= 2, "the two files' pages left the cache with their inodes: {freed} removed");
}

/// `/bin/hello` on the last CPU, then the counts as the fuzz tool takes
/// them: no leak. The CPU keeps the exited program's page directory
/// until it loads another address space; the count has it leave lazy
/// mode first (`drop_lazy_mms`), which frees that page directory (1 page,
/// 4 with PAE): without that, a CPU that held none before (the first user
/// program there, as in a boot that runs this test alone) would show
/// those pages as leaked. (Another test's program may have run there
/// before: the count must still be 0.)
fn a_program_that_leaks_nothing_counts_no_leak_once_its_cpu_leaves_its_page_directory() {
    let cpu = crate::smp::num_online_cpus() - 1;
    take_boot_once_pages();
    settle();
    let t = tree(None);
    let before = Snapshot::take(&t);
    let status = crate::fs::exec::spawn_user_affine("/bin/hello", vec![b"/bin/hello".to_vec()], Vec::new(), 1 << cpu).join();
    assert_eq!(status, 0, "/bin/hello exited 0");
    crate::sched::msleep(20);
    assert!(!crate::arch::tlb::loaded_mm(cpu).is_null(), "CPU {cpu} keeps the program's page directory loaded");
    settle();
    assert!(crate::arch::tlb::loaded_mm(cpu).is_null(), "CPU {cpu} left it for swapper_pg_dir");
    let after = Snapshot::take(&tree(Some(&t)));
    assert_eq!(after.leaked_since(&before), 0, "a program that leaks nothing: {before:?} -> {after:?}");
}
