//! `print!` and `println!` to fd 1, `eprint!` and `eprintln!` to fd 2.
//!
//! `core::fmt` hands a formatter its output in pieces ("hello from pid ",
//! "7", ", ring ", ...). Writing each piece with its own system call would
//! be slow under an emulator and would let another process's output land
//! in the middle of a line, so each `print!` collects its output in a
//! buffer on the stack and writes it in as few `write` calls as fit.

use core::fmt;

use crate::syscall::write_all;

/// The bytes one `print!` collects before a `write`.
const BUF: usize = 256;

/// A `fmt::Write` that buffers and writes to a file descriptor.
pub struct FdWriter {
    fd: i32,
    buf: [u8; BUF],
    len: usize,
    /// `-errno` of the first failed write, if one failed.
    error: Option<isize>,
}

impl FdWriter {
    /// A writer to `fd` with an empty buffer.
    pub const fn new(fd: i32) -> Self {
        FdWriter { fd, buf: [0; BUF], len: 0, error: None }
    }

    /// Write out what is buffered. Returns the first error, if any.
    pub fn flush(&mut self) -> Result<(), isize> {
        if self.error.is_none()
            && self.len > 0
            && let Err(e) = write_all(self.fd, &self.buf[..self.len])
        {
            self.error = Some(e);
        }
        self.len = 0;
        self.error.map_or(Ok(()), Err)
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == BUF {
                self.flush().map_err(|_| fmt::Error)?;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Format `args` to `fd` (what the macros call). Output that cannot be
/// written (fd closed, say) is dropped, as `print!` on Linux would panic
/// instead; a test program notices missing lines anyway.
pub fn write_fmt(fd: i32, args: fmt::Arguments) {
    let mut w = FdWriter::new(fd);
    let _ = fmt::write(&mut w, args);
    let _ = w.flush();
}

/// Print to standard output (fd 1).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::write_fmt(1, format_args!($($arg)*)) };
}

/// Print a line to standard output (fd 1).
#[macro_export]
macro_rules! println {
    () => { $crate::io::write_fmt(1, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::write_fmt(1, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Print to standard error (fd 2).
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::write_fmt(2, format_args!($($arg)*)) };
}

/// Print a line to standard error (fd 2).
#[macro_export]
macro_rules! eprintln {
    () => { $crate::io::write_fmt(2, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::write_fmt(2, format_args!("{}\n", format_args!($($arg)*))) };
}
