//! Files from user space: `open`, `read`, `lseek`, `close` on the rootfs
//! (the suite's initramfs), called through the system-call table with a
//! task's own address space, as a program's `int $0x80` would; and the
//! read path's central property: its copy to an untouched user buffer
//! faults inside the kmap_local mapping of the file page, may sleep there,
//! and another task may use the same slot meanwhile (catalogue U16/U17).

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EBADF, EFAULT, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ESPIPE};
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(open_read_lseek_close_of_a_ramfs_file),
    test_case!(every_bad_argument_gets_linuxs_errno),
    test_case!(read_faults_inside_kmap_local_sleeps_and_another_task_uses_the_slot),
    test_case!(open_drops_unknown_flag_bits_and_f_getfl_does_not_return_them),
];

/// Call system call `nr` with up to three arguments, as `int $0x80` would.
fn syscall(nr: i32, a: usize, b: usize, c: usize) -> i32 {
    let mut regs = PtRegs { bx: a as u32, cx: b as u32, dx: c as u32, orig_ax: nr as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

/// Give the test's own thread an address space and put `path` (with its
/// NUL) at DATA, as a program would have it.
fn setup(path: &str) -> usize {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    let mut s = alloc::vec::Vec::from(path.as_bytes());
    s.push(0);
    assert_eq!(copy_to_user(DATA, &s), 0);
    DATA
}

/// The pattern the runner wrote into /data/*.bin (tests/runner.sh).
fn pattern(i: usize) -> u8 {
    (((i % 251) ^ (i >> 12)) & 0xff) as u8
}

fn user_bytes(addr: usize, n: usize) -> alloc::vec::Vec<u8> {
    let mut v = alloc::vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0);
    v
}

fn open_read_lseek_close_of_a_ramfs_file() {
    let path = setup("/data/small.bin");
    let fd = syscall(nr::OPEN, path, 0, 0);
    assert_eq!(fd, 3, "the lowest free descriptor after the console's 0, 1, 2");
    let buf = DATA + 0x1000; // untouched: the read faults it in
    assert_eq!(syscall(nr::READ, fd as usize, buf, 4096), 100, "the whole file, 100 bytes");
    assert!(user_bytes(buf, 100).iter().enumerate().all(|(i, &b)| b == pattern(i)), "its bytes");
    assert_eq!(syscall(nr::READ, fd as usize, buf, 4096), 0, "then the end of the file");
    assert_eq!(syscall(nr::LSEEK, fd as usize, 10, 0), 10, "SEEK_SET");
    assert_eq!(syscall(nr::LSEEK, fd as usize, 5, 1), 15, "SEEK_CUR");
    assert_eq!(syscall(nr::LSEEK, fd as usize, (-20i32) as usize, 2), 80, "SEEK_END");
    assert_eq!(syscall(nr::READ, fd as usize, buf, 5), 5);
    assert_eq!(user_bytes(buf, 5), (80..85).map(pattern).collect::<alloc::vec::Vec<_>>());
    assert_eq!(syscall(nr::CLOSE, fd as usize, 0, 0), 0);
    assert_eq!(syscall(nr::CLOSE, fd as usize, 0, 0), -EBADF, "closed already");
    assert_eq!(syscall(nr::READ, fd as usize, buf, 5), -EBADF);
    assert_eq!(syscall(nr::OPEN, path, 0, 0), 3, "the descriptor is free again");
}

fn every_bad_argument_gets_linuxs_errno() {
    let path = setup("/no/such/file");
    assert_eq!(syscall(nr::OPEN, path, 0, 0), -ENOENT);
    assert_eq!(syscall(nr::OPEN, 0, 0, 0), -EFAULT, "a NULL path");
    assert_eq!(syscall(nr::OPEN, 0xc000_0000, 0, 0), -EFAULT, "a kernel address as the path");
    assert_eq!(syscall(nr::OPEN, path, 3, 0), -ENOENT, "access mode 3 is accepted (Linux), so the lookup answers");
    assert_eq!(syscall(nr::OPEN, path, 0o100, 0), -ENOENT, "O_CREAT: /no does not exist to create in");
    assert_eq!(copy_to_user(DATA + 0x2000, &[b'a'; 4096]), 0);
    assert_eq!(syscall(nr::OPEN, DATA + 0x2000, 0, 0), -ENAMETOOLONG, "no NUL within PATH_MAX");
    assert_eq!(copy_to_user(DATA, b"/data\0"), 0);
    let dir = syscall(nr::OPEN, DATA, 0, 0);
    assert!(dir >= 3);
    assert_eq!(syscall(nr::READ, dir as usize, DATA + 0x1000, 10), -EISDIR);
    assert_eq!(copy_to_user(DATA, b"/data/small.bin\0"), 0);
    let fd = syscall(nr::OPEN, DATA, 0, 0) as usize;
    assert_eq!(syscall(nr::READ, fd, 0xc000_0000, 10), -EFAULT, "a kernel address as the buffer");
    assert_eq!(syscall(nr::READ, fd, 0, 10), -EFAULT, "a NULL buffer");
    assert_eq!(syscall(nr::READ, fd, DATA, usize::MAX), -EINVAL, "a count beyond ssize_t");
    assert_eq!(syscall(nr::READ, 99, DATA, 10), -EBADF);
    assert_eq!(syscall(nr::READ, (-1i32) as usize, DATA, 10), -EBADF);
    assert_eq!(syscall(nr::LSEEK, fd, 0, 7), -EINVAL, "whence 7");
    assert_eq!(syscall(nr::LSEEK, fd, (-1i32) as usize, 0), -EINVAL, "a negative offset");
    assert_eq!(syscall(nr::LSEEK, 1, 0, 0), -ESPIPE, "the console cannot seek");
    assert_eq!(syscall(nr::READ, 0, 0xc000_0000, 10), -EFAULT, "the console refuses a kernel buffer before it waits for a line (tests/tty.rs)");
}

/// The test of the seed claim, through `read()`: the copy from the
/// kmap_local-mapped file page to an untouched user buffer faults, the
/// fault sleeps (forced), another task on this CPU maps a different page
/// at the same slot address meanwhile, and the bytes arrive intact.
fn read_faults_inside_kmap_local_sleeps_and_another_task_uses_the_slot() {
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use crate::tests::common::{fill_pattern, highmem_page, pattern as fill};
    let theirs = highmem_page(); // skips without highmem: then the file page has no slot
    fill_pattern(theirs, 99);
    let cpu = crate::arch::percpu::raw_smp_processor_id();
    crate::sched::core::set_current_affinity(1 << cpu);
    let path = setup("/data/big.bin");
    let fd = syscall(nr::OPEN, path, 0, 0) as usize;
    assert_eq!(syscall(nr::LSEEK, fd, 4096, 0), 4096);
    // The address of this CPU's first kmap_local slot, where read() maps
    // each file page (it holds no other mapping).
    let slot0 = crate::mm::kmap_local::kmap_local_page(theirs);
    crate::mm::kmap_local::kunmap_local(slot0);
    let go = alloc::sync::Arc::new(AtomicBool::new(false));
    let seen = alloc::sync::Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let other = {
        let (go, seen) = (go.clone(), seen.clone());
        crate::sched::spawn_on(cpu, "slot-sharer", move || {
            while !go.load(SeqCst) {
                crate::sched::yield_now();
            }
            let v = crate::mm::kmap_local::kmap_local_page(theirs);
            seen[0].store(v, SeqCst);
            seen[1].store(crate::tests::common::read_byte(v + 5) as usize, SeqCst);
            crate::mm::kmap_local::kunmap_local(v);
        })
    };
    let faults = crate::arch::mm::fault::USER_FAULTS_RESOLVED.load(SeqCst);
    let buf = DATA + 0x4000; // untouched
    crate::arch::mm::fault::FORCE_SLEEP_MS.store(20, SeqCst);
    go.store(true, SeqCst);
    let n = syscall(nr::READ, fd, buf, 8192);
    crate::arch::mm::fault::FORCE_SLEEP_MS.store(0, SeqCst);
    other.join();
    assert_eq!(n, 8192);
    assert!(crate::arch::mm::fault::USER_FAULTS_RESOLVED.load(SeqCst) >= faults + 2, "both buffer pages were faulted in during the read");
    assert_eq!(seen[0].load(SeqCst), slot0, "the other task mapped at the same slot address while read() slept");
    assert_eq!(seen[1].load(SeqCst), fill(99, 5) as usize, "and saw its own page there");
    let got = user_bytes(buf, 8192);
    assert!((0..8192).all(|i| got[i] == pattern(4096 + i)), "the file's bytes arrived intact");
    assert_eq!(crate::tests::common::kmap_depth(), 0, "read() left no mapping behind");
    crate::tests::common::free_page(theirs);
}

/// The fuzzer's fifth find (`./run-qemu.sh fuzz --seed 4 --append
/// fuzz_kinds=0-40`): openat with flags 0xb7a3c904 kept every unknown bit
/// in the file's flags, and fcntl(F_GETFL) returned -1214003196, a
/// negative result that is no errno. Linux's open and openat drop the bits
/// outside VALID_OPEN_FLAGS (build_open_flags), so F_GETFL of a file
/// opened with unknown bits is that of one opened without them.
fn open_drops_unknown_flag_bits_and_f_getfl_does_not_return_them() {
    let path = setup("/data/small.bin");
    let plain = syscall(nr::OPEN, path, 0, 0);
    let odd = syscall(nr::OPEN, path, 0xb000_0000 | 0o40000000 | 0o200000000, 0);
    assert!(plain >= 0 && odd >= 0, "both open: {plain}, {odd}");
    let (a, b) = (syscall(nr::FCNTL, plain as usize, 3, 0), syscall(nr::FCNTL, odd as usize, 3, 0));
    assert!(a >= 0, "F_GETFL of the plain open: {a:#x}");
    assert_eq!(b, a, "F_GETFL with unknown bits at open: {b:#x}, without: {a:#x}");
    for fd in [plain, odd] {
        assert_eq!(syscall(nr::CLOSE, fd as usize, 0, 0), 0);
    }
}
