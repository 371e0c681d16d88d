//! Humane durations: `250ms`, `1s`, `1.5s`, `100us`.

use std::time::Duration;

/// Parses `<number><unit>` with unit `ns`, `us`, `µs`, `ms`, `s` or `m`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(bad(text)),
    };
    let value: f64 = number.parse().map_err(|_| bad(text))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| bad(text))
}

fn bad(text: &str) -> String {
    format!(
        "{text:?} is not a duration; write a number and a unit: \"250ms\", \"2s\", \"1.5s\", \"100us\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse(" 0ms "), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_garbage_saying_what_to_write() {
        for t in ["", "250", "ms", "1h", "-1s", "1.2.3s", "fast"] {
            let e = parse(t).unwrap_err();
            assert!(e.contains("\"250ms\""), "{t}: {e}");
        }
    }
}
