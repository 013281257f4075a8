//! exec: loading a static i386 ELF into a fresh address space and starting
//! it with Linux's initial stack (fs/binfmt_elf.rs, fs/exec.rs). The
//! programs are built here byte by byte: an ELF header, program headers,
//! and position-independent code from tests/user.rs; and every malformed
//! or foreign file is refused with its reason (the caller's -ENOEXEC).

use alloc::vec::Vec;

use mm::layout::TASK_SIZE;

use crate::fs::binfmt_elf::{ElfError, load_elf_binary};
use crate::fs::exec::{ExecError, create_elf_tables, exec_binprm};
use crate::mm::mm_types::MmStruct;
use crate::test_case;
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(malformed_and_foreign_executables_are_refused_with_their_reason),
    test_case!(an_elf_program_is_loaded_and_runs_in_ring_3),
    test_case!(the_initial_stack_has_argc_argv_envp_and_the_auxiliary_vector),
    test_case!(a_data_segment_is_copied_and_its_bss_reads_zero),
    test_case!(the_user_programs_run_here_as_under_linux),
    test_case!(exec_of_a_missing_file_a_directory_or_a_text_file_fails_with_linuxs_errno),
];

const BASE: usize = 0x0804_8000;
const EHDR: usize = 52;
const PHDR: usize = 32;

/// One program header: (type, offset, vaddr, filesz, memsz, flags).
type Ph = (u32, u32, u32, u32, u32, u32);

/// An ELF32 i386 ET_EXEC with these program headers right after the
/// header, followed by `body` at offset 52 + 32 * n.
fn elf(entry: u32, phs: &[Ph], body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x01\x01\x01\x00");
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&3u16.to_le_bytes()); // EM_386
    f.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    f.extend_from_slice(&entry.to_le_bytes());
    f.extend_from_slice(&(EHDR as u32).to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR as u16).to_le_bytes());
    f.extend_from_slice(&(PHDR as u16).to_le_bytes());
    f.extend_from_slice(&(phs.len() as u16).to_le_bytes());
    f.extend_from_slice(&[0; 6]); // shentsize, shnum, shstrndx
    assert_eq!(f.len(), EHDR);
    for &(t, off, va, fs, ms, fl) in phs {
        for v in [t, off, va, va, fs, ms, fl, 0x1000] {
            f.extend_from_slice(&v.to_le_bytes());
        }
    }
    f.extend_from_slice(body);
    f
}

/// A one-segment executable (R+X) whose code is `code`.
fn simple_elf(code: &[u8]) -> Vec<u8> {
    let off = (EHDR + PHDR) as u32;
    let size = off + code.len() as u32;
    elf(BASE as u32 + off, &[(1, 0, BASE as u32, size, size, 5)], code)
}

fn load(file: &[u8]) -> Result<usize, ElfError> {
    let mm = MmStruct::new().unwrap();
    let r = load_elf_binary(file, &mm).map(|i| i.entry);
    if r.is_err() {
        assert_eq!(mm.mmap_lock().map_count(), 0, "a refused file leaves the address space untouched");
    }
    r
}

