//! Decoy passkeys, so that passwordless sign-in's user-name step does not tell which names
//! have a passkey (or exist): a name without one gets the same page as a name with one,
//! offering credential ids that no authenticator holds, and its answer fails the same way.
//!
//! The ids come from `webauthn-rs`'s own account-enumeration defence
//! (`WebauthnFakeCredentialGenerator` with its `FakePasskeyDistribution`): drawn from a
//! CSPRNG seeded by an HMAC of the name under a server key, so the same name always gets the
//! same ids (as a real user's passkeys do), and their number and lengths follow what real
//! authenticators produce (mostly one synced passkey; none for some names, as for a user who
//! has registered none). The key is derived from the second-factor key in `data_dir`, so it
//! is stable across restarts and the same on every gateway that shares that key.
//!
//! A decoy is a `Passkey` whose public key is the all-zero point, which is not on the curve:
//! no signature can verify against it. A sign-in is in any case only accepted for a
//! credential found among the user's stored passkeys (`Passkeys::finish_sign_in`), which a
//! decoy never is.

use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{
    AttestationFormat, AttestationMetadata, COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType,
    Credential, ECDSACurve, ParsedAttestation, ParsedAttestationData, Passkey,
};

/// The decoy passkeys of one configuration.
pub(super) struct Decoys {
    ids: WebauthnFakeCredentialGenerator<FakePasskeyDistribution>,
    /// A credential as `webauthn-rs` keeps one (its id replaced per decoy).
    template: serde_json::Value,
}

impl Decoys {
    /// Decoys keyed by `key` (a secret: who knows it can tell decoys from passkeys);
    /// `None` when `webauthn-rs` refuses the template (a version that changed its format:
    /// the unit tests say so first).
    pub(super) fn new(key: &[u8; 32]) -> Option<Decoys> {
        let ids = WebauthnFakeCredentialGenerator::new(key).ok()?;
        let cred = COSEKey {
            type_: COSEAlgorithm::ES256,
            key: COSEKeyType::EC_EC2(COSEEC2Key {
                curve: ECDSACurve::SECP256R1,
                x: vec![0; 32],
                y: vec![0; 32],
            }),
        };
        let attestation = ParsedAttestation {
            data: ParsedAttestationData::None,
            metadata: AttestationMetadata::None,
        };
        let template = serde_json::json!({
            "cred_id": "",
            "cred": serde_json::to_value(cred).ok()?,
            "counter": 0,
            "transports": ["internal", "hybrid"],
            "user_verified": true,
            "backup_eligible": true,
            "backup_state": true,
            "registration_policy": "required",
            "extensions": {},
            "attestation": serde_json::to_value(attestation).ok()?,
            "attestation_format": serde_json::to_value(AttestationFormat::None).ok()?,
        });
        let decoys = Decoys { ids, template };
        decoys.passkey(&[0; 16])?;
        Some(decoys)
    }

    fn passkey(&self, id: &[u8]) -> Option<Passkey> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let mut value = self.template.clone();
        value["cred_id"] = serde_json::Value::String(URL_SAFE_NO_PAD.encode(id));
        let credential: Credential = serde_json::from_value(value).ok()?;
        Some(Passkey::from(credential))
    }

    /// The decoy passkeys of `name`: the same ones every time; none for some names.
    pub(super) fn of(&self, name: &str) -> Vec<Passkey> {
        let ids = self.ids.generate(name.as_bytes()).unwrap_or_default();
        ids.iter().filter_map(|id| self.passkey(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(decoys: &Decoys, name: &str) -> Vec<Vec<u8>> {
        decoys
            .of(name)
            .into_iter()
            .map(|p| Credential::from(p).cred_id)
            .collect()
    }

    #[test]
    fn the_same_name_gets_the_same_decoys_and_another_key_others() {
        let decoys = Decoys::new(&[7; 32]).expect("webauthn-rs takes the template");
        let names: Vec<String> = (0..200).map(|n| format!("user{n}")).collect();
        let counts: Vec<usize> = names.iter().map(|n| decoys.of(n).len()).collect();
        assert!(counts.iter().all(|&c| c <= 3));
        assert!(
            counts.iter().filter(|&&c| c == 1).count() > 100,
            "mostly one passkey: {counts:?}"
        );
        assert!(
            counts.contains(&0),
            "some names have none, as real users may"
        );
        for name in &names {
            assert_eq!(ids(&decoys, name), ids(&decoys, name), "stable");
        }
        let other = Decoys::new(&[8; 32]).unwrap();
        let differ = names
            .iter()
            .filter(|n| !ids(&decoys, n).is_empty())
            .any(|n| ids(&decoys, n) != ids(&other, n));
        assert!(differ, "keyed");
        let lengths: Vec<usize> = names
            .iter()
            .flat_map(|n| ids(&decoys, n))
            .map(|id| id.len())
            .collect();
        assert!(
            lengths.iter().all(|l| [16, 20, 32, 64, 65].contains(l)),
            "{lengths:?}"
        );
    }

    #[test]
    fn a_decoy_cannot_verify() {
        let decoys = Decoys::new(&[7; 32]).unwrap();
        let name = (0..50)
            .map(|n| format!("u{n}"))
            .find(|n| !decoys.of(n).is_empty())
            .unwrap();
        let credential = Credential::from(decoys.of(&name).remove(0));
        match credential.cred.key {
            COSEKeyType::EC_EC2(ec) => {
                assert_eq!((ec.x, ec.y), (vec![0; 32], vec![0; 32]));
            }
            other => panic!("not the zero point: {other:?}"),
        }
    }
}
