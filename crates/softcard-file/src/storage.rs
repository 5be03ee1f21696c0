//! [`FileStorage`]: a card image in a file, replaced atomically at every change.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use softcard::crypto::BackendKind;

use zeroize::Zeroizing;

use crate::image_lock::{ImageLock, LockError};
use crate::sealed::{KdfParams, Passphrase, SealError, SealKey, is_sealed};

/// A [`softcard::Storage`] writing each image to a temporary file in the target's folder,
/// syncing it, renaming it over the target and syncing the folder: after a crash either
/// the old or the new image is there, never a mix. Files are created with mode 0600.
///
/// The temporary file is always a new file: its name is unique to the write (process id,
/// a counter, random bytes) and it is created exclusively (`O_CREAT | O_EXCL`), so a file
/// or symbolic link already at that name is never reused or followed. It is removed when
/// the write fails.
///
/// A storage opened by [`FileStorage::load_card`] holds the image's [`ImageLock`]: no other
/// process writes the image while the card lives.
///
/// A writer killed between writing its temporary file and renaming it (`SIGKILL`, a power
/// cut) leaves that file behind: a whole image, PIN and keys in clear. Whoever takes the
/// image ([`FileStorage::load_card`], [`FileStorage::load_locked`]) is its only writer from
/// then on, so it removes such leftovers of that image before loading it: regular files
/// named as this storage names its temporary files (`.<name>.tmp<pid>-<counter>-<random>`,
/// or `.<name>.tmp<pid>` of earlier versions); links and other images' files are left
/// alone. [`FileStorage::read_card`] takes nothing and removes nothing.
///
/// An image encrypted with a passphrase ([`crate::sealed`]) is opened with it and each new
/// image is encrypted again, under the key derived when it was opened and a new nonce:
/// neither the image nor a temporary file ever holds the card in clear.
#[derive(Clone, Debug)]
pub struct FileStorage {
    path: PathBuf,
    lock: Option<Arc<ImageLock>>,
    seal: Option<Arc<SealKey>>,
}

/// Why a card file could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    Io(io::Error),
    /// The file is not a card image this build can use (the file is left as it is).
    Card(softcard::Error),
    /// The system's random generator failed.
    Random(String),
    /// Another process holds the image, or it is read-only.
    Lock(LockError),
    /// The path is not a regular file (a FIFO, a device, a folder, a socket), so not a card
    /// image; nothing was read from it. The kind of file it is.
    NotAFile(&'static str),
    /// The file has this many bytes, more than any card image ([`MAX_IMAGE_FILE_LEN`]); it
    /// was not read.
    TooLarge(u64),
    /// The image is encrypted and no passphrase was given.
    Encrypted,
    /// A passphrase was given, and the image is not encrypted: the passphrase would be
    /// ignored (and the image stays in clear), so nothing is loaded.
    NotEncrypted,
    /// The encrypted image cannot be opened: a wrong passphrase, a modified or foreign file.
    Seal(SealError),
}

/// The largest file a card image can be: its header and the largest body a reader accepts
/// ([`softcard::image::HEADER_LEN`] + [`softcard::image::MAX_BODY_LEN`]), and what
/// encryption adds ([`crate::sealed::SEAL_OVERHEAD`]).
pub const MAX_IMAGE_FILE_LEN: u64 = (softcard::image::HEADER_LEN
    + softcard::image::MAX_BODY_LEN
    + crate::sealed::SEAL_OVERHEAD) as u64;

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read the card image: {e}"),
            LoadError::Card(e) => e.fmt(f),
            LoadError::Random(e) => write!(f, "no system randomness: {e}"),
            LoadError::Lock(e) => e.fmt(f),
            LoadError::NotAFile(kind) => {
                write!(f, "not a regular file ({kind}), so not a card image")
            }
            LoadError::TooLarge(len) => write!(
                f,
                "the file of {len} bytes is larger than any card image \
                 ({MAX_IMAGE_FILE_LEN} bytes)"
            ),
            LoadError::Encrypted => f.write_str(
                "the card image is encrypted: give its passphrase (--passphrase-file, or \
                 SOFTCARD_PASSPHRASE_FILE or SOFTCARD_PASSPHRASE in the environment)",
            ),
            LoadError::NotEncrypted => f.write_str(
                "a passphrase was given, but the card image is not encrypted \
                 (`softcard passphrase` encrypts it)",
            ),
            LoadError::Seal(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    /// The typed image error, when the file's content is the problem.
    pub fn image_error(&self) -> Option<&softcard::ImageError> {
        match self {
            LoadError::Card(softcard::Error::Image(e)) => Some(e),
            _ => None,
        }
    }
}

/// A card random generator seeded from the operating system (`getrandom`).
///
/// # Errors
/// A message if the system has no randomness to give.
pub fn os_rng() -> Result<ChaCha20Rng, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
    Ok(ChaCha20Rng::from_seed(seed))
}