/// Each check of load_elf_binary, with the file that fails it.
fn malformed_and_foreign_executables_are_refused_with_their_reason() {
    let good = simple_elf(&[0x90, 0xeb, 0xfe]);
    assert_eq!(load(&good), Ok(BASE + EHDR + PHDR));
    let mut f = good.clone();
    f[0] = 0x7e;
    assert_eq!(load(&f), Err(ElfError::BadMagic));
    assert_eq!(load(&good[..40]), Err(ElfError::Truncated));
    assert_eq!(load(b"#!/bin/sh\n"), Err(ElfError::BadMagic));
    let mut f = good.clone();
    f[4] = 2; // ELFCLASS64
    assert_eq!(load(&f), Err(ElfError::WrongClass));
    let mut f = good.clone();
    f[16] = 3; // ET_DYN
    assert_eq!(load(&f), Err(ElfError::NotExecutable(3)));
    let mut f = good.clone();
    f[18] = 62; // EM_X86_64
    assert_eq!(load(&f), Err(ElfError::WrongMachine(62)));
    let mut f = good.clone();
    f[42] = 56; // e_phentsize of ELF64
    assert_eq!(load(&f), Err(ElfError::BadProgramHeaders));
    let mut f = good.clone();
    f[28] = 0xf0; // e_phoff beyond the file
    assert_eq!(load(&f), Err(ElfError::Truncated));
    let interp = elf(BASE as u32, &[(3, 0, 0, 0, 0, 4), (1, 0, BASE as u32, 100, 100, 5)], &[0; 100]);
    assert_eq!(load(&interp), Err(ElfError::Dynamic));
    let bigger = elf(BASE as u32, &[(1, 0, BASE as u32, 200, 100, 5)], &[0; 200]);
    assert_eq!(load(&bigger), Err(ElfError::BadSegment(0)), "filesz > memsz");
    let kernel = elf(0xc000_0000, &[(1, 0, 0xc000_0000, 100, 100, 5)], &[0; 100]);
    assert_eq!(load(&kernel), Err(ElfError::BadSegment(0)), "a segment in kernel space");
    let wrapping = elf(BASE as u32, &[(1, 0, 0xffff_f000, 100, 0x2000, 5)], &[0; 100]);
    assert_eq!(load(&wrapping), Err(ElfError::BadSegment(0)));
    let low = elf(0x1000, &[(1, 0, 0x1000, 100, 100, 5)], &[0; 100]);
    assert_eq!(load(&low), Err(ElfError::BadSegment(0)), "below mmap_min_addr");
    let skew = elf(BASE as u32, &[(1, 0x10, BASE as u32, 100, 100, 5)], &[0; 100]);
    assert_eq!(load(&skew), Err(ElfError::BadSegment(0)), "offset and address disagree within a page");
    let past = elf(BASE as u32, &[(1, 0, BASE as u32, 0x10000, 0x10000, 5)], &[0; 100]);
    assert_eq!(load(&past), Err(ElfError::Truncated), "file part beyond the end of the file");
    let none = elf(BASE as u32, &[(4, 0, 0, 0, 0, 4)], &[]);
    assert_eq!(load(&none), Err(ElfError::NothingToLoad));
    assert_eq!(ExecError::NoExec(ElfError::BadMagic).errno(), crate::errno::ENOEXEC);
}

/// Run `file` with exec_binprm in a task of its own; its wait status.
fn exec_in_task(name: &str, file: Vec<u8>, argv: &'static [&'static [u8]], envp: &'static [&'static [u8]]) -> i32 {
    crate::sched::spawn(name, move || {
        let regs = exec_binprm(&file, b"/test", argv, envp).expect("exec");
        let me = crate::sched::current();
        // SAFETY: exec_binprm switched this task to the new address space
        // and its regs point at the loaded entry and the new stack; the top
        // of this task's kernel stack is unused.
        unsafe { crate::arch::entry::entry_32::start_user_mode(&regs, me.stack_top().unwrap()) }
    })
    .join()
}

/// The hello program of tests/user.rs, wrapped in an ELF: loaded at its
/// segment's address, entered at e_entry, it checks the system-call ABI
/// and exits with its CPL (3).
fn an_elf_program_is_loaded_and_runs_in_ring_3() {
    let code = super::user::hello_program();
    assert_eq!(exec_in_task("elf-hello", simple_elf(code), &[b"hello"], &[]), 3 << 8);
}

/// U28/U29 (the stack half): what create_elf_tables lays out, word by word.
fn the_initial_stack_has_argc_argv_envp_and_the_auxiliary_vector() {
    let info = crate::fs::binfmt_elf::ElfInfo { entry: 0x0804_8054, phdr: 0x0804_8034, phnum: 1, start_brk: 0x0804_9000 };
    let long = alloc::vec![b'x'; 5000]; // an argument longer than a page
    let argv: [&[u8]; 3] = [b"prog", &long, b"last"];
    let (block, sp) = create_elf_tables(&info, b"/bin/prog", &argv, &[b"A=1", b"B=2"]).unwrap();
    assert_eq!(sp % 16, 0, "16-byte aligned");
    assert_eq!(block.len(), TASK_SIZE - sp);
    let word = |addr: usize| u32::from_le_bytes(block[addr - sp..addr - sp + 4].try_into().unwrap()) as usize;
    let string = |addr: usize| {
        let s = &block[addr - sp..];
        &s[..s.iter().position(|&b| b == 0).unwrap()]
    };
    assert_eq!(word(sp), 3, "argc");
    assert_eq!(string(word(sp + 4)), b"prog");
    assert_eq!(string(word(sp + 8)), &long[..]);
    assert_eq!(string(word(sp + 12)), b"last");
    assert_eq!(word(sp + 16), 0, "argv ends with NULL");
    assert_eq!(string(word(sp + 20)), b"A=1");
    assert_eq!(string(word(sp + 24)), b"B=2");
    assert_eq!(word(sp + 28), 0, "envp ends with NULL");
    let mut aux = alloc::collections::BTreeMap::new();
    let mut a = sp + 32;
    loop {
        let (t, v) = (word(a), word(a + 4));
        a += 8;
        if t == 0 {
            break;
        }
        aux.insert(t, v);
    }
    assert_eq!(aux[&6], 4096, "AT_PAGESZ");
    assert_eq!(aux[&9], info.entry, "AT_ENTRY");
    assert_eq!(aux[&3], info.phdr, "AT_PHDR");
    assert_eq!((aux[&4], aux[&5]), (32, 1), "AT_PHENT, AT_PHNUM");
    assert_eq!(string(aux[&31]), b"/bin/prog", "AT_EXECFN");
    assert_eq!(string(aux[&15]), b"i686", "AT_PLATFORM");
    assert!(aux[&25] > a && aux[&25] + 16 <= TASK_SIZE, "AT_RANDOM points at 16 bytes above the tables");
    assert_eq!(word(TASK_SIZE - 4), 0, "the top word is zero");
}

