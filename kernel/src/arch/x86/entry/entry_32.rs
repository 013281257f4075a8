//! The assembly entry stubs: how every exception and interrupt reaches Rust
//! (Linux `arch/x86/entry/entry_32.S`).
//!
//! Every vector gets a tiny stub that makes the stack look the same whatever
//! the CPU pushed: exceptions with an error code already have one, the others
//! push a dummy 0. The stub then pushes its vector number and jumps to
//! `isr_common`, which saves all registers as a [`TrapFrame`] and calls
//! [`crate::arch::traps::trap_dispatch`] with a pointer to it. The IDT that
//! points at these stubs is built in `arch/x86/kernel/idt.rs`.
//!
//! ```text
//!   higher addresses
//!   | eflags        |  pushed by the CPU
//!   | cs            |
//!   | eip           |
//!   | error code    |  by the CPU, or 0 by the stub
//!   | vector        |  by the stub
//!   | eax..edi      |  pushad in isr_common
//!   | ds es fs gs   |
//!   +---------------+  <- esp = &TrapFrame
//! ```

use core::arch::global_asm;

use crate::arch::gdt::{KERNEL_DS, PERCPU_SEL, USER_DS};

/// What `isr_common` saves, lowest address first.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TrapFrame {
    pub gs: u32,
    pub fs: u32,
    pub es: u32,
    pub ds: u32,
    pub edi: u32,
    pub esi: u32,
    pub ebp: u32,
    /// The ESP value pushad saw (points at `gs`'s slot + 16); unused.
    pub esp_pushad: u32,
    pub ebx: u32,
    pub edx: u32,
    pub ecx: u32,
    pub eax: u32,
    pub vector: u32,
    pub error_code: u32,
    pub eip: u32,
    pub cs: u32,
    pub eflags: u32,
}

impl TrapFrame {
    /// Did the trap come from user mode: ring 3, or virtual-8086 mode
    /// (Linux `user_mode()`: in vm86 mode CS holds a real-mode segment,
    /// any value; see `common::check_user_eflags` for how a program could
    /// get there at all).
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3 || self.eflags & super::common::X86_EFLAGS_VM != 0
    }

    /// The user stack pointer of a trap from ring 3: the CPU pushed it (and
    /// ss) just above the frame.
    pub fn user_sp(&self) -> Option<u32> {
        // SAFETY: from ring 3 the CPU pushed ss:esp right after eflags, so
        // the word after the frame is the user's esp.
        self.from_user().then(|| unsafe { (self as *const TrapFrame).add(1).cast::<u32>().read() })
    }

    /// The stack pointer of the interrupted kernel code: a trap from ring 0
    /// pushes no ESP/SS, so the old stack simply continues above the frame.
    pub fn kernel_esp(&self) -> usize {
        self as *const TrapFrame as usize + core::mem::size_of::<TrapFrame>()
    }
}

/// One entry stub. `$err` says whether the CPU pushes an error code.
macro_rules! isr_stub {
    ($vec:literal, err) => {
        concat!(".global isr", $vec, "\nisr", $vec, ":\n push ", $vec, "\n jmp isr_common\n")
    };
    ($vec:literal, noerr) => {
        concat!(".global isr", $vec, "\nisr", $vec, ":\n push 0\n push ", $vec, "\n jmp isr_common\n")
    };
}

