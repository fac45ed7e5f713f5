"""Persistent user preferences (QSettings, organisation "gradviz"): geometry, recent files, theme, zoom, timeout,
language."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "gradviz"
APPLICATION = "gradviz"
MAX_RECENT = 10
THEMES = ("light", "dark")
ZOOM_MODES = ("fit", "keep")  # on a new pass: fit the whole graph, or keep the current zoom


class Settings:
    """Typed access to the app's QSettings; `path` puts them in a private INI file (tests, `gradviz shot`)."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
        else:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)

    @property
    def qsettings(self) -> QSettings:
        return self._qs

    def file_name(self) -> str:
        """Where these settings live on disk."""
        return self._qs.fileName()

    def sync(self) -> None:
        self._qs.sync()

    # -- window ---------------------------------------------------------------------------------------------

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/state", value)

    def splitter_state(self, name: str) -> QByteArray | None:
        value = self._qs.value(f"window/splitter_{name}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_splitter_state(self, name: str, value: QByteArray) -> None:
        self._qs.setValue(f"window/splitter_{name}", value)

    # -- recent files ---------------------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        value = self._qs.value("files/recent", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-element list in INI files
            value = [value]
        return [str(v) for v in value if v] if isinstance(value, list) else []

    def add_recent_file(self, path: str | Path) -> list[str]:
        """Move `path` to the top of the recent list (absolute, no duplicates, at most MAX_RECENT)."""
        path = str(Path(path).resolve())
        files = [path] + [f for f in self.recent_files() if f != path]
        files = files[:MAX_RECENT]
        self._qs.setValue("files/recent", files)
        return files

    def clear_recent_files(self) -> None:
        self._qs.setValue("files/recent", [])

    # -- appearance and behaviour ---------------------------------------------------------------------------

    def theme(self) -> str:
        value = str(self._qs.value("view/theme", "light"))
        return value if value in THEMES else "light"

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"unknown theme {name!r}; expected one of {THEMES}")
        self._qs.setValue("view/theme", name)

    def language(self) -> str | None:
        """The UI language the person chose ("en", "zh_CN"), or None: follow the system's."""
        value = self._qs.value("view/language", "")
        return str(value) if value else None

    def set_language(self, code: str | None) -> None:
        """Remember a UI language (None or "" forgets the choice, so the system's is used again)."""
        if code:
            self._qs.setValue("view/language", code)
        else:
            self._qs.remove("view/language")

    def zoom_mode(self) -> str:
        value = str(self._qs.value("view/zoom", "fit"))
        return value if value in ZOOM_MODES else "fit"

    def set_zoom_mode(self, mode: str) -> None:
        if mode not in ZOOM_MODES:
            raise ValueError(f"unknown zoom mode {mode!r}; expected one of {ZOOM_MODES}")
        self._qs.setValue("view/zoom", mode)

    def play_speed(self) -> float:
        value = _as_float(self._qs.value("view/play_speed", 1.0), 1.0)
        return value if value > 0 else 1.0

    def set_play_speed(self, speed: float) -> None:
        self._qs.setValue("view/play_speed", float(speed))

    def timeout(self) -> float:
        """Seconds a run may take before the runner stops it."""
        value = _as_float(self._qs.value("runner/timeout", 30.0), 30.0)
        return value if value > 0 else 30.0

    def set_timeout(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("timeout must be positive")
        self._qs.setValue("runner/timeout", float(seconds))

    def keep_last(self) -> bool:
        """Whether runs keep the last backward pass in full (off: long loops run faster, as summaries)."""
        return str(self._qs.value("runner/keep_last", "true")).lower() not in ("false", "0")

    def set_keep_last(self, on: bool) -> None:
        self._qs.setValue("runner/keep_last", bool(on))


def _as_float(value: object, default: float) -> float:
    """A stored number (INI files give strings back), or `default` if it is not one."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
