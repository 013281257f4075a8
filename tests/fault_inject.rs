//! Fault injection (kernel/src/mm/fault_inject.rs; the decision is
//! mm/src/fault_inject.rs, host-tested): each test turns `fail_page_alloc`
//! or `failslab` on for its own task only (Linux's `task-filter` and
//! `make_it_fail`, so the harness and the other CPUs allocate as usual),
//! forces one failure at one allocation site, and checks the error the
//! caller gets and that nothing leaked. The settings are put back when
//! each test ends (`fault_inject::save`), even if it fails.

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::SeqCst;

use mm::gfp::{GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_NOFAIL};
use mm::layout::PAGE_SIZE;

use crate::arch::entry::syscall_32::nr;
use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::ENOMEM;
use crate::mm::fault_inject::{self, FAIL_PAGE_ALLOC, FAILSLAB, LAST_FORCED, SavedSettings};
use crate::mm::page_alloc::{__free_pages, alloc_pages, node, pfn_to_page};
use crate::test_case;
use crate::tools::ktest::Test;

use super::common::sys3;
use super::user::{DATA, TEXT, address_space_with, run_user_in, touch_program};
use mm::layout::TASK_SIZE;

pub const TESTS: &[Test] = &[
    test_case!(the_boot_options_set_the_attributes_and_bad_values_are_named),
    test_case!(alloc_pages_fails_when_told_and_names_its_caller),
    test_case!(fail_page_alloc_knobs_spare_what_linux_spares),
    test_case!(failslab_fails_fallible_heap_allocations_only_never_gfp_nofail_ones),
    test_case!(a_page_fault_with_no_page_is_retried_and_the_program_runs_to_its_end),
    test_case!(a_page_fault_that_keeps_failing_retries_until_the_process_is_killed),
    test_case!(a_copy_on_write_fault_with_no_page_is_oom_and_both_keep_the_shared_page),
    test_case!(a_write_whose_page_cache_page_cannot_be_had_is_enomem_and_the_file_stays_whole),
    test_case!(fork_with_no_page_at_each_step_is_enomem_and_leaks_nothing),
    test_case!(an_exec_whose_page_directory_cannot_be_had_is_enomem_and_the_caller_goes_on),
    test_case!(a_pipe_write_with_no_page_for_its_buffer_is_enomem_and_the_data_stays_whole),
    // Page-allocation failure sites: exec's stack, do_cow_fault, vmalloc,
    // kernel threads (the section at the end of this file).
    test_case!(an_exec_with_no_page_at_each_step_fails_before_the_switch_and_leaks_nothing),
    test_case!(a_private_file_write_fault_with_no_page_for_the_copy_is_oom_then_copies_and_leaks_nothing),
    test_case!(vmalloc_with_no_page_at_each_step_frees_the_pages_taken_and_the_area),
    test_case!(a_kernel_thread_whose_stack_cannot_be_had_is_enomem_and_leaks_nothing),
    test_case!(fork_with_no_slab_object_at_each_step_is_enomem_and_leaks_nothing),
    test_case!(open_with_no_slab_object_at_each_step_is_enomem_and_leaks_nothing),
    test_case!(open_creat_and_mkdir_with_no_dentry_or_inode_are_enomem_or_enospc_and_create_nothing),
    test_case!(pipe_with_no_slab_object_at_each_step_is_enfile_or_enomem_and_leaks_nothing),
    test_case!(dup2_and_f_dupfd_that_must_grow_the_fd_table_are_enomem_and_change_nothing),
    test_case!(execve_whose_path_buffer_cannot_be_had_is_enomem_and_leaks_nothing),
    test_case!(mmap_munmap_and_mprotect_with_no_vma_are_enomem_and_change_nothing),
];

/// Fail page allocations of this task only: every kind (the three knobs
/// off), `times` failures after letting `space` pages through, silently.
/// Returns the guard that puts every setting back.
fn fail_my_page_allocs(space: i32, times: i32) -> SavedSettings {
    let saved = fault_inject::save();
    for (knob, v) in [("task-filter", "1"), ("verbose", "0"), ("min-order", "0"), ("ignore-gfp-highmem", "0"), ("ignore-gfp-wait", "0")] {
        fault_inject::set_knob("fail_page_alloc", knob, v).unwrap();
    }
    FAIL_PAGE_ALLOC.attr.setup(&alloc::format!("1,100,{space},{times}")).unwrap();
    crate::sched::current().make_it_fail.store(true, SeqCst);
    saved
}

/// This task no longer marked.
fn unmark() {
    crate::sched::current().make_it_fail.store(false, SeqCst);
}

fn forced() -> usize {
    FAIL_PAGE_ALLOC.attr.failed.load(SeqCst)
}

/// Free pages plus the pages the heap holds: what the buddy allocator
/// would have free if the heap gave its pages back (the heap keeps pages
/// it grew by for later objects; that is not a leak).
fn free_and_heap() -> usize {
    node().nr_free_pages() + crate::mm::heap::KMALLOC.pages_held()
}

/// `fail_page_alloc=` takes Linux's order, INTERVAL,PROBABILITY,SPACE,
/// TIMES, and the knobs their values; bad values are named with the form
/// expected, and change nothing. (Probability 0 here: the attribute is set
/// but fails nothing while the test runs.)
fn the_boot_options_set_the_attributes_and_bad_values_are_named() {
    use boot::cmdline::ParamProblem;
    let _saved = fault_inject::save();
    let p = crate::params::parse_args("fail_page_alloc=3,0,5,-1 fail_page_alloc.min-order=0 fail_page_alloc.ignore-gfp-wait=0 failslab.ignore-gfp-wait=0");
    assert_eq!(p.problems(), []);
    let a = &FAIL_PAGE_ALLOC.attr;
    assert_eq!((a.interval.load(SeqCst), a.probability.load(SeqCst), a.space.load(SeqCst), a.times.load(SeqCst)), (3, 0, 5, -1));
    assert_eq!(FAIL_PAGE_ALLOC.min_order.load(SeqCst), 0);
    assert!(!FAIL_PAGE_ALLOC.ignore_gfp_reclaim.load(SeqCst) && FAIL_PAGE_ALLOC.ignore_gfp_highmem.load(SeqCst));
    assert!(!FAILSLAB.ignore_gfp_reclaim.load(SeqCst));
    let p = crate::params::parse_args("fail_page_alloc=1,100 failslab=x fail_page_alloc.ignore-gfp-highmem=2 fail_page_alloc.min-order=-1");
    assert_eq!(p.problems(), [
        ParamProblem::Malformed { option: "fail_page_alloc", value: "1,100", expected: mm::fault_inject::FAULT_ATTR_FORM },
        ParamProblem::Malformed { option: "failslab", value: "x", expected: mm::fault_inject::FAULT_ATTR_FORM },
        ParamProblem::Malformed { option: "fail_page_alloc.ignore-gfp-highmem", value: "2", expected: "0 or 1" },
        ParamProblem::Malformed { option: "fail_page_alloc.min-order", value: "-1", expected: "a non-negative integer" },
    ]);
    assert_eq!((a.interval.load(SeqCst), a.probability.load(SeqCst)), (3, 0), "unchanged");
    assert_eq!(FAILSLAB.attr.probability.load(SeqCst), 0);
    let text = crate::fmtbuf!(256, "{}", p.problems()[0]);
    assert!(text.as_str().contains("fail_page_alloc") && text.as_str().contains("INTERVAL,PROBABILITY,SPACE,TIMES"), "{}", text.as_str());
}

