//! Helpers for softcard's end-to-end tests: the real PC/SC peer stack (pcscd + vpcd),
//! the `softcard` binary, bounded waiting.

pub mod peer;
pub mod piv_host;
pub mod softcard_bin;
pub mod wait;
