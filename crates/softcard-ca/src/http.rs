//! Just enough HTTP/1.1 (RFC 9112) for the pages: one request per connection, a body
//! given by `Content-Length` (no chunked uploads: browsers and `requests` send forms with
//! a length), `application/x-www-form-urlencoded` forms and query strings.

use std::io::{Read, Write};

/// Largest request head (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// A request.
#[derive(Debug)]
pub(crate) struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, percent-decoded, as sent.
    pub path: String,
    /// The query string's pairs.
    pub query: Vec<(String, String)>,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query's value for `name` (case ignored, as ASP does).
    pub fn query(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }
}

/// The first value of `name` among `pairs` (case ignored).
pub(crate) fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection failed or closed.
    Io,
    /// Not HTTP/1.x as this server reads it (400).
    Malformed(&'static str),
    /// A body over the limit (413); `length` is what was announced, `received` what
    /// came with the head.
    TooLarge { length: usize, received: usize },
    /// A body without `Content-Length` (411).
    LengthRequired,
}

/// Reads one request, refusing a body longer than `limit` before reading it.
pub(crate) fn read_request(stream: &mut dyn Read, limit: usize) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Malformed("request head too long"));
        }
        let n = stream.read(&mut chunk).map_err(|_| ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Io);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())
        .map_err(|_| ReadError::Malformed("request head is not text"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("not HTTP/1.x"));
    }
    let mut headers = Vec::new();
    for l in lines {
        let (name, value) = l
            .split_once(':')
            .ok_or(ReadError::Malformed("bad header line"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_string(),
        path: percent_decode(path),
        query: form_decode(query),
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return Err(ReadError::LengthRequired);
    }
    let length = match request.header("content-length") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ReadError::Malformed("bad Content-Length"))?,
        None => 0,
    };
    if length > limit {
        let received = buf.len().saturating_sub(head_end + 4);
        return Err(ReadError::TooLarge { length, received });
    }
    let mut body = buf.split_off(head_end + 4);
    if body.len() > length {
        return Err(ReadError::Malformed("more data than Content-Length"));
    }
    let missing = length - body.len();
    let mut rest = vec![0u8; missing];
    stream.read_exact(&mut rest).map_err(|_| ReadError::Io)?;
    body.extend_from_slice(&rest);
    request.body = body;
    Ok(request)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status` and a body.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// An HTML page (200).
    pub fn html(body: String) -> Self {
        Self::new(200, "text/html; charset=utf-8", body)
    }

    /// A short text error page with `status`.
    pub fn error(status: u16, message: &str) -> Self {
        let reason = reason(status);
        Self::new(
            status,
            "text/html; charset=utf-8",
            format!(
                "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1><p>{}</p></body></html>\r\n",
                crate::pages::escape(message)
            ),
        )
    }

    /// Writes it, with `Connection: close`.
    pub fn write(&self, stream: &mut dyn Write) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nServer: softcard-ca\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        _ => "Error",
    }
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
pub(crate) fn form_decode(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&n.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes (a bad escape stays as it is); invalid UTF-8 is replaced.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_percent() {
        assert_eq!(
            form_decode("Mode=newreq&CertAttrib=CertificateTemplate%3AUser%0D%0A&x=a+b&bad=%zz"),
            vec![
                ("Mode".into(), "newreq".into()),
                ("CertAttrib".into(), "CertificateTemplate:User\r\n".into()),
                ("x".into(), "a b".into()),
                ("bad".into(), "%zz".into()),
            ]
        );
    }

    #[test]
    fn a_request_is_read_with_its_body() {
        let raw =
            b"POST /certsrv/certfnsh.asp?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let r = read_request(&mut &raw[..], 100).unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/certsrv/certfnsh.asp")
        );
        assert_eq!(r.query("A"), Some("1"));
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn an_oversized_body_is_refused_before_it_is_read() {
        let raw = b"POST / HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n";
        assert!(matches!(
            read_request(&mut &raw[..], 1000),
            Err(ReadError::TooLarge {
                length: 10_485_760,
                received: 0
            })
        ));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            read_request(&mut &chunked[..], 1000),
            Err(ReadError::LengthRequired)
        ));
        assert!(matches!(
            read_request(&mut &b"GARBAGE\r\n\r\n"[..], 1000),
            Err(ReadError::Malformed(_))
        ));
    }
}
