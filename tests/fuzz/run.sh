#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a while.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     default: 60 s each, every target
#
# Environment: BUILD_DIR (default build-fuzz), JOBS (default nproc).
# New inputs the fuzzer finds go to $BUILD_DIR/corpus/<target>/ (the seeds in the tree are read,
# never written); a crash, leak or timeout leaves its input in $BUILD_DIR/findings/<target>/ and
# makes this exit non-zero. Copy such an input into tests/fuzz/corpus/<target>/ and add a unit
# test in the area it belongs to: the replay tests of the ordinary build then keep it fixed.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
build=${BUILD_DIR:-build-fuzz}
targets=("$@")

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DORDERLY_FUZZ=ON -DORDERLY_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
# The list lives in tests/fuzz/CMakeLists.txt alone; configuring writes it out.
[ ${#targets[@]} -gt 0 ] || IFS=';' read -r -a targets <"$build/fuzz_targets.txt"
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  echo "fuzz: $t for ${seconds}s"
  # -timeout: one input taking 10 s is a hang, a finding like a crash. -rss_limit_mb: the
  # gateway's own budget is far below; an input that makes a parser balloon is a finding too.
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/findings/$t/" "$build/corpus/$t" "tests/fuzz/corpus/$t" \
      >"$build/findings/$t.log" 2>&1; then
    failed+=("$t")
    tail -n 40 "$build/findings/$t.log"
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$build/findings/$t.log" | tr '\n' ' '
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}: inputs in $build/findings/<target>/, logs in $build/findings/<target>.log"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a finding"
