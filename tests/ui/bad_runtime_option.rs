// `name` and `unhandled_panic` are checked as `#[tokio::test]` would, and
// earlier: tokio's builder would panic at run time on an empty name.

#[taskleak::leak_check(name = "")]
async fn empty_runtime_name() {}

#[taskleak::leak_check(unhandled_panic = "abort")]
async fn unknown_panic_behavior() {}

fn main() {}
