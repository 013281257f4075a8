//! The kernel command line: every option the kernel understands, in one
//! table.
//!
//! The command line is a string of space-separated `key` or `key=value`
//! tokens, as on Linux. A value may be quoted to contain spaces:
//! `key="a b"`. Parsing is forgiving in the way Linux's is: an unknown or
//! malformed option is *reported* (see [`ParamProblem`]) and ignored, never
//! fatal, because a typo on the command line should not stop a machine from
//! booting.
//!
//! To add an option: add a field to [`Params`], a function that sets it, and
//! a row to [`OPTIONS`]. The help listing ([`help`]) comes from the same row.
//!
//! No heap: [`Params`] borrows string values from the command line itself,
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

/// Stores an option's value in [`Params`]. Gets `None` for a bare flag.
/// `Err` carries what was expected, for [`ParamProblem::Malformed`].
type Apply = for<'a> fn(&mut Params<'a>, Option<&'a str>) -> Result<(), &'static str>;

/// One kernel command-line option.
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
    apply: Apply,
}

impl OptionSpec {
    /// Finds an option by name.
    pub fn find(name: &str) -> Option<&'static OptionSpec> {
        OPTIONS.iter().find(|spec| spec.name == name)
    }

    /// How the option is written: `name`, `name=VALUE` or `name[=VALUE]`.
    pub fn usage(&self) -> Usage<'_> {
        Usage(self)
    }
}

/// Every option the kernel understands.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "loglevel",
        kind: OptionKind::Value,
        value: "N|NAME",
        help: "console log level: 0-3 error, 4 warn, 5-6 info, 7 debug, 8 trace, or off/error/warn/info/debug/trace",
        apply: set_loglevel,
    },
    OptionSpec {
        name: "exit_after_boot",
        kind: OptionKind::Flag,
        value: "",
        help: "print the boot log, then leave QEMU with success",
        apply: set_exit_after_boot,
    },
    OptionSpec {
        name: "test",
        kind: OptionKind::FlagOrValue,
        value: "FILTER",
        help: "run the in-kernel tests (only those whose names contain one of the comma-separated FILTER substrings)",
        apply: set_test,
    },
    OptionSpec {
        name: "test_one",
        kind: OptionKind::Value,
        value: "NAME",
        help: "run exactly the test NAME (for tests that end the boot with a panic or fault)",
        apply: set_test_one,
    },
    OptionSpec {
        name: "test_after",
        kind: OptionKind::Value,
        value: "NAME",
        help: "with test: skip the tests up to and including NAME (the runner resumes after a test that ended the boot)",
        apply: set_test_after,
    },
    OptionSpec {
        name: "test_list",
        kind: OptionKind::FlagOrValue,
        value: "FILTER",
        help: "print the names of the tests (matching FILTER) and exit",
        apply: set_test_list,
    },
    OptionSpec {
        name: "test_expect_mem",
        kind: OptionKind::Value,
        value: "SIZE",
        help: "the RAM size the runner gave QEMU (-m), e.g. 3G, 3584M, 64M, so tests can check totals",
        apply: set_test_expect_mem,
    },
    OptionSpec {
        name: "test_expect_cpus",
        kind: OptionKind::Value,
        value: "N",
        help: "the number of CPUs the runner gave QEMU (-smp), so tests can check that all came up",
        apply: set_test_expect_cpus,
    },
    OptionSpec {
        name: "debug_kmap_local",
        kind: OptionKind::Flag,
        value: "",
        help: "kmap_local guard slots: every other slot stays unmapped (Linux CONFIG_DEBUG_KMAP_LOCAL)",
        apply: set_debug_kmap_local,
    },
    OptionSpec {
        name: "debug_kmap_local_force_map",
        kind: OptionKind::Flag,
        value: "",
        help: "map lowmem pages through the kmap_local slots too; implies debug_kmap_local (Linux CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP)",
        apply: set_debug_kmap_local_force_map,
    },
    OptionSpec {
        name: "stress",
        kind: OptionKind::Value,
        value: "SECONDS",
        help: "run the kmap stress test for SECONDS, print its summary line, and exit",
        apply: set_stress,
    },
    OptionSpec {
        name: "bench",
        kind: OptionKind::Flag,
        value: "",
        help: "run the in-kernel benchmarks, print their table, and exit",
        apply: set_bench,
    },
];

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
fn set_loglevel<'a>(params: &mut Params<'a>, value: Option<&'a str>) -> Result<(), &'static str> {
    const EXPECTED: &str = "a number 0-8 or one of off, error, warn, info, debug, trace";
    let value = value.ok_or(EXPECTED)?;
    let level = match value.parse::<u8>() {
        Ok(0..=3) => LevelFilter::Error,
        Ok(4) => LevelFilter::Warn,
        Ok(5..=6) => LevelFilter::Info,
        Ok(7) => LevelFilter::Debug,
        Ok(8) => LevelFilter::Trace,
        Ok(_) => return Err(EXPECTED),
        // `log` parses the names case-insensitively.
        Err(_) => LevelFilter::from_str(value).map_err(|_| EXPECTED)?,
    };
    params.loglevel = Some(level);
    Ok(())
}

