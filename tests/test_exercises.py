"""Exercises: every reference solution passes, every untouched stub is "todo" with a
friendly message (never a traceback), and a wrong answer gets a hint naming what is off."""
import shutil
import subprocess
import sys
from argparse import Namespace

import pytest

from gradgraph import exercises
from gradgraph.lessons import LESSONS_ENV, lessons_dir

IDS = [e.id for e in exercises.list_exercises()]


def test_catalogue():
    assert IDS == ["1.1", "1.2", "2.1", "3.1", "6.1", "6.2", "7.1", "7.2", "10.1", "11.1", "16.1", "17.1", "17.2"]
    for exercise in exercises.list_exercises():
        assert exercise.stub.is_file(), exercise.stub
        assert exercise.solution.is_file(), exercise.solution
        assert exercise.stub.name == exercise.solution.name
        assert exercise.stub.parent.name == "exercises" and exercise.solution.parent.name == "solutions"
        assert f'raise NotImplementedError("Exercise {exercise.id}")' in exercise.stub.read_text()
        assert "NotImplementedError" not in exercise.solution.read_text()


@pytest.mark.parametrize("id_", IDS)
def test_solution_passes(id_):
    result = exercises.check(id_, solutions=True)
    assert result.passed, result.message
    assert result.status == "passed"


@pytest.mark.parametrize("id_", IDS)
def test_untouched_stub_is_todo(id_, capsys):
    result = exercises.check(id_)
    assert result.status == "todo" and not result.passed
    assert exercises.status(id_) == "todo"
    assert f"Exercise {id_} is not done yet" in result.message
    assert exercises.find_exercise(id_).stub.name in result.message
    code = exercises.cli_check(Namespace(id=id_, solutions=False))
    out, err = capsys.readouterr()
    assert code == 1
    assert "not done yet" in out and "raise NotImplementedError" in out
    assert "Traceback" not in out + err


def test_cli_list(capsys):
    assert exercises.cli_list(Namespace()) == 0
    out = capsys.readouterr().out
    for id_ in IDS:
        assert f"\n{id_} " in out
    assert "todo" in out and f"0 of {len(IDS)} passed" in out


def test_unknown_id(capsys):
    assert exercises.cli_check(Namespace(id="9.9", solutions=False)) == 2
    assert "1.1" in capsys.readouterr().err
    with pytest.raises(exercises.ExerciseNotFoundError):
        exercises.check("0.0")


