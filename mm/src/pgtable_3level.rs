//! Writing a 64-bit page-table entry on a 32-bit CPU (Linux's
//! `arch/x86/include/asm/pgtable-3level.h`), written once against
//! [`SplitEntry`] so that the same code runs on a real entry in the
//! kernel and on a model in the host tests below.
//!
//! A PAE entry is 64 bits, but an i686 stores 32 bits at a time (a `mov`;
//! only `lock cmpxchg8b` writes all 64 at once, and costs a locked
//! read-modify-write). Meanwhile two kinds of reader look at the entry:
//!
//! * the MMU of any CPU, walking page tables: it reads the entry as one
//!   64-bit quantity, at any instant, without taking any lock;
//! * kernel code reading without the page-table lock (Linux's
//!   `ptep_get_lockless`, `pmd_read_atomic`), which reads two halves.
//!
//! ```text
//!     high word (bits 63..32)              low word (bits 31..0)
//!  +----+-----------------------+    +----------------------+------------+
//!  | NX |  frame bits 32..35+   |    |  frame bits 12..31   | flags .. P |
//!  +----+-----------------------+    +----------------------+------------+
//! ```
//!
//! The present bit is bit 0 of the **low** word: that decides every order.
//!
//! * `set_pte` on a not-present entry writes the **high word first**, then
//!   (`smp_wmb`) the low word. Until the low store lands the entry is not
//!   present, and nobody uses the rest of a not-present entry; once it is
//!   present, the high word is already right. The other order would
//!   expose, for an instant, a present entry with the *old* high word: a
//!   mapping of the wrong frame (9 GiB aliased to 1 GiB) or the wrong NX.
//! * `pte_clear` writes the **low word first** (P goes), then the high
//!   word, for the same reason backwards.
//! * Replacing a *present* entry cannot be done in halves at all: whatever
//!   half goes first, the other one is stale while P is set. So a live
//!   replacement, and every PMD or PGD write (the tables under them are
//!   live), is one `cmpxchg8b` (`set_pte_atomic`, `set_pmd`, `set_pud`).
//! * `ptep_get_and_clear` must return the entry *and* clear it, while the
//!   MMU of another CPU may set Dirty in it (a write through a stale TLB
//!   entry's walk). Read-then-clear could lose that Dirty bit, so it is
//!   one atomic 64-bit exchange.
//! * A lockless reader reads low, `smp_rmb`, high, `smp_rmb`, and low
//!   again, and retries if the low word changed (`ptep_get_lockless`): a
//!   present low word then implies the high word that was written with it.
//!
//! Why is `smp_wmb` enough on x86, and what is it? x86 keeps stores in
//! program order (TSO), so `smp_wmb` is only a compiler barrier there: it
//! stops the *compiler* from swapping the two stores. The model below is
//! weaker than x86 on purpose: stores between two barriers may become
//! visible in any order. So the tests show the barrier is needed, not
//! just the order of the source lines.

/// A 64-bit entry in memory, reached as two 32-bit halves, as a 32-bit
/// CPU reaches it; plus the barriers and the one 64-bit atomic it has.
/// The kernel implements it on a real entry (`volatile` 32-bit accesses
/// and `lock cmpxchg8b`), the tests on a model.
pub trait SplitEntry {
    /// Read bits 31..0.
    fn read_low(&self) -> u32;
    /// Read bits 63..32.
    fn read_high(&self) -> u32;
    /// Store bits 31..0 (one 32-bit store).
    fn write_low(&self, val: u32);
    /// Store bits 63..32 (one 32-bit store).
    fn write_high(&self, val: u32);
    /// Linux `smp_wmb`: stores before it are visible before stores after it.
    fn smp_wmb(&self);
    /// Linux `smp_rmb`: loads before it happen before loads after it.
    fn smp_rmb(&self);
    /// `lock cmpxchg8b`: if the entry is `old`, make it `new`, atomically;
    /// either way return what it was.
    fn cmpxchg64(&self, old: u64, new: u64) -> u64;
}

