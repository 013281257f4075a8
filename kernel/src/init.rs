//! `start_kernel`: the boot sequence, in the order things must happen.
//!
//! ```text
//!  _start (boot/src/entry.rs)   paging on with the early 4 MiB map, boot stack
//!    start_kernel(magic, info)
//!      console, TSC clock, logger   so that everything after can speak
//!      GDT/TSS, IDT                 so that a fault is reported, not a reboot
//!      boot information             multiboot 1 or 2 -> one BootInfo (or stop)
//!      command line                 loglevel=, tests, ...; bad options named
//!      memory                       memblock, mem_map, paging_init, zones
//!      kernel_init (a task):        populate_rootfs (the initramfs into ramfs)
//!      then: the test suite, or the first user program (rdinit=, /init,
//!      init=), then exit_after_boot or the console
//! ```

use boot::info::{BootInfo, PhysAccess};
use mm::layout::{MAXMEM, phys_to_virt};
use spin::Once;

use crate::arch::qemu::{QemuExitCode, exit_qemu};
use crate::arch::{apic, cpu, idt, ioapic, irq, tsc};
use crate::tools::ktest;
use crate::{console, logger};

static BOOT_INFO: Once<BootInfo> = Once::new();
/// `exit_after_boot`: print the boot log, then leave QEMU with success.
static EXIT_AFTER_BOOT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

crate::early_param!("exit_after_boot", Flag, "", "print the boot log, then leave QEMU with success", |_| {
    EXIT_AFTER_BOOT.store(true, core::sync::atomic::Ordering::Relaxed);
    Ok(())
});

/// `rdinit=PATH`: the program to run from the initramfs instead of `/init`
/// (Linux `ramdisk_execute_command`).
static RDINIT: Once<&'static str> = Once::new();
/// `init=PATH`: the program to run when the initramfs has no `rdinit`
/// program (Linux `execute_command`).
static INIT: Once<&'static str> = Once::new();

/// Linux's `PATH_MAX`, with the terminating NUL: the longest path a
/// system call accepts is 4095 bytes.
const PATH_MAX: usize = 4096;

/// What `init=` and `rdinit=` accept: an absolute path no longer than a
/// system call would take. (Linux takes any string and lets the exec
/// fail; a relative one would be looked up from `/`. We name the mistake
/// at boot instead, as for every other option.)
pub fn init_path(value: Option<&'static str>) -> Result<&'static str, &'static str> {
    match value {
        Some(p) if p.starts_with('/') && p.len() < PATH_MAX => Ok(p),
        _ => Err("an absolute path of at most 4095 bytes, e.g. /bin/sh"),
    }
}

crate::early_param!("init", Value, "PATH",
    "run PATH as the first user program when the initramfs has no /init (or rdinit=); the boot ends with a panic if it cannot start",
    |v| {
        let path = init_path(v)?;
        INIT.call_once(|| path);
        Ok(())
    });
crate::early_param!("rdinit", Value, "PATH",
    "run PATH from the initramfs instead of /init; when it is not there, init= (or the console) is next",
    |v| {
        let path = init_path(v)?;
        RDINIT.call_once(|| path);
        Ok(())
    });

/// The normalised boot information (after `start_kernel` parsed it).
pub fn boot_info() -> &'static BootInfo {
    BOOT_INFO.get().expect("boot information read in start_kernel")
}

/// How `start_kernel` reads the bootloader's structures: through the early
/// page tables, which map physical `0..896 MiB` at `PAGE_OFFSET`.
struct EarlyDirectMap;

impl PhysAccess for EarlyDirectMap {
    fn ptr(&self, phys: u32, len: usize) -> Option<*const u8> {
        let end = (phys as usize).checked_add(len)?;
        (end <= MAXMEM).then(|| phys_to_virt(phys as usize) as *const u8)
    }
}

/// Stop with a clear message: the machine cannot be used as it is.
fn fatal(what: core::fmt::Arguments) -> ! {
    log::error!("{what}");
    log::error!("cannot continue: stopping (QEMU exits with a failure status)");
    exit_qemu(QemuExitCode::Failed)
}

/// The flavour, named as Debian named Linux's two 32-bit x86 kernels
/// (`686`, `686-pae`) and as their Kconfig choices: `CONFIG_HIGHMEM4G`
/// (2-level, 32-bit entries, RAM up to 4 GiB) or `CONFIG_HIGHMEM64G`
/// (which selects `X86_PAE`: 3-level, 64-bit entries, up to 64 GiB).
pub const KERNEL_FLAVOUR: &str =
    if mm::pgtable_types::PAE { "i686, PAE, HIGHMEM64G-style" } else { "i686, non-PAE, HIGHMEM4G-style" };

