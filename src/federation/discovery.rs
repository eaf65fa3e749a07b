//! OpenID Connect Discovery 1.0 of an upstream provider, as a relying party reads it: the
//! document at `ISSUER/.well-known/openid-configuration`, parsed from bytes and checked
//! before anything in it is used. Plain types: `endpoints::federation` fetches the bytes.
//!
//! Checks (Discovery §4.3 and the research note's §4): the document's `issuer` is exactly
//! the configured one (no trailing-slash or case folding: a response of one provider can
//! never be taken for another's); every endpoint used is an absolute `https` URL, or `http`
//! on a loopback host (tests); the document is at most [`MAX_DOCUMENT_BYTES`].

use serde::Deserialize;

/// The largest discovery document read (Google's is about 1.3 KiB, Entra's 1.8 KiB).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Where the discovery document of `issuer` is (Discovery §4.1: the issuer with any
/// trailing `/` removed, then the well-known path).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// `client_secret_basic`: the default, and preferred when offered.
    Basic,
    /// `client_secret_post`: only when the provider offers nothing better.
    Post,
}

/// What authgate uses of a provider's discovery document, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
    pub token_auth: TokenAuth,
    /// RFC 9207: the provider promises `iss` on every authorization response, so one
    /// without it is refused.
    pub iss_parameter_supported: bool,
}

