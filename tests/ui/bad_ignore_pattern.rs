// Ignore patterns are checked at compile time, like the library does at run
// time: a path prefix, a file, or a file:line.

#[taskleak::leak_check(ignore = [""])]
async fn empty_pattern() {}

#[taskleak::leak_check(ignore = ["my crate"])]
async fn whitespace() {}

#[taskleak::leak_check(ignore = ["src/pool.rs:0"])]
async fn line_zero() {}

#[taskleak::leak_check(ignore = ["my_crate.metrics"])]
async fn dotted_path() {}

fn main() {}
