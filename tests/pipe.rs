//! Pipes, descriptors and `/dev`, through the system-call table with a
//! task's own address space (as `int $0x80` would call them): the pipe's
//! highmem buffers and its copies under kmap_local (a fault on the user's
//! buffer taken inside the mapping of the pipe page), blocking readers,
//! end of file, `EPIPE`, `O_NONBLOCK`, `PIPE_BUF` atomicity with two
//! writers; `dup`/`dup2`/`dup3`/`fcntl` and their errnos, `FD_CLOEXEC`
//! across a real `execve`; `/dev/null`, `/dev/zero`, the console nodes and
//! the `/dev` boot makes (Linux's devtmpfs).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::SeqCst;

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EAGAIN, EBADF, EFAULT, EINVAL, EMFILE, ENOPKG, ENXIO, EPIPE, ESPIPE};
use crate::fs::InodeKind;
use crate::fs::file::{Fd, NR_OPEN, O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY};
use crate::fs::pipe::PipeInodeInfo;
use crate::sched::{current, task::{TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE}};
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(pipe_data_passes_intact_through_highmem_buffers),
    test_case!(small_writes_merge_into_the_last_buffer),
    test_case!(a_reader_sleeps_until_another_task_writes),
    test_case!(read_gives_end_of_file_when_every_writer_is_gone),
    test_case!(write_gives_epipe_when_every_reader_is_gone),
    test_case!(o_nonblock_gives_eagain_instead_of_waiting),
    test_case!(pipe_read_faults_inside_the_kmap_local_mapping_of_the_pipe_page),
    test_case!(writes_of_at_most_pipe_buf_bytes_are_not_interleaved),
    test_case!(pipe2_bad_flags_and_bad_pointer_get_linuxs_errno_and_leak_no_fd),
    test_case!(dup_dup2_dup3_share_the_open_file_with_linuxs_errnos),
    test_case!(fcntl_dupfd_getfd_setfd_getfl_setfl_and_unknown_cmd),
    test_case!(fd_cloexec_descriptors_are_closed_by_execve),
    test_case!(dev_null_and_dev_zero_read_and_write_as_in_linux),
    test_case!(dev_holds_the_four_nodes_and_console_opens_as_fds_0_to_2),
    test_case!(devtmpfs_completes_a_dev_the_initramfs_brought),
];

const F_DUPFD: usize = 0;
const F_GETFD: usize = 1;
const F_SETFD: usize = 2;
const F_GETFL: usize = 3;
const F_SETFL: usize = 4;
const F_DUPFD_CLOEXEC: usize = 1030;

/// Call system call `nr` with up to three arguments, as `int $0x80` would.
fn syscall(nr: i32, a: usize, b: usize, c: usize) -> i32 {
    let mut regs = PtRegs { bx: a as u32, cx: b as u32, dx: c as u32, orig_ax: nr as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

/// Give the test's thread an address space (DATA: 16 untouched pages).
fn setup() {
    current().set_mm(address_space_with(&[0x90]));
}

/// `pipe2` into DATA; the two descriptors.
fn pipe2(flags: u32) -> (usize, usize) {
    assert_eq!(syscall(nr::PIPE2, DATA, flags as usize, 0), 0, "pipe2");
    let mut b = [0u8; 8];
    assert_eq!(copy_from_user(&mut b, DATA), 0);
    let r = i32::from_le_bytes(b[..4].try_into().unwrap());
    let w = i32::from_le_bytes(b[4..].try_into().unwrap());
    (r as usize, w as usize)
}

fn put(addr: usize, bytes: &[u8]) {
    assert_eq!(copy_to_user(addr, bytes), 0, "copy_to_user at {addr:#x}");
}

fn get(addr: usize, n: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0, "copy_from_user at {addr:#x}");
    v
}

fn pattern(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| crate::tests::common::pattern(seed, i)).collect()
}

/// The pipe behind descriptor `fd` of the current task.
fn pipe_of(fd: usize) -> Arc<PipeInodeInfo> {
    let Some(Fd::File(f)) = current().files.lock().get(fd as i32) else { panic!("fd {fd} is no open file") };
    let InodeKind::Pipe(p) = &f.inode.kind else { panic!("fd {fd} is not a pipe") };
    p.clone()
}

