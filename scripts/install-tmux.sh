#!/bin/sh
# Installs Debian's tmux package, which the dashboard test uses to run the
# dashboard in a real terminal. Does nothing when tmux is already there.
# Run as root (or through sudo) on a Debian or Ubuntu machine.
exec "$(dirname "$0")/apt-install.sh" tmux tmux
