//! The kernel command line: the parser, and the value syntaxes options
//! share (Linux `kernel/params.c` `parse_args` and `lib/cmdline.c`
//! `memparse`, `get_option`).
//!
//! The command line is a string of space-separated `key` or `key=value`
//! tokens, as on Linux. A value may be quoted to contain spaces:
//! `key="a b"`. Parsing is forgiving in the way Linux's is: an unknown or
//! malformed option is *reported* (see [`ParamProblem`]) and ignored, never
//! fatal, because a typo on the command line should not stop a machine from
//! booting.
//!
//! This file knows no option. Each subsystem declares its own, next to the
//! code it configures, as Linux's `early_param("name", fn)` does: an
//! [`OptionSpec`] whose `apply` stores the value where that subsystem keeps
//! it. The kernel gathers every declaration from a linker section
//! (`kernel/src/params.rs`) and hands the table to [`parse`]; the host tests
//! below hand it a table of their own. So adding a subsystem's options
//! touches only that subsystem.
//!
//! No heap: values are `&'static str` slices of the command line itself,
//! and problems go into a fixed-size list.

use core::fmt;
use core::str::FromStr;

use log::LevelFilter;

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// `name` alone; `name=value` is a problem.
    Flag,
    /// `name=value`; `name` alone (or `name=`) is a problem.
    Value,
    /// Either `name` or `name=value`.
    FlagOrValue,
}

/// Stores an option's value where its subsystem keeps it. Gets `None` for a
/// bare flag. `Err` carries what was expected, for
/// [`ParamProblem::Malformed`].
pub type Apply = fn(Option<&'static str>) -> Result<(), &'static str>;

/// One kernel command-line option (Linux `struct obs_kernel_param`).
#[derive(Clone, Copy)]
pub struct OptionSpec {
    /// The key, before any `=`.
    pub name: &'static str,
    /// Whether it takes a value.
    pub kind: OptionKind,
    /// How the value is written in the help, e.g. `"N|NAME"`; empty for a
    /// flag.
    pub value: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Where the value goes.
    pub apply: Apply,
}

impl fmt::Debug for OptionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OptionSpec({})", self.usage())
    }
}

impl OptionSpec {
    /// How the option is written: `name`, `name=VALUE` or `name[=VALUE]`.
    pub fn usage(&self) -> Usage<'_> {
        Usage(self)
    }
}

/// Linux numbers its levels `KERN_EMERG` = 0 to `KERN_DEBUG` = 7. We read
/// `loglevel=N` as "show level N and everything more urgent", and `log` has
/// only five levels, so:
///
/// | N      | Linux levels                  | `LevelFilter` |
/// |--------|-------------------------------|---------------|
/// | 0..=3  | EMERG, ALERT, CRIT, ERR       | `Error`       |
/// | 4      | WARNING                       | `Warn`        |
/// | 5..=6  | NOTICE, INFO                  | `Info`        |
/// | 7      | DEBUG                         | `Debug`       |
/// | 8      | (none; beyond Linux)          | `Trace`       |
///
/// (Linux itself shows levels strictly *below* N, so its `loglevel=5` is our
/// `loglevel=4`.) As even 0 still shows errors, silence is `loglevel=off`.
pub fn parse_loglevel(value: &str) -> Result<LevelFilter, &'static str> {
    const EXPECTED: &str = "a number 0-8 or one of off, error, warn, info, debug, trace";
    match value.parse::<u8>() {
        Ok(0..=3) => Ok(LevelFilter::Error),
        Ok(4) => Ok(LevelFilter::Warn),
        Ok(5..=6) => Ok(LevelFilter::Info),
        Ok(7) => Ok(LevelFilter::Debug),
        Ok(8) => Ok(LevelFilter::Trace),
        Ok(_) => Err(EXPECTED),
        // `log` parses the names case-insensitively.
        Err(_) => LevelFilter::from_str(value).map_err(|_| EXPECTED),
    }
}

