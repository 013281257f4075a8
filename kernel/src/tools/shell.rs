//! The serial console: a prompt on COM1 after boot, to look at the
//! machinery while it runs.
//!
//! ```text
//! highmem> help
//! highmem> pkmap          the PKMAP slots (1024; 512 on 686-pae) with their counts, and the counters
//! highmem> trace on       print every map, unmap, flush and context-switch save/restore
//! highmem> demo wrap      a narrated pool wrap and its flush
//! ```
//!
//! Input arrives through the serial interrupt (I/O APIC, IRQ 4) into a ring
//! (`console.rs`); the shell sleeps on a wait queue until a byte comes and
//! hands each byte to the line editor (`readline.rs`: arrow keys, history,
//! Ctrl-C) until a line is complete. While `run PROG` waits for a program,
//! the program owns the input instead: its `read(0)` goes through the
//! line discipline (`tty.rs`), and what it leaves unread comes to the
//! shell afterwards.
//! The console is driven by tests that type into it (`tests/runner.sh`,
//! `check_console`).

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use mm::buddy::MAX_ORDER;
use mm::layout::{KernelLayout, LAST_PKMAP, PAGE_SHIFT};

use crate::arch::qemu::{QemuExitCode, exit_qemu};
use crate::mm::page_alloc;
use crate::tools::readline::{Event, LineEditor};

/// The commands, with their one-line help (also the usage lines).
const COMMANDS: &[(&str, &str)] = &[
    ("help", "this list"),
    ("meminfo", "memory totals, highmem counters, the PKMAP counters, the user TLB counters"),
    ("layout", "the kernel's virtual address space"),
    ("zones", "each zone's buddy free lists, per order"),
    // LAST_PKMAP slots: one page table's worth, 1024 on 686, 512 on 686-pae.
    (
        "pkmap",
        if cfg!(feature = "pae") {
            "the 512 PKMAP slots (. free, u unused but not flushed, 1-9/+ users) and the counters"
        } else {
            "the 1024 PKMAP slots (. free, u unused but not flushed, 1-9/+ users) and the counters"
        },
    ),
    ("tasks", "tasks with CPU, state, preempt and migrate-disable counts, kmap_local slots"),
    ("run PROG [ARGS] [&]", "run a program from the initramfs (PROG alone means /bin/PROG); wait for it, or not with &"),
    ("ps", "processes: pid, name, where their pages and page tables are (lowmem/highmem)"),
    ("fault show|NAME I,P,S,T|NAME KNOB VALUE", "fault injection (NAME fail_page_alloc or failslab): show, set as the boot option, or set one knob (probability interval times space verbose task-filter ignore-gfp-wait ignore-gfp-highmem min-order)"),
    ("trace on|off", "print every map, unmap, flush and context-switch slot save/restore"),
    ("test [NAME]", "run the in-kernel tests (that return) whose names contain NAME"),
    ("bench", "the benchmark table, a line per measurement (release builds only)"),
    ("demo NAME", "narrated: wrap | preempt | sleep | misuse | fault | copy-patterns"),
    ("poweroff", "leave QEMU (status 33)"),
];

/// The editor's output goes straight to the console.
struct ConsoleOut;

impl core::fmt::Write for ConsoleOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        print!("{s}");
        Ok(())
    }
}

/// Read a line from the console through the line editor (echo, cursor
/// keys, history: `readline.rs`); `None` if Ctrl-C abandoned it.
fn read_line(editor: &mut LineEditor) -> Option<String> {
    loop {
        let Some(b) = crate::tty::shell_read_byte() else { continue };
        match editor.feed(b, &mut ConsoleOut) {
            Event::Pending => {}
            Event::Line(line) => return Some(line),
            Event::Cancelled => return None,
        }
    }
}

fn usage(cmd: &str) {
    let (u, h) = COMMANDS.iter().find(|(u, _)| u.split(' ').next() == Some(cmd)).copied().unwrap_or(("help", "lists the commands"));
    println!("usage: {u}  ({h})");
}

