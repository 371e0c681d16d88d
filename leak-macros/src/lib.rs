//! The `#[leak_check]` attribute of [taskleak](https://docs.rs/taskleak).
//!
//! Use it as `taskleak::leak_check`; this crate is an implementation detail
//! and its expansion calls `taskleak`'s hidden runtime support.

mod args;
mod attrs;
mod expand;
mod krate;

use proc_macro::TokenStream;

/// Runs a test like `#[tokio::test]` and fails it when it leaves tokio tasks
/// running.
///
/// On an `async fn` it builds the runtime `#[tokio::test]` would build (same
/// arguments, same defaults: a `current_thread` runtime), with task tracking
/// on. It runs the body, then, while the runtime is still alive, waits up
/// to the grace period for the tasks the test spawned and fails the test
/// with a report naming each survivor — where it was spawned, by which task,
/// and where it is stuck. Only then is the runtime dropped: dropping it
/// first would cancel every task and hide the leaks.
///
/// ```no_run
/// #[taskleak::leak_check]
/// async fn closes_its_connections() {
///     let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
///     let worker = tokio::spawn(async move { while rx.recv().await.is_some() {} });
///     tx.send(1).await.unwrap();
///     drop(tx); // without this line the worker outlives the test: it fails
///     worker.await.unwrap();
/// }
/// ```
///
/// Replacing `#[tokio::test]` across a suite is one substitution, since the
/// arguments are the same:
///
/// ```text
/// sed -i 's/#\[tokio::test/#[taskleak::leak_check/' tests/*.rs
/// ```
///
/// # Arguments
///
/// | argument | meaning |
/// |---|---|
/// | `flavor = "current_thread"` | the default: one thread, as `#[tokio::test]` |
/// | `flavor = "multi_thread"` | a multi-thread runtime; with `worker_threads = N` (default: one per CPU) |
/// | `flavor = "local"` | a `LocalRuntime` (needs `--cfg tokio_unstable`) |
/// | `start_paused = true` | start with time paused (not with `multi_thread`; needs tokio's `test-util`) |
/// | `crate = "path"` | where tokio is, when it is re-exported under another path (as in `#[tokio::test]`) |
/// | `taskleak = "path"` | where taskleak is, when it is re-exported under another path; a dependency renamed in Cargo.toml (`tl = { package = "taskleak", .. }`) is found without it |
/// | `unhandled_panic = "shutdown_runtime"` | as `#[tokio::test]` (`tokio_unstable`; not with `multi_thread`) |
/// | `name = "rt"` | the runtime's name, as `#[tokio::test]` |
/// | `grace = "250ms"` | how long survivors get to finish after the body: a number and a unit, `ns`, `us`, `ms`, `s`, `m` or `h` (`"1.5s"`, `"500us"`) |
/// | `ignore = ["my_crate::metrics", "src/pool.rs:42"]` | never report tasks spawned from these path prefixes, files or lines |
/// | `threads` (or `threads = true`) | also fail on OS threads the test started and left running (see `taskleak::Options::threads`: Linux, and process-wide, so best under nextest or `--test-threads=1`) |
///
/// `flavor`, `worker_threads`, `start_paused`, `crate`, `unhandled_panic`
/// and `name` configure the runtime, so they apply only to an `async fn`;
/// `grace`, `ignore`, `threads` and `taskleak` configure the check and
/// apply to a plain `fn` too.
///
/// ```no_run
/// #[taskleak::leak_check(flavor = "multi_thread", worker_threads = 2, grace = "1s")]
/// async fn a_busy_server() {
///     // ...
/// }
///
/// #[taskleak::leak_check(start_paused = true)]
/// async fn a_timer_fires() {
///     let timer = tokio::spawn(tokio::time::sleep(std::time::Duration::from_secs(60)));
///     tokio::time::advance(std::time::Duration::from_secs(61)).await;
///     timer.await.unwrap();
/// }
///
/// #[taskleak::leak_check(ignore = ["my_crate::metrics"])]
/// async fn the_metrics_task_may_stay() {
///     // ...
/// }
/// ```
///
/// Mistakes are compile errors on the offending token, with what to write
/// instead: an unknown argument, a duration without a unit, `worker_threads`
/// without `flavor = "multi_thread"`, `start_paused` with it, an `ignore`
/// pattern that is neither a path nor a file, a runtime argument on a plain
/// `fn`, a second `#[leak_check]`, or `#[tokio::test]` beside it.
///
/// # Results and panics
///
/// A test may return `Result<T, E>` as with `#[tokio::test]`: an `Err` fails
/// it, and leaks are reported too. When the body panics (a failed
/// assertion), the test fails with that panic's message first; survivors are
/// still reported after it, and the process never aborts from a double
/// panic.
///
/// ```no_run
/// #[taskleak::leak_check]
/// async fn reads_the_config() -> Result<(), std::io::Error> {
///     let text = tokio::fs::read_to_string("Cargo.toml").await?;
///     assert!(text.contains("[package]"));
///     Ok(())
/// }
/// ```
///
/// # On a plain `fn`
///
/// No runtime is built: the body runs inside a leak-check scope, so tasks it
/// spawns on any runtime built with `taskleak::BuilderExt::track_tasks` are
/// checked when it returns. It takes only the arguments of the check,
/// `grace`, `ignore`, `threads` and `taskleak`: a runtime argument would
/// have no runtime to configure, so it is a compile error.
///
/// ```no_run
/// use taskleak::BuilderExt;
///
/// #[taskleak::leak_check(grace = "100ms")]
/// fn spawns_on_its_own_runtime() {
///     let rt = tokio::runtime::Builder::new_multi_thread()
///         .enable_all()
///         .track_tasks()
///         .build()
///         .unwrap();
///     rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
/// }
/// ```
///
/// # With other test attributes
///
/// `#[leak_check]` adds `#[test]` itself, unless the function already has a
/// test attribute below it (any path ending in `test`, `#[rstest]`,
/// `#[test_case]`). It works with:
///
/// - **rstest**: `#[rstest]` above, and for an `async fn` tell rstest which
///   test attribute to use: `#[rstest] #[case(1)] #[test_attr(taskleak::leak_check)] async fn t(#[case] n: u32)`.
///   Also `#[taskleak::leak_check] #[rstest] async fn ...` (leak_check above
///   rstest) and, on a plain `fn`, `#[rstest] #[taskleak::leak_check] fn ...`.
/// - **test-log**: `#[test_log::test] #[taskleak::leak_check]`,
///   `#[taskleak::leak_check] #[test_log::test]`, or
///   `#[test_log::test(taskleak::leak_check)]`.
/// - **serial_test**: `#[serial]` above or below `#[taskleak::leak_check]`.
///
/// Never with `#[tokio::test]`, which it replaces: that is a compile error.
#[proc_macro_attribute]
pub fn leak_check(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::leak_check(args.into(), item.into()).into()
}
