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
//! ```

use std::{fs, path::Path};

use softcard::{Card, CardOptions, MemoryStorage, Profile, Secret, crypto::BackendKind};

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&clean).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn run(path: &Path) {
    let text = fs::read_to_string(path).unwrap();
    let name = path.display();
    let storage = MemoryStorage::new();
    let mut card: Option<Card> = None;
    let mut last: Vec<u8> = Vec::new();
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
                match w.split_once('=') {
                    Some(("pin", v)) => opts.pin = Some(Secret::from_slice(v.as_bytes())),
                    Some(("puk", v)) => opts.puk = Some(Secret::from_slice(v.as_bytes())),
                    Some(("seed", v)) => seed = v.parse().unwrap(),
                    Some(("serial", v)) => opts.serial = Some(v.parse().unwrap()),
                    _ => panic!("{at}: unknown card option {w}"),
                }
            }
            card = Some(Card::create_seeded(&opts, seed, Box::new(storage.clone())).unwrap());
            continue;
        }
        let c = card.as_mut().unwrap_or_else(|| panic!("{at}: no `card` line before commands"));
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
        } else if let Some(cmd) = line.strip_prefix('>') {
            last = c.transmit(&hex(cmd));
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
                    assert_eq!(hex::encode_upper(got_sw), hex::encode_upper(&sw), "{at}: SW differs (response {})", hex::encode_upper(&last));
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

#[test]
fn apdu_transcripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apdu");
    let mut count = 0;
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
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
