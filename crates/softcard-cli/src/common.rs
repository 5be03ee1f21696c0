//! Pieces the subcommands share: errors, opening card images, hex, backends, JSON output.

use std::fmt;
use std::path::{Path, PathBuf};

use softcard::crypto::BackendKind;
use softcard_file::sealed::Passphrase;

/// A failure to report: a message naming the problem, the card's status word when the
/// card refused something, and the exit code.
#[derive(Debug)]
pub struct CliError {
    message: String,
    status: Option<u16>,
    code: u8,
}

impl CliError {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            status: None,
            code: 1,
        }
    }

    /// A usage problem (exit code 2, as clap uses).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: 2,
            ..CliError::new(message)
        }
    }

    /// The same failure, carrying the status word (SW1 SW2) the card answered.
    pub fn with_status(mut self, sw: Option<u16>) -> Self {
        self.status = sw;
        self
    }

    /// The same failure with another exit code (e.g. 3: a certificate request pending).
    pub fn with_code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Reports the failure on stderr: `softcard: error: MESSAGE`, or with `json` one line
    /// `{"error": MESSAGE, "status": "63C2"}` (`status` only when the card answered one).
    pub fn report(&self, json: bool) {
        if json {
            let mut value = serde_json::json!({ "error": self.message });
            if let Some(sw) = self.status {
                value["status"] = format!("{sw:04X}").into();
            }
            eprintln!("{value}");
        } else {
            eprintln!("softcard: error: {self}");
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The message for an image that could not be loaded.
pub fn load_error(path: &Path, e: &softcard_file::LoadError) -> CliError {
    match e {
        softcard_file::LoadError::Io(io) => io_error(path, io),
        softcard_file::LoadError::Lock(lock) => lock_error(path, lock),
        _ => CliError::new(format!("{}: {e}", path.display())),
    }
}

/// The message for an image that could not be locked.
pub fn lock_error(path: &Path, e: &softcard_file::image_lock::LockError) -> CliError {
    match e {
        softcard_file::image_lock::LockError::Held(h) => CliError::new(held_message(path, h)),
        other => CliError::new(format!("{}: {other}", path.display())),
    }
}

/// The message for an image another process holds.
fn held_message(path: &Path, holder: &softcard_file::image_lock::Holder) -> String {
    match holder.socket {
        Some(_) => format!(
            "{}: the card image is in use by {holder}; stop it first, or run the programs \
             that use this card under it",
            path.display()
        ),
        None => format!(
            "{}: the card image is in use by {holder}; wait until it ends",
            path.display()
        ),
    }
}

/// Has `host` serve `images`, in this order (the same image twice, also through a link,
/// is refused). Returns the readers' names.
///
/// # Errors
/// A message naming the image and the problem: missing, given twice, held by another
/// process (naming it), read-only, not a card image.
pub fn serve_images(
    host: &softcard_pcsc::host::Host,
    images: &[PathBuf],
) -> Result<Vec<String>, CliError> {
    use softcard_pcsc::host::AddError;
    images
        .iter()
        .map(|image| {
            host.add_image(image).map_err(|e| match e {
                AddError::AlreadyServed(reader) => CliError::usage(format!(
                    "{}: the same card image is given twice (already in {reader}); a card \
                     can be served once",
                    image.display()
                )),
                AddError::Load(e) => load_error(image, &e),
            })
        })
        .collect()
}

fn io_error(path: &Path, e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CliError::new(format!(
            "{}: no such card image (create one with `softcard init`)",
            path.display()
        ))
    } else {
        CliError::new(format!("{}: {e}", path.display()))
    }
}

/// A private temporary folder (mode 0700), removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/<prefix>-<pid>-<nonce>`.
    ///
    /// # Errors
    /// A message naming the folder.
    pub fn create(prefix: &str) -> Result<TempDir, CliError> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "{prefix}-{}-{nanos:x}-{attempt}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(CliError::new(format!(
                        "{}: cannot create: {e}",
                        path.display()
                    )));
                }
            }
        }
        Err(CliError::new(format!(
            "{}: cannot create a temporary folder",
            base.display()
        )))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where the passphrase of an encrypted card image comes from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PassphraseArg {
    /// The file holding the passphrase of an encrypted card image (one final line end is
    /// dropped). Without it: the file named by SOFTCARD_PASSPHRASE_FILE, else the value of
    /// SOFTCARD_PASSPHRASE. Refused for an image in clear.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl PassphraseArg {
    /// The passphrase given: the option's file, else the environment's; `None` if neither.
    ///
    /// # Errors
    /// The file cannot be read, or holds no passphrase (the message never shows one).
    pub fn resolve(&self) -> Result<Option<Passphrase>, CliError> {
        match &self.passphrase_file {
            Some(file) => Passphrase::from_file(file)
                .map(Some)
                .map_err(CliError::usage),
            None => Passphrase::from_env().map_err(CliError::usage),
        }
    }
}

