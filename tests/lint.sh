# Lints, as one check of `./run-qemu.sh check`; sourced by tests/runner.sh
# (it uses $REPO and the runner's `pass` / `fail NAME`).
#
# check_lints runs clippy with `-D warnings` twice:
#
#   * the kernel and the user programs, for their target (i686-kernel.json,
#     build-std): the kernel crate with the in-kernel tests of tests/*.rs,
#     which are compiled into it, and the user crate's runtime and every
#     program in user/src/bin/. Dev and release see the same code (the only
#     debug_assertions tests are `cfg!()`, which compiles both branches),
#     so one profile is enough;
#   * the host crates mm and boot with --all-targets (their unit tests
#     too), from outside the tree: inside it, .cargo/config.toml would force
#     the kernel target.
#
# Before that it checks that the project's SAFETY rule is still enforced by
# the compiler rather than by habit: the workspace denies
# clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc and
# unsafe_op_in_unsafe_fn, every crate opts into the workspace lints, and no
# source file allows one of the three.
#
# Any finding counts as one failure, named after the lints that fired; each
# finding is printed as `LINT at FILE:LINE: MESSAGE`, and the whole clippy
# output is in target/lint.log.

# The lints that keep "every unsafe block says why it is sound" true,
# with the Cargo.toml table each must be denied in.
SAFETY_LINTS=(
    "workspace.lints.clippy undocumented_unsafe_blocks"
    "workspace.lints.clippy missing_safety_doc"
    "workspace.lints.rust unsafe_op_in_unsafe_fn"
)
LINT_CRATES=(kernel mm boot user)

# lint_level TOML TABLE KEY: the level KEY is given in [TABLE] of TOML
# ("deny", "forbid", ... or nothing), from `KEY = "LEVEL"` or
# `KEY = { level = "LEVEL", ... }`.
lint_level() {
    awk -v table="[$2]" -v key="$3" '
        /^[ \t]*\[/ { here = ($1 == table); next }
        here && $1 == key {
            line = $0; sub(/^[^=]*=[ \t]*/, "", line)
            if (match(line, /"[a-z]+"/)) print substr(line, RSTART + 1, RLENGTH - 2)
            exit
        }' "$1"
}

# safety_rule_problems: print one line per way the SAFETY rule is no longer
# enforced; nothing if it is.
safety_rule_problems() {
    local entry table lint level crate
    for entry in "${SAFETY_LINTS[@]}"; do
        read -r table lint <<<"$entry"
        level=$(lint_level "$REPO/Cargo.toml" "$table" "$lint")
        case "$level" in
            deny|forbid) ;;
            "") echo "Cargo.toml: [$table] does not set $lint (it must be \"deny\")" ;;
            *) echo "Cargo.toml: [$table] sets $lint to \"$level\" (it must be \"deny\")" ;;
        esac
    done
    for crate in "${LINT_CRATES[@]}"; do
        awk '/^[ \t]*\[/ { here = ($1 == "[lints]"); next }
             here && $1 == "workspace" && $0 ~ /=[ \t]*true/ { found = 1 }
             END { exit !found }' "$REPO/$crate/Cargo.toml" \
            || echo "$crate/Cargo.toml: no '[lints] workspace = true', so the workspace lints do not apply to $crate"
    done
    # An allow (or expect, or warn) in the source would switch a lint off
    # where it matters.
    local pat='(allow|expect|warn)\([^)]*(undocumented_unsafe_blocks|missing_safety_doc|unsafe_op_in_unsafe_fn)'
    grep -rnE --include='*.rs' "$pat" "$REPO/kernel" "$REPO/mm" "$REPO/boot" "$REPO/user" "$REPO/tests" 2>/dev/null \
        | sed "s|^$REPO/||; s|\$|  (the SAFETY lints may not be relaxed in the source)|"
}

