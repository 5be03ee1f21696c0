//! `softcard exec`: run a program that sees the cards through the PC/SC library, with no
//! daemon.
//!
//! softcard hosts the cards for as long as the program runs: ONE card per image, shared
//! by every process the program starts (children, grandchildren, forked children), as
//! pcscd shares a card. A private temporary folder receives `libpcsclite.so.1` (softcard's
//! drop-in library, found as [`find_library`] says), the host's socket `softcard-host.sock`
//! beside it, and an `opensc.conf`; the program runs with that folder first on `LD_LIBRARY_PATH`,
//! `SOFTCARD_HOST` naming the socket and `OPENSC_CONF` pointing OpenSC's
//! `provider_library` at the drop-in (with OpenSC's file cache off, so that a changed card
//! is never answered from a stale cache). The drop-in in each process is a thin client of
//! the host; it finds the socket beside itself when the environment was cleared.
//!
//! The cards' keys run on the backend `--backend` names (or `SOFTCARD_BACKEND`; by default
//! the fastest compiled in, aws-lc); the program gets `SOFTCARD_BACKEND` set to it, so that
//! what it sees in its environment is what serves its cards.
//!
//! The images are locked while softcard serves them: a second `exec` or `serve` on one of
//! them is refused naming this process, and one-shot commands (`softcard pin`, `cert
//! import`, `enroll`, `sign`) on them are served by this host.
//!
//! SIGTERM and SIGHUP are passed on to the program (SIGINT and SIGQUIT reach it from the
//! terminal). When the program ends, processes it left running (a daemon that forked
//! away) are waited for, with a message: their cards must not vanish under them (they
//! would fall through to the system's PC/SC library). The folder is removed at the end,
//! and softcard exits with the program's exit code (128 + the signal number if a signal
//! ended it).
//!
//! `--trace FILE` records every APDU the cards exchange; `--replay FILE` serves a recorded
//! trace instead of images (docs/traces.md); `--faults FILE` injects faults
//! (docs/faults.md). A replay that deviated, or a trace that could
//! not be written completely, makes exec exit 1 when the program itself succeeded.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use softcard_pcsc::Registry;
use softcard_pcsc::host::{HOST_VAR, Host, SOCKET_FILE};

use crate::cmd::trace;
use crate::common::{BackendArg, CliError, PassphraseArg, TempDir, serve_images};

/// What `softcard exec --help` says after the options.
pub const HELP: &str = "\
One of the three ways a program reaches a card: no daemon. The program runs with \
softcard's libpcsclite.so.1 first on LD_LIBRARY_PATH (and OpenSC pointed at it); every \
process it starts shares the one card per image that this exec hosts.

The drop-in library is the first of:
  1. $SOFTCARD_PCSCLITE (a path)
  2. the copy this binary carries, if any (cargo install softcard-cli: yes)
  3. libpcsclite.so or libpcsclite.so.1 beside the binary (a cargo target folder)
  4. ../lib/softcard/libpcsclite.so.1 from the binary's folder (the Debian package)
The system's libpcsclite is left alone.

Example: softcard exec --image card.img -- opensc-tool -a";

/// The environment variable that overrides where the drop-in library is found.
pub const LIBRARY_VAR: &str = "SOFTCARD_PCSCLITE";
/// The drop-in's file name as cargo builds it.
const LIBRARY_FILE: &str = "libpcsclite.so";
/// The drop-in's file name as programs ask for it (its SONAME).
const LIBRARY_SONAME: &str = "libpcsclite.so.1";
/// Where an installed drop-in lives, relative to the folder of the `softcard` binary
/// (`/usr/bin/softcard` and `/usr/lib/softcard/libpcsclite.so.1` in the Debian package).
const INSTALLED_LIBRARY: &str = "../lib/softcard/libpcsclite.so.1";
/// The drop-in this binary carries (feature `embedded-dropin`, built by build.rs).
#[cfg(feature = "embedded-dropin")]
const EMBEDDED: Option<&[u8]> = Some(include_bytes!(concat!(
    env!("OUT_DIR"),
    "/libpcsclite.so.1"
)));
#[cfg(not(feature = "embedded-dropin"))]
const EMBEDDED: Option<&[u8]> = None;

