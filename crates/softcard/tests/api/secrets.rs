//! The secret sweep: on a PIV and a GIDS card in each security state (nothing verified, PIN
//! verified, management / administrator key authenticated, keys present), every GET DATA
//! tag, every instruction byte with a fixed set of P1-P2 and data variants (empty, short,
//! extended, chained), GET METADATA of every reference and the Yubico extensions; no
//! response may hold a secret: the PIN, the PUK, the management / administrator key or the
//! bytes of an imported private key (any 8-byte run of them; the whole value when shorter).
//! The card's description, its text form and the `Debug` output of the card and of its
//! options are checked the same way (as bytes and as hex). No randomness: the secrets are
//! fixed, the cards seeded.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use softcard::{
    Card, CardOptions, Profile, Secret, apdu::encode_command, crypto::sym::SymAlg, tlv,
};
use softcard_test_support::{card_with, exchange, gids, piv};

const PIV_PIN: &[u8] = b"73915246";
const PIV_PUK: &[u8] = b"80462913";
const GIDS_PIN: &[u8] = b"gids-sweep-pin-7391";

/// Fixed bytes derived from a label.
fn derived(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0u8;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(label.as_bytes());
        h.update([i]);
        out.extend_from_slice(&h.finalize());
        i += 1;
    }
    out.truncate(len);
    out
}

/// A known RSA-2048 key (the first group of a Wycheproof vector file): n, d, p, q.
pub(crate) fn known_rsa() -> [Vec<u8>; 4] {
    let text = include_str!("../data/crypto/rsa_pkcs1_2048_decrypt.txt");
    let field = |name: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} = ")))
            .unwrap();
        let mut v = hex::decode(line.split(" = ").nth(1).unwrap().trim()).unwrap();
        while v.first() == Some(&0) {
            v.remove(0);
        }
        v
    };
    [field("n"), field("d"), field("p"), field("q")]
}

/// The secrets a card must never answer with, by name.
struct Secrets {
    named: Vec<(String, Vec<u8>)>,
    /// Every 8-byte run of the long secrets, with the secret's name.
    windows: HashSet<[u8; 8]>,
}

impl Secrets {
    fn new() -> Self {
        Secrets {
            named: Vec::new(),
            windows: HashSet::new(),
        }
    }

    fn add(&mut self, name: &str, value: &[u8]) {
        assert!(!value.is_empty());
        for w in value.windows(8) {
            self.windows.insert(w.try_into().unwrap());
        }
        self.named.push((name.to_owned(), value.to_vec()));
    }

    /// The name of a secret found in `bytes`, if any.
    fn found_in(&self, bytes: &[u8]) -> Option<&str> {
        if bytes.windows(8).any(|w| self.windows.contains(w)) {
            let (name, _) = self
                .named
                .iter()
                .find(|(_, v)| v.len() >= 8 && v.windows(8).any(|s| contains(bytes, s)))
                .unwrap();
            return Some(name);
        }
        self.named
            .iter()
            .find(|(_, v)| v.len() < 8 && contains(bytes, v))
            .map(|(n, _)| n.as_str())
    }

    /// The name of a secret `text` holds as bytes or in hex (either case), if any.
    fn found_in_text(&self, text: &str) -> Option<String> {
        if let Some(name) = self.found_in(text.as_bytes()) {
            return Some(name.to_owned());
        }
        let lower = text.to_ascii_lowercase();
        for (name, v) in &self.named {
            let runs: Vec<&[u8]> = if v.len() < 8 {
                vec![v]
            } else {
                v.windows(8).collect()
            };
            if runs
                .into_iter()
                .any(|run| lower.contains(&hex::encode(run)))
            {
                return Some(format!("{name} in hex"));
            }
        }
        None
    }

