"""The README's configuration table, generated from shared.config.SETTINGS (the single source).

`python -m tools.settings_table` prints it; `--write` replaces the table between the markers in
README.md. A unit test fails when README.md and SETTINGS disagree.
"""

from __future__ import annotations

import sys

from shared.config import REPO_ROOT, SETTINGS

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def markdown_table() -> str:
    lines = ["| Setting | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        secret = " **Secret**: keep it in Key Vault." if s.secret else ""
        lines.append(f"| `{s.name}` | {default} | {s.meaning}{secret} |")
    return "\n".join(lines)


def readme_with_table(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if "--write" in argv:
        path = REPO_ROOT / "README.md"
        path.write_text(readme_with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
