//! End to end through the real peer stack: `softcard serve` puts card images into
//! Debian's pcscd through vsmartcard's vpcd, and real clients (opensc-tool, pcsc_scan,
//! pyscard, the `pcsc` crate) use them. Skipped, with a message, where pcscd cannot run
//! (not root, packages missing); `SOFTCARD_E2E=require` turns that into a failure.
//!
//! Status words are checked where the card's answer is fixed today (SELECT of the PIV
//! application, an unknown instruction); the checks grow as the applets do.

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pcsc::{Context, MAX_BUFFER_SIZE, Protocols, ReaderState, Scope, ShareMode, State};
use softcard_test_support::{apdu, piv, sw, verify_command};
use softcard_tests::peer::{PeerStack, READER_0, READER_1, VPCD_PORT};
use softcard_tests::softcard_bin::{self, Serve};
use softcard_tests::wait;

const SELECT_PIV: &[u8] = piv::SELECT;
const BOGUS: &[u8] = apdu!("00 EE 00 00");
/// VERIFY without data: 9000 while the PIN is verified, 63Cx otherwise.
const PIN_STATUS: &[u8] = apdu!("00 20 00 80 00");
const LIMIT: Duration = Duration::from_secs(20);

fn vpcd_addr(offset: u16) -> String {
    format!("127.0.0.1:{}", VPCD_PORT + offset)
}

