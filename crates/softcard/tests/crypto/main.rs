//! Tests of the crypto backends: each backend against the `rsa` and `p256` public-key
//! operations, the backends against each other, and published known-answer vectors.

mod common;
mod rustcrypto;
