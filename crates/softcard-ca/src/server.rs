//! The Web Enrollment server: a thread per connection, one request per connection, HTTPS
//! (rustls, with the state directory's certificate) or plain HTTP, basic authentication.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use const_oid::db::rfc5911::{ID_DATA, ID_SIGNED_DATA};
use der::asn1::{Any, SetOfVec};
use der::{Decode as _, Encode as _};
use pem_rfc7468::LineEnding;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use softcard::crypto::HashAlg;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::http::{self, ReadError, Request, Response};
use crate::pages;
use crate::state::{Record, RecordStatus, State};

/// Largest request body taken, in bytes: IIS's default for ASP pages
/// (`AspMaxRequestEntityAllowed`, 200 000 bytes); a larger one gets 413.
pub const BODY_LIMIT: usize = 200_000;

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "softcard ca";

/// The one user basic authentication lets in.
pub struct Credentials {
    user: String,
    password: Zeroizing<String>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl Credentials {
    /// `user` with `password`.
    pub fn new(user: impl Into<String>, password: Zeroizing<String>) -> Self {
        Credentials {
            user: user.into(),
            password,
        }
    }

    /// The user, if an `Authorization: Basic` header names `user` with `password`; the
    /// names and passwords are compared as SHA-256 digests in constant time.
    fn check(&self, header: Option<&str>) -> Option<String> {
        let encoded = header?.strip_prefix("Basic ")?.trim();
        let decoded = Zeroizing::new(crate::submission::decode_base64(encoded).ok()?);
        let text = std::str::from_utf8(&decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        let same = |a: &str, b: &str| {
            HashAlg::Sha256
                .digest(a.as_bytes())
                .ct_eq(&HashAlg::Sha256.digest(b.as_bytes()))
        };
        let ok = same(user, &self.user) & same(password, &self.password);
        bool::from(ok).then(|| self.user.clone())
    }
}

/// How to serve.
#[derive(Debug)]
pub struct ServerOptions {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// HTTPS (the default) or plain HTTP.
    pub https: bool,
    /// The user to let in; `None` lets everyone in.
    pub credentials: Option<Credentials>,
    /// A line on standard error for each exchange and each decision (never a password).
    pub log: bool,
}

/// A bound server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

/// The TLS configuration (nothing can be one without the `aws-lc` feature).
#[cfg(feature = "aws-lc")]
type TlsConfig = Arc<rustls::ServerConfig>;
#[cfg(not(feature = "aws-lc"))]
type TlsConfig = std::convert::Infallible;

#[cfg(feature = "aws-lc")]
fn tls_config(state: &State) -> Result<TlsConfig, String> {
    let (chain, key) = state.tls_files().map_err(|e| e.to_string())?;
    crate::tls::server_config(&chain, &key)
}

#[cfg(not(feature = "aws-lc"))]
fn tls_config(_state: &State) -> Result<TlsConfig, String> {
    Err(
        "HTTPS needs the aws-lc feature (rustls on aws-lc-rs); this build serves plain HTTP only"
            .into(),
    )
}

struct Shared {
    state: State,
    tls: Option<TlsConfig>,
    credentials: Option<Credentials>,
    log: bool,
}

impl Server {
    /// Binds the listening socket and prepares TLS.
    ///
    /// # Errors
    /// A message when the address cannot be bound or the TLS files are unusable.
    pub fn bind(state: State, options: ServerOptions) -> Result<Self, String> {
        let tls = if options.https {
            Some(tls_config(&state)?)
        } else {
            None
        };
        let listener = TcpListener::bind(options.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                state,
                tls,
                credentials: options.credentials,
                log: options.log,
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The base URL of the pages, `https://127.0.0.1:PORT/certsrv/`.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/certsrv/", self.local_addr())
    }

    /// Serves until the process ends, a thread per connection.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            let shared = Arc::clone(&self.shared);
            std::thread::spawn(move || shared.connection(stream));
        }
    }
}

impl Shared {
    fn connection(&self, tcp: TcpStream) {
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = tcp.set_write_timeout(Some(Duration::from_secs(30)));
        match &self.tls {
            #[cfg(not(feature = "aws-lc"))]
            Some(never) => match *never {},
            #[cfg(feature = "aws-lc")]
            Some(config) => {
                let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else {
                    return;
                };
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                self.exchange(&mut stream);
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
            None => {
                let mut stream = tcp;
                self.exchange(&mut stream);
            }
        }
    }

    /// Reads one request, answers it.
    fn exchange<S: Read + Write>(&self, stream: &mut S) {
        let response = match http::read_request(stream, BODY_LIMIT) {
            Ok(request) => {
                let response = self.answer(&request);
                if self.log {
                    eprintln!(
                        "softcard ca: {} {} {}",
                        request.method, request.path, response.status
                    );
                }
                response
            }
            Err(ReadError::Io) => return,
            Err(ReadError::Malformed(why)) => Response::error(400, why),
            Err(ReadError::LengthRequired) => {
                Response::error(411, "a request body needs a Content-Length")
            }
            Err(ReadError::TooLarge { length, received }) => {
                if self.log {
                    eprintln!("softcard ca: refused a {length}-byte body (413)");
                }
                let response = Response::error(
                    413,
                    &format!(
                        "the request body ({length} bytes) is over the limit of {BODY_LIMIT} bytes"
                    ),
                );
                let _ = response.write(stream);
                // Read what the client still sends (within limits), so that it sees the
                // answer instead of a reset connection.
                let mut sink = [0u8; 16 * 1024];
                let mut left = length.saturating_sub(received).min(64 * 1024 * 1024);
                while left > 0 {
                    match stream.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
                return;
            }
        };
        let _ = response.write(stream);
    }

    fn answer(&self, request: &Request) -> Response {
        let user = match &self.credentials {
            Some(credentials) => match credentials.check(request.header("authorization")) {
                Some(user) => Some(user),
                None => {
                    let mut r = Response::error(401, "authentication is required");
                    r.headers
                        .push(("WWW-Authenticate", format!("Basic realm=\"{REALM}\"")));
                    return r;
                }
            },
            None => None,
        };
        let ca = self.ca_name();
        let path = request.path.to_ascii_lowercase();
        let page = path.strip_prefix("/certsrv").unwrap_or("");
        match (request.method.as_str(), page) {
            ("GET", "" | "/" | "/default.asp") => Response::html(pages::welcome(&ca)),
            ("GET", "/certrqus.asp") => Response::html(pages::request_choice(&ca)),
            ("GET", "/certrqad.asp") => Response::html(pages::advanced(&ca)),
            ("GET", "/certrqxt.asp") => Response::html(pages::submit_form(
                &ca,
                self.state.ca().templates(),
                request.query("Template"),
            )),
            ("POST", "/certfnsh.asp") => self.submit(request, user.as_deref()),
            ("GET", "/certnew.cer") => self.certificate(request, false),
            ("GET", "/certnew.p7b") => self.certificate(request, true),
            ("GET", "/certcarc.asp") => Response::html(pages::ca_certificate(&ca)),
            ("GET", "/certckpn.asp") => self.pending_list(user.as_deref()),
            ("POST", "/certckpn.asp") => {
                let form = http::form_decode(&String::from_utf8_lossy(&request.body));
                self.status_page(http::lookup(&form, "ReqID"))
            }
            (
                _,
                "" | "/" | "/default.asp" | "/certrqus.asp" | "/certrqad.asp" | "/certrqxt.asp"
                | "/certfnsh.asp" | "/certnew.cer" | "/certnew.p7b" | "/certcarc.asp"
                | "/certckpn.asp",
            ) => Response::error(405, "method not allowed"),
            _ => Response::error(404, "no such page"),
        }
    }

    fn ca_name(&self) -> String {
        self.state.ca().certificate().subject().unwrap_or_default()
    }

    /// `certfnsh.asp`: a new request (`Mode=newreq`), or a check on one (`Mode=chkpnd`).
    fn submit(&self, request: &Request, user: Option<&str>) -> Response {
        let ca = self.ca_name();
        let form = http::form_decode(&String::from_utf8_lossy(&request.body));
        match http::lookup(&form, "Mode") {
            Some(m) if m.eq_ignore_ascii_case("newreq") => {}
            Some(m) if m.eq_ignore_ascii_case("chkpnd") => {
                return self.status_page(http::lookup(&form, "ReqID"));
            }
            _ => return Response::error(400, "Mode must be newreq or chkpnd"),
        }
        let text = http::lookup(&form, "CertRequest").unwrap_or_default();
        let mut attributes = Vec::new();
        for (name, value) in form
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("CertAttrib"))
        {
            let _ = name;
            for line in value.lines() {
                if let Some((n, v)) = line.split_once(':') {
                    attributes.push((n.trim().to_string(), v.trim().to_string()));
                }
            }
        }
        let mut record = Record::new(user, attributes, text);
        let mut rng = os_rng();
        record.decide(self.state.ca(), false, &mut rng);
        let id = match self.state.add(&mut record) {
            Ok(id) => id,
            Err(e) => return Response::error(500, &e.to_string()),
        };
        if self.log {
            eprintln!(
                "softcard ca: request {id}: {} {}",
                record.status, record.message
            );
        }
        self.disposition_page(&ca, &record, id)
    }

    fn disposition_page(&self, ca: &str, record: &Record, id: u32) -> Response {
        Response::html(match record.status {
            RecordStatus::Issued => pages::issued(ca, id),
            RecordStatus::Pending => pages::pending(ca, id),
            RecordStatus::Denied => pages::denied(ca, Some(id), &record.message),
        })
    }

    /// The status of request `id` (the pending-request check).
    fn status_page(&self, id: Option<&str>) -> Response {
        let ca = self.ca_name();
        let Some(id) = id.and_then(|v| v.trim().parse::<u32>().ok()) else {
            return Response::error(400, "ReqID must be a request number");
        };
        match self.state.record(id) {
            Ok(record) => self.disposition_page(&ca, &record, id),
            Err(e) => Response::html(pages::denied(&ca, None, &e.to_string())),
        }
    }

    /// `certckpn.asp`: the user's requests.
    fn pending_list(&self, user: Option<&str>) -> Response {
        let records = self.state.records().unwrap_or_default();
        let mine: Vec<(u32, String)> = records
            .iter()
            .filter(|r| r.user.as_deref() == user)
            .map(|r| (r.id, r.status.to_string()))
            .collect();
        Response::html(pages::pending_list(&self.ca_name(), &mine))
    }

    /// `certnew.cer` and `certnew.p7b`: a certificate, or a chain, by request ID or
    /// `CACert`.
    fn certificate(&self, request: &Request, chain: bool) -> Response {
        let ca = self.ca_name();
        let b64 = match request.query("Enc") {
            None => false,
            Some(e) if e.eq_ignore_ascii_case("bin") => false,
            Some(e) if e.eq_ignore_ascii_case("b64") => true,
            Some(_) => return Response::error(400, "Enc must be bin or b64"),
        };
        let ca_der = self.state.ca().certificate().der().to_vec();
        let id = request.query("ReqID").unwrap_or_default();
        let mut certs = Vec::new();
        if id.eq_ignore_ascii_case("CACert") {
            if request.query("Renewal").is_some_and(|r| r.trim() != "0") {
                return Response::html(pages::no_certificate(
                    &ca,
                    id,
                    "There is no CA certificate of that renewal number.",
                ));
            }
        } else {
            let record = id
                .parse::<u32>()
                .map_err(|_| "The request ID is not a number.".to_string())
                .and_then(|n| self.state.record(n).map_err(|e| e.to_string()));
            let record = match record {
                Ok(r) => r,
                Err(message) => return Response::html(pages::no_certificate(&ca, id, &message)),
            };
            match record.issued() {
                Some(cert) => certs.push(cert.der().to_vec()),
                None => {
                    let message = match record.status {
                        RecordStatus::Pending => "Taken Under Submission".to_string(),
                        _ => record.message.clone(),
                    };
                    return Response::html(pages::no_certificate(&ca, id, &message));
                }
            }
        }
        if chain || certs.is_empty() {
            certs.push(ca_der);
        }
        let (der, label, content_type, name) = if chain {
            match certs_only(&certs) {
                Ok(der) => (
                    der,
                    "PKCS7",
                    "application/x-pkcs7-certificates",
                    "certnew.p7b",
                ),
                Err(e) => return Response::error(500, &e.to_string()),
            }
        } else {
            let der = certs.into_iter().next().unwrap_or_default();
            (der, "CERTIFICATE", "application/pkix-cert", "certnew.cer")
        };
        let body = if b64 {
            match pem_rfc7468::encode_string(label, LineEnding::CRLF, &der) {
                Ok(pem) => pem.into_bytes(),
                Err(e) => return Response::error(500, &e.to_string()),
            }
        } else {
            der
        };
        let mut response = Response::new(200, content_type, body);
        response.headers.push((
            "Content-Disposition",
            format!("attachment; filename={name}"),
        ));
        response
    }
}

/// A PKCS#7 certs-only message: a SignedData with certificates and no signer (RFC 5652
/// section 5.1; the `.p7b` of AD CS).
fn certs_only(certs: &[Vec<u8>]) -> Result<Vec<u8>, der::Error> {
    let choices = certs
        .iter()
        .map(|d| x509_cert::Certificate::from_der(d).map(CertificateChoices::Certificate))
        .collect::<Result<Vec<_>, _>>()?;
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(choices)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed)?,
    }
    .to_der()
}

/// A generator seeded from the system.
fn os_rng() -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    // Without system randomness nothing can be issued safely: a zero seed is never used.
    if getrandom::fill(&mut seed).is_err() {
        std::process::abort();
    }
    ChaCha20Rng::from_seed(seed)
}
