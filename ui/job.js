// One job: what it is, where its workflow stands, its full error, its
// history, its parameters and context, and the two things on-call does to
// it: replay and cancel.  Refreshed every few seconds; each part is redrawn
// only when its data changed, and the forms are never redrawn, so that a
// reason being typed or the keyboard focus survives a refresh.

import {get, post, paths, ApiError} from './api.js';
import {h, replace, announce, defList, jsonTree, jsonText} from './dom.js';
import {ACTIVE, statusBadge, timeAgo, timeExact, duration, parseTime, windowText} from './format.js';
import {graph} from './graph.js';
import {clusterHref} from './links.js';
import {poller} from './poll.js';

const REPLAYABLE = new Set(['failed', 'cancelled']);
const CANCELLABLE = new Set(['queued', 'running', 'waiting', 'paused']);

// Workflow tables by kind; they change only with a new esaasd.
const workflows = new Map();

async function workflowOf(kind) {
	if (workflows.has(kind)) {
		return workflows.get(kind);
	}
	try {
		const wf = await get(paths.workflow(kind));
		workflows.set(kind, wf);
		return wf;
	} catch (err) {
		// 404: an esaasd without the workflows endpoint, or a kind it no
		// longer has; the graph then shows the states the job went through.
		if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
			workflows.set(kind, null);
		}
		return null;
	}
}

function section(id, title, ...body) {
	return h('section', {id, class: 'panel', 'aria-labelledby': id + '-h'},
		h('h2', {id: id + '-h'}, title), body);
}

// A part of the page that is redrawn only when its signature changes.
function part(el, draw) {
	let sig = null;
	return (key, ...args) => {
		const s = JSON.stringify(key);
		if (s !== sig) {
			sig = s;
			draw(el, ...args);
		}
	};
}

function runtime(job) {
	const start = parseTime(job.started_at);
	if (start === null) {
		return '';
	}
	const end = parseTime(job.finished_at);
	return end === null ? `${duration(Date.now() - start)} so far` : duration(end - start);
}

function drawSummary(el, job) {
	replace(el, defList([
		['Kind', job.kind],
		['Cluster', job.cluster ? h('a', {href: clusterHref(job.cluster)}, job.cluster) : ''],
		['Status', statusBadge(job.status)],
		['Current state', job.state],
		['Attempt', job.attempt === null || job.attempt === undefined ? '' : String(job.attempt)],
		['Submitted by', job.submitted_by],
		['Submitted', job.created_at ? [timeExact(job.created_at), ' (', timeAgo(job.created_at), ')'] : ''],
		['Started', timeExact(job.started_at)],
		['Finished', timeExact(job.finished_at)],
		['Run time', runtime(job)],
		['Next run', job.status === 'waiting' && job.next_run_at ? timeAgo(job.next_run_at) : ''],
		['Worker', job.lease_owner],
		// A paused job's observation is its pause: where it stopped, who paused it and why.
		['Paused', job.status === 'paused' ?
			h('span', {id: 'job-paused'}, job.observation || 'its cluster is paused') : ''],
		['Maintenance window', windowText(job) ? h('span', {id: 'job-window'}, windowText(job)) : ''],
		['Cancel requested', job.cancel_requested && ACTIVE.has(job.status) ?
			'yes: the job stops at its next state boundary' : ''],
		['Idempotency key', job.idempotency_key],
	], 'facts summary'));
}

// The error in full, and what the job last saw while it waits or retries
// (once a job has ended well, its last wait is history: see the timeline).
function drawError(el, job) {
	const body = [];
	if (job.error) {
		if (job.failed_state) {
			body.push(h('p', null, 'Failed in state ', h('code', {class: 'state-name'}, job.failed_state), ':'));
		}
		body.push(h('pre', {class: 'error-text', id: 'job-error-text'}, job.error));
	}
	const observed = job.observation && (ACTIVE.has(job.status) || job.status === 'failed');
	if (observed) {
		body.push(h('p', {class: 'observation-label'}, 'Last observed:'),
			h('pre', {class: 'observation-text', id: 'job-observation'}, job.observation));
	}
	el.querySelector('h2').textContent = job.error ? 'Error' : job.status === 'paused' ? 'Paused' : 'Waiting on';
	el.classList.toggle('panel-error', Boolean(job.error));
	replace(el.querySelector('.panel-body'), body);
	el.hidden = body.length === 0;
}