/// `alloc_pages` returns `None` when the attribute says so, the failure
/// is counted and its call site is this file (`#[track_caller]`); `times`
/// 1 means one failure, then allocations succeed again; with `times`
/// unlimited, a task not marked `make_it_fail` is still not failed (the
/// task filter).
fn alloc_pages_fails_when_told_and_names_its_caller() {
    let _saved = fail_my_page_allocs(0, 1);
    let before = forced();
    assert!(alloc_pages(GFP_KERNEL, 0).is_none(), "the forced failure");
    assert_eq!(forced(), before + 1);
    assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at ") && LAST_FORCED.lock().as_str().contains("tests/fault_inject.rs:"), "{}", LAST_FORCED.lock().as_str());
    let page = alloc_pages(GFP_KERNEL, 0).expect("times was 1: the next one succeeds");
    __free_pages(page, 0);
    FAIL_PAGE_ALLOC.attr.times.store(-1, SeqCst);
    unmark();
    let page = alloc_pages(GFP_KERNEL, 0).expect("a task without make_it_fail is not failed");
    __free_pages(page, 0);
    assert_eq!(forced(), before + 1);
}

/// Linux's defaults spare single pages, highmem and sleeping allocations,
/// and `__GFP_NOFAIL` is never failed; `fault_inject::set_knob` refuses a
/// bad value, naming what it expected.
fn fail_page_alloc_knobs_spare_what_linux_spares() {
    let saved = fault_inject::save();
    fault_inject::setup("fail_page_alloc", "1,100,0,-1").unwrap();
    fault_inject::set_knob("fail_page_alloc", "task-filter", "1").unwrap();
    fault_inject::set_knob("fail_page_alloc", "verbose", "0").unwrap();
    crate::sched::current().make_it_fail.store(true, SeqCst);
    let before = forced();
    // Defaults: min-order 1, ignore-gfp-highmem 1, ignore-gfp-wait 1.
    let p = alloc_pages(mm::gfp::GFP_ATOMIC, 0).expect("order 0 is spared");
    __free_pages(p, 0);
    let p = alloc_pages(GFP_KERNEL, 1).expect("GFP_KERNEL may sleep: spared");
    __free_pages(p, 1);
    assert!(alloc_pages(mm::gfp::GFP_ATOMIC, 1).is_none(), "an order-1 atomic allocation fails");
    fault_inject::set_knob("fail_page_alloc", "ignore-gfp-wait", "0").unwrap();
    fault_inject::set_knob("fail_page_alloc", "min-order", "0").unwrap();
    let p = alloc_pages(GFP_HIGHUSER_MOVABLE, 0).expect("highmem still spared");
    __free_pages(p, 0);
    let p = alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0).expect("__GFP_NOFAIL never fails");
    __free_pages(p, 0);
    assert!(alloc_pages(GFP_KERNEL, 0).is_none());
    assert_eq!(forced(), before + 2);
    assert_eq!(fault_inject::set_knob("fail_page_alloc", "min-order", "-1"), Err("a non-negative integer"));
    assert_eq!(fault_inject::set_knob("failslab", "min-order", "0").map_err(|e| e.starts_with("a knob")), Err(true));
    assert_eq!(fault_inject::setup("failslab", "1,100,0"), Err(mm::fault_inject::FAULT_ATTR_FORM));
    unmark();
    drop(saved);
    assert_eq!(FAIL_PAGE_ALLOC.attr.probability.load(SeqCst), 0, "put back");
    assert_eq!(FAIL_PAGE_ALLOC.min_order.load(SeqCst), 1, "put back");
}

/// `failslab` fails only the fallible heap allocations (mm/heap.rs's
/// `try_*`, Linux's `kmalloc(GFP_KERNEL)`) once `ignore-gfp-wait` is off,
/// naming their call site; Rust's infallible `Box::new`, `Vec::push`,
/// `Arc::new`, `format!` and the raw `GlobalAlloc` are the kernel's
/// `__GFP_NOFAIL` allocations, which Linux's `should_failslab` never
/// fails: at probability 100 with no limit on `times` they all succeed,
/// and the kernel goes on (a failure there would stop it in
/// `handle_alloc_error`). `fail_page_alloc` never picks the heap's own
/// pages (`__GFP_NOFAIL` too).
fn failslab_fails_fallible_heap_allocations_only_never_gfp_nofail_ones() {
    use crate::mm::heap::{AllocError, try_arc, try_box, try_push, try_reserve, try_to_vec, try_vec_with_capacity};
    let layout = core::alloc::Layout::from_size_align(64, 8).unwrap();
    let saved = fail_my_page_allocs(0, -1);
    // Enough objects to need fresh heap pages more than once.
    let mut held: Vec<usize> = Vec::with_capacity(300);
    for _ in 0..256 {
        // SAFETY: a non-zero-size layout; freed below with the same one.
        let p = core::hint::black_box(unsafe { alloc::alloc::alloc(core::hint::black_box(layout)) });
        assert!(!p.is_null(), "fail_page_alloc spares the heap's pages");
        held.push(p as usize);
    }
    drop(saved);
    let _saved = fault_inject::save();
    fault_inject::setup("failslab", "1,100,0,-1").unwrap();
    fault_inject::set_knob("failslab", "task-filter", "1").unwrap();
    fault_inject::set_knob("failslab", "verbose", "0").unwrap();
    crate::sched::current().make_it_fail.store(true, SeqCst);
    let before = FAILSLAB.attr.failed.load(SeqCst);
    let b = try_box([7u8; 40]).expect("ignore-gfp-wait (default): GFP_KERNEL is spared");
    fault_inject::set_knob("failslab", "ignore-gfp-wait", "0").unwrap();
    // GFP_NOFAIL: every infallible kind, and the raw allocator.
    let nofail_box = core::hint::black_box(alloc::boxed::Box::new(core::hint::black_box([1u32; 16])));
    let nofail_arc = core::hint::black_box(alloc::sync::Arc::new(core::hint::black_box(5u64)));
    let mut nofail_vec: Vec<u32> = Vec::new();
    for i in 0..100 {
        nofail_vec.push(core::hint::black_box(i));
    }
    let nofail_text = alloc::format!("{}-{}", core::hint::black_box(12), core::hint::black_box("x"));
    // SAFETY: as above. black_box: LLVM may assume an allocation whose
    // pointer is only compared with null succeeds, and remove it.
    let p = core::hint::black_box(unsafe { alloc::alloc::alloc(core::hint::black_box(layout)) });
    assert!(!p.is_null(), "the GlobalAlloc is __GFP_NOFAIL");
    held.push(p as usize);
    assert_eq!(FAILSLAB.attr.failed.load(SeqCst), before, "no __GFP_NOFAIL allocation was failed");
    assert_eq!((nofail_box[15], *nofail_arc, nofail_vec.len(), nofail_text.as_str()), (1, 5, 100, "12-x"));
    // The fallible ones fail, each naming this file.
    assert_eq!(try_box(3u32).err(), Some(AllocError));
    assert!(LAST_FORCED.lock().as_str().starts_with("failslab at ") && LAST_FORCED.lock().as_str().contains("tests/fault_inject.rs:"), "{}", LAST_FORCED.lock().as_str());
    assert_eq!(try_arc(3u32).err(), Some(AllocError));
    assert_eq!(try_vec_with_capacity::<u8>(10).err(), Some(AllocError));
    let mut v: Vec<u8> = Vec::new();
    assert_eq!(try_push(&mut v, 1), Err(AllocError));
    assert_eq!(try_to_vec(&[1u8, 2]).err(), Some(AllocError));
    assert_eq!(v.capacity(), 0, "a failed push left the vector as it was");
    assert_eq!(FAILSLAB.attr.failed.load(SeqCst), before + 5);
    // An allocation that does not happen cannot fail.
    let mut roomy: Vec<u8> = Vec::with_capacity(8);
    assert_eq!(try_reserve(&mut roomy, 8), Ok(()));
    assert_eq!(FAILSLAB.attr.failed.load(SeqCst), before + 5);
    unmark();
    assert_eq!(try_box(4u32).map(|b| *b), Ok(4), "a task not marked is not failed");
    drop(b);
    for p in held {
        // SAFETY: each came from alloc with this layout.
        unsafe { alloc::alloc::dealloc(p as *mut u8, layout) };
    }
}

