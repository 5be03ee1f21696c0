//! Traces through the in-process API: a GIDS session (PIN verification and change,
//! administrator-key mutual authentication, a key import) recorded with its secrets
//! redacted, and in clear when asked; a trace replayed through a context; tracing through
//! the vpcd route's entry (`transmit_between_transactions`).

mod common;

use common::Buf;

use std::sync::Arc;

use softcard::profile::DEFAULT_ADMIN_KEY;
use softcard::{CardOptions, NoStorage, Profile, tlv};
use softcard_pcsc::trace::{Recorder, Replay, Secrets, Tap, Trace, names};
use softcard_pcsc::{MAX_BUFFER_SIZE, Protocols, Registry, Scope, ShareMode};
use softcard_test_support::{cmd, gids, verify_command};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs a GIDS session through a context on a registry recording with `secrets`; the
/// trace's text.
fn gids_session(secrets: Secrets) -> String {
    let registry = Registry::new();
    let card = softcard::Card::create_seeded(
        &CardOptions::new(Profile::WindowsVsc),
        3,
        Box::new(NoStorage),
    )
    .unwrap();
    registry.insert_card("G", card).unwrap();
    let buf = Buf::default();
    let recorder = Arc::new(Recorder::new(buf.clone(), secrets).unwrap());
    registry.set_tap(Some(Tap::Record(recorder.clone())));
    let ctx = registry.establish(Scope::User).unwrap();
    let card = ctx
        .connect(c"G", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let mut out = [0u8; MAX_BUFFER_SIZE];
    let mut send = |apdu: &[u8]| card.transmit(apdu, &mut out).unwrap().to_vec();
    assert!(send(gids::SELECT).ends_with(&[0x90, 0x00]));
    assert_eq!(send(&verify_command(b"12345678")), [0x90, 0x00]);
    let mut change = b"12345678".to_vec();
    change.extend_from_slice(b"24682468");
    assert_eq!(send(&cmd(0x24, 0x00, 0x80, &change, None)), [0x90, 0x00]);
    // Administrator key: MSE SET, then both steps of mutual authentication.
    assert_eq!(send(&[0, 0x22, 0xC1, 0xA4, 3, 0x83, 1, 0x80]), [0x90, 0x00]);
    let r1 = [0x5A; 16];
    let resp = send(&cmd(
        0x87,
        0,
        0,
        &tlv::encode(0x7C, &tlv::encode(0x81, &r1)),
        Some(256),
    ));
    let r2 = resp[4..resp.len() - 2].to_vec();
    let mut plain = r2.clone();
    plain.extend_from_slice(&r1);
    plain.extend_from_slice(&[0x33; 7]);
    plain.push(0x80);
    let enc = gids::tdes_cbc(&DEFAULT_ADMIN_KEY, &plain, true);
    let answer = send(&cmd(
        0x87,
        0,
        0,
        &tlv::encode(0x7C, &tlv::encode(0x82, &enc)),
        Some(256),
    ));
    assert!(answer.ends_with(&[0x90, 0x00]), "{answer:02x?}");
    // A key import (the card may refuse these numbers; the exchange is recorded anyway).
    let body = gids::rsa_import_body(
        0x82,
        &[0xC1; 256],
        &[1, 0, 1],
        &[0xD7; 256],
        &[0xE3; 128],
        &[0xE5; 128],
    );
    send(&cmd(0xDB, 0x3F, 0xFF, &body, None));
    assert_eq!(recorder.exchanges(), 7);
    assert_eq!(recorder.error(), None);
    buf.text()
}

#[test]
fn a_gids_trace_holds_no_pin_admin_authentication_or_key_material() {
    let secrets: Vec<(&str, String)> = vec![
        ("PIN", hex(b"12345678")),
        ("new PIN", hex(b"24682468")),
        ("private exponent", hex(&[0xD7; 8])),
        ("prime", hex(&[0xE3; 8])),
    ];
    for (mode, clear) in [(Secrets::Redacted, false), (Secrets::Clear, true)] {
        let text = gids_session(mode);
        let trace = Trace::parse(&text).unwrap();
        assert_eq!(trace.exchanges.len(), 7);
        let flat = text.replace(' ', "");
        for (what, value) in &secrets {
            assert_eq!(
                flat.contains(value.as_str()),
                clear,
                "{what} in {mode:?}:\n{text}"
            );
        }
        for x in &trace.exchanges {
            let ins = x.command.known_prefix()[1];
            let secret = matches!(ins, 0x20 | 0x24 | 0x87 | 0xDB);
            assert_eq!(x.command.is_redacted(), secret && !clear, "{x}");
            if ins == 0x87 {
                assert_eq!(x.response.is_redacted(), !clear, "{x}");
            }
        }
        if !clear {
            assert!(text.contains("00db3fff"), "{text}");
            assert!(text.contains("<redacted 16 bytes>"), "{text}");
            let start = trace.exchanges[0].time;
            let shown: Vec<String> = trace
                .exchanges
                .iter()
                .map(|x| names::exchange(x, start, "G"))
                .collect();
            let shown = shown.join("\n");
            for words in [
                "SELECT GIDS (a00000039742544659)",
                "VERIFY PIN, 8 bytes redacted -> 9000 success",
                "CHANGE REFERENCE DATA PIN, 16 bytes redacted -> 9000 success",
                "MANAGE SECURITY ENVIRONMENT, 3 bytes -> 9000 success",
                "GENERAL AUTHENTICATE, 20 bytes redacted -> 9000 success, 20 bytes redacted",
                "PUT DATA 3FFF,",
            ] {
                assert!(shown.contains(words), "{words:?} not in:\n{shown}");
            }
        }
    }
}

#[test]
fn a_replayed_trace_answers_through_a_context_and_the_vpcd_entry_is_recorded() {
    let registry = Registry::new();
    registry.insert_card("R", common::new_card()).unwrap();
    let buf = Buf::default();
    registry.set_tap(Some(Tap::Record(Arc::new(
        Recorder::new(buf.clone(), Secrets::Redacted).unwrap(),
    ))));
    let select = registry
        .transmit_between_transactions("R", common::SELECT_PIV)
        .unwrap();
    let ctx = registry.establish(Scope::User).unwrap();
    let card = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(
        common::send(&card, &verify_command(b"87654321")),
        Ok(0x63C2)
    );
    drop(card);
    drop(ctx);
    let trace = Trace::parse(&buf.text()).unwrap();
    assert_eq!(trace.exchanges.len(), 2);

    let replaying = Registry::new();
    let replay = Arc::new(Replay::new(trace));
    replay.insert_cards(&replaying).unwrap();
    replaying.set_tap(Some(Tap::Replay(replay.clone())));
    let ctx = replaying.establish(Scope::User).unwrap();
    let card = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let mut out = [0u8; MAX_BUFFER_SIZE];
    assert_eq!(
        card.transmit(common::SELECT_PIV, &mut out).unwrap(),
        select.as_slice()
    );
    // Another PIN of the same length matches the redacted VERIFY: the recorded answer.
    assert_eq!(
        common::send(&card, &verify_command(b"11111111")),
        Ok(0x63C2)
    );
    assert_eq!(replay.finish(), Ok(()));
    // One command more is a deviation, answered 6F00.
    assert_eq!(common::send(&card, common::SELECT_PIV), Ok(0x6F00));
    let e = replay.finish().unwrap_err();
    assert_eq!(e.exchange, 3);
    assert!(
        e.to_string()
            .contains("the trace has ended, got [R] 00a40400"),
        "{e}"
    );
}
