//! The system-call fuzzer's run (`fuzz=SECONDS`, `./run-qemu.sh fuzz`):
//! the user program `/bin/fuzz` (user/src/bin/fuzz.rs) from the
//! initramfs, then the kernel's own verdict.
//!
//! ```text
//!  fuzz=SECONDS fuzz_seed=S fuzz_procs=P
//!    free pages counted, BUG/WARNING reports counted
//!    /bin/fuzz --seed S --seconds SECONDS --procs P --result /tmp/fuzz.result
//!      --secret PATTERN --secret-at LOW,HIGH --as-init (its first process
//!      the global init for the run: the workers signal it too)
//!    wait for it, then for every process it left (none should outlive it:
//!      it SIGKILLs its workers' process groups and reaps them)
//!    read its counts from /tmp/fuzz.result, remove that file and any
//!      scratch directory /tmp/fuzzI the program did not remove, then
//!      every other name that was not there before the run (see `Tree`)
//!    count free pages again
//!  fuzz: calls=N errors=N kernel_bugs=N leaked_pages=N seed=S
//! ```
//!
//! A secret (see [`Secret`]) sits in a lowmem page and a kmapped highmem
//! page for the whole run; the program aims pointers at both and reads
//! everything the kernel hands back for it; afterwards the files the
//! workers wrote are read for it and both pages must be unchanged. A copy
//! found anywhere is a kernel bug.
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
//! * the kernel heap's slab pages (`KMALLOC.slab_pages()`, a high-water
//!   mark: the heap keeps pages it carved into small objects for task
//!   structures, file tables, dentries, and gives them back to nobody);
//!   not its large allocations (a page or more each), which go back when
//!   freed: one still live is held by somebody, and counts as leaked;
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
//! * nothing for the page directories that CPUs hold lazily: a CPU keeps
//!   a reference on the address space it last loaded until it loads
//!   another (Linux's lazy TLB: the kernel thread's `active_mm`,
//!   `mmgrab`), so when the last processes exit, each CPU they ran on
//!   still holds one exited process's page directory (1 page; 4 with PAE:
//!   the PGD and its 3 preallocated PMDs). Before each count every CPU
//!   leaves lazy mode for `swapper_pg_dir` ([`drop_lazy_mms`], Linux's
//!   `leave_mm`), so neither count has any.
//!
//! No warm-up run: a 1 s run of the fuzzer used to come first and hide
//! "3-4 pages the first file I/O costs". They were the CPUs' lazy page
//! directories (4 on 4 CPUs: frames full of the kernel's PDEs from offset
//! 0xc00), plus any name a worker had made outside its scratch directory;
//! the zero page and the vDSO page are the two the kernel really keeps.
//!
//! The heap's live small objects are printed but not judged: `bytes in
//! use` ends a few hundred bytes to 5 KiB off its start after 5-20 s
//! runs, up or down (objects a run leaves in caches that keep their
//! capacity, e.g. a directory's entry vector), so no exact count can be
//! asked of it.
//!
//! Anything else missing is a leak: the run fails.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

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

/// `fuzz_fault=P`: fault injection on for the fuzz processes, at P
/// percent (0: off, the default here; `./run-qemu.sh fuzz` gives 1).
static FAULT_PERCENT: AtomicU64 = AtomicU64::new(0);

crate::early_param!("fuzz_fault", Value, "PERCENT", "fault injection for the fuzzer's processes: fail_page_alloc and failslab fail PERCENT of their allocations (0-100; 0: off)", |v| {
    FAULT_PERCENT.store(parse_percent(v)?, Ordering::Relaxed);
    Ok(())
});

/// The value of `fuzz_fault=` and `soak_fault=`: a percentage, 0-100.
pub(crate) fn parse_percent(v: Option<&str>) -> Result<u64, &'static str> {
    v.and_then(|v| v.parse::<u64>().ok()).filter(|&p| p <= 100).ok_or("a percentage from 0 to 100")
}

