"""Desktop integration: push-to-talk hotkey, tray icon, sound cues, notifications, history.

Nothing here is imported by the file (`--input`) path; the live agent builds it in
agent/desktop/session.py.
"""
