//! In-process PC/SC front.
