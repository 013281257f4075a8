# The user programs (user/) against two oracles of Linux's i386 ABI, and
# this kernel against the first of them; two checks of `./run-qemu.sh
# check` (check_user_oracle, check_user_kernel), and all of `./run-qemu.sh
# user-test`. Sourced by run-qemu.sh; uses $REPO, build_user, $USER_BIN,
# build and boot_capture, and the runner's `pass` / `fail NAME`,
# make_test_initramfs, config_name and status_word (tests/runner.sh).
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
# stdin from /dev/null (end of file at once, as the kernel's console gives
# a program in the suite), fd 7 closed (syscall_abi writes to it and
# expects -EBADF), and $USER_TIMEOUT seconds.
#
# check_user_kernel (the third oracle run, ./run-qemu.sh user-test and
# check) then holds this kernel to Linux's output: every run of this file
# (USER_PROGRAMS with its user_spec's arguments) runs once more natively,
# with stdout and stderr into one file in the order they were written, and
# in one boot of the kernel, whose in-kernel test
# exec::the_user_programs_run_here_as_under_linux runs the same list
# (written into the suite's initramfs as /etc/user-tests) with markers
# around each run in the serial log. Each run's lines there must equal its
# lines under Linux, one by one, after the normalisation below
# (user_normalised), and it must end the same way (exit status or signal).
# So adding a program here (USER_PROGRAMS and a user_spec) is all it takes
# to run it on all three.
USER_TIMEOUT=30

