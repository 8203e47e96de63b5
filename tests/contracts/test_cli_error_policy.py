"""The one error policy of `hieroaction`: path and disk errors a user can fix are one line and exit 2; any other
OSError (a reset connection, an I/O error deep in a library) is a bug and keeps its traceback."""

import argparse
import errno

import pytest

from hieroaction import cli


def _command_raising(monkeypatch, exc: BaseException) -> None:
    def fail(_args):
        raise exc

    def parser():
        p = argparse.ArgumentParser(prog="hieroaction")
        p.set_defaults(func=fail)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(errno.ENOENT, "No such file or directory", "in.jsonl"),
        PermissionError(errno.EACCES, "Permission denied", "out"),
        IsADirectoryError(errno.EISDIR, "Is a directory", "out"),
        NotADirectoryError(errno.ENOTDIR, "Not a directory", "file/x"),
        OSError(errno.ENOSPC, "No space left on device", "out/clip.npy"),
    ],
)
def test_path_and_disk_errors_are_one_line_exit_2(monkeypatch, capsys, exc):
    _command_raising(monkeypatch, exc)
    assert cli.main([]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and exc.filename in err[0]


@pytest.mark.parametrize(
    "exc", [ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), OSError(errno.EIO, "I/O error")]
)
def test_other_os_errors_are_not_hidden_behind_exit_2(monkeypatch, exc):
    _command_raising(monkeypatch, exc)
    with pytest.raises(type(exc)):
        cli.main([])


def test_a_real_missing_path_is_still_one_line(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    assert cli.main(["model", "build", "tiny", str(tmp_path / "a_file" / "model")]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a_file" in err[-1]
