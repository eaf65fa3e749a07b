//! Verifying an upstream provider's ID token (OIDC Core §3.1.3.7), and the claims the
//! gates read from it and from UserInfo (§5.3.2). Plain types: the keys come from
//! [`super::jwks`], the token from the code exchange.
//!
//! Order, stopping at the first failure: size and the three parts; a header whose `alg` is
//! RS256, PS256, ES256 or EdDSA (never `none` nor `HS*`) and without `crit`; a key of the
//! set whose `kid` is the header's (any fitting key when the header names none) and the
//! signature; then the claims: `iss` exactly the issuer, `aud` containing the client id,
//! `azp` the client id when present (and required with several audiences), `exp`, `iat`
//! and `nbf` with [`LEEWAY_SECS`], `nonce` the flow's (constant-time), and a `sub` of 1 to
//! 255 visible ASCII characters (it becomes `X-Auth-User` as `ID:SUB`).

use serde::Deserialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::jwks::{UpstreamAlg, UpstreamKey};
use crate::config::is_subject;
use crate::tokens::jose::jws::{Compact, MAX_JWS_BYTES};

/// The clock skew forgiven on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
/// The most groups read from a claim (the rest are ignored), and the longest group name.
pub const MAX_GROUPS: usize = 1000;
const MAX_GROUP_LEN: usize = 256;

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The `nonce` sent with this flow's authorization request.
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: u64,
}

/// Why an ID token was refused. `reason` is for logs; nothing here quotes the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenInvalid {
    Malformed,
    Algorithm,
    /// No key of the set has the header's `kid` (a refetch may find it).
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    AuthorizedParty,
    Expired,
    /// `iat` is later than now plus the leeway: the clocks disagree.
    IssuedInFuture,
    NotYetValid,
    Nonce,
    /// `sub` is missing, too long or not visible ASCII; or UserInfo's `sub` differs.
    Subject,
}

