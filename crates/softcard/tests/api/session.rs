//! A stateful session against one applet, driven by bytes, with the invariants checked
//! after every step. Shared by the `session` fuzz target and the property tests
//! (`invariants.rs`): the same bytes run the same session in both.
//!
//! The bytes pick a profile and a starting state (fresh; selected with the PIN verified;
//! the administrator / management key authenticated too; keys present), then a sequence of
//! steps: APDUs built from the applet's real instructions, P1-P2 pairs and tags, raw bytes,
//! right and wrong PINs and keys, resets. After each step:
//!
//! - every response ends with a status word;
//! - the card's state equals the image in its storage (`Card::image` is what the storage
//!   holds), and a refused command (other than a wrong PIN or key, which spends a try)
//!   leaves the stored image unchanged;
//! - a wrong PIN or a wrong administrator key never gets 9000;
//! - the stored image loads back, to the same image.

#![allow(dead_code)]

use std::sync::OnceLock;

use softcard::{
    Card, CardOptions, MemoryStorage, NoStorage, Profile, Storage,
    crypto::{
        BackendKind,
        sym::{SymAlg, SymKey},
    },
    tlv,
};
use softcard_test_support as ts;

/// The bytes, read from the front; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }

    fn coin(&mut self) -> bool {
        self.byte() & 1 == 0
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Wrong PINs: one digit off, reversed, too short, too long. (An empty VERIFY asks
/// whether the PIN is verified: 9000 when it is.)
const WRONG_PINS: &[&[u8]] = &[b"12345679", b"87654321", b"1234", b"123456789"];

const PIV_INS: &[u8] = &[
    0x20, 0x24, 0x2C, 0x47, 0x87, 0xCB, 0xDB, 0xFD, 0xF8, 0xF9, 0xFF, 0xFE, 0xFB, 0xF7, 0xC0, 0xA4,
];
const GIDS_INS: &[u8] = &[
    0x20, 0x24, 0x2C, 0x22, 0x2A, 0x44, 0x46, 0x47, 0x87, 0xCA, 0xCB, 0xDA, 0xDB, 0xE0, 0xE4, 0xC0,
    0xA4, 0xB0, 0xD6,
];
const PIV_P1P2: &[[u8; 2]] = &[
    [0x00, 0x80],
    [0x00, 0x81],
    [0x3F, 0xFF],
    [0x00, 0x9A],
    [0x00, 0x9C],
    [0x00, 0x9D],
    [0x00, 0x9E],
    [0x03, 0x9B],
    [0x11, 0x9A],
    [0x14, 0x9C],
    [0x07, 0x9A],
    [0x06, 0x9D],
    [0x00, 0x82],
    [0x00, 0x00],
    [0xFF, 0xFF],
];
const GIDS_P1P2: &[[u8; 2]] = &[
    [0x00, 0x80],
    [0x00, 0x82],
    [0x3F, 0xFF],
    [0x3F, 0x00],
    [0xA0, 0x00],
    [0xA0, 0x10],
    [0x41, 0xB6],
    [0x41, 0xB8],
    [0x81, 0xB6],
    [0xC1, 0xA4],
    [0x9E, 0x9A],
    [0x80, 0x86],
    [0x00, 0x00],
    [0x00, 0x81],
];
const PIV_TAGS: &[u32] = &[
    0x7C, 0x80, 0x81, 0x82, 0x85, 0xAC, 0x5C, 0x53, 0xAA, 0xAB, 0x7F49, 0x06, 0x01, 0x02, 0x03,
    0x04, 0x05,
];
const GIDS_TAGS: &[u32] = &[
    0x70, 0x84, 0xA5, 0x87, 0x7F49, 0x62, 0x82, 0x83, 0x8C, 0xA5, 0x5C, 0x7C, 0x80, 0x81, 0xDF24,
    0xDF20, 0xDF21,
];

fn profile_index(profile: Profile) -> usize {
    usize::from(profile != Profile::Piv)
}

/// The image of a fresh card of `profile`, made once.
fn fresh_image(profile: Profile) -> &'static [u8] {
    static IMAGES: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    IMAGES[profile_index(profile)].get_or_init(|| {
        let (_card, storage) = ts::card_with(&CardOptions::new(profile), 1);
        storage.image().unwrap()
    })
}

/// The image of a card of `profile` with keys in it, made once: PIV ECC P-256 in 9A and
/// RSA-1024 in 9D; GIDS an RSA-2048 key exchange key 81.
fn keyed_image(profile: Profile) -> &'static [u8] {
    static IMAGES: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    IMAGES[profile_index(profile)].get_or_init(|| {
        if profile == Profile::Piv {
            let (mut card, storage, _) = ts::piv::keyed_card(1, 0x9A, 0x11);
            ts::piv::generate(&mut card, 0x9D, 0x06);
            storage.image().unwrap()
        } else {
            ts::gids::keyed_card(1).1.image().unwrap()
        }
    })
}

