//! `ubench`: the user-level figures of `./run-qemu.sh bench`, measured the
//! same way on this kernel and on Linux (the static binary runs on both):
//! time-stamp-counter cycles per operation, and each as a ratio to a 4 KiB
//! memory copy measured in the same run, because TCG's speed differs from
//! machine to machine and only ratios compare (reference/linux-figures.md
//! gives Linux 6.1's figures with its own page-copy time).
//!
//! Every figure is the *median* of several rounds, as Linux's figures are
//! medians: the guest's time-stamp counter follows host time, so a round in
//! which the host ran something else comes out long, and a mean would
//! carry it; the median does not.
//!
//! ```text
//! ubench: page_copy            N cycles
//! ubench: anon_fault_per_page  N cycles  R x page_copy
//! ...
//! ```
//!
//! With a file argument (or `/data/bench64M` when it exists) it also reads
//! the file with 4 KiB and 64 KiB requests, into memory already touched
//! and into untouched memory (each copy then faults inside the kernel's
//! kmap_local of the file page, or, under `usercopy=atomic`, in the
//! prefault before its kmap_atomic), and writes a 64 MiB file
//! `/tmp/ubench-write` the same four ways (the source of an untouched
//! buffer is faulted in by `generic_perform_write`'s prefault), then
//! removes it.
//!
//! Then, when `/bin/busybox` exists (Debian's busybox-static, which
//! `./run-qemu.sh bench` packs beside the file), real programs on the same
//! file: fork + execve + wait4 of `busybox true` (the cost every run below
//! pays before it touches the file), of `busybox md5sum FILE` (its output read
//! through a pipe and checked: a hash line naming the file, the same in
//! every round; the bench script compares the hash with the host's),
//! `busybox dd if=FILE of=/dev/null` with 64 KiB and 4 KiB blocks, and
//! `busybox dd if=FILE of=/tmp/ubench-copy bs=64k` (64 MiB written into
//! the page cache; its size is checked and it is removed after each
//! round). dd's record counts, which it prints on stderr, are checked too.
//! Each is reported as `busybox_...` cycles per run (the fastest of three
//! or five runs), as a multiple of the fastest of the page copies timed
//! between the runs (see `bb_rounds` for why the fastest).

#![no_std]
#![no_main]

use core::arch::x86::_rdtsc;

use user::syscall::{exit, syscall0, syscall1, syscall2, syscall3, syscall4, syscall6};
use user::{Args, entry, println};

entry!(main);

const PAGE: usize = 4096;
const FORK: usize = 2;
const READ: usize = 3;
const WRITE: usize = 4;
const OPEN: usize = 5;
const CLOSE: usize = 6;
const UNLINK: usize = 10;
const EXECVE: usize = 11;
const LSEEK: usize = 19;
const PIPE: usize = 42;
const DUP2: usize = 63;
const MUNMAP: usize = 91;
const WAIT4: usize = 114;
const MMAP2: usize = 192;

fn cycles() -> u64 {
    // SAFETY: rdtsc has no side effects (CR4.TSD is clear on both kernels).
    unsafe { _rdtsc() }
}

fn mmap(len: usize) -> usize {
    // SAFETY: an anonymous private read-write mapping of fresh memory.
    unsafe { syscall6(MMAP2, 0, len, 3, 0x22, usize::MAX, 0) as usize }
}

fn munmap(addr: usize, len: usize) {
    // SAFETY: callers unmap only what they mapped and no longer use.
    unsafe { syscall2(MUNMAP, addr, len) };
}

/// wait4 for `pid`; its wait status.
fn wait(pid: isize) -> i32 {
    let mut status = 0i32;
    // SAFETY: status is a valid i32 of ours.
    unsafe { syscall4(WAIT4, pid as usize, &mut status as *mut i32 as usize, 0, 0) };
    status
}

