// Signing in through the organisation's OpenID Connect provider, in the
// browser: the authorization code flow with PKCE (RFC 7636), a public
// client without secret.  GET /api/v1/auth names the issuer and the
// portal's client; the provider's discovery document names its endpoints
// (connect-src allows the issuer's origin).  The ID token is the bearer
// token esaasd checks against the provider's keys; it is kept in this tab
// only (sessionStorage), with the refresh token when the provider gives
// one, and renewed before it expires; without one, the person is asked to
// sign in again.

import {getToken, setToken} from './api.js';

const FLOW_KEY = 'esaas.oidc-flow';
const REFRESH_KEY = 'esaas.oidc-refresh';

export class SignInError extends Error {}

function b64url(bytes) {
	let text = '';
	for (const b of new Uint8Array(bytes)) {
		text += String.fromCharCode(b);
	}
	return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n) {
	return b64url(window.crypto.getRandomValues(new Uint8Array(n)));
}

// The claims of a JWT, unchecked: esaasd checks the signature; the page
// only reads the nonce and the expiry.
export function jwtClaims(token) {
	try {
		const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
		return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
	} catch {
		return null;
	}
}

function session(key, value) {
	try {
		if (value === undefined) {
			return window.sessionStorage.getItem(key);
		}
		if (value === null) {
			window.sessionStorage.removeItem(key);
		} else {
			window.sessionStorage.setItem(key, value);
		}
	} catch {
		// Storage refused: the sign-in lasts until reload.
	}
	return null;
}

// What esaasd says about signing in: {oidc: {issuer, client_id} | null}.
export async function authInfo() {
	const resp = await fetch('/api/v1/auth', {headers: {Accept: 'application/json'}, cache: 'no-store'});
	if (!resp.ok) {
		return {oidc: null};
	}
	return resp.json();
}

const discovered = new Map();

async function discover(issuer) {
	if (!discovered.has(issuer)) {
		let doc;
		try {
			const resp = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
				{headers: {Accept: 'application/json'}});
			doc = resp.ok ? await resp.json() : null;
		} catch (err) {
			throw new SignInError(`cannot reach the identity provider ${issuer}: ${err.message}`);
		}
		if (!doc || doc.issuer !== issuer || !doc.authorization_endpoint || !doc.token_endpoint) {
			throw new SignInError(`the identity provider ${issuer} has no usable discovery document`);
		}
		discovered.set(issuer, doc);
	}
	return discovered.get(issuer);
}

function redirectUri() {
	return `${window.location.origin}/ui/`;
}

// Leave for the provider's sign-in page; it comes back to /ui/?code=...
export async function startSignIn(oidc) {
	const doc = await discover(oidc.issuer);
	const verifier = randomString(48);
	const challenge = b64url(await window.crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
	const flow = {verifier, state: randomString(24), nonce: randomString(24), hash: window.location.hash};
	session(FLOW_KEY, JSON.stringify(flow));
	const offline = Array.isArray(doc.scopes_supported) && doc.scopes_supported.includes('offline_access');
	const url = new URL(doc.authorization_endpoint);
	const params = {response_type: 'code', client_id: oidc.client_id, redirect_uri: redirectUri(),
		scope: offline ? 'openid offline_access' : 'openid', state: flow.state, nonce: flow.nonce,
		code_challenge: challenge, code_challenge_method: 'S256'};
	if (offline) {
		// A refresh token is only given for offline access after consent (OIDC Core 11).
		params.prompt = 'consent';
	}
	for (const [k, v] of Object.entries(params)) {
		url.searchParams.set(k, v);
	}
	window.location.assign(url.toString());
}

async function tokenRequest(doc, params) {
	let resp;
	let body = null;
	try {
		resp = await fetch(doc.token_endpoint, {method: 'POST', body: new URLSearchParams(params),
			headers: {'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json'}});
		body = await resp.json().catch(() => null);
	} catch (err) {
		throw new SignInError(`cannot reach the identity provider's token endpoint: ${err.message}`);
	}
	if (!resp.ok || !body || typeof body.id_token !== 'string') {
		const why = body && body.error ? `${body.error}${body.error_description ? ': ' + body.error_description : ''}` :
			`it answered ${resp.status}`;
		throw new SignInError(`the identity provider gave no ID token (${why})`);
	}
	return body;
}

function keep(tokens) {
	setToken(tokens.id_token);
	if (typeof tokens.refresh_token === 'string') {
		session(REFRESH_KEY, tokens.refresh_token);
	}
}

// Back from the provider: trade the code for tokens.  Resolves to the ID
// token's claims, or null when this load is no answer from the provider.
export async function finishSignIn(oidc) {
	const q = new URLSearchParams(window.location.search);
	if (!q.has('code') && !q.has('error')) {
		return null;
	}
	const flow = JSON.parse(session(FLOW_KEY) || 'null');
	session(FLOW_KEY, null);
	// The code is used once: out of the address, which goes back to where the person was.
	window.history.replaceState(null, '', `${window.location.pathname}${flow && flow.hash ? flow.hash : ''}`);
	if (q.has('error')) {
		throw new SignInError(`the identity provider refused: ${q.get('error')}` +
			(q.get('error_description') ? ` (${q.get('error_description')})` : ''));
	}
	if (!flow || q.get('state') !== flow.state) {
		throw new SignInError('the answer does not belong to a sign-in started in this tab; sign in again');
	}
	if (q.has('iss') && q.get('iss') !== oidc.issuer) {
		throw new SignInError(`the answer comes from ${q.get('iss')}, not ${oidc.issuer}`);
	}
	const doc = await discover(oidc.issuer);
	const tokens = await tokenRequest(doc, {grant_type: 'authorization_code', code: q.get('code'),
		redirect_uri: redirectUri(), client_id: oidc.client_id, code_verifier: flow.verifier});
	const claims = jwtClaims(tokens.id_token);
	if (!claims || claims.nonce !== flow.nonce) {
		throw new SignInError('the ID token is not the one asked for (its nonce differs)');
	}
	keep(tokens);
	return claims;
}

// Renew the ID token kept before it expires: with the refresh token, or
// else by asking (onExpired) once it has.  Returns a function that stops.
export function keepFresh(oidc, onRenewed, onExpired) {
	let timer = null;
	const arm = () => {
		window.clearTimeout(timer);
		const claims = jwtClaims(getToken());
		if (!claims || typeof claims.exp !== 'number') {
			return;
		}
		const now = Date.now() / 1000;
		const life = Math.max(claims.exp - (claims.iat || now), 1);
		// A quarter of its life before it ends, and at most a minute.
		const at = claims.exp - Math.min(life / 4, 60);
		timer = window.setTimeout(renew, Math.max(at - now, 0) * 1000);
	};
	const renew = async () => {
		const token = getToken();
		const refresh = session(REFRESH_KEY);
		if (!jwtClaims(token)) {
			return; // signed out, or an API token since
		}
		if (refresh) {
			try {
				const doc = await discover(oidc.issuer);
				const tokens = await tokenRequest(doc, {grant_type: 'refresh_token', refresh_token: refresh,
					client_id: oidc.client_id});
				if (getToken() === token) {
					keep(tokens);
					onRenewed();
					arm();
				}
				return;
			} catch {
				session(REFRESH_KEY, null);
			}
		}
		const claims = jwtClaims(token);
		const left = claims ? claims.exp * 1000 - Date.now() : 0;
		window.setTimeout(() => {
			if (getToken() === token) {
				onExpired();
			}
		}, Math.max(left, 0));
	};
	arm();
	return arm;
}

export function forgetRefresh() {
	session(REFRESH_KEY, null);
}