/// Mark the calling task for fault injection (`make_it_fail`, which fork
/// copies to its children, as Linux's `dup_task_struct`): called once
/// its exec has succeeded, so that the exec itself is spared.
pub(crate) fn mark_for_fault_injection() {
    crate::sched::current().make_it_fail.store(true, Ordering::Relaxed);
}

/// Fault injection for the run, as a tester sets Linux's debugfs files
/// before starting a fuzzer: both attributes at `percent`, every call
/// eligible (interval 1, no `times` limit, no `space`), silent
/// (`verbose` 0: thousands of forced failures would bury the log),
/// and `task-filter` on, so that only tasks with `make_it_fail` fail:
/// the fuzz program and its children (fork inherits the flag), set once
/// its exec has succeeded ([`crate::fs::exec::spawn_user_started`]).
/// The knobs open everything Linux's defaults spare: single pages
/// (`min-order` 0), highmem pages (user memory, page tables, the page
/// cache) and sleeping allocations (both attributes' `ignore-gfp-wait`).
/// `percent` 0 turns both off again.
pub fn set_fault_injection(percent: u64) -> Result<(), &'static str> {
    use crate::mm::fault_inject::{set_knob, setup};
    let p = alloc::format!("{percent}");
    for name in ["fail_page_alloc", "failslab"] {
        setup(name, &alloc::format!("1,{p},0,-1"))?;
        set_knob(name, "verbose", "0")?;
        set_knob(name, "task-filter", "1")?;
    }
    let open = if percent > 0 { "0" } else { "1" };
    set_knob("fail_page_alloc", "min-order", if percent > 0 { "0" } else { "1" })?;
    set_knob("fail_page_alloc", "ignore-gfp-highmem", open)?;
    set_knob("fail_page_alloc", "ignore-gfp-wait", open)?;
    // The heap's fallible sites are GFP_KERNEL (they may sleep): spared
    // too by failslab's default. Rust's infallible allocations stay
    // spared whatever this says (__GFP_NOFAIL, mm/heap.rs).
    set_knob("failslab", "ignore-gfp-wait", open)
}

/// Issue 13's secret for the run: a lowmem page (at its direct-map
/// address) and a highmem page kmapped at a PKMAP slot that stays live
/// while the program runs (lowmem too on a machine without highmem),
/// both filled with an 8-byte pattern drawn at boot, never printed. The
/// program gets the pattern and both addresses
/// (`--secret PATTERN --secret-at LOW,HIGH`): its pointers reach into both
/// pages in every kind of call, and after every call it reads its scratch
/// memory for a copy (user/src/bin/fuzz.rs, `Secret`). Here, afterwards:
/// the files the workers wrote are read for a copy, and both pages must
/// be unchanged (no call wrote to a kernel address).
struct Secret {
    low: &'static mm::page::Page,
    high: &'static mm::page::Page,
    low_v: usize,
    high_v: usize,
    pattern: [u8; 8],
}

impl Secret {
    fn plant() -> Option<Secret> {
        use crate::mm::page_alloc::{alloc_pages, page_address};
        let low = alloc_pages(mm::gfp::GFP_KERNEL, 0)?;
        let Some(high) = alloc_pages(mm::gfp::GFP_HIGHUSER, 0) else {
            crate::mm::page_alloc::__free_pages(low, 0);
            return None;
        };
        // Printable, so that a copy that reaches the console shows too.
        let r = crate::random::get_random_u64().to_le_bytes();
        let pattern = r.map(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[usize::from(b % 64)]);
        let (low_v, high_v) = (page_address(low)?, crate::mm::kmap::kmap(high));
        let secret = Secret { low, high, low_v, high_v, pattern };
        for v in [low_v, high_v] {
            for off in (0..mm::layout::PAGE_SIZE).step_by(8) {
                // SAFETY: v maps the whole page, which is ours.
                unsafe { ((v + off) as *mut [u8; 8]).write(pattern) };
            }
        }
        Some(secret)
    }

