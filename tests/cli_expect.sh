#!/usr/bin/env bash
# usage: cli_expect.sh EXIT_CODE REGEX COMMAND...
# Runs COMMAND and passes when it exits with EXIT_CODE and its whole output (stdout and
# stderr, across lines) matches the extended REGEX.
expected_code=$1 pattern=$2
shift 2
output=$("$@" 2>&1)
code=$?
if [ "$code" != "$expected_code" ]; then
  printf 'expected exit %s, got %s; output:\n%s\n' "$expected_code" "$code" "$output"
  exit 1
fi
if ! grep -Ezq -- "$pattern" <<< "$output"; then
  printf 'output does not match /%s/:\n%s\n' "$pattern" "$output"
  exit 1
fi
