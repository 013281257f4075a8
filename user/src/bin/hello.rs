//! `hello`: prints its pid and the privilege level it runs at, read from
//! its own CS register (`ring 3` in user mode), and exits 0. The program
//! the console's `run hello` starts from the initramfs.

#![no_std]
#![no_main]

use user::syscall::{current_ring, getpid};
use user::{Args, entry, println};

entry!(main);

fn main(_args: Args) -> i32 {
    println!("hello from pid {}, ring {}", getpid(), current_ring());
    0
}
