//! Whether the ignore rules hide a survivor: cheaply from spawn sites
//! first (each a `&'static Location`), then from its frames, stopping at
//! the first match. Pure: what each rule learnt is returned in `uses`,
//! one [`Use`] per rule in `Rules::iter` order, never marked on the rule.

use std::sync::Arc;

use super::symbols::Symbols;
use crate::capture::registry::TaskRecord;
use crate::config::Rules;
use crate::config::ignore::{Use, without_generics};
use crate::task::Frame;
use crate::task::frame::without_closures;

/// What the cheap part of the rules says about a task: its spawn site and
/// its ancestors' (no symbols needed).
pub(crate) enum BySites {
    Ignored,
    /// No rule can hide it: none matched a site, and it has no frames.
    Reported,
    /// Only its frames can tell.
    Undecided,
}

pub(crate) fn by_sites(
    record: &TaskRecord,
    rules: &Rules,
    with_ancestors: bool,
    uses: &mut [Use],
) -> BySites {
    if rules.is_empty() {
        return BySites::Reported;
    }
    if record.frames.is_empty() {
        // A path rule that met a task without frames could not judge it:
        // never stale for that.
        for (rule, used) in rules.iter().zip(uses.iter_mut()) {
            used.blind |= rule.is_path();
        }
    }
    let ancestors = std::iter::successors(record.parent.as_deref(), |p| p.parent.as_deref())
        .filter(|_| with_ancestors);
    let mut sites = std::iter::once(record.location).chain(ancestors.map(|p| p.location));
    if sites.any(|l| matches_location(rules, l.file(), l.line(), uses)) {
        BySites::Ignored
    } else if record.frames.is_empty() {
        BySites::Reported
    } else {
        BySites::Undecided
    }
}

/// The first rule, in order, that matches `file:line`; each rule looked at
/// before it notes a spawn elsewhere in its file.
fn matches_location(rules: &Rules, file: &str, line: u32, uses: &mut [Use]) -> bool {
    for (rule, used) in rules.iter().zip(uses.iter_mut()) {
        if rule.matches_location(file, line) {
            used.matched = true;
            return true;
        }
        used.same_file |= rule.same_file_elsewhere(file, line);
    }
    false
}

pub(crate) enum ByFrames {
    Ignored,
    /// Every frame, resolved: none of the user's matched a rule.
    Reported(Vec<Frame>),
    /// A frame before any match is not known to `symbols`.
    Unknown,
}

/// Matches the rules against the user's frames (see `Frame::is_user`), one
/// address at a time, stopping at the first match: never tokio's, std's,
/// libtest's or taskleak's own frames, so a rule `"mod.rs"` or `"tokio"`
/// cannot hide every task. Nor the test's own frames (a rule
/// `my_crate::server` meant for a server's task would hide every leak of
/// `my_crate::server::tests`), nor a dependency's poll adapter between the
/// runtime and the task's future (`<tracing::instrument::Instrumented<T>
/// as Future>::poll` is in every task of a traced project): neither says
/// where the task comes from.
pub(crate) fn by_frames(
    record: &TaskRecord,
    rules: &Rules,
    symbols: &dyn Symbols,
    uses: &mut [Use],
) -> ByFrames {
    let judged = frames_judged(&record.frames, rules, symbols, uses);
    symbols.done();
    judged
}

/// [`by_frames`] for return addresses `ips`, innermost first.
fn frames_judged(
    ips: &[usize],
    rules: &Rules,
    symbols: &dyn Symbols,
    uses: &mut [Use],
) -> ByFrames {
    let mut all: Vec<Frame> = Vec::new();
    // Dependencies' poll frames since the last other frame, by index in
    // `all`: adapters if the runtime's frame comes next (outward), so they
    // are judged only once a frame of the user's follows them.
    let mut polls: Vec<usize> = Vec::new();
    for &ip in ips {
        let Some(frames) = symbols.frames(ip) else {
            return ByFrames::Unknown;
        };
        for f in frames.iter() {
            all.push(f.clone());
            if !f.is_user() {
                polls.clear();
                continue;
            }
            if !f.in_workspace() && is_poll(f.function()) {
                polls.push(all.len() - 1);
                continue;
            }
            let judged = polls.drain(..).map(|i| &all[i]).chain(std::iter::once(f));
            for f in judged {
                if !is_tests_own(f, rules.test()) && matches_frame(f, rules, uses) {
                    return ByFrames::Ignored;
                }
            }
        }
    }
    ByFrames::Reported(all)
}

