//! `softcard ctl`: the control interface of a running host (`softcard exec`, `softcard
//! serve`): list its readers, take a card out of its reader and put it back, power-cycle
//! it, serve one more image in a new reader, take a reader away, and inject faults
//! (docs/faults.md). Every client sees a removal as with a real reader:
//! `SCARD_W_REMOVED_CARD` on its connections, the reader EMPTY in `SCardGetStatusChange`;
//! the card put back is the same card.
//!
//! Also `--faults FILE`, the option of `exec` and `serve` that injects faults from the
//! start of a run.
//!
//! The host is the one given with `--host SOCKET`, or the one serving `--image IMAGE`, or,
//! for commands run under `softcard exec`, the one in `SOFTCARD_HOST`.

use std::path::{Path, PathBuf};

use softcard_file::image_lock;
use softcard_pcsc::Registry;
use softcard_pcsc::host::{self, HOST_VAR, ReaderInfo};

use crate::common::{CliError, print_json};

/// Arguments of `softcard ctl`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The host's socket (default: the host serving `--image`, else `$SOFTCARD_HOST`).
    #[arg(long, global = true, value_name = "SOCKET", conflicts_with = "image")]
    host: Option<PathBuf>,
    /// A card image the host serves: finds the host, and the reader for remove/insert.
    #[arg(long, global = true, value_name = "IMAGE")]
    image: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// The host's readers, the image each serves, and whether its card is in (with
    /// `--json`, also the crypto `backend` its card runs on).
    List,
    /// Take the card out of a reader (the host keeps it).
    Remove {
        /// The reader (default: the one serving `--image`).
        reader: Option<String>,
    },
    /// Put a card taken out back into its reader.
    Insert {
        /// The reader (default: the one serving `--image`).
        reader: Option<String>,
    },
    /// Serve one more card image, in a new reader (the host locks it).
    Attach {
        /// The card image.
        new_image: PathBuf,
    },
    /// Take a reader away with its card (the host no longer serves or locks its image).
    Detach {
        /// The reader (default: the one serving `--image`).
        reader: Option<String>,
    },
    /// Power-cycle a reader's card: its connections get SCARD_W_RESET_CARD (through pcscd,
    /// the card is removed and inserted again).
    #[command(alias = "power-cycle")]
    Reset {
        /// The reader (default: the one serving `--image`).
        reader: Option<String>,
    },
    /// Inject faults, each argument one line of the format of docs/faults.md, e.g.
    /// 'answer ins=87 sw=6982' or 'fail count=2 error=SCARD_E_COMM_DATA_LOST'.
    Fault {
        /// The fault lines.
        #[arg(required = true, value_name = "LINE")]
        lines: Vec<String>,
    },
    /// The faults in force, one line each.
    Faults,
    /// Remove every injected fault.
    ClearFaults,
}

/// The option of `exec` and `serve` that injects faults from the start.
#[derive(Debug, clap::Args)]
pub struct FaultsArg {
    /// Inject the faults of FILE (one per line, the format of docs/faults.md) from the
    /// start; more can be injected, listed and cleared with `softcard ctl`.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

impl FaultsArg {
    /// Reads the file, if one is given, and injects its faults in `registry`.
    ///
    /// # Errors
    /// The file cannot be read, or a line of it is not a fault (named).
    pub fn start(&self, registry: &Registry) -> Result<(), CliError> {
        let Some(path) = &self.faults else {
            return Ok(());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("{}: cannot read: {e}", path.display())))?;
        let faults = softcard_pcsc::fault::parse_plan(&text)
            .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
        registry.inject_all(faults);
        Ok(())
    }
}

