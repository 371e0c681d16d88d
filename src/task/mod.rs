//! What is known about one task, shared by the producer (`hooks`, which
//! records poll activity and task dumps) and the consumer (`report`, which
//! prints it). Neither imports the other for these types.

mod activity;
pub(crate) mod frame;
mod not_dumped;

pub use activity::{Activity, Verdict};
pub use frame::Frame;
pub(crate) use not_dumped::NotDumped;
