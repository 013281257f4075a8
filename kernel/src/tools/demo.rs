//! Narrated demos for the console (`demo NAME`): each shows one mechanism
//! step by step, with `trace` on for the moments that matter.
//!
//! | demo      | what it shows                                                  |
//! |-----------|----------------------------------------------------------------|
//! | `wrap`    | kunmap is lazy; the cursor wraps; one flush clears every unused slot |
//! | `preempt` | two tasks use the same kmap_local slot on one CPU, each its own page |
//! | `sleep`   | with all 1024 PKMAP slots taken, kmap sleeps until a kunmap      |
//! | `misuse`  | an out-of-order kunmap_local is caught, named and refused        |

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
const DEMOS: &[(&str, fn())] = &[("wrap", wrap), ("preempt", preempt), ("sleep", sleep), ("misuse", misuse)];

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
    say("The PKMAP pool has 1024 slots. kunmap() is lazy: a released slot keeps its PTE (count 1),");
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
    say("That is the bargain: one global flush per 1024 mappings, paid by whoever wraps.");
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
    say("Taking all 1024 PKMAP slots (and keeping them)...");
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
