//! [`FileStorage`]: atomic replacement, mode 0600, failures that keep the old image,
//! typed errors for bad images, and state on disk before the response.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use softcard::crypto::BackendKind;
use softcard::{Card, CardOptions, ImageError, Profile, Storage};
use softcard_pcsc::{FileStorage, MAX_BUFFER_SIZE, Protocols, Registry, Scope, ShareMode};

fn create(path: &Path) -> Card {
    Card::create_seeded(
        &CardOptions::new(Profile::Piv),
        3,
        Box::new(FileStorage::new(path)),
    )
    .unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

#[test]
fn images_are_written_whole_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let card = create(&path);
    assert_eq!(fs::read(&path).unwrap(), card.image().unwrap());
    assert_eq!(mode(&path), 0o600);
    // Replacing a file with looser permissions gives a 0600 file again.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    FileStorage::new(&path).save(b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(mode(&path), 0o600);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_failed_save_keeps_the_old_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let mut storage = FileStorage::new(&path);
    storage.save(b"old image").unwrap();
    // The temporary file cannot be created: a directory stands in its way.
    let blocker = dir
        .path()
        .join(format!(".card.img.tmp{}", std::process::id()));
    fs::create_dir(&blocker).unwrap();
    let err = storage.save(b"new image").unwrap_err();
    assert!(err.contains("card.img"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"old image");
    fs::remove_dir(&blocker).unwrap();

    // The target is a directory: rename fails, the temporary file is cleaned up.
    let target_dir = dir.path().join("a-dir");
    fs::create_dir(&target_dir).unwrap();
    fs::write(target_dir.join("inside"), b"x").unwrap();
    assert!(FileStorage::new(&target_dir).save(b"new").is_err());
    assert_eq!(fs::read(target_dir.join("inside")).unwrap(), b"x");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_read_only_folder_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let mut storage = FileStorage::new(&path);
    storage.save(b"old image").unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
    let euid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let result = storage.save(b"new image");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    if euid == 0 {
        eprintln!("running as root: folder permissions do not apply, only the content is checked");
    } else {
        assert!(result.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old image");
    }
}

#[test]
fn bad_images_give_typed_errors_and_stay_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let good = create(&path).image().unwrap();

    let mut newer = good.clone();
    newer[9] = 0x7F;
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    type Expect = fn(&ImageError) -> bool;
    let cases: [(&[u8], Expect); 4] = [
        (b"PK\x03\x04 a zip file, not a card", |e| {
            *e == ImageError::NotAnImage
        }),
        (&newer, |e| {
            matches!(e, ImageError::UnsupportedVersion { found: 0x7F, .. })
        }),
        (&flipped, |e| {
            matches!(e, ImageError::ChecksumMismatch { .. })
        }),
        (&good[..good.len() - 3], |e| {
            matches!(e, ImageError::Truncated { .. })
        }),
    ];
    for (bytes, expected) in cases {
        fs::write(&path, bytes).unwrap();
        let before = fs::metadata(&path).unwrap();
        let err = FileStorage::load_card(&path, BackendKind::default()).unwrap_err();
        let image_err = err
            .image_error()
            .unwrap_or_else(|| panic!("not an image error: {err}"));
        assert!(expected(image_err), "unexpected {image_err:?}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "the file was changed");
        assert_eq!(
            fs::metadata(&path).unwrap().mtime_nsec(),
            before.mtime_nsec()
        );
    }
    let missing =
        FileStorage::load_card(dir.path().join("absent"), BackendKind::default()).unwrap_err();
    assert!(missing.image_error().is_none());
}

#[test]
fn a_loaded_card_writes_back_to_its_file_before_answering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    drop(create(&path));
    let card = FileStorage::load_card(&path, BackendKind::default()).unwrap();
    let reg = Registry::new();
    reg.insert_card("R", card).unwrap();
    let ctx = reg.establish(Scope::User).unwrap();
    let handle = ctx
        .connect(c"R", ShareMode::Shared, Protocols::ANY)
        .unwrap();
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    let commands: [&[u8]; 3] = [
        &[
            0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
        ],
        // VERIFY the PIV application PIN with a wrong PIN: a PIV card counts the try.
        &[
            0x00, 0x20, 0x00, 0x80, 0x08, b'0', b'0', b'0', b'0', b'0', b'0', 0xFF, 0xFF,
        ],
        &[0x00, 0x20, 0x00, 0x80, 0x00],
    ];
    for apdu in commands {
        let _ = handle.transmit(apdu, &mut buf).unwrap();
        // What the card holds now is already on disk.
        let current = reg.with_card("R", |c| c.image().unwrap()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), current);
    }
}
