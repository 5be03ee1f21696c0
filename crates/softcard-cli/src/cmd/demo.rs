//! `softcard demo`: the seed's enrollment end to end, with nothing installed: a new card
//! image, the Smartcard User request (CMC, SHA-1, RSA-2048, Exchange, automatic container,
//! friendly name "Smartcard Certificate", PIN 12345678), a certificate from a built-in
//! test CA, its installation, and a logon-style challenge signed by the card.

use std::path::PathBuf;
use std::time::Instant;

use softcard::{Card, CardOptions, Profile};
use softcard_enroll::testca::{TestCa, verify_signature};
use softcard_enroll::{
    CardClient, ContainerName, HashAlg, KeyAlgorithm, KeyRequest, KeySpec, RequestFormat,
    RequestOptions, SignatureAlgorithm,
};

use super::enroll::{fail, write_out};
use crate::common::{BackendArg, CliError};

/// What `softcard demo --help` says after the options.
pub const HELP: &str = "\
The first of the two commands (the other, scripts/test, runs every test in a checkout); \
it needs nothing installed: a card in a temporary folder, a Windows-style enrollment \
(PIN 12345678, new RSA-2048 key, CMC request), a built-in test CA issuing the \
certificate, then a challenge signed by the card and verified against it.";

/// Arguments of `softcard demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card: `windows-vsc` (GIDS, as the seed) or `piv`.
    #[arg(long, default_value = "windows-vsc")]
    pub profile: Profile,
    /// Keep the card image, request and certificates in this folder (created if needed).
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
    let mut rng = softcard_file::os_rng().map_err(CliError::new)?;
    outln!(
        "softcard demo: profile {}, backend {}, folder {}",
        args.profile,
        args.backend.kind().name(),
        dir.display()
    );
    let total = Instant::now();
    let mut client = step(1, "create the card image (PIN 12345678)", || {
        let storage = Box::new(softcard_file::FileStorage::new(&image));
        let rng = softcard_file::os_rng().map_err(CliError::new)?;
        let mut opts = CardOptions::new(args.profile);
        opts.backend = args.backend.kind();
        let card = Card::create(&opts, Box::new(rng), storage)
            .map_err(|e| CliError::new(e.to_string()))?;
        CardClient::connect(card).map_err(fail)
    })?;
    step(2, "verify the PIN", || {
        client.verify_pin(b"12345678").map_err(fail)
    })?;
    let options = RequestOptions::smartcard_user(format!("CN={user}"));
    let key = KeyRequest {
        container: ContainerName::Automatic,
        algorithm: KeyAlgorithm::Rsa2048,
        key_spec: KeySpec::Exchange,
    };
    let (container, request) = step(
        3,
        "create an RSA-2048 Exchange key in an automatic container, CMC request (SHA-1) signed by the card",
        || {
            client
                .enroll(&key, RequestFormat::Cmc, &options, &mut rng)
                .map_err(fail)
        },
    )?;
    outln!("    container: {}", container.name);
    let ca = step(4, "create the test CA", || {
        TestCa::new(&mut rng).map_err(fail)
    })?;
    let cert = step(
        5,
        "verify the request and issue the certificate (template SmartcardUser)",
        || ca.issue(&request.der, &mut rng).map_err(fail),
    )?;
    step(6, "install the certificate on the card", || {
        client
            .install_certificate(&container, cert.der())
            .map_err(fail)
    })?;
    step(7, "read the certificate back", || {
        match client.read_certificate(&container).map_err(fail)? {
            Some(back) if back == cert => Ok(()),
            _ => Err(CliError::new("the certificate read back differs")),
        }
    })?;
    step(
        8,
        "sign a logon challenge on the card and verify it with the certificate",
        || {
            let mut nonce = [0u8; 32];
            rand_fill(&mut rng, &mut nonce);
            let signature = client
                .sign(&container, &nonce, HashAlg::Sha256)
                .map_err(fail)?;
            let key = cert
                .public_key()
                .ok_or_else(|| CliError::new("certificate key"))?;
            let alg = SignatureAlgorithm::for_key(key, HashAlg::Sha256).map_err(fail)?;
            verify_signature(key, alg, &nonce, &signature).map_err(fail)
        },
    )?;
    if args.keep.is_some() {
        write_out(&dir.join("request.pem"), request.to_pem().as_bytes())?;
        write_out(&dir.join("ca.pem"), ca.certificate().to_pem().as_bytes())?;
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
