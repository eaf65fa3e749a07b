//! One signing key: generated (ES256 and Ed25519 by ring, RSA by the `rsa` crate's key
//! generation only) or read from PEM, then held as a ring key pair that signs, beside the
//! public key that verifies and its JWK.
//!
//! ring signs all three algorithms. The `rsa` crate is used for nothing but generating an
//! RSA key (ring cannot), which is encoded as PKCS#8 and loaded into ring: its own signing
//! is never used (RUSTSEC-2023-0071).

/// Why a key cannot be generated or loaded: the key ring's error (names the source, never
/// key material).
pub use crate::tokens::keyring::KeyError;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

use super::alg::Alg;
use super::jwk::PublicJwk;

/// The RSA modulus size authgate generates.
pub const RSA_BITS: usize = 2048;

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key that signs, and the public key that verifies its signatures.
pub struct KeyPair {
    alg: Alg,
    signer: Signer,
    verifier: signature::UnparsedPublicKey<Vec<u8>>,
    jwk: PublicJwk,
    kid: String,
    /// The private key as PKCS#8 DER, kept to persist a generated key.
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A new random key for `alg`. RSA generation takes a noticeable time (see
    /// [`RSA_BITS`]): call it off the async threads.
    pub fn generate(alg: Alg) -> Result<KeyPair, KeyError> {
        let rng = SystemRandom::new();
        let failed = |_| KeyError(format!("cannot generate a {alg} key"));
        let pkcs8 = match alg {
            Alg::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec()
            }
            Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            Alg::Rs256 => generate_rsa_pkcs8()?,
        };
        KeyPair::from_pkcs8(alg, &pkcs8)
    }

