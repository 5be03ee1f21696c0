//! Where a card's image goes: the [`Storage`] trait, handed to the card from outside.
//!
//! The core never opens a file; a file-backed storage (atomic replace, fsync, mode 0600)
//! lives in the fronts (`softcard_file::FileStorage`).

use std::{
    io,
    sync::{Arc, Mutex},
};

/// Receives every new card image. `save` must be atomic: after a crash either the old or
/// the new image is found, never a mix.
pub trait Storage: Send {
    /// Stores a complete image.
    ///
    /// # Errors
    /// The I/O error, with its cause. A command answers 6581 and the card keeps the old
    /// image; a new card's first write returns it in [`Error::Storage`](crate::Error).
    fn save(&mut self, image: &[u8]) -> io::Result<()>;
}

/// Keeps nothing: a volatile card.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStorage;

impl Storage for NoStorage {
    fn save(&mut self, _image: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps the latest image in memory; clones share it, so a test can read what the card
/// wrote.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    image: Arc<Mutex<Option<Vec<u8>>>>,
    writes: Arc<Mutex<u64>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest image saved, if any.
    pub fn image(&self) -> Option<Vec<u8>> {
        self.image.lock().ok().and_then(|g| g.clone())
    }

    /// How many images have been saved.
    pub fn writes(&self) -> u64 {
        self.writes.lock().map(|g| *g).unwrap_or(0)
    }
}

impl Storage for MemoryStorage {
    fn save(&mut self, image: &[u8]) -> io::Result<()> {
        let mut slot = self
            .image
            .lock()
            .map_err(|_| io::Error::other("memory storage poisoned"))?;
        *slot = Some(image.to_vec());
        if let Ok(mut w) = self.writes.lock() {
            *w += 1;
        }
        Ok(())
    }
}

/// A storage whose writes fail on demand, for tests of the 6581 path.
#[derive(Clone, Debug, Default)]
pub struct FailingStorage {
    inner: MemoryStorage,
    fail: Arc<Mutex<bool>>,
}

impl FailingStorage {
    /// A storage that succeeds until [`FailingStorage::set_failing`] is called.
    pub fn new(inner: MemoryStorage) -> Self {
        FailingStorage {
            inner,
            fail: Arc::default(),
        }
    }

    /// Makes later writes fail (`true`) or succeed again.
    pub fn set_failing(&self, fail: bool) {
        if let Ok(mut f) = self.fail.lock() {
            *f = fail;
        }
    }
}

impl Storage for FailingStorage {
    fn save(&mut self, image: &[u8]) -> io::Result<()> {
        if self.fail.lock().map(|f| *f).unwrap_or(true) {
            return Err(io::Error::other("storage failure (test)"));
        }
        self.inner.save(image)
    }
}
