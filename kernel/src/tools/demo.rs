//! Narrated demos for the console (`demo NAME`): each shows one mechanism
//! step by step, with `trace` on for the moments that matter.
//!
//! | demo      | what it shows                                                  |
//! |-----------|----------------------------------------------------------------|
//! | `wrap`    | kunmap is lazy; the cursor wraps; one flush clears every unused slot |
//! | `preempt` | two tasks use the same kmap_local slot on one CPU, each its own page |
//! | `sleep`   | with all LAST_PKMAP PKMAP slots taken, kmap sleeps until a kunmap |
//! | `misuse`  | an out-of-order kunmap_local is caught, named and refused        |
//! | `fault`   | read() into an untouched buffer: the fault inside kmap_local, a sleep, the slot shared, restored |
//! | `copy-patterns` | the same read() in both copy modes, with the page cache's counters |

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mm::gfp::GFP_HIGHUSER;
use mm::layout::LAST_PKMAP;
use mm::page::Page;

use crate::mm::kmap::{kmap, kmap_flush_unused, kunmap, last_pkmap_nr, pkmap_census, pkmap_stats, pkmap_waiters};
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::{self, PageHighMem};
use crate::sched::{msleep, spawn, spawn_on, yield_now};

fn say(text: &str) {
    println!("demo: {text}");
}

fn highmem_pages(n: usize) -> Option<Vec<&'static Page>> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let p = page_alloc::alloc_pages(GFP_HIGHUSER, 0)?;
        if !PageHighMem(p) {
            page_alloc::__free_pages(p, 0);
            for q in v {
                page_alloc::__free_pages(q, 0);
            }
            return None;
        }
        v.push(p);
    }
    Some(v)
}

fn free(pages: Vec<&'static Page>) {
    for p in pages {
        page_alloc::__free_pages(p, 0);
    }
}

/// The demos, by name, in the order `help` and the error message list them.
const DEMOS: &[(&str, fn())] =
    &[("wrap", wrap), ("preempt", preempt), ("sleep", sleep), ("misuse", misuse), ("fault", fault), ("copy-patterns", copy_patterns)];

