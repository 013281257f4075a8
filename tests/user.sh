# The user programs (user/) against two oracles of Linux's i386 ABI; one
# check of `./run-qemu.sh check`, and all of `./run-qemu.sh user-test`.
# Sourced by run-qemu.sh; uses $REPO, build_user, $USER_BIN and the
# runner's `pass` / `fail NAME` (tests/runner.sh).
#
# check_user_oracle builds the programs (build_user: static ELF32 i386
# executables in target/user/bin/, the files the initramfs will hold) and
# then, for each program:
#
#   * its ELF file (readelf -lhW): ET_EXEC for EM_386, no PT_INTERP, no
#     PT_DYNAMIC, the entry point inside the text segment, the text PT_LOAD
#     first at 0x08048000 holding the headers (offset 0), every PT_LOAD
#     page-aligned with one permission set (R+X text, R rodata, RW data and
#     bss, in that order, never W+X) and a non-executable PT_GNU_STACK;
#   * a run on the host's Linux, natively: the host is x86-64 with IA32
#     emulation, so this is real Linux behaviour and the oracle of record;
#   * a run under Debian's qemu-i386 (package qemu-user), which emulates
#     Linux's ABI in user space and is independent of the host's kernel
#     (it differs from Linux at a few edges: docs in
#     ../shared/reference/toolchain.md).
#
# A run passes when the exit status is the expected one and stdout and
# stderr are exactly the expected lines: the Nth line matches the Nth
# pattern (an extended regular expression for the whole line), no line
# missing, none extra. So a test program's check that stops running, or a
# `FAILED NAME: why` line, fails the run just as a wrong status does.
#
# Each run gets the same argv and environment (env -i, USER_TEST=oracle),
# fd 7 closed (syscall_abi writes to it and expects -EBADF), and
# $USER_TIMEOUT seconds.
USER_TIMEOUT=30

