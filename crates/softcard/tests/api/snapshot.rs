//! Snapshots: a card's state taken and put back (`Card::snapshot`, `Card::restore`).

use softcard::{Card, CardOptions, MemoryStorage, Profile, Snapshot, storage::FailingStorage};
use softcard_test_support::{gids, piv, sw, verify_command};

fn card(profile: Profile, storage: FailingStorage) -> Card {
    Card::create_seeded(&CardOptions::new(profile), 7, Box::new(storage)).unwrap()
}

/// A card whose PIN was blocked, restored from a snapshot taken before, verifies its PIN
/// again; the storage holds the restored image.
#[test]
fn a_blocked_pin_comes_back_from_a_snapshot() {
    for (profile, select) in [
        (Profile::Piv, piv::SELECT),
        (Profile::WindowsVsc, gids::SELECT),
    ] {
        let inner = MemoryStorage::new();
        let mut c = card(profile, FailingStorage::new(inner.clone()));
        let before = c.snapshot().unwrap();
        assert_eq!(sw(&c.transmit(select)), 0x9000, "{profile}");
        for _ in 0..20 {
            if sw(&c.transmit(&verify_command(b"00000000"))) == 0x6983 {
                break;
            }
        }
        assert_eq!(
            sw(&c.transmit(&verify_command(b"12345678"))),
            0x6983,
            "{profile}"
        );
        let blocked = inner.image().unwrap();

        c.restore(&before).unwrap();
        assert_eq!(inner.image().unwrap(), before.image(), "{profile}");
        assert_ne!(inner.image().unwrap(), blocked, "{profile}");
        assert_eq!(sw(&c.transmit(select)), 0x9000, "{profile}");
        assert_eq!(
            c.transmit(&verify_command(b"12345678")),
            [0x90, 0x00],
            "{profile}"
        );
        // The image bytes make a new card in the same state.
        let mut copy = Card::load(
            before.image(),
            Box::new(softcard::seeded_rng(1)),
            Box::new(MemoryStorage::new()),
            softcard::crypto::BackendKind::default(),
        )
        .unwrap();
        assert_eq!(sw(&copy.transmit(select)), 0x9000);
        assert_eq!(copy.transmit(&verify_command(b"12345678")), [0x90, 0x00]);
    }
}

/// Restoring is a power cycle: a verified PIN does not survive it.
#[test]
fn a_restore_clears_the_security_state() {
    let mut c = card(Profile::Piv, FailingStorage::new(MemoryStorage::new()));
    let snap = c.snapshot().unwrap();
    assert_eq!(c.transmit(&verify_command(b"12345678")), [0x90, 0x00]);
    assert_eq!(c.transmit(&[0x00, 0x20, 0x00, 0x80]), [0x90, 0x00]);
    c.restore(&snap).unwrap();
    assert_eq!(sw(&c.transmit(piv::SELECT)), 0x9000);
    assert_eq!(c.transmit(&[0x00, 0x20, 0x00, 0x80]), [0x63, 0xC3]);
}

/// A refused restore changes nothing: a snapshot of another profile, bytes that are not
/// an image, a storage that fails.
#[test]
fn a_refused_restore_changes_nothing() {
    let inner = MemoryStorage::new();
    let storage = FailingStorage::new(inner.clone());
    let mut c = card(Profile::Piv, storage.clone());
    let good = c.snapshot().unwrap();
    assert_eq!(sw(&c.transmit(&verify_command(b"00000000"))), 0x63C2);
    let after_one_wrong = inner.image().unwrap();

    let gids_card = card(
        Profile::WindowsVsc,
        FailingStorage::new(MemoryStorage::new()),
    );
    let other = gids_card.snapshot().unwrap();
    let e = c.restore(&other).unwrap_err();
    assert!(e.to_string().contains("windows-vsc"), "{e}");
    let mut garbage = good.image().to_vec();
    let last = garbage.len() - 1;
    garbage[last] ^= 0x01;
    assert!(c.restore(&Snapshot::from_image(garbage)).is_err());
    storage.set_failing(true);
    assert!(c.restore(&good).is_err());
    storage.set_failing(false);

    assert_eq!(inner.image().unwrap(), after_one_wrong);
    assert_eq!(c.image().unwrap(), after_one_wrong);
    assert_eq!(c.transmit(&[0x00, 0x20, 0x00, 0x80]), [0x63, 0xC2]);
    assert!(!format!("{good:?}").contains(&format!("{:?}", &good.image()[..8])));
}