function drawGraph(el, wf, job, events) {
	replace(el.querySelector('.panel-body'), graph(wf, job, events));
}

// Consecutive waits of one state make one row: a state that polls a
// cluster for ten minutes should not push everything else off the page.
function groupEvents(events) {
	const groups = [];
	for (const ev of events) {
		const last = groups[groups.length - 1];
		if (last && ev.outcome === 'wait' && last.outcome === 'wait' && last.events[0].from_state === ev.from_state) {
			last.events.push(ev);
		} else {
			groups.push({outcome: ev.outcome, events: [ev]});
		}
	}
	return groups;
}

// How many polls an event stands for: a wait that saw the same thing again
// is counted on its event, not written anew.
function polls(ev) {
	return Number.isInteger(ev.polls) && ev.polls > 1 ? ev.polls : 1;
}

// The job's events, every page of them.  Those already known are read
// again from the last one on, since a repeated wait grows that one.
async function readEvents(id, known) {
	const list = known.slice(0, -1);
	let after = list.length ? list[list.length - 1].id : 0;
	for (;;) {
		const page = await get(paths.events(id, after));
		list.push(...(Array.isArray(page && page.events) ? page.events : []));
		const next = page && page.next_after;
		if (!Number.isInteger(next) || next <= after) {
			return list;
		}
		after = next;
	}
}

function who(ev) {
	if (ev.actor) {
		return ev.actor;
	}
	return ev.worker ? h('span', {class: 'worker'}, 'worker ', ev.worker) : '';
}

function transition(ev) {
	const from = ev.from_state;
	const to = ev.to_state;
	if (from && to && from !== to) {
		return [h('code', null, from), h('span', {'aria-hidden': 'true'}, ' → '),
			h('span', {class: 'visually-hidden'}, ' to '), h('code', null, to)];
	}
	return h('code', null, from || to || '');
}

function eventDetail(ev) {
	const parts = [];
	if (ev.reason) {
		parts.push(h('p', {class: 'reason'}, h('span', {class: 'label'}, 'Reason: '), ev.reason));
	}
	if (ev.detail && ev.detail !== ev.reason) {
		parts.push(h('p', {class: 'detail' + (ev.outcome === 'retry' || ev.outcome === 'fail' ? ' detail-error' : '')},
			ev.detail));
	}
	return parts;
}

function eventRow(group) {
	const evs = group.events;
	const ev = evs[evs.length - 1];
	const first = evs[0];
	let outcome = h('span', {class: 'outcome outcome-' + String(ev.outcome).replace(/[^a-z_]/g, '')}, ev.outcome);
	let detail = eventDetail(ev);
	let dur = duration(ev.duration_ms);
	const total = evs.reduce((n, w) => n + polls(w), 0);
	const end = ev.last_at || ev.at;
	if (total > 1) {
		outcome = [outcome, ` ×${total}`];
		const span = parseTime(end) - parseTime(first.started_at || first.at);
		dur = Number.isFinite(span) ? `${duration(span)} in all` : '';
		detail = [detail, h('details', null, h('summary', null, `All ${total} waits`),
			h('ol', {class: 'wait-list'}, evs.map((w) =>
				h('li', null, timeExact(w.at),
					polls(w) > 1 ? [' to ', timeExact(w.last_at), ` (${polls(w)} times)`] : '',
					': ', w.detail || '')))),
		];
	}
	return h('tr', {class: 'event outcome-row-' + String(ev.outcome).replace(/[^a-z_]/g, ''),
		dataset: {outcome: String(ev.outcome)}},
	h('td', {class: 'col-at'}, timeExact(first.at), total > 1 ? [' to ', timeExact(end)] : ''),
	h('td', {class: 'col-transition'}, transition(ev)),
	h('td', {class: 'col-outcome'}, outcome),
	h('td', {class: 'col-attempt'}, ev.attempt === null || ev.attempt === undefined ? '' : String(ev.attempt)),
	h('td', {class: 'col-who'}, who(ev)),
	h('td', {class: 'col-duration'}, dur),
	h('td', {class: 'col-detail'}, detail));
}

