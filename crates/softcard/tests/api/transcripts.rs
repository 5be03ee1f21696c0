//! APDU transcripts as data: every `*.apdu` file under `tests/data/apdu/` is run against a
//! fresh card, in process.
//!
//! Format, one directive per line (`#` starts a comment, spaces inside hex are ignored):
//!
//! ```text
//! card piv [pin=123456] [seed=7]   create the card (must come first)
//! > 00 A4 04 00 05 A000000308      send a command APDU
//! < 61 11 4F 06 ... 90 00          expect exactly this response (data || SW)
//! < * 9000                         expect SW 9000 with any data (or none)
//! < *len=256 9000                  expect SW 9000 with exactly 256 data bytes
//! reset                            power-cycle the card (volatile state is cleared)
//! reload                           rebuild the card from the image it last wrote
//! writes 0                         the last command wrote the image this many times
//! mgmt-auth 03 0102...08           PIV: mutual authentication with management key 9B
//!                                  (algorithm id, key); both sides' cryptograms checked
//! ```
//!
//! Further `card` options: `admin=HEX` (administrator / management key), `admin-aes`
//! (that key is AES).
//!
//! After every command the card's state must be the image in storage: a command that
//! changed it wrote it, and a refused one changed nothing.

use std::{fs, path::Path};

use softcard::{Card, CardOptions, MemoryStorage, Profile, Secret, crypto::BackendKind};

fn hex(s: &str) -> Vec<u8> {
    softcard_test_support::hex::parse(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn run(path: &Path) {
    let text = fs::read_to_string(path).unwrap();
    let name = path.display();
    let storage = MemoryStorage::new();
    let mut card: Option<Card> = None;
    let mut last: Vec<u8> = Vec::new();
    let mut last_writes = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{name}:{}", n + 1);
        if let Some(rest) = line.strip_prefix("card ") {
            let mut words = rest.split_whitespace();
            let profile: Profile = words.next().unwrap().parse().unwrap();
            let mut opts = CardOptions::new(profile);
            let mut seed = 1;
            for w in words {
                if w == "blank" {
                    opts.blank = true;
                    continue;
                }
                match w.split_once('=') {
                    Some(("pin", v)) => opts.pin = Some(Secret::from_slice(v.as_bytes())),
                    Some(("puk", v)) => opts.puk = Some(Secret::from_slice(v.as_bytes())),
                    Some(("seed", v)) => seed = v.parse().unwrap(),
                    Some(("serial", v)) => opts.serial = Some(v.parse().unwrap()),
                    Some(("admin", v)) => opts.admin_key = Some(Secret::new(hex(v))),
                    None if w == "admin-aes" => opts.admin_key_aes = true,
                    _ => panic!("{at}: unknown card option {w}"),
                }
            }
            card = Some(Card::create_seeded(&opts, seed, Box::new(storage.clone())).unwrap());
            continue;
        }
        let c = card
            .as_mut()
            .unwrap_or_else(|| panic!("{at}: no `card` line before commands"));
        if line == "reset" {
            c.reset();
        } else if line == "reload" {
            let image = storage.image().expect("no image written");
            *c = Card::load(
                &image,
                Box::new(softcard::seeded_rng(99)),
                Box::new(storage.clone()),
                BackendKind::RustCrypto,
            )
            .unwrap_or_else(|e| panic!("{at}: reload failed: {e}"));
        } else if let Some(rest) = line.strip_prefix("mgmt-auth ") {
            mgmt_auth(c, rest, &at);
        } else if let Some(cmd) = line.strip_prefix('>') {
            let before = storage.writes();
            last = c.transmit(&hex(cmd));
            last_writes = storage.writes() - before;
            assert!(
                c.image().unwrap() == storage.image().unwrap(),
                "{at}: the card's state differs from its image (response {})",
                hex::encode_upper(&last)
            );
        } else if let Some(n) = line.strip_prefix("writes ") {
            let n: u64 = n.trim().parse().unwrap();
            assert_eq!(last_writes, n, "{at}: image writes of the last command");
        } else if let Some(exp) = line.strip_prefix('<') {
            let exp = exp.trim();
            let (data_rule, sw) = match exp.split_once(' ') {
                Some((rule, sw)) if rule.starts_with('*') => (Some(rule), hex(sw)),
                _ => (None, hex(exp)),
            };
            match data_rule {
                None => assert_eq!(
                    hex::encode_upper(&last),
                    hex::encode_upper(&sw),
                    "{at}: response differs"
                ),
                Some(rule) => {
                    let got_sw = &last[last.len().saturating_sub(2)..];
                    assert_eq!(
                        hex::encode_upper(got_sw),
                        hex::encode_upper(&sw),
                        "{at}: SW differs (response {})",
                        hex::encode_upper(&last)
                    );
                    if let Some(len) = rule.strip_prefix("*len=") {
                        let want: usize = len.parse().unwrap();
                        assert_eq!(last.len() - 2, want, "{at}: data length differs");
                    }
                }
            }
        } else {
            panic!("{at}: cannot read line {raw:?}");
        }
    }
}

/// PIV GENERAL AUTHENTICATE with key 9B, witness then challenge (SP 800-73-4 Part 2
/// section 3.2.4), checking the card's answer to our challenge.
fn mgmt_auth(card: &mut Card, args: &str, at: &str) {
    use softcard::crypto::sym::{SymAlg, SymKey};
    let (alg, key) = args
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("{at}: mgmt-auth ALG KEY"));
    let alg_id = hex(alg)[0];
    let sym =
        SymAlg::from_piv_id(alg_id).unwrap_or_else(|| panic!("{at}: unknown algorithm {alg}"));
    let key = SymKey::from_bytes(sym, &hex(key)).unwrap();
    let bl = sym.block_len();
    let r = card.transmit(&[0, 0x87, alg_id, 0x9B, 4, 0x7C, 2, 0x80, 0]);
    assert_eq!(
        r.len(),
        bl + 6,
        "{at}: witness response {}",
        hex::encode_upper(&r)
    );
    assert_eq!(&r[bl + 4..], &[0x90, 0], "{at}: witness SW");
    let mut witness = r[4..4 + bl].to_vec();
    key.decrypt_block(&mut witness).unwrap();
    let challenge: Vec<u8> = (0..bl as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(5))
        .collect();
    let inner = [
        &[0x80, bl as u8][..],
        &witness,
        &[0x81, bl as u8],
        &challenge,
    ]
    .concat();
    let mut cmd = vec![
        0,
        0x87,
        alg_id,
        0x9B,
        (inner.len() + 2) as u8,
        0x7C,
        inner.len() as u8,
    ];
    cmd.extend_from_slice(&inner);
    let r = card.transmit(&cmd);
    let mut expected = challenge.clone();
    key.encrypt_block(&mut expected).unwrap();
    let want = [
        &[0x7C, bl as u8 + 2, 0x82, bl as u8][..],
        &expected,
        &[0x90, 0],
    ]
    .concat();
    assert_eq!(
        hex::encode_upper(&r),
        hex::encode_upper(&want),
        "{at}: mutual authentication"
    );
}

#[test]
fn apdu_transcripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apdu");
    let mut count = 0;
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "apdu") {
                run(&p);
                count += 1;
            }
        }
    }
    assert!(count > 0, "no transcript found");
}
