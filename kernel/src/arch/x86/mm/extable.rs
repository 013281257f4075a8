//! The exception table: letting a chosen instruction fault safely (Linux
//! `arch/x86/mm/extable.c`).
//!
//! Some kernel code must touch memory that may not be mapped: copying from
//! an address someone handed us, probing a kernel address for a report.
//! Such an instruction is listed in the `__ex_table` section together with a
//! *fixup* address. When it faults, the page-fault handler finds the
//! faulting EIP in the table and resumes at the fixup instead of oopsing;
//! the fixup turns the fault into an error return.
//!
//! ```text
//!  2:  rep movsb          <- may fault; ecx counts the bytes not yet copied
//!  3:                     <- fixup: fall out with ecx still counting
//!  .pushsection __ex_table
//!  .long 2b, 3b           <- (faulting instruction, where to resume)
//! ```

use core::sync::atomic::Ordering;
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use crate::sched::preempt::{pagefault_disable, pagefault_enable};

/// One table entry (Linux `struct exception_table_entry`, absolute form).
#[repr(C)]
struct ExceptionTableEntry {
    insn: u32,
    fixup: u32,
}

unsafe extern "C" {
    static __start___ex_table: ExceptionTableEntry;
    static __stop___ex_table: ExceptionTableEntry;
}

/// Faults that were fixed up instead of oopsing.
pub static FIXUPS: AtomicU64 = AtomicU64::new(0);

/// The fixup for a faulting instruction at `eip`, if it has one.
pub fn search_exception_tables(eip: usize) -> Option<usize> {
    let start = core::ptr::addr_of!(__start___ex_table);
    let stop = core::ptr::addr_of!(__stop___ex_table);
    // SAFETY: the linker script brackets the section with these symbols; it
    // holds only ExceptionTableEntry records.
    let table = unsafe { core::slice::from_raw_parts(start, stop.offset_from(start) as usize) };
    table.iter().find(|e| e.insn as usize == eip).map(|e| e.fixup as usize)
}

/// Resume a faulting instruction at its fixup; true if there was one.
pub fn fixup_exception(eip: &mut u32) -> bool {
    match search_exception_tables(*eip as usize) {
        Some(fixup) => {
            FIXUPS.fetch_add(1, Ordering::Relaxed);
            *eip = fixup as u32;
            true
        }
        None => false,
    }
}

/// Copy `dst.len()` bytes from kernel address `src`, returning `Err(n)`
/// with the number of bytes *not* copied if `src` runs into an unmapped
/// page (Linux `copy_from_kernel_nofault`, which returns -EFAULT). Page
/// faults are disabled meanwhile, so a fault goes straight to the fixup.
pub fn copy_from_kernel_nofault(dst: &mut [u8], src: usize) -> Result<(), usize> {
    pagefault_disable();
    // SAFETY: dst is a valid, writable buffer of dst.len() bytes; reads
    // from `src` either succeed or fault into the copy's fixup.
    let left = unsafe { copy_with_fixup(dst.as_mut_ptr() as usize, src, dst.len()) };
    pagefault_enable();
    if left == 0 { Ok(()) } else { Err(left) }
}

/// Copy `n` bytes from `src` to `dst`, every string instruction of it
/// listed in the exception table; returns the bytes *not* copied (0: all
/// of them). The one primitive behind `copy_from_kernel_nofault` and the
/// user copies (`arch/x86/lib/usercopy_32.rs`).
///
/// It is Linux's i386 `__copy_user` (`arch/x86/lib/usercopy_32.c`): a copy
/// of more than 7 bytes first moves single bytes until the destination is
/// 8-byte aligned, then whole dwords (`rep movsl`, four bytes per step:
/// under TCG each step of a string instruction costs about the same, so
/// this is close to four times faster than `rep movsb`), then the last 0-3
/// bytes. Each of the three may fault; each fixup rebuilds "bytes not
/// copied" from what its instruction left in ecx:
///
/// ```text
///  n > 7?  no ------------------------------------------+
///  4: rep movsb  (head: up to 7 bytes, dst -> 8-aligned)  |  fault -> 6: left = ecx + rest
///  5: rep movsl  (rest / 4 dwords)                        |  fault -> 7: left = ecx * 4 + (rest & 3)
///  2: rep movsb  (rest & 3, or all n when n <= 7) <-------+  fault -> 3: left = ecx
///  3: done: left = ecx
/// ```
///
/// As in Linux, a fault in the middle of a dword may leave up to three
/// bytes before the faulting address uncopied when the *source* is the
/// side that faults and is not dword-aligned (`copy_from_user` from an odd
/// address up to an unmapped page): the count returned is then a little
/// larger than the exact number, never smaller. The destination is
/// aligned, so a copy *to* user memory stops exactly at the faulting page.
///
/// # Safety
/// Whichever side cannot fault must be valid for `n` bytes; the side that
/// may fault must be memory whose fault the kernel handles (a user address
/// below TASK_SIZE, or any address with page faults disabled).
pub unsafe fn copy_with_fixup(dst: usize, src: usize, n: usize) -> usize {
    let mut left = n;
    // SAFETY: see the function's contract. The exception-table entries are
    // in a section the kernel keeps. LLVM will not take esi as an explicit
    // operand on i686, so the source comes in another register and esi is
    // saved around the copy; the bytes left after the head live in edx.
    // Labels avoid 0 and 1, which Intel syntax would read as binary.
    unsafe {
        core::arch::asm!(
            "push esi",
            "mov esi, {src}",
            "cmp ecx, 7",
            "jbe 2f",
            "mov edx, edi",
            "neg edx",
            "and edx, 7",
            "sub ecx, edx",
            "xchg ecx, edx",
            "4: rep movsb",
            "mov ecx, edx",
            "shr ecx, 2",
            "and edx, 3",
            "5: rep movsd",
            "mov ecx, edx",
            "2: rep movsb",
            "jmp 3f",
            "6: add ecx, edx",
            "jmp 3f",
            "7: lea ecx, [edx + ecx * 4]",
            "3:",
            "pop esi",
            ".pushsection __ex_table, \"a\"",
            ".balign 4",
            ".long 4b, 6b",
            ".long 5b, 7b",
            ".long 2b, 3b",
            ".popsection",
            src = in(reg) src,
            // Named, not `out(reg)`: where the copy is inlined into a
            // function without a frame base, LLVM may hand out esi itself.
            out("edx") _,
            inout("ecx") left,
            inout("edi") dst => _,
        );
    }
    left
}