/// Runs the action.
///
/// # Errors
/// No host found or answering, an unknown reader, a reader with no card to take out or
/// none to put back.
pub fn run(args: Args) -> Result<(), CliError> {
    let socket = find_host(&args)?;
    let fail = |e: softcard_pcsc::Error| CliError::new(format!("{}: {e}", socket.display()));
    match &args.action {
        Action::List => {
            let readers = host::list(&socket).map_err(fail)?;
            if args.json {
                let list: Vec<_> = readers
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "reader": r.name,
                            "image": r.image.as_ref().map(|p| p.display().to_string()),
                            "present": r.present,
                            "backend": r.backend,
                        })
                    })
                    .collect();
                return print_json(&serde_json::json!({ "readers": list }));
            }
            for r in readers {
                let image = r.image.map(|p| p.display().to_string()).unwrap_or_default();
                let state = if r.present { "card" } else { "empty" };
                outln!("{}\t{state}\t{image}", r.name);
            }
            Ok(())
        }
        Action::Attach { new_image } => {
            let reader = host::attach(&socket, new_image)
                .map_err(|e| CliError::new(format!("{}: {e}", new_image.display())))?
                .map_err(|e| CliError::new(format!("{}: {e}", new_image.display())))?;
            if args.json {
                return print_json(&serde_json::json!({
                    "reader": reader,
                    "image": new_image.display().to_string(),
                }));
            }
            outln!("{reader}: serving {}", new_image.display());
            Ok(())
        }
        Action::Detach { reader } => {
            let reader = match reader {
                Some(r) => r.clone(),
                None => reader_of(&socket, args.image.as_deref())?,
            };
            host::detach(&socket, &reader).map_err(|e| CliError::new(format!("{reader}: {e}")))?;
            if args.json {
                return print_json(&serde_json::json!({ "reader": reader, "detached": true }));
            }
            outln!("{reader}: detached");
            Ok(())
        }
        Action::Reset { reader } => {
            let reader = match reader {
                Some(r) => r.clone(),
                None => reader_of(&socket, args.image.as_deref())?,
            };
            host::power_cycle(&socket, &reader).map_err(|e| match e {
                softcard_pcsc::Error::NoSmartcard => {
                    CliError::new(format!("{reader}: no card in this reader"))
                }
                other => CliError::new(format!("{reader}: {other}")),
            })?;
            if args.json {
                return print_json(&serde_json::json!({ "reader": reader, "card": "reset" }));
            }
            outln!("{reader}: card power-cycled");
            Ok(())
        }
        Action::Fault { lines } => {
            let n = host::inject(&socket, &lines.join("\n"))
                .map_err(fail)?
                // Line N is the N-th argument.
                .map_err(|e| CliError::usage(format!("fault: {e}")))?;
            if args.json {
                return print_json(&serde_json::json!({ "injected": n }));
            }
            outln!("{n} fault(s) injected");
            Ok(())
        }
        Action::Faults => {
            let faults = host::faults(&socket).map_err(fail)?;
            if args.json {
                return print_json(&serde_json::json!({ "faults": faults }));
            }
            for f in faults {
                outln!("{f}");
            }
            Ok(())
        }
        Action::ClearFaults => {
            host::clear_faults(&socket).map_err(fail)?;
            if args.json {
                return print_json(&serde_json::json!({ "faults": [] }));
            }
            outln!("faults cleared");
            Ok(())
        }
        Action::Remove { reader } | Action::Insert { reader } => {
            let reader = match reader {
                Some(r) => r.clone(),
                None => reader_of(&socket, args.image.as_deref())?,
            };
            let removing = matches!(args.action, Action::Remove { .. });
            let result = if removing {
                host::remove_card(&socket, &reader)
            } else {
                host::insert_card(&socket, &reader)
            };
            result.map_err(|e| match e {
                softcard_pcsc::Error::UnknownReader if !removing => {
                    CliError::new(format!("{reader}: no card was taken out of this reader"))
                }
                softcard_pcsc::Error::NoSmartcard => {
                    CliError::new(format!("{reader}: no card in this reader"))
                }
                other => CliError::new(format!("{reader}: {other}")),
            })?;
            let done = if removing { "removed" } else { "inserted" };
            if args.json {
                return print_json(&serde_json::json!({ "reader": reader, "card": done }));
            }
            outln!("{reader}: card {done}");
            Ok(())
        }
    }
}

/// The host's socket, as [`Args`] describes.
fn find_host(args: &Args) -> Result<PathBuf, CliError> {
    if let Some(socket) = &args.host {
        return Ok(socket.clone());
    }
    if let Some(image) = &args.image {
        return image_lock::holder(image)
            .and_then(|h| h.socket)
            .ok_or_else(|| {
                CliError::new(format!(
                    "{}: no softcard exec or serve is serving this image",
                    image.display()
                ))
            });
    }
    std::env::var_os(HOST_VAR)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            CliError::usage(format!(
                "which host? give --host SOCKET or --image IMAGE (under softcard exec, \
                 {HOST_VAR} names it)"
            ))
        })
}

/// The reader serving `image` on the host.
fn reader_of(socket: &Path, image: Option<&Path>) -> Result<String, CliError> {
    let image = image.ok_or_else(|| CliError::usage("name the reader, or give --image"))?;
    let real = image_lock::resolve(image)
        .map_err(|e| CliError::new(format!("{}: {e}", image.display())))?;
    host::list(socket)
        .map_err(|e| CliError::new(format!("{}: {e}", socket.display())))?
        .into_iter()
        .find(|r: &ReaderInfo| r.image.as_deref() == Some(real.as_path()))
        .map(|r| r.name)
        .ok_or_else(|| {
            CliError::new(format!(
                "{}: the host does not serve this image",
                image.display()
            ))
        })
}
