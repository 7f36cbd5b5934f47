#!/bin/sh
# A plugin that never answers, through a process of its own.
sleep 600 &
wait
