//! Process start-up: `_start` and the initial stack.
//!
//! Linux (`create_elf_tables` in fs/binfmt_elf.c) starts an i386 program
//! at `e_entry` with esp pointing at this, lowest address first:
//!
//! ```text
//!   esp ->  argc
//!           argv[0] .. argv[argc - 1], NULL
//!           envp[0] .. envp[n - 1], NULL
//!           auxv: (type, value) pairs, ending with (AT_NULL, 0)
//!           ... the strings themselves, AT_RANDOM's 16 bytes, ...
//! ```
//!
//! Every register but esp is meaningless (Linux zeroes them:
//! `ELF_PLAT_INIT`), so `_start` passes esp on to Rust and clears ebp, the
//! frame pointer, so that a debugger's backtrace stops here.

use core::ffi::{CStr, c_char};

/// Auxiliary-vector types (Linux `include/uapi/linux/auxvec.h` and
/// `arch/x86/include/uapi/asm/auxvec.h`).
pub mod auxv {
    /// The end of the vector.
    pub const AT_NULL: usize = 0;
    /// Where the program headers are in memory.
    pub const AT_PHDR: usize = 3;
    /// The size of one program header (32 for ELF32).
    pub const AT_PHENT: usize = 4;
    /// How many program headers there are.
    pub const AT_PHNUM: usize = 5;
    /// The page size.
    pub const AT_PAGESZ: usize = 6;
    /// The program's entry point (`e_entry`).
    pub const AT_ENTRY: usize = 9;
    /// Where 16 random bytes are (for stack protectors and hash seeds).
    pub const AT_RANDOM: usize = 25;
    /// The file name execve was given.
    pub const AT_EXECFN: usize = 31;
}

// The entry point. `.text._start` comes first in the text segment
// (user.ld). The i386 psABI wants esp 16-byte aligned at each call
// instruction: align, then make room so that after the one push the
// call sees an aligned stack.
core::arch::global_asm!(
    r#"
    .section .text._start, "ax", @progbits
    .global _start
    .type _start, @function
_start:
    xor ebp, ebp
    mov eax, esp
    and esp, -16
    sub esp, 12
    push eax
    call {start}
    ud2
    .size _start, . - _start
    "#,
    start = sym __user_start,
);

unsafe extern "Rust" {
    /// The program's main function, defined by [`entry!`](crate::entry).
    safe fn __user_main(args: Args) -> i32;
}

/// What `_start` found on the initial stack.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const c_char,
    envp: *const *const c_char,
    auxv: *const [usize; 2],
}

/// Called by `_start` with the initial stack pointer; never returns.
///
/// # Safety
///
/// `sp` must point at an initial stack laid out as Linux lays it out (see
/// the module documentation), which stays untouched for the whole run.
unsafe extern "C" fn __user_start(sp: *const usize) -> ! {
    // SAFETY: the caller's contract: sp points at argc, followed by the
    // NULL-terminated argv and envp arrays and the auxiliary vector.
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const c_char;
        let envp = argv.add(argc + 1);
        let mut end = envp;
        while !(*end).is_null() {
            end = end.add(1);
        }
        Args { argc, argv, envp, auxv: end.add(1) as *const [usize; 2] }
    };
    crate::syscall::exit(__user_main(args))
}

impl Args {
    /// argc: how many arguments, the program name included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// The arguments, argv[0] (the program name) first.
    pub fn argv(&self) -> impl Iterator<Item = &'static CStr> {
        let argv = self.argv;
        (0..self.argc).map(move |i| {
            // SAFETY: argv[0..argc] are pointers to NUL-terminated strings
            // on the initial stack, which lives as long as the program.
            unsafe { CStr::from_ptr(*argv.add(i)) }
        })
    }

    /// Is argv[argc] the NULL the ABI promises after the last argument?
    pub fn argv_is_null_terminated(&self) -> bool {
        // SAFETY: argv has argc + 1 entries (see __user_start).
        unsafe { (*self.argv.add(self.argc)).is_null() }
    }

    /// The environment strings (`NAME=value`), in order.
    pub fn envp(&self) -> impl Iterator<Item = &'static CStr> {
        let envp = self.envp;
        (0..).map_while(move |i| {
            // SAFETY: envp is NULL-terminated (__user_start found its end);
            // map_while stops at that NULL, so no read goes past it.
            let p = unsafe { *envp.add(i) };
            // SAFETY: a non-NULL envp entry is a NUL-terminated string on
            // the initial stack.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
        })
    }

    /// The value of environment variable `name`, if it is set.
    pub fn getenv(&self, name: &str) -> Option<&'static [u8]> {
        self.envp().find_map(|e| {
            let e = e.to_bytes();
            let rest = e.strip_prefix(name.as_bytes())?;
            rest.strip_prefix(b"=")
        })
    }

    /// The auxiliary vector's (type, value) pairs, up to but not including
    /// AT_NULL.
    pub fn auxv(&self) -> impl Iterator<Item = (usize, usize)> {
        let auxv = self.auxv;
        (0..).map_while(move |i| {
            // SAFETY: the vector ends with an AT_NULL pair; map_while stops
            // there, so no read goes past it.
            let [kind, value] = unsafe { *auxv.add(i) };
            (kind != auxv::AT_NULL).then_some((kind, value))
        })
    }

    /// The first auxiliary value of type `kind` (glibc's `getauxval`).
    pub fn getauxval(&self, kind: usize) -> Option<usize> {
        self.auxv().find(|&(k, _)| k == kind).map(|(_, v)| v)
    }
}

/// The address of `_start`, which Linux passes as AT_ENTRY.
pub fn entry_point() -> usize {
    unsafe extern "C" {
        fn _start() -> !;
    }
    _start as *const () as usize
}

/// Names the program's main function: `entry!(main)` with
/// `fn main(args: Args) -> i32`; what main returns is the exit status.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// Called by the runtime's `_start` (user/src/start.rs).
        #[unsafe(no_mangle)]
        fn __user_main(args: $crate::Args) -> i32 {
            let main: fn($crate::Args) -> i32 = $main;
            main(args)
        }
    };
}
