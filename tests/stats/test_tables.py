"""Table-3 style Markdown matrices and the CSV outputs of the stats stage."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from deeppc.cli import main
from deeppc.stats import StatsSettings, run_analysis
from deeppc.stats.analysis import output_files
from deeppc.stats.scores import StatsInputError, load_scores
from deeppc.stats.tables import best_markdown, format_p, table3_markdown
from deeppc.stats.units import SAMPLE_SETS_WARNING
from deeppc.stats.tests import Comparison, pairwise_tests
from deeppc.stats.units import select_observations

CONTRACT = ["n_a", "n_b", "mean_a", "mean_b", "sd_a", "sd_b", "t", "df", "p", "p_adjusted", "correction",
            "significant", "hedges_g", "g_ci_low", "g_ci_high"]


def _pairwise(study, **kw):
    obs = select_observations(load_scores(study), "medfid", 800)
    return pairwise_tests(obs, [Comparison.parse("stylegan2:wgangp")], **kw)


def test_matrix_layout_like_table_3(study):
    table = _pairwise(study, correction="none")
    marks = {(r.a, r.b): "✓" if r.significant else "✗" for r in table.itertuples()}
    md = table3_markdown(table, "medfid", show_p=False)
    assert "## vanilla (within family)\n\n| | vanilla2 | vanilla3 |\n|---|---|---|\n" in md
    assert f"| **vanilla1** | {marks['vanilla1', 'vanilla2']} | {marks['vanilla1', 'vanilla3']} |" in md
    assert f"| **vanilla2** | . | {marks['vanilla2', 'vanilla3']} |" in md
    assert "## stylegan2 vs wgangp (cross-family)" in md
    assert f"| **stylegan2** | {marks['stylegan2', 'wgangp1']} | {marks['stylegan2', 'wgangp2']} |" in md
    assert "no correction (as in the paper)" in md
    assert "Compared at `iteration 800`: every experiment at iteration 800." in md
    assert "Unit of analysis: sample sets" in md and "n = 5 per experiment" in md
    assert f"**{SAMPLE_SETS_WARNING}**" in md  # one network per experiment: said in the table itself


def test_untestable_pairs_show_a_question_mark_and_the_reason(write_score):
    write_score("a", "f", 1, {"fid": [1.0, 2.0, 3.0]})
    write_score("b", "f", 1, {"fid": [7.0]})
    table = pairwise_tests(select_observations(load_scores(write_score.root), "fid", 1))
    md = table3_markdown(table, "fid")
    assert "| **a** | ? |" in md
    assert "- ? a vs b: too few observations (n_a=3, n_b=1)" in md
    assert "holm correction over all tests of this metric (0 tested pairs)" in md


def test_p_values_in_cells(study):
    table = _pairwise(study, correction="holm")
    md = table3_markdown(table, "medfid", show_p=True)
    first = table.iloc[0]
    assert f"({format_p(first['p_adjusted'])})" in md.split("| **vanilla1** |")[1].split("|")[1]
    assert format_p(0.0004) == "<0.001" and format_p(0.0123) == "0.012" and format_p(None) == ""


def test_run_analysis_writes_contract_csvs(study, tmp_path):
    settings = StatsSettings(metrics=["medfid", "fid"], compare_at=800,
                             comparisons=[Comparison.parse("stylegan2:wgangp")])
    paths = run_analysis(study, tmp_path / "stats", settings)
    pairwise = pd.read_csv(paths["pairwise"])
    assert set(CONTRACT + ["metric", "comparison", "a", "b", "unit", "note"]) <= set(pairwise.columns)
    assert len(pairwise) == 2 * 6 and set(pairwise.metric) == {"medfid", "fid"}
    best = pd.read_csv(paths["best"])
    assert best.loc[best.metric == "medfid", "best_iteration"].tolist() == [800] * 6
    for name in ("table3_medfid", "table3_fid", "best_medfid", "oneway", "observations", "curves"):
        assert (tmp_path / "stats").joinpath(paths[name]).is_file()
    # the names the workflow's rule declares are exactly the files written
    assert sorted(p.name for p in (tmp_path / "stats").iterdir()) == sorted(output_files(["medfid", "fid"]))
    settings_json = json.loads((tmp_path / "stats" / "settings.json").read_text())
    assert settings_json["unit_used"] == {"medfid": "sample_sets", "fid": "sample_sets"}
    text = (tmp_path / "stats" / "pairwise.csv").read_text()
    assert "nan" not in text.lower() and "None" not in text


def test_degenerate_csv_has_empty_cells_and_a_note(write_score, tmp_path):
    write_score("a", "f", 1, {"fid": [4.0, 4.0]})
    write_score("b", "f", 1, {"fid": [4.0, 4.0]})
    paths = run_analysis(write_score.root, tmp_path / "out", StatsSettings(metrics=["fid"]))
    line = (tmp_path / "out" / "pairwise.csv").read_text().splitlines()[1]
    assert ",,,,holm,0.05,,,,," in line
    frame = pd.read_csv(paths["pairwise"])
    assert frame.loc[0, "note"] == "identical values in both groups (zero variance): nothing to test"
    assert frame.loc[0, "warning"] == SAMPLE_SETS_WARNING
    assert pd.read_csv(paths["observations"])["warning"].eq(SAMPLE_SETS_WARNING).all()
    assert pd.read_csv(paths["oneway"])["warning"].eq(SAMPLE_SETS_WARNING).all()
    assert "Welch's ANOVA undefined" in pd.read_csv(paths["oneway"]).loc[0, "note"]


def test_best_markdown(study):
    from deeppc.stats.best import best_checkpoints

    md = best_markdown(best_checkpoints(load_scores(study), "medfid"))
    assert md.startswith("# Best checkpoints (medfid)")
    assert "| vanilla1 | vanilla | 800 |" in md


def test_settings_from_config():
    config = {"experiments": {"wgangp2": {}, "wgangp1": {}},
              "stats": {"metrics": ["fid"], "compare_at": "best", "correction": "none",
                        "best": {"window": 5, "patience": 4},
                        "comparisons": [{"name": "sg vs w", "a": {"family": "stylegan2"}, "b": {"family": "wgangp"}}]}}
    s = StatsSettings.from_config(config)
    assert (s.metrics, s.compare_at, s.correction, s.smoothing_window, s.patience) == \
        (["fid"], "best", "none", 5, 4)
    assert s.order == ["wgangp2", "wgangp1"] and s.comparisons[0].name == "sg vs w"
    with pytest.raises(StatsInputError, match="unknown stats setting.*best.smooth"):
        StatsSettings.from_config({"stats": {"best": {"smooth": 3}}})


def test_cli_stats(study, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["stats", "--scores", str(study), "--out", str(out), "--iteration", "800",
                 "--cross", "stylegan2:wgangp", "--correction", "none", "--table-p"]) == 0
    pairwise = pd.read_csv(out / "pairwise.csv")
    assert set(pairwise.correction) == {"none"} and (pairwise.kind == "cross").sum() == 2
    assert "✓ (" in (out / "table3_medfid.md").read_text() or "✗ (" in (out / "table3_medfid.md").read_text()
    assert main(["stats", "--scores", str(study), "--out", str(out), "--metric", "kid"]) == 2
    assert "metric 'kid' is in no score file" in capsys.readouterr().err
    assert main(["stats", "--scores", str(study), "--out", str(out), "--correction", "holmes"]) == 2
    assert "correction must be one of" in capsys.readouterr().err
