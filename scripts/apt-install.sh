#!/bin/sh
# apt-install.sh COMMAND PACKAGE...: installs Debian packages so that
# COMMAND is on the PATH; does nothing when it already is. Run as root (or
# through sudo) on a Debian or Ubuntu machine. The install-*.sh scripts use
# it for what the tests need.
set -eu

cmd=$1
shift
if command -v "$cmd" >/dev/null 2>&1; then
	echo "$cmd is already installed: $(command -v "$cmd")"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "apt-install: run as root (or install sudo) to install $*" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "$@"
command -v "$cmd"
