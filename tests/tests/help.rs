//! `softcard --help` and the subcommands' help say what the README's first screen says:
//! the ways to install, the two commands, the three ways a program reaches a card; and
//! `softcard exec --help` states the rule by which the drop-in library is found, as
//! docs/installing.md does.

use softcard_tests::peer::workspace;
use softcard_tests::softcard_bin;

/// The README up to its layout table: install, the two commands, the three ways.
fn first_screen() -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let end = readme
        .find("## Layout")
        .expect("README has a Layout section");
    readme[..end].to_owned()
}

fn help(args: &[&str]) -> String {
    let out = softcard_bin::run(args);
    assert!(out.status.success(), "softcard {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_overview_in_help_is_the_readme_first_screen() {
    let readme = first_screen();
    let help = help(&["--help"]);
    for phrase in [
        "cargo install softcard-cli",
        "apt-get install ./",
        "packaging/Containerfile",
        "softcard demo",
        "scripts/test",
        "needs nothing installed",
        "as root",
        "in process",
        "softcard-pcsc",
        "softcard exec",
        "softcard serve",
        "libpcsclite.so.1",
        "pcscd through vpcd",
    ] {
        assert!(
            readme.contains(phrase),
            "README's first screen lacks {phrase:?}"
        );
        assert!(
            help.contains(phrase),
            "softcard --help lacks {phrase:?}:\n{help}"
        );
    }
    // Install, then the two commands, then the three ways: in both, in this order.
    for text in [&readme, &help] {
        let at = |needle: &str| text.find(needle).unwrap_or(usize::MAX);
        assert!(at("cargo install softcard-cli") < at("softcard demo"));
        assert!(at("softcard demo") < at("in process"));
    }
}

#[test]
fn subcommand_help_says_the_same() {
    let exec = help(&["exec", "--help"]);
    let rules = std::fs::read_to_string(workspace().join("docs/installing.md")).unwrap();
    for phrase in [
        "$SOFTCARD_PCSCLITE",
        "the copy this binary carries",
        "beside the binary",
        "../lib/softcard/libpcsclite.so.1",
    ] {
        assert!(
            exec.contains(phrase),
            "exec --help lacks {phrase:?}:\n{exec}"
        );
        assert!(
            rules.contains(phrase),
            "docs/installing.md lacks {phrase:?}"
        );
    }
    assert!(exec.contains("no daemon"), "{exec}");
    let serve = help(&["serve", "--help"]);
    assert!(serve.contains("pcscd"), "{serve}");
    assert!(serve.contains("vpcd"), "{serve}");
    let demo = help(&["demo", "--help"]);
    assert!(demo.contains("needs nothing installed"), "{demo}");
    assert!(demo.contains("scripts/test"), "{demo}");
}
