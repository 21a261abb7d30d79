"""Print pyproject.toml's [tool.tconv] no-deps pins (what `make` installs with `pip install --no-deps`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def pins(text: str) -> list[str]:
    try:
        import tomllib  # Python >= 3.11

        return list(tomllib.loads(text)["tool"]["tconv"]["no-deps"])
    except ModuleNotFoundError:  # Python 3.10: the one line is simple enough to read directly
        m = re.search(r"^no-deps\s*=\s*\[([^\]]*)\]", text, flags=re.M)
        return re.findall(r'"([^"]+)"', m.group(1)) if m else []


if __name__ == "__main__":
    sys.stdout.write(" ".join(pins(PYPROJECT.read_text(encoding="utf-8"))) + "\n")
