//! The YubiKey ecosystem's own hardware test suites, unmodified, against softcard: run by
//! `scripts/yubikey-suites` (which `scripts/install-deps.sh` installs), on the drop-in route
//! and, as root, through pcscd + vpcd.
//!
//! The gate: each run must report the recorded number of tests (the suite ran to its end),
//! at least the recorded number passed, and at most the recorded number failed or errored.
//! The records are those of `docs/compatibility.md`'s YubiKey suites tables, on the
//! `yubikey` card (firmware 5.7), the `yubikey-5.4` card and the generic `piv` card; a card change that makes more tests pass
//! fails nothing, and the record is raised with it.

use std::path::Path;
use std::process::Command;

use softcard_tests::peer::{self, workspace};
use softcard_tests::softcard_bin;

/// What one suite reported on one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: u32,
    failed: u32,
    skipped: u32,
    errors: u32,
}

impl Counts {
    fn total(self) -> u32 {
        self.passed + self.failed + self.skipped + self.errors
    }
}

/// A recorded result: the profile, the suite, the route and the counts.
struct Record {
    profile: &'static str,
    suite: &'static str,
    route: &'static str,
    counts: Counts,
}

const fn rec(
    profile: &'static str,
    suite: &'static str,
    route: &'static str,
    [passed, failed, skipped, errors]: [u32; 4],
) -> Record {
    Record {
        profile,
        suite,
        route,
        counts: Counts {
            passed,
            failed,
            skipped,
            errors,
        },
    }
}

/// The recorded counts (passed, failed, skipped, errors), as in docs/compatibility.md,
/// grouped by profile: each suite runs on every profile listed for it.
const RECORDS: &[Record] = &[
    rec("yubikey", "ykman", "dropin", [163, 0, 19, 0]),
    rec("yubikey", "ykman", "pcscd", [89, 0, 12, 0]),
    rec("yubikey", "yubikey", "dropin", [10, 0, 0, 0]),
    rec("yubikey", "yubikey", "pcscd", [10, 0, 0, 0]),
    rec("yubikey", "piv-go", "dropin", [23, 17, 0, 0]),
    rec("yubikey", "piv-go", "pcscd", [23, 17, 0, 0]),
    rec("yubikey", "ykcs11", "dropin", [5, 0, 0, 0]),
    rec("yubikey", "ykcs11", "pcscd", [5, 0, 0, 0]),
    rec("yubikey-5.4", "ykman", "dropin", [144, 0, 38, 0]),
    rec("yubikey-5.4", "ykman", "pcscd", [70, 0, 31, 0]),
    rec("yubikey-5.4", "yubikey", "dropin", [10, 0, 0, 0]),
    rec("yubikey-5.4", "yubikey", "pcscd", [10, 0, 0, 0]),
    rec("yubikey-5.4", "piv-go", "dropin", [39, 1, 0, 0]),
    rec("yubikey-5.4", "piv-go", "pcscd", [39, 1, 0, 0]),
    rec("yubikey-5.4", "ykcs11", "dropin", [5, 0, 0, 0]),
    rec("yubikey-5.4", "ykcs11", "pcscd", [5, 0, 0, 0]),
    rec("piv", "ykman", "dropin", [33, 55, 78, 16]),
    rec("piv", "ykman", "pcscd", [12, 25, 64, 0]),
    rec("piv", "yubikey", "dropin", [10, 0, 0, 0]),
    rec("piv", "yubikey", "pcscd", [10, 0, 0, 0]),
    rec("piv", "piv-go", "dropin", [16, 0, 24, 0]),
    rec("piv", "piv-go", "pcscd", [34, 6, 0, 0]),
    rec("piv", "ykcs11", "dropin", [0, 5, 0, 0]),
    rec("piv", "ykcs11", "pcscd", [5, 0, 0, 0]),
];

/// ykman's tests run on the pcscd route in the test command: its `test_piv.py`. Its
/// `cli/piv` tests take 8 to 17 minutes there (ykman retries for 3 s to open vpcd's second,
/// empty slot at each command); `scripts/yubikey-suites run` runs them all.
const YKMAN_PCSCD_TESTS: &str = "tests/device/test_piv.py";

/// Where `scripts/yubikey-suites install` put the suites.
fn suites_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("SOFTCARD_YK_SUITES") {
        return d.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_default();
    cache.join("softcard-yubikey-suites")
}

fn required() -> bool {
    std::env::var("SOFTCARD_E2E").as_deref() == Ok("require")
}

