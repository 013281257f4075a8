#!/usr/bin/env bash
# Build the kernel and boot it under QEMU; set up a machine; run the tests.
#
#   ./run-qemu.sh setup                 install toolchain, QEMU, GRUB tools; boot -m 3G
#   ./run-qemu.sh [OPTIONS]             build and boot (serial console on stdio)
#   ./run-qemu.sh test [FILTER]         run the in-kernel suite in this configuration
#   ./run-qemu.sh check                 everything: host tests + suite on both boot paths
#                                       + the memory-size configurations + boot scenarios
#   ./run-qemu.sh host-test             host unit tests of the pure-logic crates
#   ./run-qemu.sh console-test          type into the console and check each command's output
#   ./run-qemu.sh bench                 in-kernel benchmarks (release build; default --smp 2)
#   ./run-qemu.sh stress [--seconds N]  kmap stress test on every CPU (default 60 s, --smp 4)
#
# OPTIONS
#   --mem SIZE      guest RAM (QEMU -m), default 3G
#   --smp N         number of CPUs, default 1
#   --iso           boot through GRUB (multiboot 2) instead of QEMU -kernel (multiboot 1)
#   --append ARGS   kernel command line, e.g. --append 'loglevel=debug exit_after_boot'
#   --bios FILE     firmware instead of SeaBIOS, e.g. /usr/share/qemu/qboot.rom
#   --gdb           start QEMU halted, waiting for gdb on localhost:1234
#   --release       build with the release profile
#
# QEMU always runs under TCG: /dev/kvm on our machines cannot run a 32-bit
# guest with paging on (see README). `cargo run` / `cargo test` come here
# through the runner in .cargo/config.toml (`--runner ELF`).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$REPO"

MEM=3G
SMP=1
ISO=0
APPEND=""
GDB=0
SECONDS_ARG=60
BIOS=""
SMP_GIVEN=0
PROFILE=dev
KTEST_TIMEOUT="${KTEST_TIMEOUT:-180}"

toolchain() { sed -n 's/^channel *= *"\(.*\)"/\1/p' "$REPO/rust-toolchain.toml"; }

die() { echo "run-qemu.sh: $*" >&2; exit 2; }

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- set-up ----
setup() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    local pkgs="qemu-system-x86 grub-pc-bin grub-common xorriso mtools gdb"
    local missing=""
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if ! command -v rustup >/dev/null 2>&1 && ! [ -x "$HOME/.cargo/bin/rustup" ]; then
        missing="$missing rustup"
    fi
    if [ -n "$missing" ]; then
        echo "setup: installing Debian packages:$missing"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
    else
        echo "setup: QEMU and GRUB tools already installed"
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
    local tc; tc="$(toolchain)"
    if rustup run "$tc" rustc --version >/dev/null 2>&1 \
        && [ -d "$(rustup run "$tc" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
        echo "setup: toolchain $tc with rust-src already installed"
    else
        echo "setup: installing toolchain $tc (from rust-toolchain.toml)"
        rustup toolchain install "$tc" --profile minimal --component rust-src
    fi
    build
    echo "setup: done. Booting with -m $MEM (leave QEMU with Ctrl-A X)."
    if [ ! -t 0 ]; then
        # No terminal to type Ctrl-A X into (CI): boot, print the log, leave.
        APPEND="$APPEND exit_after_boot"
    fi
    boot_interactive
}

# ----------------------------------------------------------------- build ----
KERNEL_ELF=""
build() {
    local flags=()
    [ "$PROFILE" = release ] && flags+=(--release)
    cargo build -p kernel "${flags[@]}" >&2
    local dir=debug; [ "$PROFILE" = release ] && dir=release
    KERNEL_ELF="$REPO/target/i686-kernel/$dir/kernel"
    [ -f "$KERNEL_ELF" ] || die "build produced no $KERNEL_ELF"
}

