//! The gateway as an OpenID provider (contract §7), and the `openidconnect` crate as the
//! third-party relying party in front of it:
//!
//! - [`fixture`]: users with the claims of §7 (`email`, `display_name`, `groups`), and one
//!   relying party per ID-token algorithm, for the crate ([`RP`], [`RP_ES256`], [`RP_EDDSA`])
//!   and for Apache's mod_auth_openidc ([`APACHE`], [`APACHE_ES256`], [`APACHE_EDDSA`]);
//! - [`Provider`]: an [`AuthGateway`] with that fixture, discovered by the crate;
//! - [`Provider::sign_in`]: code + PKCE + nonce, with the crate building the authorization
//!   URL and exchanging the code, a cookie-jar [`Browser`] signing in on the login page;
//! - [`Signed::verify`]: the ID token checked by `CoreIdTokenVerifier` against the JWKS the
//!   crate fetched, and `at_hash` against the access token;
//! - [`forge`]: tokens with `alg: none`, or HS256 under an asymmetric key's `kid`.
//!
//! The gateway's clock stands still (see [`AuthGateway`]) and starts at the real time, which
//! the crate's verifier reads: a test that moves the gateway's clock says how far.

use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreTokenResponse,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IssuerUrl,
    JsonWebKeySet, Nonce, NonceVerifier, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::fixture::{password_hash, secret_hash};
use super::oauth::{AuthGateway, Browser, Callback, Decision, Page, PASSWORD};

/// The admin, in the group `admins`.
pub const ALICE: &str = "alice";
pub const ALICE_EMAIL: &str = "alice@example.com";
pub const ALICE_NAME: &str = "Alice Liddell";
/// Not an admin: only in `dev`.
pub const BOB: &str = "bob";
pub const BOB_EMAIL: &str = "bob@example.com";

/// The crate's relying parties (confidential, first party: no consent page), one per alg.
pub const RP: &str = "rp-rs256";
pub const RP_ES256: &str = "rp-es256";
pub const RP_EDDSA: &str = "rp-eddsa";
pub const RP_SECRET: &str = "rp-secret-Hc7Kq2Vn9Xw4Lz1Bt6Pm3Rj8Fd5Gs0Ya";
pub const RP_REDIRECT: &str = "https://rp.example.com/callback";
pub const RP_LOGGED_OUT: &str = "https://rp.example.com/logged-out";

/// Apache mod_auth_openidc, one client per alg; loopback redirect URIs match on any port
/// (RFC 8252 §7.3), so each Apache picks its own.
pub const APACHE: &str = "apache-rs256";
pub const APACHE_ES256: &str = "apache-es256";
pub const APACHE_EDDSA: &str = "apache-eddsa";
pub const APACHE_SECRET: &str = "apache-secret-Zr4Tm8Kx1Wq6Nv3Bc9Lp2Hs7Jd0Fg5Ye";
pub const APACHE_REDIRECT: &str = "http://127.0.0.1/protected/redirect_uri";

/// The OpenID scopes the relying parties ask for.
pub const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "groups"];

/// A `[[users]]` entry with the claims of contract §7.
fn user(
    name: &str,
    scopes: &[&str],
    email: &str,
    display_name: Option<&str>,
    groups: &[&str],
) -> String {
    let mut out = format!(
        "\n[[users]]\nname = \"{name}\"\npassword = \"{hash}\"\nscopes = {scopes:?}\nemail = \"{email}\"\ngroups = {groups:?}\n",
        hash = password_hash(),
    );
    if let Some(display_name) = display_name {
        out.push_str(&format!("display_name = \"{display_name}\"\n"));
    }
    out
}

/// A confidential first-party client for the code and refresh grants, its ID tokens signed
/// with `alg` (`None`: the default, RS256), returning to `logout` after an RP-initiated
/// logout.
pub fn client_entry(
    id: &str,
    secret: &str,
    redirect: &str,
    alg: Option<&str>,
    logout: &[&str],
) -> String {
    let mut out = format!(
        r#"
[[clients]]
id = "{id}"
type = "confidential"
secret = "{secret}"
first_party = true
redirect_uris = ["{redirect}"]
grants = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "email", "groups", "offline_access", "api:read"]
post_logout_redirect_uris = {logout:?}
"#,
        secret = secret_hash(secret),
    );
    if let Some(alg) = alg {
        out.push_str(&format!("id_token_signed_response_alg = \"{alg}\"\n"));
    }
    out
}

