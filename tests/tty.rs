//! `read(0)`: the console as a terminal (kernel/src/tty.rs, Linux
//! `drivers/tty/n_tty.c` in canonical mode). Input is typed through the
//! UART's loopback (`console::loopback_inject`): the whole path, UART ->
//! I/O APIC -> the serial interrupt -> the ring -> the line discipline.
//!
//! Each test runs with no foreground process (no job control, as when
//! the runner starts the suite) and its own clean input, and leaves the
//! foreground as it found it (the console's `test` command runs these
//! with the shell as the foreground).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::copy_from_user;
use crate::errno::{EFAULT, EINVAL, EIO};
use crate::test_case;
use crate::tools::ktest::Test;

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(a_read_of_fd_0_sleeps_until_a_line_is_typed),
    test_case!(a_read_gives_at_most_count_bytes_of_one_line_and_keeps_the_rest),
    test_case!(ctrl_d_ends_a_line_and_at_its_start_is_end_of_file_erase_and_kill_edit_it),
    test_case!(bad_buffers_get_efault_and_lose_nothing),
    test_case!(a_background_reader_of_its_ctty_gets_eio_and_others_read),
    test_case!(ctrl_c_signals_every_process_of_the_foreground_group),
    test_case!(a_signal_ends_a_waiting_console_read_with_erestartsys),
    test_case!(echoline_run_as_a_program_reads_the_typed_lines),
];

/// Type `bytes` into the console through the UART's loopback, 8 at a
/// time with a pause between: the UART's receive FIFO holds 16 bytes,
/// and the interrupt handler empties it only once the injection, which
/// runs with interrupts off, is over.
fn loopback_inject(bytes: &[u8]) {
    for chunk in bytes.chunks(8) {
        crate::console::loopback_inject(chunk);
        crate::sched::msleep(2);
    }
}

fn read0(buf: usize, count: usize) -> i32 {
    let mut regs = PtRegs { bx: 0, cx: buf as u32, dx: count as u32, orig_ax: nr::READ as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr::READ).expect("read")(&mut regs)
}

fn user_bytes(n: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, DATA), 0);
    v
}

/// Run `f` with an address space, no foreground (restored after) and no
/// input left over from before.
fn with_console(f: impl FnOnce()) {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    let old = crate::tty::set_foreground(None);
    crate::tty::reset();
    crate::tty::flush_input();
    f();
    crate::tty::flush_input();
    crate::tty::set_foreground(old);
}

/// The reader must be asleep (TASK_INTERRUPTIBLE, on the serial
/// ring's wait queue), not spinning, before the line comes: a helper
/// watches its state and types the line only then.
fn a_read_of_fd_0_sleeps_until_a_line_is_typed() {
    with_console(|| {
        let me = crate::sched::current_arc();
        let saw_asleep = Arc::new(AtomicBool::new(false));
        let typist = {
            let saw = saw_asleep.clone();
            crate::sched::spawn("typist", move || {
                for _ in 0..2000 {
                    if me.state() == crate::sched::task::TASK_INTERRUPTIBLE {
                        saw.store(true, SeqCst);
                        break;
                    }
                    crate::sched::msleep(1);
                }
                crate::sched::msleep(20);
                loopback_inject(b"hello\r");
            })
        };
        let n = read0(DATA, 64);
        typist.join();
        assert!(saw_asleep.load(SeqCst), "the reader slept while no line had come");
        assert_eq!(n, 6, "'hello' and the newline");
        assert_eq!(user_bytes(6), b"hello\n", "Enter ('\\r') arrives as '\\n' (ICRNL)");
    });
}

fn a_read_gives_at_most_count_bytes_of_one_line_and_keeps_the_rest() {
    with_console(|| {
        loopback_inject(b"abcdefghij\rsecond\r");
        assert_eq!(read0(DATA, 4), 4);
        assert_eq!(user_bytes(4), b"abcd");
        assert_eq!(read0(DATA, 4), 4);
        assert_eq!(user_bytes(4), b"efgh");
        assert_eq!(read0(DATA, 100), 3, "the rest of the line, not into the next");
        assert_eq!(user_bytes(3), b"ij\n");
        assert_eq!(read0(DATA, 100), 7, "the next line on its own");
        assert_eq!(user_bytes(7), b"second\n");
        assert_eq!(read0(DATA, 0), 0, "a count of 0 reads nothing and does not wait");
    });
}

fn ctrl_d_ends_a_line_and_at_its_start_is_end_of_file_erase_and_kill_edit_it() {
    with_console(|| {
        loopback_inject(b"xy\x04\x04ab\x7fc\rjunk\x15ok\x7fK\r");
        assert_eq!(read0(DATA, 64), 2, "^D after 'xy': the line so far, no newline");
        assert_eq!(user_bytes(2), b"xy");
        assert_eq!(read0(DATA, 64), 0, "^D at the start of a line: end of file");
        assert_eq!(read0(DATA, 64), 3, "DEL erased the 'b'");
        assert_eq!(user_bytes(3), b"ac\n");
        assert_eq!(read0(DATA, 64), 3, "^U erased 'junk', DEL the 'k'");
        assert_eq!(user_bytes(3), b"oK\n");
    });
}

