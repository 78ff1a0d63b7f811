"""ImageNet (Tables 2-3) on generated data: a 3-class image folder of small JPEGs and a random
ResNet-18 state_dict saved under a torchvision-style hashed name. The layout and weights checks, the
loaders, top-5, and ImageNet through the stages CIFAR-10 runs through, on the CPU, with the settings of
the imagenet profile (--profile config/imagenet.yaml): `trp train` from the pretrained network in one
process, and in two gloo processes under torchrun whose replicas stay identical through TRP's
projections; one process resumes the two-process checkpoint; a refused run directory stops every
process instead of leaving them waiting. The basic method at a TRP run's conv MACs (trp allocate, trp
decompose of the pretrained weights, trp finetune) end to end; a time-limited fine-tuning exits 75 and
resumes to the same result; under torchrun both processes stop after the same epoch."""
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
from PIL import Image

from trp import models
from trp.artifacts import DECOMPOSED, ArtifactError, load_network, read_json
from trp.artifacts.records import json_schema
from trp.cli import main
from trp.config import ConfigError, TrainConfig
from trp.data import DataError, image_folders, imagenet_loaders, load_pretrained
from trp.data.imagenet import LAYOUT
from trp.lowrank import find_sites, project_sites
from trp.stages.imagenet import check_settings, loader_benchmark
from trp.stages.inputs import profile_settings, sites_of
from trp.stages.train import EXIT_RESUMABLE
from trp.train import evaluate
from trp.train.distributed import Process, identical_across, state_digest
from trp.train.loop import out_of_time

CLASSES = ("n01440764", "n01443537", "n01484850")
SIZE = 64  # training crop of the runs here (ResNet-18 at 224 costs ~2 GFLOP an image on this CPU)
SUBSET = "layers=[layer1.0.conv1,layer1.0.conv2,layer2.0.conv1]"  # small SVDs for the multi-process runs
ROOT = Path(__file__).resolve().parents[1]
PROFILE = ["--profile", str(ROOT / "config/imagenet.yaml")]  # the paper's settings
TINY = ["device=cpu", SUBSET]


def layers(arch: str) -> list[str]:
    with torch.device("meta"):
        return [s.name for s in sites_of(models.build(arch), arch, "channel")]


