//! Kernel command-line options, declared by the subsystems they configure
//! (Linux `early_param()` / `__setup()` and `kernel/params.c`).
//!
//! Each subsystem declares its options beside the code they configure:
//!
//! ```ignore
//! early_param!("debug_kmap_local", Flag, "", "kmap_local guard slots ...", set_debug_kmap_local);
//! ```
//!
//! The macro puts a [`boot::cmdline::OptionSpec`] into the linker section
//! `.init.setup`, as Linux's macros put a `struct obs_kernel_param` there;
//! `linker.ld` gathers them between `__setup_start` and `__setup_end`, and
//! [`parse_args`] hands that table to the (host-tested) parser in
//! `boot/src/cmdline.rs`. Nobody keeps a central list: adding an option
//! touches only its own subsystem.
//!
//! ```text
//!  .init.setup   | loglevel (logger.rs) | test (ktest.rs) | debug_kmap_local (mm/kmap_local.rs) | ...
//!                ^ __setup_start                                                                ^ __setup_end
//! ```

use boot::cmdline::{OptionSpec, Parsed};

/// Declare a kernel command-line option: name, kind (`Flag`, `Value` or
/// `FlagOrValue`), how its value is written in the help, one line of help,
/// and the function that stores the value
/// (`fn(Option<&'static str>) -> Result<(), &'static str>`).
#[macro_export]
macro_rules! early_param {
    ($name:literal, $kind:ident, $value:literal, $help:literal, $apply:expr) => {
        const _: () = {
            #[used]
            #[unsafe(link_section = ".init.setup")]
            static PARAM: ::boot::cmdline::OptionSpec = ::boot::cmdline::OptionSpec {
                name: $name,
                kind: ::boot::cmdline::OptionKind::$kind,
                value: $value,
                help: $help,
                apply: $apply,
            };
        };
    };
}

unsafe extern "C" {
    /// Where `.init.setup` starts and ends (linker.ld): symbols with no
    /// type of their own, so declared as empty arrays.
    static __setup_start: [u8; 0];
    static __setup_end: [u8; 0];
}

/// Every option the kernel understands, in link order.
pub fn kernel_params() -> &'static [OptionSpec] {
    // SAFETY: only the statics of early_param!, all `OptionSpec`, go into
    // .init.setup; the section is aligned for them and each one's size is a
    // multiple of its alignment, so they lie back to back with no padding.
    unsafe {
        let start = (&raw const __setup_start).cast::<OptionSpec>();
        let bytes = (&raw const __setup_end) as usize - start as usize;
        core::slice::from_raw_parts(start, bytes / core::mem::size_of::<OptionSpec>())
    }
}

/// Apply the command line's options (Linux `parse_args` over the
/// `__setup` table). Problems are returned for the caller to log.
pub fn parse_args(cmdline: &'static str) -> Parsed {
    boot::cmdline::parse(cmdline, kernel_params())
}

/// The help listing of every option.
pub fn help() -> boot::cmdline::Help<'static> {
    boot::cmdline::help(kernel_params())
}
