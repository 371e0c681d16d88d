//! Whether the ignore rules hide a survivor: cheaply from spawn sites
//! first (each a `&'static Location`), then from its frames, stopping at
//! the first match. Pure: what each rule learnt is returned in `uses`,
//! one [`Use`] per rule in `Rules::iter` order, never marked on the rule.

use std::sync::Arc;

use super::symbols::Symbols;
use crate::capture::registry::TaskRecord;
use crate::config::Rules;
use crate::config::ignore::Use;

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
    Reported(Vec<crate::task::Frame>),
    /// A frame before any match is not known to `symbols`.
    Unknown,
}

/// Matches the rules against the user's frames (see `Frame::is_user`), one
/// address at a time, stopping at the first match: never tokio's, std's,
/// libtest's or taskleak's own frames, so a rule `"mod.rs"` or `"tokio"`
/// cannot hide every task.
pub(crate) fn by_frames(
    record: &TaskRecord,
    rules: &Rules,
    symbols: &dyn Symbols,
    uses: &mut [Use],
) -> ByFrames {
    let mut all = Vec::new();
    for &ip in record.frames.iter() {
        let Some(frames) = symbols.frames(ip) else {
            return ByFrames::Unknown;
        };
        for f in frames.iter().filter(|f| f.is_user()) {
            let hit = rules.iter().zip(uses.iter_mut()).any(|(rule, used)| {
                let hit = rule.matches_function(f.function())
                    || f.file()
                        .zip(f.line())
                        .is_some_and(|(file, line)| rule.matches_location(file, line));
                if let (Some(file), Some(line)) = (f.file(), f.line()) {
                    used.same_file |= !hit && rule.same_file_elsewhere(file, line);
                }
                used.matched |= hit;
                hit
            });
            if hit {
                return ByFrames::Ignored;
            }
        }
        all.extend(frames.iter().cloned());
    }
    ByFrames::Reported(all)
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