/// How a command opens an existing card image: the crypto backend its keys go to, and the
/// passphrase of an encrypted image.
#[derive(Debug, Clone, clap::Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    #[command(flatten)]
    pub passphrase: PassphraseArg,
}

/// Loads the card image at `path` to look at it, without locking it: another process may
/// be serving it (its changes are on disk when its card answers).
///
/// # Errors
/// As [`load_error`] describes, except that an image in use is no error.
pub fn read_card(
    path: &Path,
    backend: BackendKind,
    passphrase: &PassphraseArg,
) -> Result<softcard::Card, CliError> {
    let passphrase = passphrase.resolve()?;
    softcard_file::FileStorage::read_card(path, backend, passphrase.as_ref())
        .map_err(|e| load_error(path, &e))
}

/// Parses hex digits; spaces and colons between bytes are allowed.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'\t'))
        .collect();
    // Keys come through here: a message names the problem and where, never the text.
    if let Some(at) = text
        .chars()
        .position(|c| !(c.is_ascii_hexdigit() || matches!(c, ' ' | ':' | '\t')))
    {
        return Err(format!("not hex: character {} is not a hex digit", at + 1));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("an odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| "not hex".to_owned())?;
            u8::from_str_radix(s, 16).map_err(|_| "not hex".to_owned())
        })
        .collect()
}

/// Key bytes given in hex on the command line (`--admin-key`, `--management-key`): one
/// value, zeroized on drop, redacted in `Debug`.
///
/// Its own type because clap reads an `Option<Vec<u8>>` field as a list of `u8` values,
/// which a parser returning the whole `Vec<u8>` cannot fill (clap panics at run time).
#[derive(Clone, Debug)]
pub struct HexKey(softcard::Secret);

impl HexKey {
    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.expose()
    }

    /// The key as a [`softcard::Secret`].
    pub fn into_secret(self) -> softcard::Secret {
        self.0
    }
}

/// Parses a hex key for clap's `value_parser`.
///
/// # Errors
/// As [`parse_hex`]; an empty key.
pub fn parse_hex_key(text: &str) -> Result<HexKey, String> {
    let bytes = parse_hex(text)?;
    if bytes.is_empty() {
        return Err("an empty key".into());
    }
    Ok(HexKey(softcard::Secret::new(bytes)))
}

/// The command-line parser of [`HexKey`] arguments: a refused key is named by its option
/// and the problem, never echoed (clap's own message would print the value, into CI logs).
#[derive(Clone, Copy, Debug)]
pub struct HexKeyParser;

impl clap::builder::TypedValueParser for HexKeyParser {
    type Value = HexKey;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<HexKey, clap::Error> {
        let name = arg
            .map(ToString::to_string)
            .unwrap_or_else(|| "the key".into());
        let refuse = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{name}: {why}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("not valid text".into()))?;
        parse_hex_key(text).map_err(refuse)
    }
}

