// Each argument takes one kind of literal; the error shows it.

#[taskleak::leak_check(flavor = multi_thread)]
async fn flavor_unquoted() {}

#[taskleak::leak_check(flavor = "multi_thread", worker_threads = "2")]
async fn worker_threads_quoted() {}

#[taskleak::leak_check(start_paused = "true")]
async fn start_paused_quoted() {}

#[taskleak::leak_check(grace = 250)]
async fn grace_as_integer() {}

#[taskleak::leak_check(ignore = "my_crate::metrics")]
async fn ignore_not_a_list() {}

#[taskleak::leak_check(ignore = ["my_crate::metrics", 42])]
async fn ignore_non_string() {}

#[taskleak::leak_check(crate = my_crate::tokio)]
async fn crate_unquoted() {}

#[taskleak::leak_check(flavor = current_thread, grace = "1s")]
async fn flavor_unquoted_current_thread() {}

fn main() {}
