//! The text of a leak report.
//!
//! Written for a developer reading a failed CI run: the headline says how
//! many tasks and which test, each entry starts with where the task came
//! from, then what it is doing, and identical leaks (a thousand connection
//! handlers) fold into one entry with a count.
//!
//! Every text taskleak did not write (file, function, test names) is
//! shown through [`Term`], so none can break a line of the report.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::{self, Display, Formatter};
use std::panic::Location;

mod entry;
mod growth;
mod tree;

use super::color::Palette;
use super::hints::Build;
use super::{LeakedTask, Leaks};
use crate::util::escape::Term;
use crate::util::{human, plural};
use entry::entry;
use tree::tree;

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
        if let Some(g) = leaks.growth() {
            return growth::growth(f, p, leaks, g);
        }
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
            Some(test) => write!(f, "test `{}` leaked {}", p.strong(Term(test)), what(leaks))?,
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
        for g in leaks.grown() {
            writeln!(f)?;
            writeln!(
                f,
                "  {} the baseline knows {} of this test from {}; now {}: more than \
                 recorded is a new leak. Fix it, or re-record with TASKLEAK=record if the \
                 test is meant to leak more.",
                p.warn("grown:"),
                plural(g.known, "task"),
                Term(&g.entry),
                g.now
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
                 {}.",
                if leaks.counted == 1 {
                    "It was"
                } else {
                    "They were"
                },
                Build::this().spawn_sites()
            )?;
        }
        if leaks.blocked_runtime {
            writeln!(f)?;
            writeln!(
                f,
                "  {} the check blocked the thread these tasks' runtime runs on while it waited \
                 (a current-thread runtime runs only inside its block_on), so they could not \
                 finish: a blocking check() or a dropped guard waits this way. Check inside the \
                 runtime with `guard.check_async().await` instead (from sync code: \
                 `rt.block_on(guard.check_async())`).",
                p.warn("note:")
            )?;
        }
        dump_hint(f, p, leaks)?;
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
fn dump_hint(f: &mut Formatter<'_>, p: Palette, leaks: &Leaks) -> fmt::Result {
    let silent = leaks.dumped || leaks.tasks.is_empty() || leaks.suite_end;
    let Some(how) = Build::this().dumps().filter(|_| !silent) else {
        return Ok(());
    };
    writeln!(f)?;
    writeln!(
        f,
        "  {} to see where each task is stuck, {how}.",
        p.dim("hint:")
    )
}

/// A spawn site as a report shows it: a dependency's file from its
/// package directory (`tokio-util-0.7.20/src/…:386:9`), as its frames are,
/// not from `$CARGO_HOME`; escaped for a terminal.
pub(crate) fn site(at: &Location<'_>) -> Term<String> {
    let file = crate::task::frame::relative(std::path::Path::new(at.file()));
    Term(format!("{file}:{}:{}", at.line(), at.column()))
}

/// Survivors with the same spawn chain, in order of first spawn. Linear
/// in the tasks, however many groups they make.
pub(crate) fn fold(tasks: &[LeakedTask]) -> Vec<Vec<&LeakedTask>> {
    let mut groups: Vec<Vec<&LeakedTask>> = Vec::new();
    let mut index: HashMap<Vec<&'static Location<'static>>, usize> = HashMap::new();
    for task in tasks {
        match index.entry(task.chain_key()) {
            Entry::Occupied(at) => groups[*at.get()].push(task),
            Entry::Vacant(slot) => {
                slot.insert(groups.len());
                groups.push(vec![task]);
            }
        }
    }
    groups
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
    use std::time::Duration;

    fn counted() -> Leaks {
        let mut leaks = Leaks::new(Some("my_test".into()), Duration::from_millis(500));
        leaks.counted = 3;
        leaks
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

    /// A file named `x\n::error …` (or a test, a function, a stuck-in
    /// frame) must not start a line of its own: the GitHub Actions runner
    /// reads stderr and stdout for workflow commands.
    #[test]
    fn names_from_outside_never_start_a_line() {
        use crate::report::stuck::Suspension;
        use crate::task::Frame;
        const EVIL: &str = "x\n::error file=evil.rs,line=1::INJECTED";
        let mut leaks = crate::report::tests::one_leak();
        leaks.test = Some(format!("t{EVIL}"));
        leaks.dumped = true;
        let evil = Frame::new(
            format!("my_crate::f{EVIL}"),
            Some(std::path::Path::new(EVIL)),
            Some(1),
        );
        let task = &mut leaks.tasks[0];
        task.backtrace = vec![evil.clone()];
        task.reached_from = Some(evil);
        task.running = vec![EVIL.to_owned()];
        task.stuck_in = Some(vec![Suspension {
            user: vec![EVIL.to_owned()],
            leaf: Some(EVIL.to_owned()),
            at: Some(EVIL.to_owned()),
            timer: false,
        }]);
        for text in [leaks.to_string(), leaks.colored(true).to_string()] {
            assert!(text.contains("INJECTED"), "{text}");
            for line in text.lines() {
                assert!(!line.trim_start().starts_with("::"), "{line:?} in\n{text}");
            }
            assert!(text.contains("x\\n::error file=evil.rs"), "{text}");
        }
    }

    /// Folding is linear in the tasks, however many groups they make:
    /// 10^5 tasks with 8192 different spawn chains take well under the
    /// bound (a search of the groups for each task took minutes).
    #[test]
    fn folding_many_tasks_into_many_groups_stays_linear() {
        use crate::report::SpawnSite;
        let one = crate::report::tests::one_leak();
        let (id, a) = (one.tasks[0].id, one.tasks[0].spawned_at);
        let b = Location::caller();
        const CHAINS: usize = 1 << 13;
        let tasks: Vec<LeakedTask> = (0..100_000)
            .map(|i| {
                let mut t = one.tasks[0].clone();
                let n = i % CHAINS;
                t.chain = (0..13)
                    .map(|bit| SpawnSite {
                        task: id,
                        location: if n >> bit & 1 == 1 { a } else { b },
                    })
                    .collect();
                t
            })
            .collect();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let groups = fold(&tasks);
            let shape = (
                groups.len(),
                groups[0].len(),
                groups[5][0].chain[0].location,
            );
            let _ = tx.send(shape);
        });
        let shape = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("folding 10^5 tasks took over 20s");
        // In order of first spawn: the sixth group is chain 5's.
        assert_eq!(shape, (CHAINS, 100_000_usize.div_ceil(CHAINS), a));
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