/// A PIN or PUK given on the command line, zeroized on drop and redacted in `Debug` (the
/// process's own argument strings are the operating system's).
#[derive(Clone, Debug)]
pub struct PinArg(softcard::Secret);

impl PinArg {
    /// The PIN bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.expose()
    }

    /// The PIN as a [`softcard::Secret`].
    pub fn into_secret(self) -> softcard::Secret {
        self.0
    }
}

/// Parses a PIN for clap's `value_parser` (any text; the card judges its length).
///
/// # Errors
/// Never; the signature is clap's.
pub fn parse_pin(text: &str) -> Result<PinArg, String> {
    Ok(PinArg(softcard::Secret::from_slice(text.as_bytes())))
}

/// Bytes as upper-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Parses a crypto backend name (`rustcrypto`, `aws-lc`), for clap's `value_parser`.
///
/// # Errors
/// Unknown names, and backends not compiled into this build.
pub fn parse_backend(name: &str) -> Result<BackendKind, String> {
    name.parse()
}

/// `--backend`: the crypto backend the cards' keys run on in this run. Every command that
/// loads a card takes it; nothing records it in the image.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct BackendArg {
    /// Crypto backend for the card's keys in this run: aws-lc or rustcrypto. Default: the
    /// fastest compiled in (aws-lc). On an image a `softcard exec` or `serve` holds, the
    /// holder's backend serves; a different one asked for is refused.
    #[arg(
        long = "backend",
        env = softcard_file::BACKEND_VAR,
        value_name = "NAME",
        value_parser = parse_backend
    )]
    requested: Option<BackendKind>,
}

impl BackendArg {
    /// The backend asked for (`--backend`, or `SOFTCARD_BACKEND`), if any.
    pub fn requested(self) -> Option<BackendKind> {
        self.requested
    }

    /// The backend to load keys into: the one asked for, else the default.
    pub fn kind(self) -> BackendKind {
        self.requested.unwrap_or_default()
    }
}

/// Prints a JSON value on stdout, pretty.
///
/// # Errors
/// If it cannot be serialized (it always can for `serde_json::Value`).
pub fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::new(e.to_string()))?;
    outln!("{text}");
    Ok(())
}

/// Writes to standard output. When the reader has gone away (a closed pipe), the process
/// ends at once with status 141, the shell's for a SIGPIPE, without a message; another
/// write error ends it with a message and status 1.
pub fn out(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("softcard: error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_parsing() {
        assert_eq!(parse_hex("01ab FF:00").unwrap(), [0x01, 0xAB, 0xFF, 0x00]);
        assert!(parse_hex("0").unwrap_err().contains("odd"));
        assert!(parse_hex("zz").unwrap_err().contains("not hex"));
        let err = parse_hex("0102030405060708010203040506070801020304050607x8").unwrap_err();
        assert!(err.contains("character 47"), "{err}");
        assert!(!err.contains("0102"), "the text is not echoed: {err}");
        assert_eq!(hex(&[0x3B, 0x0A]), "3B0A");
        assert_eq!(parse_hex_key("0102").unwrap().bytes(), [1, 2]);
        assert!(parse_hex_key("").unwrap_err().contains("empty"));
    }

    #[test]
    fn backend_names() {
        assert_eq!(
            parse_backend("rustcrypto").unwrap(),
            BackendKind::RustCrypto
        );
        assert!(parse_backend("openssl").unwrap_err().contains("unknown"));
        #[cfg(feature = "aws-lc")]
        assert_eq!(parse_backend("aws-lc").unwrap(), BackendKind::AwsLc);
        #[cfg(not(feature = "aws-lc"))]
        assert!(
            parse_backend("aws-lc")
                .unwrap_err()
                .contains("not compiled")
        );
    }

    #[test]
    fn the_default_backend_is_the_fastest_compiled_in() {
        let expected = if cfg!(feature = "aws-lc") {
            BackendKind::AwsLc
        } else {
            BackendKind::RustCrypto
        };
        assert_eq!(BackendKind::default(), expected);
    }
}