/// The `[scopes]`, `[[users]]` and `[[clients]]` of every OpenID test gateway.
pub fn fixture() -> String {
    let all = [
        "openid",
        "profile",
        "email",
        "groups",
        "offline_access",
        "api:read",
    ];
    let mut out = String::from("[scopes]\n\"api:read\" = \"Read your data through the API\"\n");
    out.push_str(&user(
        ALICE,
        &all,
        ALICE_EMAIL,
        Some(ALICE_NAME),
        &["admins", "dev"],
    ));
    out.push_str(&user(BOB, &all, BOB_EMAIL, None, &["dev"]));
    for (id, alg) in [
        (RP, None),
        (RP_ES256, Some("ES256")),
        (RP_EDDSA, Some("EdDSA")),
    ] {
        out.push_str(&client_entry(
            id,
            RP_SECRET,
            RP_REDIRECT,
            alg,
            &[RP_LOGGED_OUT],
        ));
    }
    for (id, alg) in [
        (APACHE, None),
        (APACHE_ES256, Some("ES256")),
        (APACHE_EDDSA, Some("EdDSA")),
    ] {
        out.push_str(&client_entry(id, APACHE_SECRET, APACHE_REDIRECT, alg, &[]));
    }
    out
}

/// The `groups` claim, which `openidconnect`'s standard claims do not name.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Groups {
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}
impl AdditionalClaims for Groups {}

pub type GroupsIdToken =
    IdToken<Groups, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub type GroupsIdTokenClaims = IdTokenClaims<Groups, CoreGenderClaim>;
pub type GroupsUserInfo = UserInfoClaims<Groups, CoreGenderClaim>;

/// The crate's client as `from_provider_metadata` makes it, with a redirect URI.
pub type RpClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider under test, discovered.
pub struct Provider {
    pub gateway: AuthGateway,
    pub metadata: ProviderMetadataWithLogout,
}

impl Provider {
    /// A gateway with [`fixture`] and `sections` (raw TOML: `[tokens]`, routes, ...).
    pub async fn start(sections: &str) -> Provider {
        let gateway = AuthGateway::start_with_fixture(&fixture(), sections).await;
        let metadata = discover(&gateway).await;
        Provider { gateway, metadata }
    }

    /// The issuer as the crate names it.
    pub fn issuer(&self) -> IssuerUrl {
        IssuerUrl::new(self.gateway.issuer().to_owned()).expect("issuer URL")
    }

