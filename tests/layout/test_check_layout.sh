#!/usr/bin/env bash
# scripts/check_layout.sh fails on includes that point back up the layers (and on GUI headers
# outside app/), naming each, and passes a tree that follows the direction.
# usage: test_check_layout.sh CHECK_SCRIPT
set -u
check=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$work/ok/core" "$work/ok/models" "$work/ok/training" "$work/ok/app"
printf '#include "core/error.h"\n#include <vector>\n' >"$work/ok/models/a.h"
printf '#include "generation/generator.h"\n#include "models/a.h"\n' >"$work/ok/training/b.cpp"
printf '#include <GLFW/glfw3.h>\n#include "generation/pipeline.h"\n' >"$work/ok/app/c.cpp"
out=$(bash "$check" "$work/ok") || fail "a tree that follows the direction was refused: $out"

mkdir -p "$work/bad/core" "$work/bad/generation" "$work/bad/app"
printf '#include <string>\n#include "models/bert.h"\n' >"$work/bad/core/x.h"
printf '#include "training/trainer.h"\n' >"$work/bad/app/y.cpp"
printf '  #  include "imgui.h"\n' >"$work/bad/generation/z.cpp"
out=$(bash "$check" "$work/bad")
rc=$?
[[ $rc -eq 1 ]] || fail "exit $rc on back-pointing includes, expected 1: $out"
# In folder order: core, models, generation, training, app.
expected='error: core/x.h:2: core/ includes "models/..."; core/ may include only core (docs/design.md §2)
error: generation/z.cpp:1: generation/ includes a GUI header ("imgui.h"); only app/ may
error: app/y.cpp:1: app/ includes "training/..."; app/ may include only core, models, generation, app (docs/design.md §2)
layout: 3 include(s) against the dependency direction'
[[ $out == "$expected" ]] || fail "unexpected report:
$out
expected:
$expected"
echo "ok"
