"""What `python -m orchestration.promote` prints per changed file (the promotion itself is exercised end to end in
test_pipeline_integration.py)."""

from orchestration.promote import Change, main


def test_change_lines():
    assert Change("data.dvc", "b0b094aa18e2", "e75d986834e4").line().split() == ["data.dvc", "b0b094aa18e2", "->",
                                                                                "e75d986834e4"]
    assert Change("models/promoted.dvc", "27b25e393c5f", "27b25e393c5f").line().split() == ["models/promoted.dvc",
                                                                                          "unchanged"]
    assert Change("dvc-store/", "", "13 new object(s)").line().split() == ["dvc-store/", "13", "new", "object(s)"]


def test_nothing_to_promote_is_one_line_and_exit_2(tmp_path, capsys, project):
    assert main([str(tmp_path / "workspace"), "--root", str(project)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("nothing promoted: no promoted checkpoint in")
