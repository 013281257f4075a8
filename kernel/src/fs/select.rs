//! `poll`, `ppoll` and `select` (Linux `fs/select.c`): wait until one of
//! several files is ready, or a timeout passes.
//!
//! ```text
//!  do_poll(fds, deadline):
//!    loop:
//!      queue ourselves on every file's wait queue, marked asleep
//!      ask each file its readiness (vfs_poll -> f_op->poll):
//!          fd < 0             -> ignored, revents 0
//!          fd not open        -> POLLNVAL
//!          the console        -> tty_poll(): a line (canonical), VMIN bytes
//!                                (raw), always writable
//!          a ramfs file, ...  -> DEFAULT_POLLMASK: always ready
//!      any ready, or the deadline passed -> off the queues, done
//!      else schedule() until a queue's waker or the deadline's timer
//! ```
//!
//! Checking after queueing is what makes it safe: input that comes between
//! the check and the sleep finds us on the tty's queue and wakes us (the
//! order of `wait_event`, sched/wait.rs). The sleep never spins.
//!
//! Where files come from: [`file_poll`] gives a file's readiness and
//! [`file_wait_queues`] the queues to sleep on; the console and pipes have
//! their own, every other file is always ready. A file kind with its own
//! readiness adds a case to both.

use alloc::vec::Vec;

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user, put_user};
use crate::errno::{EBADF, EFAULT, EINVAL, ERESTARTNOHAND};
use crate::fs::InodeKind;
use crate::fs::file::{Fd, NR_OPEN};
use crate::sched::core::{HZ, jiffies};
use crate::sched::wait::WaitQueue;
use crate::tty::pollbits::*;

/// What a file with no `poll` of its own answers (Linux `DEFAULT_POLLMASK`):
/// readable and writable, now and always. Regular files, directories and
/// `/dev/null` are like this on Linux too.
pub const DEFAULT_POLLMASK: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/// A file's readiness (Linux `vfs_poll`).
pub fn file_poll(file: &Fd) -> u16 {
    match file {
        Fd::Console => crate::tty::tty_poll(),
        Fd::File(f) => match &f.inode.kind {
            InodeKind::Pipe(p) => p.poll(f),
            _ => DEFAULT_POLLMASK,
        },
    }
}

/// The wait queues a poller of `file` sleeps on (what `f_op->poll` gives
/// `poll_wait`): none for a file that is always ready.
pub fn file_wait_queues(file: &Fd) -> Vec<&WaitQueue> {
    match file {
        Fd::Console => alloc::vec![&crate::tty::READ_WAIT],
        Fd::File(f) => match &f.inode.kind {
            InodeKind::Pipe(p) => p.wait_queues().to_vec(),
            _ => Vec::new(),
        },
    }
}

/// The queues of all `files`, each once.
fn queues_of(files: &[Fd]) -> Vec<&WaitQueue> {
    let mut queues: Vec<&WaitQueue> = Vec::new();
    for q in files.iter().flat_map(file_wait_queues) {
        if !queues.iter().any(|x| core::ptr::eq(*x, q)) {
            queues.push(q);
        }
    }
    queues
}

/// Sleep on `queues` until `cond()` holds or `deadline` (jiffies; `None`:
/// never) passes. Returns whether `cond()` held. Uninterruptible: for
/// kernel callers (tests, the console shell) that no signal may end; the
/// system calls use [`wait_until_interruptible`].
pub fn wait_until(queues: &[&WaitQueue], deadline: Option<u64>, mut cond: impl FnMut() -> bool) -> bool {
    if cond() {
        return true;
    }
    crate::sched::preempt::might_sleep();
    loop {
        if deadline.is_some_and(|d| jiffies() >= d) {
            return false;
        }
        let me = crate::sched::current_arc();
        for q in queues {
            q.prepare_to_wait();
        }
        let ready = cond();
        if !ready {
            match deadline {
                Some(d) => crate::sched::timer::schedule_timeout_prepared(d),
                None => crate::sched::schedule(),
            }
        }
        for q in queues {
            q.finish_wait(&me);
        }
        if ready || cond() {
            return true;
        }
    }
}