/// The demos' names, for the message that answers an unknown one.
pub fn names() -> alloc::string::String {
    DEMOS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// Run demo `name`; false if there is no such demo.
pub fn run(name: &str) -> bool {
    let Some(&(_, f)) = DEMOS.iter().find(|(n, _)| *n == name) else { return false };
    let was = crate::tools::trace::enabled();
    f();
    crate::tools::trace::set(was);
    true
}

fn wrap() {
    let Some(pages) = highmem_pages(LAST_PKMAP + 2) else {
        say("needs highmem: boot with -m 3G");
        return;
    };
    kmap_flush_unused();
    say(&alloc::format!("The PKMAP pool has {LAST_PKMAP} slots. kunmap() is lazy: a released slot keeps its PTE (count 1),"));
    say("because some CPU's TLB may still translate it. Reusing it now could read the old page.");
    say(&alloc::format!("Now: cursor at {}, slots free/unused/in use = {:?}.", last_pkmap_nr(), pkmap_census()));
    crate::tools::trace::set(true);
    kmap(pages[0]);
    kunmap(pages[0]);
    crate::tools::trace::set(false);
    say("kmap+kunmap of fresh pages, quietly, until the cursor is about to wrap...");
    let start = pkmap_stats();
    let mut i = 1;
    while last_pkmap_nr() != LAST_PKMAP - 1 {
        kmap(pages[i]);
        kunmap(pages[i]);
        i += 1;
    }
    say(&alloc::format!("{} new mappings and not one TLB flush; free/unused/in use = {:?}.", pkmap_stats().maps - start.maps, pkmap_census()));
    say("The next new page wraps the cursor to 0: flush_all_zero_pkmaps clears every unused slot");
    say("and issues ONE flush of the window, on every CPU (an IPI each). Watch:");
    crate::tools::trace::set(true);
    kmap(pages[i]);
    kunmap(pages[i]);
    crate::tools::trace::set(false);
    let s = pkmap_stats();
    say(&alloc::format!("Wraps {} -> {}, flushes {} -> {}; free/unused/in use = {:?}.", start.wraps, s.wraps, start.flushes, s.flushes, pkmap_census()));
    say(&alloc::format!("That is the bargain: one global flush per {LAST_PKMAP} mappings, paid by whoever wraps."));
    free(pages);
}

fn preempt() {
    say("Two tasks on CPU 0 each kmap_local a page. Both get the SAME slot address:");
    say("slots belong to the task, not the CPU. At each switch, sched_out clears the");
    say("outgoing task's slots (invlpg) and sched_in restores the incoming task's.");
    let addrs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let ok = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    crate::tools::trace::set(true);
    let handles: Vec<_> = (0..2u8)
        .map(|me| {
            let (addrs, ok, go) = (addrs.clone(), ok.clone(), go.clone());
            spawn_on(0, if me == 0 { "demo-a" } else { "demo-b" }, move || {
                let Some(p) = highmem_pages(1) else { return };
                crate::mm::highmem::memset_page(p[0], 0, b'A' + me, mm::layout::PAGE_SIZE);
                let v = kmap_local_page(p[0]);
                addrs[me as usize].store(v, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    yield_now();
                }
                for _ in 0..2 {
                    yield_now(); // switched out and back in: the slot is saved and restored
                }
                // SAFETY: our own kmap_local mapping, restored by sched_in.
                if unsafe { (v as *const u8).read_volatile() } == b'A' + me {
                    ok.fetch_add(1, Ordering::SeqCst);
                }
                kunmap_local(v);
                free(p);
            })
        })
        .collect();
    while addrs.iter().any(|a| a.load(Ordering::SeqCst) == 0) {
        msleep(1);
    }
    go.store(true, Ordering::SeqCst);
    for h in handles {
        h.join();
    }
    crate::tools::trace::set(false);
    say(&alloc::format!("Both used {:#010x}; {} of 2 read their own page back after being switched out.",
        addrs[0].load(Ordering::SeqCst), ok.load(Ordering::SeqCst)));
}

fn sleep() {
    let Some(pages) = highmem_pages(LAST_PKMAP + 1) else {
        say("needs highmem: boot with -m 3G");
        return;
    };
    say(&alloc::format!("Taking all {LAST_PKMAP} PKMAP slots (and keeping them)..."));
    for p in &pages[..LAST_PKMAP] {
        kmap(p);
    }
    say(&alloc::format!("free/unused/in use = {:?}. A task now asks for one more:", pkmap_census()));
    crate::tools::trace::set(true);
    let last = pages[LAST_PKMAP];
    let t = spawn("demo-sleeper", move || {
        kmap(last);
        kunmap(last);
    });
    while pkmap_waiters() == 0 {
        msleep(1);
    }
    say(&alloc::format!("It sleeps (uninterruptibly) on pkmap_map_wait: {} waiter(s).", pkmap_waiters()));
    say("One kunmap makes a slot unused; the sleeper wakes, wraps, flushes, takes it:");
    kunmap(pages[3]);
    t.join();
    crate::tools::trace::set(false);
    for (i, p) in pages[..LAST_PKMAP].iter().enumerate() {
        if i != 3 {
            kunmap(p);
        }
    }
    say(&alloc::format!("Done; waits counted: {}.", pkmap_stats().waits));
    free(pages);
}

fn misuse() {
    let Some(p) = highmem_pages(2) else {
        say("needs highmem: boot with -m 3G");
        return;
    };
    say("kmap_local mappings form a stack and must be released in reverse order.");
    let a = kmap_local_page(p[0]);
    let b = kmap_local_page(p[1]);
    say(&alloc::format!("Mapped A at {a:#010x}, then B at {b:#010x}. Now kunmap_local(A), out of order:"));
    kunmap_local(a);
    say("Linux would warn once and clear the wrong slot; we name both addresses and refuse.");
    say("Releasing in the right order, B then A:");
    crate::tools::trace::set(true);
    kunmap_local(b);
    kunmap_local(a);
    crate::tools::trace::set(false);
    free(p);
}

// ---------------------------------------------------------------------------
// The page cache's copies (chapter 11)
// ---------------------------------------------------------------------------

/// Where the demos' user buffers live: an anonymous read-write area of
/// `USER_PAGES` pages in the demo thread's own address space, never
/// touched until a copy touches it.
const USER_AREA: usize = 0x0800_0000;
const USER_PAGES: usize = 128;

/// Give the calling kernel thread an address space with one anonymous
/// data area (the demos call system calls as a program's `int $0x80`
/// would, with this thread's own user memory).
fn user_address_space() -> bool {
    use mm::vma::{VmArea, VmFlags, VmaKind};
    let Some(mm) = crate::mm::mm_types::MmStruct::new() else { return false };
    let Ok(area) = VmArea::new(USER_AREA, USER_AREA + USER_PAGES * mm::layout::PAGE_SIZE, VmFlags::VM_DATA_DEFAULT_FLAGS, VmaKind::Anonymous, USER_AREA >> 12) else {
        return false;
    };
    if mm.mmap_lock().insert_vm_struct(area).is_err() {
        return false;
    }
    crate::sched::current().set_mm(Arc::new(mm));
    true
}

/// Call system call `nr` as `int $0x80` would.
fn syscall(nr: i32, a: usize, b: usize, c: usize) -> i32 {
    use crate::arch::entry::PtRegs;
    let mut regs = PtRegs { bx: a as u32, cx: b as u32, dx: c as u32, orig_ax: nr as u32, ..PtRegs::default() };
    crate::arch::entry::syscall_32::ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

/// The byte at offset `i` of the demos' file.
fn file_byte(i: usize) -> u8 {
    b'a' + ((i / 7) % 26) as u8
}

/// Create `path` (its NUL-terminated name at the start of the user area,
/// which the write then faults in) holding `len` bytes of `file_byte`,
/// written from the user area's first pages; the descriptor, open for
/// reading and writing, at offset 0.
fn make_file(path: &core::ffi::CStr, len: usize) -> Option<usize> {
    use crate::arch::entry::syscall_32::nr;
    use crate::arch::lib::usercopy_32::copy_to_user;
    let name = USER_AREA + (USER_PAGES - 1) * mm::layout::PAGE_SIZE;
    if copy_to_user(name, path.to_bytes_with_nul()) != 0 {
        return None;
    }
    let fd = syscall(nr::OPEN, name, 0o1102, 0o644); // O_RDWR | O_CREAT | O_TRUNC
    if fd < 0 {
        say(&alloc::format!("cannot create {path:?}: errno {}", -fd));
        return None;
    }
    let src = USER_AREA + (USER_PAGES - 1 - len.div_ceil(mm::layout::PAGE_SIZE)) * mm::layout::PAGE_SIZE;
    let bytes: Vec<u8> = (0..len).map(file_byte).collect();
    if copy_to_user(src, &bytes) != 0 || syscall(nr::WRITE, fd as usize, src, len) != len as i32 {
        return None;
    }
    syscall(nr::LSEEK, fd as usize, 0, 0);
    Some(fd as usize)
}

/// Close `fd` and remove the file whose name [`make_file`] left in the
/// user area.
fn remove_file(fd: usize) {
    use crate::arch::entry::syscall_32::nr;
    syscall(nr::CLOSE, fd, 0, 0);
    syscall(nr::UNLINK, USER_AREA + (USER_PAGES - 1) * mm::layout::PAGE_SIZE, 0, 0);
}

/// Do the `n` bytes of user memory at `uaddr` equal the file's from `off`?
fn user_matches_file(uaddr: usize, off: usize, n: usize) -> bool {
    let mut got = alloc::vec![0u8; n];
    crate::arch::lib::usercopy_32::copy_from_user(&mut got, uaddr) == 0 && got.iter().enumerate().all(|(i, &b)| b == file_byte(off + i))
}

/// `demo fault`: the seed claim, through `read()`. A page-cache page of a
/// new file (highmem at -m 3G) is read into an untouched user page: the
/// copy runs under kmap_local_page of the file page, faults on the user
/// buffer, and the fault sleeps (fault.rs's FORCE_SLEEP_MS); meanwhile
/// another task on the same CPU maps its own page at the same slot
/// address; the reader's slot is restored when it is switched back in,
/// and the bytes arrive intact.
fn fault() {
    use crate::arch::mm::fault::FORCE_SLEEP_MS;
    use crate::mm::pgtable::lookup_kernel_pte;
    use crate::sched::task::TASK_RUNNING;
    let Some(theirs) = highmem_pages(1) else {
        say("needs highmem: boot with -m 3G");
        return;
    };
    crate::mm::highmem::memset_page(theirs[0], 0, b'T', mm::layout::PAGE_SIZE);
    let their_pfn = crate::mm::page_alloc::page_to_pfn(theirs[0]);
    let their_page: &'static Page = theirs[0];
    // The reader's task, published when it is about to read (phase 1); it
    // does not end before the sharer has ended (`sharer_done`). Phase 2:
    // the sharer mapped its page; 3: the reader's read() returned first
    // (or it could not start), so the sharer gives up instead of waiting
    // for a sleep that will not come.
    let reader_task = Arc::new(core::sync::atomic::AtomicPtr::<crate::sched::task::Task>::new(core::ptr::null_mut()));
    let phase = Arc::new(AtomicUsize::new(0));
    let sharer_done = Arc::new(AtomicBool::new(false));
    let mode = crate::mm::filemap::usercopy_mode();
    crate::mm::filemap::set_usercopy_mode(crate::mm::filemap::UsercopyMode::Local);
    let reader = {
        let (reader_task, phase, sharer_done) = (reader_task.clone(), phase.clone(), sharer_done.clone());
        spawn_on(0, "demo-reader", move || {
            use crate::arch::entry::syscall_32::nr;
            if !user_address_space() {
                say("no memory for an address space");
                phase.store(3, Ordering::SeqCst);
                return;
            }
            let Some(fd) = make_file(c"/demo-fault", mm::layout::PAGE_SIZE) else {
                phase.store(3, Ordering::SeqCst);
                return;
            };
            let buf = USER_AREA; // never touched: no PTE yet
            let slot0 = kmap_local_page(their_page);
            kunmap_local(slot0);
            say(&alloc::format!("demo-reader: read(fd, {buf:#010x}, 4096) of /demo-fault, one page-cache page."));
            say(&alloc::format!("demo-reader: the buffer's page has no PTE yet; CPU 0's kmap_local slot 0 is {slot0:#010x}, PTE {:#010x}.", lookup_kernel_pte(slot0).0));
            say("demo-reader: filemap_read -> copy_page_to_iter: kmap_local_page(file page), then copy_to_user faults;");
            say("demo-reader: the fault sleeps 50 ms (FORCE_SLEEP_MS), still holding the mapping. Watch the trace:");
            crate::tools::trace::set(true);
            FORCE_SLEEP_MS.store(50, Ordering::SeqCst);
            reader_task.store(crate::sched::current() as *const _ as *mut _, Ordering::SeqCst);
            phase.store(1, Ordering::SeqCst);
            let n = syscall(nr::READ, fd, buf, mm::layout::PAGE_SIZE);
            FORCE_SLEEP_MS.store(0, Ordering::SeqCst);
            crate::tools::trace::set(false);
            if phase.compare_exchange(1, 3, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                say("demo-reader: the read did not sleep in a fault while the other task looked (was the buffer touched?)");
            }
            while !sharer_done.load(Ordering::SeqCst) {
                msleep(1);
            }
            let pte = crate::sched::current().mm().map(|m| m.lookup(buf).0).unwrap_or(0);
            say(&alloc::format!("demo-reader: read returned {n}; the buffer's PTE is now {pte:#010x} (present: the fault mapped it)."));
            say("demo-reader: inside the fault, the slots above 0 held the page table (HIGHPTE) and the new user page while it was cleared;");
            say("demo-reader: they were pushed on top of the copy's slot 0 and popped before the copy went on (the trace's slot 1 and 2 lines).");
            say(&alloc::format!("demo-reader: slot {slot0:#010x} after kunmap_local: PTE {:#010x}; the kmap_local depth is {}.",
                lookup_kernel_pte(slot0).0, crate::sched::current().kmap_local_idx()));
            say(&alloc::format!("demo-reader: the data is {} (4096 bytes compared with the file's).",
                if n == 4096 && user_matches_file(buf, 0, 4096) { "intact" } else { "WRONG" }));
            remove_file(fd);
        })
    };
    // The other task: on the same CPU, it waits until the reader sleeps in
    // its fault with a kmap_local slot held, then maps its own page.
    let sharer = {
        let (reader_task, phase, sharer_done) = (reader_task.clone(), phase.clone(), sharer_done.clone());
        spawn_on(0, "demo-sharer", move || {
            let asleep = || {
                let t = reader_task.load(Ordering::SeqCst);
                // SAFETY: published at phase 1 from `current()`; the reader
                // lives until this task sets sharer_done.
                !t.is_null() && unsafe { (*t).state() != TASK_RUNNING && (*t).kmap_local_idx() > 0 }
            };
            while phase.load(Ordering::SeqCst) != 1 || !asleep() {
                if phase.load(Ordering::SeqCst) == 3 {
                    sharer_done.store(true, Ordering::SeqCst);
                    return;
                }
                msleep(1);
            }
            // Claim the moment, so that a reader that wakes meanwhile does
            // not report that nobody came.
            if phase.compare_exchange(1, 2, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                sharer_done.store(true, Ordering::SeqCst);
                return;
            }
            let v = kmap_local_page(their_page);
            say(&alloc::format!("demo-sharer: the reader sleeps in its fault holding 1 kmap_local slot; I map pfn {their_pfn:#x} at {v:#010x}: PTE {:#010x}", lookup_kernel_pte(v).0));
            // SAFETY: our own mapping of a page we filled with 'T'.
            let b = unsafe { (v as *const u8).read_volatile() };
            say(&alloc::format!("demo-sharer: same slot address, my page: I read {:?} there.", b as char));
            kunmap_local(v);
            sharer_done.store(true, Ordering::SeqCst);
        })
    };
    sharer.join();
    reader.join();
    FORCE_SLEEP_MS.store(0, Ordering::SeqCst);
    crate::tools::trace::set(false);
    crate::mm::filemap::set_usercopy_mode(mode);
    say("The read slept with the file page mapped; sched_out/sched_in kept its slot; nothing was lost.");
    free(theirs);
}

/// `demo copy-patterns`: the same `read()` of 16 pages into untouched
/// memory, once per copy pattern, with the page cache's counters before
/// and after: v6.x (kmap_local, the copy takes each fault), before v6.0
/// (fault_in_writeable first, then kmap_atomic; nothing short, so no
/// fallback), and before v6.0 with the prefault skipped (as if reclaim had
/// taken the prefaulted pages back): each kmap_atomic copy comes back short
/// at its first byte and goes on under kmap() ("Too bad - revert to
/// non-atomic kmap").
fn copy_patterns() {
    use crate::mm::filemap::{SKIP_READ_PREFAULT, UsercopyMode, filemap_counts, set_usercopy_mode, usercopy_mode};
    const PAGES: usize = 16;
    let mode = usercopy_mode();
    let t = spawn("demo-copies", move || {
        use crate::arch::entry::syscall_32::nr;
        if !user_address_space() {
            say("no memory for an address space");
            return;
        }
        let Some(fd) = make_file(c"/demo-copies", PAGES * mm::layout::PAGE_SIZE) else { return };
        say("read(fd, buf, 65536) of a 16-page file into 16 untouched pages, three ways:");
        let runs = [
            ("usercopy=local  ", UsercopyMode::Local, false, "kmap_local_page; copy_to_user takes each fault under it"),
            ("usercopy=atomic ", UsercopyMode::Atomic, false, "fault_in_writeable first, then kmap_atomic + an atomic copy"),
            ("atomic, no prefault", UsercopyMode::Atomic, true, "prefault skipped: each atomic copy comes back short, then kmap()"),
        ];
        for (i, (name, m, skip, how)) in runs.into_iter().enumerate() {
            let buf = USER_AREA + i * PAGES * mm::layout::PAGE_SIZE; // a fresh, untouched part of the area
            set_usercopy_mode(m);
            SKIP_READ_PREFAULT.store(skip, Ordering::SeqCst);
            syscall(nr::LSEEK, fd, 0, 0);
            let before = filemap_counts();
            let n = syscall(nr::READ, fd, buf, PAGES * mm::layout::PAGE_SIZE);
            let d = filemap_counts().since(&before);
            SKIP_READ_PREFAULT.store(false, Ordering::SeqCst);
            say(&alloc::format!("{name}: {how}"));
            say(&alloc::format!(
                "  read returned {n}, data {}; kmap_local copies {}, faults under kmap_local {}, atomic copies {}, short {}, kmap() fallbacks {} ({} cycles each)",
                if n as usize == PAGES * mm::layout::PAGE_SIZE && user_matches_file(buf, 0, n as usize) { "intact" } else { "WRONG" },
                d.read_copies, d.read_faults_under_kmap_local, d.read_atomic_copies, d.read_atomic_short, d.read_kmap_fallbacks,
                d.read_kmap_fallback_cycles.checked_div(d.read_kmap_fallbacks).unwrap_or(0)
            ));
        }
        remove_file(fd);
        say("The old pattern touched each user page twice (prefault, then copy) and, when the atomic");
        say("copy came back short, paid a global kmap(): its lock, and a PKMAP flush when the pool wraps.");
    });
    t.join();
    crate::mm::filemap::SKIP_READ_PREFAULT.store(false, Ordering::SeqCst);
    set_usercopy_mode(mode);
}
