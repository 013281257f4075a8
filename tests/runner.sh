# The host side of the in-kernel test suite; sourced by run-qemu.sh.
#
# A kernel cannot unwind, so the runner drives the suite over several boots:
#
#   1. `test_list=FILTER`   the kernel prints every selected test's name, and
#                           marks the ones that end the boot (expected panics
#                           and faults);
#   2. `test=FILTER`        one boot runs all tests that return normally; if a
#                           test fails (panics) or hangs, the boot ends there,
#                           and the runner boots again with `test_after=NAME`
#                           to run the rest;
#   3. `test_one=NAME`      one boot for each test that ends the boot; for a
#                           test of the plain panic path the runner itself
#                           checks the message, location and exit status.
#
# It counts results from the kernel's `test NAME ... ok|FAILED` lines, names
# a test that hung (QEMU killed after $KTEST_TIMEOUT seconds), and ends with
# `N passed, N failed`.

TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
FAILED_NAMES=()

pass() { TOTAL_PASSED=$((TOTAL_PASSED + 1)); }
fail() { TOTAL_FAILED=$((TOTAL_FAILED + 1)); FAILED_NAMES+=("$1"); }

# The configuration in words, for failure lists.
config_name() {
    local how="-kernel"; [ "$ISO" = 1 ] && how="grub"
    echo "$how -m $MEM -smp $SMP${BIOS:+ -bios $(basename "$BIOS")}${APPEND:+ [$APPEND]}"
}

# Count ok/FAILED lines of one boot's log; echo the name of the last test
# that started but printed no result (it crashed the boot or hung).
tally_log() {
    local log="$1" name
    while IFS= read -r name; do pass; done < <(sed -n 's/^test \([^ ]*\) \.\.\. ok.*/\1/p' "$log")
    while IFS= read -r name; do fail "$name ($(config_name))"; done \
        < <(sed -n 's/^test \([^ ]*\) \.\.\. FAILED.*/\1/p' "$log")
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + $(grep -c '^test [^ ]* \.\.\. skipped' "$log" || true)))
}

last_started() {
    grep -o '^test [^ ]* \.\.\.' "$1" | tail -n 1 | awk '{print $2}'
}

has_result() {
    grep -Eq "^test $2 \.\.\. (ok|FAILED|skipped)" "$1"
}

