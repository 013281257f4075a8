//! `process_vm_readv` and `process_vm_writev` (Linux
//! `mm/process_vm_access.c`, i386 numbers 347 and 348): copy between the
//! caller's memory and another process's, without either stopping.
//!
//! ```text
//!  process_vm_rw(pid, lvec, liovcnt, rvec, riovcnt, flags, write)
//!    flags != 0                      -> EINVAL
//!    import_iovec(lvec, liovcnt)     the local iovecs: > IOV_MAX EINVAL,
//!                                    unreadable array EFAULT, a negative
//!                                    length EINVAL, a range that is not
//!                                    user memory EFAULT; none: return 0
//!    iovec_from_user(rvec, riovcnt)  the remote ones (not access_ok'd:
//!                                    they are the other process's)
//!    process_vm_rw_core
//!      every remote length 0          -> 0 (before the pid is looked at)
//!      find_get_task_by_vpid(pid)     none -> ESRCH
//!      mm_access (ptrace_may_access)  no mm -> ESRCH; refused -> EPERM
//!      per remote iovec, per batch of pages:
//!        mmap_lock(remote); get_user_pages_remote(FOLL_WRITE if writev);
//!        mmap_unlock             (before touching our own memory: our
//!                                 faults take *our* mmap_lock, which is
//!                                 the same lock if pid is ourselves)
//!        per page: kmap_local_page, copy_to_user / copy_from_user
//!                  through the local iovecs (copy_page_to_iter /
//!                  copy_page_from_iter), kunmap_local
//!        put_page each
//!    anything copied -> that count; else the error (EFAULT)
//! ```
//!
//! A remote range that runs into a hole (or an area that refuses the
//! access: writing a read-only one, since no FOLL_FORCE is passed) stops
//! the copy there: the bytes before it are the result, or `-EFAULT` if
//! there were none. The same for a local range that faults part way.
//!
//! Differences from Linux 6.1: pages are referenced, not pinned (see
//! `gup.rs`); the batch is at most 16 pages (Linux's on-stack array;
//! Linux kmallocs up to 2048 page pointers for longer ranges), which
//! changes how often the lock is taken, not what is copied; and the
//! iovec arrays are read as a 32-bit kernel reads them (`copy_from_user`
//! of the whole array, then the length checks), where a 64-bit Linux
//! running an i386 program reads them element by element
//! (`copy_compat_iovec_from_user`): an array that both faults and holds a
//! negative length can get EINVAL there and EFAULT here.

use alloc::vec;
use alloc::vec::Vec;

use mm::layout::{PAGE_MASK, PAGE_SIZE, access_ok};
use mm::page::Page;

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EFAULT, EINVAL, ESRCH};
use crate::mm::gup::{FOLL_WRITE, get_user_pages_remote, put_page};
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};

/// Linux `UIO_MAXIOV` (what user space calls `IOV_MAX`).
pub const UIO_MAXIOV: usize = 1024;

/// Linux `MAX_RW_COUNT`: no read or write moves more than this in one
/// call (`INT_MAX & PAGE_MASK`); longer iovecs are cut to it.
pub const MAX_RW_COUNT: usize = i32::MAX as usize & PAGE_MASK;

/// Linux `PVM_MAX_PP_ARRAY_COUNT`: the pages taken per batch.
const PVM_MAX_PP_ARRAY_COUNT: usize = 16;

/// Read `nr_segs` i386 `struct iovec { void *iov_base; size_t iov_len; }`
/// from user address `uvec` (Linux `iovec_from_user`): more than
/// `UIO_MAXIOV` is `EINVAL`; an array that cannot be read `EFAULT`; a
/// length that is negative as an `ssize_t` `EINVAL`. Zero segments is an
/// empty list, whatever `uvec` is.
pub fn iovec_from_user(uvec: usize, nr_segs: usize) -> Result<Vec<(usize, usize)>, i32> {
    if nr_segs == 0 {
        return Ok(Vec::new());
    }
    if nr_segs > UIO_MAXIOV {
        return Err(EINVAL);
    }
    let mut raw = vec![0u8; nr_segs * 8];
    if copy_from_user(&mut raw, uvec) != 0 {
        return Err(EFAULT);
    }
    let word = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]) as usize;
    let iov: Vec<(usize, usize)> = (0..nr_segs).map(|s| (word(s * 8), word(s * 8 + 4))).collect();
    if iov.iter().any(|&(_, len)| (len as isize) < 0) {
        return Err(EINVAL);
    }
    Ok(iov)
}

/// A position in a list of user buffers (Linux `struct iov_iter` of type
/// `ITER_IOVEC`): the segments, which one we are in, how far into it, and
/// how many bytes are left in all.
pub struct IovIter {
    segs: Vec<(usize, usize)>,
    seg: usize,
    off: usize,
    count: usize,
}

