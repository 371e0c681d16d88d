// One `#[leak_check]` per test, carrying all the arguments.

#[taskleak::leak_check]
#[taskleak::leak_check(grace = "1s")]
async fn checked_twice() {}

fn main() {}
