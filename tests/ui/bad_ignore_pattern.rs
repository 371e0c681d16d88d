// Ignore patterns are parsed at compile time with the library's own
// grammar: a path prefix, a file, or a file:line.

#[taskleak::leak_check(ignore = [""])]
async fn empty_pattern() {}

#[taskleak::leak_check(ignore = ["my crate"])]
async fn whitespace() {}

#[taskleak::leak_check(ignore = ["src/pool.rs:0"])]
async fn line_zero() {}

#[taskleak::leak_check(ignore = ["my_crate.metrics"])]
async fn dotted_path() {}

#[taskleak::leak_check(ignore = ["src/pool.rs:42:9"])]
async fn with_a_column() {}

// What a report prints is accepted as it is.
#[taskleak::leak_check(ignore = [
    "hyper_util::client::legacy::pool::PoolInner<T, K>::spawn_idle_interval",
    "<my::Pool<M> as my::Trait>::f",
])]
async fn copied_from_a_report() {}

fn main() {}
