//! The CA's state directory:
//!
//! ```text
//! ca-key.json      the CA's private key material (mode 0600)
//! ca.crt           the CA certificate (PEM)
//! tls-key.pem      the HTTPS key, PKCS#8 P-256 (mode 0600)
//! tls.crt          the HTTPS certificate (PEM), issued by the CA for localhost,
//!                  127.0.0.1 and ::1
//! requests/N.json  request N: what was posted, by whom, its disposition, the certificate
//! ```
//!
//! Every file is written whole under a temporary name and then renamed into place, and a
//! request number is taken by creating its file exclusively, so `softcard ca approve`
//! and `deny` can act while `softcard ca serve` runs.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use softcard::crypto::{BackendKind, CardRng, KeyMaterial, PrivateKey};
use softcard_enroll::testca::TestCa;
use softcard_enroll::{Certificate, parse_certificates};

use crate::ca::{Context, Decision};
use crate::submission::Submission;
use crate::{Ca, Refusal, Template};

/// A state directory that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// No request of that number.
    #[error("no request {0}")]
    NoRequest(u32),
    /// The request was already decided.
    #[error("request {id} is not pending (it is {status})")]
    NotPending {
        /// The request.
        id: u32,
        /// Its disposition.
        status: RecordStatus,
    },
    /// Making the CA or its TLS certificate failed.
    #[error("cannot make the CA: {0}")]
    Make(String),
}

/// The disposition of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    /// Waiting for approval.
    Pending,
    /// Issued.
    Issued,
    /// Denied (by policy, by a parse error, or by `softcard ca deny`).
    Denied,
}

impl core::fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RecordStatus::Pending => "pending",
            RecordStatus::Issued => "issued",
            RecordStatus::Denied => "denied",
        })
    }
}

/// One request in the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The request ID.
    pub id: u32,
    /// When it was submitted (seconds since the Unix epoch).
    pub submitted: u64,
    /// The authenticated user who posted it.
    pub user: Option<String>,
    /// The `CertAttrib` lines of the form, as name-value pairs.
    pub form_attributes: Vec<(String, String)>,
    /// The posted `CertRequest` text.
    pub request: String,
    /// Its disposition.
    pub status: RecordStatus,
    /// The HRESULT of a denial.
    pub hresult: Option<u32>,
    /// The disposition message.
    pub message: String,
    /// The issued certificate, PEM.
    pub certificate: Option<String>,
}

impl Record {
    /// A record for a posted request, with the CA's decision applied.
    pub fn new(user: Option<&str>, form_attributes: Vec<(String, String)>, request: &str) -> Self {
        Record {
            id: 0,
            submitted: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            user: user.map(ToString::to_string),
            form_attributes,
            request: request.to_string(),
            status: RecordStatus::Pending,
            hresult: None,
            message: String::new(),
            certificate: None,
        }
    }

    /// Reads the request and applies `ca`'s decision (approved or not).
    pub fn decide(&mut self, ca: &Ca, approved: bool, rng: &mut dyn CardRng) {
        let decision = match Submission::from_base64(&self.request) {
            Ok(submission) => ca.decide(
                &submission,
                &Context {
                    user: self.user.as_deref(),
                    form_attributes: &self.form_attributes,
                    approved,
                },
                rng,
            ),
            Err(refusal) => Decision::Denied(refusal),
        };
        self.apply(decision);
    }

    /// Records a decision.
    pub fn apply(&mut self, decision: Decision) {
        match decision {
            Decision::Issued(cert) => {
                self.status = RecordStatus::Issued;
                self.message = "Issued".into();
                self.hresult = None;
                self.certificate = Some(cert.to_pem());
            }
            Decision::Pending => {
                self.status = RecordStatus::Pending;
                self.message = "Taken Under Submission".into();
            }
            Decision::Denied(refusal) => {
                self.status = RecordStatus::Denied;
                self.message = refusal.disposition();
                self.hresult = Some(refusal.hresult);
            }
        }
    }

    /// The issued certificate.
    pub fn issued(&self) -> Option<Certificate> {
        let pem = self.certificate.as_ref()?;
        parse_certificates(pem.as_bytes()).ok()?.into_iter().next()
    }

    /// The refusal of a denied request.
    pub fn refusal(&self) -> Option<Refusal> {
        (self.status == RecordStatus::Denied)
            .then(|| Refusal::new(self.hresult.unwrap_or(0), self.message.clone()))
    }
}

/// An open state directory with its CA.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    ca: Ca,
}

impl State {
    /// Opens `dir`, making the CA (named `ca_name`), its TLS certificate and the request
    /// folder the first time.
    ///
    /// # Errors
    /// [`StateError`] for files that cannot be read, written or understood.
    pub fn open_or_create(
        dir: &Path,
        ca_name: &str,
        templates: Vec<Template>,
        rng: &mut dyn CardRng,
    ) -> Result<Self, StateError> {
        fs::create_dir_all(dir.join("requests")).map_err(io(&dir.join("requests")))?;
        if !dir.join("ca-key.json").exists() {
            let ca =
                TestCa::with_name(ca_name, rng).map_err(|e| StateError::Make(e.to_string()))?;
            let key = serde_json::to_vec(ca.key().material())
                .map_err(|e| StateError::Make(e.to_string()))?;
            write_atomically(
                &dir.join("ca.crt"),
                ca.certificate().to_pem().as_bytes(),
                false,
            )?;
            write_atomically(&dir.join("ca-key.json"), &key, true)?;
        }
        let ca = Ca::new(load_ca(dir)?, templates);
        if !dir.join("tls-key.pem").exists() {
            let (key, cert) = crate::tls::make(ca.test_ca(), rng)?;
            write_atomically(&dir.join("tls.crt"), cert.as_bytes(), false)?;
            write_atomically(&dir.join("tls-key.pem"), key.as_bytes(), true)?;
        }
        Ok(State {
            dir: dir.to_path_buf(),
            ca,
        })
    }

