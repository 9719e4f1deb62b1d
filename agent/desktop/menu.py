"""The tray menu: a plain model built from the status, and a Tk popup that shows it
where the tray backend has no menus of its own (pystray's X11 backend).

Items: Listening (on/off) · Hands-free / Push-to-talk · Dictation · Recent commands ▸
· What can I say · Reload commands · Open commands folder · Quit. The same Tk thread
shows the "what can I say" window (show_text).
"""

from __future__ import annotations

import gc
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.desktop.status import Status, style_label
from agent.messages import ListenStyle, Mode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    text: str
    action: Callable[[], None] | None = None
    checked: bool | None = None
    """None: a plain item; True/False: a check (or radio) item."""
    radio: bool = False
    enabled: bool = True
    children: tuple[Entry, ...] = ()


SEPARATOR = Entry("-")


class MenuActions(Protocol):
    def toggle_listening(self) -> None: ...

    def set_style(self, style: ListenStyle) -> None: ...

    def set_dictation(self, on: bool) -> None: ...

    def reload_commands(self) -> None: ...

    def show_help(self) -> None: ...

    def quit(self) -> None: ...


def menu_entries(status: Status, recent: Sequence[str], ctl: MenuActions,
                 open_folder: Callable[[], None]) -> tuple[Entry, ...]:
    dictating = status.mode is Mode.DICTATION
    history = tuple(Entry(text, enabled=False) for text in reversed(recent)) \
        or (Entry("(nothing yet)", enabled=False),)
    return (
        Entry("Listening", ctl.toggle_listening, checked=status.enabled),
        SEPARATOR,
        Entry("Hands-free", lambda: ctl.set_style(ListenStyle.HANDS_FREE),
              checked=status.style is ListenStyle.HANDS_FREE, radio=True),
        Entry(_first_upper(style_label(ListenStyle.PUSH_TO_TALK,
                                       f"({status.hotkey})" if status.hotkey else "")),
              lambda: ctl.set_style(ListenStyle.PUSH_TO_TALK),
              checked=status.style is ListenStyle.PUSH_TO_TALK, radio=True,
              enabled=bool(status.hotkey)),
        Entry("Dictation", lambda: ctl.set_dictation(not dictating), checked=dictating),
        Entry("Recent commands", children=history),
        SEPARATOR,
        Entry("What can I say", ctl.show_help),
        Entry("Reload commands", ctl.reload_commands),
        Entry("Open commands folder", open_folder),
        SEPARATOR,
        Entry("Quit", ctl.quit),
    )


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


_Menu = tuple[tuple[Entry, ...], int | None, int | None]
_Text = tuple[str, str]
_TK_START_S = 10.0


class TkPopup:
    """A Tk popup menu on its own thread (Tk calls stay on the thread that made Tk).
    `show(entries, x, y)` posts it at screen position x, y; None = at the pointer.
    `show_text(title, text)` opens a small window with the text (one at a time)."""

    def __init__(self) -> None:
        self._requests: queue.Queue[_Menu | _Text | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failed = False
        self._started = threading.Event()
        self._lock = threading.Lock()

    def show(self, entries: tuple[Entry, ...], x: int | None = None,
             y: int | None = None) -> None:
        if self._start():
            self._requests.put((entries, x, y))

    def show_text(self, title: str, text: str) -> bool:
        """Open the text window (any thread); False when Tk cannot run here (waits for
        Tk to start, the first time)."""
        if not self._start() or not self._started.wait(_TK_START_S) or self._failed:
            return False
        self._requests.put((title, text))
        return True

    def _start(self) -> bool:
        with self._lock:
            if self._thread is None and not self._failed:
                self._thread = threading.Thread(target=self._run, name="tray-menu",
                                                daemon=True)
                self._thread.start()
        return not self._failed

    def _run(self) -> None:
        try:
            import tkinter
            root = tkinter.Tk(className="voxagent")
        except (ImportError, RuntimeError) as exc:  # no tkinter, or no display for it
            log.warning("tray menu and help window unavailable: %s", exc)
            self._failed = True
            self._started.set()
            return
        self._started.set()
        root.withdraw()
        self._loop(tkinter, root)
        # Tk objects must die on this thread: collect them here, not on another thread
        del root
        gc.collect()

    def _loop(self, tkinter: Any, root: Any) -> None:
        menus: list[Any] = []
        windows: list[Any] = []

        def poll() -> None:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                root.after(50, poll)
                return
            while menus:
                menus.pop().destroy()
            if request is None:
                root.destroy()
                return
            if len(request) == 2:
                while windows:
                    windows.pop().destroy()
                windows.append(_text_window(tkinter, root, *request))
                root.after(50, poll)
                return
            entries, x, y = request
            menus.append(_build(tkinter, root, entries))
            px, py = root.winfo_pointerxy()
            menus[0].tk_popup(px if x is None else x, py if y is None else y)
            root.after(50, poll)

        root.after(0, poll)
        root.mainloop()

    def stop(self) -> None:
        if self._thread is not None:
            self._requests.put(None)
            self._thread.join(timeout=2.0)


def _text_window(tkinter: Any, root: Any, title: str, text: str) -> Any:
    """A small read-only window with `text`, scrolled when long; Escape or Close ends it."""
    win = tkinter.Toplevel(root, class_="VoxagentHelp")
    win.title(title)
    lines = text.splitlines() or [""]
    box = tkinter.Text(win, width=min(max(map(len, lines)) + 2, 90),
                       height=min(len(lines), 30), wrap="word", padx=8, pady=6)
    bar = tkinter.Scrollbar(win, command=box.yview)
    box.configure(yscrollcommand=bar.set)
    box.insert("1.0", text)
    box.configure(state="disabled")
    close = tkinter.Button(win, text="Close", command=win.destroy)
    close.pack(side="bottom", pady=4)
    bar.pack(side="right", fill="y")
    box.pack(side="left", fill="both", expand=True)
    win.bind("<Escape>", lambda _e: win.destroy())
    return win


def _build(tkinter: Any, parent: Any, entries: tuple[Entry, ...]) -> Any:
    """A Tk menu; check marks live in plain Tcl variables (no Python Variable objects,
    whose finalisers would touch Tk from other threads)."""
    menu = tkinter.Menu(parent, tearoff=False)
    for e in entries:
        state = "normal" if e.enabled else "disabled"
        if e.text == "-":
            menu.add_separator()
        elif e.children:
            menu.add_cascade(label=e.text, menu=_build(tkinter, menu, e.children), state=state)
        elif e.checked is not None:
            var = f"voxagent_check_{next(_names)}"
            menu.setvar(var, 1 if e.checked else 0)
            add = menu.add_radiobutton if e.radio else menu.add_checkbutton
            kw = {"value": 1} if e.radio else {"onvalue": 1, "offvalue": 0}
            add(label=e.text, variable=var, command=_safe(e.action), state=state, **kw)
        else:
            menu.add_command(label=e.text, command=_safe(e.action), state=state)
    return menu


_names = itertools.count()


def _safe(action: Callable[[], None] | None) -> Callable[[], None]:
    """Menu callbacks log their errors instead of printing a Tk traceback."""
    def run() -> None:
        if action is None:
            return
        try:
            action()
        except Exception:
            log.exception("tray menu action failed")
    return run
