"""trp.deploy: BN folding, every runtime's outputs equal to PyTorch's (ResNet-20 dense and
decomposed, both schemes), measured runtime JSON, the per-layer latency table and its cache,
and the latency-aware rank rules on a synthetic table."""
import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

from trp import models
from trp.models.cifar_resnet import CifarResNet
from trp.artifacts import dumps, save_decomposed, save_dense
from trp.deploy import (Unavailable, candidate_ranks, conv_bn_pairs, fold_bn, keep_faster, latency_costs,
                        layer_latency_table, measure_networks, network_latency, pad_ranks, prepare, rank_latency,
                        recompose, round_ranks)
from trp.deploy import measure as measure_module
from trp.lowrank import LowRankConv2d, decompose_model, find_sites, model_cost
from trp.stages.compress import final_ranks

SIZE = (3, 32, 32)


def random_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so that folding has something to fold."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model.eval()


def resnet20(scheme=None) -> tuple[nn.Module, dict]:
    """ResNet-20, dense or decomposed at energy-rule ranks (e = 0.3: some layers decomposed)."""
    torch.manual_seed(0)
    model = models.build("resnet20")
    ranks = {}
    if scheme:
        ranks, _ = final_ranks(find_sites(model, SIZE, scheme, exclude=("conv1",)), scheme, 0.3)
        decompose_model(model, ranks, scheme)
    return random_bn(model), ranks


NETWORKS = {"dense": resnet20(), "channel": resnet20("channel"), "spatial": resnet20("spatial")}
X = torch.randn(2, *SIZE, generator=torch.Generator().manual_seed(2))


def reference(model):
    with torch.inference_mode():
        return model(X)


