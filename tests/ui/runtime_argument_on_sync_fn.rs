// A plain `fn` test builds no runtime: only `grace` and `ignore` apply.

#[taskleak::leak_check(flavor = "multi_thread")]
fn sync_with_flavor() {}

#[taskleak::leak_check(grace = "1s", start_paused = true)]
fn sync_with_start_paused() {}

fn main() {}