// The timeline grows at its end: rows already drawn stay as they are (an
// opened list of waits stays open) unless their group changed.
function timeline() {
	const tbody = h('tbody');
	const table = h('table', {class: 'events'},
		h('caption', null, 'Events, oldest first'),
		h('thead', null, h('tr', null,
			['When', 'Transition', 'Outcome', 'Attempt', 'Who', 'Took', 'Detail'].map((t) =>
				h('th', {scope: 'col'}, t)))),
		tbody);
	const rows = [];
	const update = (events) => {
		const groups = groupEvents(events);
		groups.forEach((g, i) => {
			const sig = `${g.events[0].id}:${g.events.length}:${polls(g.events[g.events.length - 1])}`;
			if (rows[i] && rows[i].sig === sig) {
				return;
			}
			const tr = eventRow(g);
			if (rows[i]) {
				rows[i].tr.replaceWith(tr);
			} else {
				tbody.append(tr);
			}
			rows[i] = {sig, tr};
		});
		while (rows.length > groups.length) {
			rows.pop().tr.remove();
		}
	};
	return {el: h('div', {class: 'table-wrap'}, table), update};
}

function drawData(el, value) {
	const empty = value === null || value === undefined ||
		(typeof value === 'object' && Object.keys(value).length === 0);
	replace(el.querySelector('.panel-body'),
		empty ? h('p', {class: 'empty'}, 'None.') :
			[jsonTree(value), h('details', null, h('summary', null, 'As JSON'), jsonText(value))]);
}

// Where a replay starts when on-call does not choose: the state the job
// failed in, or for a cancelled job the state the cancel found it in.
function stoppedAt(job, events, wf) {
	if (job.failed_state) {
		return job.failed_state;
	}
	const cleanup = new Set(wf && Array.isArray(wf.states) ?
		wf.states.filter((s) => s.cleanup).map((s) => s.name) : []);
	for (let i = events.length - 1; i >= 0; i--) {
		const ev = events[i];
		if ((ev.outcome === 'cancel' || ev.outcome === 'cancelled') && !cleanup.has(ev.from_state)) {
			return ev.from_state;
		}
	}
	return job.state;
}

// The states a replay may start from: what the job says, else the failed
// state and the replay points before it.
function replayChoices(job, wf) {
	if (Array.isArray(job.replay_states) && job.replay_states.length > 0) {
		return job.replay_states.map(String);
	}
	const out = [];
	if (wf && Array.isArray(wf.states)) {
		for (const s of wf.states) {
			if (s.name === job.failed_state) {
				break;
			}
			if (s.replay_safe && !s.cleanup) {
				out.push(s.name);
			}
		}
	}
	const start = job.failed_state || job.state;
	if (start && !out.includes(start)) {
		out.push(start);
	}
	return out;
}

function field(id, label, control, hint) {
	return h('div', {class: 'field'}, h('label', {for: id}, label), control,
		hint ? h('p', {class: 'hint', id: id + '-hint'}, hint) : null);
}