/// The median of `rounds` (sorted in place).
fn median(rounds: &mut [u64]) -> u64 {
    rounds.sort_unstable();
    rounds[rounds.len() / 2]
}

/// The median over `R` rounds of `f`'s cycles divided by `per`.
fn rounds<const R: usize>(per: u64, mut f: impl FnMut()) -> u64 {
    let mut r = [0u64; R];
    for x in r.iter_mut() {
        let t = cycles();
        f();
        *x = (cycles() - t) / per;
    }
    median(&mut r)
}

fn report(name: &str, per_op: u64, reference: u64) {
    println!("ubench: {name:<34} {per_op:>10} cycles {:>8}.{:02} x page_copy", per_op / reference, per_op * 100 / reference % 100);
}

fn main(args: Args) -> i32 {
    let mut argv = args.argv();
    let me = argv.next().map(|a| a.to_bytes()).unwrap_or(b"/bin/ubench");
    if argv.next().is_some_and(|a| a.to_bytes() == b"--exit") {
        return 0; // the exec'd child of fork_exec_wait
    }
    // The reference: copy a touched page to another (15 rounds of 200).
    let buf = mmap(2 * PAGE);
    let (src, dst) = (buf as *mut u8, (buf + PAGE) as *mut u8);
    // SAFETY: both pages are ours, mapped read-write.
    unsafe { core::ptr::write_bytes(src, 1, 2 * PAGE) };
    let copy = rounds::<15>(200, || {
        for _ in 0..200 {
            // SAFETY: as above; the pages do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(src, dst, PAGE) };
        }
    })
    .max(1);
    println!("ubench: {:<34} {copy:>10} cycles", "page_copy");

    // Anonymous first-write faults: 8 rounds of 128 fresh pages.
    const N: usize = 1024;
    const ROUND: usize = 128;
    let area = mmap(N * PAGE);
    let mut next = 0;
    let anon = rounds::<8>(ROUND as u64, || {
        for i in next..next + ROUND {
            // SAFETY: inside the fresh mapping.
            unsafe { ((area + i * PAGE) as *mut u8).write_volatile(1) };
        }
        next += ROUND;
    });
    report("anon_fault_per_page", anon, copy);

    // Copy-on-write faults: the child writes every page the parent wrote.
    // SAFETY: fork copies the process; both return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        let mut next = 0;
        let cow = rounds::<8>(ROUND as u64, || {
            for i in next..next + ROUND {
                // SAFETY: inside the mapping, shared copy-on-write with the parent.
                unsafe { ((area + i * PAGE) as *mut u8).write_volatile(2) };
            }
            next += ROUND;
        });
        report("cow_fault_per_page", cow, copy);
        exit(0);
    }
    wait(pid);
    munmap(area, N * PAGE);

    // fork + _exit + wait.
    let fork_exit = rounds::<21>(1, || {
        // SAFETY: as above.
        let pid = unsafe { syscall0(FORK) };
        if pid == 0 {
            exit(0);
        }
        wait(pid);
    });
    report("fork_exit_wait", fork_exit, copy);

    // fork + execve (this program, which exits at once) + wait.
    let mut path = [0u8; 256];
    path[..me.len()].copy_from_slice(me);
    let flag = c"--exit";
    let argv = [path.as_ptr(), flag.as_ptr().cast::<u8>(), core::ptr::null()];
    let fork_exec = rounds::<11>(1, || {
        // SAFETY: as above.
        let pid = unsafe { syscall0(FORK) };
        if pid == 0 {
            // SAFETY: path and argv are valid NUL-terminated strings/arrays.
            unsafe { syscall3(EXECVE, path.as_ptr() as usize, argv.as_ptr() as usize, 0) };
            exit(127);
        }
        wait(pid);
    });
    report("fork_execve_wait", fork_exec, copy);

    // The page-cache figures: read() of a big file and write() of one as
    // big, with 4 KiB and 64 KiB requests, into (from) memory already
    // touched and into (from) untouched memory.
    let file = args.argv().nth(1).map(|a| a.to_bytes()).unwrap_or(b"/data/bench64M");
    let mut fpath = [0u8; 256];
    fpath[..file.len()].copy_from_slice(file);
    // SAFETY: a NUL-terminated path of ours; O_RDONLY.
    let fd = unsafe { syscall3(OPEN, fpath.as_ptr() as usize, 0, 0) };
    if fd < 0 {
        println!("ubench: no file to read ({}): read figures skipped", core::str::from_utf8(file).unwrap_or("?"));
        return 0;
    }
    // One figure per request (the remapping of a fresh buffer is timed
    // with it, as a program that reads into new memory pays it), per page
    // of the request; the median over the requests of the 64 MiB.
    let samples = mmap(2 * MAX_REQUESTS * 8);
    // SAFETY: a fresh mapping of 2 * MAX_REQUESTS u64s, ours alone; the
    // two halves do not overlap.
    let (per_req, per_ref) = unsafe { core::slice::from_raw_parts_mut(samples as *mut u64, 2 * MAX_REQUESTS) }.split_at_mut(MAX_REQUESTS);
    // Four page copies back to back, as the reference's rounds copy
    // (`stream` divides by four).
    let refcopy = || {
        for _ in 0..4 {
            // SAFETY: src and dst are the two touched pages mapped above.
            unsafe { core::ptr::copy_nonoverlapping(src, dst, PAGE) };
        }
    };
    for (name, chunk, fresh) in [
        ("read_4k_into_touched_per_page", 4096, false),
        ("read_4k_into_untouched_per_page", 4096, true),
        ("read_64k_into_touched_per_page", 65536, false),
        ("read_64k_into_untouched_per_page", 65536, true),
    ] {
        // SAFETY: lseek of our own descriptor.
        unsafe { syscall3(LSEEK, fd as usize, 0, 0) };
        match stream(per_req, per_ref, refcopy, chunk, fresh, |buf| {
            // SAFETY: buf is a chunk-sized mapping of ours.
            unsafe { syscall3(READ, fd as usize, buf, chunk) }
        }) {
            Some((m, r)) => report(name, m, r),
            None => println!("ubench: {name}: the file is empty"),
        }
    }
    // SAFETY: our descriptor.
    unsafe { syscall1(CLOSE, fd as usize) };

    // write(): a new 64 MiB file each time (O_CREAT | O_TRUNC), so each
    // write allocates its page-cache pages, on Linux as here.
    let out = c"/tmp/ubench-write";
    for (name, chunk, fresh) in [
        ("write_4k_from_touched_per_page", 4096, false),
        ("write_4k_from_untouched_per_page", 4096, true),
        ("write_64k_from_touched_per_page", 65536, false),
        ("write_64k_from_untouched_per_page", 65536, true),
    ] {
        // SAFETY: a NUL-terminated path; O_WRONLY | O_CREAT | O_TRUNC, 0644.
        let fd = unsafe { syscall3(OPEN, out.as_ptr() as usize, 0o1101, 0o644) };
        if fd < 0 {
            println!("ubench: {name}: cannot create /tmp/ubench-write (error {fd})");
            continue;
        }
        let mut left = FILE_BYTES;
        match stream(per_req, per_ref, refcopy, chunk, fresh, |buf| {
            if left == 0 {
                return 0;
            }
            // SAFETY: buf is a chunk-sized mapping of ours.
            let n = unsafe { syscall3(WRITE, fd as usize, buf, chunk) };
            left = left.saturating_sub(n.max(0) as usize);
            n
        }) {
            Some((m, r)) => report(name, m, r),
            None => println!("ubench: {name}: write failed"),
        }
        // SAFETY: our descriptor.
        unsafe { syscall1(CLOSE, fd as usize) };
    }
    // SAFETY: a NUL-terminated path of ours.
    unsafe { syscall1(UNLINK, out.as_ptr() as usize) };
    munmap(samples, 2 * MAX_REQUESTS * 8);

    // The page-copy reference for the busybox figures: the median of 5
    // rounds of 200 copies, timed between the runs (over the seconds they
    // last, the guest's speed on a shared host drifts).
    let page_copy = || {
        rounds::<5>(200, || {
            for _ in 0..200 {
                // SAFETY: src and dst are the two touched pages mapped above.
                unsafe { core::ptr::copy_nonoverlapping(src, dst, PAGE) };
            }
        })
        .max(1)
    };
    busybox_figures(&fpath, page_copy);
    0
}

