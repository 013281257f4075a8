//! Booting: which protocol brought us here, what it told us, and how bad
//! boot information is refused (the same parsers as at boot, fed crafted
//! multiboot 1 structures).

use boot::cmdline::ParamProblem;
use boot::info::{BootError, MemoryKind, PhysAccess, Protocol};

use crate::tools::ktest::Test;
use crate::test_case;

pub const TESTS: &[Test] = &[
    test_case!(protocol_and_bootloader_agree),
    test_case!(memory_map_is_usable),
    test_case!(bad_multiboot1_information_is_refused),
    test_case!(kernel_options_come_from_every_subsystem),
    test_case!(command_line_problems_are_named),
];

fn protocol_and_bootloader_agree() {
    let info = crate::init::boot_info();
    let name = info.bootloader_name.as_str();
    match info.protocol {
        // QEMU's -kernel loader calls itself "qemu"; only it speaks multiboot 1 here.
        Protocol::Multiboot1 => assert!(name.contains("qemu"), "multiboot 1 from '{name}'"),
        Protocol::Multiboot2 => assert!(name.starts_with("GRUB"), "multiboot 2 from '{name}'"),
    }
}

fn memory_map_is_usable() {
    let info = crate::init::boot_info();
    let map = info.memory_map();
    assert!(map.len() >= 2);
    let ram: u64 = map.iter().filter(|r| r.kind == MemoryKind::Available).map(|r| r.len).sum();
    let mem = crate::tools::ktest::expected_mem();
    // All the RAM QEMU was given, less what the firmware keeps (< 1 MiB).
    assert!(ram <= mem && ram + (1 << 20) >= mem, "{ram:#x} bytes usable of {mem:#x}");
    let (start, end) = info.info_phys;
    assert!(start < end, "the info structure's range is known, so it can be reserved");
}

/// A fake physical memory: a buffer that claims to live at `BASE`.
struct FakePhys<'a>(&'a [u8]);
const BASE: u32 = 0x9000;

impl PhysAccess for FakePhys<'_> {
    fn ptr(&self, phys: u32, len: usize) -> Option<*const u8> {
        let off = phys.checked_sub(BASE)? as usize;
        (off.checked_add(len)? <= self.0.len()).then(|| self.0[off..].as_ptr())
    }
}

