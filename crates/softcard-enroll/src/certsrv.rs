//! The client's side of AD CS Web Enrollment (the `certsrv` pages), without I/O: the URLs,
//! the request form, and the reading of the pages a CA answers with.
//!
//! The pages are the ones a browser uses in the seed's steps ([MS-WCCE] is the protocol
//! behind them; the pages themselves are IIS's ASP):
//!
//! | step | request | answer |
//! |---|---|---|
//! | Submit | `POST certfnsh.asp` with `Mode=newreq`, `CertRequest` (base64), `CertAttrib` (`CertificateTemplate:NAME`, one attribute a line), `TargetStoreFlags=0`, `SaveCert=yes` | the issued page (links `certnew.cer?ReqID=N&Enc=...`), the pending page ("Certificate Pending", "Your Request Id is N."), or the denied page ("The disposition message is "..."") |
//! | Install this certificate | `GET certnew.cer?ReqID=N&Enc=bin` | the DER certificate, `Content-Type: application/pkix-cert`; else a page whose "Disposition message:" says why |
//!
//! A CA's answers are read as the pages say them, in the words AD CS uses, which are also
//! the words the Python `certsrv` client looks for.

use crate::{EnrollError, Request};

/// The `Content-Type` of a certificate `certnew.cer` hands back.
pub const CERTIFICATE_CONTENT_TYPE: &str = "application/pkix-cert";

/// The path of the request form's target, under the certsrv folder.
pub const SUBMIT_PAGE: &str = "certfnsh.asp";

/// The certsrv folder of a CA given as `https://host`, `https://host/` or
/// `https://host/certsrv[/]` (any page under it, such as `.../certsrv/certfnsh.asp`, is
/// cut back to the folder): `https://host/certsrv`, without a final slash.
///
/// # Errors
/// [`EnrollError::InvalidOption`] for a URL that is not `http://` or `https://` with a
/// host, or that carries a query or a fragment.
pub fn base_url(ca: &str) -> Result<String, EnrollError> {
    let bad = |why: &str| Err(EnrollError::InvalidOption(format!("CA URL {ca:?}: {why}")));
    let Some((scheme, rest)) = ca.split_once("://") else {
        return bad("not a URL (https://host/certsrv)");
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return bad("the scheme is neither https nor http");
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a query, a fragment or a space has no place in it");
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() || host.contains('@') {
        return bad("no host (credentials go in --user and the password file, not the URL)");
    }
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if let Some(at) = parts.iter().position(|p| p.eq_ignore_ascii_case("certsrv")) {
        parts.truncate(at);
    }
    parts.push("certsrv");
    Ok(format!("{scheme}://{host}/{}", parts.join("/")))
}

/// The URL of the certificate of request `id`, in DER (`Enc=bin`) or base64 (`Enc=b64`).
pub fn certificate_url(base: &str, id: u32, der: bool) -> String {
    let enc = if der { "bin" } else { "b64" };
    format!("{base}/certnew.cer?ReqID={id}&Enc={enc}")
}

/// The fields of the request form as the Advanced Request page posts them: the request in
/// base64 (the body of its PEM, as the page's text box takes it), the template as the
/// `CertificateTemplate` request attribute, and the others attributes one a line
/// (`Name:Value`).
///
/// # Errors
/// [`EnrollError::InvalidOption`] for a template name or attribute holding a line break or
/// a colon in its name (it would become another attribute).
pub fn submit_form(
    request: &Request,
    template: &str,
    attributes: &[(&str, &str)],
) -> Result<Vec<(&'static str, String)>, EnrollError> {
    let line = |name: &str, value: &str| {
        if name.is_empty()
            || name.contains(':')
            || [name, value].iter().any(|s| s.contains(['\r', '\n']))
        {
            return Err(EnrollError::InvalidOption(format!(
                "request attribute {name:?}: a name without ':' and values on one line"
            )));
        }
        Ok(format!("{name}:{value}\r\n"))
    };
    if template.is_empty() {
        return Err(EnrollError::InvalidOption(
            "an empty certificate template name".into(),
        ));
    }
    let mut attrib = line("CertificateTemplate", template)?;
    for (name, value) in attributes {
        attrib.push_str(&line(name, value)?);
    }
    Ok(vec![
        ("Mode", "newreq".to_owned()),
        ("CertRequest", base64_body(&request.to_pem())),
        ("CertAttrib", attrib),
        ("TargetStoreFlags", "0".to_owned()),
        ("SaveCert", "yes".to_owned()),
    ])
}

/// The base64 lines of a PEM document, without its BEGIN and END lines.
fn base64_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(|l| format!("{l}\r\n"))
        .collect()
}

