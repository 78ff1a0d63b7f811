"""Table 1's numbers as a flat metrics file for `dvc metrics show`: one value per row and column of
the table (ours: top-1 and conv-MAC speedup, each the mean over seeds), keyed MODEL/METHOD/COLUMN in
the table's row order, read from the table's own JSON (paper_tables/<profile>/table1.json, written
by `trp render table1`). The spread over seeds and the provenance stay in the table itself.

    python -m trp.report.table1_metrics paper_tables/cpu/table1.json results/cpu/table1_metrics.json
"""
import argparse
import json
from pathlib import Path

from ..artifacts import ArtifactError
from ..artifacts.atomic import write_json

COLUMNS = ("top1", "speedup")  # Table 1's "ours: top-1 (%)" and "ours: speedup (conv MACs)"


def flat_metrics(table: dict) -> dict[str, float]:
    """{"MODEL/METHOD/top1": ..., "MODEL/METHOD/speedup": ...} of a table1.json (model -> method -> numbers)."""
    if not isinstance(table, dict):
        raise ArtifactError("Table 1's JSON is not a mapping of models")
    out = {}
    for model, methods in table.items():
        if not isinstance(methods, dict):
            raise ArtifactError(f"Table 1's JSON: {model!r} is not a mapping of methods")
        for method, numbers in methods.items():
            for column in COLUMNS:
                value = numbers.get(column) if isinstance(numbers, dict) else None
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise ArtifactError(f"Table 1's JSON: {model}/{method} has no number {column!r}")
                out[f"{model}/{method}/{column}"] = value
    return out


def write_metrics(table_json, out) -> dict[str, float]:
    metrics = flat_metrics(json.loads(Path(table_json).read_text()))
    write_json(out, metrics)
    return metrics


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m trp.report.table1_metrics", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", help="a Table 1 JSON (paper_tables/<profile>/table1.json)")
    ap.add_argument("out", help="the flat metrics file (results/<profile>/table1_metrics.json)")
    args = ap.parse_args(argv)
    try:
        write_metrics(args.table, args.out)
    except (OSError, ValueError) as e:
        ap.exit(1, f"table1_metrics: {e}\n")


if __name__ == "__main__":
    main()
