//! Files (Linux `fs/`). So far only what the system calls on the console
//! need; the initramfs and ramfs come with the rest of user processes.
pub mod binfmt_elf;
pub mod exec;
pub mod read_write;
