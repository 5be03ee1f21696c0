//! [`FileStorage`]: a card image in a file, replaced atomically at every change.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use softcard::crypto::BackendKind;

/// A [`softcard::Storage`] writing each image to a temporary file in the target's folder,
/// syncing it, renaming it over the target and syncing the folder: after a crash either
/// the old or the new image is there, never a mix. Files are created with mode 0600.
#[derive(Clone, Debug)]
pub struct FileStorage {
    path: PathBuf,
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
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read the card image: {e}"),
            LoadError::Card(e) => e.fmt(f),
            LoadError::Random(e) => write!(f, "no system randomness: {e}"),
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
        FileStorage { path: path.into() }
    }

    /// The image file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the card in `path`, with randomness from the system, saving its changes back
    /// to `path`.
    ///
    /// # Errors
    /// [`LoadError::Io`] if the file cannot be read, [`LoadError::Card`] with a
    /// [`softcard::ImageError`] if it is corrupted, foreign or newer (the file is not
    /// touched), [`LoadError::Random`].
    pub fn load_card(
        path: impl Into<PathBuf>,
        backend: BackendKind,
    ) -> Result<softcard::Card, LoadError> {
        let storage = FileStorage::new(path);
        let bytes = fs::read(&storage.path).map_err(LoadError::Io)?;
        let rng = os_rng().map_err(LoadError::Random)?;
        softcard::Card::load(&bytes, Box::new(rng), Box::new(storage), backend)
            .map_err(LoadError::Card)
    }

    fn write_atomically(&self, image: &[u8]) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .ok_or_else(|| io::Error::other("the image path has no file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(image)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.path)?;
            File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

impl softcard::Storage for FileStorage {
    fn save(&mut self, image: &[u8]) -> Result<(), String> {
        self.write_atomically(image)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
