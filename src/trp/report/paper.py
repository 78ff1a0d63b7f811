"""The paper's published numbers (Xu et al., "Trained Rank Pruning", IJCAI-20), copied from the
paper text (/work/shared/papers/trp-ijcai20.txt). The one place the project reads them from.

Method keys used across the project: "baseline", "TRP1" (channel-wise, Zhang et al. 2016 form),
"TRP1+Nu", "TRP2" (spatial-wise, Jaderberg et al. 2014 form), "TRP2+Nu", "Zhang2016" (basic
channel-wise decomposition, fine-tuned), "Jaderberg2014" (basic spatial-wise, fine-tuned).
Our equal-MAC rows add matched_key(basic, trp) (the basic method at the conv MACs that TRP run
reached) and finetuned_key(trp) (the TRP network fine-tuned like the basic methods). Other keys
name the pruning methods the paper compares against, and the rank allocators of our COBLA
comparison. Renderers work on keys and print a key's label only when writing a table.
"""

# Table 1's two decomposition forms: the TRP key, its scheme and the basic method of that form.
FORMS = {"TRP1": {"scheme": "channel", "basic": "Zhang2016"}, "TRP2": {"scheme": "spatial", "basic": "Jaderberg2014"}}


def trp_keys(form: str) -> tuple[str, str]:
    """The Table-1 TRP rows of one form: TRP and TRP+Nu."""
    return form, f"{form}+Nu"


def matched_key(basic: str, trp: str) -> str:
    """The basic method at the conv MACs that the TRP run `trp` reached."""
    return f"{basic}@{trp}"


def basic_keys(form: str) -> list[str]:
    """The Table-1 rows of a form's basic method: at the paper's speedup, then at each TRP run's MACs."""
    basic = FORMS[form]["basic"]
    return [basic, *(matched_key(basic, trp) for trp in trp_keys(form))]


def finetuned_key(trp: str) -> str:
    """The TRP network followed by the basic methods' fine-tuning."""
    return f"{trp}+FT"


# How each method key is printed: the paper's labels, our equal-MAC rows, our COBLA comparison's methods.
PAPER_LABELS = {
    "baseline": "baseline", "TRP1": "TRP1", "TRP1+Nu": "TRP1+Nu", "TRP2": "TRP2", "TRP2+Nu": "TRP2+Nu",
    "Zhang2016": "[Zhang et al., 2016]", "Jaderberg2014": "[Jaderberg et al., 2014]",
    "Zhang2016-Guo2018": "[Zhang et al., 2016] (data-driven, impl. of [Guo et al., 2018])",
    "He2017": "[He et al., 2017]", "Li2016": "[Li et al., 2016]", "Luo2017": "[Luo et al., 2017]",
    "Luo2018": "[Luo et al., 2018]", "Zhou2019": "[Zhou et al., 2019]",
}
METHOD_LABELS = {
    **PAPER_LABELS,
    **{matched_key(f["basic"], trp): f"{PAPER_LABELS[f['basic']]} at {trp}'s MACs"
       for form, f in FORMS.items() for trp in trp_keys(form)},
    **{finetuned_key(trp): f"{trp} + fine-tuning" for form in FORMS for trp in trp_keys(form)},
    "energy": "energy rule", "sqp": "COBLA (SQP)", "milp": "MILP surrogate", "budgeted_trp": "budgeted TRP",
}
MODEL_LABELS = {"resnet20": "R-20", "resnet56": "R-56", "resnet18": "ResNet-18", "resnet50": "ResNet-50"}


def method_label(key: str) -> str:
    return METHOD_LABELS.get(key, key)


def model_label(key: str) -> str:
    return MODEL_LABELS.get(key, key)


def _rows(fields, rows):
    return [dict(zip(fields, r)) for r in rows]


# Table 1: CIFAR-10, top-1 (%) and speedup (x, FLOPs ratio).
TABLE1 = _rows(("model", "method", "top1", "speedup"), [
    ("resnet20", "baseline", 91.74, 1.00),
    ("resnet20", "TRP1", 90.12, 1.97),
    ("resnet20", "TRP1+Nu", 90.50, 2.17),
    ("resnet20", "Zhang2016", 88.13, 1.41),
    ("resnet20", "TRP2", 90.13, 2.66),
    ("resnet20", "TRP2+Nu", 90.62, 2.84),
    ("resnet20", "Jaderberg2014", 89.49, 1.66),
    ("resnet56", "baseline", 93.14, 1.00),
    ("resnet56", "TRP1", 92.77, 2.31),
    ("resnet56", "TRP1+Nu", 91.85, 4.48),
    ("resnet56", "Zhang2016", 91.56, 2.10),
    ("resnet56", "TRP2", 92.63, 2.43),
    ("resnet56", "TRP2+Nu", 91.62, 4.51),
    ("resnet56", "Jaderberg2014", 91.59, 2.10),
    ("resnet56", "He2017", 91.80, 2.00),
    ("resnet56", "Li2016", 91.60, 2.00),
])

