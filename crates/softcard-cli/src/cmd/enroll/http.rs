//! The HTTP(S) side of `softcard enroll --ca`: a certsrv endpoint reached with `ureq` on
//! rustls (aws-lc-rs provider), basic authentication, and the pages read by
//! `softcard_enroll::certsrv`.
//!
//! The password is read from a file or the environment, kept in a zeroized secret, and
//! never printed: messages name the file or variable, never its content. Redirects are not
//! followed (the credentials would go with them), and basic authentication is sent in
//! clear only to a loopback address.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use softcard_enroll::certsrv::{self, Disposition, RetrievalFailure};
use softcard_enroll::{Request, parse_certificates};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::common::CliError;

/// The variable naming the password file when `--password-file` is not given.
pub const PASSWORD_FILE_VAR: &str = "SOFTCARD_CA_PASSWORD_FILE";
/// The variable holding the password when neither `--password-file` nor
/// [`PASSWORD_FILE_VAR`] is given.
pub const PASSWORD_VAR: &str = "SOFTCARD_CA_PASSWORD";
/// Where Debian keeps the system's trust anchors (`SSL_CERT_FILE` overrides it).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The most a page or certificate may weigh.
const BODY_LIMIT: u64 = 1 << 20;
/// How long one exchange with the CA may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The longest password file read.
const PASSWORD_LIMIT: u64 = 1024;

/// How to reach a CA: its URL, credentials and trust anchor, from the command line.
#[derive(Debug, Clone, Default)]
pub struct CaOptions {
    /// The CA's URL (`https://host/certsrv`).
    pub url: String,
    /// The user name for basic authentication.
    pub user: Option<String>,
    /// The password file.
    pub password_file: Option<PathBuf>,
    /// The PEM file of the certificate(s) to trust for HTTPS.
    pub ca_cert: Option<PathBuf>,
}

/// A connection to one certsrv endpoint.
pub struct CaClient {
    agent: ureq::Agent,
    base: String,
    /// `Basic base64(user:password)`, zeroized on drop.
    authorization: Option<softcard::Secret>,
}

impl std::fmt::Debug for CaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What `certnew.cer` gave for a request.
pub enum Retrieved {
    /// The certificate, DER.
    Certificate(Vec<u8>),
    /// Still pending.
    Pending,
}

impl CaClient {
    /// Checks the options and reads the password and trust anchor; no network yet.
    ///
    /// # Errors
    /// A bad URL, an unreadable password or trust anchor file, a password without a user or
    /// a user without a password, a trust anchor for plain HTTP, credentials for plain
    /// HTTP to another host than this one.
    pub fn new(options: &CaOptions) -> Result<CaClient, CliError> {
        let base = certsrv::base_url(&options.url).map_err(|e| CliError::usage(e.to_string()))?;
        let https = base
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let host = host_of(&base);
        let authorization = match &options.user {
            Some(user) => {
                if !https && !is_loopback(host) {
                    return Err(CliError::usage(format!(
                        "{}: a password goes in clear over http://; use https:// (plain HTTP \
                         with credentials only to this machine's loopback address)",
                        options.url
                    )));
                }
                Some(basic_authorization(user, &password(options)?)?)
            }
            None => None,
        };
        let roots = match (&options.ca_cert, https) {
            (Some(file), true) => read_roots(file)?,
            (Some(_), false) => {
                return Err(CliError::usage(
                    "--ca-cert is the trust anchor of an https:// CA; this URL is http://",
                ));
            }
            (None, true) => {
                let file = std::env::var_os("SSL_CERT_FILE")
                    .map_or_else(|| PathBuf::from(SYSTEM_ROOTS), PathBuf::from);
                read_roots(&file).map_err(|e| {
                    CliError::usage(format!("{e} (or give the CA's certificate with --ca-cert)"))
                })?
            }
            (None, false) => Vec::new(),
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        let mut config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("softcard/", env!("CARGO_PKG_VERSION")));
        if is_loopback(host) {
            config = config.proxy(None);
        }
        Ok(CaClient {
            agent: config.build().into(),
            base,
            authorization,
        })
    }

