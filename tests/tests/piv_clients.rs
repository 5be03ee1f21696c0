//! The PIV profile driven by the clients people run (yubico-piv-tool, OpenSC's
//! opensc-tool, piv-tool, pkcs15-tool and pkcs11-tool with opensc-pkcs11.so), each flow
//! on both routes: the daemonless drop-in (`softcard exec`, module `drop_in`) and pcscd
//! with vpcd (`softcard serve`, module `pcscd`; skipped with a message where pcscd cannot
//! run, a failure with `SOFTCARD_E2E=require`). Every flow starts from a fresh image and
//! checks the card's cryptography on the host with openssl. The compatibility matrix
//! (client x operation -> test) is in `docs/apdu/piv.md`, section Clients.
//!
//! Known client faults, pinned by the tests so that a fixed client shows up:
//! - yubico-piv-tool 2.2.0 built with OpenSSL 3 fails `selfsign-certificate` (and
//!   `request-certificate`) before it asks the card to sign ("Failed signing
//!   certificate"); the flows make the certificate with openssl instead.
//! - OpenSC 0.23's `piv-tool -A A:9B:03` (external authentication) always fails inside
//!   OpenSC (a length self-check, error -1400) before it sends its response to the card.

#[path = "piv_clients/opensc.rs"]
mod flows_opensc;
#[path = "piv_clients/yubico.rs"]
mod flows_yubico;
#[path = "piv_clients/yubico_import.rs"]
mod flows_yubico_import;

use softcard_tests::clients::{Route, Session};

/// The default PIN and PUK of a new card.
pub const PIN: &str = "12345678";
/// The default PUK.
pub const PUK: &str = "12345678";
/// The default management key (3DES).
pub const MGM_KEY: &str = "010203040506070801020304050607080102030405060708";

/// One `#[test]` per flow and route: `drop_in::FLOW` and `pcscd::FLOW`.
macro_rules! on_both_routes {
    ($($flow:path => $name:ident),* $(,)?) => {
        mod drop_in {
            $(#[test] fn $name() { $flow(super::Route::DropIn) })*
        }
        mod pcscd {
            $(#[test] fn $name() { $flow(super::Route::Pcscd) })*
        }
    };
}

on_both_routes!(
    crate::flows_yubico::status_and_pin => yubico_status_verify_and_change,
    crate::flows_yubico::unblock_pin => yubico_unblock_pin,
    crate::flows_yubico::keys_and_certificates => yubico_keys_and_certificates,
    crate::flows_yubico::management_key => yubico_set_management_key,
    crate::flows_yubico::attestation => yubico_attestation,
    crate::flows_yubico::reset => yubico_reset,
    crate::flows_yubico_import::import_key => yubico_import_key,
    crate::flows_yubico_import::retries_and_objects => yubico_pin_retries_and_objects,
    crate::flows_opensc::name_and_admin_auth => opensc_name_and_admin_auth,
    crate::flows_opensc::pkcs15_and_pkcs11 => opensc_pkcs15_and_pkcs11,
    crate::flows_opensc::state_survives_a_restart => state_survives_a_restart,
    crate::flows_yubico::p384_keys => yubico_p384_keys,
    crate::flows_opensc::pkcs11_p384 => opensc_pkcs11_p384,
);

/// Opens a session for a flow; `None` when its route cannot run here.
pub fn session(route: Route, seed: u64, flow: &str) -> Option<Session> {
    Session::open(route, seed, &format!("{flow} ({route:?})"))
}
