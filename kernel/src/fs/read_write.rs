//! `read`, `write`, `readv`, `writev`, `pread64`, `pwrite64` and `lseek` (Linux
//! `fs/read_write.c`), over the page-cache loops of `mm/filemap.rs`.
//!
//! `read` of a ramfs file is Linux v6.x's `filemap_read`: each page is
//! mapped with kmap_local and copied to the user's buffer with
//! `copy_to_user`, which may fault (an untouched buffer), sleep in the
//! fault, and come back to the same slot: the point of kmap_local ("It's
//! valid to take pagefaults in a kmap_local region"). A short copy ends
//! the read there: the bytes so far, `EFAULT` only if there are none.
//!
//! `write` is `generic_perform_write`: prefault the source without any
//! lock, lock the page, copy with page faults disabled, unlock; a copy
//! that got nothing is retried after prefaulting again.
//!
//! ```text
//!  read(fd, buf, n)                          write(fd, buf, n)
//!    for each file page in [pos, pos + n):     i_rwsem; O_APPEND: pos = i_size
//!      kmap_local_page(page)   depth D+1       for each page:
//!        copy_to_user(..)      may fault,        fault_in_readable(src)  may sleep
//!                              may sleep         lock page; kmap_local; pagefault_disable
//!      kunmap_local            depth D             __copy_from_user_inatomic  never sleeps
//!    pos += done                                 unlock; i_size; short? prefault, retry
//! ```
//!
//! The checks come in Linux's order (`ksys_*`, `vfs_read`/`vfs_write`,
//! `rw_verify_area`, `generic_write_checks`), so each bad argument gets
//! Linux's errno.

use alloc::sync::Arc;

use mm::filemap::{MAX_RW_COUNT, generic_write_check_limits, loff_from_halves, rw_verify_area};
use mm::layout::access_ok;

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::copy_from_user;
use crate::errno::{EBADF, EFAULT, EINVAL, ESPIPE};
use crate::fs::InodeKind;
use crate::fs::file::{Fd, File, O_APPEND, O_LARGEFILE};
use crate::fs::ramfs::{RAM_AOPS, RAMFS_MAXBYTES};
use crate::mm::filemap::{IovIter, copy_page_to_iter, filemap_read, generic_perform_write};
use crate::mm::process_vm_access::import_iovec;

/// The open file behind `fd`, or `-EBADF`.
fn fdget(fd: i32) -> Result<Fd, i32> {
    crate::sched::current().files.lock().get(fd).ok_or(-EBADF)
}

/// `vfs_read` of a regular file at `pos` into the user buffer (the
/// checks after the descriptor's: `FMODE_READ`, `access_ok`,
/// `rw_verify_area`, `MAX_RW_COUNT`), then `filemap_read`. Returns the
/// bytes read or `-errno`.
fn vfs_read(f: &File, buf: usize, count: usize, pos: u64) -> i32 {
    if !f.readable() {
        return -EBADF;
    }
    if count > i32::MAX as usize {
        return -EINVAL; // (ssize_t)count < 0: checked first, as the tests expect
    }
    if !access_ok(buf, count) {
        return -EFAULT;
    }
    if let Err(e) = rw_verify_area(pos as i64, count) {
        return -e.errno();
    }
    let count = count.min(MAX_RW_COUNT);
    let file = match f.inode.file() {
        Ok(file) => file,
        Err(e) => return -e.errno(), // a directory: EISDIR
    };
    let mut iter = IovIter::ubuf(buf, count);
    // Each page's copy: the page is mapped (kmap_local; in the old mode
    // kmap_atomic, then kmap) and copied to the user buffer, which may fault.
    match filemap_read(&RAM_AOPS, &file.i_mapping, &file.i_size, pos, count, |page, off, n| copy_page_to_iter(page, off, n, &mut iter)) {
        Ok(n) => n as i32,
        Err(e) => -e,
    }
}

/// `vfs_write` of a regular file at `*pos` from the user buffer, as
/// `generic_file_write_iter` does it: `i_rwsem` held, `O_APPEND` moves
/// the position to the end first (even for `pwrite64`, as Linux does),
/// the `O_LARGEFILE` limit, then `generic_perform_write`. `*pos` ends
/// after the bytes written. Returns them, or `-errno` if none were.
fn vfs_write(f: &File, buf: usize, count: usize, pos: &mut u64) -> i32 {
    if !f.writable() {
        return -EBADF;
    }
    if count > i32::MAX as usize {
        return -EINVAL;
    }
    if !access_ok(buf, count) {
        return -EFAULT;
    }
    if let Err(e) = rw_verify_area(*pos as i64, count) {
        return -e.errno();
    }
    let count = count.min(MAX_RW_COUNT);
    let file = match f.inode.file() {
        Ok(file) => file,
        Err(e) => return -e.errno(),
    };
    let _i_rwsem = file.i_rwsem.lock();
    // generic_write_checks
    if count == 0 {
        return 0;
    }
    if f.f_flags() & O_APPEND != 0 {
        *pos = file.i_size();
    }
    let count = match generic_write_check_limits(*pos, count, f.f_flags() & O_LARGEFILE != 0, RAMFS_MAXBYTES) {
        Ok(c) => c,
        Err(e) => return -e.errno(), // EFBIG (Linux also sends SIGXFSZ; we have no signals yet)
    };
    let mut iter = IovIter::ubuf(buf, count);
    match generic_perform_write(&RAM_AOPS, &file.i_mapping, &file.i_size, &mut iter, *pos) {
        Ok(n) => {
            *pos += n as u64;
            n as i32
        }
        Err(e) => -e,
    }
}

