"""Everything `trp` reads and writes: atomic strict-JSON and checkpoint files, the two network
formats, run directories (lock, recorded settings, no silent resume or overwrite), the output
policy of single-file outputs and renderings, the rank log, and the provenance every result carries."""
from .atomic import (ArtifactError, atomic_open, atomic_save, atomic_write_text, dumps, read_json,
                     remove_stale_temporaries, sha256_file, write_json)
from .checkpoints import (DECOMPOSED, DENSE, input_size_of, load_network, load_training_state, read_record, save_decomposed,
                          save_dense, save_training_state)
from .outputs import PREPARED, RENDER_MARK, check_outputs, staged_rendering
from .provenance import record
from .ranklog import PARTIAL as PARTIAL_RANKLOG, RankLog
from .rundir import RunDirectory

__all__ = ["DECOMPOSED", "DENSE", "PARTIAL_RANKLOG", "PREPARED", "RENDER_MARK", "ArtifactError", "RankLog", "RunDirectory",
           "atomic_open", "atomic_save", "atomic_write_text", "check_outputs", "dumps", "input_size_of", "load_network",
           "load_training_state", "read_json", "read_record", "record", "remove_stale_temporaries", "save_decomposed",
           "save_dense", "save_training_state", "sha256_file", "staged_rendering", "write_json"]
