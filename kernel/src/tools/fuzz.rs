//! The system-call fuzzer's run (`fuzz=SECONDS`, `./run-qemu.sh fuzz`):
//! the user program `/bin/fuzz` (user/src/bin/fuzz.rs) from the
//! initramfs, then the kernel's own verdict.
//!
//! ```text
//!  fuzz=SECONDS fuzz_seed=S fuzz_procs=P
//!    free pages counted, BUG/WARNING reports counted
//!    /bin/fuzz --seed S --seconds SECONDS --procs P --result /tmp/fuzz.result
//!    wait for it, then for every process it left (none should outlive it:
//!      it SIGKILLs its workers' process groups and reaps them)
//!    read its counts from /tmp/fuzz.result, remove that file and any
//!      scratch directory /tmp/fuzzI the program did not remove, then
//!      every other name that was not there before the run (see `Tree`)
//!    count free pages again
//!  fuzz: calls=N errors=N kernel_bugs=N leaked_pages=N seed=S
//! ```
//!
//! `calls` and `errors` are the program's (errors: calls that returned a
//! negative errno), passed through a file because the program's stdout
//! is the console, which the kernel does not read back. `kernel_bugs` is
//! what the kernel itself reported during the run through
//! [`crate::debug::report_bug`] (its BUG and WARNING reports), plus the
//! answers the program knew to be wrong (`wrong=`, e.g. a number without
//! a call that did not give `-ENOSYS`). An oops or a panic ends the boot
//! instead (the panic handler leaves QEMU with a failure), which
//! `./run-qemu.sh fuzz` reports with the seed and the log's last lines.
//!
//! When pages leaked, each frame that was free before and is not now is
//! named (count, flags, first bytes; the kernel heap's own new pages show
//! too, as lowmem frames full of kernel pointers): see `name_leaked_frames`.
//!
//! `leaked_pages`: free pages before the program started minus free pages
//! after everything it made is gone, less what may honestly stay:
//!
//! * the kernel heap's small-object pages (`KMALLOC.pages_held()`, a
//!   high-water mark: the heap keeps pages it grew into for task
//!   structures, file tables, dentries, and gives them back to nobody);
//! * nothing for the page cache of files that are gone: the program's
//!   files are in its scratch directories, removed before the count, and
//!   so is every name a worker made elsewhere through a relative path
//!   (random bytes of its scratch memory taken as a path, looked up from
//!   its working directory: see [`Tree`]; seed 5's "leaked" page was such
//!   a file's); ramfs holds an initramfs file's pages from unpacking on,
//!   so reading them adds none;
//! * the page-cache pages that files which existed before the run gained
//!   (a relative `hello.txt` written or truncated): the file owns them;
//! * dead tasks' kernel stacks are freed first (`reap_dead_stacks`) and
//!   unused PKMAP slots flushed, so neither counts;
//! * what the kernel allocates once and keeps for the rest of the boot,
//!   taken before the first count ([`take_boot_once_pages`]): the shared
//!   zero page and the vDSO page;
//! * the page directories that CPUs hold lazily ([`lazy_pgd_pages`]): a
//!   CPU keeps a reference on the address space it last loaded until it
//!   loads another (Linux's lazy TLB: the kernel thread's `active_mm`,
//!   `mmgrab`), so when the last processes exit, each CPU they ran on
//!   still holds one exited process's page directory (1 page; 4 with PAE:
//!   the PGD and its 3 preallocated PMDs). That many are held before the
//!   run (0, or a boot task's) and after it (up to one per CPU): the
//!   difference is counted as theirs, not as the run's.
//!
//! No warm-up run: a 1 s run of the fuzzer used to come first and hide
//! "3-4 pages the first file I/O costs". They were the CPUs' lazy page
//! directories (4 on 4 CPUs: frames full of the kernel's PDEs from offset
//! 0xc00), plus any name a worker had made outside its scratch directory;
//! the zero page and the vDSO page are the two the kernel really keeps.
//!
//! The heap's live objects are printed but not judged: `bytes in use`
//! grows by about 100 KiB per 5 s of fuzzing (per forked process, it
//! seems) and does not come back: a suspected leak of kmalloc objects,
//! open.
//!
//! Anything else missing is a leak: the run fails.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::mm::page_alloc;

