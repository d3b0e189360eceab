#!/usr/bin/env bash
# Checks the dependency direction of docs/design.md §2 on every #include of the library folders:
#   core <- models <- generation <- app;  models, generation <- training;  app never uses training
# and no folder but app/ includes a GUI header (GLFW, OpenGL, Dear ImGui). Prints one error line
# per include that points the wrong way (file:line, what it includes, what the folder may use) and
# exits 1 if there is any; exit 0 when the layout holds.
# usage: scripts/check_layout.sh [ROOT]   (default: the repository this script is in)
set -u
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
declare -A allowed=(
  [core]="core"
  [models]="core models"
  [generation]="core models generation"
  [training]="core models generation training"
  [app]="core models generation app"
)
folders="core models generation training app"
errors=0
for folder in $folders; do
  [[ -d $root/$folder ]] || continue
  while IFS= read -r match; do
    file=${match%%:*}
    rest=${match#*:}
    line=${rest%%:*}
    text=${rest#*:}
    where="${file#"$root"/}:$line"
    target=$(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([A-Za-z_]+)\/.*/\1/p' <<<"$text")
    if [[ -n $target && " $folders " == *" $target "* && " ${allowed[$folder]} " != *" $target "* ]]; then
      echo "error: $where: $folder/ includes \"$target/...\"; $folder/ may include only ${allowed[$folder]// /, } (docs/design.md §2)"
      errors=$((errors + 1))
    fi
    if [[ $folder != app ]] && grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](GLFW/|GL/|imgui)' <<<"$text"; then
      echo "error: $where: $folder/ includes a GUI header ($(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//' <<<"$text")); only app/ may"
      errors=$((errors + 1))
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$root/$folder" --include='*.h' --include='*.cpp' --include='*.inc' | sort)
done
if [[ $errors -gt 0 ]]; then
  echo "layout: $errors include(s) against the dependency direction"
  exit 1
fi
echo "layout: every include of $folders follows the dependency direction"
