// Times, durations and statuses as people read them.

import {h} from './dom.js';

export const STATUSES = ['queued', 'running', 'waiting', 'cancelling', 'paused', 'succeeded', 'failed', 'cancelled'];
export const ACTIVE = new Set(['queued', 'running', 'waiting', 'cancelling', 'paused']);

// The symbols repeat what the text says, for a quick look; screen readers
// skip them.
const STATUS_ICON = {
	queued: '…',
	running: '▶',
	waiting: '⏸',
	cancelling: '■',
	paused: '‖',
	succeeded: '✓',
	failed: '✗',
	cancelled: '■',
};

export function statusBadge(status) {
	const s = String(status || 'unknown');
	return h('span', {class: 'badge status-' + (STATUS_ICON[s] ? s : 'unknown')},
		h('span', {'aria-hidden': 'true', class: 'icon'}, STATUS_ICON[s] || '?'), ' ', s);
}

// 1234 → "1.2s", 75000 → "1m 15s", 3 days → "3d 0h".
export function duration(ms) {
	if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) {
		return '';
	}
	ms = Number(ms);
	if (ms < 1000) {
		return `${Math.round(ms)}ms`;
	}
	const s = ms / 1000;
	if (s < 60) {
		return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
	}
	const m = Math.floor(s / 60);
	if (m < 60) {
		return `${m}m ${Math.round(s % 60)}s`;
	}
	const hours = Math.floor(m / 60);
	if (hours < 48) {
		return `${hours}h ${m % 60}m`;
	}
	return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function parseTime(iso) {
	const t = iso ? Date.parse(iso) : NaN;
	return Number.isNaN(t) ? null : t;
}

// "3m ago" (or "in 20s" for a time to come).
export function ago(iso, now = Date.now()) {
	const t = parseTime(iso);
	if (t === null) {
		return '';
	}
	const d = now - t;
	if (Math.abs(d) < 1000) {
		return 'just now';
	}
	return d > 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

// "2024-05-01 12:03:04 UTC"
export function absolute(iso) {
	const t = parseTime(iso);
	if (t === null) {
		return '';
	}
	return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// A <time> showing the relative age, with the exact time as its tooltip.
export function timeAgo(iso) {
	if (!iso) {
		return '';
	}
	return h('time', {datetime: iso, title: absolute(iso)}, ago(iso));
}

// A <time> showing the exact time.
export function timeExact(iso) {
	if (!iso) {
		return '';
	}
	return h('time', {datetime: iso}, absolute(iso));
}

// A cluster's maintenance windows (its "maintenance"): "Europe/Berlin: sat
// 02:00 for 4h; closed, next opens …", or why nothing is held.
export function maintenanceText(m) {
	const set = m && m.windows;
	if (!set || !Array.isArray(set.windows)) {
		return 'none: nothing is held';
	}
	const list = set.windows.map((w) => `${w.day} ${w.start} for ${w.duration}`).join(', ');
	let text = `${set.time_zone}: ${list || 'no window (nothing is held)'}`;
	if (set.windows.length && m.open === true) {
		text += `; open until ${absolute(m.closes_at)}`;
	} else if (set.windows.length && m.open === false) {
		text += `; closed, next opens ${absolute(m.next_open)} (${ago(m.next_open)})`;
	}
	return m.source === 'tenant' ? `${text} (the tenant's default)` : text;
}

// A disruptive job's wait for its maintenance window, or its urgency; ''
// for any other job.
export function windowText(job) {
	if (job.urgent_reason) {
		return `urgent, outside the windows: ${job.urgent_reason}`;
	}
	const w = job.window;
	if (w && w.open === false && w.next_open) {
		return `waits for the window opening at ${absolute(w.next_open)} (${ago(w.next_open)}, ${w.time_zone})` +
			(job.window_held ? ': its window closed, so it stopped at a safe boundary' : '');
	}
	return '';
}
