//! Tests of the crypto backends: each backend against the `rsa`, `p256` and `p384` public-key
//! operations, the backends against each other, and published known-answer vectors.

mod common;
#[cfg(feature = "aws-lc")]
mod cross;
mod kat;
mod material;
mod rustcrypto;
mod sym;