/// Why a discovery document cannot be used. `Display` names the cause for the operator's log
/// line; it never quotes the document (which holds nothing secret, but is not ours to echo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    TooLarge,
    NotJson,
    /// The document's `issuer` differs from the configured one.
    IssuerMismatch,
    /// A required endpoint is missing or not an absolute https URL.
    BadEndpoint(&'static str),
    /// Neither `client_secret_basic` nor `client_secret_post` is offered.
    NoClientAuth,
    /// PKCE S256 is not offered (the document lists methods without it).
    NoPkceS256,
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoveryError::TooLarge => write!(f, "the discovery document is over {MAX_DOCUMENT_BYTES} bytes"),
            DiscoveryError::NotJson => f.write_str("the discovery document is not the expected JSON"),
            DiscoveryError::IssuerMismatch => f.write_str("the discovery document's issuer differs from the configured issuer (it must match exactly)"),
            DiscoveryError::BadEndpoint(name) => write!(f, "the discovery document's {name} is missing or not an https URL"),
            DiscoveryError::NoClientAuth => f.write_str("the token endpoint offers neither client_secret_basic nor client_secret_post"),
            DiscoveryError::NoPkceS256 => f.write_str("the provider does not offer PKCE S256"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

#[derive(Deserialize)]
struct Document {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
}

/// Whether `url` is an absolute `https` URL, or `http` on a loopback host.
pub fn acceptable_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    if url.contains('#') {
        return false;
    }
    match uri.scheme_str() {
        Some("https") => true,
        Some("http") => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

impl ProviderMetadata {
    /// Parses and checks `bytes` as the discovery document of `expected_issuer`.
    pub fn parse(bytes: &[u8], expected_issuer: &str) -> Result<ProviderMetadata, DiscoveryError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(DiscoveryError::TooLarge);
        }
        let doc: Document = serde_json::from_slice(bytes).map_err(|_| DiscoveryError::NotJson)?;
        if doc.issuer.as_deref() != Some(expected_issuer) {
            return Err(DiscoveryError::IssuerMismatch);
        }
        let endpoint = |value: Option<String>, name: &'static str| match value {
            Some(url) if acceptable_url(&url) => Ok(url),
            _ => Err(DiscoveryError::BadEndpoint(name)),
        };
        let authorization_endpoint =
            endpoint(doc.authorization_endpoint, "authorization_endpoint")?;
        let token_endpoint = endpoint(doc.token_endpoint, "token_endpoint")?;
        let jwks_uri = endpoint(doc.jwks_uri, "jwks_uri")?;
        let userinfo_endpoint = match doc.userinfo_endpoint {
            None => None,
            Some(url) => Some(endpoint(Some(url), "userinfo_endpoint")?),
        };
        // Absent means client_secret_basic (Discovery §3).
        let token_auth = match doc.token_endpoint_auth_methods_supported {
            None => TokenAuth::Basic,
            Some(methods) if methods.iter().any(|m| m == "client_secret_basic") => TokenAuth::Basic,
            Some(methods) if methods.iter().any(|m| m == "client_secret_post") => TokenAuth::Post,
            Some(_) => return Err(DiscoveryError::NoClientAuth),
        };
        // Absent says nothing (many providers support S256 without listing it): PKCE is sent
        // anyway. A list without S256 is a provider that would ignore or refuse it.
        if doc
            .code_challenge_methods_supported
            .is_some_and(|methods| !methods.iter().any(|m| m == "S256"))
        {
            return Err(DiscoveryError::NoPkceS256);
        }
        Ok(ProviderMetadata {
            issuer: expected_issuer.to_owned(),
            authorization_endpoint,
            token_endpoint,
            jwks_uri,
            userinfo_endpoint,
            token_auth,
            iss_parameter_supported: doc
                .authorization_response_iss_parameter_supported
                .unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://idp.example.com/realms/main";

    fn doc(extra: &str) -> String {
        format!(
            r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/auth",
            "token_endpoint":"{ISSUER}/token","jwks_uri":"{ISSUER}/jwks"{extra}}}"#
        )
    }

    #[test]
    fn a_minimal_document_parses_with_the_defaults() {
        let meta = ProviderMetadata::parse(doc("").as_bytes(), ISSUER).unwrap();
        assert_eq!(meta.token_endpoint, format!("{ISSUER}/token"));
        assert_eq!(meta.token_auth, TokenAuth::Basic);
        assert_eq!(meta.userinfo_endpoint, None);
        assert!(!meta.iss_parameter_supported);
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        for other in [
            "https://idp.example.com/realms/main/",
            "https://IDP.example.com/realms/main",
            "https://idp.example.com/realms/other",
        ] {
            assert_eq!(
                ProviderMetadata::parse(doc("").as_bytes(), other),
                Err(DiscoveryError::IssuerMismatch),
                "{other}"
            );
        }
        let no_issuer = r#"{"authorization_endpoint":"https://a/x"}"#;
        assert_eq!(
            ProviderMetadata::parse(no_issuer.as_bytes(), ISSUER),
            Err(DiscoveryError::IssuerMismatch)
        );
    }

    #[test]
    fn client_auth_prefers_basic_and_falls_back_to_post() {
        let post = doc(
            r#","token_endpoint_auth_methods_supported":["private_key_jwt","client_secret_post"]"#,
        );
        assert_eq!(
            ProviderMetadata::parse(post.as_bytes(), ISSUER)
                .unwrap()
                .token_auth,
            TokenAuth::Post
        );
        let both = doc(
            r#","token_endpoint_auth_methods_supported":["client_secret_post","client_secret_basic"]"#,
        );
        assert_eq!(
            ProviderMetadata::parse(both.as_bytes(), ISSUER)
                .unwrap()
                .token_auth,
            TokenAuth::Basic
        );
        let none = doc(r#","token_endpoint_auth_methods_supported":["private_key_jwt"]"#);
        assert_eq!(
            ProviderMetadata::parse(none.as_bytes(), ISSUER),
            Err(DiscoveryError::NoClientAuth)
        );
    }

    #[test]
    fn optional_members_and_their_checks() {
        let full = doc(
            r#","userinfo_endpoint":"https://idp.example.com/me","authorization_response_iss_parameter_supported":true,"code_challenge_methods_supported":["plain","S256"]"#,
        );
        let meta = ProviderMetadata::parse(full.as_bytes(), ISSUER).unwrap();
        assert!(meta.iss_parameter_supported);
        assert_eq!(
            meta.userinfo_endpoint.as_deref(),
            Some("https://idp.example.com/me")
        );
        let plain_only = doc(r#","code_challenge_methods_supported":["plain"]"#);
        assert_eq!(
            ProviderMetadata::parse(plain_only.as_bytes(), ISSUER),
            Err(DiscoveryError::NoPkceS256)
        );
        let bad_userinfo = doc(r#","userinfo_endpoint":"http://idp.example.com/me""#);
        assert_eq!(
            ProviderMetadata::parse(bad_userinfo.as_bytes(), ISSUER),
            Err(DiscoveryError::BadEndpoint("userinfo_endpoint"))
        );
    }

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        assert!(acceptable_url("https://idp.example.com/token"));
        assert!(acceptable_url("http://127.0.0.1:9400/token"));
        assert!(acceptable_url("http://[::1]:9400/token"));
        assert!(acceptable_url("http://localhost:9400/token"));
        for bad in [
            "http://idp.example.com/token",
            "/token",
            "ftp://idp.example.com/x",
            "https://idp.example.com/t#frag",
            "",
        ] {
            assert!(!acceptable_url(bad), "{bad}");
        }
        let http_token = format!(
            r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/auth","token_endpoint":"http://idp.example.com/token","jwks_uri":"{ISSUER}/jwks"}}"#
        );
        assert_eq!(
            ProviderMetadata::parse(http_token.as_bytes(), ISSUER),
            Err(DiscoveryError::BadEndpoint("token_endpoint"))
        );
    }

    #[test]
    fn oversized_or_broken_documents_are_refused() {
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(
            ProviderMetadata::parse(&big, ISSUER),
            Err(DiscoveryError::TooLarge)
        );
        assert_eq!(
            ProviderMetadata::parse(b"<html>", ISSUER),
            Err(DiscoveryError::NotJson)
        );
    }

    #[test]
    fn the_discovery_url_drops_a_trailing_slash() {
        assert_eq!(
            discovery_url("https://a.example/x/"),
            "https://a.example/x/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://accounts.google.com"),
            "https://accounts.google.com/.well-known/openid-configuration"
        );
    }
}
