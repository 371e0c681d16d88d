// `threads` is the OS-thread check, a flag; a count means `worker_threads`.

#[taskleak::leak_check(flavor = "multi_thread", threads = 4)]
async fn meant_worker_threads() {}

fn main() {}
