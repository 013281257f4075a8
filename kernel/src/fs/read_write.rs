//! `read`, `write` and `lseek` (Linux `fs/read_write.c`, and the page-cache
//! read loop of `mm/filemap.c`, `filemap_read`).
//!
//! `read` of a ramfs file walks it a page at a time: each page is mapped
//! with kmap_local and copied to the user's buffer with `copy_to_user`,
//! which may fault (an untouched buffer), sleep in the fault, and come
//! back to the same slot: the point of kmap_local ("It's valid to take
//! pagefaults in a kmap_local region"). A short copy ends the read there.
//!
//! ```text
//!  read(fd, buf, n)
//!    for each file page in [pos, pos + n):
//!      kmap_local_page(page)           depth D+1
//!        copy_to_user(buf + done, ..)  may fault: pte_offset_map at D+2,
//!                                      the new page cleared at D+3, may sleep
//!      kunmap_local                    depth D
//!    pos += done
//! ```

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::copy_from_user;
use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::{EBADF, EFAULT, EINVAL, ESPIPE};
use crate::fs::file::Fd;

/// `write(fd, buf, count)`: for the console (fd 1 and 2), copy the user's
/// bytes in pieces and print them. Returns the bytes written; `-EFAULT` if
/// not even the first byte could be read, as Linux's tty write does.
pub fn sys_write(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -EBADF };
    if let Fd::File(f) = &file
        && !f.writable()
    {
        return -EBADF; // not open for writing (Linux: !(f_mode & FMODE_WRITE))
    }
    if count > i32::MAX as usize {
        return -EINVAL;
    }
    // Pipes and device nodes have their own write (file.rs's dispatch).
    if let Some(r) = super::file::dispatch_write(&file, buf, count) {
        return r;
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        let left = copy_from_user(&mut chunk[..n], buf.wrapping_add(done));
        match &file {
            Fd::Console => crate::tty::tty_write(&chunk[..n - left]),
            Fd::File(f) => {
                let mut pos = f.pos.lock();
                if let Err(e) = f.inode.write_at(*pos, &chunk[..n - left]) {
                    return if done == 0 { -e.errno() } else { done as i32 };
                }
                *pos += n - left;
            }
        }
        done += n - left;
        if left != 0 {
            break;
        }
    }
    if done == 0 && count != 0 { -EFAULT } else { done as i32 }
}

/// `read(fd, buf, count)`: from a file, page by page (see above); from the
/// console, a line through the line discipline (`tty.rs`: sleeps until
/// one is typed). Returns the bytes read, 0 at the end, `-EFAULT` if not
/// even the first byte could be stored, `-EISDIR` for a directory.
pub fn sys_read(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    let Some(file) = crate::sched::current().files.lock().get(fd) else { return -EBADF };
    if let Fd::File(f) = &file
        && !f.readable()
    {
        return -EBADF; // not open for reading (Linux: !(f_mode & FMODE_READ))
    }
    if count > i32::MAX as usize {
        return -EINVAL;
    }
    // Pipes and device nodes have their own read (file.rs's dispatch).
    if let Some(r) = super::file::dispatch_read(&file, buf, count) {
        return r;
    }
    let Fd::File(f) = file else { return crate::tty::n_tty_read(buf, count) };
    let mut pos = f.pos.lock();
    let mut done = 0;
    let r = f.inode.read_pages(*pos, count, |chunk| {
        // The page behind `chunk` is kmap_local-mapped; this copy may fault.
        let n = chunk.len() - copy_to_user(buf.wrapping_add(done), chunk);
        done += n;
        n
    });
    match r {
        Err(e) => -e.errno(),
        Ok(_) if done == 0 && count != 0 && *pos < f.inode.size() => -EFAULT,
        Ok(_) => {
            *pos += done;
            done as i32
        }
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
