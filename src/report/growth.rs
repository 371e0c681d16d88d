//! A growth check's report: the sites whose live count grew with the
//! rounds, with their numbers, and the newest of their tasks as a leak
//! report shows tasks (spawn chain, where they are stuck). It is a
//! [`Leaks`] with a growth section, so every output (panic text, stderr,
//! annotations, JSON, files) renders it with the leak report's own code.

use std::fmt;
use std::panic::Location;

use super::{LeakedTask, Leaks};

/// A growth check's failure: the spawn sites whose live tasks grew with
/// the rounds of the workload. `Display` (and `Debug`) render the report.
///
/// ```no_run
/// # async fn serve_one_request() {}
/// # async fn t() {
/// let growth = taskleak::growth();
/// for _ in 0..100 {
///     serve_one_request().await;
///     growth.round();
/// }
/// if let Err(growing) = growth.check_async().await {
///     for site in growing.sites() {
///         eprintln!("{}: +{:.1} a round", site.spawned_at(), site.per_round());
///     }
///     panic!("{growing}");
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Growing {
    pub(crate) leaks: Leaks,
}

/// One spawn site whose live tasks grew with the rounds.
///
/// ```
/// # fn f(growing: taskleak::Growing) {
/// let site = &growing.sites()[0];
/// println!("{} went {} → {} over {} rounds", site.spawned_at(), site.first(), site.last(), site.rounds());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct GrowingSite {
    pub(crate) site: &'static Location<'static>,
    pub(crate) per_round: f64,
    pub(crate) first: usize,
    pub(crate) last: usize,
    pub(crate) rounds: u64,
    /// No spawn sites in this build: the site stands for all of the
    /// runtime's tasks.
    pub(crate) whole_runtime: bool,
}

/// What a growth report adds to a leak report.
#[derive(Clone, Debug, Default)]
pub(crate) struct Growth {
    pub(crate) sites: Vec<GrowingSite>,
    /// Rounds the check saw.
    pub(crate) rounds: u64,
    /// The runtimes' own figures over the run (`metrics` feature), one
    /// line each.
    pub(crate) runtime: Vec<String>,
    /// A watch's warning: live tasks at its baseline and now (`rounds`
    /// are then its samples since the baseline).
    pub(crate) watch: Option<(usize, usize)>,
}

impl GrowingSite {
    /// Where the growing tasks were spawned.
    ///
    /// ```
    /// # fn f(s: &taskleak::GrowingSite) {
    /// println!("{}", s.spawned_at());
    /// # }
    /// ```
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.site
    }

    /// Tasks added a round (the median slope over the second half).
    ///
    /// ```
    /// # fn f(s: &taskleak::GrowingSite) {
    /// assert!(s.per_round() > 0.0);
    /// # }
    /// ```
    pub fn per_round(&self) -> f64 {
        self.per_round
    }

    /// Live tasks from this site when the check began.
    ///
    /// ```
    /// # fn f(s: &taskleak::GrowingSite) { let _ = s.first(); }
    /// ```
    pub fn first(&self) -> usize {
        self.first
    }

    /// Live tasks from this site at the end (after the settle wait).
    ///
    /// ```
    /// # fn f(s: &taskleak::GrowingSite) { assert!(s.last() > s.first()); }
    /// ```
    pub fn last(&self) -> usize {
        self.last
    }

    /// Rounds of the workload the check saw.
    ///
    /// ```
    /// # fn f(s: &taskleak::GrowingSite) { let _ = s.rounds(); }
    /// ```
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// `examples/leaky_server.rs:20:9 — +1 task a round: 3 → 1003 live over 1000 rounds`
    pub(crate) fn line(&self) -> String {
        let site = if self.whole_runtime {
            "all tasks of the runtime (no spawn sites in this build)".to_owned()
        } else {
            super::render::site(self.site).0
        };
        format!(
            "{site} — {} a round: {} → {} live over {}",
            per_round(self.per_round),
            self.first,
            self.last,
            crate::util::plural(self.rounds as usize, "round")
        )
    }
}

/// `+1 task`, `+0.5 tasks`, `+2.3 tasks`.
fn per_round(n: f64) -> String {
    let rounded = (n * 10.0).round() / 10.0;
    if rounded == 1.0 {
        "+1 task".to_owned()
    } else if rounded.fract() == 0.0 {
        format!("+{rounded:.0} tasks")
    } else {
        format!("+{rounded:.1} tasks")
    }
}

impl Growing {
    /// The sites that grew, fastest first.
    ///
    /// ```
    /// # fn f(growing: taskleak::Growing) {
    /// assert!(!growing.sites().is_empty());
    /// # }
    /// ```
    pub fn sites(&self) -> &[GrowingSite] {
        self.leaks.growth().map_or(&[], |g| &g.sites)
    }

    /// The newest live tasks of each growing site (their spawn chains,
    /// and where they are stuck when task dumps are on).
    ///
    /// ```
    /// # fn f(growing: taskleak::Growing) {
    /// for t in growing.tasks() { println!("{} at {}", t.id(), t.spawned_at()); }
    /// # }
    /// ```
    pub fn tasks(&self) -> &[LeakedTask] {
        &self.leaks.tasks
    }

    /// The report as JSON (schema `taskleak-report/1`, `"kind":"growth"`).
    ///
    /// ```
    /// # fn f(growing: taskleak::Growing) {
    /// assert!(growing.to_json().contains("\"growth\""));
    /// # }
    /// ```
    pub fn to_json(&self) -> String {
        self.leaks.to_json()
    }
}

impl fmt::Display for Growing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.leaks, f)
    }
}

impl fmt::Debug for Growing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.leaks, f)
    }
}

impl std::error::Error for Growing {}

/// The JSON of a growth section (inside the report's object).
pub(super) fn json(g: &Growth) -> String {
    let sites: Vec<String> = g
        .sites
        .iter()
        .map(|s| {
            format!(
                "{{\"file\":{},\"line\":{},\"column\":{},\"per_round\":{:.3},\"first\":{},\"last\":{},\"rounds\":{}}}",
                crate::util::quote(s.site.file()),
                s.site.line(),
                s.site.column(),
                s.per_round,
                s.first,
                s.last,
                s.rounds
            )
        })
        .collect();
    let runtime: Vec<String> = g.runtime.iter().map(|l| crate::util::quote(l)).collect();
    format!(
        "{{\"rounds\":{},\"sites\":[{}],\"runtime\":[{}]}}",
        g.rounds,
        sites.join(","),
        runtime.join(",")
    )
}
