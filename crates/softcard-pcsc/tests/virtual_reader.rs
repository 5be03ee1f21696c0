//! `VirtualReader::builder()`: the options reach the card (profile, PIN, seed, snapshot,
//! name, registry), a seed gives the same keys every run, options that cannot go together
//! are refused, and the reader goes away with its handle.

use softcard::Profile;
use softcard_pcsc::fault::{Fault, Pattern};
use softcard_pcsc::{
    BuildError, Context, Error, MAX_BUFFER_SIZE, Protocols, Registry, Scope, ShareMode,
    VirtualReader,
};
use softcard_test_support::{piv, sw};

/// VERIFY of the PIV PIN, padded with FF to 8 bytes as PIV asks.
fn verify_command(pin: &[u8]) -> Vec<u8> {
    let mut padded = pin.to_vec();
    padded.resize(8, 0xFF);
    softcard_test_support::verify_command(&padded)
}

/// The 7F49 public key of a P-256 key generated in slot 9A of a card made from `seed`.
fn generated_key(seed: u64) -> Vec<u8> {
    let reader = VirtualReader::builder().seed(seed).build().unwrap();
    reader
        .with_card(|card| {
            piv::select(card);
            piv::authenticate(card);
            piv::generate(card, 0x9A, 0x11)
        })
        .unwrap()
}

#[test]
fn a_seed_gives_the_same_keys_every_run() {
    assert_eq!(generated_key(42), generated_key(42));
    assert_ne!(generated_key(42), generated_key(43));
}

#[test]
fn unseeded_cards_differ() {
    let serial = |r: VirtualReader| r.with_card(|c| c.serial()).unwrap();
    let a = serial(VirtualReader::builder().build().unwrap());
    let b = serial(VirtualReader::builder().build().unwrap());
    let c = serial(VirtualReader::builder().seed(7).build().unwrap());
    let d = serial(VirtualReader::builder().seed(7).build().unwrap());
    assert_ne!(a, b);
    assert_eq!(c, d);
}

#[test]
fn the_profile_names_the_reader_and_makes_the_card() {
    for (profile, name, pin) in [
        (Profile::Piv, "softcard PIV 00 00", "12345678"),
        (
            Profile::Yubikey,
            "Yubico YubiKey OTP+FIDO+CCID 00 00",
            "123456",
        ),
    ] {
        let reader = VirtualReader::builder().profile(profile).build().unwrap();
        assert_eq!(reader.name().to_str().unwrap(), name);
        let verified = reader
            .with_card(|c| {
                piv::select(c);
                sw(&c.transmit(&verify_command(pin.as_bytes())))
            })
            .unwrap();
        assert_eq!(verified, 0x9000, "{profile}: its default PIN");
    }
    let gids = VirtualReader::builder()
        .profile(Profile::WindowsVsc)
        .build()
        .unwrap();
    assert_eq!(
        gids.with_card(|c| c.profile()).unwrap(),
        Profile::WindowsVsc
    );
}

#[test]
fn the_pin_given_replaces_the_default() {
    let reader = VirtualReader::builder().pin("24681357").build().unwrap();
    let card = reader.connect().unwrap();
    let mut buf = [0; MAX_BUFFER_SIZE];
    let mut send = |apdu: &[u8]| sw(card.transmit(apdu, &mut buf).unwrap());
    send(&softcard_test_support::select_command(&[0xA0, 0, 0, 3, 8]));
    assert_eq!(send(&verify_command(b"12345678")), 0x63C2);
    assert_eq!(send(&verify_command(b"24681357")), 0x9000);
}

#[test]
fn a_pin_the_card_refuses_is_an_error() {
    let e = VirtualReader::builder().pin("12").build().unwrap_err();
    assert!(
        matches!(e, BuildError::Card(softcard::Error::InvalidOption(_))),
        "{e}"
    );
}

