# Shell functions of scripts/demo.sh, scripts/test.sh and
# scripts/install-test-deps.sh (sourced, from the checkout's root).

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

# make_venv: make (or reuse) the project's virtual environment and set PY to
# its python.
#   TXSOCKJS_VENV  where it lives [default: .venv in the checkout]
#   PYTHON         the interpreter that makes it [default: python3]
# Debian and Ubuntu ship venv apart from python3 (python3-venv): when
# `python3 -m venv` fails it is installed with apt-get (as root, or via sudo).
make_venv() {
    VENV="${TXSOCKJS_VENV:-.venv}"
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "" 2>/dev/null; then
        base="${PYTHON:-python3}"
        if ! command -v "$base" >/dev/null; then
            echo "venv: installing python3"
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null
        fi
        echo "venv: creating $VENV"
        if ! "$base" -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"
            version="$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
            echo "venv: '$base -m venv' failed; installing python3-venv (python$version-venv) with apt-get"
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                python3-venv "python$version-venv" >/dev/null \
                || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
            "$base" -m venv "$VENV"
        fi
    fi
    PY="$VENV/bin/python"
}

# pip_install STAMP ARGS...: pip install ARGS into the venv, unless it was
# done already with the same pyproject.toml (a stamp file remembers).
pip_install() {
    local stamp="$VENV/.txsockjs-$1"
    shift
    local want
    want="$(cksum <pyproject.toml) $*"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "venv: pip install $*"
    "$PY" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$want" >"$stamp"
}

# npm_sockjs_client: sockjs-client (and websocket-multiplex), pinned in
# tests/e2e/package.json, into tests/e2e/node_modules, where the demos and the
# end-to-end tests find them. Returns 1 when npm is missing or fails.
npm_sockjs_client() {
    if [ -f tests/e2e/node_modules/sockjs-client/package.json ] \
        && grep -q '"version": "1.6.1"' tests/e2e/node_modules/sockjs-client/package.json \
        && [ -f tests/e2e/node_modules/websocket-multiplex/package.json ]; then
        return 0
    fi
    command -v npm >/dev/null || return 1
    echo "npm: installing sockjs-client 1.6.1 into tests/e2e/node_modules"
    (cd tests/e2e && { npm ci --prefer-offline --no-audit --no-fund --loglevel=error \
        || npm install --prefer-offline --no-audit --no-fund --loglevel=error; })
}
