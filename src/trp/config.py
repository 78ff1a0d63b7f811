"""Run configuration: one flat, validated record per training run. Bad values are refused with
a message saying what to change, before any work starts."""
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .lowrank import SCHEMES
from .models import MODELS

METHODS = ("baseline", "trp", "nuclear")  # nuclear = Basic+Nu: nuclear norm without projection


class ConfigError(ValueError):
    pass


@dataclass
class TrainConfig:
    model: str = "resnet20"
    method: str = "trp"                 # baseline | trp | nuclear
    scheme: str = "channel"             # channel (TRP1, Zhang et al.) | spatial (TRP2, Jaderberg et al.)
    e: float = 0.02                     # energy threshold of the TSVD (Eq. 4); authors' code: 0.1
    lam: float = 0.0                    # nuclear-norm weight lambda (Eq. 5); paper: 3e-4 for "+Nu"
    m: int = 20                         # projection period (Eq. 2); authors' code: 1
    counter: str = "global"             # global (paper) | epoch (authors' code: reset every epoch)
    nuclear_cadence: str = "every_step"  # every_step (paper) | projection (authors' code)
    layers: list[str] | None = None     # None: every 1x1 and 3x3 conv except the stem
    target_speedup: float | None = None  # budgeted TRP: ranks from the allocator, not from e
    rank_rule: str = "energy"           # final ranks: energy (paper, Eq. 4) | absolute (authors' code)
    rank_threshold: float = 0.05        # singular-value threshold of rank_rule "absolute"
    epochs: int = 164
    max_steps: int | None = None        # stop after this many SGD steps (e.g. Fig. 2: 40 projections x m)
    lr: float = 0.1
    milestones: list[int] = field(default_factory=lambda: [82, 122])
    gamma: float = 0.1
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seed: int = 0
    precision: str = "fp32"             # fp32 | bf16 (autocast; SVDs and projections stay fp32)
    channels_last: bool = True
    train_subset: int | None = None     # first N training images (smoke runs)
    test_subset: int | None = None
    device: str = "auto"                # auto | cpu | cuda

    def __post_init__(self):
        self.validate()

    def validate(self):
        def need(ok, msg):
            if not ok:
                raise ConfigError(msg)

        need(self.model in MODELS, f"unknown model {self.model!r}; choose one of {MODELS}")
        need(self.method in METHODS, f"unknown method {self.method!r}; choose one of {METHODS}")
        need(self.scheme in SCHEMES, f"unknown scheme {self.scheme!r}; choose one of {SCHEMES}")
        need(isinstance(self.e, (int, float)) and 0 < self.e < 1, f"e must lie in (0, 1), got {self.e!r}")
        need(isinstance(self.lam, (int, float)) and self.lam >= 0, f"lam (nuclear weight) must be >= 0, got {self.lam!r}")
        need(isinstance(self.m, int) and self.m >= 1, f"m (projection period) must be an integer >= 1, got {self.m!r}")
        need(self.counter in ("global", "epoch"), f"counter must be 'global' or 'epoch', got {self.counter!r}")
        need(self.nuclear_cadence in ("every_step", "projection"),
             f"nuclear_cadence must be 'every_step' or 'projection', got {self.nuclear_cadence!r}")
        need(self.target_speedup is None or self.target_speedup > 1, f"target_speedup must be > 1, got {self.target_speedup!r}")
        need(self.target_speedup is None or self.method == "trp", "target_speedup needs method 'trp'")
        need(self.method != "nuclear" or self.lam > 0, "method 'nuclear' needs lam > 0")
        need(self.method != "baseline" or self.lam == 0, "method 'baseline' takes lam = 0; use method 'nuclear'")
        need(self.rank_rule in ("energy", "absolute"), f"rank_rule must be 'energy' or 'absolute', got {self.rank_rule!r}")
        need(isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be an integer >= 1, got {self.epochs!r}")
        need(self.lr > 0 and self.batch_size >= 1 and self.weight_decay >= 0 and 0 <= self.momentum < 1,
             "lr and batch_size must be positive, weight_decay >= 0, momentum in [0, 1)")
        need(all(isinstance(x, int) and 0 < x for x in self.milestones) and self.milestones == sorted(self.milestones),
             f"milestones must be increasing positive epochs, got {self.milestones!r}")
        need(self.precision in ("fp32", "bf16"), f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        need(self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}")
        for key in ("train_subset", "test_subset", "max_steps"):
            v = getattr(self, key)
            need(v is None or (isinstance(v, int) and v > 0), f"{key} must be a positive integer or null, got {v!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        floats = {f.name for f in dataclasses.fields(cls) if "float" in str(f.type)}
        values = {k: _to_float(k, v) if k in floats else v for k, v in values.items()}
        return cls(**values)


def _to_float(key, value):
    """YAML 1.1 reads "3e-4" as a string; accept it as the number it means."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
    return value


def parse_overrides(pairs: list[str]) -> dict:
    """["e=0.05", "layers=[layer3.0.conv2]"] -> {"e": 0.05, ...}, values parsed as YAML."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        out[key.strip()] = yaml.safe_load(value)
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    values = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    values.update(parse_overrides(overrides))
    return TrainConfig.from_dict(values)