static SECONDS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(1);
static PROCS: AtomicU64 = AtomicU64::new(4);

crate::early_param!("fuzz", Value, "SECONDS", "run /bin/fuzz (the system-call fuzzer) for SECONDS, print its summary line, and exit", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).filter(|&s| s > 0).ok_or("a number of seconds")?;
    SECONDS.store(s, Ordering::Relaxed);
    Ok(())
});

crate::early_param!("fuzz_seed", Value, "N", "the fuzzer's seed (default 1)", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).ok_or("a number")?;
    SEED.store(s, Ordering::Relaxed);
    Ok(())
});

crate::early_param!("fuzz_procs", Value, "N", "how many fuzzer processes (default 4)", |v| {
    let s = v.and_then(|v| v.parse::<u64>().ok()).filter(|&s| (1..=32).contains(&s)).ok_or("a number from 1 to 32")?;
    PROCS.store(s, Ordering::Relaxed);
    Ok(())
});

static REPLAY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

crate::early_param!("fuzz_replay", Flag, "", "the fuzzer prints every call it makes (fuzz --replay)", |_| {
    REPLAY.store(true, Ordering::Relaxed);
    Ok(())
});

/// `fuzz_kinds=LO-HI`: only those kinds of call (the program's `--kinds`,
/// to narrow down which kind a failure needs).
/// (Kept as LO << 8 | HI + 1, 0 for all: options are parsed before the
/// heap exists.)
static KINDS: AtomicU64 = AtomicU64::new(0);

crate::early_param!("fuzz_kinds", Value, "LO-HI", "the fuzzer draws only the kinds of call LO to HI (of 0-99; fuzz --kinds)", |v| {
    let (lo, hi) = v
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .filter(|&(lo, hi)| lo <= hi && hi <= 99)
        .ok_or("LO-HI of 0-99, e.g. 41-44")?;
    KINDS.store(lo << 8 | (hi + 1), Ordering::Relaxed);
    Ok(())
});

/// Where the program leaves its counts.
const RESULT: &str = "/tmp/fuzz.result";

pub(crate) fn free_pages_total() -> usize {
    page_alloc::zones().map(|z| z.nr_free_pages()).sum()
}

/// Which frames are free now: one bit a pfn, set for every page of every
/// free buddy block (a block's head has `PG_buddy` and its order). Read
/// without the zone locks: a debugging snapshot, exact only while nothing
/// else allocates (true here: every fuzz process is gone).
fn free_frames(bits: &mut [u64]) {
    bits.fill(0);
    for zone in page_alloc::zones() {
        let mut pfn = zone.zone_start_pfn();
        while pfn < zone.zone_end_pfn() {
            let page = page_alloc::pfn_to_page(pfn);
            if page.page_buddy() {
                let n = 1usize << page.page_order();
                for f in pfn..(pfn + n).min(zone.zone_end_pfn()) {
                    if let Some(w) = bits.get_mut(f / 64) {
                        *w |= 1 << (f % 64);
                    }
                }
                pfn += n;
            } else {
                pfn += 1;
            }
        }
    }
}

/// Name the frames that were free before the run and are not now: what a
/// leaked page is (its count, flags, zone, order or private word, kernel
/// address if kmapped, and its first bytes), so that a leak can be traced
/// to its owner. At most `max` of them.
fn name_leaked_frames(before: &[u64], now: &[u64], max: usize) {
    let mut shown = 0;
    for (i, (&b, &n)) in before.iter().zip(now).enumerate() {
        let mut gone = b & !n;
        while gone != 0 && shown < max {
            let pfn = i * 64 + gone.trailing_zeros() as usize;
            gone &= gone - 1;
            let page = page_alloc::pfn_to_page(pfn);
            let v = crate::mm::kmap_local::kmap_local_page(page);
            let mut head = [0u8; 16];
            // SAFETY: v maps the whole page for the copy.
            unsafe { core::ptr::copy_nonoverlapping(v as *const u8, head.as_mut_ptr(), head.len()) };
            crate::mm::kmap_local::kunmap_local(v);
            println!(
                "fuzz: frame pfn {pfn:#x} no longer free: count {}, flags {:?}, private {}, virtual {:#x}, first bytes {head:02x?}",
                page.page_count(), page.flags(), page.page_order(), page.page_virtual()
            );
            shown += 1;
        }
    }
}

