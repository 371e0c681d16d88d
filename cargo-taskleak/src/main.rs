//! `cargo taskleak`: the whole test run's task-leak report and baseline,
//! from the ledgers taskleak's test processes write (one each, in
//! `TASKLEAK_REPORT_DIR`, else `target/taskleak`).
//!
//! ```text
//! cargo taskleak report [DIR...] [--format text|markdown|json] [--strict]
//! cargo taskleak baseline [DIR...]
//! ```
//!
//! Exit codes: 0 clean; 1 leaks beyond the baseline (or, with `--strict`,
//! stale rules and fixed entries); 2 an error (bad arguments, no ledgers).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use taskleak::__cli::{self as cli, Format};

/// Cargo runs `cargo-taskleak taskleak <args>` for `cargo taskleak <args>`.
#[derive(Parser)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    /// taskleak's whole-run report and baseline.
    #[command(version, about, long_about = None)]
    Taskleak(Args),
}

#[derive(clap::Args)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Merges the ledgers of one run into one report: leaks by spawn site,
    /// tests that ran without a check, rules that matched nothing, baseline
    /// entries that no longer leak.
    Report {
        /// Report directories to merge, one per CI partition (default: the
        /// workspace's target/taskleak). The newest run of each is read.
        dirs: Vec<PathBuf>,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = Form::Text)]
        format: Form,
        /// Also fail on ignore rules that matched nothing in the whole run
        /// and on baseline entries that no longer leak.
        #[arg(long)]
        strict: bool,
    },
    /// Writes the baseline (.config/taskleak-baseline.toml) from the merged
    /// run: the file `TASKLEAK=record` writes on the same run.
    Baseline {
        /// Report directories to merge (default: target/taskleak).
        dirs: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Form {
    /// For a terminal.
    Text,
    /// For $GITHUB_STEP_SUMMARY.
    Markdown,
    /// Schema taskleak-run/1.
    Json,
}

/// The workspace's root and target directory, from `cargo metadata`.
fn workspace() -> Result<(PathBuf, PathBuf), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run `cargo metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo metadata` failed: run cargo taskleak inside the workspace whose tests \
             ran (its baseline and target directory are read from there): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`cargo metadata` gave no JSON: {e}"))?;
    let path = |key: &str| {
        meta[key]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| format!("`cargo metadata` gave no {key}"))
    };
    Ok((path("workspace_root")?, path("target_directory")?))
}

fn dirs_or_default(dirs: Vec<PathBuf>, target: &Path) -> Vec<PathBuf> {
    if dirs.is_empty() {
        vec![cli::default_dir(target)]
    } else {
        dirs
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    let (root, target) = workspace()?;
    match args.command {
        Cmd::Report {
            dirs,
            format,
            strict,
        } => {
            let format = match format {
                Form::Text => Format::Text,
                Form::Markdown => Format::Markdown,
                Form::Json => Format::Json,
            };
            let report = cli::report(&dirs_or_default(dirs, &target), &root, format)?;
            print!("{}", report.output);
            let failed = report.new_leaks || (strict && report.stale_or_fixed);
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Baseline { dirs } => {
            for line in cli::baseline(&dirs_or_default(dirs, &target), &root)? {
                println!("cargo taskleak baseline: {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let Cargo::Taskleak(args) = Cargo::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cargo taskleak: {e}");
            ExitCode::from(2)
        }
    }
}
