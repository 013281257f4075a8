# Debian's busybox-static for i386, unmodified, as the first real program
# this kernel runs (issue 11); sourced by run-qemu.sh.
#
#   fetch_busybox             (setup) apt-get download busybox-static:i386 into
#                             target/busybox/, unpack it with dpkg-deb -x, check
#                             the binary is a static ELF32 i386 executable and
#                             record its applets (busybox --list, run natively)
#   busybox_into ROOT         put /bin/busybox and one symlink per applet into
#                             an initramfs tree (the suite's and the shell's)
#   make_busybox_initramfs    target/busybox.cpio: busybox, its applets, a small
#                             /etc; what `./run-qemu.sh` boots by default, so
#                             `./run-qemu.sh --append init=/bin/sh` is its shell
#   check_busybox_scenarios   boots that run busybox and check what it printed
#
# Without a network at setup there is no busybox: setup says so, the
# initramfs builders leave it out, and what needs it skips with the reason
# the skip judge knows, `needs the kernel option test_expect_busybox`. The
# runner passes that option exactly when the archive it made holds busybox
# (as it passes test_expect_mem= for -m), so a skip where busybox was packed
# is a failure, and a test that finds the option but no /bin/busybox fails.

BUSYBOX_DIR="$REPO/target/busybox"
BUSYBOX_BIN="$BUSYBOX_DIR/root/bin/busybox"
BUSYBOX_APPLETS="$BUSYBOX_DIR/applets"
BUSYBOX_PKG="busybox-static:i386"
BUSYBOX_CPIO="$REPO/target/busybox.cpio"

# Is $1 a static ELF32 i386 executable (ET_EXEC, no interpreter, no
# dynamic section)? Says what is wrong on stderr.
busybox_elf_ok() {
    local f="$1" hdr
    [ -f "$f" ] || { echo "no file $f" >&2; return 1; }
    hdr="$(readelf -h "$f" 2>/dev/null)" || { echo "$f is not an ELF file" >&2; return 1; }
    grep -q 'Class: *ELF32' <<<"$hdr" || { echo "$f is not ELF32" >&2; return 1; }
    grep -q 'Machine: *Intel 80386' <<<"$hdr" || { echo "$f is not for Intel 80386" >&2; return 1; }
    grep -q 'Type: *EXEC' <<<"$hdr" || { echo "$f is not an executable (ET_EXEC)" >&2; return 1; }
    if grep -Eq '^ *(INTERP|DYNAMIC) ' <<<"$(readelf -l "$f" 2>/dev/null)"; then
        echo "$f is dynamically linked" >&2; return 1
    fi
}

# Is busybox fetched, checked and its applets listed?
have_busybox() {
    [ -s "$BUSYBOX_APPLETS" ] && busybox_elf_ok "$BUSYBOX_BIN" 2>/dev/null
}

# The version setup fetched (from the .deb's control file).
busybox_version() {
    cat "$BUSYBOX_DIR/version" 2>/dev/null || echo unknown
}

