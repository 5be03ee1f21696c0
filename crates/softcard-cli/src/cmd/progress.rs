//! A progress indicator on stderr for long card operations (RSA key generation).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Prints `message` then a dot every quarter second on stderr until finished or dropped;
/// then " done", or " failed" unless [`Dots::finish`] said it worked.
pub struct Dots {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    succeeded: bool,
}

impl Dots {
    /// Starts the indicator.
    pub fn start(message: &str) -> Self {
        eprint!("{message}");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                if !flag.load(Ordering::Relaxed) {
                    eprint!(".");
                    let _ = std::io::stderr().flush();
                }
            }
        });
        Dots {
            stop,
            thread: Some(thread),
            succeeded: false,
        }
    }

    /// Stops the indicator, ending the line with " done" or " failed".
    pub fn finish(mut self, succeeded: bool) {
        self.succeeded = succeeded;
    }
}

impl Drop for Dots {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        eprintln!("{}", if self.succeeded { " done" } else { " failed" });
    }
}
