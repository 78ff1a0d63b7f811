"""The command line of a renderer (`trp render NAME`): its parser and the run table it reads its runs
and records from."""
import argparse

from ..cli_parser import Parser


def renderer_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The command line of `trp render NAME`: the renderer's inputs are added to it; --profile, --out here."""
    ap = Parser(prog=f"trp render {name}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX",
                    help="where the files go (PREFIX.md, ...); they replace an earlier rendering there")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace files at PREFIX that are not a rendering "
                         "(a file the renderer reads is never replaced)")
    return ap


def add_run_table(ap: argparse.ArgumentParser) -> None:
    """--run-table: the profile's run table, which runs the renderer reads and where their records are."""
    ap.add_argument("--run-table", required=True, metavar="RUNS_JSON",
                    help="the profile's run table (results/PROFILE/runs.json, written by the workflow)")