# setup: fetch the package once. Each step runs only if needed: the i386
# architecture added to dpkg if missing, apt's lists updated only if apt
# does not know the package yet, the download only if nothing valid is in
# target/busybox. A failure (no network) is said plainly and is not fatal:
# the rest of the project does not need busybox.
fetch_busybox() {
    local sudo="$1"
    if have_busybox; then
        echo "setup: $BUSYBOX_PKG $(busybox_version) already in target/busybox ($(wc -l <"$BUSYBOX_APPLETS") applets)"
        return 0
    fi
    command -v dpkg-deb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
        || { busybox_unavailable "apt-get and dpkg-deb are needed (a Debian machine)"; return 0; }
    if ! grep -qx i386 <<<"$(dpkg --print-foreign-architectures)" && [ "$(dpkg --print-architecture)" != i386 ]; then
        echo "setup: adding the i386 architecture to dpkg (for $BUSYBOX_PKG)"
        $sudo dpkg --add-architecture i386 || { busybox_unavailable "dpkg --add-architecture i386 failed"; return 0; }
    fi
    if ! busybox_known; then
        echo "setup: apt does not know $BUSYBOX_PKG yet: apt-get update"
        # Judged by its result, not its status: an update that fails on
        # one index (a mirror mid-sync) may still have fetched the one we need.
        $sudo apt-get update -qq || true
        busybox_known || { busybox_unavailable "apt-get update did not make $BUSYBOX_PKG known (no network?)"; return 0; }
    fi
    # apt's download runs as the user _apt when we are root: it needs a
    # directory it can write (else it warns and downloads unsandboxed).
    local tmp; tmp="$(mktemp -d)"
    [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$tmp"
    echo "setup: downloading $BUSYBOX_PKG (apt-get download)"
    if ! (cd "$tmp" && apt-get download -qq "$BUSYBOX_PKG"); then
        rm -rf "$tmp"
        busybox_unavailable "apt-get download $BUSYBOX_PKG failed (no network?)"
        return 0
    fi
    rm -rf "$BUSYBOX_DIR"; mkdir -p "$BUSYBOX_DIR"
    local deb; deb="$(ls "$tmp"/*.deb)"
    mv "$deb" "$BUSYBOX_DIR/"; rm -rf "$tmp"
    deb="$BUSYBOX_DIR/$(basename "$deb")"
    dpkg-deb -x "$deb" "$BUSYBOX_DIR/root" || { busybox_unavailable "dpkg-deb -x $deb failed"; return 0; }
    dpkg-deb -f "$deb" Version > "$BUSYBOX_DIR/version"
    local why; why="$(busybox_elf_ok "$BUSYBOX_BIN" 2>&1)" \
        || { rm -rf "$BUSYBOX_DIR"; busybox_unavailable "$why"; return 0; }
    # The applets, from busybox itself: natively (the host runs static i386
    # binaries), else under qemu-i386.
    { "$BUSYBOX_BIN" --list 2>/dev/null || qemu-i386 "$BUSYBOX_BIN" --list; } > "$BUSYBOX_APPLETS.tmp" \
        && [ -s "$BUSYBOX_APPLETS.tmp" ] \
        || { rm -rf "$BUSYBOX_DIR"; busybox_unavailable "busybox --list printed nothing (neither natively nor under qemu-i386)"; return 0; }
    mv "$BUSYBOX_APPLETS.tmp" "$BUSYBOX_APPLETS"
    echo "setup: $BUSYBOX_PKG $(busybox_version): static ELF32 i386, $(wc -l <"$BUSYBOX_APPLETS") applets, in target/busybox"
}

# Does apt have a candidate version of the package?
# (Read whole, then matched: under pipefail, `apt-cache | grep -q` fails
# when grep stops reading at its match and apt-cache gets SIGPIPE.)
busybox_known() {
    local policy; policy="$(apt-cache policy "$BUSYBOX_PKG" 2>/dev/null)" || return 1
    grep -q '^ *Candidate: [0-9]' <<<"$policy"
}

busybox_unavailable() {
    echo "setup: WARNING: no busybox: $1." >&2
    echo "setup: WARNING: the busybox tests will skip ('needs the kernel option test_expect_busybox') until ./run-qemu.sh setup can fetch $BUSYBOX_PKG." >&2
}

# busybox_into ROOT: /bin/busybox and, for each applet, /bin/APPLET -> busybox
# (a relative symlink, as `busybox --install -s` makes them; busybox picks
# the applet by argv[0]'s last component). A name ROOT/bin already has
# (the suite's own programs: init) keeps its file. Returns 1 without busybox.
busybox_into() {
    local root="$1" a
    have_busybox || return 1
    mkdir -p "$root/bin"
    cp "$BUSYBOX_BIN" "$root/bin/busybox"
    while IFS= read -r a; do
        [ -n "$a" ] && [ "$a" != busybox ] || continue
        [ -e "$root/bin/$a" ] || [ -L "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
    done < "$BUSYBOX_APPLETS"
}

# target/busybox.cpio: a root file system for busybox's shell. No /init, so
# that init= chooses the program (as on Linux: /init in an initramfs wins
# over init=) and a boot without it comes to the kernel's console, where
# `run busybox ...` works too.
make_busybox_initramfs() {
    local root="$REPO/target/busybox-root"
    rm -rf "$root"; mkdir -p "$root/etc" "$root/root" "$root/tmp" "$root/dev"
    busybox_into "$root" || return 1
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
    printf 'root:x:0:\n' > "$root/etc/group"
    printf 'highmem\n' > "$root/etc/hostname"
    (cd "$root" && find . | LC_ALL=C sort | cpio -o --quiet -H newc > "$BUSYBOX_CPIO.tmp") || die "cpio could not pack $root"
    mv "$BUSYBOX_CPIO.tmp" "$BUSYBOX_CPIO"
}

# The first user program (kernel/src/init.rs run_init_process), chosen as
# Linux chooses it, and the missing-call report seen on a real program;
# boots of the suite's initramfs (busybox in it or not: none of these needs
# it) and of the one with an /init.
check_init_scenarios() {
    make_test_initramfs
    local dir="$REPO/target/ktest" good="$TEST_INITRAMFS"
    mkdir -p "$dir"
    in_config INITRD="$good" expect_boot "init= runs its program when the initramfs has no /init" "exit_after_boot init=/bin/hello" 33 \
        '^\[.*\] Run /bin/hello as init process$' '^hello from pid [0-9]+, ring 3$' \
        'init: /bin/hello ended with wait status 0x0$' 'boot complete: exit_after_boot given'
    in_config INITRD="$good" expect_boot "init= that cannot start ends the boot: Linux's panic (ENOENT)" "exit_after_boot init=/bin/nosuch" 35 \
        '^Kernel panic - not syncing: Requested init /bin/nosuch failed \(error -2\)\.$'
    in_config INITRD="$good" expect_boot "init= that cannot start ends the boot: Linux's panic (EACCES, a directory)" "exit_after_boot init=/bin" 35 \
        '^Kernel panic - not syncing: Requested init /bin failed \(error -13\)\.$'
    in_config INITRD="$good" expect_boot "rdinit= runs instead of /init" "exit_after_boot rdinit=/bin/hello" 33 \
        '^\[.*\] Run /bin/hello as init process$' '^hello from pid [0-9]+, ring 3$' 'init: /bin/hello ended with wait status 0x0$'
    in_config INITRD="$good" expect_boot "rdinit= missing from the initramfs: init= runs" "exit_after_boot rdinit=/nosuch init=/bin/hello" 33 \
        '^\[.*\] Run /bin/hello as init process$' 'init: /bin/hello ended with wait status 0x0$'
    in_config expect_boot "init= and rdinit= take an absolute path; bad values are named" "exit_after_boot init=bin/sh rdinit= init" 33 \
        "malformed option 'init=bin/sh' \(ignored\): expected an absolute path of at most 4095 bytes, e.g. /bin/sh$" \
        "option 'rdinit' needs a value, as in rdinit=PATH \(ignored\)$" "option 'init' needs a value, as in init=PATH \(ignored\)$" \
        'boot complete: exit_after_boot given'
    # Linux: an initramfs's /init wins over init= (which is not even tried).
    rm -rf "$dir/init-root"; mkdir -p "$dir/init-root"
    cp "$USER_BIN/init" "$dir/init-root/init"
    (cd "$dir/init-root" && find . | LC_ALL=C sort | cpio -o --quiet -H newc > "$dir/initramfs-init.cpio")
    in_config INITRD="$dir/initramfs-init.cpio" expect_boot "the initramfs's /init wins over init=" "exit_after_boot init=/bin/nosuch" 33 \
        '^\[.*\] Run /init as init process$' 'init: /init ended with wait status 0x0$' 'boot complete: exit_after_boot given'
    # A missing system call is logged at debug level, once per number (the
    # numbers outside Linux's table share one report): syscall_abi calls
    # 0x7fff twice, 17 (break, a hole Linux names) and -1.
    in_config INITRD="$good" expect_boot "a missing system call is named once per number (loglevel=debug)" \
        "exit_after_boot loglevel=debug init=/bin/syscall_abi" 33 \
        "syscall 32767 \(not in Linux 6.1's i386 table\) not implemented: -ENOSYS, task syscall_abi\[[0-9]+\] \(later numbers out of the table: not logged\)$" \
        'syscall 17 \(break\) not implemented: -ENOSYS, task syscall_abi\[[0-9]+\]$' 'init: /bin/syscall_abi ended with wait status 0x0$'
    local log="$dir/scenario-a_missing_system_call_is_named_once_per_number__loglevel_debug_.log" n
    n=$(grep -c 'not implemented: -ENOSYS' "$log" || true)
    [ "$n" = 2 ] || fail "missing-call report: want 2 lines (32767 once, break once; -1 shares 32767's), got $n (see $log)"
}
