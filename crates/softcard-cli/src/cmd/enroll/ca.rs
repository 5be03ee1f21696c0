//! `softcard enroll --ca URL`: the seed's steps 9 to 11 against a CA's Web Enrollment
//! pages: Submit (certfnsh.asp), the issued, pending or denied answer, and "Install this
//! certificate" (certnew.cer, then the card). `--retrieve N` is the later visit for a
//! request the CA left pending.
//!
//! Nothing is left half done where it can be avoided: the options, the password, the
//! trust anchor and the CA itself (reachable, trusted, credentials taken: its welcome page
//! is loaded) are checked before the card is touched. Once the key exists, a CA that
//! refuses the request cannot take the key back: the message then names the container
//! that holds the new key without a certificate.

use softcard_enroll::certsrv::Disposition;
use softcard_enroll::{
    CardClient, Certificate, Container, Oid, Request, RequestFormat, parse_certificates,
};

use super::http::{CaClient, CaOptions, Retrieved};
use super::{
    Args, OutFile, connect, create_and_sign, create_key, fail, key_request, request_format,
    request_options, signing_failed,
};
use crate::card::CliCard;
use crate::common::{CliError, print_json};

/// The enrollment agent's card, its container and certificate, PIN verified.
struct AgentCard {
    client: CardClient<CliCard>,
    container: Container,
    certificate: Certificate,
}

/// The exit status of a request the CA left pending (the request ID is printed).
pub const PENDING_EXIT_CODE: u8 = 3;

/// Runs `softcard enroll --ca`.
///
/// # Errors
/// Bad options; an unreachable or untrusted CA, refused credentials (all before the card
/// is opened); the card's failures; a denied request, with the CA's disposition message
/// and the container left with the new key; a pending request (exit status 3).
pub fn run(args: &Args) -> Result<(), CliError> {
    let ca = CaClient::new(&CaOptions {
        url: args.ca.clone().unwrap_or_default(),
        user: args.user.clone(),
        password_file: args.password_file.clone(),
        ca_cert: args.ca_cert.clone(),
    })?;
    if let Some(id) = args.retrieve {
        return retrieve(args, &ca, id);
    }
    let key = key_request(args);
    let options = request_options(args, key.key_spec)?;
    let out = args.out.as_deref().map(OutFile::open).transpose()?;
    ca.check()?;

    let mut agent = match &args.on_behalf_of {
        Some(_) if request_format(args) != RequestFormat::Cmc => {
            return Err(CliError::usage(
                "--on-behalf-of makes a CMC request (the agent signs it); --format pkcs10 cannot carry the agent's signature",
            ));
        }
        Some(_) => Some(agent_card(args)?),
        None => None,
    };

    let mut rng = softcard_file::os_rng().map_err(CliError::new)?;
    let mut client = connect(&args.image, &args.open)?;
    let (container, request) = match (&args.on_behalf_of, agent.as_mut()) {
        (Some(user), Some(agent)) => {
            let container = create_key(&mut client, args, &key, &mut rng)?;
            let request = Request::build_on_behalf_of(
                &options,
                user,
                &mut client.signer(&container),
                agent.certificate.der(),
                &mut agent.client.signer(&agent.container),
            )
            .map_err(|e| signing_failed(&e, &container))?;
            (container, request)
        }
        _ => create_and_sign(&mut client, args, &key, &options, &mut rng)?,
    };
    if let Some(out) = out {
        out.write(&if args.der {
            request.der.clone()
        } else {
            request.to_pem().into_bytes()
        })?;
    }
    let left = || {
        format!(
            "the key created in container {} stays on the card, without a certificate",
            container.name
        )
    };
    let disposition = ca
        .submit(&request, &args.template)
        .map_err(|e| CliError::new(format!("{e} ({})", left())))?;
    let request_id = match disposition {
        Disposition::Issued { request_id } => request_id,
        Disposition::Pending { request_id } => {
            return pending(args, &ca, request_id, Some(&container));
        }
        Disposition::Denied {
            request_id,
            message,
        } => {
            let id = request_id.map(|n| format!(" {n}")).unwrap_or_default();
            return Err(CliError::new(format!(
                "the CA denied the request{id}: \"{message}\" ({})",
                left()
            )));
        }
    };
    let der = match ca
        .certificate(request_id)
        .map_err(|e| CliError::new(format!("{e} ({})", left())))?
    {
        Retrieved::Certificate(der) => der,
        Retrieved::Pending => return pending(args, &ca, request_id, Some(&container)),
    };
    let cert = client
        .install_certificate(&container, &der)
        .map_err(|e| CliError::new(format!("request {request_id}: {} ({})", fail(e), left())))?;
    report(
        args,
        &ca,
        request_id,
        &container,
        &cert,
        client.application(),
    )
}