/// The two halves put together, read low first (a guess, not a snapshot:
/// only for seeding a `cmpxchg8b` loop, which checks it).
fn read_halves<E: SplitEntry + ?Sized>(ptep: &E) -> u64 {
    let low = ptep.read_low();
    (u64::from(ptep.read_high()) << 32) | u64::from(low)
}

/// Linux `native_set_pte`: set an entry that is **not present** (or that
/// the hardware will not update): high word, `smp_wmb`, low word. See
/// the module docs for why this order, and why only on a not-present
/// entry: over a present one, the new high word would meet the old low
/// word for an instant.
pub fn native_set_pte<E: SplitEntry + ?Sized>(ptep: &E, pte: u64) {
    ptep.write_high((pte >> 32) as u32);
    ptep.smp_wmb();
    ptep.write_low(pte as u32);
}

/// Linux `native_pte_clear`: low word (the present bit) first, `smp_wmb`,
/// then the high word. The reverse would leave a present entry with a
/// zero high word: a mapping of some frame below 4 GiB nobody asked for.
pub fn native_pte_clear<E: SplitEntry + ?Sized>(ptep: &E) {
    ptep.write_low(0);
    ptep.smp_wmb();
    ptep.write_high(0);
}

/// Linux `native_pmd_clear`: the same order as [`native_pte_clear`].
pub fn native_pmd_clear<E: SplitEntry + ?Sized>(pmdp: &E) {
    native_pte_clear(pmdp);
}

/// Linux `set_64bit` (`asm/cmpxchg_32.h`): one atomic 64-bit store, as a
/// `cmpxchg8b` loop (the only 64-bit store an i686 has). The first guess
/// may be torn or stale; the `cmpxchg8b` fails then and returns the real
/// value for the next try.
pub fn set_64bit<E: SplitEntry + ?Sized>(ptr: &E, val: u64) {
    let mut old = read_halves(ptr);
    loop {
        let seen = ptr.cmpxchg64(old, val);
        if seen == old {
            return;
        }
        old = seen;
    }
}

/// Linux `native_set_pte_atomic`: replace an entry that may be present,
/// in one 64-bit store.
pub fn native_set_pte_atomic<E: SplitEntry + ?Sized>(ptep: &E, pte: u64) {
    set_64bit(ptep, pte);
}

/// Linux `native_set_pmd`: PMD entries point at live page tables that
/// any CPU may be walking, so they are always written in one piece.
pub fn native_set_pmd<E: SplitEntry + ?Sized>(pmdp: &E, pmd: u64) {
    set_64bit(pmdp, pmd);
}

/// Linux `native_set_pud` (a PDPTE, our PGD entry): in one piece too.
pub fn native_set_pud<E: SplitEntry + ?Sized>(pudp: &E, pud: u64) {
    set_64bit(pudp, pud);
}

/// Linux `arch_atomic64_xchg` on i686 (`atomic64_xchg_cx8`): a
/// `cmpxchg8b` loop that swaps in `new` and returns what was there.
pub fn xchg64<E: SplitEntry + ?Sized>(ptr: &E, new: u64) -> u64 {
    let mut old = read_halves(ptr);
    loop {
        let seen = ptr.cmpxchg64(old, new);
        if seen == old {
            return old;
        }
        old = seen;
    }
}

/// Linux `native_ptep_get_and_clear` (SMP): clear the entry and return
/// it, with any Accessed/Dirty bit another CPU's MMU set up to the last
/// instant (an atomic exchange with 0).
pub fn native_ptep_get_and_clear<E: SplitEntry + ?Sized>(ptep: &E) -> u64 {
    xchg64(ptep, 0)
}

