//! The config file, `.config/taskleak.toml`: settings without code, so
//! they work in crates that `forbid(unsafe_code)` (which `configure!`'s
//! constructor cannot).
//!
//! Found at run time the way cargo-nextest and rustfmt find theirs, from
//! `CARGO_MANIFEST_DIR` (which `cargo test` and `cargo nextest run` set for
//! test processes; else the working directory, which both set to the
//! package): the package's own `.config/taskleak.toml` if it has one, else
//! the workspace root's. The nearer file is used alone, not merged. The
//! baseline (`TASKLEAK=record`) lives beside it, in the same `.config/`.
//!
//! ```toml
//! grace = "1s"
//! ignore = ["hyper_util::client::legacy::pool", "src/telemetry.rs"]
//! mode = "fail"          # fail, warn, off
//! backtrace = "full"     # full, short, off
//! suite_gate = true
//! ```

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::duration;
use super::error::{ConfigError, Problem, Source};
use super::ignore::{Ignore, Origin};
use super::layer::Layer;
use super::values::{self, BACKTRACES, MODES};

/// The file's name inside `.config/`.
pub(crate) const FILE_NAME: &str = "taskleak.toml";

/// The keys the file accepts, for error messages.
const KEYS: &str = "grace, ignore, mode, backtrace, suite_gate";

/// Where taskleak looks for its files in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Places {
    /// The config file, if there is one.
    pub(crate) config: Option<PathBuf>,
    /// The `.config` directory the config file is in (or would be in: the
    /// workspace root's), where the baseline goes.
    pub(crate) dir: PathBuf,
}

/// Finds the config directory from `CARGO_MANIFEST_DIR`, else the working
/// directory.
pub(crate) fn places() -> Places {
    places_from(&package())
}

/// The package under test: `CARGO_MANIFEST_DIR`, else the working
/// directory.
pub(crate) fn package() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default()
}

/// The package's own `.config/taskleak.toml`, else the workspace root's.
pub(crate) fn places_from(package: &Path) -> Places {
    let root = workspace_root(package);
    for dir in [package, root.as_path()] {
        let file = dir.join(".config").join(FILE_NAME);
        // Anything by that name, not only a file: a directory or a
        // dangling link there is an error `load` names, not silence.
        if file.symlink_metadata().is_ok() {
            return Places {
                config: Some(file),
                dir: dir.join(".config"),
            };
        }
    }
    Places {
        config: None,
        dir: root.join(".config"),
    }
}

/// The nearest directory at or above `package` whose `Cargo.toml` has a
/// `[workspace]` table (as cargo finds it); `package` itself if none does.
pub(crate) fn workspace_root(package: &Path) -> PathBuf {
    for dir in package.ancestors() {
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        if declares_workspace(&text) {
            return dir.to_path_buf();
        }
    }
    package.to_path_buf()
}

/// Does this manifest have a `workspace` table (see [`manifest_has`])?
fn declares_workspace(text: &str) -> bool {
    manifest_has(text, "workspace")
}

/// Does this manifest (a `Cargo.toml`) have a top-level `key` (a table
/// such as `package` or `workspace`)? Decided from its lines where they
/// decide it: a `[key]` or `[key.…]` header, or a bare `key = …` or
/// `key.… = …` line before the first header, says yes; no line that could
/// open one says no. Only a line that might (a quoted header, say) has the
/// manifest parsed. A member's manifest names `workspace` only inside
/// tables (`version.workspace = true`, `[lints] workspace = true`): the
/// TOML parser, unoptimised in a test build, was ~0.3 ms of every test
/// process (tokio-util's `time_delay_queue`), and every ledger asks
/// whether the run's manifest has a package.
pub(crate) fn manifest_has(text: &str, key: &str) -> bool {
    // Does `rest` (what follows `key`) end a name there?
    let ends = |rest: &str, at_top: bool| match rest.trim_start_matches([' ', '\t']).chars().next()
    {
        Some(']' | '.') => true,
        Some('=') => at_top,
        _ => false,
    };
    // A line inside a multi-line string is no header: parse those.
    if text.contains("\"\"\"") || text.contains("\'\'\'") {
        return DeTable::parse(text).is_ok_and(|t| t.get_ref().get(key).is_some());
    }
    let (mut top_level, mut maybe) = (true, false);
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(header) = line.strip_prefix('[') {
            top_level = false;
            let name = header.trim_start_matches(['[', ' ', '\t']);
            if let Some(rest) = name.strip_prefix(key)
                && ends(rest, false)
            {
                return true;
            }
            maybe |= name.trim_start_matches(['"', '\'']).starts_with(key);
        } else if top_level {
            if let Some(rest) = line.strip_prefix(key)
                && ends(rest, true)
            {
                return true;
            }
            maybe |= line.trim_start_matches(['"', '\'']).starts_with(key);
        }
    }
    maybe && DeTable::parse(text).is_ok_and(|t| t.get_ref().get(key).is_some())
}