/// The valid images of both profiles, fresh and with keys: the starting points of the
/// image fuzz target.
pub fn valid_images() -> [&'static [u8]; 4] {
    [
        fresh_image(Profile::Piv),
        fresh_image(Profile::WindowsVsc),
        keyed_image(Profile::Piv),
        keyed_image(Profile::WindowsVsc),
    ]
}

/// A card loaded from `image`, writing to a memory storage that already holds it.
fn card_from(image: &[u8], seed: u64) -> (Card, MemoryStorage) {
    let mut storage = MemoryStorage::new();
    storage.save(image).unwrap();
    let card = Card::load(
        image,
        Box::new(softcard::seeded_rng(seed)),
        Box::new(storage.clone()),
        BackendKind::RustCrypto,
    )
    .unwrap();
    (card, storage)
}

/// Loads `image` into a fresh card and checks that it writes the same image back.
///
/// # Panics
/// When it does not load, or loads to another image.
pub fn assert_loads_back(image: &[u8]) {
    let card = Card::load(
        image,
        Box::new(softcard::seeded_rng(9)),
        Box::new(NoStorage),
        BackendKind::RustCrypto,
    )
    .expect("the stored image loads");
    assert_eq!(
        card.image().unwrap(),
        image,
        "the stored image loads to itself"
    );
}

fn sw(r: &[u8]) -> u16 {
    ts::sw(r)
}

/// PIV mutual authentication with 3DES key `key` (witness, then a challenge), without
/// panicking on any answer; the last status word.
fn piv_auth(card: &mut Card, key: &[u8]) -> u16 {
    let sym = SymKey::from_bytes(SymAlg::Tdes, key).unwrap();
    let (r, s) = ts::piv::send(card, 0x87, 0x03, 0x9B, &ts::piv::template(&[(0x80, &[])]));
    if s != 0x9000 {
        return s;
    }
    let Some(mut witness) = tlv::expect_single(&r, 0x7C)
        .ok()
        .and_then(|i| tlv::expect_single(i, 0x80).ok())
        .map(<[u8]>::to_vec)
        .filter(|w| w.len() == 8)
    else {
        return 0;
    };
    sym.decrypt_block(&mut witness).unwrap();
    let t = ts::piv::template(&[(0x80, &witness), (0x81, &[0x5A; 8])]);
    ts::piv::send(card, 0x87, 0x03, 0x9B, &t).1
}

/// GIDS administrator mutual authentication with 3DES key `key`, without panicking; the
/// last status word.
fn gids_auth(card: &mut Card, key: &[u8]) -> u16 {
    let (_, s) = ts::send(card, &[0, 0x22, 0xC1, 0xA4, 3, 0x83, 1, 0x80]);
    if s != 0x9000 {
        return s;
    }
    let r1 = [0x5Au8; 16];
    let c = ts::cmd(
        0x87,
        0,
        0,
        &tlv::encode(0x7C, &tlv::encode(0x81, &r1)),
        Some(256),
    );
    let (resp, s) = ts::send(card, &c);
    if s != 0x9000 {
        return s;
    }
    let Some(r2) = resp.get(4..20) else { return 0 };
    let mut plain = r2.to_vec();
    plain.extend_from_slice(&r1);
    plain.extend_from_slice(&[0x33; 7]);
    plain.push(0x80);
    let enc = ts::gids::tdes_cbc(key, &plain, true);
    let c = ts::cmd(
        0x87,
        0,
        0,
        &tlv::encode(0x7C, &tlv::encode(0x82, &enc)),
        Some(256),
    );
    ts::send(card, &c).1
}

