//! The registry seen through the pcsc-shaped API: insertion and removal, share modes,
//! transactions, dispositions.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use softcard::{CardOptions, NoStorage, Profile};
use softcard_pcsc::{
    Attribute, Context, Disposition, Error, MAX_BUFFER_SIZE, PNP_NOTIFICATION, Protocol, Protocols,
    ReaderState, Registry, Scope, ShareMode, State, Status,
};

const SELECT_PIV: [u8; 14] = [
    0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
];
/// The first command of a chain (CLA bit 0x10): the card keeps it until the chain ends.
const CHAIN_START: [u8; 6] = [0x10, 0xCB, 0x3F, 0xFF, 0x01, 0x00];
/// A command with another header: the card answers 6883 while a chain is pending.
const OTHER: [u8; 5] = [0x00, 0x20, 0x00, 0x80, 0x00];

fn new_card() -> softcard::Card {
    softcard::Card::create_seeded(&CardOptions::new(Profile::Piv), 7, Box::new(NoStorage)).unwrap()
}

fn setup(reader: &str) -> (Registry, Context) {
    let reg = Registry::new();
    reg.insert_card(reader, new_card()).unwrap();
    let ctx = reg.establish(Scope::User).unwrap();
    (reg, ctx)
}

fn sw(resp: &[u8]) -> u16 {
    u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]])
}

fn send(card: &softcard_pcsc::Card, apdu: &[u8]) -> Result<u16, Error> {
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    card.transmit(apdu, &mut buf).map(sw)
}

#[test]
fn select_through_the_api() {
    let (_reg, ctx) = setup("R");
    let card = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(send(&card, &SELECT_PIV), Ok(0x9000));
    assert_eq!(send(&card, &[0x00, 0xEE, 0x00, 0x00]), Ok(0x6D00));
    let st = card.status2_owned().unwrap();
    assert_eq!(st.atr(), Profile::Piv.atr());
    assert_eq!(st.protocol2(), Some(Protocol::T1));
    assert!(st.status().contains(Status::PRESENT | Status::POWERED));
    assert_eq!(st.reader_names(), [c"R".to_owned()]);
    assert_eq!(
        card.get_attribute_owned(Attribute::AtrString).unwrap(),
        Profile::Piv.atr()
    );
    let mut small = [0u8; 2];
    assert_eq!(
        card.get_attribute(Attribute::AtrString, &mut small),
        Err(Error::InsufficientBuffer)
    );
    assert_eq!(
        card.get_attribute_owned(Attribute::MaxClk),
        Err(Error::UnsupportedFeature)
    );
    let mut tiny = [0u8; 1];
    let (err, needed) = card.transmit2(&SELECT_PIV, &mut tiny).unwrap_err();
    assert_eq!(err, Error::InsufficientBuffer);
    assert!(needed >= 2, "the length needed is given");
    let mut exact = vec![0u8; needed];
    assert_eq!(sw(card.transmit(&SELECT_PIV, &mut exact).unwrap()), 0x9000);
    let (mut names, mut atr) = (vec![0u8; 64], [0u8; 33]);
    let st = card.status2(&mut names, &mut atr).unwrap();
    assert_eq!(st.reader_names().collect::<Vec<_>>(), [c"R"]);
    assert_eq!(card.status2_len().unwrap(), (3, Profile::Piv.atr().len()));
}

#[test]
fn listing_readers() {
    let reg = Registry::new();
    let ctx = reg.establish(Scope::System).unwrap();
    assert_eq!(ctx.list_readers_len().unwrap(), 0);
    assert_eq!(ctx.list_readers(&mut [0u8; 4]).unwrap().count(), 0);
    reg.add_reader("A").unwrap();
    reg.insert_card("B", new_card()).unwrap();
    assert_eq!(reg.add_reader("A"), Err(Error::DuplicateReader));
    assert_eq!(ctx.list_readers_len().unwrap(), 5);
    let mut buf = [0u8; 5];
    assert_eq!(
        ctx.list_readers(&mut buf).unwrap().collect::<Vec<_>>(),
        [c"A", c"B"]
    );
    assert!(matches!(
        ctx.list_readers(&mut [0u8; 4]),
        Err(Error::InsufficientBuffer)
    ));
    assert_eq!(
        ctx.list_readers_owned().unwrap(),
        [c"A".to_owned(), c"B".to_owned()]
    );
    assert_eq!(
        ctx.connect(c"A", ShareMode::Shared, Protocols::ANY).err(),
        Some(Error::NoSmartcard)
    );
    assert_eq!(
        ctx.connect(c"C", ShareMode::Shared, Protocols::ANY).err(),
        Some(Error::UnknownReader)
    );
    assert_eq!(
        ctx.connect(c"B", ShareMode::Shared, Protocols::T0).err(),
        Some(Error::ProtoMismatch)
    );
    let direct = ctx
        .connect(c"A", ShareMode::Direct, Protocols::UNDEFINED)
        .unwrap();
    assert_eq!(send(&direct, &SELECT_PIV), Err(Error::ProtoMismatch));
}