/// Parses `RESULT suite=S route=R profile=P passed=N failed=N skipped=N errors=N`.
fn parse(line: &str) -> Option<(String, Counts)> {
    let mut route = None;
    let mut n = [None; 4];
    for field in line.strip_prefix("RESULT ")?.split(' ') {
        let (k, v) = field.split_once('=')?;
        match k {
            "route" => route = Some(v.to_string()),
            "passed" => n[0] = v.parse().ok(),
            "failed" => n[1] = v.parse().ok(),
            "skipped" => n[2] = v.parse().ok(),
            "errors" => n[3] = v.parse().ok(),
            _ => {}
        }
    }
    let [Some(passed), Some(failed), Some(skipped), Some(errors)] = n else {
        return None;
    };
    Some((
        route?,
        Counts {
            passed,
            failed,
            skipped,
            errors,
        },
    ))
}

/// Runs `suite` on every card profile it has records for, on every route that can run
/// here, and checks each run against its record.
fn gate(suite: &str) {
    let installed = suites_dir().join("ykman/.done-5.9.2").exists();
    if !installed {
        assert!(
            !required(),
            "the YubiKey suites are required (SOFTCARD_E2E=require) but not installed: run scripts/yubikey-suites install"
        );
        println!(
            "SKIPPED {suite}: the YubiKey suites are not installed (scripts/yubikey-suites install)"
        );
        return;
    }
    let mut routes = vec!["dropin"];
    match peer::unavailable() {
        None => routes.push("pcscd"),
        Some(why) => {
            assert!(!required(), "{suite} on pcscd is required but {why}");
            println!("SKIPPED {suite} on pcscd: {why}");
        }
    }
    let mut profiles: Vec<&str> = RECORDS
        .iter()
        .filter(|r| r.suite == suite)
        .map(|r| r.profile)
        .collect();
    profiles.dedup();
    assert!(!profiles.is_empty(), "no records for {suite}");
    for profile in profiles {
        gate_profile(suite, profile, &routes);
    }
}

fn gate_profile(suite: &str, profile: &str, routes: &[&str]) {
    let out = tempfile::tempdir().expect("temporary folder");
    let run = Command::new(workspace().join("scripts/yubikey-suites"))
        .arg("run")
        .arg(suite)
        .env("SOFTCARD_BIN", softcard_bin::path())
        .env("SOFTCARD_YK_PROFILE", profile)
        .env("SOFTCARD_YK_ROUTES", routes.join(" "))
        .env("SOFTCARD_YK_OUT", out.path())
        .env("SOFTCARD_YK_YKMAN_PCSCD_TESTS", YKMAN_PCSCD_TESTS)
        .output()
        .expect("run scripts/yubikey-suites");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "scripts/yubikey-suites run {suite} ({profile} card):\n{stdout}{stderr}"
    );
    let results: Vec<(String, Counts)> = stdout.lines().filter_map(parse).collect();
    for &route in routes {
        let record = RECORDS
            .iter()
            .find(|r| r.profile == profile && r.suite == suite && r.route == route)
            .unwrap_or_else(|| panic!("no record for {suite} on {route} ({profile} card)"));
        let (_, got) = results
            .iter()
            .find(|(r, _)| r == route)
            .unwrap_or_else(|| panic!("{suite} on {route}: no result\n{stdout}{stderr}"));
        let want = record.counts;
        let failed_list =
            std::fs::read_to_string(out.path().join(format!("{suite}-{route}.failed")))
                .unwrap_or_default();
        let why = format!(
            "{suite} on {route} ({profile} card): got {got:?}, recorded {want:?}\n{failed_list}"
        );
        assert_eq!(got.total(), want.total(), "not every test ran: {why}");
        assert!(got.passed >= want.passed, "fewer passed: {why}");
        assert!(
            got.failed + got.errors <= want.failed + want.errors,
            "more failed: {why}"
        );
    }
}

#[test]
fn ykman_device_tests() {
    gate("ykman");
}

#[test]
fn yubikey_crate_integration_tests() {
    gate("yubikey");
}

#[test]
fn piv_go_tests() {
    gate("piv-go");
}

#[test]
fn ykcs11_with_pkcs11_tool() {
    gate("ykcs11");
}

#[test]
fn a_result_line_parses() {
    let (route, c) =
        parse("RESULT suite=ykman route=pcscd profile=piv passed=3 failed=1 skipped=2 errors=4")
            .expect("parses");
    assert_eq!(route, "pcscd");
    assert_eq!(
        c,
        Counts {
            passed: 3,
            failed: 1,
            skipped: 2,
            errors: 4
        }
    );
    assert!(parse("RESULT suite=ykman route=pcscd passed=3").is_none());
}
