// A real OpenID Connect provider (the oidc-provider package) on loopback,
// for the portal's sign-in tests:
//
//   node tests/browser/oidc-provider.mjs PORT REDIRECT_URI READY_FILE [ID_TOKEN_SECONDS]
//
// Its one client is the portal's, public ("esaas-portal": authorization
// code, PKCE required, no secret).  Any login and password sign in (the
// package's development pages); the account names the tenant and role
// esaasd reads from the ID token's claims:
//   alice  member of tenant default
//   vera   viewer of tenant default
// Once it listens, it writes READY_FILE.  Its issuer is
// http://127.0.0.1:PORT, its keys at /jwks.

import Provider from 'oidc-provider';
import fs from 'node:fs';

const [port, redirectUri, readyFile, idTokenSeconds] = process.argv.slice(2);
if (!port || !redirectUri || !readyFile) {
	console.error('usage: oidc-provider.mjs PORT REDIRECT_URI READY_FILE [ID_TOKEN_SECONDS]');
	process.exit(2);
}

const accounts = {
	alice: {esaas_tenant: 'default', esaas_role: 'member'},
	vera: {esaas_tenant: 'default', esaas_role: 'viewer'},
};

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
	clients: [{
		client_id: 'esaas-portal',
		token_endpoint_auth_method: 'none',
		redirect_uris: [redirectUri],
		grant_types: ['authorization_code', 'refresh_token'],
		response_types: ['code'],
	}],
	// The tenant and role come with the openid scope, as an organisation's
	// provider configured for esaas would put them.
	claims: {openid: ['sub', 'esaas_tenant', 'esaas_role']},
	scopes: ['openid', 'offline_access'],
	// The claims go into the ID token, which is what the portal sends.
	conformIdTokenClaims: false,
	async findAccount(ctx, id) {
		return {accountId: id, async claims() {
			return {sub: id, ...(accounts[id] || {})};
		}};
	},
	// The portal is on another origin (esaasd's): its token requests are CORS.
	clientBasedCORS: () => true,
	cookies: {keys: ['esaas-portal-tests']},
	ttl: {IdToken: Number(idTokenSeconds) || 3600, AccessToken: 3600, Grant: 3600,
		Interaction: 600, Session: 3600, AuthorizationCode: 60, RefreshToken: 3600},
	features: {devInteractions: {enabled: true}},
});
provider.proxy = false;
const server = provider.listen(Number(port), '127.0.0.1', () => {
	fs.writeFileSync(readyFile, issuer);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
