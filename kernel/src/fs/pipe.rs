//! Pipes (Linux `fs/pipe.c`, as in 6.1): `pipe`, `pipe2`, and the read and
//! write paths of a pipe's two open files.
//!
//! A pipe is a ring of [`PIPE_DEF_BUFFERS`] (16) buffers, each a page with
//! an offset and a length (Linux `struct pipe_buffer`). `head` counts the
//! buffers ever filled, `tail` those ever emptied; both only grow (wrapping)
//! and `head - tail` is how many hold data, so the ring needs no "full" flag.
//!
//! ```text
//!   tail                         head
//!    v                            v
//!  [ buf | buf | buf |   |   | ... ]    16 slots, slot = index & 15
//!   page  page  page                    GFP_HIGHUSER: highmem at -m 3G
//!   off   off   off+len <- a small write is merged here (CAN_MERGE)
//! ```
//!
//! The pages come from `GFP_HIGHUSER` (Linux: `GFP_HIGHUSER | __GFP_ACCOUNT`;
//! the accounting is for memory cgroups, which we do not have), so on a
//! machine with highmem they are highmem and the kernel has no permanent
//! address for them. Every copy maps the page with `kmap_local_page` and
//! copies to or from the user's buffer with `copy_to_user` /
//! `copy_from_user` *inside* that mapping (Linux `copy_page_to_iter` /
//! `copy_page_from_iter`): the user's buffer may be untouched, and the copy
//! then takes the page fault, which may sleep, while the pipe page stays
//! mapped. That is legal with kmap_local (the mapping is per task and is
//! restored when the task runs again) and would not be with kmap_atomic.
//!
//! The rules a program sees, all Linux's:
//!
//! * a read takes what is there (up to its count) and returns; it waits only
//!   when the pipe is empty, and returns 0 (end of file) when it is empty
//!   and no writer is left;
//! * a write of at most [`PIPE_BUF`] bytes is atomic: it goes into the pipe
//!   in one piece, never interleaved with another writer's bytes (it is
//!   copied with the pipe's mutex held, into the last buffer if it fits
//!   there, else into one fresh page);
//! * a write with no reader left fails with `EPIPE` (and `SIGPIPE`);
//! * with `O_NONBLOCK`, what would wait fails with `EAGAIN` instead.
//!
//! Locking: `mutex` (Linux `pipe->mutex`, a sleeping mutex, so a fault in a
//! copy may sleep with it held) guards the buffers. `head`, `tail`,
//! `readers` and `writers` are atomics changed under it (the counts also by
//! `release`, which must not sleep), so a task waiting on `rd_wait` /
//! `wr_wait` can test "readable" / "writable" without the mutex, as
//! Linux's `pipe_readable()` reads them with `READ_ONCE`.
//!
//! Differences from Linux 6.1: waiters are woken all at once
//! (`wake_up_all`) where Linux uses exclusive waits and wakes the next
//! waiter in turn (fewer wake-ups, same result); `F_SETPIPE_SZ`, splice and notification pipes
//! (`O_NOTIFICATION_PIPE`: `-ENOPKG`, as a Linux built without
//! `CONFIG_WATCH_QUEUE`) are not here.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use mm::gfp::GFP_HIGHUSER;
use mm::layout::PAGE_SIZE;
use mm::page::Page;

use super::file::{Fd, File, O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_RDONLY, O_WRONLY};
use super::{Inode, InodeKind};
use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EAGAIN, EFAULT, EINVAL, ENFILE, ENOMEM, ENOPKG, EPIPE, ERESTARTSYS};
use crate::locking::Mutex;
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::{__free_pages, alloc_pages};
use crate::sched::wait::WaitQueue;

/// Buffers in a pipe's ring (Linux `PIPE_DEF_BUFFERS`): 16 pages, 64 KiB.
pub const PIPE_DEF_BUFFERS: usize = 16;
/// Writes of at most this many bytes are atomic (POSIX `PIPE_BUF`; Linux's
/// is a page).
pub const PIPE_BUF: usize = PAGE_SIZE;
/// `O_NOTIFICATION_PIPE` (`O_EXCL`): a watch-queue pipe.
const O_NOTIFICATION_PIPE: u32 = 0o200;

