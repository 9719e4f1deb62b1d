"""The model manager: are Voxtral's weights here, and if not, download them once.

Weights come in Mistral's format (what `vllm serve --load_format mistral --config_format
mistral --tokenizer_mode mistral` reads): params.json, consolidated.safetensors and
tekken.json.  The repository's duplicate Hugging Face shards (model-0000N-of-0000M) are
not downloaded.  The server is started on the folder they were downloaded to, so nothing
is fetched twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from agent.asr.base import ModelError
from agent.asr.config import VoxtralConfig
from agent.asr.models import _reason, single_hub_log_handler

log = logging.getLogger(__name__)

REQUIRED = ("params.json", "consolidated.safetensors", "tekken.json")
"""What a Mistral-format Voxtral folder must hold."""
PATTERNS = ["*.json", "consolidated.safetensors", "tekken.json"]
"""What is downloaded: the small JSON files (params, generation and preprocessor config)
and the Mistral-format weights and tokenizer."""


@dataclass(frozen=True, slots=True)
class ModelStatus:
    present: bool
    path: Path | None
    """The folder the weights are in (None if absent)."""
    source: str
    """"folder" (a local directory), "cache" (the hub cache) or "absent"."""


def missing_files(folder: Path) -> list[str]:
    return [name for name in REQUIRED if not (folder / name).is_file()]


def is_hub_id(spec: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", spec)) and not Path(spec).expanduser().exists()


def status(cfg: VoxtralConfig) -> ModelStatus:
    """Whether the weights are here, looking only at the disk (works offline)."""
    path = Path(cfg.model).expanduser()
    if not is_hub_id(cfg.model):
        if not path.is_dir():
            raise ModelError(f"Voxtral model '{cfg.model}' is neither a folder nor a hub id "
                             "(owner/name)")
        missing = missing_files(path)
        if missing:
            raise ModelError(f"{path}: not a Mistral-format Voxtral folder (no "
                             f"{', '.join(missing)})")
        return ModelStatus(True, path, "folder")
    cached = _cached(cfg)
    return ModelStatus(cached is not None, cached, "cache" if cached else "absent")


def _cached(cfg: VoxtralConfig) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(cfg.model, allow_patterns=PATTERNS, local_files_only=True,
                                      cache_dir=cfg.download_root or None))
    except LocalEntryNotFoundError:
        return None
    return None if missing_files(path) else path


def ensure(cfg: VoxtralConfig) -> Path:
    """The folder with the weights, downloading them (with a progress bar) if absent;
    raise ModelError with one line when that is not possible."""
    found = status(cfg)
    if found.path is not None:
        return found.path
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError

    single_hub_log_handler()

    if constants.HF_HUB_OFFLINE:
        raise ModelError(f"Voxtral model {cfg.model} is not downloaded and offline mode is on "
                         "(HF_HUB_OFFLINE); download it once online (voxagent server start), "
                         "or use a folder")
    log.warning("downloading %s from the Hugging Face hub (once; about 9 GB)", cfg.model)
    try:
        path = Path(snapshot_download(cfg.model, allow_patterns=PATTERNS,
                                      cache_dir=cfg.download_root or None))
    except RepositoryNotFoundError as exc:
        raise ModelError(f"Voxtral model {cfg.model} is not on {constants.ENDPOINT} "
                         f"({_reason(exc)}): check the name; a gated model needs HF_TOKEN") \
            from None
    except Exception as exc:  # noqa: BLE001 - network, auth and hub errors all end here
        raise ModelError(f"cannot download Voxtral model {cfg.model} from "
                         f"{constants.ENDPOINT}: {_reason(exc)}") from None
    missing = missing_files(path)
    if missing:
        raise ModelError(f"{cfg.model} on {constants.ENDPOINT} has no {', '.join(missing)}: "
                         "not a Mistral-format Voxtral model")
    return path
