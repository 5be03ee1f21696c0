//! The card engine with a test applet: chaining, GET RESPONSE, 6Cxx, extended length,
//! SELECT routing, reset semantics and persistence.

use softcard::{
    Applet, Card, Command, Context, MemoryStorage, Outcome, Profile, Status, Storage,
    crypto::BackendKind, storage::FailingStorage,
};
use softcard_test_support::{gids, piv, sw, verify_command};

const AID_A: &[u8] = &[0xF0, 0x01, 0x02, 0x03, 0x04, 0x05];
const AID_B: &[u8] = &[0xF0, 0x01, 0x02, 0x03, 0x09];

/// INS 01: returns P1P2 bytes (0, 1, 2, ...); INS 02: echoes its data; INS 03: sets a
/// volatile flag; INS 04: answers 9000 if the flag is set, else 6982; INS 05: stores its data
/// persistently; INS 06: returns what INS 05 stored; INS 07: appends its data to the stored
/// bytes.
struct TestApplet {
    aid: &'static [u8],
    flag: bool,
    stored: Vec<u8>,
    selects: u32,
}

impl TestApplet {
    fn boxed(aid: &'static [u8]) -> Box<dyn Applet> {
        Box::new(TestApplet {
            aid,
            flag: false,
            stored: Vec::new(),
            selects: 0,
        })
    }
}

impl Applet for TestApplet {
    fn aid(&self) -> &[u8] {
        self.aid
    }
    fn name(&self) -> &'static str {
        "test"
    }
    fn select(&mut self, _ctx: &mut Context<'_>) -> Result<Vec<u8>, Status> {
        self.selects += 1;
        Ok(vec![0x6F, 0x01, self.aid[self.aid.len() - 1]])
    }
    fn process(&mut self, cmd: &Command<'_>, _ctx: &mut Context<'_>) -> Result<Outcome, Status> {
        match cmd.ins {
            0x01 => Ok(Outcome::unchanged(
                (0..cmd.p1p2() as usize).map(|i| i as u8).collect(),
            )),
            0x02 => Ok(Outcome::unchanged(cmd.data.to_vec())),
            0x03 => {
                self.flag = true;
                Ok(Outcome::unchanged(Vec::new()))
            }
            0x04 if self.flag => Ok(Outcome::unchanged(Vec::new())),
            0x04 => Err(Status::SecurityStatusNotSatisfied),
            0x05 => {
                self.stored = cmd.data.to_vec();
                Ok(Outcome::changed(Vec::new()))
            }
            0x06 => Ok(Outcome::unchanged(self.stored.clone())),
            0x07 => {
                self.stored.extend_from_slice(cmd.data);
                Ok(Outcome::changed(Vec::new()))
            }
            _ => Err(Status::InsNotSupported),
        }
    }
    fn reset(&mut self) {
        self.flag = false;
    }
    fn describe(&self) -> Vec<String> {
        vec![format!("selected {} times", self.selects)]
    }
    fn save(&self) -> Result<Vec<u8>, Status> {
        Ok(self.stored.clone())
    }
    fn restore(&mut self, state: &[u8], _backend: BackendKind) -> Result<(), Status> {
        self.stored = state.to_vec();
        self.reset();
        Ok(())
    }
}

fn card_with(storage: MemoryStorage) -> Card {
    Card::with_applets(
        Profile::Piv,
        7,
        vec![TestApplet::boxed(AID_A), TestApplet::boxed(AID_B)],
        Box::new(softcard::seeded_rng(1)),
        Box::new(storage),
    )
    .unwrap()
}

fn card() -> Card {
    card_with(MemoryStorage::new())
}

fn select(card: &mut Card, aid: &[u8]) -> Vec<u8> {
    let mut cmd = vec![0x00, 0xA4, 0x04, 0x00, aid.len() as u8];
    cmd.extend_from_slice(aid);
    cmd.push(0x00);
    card.transmit(&cmd)
}

