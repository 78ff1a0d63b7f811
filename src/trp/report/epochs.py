"""The training behind a run's network, in epochs, as the tables state it."""
from ..artifacts.records import Record


def scratch_epochs(records: list[Record]) -> str:
    """The epochs of the trainings from scratch among `records` (a profile gives them all the same)."""
    return "/".join(sorted({str(m["config"]["epochs"]) for m in records if m.kind == "training"}))


def training_epochs(record: Record, scratch_epochs: str) -> str:
    """The training behind a run's network: its own epochs, or a fine-tuning's epochs on top of the
    `scratch_epochs` its source network was trained for."""
    own = record["config"]["epochs"]
    return f"{scratch_epochs} + {own}" if record.kind == "finetuning" else f"{own}"