/// What [`parse_size`] accepts, for an option's `Err`.
pub const SIZE_EXPECTED: &str = "a size in bytes, optionally with a K, M or G suffix (e.g. 3G, 3584M)";

/// Parses a size the way Linux's `memparse` does: a decimal (or `0x` hex)
/// number, optionally followed by `K`, `M` or `G` (either case) for KiB,
/// MiB, GiB. `None` if malformed or if it does not fit in 64 bits.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let number = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        None => return None,
    };
    number.checked_mul(1 << shift)
}

/// Whether `name` contains one of the comma-separated substrings of
/// `filter` (the test harness's `test=kmap,zone`). Empty pieces are
/// ignored, so `test=kmap,` means kmap; a filter with no non-empty piece
/// matches everything.
pub fn filter_matches(filter: &str, name: &str) -> bool {
    let mut pieces = filter
        .split(',')
        .filter(|piece| !piece.is_empty())
        .peekable();
    pieces.peek().is_none() || pieces.any(|piece| name.contains(piece))
}

/// How many problems [`Parsed`] keeps; the last slot is reserved for
/// [`ParamProblem::TooManyProblems`].
pub const MAX_PROBLEMS: usize = 16;

/// The most options a table may have (duplicates are tracked in a 64-bit
/// mask).
pub const MAX_OPTIONS: usize = 64;

/// Something wrong with one token of the command line. Every problem means
/// that token was ignored (or, for duplicates, overridden).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamProblem {
    /// Not in the table; holds the whole token.
    Unknown(&'static str),
    /// The value could not be parsed.
    Malformed {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A value option given without a value; holds the option's usage.
    MissingValue {
        /// The option's name.
        option: &'static str,
        /// How it is written, e.g. `loglevel=N|NAME`.
        usage: &'static str,
    },
    /// A flag given a value.
    UnexpectedValue {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: &'static str,
    },
    /// Given more than once; the last valid occurrence wins.
    Duplicate(&'static str),
    /// More problems than fit in the list; the rest were dropped.
    TooManyProblems,
}

impl fmt::Display for ParamProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Unknown(token) => write!(f, "unknown kernel option '{token}' (ignored)"),
            Self::Malformed {
                option,
                value,
                expected,
            } => write!(
                f,
                "malformed option '{option}={value}' (ignored): expected {expected}"
            ),
            Self::MissingValue { option, usage } => {
                write!(f, "option '{option}' needs a value, as in {option}={usage} (ignored)")
            }
            Self::UnexpectedValue { option, value } => write!(
                f,
                "option '{option}' takes no value, but got '{option}={value}' (ignored)"
            ),
            Self::Duplicate(option) => write!(
                f,
                "option '{option}' given more than once; the last valid one wins"
            ),
            Self::TooManyProblems => f.write_str(
                "too many problems with the kernel command line; the rest are not listed",
            ),
        }
    }
}

/// What parsing found besides the options it applied.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The kernel image path QEMU and GRUB put first, if there was one.
    pub image: Option<&'static str>,
    problems: [ParamProblem; MAX_PROBLEMS],
    nr_problems: usize,
}

impl Parsed {
    const fn new() -> Self {
        Self {
            image: None,
            problems: [ParamProblem::TooManyProblems; MAX_PROBLEMS],
            nr_problems: 0,
        }
    }

    /// Everything that was wrong, in command-line order. The kernel logs
    /// each one as a warning.
    pub fn problems(&self) -> &[ParamProblem] {
        &self.problems[..self.nr_problems]
    }

    fn report(&mut self, problem: ParamProblem) {
        if self.nr_problems < MAX_PROBLEMS - 1 {
            self.problems[self.nr_problems] = problem;
            self.nr_problems += 1;
        } else if self.nr_problems == MAX_PROBLEMS - 1 {
            self.problems[self.nr_problems] = ParamProblem::TooManyProblems;
            self.nr_problems += 1;
        }
    }
}

