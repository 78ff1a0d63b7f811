"""TrainConfig refuses every bad value with a one-line ConfigError naming the key, before any work
starts; every config it accepts trains (one SGD step with a finite loss)."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from trp import models
from trp.config import METHODS, ConfigError, TrainConfig, load_config, parse_overrides
from trp.lowrank import SCHEMES, find_sites
from trp.train import RankRegularizer

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize("key, value", [
    ("gamma", -1), ("gamma", 0), ("gamma", 1.5), ("gamma", NAN),
    ("lr", None), ("lr", NAN), ("lr", INF), ("lr", 0), ("lr", "fast"), ("lr", True), ("lr", [0.1]), ("lr", 10**400),
    ("e", NAN), ("e", 1), ("e", -INF), ("lam", INF), ("lam", -1e-4), ("momentum", 1), ("momentum", NAN),
    ("weight_decay", -1e-4), ("weight_decay", INF), ("rank_threshold", 0), ("rank_threshold", -1),
    ("rank_threshold", NAN), ("target_speedup", 0), ("target_speedup", 1), ("target_speedup", NAN),
    ("target_speedup", INF),
    ("milestones", 5), ("milestones", [5, 3]), ("milestones", [5, 5]), ("milestones", [0, 5]),
    ("milestones", [5.0]), ("milestones", None), ("milestones", "82,122"),
    ("batch_size", 0), ("batch_size", 2.5), ("batch_size", 128.0), ("batch_size", None),
    ("seed", -1), ("seed", True), ("seed", 2**32), ("epochs", 1.5), ("epochs", 164.0), ("epochs", 0),
    ("m", 0), ("m", False), ("max_steps", 0), ("max_steps", 2.0),
    ("layers", 5), ("layers", []), ("layers", "layer3.0.conv2"), ("layers", [3]), ("layers", ["layer9.0.conv1"]),
    ("layers", ["fc"]), ("train_subset", -5), ("train_subset", 0), ("test_subset", 0), ("test_subset", True),
    ("channels_last", "yes"), ("channels_last", 1), ("channels_last", None),
    ("device", "gpu"), ("device", None), ("precision", "fp16"), ("model", "vgg16"), ("model", 20),
    ("method", "prune"), ("scheme", "tucker"), ("counter", "step"), ("nuclear_cadence", "never"),
    ("rank_rule", "svd"),
])
def test_bad_value_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({key: value})
    msg = str(err.value)
    assert key in msg and "\n" not in msg


@pytest.mark.parametrize("values, message", [
    ({"milestones": 5}, "milestones must be a list of increasing positive epochs, got 5"),
    ({"gamma": -1}, "gamma must lie in (0, 1], got -1.0"),
    ({"lr": None}, "lr must be > 0 and finite, got None"),
    ({"e": 1.5}, "e must lie in (0, 1)"),
    ({"lam": -1e-4}, "lam (nuclear weight) must be >= 0"),
    ({"m": 0}, "m (projection period) must be an integer >= 1"),
    ({"model": "vgg16"}, "unknown model 'vgg16'"),
    ({"seed": True}, "seed must be an integer in [0, 4294967295], got True"),
    ({"learning_rate": 0.1}, "unknown config keys ['learning_rate']; known keys are ['batch_size',"),
    ({"layers": ["layer9.0.conv1"]}, "layers ['layer9.0.conv1'] are not convs of resnet20; its convs are ['conv1',"),
    ({"model": "resnet18", "layers": ["layer4.2.conv1"]}, "are not convs of resnet18"),
    ({"method": "nuclear"}, "method 'nuclear' needs lam > 0"),
    ({"target_speedup": 2.0, "method": "nuclear", "lam": 1e-4}, "target_speedup needs method 'trp'"),
])
def test_messages(values, message):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(values)
    assert message in str(err.value)


def test_accepted_values():
    assert TrainConfig.from_dict({}) == TrainConfig()
    cfg = TrainConfig.from_dict({"lr": "3e-4", "lam": 0, "gamma": 1, "momentum": 0, "weight_decay": "0",
                                 "milestones": [], "layers": ["res3-1-2", "conv1"], "seed": 2**32 - 1,
                                 "model": "resnet18", "scheme": "spatial"})
    assert (cfg.lr, cfg.lam, cfg.gamma, cfg.weight_decay) == (3e-4, 0.0, 1.0, 0.0)
    assert all(type(v) is float for v in (cfg.lr, cfg.lam, cfg.gamma, cfg.momentum, cfg.weight_decay))
    # a milestone past the last epoch is never reached; smoke runs shorten epochs and keep the paper's
    assert TrainConfig(epochs=1).milestones == [82, 122]
    assert TrainConfig.from_dict(TrainConfig(method="nuclear", lam=3e-4).to_dict()).lam == 3e-4


def test_load_config_refuses_bad_files_and_overrides(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [0.1\n")
    with pytest.raises(ConfigError, match=r"^config file .*bad\.yaml is not valid YAML: .*line") as err:
        load_config(bad)
    assert "\n" not in str(err.value)
    listing = tmp_path / "list.yaml"
    listing.write_text("- lr\n- 0.1\n")
    with pytest.raises(ConfigError, match="list.yaml must hold a mapping of keys to values, got list"):
        load_config(listing)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00lr")
    with pytest.raises(ConfigError, match="bin.yaml"):
        load_config(binary)
    with pytest.raises(ConfigError, match=r"override 'lr=\[0.1' is not valid YAML"):
        load_config(None, ["lr=[0.1"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        parse_overrides(["lr"])
    with pytest.raises(ConfigError, match=r"unknown config keys \['learning_rate'\]; known keys are \[.*'lr'"):
        load_config(None, ["learning_rate=0.1"])
    with pytest.raises(ConfigError, match="lr must be > 0 and finite, got None"):
        load_config(None, ["lr="])
    (tmp_path / "empty.yaml").write_text("")
    assert load_config(tmp_path / "empty.yaml") == TrainConfig()


def test_yaml_spellings_and_last_override_wins(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lr: 1e-3\nweight_decay: 5.0e-4\nmilestones: [2, 3]\nepochs: 4\nchannels_last: false\n")
    cfg = load_config(path, ["lr=0.2", "lr=0.05", "layers=[res3-1-2]"])
    assert (cfg.lr, cfg.weight_decay, cfg.milestones, cfg.channels_last, cfg.layers) == \
        (0.05, 5e-4, [2, 3], False, ["res3-1-2"])
    for spelling in ("lr: .nan", "lr: .inf", "lr: ~", "epochs: 164.0", "seed: yes"):
        path.write_text(spelling + "\n")
        with pytest.raises(ConfigError, match=spelling.split(":")[0]):
            load_config(path)


# --- every accepted config trains --------------------------------------------------------------

JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=4),
                 st.sampled_from([NAN, INF, -INF, -1, 0, -0.0, 2.0, 2.5, 10**30, 1e300, -1e300, "3e-4", "nan",
                                  [], [1, 2], ["a"], {"a": 1}]))
LAYERS = ["layer3.0.conv2", "res3-1-2", "res1-1-1", "layer1.2.conv1", "conv1", "layer9.0.conv1", "res4-1-1",
          "fc", "layer3.0", "bn1"]


def _reals(lo, hi, *edges):
    return st.floats(lo, hi) | st.sampled_from(edges)


FIELDS = {  # field -> values around its valid range; each also draws JUNK
    "model": st.sampled_from(["resnet20", "resnet21", "vgg16", "RESNET20"]),  # the cheap model only
    "method": st.sampled_from(METHODS + ("prune",)),
    "scheme": st.sampled_from(SCHEMES + ("tucker",)),
    "e": _reals(-0.5, 1.5, 0.0, 1.0, 1e-12, 1 - 1e-12, "0.1"),
    "lam": _reals(-1.0, 10.0, 0.0, 3e-4, 1e-300, "3e-4"),
    "m": st.integers(-2, 50),
    "counter": st.sampled_from(["global", "epoch", "step"]),
    "nuclear_cadence": st.sampled_from(["every_step", "projection", "never"]),
    "layers": st.none() | st.lists(st.sampled_from(LAYERS), max_size=3),
    "target_speedup": st.none() | _reals(-1.0, 10.0, 1.0, 1 + 1e-9),
    "rank_rule": st.sampled_from(["energy", "absolute", "svd"]),
    "rank_threshold": _reals(-1.0, 10.0, 0.0, 1e-300),
    "epochs": st.integers(-1, 200),
    "max_steps": st.none() | st.integers(-1, 3),
    "lr": _reals(-1.0, 100.0, 0.0, 1e-300, 1e3, "0.1"),
    "milestones": st.lists(st.integers(-1, 200), max_size=3),
    "gamma": _reals(-1.0, 2.0, 0.0, 1.0, 1e-300),
    "batch_size": st.integers(-1, 32),
    "momentum": _reals(-1.0, 2.0, 0.0, 1.0, 1 - 1e-12),
    "weight_decay": _reals(-1.0, 1.0, 0.0, "5e-4"),
    "seed": st.integers(-1, 2**33),
    "precision": st.sampled_from(["fp32", "bf16", "fp16"]),
    "channels_last": st.booleans() | st.sampled_from(["yes", 1, 0]),
    "train_subset": st.none() | st.integers(-5, 64),
    "test_subset": st.none() | st.integers(-5, 64),
    "device": st.sampled_from(["cpu", "auto", "cuda", "gpu", "cuda:0"]),  # the step runs on the CPU
}


def one_step(cfg: TrainConfig) -> float:
    """One SGD step of `cfg` by hand on a random batch of 8 images; returns the loss."""
    model = models.build(cfg.model)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sites = find_sites(model, models.input_size(cfg.model), cfg.scheme,
                       names=[models.paper_layer_name(n) for n in cfg.layers] if cfg.layers else None,
                       exclude=() if cfg.layers else (models.stem(cfg.model),))
    reg = None if cfg.method == "baseline" else RankRegularizer.from_config(cfg, sites)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    if reg:
        reg.before_forward(0, 0)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
        loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    if reg:
        reg.after_backward()
    opt.step()
    sched.step()
    return loss.item()


def _accepted_alone(key):
    def ok(value):
        try:
            TrainConfig.from_dict({key: value})
            return True
        except ConfigError:
            return False

    return ok


@st.composite
def overrides(draw):
    """Values, each accepted on its own, for a random subset of the fields; then up to two fields
    redrawn from anything (out of range, wrong type, None, nan, inf, strings, lists)."""
    values = draw(st.fixed_dictionaries({}, optional={k: s.filter(_accepted_alone(k)) for k, s in FIELDS.items()}))
    for key in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=2, unique=True)):
        values[key] = draw(FIELDS[key] | JUNK)
    return values


@settings(max_examples=40, deadline=None)
@given(overrides())
def test_a_config_is_refused_or_trains(values):
    values = {"model": "resnet20", **values}
    try:
        cfg = TrainConfig.from_dict(values)
    except ConfigError as err:
        assert "\n" not in str(err) and any(k in str(err) for k in (*values, "config keys"))
        return
    assert cfg.model == "resnet20"
    torch.manual_seed(0)
    assert math.isfinite(one_step(cfg))
