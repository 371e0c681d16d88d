//! The twin of `suite_rules.rs` under `#[tokio::test]`: the same tasks,
//! awaited by the body (see suite/common.rs).
#[macro_use]
#[path = "suite/common.rs"]
mod common;
suite!(@with tokio::test, outliving_awaited);