/// A buffer may take more bytes at its end (Linux `PIPE_BUF_FLAG_CAN_MERGE`).
const PIPE_BUF_FLAG_CAN_MERGE: u32 = 0x10;
/// A packet of an `O_DIRECT` pipe: read whole or cut (Linux
/// `PIPE_BUF_FLAG_PACKET`).
const PIPE_BUF_FLAG_PACKET: u32 = 0x08;

/// Pages the pipes have taken from the allocator, and how many of them
/// were highmem (for `meminfo` and the tests).
pub static PIPE_PAGES_ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// See [`PIPE_PAGES_ALLOCATED`].
pub static PIPE_HIGHMEM_PAGES_ALLOCATED: AtomicU64 = AtomicU64::new(0);

/// One buffer of the ring (Linux `struct pipe_buffer`): bytes
/// `[offset, offset + len)` of `page`.
#[derive(Clone, Copy)]
struct PipeBuffer {
    page: &'static Page,
    offset: usize,
    len: usize,
    flags: u32,
}

/// What the pipe's mutex guards.
struct PipeRing {
    bufs: [Option<PipeBuffer>; PIPE_DEF_BUFFERS],
    /// A page kept from the last emptied buffer for the next write (Linux
    /// `pipe->tmp_page`): a steady stream through a pipe allocates nothing.
    tmp_page: Option<&'static Page>,
}

/// A pipe (Linux `struct pipe_inode_info`).
pub struct PipeInodeInfo {
    mutex: Mutex<PipeRing>,
    head: AtomicU32,
    tail: AtomicU32,
    /// Open files that read from it / write to it (Linux counts struct
    /// files: a `dup` or a `fork` shares one and counts nothing).
    readers: AtomicU32,
    writers: AtomicU32,
    /// Readers wait here for data or for the last writer to go.
    rd_wait: WaitQueue,
    /// Writers wait here for room or for the last reader to go.
    wr_wait: WaitQueue,
}

const MASK: u32 = PIPE_DEF_BUFFERS as u32 - 1;

fn pipe_empty(head: u32, tail: u32) -> bool {
    head == tail
}

fn pipe_full(head: u32, tail: u32) -> bool {
    head.wrapping_sub(tail) >= PIPE_DEF_BUFFERS as u32
}

/// Copy `len` bytes at `offset` of `page` to the user address `to` (Linux
/// `copy_page_to_iter` for a user buffer): the page is mapped with
/// kmap_local for the copy, which may fault on the user's buffer and sleep
/// with the mapping held. Returns the bytes copied.
fn copy_page_to_iter(page: &Page, offset: usize, len: usize, to: usize) -> usize {
    debug_assert!(offset + len <= PAGE_SIZE);
    let vaddr = kmap_local_page(page);
    // SAFETY: kmap_local_page mapped the whole page at vaddr for this task
    // until the kunmap_local below; offset + len <= PAGE_SIZE; the pipe's
    // mutex keeps the buffer ours.
    let src = unsafe { core::slice::from_raw_parts((vaddr + offset) as *const u8, len) };
    let left = copy_to_user(to, src);
    kunmap_local(vaddr);
    len - left
}

/// Copy `len` bytes from the user address `from` into `page` at `offset`
/// (Linux `copy_page_from_iter`), under kmap_local, faults allowed.
/// Returns the bytes copied.
fn copy_page_from_iter(page: &Page, offset: usize, len: usize, from: usize) -> usize {
    debug_assert!(offset + len <= PAGE_SIZE);
    let vaddr = kmap_local_page(page);
    // SAFETY: as above; the bytes written are in the mapped page, in a
    // buffer that only the pipe's mutex holder touches.
    let dst = unsafe { core::slice::from_raw_parts_mut((vaddr + offset) as *mut u8, len) };
    let left = copy_from_user(dst, from);
    kunmap_local(vaddr);
    len - left
}

/// Send `sig` to `task` (Linux `send_sig`, kernel/src/signal.rs).
fn send_sig(sig: u32, task: &crate::sched::task::Task) {
    crate::signal::send_sig(sig as i32, task);
}