/// Start a task in this task's address space with a copy of its
/// descriptors (what `fork` gives a child, without the copy-on-write).
fn spawn_sharing(name: &str, f: impl FnOnce() + Send + 'static) -> crate::sched::JoinHandle {
    let mm = current().mm().expect("setup() gave an address space");
    let files = current().files.lock().clone();
    crate::sched::spawn(name, move || {
        let t = current();
        t.set_mm(mm);
        let old = core::mem::replace(&mut *t.files.lock(), files);
        drop(old);
        f();
    })
}

/// Wait (sleeping, up to 2 s) until `cond` holds; whether it did.
fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if cond() {
            return true;
        }
        crate::sched::msleep(5);
    }
    cond()
}

fn pipe_data_passes_intact_through_highmem_buffers() {
    crate::tools::ktest::require_highmem();
    setup();
    let (r, w) = pipe2(0);
    assert_eq!((r, w), (3, 4), "the two lowest free descriptors, read end first");
    let data = pattern(7, 3 * 4096 + 123);
    put(DATA + 0x1000, &data);
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, data.len()), data.len() as i32);
    let pages = pipe_of(r).buffer_pages();
    assert_eq!(pages.len(), 4, "three full pages and one more");
    assert!(pages.iter().all(|p| crate::mm::page_alloc::PageHighMem(p)), "every pipe buffer page is highmem (GFP_HIGHUSER at -m 3G)");
    // Read back in odd pieces into untouched pages.
    let mut got = Vec::new();
    while got.len() < data.len() {
        let n = syscall(nr::READ, r, DATA + 0x8000, 5000);
        assert!(n > 0, "read returned {n}");
        got.extend(get(DATA + 0x8000, n as usize));
    }
    assert!(got == data, "the bytes came out as they went in");
    assert!(pipe_of(r).buffer_pages().is_empty(), "all consumed");
    assert_eq!(crate::tests::common::kmap_depth(), 0, "no kmap_local mapping left behind");
}

fn small_writes_merge_into_the_last_buffer() {
    setup();
    let (r, w) = pipe2(0);
    put(DATA + 0x1000, b"0123456789");
    for _ in 0..5 {
        assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 10), 10);
    }
    assert_eq!(pipe_of(r).buffer_pages().len(), 1, "five 10-byte writes share one buffer (pipe_buf_can_merge)");
    assert_eq!(pipe_of(r).bytes_queued(), 50);
    // A write whose tail does not fit the last buffer takes a new one whole.
    put(DATA + 0x2000, &[b'x'; 4090]);
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x2000, 4090), 4090);
    assert_eq!(pipe_of(r).buffer_pages().len(), 2, "4090 bytes do not fit after 50: a new buffer, not a split");
    assert_eq!(syscall(nr::READ, r, DATA + 0x4000, 8192), 4140, "one read takes what is there, across buffers");
    assert_eq!(get(DATA + 0x4000, 12), b"012345678901");
}

fn a_reader_sleeps_until_another_task_writes() {
    setup();
    let (r, w) = pipe2(0);
    let pipe = pipe_of(r);
    let reader = crate::sched::current_arc();
    put(DATA + 0x1000, b"wake up");
    let saw = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let writer = {
        let saw = saw.clone();
        spawn_sharing("pipe-writer", move || {
            // The reader must be asleep on the pipe's queue (not spinning)
            // before we write. (Write in any case: a failed check must not
            // leave the reader asleep for ever.)
            saw.store(wait_until(|| pipe.waiters().0 == 1 && reader.state() == TASK_INTERRUPTIBLE), SeqCst);
            syscall(nr::WRITE, w, DATA + 0x1000, 7);
        })
    };
    let n = syscall(nr::READ, r, DATA + 0x2000, 100);
    writer.join();
    assert!(saw.load(SeqCst), "the reader slept on rd_wait, TASK_INTERRUPTIBLE (Linux pipe_read), until the write");
    assert_eq!(n, 7);
    assert_eq!(get(DATA + 0x2000, 7), b"wake up");
}