/// Fail this task's `nth` fallible heap allocation (failslab with Linux's
/// `interval` = nth, `times` 1, its count from 0; task-filter), every
/// kind (`ignore-gfp-wait` off), silently; the guard puts it all back.
fn fail_my_nth_slab_alloc(nth: usize) -> SavedSettings {
    let saved = fault_inject::save();
    for (knob, v) in [("task-filter", "1"), ("verbose", "0"), ("ignore-gfp-wait", "0")] {
        fault_inject::set_knob("failslab", knob, v).unwrap();
    }
    FAILSLAB.attr.setup(&alloc::format!("{nth},100,0,1")).unwrap();
    FAILSLAB.attr.count.store(0, SeqCst);
    crate::sched::current().make_it_fail.store(true, SeqCst);
    saved
}

/// Heap bytes in use and pages (free plus the heap's).
fn heap_and_pages() -> (usize, usize) {
    (crate::mm::heap::KMALLOC.bytes_in_use(), free_and_heap())
}

/// Step through every fallible heap allocation `call` makes: for k = 1,
/// 2, ... fail the k-th (`fail_my_nth_slab_alloc`) until a run forces no
/// failure; each forced failure must give `-errno(k, site)` and pass
/// `check(k)`, and leak nothing: eight failing runs (with `undo` after
/// each, inside the count) leave the heap's bytes in use and the pages
/// exactly as they were, in one of three tries (other CPUs' work may move
/// them during a try; a leak, even of one object, shows in every try). Returns the sites failed and `call`'s result with nothing
/// failed.
fn each_slab_step(what: &str, mut call: impl FnMut() -> i32, errno: impl Fn(usize, &str) -> i32, mut check: impl FnMut(usize), mut undo: impl FnMut()) -> (Vec<alloc::string::String>, i32) {
    let mut sites = Vec::new();
    for k in 1..64 {
        // Nothing allocated on the heap by the test inside the window.
        let mut tries = Vec::with_capacity(3);
        let mut site = crate::fmtbuf!(160, "");
        for _ in 0..3 {
            crate::sched::task::reap_dead_stacks();
            let before = heap_and_pages();
            for run in 0..8 {
                let failed = FAILSLAB.attr.failed.load(SeqCst);
                let saved = fail_my_nth_slab_alloc(k);
                let r = call();
                unmark();
                drop(saved);
                if FAILSLAB.attr.failed.load(SeqCst) == failed {
                    assert_eq!((k, run), (k, 0), "{what}: step {k} failed on one run and not another");
                    return (sites, r);
                }
                site = crate::fmtbuf!(160, "{}", LAST_FORCED.lock().as_str());
                assert_eq!(r, -errno(k, site.as_str()), "{what}: step {k}, {}", site.as_str());
                check(k);
                undo();
            }
            crate::sched::task::reap_dead_stacks();
            let after = heap_and_pages();
            tries.push((before, after));
            if after == before {
                break;
            }
        }
        sites.push(alloc::string::String::from(site.as_str()));
        let &(before, after) = tries.last().unwrap();
        assert_eq!(after, before,
            "{what}: step {k} ({}) leaked: (heap bytes, pages) before and after 8 runs, each try: {tries:?} ({} bytes a run)",
            sites[k - 1], after.0.saturating_sub(before.0) / 8);
    }
    panic!("{what}: still failing after 63 steps");
}

/// Grow this task's descriptor table to 64 slots now, so that the
/// system call under test finds room (a table once grown stays grown, as
/// Linux's does: the growth's own failure is the dup2 test's).
fn fd_table_with_room() {
    assert_eq!(sys3(nr::DUP2, 0, 63, 0), 63);
    assert_eq!(sys3(nr::CLOSE, 63, 0, 0), 0);
}

/// Descriptors open in this task.
fn open_fds() -> usize {
    let files = crate::sched::current().files.lock();
    (0..crate::fs::file::NR_OPEN as i32).filter(|&fd| files.get(fd).is_some()).count()
}

/// fork() whose k-th kernel object cannot be had (failslab), for every k
/// until fork succeeds: the VMA copies (Linux `vm_area_dup` in
/// `dup_mmap`), the mm, the descriptor table (`dup_fd`), the FPU state,
/// the task (`dup_task_struct`). `-ENOMEM` every time (Linux
/// `copy_process`), no child, every page the parent maps with one
/// reference again, nothing left on the heap or in the page allocator;
/// then with nothing failed the child runs `exit(0)`.
fn fork_with_no_slab_object_at_each_step_is_enomem_and_leaks_nothing() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80]));
    assert_eq!(copy_to_user(DATA, &[1u8; 2 * PAGE_SIZE]), 0);
    assert_eq!(copy_to_user(TASK_SIZE - PAGE_SIZE, &[2u8; 16]), 0);
    let (pages, _) = me.mm().unwrap().resident();
    let pfns: Vec<usize> = pages.iter().map(|p| crate::mm::page_alloc::page_to_pfn(p)).collect();
    drop(pages);
    let children = me.children.lock().len();
    let (sites, pid) = each_slab_step("fork", fork_from_text, |_, _| ENOMEM, |k| {
        assert_eq!(me.children.lock().len(), children, "step {k}: no child");
        for &pfn in &pfns {
            assert_eq!(pfn_to_page(pfn).page_count(), 1, "step {k}: pfn {pfn:#x} has the parent's reference only");
        }
    }, || {});
    assert!(pid > 0, "with nothing failed, fork succeeds ({pid})");
    for file in ["kernel/src/mm/mm_types.rs", "kernel/src/fork.rs", "kernel/src/fs/file.rs", "kernel/src/sched/core.rs"] {
        assert!(sites.iter().any(|s| s.contains(file)), "a step in {file}: {sites:?}");
    }
    let mut regs = crate::arch::entry::PtRegs { bx: pid as u32, cx: DATA as u32, orig_ax: nr::WAIT4 as u32, ..Default::default() };
    assert_eq!(crate::arch::entry::syscall_32::ia32_sys_call_table(nr::WAIT4).expect("wait4")(&mut regs), pid, "the child, reaped");
}

/// open() of an existing file whose path buffer (Linux `getname`) or
/// `struct file` (`alloc_empty_file`) cannot be had: `-ENOMEM`, no
/// descriptor, nothing leaked; then it opens.
fn open_with_no_slab_object_at_each_step_is_enomem_and_leaks_nothing() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    crate::fs::rootfs().create("/fault-inject-open", 0o644).expect("create");
    assert_eq!(copy_to_user(DATA, b"/fault-inject-open\0"), 0);
    fd_table_with_room();
    let fds = open_fds();
    let (sites, fd) = each_slab_step("open", || sys3(nr::OPEN, DATA, 2, 0), |_, _| ENOMEM, |k| assert_eq!(open_fds(), fds, "step {k}: no descriptor"), || {});
    assert!(fd >= 0, "with nothing failed, open succeeds ({fd})");
    assert!(sites.len() == 2 && sites[0].contains("kernel/src/fs/namei.rs") && sites[1].contains("kernel/src/fs/file.rs"), "the name, the file: {sites:?}");
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
}

