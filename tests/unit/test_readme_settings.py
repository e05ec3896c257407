from shared.config import REPO_ROOT
from tools.settings_table import END, START, markdown_table, readme_with_table


def test_readme_configuration_table_matches_the_settings_the_code_reads() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    assert readme_with_table(readme) == readme, "run: python -m tools.settings_table --write"
    assert markdown_table() in readme


def test_readme_quickstart_is_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
