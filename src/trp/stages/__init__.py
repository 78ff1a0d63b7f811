"""One module per `trp` subcommand. Each stage reads its inputs (validated), runs the library
below it, and writes its outputs through trp.artifacts; only stages and report do file I/O.

prepare    trp prepare-data   CIFAR-10 archive -> verified .npz
train      trp train          training run -> model.pt, decomposed.pt, metrics.json, ranklog.jsonl
compress   (train, decompose) final ranks, decomposition and measure(): every Table-1 number
decompose  trp decompose      TSVD of a trained network (basic methods, allocations)
finetune   trp finetune       fine-tuning of a decomposed network
allocate   trp allocate       COBLA / MILP / energy rank allocation -> ranks.json
evaluate   trp evaluate       test accuracy of a checkpoint
latency    trp latency        measured inference time (Table 4)
imagenet   (train, decompose, finetune) ImageNet: pretrained ResNet-18/50, one process or torchrun
"""
