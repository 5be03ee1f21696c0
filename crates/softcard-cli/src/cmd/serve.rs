//! `softcard serve`: put card images into pcscd's vpcd readers until SIGINT or SIGTERM.
//!
//! The images are locked while served, and softcard also hosts their cards on a Unix
//! socket in a private temporary folder (named in each image's lock): one-shot commands
//! on a served image (`softcard pin`, `cert import`, `enroll`, `sign`) are served through
//! it, so pcscd's clients see their changes at once and nothing is overwritten. A second
//! `exec` or `serve` on a served image is refused, naming this process.
//!
//! `--trace FILE` records every APDU the cards exchange, from pcscd's clients and the
//! one-shot commands alike (docs/traces.md); `--replay FILE` serves a recorded trace
//! instead of images, reporting a deviation when stopped; `--faults FILE` injects faults
//! (docs/faults.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use softcard_pcsc::Registry;
use softcard_pcsc::host::{Host, SOCKET_FILE};
use softcard_pcsc::vpcd::{Bridge, RegistryCard};

use crate::common::{BackendArg, CliError, PassphraseArg, TempDir, serve_images};

/// What `softcard serve --help` says after the options.
pub const HELP: &str = "\
One of the three ways a program reaches a card: the card goes into the real pcscd \
through vsmartcard's vpcd, for every PC/SC program on the machine. Needs pcscd and \
vsmartcard-vpcd (the Debian package recommends them; scripts/peer-stack.sh starts them \
in a checkout, and the container image at its start).

Example: softcard serve --image card.img &   then   opensc-tool -r \"Virtual PCD 00 00\" -a";

/// Arguments of `softcard serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A card image; repeat for more cards (the n-th goes to port + n).
    #[arg(
        long = "image",
        required_unless_present = "replay",
        conflicts_with = "replay"
    )]
    pub images: Vec<PathBuf>,
    /// vpcd's address for the first card (reader "Virtual PCD 00 00").
    #[arg(long, default_value = "127.0.0.1:35963")]
    pub vpcd: SocketAddr,
    #[command(flatten)]
    pub backend: BackendArg,
    /// The passphrase of encrypted images.
    #[command(flatten)]
    pub passphrase: PassphraseArg,
    /// Record the APDUs exchanged with the cards.
    #[command(flatten)]
    pub record: crate::cmd::trace::RecordArgs,
    /// Serve a recorded trace as scripted cards instead of images (one per recorded
    /// reader, at port + n): pcscd's clients must send the recorded commands and get the
    /// recorded answers. A deviation is answered 6F00 and reported when serve stops, which
    /// then exits non-zero.
    #[arg(long, value_name = "FILE", conflicts_with = "trace")]
    pub replay: Option<PathBuf>,
    /// Inject faults from the start.
    #[command(flatten)]
    pub faults: crate::cmd::ctl::FaultsArg,
}

/// Serves until interrupted. Every card state change is already on disk when the card
/// answers, so stopping loses nothing.
///
/// # Errors
/// An image cannot be opened, a port is out of range, signal handlers cannot be set.
pub fn run(args: Args) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| CliError::new(format!("cannot handle signal {sig}: {e}")))?;
    }
    let dir = TempDir::create("softcard-serve")?;
    let socket = dir.path().join(SOCKET_FILE);
    let registry = Registry::new();
    let host = Host::bind(&socket, registry.clone(), args.backend.kind())
        .map_err(|e| CliError::new(format!("{}: cannot listen: {e}", socket.display())))?;
    host.set_passphrase(args.passphrase.resolve()?);
    let (readers, replay) = match &args.replay {
        Some(path) => {
            let replay = crate::cmd::trace::start_replay(path, &registry)?;
            let readers = registry.readers();
            let sources = vec![path.clone(); readers.len()];
            (
                readers.into_iter().zip(sources).collect::<Vec<_>>(),
                Some(replay),
            )
        }
        None => {
            let readers = serve_images(&host, &args.images)?;
            (readers.into_iter().zip(args.images.clone()).collect(), None)
        }
    };
    let recorder = args.record.start(&registry)?;
    args.faults.start(&registry)?;
    let mut bridges = Vec::new();
    for (i, (reader, given)) in readers.into_iter().enumerate() {
        let port = u16::try_from(i)
            .ok()
            .and_then(|i| args.vpcd.port().checked_add(i))
            .ok_or_else(|| {
                CliError::usage(format!("no port left for image {}", given.display()))
            })?;
        let addr = SocketAddr::new(args.vpcd.ip(), port);
        eprintln!(
            "softcard: serving {} ({reader}) at vpcd {addr}",
            given.display()
        );
        bridges.push(
            Bridge::new(
                RegistryCard::new(registry.clone(), reader),
                addr.to_string(),
            )
            .with_stop_flag(Arc::clone(&stop)),
        );
    }
    let host = host.spawn();
    let threads: Vec<_> = bridges
        .into_iter()
        .map(|mut b| std::thread::spawn(move || b.run()))
        .collect();
    let mut failure = None;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(CliError::new(format!("vpcd: {e}"))),
            Err(_) => failure = Some(CliError::new("a card thread panicked")),
        }
    }
    drop(host);
    drop(registry);
    drop(dir);
    crate::cmd::trace::check_recorder(recorder.as_deref(), args.record.trace.as_deref())?;
    if let Some(Err(d)) = replay.as_ref().map(|r| r.finish()) {
        return Err(CliError::new(d.to_string()));
    }
    failure.map_or(Ok(()), Err)
}
