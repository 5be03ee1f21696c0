"""Drives `softcard ca serve` with the unmodified `certsrv` package from PyPI.

Usage: certsrv_client.py SERVER CAFILE USER PASSWORD CMC_PEM PKCS10_PEM SOFTCARD STATE

Prints one `ok NAME` line per check passed; any failure raises (non-zero exit).
"""

import base64
import subprocess
import sys

import certsrv
import requests

server, cafile, user, password, cmc_pem, p10_pem, softcard, state = sys.argv[1:9]
cmc = open(cmc_pem).read()
p10 = open(p10_pem).read()
ca = certsrv.Certsrv(server, user, password, cafile=cafile)


def ok(name):
    print("ok", name, flush=True)


def pem_der(pem):
    return base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----")))


# get_ca_cert, in both encodings, is the CA file the client trusts.
ca_pem = ca.get_ca_cert()
assert ca_pem.startswith(b"-----BEGIN CERTIFICATE-----"), ca_pem[:40]
assert pem_der(ca_pem.decode()) == pem_der(open(cafile).read().split("-----END")[0] + "-----END"), "CA cert"
assert ca.get_ca_cert(encoding="bin") == pem_der(ca_pem.decode())
ok("get_ca_cert")

chain = ca.get_chain()
assert chain[0] == 0x30 and pem_der(ca_pem.decode()) in chain, "chain holds the CA"
ok("get_chain")

# get_cert with softcard's CMC (SHA-1, as the seed) and PKCS#10 requests.
cert = ca.get_cert(cmc, "SmartcardUser")
assert cert.startswith(b"-----BEGIN CERTIFICATE-----"), cert[:40]
ok("get_cert CMC SmartcardUser")
cert = ca.get_cert(p10, "User", encoding="bin")
assert cert[0] == 0x30, cert[:4]
ok("get_cert PKCS#10 User bin")

# A pending request, approved with `softcard ca approve`, then fetched.
try:
    ca.get_cert(p10, "SmartcardUserApproval")
    raise AssertionError("not pending")
except certsrv.CertificatePendingException as e:
    req_id = e.req_id
try:
    ca.get_existing_cert(req_id)
    raise AssertionError("a pending request gave a certificate")
except certsrv.CouldNotRetrieveCertificateException as e:
    assert str(e) == "Taken Under Submission", str(e)
subprocess.run([softcard, "ca", "approve", "--state", state, req_id], check=True,
               stdout=subprocess.DEVNULL)
cert = ca.get_existing_cert(req_id)
assert cert.startswith(b"-----BEGIN CERTIFICATE-----"), cert[:40]
ok("pending, approve, get_existing_cert")

# Denied: `softcard ca deny`, then the message on retrieval.
try:
    ca.get_cert(p10, "SmartcardUserApproval")
except certsrv.CertificatePendingException as e:
    denied_id = e.req_id
subprocess.run([softcard, "ca", "deny", "--state", state, denied_id], check=True,
               stdout=subprocess.DEVNULL)
try:
    ca.get_existing_cert(denied_id)
    raise AssertionError("a denied request gave a certificate")
except certsrv.CouldNotRetrieveCertificateException as e:
    assert "0x80094014" in str(e), str(e)
ok("deny, get_existing_cert refused")


def denied(csr, template, code):
    try:
        ca.get_cert(csr, template)
    except certsrv.RequestDeniedException as e:
        assert str(e).startswith("Denied by Policy Module  " + code), str(e)
        return
    raise AssertionError("not denied: " + code)


denied(p10, "NoSuchTemplate", "0x80094800")
ok("unknown template denied")
denied("@@@ not base64 @@@", "User", "0x8007000d")
ok("malformed base64 denied")
# The same request with its signature's last byte changed: signed with another key.
der = bytearray(pem_der(p10))
der[-1] ^= 0x01
denied(base64.b64encode(bytes(der)).decode(), "User", "0x80090006")
ok("bad signature denied")
denied(base64.b64encode(b"\x30\x03\x02\x01\x00").decode(), "User", "0x8009310b")
ok("ASN.1 garbage denied")

# A 10 MB body is refused with 413, and the server keeps serving.
r = requests.post("https://%s/certsrv/certfnsh.asp" % server, auth=(user, password),
                  data={"Mode": "newreq", "CertRequest": "A" * (10 * 1024 * 1024)},
                  verify=cafile, timeout=60)
assert r.status_code == 413, r.status_code
assert ca.get_ca_cert() == ca_pem
ok("10 MB body refused with 413, server up")

# Authentication refused with a wrong password, and with none.
wrong = certsrv.Certsrv(server, user, password + "x", cafile=cafile)
assert wrong.check_credentials() is False
try:
    wrong.get_cert(p10, "User")
    raise AssertionError("a wrong password was let in")
except requests.exceptions.HTTPError as e:
    assert e.response.status_code == 401
    assert e.response.headers["WWW-Authenticate"].startswith("Basic realm=")
assert ca.check_credentials() is True
ok("wrong password refused with 401")
