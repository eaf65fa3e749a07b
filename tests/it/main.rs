//! End-to-end tests: the gateway (in-process, or the real binary) between real clients and
//! real upstream servers, all on 127.0.0.1 ephemeral ports. Support code is in `support/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice
)]

mod support;

// The admin listener: /metrics, the token API and its credential, `authgate token list|revoke`.
mod admin_api;
// SIGHUP: routes, clients and the TLS certificate swapped under load; a bad file refused.
mod reload;
// `authgate check` and `serve` on good and broken files: exit codes, FILE:LINE: key messages.
mod check;
// CORS (contract §10): [routes.cors] preflights, headers on 401/403, never on the sign-in pages, the token endpoint's.
mod cors;
// Shipped packaging: every configuration passes check, the Dockerfile copies what the build
// reads and runs healthy as non-root, `authgate healthcheck`, the systemd unit verifies.
mod deploy;
// The documentation's relative links and anchors resolve.
mod docs;
// The administration commands as the binary: hash-password, client, user, token inspect.
mod cli_admin;
// The command line conventions: --version with the revision, completions, man, check --routes/--explain.
mod cli_shell;
// The test OpenID provider (support/idp.rs, tests/idp/): discovery, its sign-in, key rotation.
mod federation_idp;
// Sign-in through a real OpenID provider: buttons, the request sent, corp:SUB upstream and in
// tokens and forward-auth, ?provider=, group scopes, a local user linked by identities (never by
// email).
mod federation_signin;
// Each gate of a provider refusing on its own (403 naming it, no loop), and admissions.
mod federation_gates;
// Forged and replayed provider answers: other browser, replay, other provider's code, nonce, iss.
mod federation_forgery;
// Key rotation at the provider without a gateway restart; a provider that is down.
mod federation_keys;
// GitHub through a local stand-in: numeric ids, verified primary email, orgs past page 1, teams.
mod federation_github;
// Per-route allow lists: group:, domain:, user:, provider:, with scopes still required.
mod federation_allow;
// Headless Chromium signs in through the real provider.
mod federation_browser;
// The gateway's own ID token and UserInfo for a person who signed in upstream: sub corp:SUB.
mod federation_oidc;
// `authgate token list|revoke --user corp:SUB` for a federated person.
mod federation_revoke;
// Providers added, renamed and removed by a reload; what their people's sessions do.
mod federation_reload;
// Federated people on two gateways sharing one Redis.
mod federation_redis;
// Forward-auth at /oauth2/auth: 202 with identity headers for a session or token, 401, 403.
mod forward_auth;
// Request and response header hygiene: hop-by-hop, X-Forwarded-*, spoofed identity headers.
mod headers;
// Second factors: TOTP enrolment and sign-in, recovery codes, throttling, step-up, RFC 9470,
// `authgate user reset-mfa`, and one TOTP code accepted once across two gateways on one Redis.
mod mfa;
mod mfa_redis;
// Headless Chromium enrols a TOTP factor (inline SVG QR code under the CSP, no script).
mod mfa_browser;
// The account page: fresh sign-in, add and remove an authenticator app, new recovery codes.
mod mfa_account;
// Passkeys in headless Chromium with a virtual authenticator: registration at enrolment, as
// the second factor, passwordless, a replayed ceremony and a refused user verification.
mod mfa_passkeys;
// Header size, slow headers and body size limits: 431, cut-off connections, 413.
mod limits;
// Authorization codes: single use, replay revocation, verifier, expiry, client and redirect binding.
mod oauth_codes;
// Own-endpoint bodies declared too large (413 at once), single-use consent, scopes_supported.
mod oauth_edges;
// OAuth code + PKCE flows through login and consent; consent memory, denial, metadata.
mod oauth_flow;
// Login and consent pages: CSRF, identical failure answers, framing and caching headers.
mod oauth_pages;
// Refresh tokens: rotation, grace-window replay, reuse revoking the family, scope, client binding.
mod oauth_refresh;
// RFC 7591 dynamic client registration: off by default, the initial token, unsafe metadata.
mod oauth_registration;
// Refused authorization requests (error page vs error redirect) and bad client secrets.
mod oauth_refusals;
// Client credentials, revocation, introspection, and forged or tampered access tokens.
mod oauth_tokens;
// The OpenID provider with the `openidconnect` crate as relying party: discovery, code +
// PKCE + nonce, ID tokens (RS256, ES256, EdDSA) verified against the JWKS, userinfo,
// refresh, RP-initiated logout.
mod oidc_rp;
// The OpenID provider with reqwest: discovery and JWKS as served, code + PKCE + nonce with the
// ID token checked against the JWKS, userinfo three ways, prompt, max_age, POST authorize.
mod oidc_provider;
// Each OpenID refusal on its own: nonce, prompt=none, logout URIs, token kinds swapped,
// alg none and HS256 under an asymmetric kid, removed keys, userinfo without openid.
mod oidc_refusals;
// Key rotation under load: a cached JWKS keeps verifying (pre-publication), old tokens too.
mod oidc_rotation;
// Keys from [tokens] rs256_key/es256_key: published, signing, rotation refused; SIGHUP swaps.
mod oidc_configured_keys;
// `[tokens] algorithm = "ES256" | "EdDSA"`: access tokens verified from the JWKS, on a bearer
// route, across a rotation through the admin listener, refused once their key is removed.
mod access_jws;
// Apache mod_auth_openidc in front of a CGI page: REMOTE_USER, OIDC_CLAIM_*, Require claim.
mod oidc_apache;
// Back-Channel Logout: signed logout tokens POSTed to a real receiver, off the logout's path.
mod oidc_backchannel;
// RP-Initiated Logout: one test per conformance module (hint, redirect URI, state, no hint).
mod oidc_logout;
// Path normalisation over raw TCP: refusals (400, nothing forwarded) and normal forms forwarded.
mod path_normalisation;
// The persisted token store through the binary: SIGKILL under load, torn and corrupted
// journals, a broken snapshot, the store lock, file modes and no raw token on disk.
mod persistence;
// Bearer routes: RFC 6750 challenges, scopes on every request, query tokens, revocation.
mod protect_bearer;
// The signed X-Auth-Assertion of routes with assertion = true, verified against the JWKS.
mod protect_assertion;
// Protected routes' upstream view: spoofed identity headers, gateway cookies in and out.
mod protect_headers;
// RFC 9728 protected resource metadata, gateway-wide and per route, named by 401s.
mod protect_metadata;
// Return targets of logout and sign-in: open-redirect forms never leave the site.
mod protect_redirects;
// Session routes: the sign-in flow, callback refusals, idle and absolute limits, logout.
mod protect_session;
// Two gateways sharing one real Redis: single use, rotation, revocation within 1 s, outage.
mod redis;
// The request head: one Host, framing, methods never forwarded, path parameters, `#`.
mod request_head;
// Headless Chromium signs in to the starter's whoami page; scripts cannot read the cookie.
mod real_browser;
// Route choice: longest prefix, hosts, strip_prefix, preserve_host, base paths, 404, reserved paths.
mod routing;
// Graceful shutdown of the binary on SIGTERM/SIGINT: in-flight requests finish, exit 0.
mod shutdown;
// The repository's starter gateway.toml, run by the binary: whoami, static and bearer routes.
mod starter;
// Bodies streamed both ways, never buffered whole: first bytes before last, 256 MiB transfers.
mod streaming;
// TLS in self-signed mode: HTTP/2 and HTTP/1.1 over the generated certificate, key file, reuse.
mod tls;
// TLS session resumption: a second connection resumes, and still does after a reload.
mod tls_resumption;
// Upstream failures: 502 for a dead upstream, 504 for a silent one, statuses passed through.
mod upstream_failures;
// The upstream connection pool: keep-alive reuse, and https upstreams with their own CA.
mod upstream_pool;
// WebSocket upgrade proxied both ways: text, binary and close through the gateway.
mod websocket;
