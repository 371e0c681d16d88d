//! "Stuck in": a task dump's backtraces, reduced to the user's async frames
//! and the tokio future they wait on.

use crate::task::Frame;
use crate::task::frame::{is_user_function, without_closures};

/// One place a leaked task is suspended: the user's async frames, outermost
/// first, and the tokio leaf future they await.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suspension {
    pub(crate) user: Vec<String>,
    pub(crate) leaf: Option<String>,
    /// Where the innermost user frame waits.
    pub(crate) at: Option<String>,
    /// The leaf is a tokio timer (`Sleep`, `Interval`, `Timeout`): the
    /// task may end on its own when it fires.
    pub(crate) timer: bool,
}

impl Suspension {
    /// `server::run → TcpListener::accept`.
    pub(crate) fn path(&self) -> String {
        let mut parts = self.user.clone();
        parts.extend(self.leaf.clone());
        parts.join(" → ")
    }
}

/// Reduces one dump backtrace (innermost frame first).
pub(crate) fn suspension(frames: &[Frame]) -> Suspension {
    let first_user = frames.iter().position(|f| is_user_function(f.function()));
    let (below, user_frames) = frames.split_at(first_user.unwrap_or(frames.len()));
    let leaf_frame = below
        .iter()
        .rev()
        .find(|f| tokio_api(f.function()).is_some());
    let leaf = leaf_frame.and_then(|f| tokio_api(f.function()));
    let timer = leaf_frame.is_some_and(|f| subject(f.function()).starts_with("tokio::time::"));
    let mut user: Vec<String> = Vec::new();
    for f in user_frames
        .iter()
        .filter(|f| is_user_function(f.function()))
    {
        let name = short_user(f.function());
        if user.last() != Some(&name) {
            user.push(name);
        }
    }
    let at = user_frames
        .iter()
        .find(|f| is_user_function(f.function()))
        .and_then(|f| Some(format!("{}:{}", f.file()?, f.line()?)));
    user.reverse();
    Suspension {
        user,
        leaf,
        at,
        timer,
    }
}

/// The path a method belongs to: `X` of `<X as Trait>::f`, else the name.
fn subject(name: &str) -> &str {
    match name.strip_prefix('<') {
        Some(rest) => rest.split(" as ").next().unwrap_or(rest),
        None => name,
    }
}

/// `tokio::net::tcp::listener::TcpListener::accept::{{closure}}` →
/// `TcpListener::accept`; `<tokio::sync::oneshot::Receiver<T> as
/// core::future::future::Future>::poll` → `oneshot::Receiver`. Internal
/// plumbing (`tokio::runtime::…`, the tracing hook) is skipped.
fn tokio_api(name: &str) -> Option<String> {
    let path = strip_generics(subject(name));
    let path = path.trim_end_matches("::{{closure}}");
    if !path.starts_with("tokio::") || path.starts_with("tokio::runtime::") {
        return None;
    }
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let tail = &segments[segments.len().saturating_sub(2)..];
    Some(tail.join("::"))
}

/// `my_app::serve::{{closure}}` → `my_app::serve`; `<my_app::Server<T> as
/// core::future::future::Future>::poll` → `my_app::Server::poll` (a name,
/// not `::poll`).
fn short_user(name: &str) -> String {
    let method = match name.strip_prefix('<') {
        Some(rest) => rest.rsplit_once(">::").map(|(_, m)| m),
        None => None,
    };
    let s = match method {
        Some(m) => format!("{}::{m}", strip_generics(subject(name))),
        None => strip_generics(name),
    };
    without_closures(&s).to_owned()
}

fn strip_generics(s: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> Frame {
        Frame::new(name.to_owned(), None, None)
    }

    #[test]
    fn user_frames_then_the_tokio_future_they_wait_on() {
        let frames = [
            frame("tokio::runtime::task::trace::trace_leaf"),
            frame("tokio::runtime::io::registration::Registration::poll_ready"),
            frame("tokio::net::tcp::listener::TcpListener::accept::{{closure}}"),
            frame("my_app::serve::{{closure}}"),
            frame("my_app::run::{{closure}}"),
            frame("tokio::runtime::task::core::Core<T,S>::poll"),
        ];
        let s = suspension(&frames);
        assert_eq!(
            s.path(),
            "my_app::run → my_app::serve → TcpListener::accept"
        );
    }

    #[test]
    fn a_users_trait_impl_is_named_by_its_type_and_method() {
        let frames = [
            frame("tokio::runtime::task::trace::trace_leaf"),
            frame("<tokio::sync::notify::Notified as core::future::future::Future>::poll"),
            frame("<myapp::Conn<T> as core::future::future::Future>::poll"),
            frame("myapp::Server::start::{{closure}}"),
            frame("<myapp::Server as core::future::future::Future>::poll"),
            frame("tokio::runtime::task::core::Core<T,S>::poll"),
        ];
        let s = suspension(&frames);
        assert_eq!(
            s.path(),
            "myapp::Server::poll → myapp::Server::start → myapp::Conn::poll → notify::Notified"
        );
        assert!(!s.timer);
    }

    #[test]
    fn a_tokio_timer_leaf_is_known_as_one() {
        let frames = [
            frame("tokio::runtime::task::trace::trace_leaf"),
            frame("<tokio::time::sleep::Sleep as core::future::future::Future>::poll"),
            frame("myapp::nap::{{closure}}"),
        ];
        let s = suspension(&frames);
        assert_eq!(s.path(), "myapp::nap → sleep::Sleep");
        assert!(s.timer);
    }

    #[test]
    fn a_trait_impl_leaf_is_named_by_its_type() {
        assert_eq!(
            tokio_api("<tokio::sync::oneshot::Receiver<T> as core::future::future::Future>::poll")
                .as_deref(),
            Some("oneshot::Receiver")
        );
        assert_eq!(tokio_api("tokio::runtime::task::trace::trace_leaf"), None);
    }
}
