//! `pcsum`: the page cache's contents checked against what was written,
//! for the soak (`./run-qemu.sh soak`, kernel/src/tools/soak.rs) and, in a
//! short fixed form, against Linux (tests/user.sh).
//!
//! ```text
//! pcsum DIR [--rounds N | --seconds S] [--seed X] [--tag T] [--stat FILE]
//! ```
//!
//! It works in `DIR/pcsum.T.d` (T: 0 unless `--tag`) on three files, one
//! a round, each of whose every byte is known: byte `i` of a file written
//! with generation `g` is `pat(g, i)` up to `keep`, and 0 from `keep` to
//! the size (the part a truncate cut off and a growing truncate brought
//! back as a hole, which must read as zeros). A round, on file `k`:
//!
//! 1. what the file held since its last round is read back, through
//!    `read()` in random-sized pieces and through a `MAP_SHARED` mapping
//!    (the page cache kept it while everyone else ran);
//! 2. it is rewritten with a new generation and size (1 byte to 48
//!    pages): through `write()` in random-sized pieces, or through
//!    `ftruncate` + a `MAP_SHARED` mapping written with stores;
//! 3. read back at once the other way (written with `write()`: through a
//!    mapping; written through a mapping: with `read()`);
//! 4. cut (`ftruncate`) to a random smaller size, then grown again by up
//!    to two pages (Linux: the cut page's tail is zeroed, the grown part
//!    is a hole, both read as zeros), and read back both ways.
//!
//! Each read-back is one op. A byte that is not what the model says, or a
//! size that is not, is a corruption: printed at once as `pcsum:
//! CORRUPTION file F offset O: got X want Y (...)`. A call that fails
//! (`-ENOMEM` while the soak's OOM hog has taken everything, a short
//! write) is no corruption: it is counted as an error, and the file starts
//! over from empty next round (its contents are then unknown).
//!
//! `--stat FILE`: the counts (ops, corruptions, errors, rounds: u32s at
//! bytes 4, 8, 12, 16 after a magic word) live in FILE's first page
//! through a `MAP_SHARED` mapping, updated as they change, so that they
//! survive the process being killed (the soak's OOM killer may pick it):
//! the kernel reads the file afterwards. Without it, the closing line
//! `pcsum: rounds=N ops=N corruptions=N errors=N` is all (the same on
//! Linux for a given seed and rounds: tests/user.sh compares it).
//!
//! Exit status 0 with no corruption and no error, 1 otherwise.

#![no_std]
#![no_main]

use core::ffi::CStr;
use user::syscall::errno::EEXIST;
use user::syscall::fcntl::{O_CREAT, O_RDWR, O_TRUNC};
use user::syscall::mman::{MAP_SHARED, PROT_READ, PROT_WRITE};
use user::syscall::seek::{SEEK_END, SEEK_SET};
use user::syscall::time::CLOCK_MONOTONIC;
use user::syscall::{clock_gettime, close, ftruncate, lseek, mkdir, mmap2, munmap, open, pread64, rmdir, unlink, write};
use user::{Args, entry, println};

entry!(main);

const P: usize = 4096;
const NFILES: usize = 3;
const MAX_PAGES: usize = 48;
const MAGIC: u32 = 0x7063_7375; // "pcsu"

/// Byte `i` of generation `g`: never 0, so that a page of zeros where
/// data should be shows.
fn pat(g: u32, i: usize) -> u8 {
    let x = (i as u32).wrapping_mul(0x9e37_79b1) ^ g.wrapping_mul(0x85eb_ca6b) ^ (i as u32 >> 12);
    (x >> 24) as u8 % 251 + 1
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n.max(1)
    }
}

/// What a file holds: `size` bytes, `pat(gen, i)` below `keep`, zeros
/// from there. `None`: unknown (after a failed call), start it over.
#[derive(Clone, Copy)]
struct Model {
    size: usize,
    keep: usize,
    gen_: u32,
}

impl Model {
    fn byte(&self, i: usize) -> u8 {
        if i < self.keep { pat(self.gen_, i) } else { 0 }
    }
}

fn ok(r: isize) -> bool {
    !(-4095..0).contains(&r)
}