fn set_exit_after_boot<'a>(
    params: &mut Params<'a>,
    _: Option<&'a str>,
) -> Result<(), &'static str> {
    params.exit_after_boot = true;
    Ok(())
}

fn set_test<'a>(params: &mut Params<'a>, value: Option<&'a str>) -> Result<(), &'static str> {
    params.test = Some(match value {
        None => TestSelection::All,
        Some(filter) => TestSelection::Filter(filter),
    });
    Ok(())
}

fn set_test_one<'a>(params: &mut Params<'a>, value: Option<&'a str>) -> Result<(), &'static str> {
    params.test = Some(TestSelection::One(value.ok_or("a test name")?));
    Ok(())
}

fn set_test_after<'a>(params: &mut Params<'a>, value: Option<&'a str>) -> Result<(), &'static str> {
    params.test_after = Some(value.ok_or("a test name")?);
    Ok(())
}

fn set_test_list<'a>(params: &mut Params<'a>, value: Option<&'a str>) -> Result<(), &'static str> {
    params.test_list = Some(value);
    Ok(())
}

fn set_test_expect_mem<'a>(
    params: &mut Params<'a>,
    value: Option<&'a str>,
) -> Result<(), &'static str> {
    const EXPECTED: &str = "a size in bytes, optionally with a K, M or G suffix (e.g. 3G, 3584M)";
    params.test_expect_mem = Some(value.and_then(parse_size).ok_or(EXPECTED)?);
    Ok(())
}

fn set_test_expect_cpus<'a>(
    params: &mut Params<'a>,
    value: Option<&'a str>,
) -> Result<(), &'static str> {
    const EXPECTED: &str = "a number of CPUs from 1 to 255";
    let n = value.and_then(|v| v.parse::<u32>().ok()).filter(|n| (1..=255).contains(n)).ok_or(EXPECTED)?;
    params.test_expect_cpus = Some(n);
    Ok(())
}

fn set_debug_kmap_local<'a>(params: &mut Params<'a>, _: Option<&'a str>) -> Result<(), &'static str> {
    params.debug_kmap_local = true;
    Ok(())
}

fn set_debug_kmap_local_force_map<'a>(params: &mut Params<'a>, _: Option<&'a str>) -> Result<(), &'static str> {
    params.debug_kmap_local_force_map = true;
    Ok(())
}

fn set_stress<'a>(params: &mut Params<'a>, value: Option<&'a str>) -> Result<(), &'static str> {
    const EXPECTED: &str = "a number of seconds";
    params.stress = Some(value.and_then(|v| v.parse::<u64>().ok()).filter(|&s| s > 0).ok_or(EXPECTED)?);
    Ok(())
}

fn set_bench<'a>(params: &mut Params<'a>, _: Option<&'a str>) -> Result<(), &'static str> {
    params.bench = true;
    Ok(())
}

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

