#!/usr/bin/env bash
# Set up, then run every check: ruff, mypy --strict, and the whole pytest suite
# (tests marked netns need root; CI runs as root). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/mypy
set +e
.venv/bin/python -m pytest --cov=l2pop.core --cov-report=term --cov-fail-under=95 "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "test.sh: pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit $rc
