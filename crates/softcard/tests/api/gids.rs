//! GIDS flows that need computation on the host side: the administrator's mutual
//! authentication, key generation and signatures checked with the `rsa` crate, decipherment
//! with extended APDUs and with chaining, key import, reload from the image, and the
//! initialization of a blank card as gids-tool does it.

mod auth;
mod blank;
mod keys;
mod objects;

use rsa::{BoxedUint, Pkcs1v15Encrypt, Pkcs1v15Sign, sha2::Digest, sha2::Sha256};
use softcard::{
    Applet, Card, CardOptions, Command, Context, MemoryStorage, Profile, Status,
    apdu::encode_command,
    crypto::{BackendKind, KeyAlgorithm, KeyMaterial, PrivateKey},
    description::AppletState,
    gids::{self, GidsApplet, minidriver as md},
    profile::DEFAULT_ADMIN_KEY,
    tlv,
};
use softcard_test_support::{
    cmd,
    gids::{
        admin_auth, cbc, decipher, keyed_card, keyexchange_fcp, new_key, put_do, read_public,
        sign_sha256, verify_pin,
    },
    gids_card, load, ok, reload, send,
};
