//! `softcard ca`: a test CA that speaks the AD CS Web Enrollment pages (`/certsrv/`),
//! and the CA manager's commands on its request database.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use softcard_ca::{Credentials, Record, RecordStatus, Server, ServerOptions, State, Template};
use zeroize::Zeroizing;

use crate::common::CliError;

/// What `softcard ca --help` says after the subcommands.
pub const HELP: &str = "\
Test use only: the CA key is kept unencrypted in the state directory.

The state directory (--state, default ./softcard-ca) holds the CA key and certificate
(ca.crt), the HTTPS key and certificate (tls.crt, issued by the CA for localhost,
127.0.0.1 and ::1), the templates in use and one file per request (requests/N.json).
`approve`, `deny` and `list` act on it while `serve` runs.

Pages under /certsrv/: the welcome page, certrqus.asp (Request a Certificate),
certrqad.asp (Advanced Certificate Request), certrqxt.asp (the request form),
certfnsh.asp (Mode=newreq: submit), certnew.cer and certnew.p7b (ReqID=N or CACert,
Enc=bin or b64), certcarc.asp (CA certificate), certckpn.asp (pending requests).

Built-in templates: SmartcardUser, SmartcardUserApproval (waits for approval),
SmartcardLogon, User, EnrollmentAgent; --templates FILE replaces them (JSON).";

/// The CA's subcommands.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve the Web Enrollment pages until interrupted; prints the URL first.
    Serve(ServeArgs),
    /// Issue a pending request.
    Approve(DecideArgs),
    /// Deny a pending request.
    Deny(DecideArgs),
    /// List the requests: number, disposition, template, user, message.
    List(ListArgs),
}

/// The state directory.
#[derive(Debug, clap::Args)]
struct StateArg {
    /// The CA's state directory (made on first `serve`).
    #[arg(long, value_name = "DIR", default_value = "softcard-ca")]
    state: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    state: StateArg,
    /// Address to listen on; port 0 takes a free port (the URL printed says which).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    http: bool,
    /// The user basic authentication lets in (with --password-file); without it the
    /// pages are open.
    #[arg(long, value_name = "NAME", requires = "password_file")]
    user: Option<String>,
    /// File whose first line is that user's password.
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,
    /// JSON file of templates to use instead of the built-in ones (kept in the state
    /// directory for approve).
    #[arg(long, value_name = "FILE")]
    templates: Option<PathBuf>,
    /// The CA's name, when the state directory is made.
    #[arg(
        long,
        value_name = "SUBJECT",
        default_value = "CN=softcard Test CA,O=softcard"
    )]
    ca_name: String,
}

#[derive(Debug, clap::Args)]
struct DecideArgs {
    #[command(flatten)]
    state: StateArg,
    /// The request ID.
    id: u32,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    state: StateArg,
    /// One JSON object per request, one per line.
    #[arg(long)]
    json: bool,
}

/// Runs `softcard ca`.
///
/// # Errors
/// A [`CliError`] naming the state directory's problem, the address, or the request.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Command::Serve(a) => serve(a),
        Command::Approve(a) => {
            let state = open(&a.state.state)?;
            let mut rng = softcard_file::os_rng().map_err(|e| CliError::new(e.to_string()))?;
            let record = state
                .approve(a.id, &mut rng)
                .map_err(|e| CliError::new(e.to_string()))?;
            report(&record);
            Ok(())
        }
        Command::Deny(a) => {
            let state = open(&a.state.state)?;
            let record = state.deny(a.id).map_err(|e| CliError::new(e.to_string()))?;
            report(&record);
            Ok(())
        }
        Command::List(a) => {
            let state = open(&a.state.state)?;
            for r in state.records().map_err(|e| CliError::new(e.to_string()))? {
                let template = softcard_ca::submission::Submission::from_base64(&r.request)
                    .ok()
                    .and_then(|s| s.template());
                let template = r
                    .form_attributes
                    .iter()
                    .rev()
                    .find(|(n, _)| n.eq_ignore_ascii_case("CertificateTemplate"))
                    .map(|(_, v)| v.clone())
                    .or(template)
                    .unwrap_or_default();
                if a.json {
                    let line = serde_json::json!({
                        "id": r.id, "status": r.status.to_string(), "template": template,
                        "user": r.user, "message": r.message, "submitted": r.submitted,
                    });
                    outln!("{line}");
                } else {
                    outln!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.status,
                        template,
                        r.user.as_deref().unwrap_or("-"),
                        r.message
                    );
                }
            }
            Ok(())
        }
    }
}

fn report(record: &Record) {
    match record.status {
        RecordStatus::Issued => outln!("request {}: issued", record.id),
        RecordStatus::Denied => outln!("request {}: denied: {}", record.id, record.message),
        RecordStatus::Pending => outln!("request {}: pending", record.id),
    }
}

/// The templates of a state directory: its `templates.json`, else the built-in set.
fn templates(dir: &Path) -> Result<Vec<Template>, CliError> {
    let file = dir.join("templates.json");
    if file.exists() {
        Template::load(&file).map_err(|e| CliError::new(e.to_string()))
    } else {
        Ok(Template::builtin())
    }
}

fn open(dir: &Path) -> Result<State, CliError> {
    if !dir.join("ca.crt").exists() {
        return Err(CliError::new(format!(
            "{} is not a CA state directory (run `softcard ca serve --state {}` first)",
            dir.display(),
            dir.display()
        )));
    }
    State::open(dir, templates(dir)?).map_err(|e| CliError::new(e.to_string()))
}

fn serve(a: ServeArgs) -> Result<(), CliError> {
    let dir = &a.state.state;
    std::fs::create_dir_all(dir).map_err(|e| CliError::new(format!("{}: {e}", dir.display())))?;
    if let Some(file) = &a.templates {
        let loaded = Template::load(file).map_err(|e| CliError::new(e.to_string()))?;
        let json = serde_json::to_vec_pretty(&loaded).map_err(|e| CliError::new(e.to_string()))?;
        std::fs::write(dir.join("templates.json"), json)
            .map_err(|e| CliError::new(format!("{}: {e}", dir.display())))?;
    }
    let credentials = match (&a.user, &a.password_file) {
        (Some(user), Some(file)) => {
            let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
                CliError::new(format!(
                    "cannot read the password file {}: {e}",
                    file.display()
                ))
            })?);
            let password = Zeroizing::new(text.lines().next().unwrap_or_default().to_string());
            if password.is_empty() {
                return Err(CliError::usage(format!(
                    "the password file {} is empty",
                    file.display()
                )));
            }
            Some(Credentials::new(user.clone(), password))
        }
        _ => None,
    };
    let mut rng = softcard_file::os_rng().map_err(|e| CliError::new(e.to_string()))?;
    let state = State::open_or_create(dir, &a.ca_name, templates(dir)?, &mut rng)
        .map_err(|e| CliError::new(e.to_string()))?;
    let server = Server::bind(
        state,
        ServerOptions {
            listen: a.listen,
            https: !a.http,
            credentials,
            log: true,
        },
    )
    .map_err(|e| CliError::new(e.to_string()))?;
    outln!("{}", server.url());
    let _ = std::io::stdout().flush();
    eprintln!(
        "softcard ca: serving; CA certificate {}",
        dir.join("ca.crt").display()
    );
    server.run();
    Ok(())
}