/// The kernel's entry point, called by `_start` on the boot stack with
/// paging on (early map) and interrupts off.
#[unsafe(no_mangle)]
pub extern "C" fn start_kernel(magic: u32, info_phys: u32) -> ! {
    console::init();
    tsc::calibrate();
    logger::init();
    crate::percpu::setup_cpu(0);
    idt::init();
    log::info!(
        "highmem teaching kernel {} ({}), TSC {} MHz",
        env!("CARGO_PKG_VERSION"),
        KERNEL_FLAVOUR,
        tsc::tsc_khz() / 1000
    );
    // Before any program runs (and before the other CPUs, which follow
    // the boot CPU's choice of FXSAVE): the FPU and SSE for user space.
    crate::arch::fpu::fpu__init_system();

    // SAFETY: magic and info_phys come straight from the bootloader via
    // _start; EarlyDirectMap bounds every read to the early mapping.
    let info = match unsafe { boot::info::from_bootloader(magic, info_phys, &EarlyDirectMap) } {
        Ok(info) => BOOT_INFO.call_once(|| info),
        Err(e) => fatal(format_args!("{e}")),
    };
    // Every subsystem's options, from the .init.setup table (params.rs).
    let parsed = crate::params::parse_args(info.cmdline.as_str());
    for problem in parsed.problems() {
        log::warn!("{problem}");
    }
    log::info!("booted via {} ({})", info.protocol, info.bootloader_name.as_str());
    // Without the image path QEMU and GRUB put first: it is the host's.
    log::info!("Command line: {}", boot::cmdline::options_part(info.cmdline.as_str()));
    // One log line per line, so that each has its time and CPU.
    for line in fmtbuf!(2048, "{}", info.memory_map_display()).as_str().lines() {
        log::info!("{line}");
    }
    if info.zero_length_entries > 0 {
        log::info!("ignored {} zero-length memory-map entr{}", info.zero_length_entries,
            if info.zero_length_entries == 1 { "y" } else { "ies" });
    }

    if let Err(e) = crate::mm::init::mem_init(info) {
        fatal(format_args!("{e}"));
    }
    crate::sched::core::sched_init();
    init_interrupts();
    smp_init();

    // The boot thread becomes CPU 0's idle task; the rest of the start-up
    // runs as an ordinary task (Linux's kernel_init), which may sleep.
    crate::sched::spawn("kinit", kernel_init);
    crate::sched::core::cpu_idle()
}

/// The firmware's description of the CPUs and interrupt controllers.
static MADT: Once<boot::acpi::MadtInfo> = Once::new();

/// The ACPI MADT as parsed at boot.
pub fn madt() -> &'static boot::acpi::MadtInfo {
    MADT.get().expect("MADT parsed at boot")
}

/// Interrupt controllers and the tick on the boot CPU.
fn init_interrupts() {
    let madt = match crate::arch::acpi::parse_madt() {
        Ok(m) => MADT.call_once(|| m),
        Err(e) => fatal(format_args!("ACPI: {e}; the MADT is how this kernel finds its CPUs and I/O APIC")),
    };
    crate::arch::acpi::print_madt(madt);
    apic::map_apic(madt.lapic_phys);
    ioapic::disable_8259();
    apic::setup_local_apic();
    let bsp_apic = apic::apic_id();
    crate::percpu::per_cpu(0).apic_id.store(bsp_apic, core::sync::atomic::Ordering::Relaxed);
    log::info!("APIC: local APIC at {:#x}, ID {bsp_apic}, version {:#x}", madt.lapic_phys, apic::version());
    let irq_stack = crate::mm::stack::alloc_kernel_stack(crate::sched::task::THREAD_SIZE).expect("an IRQ stack");
    irq::set_irq_stack(0, irq_stack.top());
    irq_stack.keep_forever();

    // Legacy devices through the first I/O APIC: the serial port's IRQ 4.
    let io = madt.ioapics().next().unwrap_or_else(|| fatal(format_args!("ACPI: the MADT lists no I/O APIC")));
    ioapic::init(io.phys, io.gsi_base);
    let (gsi, low, level) = isa_irq_to_gsi(madt, 4);
    ioapic::route(gsi, apic::IRQ0_VECTOR + 4, bsp_apic, low, level);
    irq::request_irq(4, console::serial_interrupt);
    console::enable_rx_interrupt();

    apic::calibrate_timer(crate::sched::core::HZ);
    // The wall clock from the CMOS RTC (Linux timekeeping_init).
    crate::time::timekeeping_init();
    apic::start_timer();
    crate::smp::set_cpu_online(0);
    cpu::local_irq_enable();
    crate::smp::set_ipi_ready();
}

/// Where legacy IRQ `irq` arrives: its GSI and polarity/trigger, from the
/// MADT's interrupt source overrides (ISA default: same number, active high,
/// edge).
pub fn isa_irq_to_gsi(madt: &boot::acpi::MadtInfo, irq: u8) -> (u32, bool, bool) {
    madt.overrides()
        .find(|o| o.isa_irq == irq)
        .map_or((irq as u32, false, false), |o| (o.gsi, o.active_low, o.level_triggered))
}

