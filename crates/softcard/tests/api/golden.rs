//! Golden images of card image format version 1 (`tests/data/images/v1/`): every later
//! version must still load them, describe them as they were described when written, and
//! use the keys in them.

use std::{fs, path::PathBuf};

use rsa::{BoxedUint, PublicKey, pkcs1v15::Pkcs1v15Sign, traits::PublicKeyParts};
use sha2::{Digest, Sha256};
use softcard::{Card, NoStorage, crypto::BackendKind, tlv};
use softcard_test_support::{ok, send};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/images/v1")
}

fn load(name: &str, backend: BackendKind) -> Card {
    let bytes = fs::read(dir().join(format!("{name}.img"))).unwrap();
    Card::load(
        &bytes,
        Box::new(softcard::seeded_rng(5)),
        Box::new(NoStorage),
        backend,
    )
    .unwrap_or_else(|e| panic!("golden image {name} no longer loads: {e}"))
}

fn rsa_key(n_e: &[u8]) -> PublicKey {
    let n = tlv::find(n_e, 0x81).unwrap().unwrap();
    let e = tlv::find(n_e, 0x82).unwrap().unwrap();
    PublicKey::new(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
    )
    .unwrap()
}

fn digest_info(message: &[u8]) -> Vec<u8> {
    softcard::crypto::HashAlg::Sha256.digest_info(&Sha256::digest(message))
}

/// The DER certificate in a PEM file (one block).
fn pem_der(name: &str) -> Vec<u8> {
    let text = fs::read_to_string(dir().join(name)).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = b64.bytes().filter(|c| *c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |acc, d| (acc << 6) | u32::from(*d)) << (6 * (4 - c.len()));
            let bytes = n.to_be_bytes();
            bytes[1..c.len()].to_vec()
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn golden_images_describe_as_written() {
    for name in ["piv", "windows-vsc"] {
        let expected = fs::read_to_string(dir().join(format!("{name}.describe.txt"))).unwrap();
        for backend in BackendKind::available() {
            let card = load(name, backend);
            let described: Vec<String> = card
                .describe()
                .into_iter()
                .filter(|l| !l.starts_with("backend:"))
                .collect();
            let expected: Vec<&str> = expected
                .lines()
                .filter(|l| !l.starts_with("backend:"))
                .collect();
            assert_eq!(described, expected, "{name} with {backend:?}");
        }
    }
}

#[test]
fn golden_piv_image_signs_with_its_key() {
    for backend in BackendKind::available() {
        let mut card = load("piv", backend);
        ok(
            &mut card,
            &[
                0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
            ],
        );
        // GET METADATA of slot 9D: the public key in tag 04
        let meta = ok(&mut card, &[0x00, 0xF7, 0x00, 0x9D, 0x00]);
        let key = rsa_key(tlv::find(&meta, 0x04).unwrap().unwrap());
        let cert = pem_der("piv-cert.pem");
        assert!(
            contains(&cert, &key.n_bytes()),
            "the certificate is for this key"
        );
        // signing needs the PIN (policy "once" for 9D)
        let info = digest_info(b"golden");
        let mut block = vec![0x00, 0x01];
        block.resize(256 - info.len() - 1, 0xFF);
        block.push(0x00);
        block.extend_from_slice(&info);
        let mut body = vec![0x82, 0x00];
        tlv::write(&mut body, 0x81, &block);
        let cmd = softcard::apdu::encode_command(
            0x00,
            0x87,
            0x07,
            0x9D,
            &tlv::encode(0x7C, &body),
            Some(65536),
        )
        .unwrap();
        assert_eq!(send(&mut card, &cmd).1, 0x6982, "signed without the PIN");
        let mut verify = vec![0x00, 0x20, 0x00, 0x80, 0x08];
        verify.extend_from_slice(b"12345678");
        ok(&mut card, &verify);
        let r = ok(&mut card, &cmd);
        let sig = tlv::find(tlv::expect_single(&r, 0x7C).unwrap(), 0x82)
            .unwrap()
            .unwrap();
        let digest = Sha256::digest(b"golden");
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, sig)
            .unwrap();
        assert!(
            key.verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(b"other"),
                sig
            )
            .is_err()
        );
    }
}

