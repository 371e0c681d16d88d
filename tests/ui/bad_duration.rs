// `grace` is a number and a unit: ns, us, ms or s.

#[taskleak::leak_check(grace = "250")]
async fn no_unit() {}

#[taskleak::leak_check(grace = "2m")]
async fn minutes_are_not_a_grace_period() {}

#[taskleak::leak_check(grace = "soon")]
async fn not_a_number() {}

fn main() {}
