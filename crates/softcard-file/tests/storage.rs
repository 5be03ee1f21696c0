//! [`FileStorage`]: atomic replacement, mode 0600, failures that keep the old image,
//! typed errors for bad images, and state on disk before the response.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use softcard::crypto::BackendKind;
use softcard::{Card, CardOptions, ImageError, Profile, Storage};
use softcard_file::FileStorage;
use softcard_test_support::{apdu, piv};

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
    // The temporary file cannot be created: its name (longer than the image's) exceeds
    // the file name limit. No permission is involved, so this fails for root too.
    let path = dir.path().join("c".repeat(250));
    fs::write(&path, b"old image").unwrap();
    let err = FileStorage::new(&path).save(b"new image").unwrap_err();
    assert!(err.to_string().contains("ccc"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"old image");
    assert!(leftovers(dir.path()).is_empty());

    // The target is a directory: rename fails, the temporary file is cleaned up.
    let target_dir = dir.path().join("a-dir");
    fs::create_dir(&target_dir).unwrap();
    fs::write(target_dir.join("inside"), b"x").unwrap();
    assert!(FileStorage::new(&target_dir).save(b"new").is_err());
    assert_eq!(fs::read(target_dir.join("inside")).unwrap(), b"x");
    assert!(leftovers(dir.path()).is_empty());

    // The target's folder is a regular file: nothing is written, the file is unchanged.
    let not_a_dir = dir.path().join("plain");
    fs::write(&not_a_dir, b"plain file").unwrap();
    assert!(
        FileStorage::new(not_a_dir.join("card.img"))
            .save(b"new")
            .is_err()
    );
    assert_eq!(fs::read(&not_a_dir).unwrap(), b"plain file");
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
        // Folder permissions do not bind root: the write goes through, whole and 0600.
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(fs::read(&path).unwrap(), b"new image");
        assert_eq!(mode(&path), 0o600);
    } else {
        assert!(result.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old image");
    }
    assert!(leftovers(dir.path()).is_empty());
}

/// What the temporary file of an earlier version was named: unique per process only.
fn old_temp_name(dir: &Path) -> std::path::PathBuf {
    dir.join(format!(".card.img.tmp{}", std::process::id()))
}

#[test]
fn a_leftover_temporary_file_is_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    // A world-readable leftover at a temporary name: its mode must not reach the image.
    let leftover = old_temp_name(dir.path());
    fs::write(&leftover, b"leftover").unwrap();
    fs::set_permissions(&leftover, fs::Permissions::from_mode(0o644)).unwrap();
    FileStorage::new(&path).save(b"image").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"image");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(fs::read(&leftover).unwrap(), b"leftover");
}

#[test]
fn a_symbolic_link_at_a_temporary_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let victim = dir.path().join("victim");
    fs::write(&victim, b"victim").unwrap();
    std::os::unix::fs::symlink(&victim, old_temp_name(dir.path())).unwrap();
    FileStorage::new(&path).save(b"image").unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"victim");
    assert_eq!(fs::read(&path).unwrap(), b"image");
    assert!(!fs::symlink_metadata(&path).unwrap().is_symlink());
}

#[test]
fn concurrent_saves_to_one_path_each_write_whole_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let images: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 64 * 1024]).collect();
    std::thread::scope(|scope| {
        for image in &images {
            let path = &path;
            scope.spawn(move || {
                let mut storage = FileStorage::new(path);
                for _ in 0..20 {
                    storage.save(image).unwrap();
                }
            });
        }
    });
    let last = fs::read(&path).unwrap();
    assert!(images.contains(&last), "a mixed image was written");
    assert!(leftovers(dir.path()).is_empty());
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
        let err = FileStorage::load_card(&path, BackendKind::default(), None).unwrap_err();
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
    let missing = FileStorage::load_card(dir.path().join("absent"), BackendKind::default(), None)
        .unwrap_err();
    assert!(missing.image_error().is_none());
}

#[test]
fn a_loaded_card_writes_back_to_its_file_before_answering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    drop(create(&path));
    let mut card = FileStorage::load_card(&path, BackendKind::default(), None).unwrap();
    card.power_on();
    let commands: [&[u8]; 3] = [
        piv::SELECT,
        // VERIFY the PIV application PIN with a wrong PIN: a PIV card counts the try.
        apdu!("00 20 00 80 08 303030303030 FFFF"),
        apdu!("00 20 00 80 00"),
    ];
    for apdu in commands {
        let _ = card.transmit(apdu);
        // What the card holds now is already on disk.
        assert_eq!(fs::read(&path).unwrap(), card.image().unwrap());
    }
}

