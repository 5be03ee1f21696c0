use super::*;
use crate::RequestFormat;

/// An issued page as certfnsh.asp writes it: the links in script and in the page.
const ISSUED: &str = "<HTML><Head><Title>Microsoft Active Directory Certificate Services</Title>\r\n\
<Script>function getEncoding(){return \"Enc=bin\";}\r\n\
function handleGetCert(){location=\"certnew.cer?ReqID=41&\"+getEncoding();}</Script></Head>\r\n\
<Body><P><B>Certificate Issued</B><P>The certificate you requested was issued to you.\r\n\
<A Href=\"certnew.cer?ReqID=41&amp;Enc=bin\">Download certificate</A></Body></HTML>";

const PENDING: &str = "<HTML><Head><Title>Microsoft Active Directory Certificate Services</Title></Head>\r\n\
<Body><P><B>Certificate Pending</B><P>Your certificate request has been received. However, \
you must wait for an administrator to issue the certificate you requested.\r\n\
<P>Your Request Id is 42.<P>Please return to this web site in a day or two to retrieve \
your certificate.</Body></HTML>";

const DENIED: &str = "<HTML><Head><Title>Microsoft Active Directory Certificate Services</Title></Head>\r\n\
<Body><P><B>Certificate Request Denied</B><P>Your certificate request was denied.\r\n\
<P>Your Request Id is 43. The disposition message is \"Denied by Policy Module  0x80094012, \
The permissions on the certificate template do not allow the current user to enroll for this \
type of certificate. &amp; more\".</Body></HTML>";

#[test]
fn issued_pending_and_denied_pages_are_told_apart() {
    assert_eq!(
        parse_answer(ISSUED).unwrap(),
        Disposition::Issued { request_id: 41 }
    );
    assert_eq!(
        parse_answer(PENDING).unwrap(),
        Disposition::Pending { request_id: 42 }
    );
    let Disposition::Denied {
        request_id,
        message,
    } = parse_answer(DENIED).unwrap()
    else {
        panic!("denied")
    };
    assert_eq!(request_id, Some(43));
    assert!(message.starts_with("Denied by Policy Module  0x80094012, The permissions"));
    assert!(
        message.ends_with("type of certificate. & more"),
        "{message}"
    );
}

#[test]
fn a_page_of_something_else_is_named_by_its_title() {
    let login =
        "<html><head><title>Sign in &mdash; Portal</title></head><body>Who are you?</body></html>";
    match parse_answer(login) {
        Err(EnrollError::UnexpectedPage(t)) => assert_eq!(t, "Sign in &mdash; Portal"),
        other => panic!("{other:?}"),
    }
    match parse_answer("\n\n  Internal error\nmore") {
        Err(EnrollError::UnexpectedPage(t)) => assert_eq!(t, "Internal error"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_answer(""),
        Err(EnrollError::UnexpectedPage(t)) if t == "an empty page"
    ));
    // A pending page without its request ID is not taken for one.
    assert!(parse_answer("<b>Certificate Pending</b>").is_err());
    let long = format!("<title>{}</title>", "x".repeat(300));
    let Err(EnrollError::UnexpectedPage(t)) = parse_answer(&long) else {
        panic!()
    };
    assert_eq!(t.len(), 103);
}

#[test]
fn retrieval_failures_say_pending_or_the_message() {
    let pending = "<Table><TR><TD>Disposition message:</TD>\r\n\t\t<TD>Taken Under Submission</TD></TR></Table>";
    assert_eq!(
        parse_retrieval_failure(pending).unwrap(),
        RetrievalFailure::Pending
    );
    let denied = "<P>Disposition message:\t\tDenied by Policy Module &quot;bad&quot;\r\n<P>more";
    assert_eq!(
        parse_retrieval_failure(denied).unwrap(),
        RetrievalFailure::Refused("Denied by Policy Module \"bad\"".into())
    );
    assert!(matches!(
        parse_retrieval_failure("<title>Not Found</title>"),
        Err(EnrollError::UnexpectedPage(t)) if t == "Not Found"
    ));
}