# What each program is run with and must print. @PID@ in a pattern stands
# for the pid the program was started with (the runner knows it: the
# program is exec'd in the process it started).
#
# user_spec NAME: set SPEC_STATUS, SPEC_ARGS (argv[1..]), SPEC_OUT and
# SPEC_ERR (the patterns for stdout and stderr, line by line), SPEC_IN
# (printf escapes written to its stdin through a pipe; empty: stdin is
# /dev/null, as for any background command); status 1 if
# there is no spec for NAME. USER_PROGRAMS lists the names it knows.
USER_PROGRAMS=(echoline execer forktest hello init memory panics sleeper startup stattest syscall_abi tls ubench)
user_spec() {
    SPEC_ARGS=(); SPEC_OUT=(); SPEC_ERR=(); SPEC_STATUS=0; SPEC_IN=""
    case "$1" in
        echoline)
            # Its standard input through a pipe (the console test types the
            # same lines into the console: tests/runner.sh).
            SPEC_IN='hello world\nthe quick brown fox jumps over\nac\n'
            SPEC_OUT=('hello world' 'the quick brown fox jumps over' 'ac' 'echoline: end of file after 46 bytes') ;;
        hello)
            SPEC_OUT=('hello from pid @PID@, ring 3') ;;
        init)
            SPEC_ARGS=(single)
            SPEC_OUT=('init: pid @PID@, ring 3: user space of the highmem teaching kernel'
                      'init: 2 argument\(s\), 1 environment string\(s\)') ;;
        execer)
            user_spec_checks execer execve_missing_file_enoent execve_kernel_pointer_efault \
                wait4_returns_the_child the_execd_child_exited_42 ;;
        forktest)
            user_spec_checks forktest fork_returns_the_childs_pid wait4_returns_the_child child_exit_status_7 \
                parents_copy_unchanged parents_bss_unchanged parents_own_write_kept no_more_children_echild \
                wait4_minus_1_reaps_the_child_that_ended_first then_the_other_one wait4_wexited_option_einval \
                wait4_int_min_esrch wait4_kernel_status_pointer_efault the_child_was_reaped_all_the_same ;;
        memory)
            user_spec_checks memory brk_0_is_the_current_break brk_grows brk_memory_zero_then_writable \
                brk_shrinks brk_below_the_start_is_refused mmap_anonymous mmap_reads_zero mmap_writable \
                munmap_middle_page the_rest_stays munmap_all mmap_fixed_where_asked munmap_fixed \
                mmap_zero_length_einval mmap_neither_shared_nor_private_einval munmap_misaligned_einval \
                munmap_zero_length_einval ;;
        panics)
            SPEC_ARGS=(a b)
            SPEC_STATUS=101
            SPEC_ERR=('panicked at user/src/bin/panics\.rs:[0-9]+:[0-9]+:'
                      'deliberate panic with 3 argument\(s\)') ;;
        startup)
            SPEC_ARGS=(one 'two words' '')
            SPEC_OUT=('argv\[0\] = .*/startup' 'argv\[1\] = one' 'argv\[2\] = two words' 'argv\[3\] = '
                      'env USER_TEST = oracle')
            user_spec_checks startup argc_at_least_1 argv_null_terminated argv0_is_a_name \
                auxv_pagesz_4096 auxv_entry_is_start auxv_phent_32 auxv_phdr_in_text \
                first_pt_load_is_rx_text auxv_random_present \
                data_initialised bss_reads_zero data_and_bss_writable ;;
        stattest)
            user_spec_checks stattest stat64_of_the_program_returns_0 it_is_a_regular_file_with_exec_bits \
                st_size_at_44_is_its_size st_blocks_at_56_cover_it st_blksize_at_52 __st_ino_at_12_is_st_ino_at_88 \
                exactly_96_bytes_written lstat64_of_a_file_is_its_stat64 fstat64_of_it_opened_says_the_same \
                root_is_a_directory fd_0_is_a_character_device stat64_null_path_efault stat64_kernel_buffer_efault \
                fstat64_null_buffer_efault stat64_empty_path_enoent stat64_missing_enoent stat64_file_as_directory_enotdir \
                lstat64_file_as_directory_enotdir fstat64_closed_fd_ebadf fstat64_fd_minus_one_ebadf failed_calls_write_nothing ;;
        syscall_abi)
            user_spec_checks syscall_abi enosys_past_the_table enosys_empty_slot enosys_minus_one \
                registers_kept_across_getpid registers_kept_across_enosys \
                '!syscall_abi: this whole line is one write\(1, buf, len\)' \
                write_returns_count write_zero_bytes_returns_0 write_kernel_address_efault \
                write_null_efault write_closed_fd_ebadf write_fd_minus_one_ebadf \
                sched_yield_returns_0 getpid_positive_and_stable ;;
        sleeper)
            user_spec_checks sleeper sleep_10ms sleep_zero nsec_too_big_einval negative_einval ;;
        tls)
            user_spec_checks tls set_thread_area_free_entry an_entry_number_came_back gs_reads_the_block \
                after_a_context_switch gs_sees_our_writes entry_3_einval bad_pointer_efault ;;
        ubench)
            # Figures, not checks: the lines must be there, with any numbers
            # (there is no /data/bench64M on the host, so no read figures).
            SPEC_OUT=('ubench: page_copy +[0-9]+ cycles$'
                      'ubench: anon_fault_per_page +[0-9]+ cycles +[0-9]+\.[0-9]+ x page_copy$'
                      'ubench: cow_fault_per_page +[0-9]+ cycles +[0-9]+\.[0-9]+ x page_copy$'
                      'ubench: fork_exit_wait +[0-9]+ cycles +[0-9]+\.[0-9]+ x page_copy$'
                      'ubench: fork_execve_wait +[0-9]+ cycles +[0-9]+\.[0-9]+ x page_copy$'
                      'ubench: no file to read \(/data/bench64M\): read figures skipped$') ;;
        *) return 1 ;;
    esac
}

# user_spec_checks PROGRAM CHECK...: a test program's lines: `ok CHECK` per
# check, in order (an argument starting with ! is a plain line pattern
# instead), then `PROGRAM: N passed, 0 failed`.
user_spec_checks() {
    local prog="$1" c n=0; shift
    for c in "$@"; do
        if [[ "$c" == '!'* ]]; then SPEC_OUT+=("${c#!}")
        else SPEC_OUT+=("ok $c"); n=$((n + 1)); fi
    done
    SPEC_OUT+=("$prog: $n passed, 0 failed")
}

