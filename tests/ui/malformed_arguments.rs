// Arguments are `name = value` pairs separated by commas.

#[taskleak::leak_check(grace: "1s")]
async fn colon_instead_of_equals() {}

#[taskleak::leak_check("multi_thread")]
async fn value_without_a_name() {}

#[taskleak::leak_check(ignore("my_crate::metrics"))]
async fn call_syntax() {}

#[taskleak::leak_check(tokio::flavor = "multi_thread")]
async fn path_as_name() {}

fn main() {}
