//! Growth checks: a per-request leak behind a server fixture on a shared
//! (static) runtime is caught with its site and slope; a pool that fills
//! to a bound, fixed workers and tasks that end a little late pass; a
//! growth check and an exact check in one test disturb neither.
//!
//! A growth check counts every tracked task of the process, so the tests
//! of this file run one at a time (`serial_test`): a test leaking in
//! parallel would be another's growth (docs/growth.md).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serial_test::serial;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

static RT: LazyLock<Runtime> = LazyLock::new(common::multi_thread);

/// The line of the fixture's per-request leak.
const LEAK_LINE: u32 = line!() + 19;

/// A server on the shared runtime, started once: `leak` leaves one task
/// per request behind, `ping` leaves none.
static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    RT.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let forever = Arc::new(tokio::sync::Notify::new());
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let forever = forever.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line == "leak" {
                            let forever = forever.clone();
                            tokio::spawn(async move { forever.notified().await });
                        }
                        let _ = write.write_all(b"ok\n").await;
                    }
                });
            }
        });
        addr
    })
});

/// One request on a connection of its own, answered before it returns.
fn request(what: &str) {
    let addr = *SERVER;
    RT.block_on(async {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(format!("{what}\n").as_bytes())
            .await
            .unwrap();
        let mut reply = String::new();
        BufReader::new(&mut conn)
            .read_line(&mut reply)
            .await
            .unwrap();
        assert_eq!(reply, "ok\n");
    });
}

fn growth() -> taskleak::Growth {
    let _ = *SERVER; // started before the check: its tasks are no round's
    taskleak::Options::new()
        .grace(Duration::from_millis(300))
        .growth()
}

#[test]
#[serial]
fn a_per_request_leak_behind_a_shared_server_is_caught_with_its_site_and_slope() {
    let growth = growth();
    for _ in 0..40 {
        request("leak");
        growth.round();
    }
    let growing = growth.check().unwrap_err();
    let sites = growing.sites();
    assert_eq!(sites.len(), 1, "{growing}");
    let site = &sites[0];
    assert!(site.spawned_at().file().ends_with("growth.rs"), "{growing}");
    assert_eq!(site.spawned_at().line(), LEAK_LINE, "{growing}");
    assert!((site.per_round() - 1.0).abs() < 0.01, "{growing}");
    assert_eq!(site.last() - site.first(), 40, "{growing}");
    assert_eq!(site.rounds(), 40);
    let text = growing.to_string();
    let line = format!("tests/growth.rs:{LEAK_LINE}:29 — +1 task a round: ");
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("over 40 rounds"), "{text}");
    // The newest of them, with their spawn chain, as a leak report shows.
    assert!(!growing.tasks().is_empty(), "{text}");
    assert!(text.contains("spawn chain:"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&growing.to_json()).unwrap();
    assert_eq!(json["kind"], "growth");
    assert_eq!(json["growth"]["sites"][0]["line"], LEAK_LINE);
}

/// With the `metrics` feature, the report adds the runtimes' own figures
/// over the run (tokio-metrics), so a starved runtime reads differently
/// from a leak. (`.ci/run` runs this file with the feature on.)
#[cfg(feature = "metrics")]
#[test]
#[serial]
fn with_the_metrics_feature_the_report_has_the_runtimes_figures() {
    let growth = growth();
    for _ in 0..20 {
        request("leak");
        growth.round();
    }
    let text = growth.check().unwrap_err().to_string();
    assert!(
        text.contains("the runtimes over the run (tokio-metrics):"),
        "{text}"
    );
    assert!(
        text.contains("multi-thread runtime") || text.contains("runtime, "),
        "{text}"
    );
    assert!(
        text.contains("live tasks ") && text.contains("busy "),
        "{text}"
    );
}

#[test]
#[serial]
fn requests_that_leave_nothing_pass() {
    let growth = growth();
    for _ in 0..40 {
        request("ping");
        growth.round();
    }
    growth.check().unwrap();
}

#[test]
#[serial]
fn a_pool_that_fills_to_its_bound_passes() {
    let pool = Arc::new(parking_lot_free::Pool::default());
    let growth = growth();
    for _ in 0..40 {
        pool.checkout(&RT, 5);
        growth.round();
    }
    growth.check().unwrap();
    assert_eq!(pool.size(), 5);
}

#[test]
#[serial]
fn fixed_background_workers_pass() {
    let stop = Arc::new(tokio::sync::Notify::new());
    let growth = growth();
    for round in 0..40 {
        if round == 0 {
            for _ in 0..3 {
                let stop = stop.clone();
                RT.spawn(async move { stop.notified().await });
            }
        }
        request("ping");
        growth.round();
    }
    growth.check().unwrap();
    stop.notify_waiters();
}

/// Each round's task ends 100 ms after it started: while the rounds run
/// (a few ms each) they pile up, and the settle wait sees them end.
#[test]
#[serial]
fn tasks_that_end_a_little_late_pass() {
    let growth = growth();
    for _ in 0..40 {
        RT.spawn(async { tokio::time::sleep(Duration::from_millis(100)).await });
        growth.round();
    }
    growth.check().unwrap();
}

