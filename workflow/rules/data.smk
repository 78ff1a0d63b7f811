# CIFAR-10 is prepared from a local archive when one is given, else from the official download (md5
# checked). The archive: --config data='{archive: PATH}', else the environment variable
# TRP_CIFAR_ARCHIVE, else the profile's data.archive (null in every profile: download). The path is
# not a parameter of the output: any archive with the official content gives the same bytes (the
# content is verified), so where the archive lies never marks the prepared data, or anything trained
# on it, out of date. A named archive that is missing or unreadable stops the run in one line before
# any job, whenever the prepared data still has to be made.
import os
import sys

ARCHIVE = config["data"]["archive"] or os.environ.get("TRP_CIFAR_ARCHIVE") or None
ARCHIVE_ARGS = ["--archive", ARCHIVE] if ARCHIVE else []


def archive_problem(path):
    """Why `path` cannot be read as the CIFAR-10 archive, or None."""
    if not os.path.exists(path):
        return "does not exist"
    if not os.path.isfile(path):
        return "is not a file"
    if not os.access(path, os.R_OK):
        return "is not readable"
    return None


if ARCHIVE and not os.path.exists(DATA) and (problem := archive_problem(ARCHIVE)):
    sys.exit(f"CIFAR-10 archive {ARCHIVE} {problem} (given by "
             f"{'data.archive' if config['data']['archive'] else 'TRP_CIFAR_ARCHIVE'}): give a readable "
             "cifar-10-python.tar.gz, or unset it to download the official archive")


rule prepare_data:
    output:
        npz=DATA,
        fingerprint="data/prepared/cifar10.json",
    conda:
        ENV
    log:
        "data/prepared/prepare_data.log",
    benchmark:
        "data/prepared/prepare_data.benchmark.tsv"
    shell:
        "trp prepare-data {ARCHIVE_ARGS:q} --out {output.npz:q} --download-dir data/raw "
        "> {output.fingerprint:q} 2> {log:q}"
