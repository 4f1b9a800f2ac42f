"""Every example of the README works as written.

Python blocks are executed against a built dataset at ``data/demo`` (the small demo, linked
into a scratch directory); every ``python -m builder`` / ``python -m explorer`` line of the
bash blocks is parsed by the real command line (a stale option fails), ``make`` targets must
exist and scripts must be where the README says.
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

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)


def _commands() -> list[str]:
    out = []
    for lang, body in BLOCKS:
        if lang != "bash":
            continue
        for line in body.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def test_readme_has_examples():
    assert sum(lang == "python" for lang, _ in BLOCKS) >= 1 and len(_commands()) >= 15


@pytest.mark.parametrize("code", [b for lang, b in BLOCKS if lang == "python"])
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
