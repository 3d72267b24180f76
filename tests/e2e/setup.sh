#!/usr/bin/env bash
# Installs what the browser end-to-end test needs (filled in by the e2e issue).
set -euo pipefail
