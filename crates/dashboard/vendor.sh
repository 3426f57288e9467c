#!/usr/bin/env bash
# Refreshes the dashboard's front-end assets from the npm registry (`make vendor`): each package's
# tarball is downloaded, checked against the registry's integrity hash, and the one minified file the
# dashboard serves is copied into assets/ with its version, licence and sha256 in assets/VENDORED.md.
# The build never downloads anything: the files are committed.
set -euo pipefail
cd "$(dirname "$0")"
HTMX_VERSION=${HTMX_VERSION:-2.0.8}   # stay on 2.0.x: 4.x changes how hx-headers on <body> inherit
PICO_VERSION=${PICO_VERSION:-2.1.1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # name version file-in-package destination
    local name=$1 version=$2 file=$3 destination=$4
    local meta tarball integrity
    meta=$(curl -fsS "https://registry.npmjs.org/${name}/${version}")
    tarball=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["tarball"])')
    integrity=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["integrity"])')
    curl -fsS -o "$work/package.tgz" "$tarball"
    local actual="sha512-$(openssl dgst -sha512 -binary "$work/package.tgz" | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
        echo "integrity mismatch for $name@$version" >&2
        exit 1
    fi
    rm -rf "$work/package" && tar xzf "$work/package.tgz" -C "$work"
    cp "$work/package/$file" "assets/$destination"
    local licence
    licence=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("license", "?"))')
    printf '| `%s` | %s@%s (`%s`) | %s | `%s` |\n' "$destination" "$name" "$version" "$file" "$licence" \
        "$(sha256sum "assets/$destination" | cut -d' ' -f1)" >> "$work/table"
}

mkdir -p assets
fetch htmx.org "$HTMX_VERSION" dist/htmx.min.js htmx.min.js
fetch @picocss/pico "$PICO_VERSION" css/pico.min.css pico.min.css
{
    echo "# Vendored front-end assets"
    echo
    echo "Committed minified files from the npm registry, refreshed by \`make vendor\` (crates/dashboard/vendor.sh),"
    echo "embedded in the binary and served under versioned paths. Do not edit them by hand."
    echo
    echo "| File | Package | Licence | sha256 |"
    echo "|---|---|---|---|"
    cat "$work/table"
} > assets/VENDORED.md
echo "vendored: htmx $HTMX_VERSION, pico $PICO_VERSION"
