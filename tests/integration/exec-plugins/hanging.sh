#!/bin/sh
# A plugin that never answers, through a process of its own; PLUGIN_PIDS,
# when set, is a file that gets its pid and that process's.
sleep 600 &
if [ -n "$PLUGIN_PIDS" ]; then
	echo "$$ $!" >"$PLUGIN_PIDS"
fi
wait
