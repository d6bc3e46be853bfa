#!/usr/bin/env bash
# Idempotent set-up on Debian 12 as root: the Debian packages the harness drives,
# then .venv/ with the project installed. Re-running it does nothing that is done.
set -euo pipefail
cd "$(dirname "$0")/.."
# each step's output goes to reports/bootstrap.log; one line per step here
source scripts/steps.sh

# Debian packages: the system under test, capture, audio tools, reference speech,
# the compiler and headers the `pesq` build needs, the browser the report test uses,
# OpenSSH for the lab's agent hosts (docs/agent-hosts.md) and libfaketime for their tests,
# the fax engine and its page files' library (harness/media/fax.py: spandsp, libtiff).
PACKAGES=(
  kamailio kamailio-sqlite-modules kamailio-tls-modules rtpengine-daemon openssl
  tshark sox sqlite3 asterisk-core-sounds-en-wav espeak-ng flite
  sip-tester iproute2 iptables procps
  openssh-server openssh-client faketime
  libspandsp2 libtiff6
  python3 python3-venv python3-dev gcc
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "bootstrap: need root to install ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  step "apt-get update" apt-get update -q
  # no recommends: 18 min -> a few minutes on a 2-vCPU host; services are not started
  step "Debian packages (${#missing[@]}: ${missing[*]:0:6}...)" \
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
  [[ -x .venv/bin/python ]] || step "Python venv" "$PY" -m venv .venv
  step "pip" .venv/bin/python -m pip install -q --upgrade pip
  # [dev]: ruff, mypy and pytest-xdist, which the harness's own tests run (bin/selftest); pesq
  # compiles: a few minutes the first time
  step "the harness and its Python packages" .venv/bin/python -m pip install -q -e ".[dev]"
  step "imports" .venv/bin/python -c \
    "import pjsua2, pesq, pyshark, numpy, yaml, jinja2, execnet, mypy, ruff, xdist"
  rm -f .venv/.installed-* && touch "$stamp"
fi
echo "bootstrap: ready (set-up log: $BOOTSTRAP_LOG)"
