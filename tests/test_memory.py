"""gradgraph.memory: freed arrays are kept for reuse, so a training step does not fault in fresh pages."""
import os
import platform
import subprocess
import sys
import textwrap

import pytest

needs_glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                 reason="only glibc's malloc is tuned")

# Ten 2 MiB arrays written and freed, twenty times over, after one round to warm up:
# the page faults of the measured rounds are printed.
ROUNDS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "gradgraph":
        import gradgraph
    def rounds():
        for _ in range(20):
            arrays = [np.ones(512 * 1024, np.float32) for _ in range(10)]
            del arrays
    rounds()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    rounds()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def page_faults(what: str, malloc: str = "") -> int:
    env = dict(os.environ, GRADGRAPH_MALLOC=malloc)
    done = subprocess.run([sys.executable, "-c", ROUNDS, what], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    return int(done.stdout.split()[-1])


@needs_glibc
def test_importing_gradgraph_keeps_freed_memory_for_the_next_round():
    plain, tuned = page_faults("numpy"), page_faults("gradgraph")
    assert plain > 10_000  # glibc gives the 20 MiB back each round and faults it in again
    assert tuned < plain / 100


@needs_glibc
def test_the_tuning_can_be_turned_off():
    assert page_faults("gradgraph", malloc="default") > 10_000


def test_keep_freed_memory_is_idempotent():
    from gradgraph.memory import keep_freed_memory

    first = keep_freed_memory()
    assert keep_freed_memory() is first
    if platform.libc_ver()[0] == "glibc" and platform.system() == "Linux":
        assert first is (os.environ.get("GRADGRAPH_MALLOC", "").lower() != "default")