# Sec. 4.2: CIFAR-10 networks train 164 epochs (lr 0.1, divided by 10 at epochs 82 and 122); Table 1's
# accuracies are of that schedule.
CIFAR_EPOCHS = 164

# Table 2: ResNet-18 on ImageNet; None where the paper prints "-".
TABLE2 = _rows(("model", "method", "top1", "top5", "speedup"), [
    ("resnet18", "baseline", 69.10, 88.94, 1.00),
    ("resnet18", "TRP1", 65.46, 86.48, 1.81),
    ("resnet18", "TRP1+Nu", 65.39, 86.37, 2.23),
    ("resnet18", "Zhang2016-Guo2018", None, 83.69, 1.39),
    ("resnet18", "Zhang2016", 63.10, 84.44, 1.41),
    ("resnet18", "TRP2", 65.51, 86.74, 2.60),
    ("resnet18", "TRP2+Nu", 65.34, 86.61, 3.18),
    ("resnet18", "Jaderberg2014", 62.80, 83.72, 2.00),
])

# Table 3: ResNet-50 on ImageNet, as printed (speedups without "x" from He2017 on). Its two TRP1+Nu
# rows differ in a setting the paper does not state (Sec. 4.4 gives e = 0.005 and lambda = 3e-4 for
# both; it quotes the 1.80x row, and "2.23x" beside He et al., a speedup no row of Table 3 has).
TABLE3 = _rows(("model", "method", "top1", "top5", "speedup"), [
    ("resnet50", "baseline", 75.90, 92.70, 1.00),
    ("resnet50", "TRP1+Nu", 72.69, 91.41, 2.30),
    ("resnet50", "TRP1+Nu", 74.06, 92.07, 1.80),
    ("resnet50", "Zhang2016", 71.80, 90.2, 1.50),
    ("resnet50", "He2017", None, 90.80, 2.00),
    ("resnet50", "Luo2017", 72.04, 90.67, 1.58),
    ("resnet50", "Luo2018", 72.03, 90.99, 2.26),
    ("resnet50", "Zhou2019", 71.50, 90.20, 2.30),
])

# Table 4 (Sec. 4.7): inference time per image of ResNet-18, ms; batch size not stated.
TABLE4 = {
    "model": "resnet18", "gpu": "NVIDIA GTX 1080 Ti", "cpu": "Intel Xeon E5-2630",
    "rows": _rows(("method", "gpu_ms", "cpu_ms"), [
        ("baseline", 0.45, 118.02),
        ("TRP1+Nu", 0.33, 64.75),  # channel
        ("TRP2+Nu", 0.31, 49.88),  # spatial
    ]),
}

# Sec. 4.5 / Fig. 2: ResNet-20, layer res3-1-2, channel-wise TRP, 40 TSVDs with period m = 20
# (800 iterations) at e = 0.05; observed max_t mG/||W^t||_F ~ 0.092 < sqrt(e) ~ 0.223 (Eq. 12).
FIG2 = {"model": "resnet20", "layer": "res3-1-2", "scheme": "channel", "e": 0.05, "m": 20, "projections": 40,
        "max_bound": 0.092, "sqrt_e": 0.223}


def table1(model: str, method: str) -> dict | None:
    """The Table 1 row for (model, method), or None if the paper has none."""
    return next((r for r in TABLE1 if r["model"] == model and r["method"] == method), None)


# Tables 2 and 3 by model, and the paper's table name of each.
IMAGENET_TABLES = {"resnet18": ("Table 2", TABLE2), "resnet50": ("Table 3", TABLE3)}


def imagenet_row(model: str, method: str) -> dict | None:
    """The first Table 2 / Table 3 row for (model, method), or None if the paper has none."""
    rows = IMAGENET_TABLES.get(model, (None, []))[1]
    return next((r for r in rows if r["method"] == method), None)
