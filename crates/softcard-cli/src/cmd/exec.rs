//! `softcard exec`: run a program that sees the cards through the PC/SC library, with no
//! daemon.
//!
//! A private temporary folder receives `libpcsclite.so.1` (a link to softcard's drop-in
//! library) and an `opensc.conf`; the program runs with that folder first on
//! `LD_LIBRARY_PATH`, `SOFTCARD_IMAGES` naming the images and `OPENSC_CONF` pointing
//! OpenSC's `provider_library` at the drop-in (with OpenSC's file cache off, so that a
//! changed card is never answered from a stale cache). The folder is removed when the
//! program ends, and softcard exits with the program's exit code (128 + the signal number
//! if a signal ended it).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use softcard::crypto::BackendKind;

use crate::common::{CliError, open_card};

/// The environment variable that overrides where the drop-in library is found.
pub const LIBRARY_VAR: &str = "SOFTCARD_PCSCLITE";
/// The environment variable the drop-in reads the card images from.
pub const IMAGES_VAR: &str = "SOFTCARD_IMAGES";
/// The drop-in's file name as cargo builds it.
const LIBRARY_FILE: &str = "libpcsclite.so";

/// Arguments of `softcard exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A card image to serve (repeat for several cards). Readers are named
    /// `softcard PIV 00 00`, `softcard GIDS 01 00`... in this order.
    #[arg(long = "image", value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,
    /// The program and its arguments (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<OsString>,
}

/// Runs the program and exits with its exit code.
///
/// # Errors
/// An image that cannot be served, the drop-in library not found, the temporary folder
/// not writable, the program not startable.
pub fn run(args: Args) -> Result<(), CliError> {
    let images = check_images(&args.images)?;
    let library = find_library()?;
    let (program, program_args) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage("exec: no program given"))?;
    let dir = TempDir::create()?;
    let link = dir.path.join("libpcsclite.so.1");
    std::os::unix::fs::symlink(&library, &link).map_err(|e| {
        CliError::new(format!(
            "{}: cannot create the library link: {e}",
            link.display()
        ))
    })?;
    let conf = dir.path.join("opensc.conf");
    std::fs::write(&conf, opensc_conf(&link))
        .map_err(|e| CliError::new(format!("{}: cannot write: {e}", conf.display())))?;

    let mut library_path = OsString::from(dir.path.as_os_str());
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
        library_path.push(":");
        library_path.push(old);
    }
    // The child gets Ctrl-C from the terminal itself; softcard waits for it to end and then
    // cleans up instead of dying first.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT] {
        let _ = signal_hook::flag::register(signal, Arc::clone(&interrupted));
    }
    let status = Command::new(program)
        .args(program_args)
        .env("LD_LIBRARY_PATH", library_path)
        .env(IMAGES_VAR, images)
        .env("OPENSC_CONF", &conf)
        .status()
        .map_err(|e| CliError::new(format!("cannot run {}: {e}", program.to_string_lossy())))?;
    drop(dir);
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    std::process::exit(code);
}

/// Checks that each image can be served and joins their absolute paths with `:`.
fn check_images(images: &[PathBuf]) -> Result<OsString, CliError> {
    let mut joined = OsString::new();
    for (i, image) in images.iter().enumerate() {
        open_card(image, BackendKind::default())?;
        let absolute = std::fs::canonicalize(image)
            .map_err(|e| CliError::new(format!("{}: {e}", image.display())))?;
        if absolute.to_string_lossy().contains(':') {
            return Err(CliError::usage(format!(
                "{}: an image path cannot contain ':'",
                absolute.display()
            )));
        }
        if i > 0 {
            joined.push(":");
        }
        joined.push(absolute.as_os_str());
    }
    Ok(joined)
}

/// The drop-in library: `$SOFTCARD_PCSCLITE`, else `libpcsclite.so` next to the
/// `softcard` binary (where cargo builds both).
fn find_library() -> Result<PathBuf, CliError> {
    if let Some(path) = std::env::var_os(LIBRARY_VAR) {
        let path = PathBuf::from(path);
        return std::fs::canonicalize(&path)
            .map_err(|e| CliError::new(format!("{LIBRARY_VAR}={}: {e}", path.display())));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find the softcard binary: {e}")))?;
    let candidates = exe
        .parent()
        .into_iter()
        .flat_map(|d| [d.join(LIBRARY_FILE), d.join("libpcsclite.so.1")]);
    for candidate in candidates {
        if let Ok(path) = std::fs::canonicalize(&candidate) {
            return Ok(path);
        }
    }
    Err(CliError::new(format!(
        "the drop-in library {LIBRARY_FILE} is not next to {} (build it with `cargo build -p softcard-pcsclite`, \
         or name it in {LIBRARY_VAR})",
        exe.display()
    )))
}

/// OpenSC's configuration: the drop-in as its PC/SC provider, file caching off; every
/// other setting keeps OpenSC's built-in default.
fn opensc_conf(library: &Path) -> String {
    let quoted = library
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        "app default {{\n\
         \x20   reader_driver pcsc {{\n\
         \x20       provider_library = \"{quoted}\";\n\
         \x20   }}\n\
         \x20   framework pkcs15 {{\n\
         \x20       use_file_caching = no;\n\
         \x20   }}\n\
         }}\n"
    )
}

/// A private temporary folder, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn create() -> Result<TempDir, CliError> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "softcard-exec-{}-{nanos:x}-{attempt}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(CliError::new(format!(
                        "{}: cannot create: {e}",
                        path.display()
                    )));
                }
            }
        }
        Err(CliError::new(format!(
            "{}: cannot create a temporary folder",
            base.display()
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opensc_conf_names_the_provider_and_disables_caching() {
        let conf = opensc_conf(Path::new("/x/lib\"s/libpcsclite.so.1"));
        assert!(
            conf.contains("provider_library = \"/x/lib\\\"s/libpcsclite.so.1\";"),
            "{conf}"
        );
        assert!(conf.contains("use_file_caching = no;"), "{conf}");
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }

    #[test]
    fn missing_images_are_refused_before_running_anything() {
        let err = check_images(&[PathBuf::from("/nonexistent/card.img")]).unwrap_err();
        assert!(err.to_string().contains("no such card image"), "{err}");
    }

    #[test]
    fn temp_dirs_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::create().unwrap();
        let path = dir.path.clone();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(dir);
        assert!(!path.exists());
    }
}
