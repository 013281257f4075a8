//! The Global Descriptor Table and the Task State Segments.
//!
//! Segmentation is flat (base 0, limit 4 GiB) as in every modern kernel; the
//! GDT matters for two other reasons:
//!
//! * the **TSS** tells the CPU which stack to use when an interrupt arrives
//!   from user mode (`esp0`), and
//! * 32-bit x86 has no IST stacks, so the only way to run the **double fault**
//!   handler on a known-good stack is a *task gate*: the CPU saves every
//!   register into the current TSS and loads a second TSS (`df_tss`) with
//!   its own stack. That is how a kernel stack overflow, which leaves no
//!   stack to push a page-fault frame on, still gets reported (Linux does the
//!   same in `arch/x86/kernel/doublefault_32.c`).
//!
//! Every CPU has its own GDT (so its own TSS and its own per-CPU segment).
//! The entries user programs can see are where Linux's i386 GDT has them
//! (`arch/x86/include/asm/segment.h`), so a program that reads its own CS
//! (0x73) or asks `set_thread_area` for a TLS entry (6) gets Linux's
//! answer; the kernel's own code and data segments stay at 1 and 2 (their
//! selectors are not part of the ABI, and the AP trampoline uses the same
//! two):
//!
//! ```text
//!  index  selector  descriptor
//!  0      0x00      null
//!  1      0x08      kernel code  (ring 0, 32-bit, 4 GiB)
//!  2      0x10      kernel data
//!  6-8    0x33..    TLS entries  (ring 3, set_thread_area; empty until set)
//!  14     0x73      user code    (ring 3) = Linux __USER_CS
//!  15     0x7b      user data    (ring 3) = Linux __USER_DS
//!  16     0x80      TSS          (this CPU's normal task) = Linux GDT_ENTRY_TSS
//!  27     0xd8      per-CPU data (base = this CPU's `PerCpu` block; loaded
//!                   in fs) = Linux __KERNEL_PERCPU
//!  31     0xf8      double-fault TSS = Linux GDT_ENTRY_DOUBLEFAULT_TSS
//! ```

use core::arch::asm;
use core::ptr::addr_of;

use mm::layout::NR_CPUS;

/// Kernel code segment selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data segment selector.
pub const KERNEL_DS: u16 = 0x10;
/// The first of the three TLS entries `set_thread_area` fills (Linux
/// `GDT_ENTRY_TLS_MIN`).
pub const GDT_ENTRY_TLS_MIN: usize = 6;
/// How many TLS entries there are (Linux `GDT_ENTRY_TLS_ENTRIES`).
pub const GDT_ENTRY_TLS_ENTRIES: usize = 3;
const GDT_ENTRY_DEFAULT_USER_CS: usize = 14;
const GDT_ENTRY_DEFAULT_USER_DS: usize = 15;
const GDT_ENTRY_TSS: usize = 16;
const GDT_ENTRY_PERCPU: usize = 27;
const GDT_ENTRY_DOUBLEFAULT_TSS: usize = 31;

/// A selector for GDT entry `index` at privilege level `rpl`.
const fn selector(index: usize, rpl: u16) -> u16 {
    (index as u16) << 3 | rpl
}

/// User code segment selector (RPL 3): Linux `__USER_CS`.
pub const USER_CS: u16 = selector(GDT_ENTRY_DEFAULT_USER_CS, 3);
/// User data segment selector (RPL 3): Linux `__USER_DS`.
pub const USER_DS: u16 = selector(GDT_ENTRY_DEFAULT_USER_DS, 3);
/// The CPU's task state segment.
pub const TSS_SEL: u16 = selector(GDT_ENTRY_TSS, 0);
/// The double-fault task's state segment.
pub const DF_TSS_SEL: u16 = selector(GDT_ENTRY_DOUBLEFAULT_TSS, 0);
/// This CPU's per-CPU block (see `percpu.rs`); Linux i386 also uses fs
/// (`__KERNEL_PERCPU`).
pub const PERCPU_SEL: u16 = selector(GDT_ENTRY_PERCPU, 0);
// Linux's values, written by hand: the user-visible ones are ABI.
const _: () = assert!(USER_CS == 0x73 && USER_DS == 0x7b && PERCPU_SEL == 0xd8);