/// `SIGPIPE`'s number.
const SIGPIPE: u32 = 13;

impl PipeInodeInfo {
    /// An empty pipe with no reader and no writer yet (Linux
    /// `alloc_pipe_info`).
    fn new() -> Self {
        PipeInodeInfo {
            mutex: Mutex::new(PipeRing { bufs: [None; PIPE_DEF_BUFFERS], tmp_page: None }),
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            readers: AtomicU32::new(0),
            writers: AtomicU32::new(0),
            rd_wait: WaitQueue::new(),
            wr_wait: WaitQueue::new(),
        }
    }

    /// Something to read, or no writer left (Linux `pipe_readable`).
    fn readable(&self) -> bool {
        !pipe_empty(self.head.load(Ordering::Acquire), self.tail.load(Ordering::Acquire)) || self.writers.load(Ordering::Acquire) == 0
    }

    /// Room to write, or no reader left (Linux `pipe_writable`).
    fn writable(&self) -> bool {
        !pipe_full(self.head.load(Ordering::Acquire), self.tail.load(Ordering::Acquire)) || self.readers.load(Ordering::Acquire) == 0
    }

    fn is_full(&self) -> bool {
        pipe_full(self.head.load(Ordering::Acquire), self.tail.load(Ordering::Acquire))
    }

    fn is_empty(&self) -> bool {
        pipe_empty(self.head.load(Ordering::Acquire), self.tail.load(Ordering::Acquire))
    }

    /// Bytes waiting in the pipe (Linux's `FIONREAD` answer).
    pub fn bytes_queued(&self) -> usize {
        self.mutex.lock().bufs.iter().flatten().map(|b| b.len).sum()
    }