def write_images(root: Path, classes=CLASSES, per_class: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{c}_{i}.JPEG", quality=90)
    return root


def save_hashed(state: dict, directory: Path, stem: str) -> Path:
    """`state` saved as torchvision names its files: <stem>-<first 8 hex of sha256>.pth."""
    tmp = directory / "weights.tmp"
    torch.save(state, tmp)
    return tmp.rename(directory / f"{stem}-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth")


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A random ResNet-18 whose projected convs have rank 4 (so the decomposition saves MACs)
    and whose head favours the 3 classes (so accuracies are not all zero)."""
    torch.manual_seed(0)
    model = models.build("resnet18")
    sites = find_sites(model, (3, 224, 224), "channel", names=layers("resnet18"))
    project_sites(sites, None, "channel", ranks={s.name: 4 for s in sites})
    with torch.no_grad():
        model.fc.bias[:len(CLASSES)] += 20
    return save_hashed(model.state_dict(), tmp_path_factory.mktemp("weights"), "resnet18")


def imagenet(image_root, command, *args) -> list[str]:
    """Arguments of a `trp` command on the generated ImageNet folder, at the imagenet profile's settings."""
    return [command, *PROFILE, "--data", str(image_root), "--workers", "0", "--image-size", str(SIZE), *args]


def torchrun(*args, timeout=240):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "trp.cli",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


# --- data -------------------------------------------------------------------------------------

def _drop_val(root):
    for p in (root / "val").rglob("*"):
        if p.is_file():
            p.unlink()
    for c in CLASSES:
        (root / "val" / c).rmdir()
    (root / "val").rmdir()


@pytest.mark.parametrize("damage, message", [
    (lambda root: None, "no such directory"),
    (_drop_val, "no val/ folder"),
    (lambda root: (root / "val" / CLASSES[0]).rename(root / "val" / "n99999999"), "different class folders"),
    (lambda root: [p.unlink() for p in (root / "train" / CLASSES[1]).iterdir()], "class folders without images"),
])
def test_malformed_layout_is_one_line_error_naming_the_layout(tmp_path, damage, message):
    root = tmp_path / "data"
    if message != "no such directory":
        write_images(root, per_class=1)
    damage(root)
    with pytest.raises(DataError) as e:
        image_folders(root)
    assert message in str(e.value) and LAYOUT in str(e.value) and "\n" not in str(e.value)


def test_nothing_in_the_folder_is_unpickled(tmp_path):
    """A pickle named like an image is only ever opened by PIL (a one-line error naming it, from a
    worker process too); files that are not images by name are not read at all."""
    root = write_images(tmp_path / "data", per_class=1)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("evil.JPEG", "evil.pkl", "evil.pth"):
        (root / "train" / CLASSES[0] / name).write_bytes(pickle.dumps(Payload()))
    folders = image_folders(root, SIZE)
    assert len(folders.train) == len(CLASSES) + 1  # the .pkl and .pth are not samples
    train, _ = imagenet_loaders(folders, batch_size=1, workers=1, device="cpu", seed=0)
    with pytest.raises(DataError) as e:
        list(train)
    assert "evil.JPEG: not a readable image" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()


def test_loaders_normalise_shard_and_seed_each_image(image_root):
    folders = image_folders(image_root, SIZE)
    assert folders.classes == list(CLASSES) and folders.describe()["train_images"] == 12

    def epoch(workers, epoch_index=0, rank=0, world_size=1):
        train, _ = imagenet_loaders(folders, 2, workers, "cpu", seed=3, rank=rank, world_size=world_size)
        train.set_epoch(epoch_index)
        return list(train)

    batches = epoch(0)
    assert len(batches) == 6 and batches[0][0].shape == (2, 3, SIZE, SIZE) and batches[0][0].dtype == torch.float32
    x = torch.cat([b[0] for b in batches])
    assert -2.2 < x.min() < -1.5 and 2.0 < x.max() < 2.7  # (pixel/255 - mean) / std of random colours
    # the same crops and flips whichever worker loads an image; another epoch, another order and crops
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, epoch(1)))
    assert not torch.equal(x, torch.cat([b[0] for b in epoch(0, epoch_index=1)]))
    # two processes: disjoint training shards; validation shards cover the split exactly once
    shards = [imagenet_loaders(folders, 2, 0, "cpu", seed=3, rank=r, world_size=2) for r in (0, 1)]
    for train, _ in shards:
        train.set_epoch(0)
    keys = [[k for k in train.loader.sampler] for train, _ in shards]
    assert len(keys[0]) == len(keys[1]) == 6 and not set(keys[0]) & set(keys[1])
    val_labels = sorted(y for _, val in shards for _, ys in val for y in ys.tolist())
    assert val_labels == sorted(folders.val.targets)
    # the evaluation transform is deterministic: resize to 73 (= 64 * 256 / 224), centre crop 64
    assert torch.equal(next(iter(shards[0][1]))[0], next(iter(shards[0][1]))[0])


def test_loader_workers_start_from_a_fork_server_not_the_training_process(image_root):
    """A worker forked from a process running threads (gloo's, queue feeders) can deadlock."""
    train, val = imagenet_loaders(image_folders(image_root, SIZE), 2, 1, "cpu", seed=0)
    assert {train.loader.multiprocessing_context.get_start_method(),
            val.loader.multiprocessing_context.get_start_method()} == {"forkserver"}


def test_loader_benchmark_reports_throughput_and_where_time_goes(image_root):
    b = loader_benchmark(image_root, workers=0, batch_size=2, batches=3, image_size=SIZE)
    assert b["images"] == 6 and b["images_per_s"] > 0 and b["decode_ms"] > 0 and b["transform_ms"] > 0


# --- weights ----------------------------------------------------------------------------------