/// The prompt loop; never returns (`poweroff` leaves QEMU).
pub fn run() -> ! {
    crate::console::enable_rx_interrupt();
    // The console is the shell's terminal now, and the shell its
    // foreground: a program started with `&` that reads it gets -EIO
    // (tty.rs); `run` hands the console to a program while it waits.
    crate::tty::shell_takes_console(crate::sched::current().id());
    println!("highmem teaching kernel: type 'help' for commands");
    let mut editor = LineEditor::new();
    loop {
        print!("highmem> ");
        let Some(line) = read_line(&mut editor) else { continue };
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, args)) = words.split_first() else { continue };
        match (cmd, args) {
            ("help", []) => {
                for (u, h) in COMMANDS {
                    println!("  {u:<14} {h}");
                }
                println!("keys: Up/Down history, Left/Right/Home/End move, Ctrl-C abandons the line, Ctrl-U erases to its start");
            }
            ("meminfo", []) => meminfo(),
            ("layout", []) => layout(),
            ("zones", []) => zones(),
            ("pkmap", []) => pkmap(),
            ("tasks", []) => tasks(),
            ("run", [prog, rest @ ..]) => run_program(prog, rest),
            ("ps", []) => ps(),
            ("fault", ["show"]) => {
                let _ = crate::mm::fault_inject::show(&mut ConsoleOut);
            }
            ("fault", [name, value]) => match crate::mm::fault_inject::setup(name, value) {
                Ok(()) => {
                    let _ = crate::mm::fault_inject::show(&mut ConsoleOut);
                }
                Err(expected) => println!("fault: {name} {value}: expected {expected}"),
            },
            ("fault", [name, knob, value]) => match crate::mm::fault_inject::set_knob(name, knob, value) {
                Ok(()) => {
                    let _ = crate::mm::fault_inject::show(&mut ConsoleOut);
                }
                Err(expected) => println!("fault: {name} {knob} {value}: expected {expected}"),
            },
            ("trace", ["on"]) => {
                crate::tools::trace::set(true);
                println!("trace on");
            }
            ("trace", ["off"]) => {
                crate::tools::trace::set(false);
                println!("trace off");
            }
            ("test", []) => crate::tools::ktest::run_in_shell(None),
            ("test", [name]) => crate::tools::ktest::run_in_shell(Some(name)),
            ("bench", []) => crate::tools::bench::run_from_console(),
            ("demo", [name]) => {
                if !crate::tools::demo::run(name) {
                    println!("demo: no demo '{name}'; the demos are: {}", crate::tools::demo::names());
                }
            }
            ("poweroff", []) => {
                println!("poweroff");
                exit_qemu(QemuExitCode::Success);
            }
            (c, _) if COMMANDS.iter().any(|(u, _)| u.split(' ').next() == Some(c)) => usage(c),
            (c, _) => println!("unknown command '{c}': type 'help'"),
        }
    }
}

/// `run PROG [ARGS]`: start the program from the rootfs in a task of its
/// own (Linux's `call_usermodehelper`), wait for it, and say how it ended
/// and where its memory was. With a last argument `&`, do not wait: say
/// its pid and come back to the prompt (`ps` shows it while it lives).
fn run_program(prog: &str, args: &[&str]) {
    let (args, background) = match args.split_last() {
        Some((&"&", rest)) => (rest, true),
        _ => (args, false),
    };
    let path = if prog.contains('/') { String::from(prog) } else { alloc::format!("/bin/{prog}") };
    let argv = core::iter::once(path.as_str()).chain(args.iter().copied()).map(|a| a.as_bytes().to_vec()).collect();
    let envp = alloc::vec![b"HOME=/".to_vec(), b"TERM=linux".to_vec()];
    // The program is a job of the shell's session in a process group of
    // its own; a foreground one makes its group the console's foreground
    // before its first instruction (as a shell's child calls setpgid and
    // tcsetpgrp before it execs), so its read(0) gets the serial input and
    // ^C reaches it, while the shell, asleep in join, reads none of it.
    let shell = crate::tty::console_shell();
    let setup = move || {
        let me = crate::sched::current();
        if let Some(sid) = shell {
            me.signal.set_session(sid, me.id(), true);
        } else {
            me.signal.set_pgid(me.id());
        }
        if !background {
            crate::tty::set_foreground(Some(me.id()));
        }
    };
    let handle = crate::fs::exec::spawn_user_with(&path, argv, envp, crate::sched::task::CPU_MASK_ALL, setup);
    let (pid, task) = (handle.task().id(), handle.task().clone());
    if background {
        println!("[{pid}] {path} started");
        BACKGROUND.lock().push(handle);
        return;
    }
    let status = handle.join();
    // The console is the shell's again (its group is its pid).
    crate::tty::set_foreground(shell);
    match status {
        s if s < 0 => println!("run: cannot run {path}: errno {}", -s),
        s if s & 0x7f == 0 => println!("[{pid}] {path}: exited with status {}", (s >> 8) & 0xff),
        s => println!("[{pid}] {path}: killed by signal {}", s & 0x7f),
    }
    if let Some(rss) = task.rss_at_exit() {
        println!("[{pid}] {path}: at exit, {rss}");
    }
}

/// Programs started with `&`, kept so that they are reaped when they end.
static BACKGROUND: crate::locking::SpinLock<Vec<crate::sched::JoinHandle>> = crate::locking::SpinLock::new(Vec::new());

/// `ps`: every task that has an address space, with where its memory is.
fn ps() {
    println!("{:>4} {:<16} {:<8} {:>10} {:>10} {:>11} {:>11}", "pid", "name", "state", "data low", "data high", "tables low", "tables high");
    let all: Vec<_> = crate::sched::task::ALL_TASKS.lock_irqsave().clone();
    for t in all {
        let Some(mm) = t.mm() else { continue };
        let r = mm.rss();
        let state = if t.state() == crate::sched::task::TASK_RUNNING { "running" } else { "sleeping" };
        println!("{:>4} {:<16} {:<8} {:>10} {:>10} {:>11} {:>11}", t.id(), t.name(), state, r.data_low, r.data_high, r.tables_low, r.tables_high);
    }
}

