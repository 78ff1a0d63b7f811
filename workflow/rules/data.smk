rule prepare_data:
    output:
        npz=DATA,
        fingerprint="data/prepared/cifar10.json",
    params:
        archive=["--archive", config["data"]["archive"]] if config["data"]["archive"] else [],
    conda:
        ENV
    log:
        "data/prepared/prepare_data.log",
    benchmark:
        "data/prepared/prepare_data.benchmark.tsv"
    shell:
        "trp prepare-data {params.archive:q} --out {output.npz:q} --download-dir data/raw "
        "> {output.fingerprint:q} 2> {log:q}"
