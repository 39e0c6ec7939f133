#!/usr/bin/env bash
# Installs what OXIDE Review needs on Debian/Ubuntu and skips whatever is already there:
# Tauri's WebKitGTK system packages and the headless test tools (apt), the UI's node
# modules (npm ci), tauri-driver (cargo install) and the crates (cargo fetch).
# Safe to re-run; used by scripts/dev and scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# --- system packages -------------------------------------------------------------------
APT_PACKAGES=(
  # Tauri 2 on Linux (WebKitGTK 4.1) and building it
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config git
  # running the app and its WebDriver journeys headless
  xvfb xauth webkit2gtk-driver dbus dbus-x11
  # the OS keyring (Secret Service) for signing keys
  gnome-keyring libsecret-tools keyutils
  # sqlite3 for inspecting the state database; ssh-keygen for git SSH signatures
  sqlite3 openssh-client
  # `oxide sync` over ssh:// (libssh2 links the system OpenSSL: libssl-dev, pkg-config above)
  # and the sshd its journey starts on loopback (tests/tests/sync.rs)
  openssh-server
  # the sandbox checks run in (docs/checks.md)
  bubblewrap
  # a venv for the independent DSSE verifier (securesystemslib) of the interop journey
  python3 python3-venv
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them with your package manager"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}): run as root or install sudo"
    SUDO=(sudo)
  fi
  say "installing ${#missing[@]} apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
else
  say "apt packages: all ${#APT_PACKAGES[@]} present"
fi

# --- the check sandbox: bubblewrap must be able to create namespaces here ------------------
if ! bwrap --unshare-all --new-session --die-with-parent --ro-bind /usr /usr \
    --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 -- /usr/bin/true 2>/dev/null; then
  die "bubblewrap cannot create a sandbox here, so 'oxide validate' will refuse to run checks: allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ sysctl kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap) — see docs/checks.md"
fi
say "bubblewrap: sandbox works"

# --- toolchains (not installed here: say how) -----------------------------------------
command -v cargo >/dev/null || die "cargo not found: install Rust with https://rustup.rs (rust-toolchain.toml pins 1.95.0)"
command -v node >/dev/null || die "node not found: install Node.js 20.19+ (e.g. from https://nodejs.org or NodeSource)"
node_version=$(node -p 'process.versions.node')
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "node $node_version is too old for Vite 8: install Node.js 20.19 or newer"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null; then
      say "adding rustup component $component"
      rustup component add "$component"
    else
      die "cargo $component is missing"
    fi
  fi
done

# --- node modules ----------------------------------------------------------------------
lock_sum=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
stamp=ui/node_modules/.oxide-lock-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ]; then
  say "ui/node_modules: up to date with package-lock.json"
else
  say "npm ci in ui/"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

# --- cargo tools -----------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
if command -v tauri-driver >/dev/null; then
  say "tauri-driver: present ($(command -v tauri-driver))"
else
  say "cargo install tauri-driver (about 30 s)"
  cargo install tauri-driver --locked --version '^2'
fi
if cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest: present"
else
  say "cargo install cargo-nextest (a few minutes)"
  cargo install cargo-nextest --locked
fi

# --- the independent DSSE implementation (tests/interop) -------------------------------
# securesystemslib (pinned in tests/interop/requirements.txt) in a venv of Debian's python:
# the system Python is externally managed. tests/tests/approvals_interop.rs runs
# $OXIDE_INTEROP_VENV/bin/python and fails when it is missing.
venv="${OXIDE_INTEROP_VENV:-target/interop-venv}"
req_sum=$(sha256sum tests/interop/requirements.txt | cut -d' ' -f1)
venv_stamp="$venv/.oxide-requirements-sha256"
if [ -x "$venv/bin/python" ] && [ -f "$venv_stamp" ] && [ "$(cat "$venv_stamp")" = "$req_sum" ]; then
  say "interop venv: up to date ($venv)"
else
  py=/usr/bin/python3
  [ -x "$py" ] || py=$(command -v python3) || die "python3 not found: install python3 and python3-venv"
  say "interop venv: creating $venv with $("$py" --version 2>&1)"
  rm -rf "$venv"
  "$py" -m venv "$venv" || die "cannot create a venv with $py: install python3-venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: -r tests/interop/requirements.txt \
    || die "pip could not install tests/interop/requirements.txt into $venv"
  "$venv/bin/python" -c 'import securesystemslib.dsse, securesystemslib.signer, cryptography' \
    || die "securesystemslib does not import in $venv"
  echo "$req_sum" >"$venv_stamp"
fi

# --- crates ----------------------------------------------------------------------------
say "cargo fetch"
cargo fetch --locked -q 2>/dev/null || cargo fetch -q
say "done"
