//! The console as Linux's terminal (kernel/src/tty.rs, tty_ioctl.rs,
//! fs/select.rs): the ioctls and their errnos, the line discipline under
//! each setting (canonical and raw reads, VMIN/VTIME, echo, erase, the
//! keyboard's signals), the output processing, and poll/select/ppoll.
//! Input is typed through the UART's loopback, as in tests/tty.rs; what the
//! terminal sends back to the line is read through `tty::OUTPUT_TAP`.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering::SeqCst};

use alloc::sync::Arc;

use crate::arch::entry::PtRegs;
use crate::arch::entry::syscall_32::{ia32_sys_call_table, nr};
use crate::arch::lib::usercopy_32::{copy_from_user, copy_to_user};
use crate::errno::{EBADF, EFAULT, EINVAL, ENOTTY, ESRCH};
use crate::test_case;
use crate::tools::ktest::Test;
use crate::tty::{SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, Termios, cc, iflag, lflag, oflag};
use crate::tty_ioctl::*;

use super::user::{DATA, address_space_with};

pub const TESTS: &[Test] = &[
    test_case!(tcgets_gives_linuxs_tty_std_termios),
    test_case!(tcsets_round_trips_tcsetsf_flushes_input_and_a_bad_pointer_changes_nothing),
    test_case!(every_ioctl_gets_linuxs_errno),
    test_case!(winsize_is_80x24_until_set_and_a_change_signals_sigwinch),
    test_case!(tiocgpgrp_and_tiocspgrp_name_the_foreground),
    test_case!(fionread_counts_finished_lines_in_canonical_mode_and_bytes_raw),
    test_case!(raw_mode_vmin_1_returns_each_key_without_enter_or_echo),
    test_case!(raw_mode_vmin_0_returns_at_once_or_after_vtime),
    test_case!(raw_mode_vmin_3_waits_for_three_bytes),
    test_case!(switching_modes_keeps_what_was_typed),
    test_case!(echo_echoctl_and_erase_show_on_the_line_as_linux_shows_them),
    test_case!(werase_lnext_and_backspace_as_an_ordinary_byte),
    test_case!(opost_onlcr_turns_newline_into_crlf_on_the_serial_line),
    test_case!(ctrl_c_flushes_the_line_echoes_it_and_sends_sigint_to_the_foreground),
    test_case!(ctrl_backslash_and_ctrl_z_send_sigquit_and_sigtstp_noflsh_keeps_the_line),
    test_case!(without_isig_ctrl_c_is_an_ordinary_byte),
    test_case!(a_foreground_program_gets_ctrl_c_while_it_is_not_reading),
    test_case!(poll_tells_when_the_console_is_readable),
    test_case!(poll_sleeps_until_input_and_times_out),
    test_case!(poll_errnos_and_pollnval),
    test_case!(select_and_ppoll_on_the_console),
    test_case!(poll_and_fionread_of_a_pipe),
    test_case!(an_o_nonblock_console_read_gets_eagain_instead_of_waiting),
];