const GDT_ENTRIES: usize = 32;
const DF_STACK_SIZE: usize = 8192;

/// A 32-bit Task State Segment (Intel SDM vol. 3, figure 8-2). Segment
/// fields are 16 bits wide followed by 16 reserved bits; we keep them as u32.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Tss {
    pub link: u32,
    pub esp0: u32,
    pub ss0: u32,
    pub esp1: u32,
    pub ss1: u32,
    pub esp2: u32,
    pub ss2: u32,
    pub cr3: u32,
    pub eip: u32,
    pub eflags: u32,
    pub eax: u32,
    pub ecx: u32,
    pub edx: u32,
    pub ebx: u32,
    pub esp: u32,
    pub ebp: u32,
    pub esi: u32,
    pub edi: u32,
    pub es: u32,
    pub cs: u32,
    pub ss: u32,
    pub ds: u32,
    pub fs: u32,
    pub gs: u32,
    pub ldt: u32,
    pub trap: u16,
    pub iomap_base: u16,
}
const _: () = assert!(core::mem::size_of::<Tss>() == 104);

impl Tss {
    const fn zero() -> Tss {
        Tss {
            link: 0, esp0: 0, ss0: 0, esp1: 0, ss1: 0, esp2: 0, ss2: 0, cr3: 0, eip: 0,
            eflags: 0, eax: 0, ecx: 0, edx: 0, ebx: 0, esp: 0, ebp: 0, esi: 0, edi: 0,
            es: 0, cs: 0, ss: 0, ds: 0, fs: 0, gs: 0, ldt: 0, trap: 0,
            // No I/O permission bitmap: the offset points past the TSS limit.
            iomap_base: core::mem::size_of::<Tss>() as u16,
        }
    }
}

/// Encode a segment descriptor (Intel SDM vol. 3, figure 3-8).
const fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xffff)
        | ((base as u64 & 0xff_ffff) << 16)
        | ((access as u64) << 40)
        | (((limit as u64 >> 16) & 0xf) << 48)
        | (((flags as u64) & 0xf) << 52)
        | (((base as u64 >> 24) & 0xff) << 56)
}

/// Access byte: present, ring 0, code, readable.
const KCODE: u8 = 0x9a;
/// Access byte: present, ring 0, data, writable.
const KDATA: u8 = 0x92;
/// Access byte: present, ring 3, code, readable.
const UCODE: u8 = 0xfa;
/// Access byte: present, ring 3, data, writable.
const UDATA: u8 = 0xf2;
/// Access byte: present, 32-bit TSS, available.
const TSS_AVAIL: u8 = 0x89;
/// Flags: 4 KiB granularity, 32-bit default operand size.
const FLAT: u8 = 0xc;
/// The largest limit, in 4 KiB units with [`FLAT`]: a segment of 4 GiB.
const FLAT_LIMIT: u32 = 0xfffff;

/// The flat ring-0 code segment, behind [`KERNEL_CS`]. The AP trampoline
/// (`smpboot.rs`) puts the same descriptor at the same index of its own
/// tiny GDT.
pub const KERNEL_CODE_DESC: u64 = descriptor(0, FLAT_LIMIT, KCODE, FLAT);
/// The flat ring-0 data segment, behind [`KERNEL_DS`] (and the trampoline's).
pub const KERNEL_DATA_DESC: u64 = descriptor(0, FLAT_LIMIT, KDATA, FLAT);
// The values every x86 kernel's flat segments have (Linux's
// GDT_ENTRY_INIT(0xc09a, 0, 0xfffff) and (0xc092, ...)): a check of
// `descriptor` against hand-written facts, not against itself.
const _: () = assert!(KERNEL_CODE_DESC == 0x00cf_9a00_0000_ffff && KERNEL_DATA_DESC == 0x00cf_9200_0000_ffff);

/// Stack a double-fault task runs on. Nothing else ever uses it.
#[repr(C, align(4096))]
struct DfStack([u8; DF_STACK_SIZE]);

