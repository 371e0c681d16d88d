//! Where each leaked task is stuck: task dumps (or why there are none)
//! attached to a report.

use std::collections::HashMap;

use tokio::task::Id;

use super::stuck::{self, Suspension};
use super::{LeakedTask, Leaks};
use crate::task::{Frame, Kind, NotDumped, Stuck};

impl Leaks {
    /// Adds what task dumps of the runtimes the survivors live on say about
    /// each, or why they say nothing.
    pub(crate) fn attach_dumps(&mut self, dumps: HashMap<Id, Stuck>) {
        self.dumped = true;
        for task in &mut self.tasks {
            match (task.kind, dumps.get(&task.id)) {
                (Kind::Blocking, _) => task.not_dumped = Some(NotDumped::Blocking),
                (Kind::Local, _) => task.not_dumped = Some(NotDumped::Local),
                (Kind::Task, Some(Stuck::At(traces))) => {
                    task.set_stuck(traces);
                    task.not_dumped = None;
                }
                (Kind::Task, Some(Stuck::NotDumped(why))) => task.not_dumped = Some(why.clone()),
                (Kind::Task, None) => {}
            }
        }
    }

    /// Adds a task dump of the current-thread runtime the check runs in:
    /// the one place tokio can dump it from.
    pub(crate) fn attach_dump_here(&mut self, traces: &HashMap<Id, Vec<Vec<Frame>>>) {
        self.dumped = true;
        for task in &mut self.tasks {
            if task.kind != Kind::Task || task.stuck_in.is_some() {
                continue;
            }
            if let Some(traces) = traces.get(&task.id) {
                task.set_stuck(traces);
                task.not_dumped = None;
            } else if matches!(
                task.not_dumped,
                None | Some(NotDumped::CurrentThread | NotDumped::UnknownRuntime)
            ) {
                task.not_dumped = Some(NotDumped::NotInThisRuntime);
            }
        }
    }
}

impl LeakedTask {
    /// Sets where a task dump found it suspended (and the one-line paths
    /// `stuck_in()` lends out).
    fn set_stuck(&mut self, traces: &[Vec<Frame>]) {
        let places: Vec<Suspension> = traces.iter().map(|t| stuck::suspension(t)).collect();
        self.stuck_paths = Some(places.iter().map(Suspension::path).collect());
        self.stuck_in = Some(places);
    }
}