# user_elf_problems ELF: one line per way ELF is not the executable user.ld
# promises; nothing if it is.
user_elf_problems() {
    readelf -lhW "$1" 2>&1 | awk '
        # 0x-prefixed hexadecimal to a number (mawk has no strtonum).
        function hex(s,    i, v) {
            s = tolower(s); sub(/^0x/, "", s); v = 0
            for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
            return v
        }
        /^  Class:/ && $2 != "ELF32" { print "class " $2 ", want ELF32" }
        /^  Type:/ { type = $2 }
        /^  Machine:/ { sub(/^  Machine: */, ""); machine = $0 }
        /^  Entry point address:/ { entry = hex($4) }
        /^  INTERP / { print "has a PT_INTERP (a static executable has no interpreter)" }
        /^  DYNAMIC / { print "has a PT_DYNAMIC (a static executable has no dynamic section)" }
        /^  GNU_STACK / { stack = $7 }
        /^  LOAD / {
            # Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg(1-3 words) Align
            n++; off = hex($2); va = hex($3); msz = hex($6); align = $NF
            flags = ""; for (i = 7; i < NF; i++) flags = flags (flags == "" ? "" : " ") $i
            if (align != "0x1000") print "PT_LOAD " n " has p_align " align ", want 0x1000"
            if (va % 4096 != 0 || off % 4096 != 0)
                printf "PT_LOAD %d at 0x%x (file offset 0x%x) does not start on a page\n", n, va, off
            if (flags == "RWE") print "PT_LOAD " n " is writable and executable"
            # The permissions must come in user.ld order, each at most once.
            rank = (flags == "R E") ? 1 : (flags == "R") ? 2 : (flags == "RW") ? 3 : 0
            if (rank == 0) print "PT_LOAD " n " has flags \"" flags "\", want R E, R or RW"
            else if (rank <= last) print "PT_LOAD " n " (" flags ") is out of order: want R E, then R, then RW"
            last = rank
            if (n == 1) {
                if (flags != "R E" || va != 134512640 || off != 0)   # 0x08048000
                    printf "first PT_LOAD is %s at 0x%x offset 0x%x, want R E at 0x8048000 offset 0\n", flags, va, off
                text_start = va; text_end = va + msz
            }
        }
        END {
            if (type != "EXEC") print "type " type ", want EXEC (ET_EXEC)"
            if (machine != "Intel 80386") print "machine " machine ", want Intel 80386 (EM_386)"
            if (n == 0) print "no PT_LOAD at all"
            else if (entry < text_start || entry >= text_end)
                printf "entry point 0x%x is outside the text segment 0x%x-0x%x\n", entry, text_start, text_end
            if (stack != "RW") print "PT_GNU_STACK is \"" stack "\", want RW (without it Linux makes i386 memory executable)"
        }'
}

# user_lines_problems FILE WHAT PATTERN...: one line saying how FILE's lines
# differ from the patterns (each an ERE for a whole line, in order);
# nothing if they match. WHAT names the stream in the message.
user_lines_problems() {
    local file="$1" what="$2"; shift 2
    local lines=() pats=("$@") i
    mapfile -t lines <"$file"
    for i in "${!pats[@]}"; do
        if [ "$i" -ge "${#lines[@]}" ]; then
            echo "$what line $((i + 1)) is missing (want /${pats[$i]}/)"; return
        fi
        if ! [[ "${lines[$i]}" =~ ^${pats[$i]}$ ]]; then
            echo "$what line $((i + 1)) is '${lines[$i]}', want /${pats[$i]}/"; return
        fi
    done
    if [ "${#lines[@]}" -gt "${#pats[@]}" ]; then
        echo "$what line $(( ${#pats[@]} + 1 )) is extra: '${lines[${#pats[@]}]}'"
    fi
}

# user_run HOW LOGDIR ELF: run one program natively (HOW=native) or under
# qemu-i386 (HOW=qemu-i386) as its spec says; pass or fail with a reason.
user_run() {
    local how="$1" logdir="$2" elf="$3" name; name="$(basename "$3")"
    local label="user program $name ($how)"
    user_spec "$name"
    local out="$logdir/$name.$how.out" err="$logdir/$name.$how.err" rc=0
    local cmd=("$elf"); [ "$how" = qemu-i386 ] && cmd=("$(command -v qemu-i386)" "$elf")
    # The subshell execs env, which execs the program (qemu-i386 runs the
    # guest in its own process too): $! is the pid the program reports.
    if [ -n "$SPEC_IN" ]; then
        printf '%b' "$SPEC_IN" | ( exec env -i USER_TEST=oracle "${cmd[@]}" "${SPEC_ARGS[@]}" >"$out" 2>"$err" 7>&- ) &
    else
        ( exec env -i USER_TEST=oracle "${cmd[@]}" "${SPEC_ARGS[@]}" >"$out" 2>"$err" 7>&- ) &
    fi
    local pid=$! timer first=""
    sleep "$USER_TIMEOUT" & timer=$!
    wait -n -p first "$pid" "$timer" || rc=$?
    if [ "$first" = "$timer" ]; then
        kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rc=137
    else
        kill "$timer" 2>/dev/null || true; wait "$timer" 2>/dev/null || true
    fi
    local pats=() p why=""
    for p in "${SPEC_OUT[@]}"; do pats+=("${p//@PID@/$pid}"); done
    if [ "$first" = "$timer" ]; then why="killed after $USER_TIMEOUT s"
    elif [ "$rc" = 126 ] && [ "$how" = native ]; then
        why="the host cannot execute it (exit status 126: $(head -n 1 "$err")); the native oracle needs an x86 Linux with IA32 emulation"
    elif [ "$rc" != "$SPEC_STATUS" ]; then
        why="exit status $rc, want $SPEC_STATUS"
        [ "$rc" -gt 128 ] && why="killed by SIG$(kill -l $((rc - 128))) (exit status $rc), want exit status $SPEC_STATUS"
        local failed; failed="$(grep -m 1 '^FAILED ' "$out" || true)"
        [ -n "$failed" ] && why="$why; it says '$failed'"
    else
        why="$(user_lines_problems "$out" stdout "${pats[@]}")"
        [ -n "$why" ] || why="$(user_lines_problems "$err" stderr "${SPEC_ERR[@]}")"
    fi
    if [ -z "$why" ]; then
        echo "$label ... ok"; pass
    else
        echo "$label ... FAILED: $why (output in ${logdir#"$REPO/"}/$name.$how.{out,err})"
        fail "$label: $why"
    fi
}

