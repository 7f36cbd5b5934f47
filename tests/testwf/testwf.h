/*
 * Workflows for testing the engine, linked only into esaasd-test.
 *
 * Every state runs one handler that follows a plan in the job's params:
 *   {"plan": {"work": ["retry", "wait:50", "next"]}, "sleep_ms": 0}
 * The n-th run of a state performs the n-th action of its list (the last
 * action repeats; no list means "next").  Actions:
 *   next            go to the table's next state
 *   wait:MS         not ready yet, run again in MS
 *   poll:MS         the same, saying the same thing every time (a wait
 *                   that sees nothing change)
 *   retry           a transient failure
 *   fail            a permanent failure
 *   badutf8         a permanent failure whose message is not valid UTF-8
 *   sleep:MS        work for MS milliseconds, then next
 *   hang            never answer (until aborted)
 *   fetch           GET params.url (params.timeout_ms): 2xx next, transient
 *                   errors retry, others fail
 * Each run appends "state" to context.trace, so a test can read what ran.
 *
 * test_progress (start → step → commit, cleanup undo) processes
 * params.items one per run of "step", recording each in context.done, and
 * fails while the file params.block_file exists when it reaches the item
 * at index params.block_at: a job that stops part-way, for replays.
 * "commit" is not replay-safe.
 *
 * test_gate (prepare → gate → settle, cleanup unwind) fails in "gate" while
 * the file params.gate_file exists: the job viewer's failed job, replayed
 * once the test removes the file.
 */
#ifndef ESAAS_TESTWF_H
#define ESAAS_TESTWF_H

#include <stdbool.h>
#include <stddef.h>
#include "engine/registry.h"

bool testwf_register(struct wf_registry *reg, char *err, size_t errlen);

#endif
