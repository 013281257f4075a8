//! busybox: what Debian's `busybox-static` (i386, unmodified) needs before
//! it can run here (issue 11; the census in docs/busybox-census.md).
//!
//! * a missing system call is named, once per number, from Linux 6.1's
//!   i386 table (`arch/x86/entry/common.rs`, `syscall_names.rs`);
//! * the identity calls answer root's 0 (`sys.rs`): busybox's first call;
//! * `init=` / `rdinit=` take an absolute path (`init.rs`; what they run,
//!   and the panic when `init=` cannot start, are boot scenarios in
//!   `tests/busybox.sh`);
//! * the suite's initramfs holds busybox and its applet links, when setup
//!   could fetch it: the runner then boots with `test_expect_busybox`.

use crate::arch::entry::PtRegs;
use crate::arch::entry::common::OncePerNumber;
use crate::arch::entry::syscall_32::ia32_sys_call_table;
use crate::arch::entry::syscall_names::{NR_SYSCALLS, syscall_name};
use crate::test_case;
use crate::tools::ktest::{self, Test};

pub const TESTS: &[Test] = &[
    test_case!(system_calls_are_named_from_linuxs_i386_table),
    test_case!(a_missing_system_call_is_reported_once_per_number),
    test_case!(the_identity_calls_answer_roots_zero_and_setuid_is_missing),
    test_case!(init_and_rdinit_take_an_absolute_path),
    test_case!(busybox_is_in_the_initramfs_with_its_applet_links),
    test_case!(busybox_time_runs_a_command_through_vfork),
];

crate::early_param!("test_expect_busybox", Flag, "",
    "the runner packed Debian's busybox into the suite's initramfs (/bin/busybox and its applets), so its tests must run",
    |_| Ok(()));

/// Names by number, as `syscall_32.tbl` has them; holes and numbers
/// outside the table have none.
fn system_calls_are_named_from_linuxs_i386_table() {
    for (nr, name) in [(0, "restart_syscall"), (1, "exit"), (54, "ioctl"), (174, "rt_sigaction"), (199, "getuid32"),
                       (243, "set_thread_area"), (383, "statx"), (450, "set_mempolicy_home_node")] {
        assert_eq!(syscall_name(nr), Some(name), "syscall {nr}");
    }
    // 222 and 223 are holes in the i386 table; -1, 451 and 0x7fff are
    // outside it.
    for nr in [222, 223, -1, NR_SYSCALLS as i32, 0x7fff, i32::MIN] {
        assert_eq!(syscall_name(nr), None, "syscall {nr} has no name");
    }
}

/// The rate limit of the "not implemented" line: true once per number, and
/// once for all the numbers outside the table together.
fn a_missing_system_call_is_reported_once_per_number() {
    let seen = OncePerNumber::new();
    assert!(seen.first(258), "set_tid_address: first time");
    assert!(!seen.first(258), "set_tid_address: second time");
    assert!(seen.first(311), "another number is reported on its own");
    assert!(seen.first(0) && seen.first(450), "the first and last numbers of the table");
    assert!(!seen.first(450));
    assert!(seen.first(-1), "the first number outside the table");
    assert!(!seen.first(0x7fff) && !seen.first(NR_SYSCALLS as i32), "later ones outside it share its report");
}

/// getuid32, getgid32, geteuid32 and getegid32 through the system-call
/// table: 0, root's, as Linux answers a process of root's; the calls that
/// change an identity are not there (-ENOSYS).
fn the_identity_calls_answer_roots_zero_and_setuid_is_missing() {
    for nr in [199, 200, 201, 202] {
        let handler = ia32_sys_call_table(nr).unwrap_or_else(|| panic!("{} is in the table", syscall_name(nr).unwrap()));
        let mut regs = PtRegs { bx: 0xdead_beef, ..PtRegs::default() };
        assert_eq!(handler(&mut regs), 0, "{} answers root's 0", syscall_name(nr).unwrap());
    }
    for nr in [213, 214, 203, 204] {
        assert!(ia32_sys_call_table(nr).is_none(), "{} is not implemented", syscall_name(nr).unwrap());
    }
}