/// `write(fd, buf, count)`: a file through the page cache (above); the
/// console (fds 0-2) in pieces; a pipe or a device node through its own
/// write (`file.rs`'s dispatch). Returns the bytes written; `-EFAULT` if
/// not even the first byte could be read.
pub fn sys_write(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    match fdget(fd) {
        Ok(file) => write_fd(file, buf, count),
        Err(e) => e,
    }
}

/// `write` on an open file: its position, if it has one, moves.
fn write_fd(file: Fd, buf: usize, count: usize) -> i32 {
    if count <= i32::MAX as usize
        && let Some(r) = super::file::dispatch_write(&file, buf, count)
    {
        return r;
    }
    match file {
        Fd::Console => console_write(buf, count),
        Fd::File(f) => {
            let mut pos = f.pos.lock();
            let mut p = *pos as u64;
            let r = vfs_write(&f, buf, count, &mut p);
            // f_pos is 32 bits wide here (see File::pos): a write that
            // ends past 4 GiB - 1 (only O_LARGEFILE allows that) leaves it
            // at the largest value it holds.
            *pos = usize::try_from(p).unwrap_or(usize::MAX);
            r
        }
    }
}

/// The console's `write`: copy the user's bytes in pieces and print them.
fn console_write(buf: usize, count: usize) -> i32 {
    if count > i32::MAX as usize {
        return -EINVAL;
    }
    if let Err(e) = crate::tty::n_tty_write_check() {
        return e;
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        let left = copy_from_user(&mut chunk[..n], buf.wrapping_add(done));
        crate::tty::tty_write(&chunk[..n - left]);
        done += n - left;
        if left != 0 {
            break;
        }
    }
    if done == 0 && count != 0 { -EFAULT } else { done as i32 }
}

/// `read(fd, buf, count)`: from a file, page by page (see above); from the
/// console, a line through the line discipline (`tty.rs`: sleeps until
/// one is typed); from a pipe or a device node, through its own read
/// (`file.rs`'s dispatch). Returns the bytes read, 0 at the end,
/// `-EFAULT` if not even the first byte could be stored, `-EISDIR` for a
/// directory.
pub fn sys_read(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    match fdget(fd) {
        Ok(file) => read_fd(file, buf, count),
        Err(e) => e,
    }
}

/// `read` on an open file: its position, if it has one, moves.
fn read_fd(file: Fd, buf: usize, count: usize) -> i32 {
    if count > i32::MAX as usize {
        return -EINVAL;
    }
    if let Some(r) = super::file::dispatch_read(&file, buf, count) {
        return r;
    }
    let f: Arc<File> = match file {
        Fd::Console => return crate::tty::n_tty_read(buf, count),
        Fd::File(f) => f,
    };
    let mut pos = f.pos.lock();
    let r = vfs_read(&f, buf, count, *pos as u64);
    if r > 0 {
        // f_pos is 32 bits wide here (see File::pos, and sys_write): an
        // O_APPEND write to a file past 4 GiB leaves it at usize::MAX, and
        // a read there must not wrap it (Linux's loff_t is 64 bits; the
        // fuzzer found the overflow: a debug-kernel panic).
        *pos = pos.saturating_add(r as usize);
    }
    r
}

/// `writev(fd, vec, vlen)` (i386 146; Linux `do_writev`, `vfs_writev`):
/// the descriptor (`EBADF`, also when not open for writing), then the
/// iovec array (`import_iovec`: more than `UIO_MAXIOV` `EINVAL`, an array
/// that cannot be read `EFAULT`, a negative length `EINVAL`, any segment
/// outside user memory `EFAULT`, before a byte is written); zero bytes in
/// all is 0. Then the segments in order (Linux's `do_loop_readv_writev`):
/// each written as `write` would, stopping at the first short one; the
/// bytes written, or the first segment's error if none were.
///
/// Where we differ: Linux hands a pipe or a page-cache file the whole
/// iterator at once (`->write_iter`), so a pipe write of at most
/// `PIPE_BUF` bytes in all is atomic, and a file's `i_rwsem` and
/// position lock are taken once for the call; here each segment is a
/// `write` of its own.
pub fn sys_writev(regs: &mut PtRegs) -> i32 {
    do_loop_readv_writev(regs, Rw::Write)
}

