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
//!
//! | helper                       | returns (as Linux's)                                  |
//! |------------------------------|-------------------------------------------------------|
//! | `copy_from_user`             | bytes not copied; those of `dst` zeroed               |
//! | `__copy_from_user_inatomic`  | bytes not copied; the tail of `dst` left as it was     |
//! | `copy_to_user`               | bytes not copied                                      |
//! | `get_user` / `put_user`      | the value / nothing, or `EFAULT`                      |
//! | `clear_user`                 | bytes not cleared                                     |
//! | `strncpy_from_user`          | the length, `count` without a NUL, or `EFAULT`        |

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

/// Copy `dst.len()` bytes from user address `src` without zeroing the
/// tail of a short copy and without the `access_ok` check (Linux
/// `__copy_from_user_inatomic`, `raw_copy_from_user` on i386). Returns the
/// bytes not copied; the bytes of `dst` past the fault keep what they
/// held. For callers in atomic context (page faults disabled) that retry
/// with a faulting copy, as Linux's `copy_page_from_iter_atomic` users do:
/// the header's rule, "only copy_from_user() zero-pads the destination in
/// case of short copy". Outside atomic context a fault is still resolved.
///
/// # Safety
/// The caller has checked `access_ok(src, dst.len())` (a kernel address
/// here would be read as if it were user memory).
pub unsafe fn __copy_from_user_inatomic(dst: &mut [u8], src: usize) -> usize {
    debug_assert!(access_ok(src, dst.len()), "__copy_from_user_inatomic: {src:#x}+{:#x} is not a user range", dst.len());
    // SAFETY: dst is a valid kernel buffer; the caller checked the user range.
    unsafe { raw_copy(dst.as_mut_ptr() as usize, src, dst.len()) }
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

/// The scalar types `get_user`/`put_user` move (Linux's sizes 1, 2, 4 and
/// 8: `__get_user_1` .. `__get_user_8`). Every bit pattern is a value, so
/// filling one from user bytes is sound.
pub trait UserScalar: Copy + Default {}
impl UserScalar for u8 {}
impl UserScalar for i8 {}
impl UserScalar for u16 {}
impl UserScalar for i16 {}
impl UserScalar for u32 {}
impl UserScalar for i32 {}
impl UserScalar for u64 {}
impl UserScalar for i64 {}
impl UserScalar for usize {}
impl UserScalar for isize {}

/// Read one value from user address `ptr` (Linux `get_user`): `Ok(value)`,
/// or `Err(EFAULT)` if any of its bytes is outside user space or cannot be
/// faulted in. Linux returns -EFAULT and zeroes the destination; a Rust
/// caller gets no value at all, which is the same promise. Linux uses one
/// load (`getuser.S`); we use the exception-table copy, which gives the
/// same answer: a value crossing into a bad page is -EFAULT as a whole.
pub fn get_user<T: UserScalar>(ptr: usize) -> Result<T, i32> {
    let n = core::mem::size_of::<T>();
    if !access_ok(ptr, n) {
        return Err(crate::errno::EFAULT);
    }
    let mut v = T::default();
    // SAFETY: v is n writable bytes of a type for which every bit pattern
    // is valid (UserScalar); ptr is a user range below TASK_SIZE.
    let left = unsafe { raw_copy(&mut v as *mut T as usize, ptr, n) };
    if left == 0 { Ok(v) } else { Err(crate::errno::EFAULT) }
}

/// Write one value to user address `ptr` (Linux `put_user`): `Ok(())` or
/// `Err(EFAULT)`. A value crossing into a bad page may have had its first
/// bytes written (Linux's single store writes none; both return -EFAULT).
pub fn put_user<T: UserScalar>(val: T, ptr: usize) -> Result<(), i32> {
    let n = core::mem::size_of::<T>();
    if !access_ok(ptr, n) {
        return Err(crate::errno::EFAULT);
    }
    // SAFETY: val is n readable bytes; ptr is a user range below TASK_SIZE.
    let left = unsafe { raw_copy(ptr, &val as *const T as usize, n) };
    if left == 0 { Ok(()) } else { Err(crate::errno::EFAULT) }
}

/// Zero `n` bytes at user address `to` (Linux `clear_user`, what exec's
/// `padzero` uses for the bss's partial page). Returns the bytes *not*
/// cleared: `n` if the range is not a user range (nothing touched), else
/// how many were left when a page could not be faulted in. Linux clears
/// with `rep stosl`/`stosb` under the exception table; we copy from a
/// block of zeros with the one exception-table copy, which counts the
/// remainder the same way.
pub fn clear_user(to: usize, n: usize) -> usize {
    static ZEROS: [u8; 512] = [0; 512];
    if !access_ok(to, n) {
        return n;
    }
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(ZEROS.len());
        // SAFETY: ZEROS is `chunk` readable bytes; [to, to + n) was checked
        // to be a user range.
        let left = unsafe { raw_copy(to + done, ZEROS.as_ptr() as usize, chunk) };
        if left != 0 {
            return n - done - (chunk - left);
        }
        done += chunk;
    }
    0
}