def test_weights_are_checked_by_their_hash_before_loading(weights, tmp_path):
    model, info = load_pretrained("resnet18", weights)
    assert info["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert info["sha256"].startswith(weights.stem.split("-")[1])
    assert not info["torchvision_file"] and info["published"] is None
    assert torch.equal(model.fc.bias, torch.load(weights, weights_only=True)["fc.bias"])

    wrong = tmp_path / "resnet18-00000000.pth"
    wrong.write_bytes(weights.read_bytes())
    unnamed = tmp_path / "resnet18.pth"
    unnamed.write_bytes(weights.read_bytes())
    for path, message in [(tmp_path / "missing-f37072fd.pth", "weights not found"),
                          (wrong, "not 00000000 as its name says"), (unnamed, "name the file as torchvision does")]:
        with pytest.raises(ArtifactError, match=message):
            load_pretrained("resnet18", path)
    with pytest.raises(ArtifactError, match="do not fit"):
        load_pretrained("resnet50", weights)
    not_weights = save_hashed({"a": [1, 2]}, tmp_path, "resnet18")
    with pytest.raises(ArtifactError, match="not a state_dict"):
        load_pretrained("resnet18", not_weights)


def test_default_weights_are_torchvision_cache_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ArtifactError) as e:
        load_pretrained("resnet50")
    assert f"{tmp_path}/hub/checkpoints/resnet50-0676ba61.pth" in str(e.value)
    assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in str(e.value)


# --- settings ---------------------------------------------------------------------------------

def test_the_imagenet_profile_gives_the_papers_settings():
    """Sec. 4.2 and 4.4: 10 epochs at lr 1e-4, constant, SGD with momentum 0.9 and weight decay 1e-4, e = 0.005;
    256 images a step over all processes; lambda (3e-4 for +Nu) only where a run sets it. A fine-tuning (the
    basic methods) takes the same schedule."""
    profile, values = profile_settings(ROOT / "config/imagenet.yaml")
    cfg = TrainConfig.from_dict({**values, "model": "resnet18"})
    assert profile["dataset"] == "imagenet" and profile["trp"]["lam"] == 3e-4
    assert (cfg.model, cfg.method, cfg.epochs, cfg.lr, cfg.e, cfg.m, cfg.lam, cfg.milestones, cfg.momentum,
            cfg.weight_decay, cfg.batch_size) == ("resnet18", "trp", 10, 1e-4, 0.005, 20, 0.0, [], 0.9, 1e-4, 256)
    assert profile_settings(ROOT / "config/imagenet.yaml", finetuning=True)[1] == profile["train"]
    for extra, message in [({"model": "resnet20"}, "resnet18 or resnet50, not 'resnet20'"),
                           ({"target_speedup": 2}, "budgeted TRP")]:
        with pytest.raises(ConfigError, match=message):
            check_settings(TrainConfig.from_dict({**values, "model": "resnet18", **extra}), 1, SIZE)


def test_projected_convs_are_the_papers():
    """ResNet-18: its 16 3x3 convs (no 1x1 shortcut convs). ResNet-50: every 1x1 and 3x3 conv, the
    4 shortcut 1x1 convs included (48 + 4); never the stem."""
    with torch.device("meta"):
        r18 = models.build("resnet18")
    l18, l50 = layers("resnet18"), layers("resnet50")
    assert len(l18) == 16 and all(dict(r18.named_modules())[n].kernel_size == (3, 3) for n in l18)
    assert len(l50) == 52 and sum("downsample" in n for n in l50) == 4 and "conv1" not in l18 + l50


def test_evaluate_adds_top5_and_sums_over_processes():
    torch.manual_seed(0)
    x, y = torch.randn(40, 8), torch.randint(0, 10, (40,))
    model = torch.nn.Linear(8, 10)
    loader = [(x[:25], y[:25]), (x[25:], y[25:])]
    alone = evaluate(model, loader, torch.device("cpu"))
    out = model(x)
    assert alone["top5"] == pytest.approx(100 * (out.topk(5, 1).indices == y[:, None]).any(1).float().mean().item())
    assert alone["top1"] == pytest.approx(100 * (out.argmax(1) == y).float().mean().item())
    doubled = evaluate(model, loader, torch.device("cpu"), all_reduce=lambda t: t.mul_(2))  # two equal shards
    assert doubled == pytest.approx(alone)
    assert "top5" not in evaluate(torch.nn.Linear(8, 3), [(x, y % 3)], torch.device("cpu"))


