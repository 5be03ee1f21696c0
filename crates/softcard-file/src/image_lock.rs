//! [`ImageLock`]: one writer per card image, across processes.
//!
//! A card image is ONE card: its PIN retry counter, keys and objects must exist once,
//! whatever the number of processes using it. So a process that serves or changes an image
//! holds an exclusive lock on it for as long as it does: an advisory `flock` on a file
//! beside the image, `.<image name>.lock`, which names the holder's process id and, for a
//! host (`softcard exec`, `softcard serve`), the Unix socket on which it serves the card.
//! Another program finds the holder there and is served by it, or told who it is.
//!
//! The image path is resolved first (symbolic links, `..`), so a link to an image and the
//! image are the same card. The operating system drops the lock when its holder ends,
//! however it ends: a lock is never stale. The lock file itself stays beside the image
//! (removing it would let two processes lock two different files); it holds no secret.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

/// The process holding an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its process id (0 when it has not written it yet).
    pub pid: u32,
    /// The socket on which it serves the image's card, if it is a host.
    pub socket: Option<PathBuf>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.pid, &self.socket) {
            (0, _) => write!(f, "another process"),
            (pid, Some(_)) => write!(f, "softcard (PID {pid}), which serves it"),
            (pid, None) => write!(f, "the process with PID {pid}"),
        }
    }
}

/// Why an image cannot be locked.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    Held(Holder),
    /// The image file is read-only: a writing command would replace it.
    ReadOnly,
    /// The image or its lock file cannot be reached.
    Io(io::Error),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held(h) => write!(f, "the card image is in use by {h}"),
            LockError::ReadOnly => write!(
                f,
                "the card image is read-only; make it writable (chmod u+w) to change the card"
            ),
            LockError::Io(e) => write!(f, "cannot lock the card image: {e}"),
        }
    }
}

impl std::error::Error for LockError {}

/// An exclusive hold on a card image; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct ImageLock {
    file: File,
    image: PathBuf,
}

/// The image's real path (links resolved): the identity of its card.
///
/// # Errors
/// Those of resolving the path (a missing file among them).
pub fn resolve(image: &Path) -> io::Result<PathBuf> {
    std::fs::canonicalize(image)
}

fn lock_path(image: &Path) -> io::Result<PathBuf> {
    let name = image
        .file_name()
        .ok_or_else(|| io::Error::other("the image path has no file name"))?;
    let mut lock = std::ffi::OsString::from(".");
    lock.push(name);
    lock.push(".lock");
    Ok(image.with_file_name(lock))
}

fn open_lock(image: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_path(image)?)
}

/// `flock` without waiting: whether the lock was taken (false: another holds it).
fn try_flock(file: &File, op: FlockOperation) -> io::Result<bool> {
    match rustix::fs::flock(file, op) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    let mut holder = Holder {
        pid: 0,
        socket: None,
    };
    for line in text.lines() {
        if let Some(pid) = line.strip_prefix("pid ") {
            holder.pid = pid.trim().parse().unwrap_or(0);
        } else if let Some(socket) = line.strip_prefix("socket ") {
            holder.socket = Some(PathBuf::from(socket));
        }
    }
    holder
}

impl ImageLock {
    /// Takes the image for this process.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the holder, [`LockError::ReadOnly`] for a read-only image
    /// file, [`LockError::Io`].
    pub fn acquire(image: &Path) -> Result<ImageLock, LockError> {
        let image = resolve(image).map_err(LockError::Io)?;
        let meta = std::fs::metadata(&image).map_err(LockError::Io)?;
        if meta.permissions().readonly() {
            return Err(LockError::ReadOnly);
        }
        let mut file = open_lock(&image).map_err(LockError::Io)?;
        match try_flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(true) => {}
            Ok(false) => return Err(LockError::Held(read_holder(&mut file))),
            Err(e) => return Err(LockError::Io(e)),
        }
        let lock = ImageLock { file, image };
        lock.announce(None).map_err(LockError::Io)?;
        Ok(lock)
    }

    /// The image's resolved path.
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// Writes who holds the image: this process, serving its card on `socket` if given.
    ///
    /// # Errors
    /// Those of writing the lock file.
    pub fn announce(&self, socket: Option<&Path>) -> io::Result<()> {
        let mut text = format!("pid {}\n", std::process::id());
        if let Some(s) = socket {
            text.push_str(&format!("socket {}\n", s.display()));
        }
        let mut f = &self.file;
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(text.as_bytes())
    }
}

impl Drop for ImageLock {
    fn drop(&mut self) {
        // The next holder writes its own; no stale process id is left behind.
        let _ = self.file.set_len(0);
    }
}

/// Who holds `image` now, if anyone.
pub fn holder(image: &Path) -> Option<Holder> {
    let image = resolve(image).ok()?;
    let mut file = OpenOptions::new()
        .read(true)
        .open(lock_path(&image).ok()?)
        .ok()?;
    match try_flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(false) => Some(read_holder(&mut file)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_image_also_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("card.img");
        std::fs::write(&image, b"x").unwrap();
        let link = dir.path().join("link.img");
        std::os::unix::fs::symlink(&image, &link).unwrap();
        assert_eq!(holder(&image), None);
        let lock = ImageLock::acquire(&link).unwrap();
        assert_eq!(lock.image(), resolve(&image).unwrap());
        lock.announce(Some(Path::new("/run/x.sock"))).unwrap();
        let held = holder(&image).unwrap();
        assert_eq!(held.pid, std::process::id());
        assert_eq!(held.socket.as_deref(), Some(Path::new("/run/x.sock")));
        match ImageLock::acquire(&image) {
            Err(LockError::Held(h)) => assert_eq!(h, held),
            other => panic!("a second lock: {other:?}"),
        }
        drop(lock);
        assert_eq!(holder(&link), None);
        ImageLock::acquire(&image).unwrap();
    }

    #[test]
    fn read_only_images_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("card.img");
        std::fs::write(&image, b"x").unwrap();
        std::fs::set_permissions(&image, std::fs::Permissions::from_mode(0o444)).unwrap();
        assert!(matches!(
            ImageLock::acquire(&image),
            Err(LockError::ReadOnly)
        ));
        assert!(
            LockError::ReadOnly.to_string().contains("read-only"),
            "the message names the problem"
        );
    }
}