fn syscall(nr: i32, a: usize, b: usize, c: usize) -> i32 {
    let mut regs = PtRegs { bx: a as u32, cx: b as u32, dx: c as u32, orig_ax: nr as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

fn syscall5(nr: i32, a: usize, b: usize, c: usize, d: usize, e: usize) -> i32 {
    let mut regs =
        PtRegs { bx: a as u32, cx: b as u32, dx: c as u32, si: d as u32, di: e as u32, orig_ax: nr as u32, ..PtRegs::default() };
    ia32_sys_call_table(nr).expect("a system call we have")(&mut regs)
}

fn ioctl(fd: i32, cmd: u32, arg: usize) -> i32 {
    syscall(nr::IOCTL, fd as usize, cmd as usize, arg)
}

fn read0(buf: usize, count: usize) -> i32 {
    syscall(nr::READ, 0, buf, count)
}

fn type_in(bytes: &[u8]) {
    for chunk in bytes.chunks(8) {
        crate::console::loopback_inject(chunk);
        crate::sched::msleep(2);
    }
}

fn user_bytes(addr: usize, n: usize) -> Vec<u8> {
    let mut v = alloc::vec![0u8; n];
    assert_eq!(copy_from_user(&mut v, addr), 0);
    v
}

fn user_i32(addr: usize) -> i32 {
    let b = user_bytes(addr, 4);
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Where the tests keep a struct termios / winsize in the user's memory.
const ARG: usize = DATA + 0x1000;

/// TCGETS into user memory, then decoded.
fn get_termios() -> Termios {
    assert_eq!(ioctl(0, TCGETS, ARG), 0);
    Termios::STD.with_bytes(&user_bytes(ARG, crate::tty::TERMIOS_SIZE))
}

/// TCSETS from user memory.
fn set_termios(t: &Termios) {
    assert_eq!(copy_to_user(ARG, &t.to_bytes()[..crate::tty::TERMIOS_SIZE]), 0);
    assert_eq!(ioctl(0, TCSETS, ARG), 0);
}

/// cfmakeraw's settings with VMIN and VTIME.
fn raw(vmin: u8, vtime: u8) -> Termios {
    let mut t = Termios::STD;
    t.iflag &= !(iflag::ICRNL | iflag::IXON | iflag::INLCR | iflag::IGNCR | iflag::ISTRIP);
    t.oflag &= !oflag::OPOST;
    t.lflag &= !(lflag::ECHO | lflag::ECHONL | lflag::ICANON | lflag::ISIG | lflag::IEXTEN);
    t.cc[cc::VMIN] = vmin;
    t.cc[cc::VTIME] = vtime;
    t
}

/// Run `f` with an address space, no foreground, Linux's default settings
/// and no input left over; everything is put back after.
fn with_tty(f: impl FnOnce()) {
    crate::sched::current().set_mm(address_space_with(&[0x90]));
    let old = crate::tty::set_foreground(None);
    crate::tty::reset();
    crate::tty::flush_input();
    f();
    *crate::tty::OUTPUT_TAP.lock_irqsave() = None;
    crate::tty::reset();
    crate::tty::flush_input();
    crate::tty::set_foreground(old);
}

/// What the terminal sends to the line while `f` runs.
fn line_output(f: impl FnOnce()) -> Vec<u8> {
    *crate::tty::OUTPUT_TAP.lock_irqsave() = Some(Vec::new());
    f();
    crate::tty::OUTPUT_TAP.lock_irqsave().take().unwrap_or_default()
}

/// The keyboard signals sent since `from` (an index into ISIG_LOG).
fn signals_since(from: usize) -> Vec<(i32, u32)> {
    crate::tty::ISIG_LOG.lock_irqsave().iter().skip(from).copied().collect()
}

fn isig_mark() -> usize {
    crate::tty::ISIG_LOG.lock_irqsave().len()
}

fn tcgets_gives_linuxs_tty_std_termios() {
    with_tty(|| {
        assert_eq!(ioctl(0, TCGETS, ARG), 0);
        let b = user_bytes(ARG, 36);
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // The values `stty -g` prints for a fresh Linux terminal.
        assert_eq!(word(0), 0x500, "c_iflag ICRNL|IXON");
        assert_eq!(word(4), 0x5, "c_oflag OPOST|ONLCR");
        assert_eq!(word(8), 0x4bf, "c_cflag B38400|CS8|CREAD|HUPCL");
        assert_eq!(word(12), 0x8a3b, "c_lflag ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN");
        assert_eq!(b[16], 0, "c_line N_TTY");
        assert_eq!(&b[17..36], b"\x03\x1c\x7f\x15\x04\x00\x01\x00\x11\x13\x1a\x00\x12\x0f\x17\x16\x00\x00\x00", "INIT_C_CC");
        // termios2 is the same and the speeds.
        assert_eq!(copy_to_user(ARG, &[0xaa; 48]), 0);
        assert_eq!(ioctl(0, TCGETS2, ARG), 0);
        let b2 = user_bytes(ARG, 48);
        assert_eq!(&b2[..36], &b[..]);
        assert_eq!(u32::from_le_bytes([b2[36], b2[37], b2[38], b2[39]]), 38400, "c_ispeed");
        assert_eq!(u32::from_le_bytes([b2[40], b2[41], b2[42], b2[43]]), 38400, "c_ospeed");
        assert_eq!(&b2[44..], &[0xaa; 4], "TCGETS2 writes 44 bytes, no more");
    });
}

fn tcsets_round_trips_tcsetsf_flushes_input_and_a_bad_pointer_changes_nothing() {
    with_tty(|| {
        let r = raw(1, 0);
        set_termios(&r);
        assert_eq!(get_termios(), r, "TCGETS gives back what TCSETS set");
        assert_eq!(ioctl(0, TCSETSW, ARG), 0, "TCSETSW: nothing to drain");
        // TCSETSF throws away input not read yet; TCSETS keeps it.
        type_in(b"kept");
        set_termios(&Termios::STD);
        assert_eq!(copy_to_user(ARG, &r.to_bytes()[..36]), 0);
        assert_eq!(ioctl(0, TCSETS, ARG), 0);
        assert_eq!(read0(DATA, 16), 4, "TCSETS kept the typed bytes");
        assert_eq!(user_bytes(DATA, 4), b"kept");
        type_in(b"dropped");
        crate::sched::msleep(5);
        assert_eq!(ioctl(0, TCSETSF, ARG), 0);
        let mut nonblock = r;
        nonblock.cc[cc::VMIN] = 0;
        set_termios(&nonblock);
        assert_eq!(read0(DATA, 16), 0, "TCSETSF flushed the input");
        // A pointer that faults: -EFAULT and the settings unchanged.
        assert_eq!(ioctl(0, TCSETS, 0), -EFAULT);
        assert_eq!(ioctl(0, TCSETS, 0xc000_0000), -EFAULT);
        assert_eq!(ioctl(0, TCSETS2, 0xbfff_fff0), -EFAULT, "a termios2 running into the kernel");
        assert_eq!(get_termios(), nonblock);
        // termios2 sets the speeds too.
        let mut t2 = Termios::STD;
        t2.ispeed = 9600;
        t2.ospeed = 9600;
        assert_eq!(copy_to_user(ARG, &t2.to_bytes()), 0);
        assert_eq!(ioctl(0, TCSETS2, ARG), 0);
        assert_eq!(crate::tty::termios(), t2);
    });
}

fn every_ioctl_gets_linuxs_errno() {
    with_tty(|| {
        for cmd in [TCGETS, TCGETS2, TIOCGWINSZ, TIOCSWINSZ, TIOCGPGRP, TIOCSPGRP, FIONREAD, TCSETS, TCSETSW, TCSETSF] {
            assert_eq!(ioctl(0, cmd, 0), -EFAULT, "ioctl {cmd:#x} with a NULL pointer");
            assert_eq!(ioctl(1, cmd, 0xffff_f000), -EFAULT, "ioctl {cmd:#x} with a kernel pointer");
        }
        // Requests a terminal does not know: TIOCSTI 0x5412, TIOCLINUX
        // 0x541c, a made-up one, a block device's BLKGETSIZE.
        for cmd in [0x5412, 0x541c, 0x1234_5678, 0x1260] {
            assert_eq!(ioctl(0, cmd, ARG), -ENOTTY, "ioctl {cmd:#x} on the console");
        }
        assert_eq!(ioctl(0, TCFLSH, 3), -EINVAL, "TCFLSH with an unknown queue");
        assert_eq!(ioctl(0, TCFLSH, TCOFLUSH), 0);
        assert_eq!(ioctl(5, TCGETS, ARG), -EBADF, "a descriptor not open");
        assert_eq!(ioctl(-1, TCGETS, ARG), -EBADF);
        // A file that is not a terminal: every terminal request -ENOTTY.
        assert_eq!(copy_to_user(DATA, b"/bin/hello\0"), 0);
        let fd = syscall(nr::OPEN, DATA, 0, 0);
        assert!(fd >= 3, "open /bin/hello: {fd}");
        for cmd in [TCGETS, TCSETS, TIOCGWINSZ, TIOCGPGRP, TIOCSPGRP, TCFLSH] {
            assert_eq!(ioctl(fd, cmd, ARG), -ENOTTY, "ioctl {cmd:#x} on a ramfs file");
        }
        // ...but FIONREAD is answered for every regular file (do_vfs_ioctl).
        let size = crate::fs::lookup("/bin/hello").expect("/bin/hello").size() as i32;
        assert_eq!(ioctl(fd, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), size, "FIONREAD of a file at offset 0: its size");
        assert_eq!(syscall(nr::LSEEK, fd as usize, 100, 0), 100);
        assert_eq!(ioctl(fd, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), size - 100, "and from offset 100");
        assert_eq!(ioctl(fd, FIONREAD, 0), -EFAULT);
        assert_eq!(syscall(nr::CLOSE, fd as usize, 0, 0), 0);
        // TIOCSPGRP: a negative group -EINVAL, one that does not exist -ESRCH.
        assert_eq!(copy_to_user(ARG, &(-5i32).to_le_bytes()), 0);
        assert_eq!(ioctl(0, TIOCSPGRP, ARG), -EINVAL);
        assert_eq!(copy_to_user(ARG, &999_999i32.to_le_bytes()), 0);
        assert_eq!(ioctl(0, TIOCSPGRP, ARG), -ESRCH);
        assert_eq!(crate::tty::foreground(), None, "the failed calls changed nothing");
    });
}

fn winsize_is_80x24_until_set_and_a_change_signals_sigwinch() {
    with_tty(|| {
        assert_eq!(ioctl(0, TIOCGWINSZ, ARG), 0);
        assert_eq!(user_bytes(ARG, 8), [24, 0, 80, 0, 0, 0, 0, 0], "ws_row 24, ws_col 80");
        let mark = isig_mark();
        assert_eq!(copy_to_user(ARG, &[50, 0, 132, 0, 0, 0, 0, 0]), 0);
        assert_eq!(ioctl(0, TIOCSWINSZ, ARG), 0);
        assert_eq!(copy_to_user(ARG, &[0; 8]), 0);
        assert_eq!(ioctl(2, TIOCGWINSZ, ARG), 0);
        assert_eq!(user_bytes(ARG, 8), [50, 0, 132, 0, 0, 0, 0, 0], "the size set, through any descriptor");
        assert_eq!(signals_since(mark), [(SIGWINCH, u32::MAX)], "a change: SIGWINCH (to no foreground here)");
        assert_eq!(copy_to_user(ARG, &[50, 0, 132, 0, 0, 0, 0, 0]), 0);
        assert_eq!(ioctl(0, TIOCSWINSZ, ARG), 0);
        assert_eq!(signals_since(mark).len(), 1, "the same size again: no signal");
    });
}

fn tiocgpgrp_and_tiocspgrp_name_the_foreground() {
    with_tty(|| {
        assert_eq!(copy_to_user(ARG, &[0xff; 4]), 0);
        assert_eq!(ioctl(0, TIOCGPGRP, ARG), 0);
        assert_eq!(user_i32(ARG), 0, "no foreground: 0");
        let me = crate::sched::current().id();
        assert_eq!(copy_to_user(ARG, &(me as i32).to_le_bytes()), 0);
        assert_eq!(ioctl(0, TIOCSPGRP, ARG), 0);
        assert_eq!(crate::tty::foreground(), Some(me));
        assert_eq!(copy_to_user(ARG, &[0; 4]), 0);
        assert_eq!(ioctl(1, TIOCGPGRP, ARG), 0);
        assert_eq!(user_i32(ARG), me as i32, "TIOCGPGRP gives what TIOCSPGRP set");
        crate::tty::set_foreground(None);
    });
}

fn fionread_counts_finished_lines_in_canonical_mode_and_bytes_raw() {
    with_tty(|| {
        type_in(b"one\rtw");
        crate::sched::msleep(5);
        assert_eq!(ioctl(0, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), 4, "canonical: the finished line 'one\\n', not the 'tw' being typed");
        set_termios(&raw(1, 0));
        assert_eq!(ioctl(0, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), 6, "raw: every byte");
        type_in(b"xyz");
        crate::sched::msleep(5);
        assert_eq!(ioctl(0, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), 9);
        assert_eq!(ioctl(0, TCFLSH, TCIFLUSH), 0);
        assert_eq!(ioctl(0, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), 0, "TCFLSH TCIFLUSH threw it all away");
    });
}

fn raw_mode_vmin_1_returns_each_key_without_enter_or_echo() {
    with_tty(|| {
        set_termios(&raw(1, 0));
        let out = line_output(|| {
            type_in(b"q\r\x7f\x03");
            assert_eq!(read0(DATA, 1), 1);
            assert_eq!(user_bytes(DATA, 1), b"q", "a key, no Enter needed");
            assert_eq!(read0(DATA, 1), 1);
            assert_eq!(user_bytes(DATA, 1), b"\r", "Enter as it is: no ICRNL");
            assert_eq!(read0(DATA, 10), 2, "VMIN 1: whatever is there, at least one");
            assert_eq!(user_bytes(DATA, 2), b"\x7f\x03", "DEL and ^C are data in raw mode");
        });
        assert_eq!(out, b"", "no echo");
    });
}

fn raw_mode_vmin_0_returns_at_once_or_after_vtime() {
    with_tty(|| {
        set_termios(&raw(0, 0));
        let t0 = crate::sched::core::jiffies();
        assert_eq!(read0(DATA, 10), 0, "VMIN 0 VTIME 0, nothing typed: 0 at once");
        assert!(crate::sched::core::jiffies() - t0 < 50);
        type_in(b"ab");
        crate::sched::msleep(5);
        assert_eq!(read0(DATA, 10), 2, "and what is there when something is");
        set_termios(&raw(0, 2));
        let t0 = crate::sched::core::jiffies();
        assert_eq!(read0(DATA, 10), 0, "VTIME 2: 0 after two tenths");
        let waited = crate::sched::core::jiffies() - t0;
        assert!((200..400).contains(&waited), "waited {waited} ms for a 200 ms VTIME");
        // A byte within VTIME ends the wait at once.
        let typist = crate::sched::spawn("typist", || {
            crate::sched::msleep(30);
            crate::console::loopback_inject(b"k");
        });
        let t0 = crate::sched::core::jiffies();
        assert_eq!(read0(DATA, 10), 1);
        assert!(crate::sched::core::jiffies() - t0 < 150, "returned when the byte came");
        typist.join();
    });
}

fn raw_mode_vmin_3_waits_for_three_bytes() {
    with_tty(|| {
        set_termios(&raw(3, 0));
        let typist = crate::sched::spawn("typist", || {
            for b in [b"1", b"2", b"3", b"4"] {
                crate::sched::msleep(20);
                crate::console::loopback_inject(b);
            }
        });
        assert_eq!(read0(DATA, 10), 3, "VMIN 3: three bytes, however they come");
        assert_eq!(user_bytes(DATA, 3), b"123");
        typist.join();
        crate::sched::msleep(5);
        assert_eq!(read0(DATA, 1), 1, "a count below VMIN: the count is enough");
        assert_eq!(user_bytes(DATA, 1), b"4");
    });
}

fn switching_modes_keeps_what_was_typed() {
    with_tty(|| {
        type_in(b"line\rpart");
        crate::sched::msleep(5);
        assert_eq!(ioctl(0, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), 5);
        set_termios(&raw(1, 0));
        assert_eq!(read0(DATA, 64), 9, "to raw: the line and the part typed are bytes now");
        assert_eq!(user_bytes(DATA, 9), b"line\npart");
        type_in(b"xy");
        crate::sched::msleep(5);
        set_termios(&Termios::STD);
        assert_eq!(read0(DATA, 64), 2, "to canonical: pending raw bytes are a line of their own");
        assert_eq!(user_bytes(DATA, 2), b"xy");
    });
}

fn echo_echoctl_and_erase_show_on_the_line_as_linux_shows_them() {
    with_tty(|| {
        let out = line_output(|| {
            type_in(b"ab\x01\x7f\x7fc\x15d\r");
            assert_eq!(read0(DATA, 64), 2);
        });
        assert_eq!(user_bytes(DATA, 2), b"d\n");
        // a b ^A, DEL erases ^A (two columns), DEL erases b, c, ^U erases
        // "ac" (ECHOKE: each character), d, Enter as "\r\n" (ONLCR).
        assert_eq!(out, b"ab^A\x08 \x08\x08 \x08\x08 \x08c\x08 \x08\x08 \x08d\r\n");
        // Without ECHOCTL a control character is echoed as itself; without
        // ECHOE, ERASE is echoed as ^?; without ECHOKE, KILL as ^U and a
        // newline (ECHOK); without ECHO nothing but, with ECHONL, '\n'.
        let mut t = Termios::STD;
        t.lflag &= !(lflag::ECHOE | lflag::ECHOKE);
        set_termios(&t);
        let out = line_output(|| {
            type_in(b"xy\x7fz\x15w\r");
            assert_eq!(read0(DATA, 64), 2);
        });
        assert_eq!(out, b"xy^?z^U\r\nw\r\n");
        t.lflag &= !(lflag::ECHO | lflag::ECHOCTL);
        t.lflag |= lflag::ECHONL;
        set_termios(&t);
        let out = line_output(|| {
            type_in(b"secret\r");
            assert_eq!(read0(DATA, 64), 7);
        });
        assert_eq!(out, b"\r\n", "ECHONL without ECHO: only the newline");
        t.lflag &= !lflag::ECHONL;
        t.lflag |= lflag::ECHO;
        set_termios(&t);
        let out = line_output(|| {
            type_in(b"\x01\r");
            assert_eq!(read0(DATA, 64), 2);
        });
        assert_eq!(out, b"\x01\r\n", "no ECHOCTL: ^A echoed raw");
    });
}

fn werase_lnext_and_backspace_as_an_ordinary_byte() {
    with_tty(|| {
        type_in(b"rm -rf foo_bar\x17baz\r");
        assert_eq!(read0(DATA, 64), 11);
        assert_eq!(user_bytes(DATA, 11), b"rm -rf baz\n", "^W erased the word 'foo_bar'");
        type_in(b"a\x16\x7fb\x16\x15\r");
        assert_eq!(read0(DATA, 64), 5);
        assert_eq!(user_bytes(DATA, 5), b"a\x7fb\x15\n", "^V made DEL and ^U literal");
        type_in(b"ok\x08K\r");
        assert_eq!(read0(DATA, 64), 5);
        assert_eq!(user_bytes(DATA, 5), b"ok\x08K\n", "^H is not VERASE (DEL is): an ordinary byte, as on Linux");
    });
}

fn opost_onlcr_turns_newline_into_crlf_on_the_serial_line() {
    with_tty(|| {
        assert_eq!(copy_to_user(DATA, b"a\nb\r\n"), 0);
        let out = line_output(|| assert_eq!(syscall(nr::WRITE, 1, DATA, 5), 5));
        assert_eq!(out, b"a\r\nb\r\r\n", "OPOST|ONLCR: each '\\n' as \"\\r\\n\"");
        let mut t = Termios::STD;
        t.oflag &= !oflag::ONLCR;
        set_termios(&t);
        let out = line_output(|| assert_eq!(syscall(nr::WRITE, 2, DATA, 5), 5));
        assert_eq!(out, b"a\nb\r\n", "without ONLCR, as written");
        t.oflag |= oflag::ONLCR | oflag::OCRNL;
        set_termios(&t);
        let out = line_output(|| assert_eq!(syscall(nr::WRITE, 1, DATA, 5), 5));
        assert_eq!(out, b"a\r\nb\n\r\n", "OCRNL: '\\r' as '\\n'");
        t.oflag = oflag::ONLCR;
        set_termios(&t);
        let out = line_output(|| assert_eq!(syscall(nr::WRITE, 1, DATA, 5), 5));
        assert_eq!(out, b"a\nb\r\n", "no OPOST: no processing at all");
    });
}

fn ctrl_c_flushes_the_line_echoes_it_and_sends_sigint_to_the_foreground() {
    with_tty(|| {
        let mark = isig_mark();
        let out = line_output(|| {
            type_in(b"done\rhalf a line\x03next\r");
            crate::sched::msleep(5);
            assert_eq!(ioctl(0, FIONREAD, ARG), 0);
            assert_eq!(user_i32(ARG), 5, "^C flushed the finished line and the half line; 'next' came after");
            assert_eq!(read0(DATA, 64), 5);
        });
        assert_eq!(user_bytes(DATA, 5), b"next\n");
        assert_eq!(signals_since(mark), [(SIGINT, u32::MAX)], "SIGINT, to no foreground here");
        assert_eq!(out, b"done\r\nhalf a line^Cnext\r\n", "^C is echoed as ^C");
    });
}

fn ctrl_backslash_and_ctrl_z_send_sigquit_and_sigtstp_noflsh_keeps_the_line() {
    with_tty(|| {
        let mark = isig_mark();
        type_in(b"x\x1cy\x1az\r");
        assert_eq!(read0(DATA, 64), 2);
        assert_eq!(user_bytes(DATA, 2), b"z\n");
        assert_eq!(signals_since(mark), [(SIGQUIT, u32::MAX), (SIGTSTP, u32::MAX)]);
        let mut t = Termios::STD;
        t.lflag |= lflag::NOFLSH;
        set_termios(&t);
        type_in(b"keep\x03me\r");
        assert_eq!(read0(DATA, 64), 7, "NOFLSH: the signal without the flush");
        assert_eq!(user_bytes(DATA, 7), b"keepme\n");
        assert_eq!(signals_since(mark).len(), 3);
    });
}

fn without_isig_ctrl_c_is_an_ordinary_byte() {
    with_tty(|| {
        let mut t = Termios::STD;
        t.lflag &= !lflag::ISIG;
        set_termios(&t);
        let mark = isig_mark();
        type_in(b"a\x03\r");
        assert_eq!(read0(DATA, 64), 3);
        assert_eq!(user_bytes(DATA, 3), b"a\x03\n");
        assert!(signals_since(mark).is_empty(), "no signal without ISIG");
        // A c_cc entry of 0 is disabled: ^@ is not VINTR even if VINTR is 0.
        t.lflag |= lflag::ISIG;
        t.cc[cc::VINTR] = 0;
        set_termios(&t);
        type_in(b"\x00\x03\r");
        assert_eq!(read0(DATA, 64), 3);
        assert!(signals_since(mark).is_empty(), "VINTR disabled");
    });
}

/// A foreground program busy elsewhere (not reading): ^C reaches it when
/// typed, cooked by the serial interrupt, not when someone reads.
fn a_foreground_program_gets_ctrl_c_while_it_is_not_reading() {
    with_tty(|| {
        let me = crate::sched::current().id();
        crate::tty::set_foreground(Some(me));
        let mark = isig_mark();
        let out = line_output(|| {
            type_in(b"abc\x03");
            crate::sched::msleep(10);
        });
        assert_eq!(signals_since(mark), [(SIGINT, me)], "SIGINT to the foreground, with nobody reading");
        assert_eq!(out, b"abc^C", "echoed when typed");
        crate::tty::set_foreground(None);
    });
}

const PFD: usize = DATA + 0x2000;

fn put_pollfds(fds: &[(i32, u16)]) {
    let mut b = Vec::new();
    for &(fd, ev) in fds {
        b.extend_from_slice(&fd.to_le_bytes());
        b.extend_from_slice(&ev.to_le_bytes());
        b.extend_from_slice(&0xeeeeu16.to_le_bytes());
    }
    assert_eq!(copy_to_user(PFD, &b), 0);
}

fn revents(i: usize) -> u16 {
    let b = user_bytes(PFD + i * 8 + 6, 2);
    u16::from_le_bytes([b[0], b[1]])
}

use crate::tty::pollbits::*;

fn poll_tells_when_the_console_is_readable() {
    with_tty(|| {
        put_pollfds(&[(0, POLLIN), (1, POLLOUT), (-1, POLLIN)]);
        assert_eq!(syscall(nr::POLL, PFD, 3, 0), 1, "only stdout is ready");
        assert_eq!((revents(0), revents(1), revents(2)), (0, POLLOUT, 0), "fd -1 is skipped, revents 0");
        type_in(b"half");
        crate::sched::msleep(5);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 0, "canonical: half a line is not readable");
        type_in(b"\r");
        crate::sched::msleep(5);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1);
        assert_eq!(revents(0), POLLIN, "a finished line is");
        put_pollfds(&[(0, POLLIN | POLLRDNORM | POLLOUT)]);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1);
        assert_eq!(revents(0), POLLIN | POLLRDNORM | POLLOUT, "only what was asked");
        crate::tty::flush_input();
        set_termios(&raw(1, 0));
        put_pollfds(&[(0, POLLIN)]);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 0);
        type_in(b"k");
        crate::sched::msleep(5);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1, "raw: one byte is readable");
        set_termios(&raw(2, 0));
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 0, "raw VMIN 2 VTIME 0: poll waits for two (input_available_p)");
        // A ramfs file is always ready.
        assert_eq!(copy_to_user(DATA, b"/bin/hello\0"), 0);
        let fd = syscall(nr::OPEN, DATA, 0, 0);
        put_pollfds(&[(fd, POLLIN | POLLOUT)]);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1);
        assert_eq!(revents(0), POLLIN | POLLOUT, "DEFAULT_POLLMASK");
        assert_eq!(syscall(nr::CLOSE, fd as usize, 0, 0), 0);
    });
}