# What each program is run with and must print. @PID@ in a pattern stands
# for the pid the program was started with (the runner knows it: the
# program is exec'd in the process it started).
#
# user_spec NAME: set SPEC_STATUS, SPEC_ARGS (argv[1..]), SPEC_OUT and
# SPEC_ERR (the patterns for stdout and stderr, line by line), SPEC_IN
# (printf escapes written to its stdin through a pipe; empty: stdin is
# /dev/null, as for any background command), and SPEC_VARIES; status 1 if
# there is no spec for NAME. USER_PROGRAMS lists the names it knows. A
# program with SPEC_IN reads a terminal under this kernel: its run here is
# a console scenario (tests/runner.sh), not the one-boot comparison.
#
# SPEC_VARIES: the parts of the program's lines that legitimately differ
# from run to run and kernel to kernel, as EREs (no anchors; @PID@ stands
# for the run's own pid). Before this kernel's output is compared with
# Linux's, every match of one, on both sides, is replaced by the ERE's own
# text: so `hello from pid 4711, ring 3` natively and `hello from pid 12,
# ring 3` here both read `hello from pid @PID@, ring 3`, while `pid 1` here
# (a wrong getpid) would not. Keep it to what cannot be equal, and say why.
#
# An argument @TMPDIR@ in SPEC_ARGS is a fresh empty directory for each run
# on the host (mktemp -d, removed afterwards) and /tmp under this kernel
# (the suite's initramfs has one): for programs that make files.
#
# SPEC_QEMU_OUT and SPEC_QEMU_STATUS, if set, replace SPEC_OUT and
# SPEC_STATUS for the qemu-i386 run only: where qemu-i386's emulation
# differs from Linux (each such line says why). Linux stays the oracle.
USER_PROGRAMS=(clonetest echoline execer forktest fputest fstest hello hog init leaktest memory mmaptest mprotect panics pcsum pipetest sigtest sleeper startup stattest syscall_abi tls ttytest ubench vforktest vmtest)
user_spec() {
    SPEC_ARGS=(); SPEC_OUT=(); SPEC_ERR=(); SPEC_STATUS=0; SPEC_VARIES=(); SPEC_IN=""
    SPEC_QEMU_OUT=(); SPEC_QEMU_STATUS=""
    case "$1" in
        fstest)
            SPEC_ARGS=(@TMPDIR@)
            local fstest_checks=(chdir_to_the_given_directory mkdir_the_work_directory chdir_into_it
                open_creat_excl_makes_a_file write_returns_the_count close o_excl_on_an_existing_file_eexist
                read_on_o_wronly_ebadf write_on_o_rdonly_ebadf read_back_what_was_written
                access_mode_3_opens_for_neither_read_nor_write o_trunc_empties_even_read_only
                o_directory_on_a_file_enotdir a_file_with_a_trailing_slash_enotdir
                o_creat_with_a_trailing_slash_eisdir symlink_returns_0 o_nofollow_on_a_symlink_eloop
                symlink_over_an_existing_name_eexist o_creat_through_a_dangling_symlink_makes_its_target
                o_creat_o_excl_does_not_follow_eexist creat_makes_a_file_for_writing
                a_256_byte_name_enametoolong a_kernel_address_as_path_efault an_empty_path_enoent
                a_file_as_a_directory_enotdir mkdir_returns_0 mkdir_of_an_existing_name_eexist
                mkdir_without_a_parent_enoent rmdir_of_a_non_empty_directory_enotempty rmdir_of_a_file_enotdir
                rmdir_of_dot_einval unlink_of_a_directory_eisdir unlink_of_a_missing_name_enoent
                rename_over_a_file_replaces_it rename_into_its_own_subtree_einval
                rename_over_its_own_ancestor_enotempty rename_of_a_directory_over_a_file_enotdir
                rename_of_a_file_over_a_directory_eisdir rename_to_itself_returns_0
                renameat2_noreplace_over_a_file_eexist getdents64_lists_dot_dotdot_and_each_entry_once
                getdents64_records_are_8_byte_aligned getdents64_at_the_end_returns_0
                getdents64_with_no_room_for_an_entry_einval getdents64_continues_where_it_stopped
                getdents64_into_a_kernel_address_efault getdents64_of_a_file_enotdir chdir_into_a_subdirectory
                getcwd_ends_with_the_path_and_counts_its_nul getcwd_into_a_buffer_too_small_erange
                a_relative_path_starts_at_the_cwd chdir_to_a_file_enotdir fchdir_to_an_open_directory
                getcwd_after_fchdir a_forked_child_inherits_the_cwd access_f_ok access_r_ok_and_w_ok_as_root
                access_x_ok_on_a_0600_file_eacces access_x_ok_on_a_directory access_with_a_bad_mode_einval
                readlink_truncates_without_a_nul readlink_of_a_file_einval link_returns_0
                link_over_an_existing_name_eexist link_of_a_directory_eperm statx_gives_mode_nlink_and_size
                statx_with_a_bad_flag_einval an_unlinked_file_is_read_through_its_descriptor
                the_emptied_work_directory_is_removed)
            user_spec_checks fstest "${fstest_checks[@]}"
            # qemu-i386 (Debian's 7.x-8.x) differs from Linux in two places
            # this program looks at: its open() flag table has no entry for
            # access mode 3, which becomes O_RDONLY (so read() works); and
            # it repacks getdents64 records for the guest with i386's 4-byte
            # alignment of u64 (Linux's compat getdents64 is the 64-bit one,
            # 8-byte aligned), so the records' d_reclen are not Linux's.
            user_spec_qemu_fails fstest 'access_mode_3_opens_for_neither_read_nor_write getdents64_lists_dot_dotdot_and_each_entry_once getdents64_records_are_8_byte_aligned getdents64_continues_where_it_stopped' "${fstest_checks[@]}" ;;
        echoline)
            # Its standard input through a pipe (the console test types the
            # same lines into the console: tests/runner.sh).
            SPEC_IN='hello world\nthe quick brown fox jumps over\nac\n'
            SPEC_OUT=('hello world' 'the quick brown fox jumps over' 'ac' 'echoline: end of file after 46 bytes') ;;
        ttytest)
            # Standard input that is not a terminal: every terminal ioctl
            # -ENOTTY, poll readable. Its terminal half runs in the console
            # test (tests/runner.sh), where the keys are typed.
            SPEC_IN='some bytes\n'
            SPEC_OUT=('stdin is not a terminal' 'ok TIOCGWINSZ on stdin' 'ok TIOCGPGRP on stdin' 'ok TCSETS on stdin'
                'ok TCGETS with a NULL pointer: not a tty first' 'ok TCGETS on a descriptor not open'
                'ok poll finds the bytes readable' 'ok poll of a descriptor not open: POLLNVAL'
                'ttytest: read 11 bytes' 'ttytest: 7 passed, 0 failed') ;;
        hello)
            # Its pid: the host's pid space is not the kernel's.
            SPEC_VARIES=('pid @PID@,')
            SPEC_OUT=('hello from pid @PID@, ring 3') ;;
        init)
            SPEC_ARGS=(single)
            SPEC_VARIES=('pid @PID@,')   # as for hello
            SPEC_OUT=('init: pid @PID@, ring 3: user space of the highmem teaching kernel'
                      'init: 2 argument\(s\), 1 environment string\(s\)') ;;
        execer)
            user_spec_checks execer execve_missing_file_enoent execve_kernel_pointer_efault \
                prlimit64_stack_8_mib execve_2_mib_and_more_of_arguments_e2big \
                execve_string_over_max_arg_strlen_e2big \
                wait4_returns_the_child the_execd_child_exited_42 ;;
        pipetest)
            # A shell's pipeline (fork, pipe, dup2 onto stdout, exec of
            # hello, read to end of file), FD_CLOEXEC at exec, one position
            # across fork, EOF/EPIPE/O_NONBLOCK, /dev/null and /dev/zero,
            # readv and writev.
            local pipe_checks=(read_ends_with_eof_not_an_error exec_child_exited_0
                exec_child_stdout_came_through_the_pipe pipe2_cloexec_sets_fd_cloexec
                fd_cloexec_closed_at_execve_others_kept fork_shares_the_file_position
                read_without_writers_eof write_without_readers_epipe three_small_writes_read_as_one
                nonblocking_read_of_empty_pipe_eagain nonblocking_write_fills_64k
                nonblocking_write_to_full_pipe_eagain getfl_read_end getfl_write_end
                pipe2_bad_flags_einval pipe_null_pointer_efault
                dup_of_closed_fd_ebadf dup2_onto_itself_of_closed_fd_ebadf dup2_onto_itself_returns_it
                dup3_equal_fds_einval fcntl_unknown_cmd_einval dev_null_reads_eof dev_null_swallows_writes
                dev_zero_reads_zeros writev_gathers_three_segments_one_empty the_pipe_holds_them_in_order
                readv_scatters_what_is_there readv_filled_the_first_then_the_second
                readv_does_not_wait_for_the_second_segment writev_with_a_kernel_segment_efault
                and_not_even_the_good_segment_was_written writev_negative_length_einval
                writev_1025_segments_einval writev_unreadable_array_efault writev_no_segments_returns_0
                writev_on_the_read_end_ebadf readv_on_the_write_end_ebadf writev_closed_fd_ebadf)
            user_spec_checks pipetest "${pipe_checks[@]}"
            # qemu-i386 (7.2) writes the segments before one it cannot
            # reach (Linux checks every segment first: EFAULT, nothing
            # written).
            user_spec_qemu_fails pipetest 'writev_with_a_kernel_segment_efault and_not_even_the_good_segment_was_written' "${pipe_checks[@]}" ;;
        forktest)
            user_spec_checks forktest fork_returns_the_childs_pid wait4_returns_the_child child_exit_status_7 \
                parents_copy_unchanged parents_bss_unchanged parents_own_write_kept no_more_children_echild \
                wait4_minus_1_reaps_the_child_that_ended_first then_the_other_one wait4_wexited_option_einval \
                wait4_int_min_esrch wait4_kernel_status_pointer_efault the_child_was_reaped_all_the_same ;;
        vforktest)
            local vfork_checks=(vfork_returns_the_childs_pid the_vfork_parent_sleeps_until_the_child_exits
                the_vfork_childs_store_is_in_the_parents_memory the_vfork_child_ran_on_the_parents_stack
                wait4_gives_the_vfork_childs_status_7 vfork_execve_the_parent_resumes_at_the_exec
                the_execd_vfork_child_exits_42 clone_vm_vfork_returns_the_childs_pid
                clone_vm_vfork_parent_sleeps_until_the_child_exits clone_vm_vfork_childs_store_is_in_the_parents_memory
                clone_vm_vfork_child_ran_on_newsp wait4_gives_the_clone_childs_status_9
                clone_vm_alone_the_parent_does_not_wait clone_vm_alone_the_childs_store_is_shared
                clone_vm_alone_child_status_5 clone_vfork_alone_the_parent_waits
                clone_vfork_alone_the_childs_store_is_its_own clone_vfork_alone_child_status_6
                sigkill_ends_the_vfork_parents_sleep the_vfork_child_runs_on_after_its_parent_died
                clone_sighand_without_vm_einval clone_thread_without_sighand_einval)
            user_spec_checks vforktest "${vfork_checks[@]}"
            # qemu-i386 (linux-user) emulates CLONE_VFORK as a plain fork
            # (it drops CLONE_VFORK | CLONE_VM: the parent runs on at once,
            # in its own memory), and takes CLONE_VM without CLONE_THREAD
            # for a bad thread request (-EINVAL). Linux stays the oracle.
            local c qemu_differs=' the_vfork_parent_sleeps_until_the_child_exits the_vfork_childs_store_is_in_the_parents_memory the_vfork_child_ran_on_the_parents_stack vfork_execve_the_parent_resumes_at_the_exec clone_vm_vfork_parent_sleeps_until_the_child_exits clone_vm_vfork_childs_store_is_in_the_parents_memory clone_vm_vfork_child_ran_on_newsp clone_vm_alone_the_parent_does_not_wait clone_vm_alone_the_childs_store_is_shared clone_vm_alone_child_status_5 clone_vfork_alone_the_parent_waits '
            # And as a plain fork, the SIGKILL check is a race there: the
            # middle process may reach its exit(3) before its child kills
            # it (seen in CI: status 768), so either result is accepted.
            local qemu_races=' sigkill_ends_the_vfork_parents_sleep the_vfork_child_runs_on_after_its_parent_died '
            for c in "${vfork_checks[@]}"; do
                if [[ "$qemu_differs" == *" $c "* ]]; then SPEC_QEMU_OUT+=("FAILED $c: .*")
                elif [[ "$qemu_races" == *" $c "* ]]; then SPEC_QEMU_OUT+=("(ok|FAILED) $c(: .*)?")
                else SPEC_QEMU_OUT+=("ok $c"); fi
            done
            SPEC_QEMU_OUT+=("vforktest: (9|10|11) passed, (11|12|13) failed")
            SPEC_QEMU_STATUS=1 ;;
        clonetest)
            user_spec_checks clonetest set_tid_address_returns_the_tid clone_returns_the_childs_pid \
                child_settid_not_in_the_parents_memory child_settid_in_the_childs_memory_only \
                glibc_fork_flags_child_exits_3 parent_settid_bad_pointer_still_forks \
                ugetrlimit_stack_returns_0 stack_soft_limit_within_hard ugetrlimit_resource_16_einval \
                ugetrlimit_kernel_pointer_efault prlimit64_get_returns_0 prlimit64_agrees_with_ugetrlimit \
                prlimit64_set_returns_0 the_new_soft_limit_holds soft_above_hard_einval \
                prlimit64_resource_16_einval prlimit64_no_such_pid_esrch getrandom_returns_the_count \
                getrandom_bytes_differ_between_calls getrandom_zero_bytes getrandom_unknown_flag_einval \
                getrandom_random_and_insecure_einval getrandom_kernel_pointer_efault ;;
        fputest)
            user_spec_checks fputest exec_gives_fcw_0x037f exec_gives_mxcsr_0x1f80 exec_gives_zero_xmm_registers \
                sse2_addpd x87_fsqrt fork_child_starts_with_a_copy fork_child_changes_stay_its_own \
                two_processes_keep_their_own_registers exec_resets_the_registers ;;
        memory)
            user_spec_checks memory brk_0_is_the_current_break brk_grows brk_memory_zero_then_writable \
                brk_shrinks brk_below_the_start_is_refused mmap_anonymous mmap_reads_zero mmap_writable \
                munmap_middle_page the_rest_stays munmap_all mmap_fixed_where_asked munmap_fixed \
                mmap_zero_length_einval mmap_neither_shared_nor_private_einval munmap_misaligned_einval \
                munmap_zero_length_einval ;;
        mprotect)
            user_spec_checks mprotect mmap_five_pages prot_read_returns_0 read_only_page_still_reads \
                write_to_read_only_is_sigsegv prot_none_returns_0 read_of_prot_none_is_sigsegv \
                prot_read_write_again_returns_0 prot_none_then_read_write_gives_back_the_bytes \
                and_it_is_writable_again mprotect_of_the_middle_page its_neighbours_stay_writable \
                the_middle_page_is_read_only middle_back_to_read_write the_five_pages_hold_their_data \
                prot_none_before_fork fork_child_sees_the_prot_none_page_after_mprotect \
                fork_child_inherits_prot_none parent_read_write_again parent_keeps_its_bytes \
                child_mprotect_read_write_of_a_shared_page its_write_stays_copy_on_write \
                unaligned_start_einval unknown_prot_bit_einval growsdown_and_growsup_einval \
                growsdown_on_a_non_stack_einval length_rounded_up \
                the_whole_last_page_is_read_only munmap_all ;;
        nxtest)
            # Not in USER_PROGRAMS: the run under this kernel is in the
            # caller's configuration, and only 686-pae on a CPU with NX can
            # refuse a jump into data; nx::user_nx_checks runs it there.
            user_spec_checks nxtest a_jump_into_the_stack_is_sigsegv_accerr \
                a_jump_into_the_data_segment_is_sigsegv_accerr a_jump_into_the_heap_is_sigsegv_accerr \
                mmap_read_write a_jump_into_mmap_without_prot_exec_is_sigsegv_accerr \
                a_jump_into_an_untouched_mmap_without_prot_exec_is_sigsegv_accerr code_in_a_prot_exec_mapping_runs \
                mprotect_prot_exec_returns_0 after_mprotect_prot_exec_the_code_runs \
                mprotect_without_prot_exec_returns_0 after_mprotect_without_prot_exec_a_jump_is_sigsegv_accerr ;;
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
        mmaptest)
            SPEC_ARGS=(@TMPDIR@)
            user_spec_checks mmaptest chdir_to_the_given_directory mkdir_the_work_directory chdir_into_it \
                a_three_page_file_is_written mmap_shared_of_the_file the_shared_mapping_reads_the_file \
                read_sees_a_shared_mapping_s_write the_shared_mapping_sees_write msync_ms_sync_returns_0 \
                mmap_private_of_the_file a_private_write_leaves_the_file_alone and_the_shared_mapping_alone \
                the_private_mapping_keeps_its_copy a_forked_child_s_shared_write_reaches_the_parent \
                but_not_its_private_write u20_write_from_a_shared_mapping_of_the_same_page \
                u20_write_from_a_shared_mapping_of_another_page munmap_of_the_middle_page the_pages_around_it_stay \
                the_unmapped_page_is_sigsegv mprotect_prot_read_of_the_file_mapping a_write_after_mprotect_read_is_sigsegv \
                mprotect_read_write_again and_the_write_reaches_the_file ftruncate_to_a_page_and_a_half \
                mmap_past_the_end_of_the_file_succeeds the_last_page_reads_zeros_past_the_end a_read_past_the_end_is_sigbus \
                a_private_write_past_the_end_is_sigbus ftruncate_to_zero after_truncate_a_mapped_page_is_sigbus \
                mmap_of_a_closed_fd_ebadf mmap_shared_writable_of_a_read_only_fd_eacces mmap_of_a_write_only_fd_eacces \
                mmap_without_a_map_type_einval mmap_shared_read_only_is_fine_but_mprotect_write_eacces mmap_of_a_pipe_enodev \
                msync_unaligned_einval msync_async_and_sync_einval msync_of_an_unmapped_range_enomem \
                a_4_mib_file_reads_back_through_a_mapping the_work_directory_is_removed
            # qemu-i386 reserves the guest's whole address space in the host
            # process, so a range the guest unmapped is still mapped for the
            # host's msync: 0 where Linux says ENOMEM.
            local c
            for c in "${SPEC_OUT[@]}"; do
                case "$c" in
                    "ok msync_of_an_unmapped_range_enomem") SPEC_QEMU_OUT+=("FAILED msync_of_an_unmapped_range_enomem: .*") ;;
                    "mmaptest: "*) SPEC_QEMU_OUT+=("mmaptest: $(( ${#SPEC_OUT[@]} - 2 )) passed, 1 failed") ;;
                    *) SPEC_QEMU_OUT+=("$c") ;;
                esac
            done
            SPEC_QEMU_STATUS=1 ;;
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
                sched_yield_returns_0 getpid_positive_and_stable gettid_is_getpid clock_gettime_32_bit_timespec \
                clock_gettime64_64_bit_timespec clock_gettime_bad_clock_einval clock_gettime_kernel_address_efault \
                gettimeofday_timeval gettimeofday_kernel_address_efault umask_returns_the_old_mask umask_inherited_at_fork \
                prctl_set_name prctl_get_name prctl_get_name_kernel_address_efault ;;
        sigtest)
            # (Its `linux-only` checks, where qemu-i386 differs, run in
            # tests/signal.rs.)
            user_spec_checks sigtest rt_sigaction_sigsetsize_4_einval rt_sigaction_sigkill_einval rt_sigaction_sigstop_einval \
                rt_sigaction_signal_0_einval rt_sigaction_signal_65_einval rt_sigaction_query_sigkill_ok \
                rt_sigaction_unmapped_act_efault rt_sigaction_unmapped_oact_efault rt_sigaction_installs \
                rt_sigaction_reads_back rt_sigaction_old_action_is_ours kill_self_runs_the_handler_once \
                handler_gets_the_signal_number siginfo_si_signo siginfo_si_code_si_user \
                siginfo_si_pid_is_the_sender ucontext_holds_the_interrupted_edx \
                handler_runs_with_its_signal_blocked rt_sigreturn_restores_every_register_and_df \
                the_mask_is_back_after_the_handler old_style_handler_runs old_style_sigcontext_holds_edx \
                sigreturn_restores_every_register_and_df tkill_self_si_tkill tgkill_self_runs_the_handler \
                sig_block_returns_0 oldset_was_empty blocked_signal_not_delivered blocked_signal_is_pending \
                unblocking_delivers_it_once nothing_pending_after sigkill_and_sigstop_cannot_be_blocked \
                sigprocmask_bad_how_einval sigprocmask_bad_how_without_set_is_ok sigprocmask_sigsetsize_4_einval \
                sigprocmask_unmapped_set_efault sigpending_sigsetsize_9_einval sigsuspend_sigsetsize_4_einval \
                blocked_ignored_signal_is_pending setting_sig_ign_discards_it \
                sigchld_and_sigwinch_ignored_by_default sigsuspend_eintr_after_the_handler \
                sigsuspend_puts_the_mask_back kill_signal_65_einval kill_signal_minus_1_einval \
                kill_signal_0_checks_existence kill_no_such_pid_esrch kill_int_min_esrch \
                kill_no_such_group_esrch tkill_tid_0_einval tgkill_tgid_0_einval tgkill_bad_signal_einval \
                tgkill_wrong_group_esrch kill_child_returns_0 wait4_reaps_the_killed_child \
                wifsignaled_wtermsig_sigterm default_action_terminates write_to_a_pipe_without_readers_is_sigpipe wait4_with_a_sigchld_handler \
                sigchld_delivered sigchld_si_code_cld_exited sigchld_si_pid_is_the_child \
                sigchld_si_status_is_the_exit_code the_stopped_child_gets_a_group_of_its_own sigchld_cld_stopped_with_the_stop_signal \
                wait4_without_wuntraced_does_not_report_a_stop wait4_wuntraced_reports_the_stop_as_0x137f \
                a_stop_is_reported_once wait4_without_wcontinued_does_not_report_a_continue \
                wait4_wcontinued_reports_the_continue_as_0xffff a_continue_is_reported_once \
                sigchld_cld_continued_with_sigcont sigtstp_stops_it_too sigcont_drops_an_unreported_stop sigkill_of_a_stopped_child_reports_only_its_death \
                blocking_wait4_wuntraced_wakes_at_the_stop continued_it_runs_to_its_exit sigsegv_handler_runs sigsegv_si_addr_is_the_address \
                sigsegv_si_code_segv_maperr sigsegv_on_a_read_only_page_segv_accerr sigsegv_accerr_si_addr \
                nanosleep_interrupted_eintr_with_time_left nanosleep_eintr_even_with_sa_restart \
                wait4_interrupted_eintr wait4_restarted_with_sa_restart frame_cannot_set_iopl_nt_or_clear_if \
                rt_sigreturn_restores_xmm0_and_mxcsr sigreturn_restores_xmm0_and_mxcsr getpgid_0_is_getpgrp \
                getsid_0_is_getsid_self getpgid_no_such_pid_esrch getsid_no_such_pid_esrch \
                setpgid_negative_pgid_einval setpgid_no_such_pid_esrch child_inherits_the_group \
                setpgid_child_own_group getpgid_child_is_its_pid kill_minus_pgid_reaches_the_group \
                the_group_member_died_of_it setpgid_into_a_group_held_by_a_zombie the_zombie_had_made_its_group \
                setsid_new_session_then_eperm ;;
        vmtest)
            user_spec_checks vmtest fork readv_reads_the_childs_copy our_page_is_untouched \
                readv_of_an_untouched_page_reads_zeros writev_into_an_untouched_page readv_reads_it_back \
                our_untouched_page_still_reads_zeros writev_into_a_cow_page our_cow_page_is_unchanged \
                writev_scatters_across_iovecs readv_gathers_them writev_up_to_a_hole_short_count \
                readv_up_to_a_hole_short_count readv_of_a_hole_efault a_second_remote_iovec_in_the_hole_short_count \
                our_own_buffer_running_into_a_hole_short_count remote_range_wrapping_past_4g_efault \
                writev_into_read_only_text_efault readv_of_text \
                flags_1_einval liovcnt_1025_einval riovcnt_1025_einval null_local_iovec_array_efault \
                kernel_remote_iovec_array_efault negative_local_length_einval negative_remote_length_einval \
                kernel_local_buffer_efault pid_0_esrch negative_pid_esrch pid_int_max_esrch \
                no_local_bytes_0_before_the_pid no_remote_bytes_0_before_the_pid \
                no_local_iovecs_0_even_with_a_bad_remote_array readv_of_ourselves wait4_returns_the_child \
                child_reads_the_write_in_its_untouched_page child_reads_the_write_in_its_cow_copy \
                child_reads_the_scattered_bytes
            # qemu-i386 (Debian's 7.2) has no process_vm_readv/writev: its
            # linux-user syscall table answers -ENOSYS, which the program
            # names and fails on. Linux (and this kernel) must pass all.
            SPEC_QEMU_OUT=('vmtest: process_vm_readv: ENOSYS, nothing to check')
            SPEC_QEMU_STATUS=1 ;;
        hog)
            # The bounded form only: `hog fork N` allocates without bound
            # (tests/oom.rs runs it under this kernel).
            SPEC_ARGS=(4); SPEC_OUT=('ok hog_touched') ;;
        pcsum)
            # The soak's page-cache checksum workload, a fixed seed and
            # number of rounds: the same ops on Linux (the model of what
            # each file holds after write, mmap stores and truncates).
            SPEC_ARGS=(@TMPDIR@ --rounds 30 --seed 1); SPEC_OUT=('pcsum: rounds=30 ops=174 corruptions=0 errors=0') ;;
        sleeper)
            user_spec_checks sleeper sleep_10ms sleep_zero nsec_too_big_einval negative_einval ;;
        leaktest)
            # A kernel address (mapped under a 32-bit kernel, nothing there
            # for a 32-bit process of a 64-bit one) and an unmapped user
            # address; tests/hostile.rs adds the addresses of a secret.
            SPEC_ARGS=(0xc0001000 0x40000000)
            local n w leak_checks=()
            for n in 1 2; do
                for w in write_from nothing_reached_the_pipe_from writev_from nothing_reached_the_pipe_by_writev_from \
                    read_into the_bytes_stay_in_the_pipe_after_read_into getcwd_into uname_into clock_gettime_into \
                    gettimeofday_into fstat64_into pipe_into rt_sigaction_old_into open_path_at rt_sigaction_new_from; do
                    leak_checks+=("${w}_address_$n")
                done
            done
            user_spec_checks leaktest "${leak_checks[@]}" ;;
        tls)
            local tls_checks=(set_thread_area_free_entry an_entry_number_came_back gs_reads_the_block
                after_a_context_switch gs_sees_our_writes entry_3_einval bad_pointer_efault
                a_16_bit_segment_einval a_code_segment_einval contents_3_einval a_not_present_segment_einval
                a_refused_request_left_the_entry_alone a_segment_based_at_0xc0000000_is_accepted
                a_read_through_it_is_sigsegv an_all_zero_request_clears_the_entry gs_holds_the_null_selector_afterwards
                loading_the_cleared_entry_is_sigsegv)
            user_spec_checks tls "${tls_checks[@]}"
            # qemu-i386 (7.2) has no tls_desc_okay: it accepts 16-bit, code
            # and not-present descriptors, and its all-zero request leaves
            # a descriptor that still loads (so gs keeps its selector).
            user_spec_qemu_fails tls 'a_16_bit_segment_einval a_code_segment_einval a_not_present_segment_einval gs_holds_the_null_selector_afterwards loading_the_cleared_entry_is_sigsegv' "${tls_checks[@]}" ;;
        ubench)
            # Figures, not checks: the lines must be there, with any numbers
            # (there is no /data/bench64M on the host, nor in the suite's
            # initramfs, so no read figures). The numbers are timings, and
            # their padding follows their width: both vary.
            SPEC_VARIES=(' +[0-9]+ cycles' ' +[0-9]+\.[0-9]+ x page_copy')
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