impl IovIter {
    /// The segments, as (user address, length), lengths already cut so
    /// that they add up to at most `MAX_RW_COUNT` (readv/writev walk them).
    pub fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.segs.iter().copied()
    }

    /// Bytes left (Linux `iov_iter_count`).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Copy `n` bytes between kernel address `kaddr` and the user buffers,
    /// segment by segment, stopping at the first one that faults (Linux
    /// `iterate_and_advance` with `copyout`/`copyin`). Returns the bytes
    /// copied; the iterator moves past exactly those.
    fn copy(&mut self, kaddr: usize, n: usize, to_user: bool) -> usize {
        let mut done = 0;
        while done < n && self.count > 0 {
            let (base, len) = self.segs[self.seg];
            let step = (len - self.off).min(n - done);
            let user = base + self.off;
            // SAFETY: the caller maps `n` bytes at `kaddr` (a kmap_local
            // of the remote page) for the duration of the call; `done +
            // step <= n`.
            let k = unsafe { core::slice::from_raw_parts_mut((kaddr + done) as *mut u8, step) };
            let left = if to_user { copy_to_user(user, k) } else { copy_from_user_no_zero(k, user) };
            let moved = step - left;
            self.advance(moved);
            done += moved;
            if left != 0 {
                break;
            }
        }
        done
    }

    /// Move `n` bytes on (at most what is left of the current segment),
    /// then past any segment that is used up or empty.
    fn advance(&mut self, n: usize) {
        self.count -= n;
        self.off += n;
        while self.seg < self.segs.len() && self.off >= self.segs[self.seg].1 {
            self.off -= self.segs[self.seg].1;
            self.seg += 1;
        }
    }
}

/// `copy_from_user` into a remote page must not zero what it could not
/// copy: those bytes are the other process's, and Linux's
/// `copy_page_from_iter` -> `copyin` leaves them as they were (it is
/// `raw_copy_from_user`, not `copy_from_user`). The range was checked
/// by `import_iovec`.
fn copy_from_user_no_zero(dst: &mut [u8], src: usize) -> usize {
    if !access_ok(src, dst.len()) {
        return dst.len();
    }
    // SAFETY: import_iovec checked access_ok for the whole segment, and
    // this range lies inside it (checked again just above).
    unsafe { crate::arch::lib::usercopy_32::__copy_from_user_inatomic(dst, src) }
}

/// The caller's own iovecs, checked (Linux `import_iovec`): as
/// [`iovec_from_user`], and each range must be user memory (`access_ok`,
/// else `EFAULT`); lengths adding up past `MAX_RW_COUNT` are cut there.
pub fn import_iovec(uvec: usize, nr_segs: usize) -> Result<IovIter, i32> {
    let mut segs = iovec_from_user(uvec, nr_segs)?;
    let mut total = 0;
    for seg in segs.iter_mut() {
        if !access_ok(seg.0, seg.1) {
            return Err(EFAULT);
        }
        if seg.1 > MAX_RW_COUNT - total {
            seg.1 = MAX_RW_COUNT - total;
        }
        total += seg.1;
    }
    let mut it = IovIter { segs, seg: 0, off: 0, count: total };
    it.advance(0); // step over leading empty segments
    Ok(it)
}

