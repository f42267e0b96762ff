"""Shared test set-up: Qt offscreen, hypothesis profile, no real home folder."""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
# Never write settings or caches into the real home during tests.
os.environ.setdefault("GRADGRAPH_SETTINGS_DIR", tempfile.mkdtemp(prefix="gradgraph-settings-"))

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "gradgraph",
    deadline=None,  # the first call of a Numba kernel compiles it
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gradgraph"))
