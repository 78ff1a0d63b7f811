"""The text of a table cell."""


def fmt(value, digits: int = 2) -> str:
    """A table cell: floats to `digits` decimals, mean_std dicts as "m ± s (n=k)", None as "–"."""
    if value is None:
        return "–"
    if isinstance(value, dict):
        if value["n"] == 1:
            return f"{value['mean']:.{digits}f} (n=1)"
        return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f} (n={value['n']})"
    if isinstance(value, float):  # small values (ms per image) keep two significant digits
        return f"{value:.{digits}f}" if value == 0 or abs(value) >= 0.1 else f"{value:.2g}"
    return str(value)


def diff(ours, paper) -> str | None:
    """ours − paper as a signed string (ours may be a mean_std dict); None if either is missing."""
    if ours is None or paper is None:
        return None
    return f"{(ours['mean'] if isinstance(ours, dict) else ours) - paper:+.2f}"