fn atr_of(image: &Path) -> String {
    let out = softcard_bin::run(&["info", image.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let at = text.find("\"atr\": \"").expect("atr in JSON") + 8;
    text[at..at + text[at..].find('"').unwrap()].to_string()
}

/// opensc-tool's ATR text (`3b:8d:...`) for reader `n`, once a card is there.
fn atr_in_reader(n: u8) -> Option<String> {
    let out = Command::new("opensc-tool")
        .args(["-r", &n.to_string(), "-a"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && text.contains(':')).then_some(text)
}

fn colon_hex(upper: &str) -> String {
    upper
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(":")
}

fn reader_state(ctx: &Context, reader: &str, want: State) -> bool {
    let mut rs = [ReaderState::new(
        CString::new(reader).unwrap(),
        State::UNAWARE,
    )];
    wait::until(LIMIT, || {
        ctx.get_status_change(Duration::from_millis(500), &mut rs)
            .ok()?;
        rs[0].sync_current_state();
        rs[0].event_state().contains(want).then_some(())
    })
    .is_some()
}

#[test]
fn tools_list_the_reader_and_read_the_atr() {
    let Some(_stack) = PeerStack::acquire("tools_list_the_reader_and_read_the_atr") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    softcard_bin::init(&image, "piv", 11);
    let _serve = Serve::start(&[&image], &vpcd_addr(0), &dir.path().join("serve.log"));
    let atr = wait::until(LIMIT, || atr_in_reader(0)).expect("card in reader 0");
    assert_eq!(atr, colon_hex(&atr_of(&image)));

    let list = Command::new("opensc-tool").arg("-l").output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let line = list
        .lines()
        .find(|l| l.contains(READER_0))
        .expect("reader listed");
    assert!(line.contains("Yes"), "card present: {line}");
    let scan = Command::new("timeout")
        .args(["10", "pcsc_scan", "-r"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&scan.stdout).contains(READER_0));
}

#[test]
fn pyscard_selects_piv_and_gets_6d00_for_an_unknown_instruction() {
    let Some(_stack) = PeerStack::acquire("pyscard_selects_piv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    softcard_bin::init(&image, "piv", 12);
    let _serve = Serve::start(&[&image], &vpcd_addr(0), &dir.path().join("serve.log"));
    wait::until(LIMIT, || atr_in_reader(0)).expect("card in reader 0");
    let script = format!(
        r#"
from smartcard.System import readers
r = [x for x in readers() if str(x) == "{READER_0}"][0]
c = r.createConnection()
c.connect()
for apdu in ({select:?}, {bogus:?}):
    data, sw1, sw2 = c.transmit(list(apdu))
    print("%02X%02X" % (sw1, sw2))
"#,
        select = SELECT_PIV.to_vec(),
        bogus = BOGUS.to_vec()
    );
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("run /usr/bin/python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pyscard: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["9000", "6D00"]);
}

#[test]
fn removal_is_seen_and_a_restart_reinserts_the_card() {
    let Some(_stack) = PeerStack::acquire("removal_is_seen") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    softcard_bin::init(&image, "piv", 13);
    let ctx = Context::establish(Scope::User).unwrap();
    let reader = CString::new(READER_0).unwrap();

    let mut serve = Serve::start(&[&image], &vpcd_addr(0), &dir.path().join("serve1.log"));
    assert!(
        reader_state(&ctx, READER_0, State::PRESENT),
        "card inserted"
    );
    let card = ctx
        .connect(&reader, ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    assert_eq!(sw(card.transmit(SELECT_PIV, &mut buf).unwrap()), 0x9000);

    assert!(
        serve.stop(),
        "serve exits cleanly on SIGTERM: {}",
        serve.log()
    );
    assert!(reader_state(&ctx, READER_0, State::EMPTY), "removal seen");
    assert_eq!(
        card.transmit(SELECT_PIV, &mut buf).err(),
        Some(pcsc::Error::RemovedCard)
    );
    // The image is current and loads.
    assert!(
        softcard_bin::run(&["info", image.to_str().unwrap()])
            .status
            .success()
    );

    let _serve = Serve::start(&[&image], &vpcd_addr(0), &dir.path().join("serve2.log"));
    assert!(
        reader_state(&ctx, READER_0, State::PRESENT),
        "card reinserted"
    );
    let card = ctx
        .connect(&reader, ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(sw(card.transmit(SELECT_PIV, &mut buf).unwrap()), 0x9000);
}

#[test]
fn serve_comes_back_after_a_pcscd_restart() {
    let Some(stack) = PeerStack::acquire("serve_comes_back_after_a_pcscd_restart") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    softcard_bin::init(&image, "piv", 18);
    let mut serve = Serve::start(&[&image], &vpcd_addr(0), &dir.path().join("serve.log"));
    let atr = wait::until(LIMIT, || atr_in_reader(0)).expect("card in reader 0");
    stack.restart();
    assert_eq!(
        wait::until(LIMIT, || atr_in_reader(0)),
        Some(atr),
        "{}",
        serve.log()
    );
    assert!(serve.running());
    assert!(serve.log().contains("reconnecting"), "{}", serve.log());
}

#[test]
fn two_images_fill_two_readers() {
    let Some(_stack) = PeerStack::acquire("two_images_fill_two_readers") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (piv, gids) = (dir.path().join("piv.img"), dir.path().join("vsc.img"));
    softcard_bin::init(&piv, "piv", 14);
    softcard_bin::init(&gids, "windows-vsc", 15);
    let _serve = Serve::start(&[&piv, &gids], &vpcd_addr(0), &dir.path().join("serve.log"));
    assert_eq!(
        wait::until(LIMIT, || atr_in_reader(0)).unwrap(),
        colon_hex(&atr_of(&piv))
    );
    assert_eq!(
        wait::until(LIMIT, || atr_in_reader(1)).unwrap(),
        colon_hex(&atr_of(&gids))
    );
    let list = Command::new("opensc-tool").arg("-l").output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains(READER_1));
}

/// Needs no pcscd: the test plays vpcd's part and sends malformed frames.
#[test]
fn garbage_frames_do_not_touch_the_card_image() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    softcard_bin::init(&image, "piv", 16);
    let before = std::fs::read(&image).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut serve = Serve::start(&[&image], &addr, &dir.path().join("serve.log"));

    for garbage in [
        &[0x00, 0x00][..],
        &[0x00, 0x01, 0x09],
        &[0x00, 0x03, 0x00, 0xA4, 0x04],
    ] {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(garbage).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut b = [0u8; 1];
        assert!(
            matches!(s.read(&mut b), Ok(0) | Err(_)),
            "connection dropped"
        );
    }
    let (mut s, _) = listener.accept().unwrap();
    let mut frame = (SELECT_PIV.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(SELECT_PIV);
    s.write_all(&frame).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut resp = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(sw(&resp), 0x9000);

    assert!(
        serve.stop_with("INT"),
        "SIGINT stops serve cleanly: {}",
        serve.log()
    );
    assert_eq!(
        serve.log().matches("dropping the connection").count(),
        3,
        "{}",
        serve.log()
    );
    assert_eq!(std::fs::read(&image).unwrap(), before);
}

#[test]
fn the_pcsc_crate_through_pcscd() {
    let Some(_stack) = PeerStack::acquire("the_pcsc_crate_through_pcscd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    softcard_bin::init(&image, "piv", 17);
    let _serve = Serve::start(&[&image], &vpcd_addr(0), &dir.path().join("serve.log"));
    let ctx = Context::establish(Scope::User).unwrap();
    assert!(reader_state(&ctx, READER_0, State::PRESENT));
    let names = ctx.list_readers_owned().unwrap();
    assert!(
        names.iter().any(|n| n.to_str() == Ok(READER_0)),
        "{names:?}"
    );

    let reader = CString::new(READER_0).unwrap();
    let mut card = ctx
        .connect(&reader, ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let expected_atr: Vec<u8> = (0..atr_of(&image).len() / 2)
        .map(|i| u8::from_str_radix(&atr_of(&image)[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(card.status2_owned().unwrap().atr(), expected_atr);
    // vpcd's driver answers no attribute: SCardGetAttrib gives SCARD_E_UNSUPPORTED_FEATURE.
    match card.get_attribute_owned(pcsc::Attribute::AtrString) {
        Ok(atr) => assert_eq!(atr, expected_atr),
        Err(e) => assert_eq!(e, pcsc::Error::UnsupportedFeature),
    }

    let mut buf = [0u8; MAX_BUFFER_SIZE];
    {
        let tx = card.transaction().unwrap();
        assert_eq!(sw(tx.transmit(SELECT_PIV, &mut buf).unwrap()), 0x9000);
        assert_eq!(sw(tx.transmit(BOGUS, &mut buf).unwrap()), 0x6D00);
        tx.end(pcsc::Disposition::LeaveCard)
            .map_err(|(_, e)| e)
            .unwrap();
    }

    // Round trip through pcscd and vpcd: measured and printed, not asserted.
    let mut times: Vec<Duration> = (0..400)
        .map(|_| {
            let t = Instant::now();
            let r = card.transmit(BOGUS, &mut buf).unwrap();
            let d = t.elapsed();
            assert_eq!(sw(r), 0x6D00);
            d
        })
        .collect();
    times.sort();
    println!(
        "APDU round trip through pcscd + vpcd: median {:.3} ms, p90 {:.3} ms (400 APDUs)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3
    );

    // A wrong PIN is counted, and on disk, before the card answers.
    let info = || text_of(&softcard_bin::run(&["info", image.to_str().unwrap()]).stdout);
    assert!(info().contains("PIN tries left: 3/3"), "{}", info());
    assert_eq!(sw(card.transmit(SELECT_PIV, &mut buf).unwrap()), 0x9000);
    assert_eq!(
        sw(card
            .transmit(&verify_command(b"87654321"), &mut buf)
            .unwrap()),
        0x63C2
    );
    assert!(info().contains("PIN tries left: 2/3"), "{}", info());
    assert_eq!(
        sw(card
            .transmit(&verify_command(b"12345678"), &mut buf)
            .unwrap()),
        0x9000
    );
    assert_eq!(sw(card.transmit(PIN_STATUS, &mut buf).unwrap()), 0x9000);
    // A reset through pcscd reaches the card: the PIN is no longer verified.
    card.reconnect(
        ShareMode::Shared,
        Protocols::ANY,
        pcsc::Disposition::ResetCard,
    )
    .unwrap();
    assert_eq!(sw(card.transmit(SELECT_PIV, &mut buf).unwrap()), 0x9000);
    assert_eq!(
        sw(card.transmit(PIN_STATUS, &mut buf).unwrap()) & 0xFFF0,
        0x63C0
    );
    card.disconnect(pcsc::Disposition::ResetCard)
        .map_err(|(_, e)| e)
        .unwrap();
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
