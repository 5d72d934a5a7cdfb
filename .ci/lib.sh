# Helpers shared by .ci/run and .ci/test (sourced, not run).

# Prints a command, then runs it.
step() {
    printf '\n==> %s\n' "$*" >&2
    "$@"
}

say() {
    printf '==> %s\n' "$*" >&2
}

# Installs Debian packages, once, when something needs them and they are missing.
apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            say "missing: $* -- install them (apt-get install $*) or run as root" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null; then
        say "missing: $* -- and there is no apt-get here to install them with" >&2
        return 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        step "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=1
    fi
    step "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@" </dev/null
}

# Build prerequisites of --all-features: OpenSSL headers when a feature
# builds against the system's OpenSSL (the redis-tls feature does).
ensure_build_deps() {
    if grep -rqs --include=Cargo.toml -e 'native-tls' -e 'openssl' Cargo.toml ./*/Cargo.toml ./tests/*/Cargo.toml; then
        if ! { command -v pkg-config >/dev/null && pkg-config --exists openssl; }; then
            say "a feature builds against OpenSSL and its headers are missing"
            apt_install pkg-config libssl-dev
        fi
    fi
}

# Whether the tests need a Redis server: the Redis reliability tests
# (tests/redis) start redis-server themselves, and tests that read REDIS_URL
# use the one .ci/test starts. EVENTLIB_CI_REDIS=1 or 0 overrides the guess.
tests_need_redis() {
    case "${EVENTLIB_CI_REDIS:-}" in
        1) return 0 ;;
        0) return 1 ;;
    esac
    [ -d tests/redis ] && return 0
    grep -rqs --include='*.rs' --include='*.md' -e 'REDIS_URL' \
        tests eventlib/tests eventlib/src eventlib-macros/src ui-tests docs
}
