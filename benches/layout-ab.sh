#!/bin/sh
# What introspection costs, measured without code-layout luck.
#
#   benches/layout-ab.sh [SEEDS] [compare options...]
#   benches/layout-ab.sh 3 --workers 2 --runs 50 --only yield_many,mutex_contended
#
# Two builds of one tree differ by a few percent on some workloads from
# where the linker happens to put their functions, and that is as large as
# the cost being measured (benches/README.md, "Introspection"). So this
# builds SEEDS layouts (default 3) of each side, with introspection and
# without (`--cfg aiolos_no_introspection`), each linked by lld with its
# functions in a different shuffled order (`--shuffle-sections`, seed 1 to
# SEEDS), and runs `compare` on all of them at once, interleaved, with a
# pool per side: `with` and `without`, each round's mean over its layouts.
# The `with` line's `paired` column is the cost; the layouts' own lines
# show how far layout alone moves one build.
#
# Needs only the Rust toolchain: lld ships with it (rust-lld, reached
# through the toolchain's gcc-ld directory). Builds go to
# target/layout-with and target/layout-without, binaries to target/layout.
set -eu
cd "$(dirname "$0")/.."

seeds=3
case "${1:-}" in
--* | "") ;;
*[!0-9]* | 0)
    echo "layout-ab: SEEDS must be a number from 1, not '$1'" >&2
    exit 2
    ;;
*) seeds=$1; shift ;;
esac

host=$(rustc -vV | sed -n 's/^host: //p')
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$host/bin/gcc-ld"
if [ ! -x "$gcc_ld/ld.lld" ]; then
    echo "layout-ab: no ld.lld in $gcc_ld" >&2
    exit 1
fi
# The seed is read from a response file, so the flags (and with them
# cargo's fingerprints) stay the same from seed to seed: a new seed only
# relinks.
mkdir -p target/layout
rsp="$PWD/target/layout/shuffle.rsp"
link="-Clink-arg=-B$gcc_ld -Clink-arg=-fuse-ld=lld -Clink-arg=-Wl,@$rsp"

columns=""
with_pool=""
without_pool=""
seed=1
while [ "$seed" -le "$seeds" ]; do
    printf '%s\n' "--shuffle-sections=*=$seed" >"$rsp"
    for side in with without; do
        flags=$link
        [ "$side" = without ] && flags="--cfg aiolos_no_introspection $link"
        # Relink with this seed (the sources did not change).
        touch benches/src/bin/compare.rs
        RUSTFLAGS="$flags" CARGO_TARGET_DIR="target/layout-$side" \
            cargo build --release --quiet -p aiolos-benches --bin compare
        cp "target/layout-$side/release/compare" "target/layout/$side-$seed"
        if [ "$seed" -gt 1 ] && cmp -s "target/layout/$side-1" "target/layout/$side-$seed"; then
            echo "layout-ab: seed $seed linked the same $side binary as seed 1" >&2
            exit 1
        fi
        columns="$columns --with $side$seed=target/layout/$side-$seed"
    done
    with_pool="$with_pool${with_pool:+,}with$seed"
    without_pool="$without_pool${without_pool:+,}without$seed"
    seed=$((seed + 1))
done

# Any of the builds can be the parent; it measures only the layouts.
# shellcheck disable=SC2086
exec target/layout/with-1 --runtimes none $columns \
    --pool "with=$with_pool" --pool "without=$without_pool" --baseline without "$@"
