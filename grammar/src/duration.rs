//! Durations: one number and one unit, `"250ms"`, `"1.5s"`, `"1m"`.
//!
//! The arithmetic is humantime's (exact decimal fractions, no floats, an
//! error on overflow). The shape is narrower than humantime's: one term,
//! so `"1m 30s"` is refused (write `"90s"`), which also keeps every error
//! about one number and one unit, with a suggestion.

use std::fmt;
use std::time::Duration;

/// What a valid duration looks like; ends every error.
pub const DURATION_FORMS: &str = "write a number and a unit, such as \"250ms\", \"1.5s\" or \"1m\" \
     (units: ns, us, ms, s, m, h)";

/// Why a duration was refused. `Display` names the text, the reason, and
/// what to write instead.
///
/// ```
/// let err = taskleak_grammar::parse_duration("1_000ms").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "\"1_000ms\" is not a duration: `_` separators are not accepted: write \"1000ms\"; \
///      write a number and a unit, such as \"250ms\", \"1.5s\" or \"1m\" (units: ns, us, ms, s, m, h)",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    why: String,
}

impl DurationError {
    /// The reason alone, without the text or the valid forms.
    ///
    /// ```
    /// let err = taskleak_grammar::parse_duration("").unwrap_err();
    /// assert_eq!(err.reason(), "it is empty");
    /// ```
    pub fn reason(&self) -> &str {
        &self.why
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a duration: {}; {DURATION_FORMS}",
            self.text, self.why
        )
    }
}

impl std::error::Error for DurationError {}

/// Parses one number (with an optional decimal fraction) and one unit,
/// optionally separated by spaces; surrounding spaces are ignored.
///
/// Units are humantime's: `ns`, `us` (or `µs`), `ms`, `s`, `m` (minutes),
/// `h`, and their long forms (`msec`, `sec`, `min`, `hours`, ...). A bare
/// `"0"` is zero. Refused: no unit (`"250"`), `_` separators, signs,
/// exponents, more than one term, fractions of a nanosecond, and anything
/// that does not fit in a [`Duration`].
///
/// ```
/// use std::time::Duration;
/// use taskleak_grammar::parse_duration;
///
/// assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
/// assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
/// assert!(parse_duration("1m 30s").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let fail = |why: String| DurationError {
        text: text.to_owned(),
        why,
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.contains('_') {
        return Err(fail(format!(
            "`_` separators are not accepted: write {:?}",
            t.replace('_', "")
        )));
    }
    if let Some(rest) = t.strip_prefix(['-', '+']) {
        let sign = &t[..1];
        return Err(fail(if sign == "-" {
            "a grace period cannot be negative".into()
        } else {
            format!("write it without the sign: {rest:?}")
        }));
    }
    if let Some(rest) = t.strip_prefix('.') {
        return Err(fail(format!(
            "it must start with a digit: write \"0.{rest}\""
        )));
    }
    let whole_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if whole_end == 0 {
        return Err(fail("it must start with a number".into()));
    }
    let mut number_end = whole_end;
    if t[whole_end..].starts_with('.') {
        let digits = t[whole_end + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(t.len() - whole_end - 1);
        if digits == 0 {
            return Err(fail(format!(
                "the `.` must be followed by digits: write \"{}.5{}\" or \"{}{}\"",
                &t[..whole_end],
                t[whole_end + 1..].trim(),
                &t[..whole_end],
                t[whole_end + 1..].trim()
            )));
        }
        number_end = whole_end + 1 + digits;
    }
    let number = &t[..number_end];
    let after = t[number_end..].trim_start();
    let unit_end = after
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(after.len());
    let (unit, rest) = after.split_at(unit_end);
    if unit.is_empty() {
        return Err(fail(match rest.chars().next() {
            None => format!("it has no unit (for {number} milliseconds write \"{number}ms\")"),
            Some('.') => "its number has more than one `.`".into(),
            Some(c) => format!("`{c}` cannot follow the number"),
        }));
    }
    // Both micro signs: U+00B5 (humantime's) and the Greek mu U+03BC.
    let unit = unit.replace('\u{3bc}', "\u{b5}");
    if !UNITS.contains(&unit.as_str()) {
        return Err(fail(format!("unknown unit `{unit}`")));
    }
    let rest = rest.trim();
    if !rest.is_empty() {
        return Err(fail(if rest.starts_with(|c: char| c.is_ascii_digit()) {
            "it has more than one number: write one number and one unit, such as \"90s\" for \"1m 30s\"".into()
        } else {
            format!("`{rest}` cannot follow the unit")
        }));
    }
    humantime::parse_duration(&format!("{number}{unit}")).map_err(|e| {
        fail(match e {
            // humantime says the same for both: a whole part that fits
            // means the fraction was too fine.
            humantime::DurationError::NumberOverflow
                if humantime::parse_duration(&format!("{}{unit}", &t[..whole_end])).is_ok() =>
            {
                "it is finer than a nanosecond, the smallest step of a duration".into()
            }
            humantime::DurationError::NumberOverflow => {
                "it is too long to represent (a duration holds up to 2^64 seconds)".into()
            }
            // The shape was checked above; this is humantime's own word.
            other => other.to_string(),
        })
    })
}

