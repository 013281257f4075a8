//! A sleeping mutex (Linux `struct mutex`, without optimistic spinning).
//!
//! Unlike a spinlock, a task that cannot get the mutex sleeps on the
//! mutex's wait queue, so the mutex may be held across anything that sleeps
//! (kmap, page allocation, I/O). Taking it therefore `might_sleep()`.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::sched::wait::WaitQueue;

/// A mutex protecting a `T`.
pub struct Mutex<T: ?Sized> {
    locked: AtomicBool,
    /// Id of the owning task, for reports (u32::MAX when free).
    owner: AtomicU32,
    waiters: WaitQueue,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises access to `data`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: as for any container of T.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex.
    pub const fn new(data: T) -> Self {
        Mutex { locked: AtomicBool::new(false), owner: AtomicU32::new(u32::MAX), waiters: WaitQueue::new(), data: UnsafeCell::new(data) }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Take the mutex, sleeping while someone else holds it.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        crate::sched::preempt::might_sleep();
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            self.waiters.wait_event(|| !self.locked.load(Ordering::Acquire));
        }
    }

    /// Take the mutex if it is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            self.owner.store(crate::sched::current_opt().map_or(0, |t| t.id()), Ordering::Relaxed);
            Some(MutexGuard { mutex: self })
        } else {
            None
        }
    }

    /// Id of the task holding it, if any.
    pub fn owner(&self) -> Option<u32> {
        self.locked.load(Ordering::Relaxed).then(|| self.owner.load(Ordering::Relaxed))
    }
}

/// Access to the data; unlocks and wakes a waiter when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the mutex.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the mutex, so this is the only reference.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.owner.store(u32::MAX, Ordering::Relaxed);
        self.mutex.locked.store(false, Ordering::Release);
        self.mutex.waiters.wake_up_one();
    }
}