# Build a GRUB rescue ISO that boots $1 with multiboot2 and command line $2.
make_iso() {
    local elf="$1" args="$2" iso_dir="$REPO/target/iso"
    rm -rf "$iso_dir"; mkdir -p "$iso_dir/boot/grub"
    cp "$elf" "$iso_dir/boot/kernel"
    cat > "$iso_dir/boot/grub/grub.cfg" <<EOF
set timeout=0
set default=0
menuentry "highmem teaching kernel" {
    multiboot2 /boot/kernel $args
    boot
}
EOF
    grub-mkrescue -o "$REPO/target/kernel.iso" "$iso_dir" >/dev/null 2>&1 \
        || die "grub-mkrescue failed (run ./run-qemu.sh setup)"
    echo "$REPO/target/kernel.iso"
}

# The QEMU command line for one boot: qemu_cmd ELF ARGS
QEMU=()
qemu_cmd() {
    local elf="$1" args="$2"
    QEMU=(qemu-system-i386 -accel tcg,thread=multi -cpu qemu32 -m "$MEM" -smp "$SMP"
          -display none -no-reboot
          -device isa-debug-exit,iobase=0xf4,iosize=0x04)
    if [ "$ISO" = 1 ]; then
        QEMU+=(-cdrom "$(make_iso "$elf" "$args")" -boot d)
    else
        QEMU+=(-kernel "$elf" -append "$args")
    fi
    [ -n "$BIOS" ] && QEMU+=(-bios "$BIOS")
    [ "$GDB" = 1 ] && QEMU+=(-s -S)
    return 0
}

# QEMU's exit status: 33 = kernel said success, 35 = failure; anything else
# means QEMU stopped for another reason (triple fault, killed, timeout).
status_word() {
    case "$1" in
        33) echo "success" ;; 35) echo "failure" ;; 124|137) echo "timeout" ;;
        *) echo "QEMU exit status $1" ;;
    esac
}

boot_interactive() {
    qemu_cmd "$KERNEL_ELF" "$APPEND"
    [ "$GDB" = 1 ] && echo "QEMU waits for gdb: gdb -x kernel/gdb/highmem.py -ex 'target remote :1234' $KERNEL_ELF" >&2
    local rc=0
    "${QEMU[@]}" -serial mon:stdio || rc=$?
    case "$rc" in 0|33) return 0 ;; *) echo "run-qemu.sh: kernel ended with $(status_word "$rc")" >&2; return 1 ;; esac
}

# One non-interactive boot: boot_capture LOGFILE ARGS. Output goes to the
# terminal and to LOGFILE; returns QEMU's status.
boot_capture() {
    local log="$1" args="$2"
    qemu_cmd "$KERNEL_ELF" "$args"
    set +e
    # CONSOLE_INPUT, if set, is typed into the serial console (after a pause
    # for the kernel to come up); otherwise stdin is empty.
    { if [ -n "${CONSOLE_INPUT:-}" ]; then sleep 2; printf '%b' "$CONSOLE_INPUT"; sleep 1; fi; } \
        | timeout -k 5 "$KTEST_TIMEOUT" "${QEMU[@]}" -serial stdio -monitor none \
        | tr -d '\r' | tee "$log"
    local status=("${PIPESTATUS[@]}")
    set -e
    return "${status[1]}"
}

source "$REPO/tests/runner.sh"

host_test() {
    echo "== host unit tests (mm, boot) =="
    (cd / && cargo "+$(toolchain)" test --manifest-path "$REPO/Cargo.toml" \
        -p mm -p boot --target-dir "$REPO/target/host" 2>&1) | tee "$REPO/target/host-test.log"
    local rc=${PIPESTATUS[0]}
    local p f
    p=$(grep -o '[0-9]* passed' "$REPO/target/host-test.log" | awk '{s+=$1} END {print s+0}')
    f=$(grep -o '[0-9]* failed' "$REPO/target/host-test.log" | awk '{s+=$1} END {print s+0}')
    [ "$rc" -eq 0 ] || f=$((f == 0 ? 1 : f))
    TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f))
    [ "$rc" -eq 0 ] || FAILED_NAMES+=("host unit tests")
}