// The replay and cancel forms, made once.
function actions(id, onDone) {
	const replayFrom = h('select', {id: 'replay-from', name: 'from_state', 'aria-describedby': 'replay-from-hint'});
	const replayReason = h('textarea', {id: 'replay-reason', name: 'reason', rows: '2', required: true,
		'aria-required': 'true', maxlength: '1000', 'aria-describedby': 'replay-reason-hint'});
	const replayError = h('p', {class: 'form-error', id: 'replay-error', role: 'alert', hidden: true});
	const replayButton = h('button', {type: 'submit', id: 'replay-submit'}, 'Replay job');
	const replayForm = h('form', {id: 'replay-form', class: 'action', novalidate: true, 'aria-labelledby': 'replay-title'},
		h('h3', {id: 'replay-title'}, 'Replay'),
		field('replay-from', 'From state', replayFrom,
			'The job runs again from this state; its context is kept, so finished steps are not redone.'),
		field('replay-reason', 'Reason', replayReason, 'Kept in the job\'s history with your name.'),
		replayError, h('div', {class: 'buttons'}, replayButton));

	const cancelReason = h('textarea', {id: 'cancel-reason', name: 'reason', rows: '2', required: true,
		'aria-required': 'true', maxlength: '1000', 'aria-describedby': 'cancel-reason-hint'});
	const cancelError = h('p', {class: 'form-error', id: 'cancel-error', role: 'alert', hidden: true});
	const cancelButton = h('button', {type: 'submit', id: 'cancel-submit', class: 'danger'}, 'Cancel job');
	const cancelForm = h('form', {id: 'cancel-form', class: 'action', novalidate: true, 'aria-labelledby': 'cancel-title'},
		h('h3', {id: 'cancel-title'}, 'Cancel'),
		field('cancel-reason', 'Reason', cancelReason,
			'The job stops at its next state boundary, then its cleanup runs.'),
		cancelError, h('div', {class: 'buttons'}, cancelButton));

	const result = h('p', {id: 'action-result', class: 'action-result', tabindex: '-1', hidden: true});
	const none = h('p', {class: 'no-action', hidden: true});
	const el = h('div', {class: 'actions'}, result, none, replayForm, cancelForm);

	const showError = (box, err, fields) => {
		box.hidden = false;
		box.textContent = err.message;
		for (const [name, control] of Object.entries(fields)) {
			const bad = err.field === name;
			control.toggleAttribute('aria-invalid', bad);
			if (bad) {
				control.setAttribute('aria-errormessage', box.id);
				control.focus();
			}
		}
		if (!Object.keys(fields).includes(err.field)) {
			box.setAttribute('tabindex', '-1');
			box.focus();
		}
	};

	const clearError = (box, fields) => {
		box.hidden = true;
		box.textContent = '';
		for (const control of Object.values(fields)) {
			control.removeAttribute('aria-invalid');
		}
	};

	const submit = async (form, button, box, fields, path, body, done) => {
		clearError(box, fields);
		if (!body.reason) {
			showError(box, new ApiError(0, 'invalid', 'Give a reason: it is kept in the job\'s history.', 'reason'), fields);
			return;
		}
		button.disabled = true;
		form.setAttribute('aria-busy', 'true');
		try {
			const job = await post(path, body);
			fields.reason.value = '';
			result.hidden = false;
			result.textContent = done(job);
			result.focus();
			announce(result.textContent);
			onDone();
		} catch (err) {
			showError(box, err, fields);
		} finally {
			button.disabled = false;
			form.removeAttribute('aria-busy');
		}
	};

	replayForm.addEventListener('submit', (e) => {
		e.preventDefault();
		const from = replayFrom.value;
		submit(replayForm, replayButton, replayError, {from_state: replayFrom, reason: replayReason},
			paths.replay(id), {from_state: from, reason: replayReason.value.trim()},
			(job) => `Replay accepted: job #${id} runs again from ${from} (now ${job && job.status ? job.status : 'queued'}).`);
	});
	cancelForm.addEventListener('submit', (e) => {
		e.preventDefault();
		submit(cancelForm, cancelButton, cancelError, {reason: cancelReason},
			paths.cancel(id), {reason: cancelReason.value.trim()},
			(job) => job && job.status === 'cancelled' ? `Job #${id} is cancelled.` :
				`Cancel accepted: job #${id} stops at its next state boundary, then cleans up.`);
	});

	let choices = '';
	const update = (job, wf, events) => {
		replayForm.hidden = !REPLAYABLE.has(job.status);
		cancelForm.hidden = !CANCELLABLE.has(job.status);
		none.hidden = !(replayForm.hidden && cancelForm.hidden);
		none.textContent = job.status === 'cancelling' ?
			'Cancel requested: the job stops at its next state boundary, then cleans up.' :
			`Nothing to do: the job is ${job.status}.`;
		const list = replayChoices(job, wf);
		const stopped = stoppedAt(job, events, wf);
		if (JSON.stringify([list, stopped]) !== choices) {
			choices = JSON.stringify([list, stopped]);
			const keep = replayFrom.value;
			const where = job.failed_state ? 'where it failed' : 'where it stopped';
			replace(replayFrom, list.map((s) => h('option', {value: s}, s === stopped ? `${s} (${where})` : s)));
			replayFrom.value = list.includes(keep) ? keep : (list.includes(stopped) ? stopped : list[0] || '');
		}
	};
	return {el, update};
}