/// One CPU's descriptor tables.
#[repr(C, align(64))]
struct CpuTables {
    gdt: [u64; GDT_ENTRIES],
    /// The CPU's normal TSS. When a double fault switches tasks, the CPU
    /// saves the faulting context's registers here.
    tss: Tss,
    /// The double-fault task.
    df_tss: Tss,
}

static mut TABLES: [CpuTables; NR_CPUS] = [const {
    CpuTables { gdt: [0; GDT_ENTRIES], tss: Tss::zero(), df_tss: Tss::zero() }
}; NR_CPUS];
static mut DF_STACKS: [DfStack; NR_CPUS] = [const { DfStack([0; DF_STACK_SIZE]) }; NR_CPUS];

unsafe extern "C" {
    /// Entry of the double-fault task (`traps.rs`).
    fn double_fault_task_entry();
}

/// Build and load CPU `cpu`'s GDT, reload every segment register (fs then
/// points at `percpu_base`), load the TSS. Each CPU calls this once for
/// itself, the boot CPU first.
pub fn init_cpu(cpu: usize, percpu_base: usize, percpu_size: usize) {
    assert!(cpu < NR_CPUS);
    let limit = core::mem::size_of::<Tss>() as u32 - 1;
    // SAFETY: CPU `cpu` alone touches TABLES[cpu] and DF_STACKS[cpu], and
    // only before it loads them; other CPUs read them never.
    unsafe {
        let t = &mut (*core::ptr::addr_of_mut!(TABLES))[cpu];
        let tss_base = core::ptr::addr_of!(t.tss) as u32;
        let df_base = core::ptr::addr_of!(t.df_tss) as u32;
        t.gdt[1] = KERNEL_CODE_DESC;
        t.gdt[2] = KERNEL_DATA_DESC;
        t.gdt[GDT_ENTRY_DEFAULT_USER_CS] = descriptor(0, FLAT_LIMIT, UCODE, FLAT);
        t.gdt[GDT_ENTRY_DEFAULT_USER_DS] = descriptor(0, FLAT_LIMIT, UDATA, FLAT);
        t.gdt[GDT_ENTRY_TSS] = descriptor(tss_base, limit, TSS_AVAIL, 0);
        t.gdt[GDT_ENTRY_DOUBLEFAULT_TSS] = descriptor(df_base, limit, TSS_AVAIL, 0);
        // Byte granularity: the limit is the block's size, so fs:[x] past
        // the block faults instead of reading a neighbour's.
        t.gdt[GDT_ENTRY_PERCPU] = descriptor(percpu_base as u32, percpu_size as u32 - 1, KDATA, 0x4);

        t.tss.ss0 = KERNEL_DS as u32;

        let df = &mut t.df_tss;
        let stack_top = core::ptr::addr_of!((*core::ptr::addr_of!(DF_STACKS))[cpu]) as u32 + DF_STACK_SIZE as u32;
        df.esp = stack_top;
        df.esp0 = stack_top;
        df.ss0 = KERNEL_DS as u32;
        df.eip = double_fault_task_entry as *const () as u32;
        df.eflags = 0x2; // reserved bit 1; interrupts off
        df.cs = KERNEL_CS as u32;
        df.ss = KERNEL_DS as u32;
        df.ds = KERNEL_DS as u32;
        df.es = KERNEL_DS as u32;
        df.fs = PERCPU_SEL as u32;
        df.gs = KERNEL_DS as u32;
        df.cr3 = super::cpu::read_cr3() as u32;

        let ptr = x86::dtables::DescriptorTablePointer::new(&t.gdt);
        x86::dtables::lgdt(&ptr);
        // Reload CS with a far return, then the data segment registers.
        asm!(
            "push {cs}",
            "lea {tmp}, [2f]",
            "push {tmp}",
            "retf",
            "2:",
            "mov ds, {ds:x}",
            "mov es, {ds:x}",
            "mov gs, {ds:x}",
            "mov ss, {ds:x}",
            "mov fs, {fs:x}",
            cs = const KERNEL_CS as u32,
            ds = in(reg) KERNEL_DS as u32,
            fs = in(reg) PERCPU_SEL as u32,
            tmp = out(reg) _,
        );
        asm!("ltr {0:x}", in(reg) TSS_SEL, options(nostack, preserves_flags));
        // No LDT (Linux: `lldt 0` in cpu_init, via load_mm_ldt for an mm
        // without one). A CPU comes out of reset, and an AP out of
        // INIT-SIPI, with LDTR's base 0 and limit 0xffff: left so, a
        // program's LDT selector (TI = 1) would make the CPU read its
        // "descriptor" from linear address 0 up, user memory a program can
        // map and fill, with a call gate into ring 0 for instance. With a
        // null LDTR every LDT selector is #GP (tests/hostile.rs).
        asm!("lldt {0:x}", in(reg) 0u32, options(nostack, preserves_flags));
    }
}

