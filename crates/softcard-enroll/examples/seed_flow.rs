//! The enrollment flow an enrollment client's test runs against a virtual card: a
//! windows-vsc card in memory, PIN 12345678, an RSA-2048 Exchange key in an automatically
//! named container, a CMC request with SHA-1 signed by the card, a certificate issued by a
//! throwaway test CA, installed on the card.
//!
//! ```text
//! cargo run -p softcard-enroll --example seed_flow
//! ```

use softcard::{Card, CardOptions, MemoryStorage, Profile};
use softcard_enroll::{
    CardClient, ContainerName, KeyAlgorithm, KeyRequest, KeySpec, RequestFormat, RequestOptions,
    testca::TestCa,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A reproducible card: the seed fixes every key (tests only).
    let card = Card::create_seeded(
        &CardOptions::new(Profile::WindowsVsc),
        7,
        Box::new(MemoryStorage::new()),
    )?;
    let mut rng = softcard::seeded_rng(8);

    let mut client = CardClient::connect(card)?;
    client.verify_pin(b"12345678")?;
    let key = KeyRequest {
        container: ContainerName::Automatic,
        algorithm: KeyAlgorithm::Rsa2048,
        key_spec: KeySpec::Exchange,
    };
    let options = RequestOptions::smartcard_user("CN=Jane Doe,O=Example");
    let (container, request) = client.enroll(&key, RequestFormat::Cmc, &options, &mut rng)?;
    println!("container {}", container.name);

    let ca = TestCa::new(&mut rng)?;
    let issued = ca.issue(&request.der, &mut rng)?;
    client.install_certificate(&container, issued.der())?;
    let stored = client
        .read_certificate(&container)?
        .ok_or("no certificate")?;
    assert_eq!(stored.der(), issued.der());
    println!("installed a {}-byte certificate", stored.der().len());
    Ok(())
}
