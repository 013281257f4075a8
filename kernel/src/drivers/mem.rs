//! The memory character devices, major 1 (Linux `drivers/char/mem.c`):
//! `/dev/null` (1:3) and `/dev/zero` (1:5).
//!
//! ```text
//!  /dev/null  read: end of file at once     write: every byte "written"
//!  /dev/zero  read: zeros (clear_user)      write: every byte "written"
//! ```
//!
//! A write to either never touches the user's buffer, so any pointer that
//! passes `access_ok` (below `TASK_SIZE`), even NULL or an unmapped one,
//! "succeeds" with the full count, exactly as Linux's `write_null`.

use crate::arch::lib::usercopy_32::clear_user;
use crate::errno::EFAULT;

/// Major number of the memory devices (Linux `MEM_MAJOR`).
pub const MEM_MAJOR: u32 = 1;
/// `/dev/null`'s minor.
pub const NULL_MINOR: u32 = 3;
/// `/dev/zero`'s minor.
pub const ZERO_MINOR: u32 = 5;

/// `read` of `/dev/null` (Linux `read_null`): always end of file.
pub fn read_null(_buf: usize, _count: usize) -> i32 {
    0
}

/// `write` of `/dev/null` or `/dev/zero` (Linux `write_null`): the bytes
/// vanish; all `count` of them are reported written.
pub fn write_null(_buf: usize, count: usize) -> i32 {
    count as i32
}

/// `read` of `/dev/zero` (Linux `read_zero`): `count` zero bytes, cleared
/// in the user's buffer a page at a time with `clear_user` (which faults
/// the buffer in). A fault that cannot be resolved ends the read: the
/// bytes cleared so far, or `-EFAULT` if none.
pub fn read_zero(buf: usize, count: usize) -> i32 {
    let mut cleared = 0;
    while cleared < count {
        let chunk = (count - cleared).min(mm::layout::PAGE_SIZE);
        let left = clear_user(buf.wrapping_add(cleared), chunk);
        cleared += chunk - left;
        if left != 0 {
            return if cleared == 0 { -EFAULT } else { cleared as i32 };
        }
        // (Linux calls cond_resched() here; this kernel preempts anyway.)
    }
    cleared as i32
}
