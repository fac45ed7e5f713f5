# Two entry points: `make run` opens the app, `make test` runs the whole suite headless.
# Both create .venv/ on first use and install gradviz with its pinned torch into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gradviz-installed
EXAMPLE := resources/examples/01_scalar_gradient.py

.PHONY: run test setup clean translations

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned request would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gradviz $(EXAMPLE)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

# After changing texts in gradviz/gui/*.py: refresh the .ts (then translate the new entries in it, e.g. with
# pyside6-linguist), compile the .qm, and check nothing is left untranslated.
translations: $(STAMP)
	$(PY) -m gradviz.gui.i18n update
	$(PY) -m gradviz.gui.i18n compile
	$(PY) -m gradviz.gui.i18n check

clean:
	rm -rf $(VENV) build *.egg-info
