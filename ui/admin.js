// The admin's pages: tenants with their quotas and usage, a tenant's quota
// changed, tenants added, a tenant's default maintenance windows, and the
// API tokens made and revoked.  Only an
// admin is offered the page (GET /api/v1/me says so); the API refuses the
// rest anyway.

import {get, post, put, del, paths, ApiError} from './api.js';
import {h, replace, announce} from './dom.js';
import {field, clearRefusal, showRefusal} from './forms.js';
import {timeAgo} from './format.js';
import {MEASURES, formatMeasure} from './quantity.js';
import {poller} from './poll.js';
import {maintenanceEditor} from './maintenance.js';

const ROLES = ['viewer', 'member', 'oncall', 'admin'];

// The quota's fields in the API (PUT .../quota) and their measures.
const QUOTA_FIELDS = [
	['clusters', 'clusters', 'Clusters', 'A whole number.'],
	['nodes', 'nodes', 'Nodes', 'A whole number.'],
	['cpu', 'cpu_millis', 'CPU', 'Cores, such as 64 or 500m.'],
	['memory', 'memory_bytes', 'Memory', 'Such as 256Gi.'],
	['disk', 'disk_bytes', 'Disk', 'Such as 10Ti.'],
];

function quotaText(measure, millisOrBytes) {
	if (millisOrBytes === null || millisOrBytes === undefined) {
		return '';
	}
	const v = Number(millisOrBytes);
	if (measure === 'cpu_millis') {
		return v % 1000 === 0 ? String(v / 1000) : `${v}m`;
	}
	if (measure === 'memory_bytes' || measure === 'disk_bytes') {
		for (const [unit, size] of [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]]) {
			if (v % size === 0) {
				return `${v / size}${unit}`;
			}
		}
	}
	return String(v);
}

// A form whose submit runs action(); its errors go beside the field named,
// or at its top.
function apiForm(id, title, fields, button, action) {
	const formError = h('p', {class: 'form-error', role: 'alert', hidden: true});
	const result = h('div', {class: 'result', role: 'status'});
	const submit = h('button', {type: 'submit'}, button);
	const form = h('form', {id, class: 'panel admin-form', novalidate: true, 'aria-labelledby': `${id}-h`},
		h('h2', {id: `${id}-h`}, title), formError, Object.values(fields).map((f) => f.el),
		h('div', {class: 'buttons'}, submit), result);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		clearRefusal(fields, formError);
		submit.disabled = true;
		try {
			replace(result, await action());
		} catch (err) {
			showRefusal(err instanceof ApiError && err.field ? fields[err.field] : null, formError, err);
		} finally {
			submit.disabled = false;
		}
	});
	return form;
}

