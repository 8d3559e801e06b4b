#!/usr/bin/env bash
# Install everything BETag Studio needs into ./.venv (idempotent; safe to rerun).
#   --browser   also install Debian's chromium + chromium-driver for the end-to-end browser test
#   --postgres  also install Debian's postgresql server, which the tests (and .ci/run) use as the second backend
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0
postgres=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    --postgres) postgres=1 ;;
    *) echo "usage: scripts/setup.sh [--browser] [--postgres]" >&2; exit 2 ;;
  esac
done

quiet_pip() {  # pip's notes about absent local mirrors are noise; keep its errors and exit status
  "$@" 2>&1 | { grep -v -E "^WARNING: Location 'file:" || true; }
  return "${PIPESTATUS[0]}"
}

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
quiet_pip .venv/bin/python -m pip install -q -r requirements.txt
quiet_pip .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt

debs=()
if [ "$browser" = 1 ] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
  debs+=(chromium chromium-driver)
fi
if [ "$postgres" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  debs+=(postgresql)
fi
if [ "${#debs[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${debs[@]}" >/dev/null
fi
echo "setup done: $(.venv/bin/python -c 'import torch, transformers, streamlit; print("torch", torch.__version__, "| transformers", transformers.__version__, "| streamlit", streamlit.__version__)')"
