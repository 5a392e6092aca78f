//! `runlog`: the command-line tool for operators looking at a runlog store
//! on disk. Every command opens the store read-only (safe while a runtime
//! writes), except `retry`, which needs the writer. See `runlog --help`.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

/// Why a command stopped: its exit status and the one line to print
/// (`None`: nothing to say, e.g. the reader of stdout went away).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: Option<String>,
}

impl Failure {
    /// A usage error (exit status 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: Some(message.into()),
        }
    }

    /// A runtime error (exit status 1).
    pub fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: Some(message.into()),
        }
    }
}

impl From<runlog::Error> for Failure {
    fn from(e: runlog::Error) -> Failure {
        Failure::runtime(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // `runlog logs | head`: the reader has what it wanted.
            Failure {
                code: 0,
                message: None,
            }
        } else {
            Failure::runtime(format!("writing output: {e}"))
        }
    }
}

/// Print `runlog: error: MESSAGE` on one line of stderr.
fn report(message: &str) {
    let line: String = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    eprintln!("runlog: error: {line}");
}

/// Clap's error, multi-line with a usage block, as one line: its first
/// line, the indented lines right below it (missing arguments, possible
/// values) and any tip.
fn clap_error_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    let mut extra = Vec::new();
    for l in lines.by_ref() {
        if l.trim().is_empty() || !l.starts_with(' ') {
            break;
        }
        extra.push(l.trim().to_owned());
    }
    if !extra.is_empty() {
        msg.push(' ');
        msg.push_str(&extra.join(", "));
    }
    for l in text.lines() {
        let l = l.trim();
        if let Some(tip) = l.strip_prefix("tip:") {
            msg.push_str("; tip:");
            msg.push_str(tip);
        }
    }
    msg.push_str(" (see runlog --help)");
    msg
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            return match err.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = err.print();
                    ExitCode::from(err.exit_code().clamp(0, 255) as u8)
                }
                _ => {
                    report(&clap_error_line(&err));
                    ExitCode::from(2)
                }
            };
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(f) => {
            if let Some(m) = &f.message {
                report(m);
            }
            ExitCode::from(f.code)
        }
    }
}
