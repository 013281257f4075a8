//! exec: loading a static i386 ELF into a fresh address space and starting
//! it with Linux's initial stack (fs/binfmt_elf.rs, fs/exec.rs). The
//! programs are built here byte by byte: an ELF header, program headers,
//! and position-independent code from tests/user.rs; and every malformed
//! or foreign file is refused with its reason (the caller's -ENOEXEC).
//! Each is handed to the loader as a file (a rootfs file, unlinked at
//! once, alive while referenced), because the loader maps files: it reads
//! only the headers and maps each segment from the page cache.

use alloc::string::String;
use alloc::vec::Vec;

use mm::layout::TASK_SIZE;

use alloc::sync::Arc;

use crate::fs::InodeRef;
use crate::fs::binfmt_elf::{ElfError, load_elf_binary};
use crate::fs::exec::{ArgSource, ExecError, LinuxBinprm, exec_binprm, prepare_binprm, setup_new_stack};
use crate::mm::gup::access_remote_vm;
use crate::mm::mm_types::MmStruct;
use crate::test_case;
use crate::tools::ktest::Test;

pub const TESTS: &[Test] = &[
    test_case!(malformed_and_foreign_executables_are_refused_with_their_reason),
    test_case!(an_elf_program_is_loaded_and_runs_in_ring_3),
    test_case!(the_initial_stack_has_argc_argv_envp_and_the_auxiliary_vector),
    test_case!(a_data_segment_is_mapped_from_the_file_and_its_bss_reads_zero),
    test_case!(a_program_writing_its_data_gets_a_private_copy_and_the_file_is_unchanged),
    test_case!(the_bss_reads_zero_in_a_running_program_from_the_end_of_the_file_part_on),
    test_case!(a_read_only_last_segment_with_a_bss_fails_the_exec_as_in_linux_6_1),
    test_case!(two_processes_running_one_binary_share_its_text_pages_from_the_page_cache),
    test_case!(an_exec_of_busybox_maps_only_the_pages_it_touches),
    test_case!(a_running_programs_file_cannot_be_opened_for_writing_or_truncated_etxtbsy),
    test_case!(the_user_programs_run_here_as_under_linux),
    test_case!(exec_of_a_missing_file_a_directory_or_a_text_file_fails_with_linuxs_errno),
    test_case!(tasks_that_never_return_leave_nothing_on_the_heap),
    test_case!(an_argument_list_over_a_quarter_of_the_stack_limit_is_e2big_and_the_caller_goes_on),
    test_case!(one_string_longer_than_max_arg_strlen_is_e2big_and_a_bad_pointer_efault),
    test_case!(an_exec_with_an_empty_argv_gives_the_program_one_empty_argument),
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

/// A file holding `bytes`: created in the rootfs and unlinked at once,
/// so it lives exactly as long as something holds it (the test, or an
/// address space mapping it).
fn file_of(bytes: &[u8]) -> InodeRef {
    static N: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    let path = alloc::format!("/exec-test-{}", N.fetch_add(1, core::sync::atomic::Ordering::Relaxed));
    let inode = crate::fs::rootfs().create(&path, 0o755).expect("create a test executable");
    inode.write_at(0, bytes).expect("write it");
    crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), &path).expect("unlink it");
    inode
}

/// Load `file` into a fresh address space as exec does (its first bytes,
/// then `load_elf_binary`).
fn load_file(file: &InodeRef) -> Result<(Arc<MmStruct>, crate::fs::binfmt_elf::ElfInfo), ElfError> {
    let bprm = LinuxBinprm::new(file.clone()).expect("read the first bytes");
    let mm = Arc::new(MmStruct::new().unwrap());
    let info = load_elf_binary(file, bprm.buf(), &mm)?;
    Ok((mm, info))
}

