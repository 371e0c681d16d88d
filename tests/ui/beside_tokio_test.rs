// `#[leak_check]` replaces `#[tokio::test]`; both would build two runtimes.

#[taskleak::leak_check]
#[tokio::test]
async fn tokio_test_below() {}

#[tokio::test(flavor = "multi_thread")]
#[taskleak::leak_check]
async fn tokio_test_above() {}

fn main() {}
