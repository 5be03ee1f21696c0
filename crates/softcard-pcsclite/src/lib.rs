//! libpcsclite drop-in.