/// Does a rule match frame `f` (its function or its `file:line`)? Each
/// rule looked at before one does notes a frame elsewhere in its file.
fn matches_frame(f: &Frame, rules: &Rules, uses: &mut [Use]) -> bool {
    let bare = without_generics(f.function());
    rules.iter().zip(uses.iter_mut()).any(|(rule, used)| {
        let hit = rule.matches_bare_function(&bare)
            || f.file()
                .zip(f.line())
                .is_some_and(|(file, line)| rule.matches_location(file, line));
        if let (Some(file), Some(line)) = (f.file(), f.line()) {
            used.same_file |= !hit && rule.same_file_elsewhere(file, line);
        }
        used.matched |= hit;
        hit
    })
}

/// `<X as core::future::future::Future>::poll` or a stream's `poll_next`:
/// a type's poll method, which a wrapper future implements.
fn is_poll(function: &str) -> bool {
    function.starts_with('<')
        && (function.ends_with("Future>::poll") || function.ends_with("Stream>::poll_next"))
}

/// Is `f` the function of `test` itself (`module::test_fn`, as libtest
/// names it), or the async block of its body, in any crate?
fn is_tests_own(f: &Frame, test: Option<&str>) -> bool {
    let Some(test) = test else {
        return false;
    };
    f.in_workspace()
        && without_closures(f.function())
            .split_once("::")
            .is_some_and(|(krate, path)| path == test && !krate.contains(['<', ' ']))
}

/// Whether the rules ignore every one of `records`, decided without
/// building a report, from spawn sites and from what `symbols` knows (a
/// wait judges from the cache: a test whose tasks end soon never loads
/// debug info). `Some` with what the rules learnt when they do.
pub(crate) fn all_ignored(
    records: &[Arc<TaskRecord>],
    rules: &Rules,
    with_ancestors: bool,
    symbols: &dyn Symbols,
) -> Option<Vec<Use>> {
    let mut uses = vec![Use::default(); rules.iter().count()];
    let mut undecided = Vec::new();
    for r in records {
        match by_sites(r, rules, with_ancestors, &mut uses) {
            BySites::Ignored => {}
            // One survivor the rules cannot hide: nothing to look at for
            // the others.
            BySites::Reported => return None,
            BySites::Undecided => undecided.push(r),
        }
    }
    let all = undecided
        .iter()
        .all(|r| matches!(by_frames(r, rules, symbols, &mut uses), ByFrames::Ignored));
    all.then_some(uses)
}