def test_processes_stop_together_when_any_would_overrun():
    """out_of_time: a process alone stops when the next epoch would end after the deadline; among
    several (all_reduce sums their votes), every one stops when any one would."""
    cpu, now = torch.device("cpu"), time.monotonic()
    assert out_of_time(now + 10, 60.0, cpu) and not out_of_time(now + 100, 60.0, cpu)

    def another_is_late(votes):  # the other process votes to stop
        votes += 1

    def another_is_on_time(votes):
        votes += 0

    assert out_of_time(now + 100, 60.0, cpu, another_is_late)  # on time here, but stops with the other
    assert not out_of_time(now + 100, 60.0, cpu, another_is_on_time)
    assert out_of_time(now + 10, 60.0, cpu, another_is_on_time)


def test_state_digest_sees_any_change_of_weights_or_ranks():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    base = state_digest(model, {"0": 2})
    assert identical_across(model, Process(), {"0": 2}) == [base.hex()]
    assert state_digest(model, {"0": 3}) != base
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = torch.nextafter(model[0].weight[0, 0, 0, 0], torch.tensor(2.0))
    assert state_digest(model, {"0": 2}) != base
    model[1].running_mean += 1
    assert state_digest(model, {"0": 2}) != state_digest(model[:1], {"0": 2})


# --- trp train ---------------------------------------------------------------------------------

def valid(path, kind):
    doc = read_json(path)
    assert doc["kind"] == kind and not list(jsonschema.Draft202012Validator(json_schema(kind)).iter_errors(doc))
    return doc


def test_one_process_training_from_the_pretrained_network(image_root, weights, tmp_path):
    out = tmp_path / "run"
    assert main(imagenet(image_root, "train", "--weights", str(weights), "--no-progress", "--out", str(out),
                         "--set", "model=resnet18", "scheme=channel", "batch_size=2", "max_steps=1", "m=1",
                         "device=cpu")) == 0
    m = valid(out / "metrics.json", "training")
    assert set(m["accuracy"]) == set(m["top5"]) == {"pretrained", "dense", "projected", "decomposed"}
    assert (m["config"]["epochs"], m["config"]["lr"], m["config"]["e"]) == (10, 1e-4, 0.005)  # the profile's
    assert m["training"]["steps"] == 1 and m["training"]["projections"] == 1
    assert m["layers"] == layers("resnet18")
    assert m["ranks"] and m["speedup"]["conv"] > 1 and m["max_output_difference"] < 1e-3
    assert m["weights"]["sha256"] == m["provenance"]["weights_sha256"]
    assert m["data"]["classes"] == 3 and not m["data"]["head_matches_labels"]
    decomposed, rec = load_network(out / "decomposed.pt", expect=DECOMPOSED)
    assert rec["ranks"] == m["ranks"] and rec["arch"] == "resnet18"
    log = [json.loads(line) for line in (out / "ranklog.jsonl").read_text().splitlines()]
    assert len(log) == len(m["layers"]) and all(r["step"] == 0 for r in log)


