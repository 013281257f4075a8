//! `read` and `write` (Linux `fs/read_write.c`). File descriptors 0, 1 and 2
//! are the console until processes get file tables.

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::copy_from_user;
use crate::errno::{EBADF, EFAULT, EINVAL};

/// `write(fd, buf, count)`: for the console (fd 1 and 2), copy the user's
/// bytes in pieces and print them. Returns the bytes written; `-EFAULT` if
/// not even the first byte could be read, as Linux's tty write does.
pub fn sys_write(regs: &mut PtRegs) -> i32 {
    let (fd, buf, count) = (regs.bx as i32, regs.cx as usize, regs.dx as usize);
    if fd != 1 && fd != 2 {
        return -EBADF;
    }
    if count > i32::MAX as usize {
        return -EINVAL;
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len());
        let left = copy_from_user(&mut chunk[..n], buf.wrapping_add(done));
        crate::console::write_bytes(&chunk[..n - left]);
        done += n - left;
        if left != 0 {
            break;
        }
    }
    if done == 0 && count != 0 { -EFAULT } else { done as i32 }
}
