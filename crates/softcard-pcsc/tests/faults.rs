//! Faults through the in-process API: a removed and re-inserted card, a power cycle, failed
//! transmissions, injected status words that leave the card as it was, latency, and the
//! trace lines they leave.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Buf, SELECT_PIV, send, setup};
use softcard_pcsc::fault::{Fault, LatencyProfile, Operation, Pattern, Times};
use softcard_pcsc::trace::{EventKind, Recorder, Secrets, Tap, Trace};
use softcard_pcsc::{Error, Protocols, ReaderState, ShareMode, State};
use softcard_test_support::piv::VERIFY_DEFAULT_PIN;
use softcard_test_support::verify_command;

const READER: &str = "Fault Reader";

/// A shared connection to the card in [`READER`].
fn connect(ctx: &softcard_pcsc::Context) -> softcard_pcsc::Card {
    ctx.connect(c"Fault Reader", ShareMode::Shared, Protocols::ANY)
        .unwrap()
}
const PIV_GET_VERSION: &[u8] = &[0x00, 0xFD, 0x00, 0x00, 0x00];
/// VERIFY with no data: the PIN's status (63Cx tries left, or 9000 when verified).
const PIN_STATUS: &[u8] = &[0x00, 0x20, 0x00, 0x80];

#[test]
fn an_ejected_card_is_removed_for_every_handle_and_comes_back_unverified() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x9000));

    let mut states = [ReaderState::new(c"Fault Reader".to_owned(), State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut states).unwrap();
    states[0].sync_current_state();
    reg.eject(READER).unwrap();
    ctx.get_status_change(Duration::from_secs(5), &mut states)
        .unwrap();
    assert!(states[0].event_state().contains(State::EMPTY));
    assert_eq!(send(&card, PIV_GET_VERSION), Err(Error::RemovedCard));
    assert_eq!(reg.eject(READER), Err(Error::NoSmartcard));

    states[0].sync_current_state();
    reg.reinsert(READER).unwrap();
    ctx.get_status_change(Duration::from_secs(5), &mut states)
        .unwrap();
    assert!(states[0].event_state().contains(State::PRESENT));
    assert_eq!(reg.reinsert(READER), Err(Error::UnknownReader));
    let again = connect(&ctx);
    assert_eq!(send(&again, SELECT_PIV), Ok(0x9000));
    // The same card, powered off meanwhile: the PIN is no longer verified.
    assert_eq!(send(&again, PIN_STATUS), Ok(0x63C3));
}

#[test]
fn a_power_cycle_resets_open_handles_and_the_security_state() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x9000));
    reg.power_cycle(READER).unwrap();
    assert_eq!(send(&card, PIN_STATUS), Err(Error::ResetCard));
    let mut card = card;
    card.reconnect(
        ShareMode::Shared,
        Protocols::ANY,
        softcard_pcsc::Disposition::LeaveCard,
    )
    .unwrap();
    send(&card, SELECT_PIV).unwrap();
    assert_eq!(send(&card, PIN_STATUS), Ok(0x63C3));
}

#[test]
fn failed_transmissions_fail_then_stop_and_the_card_never_sees_them() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    reg.inject(Fault::fail_transmit(2, Error::CommError));
    // A wrong PIN that fails in transit costs no try.
    assert_eq!(
        send(&card, &verify_command(b"00000000")),
        Err(Error::CommError)
    );
    assert_eq!(
        send(&card, &verify_command(b"00000000")),
        Err(Error::CommError)
    );
    assert_eq!(send(&card, PIN_STATUS), Ok(0x63C3));
    assert!(reg.faults().is_empty());
}

#[test]
fn an_injected_status_word_changes_nothing_and_a_non_matching_pattern_leaves_commands_alone() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    // The failing twin: a pattern that matches nothing sent.
    reg.inject(Fault::answer(
        Pattern::Prefix(vec![0x00, 0x20, 0x00, 0x81]),
        0x6A88,
    ));
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x9000));
    reg.clear_faults();
    reg.power_cycle(READER).unwrap();
    let mut card = card;
    card.reconnect(
        ShareMode::Shared,
        Protocols::ANY,
        softcard_pcsc::Disposition::LeaveCard,
    )
    .unwrap();
    send(&card, SELECT_PIV).unwrap();

    // The right PIN answered 6982 twice: the card did not verify it, nor count a try.
    reg.inject(
        Fault::answer(Pattern::Operation(Operation::VerifyPin), 0x6982).times(Times::Count(2)),
    );
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x6982));
    assert_eq!(send(&card, PIN_STATUS), Ok(0x6982));
    assert_eq!(send(&card, PIN_STATUS), Ok(0x63C3));
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x9000));
}

#[test]
fn a_fault_on_another_reader_leaves_this_one_alone() {
    let (reg, ctx) = setup(READER);
    reg.inject(Fault::fail_transmit(1, Error::CommDataLost).on_reader("Elsewhere"));
    let card = connect(&ctx);
    assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
    assert_eq!(reg.faults().len(), 1);
}