/// User processes that have not ended yet (zombies included: a zombie
/// still holds its task structure until it is reaped).
fn live_user_processes() -> usize {
    crate::sched::task::ALL_TASKS
        .lock_irqsave()
        .iter()
        .filter(|t| t.signal.is_user() && t.state() != crate::sched::task::TASK_DEAD)
        .count()
}

/// Remove `path` and everything under it (the scratch directories, if the
/// program did not get to it); how many names were removed.
fn remove_tree(path: &str) -> usize {
    let base = crate::fs::rootfs().base();
    if crate::fs::namei::do_unlinkat(&base, path).is_ok() {
        return 1;
    }
    let Some(dir) = crate::fs::lookup(path) else { return 0 };
    let mut n = 0;
    if dir.is_dir() {
        for e in crate::fs::readdir(&dir) {
            if e.name != "." && e.name != ".." {
                n += remove_tree(&alloc::format!("{path}/{}", e.name));
            }
        }
        if crate::fs::namei::do_rmdir(&base, path).is_ok() {
            n += 1;
        }
    }
    n
}

/// The root filesystem's names, as the fuzzer found them: every path
/// (symlinks not followed) with its inode number, and the page-cache pages
/// of the regular files among them (each inode once: hard links).
///
/// Why the tool needs it: a worker's random pointer (`ptr()`: anywhere in
/// its read-write scratch memory, where earlier calls left path strings and
/// file contents) is a *relative* path made of whatever bytes lie there,
/// say `aaaaaaafuzz scratch file\n`, and a relative path is looked up from
/// the worker's working directory, `/` (or wherever a `chdir` took it):
/// `open(O_CREAT)`, `creat`, `mkdir`, `link`, `symlink`, `rename` then make
/// a name outside the scratch directories, and a `write` or `ftruncate`
/// through it gives that file pages. The kernel is right to keep them: the
/// file exists. Seed 5 (30 s, 4 CPUs) did exactly that, and its one
/// "leaked" page was such a file's (`/aaaaaaafuzz scratch file\n...`, 76
/// bytes, nlink 1): the run then reported `leaked_pages=1` for a page that
/// a file owned.
pub(crate) struct Tree {
    pub names: BTreeMap<String, u32>,
    pub cache_pages: usize,
}

/// Walk the root filesystem (directories named in `only`, if given, are
/// the only ones entered: after the run, a directory the program made is
/// removed whole, not walked).
pub(crate) fn tree(only: Option<&Tree>) -> Tree {
    fn walk(dir: &crate::fs::Inode, path: &str, only: Option<&Tree>, t: &mut Tree, seen: &mut alloc::collections::BTreeSet<u32>) {
        for e in crate::fs::readdir(dir) {
            if e.name == "." || e.name == ".." {
                continue;
            }
            let Ok(inode) = dir.child(&e.name) else { continue };
            let p = alloc::format!("{path}/{}", e.name);
            t.names.insert(p.clone(), inode.ino);
            if let Ok(f) = inode.file()
                && seen.insert(inode.ino)
            {
                t.cache_pages += f.i_mapping.nrpages();
            }
            if inode.is_dir() && only.is_none_or(|b| b.names.get(&p) == Some(&inode.ino)) {
                walk(&inode, &p, only, t, seen);
            }
        }
    }
    let mut t = Tree { names: BTreeMap::new(), cache_pages: 0 };
    if let Some(root) = crate::fs::lookup("/") {
        walk(&root, "", only, &mut t, &mut alloc::collections::BTreeSet::new());
    }
    t
}

/// Remove every name that is not in `before`, or names another inode
/// than it did (a `rename` over it), whole if a directory, naming the
/// first few; how many names were removed.
pub(crate) fn remove_new_names(before: &Tree) -> usize {
    let now = tree(Some(before));
    let mut n = 0;
    for (path, _) in now.names.iter().filter(|(p, ino)| before.names.get(*p) != Some(*ino)) {
        let removed = remove_tree(path);
        if removed > 0 && n < 4 {
            println!("fuzz: removed {path:?} ({removed} name(s)), made outside the scratch directories through a relative path");
        }
        n += removed;
    }
    n
}

