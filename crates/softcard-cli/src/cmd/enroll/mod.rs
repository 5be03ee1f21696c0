//! `softcard enroll`: the seed's enrollment on a card image: a key created in a container
//! and a PKCS#10 or CMC request signed by the card, written to a file, or (`--ca`)
//! submitted to a CA's Web Enrollment pages and the certificate installed on the card.

mod ca;
pub mod http;

use std::path::{Path, PathBuf};

use crate::card::CliCard;
use softcard_enroll::{
    CardClient, ContainerName, EnrollError, HashAlg, KeyAlgorithm, KeyRequest, KeySpec, Request,
    RequestFormat, RequestOptions,
};

use super::progress::Dots;
use crate::common::{CliError, HexKey, HexKeyParser, OpenArgs, PinArg, parse_pin, print_json};

/// Key algorithms offered.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeyChoice {
    /// RSA-2048 (the seed's choice).
    Rsa2048,
    /// RSA-3072.
    Rsa3072,
    /// RSA-4096.
    Rsa4096,
    /// NIST P-256 (PIV only).
    P256,
    /// NIST P-384 (PIV only).
    P384,
}

impl KeyChoice {
    fn algorithm(self) -> KeyAlgorithm {
        match self {
            KeyChoice::Rsa2048 => KeyAlgorithm::Rsa2048,
            KeyChoice::Rsa3072 => KeyAlgorithm::Rsa3072,
            KeyChoice::Rsa4096 => KeyAlgorithm::Rsa4096,
            KeyChoice::P256 => KeyAlgorithm::P256,
            KeyChoice::P384 => KeyAlgorithm::P384,
        }
    }
}

/// Key specifications.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeySpecChoice {
    /// AT_KEYEXCHANGE (PIV slot 9D).
    Exchange,
    /// AT_SIGNATURE (PIV slot 9A).
    Signature,
}

/// Request formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FormatChoice {
    /// PKCS#10 (PEM label CERTIFICATE REQUEST).
    Pkcs10,
    /// CMC full PKI request (PEM label CMS).
    Cmc,
}

/// Hash algorithms.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum HashChoice {
    /// SHA-1 (the seed's choice).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashChoice {
    /// The hash.
    pub fn hash(self) -> HashAlg {
        match self {
            HashChoice::Sha1 => HashAlg::Sha1,
            HashChoice::Sha256 => HashAlg::Sha256,
            HashChoice::Sha384 => HashAlg::Sha384,
        }
    }
}

/// Arguments of `softcard enroll`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card image file.
    pub image: PathBuf,
    /// The user PIN.
    #[arg(long, value_parser = parse_pin, default_value = "12345678")]
    pub pin: PinArg,
    /// The container: `auto` for an automatic name (a GUID on GIDS, slot 9D/9A on PIV),
    /// or a name (a slot such as 9C on PIV).
    #[arg(long, default_value = "auto")]
    pub container: String,
    /// The key to create.
    #[arg(long, value_enum, default_value = "rsa2048")]
    pub key: KeyChoice,
    /// The key specification.
    #[arg(long, value_enum, default_value = "exchange")]
    pub keyspec: KeySpecChoice,
    /// The request format (`--request` as the Web Enrollment page calls it).
    #[arg(long, visible_alias = "request", value_enum, default_value = "cmc")]
    pub format: FormatChoice,
    /// The hash of the request's signatures.
    #[arg(long, value_enum, default_value = "sha1")]
    pub hash: HashChoice,
    /// The subject, e.g. "CN=Jane Doe,O=Example".
    #[arg(long, default_value = "CN=softcard user")]
    pub subject: String,
    /// A user principal name for the subjectAltName (smart card logon).
    #[arg(long)]
    pub upn: Option<String>,
    /// The friendly name for the issued certificate: printed (and in `--json`) for the
    /// caller's certificate store; Windows does not send it to the CA and softcard writes
    /// it nowhere.
    #[arg(long, default_value = "Smartcard Certificate")]
    pub friendly_name: String,
    /// Where to write the request (with `--ca`, a copy of what is submitted).
    #[arg(long, required_unless_present = "ca")]
    pub out: Option<PathBuf>,
    /// Write the request in DER instead of PEM.
    #[arg(long, requires = "out")]
    pub der: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// PIV management key in hex, to create the key (the default key when not given).
    #[arg(long, value_name = "HEX", value_parser = HexKeyParser)]
    pub management_key: Option<HexKey>,
    /// The certificate template: in the request (template extension and name-value pair)
    /// and, with `--ca`, the form's `CertificateTemplate` attribute.
    #[arg(long, default_value = "SmartcardUser")]
    pub template: String,
    /// The CA's Web Enrollment URL (`https://host/certsrv`): submit the request there
    /// (certfnsh.asp), fetch the issued certificate (certnew.cer) and install it on the card.
    #[arg(long, value_name = "URL")]
    pub ca: Option<String>,
    /// The user name for the CA's basic authentication; the password comes from
    /// `--password-file`, else the file named by SOFTCARD_CA_PASSWORD_FILE, else
    /// SOFTCARD_CA_PASSWORD.
    #[arg(long, requires = "ca")]
    pub user: Option<String>,
    /// The file holding the password of `--user` (one final line end is dropped).
    #[arg(long, value_name = "FILE", requires = "user")]
    pub password_file: Option<PathBuf>,
    /// The PEM certificate(s) to trust for the CA's HTTPS (default: the system's,
    /// SSL_CERT_FILE or /etc/ssl/certs/ca-certificates.crt).
    #[arg(long, value_name = "PEM", requires = "ca")]
    pub ca_cert: Option<PathBuf>,
    /// Fetch the certificate of a request the CA left pending, and install it on the card
    /// in the container holding its key (no new key, no new request).
    #[arg(
        long,
        value_name = "ID",
        requires = "ca",
        conflicts_with_all = ["container", "key", "keyspec", "format", "hash", "subject", "upn", "out", "der", "template", "on_behalf_of"]
    )]
    pub retrieve: Option<u32>,
    /// Enroll on behalf of this user (`DOMAIN\user` or a UPN) as an enrollment agent: a
    /// CMC request signed by the agent's key on `--agent-image`, carrying its Certificate
    /// Request Agent certificate; the new key and certificate go on IMAGE.
    #[arg(long, value_name = "USER", requires_all = ["ca", "agent_image"])]
    pub on_behalf_of: Option<String>,
    /// The enrollment agent's card image.
    #[arg(long, value_name = "IMAGE", requires = "on_behalf_of")]
    pub agent_image: Option<PathBuf>,
    /// The agent's container (a GIDS name or a PIV slot); default: the one whose
    /// certificate has the Certificate Request Agent usage.
    #[arg(long, value_name = "NAME", requires = "on_behalf_of")]
    pub agent_container: Option<String>,
    /// The PIN of the agent's card.
    #[arg(long, value_parser = parse_pin, default_value = "12345678", requires = "on_behalf_of")]
    pub agent_pin: PinArg,
    #[command(flatten)]
    pub open: OpenArgs,
}

