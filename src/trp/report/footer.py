"""The provenance footer of a table or figure: what its inputs name (commits, devices, seeds, hashes)
and the commit of the code that drew it; the inputs' hashes go to a manifest file beside it."""
import json
from pathlib import Path

from ..artifacts.provenance import git_commit

RENDERED_OUTPUTS = ("results", "paper_tables")  # a renderer's outputs: writing them leaves its commit clean
HASHES = ("config_hash", "data_fingerprint", "checkpoints")  # long lists: in the manifest, not the footer


def short_commit(p: dict) -> str:
    """A provenance block's commit as 12 hex digits, "+dirty" where its tree had changes."""
    return p["commit"][:12] + ("+dirty" if p.get("dirty") else "")


def provenance_footer(metrics_list: list[dict], profile: str) -> dict:
    """The provenance of everything a table or figure is made of: the distinct git commits,
    config hashes, data fingerprints, devices, seeds and checkpoint hashes (first 16 hex digits)
    found in each input's "provenance" block, as "key: comma-separated values"; and rendered_by, the
    commit of the code that drew it (dirty only for changes outside results/ and paper_tables/)."""
    keys = ("commit", "config_hash", "data_fingerprint", "device", "seed", "checkpoints")
    seen = {k: [] for k in keys}

    def add(key, value):
        if value is not None and str(value) not in seen[key]:
            seen[key].append(str(value))

    for m in metrics_list:
        p = m.get("provenance", {})
        if p.get("commit"):
            add("commit", short_commit(p))
        for k in ("config_hash", "data_fingerprint", "device", "seed"):
            add(k, p.get(k))
        for k, v in sorted(p.items()):
            if k.endswith("_sha256") and v:
                add("checkpoints", f"{k.removesuffix('_sha256')}={v[:16]}")
    renderer = git_commit(outside=RENDERED_OUTPUTS)
    return {"profile": profile, "inputs": str(len(metrics_list)),
            **{k: ", ".join(v) if v else "n/a" for k, v in seen.items()},
            "rendered_by": short_commit(renderer) if renderer["commit"] else "n/a"}


def footer_lines(footer: dict, manifest: str) -> list[str]:
    """The footer a reader sees: profile, inputs, commits, devices, seeds and rendered_by; the
    inputs' hashes are in `manifest` (a file beside the rendering that holds the whole footer)."""
    return [f"{k}: {v}" for k, v in footer.items() if k not in HASHES] + \
        [f"config hashes, data fingerprints and checkpoint hashes: {manifest}"]


def write_manifest(out: Path, footer: dict) -> str:
    """Writes {out}.provenance.json (the whole footer); returns its name, for the footer."""
    manifest = out.with_name(f"{out.name}.provenance.json")
    manifest.write_text(json.dumps(footer, indent=1) + "\n")
    return manifest.name