// The page.  Returns a disposer.
export function jobPage(main, id, app) {
	const heading = h('h1', {tabindex: '-1'}, `Job #${id}`);
	const lead = h('p', {class: 'lead', id: 'job-lead'});
	const problem = h('p', {class: 'problem', hidden: true});
	const summary = h('div', {class: 'summary-wrap'});
	const errorSec = section('job-error', 'Error', h('div', {class: 'panel-body'}));
	errorSec.hidden = true;
	const acts = actions(id, () => poll.now());
	const actionsSec = section('job-actions', 'Actions', acts.el);
	const graphSec = section('job-graph', 'Workflow', h('div', {class: 'panel-body'}));
	const events = timeline();
	const timelineSec = section('job-timeline', 'Timeline', events.el);
	const paramsSec = section('job-params', 'Parameters', h('div', {class: 'panel-body'}));
	const contextSec = section('job-context', 'Context', h('p', {class: 'hint'},
		'What the job has recorded as it ran (for example the pods already restarted); a replay keeps it.'),
	h('div', {class: 'panel-body'}));
	const note = h('p', {class: 'refresh-note'});
	const content = h('div', {class: 'job', hidden: true},
		lead, summary, errorSec, graphSec, actionsSec, timelineSec, paramsSec, contextSec, note);
	replace(main, heading, problem, content);

	const drawLead = part(lead, (el, job) => replace(el, statusBadge(job.status), ' ',
		job.kind, job.cluster ? [' on ', h('a', {href: clusterHref(job.cluster)}, job.cluster)] : '',
		job.state ? [', state ', h('code', null, job.state)] : ''));
	const drawSummaryPart = part(summary, drawSummary);
	const drawErrorPart = part(errorSec, drawError);
	const drawGraphPart = part(graphSec, drawGraph);
	const drawParams = part(paramsSec, drawData);
	const drawContext = part(contextSec, drawData);

	let lastStatus = null;
	let missing = false;
	let known = [];
	const load = async () => {
		if (missing) {
			return;
		}
		let job;
		let list;
		try {
			[job, list] = await Promise.all([get(paths.job(id)), readEvents(id, known)]);
		} catch (err) {
			if (err instanceof ApiError && err.status === 404) {
				missing = true;
				content.hidden = true;
				problem.hidden = false;
				problem.textContent = `Job ${id} was not found.`;
				app.setTitle(`Job ${id} not found`);
				return;
			}
			throw err;
		}
		known = list;
		const wf = job.kind ? await workflowOf(job.kind) : null;
		content.hidden = false;
		problem.hidden = true;
		heading.textContent = `Job #${job.id}: ${job.kind}${job.cluster ? ' ' + job.cluster : ''}`;
		app.setTitle(`Job #${job.id} ${job.kind} ${job.cluster || ''}: ${job.status}`);
		if (lastStatus && lastStatus !== job.status) {
			announce(`Job ${job.id} is now ${job.status}` + (job.state ? `, state ${job.state}.` : '.'));
		}
		lastStatus = job.status;

		const minute = Math.floor(Date.now() / 60000);
		drawLead([job.status, job.kind, job.cluster, job.state], job);
		drawSummaryPart([job, minute], job);
		drawErrorPart([job.status, job.error, job.failed_state, job.observation], job);
		const lastEvent = list.length ? list[list.length - 1].id : 0;
		const lastPolls = list.length ? polls(list[list.length - 1]) : 0;
		drawGraphPart([Boolean(wf), job.status, job.state, job.failed_state, list.length, lastEvent, lastPolls],
			wf, job, list);
		acts.update(job, wf, list);
		events.update(list);
		drawParams(job.params, job.params);
		drawContext(job.context, job.context);
		note.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every ${app.pollSeconds} seconds.`;
	};

	const poll = poller(load, app.pollSeconds * 1000, (err) => {
		problem.hidden = false;
		problem.textContent = `Could not refresh job ${id}: ${err.message}`;
	});
	poll.start();
	return () => poll.stop();
}
