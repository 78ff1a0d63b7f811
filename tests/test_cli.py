"""The command line refuses bad input with a clear message before any work starts."""
import pytest

from trp.cli import main
from trp.config import ConfigError, TrainConfig, load_config


@pytest.mark.parametrize("override, message", [
    ("e=1.5", "e must lie in (0, 1)"),
    ("e=0", "e must lie in (0, 1)"),
    ("lam=-1e-4", "lam (nuclear weight) must be >= 0"),
    ("model=vgg16", "unknown model 'vgg16'"),
    ("scheme=tucker", "unknown scheme 'tucker'"),
    ("method=prune", "unknown method 'prune'"),
    ("m=0", "m (projection period) must be an integer >= 1"),
    ("learning_rate=0.1", "unknown config keys ['learning_rate']"),
])
def test_bad_config_is_refused_before_work(tmp_path, capsys, override, message):
    code = main(["train", "--set", override, "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "run")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_unknown_layer_name_is_refused(tmp_path, capsys):
    code = main(["train", "--set", "layers=[layer9.0.conv1]", "--data", str(tmp_path / "missing.npz"),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "layer9.0.conv1" in err and "layer3.0.conv2" in err  # names the valid convs


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--set", "epochs=1", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "r")])
    assert code == 2 and "missing.npz" in capsys.readouterr().err


def test_yaml_config_file_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: resnet56\nlam: 3e-4\nscheme: spatial\n")
    cfg = load_config(path, ["e=0.05", "layers=[res3-1-2]"])
    assert (cfg.model, cfg.lam, cfg.scheme, cfg.e, cfg.layers) == ("resnet56", 3e-4, "spatial", 0.05, ["res3-1-2"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_paper_defaults():
    cfg = TrainConfig()
    assert (cfg.e, cfg.m, cfg.epochs, cfg.milestones, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size) == \
        (0.02, 20, 164, [82, 122], 0.1, 0.9, 1e-4, 128)
    assert (cfg.counter, cfg.nuclear_cadence, cfg.rank_rule) == ("global", "every_step", "energy")
