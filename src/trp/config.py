"""Run configuration: one flat, validated record per training run, whose field defaults are the
paper's. Every value is checked for type, range and finiteness before any work starts; a bad one
is refused with a one-line ConfigError naming the key, the value and what is allowed."""
import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from torch import nn

from .lowrank import SCHEMES
from .models import MODELS, build, paper_layer_name

METHODS = ("baseline", "trp", "nuclear")  # nuclear = Basic+Nu: nuclear norm without projection
PRECISIONS = ("fp32", "tf32", "bf16")  # IEEE fp32 | TF32 convs and matmuls (GPU only) | bf16 autocast
DEVICES = ("auto", "cpu", "cuda")  # auto: a GPU when one is visible
MAX_SEED = 2**32 - 1


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
    layers: list[str] | None = None     # convs ("layer3.0.conv2" or "res3-1-2"); None: every 1x1 and 3x3 but the stem
    target_speedup: float | None = None  # budgeted TRP: ranks from the allocator, not from e
    rank_rule: str = "energy"           # final ranks: energy (paper, Eq. 4) | absolute (authors' code)
    rank_threshold: float = 0.05        # singular-value threshold of rank_rule "absolute"
    log_spectrum: bool = False          # rank log: also each projection's energy ratios (Fig. 2; ~8x the size)
    epochs: int = 164
    max_steps: int | None = None        # stop after this many SGD steps (e.g. Fig. 2: 40 projections x m)
    lr: float = 0.1
    milestones: list[int] = field(default_factory=lambda: [82, 122])  # may exceed epochs (never reached)
    gamma: float = 0.1
    batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seed: int = 0
    precision: str = "fp32"             # fp32 (IEEE) | tf32 (GPU) | bf16 (autocast); SVDs and projections stay fp32
    channels_last: bool = True
    compile: bool = False               # torch.compile the training step's forward and backward (off until measured)
    svd_device: str = "same"            # projections' SVDs: same (the weights' device) | cpu (off until measured)
    train_subset: int | None = None     # first N training images (smoke runs)
    test_subset: int | None = None
    device: str = "auto"                # auto | cpu | cuda

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if "float" in str(f.type):
                setattr(self, f.name, _to_float(f.name, getattr(self, f.name)))
        self.validate()

    def validate(self):
        def need(ok, msg):
            if not ok:
                raise ConfigError(msg)

        def choice(key, options):
            v = getattr(self, key)
            need(isinstance(v, str) and v in options, f"unknown {key} {v!r}; choose one of {options}")

        def integer(key, lo, hi=None, optional=False, label=None):
            v = getattr(self, key)
            what = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
            need((optional and v is None) or (_is_int(v) and lo <= v and (hi is None or v <= hi)),
                 f"{label or key} must be {what}{', or null' if optional else ''}, got {v!r}")

        def real(key, interval, optional=False, label=None):
            """interval: "(0, 1]", "[0, inf)", ...; nan and inf are refused everywhere."""
            v = getattr(self, key)
            lo, hi = (float(x) for x in interval[1:-1].split(","))
            ok = isinstance(v, float) and math.isfinite(v) and (lo <= v if interval[0] == "[" else lo < v) \
                and (v <= hi if interval[-1] == "]" else v < hi)
            what = f"lie in {interval}" if hi < math.inf else f"be {'>=' if interval[0] == '[' else '>'} {lo:g} and finite"
            need((optional and v is None) or ok, f"{label or key} must {what}{', or null' if optional else ''}, got {v!r}")

        choice("model", MODELS)
        choice("method", METHODS)
        choice("scheme", SCHEMES)
        real("e", "(0, 1)")
        real("lam", "[0, inf)", label="lam (nuclear weight)")
        integer("m", 1, label="m (projection period)")
        choice("counter", ("global", "epoch"))
        choice("nuclear_cadence", ("every_step", "projection"))
        need(self.layers is None or (isinstance(self.layers, list) and self.layers
                                     and all(isinstance(n, str) for n in self.layers)),
             f"layers must be a non-empty list of conv names, or null, got {self.layers!r}")
        if self.layers:
            convs = conv_names(self.model)
            bad = [n for n in self.layers if paper_layer_name(n) not in convs]
            need(not bad, f"layers {bad} are not convs of {self.model}; its convs are {list(convs)}")
        real("target_speedup", "(1, inf)", optional=True)
        need(self.target_speedup is None or self.method == "trp", "target_speedup needs method 'trp'")
        need(self.method != "nuclear" or self.lam > 0, "method 'nuclear' needs lam > 0")
        need(self.method != "baseline" or self.lam == 0, "method 'baseline' takes lam = 0; use method 'nuclear'")
        choice("rank_rule", ("energy", "absolute"))
        real("rank_threshold", "(0, inf)")
        integer("epochs", 1)
        integer("max_steps", 1, optional=True)
        real("lr", "(0, inf)")
        ms = self.milestones
        need(isinstance(ms, list) and all(_is_int(x) and x > 0 for x in ms) and all(a < b for a, b in zip(ms, ms[1:])),
             f"milestones must be a list of increasing positive epochs, got {ms!r}")
        real("gamma", "(0, 1]")
        integer("batch_size", 1)
        real("momentum", "[0, 1)")
        real("weight_decay", "[0, inf)")
        integer("seed", 0, MAX_SEED)
        choice("precision", PRECISIONS)
        for key in ("channels_last", "log_spectrum", "compile"):
            need(isinstance(getattr(self, key), bool), f"{key} must be true or false, got {getattr(self, key)!r}")
        integer("train_subset", 1, optional=True)
        integer("test_subset", 1, optional=True)
        choice("device", DEVICES)
        choice("svd_device", ("same", "cpu"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known, key=str)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known keys are {sorted(known)}")
        return cls(**values)


def _is_int(v) -> bool:
    """An int that is not a bool (and not a float such as 164.0)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _to_float(key, value):
    """A float field takes an int, or a string such as "3e-4" (YAML 1.1 reads it as one), as the
    float it means; other values are left for validate() to refuse."""
    if isinstance(value, str) or _is_int(value):
        try:
            return float(value)
        except (ValueError, OverflowError):
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
    return value


@functools.cache
def conv_names(model: str) -> tuple[str, ...]:
    """The conv layers of a model by name (built on the meta device: no weights are allocated)."""
    with torch.device("meta"):
        return tuple(n for n, m in build(model).named_modules() if isinstance(m, nn.Conv2d))


def _yaml(text: str, where: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else exc
        raise ConfigError(f"{where} is not valid YAML: {' '.join(str(detail).split())}") from None


def parse_overrides(pairs: list[str]) -> dict:
    """["e=0.05", "layers=[layer3.0.conv2]"] -> {"e": 0.05, ...}, values parsed as YAML; a key
    given twice takes its last value."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        out[key.strip()] = _yaml(value, f"the value of override {pair!r}")
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    return TrainConfig.from_dict(load_values(path, overrides))


def load_values(path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """The config keys a YAML file and --set overrides give, unchecked (TrainConfig.from_dict checks them)."""
    values = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc}") from None
        values = _yaml(text, f"config file {path}")
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys to values, "
                              f"got {type(values).__name__}")
    values.update(parse_overrides(overrides))
    return values