#[test]
fn latency_is_applied_to_the_operation_it_names() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    reg.inject(Fault::latency(
        Operation::VerifyPin,
        Duration::from_millis(150),
    ));
    let start = Instant::now();
    assert_eq!(send(&card, PIN_STATUS), Ok(0x63C3));
    assert!(start.elapsed() >= Duration::from_millis(150));
    // The profile's figures are what the documentation says.
    assert_eq!(
        LatencyProfile::Tpm.latencies(),
        vec![
            (Operation::Sign, Duration::from_millis(200)),
            (Operation::Decrypt, Duration::from_millis(200)),
            (Operation::Keygen, Duration::from_secs(5)),
        ]
    );
}

#[test]
fn a_trace_records_power_events_removals_and_faults() {
    let (reg, ctx) = setup(READER);
    let buf = Buf::default();
    let recorder = Arc::new(Recorder::new(buf.clone(), Secrets::Redacted).unwrap());
    reg.set_tap(Some(Tap::Record(recorder.clone())));
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    reg.inject(Fault::answer(Pattern::Ins(0x20), 0x6982));
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x6982));
    reg.inject(Fault::fail_transmit(1, Error::CommDataLost));
    assert_eq!(send(&card, PIV_GET_VERSION), Err(Error::CommDataLost));
    reg.power_cycle(READER).unwrap();
    reg.eject(READER).unwrap();
    reg.reinsert(READER).unwrap();
    drop(card);

    let text = buf.text();
    assert!(!text.contains("3132333435363738"), "{text}");
    let trace = Trace::parse(&text).unwrap();
    assert_eq!(trace.exchanges.len(), 1, "{text}");
    let kinds: Vec<String> = trace.events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "fault sw=6982 00200080 08 <redacted 8 bytes>",
            "fault error=SCARD_E_COMM_DATA_LOST 00fd0000 00",
            "power-off",
            "power-on",
            "removed",
            "inserted",
        ],
        "{text}"
    );
    assert!(matches!(trace.events[4].kind, EventKind::Removed));
}

#[test]
fn a_card_pulled_out_on_a_verify_loses_the_command_and_comes_back_after_the_delay() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    // The failing twin first: a pattern that matches nothing sent leaves the card in.
    reg.inject(Fault::remove_on(Pattern::Ins(0x47)).back_after(Duration::from_millis(300)));
    assert_eq!(send(&card, PIN_STATUS), Ok(0x63C3));
    reg.clear_faults();

    let line = "remove op=verify-pin back=300ms";
    reg.inject(line.parse().unwrap());
    let mut states = [ReaderState::new(c"Fault Reader".to_owned(), State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut states).unwrap();
    states[0].sync_current_state();
    // The card leaves with the wrong PIN in flight: no try is spent.
    assert_eq!(
        send(&card, &verify_command(b"00000000")),
        Err(Error::RemovedCard)
    );
    assert!(reg.faults().is_empty(), "a removal fires once by default");
    // The removal happened before the client got its answer.
    assert_eq!(send(&card, PIV_GET_VERSION), Err(Error::RemovedCard));
    ctx.get_status_change(Duration::from_secs(5), &mut states)
        .unwrap();
    assert!(states[0].event_state().contains(State::EMPTY));
    // And it is back after the delay.
    states[0].sync_current_state();
    ctx.get_status_change(Duration::from_secs(5), &mut states)
        .unwrap();
    assert!(states[0].event_state().contains(State::PRESENT));
    let again = connect(&ctx);
    send(&again, SELECT_PIV).unwrap();
    assert_eq!(send(&again, PIN_STATUS), Ok(0x63C3));
}

#[test]
fn a_card_pulled_out_without_a_delay_stays_out_until_reinserted() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    reg.inject(Fault::remove_on(Pattern::Prefix(PIV_GET_VERSION.to_vec())));
    assert_eq!(send(&card, PIV_GET_VERSION), Err(Error::RemovedCard));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        ctx.connect(c"Fault Reader", ShareMode::Shared, Protocols::ANY)
            .is_err()
    );
    reg.reinsert(READER).unwrap();
    let again = connect(&ctx);
    assert_eq!(send(&again, SELECT_PIV), Ok(0x9000));
}

#[test]
fn a_reset_on_a_sign_loses_the_verified_pin_for_every_handle() {
    let (reg, ctx) = setup(READER);
    let card = connect(&ctx);
    send(&card, SELECT_PIV).unwrap();
    assert_eq!(send(&card, VERIFY_DEFAULT_PIN), Ok(0x9000));
    reg.inject("reset ins=87 times=2".parse().unwrap());
    // GENERAL AUTHENTICATE with slot 9A: reset before the card sees it.
    let sign = [0x00, 0x87, 0x07, 0x9A, 0x04, 0x7C, 0x02, 0x82, 0x00];
    assert_eq!(send(&card, &sign), Err(Error::ResetCard));
    assert_eq!(send(&card, PIN_STATUS), Err(Error::ResetCard));
    let mut card = card;
    card.reconnect(
        ShareMode::Shared,
        Protocols::ANY,
        softcard_pcsc::Disposition::LeaveCard,
    )
    .unwrap();
    send(&card, SELECT_PIV).unwrap();
    assert_eq!(send(&card, PIN_STATUS), Ok(0x63C3));
    // Fired once of twice: still in force.
    assert_eq!(reg.faults().len(), 1);
    assert_eq!(reg.faults()[0].to_string(), "reset ins=87 times=1");
}