/// A new `MAP_SHARED` mapping of file `fd` from offset 0, `len` bytes,
/// where the kernel likes.
fn map_shared(len: usize, prot: usize, fd: i32) -> isize {
    // SAFETY: without MAP_FIXED the kernel picks a free range: nothing of
    // ours is replaced.
    unsafe { mmap2(0, len, prot, MAP_SHARED, fd, 0) }
}
/// The NUL-terminated path at the start of `buf` (the path buffers are
/// zeroed and filled to less than their length, so there is a NUL).
fn path_of(buf: &[u8]) -> &CStr {
    CStr::from_bytes_until_nul(buf).expect("a NUL after the path")
}
/// The `len` bytes of a mapping at `a`.
fn at(a: usize, len: usize) -> &'static mut [u8] {
    // SAFETY: callers pass a live mapping of at least len bytes that this
    // program made and unmaps only after the slice's last use.
    unsafe { core::slice::from_raw_parts_mut(a as *mut u8, len) }
}

fn now_ms() -> u64 {
    let mut ts = [0u32; 2];
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts[0] as u64 * 1000 + ts[1] as u64 / 1_000_000
}

/// The counts, in the `--stat` file's shared page or in a local array.
struct Stat {
    words: *mut u32,
}

impl Stat {
    fn add(&self, i: usize, n: u32) {
        // SAFETY: words points at 5 u32s (the stat page or `local`), ours.
        unsafe { self.words.add(i).write_volatile(self.words.add(i).read_volatile().wrapping_add(n)) }
    }
    fn get(&self, i: usize) -> u32 {
        // SAFETY: as in add.
        unsafe { self.words.add(i).read_volatile() }
    }
}
const OPS: usize = 1;
const CORRUPTIONS: usize = 2;
const ERRORS: usize = 3;
const ROUNDS: usize = 4;

struct Pcsum {
    rng: Rng,
    stat: Stat,
    files: [Option<Model>; NFILES],
    round: u64,
    buf: [u8; 3 * P],
}

/// How a read-back went.
enum Check {
    Good,
    /// A call failed: the contents are unknown, no corruption.
    Error,
    Corrupt,
}

impl Pcsum {
    fn corrupt(&self, k: usize, off: usize, got: u8, want: u8, how: &str, m: &Model) {
        println!(
            "pcsum: CORRUPTION file f{k} offset {off}: got {got:#04x} want {want:#04x} (read via {how}; size {} keep {} generation {} round {})",
            m.size, m.keep, m.gen_, self.round
        );
        self.stat.add(CORRUPTIONS, 1);
    }

    /// Read file `k` back through `read()` (random-sized pieces) and
    /// compare with the model, size included.
    fn check_read(&mut self, k: usize, fd: i32, m: &Model) -> Check {
        let end = lseek(fd, 0, SEEK_END);
        if end < 0 {
            return Check::Error;
        }
        if end as usize != m.size {
            println!("pcsum: CORRUPTION file f{k}: size {end}, want {} (round {})", m.size, self.round);
            self.stat.add(CORRUPTIONS, 1);
            return Check::Corrupt;
        }
        let mut off = 0;
        while off < m.size {
            let want_n = (1 + self.rng.below(self.buf.len())).min(m.size - off);
            let n = pread64(fd, &mut self.buf[..want_n], off);
            let bad = if n <= 0 {
                None
            } else {
                self.buf[..n as usize].iter().enumerate().find(|&(i, &b)| b != m.byte(off + i)).map(|(i, &b)| (off + i, b))
            };
            if n <= 0 {
                return Check::Error;
            }
            if let Some((o, b)) = bad {
                self.corrupt(k, o, b, m.byte(o), "read", m);
                return Check::Corrupt;
            }
            off += n as usize;
        }
        // And nothing past the end.
        let mut one = [0u8; 1];
        if pread64(fd, &mut one, m.size) != 0 {
            println!("pcsum: CORRUPTION file f{k}: a byte past its end {} (round {})", m.size, self.round);
            self.stat.add(CORRUPTIONS, 1);
            return Check::Corrupt;
        }
        self.stat.add(OPS, 1);
        Check::Good
    }

