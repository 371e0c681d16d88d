//! The runtimes' own figures over a growth check's run, from
//! tokio-metrics' `RuntimeMonitor` (the `metrics` feature): live tasks,
//! busy ratio, queue depths, so that a starved runtime reads differently
//! from a leak. Without the feature, there are none.

use tokio::runtime::Handle;

/// Figures of every runtime seen during the run, sampled with the census.
#[derive(Default)]
pub(crate) struct Figures {
    #[cfg(feature = "metrics")]
    watched: Vec<Watched>,
}

#[cfg(feature = "metrics")]
struct Watched {
    key: super::hooks::RuntimeKey,
    flavor: &'static str,
    intervals: tokio_metrics::RuntimeIntervals,
    first_live: usize,
    last_live: usize,
    peak_live: usize,
    busy: std::time::Duration,
    elapsed: std::time::Duration,
    workers: usize,
    peak_global_queue: usize,
    #[cfg(tokio_unstable)]
    peak_local_queue: usize,
}

impl Figures {
    /// Starts watching `handle`'s runtime, if not yet watched.
    pub(crate) fn watch(&mut self, handle: &Handle) {
        #[cfg(feature = "metrics")]
        {
            let key = super::hooks::runtime_key(handle);
            if self.watched.iter().any(|w| w.key == key) {
                return;
            }
            let monitor = tokio_metrics::RuntimeMonitor::new(handle);
            let mut intervals = monitor.intervals();
            let live = intervals.next().map_or(0, |m| m.live_tasks_count);
            let flavor = match handle.runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => "current-thread",
                _ => "multi-thread",
            };
            self.watched.push(Watched {
                key,
                flavor,
                intervals,
                first_live: live,
                last_live: live,
                peak_live: live,
                busy: std::time::Duration::ZERO,
                elapsed: std::time::Duration::ZERO,
                workers: handle.metrics().num_workers(),
                peak_global_queue: 0,
                #[cfg(tokio_unstable)]
                peak_local_queue: 0,
            });
        }
        #[cfg(not(feature = "metrics"))]
        let _ = handle;
    }

    /// Watches every tracked runtime with threads, and the current one.
    pub(crate) fn watch_all(&mut self) {
        if !cfg!(feature = "metrics") {
            return;
        }
        for h in super::hooks::runtimes()
            .iter()
            .chain(&Handle::try_current().ok())
        {
            self.watch(h);
        }
    }

    /// Adds the interval since the last sample.
    pub(crate) fn sample(&mut self) {
        #[cfg(feature = "metrics")]
        for w in &mut self.watched {
            if let Some(m) = w.intervals.next() {
                w.last_live = m.live_tasks_count;
                w.peak_live = w.peak_live.max(m.live_tasks_count);
                w.busy += m.total_busy_duration;
                w.elapsed += m.elapsed * m.workers_count.max(1) as u32;
                w.peak_global_queue = w.peak_global_queue.max(m.global_queue_depth);
                #[cfg(tokio_unstable)]
                {
                    w.peak_local_queue = w.peak_local_queue.max(m.total_local_queue_depth);
                }
            }
        }
    }

    /// One line a runtime: `multi-thread runtime, 2 workers: live tasks 7 →
    /// 47 (peak 47), busy 3% of the run, queue depth at most 0 global, 2 local`.
    pub(crate) fn lines(&self) -> Vec<String> {
        #[cfg(feature = "metrics")]
        {
            self.watched
                .iter()
                .map(|w| {
                    let busy = if w.elapsed.is_zero() {
                        0.0
                    } else {
                        100.0 * w.busy.as_secs_f64() / w.elapsed.as_secs_f64()
                    };
                    #[cfg(tokio_unstable)]
                    let local = format!(", {} local", w.peak_local_queue);
                    #[cfg(not(tokio_unstable))]
                    let local = String::new();
                    format!(
                        "{} runtime, {}: live tasks {} → {} (peak {}), busy {busy:.0}% of the \
                         run, queue depth at most {} global{local}",
                        w.flavor,
                        crate::util::plural(w.workers, "worker"),
                        w.first_live,
                        w.last_live,
                        w.peak_live,
                        w.peak_global_queue,
                    )
                })
                .collect()
        }
        #[cfg(not(feature = "metrics"))]
        Vec::new()
    }
}
