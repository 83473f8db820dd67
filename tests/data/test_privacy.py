"""The privacy guard on headers."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from helpers import make_dataset
from deeppc.data.privacy import PrivacyRules, findings


@pytest.fixture()
def rules(data_config) -> PrivacyRules:
    return PrivacyRules.from_config(data_config["privacy"])


def _ds(**attrs):
    return make_dataset(np.zeros((4, 4)), **attrs)


def test_anonymised_file_passes(rules):
    assert findings(_ds(PatientName="ANONYMOUS", PatientID="ANON-0042", PatientBirthDate=""), rules) == []
    assert findings(_ds(PatientName="", PatientID="", InstitutionName="REMOVED"), rules) == []


@pytest.mark.parametrize(
    "attrs, expected",
    [
        ({"PatientName": "DOE^JANE"}, ["PatientName"]),
        ({"PatientBirthDate": "19700101"}, ["PatientBirthDate"]),
        ({"InstitutionName": "Groote Schuur Hospital"}, ["InstitutionName"]),
        ({"AccessionNumber": "A123456"}, ["AccessionNumber"]),
        ({"ReferringPhysicianName": "SMITH^J"}, ["ReferringPhysicianName"]),
        ({"PatientID": "8801015009087"}, ["PatientID"]),  # a real-looking ID, not a pseudonym
        ({"BurnedInAnnotation": "YES"}, ["BurnedInAnnotation=YES"]),
    ],
)
def test_identifying_values_are_found(rules, attrs, expected):
    assert findings(_ds(**attrs), rules) == expected


def test_values_are_never_echoed(rules):
    found = findings(_ds(PatientName="DOE^JANE", PatientBirthDate="19700101"), rules)
    assert not any("DOE" in f or "1970" in f for f in found)


def test_non_empty_sequence_counts(data_config):
    cfg = dict(data_config["privacy"], attributes=["OtherPatientIDsSequence"])
    rules = PrivacyRules.from_config(cfg)
    item = Dataset()
    item.PatientID = "12345"
    assert findings(_ds(OtherPatientIDsSequence=Sequence([item])), rules) == ["OtherPatientIDsSequence"]
    assert findings(_ds(OtherPatientIDsSequence=Sequence([])), rules) == []