#[test]
fn the_certsrv_folder_is_found_in_any_form_of_the_url() {
    for (given, want) in [
        ("https://ca.example", "https://ca.example/certsrv"),
        ("https://ca.example/", "https://ca.example/certsrv"),
        ("https://ca.example/certsrv", "https://ca.example/certsrv"),
        ("https://ca.example/certsrv/", "https://ca.example/certsrv"),
        (
            "HTTP://127.0.0.1:8443/CertSrv/certfnsh.asp",
            "HTTP://127.0.0.1:8443/certsrv",
        ),
        ("https://h/pki/certsrv/x", "https://h/pki/certsrv"),
        ("http://[::1]:80", "http://[::1]:80/certsrv"),
    ] {
        assert_eq!(base_url(given).unwrap(), want, "{given}");
    }
    for bad in [
        "ca.example",
        "ftp://ca.example",
        "https://",
        "https:///certsrv",
        "https://u:p@host/certsrv",
        "https://host/certsrv?x=1",
        "https://host/cert srv",
    ] {
        assert!(
            matches!(base_url(bad), Err(EnrollError::InvalidOption(_))),
            "{bad}"
        );
    }
    let err = base_url("https://jane:secret@host")
        .unwrap_err()
        .to_string();
    assert!(err.contains("--user"), "{err}");
    assert_eq!(
        certificate_url("https://h/certsrv", 7, true),
        "https://h/certsrv/certnew.cer?ReqID=7&Enc=bin"
    );
    assert_eq!(
        certificate_url("https://h/certsrv", 7, false),
        "https://h/certsrv/certnew.cer?ReqID=7&Enc=b64"
    );
}

#[test]
fn the_form_carries_the_request_in_base64_and_the_template() {
    let request = Request {
        format: RequestFormat::Cmc,
        der: (0..=255).collect(),
        friendly_name: None,
    };
    let form = submit_form(
        &request,
        "SmartcardUser",
        &[("SAN", "upn=jane@example.com")],
    )
    .unwrap();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(field("Mode"), "newreq");
    assert_eq!(field("TargetStoreFlags"), "0");
    assert_eq!(field("SaveCert"), "yes");
    assert_eq!(
        field("CertAttrib"),
        "CertificateTemplate:SmartcardUser\r\nSAN:upn=jane@example.com\r\n"
    );
    let body = field("CertRequest");
    assert!(!body.contains("-----"), "{body}");
    let pem = format!(
        "-----BEGIN CMS-----\n{}-----END CMS-----\n",
        body.replace("\r\n", "\n")
    );
    assert_eq!(
        crate::pem::decode_all(pem.as_bytes()).unwrap()[0].1,
        request.der
    );
    for (name, value) in [("A:B", "x"), ("", "x"), ("A", "x\r\nB:y")] {
        assert!(submit_form(&request, "T", &[(name, value)]).is_err());
    }
    assert!(submit_form(&request, "T\nU", &[]).is_err());
    assert!(submit_form(&request, "", &[]).is_err());
}

#[test]
fn entities_decode_and_unknown_ones_stay() {
    assert_eq!(
        decode_entities("a&amp;b &lt;&gt; &#65;&#x42; &bogus; & end&"),
        "a&b <> AB &bogus; & end&"
    );
    assert_eq!(strip_tags("<b>x</b> &lt;y&gt;"), "x <y>");
}

#[test]
fn the_welcome_page_is_known_by_its_request_link() {
    let welcome = "<title>Microsoft Active Directory Certificate Services</title>\r\n\
        <A Href=\"/certsrv/CertRqUs.asp\">Request a certificate</A>";
    check_welcome(welcome).unwrap();
    assert!(matches!(
        check_welcome("<title>Router login</title>"),
        Err(EnrollError::UnexpectedPage(t)) if t == "Router login"
    ));
}
