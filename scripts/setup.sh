#!/usr/bin/env bash
# Installs everything nines needs to build and test, from Debian's packages. Idempotent and
# non-interactive: packages already present are left alone, so a second run costs a few seconds.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcpp-httplib-dev nlohmann-json3-dev libyaml-cpp-dev libssl-dev libspdlog-dev
  libgtest-dev googletest
  clang clang-format clang-tidy libclang-rt-14-dev
  prometheus
  curl jq
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