/// [`wait_until`] in `TASK_INTERRUPTIBLE` (Linux `poll_schedule_timeout`,
/// `wait_event_interruptible_timeout`): `Ok(ready)`, or
/// `Err(-ERESTARTSYS)` as soon as a signal is pending and `cond()` does not
/// hold. The order is wait_event's: queued and asleep first, then the
/// condition, then `signal_pending()`, so neither a wake-up nor a signal
/// that comes between the checks and `schedule()` is lost.
pub fn wait_until_interruptible(queues: &[&WaitQueue], deadline: Option<u64>, mut cond: impl FnMut() -> bool) -> Result<bool, i32> {
    if cond() {
        return Ok(true);
    }
    crate::sched::preempt::might_sleep();
    loop {
        if deadline.is_some_and(|d| jiffies() >= d) {
            return Ok(false);
        }
        let mut me = None;
        for q in queues {
            me = Some(q.prepare_to_wait_interruptible());
        }
        let me = me.unwrap_or_else(|| {
            // No queue (a poll of no descriptors): asleep for the timer only.
            let me = crate::sched::current_arc();
            me.state.store(crate::sched::task::TASK_INTERRUPTIBLE, core::sync::atomic::Ordering::SeqCst);
            me
        });
        let ready = cond();
        let pending = !ready && crate::signal::signal_pending();
        if !ready && !pending {
            match deadline {
                Some(d) => crate::sched::timer::schedule_timeout_prepared(d),
                None => crate::sched::schedule(),
            }
        }
        for q in queues {
            q.finish_wait(&me);
        }
        me.state.store(crate::sched::task::TASK_RUNNING, core::sync::atomic::Ordering::SeqCst);
        if ready || cond() {
            return Ok(true);
        }
        if pending || crate::signal::signal_pending() {
            return Err(-crate::errno::ERESTARTSYS);
        }
    }
}

/// A deadline `ms` milliseconds from now (`None` for a negative `ms`:
/// wait for ever). One tick more than the time, as msleep does: the tick in
/// progress may end at once, and the wait must last at least `ms`.
fn deadline_ms(ms: i64) -> Option<u64> {
    if ms < 0 {
        return None;
    }
    if ms == 0 {
        return Some(jiffies());
    }
    Some(jiffies() + (ms as u64 * HZ).div_ceil(1000) + 1)
}

/// One `struct pollfd`: `int fd; short events; short revents;`.
#[derive(Clone, Copy)]
struct PollFd {
    fd: i32,
    events: u16,
    revents: u16,
}

/// Poll every entry once, filling `revents` (Linux `do_pollfd`); the
/// number of entries with something to say. The files found go to `held`.
fn poll_once(fds: &mut [PollFd], held: &mut Vec<Fd>) -> usize {
    let mut count = 0;
    for p in fds.iter_mut() {
        p.revents = 0;
        if p.fd < 0 {
            continue;
        }
        let file = crate::sched::current().files.lock().get(p.fd);
        p.revents = match file {
            None => POLLNVAL,
            Some(f) => {
                // POLLERR and POLLHUP are reported whether asked or not.
                let mask = file_poll(&f) & (p.events | POLLERR | POLLHUP);
                held.push(f);
                mask
            }
        };
        if p.revents != 0 {
            count += 1;
        }
    }
    count
}

/// The loop of `poll`/`ppoll` (Linux `do_sys_poll` + `do_poll`): `-EINVAL`
/// for more entries than RLIMIT_NOFILE, `-EFAULT` for an array that cannot
/// be read, or whose `revents` cannot be written back.
fn do_sys_poll(ufds: usize, nfds: u32, deadline: Option<u64>) -> i32 {
    if nfds as usize > NR_OPEN {
        return -EINVAL;
    }
    let n = nfds as usize;
    let mut raw = alloc::vec![0u8; n * 8];
    if copy_from_user(&mut raw, ufds) != 0 {
        return -EFAULT;
    }
    let mut fds: Vec<PollFd> = raw
        .chunks(8)
        .map(|c| PollFd {
            fd: i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            events: u16::from_le_bytes([c[4], c[5]]),
            revents: 0,
        })
        .collect();
    // The files stay held (and their queues valid) while we sleep.
    let mut held = Vec::new();
    let mut count = poll_once(&mut fds, &mut held);
    if count == 0 {
        let queues = queues_of(&held);
        // A signal ends the wait: -ERESTARTNOHAND (Linux do_poll): the
        // call is restarted unless a handler ran, which sees -EINTR. (Linux
        // restarts a poll with a timeout through a restart block that
        // counts the time already slept; ours restarts with the full one.)
        if wait_until_interruptible(&queues, deadline, || {
            let mut more = Vec::new();
            count = poll_once(&mut fds, &mut more);
            count != 0
        })
        .is_err()
        {
            return -ERESTARTNOHAND;
        }
    }
    for (i, p) in fds.iter().enumerate() {
        if put_user(p.revents, ufds + i * 8 + 6).is_err() {
            return -EFAULT;
        }
    }
    count as i32
}

