use std::time::Duration;

use super::*;
use crate::Error;

const PIV: softcard::Profile = softcard::Profile::Piv;
const SIGN_9A: &[u8] = &[0x00, 0x87, 0x07, 0x9A, 0x04, 0x7C, 0x02, 0x82, 0x00];
const DECRYPT_9D: &[u8] = &[0x00, 0x87, 0x07, 0x9D, 0x04, 0x7C, 0x02, 0x82, 0x00];
const MGMT_9B: &[u8] = &[0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00];
const SELECT_GIDS: &[u8] = &[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x97];

#[test]
fn lines_parse_back_to_the_same_faults() {
    for line in [
        "fail count=2 error=SCARD_E_COMM_DATA_LOST",
        "fail count=always error=SCARD_F_COMM_ERROR reader=\"softcard PIV 00 00\"",
        "answer ins=87 sw=6982 times=1",
        "answer prefix=00a40400 sw=6a82 times=always",
        "answer op=sign sw=6982 times=3",
        "latency keygen=5000ms",
        "latency apdu=1500us",
    ] {
        let fault: Fault = line.parse().unwrap();
        assert_eq!(fault.to_string(), line);
    }
    let faults = parse_plan("# comment\n\nlatency profile=tpm\nlatency verify-pin=1.5s").unwrap();
    assert_eq!(faults.len(), 4);
    assert_eq!(
        faults[3],
        Fault::latency(Operation::VerifyPin, Duration::from_millis(1500))
    );
}

#[test]
fn bad_lines_name_the_problem() {
    for (text, says) in [
        ("fail count=2", "error=SCARD_... is missing"),
        ("fail error=SCARD_E_NOPE", "not an SCARD error name"),
        ("answer ins=87", "sw= is missing"),
        ("answer sw=6982", "ins=, prefix= or op= is missing"),
        ("answer ins=87 prefix=00 sw=6982", "give one of"),
        ("answer ins=8 sw=6982", "not hex"),
        ("answer ins=87 sw=69", "two bytes"),
        ("answer ins=87 sw=6982 times=0", "not a count"),
        ("latency sign=fast", "not a duration"),
        ("latency sing=1s", "not an operation"),
        ("latency profile=hsm", "the profiles are"),
        ("unplug", "not a fault"),
        ("answer ins=87 sw=6982 reader=\"open", "quote"),
    ] {
        let e = parse_plan(&format!("# one\n{text}")).unwrap_err();
        assert_eq!(e.line, 2, "{text}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
}

#[test]
fn an_answer_fires_its_count_then_is_gone() {
    let mut set = FaultSet::default();
    set.add(Fault::answer(Pattern::Ins(0x87), 0x6982).times(Times::Count(2)));
    assert_eq!(set.decide("r", PIV, SIGN_9A), Decision::Answer(0x6982));
    assert_eq!(
        set.decide("r", PIV, &[0x00, 0xFD, 0, 0]),
        Decision::Pass(Duration::ZERO)
    );
    assert_eq!(set.decide("r", PIV, SIGN_9A), Decision::Answer(0x6982));
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Pass(Duration::ZERO)
    );
    assert!(set.is_empty());
}

#[test]
fn a_pattern_that_does_not_match_leaves_the_command_alone() {
    let mut set = FaultSet::default();
    set.add(Fault::answer(
        Pattern::Prefix(vec![0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0]),
        0x6A82,
    ));
    set.add(Fault::answer(Pattern::Operation(Operation::Sign), 0x6982).on_reader("other"));
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Pass(Duration::ZERO)
    );
    assert_eq!(
        set.decide("r", PIV, &[0x00, 0xA4, 0x04, 0x00, 0x02, 0xA1, 0x00]),
        Decision::Pass(Duration::ZERO)
    );
    assert_eq!(set.decide("r", PIV, SELECT_GIDS), Decision::Answer(0x6A82));
    assert_eq!(set.decide("other", PIV, SIGN_9A), Decision::Answer(0x6982));
}

#[test]
fn failures_come_first_and_count_down() {
    let mut set = FaultSet::default();
    set.add(Fault::fail_transmit(2, Error::CommDataLost));
    set.add(Fault::answer(Pattern::Ins(0x87), 0x6982));
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Fail(Error::CommDataLost)
    );
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Fail(Error::CommDataLost)
    );
    assert_eq!(set.decide("r", PIV, SIGN_9A), Decision::Answer(0x6982));
}

