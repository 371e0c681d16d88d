//! `#[leak_check]` through a renamed dependency: no `taskleak` crate is in
//! scope here, only `tl`.

#[tl::leak_check]
async fn an_async_test_expands_against_the_renamed_library() {
    tokio::spawn(async {}).await.unwrap();
}

#[tl::leak_check(grace = "10ms")]
fn a_plain_test_expands_against_the_renamed_library() {}

#[tl::leak_check(flavor = "multi_thread", worker_threads = 2, grace = "20ms")]
#[should_panic(expected = "leaked 1 task")]
async fn a_leak_is_still_reported() {
    tokio::spawn(std::future::pending::<()>());
}

#[tl::leak_check(taskleak = "tl", grace = "10ms")]
async fn the_path_can_also_be_given() {}
