#!/usr/bin/env bash
# The run step of the warden GitHub Action (action.yml).
#
# Inputs arrive as environment variables (INPUT_*) that action.yml maps
# from `inputs`; nothing is spliced into this script's text, so no input
# can become shell code. Secrets arrive as the variables warden reads
# itself (WARDEN_API_KEY, WARDEN_REVIEWER_API_KEY, GITHUB_TOKEN) and are
# never echoed. Every input is checked before warden starts; a bad one
# ends the step with exit 2.
#
# While the agent runs, workflow commands are suspended (::stop-commands::
# with a random token) so nothing the agent or a tool prints can set an
# output, mask a value or forge an annotation. Afterwards
# `warden gh outputs` reads the audit log, writes the step outputs and
# decides the step's exit status from `fail-on`.
#
# Tests run this very script with WARDEN_BIN pointing at a debug build.
set -euo pipefail

say() { printf 'warden action: %s\n' "$*" >&2; }
usage_error() {
	say "$*"
	exit 2
}

bin=${WARDEN_BIN:-warden}
if ! command -v -- "$bin" >/dev/null 2>&1; then
	usage_error "no warden binary at '$bin' (the build step sets WARDEN_BIN)"
fi

state_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
work=$(mktemp -d "$state_root/warden-step.XXXXXXXX")
trap 'rm -rf -- "$work"' EXIT

args=(run)

# --- what to do -----------------------------------------------------------
prompt=${INPUT_PROMPT:-}
prompt_file=${INPUT_PROMPT_FILE:-}
if [[ -n $prompt && -n $prompt_file ]]; then
	usage_error "give either 'prompt' or 'prompt-file', not both"
fi
if [[ -n $prompt ]]; then
	# A file, not an argument: no length limit, and a prompt starting
	# with '-' cannot be read as a flag.
	printf '%s\n' "$prompt" >"$work/prompt.md"
	args+=(--prompt-file "$work/prompt.md")
elif [[ -n $prompt_file ]]; then
	args+=(--prompt-file "$prompt_file")
fi

# --- flags that take the input as it is (warden validates them) ------------
add_flag() { # add_flag FLAG VALUE: only when VALUE is set
	if [[ -n $2 ]]; then args+=("$1" "$2"); fi
}
add_flag --profile "${INPUT_PROFILE:-}"
add_flag --provider "${INPUT_PROVIDER:-}"
add_flag --scenario "${INPUT_SCENARIO:-}"
add_flag --model "${INPUT_MODEL:-}"
add_flag --base-url "${INPUT_BASE_URL:-}"
add_flag --reviewer "${INPUT_REVIEWER:-}"
add_flag --reviewer-model "${INPUT_REVIEWER_MODEL:-}"
add_flag --reviewer-base-url "${INPUT_REVIEWER_BASE_URL:-}"
add_flag --timeout "${INPUT_TIMEOUT:-}"
add_flag --requirements "${INPUT_REQUIREMENTS:-}"
add_flag --cwd "${INPUT_WORKING_DIRECTORY:-}"

# config: one file per line, lowest first.
while IFS= read -r line; do
	line=${line#"${line%%[![:space:]]*}"}
	line=${line%"${line##*[![:space:]]}"}
	if [[ -n $line ]]; then args+=(--config "$line"); fi
done <<<"${INPUT_CONFIG:-}"

max_turns=${INPUT_MAX_TURNS:-}
if [[ -n $max_turns ]]; then
	[[ $max_turns =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "max-turns must be a positive number"
	args+=(--max-turns "$max_turns")
fi

# approve: denial ids (D2), separated by spaces or commas; nothing else.
approve=${INPUT_APPROVE:-}
approve=${approve//$'\n'/ }
read -r -a approve_ids <<<"${approve//,/ }"
for id in "${approve_ids[@]}"; do
	[[ $id =~ ^D[1-9][0-9]{0,8}$ ]] || usage_error "approve: not a denial id (ids look like D2)"
	args+=(--approve "$id")
done

fail_on=${INPUT_FAIL_ON:-escalation}
case $fail_on in
never | breaker) ;;
escalation | denial) args+=(--fail-on-escalation) ;;
*) usage_error "fail-on must be never, breaker, escalation or denial" ;;
esac

lookup=()
case ${INPUT_REPORT:-true} in
true) ;;
false)
	args+=(--no-report)
	lookup=(--no-lookup)
	;;
required) args+=(--require-report) ;;
*) usage_error "report must be true, false or required" ;;
esac

head_sha=${INPUT_HEAD_SHA:-}
if [[ -n $head_sha ]]; then
	[[ $head_sha =~ ^[0-9a-f]{40}$ ]] || usage_error "head-sha must be a full 40-character commit SHA"
	# The commit the check run goes on when the event has no pull request
	# head (issue_comment): warden reads GITHUB_SHA.
	export GITHUB_SHA=$head_sha
fi

# --- where the audit log and the kept denials go ---------------------------
# A directory (the kept denials, denials.json, live next to the logs, so
# restoring it lets `approve` refer to an earlier run's ids) or a .jsonl file.
audit_input=${INPUT_AUDIT_PATH:-}
if [[ -z $audit_input ]]; then
	audit_input="$state_root/warden-audit"
fi
if [[ $audit_input == *.jsonl ]]; then
	audit_file=$(realpath -m -- "$audit_input")
	audit_dir=$(dirname -- "$audit_file")
else
	audit_dir=$(realpath -m -- "$audit_input")
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	audit_file="$audit_dir/warden-$stamp-${GITHUB_RUN_ID:-local}-${GITHUB_RUN_ATTEMPT:-1}-$$.jsonl"
fi
mkdir -p -- "$audit_dir"
args+=(--audit "$audit_file" --output-last-message "$work/final-message.md")

# The inputs have been read; warden does not need them in its environment.
unset INPUT_PROMPT INPUT_PROMPT_FILE INPUT_PROFILE INPUT_PROVIDER INPUT_SCENARIO \
	INPUT_MODEL INPUT_BASE_URL INPUT_REVIEWER INPUT_REVIEWER_MODEL \
	INPUT_REVIEWER_BASE_URL INPUT_TIMEOUT INPUT_REQUIREMENTS \
	INPUT_WORKING_DIRECTORY INPUT_CONFIG INPUT_MAX_TURNS INPUT_APPROVE \
	INPUT_FAIL_ON INPUT_REPORT INPUT_HEAD_SHA INPUT_AUDIT_PATH

# --- run ------------------------------------------------------------------
stop_token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
echo "::stop-commands::$stop_token"
set +e
"$bin" "${args[@]}"
rc=$?
set -e
echo "::$stop_token::"

# --- outputs and the step's status ---------------------------------------
"$bin" gh outputs --audit "$audit_file" --exit-code "$rc" \
	--final-message "$work/final-message.md" --fail-on "$fail_on" "${lookup[@]}"
