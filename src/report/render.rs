//! The text of a leak report.
//!
//! Written for a developer reading a failed CI run: the headline says how
//! many tasks and which test, each entry starts with where the task came
//! from, then what it is doing, and identical leaks (a thousand connection
//! handlers) fold into one entry with a count.

use std::fmt::{self, Display, Formatter};
use std::panic::Location;
use std::time::Duration;

use super::color::Palette;
use crate::util::{human, plural};
use super::{LeakedTask, Leaks, Verdict};
use crate::capture::registry::Kind;

/// User frames shown per entry; the rest are summarised.
const MAX_FRAMES_SHOWN: usize = 8;
/// Ids listed for a folded entry.
const MAX_IDS_SHOWN: usize = 5;
/// Entries (groups of identical leaks) shown; the rest are counted.
const MAX_ENTRIES_SHOWN: usize = 20;
/// A spawn tree deeper than this is not drawn: its chains say it all.
const MAX_TREE_DEPTH: usize = 12;
/// Ancestors shown at each end of a long spawn chain; the rest are counted.
const CHAIN_HEAD: usize = 3;
const CHAIN_TAIL: usize = 2;

impl Leaks {
    /// The report, with terminal colours or without. `Display` is the same
    /// without colours; taskleak's own panics and prints use colours when
    /// stderr is a terminal and `NO_COLOR` is not set.
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// eprintln!("{}", leaks.colored(true));
    /// # }
    /// ```
    pub fn colored(&self, on: bool) -> impl Display + '_ {
        Report {
            leaks: self,
            p: Palette { on },
        }
    }

    /// The report as taskleak prints it to stderr (or panics with it).
    pub(crate) fn for_stderr(&self) -> impl Display + '_ {
        Report {
            leaks: self,
            p: Palette::for_stderr(),
        }
    }
}

impl Display for Leaks {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.colored(false).fmt(f)
    }
}

impl fmt::Debug for Leaks {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // `check().unwrap()` shows Debug: make that the readable report.
        writeln!(f)?;
        Display::fmt(self, f)
    }
}

struct Report<'a> {
    leaks: &'a Leaks,
    p: Palette,
}

