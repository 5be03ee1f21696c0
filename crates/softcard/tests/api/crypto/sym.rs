//! Known-answer tests of the management-key ciphers: NIST SP 800-38A appendix F (AES ECB and
//! CBC) and the TDEA example of SP 800-67.

use softcard::crypto::CryptoError;
use softcard::crypto::sym::{SymAlg, SymKey, ct_eq};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// SP 800-38A F.1 / F.2 plaintext, the same for every AES vector.
const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
    30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
/// SP 800-38A F.2 initialization vector.
const IV: &str = "000102030405060708090a0b0c0d0e0f";

/// (algorithm, key, ECB ciphertext F.1.x, CBC ciphertext F.2.x)
const AES: [(SymAlg, &str, &str, &str); 3] = [
    (
        SymAlg::Aes128,
        "2b7e151628aed2a6abf7158809cf4f3c",
        "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
         43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
        "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
         73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
    ),
    (
        SymAlg::Aes192,
        "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
        "bd334f1d6e45f25ff712a214571fa5cc 974104846d0ad3ad7734ecb3ecee4eef
         ef7afd2270e2e60adce0ba2face6444e 9a4b41ba738d6c72fb16691603c18e0e",
        "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a
         571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
    ),
    (
        SymAlg::Aes256,
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870
         b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7",
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
         39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
    ),
];

fn h_ws(s: &str) -> Vec<u8> {
    h(&s.split_whitespace().collect::<String>())
}

#[test]
fn aes_ecb_sp800_38a() {
    for (alg, key, ecb, _) in AES {
        let key = SymKey::from_bytes(alg, &h(key)).unwrap();
        assert_eq!(key.block_len(), 16);
        let (plain, expected) = (h_ws(PLAIN), h_ws(ecb));
        for (p, c) in plain.chunks(16).zip(expected.chunks(16)) {
            let mut block = p.to_vec();
            key.encrypt_block(&mut block).unwrap();
            assert_eq!(block, c, "{alg:?} ECB encrypt");
            key.decrypt_block(&mut block).unwrap();
            assert_eq!(block, p, "{alg:?} ECB decrypt");
        }
    }
}

#[test]
fn aes_cbc_sp800_38a() {
    // The vectors use a non-zero IV; with a zero IV, XOR-ing the IV into the first plaintext
    // block gives the same chain of ciphertext blocks.
    let iv = h(IV);
    for (alg, key, _, cbc) in AES {
        let key = SymKey::from_bytes(alg, &h(key)).unwrap();
        let mut data = h_ws(PLAIN);
        data.iter_mut().zip(&iv).for_each(|(d, i)| *d ^= i);
        key.cbc_encrypt(&mut data).unwrap();
        assert_eq!(data, h_ws(cbc), "{alg:?} CBC encrypt");
        key.cbc_decrypt(&mut data).unwrap();
        data.iter_mut().zip(&iv).for_each(|(d, i)| *d ^= i);
        assert_eq!(data, h_ws(PLAIN), "{alg:?} CBC decrypt");
    }
}

/// SP 800-67 Rev. 2 appendix B: three-key TDEA, ECB, "The qufck brown fox jump".
#[test]
fn tdes_sp800_67() {
    let key = h("0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123");
    let key = SymKey::from_bytes(SymAlg::Tdes, &key).unwrap();
    assert_eq!(key.block_len(), 8);
    let plain = b"The qufck brown fox jump";
    let expected = h("A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900");
    for (p, c) in plain.chunks(8).zip(expected.chunks(8)) {
        let mut block = p.to_vec();
        key.encrypt_block(&mut block).unwrap();
        assert_eq!(block, c);
        key.decrypt_block(&mut block).unwrap();
        assert_eq!(block, p);
    }
    // CBC with a zero IV: the first block is plain ECB, the next ones chain.
    let mut data = plain.to_vec();
    key.cbc_encrypt(&mut data).unwrap();
    assert_eq!(data[..8], expected[..8]);
    let mut second = [0u8; 8];
    second
        .iter_mut()
        .zip(data[..8].iter().zip(&plain[8..16]))
        .for_each(|(s, (c, p))| *s = c ^ p);
    key.encrypt_block(&mut second).unwrap();
    assert_eq!(data[8..16], second);
    key.cbc_decrypt(&mut data).unwrap();
    assert_eq!(data, plain);
}

#[test]
fn lengths_are_checked() {
    assert_eq!(
        SymKey::from_bytes(SymAlg::Tdes, &[0; 16]),
        Err(CryptoError::InvalidKey)
    );
    assert_eq!(
        SymKey::from_bytes(SymAlg::Aes256, &[0; 24]),
        Err(CryptoError::InvalidKey)
    );
    let key = SymKey::from_bytes(SymAlg::Aes128, &[7; 16]).unwrap();
    assert_eq!(
        key.encrypt_block(&mut [0; 8]),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(
        key.decrypt_block(&mut [0; 32]),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(
        key.cbc_encrypt(&mut [0; 24]),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(key.cbc_decrypt(&mut []), Err(CryptoError::InvalidInput));
    assert_eq!(key.as_bytes(), &[7; 16]);
}

#[test]
fn debug_hides_the_key_and_ids_round_trip() {
    let key = SymKey::from_bytes(SymAlg::Aes192, &[0xAB; 24]).unwrap();
    let shown = format!("{key:?}");
    assert!(
        !shown.contains("171") && !shown.to_lowercase().contains("ab,"),
        "{shown}"
    );
    assert!(shown.contains("Aes192"));
    for alg in [SymAlg::Tdes, SymAlg::Aes128, SymAlg::Aes192, SymAlg::Aes256] {
        assert_eq!(SymAlg::from_piv_id(alg.piv_id()), Some(alg));
        assert_eq!(
            SymKey::from_bytes(alg, &vec![1; alg.key_len()])
                .unwrap()
                .algorithm(),
            alg
        );
    }
    assert_eq!(SymAlg::from_piv_id(0x07), None);
}

#[test]
fn constant_time_compare() {
    assert!(ct_eq(b"response", b"response"));
    assert!(!ct_eq(b"response", b"responsE"));
    assert!(!ct_eq(b"response", b"respons"));
    assert!(!ct_eq(b"", b"x"));
}