impl IdTokenInvalid {
    pub fn reason(self) -> &'static str {
        match self {
            IdTokenInvalid::Malformed => "id_token_malformed",
            IdTokenInvalid::Algorithm => "id_token_algorithm",
            IdTokenInvalid::UnknownKey => "id_token_unknown_key",
            IdTokenInvalid::Signature => "id_token_signature",
            IdTokenInvalid::Issuer => "id_token_issuer",
            IdTokenInvalid::Audience => "id_token_audience",
            IdTokenInvalid::AuthorizedParty => "id_token_azp",
            IdTokenInvalid::Expired => "id_token_expired",
            IdTokenInvalid::IssuedInFuture => "id_token_iat_in_future",
            IdTokenInvalid::NotYetValid => "id_token_not_yet_valid",
            IdTokenInvalid::Nonce => "id_token_nonce",
            IdTokenInvalid::Subject => "id_token_subject",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

/// The `kid` a token's header names, if it parses: tells the caller whether a refetch of
/// the key set could help.
pub fn header_kid(token: &str) -> Option<String> {
    let compact = Compact::split(token, MAX_JWS_BYTES).ok()?;
    serde_json::from_slice::<Header>(compact.header_json())
        .ok()?
        .kid
}

/// A verified ID token's claims (and, merged in, UserInfo's).
#[derive(Debug, Clone, PartialEq)]
pub struct IdClaims {
    pub subject: String,
    pub claims: Map<String, Value>,
}

fn seconds(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Verifies `token` against `keys` and `expected`.
pub fn verify(
    token: &str,
    keys: &[UpstreamKey],
    expected: &Expected<'_>,
) -> Result<IdClaims, IdTokenInvalid> {
    let compact = Compact::split(token, MAX_JWS_BYTES).map_err(|_| IdTokenInvalid::Malformed)?;
    let header: Header =
        serde_json::from_slice(compact.header_json()).map_err(|_| IdTokenInvalid::Malformed)?;
    if header.crit.is_some() {
        return Err(IdTokenInvalid::Malformed);
    }
    let alg = UpstreamAlg::parse(&header.alg).ok_or(IdTokenInvalid::Algorithm)?;
    let mut candidates = keys
        .iter()
        .filter(|key| key.fits(alg))
        .filter(|key| header.kid.is_none() || key.kid == header.kid)
        .peekable();
    if candidates.peek().is_none() {
        return Err(IdTokenInvalid::UnknownKey);
    }
    let signature = compact.signature().map_err(|_| IdTokenInvalid::Malformed)?;
    if !candidates.any(|key| key.verify(alg, compact.signed, &signature)) {
        return Err(IdTokenInvalid::Signature);
    }
    let payload = compact.payload().map_err(|_| IdTokenInvalid::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&payload).map_err(|_| IdTokenInvalid::Malformed)?;
    check_claims(claims, expected)
}

fn check_claims(
    claims: Map<String, Value>,
    expected: &Expected<'_>,
) -> Result<IdClaims, IdTokenInvalid> {
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(IdTokenInvalid::Issuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(IdTokenInvalid::Audience);
    }
    match claims.get("azp") {
        Some(azp) if azp.as_str() != Some(expected.client_id) => {
            return Err(IdTokenInvalid::AuthorizedParty)
        }
        None if audiences.len() > 1 => return Err(IdTokenInvalid::AuthorizedParty),
        _ => {}
    }
    let now = expected.now;
    let exp = seconds(claims.get("exp")).ok_or(IdTokenInvalid::Malformed)?;
    if now >= exp.saturating_add(LEEWAY_SECS) {
        return Err(IdTokenInvalid::Expired);
    }
    let iat = seconds(claims.get("iat")).ok_or(IdTokenInvalid::Malformed)?;
    if iat > now.saturating_add(LEEWAY_SECS) {
        return Err(IdTokenInvalid::IssuedInFuture);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = seconds(Some(nbf)).ok_or(IdTokenInvalid::Malformed)?;
        if nbf > now.saturating_add(LEEWAY_SECS) {
            return Err(IdTokenInvalid::NotYetValid);
        }
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if nonce.is_empty() || !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(IdTokenInvalid::Nonce);
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| is_subject(sub))
        .ok_or(IdTokenInvalid::Subject)?
        .to_owned();
    Ok(IdClaims { subject, claims })
}

/// The issuers of Microsoft Entra ID (v2.0 `https://login.microsoftonline.com/TENANT/v2.0`,
/// v1 `https://sts.windows.net/TENANT/`), global, US Government and China clouds.
const ENTRA_ISSUERS: [&str; 5] = [
    "https://login.microsoftonline.com/",
    "https://login.microsoftonline.us/",
    "https://login.partner.microsoftonline.cn/",
    "https://sts.windows.net/",
    "https://sts.chinacloudapi.cn/",
];

/// The claims UserInfo may add: each pair is taken together, so an `email_verified` can
/// never be attached to an address it was not said of.
const USERINFO_CLAIMS: [&[&str]; 5] = [
    &["email", "email_verified", "xms_edov"],
    &["groups"],
    &["name"],
    &["preferred_username"],
    &["hd"],
];

impl IdClaims {
    fn str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn email(&self) -> Option<&str> {
        self.str("email")
    }

    /// `email_verified` is the boolean `true`: an absent claim, `"true"` or `1` is not.
    /// From Microsoft Entra ID, which sends no `email_verified` and whose `email` any tenant
    /// can set (the "nOAuth" class), its optional claim `xms_edov` (the email's domain owner
    /// verified), the boolean `true`, counts instead; from any other issuer it is ignored.
    pub fn email_verified(&self) -> bool {
        let said = |name: &str| self.claims.get(name) == Some(&Value::Bool(true));
        said("email_verified") || (self.issued_by_entra() && said("xms_edov"))
    }

    /// Whether the token says anything of its email's verification (so UserInfo need not
    /// be asked): `email_verified`, or Entra's `xms_edov`.
    pub fn says_email_verification(&self) -> bool {
        self.claims.contains_key("email_verified")
            || (self.issued_by_entra() && self.claims.contains_key("xms_edov"))
    }

    /// Whether the (verified) `iss` is Microsoft Entra ID's, in any of its clouds.
    fn issued_by_entra(&self) -> bool {
        self.str("iss")
            .is_some_and(|iss| ENTRA_ISSUERS.iter().any(|prefix| iss.starts_with(prefix)))
    }

    /// Whether the token carries a `groups` claim (an array).
    pub fn has_groups(&self) -> bool {
        matches!(self.claims.get("groups"), Some(Value::Array(_)))
    }

    /// The `groups` claim's strings (at most [`MAX_GROUPS`], each at most 256 bytes).
    pub fn groups(&self) -> Vec<String> {
        match self.claims.get("groups") {
            Some(Value::Array(groups)) => groups
                .iter()
                .filter_map(Value::as_str)
                .filter(|g| !g.is_empty() && g.len() <= MAX_GROUP_LEN)
                .take(MAX_GROUPS)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Entra's group overage (`_claim_names.groups`): the groups are elsewhere, and
    /// authgate does not follow distributed claims; a groups gate fails closed.
    pub fn groups_elsewhere(&self) -> bool {
        self.claims
            .get("_claim_names")
            .and_then(|names| names.get("groups"))
            .is_some()
    }

    pub fn hosted_domain(&self) -> Option<&str> {
        self.str("hd")
    }

    pub fn username(&self) -> Option<&str> {
        self.str("preferred_username")
    }

    pub fn name(&self) -> Option<&str> {
        self.str("name")
    }

    /// Adds UserInfo's claims that the ID token lacks. UserInfo's `sub` must be the ID
    /// token's (OIDC Core §5.3.2), or nothing is taken.
    pub fn merge_userinfo(&mut self, userinfo: &Map<String, Value>) -> Result<(), IdTokenInvalid> {
        if userinfo.get("sub").and_then(Value::as_str) != Some(self.subject.as_str()) {
            return Err(IdTokenInvalid::Subject);
        }
        for names in USERINFO_CLAIMS {
            let [first, ..] = names else { continue };
            if self.claims.contains_key(*first) {
                continue;
            }
            for name in names {
                self.claims.remove(*name);
                if let Some(value) = userinfo.get(*name) {
                    self.claims.insert((*name).to_owned(), value.clone());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::jwks::test_keys::TestKey;
    use super::super::jwks::{parse, UpstreamKey};
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    const ISSUER: &str = "https://idp.example.com";
    const NOW: u64 = 1_800_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: "authgate",
            nonce: "the-nonce",
            now: NOW,
        }
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "sub": "248289761001", "aud": "authgate",
            "exp": NOW + 300, "iat": NOW, "nonce": "the-nonce",
            "email": "jane@example.com", "email_verified": true,
        })
    }

    fn sign(key: &TestKey, header: Value, claims: &Value) -> String {
        key.jws(&header, claims)
    }

    fn keys(list: &[&TestKey]) -> Vec<UpstreamKey> {
        let doc = json!({ "keys": list.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        parse(doc.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_good_token_verifies_under_each_algorithm() {
        for (key, alg) in [
            (TestKey::rsa("k1", false), "RS256"),
            (TestKey::rsa("k1", true), "PS256"),
            (TestKey::es256("k1"), "ES256"),
            (TestKey::ed25519("k1"), "EdDSA"),
        ] {
            let token = sign(
                &key,
                json!({"alg": alg, "kid": "k1", "typ": "JWT"}),
                &claims(),
            );
            let verified = verify(&token, &keys(&[&key]), &expected()).unwrap();
            assert_eq!(verified.subject, "248289761001", "{alg}");
            assert_eq!(verified.email(), Some("jane@example.com"));
            assert!(verified.email_verified());
            assert_eq!(header_kid(&token).as_deref(), Some("k1"));
        }
    }

    #[test]
    fn keys_are_found_by_kid_and_a_missing_kid_is_unknown() {
        let old = TestKey::es256("old");
        let new = TestKey::es256("new");
        let token = sign(&new, json!({"alg": "ES256", "kid": "new"}), &claims());
        assert_eq!(
            verify(&token, &keys(&[&old]), &expected()),
            Err(IdTokenInvalid::UnknownKey)
        );
        assert!(verify(&token, &keys(&[&old, &new]), &expected()).is_ok());
        // Without a kid, any fitting key is tried.
        let no_kid = sign(&new, json!({"alg": "ES256"}), &claims());
        assert!(verify(&no_kid, &keys(&[&old, &new]), &expected()).is_ok());
        // A kid naming another key's id does not borrow that key.
        let lying = sign(&new, json!({"alg": "ES256", "kid": "old"}), &claims());
        assert_eq!(
            verify(&lying, &keys(&[&old, &new]), &expected()),
            Err(IdTokenInvalid::Signature)
        );
    }

    #[test]
    fn forbidden_algorithms_and_headers_are_refused_before_any_key() {
        let key = TestKey::es256("k1");
        let set = keys(&[&key]);
        for alg in ["none", "HS256", "RS512"] {
            let token = sign(&key, json!({"alg": alg, "kid": "k1"}), &claims());
            assert_eq!(
                verify(&token, &set, &expected()),
                Err(IdTokenInvalid::Algorithm),
                "{alg}"
            );
        }
        // The ES256 key cannot verify an RS256 header.
        let token = sign(&key, json!({"alg": "RS256", "kid": "k1"}), &claims());
        assert_eq!(
            verify(&token, &set, &expected()),
            Err(IdTokenInvalid::UnknownKey)
        );
        let crit = sign(
            &key,
            json!({"alg": "ES256", "kid": "k1", "crit": ["exp"]}),
            &claims(),
        );
        assert_eq!(
            verify(&crit, &set, &expected()),
            Err(IdTokenInvalid::Malformed)
        );
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert_eq!(
            verify(&unsigned, &set, &expected()),
            Err(IdTokenInvalid::Algorithm)
        );
        for broken in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify(broken, &set, &expected()),
                Err(IdTokenInvalid::Malformed)
            );
        }
    }

    #[test]
    fn a_changed_byte_does_not_verify() {
        let key = TestKey::ed25519("k1");
        let token = sign(&key, json!({"alg": "EdDSA", "kid": "k1"}), &claims());
        let mut other = claims();
        other["sub"] = "someone-else".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(other.to_string());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            verify(&forged, &keys(&[&key]), &expected()),
            Err(IdTokenInvalid::Signature)
        );
    }

    fn refused_with(change: impl Fn(&mut Value)) -> Result<IdClaims, IdTokenInvalid> {
        let key = TestKey::es256("k1");
        let mut c = claims();
        change(&mut c);
        let token = sign(&key, json!({"alg": "ES256", "kid": "k1"}), &c);
        verify(&token, &keys(&[&key]), &expected())
    }

    #[test]
    fn each_claim_check_refuses() {
        use IdTokenInvalid::*;
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(IdTokenInvalid, Change)> = vec![
            (
                Issuer,
                Box::new(|c| c["iss"] = "https://idp.example.com/".into()),
            ),
            (
                Issuer,
                Box::new(|c| c["iss"] = "https://other.example.com".into()),
            ),
            (
                Issuer,
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("iss"))),
            ),
            (Audience, Box::new(|c| c["aud"] = "someone-else".into())),
            (Audience, Box::new(|c| c["aud"] = json!(["a", "b"]))),
            (
                AuthorizedParty,
                Box::new(|c| c["aud"] = json!(["authgate", "other"])),
            ),
            (AuthorizedParty, Box::new(|c| c["azp"] = "other".into())),
            (Expired, Box::new(|c| c["exp"] = (NOW - LEEWAY_SECS).into())),
            (
                Malformed,
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))),
            ),
            (Malformed, Box::new(|c| c["exp"] = "tomorrow".into())),
            (
                Malformed,
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("iat"))),
            ),
            (
                IssuedInFuture,
                Box::new(|c| c["iat"] = (NOW + LEEWAY_SECS + 1).into()),
            ),
            (
                NotYetValid,
                Box::new(|c| c["nbf"] = (NOW + LEEWAY_SECS + 1).into()),
            ),
            (Nonce, Box::new(|c| c["nonce"] = "another-nonce".into())),
            (
                Nonce,
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("nonce"))),
            ),
            (Subject, Box::new(|c| c["sub"] = "".into())),
            (Subject, Box::new(|c| c["sub"] = "has space".into())),
            (Subject, Box::new(|c| c["sub"] = "x".repeat(256).into())),
            (Subject, Box::new(|c| c["sub"] = 42.into())),
        ];
        for (want, change) in cases {
            assert_eq!(refused_with(change).err(), Some(want));
        }
        // Within the leeway, and several audiences with the right azp, pass.
        assert!(refused_with(|c| c["exp"] = (NOW - LEEWAY_SECS + 1).into()).is_ok());
        assert!(refused_with(|c| c["iat"] = (NOW + LEEWAY_SECS).into()).is_ok());
        assert!(refused_with(|c| {
            c["aud"] = json!(["authgate", "other"]);
            c["azp"] = "authgate".into();
        })
        .is_ok());
        assert!(refused_with(|c| c["exp"] = json!((NOW + 10) as f64 + 0.5)).is_ok());
    }

    #[test]
    fn email_verified_is_true_only_when_literally_true() {
        for (value, verified) in [
            (json!(true), true),
            (json!("true"), false),
            (json!(1), false),
            (json!(false), false),
            (Value::Null, false),
        ] {
            let got = refused_with(|c| c["email_verified"] = value.clone()).unwrap();
            assert_eq!(got.email_verified(), verified, "{value}");
        }
        let absent =
            refused_with(|c| drop(c.as_object_mut().unwrap().remove("email_verified"))).unwrap();
        assert!(!absent.email_verified());
    }

    /// Entra sends no `email_verified`; its `xms_edov` counts, from Entra only.
    #[test]
    fn entras_xms_edov_verifies_the_email_from_entra_only() {
        let entra = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";
        let with = |iss: &str, edov: Value| {
            let mut c = claims();
            let o = c.as_object_mut().unwrap();
            o.remove("email_verified");
            o.insert("iss".into(), iss.into());
            o.insert("xms_edov".into(), edov);
            IdClaims {
                subject: "s".into(),
                claims: o.clone(),
            }
        };
        assert!(with(entra, json!(true)).email_verified());
        assert!(with(entra, json!(true)).says_email_verification());
        assert!(with("https://sts.windows.net/9188040d/", json!(true)).email_verified());
        for edov in [json!(false), json!("true"), json!(1), Value::Null] {
            assert!(!with(entra, edov.clone()).email_verified(), "{edov}");
        }
        assert!(
            !with(ISSUER, json!(true)).email_verified(),
            "another issuer's xms_edov"
        );
        assert!(!with(ISSUER, json!(true)).says_email_verification());
        assert!(
            !with(
                "https://login.microsoftonline.com.evil.example/t/v2.0",
                json!(true)
            )
            .email_verified(),
            "a lookalike host"
        );
        // UserInfo's address never takes the token's xms_edov.
        let mut thin = with(entra, json!(true));
        thin.claims.remove("email");
        let info = json!({"sub": "s", "email": "other@example.com"});
        thin.merge_userinfo(info.as_object().unwrap()).unwrap();
        assert_eq!(thin.email(), Some("other@example.com"));
        assert!(!thin.email_verified());
    }

    #[test]
    fn userinfo_fills_what_is_missing_and_must_name_the_same_subject() {
        let mut got = refused_with(|c| {
            let c = c.as_object_mut().unwrap();
            c.remove("email");
            c.remove("email_verified");
            c.insert("name".into(), "From Token".into());
        })
        .unwrap();
        assert!(!got.has_groups());
        let info = json!({
            "sub": "248289761001", "email": "j@example.com", "email_verified": true,
            "groups": ["staff", 7, "", "ops"], "name": "From UserInfo",
        });
        got.merge_userinfo(info.as_object().unwrap()).unwrap();
        assert_eq!(got.email(), Some("j@example.com"));
        assert!(got.email_verified());
        assert_eq!(got.groups(), ["staff", "ops"]);
        assert_eq!(got.name(), Some("From Token"));

        // The token's address keeps the token's verification: UserInfo's is not attached.
        let mut token_email =
            refused_with(|c| drop(c.as_object_mut().unwrap().remove("email_verified"))).unwrap();
        let info =
            json!({"sub": "248289761001", "email": "other@example.com", "email_verified": true});
        token_email
            .merge_userinfo(info.as_object().unwrap())
            .unwrap();
        assert_eq!(token_email.email(), Some("jane@example.com"));
        assert!(!token_email.email_verified());

        let mut other = refused_with(|_| {}).unwrap();
        let wrong = json!({"sub": "someone-else", "groups": ["admins"]});
        assert_eq!(
            other.merge_userinfo(wrong.as_object().unwrap()),
            Err(IdTokenInvalid::Subject)
        );
        assert!(!other.has_groups());
    }

    #[test]
    fn group_overage_is_noticed() {
        let got = refused_with(|c| {
            c["_claim_names"] = json!({"groups": "src1"});
        })
        .unwrap();
        assert!(got.groups_elsewhere());
        assert!(!refused_with(|_| {}).unwrap().groups_elsewhere());
    }
}
