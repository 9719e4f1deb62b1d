"""A protocol double of the Hugging Face hub on loopback, for the hub-model tests.

It speaks the part of the hub's HTTP protocol that `huggingface_hub` (written against
version 2.4.0: `snapshot_download`, `hf_hub_download`, `HfApi.repo_info`/`list_repo_tree`)
uses to download a model repository when `HF_ENDPOINT` points at it:

``GET /api/models/{repo}`` and ``GET /api/models/{repo}/revision/{rev}``
    The repository info: ``id``, ``sha`` (the commit), ``siblings`` [{``rfilename``}], ...
``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=..&expand=..``
    The file listing: [{``type``, ``oid`` (git blob id), ``size``, ``path``, ``lfs``}], one
    page (no ``Link: rel="next"`` header).  No ``xetHash``: the files are plain LFS.
``HEAD``/``GET /{repo}/resolve/{rev}/{filename}``
    A regular (git) file: 200 with ``ETag`` (the git blob id), ``X-Repo-Commit``,
    ``Content-Length``, ``Accept-Ranges``, ``Content-Disposition``; ``Range`` gives 206.
    A GET of a text file (JSON, .txt) by a client accepting gzip gets it as the hub sends
    those: ``Content-Encoding: gzip``, ``Transfer-Encoding: chunked``, no length.
    An LFS file (``*.bin``, as the hub's default ``.gitattributes`` says): 302 to a signed
    URL on a *different origin*, the "CDN" (a second port), with ``X-Linked-Etag`` (the
    sha256), ``X-Linked-Size``, ``X-Repo-Commit`` and ``Location``; the client does not
    follow a HEAD redirect off the hub, it reads the metadata from the 302 itself.
``GET /api/agent-harnesses``
    The registry huggingface_hub reads (once a day) to name a calling AI agent in its
    User-Agent; empty here.
``HEAD``/``GET`` on the CDN: the bytes, with ``ETag``, ``Content-Length``,
    ``Content-Disposition``, ``Accept-Ranges`` and ``Range`` support (206/416).

No response ever carries ``X-Xet-Hash``, ``X-Xet-Refresh-Route`` or a ``Link: rel="xet-auth"``,
so even with hf_xet installed the client downloads over plain HTTP.

Errors are the hub's: an unknown repository gives 401 without a token and 404 with one
(the hub hides private repos that way), both with ``X-Error-Code: RepoNotFound``; an unknown
revision ``RevisionNotFound``; a missing file ``EntryNotFound`` with ``X-Repo-Commit``.

The double runs as a subprocess (`HubDouble`); every request it serves on the hub or CDN port
is recorded, and it can be told to fail (`HubDouble.fail`).  Its own control endpoints live
under ``/_double/`` on the hub port and are not recorded.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

GITATTRIBUTES = """\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
"""
LFS_PATTERNS = [line.split()[0] for line in GITATTRIBUTES.splitlines()]
CHUNK = 1 << 20


# --- the repositories ---------------------------------------------------------------------

@dataclass
class RepoFile:
    path: str
    size: int
    blob_id: str
    """The git blob id (of the LFS pointer for LFS files): the hub's `oid` and regular ETag."""
    source: Path | None = None
    data: bytes | None = None
    sha256: str = ""
    pointer_size: int = 0

    @property
    def lfs(self) -> bool:
        return bool(self.sha256)

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end)."""
        if self.data is not None:
            return self.data[start:end]
        assert self.source is not None
        with self.source.open("rb") as f:
            f.seek(start)
            return f.read(end - start)


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


@dataclass
class Repo:
    repo_id: str
    files: dict[str, RepoFile]
    sha: str


def build_repo(repo_id: str, folder: Path, digests: dict[Path, str] | None = None) -> Repo:
    """A model repository holding the files of `folder` plus a README and .gitattributes.

    `digests` caches the sha256 of LFS files, for repositories that share a folder."""
    digests = {} if digests is None else digests
    readme = (f"---\nlicense: mit\nlibrary_name: ctranslate2\n---\n\n# {repo_id}\n\n"
              "Served by the voxagent test hub double.\n").encode()
    files: dict[str, RepoFile] = {}
    for name, data in ((".gitattributes", GITATTRIBUTES.encode()), ("README.md", readme)):
        files[name] = RepoFile(name, len(data), _git_blob_id(data), data=data)
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        size = path.stat().st_size
        if any(fnmatch.fnmatch(path.name, pat) for pat in LFS_PATTERNS):
            sha256 = digests.get(path) or _file_digest(path, "sha256")
            digests[path] = sha256
            pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\n"
                       f"size {size}\n").encode()
            files[path.name] = RepoFile(path.name, size, _git_blob_id(pointer), source=path,
                                        sha256=sha256, pointer_size=len(pointer))
        else:
            files[path.name] = RepoFile(path.name, size, _git_blob_id(path.read_bytes()),
                                        source=path)
    tree = "\n".join(f"{f.path} {f.blob_id}" for f in files.values())
    sha = hashlib.sha1(f"{repo_id}\n{tree}".encode()).hexdigest()
    return Repo(repo_id, files, sha)


# --- failures and the request log -----------------------------------------------------------

@dataclass
class Failure:
    """Fail the next `times` requests whose path matches `path` (fnmatch) on `port`."""

    path: str
    mode: str
    """"500"/"503": that status with the hub's error body; "truncate": send the headers and
    half of the body, then close the connection; "reset": close without any response."""
    times: int = 1
    port: str = "any"
    """"hub", "cdn" or "any"."""
    methods: tuple[str, ...] = ("GET", "HEAD")


@dataclass
class State:
    repos: dict[str, Repo]
    cdn_base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def take_failure(self, port: str, method: str, path: str) -> Failure | None:
        with self.lock:
            for f in self.failures:
                if f.times > 0 and f.port in (port, "any") and method in f.methods \
                        and fnmatch.fnmatchcase(path, f.path):
                    f.times -= 1
                    return f
        return None


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.state = state


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the hub; every response has a length
    server_version = "hub-double"
    sys_version = ""
    port_name = "hub"

    server: DoubleServer

    @property
    def state(self) -> State:
        return self.server.state

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self._url_path, self._query = unquote(url.path), parse_qs(url.query)
        self._status = 0
        self._sent = 0
        self._encoding = ""
        if self.port_name == "hub" and self._url_path.startswith("/_double/"):
            self._control()
            return
        entry: dict[str, Any] = {
            "port": self.port_name, "method": self.command, "path": self._url_path,
            "query": url.query, "range": self.headers.get("Range"),
            "accept_encoding": self.headers.get("Accept-Encoding", ""),
            "authorization": bool(self.headers.get("Authorization")),
            "user_agent": self.headers.get("User-Agent", ""),
        }
        failure = self.state.take_failure(self.port_name, self.command, self._url_path)
        try:
            if failure is not None and failure.mode != "truncate":
                self._fail(failure)
            else:
                self._serve(truncate=failure is not None)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            entry.update(status=self._status, bytes=self._sent, encoding=self._encoding,
                         failure=failure.mode if failure else None)
            with self.state.lock:
                self.state.log.append(entry)

    def _serve(self, truncate: bool) -> None:
        if self.port_name == "cdn":
            self._cdn(truncate)
        else:
            self._hub(truncate)

    def _fail(self, failure: Failure) -> None:
        if failure.mode == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))  # close = RST
            self.connection.close()
            return
        status = int(failure.mode)
        self._json(status, {"error": "Internal Error - We're working hard to fix this as soon "
                                     "as possible!"})

    def _headers(self, status: int, headers: dict[str, str]) -> None:
        self._status = status
        self._encoding = headers.get("Content-Encoding", "")
        self.send_response(status)
        headers = {"X-Request-Id": f"Root={uuid.uuid4()}", "Vary": "Origin, Accept",
                   "Access-Control-Allow-Origin": "https://huggingface.co",
                   "Access-Control-Expose-Headers": (
                       "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,"
                       "ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag"),
                   **headers}
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def _body(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self._headers(status, {"Content-Length": str(len(body)), **headers})
        if self.command != "HEAD":
            self.wfile.write(body)
            self._sent += len(body)

    def _json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        self._body(status, json.dumps(data).encode(),
                   {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    def _error(self, status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": message},
                   {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})})

    def _repo_not_found(self) -> None:
        # Unauthenticated callers get 401 for repos that do not exist (or are private): the
        # hub does not tell them apart; an authenticated caller gets 404.
        status = 404 if self.headers.get("Authorization") else 401
        self._error(status, "RepoNotFound", "Repository not found")

    def _file(self, f: RepoFile, headers: dict[str, str], truncate: bool,
              compressible: bool = False) -> None:
        """The bytes of `f` (or a Range of them) with `headers`; gzipped and chunked if
        `compressible` and the client accepts gzip, as the hub serves its text files."""
        start, end, status = 0, f.size, 200
        rng = self.headers.get("Range")
        if compressible and rng is None and self.command == "GET" \
                and "gzip" in self.headers.get("Accept-Encoding", ""):
            self._gzip_chunked(f, headers, truncate)
            return
        if rng is not None:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if m is None or not (m.group(1) or m.group(2)):
                self._headers(416, {"Content-Range": f"bytes */{f.size}",
                                    "Content-Length": "0"})
                return
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)) + 1, f.size) if m.group(2) else f.size
            else:
                start = max(f.size - int(m.group(2)), 0)
            if start >= f.size or start >= end:
                self._headers(416, {"Content-Range": f"bytes */{f.size}",
                                    "Content-Length": "0"})
                return
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{f.size}"}
        self._headers(status, {"Content-Length": str(end - start), "Accept-Ranges": "bytes",
                               **headers})
        if self.command == "HEAD":
            return
        stop = start + (end - start) // 2 if truncate else end
        pos = start
        while pos < stop:
            block = f.read(pos, min(pos + CHUNK, stop))
            self.wfile.write(block)
            self._sent += len(block)
            pos += len(block)
        if truncate:  # the peer sees a body shorter than Content-Length, then EOF
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _gzip_chunked(self, f: RepoFile, headers: dict[str, str], truncate: bool) -> None:
        body = gzip.compress(f.read(0, f.size), mtime=0)
        self._headers(200, {**headers, "Content-Encoding": "gzip", "Transfer-Encoding": "chunked",
                            "ETag": f'W/"{headers["ETag"].strip(chr(34))}"'})
        stop = len(body) // 2 if truncate else len(body)
        for pos in range(0, stop, CHUNK):
            piece = body[pos:min(pos + CHUNK, stop)]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self._sent += len(piece)
        if truncate:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")

    # -- the hub

    def _find_repo(self, repo_id: str) -> Repo | None:
        return self.state.repos.get(repo_id)

    def _revision_ok(self, repo: Repo, rev: str) -> bool:
        return rev in ("main", repo.sha)

    def _hub(self, truncate: bool) -> None:
        path = self._url_path
        if self.command == "POST":
            self._error(405, "MethodNotAllowed", "Method not allowed")
            return
        if path == "/api/agent-harnesses":
            # huggingface_hub fetches this registry (once a day) to name the calling AI
            # agent, if any, in its User-Agent; no harness is registered here.
            self._json(200, {"standardEnvVars": ["AI_AGENT", "AGENT"], "harnesses": {}})
            return
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            self._model_info(m.group(1), m.group(2) or "main")
            return
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path)
        if m:
            self._tree(m.group(1), m.group(2), (m.group(3) or "").strip("/"))
            return
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            self._resolve(m.group(1), m.group(2), m.group(3), truncate)
            return
        self._error(404, "NotFound", "Not Found")

    def _model_info(self, repo_id: str, rev: str) -> None:
        repo = self._find_repo(repo_id)
        if repo is None:
            self._repo_not_found()
            return
        if not self._revision_ok(repo, rev):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return
        author = repo_id.partition("/")[0]
        self._json(200, {
            "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24], "id": repo_id,
            "modelId": repo_id, "author": author, "sha": repo.sha,
            "lastModified": "2023-11-23T09:41:12.000Z", "createdAt": "2023-03-23T10:36:06.000Z",
            "private": False, "disabled": False, "gated": False, "downloads": 123456,
            "likes": 12, "tags": ["ctranslate2", "audio", "automatic-speech-recognition", "en",
                                  "license:mit", "region:us"],
            "pipeline_tag": "automatic-speech-recognition", "library_name": "ctranslate2",
            "cardData": {"license": "mit", "library_name": "ctranslate2"},
            "siblings": [{"rfilename": name} for name in repo.files],
            "spaces": [], "usedStorage": sum(f.size for f in repo.files.values()),
        })

    def _tree(self, repo_id: str, rev: str, folder: str) -> None:
        repo = self._find_repo(repo_id)
        if repo is None:
            self._repo_not_found()
            return
        if not self._revision_ok(repo, rev):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return
        if folder:  # the repositories are flat
            self._error(404, "EntryNotFound", f"{folder} does not exist on \"{rev}\"")
            return
        entries = []
        for f in repo.files.values():
            entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": f.size,
                                     "path": f.path}
            if f.lfs:
                entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            entries.append(entry)
        self._json(200, entries)

    def _resolve(self, repo_id: str, rev: str, filename: str, truncate: bool) -> None:
        repo = self._find_repo(repo_id)
        if repo is None:
            self._repo_not_found()
            return
        if not self._revision_ok(repo, rev):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return
        commit = {"X-Repo-Commit": repo.sha}
        f = repo.files.get(filename)
        if f is None:
            self._error(404, "EntryNotFound", "Entry not found", commit)
            return
        disposition = _disposition(f.path)
        if f.lfs:
            location = (f"{self.state.cdn_base}/repos/{f.sha256[:2]}/{f.sha256[2:4]}/{f.sha256}"
                        f"?response-content-disposition={quote(disposition)}"
                        f"&Expires=4102444800&Signature={uuid.uuid4().hex}&Key-Pair-Id=DOUBLE")
            body = f"Found. Redirecting to {location}".encode()
            self._body(302, body, {
                "Content-Type": "text/plain; charset=utf-8", "Location": location,
                "ETag": f'W/"{hashlib.sha1(body).hexdigest()[:24]}"',
                "X-Linked-Size": str(f.size), "X-Linked-ETag": f'"{f.sha256}"',
                "Accept-Ranges": "bytes", **commit,
            })
            return
        self._file(f, {"Content-Type": _content_type(f.path), "ETag": f'"{f.blob_id}"',
                       "Content-Disposition": disposition, **commit}, truncate,
                   compressible=_content_type(f.path).startswith(("text/", "application/json")))

    # -- the CDN (signed URLs to LFS objects)

    def _cdn(self, truncate: bool) -> None:
        m = re.fullmatch(r"/repos/[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64})", self._url_path)
        found = None
        if m and "Signature" in self._query:
            found = next((f for r in self.state.repos.values() for f in r.files.values()
                          if f.sha256 == m.group(1)), None)
        if found is None:
            body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>" \
                   b"<Message>Access Denied</Message></Error>"
            self._body(403, body, {"Content-Type": "application/xml"})
            return
        disposition = self._query.get("response-content-disposition", [""])[0] \
            or _disposition(found.path)
        self._file(found, {"Content-Type": "application/octet-stream",
                           "ETag": f'"{found.sha256}"', "Content-Disposition": disposition,
                           "Cache-Control": "public, max-age=604800, immutable"}, truncate)

    # -- control (not part of the hub)

    def _control(self) -> None:
        what = self._url_path.removeprefix("/_double/")
        if what == "requests":
            with self.state.lock:
                self._json(200, self.state.log)
        elif what == "clear" and self.command == "POST":
            with self.state.lock:
                self.state.log.clear()
                self.state.failures.clear()
            self._json(200, {})
        elif what == "fail" and self.command == "POST":
            spec = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            spec["methods"] = tuple(spec.get("methods", ("GET", "HEAD")))
            with self.state.lock:
                self.state.failures.append(Failure(**spec))
            self._json(200, {})
        else:
            self._json(404, {"error": "unknown control"})


class CdnHandler(HubHandler):
    port_name = "cdn"
    server_version = "AmazonS3"


def _disposition(name: str) -> str:
    return f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\";"


def _content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/json; charset=utf-8"
    if name.endswith((".txt", ".md", ".gitattributes")) or name.startswith("."):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def serve(repos: dict[str, Path]) -> None:
    """Run the hub and the CDN on loopback; print their ports; serve until stdin closes."""
    digests: dict[Path, str] = {}
    state = State({repo_id: build_repo(repo_id, folder, digests)
                   for repo_id, folder in repos.items()})
    hub = DoubleServer(state, HubHandler)
    cdn = DoubleServer(state, CdnHandler)
    state.cdn_base = f"http://127.0.0.1:{cdn.server_address[1]}"
    for server in (hub, cdn):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"hub": hub.server_address[1], "cdn": cdn.server_address[1]}), flush=True)
    sys.stdin.read()  # the parent closes our stdin (or dies): stop
    hub.shutdown()
    cdn.shutdown()


# --- the handle the tests use ------------------------------------------------------------------

class HubDouble:
    """The double as a subprocess: `with HubDouble({"owner/name": folder}) as hub: ...`."""

    def __init__(self, repos: dict[str, Path], startup_timeout: float = 60.0) -> None:
        self._repos = repos
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self.endpoint = ""
        self.cdn = ""

    def start(self) -> HubDouble:
        args = [a for repo_id, folder in self._repos.items() for a in
                ("--repo", f"{repo_id}={folder}")]
        self._proc = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        stdout = self._proc.stdout
        assert stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self._timeout)
        if not ready or not ready[0]:
            self.stop()
            raise RuntimeError("the hub double did not start")
        ports = json.loads(ready[0])
        self.endpoint = f"http://127.0.0.1:{ports['hub']}"
        self.cdn = f"http://127.0.0.1:{ports['cdn']}"
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def __enter__(self) -> HubDouble:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _control(self, what: str, data: object | None = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(f"{self.endpoint}/_double/{what}", data=body,
                                         method="GET" if body is None else "POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict[str, Any]]:
        """Every request served so far: port, method, path, query, range, status, bytes, ..."""
        return list(self._control("requests"))

    def clear(self) -> None:
        """Forget the request log and any pending failures."""
        self._control("clear", {})

    def fail(self, path: str, mode: str, times: int = 1, port: str = "any",
             methods: tuple[str, ...] = ("GET", "HEAD")) -> None:
        """Make the next `times` requests for `path` (fnmatch pattern) fail; see `Failure`."""
        self._control("fail", {"path": path, "mode": mode, "times": times, "port": port,
                               "methods": list(methods)})


def main() -> None:
    p = argparse.ArgumentParser(description="a Hugging Face hub double on loopback")
    p.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=FOLDER")
    args = p.parse_args()
    repos = {}
    for spec in args.repo:
        repo_id, _, folder = spec.partition("=")
        repos[repo_id] = Path(folder)
    serve(repos)


if __name__ == "__main__":
    main()
