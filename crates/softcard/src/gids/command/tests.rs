//! GIDS commands as clients send them, and the status words of malformed ones.

use super::*;
use crate::crypto::KeyAlgorithm;

fn parse(bytes: &[u8]) -> Result<GidsCommand<'_>, Status> {
    let cmd = Command::parse(bytes).unwrap();
    GidsCommand::try_from(&cmd)
}

#[test]
fn commands_as_clients_send_them() {
    assert!(matches!(
        parse(&[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x57, 0x84, 1, 0x81]),
        Ok(GidsCommand::MseKey {
            op: SecOp::Sign,
            algorithm: AlgorithmRef(0x57),
            key: 0x81
        })
    ));
    assert!(matches!(
        parse(&[0, 0x22, 0xC1, 0xA4, 3, 0x83, 1, 0x80]),
        Ok(GidsCommand::MseAdmin {
            key: AuthKey::Admin
        })
    ));
    assert!(matches!(
        parse(&[0, 0x47, 0, 0, 8, 0xAC, 6, 0x80, 1, 7, 0x83, 1, 0x81]),
        Ok(GidsCommand::Generate {
            algorithm: AlgorithmRef(7),
            key: 0x81,
            want_public: false
        })
    ));
    assert!(matches!(
        parse(&[0, 0x20, 0, 0x82]),
        Ok(GidsCommand::Logout)
    ));
    assert!(matches!(
        parse(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0xFF]),
        Ok(GidsCommand::SelectFile {
            file: FileId::Application,
            fcp: false
        })
    ));
}

#[test]
fn malformed_commands_get_their_status() {
    assert_eq!(
        parse(&[0x80, 0x20, 0, 0x80]).err(),
        Some(Status::ClaNotSupported)
    );
    assert_eq!(
        parse(&[0, 0x20, 1, 0x80]).err(),
        Some(Status::IncorrectP1P2)
    );
    assert_eq!(
        parse(&[0, 0x2A, 0x9E, 0x9B, 1, 0]).err(),
        Some(Status::IncorrectP1P2)
    );
    assert_eq!(
        parse(&[0, 0x22, 0x41, 0xB6, 3, 0x80, 1, 0x57]).err(),
        Some(Status::WrongData)
    );
    assert_eq!(
        parse(&[0, 0xCB, 0x3F, 0xFF]).err(),
        Some(Status::WrongLength)
    );
    assert_eq!(
        parse(&[0, 0x87, 0, 0, 2, 0x7D, 0]).err(),
        Some(Status::WrongData)
    );
    assert_eq!(parse(&[0, 0x99, 0, 0]).err(), Some(Status::InsNotSupported));
}

#[test]
fn algorithm_references() {
    assert_eq!(AlgorithmRef(0x07).rsa(), Ok(KeyAlgorithm::Rsa2048));
    assert_eq!(AlgorithmRef(0x57).rsa(), Ok(KeyAlgorithm::Rsa2048));
    assert_eq!(AlgorithmRef(0x49).rsa(), Ok(KeyAlgorithm::Rsa4096));
    assert_eq!(AlgorithmRef(0x0C).rsa(), Err(Status::FunctionNotSupported));
    assert_eq!(AlgorithmRef(0x57).scheme(), Scheme::Pkcs1Sign);
    assert_eq!(AlgorithmRef(0x87).scheme(), Scheme::OaepSha1);
    assert!(AlgorithmRef(0x17).same_key_size(AlgorithmRef(0x57)));
}

#[test]
fn references_and_templates_are_typed() {
    assert!(matches!(
        parse(&[0, 0xCB, 0x3F, 0xFF, 4, 0x5C, 2, 0x7F, 0x71]),
        Ok(GidsCommand::GetAppletData(AppletRead::PinStatus(
            PinStatusDo::Pin
        )))
    ));
    assert!(matches!(
        parse(&[
            0, 0xCB, 0x3F, 0xFF, 9, 0x70, 7, 0x84, 1, 0x81, 0xA5, 2, 0x7F, 0x49
        ]),
        Ok(GidsCommand::GetAppletData(AppletRead::PublicKey(0x81)))
    ));
    assert!(matches!(
        parse(&[0, 0xCB, 0, 0, 3, 0x5C, 1, 0xDF]),
        Ok(GidsCommand::GetData {
            file: DataFile::Current,
            select: DoSelector::One(0xDF)
        })
    ));
    assert!(matches!(
        parse(&[0, 0x87, 0, 0, 4, 0x7C, 2, 0x81, 0]),
        Ok(GidsCommand::GeneralAuthenticate(
            AuthStep::ExternalChallenge
        ))
    ));
    assert!(matches!(
        parse(&[0, 0x87, 0, 0, 5, 0x7C, 3, 0x81, 1, 0]),
        Ok(GidsCommand::GeneralAuthenticate(AuthStep::BadChallenge))
    ));
    assert!(matches!(
        parse(&[0, 0x20, 0, 0x80]),
        Ok(GidsCommand::Verify {
            pin_ref: UserPin,
            pin: None
        })
    ));
    assert!(matches!(
        parse(&[0, 0xE4, 0, 0, 2, 0xB0, 0x81]),
        Ok(GidsCommand::DeleteFile {
            file: Some(FileId::Key(0x81))
        })
    ));
}

#[test]
fn malformed_references_get_their_status() {
    let cases: [(&[u8], Status); 8] = [
        // The PUK (81) and any reference but the user PIN's are not found.
        (&[0, 0x20, 0, 0x81], Status::ReferencedDataNotFound),
        (&[0, 0x24, 1, 0x81, 1, 0x31], Status::ReferencedDataNotFound),
        // The application DF and the administrator key file cannot be deleted.
        (&[0, 0xE4, 0, 0, 2, 0x3F, 0xFF], Status::FileNotFound),
        (&[0, 0xE4, 0, 0, 2, 0xB0, 0x80], Status::FileNotFound),
        (&[0, 0xA4, 0, 0x0C, 2, 0x12, 0x34], Status::FileNotFound),
        (
            &[0, 0xCB, 0x3F, 0xFF, 4, 0x5C, 2, 0x7F, 0x73],
            Status::ReferencedDataNotFound,
        ),
        (
            &[0, 0xCB, 0xA0, 0x10, 6, 0x5C, 4, 1, 2, 3, 4],
            Status::WrongData,
        ),
        (&[0, 0x87, 0, 0, 4, 0x7C, 2, 0x83, 0], Status::WrongData),
    ];
    for (apdu, status) in cases {
        assert_eq!(parse(apdu).err(), Some(status), "{apdu:02X?}");
    }
}
