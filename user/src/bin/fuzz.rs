//! `fuzz`: a Trinity-style system-call fuzzer (issue 13, item 1).
//!
//! ```text
//! fuzz [--seed N] [--seconds S] [--procs P] [--replay] [--result FILE]
//!      [--kinds LO-HI] [--secret PATTERN --secret-at ADDR,ADDR]
//! ```
//!
//! The parent forks P workers and then only supervises them: every 20 ms
//! it reaps the dead ones and forks a new generation in their place, now
//! and then SIGKILLs one at random (a process dying in the middle of
//! anything is part of what is fuzzed), and SIGKILLs a worker whose
//! heartbeat has not moved for 3 s (a call that blocks for good, e.g. a
//! read from an empty pipe whose writer is the reader itself; counted as
//! `stuck`, not as a bug). When the time is up it kills and reaps every
//! worker and every worker's children, removes the scratch directories
//! `/tmp/fuzzI`, and prints one line
//!
//! ```text
//! fuzz: calls=N errors=N wrong=N procs=P spawned=N killed=N stuck=N died=N seed=S
//! ```
//!
//! (`errors`: calls that returned a negative errno; `wrong`: answers the
//! program knows to be wrong, e.g. a number the kernel does not implement
//! that did not give `-ENOSYS`), and writes the same line to `--result`
//! FILE, where the kernel's `fuzz=` option reads it (kernel/src/tools/fuzz.rs).
//!
//! A worker draws system calls from the i386 numbers this kernel
//! implements (kernel/src/arch/x86/entry/syscall_32.rs) plus a few it does
//! not, with arguments from generators that know the types: descriptors
//! (open ones, just-closed ones, bogus -1, 1023, 1 << 20), pointers (valid
//! scratch memory, NULL, kernel space 0xc0000000.., the PKMAP window
//! 0xff800000.., the fixmap's last page, an unmapped guard page, a
//! read-only page, across a mapping's end, misaligned), lengths (0, 1,
//! 4095, 4096, 4097, near 4 GiB, negative), flags with unknown bits, paths
//! (too long, a component too long, unterminated at a mapping's end,
//! through a file as a directory, names in its scratch directory) and
//! signals (to itself, its own children and, with `--as-init`, init).
//!
//! `--as-init`: the kernel made this program's first process, the
//! parent of the workers, the global init for the run (`fuzz=` does):
//! workers then send it signals of every number too, and it must live
//! through them (Linux's `sig_task_ignored`: init gets no SIGKILL or
//! SIGSTOP, and no signal it has no handler for; it has none).
//!
//! What it never does, so that the run and its harness survive: exit
//! (except in children meant to die), kill(-1), kill of pid 1 or (without
//! `--as-init`) of the parent, writes to the console (fds 0-2 are /dev/null in a worker; the
//! console stays at fd [`CONSOLE_FD`], which no generator produces), execve
//! of anything but /bin/hello (in a child), long sleeps (every timeout is
//! 0..=10 ms or invalid), vfork other than one that exits at once, pause or
//! rt_sigsuspend except in a child that has a signal pending, and any call
//! that changes a file outside its scratch directory (paths of the rest of
//! the tree are given to calls that only look: stat, access, readlink,
//! open read-only). Memory the kernel may write is only its scratch
//! mapping; its own state (the log, the descriptor table) is never handed
//! to the kernel. A pointer drawn at random from user space could still hit
//! that state (about 1 in 10^5 draws lands in any mapping at all).
//!
//! The kernel's secret (issue 13, "nothing let through"): the kernel's
//! `fuzz=` run fills a lowmem page and a kmapped highmem page with an
//! 8-byte PATTERN repeated and passes their addresses; the pointer
//! generator then hands those kernel addresses (at any offset) to every
//! kind of call like its other pointers, and after every call the worker
//! reads its whole read-write scratch memory, where the kernel writes
//! what calls return, for the pattern: any copy of 15 bytes or more of a
//! secret page holds an aligned 8-byte word that is a byte rotation of
//! PATTERN (a random word matches with odds of 8 in 2^64). A find is a
//! wrong answer, reported with the last calls; the kernel checks the
//! files the workers wrote, and that the pages themselves are unchanged.
//!
//! Reproducibility: worker I of generation G draws from a splitmix64
//! stream seeded by (seed, I, G), so it makes the same calls with the same
//! arguments as long as the kernel gives the same answers (pids and fd
//! numbers can differ when other workers race it). `--replay` prints every
//! call as it is made (`fuzz[I.G] #K nr(a1, ..., a6) = ret`), so a failing
//! sequence can be read back and replayed from the seed. Without it each
//! worker keeps its last [`LOG`] calls in memory and prints them when it
//! sees a wrong answer.

#![no_std]
#![no_main]

use core::ffi::CStr;
use core::sync::atomic::{AtomicU32, Ordering};

use user::syscall::errno::{ECHILD, ENOSYS};
use user::syscall::fcntl::*;
use user::syscall::mman::*;
// The fuzzer draws from nearly the whole table: every number by its name.
use user::syscall::nr::*;
use user::syscall::{
    clock_gettime, close, dup2, fcntl, fork, ftruncate, getdents64, getpid, kill, mkdir, mmap2, nanosleep, open,
    rmdir, setpgid, syscall6, umask, unlink, wait4, write,
};
use user::{Args, entry};

entry!(main);

/// Numbers Linux 6.1 has no call for on i386 (`sys_ni_syscall` slots:
/// break, stty, gtty, ftime, prof, lock, mpx, ulimit, profil, afs_syscall,
/// getpmsg, putpmsg, the two unused 222/223, 251, 285) and numbers past
/// the end of the table: each must give `-ENOSYS`, here as on Linux.
const NOT_IMPLEMENTED: [usize; 19] =
    [17, 31, 32, 35, 44, 53, 56, 58, 98, 137, 188, 189, 222, 223, 251, 285, 1000, 0x7fff_ffff, 0xffff_ffff];

const SIGKILL: usize = 9;
const SIGUSR1: usize = 10;
const SIGCHLD: usize = 17;
const WNOHANG: usize = 1;
const CLOCK_MONOTONIC: usize = 1;

const PAGE: usize = 4096;

/// Where a worker keeps the console (its fds 0-2 are /dev/null): no
/// descriptor generator ever produces it, so no fuzzed call closes it,
/// dup2s over it or writes to it.
const CONSOLE_FD: usize = 200;

/// How many calls a worker remembers for its report.
const LOG: usize = 32;
/// The most workers (`--procs`).
const MAX_PROCS: usize = 32;

// ------------------------------------------------------------------ PRNG --

