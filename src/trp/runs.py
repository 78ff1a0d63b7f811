"""The run table of a profile, CIFAR-10 or ImageNet: every run the profile makes, by name, with what
it is, and which run stands for each row of each table and figure. Built from a profile's settings
alone (trp.profile.load), so the workflow, the renderers and the publishing scripts read the same
table, and a test can build one without Snakemake.

    from trp import profile, runs
    table = runs.RunTable(profile.load("config/cpu.yaml"))
    table.tables["resnet20"]["Zhang2016@TRP1"]       # 'basic-channel-energy-TRP1'
    table.record("resnet20", "baseline", 0)          # 'results/cpu/runs/resnet20/baseline/s0/metrics.json'

Both datasets name their runs alike: a TRP run `trp-{scheme}-e{e}-lam{lam}`, a basic method
`basic-{scheme}-energy-{budget}` (a Table-1 TRP key or xN); an ImageNet profile's basic methods take
the TSVD of the pretrained network (the run `pretrained`), a CIFAR-10 profile's that of `baseline`.

Names are human-readable (built by the formatters below) but never parsed: whatever needs a run's
settings, source or budget reads it from `runs[name]`. `python -m trp.runs PROFILE.yaml` prints the
table as JSON (RunTable.document: each model's table, model -> method key -> run -> seed -> record
path, and the records of every other table and figure), as the workflow writes it to
results/<profile>/runs.json for the renderers to read. No torch import: Snakemake builds the table
while it parses.
"""
import json
import sys
from dataclasses import dataclass

from .report import paper


class RunTableError(ValueError):
    pass


@dataclass(frozen=True)
class Training:
    """A training (TrainConfig overrides on top of the profile's train: block): from scratch (trp train), or
    on ImageNet from the pretrained network (trp train under torchrun)."""

    settings: dict
    budget: str | float | None = None  # budgeted TRP: a run's name (the conv MACs it reached) or a speedup


@dataclass(frozen=True)
class Pretrained:
    """torchvision's pretrained network of an ImageNet profile: the tables' Baseline row, the starting point
    of its trainings and the network its basic methods decompose; no job of its own."""


@dataclass(frozen=True)
class Allocation:
    """Per-layer ranks of the source network under a conv-MAC budget (trp allocate)."""

    method: str  # energy (the energy rule tuned to the budget) | sqp | milp
    budget: str | float  # a run's name (the conv MACs it reached, same model and seed) or a speedup


@dataclass(frozen=True)
class Decomposition:
    """TSVD of a training's model.pt (on ImageNet, of the pretrained weights) at allocated ranks (trp allocate,
    trp decompose --ranks), then fine-tuning (trp finetune) under the same name."""

    source: str  # the name of a Training (or the Pretrained)
    scheme: str
    allocation: Allocation


@dataclass(frozen=True)
class Finetuning:
    """Fine-tuning (trp finetune) of a training's own decomposed.pt, with the schedule of the basic methods."""

    source: str  # the name of a Training


BASIC = {form["basic"]: form["scheme"] for form in paper.FORMS.values()}  # a basic method's key -> its scheme
# BASIC@TRP (a basic method at the conv MACs a TRP run reached) -> (scheme, the TRP key)
MATCHED = {paper.matched_key(form["basic"], key): (form["scheme"], key) for name, form in paper.FORMS.items()
           for key in paper.trp_keys(name)}


def num(x) -> str:
    """A number in a run name: as short as %g when that is exact, else every digit (names stay unique)."""
    short = f"{float(x):g}"
    return short if float(short) == float(x) else repr(float(x))


def run_file(root: str, stage: str, name: str, model="{model}", run="{run}", seed="{seed}") -> str:
    """A file of one run: a rule's output pattern with the defaults, a concrete path otherwise."""
    return f"{root}/{stage}/{model}/{run}/s{seed}/{name}"


def trp_settings(scheme: str, e: float, m: int, lam: float) -> dict:
    return {"method": "trp", "scheme": scheme, "e": e, "m": m, "lam": lam}


def is_baseline(run) -> bool:
    return isinstance(run, Training) and run.settings["method"] == "baseline"


def projects_by_energy(run) -> bool:
    """A training whose ranks come from the energy rule at every projection (Theorem 2's setting)."""
    return isinstance(run, Training) and run.settings["method"] == "trp" and run.budget is None


def budget(run) -> str | float | None:
    """The conv-MAC budget a run is held to: a run's name, a speedup, or None."""
    return run.allocation.budget if isinstance(run, Decomposition) else getattr(run, "budget", None)


