// The maintenance windows' editor (docs/operations.md, "Maintenance
// windows"): a time zone and weekly windows (day, start, duration), saved
// with PUT .../maintenance, dropped with DELETE.  The cluster page offers it
// for a cluster to the roles that may operate, the admin page for a tenant's
// default.  A refusal is shown beside the field the API names
// ("windows[1].start" beside the second window's start).

import {request, ApiError} from './api.js';
import {h, announce} from './dom.js';
import {field, clearRefusal, showRefusal, fieldError} from './forms.js';
import {maintenanceText} from './format.js';

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'],
	['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const MAX_WINDOWS = 14;

// The editor.  id: the prefix of its ids; title: its heading; path: the
// API's .../maintenance; m: the "maintenance" as the API shows it (its
// windows in force); own: whether they are this object's own (a DELETE
// then means something); reload(): called after a change.
export function maintenanceEditor(id, title, path, m, own, reload) {
	const set = m && m.windows ? m.windows : null;
	let zone = set && set.time_zone ? set.time_zone : '';
	if (!zone) {
		try {
			zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
		} catch {
			zone = 'UTC';
		}
	}
	const timeZone = field(`${id}-time-zone`, 'Time zone',
		h('input', {type: 'text', value: zone, autocomplete: 'off', spellcheck: 'false'}),
		'A zone PostgreSQL knows, such as Europe/Berlin, America/New_York or UTC.');
	const formError = h('p', {id: `${id}-problem`, class: 'form-error', role: 'alert', hidden: true});
	const done = h('p', {id: `${id}-done`, class: 'hint', role: 'status', 'aria-live': 'polite'});
	const list = h('div', {id: `${id}-windows`, class: 'windows'});
	const listError = h('p', {id: `${id}-windows-error`, class: 'field-error', hidden: true});
	const windowsField = {control: list, error: listError};
	let rows = [];

	const renumber = () => {
		rows.forEach((r, i) => {
			r.legend.textContent = `Window ${i + 1}`;
			r.remove.setAttribute('aria-label', `Remove window ${i + 1}`);
		});
		addButton.disabled = rows.length >= MAX_WINDOWS;
		empty.hidden = rows.length > 0;
	};
	const addRow = (w) => {
		const n = rows.length;
		const day = field(`${id}-day-${n}`, 'Day', h('select', null,
			DAYS.map(([v, l]) => h('option', {value: v, selected: w && w.day === v}, l))));
		const start = field(`${id}-start-${n}`, 'Start', h('input', {type: 'time', value: w ? w.start : '02:00'}),
			'Local time in the zone.');
		const length = field(`${id}-duration-${n}`, 'Duration', h('input', {type: 'text',
			value: w ? w.duration : '4h', autocomplete: 'off', spellcheck: 'false'}), '4h, 90m or 1h30m.');
		const legend = h('legend');
		const remove = h('button', {type: 'button', class: 'small'}, 'Remove');
		const el = h('fieldset', {class: 'window'}, legend, day.el, start.el, length.el, remove);
		const row = {el, legend, remove, day, start, duration: length};
		remove.addEventListener('click', () => {
			rows = rows.filter((r) => r !== row);
			el.remove();
			renumber();
			addButton.focus();
		});
		rows.push(row);
		list.append(el);
		renumber();
		return row;
	};
	const empty = h('p', {class: 'hint', id: `${id}-none`},
		'No window: saved so, nothing is held, whatever the tenant\'s default says.');
	const addButton = h('button', {type: 'button', id: `${id}-add`, class: 'secondary'}, 'Add a window');
	addButton.addEventListener('click', () => {
		addRow(null).day.control.focus();
	});
	const submit = h('button', {type: 'submit', id: `${id}-submit`}, 'Save the windows');
	const clear = own ? h('button', {type: 'button', id: `${id}-clear`, class: 'secondary'}, 'Clear them') : null;

	// The fields by the API's names, as the rows stand now.
	const fields = () => {
		const out = {time_zone: timeZone, windows: windowsField};
		rows.forEach((r, i) => {
			out[`windows[${i}].day`] = r.day;
			out[`windows[${i}].start`] = r.start;
			out[`windows[${i}].duration`] = r.duration;
		});
		return out;
	};
	const fail = (err) => {
		const f = fields();
		const at = err.field ? f[err.field] || (String(err.field).startsWith('windows') ? windowsField : null) : null;
		if (at === windowsField) {
			clearRefusal({}, formError);
			listError.textContent = err.message;
			listError.hidden = false;
			formError.textContent = `Not accepted: ${err.message}`;
			formError.hidden = false;
			return;
		}
		showRefusal(at, formError, err);
	};
	const clearAll = () => {
		clearRefusal(Object.fromEntries(Object.entries(fields()).filter(([k]) => k !== 'windows')), formError);
		listError.hidden = true;
		listError.textContent = '';
		done.textContent = '';
	};
	const send = async (method, body, button) => {
		button.disabled = true;
		try {
			const answer = await request(method, path, body);
			const said = method === 'DELETE' ? 'The windows were cleared' : 'The windows were saved';
			const replanned = answer && typeof answer.replanned === 'number' && answer.replanned > 0 ?
				`; ${answer.replanned} waiting jobs planned again` : '';
			done.textContent = `${said}: ${maintenanceText(answer && answer.maintenance ? answer.maintenance : answer)}` +
				`${replanned}.`;
			announce(done.textContent);
			Promise.resolve(reload()).catch(() => {});
		} catch (err) {
			fail(err instanceof ApiError ? err : {message: String(err.message || err)});
		} finally {
			button.disabled = false;
		}
	};

	const form = h('form', {id: `${id}-form`, class: 'action maintenance', novalidate: true,
		'aria-labelledby': `${id}-h`},
	h('h3', {id: `${id}-h`}, title), formError,
	h('p', {id: `${id}-now`}, 'Now: ', maintenanceText(m)),
	timeZone.el, list, empty, listError,
	h('div', {class: 'buttons'}, addButton, submit, clear), done);
	for (const w of set && Array.isArray(set.windows) ? set.windows : []) {
		addRow(w);
	}
	renumber();

	form.addEventListener('submit', (e) => {
		e.preventDefault();
		clearAll();
		const tz = timeZone.control.value.trim();
		if (!tz) {
			fail(fieldError('time_zone', 'Enter a time zone such as UTC.'));
			return;
		}
		send('PUT', {time_zone: tz, windows: rows.map((r) => ({day: r.day.control.value,
			start: r.start.control.value, duration: r.duration.control.value.trim()}))}, submit);
	});
	if (clear) {
		clear.addEventListener('click', () => {
			clearAll();
			send('DELETE', undefined, clear);
		});
	}
	return form;
}

// The cluster page's section for cluster c.
export function maintenancePanel(c, reload) {
	const m = c.maintenance || null;
	return h('section', {class: 'panel operate', id: 'maintenance', 'aria-labelledby': 'maintenance-sec-h'},
		h('h2', {id: 'maintenance-sec-h'}, 'Maintenance windows'),
		h('p', {class: 'hint'}, 'Restarts, upgrades, plugin changes and static settings wait for a window; ' +
			'an urgent one, with its reason, does not.'),
		maintenanceEditor('maintenance', `When ${c.name} may be disrupted`,
			`/api/v1/clusters/${encodeURIComponent(c.name)}/maintenance`, m, Boolean(m && m.source === 'cluster'),
			reload));
}

