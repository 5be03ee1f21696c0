//! The `softcard` binary, built on first use, and `softcard serve` processes stopped on
//! drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use crate::peer::workspace;

/// The path of the `softcard` binary, built once per test process (`cargo build -p
/// softcard-cli -p softcard-pcsclite`, so `softcard exec` finds the drop-in library) into the same target folder as the tests. `SOFTCARD_BIN` overrides it.
///
/// # Panics
/// If the build fails.
pub fn path() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("SOFTCARD_BIN") {
            return PathBuf::from(p);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let st = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "softcard-cli",
                "-p",
                "softcard-pcsclite",
            ])
            .current_dir(workspace())
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build -p softcard-cli failed");
        // Test executables live in <target>/<profile>/deps.
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe.parent().and_then(Path::parent).expect("target folder");
        dir.join("softcard")
    })
}

/// Runs `softcard ARGS`, returning its output.
///
/// # Panics
/// If it cannot be started.
pub fn run(args: &[&str]) -> Output {
    Command::new(path())
        .args(args)
        .output()
        .expect("run softcard")
}

/// Creates a seeded card image.
///
/// # Panics
/// If `softcard init` fails.
pub fn init(image: &Path, profile: &str, seed: u64) {
    let out = run(&[
        "init",
        image.to_str().expect("utf-8 path"),
        "--profile",
        profile,
        "--seed",
        &seed.to_string(),
    ]);
    assert!(
        out.status.success(),
        "softcard init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `softcard serve`; dropped, it gets SIGTERM and is waited for.
pub struct Serve {
    child: Option<Child>,
    log: PathBuf,
}

impl Serve {
    /// Starts `softcard serve --image ... --vpcd ADDR`, stderr to `log`.
    ///
    /// # Panics
    /// If it cannot be started.
    pub fn start(images: &[&Path], vpcd: &str, log: &Path) -> Serve {
        Serve::start_with(images, vpcd, log, &[])
    }

    /// As [`Serve::start`], with more options for `softcard serve` (`--trace FILE`).
    ///
    /// # Panics
    /// As [`Serve::start`].
    pub fn start_with(images: &[&Path], vpcd: &str, log: &Path, options: &[&str]) -> Serve {
        let mut c = Command::new(path());
        c.arg("serve").arg("--vpcd").arg(vpcd).args(options);
        for i in images {
            c.arg("--image").arg(i);
        }
        let err = std::fs::File::create(log).expect("create serve log");
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start softcard serve");
        Serve {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// What it wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends SIGTERM and waits; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        self.stop_with("TERM")
    }

    /// Sends a signal (`TERM`, `INT`) and waits; returns whether it exited successfully.
    pub fn stop_with(&mut self, signal: &str) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status();
        child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stop();
    }
}