/// `poll(ufds, nfds, timeout_ms)` (i386 168): a negative timeout waits for
/// ever, 0 not at all. Returns how many entries have a non-zero `revents`.
pub fn sys_poll(regs: &mut PtRegs) -> i32 {
    do_sys_poll(regs.bx as usize, regs.cx, deadline_ms(regs.dx as i32 as i64))
}

/// Read a `struct old_timespec32`/`old_timeval32` (two 32-bit words) and
/// turn it into milliseconds, rounding up; `sub` is the second word's units
/// per second. `-EINVAL` for a negative or malformed one (Linux
/// `poll_select_set_timeout`).
fn read_time(ptr: usize, sub: i64) -> Result<i64, i32> {
    let mut b = [0u8; 8];
    if copy_from_user(&mut b, ptr) != 0 {
        return Err(-EFAULT);
    }
    let sec = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64;
    let frac = i32::from_le_bytes([b[4], b[5], b[6], b[7]]) as i64;
    if sec < 0 || !(0..sub).contains(&frac) {
        return Err(-EINVAL);
    }
    Ok(sec * 1000 + (frac * 1000 + sub - 1) / sub)
}

/// Write back the time left until `deadline` (Linux `poll_select_finish`:
/// select and ppoll tell how much of the timeout was not used). A failure
/// is ignored, as Linux does: the call itself succeeded.
fn write_time_left(ptr: usize, deadline: Option<u64>, sub: i64) {
    let Some(d) = deadline else { return };
    let left_ms = d.saturating_sub(jiffies()) * 1000 / HZ;
    let sec = (left_ms / 1000) as i32;
    let frac = ((left_ms % 1000) as i64 * sub / 1000) as i32;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&sec.to_le_bytes());
    b[4..].copy_from_slice(&frac.to_le_bytes());
    let _ = copy_to_user(ptr, &b);
}

/// `ppoll(ufds, nfds, tsp, sigmask, sigsetsize)` (i386 309): `poll` with a
/// `struct timespec` (NULL: for ever) and a signal mask for the wait.
/// `-EINVAL` for a bad timespec or a `sigsetsize` other than 8; the time
/// left is written back. There are no signals yet, so the mask, once read
/// (`-EFAULT` if it cannot be), changes nothing.
pub fn sys_ppoll(regs: &mut PtRegs) -> i32 {
    let (ufds, nfds, tsp, sigmask, sigsetsize) = (regs.bx as usize, regs.cx, regs.dx as usize, regs.si as usize, regs.di);
    let deadline = if tsp == 0 {
        None
    } else {
        match read_time(tsp, 1_000_000_000) {
            Ok(ms) => deadline_ms(ms),
            Err(e) => return e,
        }
    };
    if sigmask != 0 {
        if sigsetsize != 8 {
            return -EINVAL;
        }
        let mut m = [0u8; 8];
        if copy_from_user(&mut m, sigmask) != 0 {
            return -EFAULT;
        }
    }
    let r = do_sys_poll(ufds, nfds, deadline);
    if tsp != 0 && r >= 0 {
        write_time_left(tsp, deadline, 1_000_000_000);
    }
    r
}

/// select's three sets (Linux `POLLIN_SET`, `POLLOUT_SET`, `POLLEX_SET`).
const POLLIN_SET: u16 = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET: u16 = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET: u16 = POLLPRI;