class RunTable:
    """Every run of one profile (settings as trp.profile.load returns them): a CIFAR-10 profile's Table 1,
    Table 4, Figs. 2 and 3 and COBLA table, or an ImageNet profile's Tables 2 and 3."""

    def __init__(self, config: dict):
        self.config, self.profile = config, config["profile"]
        self.imagenet = config["dataset"] == "imagenet"
        self.runs: dict[str, Training | Decomposition | Finetuning | Pretrained] = {}
        self.requests: dict[tuple[str, str], set[int]] = {}  # (model, run) -> the seeds some output reads it at
        self.trp, self.seeds = config["trp"], config["seeds"]
        self.baseline = self.add("pretrained", Pretrained()) if self.imagenet else \
            self.add("baseline", Training({"method": "baseline"}))
        # The TRP rows of Tables 1-3: method key -> run (the same runs for every model).
        self.trp_runs = {key: self.trp_run(form["scheme"], self.trp["e"], nuclear) for name, form in paper.FORMS.items()
                         for key, nuclear in zip(paper.trp_keys(name), (False, True))}
        self.key_of = {run: key for key, run in self.trp_runs.items()}
        # model -> method key -> run: each model's table (CIFAR-10: Table 1; ImageNet: Table 2 or 3)
        methods = self.imagenet_methods if self.imagenet else self.table1_methods
        self.tables = {model: {key: self.request(model, run, self.seeds) for key, run in methods(model).items()}
                       for model in config["models"]}
        if not self.imagenet:
            self.cifar_outputs()

    def cifar_outputs(self):
        """A CIFAR-10 profile's runs beyond Table 1: Table 4, Figs. 2 and 3, the COBLA table, the run order."""
        self.latency_methods = list(self.trp_runs)  # Table 4: decomposed TRP networks timed beside the baseline
        self.ablation = self.ablation_points()
        rv = self.config["rank_variation"]
        # Fig. 2: one layer's ranks over successive projections, first seed.
        self.rankvar = self.add("rankvar", Training({**trp_settings(rv["scheme"], rv["e"], rv["m"], 0.0),
                                                     "max_steps": rv["projections"] * rv["m"], "log_spectrum": True}))
        self.request(rv["model"], self.rankvar, self.seeds[:1])
        self.cobla_model = self.config["models"][0]
        self.cobla_runs, self.budget_runs = self.cobla()
        self.priorities = self.order_priorities()

    # ------------------------------------------------------------------------- building

    def add(self, name: str, run) -> str:
        if self.runs.setdefault(name, run) != run:
            raise RunTableError(f"run name {name!r} would stand for both {self.runs[name]} and {run}")
        return name

    def request(self, model: str, run: str, seeds) -> str:
        self.requests.setdefault((model, run), set()).update(seeds)
        return run

    def trp_run(self, scheme: str, e: float, nuclear: bool) -> str:
        lam = self.trp["lam"] if nuclear else 0.0
        return self.add(f"trp-{scheme}-e{num(e)}-lam{num(lam)}", Training(trp_settings(scheme, e, self.trp["m"], lam)))

    def nuclear_run(self, scheme: str) -> str:
        lam = self.trp["lam"]
        return self.add(f"nuclear-{scheme}-lam{num(lam)}", Training({"method": "nuclear", "scheme": scheme, "lam": lam}))

    def budget_label(self, b) -> str:
        """A budget in a run name: the Table-1 key or name of the run whose conv MACs it is, or xN (N
        times fewer conv MACs than the dense network)."""
        return self.key_of.get(b, b) if isinstance(b, str) else f"x{num(b)}"

    def basic_run(self, scheme: str, b, method: str = "energy") -> str:
        """TSVD of the baseline at the ranks `method` chose for budget `b`: the energy rule tuned to it
        (the basic methods, Zhang et al. 2016 channel, Jaderberg et al. 2014 spatial) or COBLA's sqp / milp."""
        return self.add(f"basic-{scheme}-{method}-{self.budget_label(b)}",
                        Decomposition(self.baseline, scheme, Allocation(method, b)))

    def basicnu_run(self, scheme: str, b) -> str:
        """Basic+Nu: the energy rule's TSVD of the network trained with the nuclear norm only, at budget `b`."""
        name = f"basicnu-{scheme}-lam{num(self.trp['lam'])}-{self.budget_label(b)}"
        return self.add(name, Decomposition(self.nuclear_run(scheme), scheme, Allocation("energy", b)))

    def finetuned_run(self, source: str) -> str:
        return self.add(f"{source}-ft", Finetuning(source))

    def table1_methods(self, model: str) -> dict[str, str]:
        """Table 1 of one model, method key -> run: the paper's rows (the basic methods at the paper's
        speedup), then each basic method at the conv MACs each TRP run of its form reached, and each
        TRP run followed by the basic methods' fine-tuning."""
        rows = {"baseline": self.baseline}
        for name, form in paper.FORMS.items():
            rows |= {key: self.trp_runs[key] for key in paper.trp_keys(name)}
            rows[form["basic"]] = self.basic_run(form["scheme"], paper.table1(model, form["basic"])["speedup"])
        for name, form in paper.FORMS.items():
            for key in paper.trp_keys(name):
                rows[paper.matched_key(form["basic"], key)] = self.basic_run(form["scheme"], self.trp_runs[key])
                rows[paper.finetuned_key(key)] = self.finetuned_run(self.trp_runs[key])
        return rows

    def imagenet_methods(self, model: str) -> dict[str, str]:
        """Table 2 / 3 of one model, method key -> run: the keys its models.<model>.methods lists, then the
        TRP runs whose conv MACs a listed basic method is matched with."""
        keys = self.config["models"][model]["methods"]
        keys = dict.fromkeys([*keys, *(MATCHED[k][1] for k in keys if k in MATCHED)])
        return {key: self.imagenet_run(model, key) for key in keys}

    def imagenet_run(self, model: str, key: str) -> str:
        """The ImageNet run of a method key: a TRP run; a basic method at the conv MACs of a TRP run (a matched
        key); or a basic method at the speedup of the paper's row for `model`."""
        if key in self.trp_runs:
            return self.trp_runs[key]
        if key in MATCHED:
            scheme, trp = MATCHED[key]
            return self.basic_run(scheme, self.trp_runs[trp])
        row = paper.imagenet_row(model, key)
        if row is None:
            others = [k for k, (scheme, _) in MATCHED.items() if scheme == BASIC[key]]
            raise RunTableError(f"models.{model}.methods: the paper has no {key} row for {model} to take a speedup "
                                f"from; list {' or '.join(others)} (its conv MACs from a TRP run) instead")
        return self.basic_run(BASIC[key], float(row["speedup"]))

    def ablation_points(self) -> list[tuple[str, str, str]]:
        """Fig. 3 on ablation.model, (scheme, method, run): TRP and TRP+Nu over the e sweep; Basic and
        Basic+Nu at the conv MACs of each TRP+Nu run of the sweep (the highest speedups TRP reaches at
        each e) and at ablation.speedups, so the four curves span the same speedups; the Table-1 basic
        runs of the scheme (at the paper's speedup and at each TRP run's MACs) join Basic."""
        ab, points = self.config["ablation"], []
        for scheme in (form["scheme"] for form in paper.FORMS.values()):
            trp, nu = ([self.trp_run(scheme, e, nuclear) for e in ab["e"]] for nuclear in (False, True))
            budgets = nu + ab["speedups"]
            points += [(scheme, "TRP", run) for run in trp] + [(scheme, "TRP+Nu", run) for run in nu]
            points += [(scheme, "Basic", self.basic_run(scheme, b)) for b in budgets]
            points += [(scheme, "Basic+Nu", self.basicnu_run(scheme, b)) for b in budgets]
        points = [(scheme, method, self.request(ab["model"], run, ab["seeds"])) for scheme, method, run in points]
        if ab["model"] in self.tables:
            points += [(form["scheme"], "Basic", self.tables[ab["model"]][key]) for name, form in paper.FORMS.items()
                       for key in paper.basic_keys(name)]
        return list(dict.fromkeys(points))

    def cobla_budget(self, b):
        """A budget of the cobla: block: a Table-1 TRP key stands for that run."""
        return self.trp_runs[b] if isinstance(b, str) else b

    def budgeted_run(self, b) -> str:
        scheme = self.config["cobla"]["scheme"]
        settings = trp_settings(scheme, self.trp["e"], self.trp["m"], 0.0)
        return self.add(f"trpbudget-{scheme}-{self.budget_label(b)}", Training(settings, budget=b))

    def cobla(self) -> tuple[dict, dict]:
        """The COBLA table, on the first model and seed: (budget, method key) -> run. The allocations
        (the energy rule's is the basic method at that budget) and budgeted TRP; then the plain TRP
        runs whose conv MACs are a budget."""
        c = self.config["cobla"]
        runs = {(self.budget_label(self.cobla_budget(b)), m): self.basic_run(c["scheme"], self.cobla_budget(b), m)
                for b in c["budgets"] for m in c["methods"]}
        runs |= {(self.budget_label(self.cobla_budget(b)), "budgeted_trp"): self.budgeted_run(self.cobla_budget(b))
                 for b in c["budgeted_trp"]}
        budget_runs = {(b, b): self.trp_runs[b] for b in dict.fromkeys(c["budgets"] + c["budgeted_trp"]) if isinstance(b, str)}
        for run in [*runs.values(), *budget_runs.values()]:
            self.request(self.cobla_model, run, self.seeds[:1])
        return runs, budget_runs

    def order_priorities(self) -> dict[tuple[str, int], int]:
        """(run, seed) -> the priority of its jobs (training, allocation, decomposition, fine-tuning):
        the profile's `order` lists steps of Table-1 rows at some seeds; the jobs of an earlier step
        start before those of a later one, and jobs no step names start last (priority 0)."""
        steps, priorities = self.config["order"], {}
        for i, step in enumerate(steps):
            for model, rows in self.tables.items():
                for key in step["rows"]:
                    if key not in rows:
                        raise RunTableError(f"order: no Table-1 row {key!r} (rows: {', '.join(rows)})")
                    for seed in step["seeds"]:
                        priorities.setdefault((rows[key], seed), len(steps) - i)
        return priorities

    # ------------------------------------------------------------------------- reading

    def seeds_of(self, model: str, run: str) -> list[int]:
        return sorted(self.requests[(model, run)])

    def record(self, model: str, run: str, seed: int) -> str:
        """The metrics.json a table reads: a training's own, a decomposition's or fine-tuning's after fine-tuning."""
        stage = "runs" if isinstance(self.runs[run], Training) else "finetune"
        return run_file(f"results/{self.profile}", stage, "metrics.json", model, run, seed)

    def ranklog(self, model: str, run: str, seed: int) -> str:
        return run_file(f"results/{self.profile}", "runs", "ranklog.jsonl", model, run, seed)

    # What the renderers read: Fig. 2's rank log; the records of each table and figure (runs.json, below).

    def rankvar_input(self) -> str:
        """Fig. 2's rank log: the rank-variation run's, first seed."""
        return self.ranklog(self.config["rank_variation"]["model"], self.rankvar, self.seeds[0])

    def table_records(self) -> dict[str, dict[str, dict]]:
        """model -> method key -> {"run": name, "records": {seed: metrics.json path}}: each model's table
        (Table 1; on ImageNet Table 2 or 3) as results/<profile>/runs.json lists it."""
        return {model: {key: {"run": run, "records": {str(s): self.record(model, run, s) for s in self.seeds}}
                        for key, run in rows.items()} for model, rows in self.tables.items()}

    def ablation_records(self) -> dict:
        """Fig. 3 on ablation.model: each point's scheme, method, run and metrics.json per seed."""
        m = self.config["ablation"]["model"]
        return {"model": m, "points": [{"scheme": scheme, "method": method, "run": run,
                                        "records": {str(s): self.record(m, run, s) for s in self.seeds_of(m, run)}}
                                       for scheme, method, run in self.ablation]}

    def rank_log_records(self) -> list[dict]:
        """Theorem 2's rank logs: model, run, seed and ranklog.jsonl of every training made that projects
        with the energy rule, each once."""
        return [{"model": m, "run": run, "seed": s, "rank_log": self.ranklog(m, run, s)}
                for (m, run), seeds in sorted(self.requests.items()) if projects_by_energy(self.runs[run])
                for s in sorted(seeds)]

    def cobla_records(self) -> dict:
        """The COBLA table on its model and first seed: per row its budget, method key, run, metrics.json
        and an allocation's ranks.json (None for a training)."""
        model, seed = self.cobla_model, self.seeds[0]
        rows = [{"budget": b, "method": m, "run": run, "record": self.record(model, run, seed),
                 "allocation": run_file(f"results/{self.profile}", "allocate", "ranks.json", model, run, seed)
                 if isinstance(self.runs[run], Decomposition) else None}
                for (b, m), run in (self.cobla_runs | self.budget_runs).items()]
        return {"model": model, "seed": seed, "rows": rows}

    def document(self) -> dict:
        """results/<profile>/runs.json, what the renderers read: the profile, its settings (RunTable(config)
        builds this table again; where the data lies is left out: it changes no run), each model's table
        (table_records), and a CIFAR-10 profile's Fig. 3 points, Theorem 2's rank logs and COBLA rows."""
        config = {key: value for key, value in self.config.items() if key != "data"}
        doc = {"profile": self.profile, "config": config, "tables": self.table_records()}
        if not self.imagenet:
            doc |= {"ablation": self.ablation_records(), "rank_logs": self.rank_log_records(),
                    "cobla": self.cobla_records()}
        return doc


def main(argv: list[str] | None = None) -> None:
    from . import profile

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m trp.runs PROFILE.yaml")
    try:
        table = RunTable(profile.load(args[0]))
    except (OSError, KeyError, profile.ProfileError, RunTableError) as exc:
        sys.exit(f"trp.runs: {exc}")
    print(json.dumps(table.document(), indent=1))


if __name__ == "__main__":
    main()
