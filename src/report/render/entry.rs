//! One entry of a report: a task (or a group of identical ones), where it
//! came from, its spawn chain and frames, and what it is doing.

use std::fmt::{self, Formatter};
use std::time::Duration;

use super::{CHAIN_HEAD, CHAIN_TAIL, MAX_FRAMES_SHOWN, MAX_IDS_SHOWN, site};
use crate::capture::registry::MAX_CHAIN;
use crate::report::color::Palette;
use crate::report::{LeakedTask, Leaks};
use crate::task::{Kind, Verdict};
use crate::util::escape::Term;
use crate::util::{human, plural};

pub(super) fn entry(
    f: &mut Formatter<'_>,
    p: Palette,
    n: usize,
    group: &[&LeakedTask],
    leaks: &Leaks,
) -> fmt::Result {
    let first = group[0];
    let dumped = leaks.dumped;
    let root = if leaks.suite_end {
        "outside any task and any checked scope (a thread, or a static's initialiser)"
    } else {
        "the test body (outside any task)"
    };
    let (kind, kinds) = match first.kind() {
        Kind::Task => ("task", "tasks"),
        Kind::Blocking => (
            "blocking task (spawn_blocking)",
            "blocking tasks (spawn_blocking)",
        ),
        Kind::Local => ("local task (LocalSet)", "local tasks (LocalSet)"),
    };
    if group.len() == 1 {
        writeln!(
            f,
            "  {} alive {}",
            p.strong(format_args!("{n}. {kind} {},", first.id)),
            human(first.age)
        )?;
    } else {
        let mut ids: Vec<String> = group
            .iter()
            .take(MAX_IDS_SHOWN)
            .map(|t| t.id.to_string())
            .collect();
        if group.len() > MAX_IDS_SHOWN {
            ids.push("…".into());
        }
        let youngest = group.iter().map(|t| t.age).min().unwrap_or_default();
        let oldest = group.iter().map(|t| t.age).max().unwrap_or_default();
        let ages = if human(youngest) == human(oldest) {
            human(oldest)
        } else {
            format!("{} to {}", human(youngest), human(oldest))
        };
        writeln!(
            f,
            "  {} (ids {}), alive {ages}",
            p.strong(format_args!("{n}. {} identical {kinds}", group.len())),
            ids.join(", "),
        )?;
    }
    writeln!(f, "     spawned at {}", site(first.spawned_at))?;
    if let Some(at) = &first.reached_from {
        let line = at.line().map(|l| format!(":{l}")).unwrap_or_default();
        let file = at.file().unwrap_or("?");
        writeln!(
            f,
            "     reached from {}{line} ({})",
            Term(file),
            p.user(Term(at.function()))
        )?;
    }
    let running;
    let root = if let Some(test) = &first.after_check {
        running = format!(
            "a test whose check had run before this task was spawned ({test}): a task it left \
             running spawned it"
        );
        &running
    } else if let Some(test) = first.unchecked_test.as_ref().filter(|_| leaks.suite_end) {
        running = format!(
            "the test body of `{}` (outside any task), whose check never ran: the process \
             exited while that test was running (std::process::exit in a test?), so the task \
             is that test's",
            Term(test)
        );
        &running
    } else if first.running.is_empty() {
        root
    } else {
        running = format!(
            "a plain spawn_blocking closure, spawned while these tests ran: {}",
            Term(first.running.join(", "))
        );
        &running
    };

    // The chain, innermost first, ending where the root task came from.
    if first.chain.is_empty() && !first.chain_cut {
        writeln!(f, "     from {root}")?;
    } else {
        writeln!(f, "     spawn chain:")?;
        writeln!(
            f,
            "       this task     spawned at {}",
            site(first.spawned_at)
        )?;
        // A long chain keeps its two ends: who spawned this task, and how
        // the chain began; the middle is a count.
        let chain = &first.chain;
        let (head, tail) = if chain.len() > CHAIN_HEAD + CHAIN_TAIL + 1 {
            (CHAIN_HEAD, CHAIN_TAIL)
        } else {
            (chain.len(), 0)
        };
        for site in chain[..head].iter().chain(&chain[chain.len() - tail..]) {
            if tail > 0 && std::ptr::eq(site, &chain[chain.len() - tail]) {
                writeln!(f, "       ← … {} more spawns …", chain.len() - head - tail)?;
            }
            writeln!(
                f,
                "       ← by task {:<4} spawned at {}",
                site.task,
                super::site(site.location)
            )?;
        }
        if first.chain_cut {
            writeln!(f, "       ← … (chain cut: deeper than {MAX_CHAIN} spawns)")?;
        } else {
            writeln!(f, "       ← from {root}")?;
        }
    }

    if first.activity_lost {
        writeln!(
            f,
            "     activity: unknown (lost: more tasks were alive at once than taskleak's \
             activity table holds near this id, and a newer one took its place)"
        )?;
    }
    if let Some(a) = &first.activity {
        let verdict = match a.verdict() {
            Verdict::Idle => p.dim("idle").to_string(),
            Verdict::Busy => p.alarm("busy").to_string(),
            Verdict::NeverPolled => p.warn("never polled").to_string(),
        };
        write!(f, "     activity: {verdict}")?;
        match (a.verdict(), a.in_poll_for) {
            (Verdict::NeverPolled, _) => {
                writeln!(f, " (its runtime never ran it: blocked, or shut down?)")?
            }
            (Verdict::Busy, Some(d)) if d > Duration::from_millis(10) => writeln!(
                f,
                " · inside one poll for {} (blocking code in async?)",
                human(d)
            )?,
            (Verdict::Idle, _) if a.period().is_some() => writeln!(
                f,
                " between wake-ups · wakes periodically, about every {} ({} in {}), {} in polls",
                human(a.period().unwrap_or_default()),
                plural(a.polls as usize, "poll"),
                human(a.age),
                human(a.busy),
            )?,
            (verdict, _) => {
                write!(
                    f,
                    " · {}, last {} ago, {} in polls",
                    plural(a.polls as usize, "poll"),
                    human(a.last_poll_ago.unwrap_or_default()),
                    human(a.busy),
                )?;
                if verdict == Verdict::Busy {
                    write!(f, " (polled continually: a loop that keeps waking itself?)")?;
                }
                writeln!(f)?;
            }
        }
    }

    match &first.stuck_in {
        Some(places) if places.is_empty() => writeln!(
            f,
            "     stuck in: no trace point: it waits on a future tokio's task dump cannot see \
             (std::future::pending(), a std or futures channel, a hand-written future, or \
             tokio I/O readiness such as TcpListener::accept)"
        )?,
        Some(places) => {
            for place in places {
                write!(f, "     stuck in: ")?;
                for (i, frame) in place.user.iter().enumerate() {
                    if i > 0 {
                        write!(f, " → ")?;
                    }
                    write!(f, "{}", p.user(Term(frame)))?;
                }
                if let Some(leaf) = &place.leaf {
                    let sep = if place.user.is_empty() { "" } else { " → " };
                    write!(f, "{sep}{}", Term(leaf))?;
                }
                match &place.at {
                    Some(at) => writeln!(f, "  {}", p.dim(format_args!("at {}", Term(at))))?,
                    None => writeln!(f)?,
                }
            }
            // Not when the check blocked the runtime: no grace helps then.
            if places.iter().any(|place| place.timer) && !leaks.blocked_runtime {
                writeln!(
                    f,
                    "     (a tokio timer: if it ends the task after the grace, the grace is \
                     too short for this test, not a leak: raise it, e.g. \
                     #[leak_check(grace = \"5s\")] or TASKLEAK_GRACE=5s)"
                )?;
            }
        }
        None if dumped => match &first.not_dumped {
            Some(why) => writeln!(f, "     stuck in: unknown ({})", Term(why))?,
            None => writeln!(f, "     stuck in: unknown (no task dump holds it)")?,
        },
        None => {}
    }

    if !first.backtrace.is_empty() {
        writeln!(f, "     backtrace (your frames, spawn call first):")?;
        let width = first
            .backtrace
            .iter()
            .take(MAX_FRAMES_SHOWN)
            .map(|fr| fr.function().chars().count())
            .max()
            .unwrap_or(0);
        for frame in first.backtrace.iter().take(MAX_FRAMES_SHOWN) {
            let pad = width - frame.function().chars().count();
            write!(f, "       {}{:pad$}", p.user(Term(frame.function())), "")?;
            match (frame.file(), frame.line()) {
                (Some(file), Some(line)) => writeln!(f, "  at {}:{line}", Term(file))?,
                (Some(file), None) => writeln!(f, "  at {}", Term(file))?,
                _ => writeln!(f)?,
            }
        }
        let more = first.backtrace.len().saturating_sub(MAX_FRAMES_SHOWN);
        if more > 0 {
            writeln!(f, "       … {more} more")?;
        }
    }
    Ok(())
}