/// ramfs creating a name (open with O_CREAT, mkdir) whose path buffer
/// (Linux `getname`: `-ENOMEM`), dentry (`d_alloc` in the lookup:
/// `-ENOMEM`) or inode (`ramfs_mknod`: `-ENOSPC`) cannot be had: the
/// error, no entry left in the directory,
/// nothing leaked. (Linux allocates open's `struct file` before creating,
/// in `path_openat`; here it comes after, so a failure there leaves the
/// new, empty file behind, removed by the test between runs.)
fn open_creat_and_mkdir_with_no_dentry_or_inode_are_enomem_or_enospc_and_create_nothing() {
    use crate::errno::ENOSPC;
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    assert_eq!(copy_to_user(DATA, b"/fault-inject-creat\0"), 0);
    assert_eq!(copy_to_user(DATA + 64, b"/fault-inject-dir\0"), 0);
    fd_table_with_room();
    let errno = |k: usize, _: &str| if k == 3 { ENOSPC } else { ENOMEM };
    let fds = open_fds();
    let (sites, fd) = each_slab_step("open O_CREAT", || sys3(nr::OPEN, DATA, 0o102, 0o644), errno, |k| {
        assert_eq!(open_fds(), fds, "step {k}: no descriptor");
        if k <= 3 {
            assert!(crate::fs::lookup("/fault-inject-creat").is_none(), "step {k}: no file");
        }
    }, || {
        let _ = sys3(nr::UNLINK, DATA, 0, 0);
    });
    assert!(fd >= 0, "with nothing failed, the file is made and opened ({fd})");
    assert!(sites.len() == 4 && sites[1].contains("kernel/src/fs/libfs.rs") && sites[2].contains("kernel/src/fs/libfs.rs"), "the name, the dentry, the inode, the file: {sites:?}");
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    assert_eq!(sys3(nr::UNLINK, DATA, 0, 0), 0);
    let (sites, r) = each_slab_step("mkdir", || sys3(nr::MKDIR, DATA + 64, 0o755, 0), errno, |k| {
        assert!(crate::fs::lookup("/fault-inject-dir").is_none(), "step {k}: no directory");
    }, || {});
    assert_eq!(r, 0, "with nothing failed, mkdir succeeds");
    assert_eq!(sites.len(), 3, "the name, the dentry and the inode: {sites:?}");
    assert_eq!(sys3(nr::RMDIR, DATA + 64, 0, 0), 0);
}

/// pipe2() whose pipe (Linux `alloc_pipe_info`), inode
/// (`new_inode_pseudo`) or either `struct file` cannot be had: Linux's
/// `-ENFILE` for the first two (`create_pipe_files`), `-ENOMEM` for the
/// files; no descriptor, nothing leaked; then the pipe is made.
fn pipe_with_no_slab_object_at_each_step_is_enfile_or_enomem_and_leaks_nothing() {
    use crate::errno::ENFILE;
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    assert_eq!(copy_to_user(DATA, &[0u8; 8]), 0);
    fd_table_with_room();
    let fds = open_fds();
    let (sites, r) = each_slab_step("pipe2", || sys3(nr::PIPE2, DATA, 0, 0), |k, _| if k <= 2 { ENFILE } else { ENOMEM },
        |k| assert_eq!(open_fds(), fds, "step {k}: no descriptor"), || {});
    assert_eq!(r, 0, "with nothing failed, pipe2 succeeds");
    assert!(sites.len() == 4 && sites.iter().all(|s| s.contains("kernel/src/fs/pipe.rs")), "pipe, inode, two files: {sites:?}");
    let mut pair = [0u8; 8];
    assert_eq!(crate::arch::lib::usercopy_32::copy_from_user(&mut pair, DATA), 0);
    for fd in [&pair[..4], &pair[4..]] {
        assert_eq!(sys3(nr::CLOSE, u32::from_le_bytes(fd.try_into().unwrap()) as usize, 0, 0), 0);
    }
}

/// dup2(0, 200) and fcntl(0, F_DUPFD, 150), which must grow the
/// descriptor table (Linux `expand_files` -> `expand_fdtable`), with no
/// memory for it: `-ENOMEM`, the table as it was (200 and 150 not open),
/// nothing leaked; then they succeed.
fn dup2_and_f_dupfd_that_must_grow_the_fd_table_are_enomem_and_change_nothing() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let fds = open_fds();
    let (sites, r) = each_slab_step("dup2", || sys3(nr::DUP2, 0, 200, 0), |_, _| ENOMEM, |k| {
        assert_eq!(open_fds(), fds, "step {k}: no descriptor");
        assert!(me.files.lock().get(200).is_none());
    }, || {});
    assert_eq!(r, 200);
    assert!(sites[0].contains("kernel/src/fs/file.rs"), "{sites:?}");
    let (_, r) = each_slab_step("F_DUPFD", || sys3(nr::FCNTL, 0, 0, 150), |_, _| ENOMEM, |k| {
        assert_eq!(open_fds(), fds + 1, "step {k}: no descriptor");
    }, || {});
    assert_eq!(r, 150, "the lowest free at or above 150 (the table now reaches 200)");
    assert_eq!(sys3(nr::CLOSE, 200, 0, 0), 0);
    assert_eq!(sys3(nr::CLOSE, 150, 0, 0), 0);
}

/// execve's copy of its path (Linux `getname`), failed: `-ENOMEM`, the
/// caller's address space as it was, nothing leaked; with the copy made
/// the path's lookup answers (`-ENOENT`: no such program). argv and envp
/// are read straight into the new stack's pages, after the lookup.
fn execve_whose_path_buffer_cannot_be_had_is_enomem_and_leaks_nothing() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let old = me.mm().unwrap();
    // argv = { "first-argument", "2", NULL }, envp = { "HOME=/", NULL }.
    let strs: [(usize, &[u8]); 4] = [(DATA + 64, b"/bin/no-such-program\0"), (DATA + 128, b"first-argument\0"), (DATA + 160, b"2\0"), (DATA + 192, b"HOME=/\0")];
    for (at, s) in strs {
        assert_eq!(copy_to_user(at, s), 0);
    }
    let words = [DATA + 128, DATA + 160, 0, DATA + 192, 0].map(|w| (w as u32).to_le_bytes());
    assert_eq!(copy_to_user(DATA, words.as_flattened()), 0);
    let (sites, r) = each_slab_step("execve", || sys3(nr::EXECVE, DATA + 64, DATA, DATA + 12), |_, _| ENOMEM, |k| {
        assert!(alloc::sync::Arc::ptr_eq(&me.mm().unwrap(), &old), "step {k}: the caller's address space");
    }, || {});
    assert_eq!(r, -crate::errno::ENOENT, "with the path copied, the lookup");
    // The arguments are not heap copies: they go straight into the new
    // stack's pages (fail_page_alloc's exec test covers those).
    assert!(!sites.is_empty() && sites.iter().all(|s| s.contains("kernel/src/fs/exec.rs")), "{sites:?}");
}