impl FileStorage {
    /// A storage for `path` (nothing is written until the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStorage {
            path: path.into(),
            lock: None,
            seal: None,
        }
    }

    /// A storage for `path` that encrypts every image it writes under `key` (see
    /// [`crate::sealed`]).
    pub fn sealed(path: impl Into<PathBuf>, key: SealKey) -> Self {
        FileStorage {
            seal: Some(Arc::new(key)),
            ..FileStorage::new(path)
        }
    }

    /// Whether this storage encrypts what it writes.
    pub fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// The image's lock, when this storage holds one.
    pub fn image_lock(&self) -> Option<&ImageLock> {
        self.lock.as_deref()
    }

    /// The image file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the card in `path`, with randomness from the system, saving its changes back
    /// to `path`. The image is locked for this process while the card lives (see
    /// [`ImageLock`]); the path is resolved first, so the card is saved to the file a
    /// symbolic link pointed at.
    ///
    /// # Errors
    /// [`LoadError::Io`] if the file cannot be read, [`LoadError::NotAFile`] for anything but
    /// a regular file (a FIFO is refused, not waited on), [`LoadError::TooLarge`] for a file
    /// larger than any image (it is not read), [`LoadError::Lock`] when another
    /// process holds the image or it is read-only, [`LoadError::Card`] with a
    /// [`softcard::ImageError`] if it is corrupted, foreign or newer (the file is not
    /// touched), [`LoadError::Random`]; for `passphrase`, [`LoadError::Encrypted`] (an
    /// encrypted image and none given), [`LoadError::NotEncrypted`] (one given for an image
    /// in clear) and [`LoadError::Seal`] (a wrong one, or a modified file).
    pub fn load_card(
        path: impl Into<PathBuf>,
        backend: BackendKind,
        passphrase: Option<&Passphrase>,
    ) -> Result<softcard::Card, LoadError> {
        let path = path.into();
        // Checked before the lock too: no lock file is made beside a FIFO or a device.
        check_image_file(&fs::metadata(&path).map_err(LoadError::Io)?)?;
        let lock = ImageLock::acquire(&path).map_err(LoadError::Lock)?;
        FileStorage::load_locked(lock, backend, passphrase)
    }

    /// As [`FileStorage::load_card`], for an image this process has locked already (a host
    /// announces its socket in the lock before it loads the card).
    ///
    /// # Errors
    /// As [`FileStorage::load_card`].
    pub fn load_locked(
        lock: ImageLock,
        backend: BackendKind,
        passphrase: Option<&Passphrase>,
    ) -> Result<softcard::Card, LoadError> {
        let path = lock.image().to_owned();
        remove_leftovers(&path);
        let (bytes, seal) = unlock(read_image(&path)?, passphrase)?;
        let storage = FileStorage {
            path,
            lock: Some(Arc::new(lock)),
            seal: seal.map(Arc::new),
        };
        let rng = os_rng().map_err(LoadError::Random)?;
        softcard::Card::load(&bytes, Box::new(rng), Box::new(storage), backend)
            .map_err(LoadError::Card)
    }

    /// Encrypts the image at `path` with the new passphrase and parameters (and a new
    /// salt), or decrypts it when `new` is `None`; `current` opens it if it is encrypted.
    /// The image is locked meanwhile, checked by loading it, and replaced atomically: on any
    /// error it is left as it was.
    ///
    /// # Errors
    /// As [`FileStorage::load_card`]; [`LoadError::Seal`] when no key can be derived; the
    /// write's I/O error.
    pub fn reseal(
        path: &Path,
        current: Option<&Passphrase>,
        new: Option<(&Passphrase, KdfParams)>,
    ) -> Result<(), LoadError> {
        let card = FileStorage::load_card(path, BackendKind::default(), current)?;
        let image = Zeroizing::new(card.image().map_err(|e| LoadError::Card(e.into()))?);
        let mut storage = FileStorage {
            path: path.to_owned(),
            lock: None,
            seal: None,
        };
        if let Some((new, params)) = new {
            let key = SealKey::new(new, params).map_err(LoadError::Seal)?;
            storage.seal = Some(Arc::new(key));
        }
        // The card (and with it the image's lock) lives until the new file is in place.
        let written = softcard::Storage::save(&mut storage, &image).map_err(LoadError::Io);
        drop(card);
        written
    }

    /// Loads the card in `path` to look at it, without locking the image: its changes are
    /// not saved anywhere. Reading is safe while another process holds the image (it
    /// replaces the file atomically).
    ///
    /// # Errors
    /// As [`FileStorage::load_card`], without [`LoadError::Lock`].
    pub fn read_card(
        path: impl AsRef<Path>,
        backend: BackendKind,
        passphrase: Option<&Passphrase>,
    ) -> Result<softcard::Card, LoadError> {
        let (bytes, _) = unlock(read_image(path.as_ref())?, passphrase)?;
        let rng = os_rng().map_err(LoadError::Random)?;
        softcard::Card::load(
            &bytes,
            Box::new(rng),
            Box::new(softcard::NoStorage),
            backend,
        )
        .map_err(LoadError::Card)
    }

    fn write_atomically(&self, image: &[u8]) -> io::Result<()> {
        let sealed;
        let image = match &self.seal {
            Some(key) => {
                sealed = key.seal(image).map_err(io::Error::other)?;
                &sealed[..]
            }
            None => image,
        };
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .ok_or_else(|| io::Error::other("the image path has no file name"))?;
        let (tmp, mut f) = create_temp(&dir, name)?;
        let result = (|| {
            f.write_all(image)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
            return result;
        }
        // The new image is in place: from here on the write has happened, and an error
        // would tell the card to roll back a state the file already holds. Making the
        // rename itself durable is best effort.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Creates a new temporary file (mode 0600) for `name` in `dir`:
/// `.<name>.tmp<pid>-<counter>-<random>`, created exclusively, so nothing already there
/// (a leftover file, a symbolic link) is reused or followed.
fn create_temp(dir: &Path, name: &OsStr) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempts = 0;
    loop {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(
            ".tmp{}-{}-{:016x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            u64::from_ne_bytes(random)
        ));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The bytes of the image file at `path`, refusing what cannot be a card image before
/// reading it: anything but a regular file (opened without waiting, so a FIFO is refused
/// rather than waited on), and a file larger than [`MAX_IMAGE_FILE_LEN`]. At most that many
/// bytes are read, should the file grow meanwhile. Every reader of image files (and of
/// snapshots, which are image files) goes through it.
///
/// # Errors
/// [`LoadError::Io`], [`LoadError::NotAFile`], [`LoadError::TooLarge`].
pub fn read_image(path: &Path) -> Result<Vec<u8>, LoadError> {
    use rustix::fs::OFlags;
    use std::io::Read;
    let flags = (OFlags::NONBLOCK | OFlags::NOCTTY).bits();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags).unwrap_or_default())
        .open(path)
        .map_err(LoadError::Io)?;
    let meta = file.metadata().map_err(LoadError::Io)?;
    check_image_file(&meta)?;
    // No larger than MAX_IMAGE_FILE_LEN: the capacity is no guess of the file's.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or_default());
    file.take(MAX_IMAGE_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(LoadError::Io)?;
    let read = bytes.len() as u64;
    if read > MAX_IMAGE_FILE_LEN {
        return Err(LoadError::TooLarge(read.max(meta.len())));
    }
    Ok(bytes)
}

/// The plain image in `bytes`, opened with `passphrase` if it is encrypted, and the key that
/// encrypts the card's next images.
fn unlock(
    bytes: Vec<u8>,
    passphrase: Option<&Passphrase>,
) -> Result<(Zeroizing<Vec<u8>>, Option<SealKey>), LoadError> {
    match (is_sealed(&bytes), passphrase) {
        (true, Some(p)) => SealKey::open(&bytes, p)
            .map(|(plain, key)| (plain, Some(key)))
            .map_err(LoadError::Seal),
        (true, None) => Err(LoadError::Encrypted),
        // Neither sealed nor a card image: the image reader names the problem.
        (false, Some(_)) if bytes.starts_with(softcard::image::MAGIC) => {
            Err(LoadError::NotEncrypted)
        }
        (false, _) => Ok((Zeroizing::new(bytes), None)),
    }
}

/// Refuses a file that cannot be a card image: not a regular file, or too large.
fn check_image_file(meta: &fs::Metadata) -> Result<(), LoadError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if !t.is_file() {
        return Err(LoadError::NotAFile(if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_dir() {
            "a folder"
        } else if t.is_socket() {
            "a socket"
        } else {
            "another kind of file"
        }));
    }
    if meta.len() > MAX_IMAGE_FILE_LEN {
        return Err(LoadError::TooLarge(meta.len()));
    }
    Ok(())
}

/// Removes the temporary files interrupted writes of `image` left beside it (see
/// [`FileStorage`]); for the holder of the image's lock only. Best effort: a file that cannot
/// be removed stays.
fn remove_leftovers(image: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let (Some(dir), Some(name)) = (image.parent(), image.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.as_bytes().strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        // The entry's own type: a symbolic link is not followed (nor removed).
        if is_temp_suffix(rest) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether `rest`, after `.<name>.tmp`, is what [`create_temp`] puts there
/// (`<pid>-<counter>-<16 hex digits>`) or earlier versions did (`<pid>`).
fn is_temp_suffix(rest: &[u8]) -> bool {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let mut parts = rest.split(|&b| b == b'-');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(pid), None, None, None) => digits(pid),
        (Some(pid), Some(counter), Some(random), None) => {
            digits(pid)
                && digits(counter)
                && random.len() == 16
                && random.iter().all(u8::is_ascii_hexdigit)
        }
        _ => false,
    }
}

impl softcard::Storage for FileStorage {
    /// # Errors
    /// The I/O error of the write, naming the image's path (its kind kept).
    fn save(&mut self, image: &[u8]) -> io::Result<()> {
        self.write_atomically(image)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}