/// Data for a structured command: nothing, raw bytes, a TLV of the applet's tags, a
/// template, or a known-good shape.
fn data(input: &mut Input<'_>, piv: bool) -> Vec<u8> {
    let tags = if piv { PIV_TAGS } else { GIDS_TAGS };
    match input.byte() % 8 {
        0 => Vec::new(),
        1 => {
            let n = usize::from(input.byte());
            input.bytes(n).to_vec()
        }
        2 | 3 => {
            // A sequence of TLVs, possibly nested once.
            let count = input.byte() % 4 + 1;
            let mut out = Vec::new();
            for _ in 0..count {
                let tag = input.pick(tags);
                let n = usize::from(input.byte() % 64);
                let value = if input.coin() {
                    input.bytes(n).to_vec()
                } else {
                    let inner = input.pick(tags);
                    let n = usize::from(input.byte() % 32);
                    tlv::encode(inner, input.bytes(n))
                };
                tlv::write(&mut out, tag, &value);
            }
            if input.coin() {
                tlv::encode(input.pick(&[0x7C, 0x70, 0xAC, 0x62, 0x53]), &out)
            } else {
                out
            }
        }
        4 => ts::PIN.to_vec(),
        5 if piv => {
            // PUT DATA / GET DATA of an object.
            let obj = input.pick(&[
                [0x5F, 0xC1, 0x02],
                [0x5F, 0xC1, 0x05],
                [0x5F, 0xC1, 0x07],
                [0x5F, 0xC1, 0x0A],
                [0x5F, 0xFF, 0x00],
            ]);
            let mut out = tlv::encode(0x5C, &obj);
            let n = usize::from(input.byte());
            tlv::write(&mut out, 0x53, input.bytes(n));
            out
        }
        5 => {
            let kid = input.pick(&[0x81u8, 0x82, 0x83, 0x80, 0x00]);
            let alg = input.pick(&[0x07u8, 0x06, 0x08, 0x00, 0xFF]);
            ts::gids::keyexchange_fcp(kid, alg)
        }
        6 if piv => {
            let alg = input.pick(&[0x11u8, 0x14, 0x06, 0x07, 0x03, 0x08, 0x0C, 0x00]);
            let mut inner = tlv::encode(0x80, &[alg]);
            if input.coin() {
                tlv::write(&mut inner, 0xAA, &[input.byte() % 4]);
                tlv::write(&mut inner, 0xAB, &[input.byte() % 4]);
            }
            tlv::encode(0xAC, &inner)
        }
        6 => {
            let alg = input.pick(&[0x57u8, 0x47, 0x87, 0x07, 0x80]);
            let kid = input.pick(&[0x81u8, 0x82, 0x80]);
            vec![0x80, 1, alg, 0x84, 1, kid]
        }
        _ => {
            // A template of the authentication shape: 7C { 80|81|82|85 value }.
            let mut inner = Vec::new();
            for _ in 0..input.byte() % 3 + 1 {
                let tag = input.pick(&[0x80u32, 0x81, 0x82, 0x85]);
                let n = input.pick(&[0usize, 8, 16, 32, 40, 64, 128, 256]);
                let n = n.min(input.0.len());
                tlv::write(&mut inner, tag, input.bytes(n));
            }
            tlv::encode(0x7C, &inner)
        }
    }
}