# clippy_findings LOG: one `LINT at FILE:LINE: MESSAGE` line per diagnostic
# in cargo's human-readable output. The lint comes from clippy's help link,
# else the `-D lint` or `#[deny(lint)]` note (rustc lints), else the error
# code (a plain compile error).
clippy_findings() {
    awk '
        function flush() {
            if (lint == "") lint = (code == "" ? "error" : code)
            if (msg != "") print lint " at " (loc == "" ? "?" : loc) ": " msg
            msg = ""; loc = ""; lint = ""; code = ""
        }
        /^(error|warning)(\[E[0-9]+\])?: / {
            flush()
            if ($0 ~ /could not compile|generated [0-9]+ warnings?|aborting due to|build failed/) next
            msg = $0; sub(/^[a-z]+(\[E[0-9]+\])?: /, "", msg)
            if (match($0, /\[E[0-9]+\]/)) code = substr($0, RSTART + 1, RLENGTH - 2)
            next
        }
        msg == "" { next }
        loc == "" && /^ *--> / {
            # file:line, with the "kernel/src/../../" of the #[path] tests
            # folded away.
            loc = $2; sub(/:[0-9]+$/, "", loc)
            while (sub(/[^\/.][^\/]*\/\.\.\//, "", loc)) ;
        }
        /index\.html#[a-z_]+/ { match($0, /index\.html#[a-z_]+/); lint = "clippy::" substr($0, RSTART + 11, RLENGTH - 11) }
        lint == "" && /`-D [a-z:_-]+`/ {
            match($0, /`-D [a-z:_-]+`/); lint = substr($0, RSTART + 4, RLENGTH - 5); gsub(/-/, "_", lint)
        }
        lint == "" && /#\[(deny|forbid)\([a-z:_]+\)\]/ {
            match($0, /#\[(deny|forbid)\([a-z:_]+\)\]/); lint = substr($0, RSTART, RLENGTH)
            sub(/^#\[[a-z]+\(/, "", lint); sub(/\)\]$/, "", lint)
        }
        END { flush() }' "$1"
}

# The kernel is soft-float (i686-kernel.json: -mmx,-sse,-sse2,+soft-float):
# whatever the x87/MMX/SSE registers hold in the kernel belongs to the user
# program that ran last, and only arch/x86/kernel/fpu.rs saves, restores and
# initialises them (eagerly, at the context switch, exec and fork). An x87
# or SSE instruction anywhere else (a float, an f64 format, a 64-bit atomic
# lowered through the x87's fild/fistp, an SSE memcpy) would corrupt some
# program's registers unseen. So the kernel's code is disassembled and
# every such instruction named, except the five the FPU code needs.
KERNEL_FPU_ALLOWED='fxsave|fxrstor|fnsave|frstor|fninit'

# kernel_fpu_instructions ELF: each x87, MMX or SSE instruction in ELF's
# code but the allowed ones, as `FUNCTION: INSTRUCTION`; nothing if none.
kernel_fpu_instructions() {
    objdump -d --no-show-raw-insn "$1" | awk -v allowed="^($KERNEL_FPU_ALLOWED)\$" '
        /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/^<|>:$/, "", fn); next }
        /^ *[0-9a-f]+:\t/ {
            insn = $0; sub(/^ *[0-9a-f]+:\t/, "", insn)
            n = split(insn, w, /[ \t]+/); m = w[1]
            if (m ~ /^(lock|rep|repz|repnz|repe|repne|data16|addr16|cs|ds|es|fs|gs|ss)$/ && n > 1) m = w[2]
            x87 = (m ~ /^f/ && m !~ allowed)
            simd = (insn ~ /%(x|y|z)?mm[0-9]|%st/) || m ~ /mxcsr$|^emms$/
            if (x87 || simd) print fn ": " insn
        }'
}

# check_kernel_soft_float: build the kernel (dev profile, as `test` does)
# and pass if kernel_fpu_instructions finds nothing in it.
check_kernel_soft_float() {
    local elf="$REPO/target/i686-kernel/debug/kernel" found
    echo "== soft-float kernel: no x87/MMX/SSE instruction outside the FPU's save/restore/init =="
    if ! (cd "$REPO" && cargo build -p kernel >/dev/null 2>&1); then
        fail "soft-float kernel: the kernel did not build"
        return
    fi
    found=$(kernel_fpu_instructions "$elf")
    if [ -z "$found" ]; then
        echo "soft-float kernel: clean (only ${KERNEL_FPU_ALLOWED//|/, })"
        pass
    else
        echo "$found" | head -20 | sed 's/^/    /'
        fail "soft-float kernel: $(echo "$found" | wc -l) x87/MMX/SSE instruction(s) outside the FPU code (they would change some program's registers)"
    fi
}

check_lints() {
    local log="$REPO/target/lint.log" tc problems=() findings rc=0
    tc=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$REPO/rust-toolchain.toml")
    mkdir -p "$REPO/target"
    check_kernel_soft_float
    echo "== lints: SAFETY rule, clippy -D warnings (kernel target: kernel, user; host crates mm, boot; both flavours) =="

    mapfile -t problems < <(safety_rule_problems)
    if [ "${#problems[@]}" -gt 0 ]; then
        printf '    %s\n' "${problems[@]}"
        local more=""; [ "${#problems[@]}" -gt 1 ] && more=" (and $(( ${#problems[@]} - 1 )) more)"
        fail "lints: the SAFETY-comment rule is no longer enforced: ${problems[0]}$more"
        return
    fi
    if ! cargo "+$tc" clippy --version >/dev/null 2>&1; then
        echo "    clippy is not installed for $tc: rustup component add clippy --toolchain $tc"
        fail "lints: clippy is not installed for $tc (rustup component add clippy --toolchain $tc)"
        return
    fi

    {
        echo "### kernel target: cargo clippy -p kernel -p user -- -D warnings"
        (cd "$REPO" && cargo "+$tc" clippy -p kernel -p user -- -D warnings 2>&1) || rc=1
        echo "### host: cargo clippy -p mm -p boot --all-targets -- -D warnings (from /)"
        (cd / && cargo "+$tc" clippy --manifest-path "$REPO/Cargo.toml" -p mm -p boot \
            --target-dir "$REPO/target/host" --all-targets -- -D warnings 2>&1) || rc=1
        # The 686-pae flavour: its own code paths (3-level tables, 64-bit
        # entries) under the same rules, in its own target directory.
        # (check leaves the kernel's pass out, LINT_PAE_KERNEL=0: a second
        # full compile of the kernel under clippy costs CI a minute, and
        # check builds and boots the 686-pae kernel anyway.)
        if [ "${LINT_PAE_KERNEL:-1}" = 1 ]; then
            echo "### kernel target, 686-pae: cargo clippy -p kernel --features pae -- -D warnings"
            (cd "$REPO" && cargo "+$tc" clippy -p kernel --features pae --target-dir "$REPO/target/pae" -- -D warnings 2>&1) || rc=1
        fi
        echo "### host, pae: cargo clippy -p mm --features pae --all-targets -- -D warnings (from /)"
        (cd / && cargo "+$tc" clippy --manifest-path "$REPO/Cargo.toml" -p mm --features pae \
            --target-dir "$REPO/target/host-pae" --all-targets -- -D warnings 2>&1) || rc=1
    } > "$log"

    findings=$(clippy_findings "$log" | sort -u)
    if [ "$rc" -eq 0 ] && [ -z "$findings" ]; then
        echo "lints: clean"
        pass
        return
    fi
    if [ -n "$findings" ]; then
        echo "$findings" | sed 's/^/    /'
    else
        # cargo failed without a diagnostic (a broken manifest, a missing
        # target): show the end of its output.
        tail -n 20 "$log" | sed 's/^/    /'
    fi
    local names
    names=$(echo "$findings" | awk 'NF { print $1 }' | sort | uniq -c | awk '{ printf "%s%s x%d", sep, $2, $1; sep = ", " }')
    fail "lints: ${names:-cargo clippy failed} (see target/lint.log)"
}
