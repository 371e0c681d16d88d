// Each argument at most once.

#[taskleak::leak_check(grace = "10ms", flavor = "multi_thread", grace = "1s")]
async fn grace_twice() {}

#[taskleak::leak_check(ignore = ["a::b"], ignore = ["c::d"])]
async fn ignore_twice() {}

fn main() {}
