//! Thread-local storage segments (Linux `arch/x86/kernel/tls.c`):
//! `set_thread_area` fills one of three GDT entries (6, 7, 8) for the
//! calling task; the context switch copies the task's three into the CPU's
//! GDT (`load_tls`), and the program reaches its TLS block through `gs`
//! (selector `entry * 8 + 3`). Static C libraries call it at start-up.

use crate::arch::entry::PtRegs;
use crate::arch::gdt::{GDT_ENTRY_TLS_ENTRIES, GDT_ENTRY_TLS_MIN, tls_descriptor};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EFAULT, EINVAL, ESRCH};

/// `struct user_desc`: entry_number, base_addr, limit, then flag bits.
const USER_DESC_SIZE: usize = 16;

/// Linux `LDT_empty`: the request that clears an entry the old way
/// (base, limit and flags zero but `read_exec_only` and
/// `seg_not_present`).
fn ldt_empty(base: u32, limit: u32, bits: u32) -> bool {
    base == 0 && limit == 0 && bits & 0x7f == (1 << 3 | 1 << 5)
}

/// Linux `LDT_zero`: a request of all zeroes, which clears an entry too.
fn ldt_zero(base: u32, limit: u32, bits: u32) -> bool {
    base == 0 && limit == 0 && bits & 0x7f == 0
}

/// Linux `tls_desc_okay`: which descriptors a program may put into its
/// TLS entries. The segment is DPL 3 whatever the request says, so its
/// base and limit may cover the kernel's addresses (the kernel's pages
/// are supervisor pages: a read through `gs` faults like any other user
/// read of them, `SEGV_MAPERR`). What is refused is what would give the
/// kernel trouble: a 16-bit segment (its `esp` would need espfix, which
/// Linux provides only for the LDT), a code segment or an expand-down
/// one of type 3 (`contents` above 1: "only allow data segments in the
/// TLS array"), and a not-present segment (a DPL 3 descriptor the CPU
/// faults on when it is loaded: "an interesting attack surface", so
/// Linux makes programs delete an entry instead).
fn tls_desc_okay(base: u32, limit: u32, bits: u32) -> bool {
    if ldt_empty(base, limit, bits) || ldt_zero(base, limit, bits) {
        return true;
    }
    let (seg_32bit, contents, seg_not_present) = (bits & 1 != 0, (bits >> 1) & 3, bits & (1 << 5) != 0);
    seg_32bit && contents <= 1 && !seg_not_present
}

/// `set_thread_area(u_info)`: set one TLS entry of the calling task. An
/// `entry_number` of -1 picks the first free one and writes its number
/// back into `u_info`. `-EINVAL` for a descriptor `tls_desc_okay`
/// refuses or an entry outside 6-8, `-ESRCH` when none is free,
/// `-EFAULT` for a bad pointer (Linux `do_set_thread_area`, in its order).
pub fn sys_set_thread_area(regs: &mut PtRegs) -> i32 {
    let ptr = regs.bx as usize;
    let mut d = [0u8; USER_DESC_SIZE];
    if copy_from_user(&mut d, ptr) != 0 {
        return -EFAULT;
    }
    let word = |i: usize| u32::from_le_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]);
    let (entry, base, limit, bits) = (word(0) as i32, word(1), word(2), word(3));
    if !tls_desc_okay(base, limit, bits) {
        return -EINVAL;
    }
    let me = crate::sched::current();
    let mut tls = me.tls.lock();
    let idx = if entry == -1 {
        match tls.iter().position(|&e| e == 0) {
            Some(i) => i,
            None => return -ESRCH,
        }
    } else {
        match (entry as usize).checked_sub(GDT_ENTRY_TLS_MIN) {
            Some(i) if i < GDT_ENTRY_TLS_ENTRIES => i,
            _ => return -EINVAL,
        }
    };
    if entry == -1 {
        let number = ((GDT_ENTRY_TLS_MIN + idx) as u32).to_le_bytes();
        if copy_to_user(ptr, &number) != 0 {
            return -EFAULT;
        }
    }
    // Linux set_tls_desc: an empty or all-zero request clears the entry.
    let clear = ldt_empty(base, limit, bits) || ldt_zero(base, limit, bits);
    tls[idx] = if clear { 0 } else { tls_descriptor(base, limit & 0xfffff, bits) };
    let flags = crate::arch::cpu::local_irq_save();
    crate::arch::gdt::load_tls(crate::arch::percpu::raw_smp_processor_id(), &tls);
    crate::arch::cpu::local_irq_restore(flags);
    0
}