#[test]
fn insertion_and_removal_are_seen_by_status_change_and_handles() {
    let reg = Registry::new();
    reg.add_reader("R").unwrap();
    let ctx = reg.establish(Scope::User).unwrap();
    let mut rs = [ReaderState::new(c"R", State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert!(rs[0].event_state().contains(State::EMPTY | State::CHANGED));
    assert_eq!(rs[0].event_count(), 0);
    rs[0].sync_current_state();
    assert_eq!(
        ctx.get_status_change(Duration::ZERO, &mut rs),
        Err(Error::Timeout)
    );

    let inserter = {
        let reg = reg.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            reg.insert_card("R", new_card()).unwrap();
        })
    };
    ctx.get_status_change(None, &mut rs).unwrap();
    inserter.join().unwrap();
    assert!(
        rs[0]
            .event_state()
            .contains(State::PRESENT | State::CHANGED)
    );
    assert!(!rs[0].event_state().contains(State::EMPTY));
    assert_eq!(rs[0].event_count(), 1);
    assert_eq!(rs[0].atr(), Profile::Piv.atr());
    rs[0].sync_current_state();

    let mut card = ctx.connect(c"R", ShareMode::Shared, Protocols::T1).unwrap();
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert!(rs[0].event_state().contains(State::INUSE));
    rs[0].sync_current_state();

    let removed = reg.remove_card("R").unwrap();
    assert_eq!(removed.profile(), Profile::Piv);
    assert_eq!(send(&card, &SELECT_PIV), Err(Error::RemovedCard));
    assert_eq!(card.status2_owned().err(), Some(Error::RemovedCard));
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert!(rs[0].event_state().contains(State::EMPTY | State::CHANGED));
    assert_eq!(rs[0].event_count(), 2);
    assert_eq!(reg.remove_card("R").err(), Some(Error::NoSmartcard));

    assert_eq!(
        card.reconnect(ShareMode::Shared, Protocols::T1, Disposition::LeaveCard),
        Err(Error::NoSmartcard)
    );
    reg.insert_card("R", removed).unwrap();
    assert_eq!(
        send(&card, &SELECT_PIV),
        Err(Error::RemovedCard),
        "a new card needs a reconnect"
    );
    card.reconnect(ShareMode::Shared, Protocols::T1, Disposition::LeaveCard)
        .unwrap();
    assert_eq!(send(&card, &SELECT_PIV), Ok(0x9000));
}

#[test]
fn unknown_reader_and_pnp_notification() {
    let reg = Registry::new();
    reg.add_reader("one").unwrap();
    let ctx = reg.establish(Scope::User).unwrap();
    let mut rs = [
        ReaderState::new(c"nope", State::UNAWARE),
        ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE),
    ];
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert_eq!(rs[0].event_state(), State::UNKNOWN | State::CHANGED);
    assert_eq!(
        rs[1].event_state(),
        State::CHANGED,
        "one reader, PnP state differs from 0"
    );
    assert_eq!(rs[1].event_count(), 1);
    for r in &mut rs {
        r.sync_current_state();
    }
    assert_eq!(
        ctx.get_status_change(Duration::ZERO, &mut rs),
        Err(Error::Timeout)
    );
    let adder = {
        let reg = reg.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            reg.add_reader("two").unwrap();
        })
    };
    ctx.get_status_change(Duration::from_secs(60), &mut rs)
        .unwrap();
    adder.join().unwrap();
    assert!(rs[1].event_state().contains(State::CHANGED));
    assert_eq!(rs[1].event_count(), 2);
    assert!(!rs[0].event_state().contains(State::CHANGED));
}

