// `grace` is one number and one unit, as in TASKLEAK_GRACE and configure!
// (the same grammar, the same messages).

#[taskleak::leak_check(grace = "250")]
async fn no_unit() {}

#[taskleak::leak_check(grace = "1_000ms")]
async fn separators() {}

#[taskleak::leak_check(grace = "1m 30s")]
async fn two_terms() {}

#[taskleak::leak_check(grace = "soon")]
async fn not_a_number() {}

#[taskleak::leak_check(grace = "1m")]
async fn minutes_are_accepted() {}

fn main() {}
