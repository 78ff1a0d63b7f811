"""Reading a rank log (JSON lines, trp.artifacts.ranklog) for the renderers."""
import json
from pathlib import Path

from ..artifacts import ArtifactError

RANKLOG_KEYS = ("layer", "projection", "rank_after", "sqrt_e")  # in every record of a rank log
# what the renderers compute with, where a record has it: a string, an integer, a number
FIELDS = {"layer": str, "projection": int, "rank_after": int, "rank_before": int, "sqrt_e": float,
          "displacement": float, "tail_ratio": float, "step_bound": float}
WHAT = {str: "a string", int: "an integer", float: "a number"}


def read_rank_log(path) -> list[dict]:
    """The records of a rank log; a missing file, or a line that is not a JSON object with
    RANKLOG_KEYS (garbage, a half-written last line), is an ArtifactError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: rank log not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not a readable rank log ({e})") from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            where = f"{path}: line {number} is not a rank log record"
            records.append(_typed(_record(_json_or_none(line), RANKLOG_KEYS, where), where))
    return records


def _typed(rec: dict, where: str) -> dict:
    """`rec` if each of FIELDS it has is of its type (a bool is no integer); else an ArtifactError."""
    for key, kind in FIELDS.items():
        value = rec.get(key)
        fits = isinstance(value, str) if kind is str else type(value) is int or kind is float and type(value) is float
        if key in rec and not fits:
            raise ArtifactError(f"{where} ({key} {value!r} is not {WHAT[kind]})")
    return rec


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _record(doc, keys, where: str) -> dict:
    """`doc` if it is a JSON object holding `keys`; else an ArtifactError starting with `where`."""
    if not isinstance(doc, dict):
        raise ArtifactError(f"{where} (not a JSON object)")
    missing = [k for k in keys if k not in doc]
    if missing:
        raise ArtifactError(f"{where} (no {missing[0]!r})")
    return doc
