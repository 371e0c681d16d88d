//! The run's judgement as text (a terminal), Markdown
//! (`$GITHUB_STEP_SUMMARY`) and JSON: the binaries' summary, merged, then
//! what only the whole run can say.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::RuleKind;
use super::invocation::Coverage;
use super::merge::{RunVerdict, StaleRule};
use crate::suite::summary::{Entry, State, Summary, names};
use crate::util::escape::{Term, markdown_code};
use crate::util::{plural, quote};

/// Module groups of unchecked tests listed before "… and N more".
const GROUPS_SHOWN: usize = 12;

fn summary(v: &RunVerdict, baseline: &str) -> Summary {
    Summary::new(v.checked, v.entries.clone(), PathBuf::from(baseline)).with_tasks()
}

fn coverage(v: &RunVerdict) -> String {
    match &v.coverage {
        Some(Coverage::Whole) | None => "every test of the workspace".into(),
        Some(Coverage::Partition(k, n)) => format!("partition {k}/{n}"),
        Some(Coverage::Part(why)) => format!("a part of the workspace's tests: {why}"),
    }
}

fn unchecked_total(v: &RunVerdict) -> usize {
    v.unchecked.iter().map(|u| u.tests.len()).sum()
}

fn rule_kind(r: &StaleRule) -> &'static str {
    match r.kind {
        RuleKind::File => "config file",
        RuleKind::Configure => "configure!",
        RuleKind::Check => "a check's own",
    }
}

/// For a terminal.
pub(crate) fn text(v: &RunVerdict, baseline: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "taskleak run report: {} from {} test process{} ({})",
        plural(v.checked, "checked test"),
        v.processes,
        if v.processes == 1 { "" } else { "es" },
        coverage(v)
    );
    o.push_str(&summary(v, baseline).text());
    o.push('\n');
    if !v.unchecked.is_empty() {
        let _ = writeln!(
            o,
            "  without a check: {} ran with no leak check (a plain #[tokio::test], a helper \
             that builds its own runtime, or a test with no runtime at all); by binary and \
             module, most first:",
            plural(unchecked_total(v), "test")
        );
        for u in v.unchecked.iter().take(GROUPS_SHOWN) {
            let tests: Vec<&str> = u.tests.iter().map(String::as_str).collect();
            let module = if u.module.is_empty() {
                "(top level)".to_owned()
            } else {
                format!("{}::", u.module)
            };
            let _ = writeln!(
                o,
                "  {:>9}  {} {}\n             {}",
                plural(u.tests.len(), "test"),
                Term(&u.binary),
                Term(module),
                names(&tests, |t| Term(t).to_string())
            );
        }
        if v.unchecked.len() > GROUPS_SHOWN {
            let rest = &v.unchecked[GROUPS_SHOWN..];
            let _ = writeln!(
                o,
                "  … and {} in {} more modules (the JSON report lists every one)",
                plural(rest.iter().map(|u| u.tests.len()).sum(), "test"),
                rest.len()
            );
        }
    }
    if !v.uncounted.is_empty() {
        let shown: Vec<String> = v.uncounted.iter().map(|b| Term(b).to_string()).collect();
        let _ = writeln!(
            o,
            "  not counted: tests without a check in {} (the run chose some of their tests)",
            shown.join(", ")
        );
    }
    if !v.stale.is_empty() {
        let _ = writeln!(
            o,
            "  stale: {} matched no task in the whole run; remove {}:",
            plural(v.stale.len(), "ignore rule"),
            if v.stale.len() == 1 {
                "it if the leak it covered is fixed"
            } else {
                "each whose leak is fixed"
            }
        );
        for r in &v.stale {
            let _ = writeln!(
                o,
                "    {}  ({}, {})",
                Term(quote(&r.pattern)),
                rule_kind(r),
                Term(&r.origin)
            );
        }
    }
    if let Some(why) = &v.rules_not_judged {
        let _ = writeln!(o, "  rules not judged: {}", Term(why));
    }
    if v.broken > 0 {
        let _ = writeln!(
            o,
            "  {} cut short (a process died while writing it): its facts are missing",
            plural(v.broken, "ledger was")
        );
    }
    o
}