/// A data segment's file bytes arrive, the rest of its last page and the
/// bss read zero (Linux padzero), and start_brk follows the bss.
fn a_data_segment_is_copied_and_its_bss_reads_zero() {
    let data_va = BASE as u32 + 0x1000;
    let mut body = alloc::vec![0u8; 0x1000 - (EHDR + 2 * PHDR)];
    body.extend_from_slice(&[0xab; 100]); // the data segment's file bytes at offset 0x1000
    let f = elf(BASE as u32, &[(1, 0, BASE as u32, 0x100, 0x100, 5), (1, 0x1000, data_va, 100, 0x3000, 6)], &body);
    let mm = MmStruct::new().unwrap();
    let info = load_elf_binary(&f, &mm).unwrap();
    assert_eq!(info.start_brk, data_va as usize + 0x3000);
    let pte = mm.lookup(data_va as usize);
    assert!(pte.present() && pte.flags().contains(crate::arch::paging::PteFlags::RW), "data page writable");
    let v = crate::mm::kmap_local::kmap_local_pfn(pte.pfn());
    // SAFETY: v maps the data page.
    let page = unsafe { core::slice::from_raw_parts(v as *const u8, 4096) };
    assert!(page[..100].iter().all(|&b| b == 0xab) && page[100..].iter().all(|&b| b == 0), "bytes, then zeros");
    crate::mm::kmap_local::kunmap_local(v);
    assert!(mm.lookup(data_va as usize + 0x1000).is_none(), "the bss beyond is demand-zero, not loaded");
    let map = mm.mmap_lock();
    let bss = map.find_vma(data_va as usize + 0x2000).unwrap();
    assert!(bss.vm_start <= data_va as usize + 0x2000, "an area covers the bss");
}

/// Start `path` from the rootfs with argv = path + `args` and the oracle's
/// environment; its wait status.
fn run(path: &str, args: &[&str]) -> i32 {
    let argv = core::iter::once(path).chain(args.iter().copied()).map(|a| a.as_bytes().to_vec()).collect();
    crate::fs::exec::spawn_user(path, argv, alloc::vec![b"USER_TEST=oracle".to_vec()]).join()
}

/// The programs of user/ (packed into the suite's initramfs at /bin by the
/// runner), with the arguments and environment tests/user.sh gives them on
/// the host's Linux and under qemu-i386: each checks the ABI from inside
/// (its `ok`/`FAILED` lines are in the log) and exits 0 only if all held;
/// `panics` must die through its panic handler with 101.
fn the_user_programs_run_here_as_under_linux() {
    for (path, args, status) in [
        ("/bin/hello", &[][..], 0),
        ("/bin/init", &["single"][..], 0),
        ("/bin/startup", &["one", "two words", ""][..], 0),
        ("/bin/syscall_abi", &[][..], 0),
        ("/bin/memory", &[][..], 0),
        ("/bin/forktest", &[][..], 0),
        ("/bin/execer", &[][..], 0),
        ("/bin/tls", &[][..], 0),
        ("/bin/sleeper", &[][..], 0),
        ("/bin/stattest", &[][..], 0),
        ("/bin/panics", &["a", "b"][..], 101),
    ] {
        assert!(crate::fs::lookup(path).is_some(), "{path} is in the suite's initramfs (the runner packs user/'s programs)");
        assert_eq!(run(path, args), status << 8, "{path} exited with another status (its FAILED lines say why)");
    }
}

/// Linux's errnos for an exec that cannot start: no such file (ENOENT), a
/// directory (EACCES), a file that is not an executable (ENOEXEC).
fn exec_of_a_missing_file_a_directory_or_a_text_file_fails_with_linuxs_errno() {
    use crate::errno::{EACCES, ENOENT, ENOEXEC};
    assert_eq!(run("/bin/no-such-program", &[]), -ENOENT);
    assert_eq!(run("/bin", &[]), -EACCES);
    assert_eq!(run("/hello.txt", &[]), -ENOEXEC);
}
