//! The vpcd bridge against a stand-in for vpcd: control codes, APDUs, malformed frames,
//! reconnection and stopping.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use softcard::tlv;
use softcard::{Card, CardOptions, MemoryStorage, Profile};
use softcard_pcsc::vpcd::{Bridge, BridgedCard, Options, Stats};
use softcard_test_support::{cmd, gids, piv, sw};

fn send(s: &mut TcpStream, body: &[u8]) {
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    s.write_all(&frame).unwrap();
}

fn recv(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).unwrap();
    body
}

fn exchange(s: &mut TcpStream, body: &[u8]) -> Vec<u8> {
    send(s, body);
    recv(s)
}

/// Waits until the bridge has closed its side (a read returns end of file).
fn closed_by_bridge(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

fn start() -> (
    TcpListener,
    MemoryStorage,
    thread::JoinHandle<(Stats, Card)>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let storage = MemoryStorage::new();
    let card = Card::create_seeded(
        &CardOptions::new(Profile::Piv),
        5,
        Box::new(storage.clone()),
    )
    .unwrap();
    let options = Options {
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        poll: Duration::from_millis(20),
        log: false,
        ..Options::default()
    };
    let mut bridge = Bridge::new(card, addr).with_options(options);
    let stop = bridge.stop_flag();
    let runner = thread::spawn(move || {
        bridge.run().unwrap();
        (bridge.stats(), bridge.into_card())
    });
    (listener, storage, runner, stop)
}

#[test]
fn answers_control_codes_and_apdus() {
    let (listener, _storage, runner, stop) = start();
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &[0x04]), Profile::Piv.atr());
    send(&mut s, &[0x01]);
    assert_eq!(sw(&exchange(&mut s, piv::SELECT)), 0x9000);
    assert_eq!(exchange(&mut s, &[0x00, 0xEE, 0x00, 0x00]), [0x6D, 0x00]);
    send(&mut s, &[0x02]);
    send(&mut s, &[0x00]);
    assert_eq!(exchange(&mut s, &[0x04]), Profile::Piv.atr());
    stop.store(true, Ordering::SeqCst);
    let (stats, card) = runner.join().unwrap();
    assert_eq!(
        stats,
        Stats {
            connections: 1,
            apdus: 2,
            dropped: 0
        }
    );
    assert!(!card.is_powered(), "the last control code powered it off");
}

#[test]
fn malformed_frames_drop_the_connection_and_leave_the_card_intact() {
    let (listener, storage, runner, stop) = start();
    let image = storage.image().unwrap();
    let writes = storage.writes();
    let garbage: [&[u8]; 5] = [
        &[0x00, 0x00],                   // empty frame
        &[0x00, 0x01, 0x07],             // unknown control code
        &[0x00, 0x02, 0xAA, 0xBB],       // too short for an APDU
        &[0x00, 0x10, 0x00, 0xA4, 0x04], // closed in the middle of a frame
        &[0xFF],                         // closed in the middle of a header
    ];
    for bytes in garbage {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(bytes).unwrap();
        if bytes.len() == 5 || bytes.len() == 1 {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        assert!(closed_by_bridge(&mut s));
    }
    // The bridge comes back and the card still works.
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(sw(&exchange(&mut s, piv::SELECT)), 0x9000);
    stop.store(true, Ordering::SeqCst);
    let (stats, card) = runner.join().unwrap();
    assert_eq!(stats.dropped, 5);
    assert_eq!(stats.connections, 6);
    assert_eq!(storage.image().unwrap(), image);
    assert_eq!(storage.writes(), writes);
    assert_eq!(card.image().unwrap(), image);
}

#[test]
fn reconnects_when_vpcd_comes_back() {
    let (listener, _storage, runner, stop) = start();
    let addr = listener.local_addr().unwrap();
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &[0x04]), Profile::Piv.atr());
    // pcscd stops: connection and listener go away, connection attempts fail for a while.
    drop(s);
    drop(listener);
    thread::sleep(Duration::from_millis(150));
    let listener = TcpListener::bind(addr).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(sw(&exchange(&mut s, piv::SELECT)), 0x9000);
    stop.store(true, Ordering::SeqCst);
    let (stats, _) = runner.join().unwrap();
    assert!(stats.connections >= 2);
    assert_eq!(stats.dropped, 0);
}