fn read_gives_end_of_file_when_every_writer_is_gone() {
    setup();
    let (r, w) = pipe2(0);
    let w2 = syscall(nr::DUP, w, 0, 0) as usize;
    put(DATA + 0x1000, b"last words");
    assert_eq!(syscall(nr::WRITE, w2, DATA + 0x1000, 10), 10);
    assert_eq!(syscall(nr::CLOSE, w, 0, 0), 0);
    assert_eq!(syscall(nr::READ, r, DATA + 0x2000, 100), 10, "what was written stays readable");
    // One writer (the dup) is still open: a blocked read, woken by its close
    // in another task, then end of file.
    let pipe = pipe_of(r);
    let saw = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let closer = {
        let saw = saw.clone();
        spawn_sharing("pipe-closer", move || {
            saw.store(wait_until(|| pipe.waiters().0 == 1), SeqCst);
            // This task's copy of the descriptor and the test's are one
            // open file: with ours closed, this ends the last writer.
            syscall(nr::CLOSE, w2, 0, 0);
        })
    };
    // The closer's table holds w2 too (a copy of ours), so close ours now:
    assert_eq!(syscall(nr::CLOSE, w2, 0, 0), 0);
    assert_eq!(syscall(nr::READ, r, DATA + 0x2000, 100), 0, "end of file once the last writer is gone");
    closer.join();
    assert!(saw.load(SeqCst), "the reader waited while a writer was open");
    assert_eq!(syscall(nr::READ, r, DATA + 0x2000, 100), 0, "and again");
}

fn write_gives_epipe_when_every_reader_is_gone() {
    setup();
    let (r, w) = pipe2(0);
    put(DATA + 0x1000, b"nobody listens");
    assert_eq!(syscall(nr::CLOSE, r, 0, 0), 0);
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 14), -EPIPE);
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 0), 0, "a null write succeeds even so (Linux checks the length first)");
    // The EPIPE came with a SIGPIPE, which a kernel task never takes: drop
    // it, or the next sleep (interruptible) would end at once.
    current().signal.flush_signals();
    // A writer blocked on a full pipe gets EPIPE when the reader goes.
    let (r, w) = pipe2(0);
    let pipe = pipe_of(r);
    put(DATA + 0x2000, &[b'z'; 4096]);
    let saw = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let closer = {
        let saw = saw.clone();
        spawn_sharing("pipe-reader-closer", move || {
            saw.store(wait_until(|| pipe.waiters().1 == 1), SeqCst);
            syscall(nr::CLOSE, r, 0, 0);
        })
    };
    assert_eq!(syscall(nr::CLOSE, r, 0, 0), 0);
    for _ in 0..16 {
        assert_eq!(syscall(nr::WRITE, w, DATA + 0x2000, 4096), 4096);
    }
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x2000, 4096), -EPIPE, "woken by the last reader's close: EPIPE");
    closer.join();
    assert!(saw.load(SeqCst), "the writer waited on the full pipe");
}

fn o_nonblock_gives_eagain_instead_of_waiting() {
    setup();
    let (r, w) = pipe2(O_NONBLOCK);
    assert_eq!(syscall(nr::READ, r, DATA + 0x1000, 10), -EAGAIN, "empty, with a writer");
    put(DATA + 0x1000, &pattern(3, 4096));
    for i in 0..16 {
        assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 4096), 4096, "buffer {i}");
    }
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 1), -EAGAIN, "16 buffers full");
    assert_eq!(syscall(nr::READ, r, DATA + 0x3000, 4096), 4096);
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 8192), 4096, "a partial write: one buffer was free");
    // F_SETFL clears O_NONBLOCK on the read end only (each end is a file).
    assert_eq!(syscall(nr::FCNTL64, r, F_GETFL, 0), (O_RDONLY | O_NONBLOCK) as i32);
    assert_eq!(syscall(nr::FCNTL64, r, F_SETFL, 0), 0);
    assert_eq!(syscall(nr::FCNTL64, r, F_GETFL, 0), O_RDONLY as i32);
    assert_eq!(syscall(nr::FCNTL64, w, F_GETFL, 0), (O_WRONLY | O_NONBLOCK) as i32);
    for i in 0..16 {
        assert_eq!(syscall(nr::READ, r, DATA + 0x3000, 4096), 4096, "buffer {i} read back");
    }
    assert_eq!(syscall(nr::CLOSE, w, 0, 0), 0);
    assert_eq!(syscall(nr::READ, r, DATA + 0x3000, 10), 0, "no writer: end of file, not EAGAIN");
}