#[test]
fn no_applet_selected_with_two_applets() {
    let mut c = card();
    assert_eq!(sw(&c.transmit(&[0x00, 0x02, 0, 0])), 0x6985);
}

#[test]
fn select_by_full_and_partial_aid() {
    let mut c = card();
    assert_eq!(select(&mut c, AID_B), vec![0x6F, 0x01, 0x09, 0x90, 0x00]);
    assert_eq!(
        select(&mut c, &AID_A[..4]),
        vec![0x6F, 0x01, 0x05, 0x90, 0x00]
    );
    assert_eq!(select(&mut c, &[0xF0, 0x01, 0x07]), vec![0x6A, 0x82]);
    // P2 = 0C: no response data
    let r = c.transmit(&[0x00, 0xA4, 0x04, 0x0C, 0x05, 0xF0, 0x01, 0x02, 0x03, 0x09]);
    assert_eq!(r, vec![0x90, 0x00]);
    // a failed SELECT keeps the current applet
    assert_eq!(
        c.transmit(&[0x00, 0x02, 0, 0, 1, 0x42]),
        vec![0x42, 0x90, 0x00]
    );
    assert_eq!(
        sw(&c.transmit(&[0x00, 0xA4, 0x04, 0x01, 0x01, 0xF0])),
        0x6A86
    );
}

#[test]
fn long_response_is_chained_with_get_response() {
    let mut c = card();
    select(&mut c, AID_A);
    // 600 bytes asked with short Le 00: 256 + 61 00, then 256 + 61 58, then 88 + 9000
    let r = c.transmit(&[0x00, 0x01, 0x02, 0x58, 0x00]);
    assert_eq!(r.len(), 258);
    assert_eq!(sw(&r), 0x6100);
    let mut all = r[..256].to_vec();
    let r = c.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00]);
    assert_eq!((r.len(), sw(&r)), (258, 0x6158));
    all.extend_from_slice(&r[..256]);
    let r = c.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x58]);
    assert_eq!((r.len(), sw(&r)), (0x58 + 2, 0x9000));
    all.extend_from_slice(&r[..0x58]);
    assert_eq!(all, (0..600).map(|i| i as u8).collect::<Vec<_>>());
    // nothing left
    assert_eq!(sw(&c.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00])), 0x6985);
}

#[test]
fn get_response_with_too_long_le_gets_6cxx_and_keeps_data() {
    let mut c = card();
    select(&mut c, AID_A);
    let r = c.transmit(&[0x00, 0x01, 0x01, 0x10, 0x00]); // 272 bytes
    assert_eq!(sw(&r), 0x6110);
    assert_eq!(
        c.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x20]),
        vec![0x6C, 0x10]
    );
    let r = c.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x10]);
    assert_eq!((r.len(), sw(&r)), (0x12, 0x9000));
    assert_eq!(r[0], 0x00); // byte 256 of the response
}

#[test]
fn a_new_command_discards_a_pending_response() {
    let mut c = card();
    select(&mut c, AID_A);
    assert_eq!(sw(&c.transmit(&[0x00, 0x01, 0x02, 0x00, 0x00])), 0x6100);
    assert_eq!(c.transmit(&[0x00, 0x02, 0, 0, 1, 7]), vec![7, 0x90, 0x00]);
    assert_eq!(sw(&c.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00])), 0x6985);
}

#[test]
fn short_le_smaller_than_response_chains() {
    let mut c = card();
    select(&mut c, AID_A);
    let r = c.transmit(&[0x00, 0x01, 0x00, 0x20, 0x10]);
    assert_eq!((r.len(), sw(&r)), (0x12, 0x6110));
}