#[test]
fn stops_while_waiting_for_vpcd() {
    let (listener, _storage, runner, stop) = start();
    drop(listener);
    thread::sleep(Duration::from_millis(30));
    stop.store(true, Ordering::SeqCst);
    let (stats, _) = runner.join().unwrap();
    assert!(stats.connections <= 1);
}

/// A bridge with a fresh PIV card connecting to `listener`, run on a thread until its stop
/// flag is raised; the thread returns the bridge's counters.
fn bridge_to(
    listener: &TcpListener,
    seed: u64,
    options: Options,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread::JoinHandle<Stats>,
) {
    let card = Card::create_seeded(
        &CardOptions::new(Profile::Piv),
        seed,
        Box::new(MemoryStorage::new()),
    )
    .unwrap();
    bridge_card_to(listener, card, options)
}

/// A bridge connecting `card` to `listener`, run on a thread until its stop flag is raised;
/// the thread returns the bridge's counters.
fn bridge_card_to(
    listener: &TcpListener,
    card: Card,
    options: Options,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread::JoinHandle<Stats>,
) {
    let mut bridge =
        Bridge::new(card, listener.local_addr().unwrap().to_string()).with_options(options);
    let stop = bridge.stop_flag();
    let runner = thread::spawn(move || {
        bridge.run().unwrap();
        bridge.stats()
    });
    (stop, runner)
}

#[test]
fn an_oversized_frame_drops_the_connection_before_reading_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        max_frame: 300,
        log: false,
        poll: Duration::from_millis(20),
        ..Options::default()
    };
    let (stop, runner) = bridge_to(&listener, 6, options);
    let (mut s, _) = listener.accept().unwrap();
    // Announce 301 bytes and send none: the bridge must not wait for them.
    s.write_all(&301u16.to_be_bytes()).unwrap();
    assert!(closed_by_bridge(&mut s));
    let (mut s, _) = listener.accept().unwrap();
    let mut long = vec![0x00, 0xA4, 0x04, 0x00, 0xFF];
    long.extend_from_slice(&[0xA0; 255]);
    assert_eq!(
        sw(&exchange(&mut s, &long)),
        0x6A82,
        "a long frame within the limit is served"
    );
    stop.store(true, Ordering::SeqCst);
    let stats = runner.join().unwrap();
    assert_eq!(stats.dropped, 1);
}

#[test]
fn a_connection_vpcd_never_talks_on_is_made_again() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        first_frame_timeout: Duration::from_millis(300),
        backoff_min: Duration::from_millis(10),
        poll: Duration::from_millis(20),
        log: false,
        ..Options::default()
    };
    let (stop, runner) = bridge_to(&listener, 7, options);
    // A vpcd that accepts but never asks anything: the bridge gives up on the connection...
    let (mut silent, _) = listener.accept().unwrap();
    assert!(closed_by_bridge(&mut silent));
    // ...and connects again; a connection that is spoken to stays, quiet or not.
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &[0x04]), Profile::Piv.atr());
    thread::sleep(Duration::from_millis(600));
    assert_eq!(sw(&exchange(&mut s, piv::SELECT)), 0x9000);
    stop.store(true, Ordering::SeqCst);
    let stats = runner.join().unwrap();
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.dropped, 0);
}