fn put(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// A multiboot 1 info structure at BASE with a memory map at BASE + 0x100.
fn mb1_info(flags: u32, entries: &[(u32, u64, u64, u32)]) -> [u8; 512] {
    let mut b = [0u8; 512];
    put(&mut b, 0, flags);
    let mut off = 0x100;
    for &(size, base, len, kind) in entries {
        put(&mut b, off, size);
        b[off + 4..off + 12].copy_from_slice(&base.to_le_bytes());
        b[off + 12..off + 20].copy_from_slice(&len.to_le_bytes());
        put(&mut b, off + 20, kind);
        off += size as usize + 4;
    }
    put(&mut b, 44, (off - 0x100) as u32);
    put(&mut b, 48, BASE + 0x100);
    b
}

fn parse(magic: u32, buf: &[u8]) -> Result<boot::info::BootInfo, BootError> {
    // SAFETY: every read goes through FakePhys, bounded by the buffer.
    unsafe { boot::info::from_bootloader(magic, BASE, &FakePhys(buf)) }
}

fn message(r: Result<boot::info::BootInfo, BootError>) -> crate::fmtbuf::FmtBuf<256> {
    match r {
        Ok(_) => panic!("bad boot information was accepted"),
        Err(e) => fmtbuf!(256, "{e}"),
    }
}

fn bad_multiboot1_information_is_refused() {
    const MMAP: u32 = 1 << 6;
    let good = mb1_info(MMAP, &[(20, 0, 0x9fc00, 1), (20, 0x100000, 0x3ff0000, 1)]);
    let info = parse(0x2BAD_B002, &good).expect("a well-formed map parses");
    assert_eq!(info.memory_map().len(), 2);
    assert_eq!(info.protocol, Protocol::Multiboot1);

    let m = message(parse(0x1234_5678, &good));
    assert!(m.as_str().contains("unknown bootloader magic 0x12345678"), "{}", m.as_str());
    let m = message(parse(0x2BAD_B002, &mb1_info(0, &[(20, 0, 0x9fc00, 1)])));
    assert!(m.as_str().contains("bit 6"), "{}", m.as_str());
    let m = message(parse(0x2BAD_B002, &mb1_info(MMAP, &[])));
    assert!(m.as_str().contains("empty"), "{}", m.as_str());
    let m = message(parse(0x2BAD_B002, &mb1_info(MMAP, &[(12, 0, 0x9fc00, 1)])));
    assert!(m.as_str().contains("size"), "{}", m.as_str());
    // A zero-length entry is dropped, as Linux's sanitize_e820 does.
    let info = parse(0x2BAD_B002, &mb1_info(MMAP, &[(20, 0, 0x9fc00, 1), (20, 0x9fc00, 0, 2)])).expect("parses");
    assert_eq!((info.memory_map().len(), info.zero_length_entries), (1, 1));
    let m = message(parse(0x2BAD_B002, &mb1_info(MMAP, &[(20, 0, 0x9fc00, 2)])));
    assert!(m.as_str().contains("no available"), "{}", m.as_str());
    // An info pointer to nowhere is an error, not a fault.
    // SAFETY: FakePhys refuses addresses outside its buffer.
    let r = unsafe { boot::info::from_bootloader(0x2BAD_B002, 0x10_0000, &FakePhys(&good)) };
    assert!(matches!(r, Err(BootError::InfoOutOfReach { .. })));
}

/// The options come from every subsystem's `early_param!`, gathered by the
/// linker (`.init.setup`): each is there exactly once. A missing KEEP in
/// linker.ld, or a subsystem whose declarations were dropped, shows here.
fn kernel_options_come_from_every_subsystem() {
    let mut names: alloc::vec::Vec<&str> = crate::params::kernel_params().iter().map(|o| o.name).collect();
    names.sort_unstable();
    assert_eq!(names, [
        "bench",                      // tools/bench.rs
        "debug_kmap_local",           // mm/kmap_local.rs
        "debug_kmap_local_force_map", // mm/kmap_local.rs
        "exit_after_boot",            // init.rs
        "fail_page_alloc",            // mm/fault_inject.rs
        "fail_page_alloc.ignore-gfp-highmem",
        "fail_page_alloc.ignore-gfp-wait",
        "fail_page_alloc.min-order",
        "failslab",
        "failslab.ignore-gfp-wait",
        "fuzz",                       // tools/fuzz.rs
        "fuzz_fault",
        "fuzz_kinds",
        "fuzz_procs",
        "fuzz_replay",
        "fuzz_seed",
        "init",                       // init.rs
        "loglevel",                   // logger.rs
        "page_poison",                // mm/page_poison.rs
        "rdinit",                     // init.rs
        "soak",                       // tools/soak.rs
        "soak_corrupt",
        "soak_fault",
        "soak_seed",
        "stress",                     // tools/stress.rs
        "test",                       // tools/ktest.rs
        "test_after",
        "test_expect_busybox",
        "test_expect_cpus",
        "test_expect_mem",
        "test_fill_highmem",
        "test_large_files",
        "test_list",
        "test_one",
        "usercopy",                   // mm/filemap.rs
        "usercopy_skip_prefault",     // mm/filemap.rs
        "userpte",                    // mm/mm_types.rs
    ]);
    let help = fmtbuf!(8192, "{}", crate::params::help());
    for o in crate::params::kernel_params() {
        assert!(help.as_str().contains(o.help), "the help lists {}", o.name);
    }
}

/// Bad tokens against the kernel's own table: each is named, none is
/// applied (they would be, and change the machine, if they were valid).
fn command_line_problems_are_named() {
    let p = crate::params::parse_args("/boot/kernel frob loglevel=loud test_expect_mem=lots exit_after_boot=yes stress");
    assert_eq!(p.image, Some("/boot/kernel"));
    assert_eq!(p.problems(), [
        ParamProblem::Unknown("frob"),
        ParamProblem::Malformed { option: "loglevel", value: "loud", expected: "a number 0-8 or one of off, error, warn, info, debug, trace" },
        ParamProblem::Malformed { option: "test_expect_mem", value: "lots", expected: boot::cmdline::SIZE_EXPECTED },
        ParamProblem::UnexpectedValue { option: "exit_after_boot", value: "yes" },
        ParamProblem::MissingValue { option: "stress", usage: "SECONDS" },
    ]);
    let text = fmtbuf!(256, "{}", p.problems()[4]);
    assert_eq!(text.as_str(), "option 'stress' needs a value, as in stress=SECONDS (ignored)");
}