/// The seed claim again, for a pipe: `read()` copies from the pipe page
/// mapped with kmap_local to an untouched user buffer; the copy faults,
/// the fault sleeps (forced), and while the reader sleeps, another task
/// sees the reader still holding the kmap_local mapping of exactly that
/// pipe page.
fn pipe_read_faults_inside_the_kmap_local_mapping_of_the_pipe_page() {
    crate::tools::ktest::require_highmem(); // a lowmem page would need no mapping
    setup();
    let (r, w) = pipe2(0);
    put(DATA + 0x1000, &pattern(42, 4096));
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 4096), 4096);
    let page = pipe_of(r).buffer_pages()[0];
    let pfn = crate::mm::page_alloc::page_to_pfn(page);
    assert!(crate::mm::page_alloc::PageHighMem(page));
    let reader = crate::sched::current_arc();
    let seen = Arc::new(core::sync::atomic::AtomicUsize::new(0));
    let observer = {
        let seen = seen.clone();
        crate::sched::spawn("kmap-observer", move || {
            // While the reader sleeps in the forced fault sleep...
            let asleep = wait_until(|| reader.state() == TASK_UNINTERRUPTIBLE && reader.kmap_ctrl_snapshot().idx > 0);
            let ctrl = reader.kmap_ctrl_snapshot();
            let held = ctrl.pteval[..ctrl.idx].iter().any(|&pte| mm::pgtable_types::pte_t(pte).pfn() == pfn && mm::pgtable_types::pte_t(pte).present());
            seen.store(usize::from(asleep) + 2 * usize::from(held), SeqCst);
        })
    };
    let faults = crate::arch::mm::fault::USER_FAULTS_RESOLVED.load(SeqCst);
    crate::arch::mm::fault::FORCE_SLEEP_MS.store(50, SeqCst);
    let n = syscall(nr::READ, r, DATA + 0x6000, 4096); // untouched
    crate::arch::mm::fault::FORCE_SLEEP_MS.store(0, SeqCst);
    observer.join();
    assert_eq!(n, 4096);
    assert!(crate::arch::mm::fault::USER_FAULTS_RESOLVED.load(SeqCst) > faults, "the copy faulted the buffer in");
    assert_eq!(seen.load(SeqCst), 3, "the reader slept in the fault (1) holding a kmap_local mapping of the pipe page, pfn {pfn:#x} (2)");
    assert!(get(DATA + 0x6000, 4096) == pattern(42, 4096), "the bytes arrived intact");
    assert_eq!(crate::tests::common::kmap_depth(), 0);
}

