//! Images encrypted at rest: a card lives in an encrypted file through its whole life
//! (created, changed, reloaded, re-keyed, decrypted), never in clear on disk; a wrong
//! passphrase, a missing one, one given for a clear image, and every modification of the
//! file are refused with the file left as it was.

use std::fs;
use std::path::Path;

use softcard::crypto::BackendKind;
use softcard::{Card, CardOptions, Profile};
use softcard_file::sealed::{KdfParams, Passphrase, SealError, SealKey, is_sealed};
use softcard_file::{FileStorage, LoadError};
use softcard_test_support::{piv, sw, verify_command};

/// The cheapest parameters accepted: these tests derive many keys.
const FAST: KdfParams = KdfParams::CHEAPEST;

fn pass(s: &str) -> Passphrase {
    Passphrase::new(s.as_bytes()).unwrap()
}

/// A PIV card (PIN 12345678) in an encrypted file.
fn create_sealed(path: &Path, passphrase: &str) -> Card {
    let key = SealKey::new(&pass(passphrase), FAST).unwrap();
    Card::create_seeded(
        &CardOptions::new(Profile::Piv),
        5,
        Box::new(FileStorage::sealed(path, key)),
    )
    .unwrap()
}

fn load(path: &Path, passphrase: Option<&str>) -> Result<Card, LoadError> {
    let p = passphrase.map(pass);
    FileStorage::load_card(path, BackendKind::default(), p.as_ref())
}

/// The secrets of a fresh PIV card, none of which may appear in an encrypted file.
fn assert_no_clear_text(bytes: &[u8]) {
    assert!(is_sealed(bytes));
    for needle in [&b"SOFTCARD"[..], b"12345678", b"87654321"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{:?} in the encrypted file",
            String::from_utf8_lossy(needle)
        );
    }
    let default_mgmt = [1u8, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    assert!(!bytes.windows(16).any(|w| w == default_mgmt));
}

#[test]
fn a_card_lives_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let plain = create_sealed(&path, "open sesame").image().unwrap();
    let first = fs::read(&path).unwrap();
    assert_no_clear_text(&first);

    // Loaded with its passphrase, it is the card that was written.
    let mut card = load(&path, Some("open sesame")).unwrap();
    assert_eq!(card.image().unwrap(), plain);

    // A change is written encrypted again, under a new nonce, and survives a reload.
    piv::select(&mut card);
    piv::verify_pin(&mut card);
    let change = softcard_test_support::cmd(0x24, 0x00, 0x80, b"1234567887654321", None);
    assert_eq!(sw(&card.transmit(&change)), 0x9000);
    let second = fs::read(&path).unwrap();
    assert_no_clear_text(&second);
    assert_ne!(
        first[40..64],
        second[40..64],
        "a new nonce for the new image"
    );
    drop(card);
    let mut card = load(&path, Some("open sesame")).unwrap();
    piv::select(&mut card);
    assert_eq!(sw(&card.transmit(&verify_command(b"87654321"))), 0x9000);
    assert_eq!(sw(&card.transmit(&verify_command(b"12345678"))), 0x63C2);
    drop(card);

    // No temporary file is left, and none holds the card in clear meanwhile (each is the
    // encrypted bytes renamed into place).
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn wrong_missing_and_needless_passphrases_load_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    drop(create_sealed(&path, "right"));
    let before = fs::read(&path).unwrap();

    for wrong in ["hunter2", "righ", "right\n", "RIGHT"] {
        let err = load(&path, Some(wrong)).unwrap_err();
        assert!(
            matches!(err, LoadError::Seal(SealError::Unseal)),
            "{wrong:?}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("passphrase is wrong"), "{text}");
        assert!(
            !text.contains(wrong),
            "the message does not echo it: {text}"
        );
    }
    let err = load(&path, None).unwrap_err();
    assert!(matches!(err, LoadError::Encrypted), "{err:?}");
    assert!(err.to_string().contains("--passphrase-file"), "{err}");
    let err = FileStorage::read_card(&path, BackendKind::default(), None).unwrap_err();
    assert!(matches!(err, LoadError::Encrypted), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), before, "the file is untouched");
    // The right one still opens it: nothing was spent or locked by the failures.
    load(&path, Some("right")).unwrap();

    // A passphrase for an image in clear would be ignored: refused.
    let clear = dir.path().join("clear.img");
    drop(
        Card::create_seeded(
            &CardOptions::new(Profile::Piv),
            6,
            Box::new(FileStorage::new(&clear)),
        )
        .unwrap(),
    );
    let err = load(&clear, Some("anything")).unwrap_err();
    assert!(matches!(err, LoadError::NotEncrypted), "{err:?}");
    load(&clear, None).unwrap();
}