#[test]
fn a_new_connection_finds_the_pin_unverified() {
    let (listener, _storage, runner, stop) = start();
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &[0x04]), Profile::Piv.atr());
    send(&mut s, &[0x01]);
    assert_eq!(sw(&exchange(&mut s, piv::SELECT)), 0x9000);
    assert_eq!(sw(&exchange(&mut s, piv::VERIFY_DEFAULT_PIN)), 0x9000);
    let status = [0x00, 0x20, 0x00, 0x80];
    assert_eq!(sw(&exchange(&mut s, &status)), 0x9000, "verified");
    // The card leaves the reader without a power-off frame (vpcd closes the socket)...
    drop(s);
    // ...and comes back. pcscd may not have noticed the removal (it polls every 400 ms)
    // and sends no power-on: the card was powered off when it left, so the PIN must be
    // verified again all the same.
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &[0x04]), Profile::Piv.atr());
    assert_eq!(sw(&exchange(&mut s, piv::SELECT)), 0x9000);
    assert_eq!(
        sw(&exchange(&mut s, &status)) & 0xFFF0,
        0x63C0,
        "a card that left the reader keeps no security state"
    );
    stop.store(true, Ordering::SeqCst);
    let (stats, _) = runner.join().unwrap();
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.dropped, 0);
}

/// GET DATA of the object [`card_with_large_object`] fills, extended Le (65536).
fn get_large_object() -> Vec<u8> {
    cmd(
        0xCB,
        0x3F,
        0xFF,
        &[0x5C, 0x03, 0x5F, 0xC1, 0x05],
        Some(65536),
    )
}

/// A PIV card whose certificate object 5FC105 holds 60,000 bytes: GET DATA of it answers a
/// large response.
fn card_with_large_object(seed: u64) -> Card {
    let (mut card, _) = softcard_test_support::piv_card(seed);
    piv::select(&mut card);
    piv::authenticate(&mut card);
    let mut data = vec![0x5C, 0x03, 0x5F, 0xC1, 0x05];
    data.extend_from_slice(&tlv::encode(0x53, &[0x5A; 60_000]));
    piv::ok(&mut card, 0xDB, 0x3F, 0xFF, &data);
    card
}

/// A wedged vpcd: sends command after command with large responses and reads nothing, until
/// the bridge stops reading commands too (it is stuck writing a response to us) and our own
/// write times out (or fails, once the bridge gave up on us).
fn wedge(s: &mut TcpStream) {
    let get = get_large_object();
    let mut batch = Vec::new();
    for _ in 0..16 {
        batch.extend_from_slice(&(get.len() as u16).to_be_bytes());
        batch.extend_from_slice(&get);
    }
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    for _ in 0..100_000 {
        if s.write_all(&batch).is_err() {
            return;
        }
    }
    panic!("the bridge kept reading commands while its responses went unread");
}

#[test]
fn a_stop_is_honoured_while_vpcd_reads_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        // Far beyond the test's patience: only the stop flag can end the write.
        write_stall: Duration::from_secs(600),
        poll: Duration::from_millis(20),
        log: false,
        ..Options::default()
    };
    let (stop, runner) = bridge_card_to(&listener, card_with_large_object(8), options);
    let (mut s, _) = listener.accept().unwrap();
    wedge(&mut s);
    stop.store(true, Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(runner.join().unwrap()));
    let stats = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the bridge returned once its stop flag was raised");
    assert_eq!(stats.connections, 1);
    assert!(stats.apdus >= 1);
    drop(s);
}

#[test]
fn a_vpcd_that_reads_nothing_is_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        write_stall: Duration::from_millis(300),
        poll: Duration::from_millis(20),
        backoff_min: Duration::from_millis(10),
        log: false,
        ..Options::default()
    };
    let (stop, runner) = bridge_card_to(&listener, card_with_large_object(9), options);
    let (mut s, _) = listener.accept().unwrap();
    wedge(&mut s);
    // The bridge gives up on the connection and connects again.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(listener.accept().map(|(c, _)| c)));
    let mut again = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the bridge dropped the wedged connection and connected again")
        .unwrap();
    assert_eq!(sw(&exchange(&mut again, piv::SELECT)), 0x9000);
    stop.store(true, Ordering::SeqCst);
    let stats = runner.join().unwrap();
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.dropped, 1);
    drop(s);
}