/// splitmix64: a 64-bit state, a good stream from any seed, and cheap.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, a: u64, b: u64) -> Self {
        let mut r = Rng(seed ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn u32(&mut self) -> usize {
        self.next() as u32 as usize
    }
    /// 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

// ------------------------------------------------------------- raw calls --

fn sc(nr: usize, a: [usize; 6]) -> isize {
    // SAFETY: the arguments come from the generators below, which hand the
    // kernel only memory this program may lose (the scratch mapping) or
    // addresses it does not own; see the module documentation.
    unsafe { syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

/// Print to the console fd (a worker) or fd 2 (the parent).
macro_rules! say {
    ($fd:expr, $($arg:tt)*) => { user::io::write_fmt($fd as i32, format_args!($($arg)*)) };
}

fn now_ms() -> u64 {
    let mut ts = [0u32; 2];
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts[0] as u64 * 1000 + ts[1] as u64 / 1_000_000
}

fn sleep_ms(ms: usize) {
    nanosleep(&[ms / 1000, (ms % 1000) * 1_000_000]);
}

/// A NUL-terminated copy of `s` in `buf`.
fn cstr<'a>(buf: &'a mut [u8; 64], s: &[u8]) -> &'a CStr {
    buf[..s.len()].copy_from_slice(s);
    buf[s.len()] = 0;
    as_cstr(&buf[..=s.len()])
}

/// The NUL-terminated string `buf` starts with (a path `scratch_path` or
/// `cstr` wrote).
fn as_cstr(buf: &[u8]) -> &CStr {
    CStr::from_bytes_until_nul(buf).expect("a NUL in the buffer")
}

/// A number into `buf`, decimal.
fn itoa(buf: &mut [u8], mut n: usize) -> usize {
    let mut tmp = [0u8; 12];
    let mut k = 0;
    loop {
        tmp[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..k {
        buf[i] = tmp[k - 1 - i];
    }
    k
}

/// `/tmp/fuzzI` + `rest`, NUL-terminated, in `buf`; its length with the NUL.
fn scratch_path(buf: &mut [u8], index: usize, rest: &[u8]) -> usize {
    let head = b"/tmp/fuzz";
    buf[..head.len()].copy_from_slice(head);
    let mut n = head.len();
    n += itoa(&mut buf[n..], index);
    buf[n..n + rest.len()].copy_from_slice(rest);
    n += rest.len();
    buf[n] = 0;
    n + 1
}

// ------------------------------------------------------- shared counters --

/// One worker slot in the page the parent and all workers share (a
/// MAP_SHARED mapping of /tmp/fuzz.shm, made before the first fork).
#[repr(C)]
struct Slot {
    calls: AtomicU32,
    errors: AtomicU32,
    wrong: AtomicU32,
    /// Bumped before every call: the parent's watchdog reads it.
    heartbeat: AtomicU32,
    /// The call in progress (number, first three arguments).
    cur: [AtomicU32; 4],
}

fn slot(shm: usize, i: usize) -> &'static Slot {
    // SAFETY: shm is a page mapped shared for the whole run and Slot is
    // 32 bytes of atomics: MAX_PROCS slots fit in it; any bit pattern is
    // a valid Slot.
    unsafe { &*((shm + i * core::mem::size_of::<Slot>()) as *const Slot) }
}

// ---------------------------------------------------------------- worker --

#[derive(Clone, Copy, Default)]
struct Entry {
    nr: usize,
    a: [usize; 6],
    ret: isize,
}

/// The descriptors a worker knows about.
const MAX_FDS: usize = 24;
const MAX_KIDS: usize = 6;

/// A worker's memory: what it hands the kernel, laid out as
///
/// ```text
/// rw      RW_PAGES pages, read-write: "valid" buffers, path and struct
///         arguments are built here; the kernel may write anywhere in it
/// ro      1 page, read-only, filled with 'a': writes into it must fault;
///         a string that starts near its end runs into
/// guard   1 page, unmapped
/// pool    POOL_PAGES pages, where mmap(MAP_FIXED), munmap and mprotect
///         play
/// fence   1 page, PROT_NONE: kernel copies that run past the pool stop
/// ```
const RW_PAGES: usize = 4;
const POOL_PAGES: usize = 16;

struct Worker {
    rng: Rng,
    index: usize,
    generation: usize,
    shm: usize,
    pid: usize,
    replay: bool,
    rw: usize,
    ro: usize,
    guard: usize,
    pool: usize,
    fds: [usize; MAX_FDS],
    nfds: usize,
    closed: [usize; 4],
    kids: [usize; MAX_KIDS],
    nkids: usize,
    log: [Entry; LOG],
    seq: usize,
    /// A child of the worker: fewer kinds of call, no forks, and it ends.
    child: bool,
    /// The kinds of call drawn (`--kinds LO-HI`, of 0-99: see `one`).
    kinds: (usize, usize),
    /// The kernel's secret, if the run planted one (`--secret`).
    secret: Option<Secret>,
    /// The global init's pid, if the parent is init (`--as-init`).
    init: Option<usize>,
}

/// The kernel's secret pages: where they are, and the pattern they hold.
#[derive(Clone, Copy)]
struct Secret {
    at: [usize; 2],
    /// The pattern's eight byte rotations as little-endian words: what an
    /// aligned word of a copy of a secret page reads as.
    rotations: [u64; 8],
    /// Which byte values the pattern has (a quick first test).
    bytes: [bool; 256],
}

impl Secret {
    fn new(pattern: &[u8], at: [usize; 2]) -> Option<Secret> {
        let word = u64::from_le_bytes(pattern.try_into().ok()?);
        let mut bytes = [false; 256];
        for &b in pattern {
            bytes[b as usize] = true;
        }
        Some(Secret { at, rotations: core::array::from_fn(|k| word.rotate_right(8 * k as u32)), bytes })
    }

    /// The offset of the first aligned word of `words` that is part of a
    /// copy of the secret.
    fn find(&self, words: &[u64]) -> Option<usize> {
        words.iter().position(|&w| self.bytes[(w & 0xff) as usize] && self.rotations.contains(&w))
    }
}

impl Worker {
    fn slot(&self) -> &'static Slot {
        slot(self.shm, self.index)
    }

    // ----------------------------------------------- argument generators --

    /// A descriptor: one we opened, one just closed, or a bogus number.
    fn fd(&mut self) -> usize {
        match self.rng.below(10) {
            0..=5 if self.nfds > 0 => self.fds[self.rng.below(self.nfds)],
            6 => self.closed[self.rng.below(4)],
            7 => self.rng.below(3), // 0-2: /dev/null in a worker
            _ => self.rng.pick(&[usize::MAX, 1023, 1 << 20, 4096, 0x8000_0000, 199, 201, 255]),
        }
    }

    /// A descriptor to become (dup2/dup3's newfd): never the console.
    fn newfd(&mut self) -> usize {
        let fd = match self.rng.below(4) {
            0 => self.fd(),
            1 => 3 + self.rng.below(20),
            _ => self.rng.pick(&[usize::MAX, 1023, 1024, 1 << 20, 64, 127]),
        };
        if fd == CONSOLE_FD { 3 } else { fd }
    }

    /// A pointer the kernel may read or write.
    fn ptr(&mut self) -> usize {
        let rw_len = RW_PAGES * PAGE;
        match self.rng.below(20) {
            0..=5 => self.rw + (self.rng.below(rw_len - 512) & !3),
            6 => (self.rw + self.rng.below(rw_len - 512)) | 1, // misaligned
            7 => 0,
            8 => 0xc000_0000 + (self.rng.u32() & 0x3fff_fffc),
            9 => 0xff80_0000 + (self.rng.u32() & 0x3f_fffc), // PKMAP window
            10 => self.rng.pick(&[0xffff_f000, 0xffff_fffc, 0xbfff_fffc, 0xc000_0000 - 2, 0xc010_0000]),
            17 | 18 if self.secret.is_some() => {
                // The kernel's secret pages, anywhere in them.
                let at = self.secret.map_or(0, |s| s.at[self.rng.below(2)]);
                at + self.rng.below(PAGE)
            }
            11 => self.guard + self.rng.below(PAGE),
            12 => self.ro + self.rng.below(PAGE),
            13 => self.ro + PAGE - 1 - self.rng.below(8), // across the end
            14 => self.pool + self.rng.below(POOL_PAGES * PAGE),
            15 => 0x4000_0000 + self.rng.below(0x7000_0000), // user space, mostly unmapped
            16 => self.rng.u32(),
            _ => self.rw + (self.rng.below(rw_len - 512) & !3),
        }
    }

    /// A length.
    fn len(&mut self) -> usize {
        match self.rng.below(12) {
            0 => 0,
            1 => 1,
            2 => PAGE - 1,
            3 => PAGE,
            4 => PAGE + 1,
            5 => self.rng.pick(&[0xffff_ffff, 0xffff_f000, 0x7fff_ffff, 0x8000_0000, 0xffff_fff0]),
            6 => (-(self.rng.below(4096) as isize)) as usize,
            7 => self.rng.below(65536),
            _ => self.rng.below(256),
        }
    }

    /// Flags: a few of `known`, sometimes with unknown bits.
    fn flags(&mut self, known: usize) -> usize {
        let mut f = known & self.rng.u32();
        if self.rng.chance(4) {
            f |= 1 << self.rng.below(32);
        }
        if self.rng.chance(16) {
            f = self.rng.u32();
        }
        f
    }

    /// A signal number.
    fn sig(&mut self) -> usize {
        match self.rng.below(8) {
            0 => 0,
            1 => self.rng.pick(&[65, 64, 32, 33, usize::MAX, 1000]),
            2..=4 => self.rng.pick(&[17, 18, 23, 28]), // CHLD CONT URG WINCH: harmless
            _ => 1 + self.rng.below(64),
        }
    }

    /// A pid to signal or wait for: itself, its children, its group, or
    /// nothing at all. Never -1, 1, the parent or the parent's group.
    fn pid(&mut self) -> usize {
        match self.rng.below(8) {
            0 => self.pid,
            1 | 2 if self.nkids > 0 => self.kids[self.rng.below(self.nkids)],
            3 => 0, // its own process group
            5 if self.init.is_some() => self.init.unwrap_or(0), // init
            4 => (-(self.pid as isize)) as usize,
            _ => self.rng.pick(&[0x3fff_ffff, 0x7fff_ffff, 0x8000_0000, 99999, (-99999isize) as usize]),
        }
    }

    /// Write a path into the scratch memory at `at`: its address. With
    /// `mutable` false it may also name files outside the scratch
    /// directory (for calls that only look).
    fn path_at(&mut self, at: usize, mutable: bool) -> usize {
        let rw_end = self.rw + RW_PAGES * PAGE;
        // SAFETY: [at, rw_end) is the worker's read-write scratch memory.
        let buf = unsafe { core::slice::from_raw_parts_mut(at as *mut u8, rw_end - at) };
        let names: [&[u8]; 9] = [b"/f0", b"/f1", b"/f2", b"/d0", b"/d0/f", b"/f0/x", b"/new", b"/d0/new", b""];
        match self.rng.below(16) {
            0..=8 => {
                let n = self.rng.pick(&names);
                scratch_path(buf, self.index, n);
                at
            }
            9 if !mutable => {
                let p: &[u8] = self.rng.pick(&[
                    &b"/\0"[..], b"/bin/hello\0", b"/dev/null\0", b"/dev/zero\0", b"/tmp\0", b"/hello.txt\0",
                    b"/link\0", b"\0", b".\0", b"/bin\0", b"/nonexistent/x\0", b"/hello.txt/\0",
                ]);
                buf[..p.len()].copy_from_slice(p);
                at
            }
            10 => {
                // Too long: more than PATH_MAX (4096).
                let n = 4100.min(buf.len() - 1);
                buf[..n].fill(b'a');
                buf[0] = b'/';
                buf[n] = 0;
                at
            }
            11 => {
                // A component longer than NAME_MAX (255).
                let n = scratch_path(buf, self.index, b"/") - 1;
                buf[n..n + 300].fill(b'x');
                buf[n + 300] = 0;
                at
            }
            12 => self.ro + PAGE - 1 - self.rng.below(16), // unterminated at the end
            13 => 0,
            14 => self.ptr(),
            _ => {
                let n = scratch_path(buf, self.index, b"/f0/../f1/./");
                buf[n - 1] = b'z';
                buf[n] = 0;
                at
            }
        }
    }

    fn path(&mut self, mutable: bool) -> usize {
        let at = self.rw + self.rng.below(4) * 1024 * (if self.rng.chance(2) { 0 } else { 1 });
        self.path_at(at, mutable)
    }

    /// A timespec for a sleeping call: zero, a few ms, or invalid; at
    /// `at` in scratch memory (or a bad pointer).
    fn timespec(&mut self, at: usize) -> usize {
        let (sec, nsec): (usize, usize) = match self.rng.below(8) {
            0 => (0, 0),
            1 => (0, 1_000_000_000),
            2 => (usize::MAX, 0),
            3 => (0, usize::MAX),
            4 => return self.ptr(),
            _ => (0, self.rng.below(10_000_000)),
        };
        // SAFETY: at is in the scratch memory, 8 bytes and more before its end.
        unsafe { core::ptr::write_unaligned(at as *mut [usize; 2], [sec, nsec]) };
        at
    }

    /// Random bytes over some of the scratch memory (struct arguments:
    /// sigactions, rlimits, iovecs, timevals, user_desc...).
    fn scribble(&mut self, at: usize, words: usize) {
        for k in 0..words {
            let v = match self.rng.below(4) {
                0 => self.ptr(),
                1 => self.len(),
                _ => self.rng.u32(),
            };
            // SAFETY: the callers keep at + 4 * words inside the scratch memory.
            unsafe { core::ptr::write_unaligned((at + 4 * k) as *mut usize, v) };
        }
    }

    // ------------------------------------------------------- bookkeeping --

    fn add_fd(&mut self, fd: isize) {
        if fd < 0 || fd as usize == CONSOLE_FD {
            return;
        }
        let fd = fd as usize;
        if self.fds[..self.nfds].contains(&fd) {
            return;
        }
        if self.nfds == MAX_FDS {
            // Forget (and close) the oldest.
            let old = self.fds[0];
            if old > 2 && old != CONSOLE_FD {
                close(old as i32);
            }
            self.fds.copy_within(1.., 0);
            self.nfds -= 1;
        }
        self.fds[self.nfds] = fd;
        self.nfds += 1;
    }

    fn forget_fd(&mut self, fd: usize) {
        if let Some(k) = self.fds[..self.nfds].iter().position(|&f| f == fd) {
            self.fds.copy_within(k + 1..self.nfds, k);
            self.nfds -= 1;
        }
        self.closed[self.rng.below(4)] = fd;
    }

    fn add_kid(&mut self, pid: isize) {
        if pid <= 0 {
            return;
        }
        if self.nkids == MAX_KIDS {
            self.reap_kids(true);
        }
        self.kids[self.nkids] = pid as usize;
        self.nkids += 1;
    }

    /// Reap the children that ended; with `all`, SIGKILL and reap every one.
    fn reap_kids(&mut self, all: bool) {
        let mut k = 0;
        while k < self.nkids {
            let pid = self.kids[k];
            if all {
                kill(pid as i32, SIGKILL);
            }
            let r = wait4(pid as i32, None, if all { 0 } else { WNOHANG });
            if r == pid as isize || r == -ECHILD {
                self.kids[k] = self.kids[self.nkids - 1];
                self.nkids -= 1;
            } else {
                k += 1;
            }
        }
    }

    /// Make one call, log it, count it; check what can be checked.
    fn call(&mut self, nr: usize, a: [usize; 6]) -> isize {
        let s = self.slot();
        s.heartbeat.fetch_add(1, Ordering::Relaxed);
        s.cur[0].store(nr as u32, Ordering::Relaxed);
        for (cur, &arg) in s.cur[1..].iter().zip(&a[..3]) {
            cur.store(arg as u32, Ordering::Relaxed);
        }
        let ret = sc(nr, a);
        self.seq += 1;
        self.log[self.seq % LOG] = Entry { nr, a, ret };
        s.calls.fetch_add(1, Ordering::Relaxed);
        if (-4095..0).contains(&ret) {
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
        if self.replay {
            say!(CONSOLE_FD, "fuzz[{}.{}{}] #{} {}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {}\n",
                self.index, self.generation, if self.child { "c" } else { "" }, self.seq, nr, a[0], a[1], a[2], a[3], a[4], a[5], ret);
        }
        // What must hold whatever the arguments.
        let wrong = if NOT_IMPLEMENTED.contains(&nr) && ret != -ENOSYS {
            Some("a number this kernel has no call for must give -ENOSYS")
        } else if ret < -4095 && ![MMAP2, BRK, TIME, LSEEK, CLONE, FORK].contains(&nr) {
            Some("a negative result below -4095 is no errno")
        } else if nr == GETPID && ret != self.pid as isize {
            Some("getpid changed")
        } else {
            None
        };
        if let Some(why) = wrong {
            s.wrong.fetch_add(1, Ordering::Relaxed);
            self.report(why);
        }
        self.look_for_the_secret();
        ret
    }

    /// Read the read-write scratch memory, where the kernel writes what
    /// calls return, for a copy of the kernel's secret (see the module
    /// documentation). A find is reported, then wiped so that it is
    /// counted once.
    fn look_for_the_secret(&mut self) {
        let Some(secret) = self.secret else { return };
        // SAFETY: rw is RW_PAGES pages of this worker's, mapped read-write
        // for its whole life and page-aligned; any bit pattern is a u64.
        let words = unsafe { core::slice::from_raw_parts_mut(self.rw as *mut u64, RW_PAGES * PAGE / 8) };
        if let Some(i) = secret.find(words) {
            let at = self.rw + 8 * i;
            let mut end = i;
            while end < words.len() && secret.rotations.contains(&words[end]) {
                words[end] = 0;
                end += 1;
            }
            self.slot().wrong.fetch_add(1, Ordering::Relaxed);
            say!(CONSOLE_FD, "fuzz[{}.{}] pid {}: WRONG: the kernel's secret is in user memory at {:#x} ({} bytes or more)\n",
                self.index, self.generation, self.pid, at, 8 * (end - i));
            self.report("a call copied the kernel's secret out");
        }
    }

    /// Print the last calls to the console.
    fn report(&self, why: &str) {
        say!(CONSOLE_FD, "fuzz[{}.{}] pid {}: WRONG: {}; the last calls, oldest first:\n", self.index, self.generation, self.pid, why);
        let first = self.seq.saturating_sub(LOG - 1).max(1);
        for k in first..=self.seq {
            let e = self.log[k % LOG];
            say!(CONSOLE_FD, "fuzz[{}.{}]   #{} {}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {}\n",
                self.index, self.generation, k, e.nr, e.a[0], e.a[1], e.a[2], e.a[3], e.a[4], e.a[5], e.ret);
        }
    }

    // ------------------------------------------------------------- calls --

    /// One random call. Kinds that a child must not make (it would outlive
    /// its worker, or block for good) are left to workers.
    fn one(&mut self) {
        let kind = self.kinds.0 + self.rng.below(self.kinds.1 + 1 - self.kinds.0);
        let rw = self.rw;
        match kind {
            0..=3 => {
                let nr = self.rng.pick(&NOT_IMPLEMENTED);
                let a = [self.rng.u32(), self.ptr(), self.len(), 0, 0, 0];
                self.call(nr, a);
            }
            4..=7 => {
                let a = [self.fd(), self.ptr(), self.len(), 0, 0, 0];
                self.call(READ, a);
            }
            8..=10 => {
                let a = [self.fd(), self.ptr(), self.len(), 0, 0, 0];
                self.call(WRITE, a);
            }
            11..=14 => {
                let mutable = self.rng.chance(2);
                let p = self.path(mutable);
                let mut fl = self.flags(O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_PATH);
                if !mutable {
                    fl &= !(O_WRONLY | O_RDWR | O_TRUNC | O_CREAT | O_APPEND | 3);
                }
                let nr = if self.rng.chance(3) { OPENAT } else { OPEN };
                let a = if nr == OPEN { [p, fl, 0o644, 0, 0, 0] } else { [AT_FDCWD, p, fl, 0o644, 0, 0] };
                let fd = self.call(nr, a);
                self.add_fd(fd);
            }
            15..=17 => {
                let fd = self.fd();
                if fd > 2 && fd != CONSOLE_FD {
                    self.call(CLOSE, [fd, 0, 0, 0, 0, 0]);
                    self.forget_fd(fd);
                }
            }
            18 => {
                let a = [self.fd(), self.len(), self.rng.pick(&[0, 1, 2, 3, 4, 5, usize::MAX]), 0, 0, 0];
                self.call(LSEEK, a);
            }
            19 | 20 => {
                let nr = if self.rng.chance(2) { PREAD64 } else { PWRITE64 };
                let a = [self.fd(), self.ptr(), self.len(), self.len(), self.rng.pick(&[0, 0, 1, 0x8000_0000, usize::MAX]), 0];
                self.call(nr, a);
            }
            21 => {
                let p = self.path(true);
                let a = [p, self.len(), 0, 0, 0, 0];
                self.call(TRUNCATE, a);
            }
            22 => {
                let fd = self.fd();
                if self.rng.chance(2) {
                    let l = self.len();
                    self.call(FTRUNCATE, [fd, l, 0, 0, 0, 0]);
                } else {
                    let (lo, hi) = (self.len(), self.rng.pick(&[0, 0, 1, 0x7fff_ffff, usize::MAX]));
                    self.call(FTRUNCATE64, [fd, lo, hi, 0, 0, 0]);
                }
            }
            23..=25 => {
                let mutable = false;
                let p = self.path(mutable);
                let nr = self.rng.pick(&[STAT64, LSTAT64, ACCESS, READLINK, STATX, FACCESSAT, READLINKAT]);
                let buf = self.ptr();
                let a = match nr {
                    STAT64 | LSTAT64 => [p, buf, 0, 0, 0, 0],
                    ACCESS => [p, self.flags(7), 0, 0, 0, 0],
                    READLINK => [p, buf, self.len(), 0, 0, 0],
                    STATX => [AT_FDCWD, p, self.flags(0x6100), self.flags(0xfff), buf, 0],
                    FACCESSAT => [self.rng.pick(&[AT_FDCWD, 3, usize::MAX]), p, self.flags(7), 0, 0, 0],
                    _ => [AT_FDCWD, p, buf, self.len(), 0, 0],
                };
                self.call(nr, a);
            }
            26 => {
                let a = [self.fd(), self.ptr(), 0, 0, 0, 0];
                self.call(FSTAT64, a);
            }
            27..=30 => {
                // Namespace changes, in the scratch directory only.
                let nr = self.rng.pick(&[UNLINK, RMDIR, MKDIR, RENAME, LINK, SYMLINK, CREAT, UNLINKAT, MKDIRAT, RENAMEAT, RENAMEAT2, LINKAT, SYMLINKAT]);
                let p1 = self.path_at(rw, true);
                let p2 = self.path_at(rw + 2048, true);
                let a = match nr {
                    UNLINK | RMDIR => [p1, 0, 0, 0, 0, 0],
                    MKDIR => [p1, self.flags(0o7777), 0, 0, 0, 0],
                    CREAT => [p1, 0o600, 0, 0, 0, 0],
                    RENAME | LINK | SYMLINK => [p1, p2, 0, 0, 0, 0],
                    UNLINKAT => [AT_FDCWD, p1, self.flags(0x200), 0, 0, 0],
                    MKDIRAT => [AT_FDCWD, p1, 0o755, 0, 0, 0],
                    SYMLINKAT => [p1, AT_FDCWD, p2, 0, 0, 0],
                    _ => [AT_FDCWD, p1, AT_FDCWD, p2, self.flags(7 | 0x400), 0],
                };
                let ret = self.call(nr, a);
                if nr == CREAT {
                    self.add_fd(ret);
                }
            }
            31 => {
                let p = self.path(false);
                let nr = self.rng.pick(&[CHDIR, GETCWD, FCHDIR]);
                let a = match nr {
                    CHDIR => [p, 0, 0, 0, 0, 0],
                    GETCWD => [self.ptr(), self.len(), 0, 0, 0, 0],
                    _ => [self.fd(), 0, 0, 0, 0, 0],
                };
                self.call(nr, a);
            }
            32 => {
                let a = [self.fd(), self.ptr(), self.len(), 0, 0, 0];
                self.call(GETDENTS64, a);
            }
            33..=35 => {
                let nr = self.rng.pick(&[DUP, DUP2, DUP3]);
                let a = [self.fd(), self.newfd(), self.flags(O_CLOEXEC), 0, 0, 0];
                let ret = self.call(nr, a);
                self.add_fd(ret);
            }
            36 | 37 => {
                let nr = if self.rng.chance(2) { FCNTL } else { FCNTL64 };
                let cmd = self.rng.pick(&[0, 1, 2, 3, 4, 1030, 5, 6, 7, 8, 9, 1024, 1025, 1026, 1031, 1032, 1033, 1034, 99, usize::MAX]);
                let arg = match cmd {
                    0 | 1030 => self.rng.pick(&[0, 3, 100, 199, 201, 1023, 1024, usize::MAX]),
                    4 => self.flags(O_NONBLOCK | O_APPEND) | O_NONBLOCK,
                    _ => self.ptr(),
                };
                let fd = self.fd();
                let ret = self.call(nr, [fd, cmd, arg, 0, 0, 0]);
                if cmd == 0 || cmd == 1030 {
                    self.add_fd(ret);
                }
            }
            38 | 39 => {
                // Pipes, non-blocking mostly: a blocking read of an empty
                // pipe we hold the writer of never returns (the watchdog
                // ends that worker).
                let p = rw + self.rng.below(64) * 4;
                let nr = if self.rng.chance(4) { PIPE } else { PIPE2 };
                let fl = if self.rng.chance(8) { self.flags(O_NONBLOCK | O_CLOEXEC) } else { O_NONBLOCK };
                let at = if self.rng.chance(8) { self.ptr() } else { p };
                if self.call(nr, [at, fl, 0, 0, 0, 0]) == 0 && at == p {
                    // SAFETY: the kernel wrote two ints at p, in scratch memory.
                    let fds = unsafe { core::ptr::read_unaligned(p as *const [u32; 2]) };
                    self.add_fd(fds[0] as isize);
                    self.add_fd(fds[1] as isize);
                }
            }
            40 => {
                let cmd = self.rng.pick(&[0x5401, 0x5402, 0x5403, 0x5404, 0x540f, 0x5410, 0x5413, 0x5414, 0x541b, 0x5421, 0x5451, 0x5450, 0x80045430]);
                let a = [self.fd(), if self.rng.chance(8) { self.rng.u32() } else { cmd }, self.ptr(), 0, 0, 0];
                self.call(IOCTL, a);
            }
            41..=44 => self.memory_call(),
            45 | 46 => {
                let nr = self.rng.pick(&[NEWSELECT, POLL, PPOLL]);
                // An fd set / pollfd array with our fds in it.
                let set = rw + 3072;
                for k in 0..8 {
                    let fd = self.fd();
                    // SAFETY: set + 8 * 8 is inside the scratch memory.
                    unsafe { core::ptr::write_unaligned((set + 8 * k) as *mut [u32; 2], [fd as u32, self.rng.u32() as u32 & 0xffff_003f]) };
                }
                let ts = self.timespec(rw + 3840);
                let a = match nr {
                    NEWSELECT => {
                        // A timeval of at most 10 ms, never NULL (NULL waits for ever).
                        // SAFETY: scratch memory.
                        unsafe { core::ptr::write_unaligned((rw + 3900) as *mut [usize; 2], [0, self.rng.below(10_000)]) };
                        let sets = if self.rng.chance(4) { self.ptr() } else { set };
                        [self.rng.pick(&[0, 1, 8, 64, 1024, 1025, usize::MAX]), sets, sets, 0, if self.rng.chance(8) { self.ptr() | 1 } else { rw + 3900 }, 0]
                    }
                    POLL => [if self.rng.chance(4) { self.ptr() } else { set }, self.rng.below(10), self.rng.below(10), 0, 0, 0],
                    _ => [set, self.rng.below(10), if ts == 0 { rw + 3840 } else { ts }, self.ptr(), 8, 0],
                };
                if nr == NEWSELECT && a[4] & 1 == 1 && a[4] != 0 {
                    // A bad timeout pointer: -EFAULT before any wait.
                }
                self.call(nr, a);
            }
            47..=49 => self.signal_call(),
            50 | 51 => {
                let nr = self.rng.pick(&[NANOSLEEP, CLOCK_NANOSLEEP, CLOCK_NANOSLEEP_TIME64, SCHED_YIELD]);
                let ts = self.timespec(rw + 3840);
                let a = match nr {
                    NANOSLEEP => [ts, self.ptr(), 0, 0, 0, 0],
                    CLOCK_NANOSLEEP | CLOCK_NANOSLEEP_TIME64 => {
                        // TIMER_ABSTIME (1) only with a time long past.
                        let fl = self.rng.below(2);
                        if nr == CLOCK_NANOSLEEP_TIME64 {
                            // A 64-bit timespec: seconds are two words.
                            // SAFETY: scratch memory.
                            unsafe { core::ptr::write_unaligned((rw + 3840) as *mut [u32; 4], [0, 0, self.rng.below(10_000_000) as u32, 0]) };
                        }
                        let ts = if nr == CLOCK_NANOSLEEP_TIME64 { rw + 3840 } else { ts };
                        [self.rng.pick(&[0, 1, 2, 3, 4, 7, 100, usize::MAX]), fl, ts, self.ptr(), 0, 0]
                    }
                    _ => [0; 6],
                };
                self.call(nr, a);
            }
            52..=55 => {
                // Calls that read or write a little struct.
                let nr = self.rng.pick(&[UNAME, GETTIMEOFDAY, CLOCK_GETTIME, CLOCK_GETTIME64, TIME, UGETRLIMIT, PRLIMIT64, GETRANDOM, SET_THREAD_AREA, SET_TID_ADDRESS, SET_ROBUST_LIST, UMASK, PRCTL, SETTIMEOFDAY, CLOCK_SETTIME, CLOCK_SETTIME64]);
                let buf = self.ptr();
                let a = match nr {
                    UNAME | TIME | SET_TID_ADDRESS => [buf, 0, 0, 0, 0, 0],
                    GETTIMEOFDAY => [buf, self.ptr(), 0, 0, 0, 0],
                    CLOCK_GETTIME | CLOCK_GETTIME64 => [self.rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 11, 100, usize::MAX]), buf, 0, 0, 0, 0],
                    UGETRLIMIT => [self.rng.pick(&[0, 3, 7, 15, 16, usize::MAX]), buf, 0, 0, 0, 0],
                    // prlimit64 only reads limits (new = NULL or bad): a
                    // lowered RLIMIT_NOFILE would only hurt this worker, but
                    // RLIMIT_STACK or _AS could make its next fork fail.
                    PRLIMIT64 => [self.rng.pick(&[0, self.pid, 99999]), self.rng.pick(&[0, 3, 7, 15, 16, usize::MAX]), self.rng.pick(&[0, 0xc000_0000, 1]), buf, 0, 0],
                    GETRANDOM => [buf, self.len(), self.flags(7), 0, 0, 0],
                    SET_THREAD_AREA => {
                        let at = rw + 3800;
                        self.scribble(at, 4);
                        if self.rng.chance(2) {
                            // SAFETY: scratch memory.
                            unsafe { core::ptr::write_unaligned(at as *mut u32, self.rng.pick(&[u32::MAX, 6, 7, 8, 9, 12]) ) };
                        }
                        [if self.rng.chance(4) { buf } else { at }, 0, 0, 0, 0, 0]
                    }
                    SET_ROBUST_LIST => [buf, self.rng.pick(&[12, 0, 24, usize::MAX]), 0, 0, 0, 0],
                    UMASK => [self.flags(0o777), 0, 0, 0, 0, 0],
                    PRCTL => [self.rng.pick(&[1, 2, 15, 16, 22, 36, 37, 38, 39, 1000, usize::MAX]), self.rng.pick(&[0, 1, 9, buf]), 0, 0, 0, 0],
                    // Setting the clock: bad pointers and invalid values
                    // mostly; a valid time now and then (CLOCK_MONOTONIC,
                    // which the harness times itself with, cannot be set).
                    _ => {
                        let at = rw + 3800;
                        // SAFETY: scratch memory.
                        unsafe { core::ptr::write_unaligned(at as *mut [usize; 4], [0x6a00_0000 + self.rng.below(1 << 20), self.rng.pick(&[0, 999_999, 1_000_000_000, usize::MAX]), 0, 0]) };
                        [if nr == SETTIMEOFDAY { self.rng.pick(&[buf, at]) } else { self.rng.pick(&[0, 1, 2, 100]) },
                         if nr == SETTIMEOFDAY { self.ptr() } else { self.rng.pick(&[buf, at]) }, 0, 0, 0, 0]
                    }
                };
                self.call(nr, a);
            }
            56..=59 => {
                let nr = self.rng.pick(&[GETPID, GETPPID, GETPGRP, GETUID32, GETGID32, GETEUID32, GETEGID32, GETTID, GETPGID, GETSID, RESTART_SYSCALL]);
                let a = [self.pid(), 0, 0, 0, 0, 0];
                self.call(nr, if nr == GETPGID || nr == GETSID { a } else { [0; 6] });
            }
            60 | 61 if !self.child => {
                // setpgid/setsid: a worker's group must stay its own, so
                // that the parent's kill(-pid) still finds its children:
                // only attempts that fail (or change nothing).
                let nr = self.rng.pick(&[SETPGID, SETSID]);
                let a = [self.rng.pick(&[0, self.pid, 99999, usize::MAX]), self.rng.pick(&[99999, usize::MAX, 0x8000_0000]), 0, 0, 0, 0];
                self.call(nr, a);
            }
            62 | 63 => {
                let nr = if self.rng.chance(2) { PROCESS_VM_READV } else { PROCESS_VM_WRITEV };
                // Local and remote iovecs in scratch memory, pointing at
                // scratch memory or anywhere the generator says.
                let (liov, riov) = (rw + 3584, rw + 3648);
                for k in 0..4 {
                    let (p, l) = (self.ptr(), self.len() & 0x1fff);
                    let (q, m) = (self.ptr(), self.len() & 0x1fff);
                    // SAFETY: scratch memory.
                    unsafe {
                        core::ptr::write_unaligned((liov + 8 * k) as *mut [usize; 2], [p, l]);
                        core::ptr::write_unaligned((riov + 8 * k) as *mut [usize; 2], [q, m]);
                    }
                }
                let pid = match self.rng.below(4) {
                    0 if self.nkids > 0 => self.kids[0],
                    1 => 99999,
                    _ => self.pid,
                };
                let a = [pid, if self.rng.chance(8) { self.ptr() } else { liov }, self.rng.below(5) + if self.rng.chance(16) { 1024 } else { 0 },
                         if self.rng.chance(8) { self.ptr() } else { riov }, self.rng.below(5), self.flags(0)];
                self.call(nr, a);
            }
            64 | 65 => {
                let a = [self.pid(), self.ptr(), self.flags(WNOHANG | 2 | 8 | 0x4000_0000 | 0x8000_0000 | 0x2000_0000) | WNOHANG, self.ptr(), 0, 0];
                let ret = self.call(WAIT4, a);
                if ret > 0
                    && let Some(k) = self.kids[..self.nkids].iter().position(|&p| p == ret as usize)
                {
                    self.kids[k] = self.kids[self.nkids - 1];
                    self.nkids -= 1;
                }
            }
            66..=69 if !self.child => self.spawn_child(),
            70 => {
                let a = [self.rng.pick(&[0, 1, 0x1000, 0x4000_0000, 0xbfff_f000, 0xc000_0000, usize::MAX]) + self.rng.below(PAGE * 4), 0, 0, 0, 0, 0];
                self.call(BRK, a);
            }
            _ => {
                // Reads and writes on our own descriptors with a valid
                // buffer: the common case, so that files and pipes carry
                // data.
                let nr = if self.rng.chance(2) { READ } else { WRITE };
                let fd = if self.nfds > 0 { self.fds[self.rng.below(self.nfds)] } else { self.fd() };
                let a = [fd, rw + self.rng.below(2048), self.rng.below(2048), 0, 0, 0];
                self.call(nr, a);
            }
        }
    }

    fn memory_call(&mut self) {
        let pool_len = POOL_PAGES * PAGE;
        let addr = match self.rng.below(8) {
            0..=4 => self.pool + self.rng.below(POOL_PAGES) * PAGE,
            5 => self.pool + self.rng.below(pool_len),
            6 => self.rng.pick(&[0, 0xc000_0000, 0xff80_0000, 0xffff_f000, 0xbfff_f000, self.ro]),
            _ => self.rng.u32() & !0xfff,
        };
        // Lengths that stay in the pool mostly, and some that do not.
        let len = match self.rng.below(6) {
            0 => self.len(),
            _ => (1 + self.rng.below(4)) * PAGE - self.rng.below(2),
        };
        let in_pool = addr >= self.pool && addr.saturating_add(len) <= self.pool + pool_len;
        let nr = self.rng.pick(&[MMAP2, MUNMAP, MPROTECT, MSYNC]);
        // Calls that could take memory the worker lives on (its text, its
        // stack, its scratch memory) only ever change the pool.
        let a = match nr {
            MMAP2 => {
                let mut fl = self.flags(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | 0x20000 | 0x8000 | 0x4_0000 | 0x100);
                let fixed = self.rng.chance(2);
                if fixed && in_pool {
                    fl |= MAP_FIXED;
                } else {
                    fl &= !(MAP_FIXED | 0x10_0000); // nor MAP_FIXED_NOREPLACE
                }
                let fd = if self.rng.chance(2) { usize::MAX } else { self.fd() };
                let len = if fixed { len } else { len.min(64 * PAGE) | if self.rng.chance(8) { 0xf000_0000 } else { 0 } };
                [addr, len, self.flags(7 | 8), fl, fd, self.rng.pick(&[0, 1, 0x10_0000, usize::MAX])]
            }
            MUNMAP | MPROTECT if !in_pool && addr < 0xc000_0000 => return,
            MUNMAP => [addr, len, 0, 0, 0, 0],
            MPROTECT => [addr, len, self.flags(7 | 0x0100_0000 | 0x0200_0000), 0, 0, 0],
            _ => [addr, len, self.flags(7), 0, 0, 0],
        };
        self.call(nr, a);
    }

    fn signal_call(&mut self) {
        let nr = self.rng.pick(&[KILL, KILL, TKILL, TGKILL, RT_SIGACTION, SIGACTION, RT_SIGPROCMASK, RT_SIGPENDING]);
        let rw = self.rw;
        let a = match nr {
            KILL => [self.pid(), self.sig(), 0, 0, 0, 0],
            TKILL => [self.rng.pick(&[self.pid, 0, 99999, usize::MAX]), self.sig(), 0, 0, 0, 0],
            TGKILL => [self.rng.pick(&[self.pid, 0, 99999]), self.rng.pick(&[self.pid, 0, 99999]), self.sig(), 0, 0, 0],
            RT_SIGACTION | SIGACTION => {
                // A handler of SIG_DFL, SIG_IGN or garbage (a signal that
                // finds garbage kills the worker: a fresh one takes over).
                let at = rw + 3700;
                self.scribble(at, 5);
                let h = self.rng.pick(&[0, 0, 1, 1, 2, 0x1000]);
                if self.rng.below(4) != 0 {
                    // SAFETY: scratch memory.
                    unsafe { core::ptr::write_unaligned(at as *mut usize, h) };
                }
                let (bad1, bad2) = (self.ptr(), self.ptr());
                let act = self.rng.pick(&[at, at, 0, bad1]);
                let old = self.rng.pick(&[0, bad2]);
                [self.sig(), act, old, self.rng.pick(&[8, 8, 4, 16, 0]), 0, 0]
            }
            RT_SIGPROCMASK => {
                self.scribble(rw + 3700, 2);
                let (bad1, bad2) = (self.ptr(), self.ptr());
                [self.rng.pick(&[0, 1, 2, 3, usize::MAX]), self.rng.pick(&[rw + 3700, 0, bad1]), self.rng.pick(&[0, bad2]), self.rng.pick(&[8, 8, 4, 16]), 0, 0]
            }
            _ => [self.ptr(), self.rng.pick(&[8, 4, 16, 0]), 0, 0, 0, 0],
        };
        self.call(nr, a);
    }

    /// Fork (or clone, or vfork) a child: it makes a few calls of its own
    /// and then ends one way or another.
    fn spawn_child(&mut self) {
        self.reap_kids(false);
        if self.nkids >= MAX_KIDS - 1 {
            self.reap_kids(true);
        }
        let how = self.rng.below(10);
        if how == 0 {
            // vfork whose child exits at once, in assembly: it must touch
            // nothing of its parent's stack (see vforktest.rs).
            let ret: usize;
            // SAFETY: the child runs only the three instructions after the
            // int, which use registers only, and exits; the parent's
            // registers are restored by the kernel when it resumes.
            unsafe {
                core::arch::asm!(
                    "int 0x80",
                    "test eax, eax",
                    "jnz 2f",
                    "mov eax, 252",
                    "mov ebx, 7",
                    "int 0x80",
                    "2:",
                    inlateout("eax") VFORK => ret, out("ebx") _, options(nostack)
                );
            }
            self.log_only(VFORK, [0; 6], ret as isize);
            self.add_kid(ret as isize);
            return;
        }
        let child_seed = self.rng.next();
        let ret = if how <= 2 {
            // clone without CLONE_VM (a shared stack would be two threads
            // on one stack): fork with extras and unknown bits.
            let fl = SIGCHLD | self.flags(0x0000_0200 | 0x0000_0400 | 0x0010_0000 | 0x0020_0000 | 0x0100_0000 | 0x8000_0000 | 0x0000_1000)
                & !(0x100 | 0x4000 | 0x1_0000 | 0x8_0000 | 0x800 | 0x2_0000 | 0x8000_0000);
            let a = [fl, 0, self.ptr(), 0, self.ptr(), 0];
            self.call(CLONE, a)
        } else {
            self.call(FORK, [0; 6])
        };
        if ret == 0 {
            self.child_body(child_seed);
        }
        self.add_kid(ret);
    }

    /// Record a call made outside [`call`] (vfork).
    fn log_only(&mut self, nr: usize, a: [usize; 6], ret: isize) {
        self.seq += 1;
        self.log[self.seq % LOG] = Entry { nr, a, ret };
        let s = self.slot();
        s.calls.fetch_add(1, Ordering::Relaxed);
        if (-4095..0).contains(&ret) {
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A forked child: up to 16 calls, then an end chosen at random.
    fn child_body(&mut self, seed: u64) -> ! {
        self.child = true;
        self.rng = Rng::new(seed, 1, 2);
        self.pid = getpid() as usize;
        self.nkids = 0;
        let n = self.rng.below(16);
        for _ in 0..n {
            self.one();
        }
        match self.rng.below(8) {
            0 => {
                // execve of a known program (its output goes to /dev/null),
                // or of a bad path / bad argv.
                let at = self.rw + 1024;
                // SAFETY: scratch memory.
                unsafe { core::ptr::copy_nonoverlapping(c"/bin/hello".as_ptr() as *const u8, at as *mut u8, 11) };
                let argv = self.rw + 1100;
                // SAFETY: scratch memory.
                unsafe { core::ptr::write_unaligned(argv as *mut [usize; 2], [at, 0]) };
                let path = if self.rng.chance(2) { at } else { self.path(false) };
                let (bad1, bad2) = (self.ptr(), self.ptr());
                let a = [path, self.rng.pick(&[argv, 0, bad1]), self.rng.pick(&[0, argv, bad2]), 0, 0, 0];
                self.call(EXECVE, a);
            }
            1 => {
                // sigreturn / rt_sigreturn on a frame of garbage: the
                // kernel must refuse or kill, never run us in ring 0.
                let nr = if self.rng.chance(2) { SIGRETURN } else { RT_SIGRETURN };
                self.call(nr, [0; 6]);
            }
            2 => {
                // rt_sigsuspend / pause with a signal already pending: block
                // SIGUSR1, send it, then wait with it unblocked (its default
                // action ends us).
                let set = self.rw + 3700;
                // SAFETY: scratch memory.
                unsafe { core::ptr::write_unaligned(set as *mut [u32; 2], [1 << (SIGUSR1 - 1), 0]) };
                self.call(RT_SIGPROCMASK, [0, set, 0, 8, 0, 0]);
                self.call(KILL, [self.pid, SIGUSR1, 0, 0, 0, 0]);
                // SAFETY: scratch memory.
                unsafe { core::ptr::write_unaligned(set as *mut [u32; 2], [0, 0]) };
                if self.rng.chance(2) {
                    self.call(RT_SIGSUSPEND, [set, 8, 0, 0, 0, 0]);
                } else {
                    self.call(RT_SIGPROCMASK, [1, set, 0, 8, 0, 0]);
                    self.call(PAUSE, [0; 6]);
                }
            }
            3 => {
                let a = [self.rng.u32(), 0, 0, 0, 0, 0];
                self.call(EXIT, a);
            }
            _ => {}
        }
        let st = self.rng.below(256);
        self.call(EXIT_GROUP, [st, 0, 0, 0, 0, 0]);
        user::syscall::exit(st as i32)
    }

    /// The scratch directory and files, memory, and fds 0-2 on /dev/null.
    fn setup(&mut self) {
        let mut p = [0u8; 64];
        umask(0o022);
        // fds 0-2 to /dev/null; the console kept at CONSOLE_FD.
        fcntl(2, F_DUPFD, CONSOLE_FD); // the lowest free >= 200
        let null = open(cstr(&mut p, b"/dev/null"), O_RDWR, 0);
        if null >= 0 {
            for fd in 0..3 {
                dup2(null as i32, fd);
            }
            if null > 2 {
                close(null as i32);
            }
        }
        let len = (RW_PAGES + 2 + POOL_PAGES + 1) * PAGE;
        // SAFETY: not MAP_FIXED: the kernel picks a free range.
        let base = unsafe { mmap2(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
        if base < 0 && base > -4096 {
            say!(CONSOLE_FD, "fuzz[{}]: mmap of the scratch memory: {}\n", self.index, base);
            user::syscall::exit(2);
        }
        let base = base as usize;
        self.rw = base;
        self.ro = base + RW_PAGES * PAGE;
        self.guard = self.ro + PAGE;
        self.pool = self.guard + PAGE;
        // SAFETY: the ro page is ours, mapped read-write until the mprotect.
        unsafe { core::ptr::write_bytes(self.ro as *mut u8, b'a', PAGE) };
        // SAFETY: the ro page is only read from now on (by us; the
        // generators hand it to the kernel as a read-only buffer).
        unsafe { user::syscall::mprotect(self.ro, PAGE, PROT_READ) };
        // SAFETY: the guard page is never touched: it is there to be unmapped.
        unsafe { user::syscall::munmap(self.guard, PAGE) };
        // After the pool a page with no access: a copy that runs past the
        // pool's end faults there instead of reaching the next mapping
        // (the shared counters, say).
        // SAFETY: that page is the fence; nothing of ours uses it.
        unsafe { user::syscall::mprotect(self.pool + POOL_PAGES * PAGE, PAGE, 0) };
        // The scratch directory and a few files.
        let mut buf = [0u8; 64];
        let n = scratch_path(&mut buf, self.index, b"");
        mkdir(as_cstr(&buf), 0o755);
        let _ = n;
        for name in [&b"/f0"[..], b"/f1", b"/f2"] {
            scratch_path(&mut buf, self.index, name);
            let fd = open(as_cstr(&buf), O_RDWR | O_CREAT, 0o644);
            if fd >= 0 {
                user::syscall::write(fd as i32, b"fuzz scratch file\n");
                self.add_fd(fd);
            }
        }
        scratch_path(&mut buf, self.index, b"/d0");
        mkdir(as_cstr(&buf), 0o755);
        let fd = open(as_cstr(&buf), O_RDONLY | O_DIRECTORY, 0);
        self.add_fd(fd);
        self.closed = [3 + self.rng.below(8), 30, 31, 150];
    }

    fn run(&mut self) -> ! {
        self.setup();
        loop {
            self.one();
            if self.seq.is_multiple_of(64) {
                self.reap_kids(false);
            }
        }
    }
}

// ----------------------------------------------------------------- parent --

struct Options {
    seed: u64,
    seconds: u64,
    procs: usize,
    replay: bool,
    result: Option<&'static [u8]>,
    kinds: (usize, usize),
    secret: Option<Secret>,
    as_init: bool,
}

fn parse_num(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (digits, radix) = match s.strip_prefix(b"0x") {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    let mut n: u64 = 0;
    for &b in digits {
        let d = (b as char).to_digit(radix)? as u64;
        n = n.checked_mul(radix as u64)?.checked_add(d)?;
    }
    Some(n)
}

fn usage() -> ! {
    say!(2, "usage: fuzz [--seed N] [--seconds S] [--procs P] [--replay] [--result FILE] [--kinds LO-HI] [--secret PATTERN --secret-at ADDR,ADDR] [--as-init]\n");
    user::syscall::exit(2)
}

fn options(args: &Args) -> Options {
    let mut o = Options { seed: 1, seconds: 10, procs: 4, replay: false, result: None, kinds: (0, 99), secret: None, as_init: false };
    let mut pattern: Option<&[u8]> = None;
    let mut at: Option<[usize; 2]> = None;
    let mut it = args.argv().skip(1).map(|a| a.to_bytes());
    while let Some(a) = it.next() {
        match a {
            b"--seed" => o.seed = it.next().and_then(parse_num).unwrap_or_else(|| usage()),
            b"--seconds" => o.seconds = it.next().and_then(parse_num).unwrap_or_else(|| usage()),
            b"--procs" => o.procs = it.next().and_then(parse_num).unwrap_or_else(|| usage()) as usize,
            b"--replay" | b"-v" | b"--verbose" => o.replay = true,
            b"--as-init" => o.as_init = true,
            b"--result" => o.result = Some(it.next().unwrap_or_else(|| usage())),
            b"--kinds" => {
                // LO-HI: only the kinds of call numbered LO to HI in `one`
                // (to find which kind a failure needs).
                let v = it.next().unwrap_or_else(|| usage());
                let dash = v.iter().position(|&b| b == b'-').unwrap_or_else(|| usage());
                let lo = parse_num(&v[..dash]).unwrap_or_else(|| usage()) as usize;
                let hi = parse_num(&v[dash + 1..]).unwrap_or_else(|| usage()) as usize;
                if lo > hi || hi > 99 {
                    usage();
                }
                o.kinds = (lo, hi);
            }
            // Eight bytes, and the two pages' addresses (see Secret).
            b"--secret" => pattern = Some(it.next().filter(|p| p.len() == 8).unwrap_or_else(|| usage())),
            b"--secret-at" => {
                let v = it.next().unwrap_or_else(|| usage());
                let comma = v.iter().position(|&b| b == b',').unwrap_or_else(|| usage());
                let a = parse_num(&v[..comma]).unwrap_or_else(|| usage()) as usize;
                let b = parse_num(&v[comma + 1..]).unwrap_or_else(|| usage()) as usize;
                at = Some([a, b]);
            }
            _ => usage(),
        }
    }
    match (pattern, at) {
        (Some(p), Some(at)) => o.secret = Secret::new(p, at),
        (None, None) => {}
        _ => usage(),
    }
    o.procs = o.procs.clamp(1, MAX_PROCS);
    o
}

/// Remove a directory tree (the scratch directory), depth first.
fn remove_tree(path: &mut [u8; 512], len: usize, depth: usize) {
    // path[..len] is the name, NUL at len.
    if unlink(as_cstr(path)) == 0 || depth > 8 {
        return;
    }
    let fd = open(as_cstr(path), O_RDONLY | O_DIRECTORY, 0);
    if fd >= 0 {
        let mut buf = [0u8; 1024];
        loop {
            let n = getdents64(fd as i32, &mut buf);
            if n <= 0 {
                break;
            }
            let mut off = 0;
            while off < n as usize {
                let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
                let name = &buf[off + 19..off + reclen];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if name != b"." && name != b".." && len + 1 + name.len() < path.len() - 1 {
                    path[len] = b'/';
                    path[len + 1..len + 1 + name.len()].copy_from_slice(name);
                    let l2 = len + 1 + name.len();
                    path[l2] = 0;
                    remove_tree(path, l2, depth + 1);
                    path[len] = 0;
                }
                off += reclen;
            }
        }
        close(fd as i32);
    }
    rmdir(as_cstr(path));
}

/// `f()` again while it fails for want of memory (`ENOMEM`, or ramfs's
/// `ENOSPC` for an inode), up to 64 times: the supervisor's own calls
/// under fault injection.
fn again(mut f: impl FnMut() -> isize) -> isize {
    let mut r = f();
    for _ in 0..64 {
        if r != -(user::syscall::errno::ENOMEM) && r != -(user::syscall::errno::ENOSPC) {
            break;
        }
        r = f();
    }
    r
}

/// A line formatted in memory (the result file's, written whole).
struct Line {
    buf: [u8; 128],
    len: usize,
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

struct Proc {
    pid: usize,
    generation: usize,
    last_hb: u32,
    last_change: u64,
}

fn main(args: Args) -> i32 {
    let o = options(&args);
    let init_pid = getpid() as usize;
    let mut p = [0u8; 64];
    // The set-up's calls are tried again when they fail for want of
    // memory: under the kernel's fault injection (fuzz=, soak=) this
    // process's allocations fail now and then, and a run lost to its own
    // set-up would fail for nothing.
    again(|| mkdir(cstr(&mut p, b"/tmp"), 0o1777));
    // The shared page: counters that survive a worker's death.
    let shm_path = cstr(&mut p, b"/tmp/fuzz.shm");
    let fd = again(|| open(shm_path, O_RDWR | O_CREAT | O_TRUNC, 0o600));
    if fd < 0 {
        say!(2, "fuzz: cannot create /tmp/fuzz.shm: {}\n", fd);
        return 2;
    }
    again(|| ftruncate(fd as i32, PAGE));
    // Fenced by a PROT_NONE page on each side, so that no worker's copy
    // running off the end of its own scratch mapping reaches it.
    // SAFETY: not MAP_FIXED: the kernel picks a free range.
    let fence = again(|| unsafe { mmap2(0, 3 * PAGE, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) });
    // SAFETY: MAP_FIXED over the middle page of the fence, which nothing uses.
    let shm = again(|| unsafe { mmap2(fence as usize + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd as i32, 0) });
    close(fd as i32);
    if (-4095..0).contains(&shm) {
        say!(2, "fuzz: cannot map /tmp/fuzz.shm: {}\n", shm);
        return 2;
    }
    let shm = shm as usize;
    say!(2, "fuzz: seed={} seconds={} procs={}{}\n", o.seed, o.seconds, o.procs, if o.replay { " replay" } else { "" });

    let mut rng = Rng::new(o.seed, 0xfeed, 0);
    let mut procs: [Proc; MAX_PROCS] = core::array::from_fn(|_| Proc { pid: 0, generation: 0, last_hb: 0, last_change: 0 });
    let (mut spawned, mut killed, mut stuck, mut died, mut loops) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let start = now_ms();
    let deadline = start + o.seconds * 1000;

    let spawn = |i: usize, generation: usize, pr: &mut Proc| {
        let pid = fork();
        if pid == 0 {
            setpgid(0, 0);
            let mut w = Worker {
                rng: Rng::new(o.seed, i as u64 + 1, generation as u64),
                index: i,
                generation,
                shm,
                pid: getpid() as usize,
                replay: o.replay,
                rw: 0,
                ro: 0,
                guard: 0,
                pool: 0,
                fds: [0; MAX_FDS],
                nfds: 0,
                closed: [0; 4],
                kids: [0; MAX_KIDS],
                nkids: 0,
                log: [Entry::default(); LOG],
                seq: 0,
                child: false,
                kinds: o.kinds,
                secret: o.secret,
                init: o.as_init.then_some(init_pid),
            };
            w.run();
        }
        if pid > 0 {
            setpgid(pid as i32, pid as i32);
            pr.pid = pid as usize;
            pr.generation = generation;
            pr.last_hb = slot(shm, i).heartbeat.load(Ordering::Relaxed);
            pr.last_change = now_ms();
        } else {
            say!(2, "fuzz: fork of worker {}: {}\n", i, pid);
            pr.pid = 0;
        }
    };

    for (i, pr) in procs.iter_mut().enumerate().take(o.procs) {
        spawn(i, 0, pr);
        spawned += 1;
    }
    loop {
        let now = now_ms();
        if now >= deadline {
            if now - start > o.seconds * 1000 + 5000 || deadline != start + o.seconds * 1000 {
                say!(2, "fuzz: DEBUG now {} start {} deadline {} seconds {}\n", now, start, deadline, o.seconds);
            }
            break;
        }
        // Reap whoever died, kill what it left in its group, replace it.
        loop {
            let mut status = 0i32;
            let pid = wait4(-1, Some(&mut status), WNOHANG);
            if pid <= 0 {
                break;
            }
            if let Some(i) = procs[..o.procs].iter().position(|pr| pr.pid == pid as usize) {
                if status & 0x7f != 0 && status & 0x7f != SIGKILL as i32 {
                    died += 1;
                }
                kill(-pid as i32, SIGKILL);
                let generation = procs[i].generation + 1;
                spawn(i, generation, &mut procs[i]);
                spawned += 1;
            }
        }
        for (i, pr) in procs.iter_mut().enumerate().take(o.procs) {
            if pr.pid == 0 {
                let generation = pr.generation + 1;
                spawn(i, generation, pr);
                spawned += 1;
                continue;
            }
            let hb = slot(shm, i).heartbeat.load(Ordering::Relaxed);
            if hb != pr.last_hb {
                pr.last_hb = hb;
                pr.last_change = now;
            } else if now.saturating_sub(pr.last_change) > 3000 {
                let s = slot(shm, i);
                if o.replay {
                    say!(2, "fuzz: worker {}.{} (pid {}) stuck in call {}({:#x}, {:#x}, {:#x}): killed\n", i, pr.generation, pr.pid,
                        s.cur[0].load(Ordering::Relaxed), s.cur[1].load(Ordering::Relaxed), s.cur[2].load(Ordering::Relaxed), s.cur[3].load(Ordering::Relaxed));
                }
                kill(pr.pid as i32, SIGKILL);
                pr.last_change = now;
                stuck += 1;
            }
        }
        // Now and then a worker is killed in the middle of whatever it does.
        if rng.chance(40) {
            let i = rng.below(o.procs);
            if procs[i].pid != 0 {
                kill(procs[i].pid as i32, SIGKILL);
                killed += 1;
            }
        }
        let t0 = now_ms();
        loops += 1;
        sleep_ms(20);
        let slept = now_ms().saturating_sub(t0);
        if slept > 1000 {
            say!(2, "fuzz: the parent's 20 ms nanosleep took {} ms\n", slept);
        }
    }
    // The end: every worker and its group, then every child left.
    for pr in procs.iter().take(o.procs) {
        if pr.pid != 0 {
            kill(pr.pid as i32, SIGKILL);
            kill(-(pr.pid as i32), SIGKILL);
        }
    }
    loop {
        let r = wait4(-1, None, 0);
        if r < 0 {
            break;
        }
        if let Some(pr) = procs.iter().take(o.procs).find(|pr| pr.pid == r as usize) {
            kill(-(pr.pid as i32), SIGKILL);
        }
    }
    let mut path = [0u8; 512];
    for i in 0..o.procs {
        let n = scratch_path(&mut path, i, b"") - 1;
        remove_tree(&mut path, n, 0);
    }
    let (mut calls, mut errors, mut wrong) = (0u64, 0u64, 0u64);
    for i in 0..o.procs {
        let s = slot(shm, i);
        calls += s.calls.load(Ordering::Relaxed) as u64;
        errors += s.errors.load(Ordering::Relaxed) as u64;
        wrong += s.wrong.load(Ordering::Relaxed) as u64;
    }
    // SAFETY: every worker is gone; the slots are not read again.
    unsafe { user::syscall::munmap(shm, PAGE) };
    unlink(shm_path);
    let mut line = user::io::FdWriter::new(1);
    let _ = core::fmt::write(&mut line, format_args!(
        "fuzz: calls={calls} errors={errors} wrong={wrong} procs={} spawned={spawned} killed={killed} stuck={stuck} died={died} loops={loops} ms={} seed={}\n",
        o.procs, now_ms() - start, o.seed));
    let _ = line.flush();
    if let Some(r) = o.result {
        let mut p = [0u8; 256];
        let n = r.len().min(255);
        p[..n].copy_from_slice(&r[..n]);
        let mut line = Line { buf: [0; 128], len: 0 };
        let _ = core::fmt::write(&mut line, format_args!("calls={calls} errors={errors} wrong={wrong} stuck={stuck}\n"));
        let text = &line.buf[..line.len];
        // Under fault injection (this process has make_it_fail: the
        // kernel's fuzz= run) the open or the write may fail with ENOMEM
        // like any call: try again, a few times, until the whole line is
        // in the file (a lost line fails the run for nothing).
        for _ in 0..64 {
            let fd = again(|| open(as_cstr(&p), O_WRONLY | O_CREAT | O_TRUNC, 0o644));
            if fd < 0 {
                continue;
            }
            let whole = write(fd as i32, text) == text.len() as isize;
            close(fd as i32);
            if whole {
                break;
            }
        }
    }
    if wrong == 0 { 0 } else { 1 }
}