/// Checks that the page at the certsrv folder is Web Enrollment's welcome page: it links
/// to `certrqus.asp` ("Request a certificate"), in any language AD CS speaks.
///
/// # Errors
/// [`EnrollError::UnexpectedPage`] naming the page by its title.
pub fn check_welcome(page: &str) -> Result<(), EnrollError> {
    if page.to_ascii_lowercase().contains("certrqus.asp") {
        Ok(())
    } else {
        Err(EnrollError::UnexpectedPage(describe(page)))
    }
}

/// What a CA decided about a request, as its answer page says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Issued: `certnew.cer?ReqID=N` gives the certificate.
    Issued {
        /// The request ID.
        request_id: u32,
    },
    /// Taken under submission: a CA manager must approve it.
    Pending {
        /// The request ID to ask for it later.
        request_id: u32,
    },
    /// Denied, with the CA's disposition message.
    Denied {
        /// The request ID, when the page gives it.
        request_id: Option<u32>,
        /// The disposition message, e.g. `Denied by Policy Module`.
        message: String,
    },
}

/// Reads the page `certfnsh.asp` answered a submission with.
///
/// # Errors
/// [`EnrollError::UnexpectedPage`] when the page is none of the three (not a certsrv
/// endpoint, a login or error page of something else), naming its title.
pub fn parse_answer(page: &str) -> Result<Disposition, EnrollError> {
    if let Some(request_id) = number_after(page, "certnew.cer?ReqID=") {
        return Ok(Disposition::Issued { request_id });
    }
    let request_id = number_after(page, "Your Request Id is ");
    if let Some(message) = quoted_after(page, "The disposition message is \"") {
        return Ok(Disposition::Denied {
            request_id,
            message,
        });
    }
    match request_id {
        Some(request_id) if page.contains("Certificate Pending") => {
            Ok(Disposition::Pending { request_id })
        }
        _ => Err(EnrollError::UnexpectedPage(describe(page))),
    }
}

/// What `certnew.cer` said instead of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetrievalFailure {
    /// The request is still pending ("Taken Under Submission").
    Pending,
    /// Denied, failed or unknown: the page's disposition message.
    Refused(String),
}

/// Reads the page `certnew.cer` answered with when it sent no certificate: its
/// "Disposition message:", which says "Taken Under Submission" for a request still
/// pending.
///
/// # Errors
/// [`EnrollError::UnexpectedPage`] for a page without a disposition message.
pub fn parse_retrieval_failure(page: &str) -> Result<RetrievalFailure, EnrollError> {
    let Some(at) = page.find("Disposition message:") else {
        return Err(EnrollError::UnexpectedPage(describe(page)));
    };
    let rest = strip_tags(&page[at + "Disposition message:".len()..]);
    let message = rest
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned();
    if message.to_ascii_lowercase().contains("under submission") {
        return Ok(RetrievalFailure::Pending);
    }
    Ok(RetrievalFailure::Refused(message))
}

/// The decimal number right after `marker`.
fn number_after(page: &str, marker: &str) -> Option<u32> {
    let at = page.find(marker)? + marker.len();
    let digits: String = page[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The text after `marker` up to the next `"`, with HTML entities decoded.
fn quoted_after(page: &str, marker: &str) -> Option<String> {
    let at = page.find(marker)? + marker.len();
    let end = page[at..].find('"')?;
    Some(decode_entities(page[at..at + end].trim()))
}

/// A page described for an error message: its title, else its first line of text, cut to
/// 100 characters.
fn describe(page: &str) -> String {
    let lower = page.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .map(|at| at + "<title>".len())
        .and_then(|at| lower[at..].find("</title>").map(|end| &page[at..at + end]));
    let text = match title {
        Some(t) if !t.trim().is_empty() => decode_entities(t.trim()),
        _ => strip_tags(page)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("an empty page")
            .to_owned(),
    };
    let mut cut: String = text.chars().filter(|c| !c.is_control()).take(100).collect();
    if text.chars().count() > 100 {
        cut.push_str("...");
    }
    cut
}

/// The text of an HTML fragment: tags dropped, entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out)
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric entities; an
/// unknown one stays as it is.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest
            .get(1..)
            .and_then(|r| r.find(';').filter(|&end| end <= 8).map(|end| &r[..end]));
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e => e
                .strip_prefix("#x")
                .or_else(|| e.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