    /// The pages holding data now, in ring order (for tests: are they
    /// highmem?).
    pub fn buffer_pages(&self) -> alloc::vec::Vec<&'static Page> {
        let ring = self.mutex.lock();
        let (head, tail) = (self.head.load(Ordering::Acquire), self.tail.load(Ordering::Acquire));
        (0..head.wrapping_sub(tail)).filter_map(|i| ring.bufs[(tail.wrapping_add(i) & MASK) as usize].map(|b| b.page)).collect()
    }

    /// The pipe's readiness for `file`, one of its ends (Linux `pipe_poll`):
    /// a read end is readable when data waits and hung up (POLLHUP) when no
    /// writer is left; a write end is writable while there is room, and in
    /// error (POLLERR) when no reader is left.
    pub fn poll(&self, file: &File) -> u16 {
        use crate::tty::pollbits::*;
        let (head, tail) = (self.head.load(Ordering::Acquire), self.tail.load(Ordering::Acquire));
        let mut mask = 0;
        if file.readable() {
            if !pipe_empty(head, tail) {
                mask |= POLLIN | POLLRDNORM;
            }
            if self.writers.load(Ordering::Acquire) == 0 {
                mask |= POLLHUP;
            }
        }
        if file.writable() {
            if !pipe_full(head, tail) {
                mask |= POLLOUT | POLLWRNORM;
            }
            if self.readers.load(Ordering::Acquire) == 0 {
                mask |= POLLERR;
            }
        }
        mask
    }

    /// The queues a poller of this pipe sleeps on (what `pipe_poll` gives
    /// `poll_wait`): readers' and writers'.
    pub fn wait_queues(&self) -> [&WaitQueue; 2] {
        [&self.rd_wait, &self.wr_wait]
    }

    /// Tasks asleep in `read` / in `write` on this pipe (for tests: a
    /// blocked reader sleeps on the queue, it does not spin).
    pub fn waiters(&self) -> (usize, usize) {
        (self.rd_wait.len(), self.wr_wait.len())
    }

    /// Give an emptied buffer's page back (Linux `anon_pipe_buf_release`):
    /// kept as the next write's page if none is kept, else freed.
    fn release_buf(ring: &mut PipeRing, buf: PipeBuffer) {
        if ring.tmp_page.is_none() {
            ring.tmp_page = Some(buf.page);
        } else {
            __free_pages(buf.page, 0);
        }
    }

    /// `read()` of the pipe's read end (Linux `pipe_read`): up to
    /// `total_len` bytes to the user address `to`. The bytes read; 0 at end
    /// of file; `-EAGAIN` (`O_NONBLOCK`, empty), `-EFAULT` (nothing could be
    /// stored: the bytes stay in the pipe).
    pub fn read(&self, file: &File, to: usize, total_len: usize) -> i32 {
        if total_len == 0 {
            return 0; // a null read succeeds
        }
        let mut total_len = total_len;
        let mut ret: usize = 0;
        let mut err = 0;
        let mut ring = self.mutex.lock();
        let mut was_full = self.is_full();
        loop {
            let head = self.head.load(Ordering::Acquire);
            let mut tail = self.tail.load(Ordering::Relaxed);
            if !pipe_empty(head, tail) {
                let slot = (tail & MASK) as usize;
                let mut buf = ring.bufs[slot].expect("a buffer between tail and head");
                let chars = buf.len.min(total_len);
                // The pipe page is kmap_local-mapped inside; the copy may
                // fault on the user's buffer and sleep there.
                let written = copy_page_to_iter(buf.page, buf.offset, chars, to + ret);
                if written < chars {
                    if ret == 0 {
                        err = EFAULT;
                    }
                    break;
                }
                ret += chars;
                buf.offset += chars;
                buf.len -= chars;
                if buf.flags & PIPE_BUF_FLAG_PACKET != 0 {
                    // A packet is read whole or its rest is dropped.
                    total_len = chars;
                    buf.len = 0;
                }
                if buf.len == 0 {
                    ring.bufs[slot] = None;
                    Self::release_buf(&mut ring, buf);
                    tail = tail.wrapping_add(1);
                    self.tail.store(tail, Ordering::Release);
                } else {
                    ring.bufs[slot] = Some(buf);
                }
                total_len -= chars;
                if total_len == 0 {
                    break; // the common case: the read is satisfied
                }
                if !pipe_empty(head, tail) {
                    continue;
                }
            }
            if self.writers.load(Ordering::Acquire) == 0 {
                break; // end of file (or what was there)
            }
            if ret != 0 {
                break;
            }
            if file.nonblock() {
                err = EAGAIN;
                break;
            }
            drop(ring);
            // We read nothing: if the pipe was full, writers may wait for
            // the room we made before (none, here) - wake them anyway as
            // Linux does, then sleep until there is data or no writer.
            if was_full {
                self.wr_wait.wake_up_all();
            }
            // Interruptible (Linux pipe_read): a signal ends the wait with
            // -ERESTARTSYS, restarted or -EINTR by the signal code.
            if self.rd_wait.wait_event_interruptible(|| self.readable()).is_err() {
                return -ERESTARTSYS;
            }
            ring = self.mutex.lock();
            was_full = self.is_full();
        }
        drop(ring);
        if was_full {
            self.wr_wait.wake_up_all();
        }
        if err != 0 { -err } else { ret as i32 }
    }

    /// `write()` of the pipe's write end (Linux `pipe_write`): `total_len`
    /// bytes from the user address `from`. The bytes written; `-EPIPE` with
    /// no reader (and SIGPIPE), `-EAGAIN` (`O_NONBLOCK`, full), `-EFAULT`
    /// (nothing could be read from the user), `-ENOMEM` (no page).
    pub fn write(&self, file: &File, from: usize, total_len: usize) -> i32 {
        if total_len == 0 {
            return 0; // a null write succeeds
        }
        let mut ring = self.mutex.lock();
        if self.readers.load(Ordering::Acquire) == 0 {
            drop(ring);
            send_sig(SIGPIPE, crate::sched::current());
            return -EPIPE;
        }
        let mut done: usize = 0;
        let mut err = 0;
        let head = self.head.load(Ordering::Relaxed);
        let mut was_empty = pipe_empty(head, self.tail.load(Ordering::Acquire));
        // If it wasn't empty, try to merge the tail of this write (the part
        // that is not a whole number of pages) into the last buffer: small
        // writes share a page, and large ones stay page-aligned.
        let chars = total_len & (PAGE_SIZE - 1);
        'out: {
            if chars != 0 && !was_empty {
                let slot = (head.wrapping_sub(1) & MASK) as usize;
                let mut buf = ring.bufs[slot].expect("the last buffer");
                let offset = buf.offset + buf.len;
                if buf.flags & PIPE_BUF_FLAG_CAN_MERGE != 0 && offset + chars <= PAGE_SIZE {
                    let copied = copy_page_from_iter(buf.page, offset, chars, from);
                    if copied < chars {
                        err = EFAULT;
                        break 'out;
                    }
                    buf.len += copied;
                    ring.bufs[slot] = Some(buf);
                    done += copied;
                    if done == total_len {
                        break 'out;
                    }
                }
            }
            loop {
                if self.readers.load(Ordering::Acquire) == 0 {
                    send_sig(SIGPIPE, crate::sched::current());
                    if done == 0 {
                        err = EPIPE;
                    }
                    break;
                }
                let head = self.head.load(Ordering::Relaxed);
                if !pipe_full(head, self.tail.load(Ordering::Acquire)) {
                    let page = match ring.tmp_page.take() {
                        Some(p) => p,
                        None => match alloc_pages(GFP_HIGHUSER, 0) {
                            Some(p) => {
                                PIPE_PAGES_ALLOCATED.fetch_add(1, Ordering::Relaxed);
                                if crate::mm::page_alloc::PageHighMem(p) {
                                    PIPE_HIGHMEM_PAGES_ALLOCATED.fetch_add(1, Ordering::Relaxed);
                                }
                                p
                            }
                            None => {
                                if done == 0 {
                                    err = ENOMEM;
                                }
                                break;
                            }
                        },
                    };
                    // The slot is taken before the copy, with an empty
                    // buffer: if the copy faults, a reader consumes (and
                    // frees) the empty buffer, as in Linux.
                    let flags = if file.f_flags() & O_DIRECT != 0 { PIPE_BUF_FLAG_PACKET } else { PIPE_BUF_FLAG_CAN_MERGE };
                    let slot = (head & MASK) as usize;
                    ring.bufs[slot] = Some(PipeBuffer { page, offset: 0, len: 0, flags });
                    self.head.store(head.wrapping_add(1), Ordering::Release);
                    let n = (total_len - done).min(PAGE_SIZE);
                    let copied = copy_page_from_iter(page, 0, n, from + done);
                    if copied < n {
                        if done == 0 {
                            err = EFAULT;
                        }
                        break;
                    }
                    ring.bufs[slot] = Some(PipeBuffer { page, offset: 0, len: copied, flags });
                    done += copied;
                    if done == total_len {
                        break;
                    }
                }
                if !self.is_full() {
                    continue;
                }
                // Full: wait for room, or fail at once with O_NONBLOCK.
                if file.nonblock() {
                    if done == 0 {
                        err = EAGAIN;
                    }
                    break;
                }
                drop(ring);
                if was_empty {
                    self.rd_wait.wake_up_all();
                }
                // Interruptible (Linux pipe_write): what was written so
                // far, or -ERESTARTSYS if nothing was.
                if self.wr_wait.wait_event_interruptible(|| self.writable()).is_err() {
                    return if done != 0 { done as i32 } else { -ERESTARTSYS };
                }
                ring = self.mutex.lock();
                was_empty = self.is_empty();
            }
        }
        drop(ring);
        // Readers sleep only on an empty pipe: wake them if it was empty.
        if was_empty {
            self.rd_wait.wake_up_all();
        }
        if err != 0 { -err } else { done as i32 }
    }

    /// One open file of the pipe is gone (Linux `pipe_release`): count it
    /// off and wake both sides, so a reader sees end of file and a writer
    /// `EPIPE`. Runs where a `File` is dropped, perhaps under a spinlock:
    /// it takes no mutex and does not sleep.
    pub fn release(&self, reader: bool, writer: bool) {
        if reader {
            self.readers.fetch_sub(1, Ordering::AcqRel);
        }
        if writer {
            self.writers.fetch_sub(1, Ordering::AcqRel);
        }
        self.rd_wait.wake_up_all();
        self.wr_wait.wake_up_all();
    }
}