/// The size of the descriptor table as select sees it (Linux
/// `fdt->max_fds`): 32 on i386 (`NR_OPEN_DEFAULT` = BITS_PER_LONG) until a
/// descriptor at 32 or above is used, then a multiple of 256 (the
/// table grows by `expand_fdtable`'s rounding).
fn max_fds() -> usize {
    let files = crate::sched::current().files.lock();
    let top = (0..NR_OPEN).rev().find(|&i| files.get(i as i32).is_some()).unwrap_or(0);
    if top < 32 { 32 } else { ((top / 256 + 1).next_power_of_two() * 256).min(NR_OPEN) }
}

/// `_newselect(n, inp, outp, exp, tvp)` (i386 142): the fds below `n` set
/// in the three bitmaps, each checked for reading, writing, exceptions.
/// Returns the number of bits set in the results, which replace the sets.
/// `-EINVAL` for a negative `n` or a bad timeval, `-EBADF` for a set bit
/// naming a descriptor that is not open, `-EFAULT` for a set that cannot
/// be read or written; `n` beyond the table is cut to it, as Linux does.
pub fn sys_select(regs: &mut PtRegs) -> i32 {
    let (n, ptrs, tvp) = (regs.bx as i32, [regs.cx as usize, regs.dx as usize, regs.si as usize], regs.di as usize);
    if n < 0 {
        return -EINVAL;
    }
    let deadline = if tvp == 0 {
        None
    } else {
        match read_time(tvp, 1_000_000) {
            Ok(ms) => deadline_ms(ms),
            Err(e) => return e,
        }
    };
    let n = (n as usize).min(max_fds());
    // Linux copies whole longs: (n + 31) / 32 words of each set.
    let bytes = n.div_ceil(32) * 4;
    let mut sets = [alloc::vec![0u8; bytes], alloc::vec![0u8; bytes], alloc::vec![0u8; bytes]];
    for (set, &p) in sets.iter_mut().zip(&ptrs) {
        if p != 0 && copy_from_user(set, p) != 0 {
            return -EFAULT;
        }
    }
    let bit = |s: &Vec<u8>, fd: usize| s[fd / 8] & (1 << (fd % 8)) != 0;
    let wanted: Vec<usize> = (0..n).filter(|&fd| sets.iter().any(|s| bit(s, fd))).collect();
    let mut held = Vec::new();
    {
        let files = crate::sched::current().files.lock();
        for &fd in &wanted {
            let Some(f) = files.get(fd as i32) else { return -EBADF };
            held.push(f);
        }
    }
    let queues = queues_of(&held);
    let mut res = [alloc::vec![0u8; bytes], alloc::vec![0u8; bytes], alloc::vec![0u8; bytes]];
    let mut count = 0;
    let scan = |res: &mut [Vec<u8>; 3]| -> Result<usize, i32> {
        let mut count = 0;
        for r in res.iter_mut() {
            r.fill(0);
        }
        for &fd in &wanted {
            let file = crate::sched::current().files.lock().get(fd as i32);
            let Some(f) = file else { return Err(-EBADF) };
            let mask = file_poll(&f);
            for (i, want) in [POLLIN_SET, POLLOUT_SET, POLLEX_SET].into_iter().enumerate() {
                if bit(&sets[i], fd) && mask & want != 0 {
                    res[i][fd / 8] |= 1 << (fd % 8);
                    count += 1;
                }
            }
        }
        Ok(count)
    };
    let mut err = 0;
    // A signal: -ERESTARTNOHAND, as poll (Linux do_select).
    if wait_until_interruptible(&queues, deadline, || match scan(&mut res) {
        Ok(c) => {
            count = c;
            c != 0
        }
        Err(e) => {
            err = e;
            true
        }
    })
    .is_err()
    {
        return -ERESTARTNOHAND;
    }
    if err != 0 {
        return err;
    }
    for (r, &p) in res.iter().zip(&ptrs) {
        if p != 0 && copy_to_user(p, r) != 0 {
            return -EFAULT;
        }
    }
    if tvp != 0 {
        write_time_left(tvp, deadline, 1_000_000);
    }
    count as i32
}
