//! One line of a summary: what happened to one (test, spawn site) pair,
//! with its task counts.

/// What happened to one (test, spawn site) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// It leaked and the check failed.
    Leaked,
    /// It leaked, and `TASKLEAK=warn` passed the test.
    Warned,
    /// It leaked and the baseline lists it: the check passed.
    Known,
    /// A known leak whose spawn call moved within its file: the entry
    /// matched by file (its site reads `file:old → :new`).
    Moved,
    /// The baseline lists it, the test ran, and it did not leak.
    Fixed,
    /// A known leak with more tasks than the baseline records (`count`
    /// now, `recorded` then): it failed.
    Grown,
    /// A known leak with fewer tasks than the baseline records: it
    /// passed, and re-recording tightens the entry.
    Fewer,
}

impl State {
    pub(crate) fn word(self) -> &'static str {
        match self {
            State::Leaked => "leaked",
            State::Warned => "warned",
            State::Known => "known",
            State::Moved => "moved",
            State::Fixed => "fixed",
            State::Grown => "grown",
            State::Fewer => "fewer",
        }
    }

    pub(crate) fn from_word(w: &str) -> Option<State> {
        match w {
            "leaked" => Some(State::Leaked),
            "warned" => Some(State::Warned),
            "known" => Some(State::Known),
            "moved" => Some(State::Moved),
            "fixed" => Some(State::Fixed),
            "grown" => Some(State::Grown),
            "fewer" => Some(State::Fewer),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) state: State,
    pub(crate) test: String,
    pub(crate) site: String,
    /// Tasks from the site (0 where it does not apply: fixed).
    pub(crate) count: usize,
    /// Tasks the baseline records (grown, fewer).
    pub(crate) recorded: Option<usize>,
}

impl Entry {
    pub(crate) fn leaked(test: &str, site: &str) -> Entry {
        Entry::new(State::Leaked, test, site)
    }
    pub(crate) fn known(test: &str, site: &str) -> Entry {
        Entry::new(State::Known, test, site)
    }
    /// The baseline lists `entry`; the leak came from `site`, elsewhere
    /// in the same file.
    pub(crate) fn moved(test: &str, entry: &str, site: &str) -> Entry {
        let new = match (entry.rsplit_once(':'), site.rsplit_once(':')) {
            (Some((a, _)), Some((b, line))) if a == b => format!(":{line}"),
            _ => site.to_owned(),
        };
        Entry::new(State::Moved, test, &format!("{entry} → {new}"))
    }
    pub(crate) fn fixed(test: &str, site: &str) -> Entry {
        Entry::new(State::Fixed, test, site)
    }
    pub(crate) fn new(state: State, test: &str, site: &str) -> Entry {
        Entry {
            state,
            test: test.to_owned(),
            site: site.to_owned(),
            count: 0,
            recorded: None,
        }
    }
    /// With `count` tasks.
    pub(crate) fn tasks(mut self, count: usize) -> Entry {
        self.count = count;
        self
    }
    /// A known leak whose count changed: `count` now, `recorded` then.
    pub(crate) fn changed(test: &str, entry: &str, count: usize, recorded: usize) -> Entry {
        let state = if count > recorded {
            State::Grown
        } else {
            State::Fewer
        };
        Entry {
            recorded: Some(recorded),
            ..Entry::new(state, test, entry).tasks(count)
        }
    }
}
