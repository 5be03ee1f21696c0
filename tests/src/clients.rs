//! One card image driven by real PC/SC clients (yubico-piv-tool, OpenSC's tools) on
//! either route: the daemonless drop-in (`softcard exec`), or pcscd with vpcd
//! (`softcard serve`, one test at a time through [`PeerStack`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::peer::{self, PeerStack, READER_0, VPCD_PORT, workspace};
use crate::softcard_bin::{self, Serve};
use crate::wait;

/// How long a served card may take to show up in pcscd's reader.
const CARD_LIMIT: Duration = Duration::from_secs(20);
/// Seconds any one client run may take before `timeout` ends it.
const RUN_LIMIT: &str = "120";

/// One `#[test]` per flow and route: `drop_in::FLOW` and `pcscd::FLOW` call `FLOW(route)`
/// (functions of the module the macro is invoked in).
#[macro_export]
macro_rules! on_both_routes {
    ($($flow:ident),* $(,)?) => {
        mod drop_in {
            $(#[test] fn $flow() { super::$flow($crate::clients::Route::DropIn) })*
        }
        mod pcscd {
            $(#[test] fn $flow() { super::$flow($crate::clients::Route::Pcscd) })*
        }
    };
}

/// How a client reaches the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `softcard exec --image IMG -- CLIENT`: the drop-in libpcsclite, no daemon.
    DropIn,
    /// `softcard serve --image IMG` into pcscd's vpcd reader; the client uses pcscd.
    Pcscd,
}

/// What a client run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Output {
        Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Standard output followed by standard error (clients disagree on where messages go).
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics, naming `what` and showing both streams, unless the run succeeded.
    ///
    /// # Panics
    /// If the run failed.
    pub fn ok(self, what: &str) -> Output {
        assert!(self.success, "{what} failed:\n{}", self.text());
        self
    }

    /// Panics unless the run failed: the twin of [`Output::ok`].
    ///
    /// # Panics
    /// If the run succeeded.
    pub fn fails(self, what: &str) -> Output {
        assert!(
            !self.success,
            "{what} succeeded but must fail:\n{}",
            self.text()
        );
        self
    }
}

/// A fresh card image in a temporary folder, reachable by clients on one route.
pub struct Session {
    route: Route,
    reader: String,
    image: PathBuf,
    // Dropped in this order: the served card, then the peer stack, then the folder.
    serve: Option<Serve>,
    stack: Option<PeerStack>,
    dir: tempfile::TempDir,
}

impl Session {
    /// Creates a PIV image (`softcard init --profile piv --seed SEED`) and makes it
    /// reachable on `route`. `None` (after printing why) when the pcscd route cannot run
    /// here; see [`PeerStack::acquire`].
    ///
    /// # Panics
    /// If the image cannot be made or the served card does not appear.
    pub fn open(route: Route, seed: u64, test: &str) -> Option<Session> {
        Session::open_profile(route, "piv", "PIV", seed, test)
    }

    /// As [`Session::open`] for any profile; `label` is the word the drop-in puts in its
    /// reader name (`softcard LABEL 00 00`: `PIV`, `GIDS`).
    ///
    /// # Panics
    /// As [`Session::open`].
    pub fn open_profile(
        route: Route,
        profile: &str,
        label: &str,
        seed: u64,
        test: &str,
    ) -> Option<Session> {
        dropin_library();
        let stack = match route {
            Route::DropIn => None,
            Route::Pcscd => Some(PeerStack::acquire(test)?),
        };
        let dir = tempfile::tempdir().expect("temporary folder");
        let image = dir.path().join(format!("{profile}.img"));
        softcard_bin::init(&image, profile, seed);
        std::fs::write(dir.path().join("opensc.conf"), OPENSC_CONF).expect("write opensc.conf");
        let reader = match route {
            Route::DropIn => format!("softcard {label} 00 00"),
            Route::Pcscd => READER_0.to_string(),
        };
        let mut session = Session {
            route,
            reader,
            image,
            serve: None,
            stack,
            dir,
        };
        session.serve();
        Some(session)
    }

    /// The route this session uses.
    pub fn route(&self) -> Route {
        self.route
    }