/// The most runs of a busybox figure: each moves 64 MiB, about a second
/// of TCG time for md5sum (three runs) and a fifth of one for dd (five).
const BB_ROUNDS: usize = 5;

/// The busybox figures (see the module comment). `fpath`: the file, NUL
/// terminated; `page_copy`: times the reference.
fn busybox_figures(fpath: &[u8; 256], page_copy: impl Fn() -> u64) {
    let busybox = c"/bin/busybox";
    // SAFETY: a NUL-terminated path; O_RDONLY.
    let fd = unsafe { syscall3(OPEN, busybox.as_ptr() as usize, 0, 0) };
    if fd < 0 {
        println!("ubench: no /bin/busybox (error {fd}): busybox figures skipped");
        return;
    }
    // SAFETY: our descriptor.
    unsafe { syscall1(CLOSE, fd as usize) };
    let file = &fpath[..fpath.iter().position(|&b| b == 0).unwrap_or(0)];
    // dd's `if=FILE`, NUL terminated.
    let mut ifile = [0u8; 260];
    ifile[..3].copy_from_slice(b"if=");
    ifile[3..3 + file.len()].copy_from_slice(file);
    let copy = c"/tmp/ubench-copy";
    let mut out = [0u8; 512];

    // `busybox true`: what every run below pays before it touches the
    // file (fork, execve of the 2 MB static binary, its start-up and
    // exit, wait4), so that the rest of each figure is its work on the
    // 64 MiB.
    let argv = [c"busybox".as_ptr(), c"true".as_ptr(), core::ptr::null()];
    bb_rounds("busybox_true", 5, &argv, &mut out, &page_copy, |got| {
        if got.is_empty() { Ok(()) } else { Err("busybox true printed something") }
    });

    // md5sum: the same line every round, `HASH  FILE\n`.
    let mut first = [0u8; 128];
    let mut first_len = 0;
    let argv = [c"busybox".as_ptr(), c"md5sum".as_ptr(), fpath.as_ptr().cast(), core::ptr::null()];
    let md5 = bb_rounds("busybox_md5sum_64M", 3, &argv, &mut out, &page_copy, |got| {
        let hex = got.len() == 32 + 2 + file.len() + 1
            && got.len() <= first.len()
            && got[..32].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && &got[32..34] == b"  "
            && &got[34..34 + file.len()] == file
            && got[got.len() - 1] == b'\n';
        if !hex {
            return Err("md5sum printed something else than `HASH  FILE`");
        }
        if first_len == 0 {
            first[..got.len()].copy_from_slice(got);
            first_len = got.len();
        } else if first[..first_len] != *got {
            return Err("md5sum printed another hash than in the first round");
        }
        Ok(())
    });
    if md5 && first_len > 32 {
        println!("ubench: busybox md5sum {}", core::str::from_utf8(&first[..32]).unwrap_or("?"));
    }

    // dd to /dev/null: the file read through the page cache into dd's
    // buffer; dd's stderr must report the whole file in full records.
    for (fig, bs, records) in [
        ("busybox_dd_64k_to_null", c"bs=64k", "1024+0 records in\n1024+0 records out\n"),
        ("busybox_dd_4k_to_null", c"bs=4k", "16384+0 records in\n16384+0 records out\n"),
    ] {
        let argv = [c"busybox".as_ptr(), c"dd".as_ptr(), ifile.as_ptr().cast(), c"of=/dev/null".as_ptr(), bs.as_ptr(), core::ptr::null()];
        bb_rounds(fig, 5, &argv, &mut out, &page_copy, |got| {
            if got.starts_with(records.as_bytes()) { Ok(()) } else { Err("dd did not report the whole file in full records") }
        });
    }

    // dd to a new file in /tmp: 64 MiB written into the page cache; the
    // file must be 64 MiB, and is removed after each round.
    let argv = [c"busybox".as_ptr(), c"dd".as_ptr(), ifile.as_ptr().cast(), c"of=/tmp/ubench-copy".as_ptr(), c"bs=64k".as_ptr(), core::ptr::null()];
    bb_rounds("busybox_dd_64k_to_tmp", 5, &argv, &mut out, &page_copy, |got| {
        // SAFETY: a NUL-terminated path; O_RDONLY.
        let fd = unsafe { syscall3(OPEN, copy.as_ptr() as usize, 0, 0) };
        if fd < 0 {
            return Err("dd left no /tmp/ubench-copy");
        }
        // SAFETY: our descriptor; SEEK_END.
        let size = unsafe { syscall3(LSEEK, fd as usize, 0, 2) };
        // SAFETY: our descriptor, and then a NUL-terminated path.
        unsafe {
            syscall1(CLOSE, fd as usize);
            syscall1(UNLINK, copy.as_ptr() as usize);
        }
        if size != FILE_BYTES as isize {
            return Err("/tmp/ubench-copy is not 64 MiB");
        }
        if !got.starts_with(b"1024+0 records in\n1024+0 records out\n") {
            return Err("dd did not report the whole file in full records");
        }
        Ok(())
    });
}