/// An enrollment failure as the command line reports it, with the card's status word.
pub fn fail(e: EnrollError) -> CliError {
    let sw = status_word(&e);
    CliError::new(e.to_string()).with_status(sw)
}

/// The status word (SW1 SW2) the card answered, for the failures that come from one.
pub fn status_word(e: &EnrollError) -> Option<u16> {
    match e {
        EnrollError::Card { sw, .. }
        | EnrollError::NewPinRefused { sw, .. }
        | EnrollError::AdminAuthentication { sw, .. } => Some(*sw),
        EnrollError::WrongPin { tries_left, .. } => Some(0x63C0 | u16::from(*tries_left & 0x0F)),
        EnrollError::PinBlocked { .. } => Some(0x6983),
        _ => None,
    }
}

/// Opens the image and selects its card application.
///
/// # Errors
/// The image cannot be opened, or holds no GIDS or PIV application.
pub fn connect(image: &Path, open: &OpenArgs) -> Result<CardClient<CliCard>, CliError> {
    CardClient::connect(crate::card::open(image, open)?).map_err(fail)
}

/// Fails when the folder of `out` does not exist, before anything is done.
///
/// # Errors
/// A message naming the folder.
pub fn check_out_dir(out: &Path) -> Result<(), CliError> {
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(CliError::new(format!(
            "cannot write {}: the folder {} does not exist",
            out.display(),
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `out`, naming the file on failure.
///
/// # Errors
/// The file cannot be written.
pub fn write_out(out: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(out, bytes)
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", out.display())))
}

/// An output file opened before the card is touched, so that a path that cannot be written
/// (a directory, a missing folder, no permission) fails first. It is not truncated until
/// [`OutFile::write`]; a file this created is removed if nothing was written.
pub struct OutFile {
    path: PathBuf,
    file: Option<std::fs::File>,
    created: bool,
}

impl OutFile {
    /// Opens (or creates) `path` for writing.
    ///
    /// # Errors
    /// A message naming the path and the problem.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        check_out_dir(path)?;
        if path.is_dir() {
            return Err(CliError::new(format!(
                "cannot write {}: it is a directory",
                path.display()
            )));
        }
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
        Ok(OutFile {
            path: path.to_owned(),
            file: Some(file),
            created: !existed,
        })
    }

    /// Replaces the file's contents with `bytes`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(mut self, bytes: &[u8]) -> Result<(), CliError> {
        use std::io::Write;
        let fail =
            |e: std::io::Error| CliError::new(format!("cannot write {}: {e}", self.path.display()));
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        // A regular file is emptied first; a device or pipe (/dev/stdout) is written as is.
        if file.metadata().map_err(fail)?.is_file() {
            file.set_len(0).map_err(fail)?;
        }
        file.write_all(bytes).map_err(fail)?;
        file.flush().map_err(fail)
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if self.file.take().is_some() && self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Enrolls and writes the request.
///
/// Everything that can be checked without the card is checked before the card image is
/// opened (the subject, UPN and other options; the output path, opened for writing), and
/// the key request (container name, algorithm) before the key is created, so that a
/// refused enrollment leaves the image as it was.
///
/// # Errors
/// Bad options or output path, image, wrong PIN (with the tries left), card errors.
pub fn run(args: Args) -> Result<(), CliError> {
    if args.ca.is_some() {
        return ca::run(&args);
    }
    let key = key_request(&args);
    let options = request_options(&args, key.key_spec)?;
    let format = request_format(&args);
    let out_path = args
        .out
        .clone()
        .ok_or_else(|| CliError::usage("--out FILE is needed without --ca"))?;
    let out = OutFile::open(&out_path)?;
    let mut rng = softcard_file::os_rng().map_err(CliError::new)?;

    let mut client = connect(&args.image, &args.open)?;
    let (container, request) = create_and_sign(&mut client, &args, &key, &options, &mut rng)?;
    let bytes = if args.der {
        request.der.clone()
    } else {
        request.to_pem().into_bytes()
    };
    out.write(&bytes)?;
    if args.json {
        return print_json(&serde_json::json!({
            "container": container.name,
            "application": client.application().name(),
            "key": format!("{:?}", container.algorithm),
            "keyspec": format!("{:?}", container.key_spec),
            "format": format!("{format:?}"),
            "hash": format!("{:?}", options.hash),
            "friendly_name": request.friendly_name,
            "out": out_path.display().to_string(),
        }));
    }
    outln!("container: {}", container.name);
    outln!(
        "request: {} ({format:?}, {:?}, {})",
        out_path.display(),
        options.hash,
        if args.der { "DER" } else { "PEM" }
    );
    if let Some(name) = &request.friendly_name {
        outln!(
            "friendly name: {name} (for the certificate store; not in the request, not on the card)"
        );
    }
    Ok(())
}

/// The key the options ask for.
fn key_request(args: &Args) -> KeyRequest {
    KeyRequest {
        container: match args.container.as_str() {
            "auto" => ContainerName::Automatic,
            name => ContainerName::Named(name.to_owned()),
        },
        algorithm: args.key.algorithm(),
        key_spec: match args.keyspec {
            KeySpecChoice::Exchange => KeySpec::Exchange,
            KeySpecChoice::Signature => KeySpec::Signature,
        },
    }
}

/// What the request asks for, checked.
///
/// # Errors
/// A subject, UPN or template that cannot be encoded.
fn request_options(args: &Args, key_spec: KeySpec) -> Result<RequestOptions, CliError> {
    let mut options = RequestOptions::smartcard_user(args.subject.clone());
    options.key_spec = key_spec;
    options.hash = args.hash.hash();
    options.upn = args.upn.clone();
    options.template = Some(args.template.clone());
    options.friendly_name = Some(args.friendly_name.clone());
    options.check().map_err(fail)?;
    Ok(options)
}

fn request_format(args: &Args) -> RequestFormat {
    match args.format {
        FormatChoice::Pkcs10 => RequestFormat::Pkcs10,
        FormatChoice::Cmc => RequestFormat::Cmc,
    }
}

/// On an open card: the checks that need no PIN, the PIN, the key (with dots on stderr
/// while the card generates it), and the request signed by the card.
///
/// # Errors
/// A refused key request or PIN (the card unchanged but for the PIN's counter); a card
/// that fails to sign, naming the container left with the new key.
fn create_and_sign(
    client: &mut CardClient<CliCard>,
    args: &Args,
    key: &KeyRequest,
    options: &RequestOptions,
    rng: &mut dyn softcard::crypto::CardRng,
) -> Result<(softcard_enroll::Container, Request), CliError> {
    let container = create_key(client, args, key, rng)?;
    let request = Request::build(
        request_format(args),
        options,
        &mut client.signer(&container),
    )
    .map_err(|e| signing_failed(&e, &container))?;
    Ok((container, request))
}

/// A request the card did not sign, naming the container left with the new key.
fn signing_failed(e: &EnrollError, container: &softcard_enroll::Container) -> CliError {
    CliError::new(format!(
        "{e} (the key created in container {} stays on the card)",
        container.name
    ))
    .with_status(status_word(e))
}

/// The checks that need no PIN, the PIN, and the key (with dots on stderr while the card
/// generates it).
///
/// # Errors
/// A refused key request or PIN (the card unchanged but for the PIN's counter).
fn create_key(
    client: &mut CardClient<CliCard>,
    args: &Args,
    key: &KeyRequest,
    rng: &mut dyn softcard::crypto::CardRng,
) -> Result<softcard_enroll::Container, CliError> {
    if let Some(key) = &args.management_key {
        client.set_management_key(key.bytes());
    }
    // What can be refused without the PIN is refused first: verifying the PIN writes the
    // image (its try counter), and a refused command changes nothing.
    client.check_key_request(key).map_err(fail)?;
    client.verify_pin(args.pin.bytes()).map_err(fail)?;
    let container = {
        let dots = (!args.json)
            .then(|| Dots::start(&format!("generating a {:?} key on the card", key.algorithm)));
        let created = client.create_key(key, rng);
        if let Some(dots) = dots {
            dots.finish(created.is_ok());
        }
        created.map_err(fail)?
    };
    Ok(container)
}