    /// Both pages still hold nothing but the pattern.
    fn intact(&self) -> bool {
        [self.low_v, self.high_v].iter().all(|&v| {
            (0..mm::layout::PAGE_SIZE).step_by(8).all(|off| {
                // SAFETY: as in plant; the pages are still ours and mapped.
                unsafe { ((v + off) as *const [u8; 8]).read() == self.pattern }
            })
        })
    }

    /// Does `bytes` (read from a file offset that is a multiple of 8)
    /// hold a copy of 15 bytes or more of a secret page: an aligned word
    /// that is a byte rotation of the pattern?
    fn found_in(&self, bytes: &[u8]) -> bool {
        let word = u64::from_le_bytes(self.pattern);
        bytes.chunks_exact(8).any(|c| {
            let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
            (0..8).any(|k| w == word.rotate_right(8 * k))
        })
    }

    /// Regular files in the tree under directory `dir` (named `path`;
    /// symlinks not followed) holding a copy.
    fn files_holding_it(&self, dir: &crate::fs::Inode, path: &str) -> usize {
        let mut n = 0;
        walk_tree(dir, path, &mut |p, inode| {
            if !inode.is_dir() && inode.file().is_ok() && self.file_holds_it(inode, p) {
                n += 1;
            }
            inode.is_dir()
        });
        n
    }

    fn file_holds_it(&self, inode: &crate::fs::Inode, path: &str) -> bool {
        let mut buf = alloc::vec![0u8; 4096];
        let mut off = 0;
        while off < crate::fs::size(inode).min(64 << 20) {
            let n = crate::fs::read_at(inode, off, &mut buf);
            if n == 0 {
                break;
            }
            if self.found_in(&buf[..n]) {
                println!("fuzz: the kernel's secret is in {path} near offset {off}");
                return true;
            }
            off += n;
        }
        false
    }

    fn remove(self) {
        crate::mm::kmap::kunmap(self.high);
        crate::mm::page_alloc::__free_pages(self.high, 0);
        crate::mm::page_alloc::__free_pages(self.low, 0);
    }
}

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

/// Name the frames that were free before the run and are not now, but
/// for the heap's new slab pages (`PG_slab`): what a leaked page is (its
/// count, flags, order or private word, kernel address if kmapped, and
/// where its contents start), so that a leak can be traced to its owner. At most `max` of them.
fn name_leaked_frames(before: &[u64], now: &[u64], max: usize) {
    let mut shown = 0;
    for (i, (&b, &n)) in before.iter().zip(now).enumerate() {
        let mut gone = b & !n;
        while gone != 0 && shown < max {
            let pfn = i * 64 + gone.trailing_zeros() as usize;
            gone &= gone - 1;
            let page = page_alloc::pfn_to_page(pfn);
            if page.flags().contains(mm::page::PageFlags::PG_slab) {
                // The heap's new slab pages: excused (see `leaked_pages`).
                continue;
            }
            let v = crate::mm::kmap_local::kmap_local_page(page);
            let mut bytes = alloc::vec![0u8; mm::layout::PAGE_SIZE];
            // SAFETY: v maps the whole page for the copy.
            unsafe { core::ptr::copy_nonoverlapping(v as *const u8, bytes.as_mut_ptr(), bytes.len()) };
            crate::mm::kmap_local::kunmap_local(v);
            // Where its contents start, and how much there is: a page
            // directory has its kernel half's entries from offset 3072 (686)
            // and nothing below its user mappings; a kernel stack fills
            // from the top.
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
            let nonzero = bytes.iter().filter(|&&b| b != 0).count();
            let at = first.min(bytes.len() - 16);
            println!(
                "fuzz: frame pfn {pfn:#x} no longer free: count {}, flags {:?}, private {}, virtual {:#x}, {nonzero} nonzero byte(s), the first at {first}: {:02x?}",
                page.page_count(), page.flags(), page.page_order(), page.page_virtual(), &bytes[at..at + 16]
            );
            shown += 1;
        }
    }
}

