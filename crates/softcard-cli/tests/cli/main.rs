//! The `softcard` command line as scripts call it: `init`, `info`, `pin` (cli), `--json`
//! output (json), and `enroll`, `cert`, `sign` and `demo` judged by OpenSSL (enroll);
//! images encrypted at rest (encrypted).

mod cli;
mod encrypted;
mod enroll;
mod enroll_ca;
mod json;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `softcard` with `args` (without `SOFTCARD_BACKEND`: the default backend).
fn softcard(args: &[&str]) -> Output {
    softcard_env(args, &[])
}

/// Runs `softcard` with `args` and these environment variables.
fn softcard_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softcard"))
        .args(args)
        .env_remove("SOFTCARD_BACKEND")
        .envs(env.iter().copied())
        .output()
        .expect("softcard runs")
}

/// Output bytes as text.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `softcard` with `args`, insisting on success; its standard output.
fn ok(args: &[&str]) -> String {
    let out = softcard(args);
    assert!(
        out.status.success(),
        "softcard {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `dir/name` as a string argument.
fn path_in(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("UTF-8").to_owned()
}
