import pytest

from scripts import train


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "bot" / "domain").mkdir(parents=True)
    (tmp_path / "bot" / "config.yml").write_text("language: zh\n")
    (tmp_path / "bot" / "domain" / "a.yml").write_text("version: '3.1'\n")
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "greet.yml").write_text("nlu: []\n")
    (tmp_path / "data" / "demo").mkdir()
    (tmp_path / "data" / "demo" / "citizens.yml").write_text("citizens: []\n")
    monkeypatch.setattr(train, "ROOT", tmp_path)
    monkeypatch.setattr(train, "CONFIG", tmp_path / "bot" / "config.yml")
    monkeypatch.setattr(train, "DOMAIN", tmp_path / "bot" / "domain")
    monkeypatch.setattr(train, "TRAINING_DATA", [tmp_path / "data" / "nlu"])
    monkeypatch.setattr(train, "PIPELINE_CODE", [])
    monkeypatch.setattr(train, "MODEL_FILE", tmp_path / "models" / "assistant.tar.gz")
    monkeypatch.setattr(train, "FINGERPRINT", tmp_path / "models" / "assistant.fingerprint")
    (tmp_path / "models").mkdir()
    return tmp_path


def _mark_trained(project):
    (project / "models" / "assistant.tar.gz").write_bytes(b"model")
    (project / "models" / "assistant.fingerprint").write_text(train.fingerprint())


def test_training_is_needed_without_a_model(project):
    assert train.needs_training()


def test_nothing_to_do_when_inputs_are_unchanged(project):
    _mark_trained(project)
    assert not train.needs_training()
    assert train.train() is None


def test_a_changed_training_file_needs_training(project):
    _mark_trained(project)
    (project / "data" / "nlu" / "greet.yml").write_text("nlu: [changed]\n")
    assert train.needs_training()


def test_a_changed_domain_file_needs_training(project):
    _mark_trained(project)
    (project / "bot" / "domain" / "b.yml").write_text("responses: {}\n")
    assert train.needs_training()


def test_demo_data_does_not_trigger_training(project):
    _mark_trained(project)
    (project / "data" / "demo" / "citizens.yml").write_text("citizens: [changed]\n")
    assert not train.needs_training()