/// `runs` runs (1 to `BB_ROUNDS`) of busybox with `argv`, a reference
/// page copy timed before each run and after the last; `check` judges what
/// the run printed (stdout and stderr together). Reports the fastest run
/// as a multiple of the fastest reference, or the first failure as
/// `ubench: NAME FAILED (why)` (which the bench script turns into a failed
/// bench). True if every run passed.
///
/// Why the fastest and not the median, as the other figures take: a run
/// lasts from a tenth of a second to a second, long enough that on a host
/// shared with other work most runs are slowed by something else for part
/// of their time (the guest's time-stamp counter follows host time, so
/// the cycles count the time the guest did not run); nothing makes a run
/// faster than the machine, so the fastest run is the least disturbed
/// one, and the fastest reference likewise. A median of three
/// second-long runs on a loaded host moved by 2x from boot to boot.
fn bb_rounds(name: &str, runs: usize, argv: &[*const core::ffi::c_char], out: &mut [u8], page_copy: &impl Fn() -> u64, mut check: impl FnMut(&[u8]) -> Result<(), &'static str>) -> bool {
    let (mut best, mut best_ref) = (u64::MAX, page_copy());
    for _ in 0..runs.clamp(1, BB_ROUNDS) {
        let result = spawn(argv, out).and_then(|(cycles, n)| check(&out[..n]).map(|()| cycles));
        match result {
            Ok(c) => best = best.min(c),
            Err(why) => {
                println!("ubench: {name} FAILED ({why})");
                return false;
            }
        }
        best_ref = best_ref.min(page_copy());
    }
    report(name, best, best_ref);
    true
}