/// Catalogue: a user page fault whose page cannot be had (the touch
/// program's first write to its data area, `do_anonymous_page`'s
/// allocation in mm/memory.rs, failed once by fail_page_alloc) is
/// retried, as Linux 6.1's `pagefault_out_of_memory` does ("Huh
/// VM_FAULT_OOM leaked out to the #PF handler. Retrying PF"): a forced
/// failure happens before the free lists are looked at, so it never
/// reaches the OOM killer (nobody is killed), and the retried fault gets
/// its page: the program runs to its end. `run_user_in` checks every page
/// of its address space came back.
fn a_page_fault_with_no_page_is_retried_and_the_program_runs_to_its_end() {
    let saved = fail_my_page_allocs(0, 1);
    // Linux's lines and the call site in the log, as a reader would see them.
    fault_inject::set_knob("fail_page_alloc", "verbose", "2").unwrap();
    unmark(); // only the program's task is marked
    let kills = crate::mm::oom_kill::OOM_KILLS.load(SeqCst);
    let retries = crate::mm::oom_kill::PAGEFAULT_OOM_RETRIES.load(SeqCst);
    let before = forced();
    let status = run_user_in(None, "touch-oom", touch_program(), true);
    drop(saved);
    assert_eq!(forced(), before + 1);
    let site = LAST_FORCED.lock();
    assert!(site.as_str().starts_with("fail_page_alloc at kernel/src/mm/memory.rs:"), "{}", site.as_str());
    drop(site);
    assert_eq!(status, 0, "the retried fault got its page (status {status:#x})");
    assert_eq!(crate::mm::oom_kill::PAGEFAULT_OOM_RETRIES.load(SeqCst), retries + 1, "one fault retried");
    assert_eq!(crate::mm::oom_kill::OOM_KILLS.load(SeqCst), kills, "a forced failure kills nobody");
}

/// A page fault whose every allocation fails (fail_page_alloc with no
/// limit on the program's task) is retried again and again, as in Linux,
/// and the program stays killable: SIGKILL from outside (here a kernel
/// thread, as `kill -9` would) ends it, with wait status 9, and every
/// page it had comes back (`run_user_in`).
fn a_page_fault_that_keeps_failing_retries_until_the_process_is_killed() {
    let saved = fail_my_page_allocs(0, -1);
    unmark();
    let retries = crate::mm::oom_kill::PAGEFAULT_OOM_RETRIES.load(SeqCst);
    let killer = crate::sched::spawn("killer", move || {
        while crate::mm::oom_kill::PAGEFAULT_OOM_RETRIES.load(SeqCst) < retries + 3 {
            crate::sched::msleep(1);
        }
        let victim = crate::sched::task::ALL_TASKS.lock_irqsave().iter().find(|t| t.name() == "touch-forever").cloned();
        crate::signal::send_signal(crate::signal::SIGKILL, crate::signal::KSigInfo::default(), &victim.expect("the program is running"));
    });
    let status = run_user_in(None, "touch-forever", touch_program(), true);
    drop(saved);
    killer.join();
    assert_eq!(status, 9, "killed by SIGKILL (status {status:#x})");
    assert!(crate::mm::oom_kill::PAGEFAULT_OOM_RETRIES.load(SeqCst) >= retries + 3, "the fault was retried");
    assert_eq!(run_user_in(None, "touch-again", touch_program(), true), 0, "with injection off, the program runs to its end");
}

/// After fork, the child's first write to a shared anonymous page needs a
/// copy (`do_wp_page`); with no page for it the fault is `VM_FAULT_OOM`
/// and nothing changed: both still map the one page, read-only, with a
/// reference each. With memory back, the same fault copies.
fn a_copy_on_write_fault_with_no_page_is_oom_and_both_keep_the_shared_page() {
    use crate::mm::memory::{FaultFlags, VmFault, handle_mm_fault};
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    assert_eq!(copy_to_user(DATA, b"before fork"), 0);
    let parent = me.mm().unwrap();
    let child = parent.dup_mmap().expect("a copy");
    let shared = parent.lookup(DATA);
    let page = pfn_to_page(shared.pfn());
    assert_eq!(page.page_count(), 2);
    let vma = *child.mmap_lock().find_vma(DATA).unwrap();
    let write = FaultFlags { write: true, user: true };
    let before = forced();
    let saved = fail_my_page_allocs(0, 1);
    let r = handle_mm_fault(&child, &vma, DATA, write);
    unmark();
    drop(saved);
    assert!(matches!(r, Err(VmFault::Oom)), "{r:?}");
    assert_eq!(super::common::kmap_depth(), 0, "the page table's kmap_local mapping was let go on the error path");
    assert_eq!(forced(), before + 1);
    assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at kernel/src/mm/memory.rs:"), "{}", LAST_FORCED.lock().as_str());
    assert_eq!(child.lookup(DATA), shared, "the child's entry is as fork left it");
    assert_eq!(parent.lookup(DATA), shared, "and the parent's");
    assert_eq!(page.page_count(), 2, "a reference each, no more, no less");
    handle_mm_fault(&child, &vma, DATA, write).expect("with memory back, the copy");
    assert_ne!(child.lookup(DATA).pfn(), shared.pfn());
    assert_eq!(page.page_count(), 1);
    drop(child);
}

/// The page cache: a write of 5 pages whose third page-cache page cannot
/// be had (fail_page_alloc, `space` letting two pages through) writes two
/// pages and returns their count; the next write gets `-ENOMEM`; the file
/// holds exactly those bytes, and when the file is emptied every page it
/// had is free again (the free-page count as before).
fn a_write_whose_page_cache_page_cannot_be_had_is_enomem_and_the_file_stays_whole() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let path = b"/fault-inject-write\0";
    assert_eq!(copy_to_user(DATA, path), 0);
    let inode = crate::fs::rootfs().create("/fault-inject-write", 0o644).expect("create");
    let fd = sys3(nr::OPEN, DATA, 2, 0);
    assert!(fd >= 0, "open: {fd}");
    let src = DATA + PAGE_SIZE;
    let bytes: Vec<u8> = (0..5 * PAGE_SIZE).map(|i| (i % 251) as u8 + 1).collect();
    assert_eq!(copy_to_user(src, &bytes), 0, "the source, faulted in before injection");
    let free = free_and_heap();
    let before = forced();
    let saved = fail_my_page_allocs(3, -1);
    let n = sys3(nr::WRITE, fd as usize, src, 5 * PAGE_SIZE);
    let m = sys3(nr::WRITE, fd as usize, src + n.max(0) as usize, 10);
    unmark();
    drop(saved);
    assert!(forced() >= before + 2, "the third page and the next write's failed");
    assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at kernel/src/mm/filemap.rs:"), "{}", LAST_FORCED.lock().as_str());
    assert_eq!(n, (2 * PAGE_SIZE) as i32, "the two pages that could be had");
    assert_eq!(m, -ENOMEM);
    assert_eq!(inode.size(), 2 * PAGE_SIZE, "i_size covers exactly the bytes written");
    assert_eq!(inode.page_counts().0, 2);
    let mut back = vec![0u8; 2 * PAGE_SIZE];
    assert_eq!(inode.read_at(0, &mut back).unwrap(), 2 * PAGE_SIZE);
    assert!(back == bytes[..2 * PAGE_SIZE], "the file holds the bytes written");
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    inode.truncate(0).unwrap();
    assert_eq!(free_and_heap(), free, "the file's pages are free again, nothing else held");
}

/// fork() from a task whose code is `exit(0)`, through the system-call
/// table with the registers a user `int $0x80` at TEXT would leave.
fn fork_from_text() -> i32 {
    let mut regs = crate::arch::entry::entry_32::start_thread_regs(TEXT, TASK_SIZE);
    regs.orig_ax = nr::FORK as u32;
    crate::arch::entry::syscall_32::ia32_sys_call_table(nr::FORK).expect("fork")(&mut regs)
}

