// The one way the viewer talks to esaasd.  Every request goes through
// request(), which adds the bearer token kept in this tab (if any) and turns
// the API's error shape {"error": {"code", "message", "field"}} into an
// ApiError.  A 401 asks for a token through the handler app.js installs;
// a 403 says that the token's role may not do what was asked.  A 401 that
// answers a token other than the one kept now is only thrown.

const TOKEN_KEY = 'esaas.api-token';

export class ApiError extends Error {
	constructor(status, code, message, field) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.field = field || null;
	}
}

let unauthorizedHandler = null;

// fn(error) runs when the API answers 401; it may ask for a token.
export function onUnauthorized(fn) {
	unauthorizedHandler = fn;
}

export function getToken() {
	try {
		return window.sessionStorage.getItem(TOKEN_KEY) || '';
	} catch {
		return '';
	}
}

export function setToken(token) {
	try {
		if (token) {
			window.sessionStorage.setItem(TOKEN_KEY, token);
		} else {
			window.sessionStorage.removeItem(TOKEN_KEY);
		}
	} catch {
		// Storage refused (private mode, quota): the token lasts until reload.
	}
}

async function errorOf(resp) {
	let body = null;
	try {
		body = await resp.json();
	} catch {
		// Not JSON: a proxy's page, or nothing at all.
	}
	const e = body && body.error;
	if (resp.status === 403) {
		// Not a fault of the page nor of the request: the role's limit.
		const why = e && typeof e.message === 'string' ? `${e.message}. ` : '';
		return new ApiError(403, (e && e.code) || 'forbidden',
			`Not allowed: ${why}Sign in with a token whose role may do this.`, e && e.field);
	}
	if (e && typeof e.message === 'string') {
		return new ApiError(resp.status, e.code || 'error', e.message, e.field);
	}
	return new ApiError(resp.status, 'http_' + resp.status,
		`the server answered ${resp.status} ${resp.statusText || ''}`.trim());
}

// method, path ("/api/v1/..."), optional JSON body; resolves to the parsed
// JSON answer, rejects with an ApiError.
export async function request(method, path, body) {
	const headers = {Accept: 'application/json'};
	const token = getToken();
	if (token) {
		headers.Authorization = 'Bearer ' + token;
	}
	const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let resp;
	try {
		resp = await fetch(path, init);
	} catch (err) {
		throw new ApiError(0, 'network', `cannot reach esaasd: ${err.message}`);
	}
	if (!resp.ok) {
		const error = await errorOf(resp);
		// A 401 for a token no longer kept (an answer still on its way
		// when another token was entered) says nothing of the one kept.
		if (resp.status === 401 && unauthorizedHandler && getToken() === token) {
			unauthorizedHandler(error);
		}
		throw error;
	}
	return resp.status === 204 ? null : resp.json();
}

export function get(path) {
	return request('GET', path);
}

export function post(path, body) {
	return request('POST', path, body);
}

export function put(path, body) {
	return request('PUT', path, body);
}

export function patch(path, body) {
	return request('PATCH', path, body);
}

export function del(path) {
	return request('DELETE', path);
}

// "/api/v1/jobs?status=failed&kind=scale", leaving out empty parameters.
export function withQuery(path, params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v !== null && v !== undefined && v !== '') {
			q.set(k, String(v));
		}
	}
	const s = q.toString();
	return s ? `${path}?${s}` : path;
}

export const paths = {
	jobs: (params) => withQuery('/api/v1/jobs', params || {}),
	job: (id) => `/api/v1/jobs/${encodeURIComponent(id)}`,
	events: (id, after) =>
		withQuery(`/api/v1/jobs/${encodeURIComponent(id)}/events`, {after, limit: 1000}),
	replay: (id) => `/api/v1/jobs/${encodeURIComponent(id)}/replay`,
	cancel: (id) => `/api/v1/jobs/${encodeURIComponent(id)}/cancel`,
	workflows: () => '/api/v1/workflows',
	workflow: (kind) => `/api/v1/workflows/${encodeURIComponent(kind)}`,
	whoami: () => '/api/v1/whoami',
	me: () => '/api/v1/me',
	versions: () => '/api/v1/versions',
	versionPlugins: (v) => `/api/v1/versions/${encodeURIComponent(v)}/plugins`,
	tenants: () => '/api/v1/tenants',
	tenant: (t) => `/api/v1/tenants/${encodeURIComponent(t)}`,
	quota: (t) => `/api/v1/tenants/${encodeURIComponent(t)}/quota`,
	tokens: () => '/api/v1/tokens',
	token: (id) => `/api/v1/tokens/${encodeURIComponent(id)}`,
	clusterOp: (name, op) => `/api/v1/clusters/${encodeURIComponent(name)}/${op}`,
	clusterPlugin: (name, plugin) =>
		`/api/v1/clusters/${encodeURIComponent(name)}/plugins/${encodeURIComponent(plugin)}`,
	clusters: () => '/api/v1/clusters',
	cluster: (name) => `/api/v1/clusters/${encodeURIComponent(name)}`,
	clusterNodes: (name) => `/api/v1/clusters/${encodeURIComponent(name)}/nodes`,
	clusterSnapshots: (name) => `/api/v1/clusters/${encodeURIComponent(name)}/snapshots`,
	healthHistory: (name, limit) =>
		withQuery(`/api/v1/clusters/${encodeURIComponent(name)}/health-history`, {limit}),
};
