"""A profile's run table as the renderers read it: results/<profile>/runs.json, written by the
workflow (trp.runs.RunTable.document). It names which runs each table and figure reads, by method
key, scheme or budget, and the path of each record, so no renderer takes these from a label or a
path."""
import json
from pathlib import Path

from ..artifacts import ArtifactError

SECTIONS = ("profile", "tables")  # in the run table of every profile


def read_run_table(path) -> dict:
    """The run table at `path`; a missing file, or one that is not a run table, is an ArtifactError."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: run table not found (the workflow writes it: snakemake {path})") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ArtifactError(f"{path}: not a readable run table ({e})") from None
    missing = [key for key in SECTIONS if not isinstance(doc, dict) or key not in doc]
    if missing:
        raise ArtifactError(f"{path}: not a run table (no {missing[0]!r}; trp.runs.RunTable.document writes one)")
    return doc


def section(doc: dict, name: str):
    """One section of a run table (ablation, rank_logs, cobla: a CIFAR-10 profile's)."""
    if name not in doc:
        raise ArtifactError(f"the run table of profile {doc['profile']!r} has no {name!r} (an ImageNet profile's?)")
    return doc[name]
