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

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use softcard_pcsc::host::{HOST_VAR, SOCKET_FILE};

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

/// The folder of the file this library was loaded from, as the dynamic loader opened it
/// (`dladdr`): a link in `softcard exec`'s folder stays that link (`/proc/self/maps`
/// would show the file it points to).
fn library_folder() -> Option<PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let here = library_folder as *const () as *const libc::c_void;
    // SAFETY: `here` is an address in this library's code; `info` is a valid, writable
    // Dl_info that dladdr fills in.
    if unsafe { libc::dladdr(here, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr set `dli_fname` to the loader's NUL-terminated path of the object,
    // which lives as long as the object stays loaded (this code runs inside it).
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
    path.parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_code_is_found_in_its_own_file() {
        // In a test the code lives in the test executable (dladdr names the main program
        // by its path, or by an empty name in some loaders: then nothing is found).
        if let Some(folder) = super::library_folder().filter(|f| !f.as_os_str().is_empty()) {
            let exe = std::env::current_exe().unwrap();
            assert_eq!(std::fs::canonicalize(&folder).ok().as_deref(), exe.parent());
        }
    }
}