/// Which in-kernel tests to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestSelection<'a> {
    /// `test`: all of them.
    All,
    /// `test=FILTER`: those whose names contain one of the comma-separated
    /// substrings of FILTER.
    Filter(&'a str),
    /// `test_one=NAME`: exactly the one named NAME.
    One(&'a str),
}

impl TestSelection<'_> {
    /// Whether the test called `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match *self {
            Self::All => true,
            Self::Filter(filter) => filter_matches(filter, name),
            Self::One(one) => name == one,
        }
    }
}

/// Whether `name` contains one of the comma-separated substrings of
/// `filter`. Empty pieces are ignored; a filter with no non-empty piece
/// matches everything.
pub fn filter_matches(filter: &str, name: &str) -> bool {
    let mut pieces = filter
        .split(',')
        .filter(|piece| !piece.is_empty())
        .peekable();
    pieces.peek().is_none() || pieces.any(|piece| name.contains(piece))
}

/// How many problems [`Params`] keeps; the last slot is reserved for
/// [`ParamProblem::TooManyProblems`].
pub const MAX_PROBLEMS: usize = 16;

/// Something wrong with one token of the command line. Every problem means
/// that token was ignored (or, for duplicates, overridden).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamProblem<'a> {
    /// Not in [`OPTIONS`]; holds the whole token.
    Unknown(&'a str),
    /// The value could not be parsed.
    Malformed {
        /// The option's name.
        option: &'a str,
        /// The value given.
        value: &'a str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A value option given without a value.
    MissingValue(&'a str),
    /// A flag given a value.
    UnexpectedValue {
        /// The option's name.
        option: &'a str,
        /// The value given.
        value: &'a str,
    },
    /// Given more than once; the last valid occurrence wins.
    Duplicate(&'a str),
    /// More problems than fit in the list; the rest were dropped.
    TooManyProblems,
}

impl fmt::Display for ParamProblem<'_> {
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
            Self::MissingValue(option) => {
                write!(f, "option '{option}' needs a value")?;
                if let Some(spec) = OptionSpec::find(option) {
                    write!(f, ", as in {}", spec.usage())?;
                }
                f.write_str(" (ignored)")
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

/// The parsed command line. String values borrow from it.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// The kernel image path QEMU and GRUB put first, if there was one.
    pub image: Option<&'a str>,
    /// `loglevel=`: the console log level.
    pub loglevel: Option<LevelFilter>,
    /// `exit_after_boot`: print the boot log, then leave QEMU with success.
    pub exit_after_boot: bool,
    /// `test`, `test=FILTER` or `test_one=NAME` (the last one given wins).
    pub test: Option<TestSelection<'a>>,
    /// `test_after=NAME`: with `test`, start after the test named NAME.
    pub test_after: Option<&'a str>,
    /// `test_list` (`Some(None)`) or `test_list=FILTER` (`Some(Some(..))`).
    pub test_list: Option<Option<&'a str>>,
    /// `test_expect_mem=SIZE`, in bytes.
    pub test_expect_mem: Option<u64>,
    /// `test_expect_cpus=N`.
    pub test_expect_cpus: Option<u32>,
    /// `bench`: run the benchmarks and exit.
    pub bench: bool,
    /// `stress=SECONDS`: run the stress test and exit.
    pub stress: Option<u64>,
    /// `debug_kmap_local`: guard slots between kmap_local mappings.
    pub debug_kmap_local: bool,
    /// `debug_kmap_local_force_map`: lowmem through the slots too.
    pub debug_kmap_local_force_map: bool,
    problems: [ParamProblem<'a>; MAX_PROBLEMS],
    nr_problems: usize,
}

impl<'a> Params<'a> {
    /// Nothing set, no problems.
    pub const fn new() -> Self {
        Self {
            image: None,
            loglevel: None,
            exit_after_boot: false,
            test: None,
            test_after: None,
            test_list: None,
            test_expect_mem: None,
            test_expect_cpus: None,
            bench: false,
            stress: None,
            debug_kmap_local: false,
            debug_kmap_local_force_map: false,
            problems: [ParamProblem::TooManyProblems; MAX_PROBLEMS],
            nr_problems: 0,
        }
    }

    /// Everything that was wrong, in command-line order. The kernel should
    /// log each one as a warning once logging is up.
    pub fn problems(&self) -> &[ParamProblem<'a>] {
        &self.problems[..self.nr_problems]
    }

    fn report(&mut self, problem: ParamProblem<'a>) {
        if self.nr_problems < MAX_PROBLEMS - 1 {
            self.problems[self.nr_problems] = problem;
            self.nr_problems += 1;
        } else if self.nr_problems == MAX_PROBLEMS - 1 {
            self.problems[self.nr_problems] = ParamProblem::TooManyProblems;
            self.nr_problems += 1;
        }
    }
}

impl Default for Params<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses a kernel command line. Never fails: problems are collected in
/// [`Params::problems`] and the offending tokens ignored.
pub fn parse(cmdline: &str) -> Params<'_> {
    let mut params = Params::new();
    let mut seen = [false; OPTIONS.len()];
    for (position, token) in Tokens(cmdline).enumerate() {
        // QEMU and GRUB both start the command line with the kernel's path.
        // Recognise it by its '/' (an option never has one in its name);
        // the '=' test keeps `test=mm/zone` from being taken for a path.
        if position == 0 && token.contains('/') && !token.contains('=') {
            params.image = Some(token);
            continue;
        }
        let (name, value) = match token.split_once('=') {
            Some((name, value)) => (name, Some(unquote(value))),
            None => (token, None),
        };
        let Some(index) = OPTIONS.iter().position(|spec| spec.name == name) else {
            params.report(ParamProblem::Unknown(token));
            continue;
        };
        let spec = &OPTIONS[index];
        if seen[index] {
            params.report(ParamProblem::Duplicate(name));
        }
        seen[index] = true;
        let value = match (spec.kind, value) {
            (OptionKind::Flag, Some(value)) => {
                params.report(ParamProblem::UnexpectedValue {
                    option: name,
                    value,
                });
                continue;
            }
            (OptionKind::Value, None | Some("")) => {
                params.report(ParamProblem::MissingValue(name));
                continue;
            }
            (OptionKind::FlagOrValue, Some("")) => None,
            (_, value) => value,
        };
        if let Err(expected) = (spec.apply)(&mut params, value) {
            params.report(ParamProblem::Malformed {
                option: name,
                value: value.unwrap_or(""),
                expected,
            });
        }
    }
    params
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

/// A listing of every option with its help line, like a `--help`.
pub fn help() -> Help {
    Help
}

/// See [`help`].
pub struct Help;

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = OPTIONS.iter().map(|s| s.usage().len()).max().unwrap_or(0);
        f.write_str("kernel command-line options:")?;
        for spec in OPTIONS {
            let usage = spec.usage();
            write!(f, "\n  {usage}")?;
            for _ in usage.len()..width {
                f.write_str(" ")?;
            }
            write!(f, "  {}", spec.help)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(cmdline: &str) -> Vec<String> {
        parse(cmdline)
            .problems()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn empty_command_line() {
        for cmdline in ["", "   ", "\t\n"] {
            let p = parse(cmdline);
            assert_eq!(p.image, None);
            assert_eq!(p.loglevel, None);
            assert!(!p.exit_after_boot);
            assert_eq!(p.test, None);
            assert_eq!(p.test_after, None);
            assert_eq!(p.test_list, None);
            assert_eq!(p.test_expect_mem, None);
            assert!(p.problems().is_empty());
        }
    }

    #[test]
    fn skips_the_image_path() {
        let p = parse("/work/main/target/i686-kernel/debug/kernel loglevel=debug");
        assert_eq!(p.image, Some("/work/main/target/i686-kernel/debug/kernel"));
        assert_eq!(p.loglevel, Some(LevelFilter::Debug));
        assert!(p.problems().is_empty());

        let p = parse("target/x/kernel  exit_after_boot");
        assert_eq!(p.image, Some("target/x/kernel"));
        assert!(p.exit_after_boot);
        assert!(p.problems().is_empty());
    }

    #[test]
    fn only_the_first_token_can_be_the_image() {
        let p = parse("test=mm/zone /boot/kernel");
        assert_eq!(p.image, None);
        assert_eq!(p.test, Some(TestSelection::Filter("mm/zone")));
        assert_eq!(p.problems(), [ParamProblem::Unknown("/boot/kernel")]);
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
            assert_eq!(
                parse(&format!("loglevel={n}")).loglevel,
                Some(level),
                "loglevel={n}"
            );
        }
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
            assert_eq!(
                parse(&format!("loglevel={name}")).loglevel,
                Some(level),
                "{name}"
            );
        }
    }

    #[test]
    fn malformed_loglevel_is_reported_and_ignored() {
        let p = parse("loglevel=abc loglevel=9 exit_after_boot");
        assert_eq!(p.loglevel, None);
        assert!(
            p.exit_after_boot,
            "parsing continues after a malformed option"
        );
        let msgs: Vec<String> = p.problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            msgs,
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
    fn test_selection() {
        assert_eq!(parse("test").test, Some(TestSelection::All));
        assert_eq!(parse("test=").test, Some(TestSelection::All));
        assert_eq!(
            parse("test=kmap,zone").test,
            Some(TestSelection::Filter("kmap,zone"))
        );
        assert_eq!(
            parse("test_one=kmap::fault").test,
            Some(TestSelection::One("kmap::fault"))
        );
        // They share one field: the last given wins.
        assert_eq!(parse("test test_one=x").test, Some(TestSelection::One("x")));
    }

    #[test]
    fn test_selection_matching() {
        let filter = TestSelection::Filter("kmap,zone");
        assert!(filter.matches("mm::kmap::basic"));
        assert!(filter.matches("zone_totals"));
        assert!(!filter.matches("buddy::split"));
        assert!(TestSelection::All.matches("anything"));
        assert!(TestSelection::One("a::b").matches("a::b"));
        assert!(!TestSelection::One("a::b").matches("a::bc"));
        assert!(filter_matches(",", "anything"));
    }

    #[test]
    fn test_after_resumes_the_suite() {
        let p = parse("test=mm test_after=mm::buddy_split");
        assert_eq!(p.test, Some(TestSelection::Filter("mm")));
        assert_eq!(p.test_after, Some("mm::buddy_split"));
        assert_eq!(parse("test").test_after, None);
        assert_eq!(
            parse("test_after").problems(),
            [ParamProblem::MissingValue("test_after")]
        );
    }

    #[test]
    fn test_list_flag_or_value() {
        assert_eq!(parse("test_list").test_list, Some(None));
        assert_eq!(parse("test_list=kmap").test_list, Some(Some("kmap")));
        assert_eq!(parse("exit_after_boot").test_list, None);
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
            let cmdline = format!("test_expect_mem={text}");
            assert_eq!(parse(&cmdline).test_expect_mem, Some(bytes), "{text}");
        }
    }

    #[test]
    fn malformed_sizes() {
        for text in [
            "3X",
            "G",
            "-1M",
            "+5",
            "0x",
            "0x+5",
            "1.5G",
            "99999999999999999999",
            "17179869184G",
        ] {
            assert_eq!(parse_size(text), None, "{text}");
        }
        assert_eq!(
            problems("test_expect_mem=lots"),
            [
                "malformed option 'test_expect_mem=lots' (ignored): expected a size in bytes, \
              optionally with a K, M or G suffix (e.g. 3G, 3584M)"
            ]
        );
    }

    #[test]
    fn unknown_missing_and_unexpected() {
        let p = parse("/boot/kernel foo bar=1 loglevel test_one= exit_after_boot=yes test");
        assert_eq!(p.test, Some(TestSelection::All), "parsing continues");
        assert!(!p.exit_after_boot);
        assert_eq!(
            p.problems(),
            [
                ParamProblem::Unknown("foo"),
                ParamProblem::Unknown("bar=1"),
                ParamProblem::MissingValue("loglevel"),
                ParamProblem::MissingValue("test_one"),
                ParamProblem::UnexpectedValue {
                    option: "exit_after_boot",
                    value: "yes"
                },
            ]
        );
        let msgs: Vec<String> = p.problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs[0], "unknown kernel option 'foo' (ignored)");
        assert_eq!(msgs[1], "unknown kernel option 'bar=1' (ignored)");
        assert_eq!(
            msgs[2],
            "option 'loglevel' needs a value, as in loglevel=N|NAME (ignored)"
        );
        assert_eq!(
            msgs[4],
            "option 'exit_after_boot' takes no value, but got 'exit_after_boot=yes' (ignored)"
        );
    }

    #[test]
    fn duplicates_later_wins() {
        let p = parse("loglevel=3 loglevel=debug");
        assert_eq!(p.loglevel, Some(LevelFilter::Debug));
        assert_eq!(p.problems(), [ParamProblem::Duplicate("loglevel")]);
        // A malformed later one does not erase the earlier valid one.
        let p = parse("debug_kmap_local_force_map debug_kmap_local");
        assert!(p.debug_kmap_local && p.debug_kmap_local_force_map && p.problems().is_empty());
        let p = parse("test_expect_cpus=4 bench");
        assert_eq!(p.test_expect_cpus, Some(4));
        assert!(p.bench);
        assert!(p.problems().is_empty());
        assert_eq!(parse("test_expect_cpus=0").test_expect_cpus, None);
        assert!(matches!(parse("test_expect_cpus=many").problems()[0], ParamProblem::Malformed { option: "test_expect_cpus", .. }));
        let p = parse("test_expect_mem=64M test_expect_mem=x");
        assert_eq!(p.test_expect_mem, Some(64 << 20));
        assert_eq!(p.problems().len(), 2);
    }

    #[test]
    fn quoted_values() {
        let p = parse(r#"test="kmap,zone" test_list="a b"  loglevel="info""#);
        assert_eq!(p.test, Some(TestSelection::Filter("kmap,zone")));
        assert_eq!(p.test_list, Some(Some("a b")));
        assert_eq!(p.loglevel, Some(LevelFilter::Info));
        assert!(p.problems().is_empty());
        // Unterminated quote: runs to the end of the line.
        assert_eq!(
            parse(r#"test_one="x y"#).test,
            Some(TestSelection::One("x y"))
        );
    }

    #[test]
    fn too_many_problems() {
        let cmdline = vec!["nope"; MAX_PROBLEMS + 5].join(" ");
        let p = parse(&cmdline);
        assert_eq!(p.problems().len(), MAX_PROBLEMS);
        assert_eq!(
            p.problems()[MAX_PROBLEMS - 2],
            ParamProblem::Unknown("nope")
        );
        assert_eq!(
            p.problems()[MAX_PROBLEMS - 1],
            ParamProblem::TooManyProblems
        );
        assert_eq!(
            p.problems()[MAX_PROBLEMS - 1].to_string(),
            "too many problems with the kernel command line; the rest are not listed"
        );
    }

    #[test]
    fn help_lists_every_option_aligned() {
        let text = help().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "kernel command-line options:");
        assert_eq!(lines.len(), OPTIONS.len() + 1);
        for (spec, line) in OPTIONS.iter().zip(&lines[1..]) {
            assert!(line.starts_with(&format!("  {}", spec.usage())), "{line}");
            assert!(line.ends_with(spec.help), "{line}");
        }
        // The widest usage sets the column: two spaces after it.
        let widest = OPTIONS.iter().map(|o| o.usage().to_string()).max_by_key(|u| u.len()).unwrap();
        assert!(text.contains(&format!("\n  {widest}  ")), "{text}");
        // The help column starts at the same place on every line.
        let columns: Vec<usize> = OPTIONS
            .iter()
            .zip(&lines[1..])
            .map(|(spec, line)| line.len() - spec.help.len())
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{columns:?}");
    }

    #[test]
    fn option_names_are_unique_and_plain() {
        for (i, spec) in OPTIONS.iter().enumerate() {
            assert!(!spec.name.contains(['=', '/', ' ', '"']), "{}", spec.name);
            assert!(OPTIONS[i + 1..].iter().all(|other| other.name != spec.name));
            assert_eq!(
                spec.kind == OptionKind::Flag,
                spec.value.is_empty(),
                "{}",
                spec.name
            );
        }
    }
}
