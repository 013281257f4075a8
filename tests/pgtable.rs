//! The 686-pae flavour's 64-bit entries, written by one CPU in 32-bit
//! halves and read by another at the same time (issue 12, cases P8-P10 of
//! `linux-highmem-consumers.md` section 8 (b)).
//!
//! `mm::pgtable_3level` model-checks the write orders on the host; here the
//! kernel's own [`set_pte`], [`pte_clear`], [`ptep_get_and_clear`] and
//! [`set_pmd`] (`arch::paging`, which runs that code on a real entry) race
//! a reader on a second CPU, on real hardware threads (QEMU's TCG with
//! `thread=multi` runs each vCPU in its own host thread):
//!
//! ```text
//!   CPU 0 (writer)                          CPU 1 (reader)
//!   set_pte(A)   high, wmb, low             loop: read the entry as the
//!   pte_clear    low, wmb, high                   MMU does (8 bytes at once)
//!   set_pte(B)                                    present, not A, not B?
//!   ptep_get_and_clear(B)  cmpxchg8b              -> a mixed frame
//! ```
//!
//! # Where the entry is, and why its frames may be only numbers
//!
//! The entry is in a page-table page of its own (a zeroed lowmem page),
//! linked from no PMD, so no CR3 of any CPU reaches it: no MMU ever walks
//! it, and no TLB can hold what it maps. That is what lets a test change
//! it millions of times a second with no TLB flush, and what makes its
//! frame numbers only data: what is tested is what a *reader of the entry*
//! sees, read as the MMU reads it (64 bits at once). The two frames differ in both words: one below
//! 4 GiB (high word 0) and one above (high word 1 or 2). On a machine
//! with RAM above 4 GiB that is RAM's last frame, a value a real mapping
//! there holds; without such RAM (`-m 3G`) a frame at 9 GiB, the same
//! shape (the entry is never walked, so it maps nothing either way).
//!
//! # Negative controls
//!
//! Each positive test has a twin that writes the entry the wrong way, with
//! [`Entry64`]'s 32-bit stores, in the test only (low word first on a set,
//! a read then a clear in place of the exchange, a PMD replaced in two
//! halves). The twin must see the damage within its bounded run: proof
//! that the reader and the loop can see a torn entry at all, so the
//! positive test's zero is not the zero of a reader that never looks.
//!
//! On the 686 flavour an entry is 32 bits, written in one store: nothing
//! to tear, and the tests skip (`needs the 686-pae flavour`).

#[cfg(feature = "pae")]
use crate::arch::paging::{Entry64, pmd_clear, ptep_get_and_clear, ptep_get_lockless, pte_clear, set_pmd, set_pte};
use crate::test_case;
use crate::tools::ktest::{Test, require_cpus};

pub const TESTS: &[Test] = &[
    test_case!(a_reader_on_another_cpu_never_sees_set_pte_and_pte_clear_mix_two_frames),
    test_case!(a_set_pte_writing_the_low_word_first_is_seen_torn_by_the_reader),
    test_case!(ptep_get_and_clear_returns_the_dirty_bit_another_cpu_sets_meanwhile),
    test_case!(a_read_then_pte_clear_loses_a_dirty_bit_another_cpu_sets_meanwhile),
    test_case!(set_pmd_of_a_pte_page_above_4_gib_is_seen_whole_by_a_reader_on_another_cpu),
    test_case!(a_set_pmd_in_two_halves_is_seen_torn_by_the_reader),
];

/// Skip on the 686 flavour: its entries are 32 bits, one store each.
fn require_pae() {
    if !cfg!(feature = "pae") {
        crate::tools::ktest::skip(format_args!(
            "needs the 686-pae flavour: a 686 entry is 32 bits, written in one store (./run-qemu.sh --pae test)"
        ));
    }
}

