//! 200 tests under `#[taskleak::leak_check]` with a file rule and a path
//! rule in force, whose tasks outlive the body by ~2 ms: every check
//! waits, and judges the rules while it waits (see suite/common.rs).
#[macro_use]
#[path = "suite/common.rs"]
mod common;
suite!(@with taskleak::leak_check(ignore = ["suite_rules::nowhere", "src/nowhere.rs"]), outliving);