/// Linux `ptep_get_lockless` (`CONFIG_GUP_GET_PXX_LOW_HIGH`): read an
/// entry others may be writing, without their lock. Low, `smp_rmb`,
/// high, `smp_rmb`, then low again: if the low word is unchanged, the
/// high word read in between belongs to it (the writers' orders above
/// guarantee that a present low word is never paired with a stale high
/// one *while it stays*). Linux also relies on the frame not being
/// freed and reused meanwhile (a clear, a flush, a set with the very same
/// low word: the ABA case): `gup_fast` runs with interrupts off, so the
/// TLB-flush IPI that must come between the clear and the reuse waits
/// for it. The tests below show that case too.
pub fn ptep_get_lockless<E: SplitEntry + ?Sized>(ptep: &E) -> u64 {
    loop {
        let low = ptep.read_low();
        ptep.smp_rmb();
        let high = ptep.read_high();
        ptep.smp_rmb();
        if ptep.read_low() == low {
            return (u64::from(high) << 32) | u64::from(low);
        }
    }
}

#[cfg(test)]
mod tests {
    //! A model checker, small enough to read. A *writer* runs a program
    //! of entry operations (set, clear, replace, get-and-clear) through
    //! the code above on a [`Recorder`], which notes the stores it makes
    //! and where its barriers are. Every order in which those stores
    //! could become visible is then generated (any order between two
    //! barriers; operations are separated by full barriers, as the
    //! page-table lock or a TLB flush separates them in the kernel), and
    //! for each, every way a *reader* can interleave its loads with them.
    //! The claim checked: no reader ever returns a present entry that is
    //! not one of the values written whole.
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeSet;

    const P: u64 = 1; // _PAGE_PRESENT
    const RW: u64 = 2;
    const D: u64 = 0x40; // _PAGE_DIRTY
    /// Three present entries whose frames differ in both halves: 9 GiB,
    /// 5 GiB + 4 KiB and 1 GiB + 8 KiB (distinct low words, so that no
    /// reader is fooled by an ABA; see `aba_...` for that case).
    const A: u64 = (9 << 30) | P | RW;
    const B: u64 = (5 << 30) | 0x1000 | P;
    const C: u64 = (1 << 30) | 0x2000 | P | RW;
    const VALUES: [u64; 3] = [A, B, C];