# user_spec_qemu_fails PROG "NAME NAME..." CHECK...: SPEC_QEMU_OUT and
# SPEC_QEMU_STATUS for a program whose checks NAME... fail under qemu-i386
# (each spec says why), the others passing as under Linux.
user_spec_qemu_fails() {
    local prog="$1" differs=" $2 " c n=0; shift 2
    for c in "$@"; do
        if [[ "$differs" == *" $c "* ]]; then SPEC_QEMU_OUT+=("FAILED $c: .*"); n=$((n + 1))
        else SPEC_QEMU_OUT+=("ok $c"); fi
    done
    SPEC_QEMU_OUT+=("$prog: $(( $# - n )) passed, $n failed")
    SPEC_QEMU_STATUS=1
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

# user_exec HOW ELF OUT ERR ARG...: run ELF natively (HOW=native) or under
# qemu-i386 (HOW=qemu-i386) with ARGs, stdout into OUT and stderr into ERR
# (ERR the same file as OUT: both into it, in the order written), as the
# header says. Sets USER_PID (the pid the program ran as), USER_RC (its
# exit status, 128 + N for signal N; 137 if it was killed for taking too
# long) and USER_TIMED_OUT (1 then).
user_exec() {
    local how="$1" elf="$2" out="$3" err="$4"; shift 4
    local cmd=("$elf"); [ "$how" = qemu-i386 ] && cmd=("$(command -v qemu-i386)" "$elf")
    # The subshell execs env, which execs the program (qemu-i386 runs the
    # guest in its own process too): $! is the pid the program reports.
    # stdin: SPEC_IN through a pipe, else /dev/null. The pipe's writer is
    # a subshell of its own, so $! is still the program.
    # @TMPDIR@: a fresh directory of its own (see user_spec).
    local args=() tmpdirs=() arg
    for arg in "$@"; do
        if [ "$arg" = @TMPDIR@ ]; then arg="$(mktemp -d)"; tmpdirs+=("$arg"); fi
        args+=("$arg")
    done
    set -- "${args[@]}"
    local in=/dev/null
    if [ -n "${SPEC_IN:-}" ]; then
        in="$(mktemp)"; printf '%b' "$SPEC_IN" > "$in"
    fi
    if [ "$err" = "$out" ]; then
        ( exec env -i USER_TEST=oracle "${cmd[@]}" "$@" >"$out" 2>&1 7>&- <"$in" ) &
    else
        ( exec env -i USER_TEST=oracle "${cmd[@]}" "$@" >"$out" 2>"$err" 7>&- <"$in" ) &
    fi
    USER_PID=$! USER_RC=0 USER_TIMED_OUT=0
    local timer first=""
    sleep "$USER_TIMEOUT" & timer=$!
    wait -n -p first "$USER_PID" "$timer" || USER_RC=$?
    if [ "$first" = "$timer" ]; then
        kill -9 "$USER_PID" 2>/dev/null || true; wait "$USER_PID" 2>/dev/null || true
        USER_RC=137 USER_TIMED_OUT=1
    else
        kill "$timer" 2>/dev/null || true; wait "$timer" 2>/dev/null || true
    fi
    [ "$in" = /dev/null ] || rm -f "$in"
    [ "${#tmpdirs[@]}" -eq 0 ] || rm -rf "${tmpdirs[@]}"
}

# user_run HOW LOGDIR ELF: run one program natively (HOW=native) or under
# qemu-i386 (HOW=qemu-i386) as its spec says; pass or fail with a reason.
user_run() {
    local how="$1" logdir="$2" elf="$3" name; name="$(basename "$3")"
    local label="user program $name ($how)"
    user_spec "$name"
    local out="$logdir/$name.$how.out" err="$logdir/$name.$how.err"
    user_exec "$how" "$elf" "$out" "$err" "${SPEC_ARGS[@]}"
    local pid="$USER_PID" rc="$USER_RC"
    local pats=() p why=""
    if [ "$how" = qemu-i386 ] && [ "${#SPEC_QEMU_OUT[@]}" -gt 0 ]; then
        SPEC_OUT=("${SPEC_QEMU_OUT[@]}"); SPEC_STATUS="${SPEC_QEMU_STATUS:-$SPEC_STATUS}"
    fi
    for p in "${SPEC_OUT[@]}"; do pats+=("${p//@PID@/$pid}"); done
    if [ "$USER_TIMED_OUT" = 1 ]; then why="killed after $USER_TIMEOUT s"
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
        if [ "$name" = fuzz ]; then
            # The system-call fuzzer is no oracle program: its calls are
            # random by design, and run natively as root it could set the
            # host's clock (settimeofday). ./run-qemu.sh fuzz runs it.
            continue
        fi
        if [ "$name" = eflags_bug ]; then
            # Nor is eflags_bug: it forges EFLAGS through QEMU 7.2's
            # cmpxchg8b flags bug, so its output differs by design between
            # Linux on hardware (real flags; its `in` dies of SIGSEGV) and
            # anything under QEMU (qemu-i386 even aborts in its syscall
            # mode). tests/hostile.rs runs it on this kernel.
            continue
        fi
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

# ------------------------------------------- this kernel against Linux ----
# The programs' output under this kernel, line by line, against their
# output natively under Linux (see the header).

# user_kernel_programs: USER_PROGRAMS without those that read a terminal
# (SPEC_IN): under this kernel nobody types into their boot, so their run
# here is a console scenario (tests/runner.sh) instead.
user_kernel_programs() {
    local name
    for name in "${USER_PROGRAMS[@]}"; do
        user_spec "$name" || { echo "user_kernel_programs: no user_spec for $name" >&2; return 1; }
        [ -n "$SPEC_IN" ] || echo "$name"
    done
}

# user_kernel_list: the runs of this file for the in-kernel test, one a
# line: NAME<TAB>STATUS[<TAB>ARG]... (tests/exec.rs, USER_RUNS, reads it
# from /etc/user-tests). A tab or newline inside an argument could not be
# told apart, so it is refused.
user_kernel_list() {
    local name a line programs
    programs="$(user_kernel_programs)" || return 1
    for name in $programs; do
        user_spec "$name" || { echo "user_kernel_list: no user_spec for $name" >&2; return 1; }
        line="$name"$'\t'"$SPEC_STATUS"
        for a in "${SPEC_ARGS[@]}"; do
            [ "$a" = @TMPDIR@ ] && a=/tmp   # the suite's initramfs has one
            case "$a" in
                *$'\t'*|*$'\n'*) echo "user_kernel_list: an argument of $name holds a tab or a newline" >&2; return 1 ;;
            esac
            line+=$'\t'"$a"
        done
        printf '%s\n' "$line"
    done
}

# user_status_words RC: a native run's end as the in-kernel test words a
# wait status (tests/exec.rs, wait_status_words): bash's 128 + N is
# signal N.
user_status_words() {
    if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"
    else echo "exited with status $1"; fi
}

# user_normalised FILE PID FROM: FILE's lines as compared, into the array
# NORM_LINES, and NORM_EOL=1 if FILE ends with a newline (or is empty).
# Two rewrites, the only ones, applied to every line:
#   * FROM (if not empty), the directory the native run found the program
#     in, becomes /bin/, where the kernel's initramfs has it: startup
#     prints argv[0], and execer and ubench exec it. The same file, run
#     from another place.
#   * each match of an ERE of SPEC_VARIES (the program's user_spec; @PID@
#     in it is PID, the pid the run had) becomes the ERE's own text.
user_normalised() {
    local file="$1" pid="$2" from="$3" i line v re m out rest
    mapfile -t NORM_LINES <"$file"
    NORM_EOL=1
    [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ] && NORM_EOL=0
    for i in "${!NORM_LINES[@]}"; do
        line="${NORM_LINES[$i]}"
        [ -n "$from" ] && line="${line//"$from"/\/bin\/}"
        for v in "${SPEC_VARIES[@]}"; do
            re="${v//@PID@/$pid}" out="" rest="$line"
            # Left to right, each match once (the replacement is not
            # searched again).
            while [ -n "$rest" ] && [[ "$rest" =~ $re ]] && [ -n "${BASH_REMATCH[0]}" ]; do
                m="${BASH_REMATCH[0]}"
                out+="${rest%%"$m"*}$v"
                rest="${rest#*"$m"}"
            done
            line="$out$rest"
        done
        NORM_LINES[i]="$line"
    done
}

# user_kernel_problems LINUX LINUX_PID LINUX_END FROM HERE HERE_PID HERE_END:
# how the output HERE (a file: what the program wrote under this kernel)
# and the way it ended there (HERE_END, in user_status_words' words)
# differ from LINUX's, after user_normalised (FROM: the native run's
# directory); one line, nothing if they agree. Uses the current user_spec.
# It names the first line that differs and both texts.
user_kernel_problems() {
    local linux="$1" lpid="$2" lend="$3" from="$4" here="$5" hpid="$6" hend="$7"
    local why=() i n
    [ "$hend" = "$lend" ] || why+=("it ended: '$hend' here, '$lend' under Linux")
    user_normalised "$linux" "$lpid" "$from"
    local l=("${NORM_LINES[@]}") leol="$NORM_EOL"
    user_normalised "$here" "$hpid" ""
    local h=("${NORM_LINES[@]}") heol="$NORM_EOL"
    n=${#l[@]}; [ "${#h[@]}" -gt "$n" ] && n=${#h[@]}
    for ((i = 0; i < n; i++)); do
        if [ "$i" -ge "${#h[@]}" ]; then
            why+=("line $((i + 1)): nothing here, '${l[$i]}' under Linux"); break
        elif [ "$i" -ge "${#l[@]}" ]; then
            why+=("line $((i + 1)): '${h[$i]}' here, nothing under Linux"); break
        elif [ "${h[$i]}" != "${l[$i]}" ]; then
            why+=("line $((i + 1)): '${h[$i]}' here, '${l[$i]}' under Linux"); break
        fi
    done
    if [ "${#why[@]}" -eq 0 ] || [ "${#h[@]}" = "${#l[@]}" ]; then
        if [ "$heol" != "$leol" ]; then
            local with=("without" "with")
            why+=("the last line ends ${with[$heol]} a newline here, ${with[$leol]} one under Linux")
        fi
    fi
    # A line that differs and holds @PID@: say what it stood for.
    if [[ "${why[*]}" == *"line "*@PID@* ]]; then
        why+=("@PID@ is pid $hpid here, $lpid under Linux")
    fi
    local all="" w
    for w in "${why[@]}"; do all+="${all:+; }$w"; done
    [ -z "$all" ] || echo "$all"
}

# user_kernel_blocks LOG DIR: cut the in-kernel test's runs out of the
# serial log LOG (tests/exec.rs prints `user: run /bin/NAME ARGS` before
# each and `\nuser: /bin/NAME (pid N) ENDED` after it). For run K (from 1):
# DIR/K.run the start line, DIR/K.out exactly what the program wrote (the
# end line's own newline taken off), and, if the run ended, DIR/K.pid and
# DIR/K.end (ENDED: `exited with status N`, `killed by signal N`, `could
# not be started: errno N`). Lines of the kernel's log (`[  s.us][cpu N]
# [LEVEL target] ...`) are the kernel's, not the program's, and are left
# out. Prints the number of runs found.
user_kernel_blocks() {
    local log="$1" dir="$2" n=0 inrun=0 line lines=()
    local logre='^\[ *[0-9]+\.[0-9]{6}\]\[cpu [0-9]+\]\[(ERROR|WARN |INFO |DEBUG|TRACE) '
    local endre='^user: /bin/[^ ]+ \(pid ([0-9]+)\) (exited with status [0-9]+|killed by signal [0-9]+|could not be started: errno [0-9]+)$'
    # user_kernel_block_out: write the lines of the run so far to K.out.
    user_kernel_block_out() {
        local last=$(( ${#lines[@]} - 1 ))
        if [ "$last" -ge 0 ] && [ -z "${lines[$last]}" ]; then
            unset 'lines[last]'
            [ "${#lines[@]}" -eq 0 ] && { : >"$dir/$n.out"; return; }
            printf '%s\n' "${lines[@]}" >"$dir/$n.out"
        elif [ "$last" -ge 0 ]; then
            # No newline before the end line: the program's last line had none.
            printf '%s\n' "${lines[@]}" | head -c -1 >"$dir/$n.out"
        else
            : >"$dir/$n.out"
        fi
    }
    while IFS= read -r line || [ -n "$line" ]; do
        if [ "$inrun" = 0 ]; then
            if [[ "$line" == "user: run /bin/"* ]]; then
                n=$((n + 1)); inrun=1; lines=()
                printf '%s\n' "$line" >"$dir/$n.run"
            fi
        elif [[ "$line" =~ $endre ]]; then
            echo "${BASH_REMATCH[1]}" >"$dir/$n.pid"
            echo "${BASH_REMATCH[2]}" >"$dir/$n.end"
            user_kernel_block_out; inrun=0
        elif ! [[ "$line" =~ $logre ]]; then
            lines+=("$line")
        fi
    done <"$log"
    if [ "$inrun" = 1 ]; then lines+=(""); user_kernel_block_out; fi
    unset -f user_kernel_block_out
    echo "$n"
}

# The comparison's judges, fed made-up logs and outputs: a line for each
# verdict that is not the expected one (nothing if all are).
user_kernel_judges_problems() {
    local tmp; tmp="$(mktemp -d)"
    local SPEC_VARIES=('pid @PID@,' ' +[0-9]+ cycles')
    # A serial log with four runs: kernel log lines inside the first, no
    # final newline in the third, the fourth cut off by the end of the boot.
    cat >"$tmp/log" <<'LOG'
test exec::the_user_programs_run_here_as_under_linux ... 
user: run /bin/hello
hello from pid 12, ring 3
[    1.000000][cpu 1][WARN  kernel::fs::exec] a line of the kernel's
ok a      17 cycles

user: /bin/hello (pid 12) exited with status 0
user: run /bin/startup one 'two words' ''

user: /bin/startup (pid 13) killed by signal 11
user: run /bin/x
no newline
user: /bin/x (pid 14) exited with status 3
user: run /bin/y
half
LOG
    mkdir "$tmp/runs"
    local got; got="$(user_kernel_blocks "$tmp/log" "$tmp/runs")"
    [ "$got" = 4 ] || echo "blocks judge: found $got runs, want 4"
    printf 'hello from pid 12, ring 3\nok a      17 cycles\n' | cmp -s - "$tmp/runs/1.out" \
        || echo "blocks judge: run 1 is '$(cat "$tmp/runs/1.out")'"
    [ "$(cat "$tmp/runs/1.pid") $(cat "$tmp/runs/1.end")" = "12 exited with status 0" ] \
        || echo "blocks judge: run 1 ended '$(cat "$tmp/runs/1.pid") $(cat "$tmp/runs/1.end")'"
    [ -f "$tmp/runs/2.out" ] && [ ! -s "$tmp/runs/2.out" ] || echo "blocks judge: run 2 (no output) is not empty"
    [ "$(cat "$tmp/runs/2.end")" = "killed by signal 11" ] || echo "blocks judge: run 2 ended '$(cat "$tmp/runs/2.end")'"
    printf 'no newline' | cmp -s - "$tmp/runs/3.out" || echo "blocks judge: run 3 is '$(cat "$tmp/runs/3.out")'"
    [ ! -f "$tmp/runs/4.end" ] && printf 'half\n' | cmp -s - "$tmp/runs/4.out" \
        || echo "blocks judge: the unfinished run 4 has an end or is not 'half'"
    # Output against output: LINUX|HERE|HERE_END|WANT, \n for newlines.
    local linux here hend want
    while IFS='|' read -r linux here hend want; do
        printf '%b' "$linux" >"$tmp/linux"; printf '%b' "$here" >"$tmp/here"
        got="$(user_kernel_problems "$tmp/linux" 4711 "exited with status 0" "/x/bin/" "$tmp/here" 12 "$hend")"
        [ "$got" = "$want" ] || echo "compare judge: '$linux' vs '$here' ($hend) gave '$got', want '$want'"
    done <<'CASES'
ok a\nok b\n|ok a\nok b\n|exited with status 0|
hello from pid 4711, ring 3\n|hello from pid 12, ring 3\n|exited with status 0|
argv[0] = /x/bin/startup\n|argv[0] = /bin/startup\n|exited with status 0|
a 123 cycles\n|a       5 cycles\n|exited with status 0|
hello from pid 4711, ring 3\n|hello from pid 1, ring 3\n|exited with status 0|line 1: 'hello from pid 1, ring 3' here, 'hello from pid @PID@, ring 3' under Linux; @PID@ is pid 12 here, 4711 under Linux
ok a\nok b\n|ok a\nok c\n|exited with status 0|line 2: 'ok c' here, 'ok b' under Linux
ok a\nok b\n|ok a\n|exited with status 0|line 2: nothing here, 'ok b' under Linux
ok a\n|ok a\nok b\n|exited with status 0|line 2: 'ok b' here, nothing under Linux
ok a\n|ok a|exited with status 0|the last line ends without a newline here, with one under Linux
ok a\n|ok a\n|exited with status 1|it ended: 'exited with status 1' here, 'exited with status 0' under Linux
ok a\n|FAILED a\n|killed by signal 11|it ended: 'killed by signal 11' here, 'exited with status 0' under Linux; line 1: 'FAILED a' here, 'ok a' under Linux
|ok a\n|exited with status 0|line 1: 'ok a' here, nothing under Linux
CASES
    # The list the kernel reads: tabs between fields, empty arguments kept.
    local USER_PROGRAMS=(startup hello)
    printf 'startup\t0\tone\ttwo words\t\nhello\t0\n' | cmp -s - <(user_kernel_list) \
        || echo "list judge: user_kernel_list gave '$(user_kernel_list | od -c | head -n 3)'"
    rm -rf "$tmp"
}

# check_user_kernel: every run of this file natively (stdout and stderr in
# one file) and in one boot of this kernel's in-kernel test
# exec::the_user_programs_run_here_as_under_linux; each run's lines and end
# compared (user_kernel_problems). In the configuration of the caller
# (MEM, SMP, ISO, APPEND: ./run-qemu.sh user-test --smp 2 compares on two
# CPUs).
check_user_kernel() {
    local dir="$REPO/target/user/kernel" test=exec::the_user_programs_run_here_as_under_linux
    echo "== user programs under this kernel against the host's Linux: each line, each exit status ($(config_name)) =="
    local judges; judges="$(user_kernel_judges_problems)"
    if [ -z "$judges" ]; then echo "user kernel-vs-Linux judges (log cutting, normalised comparison, run list) ... ok"; pass
    else
        echo "user kernel-vs-Linux judges ... FAILED:"; echo "$judges" | sed 's/^/    /'
        fail "user kernel-vs-Linux judges: $(echo "$judges" | head -n 1)"
    fi
    local emulated=""
    emulated="$(user_native_is_emulated)" || true
    if [ -n "$emulated" ]; then
        echo "user programs under this kernel ... FAILED: binfmt_misc entry '$emulated' runs i386 programs under qemu-i386, so there is no native output to compare with"
        fail "user programs under this kernel: binfmt_misc '$emulated' makes the Linux run an emulator run"
        return
    fi
    make_test_initramfs   # builds the user programs, packs them and /etc/user-tests
    build
    rm -rf "$dir"; mkdir -p "$dir/runs"
    # Linux first: the oracle of record.
    local names=() linux_pid=() linux_end=() name programs
    programs="$(user_kernel_programs)" || { fail "user programs under this kernel: a program has no spec"; return; }
    for name in $programs; do
        user_spec "$name"
        user_exec native "$USER_BIN/$name" "$dir/$name.linux" "$dir/$name.linux" "${SPEC_ARGS[@]}"
        names+=("$name"); linux_pid+=("$USER_PID")
        if [ "$USER_TIMED_OUT" = 1 ]; then linux_end+=("was killed after $USER_TIMEOUT s")
        else linux_end+=("$(user_status_words "$USER_RC")"); fi
    done
    # Then one boot, running the same list.
    local rc=0 log="$dir/boot.log"
    INITRD="$TEST_INITRAMFS" boot_capture "$log" "${APPEND:+$APPEND }test=$test" >/dev/null || rc=$?
    local runs; runs="$(user_kernel_blocks "$log" "$dir/runs")"
    local i k why
    for i in "${!names[@]}"; do
        name="${names[$i]}"; k=$((i + 1))
        local label="user program $name (this kernel against Linux)"
        user_spec "$name"
        if [ "$k" -gt "$runs" ]; then
            why="the boot has no 'user: run /bin/$name' line: it ended with $(status_word "$rc") before"
        elif ! grep -q "^user: run /bin/$name\( \|$\)" "$dir/runs/$k.run"; then
            why="run $k of the boot is '$(cat "$dir/runs/$k.run")', want /bin/$name (the run list and tests/user.sh disagree)"
        else
            cp "$dir/runs/$k.out" "$dir/$name.kernel"
            local hend="was cut off by the end of the boot ($(status_word "$rc"))" hpid=0
            [ -f "$dir/runs/$k.end" ] && hend="$(cat "$dir/runs/$k.end")" hpid="$(cat "$dir/runs/$k.pid")"
            why="$(user_kernel_problems "$dir/$name.linux" "${linux_pid[$i]}" "${linux_end[$i]}" "$USER_BIN/" \
                "$dir/$name.kernel" "$hpid" "$hend")"
        fi
        if [ -z "$why" ]; then
            echo "$label ... ok"; pass
        else
            echo "$label ... FAILED: $why (outputs in ${dir#"$REPO/"}/$name.{linux,kernel}, log ${log#"$REPO/"})"
            fail "$label: $why"
        fi
    done
    if [ "$rc" -ne 33 ] || ! grep -q "^test $test \.\.\. ok" "$log"; then
        echo "user programs under this kernel: the boot ended with $(status_word "$rc") ... FAILED"
        sed -n "/^test $test \.\.\. FAILED/,+4p" "$log" | sed 's/^/    /'
        fail "user programs under this kernel: test $test did not pass ($(status_word "$rc"), log ${log#"$REPO/"})"
    fi
    [ "$runs" -le "${#names[@]}" ] || fail "user programs under this kernel: the boot made $runs runs, tests/user.sh lists ${#names[@]}"
}