impl Display for Report<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (leaks, p) = (self.leaks, self.p);
        let n = leaks.task_count();
        write!(f, "{} ", p.alarm("taskleak:"))?;
        if leaks.suite_end {
            writeln!(
                f,
                "{} still running when the test binary ended, claimed by no check \
                 (suite gate; waited {})",
                plural(n, "task"),
                human(leaks.grace)
            )?;
        }
        match &leaks.test {
            _ if leaks.suite_end => {}
            Some(test) => write!(f, "test `{}` leaked {}", p.strong(test), what(leaks))?,
            None => write!(f, "{} leaked", what(leaks))?,
        }
        if !leaks.suite_end {
            writeln!(
                f,
                " (still running {} after the test body)",
                human(leaks.grace)
            )?;
        }

        let groups = fold(&leaks.tasks);
        for (i, group) in groups.iter().enumerate().take(MAX_ENTRIES_SHOWN) {
            writeln!(f)?;
            entry(f, p, i + 1, group, leaks)?;
        }
        if groups.len() > MAX_ENTRIES_SHOWN {
            let rest = &groups[MAX_ENTRIES_SHOWN..];
            writeln!(f)?;
            writeln!(
                f,
                "  … {} more {} ({} in all), not shown: Leaks::tasks() and the JSON report \
                 (TASKLEAK_REPORT_DIR) list every one",
                rest.len(),
                if rest.len() == 1 { "entry" } else { "entries" },
                plural(rest.iter().map(|g| g.len()).sum(), "task"),
            )?;
        }
        tree(f, p, &groups)?;

        if leaks.blocking > 0 {
            writeln!(f)?;
            writeln!(
                f,
                "  {} still running on the runtime's blocking pool, known only by \
                 number: tokio has no spawn hook for spawn_blocking. Spawn with \
                 taskleak::spawn_blocking to see where.",
                plural(leaks.blocking, "spawn_blocking closure")
            )?;
        }
        if !leaks.threads.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "  {}",
                p.strong("threads started in the scope and still running:")
            )?;
            for t in &leaks.threads {
                writeln!(f, "    thread {:<7} {:?}", t.tid, t.name)?;
            }
        }
        if leaks.counted > 0 {
            writeln!(f)?;
            writeln!(
                f,
                "  {} counted with tokio's RuntimeMetrics::num_alive_tasks(). For spawn sites, \
                 build with `--cfg tokio_unstable` (in .cargo/config.toml: \
                 [build] rustflags = [\"--cfg\", \"tokio_unstable\"]).",
                if leaks.counted == 1 {
                    "It was"
                } else {
                    "They were"
                }
            )?;
        }
        if leaks.blocked_runtime {
            writeln!(f)?;
            writeln!(
                f,
                "  {} the check blocked a runtime thread while it waited, so tasks on that \
                 runtime could not finish; in async code use `guard.check_async().await`.",
                p.warn("note:")
            )?;
        }
        if let Some(how) = dump_hint(leaks) {
            writeln!(f)?;
            writeln!(
                f,
                "  {} to see where each task is stuck, {how}.",
                p.dim("hint:")
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

/// How to see where tasks are stuck, when this build cannot: every check
/// (`#[leak_check]`, `check_async`, `check`) takes task dumps where the
/// `taskdump` feature is compiled in; the suite gate never does.
fn dump_hint(leaks: &Leaks) -> Option<&'static str> {
    let silent = leaks.dumped || leaks.tasks.is_empty() || leaks.suite_end;
    (!silent && !cfg!(taskleak_taskdump))
        .then_some("enable taskleak's `taskdump` feature (Linux, with `--cfg tokio_unstable`)")
}

/// Survivors with the same spawn chain, in order of first spawn.
pub(crate) fn fold(tasks: &[LeakedTask]) -> Vec<Vec<&LeakedTask>> {
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

fn entry(
    f: &mut Formatter<'_>,
    p: Palette,
    n: usize,
    group: &[&LeakedTask],
    leaks: &Leaks,
) -> fmt::Result {
    let first = group[0];
    let dumped = leaks.dumped;
    let root = if leaks.suite_end {
        "outside any task and any checked scope (a thread, or a static's initialiser)"
    } else {
        "the test body (outside any task)"
    };
    let (kind, kinds) = match first.kind() {
        Kind::Task => ("task", "tasks"),
        Kind::Blocking => (
            "blocking task (spawn_blocking)",
            "blocking tasks (spawn_blocking)",
        ),
        Kind::Local => ("local task (LocalSet)", "local tasks (LocalSet)"),
    };
    if group.len() == 1 {
        writeln!(
            f,
            "  {} alive {}",
            p.strong(format_args!("{n}. {kind} {},", first.id)),
            human(first.age)
        )?;
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
            "  {} (ids {}), alive {ages}",
            p.strong(format_args!("{n}. {} identical {kinds}", group.len())),
            ids.join(", "),
        )?;
    }
    writeln!(f, "     spawned at {}", first.spawned_at)?;
    if let Some(at) = &first.reached_from {
        let line = at.line().map(|l| format!(":{l}")).unwrap_or_default();
        let file = at.file().unwrap_or("?");
        writeln!(
            f,
            "     reached from {file}{line} ({})",
            p.user(at.function())
        )?;
    }
    let running;
    let root = if first.running.is_empty() {
        root
    } else {
        running = format!(
            "a plain spawn_blocking closure, spawned while these tests ran: {}",
            first.running.join(", ")
        );
        &running
    };

    // The chain, innermost first, ending where the root task came from.
    if first.chain.is_empty() && !first.chain_cut {
        writeln!(f, "     from {root}")?;
    } else {
        writeln!(f, "     spawn chain:")?;
        writeln!(f, "       this task     spawned at {}", first.spawned_at)?;
        // A long chain keeps its two ends: who spawned this task, and how
        // the chain began; the middle is a count.
        let chain = &first.chain;
        let (head, tail) = if chain.len() > CHAIN_HEAD + CHAIN_TAIL + 1 {
            (CHAIN_HEAD, CHAIN_TAIL)
        } else {
            (chain.len(), 0)
        };
        for site in chain[..head].iter().chain(&chain[chain.len() - tail..]) {
            if tail > 0 && std::ptr::eq(site, &chain[chain.len() - tail]) {
                writeln!(f, "       ← … {} more spawns …", chain.len() - head - tail)?;
            }
            writeln!(
                f,
                "       ← by task {:<4} spawned at {}",
                site.task, site.location
            )?;
        }
        if first.chain_cut {
            writeln!(f, "       ← … (chain cut: deeper than 64 spawns)")?;
        } else {
            writeln!(f, "       ← from {root}")?;
        }
    }

    if first.activity_lost {
        writeln!(
            f,
            "     activity: unknown (lost: more tasks were alive at once than taskleak's \
             activity table holds near this id, and a newer one took its place)"
        )?;
    }
    if let Some(a) = &first.activity {
        let verdict = match a.verdict() {
            Verdict::Idle => p.dim("idle").to_string(),
            Verdict::Busy => p.alarm("busy").to_string(),
            Verdict::NeverPolled => p.warn("never polled").to_string(),
        };
        write!(f, "     activity: {verdict}")?;
        match (a.verdict(), a.in_poll_for) {
            (Verdict::NeverPolled, _) => {
                writeln!(f, " (its runtime never ran it: blocked, or shut down?)")?
            }
            (Verdict::Busy, Some(d)) if d > Duration::from_millis(10) => writeln!(
                f,
                " · inside one poll for {} (blocking code in async?)",
                human(d)
            )?,
            (verdict, _) => {
                write!(
                    f,
                    " · {}, last {} ago, {} in polls",
                    plural(a.polls as usize, "poll"),
                    human(a.last_poll_ago.unwrap_or_default()),
                    human(a.busy),
                )?;
                if verdict == Verdict::Busy {
                    write!(f, " (polled continually: a loop that keeps waking itself?)")?;
                }
                writeln!(f)?;
            }
        }
    }

    match &first.stuck_in {
        Some(places) if places.is_empty() => writeln!(
            f,
            "     stuck in: no trace point: it waits on a future tokio's task dump cannot see \
             (std::future::pending(), a std or futures channel, a hand-written future, or \
             tokio I/O readiness such as TcpListener::accept)"
        )?,
        Some(places) => {
            for place in places {
                write!(f, "     stuck in: ")?;
                for (i, frame) in place.user.iter().enumerate() {
                    if i > 0 {
                        write!(f, " → ")?;
                    }
                    write!(f, "{}", p.user(frame))?;
                }
                if let Some(leaf) = &place.leaf {
                    let sep = if place.user.is_empty() { "" } else { " → " };
                    write!(f, "{sep}{leaf}")?;
                }
                match &place.at {
                    Some(at) => writeln!(f, "  {}", p.dim(format_args!("at {at}")))?,
                    None => writeln!(f)?,
                }
            }
        }
        None if dumped => match &first.not_dumped {
            Some(why) => writeln!(f, "     stuck in: unknown ({why})")?,
            None => writeln!(f, "     stuck in: unknown (no task dump holds it)")?,
        },
        None => {}
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
            let pad = width - frame.function().chars().count();
            write!(f, "       {}{:pad$}", p.user(frame.function()), "")?;
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

/// One spawn site in the tree, with the entries that end there.
struct Node {
    site: &'static Location<'static>,
    entries: Vec<(usize, usize)>,
    children: Vec<Node>,
}

/// Draws the survivors' spawn chains as one tree, when some of them share
/// ancestors: who spawned whom is then easier to see than in the chains.
fn tree(f: &mut Formatter<'_>, p: Palette, groups: &[Vec<&LeakedTask>]) -> fmt::Result {
    let mut roots: Vec<Node> = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let mut path = group[0].chain_key();
        path.reverse(); // root first
        let mut level = &mut roots;
        for (depth, site) in path.iter().enumerate() {
            let at = match level.iter().position(|n| n.site == *site) {
                Some(at) => at,
                None => {
                    level.push(Node {
                        site,
                        entries: Vec::new(),
                        children: Vec::new(),
                    });
                    level.len() - 1
                }
            };
            if depth == path.len() - 1 {
                level[at].entries.push((i + 1, group.len()));
            }
            level = &mut level[at].children;
        }
    }
    if groups.len() < 2 || roots.iter().all(|r| r.children.is_empty()) {
        return Ok(());
    }
    let depth = groups
        .iter()
        .map(|g| g[0].chain_key().len())
        .max()
        .unwrap_or(0);
    if depth > MAX_TREE_DEPTH {
        writeln!(f)?;
        writeln!(
            f,
            "  {} not drawn: {depth} spawns deep (more than {MAX_TREE_DEPTH}); the chains above \
             show who spawned whom",
            p.strong("spawn tree:")
        )?;
        return Ok(());
    }
    writeln!(f)?;
    writeln!(f, "  {}", p.strong("spawn tree:"))?;
    for root in &roots {
        node(f, p, root, "    ", "    ")?;
    }
    Ok(())
}

fn node(f: &mut Formatter<'_>, p: Palette, n: &Node, head: &str, rest: &str) -> fmt::Result {
    write!(f, "{head}{}", n.site)?;
    for (entry, count) in &n.entries {
        let what = if *count == 1 {
            format!("[{entry}]")
        } else {
            format!("[{entry}] {count} tasks")
        };
        write!(f, "  {}", p.strong(what))?;
    }
    if n.entries.is_empty() {
        write!(f, "  {}", p.dim("(not leaked)"))?;
    }
    writeln!(f)?;
    for (i, child) in n.children.iter().enumerate() {
        let last = i + 1 == n.children.len();
        let (h, r) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        node(f, p, child, &format!("{rest}{h}"), &format!("{rest}{r}"))?;
    }
    Ok(())
}

/// `3 tasks`, `1 task and 2 threads`.
fn what(leaks: &Leaks) -> String {
    match (leaks.task_count(), leaks.threads.len()) {
        (n, 0) => plural(n, "task"),
        (0, t) => plural(t, "thread"),
        (n, t) => format!("{} and {}", plural(n, "task"), plural(t, "thread")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted() -> Leaks {
        Leaks {
            test: Some("my_test".into()),
            grace: Duration::from_millis(500),
            tasks: Vec::new(),
            counted: 3,
            blocked_runtime: false,
            dumped: false,
            suite_end: false,
            blocking: 0,
            threads: Vec::new(),
        }
    }

    #[test]
    fn counted_leaks_say_how_to_get_spawn_sites() {
        let text = counted().to_string();
        assert!(
            text.starts_with(
                "taskleak: test `my_test` leaked 3 tasks (still running 500ms after the test body)"
            ),
            "{text}"
        );
        assert!(text.contains("--cfg tokio_unstable"), "{text}");
    }

    #[test]
    fn colour_on_and_off() {
        let leaks = counted();
        let plain = leaks.colored(false).to_string();
        let colored = leaks.colored(true).to_string();
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(
            colored.starts_with("\x1b[1;31mtaskleak:\x1b[0m "),
            "{colored:?}"
        );
        assert!(colored.contains("\x1b[1mmy_test\x1b[0m"), "{colored:?}");
        // Stripped of escapes, the two read the same.
        let mut stripped = String::new();
        let mut in_escape = false;
        for c in colored.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (false, c) => stripped.push(c),
                _ => {}
            }
        }
        assert_eq!(stripped, plain);
    }
}
