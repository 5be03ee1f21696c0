//! Where this process's cards are: a host process's (`softcard exec`, `softcard serve`),
//! or loaded here from `SOFTCARD_IMAGES`.
//!
//! Under `softcard exec` every process uses the cards of ONE host, so that a change made
//! by one is what the next command of any other sees, as with pcscd. The drop-in finds
//! that host, in this order:
//! 1. `SOFTCARD_HOST`: the path of the host's Unix socket;
//! 2. `softcard-host.sock` in the folder this library was loaded from: `softcard exec`
//!    puts the library and its socket side by side, so programs that clear their
//!    environment (certmonger's workers call `clearenv()`) still find their cards.
//!
//! With neither, the cards of `SOFTCARD_IMAGES` are loaded in this process (see
//! [`images`](crate::images)); each image is locked, so such a process never overwrites
//! another one's image.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the host's socket.
pub const HOST_VAR: &str = "SOFTCARD_HOST";
/// The socket's file name beside the library.
pub const SOCKET_FILE: &str = "softcard-host.sock";

/// The host's socket, if this process has one; decided once per process.
pub fn socket() -> Option<&'static Path> {
    static SOCKET: OnceLock<Option<PathBuf>> = OnceLock::new();
    SOCKET
        .get_or_init(|| {
            if let Some(path) = std::env::var_os(HOST_VAR).filter(|p| !p.is_empty()) {
                return Some(PathBuf::from(path));
            }
            let beside = library_folder()?.join(SOCKET_FILE);
            beside.exists().then_some(beside)
        })
        .as_deref()
}

/// The folder of the file this library was loaded from: the mapping of this process
/// that holds this function's code, read from `/proc/self/maps` (the path as the loader
/// found it: a link in `softcard exec`'s folder stays that link).
fn library_folder() -> Option<PathBuf> {
    let here = library_folder as *const () as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let (start, end) = (
            usize::from_str_radix(start, 16).ok()?,
            usize::from_str_radix(end, 16).ok()?,
        );
        if !(start..end).contains(&here) {
            return None;
        }
        let path = fields.nth(4)?;
        Path::new(path).parent().map(Path::to_path_buf)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_code_is_found_in_its_own_file() {
        // In a test the code lives in the test executable.
        let folder = super::library_folder().expect("a mapping holds this code");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(Some(folder.as_path()), exe.parent());
    }
}
