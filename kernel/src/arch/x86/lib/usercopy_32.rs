//! Copying to and from user memory (Linux `arch/x86/lib/usercopy_32.c`,
//! `include/linux/uaccess.h`).
//!
//! The kernel never dereferences a user pointer any other way. Each copy is
//! Linux's `__copy_user`: bytes up to an aligned destination, `rep movsl`,
//! the last bytes, each string instruction listed in the exception table
//! (`extable::copy_with_fixup` draws it): a fault on a user page that
//! cannot be resolved resumes at a fixup that turns what is left in ecx
//! into the bytes not copied, and the copy returns that count, as Linux's
//! do.
//!
//! ```text
//!  access_ok(ptr, n)?  no  -> n (nothing touched)
//!  rep movsb / rep movsl / rep movsb   fault -> page-fault handler -> fixup
//!  return bytes NOT copied (0 = all of them)
//! ```

use mm::layout::access_ok;

/// One exception-table-guarded copy between kernel and user memory
/// (`extable::copy_with_fixup`); returns the bytes not copied.
///
/// # Safety
/// The kernel side of the copy must be valid for `n` bytes; the user side
/// may fault (that is what the fixup is for) but must be below TASK_SIZE.
unsafe fn raw_copy(dst: usize, src: usize, n: usize) -> usize {
    // SAFETY: the caller's contract is copy_with_fixup's.
    unsafe { crate::arch::extable::copy_with_fixup(dst, src, n) }
}

/// Copy `dst.len()` bytes from user address `src` (Linux
/// `copy_from_user`). Returns the number of bytes *not* copied; those at
/// the end of `dst` are zeroed, so no stale kernel data survives a short
/// copy.
pub fn copy_from_user(dst: &mut [u8], src: usize) -> usize {
    let n = dst.len();
    if !access_ok(src, n) {
        dst.fill(0);
        return n;
    }
    // SAFETY: dst is a valid kernel buffer of n bytes; src is a user range
    // below TASK_SIZE.
    let left = unsafe { raw_copy(dst.as_mut_ptr() as usize, src, n) };
    dst[n - left..].fill(0);
    left
}

/// Copy `src` to user address `dst` (Linux `copy_to_user`). Returns the
/// number of bytes not copied.
pub fn copy_to_user(dst: usize, src: &[u8]) -> usize {
    let n = src.len();
    if !access_ok(dst, n) {
        return n;
    }
    // SAFETY: src is a valid kernel buffer of n bytes; dst is a user range
    // below TASK_SIZE.
    unsafe { raw_copy(dst, src.as_ptr() as usize, n) }
}

/// Copy a NUL-terminated string of at most `dst.len()` bytes from user
/// address `src` (Linux `strncpy_from_user`). Returns its length without
/// the NUL, `Err(EFAULT)` if a byte could not be read, and the full
/// `dst.len()` if no NUL came within it (the caller decides:
/// `ENAMETOOLONG` for a path).
pub fn strncpy_from_user(dst: &mut [u8], src: usize) -> Result<usize, i32> {
    let len = dst.len();
    for (i, byte) in dst.iter_mut().enumerate() {
        // One byte at a time: simple, and a string may end just before an
        // unmapped page (a whole-buffer copy could fault on bytes past it).
        if copy_from_user(core::slice::from_mut(byte), src.wrapping_add(i)) != 0 {
            return Err(crate::errno::EFAULT);
        }
        if *byte == 0 {
            return Ok(i);
        }
    }
    Ok(len)
}