#[test]
fn a_response_longer_than_a_frame_is_chained_with_get_response() {
    // Two 40,000-byte data objects in one EF: GET DATA of all of them answers over 80,000 bytes,
    // more than a vpcd frame (65,535 bytes) carries.
    let (mut card, _) = softcard_test_support::gids_card(10);
    gids::select(&mut card);
    gids::verify_pin(&mut card);
    assert_eq!(
        gids::put_do(&mut card, 0xA010, 0xDF20, &[0x11; 40_000]),
        0x9000
    );
    assert_eq!(
        gids::put_do(&mut card, 0xA010, 0xDF21, &[0x22; 40_000]),
        0x9000
    );
    let get_all = cmd(0xCB, 0xA0, 0x10, &[0x5C, 0x00], Some(65536));
    let (expected, status) = softcard_test_support::send(&mut card, &get_all);
    assert_eq!(status, 0x9000);
    assert!(expected.len() > 80_000);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        poll: Duration::from_millis(20),
        log: false,
        ..Options::default()
    };
    let (stop, runner) = bridge_card_to(&listener, card, options);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &[0x04]), Profile::WindowsVsc.atr());
    send(&mut s, &[0x01]);
    assert_eq!(sw(&exchange(&mut s, gids::SELECT)), 0x9000);
    // Extended Le 0000 asks for 65,536 bytes: the card answers as many as a frame holds and
    // keeps the rest for GET RESPONSE.
    let first = exchange(&mut s, &get_all);
    assert_eq!(first.len(), 65_535);
    assert_eq!(sw(&first), 0x6100, "more data");
    let mut data = first[..first.len() - 2].to_vec();
    let rest = exchange(&mut s, &cmd(0xC0, 0x00, 0x00, &[], Some(65536)));
    assert_eq!(sw(&rest), 0x9000);
    data.extend_from_slice(&rest[..rest.len() - 2]);
    assert_eq!(data, expected);
    // The connection stays: the card is still in the reader and answers.
    assert_eq!(exchange(&mut s, &[0x04]), Profile::WindowsVsc.atr());
    assert_eq!(sw(&exchange(&mut s, gids::SELECT)), 0x9000);
    stop.store(true, Ordering::SeqCst);
    let stats = runner.join().unwrap();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.dropped, 0);
}

/// A card that ignores Ne: GET DATA answers 70,000 bytes and 9000 whatever Le says.
struct Verbose;

impl BridgedCard for Verbose {
    fn power_on(&mut self) {}
    fn power_off(&mut self) {}
    fn reset(&mut self) {}
    fn atr(&self) -> Vec<u8> {
        Profile::Piv.atr().to_vec()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, softcard_pcsc::Error> {
        let mut r = if apdu.get(1) == Some(&0xCB) {
            vec![0x5A; 70_000]
        } else {
            Vec::new()
        };
        r.extend_from_slice(&[0x90, 0x00]);
        Ok(r)
    }
}

#[test]
fn a_response_past_ne_and_a_frame_answers_wrong_length_and_keeps_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        poll: Duration::from_millis(20),
        log: false,
        ..Options::default()
    };
    let mut bridge =
        Bridge::new(Verbose, listener.local_addr().unwrap().to_string()).with_options(options);
    let stop = bridge.stop_flag();
    let runner = thread::spawn(move || {
        bridge.run().unwrap();
        bridge.stats()
    });
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(exchange(&mut s, &get_large_object()), [0x67, 0x00]);
    assert_eq!(exchange(&mut s, piv::SELECT), [0x90, 0x00]);
    stop.store(true, Ordering::SeqCst);
    let stats = runner.join().unwrap();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.dropped, 0);
}
