//! The context switch: swapping one task's registers for another's.
//!
//! Only the callee-saved registers (ebp, ebx, esi, edi) and EFLAGS need
//! saving: everything else the compiler already assumes a function call
//! clobbers. EFLAGS is saved because the interrupt-enable flag belongs to
//! the task, not the CPU ("it is a property of this kernel thread", as xv6
//! puts it). The stack pointer is the last thing switched; after that the
//! CPU is running the other task, and `ret` returns into *its* code.
//!
//! ```text
//!  prev's stack, after __switch_to pushed     next's stack, before it pops
//!  | return into schedule() |                 | return address          |
//!  | ebp ebx esi edi        |                 | ebp ebx esi edi         |
//!  | eflags                 | <- prev.esp     | eflags                  | <- next.esp
//! ```
//!
//! A new task's stack is built by [`init_task_stack`] to look like that,
//! with the return address pointing at `ret_from_fork`.

use core::arch::global_asm;

unsafe extern "C" {
    /// Save the current registers and stack pointer into `*prev_esp`, load
    /// `next_esp` and return into whatever that stack was switched out from.
    pub fn __switch_to(prev_esp: *mut usize, next_esp: usize);
    fn ret_from_fork();
}

global_asm!(
    r#"
    .section .text
    .global __switch_to
__switch_to:
    mov eax, [esp + 4]          // prev_esp
    mov edx, [esp + 8]          // next_esp
    push ebp
    push ebx
    push esi
    push edi
    pushfd
    mov [eax], esp
    mov esp, edx
    popfd
    pop edi
    pop esi
    pop ebx
    pop ebp
    ret

    .global ret_from_fork
ret_from_fork:
    xor ebp, ebp                // end of the frame-pointer chain
    call {tail}
2:  hlt                         // task_entry never returns
    jmp 2b
    "#,
    tail = sym crate::sched::core::task_entry,
);

/// Build a new task's first stack frame below `stack_top` so that the first
/// `__switch_to` into it "returns" into `ret_from_fork` with interrupts off.
/// Returns the initial stack pointer.
pub fn init_task_stack(stack_top: usize) -> usize {
    let frame: [u32; 6] = [
        0x2,                                   // eflags: IF clear (reserved bit 1 set)
        0, 0, 0, 0,                            // edi esi ebx ebp
        ret_from_fork as *const () as u32,     // return address
    ];
    let esp = stack_top - core::mem::size_of_val(&frame) - 16;
    // SAFETY: the stack is freshly allocated, mapped and ours; the frame
    // fits well inside it.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), esp as *mut u32, frame.len()) };
    esp
}