def test_command_line_no_traceback():
    done = subprocess.run([sys.executable, "-m", "gradgraph", "exercise", "3.1"], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "Exercise 3.1 is not done yet" in done.stdout and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "gradgraph", "exercise", "3.1", "--solutions"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "passed" in done.stdout


# -- wrong answers get hints ------------------------------------------------------------

@pytest.fixture
def lessons_copy(tmp_path, monkeypatch):
    """A private copy of the lessons folder, so stubs can be 'solved' wrongly."""
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


def test_swapped_multiply(lessons_copy):
    result = lessons_copy("1.1", "return d_out * self.x, d_out * self.y")
    assert result.status == "failed"
    assert "swapped" in result.message


def test_multiply_names_the_wrong_input(lessons_copy):
    result = lessons_copy("1.1", "return d_out * self.y, d_out * self.y")
    assert "d_y is wrong" in result.message and "expected 6" in result.message and "got -8" in result.message


def test_add_forgetting_d_out(lessons_copy):
    result = lessons_copy("1.2", "return 1.0, 1.0")
    assert "multiply them by d_out" in result.message


def test_max_tie(lessons_copy):
    lessons_copy("2.1", "self.x_wins, self.y_wins = x >= y, y >= x", replace="self.x_wins = x >= y")
    result = lessons_copy("2.1", "return d_out * self.x_wins, d_out * self.y_wins")
    assert "tie" in result.message and "counted twice" in result.message


def test_sigmoid_missing_factor(lessons_copy):
    result = lessons_copy("3.1", "return (d_out * self.z,)")
    assert "(1 - σ) σ" in result.message


def test_sigmoid_caught_by_gradcheck_only(lessons_copy):
    # right for scalars, wrong for arrays: the gradcheck names the input
    result = lessons_copy("3.1", "return (d_out * (1 - self.z) * self.z if self.z.ndim == 0 else d_out * self.z,)")
    assert result.status == "failed"
    assert "input 0 ('x')" in result.message and "relative error" in result.message


def test_hinge_without_mean(lessons_copy):
    result = lessons_copy("6.1", """
d = (self.margins > 0).astype(float)
d[range(self.N), self.labels] = -d.sum(axis=1)
return (d * d_out,)""")
    assert "divide by N" in result.message


def test_hinge_names_the_image(lessons_copy):
    result = lessons_copy("6.1", """
d = (self.margins > 0).astype(float)
d[range(self.N), self.labels] = -d.sum(axis=1)
if self.N == 3:
    d[2, 0] = 0.0
return (d * d_out / self.N,)""")
    assert "frog image" in result.message and "d_scores is wrong at element (2, 0)" in result.message


def test_cross_entropy_plus_one(lessons_copy):
    result = lessons_copy("6.2", """
d = self.p.copy()
d[range(self.N), self.labels] += 1
return (d * d_out / self.N,)""")
    assert "d_scores is wrong at element (0, 0)" in result.message and "expected -0.87" in result.message


def test_sgd_wrong_sign(lessons_copy):
    result = lessons_copy("7.1", "for p in params:\n    p.data += lr * p.grad")
    assert "-2.36" in result.message and "-1.64" in result.message


def test_sgd_none_gradient(lessons_copy):
    result = lessons_copy("7.1", "for p in params:\n    p.data -= lr * p.grad")
    assert "grad is None" in result.message


def test_momentum_forgets_velocity(lessons_copy):
    result = lessons_copy("7.2", """
for i, p in enumerate(self.params):
    if p.grad is not None:
        p.data -= self.lr * p.grad""")
    assert "step 2" in result.message and "carry over" in result.message


def test_max_pool_overwrites(lessons_copy):
    result = lessons_copy("10.1", """
x, k, s = self.x, self.k, self.stride
d_x = np.zeros_like(x)
N, C, H_out, W_out = d_out.shape
for n in range(N):
    for c in range(C):
        for i in range(H_out):
            for j in range(W_out):
                window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                a, b = np.unravel_index(np.argmax(window), window.shape)
                d_x[n, c, i * s + a, j * s + b] = d_out[n, c, i, j]
return (d_x,)""")
    assert "+=" in result.message and "expected 10, got 4" in result.message


CONV_BODY = """
x, w, x_pad = self.x, self.w, self.x_pad
s, P = self.stride, self.padding
N, F, H_out, W_out = d_out.shape
K = w.shape[2]
d_x_pad, d_w, d_b = np.zeros_like(x_pad), np.zeros_like(w), d_out.sum(axis=(0, 2, 3))
for n in range(N):
    for f in range(F):
        for i in range(H_out):
            for j in range(W_out):
                g = d_out[n, f, i, j]
                d_w[f] += WINDOW
                d_x_pad[n, :, i * s:i * s + K, j * s:j * s + K] += g * w[f]
return CROP, d_w, d_b"""


def test_conv_padding_not_removed(lessons_copy):
    body = CONV_BODY.replace("WINDOW", "g * x_pad[n, :, i * s:i * s + K, j * s:j * s + K]").replace(
        "CROP", "d_x_pad[:, :, :x.shape[2], :x.shape[3]]")
    result = lessons_copy("11.1", body)
    assert "padding 1" in result.message and "d_x is wrong" in result.message and "input 0 ('x')" in result.message
    assert "cut the padding off" in result.message


def test_conv_wrong_filter_gradient(lessons_copy):
    body = CONV_BODY.replace("WINDOW", "x_pad[n, :, i * s:i * s + K, j * s:j * s + K]").replace(
        "CROP", "d_x_pad[:, :, P:P + x.shape[2], P:P + x.shape[3]]")
    result = lessons_copy("11.1", body)
    assert "d_w is wrong" in result.message


def test_wrong_number_of_gradients(lessons_copy):
    result = lessons_copy("11.1", "return np.zeros_like(self.x), np.zeros_like(self.w)")
    assert "returned 2 value(s)" in result.message and "(d_x, d_w, d_b)" in result.message


def test_error_in_student_code_points_at_the_line(lessons_copy):
    result = lessons_copy("1.2", "return d_out, d_oot")
    assert result.status == "failed"
    assert "NameError" in result.message and "line" in result.message and "d_oot" in result.message


def test_syntax_error(lessons_copy):
    result = lessons_copy("1.2", "return d_out,, d_out")
    assert result.status == "failed" and "syntax error on line" in result.message


def test_student_solution_passes(lessons_copy):
    result = lessons_copy("1.2", "return d_out, d_out")
    assert result.passed, result.message
    assert exercises.status("1.2") == "passed"


def test_kaiming_variance_instead_of_std(lessons_copy):
    fan_in = "shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))"
    result = lessons_copy("16.1", f"return rng.standard_normal(shape) * (2.0 / ({fan_in}))")
    assert result.status == "failed" and "that is the variance" in result.message


def test_kaiming_without_the_factor_two(lessons_copy):
    result = lessons_copy("16.1", "return rng.standard_normal(shape) * np.sqrt(1.0 / shape[0])")
    assert "Xavier" in result.message


def test_kaiming_conv_fan_in(lessons_copy):
    result = lessons_copy("16.1", "return rng.standard_normal(shape) * np.sqrt(2.0 / shape[0])")
    assert result.status == "failed" and "C * kh * kw" in result.message


def test_kaiming_ignores_the_rng(lessons_copy):
    body = """fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
return np.random.default_rng().standard_normal(shape) * np.sqrt(2.0 / fan_in)"""
    result = lessons_copy("16.1", body)
    assert result.status == "failed" and "rng you are given" in result.message


def test_distances_with_a_loop(lessons_copy):
    looped = "return np.array([[((a - b) ** 2).sum() for b in B] for a in A])"
    result = lessons_copy("17.1", looped)
    assert result.status == "failed" and "has a loop" in result.message


def test_distances_with_a_square_root(lessons_copy):
    rooted = "return np.sqrt((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T)"
    result = lessons_copy("17.1", rooted)
    assert "no sqrt" in result.message


def test_im2col_rows_instead_of_columns(lessons_copy):
    body = """x = np.asarray(x, dtype=float)
h_out, w_out = x.shape[1] - k + 1, x.shape[2] - k + 1
return np.array([x[:, i:i + k, j:j + k].ravel() for i in range(h_out) for j in range(w_out)])"""
    result = lessons_copy("17.2", body)
    assert result.status == "failed" and "one window per row" in result.message


def test_im2col_forgetting_the_padding(lessons_copy):
    body = """x = np.asarray(x, dtype=float)
h_out = (x.shape[1] - k) // stride + 1
w_out = (x.shape[2] - k) // stride + 1
return np.stack([x[:, i * stride:i * stride + k, j * stride:j * stride + k].ravel()
                 for i in range(h_out) for j in range(w_out)], axis=1)"""
    result = lessons_copy("17.2", body)
    assert result.status == "failed" and "padding 1" in result.message
