//! Live tasks per spawn site across every tracked runtime of the process,
//! sampled once a round for a growth check (`check::growth`), at a bounded
//! number of samples however many rounds a test runs.
//!
//! Only what the registry records is counted, so nothing taskleak spawns
//! for itself is (see `registry::unrecorded`).

use std::collections::HashMap;
use std::panic::Location;

use tokio::runtime::Handle;

use super::figures::Figures;
use super::hooks::runtime_key;
use super::registry;

/// A spawn site: where `tokio::spawn` (or its like) was called.
pub(crate) type Site = &'static Location<'static>;

/// Samples kept at most: when full, every other one is dropped and only
/// every second round is sampled from then on, so a run of 10^6 rounds
/// costs what one of 128 does, and a round without a sample costs nothing.
pub(crate) const MAX_SAMPLES: usize = 128;

/// Live tasks per site at one instant.
pub(crate) type Counts = HashMap<Site, usize>;

/// The per-round samples of a growth check: (round, counts), round 0 the
/// baseline taken when the check began.
pub(crate) struct Samples {
    kept: Vec<(u64, Counts)>,
    /// Rounds between two samples (a power of two).
    stride: u64,
    /// Runtimes counted as a whole in builds without spawn sites.
    runtimes: Vec<Handle>,
    /// The runtimes' own figures over the run (the `metrics` feature).
    figures: Figures,
}

/// The pseudo-site under which a build without tokio's hooks counts all
/// of a runtime's tasks (`RuntimeMetrics::num_alive_tasks`).
pub(crate) fn whole_runtime() -> Site {
    Location::caller()
}

impl Samples {
    /// Starts with the baseline: what is alive now.
    pub(crate) fn start() -> Samples {
        let mut samples = Samples {
            kept: Vec::new(),
            stride: 1,
            runtimes: Vec::new(),
            figures: Figures::default(),
        };
        samples.figures.watch_all();
        samples.see_runtime();
        let now = samples.count();
        samples.kept.push((0, now));
        samples
    }

    /// Remembers the runtime this thread is in, if any, to be counted in
    /// builds without spawn sites.
    fn see_runtime(&mut self) {
        if super::TRACKING {
            return;
        }
        if let Ok(h) = Handle::try_current()
            && !self
                .runtimes
                .iter()
                .any(|r| runtime_key(r) == runtime_key(&h))
        {
            self.runtimes.push(h);
        }
    }

    /// Whether this census can count anything: spawn sites are tracked,
    /// or it saw a runtime to count as a whole.
    pub(crate) fn sees(&self) -> bool {
        super::TRACKING || !self.runtimes.is_empty()
    }

    /// Live tasks per site now.
    pub(crate) fn count(&self) -> Counts {
        if super::TRACKING {
            return registry::per_site().into_iter().collect();
        }
        let all: usize = self
            .runtimes
            .iter()
            .map(|h| h.metrics().num_alive_tasks())
            .sum();
        [(whole_runtime(), all)].into_iter().collect()
    }

    /// Round `round` (from 1) is over: a sample if it falls on the stride.
    pub(crate) fn round(&mut self, round: u64) {
        self.see_runtime();
        if self.takes(round) {
            let now = self.count();
            self.keep(round, now);
        }
    }

    /// Whether round `round` is sampled (making room for it if needed).
    pub(crate) fn takes(&mut self, round: u64) -> bool {
        if !round.is_multiple_of(self.stride) {
            return false;
        }
        if self.kept.len() == MAX_SAMPLES {
            self.stride *= 2;
            let stride = self.stride;
            self.kept.retain(|(r, _)| r.is_multiple_of(stride));
        }
        round.is_multiple_of(self.stride)
    }

    /// Keeps `counts` as round `round`'s sample (one [`Samples::takes`]).
    pub(crate) fn keep(&mut self, round: u64, counts: Counts) {
        self.kept.push((round, counts));
        self.figures.watch_all();
        self.figures.sample();
    }

    /// The runtimes' figures up to now, a line each (none without the
    /// `metrics` feature).
    pub(crate) fn figures(&mut self) -> Vec<String> {
        self.figures.sample();
        self.figures.lines()
    }

    /// The samples as points per site, `last` (after the settle wait) as
    /// round `rounds`'s; a site missing from a sample had no live task.
    pub(crate) fn series(&self, rounds: u64, last: &Counts) -> Vec<(Site, Vec<(u64, usize)>)> {
        let mut points: Vec<(u64, &Counts)> = self
            .kept
            .iter()
            .filter(|(r, _)| *r < rounds || *r == 0)
            .map(|(r, c)| (*r, c))
            .collect();
        if rounds > 0 {
            points.push((rounds, last));
        }
        let mut sites: Vec<Site> = Vec::new();
        for (_, counts) in &points {
            for site in counts.keys() {
                if !sites.contains(site) {
                    sites.push(site);
                }
            }
        }
        sites
            .into_iter()
            .map(|site| {
                let series = points
                    .iter()
                    .map(|(r, c)| (*r, c.get(site).copied().unwrap_or(0)))
                    .collect();
                (site, series)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However many rounds, at most MAX_SAMPLES are kept, evenly spread
    /// from the baseline on.
    #[test]
    fn samples_stay_bounded_and_evenly_spread() {
        let mut s = Samples::start();
        for round in 1..=10_000 {
            s.round(round);
        }
        assert!(s.kept.len() <= MAX_SAMPLES, "{}", s.kept.len());
        assert!(s.kept.len() >= MAX_SAMPLES / 2, "{}", s.kept.len());
        let rounds: Vec<u64> = s.kept.iter().map(|(r, _)| *r).collect();
        let step = rounds[1] - rounds[0];
        assert!(rounds.windows(2).all(|w| w[1] - w[0] == step), "{rounds:?}");
        let series = s.series(10_000, &Counts::new());
        assert!(series.iter().all(|(_, p)| p.last() == Some(&(10_000, 0))));
    }
}
