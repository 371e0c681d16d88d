// `worker_threads` only means something on the multi-thread runtime.

#[taskleak::leak_check(worker_threads = 2)]
async fn default_flavor() {}

#[taskleak::leak_check(flavor = "current_thread", worker_threads = 4)]
async fn explicit_current_thread() {}

#[taskleak::leak_check(flavor = "local", worker_threads = 4)]
async fn local_flavor() {}

#[taskleak::leak_check(flavor = "multi_thread", worker_threads = 0)]
async fn zero_workers() {}

fn main() {}
