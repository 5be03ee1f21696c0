//! `softcard exec`: run a program against the card with no PC/SC daemon (not yet
//! available).

use std::ffi::OsString;

use crate::common::CliError;

/// Arguments of `softcard exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

/// Not yet available.
///
/// # Errors
/// Always, for now.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::new("exec: not yet available"))
}