global_asm!(
    ".section .text",
    isr_stub!("0", noerr),  isr_stub!("1", noerr),  isr_stub!("2", noerr),
    isr_stub!("3", noerr),  isr_stub!("4", noerr),  isr_stub!("5", noerr),
    isr_stub!("6", noerr),  isr_stub!("7", noerr),  isr_stub!("8", err),
    isr_stub!("9", noerr),  isr_stub!("10", err),   isr_stub!("11", err),
    isr_stub!("12", err),   isr_stub!("13", err),   isr_stub!("14", err),
    isr_stub!("15", noerr), isr_stub!("16", noerr), isr_stub!("17", err),
    isr_stub!("18", noerr), isr_stub!("19", noerr), isr_stub!("20", noerr),
    isr_stub!("21", err),   isr_stub!("22", noerr), isr_stub!("23", noerr),
    isr_stub!("24", noerr), isr_stub!("25", noerr), isr_stub!("26", noerr),
    isr_stub!("27", noerr), isr_stub!("28", noerr), isr_stub!("29", err),
    isr_stub!("30", err),   isr_stub!("31", noerr),
    isr_stub!("0x20", noerr), isr_stub!("0x21", noerr), isr_stub!("0x22", noerr), isr_stub!("0x23", noerr),
    isr_stub!("0x24", noerr), isr_stub!("0x25", noerr), isr_stub!("0x26", noerr), isr_stub!("0x27", noerr),
    isr_stub!("0x28", noerr), isr_stub!("0x29", noerr), isr_stub!("0x2a", noerr), isr_stub!("0x2b", noerr),
    isr_stub!("0x2c", noerr), isr_stub!("0x2d", noerr), isr_stub!("0x2e", noerr), isr_stub!("0x2f", noerr),
    isr_stub!("0xec", noerr), isr_stub!("0xfb", noerr), isr_stub!("0xfd", noerr), isr_stub!("0xfe", noerr),
    isr_stub!("0xff", noerr),
    r#"
isr_common:
    pushad
    // Segment registers go through eax (already saved by pushad): LLVM
    // assembles `push ds` as a 16-bit push, which would skew the frame.
    mov eax, ds
    push eax
    mov eax, es
    push eax
    mov eax, fs
    push eax
    mov eax, gs
    push eax
    mov ax, {kds}
    mov ds, ax
    mov es, ax
    // From user mode fs holds the program's selector: the kernel reaches
    // its per-CPU block through fs, so load ours (Linux's SAVE_ALL does
    // the same with __KERNEL_PERCPU). gs may hold a TLS selector whose GDT
    // entry the next context switch rewrites for another task: run the
    // kernel with a selector of its own, so that only the return to user
    // mode (which pops the saved one, after the switch back has put this
    // task's TLS entries in place) loads a TLS selector.
    mov ax, {percpu}
    mov fs, ax
    mov ax, {kds}
    mov gs, ax
    cld
    push esp                // argument: &mut TrapFrame
    call {dispatch}
    add esp, 4
    // The saved selectors may no longer load: a program that cleared the
    // TLS entry its gs (or ds...) still names. Each load is in the
    // exception table; its fixup loads the null selector instead (Linux's
    // EX_TYPE_POP_ZERO on the exit path's segment pops).
    pop eax
.Lisr_gs:
    mov gs, ax
    pop eax
.Lisr_fs:
    mov fs, ax
    pop eax
.Lisr_es:
    mov es, ax
    pop eax
.Lisr_ds:
    mov ds, ax
    popad
    add esp, 8              // vector and error code
    iretd
.Lisr_gs_fix:
    xor eax, eax
    jmp .Lisr_gs
.Lisr_fs_fix:
    xor eax, eax
    jmp .Lisr_fs
.Lisr_es_fix:
    xor eax, eax
    jmp .Lisr_es
.Lisr_ds_fix:
    xor eax, eax
    jmp .Lisr_ds
    .pushsection __ex_table, "a"
    .long .Lisr_gs, .Lisr_gs_fix
    .long .Lisr_fs, .Lisr_fs_fix
    .long .Lisr_es, .Lisr_es_fix
    .long .Lisr_ds, .Lisr_ds_fix
    .popsection

    .section .rodata
    .balign 4
    .global isr_stub_table
isr_stub_table:
    .long isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7
    .long isr8, isr9, isr10, isr11, isr12, isr13, isr14, isr15
    .long isr16, isr17, isr18, isr19, isr20, isr21, isr22, isr23
    .long isr24, isr25, isr26, isr27, isr28, isr29, isr30, isr31
    .global irq_stub_table
irq_stub_table:
    .long isr0x20, isr0x21, isr0x22, isr0x23, isr0x24, isr0x25, isr0x26, isr0x27
    .long isr0x28, isr0x29, isr0x2a, isr0x2b, isr0x2c, isr0x2d, isr0x2e, isr0x2f
    .long isr0xec, isr0xfb, isr0xfd, isr0xfe, isr0xff
    .section .text
    "#,
    kds = const KERNEL_DS as u32,
    percpu = const PERCPU_SEL as u32,
    dispatch = sym crate::arch::traps::trap_dispatch,
);

/// The registers of a user task as the system-call entry saves them, in
/// Linux's order (`struct pt_regs`, 32-bit): the arguments are `bx cx dx si
/// di bp`, the number comes in `ax` (kept as `orig_ax`), the result goes
/// back in `ax`, and the last five are what `int` pushed.
///
/// ```text
///   higher addresses
///   | ss sp flags cs ip |  pushed by the CPU (from ring 3: with ss and sp)
///   | orig_ax           |  the system-call number
///   | gs fs es ds       |
///   | ax bp di si dx cx bx |  <- esp = &PtRegs
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PtRegs {
    pub bx: u32,
    pub cx: u32,
    pub dx: u32,
    pub si: u32,
    pub di: u32,
    pub bp: u32,
    pub ax: u32,
    pub ds: u32,
    pub es: u32,
    pub fs: u32,
    pub gs: u32,
    pub orig_ax: u32,
    pub ip: u32,
    pub cs: u32,
    pub flags: u32,
    pub sp: u32,
    pub ss: u32,
}