/// fork + execve(`/bin/busybox`, `argv`) + wait4, the child's stdout and
/// stderr into a pipe which the parent reads (into `out`, the rest
/// dropped) until the child closes it. Returns the cycles from fork to
/// wait4's return and the bytes read, or why it failed (the child could
/// not exec, or did not exit with status 0).
fn spawn(argv: &[*const core::ffi::c_char], out: &mut [u8]) -> Result<(u64, usize), &'static str> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is two i32s of ours.
    if unsafe { syscall1(PIPE, fds.as_mut_ptr() as usize) } < 0 {
        return Err("pipe failed");
    }
    let (r, w) = (fds[0] as usize, fds[1] as usize);
    let t = cycles();
    // SAFETY: fork copies the process; both return here.
    let pid = unsafe { syscall0(FORK) };
    if pid == 0 {
        // SAFETY: our descriptors; then a NUL-terminated path and a
        // NULL-terminated argv of NUL-terminated strings (no environment).
        unsafe {
            syscall2(DUP2, w, 1);
            syscall2(DUP2, w, 2);
            syscall1(CLOSE, r);
            syscall1(CLOSE, w);
            syscall3(EXECVE, c"/bin/busybox".as_ptr() as usize, argv.as_ptr() as usize, 0);
        }
        exit(127);
    }
    // SAFETY: our descriptor.
    unsafe { syscall1(CLOSE, w) };
    let (mut n, mut sink) = (0, [0u8; 64]);
    loop {
        let got = if n < out.len() {
            // SAFETY: the rest of out is ours.
            unsafe { syscall3(READ, r, out[n..].as_mut_ptr() as usize, out.len() - n) }
        } else {
            // SAFETY: sink is ours.
            unsafe { syscall3(READ, r, sink.as_mut_ptr() as usize, sink.len()) }
        };
        if got <= 0 {
            break;
        }
        if n < out.len() {
            n += got as usize;
        }
    }
    let status = if pid > 0 { wait(pid) } else { -1 };
    let c = cycles() - t;
    // SAFETY: our descriptor.
    unsafe { syscall1(CLOSE, r) };
    match status {
        _ if pid < 0 => Err("fork failed"),
        0 => Ok((c, n)),
        0x7f00 => Err("the child could not execve /bin/busybox (exit 127)"),
        _ => Err("busybox did not exit with status 0"),
    }
}