    fn present(v: u64) -> bool {
        v & P != 0
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Store {
        Low(u32),
        High(u32),
        /// A successful `cmpxchg8b`: all 64 bits at once.
        Whole(u64),
    }

    impl Store {
        fn apply(self, v: u64) -> u64 {
            match self {
                Store::Low(l) => (v & !0xffff_ffff) | u64::from(l),
                Store::High(h) => (v & 0xffff_ffff) | (u64::from(h) << 32),
                Store::Whole(w) => w,
            }
        }
    }

    /// Runs the writer sequentially and records its stores, split into
    /// groups at each barrier.
    struct Recorder {
        value: Cell<u64>,
        groups: RefCell<Vec<Vec<Store>>>,
    }

    impl Recorder {
        fn new(initial: u64) -> Self {
            Recorder { value: Cell::new(initial), groups: RefCell::new(vec![vec![]]) }
        }
        fn store(&self, s: Store) {
            self.value.set(s.apply(self.value.get()));
            self.groups.borrow_mut().last_mut().unwrap().push(s);
        }
        fn barrier(&self) {
            self.groups.borrow_mut().push(vec![]);
        }
    }

    impl SplitEntry for Recorder {
        fn read_low(&self) -> u32 {
            self.value.get() as u32
        }
        fn read_high(&self) -> u32 {
            (self.value.get() >> 32) as u32
        }
        fn write_low(&self, val: u32) {
            self.store(Store::Low(val));
        }
        fn write_high(&self, val: u32) {
            self.store(Store::High(val));
        }
        fn smp_wmb(&self) {
            self.barrier();
        }
        fn smp_rmb(&self) {}
        fn cmpxchg64(&self, old: u64, new: u64) -> u64 {
            let seen = self.value.get();
            if seen == old {
                self.store(Store::Whole(new));
            }
            seen
        }
    }

    /// One operation of a writer program, and the functions it runs:
    /// Linux's, or a broken variant for the negative tests.
    #[derive(Clone, Copy, Debug)]
    enum Op {
        Set(u64),
        Clear,
        Replace(u64),
        GetAndClear,
    }

    struct Writer {
        set: fn(&Recorder, u64),
        clear: fn(&Recorder),
    }

    const LINUX: Writer = Writer { set: |e, v| native_set_pte(e, v), clear: |e| native_pte_clear(e) };

    /// The writer's program, run on a recorder: the visible-store groups
    /// and the set of values ever written whole (the initial one included).
    fn record(w: &Writer, initial: u64, ops: &[Op]) -> (Vec<Vec<Store>>, BTreeSet<u64>) {
        let rec = Recorder::new(initial);
        let mut written = BTreeSet::from([initial, 0]);
        for &op in ops {
            match op {
                Op::Set(v) => {
                    (w.set)(&rec, v);
                    written.insert(v);
                }
                Op::Clear => (w.clear)(&rec),
                Op::Replace(v) => {
                    native_set_pte_atomic(&rec, v);
                    written.insert(v);
                }
                Op::GetAndClear => {
                    native_ptep_get_and_clear(&rec);
                }
            }
            rec.barrier();
        }
        let groups = rec.groups.into_inner().into_iter().filter(|g| !g.is_empty()).collect();
        (groups, written)
    }

    /// Every order in which the stores may become visible: any order
    /// inside a group, groups in order.
    fn visible_orders(groups: &[Vec<Store>]) -> Vec<Vec<Store>> {
        fn perms(g: &[Store]) -> Vec<Vec<Store>> {
            if g.len() <= 1 {
                return vec![g.to_vec()];
            }
            let mut out = vec![];
            for i in 0..g.len() {
                let mut rest = g.to_vec();
                let first = rest.remove(i);
                for mut p in perms(&rest) {
                    p.insert(0, first);
                    out.push(p);
                }
            }
            out
        }
        let mut orders = vec![vec![]];
        for g in groups {
            let mut next = vec![];
            for o in &orders {
                for p in perms(g) {
                    let mut n: Vec<Store> = o.clone();
                    n.extend(p);
                    next.push(n);
                }
            }
            orders = next;
        }
        orders
    }

    /// The entry as a reader sees it when its loads happen at given
    /// points of one visible order (`states[k]` = after k stores).
    struct Scheduled<'a> {
        states: &'a [u64],
        positions: &'a [usize],
        next: Cell<usize>,
    }

