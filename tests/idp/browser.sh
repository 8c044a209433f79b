#!/bin/sh
# $BROWSER for the e2e tests: a headless user signs in at the URL it is given
# (user.mjs browse). Appends the URL to $BROWSER_LOG when set; extra user.mjs
# flags (--deny, --tamper-state, --login NAME) come from $BROWSER_ARGS.
# Appends the names and values of its environment to $BROWSER_ENV_LOG when
# set, and its whole command line (one argument a line) to $BROWSER_ARGV_LOG.
[ -n "$BROWSER_LOG" ] && printf '%s\n' "$1" >> "$BROWSER_LOG"
[ -n "$BROWSER_ENV_LOG" ] && env >> "$BROWSER_ENV_LOG"
[ -n "$BROWSER_ARGV_LOG" ] && printf '%s\n' "$0" "$@" >> "$BROWSER_ARGV_LOG"
# shellcheck disable=SC2086  # BROWSER_ARGS is a list of flags
exec node "$(dirname "$0")/user.mjs" browse "$@" $BROWSER_ARGS