#[test]
fn extended_length_in_and_out() {
    let mut c = card();
    select(&mut c, AID_A);
    let data: Vec<u8> = (0..1000).map(|i| (i * 7) as u8).collect();
    let cmd = softcard::apdu::encode_command(0x00, 0x02, 0, 0, &data, Some(65536)).unwrap();
    let r = c.transmit(&cmd);
    assert_eq!(sw(&r), 0x9000);
    assert_eq!(&r[..1000], &data[..]);
    // extended Le smaller than the response: chained with 61xx
    let cmd = softcard::apdu::encode_command(0x00, 0x01, 0x03, 0x00, &[], Some(300)).unwrap();
    let r = c.transmit(&cmd);
    assert_eq!((r.len(), sw(&r)), (302, 0x6100));
}

#[test]
fn command_chaining_reassembles_data() {
    let mut c = card();
    select(&mut c, AID_A);
    assert_eq!(c.transmit(&[0x10, 0x02, 0, 0, 2, 1, 2]), vec![0x90, 0x00]);
    assert_eq!(c.transmit(&[0x10, 0x02, 0, 0, 1, 3]), vec![0x90, 0x00]);
    assert_eq!(
        c.transmit(&[0x00, 0x02, 0, 0, 2, 4, 5, 0]),
        vec![1, 2, 3, 4, 5, 0x90, 0x00]
    );
    // a chain continued with another instruction is refused and forgotten
    assert_eq!(c.transmit(&[0x10, 0x02, 0, 0, 1, 1]), vec![0x90, 0x00]);
    assert_eq!(c.transmit(&[0x00, 0x05, 0, 0, 1, 9]), vec![0x68, 0x83]);
    assert_eq!(c.transmit(&[0x00, 0x02, 0, 0, 1, 8]), vec![8, 0x90, 0x00]);
}

#[test]
fn command_chain_is_bounded() {
    let mut c = card();
    select(&mut c, AID_A);
    let piece = vec![0xAA; 255];
    let mut last = Vec::new();
    for _ in 0..(softcard::card::CHAIN_LIMIT / 255 + 2) {
        last = c.transmit(&softcard::apdu::encode_command(0x10, 0x02, 0, 0, &piece, None).unwrap());
        if last != [0x90, 0x00] {
            break;
        }
    }
    assert_eq!(last, vec![0x6A, 0x84]);
    // the chain was dropped: a plain command works again
    assert_eq!(c.transmit(&[0x00, 0x02, 0, 0, 1, 1]), vec![1, 0x90, 0x00]);
}

#[test]
fn reset_clears_security_state_selection_and_chains() {
    let mut c = card();
    select(&mut c, AID_A);
    c.transmit(&[0x00, 0x03, 0, 0]);
    assert_eq!(c.transmit(&[0x00, 0x04, 0, 0]), vec![0x90, 0x00]);
    c.transmit(&[0x10, 0x02, 0, 0, 1, 1]);
    c.reset();
    // no applet selected any more (two applets: no implicit selection)
    assert_eq!(c.transmit(&[0x00, 0x04, 0, 0]), vec![0x69, 0x85]);
    select(&mut c, AID_A);
    assert_eq!(c.transmit(&[0x00, 0x04, 0, 0]), vec![0x69, 0x82]);
    // the chain did not survive the reset
    assert_eq!(c.transmit(&[0x00, 0x02, 0, 0, 1, 5]), vec![5, 0x90, 0x00]);
    c.power_off();
    assert!(!c.is_powered());
    assert_eq!(select(&mut c, AID_A).len(), 5);
    assert!(c.is_powered());
}

#[test]
fn state_changes_are_saved_before_the_response() {
    let storage = MemoryStorage::new();
    let mut c = card_with(storage.clone());
    let before = storage.writes();
    select(&mut c, AID_A);
    assert_eq!(
        storage.writes(),
        before,
        "a read-only command wrote the image"
    );
    assert_eq!(
        c.transmit(&[0x00, 0x05, 0, 0, 2, 0xBE, 0xEF]),
        vec![0x90, 0x00]
    );
    assert_eq!(storage.writes(), before + 1);
    let image = softcard::image::decode(&storage.image().unwrap()).unwrap();
    assert_eq!(image.applets[0].state, vec![0xBE, 0xEF]);
    assert_eq!(image.applets[1].state, Vec::<u8>::new());
}

