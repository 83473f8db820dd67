# Paths and input functions shared by all rules.

RESULTS = config["results"]
ENV = "../workflow/envs/deeppc.yaml"  # relative to the rules/ files that use it
VIEWS = config["data"]["views"]
DEMO = "demo" in config["data"]


def results(*parts):
    """A path under the results folder."""
    return "/".join([RESULTS, *parts])


def data_input():
    """The input folder: the generated demo set, or the user's folder (data.input)."""
    return results("demo", "dicom") if DEMO else config["data"]["input"]


def labels_input():
    """The optional labels CSV, as an input so that editing it reruns the stage."""
    labels = config["data"].get("labels_csv")
    return [labels] if labels else []


def data_outputs():
    return [results("data", "manifest.csv"), results("data", "summary.json")]