/// `readv(fd, vec, vlen)` (i386 145; Linux `do_readv`, `vfs_readv`): as
/// [`sys_writev`], reading. A segment after the first is read only if the
/// file has data now (a pipe or the console that would block returns what
/// the earlier segments got, as Linux's single `->read_iter` does).
pub fn sys_readv(regs: &mut PtRegs) -> i32 {
    do_loop_readv_writev(regs, Rw::Read)
}

/// Which way [`do_loop_readv_writev`] copies.
#[derive(Clone, Copy, PartialEq)]
enum Rw {
    Read,
    Write,
}

/// readv and writev: the checks, then one `read`/`write` a segment.
fn do_loop_readv_writev(regs: &PtRegs, rw: Rw) -> i32 {
    let (fd, vec, vlen) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let file = match fdget(fd) {
        Ok(file) => file,
        Err(e) => return e,
    };
    if let Fd::File(f) = &file
        && !(if rw == Rw::Read { f.readable() } else { f.writable() })
    {
        return -EBADF;
    }
    let iter = match import_iovec(vec, vlen) {
        Ok(iter) => iter,
        Err(e) => return -e,
    };
    let mut total = 0usize;
    for (base, len) in iter.segments() {
        if rw == Rw::Read && total > 0 && crate::fs::select::file_poll(&file) & crate::tty::pollbits::POLLIN == 0 {
            break;
        }
        let r = match rw {
            Rw::Read => read_fd(file.clone(), base, len),
            Rw::Write => write_fd(file.clone(), base, len),
        };
        if r < 0 {
            return if total > 0 { total as i32 } else { r };
        }
        total += r as usize;
        if (r as usize) < len {
            break;
        }
    }
    total as i32
}

/// `pread64(fd, buf, count, pos_lo, pos_hi)` (i386 180; Linux
/// `sys_ia32_pread64`: the 64-bit offset in esi and edi, low word first):
/// read at `pos` without moving the file position. `-EINVAL` for a
/// negative offset (checked before the descriptor, as `ksys_pread64`
/// does), `-ESPIPE` for the console (no `FMODE_PREAD`).
pub fn sys_pread64(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let pos = loff_from_halves(regs.si, regs.di);
    if pos < 0 {
        return -EINVAL;
    }
    match fdget(fd) {
        Err(e) => e,
        Ok(Fd::Console) => -ESPIPE,
        Ok(Fd::File(f)) if matches!(f.inode.kind, InodeKind::Pipe(_)) => -ESPIPE, // no FMODE_PREAD
        Ok(file @ Fd::File(_)) if let Some(r) = super::file::dispatch_read(&file, buf, count) => r, // /dev/null, /dev/zero
        Ok(Fd::File(f)) => vfs_read(&f, buf, count, pos as u64),
    }
}

/// `pwrite64(fd, buf, count, pos_lo, pos_hi)` (i386 181): write at `pos`
/// without moving the file position (but with `O_APPEND` at the end, as
/// Linux does: pwrite(2), BUGS). Errors as [`sys_pread64`].
pub fn sys_pwrite64(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let pos = loff_from_halves(regs.si, regs.di);
    if pos < 0 {
        return -EINVAL;
    }
    match fdget(fd) {
        Err(e) => e,
        Ok(Fd::Console) => -ESPIPE,
        Ok(Fd::File(f)) if matches!(f.inode.kind, InodeKind::Pipe(_)) => -ESPIPE, // no FMODE_PWRITE
        Ok(file @ Fd::File(_)) if let Some(r) = super::file::dispatch_write(&file, buf, count) => r,
        Ok(Fd::File(f)) => vfs_write(&f, buf, count, &mut (pos as u64)),
    }
}

/// `lseek(fd, offset, whence)`: `SEEK_SET` 0, `SEEK_CUR` 1, `SEEK_END` 2;
/// `-EINVAL` for another whence or a negative result, `-ESPIPE` for the
/// console.
pub fn sys_lseek(regs: &mut PtRegs) -> i32 {
    let (fd, offset, whence) = (regs.bx as i32, regs.cx as i32 as i64, regs.dx);
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -EBADF };
    if let Some(r) = super::file::dispatch_lseek(&file) {
        return r;
    }
    let Fd::File(f) = file else { return -ESPIPE };
    let mut pos = f.pos.lock();
    let base = match whence {
        0 => 0,
        1 => *pos as i64,
        2 => f.inode.size() as i64,
        _ => return -EINVAL,
    };
    match base.checked_add(offset) {
        Some(p) if (0..=i32::MAX as i64).contains(&p) => {
            *pos = p as usize;
            p as i32
        }
        _ => -EINVAL,
    }
}