fn poll_sleeps_until_input_and_times_out() {
    with_tty(|| {
        put_pollfds(&[(0, POLLIN)]);
        let t0 = crate::sched::core::jiffies();
        assert_eq!(syscall(nr::POLL, PFD, 1, 50), 0, "nothing typed: 0 after the timeout");
        let waited = crate::sched::core::jiffies() - t0;
        assert!((50..250).contains(&waited), "waited {waited} ms for 50");
        // Timeout -1: for ever, asleep on the tty's queue until a line.
        let me = crate::sched::current_arc();
        let saw_asleep = Arc::new(AtomicBool::new(false));
        let typist = {
            let saw = saw_asleep.clone();
            crate::sched::spawn("typist", move || {
                for _ in 0..2000 {
                    if me.state() == crate::sched::task::TASK_UNINTERRUPTIBLE && !crate::tty::READ_WAIT.is_empty() {
                        saw.store(true, SeqCst);
                        break;
                    }
                    crate::sched::msleep(1);
                }
                crate::sched::msleep(20);
                type_in(b"go\r");
            })
        };
        assert_eq!(syscall(nr::POLL, PFD, 1, usize::MAX), 1);
        typist.join();
        assert!(saw_asleep.load(SeqCst), "poll slept on the tty's wait queue");
        assert_eq!(revents(0), POLLIN);
    });
}