    /// The relying party `id` (with [`RP_SECRET`], redirecting to [`RP_REDIRECT`]), with the
    /// JWKS of the last discovery.
    pub fn client(&self, id: &str) -> RpClient {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(id.to_owned()),
            Some(ClientSecret::new(RP_SECRET.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(RP_REDIRECT.to_owned()).expect("URL"))
    }

    /// The relying party `id` verifying with `jwks` (a JWKS fetched earlier or later than the
    /// discovery's).
    pub fn client_with_jwks(&self, id: &str, jwks: JsonWebKeySet<CoreJsonWebKey>) -> RpClient {
        CoreClient::from_provider_metadata(
            self.metadata.clone().set_jwks(jwks),
            ClientId::new(id.to_owned()),
            Some(ClientSecret::new(RP_SECRET.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(RP_REDIRECT.to_owned()).expect("URL"))
    }

    /// The JWKS as served now (fetched again, not the cached one).
    pub async fn fetch_jwks(&self) -> JsonWebKeySet<CoreJsonWebKey> {
        let url = self.metadata.jwks_uri().clone();
        JsonWebKeySet::fetch_async(&url, &self.gateway.http())
            .await
            .expect("the JWKS")
    }

    /// Code + PKCE + nonce for `client` as `user`, from a fresh browser, which comes back
    /// holding the gateway session.
    pub async fn sign_in(
        &self,
        client: &RpClient,
        user: &str,
        scopes: &[&str],
    ) -> (Browser, Signed) {
        let browser = self.gateway.browser();
        let signed = self.sign_in_with(&browser, client, user, scopes).await;
        (browser, signed)
    }

    /// [`Provider::sign_in`] in `browser` (signing in only if the gateway asks).
    pub async fn sign_in_with(
        &self,
        browser: &Browser,
        client: &RpClient,
        user: &str,
        scopes: &[&str],
    ) -> Signed {
        let request = AuthRequest::new(client, scopes, |r| r);
        let callback = authorize(browser, &request.url, user).await;
        assert_eq!(
            callback.base, RP_REDIRECT,
            "redirect: {}",
            callback.location
        );
        assert_eq!(
            callback.get("state"),
            Some(request.state.secret().as_str()),
            "state echoed"
        );
        let tokens = self.exchange(client, &callback, request.verifier).await;
        Signed {
            tokens,
            nonce: request.nonce,
        }
    }

    /// The crate's code exchange (HTTP Basic) for `callback`'s code.
    pub async fn exchange(
        &self,
        client: &RpClient,
        callback: &Callback,
        verifier: PkceCodeVerifier,
    ) -> CoreTokenResponse {
        let code = callback
            .get("code")
            .unwrap_or_else(|| panic!("no code in {}", callback.location));
        client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .expect("a token endpoint")
            .set_pkce_verifier(verifier)
            .request_async(&self.gateway.http())
            .await
            .unwrap_or_else(|err| panic!("code exchange: {err:?}"))
    }

    /// UserInfo through the crate, expecting `sub`.
    pub async fn userinfo(
        &self,
        client: &RpClient,
        token: &AccessToken,
        sub: &str,
    ) -> GroupsUserInfo {
        client
            .user_info(
                token.clone(),
                Some(openidconnect::SubjectIdentifier::new(sub.to_owned())),
            )
            .expect("a userinfo endpoint")
            .request_async::<Groups, _, CoreGenderClaim>(&self.gateway.http())
            .await
            .unwrap_or_else(|err| panic!("userinfo: {err:?}"))
    }

    /// A raw GET of `/oauth2/userinfo` with `token` as bearer: status and `WWW-Authenticate`.
    pub async fn userinfo_raw(&self, token: &str) -> (StatusCode, String) {
        let url = self
            .metadata
            .userinfo_endpoint()
            .expect("a userinfo endpoint")
            .url()
            .clone();
        let response = self
            .gateway
            .http()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("userinfo request");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (response.status(), challenge)
    }
}

/// The discovery document and JWKS, through the crate.
pub async fn discover(gateway: &AuthGateway) -> ProviderMetadataWithLogout {
    let issuer = IssuerUrl::new(gateway.issuer().to_owned()).expect("issuer URL");
    ProviderMetadataWithLogout::discover_async(issuer, &gateway.http())
        .await
        .unwrap_or_else(|err| panic!("discovery: {err:?}"))
}

/// The crate's authorization request builder.
pub type AuthBuilder<'a> =
    openidconnect::AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType>;

/// An authorization request the crate built: PKCE S256, state and nonce.
pub struct AuthRequest {
    pub url: String,
    pub verifier: PkceCodeVerifier,
    pub state: CsrfToken,
    pub nonce: Nonce,
}

impl AuthRequest {
    /// The request for `scopes` (beside `openid`, which the crate adds), with `extra` applied
    /// to the crate's builder (prompt, max_age, ...).
    pub fn new<F>(client: &RpClient, scopes: &[&str], extra: F) -> AuthRequest
    where
        F: for<'a> FnOnce(AuthBuilder<'a>) -> AuthBuilder<'a>,
    {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let builder = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(
                scopes
                    .iter()
                    .filter(|s| **s != "openid")
                    .map(|s| Scope::new((*s).to_owned())),
            )
            .set_pkce_challenge(challenge);
        let (url, state, nonce) = extra(builder).url();
        AuthRequest {
            url: url.to_string(),
            verifier,
            state,
            nonce,
        }
    }
}

/// Runs `url` in `browser` to the redirect that leaves the gateway, signing in as `user`
/// (with [`PASSWORD`]) when the login page shows, approving consent when asked.
pub async fn authorize(browser: &Browser, url: &str, user: &str) -> Callback {
    let mut page = browser.open(url).await;
    for _ in 0..6 {
        page = match next_step(browser, &page, user).await {
            Some(next) => next,
            None => return page.callback(),
        };
    }
    panic!("the authorization did not leave the gateway: {page:?}");
}

async fn next_step(browser: &Browser, page: &Page, user: &str) -> Option<Page> {
    if page.is_login() {
        let next = browser.sign_in(page, user, PASSWORD).await;
        assert_eq!(next.status, StatusCode::SEE_OTHER, "login answer: {next:?}");
        Some(next)
    } else if page.is_consent() {
        Some(browser.decide(page, Decision::Approve).await)
    } else {
        match page.location() {
            Some(l) if l.starts_with('/') => Some(browser.follow(page).await),
            Some(_) => None,
            None => panic!("unexpected page during authorization: {page:?}"),
        }
    }
}

/// A sign-in's outcome: the token response and the nonce the request sent.
pub struct Signed {
    pub tokens: CoreTokenResponse,
    pub nonce: Nonce,
}

impl Signed {
    /// The ID token's compact form.
    pub fn id_token(&self) -> String {
        self.tokens
            .id_token()
            .expect("an id_token in the token response")
            .to_string()
    }

    pub fn access_token(&self) -> &AccessToken {
        self.tokens.access_token()
    }

    /// The ID token verified by the crate (signature against the client's JWKS, `iss`, `aud`,
    /// `exp`, the nonce, the algorithms discovery lists), its `at_hash` checked against the
    /// access token, and its header's `alg`.
    pub fn verify(&self, client: &RpClient) -> (GroupsIdTokenClaims, CoreJwsSigningAlgorithm) {
        verify_id_token(
            client,
            &self.id_token(),
            &self.nonce,
            Some(self.access_token()),
        )
        .unwrap_or_else(|err| panic!("ID token refused: {err}"))
    }
}

/// `raw` verified by `client`'s `CoreIdTokenVerifier` with `nonce` (a `&Nonce`, or a
/// closure for a refreshed ID token, which may leave it out), `at_hash` checked
/// against `access_token` when given (and required then).
pub fn verify_id_token<N: NonceVerifier>(
    client: &RpClient,
    raw: &str,
    nonce: N,
    access_token: Option<&AccessToken>,
) -> Result<(GroupsIdTokenClaims, CoreJwsSigningAlgorithm), String> {
    let token = GroupsIdToken::from_str(raw).map_err(|e| format!("not an ID token: {e}"))?;
    let verifier = client.id_token_verifier();
    let claims = token
        .claims(&verifier, nonce)
        .map_err(|e| format!("claims: {e}"))?
        .clone();
    let alg = token
        .signing_alg()
        .map_err(|e| format!("signing alg: {e}"))?
        .clone();
    if let Some(access_token) = access_token {
        let key = token
            .signing_key(&verifier)
            .map_err(|e| format!("signing key: {e}"))?;
        let expected = AccessTokenHash::from_token(access_token, &alg, key)
            .map_err(|e| format!("at_hash: {e}"))?;
        match claims.access_token_hash() {
            Some(found) if *found == expected => {}
            Some(found) => {
                return Err(format!(
                    "at_hash {} != {}",
                    found.as_str(),
                    expected.as_str()
                ))
            }
            None => return Err("no at_hash".to_owned()),
        }
    }
    Ok((claims, alg))
}

/// Forged tokens for the refusal tests.
pub mod forge {
    use super::*;

    fn part(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
    }

    /// The payload part of a real token, kept as is.
    fn payload(token: &str) -> &str {
        token.split('.').nth(1).expect("a JWT")
    }

    /// `token`'s claims under `{"alg":"none"}` with `token`'s `kid`, and no signature.
    pub fn alg_none(token: &str) -> String {
        let mut header = super::super::oauth::jwt_header(token);
        header["alg"] = serde_json::json!("none");
        format!("{}.{}.", part(&header), payload(token))
    }

    /// `token`'s claims under `{"alg":"HS256"}` with `token`'s (asymmetric) `kid`, the
    /// HMAC keyed with `secret` (the key-confusion attack passes the public key's bytes).
    pub fn hs256_with_kid(token: &str, secret: &[u8]) -> String {
        let mut header = super::super::oauth::jwt_header(token);
        header["alg"] = serde_json::json!("HS256");
        let signing_input = format!("{}.{}", part(&header), payload(token));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC key");
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }
}
