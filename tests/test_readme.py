"""The README's commands are the ones CI runs, and the files it names exist."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)


def test_readme_opens_with_exactly_two_commands_and_ci_runs_the_test_one():
    main_job, tests = _commands()[:2]
    assert re.search(r"zoo sample [\w-]+ ", main_job)
    assert "pytest" in tests and "pytest" not in main_job
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.strip() in ci.splitlines(), "the README's test command must appear verbatim in .ci/run"


def test_the_first_command_draws_from_a_model_whose_samples_have_the_asked_class():
    """A newcomer's first grid must be recognisable: its model's samples carry the asked label >= 95%."""
    main_job = _commands()[0]
    name = re.search(r"zoo sample ([\w-]+) ", main_job).group(1)
    headline = json.loads((ROOT / "exported" / name / "metrics.json").read_text())["headline"]
    assert headline["label_accuracy"] >= 0.95, (name, headline["label_accuracy"])


def test_files_the_readme_names_exist():
    readme = (ROOT / "README.md").read_text()
    for path in set(re.findall(r"`((?:recipes|benchmarks|exported)/[\w./-]+)`", readme)):
        assert (ROOT / path.split()[0]).exists(), path
