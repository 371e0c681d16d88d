//! A process per test (cargo-nextest), each test leaving a task that a
//! rule hides: by its function path (judged from its frames' names) or by
//! its `file:line` (judged from its spawn site), and the same test under
//! `#[tokio::test]`. `benches/rule_judged.sh` runs them side by side and
//! prints the per-test times (docs/benchmarks.md, issue 23).

mod reaper {
    /// A task that never ends, spawned from here (the rules name this
    /// function, and this file's `tokio::spawn` line).
    #[inline(never)]
    pub fn spawn() {
        drop(tokio::spawn(std::future::pending::<()>()));
    }
}

macro_rules! tests {
    ($attr:meta; $($name:ident)*) => {$(
        #[$attr]
        async fn $name() {
            reaper::spawn();
        }
    )*};
}

mod by_function {
    use super::reaper;
    tests!(taskleak::leak_check(ignore = ["rule_judged::reaper::spawn"]); t0 t1 t2 t3 t4 t5 t6 t7 t8 t9);
}

mod by_file_line {
    use super::reaper;
    tests!(taskleak::leak_check(ignore = ["benches/rule_judged.rs:12"]); t0 t1 t2 t3 t4 t5 t6 t7 t8 t9);
}

mod untracked {
    use super::reaper;
    tests!(tokio::test; t0 t1 t2 t3 t4 t5 t6 t7 t8 t9);
}
