//! The peer stack (pcscd with the vpcd driver, started by `scripts/peer-stack.sh`), one
//! test at a time: there is one pcscd per machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The reader vpcd offers on its first port.
pub const READER_0: &str = "Virtual PCD 00 00";
/// The reader on the second port.
pub const READER_1: &str = "Virtual PCD 00 01";
/// vpcd's first port.
pub const VPCD_PORT: u16 = 35963;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn euid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Waits until pcscd itself reports `reader` empty (its event thread has polled vpcd and
/// seen the card gone), for at most `limit`. A client that merely fails to read an ATR is
/// not enough: a card served again before pcscd noticed the removal is taken by pcscd for
/// the old card, left without an ATR.
pub fn wait_reader_empty(reader: &str, limit: Duration) -> bool {
    wait_reader_state(reader, pcsc::State::EMPTY, limit)
}

/// Waits until pcscd reports a card in `reader`, for at most `limit`.
pub fn wait_reader_present(reader: &str, limit: Duration) -> bool {
    wait_reader_state(reader, pcsc::State::PRESENT, limit)
}

/// Waits until pcscd's event state of `reader` contains `want`, for at most `limit`.
fn wait_reader_state(reader: &str, want: pcsc::State, limit: Duration) -> bool {
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return false;
    };
    let Ok(name) = std::ffi::CString::new(reader) else {
        return false;
    };
    let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    crate::wait::until(limit, || {
        ctx.get_status_change(Duration::from_millis(500), &mut states)
            .ok()?;
        let [state] = &mut states;
        state.sync_current_state();
        state.event_state().contains(want).then_some(())
    })
    .is_some()
}

/// Why the peer stack cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if euid() != Some(0) {
        return Some("not root: pcscd needs /run/pcscd".into());
    }
    for bin in [
        "/usr/sbin/pcscd",
        "/usr/bin/pcsc_scan",
        "/usr/bin/opensc-tool",
    ] {
        if !Path::new(bin).exists() {
            return Some(format!("{bin} missing: run scripts/peer-stack.sh install"));
        }
    }
    if !Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists() {
        return Some("vsmartcard-vpcd missing: run scripts/peer-stack.sh install".into());
    }
    None
}

/// The running peer stack, held by one test at a time (across threads of one test
/// binary by a mutex, across test binaries by a lock folder). Dropping it stops pcscd if
/// this guard started it.
pub struct PeerStack {
    started: bool,
    _cross_process: LockDir,
    _in_process: MutexGuard<'static, ()>,
}

impl PeerStack {
    /// Takes the lock and starts the stack. `None` (after printing why) when the stack
    /// cannot run here, unless `SOFTCARD_E2E=require`, which makes that a failure.
    ///
    /// # Panics
    /// If the stack fails to start.
    pub fn acquire(test: &str) -> Option<PeerStack> {
        if let Some(why) = unavailable() {
            if std::env::var("SOFTCARD_E2E").as_deref() == Ok("require") {
                panic!("{test}: the peer stack is required (SOFTCARD_E2E=require) but {why}");
            }
            println!("SKIPPED {test}: {why}");
            return None;
        }
        static IN_PROCESS: Mutex<()> = Mutex::new(());
        let in_process = IN_PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
        let cross = LockDir::acquire(std::env::temp_dir().join("softcard-peer-stack.lock"));
        let running = script("status")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !running {
            let st = script("start").status().expect("run scripts/peer-stack.sh");
            assert!(st.success(), "scripts/peer-stack.sh start failed");
        }
        Some(PeerStack {
            started: !running,
            _cross_process: cross,
            _in_process: in_process,
        })
    }
}

impl PeerStack {
    /// Stops pcscd and starts it again, as a system update would.
    ///
    /// # Panics
    /// If it does not come back.
    pub fn restart(&self) {
        let _ = script("stop").status();
        let st = script("start").status().expect("run scripts/peer-stack.sh");
        assert!(st.success(), "scripts/peer-stack.sh start failed");
    }
}

impl Drop for PeerStack {
    fn drop(&mut self) {
        if self.started {
            let _ = script("stop").status();
        }
    }
}

fn script(action: &str) -> Command {
    let mut c = Command::new("bash");
    c.arg(workspace().join("scripts/peer-stack.sh")).arg(action);
    c.stdout(std::process::Stdio::null());
    c
}

/// A lock shared by processes: a folder that exists while held, naming its holder's PID.
/// A folder left by a dead process is taken over.
struct LockDir(PathBuf);

impl LockDir {
    fn acquire(path: PathBuf) -> LockDir {
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let _ = std::fs::write(path.join("pid"), std::process::id().to_string());
                    return LockDir(path);
                }
                Err(_) => {
                    let holder = std::fs::read_to_string(path.join("pid")).ok();
                    let dead = holder
                        .as_deref()
                        .and_then(|p| p.trim().parse::<u32>().ok())
                        .is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
                    if dead {
                        let _ = std::fs::remove_dir_all(&path);
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

impl Drop for LockDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
