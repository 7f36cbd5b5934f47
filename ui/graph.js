// A job's workflow drawn as its states in the table's order, each marked
// done, current, failed, stopped or not reached, with its ways out besides
// the next state (the table's branches).  The marks come from the job's events,
// read in order, so that a replay resets what it runs again; the job's own
// status has the last word.

import {h, srOnly} from './dom.js';
import {ACTIVE} from './format.js';

const MARK_TEXT = {
	done: 'done',
	current: 'current',
	failed: 'failed',
	stopped: 'stopped',
	remaining: 'not reached',
};

const MARK_ICON = {
	done: '✓',
	current: '●',
	failed: '✗',
	stopped: '■',
	remaining: '○',
};

// Every state reached from start through next states and branches.
function reachable(byName, start) {
	const seen = new Set();
	const todo = [start];
	while (todo.length > 0) {
		const s = todo.pop();
		if (!s || seen.has(s) || !byName.has(s)) {
			continue;
		}
		seen.add(s);
		const def = byName.get(s);
		todo.push(def.next);
		for (const b of def.branches || []) {
			todo.push(b.to);
		}
	}
	return seen;
}

// The states from start, following each one's default next state.
function chain(byName, start) {
	const out = [];
	for (let s = start; s && byName.has(s) && !out.includes(s); s = byName.get(s).next) {
		out.push(s);
	}
	return out;
}

// The rows to draw: {main, cleanup, other, byName, known}.  Without the
// workflow's table (an older esaasd), the states the job went through.
export function layout(wf, job, events) {
	const byName = new Map();
	if (wf && Array.isArray(wf.states) && wf.states.length > 0) {
		for (const s of wf.states) {
			byName.set(s.name, s);
		}
		const cleanup = wf.cleanup ? chain(byName, wf.cleanup) : [];
		// The table's order: it reads top to bottom, branches included.
		const start = reachable(byName, wf.start || wf.states[0].name);
		const main = wf.states.map((s) => s.name)
			.filter((n) => start.has(n) && !cleanup.includes(n));
		for (const s of wf.states) {
			if (s.cleanup && !cleanup.includes(s.name) && !main.includes(s.name)) {
				cleanup.push(s.name);
			}
		}
		const other = wf.states.map((s) => s.name)
			.filter((n) => !main.includes(n) && !cleanup.includes(n));
		return {main, cleanup, other, byName, known: true};
	}
	const seen = [];
	const add = (n) => {
		if (n && !seen.includes(n)) {
			seen.push(n);
		}
	};
	for (const ev of events || []) {
		add(ev.from_state);
		add(ev.to_state);
	}
	add(job && job.state);
	return {main: seen, cleanup: [], other: [], byName, known: false};
}

// Map of state name → mark.
export function stateMarks(job, events, rows) {
	const marks = new Map();
	const cleanup = new Set(rows.cleanup);
	const set = (name, mark) => {
		if (name) {
			marks.set(name, mark);
		}
	};
	for (const ev of events || []) {
		const o = String(ev.outcome || '');
		const from = ev.from_state;
		const to = ev.to_state;
		if (o === 'submitted') {
			marks.clear();
			set(to, 'current');
		} else if (o.startsWith('replay')) {
			// What runs again is not done any more, nor is the cleanup.
			const target = to || from;
			const again = rows.main.includes(target) ?
				rows.main.slice(rows.main.indexOf(target)) : [target];
			for (const name of [...again, ...rows.cleanup]) {
				marks.delete(name);
			}
			for (const [name, mark] of marks) {
				if (mark === 'failed' || mark === 'stopped' || mark === 'current') {
					marks.delete(name);
				}
			}
			set(target, 'current');
		} else if (o === 'next') {
			set(from, 'done');
			set(to, 'current');
		} else if (o === 'fail') {
			set(from, 'failed');
			if (to && to !== from) {
				set(to, 'current');
			}
		} else if (o === 'cancel') {
			set(from, 'stopped');
			if (to && to !== from) {
				set(to, 'current');
			}
		} else if (o === 'succeeded') {
			set(from, 'done');
		} else if (o === 'failed' || o === 'cancelled') {
			// The end of a cleanup chain, or a queued job cancelled before it ran.
			set(from, cleanup.has(from) || o === 'failed' ? 'done' : 'stopped');
		} else if (o === 'wait' || o === 'retry') {
			set(from, 'current');
		}
	}
	// The job's row is the truth: one current state at most, the failed one marked.
	const status = job ? job.status : '';
	for (const [name, mark] of marks) {
		if (mark === 'current' && !(ACTIVE.has(status) && name === job.state)) {
			marks.set(name, status === 'cancelled' && !cleanup.has(name) ? 'stopped' : 'done');
		}
	}
	if (ACTIVE.has(status)) {
		set(job.state, 'current');
	}
	if (status === 'failed' && job.failed_state) {
		set(job.failed_state, 'failed');
	}
	return marks;
}

