// The job viewer in headless Chromium, one scenario per run:
//
//   node tests/browser/viewer.test.mjs SCENARIO
//
// tests/integration/test_ui starts PostgreSQL and esaasd-test, prepares the
// jobs and runs each scenario with:
//   ESAAS_UI_BASE          http://127.0.0.1:PORT
//   ESAAS_UI_FAILED_JOB    a test_gate job failed in "gate" (its file removed
//                          before the replay scenario)
//   ESAAS_UI_WAITING_JOB   a job waiting in a state, to cancel
//   ESAAS_UI_XSS_JOB       a failed job whose actor, params and error hold markup
//   ESAAS_UI_TOKEN         an admin API token of tenant default
//   ESAAS_UI_VIEWER_TOKEN  a viewer API token of tenant default
//   ESAAS_CHROMIUM         the browser (/usr/bin/chromium)
//   ESAAS_UI_SCREENSHOTS   a folder for a screenshot of the end of each scenario
// Every scenario but "token" first signs in as a person would: the API's
// 401 opens the token prompt, and the admin token goes in there.
// Exit status 0 when the scenario passed.  No browser is ever downloaded:
// Debian's chromium is driven through playwright-core.

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
const base = env.ESAAS_UI_BASE;
const executablePath = env.ESAAS_CHROMIUM || '/usr/bin/chromium';
const failedJob = env.ESAAS_UI_FAILED_JOB;
const waitingJob = env.ESAAS_UI_WAITING_JOB;
const xssJob = env.ESAAS_UI_XSS_JOB;
const adminToken = env.ESAAS_UI_TOKEN;
const viewerToken = env.ESAAS_UI_VIEWER_TOKEN;
const STEP_MS = 20000;

// What the XSS job carries (tests/integration/test_ui.c).
const XSS_ACTOR = '<script>alert("actor")</script>';
const XSS_NOTE = '<script>alert("note")</script><img src=x onerror="alert(\'note\')">';
const XSS_FILE = '<img src=x onerror=alert(1)>';

class Failure extends Error {}

function check(cond, message) {
	if (!cond) {
		throw new Failure(message);
	}
}

// The viewer's own address, refreshing every second.
function ui(fragment) {
	return `${base}/ui/?poll=1${fragment}`;
}

// Sign in through the prompt that the API's first 401 opens, and wait for
// the header to say who is signed in.
async function signIn(page, token, role) {
	check(token, 'no token to sign in with (ESAAS_UI_TOKEN, ESAAS_UI_VIEWER_TOKEN)');
	// Not the address of any scenario, so that its first goto loads the page afresh.
	await page.goto(`${base}/ui/#/jobs`);
	await page.locator('#token-dialog').waitFor();
	await page.getByRole('textbox', {name: 'API token', exact: true}).fill(token);
	await page.keyboard.press('Enter');
	await page.locator('#token-dialog').waitFor({state: 'hidden'});
	const who = page.locator('#whoami');
	await who.waitFor();
	await page.locator('#whoami-role').filter({hasText: role}).waitFor();
	const said = await who.textContent();
	check(said.includes(`token:${token.slice(6, 18)}`), `the header says "${said}"`);
}

async function withBrowser(name, fn, {allowConsole = [], token = adminToken, role = 'admin'} = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esaas-ui-chromium-'));
	const context = await chromium.launchPersistentContext(dir, {
		executablePath,
		headless: true,
		args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: {width: 1366, height: 900},
		timeout: 60000,
	});
	const problems = [];
	const page = context.pages()[0] || await context.newPage();
	page.setDefaultTimeout(STEP_MS);
	// Any dialog means some markup ran as code.
	page.on('dialog', (d) => {
		problems.push(`a ${d.type()} dialog opened: ${d.message()}`);
		d.dismiss().catch(() => {});
	});
	page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
	page.on('console', (m) => {
		const text = m.text();
		// A 404 or 401 from the API is logged by the browser itself; the
		// page handles those.  Anything else, CSP refusals included, fails.
		if (m.type() === 'error' && !text.startsWith('Failed to load resource') &&
			!allowConsole.some((re) => re.test(text))) {
			problems.push(`console error: ${text}`);
		}
	});
	try {
		if (token) {
			await signIn(page, token, role);
		}
		await fn(page, context);
		check(problems.length === 0, problems.join('; '));
	} finally {
		if (env.ESAAS_UI_SCREENSHOTS) {
			await page.screenshot({path: path.join(env.ESAAS_UI_SCREENSHOTS, `${name}.png`), fullPage: true})
				.catch(() => {});
		}
		await context.close().catch(() => {});
		fs.rmSync(dir, {recursive: true, force: true});
	}
}