/// The drop-in library exec gives its program.
enum Library {
    /// A library file (linked into the private folder).
    File(PathBuf),
    /// The copy this binary carries (written into the private folder).
    Embedded(&'static [u8]),
}

/// Arguments of `softcard exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A card image to serve (repeat for several cards). Readers are named
    /// `softcard PIV 00 00`, `softcard GIDS 01 00`... in this order. Without any, the
    /// program starts with no reader: `softcard ctl attach IMAGE` adds one.
    #[arg(long = "image", value_name = "IMAGE", conflicts_with = "replay")]
    pub images: Vec<PathBuf>,
    /// Record the APDUs exchanged with the cards.
    #[command(flatten)]
    pub record: crate::cmd::trace::RecordArgs,
    /// Serve a recorded trace as a scripted card instead of images: the program must send
    /// the recorded commands and gets the recorded answers. A deviation is answered 6F00
    /// and reported with both commands, and exec then exits non-zero.
    #[arg(long, value_name = "FILE", conflicts_with = "trace")]
    pub replay: Option<PathBuf>,
    /// Inject faults from the start.
    #[command(flatten)]
    pub faults: crate::cmd::ctl::FaultsArg,
    #[command(flatten)]
    pub backend: BackendArg,
    /// The passphrase of encrypted images (the program started does not get
    /// SOFTCARD_PASSPHRASE: it reaches the cards through this process).
    #[command(flatten)]
    pub passphrase: PassphraseArg,
    /// The program and its arguments (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<OsString>,
}

/// Runs the program and exits with its exit code.
///
/// # Errors
/// An image that cannot be served (missing, held by another process, given twice), the
/// drop-in library not found, the temporary folder not writable, the program not
/// startable.
pub fn run(args: Args) -> Result<(), CliError> {
    let library = find_library()?;
    let (program, program_args) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage("exec: no program given"))?;
    let dir = TempDir::create("softcard-exec")?;
    let socket = dir.path().join(SOCKET_FILE);
    let registry = Registry::new();
    let backend = args.backend.kind();
    let host = Host::bind(&socket, registry.clone(), backend)
        .map_err(|e| CliError::new(format!("{}: cannot listen: {e}", socket.display())))?;
    host.set_passphrase(args.passphrase.resolve()?);
    let replay = match &args.replay {
        Some(path) => Some(trace::start_replay(path, &registry)?),
        None => {
            serve_images(&host, &args.images)?;
            None
        }
    };
    let recorder = args.record.start(&registry)?;
    args.faults.start(&registry)?;
    let link = dir.path().join(LIBRARY_SONAME);
    place_library(&library, &link)?;
    let conf = dir.path().join("opensc.conf");
    std::fs::write(&conf, opensc_conf(&link))
        .map_err(|e| CliError::new(format!("{}: cannot write: {e}", conf.display())))?;

    let host = host.spawn();

    let mut library_path = OsString::from(dir.path().as_os_str());
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
        library_path.push(":");
        library_path.push(old);
    }
    // Orphans of the program (daemons) become softcard's children, to be waited for.
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let child_pid = Arc::new(AtomicI32::new(0));
    let pending = Arc::new(AtomicI32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    forward_signals(
        Arc::clone(&child_pid),
        Arc::clone(&pending),
        Arc::clone(&stop),
    )?;
    let mut child = Command::new(program)
        .args(program_args)
        .env("LD_LIBRARY_PATH", library_path)
        .env(HOST_VAR, &socket)
        .env_remove("SOFTCARD_IMAGES")
        .env_remove(softcard_file::sealed::PASSPHRASE_VAR)
        .env(softcard_file::BACKEND_VAR, backend.name())
        .env("OPENSC_CONF", &conf)
        .spawn()
        .map_err(|e| CliError::new(format!("cannot run {}: {e}", program.to_string_lossy())))?;
    let pid = i32::try_from(child.id()).unwrap_or(0);
    child_pid.store(pid, Ordering::SeqCst);
    // A signal that came while the program was being started is passed on now.
    kill(pid, pending.swap(0, Ordering::SeqCst));
    let status = child
        .wait()
        .map_err(|e| CliError::new(format!("waiting for {}: {e}", program.to_string_lossy())))?;
    child_pid.store(0, Ordering::SeqCst);
    wait_for_leftovers(&program.to_string_lossy(), &stop);
    drop(host);
    drop(registry);
    drop(dir);
    let mut code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    let mut failed = |e: CliError| {
        e.report(false);
        if code == 0 {
            code = 1;
        }
    };
    if let Err(e) = trace::check_recorder(recorder.as_deref(), args.record.trace.as_deref()) {
        failed(e);
    }
    if let Some(Err(d)) = replay.as_ref().map(|r| r.finish()) {
        failed(CliError::new(d.to_string()));
    }
    std::process::exit(code);
}

