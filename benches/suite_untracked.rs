//! The same 200 tests under `#[tokio::test]` (see suite/common.rs).
#[macro_use]
#[path = "suite/common.rs"]
mod common;
suite!(tokio::test);