#[test]
fn cancel_ends_a_blocked_wait() {
    let (_reg, ctx) = setup("R");
    let mut rs = [ReaderState::new(c"R", State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    rs[0].sync_current_state();
    let done = Arc::new(AtomicBool::new(false));
    let canceller = {
        let (ctx, done) = (ctx.clone(), done.clone());
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                ctx.cancel().unwrap();
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    assert_eq!(ctx.get_status_change(None, &mut rs), Err(Error::Cancelled));
    done.store(true, Ordering::SeqCst);
    canceller.join().unwrap();
}

#[test]
fn exclusive_connections_are_exclusive() {
    let (_reg, ctx) = setup("R");
    let other = _reg.establish(Scope::User).unwrap();
    let excl = ctx
        .connect(c"R", ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
    assert_eq!(
        other.connect(c"R", ShareMode::Shared, Protocols::ANY).err(),
        Some(Error::SharingViolation)
    );
    assert_eq!(
        other
            .connect(c"R", ShareMode::Exclusive, Protocols::ANY)
            .err(),
        Some(Error::SharingViolation)
    );
    let mut rs = [ReaderState::new(c"R", State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert!(
        rs[0]
            .event_state()
            .contains(State::EXCLUSIVE | State::INUSE | State::PRESENT)
    );
    excl.disconnect(Disposition::LeaveCard).unwrap();

    let mut shared = other
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(
        ctx.connect(c"R", ShareMode::Exclusive, Protocols::ANY)
            .err(),
        Some(Error::SharingViolation)
    );
    // The only connection may turn exclusive.
    shared
        .reconnect(ShareMode::Exclusive, Protocols::ANY, Disposition::LeaveCard)
        .unwrap();
    assert_eq!(
        ctx.connect(c"R", ShareMode::Shared, Protocols::ANY).err(),
        Some(Error::SharingViolation)
    );
    drop(shared);
    ctx.connect(c"R", ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
}

#[test]
fn transactions_exclude_other_connections_across_threads() {
    let (reg, ctx) = setup("R");
    let mut a = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let tx = a.transaction().unwrap();
    assert_eq!(send(&tx, &SELECT_PIV), Ok(0x9000));

    let (acquired_tx, acquired) = mpsc::channel();
    let waiter = {
        let reg = reg.clone();
        thread::spawn(move || {
            let ctx = reg.establish(Scope::User).unwrap();
            let mut b = ctx
                .connect(c"R", ShareMode::Shared, Protocols::ANY)
                .unwrap();
            assert_eq!(
                send(&b, &SELECT_PIV),
                Err(Error::SharingViolation),
                "A holds the transaction"
            );
            let tx = b.transaction().unwrap();
            acquired_tx.send(()).unwrap();
            assert_eq!(send(&tx, &SELECT_PIV), Ok(0x9000));
            tx.end(Disposition::LeaveCard).map_err(|(_, e)| e).unwrap();
            // Dropping would reset the card (as pcsc does); leave it as it is.
            b.disconnect(Disposition::LeaveCard)
                .map_err(|(_, e)| e)
                .unwrap();
        })
    };
    assert!(
        acquired.recv_timeout(Duration::from_millis(200)).is_err(),
        "B began while A held the transaction"
    );
    tx.end(Disposition::LeaveCard).map_err(|(_, e)| e).unwrap();
    acquired.recv().unwrap();
    waiter.join().unwrap();
    // Ending twice: nothing to end.
    a.transaction().unwrap();
    assert_eq!(send(&a, &SELECT_PIV), Ok(0x9000));
}

#[test]
fn transactions_never_overlap_under_contention() {
    let (reg, _ctx) = setup("R");
    let inside = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (reg, inside, rounds) = (reg.clone(), inside.clone(), rounds.clone());
            thread::spawn(move || {
                let ctx = reg.establish(Scope::User).unwrap();
                let mut card = ctx
                    .connect(c"R", ShareMode::Shared, Protocols::ANY)
                    .unwrap();
                for _ in 0..25 {
                    let tx = card.transaction().unwrap();
                    assert!(
                        !inside.swap(true, Ordering::SeqCst),
                        "two transactions at once"
                    );
                    assert_eq!(send(&tx, &SELECT_PIV), Ok(0x9000));
                    thread::yield_now();
                    inside.store(false, Ordering::SeqCst);
                    rounds.fetch_add(1, Ordering::SeqCst);
                    drop(tx);
                }
                card.disconnect(Disposition::LeaveCard)
                    .map_err(|(_, e)| e)
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(rounds.load(Ordering::SeqCst), 100);
}

#[test]
fn reset_disposition_clears_volatile_state_and_tells_other_handles() {
    let (reg, ctx) = setup("R");
    let a = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let mut b = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(send(&a, &CHAIN_START), Ok(0x9000));
    // Leaving the card keeps the pending chain...
    let c = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    c.disconnect(Disposition::LeaveCard).unwrap();
    assert_eq!(send(&b, &OTHER), Ok(0x6883));
    assert_eq!(send(&a, &CHAIN_START), Ok(0x9000));
    // ...a reset clears it, and the other connections learn of the reset.
    a.disconnect(Disposition::ResetCard).unwrap();
    assert_eq!(send(&b, &OTHER), Err(Error::ResetCard));
    assert_eq!(send(&b, &OTHER), Err(Error::ResetCard), "until reconnected");
    b.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
        .unwrap();
    assert_ne!(send(&b, &OTHER), Ok(0x6883));

    // Dropping a connection resets the card too, as pcsc does.
    assert_eq!(send(&b, &CHAIN_START), Ok(0x9000));
    let d = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    drop(d);
    b.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
        .unwrap();
    assert_ne!(send(&b, &OTHER), Ok(0x6883));

    // Unpower powers the card off.
    b.disconnect(Disposition::UnpowerCard).unwrap();
    assert!(!reg.with_card("R", |c| c.is_powered()).unwrap());
    let mut rs = [ReaderState::new(c"R", State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
    assert!(
        rs[0]
            .event_state()
            .contains(State::UNPOWERED | State::PRESENT)
    );
    let e = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert!(
        reg.with_card("R", |c| c.is_powered()).unwrap(),
        "connect powers the card"
    );
    drop(e);
}

#[test]
fn ending_a_transaction_with_reset() {
    let (_reg, ctx) = setup("R");
    let mut a = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let b = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let tx = a.transaction().unwrap();
    assert_eq!(send(&tx, &CHAIN_START), Ok(0x9000));
    tx.end(Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    assert_ne!(send(&a, &OTHER), Ok(0x6883), "the resetting handle goes on");
    assert!(send(&a, &OTHER).is_ok());
    assert_eq!(send(&b, &OTHER), Err(Error::ResetCard));
}

#[test]
fn releasing_a_context() {
    let (_reg, ctx) = setup("R");
    let card = ctx
        .connect(c"R", ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
    let (ctx, err) = ctx.release().unwrap_err();
    assert_eq!(err, Error::CantDispose);
    drop(card);
    ctx.is_valid().unwrap();
    ctx.release().unwrap();
    let again = _reg.establish(Scope::User).unwrap();
    again
        .connect(c"R", ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
}

#[test]
fn a_reset_forgets_the_verified_pin() {
    const VERIFY_PIN: [u8; 13] = [
        0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8',
    ];
    /// VERIFY without data: 9000 while the PIN is verified, 63Cx otherwise.
    const PIN_STATUS: [u8; 5] = [0x00, 0x20, 0x00, 0x80, 0x00];
    let (_reg, ctx) = setup("R");
    let mut a = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(send(&a, &SELECT_PIV), Ok(0x9000));
    assert_eq!(send(&a, &VERIFY_PIN), Ok(0x9000));
    assert_eq!(send(&a, &PIN_STATUS), Ok(0x9000));
    let tx = a.transaction().unwrap();
    tx.end(Disposition::LeaveCard).map_err(|(_, e)| e).unwrap();
    assert_eq!(
        send(&a, &PIN_STATUS),
        Ok(0x9000),
        "leaving the card keeps the PIN verified"
    );
    let tx = a.transaction().unwrap();
    tx.end(Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    assert_eq!(send(&a, &SELECT_PIV), Ok(0x9000));
    assert_eq!(
        send(&a, &PIN_STATUS).map(|sw| sw & 0xFFF0),
        Ok(0x63C0),
        "a reset forgets the PIN"
    );
}
