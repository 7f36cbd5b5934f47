// The self-service portal in headless Chromium, one scenario per run:
//
//   node tests/browser/portal.test.mjs SCENARIO
//
// tests/integration/test_portal starts PostgreSQL, esaas-sim, a plugin
// repository and esaasd-test, and runs the scenarios in order, each on
// what the one before left, with:
//   ESAAS_UI_BASE          http://127.0.0.1:PORT
//   ESAAS_UI_TOKEN         an admin API token of tenant default
//   ESAAS_UI_MEMBER_TOKEN  a member API token of tenant default
//   ESAAS_UI_VIEWER_TOKEN  a viewer API token of tenant default
//   ESAAS_UI_SCREENSHOTS   a folder for a screenshot of each page
//   ESAAS_UI_ISSUER        the OpenID provider (tests/browser/oidc-provider.mjs)
//   ESAAS_CHROMIUM         the browser (/usr/bin/chromium)
// Every page a scenario shows is audited with axe-core: a serious or
// critical violation fails it.  Exit status 0 when the scenario passed.

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';

const env = process.env;
const base = env.ESAAS_UI_BASE;
const executablePath = env.ESAAS_CHROMIUM || '/usr/bin/chromium';
const tokens = {admin: env.ESAAS_UI_TOKEN, member: env.ESAAS_UI_MEMBER_TOKEN, viewer: env.ESAAS_UI_VIEWER_TOKEN};
const STEP_MS = 20000;
const JOB_MS = 90000;
const CLUSTER = 'portal-logs';
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

class Failure extends Error {}

function check(cond, message) {
	if (!cond) {
		throw new Failure(message);
	}
}

function ui(fragment) {
	return `${base}/ui/?poll=1${fragment}`;
}

async function snapshot(page, name) {
	if (env.ESAAS_UI_SCREENSHOTS) {
		await page.screenshot({path: path.join(env.ESAAS_UI_SCREENSHOTS, `${name}.png`), fullPage: true});
	}
}

// axe-core on the page as it is: nothing serious or critical.  The page's
// CSP allows no injected script, so axe is evaluated by the driver.
async function audit(page, name) {
	const violations = await page.evaluate(async (src) => {
		if (!window.axe) {
			(0, eval)(src);
		}
		const r = await window.axe.run(document, {resultTypes: ['violations']});
		return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
			.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
	}, axeSource);
	check(violations.length === 0, `axe on ${name}: ${violations.join('; ')}`);
	await snapshot(page, name);
}

// Every control of the page's forms has a visible label.
async function checkLabels(page, scope) {
	const unlabelled = await page.evaluate((sel) => [...document.querySelectorAll(`${sel} input, ${sel} select, ${sel} textarea`)]
		.filter((el) => el.type !== 'hidden' && !(el.labels && el.labels.length && el.labels[0].offsetParent !== null &&
			el.labels[0].textContent.trim()))
		.map((el) => el.id || el.name || el.outerHTML.slice(0, 60)), scope);
	check(unlabelled.length === 0, `controls without a visible label: ${unlabelled.join(', ')}`);
}

async function signIn(page, token, role) {
	check(token, `no ${role} token`);
	await page.goto(`${base}/ui/#/jobs`);
	await page.locator('#token-dialog').waitFor();
	await page.getByRole('textbox', {name: 'API token', exact: true}).fill(token);
	await page.keyboard.press('Enter');
	await page.locator('#token-dialog').waitFor({state: 'hidden'});
	await page.locator('#whoami-role').filter({hasText: role}).waitFor();
}

async function leadStatus(page) {
	return page.evaluate(() => {
		const b = document.querySelector('#job-lead .badge');
		return b ? b.textContent : '';
	});
}

// The action just submitted opened its job's page; wait for it to succeed.
async function jobSucceeds(page, kind) {
	await page.waitForURL(/#\/jobs\/[0-9]+$/);
	const id = page.url().replace(/.*#\/jobs\//, '');
	await page.getByRole('heading', {level: 1, name: new RegExp(`Job #${id}`)}).waitFor();
	check(await page.locator('[role="status"][aria-live="polite"]').count() >= 1, 'no live region for the job');
	try {
		await page.waitForFunction(() => {
			const b = document.querySelector('#job-lead .badge');
			return b && /succeeded|failed|cancelled/.test(b.textContent);
		}, null, {timeout: JOB_MS});
	} catch {
		throw new Failure(`job ${id} (${kind}) did not end within ${JOB_MS} ms; it shows "${await leadStatus(page)}"`);
	}
	const status = await leadStatus(page);
	if (!status.endsWith('succeeded')) {
		const error = await page.locator('#job-error-text').textContent().catch(() => '');
		throw new Failure(`job ${id} (${kind}) ended ${status}: ${error}`);
	}
	const shown = await page.locator('#job-lead').textContent();
	check(shown.includes(kind), `job ${id} is not a ${kind} job: "${shown}"`);
	return id;
}

// The plan an operate form's button asked for (?dry_run=true): shown in
// the form, its states listed; returns the plan's text.
async function planShown(page, form) {
	const plan = page.locator(`#${form}-plan:not([hidden])`);
	await plan.locator(`#${form}-plan-states`).waitFor();
	const states = await plan.locator(`#${form}-plan-states li`).allTextContents();
	check(states.length > 0, `the plan of ${form} lists no state`);
	check(await page.evaluate(() => document.activeElement && document.activeElement.id) === `${form}-plan-h`,
		`the focus is not on the plan of ${form}`);
	return plan.textContent();
}

// The plan shown, then the action confirmed: its job opens.
async function confirmPlan(page, form) {
	const text = await planShown(page, form);
	await page.locator(`#${form}-confirm`).click();
	return text;
}

async function openCluster(page) {
	await page.goto(ui(`#/clusters/${CLUSTER}`));
	await page.getByRole('heading', {level: 1, name: `Cluster ${CLUSTER}`}).waitFor();
	await page.locator('#cluster-pods tbody tr').first().waitFor();
}

async function withBrowser(name, fn, role) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esaas-portal-chromium-'));
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
	page.on('dialog', (d) => {
		problems.push(`a ${d.type()} dialog opened: ${d.message()}`);
		d.dismiss().catch(() => {});
	});
	page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
			problems.push(`console error: ${m.text()}`);
		}
	});
	try {
		if (role) {
			await signIn(page, tokens[role], role);
		}
		await fn(page, context);
		check(problems.length === 0, problems.join('; '));
	} finally {
		await snapshot(page, `${name}-end`).catch(() => {});
		await context.close().catch(() => {});
		fs.rmSync(dir, {recursive: true, force: true});
	}
}