/// Reads and checks the file at `path`.
pub(crate) fn load(path: &Path) -> Result<Layer, ConfigError> {
    let name = path.display().to_string();
    let error = |line, message| {
        ConfigError::new(
            Source::File(name.clone()),
            vec![Problem::new(line, "", message)],
        )
    };
    if path.is_dir() {
        return Err(error(
            None,
            format!(
                "{name} is a directory; taskleak reads its settings from a file by that name \
                 (see taskleak's docs/config.md): remove the directory or make it a file"
            ),
        ));
    }
    if !path.exists() {
        let to = std::fs::read_link(path).map_or_else(|_| "?".into(), |t| t.display().to_string());
        return Err(error(
            None,
            format!(
                "{name} is a symbolic link to {to}, which does not exist: \
                 point it at the settings file, or remove it"
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| error(None, format!("cannot read {name}: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        error(
            Some(line),
            "not valid UTF-8; save the file as UTF-8".to_string(),
        )
    })?;
    parse(&text, &name)
}

/// `"fail", "warn", "off"`: a list of choices as TOML strings.
fn quoted(choices: &str) -> String {
    let words = choices
        .split(", ")
        .map(|w| w.split(' ').next().unwrap_or(w));
    words
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses the file's text; `name` is how errors name the file.
pub(crate) fn parse(text: &str, name: &str) -> Result<Layer, ConfigError> {
    let source = || Source::File(name.to_owned());
    let starts = line_starts(text);
    let line = |span: std::ops::Range<usize>| line_of(&starts, span.start);
    let table = DeTable::parse(text).map_err(|e| {
        let message = format!("not valid TOML: {}", e.message().trim());
        let problem = match e.span() {
            Some(span) => Problem::new(Some(line(span)), "", message),
            None => Problem::new(None, "", format!("{name}: {message}")),
        };
        ConfigError::new(source(), vec![problem])
    })?;
    let mut config = Layer::default();
    let mut problems = Vec::new();
    for (key, value) in table.get_ref().iter() {
        let at = line(key.span());
        let v = value.get_ref();
        let k = &**key.get_ref();
        let result = match k {
            "grace" => string(v, "grace", "a duration such as \"250ms\" or \"2s\"").and_then(|s| {
                duration::parse(s)
                    .map(|d| config.grace = Some(d))
                    .map_err(|e| format!("grace = {e}"))
            }),
            "mode" => string(v, "mode", &format!("one of: {}", quoted(MODES))).and_then(|s| {
                values::parse_mode(s)
                    .map(|m| config.mode = Some(m))
                    .map_err(|e| format!("mode = {s:?} {e}"))
            }),
            "backtrace" => string(v, "backtrace", &format!("one of: {}", quoted(BACKTRACES)))
                .and_then(|s| {
                    values::parse_backtraces(s)
                        .map(|b| config.backtraces = Some(b))
                        .map_err(|e| format!("backtrace = {s:?} {e}"))
                }),
            "suite_gate" => match v {
                DeValue::Boolean(b) => {
                    config.suite_gate = Some(*b);
                    Ok(())
                }
                other => Err(format!(
                    "suite_gate = {} is not valid; write true or false",
                    shown(other)
                )),
            },
            "ignore" => ignore(v, name, &line, &mut config.ignore, &mut problems),
            other => Err(format!(
                "unknown key `{other}`; the keys are: {KEYS} (see taskleak's docs/config.md)"
            )),
        };
        if let Err(message) = result {
            problems.push(Problem::new(Some(at), k, message));
        }
    }
    // In the file's order (the parser keeps keys sorted).
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::new(source(), problems))
    }
}

/// `ignore = ["pattern", ...]`: each bad pattern is a problem at its line.
fn ignore(
    v: &DeValue<'_>,
    name: &str,
    line: &dyn Fn(std::ops::Range<usize>) -> usize,
    rules: &mut Vec<Ignore>,
    problems: &mut Vec<Problem>,
) -> Result<(), String> {
    let DeValue::Array(items) = v else {
        return Err(format!(
            "ignore = {} is not valid; write a list of patterns: ignore = [\"my_crate::worker\", \"src/pool.rs:88\"]",
            shown(v)
        ));
    };
    for item in items.iter() {
        let at = line(item.span());
        let problem = |message| Problem::new(Some(at), "ignore", message);
        let Some(pattern) = item.get_ref().as_str() else {
            problems.push(problem(format!(
                "ignore: {} is not a pattern; write a string such as \"my_crate::worker\"",
                shown(item.get_ref())
            )));
            continue;
        };
        // Where the rule was written, for the stale-rule notice; leaked
        // once per rule of a file read once per process.
        let origin = Origin::File(Box::leak(format!("{name}:{at}").into_boxed_str()));
        match Ignore::parse(pattern, origin) {
            Ok(rule) => rules.push(rule),
            Err(e) => problems.push(problem(format!("ignore: {e}"))),
        }
    }
    Ok(())
}

fn string<'a>(v: &'a DeValue<'_>, key: &str, accepted: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{key} = {} is not valid; write {accepted}", shown(v)))
}

/// A value as the user wrote it, roughly, for messages.
fn shown(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("{s:?}"),
        DeValue::Integer(i) => i.as_str().to_string(),
        DeValue::Float(f) => f.as_str().to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(_) => "a list".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// Where each line of `text` starts, found once: a file of 10^5 rules
/// asks for a line per rule.
fn line_starts(text: &str) -> Vec<usize> {
    let after_newlines = text.match_indices('\n').map(|(i, _)| i + 1);
    std::iter::once(0).chain(after_newlines).collect()
}

/// The 1-based line of byte `offset`, from [`line_starts`].
fn line_of(starts: &[usize], offset: usize) -> usize {
    starts.partition_point(|&start| start <= offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::values::{Backtraces, Mode};
    use std::time::Duration;

    #[test]
    fn reads_every_key() {
        let c = parse(
            "grace = \"1.5s\"\nmode = \"warn\"\nbacktrace = \"short\"\nsuite_gate = true\n\
             ignore = [\"my_crate::pool\", \"src/a.rs:3\"]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.grace, Some(Duration::from_millis(1500)));
        assert_eq!(c.mode, Some(Mode::Warn));
        assert_eq!(c.backtraces, Some(Backtraces::Short));
        assert_eq!(c.suite_gate, Some(true));
        assert_eq!(c.ignore.len(), 2);
        let empty = parse("# nothing\n", "t.toml").unwrap();
        assert!(empty.grace.is_none() && empty.ignore.is_empty());
    }

    /// The error is a value a program can read, not only text.
    #[test]
    fn an_error_carries_its_file_line_key_and_choices() {
        let e = parse("grace = \"1s\"\n\nmode = \"maybe\"\n", "cfg/taskleak.toml").unwrap_err();
        assert_eq!(e.source, Source::File("cfg/taskleak.toml".into()));
        let p = &e.problems[0];
        assert_eq!((p.line, p.key.as_str()), (Some(3), "mode"));
        assert_eq!(p.accepted, Some(values::MODES));
    }

    #[test]
    fn errors_name_file_line_and_choices() {
        let e = parse("\n\nmode = \"maybe\"\n", "cfg/taskleak.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "taskleak: cfg/taskleak.toml:3: mode = \"maybe\" is not valid; use one of: fail, warn, off"
        );
        let e = parse("grace = 5\n", "f").unwrap_err().to_string();
        assert_eq!(
            e,
            "taskleak: f:1: grace = 5 is not valid; write a duration such as \"250ms\" or \"2s\""
        );
        let e = parse("grace = \"soon\"\n", "f").unwrap_err().to_string();
        assert!(
            e.starts_with("taskleak: f:1: grace = \"soon\" is not a duration"),
            "{e}"
        );
        let e = parse("graec = \"1s\"\n", "f").unwrap_err().to_string();
        assert!(
            e.starts_with("taskleak: f:1: unknown key `graec`; the keys are: grace, ignore"),
            "{e}"
        );
        let e = parse("ignore = [\n  \"ok::path\",\n  \"a.rs:x\",\n]\n", "f")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("taskleak: f:3: ignore: invalid ignore pattern \"a.rs:x\""),
            "{e}"
        );
        let e = parse("suite_gate = \"yes\"\n", "f")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "taskleak: f:1: suite_gate = \"yes\" is not valid; write true or false"
        );
        let e = parse("grace = \n", "f").unwrap_err().to_string();
        assert!(e.starts_with("taskleak: f:1: not valid TOML"), "{e}");
        // Every error, not only the first, in the file's order.
        let e = parse(
            "mode = \"x\"\nbacktrace = \"y\"\nignore = [\"a.rs:x\"]\n",
            "f",
        )
        .unwrap_err()
        .to_string();
        let lines: Vec<&str> = e.lines().map(|l| &l[..14]).collect();
        assert_eq!(
            lines,
            ["taskleak: f:1:", "taskleak: f:2:", "taskleak: f:3:"],
            "{e}"
        );
    }

    #[test]
    fn a_workspace_table_is_found_however_it_is_written() {
        for (manifest, declares) in [
            ("[workspace]\nmembers = [\"a\"]\n", true),
            ("[package]\nname = \"a\"\n\n[workspace]\n", true),
            ("[ workspace ]\n", true),
            ("[\"workspace\"]\n", true),
            ("[workspace.package]\nversion = \"1.0.0\"\n", true),
            (
                "workspace.members = [\"a\"]\n[package]\nname = \"b\"\n",
                true,
            ),
            ("workspace = { members = [] }\n", true),
            ("[package]\nname = \"a\"\nversion.workspace = true\n", false),
            (
                "[package]\nname = \"a\"\n[lints]\nworkspace = true\n",
                false,
            ),
            ("[package]\nname = \"a\"\nworkspace = \"..\"\n", false),
            ("[workspaces]\n", false),
            ("# [workspace]\n[package]\nname = \"a\"\n", false),
            ("[ workspace ]\nmembers = []\n", true),
            ("[\"workspace\"]\nmembers = []\n", true),
            ("[workspace.package]\nversion = \"1\"\n", true),
            (
                "[package]\ndescription = \"\"\"\n[workspace]\n\"\"\"\n",
                false,
            ),
        ] {
            let parsed =
                DeTable::parse(manifest).is_ok_and(|t| t.get_ref().get("workspace").is_some());
            assert_eq!(parsed, declares, "the parser on {manifest:?}");
            assert_eq!(declares_workspace(manifest), declares, "{manifest:?}");
        }
    }

    /// A manifest's package, read from its lines where they decide it,
    /// agrees with the parser.
    #[test]
    fn tells_a_package_manifest_from_a_virtual_one() {
        for manifest in [
            "[workspace]\nmembers = [\"a\"]\n",
            "[package]\nname = \"a\"\n",
            "package.name = \"a\"\n",
            "package = { name = \"a\" }\n",
            "[package.metadata.x]\ny = 1\n",
            "[[package]]\nname = \"a\"\n",
            "[\"package\"]\nname = \"a\"\n",
            "[packages]\n",
            "[workspace]\n[workspace.metadata]\npackage = 1\n",
            "# [package]\n[workspace]\n",
            "[workspace]\nx = \"\"\"\n[package]\n\"\"\"\n",
        ] {
            let parsed =
                DeTable::parse(manifest).is_ok_and(|t| t.get_ref().get("package").is_some());
            assert_eq!(manifest_has(manifest, "package"), parsed, "{manifest:?}");
        }
    }

    #[test]
    fn finds_the_package_file_then_the_workspace_root() {
        let tmp = std::env::temp_dir().join(format!("taskleak-places-{}", std::process::id()));
        let member = tmp.join("crates").join("member");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(
            tmp.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n",
        )
        .unwrap();
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"member\"\n").unwrap();
        // No file anywhere: the baseline would go to the root's .config.
        assert_eq!(
            places_from(&member),
            Places {
                config: None,
                dir: tmp.join(".config")
            }
        );
        std::fs::create_dir_all(tmp.join(".config")).unwrap();
        std::fs::write(tmp.join(".config/taskleak.toml"), "").unwrap();
        assert_eq!(
            places_from(&member).config,
            Some(tmp.join(".config/taskleak.toml"))
        );
        std::fs::create_dir_all(member.join(".config")).unwrap();
        std::fs::write(member.join(".config/taskleak.toml"), "").unwrap();
        assert_eq!(
            places_from(&member),
            Places {
                config: Some(member.join(".config/taskleak.toml")),
                dir: member.join(".config")
            }
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    /// Something that is not a readable file where the config file goes
    /// is an error naming it, never ignored.
    #[cfg(unix)]
    #[test]
    fn a_directory_a_dangling_link_or_bad_utf8_in_place_of_the_file_is_named() {
        let tmp = std::env::temp_dir().join(format!("taskleak-notfile-{}", std::process::id()));
        let config = tmp.join(".config");
        let file = config.join(FILE_NAME);
        std::fs::create_dir_all(&file).unwrap();
        assert_eq!(places_from(&tmp).config, Some(file.clone()));
        let e = load(&file).unwrap_err().to_string();
        assert!(
            e.contains("taskleak.toml is a directory; taskleak reads its settings from a file"),
            "{e}"
        );
        std::fs::remove_dir(&file).unwrap();
        std::os::unix::fs::symlink(tmp.join("gone.toml"), &file).unwrap();
        assert_eq!(places_from(&tmp).config, Some(file.clone()));
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link to "), "{e}");
        assert!(e.contains("gone.toml, which does not exist"), "{e}");
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, b"grace = \"1s\"\n\n# caf\xe9\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(
            e.contains("taskleak.toml:3: not valid UTF-8; save the file as UTF-8"),
            "{e}"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
