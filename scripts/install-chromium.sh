#!/bin/sh
# Installs Debian's chromium package, which the HTML report test uses to
# render a report headlessly. Does nothing when chromium is already there.
# Run as root (or through sudo) on a Debian or Ubuntu machine.
exec "$(dirname "$0")/apt-install.sh" chromium chromium fonts-dejavu-core