# The native oracle is only native if nothing routes i386 ELF files to an
# emulator: a binfmt_misc entry for qemu-i386 would turn "native" into a
# second qemu-i386 run. Prints the entry's name if there is one.
# user_native_is_emulated [DIR]: DIR is binfmt_misc's directory.
user_native_is_emulated() {
    local f
    for f in "${1:-/proc/sys/fs/binfmt_misc}"/*; do
        [ -f "$f" ] || continue
        grep -qx enabled "$f" 2>/dev/null && grep -q '^interpreter .*qemu-i386' "$f" 2>/dev/null \
            && { basename "$f"; return 0; }
    done
    return 1
}

# The judges above decide pass or fail; if one waved everything through,
# the oracle would too. user_oracle_judges_problems ELF: feed them broken
# input (a copy of ELF with one header field changed, output that differs
# from its patterns, a binfmt_misc entry for qemu-i386) and print a line
# for each verdict that is not the expected message.
user_oracle_judges_problems() {
    local elf="$1" tmp; tmp="$(mktemp -d)"
    [ -z "$(user_elf_problems "$elf")" ] || echo "ELF judge: the good $elf has problems: $(user_elf_problems "$elf")"
    # elf_with FIELD: a copy of ELF with FIELD broken, for user_elf_problems.
    local field want got
    while IFS='|' read -r field want; do
        python3 - "$elf" "$tmp/$field" "$field" <<'PY'
import struct, sys
src, dst, field = sys.argv[1:]
b = bytearray(open(src, "rb").read())
phoff, = struct.unpack_from("<I", b, 28)
phnum, = struct.unpack_from("<H", b, 44)
ph = lambda i: phoff + 32 * i
kinds = [struct.unpack_from("<I", b, ph(i))[0] for i in range(phnum)]
stack = ph(kinds.index(0x6474e551))          # PT_GNU_STACK
if field == "type": struct.pack_into("<H", b, 16, 3)                  # ET_DYN
elif field == "machine": struct.pack_into("<H", b, 18, 62)            # EM_X86_64
elif field == "entry": struct.pack_into("<I", b, 24, 0x1000)
elif field == "text_wx": struct.pack_into("<I", b, ph(0) + 24, 7)     # RWX
elif field == "text_align": struct.pack_into("<I", b, ph(0) + 28, 16)
elif field == "stack_exec": struct.pack_into("<I", b, stack + 24, 7)
elif field == "dynamic": struct.pack_into("<I", b, stack, 2)          # PT_DYNAMIC
open(dst, "wb").write(b)
PY
        got="$(user_elf_problems "$tmp/$field")"
        grep -qF -- "$want" <<<"$got" || echo "ELF judge: with $field broken it said '${got//$'\n'/; }', want '$want'"
    done <<'CASES'
type|type DYN, want EXEC (ET_EXEC)
machine|machine Advanced Micro Devices X86-64, want Intel 80386 (EM_386)
entry|entry point 0x1000 is outside the text segment
text_wx|PT_LOAD 1 is writable and executable
text_align|PT_LOAD 1 has p_align 0x10, want 0x1000
stack_exec|PT_GNU_STACK is "RWE", want RW
dynamic|has a PT_DYNAMIC
CASES
    # Output against patterns.
    printf 'ok a\nok b\n' >"$tmp/out"
    local c pats
    while IFS='|' read -r want pats; do
        local arr=(); [ -n "$pats" ] && IFS=';' read -r -a arr <<<"$pats"
        got="$(user_lines_problems "$tmp/out" stdout "${arr[@]}")"
        [ "$got" = "$want" ] || echo "lines judge: patterns '$pats' gave '$got', want '$want'"
    done <<'CASES'
|ok a;ok b
|ok .;ok [a-z]
stdout line 3 is missing (want /ok c/)|ok a;ok b;ok c
stdout line 2 is extra: 'ok b'|ok a
stdout line 1 is extra: 'ok a'|
stdout line 2 is 'ok b', want /ok c/|ok a;ok c
stdout line 1 is 'ok a', want /ok/|ok;ok b
CASES
    # A binfmt_misc entry that sends i386 programs to qemu-i386.
    mkdir -p "$tmp/binfmt"
    printf 'enabled\ninterpreter /usr/libexec/qemu-binfmt/i386-binfmt-P\n' >"$tmp/binfmt/other"
    got="$(user_native_is_emulated "$tmp/binfmt" || true)"
    [ -z "$got" ] || echo "binfmt judge: an entry for another interpreter counted as qemu-i386 ('$got')"
    printf 'enabled\ninterpreter /usr/bin/qemu-i386-static\nflags: F\n' >"$tmp/binfmt/qemu-i386"
    got="$(user_native_is_emulated "$tmp/binfmt" || true)"
    [ "$got" = qemu-i386 ] || echo "binfmt judge: an enabled qemu-i386 entry gave '$got', want 'qemu-i386'"
    printf 'disabled\ninterpreter /usr/bin/qemu-i386-static\n' >"$tmp/binfmt/qemu-i386"
    got="$(user_native_is_emulated "$tmp/binfmt" || true)"
    [ -z "$got" ] || echo "binfmt judge: a disabled qemu-i386 entry counted ('$got')"
    rm -rf "$tmp"
}

check_user_oracle() {
    local logdir="$REPO/target/user/oracle"
    echo "== user programs: ELF layout, run natively on the host's Linux and under qemu-i386 =="
    if ! build_user; then
        fail "user programs: build_user failed (see the cargo output above)"
        return
    fi
    rm -rf "$logdir"; mkdir -p "$logdir"
    local judges
    judges="$(user_oracle_judges_problems "$USER_BIN/hello")"
    if [ -z "$judges" ]; then echo "user oracle judges (ELF, output lines, binfmt_misc) ... ok"; pass
    else
        echo "user oracle judges ... FAILED:"; echo "$judges" | sed 's/^/    /'
        fail "user oracle judges: $(echo "$judges" | head -n 1)"
    fi
    local elf name progs=0 emulated=""
    emulated="$(user_native_is_emulated)" || true
    for elf in "$USER_BIN"/*; do
        name="$(basename "$elf")"; progs=$((progs + 1))
        if ! user_spec "$name"; then
            echo "user program $name ... FAILED: no expected output for it in tests/user.sh (user_spec)"
            fail "user program $name: tests/user.sh has no user_spec for it"
            continue
        fi
        local problems
        problems="$(user_elf_problems "$elf")"
        if [ -z "$problems" ]; then echo "user ELF $name ... ok"; pass
        else
            echo "user ELF $name ... FAILED:"; echo "$problems" | sed 's/^/    /'
            fail "user ELF $name: $(echo "$problems" | head -n 1)"
        fi
        if [ -n "$emulated" ]; then
            echo "user program $name (native) ... FAILED: binfmt_misc entry '$emulated' runs i386 programs under qemu-i386, so the host run is not native"
            fail "user program $name (native): binfmt_misc '$emulated' makes it an emulator run"
        else
            user_run native "$logdir" "$elf"
        fi
        if command -v qemu-i386 >/dev/null 2>&1; then
            user_run qemu-i386 "$logdir" "$elf"
        else
            echo "user program $name (qemu-i386) ... FAILED: qemu-i386 is not installed (./run-qemu.sh setup installs qemu-user)"
            fail "user program $name (qemu-i386): qemu-i386 not installed (run ./run-qemu.sh setup)"
        fi
    done
    if [ "$progs" -eq 0 ]; then
        fail "user programs: build_user left no program in ${USER_BIN#"$REPO/"}"
    fi
    # Every program with a spec was built: one that vanished from
    # user/src/bin/ is not silently dropped from the checks.
    for name in "${USER_PROGRAMS[@]}"; do
        [ -f "$USER_BIN/$name" ] || fail "user program $name: not built (no ${USER_BIN#"$REPO/"}/$name)"
    done
}