    /// The certsrv folder's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Loads the welcome page (`certsrv/`), as a browser does first: the CA is reachable,
    /// its TLS certificate is trusted, the credentials are taken, and the page is Web
    /// Enrollment's. Done before the card is touched, so that these failures leave
    /// nothing behind.
    ///
    /// # Errors
    /// As [`CaClient::get`]; a page that is not the welcome page.
    pub fn check(&self) -> Result<(), CliError> {
        let url = format!("{}/", self.base);
        let (_, page) = self.get(&url)?;
        certsrv::check_welcome(&String::from_utf8_lossy(&page))
            .map_err(|e| CliError::new(format!("{url}: {e}")))
    }

    /// The page `name` under the certsrv folder (`certrqus.asp`...), as text.
    ///
    /// # Errors
    /// As [`CaClient::get`].
    pub fn page(&self, name: &str) -> Result<String, CliError> {
        let (_, page) = self.get(&format!("{}/{name}", self.base))?;
        Ok(String::from_utf8_lossy(&page).into_owned())
    }

    /// Submits `request` for `template` (`certfnsh.asp`, `Mode=newreq`).
    ///
    /// # Errors
    /// Network, TLS, HTTP status; a page that is no Web Enrollment answer.
    pub fn submit(&self, request: &Request, template: &str) -> Result<Disposition, CliError> {
        let form = certsrv::submit_form(request, template, &[])
            .map_err(|e| CliError::usage(e.to_string()))?;
        let url = format!("{}/{}", self.base, certsrv::SUBMIT_PAGE);
        let mut post = self.agent.post(&url);
        if let Some(auth) = &self.authorization {
            post = post.header("Authorization", auth.expose());
        }
        let answer = post
            .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
            .map_err(|e| self.network(&url, &e))?;
        let (_, body) = self.read(&url, answer)?;
        certsrv::parse_answer(&String::from_utf8_lossy(&body))
            .map_err(|e| CliError::new(format!("{url}: {e}")))
    }

    /// The certificate of request `id` (`certnew.cer?ReqID=N&Enc=bin`).
    ///
    /// # Errors
    /// Network, TLS, HTTP status; the CA's disposition message for a request denied or
    /// unknown; a body that is no certificate.
    pub fn certificate(&self, id: u32) -> Result<Retrieved, CliError> {
        let url = certsrv::certificate_url(&self.base, id, true);
        let (content_type, body) = self.get(&url)?;
        if content_type.eq_ignore_ascii_case(certsrv::CERTIFICATE_CONTENT_TYPE) {
            parse_certificates(&body)
                .map_err(|e| CliError::new(format!("{url}: the certificate: {e}")))?;
            return Ok(Retrieved::Certificate(body));
        }
        match certsrv::parse_retrieval_failure(&String::from_utf8_lossy(&body))
            .map_err(|e| CliError::new(format!("{url}: {e}")))?
        {
            RetrievalFailure::Pending => Ok(Retrieved::Pending),
            RetrievalFailure::Refused(message) => Err(CliError::new(format!(
                "the CA gives no certificate for request {id}: \"{message}\""
            ))),
        }
    }

    /// GET with the credentials; returns the content type and body of a 200 answer.
    fn get(&self, url: &str) -> Result<(String, Vec<u8>), CliError> {
        let mut get = self.agent.get(url);
        if let Some(auth) = &self.authorization {
            get = get.header("Authorization", auth.expose());
        }
        let answer = get.call().map_err(|e| self.network(url, &e))?;
        self.read(url, answer)
    }