@pytest.fixture(scope="module")
def two_process_run(image_root, weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    args = imagenet(image_root, "train", "--weights", str(weights), "--no-progress", "--out", str(out), "--set",
                    "model=resnet18", "scheme=channel", "batch_size=4", "max_steps=2", "m=1", *TINY)
    args[args.index("--workers") + 1] = "1"
    done = torchrun(*args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, args, read_json(out / "metrics.json")


def test_two_processes_keep_identical_replicas_through_projections(two_process_run):
    out, _, m = two_process_run
    assert m["distributed"]["world_size"] == 2 and m["distributed"]["batch_per_process"] == 2
    digests = m["distributed"]["state_digests"]  # weights, BatchNorm statistics and projection ranks
    assert len(digests) == 2 and digests[0] == digests[1]
    assert m["training"]["steps"] == 2 and m["training"]["projections"] == 2
    log = [json.loads(line) for line in (out / "ranklog.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 0, 0, 1, 1, 1]  # written by rank 0 alone
    assert m["training"]["history"][0]["images_per_s"] > 0


def test_one_process_resumes_the_two_process_checkpoint(two_process_run):
    """last.pt is the network's own state (no DDP prefix): one process resumes the finished
    two-process run and gets its weights, and evaluating the whole split in one process gives the
    two processes' summed counts."""
    out, args, m = two_process_run
    assert main(args) == 0
    again = read_json(out / "metrics.json")
    assert again["distributed"]["state_digests"] == m["distributed"]["state_digests"][:1]
    assert again["training"]["history"] == m["training"]["history"]
    assert again["accuracy"] == m["accuracy"] and again["top5"] == m["top5"] and 0 < m["accuracy"]["pretrained"] < 100


def test_refused_run_directory_stops_every_process(two_process_run):
    """Rank 0 finds another run's outputs; it and the other process exit with the one-line error
    (no process waits forever at a barrier)."""
    _, args, _ = two_process_run
    done = torchrun(*args, "seed=1", timeout=120)
    # both processes write to the same stderr, so their lines may interleave
    assert done.returncode != 0 and done.stderr.count("trp train: error: ") == 2, done.stderr[-3000:]
    assert "holds this kind of run with other settings (config.seed: 0 -> 1)" in done.stderr
    assert "rank 0 could not take the run directory" in done.stderr and "src/trp/" not in done.stderr  # no trp traceback


# --- the basic methods: trp allocate, trp decompose, trp finetune ----------------------------------

@pytest.fixture(scope="module")
def trp_run(image_root, weights, tmp_path_factory):
    """A one-process TRP run on SUBSET's layers: its conv MACs are a basic method's budget."""
    out = tmp_path_factory.mktemp("trp")
    assert main(imagenet(image_root, "train", "--weights", str(weights), "--no-progress", "--out", str(out), "--set",
                         "model=resnet18", "batch_size=4", "max_steps=1", "m=1", *TINY)) == 0
    return out / "metrics.json"


@pytest.fixture(scope="module")
def basic_tsvd(trp_run, image_root, weights, tmp_path_factory):
    """The basic method at the TRP run's conv MACs: the energy rule's ranks for them on the pretrained weights
    (trp allocate), that TSVD of the pretrained network measured on the validation split (trp decompose)."""
    d = tmp_path_factory.mktemp("basic")
    assert main(["allocate", "--checkpoint", str(weights), "--scheme", "channel", "--method", "energy",
                 "--budget-from", str(trp_run), "--out", str(d / "ranks.json")]) == 0
    assert main(imagenet(image_root, "decompose", "--checkpoint", str(weights), "--scheme", "channel", "--ranks",
                         str(d / "ranks.json"), "--device", "cpu", "--out", str(d / "tsvd"))) == 0
    return d


def network_state(path):
    return torch.load(path, weights_only=True)["state_dict"]


def history(m):
    """The training history without its timings."""
    return [{k: v for k, v in h.items() if k not in ("seconds", "images_per_s")} for h in m["training"]["history"]]


def finetune_args(image_root, basic_tsvd, out, *extra):
    return imagenet(image_root, "finetune", "--checkpoint", str(basic_tsvd / "tsvd" / "decomposed.pt"), "--no-progress",
                    "--out", str(out), *extra, "--set", "batch_size=4", "epochs=2", "device=cpu")


def test_basic_method_at_a_trp_runs_macs_through_the_stages(trp_run, basic_tsvd):
    """ResNet-18's paper convs all get an energy-rule rank (16 layers, not the 3 of SUBSET the TRP run
    projected), the conv MACs within the TRP run's; the decomposition record measures the pretrained
    network ("dense") and its TSVD on the validation split."""
    trp = read_json(trp_run)
    allocation = read_json(basic_tsvd / "ranks.json")
    assert allocation["method"] == "energy" and set(allocation["ranks"]) | set(allocation["dense_layers"]) == \
        set(layers("resnet18"))
    assert allocation["macs"] <= trp["cost"]["decomposed"]["conv_macs"]
    m = valid(basic_tsvd / "tsvd" / "metrics.json", "decomposition")
    assert m["ranks"] == allocation["ranks"] and m["speedup"]["conv"] >= trp["speedup"]["conv"] * (1 - 1e-9)
    assert m["accuracy"]["dense"] == trp["accuracy"]["pretrained"] and set(m["top5"]) == set(m["accuracy"])


def test_fine_tuning_resumes_after_a_time_limit_to_the_same_result(image_root, basic_tsvd, tmp_path, capsys):
    """`trp finetune` on ImageNet (2 epochs at the profile's lr, no regulariser); with a time limit it stops after
    epoch 1 (exit 75, checkpointed); the same command without the limit resumes and ends with the very network and
    numbers of the uninterrupted run."""
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    assert main(finetune_args(image_root, basic_tsvd, ref)) == 0
    assert main(finetune_args(image_root, basic_tsvd, cut, "--time-limit", "1e-6")) == EXIT_RESUMABLE
    assert "trp finetune: time limit reached after epoch 1" in capsys.readouterr().err
    assert (cut / "last.pt").exists() and not (cut / "metrics.json").exists() and not (cut / "finetuned.pt").exists()
    assert main(finetune_args(image_root, basic_tsvd, cut)) == 0
    m, resumed = valid(ref / "metrics.json", "finetuning"), read_json(cut / "metrics.json")
    tsvd = read_json(basic_tsvd / "tsvd" / "metrics.json")
    assert set(m["accuracy"]) == set(m["top5"]) == {"decomposed", "finetuned"}
    assert m["accuracy"]["decomposed"] == tsvd["accuracy"]["decomposed"] and m["ranks"] == tsvd["ranks"]
    assert (m["config"]["method"], m["config"]["lam"], m["config"]["lr"], m["training"]["epochs"]) == \
        ("baseline", 0.0, 1e-4, 2)
    assert m["speedup"] == tsvd["speedup"] and m["distributed"]["world_size"] == 1
    a, b = network_state(ref / "finetuned.pt"), network_state(cut / "finetuned.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert history(resumed) == history(m) and resumed["accuracy"] == m["accuracy"] and resumed["top5"] == m["top5"]


def test_two_processes_stop_after_the_same_epoch(image_root, basic_tsvd, tmp_path):
    """Under torchrun (2 gloo processes) a time-limited fine-tuning stops both processes after epoch 1,
    checkpointed by rank 0; the first to exit exits 75 (either rank: torchrun then ends the other, still
    shutting down, and itself exits non-zero); neither goes on into epoch 2, where it would wait for the other
    forever. One process then resumes it to the end."""
    out = tmp_path / "ddp"
    done = torchrun(*finetune_args(image_root, basic_tsvd, out, "--time-limit", "1e-6"))
    assert done.returncode != 0, done.stderr[-3000:]
    codes = [int(c) for c in re.findall(r"rank\s+: [01] \(local_rank: [01]\)\s+exitcode\s+: (-?\d+) ", done.stderr)]
    assert 75 in codes and set(codes) <= {75, -15}, done.stderr[-3000:]  # 75, or ended by torchrun (SIGTERM)
    assert done.stderr.count("time limit reached after epoch 1") == 1  # said by rank 0 alone
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["state"]["epoch"] == 1 and not (out / "metrics.json").exists()
    assert main(finetune_args(image_root, basic_tsvd, out)) == 0
    m = read_json(out / "metrics.json")
    assert m["training"]["epochs"] == 2 and m["training"]["history"][0] == state["state"]["history"][0]


def test_cli_bad_input_is_one_line(image_root, weights, tmp_path, capsys):
    out = ["--out", str(tmp_path / "run"), "--no-progress"]
    train = ["train", *out, "--weights", str(weights)]
    for argv, message in [
            ([*imagenet(tmp_path / "none", *train), "--set", "model=resnet18"], "no such directory"),
            ([*imagenet(image_root, "train", *out, "--weights", str(tmp_path / "x-12345678.pth")), "--set",
              "model=resnet18"], "not found"),
            ([*imagenet(image_root, *train), "--set", "model=resnet20"], "fine-tune resnet18 or resnet50"),
            ([*imagenet(image_root, *train)], "fine-tune resnet18 or resnet50, not 'resnet20'"),  # no CIFAR defaults
            ([*imagenet(image_root, *train), "--set", "model=resnet18", "batch_size=64"],
             "12 training images are fewer than one step"),
            ([*train, "--data", str(image_root), "--workers", "0"], "--weights, --workers apply to ImageNet data"),
            ([*imagenet(image_root, *train), "--profile", str(tmp_path / "none.yaml")], "none.yaml cannot be read"),
            (["allocate", "--checkpoint", str(weights), "--scheme", "channel", "--method", "energy",
              "--target-speedup", "1000", "--out", str(tmp_path / "r.json")], "budget infeasible")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        line = err.splitlines()[-1]  # after any progress line
        assert line.startswith(f"trp {argv[0]}: error: ") and message in line and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