/// A card with this one applet (selected implicitly).
fn one_applet_card(applet: Box<dyn Applet>, storage: impl Storage + 'static) -> Card {
    Card::with_applets(
        Profile::Piv,
        1,
        vec![applet],
        Box::new(softcard::seeded_rng(1)),
        Box::new(storage),
    )
    .unwrap()
}

/// The image the card holds is the one in storage.
fn assert_in_sync(c: &Card, storage: &MemoryStorage) {
    assert!(
        c.image().unwrap() == storage.image().unwrap(),
        "the card's state differs from its stored image"
    );
}

#[test]
fn failed_write_answers_6581_and_rolls_back() {
    let inner = MemoryStorage::new();
    let storage = FailingStorage::new(inner.clone());
    let mut c = one_applet_card(TestApplet::boxed(AID_A), storage.clone());
    assert_eq!(c.transmit(&[0x00, 0x05, 0, 0, 1, 1]), vec![0x90, 0x00]);
    assert_eq!(c.transmit(&[0x00, 0x03, 0, 0]), vec![0x90, 0x00]);
    storage.set_failing(true);
    assert_eq!(c.transmit(&[0x00, 0x05, 0, 0, 1, 2]), vec![0x65, 0x81]);
    // The change is undone in memory as on storage; the security state is cleared.
    assert_eq!(c.transmit(&[0x00, 0x06, 0, 0, 0]), vec![1, 0x90, 0x00]);
    assert_eq!(sw(&c.transmit(&[0x00, 0x04, 0, 0])), 0x6982);
    assert_in_sync(&c, &inner);
    storage.set_failing(false);
    assert_eq!(c.transmit(&[0x00, 0x05, 0, 0, 1, 3]), vec![0x90, 0x00]);
    assert_eq!(c.transmit(&[0x00, 0x06, 0, 0, 0]), vec![3, 0x90, 0x00]);
    assert_in_sync(&c, &inner);
}

/// The PIN counter written before the comparison (anti-tearing) and a PIN change: when the
/// write fails, the PIV and GIDS applets are back to the stored state.
#[test]
fn failed_writes_roll_back_the_profiles_applets() {
    for (profile, select) in [
        (Profile::Piv, piv::SELECT),
        (Profile::WindowsVsc, gids::SELECT),
    ] {
        let inner = MemoryStorage::new();
        let storage = FailingStorage::new(inner.clone());
        let mut c = Card::create_seeded(
            &softcard::CardOptions::new(profile),
            4,
            Box::new(storage.clone()),
        )
        .unwrap();
        assert_eq!(sw(&c.transmit(select)), 0x9000);
        let tries = c.transmit(&[0x00, 0x20, 0x00, 0x80]);
        assert_eq!(tries[0], 0x63, "{profile}");
        storage.set_failing(true);
        assert_eq!(c.transmit(&verify_command(b"00000000")), vec![0x65, 0x81]);
        assert_in_sync(&c, &inner);
        storage.set_failing(false);
        assert_eq!(sw(&c.transmit(select)), 0x9000);
        assert_eq!(c.transmit(&[0x00, 0x20, 0x00, 0x80]), tries, "{profile}");
    }

    let inner = MemoryStorage::new();
    let storage = FailingStorage::new(inner.clone());
    let mut c = Card::create_seeded(
        &softcard::CardOptions::new(Profile::Piv),
        4,
        Box::new(storage.clone()),
    )
    .unwrap();
    assert_eq!(sw(&c.transmit(piv::SELECT)), 0x9000);
    let mut change = vec![0x00, 0x24, 0x00, 0x80, 0x10];
    change.extend_from_slice(b"1234567887654321");
    storage.set_failing(true);
    assert_eq!(c.transmit(&change), vec![0x65, 0x81]);
    assert_in_sync(&c, &inner);
    storage.set_failing(false);
    assert_eq!(c.transmit(&verify_command(b"12345678")), vec![0x90, 0x00]);
    assert_eq!(sw(&c.transmit(&verify_command(b"87654321"))), 0x63C2);
}

