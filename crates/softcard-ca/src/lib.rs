//! A test certification authority that speaks the Web Enrollment pages of Active Directory
//! Certificate Services (`/certsrv/`), so that enrollment clients written for AD CS (the
//! Python `certsrv` package, scripts, a person with a browser, `softcard enroll --ca`) can
//! be run against something in CI.
//!
//! **Test use only.** It issues from a self-signed RSA-2048 CA made on first use, keeps
//! its request database in plain files, and revokes nothing.
//!
//! - [`State`] is the CA's directory: its key and certificate, the TLS key and
//!   certificate, the request database ([`Record`]), the templates.
//! - [`Template`] is a certificate template as data: extended key usages, key usage,
//!   UPN, minimum key size, whether requests wait for approval ([`Template::builtin`]).
//! - [`submission::Submission`] reads what is posted to `certfnsh.asp`: base64 PKCS#10,
//!   CMC full PKI request or PKCS#7, with or without PEM lines, and checks its
//!   signatures, including a CMC request signed by an enrollment agent on behalf of
//!   another user.
//! - [`Ca`] decides and issues, with AD CS's disposition messages and HRESULTs
//!   ([`Refusal`]).
//! - [`Server`] serves the pages over HTTPS (rustls) or plain HTTP, with basic
//!   authentication.
//!
//! See `docs/enrollment.md` for the pages, the templates and the state directory.

#![forbid(unsafe_code)]

mod ca;
mod disposition;
mod http;
mod pages;
mod server;
mod state;
pub mod submission;
mod template;
mod tls;

pub use ca::{Ca, Context, Decision};
pub use disposition::Refusal;
pub use server::{Credentials, Server, ServerOptions};
pub use state::{Record, RecordStatus, State, StateError};
pub use template::{KeyUsageBit, Template, TemplateError};
