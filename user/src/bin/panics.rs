//! `panics`: panics on purpose, to show that the runtime's panic handler
//! prints where and why on fd 2 and ends the program with status 101.
//! tests/user.sh expects exactly that.

#![no_std]
#![no_main]

use user::{Args, entry};

entry!(main);

fn main(args: Args) -> i32 {
    panic!("deliberate panic with {} argument(s)", args.argc())
}