/// Allocate now what the kernel allocates the first time it is needed and
/// keeps for the rest of the boot, so that the run's counts do not see it:
/// the shared zero page (`my_zero_pfn`, Linux's `empty_zero_page`, which
/// is static there) and the vDSO page (made at the first exec, "never
/// freed"), the latter by setting up a throwaway address space the way
/// exec does (`arch_setup_additional_pages`): the address space and its
/// mapping go again, the page stays.
pub(crate) fn take_boot_once_pages() {
    crate::mm::memory::my_zero_pfn();
    if let Some(mm) = crate::mm::mm_types::MmStruct::new()
        && !crate::arch::entry::vdso::arch_setup_additional_pages(&mm)
    {
        println!("fuzz: no memory for the vDSO page before the run");
    }
}

/// Pages of the page directories that CPUs hold in lazy TLB mode: every
/// distinct address space some CPU has loaded (after the run, each is an
/// exited process's: its user pages and page tables are gone, its page
/// directory goes when that CPU next loads another address space; see
/// `arch/x86/mm/tlb.rs`). One page each, or with PAE the PGD and its
/// `PREALLOCATED_PMDS` (`pgd_alloc`). Only the pointers are compared,
/// never followed.
pub(crate) fn lazy_pgd_pages() -> usize {
    let mut held: Vec<*const crate::mm::mm_types::MmCore> = Vec::new();
    for cpu in 0..mm::layout::NR_CPUS {
        let p = crate::arch::tlb::loaded_mm(cpu);
        if !p.is_null() && !held.contains(&p) {
            held.push(p);
        }
    }
    held.len() * (1 + mm::layout::PREALLOCATED_PMDS)
}

/// What the leak count compares, taken before the run and after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    /// Free pages in every zone.
    pub free: usize,
    /// Pages the kernel heap holds (`KMALLOC.pages_held()`).
    pub heap: usize,
    /// Page-cache pages of the files in the root filesystem's tree: what
    /// files that existed before the run gained (a relative `hello.txt`
    /// written) is theirs, not a leak.
    pub cache: usize,
    /// Pages of page directories CPUs hold lazily ([`lazy_pgd_pages`]).
    pub lazy: usize,
}

impl Snapshot {
    /// Now; `tree` is the root filesystem's tree as just walked.
    pub(crate) fn take(tree: &Tree) -> Snapshot {
        Snapshot { free: free_pages_total(), heap: crate::mm::heap::KMALLOC.pages_held(), cache: tree.cache_pages, lazy: lazy_pgd_pages() }
    }

    /// Pages that went from the free lists between `before` and `self`
    /// that no owner named above accounts for: the leak.
    pub(crate) fn leaked_since(&self, before: &Snapshot) -> usize {
        let taken = before.free as isize - self.free as isize;
        let owned = (self.heap as isize - before.heap as isize).max(0) // a high-water mark
            + (self.cache as isize - before.cache as isize)
            + (self.lazy as isize - before.lazy as isize);
        (taken - owned).max(0) as usize
    }
}

