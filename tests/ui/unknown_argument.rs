// An argument `#[leak_check]` does not take: the error lists the ones it
// does, and suggests the closest.

#[taskleak::leak_check(num_threads = 2)]
async fn misnamed_worker_threads() {}

#[taskleak::leak_check(flavour = "multi_thread")]
async fn british_spelling() {}

#[taskleak::leak_check(retries = 3)]
async fn no_such_thing() {}

fn main() {}
