//! Enrollment client.