# run_suite FILTER: the whole in-kernel suite (or the tests matching FILTER)
# in the current configuration.
run_suite() {
    local filter="$1" logdir="$REPO/target/ktest"
    mkdir -p "$logdir"
    local sel=""; [ -n "$filter" ] && sel="=$filter"
    local base="$APPEND test_expect_mem=$MEM test_expect_cpus=$SMP"
    echo "== in-kernel suite: $(config_name)${filter:+, filter '$filter'} =="

    # 1. The list.
    local rc=0
    boot_capture "$logdir/list.log" "$base test_list$sel" >/dev/null || rc=$?
    if [ "$rc" -ne 33 ]; then
        fail "listing tests ($(config_name)): $(status_word "$rc")"
        tail -n 20 "$logdir/list.log"
        return
    fi
    local normal=() ending=() kpanic=() kpanic_msg=()
    while IFS= read -r line; do
        local name; name=$(echo "$line" | awk '{print $2}')
        if [[ "$line" == *"[ends boot: kernel panic with '"* ]]; then
            kpanic+=("$name"); kpanic_msg+=("$(echo "$line" | sed "s/.*kernel panic with '\(.*\)'\]$/\1/")")
        elif [[ "$line" == *"[ends boot"* || "$line" == *"[own boot"* ]]; then ending+=("$name")
        else normal+=("$name"); fi
    done < <(grep '^test ' "$logdir/list.log")
    echo "ktest: ${#normal[@]} tests in one boot, $(( ${#ending[@]} + ${#kpanic[@]} )) that end the boot run one per boot"

    # 2. The tests that return, resuming after any that crash or hang.
    local after="" boot=0
    while [ "${#normal[@]}" -gt 0 ]; do
        boot=$((boot + 1))
        local log="$logdir/suite-$boot.log"
        rc=0
        boot_capture "$log" "$base test$sel${after:+ test_after=$after}" || rc=$?
        tally_log "$log"
        [ "$rc" -eq 33 ] && break
        local last; last=$(last_started "$log")
        if [ -z "$last" ]; then
            fail "suite boot $boot ($(config_name)): ended with $(status_word "$rc") before any test ran"
            break
        fi
        if ! has_result "$log" "$last"; then
            if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                echo "ktest: test $last hung: QEMU killed after ${KTEST_TIMEOUT}s"
                fail "$last ($(config_name)): hung, killed after ${KTEST_TIMEOUT}s"
            else
                echo "ktest: test $last ended the boot with $(status_word "$rc") and no result"
                fail "$last ($(config_name)): ended the boot with $(status_word "$rc")"
            fi
        fi
        # Anything left after the one that ended the boot?
        local i rest=0
        for i in "${!normal[@]}"; do
            [ "${normal[$i]}" = "$last" ] && rest=$(( ${#normal[@]} - i - 1 ))
        done
        [ "$rest" -gt 0 ] || break
        after="$last"
    done

    # 3. One boot per test that is expected to end the boot.
    local name
    for name in "${ending[@]}"; do
        local log="$logdir/one-${name//[^A-Za-z0-9_]/_}.log"
        rc=0
        boot_capture "$log" "$base test_one=$name" || rc=$?
        if has_result "$log" "$name"; then
            tally_log "$log"
        elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "ktest: test $name hung: QEMU killed after ${KTEST_TIMEOUT}s"
            fail "$name ($(config_name)): hung, killed after ${KTEST_TIMEOUT}s"
        else
            fail "$name ($(config_name)): ended with $(status_word "$rc") and no result"
        fi
    done

    # 4. Tests of the plain panic path: judged here, from the outside.
    local i
    for i in "${!kpanic[@]}"; do
        name="${kpanic[$i]}"
        local msg="${kpanic_msg[$i]}" log="$logdir/one-${name//[^A-Za-z0-9_]/_}.log"
        rc=0
        boot_capture "$log" "$base test_one=$name" >/dev/null || rc=$?
        if [ "$rc" -eq 35 ] && grep -qF "Kernel panic - not syncing: $msg" "$log" \
            && grep -Eq '^  at [^ ]+:[0-9]+:[0-9]+$' "$log"; then
            echo "test $name ... ok (kernel panic: message, location, failure status)"; pass
        else
            echo "test $name ... FAILED: wanted status 35, 'Kernel panic - not syncing: $msg' and its location"
            tail -n 5 "$log"
            fail "$name ($(config_name)): $(status_word "$rc")"
        fi
    done
}

# expect_boot NAME ARGS STATUS PATTERN...: boot once with kernel command line
# ARGS; pass if QEMU ends with STATUS (33 or 35) and every PATTERN (an
# extended regular expression) matches some line of the output.
expect_boot() {
    local name="$1" args="$2" want="$3"; shift 3
    local log="$REPO/target/ktest/scenario-${name//[^A-Za-z0-9_]/_}.log" rc=0
    echo "== boot scenario: $name ($(config_name)) =="
    boot_capture "$log" "$args" >/dev/null || rc=$?
    local ok=1 why=""
    if [ "$rc" -ne "$want" ]; then ok=0; why="ended with $(status_word "$rc"), expected $(status_word "$want")"; fi
    local pat
    for pat in "$@"; do
        if ! grep -Eq -- "$pat" "$log"; then ok=0; why="${why:+$why; }no line matches /$pat/"; fi
    done
    if [ "$ok" = 1 ]; then
        echo "scenario $name ... ok"; pass
    else
        echo "scenario $name ... FAILED: $why"; tail -n 30 "$log"
        fail "scenario $name ($(config_name)): $why"
    fi
}

# expect_console NAME INPUT PATTERN...: boot to the console, type INPUT
# (printf escapes, e.g. 'help\npoweroff\n'), pass if QEMU leaves with
# success (the last command should be poweroff) and every PATTERN matches.
expect_console() {
    local name="$1" input="$2"; shift 2
    CONSOLE_INPUT="$input" expect_boot "console: $name" "loglevel=warn" 33 "$@"
}

# The console, driven by typing into it.
check_console() {
    MEM=3G; SMP=2
    expect_console "help, unknown commands and bad arguments" 'help\nfrobnicate\ntrace maybe\ndemo\ndemo nonsense\npoweroff\n' \
        '^  pkmap +the 1024 PKMAP slots' '^  demo NAME' '^keys: Up/Down history' "unknown command 'frobnicate': type 'help'" \
        '^usage: trace on\|off' '^usage: demo NAME' "^demo: no demo 'nonsense'; the demos are: wrap, preempt, sleep, misuse$" '^poweroff$'
    # Line editing (kernel/src/tools/readline.rs). Each line is typed with
    # the keys' escape sequences; a command's output shows that the line
    # the editor produced was exactly that command.
    # Left x5 then 'e': mminfo -> meminfo; Home 'l' End: ayout -> layout;
    # VT220 Home/End (ESC[1~ ESC[4~): one -> zones; Ctrl-A 't' Ctrl-E:
    # asks -> tasks; Home Right Delete: pkkmap -> pkmap; Left x3 Backspace:
    # hxelp -> help; SS3 arrows (ESC O D, ESC O C) and an unknown sequence
    # (ESC[1;5C, Ctrl-Right) are swallowed whole: frobX -> frob.
    expect_console "line editing: cursor keys insert in the middle, Home/End, Backspace/Delete" \
        'mminfo\x1b[D\x1b[D\x1b[D\x1b[D\x1b[De\nayout\x1b[Hl\x1b[F\none\x1b[1~z\x1b[4~s\nasks\x01t\x05\npkkmap\x1b[H\x1b[C\x1b[3~\nhxelp\x1b[D\x1b[D\x1b[D\x7f\nfrobX\x1bOD\x1bOC\x1b[1;5C\x7f\npoweroff\n' \
        '^HighTotal: +[1-9][0-9]+ kB' '^lowmem ends at pfn 0x38000' '^zone +managed +free +o0' ' kinit +[0-9] running' \
        '^PKMAP: 1024 slots' '^  meminfo +memory totals' "unknown command 'frob': type 'help'" '^poweroff$'
    # History: Up Up Down recalls the second line (banana -> bananas); Up
    # past the oldest stays there (apple -> applet); Down past the newest
    # gives back the half-typed line (fro -> frob5); a line repeated is kept
    # once (Up Up after cherry twice: frob5 -> frob5x); Up and Enter runs the
    # previous command again (pkmap twice).
    expect_console "line editing: Up/Down walk the history" \
        'apple\nbanana\n\x1b[A\x1b[A\x1b[Bs\n\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[At\nfro\x1b[A\x1b[A\x1b[B\x1b[Bb5\ncherry\ncherry\n\x1b[A\x1b[Ax\npkmap\n\x1b[A\npoweroff\n' \
        "unknown command 'bananas': type 'help'" "unknown command 'applet': type 'help'" "unknown command 'frob5': type 'help'" \
        "unknown command 'frob5x': type 'help'" '^PKMAP: 1024 slots' '^poweroff$'
    local runs
    runs=$(grep -c '^PKMAP: 1024 slots' "$REPO/target/ktest/scenario-console__line_editing__Up_Down_walk_the_history.log" || true)
    [ "$runs" = 2 ] || fail "console line editing: Up and Enter should run pkmap a second time: it ran $runs time(s)"
    # Ctrl-C abandons a line (not kept in the history: Up then gives
    # frob7); Ctrl-U erases from the start of the line to the cursor.
    expect_console "line editing: Ctrl-C abandons the line, Ctrl-U erases it" \
        'frob7\nxyz\x03\x1b[A1\ngarbage\x15meminfo\nxxlayout\x1b[H\x1b[C\x1b[C\x15\npoweroff\n' \
        'xyz\^C$' "unknown command 'frob71': type 'help'" '^HighTotal: +[1-9][0-9]+ kB' '^lowmem ends at pfn 0x38000' '^poweroff$'
    # No key's escape sequence ever reaches a command line.
    local log
    for log in "$REPO"/target/ktest/scenario-console__line_editing*.log; do
        if grep -Eq "unknown command '.*(\[|O[A-D])" "$log"; then
            fail "console line editing: an escape sequence was typed into a line (see $log)"
        fi
    done
    expect_console "meminfo, layout, zones" 'meminfo\nlayout\nzones\npoweroff\n' \
        '^HighTotal: +[1-9][0-9]+ kB' '^nr_free_highpages: +[0-9]+ pages' '^PKMAP: maps [0-9]+ reuses' \
        '^    pkmap   : 0xff800000 - 0xffc00000' '^lowmem ends at pfn 0x38000 \(896 MiB\)' \
        '^HighMem +557024 +[0-9]+ ' '^zone +managed +free +o0'
    expect_console "pkmap and tasks" 'pkmap\ntasks\npoweroff\n' \
        '^PKMAP: 1024 slots' '^ 960 [.u0-9+]{64}$' '^free [0-9]+, unused [0-9]+, in use 0; waiters 0' \
        '^ *pid name +cpu state' ' kinit +[0-9] running' ' swapper/1 +1 '
    expect_console "trace shows kmap_local map and unmap" 'trace on\ntest kmap_local::highmem_map_takes\ntrace off\npoweroff\n' \
        'trace: cpu [0-9] ktest/[0-9]+: kmap_local: map slot 0 \(0x[0-9a-f]+\) <- pfn 0x' \
        'kmap_local: unmap slot 0 .*invlpg on this CPU only' '^1 passed, 0 failed'
    expect_console "demo wrap" 'demo wrap\npoweroff\n' \
        'demo: .* new mappings and not one TLB flush' 'kmap: flush_all_zero_pkmaps: unused slots cleared; one TLB flush' \
        'demo: Wraps [0-9]+ -> [0-9]+, flushes [0-9]+ -> [0-9]+'
    expect_console "demo preempt" 'demo preempt\npoweroff\n' \
        'sched_out demo-[ab]/[0-9]+: cleared slot 0' 'sched_in demo-[ab]/[0-9]+: restored slot 0' \
        'demo: Both used 0x[0-9a-f]+; 2 of 2 read their own page back'
    expect_console "demo sleep" 'demo sleep\npoweroff\n' \
        'kmap: all 1024 slots in use: pfn 0x[0-9a-f]+ sleeps on pkmap_map_wait' \
        'demo: It sleeps \(uninterruptibly\) on pkmap_map_wait: 1 waiter' 'kunmap: waking the tasks waiting for a slot'
    expect_console "demo misuse" 'demo misuse\npoweroff\n' \
        'BUG: kunmap_local\(0x[0-9a-f]+\) out of order' 'kmap_local: unmap slot 1 .*' 'kmap_local: unmap slot 0 .*'
    # The console-test boots a debug build: bench refuses and names the
    # command that runs the real benchmark.
    expect_console "test from the console; bench refuses a debug build" 'test harness::a_returning\nbench\npoweroff\n' \
        '^test harness::a_returning_test_passes \.\.\. ok' '^bench: this is a debug build' 'bench: run the benchmark in a release build: \./run-qemu\.sh bench'
    SMP=1
}

# gdb attached to QEMU's stub: stop inside kmap_local during 'demo misuse'
# and check what the commands of kernel/gdb/highmem.py show.
check_gdb() {
    local log="$REPO/target/ktest/gdb.log" elf="$KERNEL_ELF" port=$((20000 + RANDOM % 20000))
    echo "== gdb: kernel/gdb/highmem.py against a stopped kernel =="
    { sleep 8; printf 'demo misuse\n'; sleep 20; } | timeout 60 qemu-system-i386 -accel tcg,thread=multi -cpu qemu32 -m 3G -smp 1 \
        -display none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio -monitor none \
        -kernel "$elf" -append "loglevel=warn" -gdb "tcp::$port" -S > "$REPO/target/ktest/gdb-serial.log" 2>&1 &
    local qemu=$!
    sleep 1
    timeout 50 gdb -batch -nx -x "$REPO/kernel/gdb/highmem.py" "$elf" \
        -ex "target remote :$port" -ex 'break kernel::mm::kmap_local::__kmap_local_pfn_prot' -ex continue \
        -ex finish -ex 'kmap-local 0' -ex 'cpu-slots 0' -ex pkmap -ex kill > "$log" 2>&1 || true
    kill "$qemu" 2>/dev/null || true; wait "$qemu" 2>/dev/null || true
    local ok=1 pat
    for pat in 'highmem gdb commands: pkmap, kmap-local' 'CPU 0: task kinit/[0-9]+, kmap_ctrl.idx = 1 \(1 mapping\(s\)\), migrate_disable = 1' \
               'slot  0 at 0xffffb000: pfn 0x[0-9a-f]+ flags 0x163' 'CPU 0: 16 slots' '^PKMAP at 0xff800000: cursor' '^free [0-9]+, unused [0-9]+, in use 0'; do
        grep -Eq -- "$pat" "$log" || { ok=0; echo "gdb: no line matches /$pat/"; }
    done
    if [ "$ok" = 1 ]; then echo "scenario gdb commands ... ok"; pass
    else echo "scenario gdb commands ... FAILED"; tail -n 30 "$log"; fail "gdb commands: see target/ktest/gdb.log"; fi
}

summary() {
    echo
    if [ "${#FAILED_NAMES[@]}" -gt 0 ]; then
        echo "failures:"
        local n; for n in "${FAILED_NAMES[@]}"; do echo "    $n"; done
    fi
    if [ "$TOTAL_SKIPPED" -gt 0 ]; then
        echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
    else
        echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    fi
    [ "$TOTAL_FAILED" -eq 0 ]
}

# ./run-qemu.sh check: what CI runs after the set-up.
check_all() {
    local start=$SECONDS
    host_test
    build

    # The whole suite on both boot paths with the default machine, and on
    # 2 and 4 CPUs (the scheduler and SMP tests adapt to the CPU count).
    MEM=3G; SMP=1; ISO=0; run_suite ""
    MEM=3G; SMP=1; ISO=1; run_suite ""
    ISO=0
    SMP=2; run_suite ""
    SMP=4; run_suite ""
    SMP=1
    # The highmem debug modes: guard slots between kmap_local mappings, and
    # force-map (lowmem through the slots too) on a machine with 512 MiB,
    # i.e. no highmem at all.
    APPEND="debug_kmap_local"; run_suite ""
    MEM=512M; APPEND="debug_kmap_local_force_map"; run_suite ""
    MEM=3G; APPEND=""

    # Zones and totals under each memory size (the 3G case ran above):
    # from a machine barely big enough, through exactly 896 MiB (all
    # lowmem) and 1 GiB (a little highmem), to RAM moved above 4 GiB.
    local m
    for m in 32M 64M 128M 896M 1G 3584M 4G; do
        MEM=$m; run_suite "mm::zones"
    done
    MEM=3G
    # Eight CPUs (NR_CPUS): the scheduler, SMP, interrupt and kmap_local
    # tests (more vCPUs than host cores: slower, same behaviour).
    SMP=8; run_suite "sched::,smp::,irq::,kmap_local::,acpi::"
    # A little highmem, through GRUB, on two CPUs: the kmap suites.
    MEM=1G; SMP=2; ISO=1; run_suite "kmap"
    MEM=3G; SMP=1; ISO=0

    check_scenarios
    check_console
    check_gdb

    # A short stress run on 4 CPUs: zero corruptions, zero leaks.
    SMP=4
    expect_boot "stress: 20 s of every kmap flavour on 4 CPUs" "stress=20" 33 \
        '^stress: ops=[1-9][0-9]* verified_bytes=[1-9][0-9]* corruptions=0 leaked_pages=0 max_kmap_wait_us=[0-9]+$'
    SMP=1
    echo "check: took $((SECONDS - start))s"
    summary
}

# Boots whose whole output is the test: the boot log and bad input.
check_scenarios() {
    MEM=3G
    expect_boot "boot log (-m 3G)" "exit_after_boot" 33 \
        'booted via multiboot 1' \
        'virtual kernel memory layout:' \
        'fixmap  : 0xff[0-9a-f]{6} - 0xfffff000' \
        'pkmap   : 0xff800000 - 0xffc00000' \
        'vmalloc : 0xf8800000 - 0xff7fe000' \
        'lowmem  : 0xc0000000 - 0xf8000000' \
        '^.*\] 21[0-9][0-9]MB HIGHMEM available\.' \
        '\] 896MB LOWMEM available\.' \
        'MemTotal: +[0-9]+ kB' 'HighTotal: +[0-9]+ kB' 'LowFree: +[0-9]+ kB'
    ISO=1
    expect_boot "boot log via GRUB (-m 3G)" "exit_after_boot" 33 \
        'booted via multiboot 2 \(GRUB' 'HIGHMEM available' 'MemTotal:'
    ISO=0
    expect_boot "bad command-line options are named and ignored" \
        "exit_after_boot loglevel=loud frobnicate test_expect_mem=lots" 33 \
        "malformed option 'loglevel=loud'" \
        "unknown kernel option 'frobnicate'" \
        "malformed option 'test_expect_mem=lots'" \
        'virtual kernel memory layout:'
    expect_boot "loglevel=warn hides info lines" "exit_after_boot loglevel=warn" 33
    if grep -q 'LOWMEM available' "$REPO/target/ktest/scenario-loglevel_warn_hides_info_lines.log"; then
        fail "scenario loglevel=warn: info lines still printed"
    fi
    SMP=4
    expect_boot "four CPUs come up (-smp 4)" "exit_after_boot" 33 \
        'ACPI: 4 CPUs enabled' 'smpboot: CPU 3 \(APIC ID 3\) is up' 'smp: Brought up 4 CPUs'
    BIOS=/usr/share/qemu/qboot.rom
    expect_boot "qboot firmware: ACPI only, a zero-length e820 entry (-smp 4)" "exit_after_boot" 33 \
        'ignored 1 zero-length memory-map entry' 'smp: Brought up 4 CPUs' 'HIGHMEM available'
    BIOS=""
    SMP=10
    expect_boot "CPUs beyond NR_CPUS=8 are parked (-smp 10)" "exit_after_boot" 33 \
        'smp: 2 CPU\(s\) beyond NR_CPUS=8 left parked' 'smp: Brought up 8 CPUs'
    SMP=1
    MEM=8M
    expect_boot "too little RAM is refused" "exit_after_boot" 35 \
        'too little RAM'
    MEM=4G
    expect_boot "RAM above 4 GiB is reported and ignored (-m 4G)" "exit_after_boot" 33 \
        '1024MB of RAM above 4GB (is|are) not addressable without PAE' \
        'HIGHMEM available'
    MEM=3G
}
