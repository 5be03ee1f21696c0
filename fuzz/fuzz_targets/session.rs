//! A stateful session against the PIV or GIDS applet from a realistic starting state (fresh,
//! PIN verified, administrator key authenticated, keys present), with commands biased to the
//! applet's instructions and tags. Checks after every step: a status word ends every
//! response, the card's state is its stored image, a refused command leaves that image
//! unchanged, a wrong PIN or key never gets 9000, the stored image loads back. The session
//! is shared with the property tests (crates/softcard/tests/api/session.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/softcard/tests/api/session.rs"]
mod session;

fuzz_target!(|data: &[u8]| session::run(data));
