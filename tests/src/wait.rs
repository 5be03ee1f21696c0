//! Bounded polling: tests wait for a condition, never for a fixed time.

use std::time::{Duration, Instant};

/// Calls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
