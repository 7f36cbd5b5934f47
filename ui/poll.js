// Refreshing a page: run load() now and then every interval, one run at a
// time (a slow answer delays the next run instead of piling requests up),
// and not while the tab is hidden.

export function poller(load, intervalMs, onError) {
	let timer = null;
	let running = false;
	let again = false;
	let stopped = true;

	const schedule = () => {
		window.clearTimeout(timer);
		timer = null;
		if (!stopped && !document.hidden) {
			timer = window.setTimeout(run, intervalMs);
		}
	};

	const run = async () => {
		if (stopped) {
			return;
		}
		if (running) {
			again = true;
			return;
		}
		running = true;
		window.clearTimeout(timer);
		try {
			await load();
		} catch (err) {
			if (!stopped && onError) {
				onError(err);
			}
		} finally {
			running = false;
		}
		if (again) {
			again = false;
			run();
			return;
		}
		schedule();
	};

	const visibility = () => {
		if (!document.hidden) {
			run();
		} else {
			window.clearTimeout(timer);
		}
	};

	return {
		start() {
			stopped = false;
			document.addEventListener('visibilitychange', visibility);
			run();
		},
		// Refresh at once (after the run in flight, if any).
		now() {
			run();
		},
		stop() {
			stopped = true;
			window.clearTimeout(timer);
			document.removeEventListener('visibilitychange', visibility);
		},
	};
}