/// The kernel stack an interrupt or system call from user mode lands on:
/// the top of the task about to run on `cpu` (Linux updates
/// `cpu_tss_rw.x86_tss.sp0` in `__switch_to`). Called by the context
/// switch with interrupts off.
pub fn set_tss_esp0(cpu: usize, esp0: usize) {
    // SAFETY: a single aligned store into this CPU's own TSS; the CPU reads
    // it only when it takes an interrupt from ring 3, which cannot happen
    // on this CPU while the context switch runs with interrupts off.
    unsafe { (*core::ptr::addr_of_mut!(TABLES))[cpu].tss.esp0 = esp0 as u32 };
}

/// The descriptor of a `set_thread_area` request (Linux `fill_ldt` from
/// `struct user_desc`): `bits` is the flags word of `user_desc`
/// (seg_32bit, contents:2, read_exec_only, limit_in_pages,
/// seg_not_present, useable, from bit 0 up).
pub fn tls_descriptor(base: u32, limit: u32, bits: u32) -> u64 {
    let bit = |n: u32| bits & (1 << n) != 0;
    let (seg_32bit, contents, read_exec_only, limit_in_pages, not_present, useable) =
        (bit(0), ((bits >> 1) & 3) as u8, bit(3), bit(4), bit(5), bit(6));
    // Access byte as Linux's fill_ldt builds it: present unless asked
    // otherwise, DPL 3, a code/data segment, type = contents << 2 (0 data,
    // 1 expand-down data, 2 code) | !read_exec_only << 1 (writable data,
    // readable code).
    let access = if not_present { 0 } else { 0x80 } | 0x70 | contents << 2 | ((!read_exec_only) as u8) << 1;
    let flags = (limit_in_pages as u8) << 3 | (seg_32bit as u8) << 2 | useable as u8;
    descriptor(base, limit, access, flags)
}

/// Install this task's TLS descriptors into CPU `cpu`'s GDT (entries 6-8;
/// Linux `load_TLS` in `__switch_to`). The context switch calls it with
/// interrupts off; a segment register picks the new descriptor up when it
/// is next loaded (the return to user mode pops gs and fs).
pub fn load_tls(cpu: usize, tls: &[u64; GDT_ENTRY_TLS_ENTRIES]) {
    // SAFETY: CPU `cpu`'s own GDT, written by that CPU with interrupts off;
    // the entries are not the ones the kernel runs on.
    unsafe {
        let t = &mut (*core::ptr::addr_of_mut!(TABLES))[cpu];
        t.gdt[GDT_ENTRY_TLS_MIN..GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES].copy_from_slice(tls);
    }
}

/// The double-fault task must use the page directory that is live when the
/// fault happens; `paging_init` calls this after switching CR3.
pub fn set_double_fault_cr3(cr3: usize) {
    for cpu in 0..NR_CPUS {
        // SAFETY: a single aligned store; a CPU reads the field only when a
        // double fault switches tasks.
        unsafe { (*core::ptr::addr_of_mut!(TABLES))[cpu].df_tss.cr3 = cr3 as u32 };
    }
}

/// The registers of the context a double fault interrupted on `cpu`, as the
/// task switch saved them into that CPU's normal TSS.
pub fn faulting_context(cpu: usize) -> Tss {
    // SAFETY: read-only copy; only the double-fault task of `cpu` calls
    // this, after the CPU has finished writing the TSS.
    unsafe { core::ptr::read_volatile(addr_of!((*addr_of!(TABLES))[cpu].tss)) }
}
