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
//! Subject names are strings in RFC 4514 order (`CN=Jane Doe,O=Example,C=US`); see
//! `docs/enrollment.md` for what each request contains.

mod card;
mod cert;
mod cmc;
mod der;
mod error;
mod name;
mod oid;
mod pem;
mod pkcs10;
mod request;
mod signer;
mod soft;
mod spki;

pub use card::{CardOperation, CardSigner};
pub use cert::{Certificate, parse_certificates, select_for_key};
pub use error::EnrollError;
pub use oid::Oid;
pub use request::{
    BASE_SMART_CARD_CSP, KeySpec, Request, RequestFormat, RequestOptions, TemplateOid,
};
pub use signer::{RequestSigner, SignatureAlgorithm};
pub use soft::KeySigner;
pub use softcard::crypto::{HashAlg, PublicKey};
