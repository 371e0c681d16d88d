//! What is known about one task, shared by the producer (`hooks`, which
//! records poll activity and task dumps) and the consumer (`report`, which
//! prints it). Neither imports the other for these types.

mod activity;
pub(crate) mod frame;
mod id;
mod kind;
mod not_dumped;
mod stuck;

pub use activity::{Activity, Verdict};
pub use frame::Frame;
pub(crate) use id::id_u64;
pub(crate) use kind::Kind;
pub(crate) use not_dumped::NotDumped;
pub(crate) use stuck::Stuck;

/// A known leak that grew: the baseline lists `known` tasks of a test from
/// `entry`, and the check found `now` (the report says so; the tasks fail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grown {
    pub(crate) entry: String,
    pub(crate) known: usize,
    pub(crate) now: usize,
}
