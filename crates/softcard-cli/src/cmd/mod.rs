//! One module per subcommand: `Args` (clap) and `run`.

pub mod ca;
pub mod cert;
pub mod ctl;
pub mod demo;
pub mod enroll;
pub mod exec;
pub mod info;
pub mod init;
pub mod passphrase;
pub mod pin;
mod progress;
pub mod serve;
pub mod sign;
pub mod snapshot;
pub mod trace;