#[test]
fn operations_are_told_by_application() {
    assert_eq!(Operation::of(Selected::Piv, SIGN_9A), Some(Operation::Sign));
    assert_eq!(
        Operation::of(Selected::Piv, DECRYPT_9D),
        Some(Operation::Decrypt)
    );
    assert_eq!(Operation::of(Selected::Piv, MGMT_9B), None);
    // Chained parts perform nothing yet.
    assert_eq!(
        Operation::of(Selected::Piv, &[0x10, 0x87, 0x07, 0x9A, 0x00]),
        None
    );
    assert_eq!(Operation::of(Selected::Gids, MGMT_9B), None);
    assert_eq!(
        Operation::of(Selected::Gids, &[0x00, 0x2A, 0x9E, 0x9A, 0x00]),
        Some(Operation::Sign)
    );
    assert_eq!(
        Operation::of(Selected::Gids, &[0x00, 0x2A, 0x80, 0x86, 0x00]),
        Some(Operation::Decrypt)
    );
    assert_eq!(
        Operation::of(Selected::Other, &[0x00, 0x20, 0x00, 0x80]),
        Some(Operation::VerifyPin)
    );
    assert_eq!(
        Operation::of(Selected::Piv, &[0x00, 0x47, 0x00, 0x9A]),
        Some(Operation::Keygen)
    );
}

#[test]
fn latencies_add_up_and_follow_the_selected_application() {
    let mut set = FaultSet::default();
    set.add(Fault::latency(Operation::Sign, Duration::from_millis(200)));
    set.add(Fault::latency(Operation::Apdu, Duration::from_millis(1)));
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Pass(Duration::from_millis(201))
    );
    // After GIDS is selected, 87 is the administrator key's authentication.
    set.answered("r", SELECT_GIDS, &[0x90, 0x00]);
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Pass(Duration::from_millis(1))
    );
    // A latency replaces the earlier one of its operation; zero removes it.
    set.add(Fault::latency(Operation::Apdu, Duration::ZERO));
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Pass(Duration::ZERO)
    );
    assert_eq!(set.list().len(), 1);
}

#[test]
fn the_tpm_profile_slows_signatures_and_key_generation() {
    let mut set = FaultSet::default();
    for f in LatencyProfile::Tpm.faults() {
        set.add(f);
    }
    assert_eq!(
        set.decide("r", PIV, SIGN_9A),
        Decision::Pass(Duration::from_millis(200))
    );
    assert_eq!(
        set.decide("r", PIV, &[0x00, 0x47, 0x00, 0x9A]),
        Decision::Pass(Duration::from_secs(5))
    );
    assert_eq!(
        set.decide("r", PIV, &[0x00, 0xFD, 0, 0]),
        Decision::Pass(Duration::ZERO)
    );
}

#[test]
fn scard_names_round_trip() {
    for e in Error::ALL {
        assert_eq!(Error::from_name(e.name()), Some(*e));
        assert!(e.name().starts_with("SCARD_"));
    }
    assert_eq!(Error::CommError.name(), "SCARD_F_COMM_ERROR");
    assert_eq!(
        Error::from_name("scard_w_removed_card"),
        Some(Error::RemovedCard)
    );
}

#[test]
fn event_lines_parse_print_back_and_refuse_what_does_not_apply() {
    for line in [
        "remove op=sign back=250ms times=1",
        "remove ins=47 times=always",
        "reset prefix=00a4 times=2",
        "reset op=verify-pin times=1 reader=\"R 1\"",
    ] {
        let fault: Fault = line.parse().unwrap();
        assert_eq!(fault.to_string(), line);
    }
    for (line, why) in [
        ("remove back=1s", "ins=, prefix= or op= is missing"),
        ("reset ins=20 back=1s", "unknown key \"back\""),
        ("remove ins=20 op=sign", "give one of"),
        ("remove ins=20 back=7200s", "from 0 to 1 hour"),
        ("unplug ins=20", "is not a fault"),
    ] {
        let err = line.parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains(why), "{line}: {err}");
    }
}
