//! `startup`: checks the initial stack the runtime's `_start` found
//! against what Linux's ABI promises (`create_elf_tables`): argv and envp
//! NULL-terminated, and an auxiliary vector describing this very program
//! (page size, entry point, program headers). It also prints its
//! arguments and one environment variable, `USER_TEST`, so that the runner,
//! which chose them, can check they arrived intact.
//!
//! It also gives the program a data segment to check (conformance case
//! U28): an initialised static (.data) must read its value, and a
//! zero-initialised array (.bss) must read zero everywhere, including the
//! part that shares a page with .data. That page comes from the file, whose
//! bytes after .data are other sections: the loader must clear them
//! (Linux's `padzero`). Both must be writable.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use user::start::{auxv, entry_point};
use user::{Args, check::Checks, entry, println};

entry!(main);

/// Where user.ld puts the program (and so the ELF header).
const TEXT_BASE: usize = 0x0804_8000;
/// ELF32 program header: size, and the PT_LOAD type.
const PHENT: usize = 32;
const PT_LOAD: u32 = 1;
/// p_flags bits.
const PF_X: u32 = 1;
const PF_R: u32 = 4;

/// In .data: the file holds its value.
static INITIALISED: AtomicU32 = AtomicU32::new(0x1234_5678);
/// In .bss: 12 KiB of zeros that the file does not hold, starting in the
/// page .data ends in and reaching over page boundaries.
static ZEROED: [AtomicU32; 3072] = [const { AtomicU32::new(0) }; 3072];

fn main(args: Args) -> i32 {
    let mut t = Checks::new("startup");
    for (i, a) in args.argv().enumerate() {
        println!("argv[{i}] = {}", a.to_str().unwrap_or("(not UTF-8)"));
    }
    match args.getenv("USER_TEST") {
        Some(v) => println!("env USER_TEST = {}", core::str::from_utf8(v).unwrap_or("(not UTF-8)")),
        None => println!("env USER_TEST is not set"),
    }

    t.check("argc_at_least_1", args.argc() >= 1, format_args!("argc is {}", args.argc()));
    t.check("argv_null_terminated", args.argv_is_null_terminated(), format_args!("argv[argc] is not NULL"));
    let name_ok = args.argv().next().is_some_and(|a| !a.is_empty());
    t.check("argv0_is_a_name", name_ok, format_args!("argv[0] is empty"));

    let pagesz = args.getauxval(auxv::AT_PAGESZ);
    t.check("auxv_pagesz_4096", pagesz == Some(4096), format_args!("AT_PAGESZ is {pagesz:?}"));
    let entry = args.getauxval(auxv::AT_ENTRY);
    t.check(
        "auxv_entry_is_start",
        entry == Some(entry_point()),
        format_args!("AT_ENTRY is {entry:x?}, _start is at {:#x}", entry_point()),
    );
    let phent = args.getauxval(auxv::AT_PHENT);
    t.check("auxv_phent_32", phent == Some(PHENT), format_args!("AT_PHENT is {phent:?}"));

    // AT_PHDR: the program headers as loaded, in the text segment right
    // after the ELF header (user.ld maps FILEHDR and PHDRS there).
    let phdr = args.getauxval(auxv::AT_PHDR);
    let phnum = args.getauxval(auxv::AT_PHNUM).unwrap_or(0);
    let first_load = phdr.and_then(|p| {
        (0..phnum).map(|i| p + i * PHENT).find_map(|h| {
            // SAFETY: AT_PHDR and AT_PHNUM describe phnum 32-byte program
            // headers mapped in our text segment; each field read is a
            // 4-byte-aligned word inside one of them.
            let (p_type, p_vaddr, p_flags) = unsafe {
                let w = h as *const u32;
                (*w, *w.add(2), *w.add(6))
            };
            (p_type == PT_LOAD).then_some((p_vaddr as usize, p_flags))
        })
    });
    t.check(
        "auxv_phdr_in_text",
        phdr.is_some_and(|p| (TEXT_BASE..TEXT_BASE + 4096).contains(&p)),
        format_args!("AT_PHDR is {phdr:x?}, want inside the first text page {TEXT_BASE:#x}"),
    );
    t.check(
        "first_pt_load_is_rx_text",
        first_load == Some((TEXT_BASE, PF_R | PF_X)),
        format_args!("first PT_LOAD (vaddr, flags) is {first_load:x?}, want ({TEXT_BASE:#x}, 5)"),
    );
    let random = args.getauxval(auxv::AT_RANDOM);
    t.check("auxv_random_present", random.is_some_and(|r| r != 0), format_args!("AT_RANDOM is {random:x?}"));

    let v = INITIALISED.load(Relaxed);
    t.check("data_initialised", v == 0x1234_5678, format_args!("a .data word reads {v:#x}, want 0x12345678"));
    let nonzero = ZEROED.iter().position(|w| w.load(Relaxed) != 0);
    t.check(
        "bss_reads_zero",
        nonzero.is_none(),
        format_args!("a .bss word at {:#x?} is not zero", nonzero.map(|i| &ZEROED[i] as *const _ as usize)),
    );
    INITIALISED.store(7, Relaxed);
    ZEROED.iter().for_each(|w| w.store(0xa5a5_a5a5, Relaxed));
    let kept = INITIALISED.load(Relaxed) == 7 && ZEROED.iter().all(|w| w.load(Relaxed) == 0xa5a5_a5a5);
    t.check("data_and_bss_writable", kept, format_args!("a store to .data or .bss did not stick"));
    t.finish()
}