#[test]
fn a_snapshot_restores_a_blocked_pin_and_refuses_other_secrets() {
    let reader = VirtualReader::builder().seed(3).build().unwrap();
    let fresh = reader.snapshot().unwrap();
    reader
        .with_card(|c| {
            piv::select(c);
            while sw(&c.transmit(&verify_command(b"00000000"))) != 0x6983 {}
        })
        .unwrap();
    let blocked = reader.snapshot().unwrap();

    let from_blocked = VirtualReader::builder()
        .snapshot(blocked.clone())
        .name("blocked")
        .build()
        .unwrap();
    let status = |r: &VirtualReader| {
        r.with_card(|c| {
            piv::select(c);
            sw(&c.transmit(&verify_command(b"12345678")))
        })
        .unwrap()
    };
    assert_eq!(status(&from_blocked), 0x6983);
    // Restoring the fresh state in place gives back a working PIN; connections see a reset.
    let connection = from_blocked.connect().unwrap();
    from_blocked.restore(&fresh).unwrap();
    let mut buf = [0; MAX_BUFFER_SIZE];
    assert_eq!(
        connection
            .transmit(&[0x00, 0xA4, 0x04, 0x00], &mut buf)
            .unwrap_err(),
        Error::ResetCard
    );
    assert_eq!(status(&from_blocked), 0x9000);

    for conflict in [
        VirtualReader::builder()
            .snapshot(blocked.clone())
            .pin("123456"),
        VirtualReader::builder().snapshot(blocked.clone()).serial(5),
    ] {
        assert!(matches!(
            conflict.build().unwrap_err(),
            BuildError::Conflict(_)
        ));
    }
    let other_profile = VirtualReader::builder()
        .snapshot(blocked)
        .profile(Profile::WindowsVsc)
        .build()
        .unwrap_err();
    assert!(
        other_profile.to_string().contains("piv card"),
        "{other_profile}"
    );
}

#[test]
fn a_global_reader_is_seen_by_context_establish_until_dropped() {
    let name = "fixture test reader";
    let reader = VirtualReader::builder()
        .global()
        .name(name)
        .build()
        .unwrap();
    let ctx = Context::establish(Scope::User).unwrap();
    let listed = |ctx: &Context| {
        let mut buf = [0; 2048];
        ctx.list_readers(&mut buf)
            .unwrap()
            .any(|r| r.to_str() == Ok(name))
    };
    assert!(listed(&ctx));
    ctx.connect(reader.name(), ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let twice = VirtualReader::builder()
        .global()
        .name(name)
        .build()
        .unwrap_err();
    assert!(matches!(twice, BuildError::Reader(Error::DuplicateReader)));
    drop(reader);
    assert!(!listed(&ctx));
}

#[test]
fn readers_share_a_registry_when_asked() {
    let registry = Registry::new();
    let a = VirtualReader::builder()
        .registry(&registry)
        .name("a")
        .build()
        .unwrap();
    let _b = VirtualReader::builder()
        .registry(&registry)
        .name("b")
        .build()
        .unwrap();
    assert_eq!(registry.readers(), ["a", "b"]);
    let card = a.remove_card().unwrap();
    assert_eq!(a.connect().unwrap_err(), Error::NoSmartcard);
    a.insert_card(card).unwrap();
    a.connect().unwrap();
}

#[test]
fn faults_touch_their_own_reader_only() {
    let registry = Registry::new();
    let faulty = VirtualReader::builder()
        .registry(&registry)
        .name("faulty")
        .fault(Fault::answer(Pattern::Ins(0xA4), 0x6A82))
        .build()
        .unwrap();
    let healthy = VirtualReader::builder()
        .registry(&registry)
        .name("healthy")
        .build()
        .unwrap();
    let select = softcard_test_support::select_command(&[0xA0, 0, 0, 3, 8]);
    let mut buf = [0; MAX_BUFFER_SIZE];
    let faulty_card = faulty.connect().unwrap();
    assert_eq!(sw(faulty_card.transmit(&select, &mut buf).unwrap()), 0x6A82);
    assert_eq!(
        sw(healthy
            .connect()
            .unwrap()
            .transmit(&select, &mut buf)
            .unwrap()),
        0x9000
    );
    faulty.inject("fail error=SCARD_E_COMM_DATA_LOST".parse().unwrap());
    assert_eq!(
        faulty_card.transmit(&select, &mut buf).unwrap_err(),
        Error::CommDataLost
    );
    assert_eq!(
        sw(healthy
            .connect()
            .unwrap()
            .transmit(&select, &mut buf)
            .unwrap()),
        0x9000
    );

    // Both faults fired once: the card answers again.
    assert_eq!(sw(faulty_card.transmit(&select, &mut buf).unwrap()), 0x9000);

    faulty.eject().unwrap();
    assert_eq!(
        faulty_card.transmit(&select, &mut buf).unwrap_err(),
        Error::RemovedCard
    );
    faulty.reinsert().unwrap();
    let again = faulty.connect().unwrap();
    let healthy_card = healthy.connect().unwrap();
    healthy.power_cycle().unwrap();
    assert_eq!(sw(again.transmit(&select, &mut buf).unwrap()), 0x9000);
    assert_eq!(
        healthy_card.transmit(&select, &mut buf).unwrap_err(),
        Error::ResetCard
    );
}