export function adminPage(main, app) {
	const heading = h('h1', {tabindex: '-1'}, 'Tenants, quotas and tokens');
	app.setTitle('Admin');
	if (!app.me || app.me.may.admin !== 'all') {
		replace(main, heading, h('p', {class: 'problem'}, 'Only an admin manages tenants, quotas and tokens.'));
		return null;
	}
	const problem = h('p', {class: 'problem', hidden: true});
	const tenantsBody = h('tbody');
	const tokensBody = h('tbody');
	const tenantChoices = [h('select'), h('select'), h('select')];

	const tenantsSec = h('section', {class: 'panel', 'aria-labelledby': 'tenants-h'},
		h('h2', {id: 'tenants-h'}, 'Tenants'),
		h('div', {class: 'table-wrap'}, h('table', {class: 'tenants'},
			h('caption', null, 'Each tenant\'s usage and quota (usage / limit)'),
			h('thead', null, h('tr', null, ['Tenant', ...MEASURES.map(([, label]) => label)]
				.map((t) => h('th', {scope: 'col'}, t)))),
			tenantsBody)));

	const tenantName = field('tenant-new-name', 'Tenant name', h('input', {type: 'text', spellcheck: 'false', autocomplete: 'off'}),
		'Lower-case letters, digits and "-".');
	const tenantForm = apiForm('tenant-form', 'Add a tenant', {tenant: tenantName}, 'Add the tenant', async () => {
		const t = await put(paths.tenant(tenantName.control.value.trim()), {});
		announce(`Tenant ${t.id} added.`);
		tenantName.control.value = '';
		poll.now();
		return `Tenant ${t.id} added.`;
	});

	const quotaTenant = field('quota-tenant', 'Tenant', tenantChoices[0], null);
	const quotaFields = {tenant: quotaTenant};
	for (const [key, , label, hint] of QUOTA_FIELDS) {
		quotaFields[key] = field(`quota-${key}`, `${label} limit`,
			h('input', {type: 'text', spellcheck: 'false', autocomplete: 'off'}), `${hint} Empty: no limit.`);
	}
	let tenants = [];
	const fillQuota = () => {
		const t = tenants.find((x) => x.id === quotaTenant.control.value);
		for (const [key, measure] of QUOTA_FIELDS) {
			quotaFields[key].control.value = t && t.quota ? quotaText(measure, t.quota[measure]) : '';
		}
	};
	quotaTenant.control.addEventListener('change', fillQuota);
	const quotaForm = apiForm('quota-form', 'Set a quota', quotaFields, 'Set the quota', async () => {
		const body = {};
		for (const [key] of QUOTA_FIELDS) {
			const v = quotaFields[key].control.value.trim();
			body[key] = v === '' ? null : (key === 'clusters' || key === 'nodes') && /^[0-9]+$/.test(v) ? Number(v) : v;
		}
		const t = await put(paths.quota(quotaTenant.control.value), body);
		announce(`The quota of tenant ${t.id} is set.`);
		poll.now();
		return `The quota of tenant ${t.id} is set.`;
	});

	const tokenFields = {
		tenant: field('token-tenant', 'Tenant', tenantChoices[1], null),
		role: field('token-role', 'Role', h('select', null, ROLES.map((r) => h('option', {value: r}, r))), null),
		description: field('token-description', 'Description', h('input', {type: 'text', autocomplete: 'off'}),
			'Who or what uses it.'),
		expires_in_seconds: field('token-days', 'Expires after (days)', h('input', {type: 'number', min: 1, step: 1}),
			'Empty: never.'),
	};
	const tokenForm = apiForm('token-form-new', 'Make a token', tokenFields, 'Make the token', async () => {
		const body = {tenant: tokenFields.tenant.control.value, role: tokenFields.role.control.value,
			description: tokenFields.description.control.value.trim()};
		const days = tokenFields.expires_in_seconds.control.value.trim();
		if (days) {
			body.expires_in_seconds = Math.round(Number(days) * 86400);
		}
		const t = await post(paths.tokens(), body);
		poll.now();
		announce(`Token ${t.id} made; copy it now, it is not shown again.`);
		return [h('p', null, `Token ${t.id} (${t.role} of ${t.tenant}) is made. Copy it now: it is not shown again.`),
			h('label', {for: 'token-secret'}, 'The new token'),
			h('input', {id: 'token-secret', type: 'text', readonly: true, value: t.token, spellcheck: 'false'})];
	});

	// A tenant's default windows (PUT /api/v1/tenants/{tenant}/maintenance):
	// the editor is drawn again when another tenant is chosen or its
	// windows change.
	const windowsTenant = field('windows-tenant', 'Tenant', tenantChoices[2], null);
	const windowsPlace = h('div', {id: 'tenant-windows'});
	let windowsSig = null;
	const drawWindows = () => {
		const t = tenants.find((x) => x.id === windowsTenant.control.value);
		const sigNow = JSON.stringify(t ? [t.id, t.maintenance] : null);
		if (!t || sigNow === windowsSig) {
			return;
		}
		windowsSig = sigNow;
		const set = t.maintenance && typeof t.maintenance === 'object' ? t.maintenance : null;
		replace(windowsPlace, maintenanceEditor('tenant-maintenance', `Default windows of tenant ${t.id}`,
			`${paths.tenant(t.id)}/maintenance`, {windows: set, source: set ? 'tenant' : null}, Boolean(set),
			() => poll.now()));
	};
	windowsTenant.control.addEventListener('change', drawWindows);
	const windowsSec = h('section', {class: 'panel', 'aria-labelledby': 'tenant-windows-h'},
		h('h2', {id: 'tenant-windows-h'}, 'Default maintenance windows'),
		h('p', {class: 'hint'}, 'Every cluster of the tenant without windows of its own follows these.'),
		windowsTenant.el, windowsPlace);

	const tokensSec = h('section', {class: 'panel', 'aria-labelledby': 'tokens-h'},
		h('h2', {id: 'tokens-h'}, 'API tokens'),
		h('div', {class: 'table-wrap'}, h('table', {class: 'tokens'},
			h('caption', null, 'Tokens: who may use the API'),
			h('thead', null, h('tr', null, ['Token', 'Tenant', 'Role', 'Description', 'Created', 'Expires', 'Last used', 'State']
				.map((t) => h('th', {scope: 'col'}, t)))),
			tokensBody)));

	replace(main, heading, problem, tenantsSec, h('div', {class: 'forms'}, tenantForm, quotaForm),
		windowsSec, tokensSec, tokenForm);

	const revoke = async (t, button) => {
		button.disabled = true;
		try {
			await del(paths.token(t.id));
			announce(`Token ${t.id} revoked.`);
			poll.now();
		} catch (err) {
			button.disabled = false;
			problem.hidden = false;
			problem.textContent = `Could not revoke token ${t.id}: ${err.message}`;
		}
	};

	let sig = null;
	const load = async () => {
		const [ts, toks] = await Promise.all([get(paths.tenants()), get(paths.tokens())]);
		problem.hidden = true;
		const s = JSON.stringify([ts, toks]);
		if (s === sig) {
			return;
		}
		sig = s;
		tenants = Array.isArray(ts.tenants) ? ts.tenants : [];
		replace(tenantsBody, tenants.map((t) => h('tr', {dataset: {tenant: String(t.id)}},
			h('th', {scope: 'row'}, t.id),
			MEASURES.map(([m]) => h('td', {dataset: {measure: m}},
				`${formatMeasure(m, t.usage ? t.usage[m] || 0 : 0)} / ${formatMeasure(m, t.quota ? t.quota[m] : null)}`)))));
		for (const select of tenantChoices) {
			const was = select.value;
			replace(select, tenants.map((t) => h('option', {value: t.id, selected: t.id === was}, t.id)));
		}
		if (!quotaFields.clusters.control.value && !quotaFields.nodes.control.value) {
			fillQuota();
		}
		drawWindows();
		const list = Array.isArray(toks.tokens) ? toks.tokens : [];
		replace(tokensBody, list.map((t) => {
			const revoked = Boolean(t.revoked_at);
			const button = h('button', {type: 'button', class: 'small', 'aria-label': `Revoke token ${t.id}`}, 'Revoke');
			button.addEventListener('click', () => revoke(t, button));
			return h('tr', {dataset: {token: String(t.id)}},
				h('th', {scope: 'row'}, h('code', null, t.id)),
				h('td', null, t.tenant), h('td', null, t.role), h('td', null, t.description || ''),
				h('td', null, timeAgo(t.created_at)), h('td', null, t.expires_at ? timeAgo(t.expires_at) : 'never'),
				h('td', null, t.last_used_at ? timeAgo(t.last_used_at) : 'never'),
				// Revoking the token this tab is signed in with would lock the page out.
				h('td', null, revoked ? ['revoked ', timeAgo(t.revoked_at)] :
					app.me && app.me.actor === `token:${t.id}` ? 'signed in here' : button));
		}));
	};
	const poll = poller(load, app.pollSeconds * 1000 * 5, (err) => {
		problem.hidden = false;
		problem.textContent = `Could not load the tenants and tokens: ${err.message}`;
	});
	poll.start();
	return () => poll.stop();
}