/// Parses a kernel command line against `options` and applies every valid
/// option, in command-line order. Never fails: problems are collected in
/// [`Parsed::problems`] and the offending tokens ignored.
///
/// # Panics
/// If `options` has more than [`MAX_OPTIONS`] entries (a build-time
/// mistake, not bad input).
pub fn parse(cmdline: &'static str, options: &[OptionSpec]) -> Parsed {
    assert!(options.len() <= MAX_OPTIONS, "more than {MAX_OPTIONS} kernel options");
    let mut parsed = Parsed::new();
    let mut seen = 0u64;
    for (position, token) in Tokens(cmdline).enumerate() {
        // QEMU and GRUB both start the command line with the kernel's path.
        // Recognise it by its '/' (an option never has one in its name);
        // the '=' test keeps `test=mm/zone` from being taken for a path.
        if position == 0 && token.contains('/') && !token.contains('=') {
            parsed.image = Some(token);
            continue;
        }
        let (name, value) = match token.split_once('=') {
            Some((name, value)) => (name, Some(unquote(value))),
            None => (token, None),
        };
        let Some(index) = options.iter().position(|spec| spec.name == name) else {
            parsed.report(ParamProblem::Unknown(token));
            continue;
        };
        let spec = &options[index];
        if seen & (1 << index) != 0 {
            parsed.report(ParamProblem::Duplicate(spec.name));
        }
        seen |= 1 << index;
        let value = match (spec.kind, value) {
            (OptionKind::Flag, Some(value)) => {
                parsed.report(ParamProblem::UnexpectedValue {
                    option: spec.name,
                    value,
                });
                continue;
            }
            (OptionKind::Value, None | Some("")) => {
                parsed.report(ParamProblem::MissingValue { option: spec.name, usage: spec.value });
                continue;
            }
            (OptionKind::FlagOrValue, Some("")) => None,
            (_, value) => value,
        };
        if let Err(expected) = (spec.apply)(value) {
            parsed.report(ParamProblem::Malformed {
                option: spec.name,
                value: value.unwrap_or(""),
                expected,
            });
        }
    }
    parsed
}

/// The command line without the image path in front (for the boot log: the
/// path is the host's, not the machine's).
pub fn options_part(cmdline: &str) -> &str {
    let rest = cmdline.trim_start();
    match Tokens(rest).next() {
        Some(first) if first.contains('/') && !first.contains('=') => rest[first.len()..].trim_start(),
        _ => rest,
    }
}

/// Strips one pair of double quotes around a value: `"a b"` → `a b`. An
/// unterminated quote (`"a b`) loses only the opening one.
fn unquote(value: &str) -> &str {
    match value.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
        None => value,
    }
}

/// Splits a command line into tokens at whitespace outside double quotes.
struct Tokens<'a>(&'a str);

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0.trim_start();
        if rest.is_empty() {
            self.0 = rest;
            return None;
        }
        let mut in_quotes = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                c.is_whitespace() && !in_quotes
            })
            .map_or(rest.len(), |(i, _)| i);
        self.0 = &rest[end..];
        Some(&rest[..end])
    }
}

/// How an option is written; see [`OptionSpec::usage`].
pub struct Usage<'a>(&'a OptionSpec);

impl Usage<'_> {
    fn len(&self) -> usize {
        let spec = self.0;
        spec.name.len()
            + match spec.kind {
                OptionKind::Flag => 0,
                OptionKind::Value => 1 + spec.value.len(),
                OptionKind::FlagOrValue => 3 + spec.value.len(),
            }
    }
}

impl fmt::Display for Usage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.0;
        match spec.kind {
            OptionKind::Flag => f.write_str(spec.name),
            OptionKind::Value => write!(f, "{}={}", spec.name, spec.value),
            OptionKind::FlagOrValue => write!(f, "{}[={}]", spec.name, spec.value),
        }
    }
}

/// A listing of every option in `options` with its help line, sorted by
/// name, like a `--help`.
pub fn help(options: &[OptionSpec]) -> Help<'_> {
    Help(options)
}

/// See [`help`].
pub struct Help<'a>(&'a [OptionSpec]);

