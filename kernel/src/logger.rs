//! The `log` crate's backend: every line says when, on which CPU, how
//! important, and from which module.
//!
//! ```text
//! [    0.012345][cpu 0][INFO  kernel::mm::init] 2176MB HIGHMEM available.
//! ```
//!
//! The level starts at `Info` and the kernel command line's `loglevel=`
//! changes it (see `boot::cmdline`).

use log::{LevelFilter, Log, Metadata, Record};

use crate::arch::{percpu::raw_smp_processor_id, tsc::uptime_ns};

struct KernelLogger;

static LOGGER: KernelLogger = KernelLogger;

impl Log for KernelLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = uptime_ns();
        crate::println!(
            "[{:5}.{:06}][cpu {}][{:<5} {}] {}",
            ns / 1_000_000_000,
            (ns % 1_000_000_000) / 1000,
            raw_smp_processor_id(),
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Install the logger at the default level.
pub fn init() {
    // set_logger fails only if called twice; the first logger stays.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Info);
}

crate::early_param!(
    "loglevel",
    Value,
    "N|NAME",
    "console log level: 0-3 error, 4 warn, 5-6 info, 7 debug, 8 trace, or off/error/warn/info/debug/trace",
    |v| {
        set_level(boot::cmdline::parse_loglevel(v.unwrap_or(""))?);
        Ok(())
    }
);

/// Change the level (from `loglevel=`).
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}