    /// A PKCS#8 private key that must be of `alg`.
    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> Result<KeyPair, KeyError> {
        let rejected = |e: ring::error::KeyRejected| {
            KeyError(format!("not a usable {alg} private key (PKCS#8): {e}"))
        };
        let signer = match alg {
            Alg::Rs256 => Signer::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            Alg::Es256 => Signer::Ec(
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &SystemRandom::new(),
                )
                .map_err(rejected)?,
            ),
            // PKCS#8 v2 (ring's own) carries the public key and is checked against it;
            // OpenSSL writes v1, without it.
            Alg::EdDsa => Signer::Ed(
                Ed25519KeyPair::from_pkcs8(der)
                    .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
                    .map_err(rejected)?,
            ),
        };
        KeyPair::assemble(alg, signer, der.to_vec())
    }

    /// A PKCS#8 private key of any of the three algorithms (tried in turn).
    pub fn from_pkcs8_any(der: &[u8]) -> Result<KeyPair, KeyError> {
        [Alg::EdDsa, Alg::Es256, Alg::Rs256]
            .into_iter()
            .find_map(|alg| KeyPair::from_pkcs8(alg, der).ok())
            .ok_or_else(|| {
                KeyError("not an RSA (2048 to 8192 bits), P-256 or Ed25519 private key".to_owned())
            })
    }

    /// A PEM file's one private key: PKCS#8 (`BEGIN PRIVATE KEY`) of any algorithm, or
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`). SEC1 EC keys are refused with the command that
    /// converts them. `source` names the file in errors.
    pub fn from_pem(pem: &[u8], source: &str) -> Result<KeyPair, KeyError> {
        use rustls_pemfile::Item;
        let mut reader = pem;
        let mut found = None;
        loop {
            let item = rustls_pemfile::read_one_from_slice(reader)
                .map_err(|_| KeyError(format!("{source}: not a PEM file")))?;
            let Some((item, rest)) = item else { break };
            reader = rest;
            let key = match item {
                Item::Pkcs8Key(der) => {
                    let der = der.secret_pkcs8_der();
                    KeyPair::from_pkcs8_any(der).map_err(|e| {
                        use rsa::pkcs8::DecodePrivateKey;
                        let rsa = rsa::RsaPrivateKey::from_pkcs8_der(der).ok();
                        KeyError(rsa.map_or_else(
                            || format!("{source}: {e}"),
                            |key| rsa_refused(source, &key),
                        ))
                    })?
                }
                Item::Pkcs1Key(der) => {
                    // Converted to PKCS#8 (by the `rsa` crate's encoding, never its signing),
                    // so that the key can be kept in the store like any other.
                    use rsa::pkcs1::DecodeRsaPrivateKey;
                    use rsa::pkcs8::EncodePrivateKey;
                    let key = rsa::RsaPrivateKey::from_pkcs1_der(der.secret_pkcs1_der())
                        .map_err(|_| KeyError(format!("{source}: not a usable RSA private key")))?;
                    let pkcs8 = key.to_pkcs8_der().map_err(|_| {
                        KeyError(format!("{source}: the RSA key cannot be encoded as PKCS#8"))
                    })?;
                    KeyPair::from_pkcs8(Alg::Rs256, pkcs8.as_bytes())
                        .map_err(|_| KeyError(rsa_refused(source, &key)))?
                }
                Item::Sec1Key(_) => {
                    return Err(KeyError(format!(
                        "{source}: an EC PRIVATE KEY (SEC1) file; convert it to PKCS#8 with \
                         `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8`"
                    )))
                }
                _ => continue,
            };
            if found.replace(key).is_some() {
                return Err(KeyError(format!(
                    "{source}: holds more than one private key; give each its own file"
                )));
            }
        }
        found.ok_or_else(|| KeyError(format!("{source}: holds no private key")))
    }

    fn assemble(alg: Alg, signer: Signer, pkcs8: Vec<u8>) -> Result<KeyPair, KeyError> {
        let (jwk, public, verify_alg): (_, Vec<u8>, &'static dyn signature::VerificationAlgorithm) =
            match &signer {
                Signer::Rsa(pair) => {
                    let public = pair.public();
                    let components: ring::rsa::PublicKeyComponents<Vec<u8>> = public.into();
                    (
                        PublicJwk::rsa(&components.n, &components.e),
                        public.as_ref().to_vec(),
                        &signature::RSA_PKCS1_2048_8192_SHA256,
                    )
                }
                Signer::Ec(pair) => {
                    let point = pair.public_key().as_ref();
                    let jwk = PublicJwk::p256(point)
                        .ok_or_else(|| KeyError("not a P-256 public key".to_owned()))?;
                    (jwk, point.to_vec(), &signature::ECDSA_P256_SHA256_FIXED)
                }
                Signer::Ed(pair) => {
                    let public = pair.public_key().as_ref();
                    (
                        PublicJwk::ed25519(public),
                        public.to_vec(),
                        &signature::ED25519,
                    )
                }
            };
        Ok(KeyPair {
            alg,
            signer,
            verifier: signature::UnparsedPublicKey::new(verify_alg, public),
            kid: jwk.thumbprint(),
            jwk,
            pkcs8,
        })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// The private key as PKCS#8 DER (a PKCS#1 key read from PEM is converted).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError(format!("{} signing failed", self.alg));
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut out,
                )
                .map_err(|_| failed())?;
                Ok(out)
            }
            Signer::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| failed()),
            Signer::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(message, signature).is_ok()
    }
}

/// Why ring refused an RSA key that parses: its size, when outside what RS256 takes (ring
/// signs with 2048 to 8192 bits), else that it is unusable. Never the key's content.
fn rsa_refused(source: &str, key: &rsa::RsaPrivateKey) -> String {
    use rsa::traits::PublicKeyParts;
    let bits = key.n().bits();
    if bits < RSA_BITS {
        format!("{source}: an RSA key of {bits} bits: RS256 needs at least {RSA_BITS}")
    } else if bits > 8192 {
        format!("{source}: an RSA key of {bits} bits: at most 8192 are supported")
    } else {
        format!("{source}: not a usable RSA private key")
    }
}

/// A 2048-bit RSA key from the `rsa` crate's key generation, as PKCS#8 DER.
fn generate_rsa_pkcs8() -> Result<Vec<u8>, KeyError> {
    use rsa::pkcs8::EncodePrivateKey;
    let failed = |_| KeyError("cannot generate an RS256 key".to_owned());
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS).map_err(failed)?;
    let der = key
        .to_pkcs8_der()
        .map_err(|_| KeyError("cannot encode the generated RS256 key".to_owned()))?;
    Ok(der.as_bytes().to_vec())
}

#[cfg(test)]
pub(crate) mod tests;
