//! Spinlocks (Linux `include/linux/spinlock.h`).
//!
//! A spinlock is held only for a short, non-sleeping stretch. Taking one
//! disables preemption, as in Linux: a task preempted while holding a lock
//! would make every other CPU that wants it spin for a whole time slice.
//! The `_irqsave` variants also disable interrupts on this CPU, which is
//! needed when an interrupt handler may take the same lock (otherwise the
//! handler would spin forever on a lock its own CPU holds).
//!
//! [`RawSpinLock`] is the bare lock for the few places that must release
//! it somewhere else than where they took it (the run-queue lock is taken by
//! one task before a context switch and released by the next).

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::cpu::{local_irq_restore, local_irq_save};
use crate::sched::preempt::{preempt_disable, preempt_enable};

/// A test-and-test-and-set lock with no preemption or interrupt handling.
pub struct RawSpinLock {
    locked: AtomicBool,
}

impl RawSpinLock {
    /// An unlocked lock.
    pub const fn new() -> Self {
        RawSpinLock { locked: AtomicBool::new(false) }
    }

    /// Spin until the lock is ours.
    pub fn lock(&self) {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            // Wait with plain reads so the cache line is not bounced.
            while self.locked.load(Ordering::Relaxed) {
                spin_loop();
            }
        }
    }

    /// Take the lock if it is free.
    pub fn try_lock(&self) -> bool {
        self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Release the lock.
    ///
    /// # Safety
    /// The caller (or the context that handed it over) must hold the lock.
    pub unsafe fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// Is somebody holding it? (For assertions and reports only.)
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

impl Default for RawSpinLock {
    fn default() -> Self {
        Self::new()
    }
}

/// A spinlock protecting a `T`.
pub struct SpinLock<T: ?Sized> {
    raw: RawSpinLock,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises all access to `data`.
unsafe impl<T: ?Sized + Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the data; T: Send suffices.
unsafe impl<T: ?Sized + Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock around `data`.
    pub const fn new(data: T) -> Self {
        SpinLock { raw: RawSpinLock::new(), data: UnsafeCell::new(data) }
    }
}

impl<T: ?Sized> SpinLock<T> {
    /// `spin_lock`: disable preemption, then spin.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        preempt_disable();
        self.raw.lock();
        SpinLockGuard { lock: self, irq_flags: None }
    }

    /// `spin_lock_irqsave`: disable interrupts and preemption, then spin.
    pub fn lock_irqsave(&self) -> SpinLockGuard<'_, T> {
        let flags = local_irq_save();
        preempt_disable();
        self.raw.lock();
        SpinLockGuard { lock: self, irq_flags: Some(flags) }
    }

    /// `spin_trylock`: take it only if it is free (preemption disabled on
    /// success).
    #[inline]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        preempt_disable();
        if self.raw.try_lock() {
            Some(SpinLockGuard { lock: self, irq_flags: None })
        } else {
            preempt_enable();
            None
        }
    }

    /// `spin_trylock_irqsave`: take it only if it is free.
    pub fn try_lock_irqsave(&self) -> Option<SpinLockGuard<'_, T>> {
        let flags = local_irq_save();
        preempt_disable();
        if self.raw.try_lock() {
            Some(SpinLockGuard { lock: self, irq_flags: Some(flags) })
        } else {
            preempt_enable();
            local_irq_restore(flags);
            None
        }
    }

    /// Is the lock held by anyone?
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

/// Access to the data; unlocks (and restores preemption and interrupts)
/// when dropped.
pub struct SpinLockGuard<'a, T: ?Sized> {
    lock: &'a SpinLock<T>,
    irq_flags: Option<u32>,
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock, so this is the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard exists only while the lock is held.
        unsafe { self.lock.raw.unlock() };
        match self.irq_flags {
            // Interrupts first back on only after preemption: preempt_enable
            // must not reschedule while interrupts are still off by us.
            Some(flags) => {
                crate::sched::preempt::preempt_enable_no_resched();
                local_irq_restore(flags);
                crate::sched::preempt::preempt_check_resched();
            }
            None => preempt_enable(),
        }
    }
}
