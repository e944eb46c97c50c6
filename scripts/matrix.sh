#!/usr/bin/env bash
# Runs the test suite on another Python and other dependency versions:
#   scripts/matrix.sh 3.13 'django>=6,<7' .venv-py3.13 [pytest args]
# The second argument may hold several pip requirements separated by spaces.
set -euo pipefail
py_version="$1"; django_spec="$2"; venv="$3"; shift 3
py=""
for candidate in "python${py_version}" "$HOME/.pyenv/versions/${py_version}"*/bin/python "/root/.pyenv/versions/${py_version}"*/bin/python; do
  # pyenv shims exist for every version but fail unless selected: run the candidate to be sure.
  if "$candidate" -c "import sys" >/dev/null 2>&1; then py="$candidate"; break; fi
done
if [ -z "$py" ]; then
  echo "matrix: Python ${py_version} not found" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086 # word splitting of the requirement list is intended
"$venv/bin/pip" install --quiet -e ./client -e ".[test]" $django_spec
"$venv/bin/python" -c "import django, sys; print(f'matrix: Python {sys.version.split()[0]}, Django {django.get_version()}')"
"$venv/bin/pip" list 2>/dev/null | grep -iE '^(django|djangorestframework|django-oauth-toolkit|pyjwt|oauthlib) ' || true
"$venv/bin/python" -m pytest "$@"