/// `key=N` in `text`.
fn field(text: &str, key: &str) -> Option<u64> {
    text.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Run the fuzzer if the command line asked for it (never returns then).
pub fn run_if_requested() {
    match SECONDS.load(Ordering::Relaxed) {
        0 => {}
        seconds => run(seconds, SEED.load(Ordering::Relaxed), PROCS.load(Ordering::Relaxed) as usize),
    }
}

/// Run `/bin/fuzz`, print the summary line, leave QEMU (success only with
/// no kernel bug, no leak and the program's counts read).
pub fn run(seconds: u64, seed: u64, procs: usize) -> ! {
    use crate::arch::qemu::{QemuExitCode, exit_qemu};
    println!("fuzz: /bin/fuzz for {seconds} s, seed {seed}, {procs} processes, on {} CPU(s)", crate::smp::num_online_cpus());
    take_boot_once_pages();
    // A task that ended before us (a boot task's) frees its kernel stack
    // once it is off its CPU for good: let it get there, or the count
    // below misses those pages and they come back later, hiding as many
    // leaked ones.
    crate::sched::msleep(50);
    crate::sched::task::reap_dead_stacks();
    crate::mm::kmap::kmap_flush_unused();
    // The free frames now and after, to name a leaked one (allocated before
    // the counts, so that they do not count).
    let max_pfn = page_alloc::zones().map(|z| z.zone_end_pfn()).max().unwrap_or(0);
    let (mut free_before, mut free_after) = (alloc::vec![0u64; max_pfn.div_ceil(64)], alloc::vec![0u64; max_pfn.div_ceil(64)]);
    free_frames(&mut free_before);
    let tree_before = tree(None);
    let before = Snapshot::take(&tree_before);
    let heap_bytes_before = crate::mm::heap::KMALLOC.bytes_in_use();
    let vmalloc_before = crate::mm::vmalloc::vmalloc_info();
    let bugs_before = crate::debug::report_count();

    let mut argv: Vec<Vec<u8>> = [
        "/bin/fuzz", "--seed", &alloc::format!("{seed}"), "--seconds", &alloc::format!("{seconds}"),
        "--procs", &alloc::format!("{procs}"), "--result", RESULT,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    if REPLAY.load(Ordering::Relaxed) {
        argv.push(b"--replay".to_vec());
    }
    let kinds = KINDS.load(Ordering::Relaxed);
    if kinds != 0 {
        argv.push(b"--kinds".to_vec());
        argv.push(alloc::format!("{}-{}", kinds >> 8, (kinds & 0xff) - 1).into_bytes());
    }
    let status = crate::fs::exec::spawn_user("/bin/fuzz", argv, Vec::new()).join();

    // Every process it made must be gone; allow the last SIGKILLed ones a
    // moment to finish dying.
    let mut left = live_user_processes();
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        crate::sched::msleep(100);
        left = live_user_processes();
    }

    let result = crate::fs::lookup(RESULT).map(|inode| {
        let mut bytes = alloc::vec![0u8; crate::fs::size(&inode).min(4096)];
        let n = crate::fs::read_at(&inode, 0, &mut bytes);
        bytes.truncate(n);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let _ = crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), RESULT);
    let mut leftovers = remove_tree("/tmp/fuzz.shm");
    for i in 0..procs {
        leftovers += remove_tree(&alloc::format!("/tmp/fuzz{i}"));
    }
    let outside = remove_new_names(&tree_before);

    crate::sched::msleep(50);
    crate::sched::task::reap_dead_stacks();
    crate::mm::kmap::kmap_flush_unused();
    let after = Snapshot::take(&tree(Some(&tree_before)));
    let leaked = after.leaked_since(&before);
    if leaked > 0 {
        free_frames(&mut free_after);
        name_leaked_frames(&free_before, &free_after, 16);
    }
    let reported = crate::debug::report_count() - bugs_before;
    let vmalloc_after = crate::mm::vmalloc::vmalloc_info();

    let text = result.as_deref().unwrap_or("");
    let (calls, errors, wrong) = (field(text, "calls"), field(text, "errors"), field(text, "wrong"));
    let kernel_bugs = reported as u64 + wrong.unwrap_or(0);
    println!(
        "fuzz: program exit status {status:#x}, {left} process(es) left, {leftovers} scratch name(s) the program left, {outside} name(s) outside them, files' pages {} -> {}, lazily held page directories' pages {} -> {}, \
         {reported} kernel report(s), {} wrong answer(s), heap grew {} page(s) (bytes in use {heap_bytes_before} -> {}), vmalloc areas {} -> {} ({} -> {} bytes), stuck workers {}",
        before.cache, after.cache, before.lazy, after.lazy,
        wrong.map_or(String::from("?"), |w| alloc::format!("{w}")),
        after.heap.saturating_sub(before.heap),
        crate::mm::heap::KMALLOC.bytes_in_use(),
        vmalloc_before.nr_areas, vmalloc_after.nr_areas, vmalloc_before.used_bytes, vmalloc_after.used_bytes,
        field(text, "stuck").map_or(String::from("?"), |w| alloc::format!("{w}")),
    );
    println!(
        "fuzz: calls={} errors={} kernel_bugs={kernel_bugs} leaked_pages={leaked} seed={seed}",
        calls.map_or(String::from("?"), |c| alloc::format!("{c}")),
        errors.map_or(String::from("?"), |c| alloc::format!("{c}")),
    );
    let ok = calls.is_some() && kernel_bugs == 0 && leaked == 0 && left == 0 && status == 0;
    exit_qemu(if ok { QemuExitCode::Success } else { QemuExitCode::Failed })
}