    /// The content type and body of a 200 answer; other statuses named.
    fn read(
        &self,
        url: &str,
        mut answer: ureq::http::Response<ureq::Body>,
    ) -> Result<(String, Vec<u8>), CliError> {
        let status = answer.status().as_u16();
        match status {
            200 => {}
            401 if self.authorization.is_some() => {
                return Err(CliError::new(format!(
                    "{url}: the CA refused the user name or password (HTTP 401)"
                )));
            }
            401 => {
                return Err(CliError::new(format!(
                    "{url}: the CA asks for a user name and password (HTTP 401): give --user \
                     and --password-file"
                )));
            }
            300..=399 => {
                let to = answer
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("nowhere");
                return Err(CliError::new(format!(
                    "{url}: the CA redirects to {to} (HTTP {status}); give that URL with --ca"
                )));
            }
            _ => {
                return Err(CliError::new(format!(
                    "{url}: the CA answered HTTP {status} {}",
                    answer.status().canonical_reason().unwrap_or_default()
                )));
            }
        }
        let content_type = answer.body().mime_type().unwrap_or_default().to_owned();
        let body = answer
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| self.network(url, &e))?;
        Ok((content_type, body))
    }

    /// A network or TLS failure, named.
    fn network(&self, url: &str, e: &ureq::Error) -> CliError {
        let why = match e {
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                "cannot connect: the connection was refused (is the CA running, on this port?)"
                    .to_owned()
            }
            ureq::Error::Rustls(tls) => format!("TLS failure: {tls}"),
            ureq::Error::Io(io)
                if io
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some() =>
            {
                format!(
                    "TLS failure: {} (is --ca-cert the certificate of the CA that issued the \
                     server's?)",
                    io.get_ref().map(ToString::to_string).unwrap_or_default()
                )
            }
            ureq::Error::HostNotFound => "the host is not found".to_owned(),
            ureq::Error::Timeout(_) => format!("no answer within {} s", TIMEOUT.as_secs()),
            ureq::Error::BodyExceedsLimit(_) => {
                format!("the answer is larger than {} bytes", BODY_LIMIT)
            }
            other => other.to_string(),
        };
        CliError::new(format!("{url}: {why}"))
    }
}

/// The host part (with port) of a URL `base_url` returned.
fn host_of(base: &str) -> &str {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    rest.split('/').next().unwrap_or_default()
}

/// Whether `host` (`name[:port]`, `[v6]:port`) is this machine's loopback.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The password: `--password-file`, else the file named by [`PASSWORD_FILE_VAR`], else
/// the value of [`PASSWORD_VAR`].
fn password(options: &CaOptions) -> Result<softcard::Secret, CliError> {
    if let Some(file) = &options.password_file {
        return read_password(file);
    }
    if let Some(file) = std::env::var_os(PASSWORD_FILE_VAR) {
        return read_password(Path::new(&file))
            .map_err(|e| CliError::usage(format!("{PASSWORD_FILE_VAR}: {e}")));
    }
    match std::env::var_os(PASSWORD_VAR) {
        Some(value) => {
            use std::os::unix::ffi::OsStringExt;
            Ok(softcard::Secret::new(value.into_vec()))
        }
        None => Err(CliError::usage(format!(
            "--user needs a password: --password-file FILE, or {PASSWORD_FILE_VAR} or \
             {PASSWORD_VAR} in the environment"
        ))),
    }
}

