//! The text of a leak report.
//!
//! Written for a developer reading a failed CI run: the headline says how
//! many tasks and which test, each entry starts with where the task came
//! from, and identical leaks (a thousand connection handlers) fold into one
//! entry with a count.

use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use super::{LeakedTask, Leaks};

/// User frames shown per entry; the rest are summarised.
const MAX_FRAMES_SHOWN: usize = 8;
/// Ids listed for a folded entry.
const MAX_IDS_SHOWN: usize = 5;

impl Display for Leaks {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let n = self.len();
        write!(f, "taskleak: ")?;
        match &self.test {
            Some(test) => write!(f, "test `{test}` leaked {}", plural(n, "task"))?,
            None => write!(f, "{} leaked", plural(n, "task"))?,
        }
        writeln!(
            f,
            " (still running {} after the test body)",
            human(self.grace)
        )?;

        for (i, group) in fold(&self.tasks).iter().enumerate() {
            writeln!(f)?;
            entry(f, i + 1, group)?;
        }

        if self.counted > 0 {
            writeln!(f)?;
            writeln!(
                f,
                "  {} counted with tokio's RuntimeMetrics::num_alive_tasks(). For spawn sites, \
                 build with `--cfg tokio_unstable` (in .cargo/config.toml: \
                 [build] rustflags = [\"--cfg\", \"tokio_unstable\"]).",
                if self.counted == 1 {
                    "It was"
                } else {
                    "They were"
                }
            )?;
        }
        if self.blocked_runtime {
            writeln!(f)?;
            writeln!(
                f,
                "  note: the check blocked a runtime thread while it waited, so tasks on that \
                 runtime could not finish; in async code use `guard.check_async().await`."
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  Make these tasks end before the test does (cancel them, e.g. with a \
             CancellationToken, and await their JoinHandles);"
        )?;
        write!(
            f,
            "  or, if they are meant to outlive it, ignore them with Options::ignore \
             or #[leak_check(ignore = [..])]."
        )
    }
}

impl fmt::Debug for Leaks {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // `check().unwrap()` shows Debug: make that the readable report.
        writeln!(f)?;
        Display::fmt(self, f)
    }
}

/// Survivors with the same spawn chain, in order of first spawn.
fn fold(tasks: &[LeakedTask]) -> Vec<Vec<&LeakedTask>> {
    let mut groups: Vec<Vec<&LeakedTask>> = Vec::new();
    for task in tasks {
        let key = task.chain_key();
        match groups.iter_mut().find(|g| g[0].chain_key() == key) {
            Some(g) => g.push(task),
            None => groups.push(vec![task]),
        }
    }
    groups
}

fn entry(f: &mut Formatter<'_>, n: usize, group: &[&LeakedTask]) -> fmt::Result {
    let first = group[0];
    if group.len() == 1 {
        writeln!(f, "  {n}. task {}, alive {}", first.id, human(first.age))?;
    } else {
        let mut ids: Vec<String> = group
            .iter()
            .take(MAX_IDS_SHOWN)
            .map(|t| t.id.to_string())
            .collect();
        if group.len() > MAX_IDS_SHOWN {
            ids.push("…".into());
        }
        let youngest = group.iter().map(|t| t.age).min().unwrap_or_default();
        let oldest = group.iter().map(|t| t.age).max().unwrap_or_default();
        let ages = if human(youngest) == human(oldest) {
            human(oldest)
        } else {
            format!("{} to {}", human(youngest), human(oldest))
        };
        writeln!(
            f,
            "  {n}. {} identical tasks (ids {}), alive {ages}",
            group.len(),
            ids.join(", "),
        )?;
    }
    writeln!(f, "     spawned at {}", first.spawned_at)?;

    // The chain, innermost first, ending where the root task came from.
    if !first.chain.is_empty() || first.chain_cut {
        writeln!(f, "     spawn chain:")?;
        writeln!(f, "       this task     spawned at {}", first.spawned_at)?;
        for site in &first.chain {
            writeln!(
                f,
                "       ← by task {:<4} spawned at {}",
                site.task, site.location
            )?;
        }
    }
    let root = if first.chain_cut {
        "       ← … (chain cut: deeper than 64 spawns)".to_string()
    } else {
        "       ← from the test body (outside any task)".to_string()
    };
    if first.chain.is_empty() && !first.chain_cut {
        writeln!(f, "     from the test body (outside any task)")?;
    } else {
        writeln!(f, "{root}")?;
    }

    if !first.backtrace.is_empty() {
        writeln!(f, "     backtrace (your frames, spawn call first):")?;
        let width = first
            .backtrace
            .iter()
            .take(MAX_FRAMES_SHOWN)
            .map(|fr| fr.function().chars().count())
            .max()
            .unwrap_or(0);
        for frame in first.backtrace.iter().take(MAX_FRAMES_SHOWN) {
            write!(f, "       {:<width$}", frame.function())?;
            match (frame.file(), frame.line()) {
                (Some(file), Some(line)) => writeln!(f, "  at {file}:{line}")?,
                (Some(file), None) => writeln!(f, "  at {file}")?,
                _ => writeln!(f)?,
            }
        }
        let more = first.backtrace.len().saturating_sub(MAX_FRAMES_SHOWN);
        if more > 0 {
            writeln!(f, "       … {more} more")?;
        }
    }
    Ok(())
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

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
    fn counted_leaks_say_how_to_get_spawn_sites() {
        let leaks = Leaks {
            test: Some("my_test".into()),
            grace: Duration::from_millis(500),
            tasks: Vec::new(),
            counted: 3,
            blocked_runtime: false,
        };
        let text = leaks.to_string();
        assert!(
            text.starts_with(
                "taskleak: test `my_test` leaked 3 tasks (still running 500ms after the test body)"
            ),
            "{text}"
        );
        assert!(text.contains("--cfg tokio_unstable"), "{text}");
    }
}