impl fmt::Display for Help<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.0.iter().map(|s| s.usage().len()).max().unwrap_or(0);
        f.write_str("kernel command-line options:")?;
        let mut last: Option<&str> = None;
        // Sorted without a heap: each round prints the smallest name above
        // the last one printed.
        while let Some(spec) = self
            .0
            .iter()
            .filter(|s| last.is_none_or(|l| s.name > l))
            .min_by_key(|s| s.name)
        {
            let usage = spec.usage();
            write!(f, "\n  {usage}")?;
            for _ in usage.len()..width {
                f.write_str(" ")?;
            }
            write!(f, "  {}", spec.help)?;
            last = Some(spec.name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// What the test table's options were given, in order.
        static APPLIED: RefCell<Vec<(&'static str, Option<&'static str>)>> = const { RefCell::new(Vec::new()) };
    }

    fn record(name: &'static str, value: Option<&'static str>) {
        APPLIED.with(|a| a.borrow_mut().push((name, value)));
    }

    fn set_loglevel(v: Option<&'static str>) -> Result<(), &'static str> {
        parse_loglevel(v.unwrap())?;
        record("loglevel", v);
        Ok(())
    }
    fn set_flag(v: Option<&'static str>) -> Result<(), &'static str> {
        record("exit_after_boot", v);
        Ok(())
    }
    fn set_test(v: Option<&'static str>) -> Result<(), &'static str> {
        record("test", v);
        Ok(())
    }
    fn set_size(v: Option<&'static str>) -> Result<(), &'static str> {
        v.and_then(parse_size).ok_or(SIZE_EXPECTED)?;
        record("size", v);
        Ok(())
    }

    /// A table shaped like the kernel's: one option of each kind, and two
    /// that check their values.
    const OPTIONS: &[OptionSpec] = &[
        OptionSpec { name: "loglevel", kind: OptionKind::Value, value: "N|NAME", help: "console log level", apply: set_loglevel },
        OptionSpec { name: "exit_after_boot", kind: OptionKind::Flag, value: "", help: "leave after booting", apply: set_flag },
        OptionSpec { name: "test", kind: OptionKind::FlagOrValue, value: "FILTER", help: "run the tests", apply: set_test },
        OptionSpec { name: "size", kind: OptionKind::Value, value: "SIZE", help: "a size", apply: set_size },
    ];

    /// Parse with the test table; what was applied, and the problems.
    fn run(cmdline: &'static str) -> (Parsed, Vec<(&'static str, Option<&'static str>)>) {
        APPLIED.with(|a| a.borrow_mut().clear());
        let parsed = parse(cmdline, OPTIONS);
        (parsed, APPLIED.with(|a| a.borrow().clone()))
    }

    fn messages(p: &Parsed) -> Vec<String> {
        p.problems().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn empty_command_line_applies_nothing() {
        for cmdline in ["", "   ", "\t\n"] {
            let (p, applied) = run(cmdline);
            assert_eq!(p.image, None);
            assert!(applied.is_empty());
            assert!(p.problems().is_empty());
        }
    }

    #[test]
    fn skips_the_image_path() {
        let (p, applied) = run("/work/main/target/i686-kernel/debug/kernel loglevel=debug");
        assert_eq!(p.image, Some("/work/main/target/i686-kernel/debug/kernel"));
        assert_eq!(applied, [("loglevel", Some("debug"))]);
        assert!(p.problems().is_empty());
        let (p, applied) = run("target/x/kernel  exit_after_boot");
        assert_eq!(p.image, Some("target/x/kernel"));
        assert_eq!(applied, [("exit_after_boot", None)]);
    }

    #[test]
    fn only_the_first_token_can_be_the_image() {
        let (p, applied) = run("test=mm/zone /boot/kernel");
        assert_eq!(p.image, None);
        assert_eq!(applied, [("test", Some("mm/zone"))]);
        assert_eq!(p.problems(), [ParamProblem::Unknown("/boot/kernel")]);
    }

    #[test]
    fn options_part_drops_the_image_path() {
        assert_eq!(options_part("/work/main/target/kernel  loglevel=7 test"), "loglevel=7 test");
        assert_eq!(options_part("test=mm/zone x"), "test=mm/zone x");
        assert_eq!(options_part(""), "");
    }

    #[test]
    fn loglevel_numbers_follow_the_linux_levels() {
        let expected = [
            LevelFilter::Error,
            LevelFilter::Error,
            LevelFilter::Error,
            LevelFilter::Error,
            LevelFilter::Warn,
            LevelFilter::Info,
            LevelFilter::Info,
            LevelFilter::Debug,
            LevelFilter::Trace,
        ];
        for (n, level) in expected.into_iter().enumerate() {
            assert_eq!(parse_loglevel(&n.to_string()), Ok(level), "loglevel={n}");
        }
        assert!(parse_loglevel("9").is_err());
    }

    #[test]
    fn loglevel_names() {
        for (name, level) in [
            ("off", LevelFilter::Off),
            ("error", LevelFilter::Error),
            ("warn", LevelFilter::Warn),
            ("info", LevelFilter::Info),
            ("debug", LevelFilter::Debug),
            ("trace", LevelFilter::Trace),
            ("TRACE", LevelFilter::Trace),
        ] {
            assert_eq!(parse_loglevel(name), Ok(level), "{name}");
        }
    }

    #[test]
    fn malformed_values_are_reported_and_not_applied() {
        let (p, applied) = run("loglevel=abc loglevel=9 exit_after_boot");
        assert_eq!(applied, [("exit_after_boot", None)], "parsing continues after a malformed option");
        assert_eq!(
            messages(&p),
            [
                "malformed option 'loglevel=abc' (ignored): expected a number 0-8 or one of \
                 off, error, warn, info, debug, trace",
                "option 'loglevel' given more than once; the last valid one wins",
                "malformed option 'loglevel=9' (ignored): expected a number 0-8 or one of \
                 off, error, warn, info, debug, trace",
            ]
        );
    }

    #[test]
    fn flag_or_value_options() {
        assert_eq!(run("test").1, [("test", None)]);
        assert_eq!(run("test=").1, [("test", None)], "an empty value is the bare flag");
        assert_eq!(run("test=kmap,zone").1, [("test", Some("kmap,zone"))]);
    }

    #[test]
    fn filters_match_any_non_empty_piece() {
        assert!(filter_matches("kmap,zone", "mm::kmap::basic"));
        assert!(filter_matches("kmap,zone", "zone_totals"));
        assert!(!filter_matches("kmap,zone", "buddy::split"));
        assert!(filter_matches("kmap,", "kmap::a"));
        assert!(!filter_matches("kmap,", "buddy::b"), "a trailing comma does not select everything");
        assert!(!filter_matches(",kmap", "buddy::b"));
        assert!(filter_matches(",", "anything"), "no piece at all: everything");
        assert!(filter_matches("", "anything"));
    }

    #[test]
    fn sizes_with_suffixes() {
        for (text, bytes) in [
            ("3G", 3 << 30),
            ("3584M", 3584 << 20),
            ("64M", 64 << 20),
            ("64m", 64 << 20),
            ("512K", 512 << 10),
            ("4096", 4096),
            ("0x1000", 0x1000),
            ("0x10M", 16 << 20),
        ] {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
    }

    #[test]
    fn malformed_sizes() {
        for text in ["3X", "G", "-1M", "+5", "0x", "0x+5", "1.5G", "99999999999999999999", "17179869184G"] {
            assert_eq!(parse_size(text), None, "{text}");
        }
        let (p, applied) = run("size=lots");
        assert!(applied.is_empty());
        assert_eq!(
            messages(&p),
            ["malformed option 'size=lots' (ignored): expected a size in bytes, \
              optionally with a K, M or G suffix (e.g. 3G, 3584M)"]
        );
    }

    #[test]
    fn unknown_missing_and_unexpected() {
        let (p, applied) = run("/boot/kernel foo bar=1 loglevel size= exit_after_boot=yes test");
        assert_eq!(applied, [("test", None)], "parsing continues");
        assert_eq!(
            p.problems(),
            [
                ParamProblem::Unknown("foo"),
                ParamProblem::Unknown("bar=1"),
                ParamProblem::MissingValue { option: "loglevel", usage: "N|NAME" },
                ParamProblem::MissingValue { option: "size", usage: "SIZE" },
                ParamProblem::UnexpectedValue { option: "exit_after_boot", value: "yes" },
            ]
        );
        let msgs = messages(&p);
        assert_eq!(msgs[0], "unknown kernel option 'foo' (ignored)");
        assert_eq!(msgs[1], "unknown kernel option 'bar=1' (ignored)");
        assert_eq!(msgs[2], "option 'loglevel' needs a value, as in loglevel=N|NAME (ignored)");
        assert_eq!(msgs[4], "option 'exit_after_boot' takes no value, but got 'exit_after_boot=yes' (ignored)");
    }

    #[test]
    fn duplicates_are_named_and_applied_in_order() {
        let (p, applied) = run("loglevel=3 loglevel=debug");
        assert_eq!(applied, [("loglevel", Some("3")), ("loglevel", Some("debug"))], "the last one applied wins");
        assert_eq!(p.problems(), [ParamProblem::Duplicate("loglevel")]);
        let (p, applied) = run("size=64M size=x");
        assert_eq!(applied, [("size", Some("64M"))], "a malformed later one does not erase the earlier valid one");
        assert_eq!(p.problems().len(), 2);
    }

    #[test]
    fn quoted_values() {
        let (p, applied) = run(r#"test="kmap,zone" size="3G"  loglevel="info""#);
        assert_eq!(applied, [("test", Some("kmap,zone")), ("size", Some("3G")), ("loglevel", Some("info"))]);
        assert!(p.problems().is_empty());
        // Unterminated quote: runs to the end of the line.
        assert_eq!(run(r#"test="x y"#).1, [("test", Some("x y"))]);
    }

    #[test]
    fn too_many_problems() {
        let cmdline: &'static str = vec!["nope"; MAX_PROBLEMS + 5].join(" ").leak();
        let (p, _) = run(cmdline);
        assert_eq!(p.problems().len(), MAX_PROBLEMS);
        assert_eq!(p.problems()[MAX_PROBLEMS - 2], ParamProblem::Unknown("nope"));
        assert_eq!(p.problems()[MAX_PROBLEMS - 1], ParamProblem::TooManyProblems);
        assert_eq!(
            p.problems()[MAX_PROBLEMS - 1].to_string(),
            "too many problems with the kernel command line; the rest are not listed"
        );
    }

    #[test]
    #[should_panic(expected = "more than 64 kernel options")]
    fn a_table_too_big_for_the_duplicate_mask_is_refused() {
        let big = vec![OPTIONS[0]; MAX_OPTIONS + 1];
        parse("", &big);
    }

    #[test]
    fn help_lists_every_option_sorted_and_aligned() {
        let text = help(OPTIONS).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "kernel command-line options:");
        assert_eq!(lines.len(), OPTIONS.len() + 1);
        let names: Vec<&str> = lines[1..].iter().map(|l| l.trim_start().split(['=', '[', ' ']).next().unwrap()).collect();
        assert_eq!(names, ["exit_after_boot", "loglevel", "size", "test"], "sorted by name");
        for spec in OPTIONS {
            let line = lines.iter().find(|l| l.starts_with(&format!("  {}", spec.usage()))).unwrap();
            assert!(line.ends_with(spec.help), "{line}");
        }
        // The widest usage sets the column: two spaces after it.
        assert!(text.contains("\n  loglevel=N|NAME  console log level"), "{text}");
        let columns: Vec<usize> = lines[1..].iter().map(|l| l.len() - OPTIONS.iter().find(|s| l.ends_with(s.help)).unwrap().help.len()).collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{columns:?}");
    }
}
