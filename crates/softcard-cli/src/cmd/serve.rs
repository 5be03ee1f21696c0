//! `softcard serve`: put card images into pcscd's vpcd readers until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use softcard::crypto::BackendKind;
use softcard_pcsc::vpcd::Bridge;

use crate::common::{CliError, open_card, parse_backend};

/// Arguments of `softcard serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A card image; repeat for more cards (the n-th goes to port + n).
    #[arg(long = "image", required = true)]
    pub images: Vec<PathBuf>,
    /// vpcd's address for the first card (reader "Virtual PCD 00 00").
    #[arg(long, default_value = "127.0.0.1:35963")]
    pub vpcd: SocketAddr,
    /// Crypto backend for the cards' keys.
    #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
    pub backend: BackendKind,
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
    let mut bridges = Vec::new();
    for (i, image) in args.images.iter().enumerate() {
        let card = open_card(image, args.backend)?;
        let port = u16::try_from(i)
            .ok()
            .and_then(|i| args.vpcd.port().checked_add(i))
            .ok_or_else(|| {
                CliError::usage(format!("no port left for image {}", image.display()))
            })?;
        let addr = SocketAddr::new(args.vpcd.ip(), port);
        eprintln!(
            "softcard: serving {} ({} card) at vpcd {addr}",
            image.display(),
            card.profile()
        );
        bridges.push(Bridge::new(card, addr.to_string()).with_stop_flag(Arc::clone(&stop)));
    }
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
    failure.map_or(Ok(()), Err)
}
