//! Encoding and decoding of the image header and body.

use super::*;

fn sample() -> Vec<u8> {
    encode(&ImageBody {
        profile: Profile::Piv,
        serial: 42,
        applets: vec![AppletRecord {
            aid: vec![0xA0, 0, 0, 3, 8],
            state: vec![1, 2, 3, 4],
        }],
    })
    .unwrap()
    .to_vec()
}

#[test]
fn round_trip() {
    let bytes = sample();
    assert_eq!(decode(&bytes).unwrap().serial, 42);
}

#[test]
fn every_flip_and_truncation_is_rejected() {
    let bytes = sample();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(decode(&b).is_err(), "flip at {i} bit {bit} accepted");
        }
    }
    for n in 0..bytes.len() {
        assert!(decode(&bytes[..n]).is_err(), "truncation to {n} accepted");
    }
}

#[test]
fn errors_name_the_problem() {
    let bytes = sample();
    assert_eq!(
        decode(b"PK\x03\x04 this is a zip file"),
        Err(ImageError::NotAnImage)
    );
    let mut newer = bytes.clone();
    newer[9] = 2;
    assert_eq!(
        decode(&newer),
        Err(ImageError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    assert!(matches!(
        decode(&bytes[..bytes.len() - 1]),
        Err(ImageError::Truncated { .. })
    ));
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(matches!(
        decode(&flipped),
        Err(ImageError::ChecksumMismatch { .. })
    ));
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(decode(&long), Err(ImageError::TrailingBytes(1)));
}

#[test]
fn version_zero_is_unknown_not_newer() {
    let mut zero = sample();
    zero[9] = 0;
    let err = decode(&zero).unwrap_err();
    assert_eq!(
        err,
        ImageError::UnknownVersion {
            found: 0,
            oldest: 1
        }
    );
    assert!(!err.to_string().contains("newer"), "{err}");
}

#[test]
fn the_borrowed_view_encodes_as_the_body() {
    let body = ImageBody {
        profile: Profile::WindowsVsc,
        serial: 300,
        applets: vec![
            AppletRecord {
                aid: vec![0xA0, 0, 0, 3, 8],
                state: (0..=255).collect(),
            },
            AppletRecord {
                aid: vec![],
                state: vec![],
            },
        ],
    };
    let bytes = encode(&body).unwrap();
    let payload = postcard::to_allocvec(&body).unwrap();
    assert_eq!(&bytes[HEADER_LEN..], payload.as_slice());
    assert_eq!(decode(&bytes).unwrap(), body);
}

#[test]
fn bodies_decode_would_refuse_are_not_encoded() {
    let body = ImageBody {
        profile: Profile::Piv,
        serial: 1,
        applets: vec![AppletRecord {
            aid: vec![1],
            state: vec![0; MAX_BODY_LEN],
        }],
    };
    assert!(matches!(encode(&body), Err(ImageError::TooLarge(n)) if n > MAX_BODY_LEN));
}

/// The applets' states in the golden images of format v1 encode back to the same bytes:
/// loading a card and saving it again rewrites nothing it did not change.
#[test]
fn golden_v1_images_save_byte_for_byte() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/images/v1");
    for name in ["piv", "windows-vsc"] {
        let bytes = std::fs::read(dir.join(format!("{name}.img"))).unwrap();
        let card = crate::Card::load(
            &bytes,
            Box::new(crate::seeded_rng(1)),
            Box::new(crate::NoStorage),
            crate::crypto::BackendKind::RustCrypto,
        )
        .unwrap();
        let saved = decode(&card.image().unwrap()).unwrap();
        let golden = decode(&bytes).unwrap();
        assert_eq!(saved.applets, golden.applets, "{name}");
    }
}
