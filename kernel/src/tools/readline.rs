//! Line editing for the serial console: what a user at a terminal expects
//! from a prompt (a small subset of GNU readline's keys).
//!
//! | keys                                  | what they do                              |
//! |---------------------------------------|-------------------------------------------|
//! | Left, Right                           | move the cursor; typing inserts there     |
//! | Home, End (also Ctrl-A, Ctrl-E)       | to the start, to the end of the line      |
//! | Backspace, Delete                     | erase before the cursor, under the cursor |
//! | Up, Down                              | walk the history of earlier lines         |
//! | Ctrl-C                                | abandon the line (`^C`, a fresh prompt)   |
//! | Ctrl-U                                | erase from the start of the line to the cursor |
//!
//! A terminal sends the arrow and editing keys as *escape sequences*:
//! ESC `[` then optional numeric parameters then a final letter or `~`
//! (ECMA-48's "control sequence", CSI), e.g. Up is `ESC [ A`, Home is
//! `ESC [ H` or `ESC [ 1 ~`, Delete is `ESC [ 3 ~`. In "application cursor
//! keys" mode a terminal sends `ESC O A` instead (SS3). The editor is a
//! small state machine fed one byte at a time, because that is how the
//! serial line delivers them: a sequence may be split across interrupts.
//! A whole sequence is always consumed, whether or not it is understood,
//! so none of its bytes ever lands in the line (the reason this file
//! exists: an editor that only drops ESC types `[A` into the line).
//!
//! Drawing uses nothing but printable characters, space and backspace
//! (`\x08`, which moves the terminal's cursor one column left without
//! erasing): a change in the middle of the line re-prints the tail and
//! backs up over it. Any terminal, and a log file, copes with that.
//!
//! The editor knows nothing of the console: it writes through any
//! [`core::fmt::Write`], and the shell feeds it the bytes from COM1.
//!
//! Why not a crate: the `no_std` line editors on crates.io were looked at.
//! `noline` (history, cursor keys, byte-at-a-time) is MPL-2.0, not the
//! project's MIT/Apache; `embedded-cli` (MIT/Apache) is a whole command
//! framework (derive macros, its own help and argument parsing, an
//! `embedded-io` writer) that would replace the shell's command table
//! rather than feed it a line; `menu` has no cursor keys or history. Two
//! hundred lines of our own cost less than any of them and can be read.

use alloc::collections::VecDeque;
use alloc::string::String;
use core::fmt::Write;

/// How many earlier lines Up can reach.
pub const HISTORY_LEN: usize = 32;

const CTRL_A: u8 = 0x01;
const CTRL_C: u8 = 0x03;
const CTRL_E: u8 = 0x05;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;
const DEL: u8 = 0x7f;

/// What [`LineEditor::feed`] made of a byte.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// The line is not finished yet.
    Pending,
    /// Enter: the finished line (also added to the history if not blank).
    Line(String),
    /// Ctrl-C: the line was abandoned (`^C` and a newline were printed).
    Cancelled,
}

/// Where we are inside an escape sequence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Esc {
    /// Not in one: bytes are keys.
    None,
    /// ESC seen: `[` or `O` comes next.
    Start,
    /// `ESC [` seen, with the first numeric parameter so far (the `3` of
    /// `ESC [ 3 ~`); `more` once a `;` started further parameters, which
    /// none of our keys needs (`ESC [ 1 ; 5 C` is Ctrl-Right: Right will do).
    Csi { param: u16, more: bool },
    /// `ESC O` seen: one final letter comes next.
    Ss3,
}

/// The keys an escape sequence can stand for.
#[derive(Clone, Copy)]
enum Key {
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    Delete,
}

/// A line being edited, the history, and the escape-sequence state.
pub struct LineEditor {
    line: String,
    /// Byte offset of the cursor in `line` (the line is ASCII only).
    cursor: usize,
    history: VecDeque<String>,
    /// While walking the history with Up/Down: the entry shown.
    hist_pos: Option<usize>,
    /// What was typed before the first Up, shown again by Down at the end.
    unsent: String,
    esc: Esc,
    /// The last byte was `\r`: a `\n` right after it is the same Enter.
    after_cr: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub const fn new() -> Self {
        Self {
            line: String::new(),
            cursor: 0,
            history: VecDeque::new(),
            hist_pos: None,
            unsent: String::new(),
            esc: Esc::None,
            after_cr: false,
        }
    }