fn poll_errnos_and_pollnval() {
    with_tty(|| {
        put_pollfds(&[(7, POLLIN), (0, POLLOUT), (1000, POLLOUT)]);
        assert_eq!(syscall(nr::POLL, PFD, 3, 0), 3);
        assert_eq!((revents(0), revents(1), revents(2)), (POLLNVAL, POLLOUT, POLLNVAL), "a descriptor not open: POLLNVAL");
        assert_eq!(syscall(nr::POLL, 0, 1, 0), -EFAULT, "NULL array");
        assert_eq!(syscall(nr::POLL, 0xc000_0000, 1, 0), -EFAULT, "kernel array");
        assert_eq!(syscall(nr::POLL, 0, 0, 0), 0, "no entries, no wait: 0");
        assert_eq!(syscall(nr::POLL, PFD, 1025, 0), -EINVAL, "more than RLIMIT_NOFILE entries");
        assert_eq!(syscall(nr::POLL, PFD, u32::MAX as usize, 0), -EINVAL);
    });
}

fn select_and_ppoll_on_the_console() {
    with_tty(|| {
        // select: fd 0 for reading, fd 1 for writing; 8 bytes per set.
        let (rd, wr, tv) = (DATA + 0x3000, DATA + 0x3010, DATA + 0x3020);
        let sets = |r: u8, w: u8| {
            assert_eq!(copy_to_user(rd, &[r, 0, 0, 0]), 0);
            assert_eq!(copy_to_user(wr, &[w, 0, 0, 0]), 0);
        };
        sets(1, 2);
        assert_eq!(copy_to_user(tv, &[0; 8]), 0);
        assert_eq!(syscall5(nr::NEWSELECT, 2, rd, wr, 0, tv), 1, "stdout writable, stdin not");
        assert_eq!((user_bytes(rd, 4)[0], user_bytes(wr, 4)[0]), (0, 2));
        type_in(b"x\r");
        crate::sched::msleep(5);
        sets(1, 2);
        assert_eq!(syscall5(nr::NEWSELECT, 2, rd, wr, 0, tv), 2);
        assert_eq!((user_bytes(rd, 4)[0], user_bytes(wr, 4)[0]), (1, 2));
        crate::tty::flush_input();
        // A timeout of 0.1 s, written back as what was left (0).
        sets(1, 0);
        assert_eq!(copy_to_user(tv, &[0, 0, 0, 0, 0xa0, 0x86, 0x01, 0]), 0); // 100000 us
        let t0 = crate::sched::core::jiffies();
        assert_eq!(syscall5(nr::NEWSELECT, 1, rd, 0, 0, tv), 0);
        assert!(crate::sched::core::jiffies() - t0 >= 100);
        assert_eq!(user_bytes(tv, 8), [0; 8], "no time left");
        // Errnos.
        sets(1 << 5, 0);
        assert_eq!(syscall5(nr::NEWSELECT, 6, rd, 0, 0, tv), -EBADF, "fd 5 is not open");
        assert_eq!(syscall5(nr::NEWSELECT, usize::MAX, rd, 0, 0, tv), -EINVAL, "n < 0");
        sets(1, 0);
        assert_eq!(copy_to_user(tv, &[0, 0, 0, 0, 0x40, 0x42, 0x0f, 0]), 0); // 1000000 us
        assert_eq!(syscall5(nr::NEWSELECT, 1, rd, 0, 0, tv), -EINVAL, "tv_usec of a whole second");
        assert_eq!(syscall5(nr::NEWSELECT, 1, 0xc000_0000, 0, 0, 0), -EFAULT);
        // ppoll: a timespec, and a sigset of 8 bytes.
        put_pollfds(&[(0, POLLIN)]);
        let ts = DATA + 0x3040;
        assert_eq!(copy_to_user(ts, &[0, 0, 0, 0, 0, 0xe1, 0xf5, 0x05]), 0); // 100 000 000 ns
        let t0 = crate::sched::core::jiffies();
        assert_eq!(syscall5(nr::PPOLL, PFD, 1, ts, 0, 8), 0);
        assert!(crate::sched::core::jiffies() - t0 >= 100);
        assert_eq!(syscall5(nr::PPOLL, PFD, 1, ts, DATA, 4), -EINVAL, "sigsetsize 4");
        assert_eq!(syscall5(nr::PPOLL, PFD, 1, ts, 0xc000_0000, 8), -EFAULT, "a sigset that cannot be read");
        assert_eq!(copy_to_user(ts, &[0, 0, 0, 0, 0, 0xca, 0x9a, 0x3b]), 0); // 1e9 ns
        assert_eq!(syscall5(nr::PPOLL, PFD, 1, ts, 0, 8), -EINVAL, "tv_nsec of a whole second");
        type_in(b"y\r");
        crate::sched::msleep(5);
        assert_eq!(syscall5(nr::PPOLL, PFD, 1, 0, 0, 8), 1, "NULL timespec, input there: at once");
    });
}