// A picture of a moment worth looking at, when ESAAS_UI_SCREENSHOTS asks for them.
async function snapshot(page, name) {
	if (env.ESAAS_UI_SCREENSHOTS) {
		await page.screenshot({path: path.join(env.ESAAS_UI_SCREENSHOTS, `${name}.png`), fullPage: true});
	}
}

async function leadStatus(page) {
	return page.evaluate(() => {
		const b = document.querySelector('#job-lead .badge');
		return b ? b.textContent : '';
	});
}

async function waitForStatus(page, status, timeout) {
	try {
		await page.waitForFunction((s) => {
			const b = document.querySelector('#job-lead .badge');
			return b && b.textContent.trim().endsWith(s);
		}, status, {timeout});
	} catch {
		throw new Failure(`the job did not show ${status} within ${timeout} ms; it shows "${await leadStatus(page)}"`);
	}
}

// The accessible name of the focused element, the way the tests need it:
// its label, aria-label or text.
function focusedElement(page) {
	return page.evaluate(() => {
		const el = document.activeElement;
		if (!el || el === document.body) {
			return null;
		}
		let name = el.getAttribute('aria-label') || '';
		if (!name && el.labels && el.labels.length) {
			name = el.labels[0].textContent;
		}
		if (!name) {
			name = el.textContent;
		}
		return {id: el.id, tag: el.tagName.toLowerCase(), name: name.trim(), href: el.getAttribute('href')};
	});
}