/// Two writers, 3000-byte writes (at most PIPE_BUF), a slow reader that
/// keeps the pipe full (so writers sleep, where a non-atomic write would
/// leave half of itself behind): every 3000-byte piece of what is read
/// comes from one write.
fn writes_of_at_most_pipe_buf_bytes_are_not_interleaved() {
    const N: usize = 60;
    const LEN: usize = 3000;
    setup();
    // First, deterministically: a full pipe whose last buffer has 2096
    // bytes of room. A 3000-byte write must wait with none of its bytes in
    // the pipe (a non-atomic write would put 2096 of them there and sleep,
    // letting another writer's bytes in after them).
    let (r, w) = pipe2(0);
    put(DATA + 0x1000, &[b'A'; 4096]);
    for _ in 0..15 {
        assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 4096), 4096);
    }
    assert_eq!(syscall(nr::WRITE, w, DATA + 0x1000, 2000), 2000);
    let pipe = pipe_of(r);
    put(DATA + 0x2000, &[b'B'; LEN]);
    let blocked = spawn_sharing("writer-B", move || {
        syscall(nr::WRITE, w, DATA + 0x2000, LEN);
    });
    let waited = wait_until(|| pipe.waiters().1 == 1);
    let queued = pipe.bytes_queued();
    let mut got = Vec::new();
    while got.len() < 15 * 4096 + 2000 + LEN {
        let n = syscall(nr::READ, r, DATA + 0x8000, 4096);
        assert!(n > 0, "read: {n}");
        got.extend(get(DATA + 0x8000, n as usize));
    }
    blocked.join();
    assert!(waited, "the 3000-byte write waited on the full pipe");
    assert_eq!(queued, 15 * 4096 + 2000, "and had put none of its bytes in while it waited");
    assert!(got[15 * 4096 + 2000..].iter().all(|&b| b == b'B'), "then went in whole");
    assert_eq!(syscall(nr::CLOSE, r, 0, 0), 0);
    assert_eq!(syscall(nr::CLOSE, w, 0, 0), 0);
    // Then two writers against a slow reader.
    let (r, w) = pipe2(0);
    put(DATA + 0x1000, &[b'A'; LEN]);
    put(DATA + 0x2000, &[b'B'; LEN]);
    let short = Arc::new(core::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = [(DATA + 0x1000, "writer-A"), (DATA + 0x2000, "writer-B")]
        .into_iter()
        .map(|(src, name)| {
            let short = short.clone();
            spawn_sharing(name, move || {
                for _ in 0..N {
                    if syscall(nr::WRITE, w, src, LEN) != LEN as i32 {
                        short.fetch_add(1, SeqCst);
                    }
                }
            })
        })
        .collect();
    assert_eq!(syscall(nr::CLOSE, w, 0, 0), 0, "only the writers' copies stay open");
    let mut got = Vec::new();
    loop {
        let n = syscall(nr::READ, r, DATA + 0x8000, 1000);
        assert!(n >= 0, "read: {n}");
        if n == 0 {
            break;
        }
        got.extend(get(DATA + 0x8000, n as usize));
        if got.len() % 7000 < 1000 {
            crate::sched::yield_now(); // let the pipe fill up
        }
    }
    for h in writers {
        h.join();
    }
    assert_eq!(short.load(SeqCst), 0, "every write wrote all its bytes");
    assert_eq!(got.len(), 2 * N * LEN, "every byte arrived");
    for (i, piece) in got.chunks(LEN).enumerate() {
        assert!(piece.iter().all(|&b| b == piece[0]), "piece {i} mixes two writes: {:?}...", &piece[..8]);
    }
    assert_eq!(got.chunks(LEN).filter(|p| p[0] == b'A').count(), N);
}

fn open_fds() -> usize {
    (0..NR_OPEN as i32).filter(|&fd| current().files.lock().get(fd).is_some()).count()
}

fn pipe2_bad_flags_and_bad_pointer_get_linuxs_errno_and_leak_no_fd() {
    setup();
    let before = open_fds();
    assert_eq!(syscall(nr::PIPE2, DATA, 0o1, 0), -EINVAL, "O_WRONLY is no pipe2 flag");
    assert_eq!(syscall(nr::PIPE2, DATA, 0o100, 0), -EINVAL, "O_CREAT");
    assert_eq!(syscall(nr::PIPE2, DATA, 0o200, 0), -ENOPKG, "O_NOTIFICATION_PIPE without watch queues");
    assert_eq!(syscall(nr::PIPE2, 0, 0, 0), -EFAULT, "a NULL fildes");
    assert_eq!(syscall(nr::PIPE2, 0xc000_0000, O_CLOEXEC as usize, 0), -EFAULT, "a kernel fildes");
    assert_eq!(syscall(nr::PIPE, 0xffff_fffc, 0, 0), -EFAULT, "fildes straddling the top of the address space");
    assert_eq!(open_fds(), before, "no descriptor leaked by the failed calls");
    assert_eq!(pipe2(0), (3, 4), "the next pipe gets the lowest descriptors");
    // EMFILE: one descriptor left is not enough.
    while open_fds() < NR_OPEN - 1 {
        assert!(syscall(nr::DUP, 0, 0, 0) >= 0);
    }
    assert_eq!(syscall(nr::PIPE2, DATA, 0, 0), -EMFILE);
    assert_eq!(open_fds(), NR_OPEN - 1, "the first end was given back");
    assert_eq!(syscall(nr::DUP, 0, 0, 0), NR_OPEN as i32 - 1, "fd 1023 is the last");
    assert_eq!(syscall(nr::DUP, 0, 0, 0), -EMFILE, "RLIMIT_NOFILE: 1024 descriptors");
}