/// The file figures' size: 64 MiB, as Linux's.
const FILE_BYTES: usize = 64 << 20;
/// Requests in 64 MiB at 4 KiB.
const MAX_REQUESTS: usize = FILE_BYTES / PAGE;

/// Run `io` on a `chunk`-byte buffer until it returns 0 or an error (or
/// the samples are full), timing each call per page of what it moved;
/// before each call, time one reference page copy (`refcopy`). Returns the
/// two medians, or `None` if nothing moved. The file figures are reported
/// against this interleaved reference rather than the one taken at the
/// start: a host shared with other work runs the guest at a speed that
/// changes within a run, and a reference timed between the requests
/// changes with it. `fresh`: each call gets a new, never-touched mapping
/// (munmap + mmap timed with it), so every page of the copy faults inside
/// the kernel; else one buffer, touched first.
fn stream(per_req: &mut [u64], per_ref: &mut [u64], refcopy: impl Fn(), chunk: usize, fresh: bool, mut io: impl FnMut(usize) -> isize) -> Option<(u64, u64)> {
    let mut buf = mmap(chunk);
    // SAFETY: inside the mapping.
    unsafe { core::ptr::write_bytes(buf as *mut u8, b'w', chunk) };
    let mut n_req = 0;
    loop {
        let t = cycles();
        refcopy();
        let r = (cycles() - t) / 4;
        let t = cycles();
        if fresh {
            munmap(buf, chunk);
            buf = mmap(chunk);
        }
        let n = io(buf);
        if n <= 0 || n_req == per_req.len() {
            break;
        }
        per_req[n_req] = (cycles() - t) / (n as u64).div_ceil(PAGE as u64);
        per_ref[n_req] = r.max(1);
        n_req += 1;
    }
    munmap(buf, chunk);
    (n_req > 0).then(|| (median(&mut per_req[..n_req]), median(&mut per_ref[..n_req])))
}
