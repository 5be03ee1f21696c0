//! The container recipe (`packaging/Containerfile`): where a container engine runs
//! (`docker info` or `podman info` succeeds), the image is built and a job run in it reads
//! the card that its entry point serves in pcscd (`opensc-tool -a` in "Virtual PCD 00
//! 00"). Where none runs the test is skipped with a message saying so, even under
//! `SOFTCARD_E2E=require`: no package registry the tests may use provides a running engine.

use std::process::Command;

use softcard_tests::install::run_ok;
use softcard_tests::peer::workspace;

/// The first engine whose `info` succeeds, or why none does.
fn engine() -> Result<&'static str, String> {
    let mut why = Vec::new();
    for engine in ["docker", "podman"] {
        match Command::new(engine).arg("info").output() {
            Ok(out) if out.status.success() => return Ok(engine),
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                why.push(format!("`{engine} info` failed ({})", first.trim()));
            }
            Err(e) => why.push(format!("{engine}: {e}")),
        }
    }
    Err(why.join("; "))
}

#[test]
fn the_container_image_builds_and_serves_a_card_to_a_job() {
    let engine = match engine() {
        Ok(engine) => engine,
        Err(why) => {
            println!(
                "SKIPPED the_container_image_builds_and_serves_a_card_to_a_job: no container \
                 engine runs here, so packaging/Containerfile is not built: {why}"
            );
            return;
        }
    };
    let tag = "softcard-test:latest";
    run_ok(Command::new(engine).current_dir(workspace()).args([
        "build",
        "-f",
        "packaging/Containerfile",
        "-t",
        tag,
        ".",
    ]));
    let out = run_ok(Command::new(engine).args(["run", "--rm", tag, "opensc-tool", "-a"]));
    let atr = String::from_utf8_lossy(&out.stdout).to_lowercase();
    // The PIV profile's historical bytes spell "softcardPIV".
    assert!(atr.contains("73:6f:66:74:63:61:72:64"), "{atr}");
    // Daemonless too: exec on an image of its own (the served one is held by serve).
    let out = run_ok(Command::new(engine).args([
        "run",
        "--rm",
        tag,
        "sh",
        "-c",
        "softcard init /tmp/own.img --profile piv >/dev/null 2>&1 && \
         softcard exec --image /tmp/own.img -- pcsc_scan -r",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("softcard PIV 00 00"), "{text}");
}
