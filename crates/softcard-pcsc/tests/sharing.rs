//! Sharing a card: exclusive connections, transactions across threads, dispositions.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use common::{CHAIN_START, OTHER, SELECT_PIV, send, setup};
use softcard_pcsc::{Disposition, Error, Protocols, ReaderState, Scope, ShareMode, State};

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
    assert_eq!(send(&tx, SELECT_PIV), Ok(0x9000));

    let (acquired_tx, acquired) = mpsc::channel();
    let waiter = {
        let reg = reg.clone();
        thread::spawn(move || {
            let ctx = reg.establish(Scope::User).unwrap();
            let mut b = ctx
                .connect(c"R", ShareMode::Shared, Protocols::ANY)
                .unwrap();
            assert_eq!(
                send(&b, SELECT_PIV),
                Err(Error::SharingViolation),
                "A holds the transaction"
            );
            let tx = b.transaction().unwrap();
            acquired_tx.send(()).unwrap();
            assert_eq!(send(&tx, SELECT_PIV), Ok(0x9000));
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
    assert_eq!(send(&a, SELECT_PIV), Ok(0x9000));
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
                    assert_eq!(send(&tx, SELECT_PIV), Ok(0x9000));
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
    assert_eq!(send(&a, CHAIN_START), Ok(0x9000));
    // Leaving the card keeps the pending chain...
    let c = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    c.disconnect(Disposition::LeaveCard).unwrap();
    assert_eq!(send(&b, OTHER), Ok(0x6883));
    assert_eq!(send(&a, CHAIN_START), Ok(0x9000));
    // ...a reset clears it, and the other connections learn of the reset.
    a.disconnect(Disposition::ResetCard).unwrap();
    assert_eq!(send(&b, OTHER), Err(Error::ResetCard));
    assert_eq!(send(&b, OTHER), Err(Error::ResetCard), "until reconnected");
    b.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
        .unwrap();
    assert_ne!(send(&b, OTHER), Ok(0x6883));

    // Dropping a connection resets the card too, as pcsc does.
    assert_eq!(send(&b, CHAIN_START), Ok(0x9000));
    let d = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    drop(d);
    b.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
        .unwrap();
    assert_ne!(send(&b, OTHER), Ok(0x6883));

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
    assert_eq!(send(&tx, CHAIN_START), Ok(0x9000));
    tx.end(Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    assert_ne!(send(&a, OTHER), Ok(0x6883), "the resetting handle goes on");
    assert!(send(&a, OTHER).is_ok());
    assert_eq!(send(&b, OTHER), Err(Error::ResetCard));
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
    assert_eq!(send(&a, SELECT_PIV), Ok(0x9000));
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
    assert_eq!(send(&a, SELECT_PIV), Ok(0x9000));
    assert_eq!(
        send(&a, &PIN_STATUS).map(|sw| sw & 0xFFF0),
        Ok(0x63C0),
        "a reset forgets the PIN"
    );
}

/// What a vpcd bridge sends from pcscd's side waits out a registry connection's
/// transaction, and a reset from that side reaches the registry's connections.
#[test]
fn commands_from_outside_wait_for_the_transaction_and_resets_reach_connections() {
    let (reg, ctx) = setup("R");
    let mut card = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let tx = card.transaction().unwrap();
    assert_eq!(send(&tx, CHAIN_START), Ok(0x9000));
    let (done_tx, done) = mpsc::channel();
    let outside = reg.clone();
    let t = thread::spawn(move || {
        let r = outside.transmit_between_transactions("R", OTHER).unwrap();
        done_tx.send(r).unwrap();
    });
    assert!(
        done.recv_timeout(Duration::from_millis(300)).is_err(),
        "a command from outside landed inside the transaction"
    );
    // The chain is intact, then the transaction ends and the outside command runs.
    assert_eq!(send(&tx, OTHER), Ok(0x6883));
    tx.end(Disposition::LeaveCard).unwrap();
    let response = done.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(response[response.len() - 2..], [0x63, 0xC3]);
    t.join().unwrap();

    reg.dispose("R", Disposition::ResetCard).unwrap();
    assert_eq!(send(&card, OTHER), Err(Error::ResetCard));
    assert_eq!(
        reg.dispose("nope", Disposition::ResetCard),
        Err(Error::UnknownReader)
    );
}

/// Whether the PIN stays verified across a new connection. On the generic `piv` card the
/// security state lives until the card is reset: disconnect with `LeaveCard`, connect,
/// SELECT keeps the PIN verified; `ResetCard` forgets it. A YubiKey forgets it at SELECT of
/// PIV (the next test).
#[test]
fn the_pin_stays_verified_after_leave_card_reconnect_and_select_not_after_reset() {
    const VERIFY_PIN: &[u8] = softcard_test_support::piv::VERIFY_DEFAULT_PIN;
    const PIN_STATUS: [u8; 5] = [0x00, 0x20, 0x00, 0x80, 0x00];
    let (_reg, ctx) = setup("R");
    let connect_and_select = || {
        let card = ctx
            .connect(c"R", ShareMode::Shared, Protocols::ANY)
            .unwrap();
        assert_eq!(send(&card, SELECT_PIV), Ok(0x9000));
        card
    };
    let a = connect_and_select();
    assert_eq!(send(&a, VERIFY_PIN), Ok(0x9000));
    a.disconnect(Disposition::LeaveCard).unwrap();
    let b = connect_and_select();
    assert_eq!(send(&b, &PIN_STATUS), Ok(0x9000), "LeaveCard keeps the PIN");
    b.disconnect(Disposition::ResetCard).unwrap();
    let c = connect_and_select();
    assert_eq!(
        send(&c, &PIN_STATUS).map(|sw| sw & 0xFFF0),
        Ok(0x63C0),
        "ResetCard forgets the PIN"
    );
}

/// On a `yubikey` card, as on a YubiKey, SELECT of PIV starts a new session: after
/// disconnect with `LeaveCard`, connect and SELECT the PIN must be verified again (piv-go's
/// `TestYubiKeyPINRetries` reads 63Cx there; the `yubikey` crate and libykpiv re-select PIV
/// to log the PIN out). Without a new SELECT the new connection still finds it verified.
#[test]
fn on_a_yubikey_card_select_forgets_the_pin() {
    const VERIFY_PIN: &[u8] = &[
        0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF,
    ];
    const PIN_STATUS: [u8; 5] = [0x00, 0x20, 0x00, 0x80, 0x00];
    let reg = softcard_pcsc::Registry::new();
    let card = softcard::Card::create_seeded(
        &softcard::CardOptions::new(softcard::Profile::Yubikey),
        8,
        Box::new(softcard::NoStorage),
    )
    .unwrap();
    reg.insert_card("Y", card).unwrap();
    let ctx = reg.establish(Scope::User).unwrap();
    let connect = || {
        ctx.connect(c"Y", ShareMode::Shared, Protocols::ANY)
            .unwrap()
    };
    let a = connect();
    assert_eq!(send(&a, SELECT_PIV), Ok(0x9000));
    assert_eq!(send(&a, VERIFY_PIN), Ok(0x9000));
    a.disconnect(Disposition::LeaveCard).unwrap();
    let b = connect();
    assert_eq!(
        send(&b, &PIN_STATUS),
        Ok(0x9000),
        "no SELECT: still verified"
    );
    assert_eq!(send(&b, SELECT_PIV), Ok(0x9000));
    assert_eq!(
        send(&b, &PIN_STATUS).map(|sw| sw & 0xFFF0),
        Ok(0x63C0),
        "SELECT forgets the PIN"
    );
}
