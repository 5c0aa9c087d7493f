"""What other runtimes read: each artifact's declared capabilities and labels, and exported/index.json."""

import json
import shutil

from conftest import ROOT, zoo_main
from zoo import catalogue
from zoo.artifact.index import runtime_description, write_index
from zoo.models import CGAN, DCGAN, ConditionalVAE

EXPORTED = ROOT / "exported"


def test_runtime_description_reads_the_family_declaration():
    cvae = runtime_description(ConditionalVAE, 10, "fashion_mnist")
    assert "conditional" in cvae["capabilities"] and "reconstruct" in cvae["capabilities"]
    assert cvae["labels"] == {"num_classes": 10, "class_names": list(catalogue.dataset("fashion_mnist").class_names)}
    assert runtime_description(CGAN, 3, "mnist", classes=(7, 8, 9))["labels"]["class_names"] == ["7", "8", "9"]
    assert runtime_description(CGAN, 4, "my_own_images")["labels"]["class_names"] == ["0", "1", "2", "3"]
    gan = runtime_description(DCGAN, 0, "fashion_mnist")
    assert gan == {"capabilities": ["generate", "sample"], "labels": None}


def test_index_lists_every_shipped_model_as_its_metadata_declares(tmp_path):
    index = json.loads((EXPORTED / "index.json").read_text())["models"]
    folders = sorted(p.parent.name for p in EXPORTED.glob("*/metadata.json"))
    assert sorted(m["path"] for m in index) == folders
    for entry in index:
        meta = json.loads((EXPORTED / entry["path"] / "metadata.json").read_text())
        assert entry["capabilities"] == meta["capabilities"] and entry["labels"] == meta["labels"]
        assert entry["preview"] and (EXPORTED / entry["path"] / entry["preview"]).is_file()
    by_name = {m["name"]: m for m in index}
    assert by_name["cgan-mnist"]["labels"]["num_classes"] == 10 and by_name["dcgan-fashion-mnist"]["labels"] is None
    assert "samplers" in by_name["ddpm-fashion-mnist"]["capabilities"]
    assert "translate" in by_name["cyclegan-sneaker2boot"]["capabilities"]


def test_zoo_index_fills_in_old_metadata_and_rewrites_the_index(tmp_path):
    for name in ("cgan-mnist", "vae-fashion-mnist"):
        (tmp_path / name).mkdir()
        for file in ("metadata.json", "config.json", "samples.png"):
            shutil.copy(EXPORTED / name / file, tmp_path / name / file)
    old = json.loads((tmp_path / "cgan-mnist" / "metadata.json").read_text())
    expected = {k: old.pop(k) for k in ("capabilities", "labels")}
    (tmp_path / "cgan-mnist" / "metadata.json").write_text(json.dumps(old))
    result = zoo_main("index", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 models; added capabilities and labels to the metadata of cgan-mnist" in result.stdout
    updated = json.loads((tmp_path / "cgan-mnist" / "metadata.json").read_text())
    assert {k: updated[k] for k in expected} == expected
    assert [m["name"] for m in json.loads((tmp_path / "index.json").read_text())["models"]] == ["cgan-mnist", "vae-fashion-mnist"]
    assert write_index(tmp_path)[1] == []  # nothing left to fill in


def test_zoo_index_refuses_a_folder_without_models(tmp_path):
    result = zoo_main("index", tmp_path / "missing")
    assert result.returncode == 1 and "is not a folder; pass the folder that holds the exported models" in result.stderr
    result = zoo_main("index", tmp_path)
    assert result.returncode == 1 and "holds no exported model" in result.stderr
    assert not (tmp_path / "index.json").exists()