/// The agent's card (`--agent-image`): its container (`--agent-container`, else the one
/// whose certificate has the Certificate Request Agent usage) and certificate, and its
/// PIN verified, all before the user's card is touched.
fn agent_card(args: &Args) -> Result<AgentCard, CliError> {
    let image = args
        .agent_image
        .as_deref()
        .unwrap_or(std::path::Path::new(""));
    let what = |e: CliError| CliError::new(format!("the agent's card {}: {e}", image.display()));
    let mut client = connect(image, &args.open).map_err(what)?;
    let mut found = None;
    for container in client.containers().map_err(|e| what(fail(e)))? {
        if args
            .agent_container
            .as_deref()
            .is_some_and(|n| !n.eq_ignore_ascii_case(&container.name))
        {
            continue;
        }
        let Some(cert) = client
            .read_certificate(&container)
            .map_err(|e| what(fail(e)))?
        else {
            continue;
        };
        if args.agent_container.is_some() || cert.has_extended_key_usage(&Oid::ENROLLMENT_AGENT) {
            found = Some((container, cert));
            break;
        }
    }
    let (container, certificate) = found.ok_or_else(|| {
        what(CliError::new(match &args.agent_container {
            Some(name) => format!("no container {name} with a certificate"),
            None => "no container whose certificate has the Certificate Request Agent \
                     usage (1.3.6.1.4.1.311.20.2.1); name one with --agent-container"
                .to_owned(),
        }))
    })?;
    client
        .verify_pin(args.agent_pin.bytes())
        .map_err(|e| what(fail(e)))?;
    Ok(AgentCard {
        client,
        container,
        certificate,
    })
}

/// `--retrieve N`: the certificate of a pending request, installed in the container that
/// holds its key.
fn retrieve(args: &Args, ca: &CaClient, id: u32) -> Result<(), CliError> {
    let der = match ca.certificate(id)? {
        Retrieved::Certificate(der) => der,
        Retrieved::Pending => return pending(args, ca, id, None),
    };
    let certs = parse_certificates(&der).map_err(fail)?;
    let mut client = connect(&args.image, &args.open)?;
    if let Some(key) = &args.management_key {
        client.set_management_key(key.bytes());
    }
    let container = client
        .containers()
        .map_err(fail)?
        .into_iter()
        .find(|c| certs.iter().any(|cert| cert.certifies(&c.public_key)))
        .ok_or_else(|| {
            let subject = certs
                .first()
                .and_then(Certificate::subject)
                .unwrap_or_default();
            CliError::new(format!(
                "the certificate of request {id} ({subject}) certifies no key on this card: \
                 the request was made with another card"
            ))
        })?;
    client.verify_pin(args.pin.bytes()).map_err(fail)?;
    let cert = client.install_certificate(&container, &der).map_err(fail)?;
    report(args, ca, id, &container, &cert, client.application())
}

/// Prints a pending request and ends with [`PENDING_EXIT_CODE`].
fn pending(
    args: &Args,
    ca: &CaClient,
    id: u32,
    container: Option<&Container>,
) -> Result<(), CliError> {
    let image = args.image.display();
    let later = format!("softcard enroll {image} --ca {} --retrieve {id}", ca.base());
    if args.json {
        print_json(&serde_json::json!({
            "status": "pending",
            "request_id": id,
            "container": container.map(|c| c.name.clone()),
            "ca": ca.base(),
            "retrieve": later,
        }))?;
    } else {
        if let Some(c) = container {
            outln!("container: {}", c.name);
        }
        outln!("request: {id} pending at {}", ca.base());
    }
    Err(CliError::new(format!(
        "the certificate request {id} is pending: a CA manager must approve it; then run `{later}`"
    ))
    .with_code(PENDING_EXIT_CODE))
}

/// Prints an installed certificate.
fn report(
    args: &Args,
    ca: &CaClient,
    id: u32,
    container: &Container,
    cert: &Certificate,
    application: softcard_enroll::Application,
) -> Result<(), CliError> {
    let subject = cert.subject().unwrap_or_default();
    if args.json {
        return print_json(&serde_json::json!({
            "status": "issued",
            "request_id": id,
            "ca": ca.base(),
            "template": (args.retrieve.is_none()).then(|| args.template.clone()),
            "format": (args.retrieve.is_none()).then(|| format!("{:?}", request_format(args))),
            "container": container.name,
            "application": application.name(),
            "subject": subject,
            "friendly_name": args.friendly_name,
        }));
    }
    outln!("container: {}", container.name);
    outln!("request: {id} issued by {}", ca.base());
    outln!("certificate: {subject}, installed on the card");
    outln!(
        "friendly name: {} (for the certificate store; not in the request, not on the card)",
        args.friendly_name
    );
    Ok(())
}