/// What the `init=` and `rdinit=` options accept (the option parser then
/// names a refused value: "malformed option 'init=sh' (ignored)").
fn init_and_rdinit_take_an_absolute_path() {
    use crate::init::init_path;
    assert_eq!(init_path(Some("/bin/sh")), Ok("/bin/sh"));
    assert_eq!(init_path(Some("/")), Ok("/"));
    assert!(init_path(Some("bin/sh")).is_err(), "a relative path");
    assert!(init_path(Some("sh")).is_err());
    assert!(init_path(None).is_err(), "no value");
    // PATH_MAX counts the NUL: 4095 bytes is the longest path.
    let longest: &'static str = alloc::format!("/{}", "a".repeat(4094)).leak();
    assert_eq!(init_path(Some(longest)).map(str::len), Ok(4095));
    let too_long: &'static str = alloc::format!("/{}", "a".repeat(4095)).leak();
    assert!(init_path(Some(too_long)).is_err(), "4096 bytes");
}

/// /bin/busybox is a static i386 executable the ELF loader takes, and each
/// applet is a symlink to it that path lookup follows (busybox picks the
/// applet by argv[0]); the suite's own programs keep their names (its
/// /bin/init is not busybox's init).
fn busybox_is_in_the_initramfs_with_its_applet_links() {
    ktest::require_kernel_option("test_expect_busybox");
    use crate::fs::{lookup, rootfs};
    let bb = lookup("/bin/busybox").expect("test_expect_busybox given, but the initramfs has no /bin/busybox");
    assert_eq!(bb.file_type(), boot::initramfs::FileType::Regular);
    let bprm = crate::fs::exec::LinuxBinprm::new(bb.clone()).expect("its first bytes");
    let mm = alloc::sync::Arc::new(crate::mm::mm_types::MmStruct::new().expect("an address space"));
    let info = crate::fs::binfmt_elf::load_elf_binary(&bb, bprm.buf(), &mm).expect("busybox is a static ELF32 i386 executable");
    assert!((0x0804_8000..0x0900_0000).contains(&info.entry), "entry {:#x} in the text segment", info.entry);
    drop(mm);
    for applet in ["sh", "ls", "cat", "echo", "dd", "md5sum", "mkdir", "rm", "cp"] {
        let path = alloc::format!("/bin/{applet}");
        let link = rootfs().namei_nofollow(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(link.symlink_target(), Some("busybox"), "{path} -> busybox");
        assert_eq!(lookup(&path).map(|i| i.ino), Some(bb.ino), "{path} resolves to /bin/busybox");
    }
    let init = rootfs().namei_nofollow("/bin/init").expect("the suite's /bin/init");
    assert_eq!(init.file_type(), boot::initramfs::FileType::Regular, "the suite's init program, not busybox's link");
}

/// busybox's `time` starts its command with `vfork` + `execvp` (its
/// `xvfork` dies with "time: vfork: ..." and status 1 if vfork fails),
/// then `wait3`s it (wait4 with a `struct rusage`) and exits with the
/// command's status: 0 for `true`, 7 for a shell's `exit 7`.
fn busybox_time_runs_a_command_through_vfork() {
    ktest::require_kernel_option("test_expect_busybox");
    let run = |argv: &[&[u8]]| {
        let argv: alloc::vec::Vec<alloc::vec::Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        crate::fs::exec::spawn_user("/bin/busybox", argv, alloc::vec::Vec::new()).join()
    };
    assert_eq!(run(&[b"busybox", b"time", b"/bin/true"]), 0, "time true");
    assert_eq!(run(&[b"busybox", b"time", b"/bin/sh", b"-c", b"exit 7"]), 7 << 8, "time sh -c 'exit 7'");
}
