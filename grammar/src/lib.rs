//! The grammar of taskleak's settings: durations (`"250ms"`) and ignore
//! patterns (`"my_crate::worker"`, `"src/pool.rs:42"`).
//!
//! The `taskleak` library and its `#[leak_check]` attribute both parse with
//! this crate, so a string is accepted or refused the same way, with the
//! same message, wherever it is written: `#[leak_check(grace = "..")]`,
//! `TASKLEAK_GRACE`, `taskleak::configure!`, `Options::ignore`.
//!
//! ```
//! use std::time::Duration;
//! use taskleak_grammar::{Pattern, parse_duration, parse_pattern};
//!
//! assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
//! assert_eq!(
//!     parse_pattern("my::Pool<M>::new").unwrap(),
//!     Pattern::Path("my::Pool::new".into()),
//! );
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod duration;
mod pattern;

pub use duration::{DURATION_FORMS, DurationError, parse_duration};
pub use pattern::{Pattern, PatternError, parse_pattern, strip_generics};
