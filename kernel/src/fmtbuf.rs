//! A fixed-size text buffer that implements `core::fmt::Write`.
//!
//! Fault reports and panic messages must be formatted when the heap may not
//! exist yet, or may be the very thing that broke; this buffer needs none.
//! Text past the capacity is dropped and the buffer remembers that it was.

use core::fmt;

/// Up to `N` bytes of UTF-8 text.
pub struct FmtBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> FmtBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        FmtBuf { buf: [0; N], len: 0, truncated: false }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s (or their char-boundary prefixes) are copied in.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("<invalid utf-8>")
    }

    /// Did some text not fit?
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Forget the contents.
    pub fn clear(&mut self) {
        self.len = 0;
        self.truncated = false;
    }
}

impl<const N: usize> Default for FmtBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FmtBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

/// Format into a new `FmtBuf<N>`: `fmtbuf!(256, "x = {}", x)`.
#[macro_export]
macro_rules! fmtbuf {
    ($n:literal, $($arg:tt)*) => {{
        let mut b = $crate::fmtbuf::FmtBuf::<$n>::new();
        let _ = ::core::fmt::Write::write_fmt(&mut b, format_args!($($arg)*));
        b
    }};
}
