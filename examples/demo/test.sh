#!/bin/sh
# The project's test suite: one test.
out=$(sh greet.sh world)
if [ "$out" = "Hello, world!" ]; then
  echo "PASS greet"
else
  echo "FAIL greet: expected 'Hello, world!', got '$out'"
  exit 1
fi