    /// Take one received byte; echo and redraw through `out`.
    pub fn feed(&mut self, b: u8, out: &mut impl Write) -> Event {
        let after_cr = core::mem::replace(&mut self.after_cr, b == b'\r');
        match self.esc {
            Esc::None => {}
            Esc::Start => {
                self.esc = match b {
                    b'[' => Esc::Csi { param: 0, more: false },
                    b'O' => Esc::Ss3,
                    // ESC and some other key (Alt+key on many terminals):
                    // not one we know; drop both.
                    _ => Esc::None,
                };
                return Event::Pending;
            }
            Esc::Csi { param, more } => {
                match b {
                    b'0'..=b'9' if !more => {
                        let param = param.saturating_mul(10).saturating_add((b - b'0') as u16);
                        self.esc = Esc::Csi { param, more };
                    }
                    b'0'..=b'9' => {}
                    b';' => self.esc = Esc::Csi { param, more: true },
                    // The final byte ends the sequence, known or not.
                    0x40..=0x7e => {
                        self.esc = Esc::None;
                        let key = match (b, param) {
                            (b'A', _) => Some(Key::Up),
                            (b'B', _) => Some(Key::Down),
                            (b'C', _) => Some(Key::Right),
                            (b'D', _) => Some(Key::Left),
                            (b'H', _) => Some(Key::Home),
                            (b'F', _) => Some(Key::End),
                            // VT220 (`1~`, `4~`) and rxvt (`7~`, `8~`) Home/End.
                            (b'~', 1 | 7) => Some(Key::Home),
                            (b'~', 4 | 8) => Some(Key::End),
                            (b'~', 3) => Some(Key::Delete),
                            _ => None,
                        };
                        if let Some(k) = key {
                            self.key(k, out);
                        }
                    }
                    // Not a CSI byte at all: give up on the sequence.
                    _ => self.esc = Esc::None,
                }
                return Event::Pending;
            }
            Esc::Ss3 => {
                self.esc = Esc::None;
                let key = match b {
                    b'A' => Some(Key::Up),
                    b'B' => Some(Key::Down),
                    b'C' => Some(Key::Right),
                    b'D' => Some(Key::Left),
                    b'H' => Some(Key::Home),
                    b'F' => Some(Key::End),
                    _ => None,
                };
                if let Some(k) = key {
                    self.key(k, out);
                }
                return Event::Pending;
            }
        }
        match b {
            ESC => self.esc = Esc::Start,
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                let _ = out.write_str("\n");
                let line = core::mem::take(&mut self.line);
                self.reset();
                if !line.trim().is_empty() && self.history.back() != Some(&line) {
                    if self.history.len() == HISTORY_LEN {
                        self.history.pop_front();
                    }
                    self.history.push_back(line.clone());
                }
                return Event::Line(line);
            }
            CTRL_C => {
                let _ = out.write_str("^C\n");
                self.line.clear();
                self.reset();
                return Event::Cancelled;
            }
            CTRL_U => {
                let n = self.cursor;
                self.line.drain(..n);
                self.back(n, out);
                self.cursor = 0;
                self.redraw_tail(n, out);
            }
            CTRL_A => self.key(Key::Home, out),
            CTRL_E => self.key(Key::End, out),
            BACKSPACE | DEL => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                    self.back(1, out);
                    self.redraw_tail(1, out);
                }
            }
            0x20..=0x7e => {
                self.line.insert(self.cursor, b as char);
                self.cursor += 1;
                let _ = out.write_char(b as char);
                self.redraw_tail(0, out);
            }
            // Other control characters (Tab, Ctrl-D, ...) are ignored.
            _ => {}
        }
        Event::Pending
    }

    /// The line as typed so far (for tests and for a redraw by the caller).
    pub fn line(&self) -> &str {
        &self.line
    }

    fn reset(&mut self) {
        self.cursor = 0;
        self.hist_pos = None;
        self.unsent.clear();
        self.esc = Esc::None;
    }

    fn key(&mut self, key: Key, out: &mut impl Write) {
        match key {
            Key::Left if self.cursor > 0 => {
                self.cursor -= 1;
                self.back(1, out);
            }
            Key::Right if self.cursor < self.line.len() => {
                let _ = out.write_str(&self.line[self.cursor..self.cursor + 1]);
                self.cursor += 1;
            }
            Key::Home => {
                self.back(self.cursor, out);
                self.cursor = 0;
            }
            Key::End => {
                let _ = out.write_str(&self.line[self.cursor..]);
                self.cursor = self.line.len();
            }
            Key::Delete if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
                self.redraw_tail(1, out);
            }
            Key::Up => {
                let pos = match self.hist_pos {
                    None if self.history.is_empty() => return,
                    None => {
                        self.unsent = self.line.clone();
                        self.history.len() - 1
                    }
                    // At the oldest entry already: stay there.
                    Some(i) => i.saturating_sub(1),
                };
                self.hist_pos = Some(pos);
                let entry = self.history[pos].clone();
                self.replace_line(entry, out);
            }
            Key::Down => {
                let Some(i) = self.hist_pos else { return };
                let entry = if i + 1 < self.history.len() {
                    self.hist_pos = Some(i + 1);
                    self.history[i + 1].clone()
                } else {
                    // Past the newest entry: back to what was being typed.
                    self.hist_pos = None;
                    core::mem::take(&mut self.unsent)
                };
                self.replace_line(entry, out);
            }
            _ => {}
        }
    }

    /// Move the terminal's cursor `n` columns left.
    fn back(&self, n: usize, out: &mut impl Write) {
        for _ in 0..n {
            let _ = out.write_char(BACKSPACE as char);
        }
    }

    /// Re-print the line from the cursor on, blank the `erased` columns
    /// that the line no longer reaches, and bring the cursor back.
    fn redraw_tail(&self, erased: usize, out: &mut impl Write) {
        let tail = &self.line[self.cursor..];
        let _ = out.write_str(tail);
        for _ in 0..erased {
            let _ = out.write_char(' ');
        }
        self.back(tail.len() + erased, out);
    }

    /// Show `new` instead of the current line, the cursor at its end.
    fn replace_line(&mut self, new: String, out: &mut impl Write) {
        let old_len = self.line.len();
        self.back(self.cursor, out);
        let _ = out.write_str(&new);
        let extra = old_len.saturating_sub(new.len());
        for _ in 0..extra {
            let _ = out.write_char(' ');
        }
        self.back(extra, out);
        self.cursor = new.len();
        self.line = new;
    }
}
