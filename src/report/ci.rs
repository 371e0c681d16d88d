//! Reports for CI systems: GitHub Actions annotations and JSON files.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::render::fold;
use super::{Leaks, Verdict};
use crate::capture::registry::id_u64;

/// Sends a failing check's report where CI looks: an `::error` annotation
/// per leaked spawn site when `GITHUB_ACTIONS=true`, and a JSON file in
/// `TASKLEAK_REPORT_DIR` when it is set.
pub(crate) fn publish(leaks: &Leaks) {
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        // Straight to the process's stdout, past libtest's capture, where
        // the Actions runner reads workflow commands.
        // Workflow commands must start a line; libtest may have left one
        // open (`test name ... `).
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\n");
        // A leak that does not fail the test (`TASKLEAK=warn`) is a warning.
        let level = match crate::config::defaults::mode() {
            crate::config::env::Mode::Warn => "warning",
            _ => "error",
        };
        let _ = out.write_all(annotations(leaks, level).as_bytes());
        let _ = out.flush();
    }
    if let Some(dir) = std::env::var_os("TASKLEAK_REPORT_DIR").filter(|d| !d.is_empty())
        && let Err(e) = write_json(PathBuf::from(&dir), leaks)
    {
        eprintln!(
            "taskleak: could not write the JSON report to TASKLEAK_REPORT_DIR={}: {e}",
            PathBuf::from(dir).display()
        );
    }
}

/// One `::error file=..,line=..,col=..,title=..::message` line (or
/// `::warning`, as `level` says) per group of identical survivors.
pub(crate) fn annotations(leaks: &Leaks, level: &str) -> String {
    let mut out = String::new();
    let test = leaks.test.as_deref().unwrap_or("a test");
    for group in fold(&leaks.tasks) {
        let site = group[0].spawned_at;
        let n = group.len();
        let what = if n == 1 {
            "1 task".to_string()
        } else {
            format!("{n} tasks")
        };
        let message = format!(
            "{what} spawned here still running {}ms after the test body of {test}",
            leaks.grace.as_millis()
        );
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            property(site.file()),
            site.line(),
            site.column(),
            property(&format!("taskleak: {what} leaked")),
            data(&message),
        );
    }
    out
}

/// Escaping of workflow-command data and property values (as in
/// `@actions/core`'s `escapeData` / `escapeProperty`).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

fn write_json(dir: PathBuf, leaks: &Leaks) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(&dir)?;
    let test: String = leaks
        .test
        .as_deref()
        .unwrap_or(if leaks.suite_end {
            "suite-gate"
        } else {
            "unnamed"
        })
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!(
        "{}-{}-{}.json",
        shorten(&test),
        std::process::id(),
        SEQ.fetch_add(1, Relaxed)
    );
    std::fs::write(dir.join(name), leaks.to_json())
}

/// Test names longer than this are cut, so that a file name (with process
/// id and sequence number) stays far below the 255 bytes file systems take.
const MAX_NAME: usize = 120;

/// `name` (ASCII), or its first part and a hash of the whole, which keeps
/// two long names that share a beginning apart.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_owned();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    format!("{}-{:016x}", &name[..MAX_NAME - 17], h.finish())
}

impl Leaks {
    /// The report as JSON, with the stable field names documented in
    /// docs/ci-output.md (schema `taskleak-report/1`).
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// std::fs::write("leaks.json", leaks.to_json()).unwrap();
    /// # }
    /// ```
    pub fn to_json(&self) -> String {
        let mut o = String::new();
        o.push_str("{\"schema\":\"taskleak-report/1\"");
        let _ = write!(o, ",\"test\":{}", opt_str(self.test.as_deref()));
        let kind = if self.suite_end {
            "suite_gate"
        } else {
            "check"
        };
        let _ = write!(o, ",\"kind\":\"{kind}\"");
        let _ = write!(o, ",\"grace_ms\":{}", self.grace.as_millis());
        let _ = write!(o, ",\"leaked\":{}", self.task_count());
        let _ = write!(o, ",\"counted_only\":{}", self.counted);
        o.push_str(",\"tasks\":[");
        for (i, t) in self.tasks.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{{\"id\":{}", id_u64(t.id));
            let _ = write!(
                o,
                ",\"spawn_site\":{{\"file\":{},\"line\":{},\"column\":{}}}",
                string(t.spawned_at.file()),
                t.spawned_at.line(),
                t.spawned_at.column()
            );
            match t.parent {
                Some(p) => {
                    let _ = write!(o, ",\"parent\":{}", id_u64(p));
                }
                None => o.push_str(",\"parent\":null"),
            }
            let _ = write!(o, ",\"age_ms\":{}", t.age.as_millis());
            o.push_str(",\"chain\":[");
            for (j, s) in t.chain.iter().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                let _ = write!(
                    o,
                    "{{\"task\":{},\"file\":{},\"line\":{},\"column\":{}}}",
                    id_u64(s.task),
                    string(s.location.file()),
                    s.location.line(),
                    s.location.column()
                );
            }
            o.push_str("],\"backtrace\":[");
            for (j, f) in t.backtrace.iter().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                let line = f.line().map_or("null".to_string(), |l| l.to_string());
                let _ = write!(
                    o,
                    "{{\"function\":{},\"file\":{},\"line\":{line}}}",
                    string(f.function()),
                    opt_str(f.file())
                );
            }
            o.push(']');
            match &t.activity {
                Some(a) => {
                    let verdict = match a.verdict() {
                        Verdict::Idle => "idle",
                        Verdict::Busy => "busy",
                        Verdict::NeverPolled => "never_polled",
                    };
                    let last = a
                        .last_poll_ago
                        .map_or("null".to_string(), |d| d.as_millis().to_string());
                    let _ = write!(
                        o,
                        ",\"activity\":{{\"verdict\":\"{verdict}\",\"polls\":{},\"last_poll_ms\":{last},\"busy_ms\":{}}}",
                        a.polls,
                        a.busy.as_millis()
                    );
                }
                None => o.push_str(",\"activity\":null"),
            }
            match t.stuck_in() {
                Some(places) => {
                    o.push_str(",\"stuck_in\":[");
                    let places: Vec<String> = places.iter().map(|p| string(p)).collect();
                    o.push_str(&places.join(","));
                    o.push(']');
                }
                None => o.push_str(",\"stuck_in\":null"),
            }
            o.push('}');
        }
        o.push_str("]}");
        o
    }
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or("null".to_string(), string)
}

/// A quoted string, valid both as a JSON string and as a TOML basic string
/// (the baseline): quotes, backslashes and control characters escaped.
pub(crate) fn string(s: &str) -> String {
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
    fn a_long_test_name_still_gets_its_report_written() {
        let dir = std::env::temp_dir().join(format!("taskleak-ci-{}", std::process::id()));
        let long = |c: char| {
            let mut name = "a::".repeat(10);
            name.extend(std::iter::repeat_n(c, 256));
            name
        };
        for name in [long('x'), long('y')] {
            let leaks = Leaks {
                test: Some(name),
                grace: std::time::Duration::from_millis(1),
                tasks: Vec::new(),
                counted: 1,
                blocked_runtime: false,
                dumped: false,
                suite_end: false,
                blocking: 0,
                threads: Vec::new(),
            };
            write_json(dir.clone(), &leaks).expect("written");
        }
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.len() < 160), "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("a__a__a__")),
            "{names:?}"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(data("a:b\r\n"), "a:b%0D%0A");
    }
}