# ------------------------------------------------------------ arguments ----
CMD=boot
RUNNER_ELF=""
FILTER=""
while [ $# -gt 0 ]; do
    case "$1" in
        setup|test|check|host-test|bench|stress|console-test) CMD="$1" ;;
        --seconds) SECONDS_ARG="${2:?--seconds needs a number}"; shift ;;
        --mem) MEM="${2:?--mem needs a size}"; shift ;;
        --smp) SMP="${2:?--smp needs a number}"; SMP_GIVEN=1; shift ;;
        --iso) ISO=1 ;;
        --append) APPEND="${2?--append needs arguments}"; shift ;;
        --gdb) GDB=1 ;;
        --bios) BIOS="${2:?--bios needs a firmware file}"; shift ;;
        --release) PROFILE=release ;;
        --runner) CMD=runner; RUNNER_ELF="${2:?--runner needs an ELF}"; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) if [ "$CMD" = test ] && [ -z "$FILTER" ]; then FILTER="$1"
           elif [ "$CMD" = runner ]; then FILTER="$1"
           else die "unexpected argument '$1' (see --help)"; fi ;;
    esac
    shift
done
[[ "$SMP" =~ ^[1-9][0-9]*$ ]] || die "--smp takes a positive number, not '$SMP'"
[[ "$MEM" =~ ^[0-9]+[KMGT]?$ ]] || die "--mem takes a size like 512M or 3G, not '$MEM'"

case "$CMD" in
    setup) setup ;;
    boot) build; boot_interactive ;;
    host-test) TOTAL_PASSED=0; TOTAL_FAILED=0; FAILED_NAMES=(); host_test; summary ;;
    test) build; TOTAL_PASSED=0; TOTAL_FAILED=0; FAILED_NAMES=()
          run_suite "$FILTER"; summary ;;
    check) check_all ;;
    console-test) build; check_console; check_gdb; summary ;;
    stress)
        [[ "$SECONDS_ARG" =~ ^[1-9][0-9]*$ ]] || die "--seconds takes a positive number, not '$SECONDS_ARG'"
        PROFILE=release; build
        [ "$SMP_GIVEN" = 1 ] || SMP=4
        KTEST_TIMEOUT=$((SECONDS_ARG + 120))
        rc=0; boot_capture "$REPO/target/stress.log" "$APPEND stress=$SECONDS_ARG" | grep '^stress' || rc=${PIPESTATUS[0]}
        [ "$rc" -eq 33 ] || die "stress ended with $(status_word "$rc")" ;;
    bench)
        PROFILE=release; build
        [ "$SMP_GIVEN" = 1 ] || SMP=2
        rc=0; boot_capture "$REPO/target/bench.log" "$APPEND bench" >/dev/null || rc=$?
        grep '^bench:' "$REPO/target/bench.log"
        [ "$rc" -eq 33 ] || die "benchmark boot ended with $(status_word "$rc")"
        mkdir -p "$REPO/bench"
        {
            printf '{\n  "qemu": "%s",\n  "cmdline": "qemu-system-i386 -accel tcg,thread=multi -cpu qemu32 -m %s -smp %s",\n' \
                "$(qemu-system-i386 --version | head -n 1)" "$MEM" "$SMP"
            printf '  "host_cores": %s,\n  "date": "%s",\n  "results": [\n' "$(nproc)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
            sed -n 's/^bench-json: //p' "$REPO/target/bench.log" | sed '$!s/$/,/' | sed 's/^/    /'
            printf '  ]\n}\n'
        } > "$REPO/bench/results.json"
        echo "bench: wrote bench/results.json (plots: python3 bench/plot.py)" ;;
    runner)
        # cargo run / cargo test: the ELF cargo built. Test binaries live in deps/.
        KERNEL_ELF="$RUNNER_ELF"
        if [[ "$RUNNER_ELF" == */deps/* ]]; then
            TOTAL_PASSED=0; TOTAL_FAILED=0; FAILED_NAMES=(); run_suite "$FILTER"; summary
        else
            boot_interactive
        fi ;;
esac