/// humantime 2's unit names.
const UNITS: &[&str] = &[
    "nanos", "nsec", "ns", "usec", "us", "\u{b5}s", "millis", "msec", "ms", "seconds", "second",
    "secs", "sec", "s", "minutes", "minute", "min", "mins", "m", "hours", "hour", "hr", "hrs", "h",
    "days", "day", "d", "weeks", "week", "wk", "wks", "w", "months", "month", "M", "years", "year",
    "yr", "yrs", "y",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The one table: every place taskleak reads a duration (the attribute,
    /// `TASKLEAK_GRACE`, `configure!`, the config file) goes through
    /// `parse_duration`, so this is what all of them accept.
    const ACCEPTED: &[(&str, Duration)] = &[
        ("250ms", Duration::from_millis(250)),
        ("1.5s", Duration::from_millis(1500)),
        ("0.1s", Duration::from_millis(100)),
        ("1m", Duration::from_secs(60)),
        ("2 min", Duration::from_secs(120)),
        ("500us", Duration::from_micros(500)),
        ("500µs", Duration::from_micros(500)),
        ("500\u{3bc}s", Duration::from_micros(500)),
        ("100ns", Duration::from_nanos(100)),
        ("250 ms", Duration::from_millis(250)),
        (" 2s ", Duration::from_secs(2)),
        ("1h", Duration::from_secs(3600)),
        ("0", Duration::ZERO),
        ("0ms", Duration::ZERO),
        ("1.000s", Duration::from_secs(1)),
        ("0.25ms", Duration::from_micros(250)),
    ];

    /// Refused strings and the reason each one's message gives.
    const REFUSED: &[(&str, &str)] = &[
        ("", "it is empty"),
        ("   ", "it is empty"),
        (
            "250",
            "it has no unit (for 250 milliseconds write \"250ms\")",
        ),
        (
            "1_000ms",
            "`_` separators are not accepted: write \"1000ms\"",
        ),
        ("-1s", "cannot be negative"),
        ("+1s", "without the sign: \"1s\""),
        (".5s", "write \"0.5s\""),
        ("1.s", "the `.` must be followed by digits"),
        ("1.2.3s", "more than one `.`"),
        ("ms", "it must start with a number"),
        ("fast", "it must start with a number"),
        ("1x", "unknown unit `x`"),
        ("1e3ms", "unknown unit `e`"),
        ("1m 30s", "more than one number"),
        ("1s!", "`!` cannot follow the unit"),
        ("0.5ns", "it is finer than a nanosecond"),
        ("0.0000000001ns", "it is finer than a nanosecond"),
        ("1.0000000001s", "it is finer than a nanosecond"),
        ("99999999999999999999s", "it is too long to represent"),
        ("18446744073709551615y", "it is too long to represent"),
    ];

    #[test]
    fn accepts_the_table() {
        for &(text, want) in ACCEPTED {
            assert_eq!(parse_duration(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn refuses_the_table_with_the_reason_and_the_valid_forms() {
        for &(text, why) in REFUSED {
            let err = parse_duration(text).expect_err(text);
            let msg = err.to_string();
            assert!(err.reason().contains(why), "{text:?}: {msg}");
            assert!(
                msg.starts_with(&format!("{text:?} is not a duration: ")),
                "{msg}"
            );
            assert!(msg.ends_with(DURATION_FORMS), "{msg}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "\u{0}",
            "9.",
            "9. s",
            "1µ",
            "1 s s",
            "٣s",
            "1\u{3bc}",
            "0.0000000001s",
        ] {
            let _ = parse_duration(text);
        }
    }
}
