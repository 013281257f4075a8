//! `init`: the first user program, `/init` in the initramfs. For now it
//! says who it is and what it was given, and exits 0; it will start the
//! user-mode test programs once the kernel has fork, execve and wait4.

#![no_std]
#![no_main]

use user::syscall::{current_ring, getpid};
use user::{Args, entry, println};

entry!(main);

fn main(args: Args) -> i32 {
    println!("init: pid {}, ring {}: user space of the highmem teaching kernel", getpid(), current_ring());
    println!("init: {} argument(s), {} environment string(s)", args.argc(), args.envp().count());
    0
}