#[test]
fn golden_gids_image_signs_with_its_key() {
    for backend in BackendKind::available() {
        let mut card = load("windows-vsc", backend);
        softcard_test_support::gids::select(&mut card);
        let public = ok(
            &mut card,
            &[
                0x00, 0xCB, 0x3F, 0xFF, 0x0A, 0x70, 0x08, 0x84, 0x01, 0x81, 0xA5, 0x03, 0x7F, 0x49,
                0x80, 0x00,
            ],
        );
        let key = rsa_key(tlv::expect_single(&public, 0x7F49).unwrap());
        assert!(contains(&pem_der("windows-vsc-cert.pem"), &key.n_bytes()));
        let info = digest_info(b"golden");
        let mut pso = vec![0x00, 0x2A, 0x9E, 0x9A, info.len() as u8];
        pso.extend_from_slice(&info);
        pso.push(0x00);
        ok(
            &mut card,
            &[
                0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, 0x57, 0x84, 0x01, 0x81,
            ],
        );
        assert_eq!(send(&mut card, &pso).1, 0x6982, "signed without the PIN");
        let mut verify = vec![0x00, 0x20, 0x00, 0x80, 0x08];
        verify.extend_from_slice(b"12345678");
        ok(&mut card, &verify);
        ok(
            &mut card,
            &[
                0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, 0x57, 0x84, 0x01, 0x81,
            ],
        );
        let sig = ok(&mut card, &pso);
        key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(b"golden"),
            &sig,
        )
        .unwrap();
    }
}

#[test]
fn golden_images_are_format_version_1() {
    for name in ["piv", "windows-vsc"] {
        let bytes = fs::read(dir().join(format!("{name}.img"))).unwrap();
        assert_eq!(&bytes[..8], softcard::image::MAGIC, "{name}");
        assert_eq!(u16::from_be_bytes([bytes[8], bytes[9]]), 1, "{name}");
        assert_eq!(&bytes[10..12], &[0, 0], "{name}");
        let body_len = u32::from_be_bytes(bytes[12..16].try_into().unwrap()) as usize;
        assert_eq!(
            body_len + softcard::image::HEADER_LEN,
            bytes.len(),
            "{name}"
        );
    }
}

/// Without the cargo feature `aws-lc`, loading into that backend names the missing backend
/// (it used to be reported as a corrupted image).
#[cfg(not(feature = "aws-lc"))]
#[test]
fn loading_into_a_missing_backend_names_it() {
    let bytes = fs::read(dir().join("piv.img")).unwrap();
    let err = Card::load(
        &bytes,
        Box::new(softcard::seeded_rng(5)),
        Box::new(NoStorage),
        BackendKind::AwsLc,
    )
    .unwrap_err();
    assert!(
        matches!(err, softcard::Error::BackendUnavailable(BackendKind::AwsLc)),
        "{err:?}"
    );
    assert!(err.to_string().contains("aws-lc"), "{err}");
    let err = Card::create_seeded(
        &softcard::CardOptions {
            backend: BackendKind::AwsLc,
            ..softcard::CardOptions::new(softcard::Profile::Piv)
        },
        1,
        Box::new(NoStorage),
    )
    .unwrap_err();
    assert!(
        matches!(err, softcard::Error::BackendUnavailable(BackendKind::AwsLc)),
        "{err:?}"
    );
}

/// A reader of the postcard encoding as docs/card-image-format.md describes it.
struct Spec<'a> {
    bytes: &'a [u8],
}

impl<'a> Spec<'a> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = self.bytes.split_first().expect("truncated");
        self.bytes = rest;
        *b
    }
    fn bool(&mut self) -> bool {
        match self.u8() {
            0 => false,
            1 => true,
            b => panic!("bool {b:#04x}"),
        }
    }
    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8();
            value |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return value;
            }
        }
        panic!("varint too long")
    }
    /// A variant index below `count`.
    fn variant(&mut self, count: u64) -> u64 {
        let v = self.varint();
        assert!(v < count, "variant {v} of {count}");
        v
    }
    fn bytes(&mut self) -> &'a [u8] {
        let len = self.varint() as usize;
        let (b, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        b
    }
    fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        self.bool().then(|| f(self))
    }
    fn map(&mut self, mut f: impl FnMut(&mut Self)) -> u64 {
        let n = self.varint();
        for _ in 0..n {
            f(self);
        }
        n
    }
    fn end(&self) {
        assert!(self.bytes.is_empty(), "{} bytes left", self.bytes.len());
    }

    /// A `Pin`; returns tries left and the most tries.
    fn pin(&mut self) -> (u8, u8) {
        let value = self.bytes();
        let tries = self.u8();
        let (min, max, max_tries) = (self.u8(), self.u8(), self.u8());
        assert!((min as usize..=max as usize).contains(&value.len()));
        (tries, max_tries)
    }
    /// A `KeyMaterial`; returns the key size in bits.
    fn key(&mut self) -> usize {
        match self.variant(3) {
            0 => {
                let n = self.bytes();
                for _ in 0..4 {
                    assert!(!self.bytes().is_empty());
                }
                n.len() * 8
            }
            1 => {
                assert_eq!(self.bytes().len(), 32);
                256
            }
            _ => {
                assert_eq!(self.bytes().len(), 48);
                384
            }
        }
    }
}

