// The portal: routes in the address's fragment (#/jobs, #/jobs/42,
// #/clusters, #/clusters/logs, #/apply, #/admin), one page at a time, each
// refreshing itself until the next route disposes of it.  Also signing in:
// the token prompt shown when the API answers 401, and who is signed in
// and what their role may do (GET /api/v1/me), with the button that signs
// out.  Pages offer only the actions app.me.may allows.

import {get, paths, getToken, setToken, onUnauthorized} from './api.js';
import {authInfo, startSignIn, finishSignIn, keepFresh, forgetRefresh} from './oidc.js';
import {h, replace, announce} from './dom.js';
import {jobsPage} from './jobs.js';
import {jobPage} from './job.js';
import {clustersPage, clusterPage} from './clusters.js';
import {applyPage} from './apply.js';
import {adminPage} from './admin.js';

// Seconds between refreshes: 3, or ?poll=N (1 to 60) in the address.
function pollSeconds() {
	const n = Number(new URLSearchParams(window.location.search).get('poll'));
	return Number.isInteger(n) && n >= 1 && n <= 60 ? n : 3;
}

const app = {
	pollSeconds: pollSeconds(),
	me: null, // GET /api/v1/me of the token kept: {actor, tenant, role, may}
	setTitle(text) {
		document.title = `${text} · esaas`;
	},
};

const main = document.getElementById('main');
let dispose = null;
let firstRoute = true;