/// A password file's content without one final line end; the message names the file only.
fn read_password(file: &Path) -> Result<softcard::Secret, CliError> {
    use std::io::Read;
    let name = file.display();
    let fail =
        |e: std::io::Error| CliError::usage(format!("cannot read the password file {name}: {e}"));
    if !std::fs::metadata(file).map_err(fail)?.is_file() {
        return Err(CliError::usage(format!(
            "the password file {name} is not a regular file"
        )));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::fs::File::open(file)
        .and_then(|f| f.take(PASSWORD_LIMIT + 1).read_to_end(&mut bytes))
        .map_err(fail)?;
    if bytes.len() as u64 > PASSWORD_LIMIT {
        return Err(CliError::usage(format!(
            "the password file {name} is longer than {PASSWORD_LIMIT} bytes"
        )));
    }
    let mut len = bytes.len();
    if bytes.ends_with(b"\r\n") {
        len -= 2;
    } else if bytes.ends_with(b"\n") {
        len -= 1;
    }
    Ok(softcard::Secret::from_slice(
        bytes.get(..len).unwrap_or_default(),
    ))
}

/// `Basic base64(user:password)` (RFC 7617).
fn basic_authorization(
    user: &str,
    password: &softcard::Secret,
) -> Result<softcard::Secret, CliError> {
    use base64ct::Encoding as _;
    if user.contains(':') || user.chars().any(char::is_control) {
        return Err(CliError::usage(format!(
            "--user {user:?}: a user name has no ':' nor control characters (basic \
             authentication, RFC 7617)"
        )));
    }
    let mut pair = zeroize::Zeroizing::new(Vec::with_capacity(user.len() + 1 + 64));
    pair.extend_from_slice(user.as_bytes());
    pair.push(b':');
    pair.extend_from_slice(password.expose());
    let encoded = zeroize::Zeroizing::new(base64ct::Base64::encode_string(&pair));
    Ok(softcard::Secret::from_slice(
        format!("Basic {}", encoded.as_str()).as_bytes(),
    ))
}

/// The certificates of a PEM file, as trust anchors.
fn read_roots(file: &Path) -> Result<Vec<Certificate<'static>>, CliError> {
    let name = file.display();
    let pem = std::fs::read(file)
        .map_err(|e| CliError::usage(format!("cannot read the CA certificate file {name}: {e}")))?;
    let roots: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::usage(format!("{name}: not PEM certificates: {e}")))?;
    if roots.is_empty() {
        return Err(CliError::usage(format!(
            "{name}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"
        )));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:443",
            "127.3.4.5",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1:80",
            "example.com",
            "[2001:db8::1]:443",
            "ca.localhost.example",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        assert_eq!(host_of("https://h:1/certsrv"), "h:1");
    }

    #[test]
    fn basic_authorization_is_rfc7617_and_refuses_a_colon_in_the_user() {
        let auth =
            basic_authorization("Aladdin", &softcard::Secret::from_slice(b"open sesame")).unwrap();
        assert_eq!(auth.expose(), b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        let err = basic_authorization("a:b", &softcard::Secret::from_slice(b"pw")).unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn passwords_come_from_a_file_without_its_line_end_and_are_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, b"s3cret-value\r\n").unwrap();
        assert_eq!(read_password(&file).unwrap().expose(), b"s3cret-value");
        std::fs::write(&file, vec![b'x'; 2000]).unwrap();
        let err = read_password(&file).unwrap_err().to_string();
        assert!(err.contains("longer") && !err.contains("xxx"), "{err}");
        let err = read_password(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn credentials_in_clear_only_to_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, b"pw\n").unwrap();
        let options = |url: &str| CaOptions {
            url: url.into(),
            user: Some("jane".into()),
            password_file: Some(file.clone()),
            ca_cert: None,
        };
        let err = CaClient::new(&options("http://ca.example/certsrv")).unwrap_err();
        assert!(err.to_string().contains("in clear"), "{err}");
        assert!(CaClient::new(&options("http://127.0.0.1:9/certsrv")).is_ok());
        let mut with_anchor = options("http://127.0.0.1:9");
        with_anchor.ca_cert = Some(file.clone());
        assert!(
            CaClient::new(&with_anchor)
                .unwrap_err()
                .to_string()
                .contains("--ca-cert")
        );
        let mut not_pem = options("https://127.0.0.1:9");
        not_pem.ca_cert = Some(file.clone());
        assert!(
            CaClient::new(&not_pem)
                .unwrap_err()
                .to_string()
                .contains("no PEM certificate")
        );
    }
}
