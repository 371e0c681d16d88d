//! `grace = "250ms"`: parsing a humane duration at compile time, so that a
//! typo is a compile error on the literal rather than a panic in every test.

/// The units `grace` accepts, with their length in nanoseconds.
///
/// Minutes and hours are left out on purpose: a grace period is how long a
/// test waits for stragglers, and one longer than a few seconds is almost
/// always a mistake.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
];

/// What a valid duration looks like; appended to every error.
pub(crate) const VALID_FORMS: &str = "write a number and a unit, such as \"500us\", \"250ms\", \"1.5s\" \
     (units: ns, us, ms, s)";

/// Parses `"250ms"`, `"1.5s"`, `"2 s"`, `"100us"` into nanoseconds.
///
/// Uses integer arithmetic only: `"0.1s"` must be exactly 100ms, which an
/// `f64` round trip does not guarantee.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("`grace` is empty; {VALID_FORMS}"));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(format!(
            "`grace` must start with a number, found {text:?}; {VALID_FORMS}"
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "`grace` has no unit: did you mean \"{number}ms\"? {VALID_FORMS}"
        ));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!(
            "`grace` has an unknown unit `{unit}` in {text:?}; {VALID_FORMS}"
        ));
    };

    let number = number.replace('_', "");
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() || fraction.contains('.') {
        return Err(format!(
            "`grace` has a malformed number in {text:?}; {VALID_FORMS}"
        ));
    }
    let too_long = || format!("`grace` of {text:?} is too long to be a grace period");
    let whole: u64 = whole.parse().map_err(|_| too_long())?;
    let mut nanos = whole.checked_mul(scale).ok_or_else(too_long)?;

    // Each fraction digit is worth a tenth of the previous one; a digit that
    // would need a fraction of a nanosecond cannot be represented.
    let mut digit_value = scale;
    for digit in fraction.bytes().map(|b| u64::from(b - b'0')) {
        if digit_value % 10 != 0 {
            if digit != 0 {
                return Err(format!(
                    "`grace` of {text:?} is finer than a nanosecond; {VALID_FORMS}"
                ));
            }
            continue;
        }
        digit_value /= 10;
        nanos = nanos
            .checked_add(digit * digit_value)
            .ok_or_else(too_long)?;
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse_nanos("7ns"), Ok(7));
        assert_eq!(parse_nanos("7us"), Ok(7_000));
        assert_eq!(parse_nanos("7µs"), Ok(7_000));
        assert_eq!(parse_nanos("250ms"), Ok(250_000_000));
        assert_eq!(parse_nanos("2s"), Ok(2_000_000_000));
    }

    #[test]
    fn accepts_fractions_spaces_and_separators() {
        assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_nanos("0.1s"), Ok(100_000_000));
        assert_eq!(parse_nanos("0.25ms"), Ok(250_000));
        assert_eq!(parse_nanos("250 ms"), Ok(250_000_000));
        assert_eq!(parse_nanos("1_000ms"), Ok(1_000_000_000));
        assert_eq!(parse_nanos("0s"), Ok(0));
        assert_eq!(parse_nanos("1.000s"), Ok(1_000_000_000));
    }

    #[test]
    fn rejects_garbage_with_the_valid_forms() {
        for bad in [
            "", "250", "ms", "250m", "1h", "2 min", "fast", "1.2.3s", ".5s", "0.5ns", "-1s",
            "1e3ms",
        ] {
            let err = parse_nanos(bad).expect_err(bad);
            assert!(err.contains("units: ns, us, ms, s"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn suggests_a_unit_when_missing() {
        assert!(parse_nanos("250").unwrap_err().contains("\"250ms\""));
    }

    #[test]
    fn rejects_overflow() {
        assert!(parse_nanos("99999999999999999999s").is_err());
        assert!(parse_nanos("18446744073709551615s").is_err());
    }
}