fn dup_dup2_dup3_share_the_open_file_with_linuxs_errnos() {
    setup();
    put(DATA, b"/data/small.bin\0");
    let fd = syscall(nr::OPEN, DATA, 0, 0) as usize;
    let d = syscall(nr::DUP, fd, 0, 0) as usize;
    assert_eq!(d, fd + 1, "the lowest free descriptor");
    assert_eq!(syscall(nr::READ, fd, DATA + 0x1000, 10), 10);
    assert_eq!(syscall(nr::LSEEK, d, 0, 1), 10, "a dup shares the position (one struct file)");
    assert_eq!(syscall(nr::DUP2, fd, 10, 0), 10);
    assert_eq!(syscall(nr::LSEEK, 10, 0, 1), 10);
    assert_eq!(syscall(nr::DUP2, fd, fd, 0), fd as i32, "dup2 onto itself: the fd, nothing closed");
    assert_eq!(syscall(nr::DUP2, 77, 77, 0), -EBADF, "dup2 onto itself of a closed fd");
    assert_eq!(syscall(nr::DUP2, 77, 5, 0), -EBADF, "a closed oldfd");
    assert_eq!(syscall(nr::DUP2, fd, NR_OPEN, 0), -EBADF, "newfd at RLIMIT_NOFILE");
    assert_eq!(syscall(nr::DUP2, fd, usize::MAX, 0), -EBADF, "newfd -1");
    assert_eq!(syscall(nr::DUP3, fd, fd, 0), -EINVAL, "dup3 with equal fds");
    assert_eq!(syscall(nr::DUP3, fd, 11, 0o4000), -EINVAL, "dup3 flags other than O_CLOEXEC");
    assert_eq!(syscall(nr::DUP3, fd, 11, O_CLOEXEC as usize), 11);
    assert_eq!(syscall(nr::FCNTL64, 11, F_GETFD, 0), 1, "dup3 O_CLOEXEC marks the new fd");
    assert_eq!(syscall(nr::FCNTL64, 10, F_GETFD, 0), 0, "dup2 never does");
    // dup2 over an open pipe end closes it: the reader sees end of file.
    let (r, w) = pipe2(0);
    assert_eq!(syscall(nr::DUP2, fd, w, 0), w as i32);
    assert_eq!(syscall(nr::READ, r, DATA + 0x1000, 10), 0, "the pipe's only writer was closed by dup2");
    assert_eq!(syscall(nr::DUP, 555, 0, 0), -EBADF);
    assert_eq!(syscall(nr::DUP, usize::MAX, 0, 0), -EBADF);
    // A copied table (fork) shares the open file, and so its position.
    let child = spawn_sharing("fd-sharer", move || {
        assert_eq!(syscall(nr::READ, fd, DATA + 0x1000, 30), 30);
    });
    assert_eq!(child.join(), 0);
    assert_eq!(syscall(nr::LSEEK, fd, 0, 1), 40, "the other task's read moved our position");
}

