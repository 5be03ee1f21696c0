//! Kill test: `softcard` commands that write a card image, killed with SIGKILL at random
//! points (0-200 ms, a third under 10 ms), until 100 have been killed on a PIV card and 100
//! on a GIDS card (commands that finish first are checked too). After each: the image loads; the PIN retry counter never went up without the
//! right PIN; every acknowledged change is there (a PIN change, a new key); the PIN is the
//! old or the new one, never anything else; no temporary image is left once the next
//! command has opened the image.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use softcard::crypto::BackendKind;
use softcard::description::AppletState;
use softcard_file::FileStorage;
use softcard_test_support::Xorshift;
use softcard_tests::softcard_bin;

const KILLS_PER_CARD: usize = 100;
const PINS: [&str; 2] = ["12345678", "87654321"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    WrongPin,
    RightPin,
    ChangePin,
    Enroll,
}

/// What the image says now: tries left, the PIV slots or GIDS containers with a key.
struct Seen {
    tries: u8,
    keys: usize,
}

fn seen(image: &Path) -> Seen {
    let card = FileStorage::read_card(image, BackendKind::default(), None)
        .unwrap_or_else(|e| panic!("the image no longer loads: {e}"));
    let description = card.description();
    let applet = description.applets.first().expect("one applet");
    match &applet.state {
        AppletState::Piv(piv) => Seen {
            tries: piv.pin.tries_left,
            keys: piv.slots.iter().filter(|s| s.key.is_some()).count(),
        },
        AppletState::Gids(gids) => Seen {
            tries: gids.pin.as_ref().map_or(0, |p| p.tries_left),
            keys: gids.containers.len(),
        },
        other => panic!("unexpected applet {other:?}"),
    }
}

/// Whether `pin` is the image's PIN, asked of a copy in memory (nothing is written).
fn pin_is(image: &Path, aid: &[u8], pin: &str) -> bool {
    let mut card = FileStorage::read_card(image, BackendKind::default(), None).expect("loads");
    card.power_on();
    let select = [&[0x00, 0xA4, 0x04, 0x00, aid.len() as u8][..], aid].concat();
    let r = card.transmit(&select);
    assert!(r.ends_with(&[0x90, 0x00]), "SELECT: {r:02X?}");
    // VERIFY, user PIN (P2 80 on both cards); the PINs here are 8 characters, no padding.
    let apdu = [
        &[0x00, 0x20, 0x00, 0x80, pin.len() as u8][..],
        pin.as_bytes(),
    ]
    .concat();
    card.transmit(&apdu).ends_with(&[0x90, 0x00])
}

fn leftovers(image: &Path) -> Vec<PathBuf> {
    let name = image.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(image.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!(".{name}.tmp")))
        })
        .collect()
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(softcard_bin::path());
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Runs `softcard ARGS` to the end; whether it succeeded.
fn run(args: &[&str]) -> bool {
    command(args).status().expect("run softcard").success()
}