impl Drop for PipeInodeInfo {
    /// The pipe's last open file is gone (Linux `free_pipe_info`): its
    /// pages go back.
    fn drop(&mut self) {
        // The last reference: nobody else can hold the mutex. (Not
        // lock(): this may run under a spinlock, where might_sleep objects.)
        let mut ring = self.mutex.try_lock().expect("the last reference to a pipe holds its mutex free");
        for buf in ring.bufs.iter_mut().filter_map(Option::take) {
            __free_pages(buf.page, 0);
        }
        if let Some(p) = ring.tmp_page.take() {
            __free_pages(p, 0);
        }
    }
}

/// A new pipe and its two open files, read end first (Linux
/// `create_pipe_files`): `O_RDONLY` and `O_WRONLY`, each with the
/// `O_NONBLOCK` / `O_DIRECT` of `flags`.
///
/// Each object is a fallible allocation (mm/heap.rs), with Linux's
/// errors: no `pipe_inode_info` or inode (`get_pipe_inode` returns NULL)
/// is `-ENFILE`; no `struct file` (`alloc_file_pseudo`,
/// `alloc_file_clone`) is `-ENOMEM`. What was made is dropped again
/// (a dropped end lets go of its side of the pipe).
pub fn create_pipe_files(flags: u32) -> Result<(Arc<File>, Arc<File>), i32> {
    let pipe = crate::mm::heap::try_arc(PipeInodeInfo::new()).map_err(|_| -ENFILE)?;
    pipe.readers.store(1, Ordering::Relaxed);
    pipe.writers.store(1, Ordering::Relaxed);
    let inode = Inode::try_new_anon(0o600, InodeKind::Pipe(pipe)).map_err(|_| -ENFILE)?;
    let status = flags & (O_NONBLOCK | O_DIRECT);
    // Linux makes the write end first, then its clone for reading.
    let w = File::try_new(inode.clone(), O_WRONLY | status).map_err(|e| -e.errno())?;
    let r = File::try_new(inode, O_RDONLY | status).map_err(|e| -e.errno())?;
    Ok((r, w))
}

