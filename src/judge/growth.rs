//! Does a spawn site's live count grow with the rounds? A pure function
//! of its samples: (round, live tasks) from the baseline (round 0) to the
//! sample taken after the settle wait (the last round's).
//!
//! The criterion (docs/growth.md states it in one sentence): over the
//! second half of the rounds, the median slope between any two samples
//! (Theil–Sen, which a round or two of stragglers cannot move) is at least
//! [`MIN_SLOPE`] tasks a round, and the count rose from the first to the
//! last of those samples by at least [`MIN_RISE`] tasks and by
//! [`MIN_SLOPE`] a round. A per-request leak rises the whole way; a pool
//! that filled to its bound, or fixed workers, are flat by then; tasks
//! that end a little late are gone from the last sample.

/// Tasks a round a site must keep adding to grow.
pub(crate) const MIN_SLOPE: f64 = 0.25;
/// Tasks a site must have added over the second half.
pub(crate) const MIN_RISE: usize = 3;
/// Rounds a growth check needs before it can tell growth from a plateau.
pub(crate) const MIN_ROUNDS: u64 = 4;

/// How a growing site grew.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Trend {
    /// Tasks added a round (Theil–Sen, over the second half).
    pub(crate) per_round: f64,
    /// Live at the baseline.
    pub(crate) first: usize,
    /// Live after the settle wait.
    pub(crate) last: usize,
    pub(crate) rounds: u64,
}

/// The trend of a site whose samples grow with the rounds; `None` when it
/// does not (or when too few rounds ran to tell).
pub(crate) fn grows(points: &[(u64, usize)]) -> Option<Trend> {
    let (&(_, first), &(rounds, last)) = (points.first()?, points.last()?);
    if rounds < MIN_ROUNDS {
        return None;
    }
    let half: Vec<(u64, usize)> = points
        .iter()
        .copied()
        .filter(|(r, _)| *r * 2 >= rounds)
        .collect();
    let (&(from_round, from), to) = (half.first()?, last);
    let span = rounds - from_round;
    if span == 0 {
        return None;
    }
    let rise = to.saturating_sub(from);
    let per_round = theil_sen(&half)?;
    let grew = per_round >= MIN_SLOPE && rise >= MIN_RISE && rise as f64 >= MIN_SLOPE * span as f64;
    grew.then_some(Trend {
        per_round,
        first,
        last,
        rounds,
    })
}

/// The sites a watch names when the live count passed its factor: those
/// whose samples [`grows`], fastest first; when none does (a burst, not a
/// trend yet), the three that added most since the baseline, with their
/// average rate.
pub(crate) fn named<K: Clone>(series: &[(K, Vec<(u64, usize)>)]) -> Vec<(K, Trend)> {
    let mut growing: Vec<(K, Trend)> = series
        .iter()
        .filter_map(|(k, p)| Some((k.clone(), grows(p)?)))
        .collect();
    if growing.is_empty() {
        growing = series
            .iter()
            .filter_map(|(k, p)| {
                let (&(_, first), &(rounds, last)) = (p.first()?, p.last()?);
                (last > first && rounds > 0).then(|| {
                    let per_round = (last - first) as f64 / rounds as f64;
                    let t = Trend {
                        per_round,
                        first,
                        last,
                        rounds,
                    };
                    (k.clone(), t)
                })
            })
            .collect();
        growing.sort_by_key(|(_, t)| std::cmp::Reverse(t.last - t.first));
        growing.truncate(3);
    }
    growing.sort_by(|a, b| b.1.per_round.total_cmp(&a.1.per_round));
    growing
}