/// One session. See the module's documentation for what is checked.
///
/// # Panics
/// When an invariant does not hold.
pub fn run(bytes: &[u8]) {
    let mut input = Input(bytes);
    let first = input.byte();
    let profile = if first & 1 == 0 {
        Profile::Piv
    } else {
        Profile::WindowsVsc
    };
    let piv = profile == Profile::Piv;
    let start = (first >> 1) % 4;
    let image = if start == 3 {
        keyed_image(profile)
    } else {
        fresh_image(profile)
    };
    let (mut card, storage) = card_from(image, u64::from(first));
    let select = if piv {
        ts::piv::SELECT
    } else {
        ts::gids::SELECT
    };
    let auth = |card: &mut Card, key: &[u8]| {
        if piv {
            piv_auth(card, key)
        } else {
            gids_auth(card, key)
        }
    };
    let right_key = ts::piv::DEFAULT_ADMIN_KEY.to_vec();
    let mut wrong_key = right_key.clone();
    if start >= 1 {
        assert_eq!(sw(&card.transmit(select)), 0x9000);
        let verify = ts::verify_command(ts::PIN);
        assert_eq!(sw(&card.transmit(&verify)), 0x9000);
    }
    if start == 2 || (start == 3 && first & 0x10 != 0) {
        assert_eq!(auth(&mut card, &right_key), 0x9000);
    }
    // Whether the PIN and the administrator key are still the defaults the session knows.
    let mut pin_known = true;
    let mut key_known = true;
    let mut stored = storage.image().unwrap();
    let mut steps = 0;
    while !input.is_empty() && steps < 64 {
        steps += 1;
        let op = input.byte();
        let mut counts_tries = false;
        let (command, status) = match op % 16 {
            0 => {
                let n = usize::from(input.byte());
                let c = input.bytes(n).to_vec();
                let r = card.transmit(&c);
                assert!(r.len() >= 2, "response {r:02X?} to {c:02X?}");
                (c, sw(&r))
            }
            1 => {
                let c = ts::verify_command(ts::PIN);
                let r = card.transmit(&c);
                assert!(r.len() >= 2);
                counts_tries = true;
                (c, sw(&r))
            }
            2 => {
                let pin = input.pick(WRONG_PINS);
                let c = ts::verify_command(pin);
                let r = card.transmit(&c);
                assert!(r.len() >= 2);
                if pin_known {
                    assert_ne!(sw(&r), 0x9000, "a wrong PIN {pin:02X?} was accepted");
                }
                counts_tries = true;
                (c, sw(&r))
            }
            3 => {
                counts_tries = true;
                (b"auth".to_vec(), auth(&mut card, &right_key))
            }
            4 => {
                let at = usize::from(input.byte()) % wrong_key.len();
                wrong_key.copy_from_slice(&right_key);
                // Never only the low bit of a byte: 3DES ignores it (parity), so such a key is
                // the right one.
                wrong_key[at] ^= (input.byte() | 1) << 1;
                let s = auth(&mut card, &wrong_key);
                if key_known {
                    assert_ne!(s, 0x9000, "a wrong key {wrong_key:02X?} was accepted");
                }
                counts_tries = true;
                (b"wrong auth".to_vec(), s)
            }
            5 => {
                card.reset();
                (b"reset".to_vec(), 0x9000)
            }
            6 => {
                let r = card.transmit(select);
                assert!(r.len() >= 2);
                (select.to_vec(), sw(&r))
            }
            7 => {
                let c = vec![0, 0xC0, 0, 0, input.byte()];
                let r = card.transmit(&c);
                assert!(r.len() >= 2);
                (c, sw(&r))
            }
            _ => {
                let ins = input.pick(if piv { PIV_INS } else { GIDS_INS });
                let [p1, p2] = if input.byte() % 8 == 0 {
                    [input.byte(), input.byte()]
                } else {
                    input.pick(if piv { PIV_P1P2 } else { GIDS_P1P2 })
                };
                let cla = input.pick(&[0x00u8, 0x00, 0x00, 0x10, 0x80, 0x0C]);
                let d = data(&mut input, piv);
                let le = input.pick(&[None, Some(256), Some(65536), Some(1), Some(16)]);
                let c = softcard::apdu::encode_command(cla, ins, p1, p2, &d, le).unwrap_or(d);
                let r = card.transmit(&c);
                assert!(r.len() >= 2, "response {r:02X?} to {c:02X?}");
                // A command that may check a PIN or a key in its data.
                counts_tries = matches!(ins, 0x20 | 0x24 | 0x2C | 0x87);
                if sw(&r) == 0x9000 && matches!(ins, 0x24 | 0x2C) {
                    pin_known = false;
                }
                if sw(&r) == 0x9000 && (matches!(ins, 0xFF | 0x24) || (!piv && ins == 0xDB)) {
                    key_known = false;
                }
                (c, sw(&r))
            }
        };
        let now = storage.image().unwrap();
        assert_eq!(
            card.image().unwrap(),
            now,
            "the card's state is its stored image after {command:02X?} ({status:04X})"
        );
        let accepted = status == 0x9000 || status >> 8 == 0x61;
        if !accepted && !counts_tries {
            assert!(
                now == stored,
                "the refused command {command:02X?} ({status:04X}) changed the stored image"
            );
        }
        if now != stored {
            assert_loads_back(&now);
            stored = now;
        }
    }
    assert_loads_back(&stored);
}