/// INS 07 with `n` bytes of data, extended length.
fn append(n: usize) -> Vec<u8> {
    softcard::apdu::encode_command(0x00, 0x07, 0, 0, &vec![0x5A; n], None).unwrap()
}

#[test]
fn the_image_does_not_grow_past_its_limit() {
    let storage = MemoryStorage::new();
    let mut c = card_with(storage.clone());
    select(&mut c, AID_A);
    let mut refused = false;
    for _ in 0..(softcard::card::MAX_IMAGE_LEN / 65_000 + 2) {
        let before = storage.image().unwrap();
        let r = c.transmit(&append(65_000));
        if r == [0x6A, 0x84] {
            refused = true;
            assert_eq!(storage.image().unwrap(), before, "the image was written");
            break;
        }
        assert_eq!(r, [0x90, 0x00]);
    }
    assert!(refused, "the card grew without bound");
    assert!(storage.image().unwrap().len() <= softcard::card::MAX_IMAGE_LEN);
    assert_in_sync(&c, &storage);
    // What fits still fits.
    assert_eq!(c.transmit(&append(1)), [0x90, 0x00]);
    assert_in_sync(&c, &storage);
}

#[test]
fn a_card_above_the_limit_can_shrink_but_not_grow() {
    let storage = MemoryStorage::new();
    let big = TestApplet {
        aid: AID_A,
        flag: false,
        stored: vec![1; softcard::card::MAX_IMAGE_LEN + 10],
        selects: 0,
    };
    let mut c = one_applet_card(Box::new(big), storage.clone());
    assert_eq!(c.transmit(&append(1)), [0x6A, 0x84]);
    assert_in_sync(&c, &storage);
    assert_eq!(c.transmit(&[0x00, 0x05, 0, 0, 1, 1]), [0x90, 0x00]);
    assert_in_sync(&c, &storage);
    assert!(storage.image().unwrap().len() < 100);
}

#[test]
fn wrong_lengths_and_classes() {
    let mut c = card();
    select(&mut c, AID_A);
    assert_eq!(c.transmit(&[0x00, 0x02]), vec![0x67, 0x00]);
    assert_eq!(c.transmit(&[0x00, 0x02, 0, 0, 3, 1]), vec![0x67, 0x00]);
    assert_eq!(c.transmit(&[0x00, 0x09, 0, 0]), vec![0x6D, 0x00]);
    assert_eq!(c.transmit(&[0x40, 0x02, 0, 0]), vec![0x6E, 0x00]);
    assert_eq!(c.transmit(&[0x80, 0x02, 0, 0, 1, 3]), vec![3, 0x90, 0x00]);
}

/// A new card whose first write fails says why: the storage's I/O error is kept as the
/// error's source.
#[test]
fn a_failed_first_write_keeps_its_cause() {
    let storage = FailingStorage::new(MemoryStorage::new());
    storage.set_failing(true);
    let err = Card::create_seeded(
        &softcard::CardOptions::new(Profile::Piv),
        4,
        Box::new(storage),
    )
    .unwrap_err();
    let softcard::Error::Storage(io) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(io.to_string(), "storage failure (test)");
    let source = std::error::Error::source(&err).expect("the I/O error as source");
    assert_eq!(source.to_string(), "storage failure (test)");
    assert!(err.to_string().contains("storage failure (test)"), "{err}");
}

/// An applet that describes itself in lines only is described by them.
#[test]
fn an_applet_describing_itself_in_lines_is_described_by_them() {
    let mut c = card();
    select(&mut c, AID_B);
    let described = c.description();
    assert_eq!(
        described.applets[1].state,
        softcard::description::AppletState::Other {
            lines: vec!["selected 1 times".into()]
        }
    );
    assert_eq!(described.lines(), c.describe());
    assert!(c.describe().contains(&"  selected 1 times".to_string()));
}