/// What the walk found: (profile, serial, PIN tries, keys by reference with their sizes).
type Walked = (u64, u64, (u8, u8), Vec<(u8, usize)>);

/// Walks a whole image by the format document.
fn walk(image: &[u8]) -> Walked {
    assert_eq!(&image[..8], b"SOFTCARD");
    assert_eq!(&image[8..12], &[0, 1, 0, 0]);
    let mut body = Spec {
        bytes: &image[softcard::image::HEADER_LEN..],
    };
    let profile = body.variant(2);
    let serial = body.varint();
    assert_eq!(body.varint(), 1, "one applet");
    let aid = body.bytes();
    let mut s = Spec {
        bytes: body.bytes(),
    };
    body.end();
    let mut keys = Vec::new();
    let pin = if profile == 0 {
        assert_eq!(aid, softcard::piv::AID);
        let pin = s.pin();
        s.pin();
        s.bool();
        s.bool();
        let alg = s.variant(4);
        assert_eq!(s.bytes().len(), [24, 16, 24, 32][alg as usize]);
        s.variant(3);
        s.bool();
        s.map(|s| {
            let slot = match s.variant(6) {
                0 => 0x9A,
                1 => 0x9C,
                2 => 0x9D,
                3 => 0x9E,
                4 => s.u8(),
                _ => 0xF9,
            };
            keys.push((slot, s.key()));
            s.variant(3);
            s.variant(3);
            s.variant(2);
        });
        s.map(|s| {
            s.varint();
            s.bytes();
        });
        assert_eq!(s.varint(), serial, "GET SERIAL reports the card's serial");
        pin
    } else {
        assert_eq!(aid, softcard::gids::AID);
        s.bool();
        s.map(|s| {
            assert!(s.varint() <= u64::from(u16::MAX));
            s.bytes();
            s.u8();
            s.u8();
            s.bool();
            s.map(|s| {
                s.varint();
                s.bytes();
            });
        });
        s.map(|s| {
            let kid = s.u8();
            s.bytes();
            s.bytes();
            s.bool();
            if let Some(bits) = s.option(Spec::key) {
                keys.push((kid, bits));
            }
        });
        let pin = s.option(Spec::pin).expect("a PIN");
        s.option(|s| {
            let kind = s.variant(2);
            let len = s.bytes().len();
            assert!(if kind == 0 {
                len == 24
            } else {
                [16, 24, 32].contains(&len)
            });
        });
        s.bool();
        pin
    };
    s.end();
    (profile, serial, pin, keys)
}

/// The format document describes the golden images and the images this build writes,
/// byte for byte.
#[test]
fn the_format_document_describes_the_images() {
    let expected: [(&str, Walked); 2] = [
        (
            "piv",
            (0, 737_883_636, (3, 3), vec![(0x9D, 2048), (0xF9, 256)]),
        ),
        ("windows-vsc", (1, 188_975_277, (3, 3), vec![(0x81, 2048)])),
    ];
    for (name, want) in expected {
        let golden = fs::read(dir().join(format!("{name}.img"))).unwrap();
        assert_eq!(walk(&golden), want, "golden {name}");
        let rewritten = load(name, BackendKind::RustCrypto).image().unwrap();
        assert_eq!(walk(&rewritten), want, "{name} written by this build");
    }
    for profile in [softcard::Profile::Piv, softcard::Profile::WindowsVsc] {
        let card =
            Card::create_seeded(&softcard::CardOptions::new(profile), 9, Box::new(NoStorage))
                .unwrap();
        let (_, serial, _, _) = walk(&card.image().unwrap());
        assert_eq!(serial, u64::from(card.serial()));
    }
}

/// Key material of every algorithm is encoded as the format document says.
#[test]
fn the_format_document_describes_every_key_material() {
    use softcard::crypto::{KeyAlgorithm, PrivateKey};
    for alg in [
        KeyAlgorithm::Rsa1024,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
    ] {
        let key = PrivateKey::generate(BackendKind::RustCrypto, alg, &mut softcard::seeded_rng(3))
            .unwrap();
        let bytes = postcard::to_allocvec(key.material()).unwrap();
        let mut spec = Spec { bytes: &bytes };
        assert_eq!(spec.key(), alg.bits(), "{alg:?}");
        spec.end();
    }
}

/// Loading binds the stored key material to a backend and saving writes it back as it was
/// read: a golden image loaded and saved again is the same bytes, on every backend.
#[test]
fn golden_images_save_back_byte_for_byte() {
    for name in ["piv", "windows-vsc"] {
        let golden = fs::read(dir().join(format!("{name}.img"))).unwrap();
        for backend in BackendKind::available() {
            assert_eq!(
                load(name, backend).image().unwrap(),
                golden,
                "{name} on {backend:?}"
            );
        }
    }
}
