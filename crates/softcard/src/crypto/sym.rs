//! Symmetric block ciphers for administrator and management keys: 3DES and AES.
