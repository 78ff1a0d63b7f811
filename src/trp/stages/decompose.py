"""`trp decompose`: TSVD of a trained dense network into the low-rank network, without
fine-tuning: the data-independent basic methods (Zhang et al. 2016, channel; Jaderberg et al.
2014, spatial) at the energy rule, or any rank allocation (`--ranks`, e.g. from `trp allocate`). On
ImageNet the network may be torchvision's pretrained one (its weights file), measured on the validation split."""
from .. import models
from ..artifacts import ArtifactError, RunDirectory, read_json, record, save_decomposed, sha256_file
from ..artifacts.records import write_record
from ..data import load_prepared
from ..progress import phase
from .compress import compress, final_ranks, measure
from .inputs import ImageNet, dense_network, input_size, resolve_device, sites_of, test_loader


def read_ranks(path, sites) -> dict[str, int]:
    """{layer: rank} from a JSON file {"ranks": {layer: rank}}; layers may carry the paper's names
    (res3-1-2), each layer once under either name; every rank is an integer from 1 to the layer's full rank."""
    doc = read_json(path, "ranks file")
    ranks = doc.get("ranks") if isinstance(doc, dict) else None
    if not isinstance(ranks, dict):
        raise ArtifactError(f"{path}: expected a JSON object with a \"ranks\" mapping of layer names to ranks")
    full = {s.name: s.full_rank for s in sites}
    out, given_as = {}, {}
    for name, rank in ranks.items():
        layer = models.paper_layer_name(str(name))
        if layer not in full:
            raise ArtifactError(f"{path}: {name!r} is not a decomposable conv of this network; they are {sorted(full)}")
        if layer in given_as:
            raise ArtifactError(f"{path}: layer {layer} is given twice (as {given_as[layer]!r} and {name!r}); "
                                "give each layer once")
        given_as[layer] = name
        if type(rank) is not int or not 1 <= rank <= full[layer]:
            raise ArtifactError(f"{path}: the rank of {name} must be an integer from 1 to {full[layer]} (its full "
                                f"rank), got {rank!r}")
        out[layer] = rank
    return out


def evaluation_data(data, device, test_subset=None):
    """(a loader of the test images, the data's fingerprint): CIFAR-10's prepared test split, or an ImageNet
    folder's validation split; the first `test_subset` images (ImageNet: spread over the split)."""
    if isinstance(data, ImageNet):
        from .imagenet import validation_data

        return validation_data(data, device, test_subset)
    arrays, data_fp = load_prepared(data)
    return test_loader(arrays, device, test_subset), data_fp


def decompose_checkpoint(checkpoint, scheme, e, data, out_dir, ckpt_dir=None, rule="energy", threshold=0.05,
                         ranks_file=None, test_subset=None, device="auto", overwrite=False) -> dict:
    """`data`: CIFAR-10's prepared .npz or an ImageNet folder; `checkpoint`: a model.pt of `trp train` or
    torchvision's pretrained weights file."""
    device = resolve_device(device)
    model, rec = dense_network(checkpoint, device)
    arch, size = rec["arch"], input_size(data)
    sites = sites_of(model, arch, scheme, input_size=size)
    given = read_ranks(ranks_file, sites) if ranks_file else None
    loader, data_fp = evaluation_data(data, device, test_subset)
    settings = {"source_sha256": sha256_file(checkpoint), "arch": arch, "scheme": scheme, "e": e, "rule": rule,
                "threshold": threshold, "ranks_given": given, "test_subset": test_subset, "data_fingerprint": data_fp}
    with RunDirectory("decompose", settings, out_dir, ckpt_dir, overwrite, (checkpoint, data, ranks_file)) as run:
        with phase(f"decomposing {len(sites)} convs ({scheme}-wise)"):
            ranks, dense_layers = final_ranks(sites, scheme, e, rule, threshold, given)
            networks = compress(model, sites, scheme, ranks)
        report = {**measure(arch, networks, loader, device, input_size=size, progress=True), "ranks": ranks,
                  "dense_layers": dense_layers}
        save_decomposed(run.checkpoints / "decomposed.pt", networks["decomposed"], arch, scheme, ranks,
                        {"decompose": settings}, size)
        return write_record(run.out / "metrics.json", "decomposition", {
            "config": {"source": str(checkpoint), **settings}, **report,
            "provenance": record(settings, device, data_fp, rec.get("config", {}).get("seed"),
                                 source_sha256=settings["source_sha256"],
                                 decomposed_sha256=sha256_file(run.checkpoints / "decomposed.pt"))})