fn fcntl_dupfd_getfd_setfd_getfl_setfl_and_unknown_cmd() {
    setup();
    let (r, w) = pipe2(O_CLOEXEC);
    assert_eq!(syscall(nr::FCNTL, r, F_GETFD, 0), 1, "pipe2(O_CLOEXEC) marks both");
    assert_eq!(syscall(nr::FCNTL, w, F_GETFD, 0), 1);
    assert_eq!(syscall(nr::FCNTL, r, F_SETFD, 0), 0);
    assert_eq!(syscall(nr::FCNTL, r, F_GETFD, 0), 0);
    assert_eq!(syscall(nr::FCNTL, r, F_DUPFD, 20), 20, "F_DUPFD: the lowest free at or above 20");
    assert_eq!(syscall(nr::FCNTL, r, F_DUPFD, 20), 21);
    assert_eq!(syscall(nr::FCNTL, 21, F_GETFD, 0), 0);
    assert_eq!(syscall(nr::FCNTL, r, F_DUPFD_CLOEXEC, 0), 5, "F_DUPFD_CLOEXEC");
    assert_eq!(syscall(nr::FCNTL, 5, F_GETFD, 0), 1);
    assert_eq!(syscall(nr::FCNTL, r, F_DUPFD, NR_OPEN), -EINVAL, "F_DUPFD from RLIMIT_NOFILE");
    assert_eq!(syscall(nr::FCNTL, r, F_GETFL, 0), O_RDONLY as i32);
    assert_eq!(syscall(nr::FCNTL, w, F_GETFL, 0), O_WRONLY as i32);
    // F_SETFL: O_APPEND and O_NONBLOCK change, the access mode does not;
    // a dup sees the change (the flags are the open file's).
    assert_eq!(syscall(nr::FCNTL, 20, F_SETFL, (O_NONBLOCK | 0o2000 | 2) as usize), 0);
    assert_eq!(syscall(nr::FCNTL, r, F_GETFL, 0), (O_RDONLY | O_NONBLOCK | 0o2000) as i32);
    assert_eq!(syscall(nr::READ, r, DATA + 0x1000, 1), -EAGAIN, "O_NONBLOCK set through the dup holds for r");
    assert_eq!(syscall(nr::FCNTL, 1, F_SETFL, 0o40000), -EINVAL, "O_DIRECT on the console");
    assert_eq!(syscall(nr::FCNTL, r, 9999, 0), -EINVAL, "an unknown cmd");
    assert_eq!(syscall(nr::FCNTL, 99, F_GETFD, 0), -EBADF);
    assert_eq!(syscall(nr::FCNTL64, 99, 9999, 0), -EBADF, "EBADF before the cmd is looked at");
    assert_eq!(syscall(nr::FCNTL, 0, F_GETFL, 0), 2, "the console: O_RDWR");
    assert_eq!(syscall(nr::LSEEK, r, 0, 0), -ESPIPE, "a pipe cannot seek");
    assert_eq!(syscall(nr::READ, w, DATA + 0x1000, 1), -EBADF, "the write end is not open for reading");
    assert_eq!(syscall(nr::WRITE, r, DATA + 0x1000, 1), -EBADF, "nor the read end for writing");
}

/// A task marks one pipe end close-on-exec, keeps the other, and execs
/// /bin/pipetest in `fds-after-exec` mode, which checks from user space
/// (with fcntl(F_GETFD)) that the first is closed and the second open, and
/// exits 0 only then.
fn fd_cloexec_descriptors_are_closed_by_execve() {
    let h = crate::sched::spawn("cloexec", || {
        let regs = {
            setup();
            let (r, w) = pipe2(0);
            assert_eq!(syscall(nr::FCNTL64, r, F_SETFD, 1), 0);
            let (rs, ws) = (alloc::format!("{r}"), alloc::format!("{w}"));
            let argv: [&[u8]; 4] = [b"/bin/pipetest", b"fds-after-exec", rs.as_bytes(), ws.as_bytes()];
            crate::fs::exec::kernel_execve("/bin/pipetest", &argv, &[]).expect("exec /bin/pipetest")
        };
        let top = current().stack_top().expect("a task stack");
        // SAFETY: kernel_execve switched this task to the program's address
        // space and regs are its entry and stack; this task's stack top is
        // unused.
        unsafe { crate::arch::entry::entry_32::start_user_mode(&regs, top) }
    });
    assert_eq!(h.join(), 0, "pipetest saw the FD_CLOEXEC end closed and the other open (exit status 1: not)");
}

