//! `softcard demo`: the seed's enrollment end to end, with nothing installed, through the
//! same HTTP path as a browser: a new card image, a test CA (`softcard ca`, in this
//! process, HTTPS with basic authentication on a loopback port), the Web Enrollment pages
//! visited in the seed's order, the Smartcard User request (CMC, SHA-1, RSA-2048, Exchange,
//! automatic container, friendly name "Smartcard Certificate", PIN 12345678) signed by the
//! card and submitted to certfnsh.asp, the certificate fetched from certnew.cer and
//! installed, and a logon-style challenge signed by the card. Each line is one of the
//! seed's numbered steps.

use std::path::PathBuf;
use std::time::Instant;

use softcard::{Card, CardOptions, Profile};
use softcard_enroll::certsrv::Disposition;
use softcard_enroll::testca::verify_signature;
use softcard_enroll::{
    CardClient, ContainerName, HashAlg, KeyAlgorithm, KeyRequest, KeySpec, Request, RequestFormat,
    RequestOptions, SignatureAlgorithm,
};

use super::enroll::http::{CaClient, CaOptions, Retrieved};
use super::enroll::{fail, write_out};
use crate::common::{BackendArg, CliError};

/// What `softcard demo --help` says after the options.
pub const HELP: &str = "\
The first of the two commands (the other, scripts/test, runs every test in a checkout); \
it needs nothing installed: a card in a temporary folder, a test CA serving the AD CS Web \
Enrollment pages on a loopback port (HTTPS, basic authentication), and the seed's steps \
through them: PIN 12345678, new RSA-2048 key, CMC request submitted to certfnsh.asp, the \
certificate fetched from certnew.cer and installed on the card, then a challenge signed \
by the card and verified against it.";

/// Arguments of `softcard demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card: `windows-vsc` (GIDS, as the seed) or `piv`.
    #[arg(long, default_value = "windows-vsc")]
    pub profile: Profile,
    /// Keep the card image, the CA's folder, the request and certificates in this folder
    /// (created if needed).
    #[arg(long)]
    pub keep: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
}

/// Prints a step with its duration.
fn step<T>(n: u32, what: &str, f: impl FnOnce() -> Result<T, CliError>) -> Result<T, CliError> {
    let start = Instant::now();
    let value = f().map_err(|e| CliError::new(format!("step {n} ({what}): {e}")))?;
    outln!("[{n}] {what} ... ok ({} ms)", start.elapsed().as_millis());
    Ok(value)
}

/// Fails unless `page` holds `want`.
fn expect(page: &str, want: &str, name: &str) -> Result<(), CliError> {
    if page.contains(want) {
        Ok(())
    } else {
        Err(CliError::new(format!("{name} does not offer {want:?}")))
    }
}

/// The test CA in this process: its folder made, its pages served on a loopback port by a
/// thread that ends with the process.
fn start_ca(dir: &std::path::Path, user: &str) -> Result<CaOptions, CliError> {
    let state_dir = dir.join("ca");
    let mut rng = softcard_file::os_rng().map_err(CliError::new)?;
    let mut secret = [0u8; 16];
    rand_fill(&mut rng, &mut secret);
    let password: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let password_file = dir.join("ca-password");
    write_out(&password_file, password.as_bytes())?;
    let state = softcard_ca::State::open_or_create(
        &state_dir,
        "CN=softcard demo CA,O=softcard",
        softcard_ca::Template::builtin(),
        &mut rng,
    )
    .map_err(|e| CliError::new(e.to_string()))?;
    let server = softcard_ca::Server::bind(
        state,
        softcard_ca::ServerOptions {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            https: true,
            credentials: Some(softcard_ca::Credentials::new(
                user,
                zeroize::Zeroizing::new(password),
            )),
            log: false,
        },
    )
    .map_err(CliError::new)?;
    let url = server.url();
    std::thread::spawn(move || server.run());
    Ok(CaOptions {
        url,
        user: Some(user.to_owned()),
        password_file: Some(password_file),
        ca_cert: Some(state_dir.join("ca.crt")),
    })
}