    /// Panics when `text` holds a secret.
    fn check_text(&self, what: &str, text: &str) {
        if let Some(name) = self.found_in_text(text) {
            panic!("{what} holds {name}");
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Sends APDUs, follows `61xx`, checks every raw response and counts the commands.
struct Sweeper<'a> {
    card: Card,
    secrets: &'a Secrets,
    sent: usize,
}

impl Sweeper<'_> {
    fn send(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        let Self {
            card,
            secrets,
            sent,
        } = self;
        let Ok(r) = exchange(
            |a| {
                *sent += 1;
                let resp = card.transmit(a);
                if let Some(name) = secrets.found_in(&resp) {
                    panic!("the answer to {a:02X?} holds {name}: {resp:02X?}");
                }
                Ok::<_, std::convert::Infallible>(resp)
            },
            apdu,
        );
        if let Some(name) = secrets.found_in(&r.0) {
            panic!("the answer to {apdu:02X?} holds {name}");
        }
        r
    }

    fn ok(&mut self, apdu: &[u8]) -> Vec<u8> {
        let (data, sw) = self.send(apdu);
        assert_eq!(sw, 0x9000, "{apdu:02X?}");
        data
    }

    /// Every instruction byte with each P1-P2 of `p1p2` and each data variant; after the
    /// instructions of `restore_after`, and after each instruction's variants, `restore`
    /// brings the state back.
    fn every_instruction(
        &mut self,
        p1p2: &[(u8, u8)],
        restore_after: &[u8],
        restore: &dyn Fn(&mut Self),
    ) {
        let short: Vec<u8> = (0..16).map(|i| 0xA5 ^ i).collect();
        let long: Vec<u8> = (0..300u16).map(|i| (i as u8) ^ 0x5A).collect();
        for ins in 0..=255u8 {
            for &(p1, p2) in p1p2 {
                let variants: Vec<Vec<Vec<u8>>> = vec![
                    vec![vec![0, ins, p1, p2]],
                    vec![encode_command(0, ins, p1, p2, &[], Some(256)).unwrap()],
                    vec![encode_command(0, ins, p1, p2, &short, Some(256)).unwrap()],
                    vec![encode_command(0, ins, p1, p2, &long, Some(65536)).unwrap()],
                    vec![
                        encode_command(0x10, ins, p1, p2, &short[..8], None).unwrap(),
                        encode_command(0, ins, p1, p2, &short[8..], Some(256)).unwrap(),
                    ],
                ];
                for parts in variants {
                    for part in parts {
                        self.send(&part);
                    }
                    if restore_after.contains(&ins) {
                        restore(self);
                    }
                }
            }
            restore(self);
        }
    }
}

fn piv_secrets(mgmt: &[u8], keys: bool) -> Secrets {
    let mut s = Secrets::new();
    s.add("the PIN", PIV_PIN);
    s.add("the PUK", PIV_PUK);
    s.add("the management key", mgmt);
    if keys {
        let [_, d, p, q] = known_rsa();
        s.add("the RSA key's d", &d);
        s.add("the RSA key's p", &p);
        s.add("the RSA key's q", &q);
        s.add("the P-256 key in 9C", &derived("p256 9C", 32));
        s.add("the P-256 key in F9", &derived("p256 F9", 32));
    }
    s
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Nothing,
    Pin,
    Admin,
    Keys,
}

const STATES: [State; 4] = [State::Nothing, State::Pin, State::Admin, State::Keys];

fn piv_sweep(state: State) -> usize {
    let mgmt = derived("piv management key", 24);
    let mut opts = CardOptions::new(Profile::Piv);
    opts.pin = Some(Secret::from_slice(PIV_PIN));
    opts.puk = Some(Secret::from_slice(PIV_PUK));
    opts.admin_key = Some(Secret::from_slice(&mgmt));
    let (card, _) = card_with(&opts, 41);
    let secrets = piv_secrets(&mgmt, state == State::Keys);
    let mut s = Sweeper {
        card,
        secrets: &secrets,
        sent: 0,
    };
    let verify = encode_command(0, 0x20, 0, 0x80, PIV_PIN, None).unwrap();
    let auth = |s: &mut Sweeper| {
        assert_eq!(piv::mgmt_auth(&mut s.card, SymAlg::Tdes, &mgmt), 0x9000);
        s.sent += 2;
    };
    let restore = |s: &mut Sweeper| {
        s.ok(piv::SELECT);
        if matches!(state, State::Pin | State::Keys) {
            s.ok(&verify);
        }
        if matches!(state, State::Admin | State::Keys) {
            auth(s);
        }
    };
    restore(&mut s);
    if state == State::Keys {
        let [_, _, p, q] = known_rsa();
        let mut data = Vec::new();
        tlv::write(&mut data, 0x01, &p);
        tlv::write(&mut data, 0x02, &q);
        for tag in [0x03, 0x04, 0x05] {
            tlv::write(&mut data, tag, &[0x01]);
        }
        s.ok(&encode_command(0, 0xFE, 0x07, 0x9A, &data, None).unwrap());
        for (slot, label) in [(0x9C, "p256 9C"), (0xF9, "p256 F9")] {
            let d = tlv::encode(0x06, &derived(label, 32));
            s.ok(&encode_command(0, 0xFE, 0x11, slot, &d, None).unwrap());
        }
        for slot in [0x9E, 0x82, 0x83] {
            s.ok(&encode_command(0, 0x47, 0, slot, &[0xAC, 3, 0x80, 1, 0x11], None).unwrap());
        }
        s.ok(&encode_command(0, 0x47, 0, 0x9D, &[0xAC, 3, 0x80, 1, 0x07], None).unwrap());
        // Use the keys once each.
        let digest = [0x42u8; 32];
        let mut block = vec![0u8, 1];
        block.resize(256 - 33, 0xFF);
        block.push(0);
        block.extend_from_slice(&digest);
        for (alg, slot, data) in [
            (0x07, 0x9A, &block[..]),
            (0x11, 0x9C, &digest[..]),
            (0x11, 0x9E, &digest[..]),
        ] {
            s.ok(&verify);
            let t = piv::template(&[(0x82, &[]), (0x81, data)]);
            s.ok(&encode_command(0, 0x87, alg, slot, &t, Some(65536)).unwrap());
        }
        s.ok(&encode_command(0, 0xF9, 0x9D, 0, &[], Some(65536)).unwrap());
    }
    // GET DATA of every object tag.
    let mut tags: Vec<Vec<u8>> = vec![vec![0x7E], vec![0x7F, 0x61]];
    for b in 0..=255u8 {
        tags.push(vec![0x5F, 0xC1, b]);
        tags.push(vec![0x5F, 0xFF, b]);
    }
    for tag in &tags {
        let data = tlv::encode(0x5C, tag);
        s.send(&encode_command(0, 0xCB, 0x3F, 0xFF, &data, Some(65536)).unwrap());
    }
    // GET METADATA of every reference, ATTEST of every slot, the other Yubico extensions.
    for r in 0..=255u8 {
        s.send(&encode_command(0, 0xF7, 0, r, &[], Some(65536)).unwrap());
        s.send(&encode_command(0, 0xF9, r, 0, &[], Some(65536)).unwrap());
    }
    s.send(&[0, 0xFD, 0, 0]);
    s.send(&[0, 0xF8, 0, 0]);
    // Every instruction byte.
    s.every_instruction(
        &[
            (0, 0),
            (0x3F, 0xFF),
            (0, 0x80),
            (0x03, 0x9B),
            (0x07, 0x9A),
            (0xFF, 0xFF),
        ],
        &[
            0x20, 0x24, 0x2C, 0x87, 0xA4, 0xDB, 0xFA, 0xFB, 0xFE, 0xFF, 0x47,
        ],
        &restore,
    );
    describe_and_debug(&s.card, &secrets, &opts);
    s.sent
}

/// The description, its text form and the `Debug` outputs hold no secret.
fn describe_and_debug(card: &Card, secrets: &Secrets, opts: &CardOptions) {
    secrets.check_text("the description", &format!("{:?}", card.description()));
    secrets.check_text("describe()", &card.describe().join("\n"));
    secrets.check_text("the card's Debug", &format!("{card:?}"));
    secrets.check_text("the options' Debug", &format!("{opts:?}"));
    for (name, v) in &secrets.named {
        secrets.check_text(name, &format!("{:?}", Secret::from_slice(v)));
    }
}

fn gids_secrets(admin: &[u8], keys: bool) -> Secrets {
    let mut s = Secrets::new();
    s.add("the PIN", GIDS_PIN);
    s.add("the administrator key", admin);
    if keys {
        let [_, d, p, q] = known_rsa();
        s.add("the RSA key's d", &d);
        s.add("the RSA key's p", &p);
        s.add("the RSA key's q", &q);
    }
    s
}

fn gids_sweep(state: State) -> usize {
    let admin = derived("gids administrator key", 24);
    let mut opts = CardOptions::new(Profile::WindowsVsc);
    opts.pin = Some(Secret::from_slice(GIDS_PIN));
    opts.admin_key = Some(Secret::from_slice(&admin));
    let (card, _) = card_with(&opts, 43);
    let secrets = gids_secrets(&admin, state == State::Keys);
    let mut s = Sweeper {
        card,
        secrets: &secrets,
        sent: 0,
    };
    let verify = encode_command(0, 0x20, 0, 0x80, GIDS_PIN, None).unwrap();
    let restore = |s: &mut Sweeper| {
        s.ok(gids::SELECT);
        if matches!(state, State::Pin | State::Keys) {
            s.ok(&verify);
        }
        if matches!(state, State::Admin | State::Keys) {
            assert_eq!(gids::admin_auth(&mut s.card, &admin), 0x9000);
            s.sent += 3;
        }
    };
    restore(&mut s);
    if state == State::Keys {
        // A generated key in 81, the known key imported in 82.
        gids::new_key(&mut s.card, 0x81, 0x07);
        s.sent += 4;
        let [n, d, p, q] = known_rsa();
        s.ok(&encode_command(0, 0xE0, 0, 0, &gids::keyexchange_fcp(0x82, 7), None).unwrap());
        s.ok(&[0, 0x44, 0, 0]);
        let body = gids::rsa_import_body(0x82, &n, &[1, 0, 1], &d, &p, &q);
        s.ok(&encode_command(0, 0xDB, 0x3F, 0xFF, &body, None).unwrap());
        for kid in [0x81, 0x82] {
            let (_, sw) = gids::sign_sha256(&mut s.card, kid, b"sweep");
            assert_eq!(sw, 0x9000);
            s.sent += 2;
        }
        restore(&mut s);
    }
    // GET DATA of every DO in every EF, the PIN status, public keys.
    for ef in [
        0xA000u16, 0xA010, 0xA011, 0xA012, 0xA013, 0xA014, 0x3FFF, 0x0000,
    ] {
        let [hi, lo] = ef.to_be_bytes();
        s.send(&encode_command(0, 0xCB, hi, lo, &[0x5C, 0], Some(65536)).unwrap());
        for b in 0..=255u8 {
            let data = [0x5C, 2, 0xDF, b];
            s.send(&encode_command(0, 0xCB, hi, lo, &data, Some(65536)).unwrap());
        }
        for tag in [[0x7F, 0x71], [0x7F, 0x72]] {
            let data = [0x5C, 2, tag[0], tag[1]];
            s.send(&encode_command(0, 0xCB, hi, lo, &data, Some(65536)).unwrap());
        }
        // SELECT the EF, then its DOs through the current file.
        s.send(&encode_command(0, 0xA4, 0, 0x0C, &[hi, lo], None).unwrap());
        s.send(&encode_command(0, 0xCB, 0, 0, &[0x5C, 0], Some(65536)).unwrap());
    }
    for kid in 0x80..=0x9Fu8 {
        let data = [0x70, 0x08, 0x84, 0x01, kid, 0xA5, 0x03, 0x7F, 0x49, 0x80];
        s.send(&encode_command(0, 0xCB, 0x3F, 0xFF, &data, Some(65536)).unwrap());
    }
    restore(&mut s);
    s.every_instruction(
        &[
            (0, 0),
            (0x3F, 0xFF),
            (0, 0x80),
            (0xA0, 0x10),
            (0x41, 0xB6),
            (0xFF, 0xFF),
        ],
        &[0x20, 0x22, 0x24, 0x2C, 0x44, 0x87, 0xA4, 0xDB, 0xE0, 0xE4],
        &restore,
    );
    describe_and_debug(&s.card, &secrets, &opts);
    s.sent
}

fn run(card: &str, state: State, sweep: fn(State) -> usize) {
    let n = sweep(state);
    eprintln!("secret sweep {card} {state:?}: {n} commands, no secret in any answer");
}

#[test]
fn piv_nothing_verified() {
    run("PIV", STATES[0], piv_sweep);
}

#[test]
fn piv_pin_verified() {
    run("PIV", STATES[1], piv_sweep);
}

#[test]
fn piv_management_key_authenticated() {
    run("PIV", STATES[2], piv_sweep);
}

#[test]
fn piv_keys_present() {
    run("PIV", STATES[3], piv_sweep);
}

#[test]
fn gids_nothing_verified() {
    run("GIDS", STATES[0], gids_sweep);
}

#[test]
fn gids_pin_verified() {
    run("GIDS", STATES[1], gids_sweep);
}

#[test]
fn gids_administrator_authenticated() {
    run("GIDS", STATES[2], gids_sweep);
}

#[test]
fn gids_keys_present() {
    run("GIDS", STATES[3], gids_sweep);
}

/// The detector itself: an answer holding a secret is caught.
#[test]
fn the_detector_finds_a_planted_secret() {
    let s = piv_secrets(&derived("piv management key", 24), true);
    let [_, d, ..] = known_rsa();
    let mut answer = vec![0x53, 0x20];
    answer.extend_from_slice(&d[100..108]);
    assert_eq!(s.found_in(&answer), Some("the RSA key's d"));
    assert_eq!(s.found_in(b"xx73915246yy"), Some("the PIN"));
    assert_eq!(s.found_in(&d[..7]), None);
    let mut text = String::from("key: ");
    text.push_str(&hex::encode_upper(&d[3..11]));
    assert_eq!(
        s.found_in_text(&text).as_deref(),
        Some("the RSA key's d in hex")
    );
    assert_eq!(s.found_in_text("no secret here"), None);
}

/// The whole path: a secret written into a data object comes back through GET DATA and is
/// caught there, so a card that answered with one would fail the sweep.
#[test]
fn the_sweep_catches_a_secret_in_an_answer() {
    let mgmt = derived("piv management key", 24);
    let mut opts = CardOptions::new(Profile::Piv);
    opts.admin_key = Some(Secret::from_slice(&mgmt));
    let (mut card, _) = card_with(&opts, 44);
    let secrets = piv_secrets(&mgmt, true);
    piv::select(&mut card);
    assert_eq!(piv::mgmt_auth(&mut card, SymAlg::Tdes, &mgmt), 0x9000);
    let [_, _, p, _] = known_rsa();
    let mut data = tlv::encode(0x5C, &[0x5F, 0xC1, 0x0A]);
    tlv::write(&mut data, 0x53, &p[40..52]);
    piv::ok(&mut card, 0xDB, 0x3F, 0xFF, &data);
    let answer = card.transmit(&[0, 0xCB, 0x3F, 0xFF, 5, 0x5C, 3, 0x5F, 0xC1, 0x0A, 0]);
    assert_eq!(secrets.found_in(&answer), Some("the RSA key's p"));
}
