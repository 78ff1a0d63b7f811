# CIFAR-10 is prepared from a local archive when one is given, else from the official download (md5
# checked). The archive: --config data='{archive: PATH}', else the environment variable
# TRP_CIFAR_ARCHIVE, else the profile's data.archive (null in every profile: download). The path is
# not a parameter of the output: any archive with the official content gives the same bytes (the
# content is verified), so where the archive lies never marks the prepared data, or anything trained
# on it, out of date. A named archive that is missing or unreadable stops the run in one line before
# any job, whenever the prepared data still has to be made.
ARCHIVE = config["data"]["archive"] or os.environ.get("TRP_CIFAR_ARCHIVE") or None
if ARCHIVE:
    os.environ.update(TRP_CIFAR_ARCHIVE=ARCHIVE)  # optional (no envvars: entry); the job's `trp prepare-data` reads it
    check_archive(ARCHIVE, "data.archive" if config["data"]["archive"] else "TRP_CIFAR_ARCHIVE")


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
        "trp prepare-data --out {output.npz:q} --download-dir data/raw "
        "> {output.fingerprint:q} 2> {log:q}"