fn bad_buffers_get_efault_and_lose_nothing() {
    with_console(|| {
        // Refused before any input is looked at: it must not wait for a line.
        assert_eq!(read0(0xc000_0000, 10), -EFAULT, "a kernel address");
        assert_eq!(read0(0xbfff_fffc, 10), -EFAULT, "a buffer running into the kernel");
        assert_eq!(read0(DATA, usize::MAX), -EINVAL, "a count beyond ssize_t");
        loopback_inject(b"keep\r");
        assert_eq!(read0(0, 10), -EFAULT, "NULL: a user address that faults");
        assert_eq!(read0(DATA, 10), 5, "the line is still there");
        assert_eq!(user_bytes(5), b"keep\n");
    });
}

/// n_tty's job_control: a reader of its controlling terminal outside the
/// foreground group whose group is orphaned (the test task's parent is the
/// kernel), or that blocks SIGTTIN, gets -EIO; one for which the console
/// is not the controlling terminal reads (Linux lets it).
fn a_background_reader_of_its_ctty_gets_eio_and_others_read() {
    with_console(|| {
        let me = crate::sched::current();
        super::termios::with_ctty(|| {
            crate::tty::set_foreground(Some(me.id().wrapping_add(100_000)));
            loopback_inject(b"not yours\r");
            assert_eq!(read0(DATA, 64), -EIO, "a background reader of an orphaned group");
            let blocked = me.signal.blocked();
            me.signal.set_blocked(blocked | 1 << (crate::signal::SIGTTIN - 1));
            let r = read0(DATA, 64);
            me.signal.set_blocked(blocked);
            assert_eq!(r, -EIO, "SIGTTIN blocked");
            crate::tty::set_foreground(Some(me.id()));
            assert_eq!(read0(DATA, 64), 10, "the foreground group reads the line");
            assert_eq!(user_bytes(10), b"not yours\n");
        });
        let old = crate::tty::set_foreground(Some(me.id().wrapping_add(100_000)));
        loopback_inject(b"free\r");
        let r = read0(DATA, 64);
        crate::tty::set_foreground(old);
        assert_eq!(r, 5, "not its controlling terminal: no job control");
    });
}

/// ^C is SIGINT to every process of the foreground *group* (isig ->
/// kill_pgrp), and to no other: two sleepers of the group wake early,
/// a third of another group sleeps on.
fn ctrl_c_signals_every_process_of_the_foreground_group() {
    with_console(|| {
        let base = crate::sched::current().id().wrapping_add(200_000);
        let (fg, bg) = (base, base + 1);
        let spawn = |pgid: u32, out: Arc<AtomicI32>| {
            crate::sched::spawn("grp", move || {
                let me = crate::sched::current();
                me.signal.set_user();
                me.signal.set_pgid(pgid);
                let deadline = crate::sched::core::jiffies() + crate::sched::core::HZ;
                out.store(crate::sched::timer::sleep_until_interruptible(deadline) as i32, SeqCst);
            })
        };
        let outs: Vec<Arc<AtomicI32>> = (0..3).map(|_| Arc::new(AtomicI32::new(-1))).collect();
        let hs = [spawn(fg, outs[0].clone()), spawn(fg, outs[1].clone()), spawn(bg, outs[2].clone())];
        for h in &hs {
            while h.task().state() != crate::sched::task::TASK_INTERRUPTIBLE {
                crate::sched::yield_now();
            }
        }
        let old = crate::tty::set_foreground(Some(fg));
        loopback_inject(b"\x03");
        for h in hs {
            h.join();
        }
        crate::tty::set_foreground(old);
        assert!(outs[0].load(SeqCst) > 0, "first member of the foreground group interrupted");
        assert!(outs[1].load(SeqCst) > 0, "second member interrupted");
        assert_eq!(outs[2].load(SeqCst), 0, "another group slept its full second");
    });
}

/// A read of the console waiting for a line sleeps interruptibly: a signal
/// ends it with -ERESTARTSYS (restarted, or -EINTR after a handler).
fn a_signal_ends_a_waiting_console_read_with_erestartsys() {
    with_console(|| {
        let out = Arc::new(AtomicI32::new(0));
        let o = out.clone();
        let h = crate::sched::spawn("reader", move || {
            let me = crate::sched::current();
            me.set_mm(address_space_with(&[0x90]));
            o.store(read0(DATA, 16), SeqCst);
        });
        while h.task().state() != crate::sched::task::TASK_INTERRUPTIBLE {
            crate::sched::yield_now();
        }
        crate::signal::send_sig(crate::signal::SIGUSR1, h.task());
        h.join();
        assert_eq!(out.load(SeqCst), -crate::errno::ERESTARTSYS);
    });
}

/// The program of user/ that tests/user.sh drives through a pipe on the
/// host, here reading the console: a read into a kernel address first
/// (it exits 1 unless that is -EFAULT), then lines until ^D.
fn echoline_run_as_a_program_reads_the_typed_lines() {
    with_console(|| {
        let argv = alloc::vec![b"/bin/echoline".to_vec()];
        let h = crate::fs::exec::spawn_user("/bin/echoline", argv, alloc::vec![]);
        crate::sched::msleep(20);
        loopback_inject(b"hello world\rthe quick brown fox jumps over\rab\x7fc\r\x04");
        assert_eq!(h.join(), 0, "echoline exited 0 (its stderr says why not)");
    });
}