/// An exact check around each request and a growth check around them all,
/// in one test: each gives its own verdict.
#[test]
#[serial]
fn a_growth_check_beside_an_exact_check_disturbs_neither() {
    let growth = growth();
    for round in 0..30 {
        let exact = common::quick().verify_none();
        request("leak"); // the server's task: no scope's
        if round == 0 {
            RT.spawn(common::forever()); // this test's own leak, once
        }
        let verdict = exact.check();
        if round == 0 {
            assert_eq!(verdict.unwrap_err().tasks().len(), 1);
        } else {
            verdict.unwrap();
        }
        growth.round();
    }
    let growing = growth.check().unwrap_err();
    assert_eq!(growing.sites().len(), 1, "{growing}");
    assert_eq!(growing.sites()[0].spawned_at().line(), LEAK_LINE);
}

#[test]
#[serial]
#[should_panic(expected = "a growth check needs at least 4 rounds")]
fn too_few_rounds_is_a_mistake_said_so() {
    let growth = growth();
    growth.round();
    let _ = growth.check();
}

/// The helper: N rounds of an async closure, then the check.
#[test]
#[serial]
fn check_growth_runs_the_rounds_and_checks() {
    let _ = *SERVER;
    let forever = Arc::new(tokio::sync::Notify::new());
    let growing = RT
        .block_on(taskleak::check_growth(20, |_| {
            let forever = forever.clone();
            async move {
                tokio::spawn(async move { forever.notified().await });
            }
        }))
        .unwrap_err();
    assert_eq!(growing.sites()[0].last() - growing.sites()[0].first(), 20);
    forever.notify_waiters();
}

/// A dropped guard fails the test with the report, through the same
/// outputs as a leak report: the panic message, a GitHub annotation at
/// the site, the JSON file in TASKLEAK_REPORT_DIR.
#[test]
fn a_dropped_growth_guard_fails_through_every_output() {
    let dir = std::env::temp_dir().join(format!("taskleak-growth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (out, text) = common::run_fixture(
        "fixture_dropped_growth_guard",
        &[
            ("GITHUB_ACTIONS", "true"),
            ("TASKLEAK_REPORT_DIR", dir.to_str().unwrap()),
        ],
    );
    assert!(!out.status.success(), "{text}");
    let annotation = format!(
        "::error file=tests/growth.rs,line={LEAK_LINE},col=29,title=taskleak%3A live tasks grow with the rounds::"
    );
    assert!(text.contains(&annotation), "{text}");
    assert!(text.contains("+1 task a round"), "{text}");
    let json = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "json") && !p.ends_with("taskleak-summary.json")
        })
        .map(|p| std::fs::read_to_string(p).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let json: serde_json::Value = serde_json::from_str(&json.expect("a JSON report")).unwrap();
    assert_eq!(json["kind"], "growth");
}

#[test]
#[ignore = "a fixture: run by a_dropped_growth_guard_fails_through_every_output"]
fn fixture_dropped_growth_guard() {
    let growth = growth();
    for _ in 0..10 {
        request("leak");
        growth.round();
    }
}

/// A pool without a lock crate: checks a worker out, starting one while
/// fewer than `bound` run.
mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Pool {
        workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    }

    impl Pool {
        pub fn checkout(&self, rt: &tokio::runtime::Runtime, bound: usize) {
            let mut workers = self.workers.lock().unwrap();
            if workers.len() < bound {
                workers.push(rt.spawn(std::future::pending()));
            }
        }

        pub fn size(&self) -> usize {
            self.workers.lock().unwrap().len()
        }
    }

    impl Drop for Pool {
        fn drop(&mut self) {
            for w in self.workers.lock().unwrap().iter() {
                w.abort();
            }
        }
    }
}

/// The watch: a baseline after warm-up, then a warning naming the site
/// whose tasks pile up, once the live count passes the factor; its own
/// sampler (a thread) is never counted.
#[test]
#[serial]
fn a_watch_names_the_site_that_piles_up() {
    let _ = *SERVER;
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let watching = taskleak::Watch::new()
        .every(Duration::from_millis(5))
        .warm_up(Duration::ZERO)
        .factor(2.0)
        .min_live(10)
        .on_growth(move |g| {
            let _ = tx.lock().unwrap().send(g.sites().to_vec());
        })
        .start();
    std::thread::sleep(Duration::from_millis(20)); // the baseline is taken
    let pile_line = line!() + 3;
    let mut pile = Vec::new();
    for _ in 0..1000 {
        pile.push(RT.spawn(common::forever()));
        if pile.len() % 10 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let sites = rx.recv_timeout(Duration::from_secs(20)).expect("a warning");
    drop(watching);
    for t in &pile {
        t.abort();
    }
    assert!(
        sites.iter().any(|s| s.spawned_at().line() == pile_line),
        "{sites:?}"
    );
}
