// The flavors are tokio's: current_thread, multi_thread, local.

#[taskleak::leak_check(flavor = "single_thread")]
async fn old_name() {}

#[taskleak::leak_check(flavor = "work_stealing")]
async fn made_up() {}

#[taskleak::leak_check(multi_thread)]
async fn bare_flavor() {}

#[taskleak::leak_check(start_paused)]
async fn bare_argument() {}

fn main() {}