fn load(file: &[u8]) -> Result<usize, ElfError> {
    let inode = file_of(file);
    let bprm = LinuxBinprm::new(inode.clone()).expect("read the first bytes");
    let mm = Arc::new(MmStruct::new().unwrap());
    let r = load_elf_binary(&inode, bprm.buf(), &mm).map(|i| i.entry);
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
        let bprm = LinuxBinprm::new(file_of(&file)).expect("read the first bytes");
        let regs = exec_binprm(&bprm, b"/test", argv, envp).expect("exec");
        drop(bprm);
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

/// U28/U29 (the stack half): what `setup_new_stack` lays out in a new
/// address space (copy_strings, then create_elf_tables), word by word,
/// read back from it; and the stack area reaches 128 KiB below esp.
fn the_initial_stack_has_argc_argv_envp_and_the_auxiliary_vector() {
    let (mm, info) = prepare_binprm(&LinuxBinprm::new(file_of(&simple_elf(&[0x90]))).unwrap()).unwrap();
    let long = alloc::vec![b'x'; 5000]; // an argument longer than a page
    let argv: [&[u8]; 3] = [b"prog", &long, b"last"];
    let sp = setup_new_stack(&mm, &info, b"/bin/prog", ArgSource::Kernel(&argv), ArgSource::Kernel(&[b"A=1", b"B=2"])).unwrap();
    assert_eq!(sp % 16, 0, "16-byte aligned");
    let mut block = alloc::vec![0u8; TASK_SIZE - sp];
    assert_eq!(access_remote_vm(&mm, sp, &mut block, 0), block.len(), "every byte written");
    let stack_start = mm.mmap_lock().find_vma(sp).unwrap().vm_start;
    assert_eq!(stack_start, (sp & !0xfff) - crate::fs::exec::INITIAL_STACK, "setup_arg_pages' 128 KiB below esp");
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

/// The file of the data tests: text (headers and `code`) at BASE, and
/// at file offset 0x1000 a data segment at BASE + 0x1000 of 100 bytes of
/// 0x11 (`p_filesz`), then 200 bytes of 0xcd that are in the file, in the
/// same page, but not in the segment: the bss starts there (`p_memsz`
/// 0x3000). `padzero` must hide them.
fn data_elf(code: &[u8]) -> Vec<u8> {
    let off = (EHDR + 2 * PHDR) as u32;
    let text = off + code.len() as u32;
    let mut body = code.to_vec();
    body.resize(0x1000 - off as usize, 0);
    body.extend_from_slice(&[0x11; 100]);
    body.extend_from_slice(&[0xcd; 200]);
    elf(BASE as u32 + off, &[(1, 0, BASE as u32, text, text, 5), (1, 0x1000, DATA_VA as u32, 100, 0x3000, 6)], &body)
}

const DATA_VA: usize = BASE + 0x1000;

/// The page-cache page `index` of `file` (its frame), if cached.
fn cache_pfn(file: &InodeRef, index: usize) -> Option<usize> {
    let page = file.file().unwrap().i_mapping.find_get_page(index)?;
    let pfn = crate::mm::page_alloc::page_to_pfn(page);
    crate::mm::filemap::put_page(page);
    Some(pfn)
}

/// Linux's way: after the load, the text is not there yet (demand
/// paging: nothing was copied), the data page is a copy of the file's
/// page made private by `padzero` (its bytes past `p_filesz` zeroed; the
/// file keeps them), the bss beyond it an empty anonymous area, and
/// start_brk follows the bss.
fn a_data_segment_is_mapped_from_the_file_and_its_bss_reads_zero() {
    use crate::arch::paging::PteFlags;
    let file = file_of(&data_elf(&[0x90, 0xeb, 0xfe]));
    let (mm, info) = load_file(&file).unwrap();
    assert_eq!(info.start_brk, DATA_VA + 0x3000);
    assert!(mm.lookup(BASE).is_none(), "the text is demand-paged, not loaded");
    {
        let map = mm.mmap_lock();
        let text = map.find_vma(BASE).unwrap();
        assert_eq!(text.kind, mm::vma::VmaKind::File(mm::vma::FileId(file.ino)), "the text maps the file");
        assert_eq!(text.vm_pgoff, 0);
        let data = map.find_vma(DATA_VA).unwrap();
        assert_eq!((data.kind, data.vm_pgoff, data.vm_end), (mm::vma::VmaKind::File(mm::vma::FileId(file.ino)), 1, DATA_VA + 0x1000));
        assert!(!data.vm_flags.contains(mm::vma::VmFlags::VM_SHARED), "a private mapping");
        let bss = map.find_vma(DATA_VA + 0x1000).unwrap();
        assert!(bss.vma_is_anonymous() && bss.vm_start == DATA_VA + 0x1000 && bss.vm_end == DATA_VA + 0x3000, "the bss: anonymous");
    }
    let pte = mm.lookup(DATA_VA);
    assert!(pte.present() && pte.flags().contains(PteFlags::RW), "padzero wrote the data page: present, writable");
    assert_ne!(Some(pte.pfn()), cache_pfn(&file, 1), "a private copy, not the cache's page");
    let mut page = alloc::vec![0u8; 0x3000];
    assert_eq!(access_remote_vm(&mm, DATA_VA, &mut page, 0), 0x3000);
    assert!(page[..100].iter().all(|&b| b == 0x11), "the file bytes");
    assert!(page[100..].iter().all(|&b| b == 0), "zeros from p_filesz on: the tail of the file page and the bss");
    assert!(mm.lookup(DATA_VA + 0x1000).is_none() || crate::mm::memory::is_zero_pfn(mm.lookup(DATA_VA + 0x1000).pfn()),
        "the bss beyond is demand-zero");
    let mut tail = [0u8; 200];
    assert_eq!(file.read_at(0x1000 + 100, &mut tail), Ok(200));
    assert!(tail.iter().all(|&b| b == 0xcd), "the file keeps its bytes");
}

/// Machine code: `movzx ebx, byte [addr]; mov eax, 1; int 0x80`: exit
/// with the byte at `addr`; with `write`, first `mov byte [addr], write`.
fn exit_with_byte_at(addr: usize, write: Option<u8>) -> Vec<u8> {
    let a = (addr as u32).to_le_bytes();
    let mut c = Vec::new();
    if let Some(v) = write {
        c.extend_from_slice(&[0xc6, 0x05]);
        c.extend_from_slice(&a);
        c.push(v);
    }
    c.extend_from_slice(&[0x0f, 0xb6, 0x1d]);
    c.extend_from_slice(&a);
    c.extend_from_slice(&[0xb8, 1, 0, 0, 0, 0xcd, 0x80]);
    c
}

/// Run `file` (an inode) in a task of its own; its wait status.
fn exec_inode(name: &str, file: &InodeRef) -> i32 {
    let file = file.clone();
    crate::sched::spawn(name, move || {
        let regs = {
            let bprm = LinuxBinprm::new(file).expect("read the first bytes");
            exec_binprm(&bprm, b"/test", &[b"t"], &[]).expect("exec")
        };
        let me = crate::sched::current();
        // SAFETY: exec_binprm switched this task to the new address space
        // and its regs point at the loaded entry and the new stack; the top
        // of this task's kernel stack is unused.
        unsafe { crate::arch::entry::entry_32::start_user_mode(&regs, me.stack_top().unwrap()) }
    })
    .join()
}

/// A program that writes its data segment sees its write; the file and
/// the page cache do not (the write fault copied the file's page,
/// `do_cow_fault`): the next address space mapping the file reads the
/// file's byte again.
fn a_program_writing_its_data_gets_a_private_copy_and_the_file_is_unchanged() {
    let writer = file_of(&data_elf(&exit_with_byte_at(DATA_VA + 5, Some(0x55))));
    let cows = crate::mm::memory::FILE_COW_FAULTS.load(core::sync::atomic::Ordering::Relaxed);
    assert_eq!(exec_inode("data-writer", &writer), 0x55 << 8, "the program reads back its write");
    let mut b = [0u8];
    assert_eq!(writer.read_at(0x1000 + 5, &mut b), Ok(1));
    assert_eq!(b[0], 0x11, "the file is unchanged");
    assert!(crate::mm::memory::FILE_COW_FAULTS.load(core::sync::atomic::Ordering::Relaxed) > cows, "its write copied the file's page");
    // The writer's file mapped again, as the next exec of it would: the
    // page cache never saw the write.
    let (mm, _) = load_file(&writer).unwrap();
    let mut b = [0u8];
    assert_eq!(access_remote_vm(&mm, DATA_VA + 5, &mut b, 0), 1);
    assert_eq!(b[0], 0x11);
}

/// In a running program, the byte right after the data segment's file
/// part (the file has 0xcd there) and a byte deep in the bss read zero.
fn the_bss_reads_zero_in_a_running_program_from_the_end_of_the_file_part_on() {
    for addr in [DATA_VA + 100, DATA_VA + 299, DATA_VA + 0x2000, DATA_VA + 0x2fff] {
        let f = file_of(&data_elf(&exit_with_byte_at(addr, None)));
        assert_eq!(exec_inode("bss-reader", &f), 0, "the byte at {addr:#x}");
    }
    // And the data itself is there: the same program reading a file byte.
    let f = file_of(&data_elf(&exit_with_byte_at(DATA_VA + 99, None)));
    assert_eq!(exec_inode("bss-reader", &f), 0x11 << 8);
}

/// Linux 6.1's `padzero` writes through the mapping (`clear_user`): for a
/// read-only last segment whose bss starts inside a page it fails, and
/// the exec with it (`-EFAULT` past the point of no return: `SIGSEGV`).
/// In the middle of the segments the same failure is ignored, the tail
/// left as the file has it. (Linux 6.7 zeroes writable segments only and
/// lets a read-only one through; see binfmt_elf.rs.)
fn a_read_only_last_segment_with_a_bss_fails_the_exec_as_in_linux_6_1() {
    let mut body = alloc::vec![0u8; 0x1000 - (EHDR + 2 * PHDR)];
    body.extend_from_slice(&[0x22; 300]);
    let last = elf(BASE as u32, &[(1, 0, BASE as u32, 0x100, 0x100, 5), (1, 0x1000, DATA_VA as u32, 100, 0x2000, 4)], &body);
    assert_eq!(load_file(&file_of(&last)).err(), Some(ElfError::Fault), "after the checks: the mappings are made, the exec fails");
    assert_eq!(crate::fs::exec::prepare_binprm(&LinuxBinprm::new(file_of(&last)).unwrap()).err(), Some(ExecError::Fault));
    assert_eq!(ExecError::Fault.errno(), crate::errno::EFAULT);
    let mut body = alloc::vec![0u8; 0x1000 - (EHDR + 3 * PHDR)];
    body.extend_from_slice(&[0x22; 300]);
    body.resize(0x3000 - (EHDR + 3 * PHDR), 0);
    body.extend_from_slice(&[0x33; 16]);
    let middle = elf(BASE as u32, &[(1, 0, BASE as u32, 0x100, 0x100, 5), (1, 0x1000, DATA_VA as u32, 100, 0x1000, 4),
        (1, 0x3000, BASE as u32 + 0x3000, 16, 16, 6)], &body);
    let (mm, _) = load_file(&file_of(&middle)).expect("a read-only bss in the middle is let through");
    let mut b = [0u8; 2];
    assert_eq!(access_remote_vm(&mm, DATA_VA + 99, &mut b, 0), 2);
    assert_eq!(b, [0x22, 0x22], "its tail shows the file's bytes, as in Linux 6.1");
}

/// Two processes running /bin/sleeper (each sleeps 900 ms): the page
/// with their entry point is, in both, the page cache's own page of the
/// file, read-only, and its reference count is up by one per process.
fn two_processes_running_one_binary_share_its_text_pages_from_the_page_cache() {
    use crate::mm::page_alloc::pfn_to_page;
    let path = "/bin/sleeper";
    let file = crate::fs::lookup(path).expect("/bin/sleeper in the suite's initramfs");
    let bprm = LinuxBinprm::new(file.clone()).unwrap();
    let entry = u32::from_le_bytes(bprm.buf()[24..28].try_into().unwrap()) as usize;
    let (_, info) = load_file(&file).unwrap();
    assert_eq!(info.entry, entry);
    // The text segment starts at file offset 0 (checked: the first
    // program header).
    let phoff = u32::from_le_bytes(bprm.buf()[28..32].try_into().unwrap()) as usize;
    let ph = &bprm.buf()[phoff..phoff + PHDR];
    let (p_offset, p_vaddr) = (u32::from_le_bytes(ph[4..8].try_into().unwrap()) as usize, u32::from_le_bytes(ph[8..12].try_into().unwrap()) as usize);
    let index = (entry - p_vaddr + p_offset) >> mm::layout::PAGE_SHIFT;
    let before = cache_pfn(&file, index).map(|pfn| pfn_to_page(pfn).page_count());
    let spawn = || crate::fs::exec::spawn_user(path, alloc::vec![path.as_bytes().to_vec(), b"9".to_vec()], alloc::vec![]);
    let (a, b) = (spawn(), spawn());
    let text_pte = |h: &crate::sched::JoinHandle| h.task().mm().map(|mm| mm.lookup(entry & mm::layout::PAGE_MASK)).filter(|p| p.present());
    let mut waited = 0;
    while (text_pte(&a).is_none() || text_pte(&b).is_none()) && waited < 5000 {
        crate::sched::timer::msleep(10);
        waited += 10;
    }
    let (pa, pb) = (text_pte(&a).expect("the first runs its text"), text_pte(&b).expect("the second runs its text"));
    let cache = cache_pfn(&file, index).expect("the text page is in the page cache");
    assert_eq!(pa.pfn(), cache, "the first maps the page cache's page");
    assert_eq!(pb.pfn(), cache, "the second maps the same page");
    assert!(!pa.flags().contains(crate::arch::paging::PteFlags::RW) && !pb.flags().contains(crate::arch::paging::PteFlags::RW), "read-only");
    let count = pfn_to_page(cache).page_count();
    // The cache's reference, one per mapping process (and before the
    // first run, perhaps the page was not cached yet).
    assert_eq!(count, before.unwrap_or(1) + 2, "one reference per process (before: {before:?})");
    assert_eq!(a.join(), 0);
    assert_eq!(b.join(), 0);
    assert_eq!(pfn_to_page(cache).page_count(), before.unwrap_or(1), "the references went with the processes");
}

/// busybox (1.9 MB, ~480 file pages) running `true` maps only what it
/// touches: its text and rodata come from the page cache on demand, and
/// only the pages it touches are in its page tables when it exits.
/// Before exec mapped files, every file byte was copied into fresh pages.
fn an_exec_of_busybox_maps_only_the_pages_it_touches() {
    crate::tools::ktest::require_kernel_option("test_expect_busybox");
    let bb = crate::fs::lookup("/bin/busybox").expect("/bin/busybox");
    let file_pages = bb.size().div_ceil(mm::layout::PAGE_SIZE);
    let padzero = crate::fs::binfmt_elf::PADZERO_PAGES.load(core::sync::atomic::Ordering::Relaxed);
    let h = crate::fs::exec::spawn_user("/bin/busybox", alloc::vec![b"true".to_vec()], alloc::vec![]);
    let task = h.task().clone();
    assert_eq!(h.join(), 0);
    let rss = task.rss_at_exit().expect("its address space at exit");
    let pages = rss.data_low + rss.data_high;
    crate::println!();
    crate::println!("exec: busybox true had {pages} pages mapped at exit, of {file_pages} file pages");
    assert!(pages * 4 < file_pages, "{pages} pages mapped at exit, the file has {file_pages}");
    assert_eq!(crate::fs::binfmt_elf::PADZERO_PAGES.load(core::sync::atomic::Ordering::Relaxed), padzero + 1,
        "one page copied at exec: the one padzero clears");
}

/// Linux 6.1's `deny_write_access` through `mm->exe_file`: while a
/// program runs (and only then), `open` of its file for writing or with
/// `O_TRUNC` and `truncate` fail with `ETXTBSY`; reading is fine.
fn a_running_programs_file_cannot_be_opened_for_writing_or_truncated_etxtbsy() {
    use crate::arch::entry::syscall_32::nr;
    use super::common::sys3;
    use super::user::{DATA, address_space_with};
    const ETXTBSY: i32 = 26;
    assert_eq!(crate::fs::FsError::TextBusy.errno(), ETXTBSY);
    let sleeper = crate::fs::lookup("/bin/sleeper").expect("/bin/sleeper");
    let mut bytes = alloc::vec![0u8; sleeper.size()];
    assert_eq!(sleeper.read_at(0, &mut bytes), Ok(bytes.len()));
    let path = "/exec-txtbsy";
    let file = crate::fs::rootfs().create(path, 0o755).unwrap();
    file.write_at(0, &bytes).unwrap();
    // This task becomes a process, for the system calls' user pointers.
    let me = crate::sched::current();
    me.set_mm(address_space_with(&[0x90]));
    let mut name = Vec::from(path.as_bytes());
    name.push(0);
    assert_eq!(crate::arch::lib::usercopy_32::copy_to_user(DATA, &name), 0);
    let open = |flags: usize| {
        let fd = sys3(nr::OPEN, DATA, flags, 0);
        if fd >= 0 {
            assert_eq!(sys3(nr::CLOSE, fd as usize, 0, 0), 0);
        }
        fd.min(0)
    };
    let (o_wronly, o_rdwr, o_trunc) = (1, 2, 0o1000);
    assert_eq!(open(o_wronly), 0, "not running: writable");
    let h = crate::fs::exec::spawn_user(path, alloc::vec![path.as_bytes().to_vec(), b"5".to_vec()], alloc::vec![]);
    let mut waited = 0;
    while h.task().mm().is_none() && waited < 5000 {
        crate::sched::timer::msleep(10);
        waited += 10;
    }
    assert!(h.task().mm().is_some(), "the program started");
    assert_eq!(open(o_wronly), -ETXTBSY, "O_WRONLY");
    assert_eq!(open(o_rdwr), -ETXTBSY, "O_RDWR");
    assert_eq!(open(o_trunc), -ETXTBSY, "O_RDONLY | O_TRUNC");
    assert_eq!(open(0), 0, "O_RDONLY is fine");
    assert_eq!(open(3), 0, "access mode 3 is neither read nor write in Linux: fine");
    assert_eq!(sys3(nr::TRUNCATE, DATA, 0, 0), -ETXTBSY, "truncate");
    assert_eq!(file.size(), bytes.len(), "the file is whole");
    assert_eq!(h.join(), 0, "the program ran to its end");
    assert_eq!(open(o_wronly), 0, "after it exited: writable again");
    assert_eq!(sys3(nr::TRUNCATE, DATA, 0, 0), 0, "and truncatable");
    crate::fs::namei::do_unlinkat(&crate::fs::rootfs().base(), path).unwrap();
}

/// Start `path` from the rootfs with argv = path + `args` and the oracle's
/// environment; its wait status.
fn run(path: &str, args: &[&str]) -> i32 {
    let argv = core::iter::once(path).chain(args.iter().copied()).map(|a| a.as_bytes().to_vec()).collect();
    crate::fs::exec::spawn_user(path, argv, alloc::vec![b"USER_TEST=oracle".to_vec()]).join()
}

/// The runs of tests/user.sh, written by the runner into the suite's
/// initramfs (`user_kernel_list` in tests/user.sh): one line per run,
/// `NAME<TAB>STATUS[<TAB>ARG]...`, so an argument may hold spaces or be
/// empty (`startup one 'two words' ''`); tests/user.sh is the one place a
/// program and its arguments are listed.
const USER_RUNS: &str = "/etc/user-tests";

/// One run of a user program: `/bin/NAME` with `args`, expected to exit
/// with `status` (what it exits with natively on Linux).
struct UserRun {
    name: String,
    status: i32,
    args: Vec<String>,
}

/// The runs listed in [`USER_RUNS`], in its order.
fn user_runs() -> Vec<UserRun> {
    let inode = crate::fs::lookup(USER_RUNS)
        .unwrap_or_else(|| panic!("{USER_RUNS} is in the suite's initramfs (the runner writes it from tests/user.sh)"));
    let mut bytes = alloc::vec![0u8; crate::fs::size(&inode)];
    let n = crate::fs::read_at(&inode, 0, &mut bytes);
    assert_eq!(n, bytes.len(), "{USER_RUNS} reads whole");
    let text = core::str::from_utf8(&bytes).expect("the run list is UTF-8");
    let runs: Vec<UserRun> = text
        .lines()
        .map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next().filter(|n| !n.is_empty() && !n.contains('/'));
            let status = fields.next().and_then(|s| s.parse().ok());
            let (Some(name), Some(status)) = (name, status) else {
                panic!("{USER_RUNS}: '{line}' is not NAME<TAB>STATUS[<TAB>ARG]...");
            };
            UserRun { name: name.into(), status, args: fields.map(String::from).collect() }
        })
        .collect();
    assert!(!runs.is_empty(), "{USER_RUNS} lists no program");
    runs
}

