//! Typed PIV commands as clients send them, and the status words of malformed ones.

use super::*;

fn parse(bytes: &[u8]) -> Result<PivCommand<'_>, Status> {
    PivCommand::try_from(&Command::parse(bytes).unwrap())
}

#[test]
fn general_authenticate_names_its_key() {
    assert_eq!(
        parse(&[0, 0x87, 0x00, 0x9B, 4, 0x7C, 2, 0x81, 0]),
        Ok(PivCommand::Authenticate(Authenticate::Management {
            alg: MgmtAlgId::Legacy,
            step: MgmtStep::ChallengeRequest
        }))
    );
    assert_eq!(
        parse(&[0, 0x87, 0x08, 0x9B, 4, 0x7C, 2, 0x80, 0]),
        Ok(PivCommand::Authenticate(Authenticate::Management {
            alg: MgmtAlgId::Named(SymAlg::Aes128),
            step: MgmtStep::WitnessRequest
        }))
    );
    assert_eq!(
        parse(&[0, 0x87, 0x11, 0x9A, 7, 0x7C, 5, 0x82, 0, 0x81, 1, 0xAB]),
        Ok(PivCommand::Authenticate(Authenticate::Private {
            alg: Some(KeyAlgorithm::P256),
            slot: Slot::Authentication,
            op: PrivateOp::Sign(&[0xAB])
        }))
    );
    assert_eq!(
        parse(&[0, 0xF7, 0, 0x81]),
        Ok(PivCommand::GetMetadata(KeyRef::Pin(PinRef::Puk)))
    );
}

#[test]
fn malformed_general_authenticate_gets_its_status() {
    // The template is read first.
    assert_eq!(
        parse(&[0, 0x87, 0x11, 0x42, 4, 0x7C, 2, 0x83, 0]),
        Err(Status::WrongData)
    );
    assert_eq!(
        parse(&[0, 0x87, 0x11, 0x42, 4, 0x7C, 2, 0x81, 0]),
        Err(Status::ReferencedDataNotFound)
    );
    assert_eq!(
        parse(&[0, 0x87, 0x11, 0xF9, 7, 0x7C, 5, 0x82, 0, 0x81, 1, 0xAB]),
        Err(Status::IncorrectP1P2)
    );
    assert_eq!(
        parse(&[0, 0x87, 0x03, 0x9B, 7, 0x7C, 5, 0x82, 0, 0x81, 1, 0xAB]),
        Err(Status::IncorrectP1P2)
    );
    assert_eq!(
        parse(&[0, 0xF7, 0, 0x42]),
        Err(Status::ReferencedDataNotFound)
    );
    // SET MANAGEMENT KEY with the legacy identifier names no algorithm.
    let mut set = vec![0, 0xFF, 0xFF, 0xFF, 27, 0x00, 0x9B, 24];
    set.extend_from_slice(&[1; 24]);
    assert_eq!(parse(&set), Err(Status::WrongData));
}
