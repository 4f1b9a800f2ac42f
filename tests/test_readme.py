"""Every example of the README and of the pages under docs/ works as written.

Python blocks are executed against a built dataset at ``data/demo`` (the small demo, linked
into a scratch directory); every ``python -m builder`` / ``python -m explorer`` line of the
bash blocks is parsed by the real command line (a stale option fails), ``make`` targets must
exist, scripts and test files must be where the page says, and every relative link must lead to
a file of the repository.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from builder.__main__ import _parser as builder_parser
from explorer.__main__ import _parser as explorer_parser
from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "CHANGELOG.md"]
README = (REPO / "README.md").read_text()
BLOCKS = [(lang, body, page.relative_to(REPO).as_posix()) for page in PAGES
          for lang, body in re.findall(r"```(\w*)\n(.*?)```", page.read_text(), flags=re.S)]  # fmt: skip


def _commands() -> list[str]:
    out = []
    for lang, body, _ in BLOCKS:
        if lang != "bash":
            continue
        for line in body.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def test_readme_has_examples_and_stays_a_front_door():
    assert sum(lang == "python" for lang, _, _ in BLOCKS) >= 2 and len(_commands()) >= 15
    assert len(README.splitlines()) <= 250  # the rest lives under docs/
    for page in PAGES:
        assert "../shared" not in page.read_text(), f"{page.name} speaks of a folder users do not have"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_lead_to_files(page):
    for target, anchor in re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", page.read_text()):
        file = page.parent / target if target else page
        assert file.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{page.name} links to {target}#{anchor}: no such heading"


def _anchors(page) -> set[str]:
    """GitHub's heading anchors of a page: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    heads = re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("code", [b for lang, b, _ in BLOCKS if lang == "python"])
def test_python_blocks_run(code, small_dataset, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(small_dataset)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().strip(), "the example prints nothing"


@pytest.mark.parametrize("line", _commands())
def test_bash_lines_are_valid(line):
    words = shlex.split(line)
    env = [w for w in words if re.match(r"^[A-Z_]+=", w)]
    words = words[len(env) :]
    if words[:3] == ["python", "-m", "builder"]:
        argv = words[3:]
        if not argv or argv[0].startswith("-"):
            argv = ["build", *argv]  # as builder.__main__.main does
        builder_parser().parse_args(argv)
    elif words[:3] == ["python", "-m", "explorer"]:
        explorer_parser().parse_args(words[3:])
    elif words[:3] == ["python", "-m", "pytest"]:
        for arg in words[3:]:
            if not arg.startswith("-"):
                assert (REPO / arg.split("::")[0]).exists(), arg
    elif words[0] == "make":
        for target in words[1:]:
            assert re.search(rf"^{target}:", (REPO / "Makefile").read_text(), flags=re.M), target
    elif words[0] == "python":
        assert (REPO / words[1]).is_file(), words[1]
    elif words[0] == "gunicorn":
        from explorer.app import create_server  # noqa: F401  (the factory the command names)

        assert words[-1] == "explorer.app:create_server()"
    elif words[0] == "source":
        assert words[1] == ".venv/bin/activate"
    else:
        pytest.fail(f"README command not checked by this test: {line}")
