# The course's commands. Each target is idempotent and says what it is doing.
#   make lab      set up .venv (once), write the student notebooks if missing, open JupyterLab on them
#   make lab-instructor   the same on notebooks/, the instructor's versions with the solutions
#   make test     set up .venv (once), run the unit tests and every notebook in quick mode
#   make course   run every notebook in full mode, headless, into build/course/
#   make student  write the student versions of the notebooks into build/student/
#   make nbgrader write an nbgrader course folder (one assignment per notebook) into build/nbgrader/
#   make site     build the course's website (offline) into build/site/
#   make slides   build reveal.js slides of every notebook (offline) into build/slides/

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The torch/torchvision pair this machine installs without a download. On another machine
# (a GPU box, a Mac) override it, e.g.  make lab TORCH_PACKAGES="torch torchvision"
TORCH_PACKAGES ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.gancourse-installed
KERNEL := gancourse
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# Quick mode: notebooks shrink their step counts; they never skip a section.
QUICK_ENV := GANCOURSE_QUICK=1 PYTHONHASHSEED=0

.PHONY: setup kernel lab lab-instructor test unit notebooks course student nbgrader site slides clean help

help:
	@echo "make lab | make lab-instructor | make test | make course | make student | make nbgrader | make site | make slides | make clean"

$(STAMP): pyproject.toml
	@echo "==> [setup] creating the virtual environment $(VENV) (if missing)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [setup] installing $(TORCH_PACKAGES) (first, so nothing pulls another torch)"
	@$(PIP) install -q $(TORCH_PACKAGES) 2>&1 | grep -v "is ignored: it is neither" || true
	@$(BIN)/python -c "import torch, torchvision" || (echo "torch failed to install" && exit 1)
	@echo "==> [setup] installing gancourse and its dev extras (editable)"
	@$(PIP) install -q -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	@$(BIN)/python -c "import gancourse, nbval, pytest" || (echo "gancourse failed to install" && exit 1)
	@# nbgrader is here for its tests and for instructors; its menus stay out of the students' JupyterLab
	@$(BIN)/jupyter labextension disable @jupyter/nbgrader > /dev/null 2>&1 || true
	@touch $(STAMP)
	@echo "==> [setup] done"

setup: $(STAMP)

# For a Jupyter installed elsewhere: a kernel running this environment's Python. `make lab` does
# not need it (its JupyterLab runs in .venv, whose default "Python 3" kernel is this environment).
kernel: setup
	@echo "==> [kernel] registering the Jupyter kernel '$(KERNEL)'"
	@$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "Python (gancourse)" > /dev/null

build/student/.written:
	@$(MAKE) --no-print-directory student
	@touch $@

lab: setup build/student/.written
	@echo "==> [lab] opening JupyterLab on build/student/, the student versions (Ctrl-C to stop)"
	$(BIN)/jupyter lab build/student/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)  # root: containers, CI

lab-instructor: setup
	@echo "==> [lab] opening JupyterLab on notebooks/, the instructor's versions with the solutions"
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

unit: setup
	@echo "==> [test] unit tests"
	$(QUICK_ENV) $(BIN)/python -m pytest tests -q

notebooks: setup
	@echo "==> [test] every notebook in quick mode (nbval)"
	$(QUICK_ENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
		-p no:cacheprovider notebooks -q

test: unit notebooks
	@echo "==> [test] all passed"

course: setup
	@echo "==> [course] running every notebook in full mode into build/course/"
	$(BIN)/python -m gancourse.run_notebooks --out build/course notebooks/*.ipynb

student: setup
	@echo "==> [student] writing student notebooks into build/student/"
	$(BIN)/python -m gancourse.assign --out build/student notebooks/*.ipynb

nbgrader: setup
	@echo "==> [nbgrader] writing the nbgrader course folder build/nbgrader/"
	$(BIN)/python -m gancourse.nbgrader_course --course build/nbgrader notebooks/*.ipynb

site: setup
	@echo "==> [site] building the website of the executed notebooks into build/site/ (offline)"
	$(BIN)/python -m gancourse.website site --out build/site

slides: setup
	@echo "==> [slides] building reveal.js slides of the executed notebooks into build/slides/ (offline)"
	$(BIN)/python -m gancourse.website slides --out build/slides

clean:
	@echo "==> [clean] removing build/ (the virtual environment stays; rm -rf $(VENV) to remove it)"
	rm -rf build
