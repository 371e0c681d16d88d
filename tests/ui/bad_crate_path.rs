// `crate` names the path where tokio is, as a string.

#[taskleak::leak_check(crate = "not a path")]
async fn spaces() {}

#[taskleak::leak_check(crate = "")]
async fn empty() {}

fn main() {}