/// An argument as a shell would need it typed: as it is if it is plain,
/// else in single quotes. For the `user: run` line, which people read.
fn shell_word(a: &str) -> String {
    if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=,:+@".contains(&b)) {
        a.into()
    } else {
        alloc::format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// A wait status in words, the way the runner says a native run ended
/// (tests/user.sh, `user_status_words`): `exited with status N`, `killed by
/// signal N`, or, for a negative status from [`spawn_user`]'s task,
/// `could not be started: errno N`.
///
/// [`spawn_user`]: crate::fs::exec::spawn_user
fn wait_status_words(ws: i32) -> String {
    if ws < 0 {
        alloc::format!("could not be started: errno {}", -ws)
    } else if ws & 0x7f == 0 {
        alloc::format!("exited with status {}", (ws >> 8) & 0xff)
    } else {
        alloc::format!("killed by signal {}", ws & 0x7f)
    }
}

/// Every run of tests/user.sh (the programs of user/, packed into the
/// suite's initramfs at /bin by the runner), with the arguments and the
/// environment the runner gives them on the host's Linux and under
/// qemu-i386. Each program checks the ABI from inside and exits with the
/// status it exits with under Linux (0 if all its checks held; `panics`
/// dies through its panic handler with 101): a different status fails
/// this test.
///
/// What the programs print is compared by the runner, not here: each run's
/// output stands between two lines this test prints,
///
/// ```text
/// user: run /bin/startup one 'two words' ''
/// ...everything the program (and its children) wrote to fds 1 and 2...
/// user: /bin/startup (pid 12) exited with status 0
/// ```
///
/// and `check_user_kernel` (tests/user.sh) cuts the serial log there and
/// diffs each piece, line by line, against the program's output on the
/// host's Linux. The end line starts with a newline of its own, so that a
/// last line without one still shows (the runner takes that newline off).
fn the_user_programs_run_here_as_under_linux() {
    let mut wrong = Vec::new();
    // The harness has printed `test NAME ... ` without a newline: the
    // first `user: run` line starts a line of its own.
    crate::println!();
    for r in user_runs() {
        let path = alloc::format!("/bin/{}", r.name);
        let words: Vec<String> = r.args.iter().map(|a| shell_word(a)).collect();
        crate::println!("user: run {path}{}{}", if words.is_empty() { "" } else { " " }, words.join(" "));
        let argv = core::iter::once(path.as_bytes().to_vec()).chain(r.args.iter().map(|a| a.as_bytes().to_vec())).collect();
        let handle = crate::fs::exec::spawn_user(&path, argv, alloc::vec![b"USER_TEST=oracle".to_vec()]);
        let pid = handle.task().id();
        let ws = handle.join();
        crate::print!("\nuser: {path} (pid {pid}) {}\n", wait_status_words(ws));
        if ws != r.status << 8 {
            wrong.push(alloc::format!("{path}: {}, want exit status {}", wait_status_words(ws), r.status));
        }
    }
    assert!(wrong.is_empty(), "programs ended otherwise than under Linux (their FAILED lines say why): {wrong:?}");
}

/// Linux's errnos for an exec that cannot start: no such file (ENOENT), a
/// directory (EACCES), a file that is not an executable (ENOEXEC).
fn exec_of_a_missing_file_a_directory_or_a_text_file_fails_with_linuxs_errno() {
    use crate::errno::{EACCES, ENOENT, ENOEXEC};
    assert_eq!(run("/bin/no-such-program", &[]), -ENOENT);
    assert_eq!(run("/bin", &[]), -EACCES);
    assert_eq!(run("/hello.txt", &[]), -ENOEXEC);
}

/// A task's function may never return: a program's task leaves the
/// kernel for user mode, a thread may end in `exit`. The box that carried
/// the function into the new task must be freed before it runs
/// (`sched::task::TaskEntry`), or every such task leaks it: 64 bytes a
/// program, found by the fuzzer's heap count. After a first run of each
/// kind (which may grow lasting tables), eight more leave the heap's bytes
/// in use where they were, within a little of what other CPUs' work may
/// hold at that moment (in one of three tries).
fn tasks_that_never_return_leave_nothing_on_the_heap() {
    let hello = || {
        let argv = alloc::vec![b"/bin/hello".to_vec()];
        assert_eq!(crate::fs::exec::spawn_user("/bin/hello", argv, Vec::new()).join(), 0);
    };
    let exiting = || {
        let pid = [7u8; 40];
        assert_eq!(crate::sched::spawn("exits", move || { core::hint::black_box(pid); crate::sched::exit(3) }).join(), 3);
    };
    for (what, run) in [("a program", &hello as &dyn Fn()), ("a thread that calls exit", &exiting)] {
        run();
        // Up to three tries of eight runs: another CPU may still be
        // finishing an earlier test's work (reaping its tasks, freeing its
        // buffers) during one try, but a leak of 16 bytes or more a run
        // shows in every try.
        let mut tries = alloc::vec::Vec::new();
        for _ in 0..3 {
            let before = crate::mm::heap::KMALLOC.bytes_in_use();
            for _ in 0..8 {
                run();
            }
            let after = crate::mm::heap::KMALLOC.bytes_in_use();
            tries.push((before, after));
            if after < before + 128 {
                break;
            }
        }
        let &(before, after) = tries.last().unwrap();
        assert!(after < before + 128, "{what}: bytes in use over 8 runs, each try: {tries:?} (the last: a leak of {} a run)", (after.saturating_sub(before)) / 8);
    }
}

// --- execve's argument limits (Linux bprm_stack_limits, copy_strings) ---

/// Where the long strings go in [`exec_caller`]'s address space.
const BIG: usize = 0x1000_0000;
const BIG_PAGES: usize = 100;

/// Make the test task a user process to call execve from: the usual
/// address space, plus a 100-page anonymous area at [`BIG`], with the path
/// `/bin/hello` at DATA. Returns the address space.
fn exec_caller() -> Arc<MmStruct> {
    use mm::vma::{VmArea, VmFlags, VmaKind};
    let mm = super::user::address_space_with(&[0x90]);
    let big = VmArea::new(BIG, BIG + BIG_PAGES * 4096, VmFlags::VM_DATA_DEFAULT_FLAGS, VmaKind::Anonymous, BIG >> 12).unwrap();
    mm.mmap_lock().insert_vm_struct(big).unwrap();
    crate::sched::current().set_mm(mm.clone());
    assert_eq!(copy_to_user(super::user::DATA, b"/bin/hello\0"), 0);
    // The pages the pointer arrays go in, faulted in now: not counted as
    // the exec's.
    assert_eq!(copy_to_user(super::user::DATA + 4096, &[0u8; 2 * 4096]), 0);
    // The first exec of a boot makes what every later one shares (the
    // vDSO's page): one refused exec now, so the counts see only theirs.
    let too_long = BIG + 66 * 4096;
    user_string(too_long, b'w', crate::fs::exec::MAX_ARG_STRLEN);
    assert_eq!(execve(user_array(super::user::DATA + 4096, &[too_long]), 0), -crate::errno::E2BIG);
    mm
}

use crate::arch::lib::usercopy_32::copy_to_user;

/// A user string of `len` bytes of `byte` and its NUL at `at`.
fn user_string(at: usize, byte: u8, len: usize) {
    let mut s = alloc::vec![byte; len + 1];
    s[len] = 0;
    assert_eq!(copy_to_user(at, &s), 0);
}

/// A NULL-ended user array of `ptrs` at `at`; returns `at`.
fn user_array(at: usize, ptrs: &[usize]) -> usize {
    let bytes: Vec<u8> = ptrs.iter().chain(&[0]).flat_map(|p| (*p as u32).to_le_bytes()).collect();
    assert_eq!(copy_to_user(at, &bytes), 0);
    at
}

/// execve("/bin/hello", argv, envp) from the test task, through the
/// system-call table.
fn execve(argv: usize, envp: usize) -> i32 {
    super::common::sys3(crate::arch::entry::syscall_32::nr::EXECVE, super::user::DATA, argv, envp)
}

/// Free pages plus the pages the heap holds (the heap keeps pages it grew
/// by; that is not a leak).
fn free_and_heap() -> usize {
    crate::mm::page_alloc::node().nr_free_pages() + crate::mm::heap::KMALLOC.pages_held()
}

/// Set this task's soft `RLIMIT_STACK`; returns the old one.
fn set_stack_rlimit(cur: u32) -> u32 {
    let me = crate::sched::current();
    let mut rlim = me.rlim.lock();
    core::mem::replace(&mut rlim[crate::resource::rlimit::STACK].cur, cur)
}

/// Linux `bprm_stack_limits`: the strings (execfn, argv, envp, each with
/// its NUL) and 4 bytes a pointer may take a quarter of `RLIMIT_STACK`.
/// With the default 8 MiB, 17 strings of 128 KiB (2 MiB + 128 KiB) are
/// `-E2BIG`; with 1 MiB, exactly 256 KiB fits and one byte more does not.
/// Each refused exec leaves the caller in its own address space, with
/// every page the new one took free again; the one that fits runs.
fn an_argument_list_over_a_quarter_of_the_stack_limit_is_e2big_and_the_caller_goes_on() {
    use crate::fs::exec::MAX_ARG_STRLEN;
    let mm = exec_caller();
    let me = crate::sched::current();
    let (a, b) = (BIG, BIG + 32 * 4096);
    user_string(a, b'x', MAX_ARG_STRLEN - 1);
    let argv = super::user::DATA + 4096;
    let free = free_and_heap();
    assert_eq!(execve(user_array(argv, &[a; 17]), 0), -crate::errno::E2BIG, "2 MiB + 128 KiB of strings");
    assert!(Arc::ptr_eq(&me.mm().unwrap(), &mm), "the caller's address space, as it was");
    assert_eq!(free_and_heap(), free, "every page the refused exec took is free again");
    let old = set_stack_rlimit(1 << 20);
    // 256 KiB less two pointers, less "/bin/hello" and A with their NULs.
    let fits = 256 * 1024 - 2 * 4 - 11 - MAX_ARG_STRLEN;
    user_string(b, b'y', fits); // fits + 1 bytes with its NUL: one too many
    let free = free_and_heap();
    assert_eq!(execve(user_array(argv, &[a, b]), 0), -crate::errno::E2BIG, "one byte over");
    assert!(Arc::ptr_eq(&me.mm().unwrap(), &mm), "the caller goes on");
    assert_eq!(free_and_heap(), free, "nothing leaked");
    user_string(b, b'y', fits - 1);
    let r = execve(user_array(argv, &[a, b]), 0);
    set_stack_rlimit(old);
    assert_eq!(r, 0, "exactly the limit fits");
    assert!(!Arc::ptr_eq(&me.mm().unwrap(), &mm), "the task runs hello now");
}

/// Linux `valid_arg_len`: one string of more than `MAX_ARG_STRLEN` (32
/// pages) bytes with its NUL is `-E2BIG`, in argv or envp, though the
/// total would fit; one of exactly 32 pages is taken. A string pointer or
/// an array outside user space is `-EFAULT`. The caller goes on after
/// each failure, and nothing leaks.
fn one_string_longer_than_max_arg_strlen_is_e2big_and_a_bad_pointer_efault() {
    use crate::errno::{E2BIG, EFAULT};
    use crate::fs::exec::MAX_ARG_STRLEN;
    let mm = exec_caller();
    let me = crate::sched::current();
    let c = BIG;
    user_string(c, b'z', MAX_ARG_STRLEN);
    let (argv, envp) = (super::user::DATA + 4096, super::user::DATA + 2 * 4096);
    let free = free_and_heap();
    assert_eq!(execve(user_array(argv, &[c]), 0), -E2BIG, "in argv");
    assert_eq!(execve(0, user_array(envp, &[c])), -E2BIG, "in envp");
    assert_eq!(execve(user_array(argv, &[0xc000_0000]), 0), -EFAULT, "a kernel address as a string");
    assert_eq!(execve(0xc000_0000, 0), -EFAULT, "a kernel address as the array");
    assert!(Arc::ptr_eq(&me.mm().unwrap(), &mm), "the caller's address space, as it was");
    assert_eq!(free_and_heap(), free, "nothing leaked");
    user_string(c, b'z', MAX_ARG_STRLEN - 1);
    assert_eq!(execve(user_array(argv, &[c]), user_array(envp, &[c])), 0, "32 pages with the NUL: taken");
}

/// Linux 5.18 on (so 6.1): an exec with no arguments (a NULL argv, or
/// one that is empty) gives the program `argc` 1 and `argv[0]` "", so
/// that one starting at `argv[1]` does not walk into envp.
fn an_exec_with_an_empty_argv_gives_the_program_one_empty_argument() {
    use crate::arch::lib::usercopy_32::copy_from_user;
    exec_caller();
    let envp = user_array(super::user::DATA + 4096, &[BIG]);
    user_string(BIG, b'e', 3);
    let mut regs = crate::arch::entry::PtRegs {
        bx: super::user::DATA as u32, cx: 0, dx: envp as u32,
        orig_ax: crate::arch::entry::syscall_32::nr::EXECVE as u32, ..Default::default()
    };
    let execve = crate::arch::entry::syscall_32::ia32_sys_call_table(crate::arch::entry::syscall_32::nr::EXECVE).unwrap();
    assert_eq!(execve(&mut regs), 0);
    let mut words = [0u8; 16];
    assert_eq!(copy_from_user(&mut words, regs.sp as usize), 0);
    let word = |i: usize| u32::from_le_bytes(words[4 * i..4 * i + 4].try_into().unwrap()) as usize;
    assert_eq!((word(0), word(2)), (1, 0), "argc 1, argv[1] NULL");
    let mut s = [0xffu8; 8];
    assert_eq!(copy_from_user(&mut s[..1], word(1)), 0);
    assert_eq!(s[0], 0, "argv[0] is the empty string");
    assert_eq!(copy_from_user(&mut s[..4], word(3)), 0);
    assert_eq!(&s[..4], b"eee\0", "envp[0] after argv's NULL");
}