    /// A file name inside the session's temporary folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The card image.
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// The name of the reader holding the card (`-r` of yubico-piv-tool matches it).
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Runs `program ARGS` against the card with extra environment variables.
    ///
    /// # Panics
    /// If the program cannot be started.
    pub fn run_env(&self, program: &str, args: &[&str], env: &[(&str, &OsStr)]) -> Output {
        let mut c = match self.route {
            Route::DropIn => {
                let mut c = Command::new(softcard_bin::path());
                c.arg("exec")
                    .arg("--image")
                    .arg(&self.image)
                    .arg("--")
                    .arg("timeout")
                    .env_remove("LD_LIBRARY_PATH");
                c
            }
            Route::Pcscd => {
                let mut c = Command::new("timeout");
                c.env("OPENSC_CONF", self.path("opensc.conf"));
                c
            }
        };
        c.arg(RUN_LIMIT)
            .arg(program)
            .args(args)
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path());
        for (k, v) in env {
            c.env(k, v);
        }
        Output::from(c.output().expect("run a client"))
    }

    /// Runs `program ARGS` against the card.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.run_env(program, args, &[])
    }

    /// Runs `yubico-piv-tool -r READER ARGS`.
    pub fn yubico(&self, args: &[&str]) -> Output {
        let mut all = vec!["-r", self.reader.as_str()];
        all.extend_from_slice(args);
        self.run("yubico-piv-tool", &all)
    }

    /// Runs `pkcs11-tool --module <opensc-pkcs11.so> ARGS`.
    pub fn pkcs11(&self, args: &[&str]) -> Output {
        let module = opensc_pkcs11();
        let mut all = vec!["--module", module.as_str()];
        all.extend_from_slice(args);
        self.run("pkcs11-tool", &all)
    }

    /// Runs `softcard ARGS` (e.g. `enroll`, `cert import`, which work on the image file)
    /// while no client holds the card: on pcscd, the served card is taken out of the
    /// reader first and served again afterwards, so that the image `softcard` writes is the
    /// one served next. On the drop-in route every client run loads the image anew.
    ///
    /// # Panics
    /// If `softcard` cannot be started or the card does not come back.
    pub fn softcard(&mut self, args: &[&str]) -> Output {
        self.take_out();
        let out = softcard_bin::run(args);
        self.serve();
        Output::from(out)
    }

    /// Takes the card away and brings the image back in a new process: on pcscd, stops
    /// `softcard serve` and serves the image again. On the drop-in route every client run
    /// is already a new process that loads the image from disk.
    ///
    /// # Panics
    /// If the card does not come back.
    pub fn restart(&mut self) {
        self.take_out();
        self.serve();
    }

    /// On pcscd, stops `softcard serve` and waits until the reader is empty.
    fn take_out(&mut self) {
        if let Some(mut serve) = self.serve.take() {
            assert!(serve.stop(), "softcard serve did not stop cleanly");
            assert!(
                peer::wait_reader_empty(READER_0, CARD_LIMIT),
                "the card stayed in the reader"
            );
        }
    }

    fn serve(&mut self) {
        if self.stack.is_none() {
            return;
        }
        let addr = format!("127.0.0.1:{VPCD_PORT}");
        let log = self.path("serve.log");
        let serve = Serve::start(&[&self.image], &addr, &log);
        self.serve = Some(serve);
        let present = wait::until(CARD_LIMIT, || card_present().then_some(()));
        let log = self.serve.as_ref().map(Serve::log).unwrap_or_default();
        assert!(
            present.is_some(),
            "no card in {READER_0}; serve log:\n{log}"
        );
    }
}

/// OpenSC's PKCS#11 module: `$SOFTCARD_OPENSC_PKCS11`, else where Debian installs it.
pub fn opensc_pkcs11() -> String {
    std::env::var("SOFTCARD_OPENSC_PKCS11")
        .unwrap_or_else(|_| "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so".into())
}

/// OpenSC's configuration on the pcscd route: file caching off, as `softcard exec`
/// writes it for the drop-in route, so that no answer comes from a stale cache.
const OPENSC_CONF: &str =
    "app default {\n    framework pkcs15 {\n        use_file_caching = no;\n    }\n}\n";

/// Whether pcscd's first vpcd reader holds a card (opensc-tool reads an ATR from it).
fn card_present() -> bool {
    Command::new("opensc-tool")
        .args(["-r", "0", "-a"])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(':'))
        .unwrap_or(false)
}

/// Builds the drop-in library next to the `softcard` binary (once per test process)
/// unless it is there already: a `softcard` built without the `embedded-dropin` feature
/// takes it from there (one with it uses the copy it carries).
///
/// # Panics
/// If the build fails.
fn dropin_library() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let bin = softcard_bin::path();
        if bin.with_file_name("libpcsclite.so").exists() {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--quiet", "-p", "softcard-pcsclite"])
            .current_dir(workspace())
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build -p softcard-pcsclite failed");
    });
}

impl Session {
    /// Like [`Session::open`], for a Windows virtual smart card (`softcard init --profile
    /// windows-vsc --seed SEED`, blank with `blank`: see `softcard init --blank`). Its
    /// drop-in reader is `softcard GIDS 00 00` ([`Session::reader`]).
    ///
    /// # Panics
    /// If the image cannot be made or the served card does not appear.
    pub fn open_gids(route: Route, seed: u64, blank: bool, test: &str) -> Option<Session> {
        dropin_library();
        let stack = match route {
            Route::DropIn => None,
            Route::Pcscd => Some(PeerStack::acquire(test)?),
        };
        let dir = tempfile::tempdir().expect("temporary folder");
        let image = dir.path().join("gids.img");
        let seed = seed.to_string();
        let mut args = vec!["init", "--profile", "windows-vsc", "--seed", &seed];
        if blank {
            args.push("--blank");
        }
        args.push(image.to_str().expect("UTF-8 path"));
        let out = softcard_bin::run(&args);
        assert!(
            out.status.success(),
            "softcard init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.path().join("opensc.conf"), OPENSC_CONF).expect("write opensc.conf");
        let reader = match route {
            Route::DropIn => "softcard GIDS 00 00".to_string(),
            Route::Pcscd => READER_0.to_string(),
        };
        let mut session = Session {
            route,
            reader,
            image,
            serve: None,
            stack,
            dir,
        };
        session.serve();
        Some(session)
    }
}