fn dev_null_and_dev_zero_read_and_write_as_in_linux() {
    setup();
    put(DATA, b"/dev/null\0");
    let null = syscall(nr::OPEN, DATA, 2, 0) as usize;
    assert!(null >= 3);
    assert_eq!(syscall(nr::READ, null, DATA + 0x1000, 100), 0, "/dev/null reads end of file");
    assert_eq!(syscall(nr::WRITE, null, DATA + 0x1000, 100), 100, "and swallows every byte");
    assert_eq!(syscall(nr::WRITE, null, 0, 5000), 5000, "without looking at the buffer");
    assert_eq!(syscall(nr::WRITE, null, 0xc000_0000, 1), -EFAULT, "but access_ok still holds");
    assert_eq!(syscall(nr::LSEEK, null, 100, 0), 0, "null_lseek: position 0");
    put(DATA, b"/dev/zero\0");
    let zero = syscall(nr::OPEN, DATA, 2, 0) as usize;
    put(DATA + 0x2000, &[0xaa; 8192]);
    assert_eq!(syscall(nr::READ, zero, DATA + 0x2000 + 100, 5000), 5000);
    let got = get(DATA + 0x2000, 8192);
    assert!(got[..100].iter().all(|&b| b == 0xaa) && got[100..5100].iter().all(|&b| b == 0) && got[5100..].iter().all(|&b| b == 0xaa),
        "/dev/zero cleared exactly the 5000 bytes asked");
    assert_eq!(syscall(nr::READ, zero, DATA + 0xa000, 4096), 4096, "into untouched pages (clear_user faults them in)");
    assert!(get(DATA + 0xa000, 4096).iter().all(|&b| b == 0));
    assert_eq!(syscall(nr::READ, zero, 0, 10), -EFAULT, "a NULL buffer: nothing cleared");
    let end = DATA + 16 * 4096;
    assert_eq!(syscall(nr::READ, zero, end - 10, 100), 10, "a buffer running off its area: the part that could be cleared");
    assert_eq!(syscall(nr::WRITE, zero, DATA, 77), 77, "/dev/zero swallows writes");
    let ro = syscall(nr::OPEN, DATA, 0, 0) as usize;
    assert_eq!(syscall(nr::WRITE, ro, DATA, 1), -EBADF, "opened O_RDONLY: no writing");
}

fn dev_holds_the_four_nodes_and_console_opens_as_fds_0_to_2() {
    use boot::initramfs::FileType;
    for (name, mode, major, minor) in [("null", 0o666, 1, 3), ("zero", 0o666, 1, 5), ("tty", 0o666, 5, 0), ("console", 0o600, 5, 1)] {
        let i = crate::fs::lookup(&alloc::format!("/dev/{name}")).unwrap_or_else(|| panic!("/dev/{name} made at boot"));
        assert_eq!((i.file_type(), i.rdev(), i.mode), (FileType::CharDevice, Some((major, minor)), mode), "/dev/{name}");
    }
    setup();
    for path in [&b"/dev/console\0"[..], b"/dev/tty\0"] {
        put(DATA, path);
        // (/dev/tty is the controlling terminal: termios.rs tests it.)
        let mut fd = 0;
        super::termios::with_ctty(|| fd = syscall(nr::OPEN, DATA, 2, 0));
        assert!(fd >= 3);
        assert!(matches!(current().files.lock().get(fd), Some(Fd::Console)), "the same kind of file as fd 0/1/2");
    }
    crate::fs::rootfs().mknod_chr("/dev/nodriver", 0o600, 1, 99).unwrap();
    put(DATA, b"/dev/nodriver\0");
    assert_eq!(syscall(nr::OPEN, DATA, 0, 0), -ENXIO, "a device number with no driver");
    let dev = crate::fs::rootfs().namei("/dev").unwrap();
    let InodeKind::Directory(d) = &dev.kind else { panic!("/dev is a directory") };
    d.lock().remove("nodriver");
}

fn devtmpfs_completes_a_dev_the_initramfs_brought() {
    use boot::initramfs::{Header, NewcWriter, S_IFCHR};
    let mut ar = Vec::new();
    let mut w = NewcWriter::new(&mut ar);
    w.dir("dev");
    w.file("dev/README", b"kept");
    w.file("dev/null", b"a regular file where the node goes");
    w.raw_entry(Header { mode: S_IFCHR | 0o620, nlink: 1, rdevmajor: 4, rdevminor: 1, ..Header::default() }, "dev/tty1", b"");
    w.trailer();
    let fs = crate::fs::Ramfs::new();
    crate::fs::initramfs::unpack(&fs, &ar, &mut |_| {}).unwrap();
    assert_eq!(crate::fs::char_dev::devtmpfs_init(&fs), 5);
    assert_eq!(fs.namei("dev/README").unwrap().size(), 4, "the archive's files are kept");
    assert_eq!(fs.namei("dev/tty1").unwrap().rdev(), Some((4, 1)), "and its device nodes");
    assert_eq!(fs.namei("dev/null").unwrap().rdev(), Some((1, 3)), "the kernel's node replaces a file of the same name");
    assert_eq!(fs.namei("dev/console").unwrap().rdev(), Some((5, 1)));
}