/// Bring up the other CPUs the MADT lists.
fn smp_init() {
    let ids: alloc::vec::Vec<u32> = madt().enabled_cpus().map(|c| c.apic_id as u32).collect();
    crate::arch::smpboot::smp_boot_cpus(&ids);
}

/// What runs once the scheduler is up: the tests, or the console.
fn kernel_init() {
    // The files first (Linux's rootfs_initcall): whatever runs next may
    // look for them.
    crate::fs::initramfs::populate_rootfs();
    // /dev and its nodes, as devtmpfs gives Linux (fs/char_dev.rs).
    let nodes = crate::fs::char_dev::devtmpfs_init(crate::fs::rootfs());
    log::info!("devtmpfs: /dev with {nodes} nodes (null 1:3, zero 1:5, tty 5:0, console 5:1)");
    // The instruments, when the command line asked for one; each leaves
    // QEMU when done.
    crate::tools::bench::run_if_requested();
    crate::tools::stress::run_if_requested();
    crate::tools::fuzz::run_if_requested();
    crate::tools::soak::run_if_requested();
    ktest::run_if_requested();
    run_init_process();
    if EXIT_AFTER_BOOT.load(core::sync::atomic::Ordering::Relaxed) {
        log::info!("boot complete: exit_after_boot given, leaving QEMU");
        exit_qemu(QemuExitCode::Success);
    }
    log::info!("boot complete");
    crate::tools::shell::run()
}

/// The first user program, as Linux's `kernel_init` chooses it:
///
/// 1. `rdinit=` (default `/init`), if the initramfs has it
///    (`ramdisk_execute_command`); if it is there but cannot start, that is
///    logged ("Failed to execute") and the next step runs;
/// 2. otherwise `init=` (`execute_command`); if it cannot start the boot
///    ends: "Requested init PATH failed (error -ERRNO)." as Linux panics;
/// 3. with neither, Linux tries `/sbin/init`, `/etc/init`, `/bin/init` and
///    `/bin/sh`, then panics "No working init found". Here the kernel's own
///    console takes that place (it is how the machine is used and taught),
///    so an initramfs with a `/bin/sh` boots to the console unless asked.
///
/// Linux's init is never supposed to end ("Attempted to kill init!"); here
/// it may: its wait status is logged and the boot goes on to the console
/// (or `exit_after_boot`). The program gets `HOME=/` and `TERM=linux`, as
/// Linux's `envp_init`, and `argv[0]` is its path.
fn run_init_process() {
    let rdinit = RDINIT.get().copied().unwrap_or("/init");
    // Linux: init_eaccess(ramdisk_execute_command) != 0 -> forget it.
    if crate::fs::lookup(rdinit).is_some() {
        match run_init(rdinit) {
            Ok(()) => return,
            Err(errno) => log::error!("Failed to execute {rdinit} (error -{errno})"),
        }
    }
    if let Some(&init) = INIT.get()
        && let Err(errno) = run_init(init)
    {
        panic!("Requested init {init} failed (error -{errno}).");
    }
}

/// The pid of the first user process (Linux's pid 1; ours is whatever
/// the task got), 0 until one runs: [`is_global_init`].
pub static GLOBAL_INIT_PID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Linux `is_global_init`: is `task` the init process (which the OOM
/// killer never chooses)?
pub fn is_global_init(task: &crate::sched::task::Task) -> bool {
    let pid = GLOBAL_INIT_PID.load(core::sync::atomic::Ordering::SeqCst);
    pid != 0 && task.id() == pid
}

/// Start `path` as a user program, wait for its end and log its wait
/// status; `Err(errno)` if it could not start (spawn_user's task then ends
/// with `-errno`, never a wait status, which is not negative).
fn run_init(path: &str) -> Result<(), i32> {
    let argv = alloc::vec![path.as_bytes().to_vec()];
    let envp = alloc::vec![b"HOME=/".to_vec(), b"TERM=linux".to_vec()];
    log::info!("Run {path} as init process");
    // As `setsid cttyhack PROG` would start it (tty.rs explains why): a
    // session leader whose controlling terminal is the console, so that a
    // shell started as init has job control and ^C.
    let setup = || {
        let me = crate::sched::current();
        GLOBAL_INIT_PID.store(me.id(), core::sync::atomic::Ordering::SeqCst);
        me.signal.make_session_leader(me.id());
        crate::tty::proc_set_tty(me);
    };
    let status = crate::fs::exec::spawn_user_with(path, argv, envp, crate::sched::task::CPU_MASK_ALL, setup).join();
    // Its session ends with it (Linux: the leader's exit, disassociate_ctty).
    crate::tty::disassociate_ctty(crate::tty::session().unwrap_or(0));
    if status < 0 {
        return Err(-status);
    }
    log::info!("init: {path} ended with wait status {status:#x}");
    crate::mm::filemap::log_copy_counts();
    Ok(())
}
