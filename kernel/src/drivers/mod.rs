//! Device drivers (Linux `drivers/`): so far the memory devices of
//! `drivers/char/mem.c`. The console's driver is `crate::console`.

pub mod mem;
