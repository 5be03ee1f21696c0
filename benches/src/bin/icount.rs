//! The workload of the instruction-count regression guard (`scripts/icount`): one
//! scenario, `Card::transmit` of one command repeated `N` times on a card set up
//! beforehand, run under `valgrind --tool=callgrind`, which counts the instructions of the
//! scenario's function alone (and, for the sign command, leaves out the crypto backend's
//! private-key operation).
//!
//! ```text
//! softcard-bench-icount SCENARIO [N]     SCENARIO: get-version | verify | piv-sign | gids-sign
//! ```
//!
//! A run measures one scenario, in the `#[inline(never)]` function `icount_scenario`, the
//! one callgrind is told to collect in. The card is seeded (the same keys, the same work,
//! every run) and on the RustCrypto backend (see `main`).

use std::hint::black_box;

use softcard::crypto::BackendKind;
use softcard::{Card, NoStorage, Profile};
use softcard_benches::{
    GIDS_KEY, PIN, RSA2048_LEN, apdu, check_signature, digest_info, gids_sign, piv_sign,
    pkcs1_block, provisioned_card,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_default();
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 100,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => fail("N must be a positive number"),
    };
    // The card's own work is the same on both backends, and the backend's operation is
    // subtracted; RustCrypto's is the one whose allocations do not depend on the random
    // blinding, so the heap, and the allocator's instruction counts, are the same every run
    // (on aws-lc they move by up to 8 % between runs).
    let backend = BackendKind::RustCrypto;
    let info = digest_info();
    match scenario.as_str() {
        "get-version" => {
            let mut card = card(Profile::Piv, backend);
            icount_scenario(&mut card, &[&apdu::PIV_GET_VERSION], n, "GET VERSION");
        }
        "verify" => {
            let mut card = card(Profile::Piv, backend);
            icount_scenario(&mut card, &[&apdu::verify_pin(PIN)], n, "VERIFY");
        }
        "piv-sign" => {
            let (mut card, public) = provisioned_card(Profile::Piv, backend, Box::new(NoStorage))
                .unwrap_or_else(|e| fail(&e));
            let command = apdu::piv_sign(&pkcs1_block(&info, RSA2048_LEN));
            let sig = piv_sign(&mut card, &command).unwrap_or_else(|e| fail(&e));
            check_signature(&public, &sig).unwrap_or_else(|e| fail(&e));
            icount_scenario(&mut card, &[&command], n, "GENERAL AUTHENTICATE");
        }
        "gids-sign" => {
            let (mut card, public) =
                provisioned_card(Profile::WindowsVsc, backend, Box::new(NoStorage))
                    .unwrap_or_else(|e| fail(&e));
            let (mse, pso) = (apdu::gids_mse_sign(GIDS_KEY), apdu::gids_sign(&info));
            let sig = gids_sign(&mut card, &mse, &pso).unwrap_or_else(|e| fail(&e));
            check_signature(&public, &sig).unwrap_or_else(|e| fail(&e));
            icount_scenario(
                &mut card,
                &[&mse, &pso],
                n,
                "PSO: COMPUTE DIGITAL SIGNATURE",
            );
        }
        other => fail(&format!(
            "unknown scenario {other:?} (get-version, verify, piv-sign, gids-sign)"
        )),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("softcard-bench-icount: {message}");
    std::process::exit(2)
}

/// A seeded PIV card with its applet selected (no key: the commands measured need none).
fn card(profile: Profile, backend: BackendKind) -> Card {
    let mut opts = softcard::CardOptions::new(profile);
    opts.backend = backend;
    let mut card = Card::create_seeded(&opts, 0x5EED, Box::new(NoStorage))
        .unwrap_or_else(|e| fail(&e.to_string()));
    let r = card.transmit(&apdu::select(softcard::piv::AID));
    if !r.ends_with(&[0x90, 0x00]) {
        fail("SELECT PIV failed");
    }
    card
}

/// Checks the status word of the last response: a scenario that fails measures nothing.
fn expect_ok(response: &[u8], what: &str) {
    if !response.ends_with(&[0x90, 0x00]) {
        fail(&format!("{what}: the card answered {response:02X?}"));
    }
}

/// The measured function: `n` times the `commands` in order; callgrind collects in it
/// alone (`--toggle-collect=*icount_scenario*`).
#[inline(never)]
fn icount_scenario(card: &mut Card, commands: &[&[u8]], n: usize, what: &str) {
    let mut last = Vec::new();
    for _ in 0..n {
        for command in commands {
            last = card.transmit(black_box(command));
        }
    }
    expect_ok(&last, what);
}