/// P8: CPU 0 sets and clears an entry with the kernel's `set_pte` (high,
/// barrier, low), `pte_clear` (low, barrier, high) and
/// `ptep_get_and_clear` (one `cmpxchg8b`), alternating between a frame
/// above 4 GiB and one below; CPU 1 reads it 8 bytes at once, as the MMU does
/// meanwhile. Every present entry the reader sees is one of the two
/// written, and it saw each (and the empty entry) many times.
fn a_reader_on_another_cpu_never_sees_set_pte_and_pte_clear_mix_two_frames() {
    require_pae();
    require_cpus(2);
    #[cfg(feature = "pae")]
    pae::set_and_clear(pae::SetOrder::Kernel);
}

/// The negative control of P8: the same loop, but the set writes the low
/// word (with the present bit) first, then the high word. The reader must
/// see, within the run, a present entry with the low word of the frame
/// above 4 GiB and the high word 0 (left by the clear): a frame below
/// 4 GiB nobody mapped.
fn a_set_pte_writing_the_low_word_first_is_seen_torn_by_the_reader() {
    require_pae();
    require_cpus(2);
    #[cfg(feature = "pae")]
    pae::set_and_clear(pae::SetOrder::LowFirst);
}

/// P9: CPU 1 plays another CPU's MMU writing through the mapping: it sets
/// Dirty in the entry (an atomic compare-and-exchange on the low word,
/// only while the entry is present and clean, as the MMU's locked update
/// does), while CPU 0 sets the entry clean and takes it back with
/// `ptep_get_and_clear` after a varying delay. Every Dirty bit CPU 1 set
/// is in a value `ptep_get_and_clear` returned (the counts are equal), and
/// both outcomes (set before the exchange, not set) happened many times.
fn ptep_get_and_clear_returns_the_dirty_bit_another_cpu_sets_meanwhile() {
    require_pae();
    require_cpus(2);
    #[cfg(feature = "pae")]
    pae::get_and_clear(pae::GetAndClear::Kernel);
}

/// The negative control of P9: a read of the entry, then `pte_clear` (in
/// place of the atomic exchange) loses, within the run, a Dirty bit CPU 1
/// set between the read and the clear.
fn a_read_then_pte_clear_loses_a_dirty_bit_another_cpu_sets_meanwhile() {
    require_pae();
    require_cpus(2);
    #[cfg(feature = "pae")]
    pae::get_and_clear(pae::GetAndClear::ReadThenClear);
}

/// P10: CPU 0 points a PMD entry at a PTE page above 4 GiB, replaces it
/// with one below 4 GiB, and clears it, again and again, with the
/// kernel's `set_pmd` (one `cmpxchg8b`: the table under a PMD entry is
/// live) and `pmd_clear`; CPU 1 reads the entry meanwhile (as
/// `pmdp_get_lockless`). It sees the empty entry or a whole value, never
/// the high word of one with the low word of the other.
fn set_pmd_of_a_pte_page_above_4_gib_is_seen_whole_by_a_reader_on_another_cpu() {
    require_pae();
    require_cpus(2);
    #[cfg(feature = "pae")]
    pae::pmd_replace(pae::SetOrder::Kernel);
}

/// The negative control of P10: the replacement written in two halves
/// (high, then low: `set_pte`'s order, right for an empty entry but not
/// for a present one) is seen torn: the new high word with the old low
/// word, present.
fn a_set_pmd_in_two_halves_is_seen_torn_by_the_reader() {
    require_pae();
    require_cpus(2);
    #[cfg(feature = "pae")]
    pae::pmd_replace(pae::SetOrder::Halves);
}

