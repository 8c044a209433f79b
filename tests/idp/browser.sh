#!/bin/sh
# $BROWSER for the e2e tests: a headless user signs in at the URL it is given
# (user.mjs browse). Appends the URL to $BROWSER_LOG when set; extra user.mjs
# flags (--deny, --tamper-state, --login NAME) come from $BROWSER_ARGS.
# Appends the names and values of its environment to $BROWSER_ENV_LOG when
# set, and its whole command line (one argument a line) to $BROWSER_ARGV_LOG.
# Given a file (the provider's private page), it follows the page's
# meta refresh to the sign-in URL, as a browser does.
[ -n "$BROWSER_ENV_LOG" ] && env >> "$BROWSER_ENV_LOG"
[ -n "$BROWSER_ARGV_LOG" ] && printf '%s\n' "$0" "$@" >> "$BROWSER_ARGV_LOG"
url=$1
if [ -f "$1" ]; then
  url=$(sed -n 's/.*<meta http-equiv="refresh" content="0;url=\([^"]*\)">.*/\1/p' "$1" | sed 's/&amp;/\&/g')
fi
[ -n "$BROWSER_LOG" ] && printf '%s\n' "$url" >> "$BROWSER_LOG"
# shellcheck disable=SC2086  # BROWSER_ARGS is a list of flags
exec node "$(dirname "$0")/user.mjs" browse "$url" $BROWSER_ARGS
