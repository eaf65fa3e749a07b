// A real upstream OpenID provider for authgate's federation tests: panva's oidc-provider
// (OpenID Certified), pinned in package.json. tests/it/support/idp.rs starts it on a free
// loopback port as `node idp.mjs SETTINGS.json` (or with the settings as JSON in $IDP_CONFIG).
//
// Settings (every key but `port` optional):
//   port          the loopback port to listen on
//   issuer        default http://127.0.0.1:PORT (https with `tls`)
//   tls           { cert, key }: PEM file paths; serve https
//   clients       [{ client_id, client_secret, redirect_uris, token_endpoint_auth_method,
//                    id_token_signed_response_alg }]
//   accounts      { SUB: { claims... } }: the people who can sign in, by their `sub`; the claims
//                 (email, email_verified, name, preferred_username, groups, hd, anything) are
//                 returned as given, so `"email_verified": "true"` (a string) reaches the RP
//   keys          [{ kid, alg }]: signing keys, generated fresh at each start (default one
//                 RS256 key "k1"): a restart with another kid is a key rotation
//   send_iss      default true: the RFC 9207 `iss` in authorization responses; false removes it
//                 (and its discovery flag), as a provider without RFC 9207 answers
//   thin_id_token default false: true puts the scope claims only at userinfo (the library
//                 default, Okta's way), not in the ID token
//   require_pkce  default true: refuse an authorization request without PKCE S256
//
// Sign-in: the library's development interactions, a login form (`login` = the account's sub,
// any password) then, for a client the account has not yet granted, a consent form ("Continue").
// A login that is none of the accounts above gets the library's error page (500
// server_error): support/idp.rs signs in only as configured accounts.
//
// Prints `IdP ISSUER ready pid=PID` once it listens. Exits when its standard input closes (the
// test process that started it holds the other end, so it never outlives that process), on
// SIGTERM, and when it cannot listen (exit 3, the reason on stderr).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Provider } from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose'; // a dependency of oidc-provider

const settings = JSON.parse(
  process.argv[2] ? readFileSync(process.argv[2], 'utf8') : (process.env.IDP_CONFIG ?? '{}'),
);
const port = Number(settings.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`idp.mjs: no valid "port" in the settings: ${settings.port}`);
  process.exit(2);
}
const tls = settings.tls;
const issuer = settings.issuer ?? `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
const accounts = settings.accounts ?? {};
const sendIss = settings.send_iss ?? true;
const requirePkce = settings.require_pkce ?? true;

const keys = [];
for (const { kid, alg = 'RS256' } of settings.keys ?? [{ kid: 'k1' }]) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  keys.push({ ...(await exportJWK(privateKey)), kid, alg, use: 'sig' });
}

const provider = new Provider(issuer, {
  jwks: { keys },
  clients: (settings.clients ?? []).map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    ...(c.id_token_signed_response_alg ? { id_token_signed_response_alg: c.id_token_signed_response_alg } : {}),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  })),
  claims: {
    openid: ['sub', 'hd'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  conformIdTokenClaims: settings.thin_id_token === true,
  pkce: { required: () => requirePkce },
  cookies: { keys: ['authgate-test-idp-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    const claims = accounts[sub];
    if (!claims) return undefined;
    return { accountId: sub, async claims() { return { ...claims, sub }; } };
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;

// Redirect URIs added while it runs (POST /_test/redirect_uris {client_id, redirect_uri}): the
// tests start the IdP first, for its issuer, then the gateway, whose callback URI names the port
// it got. Still an exact match, as for the registered ones.
const added = new Map();
for (const c of settings.clients ?? []) added.set(c.client_id, new Set());
const registeredOnly = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  return registeredOnly.call(this, value) || (added.get(this.clientId)?.has(value) ?? false);
};

// Accounts replaced while it runs (POST /_test/accounts {SUB: claims}): a person whose groups
// changed at the provider.
async function control(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (ctx.path === '/_test/redirect_uris' && added.has(body.client_id)) {
    added.get(body.client_id).add(body.redirect_uri);
  } else if (ctx.path === '/_test/accounts') {
    Object.assign(accounts, body);
  } else {
    ctx.status = 400;
    ctx.body = { error: `unknown control request ${ctx.path}` };
    return;
  }
  ctx.status = 204;
}

// Besides the control requests, only the `iss` of responses is changed here; the sign-in is the
// library's own.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path.startsWith('/_test/')) {
    await control(ctx);
    return;
  }
  await next();
  if (!sendIss) {
    const location = ctx.response.get('location');
    if (location && location.includes('iss=')) {
      const url = new URL(location);
      url.searchParams.delete('iss');
      ctx.response.set('location', url.toString());
    }
    if (ctx.path === '/.well-known/openid-configuration' && ctx.body) {
      delete ctx.body.authorization_response_iss_parameter_supported;
    }
  }
});

const server = tls
  ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, provider.callback())
  : http.createServer(provider.callback());
server.on('error', (err) => {
  console.error(`idp.mjs: cannot listen on 127.0.0.1:${port}: ${err.code ?? err.message}`);
  process.exit(3);
});
server.listen(port, '127.0.0.1', () => console.log(`IdP ${issuer} ready pid=${process.pid}`));

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