/// Any byte of the file flipped, the file cut or extended: refused, file untouched.
#[test]
fn a_modified_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    drop(create_sealed(&path, "pw"));
    let good = fs::read(&path).unwrap();
    let mut rng = softcard_test_support::Xorshift(11);
    // Every header byte, and a sample of ciphertext bytes including the tag's last.
    let mut offsets: Vec<usize> = (0..softcard_file::sealed::SEAL_HEADER_LEN).collect();
    offsets.extend((0..48).map(|_| 68 + rng.below((good.len() - 68) as u64) as usize));
    offsets.push(good.len() - 1);
    for at in offsets {
        let mut bad = good.clone();
        bad[at] ^= 1 << rng.below(8);
        fs::write(&path, &bad).unwrap();
        let err = load(&path, Some("pw")).unwrap_err();
        // A changed magic makes the file no card image of any kind.
        let expected = if at < 8 {
            matches!(err.image_error(), Some(softcard::ImageError::NotAnImage))
        } else {
            matches!(err, LoadError::Seal(_))
        };
        assert!(expected, "byte {at}: {err:?}");
        assert_eq!(fs::read(&path).unwrap(), bad, "byte {at}: file untouched");
    }
    for len in [good.len() - 1, 100, 68, 12] {
        fs::write(&path, &good[..len]).unwrap();
        let err = load(&path, Some("pw")).unwrap_err();
        assert!(matches!(err, LoadError::Seal(_)), "{len}: {err:?}");
    }
    let mut longer = good.clone();
    longer.extend_from_slice(b"more");
    fs::write(&path, &longer).unwrap();
    assert!(matches!(
        load(&path, Some("pw")),
        Err(LoadError::Seal(SealError::TrailingBytes))
    ));
    fs::write(&path, &good).unwrap();
    load(&path, Some("pw")).unwrap();
}

/// A refused command writes nothing: the encrypted file keeps its bytes (and its nonce).
#[test]
fn a_refused_command_leaves_the_encrypted_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    drop(create_sealed(&path, "pw"));
    let mut card = load(&path, Some("pw")).unwrap();
    piv::select(&mut card);
    let before = fs::read(&path).unwrap();
    // CHANGE REFERENCE DATA with a body of the wrong length, and for a key reference
    // PIV does not have: refused, nothing written.
    let short = softcard_test_support::cmd(0x24, 0x00, 0x80, b"1234567887", None);
    assert_eq!(sw(&card.transmit(&short)), 0x6A80);
    let unknown = softcard_test_support::cmd(0x24, 0x00, 0x99, b"1234567887654321", None);
    assert_eq!(sw(&card.transmit(&unknown)), 0x6A88);
    assert_eq!(fs::read(&path).unwrap(), before, "refused: nothing written");
    // A wrong PIN is a change (the counter), written encrypted.
    assert_eq!(sw(&card.transmit(&verify_command(b"99999999"))), 0x63C2);
    let after = fs::read(&path).unwrap();
    assert_ne!(before, after);
    assert_no_clear_text(&after);
}

#[test]
fn encrypting_rekeying_and_decrypting_keep_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let plain = Card::create_seeded(
        &CardOptions::new(Profile::WindowsVsc),
        7,
        Box::new(FileStorage::new(&path)),
    )
    .unwrap()
    .image()
    .unwrap();
    assert_eq!(fs::read(&path).unwrap(), plain);

    FileStorage::reseal(&path, None, Some((&pass("one"), FAST))).unwrap();
    assert_no_clear_text(&fs::read(&path).unwrap());
    assert_eq!(load(&path, Some("one")).unwrap().image().unwrap(), plain);

    // Re-keying needs the current passphrase; a wrong one changes nothing.
    let sealed = fs::read(&path).unwrap();
    let err =
        FileStorage::reseal(&path, Some(&pass("two")), Some((&pass("three"), FAST))).unwrap_err();
    assert!(matches!(err, LoadError::Seal(SealError::Unseal)), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), sealed);
    FileStorage::reseal(&path, Some(&pass("one")), Some((&pass("two"), FAST))).unwrap();
    assert!(matches!(
        load(&path, Some("one")),
        Err(LoadError::Seal(SealError::Unseal))
    ));
    assert_eq!(load(&path, Some("two")).unwrap().image().unwrap(), plain);

    // Decrypting gives back the very image in clear.
    FileStorage::reseal(&path, Some(&pass("two")), None).unwrap();
    assert_eq!(fs::read(&path).unwrap(), plain);

    // A held image is not re-keyed under its holder.
    let held = load(&path, None).unwrap();
    let err = FileStorage::reseal(&path, None, Some((&pass("x"), FAST))).unwrap_err();
    assert!(matches!(err, LoadError::Lock(_)), "{err:?}");
    drop(held);
    assert_eq!(fs::read(&path).unwrap(), plain);
}
