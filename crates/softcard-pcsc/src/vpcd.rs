//! The card side of the vpcd protocol.
