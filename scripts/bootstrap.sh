#!/usr/bin/env bash
# Idempotent set-up on Debian 12 as root: the Debian packages the harness drives,
# then .venv/ with the project installed. Re-running it does nothing that is done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the system under test, capture, audio tools, reference speech,
# the compiler and headers the `pesq` build needs, the browser the report test uses.
PACKAGES=(
  kamailio kamailio-sqlite-modules kamailio-tls-modules rtpengine-daemon openssl
  tshark sox sqlite3 asterisk-core-sounds-en-wav espeak-ng flite
  sip-tester iproute2 iptables procps
  python3 python3-venv python3-dev gcc
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  if [[ $EUID -ne 0 ]]; then
    echo "bootstrap: need root to install ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # no recommends: 18 min -> a few minutes on a 2-vCPU host; services are not started
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python 3.11: the pjsua2-python wheel is built for CPython 3.11 only.
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=$(command -v python3)
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "bootstrap: $PY is $("$PY" -V 2>&1); the pjsua2-python wheel needs Python 3.11" >&2
  exit 1
fi

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -x .venv/bin/python || ! -f $stamp ]]; then
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  echo "bootstrap: installing the harness into .venv (pesq compiles: a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  # [dev]: ruff and mypy, which the harness's own tests run (bin/selftest)
  .venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v -i -E "warning|^\s*$" || true
  .venv/bin/python -c "import pjsua2, pesq, pyshark, numpy, yaml, jinja2, mypy, ruff" \
    || { echo "bootstrap: the Python dependencies did not install" >&2; exit 1; }
  rm -f .venv/.installed-* && touch "$stamp"
fi
