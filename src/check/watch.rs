//! The growth check on a ticker, for a long integration run or a staging
//! binary built with the cfg: a baseline after a warm-up, then a sample
//! every tick, and a warning naming the growing sites when the live count
//! passes a factor of the baseline (Go's `runtime.NumGoroutine` on a
//! ticker, compared with a baseline, with the stacks dumped).
//!
//! The sampler is an OS thread, not a task: it never counts itself. A
//! sample walks the registry once (linear in the live tasks) and keeps at
//! most `census::MAX_SAMPLES` samples, so its cost per tick is bounded.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::capture::census::Samples;
use crate::judge::growth::named;
use crate::report::Growing;

type Callback = Box<dyn Fn(&Growing) + Send + 'static>;

/// Settings of a watch over the process's live tasks; [`Watch::start`]
/// starts it.
///
/// ```
/// use std::time::Duration;
///
/// let watching = taskleak::Watch::new()
///     .every(Duration::from_secs(10))
///     .warm_up(Duration::from_secs(60))
///     .factor(2.0)
///     .on_growth(|growing| eprintln!("{growing}"))
///     .start();
/// // ... the long run ...
/// drop(watching); // stops the sampler thread
/// ```
#[must_use = "a watch does nothing until started: `.start()`"]
pub struct Watch {
    every: Duration,
    warm_up: Duration,
    factor: f64,
    min_live: usize,
    callback: Option<Callback>,
}

impl Default for Watch {
    fn default() -> Watch {
        Watch::new()
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("every", &self.every)
            .field("warm_up", &self.warm_up)
            .field("factor", &self.factor)
            .field("min_live", &self.min_live)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// A sample every 10 s after a 60 s warm-up; a warning to stderr when
    /// the live count reaches twice the baseline (and at least 100 tasks).
    ///
    /// ```
    /// let w = taskleak::Watch::new();
    /// assert!(format!("{w:?}").contains("factor: 2.0"));
    /// ```
    pub fn new() -> Watch {
        Watch {
            every: Duration::from_secs(10),
            warm_up: Duration::from_secs(60),
            factor: 2.0,
            min_live: 100,
            callback: None,
        }
    }

    /// Time between two samples.
    ///
    /// ```
    /// let w = taskleak::Watch::new().every(std::time::Duration::from_secs(1));
    /// # drop(w);
    /// ```
    pub fn every(mut self, every: Duration) -> Watch {
        self.every = every.max(Duration::from_millis(1));
        self
    }

    /// Time before the baseline is taken (the server starts its pools and
    /// workers meanwhile).
    ///
    /// ```
    /// let w = taskleak::Watch::new().warm_up(std::time::Duration::ZERO);
    /// # drop(w);
    /// ```
    pub fn warm_up(mut self, warm_up: Duration) -> Watch {
        self.warm_up = warm_up;
        self
    }

    /// Warn when the live count reaches this many times the baseline (and
    /// again each time it reaches this many times the count last warned
    /// at).
    ///
    /// ```
    /// let w = taskleak::Watch::new().factor(1.5);
    /// # drop(w);
    /// ```
    pub fn factor(mut self, factor: f64) -> Watch {
        self.factor = factor.max(1.0);
        self
    }

    /// The baseline is taken as at least this many tasks, so that a
    /// nearly idle process does not warn at 2 → 4.
    ///
    /// ```
    /// let w = taskleak::Watch::new().min_live(10);
    /// # drop(w);
    /// ```
    pub fn min_live(mut self, min_live: usize) -> Watch {
        self.min_live = min_live;
        self
    }

    /// Called with the report instead of printing it to stderr.
    ///
    /// ```
    /// let w = taskleak::Watch::new().on_growth(|g| log_somewhere(&g.to_string()));
    /// # fn log_somewhere(_: &str) {}
    /// # drop(w);
    /// ```
    pub fn on_growth(mut self, f: impl Fn(&Growing) + Send + 'static) -> Watch {
        self.callback = Some(Box::new(f));
        self
    }

    /// Starts the sampler thread; it runs until the returned value is
    /// dropped.
    ///
    /// ```
    /// let watching = taskleak::Watch::new().start();
    /// drop(watching);
    /// ```
    pub fn start(self) -> Watching {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = crate::util::own_thread::spawn("taskleak-watch", {
            let stop = stop.clone();
            move || self.run(&stop)
        })
        .expect("taskleak: cannot start the watch thread");
        Watching {
            stop,
            thread: Some(thread),
        }
    }

    /// The sampler: waits `d`, or returns false when told to stop.
    fn run(self, stop: &(Mutex<bool>, Condvar)) {
        let wait = |d: Duration| {
            let mut stopped = stop.0.lock();
            if !*stopped {
                let _ = stop.1.wait_for(&mut stopped, d);
            }
            !*stopped
        };
        if !wait(self.warm_up) {
            return;
        }
        let mut samples = Samples::start();
        let baseline: usize = samples.count().values().sum();
        let mut threshold = baseline.max(self.min_live) as f64 * self.factor;
        let mut tick = 0;
        while wait(self.every) {
            tick += 1;
            let now = samples.count();
            let total: usize = now.values().sum();
            if samples.takes(tick) {
                samples.keep(tick, now.clone());
            }
            if (total as f64) < threshold {
                continue;
            }
            threshold = total as f64 * self.factor;
            let sites = named(&samples.series(tick, &now));
            let mut leaks = super::growth::report(sites, tick, None, Duration::ZERO);
            if let Some(g) = leaks.growth_mut() {
                g.runtime = samples.figures();
                g.watch = Some((baseline, total));
            }
            let growing = Growing { leaks };
            match &self.callback {
                Some(f) => f(&growing),
                None => crate::outputs::past_capture(&growing.leaks.for_stderr().to_string()),
            }
        }
    }
}

/// A running watch (see [`Watch`]); dropping it stops the sampler thread.
///
/// ```
/// let watching = taskleak::Watch::new().start();
/// # drop(watching);
/// ```
#[derive(Debug)]
pub struct Watching {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
