"""gradgraph export: a lesson's step-through as GIF, PNG and SVG frames for slides."""
import numpy as np
import pytest
from PIL import Image

import gradgraph as gg
from gradgraph import cli, export, lessons
from gradgraph.graph import full


def test_gif_has_one_frame_per_step_and_is_wide_enough(tmp_path):
    path = tmp_path / "chain.gif"
    result = export.export_lesson(1, gif=path, width=800)
    steps = len(gg.Stepper(lessons.load(1).build()))
    assert result["frames"] == steps == 8
    with Image.open(path) as gif:
        assert gif.n_frames == steps and gif.size[0] == 800 and gif.info.get("loop") == 0
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(steps - 1)
        last = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(first, last)  # the frames show different steps


def test_png_and_svg_frames(tmp_path):
    result = export.export_lesson("chain_rule", frames_dir=tmp_path / "png", svg_dir=tmp_path / "svg")
    pngs = sorted((tmp_path / "png").glob("frame_*.png"))
    svgs = sorted((tmp_path / "svg").glob("frame_*.svg"))
    assert len(pngs) == len(svgs) == result["frames"] == 8
    with Image.open(pngs[0]) as png:
        assert png.size[0] == export.DEFAULT_WIDTH >= 600
    text = svgs[-1].read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_svg_frames_keep_the_numbers_as_text(tmp_path):
    export.export_lesson(1, svg_dir=tmp_path)
    frames = sorted(tmp_path.glob("*.svg"))
    first, last = frames[0].read_text(), frames[-1].read_text()
    assert "val -12" not in first and "val -12" in last          # f = -12 appears in the forward pass
    assert "grad -4" in last and "df/dx = df/dq" in last         # and the ledger of the last backward step


def test_a_long_graph_is_folded_into_rows():
    x = gg.Tensor(1.0, name="x")
    h = x
    for k in range(30):
        h = h.tanh()
        h.name = f"h{k}"
    lay = export._positions(full(gg.Graph(h)))
    geometry = export._fold(lay, 1280)
    assert geometry.height > lay.height and geometry.width < lay.width
    assert export._scale(geometry, 1280) > export._scale(export._Geometry(lay), 1280)


def test_command_line(tmp_path, capsys):
    path = tmp_path / "one.gif"
    assert cli.main(["export", "1", "--gif", str(path)]) == 0
    assert path.is_file() and "8 frames" in capsys.readouterr().out
    assert cli.main(["export", "1"]) == 2
    assert "--gif PATH" in capsys.readouterr().err
    assert cli.main(["export", "nope", "--gif", str(path)]) == 2
    assert "chain_rule" in capsys.readouterr().err
    assert cli.main(["export", "1", "--gif", str(path), "--width", "200"]) == 2
    assert "at least 600" in capsys.readouterr().err
    assert cli.main(["export", "1", "--gif", str(tmp_path / "missing" / "x.gif")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_export_needs_an_output():
    with pytest.raises(ValueError, match="at least one"):
        export.export_lesson(1)
