"""View rules: keywords over attributes, conflicts, labels CSV."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from helpers import make_dataset
from deeppc.data.views import LabelsError, ViewRules, attribute_values, load_labels

ATTRS = ["ViewPosition", "ViewCodeSequence", "SeriesDescription", "ProtocolName", "path"]
KEYWORDS = {"LAT": ["LAT", "LATERAL", "MEDIO-LATERAL"], "AP": ["AP", "PA", "ANTERO-POSTERIOR"]}


@pytest.fixture()
def rules() -> ViewRules:
    return ViewRules(ATTRS, KEYWORDS)


def test_whole_word_keywords(rules):
    assert rules.views_in("ELBOW LAT") == {"LAT"}
    assert rules.views_in("Elbow lateral view") == {"LAT"}
    assert rules.views_in("LATEX GLOVE") == set()
    assert rules.views_in("CAPITELLUM") == set()  # contains 'AP' but not as a word
    assert rules.views_in("ELBOW_AP") == {"AP"}  # protocol names often join words with '_'
    assert rules.views_in("APEX") == set()


def test_first_deciding_attribute_wins_and_conflicts_are_reported(rules):
    decision = rules.decide({"ViewPosition": "AP", "SeriesDescription": "ELBOW LAT"})
    assert decision.view == "AP" and decision.source == "ViewPosition"
    assert decision.conflicts == ["SeriesDescription=LAT"]


def test_ambiguous_attribute_defers_to_the_next(rules):
    decision = rules.decide({"SeriesDescription": "ELBOW AP + LAT", "ProtocolName": "Elbow lateral"})
    assert decision.view == "LAT" and decision.source == "ProtocolName"


def test_no_keyword_is_unassigned(rules):
    decision = rules.decide({"SeriesDescription": "ELBOW 2 VIEWS"})
    assert decision.view is None and decision.source == ""


def test_code_sequence_and_path(rules):
    ds = make_dataset(np.zeros((4, 4)))
    item = Dataset()
    item.CodeValue, item.CodeMeaning = "R-10206", "medio-lateral"
    ds.ViewCodeSequence = Sequence([item])
    values = attribute_values(ds, "export/ELBOW_AP/IM0001", ATTRS)
    assert rules.decide(values).view == "LAT"  # the code sequence comes before the path
    assert rules.decide(attribute_values(None, "export/ELBOW_AP/IM0001", ATTRS)).view == "AP"


def test_labels_csv(tmp_path):
    good = tmp_path / "labels.csv"
    good.write_text("path,view\na/IM1,lat\na/IM2,\nb/IM3,AP\n")
    assert load_labels(good, ["LAT", "AP"]) == {"a/IM1": "LAT", "a/IM2": None, "b/IM3": "AP"}
    bad = tmp_path / "bad.csv"
    bad.write_text("path,view\na/IM1,OBLIQUE\n")
    with pytest.raises(LabelsError, match="line 2.*OBLIQUE"):
        load_labels(bad, ["LAT", "AP"])
    with pytest.raises(LabelsError, match="not found.*data.labels_csv"):
        load_labels(tmp_path / "missing.csv", ["LAT"])
    nokey = tmp_path / "nokey.csv"
    nokey.write_text("file,view\nx,LAT\n")
    with pytest.raises(LabelsError, match="'path' or 'sha256'"):
        load_labels(nokey, ["LAT"])