function parseRoute() {
	const raw = window.location.hash.replace(/^#/, '') || '/jobs';
	const q = raw.indexOf('?');
	const path = q < 0 ? raw : raw.slice(0, q);
	const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
	const segs = [];
	for (const s of path.split('/').filter(Boolean)) {
		try {
			segs.push(decodeURIComponent(s));
		} catch {
			return {name: 'unknown', segs: [], query};
		}
	}
	const [top, arg] = segs;
	if (top === 'jobs' && segs.length === 1) {
		return {name: 'jobs', query};
	}
	if (top === 'jobs' && segs.length === 2 && /^[0-9]+$/.test(arg)) {
		return {name: 'job', id: arg, query};
	}
	if (top === 'clusters' && segs.length === 1) {
		return {name: 'clusters', query};
	}
	if (top === 'clusters' && segs.length === 2) {
		return {name: 'cluster', cluster: arg, query};
	}
	if ((top === 'apply' || top === 'admin') && segs.length === 1) {
		return {name: top, query};
	}
	return {name: 'unknown', segs, query};
}

function notFound() {
	app.setTitle('Not found');
	replace(main, h('h1', {tabindex: '-1'}, 'Not found'),
		h('p', null, 'There is no such page in the job viewer. ', h('a', {href: '#/jobs'}, 'See the jobs.')));
	return null;
}

function route() {
	if (dispose) {
		dispose();
		dispose = null;
	}
	const r = parseRoute();
	const section = {cluster: 'clusters', clusters: 'clusters', apply: 'apply', admin: 'admin'}[r.name] || 'jobs';
	for (const a of document.querySelectorAll('nav a[data-nav]')) {
		if (a.dataset.nav === section) {
			a.setAttribute('aria-current', 'page');
		} else {
			a.removeAttribute('aria-current');
		}
	}
	switch (r.name) {
	case 'jobs':
		dispose = jobsPage(main, r.query, app);
		break;
	case 'job':
		dispose = jobPage(main, r.id, app);
		break;
	case 'clusters':
		dispose = clustersPage(main, app);
		break;
	case 'cluster':
		dispose = clusterPage(main, r.cluster, app);
		break;
	case 'apply':
		dispose = applyPage(main, app);
		break;
	case 'admin':
		dispose = adminPage(main, app);
		break;
	default:
		dispose = notFound();
	}
	// A new page takes the focus to its heading, so that keyboard and
	// screen reader users start there; the first page loads as any page.
	if (!firstRoute) {
		const heading = main.querySelector('h1');
		if (heading) {
			heading.focus();
		}
		window.scrollTo(0, 0);
	}
	firstRoute = false;
}

// --- signing in: the API token ------------------------------------------------

const dialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenError = document.getElementById('token-error');
const tokenButton = document.getElementById('token-button');
const whoami = document.getElementById('whoami');
let tokenRefused = false;
let prompted = false;
let identity = null; // GET /api/v1/me of the token kept, once it answered
let sessionRetry = null; // asking again after an answer that was not one
const SESSION_RETRY_MS = 3000;

// The header: who is signed in, and the one button that signs in or out.
function showSession() {
	const have = Boolean(getToken());
	if (identity) {
		replace(whoami, 'Signed in as ', h('strong', {id: 'whoami-actor'}, identity.actor),
			', ', h('span', {id: 'whoami-role'}, identity.role), ' of tenant ',
			h('strong', {id: 'whoami-tenant'}, identity.tenant));
	}
	whoami.hidden = !identity;
	// The sections a role has no use for are not offered.
	const may = identity ? identity.may : {};
	document.getElementById('nav-apply').hidden = !may.operate || may.operate === 'none';
	document.getElementById('nav-admin').hidden = may.admin !== 'all';
	tokenButton.hidden = !have && !tokenRefused;
	tokenButton.textContent = have ? 'Sign out' : 'Sign in';
	if (identity) {
		tokenButton.setAttribute('aria-describedby', 'whoami');
	} else {
		tokenButton.removeAttribute('aria-describedby');
	}
}

// Ask esaasd who the token kept is.  Without a token there is no one to
// ask about; a refused token is handled by onUnauthorized below.
async function refreshSession() {
	const token = getToken();
	identity = null;
	app.me = null;
	if (token) {
		try {
			const who = await get(paths.me());
			// Signed out or in again while the answer was on its way.
			if (getToken() === token && who && typeof who.actor === 'string') {
				identity = {actor: who.actor, role: String(who.role), tenant: String(who.tenant),
					may: who.may && typeof who.may === 'object' ? who.may : {}};
				app.me = identity;
			}
		} catch (err) {
			// 401: onUnauthorized asks again.  Anything else (esaasd
			// busy or out of reach): no one to show yet, and asked again
			// in a few seconds while the token is still the one kept.
			if (err.status !== 401 && err.status !== 403) {
				clearTimeout(sessionRetry);
				sessionRetry = setTimeout(() => {
					if (getToken() === token && !identity) {
						refreshSession();
					}
				}, SESSION_RETRY_MS);
			}
		}
	}
	showSession();
}

// --- signing in: the organisation's identity provider ------------------------

let oidc = null; // GET /api/v1/auth's oidc: {issuer, client_id}, or null
const oidcBox = document.getElementById('oidc-signin');
const oidcError = document.getElementById('oidc-error');

function oidcFailed(message) {
	oidcError.textContent = `Signing in did not work: ${message}`;
	oidcError.hidden = false;
}

document.getElementById('oidc-button').addEventListener('click', () => {
	oidcError.hidden = true;
	startSignIn(oidc).catch((err) => oidcFailed(err.message));
});

function askToken(reason) {
	if (dialog.open) {
		return;
	}
	oidcBox.hidden = !oidc;
	tokenRefused = true;
	showSession();
	document.getElementById('token-why').textContent = reason ||
		'The API needs a bearer token. It is kept in this tab only (sessionStorage).';
	tokenError.hidden = true;
	tokenInput.value = '';
	dialog.showModal();
	(oidc ? document.getElementById('oidc-button') : tokenInput).focus();
}

onUnauthorized((err) => {
	identity = null;
	app.me = null;
	showSession();
	// Ask once by itself; afterwards the header's button asks again, so
	// that a refresh every few seconds does not keep opening the prompt.
	if (prompted) {
		return;
	}
	prompted = true;
	askToken(getToken() ?
		`The API refused the token kept in this tab: ${err.message}. Enter another one.` :
		`The API needs a bearer token (it answered: ${err.message}). It is kept in this tab only.`);
});

tokenForm.addEventListener('submit', (e) => {
	e.preventDefault();
	const token = tokenInput.value.trim();
	if (!token) {
		tokenError.hidden = false;
		tokenError.textContent = 'Enter a token, or Cancel.';
		tokenInput.setAttribute('aria-invalid', 'true');
		tokenInput.focus();
		return;
	}
	tokenInput.removeAttribute('aria-invalid');
	forgetRefresh();
	setToken(token);
	prompted = false;
	dialog.close();
	showSession();
	announce('Token saved; loading again.');
	refreshSession().then(() => {
		if (identity) {
			announce(`Signed in as ${identity.actor}, ${identity.role} of tenant ${identity.tenant}.`);
		}
		route();
	});
});

document.getElementById('token-cancel').addEventListener('click', () => dialog.close());

tokenButton.addEventListener('click', () => {
	if (getToken()) {
		// Signed out: the pages say what they cannot load, and the
		// button (where the focus stays) signs in again.
		setToken('');
		forgetRefresh();
		identity = null;
		app.me = null;
		tokenRefused = true;
		prompted = true;
		showSession();
		announce('Signed out: the API token is forgotten in this tab.');
		route();
		tokenButton.focus();
	} else {
		askToken();
	}
});

// The skip link would otherwise change the route.
document.querySelector('.skip-link').addEventListener('click', (e) => {
	e.preventDefault();
	const heading = main.querySelector('h1');
	(heading || main).focus();
});

window.addEventListener('hashchange', route);
// How to sign in, then the answer of the provider if this load is one;
// the first page waits for what the role may do, so that it shows only
// the actions allowed.
async function start() {
	showSession();
	try {
		oidc = (await authInfo()).oidc || null;
	} catch {
		oidc = null;
	}
	if (oidc) {
		try {
			const claims = await finishSignIn(oidc);
			if (claims) {
				prompted = false;
				announce('Signed in through the identity provider.');
			}
		} catch (err) {
			prompted = true;
			askToken('Signing in through the identity provider did not work.');
			oidcFailed(err.message);
		}
		keepFresh(oidc, () => announce('Sign-in renewed.'), () => {
			prompted = true;
			identity = null;
			app.me = null;
			showSession();
			askToken('Your sign-in has expired: sign in again.');
		});
	}
	await refreshSession();
	route();
}

start();