/// For `$GITHUB_STEP_SUMMARY`.
pub(crate) fn markdown(v: &RunVerdict, baseline: &str) -> String {
    let mut o = summary(v, baseline).markdown(&coverage(v));
    if !v.unchecked.is_empty() {
        let _ = writeln!(
            o,
            "{} ran without a leak check:\n\n| binary | module | tests | names |\n|---|---|---:|---|",
            plural(unchecked_total(v), "test")
        );
        for u in &v.unchecked {
            let tests: Vec<&str> = u.tests.iter().map(String::as_str).collect();
            let module = match u.module.as_str() {
                "" => "(top level)".to_owned(),
                m => markdown_code(m),
            };
            let _ = writeln!(
                o,
                "| {} | {module} | {} | {} |",
                markdown_code(&u.binary),
                u.tests.len(),
                names(&tests, markdown_code)
            );
        }
        o.push('\n');
    }
    if !v.stale.is_empty() {
        let rules: Vec<String> = v
            .stale
            .iter()
            .map(|r| {
                format!(
                    "{} ({})",
                    markdown_code(&r.pattern),
                    markdown_code(&r.origin)
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "Stale ignore rules (matched nothing in the whole run): {}\n",
            rules.join(", ")
        );
    }
    if let Some(why) = &v.rules_not_judged {
        let _ = writeln!(o, "Rules not judged: {}\n", markdown_code(why));
    }
    o
}

/// As JSON, schema `taskleak-run/1`.
pub(crate) fn json(v: &RunVerdict) -> String {
    let q = |s: &str| quote(s);
    let mut o = String::from("{\"schema\":\"taskleak-run/1\"");
    let cov = match &v.coverage {
        Some(Coverage::Whole) | None => "{\"whole\":true}".to_string(),
        Some(Coverage::Partition(k, n)) => format!("{{\"whole\":false,\"partition\":\"{k}/{n}\"}}"),
        Some(Coverage::Part(why)) => format!("{{\"whole\":false,\"why\":{}}}", q(why)),
    };
    let _ = write!(
        o,
        ",\"coverage\":{cov},\"spawn_sites\":{},\"processes\":{},\"broken_ledgers\":{}",
        v.sites, v.processes, v.broken
    );
    let _ = write!(
        o,
        ",\"checked_tests\":{},\"unchecked_tests\":{}",
        v.checked,
        unchecked_total(v)
    );
    let checked: Vec<String> = v.checked_tests.iter().map(|t| q(t)).collect();
    let _ = write!(o, ",\"checked\":[{}]", checked.join(","));
    let entry = |e: &Entry| {
        let mut s = format!(
            "{{\"test\":{},\"site\":{},\"tasks\":{}",
            q(&e.test),
            q(&e.site),
            e.count
        );
        if let Some(r) = e.recorded {
            let _ = write!(s, ",\"recorded\":{r}");
        }
        s.push('}');
        s
    };
    for (state, key) in [
        (State::Leaked, "leaked"),
        (State::Warned, "warned"),
        (State::Known, "known"),
        (State::Moved, "moved"),
        (State::Grown, "grown"),
        (State::Fewer, "fewer"),
        (State::Fixed, "fixed"),
    ] {
        let items: Vec<String> = v
            .entries
            .iter()
            .filter(|e| e.state == state)
            .map(entry)
            .collect();
        let _ = write!(o, ",\"{key}\":[{}]", items.join(","));
    }
    let unchecked: Vec<String> = v
        .unchecked
        .iter()
        .map(|u| {
            let tests: Vec<String> = u.tests.iter().map(|t| q(t)).collect();
            format!(
                "{{\"binary\":{},\"module\":{},\"tests\":[{}]}}",
                q(&u.binary),
                q(&u.module),
                tests.join(",")
            )
        })
        .collect();
    let _ = write!(o, ",\"without_check\":[{}]", unchecked.join(","));
    let uncounted: Vec<String> = v.uncounted.iter().map(|b| q(b)).collect();
    let _ = write!(o, ",\"not_counted\":[{}]", uncounted.join(","));
    let stale: Vec<String> = v
        .stale
        .iter()
        .map(|r| {
            format!(
                "{{\"pattern\":{},\"origin\":{},\"kind\":{}}}",
                q(&r.pattern),
                q(&r.origin),
                q(rule_kind(r))
            )
        })
        .collect();
    let _ = write!(o, ",\"stale_rules\":[{}]", stale.join(","));
    match &v.rules_not_judged {
        Some(why) => {
            let _ = write!(o, ",\"rules_not_judged\":{}", q(why));
        }
        None => o.push_str(",\"rules_not_judged\":null"),
    }
    o.push_str("}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::merge::Unchecked;
    use super::*;

    fn verdict() -> RunVerdict {
        RunVerdict {
            coverage: Some(Coverage::Partition(2, 3)),
            sites: true,
            entries: vec![Entry::leaked("p::client get", "tests/a.rs:3").tasks(4)],
            checked_tests: vec!["p::client get".into()],
            checked: 1,
            unchecked: vec![Unchecked {
                binary: "p::server".into(),
                module: String::new(),
                tests: vec!["plain".into()],
            }],
            stale: vec![StaleRule {
                kind: RuleKind::File,
                pattern: "x::y".into(),
                origin: ".config/taskleak.toml:2".into(),
            }],
            processes: 2,
            ..RunVerdict::default()
        }
    }

    #[test]
    fn every_format_says_what_the_run_says() {
        let v = verdict();
        let text = text(&v, "b.toml");
        assert!(
            text.starts_with(
                "taskleak run report: 1 checked test from 2 test processes (partition 2/3)"
            ),
            "{text}"
        );
        assert!(text.contains("tests/a.rs:3  (4 tasks)"), "{text}");
        assert!(text.contains("without a check: 1 test ran"), "{text}");
        assert!(text.contains("p::server (top level)"), "{text}");
        assert!(
            text.contains("\"x::y\"  (config file, .config/taskleak.toml:2)"),
            "{text}"
        );
        let md = markdown(&v, "b.toml");
        assert!(
            md.contains("| `p::server` | (top level) | 1 | `plain` |"),
            "{md}"
        );
        assert!(md.contains("Stale ignore rules"), "{md}");
        let json: &str = &json(&v);
        assert!(
            json.contains("\"coverage\":{\"whole\":false,\"partition\":\"2/3\"}"),
            "{json}"
        );
        assert!(
            json.contains(
                "\"leaked\":[{\"test\":\"p::client get\",\"site\":\"tests/a.rs:3\",\"tasks\":4}]"
            ),
            "{json}"
        );
        assert!(
            json.contains("\"stale_rules\":[{\"pattern\":\"x::y\""),
            "{json}"
        );
    }
}
