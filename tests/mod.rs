//! The in-kernel test suite (compiled into the kernel image; see
//! `kernel/src/tools/ktest.rs` for how tests run, and `runner.sh` in this
//! directory for how the host drives them across boots).
//!
//! | file         | what it proves                                             |
//! |--------------|------------------------------------------------------------|
//! | `acpi.rs`    | the firmware's tables: RSDP, checksums, the MADT's CPUs, APICs, IRQ overrides |
//! | `harness.rs` | the harness itself: an expected panic is a pass            |
//! | `boot.rs`    | both boot protocols, bad boot information, the command line |
//! | `mm.rs`      | layout, page tables, zones and totals, buddy, GFP, heap    |
//! | `sched.rs`   | tasks, preemption, migrate_disable, hooks, wait queues, mutex, might_sleep |
//! | `smp.rs`     | IPIs, the TLB shootdown, the nofault copy                  |
//! | `kmap.rs`    | kmap(): the PKMAP pool, lazy unmap, wrap flush, sleeping when full (Linux conformance A) |
//! | `kmap_local.rs` | kmap_local and kmap_atomic: slots, nesting, preemption, IRQs, debug modes (C, D, E) |
//! | `pgtable.rs` | the 686-pae flavour's 64-bit entries under a second CPU: set_pte/pte_clear never show a reader a mixed frame, ptep_get_and_clear keeps a concurrent Dirty bit, set_pmd is seen whole; each with a wrong-order twin that is seen torn (P8-P10) |
//! | `irq.rs`     | timer ticks on every CPU, serial input via the I/O APIC, reschedule IPIs |
//! | `traps.rs`   | each exception's report, int3, stack overflow              |
//! | `nx.rs`      | NX (PAE): EFER.NXE, `__supported_pte_mask`, NX user and kernel PTEs, 0x15, the NX oops |
//! | `ramfs.rs`   | the initramfs unpacked into ramfs: contents byte for byte, pages in highmem, reads through kmap_local, lookup, readdir, links; corrupt archives change nothing |
//! | `vmalloc.rs` | vmalloc/vfree, vmap, ioremap, kernel stacks and their guard pages |
//! | `highmem_helpers.rs` | memcpy_page & co, copy/clear_highpage, zero_user_segments, kmap_to_page, is_kmap_addr, highmem totals, __GFP_ZERO, the kmap guards (A21-22, F, G64) |
//! | `kmap_misuse.rs` | every kmap/kmap_local/kmap_atomic misuse: named (interface, address or page, task, CPU), refused, or the boot ends (§5) |
//! | `common.rs` | (no tests) the helpers several files need: pages of each kind (`highmem_page()` skips without highmem), fills, reads |
//! | `user.rs`    | ring 3 on a page directory of its own, `int $0x80` with Linux's i386 ABI, user faults killing only the program (U1, U12-13, U26) |
//! | `mprotect.rs` | mprotect's PTE half: PROT_NONE entries keep their frame (freed at munmap/exit, shared at fork), SIGSEGV with Linux's line, COW kept, TLB flushed, Linux's errnos |
//! | `tlb.rs`     | lazy TLB (a kernel thread on the previous task's page directory, with a reference), mm_cpumask, user TLB shootdowns reaching only the CPUs that may hold the entries |
//! | `usercopy.rs` | the user copies' return values and zero tails, get_user/put_user/clear_user/strncpy_from_user, fault races, the fault's map discipline, no direct map for highmem (U2, U3, U7, U10, U11, U15, U32) |
//! | `exec.rs`    | ELF loading (every malformed or foreign file refused), the initial stack, a loaded program in ring 3 (U28, U29) |
//! | `timecalls.rs` | clock_gettime(64), gettimeofday, clock_nanosleep, gettid, set_robust_list, umask, prctl names; their errnos |
//! | `namei.rs`   | the namespace calls: open/openat/creat flags and access modes, mkdir/rmdir/unlink(at), rename(at2) rules, link/symlink/readlink, getdents64's records and position, chdir/fchdir/getcwd, access; every hostile argument's errno; an unlinked open file lives until the last close |
//! | `pipe.rs`    | pipes (highmem buffers, copies faulting under kmap_local, blocking, EOF, EPIPE, O_NONBLOCK, PIPE_BUF), dup/dup2/dup3/fcntl, FD_CLOEXEC at execve, /dev null zero tty console |
//! | `files.rs`   | open/read/lseek/close on the rootfs through the system-call table; read() faulting inside kmap_local (U16/U17) |
//! | `signal.rs`  | sigreturn's checks against hostile frames, interruptible sleeps ended (or not, if blocked) by a signal, kill_pgrp, exception signals and their wait status, sigtest's linux-only checks |
//! | `fpu.rs`     | x87/SSE for user programs: CR0/CR4 on every CPU, registers kept apart across switches, exec's init_fpstate, fork's copy, SIGFPE from #XM/#MF with Linux's si_code; resource limits' defaults and errors |
//! | `stat.rs`    | stat64/lstat64/fstat64: i386's struct stat64 byte for byte on ramfs files and the console; their errnos |
//! | `tty.rs`     | read(0) on the console: sleeps for a line, count, ^D, erase/kill, EFAULT losing nothing, EIO outside the foreground, echoline |
//! | `termios.rs` | the console as Linux's terminal: each ioctl and its errnos, canonical and raw (VMIN/VTIME) reads, echo, erase, ONLCR, the keyboard's signals, poll/select/ppoll readiness and timeouts |
//! | `wait.rs`    | wait4(-1) reaps the child that ended first and sleeps for any; its errnos |
//! | `vfork.rs`   | vfork, clone(CLONE_VM + CLONE_VFORK): exec and exit wake the parent, the child drops only its reference, the sleep is killable only, both CPUs in mm_cpumask, the flags we refuse; vforktest |
//! | `busybox.rs` | what Debian's busybox needs first: missing calls named once per number, root's identity, init=/rdinit=, busybox and its applet links in the initramfs |
//! | `fault_inject.rs` | fault injection: fail_page_alloc and failslab forced at alloc_pages, the heap, a user page fault (retried, as Linux 6.1; killable), a page-cache write (ENOMEM, file whole), fork (ENOMEM at each page it allocates, kernel stack included, nothing leaked), a pipe write (ENOMEM, data whole), a COW fault, exec's page directory, the boot options |
//! | `oom.rs`     | the OOM killer: the biggest process killed with Linux's lines, its memory back, the others alive; a victim not yet gone blocks another kill; init never chosen; a forking hog on 4 CPUs contained while a bystander completes |
//! | `pagecache.rs` | the writable page cache and ramfs: page lock, i_size, holes, write_begin/end, short reads, prefault + atomic copy + retry, -EFAULT writes, truncate, pread64/pwrite64/O_APPEND, errnos, ENOMEM, both copy modes, 4 CPUs, a file larger than lowmem (U18, U19, U21-U23) |
//! | `filemmap.rs` | mmap2 of ramfs files: shared and private faults from the page cache, COW through copy_user_highpage under kmap_local, SIGBUS past the end, truncate unmapping in every process (i_mmap), partial munmap, mprotect, fork, msync, errnos (U20, U23 via mmap) |
//! | `gup.rs`     | another process's memory: get_user_pages_remote faulting in for the target mm only, COW broken there, FOLL_FORCE, access_remote_vm, process_vm_readv/writev and their errnos (U30) |
//! | `hostile.rs` | what a hostile program cannot do: touch a live PKMAP or another CPU's fixmap slot, run privileged instructions, load kernel or LDT selectors, use kernel gates; each a named SIGSEGV |
//! | `fuzz.rs`    | the fuzzer's leak count: names a run made outside the scratch directories removed with their pages, a CPU's lazily kept page directory counted as the CPU's, not a leak |
//! | `exercises.rs` | the answers to the book's exercises (`docs/`), one test per exercise, named after its chapter |
//!
//! Host-side unit tests of the pure logic live beside that logic in the
//! `mm` and `boot` crates (`./run-qemu.sh host-test`).