    /// Read file `k` back through a shared mapping.
    fn check_map(&mut self, k: usize, fd: i32, m: &Model) -> Check {
        let a = map_shared(m.size, PROT_READ, fd);
        if !ok(a) {
            return Check::Error;
        }
        let bytes = at(a as usize, m.size);
        let bad = bytes.iter().enumerate().find(|&(i, &b)| b != m.byte(i)).map(|(i, &b)| (i, b));
        // SAFETY: our mapping; bytes, the slice into it, is not used again.
        unsafe { munmap(a as usize, m.size) };
        if let Some((o, b)) = bad {
            self.corrupt(k, o, b, m.byte(o), "mmap", m);
            return Check::Corrupt;
        }
        self.stat.add(OPS, 1);
        Check::Good
    }

    /// Write file `k` afresh (`O_TRUNC`) as `m`, through `write()` or a
    /// mapping; false if a call failed.
    fn write_file(&mut self, fd: i32, m: &Model, mapped: bool) -> bool {
        if mapped {
            if ftruncate(fd, m.size) != 0 {
                return false;
            }
            let a = map_shared(m.size, PROT_READ | PROT_WRITE, fd);
            if !ok(a) {
                return false;
            }
            for (i, b) in at(a as usize, m.size).iter_mut().enumerate() {
                *b = m.byte(i);
            }
            // SAFETY: our mapping; the slice into it is gone with the loop.
            unsafe { munmap(a as usize, m.size) };
            return true;
        }
        // From the start (check_read's lseek to the end moved the offset).
        if lseek(fd, 0, SEEK_SET) != 0 {
            return false;
        }
        let mut off = 0;
        while off < m.size {
            let n = (1 + self.rng.below(self.buf.len())).min(m.size - off);
            for i in 0..n {
                self.buf[i] = m.byte(off + i);
            }
            let r = write(fd, &self.buf[..n]);
            if r <= 0 {
                return false;
            }
            off += r as usize;
        }
        true
    }

    fn check_both(&mut self, k: usize, fd: i32, m: &Model, map_first: bool) -> Check {
        let first = if map_first { self.check_map(k, fd, m) } else { self.check_read(k, fd, m) };
        if !matches!(first, Check::Good) {
            return first;
        }
        if map_first { self.check_read(k, fd, m) } else { self.check_map(k, fd, m) }
    }

    /// One round on file `k` (open as `fd`): see the top of the file.
    fn round_fd(&mut self, k: usize, fd: i32) -> Check {
        // 1. What it held since its last round.
        if let Some(m) = self.files[k] {
            let map_first = self.rng.below(2) == 0;
            let r = self.check_both(k, fd, &m, map_first);
            if !matches!(r, Check::Good) {
                return r;
            }
        }
        // 2. Rewritten: a new generation and size.
        if ftruncate(fd, 0) != 0 {
            return Check::Error;
        }
        let size = 1 + self.rng.below(MAX_PAGES * P);
        let m = Model { size, keep: size, gen_: self.rng.next() as u32 };
        let mapped = self.rng.below(2) == 0;
        if !self.write_file(fd, &m, mapped) {
            return Check::Error;
        }
        // 3. Read back the other way first.
        let r = self.check_both(k, fd, &m, !mapped);
        if !matches!(r, Check::Good) {
            return r;
        }
        // 4. Cut, grown again: the cut part reads as zeros.
        let keep = self.rng.below(size);
        let grown = keep + self.rng.below(2 * P + 1);
        if ftruncate(fd, keep) != 0 || ftruncate(fd, grown) != 0 {
            return Check::Error;
        }
        let m = Model { size: grown, keep, gen_: m.gen_ };
        let map_first = self.rng.below(2) == 0;
        let r = self.check_both(k, fd, &m, map_first);
        if matches!(r, Check::Good) {
            self.files[k] = Some(m);
        }
        r
    }
}

fn parse(s: &[u8]) -> Option<u64> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

fn usage() -> i32 {
    println!("usage: pcsum DIR [--rounds N | --seconds S] [--seed X] [--tag T] [--stat FILE]");
    2
}

