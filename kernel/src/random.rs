//! `getrandom` (Linux `drivers/char/random.c`), without the entropy.
//!
//! Linux feeds a ChaCha20 generator from interrupt timings, RDRAND and
//! the boot loader's seed, and `getrandom` output is fit for keys. This
//! is **not cryptographic**: one 64-bit state per boot, seeded from the
//! time-stamp counter and advanced with splitmix64 (one atomic add per 8
//! bytes, so CPUs never wait for each other). Anyone who can guess the
//! boot's TSC can predict it. It is what C libraries need at start-up
//! (glibc seeds malloc's tcache randomisation and its stack protector
//! from it) and no more.

use core::sync::atomic::Ordering;
use crate::arch::lib::atomic64_cx8_32::AtomicU64;

use crate::arch::entry::PtRegs;
use crate::errno::{EFAULT, EINVAL};

/// `GRND_NONBLOCK`: do not wait for the pool (ours never waits).
pub const GRND_NONBLOCK: u32 = 1;
/// `GRND_RANDOM`: the old "blocking pool" (the same bytes since Linux 5.6).
pub const GRND_RANDOM: u32 = 2;
/// `GRND_INSECURE`: bytes even before the pool is ready (5.6+).
pub const GRND_INSECURE: u32 = 4;

/// The most one read or write moves (Linux `MAX_RW_COUNT`, `INT_MAX`
/// rounded down to a page).
const MAX_RW_COUNT: usize = 0x7fff_f000;

/// The generator's state: 0 until the first use seeds it.
static STATE: AtomicU64 = AtomicU64::new(0);
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The next 8 bytes (splitmix64 of the next state).
pub fn get_random_u64() -> u64 {
    if STATE.load(Ordering::Relaxed) == 0 {
        // Racing seeders: whichever wins, the state is a TSC reading.
        let _ = STATE.compare_exchange(0, crate::arch::cpu::rdtsc() | 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    let mut z = STATE.fetch_add(GOLDEN, Ordering::Relaxed).wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `getrandom(buf, count, flags)` (i386 355): `count` bytes (at most
/// `MAX_RW_COUNT`) into `buf`; how many were written, or `-EFAULT` if none
/// could be. Unknown flags, or `GRND_INSECURE` with `GRND_RANDOM`, are
/// `-EINVAL` (Linux's checks). It never blocks: the "pool" is always ready.
pub fn sys_getrandom(regs: &mut PtRegs) -> i32 {
    let (buf, count, flags) = (regs.bx as usize, regs.cx as usize, regs.dx);
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 || flags & (GRND_INSECURE | GRND_RANDOM) == (GRND_INSECURE | GRND_RANDOM) {
        return -EINVAL;
    }
    let count = count.min(MAX_RW_COUNT);
    let mut done = 0;
    let mut chunk = [0u8; 64];
    while done < count {
        for w in chunk.chunks_mut(8) {
            w.copy_from_slice(&get_random_u64().to_le_bytes());
        }
        let n = (count - done).min(chunk.len());
        let left = crate::arch::lib::usercopy_32::copy_to_user(buf.wrapping_add(done), &chunk[..n]);
        done += n - left;
        if left != 0 {
            break;
        }
        if crate::sched::preempt::need_resched() {
            crate::sched::schedule();
        }
    }
    if done == 0 && count != 0 {
        return -EFAULT;
    }
    done as i32
}