/// Runs commands on a new card until [`KILLS_PER_CARD`] were killed; the rounds run.
fn kill_loop(profile: &str, seed: u64) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    softcard_bin::init(&image, profile, seed);
    let img = image.to_str().unwrap().to_owned();
    let aid: &[u8] = if profile == "piv" {
        softcard::piv::AID
    } else {
        softcard::gids::AID
    };
    let limit = seen(&image).tries;
    let mut rng = Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut pin = 0usize; // index into PINS
    let (mut killed, mut enrolls) = (0, 0);
    let mut round = 0;
    while killed < KILLS_PER_CARD {
        round += 1;
        assert!(
            round < 8 * KILLS_PER_CARD,
            "{profile}: only {killed} kills in {round} rounds"
        );
        let before = seen(&image);
        let op = match rng.below(4) {
            0 if before.tries > 1 => Op::WrongPin,
            1 => Op::ChangePin,
            2 if enrolls < 8 && rng.below(4) == 0 => Op::Enroll,
            _ => Op::RightPin,
        };
        let (cur, other) = (PINS[pin], PINS[1 - pin]);
        let out = dir.path().join(format!("req{round}.pem"));
        let args: Vec<String> = match op {
            Op::WrongPin => vec!["pin", "verify", &img, "--pin", "00000000"],
            Op::RightPin => vec!["pin", "verify", &img, "--pin", cur],
            Op::ChangePin => vec!["pin", "change", &img, "--pin", cur, "--new", other],
            Op::Enroll if profile == "piv" => {
                let slots = ["9A", "9C", "9D", "9E", "82", "83", "84", "85"];
                let slot = slots[enrolls];
                vec![
                    "enroll",
                    &img,
                    "--pin",
                    cur,
                    "--key",
                    "p256",
                    "--container",
                    slot,
                    "--out",
                    out.to_str().unwrap(),
                ]
            }
            Op::Enroll => vec!["enroll", &img, "--pin", cur, "--out", out.to_str().unwrap()],
        }
        .into_iter()
        .map(str::to_owned)
        .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if op == Op::Enroll {
            enrolls += 1;
        }
        let delay = if rng.below(3) == 0 {
            rng.below(10)
        } else {
            10 + rng.below(190)
        };
        let mut child = command(&args).spawn().expect("start softcard");
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().expect("poll softcard");
        let acknowledged = match finished {
            Some(status) => Some(status.success()),
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                killed += 1;
                None
            }
        };

        // The image loads, and says what happened.
        let after = seen(&image);
        let context = format!(
            "{profile} round {round}: {op:?} after {delay} ms, acknowledged {acknowledged:?}, \
             tries {} -> {}",
            before.tries, after.tries
        );
        let with_right_pin = matches!(op, Op::RightPin | Op::ChangePin | Op::Enroll);
        assert!(
            after.tries <= before.tries || with_right_pin,
            "the retry counter went up without the right PIN: {context}"
        );
        if acknowledged == Some(true) && with_right_pin {
            assert_eq!(after.tries, limit, "{context}");
        }
        if op == Op::WrongPin && acknowledged.is_some() {
            assert_eq!(
                after.tries + 1,
                before.tries,
                "an answered wrong PIN spends one try: {context}"
            );
        }
        // The PIN is the old one or, once acknowledged, the new one; never anything else.
        let (old_ok, new_ok) = (pin_is(&image, aid, cur), pin_is(&image, aid, other));
        if op == Op::ChangePin && acknowledged == Some(true) {
            assert!(
                new_ok && !old_ok,
                "an acknowledged PIN change is kept: {context}"
            );
        }
        assert!(
            old_ok ^ new_ok,
            "the PIN is the old or the new one: {context}"
        );
        if new_ok {
            pin = 1 - pin;
        }
        if op == Op::Enroll && acknowledged == Some(true) {
            assert_eq!(
                after.keys,
                before.keys + 1,
                "an acknowledged key is kept: {context}"
            );
        } else {
            assert!(after.keys >= before.keys, "no key lost: {context}");
        }

        // The next command that opens the image for writing leaves no temporary image.
        assert!(
            run(&["pin", "verify", &img, "--pin", PINS[pin]]),
            "{context}"
        );
        let left = leftovers(&image);
        assert!(
            left.is_empty(),
            "temporary images left: {left:?} ({context})"
        );
    }
    (killed, round)
}

#[test]
fn killed_writes_lose_nothing_acknowledged_and_never_raise_the_retry_counter() {
    let (piv_killed, piv_rounds) = kill_loop("piv", 11);
    let (gids_killed, gids_rounds) = kill_loop("windows-vsc", 12);
    eprintln!(
        "kill test: {piv_killed} PIV commands killed in {piv_rounds} runs, {gids_killed} GIDS \
         commands killed in {gids_rounds} runs; nothing lost"
    );
}