const NOT_RUNS = new Set(['submitted', 'cancel_requested', 'cancel', 'released']);

// How often each state ran, and how many of those runs were retries.
function runCounts(events) {
	const counts = new Map();
	for (const ev of events || []) {
		// Decisions about the job are not runs of its state.
		const o = String(ev.outcome || '');
		if (!ev.from_state || NOT_RUNS.has(o) || o.startsWith('replay')) {
			continue;
		}
		const c = counts.get(ev.from_state) || {runs: 0, retries: 0};
		// A wait that saw the same thing several times is one event.
		c.runs += Number.isInteger(ev.polls) && ev.polls > 1 ? ev.polls : 1;
		if (ev.outcome === 'retry') {
			c.retries++;
		}
		counts.set(ev.from_state, c);
	}
	return counts;
}

function node(name, mark, def, count) {
	const meta = [];
	if (def) {
		if (def.replay_safe) {
			meta.push(h('span', {class: 'tag replay-safe'}, 'replay point'));
		}
		if (def.deadline_s) {
			meta.push(h('span', {class: 'tag'}, `deadline ${def.deadline_s}s`));
		}
		if (def.max_attempts) {
			meta.push(h('span', {class: 'tag'}, `${def.max_attempts} attempts`));
		}
		for (const b of def.branches || []) {
			meta.push(h('span', {class: 'tag branch', dataset: {to: b.to}},
				`${b.label} → ${b.to}`));
		}
	}
	if (count && count.runs > 1) {
		meta.push(h('span', {class: 'tag'}, `ran ${count.runs}×`));
	}
	if (count && count.retries > 0) {
		meta.push(h('span', {class: 'tag retries'}, `${count.retries} ${count.retries === 1 ? 'retry' : 'retries'}`));
	}
	return h('li', {
		class: `node mark-${mark}`,
		dataset: {state: name, mark},
		'aria-current': mark === 'current' ? 'step' : null,
	},
	h('span', {class: 'node-head'},
		h('span', {class: 'node-icon', 'aria-hidden': 'true'}, MARK_ICON[mark]),
		h('span', {class: 'node-name'}, name)),
	h('span', {class: 'node-mark'}, srOnly('state '), MARK_TEXT[mark]),
	meta.length ? h('span', {class: 'node-meta'}, meta) : null);
}

function row(names, label, marks, rows, counts) {
	return h('ol', {class: 'graph-row', 'aria-label': label},
		names.map((n) => node(n, marks.get(n) || 'remaining', rows.byName.get(n), counts.get(n))));
}

// The drawing, as a <figure>.
export function graph(wf, job, events) {
	const rows = layout(wf, job, events);
	const marks = stateMarks(job, events, rows);
	const counts = runCounts(events);
	const fig = h('figure', {class: 'graph'});
	fig.append(row(rows.main, 'States, in order', marks, rows, counts));
	if (rows.other.length > 0) {
		fig.append(h('p', {class: 'graph-label'}, 'Reached from no state above'),
			row(rows.other, 'Other states', marks, rows, counts));
	}
	if (rows.cleanup.length > 0) {
		fig.append(h('p', {class: 'graph-label'}, 'Cleanup, run after a failure or a cancel'),
			row(rows.cleanup, 'Cleanup states, in order', marks, rows, counts));
	}
	fig.append(h('figcaption', null,
		rows.known ? `Workflow ${job.kind}: ${Object.values(MARK_TEXT).join(', ')}.` :
			`The table of workflow ${job.kind} is not available from this server: ` +
			'these are the states the job went through.'));
	return fig;
}
