"""A Tk window that reports, as JSON lines on stdout, every key and button event it gets.

Run it as `python keylog_window.py [CLASS]` with DISPLAY set. It fills the screen (so the
pointer is over it and wheel events reach it), puts the keyboard focus on its Text widget
and prints, one JSON object per line:

- `{"ready": true, "window": ID, "class": CLASS}` once the Text widget has the focus
  (ID is the toplevel's X window, the one that carries WM_CLASS);
- `{"event": "key", "keysym": ..., "keysym_num": ..., "char": ..., "keycode": ...,
  "state": ..., "send_event": ..., "selected": ...}` for every KeyPress, `selected` being
  the Text widget's selected text as the key arrives (before the widget acts on it);
- `{"event": "button", "button": N, "state": ..., "send_event": ...}` for every ButtonPress
  (Tk 8.6 reports wheel buttons 6 and 7 as 4 and 5 with Shift in `state`), and
  `{"event": "wheel", "delta": D, ...}` for <MouseWheel> (what Tk 8.7 makes of them);
- `{"event": "sync", "text": ...}` when the sync key (SYNC_KEYSYM) is pressed: everything
  received before it has been reported, and `text` is the Text widget's content, which is
  then cleared. A test presses that key through XTEST after its own input, so the
  reply proves every earlier event was seen (XTEST input is delivered in order).

`send_event` is Tk's %E: 1 for XSendEvent events, 0 for real (device or XTEST) input.
"""

from __future__ import annotations

import json
import sys
import tkinter

SYNC_KEYSYM = "Pause"
DEFAULT_CLASS = "VoxagentKeylog"


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class KeylogWindow:
    def __init__(self, class_name: str) -> None:
        self.root = tkinter.Tk(className=class_name)
        self.class_name = class_name
        width, height = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        self.root.geometry(f"{width}x{height}+0+0")
        self.text = tkinter.Text(self.root)
        self.text.pack(fill="both", expand=True)
        self.ready = False
        for widget in (self.root, self.text):  # our tag first: class bindings cannot hide keys
            widget.bindtags(("Keylog", *widget.bindtags()))
        self.root.bind_class("Keylog", "<KeyPress>", self.on_key, add=True)
        self.root.bind_class("Keylog", "<ButtonPress>", self.on_button, add=True)
        self.root.bind_class("Keylog", "<MouseWheel>", self.on_wheel, add=True)
        self.text.bind("<FocusIn>", self.on_focus_in, add=True)
        self.root.protocol("WM_DELETE_WINDOW", self.root.destroy)

    def start(self) -> None:
        self.root.wait_visibility(self.text)
        self.text.focus_force()
        self.root.mainloop()

    def on_focus_in(self, _event: tkinter.Event) -> None:
        if not self.ready:
            self.ready = True
            window = int(self.root.wm_frame(), 16)
            emit(ready=True, window=window, **{"class": self.root.winfo_class()})

    def on_key(self, event: tkinter.Event) -> str | None:
        if event.keysym == SYNC_KEYSYM:
            emit(event="sync", text=self.text.get("1.0", "end-1c"))
            self.text.delete("1.0", "end")
            return "break"
        emit(event="key", keysym=event.keysym, keysym_num=event.keysym_num, char=event.char,
             keycode=event.keycode, state=self._state(event), send_event=event.send_event,
             selected=self._selected())
        return None

    def _selected(self) -> str:
        return self.text.get("sel.first", "sel.last") if self.text.tag_ranges("sel") else ""

    def on_button(self, event: tkinter.Event) -> None:
        emit(event="button", button=event.num, state=self._state(event),
             send_event=event.send_event)

    def on_wheel(self, event: tkinter.Event) -> None:  # Tk 8.7+ turns buttons 4-7 into these
        emit(event="wheel", delta=event.delta, state=self._state(event),
             send_event=event.send_event)

    @staticmethod
    def _state(event: tkinter.Event) -> int:
        return event.state if isinstance(event.state, int) else int(str(event.state), 0)


def main() -> None:
    class_name = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CLASS
    KeylogWindow(class_name).start()


if __name__ == "__main__":
    main()