fn meminfo() {
    print!("{}", page_alloc::meminfo());
    println!("{:<16}{:>8} pages", "totalhigh_pages:", crate::mm::highmem::totalhigh_pages());
    println!("{:<16}{:>8} pages", "nr_free_highpages:", crate::mm::highmem::nr_free_highpages());
    print!("{}", crate::mm::filemap::filemap_counts());
    let s = crate::mm::kmap::pkmap_stats();
    println!("PKMAP: maps {} reuses {} wraps {} flushes {} waits {}", s.maps, s.reuses, s.wraps, s.flushes, s.waits);
    println!("kmap_local: {} mappings made, {} slots cleared at sched_out, {} restored at sched_in",
        crate::mm::kmap_local::nr_maps(), crate::mm::kmap_local::nr_sched_out_slots(), crate::mm::kmap_local::nr_sched_in_slots());
    let t = crate::arch::tlb::tlb_stats();
    println!("TLB (user): {} CR3 loads, {} avoided (lazy: {} switches, {} catch-up flushes); flushes: {} local, {} shootdowns, {} IPIs, {} lazy CPUs skipped, {} lazy flushed",
        t.cr3_loads, t.cr3_loads_avoided, t.lazy_switches, t.lazy_catchup_flushes, t.local_flushes, t.shootdowns, t.ipis, t.lazy_skipped, t.lazy_flushes);
}

fn layout() {
    let split = page_alloc::memory_layout();
    crate::mm::init::print_layout(&KernelLayout::new(split.max_low_pfn), &mut |line| println!("{line}"));
    println!("lowmem ends at pfn {:#x} ({} MiB); RAM below 4 GiB ends at pfn {:#x}",
        split.max_low_pfn, split.max_low_pfn >> (20 - PAGE_SHIFT), split.max_pfn);
}

fn zones() {
    print!("{:<8} {:>9} {:>9} ", "zone", "managed", "free");
    for order in 0..MAX_ORDER {
        print!("{:>6}", fmtbuf!(8, "o{order}").as_str());
    }
    println!();
    for z in page_alloc::zones() {
        print!("{:<8} {:>9} {:>9} ", z.name(), z.managed_pages(), z.nr_free_pages());
        for n in z.free_list_counts() {
            print!("{n:>6}");
        }
        println!();
    }
}

fn pkmap() {
    let (counts, cursor, s) = crate::mm::kmap::pkmap_snapshot();
    println!("PKMAP: {LAST_PKMAP} slots ('.' free, 'u' unused but not flushed, 1-9 users, '+' more), cursor at {cursor}");
    for row in 0..LAST_PKMAP / 64 {
        print!("{:4} ", row * 64);
        for &c in &counts[row * 64..row * 64 + 64] {
            let ch = match c {
                0 => '.',
                1 => 'u',
                n if n <= 10 => (b'0' + (n - 1) as u8) as char,
                _ => '+',
            };
            print!("{ch}");
        }
        println!();
    }
    let (free, unused, used) = crate::mm::kmap::pkmap_census();
    println!("free {free}, unused {unused}, in use {used}; waiters {}", crate::mm::kmap::pkmap_waiters());
    println!("maps {} reuses {} wraps {} flushes {} waits {}", s.maps, s.reuses, s.wraps, s.flushes, s.waits);
}

fn tasks() {
    let cfg = crate::mm::kmap_local::config();
    println!("{:>4} {:<16} {:>3} {:<8} {:>7} {:>7}  kmap_local slots", "pid", "name", "cpu", "state", "preempt", "migrate");
    let show = |t: &crate::sched::task::Task, running: bool| {
        let state = match t.state() {
            crate::sched::task::TASK_RUNNING if running => "running",
            crate::sched::task::TASK_RUNNING => "runnable",
            crate::sched::task::TASK_DEAD => "dead",
            _ => "sleeping",
        };
        let c = t.kmap_ctrl_snapshot();
        // A task on a CPU keeps its preempt count in that CPU's block; the
        // copy in the task is only saved when it is switched out.
        let preempt = if t.on_cpu.load(Ordering::Acquire) {
            crate::percpu::per_cpu(t.cpu()).preempt_count_snapshot()
        } else {
            t.saved_preempt_count.load(Ordering::Relaxed)
        };
        print!("{:>4} {:<16} {:>3} {:<8} {:>7} {:>7} ", t.id(), t.name(), t.cpu(), state,
            preempt, t.migrate_disable.load(Ordering::Relaxed));
        for slot in 0..c.idx {
            if !cfg.is_guard(slot) {
                print!(" [{slot}]=pfn {:#x}", mm::kmap_local::pte_pfn(c.pteval[slot]));
            }
        }
        println!();
    };
    let all: Vec<_> = crate::sched::task::ALL_TASKS.lock_irqsave().clone();
    let me = crate::sched::current().id();
    for t in &all {
        show(t, t.id() == me);
    }
    for cpu in 0..crate::smp::num_online_cpus() {
        crate::percpu::per_cpu(cpu).rq.for_each_task(|t, running| {
            if t.is_idle() {
                show(t, running);
            }
        });
    }
}
