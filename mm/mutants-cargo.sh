#!/bin/sh
# cargo for cargo-mutants, run the way host tests must run: from outside the
# tree. The repository's .cargo/config.toml makes every cargo command inside
# the tree build for the kernel target with build-std, and cargo offers no
# way to switch that off (--config and CARGO_* variables merge with it), so
# cargo has to be started where it cannot find that file.
#
# cargo-mutants calls "$CARGO" (this script) with the working directory set
# to the tree it is testing (the source tree, or its scratch copy); we turn
# that directory into --manifest-path and start cargo from /. See the
# "Mutation testing" section of mm/src/lib.rs for the command that uses it.
set -e
toolchain=${RUSTUP_TOOLCHAIN:-nightly-2026-05-19}
sub=$1
shift
case " $* " in
*" --manifest-path"*) cd / && exec cargo "+$toolchain" "$sub" "$@" ;;
esac
manifest=$PWD/Cargo.toml
cd /
exec cargo "+$toolchain" "$sub" --manifest-path "$manifest" "$@"
