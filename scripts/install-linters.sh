#!/bin/sh
# Installs what the quality source's tests run for real: gosec, built from
# the Go module proxy into $(go env GOPATH)/bin (it writes SARIF and JSON),
# and Debian's python3-yaml for the reference banned-words checker
# (source/quality/banned/testdata/oracle.py). Does nothing that is already
# there. The Debian step needs root (or sudo); gosec does not.
set -eu

GOSEC_VERSION=v2.30.0

gobin="$(go env GOPATH)/bin"
if [ -x "$gobin/gosec" ] && "$gobin/gosec" -version 2>/dev/null | grep -q "${GOSEC_VERSION#v}"; then
	echo "gosec ${GOSEC_VERSION} is already installed: $gobin/gosec"
else
	GOFLAGS=-mod=mod go install "github.com/securego/gosec/v2/cmd/gosec@${GOSEC_VERSION}"
	echo "installed $gobin/gosec"
fi

if python3 -c 'import yaml' 2>/dev/null; then
	echo "python3-yaml is already installed"
	exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-linters: python3-yaml is missing; run as root (or install sudo)" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends python3-yaml