    /// Opens an existing state directory.
    ///
    /// # Errors
    /// [`StateError`]; a directory without a CA is [`StateError::Io`].
    pub fn open(dir: &Path, templates: Vec<Template>) -> Result<Self, StateError> {
        Ok(State {
            dir: dir.to_path_buf(),
            ca: Ca::new(load_ca(dir)?, templates),
        })
    }

    /// The CA.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The TLS certificate chain (PEM: the server certificate, then the CA's) and key
    /// (PKCS#8 PEM).
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn tls_files(&self) -> Result<(String, String), StateError> {
        let read = |name: &str| {
            let path = self.dir.join(name);
            fs::read_to_string(&path).map_err(io(&path))
        };
        Ok((read("tls.crt")?, read("tls-key.pem")?))
    }

    /// Stores a new request under the next free number, which it returns.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn add(&self, record: &mut Record) -> Result<u32, StateError> {
        let dir = self.dir.join("requests");
        let mut id = u32::try_from(fs::read_dir(&dir).map_err(io(&dir))?.count())
            .unwrap_or(u32::MAX)
            .max(1);
        loop {
            record.id = id;
            let json =
                serde_json::to_vec_pretty(record).map_err(|e| StateError::Make(e.to_string()))?;
            let tmp = temporary(&dir.join(format!("{id}.json")));
            write_file(&tmp, &json, false)?;
            // A hard link fails when the name exists: the number is taken exclusively,
            // with the whole record in it.
            let linked = fs::hard_link(&tmp, dir.join(format!("{id}.json")));
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => return Ok(id),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    id = id
                        .checked_add(1)
                        .ok_or_else(|| StateError::Make("no request number left".into()))?;
                }
                Err(e) => return Err(io(&dir)(e)),
            }
        }
    }

    /// Request `id`.
    ///
    /// # Errors
    /// [`StateError::NoRequest`], [`StateError::Corrupt`].
    pub fn record(&self, id: u32) -> Result<Record, StateError> {
        let path = self.dir.join("requests").join(format!("{id}.json"));
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NoRequest(id));
            }
            Err(e) => return Err(io(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            problem: e.to_string(),
        })
    }

    /// Every request, by number.
    ///
    /// # Errors
    /// As [`State::record`].
    pub fn records(&self) -> Result<Vec<Record>, StateError> {
        let dir = self.dir.join("requests");
        let mut ids: Vec<u32> = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(|id| self.record(id)).collect()
    }

    /// Replaces a stored request.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn update(&self, record: &Record) -> Result<(), StateError> {
        let json =
            serde_json::to_vec_pretty(record).map_err(|e| StateError::Make(e.to_string()))?;
        write_atomically(
            &self
                .dir
                .join("requests")
                .join(format!("{}.json", record.id)),
            &json,
            false,
        )
    }

    /// Approves pending request `id`: the CA decides again with the approval given
    /// (a request can still be denied then, e.g. if its agent certificate expired).
    ///
    /// # Errors
    /// [`StateError::NoRequest`], [`StateError::NotPending`], [`StateError::Io`].
    pub fn approve(&self, id: u32, rng: &mut dyn CardRng) -> Result<Record, StateError> {
        let mut record = self.pending(id)?;
        record.decide(&self.ca, true, rng);
        self.update(&record)?;
        Ok(record)
    }

    /// Denies pending request `id` (`CERTSRV_E_ADMIN_DENIED_REQUEST`).
    ///
    /// # Errors
    /// As [`State::approve`].
    pub fn deny(&self, id: u32) -> Result<Record, StateError> {
        let mut record = self.pending(id)?;
        record.apply(Decision::Denied(Refusal::admin_denied()));
        self.update(&record)?;
        Ok(record)
    }

    fn pending(&self, id: u32) -> Result<Record, StateError> {
        let record = self.record(id)?;
        if record.status != RecordStatus::Pending {
            return Err(StateError::NotPending {
                id,
                status: record.status,
            });
        }
        Ok(record)
    }
}

/// Loads the CA key and certificate.
fn load_ca(dir: &Path) -> Result<TestCa, StateError> {
    let key_path = dir.join("ca-key.json");
    let cert_path = dir.join("ca.crt");
    let corrupt = |path: &Path, problem: String| StateError::Corrupt {
        path: path.display().to_string(),
        problem,
    };
    let material: KeyMaterial =
        serde_json::from_slice(&fs::read(&key_path).map_err(io(&key_path))?)
            .map_err(|e| corrupt(&key_path, e.to_string()))?;
    let key = PrivateKey::from_material(BackendKind::RustCrypto, material)
        .map_err(|e| corrupt(&key_path, e.to_string()))?;
    let cert = parse_certificates(&fs::read(&cert_path).map_err(io(&cert_path))?)
        .map_err(|e| corrupt(&cert_path, e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| corrupt(&cert_path, "no certificate".into()))?;
    TestCa::from_parts(key, cert).map_err(|e| corrupt(&cert_path, e.to_string()))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), StateError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let _ = secret;
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Writes `bytes` under a temporary name, then renames it to `path`: a reader sees the
/// old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8], secret: bool) -> Result<(), StateError> {
    let tmp = temporary(path);
    write_file(&tmp, bytes, secret)?;
    fs::rename(&tmp, path).map_err(io(path))
}