/// Sends `sig` to `pid` (nothing for 0).
fn kill(pid: i32, sig: i32) {
    if let (Some(pid), Some(sig)) = (
        rustix::process::Pid::from_raw(pid),
        rustix::process::Signal::from_named_raw(sig),
    ) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Passes SIGTERM and SIGHUP on to the program while it runs (one that comes before it
/// runs waits in `pending`); raises `stop` either way. SIGINT and SIGQUIT only raise
/// `stop`: the terminal sends them to the program itself.
fn forward_signals(
    child: Arc<AtomicI32>,
    pending: Arc<AtomicI32>,
    stop: Arc<AtomicBool>,
) -> Result<(), CliError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])
        .map_err(|e| CliError::new(format!("cannot handle signals: {e}")))?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            stop.store(true, Ordering::SeqCst);
            if sig != SIGTERM && sig != SIGHUP {
                continue;
            }
            match child.load(Ordering::SeqCst) {
                0 => pending.store(sig, Ordering::SeqCst),
                pid => kill(pid, sig),
            }
        }
    });
    Ok(())
}

/// Waits for the processes the program left running (reparented to softcard), serving
/// their cards meanwhile, until they end or softcard gets a signal.
fn wait_for_leftovers(program: &str, stop: &AtomicBool) {
    use rustix::process::{WaitOptions, wait};
    let mut told = false;
    loop {
        match wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(_) => return,
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if !told {
            eprintln!(
                "softcard exec: {program} ended but left processes running; serving their \
                 cards until they end (run daemons in the foreground under softcard exec: \
                 `ssh-agent -D`, `certmonger -n`)"
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The drop-in library, the first of:
/// 1. `$SOFTCARD_PCSCLITE`, a path;
/// 2. the copy this binary carries (feature `embedded-dropin`, on by default: what
///    `cargo install softcard-cli` installs);
/// 3. `libpcsclite.so` or `libpcsclite.so.1` beside the binary (a cargo target folder);
/// 4. `../lib/softcard/libpcsclite.so.1` from the binary's folder (the Debian package:
///    `/usr/bin/softcard`, `/usr/lib/softcard/libpcsclite.so.1`).
fn find_library() -> Result<Library, CliError> {
    if let Some(path) = std::env::var_os(LIBRARY_VAR) {
        let path = PathBuf::from(path);
        return std::fs::canonicalize(&path)
            .map(Library::File)
            .map_err(|e| CliError::new(format!("{LIBRARY_VAR}={}: {e}", path.display())));
    }
    if let Some(bytes) = EMBEDDED {
        return Ok(Library::Embedded(bytes));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find the softcard binary: {e}")))?;
    let folder = exe.parent().unwrap_or(Path::new("/"));
    library_beside(folder).map(Library::File).ok_or_else(|| {
        CliError::new(format!(
            "the drop-in library {LIBRARY_SONAME} is neither beside {} nor in {}, and this \
             softcard carries none (built without the embedded-dropin feature): build it with \
             `cargo build -p softcard-pcsclite`, or name it in {LIBRARY_VAR}",
            exe.display(),
            folder.join(INSTALLED_LIBRARY).display(),
        ))
    })
}

/// The drop-in library installed with a binary in `folder` (rules 3 and 4 of
/// [`find_library`]).
fn library_beside(folder: &Path) -> Option<PathBuf> {
    [
        folder.join(LIBRARY_FILE),
        folder.join(LIBRARY_SONAME),
        folder.join(INSTALLED_LIBRARY),
    ]
    .iter()
    .find_map(|candidate| std::fs::canonicalize(candidate).ok())
}

/// Puts the library at `path` in the private folder: a link to a library file, or the
/// carried copy written out.
fn place_library(library: &Library, path: &Path) -> Result<(), CliError> {
    match library {
        Library::File(file) => std::os::unix::fs::symlink(file, path).map_err(|e| {
            CliError::new(format!(
                "{}: cannot create the library link: {e}",
                path.display()
            ))
        }),
        Library::Embedded(bytes) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o755)
                .open(path)
                .and_then(|mut file| file.write_all(bytes))
                .map_err(|e| {
                    CliError::new(format!(
                        "{}: cannot write the drop-in library: {e}",
                        path.display()
                    ))
                })
        }
    }
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
        let dir = tempfile::tempdir().unwrap();
        let host = Host::bind(
            &dir.path().join("s.sock"),
            Registry::new(),
            softcard::crypto::BackendKind::default(),
        )
        .unwrap();
        let err = serve_images(&host, &[PathBuf::from("/nonexistent/card.img")]).unwrap_err();
        assert!(err.to_string().contains("no such card image"), "{err}");
    }

    #[test]
    fn an_installed_library_is_found_beside_or_in_lib_softcard() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        let lib = root.path().join("lib/softcard");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&lib).unwrap();
        assert_eq!(library_beside(&bin), None);
        std::fs::write(lib.join(LIBRARY_SONAME), b"installed").unwrap();
        let installed = std::fs::canonicalize(lib.join(LIBRARY_SONAME)).unwrap();
        assert_eq!(library_beside(&bin), Some(installed));
        std::fs::write(bin.join(LIBRARY_FILE), b"built").unwrap();
        let beside = std::fs::canonicalize(bin.join(LIBRARY_FILE)).unwrap();
        assert_eq!(library_beside(&bin), Some(beside));
    }

    #[test]
    fn the_library_is_linked_or_written_into_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("real.so");
        std::fs::write(&file, b"file").unwrap();
        let link = dir.path().join("link.so");
        place_library(&Library::File(file.clone()), &link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), file);
        let written = dir.path().join("written.so");
        place_library(&Library::Embedded(b"carried"), &written).unwrap();
        assert_eq!(std::fs::read(&written).unwrap(), b"carried");
        // Never over a file already there.
        assert!(place_library(&Library::Embedded(b"again"), &written).is_err());
    }

    #[cfg(feature = "embedded-dropin")]
    #[test]
    fn the_carried_library_is_a_shared_object_named_libpcsclite_so_1() {
        let bytes = EMBEDDED.unwrap();
        assert_eq!(&bytes[..4], b"\x7fELF");
        let soname = b"libpcsclite.so.1\0";
        assert!(bytes.windows(soname.len()).any(|w| w == soname));
        assert!(
            bytes
                .windows(b"SCardTransmit".len())
                .any(|w| w == b"SCardTransmit")
        );
    }

    #[test]
    fn temp_dirs_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::create("softcard-test").unwrap();
        let path = dir.path().to_owned();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(dir);
        assert!(!path.exists());
    }
}