#[test]
fn taking_an_image_removes_the_temporary_files_its_interrupted_writes_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let good = create(&path).image().unwrap();
    // What a writer killed between writing and renaming leaves: a whole image, PIN in
    // clear (the name of this version, and of the earlier one unique per process only).
    let leftover = dir.path().join(".card.img.tmp4242-0-0123456789abcdef");
    let older = old_temp_name(dir.path());
    // Not this image's: another image's temporary file and lock (names that also start
    // with `.card.img.tmp`), and a symbolic link at a temporary name (never followed).
    let others = [
        dir.path().join(".other.img.tmp4242-0-0123456789abcdef"),
        dir.path().join(".card.img.tmp7.tmp4242-0-0123456789abcdef"),
        dir.path().join(".card.img.tmp7.lock"),
    ];
    let victim = dir.path().join("victim");
    fs::write(&victim, b"victim").unwrap();
    let link = dir.path().join(".card.img.tmp4243-1-0123456789abcdef");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let plant = || {
        fs::write(&leftover, &good).unwrap();
        fs::write(&older, &good).unwrap();
        for other in &others {
            fs::write(other, b"other").unwrap();
        }
    };

    // Reading the image without taking it leaves them: a writer may be at work.
    plant();
    FileStorage::read_card(&path, BackendKind::default(), None).unwrap();
    assert!(leftover.exists() && older.exists());

    // Taking it (load_card) removes this image's leftovers, and only those.
    let card = FileStorage::load_card(&path, BackendKind::default(), None).unwrap();
    assert!(!leftover.exists(), "the leftover image is still there");
    assert!(!older.exists(), "the older leftover is still there");
    assert_eq!(card.image().unwrap(), good);
    assert_eq!(fs::read(&path).unwrap(), good);
    for other in &others {
        assert_eq!(fs::read(other).unwrap(), b"other", "{}", other.display());
    }
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read(&victim).unwrap(), b"victim");
    drop(card);

    // As does load_locked, for a process that took the lock itself (a host).
    plant();
    let lock = softcard_file::image_lock::ImageLock::acquire(&path).unwrap();
    let card = FileStorage::load_locked(lock, BackendKind::default(), None).unwrap();
    assert!(!leftover.exists() && !older.exists());
    assert_eq!(card.image().unwrap(), good);
    for other in &others {
        assert_eq!(fs::read(other).unwrap(), b"other", "{}", other.display());
    }
}

/// `load()`'s result, or a failure when it takes more than ten seconds (a load that hangs
/// fails the test instead of hanging it).
fn promptly<T: Send + 'static>(load: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the load returns promptly")
}

/// A way to load a card from a file.
type Load<P> = fn(P) -> Result<Card, softcard_file::LoadError>;

fn load_error(result: Result<Card, softcard_file::LoadError>) -> softcard_file::LoadError {
    match result {
        Ok(_) => panic!("loaded a card"),
        Err(e) => e,
    }
}

#[test]
fn only_regular_files_are_read_as_images() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.img");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let loads: [(&str, Load<std::path::PathBuf>); 3] = [
        ("read_card", |p| {
            FileStorage::read_card(p, BackendKind::default(), None)
        }),
        ("load_card", |p| {
            FileStorage::load_card(p, BackendKind::default(), None)
        }),
        ("load_locked", |p| {
            let lock = softcard_file::image_lock::ImageLock::acquire(&p)
                .map_err(softcard_file::LoadError::Lock)?;
            FileStorage::load_locked(lock, BackendKind::default(), None)
        }),
    ];
    for (name, load) in loads {
        let path = fifo.clone();
        let err = load_error(promptly(move || load(path)));
        assert!(
            matches!(err, softcard_file::LoadError::NotAFile(_)),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains("not a regular file"),
            "{name}: {err}"
        );
    }
    // A device: read_card, and load_card before it takes the image (no lock file in /dev).
    let zero = Path::new("/dev/zero");
    let err = load_error(promptly(move || {
        FileStorage::read_card(zero, BackendKind::default(), None)
    }));
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = load_error(promptly(move || {
        FileStorage::load_card(zero, BackendKind::default(), None)
    }));
    assert!(err.to_string().contains("not a regular file"), "{err}");
    // A folder.
    let err = load_error(FileStorage::read_card(
        dir.path(),
        BackendKind::default(),
        None,
    ));
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_file_larger_than_any_image_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.img");
    // 1 GiB of holes: nothing on disk, and reading it whole would take a GiB of memory.
    fs::File::create(&path).unwrap().set_len(1 << 30).unwrap();
    // The largest plain image, and what encryption adds to it.
    let max = (softcard::image::HEADER_LEN
        + softcard::image::MAX_BODY_LEN
        + softcard_file::sealed::SEAL_OVERHEAD) as u64;
    let loads: [Load<std::path::PathBuf>; 2] = [
        |p| FileStorage::read_card(p, BackendKind::default(), None),
        |p| FileStorage::load_card(p, BackendKind::default(), None),
    ];
    for load in loads {
        let path = path.clone();
        let err = load_error(promptly(move || load(path)));
        assert!(
            matches!(err, softcard_file::LoadError::TooLarge(n) if n == 1 << 30),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("larger than any card image ({max} bytes)")),
            "{err}"
        );
    }
    // The largest a valid image can be is not refused for its size (it is not a card).
    fs::File::create(&path).unwrap().set_len(max).unwrap();
    let err = load_error(FileStorage::read_card(&path, BackendKind::default(), None));
    assert!(err.image_error().is_some(), "{err:?}");
}
