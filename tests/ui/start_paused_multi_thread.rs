// tokio pauses time only on a current-thread runtime.

#[taskleak::leak_check(flavor = "multi_thread", start_paused = true)]
async fn paused_multi_thread() {}

#[taskleak::leak_check(flavor = "multi_thread", unhandled_panic = "shutdown_runtime")]
async fn shutdown_on_panic_multi_thread() {}

fn main() {}
