//! 200 tests under `#[taskleak::leak_check]` (see suite/common.rs).
#[macro_use]
#[path = "suite/common.rs"]
mod common;
suite!(taskleak::leak_check);
