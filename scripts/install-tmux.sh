#!/bin/sh
# Installs Debian's tmux package, which the dashboard test uses to run the
# dashboard in a real terminal. Does nothing when tmux is already there.
# Run as root (or through sudo) on a Debian or Ubuntu machine.
set -eu

if command -v tmux >/dev/null 2>&1; then
	echo "tmux is already installed: $(command -v tmux)"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-tmux: run as root (or install sudo)" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends tmux
command -v tmux