/// Copy `len` bytes of `pages`, starting `offset` into the first, to or
/// from the iterator (Linux `process_vm_rw_pages`). Each page is mapped
/// with kmap_local for its copy (`copy_page_to_iter` /
/// `copy_page_from_iter`: a user page is highmem, it has no kernel
/// address); the user copy may fault and sleep inside that mapping, which
/// kmap_local allows. `Err(EFAULT)` if the local side faulted before the
/// iterator was used up.
fn process_vm_rw_pages(pages: &[&'static Page], mut offset: usize, mut len: usize, iter: &mut IovIter, write: bool) -> Result<(), i32> {
    for page in pages {
        if len == 0 || iter.count() == 0 {
            break;
        }
        let copy = (PAGE_SIZE - offset).min(len);
        let kaddr = kmap_local_page(page);
        let copied = iter.copy(kaddr + offset, copy, !write);
        kunmap_local(kaddr);
        len -= copied;
        if copied < copy && iter.count() > 0 {
            return Err(EFAULT);
        }
        offset = 0;
    }
    Ok(())
}

/// One remote iovec (Linux `process_vm_rw_single_vec`): take its pages a
/// batch at a time under the remote `mmap_lock`, drop the lock, copy, give
/// the pages back.
fn process_vm_rw_single_vec(addr: usize, mut len: usize, iter: &mut IovIter, mm: &crate::mm::mm_types::MmStruct, write: bool) -> Result<(), i32> {
    if len == 0 {
        return Ok(());
    }
    let mut pa = addr & PAGE_MASK;
    let mut start_offset = addr - pa;
    let mut nr_pages = (addr.wrapping_add(len - 1) / PAGE_SIZE).wrapping_sub(addr / PAGE_SIZE).wrapping_add(1);
    let flags = if write { FOLL_WRITE } else { 0 };
    let mut rc = Ok(());
    let mut pages = Vec::with_capacity(PVM_MAX_PP_ARRAY_COUNT);
    while rc.is_ok() && nr_pages > 0 && iter.count() > 0 {
        let want = nr_pages.min(PVM_MAX_PP_ARRAY_COUNT);
        pages.clear();
        let pinned = {
            let mut map = mm.mmap_lock();
            get_user_pages_remote(mm, &mut map, pa, want, flags, &mut pages)
        };
        let pinned = match pinned {
            Ok(n) if n > 0 => n,
            _ => return Err(EFAULT),
        };
        let bytes = (pinned * PAGE_SIZE - start_offset).min(len);
        rc = process_vm_rw_pages(&pages, start_offset, bytes, iter, write);
        len -= bytes;
        start_offset = 0;
        nr_pages -= pinned;
        pa = pa.wrapping_add(pinned * PAGE_SIZE);
        // Linux: unpin_user_pages_dirty_lock(pages, n, vm_write); nothing
        // here keeps a dirty flag (see gup::access_remote_vm).
        for p in pages.drain(..) {
            put_page(p);
        }
    }
    rc
}

/// Linux `process_vm_rw_core`: the remote side.
fn process_vm_rw_core(pid: i32, iter: &mut IovIter, rvec: &[(usize, usize)], write: bool) -> i32 {
    let total_len = iter.count();
    if rvec.iter().all(|&(_, len)| len == 0) {
        return 0;
    }
    let task = if pid > 0 { crate::signal::find_task(pid as u32) } else { None };
    let Some(task) = task else { return -ESRCH };
    // mm_access(task, PTRACE_MODE_ATTACH_REALCREDS): Linux refuses with
    // EACCES, turned into EPERM here, unless __ptrace_may_access allows:
    // same uid (and not a non-dumpable target) or CAP_SYS_PTRACE, then
    // the LSMs (Yama's ptrace_scope 1 allows a descendant). Every process
    // here runs as root (sys.rs), with every capability: nothing is
    // refused, so no EPERM can come back. A task without an mm (on its
    // way out) is ESRCH, as Linux's NULL mm.
    let Some(mm) = task.mm() else { return -ESRCH };
    let mut rc = Ok(());
    for &(base, len) in rvec {
        if iter.count() == 0 || rc.is_err() {
            break;
        }
        rc = process_vm_rw_single_vec(base, len, iter, &mm, write);
    }
    let copied = total_len - iter.count();
    if copied > 0 {
        copied as i32
    } else {
        rc.map_or_else(|e| -e, |()| 0)
    }
}

/// Linux `process_vm_rw`: the checks of the arguments, in Linux's order.
fn process_vm_rw(regs: &PtRegs, write: bool) -> i32 {
    let (pid, lvec, liovcnt, rvec, riovcnt, flags) =
        (regs.bx as i32, regs.cx as usize, regs.dx as usize, regs.si as usize, regs.di as usize, regs.bp);
    if flags != 0 {
        return -EINVAL;
    }
    let mut iter = match import_iovec(lvec, liovcnt) {
        Ok(it) => it,
        Err(e) => return -e,
    };
    if iter.count() == 0 {
        return 0;
    }
    let iov_r = match iovec_from_user(rvec, riovcnt) {
        Ok(v) => v,
        Err(e) => return -e,
    };
    process_vm_rw_core(pid, &mut iter, &iov_r, write)
}

/// `process_vm_readv(pid, local_iov, liovcnt, remote_iov, riovcnt,
/// flags)` (i386 347): copy from process `pid`'s memory into ours.
/// Returns the bytes copied, or `-errno`.
pub fn sys_process_vm_readv(regs: &mut PtRegs) -> i32 {
    process_vm_rw(regs, false)
}

/// `process_vm_writev(...)` (i386 348): copy from our memory into process
/// `pid`'s; a page it never touched is faulted in for *it*
/// (`get_user_pages_remote` with `FOLL_WRITE`), and a page it shares
/// copy-on-write with its parent or child is copied for it first.
pub fn sys_process_vm_writev(regs: &mut PtRegs) -> i32 {
    process_vm_rw(regs, true)
}