/// fork() whose k-th page cannot be had, for every k until fork succeeds:
/// the copy of the address space (the page directory, a PMD page under
/// PAE, each page table), then the child's kernel stack (Linux
/// `dup_task_struct`: vmalloc'd pages and their kernel page table).
/// `-ENOMEM` every time, no child, and nothing leaked: every page the
/// parent maps has one reference again (the child's were dropped), and the
/// free-page count is as before (kept in a fixed array: nothing allocated
/// between the two counts but what fork itself does). Then, with every
/// page given, fork succeeds and the child runs `exit(0)`.
fn fork_with_no_page_at_each_step_is_enomem_and_leaks_nothing() {
    use crate::mm::fault_inject::LAST_FORCED;
    let me = crate::sched::current();
    // mov $1, %eax; xor %ebx, %ebx; int $0x80: exit(0).
    me.set_mm(address_space_with(&[0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80]));
    // Data pages and a stack page: page tables for two regions (text and
    // data share one).
    assert_eq!(copy_to_user(DATA, &[1u8; 3 * PAGE_SIZE]), 0);
    let stack = TASK_SIZE - PAGE_SIZE;
    assert_eq!(copy_to_user(stack, &[2u8; 16]), 0);
    let mm = me.mm().unwrap();
    let mut pfns = [0usize; 8];
    let (pages, _) = mm.resident();
    let n = pages.len();
    assert!((4..=pfns.len()).contains(&n), "{n} pages");
    for (slot, p) in pfns.iter_mut().zip(&pages) {
        *slot = crate::mm::page_alloc::page_to_pfn(p);
    }
    drop(pages);
    drop(mm);
    let children = me.children.lock().len();
    let mut free = [0usize; 2];
    // Where each failure was forced: the copy (mm_types.rs, pgtable.rs),
    // then the stack (vmalloc.rs).
    let (mut in_copy, mut in_stack) = (0, 0);
    let mut k: i32 = 0;
    let pid = loop {
        assert!(k < 64, "fork still fails after {k} pages");
        crate::sched::task::reap_dead_stacks();
        let before = forced();
        free[0] = free_and_heap();
        let saved = fail_my_page_allocs(if k == 0 { 0 } else { k + 1 }, 1);
        let r = fork_from_text();
        unmark();
        drop(saved);
        free[1] = free_and_heap();
        if forced() == before {
            assert!(r > 0, "no failure forced at page {k}: fork succeeds ({r})");
            break r;
        }
        assert_eq!(r, -ENOMEM, "fork with page {k} failed");
        assert_eq!(forced(), before + 1, "page {k}: one failure forced");
        let site = LAST_FORCED.lock();
        if site.as_str().contains("vmalloc.rs") {
            in_stack += 1;
        } else {
            in_copy += 1;
        }
        drop(site);
        assert_eq!(me.children.lock().len(), children, "no child");
        for &pfn in &pfns[..n] {
            assert_eq!(pfn_to_page(pfn).page_count(), 1, "page {k}: pfn {pfn:#x} has the parent's reference only");
        }
        assert_eq!(free[1], free[0], "page {k}: every page fork took came back");
        k += 1;
    };
    assert!(in_copy >= 3, "the page directory and two page tables ({in_copy})");
    assert!(in_stack >= crate::sched::task::THREAD_SIZE / PAGE_SIZE, "every page of the kernel stack ({in_stack})");
    let mut regs = crate::arch::entry::PtRegs { bx: pid as u32, cx: DATA as u32, orig_ax: nr::WAIT4 as u32, ..Default::default() };
    assert_eq!(crate::arch::entry::syscall_32::ia32_sys_call_table(nr::WAIT4).expect("wait4")(&mut regs), pid, "the child, reaped");
    let mut status = [0u8; 4];
    assert_eq!(crate::arch::lib::usercopy_32::copy_from_user(&mut status, DATA), 0);
    assert_eq!(u32::from_le_bytes(status), 0, "the child ran exit(0)");
}

/// execve whose new address space cannot have its page directory fails
/// before the point of no return: `-ENOMEM`, the caller keeps its own
/// address space, and every page exec took is free again. (Every later
/// page, the new stack's included: `an_exec_with_no_page_at_each_step_...`
/// below.)
fn an_exec_whose_page_directory_cannot_be_had_is_enomem_and_the_caller_goes_on() {
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let old = me.mm().unwrap();
    let free = free_and_heap();
    let before = forced();
    let saved = fail_my_page_allocs(0, 1);
    let r = crate::fs::exec::kernel_execve("/bin/hello", &[b"hello"], &[]);
    unmark();
    drop(saved);
    assert_eq!(r.err().map(|e| e.errno()), Some(ENOMEM));
    assert_eq!(forced(), before + 1);
    assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at kernel/src/mm/pgtable.rs:"), "{}", LAST_FORCED.lock().as_str());
    assert!(alloc::sync::Arc::ptr_eq(&me.mm().unwrap(), &old), "the caller's address space, as it was");
    assert_eq!(free_and_heap(), free, "every page exec took is free again");
}

/// A pipe write whose second buffer page cannot be had (fail_page_alloc,
/// `space` letting one page through) returns the first page's bytes; the
/// next write, which gets no page at all, `-ENOMEM` (Linux `pipe_write`:
/// "if (!ret) ret = -ENOMEM"). The reader gets exactly those bytes, and
/// once both ends are closed every page the pipe had is free again.
fn a_pipe_write_with_no_page_for_its_buffer_is_enomem_and_the_data_stays_whole() {
    use crate::arch::lib::usercopy_32::copy_from_user;
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let src = DATA + PAGE_SIZE;
    let bytes: Vec<u8> = (0..3 * PAGE_SIZE).map(|i| (i % 249) as u8 + 3).collect();
    assert_eq!(copy_to_user(src, &bytes), 0, "the source, faulted in before injection");
    let dst = DATA + 4 * PAGE_SIZE;
    assert_eq!(copy_to_user(dst, &[0u8; 2 * PAGE_SIZE]), 0, "the destination too");
    assert_eq!(copy_to_user(DATA, &[0u8; 8]), 0, "and where pipe2 puts the descriptors");
    let free = free_and_heap();
    assert_eq!(sys3(nr::PIPE2, DATA, 0, 0), 0, "pipe2");
    let mut fds = [0u8; 8];
    assert_eq!(copy_from_user(&mut fds, DATA), 0);
    let (r, w) = (u32::from_le_bytes(fds[..4].try_into().unwrap()) as usize, u32::from_le_bytes(fds[4..].try_into().unwrap()) as usize);
    let before = forced();
    let saved = fail_my_page_allocs(2, -1);
    let n = sys3(nr::WRITE, w, src, 3 * PAGE_SIZE);
    let m = sys3(nr::WRITE, w, src, 10);
    unmark();
    drop(saved);
    assert!(forced() >= before + 2, "the second page and the next write's failed");
    assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at kernel/src/fs/pipe.rs:"), "{}", LAST_FORCED.lock().as_str());
    assert_eq!(n, PAGE_SIZE as i32, "the page that could be had");
    assert_eq!(m, -ENOMEM);
    assert_eq!(sys3(nr::READ, r, dst, 2 * PAGE_SIZE), PAGE_SIZE as i32, "the reader gets what was written");
    let mut back = vec![0u8; PAGE_SIZE];
    assert_eq!(copy_from_user(&mut back, dst), 0);
    assert!(back == bytes[..PAGE_SIZE], "byte for byte");
    assert_eq!(sys3(nr::CLOSE, w, 0, 0), 0);
    assert_eq!(sys3(nr::CLOSE, r, 0, 0), 0);
    assert_eq!(free_and_heap(), free, "the pipe's pages are free again");
}

