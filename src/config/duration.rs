//! Durations, as every setting writes them (`"250ms"`, `"1.5s"`, `"1m"`):
//! the grammar is `taskleak-grammar`'s, shared with `#[leak_check]`.

use std::time::Duration;

/// Parses a duration; the error names the text, the reason and the valid
/// forms, the same words the attribute uses at compile time.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    taskleak_grammar::parse_duration(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse(" 0ms "), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_garbage_saying_what_to_write() {
        for t in ["", "250", "ms", "-1s", "1.2.3s", "fast", "1_000ms"] {
            let e = parse(t).unwrap_err();
            assert!(e.contains("\"250ms\""), "{t}: {e}");
        }
    }
}
