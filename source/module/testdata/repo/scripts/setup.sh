#!/usr/bin/env bash
# Set up the development environment.
set -euo pipefail
if [ -z "${VIRTUAL_ENV:-}" ]; then
  echo "no virtualenv"
fi
