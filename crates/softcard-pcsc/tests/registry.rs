//! The registry seen through the pcsc-shaped API: readers, insertion and removal, status
//! changes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{SELECT_PIV, new_card, send, setup, sw};
use softcard::Profile;
use softcard_pcsc::{
    Attribute, Disposition, Error, PNP_NOTIFICATION, Protocol, Protocols, ReaderState, Registry,
    Scope, ShareMode, State, Status,
};

#[test]
fn select_through_the_api() {
    let (_reg, ctx) = setup("R");
    let card = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
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
    let (err, needed) = card.transmit2(SELECT_PIV, &mut tiny).unwrap_err();
    assert_eq!(err, Error::InsufficientBuffer);
    assert!(needed >= 2, "the length needed is given");
    let mut exact = vec![0u8; needed];
    assert_eq!(sw(card.transmit(SELECT_PIV, &mut exact).unwrap()), 0x9000);
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
    assert_eq!(send(&direct, SELECT_PIV), Err(Error::ProtoMismatch));
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
    assert_eq!(send(&card, SELECT_PIV), Err(Error::RemovedCard));
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
        send(&card, SELECT_PIV),
        Err(Error::RemovedCard),
        "a new card needs a reconnect"
    );
    card.reconnect(ShareMode::Shared, Protocols::T1, Disposition::LeaveCard)
        .unwrap();
    assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
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
    // Without a reader count, PnP reports changes during the call, not what exists.
    assert_eq!(rs[1].event_state(), State::UNAWARE);
    assert_eq!(rs[1].event_count(), 1);
    for r in &mut rs {
        r.sync_current_state();
    }
    assert_eq!(
        ctx.get_status_change(Duration::ZERO, &mut rs),
        Err(Error::Timeout)
    );
    // A caller whose count is out of date hears of it at once.
    let mut stale = [ReaderState::new(
        PNP_NOTIFICATION(),
        State::from_bits_retain(5 << 16),
    )];
    ctx.get_status_change(Duration::ZERO, &mut stale).unwrap();
    assert!(stale[0].event_state().contains(State::CHANGED));
    assert_eq!(stale[0].event_count(), 1);
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