    impl Scheduled<'_> {
        fn load(&self) -> u64 {
            let i = self.next.get();
            self.next.set(i + 1);
            // Past the schedule: the writer has finished.
            let at = self.positions.get(i).copied().unwrap_or(self.states.len() - 1);
            self.states[at]
        }
    }

    impl SplitEntry for Scheduled<'_> {
        fn read_low(&self) -> u32 {
            self.load() as u32
        }
        fn read_high(&self) -> u32 {
            (self.load() >> 32) as u32
        }
        fn write_low(&self, _: u32) {
            unreachable!("readers do not write")
        }
        fn write_high(&self, _: u32) {
            unreachable!("readers do not write")
        }
        fn smp_wmb(&self) {}
        // Loads happen at nondecreasing points: the rmb's guarantee.
        fn smp_rmb(&self) {}
        fn cmpxchg64(&self, _: u64, _: u64) -> u64 {
            unreachable!("readers do not write")
        }
    }

    /// Every nondecreasing sequence of `len` points in `0..=n`.
    fn schedules(n: usize, len: usize) -> Vec<Vec<usize>> {
        if len == 0 {
            return vec![vec![]];
        }
        let mut out = vec![];
        for rest in schedules(n, len - 1) {
            let from = rest.last().copied().unwrap_or(0);
            for p in from..=n {
                let mut s = rest.clone();
                s.push(p);
                out.push(s);
            }
        }
        out
    }

    /// A reader: how it reads an entry.
    type Reader = fn(&Scheduled) -> u64;

    /// The MMU: one 64-bit load.
    fn mmu(e: &Scheduled) -> u64 {
        e.load()
    }
    /// Two loads, low then high, no recheck.
    fn low_then_high(e: &Scheduled) -> u64 {
        let low = e.read_low();
        (u64::from(e.read_high()) << 32) | u64::from(low)
    }
    /// Two loads, high then low.
    fn high_then_low(e: &Scheduled) -> u64 {
        let high = e.read_high();
        (u64::from(high) << 32) | u64::from(e.read_low())
    }
    fn lockless(e: &Scheduled) -> u64 {
        ptep_get_lockless(e)
    }

    /// A torn read: what the reader returned, and where.
    #[derive(Debug)]
    #[allow(dead_code)] // printed by the failing assertions
    struct Torn {
        initial: u64,
        ops: Vec<Op>,
        order: Vec<Store>,
        positions: Vec<usize>,
        seen: u64,
    }

    /// Explore one writer program against one reader; the first torn
    /// read found, if any, and how many interleavings were tried.
    fn explore(w: &Writer, initial: u64, ops: &[Op], reader: Reader, loads: usize) -> (Option<Torn>, usize) {
        let (groups, written) = record(w, initial, ops);
        let mut tried = 0;
        for order in visible_orders(&groups) {
            let mut states = vec![initial];
            for s in &order {
                states.push(s.apply(*states.last().unwrap()));
            }
            for positions in schedules(order.len(), loads) {
                tried += 1;
                let e = Scheduled { states: &states, positions: &positions, next: Cell::new(0) };
                let seen = reader(&e);
                if present(seen) && !written.contains(&seen) {
                    let torn = Torn { initial, ops: ops.to_vec(), order, positions, seen };
                    return (Some(torn), tried);
                }
            }
        }
        (None, tried)
    }

    /// Every writer program of up to `max_len` operations that keeps
    /// Linux's rule (`set_pte` only on a not-present entry), from an
    /// empty or a present entry. Each value is written at most once (and
    /// never the initial one again): writing a low word again after a
    /// clear is the ABA case, which no reader of halves can tell apart
    /// (see `aba_fools_the_lockless_reader`).
    fn programs(max_len: usize) -> Vec<(u64, Vec<Op>)> {
        fn grow(cur: u64, used: &[u64], prog: Vec<Op>, left: usize, out: &mut Vec<Vec<Op>>) {
            if !prog.is_empty() {
                out.push(prog.clone());
            }
            if left == 0 {
                return;
            }
            let mut next = vec![(Op::Clear, 0), (Op::GetAndClear, 0)];
            for v in VALUES.into_iter().filter(|v| !used.contains(v)) {
                if !present(cur) {
                    next.push((Op::Set(v), v));
                }
                next.push((Op::Replace(v), v));
            }
            for (op, after) in next {
                let mut p = prog.clone();
                p.push(op);
                let mut u = used.to_vec();
                u.push(after);
                grow(after, &u, p, left - 1, out);
            }
        }
        let mut out = vec![];
        for initial in [0, A] {
            let mut progs = vec![];
            grow(initial, &[initial], vec![], max_len, &mut progs);
            out.extend(progs.into_iter().map(|p| (initial, p)));
        }
        out
    }

    /// Run a reader against every program; the first torn read.
    fn explore_all(w: &Writer, reader: Reader, loads: usize, max_len: usize) -> (Option<Torn>, usize) {
        let mut total = 0;
        for (initial, ops) in programs(max_len) {
            let (torn, tried) = explore(w, initial, &ops, reader, loads);
            total += tried;
            if torn.is_some() {
                return (torn, total);
            }
        }
        (None, total)
    }

    /// P6/P7 on the model: the MMU, which may walk the entry at any
    /// instant, never finds it present with a frame nobody wrote, for any
    /// program of up to three operations and any visible order the
    /// barriers allow.
    #[test]
    fn the_mmu_never_sees_a_torn_present_entry_with_linux_orders() {
        let (torn, tried) = explore_all(&LINUX, mmu, 1, 3);
        assert!(torn.is_none(), "{torn:#x?}");
        assert!(tried > 1_000, "explored {tried} interleavings");
    }

    /// P8 on the model: `ptep_get_lockless` (low, high, low again) never
    /// returns a present entry with a frame nobody wrote.
    #[test]
    fn the_lockless_reader_never_sees_a_torn_present_entry() {
        let (torn, tried) = explore_all(&LINUX, lockless, 9, 3);
        assert!(torn.is_none(), "{torn:#x?}");
        assert!(tried > 100_000, "explored {tried} interleavings");
    }

    /// A set, alone, against a reader of low then high: safe, because P
    /// (in the low word) lands last.
    #[test]
    fn a_low_then_high_reader_is_safe_against_a_set() {
        for v in VALUES {
            assert!(explore(&LINUX, 0, &[Op::Set(v)], low_then_high, 2).0.is_none());
        }
    }

    /// ... but not against a clear that follows: it reads the old low
    /// word (present), then the cleared high word. This is why Linux's
    /// lockless reader reads the low word a second time.
    #[test]
    fn a_low_then_high_reader_without_the_recheck_tears_on_a_clear() {
        let (torn, _) = explore(&LINUX, A, &[Op::Clear], low_then_high, 2);
        let torn = torn.expect("the model finds the torn read");
        assert_eq!(torn.seen, A & 0xffff_ffff, "A's low word with a zero high word: frame 1 GiB, not 9");
    }

    /// The reader's order matters too: high then low reads the high word
    /// before a set writes it and the low word after.
    #[test]
    fn a_high_then_low_reader_tears_on_a_set() {
        let (torn, _) = explore(&LINUX, 0, &[Op::Set(A)], high_then_low, 2);
        assert_eq!(torn.expect("torn").seen, A & 0xffff_ffff);
    }

    /// The reverse set order (low word first): the MMU finds a present
    /// entry with the old high word (here 0: frame 1 GiB for 9 GiB).
    #[test]
    fn setting_the_low_word_first_exposes_a_wrong_frame() {
        let wrong = Writer {
            set: |e, v| {
                e.write_low(v as u32);
                e.smp_wmb();
                e.write_high((v >> 32) as u32);
            },
            clear: |e| native_pte_clear(e),
        };
        let (torn, _) = explore_all(&wrong, mmu, 1, 1);
        let torn = torn.expect("the model finds the torn entry");
        assert!(present(torn.seen) && torn.seen >> 32 == 0, "{torn:#x?}");
    }

    /// The reverse clear order (high word first): for an instant the
    /// entry is present with a zero high word.
    #[test]
    fn clearing_the_high_word_first_exposes_a_wrong_frame() {
        let wrong = Writer {
            set: |e, v| native_set_pte(e, v),
            clear: |e| {
                e.write_high(0);
                e.smp_wmb();
                e.write_low(0);
            },
        };
        let (torn, _) = explore(&wrong, A, &[Op::Clear], mmu, 1);
        assert_eq!(torn.expect("torn").seen, A & 0xffff_ffff);
    }

    /// The right order of source lines is not enough without the
    /// barrier: on a machine that may reorder stores (the model does; x86
    /// does not, but the compiler may), the low word can land first.
    #[test]
    fn the_barrier_is_needed_too() {
        let no_wmb = Writer {
            set: |e, v| {
                e.write_high((v >> 32) as u32);
                e.write_low(v as u32);
            },
            clear: |e| native_pte_clear(e),
        };
        assert!(explore(&no_wmb, 0, &[Op::Set(A)], mmu, 1).0.is_some());
        assert!(explore(&LINUX, 0, &[Op::Set(A)], mmu, 1).0.is_none());
    }

    /// Replacing a present entry in halves tears whatever the order;
    /// `set_pte_atomic` (one `cmpxchg8b`) does not.
    #[test]
    fn replacing_a_present_entry_needs_cmpxchg8b() {
        assert!(explore(&LINUX, A, &[Op::Set(B)], mmu, 1).0.is_some(), "set_pte over a present entry tears");
        assert!(explore(&LINUX, A, &[Op::Replace(B)], mmu, 1).0.is_none());
        assert!(explore(&LINUX, A, &[Op::Replace(B)], lockless, 6).0.is_none());
    }

    /// The limit of the lockless reader: clear and set again with the
    /// *same low word* and another high word (ABA) fools the recheck. In
    /// Linux that needs the frame freed and reused while `gup_fast` runs
    /// with interrupts off, which the TLB-flush IPI forbids.
    #[test]
    fn aba_fools_the_lockless_reader() {
        let same_low = (A & 0xffff_ffff) | (7 << 32);
        let (torn, _) = explore(&LINUX, A, &[Op::Clear, Op::Set(same_low)], lockless, 3);
        let torn = torn.expect("the ABA case");
        assert_eq!(torn.seen, A & 0xffff_ffff, "old low word, the cleared high word between");
    }

    /// The entry, with another CPU's MMU that sets Dirty in it (a locked
    /// OR, as the hardware does) just before the writer's `at`-th access,
    /// if the entry is present then.
    struct DirtyRace {
        value: Cell<u64>,
        accesses: Cell<usize>,
        at: usize,
        dirtied: Cell<bool>,
    }

    impl DirtyRace {
        fn access(&self) {
            if self.accesses.get() == self.at && present(self.value.get()) {
                self.value.set(self.value.get() | D);
                self.dirtied.set(true);
            }
            self.accesses.set(self.accesses.get() + 1);
        }
    }

    impl SplitEntry for DirtyRace {
        fn read_low(&self) -> u32 {
            self.access();
            self.value.get() as u32
        }
        fn read_high(&self) -> u32 {
            self.access();
            (self.value.get() >> 32) as u32
        }
        fn write_low(&self, val: u32) {
            self.access();
            self.value.set((self.value.get() & !0xffff_ffff) | u64::from(val));
        }
        fn write_high(&self, val: u32) {
            self.access();
            self.value.set((self.value.get() & 0xffff_ffff) | (u64::from(val) << 32));
        }
        fn smp_wmb(&self) {}
        fn smp_rmb(&self) {}
        fn cmpxchg64(&self, old: u64, new: u64) -> u64 {
            self.access();
            let seen = self.value.get();
            if seen == old {
                self.value.set(new);
            }
            seen
        }
    }

    /// Run `get_and_clear` with the Dirty-setting MMU at every point;
    /// true if the Dirty bit was ever set but not returned.
    fn loses_dirty(get_and_clear: fn(&DirtyRace) -> u64) -> bool {
        (0..8).any(|at| {
            let e = DirtyRace { value: Cell::new(A), accesses: Cell::new(0), at, dirtied: Cell::new(false) };
            let got = get_and_clear(&e);
            assert_eq!(e.value.get(), 0, "cleared");
            e.dirtied.get() && got & D == 0
        })
    }

    /// P9 on the model: the atomic exchange returns a Dirty bit set at any
    /// point, including between its first guess and its `cmpxchg8b` (the
    /// loop retries); a read followed by a clear loses it.
    #[test]
    fn get_and_clear_keeps_a_concurrently_set_dirty_bit() {
        assert!(!loses_dirty(native_ptep_get_and_clear));
        assert!(loses_dirty(|e| {
            let old = read_halves(e);
            native_pte_clear(e);
            old
        }));
    }

    /// `set_64bit` retries until its `cmpxchg8b` sees the real value.
    #[test]
    fn set_64bit_retries_past_a_stale_guess() {
        for at in 0..4 {
            let e = DirtyRace { value: Cell::new(A), accesses: Cell::new(0), at, dirtied: Cell::new(false) };
            native_set_pmd(&e, B);
            assert_eq!(e.value.get(), B);
        }
    }
}