/// Make every online CPU let go of the page directory it borrows in lazy
/// TLB mode ([`crate::arch::tlb::leave_mm`]), by running a short kernel
/// thread pinned to each: before a free-page count, so that the page
/// directories of the last processes the CPUs ran do not count as taken.
/// The CPU that calls it is lazy too (this is a kernel thread).
pub fn drop_lazy_mms() {
    let handles: Vec<_> = (0..mm::layout::NR_CPUS)
        .filter(|&cpu| crate::smp::cpu_online_mask() & (1 << cpu) != 0)
        .map(|cpu| {
            crate::sched::spawn_on(cpu, "leave_mm", || {
                let flags = crate::arch::cpu::local_irq_save();
                let borrowed = crate::arch::tlb::leave_mm();
                crate::arch::cpu::local_irq_restore(flags);
                drop(borrowed);
            })
        })
        .collect();
    for h in handles {
        h.join();
    }
}

/// User processes that have not ended yet (zombies included: a zombie
/// still holds its task structure until it is reaped).
pub fn live_user_processes() -> usize {
    crate::sched::task::ALL_TASKS
        .lock_irqsave()
        .iter()
        .filter(|t| t.signal.is_user() && t.state() != crate::sched::task::TASK_DEAD)
        .count()
}

/// Remove `path` and everything under it (the scratch directories, if the
/// program did not get to it); how many names were removed.
pub fn remove_tree(path: &str) -> usize {
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

/// Failures forced so far by (`fail_page_alloc`, `failslab`).
pub fn fault_injection_forced() -> (usize, usize) {
    use crate::mm::fault_inject::{FAIL_PAGE_ALLOC, FAILSLAB};
    (FAIL_PAGE_ALLOC.attr.failed.load(Ordering::Relaxed), FAILSLAB.attr.failed.load(Ordering::Relaxed))
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
    let mut t = Tree { names: BTreeMap::new(), cache_pages: 0 };
    let mut seen = alloc::collections::BTreeSet::new();
    if let Some(root) = crate::fs::lookup("/") {
        walk_tree(&root, "", &mut |p, inode| {
            t.names.insert(p.into(), inode.ino);
            if let Ok(f) = inode.file()
                && seen.insert(inode.ino)
            {
                t.cache_pages += f.i_mapping.nrpages();
            }
            inode.is_dir() && only.is_none_or(|b| b.names.get(p) == Some(&inode.ino))
        });
    }
    t
}

/// Call `visit(path, inode)` for every name under `dir` (whose path is
/// `path`), depth first, going into a directory when `visit` says so.
fn walk_tree(dir: &crate::fs::Inode, path: &str, visit: &mut dyn FnMut(&str, &crate::fs::Inode) -> bool) {
    for e in crate::fs::readdir(dir) {
        if e.name == "." || e.name == ".." {
            continue;
        }
        let Ok(inode) = dir.child(&e.name) else { continue };
        let p = alloc::format!("{path}/{}", e.name);
        if visit(&p, &inode) {
            walk_tree(&inode, &p, visit);
        }
    }
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

/// What the leak count compares, taken before the run and after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    /// Free pages in every zone.
    pub free: usize,
    /// The kernel heap's slab pages (`KMALLOC.slab_pages()`).
    pub heap: usize,
    /// Page-cache pages of the files in the root filesystem's tree: what
    /// files that existed before the run gained (a relative `hello.txt`
    /// written) is theirs, not a leak.
    pub cache: usize,
}

impl Snapshot {
    /// Now; `tree` is the root filesystem's tree as just walked.
    pub(crate) fn take(tree: &Tree) -> Snapshot {
        Snapshot { free: free_pages_total(), heap: crate::mm::heap::KMALLOC.slab_pages(), cache: tree.cache_pages }
    }

    /// Pages that went from the free lists between `before` and `self`
    /// that no owner named above accounts for: the leak.
    pub(crate) fn leaked_since(&self, before: &Snapshot) -> usize {
        let taken = before.free as isize - self.free as isize;
        let owned = (self.heap as isize - before.heap as isize).max(0) // a high-water mark
            + (self.cache as isize - before.cache as isize);
        (taken - owned).max(0) as usize
    }
}

/// Before a count: every CPU leaves lazy TLB mode ([`drop_lazy_mms`]),
/// an ended task's kernel stack (freed once the task is off its CPU for
/// good) is given back, unused PKMAP slots are flushed. Otherwise the
/// count misses pages that come back later, hiding as many leaked ones.
pub fn settle() {
    drop_lazy_mms();
    crate::sched::msleep(50);
    crate::sched::task::reap_dead_stacks();
    crate::mm::kmap::kmap_flush_unused();
}

/// A leak count, as [`run`] and the soak (tools/soak.rs) take it: before
/// the run ([`FreeCount::now`]) and after everything it made is gone
/// ([`FreeCount::leaked`]); see the top of this file for what may
/// honestly stay.
pub struct FreeCount {
    tree: Tree,
    before: Snapshot,
    /// The free frames before and after, to name a leaked one (allocated
    /// before the count, so that they do not count).
    free_before: Vec<u64>,
    free_after: Vec<u64>,
}

/// What [`FreeCount::leaked`] found.
pub struct Leak {
    /// Pages missing that no owner accounts for.
    pub pages: usize,
    /// Slab pages the heap grew into (kept, not a leak).
    pub heap_grew: usize,
    /// Names made outside the scratch directories, removed.
    pub outside: usize,
    /// Page-cache pages of the files in the tree, before and after.
    pub cache: (usize, usize),
}

impl FreeCount {
    /// Take what the kernel keeps once allocated, settle, count.
    pub fn now() -> FreeCount {
        take_boot_once_pages();
        settle();
        let max_pfn = page_alloc::zones().map(|z| z.zone_end_pfn()).max().unwrap_or(0);
        let (mut free_before, free_after) = (alloc::vec![0u64; max_pfn.div_ceil(64)], alloc::vec![0u64; max_pfn.div_ceil(64)]);
        free_frames(&mut free_before);
        let tree = tree(None);
        let before = Snapshot::take(&tree);
        FreeCount { tree, before, free_before, free_after }
    }

    /// Once every process of the run is gone: remove the names it made
    /// outside the scratch directories (the caller removes those), settle,
    /// count again, and name each leaked frame. `kept`: pages the caller
    /// knows an owner of (allocated during the run and kept on purpose).
    pub fn leaked(&mut self, kept: usize) -> Leak {
        let outside = remove_new_names(&self.tree);
        settle();
        let after = Snapshot::take(&tree(Some(&self.tree)));
        let pages = after.leaked_since(&self.before).saturating_sub(kept);
        if pages > 0 {
            free_frames(&mut self.free_after);
            name_leaked_frames(&self.free_before, &self.free_after, 16);
        }
        Leak { pages, heap_grew: after.heap.saturating_sub(self.before.heap), outside, cache: (self.before.cache, after.cache) }
    }
}

/// `key=N` in `text`.
pub fn field(text: &str, key: &str) -> Option<u64> {
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
    let mut count = FreeCount::now();
    let heap_bytes_before = crate::mm::heap::KMALLOC.bytes_in_use();
    let vmalloc_before = crate::mm::vmalloc::vmalloc_info();
    let bugs_before = crate::debug::report_count();
    // After the counts before, freed after the counts after: the secret's
    // two pages count in neither.
    let secret = Secret::plant();

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
    match &secret {
        Some(s) => {
            argv.extend([b"--secret".to_vec(), s.pattern.to_vec(), b"--secret-at".to_vec()]);
            argv.push(alloc::format!("{:#x},{:#x}", s.low_v, s.high_v).into_bytes());
            println!("fuzz: a secret planted at {:#x} (lowmem) and {:#x} (kmapped highmem)", s.low_v, s.high_v);
        }
        None => println!("fuzz: no page for the secret: the run goes without"),
    }
    let kinds = KINDS.load(Ordering::Relaxed);
    if kinds != 0 {
        argv.push(b"--kinds".to_vec());
        argv.push(alloc::format!("{}-{}", kinds >> 8, (kinds & 0xff) - 1).into_bytes());
    }
    let percent = FAULT_PERCENT.load(Ordering::Relaxed);
    let forced_before = fault_injection_forced();
    if percent > 0 {
        if let Err(e) = set_fault_injection(percent) {
            println!("fuzz: fault injection could not be set: {e}");
        } else {
            println!("fuzz: fault injection on for the fuzz processes: fail_page_alloc and failslab at {percent}%");
        }
    }
    // The program's first process is the global init for the run, so
    // that its workers' signals reach an init (`--as-init`), which must
    // live through them; init is put back after.
    argv.push(b"--as-init".to_vec());
    let init_before = crate::init::GLOBAL_INIT_PID.load(Ordering::SeqCst);
    let status = crate::fs::exec::spawn_user_started("/bin/fuzz", argv, Vec::new(), move || {
        let me = crate::sched::current();
        crate::init::GLOBAL_INIT_PID.store(me.id(), Ordering::SeqCst);
        if percent > 0 {
            mark_for_fault_injection();
        }
    })
    .join();
    crate::init::GLOBAL_INIT_PID.store(init_before, Ordering::SeqCst);

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

    // Off again before the kernel's own clean-up and counts below.
    if percent > 0 {
        let _ = set_fault_injection(0);
        let (pages, slab) = fault_injection_forced();
        println!(
            "fuzz: fault injection forced {} page allocation failure(s) and {} heap allocation failure(s)",
            pages - forced_before.0,
            slab - forced_before.1
        );
    }

    let result = read_file(RESULT).map(|b| String::from_utf8_lossy(&b).into_owned());
    let _ = crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), RESULT);
    // The secret: in no file the workers wrote, and unchanged.
    let mut secret_seen = 0;
    if let Some(s) = &secret {
        // Every file: the scratch ones and any a worker made or changed
        // elsewhere through a relative path.
        if let Some(root) = crate::fs::lookup("/") {
            secret_seen += s.files_holding_it(&root, "");
        }
        if !s.intact() {
            println!("fuzz: WRONG: the kernel's secret pages were written to");
            secret_seen += 1;
        }
    }
    let mut leftovers = remove_tree("/tmp/fuzz.shm");
    for i in 0..procs {
        leftovers += remove_tree(&alloc::format!("/tmp/fuzz{i}"));
    }
    if let Some(s) = secret {
        // Named only now, so that the host can read the whole console
        // output before this line for it (the runner's fuzz checks).
        println!("fuzz: the secret's pattern was {}", core::str::from_utf8(&s.pattern).unwrap_or("?"));
        s.remove();
    }
    let leak = count.leaked(0);
    let (leaked, outside) = (leak.pages, leak.outside);
    let reported = crate::debug::report_count() - bugs_before;
    let vmalloc_after = crate::mm::vmalloc::vmalloc_info();

    let text = result.as_deref().unwrap_or("");
    let (calls, errors, wrong) = (field(text, "calls"), field(text, "errors"), field(text, "wrong"));
    let kernel_bugs = reported as u64 + wrong.unwrap_or(0) + secret_seen as u64;
    println!(
        "fuzz: program exit status {status:#x}, {left} process(es) left, {leftovers} scratch name(s) the program left, {outside} name(s) outside them, files' pages {} -> {}, \
         {reported} kernel report(s), {} wrong answer(s), {secret_seen} copy(ies) of the secret in files or pages written, heap grew {} page(s) (bytes in use {heap_bytes_before} -> {}), vmalloc areas {} -> {} ({} -> {} bytes), stuck workers {}",
        leak.cache.0, leak.cache.1,
        wrong.map_or(String::from("?"), |w| alloc::format!("{w}")),
        leak.heap_grew,
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

/// The first 4 KiB of a small file (a program's result or stat file), or
/// None if there is no such file (also the soak's).
pub(crate) fn read_file(path: &str) -> Option<alloc::vec::Vec<u8>> {
    let inode = crate::fs::lookup(path)?;
    let mut bytes = alloc::vec![0u8; crate::fs::size(&inode).min(4096)];
    let n = crate::fs::read_at(&inode, 0, &mut bytes);
    bytes.truncate(n);
    Some(bytes)
}
