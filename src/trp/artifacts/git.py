"""git run on a repository, for the scripts that move and publish a profile's results."""
import subprocess
from pathlib import Path


class GitError(Exception):
    """A git command failed: the command and git's own message."""


def git(repo: Path, *args: str) -> str:
    """`git -C repo ARGS`'s output (as git prints it); GitError where git fails."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout
