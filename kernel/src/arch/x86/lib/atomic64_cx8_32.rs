//! 64-bit atomics on a 32-bit CPU: `lock cmpxchg8b` (Linux
//! `arch/x86/lib/atomic64_cx8_32.S` behind `arch/x86/include/asm/atomic64_32.h`,
//! and `__cmpxchg64` in `asm/cmpxchg_32.h`).
//!
//! An i686 has no 64-bit load, store or add that is atomic: the one
//! instruction that reads and writes 8 bytes at once is `cmpxchg8b`. So
//! every `atomic64_t` operation Linux has on i386 is a `cmpxchg8b`, or a
//! loop of them:
//!
//! ```text
//!   old = first guess (two 32-bit loads: may be torn or stale, no matter)
//!   loop:
//!       new = op(old)                    EDX:EAX = old, ECX:EBX = new
//!       lock cmpxchg8b [v]               if [v] == EDX:EAX: [v] = ECX:EBX, ZF=1
//!                                        else: EDX:EAX = [v],       ZF=0
//!       jne loop                         (old is now what [v] really held)
//! ```
//!
//! # Why the kernel does not let the compiler write these
//!
//! Rust's `core::sync::atomic::AtomicU64` compiles to the same loops, and
//! this kernel used it, until a soak died of a double fault whose saved
//! EFLAGS was `0x9e377bfb`: VM, RF and AC set at ring 0, which no kernel
//! code can do. The culprit is QEMU 7.2's TCG (the machine the project
//! runs on). TCG computes flags lazily: an `add` records "the last op was
//! an add, its operands were these" and flags are worked out only when
//! something reads them. QEMU 7.2's `cmpxchg8b` works the old flags out
//! from the *recorded kind of op in the CPU state*, which the translator
//! has not brought up to date for the instructions before it in the same
//! block. When the state still says "flags already computed, here they
//! are" (left by a `popf`, or by the previous `cmpxchg8b`: the retry of a
//! `cmpxchg8b` loop) and an `add`, `adc`, `sub` or `cmp` has since put its
//! source operand where the flags would be, that operand *becomes* the
//! flags, with ZF put in. LLVM's loop for `fetch_add` computes the high
//! half of the new value with `adc ecx, esi` right before the
//! `cmpxchg8b`, so a retry of `STATE.fetch_add(0x9e3779b97f4a7c15)`
//! left flags `0x9e3779b9 | ZF`. The `jne` only looks at ZF, so nothing
//! shows, unless the vCPU leaves its execution loop or takes an
//! interrupt right there: then QEMU folds those bits into the CPU's real
//! EFLAGS, VM is set at CPL 0, and the next interrupt cannot be delivered
//! (#GP while delivering, then #DF). A user program shows it in a few
//! lines (`pushf` right after a `cmpxchg8b`: `/bin/eflags_bug`; natively
//! the same code shows real flags, under `qemu-i386` the forged ones), and
//! tests/atomic64.rs sets the state up on purpose and reads the flags.
//!
//! The way out: `clc` right before `cmpxchg8b`. To clear CF, QEMU must
//! first work out the real flags and record the kind of op, so the state
//! `cmpxchg8b` then reads is consistent: whatever it makes of it holds
//! arithmetic flags and nothing else. (Measured in the kernel with the
//! state above: bare, `0x9e377bfb`; after `test eax, eax`, still
//! `0x9e377bfb` once a load sat between the `add` and the `test`; after
//! `clc`, `0x256`.) Every 64-bit atomic in the kernel goes through
//! [`cmpxchg64`], and the kernel's target (`i686-kernel.json`,
//! `"max-atomic-width": 32`) tells the compiler it has no 64-bit atomics
//! at all, so none can be made behind our back. User programs can still
//! do it to themselves; what the kernel does about that is
//! `check_user_eflags` (arch/x86/entry/common.rs).
//!
//! The types below have the same methods as `core`'s, so code reads the
//! same. The `Ordering` arguments are accepted and need nothing: a
//! `lock`ed instruction is a full barrier on x86, so every operation here
//! is sequentially consistent (Linux's value-returning `atomic64_*` are
//! fully ordered too).

use core::cell::UnsafeCell;
use core::sync::atomic::Ordering;

/// The instructions of [`cmpxchg64`], as one `asm!` template, so that
/// tests/atomic64.rs runs exactly them: `clc` (see the module doc: it makes
/// QEMU 7.2 settle its lazy flags, so `cmpxchg8b` cannot turn a previous
/// instruction's operand into EFLAGS), then the `cmpxchg8b` on `[{ptr}]`.
#[macro_export]
macro_rules! cmpxchg8b_asm {
    () => {
        "clc\n lock cmpxchg8b qword ptr [{ptr}]"
    };
}

/// Linux `__cmpxchg64` / `arch_cmpxchg64`: if `*ptr` is `old`, make it
/// `new`; either way return what `*ptr` held, all 64 bits read and written
/// at once.
///
/// # Safety
/// `ptr` is valid for reads and writes and 8-byte aligned (a locked
/// access that splits a cache line is atomic on x86, but slow and
/// disabled on some CPUs, so Linux aligns `atomic64_t` too).
#[inline]
pub unsafe fn cmpxchg64(ptr: *mut u64, old: u64, new: u64) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the caller vouches for ptr; the template only reads and
    // writes *ptr and the registers named.
    unsafe {
        core::arch::asm!(
            crate::cmpxchg8b_asm!(),
            ptr = in(reg) ptr,
            inout("eax") old as u32 => lo,
            inout("edx") (old >> 32) as u32 => hi,
            in("ebx") new as u32,
            in("ecx") (new >> 32) as u32,
            options(nostack),
        );
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Linux's `atomic64_t` (unsigned here, as `core`'s `AtomicU64`).
#[repr(C, align(8))]
pub struct AtomicU64 {
    v: UnsafeCell<u64>,
}

// SAFETY: every access after construction goes through cmpxchg64, which is
// atomic; the value is plain data.
unsafe impl Sync for AtomicU64 {}

impl AtomicU64 {
    /// A new atomic holding `v`.
    pub const fn new(v: u64) -> Self {
        Self { v: UnsafeCell::new(v) }
    }

    /// View 8 aligned bytes somewhere else (a page-table entry) as one.
    ///
    /// # Safety
    /// `ptr` is valid for reads and writes and 8-byte aligned for `'a`, and
    /// every concurrent access to it is atomic (as `core`'s `from_ptr`).
    pub unsafe fn from_ptr<'a>(ptr: *mut u64) -> &'a Self {
        // SAFETY: AtomicU64 is an UnsafeCell<u64> with u64's size; the
        // caller vouches for the rest.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn ptr(&self) -> *mut u64 {
        self.v.get()
    }

    /// A first guess for a `cmpxchg8b` loop: two 32-bit loads, low then
    /// high (Linux's `atomic64_*_cx8` start the same way). It may be torn
    /// or stale; the first `cmpxchg8b` then fails and hands back the truth.
    fn guess(&self) -> u64 {
        let p = self.ptr().cast::<u32>();
        // SAFETY: both halves of our own aligned u64; volatile because
        // other CPUs write it.
        let (lo, hi) = unsafe { (p.read_volatile(), p.add(1).read_volatile()) };
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// `atomic64_read`: a `cmpxchg8b` that compares with 0 and would store
    /// 0, which changes nothing whatever it finds, and returns what it read.
    pub fn load(&self, _: Ordering) -> u64 {
        // SAFETY: our own aligned u64.
        unsafe { cmpxchg64(self.ptr(), 0, 0) }
    }

    /// Apply `f` atomically; returns the value before (Linux's
    /// `atomic64_fetch_*` loops).
    fn rmw(&self, mut f: impl FnMut(u64) -> u64) -> u64 {
        let mut old = self.guess();
        loop {
            // SAFETY: our own aligned u64.
            let seen = unsafe { cmpxchg64(self.ptr(), old, f(old)) };
            if seen == old {
                return old;
            }
            old = seen;
        }
    }

    /// `atomic64_set`.
    pub fn store(&self, v: u64, _: Ordering) {
        self.rmw(|_| v);
    }

    /// `atomic64_xchg`.
    pub fn swap(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|_| v)
    }

    /// `atomic64_cmpxchg`, as `core`'s `compare_exchange`.
    pub fn compare_exchange(&self, current: u64, new: u64, _: Ordering, _: Ordering) -> Result<u64, u64> {
        // SAFETY: our own aligned u64.
        let seen = unsafe { cmpxchg64(self.ptr(), current, new) };
        if seen == current { Ok(seen) } else { Err(seen) }
    }

    /// `cmpxchg8b` never fails spuriously, so this is `compare_exchange`.
    pub fn compare_exchange_weak(&self, current: u64, new: u64, s: Ordering, f: Ordering) -> Result<u64, u64> {
        self.compare_exchange(current, new, s, f)
    }

    /// `atomic64_fetch_add` (wrapping, as `core`'s).
    pub fn fetch_add(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|x| x.wrapping_add(v))
    }

    /// `atomic64_fetch_sub` (wrapping).
    pub fn fetch_sub(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|x| x.wrapping_sub(v))
    }

    /// `atomic64_fetch_and`.
    pub fn fetch_and(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|x| x & v)
    }

    /// `atomic64_fetch_or`.
    pub fn fetch_or(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|x| x | v)
    }

    /// The larger of the value and `v` is stored; the old value returned.
    pub fn fetch_max(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|x| x.max(v))
    }

    /// The smaller of the value and `v` is stored; the old value returned.
    pub fn fetch_min(&self, v: u64, _: Ordering) -> u64 {
        self.rmw(|x| x.min(v))
    }

    /// As `core`'s: apply `f` until it succeeds or `f` says no (`None`).
    pub fn fetch_update(&self, _: Ordering, _: Ordering, mut f: impl FnMut(u64) -> Option<u64>) -> Result<u64, u64> {
        let mut old = self.guess();
        loop {
            let new = match f(old) {
                Some(new) => new,
                // The guess may have been torn: only a value read whole
                // may be refused.
                None => {
                    let real = self.load(Ordering::SeqCst);
                    if real == old {
                        return Err(old);
                    }
                    old = real;
                    continue;
                }
            };
            // SAFETY: our own aligned u64.
            let seen = unsafe { cmpxchg64(self.ptr(), old, new) };
            if seen == old {
                return Ok(old);
            }
            old = seen;
        }
    }

    /// The value, through exclusive access (no atomics needed).
    pub fn get_mut(&mut self) -> &mut u64 {
        self.v.get_mut()
    }

    /// The value, consuming the atomic.
    pub fn into_inner(self) -> u64 {
        self.v.into_inner()
    }
}

impl Default for AtomicU64 {
    fn default() -> Self {
        Self::new(0)
    }
}

impl core::fmt::Debug for AtomicU64 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.load(Ordering::SeqCst).fmt(f)
    }
}

/// Linux's `atomic64_t` as a signed value (`s64`): [`AtomicU64`]'s bits,
/// read as two's complement.
#[repr(transparent)]
#[derive(Default, Debug)]
pub struct AtomicI64(AtomicU64);

impl AtomicI64 {
    /// A new atomic holding `v`.
    pub const fn new(v: i64) -> Self {
        Self(AtomicU64::new(v as u64))
    }

    /// `atomic64_read`.
    pub fn load(&self, o: Ordering) -> i64 {
        self.0.load(o) as i64
    }

    /// `atomic64_set`.
    pub fn store(&self, v: i64, o: Ordering) {
        self.0.store(v as u64, o);
    }

    /// `atomic64_xchg`.
    pub fn swap(&self, v: i64, o: Ordering) -> i64 {
        self.0.swap(v as u64, o) as i64
    }

    /// `atomic64_cmpxchg`.
    pub fn compare_exchange(&self, current: i64, new: i64, s: Ordering, f: Ordering) -> Result<i64, i64> {
        self.0.compare_exchange(current as u64, new as u64, s, f).map(|v| v as i64).map_err(|v| v as i64)
    }

    /// `atomic64_fetch_add` (wrapping: two's complement makes it the
    /// unsigned add).
    pub fn fetch_add(&self, v: i64, o: Ordering) -> i64 {
        self.0.fetch_add(v as u64, o) as i64
    }

    /// `atomic64_fetch_sub` (wrapping).
    pub fn fetch_sub(&self, v: i64, o: Ordering) -> i64 {
        self.0.fetch_sub(v as u64, o) as i64
    }

    /// As `core`'s `fetch_update`, on signed values.
    pub fn fetch_update(&self, s: Ordering, f: Ordering, mut op: impl FnMut(i64) -> Option<i64>) -> Result<i64, i64> {
        self.0.fetch_update(s, f, |v| op(v as i64).map(|n| n as u64)).map(|v| v as i64).map_err(|v| v as i64)
    }
}