def close(a, b):
    return torch.allclose(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_fold_bn_preserves_outputs(name):
    model, ranks = NETWORKS[name]
    assert name == "dense" or ranks  # the decomposed networks do decompose layers
    pairs = conv_bn_pairs(model)
    last = "layer3.2.conv2" + (".1" if "layer3.2.conv2" in ranks else "")  # a decomposed layer's second conv
    assert len(pairs) == 19 and (last, "layer3.2.bn2") in pairs
    folded = fold_bn(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is left as it was
    for n, r in ranks.items():
        low = folded.get_submodule(n)
        assert isinstance(low, LowRankConv2d) and low.rank == r and low[0].bias is None and low[1].bias is not None
    assert model_cost(folded, SIZE)["conv_macs"] == model_cost(model, SIZE)["conv_macs"]
    assert close(reference(folded), reference(model))


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_recompose_gives_a_dense_conv_with_the_same_output(scheme):
    model, ranks = NETWORKS[scheme]
    names = list(ranks)[::2]
    dense = recompose(copy.deepcopy(model), names)
    assert all(type(dense.get_submodule(n)) is nn.Conv2d for n in names)
    assert close(reference(dense), reference(model))
    assert model_cost(dense, SIZE)["conv_macs"] > model_cost(model, SIZE)["conv_macs"]
    with pytest.raises(ValueError, match="not a decomposed layer"):
        recompose(model, ["conv1"])


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_pad_ranks_keeps_the_output(scheme):
    model, ranks = NETWORKS[scheme]
    padded = pad_ranks(copy.deepcopy(model), 8)
    for n, r in ranks.items():
        low = padded.get_submodule(n)
        full = find_sites(models.build("resnet20"), SIZE, scheme, names=[n])[0].full_rank
        assert low.rank == min(full, -(-r // 8) * 8) and low[0].out_channels == low[1].in_channels == low.rank
    assert any(padded.get_submodule(n).rank > r for n, r in ranks.items())
    assert close(reference(padded), reference(model))
    with pytest.raises(ValueError):
        pad_ranks(padded, 0)


def test_fold_bn_leaves_a_shared_conv_output_alone():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn, self.conv2, self.bn2 = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.conv(x)
            z = self.conv2(y)
            return self.bn(y) + self.bn2(z)

    model = random_bn(Shared())
    assert conv_bn_pairs(model) == [("conv2", "bn2")]
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert close(fold_bn(model)(x), model(x))


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("runtime,memory_format", [("eager", "contiguous"), ("eager", "channels_last"),
                                                   ("folded", "contiguous"), ("folded", "channels_last"),
                                                   ("onnxruntime", "contiguous")])
def test_runtime_outputs_equal_pytorch(name, runtime, memory_format):
    model, _ = NETWORKS[name]
    out = prepare(model, runtime, X, memory_format)()
    assert out.shape == (2, 10) and close(out.float(), reference(model))


def test_torch_compile_outputs_equal_pytorch():
    """A spatial-wise decomposed ResNet-8 (dense convs and both factors of decomposed ones, a shortcut
    per stage): compiling is the slow part (it grows with the graph), and the runtime wraps every
    network alike."""
    torch.manual_seed(0)
    model = CifarResNet(8)
    ranks, _ = final_ranks(find_sites(model, SIZE, "spatial", exclude=("conv1",)), "spatial", 0.3)
    assert ranks
    decompose_model(model, ranks, "spatial")
    random_bn(model)
    try:
        call = prepare(model, "compile", X)
    except Unavailable as e:
        pytest.skip(str(e))
    assert close(call(), reference(model))


def test_onnxruntime_refuses_channels_last():
    with pytest.raises(Unavailable, match="NCHW"):
        prepare(NETWORKS["dense"][0], "onnxruntime", X, "channels_last")
    with pytest.raises(ValueError, match="unknown runtime"):
        prepare(NETWORKS["dense"][0], "tvm", X)


def tiny(width: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2)).eval()


def test_measure_networks_schema(monkeypatch):
    real = measure_module.prepare

    def no_compile(model, runtime, *args):
        if runtime == "compile":
            raise Unavailable("torch.compile failed: test")
        return real(model, runtime, *args)

    monkeypatch.setattr(measure_module, "prepare", no_compile)
    doc = measure_networks({"baseline": tiny(8), "small": tiny(4)}, (3, 8, 8), (1, 3), ("eager", "compile", "onnxruntime"),
                           ("contiguous", "channels_last"), threads=1, rounds=3, min_run_time=0.003, warmup=1)
    json.loads(dumps(doc))  # strict JSON
    assert doc["runtimes"]["compile"] == {"available": False, "reason": "torch.compile failed: test"}
    assert doc["runtimes"]["onnxruntime"]["available"] and doc["runtime_versions"]["torch"] == torch.__version__.split("+")[0]
    base, small = doc["variants"]
    assert base["mac_speedup"] == 1.0 and small["mac_speedup"] == pytest.approx(2.0)
    assert [(r["batch_size"], r["runtime"], r["memory_format"]) for r in small["rows"]] == [(1, "eager", "contiguous"),
                                                                                             (3, "eager", "contiguous")]
    assert len(small["runtime_rows"]) == 2 * 3  # eager in two formats, onnxruntime in one, per batch size
    for r in small["runtime_rows"]:
        assert r["measurements"] == 3 and r["threads"] == 1 and r["max_output_difference"] < 1e-4
        assert r["speedup_ci"][0] <= r["speedup"] <= r["speedup_ci"][1] and r["faster"] in (True, False, "inconclusive")
        assert r["realised_fraction"] == pytest.approx(r["speedup"] / 2.0) and set(r["vs_primary"]) == {"speedup", "ci", "faster"}
    assert all(r["speedup"] == 1.0 for r in base["runtime_rows"])
    with pytest.raises(ValueError, match="baseline"):
        measure_networks({"x": tiny(4)}, (3, 8, 8))


def test_latency_stage_writes_runtime_v2_for_table4(tmp_path):
    from trp.report.table4 import table4
    from trp.stages.latency import latency_report

    dense, _ = NETWORKS["dense"]
    low, ranks = NETWORKS["spatial"]
    save_dense(tmp_path / "model.pt", dense, "resnet20", {})
    save_decomposed(tmp_path / "decomposed.pt", low, "resnet20", "spatial", ranks)
    out = tmp_path / "runtime.json"
    doc = latency_report({"baseline": str(tmp_path / "model.pt"), "TRP2": str(tmp_path / "decomposed.pt")}, [1], 0.01,
                         out, device="cpu", rounds=2, threads=1)
    assert json.loads(out.read_text())["schema"] == "trp.runtime/2" and doc["provenance"]["TRP2_sha256"]
    trp2 = doc["variants"][1]
    assert len(trp2["rows"]) == 1 and len(trp2["runtime_rows"]) == 2  # contiguous (primary) and channels_last
    rows = table4([str(out)], "smoke", tmp_path / "table4")
    assert rows[2]["speedup"] == pytest.approx(trp2["rows"][0]["speedup"]) and rows[2]["mac_speedup"] == trp2["mac_speedup"]


def test_layer_latency_table_runs_and_caches(tmp_path, monkeypatch):
    cache = tmp_path / "table.json"
    kw = dict(threads=1, rounds=1, min_run_time=0.001, max_candidates=2, cache=cache)
    table = layer_latency_table("resnet20", "channel", **kw)
    layer = table["layers"]["layer3.2.conv2"]
    assert len(table["layers"]) == 18 and table["device"].startswith("CPU") and table["runtime"] == "eager"
    assert layer["ranks"] == [8, layer["break_even"]] and len(layer["rank_s"]) == 2 and layer["dense_s"] > 0
    def measured(*args):
        raise RuntimeError("measured again")

    monkeypatch.setattr("trp.deploy.layer_table.interleaved", measured)
    assert layer_latency_table("resnet20", "channel", **kw) == table  # from the cache
    with pytest.raises(RuntimeError, match="measured again"):
        layer_latency_table("resnet20", "channel", **{**kw, "max_candidates": 3})  # another key: measured anew


def test_candidate_ranks():
    assert candidate_ranks(30) == [8, 16, 24, 30] and candidate_ranks(5) == [5] and candidate_ranks(16) == [8, 16]
    many = candidate_ranks(460, 8, 5)
    assert len(many) == 5 and many[0] == 8 and many[-1] == 460
    with pytest.raises(ValueError):
        candidate_ranks(0)


TABLE = {"model": "toy", "scheme": "channel", "runtime": "eager", "layers": {
    "a": {"dense_s": 1.0, "ranks": [8, 16, 24], "rank_s": [0.4, 0.8, 1.2], "full_rank": 32, "break_even": 26},
    "b": {"dense_s": 1.0, "ranks": [8, 16], "rank_s": [0.9, 1.1], "full_rank": 16, "break_even": 16},
}}


def test_rank_latency_interpolates_and_extrapolates():
    a = TABLE["layers"]["a"]
    assert rank_latency(a, 12) == pytest.approx(0.6) and rank_latency(a, 4) == pytest.approx(0.4)
    assert rank_latency(a, 26) == pytest.approx(1.3)  # the last two candidates' line
    assert np.allclose(rank_latency(a, [8, 20]), [0.4, 1.0])


def test_keep_faster_keeps_dense_where_decomposed_is_not_faster():
    keep, dense = keep_faster({"a": 18, "b": 12}, TABLE)
    assert keep == {"a": 18} and dense == ["b"]  # a at rank 18: 0.9 s; b at rank 12: 1.0 s, not faster than dense
    keep, dense = keep_faster({"a": 12, "b": 8}, TABLE, min_speedup=1.5)
    assert keep == {"a": 12} and dense == ["b"]  # 1.0 / 0.6 > 1.5, 1.0 / 0.9 is not
    with pytest.raises(KeyError, match="not in the latency table"):
        keep_faster({"c": 1}, TABLE)


def test_round_ranks():
    full = {"a": 32, "b": 16, "c": 3}
    assert round_ranks({"a": 9, "b": 15, "c": 2}, full) == {"a": 16, "b": 16, "c": 3}  # never above full rank
    assert round_ranks({"a": 9, "b": 5}, full, direction="down") == {"a": 8, "b": 1}  # never below 1
    assert round_ranks({"a": 11, "b": 13}, full, 4, "nearest") == {"a": 12, "b": 12}
    with pytest.raises(ValueError):
        round_ranks({"a": 9}, full, direction="sideways")
    with pytest.raises(KeyError, match="no full rank"):
        round_ranks({"z": 9}, full)


def test_latency_costs_for_an_allocator():
    costs = latency_costs(TABLE)
    assert costs["a"]["dense_s"] == 1.0 and len(costs["a"]["rank_s"]) == 26 and len(costs["b"]["rank_s"]) == 16
    assert costs["a"]["rank_s"][11] == pytest.approx(0.6)  # rank 12
    assert np.all(np.diff(costs["a"]["rank_s"]) >= 0)
    assert network_latency({"a": 12}, costs, fixed_s=0.5) == pytest.approx(0.6 + 1.0 + 0.5)  # b dense
    assert network_latency({"a": 30, "b": 8}, costs) == pytest.approx(1.0 + 0.9)  # a beyond break-even: dense
    assert list(latency_costs(TABLE, ["b"])) == ["b"]