// ===========================================================================
// Page-allocation failure sites (issue 13 item 3): exec's argument stack,
// do_cow_fault, vmalloc, kernel-thread creation. Each forces failures with
// fail_page_alloc on this task only and checks the error and the
// free-page count.
// ===========================================================================

/// execve whose k-th page cannot be had, for every k until it succeeds
/// (the new page directory and page tables, the pages the ELF loader
/// touches, the new stack's page table and pages while the strings are
/// copied, the pages of the tables below them): every failure comes
/// before the point of no return. `-E2BIG` while the strings are copied
/// (Linux `copy_strings`: `get_arg_page` failed), `-ENOMEM` elsewhere; the
/// caller keeps its own address space, and the free-page count is as
/// before. With every page given, the exec goes through and the new
/// stack holds argc 2 and the 5000-byte argument.
fn an_exec_with_no_page_at_each_step_fails_before_the_switch_and_leaks_nothing() {
    use crate::arch::lib::usercopy_32::copy_from_user;
    use crate::errno::{E2BIG, EFAULT};
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let old = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA, b"/bin/hello\0"), 0);
    let long = DATA + PAGE_SIZE;
    let mut bytes = vec![b'l'; 5001];
    bytes[5000] = 0;
    assert_eq!(copy_to_user(long, &bytes), 0);
    let (hello, env) = (DATA + 3 * PAGE_SIZE, DATA + 3 * PAGE_SIZE + 8);
    assert_eq!(copy_to_user(hello, b"hello\0\0\0A=1\0"), 0);
    let (argv, envp) = (DATA + 4 * PAGE_SIZE, DATA + 4 * PAGE_SIZE + 16);
    let words: Vec<u8> = [hello, long, 0, 0, env, 0].iter().flat_map(|w| (*w as u32).to_le_bytes()).collect();
    assert_eq!(copy_to_user(argv, &words), 0);
    let execve = || {
        let mut regs = crate::arch::entry::PtRegs { bx: DATA as u32, cx: argv as u32, dx: envp as u32, orig_ax: nr::EXECVE as u32, ..Default::default() };
        (crate::arch::entry::syscall_32::ia32_sys_call_table(nr::EXECVE).expect("execve")(&mut regs), regs)
    };
    // The first exec of a boot makes what later ones share (the vDSO's
    // page): one that loads the program, then fails on its argv, first.
    assert_eq!(sys3(nr::EXECVE, DATA, 0xc000_0000, 0), -EFAULT);
    let (mut in_strings, mut elsewhere) = (0, 0);
    let mut k: i32 = 0;
    let regs = loop {
        assert!(k < 64, "exec still fails after {k} pages");
        let before = forced();
        let free = free_and_heap();
        let saved = fail_my_page_allocs(if k == 0 { 0 } else { k + 1 }, 1);
        let (r, regs) = execve();
        unmark();
        drop(saved);
        if forced() == before {
            assert_eq!(r, 0, "no failure forced at page {k}: exec succeeds");
            break regs;
        }
        assert_eq!(forced(), before + 1, "page {k}: one failure forced");
        assert!(alloc::sync::Arc::ptr_eq(&me.mm().unwrap(), &old), "page {k}: the caller's address space, as it was");
        assert_eq!(free_and_heap(), free, "page {k}: every page exec took is free again");
        match -r {
            E2BIG => in_strings += 1,
            ENOMEM => elsewhere += 1,
            _ => panic!("page {k}: exec returned {r}"),
        }
        k += 1;
    };
    assert!(elsewhere >= 2, "the page directory and a page table of the new address space ({elsewhere} -ENOMEM, {in_strings} -E2BIG)");
    assert!(in_strings >= 3, "the stack's page table and the strings' two pages at least ({elsewhere} -ENOMEM, {in_strings} -E2BIG)");
    assert!(!alloc::sync::Arc::ptr_eq(&me.mm().unwrap(), &old), "the task runs hello now");
    let mut argc = [0u8; 8];
    assert_eq!(copy_from_user(&mut argc, regs.sp as usize), 0);
    assert_eq!(u32::from_le_bytes(argc[..4].try_into().unwrap()), 2, "argc");
    let argv0 = u32::from_le_bytes(argc[4..].try_into().unwrap()) as usize;
    let mut back = vec![0u8; 6 + 5001];
    assert_eq!(copy_from_user(&mut back, argv0), 0);
    assert!(back[..6] == *b"hello\0" && back[6..] == bytes[..], "argv[0] and argv[1] in the new stack");
}

/// A private file mapping's first write to a page needs a copy of the
/// file's page (`do_cow_fault`: the entry is empty, so not `do_wp_page`);
/// with no page for the copy the fault is `VM_FAULT_OOM` (a user fault is
/// then retried, Linux 6.1's `pagefault_out_of_memory`) and nothing
/// changed: the entry is still empty, the page-cache page has its
/// references as before, and the free-page count too. With memory back
/// the same fault copies, and the file keeps its bytes.
fn a_private_file_write_fault_with_no_page_for_the_copy_is_oom_then_copies_and_leaks_nothing() {
    use crate::arch::lib::usercopy_32::copy_from_user;
    use crate::mm::memory::{FILE_COW_FAULTS, FaultFlags, VmFault, handle_mm_fault};
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mm = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA, b"/fault-inject-cow\0"), 0);
    let inode = crate::fs::rootfs().create("/fault-inject-cow", 0o644).expect("create");
    inode.write_at(0, &[0x5a; 2 * PAGE_SIZE]).expect("two pages of 0x5a");
    let fd = sys3(nr::OPEN, DATA, 2, 0);
    assert!(fd >= 0, "open: {fd}");
    // mmap2(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
    let addr = super::common::sys(nr::MMAP2, [0, 2 * PAGE_SIZE, 3, 2, fd as usize, 0]) as usize;
    assert!(addr < TASK_SIZE && addr % (4 << 20) != (4 << 20) - PAGE_SIZE, "mmap2: {addr:#x}");
    // A read of the second page: its page table exists from here on, so
    // the copy is the one page the write below needs.
    let mut b = [0u8; 4];
    assert_eq!(copy_from_user(&mut b, addr + PAGE_SIZE), 0);
    assert!(mm::pgtable_types::pte_none(mm.lookup(addr)), "the first page not touched yet");
    let mapping = &inode.file().unwrap().i_mapping;
    let cache_count = || {
        let p = mapping.find_get_page(0).expect("the file's first page is in the page cache");
        let n = p.page_count();
        crate::mm::filemap::put_page(p);
        n
    };
    let count = cache_count();
    let vma = *mm.mmap_lock().find_vma(addr).unwrap();
    let write = FaultFlags { write: true, user: true };
    let copies = FILE_COW_FAULTS.load(SeqCst);
    let free = free_and_heap();
    let before = forced();
    let saved = fail_my_page_allocs(0, 1);
    let r = handle_mm_fault(&mm, &vma, addr, write);
    unmark();
    drop(saved);
    assert!(matches!(r, Err(VmFault::Oom)), "{r:?}");
    assert_eq!(forced(), before + 1);
    assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at kernel/src/mm/memory.rs:"), "{}", LAST_FORCED.lock().as_str());
    assert_eq!(super::common::kmap_depth(), 0, "no kmap_local mapping left behind");
    assert!(mm::pgtable_types::pte_none(mm.lookup(addr)), "the entry still empty");
    assert_eq!(cache_count(), count, "the page-cache page's references as before (unlocked, let go of)");
    assert_eq!(FILE_COW_FAULTS.load(SeqCst), copies, "no copy made");
    assert_eq!(free_and_heap(), free, "no page kept");
    handle_mm_fault(&mm, &vma, addr, write).expect("with memory back, the copy");
    assert_eq!(FILE_COW_FAULTS.load(SeqCst), copies + 1, "do_cow_fault copied");
    assert_eq!(copy_to_user(addr, b"mine"), 0);
    let mut file = [0u8; 4];
    assert_eq!(inode.read_at(0, &mut file).unwrap(), 4);
    assert_eq!(file, [0x5a; 4], "the file keeps its bytes");
    assert_eq!(sys3(nr::MUNMAP, addr, 2 * PAGE_SIZE, 0), 0);
    assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
    crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), "/fault-inject-cow").expect("unlink");
}

