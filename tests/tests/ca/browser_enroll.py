"""Runs the seed's Web Enrollment steps in Debian's chromium, headless, driven by Selenium.

Usage: browser_enroll.py URL USER PASSWORD CHROMIUM CHROMEDRIVER SERVER_CERT REQUEST_PEM
                         TEMPLATE SHOTS OUT

URL is the CA's home page (https://host:port/certsrv/). Basic authentication takes the user
and password from the URL chromium opens (https://user:password@host:port/certsrv/), after
a wrong password has been refused (no page). Chromium accepts the one key of SERVER_CERT
(PEM) by the base64 SHA-256 of its SubjectPublicKeyInfo
(--ignore-certificate-errors-spki-list), not any certificate.
Clicks Request a certificate, advanced certificate request, pastes the request, chooses the
template's option, submits, and on the issued page clicks the Base 64 and DER download
links. Writes a PNG of each page (enrollment-N-NAME.png) into SHOTS and the two downloads
(certnew-b64.cer, certnew.cer) into OUT, and prints one `ok NAME` line per step.
Any failure, or a run over 50 seconds, raises (non-zero exit).
"""

import base64
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException, TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

(url, user, password, chromium, chromedriver, server_cert, request_pem, template, shots_dir,
 out_dir) = sys.argv[1:11]
spki_der = subprocess.run(
    ["sh", "-c", 'openssl x509 -noout -pubkey -in "$0" | openssl pkey -pubin -outform DER',
     server_cert], check=True, capture_output=True).stdout
assert spki_der[:1] == b"\x30", "SubjectPublicKeyInfo of " + server_cert
spki = base64.b64encode(hashlib.sha256(spki_der).digest()).decode()


def out_of_time(signum, frame):
    raise TimeoutError("the browser steps took over 50 seconds")


# The whole run is bounded: past 50 s the steps stop and the browser is closed.
signal.signal(signal.SIGALRM, out_of_time)
signal.alarm(50)


def ok(name):
    print("ok", name, flush=True)


# A new, empty profile and download folder, both in OUT.
downloads = tempfile.mkdtemp(prefix="downloads-", dir=out_dir)
profile = tempfile.mkdtemp(prefix="profile-", dir=out_dir)
options = webdriver.ChromeOptions()
options.binary_location = chromium
for flag in [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1000,700", "--user-data-dir=" + profile,
    "--ignore-certificate-errors-spki-list=" + spki,
]:
    options.add_argument(flag)
options.add_experimental_option("prefs", {
    "download.default_directory": downloads,
    "download.prompt_for_download": False,
    "safebrowsing.enabled": False,
})
# The driver's path given: Selenium Manager is not asked to find (or download) one.
driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
driver.set_page_load_timeout(20)
driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                       {"behavior": "allow", "downloadPath": downloads})
shots = 0


def heading(d):
    """The page's heading (the bold line under the banner)."""
    return d.find_element(By.XPATH, "//p/font/b").text


def wait_for(title):
    """Waits for the page with this heading (a click's navigation may not have finished)."""
    try:
        WebDriverWait(driver, 15, ignored_exceptions=[NoSuchElementException,
                                                      StaleElementReferenceException]
                      ).until(lambda d: heading(d) == title)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"no page {title!r}: {body[:400]!r}") from None


def page(title, name):
    """Waits for the page with this heading and writes its screenshot."""
    global shots
    wait_for(title)
    shots += 1
    assert driver.save_screenshot(os.path.join(shots_dir, f"enrollment-{shots}-{name}.png"))
    ok(name)


def download(link_id, name):
    """Clicks a download link and returns the file once it is complete."""
    before = set(os.listdir(downloads))
    driver.find_element(By.ID, link_id).click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        new = [f for f in set(os.listdir(downloads)) - before if not f.endswith(".crdownload")]
        if new:
            assert len(new) == 1, new
            data = open(os.path.join(downloads, new[0]), "rb").read()
            os.rename(os.path.join(downloads, new[0]), os.path.join(out_dir, name))
            return data
        time.sleep(0.1)
    raise AssertionError(f"no download from #{link_id}: {os.listdir(downloads)}")


def with_credentials(secret):
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(secret, safe='')}@{rest}"


try:
    # A wrong password gets no page.
    driver.get(with_credentials(password + "-wrong"))
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Welcome" not in body, "a wrong password was let in"
    ok("wrong password refused")
    # Step 3: the Web Enrollment page (basic authentication with the URL's credentials).
    driver.get(with_credentials(password))
    page("Welcome", "welcome")
    # Step 4: Request a certificate.
    driver.find_element(By.LINK_TEXT, "Request a certificate").click()
    page("Request a Certificate", "request")
    # Step 5: Advanced Request.
    driver.find_element(By.LINK_TEXT, "advanced certificate request").click()
    page("Advanced Certificate Request", "advanced")
    driver.find_element(By.PARTIAL_LINK_TEXT, "base-64-encoded CMC or PKCS #10").click()
    # Steps 6-7: the request (made on the card by `softcard enroll`) and the template.
    wait_for("Submit a Certificate Request or Renewal Request")
    request = open(request_pem).read()
    area = driver.find_element(By.ID, "locTaRequest")
    area.send_keys(request)
    assert area.get_attribute("value").strip() == request.strip(), "the pasted request"
    choice = Select(driver.find_element(By.ID, "lbCertTemplateID"))
    choice.select_by_value("CertificateTemplate:" + template)
    page("Submit a Certificate Request or Renewal Request", "submit")
    # Step 9: Submit.
    driver.find_element(By.ID, "btnSubmit").click()
    page("Certificate Issued", "issued")
    # Step 11: the certificate, Base 64 and DER.
    pem = download("locDownloadCert2", "certnew-b64.cer")
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----"), pem[:40]
    ok("download base64")
    der = download("locDownloadCert1", "certnew.cer")
    assert der[:1] == b"\x30", der[:4]
    ok("download der")
finally:
    driver.quit()
