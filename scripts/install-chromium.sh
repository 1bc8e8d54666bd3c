#!/bin/sh
# Installs Debian's chromium package, which the HTML report test uses to
# render a report headlessly. Does nothing when chromium is already there.
# Run as root (or through sudo) on a Debian or Ubuntu machine.
set -eu

if command -v chromium >/dev/null 2>&1; then
	echo "chromium is already installed: $(command -v chromium)"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-chromium: run as root (or install sudo)" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
command -v chromium
