//! Helpers for softcard's end-to-end tests: the real PC/SC peer stack (pcscd + vpcd),
//! the `softcard` binary, bounded waiting, real clients on either route, openssl.

pub mod ca_serve;
pub mod card_image;
pub mod clients;
pub mod gids_image;
pub mod gids_opensc;
pub mod install;
pub mod openssl;
pub mod peer;
pub mod piv_host;
pub mod programs;
pub mod softcard_bin;
pub mod wait;