/// The median of the slopes between every two points of distinct rounds.
fn theil_sen(points: &[(u64, usize)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, &(xi, yi)) in points.iter().enumerate() {
        for &(xj, yj) in &points[i + 1..] {
            if xj > xi {
                slopes.push((yj as f64 - yi as f64) / (xj - xi) as f64);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let mid = slopes.len() / 2;
    Some(if slopes.len() % 2 == 1 {
        slopes[mid]
    } else {
        (slopes[mid - 1] + slopes[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(rounds: u64, live: impl Fn(u64) -> usize) -> Vec<(u64, usize)> {
        (0..=rounds).map(|r| (r, live(r))).collect()
    }

    #[test]
    fn a_task_a_round_grows_with_its_slope_and_numbers() {
        let t = grows(&points(1000, |r| 3 + r as usize)).expect("grows");
        assert_eq!(t.per_round, 1.0);
        assert_eq!((t.first, t.last, t.rounds), (3, 1003, 1000));
    }

    #[test]
    fn a_task_every_third_round_grows() {
        let t = grows(&points(60, |r| (r / 3) as usize)).expect("grows");
        assert!((t.per_round - 1.0 / 3.0).abs() < 0.05, "{t:?}");
    }

    #[test]
    fn a_pool_that_fills_to_its_bound_passes() {
        assert_eq!(grows(&points(40, |r| (r as usize).min(8))), None);
        assert_eq!(grows(&points(1000, |r| (r as usize).min(100))), None);
    }

    #[test]
    fn fixed_workers_pass() {
        assert_eq!(grows(&points(40, |_| 4)), None);
    }

    /// Each round's tasks end a little late: while the rounds run, some
    /// are still in flight; after the settle wait, none are.
    #[test]
    fn tasks_that_end_late_pass() {
        let mut p = points(40, |r| (r as usize).min(6));
        p.last_mut().unwrap().1 = 0;
        assert_eq!(grows(&p), None);
        // A round or two of stragglers left after the wait.
        p.last_mut().unwrap().1 = 2;
        assert_eq!(grows(&p), None);
    }

    /// Noise around a level (requests in flight when a sample is taken).
    #[test]
    fn a_noisy_level_passes() {
        assert_eq!(
            grows(&points(200, |r| [0, 5, 1, 3, 0, 4][r as usize % 6])),
            None
        );
    }

    /// A round or two whose sample caught extra tasks in flight does not
    /// hide a leak, nor make a plateau grow.
    #[test]
    fn stragglers_in_a_sample_or_two_change_no_verdict() {
        let mut leak = points(40, |r| r as usize);
        leak[25].1 += 30;
        leak[33].1 = 0;
        assert!(grows(&leak).is_some());
        let mut flat = points(40, |_| 5);
        flat[30].1 += 40;
        flat[38].1 += 40;
        assert_eq!(grows(&flat), None);
    }

    #[test]
    fn too_few_rounds_or_too_small_a_rise_do_not_grow() {
        assert_eq!(grows(&points(3, |r| r as usize * 10)), None);
        // Two tasks over the second half: not enough to call it growth.
        assert_eq!(grows(&points(8, |r| (r as usize) / 3)), None);
        assert_eq!(grows(&[]), None);
    }

    /// A watch names the growing sites; after a burst with no trend, the
    /// sites that added most.
    #[test]
    fn a_watch_names_growing_sites_else_the_largest_rises() {
        let series = vec![
            ("leak", points(20, |r| r as usize * 2)),
            ("flat", points(20, |_| 9)),
        ];
        let found = named(&series);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, found[0].1.per_round), ("leak", 2.0));
        let burst = vec![
            ("a", points(20, |r| if r == 20 { 50 } else { 1 })),
            ("b", points(20, |r| if r == 20 { 9 } else { 1 })),
            ("c", points(20, |_| 1)),
        ];
        let names: Vec<&str> = named(&burst).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["a", "b"]);
    }

    /// Samples thinned to every k-th round judge the same.
    #[test]
    fn sparse_samples_judge_the_same() {
        let sparse: Vec<(u64, usize)> = (0..=100).map(|i| (i * 64, 7 + i as usize * 64)).collect();
        assert_eq!(grows(&sparse).map(|t| t.per_round), Some(1.0));
        let flat: Vec<(u64, usize)> = (0..=100).map(|i| (i * 64, (i as usize).min(3))).collect();
        assert_eq!(grows(&flat), None);
    }
}
