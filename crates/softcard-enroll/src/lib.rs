//! Certificate enrollment with a smart card key, as the Windows web enrollment of the
//! Smartcard User template does it.
//!
//! - [`RequestOptions`] says what to ask for ([`RequestOptions::smartcard_user`] is the
//!   seed's choice: template `SmartcardUser`, Exchange key, Microsoft Base Smart Card
//!   Crypto Provider, SHA-1).
//! - A [`RequestSigner`] is the key: a container on a card, or a key in memory
//!   ([`KeySigner`]); [`CardSigner`] does the host's part of a card signature.
//! - [`Request::build`] makes a PKCS#10 request (RFC 2986) or a CMC full PKI request
//!   (RFC 5272) signed by that key; [`Request::to_pem`] and [`Request::der`] give it out.
//! - [`parse_certificates`] reads what the CA returns (DER, PEM, PKCS#7 chain) and
//!   [`select_for_key`] picks the certificate of the container's key.
//!
//! - [`CardClient`] drives a card over any [`Transport`] (an in-process
//!   [`softcard::Card`], a PC/SC connection with the `pcsc` or `softcard-pcsc` feature):
//!   GIDS or PIV, PIN, key creation in a container, signatures by the card, certificate
//!   installation.
//! - [`minidriver`] writes what a client writes in a GIDS card's minidriver file system:
//!   compressed certificates, container names, `cmapfile` records, the key map.
//! - [`certsrv`] speaks AD CS Web Enrollment's pages without I/O: the request form, the
//!   URLs, and the issued, pending and denied answers.
//! - [`testca`] is a throwaway certification authority for tests and demonstrations.
//!
//! Subject names are strings in RFC 4514 order (`CN=Jane Doe,O=Example,C=US`) or in
//! OpenSSL's form (`/C=US/O=Example/CN=Jane Doe`). The encodings come from RustCrypto's
//! format crates (`der`, `spki`, `x509-cert`, `cms`); see
//! `docs/enrollment.md` for what each request contains.

mod applet;
mod card;
mod cert;
pub mod certsrv;
mod client;
mod cmc;
mod error;
mod gids;
pub mod minidriver;
mod ms;
mod name;
mod oid;
mod pem;
mod piv;
mod pkcs10;
mod public_key;
mod request;
mod signer;
mod soft;
pub mod testca;
mod transport;

pub use card::{CardOperation, CardSigner};
pub use cert::{Certificate, parse_certificates, select_for_key};
pub use client::{Application, CardClient, Container, ContainerName, KeyRequest, Unblock};
pub use error::EnrollError;
pub use oid::Oid;
pub use request::{
    BASE_SMART_CARD_CSP, KeySpec, Request, RequestFormat, RequestOptions, TemplateOid,
};
pub use signer::{RequestSigner, SignatureAlgorithm};
pub use soft::KeySigner;
pub use softcard::crypto::{HashAlg, KeyAlgorithm, PublicKey};
pub use transport::{Transport, TransportError};