fn main(args: Args) -> i32 {
    let mut it = args.argv().skip(1).map(|a| a.to_bytes());
    let Some(dir) = it.next() else { return usage() };
    let (mut rounds, mut seconds, mut seed, mut tag, mut stat_path) = (None, None, 1u64, 0u64, None);
    while let Some(a) = it.next() {
        let v = it.next();
        match (a, v.and_then(parse)) {
            (b"--rounds", Some(n)) => rounds = Some(n),
            (b"--seconds", Some(n)) => seconds = Some(n),
            (b"--seed", Some(n)) => seed = n,
            (b"--tag", Some(n)) => tag = n,
            (b"--stat", _) if v.is_some() => stat_path = v,
            _ => return usage(),
        }
    }
    if rounds.is_none() && seconds.is_none() {
        rounds = Some(30);
    }

    // The counts: the stat file's page, or a local array.
    let mut local = [0u32; 5];
    let mut words = local.as_mut_ptr();
    let mut path = [0u8; 256];
    if let Some(sp) = stat_path {
        let n = sp.len().min(255);
        path[..n].copy_from_slice(&sp[..n]);
        let fd = open(path_of(&path), O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
        let a = if fd >= 0 && ftruncate(fd, P) == 0 { map_shared(P, PROT_READ | PROT_WRITE, fd) } else { -1 };
        if fd >= 0 {
            close(fd);
        }
        if !ok(a) {
            println!("pcsum: cannot map the stat file: {a}");
            return 1;
        }
        words = a as *mut u32;
    }
    // SAFETY: words points at 5 u32s (the page, or `local`).
    unsafe { words.write_volatile(MAGIC) };

    // DIR/pcsum.T.d, made here (it may be left from a killed run).
    let mut work = [0u8; 256];
    let mut n = dir.len().min(200);
    work[..n].copy_from_slice(&dir[..n]);
    for &b in b"/pcsum." {
        work[n] = b;
        n += 1;
    }
    let mut digits = [0u8; 20];
    let mut d = 0;
    let mut t = tag;
    loop {
        digits[d] = b'0' + (t % 10) as u8;
        d += 1;
        t /= 10;
        if t == 0 {
            break;
        }
    }
    for i in (0..d).rev() {
        work[n] = digits[i];
        n += 1;
    }
    for &b in b".d" {
        work[n] = b;
        n += 1;
    }
    let r = mkdir(path_of(&work), 0o755);
    if r != 0 && r != -EEXIST {
        println!("pcsum: mkdir of the work directory: {r}");
        return 1;
    }
    // The files' paths, DIR/pcsum.T.d/fK, NUL-terminated.
    let mut full = [[0u8; 256]; NFILES];
    for (k, f) in full.iter_mut().enumerate() {
        f[..n].copy_from_slice(&work[..n]);
        f[n..n + 3].copy_from_slice(&[b'/', b'f', b'0' + k as u8]);
    }
    let mut s = Pcsum {
        rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
        stat: Stat { words },
        files: [None; NFILES],
        round: 0,
        buf: [0; 3 * P],
    };
    let start = now_ms();
    loop {
        if rounds.is_some_and(|r| s.round >= r) || seconds.is_some_and(|sec| now_ms() - start >= sec * 1000) {
            break;
        }
        let k = (s.round % NFILES as u64) as usize;
        let fd = open(path_of(&full[k]), O_RDWR | O_CREAT, 0o600) as i32;
        let r = if fd < 0 {
            Check::Error
        } else {
            let r = s.round_fd(k, fd);
            close(fd);
            r
        };
        match r {
            Check::Good => {}
            Check::Error => {
                s.stat.add(ERRORS, 1);
                s.files[k] = None;
            }
            Check::Corrupt => s.files[k] = None,
        }
        s.round += 1;
        s.stat.add(ROUNDS, 1);
    }
    for f in &full {
        unlink(path_of(f));
    }
    rmdir(path_of(&work));
    let (ops, corruptions, errors) = (s.stat.get(OPS), s.stat.get(CORRUPTIONS), s.stat.get(ERRORS));
    println!("pcsum: rounds={} ops={ops} corruptions={corruptions} errors={errors}", s.round);
    if corruptions == 0 && errors == 0 { 0 } else { 1 }
}