/// vmalloc of 8 pages whose k-th page cannot be had, for each k: `None`,
/// and the pages already taken and the area are given back (Linux
/// `__vmalloc_area_node` fails, `__vmalloc_node_range` frees the area with
/// `vfree`): the free-page count and the vmalloc area's counters as
/// before. With every page given, the allocation succeeds.
fn vmalloc_with_no_page_at_each_step_frees_the_pages_taken_and_the_area() {
    use crate::mm::vmalloc::{vfree, vmalloc, vmalloc_info};
    const PAGES: usize = 8;
    let mut k: i32 = 0;
    loop {
        assert!(k < 32, "vmalloc still fails after {k} pages");
        let (free, info, before) = (free_and_heap(), vmalloc_info(), forced());
        let saved = fail_my_page_allocs(if k == 0 { 0 } else { k + 1 }, 1);
        let r = vmalloc(PAGES * PAGE_SIZE);
        unmark();
        drop(saved);
        if forced() == before {
            vfree(r.expect("no failure forced: vmalloc succeeds"));
            break;
        }
        assert_eq!(r, None, "page {k}");
        assert!(LAST_FORCED.lock().as_str().starts_with("fail_page_alloc at kernel/src/mm/vmalloc.rs:"), "{}", LAST_FORCED.lock().as_str());
        assert_eq!(free_and_heap(), free, "page {k}: every page taken is free again");
        assert_eq!(vmalloc_info(), info, "page {k}: the area is free again");
        k += 1;
    }
    assert!(k as usize >= PAGES, "a failure at each of the {PAGES} pages ({k})");
}

/// A kernel thread whose stack's k-th page cannot be had, for each k:
/// `try_spawn` is `Err(ENOMEM)` (Linux `kthread_create`'s
/// `ERR_PTR(-ENOMEM)`), the function never runs and is dropped with what
/// it owns, and the pages and the vmalloc area come back. With every page
/// given, the thread runs.
fn a_kernel_thread_whose_stack_cannot_be_had_is_enomem_and_leaks_nothing() {
    use crate::mm::vmalloc::vmalloc_info;
    use core::sync::atomic::AtomicBool;
    let ran = alloc::sync::Arc::new(AtomicBool::new(false));
    let mut k: i32 = 0;
    loop {
        assert!(k < 32, "try_spawn still fails after {k} pages");
        crate::sched::task::reap_dead_stacks();
        let (free, info, before) = (free_and_heap(), vmalloc_info(), forced());
        let flag = ran.clone();
        let saved = fail_my_page_allocs(if k == 0 { 0 } else { k + 1 }, 1);
        let r = crate::sched::try_spawn("kthread-nomem", move || flag.store(true, SeqCst));
        unmark();
        drop(saved);
        if forced() == before {
            assert_eq!(r.map(|t| t.join()).ok(), Some(0), "no failure forced: the thread runs");
            break;
        }
        assert_eq!(r.err(), Some(ENOMEM), "page {k}");
        assert!(!ran.load(SeqCst), "page {k}: the thread never ran");
        assert_eq!(alloc::sync::Arc::strong_count(&ran), 1, "page {k}: its function was dropped");
        assert_eq!(free_and_heap(), free, "page {k}: every page is free again");
        assert_eq!(vmalloc_info(), info, "page {k}: and the stack's area");
        k += 1;
    }
    assert!(ran.load(SeqCst));
    assert!(k as usize >= crate::sched::task::THREAD_SIZE / PAGE_SIZE, "a failure at each page of the stack ({k})");
}

/// munmap of a page in the middle of an area (two splits, Linux
/// `__split_vma` -> `vm_area_dup` each), mprotect of one (two splits) and
/// an anonymous mmap (a new area, `vm_area_alloc`) with no memory for a
/// VMA (failslab, each allocation in turn): `-ENOMEM`, the areas and the
/// page's contents as they were, nothing leaked; then each succeeds.
fn mmap_munmap_and_mprotect_with_no_vma_are_enomem_and_change_nothing() {
    use crate::arch::lib::usercopy_32::copy_from_user;
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mm = me.mm().unwrap();
    assert_eq!(copy_to_user(DATA + PAGE_SIZE, b"still here"), 0);
    let areas = mm.mmap_lock().map_count();
    let unchanged = |k: usize| {
        assert_eq!(mm.mmap_lock().map_count(), areas, "step {k}: the areas as they were");
        let mut back = [0u8; 10];
        assert_eq!(copy_from_user(&mut back, DATA + PAGE_SIZE), 0, "step {k}: the page still mapped");
        assert_eq!(&back, b"still here");
        assert!(mm.mmap_lock().find_vma(DATA + PAGE_SIZE).unwrap().vm_flags.contains(mm::vma::VmFlags::VM_WRITE));
    };
    let (sites, r) = each_slab_step("mprotect", || sys3(nr::MPROTECT, DATA + PAGE_SIZE, PAGE_SIZE, 1), |_, _| ENOMEM, unchanged, || {});
    assert_eq!((r, sites.len()), (0, 2), "two splits, then mprotect succeeds: {sites:?}");
    assert!(sites.iter().all(|s| s.contains("kernel/src/mm/mmap.rs")), "{sites:?}");
    assert_eq!(sys3(nr::MPROTECT, DATA + PAGE_SIZE, PAGE_SIZE, 3), 0, "read-write again (merged back)");
    assert_eq!(mm.mmap_lock().map_count(), areas);
    let (sites, r) = each_slab_step("munmap", || sys3(nr::MUNMAP, DATA + PAGE_SIZE, PAGE_SIZE, 0), |_, _| ENOMEM, unchanged, || {});
    assert_eq!((r, sites.len()), (0, 2), "two splits, then munmap succeeds: {sites:?}");
    assert_eq!(mm.mmap_lock().map_count(), areas + 1, "the area in two");
    let areas = areas + 1;
    let (sites, r) = each_slab_step("mmap", || super::common::sys(nr::MMAP2, [0, PAGE_SIZE, 3, 0x22, usize::MAX, 0]), |_, _| ENOMEM,
        |k| assert_eq!(mm.mmap_lock().map_count(), areas, "step {k}: no new area"), || {});
    assert_eq!(sites.len(), 1, "the new area: {sites:?}");
    let addr = r as u32 as usize;
    assert!(addr.is_multiple_of(PAGE_SIZE) && addr < TASK_SIZE && mm.mmap_lock().find_vma(addr).is_some_and(|v| v.vm_start <= addr), "mapped at {r:#x}");
    assert_eq!(sys3(nr::MUNMAP, addr, PAGE_SIZE, 0), 0);
}