/// Runs the flow.
///
/// # Errors
/// The step that failed, named.
pub fn run(args: Args) -> Result<(), CliError> {
    let scratch;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
            dir.clone()
        }
        None => {
            scratch = Scratch::new()?;
            scratch.0.clone()
        }
    };
    let image = dir.join("card.img");
    let user = std::env::var("USER").unwrap_or_else(|_| "softcard user".into());
    let login = user.replace(':', "_");
    let mut rng = softcard_file::os_rng().map_err(CliError::new)?;
    outln!(
        "softcard demo: profile {}, backend {}, folder {}",
        args.profile,
        args.backend.kind().name(),
        dir.display()
    );
    let total = Instant::now();
    let card = step(1, "log in: a new virtual smart card (PIN 12345678)", || {
        let storage = Box::new(softcard_file::FileStorage::new(&image));
        let rng = softcard_file::os_rng().map_err(CliError::new)?;
        let mut opts = CardOptions::new(args.profile);
        opts.backend = args.backend.kind();
        Card::create(&opts, Box::new(rng), storage).map_err(|e| CliError::new(e.to_string()))
    })?;
    let ca = step(
        2,
        "launch the browser; the test CA serves Web Enrollment on a loopback port (HTTPS, basic authentication)",
        || CaClient::new(&start_ca(&dir, &login)?),
    )?;
    outln!("    {}", ca.base());
    step(
        3,
        "browse to the Certificate Authority Web Enrollment page (/certsrv/)",
        || ca.check(),
    )?;
    step(
        4,
        "on the Welcome page, select Request a certificate",
        || expect(&ca.page("certrqus.asp")?, "certrqad.asp", "certrqus.asp"),
    )?;
    step(5, "select Advanced Request", || {
        expect(&ca.page("certrqad.asp")?, "certrqxt.asp", "certrqad.asp")
    })?;
    step(6, "select Create and submit a request to this CA", || {
        expect(
            &ca.page("certrqxt.asp")?,
            "CertificateTemplate:SmartcardUser",
            "certrqxt.asp",
        )
    })?;
    let options = RequestOptions::smartcard_user(format!("CN={user}"));
    let key = KeyRequest {
        container: ContainerName::Automatic,
        algorithm: KeyAlgorithm::Rsa2048,
        key_spec: KeySpec::Exchange,
    };
    step(
        7,
        "Smartcard User; new key set, Microsoft Base Smart Card Crypto Provider, Exchange, 2048, automatic container; CMC, sha1, friendly name \"Smartcard Certificate\"",
        || options.check().map_err(fail),
    )?;
    let mut client = step(8, "insert the smart card", || {
        CardClient::connect(card).map_err(fail)
    })?;
    step(9, "click Submit", || {
        client.check_key_request(&key).map_err(fail)
    })?;
    let (container, request, request_id) = step(
        10,
        "enter the PIN 12345678; the card makes the key and signs the request, posted to certfnsh.asp",
        || {
            client.verify_pin(b"12345678").map_err(fail)?;
            let container = client.create_key(&key, &mut rng).map_err(fail)?;
            let request =
                Request::build(RequestFormat::Cmc, &options, &mut client.signer(&container))
                    .map_err(fail)?;
            match ca.submit(&request, "SmartcardUser")? {
                Disposition::Issued { request_id } => Ok((container, request, request_id)),
                other => Err(CliError::new(format!("the CA answered {other:?}"))),
            }
        },
    )?;
    outln!(
        "    container {}, request {request_id} issued",
        container.name
    );
    let cert = step(
        11,
        "Install this certificate (certnew.cer?ReqID=N&Enc=bin, written to the card)",
        || {
            let Retrieved::Certificate(der) = ca.certificate(request_id)? else {
                return Err(CliError::new("the certificate is pending"));
            };
            client.install_certificate(&container, &der).map_err(fail)
        },
    )?;
    let start = Instant::now();
    match client.read_certificate(&container).map_err(fail)? {
        Some(back) if back == cert => {}
        _ => return Err(CliError::new("check: the certificate read back differs")),
    }
    let mut nonce = [0u8; 32];
    rand_fill(&mut rng, &mut nonce);
    let signature = client
        .sign(&container, &nonce, HashAlg::Sha256)
        .map_err(fail)?;
    let public = cert
        .public_key()
        .ok_or_else(|| CliError::new("check: the certificate's key"))?;
    let alg = SignatureAlgorithm::for_key(public, HashAlg::Sha256).map_err(fail)?;
    verify_signature(public, alg, &nonce, &signature)
        .map_err(|e| CliError::new(format!("check: the logon challenge: {e}")))?;
    outln!(
        "[check] read the certificate back and sign a logon challenge on the card, verified with the certificate ... ok ({} ms)",
        start.elapsed().as_millis()
    );
    if args.keep.is_some() {
        // The CA's certificate is in its folder, ca/ca.crt.
        write_out(&dir.join("request.pem"), request.to_pem().as_bytes())?;
        write_out(&dir.join("cert.pem"), cert.to_pem().as_bytes())?;
    }
    outln!(
        "done in {} ms; friendly name {:?} (Windows keeps it in its certificate store, not on the card)",
        total.elapsed().as_millis(),
        request.friendly_name.as_deref().unwrap_or_default()
    );
    Ok(())
}

fn rand_fill(rng: &mut dyn softcard::crypto::CardRng, out: &mut [u8]) {
    rng.fill_bytes(out);
}

/// A temporary folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, CliError> {
        let mut nonce = [0u8; 8];
        rand_fill(
            &mut softcard_file::os_rng().map_err(CliError::new)?,
            &mut nonce,
        );
        let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("softcard-demo-{name}"));
        std::fs::create_dir(&dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
