//! The survivors of a wait as they are at one instant: each record with
//! its age and poll activity, read together (resolving symbols later can
//! take longer than the grace period the first time).

use std::sync::Arc;
use std::time::Duration;

use super::hooks;
use super::registry::TaskRecord;
use crate::task::Activity;
use crate::util::clock;

/// One task alive at the end of a wait, as it was then.
pub(crate) struct Survivor {
    pub(crate) record: Arc<TaskRecord>,
    pub(crate) age: Duration,
    pub(crate) activity: Option<Activity>,
}

/// `records` as they are now.
pub(crate) fn now(records: Vec<Arc<TaskRecord>>) -> Vec<Survivor> {
    let now = clock::precise();
    records
        .into_iter()
        .map(|record| {
            let age = clock::since(now, record.spawned);
            let activity = hooks::activity(record.id).map(|a| Activity { age, ..a });
            Survivor {
                record,
                age,
                activity,
            }
        })
        .collect()
}
