//! A report as JSON, with the stable field names documented in
//! docs/ci-output.md (schema `taskleak-report/1`).

use std::fmt::Write as _;

use super::Leaks;
use crate::task::Verdict;
use crate::task::id_u64;
use crate::util::quote as string;

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
        let kind = if self.growth().is_some() {
            "growth"
        } else if self.suite_end {
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
        o.push(']');
        if let Some(g) = self.growth() {
            let _ = write!(o, ",\"growth\":{}", super::growth::json(g));
        }
        o.push('}');
        o
    }
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or("null".to_string(), string)
}