const scenarios = {
	// Find the failed job through the status filter, open it, and see
	// where it failed and why.
	async 'failed-job'(page) {
		check(failedJob, 'ESAAS_UI_FAILED_JOB is not set');
		await page.goto(ui('#/jobs'));
		await page.getByRole('heading', {level: 1, name: 'Jobs'}).waitFor();
		await page.getByRole('combobox', {name: 'Status'}).selectOption('failed');
		await page.waitForFunction(() => window.location.hash.includes('status=failed'));
		const row = page.locator(`tr[data-job-id="${failedJob}"]`);
		await row.waitFor();
		await page.waitForFunction(() => {
			const rows = [...document.querySelectorAll('table.jobs tbody tr')];
			return rows.length > 0 && rows.every((r) => r.dataset.status === 'failed');
		});
		await snapshot(page, 'failed-job-list');
		const shortcut = await page.locator('#show-failed').textContent();
		check(/failed jobs \(\d+\)/.test(shortcut), `the failed-jobs button says "${shortcut}"`);
		await row.getByRole('link', {name: `#${failedJob}`}).click();
		await page.waitForURL(`**#/jobs/${failedJob}`);
		await page.getByRole('heading', {level: 1, name: new RegExp(`Job #${failedJob}`)}).waitFor();
		const focused = await focusedElement(page);
		check(focused && focused.tag === 'h1', `the focus is on ${JSON.stringify(focused)}, not the page's heading`);
		await page.locator('#job-graph [data-state="gate"][data-mark="failed"]').waitFor();
		await page.locator('#job-graph [data-state="prepare"][data-mark="done"]').waitFor();
		await page.locator('#job-graph [data-state="settle"][data-mark="remaining"]').waitFor();
		await page.locator('#job-graph [data-state="unwind"][data-mark="done"]').waitFor();
		const error = await page.locator('#job-error-text').textContent();
		check(error.includes('gate: ') && error.includes('is still there'), `the error shown is "${error}"`);
		check((await leadStatus(page)).endsWith('failed'), 'the status is not failed');
		const fail = page.locator('#job-timeline tr[data-outcome="fail"]');
		check(await fail.count() === 1, 'the timeline has no fail event');
	},

	// Replay from the default state with a reason, then watch the job
	// succeed without reloading.  The gate file is gone by now.
	async replay(page) {
		check(failedJob, 'ESAAS_UI_FAILED_JOB is not set');
		await page.goto(ui(`#/jobs/${failedJob}`));
		await page.locator('#replay-form').waitFor();
		await page.evaluate(() => {
			window.esaasNotReloaded = true;
		});
		const from = page.getByRole('combobox', {name: 'From state'});
		check(await from.inputValue() === 'gate', `the replay starts from "${await from.inputValue()}", not gate`);
		const reason = 'the gate file is removed';
		// An empty reason is refused before anything is sent.
		await page.getByRole('button', {name: 'Replay job'}).click();
		await page.locator('#replay-error').waitFor();
		check(await page.locator('#replay-reason').getAttribute('aria-invalid') !== null,
			'an empty reason is not marked invalid');
		await page.getByRole('textbox', {name: 'Reason'}).fill(reason);
		await page.getByRole('button', {name: 'Replay job'}).click();
		const result = page.locator('#action-result');
		await result.waitFor();
		const said = await result.textContent();
		check(said.includes('Replay accepted'), `after the click the page says "${said}"`);
		await waitForStatus(page, 'succeeded', 30000);
		check(await page.evaluate(() => window.esaasNotReloaded === true), 'the page was reloaded');
		for (const state of ['prepare', 'gate', 'settle']) {
			await page.locator(`#job-graph [data-state="${state}"][data-mark="done"]`).waitFor();
		}
		await page.locator('#job-timeline tr[data-outcome^="replay"]').filter({hasText: reason}).waitFor();
		check(await page.locator('#replay-form').isHidden(), 'the replay form is still offered');
		check(await page.locator('#job-error').isHidden(), 'the error of the failed run is still shown');
	},

	// Cancel a waiting job with a reason.
	async cancel(page) {
		check(waitingJob, 'ESAAS_UI_WAITING_JOB is not set');
		await page.goto(ui(`#/jobs/${waitingJob}`));
		await page.locator('#cancel-form').waitFor();
		await page.evaluate(() => {
			window.esaasNotReloaded = true;
		});
		const reason = 'not needed any more';
		await page.getByRole('textbox', {name: 'Reason'}).fill(reason);
		await page.getByRole('button', {name: 'Cancel job'}).click();
		const result = page.locator('#action-result');
		await result.waitFor();
		const said = await result.textContent();
		check(/Cancel accepted|is cancelled/.test(said), `after the click the page says "${said}"`);
		await waitForStatus(page, 'cancelled', 30000);
		check(await page.evaluate(() => window.esaasNotReloaded === true), 'the page was reloaded');
		await page.locator('#job-timeline tr[data-outcome="cancel_requested"]').filter({hasText: reason}).waitFor();
		await page.locator('#job-graph [data-mark="stopped"]').first().waitFor();
		check(await page.locator('#cancel-form').isHidden(), 'the cancel form is still offered');
	},

	// Markup in values from the server shows as text and never runs.
	async escaping(page) {
		check(xssJob, 'ESAAS_UI_XSS_JOB is not set');
		await page.goto(ui('#/jobs'));
		const row = page.locator(`tr[data-job-id="${xssJob}"]`);
		await row.waitFor();
		// Who submitted it: the token, and in parentheses the person it named.
		const actor = await row.locator('td.col-submitted_by').textContent();
		check(actor === `token:${adminToken.slice(6, 18)} (${XSS_ACTOR})`, `the actor shows as "${actor}"`);

		await page.goto(ui(`#/jobs/${xssJob}`));
		await page.locator('#job-params').getByText(XSS_NOTE, {exact: true}).waitFor();
		const error = await page.locator('#job-error-text').textContent();
		check(error.includes(XSS_FILE), `the error shows as "${error}"`);
		await page.locator('#job-timeline').getByText(XSS_FILE).first().waitFor();
		// Give anything injected the time to load and fire.
		await page.waitForTimeout(1500);
		const found = await page.evaluate(() => ({
			scripts: [...document.scripts].map((s) => s.src || 'inline'),
			images: document.images.length,
			handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
		}));
		check(found.scripts.length === 1 && found.scripts[0].endsWith('/ui/app.js'),
			`scripts in the page: ${found.scripts.join(', ')}`);
		check(found.images === 0, `${found.images} images in the page`);
		check(found.handlers === 0, `${found.handlers} elements with event handler attributes`);
		// The page title holds the cluster, kind and status only.
		check(!(await page.title()).includes('<'), `the title is "${await page.title()}"`);
	},

	// The headers of /ui, and the policy really enforced.
	async csp(page) {
		const resp = await page.goto(`${base}/ui/`);
		const h = resp.headers();
		const csp = h['content-security-policy'] || '';
		check(resp.status() === 200, `GET /ui/ answered ${resp.status()}`);
		check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'") &&
			!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), `CSP is "${csp}"`);
		check(h['x-content-type-options'] === 'nosniff', 'no X-Content-Type-Options: nosniff');
		check(Boolean(h['referrer-policy']), 'no Referrer-Policy');
		for (const p of ['/ui/app.js', '/ui/style.css', '/ui/no-such-file.js', '/ui']) {
			const r = await page.request.get(base + p);
			check((r.headers()['content-security-policy'] || '') === csp, `${p} has no or another CSP`);
		}
		const js = await page.request.get(`${base}/ui/app.js`);
		check(js.headers()['content-type'].startsWith('text/javascript'), 'app.js is not text/javascript');
		await page.getByRole('heading', {level: 1}).waitFor();
		// An inline script added now must be refused by the policy.
		const ran = await page.evaluate(() => {
			const s = document.createElement('script');
			s.textContent = 'window.esaasInline = true;';
			document.head.append(s);
			return window.esaasInline === true;
		});
		check(!ran, 'an inline script ran despite the policy');
	},

	// Every control is reached by Tab, in order, with a name; a job opens
	// from the keyboard and its action controls are named too.
	async keyboard(page) {
		check(xssJob, 'ESAAS_UI_XSS_JOB is not set');
		await page.goto(ui('#/jobs'));
		await page.locator('table.jobs tbody tr').first().waitFor();
		for (const [role, name] of [['link', 'Jobs'], ['link', 'Clusters'], ['combobox', 'Status'],
			['combobox', 'Kind'], ['combobox', 'Cluster'], ['button', 'Clear filters']]) {
			check(await page.getByRole(role, {name, exact: true}).count() === 1, `no ${role} named "${name}"`);
		}
		check(await page.getByRole('button', {name: /failed jobs/i}).count() === 1, 'no failed-jobs button');
		check(await page.getByRole('search', {name: 'Filter jobs'}).count() === 1, 'the filters are no search landmark');
		check(await page.locator('[role="status"][aria-live="polite"]').count() === 1, 'no live region');

		const seen = [];
		let jobLink = null;
		for (let i = 0; i < 30 && !jobLink; i++) {
			await page.keyboard.press('Tab');
			const f = await focusedElement(page);
			check(f, `Tab ${i + 1} left the focus nowhere`);
			check(f.name, `the focused ${f.tag}#${f.id} has no name`);
			seen.push(f.id || f.name);
			if (f.href && f.href.startsWith('#/jobs/')) {
				jobLink = f;
			}
		}
		const order = ['filter-status', 'filter-kind', 'filter-cluster', 'show-failed', 'filter-clear'];
		const at = order.map((id) => seen.indexOf(id));
		check(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1])),
			`Tab went through ${seen.join(' > ')}`);
		check(seen.indexOf('Skip to content') === 0, `the first Tab stop is ${seen[0]}, not the skip link`);
		check(jobLink, 'Tab never reached a job');

		// Open a job from the keyboard: the focus lands on its heading.
		await page.goto(ui(`#/jobs?status=failed`));
		const link = page.getByRole('link', {name: `#${xssJob}`, exact: true});
		await link.focus();
		await page.keyboard.press('Enter');
		await page.waitForURL(`**#/jobs/${xssJob}`);
		await page.locator('#replay-form').waitFor();
		const f = await focusedElement(page);
		check(f && f.tag === 'h1', `after Enter the focus is on ${JSON.stringify(f)}`);
		for (const [role, name] of [['combobox', 'From state'], ['textbox', 'Reason'], ['button', 'Replay job']]) {
			check(await page.getByRole(role, {name, exact: true}).count() === 1, `no ${role} named "${name}"`);
		}
		const stops = [];
		for (let i = 0; i < 40 && !stops.includes('replay-submit'); i++) {
			await page.keyboard.press('Tab');
			const g = await focusedElement(page);
			check(g && g.name, `a Tab stop on the job page has no name: ${JSON.stringify(g)}`);
			stops.push(g.id || g.name);
		}
		const r = ['replay-from', 'replay-reason', 'replay-submit'].map((id) => stops.indexOf(id));
		check(r[0] >= 0 && r[1] > r[0] && r[2] > r[1], `Tab on the job page went through ${stops.join(' > ')}`);
		// The workflow's states are a list with a name, each state's mark in text.
		check(await page.getByRole('list', {name: 'States, in order', exact: true}).count() === 1,
			'the graph is no named list');
		const mark = await page.locator('#job-graph [data-state="gate"] .node-mark').textContent();
		check(mark.includes('failed'), `the failed state reads "${mark}"`);
	},

	// The clusters, one cluster, and its jobs.
	async clusters(page) {
		await page.goto(ui('#/clusters'));
		const row = page.locator('tr[data-cluster="viewer-logs"]');
		await row.waitFor();
		const text = await row.textContent();
		check(text.includes('7.17.10') && text.includes('2 data'), `the cluster's row reads "${text}"`);
		await snapshot(page, 'clusters-list');
		await row.getByRole('link', {name: 'viewer-logs'}).click();
		await page.waitForURL('**#/clusters/viewer-logs');
		await page.getByRole('heading', {level: 1, name: 'Cluster viewer-logs'}).waitFor();
		const data = await page.getByRole('row', {name: /^Data/}).textContent();
		check(data.includes('2'), `the data nodes read "${data}"`);
		await page.locator('.cluster').getByText('analysis-icu').first().waitFor();
		await page.locator('table.jobs tbody tr').filter({hasText: 'create'}).first().waitFor();
		await snapshot(page, 'clusters-one');
		await page.getByRole('link', {name: 'All jobs of viewer-logs'}).click();
		await page.waitForURL('**#/jobs?cluster=viewer-logs');
		check(await page.getByRole('combobox', {name: 'Cluster'}).inputValue() === 'viewer-logs',
			'the jobs page does not filter by the cluster');
		await page.locator('table.jobs tbody tr').first().waitFor();
		const clusters = await page.locator('table.jobs tbody td.col-cluster').allTextContents();
		check(clusters.length > 0 && clusters.every((c) => c === 'viewer-logs'), `jobs of clusters ${clusters.join(', ')}`);
	},

	// Signing in for real: the API's 401 opens the prompt, a token esaasd
	// does not know is refused, the real one is kept in this tab and shows
	// who is signed in; signing out forgets it.  Runs without a token.
	async token(page) {
		check(adminToken, 'ESAAS_UI_TOKEN is not set');
		await page.goto(ui('#/jobs'));
		const dialog = page.locator('#token-dialog');
		await dialog.waitFor();
		const f = await focusedElement(page);
		check(f && f.id === 'token-input', `the prompt opened with the focus on ${JSON.stringify(f)}`);
		check(await page.locator('#whoami').isHidden(), 'someone is signed in without a token');
		const input = page.getByRole('textbox', {name: 'API token', exact: true});

		// An empty token is refused in the page; an unknown one by esaasd.
		await dialog.getByRole('button', {name: 'Sign in', exact: true}).click();
		await page.locator('#token-error').waitFor();
		const unknown = `esaas_000000000000_${'x'.repeat(43)}`;
		await input.fill(unknown);
		await page.keyboard.press('Enter');
		await page.locator('#token-why').filter({hasText: 'refused the token kept in this tab'}).waitFor();
		check(await dialog.isVisible(), 'the prompt did not open again for a refused token');
		const why = await page.locator('#token-why').textContent();
		check(why.includes('unknown token') && !why.includes('x'.repeat(43)), `the prompt says "${why}"`);

		// The page goes on refreshing with the refused token; one such
		// request is held until the real token is in, so that its 401
		// arrives late, as on a slow network.
		const api = '**/api/v1/**';
		let held = null;
		let release;
		const released = new Promise((resolve) => { release = resolve; });
		let heldSeen;
		const seen = new Promise((resolve) => { heldSeen = resolve; });
		// And the first "who am I" of the real token meets a busy esaasd:
		// the page asks again by itself.
		let busy = 0;
		await page.route(api, async (route) => {
			const request = route.request();
			if (!held && request.headers().authorization === `Bearer ${unknown}`) {
				held = request;
				heldSeen();
				await released;
			}
			if (!busy && request.url().endsWith('/api/v1/me') &&
				request.headers().authorization === `Bearer ${adminToken}`) {
				busy++;
				await route.fulfill({status: 503, contentType: 'application/json', headers: {'Retry-After': '1'},
					body: JSON.stringify({error: {code: 'unavailable', message: 'the database is busy'}})});
				return;
			}
			await route.continue();
		});
		await seen;

		await input.fill(adminToken);
		await page.keyboard.press('Enter');
		await page.locator('table.jobs tbody tr').first().waitFor();
		await page.locator('#whoami').waitFor();
		check(busy === 1, 'the first "who am I" was not the one answered 503');

		// The late 401 was for a token no longer kept: nobody is signed
		// out and the prompt stays closed.  The page's next refresh with
		// the real token is answered after the late one was handled.
		const finished = page.waitForEvent('requestfinished', (r) => r === held);
		release();
		await finished;
		await page.waitForResponse((r) => r.url().includes('/api/v1/jobs') &&
			r.request().headers().authorization === `Bearer ${adminToken}`);
		check(await page.locator('#whoami').isVisible(), 'a late 401 for the refused token signed out the real one');
		check(!(await dialog.isVisible()), 'a late 401 for the refused token opened the prompt');
		await page.unroute(api);
		const who = await page.locator('#whoami').textContent();
		check(who === `Signed in as token:${adminToken.slice(6, 18)}, admin of tenant default`,
			`the header says "${who}"`);
		check(await page.evaluate(() => window.sessionStorage.getItem('esaas.api-token')) === adminToken,
			'the token is not kept in sessionStorage');
		await snapshot(page, 'signed-in');

		// Signing out: forgotten, no one shown, and the button signs in again.
		const out = page.getByRole('button', {name: 'Sign out', exact: true});
		check(await out.getAttribute('aria-describedby') === 'whoami', 'Sign out does not say who signs out');
		await out.focus();
		await page.keyboard.press('Enter');
		await page.getByRole('button', {name: 'Sign in', exact: true}).waitFor();
		check(await page.evaluate(() => window.sessionStorage.getItem('esaas.api-token')) === null,
			'the token is still in sessionStorage');
		check(await page.locator('#whoami').isHidden(), 'the header still says who was signed in');
		check(!(await dialog.isVisible()), 'signing out opened the prompt');
		const g = await focusedElement(page);
		check(g && g.id === 'token-button', `after signing out the focus is on ${JSON.stringify(g)}`);
		await page.locator('.problem').filter({hasText: 'needs a credential'}).first().waitFor();
		await page.keyboard.press('Enter');
		await dialog.waitFor();
		await dialog.getByRole('button', {name: 'Cancel'}).click();
		await dialog.waitFor({state: 'hidden'});
	},

	// A viewer may read but not replay: the refusal says so in words.
	async forbidden(page) {
		check(xssJob, 'ESAAS_UI_XSS_JOB is not set');
		await page.goto(ui(`#/jobs/${xssJob}`));
		await page.locator('#replay-form').waitFor();
		await page.getByRole('textbox', {name: 'Reason'}).fill('a viewer tries');
		await page.getByRole('button', {name: 'Replay job'}).click();
		const error = page.locator('#replay-error');
		await error.waitFor();
		const said = await error.textContent();
		check(said.startsWith('Not allowed: role viewer may not replay jobs.') &&
			said.includes('Sign in with a token whose role may do this'), `the refusal reads "${said}"`);
		check((await leadStatus(page)).endsWith('failed'), 'the job is no longer failed');
		await snapshot(page, 'forbidden');
	},
};

const name = process.argv[2];
if (!scenarios[name]) {
	console.error(`usage: viewer.test.mjs SCENARIO (one of ${Object.keys(scenarios).join(', ')})`);
	process.exit(2);
}
if (!base) {
	console.error('ESAAS_UI_BASE is not set');
	process.exit(2);
}

const allowConsole = name === 'csp' ? [/Content Security Policy/] : [];
const signInAs = {token: {token: null}, forbidden: {token: viewerToken, role: 'viewer'}};
try {
	await withBrowser(name, scenarios[name], {allowConsole, ...signInAs[name]});
	console.log(`ok ${name}`);
} catch (err) {
	console.log(`FAILED ${name}: ${err instanceof Failure ? err.message : err.stack || err}`);
	process.exitCode = 1;
}
