//! One module per subcommand: `Args` (clap) and `run`.

pub mod exec;
pub mod info;
pub mod init;
pub mod serve;
