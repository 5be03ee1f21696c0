//! The softcard command line.
fn main() {}
