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

/// `set_thread_area(u_info)`: set one TLS entry of the calling task. An
/// `entry_number` of -1 picks the first free one and writes its number
/// back into `u_info`. `-EINVAL` for an entry outside 6-8, `-ESRCH` when
/// none is free, `-EFAULT` for a bad pointer.
pub fn sys_set_thread_area(regs: &mut PtRegs) -> i32 {
    let ptr = regs.bx as usize;
    let mut d = [0u8; USER_DESC_SIZE];
    if copy_from_user(&mut d, ptr) != 0 {
        return -EFAULT;
    }
    let word = |i: usize| u32::from_le_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]);
    let (entry, base, limit, bits) = (word(0) as i32, word(1), word(2), word(3));
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
    // Linux LDT_empty: a request with nothing in it clears the entry
    // (base, limit and flags zero, but read_exec_only and seg_not_present).
    let empty = base == 0 && limit == 0 && bits & 0x7f == (1 << 3 | 1 << 5);
    tls[idx] = if empty { 0 } else { tls_descriptor(base, limit & 0xfffff, bits) };
    let flags = crate::arch::cpu::local_irq_save();
    crate::arch::gdt::load_tls(crate::arch::percpu::raw_smp_processor_id(), &tls);
    crate::arch::cpu::local_irq_restore(flags);
    0
}
