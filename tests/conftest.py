"""Shared test set-up: Qt offscreen, hypothesis profile, no real home folder."""
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
# Never write settings or caches into the real home during tests.
os.environ.setdefault("GRADGRAPH_SETTINGS_DIR", tempfile.mkdtemp(prefix="gradgraph-settings-"))

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "gradgraph",
    deadline=None,  # the first call of a Numba kernel compiles it
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gradgraph"))


@pytest.fixture
def lessons_copy(tmp_path, monkeypatch):
    """A private copy of the lessons folder, so stubs can be 'solved' wrongly:
    ``lessons_copy("1.1", "return d_out * self.x, d_out * self.y")`` replaces the stub's
    ``raise NotImplementedError`` with that body and returns the exercise's CheckResult."""
    from gradgraph import exercises
    from gradgraph.lessons import LESSONS_ENV, lessons_dir

    target = tmp_path / "lessons"
    shutil.copytree(lessons_dir(), target, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv(LESSONS_ENV, str(target))

    def write(id_, body, replace=None):
        stub = exercises.find_exercise(id_).stub
        text = stub.read_text()
        old = replace or f'raise NotImplementedError("Exercise {id_}")'
        assert old in text
        indent = text[:text.index(old)].rsplit("\n", 1)[1]
        body = body.strip("\n").replace("\n", "\n" + indent)
        stub.write_text(text.replace(old, body))
        return exercises.check(id_)

    return write


@pytest.fixture
def window(qtbot):
    """The app's main window, shown at 1400x900 (screenshot mode: no saved settings)."""
    from gradgraph_gui.main_window import MainWindow

    w = MainWindow(screenshot_mode=True)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    if w.train_panel is not None:
        w.train_panel.shutdown()