// The system-call gate (Linux `entry_INT80_32`): an interrupt gate of DPL
// 3, so user code may use it and interrupts are off on entry. Build
// `PtRegs`, switch to the kernel's segments, call the C-level handler,
// restore and return with the result in eax. Segment registers go through
// eax (LLVM would push them as 16-bit values), which is why eax is saved
// first, as orig_ax, and pushed again as ax from there.
global_asm!(
    r#"
    .section .text
    .global entry_INT80_32
entry_INT80_32:
    push eax                // orig_ax
    mov eax, gs
    push eax
    mov eax, fs
    push eax
    mov eax, es
    push eax
    mov eax, ds
    push eax
    mov eax, [esp + 16]     // ax = orig_ax
    push eax
    push ebp
    push edi
    push esi
    push edx
    push ecx
    push ebx
    mov ax, {kds}
    mov ds, ax
    mov es, ax
    mov gs, ax              // see isr_common: never run the kernel on a TLS selector
    mov ax, {percpu}
    mov fs, ax
    cld
    push esp                // argument: &mut PtRegs
    call {handler}
    add esp, 4
    .global syscall_exit_to_user
syscall_exit_to_user:
    // Each selector load may fault (see isr_common): null instead.
    mov eax, [esp + 40]     // gs
.Lsys_gs:
    mov gs, ax
    mov eax, [esp + 36]     // fs
.Lsys_fs:
    mov fs, ax
    mov eax, [esp + 32]     // es
.Lsys_es:
    mov es, ax
    mov eax, [esp + 28]     // ds
.Lsys_ds:
    mov ds, ax
    pop ebx
    pop ecx
    pop edx
    pop esi
    pop edi
    pop ebp
    pop eax                 // the result
    add esp, 20             // ds es fs gs orig_ax
    iretd
.Lsys_gs_fix:
    xor eax, eax
    jmp .Lsys_gs
.Lsys_fs_fix:
    xor eax, eax
    jmp .Lsys_fs
.Lsys_es_fix:
    xor eax, eax
    jmp .Lsys_es
.Lsys_ds_fix:
    xor eax, eax
    jmp .Lsys_ds
    .pushsection __ex_table, "a"
    .long .Lsys_gs, .Lsys_gs_fix
    .long .Lsys_fs, .Lsys_fs_fix
    .long .Lsys_es, .Lsys_es_fix
    .long .Lsys_ds, .Lsys_ds_fix
    .popsection
    "#,
    kds = const KERNEL_DS as u32,
    percpu = const PERCPU_SEL as u32,
    handler = sym super::common::do_int80_syscall_32,
);

unsafe extern "C" {
    /// The system-call gate's entry point, for the IDT.
    pub fn entry_INT80_32();
    /// The return half of the system-call path: with esp at a `PtRegs`,
    /// restore it and `iret` to user mode.
    fn syscall_exit_to_user() -> !;
}

/// Enter user mode for the first time with `regs` (Linux's `start_thread`
/// fills `pt_regs` and the task leaves through the system-call exit path;
/// so do we): copy `regs` to the top of this task's kernel stack, where an
/// interrupt from ring 3 would have put them, and take the exit path.
///
/// # Safety
/// The task's page directory must map `regs.ip` and `regs.sp` for user
/// mode, `kernel_stack_top` must be the top of the current task's kernel
/// stack (so that the TSS's esp0 lands there too), and nothing on that
/// stack above the frame may be needed again: this never returns.
pub unsafe fn start_user_mode(regs: &PtRegs, kernel_stack_top: usize) -> ! {
    let frame = kernel_stack_top - core::mem::size_of::<PtRegs>();
    // SAFETY: the caller guarantees the top of the stack is ours and
    // unused; we are running well below it.
    unsafe {
        (frame as *mut PtRegs).write(*regs);
        core::arch::asm!(
            "cli",
            "mov esp, {frame}",
            "jmp {exit}",
            frame = in(reg) frame,
            exit = sym syscall_exit_to_user,
            options(noreturn)
        )
    }
}

/// `PtRegs` for a fresh user program at `ip` with stack `sp` (Linux
/// `start_thread`): user code and data segments, interrupts on, every
/// general register 0 (`ELF_PLAT_INIT`).
pub fn start_thread_regs(ip: usize, sp: usize) -> PtRegs {
    PtRegs {
        ds: USER_DS as u32,
        es: USER_DS as u32,
        cs: crate::arch::gdt::USER_CS as u32,
        ss: USER_DS as u32,
        ip: ip as u32,
        sp: sp as u32,
        flags: crate::arch::cpu::EFLAGS_IF | 0x2,
        ..PtRegs::default()
    }
}