/// `pipe2(fildes, flags)` (i386 331): a pipe; its read end's descriptor
/// goes to `fildes[0]`, the write end's to `fildes[1]`. `EINVAL` for a
/// flag other than `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT`; `EMFILE` if two
/// descriptors are not free; `EFAULT` if `fildes` cannot be written, and
/// then neither descriptor stays open (Linux reserves both, copies, and
/// installs only on success).
pub fn sys_pipe2(regs: &mut PtRegs) -> i32 {
    do_pipe2(regs.bx as usize, regs.cx)
}

/// `pipe(fildes)` (i386 42): `pipe2` with no flags.
pub fn sys_pipe(regs: &mut PtRegs) -> i32 {
    do_pipe2(regs.bx as usize, 0)
}

fn do_pipe2(fildes: usize, flags: u32) -> i32 {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE) != 0 {
        return -EINVAL;
    }
    if flags & O_NOTIFICATION_PIPE != 0 {
        return -ENOPKG; // Linux without CONFIG_WATCH_QUEUE
    }
    let (r, w) = match create_pipe_files(flags) {
        Ok(ends) => ends,
        Err(e) => return e,
    };
    let cloexec = flags & O_CLOEXEC != 0;
    let me = crate::sched::current();
    let mut files = me.files.lock();
    // -EMFILE, or -ENOMEM if the table cannot grow (Linux `get_unused_fd_flags`).
    let fd0 = match files.alloc_fd(0, Fd::File(r), cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            drop(files);
            return e;
        }
    };
    let fd1 = match files.alloc_fd(0, Fd::File(w), cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let r = files.take(fd0);
            drop(files);
            drop(r);
            return e;
        }
    };
    drop(files);
    let mut pair = [0u8; 8];
    pair[..4].copy_from_slice(&fd0.to_le_bytes());
    pair[4..].copy_from_slice(&fd1.to_le_bytes());
    if copy_to_user(fildes, &pair) != 0 {
        let mut files = me.files.lock();
        let gone = (files.take(fd0), files.take(fd1));
        drop(files);
        drop(gone);
        return -EFAULT;
    }
    0
}
