//! Small helpers every layer uses: the clock, a bounded wait, the words
//! reports are written with, and escaping for where text is shown.
//! Imports nothing of the crate.

pub(crate) mod clock;
pub(crate) mod escape;
pub(crate) mod own_thread;
pub(crate) mod timer;

use std::fmt::Write as _;
use std::time::Duration;

/// `0ms`, `512ms`, `1.5s`, `12s`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 10_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// `1 task`, `2 tasks`, `3 entries`.
pub(crate) fn plural(n: usize, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}

/// Is this one process per test (cargo-nextest), where no process sees
/// the whole binary's run?
pub(crate) fn per_test_process() -> bool {
    std::env::var_os("NEXTEST_RUN_ID").is_some()
}

/// Did this process run its whole test binary: not one test of it
/// (nextest's process per test), nor tests chosen by name (`cargo test
/// name`, `--skip`, `--ignored`)? Only then can it tell that a rule of
/// the whole binary matched nothing.
pub(crate) fn whole_binary() -> bool {
    !per_test_process() && !chooses_tests(std::env::args().skip(1))
}

/// Do libtest's arguments choose tests by name?
pub(crate) fn chooses_tests(args: impl Iterator<Item = String>) -> bool {
    // libtest's options that take a value as the next argument.
    const VALUED: &[&str] = &[
        "--test-threads",
        "--logfile",
        "--format",
        "--color",
        "--shuffle-seed",
        "-Z",
    ];
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--skip" | "--ignored" => return true,
            a if VALUED.contains(&a) => {
                args.next();
            }
            a if a.starts_with('-') => {}
            _ => return true, // a name filter
        }
    }
    false
}

/// A quoted string, valid both as a JSON string and as a TOML basic string
/// (the baseline): quotes, backslashes and control characters escaped.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(0)), "0ms");
        assert_eq!(human(Duration::from_millis(512)), "512ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(12)), "12s");
    }

    #[test]
    fn a_run_that_chooses_tests_by_name_is_not_the_whole_binary() {
        let chooses = |args: &[&str]| chooses_tests(args.iter().map(|a| a.to_string()));
        assert!(!chooses(&[]));
        assert!(!chooses(&[
            "--test-threads",
            "4",
            "--nocapture",
            "--color",
            "never"
        ]));
        assert!(!chooses(&["--include-ignored", "--format=terse"]));
        assert!(chooses(&["clean"]));
        assert!(chooses(&["--test-threads", "1", "server::"]));
        assert!(chooses(&["--exact", "a::b"]));
        assert!(chooses(&["--skip", "slow"]));
        assert!(chooses(&["--ignored"]));
    }

    #[test]
    fn escapes() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