#[cfg(feature = "pae")]
mod pae {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::{Relaxed, SeqCst}};
    use crate::arch::lib::atomic64_cx8_32::AtomicU64;

    use mm::page::Page;
    use mm::pgtable_3level::SplitEntry;
    use mm::pgtable_types::{_PAGE_DIRTY, _PAGE_PRESENT, PAGE_KERNEL, PDE_USER_TABLE, pmd_t, pte_t};

    use super::*;
    use crate::arch::tsc::uptime_ns;
    use crate::mm::page_alloc::{memory_layout, page_address, page_to_pfn};
    use crate::sched::{spawn_on, yield_now};
    use super::super::common::{free_page, lowmem_page};

    /// Each state must be seen this often for a run to count.
    const MIN_SEEN: u64 = 1000;
    /// A run lasts at least this long, and the negative controls stop
    /// early once they have what they look for...
    const MIN_NS: u64 = 200_000_000;
    /// ... and at most this long (a loaded host may deschedule a vCPU).
    const MAX_NS: u64 = 10_000_000_000;

    /// How the writer writes an entry: the kernel's way, or a wrong one.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum SetOrder {
        /// `set_pte` / `set_pmd` of `arch::paging`.
        Kernel,
        /// P8's wrong order: low word (present bit) first, then high.
        LowFirst,
        /// P10's wrong write: a present entry replaced high, then low.
        Halves,
    }

    /// How the writer takes the entry back in P9.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum GetAndClear {
        /// `ptep_get_and_clear`: one atomic exchange.
        Kernel,
        /// A read, then `pte_clear`: what the exchange is there to avoid.
        ReadThenClear,
    }

    /// A zeroed lowmem page used as a page table that nothing links:
    /// entry 5 is the one under test (not 0, so that a bug writing at the
    /// table's start would not be taken for it).
    struct PrivateTable(&'static Page);

    impl PrivateTable {
        fn new() -> Self {
            let page = lowmem_page();
            let t = PrivateTable(page);
            // SAFETY: a fresh lowmem page, ours, mapped in the direct map.
            unsafe { core::ptr::write_bytes(t.base() as *mut u8, 0, mm::layout::PAGE_SIZE) };
            t
        }
        fn base(&self) -> usize {
            page_address(self.0).expect("lowmem is in the direct map")
        }
        fn entry(&self) -> usize {
            self.base() + 5 * 8
        }
        fn pfn(&self) -> usize {
            page_to_pfn(self.0)
        }
    }

    impl Drop for PrivateTable {
        fn drop(&mut self) {
            free_page(self.0);
        }
    }

    /// A frame above 4 GiB (high word non-zero): RAM's last frame if the
    /// machine has RAM there, else one at 9 GiB (see the module docs: the
    /// entry is never walked, so the number maps nothing either way).
    fn frame_above_4_gib() -> usize {
        let max_pfn = memory_layout().max_pfn;
        // 9 GiB in frames (9 << 30 does not fit a 32-bit usize).
        let pfn = if max_pfn > 1 << 20 { max_pfn - 1 } else { 9 << (30 - 12) };
        assert!(pfn >= 1 << 20);
        pfn
    }

    /// What the reader saw, by kind.
    #[derive(Default)]
    struct Seen {
        none: AtomicU64,
        a: AtomicU64,
        b: AtomicU64,
        mixed: AtomicU64,
        first_mixed: AtomicU64,
    }

    impl Seen {
        fn get(&self) -> [u64; 4] {
            [self.none.load(SeqCst), self.a.load(SeqCst), self.b.load(SeqCst), self.mixed.load(SeqCst)]
        }
    }

    /// CPU 1's half: read the entry at `entry` 8 bytes at once
    /// until `stop`, sorting what it sees; publish the counts every 256
    /// reads (so the writer can tell when it has seen enough).
    fn start_reader(entry: usize, a: u64, b: u64, stop: Arc<AtomicBool>, seen: Arc<Seen>) -> crate::sched::JoinHandle {
        spawn_on(1, "pte-reader", move || {
            let mut n = [0u64; 4];
            let mut i = 0u32;
            loop {
                // As the MMU reads an entry under PAE: one 8-byte load
                // (on an i686 without SSE, a `lock cmpxchg8b` that writes
                // back what it found). Not `ptep_get_lockless`: its low,
                // high, low can be fooled by A -> ... -> A between its two
                // low reads (ABA), which a writer looping as fast as this
                // one does make happen when the reader's vCPU stalls.
                // SAFETY: the entry is in a page the test holds until the
                // reader is joined; 8-byte aligned.
                let v = unsafe { &*(entry as *const AtomicU64) }.load(SeqCst);
                let k = if v & _PAGE_PRESENT == 0 {
                    0
                } else if v == a {
                    1
                } else if v == b {
                    2
                } else {
                    let _ = seen.first_mixed.compare_exchange(0, v, SeqCst, SeqCst);
                    3
                };
                n[k] += 1;
                i = i.wrapping_add(1);
                if i.is_multiple_of(256) || k == 3 {
                    seen.none.store(n[0], Relaxed);
                    seen.a.store(n[1], Relaxed);
                    seen.b.store(n[2], Relaxed);
                    seen.mixed.store(n[3], SeqCst);
                    if stop.load(SeqCst) {
                        return;
                    }
                }
            }
        })
    }

    /// Has a run seen enough? Positive runs: each valid state `MIN_SEEN`
    /// times and `MIN_NS` elapsed; negative ones: a mixed value too.
    fn done(seen: &Seen, start: u64, want_mixed: bool) -> bool {
        let [none, a, b, mixed] = seen.get();
        let t = uptime_ns() - start;
        if t >= MAX_NS {
            return true;
        }
        let enough = none >= MIN_SEEN && a >= MIN_SEEN && b >= MIN_SEEN;
        if want_mixed { enough && mixed > 0 } else { enough && t >= MIN_NS }
    }

    /// A's frame is above 4 GiB and B's below, and their low words differ
    /// (the prot bits, NX in the high word included, may be the same).
    fn frame_words_differ(a: u64, b: u64) -> bool {
        let frame = |v: u64| v & mm::pgtable_types::PTE_PFN_MASK;
        frame(a) >> 32 != 0 && frame(b) >> 32 == 0 && a as u32 != b as u32
    }

    /// The wrong writes of the negative controls, in the test only: `v`
    /// into the entry at `entry` in two 32-bit stores, the low word first
    /// or the high word first, with a write barrier between them.
    fn write_in_halves(entry: usize, v: u64, low_first: bool) {
        let e = Entry64(entry as *mut u64);
        let (hi, lo) = ((v >> 32) as u32, v as u32);
        if low_first {
            e.write_low(lo);
            e.smp_wmb();
            e.write_high(hi);
        } else {
            e.write_high(hi);
            e.smp_wmb();
            e.write_low(lo);
        }
    }

    /// What the reader saw in a race, for the test's own verdict.
    struct Outcome {
        /// How long the writer ran, in ms.
        ms: u64,
        /// Present values that were neither A nor B...
        mixed: u64,
        /// ... and the first of them (0 if none).
        first: u64,
    }

    /// What P8 and P10 share: CPU 1 reads the entry at `entry` (the reader
    /// above, sorting what it sees into empty, `a`, `b` and mixed) while
    /// CPU 0 (this task, pinned there) runs `cycle`, one writer cycle through the states, 64 times a
    /// round until the run has seen enough ([`done`]; with `want_mixed`,
    /// a mixed value too). Logs the counts (`what`: what a cycle does) and
    /// checks that the reader saw each state at least [`MIN_SEEN`] times;
    /// the verdict on the mixed values is the caller's.
    fn race(entry: usize, a: u64, b: u64, want_mixed: bool, what: &str, mut cycle: impl FnMut()) -> Outcome {
        assert!(frame_words_differ(a, b), "frames whose both words differ");
        // The writer (this task) on CPU 0, the reader on CPU 1.
        crate::sched::core::set_current_affinity(1 << 0);
        let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Seen::default()));
        let reader = start_reader(entry, a, b, stop.clone(), seen.clone());
        while seen.get()[0] == 0 {
            yield_now();
        }
        let start = uptime_ns();
        let mut cycles = 0u64;
        while !done(&seen, start, want_mixed) {
            for _ in 0..64 {
                cycle();
            }
            cycles += 64;
        }
        let ms = (uptime_ns() - start) / 1_000_000;
        stop.store(true, SeqCst);
        reader.join();
        let [none, sa, sb, mixed] = seen.get();
        let first = seen.first_mixed.load(SeqCst);
        log::info!("pgtable: {cycles} {what} cycles in {ms} ms; reader saw none {none}, A {sa}, B {sb}, mixed {mixed} (first {first:#x})");
        assert!(
            none >= MIN_SEEN && sa >= MIN_SEEN && sb >= MIN_SEEN,
            "the reader saw each state at least {MIN_SEEN} times: none {none}, A {sa}, B {sb} (A = {a:#x}, B = {b:#x})"
        );
        Outcome { ms, mixed, first }
    }

    /// P8 and its negative control: set A (the kernel's way or low word
    /// first), clear, set B, get-and-clear B.
    pub fn set_and_clear(order: SetOrder) {
        let table = PrivateTable::new();
        let entry = table.entry();
        let ptep = entry as *mut pte_t;
        let a = pte_t::new(frame_above_4_gib(), PAGE_KERNEL).0;
        let b = pte_t::new(table.pfn(), PAGE_KERNEL).0;
        let got = race(entry, a, b, order != SetOrder::Kernel, "set/clear", || {
            match order {
                // SAFETY: the entry is ours and not present, as set_pte
                // wants; nothing walks it (module docs).
                SetOrder::Kernel => unsafe { set_pte(ptep, pte_t(a)) },
                _ => write_in_halves(entry, a, true),
            }
            // SAFETY: as above.
            unsafe { pte_clear(ptep) };
            // SAFETY: as above; B's high word is 0, so either order sets
            // it whole after a clear: set_pte's, always.
            unsafe { set_pte(ptep, pte_t(b)) };
            // SAFETY: as above.
            let old = unsafe { ptep_get_and_clear(ptep) };
            assert_eq!(old.0, b, "ptep_get_and_clear returns what set_pte wrote");
        });
        if order == SetOrder::Kernel {
            assert_eq!(got.mixed, 0, "a present entry that is neither A {a:#x} nor B {b:#x}: {:#x}", got.first);
        } else {
            assert!(got.mixed > 0, "the low-word-first set was never seen torn in {} ms", got.ms);
            assert_eq!(got.first, (a & 0xffff_ffff), "the torn value: A's low word, the high word the clear left (0)");
        }
    }

    /// P9 and its negative control.
    pub fn get_and_clear(how: GetAndClear) {
        crate::sched::core::set_current_affinity(1 << 0);
        let table = PrivateTable::new();
        let entry = table.entry();
        let ptep = entry as *mut pte_t;
        let a = pte_t::new(frame_above_4_gib(), PAGE_KERNEL).0 & !_PAGE_DIRTY;
        let (stop, dirtied) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let mmu = {
            let (stop, dirtied) = (stop.clone(), dirtied.clone());
            spawn_on(1, "mmu-dirtier", move || {
                // SAFETY: the entry's low word, 4-byte aligned, in the
                // page the test holds until this task is joined.
                let low = unsafe { AtomicU32::from_ptr(entry as *mut u32) };
                let clean = a as u32;
                let mut n = 0u64;
                let mut i = 0u32;
                loop {
                    // The MMU's locked update: only a present, clean entry.
                    if low.load(Relaxed) == clean && low.compare_exchange(clean, clean | _PAGE_DIRTY as u32, SeqCst, Relaxed).is_ok() {
                        n += 1;
                    }
                    i = i.wrapping_add(1);
                    if i.is_multiple_of(256) {
                        dirtied.store(n, SeqCst);
                        if stop.load(SeqCst) {
                            return;
                        }
                    }
                }
            })
        };
        let start = uptime_ns();
        let (mut rounds, mut dirty, mut delay) = (0u64, 0u64, 0u32);
        loop {
            let t = uptime_ns() - start;
            let clean_seen = rounds - dirty;
            let enough = dirty >= MIN_SEEN && clean_seen >= MIN_SEEN && t >= MIN_NS;
            let lost = dirtied.load(SeqCst) > dirty;
            if t >= MAX_NS || (how == GetAndClear::Kernel && enough) || (how == GetAndClear::ReadThenClear && enough && lost) {
                break;
            }
            for _ in 0..64 {
                // SAFETY: the entry is ours and empty; nothing walks it.
                unsafe { set_pte(ptep, pte_t(a)) };
                // A varying wait, so that CPU 1's write lands before, in
                // and after the exchange. Not `spin_loop`: QEMU's TCG
                // leaves its execution loop on `pause`, a long and
                // irregular wait.
                delay = (delay + 7) % 97;
                for i in 0..delay {
                    core::hint::black_box(i);
                }
                let old = match how {
                    // SAFETY: as above.
                    GetAndClear::Kernel => unsafe { ptep_get_and_clear(ptep) }.0,
                    GetAndClear::ReadThenClear => {
                        // SAFETY: as above.
                        let v = unsafe { ptep_get_lockless(ptep) }.0;
                        // SAFETY: as above.
                        unsafe { pte_clear(ptep) };
                        v
                    }
                };
                assert_eq!(old & !_PAGE_DIRTY, a, "the entry set, with or without Dirty");
                rounds += 1;
                dirty += u64::from(old & _PAGE_DIRTY != 0);
            }
        }
        let t = uptime_ns() - start;
        // Let CPU 1 publish its count, on the empty entry (it sets nothing there).
        stop.store(true, SeqCst);
        mmu.join();
        // SAFETY: as above.
        let after = unsafe { ptep_get_lockless(ptep) }.0;
        let set = dirtied.load(SeqCst);
        log::info!(
            "pgtable: {rounds} set/get-and-clear rounds in {} ms; CPU 1 set Dirty {set} times, CPU 0 got it back {dirty} times",
            t / 1_000_000
        );
        assert_eq!(after, 0, "the entry is empty after the last clear (the MMU sets nothing in an empty entry)");
        assert!(dirty >= MIN_SEEN && rounds - dirty >= MIN_SEEN, "both outcomes often: {dirty} dirty of {rounds}");
        match how {
            GetAndClear::Kernel => assert_eq!(set, dirty, "every Dirty bit CPU 1 set came back from ptep_get_and_clear"),
            GetAndClear::ReadThenClear => {
                assert!(set > dirty, "a read then a clear never lost a Dirty bit in {} ms ({set} set, {dirty} returned)", t / 1_000_000)
            }
        }
    }

    /// P10 and its negative control: point the PMD entry at A, replace
    /// it with B (the kernel's way or in two halves), clear it.
    pub fn pmd_replace(order: SetOrder) {
        let table = PrivateTable::new();
        let entry = table.entry();
        let pmdp = entry as *mut pmd_t;
        // Two PTE pages: one above 4 GiB, and the table's own frame below.
        let a = pmd_t::new(frame_above_4_gib(), PDE_USER_TABLE).0;
        let b = pmd_t::new(table.pfn(), PDE_USER_TABLE).0;
        let got = race(entry, a, b, order != SetOrder::Kernel, "set_pmd A, B, clear", || {
            // SAFETY: the entry is ours; nothing walks it.
            unsafe { set_pmd(pmdp, pmd_t(a)) };
            match order {
                // SAFETY: as above. A present entry replaced.
                SetOrder::Kernel => unsafe { set_pmd(pmdp, pmd_t(b)) },
                _ => write_in_halves(entry, b, false),
            }
            // SAFETY: as above.
            unsafe { pmd_clear(pmdp) };
        });
        if order == SetOrder::Kernel {
            assert_eq!(got.mixed, 0, "a present PMD entry that is neither A {a:#x} nor B {b:#x}: {:#x}", got.first);
        } else {
            assert!(got.mixed > 0, "the replacement in halves was never seen torn in {} ms", got.ms);
            assert_eq!(got.first, (b >> 32 << 32) | (a & 0xffff_ffff), "the torn value: B's high word with A's low word");
        }
    }
}