const scenarios = {
	// Apply for a cluster: every control labelled, the API's own refusal
	// beside the field it names, the quota shown, then the create job
	// followed until the cluster is ready.
	async apply(page) {
		await page.getByRole('link', {name: 'New cluster'}).click();
		await page.getByRole('heading', {level: 1, name: 'Apply for a cluster'}).waitFor();
		const version = page.getByRole('combobox', {name: 'Version'});
		await page.waitForFunction(() => document.querySelectorAll('#f-version option').length >= 6);
		check(await version.inputValue() === '7.17.10', `the default version is "${await version.inputValue()}"`);
		for (const v of ['2.4.6', '5.6.16', '6.8.23', '8.19.20', '9.5.2']) {
			check(await page.locator(`#f-version option[value="${v}"]`).count() === 1, `version ${v} is not offered`);
		}
		// The plugins are the repository's for the version (test_portal's
		// REPO_FILES: analysis-icu and mapper-size for 7.17.10 only).
		const offered = () => page.locator('#f-plugins-list input[type="checkbox"]').evaluateAll((l) => l.map((i) => i.value));
		await page.getByRole('checkbox', {name: 'analysis-icu', exact: true}).waitFor();
		check(JSON.stringify(await offered()) === '["analysis-icu","mapper-size"]', `offered for 7.17.10: ${await offered()}`);
		const note = await page.locator('#f-plugins-note').textContent();
		check(note.includes('analysis-kuromoji'), `the plugins the repository lacks are not named: "${note}"`);
		await version.selectOption('5.6.16');
		await page.locator('#f-plugins-note').filter({hasText: 'has no plugin for 5.6.16'}).waitFor();
		check((await offered()).length === 0, `offered for 5.6.16: ${await offered()}`);
		await version.selectOption('7.17.10');
		await page.getByRole('checkbox', {name: 'analysis-icu', exact: true}).waitFor();
		await checkLabels(page, '#apply-form');
		for (const label of ['Name', 'Version', 'Number of masters', 'CPU per master', 'Memory per master',
			'Number of data nodes', 'CPU per data node', 'Memory per data node', 'Disk per data node',
			'Number of clients', 'CPU per client', 'Memory per client', 'Placement', 'Settings', 'Kibana']) {
			check(await page.getByLabel(label, {exact: true}).count() === 1, `no control labelled "${label}"`);
		}
		await page.locator('#quota tbody tr[data-measure="nodes"]').waitFor();

		await page.getByLabel('Name', {exact: true}).fill(CLUSTER);
		await page.getByLabel('Number of masters', {exact: true}).fill('1');
		await page.getByLabel('CPU per master', {exact: true}).fill('500m');
		await page.getByLabel('Memory per master', {exact: true}).fill('1Gi');
		await page.getByLabel('Number of data nodes', {exact: true}).fill('1');
		await page.getByLabel('CPU per data node', {exact: true}).fill('1');
		await page.getByLabel('Disk per data node', {exact: true}).fill('10Gi');
		await page.getByLabel('Memory per data node', {exact: true}).fill('lots');
		await page.getByRole('checkbox', {name: 'analysis-icu', exact: true}).check();
		// What the cluster would take, before submitting.
		const nodesRow = await page.locator('#quota tr[data-measure="nodes"]').textContent();
		check(nodesRow.includes('2'), `the quota's nodes row reads "${nodesRow}"`);
		const memRow = await page.locator('#quota tr[data-measure="memory_bytes"]').textContent();
		check(memRow.includes('unknown'), `memory of "lots" is counted: "${memRow}"`);

		// The API refuses the memory; the page says so beside that field.
		await page.getByRole('button', {name: 'Apply for the cluster'}).click();
		const memError = page.locator('#f-data-memory-error');
		await memError.waitFor();
		const said = await memError.textContent();
		check(said.includes('data.memory'), `the error beside the data nodes' memory reads "${said}"`);
		check(await page.locator('#f-data-memory').getAttribute('aria-invalid') === 'true', 'the memory is not marked invalid');
		const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
		check(focused === 'f-data-memory', `the focus is on "${focused}", not the field in error`);
		check(await page.locator('.field-error:not([hidden])').count() === 1, 'errors beside other fields too');
		await audit(page, 'apply-refused');

		await page.getByLabel('Memory per data node', {exact: true}).fill('2Gi');
		const memNow = await page.locator('#quota tr[data-measure="memory_bytes"]').textContent();
		check(memNow.includes('3 GiB'), `the quota's memory row reads "${memNow}"`);
		await audit(page, 'apply');
		// The preview: the create's plan from the API, nothing queued.
		await page.getByRole('button', {name: 'Preview', exact: true}).click();
		await page.locator('#preview:not([hidden]) #preview-states li').first().waitFor();
		const planStates = await page.locator('#preview-states li').allTextContents();
		check(planStates[0] === 'apply_namespace' && planStates.includes('wait_green') &&
			planStates[planStates.length - 1] === 'record_ready', `the plan's states: ${planStates.join(' ')}`);
		const planPods = await page.locator('#preview-pods li').allTextContents();
		check(planPods.length === 2 && planPods.every((x) => x.endsWith(': create')), `the plan's pods: ${planPods.join('; ')}`);
		const planGates = await page.locator('#preview-gates').textContent();
		check(planGates.length > 0, 'the plan says nothing of what would hold it up');
		check(await page.evaluate(() => window.location.hash) === '#/apply', 'the preview left the form');
		await audit(page, 'apply-preview');
		await page.getByRole('button', {name: 'Apply for the cluster'}).click();
		await jobSucceeds(page, 'create');
		await audit(page, 'apply-job');
	},

	// The cluster's page: health now and over time, nodes and hosts,
	// endpoint, Kibana, jobs, and the actions of an admin.
	async cluster(page) {
		await openCluster(page);
		await page.waitForFunction(() => document.querySelectorAll('#cluster-pods tbody tr').length === 2);
		const hosts = await page.locator('#cluster-pods td.host').allTextContents();
		check(hosts.every((x) => x && x !== 'not scheduled'), `hosts: ${hosts.join(', ')}`);
		const endpoint = await page.locator('#cluster-endpoint').textContent();
		check(/^http:\/\/es-http\.[a-z0-9-]+\.svc:9200$/.test(endpoint), `the endpoint reads "${endpoint}"`);
		await page.locator('#health-chart svg[role="img"] rect.band').first().waitFor();
		const desc = await page.locator('#health-chart-desc').textContent();
		check(/Now (green|yellow|red)\./.test(desc), `the chart's description reads "${desc}"`);
		await page.locator('table.jobs tbody tr').filter({hasText: 'create'}).first().waitFor();
		// The snapshots in the cluster's repository: none taken here.
		await page.getByRole('heading', {level: 2, name: 'Snapshots'}).waitFor();
		await page.locator('#cluster-snapshots-h + div p.empty').filter({hasText: 'No snapshot taken.'}).waitFor();
		await page.locator('#operate').waitFor();
		for (const name of ['Pause', 'Scale', 'Restart', 'Install the plugin', 'Change the settings',
			'Take a snapshot', 'Restore', 'Delete the cluster', 'Add a window', 'Save the windows']) {
			check(await page.getByRole('button', {name, exact: true}).count() === 1, `no button "${name}"`);
		}
		await checkLabels(page, '#operate');
		await checkLabels(page, '#maintenance');
		await audit(page, 'cluster');
	},

	// A viewer reads everything and is offered no action.
	async viewer(page) {
		check(await page.getByRole('link', {name: 'New cluster'}).isHidden(), 'a viewer is offered New cluster');
		check(await page.getByRole('link', {name: 'Admin'}).isHidden(), 'a viewer is offered Admin');
		await openCluster(page);
		await page.locator('#health-chart svg').waitFor();
		await page.locator('table.jobs tbody tr').first().waitFor();
		check(await page.locator('#operate').count() === 0, 'a viewer is shown the actions');
		check(await page.locator('main form').count() === 0, 'a viewer is shown a form');
		const buttons = await page.locator('main button').allTextContents();
		check(buttons.length === 0, `a viewer is shown buttons: ${buttons.join(', ')}`);
		await audit(page, 'cluster-viewer');
		await page.goto(ui('#/apply'));
		await page.getByText('may not create clusters').waitFor();
		check(await page.locator('main form').count() === 0, 'a viewer is shown the form');
	},

	// A member operates the tenant's clusters but manages no tenant.
	async member(page) {
		check(await page.getByRole('link', {name: 'New cluster'}).isVisible(), 'a member is not offered New cluster');
		check(await page.getByRole('link', {name: 'Admin'}).isHidden(), 'a member is offered Admin');
		await openCluster(page);
		await page.locator('#operate').waitFor();
		await page.goto(ui('#/admin'));
		await page.getByText('Only an admin manages').waitFor();
	},

	// Install a plugin, scale, restart one node, change a setting: each
	// opens its job.  (The plugin first: it restarts every node, and there
	// are fewer now.)
	async operate(page) {
		await openCluster(page);
		await page.locator('#operate').waitFor();
		const choices = await page.locator('#plugin-name option').evaluateAll((l) => l.map((o) => o.value));
		check(JSON.stringify(choices) === '["mapper-size"]', `the plugins offered to install: ${choices}`);
		await page.getByRole('combobox', {name: 'Plugin', exact: true}).selectOption('mapper-size');
		await page.getByRole('button', {name: 'Install the plugin'}).click();
		const pluginPlan = await planShown(page, 'plugin-form');
		check(pluginPlan.includes('in this order'), `the plugin's plan names no pods to restart: "${pluginPlan}"`);
		await audit(page, 'plugin-preview');
		// Back: the plan goes, nothing is queued, the button has the focus.
		await page.locator('#plugin-form-back').click();
		await page.locator('#plugin-form-plan').waitFor({state: 'hidden'});
		check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'plugin-form-submit',
			'Back did not return the focus to the button');
		check(page.url().includes(`#/clusters/${CLUSTER}`), 'Back left the page');
		await page.getByRole('button', {name: 'Install the plugin'}).click();
		await confirmPlan(page, 'plugin-form');
		await jobSucceeds(page, 'plugin_install');
		await audit(page, 'plugin-job');

		await openCluster(page);
		await page.locator('#operate ul.plugins li').filter({hasText: 'mapper-size'}).waitFor();
		// A removal shows its plan in the plugin form too; Back keeps the plugin.
		await page.getByRole('button', {name: 'Remove plugin mapper-size'}).click();
		const removal = await planShown(page, 'plugin-form');
		check(removal.includes('removing the plugin from') && removal.includes('restart'), `the removal's plan: "${removal}"`);
		check(await page.locator('#plugin-form-confirm').textContent() === 'Confirm: Remove plugin mapper-size',
			`the removal's button reads "${await page.locator('#plugin-form-confirm').textContent()}"`);
		await page.locator('#plugin-form-back').click();
		await page.locator('#plugin-form-plan').waitFor({state: 'hidden'});
		await page.getByRole('combobox', {name: 'Role', exact: true}).selectOption('data');
		await page.getByLabel('Number of nodes', {exact: true}).fill('2');
		await page.getByRole('button', {name: 'Scale', exact: true}).click();
		const scalePlan = await confirmPlan(page, 'scale-form');
		check(scalePlan.includes('es-data-1 (data): create'), `the scale's plan: "${scalePlan}"`);
		await jobSucceeds(page, 'scale');

		await openCluster(page);
		await page.waitForFunction(() => document.querySelectorAll('#cluster-pods tbody tr').length === 3);
		const restart = page.getByRole('combobox', {name: 'What to restart'});
		for (const v of ['all', 'role:masters', 'role:data', 'node:es-data-1']) {
			check(await restart.locator(`option[value="${v}"]`).count() === 1, `no restart of ${v} offered`);
		}
		await restart.selectOption('node:es-data-1');
		await page.getByRole('button', {name: 'Restart', exact: true}).click();
		const restartPlan = await confirmPlan(page, 'restart-form');
		check(restartPlan.includes('es-data-1 (data): restart'), `the restart's plan: "${restartPlan}"`);
		await jobSucceeds(page, 'restart');
		const restarted = await page.locator('#job-params').textContent();
		check(restarted.includes('es-data-1'), `the restart job's parameters read "${restarted}"`);

		// A setting the API refuses, beside the field; then one it takes.
		await openCluster(page);
		const settings = page.getByLabel('Settings', {exact: true});
		await settings.fill('no.such.setting = 1');
		await page.getByRole('button', {name: 'Change the settings'}).click();
		const err = page.locator('#config-settings-error');
		await err.waitFor();
		check((await err.textContent()).includes('not a setting esaas knows'), `the refusal reads "${await err.textContent()}"`);
		await audit(page, 'operate');
		await settings.fill('cluster.routing.allocation.cluster_concurrent_rebalance = 3');
		await page.getByRole('button', {name: 'Change the settings'}).click();
		await confirmPlan(page, 'config-form');
		await jobSucceeds(page, 'config_update');

		// A snapshot's name the API refuses, beside the field.
		await openCluster(page);
		await page.getByLabel('Snapshot name', {exact: true}).fill('Not Lowercase');
		await page.getByRole('button', {name: 'Take a snapshot'}).click();
		const snapErr = page.locator('#snapshot-name-error');
		await snapErr.waitFor();
		check((await snapErr.textContent()).includes('lowercase'), `the refusal reads "${await snapErr.textContent()}"`);

		// Pause, with a reason, refused without one; the page shows the
		// pause and offers the resume, which takes the pause away.
		await openCluster(page);
		await page.getByRole('button', {name: 'Pause', exact: true}).click();
		await page.locator('#pause-reason-error').waitFor();
		await page.getByLabel('Reason', {exact: true}).fill('portal test');
		await page.getByRole('button', {name: 'Pause', exact: true}).click();
		await page.locator('#cluster-paused').filter({hasText: 'portal test'}).waitFor();
		await page.getByRole('button', {name: 'Resume', exact: true}).waitFor();
		await audit(page, 'paused');
		await page.getByLabel('Reason', {exact: true}).fill('portal test over');
		await page.getByRole('button', {name: 'Resume', exact: true}).click();
		await page.getByRole('button', {name: 'Pause', exact: true}).waitFor();
		check(await page.locator('#cluster-paused').count() === 0, 'the pause is shown after the resume');
	},

	// Maintenance windows from the editor: a refusal beside its field, a
	// window closed now saved; a restart then waits for it (its job page
	// says so) and is cancelled; an urgent one runs at once with its
	// reason in its history; urgent on a change that restarts nothing is
	// refused beside the box; the windows cleared.
	async windows(page) {
		await openCluster(page);
		await page.locator('#maintenance').waitFor();
		await page.getByLabel('Time zone', {exact: true}).fill('UTC');
		await page.getByRole('button', {name: 'Add a window', exact: true}).click();
		// Three days on from today (UTC), 03:00 for half an hour: closed now.
		const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getUTCDay() + 3) % 7];
		await page.locator('#maintenance-day-0').selectOption(day);
		await page.locator('#maintenance-start-0').fill('03:00');
		await page.locator('#maintenance-duration-0').fill('10m');
		await page.getByRole('button', {name: 'Save the windows', exact: true}).click();
		const durErr = page.locator('#maintenance-duration-0-error');
		await durErr.waitFor();
		check((await durErr.textContent()).includes('duration'), `the refusal reads "${await durErr.textContent()}"`);
		check(await page.locator('#maintenance-duration-0').getAttribute('aria-invalid') === 'true',
			'the duration is not marked invalid');
		check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'maintenance-duration-0',
			'the focus is not on the duration refused');
		await audit(page, 'maintenance-refused');
		await page.locator('#maintenance-duration-0').fill('30m');
		await page.getByRole('button', {name: 'Save the windows', exact: true}).click();
		await page.locator('#cluster-maintenance').filter({hasText: `UTC: ${day} 03:00 for 30m; closed, next opens`}).waitFor();
		await page.locator('#maintenance-clear').waitFor();
		await audit(page, 'maintenance');

		// A restart outside the window: the plan names the window, the job waits.
		await page.getByRole('combobox', {name: 'What to restart'}).selectOption('node:es-data-0');
		await page.getByRole('button', {name: 'Restart', exact: true}).click();
		const held = await planShown(page, 'restart-form');
		check(await page.locator('#restart-form-plan-gates li[data-gate="maintenance_window"]').count() === 1,
			`the restart's plan names no maintenance window: "${held}"`);
		await audit(page, 'restart-preview');
		await page.locator('#restart-form-confirm').click();
		await page.waitForURL(/#\/jobs\/[0-9]+$/);
		await page.locator('#job-window').filter({hasText: 'waits for the window opening at'}).waitFor();
		check((await leadStatus(page)).endsWith('queued'), `the held restart is "${await leadStatus(page)}"`);
		await audit(page, 'job-held');
		await page.locator('#cancel-reason').fill('portal test: the urgent one instead');
		await page.locator('#cancel-submit').click();
		await page.waitForFunction(() => {
			const b = document.querySelector('#job-lead .badge');
			return b && /cancelled/.test(b.textContent);
		}, null, {timeout: JOB_MS});

		// Urgent without a reason: refused beside the reason, by the page.
		await openCluster(page);
		await page.getByRole('combobox', {name: 'What to restart'}).selectOption('node:es-data-0');
		await page.locator('#restart-urgent').check();
		await page.getByRole('button', {name: 'Restart', exact: true}).click();
		await page.locator('#restart-urgent-reason-error').waitFor();
		check(await page.locator('#restart-form-plan').isHidden(), 'a plan is shown for an urgent job without a reason');
		await page.locator('#restart-urgent-reason').fill('portal test: cannot wait');
		await page.locator('#restart-allow-yellow').check();
		await page.getByRole('button', {name: 'Restart', exact: true}).click();
		const urgent = await confirmPlan(page, 'restart-form');
		check(!urgent.includes('maintenance window'), `the urgent restart's plan still waits for the window: "${urgent}"`);
		const id = await jobSucceeds(page, 'restart');
		const params = await page.locator('#job-params').textContent();
		check(/allow_yellow\W*true/.test(params), `the urgent restart's parameters read "${params}"`);
		const said = await page.locator('#job-timeline tr[data-outcome="urgent"]').textContent();
		check(said.includes('portal test: cannot wait'), `the history's urgent event reads "${said}" (job ${id})`);
		check((await page.locator('#job-window').textContent()).includes('portal test: cannot wait'),
			'the job page does not say why it ran outside its window');
		await audit(page, 'job-urgent');

		// Urgent on a dynamic setting: nothing to hold, the API refuses it
		// beside the box.
		await openCluster(page);
		await page.getByLabel('Settings', {exact: true}).fill('cluster.routing.allocation.cluster_concurrent_rebalance = 4');
		await page.locator('#config-urgent').check();
		await page.locator('#config-urgent-reason').fill('portal test');
		await page.getByRole('button', {name: 'Change the settings'}).click();
		const urgentErr = page.locator('#config-urgent-error');
		await urgentErr.waitFor();
		check((await urgentErr.textContent()).includes('no maintenance window holds'), `the refusal reads "${await urgentErr.textContent()}"`);
		check(await page.locator('#config-form-plan').isHidden(), 'a refused change shows a plan');
		await audit(page, 'urgent-refused');

		// Cleared: nothing is held any more.
		await page.locator('#maintenance-clear').click();
		await page.locator('#cluster-maintenance').filter({hasText: 'none: nothing is held'}).waitFor();
	},

	// A snapshot taken from the panel, then in the table; the restores it
	// allows previewed: of chosen indices into the cluster, and into a new
	// cluster from the apply page.
	async snapshots(page) {
		await openCluster(page);
		await page.getByLabel('Snapshot name', {exact: true}).fill('portal-snap');
		await page.getByRole('button', {name: 'Take a snapshot'}).click();
		const plan = await confirmPlan(page, 'snapshot-form');
		check(plan.includes('snapshot_take'), `the snapshot's plan: "${plan}"`);
		await jobSucceeds(page, 'snapshot');
		await openCluster(page);
		const row = page.locator('#cluster-snapshots tr[data-snapshot="portal-snap"]');
		await row.waitFor();
		check((await row.textContent()).includes('SUCCESS'), `the snapshot's row reads "${await row.textContent()}"`);

		// Into the same cluster, renamed: the plan, then Back.
		await page.locator('#restore-snapshot option[value="portal-snap"]').waitFor({state: 'attached'});
		await page.getByLabel('Rename pattern', {exact: true}).fill('(.+)');
		await page.getByRole('button', {name: 'Restore', exact: true}).click();
		await page.locator('#restore-rename-replacement-error').waitFor();
		await page.getByLabel('Rename replacement', {exact: true}).fill('restored-$1');
		await page.getByRole('button', {name: 'Restore', exact: true}).click();
		const restorePlan = await planShown(page, 'restore-form');
		check(restorePlan.includes('restore_start'), `the restore's plan: "${restorePlan}"`);
		await audit(page, 'restore-preview');
		await page.locator('#restore-form-back').click();

		// Into a new cluster: the source's snapshots offered, the plan restores.
		await page.goto(ui('#/apply'));
		await page.getByRole('heading', {level: 1, name: 'Apply for a cluster'}).waitFor();
		await page.getByLabel('Name', {exact: true}).fill('portal-copy');
		await page.getByLabel('Number of data nodes', {exact: true}).fill('1');
		await page.getByLabel('Number of masters', {exact: true}).fill('1');
		await page.getByRole('combobox', {name: 'Source cluster'}).selectOption(CLUSTER);
		await page.locator('#f-restore-snapshot option[value="portal-snap"]').waitFor({state: 'attached'});
		await page.getByRole('button', {name: 'Preview', exact: true}).click();
		await page.locator('#preview:not([hidden]) #preview-states li').first().waitFor();
		const states = await page.locator('#preview-states li').allTextContents();
		check(states.includes('restore_start') && states.includes('restore_verify'), `the clone's states: ${states.join(' ')}`);
		await audit(page, 'apply-restore');
	},

	// An upgrade driven from the panel: its plan (every node restarted, the
	// masters last), confirmed, its job followed, the new version shown.
	async upgrade(page) {
		await openCluster(page);
		await page.getByLabel('Version', {exact: true}).fill('8.17.0');
		// Without the snapshot first: the plan has none; a change of the
		// form takes the plan away.
		await page.getByLabel('Without a snapshot first', {exact: true}).check();
		await page.getByRole('button', {name: 'Upgrade', exact: true}).click();
		const bare = await planShown(page, 'upgrade-form');
		check(!bare.includes('snapshot_take'), `the upgrade without a snapshot takes one: "${bare}"`);
		await page.getByLabel('Without a snapshot first', {exact: true}).uncheck();
		await page.locator('#upgrade-form-plan').waitFor({state: 'hidden'});
		await page.getByRole('button', {name: 'Upgrade', exact: true}).click();
		const plan = await planShown(page, 'upgrade-form');
		const pods = await page.locator('#upgrade-form-plan-pods li').allTextContents();
		check(pods.length >= 3 && pods.every((x) => x.endsWith(': upgrade')) && pods[pods.length - 1].includes('master'),
			`the upgrade's pods, in order: ${pods.join('; ')}`);
		check(plan.includes('snapshot_take'), `the upgrade's plan takes no snapshot first: "${plan}"`);
		await audit(page, 'upgrade-preview');
		await page.locator('#upgrade-form-confirm').click();
		await jobSucceeds(page, 'upgrade');
		await openCluster(page);
		const version = await page.locator('dl.summary').textContent();
		check(version.includes('8.17.0'), `the cluster page does not show 8.17.0: "${version}"`);
	},

	// Tenants, quotas, usage and tokens.
	async admin(page) {
		await page.getByRole('link', {name: 'Admin'}).click();
		await page.getByRole('heading', {level: 1, name: 'Tenants, quotas and tokens'}).waitFor();
		const row = page.locator('table.tenants tr[data-tenant="default"]');
		await row.waitFor();
		const clusters = await row.locator('td[data-measure="clusters"]').textContent();
		check(clusters.startsWith('1 /'), `tenant default's clusters read "${clusters}"`);
		await checkLabels(page, 'main');
		await audit(page, 'admin');

		await page.getByLabel('Tenant name').fill('portal-team');
		await page.getByRole('button', {name: 'Add the tenant'}).click();
		await page.locator('table.tenants tr[data-tenant="portal-team"]').waitFor();

		await page.locator('#quota-tenant').selectOption('portal-team');
		await page.getByLabel('Clusters limit').fill('4');
		await page.getByLabel('Memory limit').fill('a lot');
		await page.getByRole('button', {name: 'Set the quota'}).click();
		const memErr = page.locator('#quota-memory-error');
		await memErr.waitFor();
		check((await memErr.textContent()).includes('memory'), `the refusal reads "${await memErr.textContent()}"`);
		await page.getByLabel('Memory limit').fill('64Gi');
		await page.getByRole('button', {name: 'Set the quota'}).click();
		await page.locator('table.tenants tr[data-tenant="portal-team"] td[data-measure="clusters"]')
			.filter({hasText: '0 / 4'}).waitFor();

		// The tenant's default windows: a zone PostgreSQL does not know is
		// refused beside the field; then saved and shown.
		await page.locator('#windows-tenant').selectOption('portal-team');
		await page.locator('#tenant-maintenance-form h3').filter({hasText: 'portal-team'}).waitFor();
		await page.locator('#tenant-maintenance-time-zone').fill('Mars/Olympus_Mons');
		await page.locator('#tenant-maintenance-add').click();
		await page.locator('#tenant-maintenance-day-0').selectOption('sat');
		await page.locator('#tenant-maintenance-start-0').fill('02:00');
		await page.locator('#tenant-maintenance-duration-0').fill('4h');
		await page.locator('#tenant-maintenance-submit').click();
		const zoneErr = page.locator('#tenant-maintenance-time-zone-error');
		await zoneErr.waitFor();
		check((await zoneErr.textContent()).includes('Mars/Olympus_Mons'), `the refusal reads "${await zoneErr.textContent()}"`);
		await audit(page, 'tenant-windows-refused');
		await page.locator('#tenant-maintenance-time-zone').fill('Europe/Berlin');
		await page.locator('#tenant-maintenance-submit').click();
		await page.locator('#tenant-maintenance-now')
			.filter({hasText: 'Europe/Berlin: sat 02:00 for 4h (the tenant\'s default)'}).waitFor();

		await page.locator('#token-tenant').selectOption('portal-team');
		await page.locator('#token-role').selectOption('viewer');
		await page.getByLabel('Description').fill('a dashboard');
		await page.getByRole('button', {name: 'Make the token'}).click();
		const secret = await page.locator('#token-secret').inputValue();
		check(/^esaas_/.test(secret) || secret.length > 20, `the new token reads "${secret}"`);
		const own = page.locator('table.tokens tbody tr').filter({hasText: 'esaasd --bootstrap-admin'});
		check(await own.getByRole('button').count() === 0, 'the token this tab uses is offered for revoking');
		const tokenRow = page.locator('table.tokens tbody tr').filter({hasText: 'a dashboard'});
		await tokenRow.waitFor();
		await tokenRow.getByRole('button', {name: /Revoke token/}).click();
		await tokenRow.filter({hasText: 'revoked'}).waitFor();
		await audit(page, 'admin-done');
	},

	// Sign in through the OpenID provider: the API's 401 opens the prompt,
	// the provider's pages sign alice in, and the ID token comes back to
	// this tab only; it is renewed before it expires.
	async oidc(page, context) {
		await page.goto(`${base}/ui/#/clusters`);
		await page.locator('#token-dialog').waitFor();
		await audit(page, 'sign-in');
		const button = page.getByRole('button', {name: 'Sign in with your organisation'});
		check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'oidc-button',
			'the prompt does not start on the sign-in button');
		await button.click();
		await page.waitForURL(`${env.ESAAS_UI_ISSUER}/**`);
		const authorize = new URL(page.url());
		await page.locator('input[name="login"]').fill('alice');
		await page.locator('input[name="password"]').fill('any password');
		await snapshot(page, 'oidc-provider-login');
		await page.getByRole('button', {name: 'Sign-in'}).click();
		await page.getByRole('button', {name: 'Continue'}).click();
		await page.waitForURL(`${base}/ui/#/clusters`);
		await page.locator('#whoami-actor').filter({hasText: 'oidc:alice'}).waitFor();
		await page.locator('#whoami-role').filter({hasText: 'member'}).waitFor();
		await page.locator(`tr[data-cluster="${CLUSTER}"]`).waitFor();
		check(!page.url().includes('code='), `the code is left in the address: ${page.url()}`);
		const first = await page.evaluate(() => window.sessionStorage.getItem('esaas.api-token'));
		check(first && first.split('.').length === 3, 'no ID token kept in the tab');
		// The flow the browser ran: PKCE with S256, its state and nonce.
		check(authorize.pathname.length > 0, 'no authorization request');
		check(await page.getByRole('link', {name: 'New cluster'}).isVisible(), 'a member is not offered New cluster');
		await audit(page, 'oidc-signed-in');

		// Another tab is not signed in: the token is per tab.
		const other = await context.newPage();
		await other.goto(`${base}/ui/#/clusters`);
		await other.locator('#token-dialog').waitFor();
		check(await other.evaluate(() => window.sessionStorage.getItem('esaas.api-token')) === null,
			'another tab has the token');
		await other.close();

		// Renewed before it expires, and still accepted.
		await page.waitForFunction((t) => {
			const now = window.sessionStorage.getItem('esaas.api-token');
			return now && now !== t;
		}, first, {timeout: 30000});
		await page.goto(`${base}/ui/#/jobs`);
		await page.locator('#whoami-actor').filter({hasText: 'oidc:alice'}).waitFor();
		await page.locator('table.jobs tbody tr').first().waitFor();
		check(await page.locator('#token-dialog').isHidden(), 'the renewed token was refused');

		// With no refresh token (a provider that gives none, or one that
		// refused it), the person is asked to sign in again once the ID
		// token has expired, and signs in again through the provider.
		await page.evaluate(() => window.sessionStorage.removeItem('esaas.oidc-refresh'));
		const kept = await page.evaluate(() => window.sessionStorage.getItem('esaas.api-token'));
		await page.locator('#token-dialog').filter({hasText: 'has expired'}).waitFor({timeout: 40000});
		const exp = await page.evaluate((t) => JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp, kept);
		check(Date.now() / 1000 >= exp - 1, `asked to sign in again ${Math.round(exp - Date.now() / 1000)} s before the token's expiry`);
		await audit(page, 'oidc-expired');
		await page.getByRole('button', {name: 'Sign in with your organisation'}).click();
		await page.waitForURL(`${env.ESAAS_UI_ISSUER}/**`);
		// The provider may remember alice (its session) or ask again.
		for (let i = 0; i < 20 && !page.url().startsWith(`${base}/ui/`); i++) {
			if (await page.locator('input[name="login"]').isVisible()) {
				await page.locator('input[name="login"]').fill('alice');
				await page.locator('input[name="password"]').fill('any password');
				await page.getByRole('button', {name: 'Sign-in'}).click();
			} else if (await page.getByRole('button', {name: 'Continue'}).isVisible()) {
				await page.getByRole('button', {name: 'Continue'}).click();
			} else {
				await page.waitForTimeout(250);
			}
		}
		await page.waitForURL(`${base}/ui/**`);
		await page.locator('#whoami-actor').filter({hasText: 'oidc:alice'}).waitFor();
		const again = await page.evaluate(() => window.sessionStorage.getItem('esaas.api-token'));
		check(again && again !== kept, 'signing in again gave no new token');
	},

	// A viewer signed in through the provider is offered no action.
	async 'oidc-viewer'(page) {
		await page.goto(`${base}/ui/#/clusters/${CLUSTER}`);
		await page.getByRole('button', {name: 'Sign in with your organisation'}).click();
		await page.locator('input[name="login"]').fill('vera');
		await page.locator('input[name="password"]').fill('any password');
		await page.getByRole('button', {name: 'Sign-in'}).click();
		await page.getByRole('button', {name: 'Continue'}).click();
		await page.waitForURL(`${base}/ui/#/clusters/${CLUSTER}`);
		await page.locator('#whoami-role').filter({hasText: 'viewer'}).waitFor();
		await page.locator('#cluster-pods tbody tr').first().waitFor();
		await page.locator('table.jobs tbody tr').first().waitFor();
		check(await page.locator('#operate').count() === 0, 'a viewer is shown the actions');
		check(await page.locator('main button').count() === 0, 'a viewer is shown buttons');
		check(await page.getByRole('link', {name: 'New cluster'}).isHidden(), 'a viewer is offered New cluster');
		await audit(page, 'oidc-viewer');
	},

	// Delete, typing the name to confirm.
	async delete(page) {
		await openCluster(page);
		await page.getByLabel(`Type ${CLUSTER} to confirm`).fill('portal');
		await page.getByRole('button', {name: 'Delete the cluster'}).click();
		await page.locator('#delete-confirm-error').waitFor();
		check(page.url().includes(`#/clusters/${CLUSTER}`), 'a wrong name left the page');
		await page.getByLabel(`Type ${CLUSTER} to confirm`).fill(CLUSTER);
		await page.getByRole('button', {name: 'Delete the cluster'}).click();
		const deletePlan = await confirmPlan(page, 'delete-form');
		check(deletePlan.includes('delete'), `the delete's plan: "${deletePlan}"`);
		await jobSucceeds(page, 'delete');
	},
};

const roleOf = {viewer: 'viewer', member: 'member', oidc: null, 'oidc-viewer': null};
const name = process.argv[2];
if (!scenarios[name]) {
	console.error(`usage: portal.test.mjs SCENARIO (one of ${Object.keys(scenarios).join(', ')})`);
	process.exit(2);
}
if (!base) {
	console.error('ESAAS_UI_BASE is not set');
	process.exit(2);
}
try {
	await withBrowser(name, scenarios[name], name in roleOf ? roleOf[name] : 'admin');
	console.log(`ok ${name}`);
} catch (err) {
	console.log(`FAILED ${name}: ${err instanceof Failure ? err.message : err.stack || err}`);
	process.exitCode = 1;
}