/// Those of `records` that only their frames can decide.
pub(crate) fn undecided(
    records: &[Arc<TaskRecord>],
    rules: &Rules,
    with_ancestors: bool,
) -> Vec<Arc<TaskRecord>> {
    let mut uses = vec![Use::default(); rules.iter().count()];
    records
        .iter()
        .filter(|r| {
            matches!(
                by_sites(r, rules, with_ancestors, &mut uses),
                BySites::Undecided
            )
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Ignore, Layer, Origin, Settings};

    /// Symbols from a list: address `i` is frame `i`, innermost first.
    struct Listed(Vec<Frame>);

    impl Symbols for Listed {
        fn frames(&self, ip: usize) -> Option<Arc<[Frame]>> {
            self.0.get(ip).map(|f| Arc::from([f.clone()]))
        }
    }

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame::new(function.into(), Some(Path::new(file)), Some(line))
    }

    const REGISTRY: &str = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";

    /// A task spawned by `my_crate::server::start`, called from the test
    /// `server::tests::leaks`, inside tracing's `Instrumented`, polled by
    /// tokio; `inner` says whether `start` is on the stack.
    fn stack(inner: bool) -> Listed {
        let mut frames = Vec::new();
        if inner {
            frames.push(frame("my_crate::server::start", "src/server.rs", 10));
        }
        frames.extend([
            frame(
                "my_crate::server::tests::leaks::{{closure}}",
                "src/server.rs",
                40,
            ),
            frame(
                "<tracing::instrument::Instrumented<T> as core::future::future::Future>::poll",
                &format!("{REGISTRY}/tracing-0.1.41/src/instrument.rs"),
                321,
            ),
            frame(
                "tokio::runtime::task::core::Core<T,S>::poll",
                &format!("{REGISTRY}/tokio-1.54.1/src/runtime/task/core.rs"),
                375,
            ),
        ]);
        Listed(frames)
    }

    /// The verdict of `patterns` on `symbols`' task, for the test
    /// `server::tests::leaks`.
    fn judged(patterns: &[&str], symbols: &Listed) -> (bool, Vec<Use>) {
        let ignore = patterns
            .iter()
            .map(|p| Ignore::parse(p, Origin::Configure("here:1")).unwrap())
            .collect();
        let own = Layer {
            ignore,
            ..Layer::default()
        };
        let settings = Settings::resolve(own, Box::leak(Box::default()));
        let rules = settings.rules.for_test(Some("server::tests::leaks".into()));
        let mut uses = vec![Use::default(); patterns.len()];
        let ips: Vec<usize> = (0..symbols.0.len()).collect();
        let verdict = frames_judged(&ips, &rules, symbols, &mut uses);
        (matches!(verdict, ByFrames::Ignored), uses)
    }

    #[test]
    fn a_rule_never_matches_the_tests_own_frames() {
        // Meant for the server's task, it must not hide a leak of the
        // test body of `my_crate::server::tests`.
        let (ignored, uses) = judged(&["my_crate::server"], &stack(false));
        assert!(!ignored);
        assert!(!uses[0].matched);
        let (ignored, _) = judged(&["src/server.rs:40", "src/server.rs"], &stack(false));
        assert!(!ignored, "nor by the test's file and line");
        // The task the rule was written for is still hidden.
        let (ignored, uses) = judged(&["my_crate::server"], &stack(true));
        assert!(ignored);
        assert!(uses[0].matched);
    }

    #[test]
    fn a_rule_never_matches_a_poll_adapter_next_to_the_runtime() {
        for adapter in [
            "tracing::instrument",
            "tracing",
            "src/instrument.rs",
            "instrument.rs",
        ] {
            let (ignored, uses) = judged(&[adapter], &stack(true));
            assert!(!ignored, "{adapter:?} hid a task by tracing's adapter");
            assert!(!uses[0].matched, "{adapter:?}");
        }
    }

    #[test]
    fn a_dependencys_poll_between_frames_of_the_user_is_matched() {
        // `futures::future::Map` polled by the user's code, not by the
        // runtime: it is where the task comes from.
        let map = frame(
            "<futures_util::future::Map<Fut,F> as core::future::future::Future>::poll",
            &format!("{REGISTRY}/futures-util-0.3.31/src/future/map.rs"),
            55,
        );
        let mut frames = stack(true).0;
        frames.insert(0, map);
        frames.insert(0, frame("other_crate::pool::run", "/elsewhere/pool.rs", 3));
        let (ignored, _) = judged(&["futures_util::future"], &Listed(frames));
        assert!(ignored);
    }

    #[test]
    fn only_the_tests_own_function_and_body_are_its_frames() {
        let test = Some("server::tests::leaks");
        let own = |f: &str| is_tests_own(&frame(f, "src/server.rs", 1), test);
        assert!(own("my_crate::server::tests::leaks"));
        assert!(own(
            "my_crate::server::tests::leaks::{{closure}}::{{closure}}"
        ));
        assert!(!own("my_crate::server::tests::leaks::helper"));
        assert!(!own("my_crate::server::tests::leaks_more"));
        assert!(!own("my_crate::server::start"));
        assert!(!is_tests_own(
            &frame("my_crate::server::tests::leaks", "src/server.rs", 1),
            None
        ));
    }
}