fn poll_and_fionread_of_a_pipe() {
    with_tty(|| {
        let fildes = DATA + 0x3100;
        assert_eq!(syscall(nr::PIPE, fildes, 0, 0), 0);
        let (r, w) = (user_i32(fildes), user_i32(fildes + 4));
        put_pollfds(&[(r, POLLIN), (w, POLLOUT)]);
        assert_eq!(syscall(nr::POLL, PFD, 2, 0), 1);
        assert_eq!((revents(0), revents(1)), (0, POLLOUT), "empty: not readable, writable");
        assert_eq!(copy_to_user(DATA, b"abc"), 0);
        assert_eq!(syscall(nr::WRITE, w as usize, DATA, 3), 3);
        put_pollfds(&[(r, POLLIN)]);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1);
        assert_eq!(revents(0), POLLIN, "data: readable");
        assert_eq!(ioctl(r, FIONREAD, ARG), 0);
        assert_eq!(user_i32(ARG), 3, "FIONREAD: the bytes in the pipe");
        assert_eq!(syscall(nr::CLOSE, w as usize, 0, 0), 0);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1);
        assert_eq!(revents(0), POLLIN | POLLHUP, "no writer left: POLLHUP, asked or not");
        assert_eq!(ioctl(r, TCGETS, ARG), -ENOTTY, "a pipe is not a terminal");
        assert_eq!(syscall(nr::PIPE, fildes, 0, 0), 0);
        let (r2, w2) = (user_i32(fildes), user_i32(fildes + 4));
        assert_eq!(syscall(nr::CLOSE, r2 as usize, 0, 0), 0);
        put_pollfds(&[(w2, POLLOUT)]);
        assert_eq!(syscall(nr::POLL, PFD, 1, 0), 1);
        assert_eq!(revents(0), POLLOUT | POLLERR, "no reader left: POLLERR");
        for fd in [r, w2] {
            assert_eq!(syscall(nr::CLOSE, fd as usize, 0, 0), 0);
        }
    });
}

fn an_o_nonblock_console_read_gets_eagain_instead_of_waiting() {
    use crate::errno::EAGAIN;
    use crate::fs::file::{CONSOLE_F_FLAGS, O_NONBLOCK};
    with_tty(|| {
        let old = CONSOLE_F_FLAGS.load(SeqCst);
        // fcntl64(0, F_SETFL, O_NONBLOCK)
        assert_eq!(syscall(nr::FCNTL64, 0, 4, O_NONBLOCK as usize), 0);
        assert_eq!(read0(DATA, 10), -EAGAIN, "canonical, no line: -EAGAIN");
        type_in(b"part");
        crate::sched::msleep(5);
        assert_eq!(read0(DATA, 10), -EAGAIN, "half a line is not a line");
        type_in(b"\r");
        crate::sched::msleep(5);
        assert_eq!(read0(DATA, 10), 5, "a line is read at once");
        set_termios(&raw(4, 0));
        type_in(b"xy");
        crate::sched::msleep(5);
        assert_eq!(read0(DATA, 10), 2, "raw VMIN 4: the two bytes there, not -EAGAIN");
        assert_eq!(read0(DATA, 10), -EAGAIN);
        CONSOLE_F_FLAGS.store(old, SeqCst);
    });
}
