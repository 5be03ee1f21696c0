//! The typed card description: what `describe()` renders and `softcard info --json` prints.

use softcard::description::AppletState;
use softcard_test_support::{cmd, gids, piv, send};

#[test]
fn piv_description_follows_the_card() {
    let (mut c, _, _) = piv::keyed_card(21, 0x9A, 0x07);
    let described = c.description();
    assert_eq!(described.lines(), c.describe());
    assert_eq!(described.profile, "piv");
    assert_eq!(described.serial, c.serial());
    let state = described.piv().unwrap();
    assert!(state.management_key.default);
    assert_eq!(state.pin.tries_left, state.pin.limit);
    let key = state.slot(0x9A).unwrap().key.as_ref().unwrap();
    assert_eq!(
        (
            key.algorithm.as_str(),
            key.algorithm_id,
            key.origin.as_str()
        ),
        ("RSA-2048", 0x07, "Generated")
    );
    assert_eq!(state.key_algorithm(0x9C), None);
    // A wrong PIN costs a try.
    assert_eq!(
        send(&mut c, &cmd(0x20, 0, 0x80, b"00000000", None)).1 & 0xFFF0,
        0x63C0
    );
    let pin = c.description().piv().unwrap().pin;
    assert_eq!(pin.tries_left + 1, pin.limit);
    assert!(!pin.blocked);
}

#[test]
fn gids_description_follows_the_card() {
    let (mut c, _, _) = gids::keyed_card(22);
    let described = c.description();
    assert_eq!(described.lines(), c.describe());
    let state = described.gids().unwrap();
    assert!(state.operational);
    assert_eq!(state.key_algorithm(0x81), Some("RSA-2048"));
    assert!(matches!(described.applets[0].state, AppletState::Gids(_)));
    for _ in 0..3 {
        send(&mut c, &cmd(0x20, 0, 0x80, b"00000000", None));
    }
    let described = c.description();
    let pin = described.gids().unwrap().pin.unwrap();
    assert_eq!((pin.tries_left, pin.blocked), (0, true));
    assert!(described.lines().iter().any(|l| l == "  PIN: blocked"));
}