use crate::tools::ktest::Test;

mod acpi;
mod boot;
mod busybox;
mod common;
mod exec;
mod exercises;
mod files;
mod fpu;
mod fuzz;
mod gup;
mod harness;
mod highmem_helpers;
mod atomic64;
mod hostile;
mod irq;
mod kmap;
mod kmap_local;
mod kmap_misuse;
mod mm;
mod mprotect;
mod filemmap;
mod namei;
mod pgtable;
mod pipe;
mod pagecache;
mod fault_inject;
mod oom;
mod ramfs;
mod sched;
mod signal;
mod smp;
mod tlb;
mod stat;
mod traps;
mod nx;
mod termios;
mod timecalls;
mod tty;
mod user;
mod usercopy;
mod vmalloc;
mod vfork;
mod wait;

/// Every suite, in the order tests run.
pub static SUITES: &[&[Test]] = &[harness::TESTS, boot::TESTS, mm::TESTS, sched::TESTS, smp::TESTS, atomic64::TESTS, pgtable::TESTS, irq::TESTS, kmap::TESTS, kmap_local::TESTS, traps::TESTS, vmalloc::TESTS, ramfs::TESTS, acpi::TESTS, highmem_helpers::TESTS, kmap_misuse::TESTS, exercises::TESTS, user::TESTS, usercopy::TESTS, mprotect::TESTS, tlb::TESTS, exec::TESTS, files::TESTS, stat::TESTS, tty::TESTS, wait::TESTS, vfork::TESTS, busybox::TESTS, namei::TESTS, pipe::TESTS, pagecache::TESTS, filemmap::TESTS, signal::TESTS, fpu::TESTS, termios::TESTS, timecalls::TESTS, gup::TESTS, hostile::TESTS, nx::TESTS, fault_inject::TESTS, oom::TESTS, fuzz::TESTS];
